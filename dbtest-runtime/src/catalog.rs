//! Which `information_schema` columns dbtest reads, found in its own source, and whether the
//! reference manuals of every supported server document them (`catalog.tsv`). Test-only: the lib
//! runs the check on the source, `tests/catalog.rs` runs every column read on the server at hand.
//!
//! Every string literal of `src/` that names `information_schema.<TABLE>` is read: its upper-case
//! words are SQL keywords, functions, or columns of the tables it names. A word that is none of
//! these fails the check (add it to `KEYWORDS` if it is SQL, to `catalog.tsv` if it is a column),
//! so a new query can only pass once its columns are looked up in the manuals.

use std::collections::{BTreeMap, BTreeSet};

/// The servers of `catalog.tsv`, in its column order.
pub const SERVERS: [&str; 5] = [
    "MySQL 8.0",
    "MySQL 8.4",
    "MariaDB 10.6",
    "MariaDB 10.11",
    "MariaDB 11.x",
];

/// The committed table.
pub const TABLE: &str = include_str!("catalog.tsv");

/// Upper-case words of dbtest's SQL that are not columns.
const KEYWORDS: &[&str] = &[
    "ALL",
    "AND",
    "AS",
    "ASC",
    "BINARY",
    "BY",
    "CASE",
    "CAST",
    "COALESCE",
    "CONCAT",
    "CONCAT_WS",
    "CONNECTION_ID",
    "CONVERT",
    "COUNT",
    "CURRENT_USER",
    "DESC",
    "DISTINCT",
    "DUAL",
    "ELSE",
    "END",
    "EXISTS",
    "FALSE",
    "FROM",
    "GROUP",
    "GROUP_CONCAT",
    "IF",
    "IN",
    "INDEX",
    "IS",
    "IS_FREE_LOCK",
    "JOIN",
    "LEFT",
    "LENGTH",
    "LIKE",
    "LIMIT",
    "LOCATE",
    "NOT",
    "NOW",
    "NULL",
    "ON",
    "OR",
    "ORDER",
    "PRIMARY",
    "SECOND",
    "SELECT",
    "SHA2",
    "THEN",
    "TIMESTAMPDIFF",
    "UNION",
    "UNIX_TIMESTAMP",
    "USE",
    "USING",
    "WHEN",
    "WHERE",
];

/// `(table, column)` → on which of [`SERVERS`] it is documented.
pub fn documented() -> BTreeMap<(String, String), [bool; 5]> {
    let mut out = BTreeMap::new();
    for line in TABLE.lines().skip_while(|l| l.starts_with('#')).skip(1) {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        assert!(f.len() >= 7, "catalog.tsv: a row needs 7 fields: {line:?}");
        let mut on = [false; 5];
        for (i, v) in f[2..7].iter().enumerate() {
            on[i] = match *v {
                "y" => true,
                "n" => false,
                other => panic!("catalog.tsv: y or n, not {other:?}: {line:?}"),
            };
        }
        out.insert((f[0].to_owned(), f[1].to_owned()), on);
    }
    out
}

/// The string literals of Rust source `src` (escapes resolved well enough for SQL: `\` at a
/// line's end joins lines, `\"` and `\\` are kept as one character); comments are skipped.
pub fn literals(src: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = src.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        break;
                    }
                }
            }
            '\'' => {
                // A char literal ('"', '\'') or a lifetime: skip a char literal whole.
                let rest: String = chars.clone().take(3).collect();
                if rest.starts_with('\\') {
                    chars.nth(2);
                } else if rest.chars().nth(1) == Some('\'') {
                    chars.nth(1);
                }
            }
            '"' => {
                let mut s = String::new();
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => match chars.next() {
                            Some('\n') => {
                                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                                    chars.next();
                                }
                            }
                            Some(other) => s.push(other),
                            None => break,
                        },
                        other => s.push(other),
                    }
                }
                out.push(s);
            }
            _ => {}
        }
    }
    out
}

