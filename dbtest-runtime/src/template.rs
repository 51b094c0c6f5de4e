//! The template of a migration set, or a derived template (a [`Layer`] built on a clone of the
//! template below it): built once per server under an advisory lock, ready only when its marker
//! says so, and looked up once per process (a failed build is cached too).
//!
//! ```text
//! GET_LOCK(template, DBTEST_LOCK_TIMEOUT) on one pinned connection (a sweep drops a template
//!      │                                  only under it)
//!      ├─ probe the marker ──ready──▶ record the use, done (the warm path)
//!      └─ not ready: DROP half-built leftovers, then CREATE and migrate (or, for a derived
//!         template, ensure the template below, clone it and apply the layer), read the clone
//!         script, make two clones and read their state (the reference a reset must reproduce),
//!         write the marker and its seal (last), put the clones in the warm pool, RELEASE_LOCK
//! ```
//!
//! A derived template is probed first: a process that finds it ready never looks at the
//! templates below it.
//!
//! The marker holds SQL that later runs execute (the clone script), in a database every account
//! with the grant on `dbtest\_%` may write. So each account has templates of its own (the name
//! is keyed by `CURRENT_USER()`), and a marker is used only when it is sealed by this account: a
//! view, `_dbtest_seal`, holding the SHA-256 of the marker's row, whose `DEFINER` the server sets
//! to the account that made it. Another account can neither make nor alter a view in this
//! account's name without `SUPER` / `SET USER` (MariaDB) or `SET_USER_ID` / `SET_ANY_DEFINER`
//! (MySQL), which only administrators hold; a marker changed by one, or a seal replaced, is a
//! template that is not ready: it is built again.

use crate::compat;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::mysql::MySqlConnection;
use sqlx::Row;

use crate::compat::text;
use crate::context::Context;
use crate::db;
use crate::dialect::Server;
use crate::error::{Cause, Error, Result};
use crate::layer::{Layer, Sessions};
use crate::migrations::{MigrationSet, Migrations, FORMAT_VERSION};
use crate::naming::{self, ident, DbName};
use crate::registry::{self, Kind};
use crate::snapshot::{self, Script, MARKER_TABLE, NOT_A_VIEW};
use crate::{clone, reset, say};

/// A ready template, the script that clones it, and what resetting a clone needs.
#[derive(Debug)]
pub(crate) struct Template {
    pub name: DbName,
    pub script: Script,
    /// `script` rendered as the statements a clone runs, when first needed (a process served
    /// from the warm pool may never clone).
    clone_sql: std::sync::OnceLock<String>,
    /// What a reset needs to know of `script`'s tables.
    pub shapes: reset::Shapes,
    /// The state of a fresh clone, which a reset must reproduce; or why its clones cannot be
    /// reset (they are dropped after each test instead).
    pub reference: Result<reset::State, String>,
    /// When this process last recorded a use of it (see [`Template::use_to_record`]).
    recorded: std::sync::Mutex<std::time::Instant>,
}

impl Template {
    fn new(name: &DbName, script: Script, reference: Result<reset::State, String>) -> Template {
        Template {
            name: name.clone(),
            clone_sql: std::sync::OnceLock::new(),
            shapes: reset::Shapes::of(&script),
            script,
            reference,
            recorded: std::sync::Mutex::new(std::time::Instant::now()),
        }
    }

    /// Whether this process should record its use of the template again: it does when it first
    /// looks it up, and again every [`RECORD_USE_EVERY`] while its tests go on, so that a sweep
    /// (by TTL, or of a superseded setup's template) never takes it for unused.
    pub fn use_to_record(&self) -> bool {
        let mut recorded = self.recorded.lock().unwrap_or_else(|p| p.into_inner());
        let due = recorded.elapsed() >= RECORD_USE_EVERY;
        if due {
            *recorded = std::time::Instant::now();
        }
        due
    }

    /// The statements that clone this template on `server`.
    pub fn clone_sql(&self, server: &Server) -> &str {
        self.clone_sql
            .get_or_init(|| self.script.clone_sql(&self.name, &server.restore_session))
    }
}

/// How often a process records again that it uses a template (see [`Template::use_to_record`]).
const RECORD_USE_EVERY: Duration = Duration::from_secs(300);

