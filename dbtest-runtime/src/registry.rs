//! The registry: a table on the server listing every database dbtest created, so that nothing
//! else is ever dropped — a database that merely looks like one of ours (same name pattern) is
//! not in the registry and is never touched.
//!
//! ```text
//! dbtest_registry.databases
//!   name        the database (primary key)
//!   kind        'template' or 'test'
//!   created_at  when it was registered (just before CREATE DATABASE)
//!   used_at     templates: when a process last used it (for template GC)
//!   kept_at     test databases kept after their test (DBTEST_KEEP)
//!   test, host, pid   which test of which process, for `dbtest list` and messages
//! ```
//!
//! A row is written in the same request as the `CREATE DATABASE` it describes, and deleted in the
//! same request as the `DROP DATABASE`.

use sqlx::mysql::MySqlConnection;

use crate::naming::{ident, literal};

/// The registry's database. Not of the generated-name pattern: the sweep never considers it.
pub const REGISTRY_DB: &str = "dbtest_registry";
/// The registry's table.
pub const REGISTRY_TABLE: &str = "databases";

/// `dbtest_registry`.`databases`, quoted.
pub fn table() -> String {
    format!("{}.{}", ident(REGISTRY_DB), ident(REGISTRY_TABLE))
}

/// Creates the registry if it does not exist yet (safe to run from many processes at once).
pub async fn ensure(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    sqlx::raw_sql(&format!(
        "CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; \
         CREATE TABLE IF NOT EXISTS {t} (\
           name VARCHAR(64) NOT NULL PRIMARY KEY, \
           kind VARCHAR(16) NOT NULL, \
           created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), \
           used_at TIMESTAMP(3) NULL, \
           kept_at TIMESTAMP(3) NULL, \
           test VARCHAR(300) NULL, \
           host VARCHAR(255) NULL, \
           pid INT UNSIGNED NULL\
         ) ENGINE = InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        db = ident(REGISTRY_DB),
        t = table()
    ))
    .execute(conn)
    .await
    .map(drop)
}

/// What a database is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Template,
    Test,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Template => "template",
            Kind::Test => "test",
        }
    }
}

/// The statement that registers `name` (replacing a stale row of the same name).
pub fn register_sql(name: &str, kind: Kind, test: Option<&str>) -> String {
    let text = |v: &str| {
        let plain: String = v
            .chars()
            .map(|c| {
                if literal(&c.to_string()).is_some() {
                    c
                } else {
                    '_'
                }
            })
            .take(255)
            .collect();
        literal(&plain).expect("sanitised")
    };
    format!(
        "REPLACE INTO {t} (name, kind, used_at, test, host, pid) VALUES ({name}, '{kind}', {used}, {test}, {host}, {pid})",
        t = table(),
        name = literal(name).expect("generated names are plain"),
        kind = kind.as_str(),
        used = if kind == Kind::Template { "CURRENT_TIMESTAMP(3)" } else { "NULL" },
        test = test.map_or("NULL".to_owned(), text),
        host = text(&hostname()),
        pid = std::process::id(),
    )
}

/// The statement that removes the row of `name`.
pub fn unregister_sql(name: &str) -> String {
    format!(
        "DELETE FROM {} WHERE name = {}",
        table(),
        literal(name).expect("generated names are plain")
    )
}

/// Whether `name` is registered.
pub async fn is_registered(conn: &mut MySqlConnection, name: &str) -> Result<bool, sqlx::Error> {
    let n: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {} WHERE name = ?", table()))
        .bind(name)
        .fetch_one(conn)
        .await?;
    Ok(n > 0)
}

/// Records that a process uses template `name` now.
pub async fn touch(conn: &mut MySqlConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET used_at = CURRENT_TIMESTAMP(3) WHERE name = ?",
        table()
    ))
    .bind(name)
    .execute(conn)
    .await
    .map(drop)
}

/// Marks test database `name` as kept.
pub async fn mark_kept(conn: &mut MySqlConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {} SET kept_at = CURRENT_TIMESTAMP(3) WHERE name = ?",
        table()
    ))
    .bind(name)
    .execute(conn)
    .await
    .map(drop)
}

/// This machine's name, for the registry's `host` column.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registration_statements_quote_everything() {
        let sql = register_sql(
            "dbtest_db_01234567_0123456789ab_x",
            Kind::Test,
            Some("my_crate::tests::it's"),
        );
        assert!(
            sql.starts_with("REPLACE INTO `dbtest_registry`.`databases`"),
            "{sql}"
        );
        assert!(
            sql.contains(
                "'dbtest_db_01234567_0123456789ab_x', 'test', NULL, 'my_crate::tests::it_s'"
            ),
            "{sql}"
        );
        let sql = register_sql("dbtest_tpl_0123456789abcdef", Kind::Template, None);
        assert!(
            sql.contains("'template', CURRENT_TIMESTAMP(3), NULL"),
            "{sql}"
        );
        assert_eq!(
            unregister_sql("dbtest_tpl_0123456789abcdef"),
            "DELETE FROM `dbtest_registry`.`databases` WHERE name = 'dbtest_tpl_0123456789abcdef'"
        );
    }
}
