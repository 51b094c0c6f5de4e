//! The `#[db_test]` attribute: a shim over the `args` (parsing) and `expand` (code generation)
//! modules. Use it through `dbtest-runtime`, which re-exports and documents it.

mod args;
mod config;
mod expand;

use proc_macro::TokenStream;

/// See `dbtest_runtime::db_test`.
#[proc_macro_attribute]
pub fn db_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default();
    expand::expand(args.into(), item.into(), manifest_dir.as_ref()).into()
}
