//! What a derived template adds to the template below it: a setup function's work, or fixture
//! scripts. Each layer is built once into a template of its own (see `template::ensure`), so a
//! test that uses it costs what a bare test costs: its database is a clone of the result, and a
//! reset puts it back to that result, not to the bare migrations.
//!
//! ```text
//! migrations ──▶ template ──setup──▶ derived template ──fixtures──▶ derived template ──▶ clones
//! ```

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use sha2::{Digest, Sha256};
use sqlx::mysql::{MySqlConnection, MySqlPool, MySqlPoolOptions};

use crate::context::Context;
use crate::error::{Error, Result};
use crate::naming::DbName;

/// A fixture script, built into a derived template (`fixtures(...)`).
#[derive(Debug, Clone, Copy)]
pub struct Fixture {
    /// The path as written in (or derived from) the attribute, for messages.
    pub path: &'static str,
    /// The script.
    pub contents: &'static str,
}

/// What a setup function's call returns: `Err` with the `Debug` of its error.
pub type SetupFuture = Pin<Box<dyn Future<Output = Result<(), String>>>>;

/// A setup function (`setup = "path"`): an `async fn(MySqlPool)` returning `()` or
/// `Result<T, E: Debug>`, run once on a pool of the derived template it builds.
#[derive(Clone, Copy)]
pub struct Setup {
    /// The path as written in the attribute or in Cargo.toml, for messages.
    pub path: &'static str,
    /// `path` after the module of the test that names it: the same string for the same setup in
    /// every build of the binary, so a newer build's template of it can be told from an older
    /// one's (see `sweep::superseded`).
    pub name: &'static str,
    /// The function's address: it tells functions apart within one binary (two paths of one
    /// function give one address; a `static` of fn-pointer type gives the function it holds).
    pub address: fn() -> usize,
    /// Calls it.
    pub run: fn(MySqlPool) -> SetupFuture,
}

impl fmt::Debug for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Setup").field("path", &self.path).finish()
    }
}

/// One layer of a derived template, with its key.
#[derive(Debug)]
pub(crate) struct Layer {
    what: What,
    /// Hex SHA-256 of what the layer writes, as far as dbtest can know it (see [`Layer::setup`]).
    key: String,
}

#[derive(Debug)]
enum What {
    Setup(Setup),
    Fixtures(&'static [Fixture]),
}

impl Layer {
    /// The layers of a test, bottom up: its setup, then its fixtures.
    pub fn of(setup: Option<Setup>, fixtures: &'static [Fixture]) -> Vec<Layer> {
        let setup = setup.map(|s| Layer::setup(s, binary_version()));
        let fixtures = (!fixtures.is_empty()).then(|| Layer::fixtures(fixtures));
        setup.into_iter().chain(fixtures).collect()
    }

    /// A setup layer. Its code cannot be read, so its key is the function's place in the binary
    /// (its address, as an offset from a function of this crate: the same in every process of
    /// the binary, wherever the loader put it) plus `version`, the version of the binary
    /// ([`binary_version`]): a setup is reused only by the very build that made it (and by
    /// identical rebuilds).
    fn setup(setup: Setup, version: &str) -> Layer {
        let anchor = binary_version as *const () as usize;
        let offset = ((setup.address)() as i128 - anchor as i128).to_string();
        Layer {
            key: digest(&["setup", &offset, version]),
            what: What::Setup(setup),
        }
    }

    /// A fixtures layer, keyed by the scripts' contents in order (not by their paths).
    fn fixtures(fixtures: &'static [Fixture]) -> Layer {
        let parts: Vec<&str> = std::iter::once("fixtures")
            .chain(fixtures.iter().map(|f| f.contents))
            .collect();
        Layer {
            key: digest(&parts),
            what: What::Fixtures(fixtures),
        }
    }

    pub fn key(&self) -> &str {
        &self.key
    }

    /// The key of the template this layer makes on top of the template keyed `below`.
    pub fn derive(&self, below: &str) -> String {
        digest(&["derived", below, &self.key])
    }

