//! A database is reset after its test has returned, in the background. Shown with real
//! processes, each test stalling a reset by holding a lock on the table the child wrote:
//!
//! - a process that ends waits for its resets, so the database is back in the pool after it;
//! - a process killed while a reset is going on leaves its database out of the pool (never
//!   handed out half reset), and a sweep removes it;
//! - a test that finds no database ready while one of its process is being reset waits for it
//!   rather than cloning a new one.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, LazyLock};
use std::time::{Duration, Instant};

use dbtest_runtime::db_test;
use dbtest_tests::{
    blocking_admin, migrator_from_env, run_id, serial, serial_within, sql, GRANTS, GRANTS_WAIT,
    SWEEPS,
};
use sqlx::migrate::Migrator;
use sqlx::{Executor, MySqlConnection, MySqlPool};

const DIR_ENV: &str = "DBTEST_BACKGROUND_MIGRATIONS";
/// A file the child waits for after writing (the parent creates it once it holds the lock).
const GATE_ENV: &str = "DBTEST_BACKGROUND_GATE";

static SET: LazyLock<Migrator> = LazyLock::new(|| migrator_from_env(DIR_ENV));

/// Writes a row, says so with its database's name, waits for the gate (if it is not there yet).
async fn write_and_wait(pool: MySqlPool) {
    // A database handed over by an earlier test (as `writer_again` gets `writer`'s) is as fresh.
    let notes: Vec<String> = sqlx::query_scalar("SELECT body FROM notes ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(notes, ["from the migration"], "a fresh clone's rows");
    sqlx::query("INSERT INTO notes (body) VALUES ('written')")
        .execute(&pool)
        .await
        .unwrap();
    let db: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(&pool)
        .await
        .unwrap();
    println!("WROTE={db}");
    let gate = PathBuf::from(std::env::var(GATE_ENV).unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !gate.exists() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[db_test(migrator = "SET")]
#[ignore = "started by the tests of this file"]
async fn writer(pool: MySqlPool) {
    write_and_wait(pool).await;
}

#[db_test(migrator = "SET")]
#[ignore = "started by the tests of this file"]
async fn writer_again(pool: MySqlPool) {
    write_and_wait(pool).await;
}

/// A copy of `tests/simple/migrations` with a line of its own: a template, and pool, of the
/// calling test alone.
fn private_migrations() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("dbtest-background-{}", run_id()));
    std::fs::create_dir_all(&dir).unwrap();
    let simple = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/simple/migrations/0001_notes.sql"
    );
    std::fs::copy(simple, dir.join("0001_notes.sql")).unwrap();
    std::fs::write(
        dir.join("0002_nonce.sql"),
        format!("-- {}\nDO 0;\n", run_id()),
    )
    .unwrap();
    dir
}

/// Starts the child tests `names` (one thread, no refill, a pool of one) on migrations `dir`, with
/// `env` besides.
fn start(dir: &Path, gate: &Path, names: &[&str], env: &[(&str, &str)]) -> Child {
    let mut cmd = Command::new(std::env::current_exe().unwrap());
    cmd.args(["--ignored", "--nocapture", "--test-threads", "1", "--exact"])
        .args(names)
        .env(DIR_ENV, dir)
        .env(GATE_ENV, gate)
        // At most one database in the pool (a new template puts its two reference clones
        // there), so which one a test gets is known.
        .env("DBTEST_WARM", "0")
        .env("DBTEST_WARM_MAX", "1")
        .env("DBTEST_REUSE", "reset")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit());
    cmd.spawn().unwrap()
}

/// What a child says it wrote into, as it says it (its whole output is read, so it can go on
/// writing).
struct Said(mpsc::Receiver<String>);

