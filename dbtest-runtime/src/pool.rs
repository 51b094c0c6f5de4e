//! The warm pool: clean databases of a template waiting for a test. A pool database is a
//! registered test database with `ready_at` set and its owner lock free; a test claims one by
//! taking that lock (atomic on the server, so two processes never get the same one). A finished
//! test's database comes back only when [`reset`](crate::reset) proves it equal to a fresh clone;
//! the pool is refilled in the background with new clones, up to `DBTEST_WARM` per template. The
//! process waits for a refill in progress when it exits (`background`); a refill cut short all
//! the same (a killed process) leaves an unowned half-made database, which the sweep removes like
//! any orphan.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use sqlx::mysql::MySqlConnection;

use crate::compat;
use crate::context::Context;
use crate::db;
use crate::error::Result;
use crate::naming::{self, DbName};
use crate::registry;
use crate::reset::{self, Outcome, Why};
use crate::template::Template;
use crate::{clone, say, slot};

/// Takes a clean database of `template` from the pool for `test_path`: its owner lock, then its
/// registry row. Ends with it as the session's default database. Returns its name and since when
/// a reset proved it clean (see `reset::Gate`).
pub(crate) async fn claim(
    owner: &mut MySqlConnection,
    template: &Template,
    test_path: &str,
) -> Result<Option<Claimed>, sqlx::Error> {
    // Only names of this template's databases: a row of the registry (a table every account
    // with the grant on `dbtest\_%` may write) naming another database is never used.
    let candidates: Vec<DbName> = registry::ready_candidates(owner, &template.name, CANDIDATES)
        .await?
        .into_iter()
        .filter(|n| naming::is_test_db_of(n, &template.name))
        .collect();
    if candidates.is_empty() {
        return Ok(None);
    }
    let arms: String = candidates
        .iter()
        .map(|n| format!(" WHEN GET_LOCK({0}, 0) = 1 THEN {0}", n.literal()))
        .collect();
    let row = compat::query(&format!("SELECT CASE{arms} ELSE NULL END"))
        .fetch_one(&mut *owner)
        .await?;
    let got = crate::compat::text(&row, 0)?;
    let Some(name) = got.as_deref().and_then(DbName::parse) else {
        return Ok(None);
    };
    let Some(clean_since) = registry::claim(owner, &name, test_path).await? else {
        // Swept or claimed between the listing and the lock: not ours after all.
        db::release_lock(owner, name.as_str()).await?;
        return Ok(None);
    };
    Ok(Some(Claimed {
        others_ready: candidates.len() - 1,
        name,
        clean_since,
    }))
}

/// A pool database a test claimed.
pub(crate) struct Claimed {
    pub name: DbName,
    /// Since when a reset proved it clean, if one did (see `reset::Gate`).
    pub clean_since: Option<i64>,
    /// How many other databases of its template were ready when it was claimed (of at most
    /// [`CANDIDATES`] looked at).
    pub others_ready: usize,
}

/// Ready databases a claim looks at.
const CANDIDATES: u32 = 8;

/// Whether database `name` of `template`, whose test passed, may be reset for the pool: the
/// template's clones can be reset, the pool has room, nothing holds on to the database (see
/// `reset::let_go`). False (said why): the caller drops it. Leaves the session prepared for
/// [`give_back`].
pub(crate) async fn may_give_back(
    ctx: &Context,
    owner: &mut MySqlConnection,
    name: &DbName,
    template: &Template,
    test_path: &str,
) -> Result<bool, sqlx::Error> {
    if registry::ready_count(owner, &template.name).await? >= i64::from(ctx.warm_max) {
        say::dropped(name, "the warm pool is full (DBTEST_WARM_MAX)");
        return Ok(false);
    }
    match reset::let_go(owner, name, ctx.dialect()).await? {
        None => Ok(true),
        Some(why) => {
            report(&why, name, template, test_path);
            Ok(false)
        }
    }
}

/// Puts database `name` of `template` back into the pool (after [`may_give_back`] said it may)
/// if it can be proven equal to a fresh clone, resetting what a test may change without DDL.
/// False (said why): the caller drops it. `clean_since`: since when a reset proved it clean, if
/// one did.
pub(crate) async fn give_back(
    ctx: &Context,
    owner: &mut MySqlConnection,
    name: &DbName,
    template: &Template,
    clean_since: Option<i64>,
    test_path: &str,
) -> Result<bool, sqlx::Error> {
    let Ok(reference) = &template.reference else {
        return Ok(false);
    };
    let fresh = reset::Fresh {
        template: &template.name,
        script: &template.script,
        shapes: &template.shapes,
        state: reference,
    };
    let outcome = reset::reset(owner, name, &fresh, clean_since, ctx.dialect()).await?;
    match outcome {
        Outcome::Reset { restored, proven } => {
            tracing::debug!(
                database = name.as_str(),
                restored,
                "reset and back in the warm pool"
            );
            registry::mark_ready(owner, name, proven).await?;
            // Free before the reset counts as ended: a test it wakes can claim it at once
            // (closing the session frees it too, but the server may take a moment).
            db::release_lock(owner, name.as_str()).await?;
            Ok(true)
        }
        Outcome::Drop(why) => {
            report(&why, name, template, test_path);
            Ok(false)
        }
    }
}

