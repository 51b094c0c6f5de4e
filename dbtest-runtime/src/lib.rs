//! A fresh, fully migrated MySQL or MariaDB database for every async test.
//!
//! ```no_run
//! # use dbtest_runtime::sqlx;
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
//! put back to a fresh clone's state and, proven equal to one, returned to a warm pool on the
//! server; after DDL or a failure it is dropped (a failed test's database is kept by default, `DBTEST_KEEP`).
//!
//! ```text
//! #[db_test] fn ──▶ template (once per server, GET_LOCK) ──▶ clone, or claim from the warm pool
//!                                                        ──▶ body ──▶ reset + return, drop, or keep
//! ```
//!
//! The server comes from `DBTEST_DATABASE_URL` or `DATABASE_URL`; with neither, dbtest starts a
//! throwaway server of its own ([`server`]). See [`db_test`] for the arguments, [`admin`] for
//! inspecting and cleaning a server, [Configuration](#configuration) below for every setting, and
//! the README for how it works.
//!
//! # Features
//!
//! | feature | |
//! |---|---|
//! | `sqlx-0_9` *(default)* | link sqlx 0.9 |
//! | `sqlx-0_8` | link sqlx 0.8 (0.8.6 or later); with `default-features = false` |
//! | `cli` | the `dbtest` command-line tool: `list`, `gc`, `clean --all`, `server status\|stop` |
//!
//! Exactly one `sqlx-*` feature must be on: a test's `MySqlPool` is the type of the sqlx dbtest
//! links ([`sqlx`]), which must be the one your crate uses.
//!
//! # Configuration
//!
//! Environment variables, read once per process (a test process, or the `dbtest` tool):
//!
#![doc = include_str!("../docs/variables.md")]
#![deny(missing_docs)]

#[cfg(all(feature = "sqlx-0_8", feature = "sqlx-0_9"))]
compile_error!(
    "dbtest-runtime: the features `sqlx-0_8` and `sqlx-0_9` are both on, and dbtest must link \
     the one sqlx your tests link. For sqlx 0.8 write `dbtest-runtime = { version = \"0.1\", \
     default-features = false, features = [\"sqlx-0_8\"] }` (Cargo unifies features: every \
     crate of the workspace that depends on dbtest-runtime needs `default-features = false`)."
);
#[cfg(not(any(feature = "sqlx-0_8", feature = "sqlx-0_9")))]
compile_error!(
    "dbtest-runtime: no sqlx version chosen. Turn on the feature `sqlx-0_9` (the default) or \
     `sqlx-0_8`, the one matching the sqlx your tests use."
);

/// The sqlx dbtest links: 0.9 with the feature `sqlx-0_9` (the default), 0.8 with `sqlx-0_8`.
/// Its types are the ones a `#[db_test]` function receives; your crate's own `sqlx` dependency
/// must be the same version.
///
/// ```
/// // The pool a test receives is this crate's `MySqlPool`:
/// fn takes_a_pool(_: &dbtest_runtime::sqlx::MySqlPool) {}
/// ```
#[cfg(all(feature = "sqlx-0_8", not(feature = "sqlx-0_9")))]
pub extern crate sqlx08 as sqlx;
/// The sqlx dbtest links: 0.9 with the feature `sqlx-0_9` (the default), 0.8 with `sqlx-0_8`.
/// Its types are the ones a `#[db_test]` function receives; your crate's own `sqlx` dependency
/// must be the same version.
///
/// ```
/// // The pool a test receives is this crate's `MySqlPool`:
/// fn takes_a_pool(_: &dbtest_runtime::sqlx::MySqlPool) {}
/// ```
#[cfg(feature = "sqlx-0_9")]
pub extern crate sqlx09 as sqlx;

