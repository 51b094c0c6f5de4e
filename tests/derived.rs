//! Derived templates: a setup function's work and fixture scripts are built once into a template
//! of their own, and every test gets a clone of it (reset back to it, not to the bare
//! migrations), instead of running them again.
//!
//! What a test sees is read here through its own pool; how often a setup ran is counted by the
//! setup itself (a line on stderr per run, a counter per process); what a build left on the
//! server is read from the registry and `information_schema`.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::future::Future;
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{LazyLock, Mutex};

use dbtest_runtime::db_test;
use dbtest_tests::{announce_database, announced_database, migrator_from_env, run_id, sql};
use sqlx::migrate::Migrator;
use sqlx::{Executor, MySqlConnection, MySqlPool, Row};

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/derived/migrations");
/// The line a setup prints each time it runs.
const RAN: &str = "SETUP RAN";
/// Users the setup writes, half through each of two connections at once.
const USERS: i64 = 40;

/// Setups run by this process.
static SETUP_RUNS: AtomicUsize = AtomicUsize::new(0);

/// An application's own seeding code: a company through one connection, its users through two
/// at once, an AUTO_INCREMENT counter moved past rows that are gone, a view and a trigger, and a
/// stamp of the session and moment it ran.
async fn seed(pool: MySqlPool) -> sqlx::Result<()> {
    SETUP_RUNS.fetch_add(1, Ordering::SeqCst);
    eprintln!("{RAN} in process {}", std::process::id());
    let company = sqlx::query("INSERT INTO companies (name) VALUES ('Acme')")
        .execute(&pool)
        .await?
        .last_insert_id();
    let (mut one, mut two) = (pool.acquire().await?, pool.acquire().await?);
    let half = |conn: &'static str, from: i64| {
        (from..from + USERS / 2)
            .map(|i| format!("INSERT INTO users (company_id, email) VALUES ({company}, '{conn}{i}@acme.test');"))
            .collect::<String>()
    };
    let (a, b) = (half("one", 0), half("two", USERS / 2));
    let (a, b) = tokio::join!(
        sql::raw_sql(&a).execute(&mut *one),
        sql::raw_sql(&b).execute(&mut *two)
    );
    a?;
    b?;
    sqlx::raw_sql(
        "INSERT INTO invoices (id, company_id, total) VALUES (500, 1, 0); DELETE FROM invoices WHERE id = 500; \
         UPDATE users SET active = FALSE WHERE email LIKE 'two%'; \
         CREATE VIEW active_users AS SELECT id, email FROM users WHERE active; \
         CREATE TRIGGER count_users AFTER INSERT ON users FOR EACH ROW \
           UPDATE companies SET users = users + 1 WHERE id = NEW.company_id; \
         INSERT INTO stamps (layer, conn, at) VALUES ('setup', CONNECTION_ID(), NOW(6))",
    )
    .execute(&mut *one)
    .await?;
    Ok(())
}

