//! A test's database from start to end: a clean one claimed from the warm pool or a new clone,
//! owned through an advisory lock named after it for its whole life (taken before the database
//! exists); at the end given back to the pool, dropped, or kept, as the
//! outcome and `DBTEST_KEEP` say.

use std::sync::Arc;
use std::time::Duration;

use sqlx::mysql::MySqlConnection;
use tracing::Instrument;

use crate::config::Keep;
use crate::context::Context;
use crate::db;
use crate::error::{Error, Result};
use crate::layer::{Fixture, Setup};
use crate::migrations::Migrations;
use crate::naming::{self, DbName};
use crate::registry;
use crate::template::Template;
use crate::{background, clone, pool, say, slot};

/// Everything a test needs to get its database.
#[derive(Debug, Clone, Copy)]
pub struct TestArgs {
    /// `module_path!()::name` of the test.
    pub test_path: &'static str,
    /// The migration source.
    pub migrations: Migrations,
    /// Fixtures, in order: built into a derived template (over the setup's, if any).
    pub fixtures: &'static [Fixture],
    /// A setup function: built into a derived template of its own.
    pub setup: Option<Setup>,
    /// The test carries `#[should_panic]`: a panic is its success.
    pub should_panic: bool,
    /// `pool_size` from `[*.metadata.dbtest]` in Cargo.toml (overrides `DBTEST_POOL_SIZE`).
    pub pool_size: Option<u32>,
    /// `keep` from Cargo.toml (overrides `DBTEST_KEEP`).
    pub keep: Option<Keep>,
    /// `url_env` from Cargo.toml: a variable read before `DBTEST_DATABASE_URL`.
    pub url_env: Option<&'static str>,
}

/// A test database and the connection that owns it.
#[derive(Debug)]
pub(crate) struct TestDb {
    pub name: DbName,
    /// Holds the owner lock and the connection slot; also resets or drops.
    owner: MySqlConnection,
    template: Arc<Template>,
    /// Since when a reset proved it clean (a pool database), on the server's clock.
    clean_since: Option<i64>,
    /// Its template's clones can be reset and reuse is on (see [`resettable`]).
    resettable: bool,
}

impl TestDb {
    /// How this database ends after its test (see [`ending`]).
    pub fn ending(&self, keep: Keep, failed: bool, provable: bool) -> Ending {
        ending(keep, failed, provable, self.resettable)
    }
}

/// Whether `template`'s databases are reset and reused: reuse is on and its clones can be
/// reset. Such a database is claimed from the warm pool, and may go back to it.
fn resettable(ctx: &Context, template: &Template) -> bool {
    ctx.reuse && template.reference.is_ok()
}

/// How a test's database ends, the one place this is decided: kept as `keep` says for a
/// `failed` test (or any); else reset for reuse when it is `provable` (the test passed, its
/// connections are closed, and it made none of its own, so a reset can prove it clean) and
/// `resettable`; else dropped.
fn ending(keep: Keep, failed: bool, provable: bool, resettable: bool) -> Ending {
    match keep {
        Keep::Always => Ending::Keep,
        Keep::Failed if failed => Ending::Keep,
        _ if !failed && provable && resettable => Ending::Reuse,
        _ => Ending::Drop,
    }
}

/// A database for the test at `test_path`: a clean one from the warm pool if there is one, else a
/// new clone of `template`.
pub(crate) async fn acquire(
    ctx: &'static Context,
    template: &Arc<Template>,
    test_path: &'static str,
) -> Result<TestDb> {
    let mut owner = slot::take(ctx).await?;
    let reusable = resettable(ctx, template);
    let claimed = if reusable {
        claim(ctx, &mut owner, template, test_path).await?
    } else {
        None
    };
    let ready = claimed.as_ref().map(|c| c.others_ready);
    let (name, clean_since, cloning) = match claimed {
        Some(claimed) => (claimed.name, claimed.clean_since, false),
        // A reused database serves many tests, so only a single-use one is named after its test.
        None => {
            let label = if reusable { "" } else { test_path };
            (naming::test_db_name(&template.name, label), None, true)
        }
    };
    let mut db = TestDb {
        name,
        owner,
        template: template.clone(),
        clean_since,
        resettable: reusable,
    };
    if cloning {
        let cloned = clone::clone_into(
            ctx,
            &mut db.owner,
            &template.name,
            template.clone_sql(ctx.dialect()),
            &db.name,
            clone::Made::Test(Some(test_path)),
        )
        .await;
        if let Err(e) = cloned {
            let _ = release(ctx, db, Ending::Drop, test_path).await;
            return Err(e);
        }
    }
    pool::started();
    if template.use_to_record() {
        let _ = registry::touch_with_parents(&mut db.owner, &template.name).await;
    }
    if reusable {
        pool::refill(ctx, template.clone(), ready);
    }
    Ok(db)
}

/// A clean database of `template` from the warm pool, if one is ready or being reset by this
/// process (then it waits for that reset rather than cloning).
async fn claim(
    ctx: &Context,
    owner: &mut MySqlConnection,
    template: &Template,
    test_path: &'static str,
) -> Result<Option<pool::Claimed>> {
    loop {
        // Read before looking, so a reset that ends while this claim looks is not missed.
        let seen = background::resets_ended();
        let claimed = pool::claim(owner, template, test_path)
            .instrument(tracing::debug_span!("claim"))
            .await
            .map_err(|e| {
                db::privileges_hint(
                    e,
                    "claiming a database from the warm pool (the registry `dbtest_registry`)",
                )
            })?;
        // None ready: one this process is resetting will be, sooner than a new clone.
        if claimed.is_some()
            || !background::a_reset_ended(template.name.as_str(), seen, ctx.ddl_timeout).await
        {
            return Ok(claimed);
        }
    }
}

