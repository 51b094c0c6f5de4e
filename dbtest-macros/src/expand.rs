//! Turns the user's function and its arguments into a `#[test]` that makes one call into
//! `::dbtest_runtime::__private`. On any error the user's function is emitted unchanged next to
//! the errors, so the rest of the file still type-checks and IDEs keep working.

use std::path::Path;

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{ItemFn, LitStr};

use crate::args::{Args, Errors, MigrationsArg, SetupArg};
use crate::config::{Defaults, MigrationsDefault};

/// Expands `#[db_test(attr)] item`, with `manifest_dir` the directory of the crate's Cargo.toml.
pub fn expand(attr: TokenStream, item: TokenStream, manifest_dir: &Path) -> TokenStream {
    let func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            let e = syn::Error::new(e.span(), "`#[db_test]` goes on an `async fn`");
            return fallback(item, e);
        }
    };
    let mut errors = Errors::default();
    let defaults = Defaults::load(manifest_dir)
        .map_err(|e| errors.push(syn::Error::new(Span::call_site(), e)))
        .unwrap_or_default();
    let mut args = Args::parse(attr, manifest_dir)
        .map_err(|e| errors.push(e))
        .ok();
    check_signature(&func, &mut errors);
    if let Some(args) = &mut args {
        // Fixtures given by name come from the configured directory, if there is one.
        if let Some(dir) = &defaults.fixtures {
            for f in args.fixtures.iter_mut().filter(|f| f.by_name) {
                let name = f.path.value().trim_start_matches("fixtures/").to_owned();
                f.path = LitStr::new(&dir.join(name).to_string_lossy(), f.path.span());
            }
        }
        check_args_need_database(&func, args, &mut errors);
        check_fixtures_exist(args, &mut errors);
    }
    match (errors.finish(), args) {
        (Ok(()), Some(args)) => generate(&func, &args, &defaults, manifest_dir),
        (Err(e), _) => fallback(func.into_token_stream(), e),
        (Ok(()), None) => unreachable!("argument errors are collected"),
    }
}

fn check_signature(func: &ItemFn, errors: &mut Errors) {
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span(),
            "`#[db_test]` needs an `async fn`; add `async` before `fn`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            "a `#[db_test]` function cannot be generic",
        ));
    }
    if let Some(receiver) = sig.receiver() {
        errors.push(syn::Error::new(
            receiver.span(),
            "a `#[db_test]` function cannot take `self`",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new(
            variadic.span(),
            "a `#[db_test]` function cannot be variadic",
        ));
    }
    for attr in &func.attrs {
        let path = attr.path();
        if path.segments.last().is_some_and(|s| s.ident == "test") {
            errors.push(syn::Error::new(
                path.span(),
                "`#[db_test]` already makes this a test; remove this second test attribute",
            ));
        }
    }
}

/// Arguments that prepare a database make no sense for a function that takes none.
fn check_args_need_database(func: &ItemFn, args: &Args, errors: &mut Errors) {
    if !func.sig.inputs.is_empty() {
        return;
    }
    let hint = "take `pool: MySqlPool`, `conn: PoolConnection<MySql>` or \
                `(MySqlPoolOptions, MySqlConnectOptions)` as the test's parameter";
    if let Some(span) = args.fixtures_span {
        errors.push(syn::Error::new(
            span,
            format!("fixtures need a database, but this test takes no parameter; {hint}"),
        ));
    }
    if let Some(span) = args.migrations_span() {
        errors.push(syn::Error::new(
            span,
            format!("migrations need a database, but this test takes no parameter; {hint}"),
        ));
    }
    if let (Some(span), SetupArg::Path(_)) = (args.setup_span, &args.setup) {
        errors.push(syn::Error::new(
            span,
            format!("a setup needs a database, but this test takes no parameter; {hint}"),
        ));
    }
}

/// A missing fixture file is a compile error on its literal. Where the compiler cannot say which
/// file the test is in (older than Rust 1.88), `include_str!` in the expansion reports it instead.
fn check_fixtures_exist(args: &Args, errors: &mut Errors) {
    let Some(source) = proc_macro2::Span::call_site().local_file() else {
        return;
    };
    let dir = source.parent().unwrap_or(Path::new(""));
    for fixture in &args.fixtures {
        let path = dir.join(fixture.path.value());
        if !path.is_file() {
            errors.push(syn::Error::new(
                fixture.path.span(),
                format!(
                    "fixture file `{}` not found (fixture paths are relative to the directory of `{}`)",
                    fixture.path.value(),
                    source.display()
                ),
            ));
        }
    }
}

