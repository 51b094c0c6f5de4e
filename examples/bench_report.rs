//! The benchmark: the suite of `examples/bench` (a 164-migration, 100-table, 164-foreign-key schema;
//! 48 tests that read seed data and write a few rows) on one server, in one run, under
//!
//! - `#[sqlx::test]` (every test runs every migration),
//! - `#[db_test]` with clone + drop (`DBTEST_REUSE=never`, no warm pool),
//! - `#[db_test]`'s default, fastest mode (reset instead of drop, warm pool),
//!
//! cold (no template, no pool) and warm, at 1, 2 and 8 test threads and under `cargo nextest`.
//! It prints suite wall times (for `#[db_test]`, the median of several runs and their range),
//! per-test acquisition latency (p50/p95: from the test's start to its
//! body, recorded by the runtime through `DBTEST_TIMINGS`) and the ratios; then the floor for
//! cloning (the template's DDL replayed in one request) against a fresh clone, and 16 processes
//! started at once on a cold template against one migration run plus 16 clones; last, the layers
//! benchmark (`examples/bench/tests/layers.rs`): tests needing 210 rows in 10 tables, from
//! fixtures or a setup built into a derived template, replayed in each test, or under
//! `#[sqlx::test]` with the same fixtures.
//!
//! ```text
//! scripts/with-mariadb cargo run --release -p dbtest-tests --example bench_report [layers]
//! ```
//! (`layers`: that section alone.)

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use dbtest_tests::bench::{self, count_tests, server_url, test_binary};
use dbtest_tests::sql;
use sqlx::{Connection, Executor, MySqlConnection, Row};

const SCRATCH: &str = "sqlxbench_scratch";
/// Runs of each `#[db_test]` mode, warm, and cold: a suite of a second or two moves by tens of
/// percent from one run to the next on a shared machine, so each row is the median run (its
/// range beside it), with the per-test figures of all its runs. `#[sqlx::test]`'s suite takes
/// close to a minute and is run once.
const WARM_RUNS: usize = 5;
const COLD_RUNS: usize = 3;
const BENCH_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bench");

