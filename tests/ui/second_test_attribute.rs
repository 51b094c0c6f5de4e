use dbtest_runtime::db_test;
use dbtest_runtime::sqlx::MySqlPool;

#[db_test]
#[test]
async fn doubled(_pool: MySqlPool) {}

fn main() {}
