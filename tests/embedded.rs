//! The embedded server, used when no URL is set: two processes starting at once share one server,
//! a killed server is replaced by the next run, and the server stops by itself after the idle
//! period. Each test uses a server directory of its own (`DBTEST_SERVER_DIR`).

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dbtest_runtime::db_test;
use dbtest_runtime::server;
use dbtest_tests::run_id;
use sqlx::MySqlPool;

#[db_test(migrations = "tests/simple/migrations")]
#[ignore = "started by the tests in this file"]
async fn member_on_embedded(pool: MySqlPool) {
    let port: i64 = sqlx::query_scalar("SELECT CAST(@@port AS SIGNED)")
        .fetch_one(&pool)
        .await
        .unwrap();
    let notes: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(notes, 1, "migrated");
    println!("EMBEDDED_PORT={port}");
}

/// What `DBTEST_EMBEDDED_DO` says: `lower` the server's `wait_timeout` to 1 s (for sessions that
/// start later; the server is the calling test's own), or `hold` its database for 3 s (idle) and
/// write into it then.
#[db_test(migrations = "tests/simple/migrations")]
#[ignore = "started by the tests in this file"]
async fn member_on_embedded_does(pool: MySqlPool) {
    match std::env::var("DBTEST_EMBEDDED_DO").as_deref() {
        Ok("lower") => {
            sqlx::query("SET GLOBAL wait_timeout = 1")
                .execute(&pool)
                .await
                .unwrap();
        }
        Ok("hold") => {
            println!("HOLDING");
            // Until the parent says so (a file it makes), at most 60 s.
            let release = PathBuf::from(std::env::var_os("DBTEST_EMBEDDED_RELEASE").unwrap());
            let deadline = Instant::now() + Duration::from_secs(60);
            while !release.exists() && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            sqlx::query("INSERT INTO notes (body) VALUES ('still mine')")
                .execute(&pool)
                .await
                .unwrap();
        }
        other => panic!("DBTEST_EMBEDDED_DO={other:?}"),
    }
}

/// A server directory of this test's own, removed (server stopped first) when dropped.
struct Dir(PathBuf);

impl Dir {
    fn new() -> Dir {
        let shm = PathBuf::from("/dev/shm");
        let parent = if shm.is_dir() {
            shm
        } else {
            std::env::temp_dir()
        };
        let dir = parent.join(format!("dbtest-embedded-test-{}", run_id()));
        Dir(dir)
    }

    fn member(&self, idle: &str) -> Command {
        self.command("member_on_embedded", idle)
    }