/// The `information_schema` reads of one SQL text: `(table, column)` pairs, and the upper-case
/// words that are neither a keyword nor a column of a table it names.
pub fn reads(sql: &str) -> (BTreeSet<(String, String)>, Vec<String>) {
    let known = documented();
    // Quoted SQL strings and format placeholders are not names.
    let mut plain = String::new();
    let mut quoted = false;
    let mut placeholder = false;
    for c in sql.chars() {
        match c {
            '\'' if !placeholder => quoted = !quoted,
            '{' if !quoted => placeholder = true,
            '}' if !quoted && placeholder => placeholder = false,
            _ if quoted || placeholder => {}
            other => plain.push(other),
        }
    }
    let words: Vec<&str> = plain
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter(|w| !w.is_empty())
        .collect();
    let tables: BTreeSet<String> = words
        .iter()
        .filter_map(|w| w.strip_prefix("information_schema."))
        .map(str::to_owned)
        .collect();
    let mut found = BTreeSet::new();
    let mut unknown = Vec::new();
    for word in &words {
        if word.starts_with("information_schema.") {
            continue;
        }
        let name = word.rsplit('.').next().unwrap_or(word);
        let upper = name.len() > 1
            && name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !upper {
            continue;
        }
        let owners: Vec<&String> = tables
            .iter()
            .filter(|t| known.contains_key(&((*t).clone(), name.to_owned())))
            .collect();
        if owners.is_empty() {
            if !KEYWORDS.contains(&name) {
                unknown.push(name.to_owned());
            }
            continue;
        }
        for t in owners {
            found.insert((t.clone(), name.to_owned()));
        }
    }
    (found, unknown)
}

/// Every `information_schema` column the Rust files under `dir` read, and what is wrong: words
/// that are no known column or keyword, columns a server lacks. `(file, message)`.
pub fn check_dir(dir: &std::path::Path) -> (BTreeSet<(String, String)>, Vec<String>) {
    let known = documented();
    let mut all = BTreeSet::new();
    let mut problems = Vec::new();
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in std::fs::read_dir(&d).expect("read src") {
            let path = entry.expect("read src").path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    for file in files {
        let src = std::fs::read_to_string(&file).expect("read a source file");
        let shown = file.display().to_string();
        for lit in literals(&src) {
            if !lit.contains("information_schema.") || shown.ends_with("catalog.rs") {
                continue;
            }
            let (found, unknown) = reads(&lit);
            for word in unknown {
                problems.push(format!(
                    "{shown}: `{word}` is neither a column of the information_schema tables this query \
                     names (catalog.tsv) nor a known SQL word: {lit}"
                ));
            }
            for (table, column) in &found {
                let on = known[&(table.clone(), column.clone())];
                let lacking: Vec<&str> = SERVERS
                    .iter()
                    .zip(on)
                    .filter(|(_, has)| !has)
                    .map(|(s, _)| *s)
                    .collect();
                if !lacking.is_empty() {
                    problems.push(format!(
                        "{shown}: information_schema.{table}.{column} is not on {}: {lit}",
                        lacking.join(", ")
                    ));
                }
            }
            all.extend(found);
        }
    }
    (all, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_information_schema_column_dbtest_reads_is_on_every_server() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let (read, problems) = check_dir(&src);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
        // The scan finds what dbtest reads (a scan that found nothing would pass too).
        for (t, c) in [
            ("TRIGGERS", "ACTION_ORDER"),
            ("COLUMNS", "GENERATION_EXPRESSION"),
            ("STATISTICS", "COMMENT"),
            ("PROCESSLIST", "DB"),
            ("EVENTS", "STATUS"),
            ("SCHEMATA", "DEFAULT_COLLATION_NAME"),
        ] {
            assert!(
                read.contains(&(t.to_owned(), c.to_owned())),
                "{t}.{c} not found: {read:?}"
            );
        }
    }

    #[test]
    fn a_column_one_server_lacks_or_an_unknown_word_fails_the_check() {
        let dir = std::env::temp_dir().join(format!("dbtest-catalog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("q.rs"),
            "const Q: &str = \"SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS \\\n \
             WHERE CONSTRAINT_SCHEMA = ?\";\n\
             const R: &str = \"SELECT TABLE_NAME, NEW_COLUMN FROM information_schema.TABLES\";\n",
        )
        .unwrap();
        let (read, problems) = check_dir(&dir);
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(read.contains(&("CHECK_CONSTRAINTS".into(), "CHECK_CLAUSE".into())));
        assert_eq!(problems.len(), 2, "{problems:#?}");
        assert!(
            problems[0].contains(
                "information_schema.CHECK_CONSTRAINTS.TABLE_NAME is not on MySQL 8.0, MySQL 8.4"
            ),
            "{}",
            problems[0]
        );
        assert!(
            problems[1].contains("`NEW_COLUMN` is neither"),
            "{}",
            problems[1]
        );
    }

    #[test]
    fn literals_are_read_as_the_compiler_reads_them() {
        let src = "let a = \"one \\\n    two\"; // \"not this\"\nlet b = '\"'; let c = \"x\\\"y\";";
        assert_eq!(literals(src), ["one two", "x\"y"]);
    }
}
