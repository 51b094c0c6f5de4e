//! A fresh, fully migrated MySQL or MariaDB database for every async test.
//!
//! ```no_run
//! use dbtest_runtime::db_test;
//! use sqlx::MySqlPool;
//!
//! #[db_test]
//! async fn it_works(pool: MySqlPool) {
//!     let one: i32 = sqlx::query_scalar("SELECT 1").fetch_one(&pool).await.unwrap();
//!     assert_eq!(one, 1);
//! }
//! ```
//!
//! The migrations run once per server, into a template database built under a MySQL advisory
//! lock; each test gets a clone of the template of its own. After a passing test the clone is
//! reset to the template's state and returned to a warm pool on the server; after DDL or a
//! failure it is dropped (a failed test's database is kept by default, `DBTEST_KEEP`).
//!
//! ```text
//! #[db_test] fn ──▶ template (once per server, GET_LOCK) ──▶ clone, or claim from the warm pool
//!                                                        ──▶ body ──▶ reset + return, drop, or keep
//! ```
//!
//! The server comes from `DBTEST_DATABASE_URL` or `DATABASE_URL`; with neither, dbtest starts a
//! throwaway server of its own ([`server`]). See [`db_test`] for the arguments, [`admin`] for
//! inspecting and cleaning a server, and the README for how it works and every setting.
#![deny(missing_docs)]

mod config;
mod db;
mod error;
mod lease;
mod migrations;
mod naming;
mod registry;
mod reset;
mod run;
pub mod server;
mod snapshot;
mod sweep;
mod template;
mod warm;

pub use error::Error;

/// Inspecting and cleaning a server's dbtest databases: what the `dbtest` command-line tool
/// (feature `cli`) does, as functions. Each reads the same settings as the tests
/// (`DBTEST_DATABASE_URL`, …) and only ever drops databases listed in dbtest's registry whose
/// owner is gone.
pub mod admin {
    pub use crate::sweep::{Entry, Report};
    use crate::{config::Settings, db, registry, sweep, Error};

    /// Every database in dbtest's registry, with whether its owner is alive.
    pub async fn list() -> Result<Vec<Entry>, Error> {
        let settings = settings()?;
        let mut conn = db::connect(settings, None).await?;
        registry::ensure(&mut conn)
            .await
            .map_err(|e| db::privileges_hint(e, "creating the registry"))?;
        let entries = sweep::entries(&mut conn)
            .await
            .map_err(|e| db::privileges_hint(e, "reading the registry"));
        db::close(conn).await;
        entries
    }

    /// What the sweep before the first test does: drops orphaned test databases, kept databases
    /// past their retention, templates unused for `DBTEST_TEMPLATE_TTL` and dead builds.
    pub async fn gc() -> Result<Report, Error> {
        let settings = settings()?;
        list().await?;
        sweep::sweep(settings, sweep::Mode::Expired).await
    }

    /// Drops every registered database whose owner is gone, whatever its age: templates, kept
    /// and orphaned test databases. Databases of running tests and templates being built stay.
    pub async fn clean_all() -> Result<Report, Error> {
        let settings = settings()?;
        list().await?;
        sweep::sweep(settings, sweep::Mode::All).await
    }

    /// Connection options for the server the tests use (from the URL, or the embedded server,
    /// which this starts if need be), with no default database.
    pub fn connect_options() -> Result<sqlx::mysql::MySqlConnectOptions, Error> {
        Ok(settings()?.connect.clone())
    }

    /// The TCP address of that server (for the embedded server, its loopback port).
    pub fn tcp_address() -> Result<(String, u16), Error> {
        Ok(settings()?.tcp.clone())
    }

    fn settings() -> Result<&'static Settings, Error> {
        Settings::get().map_err(|e| Error::Server {
            action: "reading the settings".into(),
            reason: e.to_string(),
        })
    }
}

/// Gives an async test its own database, cloned from a template that was migrated once.
///
/// The test function takes one of:
/// - `pool: MySqlPool` — a pool of at most `DBTEST_POOL_SIZE` (default 5) connections whose
///   default database is the test's own;
/// - `conn: PoolConnection<MySql>` — one connection from such a pool;
/// - `(opts: MySqlPoolOptions, connect: MySqlConnectOptions)` — to build your own pool;
/// - nothing — then it is a plain async test, without a database.
///
/// It may return `()` or `Result<T, E>` with `E: Debug` (an `Err` fails the test).
///
/// # Arguments
/// The same as `#[sqlx::test]`'s:
///
/// | argument | meaning |
/// |---|---|
/// | *(none)* | migrations from `./migrations` beside `Cargo.toml`, if that directory exists |
/// | `migrations = "dir"` | migrations from `dir`, relative to `Cargo.toml`'s directory |
/// | `migrations = false` | no migrations: an empty database |
/// | `migrator = "path::MIGRATOR"` | a `static` [`sqlx::migrate::Migrator`] (or a `static LazyLock<Migrator>`) |
/// | `fixtures("a", "b")` | `fixtures/a.sql`, `fixtures/b.sql` next to the test's source file, applied in order |
/// | `fixtures("../dir/a.sql")` | fixture files by path, relative to the test's source file |
/// | `fixtures(path = "dir", scripts("a", "b"))` | `dir/a.sql`, `dir/b.sql` |
///
/// ```no_run
/// use dbtest_runtime::db_test;
/// use sqlx::{pool::PoolConnection, MySql};
///
/// #[db_test(migrations = false)]
/// async fn starts_empty(mut conn: PoolConnection<MySql>) -> sqlx::Result<()> {
///     let tables: i64 = sqlx::query_scalar(
///         "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
///     )
///     .fetch_one(&mut *conn)
///     .await?;
///     assert_eq!(tables, 0);
///     Ok(())
/// }
/// ```
pub use dbtest_macros::db_test;

/// What the expansion of `#[db_test]` calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::config::redact_url;
    pub use crate::lease::{Fixture, TestArgs};
    pub use crate::migrations::{Migrations, MigratorSource};
    pub use crate::run::{TestFn, TestOutcome};
}
