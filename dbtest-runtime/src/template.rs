//! The template of a migration set: built once per server under an advisory lock, ready only when
//! its marker says so, and looked up once per process (a failed build is cached too).
//!
//! ```text
//! probe marker ──ready──▶ done (one query; the warm path)
//!      │ not ready
//!      ▼
//! GET_LOCK(template, DBTEST_LOCK_TIMEOUT) on one pinned connection
//!      ├─ probe again (another process may have built it meanwhile)
//!      └─ DROP half-built leftovers, CREATE, migrate, read the clone script,
//!         write the marker (last), RELEASE_LOCK
//! ```

use crate::compat;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sqlx::mysql::MySqlConnection;
use sqlx::Row;

use crate::config::Settings;
use crate::db::{self, text};
use crate::error::{Error, Result};
use crate::migrations::{MigrationSet, Migrations, FORMAT_VERSION};
use crate::naming::{self, ident};
use crate::registry::{self, Kind};
use crate::snapshot::{self, MARKER_TABLE};
use crate::{reset, sweep};

/// A ready template, the script that clones it, and what resetting a clone needs.
#[derive(Debug)]
pub(crate) struct Template {
    pub name: String,
    pub script: String,
    /// The state a reset clone must have; `None` when its clones cannot be reset (they are
    /// dropped after each test instead).
    pub state: Option<reset::State>,
    /// Per table, the statement that copies the template's rows.
    pub copies: BTreeMap<String, String>,
}

impl Template {
    fn new(name: &str, script: String, state: Option<reset::State>) -> Template {
        Template {
            name: name.to_owned(),
            copies: snapshot::copy_statements(&script),
            script,
            state,
        }
    }
}

type Cell = Arc<tokio::sync::OnceCell<Result<Arc<Template>, Arc<Error>>>>;

/// The template for `source`, built if need be; once per process and source.
///
/// Tests run on runtimes of their own, so the cell holds no connection: only the template's name
/// and script, or the error every later test of this process reports at once.
pub(crate) async fn ensure(
    settings: &Settings,
    source: Migrations,
) -> Result<Arc<Template>, Arc<Error>> {
    static CELLS: Mutex<Option<HashMap<String, Cell>>> = Mutex::new(None);
    let cell: Cell = {
        let mut cells = CELLS.lock().unwrap_or_else(|p| p.into_inner());
        Arc::clone(
            cells
                .get_or_insert_with(HashMap::new)
                .entry(source.cache_key())
                .or_default(),
        )
    };
    cell.get_or_init(|| async {
        let set = MigrationSet::load(source).await.map_err(Arc::new)?;
        build_or_fetch(settings, &set)
            .await
            .map(Arc::new)
            .map_err(Arc::new)
    })
    .await
    .clone()
}

async fn build_or_fetch(settings: &Settings, set: &MigrationSet) -> Result<Template> {
    let name = naming::template_name(&set.key);
    let mut conn = db::connect(settings, None).await?;
    if let Some(t) = probe(&mut conn, &name, &set.key).await? {
        // For template GC: this template is in use.
        let _ = registry::touch(&mut conn, &name).await;
        db::close(conn).await;
        return Ok(t);
    }
    db::get_lock(&mut conn, &name, settings.lock_timeout, &name).await?;
    let session: Option<u64> = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&mut conn)
        .await
        .ok();
    let built = tokio::time::timeout(settings.build_timeout, async {
        match probe(&mut conn, &name, &set.key).await? {
            Some(t) => Ok(t),
            None => build(settings, &mut conn, &name, set).await,
        }
    })
    .await;
    match built {
        Ok(result) => {
            let _ = db::release_lock(&mut conn, &name).await;
            db::close(conn).await;
            result
        }
        Err(_) => {
            // The build is stuck (a migration waiting on a lock, a stalled server): end its
            // session, which frees the template lock, then remove what it left.
            drop(conn);
            abandon_build(settings, &name, &set.key, session).await;
            Err(Error::Timeout {
                what: format!("building template `{name}` (running the migrations and reading the result)"),
                bound: settings.build_timeout,
                hint: "raise DBTEST_BUILD_TIMEOUT, or look for a migration that waits on a lock (SHOW PROCESSLIST)",
            })
        }
    }
}

/// Kills the session of a stuck build and drops its unfinished template under the template lock.
async fn abandon_build(settings: &Settings, name: &str, key: &str, session: Option<u64>) {
    let Ok(mut conn) = db::connect(settings, None).await else {
        return;
    };
    if let Some(id) = session {
        let _ = compat::query(&format!("KILL {id}"))
            .execute(&mut conn)
            .await;
    }
    if db::get_lock(&mut conn, name, Duration::from_secs(10), name)
        .await
        .is_ok()
    {
        if let Ok(None) = probe(&mut conn, name, key).await {
            let _ = drop_template(&mut conn, name).await;
        }
        let _ = db::release_lock(&mut conn, name).await;
    }
    db::close(conn).await;
}

/// Drops template `name` and its registry row. The caller holds the template lock.
async fn drop_template(conn: &mut MySqlConnection, name: &str) -> Result<(), sqlx::Error> {
    assert!(
        naming::is_generated(name),
        "refusing to drop `{name}`: not a dbtest name"
    );
    compat::raw_sql(&format!(
        "DROP DATABASE IF EXISTS {}; {}",
        ident(name),
        registry::unregister_sql(name)
    ))
    .execute(conn)
    .await
    .map(drop)
}