impl Said {
    fn of(child: &mut Child) -> Said {
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                // After libtest's "test writer ... " on the test's line.
                if let Some(db) = line
                    .split("WROTE=")
                    .nth(1)
                    .and_then(|s| s.split_whitespace().next())
                {
                    let _ = tx.send(db.to_owned());
                }
            }
        });
        Said(rx)
    }

    /// The next database it wrote into.
    fn wrote(&self) -> String {
        self.0
            .recv_timeout(Duration::from_secs(60))
            .expect("the child said where it wrote")
    }
}

/// Whether `db` is in the warm pool (registered, `ready_at` set).
fn pooled(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection, db: &str) -> bool {
    rt.block_on(
        sql::query_scalar::<i64>(
            "SELECT COUNT(*) FROM dbtest_registry.databases WHERE name = ? AND ready_at IS NOT NULL",
        )
        .bind(db)
        .fetch_one(conn),
    )
    .unwrap()
        == 1
}

/// `db`.notes locked on a connection of its own (so a reset that reads or puts back its rows
/// waits), until dropped.
struct Locked(tokio::runtime::Runtime, MySqlConnection);

impl Locked {
    fn notes_of(db: &str) -> Locked {
        let (rt, mut conn) = blocking_admin();
        rt.block_on(conn.execute(sql::raw_sql(&format!("LOCK TABLES `{db}`.notes WRITE"))))
            .unwrap();
        Locked(rt, conn)
    }
}