/// The stamps every test of this process saw (each layer's, as `layer conn at`): all equal, as
/// the layers ran once; a layer replayed per test would stamp each test anew.
static STAMPS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Checks what `seed` left and that the stamps are this process's first, then changes it all, as
/// a test does: the next test must not see any of it.
async fn sees_the_seed_and_changes_it(pool: &MySqlPool) -> sqlx::Result<()> {
    assert!(
        SETUP_RUNS.load(Ordering::SeqCst) <= 1,
        "the setup ran once per process at the most"
    );
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM companies), (SELECT COUNT(*) FROM users), \
         (SELECT COUNT(*) FROM active_users), (SELECT users FROM companies WHERE name = 'Acme')",
    )
    .fetch_one(pool)
    .await?;
    let counts: [i64; 4] = std::array::from_fn(|i| row.get::<i64, _>(i));
    assert_eq!(
        counts,
        [1, USERS, USERS / 2, 0],
        "companies, users, active users, the trigger's count (it came after the users)"
    );
    // The counter stands where the setup left it, past the invoice it deleted.
    let next = sqlx::query("INSERT INTO invoices (company_id, total) VALUES (1, 5)")
        .execute(pool)
        .await?
        .last_insert_id();
    let extra: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM stamps WHERE layer = 'extra'")
        .fetch_one(pool)
        .await?;
    // The fixture `extra` adds an invoice on top (id 501), so this one is 502.
    assert_eq!(
        next,
        501 + extra as u64,
        "the setup's AUTO_INCREMENT counter"
    );
    compare_stamps(pool).await?;
    // The trigger is there and fires.
    sqlx::query("INSERT INTO users (company_id, email) VALUES (1, 'new@acme.test')")
        .execute(pool)
        .await?;
    let users: i64 = sqlx::query_scalar("SELECT users FROM companies WHERE id = 1")
        .fetch_one(pool)
        .await?;
    assert_eq!(users, 1, "the setup's trigger");
    // Rows only: the database is reset (to the derived template's state) and reused.
    sqlx::raw_sql(
        "DELETE FROM users WHERE email LIKE 'one%'; UPDATE companies SET name = 'Changed'; \
         DELETE FROM stamps",
    )
    .execute(pool)
    .await?;
    Ok(())
}

/// Compares this test's stamps with the first test's of this process.
async fn compare_stamps(pool: &MySqlPool) -> sqlx::Result<()> {
    let stamps: Vec<String> =
        sqlx::query_scalar("SELECT CONCAT_WS(' ', layer, conn, at) FROM stamps ORDER BY layer")
            .fetch_all(pool)
            .await?;
    assert!(!stamps.is_empty(), "the layers stamp their template");
    let mut seen = STAMPS.lock().unwrap_or_else(|p| p.into_inner());
    for stamp in stamps {
        let layer = stamp.split(' ').next().unwrap_or_default().to_owned();
        match seen.iter().find(|s| s.starts_with(&format!("{layer} "))) {
            Some(first) => assert_eq!(*first, stamp, "layer {layer} ran once, not per test"),
            None => seen.push(stamp),
        }
    }
    Ok(())
}

#[db_test(migrations = "tests/derived/migrations", setup = "seed")]
async fn a_setups_work_is_in_every_test_1(pool: MySqlPool) -> sqlx::Result<()> {
    sees_the_seed_and_changes_it(&pool).await
}

#[db_test(migrations = "tests/derived/migrations", setup = "seed")]
async fn a_setups_work_is_in_every_test_2(pool: MySqlPool) -> sqlx::Result<()> {
    sees_the_seed_and_changes_it(&pool).await
}

#[db_test(migrations = "tests/derived/migrations", setup = "crate::seed")]
async fn a_setups_work_is_in_every_test_3(pool: MySqlPool) -> sqlx::Result<()> {
    sees_the_seed_and_changes_it(&pool).await
}

/// Layers compose: the migrations, then the setup, then a fixture that reads what the setup wrote.
#[db_test(
    migrations = "tests/derived/migrations",
    setup = "seed",
    fixtures("derived/fixtures/extra.sql")
)]
async fn fixtures_on_a_setup_see_its_rows_1(pool: MySqlPool) -> sqlx::Result<()> {
    let total: String = sqlx::query_scalar("SELECT CONCAT(total) FROM invoices WHERE total > 50")
        .fetch_one(&pool)
        .await?;
    assert_eq!(total, "99.50");
    sees_the_seed_and_changes_it(&pool).await
}

#[db_test(
    migrations = "tests/derived/migrations",
    setup = "seed",
    fixtures("derived/fixtures/extra.sql")
)]
async fn fixtures_on_a_setup_see_its_rows_2(pool: MySqlPool) -> sqlx::Result<()> {
    sees_the_seed_and_changes_it(&pool).await
}

