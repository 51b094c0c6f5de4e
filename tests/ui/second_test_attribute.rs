use dbtest_runtime::db_test;
use sqlx::MySqlPool;

#[db_test]
#[test]
async fn doubled(_pool: MySqlPool) {}

fn main() {}