    /// What the layer is, for `dbtest list` and the sweep (its registry row): `setup
    /// app_tests::crate::seed` (the setup's [`Setup::name`]) or `fixtures fixtures/users.sql,
    /// fixtures/catalogue.sql`.
    pub fn label(&self) -> String {
        match &self.what {
            What::Setup(s) => format!("setup {}", s.name),
            What::Fixtures(_) => self.describe().replace('`', ""),
        }
    }

    /// What the layer is, for messages: ``setup `crate::seed` `` or
    /// ``fixtures `fixtures/users.sql`, `fixtures/catalogue.sql` ``.
    pub fn describe(&self) -> String {
        match &self.what {
            What::Setup(s) => format!("setup `{}`", s.path),
            What::Fixtures(f) => {
                let paths: Vec<String> = f.iter().map(|f| format!("`{}`", f.path)).collect();
                format!("fixtures {}", paths.join(", "))
            }
        }
    }

    /// Builds the layer into `template`, the default database of `conn`: runs the fixtures on
    /// `conn`, or the setup on a pool of its own (closed again before this returns, so all its
    /// writes are done).
    pub async fn apply(
        &self,
        ctx: &Context,
        conn: &mut MySqlConnection,
        template: &DbName,
        sessions: &Sessions,
    ) -> Result<()> {
        match &self.what {
            What::Fixtures(fixtures) => {
                for fixture in *fixtures {
                    sqlx::raw_sql(fixture.contents)
                        .execute(&mut *conn)
                        .await
                        .map_err(|e| Error::Fixture {
                            fixture: fixture.path.to_owned(),
                            template: template.as_str().to_owned(),
                            reason: e.into(),
                        })?;
                }
                Ok(())
            }
            What::Setup(setup) => run_setup(ctx, setup, template, sessions).await,
        }
    }
}

/// How long a setup's pool may take to close after the setup returned.
const SETUP_CLOSE_BOUND: Duration = Duration::from_secs(10);

/// The server sessions of a template build, each added as it is opened: what a build that got
/// stuck leaves running on the server, to be killed.
#[derive(Debug, Clone, Default)]
pub(crate) struct Sessions(Arc<Mutex<Vec<u64>>>);

impl Sessions {
    pub fn add(&self, id: u64) {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).push(id);
    }

    pub fn all(&self) -> Vec<u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

async fn run_setup(
    ctx: &Context,
    setup: &Setup,
    template: &DbName,
    sessions: &Sessions,
) -> Result<()> {
    let failed = |reason: String| Error::Setup {
        setup: setup.path.to_owned(),
        template: template.as_str().to_owned(),
        reason: reason.into(),
    };
    let opened = sessions.clone();
    let pool = MySqlPoolOptions::new()
        .max_connections(ctx.pool_size)
        .acquire_timeout(ctx.connect_timeout)
        // Each connection is known to the build, which kills it if the setup gets stuck.
        .after_connect(move |conn, _| {
            let opened = opened.clone();
            Box::pin(async move {
                let id: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
                    .fetch_one(conn)
                    .await?;
                opened.add(id);
                Ok(())
            })
        })
        .connect_lazy_with(ctx.server.connect.clone().database(template.as_str()));
    let ran = CatchUnwind((setup.run)(pool.clone())).await;
    let closed = tokio::time::timeout(SETUP_CLOSE_BOUND, pool.close())
        .await
        .is_ok();
    match ran {
        Err(panic) => Err(failed(format!("it panicked: {}", panic_message(&*panic)))),
        Ok(Err(e)) => Err(failed(format!("it returned Err: {e}"))),
        Ok(Ok(())) if !closed => Err(failed(format!(
            "it still held a connection {SETUP_CLOSE_BOUND:?} after it returned; a setup must give \
             back every connection it takes, so that all it wrote is in the template"
        ))),
        Ok(Ok(())) => Ok(()),
    }
}

/// The text of a panic's payload.
fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(a panic without a message)")
}

/// Polls a setup's future, turning its panic into an `Err`: a failed setup is an error every
/// test of its template is given, not a panic of the first one only.
struct CatchUnwind(SetupFuture);