/// A fixture is built once into a template: its row carries the session and moment it ran at, the
/// same in every test.
async fn sees_the_fixture_once(pool: &MySqlPool) -> sqlx::Result<()> {
    let layers: Vec<String> = sqlx::query_scalar("SELECT layer FROM stamps")
        .fetch_all(pool)
        .await?;
    assert_eq!(layers, ["fixture"], "the fixture's row, once");
    compare_stamps(pool).await?;
    sqlx::query("UPDATE stamps SET conn = conn + 1")
        .execute(pool)
        .await?;
    Ok(())
}

#[db_test(
    migrations = "tests/derived/migrations",
    fixtures("derived/fixtures/stamp.sql")
)]
async fn a_fixture_runs_once_not_per_test_1(pool: MySqlPool) -> sqlx::Result<()> {
    sees_the_fixture_once(&pool).await
}

#[db_test(
    migrations = "tests/derived/migrations",
    fixtures("derived/fixtures/stamp.sql")
)]
async fn a_fixture_runs_once_not_per_test_2(pool: MySqlPool) -> sqlx::Result<()> {
    sees_the_fixture_once(&pool).await
}

#[db_test(
    migrations = "tests/derived/migrations",
    fixtures("derived/fixtures/stamp.sql")
)]
async fn a_fixture_runs_once_not_per_test_3(pool: MySqlPool) -> sqlx::Result<()> {
    sees_the_fixture_once(&pool).await
}

/// `setup = false` takes a test out of a setup (here there is none to take it out of: the bare
/// template's clone, with no rows).
#[db_test(migrations = "tests/derived/migrations", setup = false)]
async fn without_a_setup_the_tables_are_empty(pool: MySqlPool) -> sqlx::Result<()> {
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&pool)
        .await?;
    assert_eq!(n, 0);
    Ok(())
}

/// Setups of one type (a `static` of fn-pointer type names none of its function): each is a
/// setup of its own, with a template of its own.
type SeedFn = fn(MySqlPool) -> Pin<Box<dyn Future<Output = sqlx::Result<()>>>>;
static SEED_A: SeedFn = |pool| Box::pin(company(pool, "from A"));
static SEED_B: SeedFn = |pool| Box::pin(company(pool, "from B"));

async fn company(pool: MySqlPool, name: &'static str) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO companies (name) VALUES (?)")
        .bind(name)
        .execute(&pool)
        .await
        .map(drop)
}

async fn companies(pool: &MySqlPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT name FROM companies")
        .fetch_all(pool)
        .await
}

#[db_test(migrations = "tests/derived/migrations", setup = "SEED_A")]
async fn two_setups_of_one_type_have_templates_of_their_own_a(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(companies(&pool).await?, ["from A"]);
    Ok(())
}

#[db_test(migrations = "tests/derived/migrations", setup = "SEED_B")]
async fn two_setups_of_one_type_have_templates_of_their_own_b(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(companies(&pool).await?, ["from B"]);
    Ok(())
}

const DIR_ENV: &str = "DBTEST_DERIVED_MIGRATIONS";
static COLD: LazyLock<Migrator> = LazyLock::new(|| migrator_from_env(DIR_ENV));

#[db_test(migrator = "COLD", setup = "seed")]
#[ignore = "started by `a_cold_setup_is_built_once_for_processes_started_together`"]
async fn member_seeded(pool: MySqlPool) -> sqlx::Result<()> {
    announce_database(&pool).await;
    sees_the_seed_and_changes_it(&pool).await
}

/// How the failing setup fails (`err` or `panic`).
const FAILURE_ENV: &str = "DBTEST_DERIVED_FAILURE";

/// A setup that writes a row, then fails as `DBTEST_DERIVED_FAILURE` says.
async fn failing_seed(pool: MySqlPool) -> Result<(), String> {
    eprintln!("{RAN} in process {}", std::process::id());
    sqlx::query("INSERT INTO companies (name) VALUES ('Half done')")
        .execute(&pool)
        .await
        .map_err(|e| e.to_string())?;
    match std::env::var(FAILURE_ENV).as_deref() {
        Ok("panic") => panic!("the seed data is inconsistent"),
        _ => Err("no fiscal year for company 1".into()),
    }
}

