//! dbtest's own threads, a few per process, each with a runtime of its own: every test's database
//! is acquired and released on one of them (the connection that owns a database lives as long as
//! the database's use, not as long as the test's runtime), so a reset may go on after its test has
//! returned. The warm pool's refills run on threads of their own, started here. The process waits
//! for those resets and refills when it exits.
//!
//! What is said from these threads is written to stderr itself (`say::announce`): libtest
//! hands a thread the output capture of the test that started it.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, oneshot, Notify};
use tracing::instrument::WithSubscriber;

/// Work for one of dbtest's threads: makes a future there, which need not be `Send`.
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// How many threads: the client work of acquiring, checking and resetting (parsing a state of a
/// hundred tables is a few milliseconds in a debug build) spread over the cores, as it was when
/// every test did its own.
fn threads() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get().clamp(2, 4))
}

/// A current-thread runtime with time and I/O: what each of dbtest's threads runs, and each test.
pub(crate) fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// The queues of dbtest's threads; the threads, their runtimes and the exit hook start on first
/// use.
fn queues() -> &'static [mpsc::UnboundedSender<Job>] {
    static QUEUES: OnceLock<Vec<mpsc::UnboundedSender<Job>>> = OnceLock::new();
    QUEUES.get_or_init(|| {
        let queues = (0..threads())
            .map(|i| {
                let (jobs, mut next) = mpsc::unbounded_channel::<Job>();
                let rt = runtime().expect("dbtest: could not build its runtime");
                std::thread::Builder::new()
                    .name(format!("dbtest-{i}"))
                    .spawn(move || {
                        let local = tokio::task::LocalSet::new();
                        local.block_on(&rt, async move {
                            while let Some(job) = next.recv().await {
                                tokio::task::spawn_local(job());
                            }
                        });
                    })
                    .expect("dbtest: could not start its runtime's thread");
                jobs
            })
            .collect();
        if !exit::register(at_exit) {
            // No hook: a reset cut short by the exit leaves its database unclaimable, for the
            // sweep (it never goes back to the pool unfinished).
            crate::say::announce(
                "dbtest: could not register an exit hook; resets still running at exit are cut short",
            );
        }
        queues
    })
}

/// One of dbtest's threads, for one test: its acquire and its release must run on the same one
/// (the connection that owns its database belongs to that thread's runtime).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Home(usize);

/// The next thread, in turn.
pub(crate) fn home() -> Home {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    Home(NEXT.fetch_add(1, Ordering::Relaxed) % queues().len())
}

/// Runs the future `make` makes on thread `home`, with the caller's `tracing` subscriber; the
/// future returned (to be awaited on any runtime) gives its output, or resumes its panic.
pub(crate) fn spawn<F, Fut>(home: Home, make: F) -> impl Future<Output = Fut::Output>
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
    let sent = queues()[home.0].send(job).is_ok();
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
/// How many resets have ended, ever (read before looking for a database, to wait only if none
/// ended since).
static ENDED_COUNT: AtomicU64 = AtomicU64::new(0);
/// Told when one ends: threads waiting at exit, tasks waiting for a database.
static ENDED: Condvar = Condvar::new();
static ENDED_ASYNC: Notify = Notify::const_new();
/// The longest a reset or refill started so far may take, in milliseconds: how long the exit
/// waits.
static LONGEST: AtomicU64 = AtomicU64::new(0);
/// The process is running its exit hook.
static EXITING: AtomicBool = AtomicBool::new(false);

fn pending() -> std::sync::MutexGuard<'static, Option<HashMap<String, usize>>> {
    PENDING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts a reset of `template` from its start to its end, however it ends (a panic too).
struct Counted(String);

impl Counted {
    fn start(template: &str) -> Counted {
        *pending()
            .get_or_insert_with(HashMap::new)
            .entry(template.to_owned())
            .or_default() += 1;
        Counted(template.to_owned())
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut pending = pending();
        let map = pending.get_or_insert_with(HashMap::new);
        if let Some(n) = map.get_mut(&self.0) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.0);
            }
        }
        ENDED_COUNT.fetch_add(1, Ordering::SeqCst);
        ENDED.notify_all();
        ENDED_ASYNC.notify_waiters();
    }
}

