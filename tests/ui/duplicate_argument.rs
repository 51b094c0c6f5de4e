use dbtest_runtime::db_test;
use sqlx::MySqlPool;

#[db_test(migrations = false, migrations = false)]
async fn twice(_pool: MySqlPool) {}

fn main() {}