#[cfg(test)]
mod architecture;
mod background;
#[cfg(test)]
mod catalog;
mod clone;
mod compat;
mod config;
mod context;
mod db;
mod dialect;
#[cfg(test)]
mod docs;
mod error;
mod layer;
mod lease;
mod migrations;
mod naming;
mod pool;
mod record;
mod registry;
mod reset;
mod run;
mod say;
pub mod server;
mod slot;
mod snapshot;
mod sweep;
mod template;

pub use error::{Cause, Error};

/// Inspecting and cleaning a server's dbtest databases: what the `dbtest` command-line tool
/// (feature `cli`) does, as functions. Each reads the same settings as the tests
/// (`DBTEST_DATABASE_URL`, …) and only ever drops databases listed in dbtest's registry whose
/// owner is gone.
///
/// ```no_run
/// // A CI step that cleans up after the suite and reports what it found.
/// async fn after_the_suite() -> Result<(), dbtest_runtime::Error> {
///     let report = dbtest_runtime::admin::gc().await?;
///     eprintln!("{report}");
///     let kept = dbtest_runtime::admin::list().await?;
///     for db in kept.iter().filter(|e| e.kept_s.is_some()) {
///         eprintln!("kept for inspection: {} ({})", db.name, db.test);
///     }
///     Ok(())
/// }
/// ```
pub mod admin {
    pub use crate::sweep::{Entry, Report};
    use crate::{context::Context, db, registry, sweep, Error};

    /// Every database in dbtest's registry, with whether its owner is alive.
    ///
    /// ```no_run
    /// async fn templates() -> Result<Vec<String>, dbtest_runtime::Error> {
    ///     let all = dbtest_runtime::admin::list().await?;
    ///     Ok(all.into_iter().filter(|e| e.kind == "template").map(|e| e.name).collect())
    /// }
    /// ```
    pub async fn list() -> Result<Vec<Entry>, Error> {
        let mut conn = db::connect(context()?, None).await?;
        registry::ensure(&mut conn)
            .await
            .map_err(|e| db::privileges_hint(e, "creating the registry"))?;
        let mut entries = sweep::entries(&mut conn)
            .await
            .map_err(|e| db::privileges_hint(e, "reading the registry"));
        for e in entries.iter_mut().flatten() {
            if let Some(name) =
                crate::naming::DbName::parse(&e.name).filter(|_| e.kind == "template" && e.ready)
            {
                e.no_reset = crate::template::no_reset(&mut conn, &name).await;
            }
        }
        db::close(conn).await;
        entries
    }

    /// What the sweep before the first test does: drops orphaned test databases, kept databases
    /// past their retention, templates unused for `DBTEST_TEMPLATE_TTL` and dead builds.
    ///
    /// ```no_run
    /// async fn sweep() -> Result<(), dbtest_runtime::Error> {
    ///     let report = dbtest_runtime::admin::gc().await?;
    ///     println!("dropped {} database(s): {report}", report.dropped());
    ///     Ok(())
    /// }
    /// ```
    pub async fn gc() -> Result<Report, Error> {
        let ctx = context()?;
        list().await?;
        sweep::sweep(ctx, sweep::Mode::Expired).await
    }

    /// Drops every registered database whose owner is gone, whatever its age: templates, kept
    /// and orphaned test databases. Databases of running tests and templates being built stay.
    /// Run it when no tests run: a test starting meanwhile may find its template gone and rebuild it.
    ///
    /// ```no_run
    /// async fn start_over() -> Result<(), dbtest_runtime::Error> {
    ///     let report = dbtest_runtime::admin::clean_all().await?;
    ///     println!("{} template(s) dropped; the next test run builds afresh", report.templates.len());
    ///     Ok(())
    /// }
    /// ```
    pub async fn clean_all() -> Result<Report, Error> {
        let ctx = context()?;
        list().await?;
        sweep::sweep(ctx, sweep::Mode::All).await
    }

