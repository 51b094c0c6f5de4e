//! Housekeeping, at most once per process: the registry is created before the first test, and
//! after the first template is ready the sweep removes what nobody owns any more — test databases
//! whose owner session is gone (a killed run), kept databases past their count or age, templates
//! nobody used for `DBTEST_TEMPLATE_TTL` and builds that died. Only registered databases of
//! dbtest's own name pattern are considered, and each is dropped only under its own advisory lock,
//! so a live test's database or a template being built is never touched.

use crate::compat;
use std::time::Duration;

use sqlx::mysql::MySqlConnection;
use sqlx::Row;

use crate::compat::text;
use crate::config::Settings;
use crate::context::Context;
use crate::db;
use crate::error::Result;
use crate::naming::{self, DbName};
use crate::registry;

/// The sweep a test process runs once (`ctx.sweep_once(sweep::sweep_expired(ctx))`): problems
/// are printed, never fail a test.
pub(crate) async fn sweep_expired(ctx: &Context) {
    match sweep(ctx, Mode::Expired).await {
        Ok(report) if report.dropped() > 0 => crate::say::announce(&format!("dbtest: {report}")),
        Ok(_) => {}
        Err(e) => crate::say::announce(&format!("dbtest: sweep skipped: {e}")),
    }
}

/// Which databases a sweep removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// What the rules say: orphans past the grace period, kept databases past count or age,
    /// unused templates, dead builds.
    Expired,
    /// Every registered database whose owner is gone, whatever its age (`dbtest clean --all`).
    All,
}

/// A registered database as the sweep sees it; [`admin::list`](crate::admin::list) returns these.
///
/// ```no_run
/// async fn orphans() -> Result<Vec<String>, dbtest_runtime::Error> {
///     let entries = dbtest_runtime::admin::list().await?;
///     Ok(entries
///         .into_iter()
///         .filter(|e| e.kind == "test" && e.owner_gone && e.kept_s.is_none() && e.ready_s.is_none())
///         .map(|e| e.name)
///         .collect())
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Entry {
    /// Its name.
    pub name: String,
    /// `template` or `test`.
    pub kind: String,
    /// Whether the database exists.
    pub exists: bool,
    /// Whether its owner lock is free (no live test or build holds it).
    pub owner_gone: bool,
    /// Seconds since it was registered.
    pub age_s: i64,
    /// Seconds since it was kept, if it was.
    pub kept_s: Option<i64>,
    /// Templates: seconds since a process last used it.
    pub unused_s: Option<i64>,
    /// Templates: whether the ready marker is there.
    pub ready: bool,
    /// Test databases in the warm pool: seconds since it was put there.
    pub ready_s: Option<i64>,
    /// Test databases: the template it was cloned from; derived templates: the template they
    /// were built on (empty for a template built from migrations).
    pub template: String,
    /// Test databases: the test that made it. Derived templates: what they add to the template
    /// below (`setup crate::seed`, `fixtures fixtures/users.sql`).
    pub test: String,
    /// `host:pid` of the process that registered it.
    pub origin: String,
    /// Ready templates: why its test databases are dropped after each test instead of being reset
    /// and reused (`None`: they are reset and reused).
    pub no_reset: Option<String>,
}

/// Every registered database, with its owner's liveness.
pub async fn entries(conn: &mut MySqlConnection) -> Result<Vec<Entry>, sqlx::Error> {
    entries_where(conn, None).await
}