/// The template `name`, if its marker says it is ready for migration set `key`.
async fn probe(conn: &mut MySqlConnection, name: &str, key: &str) -> Result<Option<Template>> {
    let sql = format!(
        "SELECT format_version, migration_key, script, state FROM {}.{} WHERE id = 1",
        ident(name),
        ident(MARKER_TABLE)
    );
    let row = match compat::query(&sql).fetch_optional(&mut *conn).await {
        Ok(row) => row,
        // Unknown database, unknown table: not built (or not finished).
        Err(e) if matches!(db::server_code(&e), Some(1049 | 1146)) => None,
        Err(e) => return Err(failed(name, "reading the ready marker")(e)),
    };
    let Some(row) = row else { return Ok(None) };
    let read = || -> Result<_, sqlx::Error> {
        Ok((
            row.try_get_unchecked::<i64, _>(0)?,
            text(&row, 1)?.unwrap_or_default(),
            text(&row, 2)?.unwrap_or_default(),
            text(&row, 3)?,
        ))
    };
    let (format, marker_key, script, state) =
        read().map_err(failed(name, "reading the ready marker"))?;
    Ok(
        (format == i64::from(FORMAT_VERSION) && marker_key == key).then(|| {
            Template::new(
                name,
                script,
                state.as_deref().and_then(reset::State::decode),
            )
        }),
    )
}

/// Builds template `name` from scratch; a failed build is dropped again (it could never become
/// ready). The caller holds the template lock on `conn`.
async fn build(
    settings: &Settings,
    conn: &mut MySqlConnection,
    name: &str,
    set: &MigrationSet,
) -> Result<Template> {
    assert!(
        naming::is_generated(name),
        "refusing to rebuild `{name}`: not a dbtest name"
    );
    // A database of this name that the registry does not list was not made by dbtest: leave it.
    let exists: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(name)
    .fetch_one(&mut *conn)
    .await
    .map_err(failed(name, "looking for an unfinished build"))?;
    if exists > 0
        && !registry::is_registered(conn, name)
            .await
            .map_err(failed(name, "reading the registry"))?
    {
        return Err(Error::Template {
            template: name.to_owned(),
            action: "building",
            reason: "a database of this name exists but dbtest's registry does not list it; dbtest never \
                     drops a database it did not create: drop or rename it by hand"
                .into(),
        });
    }
    let started = std::time::Instant::now();
    let built = build_steps(settings, conn, name, set).await;
    if built.is_ok() {
        // The one line a run prints about its template: when it had to build it.
        crate::server::announce(&format!(
            "dbtest: built template `{name}` ({} migrations) in {:.0?}",
            set.len(),
            started.elapsed()
        ));
    }
    if built.is_err() {
        let _ = drop_template(conn, name).await;
    }
    built
}

/// Maps a failure of `action` on template `name` to [`Error::Template`].
fn failed<'a, E: std::fmt::Display>(
    name: &'a str,
    action: &'static str,
) -> impl FnOnce(E) -> Error + 'a {
    move |e| Error::Template {
        template: name.to_owned(),
        action,
        reason: e.to_string(),
    }
}

async fn build_steps(
    settings: &Settings,
    lock_conn: &mut MySqlConnection,
    name: &str,
    set: &MigrationSet,
) -> Result<Template> {
    // Whatever is there is a build that died before its marker: ours, and safe to replace.
    // The migrations run on the pinned connection that holds the lock, so a process waiting for
    // the lock sees what the build is doing.
    compat::raw_sql(&format!(
        "{register}; DROP DATABASE IF EXISTS {db}; CREATE DATABASE {db}; USE {db}",
        register = registry::register_sql(name, Kind::Template, None, None),
        db = ident(name)
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

    // The template is read on a fresh connection: whatever session state the migrations left
    // behind (sql_mode, foreign_key_checks, …) must not change how it is read.
    let mut conn = db::connect(settings, None).await?;
    let marked = read_and_mark(&mut conn, name, set).await;
    db::close(conn).await;
    marked
}

async fn read_and_mark(
    conn: &mut MySqlConnection,
    name: &str,
    set: &MigrationSet,
) -> Result<Template> {
    let script = snapshot::read(conn, name)
        .await
        .map_err(failed(name, "reading the template"))?;
    // What a reset clone must look like. Sequences keep state that resetting does not restore:
    // clones of a template with sequences are always dropped.
    let state = if script.contains("DO SETVAL(") {
        None
    } else {
        reset::prepare_session(conn, sweep::server_is_mariadb())
            .await
            .map_err(failed(name, "reading the template's state"))?;
        Some(
            reset::read(conn, name)
                .await
                .map_err(failed(name, "reading the template's state"))?,
        )
    };

    // The marker comes last: a template without it is not ready, whatever else it holds.
    compat::raw_sql(&format!(
        "CREATE TABLE {db}.{t} (id TINYINT PRIMARY KEY, format_version INT NOT NULL, \
         migration_key CHAR(64) NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP, \
         built_by VARCHAR(300) NOT NULL, script LONGTEXT NOT NULL, state LONGTEXT NULL) \
         CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
        db = ident(name),
        t = ident(MARKER_TABLE)
    ))
    .execute(&mut *conn)
    .await
    .map_err(failed(name, "writing the ready marker"))?;
    compat::query(&format!(
        "INSERT INTO {}.{} (id, format_version, migration_key, built_by, script, state) \
         VALUES (1, ?, ?, CURRENT_USER(), ?, ?)",
        ident(name),
        ident(MARKER_TABLE)
    ))
    .bind(FORMAT_VERSION)
    .bind(&set.key)
    .bind(&script)
    .bind(state.as_ref().map(reset::State::encode))
    .execute(&mut *conn)
    .await
    .map_err(failed(name, "writing the ready marker"))?;
    Ok(Template::new(name, script, state))
}
