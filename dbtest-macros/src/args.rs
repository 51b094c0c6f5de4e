//! Parsing and checking the arguments of `#[db_test(...)]`: the syntax of `#[sqlx::test]`.
//! Every problem is reported on its own span, all of them at once.

use std::path::{Path, PathBuf};

use proc_macro2::{Span, TokenStream};
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{LitBool, LitStr, Token};

/// The keys `#[db_test]` accepts, for messages.
const KEYS: &str = "`migrations`, `migrator`, `fixtures` or `setup`";

/// Where the test's migrations come from.
pub enum MigrationsArg {
    /// No argument: `./migrations` if it exists, else none.
    Inferred,
    /// `migrations = "dir"`; the directory resolved against the manifest directory.
    Dir { lit: LitStr, resolved: PathBuf },
    /// `migrations = false`.
    Disabled,
    /// `migrator = "path::MIGRATOR"`.
    Migrator(syn::Path),
}

/// The test's setup function.
pub enum SetupArg {
    /// No argument: the default of Cargo.toml, if any.
    Inherited,
    /// `setup = "path::to::seed"`.
    Path(syn::Path),
    /// `setup = false`: none, whatever Cargo.toml says.
    Disabled,
}

/// One fixture: the path `include_str!` reads, relative to the test's source file.
pub struct Fixture {
    pub path: LitStr,
    /// Given by name (`fixtures("users")`), so a configured fixtures directory applies.
    pub by_name: bool,
}

/// The arguments of one `#[db_test(...)]`.
pub struct Args {
    pub migrations: MigrationsArg,
    /// The span of the first `migrations`/`migrator` argument, for duplicate errors.
    migrations_span: Option<Span>,
    pub fixtures: Vec<Fixture>,
    /// The span of the first `fixtures(...)`, for errors about fixtures as a whole.
    pub fixtures_span: Option<Span>,
    pub setup: SetupArg,
    /// The span of the `setup` argument.
    pub setup_span: Option<Span>,
}

