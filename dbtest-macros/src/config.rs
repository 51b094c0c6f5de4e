//! Defaults for every `#[db_test]` of a crate, from Cargo.toml: the workspace root's
//! `[workspace.metadata.dbtest]`, then the crate's own `[package.metadata.dbtest]` (closer wins);
//! arguments of the attribute win over both. Paths are relative to the Cargo.toml that names them.
//!
//! ```toml
//! [workspace.metadata.dbtest]
//! migrations = "db/migrations"   # or false
//! fixtures = "db/fixtures"       # where fixtures("name") looks for name.sql
//! pool_size = 3
//! keep = "never"                 # failed | never | always
//! url_env = "APP_TEST_DB_URL"    # read before DBTEST_DATABASE_URL and DATABASE_URL
//! setup = "app::testing::seed"   # or false; a path as the test's own crate sees it
//! ```

use std::path::{Path, PathBuf};

/// The keys, for messages.
const KEYS: &str = "`migrations`, `fixtures`, `pool_size`, `keep`, `url_env`, `setup`";

/// Default migrations.
#[derive(Clone, PartialEq, Eq)]
pub enum MigrationsDefault {
    Dir(PathBuf),
    Disabled,
}

/// What Cargo.toml says, merged.
#[derive(Default)]
pub struct Defaults {
    pub migrations: Option<MigrationsDefault>,
    pub fixtures: Option<PathBuf>,
    pub pool_size: Option<u32>,
    pub keep: Option<String>,
    pub url_env: Option<String>,
    /// The setup function's path (checked to be a path).
    pub setup: Option<String>,
    /// Every Cargo.toml read (the expansion depends on them, so cargo rebuilds when they change).
    pub files: Vec<PathBuf>,
}

impl Defaults {
    /// Reads the defaults for the crate whose manifest is in `manifest_dir`.
    pub fn load(manifest_dir: &Path) -> Result<Defaults, String> {
        let mut out = Defaults::default();
        let own = manifest_dir.join("Cargo.toml");
        let own_table = read(&own)?;
        // The workspace root: the closest Cargo.toml upwards (this one included) with [workspace].
        let mut root: Option<(PathBuf, toml::Table)> = None;
        if own_table
            .as_ref()
            .is_some_and(|t| t.contains_key("workspace"))
        {
            root = own_table.clone().map(|t| (own.clone(), t));
        } else {
            let mut dir = manifest_dir.parent();
            while let Some(d) = dir {
                let candidate = d.join("Cargo.toml");
                if let Some(t) = read(&candidate)? {
                    if t.contains_key("workspace") {
                        root = Some((candidate, t));
                        break;
                    }
                }
                dir = d.parent();
            }
        }
        if let Some((file, table)) = &root {
            out.apply(file, table, "workspace")?;
        }
        if let Some(table) = &own_table {
            out.apply(&own, table, "package")?;
        }
        Ok(out)
    }

