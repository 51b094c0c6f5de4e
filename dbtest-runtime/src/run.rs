//! The entry point the expansion of `#[db_test]` calls: builds the test's runtime, gets its
//! database, runs the body with panics caught, tears down, and reports the outcome unchanged.

use std::fmt::Debug;
use std::future::Future;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::Instrument;

use sqlx::mysql::{MySqlConnectOptions, MySqlPool, MySqlPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::MySql;

use crate::context::Context;
use crate::layer::{Layer, SetupFuture};
use crate::lease::{self, TestArgs, TestDb};
use crate::naming::DbName;
use crate::{background, registry, say, sweep, template};

/// How long the test's pool may take to close after the body returns (a test that keeps a
/// connection past its end gets a warning, not a hang).
const POOL_CLOSE_BOUND: Duration = Duration::from_secs(10);

/// A test function `#[db_test]` can run; chosen by the function's parameter types.
pub trait TestFn {
    /// Runs the test, panicking on failure.
    fn run_test(self, args: TestArgs);
}

/// What a test body or a setup function may return: `()` or `Result<T, E: Debug>`.
#[diagnostic::on_unimplemented(
    message = "a `#[db_test]` function or setup cannot return `{Self}`",
    label = "return `()` or `Result<T, E>` where `E: Debug`"
)]
pub trait TestOutcome {
    /// `Err` with the `Debug` of the error.
    fn into_outcome(self) -> Result<(), String>;
}

impl TestOutcome for () {
    fn into_outcome(self) -> Result<(), String> {
        Ok(())
    }
}

impl<T, E: Debug> TestOutcome for Result<T, E> {
    fn into_outcome(self) -> Result<(), String> {
        self.map(drop).map_err(|e| format!("{e:?}"))
    }
}

/// The future a [`Setup`](crate::layer::Setup) runs for setup function call `call`.
pub fn setup_future<F>(call: F) -> SetupFuture
where
    F: Future + 'static,
    F::Output: TestOutcome,
{
    Box::pin(async move { call.await.into_outcome() })
}

impl<Fut> TestFn for fn(MySqlPool) -> Fut
where
    Fut: Future,
    Fut::Output: TestOutcome,
{
    fn run_test(self, args: TestArgs) {
        run_with_pool(args, self)
    }
}

impl<Fut> TestFn for fn(PoolConnection<MySql>) -> Fut
where
    Fut: Future,
    Fut::Output: TestOutcome,
{
    fn run_test(self, args: TestArgs) {
        run_with_pool(args, move |pool| async move {
            let conn = pool
                .acquire()
                .await
                .unwrap_or_else(|e| panic!("dbtest: could not connect to the test database: {e}"));
            self(conn).await
        })
    }
}

/// Runs a test whose body `body` makes from its pool (connected lazily, at most
/// `DBTEST_POOL_SIZE` connections).
fn run_with_pool<Fut>(args: TestArgs, body: impl FnOnce(MySqlPool) -> Fut)
where
    Fut: Future,
    Fut::Output: TestOutcome,
{
    run_with_database(args, true, |ctx, db, options| {
        let pool = options.connect_lazy_with(connect_options(ctx, db));
        (pool.clone(), body(pool))
    })
}

impl<Fut> TestFn for fn(MySqlPoolOptions, MySqlConnectOptions) -> Fut
where
    Fut: Future,
    Fut::Output: TestOutcome,
{
    fn run_test(self, args: TestArgs) {
        run_with_database(args, false, |ctx, db, options| {
            // An empty pool: closing it is a no-op; the test builds its own from these options
            // (and its database is dropped after it, never reused: see `reusable`).
            let unused = MySqlPoolOptions::new().connect_lazy_with(connect_options(ctx, db));
            (unused, self(options, connect_options(ctx, db)))
        })
    }
}

