//! Connections and advisory locks: every wait here is bounded, and a lock that is not granted
//! says who holds it.

use std::future::Future;
use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnection;
use sqlx::{ConnectOptions, Connection, Row};

use crate::compat::text;
use crate::context::Context;
use crate::error::{Cause, Error, Result};
use crate::naming;

/// Opens one connection, with `database` as its default database (or none), within the connect
/// bound. Its waits for table locks (another session's `LOCK TABLES` on the registry, a DDL on a
/// table it reads) end after `DBTEST_DDL_TIMEOUT`, not after the server's default of a year.
pub(crate) async fn connect(ctx: &Context, database: Option<&str>) -> Result<MySqlConnection> {
    let options = match database {
        Some(db) => ctx.server.connect.clone().database(db),
        None => ctx.server.connect.clone(),
    };
    let reason = match tokio::time::timeout(ctx.connect_timeout, options.connect()).await {
        Ok(Ok(mut conn)) => {
            set_lock_wait(&mut conn, ctx.ddl_timeout)
                .await
                .map_err(|e| privileges_hint(e, "setting up a session"))?;
            return Ok(conn);
        }
        Ok(Err(e)) => e.into(),
        Err(_) => format!(
            "no answer within {:?} (raise DBTEST_CONNECT_TIMEOUT, or check the server is up)",
            ctx.connect_timeout
        )
        .into(),
    };
    Err(Error::Connect {
        url: ctx.server.url_redacted.clone(),
        reason,
    })
}

/// Bounds the session's waits for table and metadata locks by `bound` (at least a second).
pub(crate) async fn set_lock_wait(
    conn: &mut MySqlConnection,
    bound: Duration,
) -> Result<(), sqlx::Error> {
    crate::compat::raw_sql(&format!(
        "SET SESSION lock_wait_timeout = {}",
        bound.as_secs().max(1)
    ))
    .execute(conn)
    .await
    .map(drop)
}

/// Runs `fut`, failing with [`Error::Timeout`] after `bound`.
pub(crate) async fn bounded<T>(
    what: impl FnOnce() -> String,
    bound: Duration,
    hint: &'static str,
    fut: impl Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(bound, fut).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout {
            what: what(),
            bound,
            hint,
        }),
    }
}

/// The grant dbtest's user needs, said when the server refuses one of dbtest's own statements.
pub(crate) const GRANT_HINT: &str =
    "dbtest's user needs GRANT ALL PRIVILEGES ON `dbtest\\_%`.* TO <user> \
     (and PROCESS, optionally, to name who holds a lock)";

/// What to grant or set when the server refuses with error number `code` (the same numbers on
/// MySQL and MariaDB); `None`: not a refusal.
pub(crate) fn refusal_hint(code: u16) -> Option<&'static str> {
    Some(match code {
        // ER_DBACCESS_DENIED_ERROR, ER_ACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR,
        // ER_COLUMNACCESS_DENIED_ERROR, ER_PROCACCESS_DENIED_ERROR
        1044 | 1045 | 1142 | 1143 | 1370 => GRANT_HINT,
        // ER_SPECIFIC_ACCESS_DENIED_ERROR: a global or dynamic privilege, named in the message.
        // Replaying the template's views, triggers, routines and events with another account as
        // DEFINER is the usual cause.
        1227 => {
            "the server's message names the privilege missing. Objects whose DEFINER is another account \
             need SET_USER_ID (MySQL 8.0) or SET_ANY_DEFINER (MySQL 8.2+; and SYSTEM_USER when that account \
             has it), or SET USER (MariaDB 10.5+) or SUPER (older MariaDB); reading another definer's \
             routines needs SHOW_ROUTINE (MySQL 8.0.20+). Or write the migrations without DEFINER clauses, \
             so that dbtest's user defines everything it copies"
        }
        // ER_BINLOG_UNSAFE_ROUTINE, ER_BINLOG_CREATE_ROUTINE_NEED_SUPER: binary logging is on
        // (MySQL 8's default) and the account has no SUPER.
        1418 | 1419 => {
            "the server writes a binary log and refuses functions and triggers from an account without \
             SUPER: on a test server, SET GLOBAL log_bin_trust_function_creators = 1 (or put it in its \
             configuration), or run it without a binary log (MySQL: --disable-log-bin; MariaDB: no log-bin)"
        }
        _ => return None,
    })
}

/// `e` as [`Error::Privileges`] when the server refused for lack of privileges, else as `other`.
pub(crate) fn refused_or(
    e: sqlx::Error,
    action: &str,
    other: impl FnOnce(sqlx::Error) -> Error,
) -> Error {
    match crate::compat::server_code(&e).and_then(refusal_hint) {
        Some(hint) => Error::Privileges {
            action: action.to_owned(),
            reason: e.into(),
            hint,
        },
        _ => other(e),
    }
}

/// `e` as [`Error::Privileges`] when the server refused for lack of privileges, else as a
/// plain failure of `action`.
pub(crate) fn privileges_hint(e: sqlx::Error, action: &str) -> Error {
    refused_or(e, action, |e| Error::Server {
        action: action.to_owned(),
        reason: e.into(),
    })
}