fn main() {
    let base = server_url();
    let (rt, mut conn) = bench::connect(&base);
    let only_layers = std::env::args().nth(1).as_deref() == Some("layers");
    let version: String = rt
        .block_on(
            sqlx::query_scalar("SELECT CONVERT(VERSION() USING utf8mb4)").fetch_one(&mut conn),
        )
        .unwrap();
    println!(
        "server: {version}; machine: {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    let timings = std::env::temp_dir().join(format!("dbtest-bench-{}.tsv", std::process::id()));
    if only_layers {
        layers(&rt, &mut conn, &base, &timings);
        return;
    }
    let dbtest_bin = test_binary("bench", "bench", &[]);
    let sqlx_bin = test_binary("bench", "bench", &["--features", "sqlx-test"]);
    let tests = count_tests(&dbtest_bin);
    bench::fresh_database(&rt, &mut conn, SCRATCH);
    let sqlx_url = format!("{base}/{SCRATCH}");

    let mut rows: Vec<Row_> = Vec::new();
    let run = |bin: &str, env: &[(&str, &str)], threads: &str| -> Duration {
        let _ = std::fs::remove_file(&timings);
        let timings = timings.to_str().expect("a UTF-8 path");
        let mut env = env.to_vec();
        env.push(("DBTEST_TIMINGS", timings));
        let args = ["-q", "--test-threads", threads];
        bench::run_suite(bin, BENCH_DIR, &args, &env)
    };

    let dbtest_env = |extra: &[(&'static str, &'static str)]| {
        let mut env: Vec<(&str, String)> = vec![("DBTEST_DATABASE_URL", base.clone())];
        env.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        env
    };

    // #[sqlx::test]: no cold/warm, it migrates every time.
    let sqlx_env = vec![("DATABASE_URL", sqlx_url.clone())];
    for threads in ["1", "2", "8"] {
        let wall = run(&sqlx_bin, &as_refs(&sqlx_env), threads);
        rows.push(Row_::new(
            "#[sqlx::test]",
            "-",
            threads,
            wall,
            &Default::default(),
            tests,
        ));
    }
    let (wall, per_test) = nextest(&[("DATABASE_URL", &sqlx_url)], &["--features", "sqlx-test"]);
    rows.push(Row_::new(
        "#[sqlx::test]",
        "-",
        "nextest",
        wall,
        &(per_test, Vec::new()),
        tests,
    ));

    for (mode, extra) in [
        (
            "db_test clone+drop",
            vec![("DBTEST_REUSE", "never"), ("DBTEST_WARM", "0")],
        ),
        ("db_test reset+pool", vec![]),
    ] {
        let env = dbtest_env(&extra);
        // Cold: one run each (a second run would be warm).
        let mut colds = Runs::default();
        for _ in 0..COLD_RUNS {
            forget_bench_template(&rt, &mut conn);
            colds.add(run(&dbtest_bin, &as_refs(&env), "2"), &timings);
        }
        rows.push(Row_::of_runs(mode, "cold", "2", &colds, tests));
        for threads in ["1", "2", "8"] {
            let mut warm = Runs::default();
            for _ in 0..WARM_RUNS {
                warm.add(run(&dbtest_bin, &as_refs(&env), threads), &timings);
            }
            rows.push(Row_::of_runs(mode, "warm", threads, &warm, tests));
        }
        let mut nx_env = as_refs(&env);
        let timings_s = timings.to_string_lossy().into_owned();
        nx_env.push(("DBTEST_TIMINGS", &timings_s));
        let mut warm = Runs::default();
        for _ in 0..WARM_RUNS {
            let _ = std::fs::remove_file(&timings);
            warm.add(nextest(&nx_env, &[]).0, &timings);
        }
        rows.push(Row_::of_runs(mode, "warm", "nextest", &warm, tests));
    }
    // The floor: the same bodies, each on a copy of the template made for it beforehand (by the
    // server's own `SHOW CREATE` and `INSERT … SELECT`), with no tool in the way.
    let floor_bin = test_binary("bench", "bench", &["--features", "floor"]);
    let names = test_names(&floor_bin);
    let template = bench_template(&rt, &mut conn);
    let copy = template_ddl(&rt, &mut conn, &template, true).join(";\n");
    let floor_env = [("BENCH_FLOOR_URL", base.as_str())];
    // No timings: the floor records none (and a stale file is removed first).
    let no_timings = std::env::temp_dir().join("dbtest-bench-floor-none");
    for threads in ["1", "2"] {
        let mut floor = Runs::default();
        for _ in 0..COLD_RUNS {
            make_floor(&rt, &mut conn, &names, &copy);
            floor.add(run(&floor_bin, &floor_env, threads), &no_timings);
        }
        rows.push(Row_::of_runs(FLOOR, "-", threads, &floor, tests));
    }
    let mut floor = Runs::default();
    for _ in 0..COLD_RUNS {
        make_floor(&rt, &mut conn, &names, &copy);
        floor.add(nextest(&floor_env, &["--features", "floor"]).0, &no_timings);
    }
    rows.push(Row_::of_runs(FLOOR, "-", "nextest", &floor, tests));
    drop_floor(&rt, &mut conn, &names);

    rt.block_on(conn.execute(sql::raw_sql(&format!("DROP DATABASE {SCRATCH}"))))
        .unwrap();

    println!("\n{tests} tests; acquisition = from a test's start to its body (p50/p95; for #[sqlx::test] under");
    println!("nextest, whole-test times; under cargo test it is not observable, shown as wall x threads / tests);");
    println!("critical path = dbtest's share of a test, everything but its body (p50/p95);");
    println!("reset = the reset after a test, off its critical path (p50);");
    println!("{FLOOR} = the same bodies, each on a copy of the template made beforehand, no tool:");
    println!(
        "what no tool can beat here; its ratio is the most any tool could reach on this machine\n"
    );
    println!(
        "{:<20} {:<5} {:>8} {:>10} {:>17} {:>10} {:>10} {:>10} {:>10} {:>10} {:>12}",
        "mode",
        "state",
        "threads",
        "wall",
        "range",
        "acq p50",
        "acq p95",
        "crit p50",
        "crit p95",
        "reset p50",
        "vs sqlx"
    );
    let sqlx_wall: BTreeMap<String, Duration> = rows
        .iter()
        .filter(|r| r.mode == "#[sqlx::test]")
        .map(|r| (r.threads.clone(), r.wall))
        .collect();
    for r in &rows {
        let ratio = sqlx_wall.get(&r.threads).map_or(String::new(), |s| {
            format!("{:.1}x", s.as_secs_f64() / r.wall.as_secs_f64())
        });
        let (c50, c95) = r.critical.map_or((String::new(), String::new()), |(a, b)| {
            (format!("{a:.1?}"), format!("{b:.1?}"))
        });
        let reset = r.reset.map_or(String::new(), |d| format!("{d:.1?}"));
        let range = r.range.map_or("-".to_owned(), |(lo, hi)| {
            format!("{:.2}-{:.2}s", lo.as_secs_f64(), hi.as_secs_f64())
        });
        println!(
            "{:<20} {:<5} {:>8} {:>10.3?} {:>17} {:>10.1?} {:>10.1?} {:>10} {:>10} {:>10} {:>12}",
            r.mode, r.state, r.threads, r.wall, range, r.p50, r.p95, c50, c95, reset, ratio
        );
    }

    // A test that writes one row, on schemas of 25 to 200 tables.
    series(&rt, &mut conn, &base, &timings);
    // The floor for cloning: the template's DDL in one request, against a fresh clone.
    floor_vs_clone(&rt, &mut conn, &dbtest_bin, &base, &timings);
    // 16 processes at once on a cold template.
    herd(&rt, &mut conn, &dbtest_bin, &base);
    // Fixtures and setups, built once or replayed.
    layers(&rt, &mut conn, &base, &timings);
    let _ = std::fs::remove_file(&timings);
}

/// The layers benchmark: each group of `examples/bench/tests/layers.rs` (16 tests) warm at one
/// thread, `WARM_RUNS` runs each in turn, and under `#[sqlx::test]` with the same fixtures once:
/// what one test costs, all of it (from its start to its end, by the runtime's timings; for
/// `#[sqlx::test]`, the suite's wall time over its tests), and dbtest's share of it (all but the
/// body). Then the cold runs: the first run after the derived templates are dropped, which builds
/// them.
fn layers(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection, base: &str, timings: &Path) {
    let dbtest_bin = test_binary("bench", "layers", &[]);
    let sqlx_bin = test_binary("bench", "layers", &["--features", "sqlx-test"]);
    bench::fresh_database(rt, conn, SCRATCH);
    let sqlx_url = format!("{base}/{SCRATCH}");
    let groups = ["bare", "fixtures", "replayed", "setup", "seeded_in_body"];
    let run_group = |bin: &str, group: &str, env: &[(&str, &str)]| -> Duration {
        let _ = std::fs::remove_file(timings);
        let timings = timings.to_str().expect("a UTF-8 path");
        let mut env = env.to_vec();
        env.push(("DBTEST_TIMINGS", timings));
        let filter = format!("{group}::");
        let args = ["-q", "--test-threads", "1", filter.as_str()];
        bench::run_suite(bin, BENCH_DIR, &args, &env)
    };
    let dbtest_env = [("DBTEST_DATABASE_URL", base)];
    // Cold: no derived template (nor the template below them); each group's first run builds.
    forget_bench_template(rt, conn);
    let mut cold: BTreeMap<&str, Duration> = BTreeMap::new();
    for group in groups {
        cold.insert(group, run_group(&dbtest_bin, group, &dbtest_env));
    }
    let mut walls: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut whole: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    let mut share: BTreeMap<&str, Vec<Duration>> = BTreeMap::new();
    for _ in 0..WARM_RUNS {
        for group in groups {
            walls
                .entry(group)
                .or_default()
                .push(run_group(&dbtest_bin, group, &dbtest_env));
            let (all, ours) = whole_and_share(timings);
            whole.entry(group).or_default().extend(all);
            share.entry(group).or_default().extend(ours);
        }
    }
    let sqlx_env = [("DATABASE_URL", sqlx_url.as_str())];
    let sqlx_wall = run_group(&sqlx_bin, "fixtures", &sqlx_env);
    let tests = 16;
    let sqlx_per_test = sqlx_wall / tests;
    rt.block_on(conn.execute(sql::raw_sql(&format!("DROP DATABASE {SCRATCH}"))))
        .unwrap();

    println!(
        "
layers: {tests} tests a group, each needing 210 rows in 10 tables (100-table schema), one thread;"
    );
    println!("per test = from its start to its end (p50 of {WARM_RUNS} warm runs); dbtest's share = all but the body;");
    println!("cold = the group's first run, which builds its template (the bare one first, then derived ones)
");
    println!(
        "{:<34} {:>10} {:>12} {:>14} {:>10} {:>12}",
        "group", "wall", "per test", "dbtest share", "cold", "vs sqlx"
    );
    println!(
        "{:<34} {:>10.3?} {:>12.1?} {:>14} {:>10} {:>12}",
        "#[sqlx::test] fixtures(3 files)", sqlx_wall, sqlx_per_test, "-", "-", "1.0x"
    );
    for group in groups {
        let label = match group {
            "bare" => "db_test, no rows",
            "fixtures" => "db_test fixtures(3 files)",
            "replayed" => "db_test, 3 files run in the body",
            "setup" => "db_test setup = seed",
            _ => "db_test, seed called in the body",
        };
        let per_test = percentile(&whole[group], 50);
        println!(
            "{:<34} {:>10.3?} {:>12.1?} {:>14.1?} {:>10.3?} {:>11.1}x",
            label,
            percentile(&walls[group], 50),
            per_test,
            percentile(&share[group], 50),
            cold[group],
            sqlx_per_test.as_secs_f64() / per_test.as_secs_f64()
        );
    }
}

/// Per-test times from a DBTEST_TIMINGS file: the whole test (template, acquire, body, release)
/// and dbtest's share of it (all but the body).
fn whole_and_share(path: &Path) -> (Vec<Duration>, Vec<Duration>) {
    test_lines(path)
        .map(|[template, acquire, body, release]| {
            (
                Duration::from_micros(template + acquire + body + release),
                Duration::from_micros(template + acquire + release),
            )
        })
        .unzip()
}

/// The release series: `tests/series.rs` (20 tests, each reads a seed row and inserts one row
/// into one table) on schemas of 25, 50, 100 and 200 tables (`dbtest_tests::series`), warm, at
/// one thread: the release on the test's critical path, and the reset after it.
fn series(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection, base: &str, timings: &Path) {
    let bin = test_binary("dbtest-tests", "series", &[]);
    println!("\nrelease series (tests/series.rs: 20 tests, one row into one table each; warm, 1 thread; 3 runs)");
    println!(
        "{:>7} {:>10} {:>12} {:>12} {:>12} {:>12}",
        "tables", "suite", "release p50", "release p95", "reset p50", "reset p95"
    );
    for tables in [25, 50, 100, 200] {
        let dir =
            std::env::temp_dir().join(format!("dbtest-series-{}-{tables}", std::process::id()));
        dbtest_tests::series::write_schema(&dir, tables);
        let run = || {
            let _ = std::fs::remove_file(timings);
            let started = Instant::now();
            let out = Command::new(&bin)
                .args(["-q", "--ignored", "--test-threads", "1"])
                .env("DBTEST_DATABASE_URL", base)
                .env("DBTEST_SERIES_MIGRATIONS", &dir)
                .env("DBTEST_TIMINGS", timings)
                .output()
                .expect("run the series");
            assert!(
                out.status.success(),
                "series failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
            started.elapsed()
        };
        run(); // cold: builds the template and fills the pool
        let (mut walls, mut releases, mut resets) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..3 {
            walls.push(run());
            releases.extend(release_times(timings));
            resets.extend(reset_times(timings));
        }
        let p = |v: &[Duration], q| {
            if v.is_empty() {
                "-".to_owned()
            } else {
                format!("{:.1?}", percentile(v, q))
            }
        };
        println!(
            "{tables:>7} {:>10.3?} {:>12} {:>12} {:>12} {:>12}",
            percentile(&walls, 50),
            p(&releases, 50),
            p(&releases, 95),
            p(&resets, 50),
            p(&resets, 95)
        );
        forget_templates_with(rt, conn, "t0");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

/// Runs of one mode: their suite times, and the per-test figures of all of them.
#[derive(Default)]
struct Runs {
    walls: Vec<Duration>,
    acquisitions: Vec<Duration>,
    critical: Vec<Duration>,
    resets: Vec<Duration>,
}

impl Runs {
    /// A run that took `wall`, with the figures the runtime wrote to `timings` for it.
    fn add(&mut self, wall: Duration, timings: &Path) {
        let (acquisitions, critical) = acquisitions(timings);
        self.walls.push(wall);
        self.acquisitions.extend(acquisitions);
        self.critical.extend(critical);
        self.resets.extend(reset_times(timings));
    }
}

#[allow(non_camel_case_types)]
struct Row_ {
    mode: String,
    state: String,
    threads: String,
    wall: Duration,
    p50: Duration,
    p95: Duration,
    /// dbtest's critical path (all but the body), p50 and p95; none for `#[sqlx::test]`.
    critical: Option<(Duration, Duration)>,
    /// The reset after a test, off its critical path, p50; none where nothing is reset.
    reset: Option<Duration>,
    /// The fastest and slowest of the runs `wall` is the median of.
    range: Option<(Duration, Duration)>,
}

impl Row_ {
    /// The median of `runs`, with the per-test figures of all of them.
    fn of_runs(mode: &str, state: &str, threads: &str, runs: &Runs, tests: usize) -> Row_ {
        let mut row = Row_::new(
            mode,
            state,
            threads,
            percentile(&runs.walls, 50),
            &(runs.acquisitions.clone(), runs.critical.clone()),
            tests,
        );
        row.reset = (!runs.resets.is_empty()).then(|| percentile(&runs.resets, 50));
        row.range = Some((percentile(&runs.walls, 0), percentile(&runs.walls, 100)));
        row
    }

    fn new(
        mode: &str,
        state: &str,
        threads: &str,
        wall: Duration,
        (acquisitions, critical): &(Vec<Duration>, Vec<Duration>),
        tests: usize,
    ) -> Row_ {
        let (p50, p95) = if acquisitions.is_empty() {
            let t: u32 = threads.parse().unwrap_or(1);
            let mean = wall * t / tests as u32;
            (mean, mean)
        } else {
            (percentile(acquisitions, 50), percentile(acquisitions, 95))
        };
        Row_ {
            mode: mode.into(),
            state: state.into(),
            threads: threads.into(),
            wall,
            p50,
            p95,
            critical: (!critical.is_empty())
                .then(|| (percentile(critical, 50), percentile(critical, 95))),
            reset: None,
            range: None,
        }
    }
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

fn percentile(v: &[Duration], p: usize) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[((v.len() * p).div_ceil(100))
        .saturating_sub(1)
        .min(v.len() - 1)]
}

/// Per-test times from a DBTEST_TIMINGS file (test, template, acquire, body, release): the
/// acquisition (template + acquire) and dbtest's whole share of the test, its critical path
/// (everything but the body: template + acquire + release).
fn acquisitions(path: &Path) -> (Vec<Duration>, Vec<Duration>) {
    test_lines(path)
        .map(|[template, acquire, _body, release]| {
            (
                Duration::from_micros(template + acquire),
                Duration::from_micros(template + acquire + release),
            )
        })
        .unzip()
}

/// The test lines of a DBTEST_TIMINGS file: microseconds of template, acquire, body, release.
fn test_lines(path: &Path) -> impl Iterator<Item = [u64; 4]> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<[u64; 4]> = text
        .lines()
        .filter_map(|l| {
            let f: Vec<u64> = l
                .split('\t')
                .skip(1)
                .map(|v| v.parse().ok())
                .collect::<Option<_>>()?;
            f.try_into().ok()
        })
        .collect();
    lines.into_iter()
}

/// The background resets' times from a DBTEST_TIMINGS file (lines `test, "reset", µs`).
fn reset_times(path: &Path) -> Vec<Duration> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| match l.split('\t').collect::<Vec<_>>()[..] {
            [_, "reset", us] => us.parse().ok().map(Duration::from_micros),
            _ => None,
        })
        .collect()
}

/// The per-test release times from a DBTEST_TIMINGS file (the last of a test line's fields).
fn release_times(path: &Path) -> Vec<Duration> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| match l.split('\t').collect::<Vec<_>>()[..] {
            [_, _, _, _, us] => us.parse().ok().map(Duration::from_micros),
            _ => None,
        })
        .collect()
}

