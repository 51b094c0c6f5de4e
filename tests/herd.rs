//! The herd: 16 test processes start at once on a cold template. Exactly one of them runs the
//! migrations (counted through a side effect outside the template), and all 16 get working clones
//! of their own.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::io::Write;
use std::process::Stdio;
use std::sync::LazyLock;
use std::time::{Duration, Instant};

use dbtest_runtime::db_test;
use dbtest_tests::{admin, drop_template, migrator_from_env, only_database_like, run_id, sql};
use sqlx::migrate::Migrator;
use sqlx::{Executor, MySqlPool};

const PROCESSES: usize = 16;
/// Set for the child processes: the migrations directory and the probe database.
const DIR_ENV: &str = "DBTEST_HERD_MIGRATIONS";
const PROBE_ENV: &str = "DBTEST_HERD_PROBE";

/// Built from the directory the parent wrote, so every run starts on a cold template.
static HERD: LazyLock<Migrator> = LazyLock::new(|| migrator_from_env(DIR_ENV));

#[db_test(migrator = "HERD")]
#[ignore = "one of the herd; started by `sixteen_processes_build_the_template_once`"]
async fn herd_member(pool: MySqlPool) -> sqlx::Result<()> {
    let probe = std::env::var(PROBE_ENV).expect("started by the herd test");
    // The clone works and holds the seed row.
    let seeded: String = sqlx::query_scalar("SELECT name FROM herd_items WHERE id = 1")
        .fetch_one(&pool)
        .await?;
    assert_eq!(seeded, "seeded");
    sqlx::query("INSERT INTO herd_items (name) VALUES ('mine')")
        .execute(&pool)
        .await?;
    sql::query(&format!(
        "INSERT INTO `{probe}`.clones (db, pid) VALUES (DATABASE(), ?)"
    ))
    .bind(std::process::id())
    .execute(&pool)
    .await?;
    Ok(())
}

#[test]
fn sixteen_processes_build_the_template_once() {
    let rt = dbtest_tests::runtime();
    let id = run_id();
    let probe = format!("herdprobe_{id}");
    let dir = std::env::temp_dir().join(format!("dbtest-herd-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    // The nonce makes this run's migration set, and so its template, new.
    std::fs::write(
        dir.join("1_items.sql"),
        format!(
            "-- herd run {id}\n\
             CREATE TABLE herd_items (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20) NOT NULL);\n\
             INSERT INTO herd_items (name) VALUES ('seeded');\n\
             INSERT INTO `{probe}`.migration_runs (connection_id) VALUES (CONNECTION_ID());\n"
        ),
    )
    .unwrap();
    // A slow second migration widens the window in which the others must wait, not build.
    std::fs::write(dir.join("2_slow.sql"), "DO SLEEP(1);\n").unwrap();

    let mut conn = rt.block_on(admin());
    rt.block_on(conn.execute(sql::raw_sql(&format!(
        "CREATE DATABASE `{probe}`; \
         CREATE TABLE `{probe}`.migration_runs (connection_id BIGINT NOT NULL); \
         CREATE TABLE `{probe}`.clones (db VARCHAR(64) NOT NULL PRIMARY KEY, pid INT NOT NULL)"
    ))))
    .unwrap();

    let started = Instant::now();
    // One waiter thread per child, so each child's own finishing time is seen.
    let children: Vec<_> = (0..PROCESSES)
        .map(|_| {
            let child = dbtest_tests::member("herd_member")
                .args(["--test-threads", "1"])
                .env(DIR_ENV, &dir)
                .env(PROBE_ENV, &probe)
                // Sixteen fresh clones: no database goes back to a pool for a later member.
                .env("DBTEST_REUSE", "never")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            std::thread::spawn(move || {
                let out = child.wait_with_output().unwrap();
                (started.elapsed(), out)
            })
        })
        .collect();
    let mut took = Vec::new();
    let mut failures = Vec::new();
    for child in children {
        let (elapsed, out) = child.join().unwrap();
        took.push(elapsed);
        if !out.status.success() {
            failures.push(format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
    }
    let wall = started.elapsed();

    let (runs, clones, leftovers, template) = rt.block_on(async {
        let runs: i64 =
            sql::query_scalar(&format!("SELECT COUNT(*) FROM `{probe}`.migration_runs"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
        let clones: Vec<String> = sql::query_scalar(&format!("SELECT db FROM `{probe}`.clones"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        let digest = clones
            .first()
            .map(|c| c["dbtest_db_".len().."dbtest_db_".len() + 8].to_owned());
        let (leftovers, template) = match &digest {
            Some(d) => {
                let left: i64 = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
                )
                .bind(format!("dbtest\\_db\\_{d}\\_%"))
                .fetch_one(&mut conn)
                .await
                .unwrap();
                (
                    left,
                    Some(only_database_like(&mut conn, &format!("dbtest\\_tpl\\_{d}")).await),
                )
            }
            None => (0, None),
        };
        // Leave the server as it was: the probe, and this run's one-off template.
        conn.execute(sql::raw_sql(&format!("DROP DATABASE `{probe}`")))
            .await
            .unwrap();
        if let Some(t) = &template {
            drop_template(&mut conn, t).await;
        }
        (runs, clones, leftovers, template)
    });
    let _ = std::fs::remove_dir_all(&dir);

    took.sort();
    let median = took[took.len() / 2];
    let mut report = std::io::stderr();
    writeln!(
        report,
        "herd: {PROCESSES} processes, wall {wall:.2?}; a process finished after: fastest {:.2?}, median {median:.2?}, \
         slowest {:.2?}; migration runs {runs}; clones {}",
        took[0],
        took[took.len() - 1],
        clones.len()
    )
    .unwrap();

    assert!(
        failures.is_empty(),
        "{} of {PROCESSES} failed:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
    assert_eq!(runs, 1, "exactly one process runs the migrations");
    let mut distinct = clones.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        distinct.len(),
        PROCESSES,
        "every process got a database of its own: {clones:?}"
    );
    assert_eq!(leftovers, 0, "every test database was dropped");
    assert!(template.is_some());
    assert!(wall < Duration::from_secs(120), "the herd took {wall:?}");
}