/// The registered databases (only `name`, if given), with their owners' liveness.
///
/// One statement, but not one instant: the rows are read as of its start, each owner lock when
/// its row is reached. A sweep decides again under the database's lock (see `still_as_planned`).
async fn entries_where(
    conn: &mut MySqlConnection,
    name: Option<&str>,
) -> Result<Vec<Entry>, sqlx::Error> {
    let only = match name {
        Some(_) => "WHERE r.name = ? ",
        None => "",
    };
    let sql = format!(
        "SELECT r.name, r.kind, s.SCHEMA_NAME IS NOT NULL, IS_FREE_LOCK(r.name), \
           TIMESTAMPDIFF(SECOND, r.created_at, NOW(3)), TIMESTAMPDIFF(SECOND, r.kept_at, NOW(3)), \
           TIMESTAMPDIFF(SECOND, r.used_at, NOW(3)), \
           EXISTS (SELECT 1 FROM information_schema.TABLES t \
                   WHERE t.TABLE_SCHEMA = r.name AND t.TABLE_NAME = '_dbtest_template'), \
           COALESCE(r.test, ''), CONCAT(COALESCE(r.host, '?'), ':', COALESCE(r.pid, '?')), \
           TIMESTAMPDIFF(SECOND, r.ready_at, NOW(3)), COALESCE(r.template, '') \
         FROM {} LEFT JOIN information_schema.SCHEMATA s ON s.SCHEMA_NAME = r.name {only}\
         ORDER BY r.kind, r.created_at",
        registry::rows(Some("r"))
    );
    let mut query = compat::query(&sql);
    if let Some(name) = name {
        query = query.bind(name);
    }
    let rows = query.fetch_all(conn).await?;
    rows.iter()
        .map(|row| {
            let int = |i: usize| -> Result<Option<i64>, sqlx::Error> { row.try_get_unchecked(i) };
            Ok(Entry {
                name: text(row, 0)?.unwrap_or_default(),
                kind: text(row, 1)?.unwrap_or_default(),
                exists: int(2)? == Some(1),
                owner_gone: int(3)? == Some(1),
                age_s: int(4)?.unwrap_or_default(),
                kept_s: int(5)?,
                unused_s: int(6)?,
                ready: int(7)? == Some(1),
                test: text(row, 8)?.unwrap_or_default(),
                origin: text(row, 9)?.unwrap_or_default(),
                ready_s: int(10)?,
                template: text(row, 11)?.unwrap_or_default(),
                no_reset: None,
            })
        })
        .collect()
}

/// What one sweep removed ([`admin::gc`](crate::admin::gc),
/// [`admin::clean_all`](crate::admin::clean_all)); its `Display` is one line for a log.
///
/// ```
/// let report = dbtest_runtime::admin::Report {
///     orphans: vec!["dbtest_db_0123abcd_00000000002a_my_test".into()],
///     ..Default::default()
/// };
/// assert_eq!(report.dropped(), 1);
/// assert!(report.to_string().starts_with("swept 1 orphaned test database(s)"));
/// ```
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Report {
    /// Test databases whose owner died.
    pub orphans: Vec<String>,
    /// Kept databases past `DBTEST_KEEP_MAX` or `DBTEST_KEEP_TTL`.
    pub kept: Vec<String>,
    /// Templates unused for `DBTEST_TEMPLATE_TTL`, and builds that died.
    pub templates: Vec<String>,
    /// Warm-pool databases whose template is gone.
    pub pooled: Vec<String>,
    /// Registry rows of databases that no longer exist.
    pub stale_rows: usize,
}

impl Report {
    /// How many databases were dropped (registry rows of databases already gone not counted).
    ///
    /// ```
    /// assert_eq!(dbtest_runtime::admin::Report::default().dropped(), 0);
    /// ```
    pub fn dropped(&self) -> usize {
        self.orphans.len() + self.kept.len() + self.templates.len() + self.pooled.len()
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "swept {} orphaned test database(s), {} kept database(s) past DBTEST_KEEP_MAX/DBTEST_KEEP_TTL, \
             {} template(s) unused or unfinished, {} warm-pool database(s) of gone templates",
            self.orphans.len(),
            self.kept.len(),
            self.templates.len(),
            self.pooled.len()
        )
    }
}

/// Sweeps the server by the rules of `mode`.
pub(crate) async fn sweep(ctx: &Context, mode: Mode) -> Result<Report> {
    let mut conn = db::connect(ctx, None).await?;
    let swept = db::bounded(
        || "the sweep".into(),
        ctx.ddl_timeout * 4,
        "raise DBTEST_DDL_TIMEOUT, or look for a stalled server",
        sweep_on(&mut conn, ctx, mode),
    )
    .await;
    db::close(conn).await;
    swept
}