/// Where a process keeps the template of one migration source, in its [`Context`].
type Cell = tokio::sync::OnceCell<Result<Arc<Template>, Arc<Error>>>;

/// What a template is built from.
enum Source<'a> {
    /// Migrations, on an empty database.
    Migrations(&'a MigrationSet),
    /// `layer`, on a clone of `parent`.
    Layer {
        parent: &'a Template,
        layer: &'a Layer,
    },
}

/// The template of `base` with `layers` built on it (bottom up), built if need be; once per
/// process for each.
///
/// Tests run on runtimes of their own, so the cell holds no connection: only the template's name
/// and script, or the error every later test of this process reports at once.
pub(crate) async fn ensure(
    ctx: &'static Context,
    base: Migrations,
    layers: &[Layer],
) -> Result<Arc<Template>, Arc<Error>> {
    let cell = layers
        .iter()
        .fold(format!("template:{}", base.cache_key()), |key, layer| {
            format!("{key}+{}", layer.key())
        });
    ctx.cell::<Cell>(&cell)
        .get_or_init(|| async {
        let set = MigrationSet::load(base).await.map_err(Arc::new)?;
        let key = layers.iter().fold(set.key.clone(), |key, layer| layer.derive(&key));
        let template = match layers.split_last() {
            None => build_or_fetch(ctx, &key, Some(&Source::Migrations(&set))).await,
            // A derived template found ready needs nothing below it. Else the template below is
            // ensured first, under its own lock and bounds (its build, if it needs one, is killed
            // and cleaned up by its own timeout), and only then is this one built.
            Some((layer, below)) => match build_or_fetch(ctx, &key, None).await {
                Ok(None) => {
                    let parent = Box::pin(ensure(ctx, base, below)).await?;
                    let source = Source::Layer { parent: &parent, layer };
                    build_or_fetch(ctx, &key, Some(&source)).await
                }
                other => other,
            },
        }
        .map_err(Arc::new)?
        .ok_or_else(|| Arc::new(Error::Template {
            template: key.clone(),
            action: "building",
            reason: "it was not built".into(),
        }))?;
        if let (Err(why), true) = (&template.reference, ctx.reuse) {
            say::once(
                template.name.as_str(),
                &format!(
                    "dbtest: template {}: test databases are dropped after each test, not reset and reused: {why}",
                    template.name
                ),
            );
        }
        Ok(Arc::new(template))
    })
    .await
    .clone()
}

/// The view that seals a template's ready marker.
const SEAL: &str = "_dbtest_seal";

/// The key of the template of migration set `key` for server account `account`: accounts do not
/// share templates (each trusts only the markers it sealed).
fn account_key(key: &str, account: &str) -> String {
    let mut h = Sha256::new();
    h.update(format!("{key}\naccount {account}\n"));
    crate::naming::hex(&h.finalize())
}

