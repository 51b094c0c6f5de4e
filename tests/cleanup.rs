//! A test's database is dropped whatever the test did, and the test's outcome is reported
//! unchanged. The failing tests run as child processes of the real tests here, which then look
//! at the server.

use std::process::Command;

use dbtest_runtime::db_test;
use dbtest_tests::admin;
use sqlx::MySqlPool;

const CHILD_ENV: &str = "DBTEST_CLEANUP_CHILD";

async fn announce(pool: &MySqlPool) {
    let db: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(pool)
        .await
        .unwrap();
    println!("CHILD_DB={db}");
}

#[db_test(migrations = false)]
#[ignore = "fails on purpose; started by `a_panicking_test_fails_and_its_database_is_dropped`"]
async fn child_panics(pool: MySqlPool) {
    announce(&pool).await;
    sqlx::query("CREATE TABLE t (id INT)")
        .execute(&pool)
        .await
        .unwrap();
    panic!("boom from the test body");
}

#[db_test(migrations = false)]
#[ignore = "fails on purpose; started by `a_test_returning_err_fails_and_its_database_is_dropped`"]
async fn child_returns_err(pool: MySqlPool) -> Result<(), String> {
    announce(&pool).await;
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
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.arg(filter)
        .args(["--ignored", "--nocapture", "--test-threads", "1"])
        .env(CHILD_ENV, "1");
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
    out.stdout
        .lines()
        .find_map(|l| l.split_once("CHILD_DB=").map(|(_, db)| db.trim()))
        .unwrap_or_else(|| {
            panic!(
                "the child named no database:\n{}\n{}",
                out.stdout, out.stderr
            )
        })
        .to_owned()
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
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
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
    let out = run_child("child_broken_", false);
    assert!(!out.success);
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