/// Starts `work`, the reset of a database of `template` that takes at most `bound`, on the
/// calling thread (one of dbtest's, from a task there) without waiting for it; counted until it
/// ends, so that the process waits for it at exit and a test finding no database ready waits
/// for it rather than cloning.
pub(crate) fn spawn_reset<F>(template: &str, bound: Duration, work: F)
where
    F: Future<Output = ()> + 'static,
{
    lasts_at_most(bound);
    let counted = Counted::start(template);
    tokio::task::spawn_local(
        async move {
            work.await;
            drop(counted);
        }
        .with_current_subscriber(),
    );
}

/// The templates whose pool this process is refilling now; told when one is done.
static REFILLING: Mutex<Option<HashSet<String>>> = Mutex::new(None);
static REFILLED: Condvar = Condvar::new();

fn refilling() -> std::sync::MutexGuard<'static, Option<HashSet<String>>> {
    REFILLING.lock().unwrap_or_else(|p| p.into_inner())
}

/// Runs the future `make` makes, the refill of `template`'s warm pool, on a thread of its own,
/// unless one for `template` runs already; it may take up to `bound` (the exit waits for it).
pub(crate) fn refill<F, Fut>(template: &str, bound: Duration, make: F)
where
    F: FnOnce() -> Fut + Send + 'static,
    Fut: Future<Output = ()>,
{
    lasts_at_most(bound);
    if !refilling()
        .get_or_insert_with(HashSet::new)
        .insert(template.to_owned())
    {
        return;
    }
    let name = template.to_owned();
    let done = move || {
        refilling().get_or_insert_with(HashSet::new).remove(&name);
        REFILLED.notify_all();
    };
    let spawned = std::thread::Builder::new()
        .name("dbtest-warm".into())
        .spawn({
            let done = done.clone();
            move || {
                if let Ok(rt) = runtime() {
                    rt.block_on(make());
                }
                done();
            }
        });
    if spawned.is_err() {
        done();
    }
}

/// Background work of this process may take up to `bound`: the exit waits as long.
pub(crate) fn lasts_at_most(bound: Duration) {
    let ms = u64::try_from(bound.as_millis()).unwrap_or(u64::MAX);
    LONGEST.fetch_max(ms, Ordering::Relaxed);
}

/// Whether the process is ending (no new background work should start).
pub(crate) fn exiting() -> bool {
    EXITING.load(Ordering::Relaxed)
}

/// How many resets of this process have ended so far; pass it to [`a_reset_ended`].
pub(crate) fn resets_ended() -> u64 {
    ENDED_COUNT.load(Ordering::SeqCst)
}

/// Resets of `template`'s databases going on in this process.
fn resetting(template: &str) -> usize {
    pending()
        .as_ref()
        .and_then(|m| m.get(template).copied())
        .unwrap_or(0)
}

/// Whether a reset of this process ended since [`resets_ended`] said `seen`, waiting for one at
/// most `bound` while one of `template`'s goes on; false if none did (none was going on, or none
/// ended in time).
pub(crate) async fn a_reset_ended(template: &str, seen: u64, bound: Duration) -> bool {
    let ended = ENDED_ASYNC.notified();
    tokio::pin!(ended);
    ended.as_mut().enable();
    if resets_ended() != seen {
        return true;
    }
    if resetting(template) == 0 {
        return false;
    }
    tokio::time::timeout(bound, ended).await.is_ok()
}

/// At exit: waits for this process's resets and refills to end, at most for as long as one may
/// take (each is bounded by `DBTEST_DDL_TIMEOUT` on its own).
extern "C" fn at_exit() {
    let _ = std::panic::catch_unwind(|| {
        EXITING.store(true, Ordering::Relaxed);
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
        // A clone cut short by the exit would be left on the server until the next run's sweep.
        let left = deadline.saturating_duration_since(Instant::now());
        let _ = REFILLED.wait_timeout_while(refilling(), left, |r| {
            r.as_ref().is_some_and(|r| !r.is_empty())
        });
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