/// `cargo nextest run -p bench`: wall time, and per-test times from its output.
fn nextest(env: &[(&str, &str)], extra: &[&str]) -> (Duration, Vec<Duration>) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO"))
        .args([
            "nextest",
            "run",
            "-p",
            "bench",
            "--test",
            "bench",
            "--no-fail-fast",
        ])
        .args(extra)
        .env_remove("DATABASE_URL")
        .env_remove("DBTEST_DATABASE_URL")
        .envs(env.iter().copied())
        .output()
        .expect("cargo nextest");
    let wall = started.elapsed();
    let text =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "nextest failed:\n{text}");
    let per_test = text
        .lines()
        .filter_map(|l| l.trim_start().strip_prefix("PASS ["))
        .filter_map(|l| l.split('s').next()?.trim().parse::<f64>().ok())
        .map(Duration::from_secs_f64)
        .collect();
    (wall, per_test)
}

/// The mode of the floor's rows.
const FLOOR: &str = "floor (bodies alone)";

/// The names of the tests in test binary `bin`.
fn test_names(bin: &str) -> Vec<String> {
    let out = Command::new(bin)
        .arg("--list")
        .output()
        .expect("list the tests");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.strip_suffix(": test"))
        .map(str::to_owned)
        .collect()
}

/// A fresh copy of the template (the statements `copy`) for each test of `names`, as
/// `benchfloor_<name>`.
fn make_floor(
    rt: &tokio::runtime::Runtime,
    conn: &mut MySqlConnection,
    names: &[String],
    copy: &str,
) {
    drop_floor(rt, conn, names);
    for name in names {
        let db = format!("benchfloor_{name}");
        rt.block_on(conn.execute(sql::raw_sql(&format!(
            "CREATE DATABASE {db}; USE {db}; {copy}; SET SESSION foreign_key_checks = 1"
        ))))
        .unwrap();
    }
}

