//! A test database: registered and cloned from the template in one request, owned through an
//! advisory lock named after it for its whole life (taken before the database exists), and at
//! the end dropped — or kept, as `DBTEST_KEEP` says.

use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnection;

use crate::config::Settings;
use crate::db;
use crate::error::{Error, Result};
use crate::migrations::Migrations;
use crate::naming::{self, ident, literal};
use crate::registry::{self, Kind};
use crate::template::Template;

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
}

/// A test database and the connection that owns it.
#[derive(Debug)]
pub(crate) struct TestDb {
    pub name: String,
    /// Holds the owner lock; also applies fixtures and drops the database.
    owner: MySqlConnection,
}

/// Clones `template` into a new database for the test at `test_path` and applies `fixtures`.
pub(crate) async fn acquire(
    settings: &Settings,
    template: &Template,
    test_path: &str,
    fixtures: &[Fixture],
) -> Result<TestDb> {
    let name = naming::test_db_name(&template.name, test_path);
    let mut owner = take_slot(settings).await?;
    // The owner lock comes first: a database of ours whose lock is free has no live owner.
    let sql = format!(
        "SET SESSION lock_wait_timeout = {wait}; DO GET_LOCK({lock}, 0); {register}; \
         CREATE DATABASE {db}; USE {db};\n{script}",
        wait = settings.ddl_timeout.as_secs().max(1),
        lock = literal(&name).expect("generated names are plain"),
        register = registry::register_sql(&name, Kind::Test, Some(test_path)),
        db = ident(&name),
        script = template.script,
    );
    let cloned = db::bounded(
        || {
            format!(
                "creating test database `{name}` from template `{}`",
                template.name
            )
        },
        settings.ddl_timeout,
        "raise DBTEST_DDL_TIMEOUT, or look for a stalled server",
        async {
            sqlx::raw_sql(&sql)
                .execute(&mut owner)
                .await
                .map(drop)
                .map_err(|e| {
                    db::refused_or(e, "creating a test database", |e| Error::Clone {
                        database: name.clone(),
                        template: template.name.clone(),
                        reason: e.to_string(),
                    })
                })
        },
    )
    .await;
    let mut db = TestDb { name, owner };
    if let Err(e) = cloned {
        let _ = release(settings, db, false).await;
        return Err(e);
    }
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
            let _ = release(settings, db, false).await;
            return Err(err);
        }
    }
    Ok(db)
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
        let got: Option<i64> = sqlx::query_scalar(&try_all)
            .fetch_one(&mut conn)
            .await
            .map_err(|e| db::privileges_hint(e, "taking a connection slot"))?;
        if got.is_some() {
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

/// Ends the test database's life: drops it (and its registry row), or with `keep` marks it kept
/// for the sweep's retention rules. Either way the owner session ends, which frees the owner
/// lock. Returns the name of a kept database.
pub(crate) async fn release(settings: &Settings, db: TestDb, keep: bool) -> Result<Option<String>> {
    let TestDb { name, mut owner } = db;
    debug_assert!(naming::is_generated(&name));
    let ended = db::bounded(
        || format!("dropping test database `{name}`"),
        settings.ddl_timeout + Duration::from_secs(5),
        "a connection of the test may still hold a lock on one of its tables",
        async {
            if keep {
                registry::mark_kept(&mut owner, &name).await
            } else {
                sqlx::raw_sql(&format!(
                    "DROP DATABASE IF EXISTS {}; {}",
                    ident(&name),
                    registry::unregister_sql(&name)
                ))
                .execute(&mut owner)
                .await
                .map(drop)
            }
            .map_err(|e| Error::Drop {
                database: name.clone(),
                reason: e.to_string(),
            })
        },
    )
    .await;
    db::close(owner).await;
    ended.map(|()| keep.then_some(name))
}