/// The template keyed `key` (before the account is added), built from `source` if it is not
/// ready; with no source, only if it is ready.
async fn build_or_fetch(
    ctx: &'static Context,
    key: &str,
    source: Option<&Source<'_>>,
) -> Result<Option<Template>> {
    let mut conn = db::connect(ctx, None).await?;
    // The migrations run on this session: their lock waits are the build's.
    db::set_lock_wait(&mut conn, ctx.build_timeout)
        .await
        .map_err(|e| db::privileges_hint(e, "setting up the template's session"))?;
    let (session, account): (u64, String) =
        sqlx::query_as("SELECT CONNECTION_ID(), CONVERT(CURRENT_USER() USING utf8mb4)")
            .fetch_one(&mut conn)
            .await
            .map_err(|e| db::privileges_hint(e, "identifying the server account"))?;
    // The build's sessions, killed if it gets stuck: this one, and a setup's.
    let sessions = Sessions::default();
    sessions.add(session);
    let name = naming::template_name(&account_key(key, &account));
    // Ready or not, it is looked at under the template lock: a sweep drops an unused template
    // only under that lock, so one found ready here stays until its use is recorded.
    db::get_lock(&mut conn, name.as_str(), ctx.lock_timeout, name.as_str()).await?;
    let built = tokio::time::timeout(ctx.build_timeout, async {
        match probe(&mut conn, &name, key).await? {
            Some(t) => {
                // For template GC: this template is in use. Its lock waits are a test's now, not
                // a build's (another session's lock on the registry must not hold it for long).
                if db::set_lock_wait(&mut conn, ctx.ddl_timeout).await.is_ok() {
                    let _ = registry::touch_with_parents(&mut conn, &name).await;
                }
                Ok(Some(t))
            }
            None => match source {
                Some(source) => build(ctx, &mut conn, &name, key, source, &sessions)
                    .await
                    .map(Some),
                None => Ok(None),
            },
        }
    })
    .await;
    match built {
        Ok(result) => {
            let _ = db::release_lock(&mut conn, name.as_str()).await;
            db::close(conn).await;
            result
        }
        Err(_) => {
            // The build is stuck (a migration waiting on a lock, a stalled server): end its
            // session, which frees the template lock, then remove what it left.
            drop(conn);
            abandon_build(ctx, &name, key, &sessions.all()).await;
            let (what, hint) = match source {
                Some(Source::Layer { layer, .. }) => (
                    format!("applying {}", layer.describe()),
                    "raise DBTEST_BUILD_TIMEOUT, or look for a setup or fixture that waits (on a lock: SHOW PROCESSLIST)",
                ),
                Some(source) => (
                    source.describe(),
                    "raise DBTEST_BUILD_TIMEOUT, or look for a migration that waits on a lock (SHOW PROCESSLIST)",
                ),
                None => (
                    "looking for it".to_owned(),
                    "raise DBTEST_BUILD_TIMEOUT, or look for a stalled server",
                ),
            };
            Err(Error::Timeout {
                what: format!("building template {name} ({what}, and reading the result)"),
                bound: ctx.build_timeout,
                hint,
            })
        }
    }
}

/// Kills the sessions of a stuck build and drops its unfinished template under the template lock.
async fn abandon_build(ctx: &Context, name: &DbName, key: &str, sessions: &[u64]) {
    let Ok(mut conn) = db::connect(ctx, None).await else {
        return;
    };
    for id in sessions {
        let _ = compat::query(&format!("KILL {id}"))
            .execute(&mut conn)
            .await;
    }
    if db::get_lock(
        &mut conn,
        name.as_str(),
        Duration::from_secs(10),
        name.as_str(),
    )
    .await
    .is_ok()
    {
        if let Ok(None) = probe(&mut conn, name, key).await {
            let _ = registry::drop_database(&mut conn, name).await;
        }
        let _ = db::release_lock(&mut conn, name.as_str()).await;
    }
    db::close(conn).await;
}

