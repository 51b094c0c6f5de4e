//! The embedded throwaway server, used when no URL is configured: the server binary itself
//! (`mariadbd` or `mysqld`) started on a unix socket in a private directory — on tmpfs when there
//! is one — from a data directory initialised once per server version and cached.
//!
//! One server serves every test process of a run: the first process starts it under a lock file;
//! the others find it through a state file and check it is alive (a dead one is replaced). Each
//! process holds a shared lock on `users.lock` for as long as it lives; a small watchdog shuts the
//! server down and removes its directory once nobody has held that lock for `DBTEST_SERVER_IDLE`.
//!
//! ```text
//! $DBTEST_SERVER_DIR (default /dev/shm/dbtest-<uid>, else $TMPDIR/dbtest-<uid>)
//!   start.lock    exclusive while a process starts or stops the server
//!   users.lock    shared by every process using the server
//!   state         "<pid> <port> <socket>" of the running server
//!   password      root's password on the running server (0600: for the user running the tests)
//!   cache/<ver>/  an initialised data directory, per server version, kept
//!   instance/     the running server's data directory, socket and log; removed at shutdown
//! ```
//!
//! Tests use it by themselves; these functions are for tools around it (`dbtest server status`
//! and `dbtest server stop` are made of them):
//!
//! ```no_run
//! use dbtest_runtime::server;
//!
//! let dir = server::base_dir();
//! match server::read_state(&dir) {
//!     Some(r) if server::alive(&r) => println!("running: pid {}, port {}", r.pid, r.port),
//!     _ => println!("not running"),
//! }
//! ```

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use sqlx::mysql::MySqlConnectOptions;
use sqlx::ConnectOptions;

use crate::config::{Endpoint, Target};
use crate::error::Error;

pub use crate::config::DEFAULT_IDLE;

/// A running embedded server, as [`read_state`] finds it.
///
/// ```no_run
/// use dbtest_runtime::server;
///
/// if let Some(r) = server::read_state(&server::base_dir()) {
///     println!("mysql://root@127.0.0.1:{} (socket {})", r.port, r.socket.display());
/// }
/// ```
#[derive(Debug, Clone)]
pub struct Running {
    /// The server process.
    pub pid: u32,
    /// Its TCP port on 127.0.0.1.
    pub port: u16,
    /// Its unix socket (dbtest connects through it, as `root`, with the password of
    /// [`password`]).
    pub socket: PathBuf,
    /// How long getting it took in this process (start, or finding the running one).
    pub took: Duration,
    /// Whether this process started it (and whether it initialised the data directory first).
    pub started: Option<bool>,
}

fn fail(reason: impl Into<String>) -> Error {
    Error::Server {
        action: "starting the embedded server (no DBTEST_DATABASE_URL or DATABASE_URL is set)"
            .into(),
        reason: crate::error::Cause::Said(reason.into()),
    }
}

/// The directory of the embedded server: `DBTEST_SERVER_DIR`, else `dbtest-<uid>` on `/dev/shm`
/// (or in the temporary directory when there is no `/dev/shm`).
///
/// ```no_run
/// let dir = dbtest_runtime::server::base_dir();
/// println!("cached data directories: {}", dir.join("cache").display());
/// ```
pub fn base_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("DBTEST_SERVER_DIR") {
        return PathBuf::from(dir);
    }
    let uid = euid().unwrap_or(u32::MAX);
    let shm = Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    parent.join(format!("dbtest-{uid}"))
}

/// The server `target` names: a URL's, or the embedded server, found running or started (and
/// then announced in one line).
pub(crate) fn resolve(target: &Target) -> Result<Endpoint, Error> {
    let idle = match target {
        Target::Url(endpoint) => return Ok((**endpoint).clone()),
        Target::Embedded { idle } => *idle,
    };
    let server = ensure(idle)?;
    if let Some(initialised) = server.started {
        crate::say::announce(&format!(
            "dbtest: started an embedded server (pid {}, socket {}, port {}) in {:.0?}{}; it stops after {idle:?} \
             without tests (DBTEST_SERVER_IDLE)",
            server.pid,
            server.socket.display(),
            server.port,
            server.took,
            if initialised { ", data directory initialised" } else { "" },
        ));
    }
    let base = base_dir();
    let password = password(&base).ok_or_else(|| Error::Server {
        action: "connecting to the embedded server".into(),
        reason: format!(
            "its password file {}/password is missing or unreadable",
            base.display()
        )
        .into(),
    })?;
    let connect = MySqlConnectOptions::new()
        .socket(&server.socket)
        .username("root")
        .password(&password)
        .disable_statement_logging();
    Ok(Endpoint::embedded(connect, &server.socket, server.port))
}

