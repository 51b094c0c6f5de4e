use dbtest_runtime::db_test;
use dbtest_runtime::sqlx::MySqlPool;

#[db_test(migratons = "migrations", timeout = 5)]
async fn typo(_pool: MySqlPool) {}

fn main() {}