fn drop_floor(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection, names: &[String]) {
    for name in names {
        rt.block_on(conn.execute(sql::raw_sql(&format!(
            "DROP DATABASE IF EXISTS benchfloor_{name}"
        ))))
        .unwrap();
    }
}

/// The benchmark's template (the newest, if there are several).
fn bench_template(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection) -> String {
    rt.block_on(
        sqlx::query_scalar(
            "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4) FROM information_schema.TABLES \
             WHERE TABLE_NAME = 'journal_lines' AND TABLE_SCHEMA LIKE 'dbtest\\_tpl\\_%' \
             ORDER BY CREATE_TIME DESC LIMIT 1",
        )
        .fetch_one(&mut *conn),
    )
    .unwrap()
}

/// Drops the benchmark's template and its warm pool, so the next run starts cold.
fn forget_bench_template(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection) {
    forget_templates_with(rt, conn, "project_task_counts");
}

/// Drops every template holding a table or view named `object`, and its warm pool.
fn forget_templates_with(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection, object: &str) {
    let names: Vec<String> = rt
        .block_on(async {
            let templates: Vec<String> = sqlx::query_scalar(
                "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4) FROM information_schema.TABLES \
                 WHERE TABLE_NAME = ? AND TABLE_SCHEMA LIKE 'dbtest\\_tpl\\_%'",
            )
            .bind(object)
            .fetch_all(&mut *conn)
            .await?;
            let mut names = Vec::new();
            for t in templates {
                let pool: Vec<String> = sqlx::query_scalar(
                    "SELECT CONVERT(name USING utf8mb4) FROM dbtest_registry.databases WHERE template = ?",
                )
                .bind(&t)
                .fetch_all(&mut *conn)
                .await?;
                names.extend(pool);
                names.push(t);
            }
            Ok::<_, sqlx::Error>(names)
        })
        .unwrap_or_default();
    for n in names {
        rt.block_on(conn.execute(sql::raw_sql(&format!(
            "DROP DATABASE IF EXISTS `{n}`; DELETE FROM dbtest_registry.databases WHERE name = '{n}'"
        ))))
        .unwrap();
    }
}

