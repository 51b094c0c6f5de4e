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
//!   template    test databases: the template they were cloned from
//!   ready_at    test databases in the warm pool: clean, unowned, claimable
//!   cloned_by   test databases: the user that cloned it (owns its triggers, views, …)
//!   clean_since pool databases a reset proved clean: the server's clock (seconds since the
//!               epoch) when that proof began reading; NULL for a fresh clone (see `reset::Gate`)
//! ```
//!
//! Registries made before `template`, `ready_at`, `cloned_by` or `clean_since` existed get them
//! added on first use.
//!
//! A row is written in the same request as the `CREATE DATABASE` it describes, and deleted in the
//! same request as the `DROP DATABASE`.

use crate::compat;
use sqlx::mysql::MySqlConnection;

use crate::context::Context;
use crate::error::Error;
use crate::{db, dialect};

use crate::naming::{self, ident, DbName};

/// The registry's database. Not of the generated-name pattern: the sweep never considers it.
pub const REGISTRY_DB: &str = "dbtest_registry";
/// The registry's table.
pub const REGISTRY_TABLE: &str = "databases";

/// `dbtest_registry`.`databases`, quoted: for DDL. A statement that reads or writes its rows
/// names it through [`rows`] (or guards an insert with [`into_a_table`]).
pub fn table() -> String {
    format!("{}.{}", ident(REGISTRY_DB), ident(REGISTRY_TABLE))
}

/// The registry's table where a statement reads or changes rows, as `alias` if given: with an
/// index hint, which the server refuses for a view (see `snapshot::NOT_A_VIEW`). Every account
/// with the grant on `dbtest\_%` may replace the table by a view, whose functions would run with
/// the privileges of whoever reads it. The hint names the primary key, so a lookup by name keeps
/// using it (an empty list would scan, and lock, every row).
pub fn rows(alias: Option<&str>) -> String {
    match alias {
        Some(a) => format!("{} AS {a} USE INDEX (PRIMARY)", table()),
        None => format!("{} USE INDEX (PRIMARY)", table()),
    }
}

/// The end of an `INSERT … SELECT <values>` into the registry: fails, as [`rows`] does, if its
/// table is a view, in the statement that writes (an insert into a view may run its functions).
fn into_a_table() -> String {
    format!(
        "FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM {} WHERE FALSE)",
        rows(None)
    )
}

/// The columns added to the registry after its first layout, with their definitions.
const UPGRADES: [(&str, &str); 4] = [
    ("template", "template VARCHAR(64) NULL"),
    ("ready_at", "ready_at TIMESTAMP(3) NULL"),
    ("cloned_by", "cloned_by VARCHAR(300) NULL"),
    ("clean_since", "clean_since BIGINT NULL"),
];

/// Makes the registry (see [`ensure`]) and reads what the server is, on one connection: what a
/// test process does once before anything else (`ctx.prepare(registry::prepare(ctx))`).
pub(crate) async fn prepare(ctx: &Context) -> Result<dialect::Server, Error> {
    let mut conn = db::connect(ctx, None).await?;
    let made = match ensure(&mut conn).await {
        Ok(()) => dialect::Server::read(&mut conn)
            .await
            .map_err(|reason| Error::Server {
                action: "identifying the server (MySQL or MariaDB, and its version)".into(),
                reason: reason.into(),
            }),
        Err(e) => Err(db::privileges_hint(
            e,
            "creating the registry `dbtest_registry`",
        )),
    };
    db::close(conn).await;
    made
}

/// Creates the registry if it does not exist yet (safe to run from many processes at once).
pub async fn ensure(conn: &mut MySqlConnection) -> Result<(), sqlx::Error> {
    // Every process asks; only the first on a server (or after an upgrade) creates or alters.
    let present: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME IN (?, ?, ?, ?)",
    )
    .bind(REGISTRY_DB)
    .bind(REGISTRY_TABLE)
    .bind(UPGRADES[0].0)
    .bind(UPGRADES[1].0)
    .bind(UPGRADES[2].0)
    .bind(UPGRADES[3].0)
    .fetch_one(&mut *conn)
    .await?;
    if present == UPGRADES.len() as i64 {
        return Ok(());
    }
    compat::raw_sql(&format!(
        "CREATE DATABASE IF NOT EXISTS {db} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin; \
         CREATE TABLE IF NOT EXISTS {t} (\
           name VARCHAR(64) NOT NULL PRIMARY KEY, \
           kind VARCHAR(16) NOT NULL, \
           created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3), \
           used_at TIMESTAMP(3) NULL, \
           kept_at TIMESTAMP(3) NULL, \
           test VARCHAR(300) NULL, \
           host VARCHAR(255) NULL, \
           pid INT UNSIGNED NULL, \
           template VARCHAR(64) NULL, \
           ready_at TIMESTAMP(3) NULL, \
           cloned_by VARCHAR(300) NULL, \
           clean_since BIGINT NULL\
         ) ENGINE = InnoDB CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        db = ident(REGISTRY_DB),
        t = table()
    ))
    .execute(&mut *conn)
    .await?;
    // Upgrade a registry of an older layout, column by column (many processes may try at once;
    // one wins, the others see "duplicate column").
    for (column, definition) in UPGRADES {
        let present: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND COLUMN_NAME = ?",
        )
        .bind(REGISTRY_DB)
        .bind(REGISTRY_TABLE)
        .bind(column)
        .fetch_one(&mut *conn)
        .await?;
        if present == 0 {
            let altered =
                compat::raw_sql(&format!("ALTER TABLE {} ADD COLUMN {definition}", table()))
                    .execute(&mut *conn)
                    .await;
            match altered {
                Err(e) if crate::compat::server_code(&e) != Some(1060) => return Err(e),
                _ => {}
            }
        }
    }
    Ok(())
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

