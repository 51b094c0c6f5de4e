#[::core::prelude::v1::test]
fn t() {
    async fn t(pool: MySqlPool) {}
    let test: fn(_) -> _ = t;
    ::dbtest_runtime::__private::TestFn::run_test(
        test,
        ::dbtest_runtime::__private::TestArgs {
            test_path: ::core::concat!(
                ::core::module_path!(), "::", ::core::stringify!(t)
            ),
            migrations: ::dbtest_runtime::__private::Migrations::None,
            fixtures: &[
                ::dbtest_runtime::__private::Fixture {
                    path: "fixtures/users.sql",
                    contents: ::core::include_str!("fixtures/users.sql"),
                },
            ],
            setup: ::core::option::Option::Some(::dbtest_runtime::__private::Setup {
                path: "crate::seed",
                name: ::core::concat!(::core::module_path!(), "::", "crate::seed"),
                address: || crate::seed as *const () as usize,
                run: |pool| ::dbtest_runtime::__private::setup_future(crate::seed(pool)),
            }),
            should_panic: false,
            pool_size: ::core::option::Option::None,
            keep: ::core::option::Option::None,
            url_env: ::core::option::Option::None,
        },
    );
}
