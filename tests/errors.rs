//! Bad input gets a clear error that says what to do, within a bound, and never shows a password:
//! an unreachable server, a user without privileges, a failing fixture. Each case runs as a child
//! process of the test that checks its message.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::time::{Duration, Instant};

use dbtest_runtime::db_test;
use dbtest_tests::{run_id, sql, url_for};
use sqlx::{Executor, MySqlPool};

#[db_test(migrations = "tests/simple/migrations")]
#[ignore = "started by the tests in this file"]
async fn member(_pool: MySqlPool) {}

#[db_test(migrations = "tests/simple/migrations", fixtures("broken"))]
#[ignore = "fails on purpose; started by `a_failing_fixture_names_its_file`"]
async fn member_with_broken_fixture(_pool: MySqlPool) {}

/// Runs test `name` with `env`; returns (success, stderr, how long it took).
fn child(name: &str, env: &[(&str, &str)]) -> (bool, String, Duration) {
    let started = Instant::now();
    let out = dbtest_tests::member(name)
        .env("DBTEST_KEEP", "never")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

/// The test's failure message (not the sweep's report, which a first test may print before it).
fn the_line(stderr: &str) -> &str {
    // The panic's message: the first `dbtest: ` line after "panicked at" (a run may print other
    // `dbtest: ` lines before it, about its template, its sweep or its server).
    stderr
        .lines()
        .skip_while(|l| !l.contains("panicked at"))
        .find(|l| l.starts_with("dbtest: "))
        .unwrap_or_else(|| panic!("no dbtest failure in:\n{stderr}"))
}

#[test]
fn an_unreachable_server_fails_fast_and_hides_the_password() {
    // Nothing listens on port 1: refused at once.
    let (ok, stderr, took) = child(
        "member",
        &[
            (
                "DBTEST_DATABASE_URL",
                "mysql://app:s3cret-pw@127.0.0.1:1/db",
            ),
            ("DBTEST_CONNECT_TIMEOUT", "5"),
        ],
    );
    assert!(!ok);
    let line = the_line(&stderr);
    assert!(
        line.starts_with("dbtest: could not connect to mysql://app:***@127.0.0.1:1/db: "),
        "{line}"
    );
    assert!(
        !stderr.contains("s3cret-pw"),
        "the password leaked:\n{stderr}"
    );
    assert!(took < Duration::from_secs(30), "took {took:?}");
}

/// A server that takes the connection and never answers (a stalled one): the wait is
/// DBTEST_CONNECT_TIMEOUT's, and the error says what it waited for.
#[test]
fn a_server_that_never_answers_fails_within_the_connect_timeout() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "mysql://app:s3cret-pw@127.0.0.1:{}/db",
        silent.local_addr().unwrap().port()
    );
    let started = Instant::now();
    let mut member = dbtest_tests::member("member");
    member
        .env("DBTEST_DATABASE_URL", &url)
        .env("DBTEST_CONNECT_TIMEOUT", "2");
    let out = dbtest_tests::output_within(member, Duration::from_secs(20));
    let took = started.elapsed();
    drop(silent);
    let out = out.expect("the test still waited after 20 s");
    let (ok, stderr) = (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(!ok);
    let line = the_line(&stderr);
    assert!(
        line.starts_with("dbtest: could not connect to mysql://app:***@127.0.0.1:")
            && line.contains("no answer within 2s"),
        "{line}"
    );
    assert!(
        !stderr.contains("s3cret-pw"),
        "the password leaked:\n{stderr}"
    );
    assert!(took < Duration::from_secs(15), "took {took:?}");
}

#[test]
fn a_url_of_another_database_is_refused() {
    let (ok, stderr, _) = child(
        "member",
        &[("DBTEST_DATABASE_URL", "postgres://u:pw@localhost/x")],
    );
    assert!(!ok);
    let line = the_line(&stderr);
    assert!(
        line.contains("DBTEST_DATABASE_URL is not a valid MySQL URL") && line.contains("mysql://"),
        "{line}"
    );
    assert!(!stderr.contains(":pw@"), "{stderr}");
}

#[test]
fn a_failing_fixture_names_its_file() {
    let (ok, stderr, _) = child("member_with_broken_fixture", &[]);
    assert!(!ok);
    let line = the_line(&stderr);
    assert!(
        line.starts_with(
            "dbtest: fixture `fixtures/broken.sql` failed while building template `dbtest_tpl_"
        ),
        "{line}"
    );
    assert!(
        line.contains("no_such_table"),
        "the server's reason is kept: {line}"
    );
}

#[test]
fn a_user_without_privileges_is_told_the_grant_that_suffices() {
    let (rt, mut conn) = dbtest_tests::blocking_admin();
    let id = run_id();
    let (user, password) = (
        format!("dbtest_np_{}", &id[id.len() - 8..]),
        format!("pw{id}"),
    );
    rt.block_on(conn.execute(sql::raw_sql(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"
    ))))
    .expect("this test needs a user that may CREATE USER (scripts/with-mariadb sets one up)");
    let weak_url = url_for(&user, &password);
    let (ok, stderr, _) = child("member", &[("DBTEST_DATABASE_URL", &weak_url)]);
    // The grant the message names is all it takes. It matches every test database, so the tests
    // that prove databases reset and reused wait while it exists (see GRANTS).
    let _grants = dbtest_tests::serial_within(dbtest_tests::GRANTS, dbtest_tests::GRANTS_WAIT);
    rt.block_on(conn.execute(sql::raw_sql(&format!(
        "GRANT ALL PRIVILEGES ON `dbtest\\_%`.* TO '{user}'@'%'"
    ))))
    .unwrap();
    let (ok_with_grant, stderr_with_grant, _) =
        child("member", &[("DBTEST_DATABASE_URL", &weak_url)]);
    rt.block_on(conn.execute(sql::raw_sql(&format!("DROP USER '{user}'@'%'"))))
        .unwrap();
    assert!(
        ok_with_grant,
        "with the grant the message names, tests run:\n{stderr_with_grant}"
    );

    assert!(!ok);
    let line = the_line(&stderr);
    assert!(line.contains("the server refused"), "{line}");
    assert!(
        line.contains("GRANT ALL PRIVILEGES ON `dbtest\\_%`.* TO <user>"),
        "says which grant: {line}"
    );
    assert!(!stderr.contains(&password), "{stderr}");
}

#[test]
fn a_missing_server_binary_says_what_to_do() {
    let dir = std::env::temp_dir().join(format!("dbtest-nobin-{}", run_id()));
    let out = dbtest_tests::member("member")
        .env_remove("DBTEST_DATABASE_URL")
        .env_remove("DATABASE_URL")
        .env("DBTEST_SERVER_DIR", &dir)
        .env("DBTEST_MYSQLD", "/no/such/mariadbd")
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success());
    let line = the_line(&stderr);
    assert!(
        line.contains(
            "starting the embedded server (no DBTEST_DATABASE_URL or DATABASE_URL is set)"
        ) && line.contains("DBTEST_MYSQLD=/no/such/mariadbd is not a file"),
        "{line}"
    );
}
