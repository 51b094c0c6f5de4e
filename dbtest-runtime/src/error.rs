//! The one error type of dbtest: every failure says what happened, to which object, and what to do.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Everything that can go wrong while preparing or tearing down a test database.
///
/// A test that fails on one of these panics with its message, which names the object and says
/// what to do. Messages never contain a password: server URLs are shown as `user:***@host`.
///
/// ```no_run
/// use dbtest_runtime::{admin, Error};
///
/// async fn is_the_server_up() -> bool {
///     match admin::list().await {
///         Ok(_) => true,
///         Err(Error::Connect { url, reason }) => {
///             // The driver's own error, when there is one (not a bound that ran out).
///             if let dbtest_runtime::Cause::Sql(e) = &reason {
///                 eprintln!("sqlx says: {e:?}");
///             }
///             eprintln!("{url} does not answer: {reason}");
///             false
///         }
///         Err(other) => panic!("{other}"),
///     }
/// }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No server is configured.
    #[error(
        "no database server configured and the embedded server is off (DBTEST_EMBEDDED=never): set \
         DBTEST_DATABASE_URL (or DATABASE_URL), e.g. DBTEST_DATABASE_URL=mysql://root@127.0.0.1:3306"
    )]
    NoUrl,

    /// The configured URL could not be parsed.
    #[error("{var} is not a valid MySQL URL ({url}): {reason}")]
    BadUrl {
        /// The environment variable the URL came from.
        var: &'static str,
        /// The URL with its password replaced by `***`.
        url: String,
        /// What the parser said, with the password taken out (the parser's own error may quote
        /// the URL, so it is not kept).
        reason: String,
    },

    /// A `DBTEST_*` setting holds a value that is not understood.
    #[error("{var}={value:?} is not valid: {expected}")]
    BadSetting {
        /// The environment variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What would have been accepted.
        expected: &'static str,
    },

    /// Connecting to the server failed or took too long.
    #[error("could not connect to {url}: {reason}")]
    Connect {
        /// The URL with its password replaced by `***`.
        url: String,
        /// The driver's error, or the bound that ran out.
        #[source]
        reason: Cause,
    },

    /// The migrations could not be read.
    #[error("could not read migrations from `{}`: {reason}", dir.display())]
    ReadMigrations {
        /// The directory that was read.
        dir: PathBuf,
        /// What went wrong.
        #[source]
        reason: Cause,
    },

    /// A migration failed while building the template.
    #[error("migration {migration} failed while building template `{template}`: {reason}")]
    Migration {
        /// The template being built.
        template: String,
        /// The migration's file (or version and description when there is no file).
        migration: String,
        /// The server's error.
        #[source]
        reason: Cause,
    },

    /// The advisory lock guarding a template build was not granted in time.
    #[error(
        "waited {waited:.0?} for lock `{lock}` guarding template `{template}`, {holder}; \
         raise DBTEST_LOCK_TIMEOUT (seconds) or find that process"
    )]
    LockTimeout {
        /// The lock's name.
        lock: String,
        /// The template it guards.
        template: String,
        /// How long it was waited for.
        waited: Duration,
        /// Who holds it, as far as the server can tell.
        holder: String,
    },

    /// A template build or probe failed for a reason other than a migration.
    #[error("template `{template}`: {action} failed: {reason}")]
    Template {
        /// The template.
        template: String,
        /// What was being done.
        action: &'static str,
        /// The server's error.
        #[source]
        reason: Cause,
    },

    /// Creating a test database (or a derived template) from a template failed.
    #[error("could not create database `{database}` from template `{template}`: {reason}")]
    Clone {
        /// The new database.
        database: String,
        /// Its template.
        template: String,
        /// The server's error.
        #[source]
        reason: Cause,
    },

    /// A fixture script failed while it was built into a derived template.
    #[error("fixture `{fixture}` failed while building template `{template}`: {reason}")]
    Fixture {
        /// The fixture's path as written in the attribute.
        fixture: String,
        /// The derived template being built.
        template: String,
        /// The server's error.
        #[source]
        reason: Cause,
    },

    /// A setup function failed (returned `Err`, panicked, or kept a connection) while it was
    /// built into a derived template. Every test of this process that uses it is given this
    /// error; the setup is not run again until the next process.
    #[error("setup `{setup}` failed while building template `{template}`: {reason}")]
    Setup {
        /// The setup function's path as written.
        setup: String,
        /// The derived template being built.
        template: String,
        /// What it returned, its panic's message, or what dbtest saw.
        #[source]
        reason: Cause,
    },

    /// Dropping a test database failed.
    #[error("could not drop test database `{database}`: {reason}")]
    Drop {
        /// The test database.
        database: String,
        /// The server's error or the bound that ran out.
        #[source]
        reason: Cause,
    },

    /// A server operation failed.
    #[error("{action} failed: {reason}")]
    Server {
        /// What was being done.
        action: String,
        /// The server's error.
        #[source]
        reason: Cause,
    },

    /// The server refused an operation for lack of privileges (or of a server setting).
    #[error("{action}: the server refused: {reason}; {hint}")]
    Privileges {
        /// What was being done.
        action: String,
        /// The server's error.
        #[source]
        reason: Cause,
        /// What to grant or set, chosen by the server's error number.
        hint: &'static str,
    },

    /// No connection slot became free in time.
    #[error(
        "waited {waited:.0?} for a connection slot: all {slots} slots are in use by other tests \
         (a budget of {budget} connections, {per_test} per test, of the server's max_connections={server_max}); \
         raise DBTEST_SLOT_TIMEOUT or DBTEST_MAX_CONNECTIONS, or run fewer tests at once"
    )]
    NoSlot {
        /// How long it waited.
        waited: Duration,
        /// How many slots there are.
        slots: u32,
        /// The connection budget of all dbtest processes.
        budget: u32,
        /// Connections per test.
        per_test: u32,
        /// The server's `max_connections`.
        server_max: u32,
    },

    /// A bounded step ran out of time.
    #[error("{what} did not finish within {bound:?}; {hint}")]
    Timeout {
        /// What was waited for.
        what: String,
        /// The bound.
        bound: Duration,
        /// What to do about it.
        hint: &'static str,
    },
}

/// What lies under an [`Error`]: the error of the layer below, kept as it was (its `Display` is
/// that error's, and so is its [`source`](std::error::Error::source)), or dbtest's own account.
///
/// An [`Error`]'s message already ends with its cause's, so that a failed test's panic says
/// everything; a reporter that walks [`source`](std::error::Error::source) chains shows it again.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Cause {
    /// The driver's (and through it the server's) error.
    #[error(transparent)]
    Sql(#[from] sqlx::Error),
    /// sqlx's migrator's error (reading or running migrations).
    #[error(transparent)]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file or process error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// An error this process met before, given to every test that needs what failed (a
    /// template whose build failed, settings that could not be read).
    #[error(transparent)]
    Earlier(Arc<Error>),
    /// What dbtest found itself: a bound that ran out, an object it will not touch, or a
    /// driver's message it had to edit (a URL's password taken out).
    #[error("{0}")]
    Said(String),
}

impl From<String> for Cause {
    fn from(said: String) -> Cause {
        Cause::Said(said)
    }
}

impl From<&str> for Cause {
    fn from(said: &str) -> Cause {
        Cause::Said(said.to_owned())
    }
}

/// Shorthand for results in dbtest.
pub type Result<T, E = Error> = std::result::Result<T, E>;