    fn apply(&mut self, file: &Path, table: &toml::Table, section: &str) -> Result<(), String> {
        let Some(settings) = table
            .get(section)
            .and_then(|s| s.get("metadata"))
            .and_then(|m| m.get("dbtest"))
        else {
            return Ok(());
        };
        self.files.push(file.to_owned());
        let here = format!("[{section}.metadata.dbtest] of `{}`", file.display());
        let settings = settings
            .as_table()
            .ok_or_else(|| format!("{here} must be a table"))?;
        let dir = file.parent().unwrap_or(Path::new("."));
        for (key, value) in settings {
            match key.as_str() {
                "migrations" => {
                    self.migrations = Some(match value {
                        toml::Value::Boolean(false) => MigrationsDefault::Disabled,
                        toml::Value::String(s) => {
                            let path = dir.join(s);
                            if !path.is_dir() {
                                return Err(format!(
                                    "{here}: migrations directory `{}` does not exist",
                                    path.display()
                                ));
                            }
                            MigrationsDefault::Dir(path)
                        }
                        _ => {
                            return Err(format!(
                                "{here}: expected `migrations = \"<dir>\"` or `migrations = false`"
                            ))
                        }
                    })
                }
                "fixtures" => {
                    let s = value
                        .as_str()
                        .ok_or_else(|| format!("{here}: expected `fixtures = \"<dir>\"`"))?;
                    let path = dir.join(s);
                    if !path.is_dir() {
                        return Err(format!(
                            "{here}: fixtures directory `{}` does not exist",
                            path.display()
                        ));
                    }
                    self.fixtures = Some(path);
                }
                "pool_size" => {
                    let n = value
                        .as_integer()
                        .filter(|n| (1..=100).contains(n))
                        .ok_or_else(|| format!("{here}: expected `pool_size` from 1 to 100"))?;
                    self.pool_size = Some(n as u32);
                }
                "keep" => {
                    let k = value
                        .as_str()
                        .filter(|k| ["failed", "never", "always"].contains(k))
                        .ok_or_else(|| {
                            format!("{here}: expected `keep = \"failed\" | \"never\" | \"always\"`")
                        })?;
                    // The runtime's `Keep` variant, by name.
                    self.keep = Some(
                        match k {
                            "never" => "Never",
                            "always" => "Always",
                            _ => "Failed",
                        }
                        .to_owned(),
                    );
                }
                "url_env" => {
                    let v = value
                        .as_str()
                        .filter(|v| {
                            !v.is_empty()
                                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                        })
                        .ok_or_else(|| {
                            format!("{here}: expected `url_env = \"<ENVIRONMENT_VARIABLE>\"`")
                        })?;
                    self.url_env = Some(v.to_owned());
                }
                "setup" => {
                    // A package's `false` takes back its workspace's setup.
                    self.setup = match value {
                        toml::Value::Boolean(false) => None,
                        toml::Value::String(s) if syn::parse_str::<syn::Path>(s).is_ok() => {
                            Some(s.clone())
                        }
                        _ => {
                            return Err(format!(
                                "{here}: expected `setup = \"<path of an async fn(MySqlPool)>\"` or `setup = false`"
                            ))
                        }
                    };
                }
                other => return Err(format!("{here}: unknown key `{other}`; expected {KEYS}")),
            }
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<Option<toml::Table>, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => text
            .parse::<toml::Table>()
            .map(Some)
            .map_err(|e| format!("`{}` is not valid TOML: {e}", path.display())),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Tree(PathBuf);

    impl Tree {
        fn new(files: &[(&str, &str)]) -> Tree {
            use std::sync::atomic::{AtomicU32, Ordering};
            static N: AtomicU32 = AtomicU32::new(0);
            let root = std::env::temp_dir().join(format!(
                "dbtest-config-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ));
            for (path, text) in files {
                let p = root.join(path);
                if path.ends_with('/') {
                    std::fs::create_dir_all(&p).unwrap();
                } else {
                    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
                    std::fs::write(&p, text).unwrap();
                }
            }
            Tree(root)
        }
    }

    impl Drop for Tree {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn workspace_then_package_then_nothing() {
        let t = Tree::new(&[
            ("Cargo.toml", "[workspace]\nmembers = [\"a\"]\n[workspace.metadata.dbtest]\nmigrations = \"db/migrations\"\npool_size = 3\nkeep = \"never\"\n"),
            ("db/migrations/", ""),
            ("a/Cargo.toml", "[package]\nname = \"a\"\n[package.metadata.dbtest]\npool_size = 2\n"),
            ("b/Cargo.toml", "[package]\nname = \"b\"\n"),
        ]);
        let a = Defaults::load(&t.0.join("a")).unwrap();
        assert!(a.migrations == Some(MigrationsDefault::Dir(t.0.join("db/migrations"))));
        assert_eq!(a.pool_size, Some(2), "the closer file wins");
        assert_eq!(a.keep.as_deref(), Some("Never"));
        assert_eq!(a.files, [t.0.join("Cargo.toml"), t.0.join("a/Cargo.toml")]);
        let b = Defaults::load(&t.0.join("b")).unwrap();
        assert_eq!(b.pool_size, Some(3));
    }

    #[test]
    fn a_package_takes_back_or_replaces_the_workspace_setup() {
        let t = Tree::new(&[
            (
                "Cargo.toml",
                "[workspace]\n[workspace.metadata.dbtest]\nsetup = \"app::testing::seed\"\n",
            ),
            (
                "a/Cargo.toml",
                "[package]\nname = \"a\"\n[package.metadata.dbtest]\nsetup = false\n",
            ),
            ("b/Cargo.toml", "[package]\nname = \"b\"\n"),
            (
                "c/Cargo.toml",
                "[package]\nname = \"c\"\n[package.metadata.dbtest]\nsetup = \"crate::seed\"\n",
            ),
        ]);
        assert_eq!(Defaults::load(&t.0.join("a")).unwrap().setup, None);
        let b = Defaults::load(&t.0.join("b")).unwrap().setup;
        assert_eq!(b.as_deref(), Some("app::testing::seed"));
        let c = Defaults::load(&t.0.join("c")).unwrap().setup;
        assert_eq!(c.as_deref(), Some("crate::seed"));
        let t = Tree::new(&[(
            "Cargo.toml",
            "[package]\nname = \"a\"\n[package.metadata.dbtest]\nsetup = \"not a path\"\n",
        )]);
        let e = Defaults::load(&t.0).err().unwrap();
        assert!(e.contains("expected `setup = "), "{e}");
    }

    #[test]
    fn mistakes_name_the_file() {
        let t = Tree::new(&[
            (
                "Cargo.toml",
                "[workspace]\n[workspace.metadata.dbtest]\nmigratons = \"x\"\n",
            ),
            ("a/Cargo.toml", "[package]\nname = \"a\"\n"),
        ]);
        let e = Defaults::load(&t.0.join("a")).err().unwrap();
        assert!(
            e.contains("unknown key `migratons`")
                && e.contains(&t.0.join("Cargo.toml").display().to_string()),
            "{e}"
        );
        let t = Tree::new(&[(
            "Cargo.toml",
            "[package]\nname = \"a\"\n[package.metadata.dbtest]\nmigrations = \"nope\"\n",
        )]);
        let e = Defaults::load(&t.0).err().unwrap();
        assert!(
            e.contains("migrations directory") && e.contains("does not exist"),
            "{e}"
        );
        let t = Tree::new(&[(
            "Cargo.toml",
            "[package]\nname = \"a\"\n[package.metadata.dbtest]\nkeep = \"sometimes\"\n",
        )]);
        assert!(Defaults::load(&t.0)
            .err()
            .unwrap()
            .contains("expected `keep"));
    }

    #[test]
    fn no_metadata_no_defaults() {
        let t = Tree::new(&[("Cargo.toml", "[package]\nname = \"a\"\n")]);
        let d = Defaults::load(&t.0).unwrap();
        assert!(d.migrations.is_none() && d.files.is_empty());
    }
}
