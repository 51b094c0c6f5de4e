use dbtest_runtime::db_test;
use dbtest_runtime::sqlx::MySqlPool;

#[db_test(migrations = false, migrations = false)]
async fn twice(_pool: MySqlPool) {}

fn main() {}