impl<Fut> TestFn for fn() -> Fut
where
    Fut: Future,
    Fut::Output: TestOutcome,
{
    fn run_test(self, args: TestArgs) {
        assert!(
            args.fixtures.is_empty() && args.setup.is_none(),
            "dbtest: fixtures and setup need a database parameter"
        );
        let rt = runtime();
        if let Err(e) = rt.block_on(self()).into_outcome() {
            panic!("test returned Err: {e}");
        }
    }
}

/// The pool options of a test: at most `DBTEST_POOL_SIZE` (default 5) connections.
fn pool_options(ctx: &Context, size: Option<u32>) -> MySqlPoolOptions {
    MySqlPoolOptions::new()
        .max_connections(size.unwrap_or(ctx.pool_size))
        .acquire_timeout(ctx.connect_timeout)
}

fn connect_options(ctx: &Context, db: &TestDb) -> MySqlConnectOptions {
    ctx.server.connect.clone().database(db.name.as_str())
}

fn runtime() -> tokio::runtime::Runtime {
    background::runtime().expect("dbtest: could not build a tokio runtime")
}

/// Gets a database, runs the body that `start` makes for it, and tears down, whatever the body
/// did. The outcome is reported unchanged: a panic is resumed, an `Err` becomes a panic with its
/// `Debug`.
fn run_with_database<Fut>(
    args: TestArgs,
    // False when the test makes connections of its own (from the options it is given): dbtest
    // cannot tell when those are gone, so the database is never reset for another test.
    reusable: bool,
    start: impl FnOnce(&Context, &TestDb, MySqlPoolOptions) -> (MySqlPool, Fut),
) where
    Fut: Future,
    Fut::Output: TestOutcome,
{
    let ctx = Context::get_for(args.url_env).unwrap_or_else(|e| panic!("dbtest: {e}"));
    let rt = runtime();
    let started = Instant::now();
    // On one of dbtest's threads, the same for acquire and release: the connection that owns
    // the database outlives this test's runtime when its reset goes on after the test.
    let home = background::home();
    let mut timings = Timings::default();
    let db = get_database(&rt, ctx, home, args, started, &mut timings);

    let mut pool = None;
    let body_started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let _context = rt.enter();
        let options = pool_options(ctx, args.pool_size);
        let (test_pool, body) = start(ctx, &db, options);
        pool = Some(test_pool);
        rt.block_on(body)
    }));
    timings.body = body_started.elapsed();
    // What the test did, judged before teardown so the database can be kept when it failed.
    let verdict = outcome.map(TestOutcome::into_outcome);
    let failed = match &verdict {
        Err(_) => !args.should_panic,
        Ok(result) => result.is_err() || args.should_panic,
    };

    let release_started = Instant::now();
    let span = tracing::debug_span!("release", test = args.test_path);
    let closed = close_pool(&rt, pool, args.test_path, &span);
    // Only a passing test whose connections are all closed can be proven clean.
    let ending = db.ending(args.keep.unwrap_or(ctx.keep), failed, closed && reusable);
    let teardown = rt.block_on(background::spawn(home, move || {
        lease::release(ctx, db, ending, args.test_path).instrument(span)
    }));
    timings.release = release_started.elapsed();
    timings.report(args.test_path);
    if let Ok(Some(kept)) = &teardown {
        eprintln!(
            "dbtest: kept database {kept} of {} test {}; inspect it with: {}",
            if failed { "failed" } else { "passed" },
            args.test_path,
            client_command(ctx, kept.as_str())
        );
    }
    report(verdict, teardown);
}

/// The test's database, on dbtest thread `home` (`timings` from `started`): the server prepared, the template ensured and
/// the sweep run (once per process each; a derived template's layers are built into it), then a
/// database acquired. Panics with the error.
fn get_database(
    rt: &tokio::runtime::Runtime,
    ctx: &'static Context,
    home: background::Home,
    args: TestArgs,
    started: Instant,
    timings: &mut Timings,
) -> TestDb {
    let (db, template_time) = rt
        .block_on(background::spawn(home, move || async move {
            ctx.prepare(registry::prepare(ctx)).await?;
            let layers = Layer::of(args.setup, args.fixtures);
            let template = template::ensure(ctx, args.migrations, &layers)
                .instrument(tracing::debug_span!("template"))
                .await?;
            ctx.sweep_once(sweep::sweep_expired(ctx))
                .instrument(tracing::debug_span!("sweep"))
                .await;
            let template_time = started.elapsed();
            lease::acquire(ctx, &template, args.test_path)
                .instrument(tracing::debug_span!("acquire", test = args.test_path))
                .await
                .map(|db| (db, template_time))
                .map_err(Arc::new)
        }))
        .unwrap_or_else(|e| panic!("dbtest: {e}"));
    timings.template = template_time;
    timings.acquire = started.elapsed() - template_time;
    db
}

