//! A test database: registered and cloned from the template in one request, owned through an
//! advisory lock named after it for its whole life (taken before the database exists), and at
//! the end dropped — or kept, as `DBTEST_KEEP` says.

use crate::compat;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnection;
use tracing::Instrument;

use crate::config::Settings;
use crate::db;
use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::naming::{self, ident, literal};
use crate::registry::{self, Kind};
use crate::template::Template;
use crate::{reset, sweep, warm};

/// A fixture script, applied to the test's database after cloning.
#[derive(Debug, Clone, Copy)]
pub struct Fixture {
    /// The path as written in (or derived from) the attribute, for messages.
    pub path: &'static str,
    /// The script.
    pub contents: &'static str,
}

/// Everything a test needs to get its database.
#[derive(Debug, Clone, Copy)]
pub struct TestArgs {
    /// `module_path!()::name` of the test.
    pub test_path: &'static str,
    /// The migration source.
    pub migrations: Migrations,
    /// Fixtures, in order.
    pub fixtures: &'static [Fixture],
    /// The test carries `#[should_panic]`: a panic is its success.
    pub should_panic: bool,
    /// `pool_size` from `[*.metadata.dbtest]` in Cargo.toml (overrides `DBTEST_POOL_SIZE`).
    pub pool_size: Option<u32>,
    /// `keep` from Cargo.toml (overrides `DBTEST_KEEP`).
    pub keep: Option<&'static str>,
    /// `url_env` from Cargo.toml: a variable read before `DBTEST_DATABASE_URL`.
    pub url_env: Option<&'static str>,
}

/// A test database and the connection that owns it.
#[derive(Debug)]
pub(crate) struct TestDb {
    pub name: String,
    /// Holds the owner lock and the connection slot; also applies fixtures, resets or drops.
    owner: MySqlConnection,
    template: Arc<Template>,
}

/// A database for the test at `test_path`: a clean one from the warm pool if there is one, else a
/// new clone of `template`; then `fixtures`.
pub(crate) async fn acquire(
    settings: &'static Settings,
    template: &Arc<Template>,
    test_path: &str,
    fixtures: &[Fixture],
) -> Result<TestDb> {
    let mut owner = take_slot(settings).await?;
    let reusable = settings.reuse && template.state.is_some();
    let claimed = if reusable {
        claim(&mut owner, template, test_path)
            .instrument(tracing::debug_span!("claim"))
            .await
            .map_err(|e| db::privileges_hint(e, "claiming a database from the warm pool"))?
    } else {
        None
    };
    let name = match claimed {
        Some(name) => name,
        None => {
            // A reused database serves many tests, so only a single-use one is named after its test.
            let label = if reusable { "" } else { test_path };
            let name = naming::test_db_name(&template.name, label);
            if let Err(e) = clone_into(settings, &mut owner, template, &name, Some(test_path)).await
            {
                let _ = release(
                    settings,
                    TestDb {
                        name,
                        owner,
                        template: template.clone(),
                    },
                    Ending::Drop,
                )
                .await;
                return Err(e);
            }
            name
        }
    };
    warm::started();
    if reusable {
        warm::refill(settings, template.clone());
    }
    let mut db = TestDb {
        name,
        owner,
        template: template.clone(),
    };
    for fixture in fixtures {
        let applied = db::bounded(
            || format!("fixture `{}` on `{}`", fixture.path, db.name),
            settings.ddl_timeout,
            "raise DBTEST_DDL_TIMEOUT, or look for a stalled server",
            async {
                sqlx::raw_sql(fixture.contents)
                    .execute(&mut db.owner)
                    .await
                    .map(drop)
                    .map_err(|e| Error::Fixture {
                        fixture: fixture.path.to_owned(),
                        database: db.name.clone(),
                        reason: e.to_string(),
                    })
            },
        )
        .await;
        if let Err(err) = applied {
            let _ = release(settings, db, Ending::Drop).await;
            return Err(err);
        }
    }
    Ok(db)
}

/// Creates database `name` as a clone of `template` on `owner`, which takes its owner lock first
/// (a database of ours whose lock is free has no live owner) and ends with it as its default
/// database.
pub(crate) async fn clone_into(
    settings: &Settings,
    owner: &mut MySqlConnection,
    template: &Template,
    name: &str,
    test_path: Option<&str>,
) -> Result<()> {
    let sql = format!(
        "DO GET_LOCK({lock}, 0); {register}; CREATE DATABASE {db}; USE {db};\n{script}",
        lock = literal(name).expect("generated names are plain"),
        register = registry::register_sql(name, Kind::Test, test_path, Some(&template.name)),
        db = ident(name),
        script = template.script,
    );
    db::bounded(
        || {
            format!(
                "creating test database `{name}` from template `{}`",
                template.name
            )
        },
        settings.ddl_timeout,
        "raise DBTEST_DDL_TIMEOUT, or look for a stalled server",
        async {
            compat::raw_sql(&sql)
                .execute(&mut *owner)
                .await
                .map(drop)
                .map_err(|e| {
                    db::refused_or(e, "creating a test database", |e| Error::Clone {
                        database: name.to_owned(),
                        template: template.name.clone(),
                        reason: e.to_string(),
                    })
                })
        },
    )
    .instrument(tracing::debug_span!("clone", database = name))
    .await
}

/// Makes a clean clone `name` of `template` and puts it in the warm pool.
pub(crate) async fn make_ready(settings: &Settings, template: &Template, name: &str) -> Result<()> {
    let mut owner = take_slot(settings).await?;
    let made = match clone_into(settings, &mut owner, template, name, None).await {
        Ok(()) => registry::mark_ready(&mut owner, name)
            .await
            .map_err(|e| db::privileges_hint(e, "filling the warm pool")),
        Err(e) => Err(e),
    };
    if made.is_err() {
        let _ = compat::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {}; {}",
            ident(name),
            registry::unregister_sql(name)
        ))
        .execute(&mut owner)
        .await;
    }
    db::close(owner).await;
    made
}