async fn sweep_on(conn: &mut MySqlConnection, ctx: &Context, mode: Mode) -> Result<Report> {
    let fail = |e: sqlx::Error| db::privileges_hint(e, "sweeping");
    let all = entries(conn).await.map_err(fail)?;
    let mut report = Report::default();
    for (entry, why) in plan(&all, ctx, mode) {
        // Each drop happens only if the database's own lock can be taken now, and its row still
        // says what the plan read.
        if !drop_registered(conn, entry, why, ctx, mode)
            .await
            .map_err(fail)?
        {
            continue;
        }
        crate::say::debug(|| format!("the sweep dropped `{}` ({why:?})", entry.name));
        match why {
            Why::StaleRow => report.stale_rows += 1,
            Why::Orphan => report.orphans.push(entry.name.clone()),
            Why::Kept => report.kept.push(entry.name.clone()),
            Why::Template => report.templates.push(entry.name.clone()),
            Why::Pooled => report.pooled.push(entry.name.clone()),
        }
    }
    Ok(report)
}

/// Why the sweep removes a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Why {
    /// The registry lists a database that no longer exists.
    StaleRow,
    /// A test database whose owner is gone.
    Orphan,
    /// A kept database past DBTEST_KEEP_MAX or DBTEST_KEEP_TTL (or any, in `Mode::All`).
    Kept,
    /// A template unused for DBTEST_TEMPLATE_TTL, a build that died (or any, in `Mode::All`).
    Template,
    /// A warm-pool database whose template is gone (or any, in `Mode::All`).
    Pooled,
}

/// How long a setup's derived template stays unused once a newer one of the same setup on the
/// same template exists (a rebuild of the test binary makes one): the old binary may still run
/// somewhere, a CI job on a shared server, and each of its processes records its use.
pub(crate) const SUPERSEDED_AFTER: Duration = Duration::from_secs(3600);

/// Whether template `e` is a setup's derived template of which `all` holds a newer one: the same
/// setup (as written) on the same template, built since by another build of the test binary.
fn superseded(e: &Entry, all: &[Entry]) -> bool {
    e.test.starts_with("setup ")
        && !e.template.is_empty()
        && all.iter().any(|f| {
            f.kind == "template"
                && f.exists
                && f.ready
                && f.name != e.name
                && f.template == e.template
                && f.test == e.test
                && f.age_s < e.age_s
        })
}

/// What the sweep removes, decided from the registry alone. Only databases of dbtest's name
/// pattern whose owner is gone are candidates; a template with a live test database cloned from
/// it is never one.
fn plan<'a>(all: &'a [Entry], settings: &Settings, mode: Mode) -> Vec<(&'a Entry, Why)> {
    let grace = settings.sweep_grace.as_secs() as i64;
    let past = |limit: Duration, s: Option<i64>| s.is_some_and(|s| s >= limit.as_secs() as i64);
    // Templates that a live test database was cloned from.
    let live_templates: Vec<&str> = all
        .iter()
        .filter(|e| e.kind == "test" && !e.owner_gone)
        .map(|e| e.template.as_str())
        .collect();
    let mut out = Vec::new();
    let mut kept: Vec<&Entry> = Vec::new();
    let mut pooled: Vec<&Entry> = Vec::new();
    for e in all
        .iter()
        .filter(|e| naming::is_generated(&e.name) && e.owner_gone)
    {
        if !e.exists {
            if e.age_s >= grace {
                out.push((e, Why::StaleRow));
            }
            continue;
        }
        match e.kind.as_str() {
            "test" if e.kept_s.is_some() => kept.push(e),
            "test" if e.ready_s.is_some() => pooled.push(e),
            "test" if mode == Mode::All || e.age_s >= grace => out.push((e, Why::Orphan)),
            "template" => {
                let in_use = live_templates.contains(&e.name.as_str());
                let expired = match mode {
                    Mode::All => true,
                    Mode::Expired if e.ready => {
                        past(settings.template_ttl, e.unused_s)
                            || (past(SUPERSEDED_AFTER, e.unused_s) && superseded(e, all))
                    }
                    Mode::Expired => e.age_s >= grace,
                };
                if expired && !in_use {
                    out.push((e, Why::Template));
                }
            }
            _ => {}
        }
    }
    // A derived template whose parent is gone goes once unused for SUPERSEDED_AFTER: it is
    // rebuilt (with its parent) if a test needs it again. Parents first, so chains go together.
    loop {
        let gone = |parent: &str| {
            !all.iter()
                .any(|p| p.kind == "template" && p.name == parent && p.exists)
                || out
                    .iter()
                    .any(|(p, w)| *w == Why::Template && p.name == parent)
        };
        let next = all.iter().find(|e| {
            e.kind == "template"
                && naming::is_generated(&e.name)
                && e.owner_gone
                && e.exists
                && e.ready
                && !e.template.is_empty()
                && !live_templates.contains(&e.name.as_str())
                && past(SUPERSEDED_AFTER, e.unused_s)
                && !out.iter().any(|(o, _)| o.name == e.name)
                && gone(&e.template)
        });
        match next {
            Some(e) => out.push((e, Why::Template)),
            None => break,
        }
    }
    // Warm-pool databases live as long as their template.
    let dropped: Vec<&str> = out
        .iter()
        .filter(|(_, w)| *w == Why::Template)
        .map(|(e, _)| e.name.as_str())
        .collect();
    let template_alive = |t: &str| {
        all.iter()
            .any(|e| e.kind == "template" && e.name == t && e.exists)
            && !dropped.contains(&t)
    };
    for e in pooled {
        if mode == Mode::All || !template_alive(&e.template) {
            out.push((e, Why::Pooled));
        }
    }
    // Kept databases: the newest DBTEST_KEEP_MAX, none older than DBTEST_KEEP_TTL.
    kept.sort_by_key(|e| e.kept_s);
    for (i, e) in kept.into_iter().enumerate() {
        if mode == Mode::All || i >= settings.keep_max || past(settings.keep_ttl, e.kept_s) {
            out.push((e, Why::Kept));
        }
    }
    out
}

