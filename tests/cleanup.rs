//! A test's database is dropped whatever the test did (with `DBTEST_KEEP=never`), or kept when it
//! failed (the default), and the test's outcome is reported unchanged. The failing tests run as
//! child processes of the real tests here, which then look at the server.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::process::Command;

use dbtest_runtime::db_test;
use dbtest_tests::{admin, announce_database, announced_database};
use sqlx::MySqlPool;

const CHILD_ENV: &str = "DBTEST_CLEANUP_CHILD";

#[db_test(migrations = false)]
#[ignore = "fails on purpose; started by `a_panicking_test_fails_and_its_database_is_dropped`"]
async fn child_panics(pool: MySqlPool) {
    announce_database(&pool).await;
    sqlx::query("CREATE TABLE t (id INT)")
        .execute(&pool)
        .await
        .unwrap();
    panic!("boom from the test body");
}

#[db_test(migrations = false)]
#[ignore = "fails on purpose; started by `a_test_returning_err_fails_and_its_database_is_dropped`"]
async fn child_returns_err(pool: MySqlPool) -> Result<(), String> {
    announce_database(&pool).await;
    Err("the body's own error".into())
}

#[db_test(migrations = "tests/broken/migrations")]
#[ignore = "fails on purpose; started by `a_bad_migration_fails_every_test_and_names_its_file`"]
async fn child_broken_one(_pool: MySqlPool) {}

#[db_test(migrations = "tests/broken/migrations")]
#[ignore = "fails on purpose; started by `a_bad_migration_fails_every_test_and_names_its_file`"]
async fn child_broken_two(_pool: MySqlPool) {}

struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

fn run_child(filter: &str, exact: bool) -> Outcome {
    run_child_with(filter, exact, &[("DBTEST_KEEP", "never")])
}

