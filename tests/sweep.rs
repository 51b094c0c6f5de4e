//! Crash recovery and the sweep, with real processes killed by SIGKILL: a test killed mid-test or
//! mid-clone leaves an orphan that the next run removes; a running test's database is never
//! touched by another run's sweep; a template nobody used for DBTEST_TEMPLATE_TTL is dropped.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::io::{BufRead, BufReader};
use std::process::{Child, Stdio};
use std::sync::{mpsc, LazyLock};
use std::time::{Duration, Instant};

use dbtest_runtime::db_test;
use dbtest_tests::{
    admin, announce_database, announced_database, drop_template, migrator_from_env,
    only_database_like, run_id, serial, SWEEPS,
};
use sqlx::migrate::Migrator;
use sqlx::{MySqlConnection, MySqlPool};

const DIR_ENV: &str = "DBTEST_SWEEP_MIGRATIONS";
/// A file whose appearance ends `member_holds`.
const RELEASE_ENV: &str = "DBTEST_SWEEP_RELEASE";

static BIG: LazyLock<Migrator> = LazyLock::new(|| migrator_from_env(DIR_ENV));

/// Holds its database until the file DBTEST_SWEEP_RELEASE names exists (at most 60 s), then
/// proves it is still there.
#[db_test(migrations = "tests/simple/migrations")]
#[ignore = "started by the tests in this file"]
async fn member_holds(pool: MySqlPool) {
    announce_database(&pool).await;
    let release = std::env::var_os(RELEASE_ENV).map(std::path::PathBuf::from);
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline && !release.as_ref().is_some_and(|f| f.exists()) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sqlx::query("INSERT INTO notes (body) VALUES ('still mine')")
        .execute(&pool)
        .await
        .unwrap();
}

/// Does nothing: the sweep runs in its process before it.
#[db_test(migrations = false)]
#[ignore = "started by the tests in this file"]
async fn member_sweeps(pool: MySqlPool) {
    announce_database(&pool).await;
}

/// Clones a template with a big table, slowly enough to be killed mid-clone.
#[db_test(migrator = "BIG")]
#[ignore = "started by the tests in this file"]
async fn member_big(pool: MySqlPool) {
    announce_database(&pool).await;
}