/// Drops registered database `planned` (and its row) under its own lock, if what the registry
/// says now, read under that lock, still plans it for `why`; false if someone holds the lock (a
/// live owner, a build, a process looking at its template, another sweep) or the plan changed.
async fn drop_registered(
    conn: &mut MySqlConnection,
    planned: &Entry,
    why: Why,
    ctx: &Context,
    mode: Mode,
) -> Result<bool, sqlx::Error> {
    // The sweep only drops dbtest's own databases (the plan holds no other: this is the proof).
    let Some(name) = DbName::parse(&planned.name) else {
        return Ok(false);
    };
    let lock = name.literal();
    let got: Option<i64> = compat::query(&format!("SELECT GET_LOCK({lock}, 0)"))
        .fetch_one(&mut *conn)
        .await?
        .try_get_unchecked(0)?;
    if got != Some(1) {
        return Ok(false);
    }
    let dropped = match reread(conn, planned, why).await {
        Ok(mut now) => {
            // Its lock is ours now: its owner is gone, whatever the row says.
            for e in now.iter_mut().filter(|e| e.name == name.as_str()) {
                e.owner_gone = true;
            }
            if still_planned(planned, why, &now, ctx, mode) {
                registry::drop_database(conn, &name).await.map(|()| true)
            } else {
                Ok(false)
            }
        }
        Err(e) => Err(e),
    };
    db::release_lock(conn, name.as_str()).await?;
    dropped
}

/// What `still_planned` needs to decide again on `planned`: its own row, with its template's for a
/// pool database, or every row for a template (whether a live test database uses it).
async fn reread(
    conn: &mut MySqlConnection,
    planned: &Entry,
    why: Why,
) -> Result<Vec<Entry>, sqlx::Error> {
    match why {
        Why::Template => entries(conn).await,
        Why::Pooled => {
            let mut rows = entries_where(conn, Some(&planned.name)).await?;
            rows.extend(entries_where(conn, Some(&planned.template)).await?);
            Ok(rows)
        }
        _ => entries_where(conn, Some(&planned.name)).await,
    }
}