/// The embedded server: the running one, or a new one. Also makes this process one of its users
/// (until it exits).
pub(crate) fn ensure(idle: Duration) -> Result<Running, Error> {
    let started_at = Instant::now();
    let base = base_dir();
    private_dir(&base)?;
    let start_lock = lock_file(&base.join("start.lock"))?;
    lock_within(&start_lock, &base.join("start.lock"), false, START_BOUND)?;

    // A user from now until this process ends: the watchdog never stops a server in use.
    static USER: OnceLock<File> = OnceLock::new();
    if USER.get().is_none() {
        let users = lock_file(&base.join("users.lock"))?;
        lock_within(&users, &base.join("users.lock"), true, START_BOUND)?;
        let _ = USER.set(users);
    }

    // A server started without a password (by an older dbtest) is replaced.
    if let Some(mut running) = read_state(&base).filter(|r| alive(r) && password(&base).is_some()) {
        running.took = started_at.elapsed();
        return Ok(running);
    }
    let mut running = start(&base, idle)?;
    running.took = started_at.elapsed();
    drop(start_lock);
    Ok(running)
}

/// The longest wait for another process starting or stopping the server (its lock files), and
/// for a data directory's initialisation.
const START_BOUND: Duration = Duration::from_secs(120);

/// Takes the lock of `file` (at `path`), shared or exclusive, waiting at most `bound`: a process
/// that holds it longer is stuck (or another user's, in a directory that is not ours).
fn lock_within(file: &File, path: &Path, shared: bool, bound: Duration) -> Result<(), Error> {
    let deadline = Instant::now() + bound;
    loop {
        let tried = if shared {
            file.try_lock_shared()
        } else {
            file.try_lock()
        };
        match tried {
            Ok(()) => return Ok(()),
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(fail(format!(
                    "waited {bound:?} for the lock on {}: another process starting or stopping the embedded \
                     server holds it; if none does, stop what holds it (fuser {}) or remove the directory",
                    path.display(),
                    path.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(fail(format!("cannot lock {}: {e}", path.display())))
            }
        }
    }
}

/// Opens (or makes) lock file `path`, readable by this user only: flock needs no more than a
/// read-only descriptor, so a file others could open, others could hold.
fn lock_file(path: &Path) -> Result<File, Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| fail(format!("cannot open {}: {e}", path.display())))?;
    // One an older dbtest made with the default mode.
    use std::os::unix::fs::PermissionsExt;
    let _ = file.set_permissions(fs::Permissions::from_mode(0o600));
    Ok(file)
}

/// The server of the state file in `base`, if any (it may have died since: see [`alive`]).
///
/// ```no_run
/// use dbtest_runtime::server;
///
/// let port = server::read_state(&server::base_dir()).map(|r| r.port);
/// ```
pub fn read_state(base: &Path) -> Option<Running> {
    let text = fs::read_to_string(base.join("state")).ok()?;
    let mut parts = text.trim().splitn(3, ' ');
    Some(Running {
        pid: parts.next()?.parse().ok()?,
        port: parts.next()?.parse().ok()?,
        socket: PathBuf::from(parts.next()?),
        took: Duration::ZERO,
        started: None,
    })
}

/// The effective uid of this process: the owner of `/proc/self`, else of a file it creates.
fn euid() -> Result<u32, Error> {
    if let Ok(m) = fs::metadata("/proc/self") {
        return Ok(m.uid());
    }
    let probe = std::env::temp_dir().join(format!("dbtest-uid-{}", std::process::id()));
    let made = File::create(&probe)
        .and_then(|f| f.metadata())
        .map(|m| m.uid());
    let _ = fs::remove_file(&probe);
    made.map_err(|e| {
        fail(format!(
            "cannot tell this process's user (no /proc/self, no temporary file: {e})"
        ))
    })
}

/// Makes sure `base` is a directory of this user's that nobody else may write: created (mode
/// 0700) if missing; refused if it is a link, someone else's, or writable by group or others —
/// whoever could write there could plant links or a state file of their choosing.
fn private_dir(base: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    if fs::symlink_metadata(base).is_err() {
        if let Some(parent) = base.parent() {
            fs::create_dir_all(parent)
                .map_err(|e| fail(format!("cannot create {}: {e}", parent.display())))?;
        }
        // Another process may make it at the same moment: checked below either way.
        let _ = fs::DirBuilder::new().mode(0o700).create(base);
    }
    let meta = fs::symlink_metadata(base)
        .map_err(|e| fail(format!("cannot create {}: {e}", base.display())))?;
    let me = euid()?;
    let why = if meta.file_type().is_symlink() {
        Some("is a symbolic link".to_owned())
    } else if !meta.is_dir() {
        Some("is not a directory".to_owned())
    } else if meta.uid() != me {
        Some(format!(
            "belongs to uid {}, not to this user (uid {me})",
            meta.uid()
        ))
    } else if meta.mode() & 0o022 != 0 {
        Some(format!(
            "is writable by others (mode {:o})",
            meta.mode() & 0o777
        ))
    } else {
        None
    };
    match why {
        Some(why) => Err(fail(format!(
            "the embedded server's directory {} {why}: dbtest uses only a directory of its user's that \
             nobody else may write. Remove it, or point DBTEST_SERVER_DIR at a directory of your own",
            base.display()
        ))),
        None => Ok(()),
    }
}