fn run_child_with(filter: &str, exact: bool, env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg(filter)
        .args(["--ignored", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, "1")
        .envs(env.iter().copied());
    if exact {
        cmd.arg("--exact");
    }
    let out = cmd.output().unwrap();
    Outcome {
        success: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn child_db(out: &Outcome) -> String {
    announced_database(&out.stdout).unwrap_or_else(|| {
        panic!(
            "the child named no database:\n{}\n{}",
            out.stdout, out.stderr
        )
    })
}

async fn exists(db: &str) -> bool {
    let mut conn = admin().await;
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(db)
    .fetch_one(&mut conn)
    .await
    .unwrap();
    n == 1
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    dbtest_tests::runtime().block_on(f)
}

#[test]
fn a_panicking_test_fails_and_its_database_is_dropped() {
    let out = run_child("child_panics", true);
    assert!(!out.success, "the panic fails the test");
    assert!(
        out.stderr.contains("boom from the test body"),
        "the panic message is shown:\n{}",
        out.stderr
    );
    let db = child_db(&out);
    assert!(db.starts_with("dbtest_db_"), "{db}");
    assert!(!block_on(exists(&db)), "`{db}` was left behind");
}

#[test]
fn a_test_returning_err_fails_and_its_database_is_dropped() {
    let out = run_child("child_returns_err", true);
    assert!(!out.success, "Err fails the test");
    assert!(
        out.stderr
            .contains(r#"test returned Err: "the body's own error""#),
        "{}",
        out.stderr
    );
    let db = child_db(&out);
    assert!(!block_on(exists(&db)), "`{db}` was left behind");
}

#[test]
fn a_bad_migration_fails_every_test_and_names_its_file() {
    // Both tests in one process: the first builds and fails, the second gets the cached error.
    let out = run_child_with(
        "child_broken_",
        false,
        &[("DBTEST_KEEP", "never"), ("DBTEST_LOG", "debug")],
    );
    assert!(!out.success);
    let builds = out.stderr.matches("dbtest: building template").count();
    assert_eq!(builds, 1, "one build, its error cached:\n{}", out.stderr);
    let failures: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("0002_broken.sql"))
        .collect();
    assert_eq!(
        failures.len(),
        2,
        "both tests fail naming the file:\n{}",
        out.stderr
    );
    for line in &failures {
        assert!(
            line.contains("migration `")
                && line.contains("failed while building template `dbtest_tpl_"),
            "{line}"
        );
        assert!(
            line.contains("NOT_A_TYPE"),
            "the server's reason is kept: {line}"
        );
    }
    assert!(out.stdout.contains("2 failed"), "{}", out.stdout);
    // The failed template was dropped: it could never become ready.
    let template = failures[0]
        .split("template `")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .unwrap();
    assert!(!block_on(exists(template)), "`{template}` was left behind");
}

#[db_test(migrations = false)]
#[ignore = "passes; started by `keep_always_keeps_passing_tests_too`"]
async fn child_passes(pool: MySqlPool) {
    announce_database(&pool).await;
}

#[db_test(migrations = false)]
#[should_panic(expected = "as it should")]
#[ignore = "started by `a_should_panic_test_that_panics_has_passed`"]
async fn child_should_panic(pool: MySqlPool) {
    announce_database(&pool).await;
    panic!("as it should");
}

/// Registry state of `db`: (registered, kept).
async fn registry_state(db: &str) -> (bool, bool) {
    let mut conn = admin().await;
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT kept_at IS NOT NULL FROM dbtest_registry.databases WHERE name = ?")
            .bind(db)
            .fetch_optional(&mut conn)
            .await
            .unwrap();
    (row.is_some(), row.is_some_and(|(k,)| k == 1))
}

/// Serialises the tests that keep databases, across processes too (nextest runs each test in a
/// process of its own): `sweep_kept` retires every kept database on the server. The lock lives
/// as long as the connection returned.
fn keeping() -> (tokio::runtime::Runtime, sqlx::MySqlConnection) {
    dbtest_tests::serial("dbtest_tests_keeping")
}

/// Drops a kept database the way the sweep would once it is past DBTEST_KEEP_MAX: by running a
/// member with `DBTEST_KEEP_MAX=0`.
fn sweep_kept() {
    let out = run_child_with(
        "child_passes",
        true,
        &[("DBTEST_KEEP", "never"), ("DBTEST_KEEP_MAX", "0")],
    );
    assert!(out.success, "{}\n{}", out.stdout, out.stderr);
}

#[test]
fn a_failed_test_keeps_its_database_by_default_until_the_sweep_retires_it() {
    let _serial = keeping();
    let out = run_child_with("child_returns_err", true, &[]);
    assert!(!out.success);
    let db = child_db(&out);
    assert!(block_on(exists(&db)), "the failed test's `{db}` is kept");
    assert_eq!(block_on(registry_state(&db)), (true, true));
    let line = out
        .stderr
        .lines()
        .find(|l| l.contains("dbtest: kept database `"))
        .unwrap_or_else(|| panic!("{}", out.stderr));
    assert!(
        line.contains(&format!(
            "kept database `{db}` of failed test cleanup::child_returns_err"
        )),
        "{line}"
    );
    assert!(
        line.contains(" -u ") && line.ends_with(&format!(" {db}")),
        "a ready-to-paste command: {line}"
    );
    assert!(
        line.contains("inspect it with: mariadb ") || line.contains("inspect it with: mysql "),
        "{line}"
    );

    sweep_kept();
    assert!(
        !block_on(exists(&db)),
        "past DBTEST_KEEP_MAX, `{db}` is swept"
    );
    assert_eq!(block_on(registry_state(&db)), (false, false));
}

#[test]
fn keep_always_keeps_passing_tests_too() {
    let _serial = keeping();
    let out = run_child_with("child_passes", true, &[("DBTEST_KEEP", "always")]);
    assert!(out.success, "{}", out.stderr);
    let db = child_db(&out);
    assert!(block_on(exists(&db)));
    assert!(
        out.stderr
            .contains(&format!("kept database `{db}` of passed test")),
        "{}",
        out.stderr
    );
    sweep_kept();
    assert!(!block_on(exists(&db)));
}

#[test]
fn a_should_panic_test_that_panics_has_passed() {
    let out = run_child_with("child_should_panic", true, &[]);
    assert!(out.success, "{}", out.stderr);
    let db = child_db(&out);
    assert!(
        !block_on(registry_state(&db)).1,
        "a passing should_panic test is not kept"
    );
}