/// Takes the advisory lock `lock` on `conn`, waiting at most `timeout`.
///
/// The lock belongs to the session: it is released by [`release_lock`] or when the connection
/// ends, however it ends, so a crashed holder never blocks anyone for longer than the server
/// takes to notice.
pub(crate) async fn get_lock(
    conn: &mut MySqlConnection,
    lock: &str,
    timeout: Duration,
    template: &str,
) -> Result<()> {
    debug_assert!(naming::is_generated(lock) && lock.len() <= naming::MAX_NAME);
    let started = Instant::now();
    let fail = |reason: Cause| Error::Template {
        template: template.to_owned(),
        action: "taking the template lock",
        reason,
    };
    // The server enforces the wait; the client-side bound only catches a server that stops
    // answering altogether.
    let granted = tokio::time::timeout(
        timeout + Duration::from_secs(5),
        sqlx::query("SELECT GET_LOCK(?, ?)")
            .bind(lock)
            .bind(timeout.as_secs_f64())
            .fetch_one(&mut *conn),
    )
    .await;
    let granted: Option<i64> = match granted {
        Ok(Ok(row)) => row.try_get_unchecked(0).map_err(|e| fail(e.into()))?,
        Ok(Err(e)) => return Err(fail(e.into())),
        Err(_) => None,
    };
    if granted == Some(1) {
        return Ok(());
    }
    let holder = describe_holder(conn, lock)
        .await
        .unwrap_or_else(|e| format!("holder unknown ({e})"));
    Err(Error::LockTimeout {
        lock: lock.to_owned(),
        template: template.to_owned(),
        waited: started.elapsed(),
        holder,
    })
}

/// Releases `lock` if this session holds it.
pub(crate) async fn release_lock(
    conn: &mut MySqlConnection,
    lock: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("DO RELEASE_LOCK(?)")
        .bind(lock)
        .execute(conn)
        .await
        .map(drop)
}

/// Who holds `lock`: connection id, and from the process list its user, host, command, state and
/// time.
async fn describe_holder(conn: &mut MySqlConnection, lock: &str) -> Result<String, sqlx::Error> {
    let row = sqlx::query("SELECT IS_USED_LOCK(?)")
        .bind(lock)
        .fetch_one(&mut *conn)
        .await?;
    let Some(id): Option<u64> = row.try_get_unchecked(0)? else {
        return Ok("and it is free now (released just as the wait ended)".into());
    };
    let row = sqlx::query(
        "SELECT USER, HOST, COMMAND, STATE, TIME FROM information_schema.PROCESSLIST WHERE ID = ?",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(match row {
        None => format!(
            "held by connection {id} (not visible in the process list: grant PROCESS to see it)"
        ),
        Some(row) => {
            let time: Option<i64> = row.try_get_unchecked(4)?;
            format!(
                "held by connection {id} (user {}, host {}, command {}, state `{}`, {} s in that state)",
                text(&row, 0)?.unwrap_or_default(),
                text(&row, 1)?.unwrap_or_default(),
                text(&row, 2)?.unwrap_or_default(),
                text(&row, 3)?.unwrap_or_default(),
                time.unwrap_or_default(),
            )
        }
    })
}

/// Closes `conn` politely, giving up after a second (the server cleans up a dropped socket too).
pub(crate) async fn close(conn: MySqlConnection) {
    let _ = tokio::time::timeout(Duration::from_secs(1), conn.close()).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_refusal_says_what_to_grant_or_set() {
        for code in [1044, 1142, 1143, 1370] {
            assert_eq!(refusal_hint(code), Some(GRANT_HINT), "{code}");
        }
        let definer = refusal_hint(1227).unwrap();
        for needed in [
            "SET_USER_ID",
            "SET_ANY_DEFINER",
            "SYSTEM_USER",
            "SET USER",
            "SHOW_ROUTINE",
        ] {
            assert!(definer.contains(needed), "{needed}: {definer}");
        }
        for code in [1418, 1419] {
            let binlog = refusal_hint(code).unwrap();
            assert!(
                binlog.contains("log_bin_trust_function_creators = 1"),
                "{binlog}"
            );
            assert!(binlog.contains("--disable-log-bin"), "{binlog}");
        }
        // Not refusals: a syntax error, a missing table.
        assert_eq!(refusal_hint(1064), None);
        assert_eq!(refusal_hint(1146), None);
    }

    /// An unreachable server's error keeps the driver's error underneath it, as its source,
    /// for callers to match on; the message still says it all.
    #[test]
    fn a_connect_error_keeps_the_drivers_error() {
        // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
        let settings = crate::config::Settings::from_env(|k| {
            (k == "DBTEST_DATABASE_URL").then(|| "mysql://root:hunter2@127.0.0.1:1".to_owned())
        })
        .unwrap();
        let ctx = Context::new(settings).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let e = rt.block_on(connect(&ctx, None)).unwrap_err();
        let Error::Connect { reason, .. } = &e else {
            panic!("{e:?}")
        };
        assert!(
            matches!(reason, Cause::Sql(sqlx::Error::Io(_))),
            "{reason:?}"
        );
        let source = std::error::Error::source(&e).expect("a source");
        assert!(source.downcast_ref::<Cause>().is_some(), "{source:?}");
        // The cause is transparent: its own source is the driver's.
        assert_eq!(source.to_string(), reason.to_string());
        assert!(e.to_string().ends_with(&reason.to_string()), "{e}");
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }
}
