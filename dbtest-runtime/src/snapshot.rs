//! Reads a ready template into a replay script: the statements that turn an empty database into
//! one indistinguishable from the template. Read once, when the template is built; stored with
//! the template's ready marker, so other processes fetch it in one query.
//!
//! The script is applied with the new database as the session's default database, so every name
//! in it is unqualified: tables from `SHOW CREATE TABLE`, views from `SHOW CREATE VIEW` with the
//! template's qualifier removed (otherwise the clone's views would read the template), triggers,
//! routines and events each under the `sql_mode` and character set they were created with, and
//! every row copied server-side with `INSERT … SELECT` from the template.

use crate::compat;
use std::collections::{BTreeMap, BTreeSet};

use sqlx::mysql::MySqlConnection;
use sqlx::Row;

use crate::db::text;
use crate::naming::{ident, literal};

/// The marker table inside every template; never copied into clones.
pub(crate) const MARKER_TABLE: &str = "_dbtest_template";

/// Statements run before and after the objects, saving and restoring the session settings the
/// script changes.
const PROLOGUE: &str = "SET @dbtest_sql_mode = @@SESSION.sql_mode, \
     @dbtest_csc = @@SESSION.character_set_client, \
     @dbtest_cc = @@SESSION.collation_connection, \
     @dbtest_tz = @@SESSION.time_zone, \
     @dbtest_fkc = @@SESSION.foreign_key_checks";
const EPILOGUE: &str = "SET SESSION sql_mode = @dbtest_sql_mode, \
     character_set_client = @dbtest_csc, \
     collation_connection = @dbtest_cc, \
     time_zone = @dbtest_tz, \
     foreign_key_checks = @dbtest_fkc";

/// Why a template could not be read.
#[derive(Debug)]
pub(crate) enum SnapshotError {
    Sql(sqlx::Error),
    Unsupported(String),
}

impl From<sqlx::Error> for SnapshotError {
    fn from(e: sqlx::Error) -> Self {
        SnapshotError::Sql(e)
    }
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Sql(e) => e.fmt(f),
            SnapshotError::Unsupported(what) => f.write_str(what),
        }
    }
}