/// The template `name`, if its marker says it is ready for migration set `key` and is sealed by
/// this account.
async fn probe(conn: &mut MySqlConnection, name: &DbName, key: &str) -> Result<Option<Template>> {
    // `USE INDEX ()` is refused for a view: a marker replaced by a view is never read through it
    // (a view's functions would run with this account's privileges). The definer is compared
    // byte for byte: under the column's collation `ZZ`@`h` would equal `zz`@`h`.
    // The server works out the row's digest as `seal_digest` does (0x1f2d311f is "\x1f-1\x1f"):
    // in a debug build, hashing the script and state here would be most of the probe.
    let sql = format!(
        "SELECT m.format_version, m.migration_key, m.script, m.state, m.no_reset, \
         (SELECT CONVERT(v.VIEW_DEFINITION USING utf8mb4) FROM information_schema.VIEWS AS v \
          WHERE v.TABLE_SCHEMA = ? AND v.TABLE_NAME = ? \
          AND CAST(v.DEFINER AS BINARY) = CAST(CURRENT_USER() AS BINARY)), \
         CONVERT(SHA2(CONCAT(m.format_version, 0x1f, m.migration_key, \
           0x1f, LENGTH(m.script), 0x1f, m.script, \
           IF(m.state IS NULL, 0x1f2d311f, CONCAT(0x1f, LENGTH(m.state), 0x1f, m.state)), \
           IF(m.no_reset IS NULL, 0x1f2d311f, CONCAT(0x1f, LENGTH(m.no_reset), 0x1f, m.no_reset))), \
           256) USING utf8mb4) \
         FROM {}.{} AS m USE INDEX () WHERE m.id = 1",
        name,
        ident(MARKER_TABLE)
    );
    let row = match compat::query(&sql)
        .bind(name.as_str())
        .bind(SEAL)
        .fetch_optional(&mut *conn)
        .await
    {
        Ok(row) => row,
        // Unknown database, unknown table: not built (or not finished).
        Err(e) if matches!(crate::compat::server_code(&e), Some(1049 | 1146)) => None,
        // The marker is a view: not one dbtest made.
        Err(e) if crate::compat::server_code(&e) == Some(1176) => {
            return Ok(unsealed(name, "is a view"))
        }
        Err(e) => return Err(failed(name, "reading the ready marker")(e)),
    };
    let Some(row) = row else { return Ok(None) };
    let read = || -> Result<_, sqlx::Error> {
        Ok((
            row.try_get_unchecked::<i64, _>(0)?,
            text(&row, 1)?.unwrap_or_default(),
            text(&row, 2)?.unwrap_or_default(),
            text(&row, 3)?,
            text(&row, 4)?,
            text(&row, 5)?,
            text(&row, 6)?,
        ))
    };
    let (format, marker_key, script, state, no_reset, seal, digest) =
        read().map_err(failed(name, "reading the ready marker"))?;
    if format != i64::from(FORMAT_VERSION) || marker_key != key {
        return Ok(None);
    }
    // NULL when the row is longer than the server's max_allowed_packet: hashed here then.
    let digest = digest.map(|d| d.to_ascii_lowercase()).unwrap_or_else(|| {
        seal_digest(
            format,
            &marker_key,
            &script,
            state.as_deref(),
            no_reset.as_deref(),
        )
    });
    match seal {
        None => return Ok(unsealed(name, "has no seal made by this account")),
        Some(view) if !view.contains(&format!("'{digest}'")) => {
            return Ok(unsealed(name, "does not match its seal"))
        }
        Some(_) => {}
    }
    let script = Script::decode(&script).ok_or_else(|| Error::Template {
        template: name.as_str().to_owned(),
        action: "reading the ready marker",
        reason:
            "its clone script is not one dbtest wrote; drop the template (`dbtest clean --all`)"
                .into(),
    })?;
    let reference = match (state.as_deref().map(reset::State::decode), no_reset) {
        (Some(Some(state)), _) => Ok(state),
        (_, Some(why)) => Err(why),
        _ => Err("its marker holds no reference state".into()),
    };
    Ok(Some(Template::new(name, script, reference)))
}

/// Says why the marker of template `name` is not trusted (it is then built again).
fn unsealed(name: &DbName, why: &str) -> Option<Template> {
    say::once(
        &format!("{name} seal"),
        &format!(
            "dbtest: template {name}: its ready marker {why} (changed by another account, or a build that stopped short?); building it again"
        ),
    );
    None
}

/// The digest a marker's seal holds: SHA-256 over the marker's row, each text field after its
/// length in bytes (-1 for NULL), fields separated by 0x1f.
fn seal_digest(
    format: i64,
    key: &str,
    script: &str,
    state: Option<&str>,
    no_reset: Option<&str>,
) -> String {
    let mut h = Sha256::new();
    h.update(format!("{format}\x1f{key}"));
    for field in [Some(script), state, no_reset] {
        match field {
            Some(text) => {
                h.update(format!("\x1f{}\x1f", text.len()));
                h.update(text);
            }
            None => h.update("\x1f-1\x1f"),
        }
    }
    crate::naming::hex(&h.finalize())
}

