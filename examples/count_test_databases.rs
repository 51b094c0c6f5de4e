//! Prints how many dbtest test databases (`dbtest_db_…`) the configured server holds; CI compares
//! the count before and after the test suite.

use sqlx::{Connection, MySqlConnection};

fn main() {
    let url = std::env::var("DBTEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .expect("set DBTEST_DATABASE_URL");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let n: i64 = rt.block_on(async {
        let mut conn = MySqlConnection::connect(&url).await.expect("connect");
        sqlx::query_scalar("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE 'dbtest\\_db\\_%'")
            .fetch_one(&mut conn)
            .await
            .expect("count")
    });
    println!("{n}");
}