/// Whether process `pid` is the embedded server of `base`: a server started on its data
/// directory, run by this user or by the user the server runs as (`instance/data`'s owner).
fn is_our_server(pid: u32, base: &Path) -> bool {
    let Ok(cmdline) = fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let datadir = format!("--datadir={}", base.join("instance").join("data").display());
    let ours = cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == datadir.as_bytes());
    let owner = fs::metadata(format!("/proc/{pid}")).map(|m| m.uid()).ok();
    let allowed = [
        euid().ok(),
        fs::metadata(base.join("instance").join("data"))
            .map(|m| m.uid())
            .ok(),
    ];
    ours && owner.is_some() && allowed.contains(&owner)
}

/// Root's password on the embedded server in `base`: made anew for each server it starts, kept
/// in `base/password` (mode 0600, so only the user running the tests reads it), never printed.
///
/// ```no_run
/// use dbtest_runtime::server;
///
/// let can_connect = server::password(&server::base_dir()).is_some();
/// ```
pub fn password(base: &Path) -> Option<String> {
    let text = fs::read_to_string(base.join("password")).ok()?;
    let pw = text.trim();
    (pw.len() == 32 && pw.bytes().all(|b| b.is_ascii_hexdigit())).then(|| pw.to_owned())
}

/// 128 random bits from the kernel, as 32 hex digits.
fn new_password() -> Result<String, Error> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| fail(format!("cannot read /dev/urandom for a password: {e}")))?;
    Ok(crate::naming::hex(&bytes))
}

/// Writes `text` to `path` as a new file of mode `mode`, never through a link: through a
/// temporary file made with `O_CREAT | O_EXCL` (which follows no link) and renamed over `path`
/// (which replaces a link, never what it points to).
fn write_private(path: &Path, text: &str, mode: u32) -> Result<(), Error> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut tmp_name = path.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let _ = fs::remove_file(&tmp);
    let written = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(&tmp)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .and_then(|()| fs::rename(&tmp, path));
    written.map_err(|e| fail(format!("cannot write {}: {e}", path.display())))
}

/// What the server runs before it takes its first connection: root gets `password`, and every
/// other account that could log in (anonymous ones, root from other hosts, MariaDB's `mysql`
/// account for the OS user of that name) is dropped.
fn init_sql(password: &str) -> String {
    let mut sql = format!("ALTER USER 'root'@'localhost' IDENTIFIED BY '{password}';\n");
    let host = fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let mut others = vec![
        ("", "localhost"),
        ("", "%"),
        ("root", "127.0.0.1"),
        ("root", "::1"),
        ("root", "%"),
        ("mysql", "localhost"),
    ];
    if !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
    {
        others.push(("", host.as_str()));
        others.push(("root", host.as_str()));
    }
    for (user, host) in others {
        sql.push_str(&format!("DROP USER IF EXISTS '{user}'@'{host}';\n"));
    }
    sql
}

/// Whether a server on `socket` takes connections: it sends its greeting (the protocol's first
/// packet) within a second.
fn greets(socket: &Path) -> bool {
    use std::io::Read;
    let Ok(mut stream) = std::os::unix::net::UnixStream::connect(socket) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
    let mut header = [0u8; 4];
    stream.read_exact(&mut header).is_ok()
}

/// Whether the server's process exists and its socket answers.
///
/// ```no_run
/// use dbtest_runtime::server;
///
/// let up = server::read_state(&server::base_dir()).is_some_and(|r| server::alive(&r));
/// ```
pub fn alive(r: &Running) -> bool {
    Path::new(&format!("/proc/{}", r.pid)).exists()
        && std::os::unix::net::UnixStream::connect(&r.socket).is_ok()
}

/// Finds the server binary: `DBTEST_MYSQLD`, else `mariadbd`, then `mysqld`, on PATH and in the
/// usual sbin directories. The error says what to install when there is none.
///
/// ```no_run
/// match dbtest_runtime::server::find_binary() {
///     Ok(bin) => println!("the embedded server would run {}", bin.display()),
///     Err(e) => eprintln!("{e}"),
/// }
/// ```
pub fn find_binary() -> Result<PathBuf, Error> {
    if let Some(bin) = std::env::var_os("DBTEST_MYSQLD") {
        let bin = PathBuf::from(bin);
        return if bin.is_file() {
            Ok(bin)
        } else {
            Err(fail(format!(
                "DBTEST_MYSQLD={} is not a file",
                bin.display()
            )))
        };
    }
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for d in [
        "/usr/sbin",
        "/usr/local/sbin",
        "/sbin",
        "/usr/libexec",
        "/usr/local/mysql/bin",
        "/usr/local/bin",
        "/usr/bin",
    ] {
        dirs.push(PathBuf::from(d));
    }
    for name in ["mariadbd", "mysqld"] {
        if let Some(found) = dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()) {
            return Ok(found);
        }
    }
    Err(fail(
        "no MariaDB or MySQL server binary found (looked for mariadbd and mysqld on PATH and in the sbin \
         directories); install one (Debian: apt-get install mariadb-server), point DBTEST_MYSQLD at one, \
         or set DBTEST_DATABASE_URL to a running server",
    ))
}

