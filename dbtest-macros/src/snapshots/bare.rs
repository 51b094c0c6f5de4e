#[::core::prelude::v1::test]
fn t() {
    async fn t() {}
    let test: fn() -> _ = t;
    ::dbtest_runtime::__private::TestFn::run_test(
        test,
        ::dbtest_runtime::__private::TestArgs {
            test_path: ::core::concat!(
                ::core::module_path!(), "::", ::core::stringify!(t)
            ),
            migrations: ::dbtest_runtime::__private::Migrations::None,
            fixtures: &[],
            setup: ::core::option::Option::None,
            should_panic: false,
            pool_size: ::core::option::Option::None,
            keep: ::core::option::Option::None,
            url_env: ::core::option::Option::None,
        },
    );
}