fn floor_vs_clone(
    rt: &tokio::runtime::Runtime,
    conn: &mut MySqlConnection,
    bin: &str,
    base: &str,
    timings: &Path,
) {
    // A fresh clone, measured by the runtime (connection slot, clone request), once per test.
    let env = [
        ("DBTEST_DATABASE_URL", base),
        ("DBTEST_REUSE", "never"),
        ("DBTEST_WARM", "0"),
    ];
    let _ = std::fs::remove_file(timings);
    let out = Command::new(bin)
        .args(["-q", "--test-threads", "1"])
        .env("DBTEST_TIMINGS", timings)
        .envs(env)
        .current_dir(BENCH_DIR)
        .output()
        .unwrap();
    assert!(out.status.success());
    let clones: Vec<Duration> = std::fs::read_to_string(timings)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| Some(Duration::from_micros(l.split('\t').nth(2)?.parse().ok()?)))
        .collect();
    // The floor: only the template's DDL (CREATE TABLE/VIEW/TRIGGER), in one request, as the
    // server itself shows it (`SHOW CREATE`, nothing of dbtest's), for the template this run used.
    let template = bench_template(rt, conn);
    let ddl = template_ddl(rt, conn, &template, false);
    let mut floor = Vec::new();
    for i in 0..5 {
        let db = format!("benchfloor_scratch_{i}");
        let sql = format!("CREATE DATABASE {db}; USE {db}; {}", ddl.join(";\n"));
        assert!(
            ddl.len() > 100,
            "the floor replays the template's tables: {}",
            ddl.len()
        );
        let started = Instant::now();
        rt.block_on(sql::raw_sql(&sql).execute(&mut *conn)).unwrap();
        floor.push(started.elapsed());
        rt.block_on(conn.execute(sql::raw_sql(&format!("DROP DATABASE {db}"))))
            .unwrap();
    }
    let (c, f) = (percentile(&clones, 50), percentile(&floor, 50));
    println!(
        "\nclone vs floor: a fresh clone (slot + clone request) median {c:.1?} over {} clones; the template's DDL alone \
         in one request median {f:.1?} over 5; ratio {:.2} (target <= 1.2)",
        clones.len(),
        c.as_secs_f64() / f.as_secs_f64()
    );
}

