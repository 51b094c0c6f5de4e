use dbtest_runtime::db_test;
use dbtest_runtime::sqlx::MySqlPool;

async fn seed(_pool: MySqlPool) {}

#[db_test(setup = "seed")]
async fn no_database() {}

#[db_test(setup = true)]
async fn names_nothing(_pool: MySqlPool) {}

#[db_test(setup = seed)]
async fn not_a_string(_pool: MySqlPool) {}

#[db_test(setup = "seed", setup = "seed")]
async fn twice(_pool: MySqlPool) {}

fn main() {}