/// `v` as a string literal of at most 255 characters (a test path, a host name: informative
/// columns), see [`naming::literal_lossy`].
fn text(v: &str) -> String {
    naming::literal_lossy(v, 255)
}

/// The statement that registers `name` (replacing a stale row of the same name).
pub fn register_sql(
    name: &DbName,
    kind: Kind,
    test: Option<&str>,
    template: Option<&DbName>,
) -> String {
    format!(
        "REPLACE INTO {t} (name, kind, used_at, test, host, pid, template, cloned_by) \
         SELECT {name}, '{kind}', {used}, {test}, {host}, {pid}, {template}, CURRENT_USER() {guard}",
        t = table(),
        guard = into_a_table(),
        name = name.literal(),
        kind = kind.as_str(),
        used = if kind == Kind::Template {
            "CURRENT_TIMESTAMP(3)"
        } else {
            "NULL"
        },
        test = test.map_or("NULL".to_owned(), text),
        host = text(&hostname()),
        pid = std::process::id(),
        template = template.map_or("NULL".to_owned(), DbName::literal),
    )
}

/// The statement that removes the row of `name`.
pub fn unregister_sql(name: &DbName) -> String {
    format!(
        // Multi-table form, for the hint; no alias (MariaDB resolves one in the default database).
        "DELETE {} FROM {} WHERE name = {}",
        table(),
        rows(None),
        name.literal()
    )
}

/// Drops database `name`, which dbtest made, and its registry row (a [`DbName`] is one dbtest
/// makes: dbtest never drops a database it did not create).
pub async fn drop_database(conn: &mut MySqlConnection, name: &DbName) -> Result<(), sqlx::Error> {
    compat::raw_sql(&format!(
        "DROP DATABASE IF EXISTS {name}; {}",
        unregister_sql(name)
    ))
    .execute(conn)
    .await
    .map(drop)
}