impl Future for CatchUnwind {
    type Output = std::thread::Result<Result<(), String>>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let future = &mut self.0;
        match std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(panic) => Poll::Ready(Err(panic)),
        }
    }
}

/// Hex SHA-256 over `parts`, each after its length (no two lists of parts share a digest).
fn digest(parts: &[&str]) -> String {
    let mut h = Sha256::new();
    for part in parts {
        h.update(format!("{}\x1f", part.len()));
        h.update(part);
    }
    crate::naming::hex(&h.finalize())
}

/// A version of this process's executable, read once: its GNU build ID where it has one (a
/// digest the linker makes of the binary's contents, so an identical rebuild has the same one),
/// else its path, size and modification time (which change with every build).
pub(crate) fn binary_version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let exe = std::env::current_exe().unwrap_or_default();
        if let Some(id) = std::fs::File::open(&exe)
            .ok()
            .and_then(|mut f| build_id(&mut f))
        {
            return format!("build-id {}", crate::naming::hex(&id));
        }
        let meta = std::fs::metadata(&exe).ok();
        let modified = meta
            .as_ref()
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_nanos());
        // With no way to tell this binary apart, a version of its own: no setup is reused.
        let unknown = meta
            .is_none()
            .then(|| format!(" pid {}", std::process::id()));
        format!(
            "file {} {} {modified}{}",
            exe.display(),
            meta.map_or(0, |m| m.len()),
            unknown.unwrap_or_default()
        )
    })
}