#[db_test(migrations = "tests/derived/migrations", setup = "failing_seed")]
#[ignore = "fails on purpose; started by `a_failing_setup_fails_every_test_with_its_error_once`"]
async fn member_failing_1(_pool: MySqlPool) {}

#[db_test(migrations = "tests/derived/migrations", setup = "failing_seed")]
#[ignore = "fails on purpose; started by `a_failing_setup_fails_every_test_with_its_error_once`"]
async fn member_failing_2(_pool: MySqlPool) {}

#[db_test(migrations = "tests/derived/migrations", setup = "failing_seed")]
#[ignore = "fails on purpose; started by `a_failing_setup_fails_every_test_with_its_error_once`"]
async fn member_failing_3(_pool: MySqlPool) {}

/// The registry row of `name`: its kind, the template it was made from, and its `test` column.
async fn registered(conn: &mut MySqlConnection, name: &str) -> Option<(String, String, String)> {
    sql::query(
        "SELECT CONVERT(kind USING utf8mb4), CONVERT(COALESCE(template, '') USING utf8mb4), \
         CONVERT(COALESCE(test, '') USING utf8mb4) FROM dbtest_registry.databases WHERE name = ?",
    )
    .bind(name)
    .fetch_optional(conn)
    .await
    .unwrap()
    .map(|r| (r.get(0), r.get(1), r.get(2)))
}

/// Drops `templates` and every database dbtest registered as made from one of them.
async fn drop_with_clones(conn: &mut MySqlConnection, templates: &[&str]) {
    for template in templates {
        assert!(template.starts_with("dbtest_tpl_"), "{template}");
        let names: Vec<String> = sql::query_scalar(
            "SELECT CONVERT(name USING utf8mb4) FROM dbtest_registry.databases WHERE template = ? OR name = ?",
        )
        .bind(template)
        .bind(template)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
        for db in names {
            assert!(db.starts_with("dbtest_"), "{db}");
            conn.execute(sql::raw_sql(&format!(
                "DROP DATABASE IF EXISTS `{db}`; DELETE FROM dbtest_registry.databases WHERE name = '{db}'"
            )))
            .await
            .unwrap();
        }
    }
}