/// Closes the test's pool, waiting at most [`POOL_CLOSE_BOUND`]; false (said) if a connection
/// was still held then.
fn close_pool(
    rt: &tokio::runtime::Runtime,
    pool: Option<MySqlPool>,
    test_path: &str,
    span: &tracing::Span,
) -> bool {
    let Some(pool) = pool else { return true };
    // The timer is made on the runtime (inside the future), not before it.
    let close = async { tokio::time::timeout(POOL_CLOSE_BOUND, pool.close()).await };
    let closed = rt.block_on(close.instrument(span.clone())).is_ok();
    if !closed {
        eprintln!(
            "dbtest: test {test_path} still held a connection {POOL_CLOSE_BOUND:?} after it ended"
        );
    }
    closed
}

/// Reports the test's outcome unchanged, and a teardown's failure: it fails a passing test, and
/// is printed beside a failing one's own failure.
fn report(
    verdict: std::thread::Result<Result<(), String>>,
    teardown: crate::error::Result<Option<DbName>>,
) {
    match verdict {
        Err(panic) => {
            if let Err(e) = teardown {
                eprintln!("dbtest: {e}");
            }
            resume_unwind(panic)
        }
        Ok(Err(error)) => {
            if let Err(e) = teardown {
                eprintln!("dbtest: {e}");
            }
            panic!("test returned Err: {error}");
        }
        Ok(Ok(())) => {
            if let Err(e) = teardown {
                panic!("dbtest: {e}");
            }
        }
    }
}

/// Where one test's time went.
#[derive(Debug, Default)]
struct Timings {
    /// Until the template was known (first test of a process: registry, build or probe, sweep).
    template: Duration,
    /// Connection slot, claim or clone.
    acquire: Duration,
    body: Duration,
    /// Pool close, then reset and return, drop, or keep.
    release: Duration,
}

impl Timings {
    /// With `DBTEST_LOG=debug` (or `trace`), one line on stderr per test; with
    /// `DBTEST_TIMINGS=<file>`, one tab-separated line appended to that file (for benchmarks):
    /// test, then microseconds of template, acquire, body, release (and, when its database is
    /// reset after it, a line `test, "reset", microseconds` once that is done).
    fn report(&self, test: &str) {
        if matches!(
            std::env::var("DBTEST_LOG").as_deref(),
            Ok("debug" | "trace")
        ) {
            eprintln!(
                "dbtest: {test}: template {:.1?}, acquire {:.1?}, body {:.1?}, release {:.1?}",
                self.template, self.acquire, self.body, self.release
            );
        }
        say::timing(|| {
            format!(
                "{test}\t{}\t{}\t{}\t{}",
                self.template.as_micros(),
                self.acquire.as_micros(),
                self.body.as_micros(),
                self.release.as_micros()
            )
        });
    }
}

/// A ready-to-paste command that opens `database` (it asks for the password, never shows it).
fn client_command(ctx: &Context, database: &str) -> String {
    let c = &ctx.server.connect;
    let target = match c.get_socket() {
        Some(socket) => format!("-S {}", socket.display()),
        None => format!("-h {} -P {}", c.get_host(), c.get_port()),
    };
    let password = if ctx.server.has_password { " -p" } else { "" };
    format!(
        "{} {target} -u {}{password} {database}",
        ctx.known().map_or("mysql", |s| s.client()),
        c.get_username()
    )
}