    /// Runs test `member` of this file on this directory's server.
    fn command(&self, member: &str, idle: &str) -> Command {
        let mut cmd = dbtest_tests::member(member);
        cmd.env_remove("DBTEST_DATABASE_URL")
            .env_remove("DATABASE_URL")
            .env("DBTEST_SERVER_DIR", &self.0)
            .env("DBTEST_SERVER_IDLE", idle)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn does(&self, what: &str) -> Command {
        let mut cmd = self.command("member_on_embedded_does", "60");
        cmd.env("DBTEST_EMBEDDED_DO", what);
        cmd
    }

    fn state(&self) -> Option<server::Running> {
        server::read_state(&self.0)
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        let _ = server::stop(&self.0);
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn port_of(out: &Output) -> Option<u16> {
    text(out).lines().find_map(|l| {
        l.split_once("EMBEDDED_PORT=")
            .and_then(|(_, p)| p.trim().parse().ok())
    })
}

#[test]
fn two_processes_starting_at_once_share_one_server() {
    let dir = Dir::new();
    let (a, b) = (
        dir.member("60").spawn().unwrap(),
        dir.member("60").spawn().unwrap(),
    );
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(
        a.status.success() && b.status.success(),
        "{}\n---\n{}",
        text(&a),
        text(&b)
    );
    let starts = [&a, &b]
        .iter()
        .filter(|o| text(o).contains("dbtest: started an embedded server"))
        .count();
    assert_eq!(
        starts,
        1,
        "exactly one of them starts the server:\n{}\n---\n{}",
        text(&a),
        text(&b)
    );
    let state = dir.state().expect("a state file");
    assert_eq!(port_of(&a), Some(state.port));
    assert_eq!(port_of(&b), Some(state.port));
    assert!(
        text(&a).contains("data directory initialised")
            || text(&b).contains("data directory initialised")
    );
}

#[test]
fn a_killed_server_is_replaced_by_the_next_run() {
    let dir = Dir::new();
    let first = dir.member("60").output().unwrap();
    assert!(first.status.success(), "{}", text(&first));
    let old = dir.state().expect("a state file");
    Command::new("kill")
        .args(["-9", &old.pid.to_string()])
        .status()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while server::alive(&old) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }

    let next = dir.member("60").output().unwrap();
    assert!(
        next.status.success(),
        "the next run starts a new server:\n{}",
        text(&next)
    );
    let new = dir.state().expect("a state file");
    assert_ne!(new.pid, old.pid);
    assert!(
        text(&next).contains("dbtest: started an embedded server"),
        "{}",
        text(&next)
    );
    assert!(
        !text(&next).contains("data directory initialised"),
        "the cached data directory is reused"
    );
}

#[test]
fn the_server_stops_after_the_idle_period_and_its_directory_goes() {
    let dir = Dir::new();
    let out = dir.member("2").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let running = dir.state().expect("a state file");
    let deadline = Instant::now() + Duration::from_secs(30);
    while (dir.state().is_some()
        || std::path::Path::new(&format!("/proc/{}", running.pid)).exists())
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(dir.state().is_none(), "the state file is gone");
    assert!(
        !dir.0.join("instance").exists(),
        "the server's directory is removed"
    );
    assert!(!server::alive(&running), "the server stopped");
    assert!(
        dir.0.join("cache").is_dir(),
        "the initialised data directory stays cached"
    );
}

/// A test whose database sits idle for longer than the server's `wait_timeout` keeps it: its owner
/// session (whose lock is its claim on the database) is not ended by the server, so a sweep with
/// no grace period running meanwhile leaves the database alone. On an embedded server of its own,
/// whose `wait_timeout` it may lower.
#[test]
fn a_test_idle_past_the_servers_wait_timeout_keeps_its_database() {
    let dir = Dir::new();
    let lowered = dir.does("lower").output().unwrap();
    assert!(lowered.status.success(), "{}", text(&lowered));
    let release = dir.0.with_extension("release");
    let mut holder = dir
        .does("hold")
        .env("DBTEST_EMBEDDED_RELEASE", &release)
        .spawn()
        .unwrap();
    // Once the holder holds its database (it says so) and its owner session has been idle past
    // the 1 s wait_timeout, a sweep with no grace; the holder holds on until told.
    let mut said = BufReader::new(holder.stdout.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while !seen.contains("HOLDING") && said.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        line.clear();
    }
    assert!(
        seen.contains("HOLDING"),
        "the holder started its test:\n{seen}"
    );
    std::thread::sleep(Duration::from_millis(2000));
    let sweep = dir
        .member("60")
        .env("DBTEST_SWEEP_GRACE", "0")
        .output()
        .unwrap();
    std::fs::write(&release, "").unwrap();
    said.read_to_string(&mut seen).unwrap();
    let mut held = holder.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&release);
    held.stdout = seen.into_bytes();
    assert!(
        text(&held).contains("HOLDING") && held.status.success(),
        "the test that held its database failed:\n{}\n--- the sweep:\n{}",
        text(&held),
        text(&sweep)
    );
}

/// The embedded server lets in nobody but the user who runs the tests: root has a password made
/// for this server alone, kept in a file only that user reads; no account logs in without one;
/// files are read and written in a directory of the server's own only. Shown by playing a second
/// local user (`nobody`, through `setpriv`), so it needs root (CI runs as root).
#[test]
fn the_embedded_server_lets_in_nobody_else() {
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::fs::PermissionsExt;
    if std::fs::metadata("/proc/self").map(|m| m.uid()).ok() != Some(0) {
        eprintln!("skipped: playing a second local user needs root");
        return;
    }
    let dir = Dir::new();
    let out = dir.member("60").output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let state = dir.state().expect("a state file");
    let password = server::password(&dir.0).expect("a password file");
    let mode = std::fs::metadata(dir.0.join("password"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o777,
        0o600,
        "only the user running the tests reads the password"
    );
    assert!(
        !text(&out).contains(&password),
        "the password is never printed"
    );
    let socket = state.socket.display().to_string();
    let port = state.port.to_string();
    let client = ["mariadb", "mysql"]
        .into_iter()
        .find(|c| {
            Command::new(c)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("a client (mariadb or mysql)");
    let run = |as_nobody: bool, args: &[&str], pw: Option<&str>, sql: &str| -> Output {
        let mut cmd = if as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", client]);
            c
        } else {
            Command::new(client)
        };
        cmd.arg("--no-defaults")
            .args(args)
            .args(["-N", "-B", "-e", sql]);
        cmd.env_remove("MYSQL_PWD");
        if let Some(pw) = pw {
            cmd.env("MYSQL_PWD", pw);
        }
        cmd.output().unwrap()
    };
    let ways: [&[&str]; 4] = [
        &["-S", &socket, "-u", "root"],
        &[
            "-h",
            "127.0.0.1",
            "-P",
            &port,
            "-u",
            "root",
            "--protocol=TCP",
        ],
        &["-S", &socket, "-u", "mysql"],
        // No user: the client's OS user, which only an anonymous account would let in.
        &["-S", &socket],
    ];
    for args in ways {
        let got = run(true, args, None, "SELECT CURRENT_USER()");
        assert!(
            !got.status.success(),
            "another local user got in with {args:?}: {}",
            text(&got)
        );
    }
    // Nor can it hold the lock files (and so stall every run), list the data directory, or
    // touch the cached data directory later servers are copied from (this user's alone).
    let as_nobody = |args: &[&str]| {
        Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .args(args)
            .output()
            .unwrap()
    };
    for lock in ["start.lock", "users.lock"] {
        let path = dir.0.join(lock).display().to_string();
        let got = as_nobody(&["flock", "-n", &path, "true"]);
        assert!(!got.status.success(), "another local user holds {lock}");
    }
    let data = dir.0.join("instance").join("data").display().to_string();
    assert!(
        !as_nobody(&["ls", &data]).status.success(),
        "another local user lists {data}"
    );
    {
        use std::os::unix::fs::MetadataExt;
        for entry in std::fs::read_dir(dir.0.join("cache")).unwrap() {
            let m = std::fs::symlink_metadata(entry.unwrap().path()).unwrap();
            assert_eq!(
                (m.uid(), m.mode() & 0o077),
                (0, 0),
                "the cache is root's alone"
            );
        }
    }
    // Not even the tests' own user, without the password.
    let got = run(false, &["-S", &socket, "-u", "root"], None, "SELECT 1");
    assert!(!got.status.success(), "root got in without the password");

    // With it: in, and the server reads and writes files only in a directory of its own.
    let got = run(
        false,
        &["-S", &socket, "-u", "root"],
        Some(&password),
        "SELECT @@secure_file_priv, @@local_infile",
    );
    assert!(got.status.success(), "{}", text(&got));
    let said = String::from_utf8_lossy(&got.stdout).into_owned();
    let files = dir.0.join("instance").join("files");
    assert!(
        said.starts_with(&files.display().to_string()) && said.trim_end().ends_with('0'),
        "secure_file_priv is {files:?} and local_infile off: {said}"
    );
    // Accounts that could log in: root@localhost only (system accounts are locked).
    let got = run(
        false,
        &["-S", &socket, "-u", "root"],
        Some(&password),
        "SELECT CONCAT(User, '@', Host) FROM mysql.user \
         WHERE User NOT IN ('mariadb.sys', 'mysql.sys', 'mysql.session', 'mysql.infoschema', 'PUBLIC') \
         ORDER BY 1",
    );
    assert!(got.status.success(), "{}", text(&got));
    assert_eq!(
        String::from_utf8_lossy(&got.stdout).trim(),
        "root@localhost"
    );
}

/// Whether this process runs as root (needed to play a second local user).
fn is_root() -> bool {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").map(|m| m.uid()).ok() == Some(0)
}

/// A server directory made first by someone else, one that others may write, or a link planted
/// in its place, is refused with an error that names it and says what to do: whoever can write
/// there can plant links and a state file. The other user is `nobody`, through `setpriv`.
#[test]
fn a_server_directory_that_others_control_is_refused() {
    if !is_root() {
        eprintln!("skipped: playing a second local user needs root");
        return;
    }
    let planted = Dir::new();
    let nobody = Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "mkdir",
            "-m",
            "0777",
        ])
        .arg(&planted.0)
        .status()
        .unwrap();
    assert!(nobody.success(), "nobody made {}", planted.0.display());
    let open = Dir::new();
    std::fs::create_dir(&open.0).unwrap();
    std::fs::set_permissions(&open.0, std::os::unix::fs::PermissionsExt::from_mode(0o777)).unwrap();
    let link = Dir::new();
    std::os::unix::fs::symlink(std::env::temp_dir(), &link.0).unwrap();

    for (dir, why) in [
        (&planted, "belongs to uid 65534"),
        (&open, "is writable by others (mode 777)"),
        (&link, "is a symbolic link"),
    ] {
        let out = dir.member("60").output().unwrap();
        let said = text(&out);
        assert!(!out.status.success(), "used {}: {said}", dir.0.display());
        assert!(
            said.contains(&dir.0.display().to_string())
                && said.contains(why)
                && said.contains("DBTEST_SERVER_DIR"),
            "{said}"
        );
    }
    // (Dropping `link` removes the link, not what it points to.)
    let _ = std::fs::remove_file(&link.0);
}

/// A state file left behind (a crash) whose pid is now another process's is never signalled: the
/// process is proven to be the server first (its data directory, its user).
#[test]
fn a_stale_state_never_kills_a_process_that_is_not_our_server() {
    let dir = Dir::new();
    std::fs::create_dir(&dir.0).unwrap();
    let mut bystander = Command::new("sleep").arg("60").spawn().unwrap();
    std::fs::write(
        dir.0.join("state"),
        format!(
            "{} 1 {}\n",
            bystander.id(),
            dir.0.join("gone.sock").display()
        ),
    )
    .unwrap();
    let out = dir.member("60").output().unwrap();
    let still_there = bystander.try_wait().unwrap().is_none();
    let _ = bystander.kill();
    let _ = bystander.wait();
    assert!(out.status.success(), "{}", text(&out));
    assert!(still_there, "the process of a stale state was killed");
}

/// Another session's `LOCK TABLES` on the registry does not hang a test: its lock waits end after
/// `DBTEST_DDL_TIMEOUT`, and it fails saying what it waited for. On an embedded server of its own
/// (a lock on a shared server's registry would hold every other test up).
#[test]
fn a_locked_registry_fails_a_test_within_its_bound() {
    use sqlx::{Connection, Executor};
    let dir = Dir::new();
    let first = dir.member("60").output().unwrap();
    assert!(first.status.success(), "{}", text(&first));
    let state = dir.state().expect("a state file");
    let options = sqlx::mysql::MySqlConnectOptions::new()
        .socket(&state.socket)
        .username("root")
        .password(&server::password(&dir.0).expect("a password file"));
    let rt = dbtest_tests::runtime();
    let mut holder = rt
        .block_on(sqlx::MySqlConnection::connect_with(&options))
        .unwrap();
    rt.block_on(holder.execute(dbtest_tests::sql::raw_sql(
        "LOCK TABLES dbtest_registry.databases WRITE",
    )))
    .unwrap();
    let started = Instant::now();
    let mut child = dir
        .member("60")
        .env("DBTEST_DDL_TIMEOUT", "2")
        .env("DBTEST_LOCK_TIMEOUT", "2")
        .spawn()
        .unwrap();
    let mut hung = false;
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            let _ = child.kill();
            hung = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let took = started.elapsed();
    rt.block_on(holder.execute(dbtest_tests::sql::raw_sql("UNLOCK TABLES")))
        .unwrap();
    assert!(!hung, "the test hung on the locked registry");
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("registry") && said.contains("Lock wait timeout"),
        "it says what it waited for: {said}"
    );
    assert!(took < Duration::from_secs(30), "ended after {took:?}");
}