impl Args {
    /// Parses `tokens`; `manifest_dir` resolves `migrations = "dir"`.
    pub fn parse(tokens: TokenStream, manifest_dir: &Path) -> Result<Args, syn::Error> {
        let mut args = Args {
            migrations: MigrationsArg::Inferred,
            migrations_span: None,
            fixtures: Vec::new(),
            fixtures_span: None,
            setup: SetupArg::Inherited,
            setup_span: None,
        };
        let mut errors = Errors::default();
        let parser = syn::meta::parser(|meta| {
            let key = meta.path.clone();
            if key.is_ident("migrations") {
                let value = meta.value()?;
                let span = key.span();
                if value.peek(LitStr) {
                    let lit: LitStr = value.parse()?;
                    let resolved = manifest_dir.join(lit.value());
                    if !resolved.is_dir() {
                        errors.push(syn::Error::new(
                            lit.span(),
                            format!(
                                "migrations directory `{}` does not exist (paths are relative to the \
                                 directory of Cargo.toml)",
                                resolved.display()
                            ),
                        ));
                    }
                    args.set_migrations(span, MigrationsArg::Dir { lit, resolved }, &mut errors);
                } else if value.peek(LitBool) {
                    let b: LitBool = value.parse()?;
                    if b.value {
                        errors.push(syn::Error::new(
                            b.span(),
                            "`migrations = true` is the default; remove it, or write `migrations = \"<dir>\"`",
                        ));
                    } else {
                        args.set_migrations(span, MigrationsArg::Disabled, &mut errors);
                    }
                } else {
                    let other: syn::Expr = value.parse()?;
                    errors.push(syn::Error::new(
                        other.span(),
                        "expected `migrations = \"<dir>\"` or `migrations = false`",
                    ));
                }
            } else if key.is_ident("migrator") {
                let value = meta.value()?;
                let span = key.span();
                if value.peek(LitStr) {
                    let lit: LitStr = value.parse()?;
                    match lit.parse::<syn::Path>() {
                        Ok(path) => args.set_migrations(span, MigrationsArg::Migrator(path), &mut errors),
                        Err(_) => errors.push(syn::Error::new(
                            lit.span(),
                            "expected the path of a `static` migrator, e.g. `migrator = \"crate::MIGRATOR\"`",
                        )),
                    }
                } else {
                    let other: syn::Expr = value.parse()?;
                    errors.push(syn::Error::new(
                        other.span(),
                        "expected `migrator = \"<path of a static sqlx::migrate::Migrator>\"`",
                    ));
                }
            } else if key.is_ident("setup") {
                let value = meta.value()?;
                if args.setup_span.replace(key.span()).is_some() {
                    errors.push(syn::Error::new(key.span(), "duplicate `setup` argument"));
                }
                if value.peek(LitStr) {
                    let lit: LitStr = value.parse()?;
                    match lit.parse::<syn::Path>() {
                        Ok(path) => args.setup = SetupArg::Path(path),
                        Err(_) => errors.push(syn::Error::new(
                            lit.span(),
                            "expected the path of an `async fn(MySqlPool)`, e.g. `setup = \"crate::seed\"`",
                        )),
                    }
                } else if value.peek(LitBool) {
                    let b: LitBool = value.parse()?;
                    if b.value {
                        errors.push(syn::Error::new(
                            b.span(),
                            "`setup = true` names no function; write `setup = \"<path of an async fn(MySqlPool)>\"`",
                        ));
                    } else {
                        args.setup = SetupArg::Disabled;
                    }
                } else {
                    let other: syn::Expr = value.parse()?;
                    errors.push(syn::Error::new(
                        other.span(),
                        "expected `setup = \"<path of an async fn(MySqlPool)>\"` or `setup = false`",
                    ));
                }
            } else if key.is_ident("fixtures") {
                args.fixtures_span.get_or_insert(key.span());
                parse_fixtures(&meta, &mut args.fixtures, &mut errors)?;
            } else {
                let name = key
                    .get_ident()
                    .map(|i| i.to_string())
                    .unwrap_or_else(|| "this".into());
                errors.push(syn::Error::new(
                    key.span(),
                    format!("unknown argument `{name}`; expected {KEYS}"),
                ));
                skip_value(&meta)?;
            }
            Ok(())
        });
        if let Err(e) = parser.parse2(tokens) {
            errors.push(e);
        }
        errors.finish().map(|()| args)
    }

    fn set_migrations(&mut self, span: Span, value: MigrationsArg, errors: &mut Errors) {
        if self.migrations_span.is_some() {
            let msg = match (&self.migrations, &value) {
                (MigrationsArg::Migrator(_), MigrationsArg::Migrator(_)) => {
                    "duplicate `migrator` argument".to_owned()
                }
                (MigrationsArg::Migrator(_), _) | (_, MigrationsArg::Migrator(_)) => {
                    "`migrations` and `migrator` cannot be used together; keep one".to_owned()
                }
                _ => "duplicate `migrations` argument".to_owned(),
            };
            errors.push(syn::Error::new(span, msg));
            return;
        }
        self.migrations_span = Some(span);
        self.migrations = value;
    }

    /// The span of the argument that chose the migrations, if any was given.
    pub fn migrations_span(&self) -> Option<Span> {
        self.migrations_span
    }
}