/// Starts a new embedded server in `base` (ending what is left of an earlier one): a fresh
/// instance from the data directory cache, root's new password, the state file, and the watchdog
/// that stops it `idle` after its last user process ended.
fn start(base: &Path, idle: Duration) -> Result<Running, Error> {
    let bin = find_binary()?;
    let (key, mariadb) = identify(&bin)?;
    let run_as = if euid()? == 0 {
        Some(unprivileged_user()?)
    } else {
        None
    };
    end_previous(base);
    let (instance, initialised_now) = new_instance(base, &bin, &key, mariadb, run_as.as_ref())?;
    // Root's password, set before the server takes its first connection (its init file).
    let password = new_password()?;
    let init = instance.join("init.sql");
    write_private(&init, &init_sql(&password), 0o600)?;
    if let Some(user) = &run_as {
        // The server drops to this user: it must reach and own its directory.
        set_mode(base, 0o711);
        chown_tree(&instance, user.uid, user.gid);
    }
    let mut running = launch(&bin, mariadb, &instance, run_as.as_ref())?;
    running.started = Some(initialised_now);

    // The init file holds the password: gone once the server has read it.
    let _ = fs::remove_file(&init);
    write_private(&base.join("password"), &format!("{password}\n"), 0o600)?;
    write_private(
        &base.join("state"),
        &format!(
            "{} {} {}\n",
            running.pid,
            running.port,
            running.socket.display()
        ),
        0o644,
    )?;
    let born = started_at(running.pid)
        .ok_or_else(|| fail(format!("cannot read /proc/{}/stat", running.pid)))?;
    watchdog(base, running.pid, &born, idle)?;
    Ok(running)
}

/// The key of `bin`'s data directory cache (its version, as `--version` says it), and whether it
/// is MariaDB's.
fn identify(bin: &Path) -> Result<(String, bool), Error> {
    let version = Command::new(bin)
        .arg("--version")
        .output()
        .map_err(|e| fail(format!("cannot run {}: {e}", bin.display())))?;
    let version = String::from_utf8_lossy(&version.stdout).into_owned();
    let key: String = version
        .split_whitespace()
        .skip_while(|w| *w != "Ver")
        .nth(1)
        .unwrap_or("unknown")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Ok((key, version.contains("MariaDB")))
}

/// Ends what is left of a server this one replaces (if it is ours: the pid of a stale state may
/// be anyone's process by now), and removes its instance and state.
fn end_previous(base: &Path) {
    if let Some(old) = read_state(base) {
        if is_our_server(old.pid, base) {
            let _ = Command::new("kill")
                .args(["-9", &old.pid.to_string()])
                .status();
        }
    }
    let _ = fs::remove_dir_all(base.join("instance"));
    let _ = fs::remove_file(base.join("state"));
}

/// A new instance directory in `base`: a copy of the cached data directory of server version
/// `key` (initialised first if there is none), and the server's own tmpdir and file directory.
/// Returns it, and whether the data directory was initialised now.
fn new_instance(
    base: &Path,
    bin: &Path,
    key: &str,
    mariadb: bool,
    run_as: Option<&User>,
) -> Result<(PathBuf, bool), Error> {
    let instance = base.join("instance");
    let cache = base.join("cache").join(key);
    // One cache: the server's that starts now. Another version's is left by an upgrade (or a
    // DBTEST_MYSQLD pointing elsewhere) and would stay in memory, on /dev/shm, for good.
    if let Ok(entries) = fs::read_dir(base.join("cache")) {
        for entry in entries.flatten() {
            if entry.file_name() != key {
                let _ = fs::remove_dir_all(entry.path());
            }
        }
    }
    // A cache that is not this user's alone (an older dbtest left it to the server's user) may
    // hold what that user planted: made anew.
    let mine = euid()?;
    let private = fs::symlink_metadata(&cache)
        .is_ok_and(|m| m.is_dir() && m.uid() == mine && m.mode() & 0o077 == 0);
    if !private {
        let _ = fs::remove_dir_all(&cache);
    }
    let initialised_now = !cache.join("data").is_dir();
    if initialised_now {
        initialise(bin, mariadb, &cache, run_as)?;
    }
    copy_dir(&cache.join("data"), &instance.join("data"))
        .map_err(|e| fail(format!("cannot copy the cached data directory: {e}")))?;
    // A temporary directory of its own: servers sharing one remove each other's temporary files.
    fs::create_dir_all(instance.join("tmp"))
        .map_err(|e| fail(format!("cannot create a tmpdir: {e}")))?;
    // The only directory LOAD DATA INFILE and SELECT … INTO OUTFILE may use.
    fs::create_dir_all(instance.join("files")).map_err(|e| {
        fail(format!(
            "cannot create a directory for secure_file_priv: {e}"
        ))
    })?;
    set_mode(&instance.join("files"), 0o700);
    Ok((instance, initialised_now))
}

