//! Template builds across processes: a stalled build makes the other processes fail within
//! DBTEST_LOCK_TIMEOUT, with an error that names the lock, how long it waited, and who holds it —
//! instead of hanging; a builder killed mid-migration is replaced by the next process.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::process::Stdio;
use std::sync::LazyLock;
use std::time::Duration;

use dbtest_runtime::db_test;
use dbtest_tests::{
    admin, announce_template_digest, drop_template, migrator_from_env, run_id, sql,
    template_digest_in,
};
use sqlx::migrate::Migrator;
use sqlx::MySqlPool;

const DIR_ENV: &str = "DBTEST_LOCK_MIGRATIONS";

static SLOW: LazyLock<Migrator> = LazyLock::new(|| migrator_from_env(DIR_ENV));

#[db_test(migrator = "SLOW")]
#[ignore = "started by `a_stalled_build_fails_waiters_within_the_bound`"]
async fn lock_member(pool: MySqlPool) {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM slow")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(n, 0);
    announce_template_digest(&pool).await;
}

fn member(dir: &std::path::Path, lock_timeout: &str) -> std::process::Child {
    dbtest_tests::member("lock_member")
        .env(DIR_ENV, dir)
        .env("DBTEST_LOCK_TIMEOUT", lock_timeout)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Writes a one-off migration set that sleeps `seconds` in its migration, starts a builder on it,
/// and returns once the builder is inside that sleep (holding the template lock).
fn start_stalled_builder(
    rt: &tokio::runtime::Runtime,
    seconds: u32,
) -> (
    std::path::PathBuf,
    std::process::Child,
    sqlx::MySqlConnection,
) {
    let id = run_id();
    let dir = std::env::temp_dir().join(format!("dbtest-lock-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = format!("stalled build {id}");
    std::fs::write(
        dir.join("1_slow.sql"),
        format!("CREATE TABLE slow (id INT);\nSELECT SLEEP({seconds}) AS `{marker}`;\n"),
    )
    .unwrap();
    let builder = member(&dir, "120");
    let mut conn = rt.block_on(admin());
    let stalled = rt.block_on(async {
        for _ in 0..100 {
            let n: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE ?",
            )
            .bind(format!("%{marker}%"))
            .fetch_one(&mut conn)
            .await
            .unwrap();
            if n > 0 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    });
    assert!(stalled, "the builder never reached its slow migration");
    (dir, builder, conn)
}

#[test]
fn a_stalled_build_fails_waiters_within_the_bound() {
    let rt = dbtest_tests::runtime();
    // The builder: takes the template lock and stalls in its migration.
    let (dir, mut builder, mut conn) = start_stalled_builder(&rt, 8);

    // A waiter with a 1 s bound fails while the builder still sleeps.
    let waiter = member(&dir, "1").wait_with_output().unwrap();
    let builder_still_running = builder.try_wait().unwrap().is_none();
    let stderr = String::from_utf8_lossy(&waiter.stderr).into_owned();

    let built = builder.wait_with_output().unwrap();
    // Clean up this run's one-off template (its name is in the waiter's message).
    let template = stderr
        .split("guarding template `")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .map(str::to_owned);
    if let Some(t) = &template {
        rt.block_on(drop_template(&mut conn, t));
    }
    let _ = std::fs::remove_dir_all(&dir);

    assert!(
        !waiter.status.success(),
        "the waiter must fail, not wait:\n{stderr}"
    );
    assert!(
        builder_still_running,
        "the waiter gave up within its bound, long before the build ended"
    );
    let line = stderr
        .lines()
        .find(|l| l.contains("waited"))
        .unwrap_or_else(|| panic!("{stderr}"));
    assert!(
        line.contains("for lock `dbtest_tpl_"),
        "names the lock: {line}"
    );
    // How long, in whole seconds: at least its bound (1 s), and far less than the build's 8 s
    // (a slow machine may round 1.6 s up to "2s").
    let waited: u64 = line
        .split("waited ")
        .nth(1)
        .and_then(|rest| rest.split("s for lock").next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("says how long, in seconds: {line}"));
    assert!((1..=5).contains(&waited), "says how long: {line}");
    assert!(
        line.contains("held by connection ") && line.contains("state `User sleep`"),
        "says who holds it: {line}"
    );
    assert!(
        line.contains("raise DBTEST_LOCK_TIMEOUT"),
        "says what to do: {line}"
    );
    assert!(template.is_some());
    assert!(
        built.status.success(),
        "the builder itself succeeds:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
}

#[test]
fn a_builder_killed_mid_migration_is_replaced() {
    let rt = dbtest_tests::runtime();
    let (dir, mut builder, mut conn) = start_stalled_builder(&rt, 3);
    builder.kill().unwrap(); // SIGKILL, in the middle of the migration
    builder.wait().unwrap();

    // The next process finds no ready marker once the dead session's lock is gone, drops the
    // half-built template, builds it again and gets its clone.
    let next = member(&dir, "120").wait_with_output().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let out = format!(
        "{}{}",
        String::from_utf8_lossy(&next.stdout),
        String::from_utf8_lossy(&next.stderr)
    );
    let clone_prefix = template_digest_in(&out);
    assert!(
        next.status.success(),
        "the replacement builder fails:\n{out}"
    );
    let digest = clone_prefix.unwrap_or_else(|| panic!("the member named no database:\n{out}"));
    let template = rt.block_on(dbtest_tests::only_database_like(
        &mut conn,
        &format!("dbtest\\_tpl\\_{digest}"),
    ));
    let ready: i64 = rt
        .block_on(
            sql::query_scalar(&format!(
                "SELECT COUNT(*) FROM `{template}`._dbtest_template"
            ))
            .fetch_one(&mut conn),
        )
        .unwrap();
    rt.block_on(drop_template(&mut conn, &template));
    assert_eq!(ready, 1, "the rebuilt template is marked ready");
}

#[test]
fn a_build_past_its_bound_is_stopped_and_cleaned_up() {
    let rt = dbtest_tests::runtime();
    let id = run_id();
    let dir = std::env::temp_dir().join(format!("dbtest-lock-slow-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    let marker = format!("too slow {id}");
    // Work of tens of seconds that the server goes on with when its client goes (it ends a SLEEP
    // or a lock wait then by itself): only a KILL stops it.
    std::fs::write(
        dir.join("1_slow.sql"),
        format!(
            "CREATE TABLE slow (id INT);\nSELECT BENCHMARK(200000000, MD5('x')) AS `{marker}`;\n"
        ),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let out = dbtest_tests::member("lock_member")
        .env(DIR_ENV, &dir)
        .env("DBTEST_BUILD_TIMEOUT", "1")
        .output()
        .unwrap();
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let _ = std::fs::remove_dir_all(&dir);
    let template = stderr
        .split("building template `")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .map(str::to_owned);

    let mut conn = rt.block_on(admin());
    // The stuck migration was killed on the server, not left running.
    let still_sleeping = rt.block_on(dbtest_tests::statements_running(&mut conn, &marker));
    let left = match &template {
        Some(t) => rt.block_on(dbtest_tests::traces_of(&mut conn, t)),
        None => -1,
    };
    if let Some(t) = &template {
        rt.block_on(drop_template(&mut conn, t));
    }

    assert!(!out.status.success());
    assert!(
        stderr.contains("did not finish within 1s; raise DBTEST_BUILD_TIMEOUT"),
        "{stderr}"
    );
    assert!(
        took < Duration::from_secs(10),
        "stopped after {took:?}, not after the migration's tens of seconds"
    );
    assert_eq!(still_sleeping, 0, "the stuck migration was killed");
    assert_eq!(
        left, 0,
        "the unfinished template and its registry row are gone"
    );
}