/// The statements that make a copy of `template` in the session's default database, from what
/// the server shows of it (`SHOW CREATE`, nothing of dbtest's): its tables, with their rows when
/// `with_rows`, its views and triggers.
fn template_ddl(
    rt: &tokio::runtime::Runtime,
    conn: &mut MySqlConnection,
    template: &str,
    with_rows: bool,
) -> Vec<String> {
    let objects: Vec<(String, String)> = rt
        .block_on(
            sqlx::query_as(
                "SELECT CONVERT(TABLE_NAME USING utf8mb4), CONVERT(TABLE_TYPE USING utf8mb4) \
                 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME <> '_dbtest_template' \
                 AND TABLE_NAME <> '_dbtest_seal' UNION ALL \
                 SELECT CONVERT(TRIGGER_NAME USING utf8mb4), 'TRIGGER' FROM information_schema.TRIGGERS \
                 WHERE EVENT_OBJECT_SCHEMA = ?",
            )
            .bind(template)
            .bind(template)
            .fetch_all(&mut *conn),
        )
        .unwrap();
    let mut ddl = vec!["SET SESSION foreign_key_checks = 0".to_owned()];
    // Tables, then (when asked) their rows, then views, then triggers (so that no trigger fires
    // as rows are copied).
    for pass in ["BASE TABLE", "rows", "VIEW", "TRIGGER"] {
        if pass == "rows" {
            if with_rows {
                for (name, _) in objects.iter().filter(|(_, k)| k == "BASE TABLE") {
                    ddl.push(format!(
                        "INSERT INTO `{name}` SELECT * FROM `{template}`.`{name}`"
                    ));
                }
            }
            continue;
        }
        for (name, kind) in objects.iter().filter(|(_, k)| k == pass) {
            let show = match kind.as_str() {
                "VIEW" => "VIEW",
                "TRIGGER" => "TRIGGER",
                _ => "TABLE",
            };
            let row = rt
                .block_on(
                    sql::query(&format!("SHOW CREATE {show} `{template}`.`{name}`"))
                        .fetch_one(&mut *conn),
                )
                .unwrap();
            let at = if show == "TRIGGER" { 2 } else { 1 };
            // Without the template's qualifier (views name their tables with it), as a clone has it.
            let text = String::from_utf8_lossy(&row.get::<Vec<u8>, _>(at))
                .replace(&format!("`{template}`."), "");
            ddl.push(text);
        }
    }
    ddl
}

