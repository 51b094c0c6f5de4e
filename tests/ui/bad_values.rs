use dbtest_runtime::db_test;
use dbtest_runtime::sqlx::MySqlPool;

#[db_test(migrations = 3, fixtures("users", "../data/posts.sql"))]
async fn values(_pool: MySqlPool) {}

#[db_test(migrations = "no/such/dir")]
async fn missing_dir(_pool: MySqlPool) {}

fn main() {}