fn member(name: &str, env: &[(&str, &str)]) -> Child {
    dbtest_tests::member(name)
        .args(["--test-threads", "1"])
        .env("DBTEST_KEEP", "never")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits (at most 60 s) for the database name a running member announces.
fn announced(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(db) = announced_database(&line) {
                let _ = tx.send(db);
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the member announced its database")
}

/// A fresh clone for a member: not claimed from the warm pool (whose databases may be older than
/// the grace period of every other process's sweep), and no refill cloning beside the test.
const FRESH: [(&str, &str); 2] = [("DBTEST_REUSE", "never"), ("DBTEST_WARM", "0")];

/// Runs a member that sweeps with no grace period; returns its stderr, where it names each
/// database it dropped (`DBTEST_LOG=debug`).
fn sweep(extra: &[(&str, &str)]) -> String {
    let mut env = vec![("DBTEST_SWEEP_GRACE", "0"), ("DBTEST_LOG", "debug")];
    env.extend_from_slice(extra);
    let out = member("member_sweeps", &env).wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "the sweeping member failed:\n{stderr}"
    );
    stderr
}

struct Server {
    rt: tokio::runtime::Runtime,
    conn: MySqlConnection,
}

impl Server {
    fn new() -> Server {
        let rt = dbtest_tests::runtime();
        let conn = rt.block_on(admin());
        Server { rt, conn }
    }

    /// Whether `sql`, a count with `db` as its parameter, counts one.
    fn one(&mut self, sql: &'static str, db: &str) -> bool {
        let n: i64 = self
            .rt
            .block_on(sqlx::query_scalar(sql).bind(db).fetch_one(&mut self.conn))
            .unwrap();
        n == 1
    }

    fn exists(&mut self, db: &str) -> bool {
        self.one(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            db,
        )
    }

    fn registered(&mut self, db: &str) -> bool {
        self.one(
            "SELECT COUNT(*) FROM dbtest_registry.databases WHERE name = ?",
            db,
        )
    }

    /// Whether `db` waits, clean, in the warm pool.
    fn is_pooled(&mut self, db: &str) -> bool {
        self.one(
            "SELECT COUNT(*) FROM dbtest_registry.databases WHERE name = ? AND ready_at IS NOT NULL",
            db,
        )
    }

    /// Waits (at most 30 s) until nobody holds `db`'s owner lock.
    fn wait_owner_gone(&mut self, db: &str) -> bool {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(30) {
            let free: Option<i64> = self
                .rt
                .block_on(
                    sqlx::query_scalar("SELECT IS_FREE_LOCK(?)")
                        .bind(db)
                        .fetch_one(&mut self.conn),
                )
                .unwrap();
            if free == Some(1) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

#[test]
fn a_test_killed_mid_test_leaves_an_orphan_the_next_run_removes() {
    let _serial = serial(SWEEPS);
    let mut server = Server::new();
    let mut victim = member("member_holds", &FRESH);
    let db = announced(&mut victim);
    assert!(
        server.exists(&db) && server.registered(&db),
        "`{db}` exists while its test runs"
    );
    victim.kill().unwrap(); // SIGKILL while the test body runs
    victim.wait().unwrap();

    assert!(
        server.wait_owner_gone(&db),
        "the dead owner's lock is freed by the server"
    );
    // Other processes' sweeps leave it for 30 s (their grace period), and those with none wait
    // for SWEEPS: it is there for this one to remove.
    assert!(server.exists(&db), "`{db}` is left behind, ownerless");
    let report = sweep(&[]);
    assert!(
        report.contains(&format!("the sweep dropped `{db}` (Orphan)")),
        "the next run's sweep removes `{db}`; it said:\n{report}"
    );
    assert!(!server.exists(&db) && !server.registered(&db));
}

#[test]
fn a_running_test_is_never_swept_by_another_run() {
    let _serial = serial(SWEEPS);
    let mut server = Server::new();
    let release = std::env::temp_dir().join(format!("dbtest-sweep-release-{}", run_id()));
    let release_env = release.to_str().unwrap().to_owned();
    let mut env = FRESH.to_vec();
    env.push((RELEASE_ENV, &release_env));
    let mut live = member("member_holds", &env);
    let db = announced(&mut live);
    // Another run starts meanwhile, while the test holds its database; its sweep has no grace
    // period at all, and sweeps (it says so) what it may.
    let report = sweep(&[]);
    let still_there = server.exists(&db);
    std::fs::write(&release, "").unwrap();
    let out = live.wait_with_output().unwrap();
    let _ = std::fs::remove_file(&release);
    assert!(
        still_there && !report.contains(&db),
        "the sweep dropped `{db}` under a live test:\n{report}"
    );
    assert!(
        out.status.success(),
        "the live test failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !server.exists(&db) || server.is_pooled(&db),
        "and dropped it, or reset it into the warm pool, when it ended"
    );
}

#[test]
fn a_test_killed_mid_clone_leaves_an_orphan_the_next_run_removes() {
    let _serial = serial(SWEEPS);
    let mut server = Server::new();
    let id = run_id();
    let dir = std::env::temp_dir().join(format!("dbtest-sweep-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    // A table big enough that copying its rows into a clone takes a while.
    std::fs::write(
        dir.join("1_big.sql"),
        format!(
            "-- sweep run {id}\n\
             CREATE TABLE digits (d INT NOT NULL);\n\
             INSERT INTO digits VALUES (0),(1),(2),(3),(4),(5),(6),(7),(8),(9);\n\
             CREATE TABLE big (id INT NOT NULL AUTO_INCREMENT PRIMARY KEY, pad CHAR(255) NOT NULL);\n\
             INSERT INTO big (pad) SELECT REPEAT('x', 255) FROM digits a, digits b, digits c, digits d, digits e;\n\
             INSERT INTO big (pad) SELECT pad FROM big;\n\
             INSERT INTO big (pad) SELECT pad FROM big;\n"
        ),
    )
    .unwrap();
    let dir_env = dir.to_str().unwrap().to_owned();
    // Build the template first (a normal run), so the next member spends its time cloning.
    let mut env = FRESH.to_vec();
    env.push((DIR_ENV, &dir_env));
    let first = member("member_big", &env).wait_with_output().unwrap();
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let first_db = announced_database(&String::from_utf8_lossy(&first.stdout))
        .expect("the member named its database");
    let digest = first_db["dbtest_db_".len().."dbtest_db_".len() + 8].to_owned();

    // No warm pool: the one clone the victim makes is its test's own.
    let mut victim = member("member_big", &env);
    let pattern = format!("dbtest\\_db\\_{digest}\\_%");
    let mut cloning: Option<String> = None;
    let started = Instant::now();
    while cloning.is_none() && started.elapsed() < Duration::from_secs(30) {
        cloning = server
            .rt
            .block_on(
                sqlx::query_scalar(
                    "SELECT DB FROM information_schema.PROCESSLIST WHERE DB LIKE ? AND COMMAND = 'Query' LIMIT 1",
                )
                .bind(&pattern)
                .fetch_optional(&mut server.conn),
            )
            .unwrap();
        if cloning.is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    victim.kill().unwrap(); // SIGKILL in the middle of the clone request
    victim.wait().unwrap();
    let db = cloning.expect("caught the member while it cloned");
    let test: Option<String> = server
        .rt
        .block_on(
            sqlx::query_scalar(
                "SELECT CONVERT(test USING utf8mb4) FROM dbtest_registry.databases WHERE name = ?",
            )
            .bind(&db)
            .fetch_optional(&mut server.conn),
        )
        .unwrap()
        .flatten();
    assert!(
        test.as_deref().is_some_and(|t| t.ends_with("::member_big")),
        "`{db}` is the clone of the killed test itself (registered for {test:?})"
    );

    assert!(
        server.wait_owner_gone(&db),
        "the dead owner's lock is freed by the server"
    );
    // Left half-made, for this sweep to remove (see the mid-test kill above).
    let report = sweep(&[]);
    let swept = report.contains(&format!("the sweep dropped `{db}` (Orphan)"))
        && !server.exists(&db)
        && !server.registered(&db);

    let template = server.rt.block_on(only_database_like(
        &mut server.conn,
        &format!("dbtest\\_tpl\\_{digest}"),
    ));
    server
        .rt
        .block_on(drop_template(&mut server.conn, &template));
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        swept,
        "the next run's sweep removes `{db}`; it said:\n{report}"
    );
}

#[test]
fn a_template_unused_for_its_ttl_is_dropped_and_a_used_one_kept() {
    let _serial = serial(SWEEPS);
    let mut server = Server::new();
    let id = run_id();
    let dir = std::env::temp_dir().join(format!("dbtest-sweep-gc-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1_t.sql"),
        format!("-- gc run {id}\nCREATE TABLE t (id INT);\n"),
    )
    .unwrap();
    let dir_env = dir.to_str().unwrap().to_owned();
    let run = || {
        let out = member("member_big", &[(DIR_ENV, &dir_env)])
            .wait_with_output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        out
    };
    let made = run();
    let db = announced_database(&String::from_utf8_lossy(&made.stdout))
        .expect("the member named its database");
    let digest = &db["dbtest_db_".len().."dbtest_db_".len() + 8];
    let template = server.rt.block_on(only_database_like(
        &mut server.conn,
        &format!("dbtest\\_tpl\\_{digest}"),
    ));

    // A sweep now leaves it: it was just used.
    sweep(&[]);
    assert!(
        server.exists(&template),
        "a template used a moment ago stays"
    );
    // Last used eight days ago (the registry is where the sweep reads that from)…
    let last_used_long_ago = |server: &mut Server| {
        server
            .rt
            .block_on(
                sqlx::query("UPDATE dbtest_registry.databases SET used_at = NOW(3) - INTERVAL 8 DAY WHERE name = ?")
                    .bind(&template)
                    .execute(&mut server.conn),
            )
            .unwrap();
    };
    last_used_long_ago(&mut server);
    // … then used again, by a test that finds it ready: that use counts, and it stays.
    run();
    sweep(&[]);
    assert!(
        server.exists(&template),
        "a template built long ago but used a moment ago stays"
    );
    let _ = std::fs::remove_dir_all(&dir);
    last_used_long_ago(&mut server);
    let report = sweep(&[]);
    // Any test process starting meanwhile sweeps too, and may hold the template's lock, about to
    // drop it, when this sweep tries: gone soon after, either way.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut gone = false;
    while !gone && Instant::now() < deadline {
        gone = !server.exists(&template) && !server.registered(&template);
        if !gone {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    if !gone {
        server
            .rt
            .block_on(drop_template(&mut server.conn, &template));
    }
    assert!(gone, "unused for 8 days (DBTEST_TEMPLATE_TTL 7d): `{template}` is dropped; the sweep said:\n{report}");
}
