//! Compile errors of `#[db_test]`: each case in `ui/` with the exact message rustc prints
//! (`TRYBUILD=overwrite cargo test --test ui` regenerates the `.stderr` files; review the diff).

#[test]
fn compile_errors() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*.rs");
}