/// Starts `bin` on `instance` and waits until it greets a client. The port is free when chosen,
/// but anyone may bind it before the server does: another port, a few times, when that is why
/// the server stopped.
fn launch(
    bin: &Path,
    mariadb: bool,
    instance: &Path,
    run_as: Option<&User>,
) -> Result<Running, Error> {
    let socket = instance.join("mysqld.sock");
    for attempt in 1.. {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| fail(format!("no free loopback port: {e}")))?;
        let _ = fs::remove_file(instance.join("error.log"));
        let mut child = server_command(bin, mariadb, instance, &socket, port, run_as)
            .spawn()
            .map_err(|e| fail(format!("cannot run {}: {e}", bin.display())))?;
        let running = Running {
            pid: child.id(),
            port,
            socket: socket.clone(),
            took: Duration::ZERO,
            started: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        // Greeted, not only listening: the server runs its init file (root's password) between
        // creating its socket and taking connections, and the file may go only after that.
        loop {
            if greets(&running.socket) {
                return Ok(running);
            }
            let exited = matches!(child.try_wait(), Ok(Some(_)));
            if Instant::now() > deadline || exited {
                let log = fs::read_to_string(instance.join("error.log")).unwrap_or_default();
                if exited && attempt < 3 && port_taken(&log) {
                    break;
                }
                let tail: Vec<&str> = log
                    .lines()
                    .rev()
                    .take(8)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect();
                return Err(fail(format!(
                    "{} did not answer on {} within 30 s; its log ends:\n{}{}",
                    bin.display(),
                    socket.display(),
                    tail.join("\n"),
                    confinement(bin, &log, apparmor_present()).unwrap_or_default()
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    unreachable!("the attempts above end in a return")
}

/// The command that runs `bin` on `instance`, listening on `socket` and loopback `port`.
fn server_command(
    bin: &Path,
    mariadb: bool,
    instance: &Path,
    socket: &Path,
    port: u16,
    run_as: Option<&User>,
) -> Command {
    let mut cmd = Command::new(bin);
    cmd.arg("--no-defaults");
    if let Some(user) = run_as {
        cmd.arg(format!("--user={}", user.name));
    }
    // Everything of the instance in its directory; the only directory LOAD DATA INFILE and
    // SELECT … INTO OUTFILE may use is `files`.
    for (option, file) in [
        ("datadir", "data"),
        ("pid-file", "mysqld.pid"),
        ("log-error", "error.log"),
        ("tmpdir", "tmp"),
        ("init-file", "init.sql"),
        ("secure-file-priv", "files"),
    ] {
        cmd.arg(format!("--{option}={}", instance.join(file).display()));
    }
    cmd.arg(format!("--socket={}", socket.display()))
        .arg(format!("--port={port}"))
        .arg("--bind-address=127.0.0.1")
        .arg("--local-infile=0")
        // Test tuning: nothing here has to survive a crash.
        .args([
            "--innodb-flush-log-at-trx-commit=0",
            "--innodb-doublewrite=0",
            "--skip-log-bin",
            "--innodb-buffer-pool-size=128M",
            "--innodb-log-file-size=16M",
            "--skip-name-resolve",
            "--max-connections=300",
            // Events run only when a test enables the scheduler (MySQL 8 starts it by default).
            "--event-scheduler=OFF",
        ]);
    if !mariadb {
        // MySQL 8's X Plugin listens on *:33060 (all interfaces, and a second instance collides).
        cmd.arg("--mysqlx=OFF");
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: it outlives this process, and signals to this one's group.
        .process_group(0);
    cmd
}

/// The user the server runs as when we are root (mariadbd refuses root unless told).
struct User {
    name: String,
    uid: u32,
    gid: u32,
}

fn unprivileged_user() -> Result<User, Error> {
    let wanted = std::env::var("DBTEST_MYSQLD_USER").ok();
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let candidates: Vec<&str> = match &wanted {
        Some(w) => vec![w.as_str()],
        // Not `nobody`: whoever runs as the server's user can change its files, and `nobody` is
        // everyone's.
        None => vec!["mysql"],
    };
    for name in candidates {
        for line in passwd.lines() {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() > 3 && f[0] == name {
                if let (Ok(uid), Ok(gid)) = (f[2].parse(), f[3].parse()) {
                    return Ok(User {
                        name: name.to_owned(),
                        uid,
                        gid,
                    });
                }
            }
        }
    }
    Err(fail(
        "running as root, and no `mysql` user to run the server as (mariadbd refuses root): create one \
         (Debian's mariadb-server does), or name the server's own user in DBTEST_MYSQLD_USER — not a \
         user others run things as, such as nobody: that user can change the server's files",
    ))
}

/// Initialises a data directory into `cache/data` (through a temporary directory, so a half-made
/// one is never taken for the cache).
fn initialise(bin: &Path, mariadb: bool, cache: &Path, run_as: Option<&User>) -> Result<(), Error> {
    // (Not `with_extension`: the version in the name has dots.)
    let mut tmp_name = cache.file_name().unwrap_or_default().to_os_string();
    tmp_name.push(".tmp");
    let tmp = cache.with_file_name(tmp_name);
    let _ = fs::remove_dir_all(&tmp);
    // A temporary directory of its own: a server starting up removes the `#sql…` temporary files
    // it finds in its tmpdir, including those of a bootstrap running at that moment.
    let scratch = tmp.join("tmpdir");
    fs::create_dir_all(&scratch)
        .map_err(|e| fail(format!("cannot create {}: {e}", scratch.display())))?;
    if let Some(user) = run_as {
        if let Some(parent) = tmp.parent() {
            set_mode(parent, 0o711);
            if let Some(base) = parent.parent() {
                set_mode(base, 0o711);
            }
        }
        chown_tree(&tmp, user.uid, user.gid);
    }
    let data = tmp.join("data");
    let mut cmd = if mariadb {
        let dir = bin.parent().unwrap_or(Path::new("/usr/sbin"));
        let install = ["mariadb-install-db", "mysql_install_db"]
            .iter()
            .flat_map(|n| {
                [
                    dir.join(n),
                    dir.with_file_name("bin").join(n),
                    PathBuf::from("/usr/bin").join(n),
                ]
            })
            .find(|p| p.is_file())
            .ok_or_else(|| fail("mariadb-install-db not found next to the server binary"))?;
        let mut c = Command::new(install);
        c.arg("--no-defaults")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", scratch.display()))
            .args([
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
                "--innodb-log-file-size=16M",
            ]);
        c
    } else {
        let mut c = Command::new(bin);
        c.arg("--no-defaults")
            .arg("--initialize-insecure")
            .arg(format!("--datadir={}", data.display()))
            .arg(format!("--tmpdir={}", scratch.display()));
        c
    };
    if let Some(user) = run_as {
        cmd.arg(format!("--user={}", user.name));
    }
    let (ok, said) = run_within(&mut cmd, &tmp.join("initialise.log"), START_BOUND)
        .map_err(|e| fail(format!("cannot initialise a data directory: {e}")))?;
    if !ok {
        return Err(fail(format!(
            "initialising a data directory failed: {said}{}",
            confinement(bin, &said, apparmor_present()).unwrap_or_default()
        )));
    }
    let _ = fs::remove_dir_all(&scratch);
    // The cache is this user's alone: the server's user gets copies of it, never the cache, so
    // nothing it plants there (a link, an account) reaches a later server.
    let (uid, gid) = own_ids()?;
    chown_tree(&tmp, uid, gid);
    fs::rename(&tmp, cache)
        .map_err(|e| fail(format!("cannot keep the initialised data directory: {e}")))
}

/// This process's effective uid and (from `/proc/self`) gid.
fn own_ids() -> Result<(u32, u32), Error> {
    let gid = fs::metadata("/proc/self").map(|m| m.gid()).unwrap_or(0);
    Ok((euid()?, gid))
}

/// Runs `cmd` (output into `log`), in a process group of its own, at most for `bound`: past it,
/// the whole group is killed (an initialisation script's own children too). Whether it succeeded,
/// and what it said.
fn run_within(cmd: &mut Command, log: &Path, bound: Duration) -> std::io::Result<(bool, String)> {
    use std::os::unix::fs::OpenOptionsExt;
    let out = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(log)?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .process_group(0)
        .spawn()?;
    let deadline = Instant::now() + bound;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let said = fs::read_to_string(log).unwrap_or_default();
    Ok(match status {
        Some(status) => (status.success(), said),
        None => (
            false,
            format!("it did not finish within {bound:?}; it said: {said}"),
        ),
    })
}

/// Whether the kernel runs AppArmor.
fn apparmor_present() -> bool {
    Path::new("/sys/kernel/security/apparmor").exists()
}

/// What to do when `bin` was refused its files by a confinement profile: Ubuntu's AppArmor
/// profile for `/usr/sbin/mysqld` lets it use its own directories only (`/var/lib/mysql`, …),
/// not a data directory on `/dev/shm` or in `$TMPDIR`. `said` is what it logged.
fn confinement(bin: &Path, said: &str, apparmor: bool) -> Option<String> {
    let denied = ["Permission denied", "errno: 13", "Errcode: 13", "error 13"]
        .iter()
        .any(|m| said.contains(m));
    let mysqld = bin.file_name().is_some_and(|n| n == "mysqld");
    (denied && mysqld && apparmor).then(|| {
        format!(
            "\n{} was refused access to its files, most likely by AppArmor (its profile, \
             /etc/apparmor.d/usr.sbin.mysqld, allows it its own directories only): point DBTEST_SERVER_DIR \
             at a directory the profile allows, run `aa-complain {}` on a machine of your own, use \
             mariadbd (DBTEST_MYSQLD), or set DBTEST_DATABASE_URL to a running server",
            bin.display(),
            bin.display()
        )
    })
}

/// Copies the tree `from` to `to`: directories and regular files only (a link, which a data
/// directory never holds, is skipped: copying through one would copy what it points to).
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if !fs::symlink_metadata(from)?.is_dir() {
        return Err(std::io::Error::other(format!(
            "{} is not a directory (a link?)",
            from.display()
        )));
    }
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let kind = entry.file_type()?;
        if kind.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if kind.is_file() {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Gives the tree at `path` to `uid`:`gid`, links themselves and never what they point to,
/// its directories mode 0700. Depth first: a directory changes hands only after everything in
/// it, so no path this walks goes through a directory its new owner could already change.
fn chown_tree(path: &Path, uid: u32, gid: u32) {
    let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
    if let (true, Ok(entries)) = (is_dir, fs::read_dir(path)) {
        for e in entries.flatten() {
            chown_tree(&e.path(), uid, gid);
        }
        set_mode(path, 0o700);
    }
    let _ = std::os::unix::fs::lchown(path, Some(uid), Some(gid));
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
}

/// Whether a server that stopped by itself did so because its port was taken.
fn port_taken(log: &str) -> bool {
    log.contains("Bind on TCP/IP port") || log.contains("Address already in use")
}

/// When process `pid` started (`/proc/<pid>/stat`, field 22, in clock ticks since boot): with the
/// pid, it names one process, not whichever process has that pid now.
fn started_at(pid: u32) -> Option<String> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's name, which is in parentheses and may hold spaces: field 3 on.
    let rest = &stat[stat.rfind(')')? + 2..];
    rest.split(' ').nth(19).map(str::to_owned)
}

/// Starts the watchdog: a shell loop that stops the server once no process has held `users.lock`
/// for `idle`, and removes its directory. It signals the server only while `pid` is still the
/// process that started at `born` (see [`started_at`]; the same field read the same way): a pid
/// the server left behind may be any process's by then. It needs `sh`, `sed`, `cut` and
/// util-linux's `flock`.
fn watchdog(base: &Path, pid: u32, born: &str, idle: Duration) -> Result<(), Error> {
    let idle = idle.as_secs().max(1);
    let script = format!(
        r#"cd "$0" || exit 0
ours() {{ [ "$(sed 's/.*) //' /proc/{pid}/stat 2>/dev/null | cut -d' ' -f20)" = "{born}" ]; }}
quiet=0
while sleep 1; do
  ours || exit 0
  if flock -n -x users.lock true; then quiet=$((quiet+1)); else quiet=0; fi
  if [ "$quiet" -ge {idle} ]; then
    (
      flock -x 9
      ours || exit 0
      flock -n -x users.lock true || exit 1
      kill -TERM {pid}; i=0
      while ours && [ $i -lt 600 ]; do sleep 0.1; i=$((i+1)); done
      rm -rf instance state password
    ) 9<start.lock && exit 0
    quiet=0
  fi
done"#
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(base)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .map(drop)
        .map_err(|e| fail(format!("cannot start the idle watchdog (sh): {e}")))
}

/// Stops the embedded server in `base` now (`dbtest server stop`); false if none was running.
/// Test processes still using it fail; stop it between runs.
///
/// ```no_run
/// use dbtest_runtime::server;
///
/// if server::stop(&server::base_dir())? {
///     println!("stopped");
/// }
/// # Ok::<(), dbtest_runtime::Error>(())
/// ```
pub fn stop(base: &Path) -> Result<bool, Error> {
    if fs::symlink_metadata(base).is_err() {
        return Ok(false);
    }
    private_dir(base)?;
    let lock = lock_file(&base.join("start.lock"))?;
    lock_within(&lock, &base.join("start.lock"), false, START_BOUND)?;
    let Some(r) = read_state(base) else {
        return Ok(false);
    };
    let proc_dir = PathBuf::from(format!("/proc/{}", r.pid));
    if is_our_server(r.pid, base) {
        let _ = Command::new("kill")
            .args(["-TERM", &r.pid.to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(60);
        while proc_dir.exists() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    let _ = fs::remove_dir_all(base.join("instance"));
    let _ = fs::remove_file(base.join("state"));
    let _ = fs::remove_file(base.join("password"));
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refusal_by_apparmor_says_what_to_do() {
        let log = "[ERROR] [MY-010187] [Server] Could not open file '/dev/shm/dbtest-0/instance/error.log' \
                   for error logging: Permission denied";
        let said = confinement(Path::new("/usr/sbin/mysqld"), log, true).unwrap();
        assert!(
            said.contains("AppArmor")
                && said.contains("DBTEST_SERVER_DIR")
                && said.contains("mariadbd"),
            "{said}"
        );
        // Not mysqld, no AppArmor, or no refusal: nothing to add.
        assert_eq!(
            confinement(Path::new("/usr/sbin/mariadbd"), log, true),
            None
        );
        assert_eq!(confinement(Path::new("/usr/sbin/mysqld"), log, false), None);
        assert_eq!(
            confinement(
                Path::new("/usr/sbin/mysqld"),
                "[ERROR] Can't start server: Bind on TCP/IP port",
                true
            ),
            None
        );
    }

    #[test]
    fn a_command_past_its_bound_is_killed_with_its_children() {
        let dir = std::env::temp_dir().join(format!("dbtest-run-within-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let marker = dir.join("grandchild");
        // A script whose child outlives it unless its group is killed.
        let script = format!("(sleep 2; touch {}) & sleep 30", marker.display());
        let started = Instant::now();
        let (ok, said) = run_within(
            Command::new("sh").args(["-c", &script]),
            &dir.join("log"),
            Duration::from_millis(300),
        )
        .unwrap();
        assert!(!ok && said.contains("did not finish within"), "{said}");
        assert!(started.elapsed() < Duration::from_secs(5));
        std::thread::sleep(Duration::from_millis(2500));
        assert!(!marker.exists(), "the script's child lived on");
        let (ok, said) = run_within(
            Command::new("sh").args(["-c", "echo fine"]),
            &dir.join("log"),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(ok && said.contains("fine"));
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_taken_port_is_told_from_other_failures() {
        assert!(port_taken(
            "2026-12-01 [ERROR] Can't start server: Bind on TCP/IP port. Got error: 98: Address already in use"
        ));
        assert!(port_taken(
            "[ERROR] [MY-010262] [Server] Can't start server: Bind on TCP/IP port: Address already in use"
        ));
        assert!(!port_taken(
            "[ERROR] InnoDB: Cannot allocate memory for the buffer pool"
        ));
    }

    /// The watchdog of a server that is gone leaves alone the process that has its pid now: here
    /// a `sleep` whose start time is not the one the watchdog was given (as after pid reuse); the
    /// same watchdog given the right one stops it and removes the state.
    #[test]
    fn the_watchdog_signals_only_the_process_it_was_started_for() {
        let run = |born_right: bool| {
            let dir = std::env::temp_dir().join(format!(
                "dbtest-watchdog-{}-{born_right}",
                std::process::id()
            ));
            fs::create_dir_all(&dir).unwrap();
            for f in ["users.lock", "start.lock", "state"] {
                fs::write(dir.join(f), "").unwrap();
            }
            let child = Command::new("sleep").arg("30").spawn().unwrap();
            let born = started_at(child.id()).unwrap();
            let given = if born_right {
                born
            } else {
                format!("{}", born.parse::<u64>().unwrap() + 1)
            };
            watchdog(&dir, child.id(), &given, Duration::from_secs(1)).unwrap();
            (dir, child)
        };
        let (wrong_dir, mut wrong) = run(false);
        let (right_dir, mut right) = run(true);
        let deadline = Instant::now() + Duration::from_secs(10);
        while matches!(right.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        // The wrong one's watchdog had as long, and more: it checks once a second.
        std::thread::sleep(Duration::from_millis(1500));
        let wrong_alive = matches!(wrong.try_wait(), Ok(None));
        let right_stopped = !matches!(right.try_wait(), Ok(None));
        let _ = wrong.kill();
        let _ = wrong.wait();
        let _ = right.kill();
        let _ = right.wait();
        let state_kept = wrong_dir.join("state").exists();
        let state_removed = !right_dir.join("state").exists();
        fs::remove_dir_all(&wrong_dir).unwrap();
        let _ = fs::remove_dir_all(&right_dir);
        assert!(
            right_stopped && state_removed,
            "the watchdog did not stop its own server"
        );
        assert!(
            wrong_alive,
            "the watchdog signalled a process that is not its server"
        );
        assert!(state_kept);
    }

    #[test]
    fn a_lock_file_held_elsewhere_is_waited_for_within_a_bound() {
        let dir = std::env::temp_dir().join(format!("dbtest-lock-within-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let path = dir.join("start.lock");
        let held = lock_file(&path).unwrap();
        held.lock().unwrap();
        // Another open file description: flock locks do not stack across them.
        let other = lock_file(&path).unwrap();
        let started = Instant::now();
        let err = lock_within(&other, &path, false, Duration::from_millis(300)).unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(3));
        let said = err.to_string();
        assert!(
            said.contains("waited") && said.contains(&path.display().to_string()),
            "{said}"
        );
        drop(held);
        lock_within(&other, &path, true, Duration::from_secs(3)).unwrap();
        fs::remove_dir_all(&dir).unwrap();
    }
}