fn herd(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection, bin: &str, base: &str) {
    // One migration run: the migrations alone on a scratch database.
    let migrator = rt
        .block_on(sqlx::migrate::Migrator::new(
            PathBuf::from(BENCH_DIR).join("migrations"),
        ))
        .unwrap();
    rt.block_on(conn.execute(
        "DROP DATABASE IF EXISTS benchmigrate_scratch; CREATE DATABASE benchmigrate_scratch",
    ))
    .unwrap();
    let mut scratch = rt
        .block_on(MySqlConnection::connect(&format!(
            "{base}/benchmigrate_scratch"
        )))
        .unwrap();
    let started = Instant::now();
    rt.block_on(migrator.run(&mut scratch)).unwrap();
    let migrate = started.elapsed();
    drop(scratch);
    rt.block_on(conn.execute("DROP DATABASE benchmigrate_scratch"))
        .unwrap();

    forget_bench_template(rt, conn);
    let timings =
        std::env::temp_dir().join(format!("dbtest-bench-herd-{}.tsv", std::process::id()));
    let _ = std::fs::remove_file(&timings);
    let started = Instant::now();
    let children: Vec<_> = (0..16)
        .map(|i| {
            Command::new(bin)
                .args(["-q", "--exact", &format!("t{:02}", i)])
                .env("DBTEST_DATABASE_URL", base)
                .env("DBTEST_REUSE", "never")
                .env("DBTEST_WARM", "0")
                .env("DBTEST_TIMINGS", &timings)
                .current_dir(BENCH_DIR)
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let total = started.elapsed();
    let clones: Vec<Duration> = std::fs::read_to_string(&timings)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| Some(Duration::from_micros(l.split('\t').nth(2)?.parse().ok()?)))
        .collect();
    let _ = std::fs::remove_file(&timings);
    let clone = percentile(&clones, 50);
    let budget = (migrate + clone * 16).mul_f64(1.2);
    println!(
        "16 processes at once, cold template: total {total:.2?}; one migration run {migrate:.2?}, a clone (median) \
         {clone:.1?}; target (migration + 16 clones + 20%) {budget:.2?}: {}",
        if total <= budget { "met" } else { "not met" }
    );
}
