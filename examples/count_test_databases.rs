//! Prints how many dbtest test databases (`dbtest_db_…`) the configured server holds, not counting
//! clean ones waiting in the warm pool; CI compares the count before and after the test suite.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use dbtest_tests::sql;

use sqlx::{Connection, MySqlConnection};

fn main() {
    let url = std::env::var("DBTEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .expect("set DBTEST_DATABASE_URL");
    let rt = dbtest_tests::runtime();
    let n: i64 = rt.block_on(async {
        let mut conn = MySqlConnection::connect(&url).await.expect("connect");
        // A registry with a warm pool (it may not exist yet, or predate the pool).
        let pool_known: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.COLUMNS \
             WHERE TABLE_SCHEMA = 'dbtest_registry' AND TABLE_NAME = 'databases' AND COLUMN_NAME = 'ready_at'",
        )
        .fetch_one(&mut conn)
        .await
        .expect("information_schema");
        let not_pooled = if pool_known > 0 {
            " AND NOT EXISTS (SELECT 1 FROM dbtest_registry.databases r \
               WHERE r.name = s.SCHEMA_NAME AND r.ready_at IS NOT NULL)"
        } else {
            ""
        };
        sql::query_scalar(&format!(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA s WHERE s.SCHEMA_NAME LIKE 'dbtest\\_db\\_%'{not_pooled}"
        ))
        .fetch_one(&mut conn)
        .await
        .expect("count")
    });
    println!("{n}");
}
