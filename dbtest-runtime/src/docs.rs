//! The reference tables (docs/*.md) have one source: the crate docs include them, and the README
//! carries each between markers, the same to the byte (`scripts/sync-docs` copies them in). These
//! tests fail when a copy drifts, and when the variables table and the code disagree.

use std::collections::BTreeSet;
use std::path::Path;

const DIR: &str = env!("CARGO_MANIFEST_DIR");

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The blocks of `readme` between `<!-- from dbtest-runtime/docs/NAME: … -->` and `<!-- end -->`,
/// by NAME.
fn blocks(readme: &str) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let mut rest = readme;
    while let Some(at) = rest.find("<!-- from dbtest-runtime/docs/") {
        let after = &rest[at + "<!-- from dbtest-runtime/docs/".len()..];
        let name = after[..after.find(':').expect("a marker names its file")].to_owned();
        let body = &after[after.find("-->\n").expect("a marker ends its line") + 4..];
        let end = body.find("<!-- end -->").expect("a block ends");
        found.push((name, body[..end].to_owned()));
        rest = &body[end..];
    }
    found
}

#[test]
fn the_readme_carries_each_reference_table_as_it_is() {
    let readme = read(&Path::new(DIR).join("../README.md"));
    let found = blocks(&readme);
    let names: BTreeSet<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
    let files: BTreeSet<String> = std::fs::read_dir(Path::new(DIR).join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        files.iter().map(String::as_str).collect(),
        "each file of dbtest-runtime/docs once in the README"
    );
    for (name, body) in &found {
        let source = read(&Path::new(DIR).join("docs").join(name));
        assert!(
            *body == source,
            "the README's copy of dbtest-runtime/docs/{name} differs from the file: edit the file and \
             run scripts/sync-docs"
        );
    }
}

#[test]
fn every_variable_the_runtime_reads_is_in_the_table_and_no_other() {
    let table = read(&Path::new(DIR).join("docs/variables.md"));
    let documented: BTreeSet<String> = table
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_owned)
        .collect();
    let mut read_by_code = BTreeSet::new();
    for entry in std::fs::read_dir(Path::new(DIR).join("src")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("docs.rs") {
            let code = read(&path);
            // A variable is read by its name as a string literal of its own ("DBTEST_…");
            // prose and messages may name any.
            for (at, _) in code.match_indices("\"DBTEST_") {
                let name: String = code[at + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || *c == '_')
                    .collect();
                if code[at + 1 + name.len()..].starts_with('"') {
                    read_by_code.insert(name);
                }
            }
        }
    }
    read_by_code.insert("DATABASE_URL".into());
    assert_eq!(
        documented, read_by_code,
        "docs/variables.md lists exactly the variables the runtime reads"
    );
    for var in crate::config::VARIABLES {
        assert!(
            documented.contains(var.name),
            "{} is not documented",
            var.name
        );
    }
}