/// `fixtures("a", "b")`, `fixtures("../dir/a.sql", …)` or `fixtures(path = "dir", scripts("a", …))`.
fn parse_fixtures(
    meta: &ParseNestedMeta<'_>,
    out: &mut Vec<Fixture>,
    errors: &mut Errors,
) -> syn::Result<()> {
    let content;
    syn::parenthesized!(content in meta.input);
    if content.peek(syn::Ident) {
        // path = "dir", scripts("a", "b")
        let mut dir: Option<LitStr> = None;
        let nested = syn::meta::parser(|m| {
            if m.path.is_ident("path") {
                let lit: LitStr = m.value()?.parse()?;
                if dir.is_some() {
                    errors.push(syn::Error::new(
                        lit.span(),
                        "duplicate `path` in `fixtures`",
                    ));
                }
                dir = Some(lit);
            } else if m.path.is_ident("scripts") {
                let inner;
                syn::parenthesized!(inner in m.input);
                let names =
                    inner.parse_terminated(<LitStr as syn::parse::Parse>::parse, Token![,])?;
                match &dir {
                    None => errors.push(syn::Error::new(
                        m.path.span(),
                        "`scripts(...)` needs `path = \"<dir>\"` before it",
                    )),
                    Some(dir) => {
                        for name in names {
                            let path = format!(
                                "{}/{}",
                                dir.value().trim_end_matches('/'),
                                with_sql_extension(&name.value())
                            );
                            out.push(Fixture {
                                path: LitStr::new(&path, name.span()),
                                by_name: false,
                            });
                        }
                    }
                }
            } else {
                errors.push(syn::Error::new(
                    m.path.span(),
                    "expected `fixtures(path = \"<dir>\", scripts(\"<name>\", ...))`",
                ));
                skip_value(&m)?;
            }
            Ok(())
        });
        return nested.parse2(content.parse()?);
    }
    let names = content.parse_terminated(<LitStr as syn::parse::Parse>::parse, Token![,])?;
    let mut explicit: Option<bool> = None;
    for name in names {
        let value = name.value();
        let is_path = Path::new(&value).components().count() > 1;
        if *explicit.get_or_insert(is_path) != is_path {
            errors.push(syn::Error::new(
                name.span(),
                "do not mix fixture names (`\"users\"`) and fixture paths (`\"../fixtures/users.sql\"`) in one `fixtures(...)`",
            ));
            continue;
        }
        let path = if is_path {
            value
        } else {
            format!("fixtures/{}", with_sql_extension(&value))
        };
        out.push(Fixture {
            path: LitStr::new(&path, name.span()),
            by_name: !is_path,
        });
    }
    Ok(())
}

fn with_sql_extension(name: &str) -> String {
    if Path::new(name).extension().is_some() {
        name.to_owned()
    } else {
        format!("{name}.sql")
    }
}

/// Consumes `= value` or `(...)` after an unknown key, so parsing can go on.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<syn::Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _content;
        syn::parenthesized!(_content in meta.input);
        let _: TokenStream = _content.parse()?;
    }
    Ok(())
}

/// Errors collected while parsing, reported together.
#[derive(Default)]
pub struct Errors(Option<syn::Error>);

