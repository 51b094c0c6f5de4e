use dbtest_runtime::db_test;

#[db_test(fixtures("users"))]
async fn no_database() {}

fn main() {}