    /// Connection options for the server the tests use (from the URL, or the embedded server,
    /// which this starts if need be), with no default database.
    ///
    /// ```no_run
    /// # use dbtest_runtime::sqlx;
    /// use sqlx::{ConnectOptions, Row};
    ///
    /// async fn server_version() -> Result<String, Box<dyn std::error::Error>> {
    ///     let mut conn = dbtest_runtime::admin::connect_options()?.connect().await?;
    ///     let row = sqlx::query("SELECT VERSION()").fetch_one(&mut conn).await?;
    ///     Ok(row.try_get(0)?)
    /// }
    /// ```
    pub fn connect_options() -> Result<ServerOptions, Error> {
        Ok(ServerOptions(context()?.server.connect.clone()))
    }

    /// sqlx's connection options for the tests' server, whose `Debug` shows no password (sqlx's
    /// own does). Use them through `Deref` (`.connect()`, `.get_host()`, …), or take them
    /// with [`ServerOptions::into_inner`].
    ///
    /// ```no_run
    /// let options = dbtest_runtime::admin::connect_options()?;
    /// println!("{options:?}"); // user, host, port, socket, database; password: ***
    /// let sqlx_options = options.into_inner();
    /// # Ok::<(), dbtest_runtime::Error>(())
    /// ```
    #[derive(Clone)]
    pub struct ServerOptions(sqlx::mysql::MySqlConnectOptions);

    impl ServerOptions {
        #[cfg(test)]
        pub(crate) fn from_options(options: sqlx::mysql::MySqlConnectOptions) -> Self {
            ServerOptions(options)
        }

        /// The options themselves (their `Debug` shows the password).
        pub fn into_inner(self) -> sqlx::mysql::MySqlConnectOptions {
            self.0
        }
    }

    impl std::ops::Deref for ServerOptions {
        type Target = sqlx::mysql::MySqlConnectOptions;
        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }

    impl std::fmt::Debug for ServerOptions {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("ServerOptions")
                .field("username", &self.0.get_username())
                .field("host", &self.0.get_host())
                .field("port", &self.0.get_port())
                .field("socket", &self.0.get_socket())
                .field("database", &self.0.get_database())
                .field("password", &"***")
                .finish()
        }
    }

    /// The TCP address of that server (for the embedded server, its loopback port): what to give
    /// a client that is not written in Rust.
    ///
    /// ```no_run
    /// let (host, port) = dbtest_runtime::admin::tcp_address()?;
    /// println!("mariadb -h {host} -P {port} -u root");
    /// # Ok::<(), dbtest_runtime::Error>(())
    /// ```
    pub fn tcp_address() -> Result<(String, u16), Error> {
        Ok(context()?.server.tcp.clone())
    }

    fn context() -> Result<&'static Context, Error> {
        Context::get().map_err(|e| Error::Server {
            action: "reading the settings".into(),
            reason: crate::Cause::Earlier(e),
        })
    }
}