impl Locked {
    /// Waits (at most 30 s) until a session on `db` waits for this lock: the reset is under way.
    fn wait_until_blocked(&self, db: &str) {
        let (rt, mut conn) = blocking_admin();
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let waiting: i64 = rt
                .block_on(
                    sql::query_scalar(
                        "SELECT COUNT(*) FROM information_schema.PROCESSLIST \
                         WHERE DB = ? AND STATE LIKE 'Waiting for table%lock'",
                    )
                    .bind(db)
                    .fetch_one(&mut conn),
                )
                .unwrap();
            if waiting > 0 {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no session on `{db}` came to wait for the lock on its notes within 30 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Locked {
    fn drop(&mut self) {
        let _ = self
            .0
            .block_on(self.1.execute(sql::raw_sql("UNLOCK TABLES")));
    }
}

/// Drops this test's template and its databases.
fn clean_up(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection, dir: &Path, dbs: &[&str]) {
    for db in dbs {
        let template: Option<String> = rt
            .block_on(
                sql::query_scalar(
                    "SELECT CONVERT(template USING utf8mb4) FROM dbtest_registry.databases WHERE name = ?",
                )
                .bind(*db)
                .fetch_optional(&mut *conn),
            )
            .unwrap();
        for name in template.iter().map(String::as_str).chain([*db]) {
            assert!(name.starts_with("dbtest_"), "{name}");
            rt.block_on(conn.execute(sql::raw_sql(&format!(
                "DROP DATABASE IF EXISTS `{name}`; DELETE FROM dbtest_registry.databases WHERE name = '{name}'"
            ))))
            .unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// Waits for `child` to exit, at most `bound`; its success.
fn exits_within(child: &mut Child, bound: Duration) -> Option<bool> {
    let deadline = Instant::now() + bound;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status.success());
        }
        if Instant::now() > deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_process_waits_for_its_resets_when_it_ends() {
    // No grant on `dbtest\\_%` appears while it looks at what the pool reuses (see GRANTS).
    let _grants = serial_within(GRANTS, GRANTS_WAIT);
    let (rt, mut conn) = blocking_admin();
    let dir = private_migrations();
    let gate = dir.join("gate");
    let mut child = start(&dir, &gate, &["writer"], &[]);
    let said = Said::of(&mut child);
    let db = said.wrote();
    let lock = Locked::notes_of(&db);
    std::fs::write(&gate, "").unwrap();
    // The test is over and its reset waits for the lock: the process does not end.
    assert_eq!(
        exits_within(&mut child, Duration::from_secs(2)),
        None,
        "the child ended while its reset was still going on"
    );
    drop(lock);
    assert_eq!(
        exits_within(&mut child, Duration::from_secs(30)),
        Some(true)
    );
    assert!(
        pooled(&rt, &mut conn, &db),
        "`{db}` is back in the pool after its process ended"
    );
    clean_up(&rt, &mut conn, &dir, &[&db]);
}

#[test]
fn a_database_whose_reset_was_cut_short_is_never_handed_out() {
    // No grant on `dbtest\\_%` appears while it looks at what the pool reuses (see GRANTS).
    let _grants = serial_within(GRANTS, GRANTS_WAIT);
    let (rt, mut conn) = blocking_admin();
    let dir = private_migrations();
    let gate = dir.join("gate");
    // A database in the pool, reset once.
    let mut first = start(&dir, &gate, &["writer"], &[]);
    std::fs::write(&gate, "").unwrap();
    let db = Said::of(&mut first).wrote();
    assert_eq!(
        exits_within(&mut first, Duration::from_secs(30)),
        Some(true)
    );
    assert!(pooled(&rt, &mut conn, &db));
    // The next test gets it, writes, and its process is killed while the reset waits.
    std::fs::remove_file(&gate).unwrap();
    let mut child = start(&dir, &gate, &["writer"], &[]);
    assert_eq!(
        Said::of(&mut child).wrote(),
        db,
        "the second test claimed the pool's database"
    );
    let lock = Locked::notes_of(&db);
    std::fs::write(&gate, "").unwrap();
    lock.wait_until_blocked(&db);
    child.kill().unwrap();
    child.wait().unwrap();
    drop(lock);
    assert!(
        !pooled(&rt, &mut conn, &db),
        "`{db}`, half reset, is not in the pool"
    );
    // The next test of this template does not get it: a new clone.
    let mut next = start(&dir, &gate, &["writer"], &[]);
    let other = Said::of(&mut next).wrote();
    assert_eq!(exits_within(&mut next, Duration::from_secs(30)), Some(true));
    assert_ne!(other, db, "the half-reset database was handed out");
    // And a sweep removes it: that of the next run with no grace period (which, as every such
    // sweep of the suite, waits for the others: see `SWEEPS`).
    let _serial = serial(SWEEPS);
    let mut sweeping = start(&dir, &gate, &["writer"], &[("DBTEST_SWEEP_GRACE", "0")]);
    let third = Said::of(&mut sweeping).wrote();
    assert_eq!(
        exits_within(&mut sweeping, Duration::from_secs(30)),
        Some(true)
    );
    let left: i64 = rt
        .block_on(
            sql::query_scalar(
                "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            )
            .bind(&db)
            .fetch_one(&mut conn),
        )
        .unwrap();
    assert_eq!(left, 0, "the sweep removed `{db}`");
    clean_up(&rt, &mut conn, &dir, &[&db, &other, &third]);
}

#[test]
fn a_test_waits_for_a_database_being_reset_rather_than_cloning() {
    // No grant on `dbtest\\_%` appears while it looks at what the pool reuses (see GRANTS).
    let _grants = serial_within(GRANTS, GRANTS_WAIT);
    let (rt, mut conn) = blocking_admin();
    let dir = private_migrations();
    let gate = dir.join("gate");
    let mut child = start(&dir, &gate, &["writer", "writer_again"], &[]);
    let said = Said::of(&mut child);
    let first = said.wrote();
    let lock = Locked::notes_of(&first);
    std::fs::write(&gate, "").unwrap();
    // The second test starts while the first one's database is being reset (held up here, and
    // for a while after the reset is seen waiting, for the second test to come to wait for it).
    lock.wait_until_blocked(&first);
    std::thread::sleep(Duration::from_millis(800));
    drop(lock);
    let second = said.wrote();
    assert_eq!(
        exits_within(&mut child, Duration::from_secs(30)),
        Some(true)
    );
    assert_eq!(
        second, first,
        "the second test waited for the reset, and got that database (and passed: it saw none \
         of the first test's rows)"
    );
    clean_up(&rt, &mut conn, &dir, &[&first]);
}