/// Why ready template `name`'s test databases are dropped after each test instead of being reset
/// and reused; `None` when they are reset.
pub(crate) async fn no_reset(conn: &mut MySqlConnection, name: &DbName) -> Option<String> {
    let marker = format!("{}.{} USE INDEX ()", name, ident(MARKER_TABLE));
    let format: Result<Option<i64>, _> =
        compat::query_scalar(&format!("SELECT format_version FROM {marker} WHERE id = 1"))
            .fetch_optional(&mut *conn)
            .await;
    match format {
        Ok(Some(f)) if f == i64::from(FORMAT_VERSION) => {}
        Ok(Some(f)) => return Some(format!("built by another version of dbtest (format {f})")),
        Ok(None) => return Some("its ready marker is empty".into()),
        Err(e) => return Some(format!("its ready marker could not be read ({e})")),
    }
    let row = compat::query(&format!(
        "SELECT no_reset, state IS NOT NULL FROM {marker} WHERE id = 1"
    ))
    .fetch_one(&mut *conn)
    .await;
    match row {
        Ok(row) => match row.try_get_unchecked::<i64, _>(1) {
            Ok(1) => None,
            _ => Some(
                text(&row, 0)
                    .ok()
                    .flatten()
                    .unwrap_or_else(|| "its marker holds no reference state".into()),
            ),
        },
        Err(e) => Some(format!("its ready marker could not be read ({e})")),
    }
}

impl Source<'_> {
    /// What building from this source does, for messages.
    fn describe(&self) -> String {
        match self {
            Source::Migrations(set) => format!("running {} migrations", set.len()),
            Source::Layer { layer, .. } => format!("applying {}", layer.describe()),
        }
    }
}

/// Builds template `name` (keyed `key`) from scratch; a failed build is dropped again (it could
/// never become ready). The caller holds the template lock on `conn`.
async fn build(
    ctx: &'static Context,
    conn: &mut MySqlConnection,
    name: &DbName,
    key: &str,
    source: &Source<'_>,
    sessions: &Sessions,
) -> Result<Template> {
    // A database of this name that the registry does not list was not made by dbtest: leave it.
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(name.as_str())
    .fetch_one(&mut *conn)
    .await
    .map_err(failed(name, "looking for an unfinished build"))?;
    if exists > 0
        && !registry::is_registered(conn, name)
            .await
            .map_err(failed(name, "reading the registry"))?
    {
        return Err(Error::Template {
            template: name.as_str().to_owned(),
            action: "building",
            reason: "a database of this name exists but dbtest's registry does not list it; dbtest never \
                     drops a database it did not create: drop or rename it by hand"
                .into(),
        });
    }
    if let Source::Migrations(set) = source {
        // A directory's migrations are read now: one sqlx cannot read fails before anything is
        // made.
        set.migrator().await?;
    }
    // A derived template says so: "built template" is a build of migrations, which a run of a
    // workspace makes once.
    let kind = match source {
        Source::Migrations(_) => "template",
        Source::Layer { .. } => "derived template",
    };
    say::debug(|| format!("building {kind} {name} ({})", source.describe()));
    let started = std::time::Instant::now();
    let built = build_steps(ctx, conn, name, key, source, sessions).await;
    match built {
        Ok((template, what)) => {
            // The one line a run prints about its template: when it had to build it.
            crate::say::announce(&format!(
                "dbtest: built {kind} {name} ({what}) in {:.0?}",
                started.elapsed()
            ));
            Ok(template)
        }
        Err(e) => {
            let _ = registry::drop_database(conn, name).await;
            Err(e)
        }
    }
}

/// Maps a failure of `action` on template `name` to [`Error::Template`].
fn failed<'a, E: Into<Cause>>(
    name: &'a DbName,
    action: &'static str,
) -> impl FnOnce(E) -> Error + 'a {
    move |e| Error::Template {
        template: name.as_str().to_owned(),
        action,
        reason: e.into(),
    }
}

