//! The connection budget across processes: 64 test processes, each wanting its 5-connection pool
//! and its owner connection at once (384 connections), against a server with the default
//! `max_connections` of 151: every test passes, none sees "Too many connections".

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use dbtest_runtime::db_test;
use dbtest_tests::admin;
use sqlx::MySqlPool;

const PROCESSES: usize = 64;

/// Uses every connection of its pool at once for a moment.
#[db_test(migrations = false)]
#[ignore = "one of 64; started by `sixty_four_processes_stay_within_the_connection_budget`"]
async fn member_uses_its_whole_pool(pool: MySqlPool) {
    let size = pool.options().get_max_connections();
    let mut held = Vec::new();
    for _ in 0..size {
        held.push(pool.acquire().await.expect("a pool connection"));
    }
    for conn in &mut held {
        sqlx::query("DO SLEEP(0.2)")
            .execute(&mut **conn)
            .await
            .unwrap();
    }
    assert_eq!(held.len() as u32, size);
}

#[test]
fn sixty_four_processes_stay_within_the_connection_budget() {
    let rt = dbtest_tests::runtime();
    let mut conn = rt.block_on(admin());
    let max: i64 = rt
        .block_on(
            sqlx::query_scalar("SELECT CAST(@@max_connections AS SIGNED)").fetch_one(&mut conn),
        )
        .unwrap();

    // Watch how many connections the server has while the herd runs.
    let peak = Arc::new(AtomicI64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (peak, done) = (peak.clone(), done.clone());
        std::thread::spawn(move || {
            let rt = dbtest_tests::runtime();
            let mut conn = rt.block_on(admin());
            while !done.load(Ordering::Relaxed) {
                let n: Option<(String, String)> = rt
                    .block_on(
                        sqlx::query_as("SHOW GLOBAL STATUS LIKE 'Threads_connected'")
                            .fetch_optional(&mut conn),
                    )
                    .unwrap();
                if let Some(n) = n.and_then(|(_, v)| v.parse::<i64>().ok()) {
                    peak.fetch_max(n, Ordering::Relaxed);
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };

    let started = Instant::now();
    let outputs = dbtest_tests::outputs_together(
        (0..PROCESSES).map(|_| dbtest_tests::member("member_uses_its_whole_pool")),
    );
    let wall = started.elapsed();
    done.store(true, Ordering::Relaxed);
    watcher.join().unwrap();

    let failures: Vec<String> = outputs
        .iter()
        .filter(|o| !o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
        .collect();
    let too_many = outputs
        .iter()
        .any(|o| String::from_utf8_lossy(&o.stderr).contains("Too many connections"));
    eprintln!(
        "budget: {PROCESSES} processes x (5 pool + 1 owner) connections wanted, server max_connections {max}; \
         peak connected {}; wall {wall:.2?}; failures {}",
        peak.load(Ordering::Relaxed),
        failures.len()
    );
    assert!(
        !too_many,
        "a test saw \"Too many connections\":\n{}",
        failures.join("\n---\n")
    );
    assert!(
        failures.is_empty(),
        "{} of {PROCESSES} failed:\n{}",
        failures.len(),
        failures.join("\n---\n")
    );
    assert!(
        peak.load(Ordering::Relaxed) <= max,
        "more connections than the server allows"
    );
}
