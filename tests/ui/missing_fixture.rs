use dbtest_runtime::db_test;
use sqlx::MySqlPool;

#[db_test(migrations = false, fixtures("no_such_fixture"))]
async fn missing(_pool: MySqlPool) {}

fn main() {}