async fn build_steps(
    ctx: &'static Context,
    lock_conn: &mut MySqlConnection,
    name: &DbName,
    key: &str,
    source: &Source<'_>,
    sessions: &Sessions,
) -> Result<(Template, String)> {
    // Whatever is there is a build that died before its marker: ours, and safe to replace.
    // The migrations (or the layer) run on the pinned connection that holds the lock, so a
    // process waiting for the lock sees what the build is doing.
    // What was built, for the line that says so.
    let what = match source {
        Source::Migrations(set) => {
            compat::raw_sql(&format!(
                "{register}; DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; USE {db}",
                register = registry::register_sql(name, Kind::Template, None, None),
                db = name
            ))
            .execute(&mut *lock_conn)
            .await
            .map_err(|e| {
                db::refused_or(
                    e,
                    "creating a template database",
                    failed(name, "creating the template database"),
                )
            })?;
            set.run(lock_conn, name).await?;
            format!("{} migrations", set.len())
        }
        Source::Layer { parent, layer } => {
            let made = clone::Made::Template {
                layer: &layer.label(),
            };
            clone::clone_into(
                ctx,
                lock_conn,
                &parent.name,
                parent.clone_sql(ctx.dialect()),
                name,
                made,
            )
            .await?;
            layer.apply(ctx, lock_conn, name, sessions).await?;
            format!("{} on template {}", layer.describe(), parent.name)
        }
    };
    disable_events(lock_conn, name).await.map_err(|e| {
        db::refused_or(
            e,
            "disabling the template's events",
            failed(name, "disabling its events"),
        )
    })?;

    // The template is read on a fresh connection: whatever session state the migrations left
    // behind (sql_mode, foreign_key_checks, …) must not change how it is read.
    let mut conn = db::connect(ctx, None).await?;
    let marked = read_and_mark(ctx, &mut conn, name, key).await;
    db::close(conn).await;
    marked.map(|template| (template, what))
}