/// A cached data directory that is not this user's alone (an older dbtest left it to the
/// server's user, or someone opened it up) may hold what another planted: it is made anew.
#[test]
fn a_cache_that_is_not_the_users_alone_is_made_anew() {
    use std::os::unix::fs::PermissionsExt;
    let dir = Dir::new();
    let first = dir.member("2").output().unwrap();
    assert!(first.status.success(), "{}", text(&first));
    server::stop(&dir.0).unwrap();
    let cached = std::fs::read_dir(dir.0.join("cache"))
        .unwrap()
        .next()
        .expect("a cached data directory")
        .unwrap()
        .path();
    std::fs::write(cached.join("data").join("planted"), "x").unwrap();
    std::fs::set_permissions(&cached, std::fs::Permissions::from_mode(0o755)).unwrap();
    let next = dir.member("2").output().unwrap();
    assert!(next.status.success(), "{}", text(&next));
    assert!(
        text(&next).contains("data directory initialised"),
        "made anew: {}",
        text(&next)
    );
    assert!(!cached.join("data").join("planted").exists());
    let mode = std::fs::metadata(&cached).unwrap().permissions().mode();
    assert_eq!(mode & 0o077, 0, "and this user's alone again");
}

/// Only the cache of the server that starts is kept: another version's, left by an upgrade or
/// another `DBTEST_MYSQLD`, is removed instead of staying in memory (`/dev/shm`) for good.
#[test]
fn only_the_cache_of_the_server_that_starts_is_kept() {
    use std::os::unix::fs::DirBuilderExt;
    let dir = Dir::new();
    let old = dir.0.join("cache").join("10.0.0-MariaDB-old");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(old.join("data"))
        .unwrap();
    std::fs::write(old.join("data").join("ibdata1"), "old").unwrap();
    let run = dir.member("2").output().unwrap();
    server::stop(&dir.0).unwrap();
    let caches: Vec<String> = std::fs::read_dir(dir.0.join("cache"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(run.status.success(), "{}", text(&run));
    assert!(
        !old.exists(),
        "another version's cache was kept: {caches:?}"
    );
    assert_eq!(caches.len(), 1, "{caches:?}");
}