/// Says why database `name` of `template` is dropped, not reset: once per process for what is
/// not the test's doing, else with `DBTEST_LOG=debug`.
fn report(why: &Why, name: &DbName, template: &Template, test_path: &str) {
    match why {
        // Not the test's doing: a kind of change reset cannot undo. Said once.
        Why::CannotReset(_) => say::once(
            &format!("{} cannot reset", template.name),
            &format!(
                "dbtest: template {}: the database of test {test_path} is dropped, not reset: {why}; \
                 tests that make this change pay for a new clone",
                template.name
            ),
        ),
        Why::NotRestored(_) => say::once(
            &format!("{} not restored", template.name),
            &format!(
                "dbtest: template {}: the database of test {test_path} is dropped, not reset: {why}; \
                 tests that make this change pay for a new clone (please report it)",
                template.name
            ),
        ),
        Why::TemplateChanged(_) => say::once(
            &format!("{} changed", template.name),
            &format!(
                "dbtest: template {} was changed after it was built ({why}), most likely by a test \
                 writing into it: fresh clones carry the change too. Drop it (`dbtest clean --all`) so that \
                 the next run builds it again",
                template.name
            ),
        ),
        // Not the test's doing either, and it lasts until someone ends that transaction.
        Why::PreparedXa(_) => say::once(
            "prepared XA",
            &format!(
                "dbtest: test databases are dropped, not reset, while the server holds a prepared XA \
                 transaction: {why}; end it (XA COMMIT or XA ROLLBACK) to have them reused"
            ),
        ),
        _ => say::dropped(name, &why.to_string()),
    }
}

/// Starts a background refill of `template`'s pool, unless one runs already in this process.
///
/// `ready`: how many of the template's databases a claim just saw ready besides its own, if it
/// claimed one; when that is the target already, nothing is started (no thread, no connection).
pub(crate) fn refill(ctx: &'static Context, template: Arc<Template>, ready: Option<usize>) {
    if ctx.warm == 0 || ready.is_some_and(|n| n >= target(ctx) as usize) {
        return;
    }
    let name = template.name.clone();
    crate::background::refill(name.as_str(), ctx.ddl_timeout, move || async move {
        fill(ctx, &template).await
    });
}

/// Tests of this process holding a database now, and the most there have been at once: the pool
/// is refilled to at least that many, so a suite running N tests at once finds N ready.
static IN_FLIGHT: AtomicU32 = AtomicU32::new(0);
static PEAK: AtomicU32 = AtomicU32::new(0);

/// A test of this process got a database.
pub(crate) fn started() {
    let now = IN_FLIGHT.fetch_add(1, Ordering::Relaxed) + 1;
    PEAK.fetch_max(now, Ordering::Relaxed);
}

/// A test of this process let its database go.
pub(crate) fn ended() {
    // A test whose database could not be made ends without having started.
    let _ = IN_FLIGHT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1));
}

/// How many clean databases a refill keeps ready per template: `DBTEST_WARM`, or as many as this
/// process has run tests at once, never more than `DBTEST_WARM_MAX`.
fn target(ctx: &Context) -> u32 {
    ctx.warm.max(PEAK.load(Ordering::Relaxed)).min(ctx.warm_max)
}

/// Makes clean clones until the pool holds [`target`] of them; stops at the first failure: the
/// pool is an optimisation, tests clone for themselves without it.
async fn fill(ctx: &'static Context, template: &Template) {
    let target = target(ctx);
    for _ in 0..target {
        // The process is ending: a clone started now would be cut short.
        if crate::background::exiting() {
            return;
        }
        let Ok(mut conn) = db::connect(ctx, None).await else {
            return;
        };
        let ready = registry::ready_count(&mut conn, &template.name).await;
        db::close(conn).await;
        match ready {
            Ok(n) if n < i64::from(target) => {}
            _ => return,
        }
        let name = naming::test_db_name(&template.name, "");
        if make_ready(ctx, template, &name).await.is_err() {
            return;
        }
        tracing::debug!(
            database = name.as_str(),
            template = template.name.as_str(),
            "warm pool: made a clean clone"
        );
    }
}

/// Makes a clean clone `name` of `template` and puts it in the pool.
async fn make_ready(ctx: &Context, template: &Template, name: &DbName) -> Result<()> {
    let mut owner = slot::take(ctx).await?;
    let made = match clone::clone_into(
        ctx,
        &mut owner,
        &template.name,
        template.clone_sql(ctx.dialect()),
        name,
        clone::Made::Test(None),
    )
    .await
    {
        Ok(()) => registry::mark_ready(&mut owner, name, None)
            .await
            .map_err(|e| db::privileges_hint(e, "filling the warm pool")),
        Err(e) => Err(e),
    };
    if made.is_err() {
        let _ = registry::drop_database(&mut owner, name).await;
    }
    db::close(owner).await;
    made
}