/// Disables every event of template `name`, so that neither it nor any clone runs one: an event
/// that ran in a test database would change its rows under the test (and its reset would never
/// settle), whenever the server's `event_scheduler` is on (MySQL 8's default; MariaDB's is off).
/// Their definitions are otherwise copied as they are; a test that wants one to run enables it
/// (`ALTER EVENT … ENABLE`), which is a change of schema: its database is dropped afterwards.
async fn disable_events(conn: &mut MySqlConnection, name: &DbName) -> Result<(), sqlx::Error> {
    let events: Vec<(String, String)> = sqlx::query_as(
        "SELECT CONVERT(EVENT_NAME USING utf8mb4), CONVERT(DEFINER USING utf8mb4) \
         FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? AND STATUS <> 'DISABLED' ORDER BY EVENT_NAME",
    )
    .bind(name.as_str())
    .fetch_all(&mut *conn)
    .await?;
    for (event, definer) in events {
        // With its own definer: `ALTER EVENT` alone makes the event this account's (another
        // account's event, slipped into the template, would become one that runs as this one).
        let (user, host) = definer.rsplit_once('@').unwrap_or((&definer, ""));
        compat::raw_sql(&format!(
            "ALTER DEFINER = {}@{} EVENT {}.{} DISABLE",
            ident(user),
            ident(host),
            name,
            ident(&event)
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

/// Reads the template's clone script, makes two clones to learn the reference state of a fresh
/// clone, writes the ready marker, and puts the clones in the warm pool.
async fn read_and_mark(
    ctx: &Context,
    conn: &mut MySqlConnection,
    name: &DbName,
    key: &str,
) -> Result<Template> {
    let script = snapshot::read(conn, name, ctx.dialect())
        .await
        .map_err(failed(name, "reading the template"))?;
    let mut template = Template::new(name, script, Err(String::new()));
    let clones = [
        naming::test_db_name(name, ""),
        naming::test_db_name(name, ""),
    ];
    // The second clone's owner: kept open until both clones are in the pool or dropped. Without
    // one (the server refuses another connection) both are made on `conn`, one after the other.
    let mut second = db::connect(ctx, None).await.ok();
    let reference = reference_state(ctx, conn, second.as_mut(), &template, &clones).await;
    let made = match reference {
        Ok(reference) => {
            template.reference = reference;
            write_marker(conn, &template, key).await
        }
        Err(e) => Err(e),
    };
    // The clones are fresh: the warm pool's, when it takes them.
    let pool = made.is_ok() && ctx.reuse && template.reference.is_ok();
    for (i, clone) in clones.iter().enumerate() {
        let kept = pool
            && (i as u32) < ctx.warm_max
            && registry::mark_ready(conn, clone, None).await.is_ok();
        if !kept {
            let _ = registry::drop_database(conn, clone).await;
        }
    }
    if let Some(second) = second {
        db::close(second).await;
    }
    made.map(|()| template)
}

/// Clones `template` twice (as `clones`, the first owned by `conn`, the second by `second`, or by
/// `conn` too when there is no second session) and reads both: the state of the first is what a
/// reset must reproduce; where the two differ, clones differ by nature and cannot be reset (the
/// `Err` says which object). With two sessions both clones are made at once: a clone is mostly
/// the server's file work (a template build of `examples/bench`, on disk, took about 0.2 s
/// less in 3 of 4 alternating pairs).
async fn reference_state(
    ctx: &Context,
    conn: &mut MySqlConnection,
    second: Option<&mut MySqlConnection>,
    template: &Template,
    clones: &[DbName; 2],
) -> Result<Result<reset::State, String>> {
    let (first, other) = match second {
        Some(second) => tokio::join!(
            clone_and_read(ctx, conn, template, &clones[0]),
            clone_and_read(ctx, second, template, &clones[1]),
        ),
        None => {
            let first = clone_and_read(ctx, conn, template, &clones[0]).await;
            (first, clone_and_read(ctx, conn, template, &clones[1]).await)
        }
    };
    let (first, other) = match (first?, other?) {
        (Ok(first), Ok(other)) => (first, other),
        (Err(e), _) | (_, Err(e)) => {
            return Ok(Err(format!(
                "the state of a fresh clone could not be read ({e})"
            )))
        }
    };
    Ok(match other.difference(&first, None) {
        None => Ok(first),
        Some(what) => Err(format!(
            "two fresh clones differ ({what}), so a reset clone cannot be proven equal to a fresh one"
        )),
    })
}

/// Clones `template` as `clone`, owned by `conn`, and reads its state (`Err`: it could not be
/// read, saying why).
async fn clone_and_read(
    ctx: &Context,
    conn: &mut MySqlConnection,
    template: &Template,
    clone: &DbName,
) -> Result<Result<reset::State, sqlx::Error>> {
    clone::clone_into(
        ctx,
        conn,
        &template.name,
        template.clone_sql(ctx.dialect()),
        clone,
        clone::Made::Test(None),
    )
    .await?;
    // After the clone: it ends by restoring the session's own settings.
    reset::prepare_session(conn, ctx.dialect())
        .await
        .map_err(failed(&template.name, "preparing to read its clones"))?;
    Ok(reset::read(conn, clone, &template.script).await)
}

/// Writes the ready marker: the template is ready from this moment.
async fn write_marker(conn: &mut MySqlConnection, template: &Template, key: &str) -> Result<()> {
    let name = &template.name;
    compat::raw_sql(&format!(
        "CREATE TABLE {db}.{t} (id TINYINT PRIMARY KEY, format_version INT NOT NULL, \
         migration_key CHAR(64) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         built_by VARCHAR(300) NOT NULL, script LONGTEXT NOT NULL, state LONGTEXT NULL, \
         no_reset TEXT NULL) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        db = name,
        t = ident(MARKER_TABLE)
    ))
    .execute(&mut *conn)
    .await
    .map_err(failed(name, "writing the ready marker"))?;
    let (state, no_reset) = match &template.reference {
        Ok(state) => (Some(state.encode()), None),
        Err(why) => (None, Some(why.clone())),
    };
    let script = template.script.encode();
    let seal = seal_digest(
        i64::from(FORMAT_VERSION),
        key,
        &script,
        state.as_deref(),
        no_reset.as_deref(),
    );
    compat::query(&format!(
        "INSERT INTO {m} (id, format_version, migration_key, built_by, script, state, no_reset) \
         SELECT 1, ?, ?, CURRENT_USER(), ?, ?, ? \
         FROM DUAL WHERE NOT EXISTS (SELECT 1 FROM {m}{NOT_A_VIEW} WHERE FALSE)",
        m = format!("{}.{}", name, ident(MARKER_TABLE)),
    ))
    .bind(FORMAT_VERSION)
    .bind(key)
    .bind(&script)
    .bind(&state)
    .bind(&no_reset)
    .execute(&mut *conn)
    .await
    .map_err(failed(name, "writing the ready marker"))?;
    // The seal: its definer is this account, set by the server.
    compat::raw_sql(&format!(
        "CREATE SQL SECURITY DEFINER VIEW {}.{} AS SELECT '{seal}' AS digest",
        name,
        ident(SEAL)
    ))
    .execute(&mut *conn)
    .await
    .map_err(failed(name, "sealing the ready marker"))?;
    Ok(())
}