/// The GNU build ID (`NT_GNU_BUILD_ID` note) of the 64-bit little-endian ELF file `file`, read
/// from its `PT_NOTE` segments; `None` for any other file.
fn build_id(file: &mut (impl std::io::Read + std::io::Seek)) -> Option<Vec<u8>> {
    use std::io::SeekFrom;
    let mut read_at = |offset: u64, len: usize| -> Option<Vec<u8>> {
        let mut buf = vec![0; len];
        file.seek(SeekFrom::Start(offset)).ok()?;
        file.read_exact(&mut buf).ok()?;
        Some(buf)
    };
    let u16_at = |b: &[u8], i: usize| u16::from_le_bytes([b[i], b[i + 1]]);
    let u32_at = |b: &[u8], i: usize| u32::from_le_bytes(b[i..i + 4].try_into().unwrap());
    let u64_at = |b: &[u8], i: usize| u64::from_le_bytes(b[i..i + 8].try_into().unwrap());
    let header = read_at(0, 64)?;
    // "\x7fELF", 64-bit, little-endian.
    if header[..6] != [0x7f, b'E', b'L', b'F', 2, 1] {
        return None;
    }
    let (table, size, count) = (
        u64_at(&header, 32),
        usize::from(u16_at(&header, 54)),
        usize::from(u16_at(&header, 56)),
    );
    if size < 56 || count > 4096 {
        return None;
    }
    let headers = read_at(table, size * count)?;
    for ph in headers.chunks(size) {
        const PT_NOTE: u32 = 4;
        if u32_at(ph, 0) != PT_NOTE {
            continue;
        }
        let (offset, len) = (u64_at(ph, 8), u64_at(ph, 32));
        if len > 1 << 20 {
            continue;
        }
        let notes = read_at(offset, len as usize)?;
        let mut at = 0;
        // Each note: name size, descriptor size, type, then name and descriptor, 4-aligned.
        while at + 12 <= notes.len() {
            let (name_len, desc_len, kind) = (
                u32_at(&notes, at) as usize,
                u32_at(&notes, at + 4) as usize,
                u32_at(&notes, at + 8),
            );
            let name_at = at + 12;
            let desc_at = name_at + name_len.next_multiple_of(4);
            let end = desc_at + desc_len.next_multiple_of(4);
            if end > notes.len() {
                break;
            }
            const NT_GNU_BUILD_ID: u32 = 3;
            if kind == NT_GNU_BUILD_ID && notes[name_at..name_at + name_len] == *b"GNU\0" {
                return Some(notes[desc_at..desc_at + desc_len].to_vec());
            }
            at = end;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const USERS: Fixture = Fixture {
        path: "fixtures/users.sql",
        contents: "INSERT INTO users (name) VALUES ('ada');",
    };
    const SAME_USERS_ELSEWHERE: Fixture = Fixture {
        path: "../other/users.sql",
        contents: USERS.contents,
    };
    const TAGS: Fixture = Fixture {
        path: "fixtures/tags.sql",
        contents: "INSERT INTO tags (name) VALUES ('new');",
    };

    fn noop(_: MySqlPool) -> SetupFuture {
        Box::pin(async { Ok(()) })
    }

    fn other(_: MySqlPool) -> SetupFuture {
        Box::pin(async { Err("another function".into()) })
    }

    fn setup(address: fn() -> usize) -> Setup {
        Setup {
            path: "seed",
            name: "app::seed",
            address,
            run: noop,
        }
    }

    #[test]
    fn a_fixtures_key_is_their_contents_in_order() {
        let key = |f: &'static [Fixture]| Layer::fixtures(f).key;
        assert_eq!(key(&[USERS, TAGS]), key(&[SAME_USERS_ELSEWHERE, TAGS]));
        assert_ne!(key(&[USERS, TAGS]), key(&[TAGS, USERS]));
        assert_ne!(key(&[USERS]), key(&[USERS, TAGS]));
        // Not the same as the scripts run as one.
        const BOTH: Fixture = Fixture {
            path: "both.sql",
            contents:
                "INSERT INTO users (name) VALUES ('ada');INSERT INTO tags (name) VALUES ('new');",
        };
        assert_ne!(key(&[BOTH]), key(&[USERS, TAGS]));
    }

    #[test]
    fn a_setups_key_changes_with_its_function_and_with_the_binary() {
        // Two functions under one name (two `static`s of fn-pointer type have one type name).
        let a = setup(|| noop as *const () as usize);
        let b = setup(|| other as *const () as usize);
        assert_eq!(Layer::setup(a, "v1").key, Layer::setup(a, "v1").key);
        assert_ne!(Layer::setup(a, "v1").key, Layer::setup(a, "v2").key);
        assert_ne!(Layer::setup(a, "v1").key, Layer::setup(b, "v1").key);
        // A layer's key is not a template's: each derived key depends on what it is built on.
        let layer = Layer::setup(a, "v1");
        assert_ne!(layer.derive("parent-1"), layer.derive("parent-2"));
        assert_ne!(layer.derive("parent-1"), layer.key);
    }

    #[test]
    fn layers_go_setup_then_fixtures() {
        static FIXTURES: [Fixture; 1] = [USERS];
        let layers = Layer::of(Some(setup(|| noop as *const () as usize)), &FIXTURES);
        let described: Vec<String> = layers.iter().map(Layer::describe).collect();
        assert_eq!(described, ["setup `seed`", "fixtures `fixtures/users.sql`"]);
        assert!(Layer::of(None, &[]).is_empty());
    }

    /// The build ID read here is the one `readelf` reads (a second implementation), and the
    /// binary's version is made of it.
    #[test]
    fn the_build_id_is_the_one_readelf_shows() {
        let exe = std::env::current_exe().unwrap();
        let ours =
            build_id(&mut std::fs::File::open(&exe).unwrap()).map(|id| crate::naming::hex(&id));
        let readelf = std::process::Command::new("readelf")
            .arg("-n")
            .arg(&exe)
            .output();
        let Ok(out) = readelf else {
            eprintln!("no readelf here: compared with nothing");
            return;
        };
        let text = String::from_utf8_lossy(&out.stdout);
        let theirs = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("Build ID: "))
            .map(str::to_owned);
        assert_eq!(ours, theirs, "{text}");
        match ours {
            Some(id) => assert_eq!(binary_version(), format!("build-id {id}")),
            None => assert!(binary_version().starts_with("file ")),
        }
        // Not an ELF file: no build ID.
        let mut not_elf = std::io::Cursor::new(b"#!/bin/sh\necho hi\n".to_vec());
        assert_eq!(build_id(&mut not_elf), None);
    }
}
