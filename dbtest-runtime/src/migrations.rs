//! The migration set of a test: where it comes from, its digest (which names the template), and
//! running it with errors that name the failing file.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use sqlx::migrate::{MigrateError, Migrator};
use sqlx::mysql::MySqlConnection;

use crate::error::{Error, Result};
use crate::naming::DbName;

/// Bumped whenever the template layout, the clone script or what a reset's state reads (and so the
/// reference state stored in the marker) changes, so that templates built by another dbtest are
/// never reused.
pub(crate) const FORMAT_VERSION: u32 = 13;

/// Where a test's migrations come from, as written in the attribute.
#[derive(Debug, Clone, Copy)]
pub enum Migrations {
    /// A directory of `.sql` files, as an absolute path (`migrations = "dir"`, or `./migrations`).
    Dir(&'static str),
    /// A static migrator (`migrator = "path::MIGRATOR"`).
    Migrator(&'static Migrator),
    /// No migrations: an empty database (`migrations = false`).
    None,
}

impl Migrations {
    /// A key that tells migration sources apart within one process.
    pub(crate) fn cache_key(&self) -> String {
        match self {
            Migrations::Dir(dir) => format!("dir:{dir}"),
            Migrations::Migrator(m) => format!("migrator:{:p}", *m),
            Migrations::None => "none".into(),
        }
    }
}

/// What `migrator = "path"` may name: a `static` [`Migrator`] (as with `#[sqlx::test]`), or a
/// `static` [`LazyLock`](std::sync::LazyLock) that builds one on first use (for migration sets
/// assembled at run time).
pub trait MigratorSource {
    /// The migrator.
    fn migrator(&'static self) -> &'static Migrator;
}

impl MigratorSource for Migrator {
    fn migrator(&'static self) -> &'static Migrator {
        self
    }
}

impl<F: FnOnce() -> Migrator> MigratorSource for std::sync::LazyLock<Migrator, F> {
    fn migrator(&'static self) -> &'static Migrator {
        self
    }
}

/// A loaded migration set.
#[derive(Debug)]
pub(crate) struct MigrationSet {
    source: Migrations,
    /// A directory's migrator, read from disk when the template is built (once per process and
    /// source, so it lives as long as the process). Until then the directory is known by its
    /// files' digest only: sqlx hashes every migration as it reads it, which is most of a process's
    /// start-up in a debug build, and a process that finds its template ready never needs it.
    migrator: tokio::sync::OnceCell<Option<&'static Migrator>>,
    /// Hex SHA-256 of the format version and, for a directory, the name and content of each file
    /// in it; for a static migrator, each up migration's version and checksum.
    pub key: String,
}

impl MigrationSet {
    /// Reads the set's key (for a directory: its files, from disk).
    pub async fn load(source: Migrations) -> Result<MigrationSet> {
        let key = match source {
            Migrations::None => digest(None),
            Migrations::Migrator(m) => digest(Some(m)),
            Migrations::Dir(dir) => {
                let path = PathBuf::from(dir);
                if !path.is_dir() {
                    return Err(Error::ReadMigrations {
                        dir: path,
                        reason: "not a directory (the test binary reads migrations at run time \
                                 from where they were at compile time)"
                            .into(),
                    });
                }
                dir_digest(&path).map_err(|e| Error::ReadMigrations {
                    dir: path.clone(),
                    reason: e.into(),
                })?
            }
        };
        Ok(MigrationSet {
            source,
            migrator: tokio::sync::OnceCell::new(),
            key,
        })
    }

    /// The set's migrator; `None` for no migrations.
    pub async fn migrator(&self) -> Result<Option<&'static Migrator>> {
        self.migrator
            .get_or_try_init(|| async {
                Ok(match self.source {
                    Migrations::None => None,
                    Migrations::Migrator(m) => Some(m),
                    Migrations::Dir(dir) => {
                        let path = Path::new(dir);
                        let mut m =
                            Migrator::new(path)
                                .await
                                .map_err(|e| Error::ReadMigrations {
                                    dir: path.to_owned(),
                                    reason: e.into(),
                                })?;
                        // dbtest's own lock already serialises builds of this template.
                        m.set_locking(false);
                        Some(&*Box::leak(Box::new(m)))
                    }
                })
            })
            .await
            .copied()
    }

    /// How many up migrations the set has (read once it was run).
    pub fn len(&self) -> usize {
        self.migrator.get().copied().flatten().map_or(0, |m| {
            m.iter()
                .filter(|m| !m.migration_type.is_down_migration())
                .count()
        })
    }

    /// Runs every migration on `conn`, whose default database is the template being built.
    pub async fn run(&self, conn: &mut MySqlConnection, template: &DbName) -> Result<()> {
        let Some(migrator) = self.migrator().await? else {
            return Ok(());
        };
        migrator.run(&mut *conn).await.map_err(|e| match e {
            MigrateError::ExecuteMigration(source, version) => Error::Migration {
                template: template.as_str().to_owned(),
                migration: self.describe(migrator, version),
                reason: source.into(),
            },
            other => Error::Template {
                template: template.as_str().to_owned(),
                action: "running migrations",
                reason: other.into(),
            },
        })
    }

    /// Names migration `version`: its file when the set came from a directory.
    fn describe(&self, migrator: &Migrator, version: i64) -> String {
        let file = match self.source {
            Migrations::Dir(dir) => file_of(Path::new(dir), version),
            _ => None,
        };
        let description = migrator
            .iter()
            .find(|m| m.version == version)
            .map(|m| m.description.to_string())
            .unwrap_or_default();
        match file {
            Some(file) => format!("`{}`", file.display()),
            None => format!("{version} ({description})"),
        }
    }
}

/// The file in `dir` holding the up migration `version` (`0002_x.sql` is version 2).
fn file_of(dir: &Path, version: i64) -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let digits = name.split('_').next().unwrap_or_default();
            digits.parse::<i64>().ok() == Some(version)
                && name.ends_with(".sql")
                && !name.ends_with(".down.sql")
        })
        .collect();
    found.sort();
    found.into_iter().next()
}

/// The key of a static migrator's set: SHA-256 over the format version and each up migration's
/// version and checksum, in order. Equal on every machine and toolchain.
fn digest(migrator: Option<&Migrator>) -> String {
    let mut h = Sha256::new();
    h.update(format!("dbtest format {FORMAT_VERSION}\n"));
    match migrator {
        None => h.update(b"no migrations\n"),
        Some(m) => {
            for mig in m.iter().filter(|m| !m.migration_type.is_down_migration()) {
                h.update(mig.version.to_le_bytes());
                h.update((mig.checksum.len() as u64).to_le_bytes());
                h.update(&*mig.checksum);
            }
            // sqlx 0.9 can keep its bookkeeping under another name (`sqlx.toml`); such a template
            // differs. The default adds nothing, so 0.8 and 0.9 share templates.
            #[cfg(feature = "sqlx-0_9")]
            if m.table_name != Migrator::DEFAULT.table_name {
                h.update(format!("migrations table {}\n", m.table_name));
            }
        }
    }
    crate::naming::hex(&h.finalize())
}

/// The key of the migration directory `dir`: SHA-256 over the format version and every file in
/// it, in the order of their names, each as its name and content after their lengths. Any file
/// counts, even one sqlx skips: a README edited beside the migrations costs a template build,
/// never the reuse of a template built from other migrations. Equal on every machine and
/// toolchain, and for sqlx 0.8 and 0.9.
fn dir_digest(dir: &Path) -> std::io::Result<String> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        // Through symbolic links, as sqlx reads them; subdirectories are not sqlx's.
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    let mut h = Sha256::new();
    h.update(format!("dbtest format {FORMAT_VERSION}\ndirectory\n"));
    for path in files {
        let name = path.file_name().unwrap_or_default().as_encoded_bytes();
        let content = std::fs::read(&path)?;
        h.update((name.len() as u64).to_le_bytes());
        h.update(name);
        h.update((content.len() as u64).to_le_bytes());
        h.update(&content);
    }
    Ok(crate::naming::hex(&h.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set_in(files: &[(&str, &str)]) -> (tempdir::Dir, String) {
        let dir = tempdir::Dir::new();
        for (name, sql) in files {
            std::fs::write(dir.0.join(name), sql).unwrap();
        }
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let path: &'static str = Box::leak(dir.0.to_str().unwrap().to_owned().into_boxed_str());
        let set = rt
            .block_on(MigrationSet::load(Migrations::Dir(path)))
            .unwrap();
        (dir, set.key)
    }

    mod tempdir {
        pub struct Dir(pub std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                use std::sync::atomic::{AtomicU32, Ordering};
                static N: AtomicU32 = AtomicU32::new(0);
                let p = std::env::temp_dir().join(format!(
                    "dbtest-unit-{}-{}",
                    std::process::id(),
                    N.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&p).unwrap();
                Dir(p)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn key_changes_with_any_migration_and_not_otherwise() {
        let base = [
            ("1_a.sql", "CREATE TABLE a (id INT);"),
            ("2_b.sql", "CREATE TABLE b (id INT);"),
        ];
        let (_d1, k1) = set_in(&base);
        let (_d2, k2) = set_in(&base);
        assert_eq!(k1, k2, "same set, same key");
        let (_d3, k3) = set_in(&[base[0], ("2_b.sql", "CREATE TABLE b (id BIGINT);")]);
        assert_ne!(k1, k3, "edited migration");
        let (_d4, k4) = set_in(&[base[0], base[1], ("3_c.sql", "SELECT 1;")]);
        assert_ne!(k1, k4, "added migration");
        let (_d5, k5) = set_in(&[base[0], ("3_b.sql", "CREATE TABLE b (id INT);")]);
        assert_ne!(k1, k5, "renumbered migration");
        let (_d6, k6) = set_in(&[base[0], base[1], ("README.md", "notes")]);
        assert_ne!(k1, k6, "any file in the directory counts");
        assert_ne!(digest(None), k1);
        assert_eq!(k1.len(), 64);
    }

    #[cfg(feature = "sqlx-0_9")]
    #[test]
    fn another_migrations_table_is_another_template() {
        let default = Migrator::DEFAULT;
        let mut renamed = Migrator::DEFAULT;
        renamed.table_name = "app_migrations".into();
        assert_ne!(digest(Some(&default)), digest(Some(&renamed)));
        // An empty default migrator hashes as before the table name was considered.
        let mut h = Sha256::new();
        h.update(format!("dbtest format {FORMAT_VERSION}\n"));
        let before: String = crate::naming::hex(&h.finalize());
        assert_eq!(digest(Some(&default)), before);
    }

    #[test]
    fn failing_version_maps_to_its_file() {
        let (d, _) = set_in(&[
            ("0003_c.sql", "w"),
            ("20240101_a.sql", "x"),
            ("20240102_b.up.sql", "y"),
            ("20240102_b.down.sql", "z"),
        ]);
        assert_eq!(
            file_of(&d.0, 20240101).unwrap().file_name().unwrap(),
            "20240101_a.sql"
        );
        assert_eq!(
            file_of(&d.0, 20240102).unwrap().file_name().unwrap(),
            "20240102_b.up.sql"
        );
        assert_eq!(file_of(&d.0, 3).unwrap().file_name().unwrap(), "0003_c.sql");
        assert!(file_of(&d.0, 7).is_none());
    }
}