/// Takes a clean database of `template` from the warm pool: its owner lock (atomic on the
/// server, so two processes never get the same one), then its registry row.
async fn claim(
    owner: &mut MySqlConnection,
    template: &Template,
    test_path: &str,
) -> Result<Option<String>, sqlx::Error> {
    let candidates = registry::ready_candidates(owner, &template.name, 8).await?;
    if candidates.is_empty() {
        return Ok(None);
    }
    let arms: String = candidates
        .iter()
        .filter_map(|n| literal(n))
        .map(|n| format!(" WHEN GET_LOCK({n}, 0) = 1 THEN {n}"))
        .collect();
    let row = compat::query(&format!("SELECT CASE{arms} ELSE NULL END"))
        .fetch_one(&mut *owner)
        .await?;
    let got = db::text(&row, 0)?;
    let Some(name) = got else { return Ok(None) };
    if !registry::claim(owner, &name, test_path).await? {
        // Swept or claimed between the listing and the lock: not ours after all.
        db::release_lock(owner, &name).await?;
        return Ok(None);
    }
    compat::raw_sql(&format!("USE {}", ident(&name)))
        .execute(&mut *owner)
        .await?;
    Ok(Some(name))
}

/// Opens the owner connection of a new test and takes a connection slot on it: at most
/// [`Settings::slots`] tests run at once across every process using the server, so their
/// connections stay within the budget (no "Too many connections"). The slot is an advisory lock
/// of the owner session, freed when the session ends, however it ends. Waiting holds no
/// connection.
async fn take_slot(settings: &Settings) -> Result<MySqlConnection> {
    let server_max = crate::sweep::server_max_connections();
    let (budget, slots) = settings.slots(server_max);
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
    let try_all = format!("SELECT CASE{arms} ELSE NULL END");
    let started = Instant::now();
    let mut pause = Duration::from_millis(10);
    loop {
        let mut conn = db::connect(settings, None).await?;
        let got: Option<i64> = compat::query_scalar(&try_all)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| db::privileges_hint(e, "taking a connection slot"))?;
        if got.is_some() {
            compat::raw_sql(&format!(
                "SET SESSION lock_wait_timeout = {}",
                settings.ddl_timeout.as_secs().max(1)
            ))
            .execute(&mut conn)
            .await
            .map_err(|e| db::privileges_hint(e, "setting up a test session"))?;
            return Ok(conn);
        }
        db::close(conn).await;
        if started.elapsed() >= settings.slot_timeout {
            return Err(Error::NoSlot {
                waited: started.elapsed(),
                slots,
                budget,
                per_test: settings.connections_per_test(),
                server_max,
            });
        }
        tokio::time::sleep(pause + Duration::from_millis(u64::from(naming::random_u32() % 10)))
            .await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

/// How a test database's life ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Ending {
    /// Keep it for inspection (`DBTEST_KEEP`).
    Keep,
    /// Put it back to the template's state and return it to the warm pool, if that can be proven
    /// clean and the pool has room; else drop it.
    Reuse,
    /// Drop it.
    Drop,
}

/// Ends the test database's life as `ending` says. Either way the owner session ends, which
/// frees its locks. Returns the name of a kept database.
pub(crate) async fn release(
    settings: &Settings,
    db: TestDb,
    ending: Ending,
) -> Result<Option<String>> {
    let TestDb {
        name,
        mut owner,
        template,
    } = db;
    warm::ended();
    debug_assert!(naming::is_generated(&name));
    let ended = db::bounded(
        || format!("ending test database `{name}`"),
        settings.ddl_timeout + Duration::from_secs(5),
        "a connection of the test may still hold a lock on one of its tables",
        async {
            let fail = |e: sqlx::Error| Error::Drop {
                database: name.clone(),
                reason: e.to_string(),
            };
            match ending {
                Ending::Keep => {
                    return registry::mark_kept(&mut owner, &name)
                        .await
                        .map(|()| true)
                        .map_err(fail)
                }
                Ending::Reuse if settings.reuse => {
                    if let Some(state) = &template.state {
                        if registry::ready_count(&mut owner, &template.name)
                            .await
                            .map_err(fail)?
                            < i64::from(settings.warm_max)
                        {
                            reset::prepare_session(&mut owner, sweep::server_is_mariadb())
                                .await
                                .map_err(fail)?;
                            let reset = reset::reset(&mut owner, &name, state, &template.copies)
                                .await
                                .map_err(fail)?;
                            if let Err(why) = reset {
                                tracing::debug!(database = %name, why, "dropped, not reset");
                                if matches!(
                                    std::env::var("DBTEST_LOG").as_deref(),
                                    Ok("debug" | "trace")
                                ) {
                                    eprintln!("dbtest: `{name}` is dropped, not reset: {why}");
                                }
                            } else {
                                registry::mark_ready(&mut owner, &name)
                                    .await
                                    .map_err(fail)?;
                                return Ok(false);
                            }
                        }
                    }
                }
                _ => {}
            }
            compat::raw_sql(&format!(
                "DROP DATABASE IF EXISTS {}; {}",
                ident(&name),
                registry::unregister_sql(&name)
            ))
            .execute(&mut owner)
            .await
            .map(|_| false)
            .map_err(fail)
        },
    )
    .await;
    db::close(owner).await;
    ended.map(|kept| kept.then_some(name))
}
