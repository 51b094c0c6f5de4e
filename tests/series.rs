//! The release series of the benchmark (`examples/bench_report.rs`): tests that read a seed row
//! and insert one row into one table of a schema of any size, written by [`write_schema`]
//! (`dbtest_tests::series`) to the directory `DBTEST_SERIES_MIGRATIONS` names. Run by the
//! benchmark only: each test is ignored otherwise.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::sync::LazyLock;

use dbtest_runtime::db_test;
use dbtest_tests::migrator_from_env;
use sqlx::migrate::Migrator;
use sqlx::MySqlPool;

static SET: LazyLock<Migrator> = LazyLock::new(|| migrator_from_env("DBTEST_SERIES_MIGRATIONS"));

/// Reads the seed row of `t0`, inserts one row into table `t{table}`.
async fn one_row(pool: MySqlPool, table: u32) -> sqlx::Result<()> {
    let name: String =
        sqlx::query_scalar("SELECT CONVERT(name USING utf8mb4) FROM t0 WHERE id = 1")
            .fetch_one(&pool)
            .await?;
    assert_eq!(name, "seed 0.1");
    let id = dbtest_tests::sql::query(&format!(
        "INSERT INTO t{table} (parent_id, name) VALUES (NULL, 'new')"
    ))
    .execute(&pool)
    .await?
    .last_insert_id();
    assert!(id >= 1);
    Ok(())
}

macro_rules! series {
    ($($name:ident: $table:expr,)*) => {$(
        #[db_test(migrator = "SET")]
        #[ignore = "run by bench_report, which writes the schema"]
        async fn $name(pool: MySqlPool) -> sqlx::Result<()> {
            one_row(pool, $table).await
        }
    )*};
}

series! {
    s00: 1, s01: 2, s02: 3, s03: 4, s04: 5, s05: 1, s06: 2, s07: 3,
    s08: 4, s09: 5, s10: 1, s11: 2, s12: 3, s13: 4, s14: 5, s15: 1,
    s16: 2, s17: 3, s18: 4, s19: 5,
}