/// Four processes started together on a setup no one has built (its migrations are new): the
/// setup runs once in all, every process's test gets a clone of the one derived template, and the
/// registry lists that template under the template of its migrations, with what it adds.
#[test]
fn a_cold_setup_is_built_once_for_processes_started_together() {
    let rt = dbtest_tests::runtime();
    let id = run_id();
    let dir = std::env::temp_dir().join(format!("dbtest-derived-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(
        format!("{MIGRATIONS}/0001_app.sql"),
        dir.join("0001_app.sql"),
    )
    .unwrap();
    std::fs::write(dir.join("0002_nonce.sql"), format!("-- run {id}\nDO 0;\n")).unwrap();
    let outputs = dbtest_tests::outputs_together((0..4).map(|_| {
        let mut member = dbtest_tests::member("member_seeded");
        member.env(DIR_ENV, &dir);
        member
    }));
    let _ = std::fs::remove_dir_all(&dir);

    let mut conn = rt.block_on(dbtest_tests::admin());
    let mut templates = Vec::new();
    let mut runs = 0;
    let mut failed = Vec::new();
    for out in &outputs {
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        runs += stderr.matches(RAN).count();
        if !out.status.success() {
            failed.push(format!("{stdout}\n{stderr}"));
        }
        if let Some(db) = announced_database(&stdout) {
            let row = rt.block_on(registered(&mut conn, &db));
            templates.push(row.map(|(_, template, _)| template).unwrap_or_default());
        }
    }
    templates.sort();
    templates.dedup();
    let derived = templates.first().cloned().unwrap_or_default();
    let row = rt.block_on(registered(&mut conn, &derived));
    let parent = row.as_ref().map(|r| r.1.clone()).unwrap_or_default();
    let parent_row = rt.block_on(registered(&mut conn, &parent));
    let listed = rt.block_on(dbtest_runtime::admin::list()).unwrap();
    let entry = listed.iter().find(|e| e.name == derived).cloned();
    // Every template the processes used, and the ones they derive from.
    let mut cleanup: Vec<String> = templates.clone();
    for t in &templates {
        if let Some((_, parent, _)) = rt.block_on(registered(&mut conn, t)) {
            cleanup.push(parent);
        }
    }
    cleanup.retain(|t| t.starts_with("dbtest_tpl_"));
    cleanup.sort();
    cleanup.dedup();
    let cleanup: Vec<&str> = cleanup.iter().map(String::as_str).collect();
    rt.block_on(drop_with_clones(&mut conn, &cleanup));

    assert!(
        failed.is_empty(),
        "every process passed: {}",
        failed.join("\n---\n")
    );
    assert_eq!(runs, 1, "the setup ran once in four processes");
    assert_eq!(templates.len(), 1, "one derived template: {templates:?}");
    assert_eq!(
        row.map(|r| (r.0, r.2)),
        Some(("template".to_owned(), "setup derived::seed".to_owned())),
        "the derived template is registered as a template, with what it adds"
    );
    assert_eq!(
        parent_row.map(|r| (r.0, r.1)),
        Some(("template".to_owned(), String::new())),
        "it derives from the template of the migrations"
    );
    let entry = entry.expect("admin::list lists the derived template");
    assert_eq!(
        (entry.template.as_str(), entry.ready),
        (parent.as_str(), true)
    );
}

/// A setup that fails fails each test that uses it with its own error, naming it; it runs once
/// per process (the failure is given to the other tests), and what it half built is gone.
#[test]
fn a_failing_setup_fails_every_test_with_its_error_once() {
    let rt = dbtest_tests::runtime();
    let mut conn = rt.block_on(dbtest_tests::admin());
    for (how, says) in [
        ("err", "it returned Err: \"no fiscal year for company 1\""),
        ("panic", "it panicked: the seed data is inconsistent"),
    ] {
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "member_failing_",
                "--ignored",
                "--nocapture",
                "--test-threads",
                "3",
            ])
            .env(FAILURE_ENV, how)
            .env("DBTEST_KEEP", "never")
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        assert!(!out.status.success(), "{stdout}");
        assert!(
            stdout.contains("0 passed; 3 failed"),
            "all three fail:\n{stdout}"
        );
        assert_eq!(
            stderr.matches(RAN).count(),
            1,
            "the setup ran once:\n{stderr}"
        );
        let messages: Vec<&str> = stderr
            .lines()
            .filter(|l| {
                l.starts_with(
                    "dbtest: setup `failing_seed` failed while building template `dbtest_tpl_",
                )
            })
            .collect();
        assert_eq!(messages.len(), 3, "each test says it:\n{stderr}");
        for m in &messages {
            assert!(m.ends_with(says), "{m}");
        }
        // Neither the half-built template nor a row of it stays.
        let left: i64 = rt
            .block_on(
                sql::query_scalar(
                    "SELECT COUNT(*) FROM dbtest_registry.databases r \
                     LEFT JOIN information_schema.SCHEMATA s ON s.SCHEMA_NAME = r.name \
                     WHERE r.test = 'setup derived::failing_seed'",
                )
                .fetch_one(&mut conn),
            )
            .unwrap();
        assert_eq!(left, 0, "the failed build was dropped");
    }
}

/// A setup whose statement runs on and on: the marker in it lets the test find it on the server.
const STUCK: &str = "derived stuck setup";

async fn stuck_seed(pool: MySqlPool) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO companies (name) VALUES ('before the stall')")
        .execute(&pool)
        .await?;
    let sql = format!("SELECT BENCHMARK(3000000000, MD5('x')) AS `{STUCK}`");
    sql::raw_sql(&sql).execute(&pool).await.map(drop)
}

