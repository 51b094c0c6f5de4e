//! The warm pool's refill: clean clones of a template made ahead of demand, in the background,
//! up to `DBTEST_WARM` per template. A pool database is a registered test database with
//! `ready_at` set and its owner lock free; any process claims one by taking that lock (see
//! `lease`). A refill cut short by the process ending leaves an unowned half-made database,
//! which the sweep removes like any orphan.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::config::Settings;
use crate::template::Template;
use crate::{db, lease, naming, registry};

/// Starts a background refill of `template`'s pool, unless one runs already in this process.
pub(crate) fn refill(settings: &'static Settings, template: Arc<Template>) {
    static RUNNING: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    if settings.warm == 0 {
        return;
    }
    {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        if !running
            .get_or_insert_with(HashSet::new)
            .insert(template.name.clone())
        {
            return;
        }
    }
    let spawned = std::thread::Builder::new()
        .name("dbtest-warm".into())
        .spawn(move || {
            if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                rt.block_on(fill(settings, &template));
            }
            let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
            running
                .get_or_insert_with(HashSet::new)
                .remove(&template.name);
        });
    if spawned.is_err() {
        let mut running = RUNNING.lock().unwrap_or_else(|p| p.into_inner());
        running.get_or_insert_with(HashSet::new).clear();
    }
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
    IN_FLIGHT.fetch_sub(1, Ordering::Relaxed);
}

/// Makes clean clones until the pool holds `DBTEST_WARM` of them, or as many as this process has
/// run tests at once (never more than `DBTEST_WARM_MAX`); stops at the first failure: the pool is
/// an optimisation, tests clone for themselves without it.
async fn fill(settings: &'static Settings, template: &Template) {
    let target = settings
        .warm
        .max(PEAK.load(Ordering::Relaxed))
        .min(settings.warm_max);
    for _ in 0..target {
        let Ok(mut conn) = db::connect(settings, None).await else {
            return;
        };
        let ready = registry::ready_count(&mut conn, &template.name).await;
        db::close(conn).await;
        match ready {
            Ok(n) if n < i64::from(target) => {}
            _ => return,
        }
        let name = naming::test_db_name(&template.name, "");
        if lease::make_ready(settings, template, &name).await.is_err() {
            return;
        }
        tracing::debug!(database = %name, template = %template.name, "warm pool: made a clean clone");
    }
}
