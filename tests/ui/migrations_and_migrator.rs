use dbtest_runtime::db_test;
use sqlx::MySqlPool;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate::Migrator::DEFAULT;

#[db_test(migrations = false, migrator = "MIGRATOR")]
async fn both(_pool: MySqlPool) {}

fn main() {}