#[db_test(migrations = "tests/derived/migrations", setup = "stuck_seed")]
#[ignore = "fails on purpose; started by `a_stuck_setup_is_killed_and_its_template_removed`"]
async fn member_stuck(_pool: MySqlPool) {}

#[db_test(migrator = "COLD", setup = "seed")]
#[ignore = "fails on purpose; started by `a_stuck_migration_below_a_setup_is_killed_and_removed`"]
async fn member_seeded_on_stuck_migrations(_pool: MySqlPool) {}

/// Runs member `name` with a build bound of 2 s (`env` besides): what it said, after checking it
/// failed saying so within a bound, and that no statement marked `marker` still runs.
fn stuck(name: &str, marker: &str, env: &[(&str, &str)]) -> String {
    let started = std::time::Instant::now();
    let mut member = dbtest_tests::member(name);
    member
        .env("DBTEST_BUILD_TIMEOUT", "2")
        .env("DBTEST_KEEP", "never")
        .envs(env.iter().copied());
    let out = dbtest_tests::output_within(member, std::time::Duration::from_secs(60))
        .expect("the stuck build still waited after 60 s");
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rt = dbtest_tests::runtime();
    let mut conn = rt.block_on(dbtest_tests::admin());
    let running = rt.block_on(dbtest_tests::statements_running(&mut conn, marker));
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("did not finish within 2s"), "{stderr}");
    assert!(took < std::time::Duration::from_secs(15), "took {took:?}");
    assert_eq!(running, 0, "the stuck statement was killed");
    stderr
}

/// A setup stuck in a statement the server goes on with: the build is stopped at its bound, the
/// setup's own sessions are killed, and its half-built template is gone.
#[test]
fn a_stuck_setup_is_killed_and_its_template_removed() {
    let stderr = stuck("member_stuck", STUCK, &[]);
    assert!(stderr.contains("applying setup `stuck_seed`"), "{stderr}");
    let rt = dbtest_tests::runtime();
    let mut conn = rt.block_on(dbtest_tests::admin());
    let left: i64 = rt
        .block_on(
            sql::query_scalar(
                "SELECT COUNT(*) FROM dbtest_registry.databases WHERE test = 'setup derived::stuck_seed'",
            )
            .fetch_one(&mut conn),
        )
        .unwrap();
    assert_eq!(left, 0, "the half-built template is gone");
}

/// A migration stuck below a setup: the migrations' own build is stopped, killed and removed by
/// its own bound (the setup's template waits for it, and is never begun).
#[test]
fn a_stuck_migration_below_a_setup_is_killed_and_removed() {
    let id = run_id();
    let marker = format!("derived stuck migration {id}");
    let dir = std::env::temp_dir().join(format!("dbtest-derived-stuck-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("0001_stuck.sql"),
        format!("CREATE TABLE companies (id INT);\nSELECT BENCHMARK(3000000000, MD5('x')) AS `{marker}`;\n"),
    )
    .unwrap();
    let dir_text = dir.to_string_lossy().into_owned();
    let stderr = stuck(
        "member_seeded_on_stuck_migrations",
        &marker,
        &[(DIR_ENV, dir_text.as_str())],
    );
    let _ = std::fs::remove_dir_all(&dir);
    assert!(stderr.contains("running 1 migrations"), "{stderr}");
    let template = stderr
        .split("building template `")
        .nth(1)
        .and_then(|s| s.split('`').next())
        .unwrap_or_default()
        .to_owned();
    let rt = dbtest_tests::runtime();
    let mut conn = rt.block_on(dbtest_tests::admin());
    let left = rt.block_on(dbtest_tests::traces_of(&mut conn, &template));
    assert!(template.starts_with("dbtest_tpl_"), "{stderr}");
    assert_eq!(left, 0, "the migrations' half-built template is gone");
}
