//! dbtest's own runtime, one per process on a thread of its own: every test's database is
//! acquired and released there (the connection that owns a database lives as long as the
//! database's use, not as long as the test's runtime), so a reset may go on after its test has
//! returned. The process waits for those resets, and for the warm pool's refills, when it exits.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use std::pin::Pin;

use tokio::sync::{mpsc, oneshot, Notify};
use tracing::instrument::WithSubscriber;

/// Work for dbtest's thread: makes a future there, which need not be `Send`.
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// The queue of dbtest's thread; the thread, its runtime and the exit hook start on first use.
fn queue() -> &'static mpsc::UnboundedSender<Job> {
    static QUEUE: OnceLock<mpsc::UnboundedSender<Job>> = OnceLock::new();
    QUEUE.get_or_init(|| {
        let (jobs, mut next) = mpsc::unbounded_channel::<Job>();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("dbtest: could not build its runtime");
        std::thread::Builder::new()
            .name("dbtest".into())
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&rt, async move {
                    while let Some(job) = next.recv().await {
                        tokio::task::spawn_local(job());
                    }
                });
            })
            .expect("dbtest: could not start its runtime's thread");
        if !exit::register(at_exit) {
            // No hook: a reset cut short by the exit leaves its database unclaimable, for the
            // sweep (it never goes back to the pool unfinished).
            eprintln!("dbtest: could not register an exit hook; resets still running at exit are cut short");
        }
        jobs
    })
}

/// Runs the future `make` makes on dbtest's thread, with the caller's `tracing` subscriber; the
/// future returned (to be awaited on any runtime) gives its output, or resumes its panic.
pub(crate) fn spawn<F, Fut>(make: F) -> impl Future<Output = Fut::Output>
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future + 'static,
    Fut::Output: Send + 'static,
{
    let dispatch = tracing::dispatcher::get_default(|d| d.clone());
    let (done, result) = oneshot::channel();
    let job: Job = Box::new(move || {
        Box::pin(async move {
            let task = tokio::task::spawn_local(make().with_subscriber(dispatch));
            let _ = done.send(task.await);
        })
    });
    let sent = queue().send(job).is_ok();
    async move {
        match result.await {
            Ok(Ok(out)) => out,
            Ok(Err(e)) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            _ => panic!("dbtest: its runtime stopped (queued: {sent})"),
        }
    }
}

/// Resets going on in the background, per template.
static PENDING: Mutex<Option<HashMap<String, usize>>> = Mutex::new(None);
/// Told when one ends: threads waiting at exit, tasks waiting for a database.
static ENDED: Condvar = Condvar::new();
static ENDED_ASYNC: Notify = Notify::const_new();

fn pending() -> std::sync::MutexGuard<'static, Option<HashMap<String, usize>>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// The longest a reset started so far may take, in milliseconds: how long the exit waits.
static LONGEST: AtomicU64 = AtomicU64::new(0);

/// Starts `work`, the reset of a database of `template` that takes at most `bound`, on dbtest's
/// thread (from a task there) without waiting for it; counted until it ends, so that the
/// process waits for it at exit and a test finding no database ready waits for it rather than
/// cloning.
pub(crate) fn spawn_reset<F>(template: &str, bound: Duration, work: F)
where
    F: Future<Output = ()> + 'static,
{
    lasts_at_most(bound);
    *pending()
        .get_or_insert_with(HashMap::new)
        .entry(template.to_owned())
        .or_default() += 1;
    let template = template.to_owned();
    tokio::task::spawn_local(
        async move {
            work.await;
            let mut pending = pending();
            let map = pending.get_or_insert_with(HashMap::new);
            if let Some(n) = map.get_mut(&template) {
                *n -= 1;
                if *n == 0 {
                    map.remove(&template);
                }
            }
            ENDED.notify_all();
            ENDED_ASYNC.notify_waiters();
        }
        .with_current_subscriber(),
    );
}

/// Background work of this process may take up to `bound`: the exit waits as long.
pub(crate) fn lasts_at_most(bound: Duration) {
    let ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    LONGEST.fetch_max(ms, Ordering::Relaxed);
}

/// Resets of `template`'s databases going on in this process.
pub(crate) fn resetting(template: &str) -> usize {
    pending()
        .as_ref()
        .and_then(|m| m.get(template).copied())
        .unwrap_or(0)
}

/// Waits, at most `bound`, until a reset of this process ends (any template); false if none was
/// going on or none ended in time.
pub(crate) async fn a_reset_ended(template: &str, bound: Duration) -> bool {
    let ended = ENDED_ASYNC.notified();
    tokio::pin!(ended);
    ended.as_mut().enable();
    if resetting(template) == 0 {
        return false;
    }
    tokio::time::timeout(bound, ended).await.is_ok()
}

/// At exit: waits for this process's resets and refills to end, at most for as long as one may
/// take (each is bounded by `DBTEST_DDL_TIMEOUT` on its own).
extern "C" fn at_exit() {
    let _ = std::panic::catch_unwind(|| {
        let bound = Duration::from_millis(LONGEST.load(Ordering::Relaxed)) + Duration::from_secs(5);
        let deadline = Instant::now() + bound;
        let mut pending = pending();
        while pending.as_ref().is_some_and(|m| !m.is_empty()) {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            pending = ENDED
                .wait_timeout(pending, left)
                .unwrap_or_else(|p| p.into_inner())
                .0;
        }
        drop(pending);
        crate::pool::wait_for_refills(deadline.saturating_duration_since(Instant::now()));
    });
}

/// The C library's `atexit`: the one hook a process runs when it ends normally (`main` returns
/// or `std::process::exit`), which is how a test harness ends.
#[allow(unsafe_code)]
mod exit {
    unsafe extern "C" {
        fn atexit(callback: extern "C" fn()) -> std::ffi::c_int;
    }

    /// Registers `callback` to run at exit; false if the C library refused.
    pub(super) fn register(callback: extern "C" fn()) -> bool {
        // SAFETY: `atexit` is ISO C's (7.22.4.2), in every C library Rust links on the platforms
        // dbtest supports; it takes a function pointer, which outlives the process, and
        // `callback` does not unwind (it catches panics).
        unsafe { atexit(callback) == 0 }
    }
}