/// Gives an async test its own database, cloned from a template that was migrated once.
///
/// `#[db_test]` takes the place of `#[sqlx::test]` (and of `#[tokio::test]`): the function
/// becomes a `#[test]` that runs on a current-thread Tokio runtime, with a database of its own.
///
/// ```no_run
/// # use dbtest_runtime::sqlx;
/// use dbtest_runtime::db_test;
/// use sqlx::MySqlPool;
///
/// #[db_test]
/// async fn orders_start_empty(pool: MySqlPool) -> sqlx::Result<()> {
///     let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
///         .fetch_one(&pool)
///         .await?;
///     assert_eq!(orders, 0);
///     Ok(())
/// }
/// ```
///
/// # Parameters
/// The test function takes one of:
///
#[doc = include_str!("../docs/parameters.md")]
///
/// These are the types of the sqlx dbtest links ([`sqlx`]): sqlx 0.9 with the
/// default feature `sqlx-0_9`, sqlx 0.8 with `default-features = false, features = ["sqlx-0_8"]`.
/// Take the one your crate uses, or the pool will not be the type your code expects.
///
/// The function may return `()` or `Result<T, E>` with `E: Debug`; an `Err` fails the test.
/// Other attributes stay as they are: `#[ignore]`, `#[should_panic]` (then the panic is the
/// test passing, and its database is not kept as a failed one's is).
///
/// # Arguments
/// The same as `#[sqlx::test]`'s; a bad argument is a compile error at that argument.
///
#[doc = include_str!("../docs/arguments.md")]
///
/// Migrations are read at run time, once per process, from the directory the macro resolved at
/// compile time (editing one does not recompile the tests). Binaries run without the source tree
/// (`cargo nextest archive`) want `migrator = "…"` with `sqlx::migrate!`, which embeds them.
/// Fixtures are embedded in the test binary (`include_str!`).
///
/// ```ignore
/// // (Not compiled here: the paths are your crate's.)
/// static MIGRATOR: Migrator = sqlx::migrate!("db/migrations");
///
/// // The migrations of `MIGRATOR`, then `fixtures/users.sql` and `fixtures/posts.sql`.
/// #[db_test(migrator = "MIGRATOR", fixtures("users", "posts"))]
/// async fn with_seed_data(pool: MySqlPool) { /* … */ }
///
/// // Migrations from another directory; fixtures from a directory of your choice.
/// #[db_test(migrations = "db/legacy", fixtures(path = "../seeds", scripts("big_shop")))]
/// async fn on_the_legacy_schema(pool: MySqlPool) { /* … */ }
/// ```
///
/// ```no_run
/// # use dbtest_runtime::sqlx;
/// use dbtest_runtime::db_test;
/// use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
/// use sqlx::{pool::PoolConnection, MySql};
///
/// // No migrations at all: an empty database, one connection.
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
///
/// // A pool the test builds itself.
/// #[db_test(migrations = false)]
/// async fn own_pool(opts: MySqlPoolOptions, connect: MySqlConnectOptions) -> sqlx::Result<()> {
///     let pool = opts.max_connections(1).connect_with(connect).await?;
///     sqlx::query("CREATE TABLE t (id INT PRIMARY KEY)").execute(&pool).await?;
///     Ok(())
/// }
/// ```
///
/// # Settings for a whole workspace
/// `[workspace.metadata.dbtest]` in the workspace's `Cargo.toml` and `[package.metadata.dbtest]`
/// in a crate's set defaults for every `#[db_test]` below them (the closer file wins; an argument
/// wins over both); they are read at compile time, and a change recompiles the tests.
///
#[doc = include_str!("../docs/metadata.md")]
///
/// # At run time
/// The server is `DBTEST_DATABASE_URL`, else `DATABASE_URL` (a `mysql://` URL whose user may
/// create databases), else a throwaway server dbtest starts itself ([`server`]). Every wait is
/// bounded (`DBTEST_*_TIMEOUT`); anything that goes wrong fails the test with an [`Error`]'s
/// message, which says what to do. The settings are in the [crate documentation](crate#configuration).
///
/// After the body: a passing test's database is put back to a fresh clone's state and, proven
/// equal to one, waits in a warm pool for the next test (or dropped, after DDL or with `DBTEST_REUSE=never`); a failed test's is
/// kept for you to look at, and the test prints how to connect to it (`DBTEST_KEEP`).
pub use dbtest_macros::db_test;

/// What the expansion of `#[db_test]` calls. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    /// SQL text built at run time, for either sqlx (the project's own tests use it).
    pub mod sql {
        pub use crate::compat::{query, query_scalar, raw_sql};
    }
    pub use crate::config::{redact_url, Keep};
    pub use crate::layer::{Fixture, Setup, SetupFuture};
    pub use crate::lease::TestArgs;
    pub use crate::migrations::{Migrations, MigratorSource};
    pub use crate::run::{setup_future, TestFn, TestOutcome};
}