/// Reads `template` into a script of statements separated by `;\n`.
pub(crate) async fn read(
    conn: &mut MySqlConnection,
    template: &str,
) -> Result<String, SnapshotError> {
    let qualifier = format!("{}.", ident(template));
    let definer = current_definer(conn).await?;
    let mut out = Script::default();
    out.push(PROLOGUE.into());
    out.push("SET SESSION foreign_key_checks = 0".into());

    let row = sqlx::query(
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
         FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(template)
    .fetch_one(&mut *conn)
    .await?;
    let (charset, collation) = (
        text(&row, 0)?.unwrap_or_default(),
        text(&row, 1)?.unwrap_or_default(),
    );
    out.push(format!(
        "ALTER DATABASE CHARACTER SET {} COLLATE {}",
        lit(&charset)?,
        lit(&collation)?
    ));

    // Tables and sequences.
    let rows = sqlx::query(
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME",
    )
    .bind(template)
    .fetch_all(&mut *conn)
    .await?;
    let mut tables = Vec::new();
    let mut sequences = Vec::new();
    for row in &rows {
        let name = text(row, 0)?.unwrap_or_default();
        let kind = text(row, 1)?.unwrap_or_default();
        if name == MARKER_TABLE {
            continue;
        }
        match kind.as_str() {
            "SEQUENCE" => sequences.push(name),
            "BASE TABLE" | "SYSTEM VERSIONED" => tables.push(name),
            other => {
                return Err(SnapshotError::Unsupported(format!(
                    "table `{name}` is of type {other}, which dbtest cannot clone"
                )))
            }
        }
    }
    for name in tables.iter().chain(&sequences) {
        let row = compat::query(&format!("SHOW CREATE TABLE {qualifier}{}", ident(name)))
            .fetch_one(&mut *conn)
            .await?;
        out.push(text(&row, 1)?.unwrap_or_default());
    }
    for name in &sequences {
        let row = compat::query(&format!(
            "SELECT next_not_cached_value FROM {qualifier}{}",
            ident(name)
        ))
        .fetch_one(&mut *conn)
        .await?;
        let next: i64 = row.try_get_unchecked(0)?;
        out.push(format!("DO SETVAL({}, {next}, 0)", ident(name)));
    }

    // Rows: every table that has any, copied server-side, without generated columns.
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for row in sqlx::query(
        "SELECT TABLE_NAME, COLUMN_NAME FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? \
         AND EXTRA NOT LIKE '%VIRTUAL GENERATED%' AND EXTRA NOT LIKE '%STORED GENERATED%' \
         ORDER BY TABLE_NAME, ORDINAL_POSITION",
    )
    .bind(template)
    .fetch_all(&mut *conn)
    .await?
    {
        columns
            .entry(text(&row, 0)?.unwrap_or_default())
            .or_default()
            .push(text(&row, 1)?.unwrap_or_default());
    }
    for chunk in tables.chunks(64) {
        // UNION ALL keeps the order of its branches only with an explicit key; number them.
        let probe = chunk
            .iter()
            .enumerate()
            .map(|(i, t)| {
                format!(
                    "SELECT {i} AS n, EXISTS (SELECT 1 FROM {qualifier}{}) AS has_rows",
                    ident(t)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for row in compat::query(&format!(
            "SELECT n, has_rows FROM ({probe}) AS p ORDER BY n"
        ))
        .fetch_all(&mut *conn)
        .await?
        {
            let n: i64 = row.try_get_unchecked(0)?;
            let has_rows: i64 = row.try_get_unchecked(1)?;
            if has_rows == 0 {
                continue;
            }
            let table = &chunk[n as usize];
            let cols = columns
                .get(table)
                .map(|c| c.iter().map(|c| ident(c)).collect::<Vec<_>>().join(", "))
                .unwrap_or_default();
            out.push(format!(
                "INSERT INTO {t} ({cols}) SELECT {cols} FROM {qualifier}{t}",
                t = ident(table)
            ));
        }
    }

    // Routines (views may call functions, so before views).
    for row in sqlx::query(
        "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
    )
    .bind(template)
    .fetch_all(&mut *conn)
    .await?
    {
        let kind = text(&row, 0)?.unwrap_or_default();
        let name = text(&row, 1)?.unwrap_or_default();
        if kind != "PROCEDURE" && kind != "FUNCTION" {
            return Err(SnapshotError::Unsupported(format!(
                "routine `{name}` is a {kind}, which dbtest cannot clone"
            )));
        }
        let row = compat::query(&format!("SHOW CREATE {kind} {qualifier}{}", ident(&name)))
            .fetch_one(&mut *conn)
            .await?;
        let body = text(&row, 2)?.ok_or_else(|| {
            SnapshotError::Unsupported(format!(
                "the server hides the body of {kind} `{name}` from this user; grant it SELECT on mysql.proc \
                 (MariaDB) or SHOW_ROUTINE (MySQL)"
            ))
        })?;
        out.set_session(&text(&row, 1)?, &text(&row, 3)?, &text(&row, 4)?, None)?;
        out.push(strip_definer(&body, &definer));
    }

    // Views, each after the views it reads, reading the clone's tables.
    let views: Vec<String> = sqlx::query(
        "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
    )
    .bind(template)
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| text(r, 0).map(Option::unwrap_or_default))
    .collect::<Result<_, _>>()?;
    let mut view_defs = BTreeMap::new();
    for name in &views {
        let row = compat::query(&format!("SHOW CREATE VIEW {qualifier}{}", ident(name)))
            .fetch_one(&mut *conn)
            .await?;
        view_defs.insert(
            name.clone(),
            (
                text(&row, 1)?.unwrap_or_default(),
                text(&row, 2)?,
                text(&row, 3)?,
            ),
        );
    }
    for name in view_order(&view_defs, &qualifier) {
        let (def, csc, cc) = &view_defs[&name];
        out.set_session(&None, csc, cc, None)?;
        out.push(strip_definer(&def.replace(&qualifier, ""), &definer));
    }

    // Triggers, after the rows (so copying fires none), in their firing order.
    for row in sqlx::query(
        "SELECT TRIGGER_NAME FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? \
         ORDER BY EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER",
    )
    .bind(template)
    .fetch_all(&mut *conn)
    .await?
    {
        let name = text(&row, 0)?.unwrap_or_default();
        let row = compat::query(&format!("SHOW CREATE TRIGGER {qualifier}{}", ident(&name)))
            .fetch_one(&mut *conn)
            .await?;
        out.set_session(&text(&row, 1)?, &text(&row, 3)?, &text(&row, 4)?, None)?;
        out.push(strip_definer(&text(&row, 2)?.unwrap_or_default(), &definer));
    }

    // Events.
    for row in sqlx::query(
        "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME",
    )
    .bind(template)
    .fetch_all(&mut *conn)
    .await?
    {
        let name = text(&row, 0)?.unwrap_or_default();
        let row = compat::query(&format!("SHOW CREATE EVENT {qualifier}{}", ident(&name)))
            .fetch_one(&mut *conn)
            .await?;
        out.set_session(&text(&row, 1)?, &text(&row, 4)?, &text(&row, 5)?, text(&row, 2)?.as_deref())?;
        out.push(strip_definer(&text(&row, 3)?.unwrap_or_default(), &definer));
    }

    out.push(EPILOGUE.into());
    Ok(out.0.join(";\n"))
}

/// Per table, the statement of `script` that copies the template's rows into it.
pub(crate) fn copy_statements(script: &str) -> BTreeMap<String, String> {
    script
        .split(";\n")
        .filter_map(|stmt| {
            let rest = stmt.strip_prefix("INSERT INTO `")?;
            // The table name ends at the first backquote that is not doubled.
            let mut name = String::new();
            let mut chars = rest.chars().peekable();
            while let Some(c) = chars.next() {
                if c == '`' {
                    if chars.peek() == Some(&'`') {
                        chars.next();
                    } else {
                        return Some((name, stmt.to_owned()));
                    }
                }
                name.push(c);
            }
            None
        })
        .collect()
}

#[derive(Default)]
struct Script(Vec<String>);

impl Script {
    fn push(&mut self, statement: String) {
        self.0.push(statement);
    }

    /// Sets the session state an object was created under.
    fn set_session(
        &mut self,
        sql_mode: &Option<String>,
        charset_client: &Option<String>,
        collation_connection: &Option<String>,
        time_zone: Option<&str>,
    ) -> Result<(), SnapshotError> {
        let mut parts = Vec::new();
        if let Some(mode) = sql_mode {
            parts.push(format!("sql_mode = {}", lit(mode)?));
        }
        if let Some(cs) = charset_client {
            parts.push(format!("character_set_client = {}", lit(cs)?));
        }
        if let Some(c) = collation_connection {
            parts.push(format!("collation_connection = {}", lit(c)?));
        }
        if let Some(tz) = time_zone {
            parts.push(format!("time_zone = {}", lit(tz)?));
        }
        if !parts.is_empty() {
            self.push(format!("SET SESSION {}", parts.join(", ")));
        }
        Ok(())
    }
}

fn lit(value: &str) -> Result<String, SnapshotError> {
    literal(value)
        .ok_or_else(|| SnapshotError::Unsupported(format!("unexpected session setting {value:?}")))
}

/// The `DEFINER=` clauses `SHOW CREATE …` prints for objects the current user created: with
/// backquotes, or with double quotes for objects created under `ANSI_QUOTES`.
async fn current_definer(conn: &mut MySqlConnection) -> Result<[String; 2], sqlx::Error> {
    let row = sqlx::query("SELECT CURRENT_USER()").fetch_one(conn).await?;
    Ok(definer_clauses(&text(&row, 0)?.unwrap_or_default()))
}

fn definer_clauses(user: &str) -> [String; 2] {
    let (name, host) = user.rsplit_once('@').unwrap_or((user, ""));
    let ansi = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    [
        format!("DEFINER={}@{} ", ident(name), ident(host)),
        format!("DEFINER={}@{} ", ansi(name), ansi(host)),
    ]
}

/// Removes the current user's `DEFINER=` clause, so the clone's objects belong to whoever clones
/// (exactly as running the migrations would make them). Other definers are kept verbatim.
fn strip_definer(create: &str, definer: &[String; 2]) -> String {
    match definer
        .iter()
        .find(|clause| create.contains(clause.as_str()))
    {
        Some(clause) => create.replacen(clause.as_str(), "", 1),
        None => create.to_owned(),
    }
}

/// Views in an order where each comes after every view it reads.
fn view_order(
    defs: &BTreeMap<String, (String, Option<String>, Option<String>)>,
    qualifier: &str,
) -> Vec<String> {
    fn visit(
        name: &str,
        deps: &BTreeMap<&str, BTreeSet<&str>>,
        done: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if !done.insert(name.to_owned()) {
            return;
        }
        for dep in &deps[name] {
            visit(dep, deps, done, out);
        }
        out.push(name.to_owned());
    }
    let deps: BTreeMap<&str, BTreeSet<&str>> = defs
        .iter()
        .map(|(name, (def, _, _))| {
            let reads = defs
                .keys()
                .filter(|other| {
                    *other != name && def.contains(&format!("{qualifier}{}", ident(other)))
                })
                .map(String::as_str)
                .collect();
            (name.as_str(), reads)
        })
        .collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for name in deps.keys() {
        visit(name, &deps, &mut done, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definer_of_current_user_is_stripped_others_kept() {
        let me = definer_clauses("root@localhost");
        assert_eq!(
            strip_definer(
                "CREATE DEFINER=`root`@`localhost` TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET @x = 1",
                &me
            ),
            "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET @x = 1"
        );
        // Under ANSI_QUOTES the server quotes the definer with double quotes.
        assert_eq!(
            strip_definer(
                r#"CREATE DEFINER="root"@"localhost" TRIGGER "t" BEFORE INSERT ON "a" FOR EACH ROW SET NEW."x" = 1"#,
                &me
            ),
            r#"CREATE TRIGGER "t" BEFORE INSERT ON "a" FOR EACH ROW SET NEW."x" = 1"#
        );
        let other = "CREATE DEFINER=`app`@`%` PROCEDURE p() SELECT 1";
        assert_eq!(strip_definer(other, &me), other);
        let host_lookalike = "CREATE DEFINER=`root`@`localhost2` PROCEDURE p() SELECT 1";
        assert_eq!(strip_definer(host_lookalike, &me), host_lookalike);
    }

    #[test]
    fn copy_statements_by_table() {
        let script = "SET x = 1;\nCREATE TABLE `a` (id INT);\nINSERT INTO `a` (`id`) SELECT `id` FROM `t`.`a`;\n\
                      INSERT INTO `we``ird` (`id`) SELECT `id` FROM `t`.`we``ird`;\nSET y = 2";
        let copies = copy_statements(script);
        assert_eq!(copies.len(), 2);
        assert_eq!(
            copies["a"],
            "INSERT INTO `a` (`id`) SELECT `id` FROM `t`.`a`"
        );
        assert!(copies["we`ird"].starts_with("INSERT INTO `we``ird`"));
    }

    #[test]
    fn views_come_after_the_views_they_read() {
        let q = "`dbtest_tpl_0123456789abcdef`.";
        let def = |body: &str| (body.to_owned(), None, None);
        let defs: BTreeMap<String, _> = [
            (
                "a_top",
                def("CREATE VIEW `a_top` AS select 1 from `dbtest_tpl_0123456789abcdef`.`m_mid`"),
            ),
            (
                "m_mid",
                def("CREATE VIEW `m_mid` AS select 1 from `dbtest_tpl_0123456789abcdef`.`z_base`"),
            ),
            (
                "z_base",
                def("CREATE VIEW `z_base` AS select 1 from `dbtest_tpl_0123456789abcdef`.`t`"),
            ),
            (
                "b_alone",
                def("CREATE VIEW `b_alone` AS select 1 from `dbtest_tpl_0123456789abcdef`.`t`"),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(
            view_order(&defs, q),
            ["z_base", "m_mid", "a_top", "b_alone"]
        );
    }
}
