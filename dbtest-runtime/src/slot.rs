//! The cross-process connection budget: at most [`Settings::slots`](crate::config::Settings::slots) tests hold a database at once
//! across every process using the server, so their connections stay within the server's
//! `max_connections`. A slot is an advisory lock of the test's owner session, freed when the
//! session ends, however it ends.

use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnection;
use sqlx::Row;

use crate::compat;
use crate::context::Context;
use crate::db;
use crate::error::{Error, Result};
use crate::naming;

/// Opens the owner connection of a new test and takes a connection slot on it. Waiting (bounded
/// by `DBTEST_SLOT_TIMEOUT`) holds no connection.
pub(crate) async fn take(ctx: &Context) -> Result<MySqlConnection> {
    let server_max = ctx.known().map_or(151, |s| s.max_connections);
    let (budget, slots) = ctx.slots(server_max);
    // Try every slot in one query, from a different start each time: `CASE` stops at the first
    // lock it gets.
    let start = std::process::id().wrapping_add(naming::random_u32()) % slots;
    let arms: String = (0..slots)
        .map(|i| {
            let slot = (start + i) % slots;
            format!(
                " WHEN GET_LOCK('{}', 0) = 1 THEN {slot}",
                naming::slot_lock(slot)
            )
        })
        .collect();
    // The owner session sits idle while the test body runs, and its locks are the test's claim
    // on its database: a server's `wait_timeout` must not end it under a long test (a sweep would
    // then take the database for an orphan). 31536000 s is the most both servers accept. (Its
    // lock waits are bounded by `db::connect`.) One request with the slot query.
    let try_all = format!("SET SESSION wait_timeout = 31536000;\nSELECT CASE{arms} ELSE NULL END");
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        let mut conn = db::connect(ctx, None).await?;
        let row = compat::raw_sql(&try_all)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| db::privileges_hint(e, "taking a connection slot"))?;
        let got: Option<i64> = row
            .try_get_unchecked(0)
            .map_err(|e| db::privileges_hint(e, "taking a connection slot"))?;
        if got.is_some() {
            return Ok(conn);
        }
        db::close(conn).await;
        if started.elapsed() >= ctx.slot_timeout {
            return Err(Error::NoSlot {
                waited: started.elapsed(),
                slots,
                budget,
                per_test: ctx.connections_per_test(),
                server_max,
            });
        }
        tokio::time::sleep(pause + Duration::from_millis(u64::from(naming::random_u32() % 10)))
            .await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}