fn generate(func: &ItemFn, args: &Args, defaults: &Defaults, manifest_dir: &Path) -> TokenStream {
    let ItemFn {
        attrs,
        vis,
        sig,
        block,
    } = func;
    let name = &sig.ident;
    let output = &sig.output;
    let inputs = &sig.inputs;
    let arg_types = inputs.iter().map(|_| quote!(_));
    let private = quote!(::dbtest_runtime::__private);
    // The runtime keeps the database of a failed test; for `#[should_panic]` a panic is success.
    let should_panic = attrs.iter().any(|a| a.path().is_ident("should_panic"));

    let migrations = match &args.migrations {
        MigrationsArg::Inferred if inputs.is_empty() => quote!(#private::Migrations::None),
        MigrationsArg::Inferred if defaults.migrations.is_some() => match &defaults.migrations {
            Some(MigrationsDefault::Dir(dir)) => {
                let dir = dir.to_string_lossy().into_owned();
                quote!(#private::Migrations::Dir(#dir))
            }
            _ => quote!(#private::Migrations::None),
        },
        MigrationsArg::Inferred => {
            let dir = manifest_dir.join("migrations");
            if dir.is_dir() && !inputs.is_empty() {
                let dir = dir.to_string_lossy().into_owned();
                quote!(#private::Migrations::Dir(#dir))
            } else {
                quote!(#private::Migrations::None)
            }
        }
        MigrationsArg::Dir { lit, resolved } => {
            let dir = resolved.to_string_lossy().into_owned();
            quote_spanned!(lit.span()=> #private::Migrations::Dir(#dir))
        }
        MigrationsArg::Disabled => quote!(#private::Migrations::None),
        MigrationsArg::Migrator(path) => {
            quote_spanned!(path.span()=> #private::Migrations::Migrator(#private::MigratorSource::migrator(&#path)))
        }
    };
    let fixtures = args.fixtures.iter().map(|f| {
        let path = &f.path;
        quote_spanned!(path.span()=> #private::Fixture { path: #path, contents: ::core::include_str!(#path) })
    });

    let option = |v: Option<TokenStream>| {
        v.map_or(
            quote!(::core::option::Option::None),
            |v| quote!(::core::option::Option::Some(#v)),
        )
    };
    let pool_size = option(defaults.pool_size.map(|n| quote!(#n)));
    let keep = option(defaults.keep.as_ref().map(|k| {
        let variant = syn::Ident::new(k, proc_macro2::Span::call_site());
        quote!(#private::Keep::#variant)
    }));
    let url_env = option(defaults.url_env.as_ref().map(|v| quote!(#v)));
    let setup = match (&args.setup, &defaults.setup) {
        _ if inputs.is_empty() => None,
        (SetupArg::Path(path), _) => Some((path.clone(), path.span())),
        (SetupArg::Inherited, Some(path)) => syn::parse_str::<syn::Path>(path)
            .ok()
            .map(|p| (p, Span::call_site())),
        _ => None,
    };
    // Type errors in the call (a setup of the wrong signature) point at the path.
    let setup = option(setup.map(|(path, span)| {
        let written = path.to_token_stream().to_string().replace(' ', "");
        quote_spanned! {span=>
            #private::Setup {
                path: #written,
                name: ::core::concat!(::core::module_path!(), "::", #written),
                address: || #path as *const () as usize,
                run: |pool| #private::setup_future(#path(pool)),
            }
        }
    }));
    // The Cargo.toml files the defaults came from: their contents are part of the expansion, so
    // cargo rebuilds the test when they change.
    let tracked = defaults.files.iter().map(|f| {
        let f = f.to_string_lossy().into_owned();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#f);
        )
    });

    quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() {
            #(#tracked)*
            async fn #name(#inputs) #output #block

            // A coercion site: the runtime picks the behaviour from the parameter types.
            let test: fn(#(#arg_types),*) -> _ = #name;
            #private::TestFn::run_test(
                test,
                #private::TestArgs {
                    test_path: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                    migrations: #migrations,
                    fixtures: &[#(#fixtures),*],
                    setup: #setup,
                    should_panic: #should_panic,
                    pool_size: #pool_size,
                    keep: #keep,
                    url_env: #url_env,
                },
            );
        }
    }
}

/// The user's item, untouched, followed by the errors.
fn fallback(item: TokenStream, error: syn::Error) -> TokenStream {
    let errors = error.to_compile_error();
    quote!(#item #errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn pretty(tokens: TokenStream) -> String {
        prettyplease::unparse(&syn::parse2(tokens).expect("expansion parses as a file"))
    }

    /// Compares the expansion with `src/snapshots/<name>.rs`; `DBTEST_BLESS=1` rewrites it.
    fn snapshot(name: &str, attr: TokenStream, item: TokenStream) {
        let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let got = pretty(expand(attr, item, &manifest))
            .replace(env!("CARGO_MANIFEST_DIR"), "$MANIFEST_DIR");
        let file = manifest.join("src/snapshots").join(format!("{name}.rs"));
        if std::env::var_os("DBTEST_BLESS").is_some() {
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(&file, &got).unwrap();
        }
        let want = std::fs::read_to_string(&file).unwrap_or_default();
        assert_eq!(
            got, want,
            "expansion of {name} changed; review it and run with DBTEST_BLESS=1"
        );
    }

    #[test]
    fn pool_with_directory_and_fixtures() {
        snapshot(
            "pool_dir_fixtures",
            quote!(migrations = "src", fixtures("users")),
            quote! {
                /// Docs stay.
                #[ignore]
                async fn lists_users(pool: MySqlPool) -> sqlx::Result<()> { Ok(()) }
            },
        );
    }

    #[test]
    fn setup_and_fixtures() {
        snapshot(
            "setup_fixtures",
            quote!(setup = "crate::seed", fixtures("users")),
            quote! {
                async fn t(pool: MySqlPool) {}
            },
        );
    }

    #[test]
    fn migrator_and_connection() {
        snapshot(
            "migrator_conn",
            quote!(migrator = "crate::MIGRATOR"),
            quote!(
                pub async fn t(conn: PoolConnection<MySql>) {}
            ),
        );
    }

    #[test]
    fn no_parameters_no_database() {
        snapshot(
            "bare",
            quote!(),
            quote!(
                async fn t() {}
            ),
        );
    }

    #[test]
    fn errors_keep_the_function() {
        snapshot(
            "not_async",
            quote!(),
            quote!(
                fn t(pool: MySqlPool) {}
            ),
        );
    }
}