/// Whether `name` is registered.
pub async fn is_registered(conn: &mut MySqlConnection, name: &DbName) -> Result<bool, sqlx::Error> {
    let n: i64 = compat::query_scalar(&format!(
        "SELECT COUNT(*) FROM {} WHERE name = ?",
        rows(None)
    ))
    .bind(name.as_str())
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

/// Records that a process uses template `name` now.
///
/// A ready template missing from the registry (the registry was dropped, or the template was
/// built before it existed) is registered again: its ready marker, written by dbtest alone, shows
/// it is dbtest's.
pub async fn touch(conn: &mut MySqlConnection, name: &DbName) -> Result<(), sqlx::Error> {
    compat::query(&format!(
        "INSERT INTO {} (name, kind, used_at) SELECT ?, 'template', CURRENT_TIMESTAMP(3) {} \
         ON DUPLICATE KEY UPDATE used_at = CURRENT_TIMESTAMP(3)",
        table(),
        into_a_table()
    ))
    .bind(name.as_str())
    .execute(conn)
    .await
    .map(drop)
}

/// Records a use of template `name` and of every template below it (a derived template's parent
/// is used through it: a process that finds the derived one ready never looks at the others).
pub async fn touch_with_parents(
    conn: &mut MySqlConnection,
    name: &DbName,
) -> Result<(), sqlx::Error> {
    touch(conn, name).await?;
    let mut at = name.clone();
    // A bound keeps a loop of parents (which dbtest never writes) finite.
    for _ in 0..8 {
        let parent: Option<String> = compat::query_scalar(&format!(
            "SELECT CONVERT(template USING utf8mb4) FROM {} WHERE name = ? AND kind = 'template'",
            rows(None)
        ))
        .bind(at.as_str())
        .fetch_optional(&mut *conn)
        .await?
        .flatten();
        let Some(parent) = parent.as_deref().and_then(DbName::parse) else {
            return Ok(());
        };
        compat::query(&format!(
            "UPDATE {} SET used_at = CURRENT_TIMESTAMP(3) WHERE name = ? AND kind = 'template'",
            table()
        ))
        .bind(parent.as_str())
        .execute(&mut *conn)
        .await?;
        at = parent;
    }
    Ok(())
}

/// Marks test database `name` as kept.
pub async fn mark_kept(conn: &mut MySqlConnection, name: &DbName) -> Result<(), sqlx::Error> {
    compat::query(&format!(
        "UPDATE {} SET kept_at = CURRENT_TIMESTAMP(3) WHERE name = ?",
        rows(None)
    ))
    .bind(name.as_str())
    .execute(conn)
    .await
    .map(drop)
}

/// Test database `name` is clean and goes to the warm pool: anyone may claim it.
pub async fn mark_ready(
    conn: &mut MySqlConnection,
    name: &DbName,
    clean_since: Option<i64>,
) -> Result<(), sqlx::Error> {
    compat::query(&format!(
        "UPDATE {} SET ready_at = CURRENT_TIMESTAMP(3), test = NULL, clean_since = ? WHERE name = ?",
        rows(None)
    ))
    .bind(clean_since)
    .bind(name.as_str())
    .execute(conn)
    .await
    .map(drop)
}

/// How many clean databases of `template` wait in the warm pool for the current user.
pub async fn ready_count(
    conn: &mut MySqlConnection,
    template: &DbName,
) -> Result<i64, sqlx::Error> {
    compat::query_scalar(&format!(
        "SELECT COUNT(*) FROM {} WHERE template = ? AND ready_at IS NOT NULL",
        rows(None)
    ))
    .bind(template.as_str())
    .fetch_one(conn)
    .await
}

/// Up to `n` pool databases of `template` cloned by the current user (their triggers, views,
/// routines and events belong to whoever cloned them), in random order (so claimers spread out).
pub async fn ready_candidates(
    conn: &mut MySqlConnection,
    template: &DbName,
    n: u32,
) -> Result<Vec<DbName>, sqlx::Error> {
    compat::query(&format!(
        "SELECT name FROM {} WHERE template = ? AND ready_at IS NOT NULL AND cloned_by = CURRENT_USER() \
         ORDER BY RAND() LIMIT {n}",
        rows(None)
    ))
    .bind(template.as_str())
    .fetch_all(conn)
    .await?
    .iter()
    .map(|row| crate::compat::text(row, 0))
    // The registry is a table others may write: a name that is not one dbtest makes is passed
    // over.
    .filter_map(|name| name.map(|n| n.as_deref().and_then(DbName::parse)).transpose())
    .collect()
}

/// Takes pool database `name` for `test` and makes it the session's default database, in one
/// request; the caller holds its owner lock. `None` if it was not in the pool any more; else since
/// when a reset proved it clean (`clean_since`), if one did.
pub async fn claim(
    conn: &mut MySqlConnection,
    name: &DbName,
    test: &str,
) -> Result<Option<Option<i64>>, sqlx::Error> {
    let literal_name = name.literal();
    // Read before the update, under the owner lock: only its holder marks the row ready.
    let sql = format!(
        "SELECT 'since', clean_since FROM {t} WHERE name = {literal_name} AND ready_at IS NOT NULL;\n\
         UPDATE {t} SET ready_at = NULL, clean_since = NULL, test = {test}, host = {host}, pid = {pid} \
         WHERE name = {literal_name} AND ready_at IS NOT NULL;\n\
         SELECT 'claimed', ROW_COUNT();\n\
         USE {name}",
        t = rows(None),
        test = text(test),
        host = text(&hostname()),
        pid = std::process::id(),
    );
    let (mut since, mut claimed) = (None, false);
    for row in compat::raw_sql(&sql).fetch_all(conn).await? {
        let value = crate::compat::text(&row, 1)?;
        match crate::compat::text(&row, 0)?.as_deref() {
            Some("since") => since = Some(value.and_then(|v| v.parse::<i64>().ok())),
            Some("claimed") => claimed = value.as_deref() == Some("1"),
            _ => {}
        }
    }
    Ok(since.filter(|_| claimed))
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
            &DbName::parse("dbtest_db_01234567_0123456789ab_x").unwrap(),
            Kind::Test,
            Some("my_crate::tests::it's"),
            Some(&DbName::parse("dbtest_tpl_0123456789abcdef").unwrap()),
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
        assert!(
            sql.ends_with(
                ", 'dbtest_tpl_0123456789abcdef', CURRENT_USER() FROM DUAL WHERE NOT EXISTS \
                 (SELECT 1 FROM `dbtest_registry`.`databases` USE INDEX (PRIMARY) WHERE FALSE)"
            ),
            "{sql}"
        );
        let sql = register_sql(
            &DbName::parse("dbtest_tpl_0123456789abcdef").unwrap(),
            Kind::Template,
            None,
            None,
        );
        assert!(
            sql.contains("'template', CURRENT_TIMESTAMP(3), NULL"),
            "{sql}"
        );
        assert_eq!(
            unregister_sql(&DbName::parse("dbtest_tpl_0123456789abcdef").unwrap()),
            "DELETE `dbtest_registry`.`databases` FROM `dbtest_registry`.`databases` USE INDEX (PRIMARY) \
             WHERE name = 'dbtest_tpl_0123456789abcdef'"
        );
    }
}
