use dbtest_runtime::db_test;
use dbtest_runtime::sqlx::MySqlPool;

#[db_test]
fn not_async(pool: MySqlPool) {
    drop(pool);
}

// The function is still there, so code that names it keeps compiling.
fn main() {
    let _still_here: fn(MySqlPool) = not_async;
}
