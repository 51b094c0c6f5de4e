/// Docs stay.
#[ignore]
#[::core::prelude::v1::test]
fn lists_users() {
    async fn lists_users(pool: MySqlPool) -> sqlx::Result<()> {
        Ok(())
    }
    let test: fn(_) -> _ = lists_users;
    ::dbtest_runtime::__private::TestFn::run_test(
        test,
        ::dbtest_runtime::__private::TestArgs {
            test_path: ::core::concat!(
                ::core::module_path!(), "::", ::core::stringify!(lists_users)
            ),
            migrations: ::dbtest_runtime::__private::Migrations::Dir(
                "$MANIFEST_DIR/src",
            ),
            fixtures: &[
                ::dbtest_runtime::__private::Fixture {
                    path: "fixtures/users.sql",
                    contents: ::core::include_str!("fixtures/users.sql"),
                },
            ],
            setup: ::core::option::Option::None,
            should_panic: false,
            pool_size: ::core::option::Option::None,
            keep: ::core::option::Option::None,
            url_env: ::core::option::Option::None,
        },
    );
}