/// How a test database's life ends (chosen by [`TestDb::ending`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Keep it for inspection (`DBTEST_KEEP`).
    Keep,
    /// Put it back to a fresh clone's state and return it to the warm pool, if nothing holds on
    /// to it, the pool has room and the reset proves it clean; else drop it.
    Reuse,
    /// Drop it.
    Drop,
}

/// Ends the test database's life as `ending` says. Either way the owner session ends, which
/// frees its locks. Returns the name of a kept database. A database to reuse is checked for what
/// the test may have left holding on to it ([`pool::may_give_back`]) before this returns, and
/// reset after, in the background (see [`crate::background`]): it stays owned, so unclaimable,
/// until it is back in the pool or dropped.
pub(crate) async fn release(
    ctx: &'static Context,
    db: TestDb,
    ending: Ending,
    test_path: &'static str,
) -> Result<Option<DbName>> {
    let TestDb {
        name,
        mut owner,
        template,
        clean_since,
        ..
    } = db;
    pool::ended();
    let bound = ctx.ddl_timeout + Duration::from_secs(5);
    let ended = db::bounded(
        || format!("ending test database {name}"),
        bound,
        HOLDING,
        async {
            let fail = |e: sqlx::Error| Error::Drop {
                database: name.as_str().to_owned(),
                reason: e.into(),
            };
            match ending {
                Ending::Keep => {
                    return registry::mark_kept(&mut owner, &name)
                        .await
                        .map(|()| End::Kept)
                        .map_err(fail)
                }
                Ending::Reuse => {
                    match pool::may_give_back(ctx, &mut owner, &name, &template, test_path).await {
                        Ok(true) => return Ok(End::Reset),
                        Ok(false) => {}
                        // Not provably clean: dropped below (which fails too if the server is gone).
                        Err(e) => say::dropped(&name, &format!("resetting it failed: {e}")),
                    }
                }
                _ => {}
            }
            registry::drop_database(&mut owner, &name)
                .await
                .map(|()| End::Dropped)
                .map_err(fail)
        },
    )
    .await;
    if let Ok(End::Reset) = ended {
        let of = template.name.as_str().to_owned();
        background::spawn_reset(
            &of,
            bound,
            reset_or_drop(ctx, name, owner, template, clean_since, test_path, bound),
        );
        return Ok(None);
    }
    db::close(owner).await;
    ended.map(|end| matches!(end, End::Kept).then_some(name))
}

/// What a test database may be holding on to, for a bounded wait's message.
const HOLDING: &str = "a connection of the test may still hold a lock on one of its tables, or a prepared XA transaction (XA RECOVER) one of its rows";

/// How [`release`] left a database.
enum End {
    Kept,
    Dropped,
    /// To be reset, in the background.
    Reset,
}

/// Resets database `name` back into the pool, or drops it; after its test, in the background.
/// A failure is said: the test has passed and returned; its database, unowned once `owner`
/// closes and never marked ready, is the sweep's.
async fn reset_or_drop(
    ctx: &'static Context,
    name: DbName,
    mut owner: MySqlConnection,
    template: Arc<Template>,
    clean_since: Option<i64>,
    test_path: &'static str,
    bound: Duration,
) {
    let started = std::time::Instant::now();
    let done = db::bounded(
        || format!("resetting test database {name}"),
        bound,
        "look for a stalled server",
        async {
            match pool::give_back(ctx, &mut owner, &name, &template, clean_since, test_path).await {
                Ok(true) => return Ok(()),
                Ok(false) => {}
                Err(e) => say::dropped(&name, &format!("resetting it failed: {e}")),
            }
            registry::drop_database(&mut owner, &name)
                .await
                .map_err(|e| Error::Drop {
                    database: name.as_str().to_owned(),
                    reason: e.into(),
                })
        },
    )
    .await;
    if let Err(e) = done {
        crate::say::announce(&format!(
            "dbtest: after test {test_path}: {e}; the next sweep removes it"
        ));
    }
    db::close(owner).await;
    say::timing(|| format!("{test_path}\treset\t{}", started.elapsed().as_micros()));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_is_reused_only_after_a_provable_pass_of_a_resettable_template() {
        use Ending::{Drop, Keep as Kept, Reuse};
        // keep, failed, provable, resettable -> ending
        let table = [
            (Keep::Failed, false, true, true, Reuse),
            (Keep::Never, false, true, true, Reuse),
            (Keep::Failed, false, false, true, Drop), // a connection left open, or its own pool
            (Keep::Failed, false, true, false, Drop), // DBTEST_REUSE=never, or clones differ
            (Keep::Failed, true, true, true, Kept),
            (Keep::Never, true, true, true, Drop),
            (Keep::Always, false, true, true, Kept),
            (Keep::Always, true, false, false, Kept),
        ];
        for (keep, failed, provable, resettable, want) in table {
            assert_eq!(
                ending(keep, failed, provable, resettable),
                want,
                "{keep:?} failed={failed} provable={provable} resettable={resettable}"
            );
        }
        // And over every combination: reused only when all three hold.
        for keep in [Keep::Never, Keep::Failed, Keep::Always] {
            for bits in 0..8 {
                let (failed, provable, resettable) = (bits & 1 != 0, bits & 2 != 0, bits & 4 != 0);
                if ending(keep, failed, provable, resettable) == Reuse {
                    assert!(!failed && provable && resettable && keep != Keep::Always);
                }
            }
        }
    }
}
