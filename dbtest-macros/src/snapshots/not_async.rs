fn t(pool: MySqlPool) {}
::core::compile_error! {
    "`#[db_test]` needs an `async fn`; add `async` before `fn`"
}
