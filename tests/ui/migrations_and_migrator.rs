use dbtest_runtime::db_test;
use dbtest_runtime::sqlx::MySqlPool;

static MIGRATOR: dbtest_runtime::sqlx::migrate::Migrator = dbtest_runtime::sqlx::migrate::Migrator::DEFAULT;

#[db_test(migrations = false, migrator = "MIGRATOR")]
async fn both(_pool: MySqlPool) {}

fn main() {}