/// Whether `planned`, planned for `why`, is planned so again from `now` (rows read under its
/// lock, see `reread`). A pool database goes with its template only once the template is gone.
fn still_planned(
    planned: &Entry,
    why: Why,
    now: &[Entry],
    settings: &Settings,
    mode: Mode,
) -> bool {
    let Some(row) = now.iter().find(|e| e.name == planned.name) else {
        return false;
    };
    if !still_as_planned(planned, row) {
        return false;
    }
    match why {
        Why::Template => plan(now, settings, mode)
            .iter()
            .any(|(e, w)| e.name == planned.name && *w == Why::Template),
        Why::Pooled => {
            mode == Mode::All
                || !now
                    .iter()
                    .any(|e| e.kind == "template" && e.name == row.template && e.exists)
        }
        _ => true,
    }
}

/// Whether `now` (read under the database's lock, so no owner can change it) is in the state
/// the plan read as `planned`. The plan's read is not one instant: a test may have given its
/// database back to the warm pool, and let its lock go, between the moment its row was read and
/// the moment its lock was: the plan then took a pool database for an orphan.
fn still_as_planned(planned: &Entry, now: &Entry) -> bool {
    fn state(e: &Entry) -> (&str, bool, bool, bool, bool, &str) {
        (
            &e.kind,
            e.exists,
            e.kept_s.is_some(),
            e.ready_s.is_some(),
            e.ready,
            &e.template,
        )
    }
    state(planned) == state(now)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> Settings {
        let mut s =
            Settings::from_env(|k| (k == "DATABASE_URL").then(|| "mysql://root@h".to_owned()))
                .unwrap();
        s.keep_max = 1;
        s
    }

    fn entry(name: &str, kind: &str) -> Entry {
        Entry {
            name: name.into(),
            kind: kind.into(),
            exists: true,
            owner_gone: true,
            age_s: 3600,
            kept_s: None,
            unused_s: None,
            ready: true,
            test: String::new(),
            origin: String::new(),
            ready_s: None,
            // dbtest_db_<8 hex>_… was cloned from dbtest_tpl_<the same 8 hex>00000000 in these tests.
            template: match name.strip_prefix("dbtest_db_").and_then(|r| r.get(..8)) {
                Some(d) if kind == "test" => format!("dbtest_tpl_{d}00000000"),
                _ => String::new(),
            },
            no_reset: None,
        }
    }

    const TPL_A: &str = "dbtest_tpl_aaaaaaaa00000000";
    const TPL_B: &str = "dbtest_tpl_bbbbbbbb00000000";

    fn test_db(digest: &str, n: u32) -> String {
        format!("dbtest_db_{digest}_{n:012x}_t")
    }

    fn planned(all: &[Entry], mode: Mode) -> Vec<(String, Why)> {
        plan(all, &settings(), mode)
            .into_iter()
            .map(|(e, w)| (e.name.clone(), w))
            .collect()
    }

    #[test]
    fn a_setups_template_of_an_older_build_goes_an_hour_after_its_last_use() {
        const PARENT: &str = "dbtest_tpl_cccccccc00000000";
        let setup = |name: &str, age_s: i64, unused_s: i64, test: &str| Entry {
            age_s,
            unused_s: Some(unused_s),
            template: PARENT.into(),
            test: test.into(),
            ..entry(name, "template")
        };
        let all = vec![
            entry(PARENT, "template"),
            // Built by three builds of a test binary: the newest stays, the oldest (unused for
            // two hours) goes, the middle one (used ten minutes ago) stays for now.
            setup("dbtest_tpl_0000000100000000", 9000, 7200, "setup seed"),
            setup("dbtest_tpl_0000000200000000", 5000, 600, "setup seed"),
            setup("dbtest_tpl_0000000300000000", 100, 7200, "setup seed"),
            // Another setup on the same template, unused for two hours: no newer one of its own.
            setup("dbtest_tpl_0000000400000000", 9500, 7200, "setup other"),
            // Fixtures' templates are keyed by their contents: never superseded.
            setup("dbtest_tpl_0000000500000000", 9500, 7200, "fixtures a.sql"),
            setup("dbtest_tpl_0000000600000000", 50, 50, "fixtures a.sql"),
            // Fixtures built on the oldest setup's template go with it (unused for two hours)…
            Entry {
                template: "dbtest_tpl_0000000100000000".into(),
                ..setup("dbtest_tpl_0000000700000000", 9000, 7200, "fixtures b.sql")
            },
            // … and fixtures on those, in the same sweep.
            Entry {
                template: "dbtest_tpl_0000000700000000".into(),
                ..setup("dbtest_tpl_0000000800000000", 9000, 7200, "fixtures c.sql")
            },
            // A derived template whose parent is gone, used ten minutes ago, stays for now.
            Entry {
                template: "dbtest_tpl_gone000000000000".into(),
                ..setup("dbtest_tpl_0000000900000000", 9000, 600, "fixtures d.sql")
            },
        ];
        let want: Vec<(String, Why)> = ["01", "07", "08"]
            .iter()
            .map(|n| (format!("dbtest_tpl_000000{n}00000000"), Why::Template))
            .collect();
        assert_eq!(planned(&all, Mode::Expired), want);
    }

    #[test]
    fn the_rules() {
        let day = 86_400;
        let mut all = vec![
            // A template used an hour ago stays; one unused for 8 days goes.
            Entry {
                unused_s: Some(3600),
                ..entry(TPL_A, "template")
            },
            Entry {
                unused_s: Some(8 * day),
                ..entry(TPL_B, "template")
            },
            // A live test, an orphan, a young orphan (within the grace period).
            Entry {
                owner_gone: false,
                ..entry(&test_db("aaaaaaaa", 1), "test")
            },
            entry(&test_db("aaaaaaaa", 2), "test"),
            Entry {
                age_s: 5,
                ..entry(&test_db("aaaaaaaa", 3), "test")
            },
            // Two kept databases with DBTEST_KEEP_MAX=1: the older goes.
            Entry {
                kept_s: Some(60),
                ..entry(&test_db("aaaaaaaa", 4), "test")
            },
            Entry {
                kept_s: Some(120),
                ..entry(&test_db("aaaaaaaa", 5), "test")
            },
            // A kept one past DBTEST_KEEP_TTL.
            // A registry row without its database.
            Entry {
                exists: false,
                ..entry(&test_db("aaaaaaaa", 6), "test")
            },
            // Look-alikes that are not dbtest names are never candidates.
            entry("dbtest_db_lookalike", "test"),
            entry("dbtest_tpl_NOTHEX0000000000", "template"),
        ];
        assert_eq!(
            planned(&all, Mode::Expired),
            [
                (TPL_B.to_owned(), Why::Template),
                (test_db("aaaaaaaa", 2), Why::Orphan),
                (test_db("aaaaaaaa", 6), Why::StaleRow),
                (test_db("aaaaaaaa", 5), Why::Kept),
            ]
        );
        // Past its age, even the newest kept database goes.
        all[5].kept_s = Some(4 * day);
        assert!(planned(&all, Mode::Expired).contains(&(test_db("aaaaaaaa", 4), Why::Kept)));
    }

    #[test]
    fn everything_whose_owner_is_gone_in_mode_all_but_templates_in_use() {
        let all = vec![
            Entry {
                unused_s: Some(1),
                ..entry(TPL_A, "template")
            },
            Entry {
                unused_s: Some(1),
                ..entry(TPL_B, "template")
            },
            Entry {
                owner_gone: false,
                ..entry(&test_db("aaaaaaaa", 1), "test")
            },
            Entry {
                age_s: 1,
                ..entry(&test_db("bbbbbbbb", 2), "test")
            },
            Entry {
                kept_s: Some(1),
                ..entry(&test_db("bbbbbbbb", 3), "test")
            },
        ];
        assert_eq!(
            planned(&all, Mode::All),
            [
                (TPL_B.to_owned(), Why::Template),
                (test_db("bbbbbbbb", 2), Why::Orphan),
                (test_db("bbbbbbbb", 3), Why::Kept),
            ],
            "template A has a live test database and stays"
        );
    }

    #[test]
    fn pool_databases_live_as_long_as_their_template() {
        let pooled = |n| Entry {
            ready_s: Some(5),
            ..entry(&test_db("aaaaaaaa", n), "test")
        };
        let orphan_pool = Entry {
            ready_s: Some(5),
            ..entry(&test_db("cccccccc", 9), "test")
        };
        let all = vec![
            Entry {
                unused_s: Some(60),
                ..entry(TPL_A, "template")
            },
            pooled(1),
            pooled(2),
            orphan_pool,
        ];
        assert_eq!(
            planned(&all, Mode::Expired),
            [(test_db("cccccccc", 9), Why::Pooled)],
            "no template cccccccc…"
        );
        // When the template goes, its pool goes with it.
        let mut old = all.clone();
        old[0].unused_s = Some(30 * 86_400);
        let plan = planned(&old, Mode::Expired);
        assert!(plan.contains(&(TPL_A.to_owned(), Why::Template)));
        assert!(
            plan.contains(&(test_db("aaaaaaaa", 1), Why::Pooled))
                && plan.contains(&(test_db("aaaaaaaa", 2), Why::Pooled))
        );
    }

    #[test]
    fn a_build_in_progress_or_dead() {
        let building = Entry {
            ready: false,
            owner_gone: false,
            ..entry(TPL_A, "template")
        };
        let dead = Entry {
            ready: false,
            ..entry(TPL_B, "template")
        };
        let young_dead = Entry {
            ready: false,
            age_s: 1,
            ..entry(TPL_B, "template")
        };
        assert_eq!(
            planned(&[building.clone(), dead], Mode::Expired),
            [(TPL_B.to_owned(), Why::Template)]
        );
        assert!(planned(&[building, young_dead], Mode::Expired).is_empty());
    }

    #[test]
    fn a_database_whose_row_changed_since_the_plan_read_it_stays() {
        let orphan = entry(&test_db("aaaaaaaa", 1), "test");
        let now = Entry {
            owner_gone: false,
            age_s: orphan.age_s + 1,
            ..orphan.clone()
        };
        assert!(
            still_as_planned(&orphan, &now),
            "only the lock and the clock moved"
        );
        let given_back = Entry {
            ready_s: Some(0),
            ..now.clone()
        };
        assert!(
            !still_as_planned(&orphan, &given_back),
            "back in the warm pool meanwhile"
        );
        let kept = Entry {
            kept_s: Some(0),
            ..now.clone()
        };
        assert!(!still_as_planned(&orphan, &kept), "kept meanwhile");
        let built = Entry {
            ready: false,
            ..entry(TPL_A, "template")
        };
        assert!(
            !still_as_planned(&built, &entry(TPL_A, "template")),
            "finished meanwhile"
        );
    }

    #[test]
    fn a_template_or_pool_is_dropped_only_if_the_rows_read_under_its_lock_still_say_so() {
        let s = settings();
        let old = Entry {
            unused_s: Some(30 * 86_400),
            ..entry(TPL_A, "template")
        };
        assert!(still_planned(
            &old,
            Why::Template,
            std::slice::from_ref(&old),
            &s,
            Mode::Expired
        ));
        // A process recorded its use meanwhile.
        let used = Entry {
            unused_s: Some(0),
            ..old.clone()
        };
        assert!(!still_planned(
            &old,
            Why::Template,
            &[used],
            &s,
            Mode::Expired
        ));
        // A test database cloned from it is live now.
        let live = Entry {
            owner_gone: false,
            ..entry(&test_db("aaaaaaaa", 1), "test")
        };
        assert!(!still_planned(
            &old,
            Why::Template,
            &[old.clone(), live],
            &s,
            Mode::Expired
        ));
        // A pool database of a template that was not dropped after all stays.
        let pooled = Entry {
            ready_s: Some(5),
            ..entry(&test_db("aaaaaaaa", 2), "test")
        };
        assert!(!still_planned(
            &pooled,
            Why::Pooled,
            &[pooled.clone(), old.clone()],
            &s,
            Mode::Expired
        ));
        assert!(still_planned(
            &pooled,
            Why::Pooled,
            std::slice::from_ref(&pooled),
            &s,
            Mode::Expired
        ));
        assert!(still_planned(
            &pooled,
            Why::Pooled,
            &[pooled.clone(), old],
            &s,
            Mode::All
        ));
        // Gone meanwhile (another sweep): nothing to do.
        assert!(!still_planned(&pooled, Why::Pooled, &[], &s, Mode::Expired));
    }
}