impl Errors {
    pub fn push(&mut self, e: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(e),
            None => self.0 = Some(e),
        }
    }

    pub fn finish(self) -> Result<(), syn::Error> {
        self.0.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn manifest() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn parse(tokens: TokenStream) -> Result<Args, String> {
        Args::parse(tokens, &manifest()).map_err(|e| {
            e.into_iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(" | ")
        })
    }

    fn fixture_paths(a: &Args) -> Vec<String> {
        a.fixtures.iter().map(|f| f.path.value()).collect()
    }

    #[test]
    fn no_arguments_infers_migrations() {
        let a = parse(quote!()).unwrap();
        assert!(matches!(a.migrations, MigrationsArg::Inferred));
        assert!(a.fixtures.is_empty());
    }

    #[test]
    fn migrations_forms() {
        let a = parse(quote!(migrations = "src")).unwrap();
        assert!(
            matches!(&a.migrations, MigrationsArg::Dir { resolved, .. } if *resolved == manifest().join("src"))
        );
        let a = parse(quote!(migrations = false)).unwrap();
        assert!(matches!(a.migrations, MigrationsArg::Disabled));
        let a = parse(quote!(migrator = "crate::db::MIGRATOR")).unwrap();
        assert!(matches!(&a.migrations, MigrationsArg::Migrator(p) if p.segments.len() == 3));
    }

    #[test]
    fn fixture_forms_follow_sqlx() {
        let a = parse(quote!(fixtures("users", "posts.sql"))).unwrap();
        assert_eq!(
            fixture_paths(&a),
            ["fixtures/users.sql", "fixtures/posts.sql"]
        );
        let a = parse(quote!(fixtures("../data/users.sql"), fixtures("tags"))).unwrap();
        assert_eq!(
            fixture_paths(&a),
            ["../data/users.sql", "fixtures/tags.sql"]
        );
        let a = parse(quote!(fixtures(path = "../data/", scripts("a", "b.sql")))).unwrap();
        assert_eq!(fixture_paths(&a), ["../data/a.sql", "../data/b.sql"]);
    }

    #[test]
    fn setup_forms() {
        let a = parse(quote!(setup = "crate::seed::company")).unwrap();
        assert!(matches!(&a.setup, SetupArg::Path(p) if p.segments.len() == 3));
        let a = parse(quote!(setup = false, fixtures("users"))).unwrap();
        assert!(matches!(a.setup, SetupArg::Disabled));
        let a = parse(quote!(fixtures("users"))).unwrap();
        assert!(matches!(a.setup, SetupArg::Inherited));
        let e = parse(quote!(setup = "not a path")).err().unwrap();
        assert_eq!(
            e,
            "expected the path of an `async fn(MySqlPool)`, e.g. `setup = \"crate::seed\"`"
        );
        let e = parse(quote!(setup = true)).err().unwrap();
        assert!(e.starts_with("`setup = true` names no function"), "{e}");
        let e = parse(quote!(setup = seed)).err().unwrap();
        assert_eq!(
            e,
            "expected `setup = \"<path of an async fn(MySqlPool)>\"` or `setup = false`"
        );
        let e = parse(quote!(setup = "a", setup = "b")).err().unwrap();
        assert_eq!(e, "duplicate `setup` argument");
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let e = parse(quote!(
            migratons = "x",
            migrations = true,
            fixtures("a", "../b.sql"),
            speed = 3
        ))
        .err()
        .unwrap();
        assert_eq!(
            e,
            "unknown argument `migratons`; expected `migrations`, `migrator`, `fixtures` or `setup` \
             | `migrations = true` is the default; remove it, or write `migrations = \"<dir>\"` \
             | do not mix fixture names (`\"users\"`) and fixture paths (`\"../fixtures/users.sql\"`) in one `fixtures(...)` \
             | unknown argument `speed`; expected `migrations`, `migrator`, `fixtures` or `setup`"
        );
    }

    #[test]
    fn duplicates_and_conflicts() {
        let e = parse(quote!(migrations = false, migrations = false))
            .err()
            .unwrap();
        assert_eq!(e, "duplicate `migrations` argument");
        let e = parse(quote!(migrations = false, migrator = "M"))
            .err()
            .unwrap();
        assert_eq!(
            e,
            "`migrations` and `migrator` cannot be used together; keep one"
        );
        let e = parse(quote!(migrator = "M", migrator = "N")).err().unwrap();
        assert_eq!(e, "duplicate `migrator` argument");
    }

    #[test]
    fn bad_values() {
        let e = parse(quote!(migrations = "no/such/dir")).err().unwrap();
        assert!(e.starts_with("migrations directory `"), "{e}");
        let e = parse(quote!(migrations = 3)).err().unwrap();
        assert_eq!(
            e,
            "expected `migrations = \"<dir>\"` or `migrations = false`"
        );
        let e = parse(quote!(migrator = "not a path")).err().unwrap();
        assert!(
            e.starts_with("expected the path of a `static` migrator"),
            "{e}"
        );
        let e = parse(quote!(fixtures(scripts("a")))).err().unwrap();
        assert_eq!(e, "`scripts(...)` needs `path = \"<dir>\"` before it");
    }
}
