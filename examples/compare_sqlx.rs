//! Times the bookshop example suite under `#[db_test]` and under `#[sqlx::test]` on the same
//! server, alternating the two in one run, and prints every run, the medians and their ratio.
//!
//! ```text
//! scripts/with-mariadb cargo run --release -p dbtest-tests --example compare_sqlx [ROUNDS]
//! ```
//!
//! The first `#[db_test]` run is cold (the bookshop's template is dropped first, so it pays for the
//! one migration run); the rest are warm. `#[sqlx::test]` keeps its bookkeeping in a scratch
//! database that this program creates and drops.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::time::Duration;

use dbtest_tests::bench::{self, count_tests, server_url, test_binary};
use dbtest_tests::sql;
use sqlx::Executor;

const SCRATCH: &str = "sqlxcompare_scratch";

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .map_or(7, |a| a.parse().expect("ROUNDS is a number"));
    let base = server_url();

    let dbtest_bin = test_binary("bookshop", "shop", &[]);
    let sqlx_bin = test_binary("bookshop", "shop", &["--features", "sqlx-test"]);
    let (rt, mut conn) = bench::connect(&base);
    bench::fresh_database(&rt, &mut conn, SCRATCH);

    // Cold: without the bookshop's template.
    let templates: Vec<String> = rt
        .block_on(
            sqlx::query_scalar(
                "SELECT TABLE_SCHEMA FROM information_schema.VIEWS \
                 WHERE TABLE_NAME = 'book_sales' AND TABLE_SCHEMA LIKE 'dbtest\\_tpl\\_%'",
            )
            .fetch_all(&mut conn),
        )
        .unwrap();
    for t in templates {
        rt.block_on(conn.execute(sql::raw_sql(&format!("DROP DATABASE `{t}`"))))
            .unwrap();
    }
    let cold = run(&dbtest_bin, &[("DBTEST_DATABASE_URL", &base)]);
    println!("db_test cold (builds the template): {cold:>8.3?}");

    let sqlx_url = format!("{base}/{SCRATCH}");
    let (mut warm, mut sqlx_runs) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so drift on a noisy machine hits both alike.
        let mut pair = [
            ("db_test", &dbtest_bin, "DBTEST_DATABASE_URL", &base),
            ("sqlx::test", &sqlx_bin, "DATABASE_URL", &sqlx_url),
        ];
        if round % 2 == 1 {
            pair.reverse();
        }
        for (name, bin, var, url) in pair {
            let t = run(bin, &[(var, url.as_str())]);
            println!("round {round} {name:<10} {t:>8.3?}");
            if name == "db_test" {
                warm.push(t)
            } else {
                sqlx_runs.push(t)
            }
        }
    }
    rt.block_on(conn.execute(sql::raw_sql(&format!("DROP DATABASE {SCRATCH}"))))
        .unwrap();

    let (w, s) = (median(&mut warm), median(&mut sqlx_runs));
    println!("---");
    println!(
        "suite: {} tests of examples/bookshop, {rounds} rounds",
        count_tests(&dbtest_bin)
    );
    println!("median #[sqlx::test]     {s:>8.3?}");
    println!(
        "median #[db_test] warm   {w:>8.3?}   ({:.2}x faster)",
        s.as_secs_f64() / w.as_secs_f64()
    );
    println!(
        "#[db_test] cold (1 run)  {cold:>8.3?}   ({:.2}x faster)",
        s.as_secs_f64() / cold.as_secs_f64()
    );
}

fn run(bin: &str, env: &[(&str, &str)]) -> Duration {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bookshop");
    bench::run_suite(bin, dir, &["-q"], env)
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v[v.len() / 2]
}
