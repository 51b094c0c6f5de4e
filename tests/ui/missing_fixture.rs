use dbtest_runtime::db_test;
use dbtest_runtime::sqlx::MySqlPool;

#[db_test(migrations = false, fixtures("no_such_fixture"))]
async fn missing(_pool: MySqlPool) {}

fn main() {}
