//! What a neighbour on a shared server cannot make dbtest do. Each test plays the neighbour as a
//! second server account, which it creates and drops itself, holding the part of the README's
//! grant on `dbtest\_%` that the attack needs (here: the registry; a grant matching every dbtest
//! database would change the state of other tests' databases running meanwhile, which their
//! resets rightly refuse).

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::process::Command;
use std::sync::LazyLock;

use dbtest_runtime::db_test;
use dbtest_tests::{
    announce_database, announced_database, drop_template, migrator_from_env, only_database_like,
    run_id, sql, url_for,
};
use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor, MySqlConnection, MySqlPool};

const DIR_ENV: &str = "DBTEST_SECURITY_MIGRATIONS";
static SET: LazyLock<Migrator> = LazyLock::new(|| migrator_from_env(DIR_ENV));

/// Writes a row into `t` of its database, and names it.
#[db_test(migrator = "SET")]
#[ignore = "started by the tests in this file"]
async fn member(pool: MySqlPool) {
    announce_database(&pool).await;
    sqlx::query("INSERT INTO t (note) VALUES ('written by a test')")
        .execute(&pool)
        .await
        .unwrap();
}

/// Runs `member` on the migrations in `dir`, with `env` on top of no warm pool and no kept
/// databases: whether it passed, and its output.
fn try_member(dir: &std::path::Path, env: &[(&str, &str)]) -> (bool, String) {
    let out = dbtest_tests::member("member")
        .env(DIR_ENV, dir)
        .env("DBTEST_WARM", "0")
        .env("DBTEST_KEEP", "never")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn run_member(dir: &std::path::Path) -> String {
    let (ok, out) = try_member(dir, &[]);
    assert!(ok, "{out}");
    announced_database(&out).expect("the member named its database")
}

/// A directory holding one migration, `sql`, with a comment naming run `id` (so its template is
/// this run's own).
fn migrations_dir(id: &str, sql: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("dbtest-security-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1_t.sql"),
        format!("-- security run {id}\n{sql}\n"),
    )
    .unwrap();
    dir
}

/// The template test database `db` was cloned from (its name carries the template's digest).
fn template_of(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection, db: &str) -> String {
    let digest = &db["dbtest_db_".len().."dbtest_db_".len() + 8];
    rt.block_on(only_database_like(
        conn,
        &format!("dbtest\\_tpl\\_{digest}"),
    ))
}

/// A cold template of a test's own, built by one run of `member` on one migration, and the
/// server connection the test plays this user on.
struct Scene {
    rt: tokio::runtime::Runtime,
    conn: MySqlConnection,
    id: String,
    dir: std::path::PathBuf,
    template: String,
}

impl Scene {
    fn new(migration: &str) -> Scene {
        let (rt, mut conn) = dbtest_tests::blocking_admin();
        let id = run_id();
        let dir = migrations_dir(&id, migration);
        let first = run_member(&dir);
        let template = template_of(&rt, &mut conn, &first);
        Scene {
            rt,
            conn,
            id,
            dir,
            template,
        }
    }

    /// Runs `sql` on this user's connection.
    fn run(&mut self, sql: &str) {
        self.rt
            .block_on(self.conn.execute(sql::raw_sql(sql)))
            .unwrap();
    }

    /// A second server account, `zz_neighbour_<id>`, holding all privileges on the databases
    /// `pattern` matches (a part of the README's grant on `dbtest\_%`; the template's when
    /// `None`): its name, and a connection as it.
    fn neighbour(
        &mut self,
        pattern: Option<&str>,
    ) -> (String, Result<MySqlConnection, sqlx::Error>) {
        let (user, password) = (
            format!("zz_neighbour_{}", self.id),
            format!("pw{}", self.id),
        );
        let pattern = pattern.map_or_else(|| self.template.replace('_', "\\_"), str::to_owned);
        self.run(&format!(
            "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; \
             GRANT ALL PRIVILEGES ON `{pattern}`.* TO '{user}'@'%'"
        ));
        let conn = self
            .rt
            .block_on(MySqlConnection::connect(&url_for(&user, &password)));
        (user, conn)
    }

    /// A database of this user's that the neighbour cannot reach, `zz_security_<id>`, with a
    /// table `log`; and the statement that makes, in the template, a `SQL SECURITY INVOKER`
    /// function `f()` writing into it the account it runs as.
    fn victim(&mut self) -> (String, String) {
        let victim = format!("zz_security_{}", self.id);
        self.run(&format!(
            "CREATE DATABASE `{victim}`; CREATE TABLE `{victim}`.log (who TEXT)"
        ));
        let function = format!(
            "CREATE FUNCTION `{t}`.f() RETURNS INT SQL SECURITY INVOKER MODIFIES SQL DATA \
             BEGIN INSERT INTO `{victim}`.log VALUES (CURRENT_USER()); RETURN 1; END",
            t = self.template
        );
        (victim, function)
    }

    /// The accounts `f()` ran as; drops the victim.
    fn victim_log(&mut self, victim: &str) -> Vec<String> {
        let log = self
            .rt
            .block_on(
                sql::query_scalar(&format!(
                    "SELECT CONVERT(who USING utf8mb4) FROM `{victim}`.log"
                ))
                .fetch_all(&mut self.conn),
            )
            .unwrap();
        self.run(&format!("DROP DATABASE `{victim}`"));
        log
    }

    /// Drops the neighbour, the template and every test database the registry lists for it.
    fn clean(mut self, neighbour: &str) {
        self.run(&format!("DROP USER IF EXISTS '{neighbour}'@'%'"));
        self.drop_test_databases();
        self.rt
            .block_on(drop_template(&mut self.conn, &self.template));
        let _ = std::fs::remove_dir_all(&self.dir);
    }

    /// Drops every test database the registry lists for the template, with its row.
    fn drop_test_databases(&mut self) {
        let names: Vec<String> = self
            .rt
            .block_on(
                sqlx::query_scalar(
                    "SELECT CONVERT(name USING utf8mb4) FROM dbtest_registry.databases WHERE template = ?",
                )
                .bind(&self.template)
                .fetch_all(&mut self.conn),
            )
            .unwrap();
        for db in names.iter().filter(|db| db.starts_with("dbtest_db_")) {
            self.run(&format!(
                "DROP DATABASE IF EXISTS `{db}`; DELETE FROM dbtest_registry.databases WHERE name = '{db}'"
            ));
        }
    }
}

/// A registry row forged by another account (in the warm pool, for this user's template, naming
/// a database dbtest did not create) is never claimed: the test gets a database of its own, and
/// the named one is not touched.
#[test]
fn a_forged_registry_row_never_sends_a_test_into_another_database() {
    let mut scene = Scene::new("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT);");
    let (template, victim) = (scene.template.clone(), format!("zz_security_{}", scene.id));
    // A database of the user's that dbtest did not create, with a table of the same name.
    scene.run(&format!(
        "CREATE DATABASE `{victim}`; CREATE TABLE `{victim}`.t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT); \
         INSERT INTO `{victim}`.t (note) VALUES ('precious')"
    ));
    let me: String = scene
        .rt
        .block_on(sqlx::query_scalar("SELECT CURRENT_USER()").fetch_one(&mut scene.conn))
        .unwrap();
    // The pool of this template now holds nothing but the neighbour's row.
    scene.drop_test_databases();
    let (user, as_neighbour) = scene.neighbour(Some("dbtest\\_registry"));
    let forged = scene.rt.block_on(async {
        sqlx::query(
            "INSERT INTO dbtest_registry.databases (name, kind, template, ready_at, cloned_by) \
             VALUES (?, 'test', ?, CURRENT_TIMESTAMP(3), ?)",
        )
        .bind(&victim)
        .bind(&template)
        .bind(&me)
        .execute(&mut as_neighbour?)
        .await
        .map(drop)
    });
    let next = forged.as_ref().ok().map(|()| run_member(&scene.dir));
    let notes: Vec<String> = scene
        .rt
        .block_on(
            sql::query_scalar(&format!(
                "SELECT CONVERT(note USING utf8mb4) FROM `{victim}`.t ORDER BY id"
            ))
            .fetch_all(&mut scene.conn),
        )
        .unwrap_or_default();
    scene.run(&format!(
        "DELETE FROM dbtest_registry.databases WHERE name = '{victim}'; DROP DATABASE `{victim}`"
    ));
    scene.clean(&user);

    forged.expect("the neighbour can write the registry (as the README's grant allows)");
    let next = next.unwrap();
    assert_ne!(next, victim, "the test was sent into `{victim}`");
    assert!(next.starts_with("dbtest_db_"), "{next}");
    assert_eq!(notes, ["precious"], "`{victim}` was written into");
}

/// A neighbour that rewrites the clone script in a template's ready marker (here: a `GRANT` to
/// itself slipped in before a `CREATE TABLE`) gets nothing: the marker no longer matches the seal
/// this account made, so the next run builds the template again instead of executing it.
#[test]
fn a_clone_script_a_neighbour_rewrote_is_never_executed() {
    let mut scene = Scene::new("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT);");
    let (user, as_neighbour) = scene.neighbour(None);
    let template = scene.template.clone();
    let rewritten = scene.rt.block_on(async {
        sql::query(&format!(
            "UPDATE `{template}`._dbtest_template SET script = REPLACE(script, 'CREATE TABLE `t` (', ?)"
        ))
        .bind(format!("GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'; CREATE TABLE `t` ("))
        .execute(&mut as_neighbour?)
        .await
        .map(|done| done.rows_affected())
    });
    let (next_ok, next_out) = try_member(&scene.dir, &[("DBTEST_REUSE", "never")]);
    let grants: Vec<String> = scene
        .rt
        .block_on(
            sql::query_scalar(&format!("SHOW GRANTS FOR '{user}'@'%'")).fetch_all(&mut scene.conn),
        )
        .unwrap();
    scene.clean(&user);

    assert_eq!(
        rewritten.expect("the neighbour may write the template (as the grant allows)"),
        1
    );
    assert!(
        !grants
            .iter()
            .any(|g| g.contains("ON *.*") && g.contains("ALL PRIVILEGES")),
        "the rewritten script was executed"
    );
    assert!(next_ok, "{next_out}");
    assert!(
        next_out.contains("does not match its seal") && next_out.contains("building it again"),
        "{next_out}"
    );
}

/// The ready marker is trusted as its seal says, field by field: the next run finds a marker as
/// it was sealed and uses the template as it is (the server's digest of the row, which the probe
/// asks for, is the one this account sealed); after a neighbour rewrote the reference state in it
/// (what a reset must reproduce), the run after builds the template again.
#[test]
fn a_marker_is_used_as_sealed_and_built_again_when_its_state_was_rewritten() {
    let mut scene = Scene::new("CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT);");
    let (as_sealed_ok, as_sealed) = try_member(&scene.dir, &[]);
    let (user, as_neighbour) = scene.neighbour(None);
    let template = scene.template.clone();
    let rewritten = scene.rt.block_on(async {
        sql::query(&format!(
            "UPDATE `{template}`._dbtest_template SET state = CONCAT(state, ?)"
        ))
        .bind("object\ttable zz\tx\n")
        .execute(&mut as_neighbour?)
        .await
        .map(|done| done.rows_affected())
    });
    let (next_ok, next_out) = try_member(&scene.dir, &[]);
    scene.clean(&user);

    assert!(as_sealed_ok, "{as_sealed}");
    assert!(
        !as_sealed.contains("seal") && !as_sealed.contains("built template"),
        "a marker as it was sealed is used as it is: {as_sealed}"
    );
    assert_eq!(
        rewritten.expect("the neighbour may write the template (as the grant allows)"),
        1
    );
    assert!(next_ok, "{next_out}");
    assert!(
        next_out.contains("does not match its seal") && next_out.contains("building it again"),
        "{next_out}"
    );
}

/// A neighbour that replaces a table of a template by a view over a function of its own that runs
/// with the privileges of whoever reads it (`SQL SECURITY INVOKER`) gets nothing: dbtest never
/// reads a view where it copies rows, so the clone is refused, saying why, and the function
/// never runs as this account (here it would have written into a database the neighbour cannot
/// reach).
#[test]
fn a_template_table_a_neighbour_replaced_by_a_view_is_never_read() {
    let mut scene = Scene::new(
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT); INSERT INTO t (note) VALUES ('seed');",
    );
    let template = scene.template.clone();
    let (victim, function) = scene.victim();
    let (user, as_neighbour) = scene.neighbour(None);
    let replaced = scene.rt.block_on(async {
        as_neighbour?
            .execute(sql::raw_sql(&format!(
                "{function}; DROP TABLE `{template}`.t; \
                 CREATE SQL SECURITY INVOKER VIEW `{template}`.t AS SELECT `{template}`.f() AS id, 'x' AS note"
            )))
            .await
            .map(drop)
    });
    let (next_ok, next_out) = try_member(&scene.dir, &[("DBTEST_REUSE", "never")]);
    let log = scene.victim_log(&victim);
    scene.clean(&user);

    replaced.expect("the neighbour may change the template (as the grant allows)");
    assert!(log.is_empty(), "the neighbour's function ran as {log:?}");
    assert!(
        !next_ok,
        "a clone of a template whose table is a view was made:\n{next_out}"
    );
    assert!(next_out.contains("is a view"), "{next_out}");
}

/// What a neighbour did to a clone it stalled, and how the clone's run ended.
struct Stalled {
    /// The victim's log (see [`Scene::victim`]).
    log: Vec<String>,
    /// The stalled clone, if one was found, or the neighbour's error.
    clone: Result<Option<String>, sqlx::Error>,
    out: std::process::Output,
}

impl Stalled {
    fn said(&self) -> String {
        format!(
            "{}{}",
            String::from_utf8_lossy(&self.out.stdout),
            String::from_utf8_lossy(&self.out.stderr)
        )
    }
}

/// Runs `member` (a fresh clone, no pool) while a neighbour holding the grant on the template
/// and its test databases stalls the clone: it locks the template's table `a`, which the clone
/// copies first, so the clone waits with all its tables made and none but `a` being filled;
/// then the neighbour runs `act(<clone>)` on the clone and lets it go on. The template has rows
/// in `a` and `t`; the neighbour has made `<template>.f()`, an INVOKER function that logs who
/// runs it.
fn stalled_clone(act: impl Fn(&str, &str) -> String) -> Stalled {
    let mut scene = Scene::new(
        "CREATE TABLE a (id INT PRIMARY KEY); INSERT INTO a VALUES (1); \
         CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT); INSERT INTO t (note) VALUES ('seed');",
    );
    let template = scene.template.clone();
    let digest = template["dbtest_tpl_".len().."dbtest_tpl_".len() + 8].to_owned();
    let (victim, function) = scene.victim();
    // No test database of the template is left from the first run: the one found below is
    // the clone being made.
    scene.drop_test_databases();
    let (user, locker) = scene.neighbour(None);
    scene.run(&format!(
        "GRANT ALL PRIVILEGES ON `dbtest\\_db\\_{digest}\\_%`.* TO '{user}'@'%'"
    ));
    let password = format!("pw{}", scene.id);
    let stalled = scene.rt.block_on(async {
        let mut locker = locker?;
        locker
            .execute(sql::raw_sql(&format!(
                "{function}; LOCK TABLES `{template}`.a WRITE"
            )))
            .await?;
        let child = dbtest_tests::member("member")
            .env(DIR_ENV, &scene.dir)
            .env("DBTEST_WARM", "0")
            .env("DBTEST_KEEP", "never")
            .env("DBTEST_REUSE", "never")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let acted = async {
            let mut neighbour = MySqlConnection::connect(&url_for(&user, &password)).await?;
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let clone: Option<String> = loop {
                let found = sqlx::query_scalar(
                    "SELECT CONVERT(TABLE_SCHEMA USING utf8mb4) FROM information_schema.TABLES \
                     WHERE TABLE_SCHEMA LIKE ? AND TABLE_NAME = 't' LIMIT 1",
                )
                .bind(format!("dbtest\\_db\\_{digest}\\_%"))
                .fetch_optional(&mut neighbour)
                .await?;
                if found.is_some() || std::time::Instant::now() > deadline {
                    break found;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            };
            if let Some(db) = &clone {
                neighbour
                    .execute(sql::raw_sql(&format!(
                        "SET SESSION lock_wait_timeout = 5; {}",
                        act(db, &template)
                    )))
                    .await?;
            }
            Ok::<_, sqlx::Error>(clone)
        }
        .await;
        let unlocked = locker.execute("UNLOCK TABLES").await.map(drop);
        let out = child.wait_with_output().unwrap();
        unlocked?;
        Ok::<_, sqlx::Error>((acted, out))
    });
    let log = scene.victim_log(&victim);
    scene.clean(&user);
    let (clone, out) = stalled.expect("the neighbour may lock these databases");
    Stalled { log, clone, out }
}

/// A neighbour that stalls a clone and, in that pause, puts a view in place of a table the
/// clone has made but not yet filled — a view whose check option calls a `SQL SECURITY INVOKER`
/// function of its own — gets nothing: the copy names its target with a hint the server refuses
/// for a view, in the statement that writes, so the clone fails instead of running the function
/// as this account.
#[test]
fn a_table_swapped_for_a_view_while_a_clone_fills_it_is_never_written_through() {
    let run = stalled_clone(|db, template| {
        format!(
            "RENAME TABLE `{db}`.t TO `{db}`.t_real; \
             CREATE SQL SECURITY INVOKER VIEW `{db}`.t AS SELECT * FROM `{db}`.t_real \
             WHERE `{template}`.f() = 1 WITH CHECK OPTION"
        )
    });
    let said = run.said();
    let clone = run
        .clone
        .expect("the neighbour may swap a table of a test database for a view");
    assert!(clone.is_some(), "no clone waited on the lock:\n{said}");
    assert!(
        run.log.is_empty(),
        "the neighbour's function ran as {:?}",
        run.log
    );
    assert!(
        !run.out.status.success(),
        "the clone wrote through the view:\n{said}"
    );
    assert!(said.contains("is a view now"), "{said}");
}

/// A neighbour's trigger fires in this account's session while a clone copies rows (it runs as
/// its definer, but it may set the session's user variables): the clone script keeps nothing in
/// user variables, so such a trigger cannot choose the settings the session is left with (here
/// it would have named a time zone that does not exist, or a character set under which dbtest's
/// quoting no longer holds).
#[test]
fn a_trigger_firing_in_a_clone_cannot_choose_its_sessions_settings() {
    let run = stalled_clone(|db, _| {
        format!(
            "CREATE TRIGGER `{db}`.poison BEFORE INSERT ON `{db}`.t FOR EACH ROW \
             SET @dbtest_tz = 'nowhere/at all', @dbtest_csc = 'gbk', @dbtest_cc = 'gbk_chinese_ci'"
        )
    });
    let said = run.said();
    let clone = run
        .clone
        .expect("the neighbour may add a trigger to a test database");
    assert!(clone.is_some(), "no clone waited on the lock:\n{said}");
    assert!(run.out.status.success(), "{said}");
}

/// An object created under a client character set in which a multi-byte character can end in a
/// backslash (gbk, sjis, big5, cp932, gb18030) is refused, naming the setting: its text comes
/// back as utf8mb4, and replayed under that character set a quote escaped after such a
/// character ends the string, so the replay would not be the object, and a neighbour who slips
/// such an object into a template while it is built could run statements of its own.
#[test]
fn an_object_made_under_an_escape_unsafe_character_set_is_refused() {
    let dir = migrations_dir(
        &run_id(),
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT);\n\
         SET NAMES gbk;\nCREATE PROCEDURE p() SET @x = 'plain';\nSET NAMES utf8mb4;",
    );
    let (ok, out) = try_member(&dir, &[]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(!ok, "{out}");
    assert!(
        out.contains("character_set_client = gbk") && out.contains("create it under utf8mb4"),
        "{out}"
    );
}

/// A seal is trusted only when its definer is this account byte for byte: a neighbour whose
/// account name differs only in case (`ZZ_…` against `zz_…`, equal under the collation of
/// `information_schema`) that rewrites the marker and seals it again as itself gets nothing.
/// This user's runs go through a temporary account of their own here.
#[test]
fn a_seal_by_an_account_whose_name_differs_only_in_case_is_not_trusted() {
    let (rt, mut conn) = dbtest_tests::blocking_admin();
    let id = run_id();
    let (me, them, password) = (
        format!("zz_case_{id}"),
        format!("ZZ_CASE_{id}"),
        format!("pw{id}"),
    );
    rt.block_on(conn.execute(sql::raw_sql(&format!(
        "CREATE USER '{me}'@'%' IDENTIFIED BY '{password}'; GRANT ALL PRIVILEGES ON *.* TO '{me}'@'%'; \
         CREATE USER '{them}'@'%' IDENTIFIED BY '{password}'"
    ))))
    .unwrap();
    let dir = migrations_dir(
        &id,
        "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT);",
    );
    let as_me = url_for(&me, &password);
    let env = [
        ("DBTEST_DATABASE_URL", as_me.as_str()),
        ("DBTEST_REUSE", "never"),
    ];
    let (first_ok, first) = try_member(&dir, &env);
    let template = announced_database(&first).map(|db| template_of(&rt, &mut conn, &db));
    let resealed = template.as_ref().map(|template| {
        rt.block_on(async {
            conn.execute(sql::raw_sql(&format!(
                "GRANT ALL PRIVILEGES ON `{}`.* TO '{them}'@'%'",
                template.replace('_', "\\_")
            )))
            .await?;
            let mut as_them = MySqlConnection::connect(&url_for(&them, &password)).await?;
            sql::query(&format!(
                "UPDATE `{template}`._dbtest_template SET script = REPLACE(script, 'CREATE TABLE `t` (', ?)"
            ))
            .bind(format!("GRANT ALL PRIVILEGES ON *.* TO '{them}'@'%'; CREATE TABLE `t` ("))
            .execute(&mut as_them)
            .await?;
            dbtest_tests::reseal(&mut as_them, template).await;
            Ok::<_, sqlx::Error>(())
        })
    });
    let (next_ok, next) = try_member(&dir, &env);
    let grants: Vec<String> = rt
        .block_on(sql::query_scalar(&format!("SHOW GRANTS FOR '{them}'@'%'")).fetch_all(&mut conn))
        .unwrap();

    if let Some(template) = &template {
        rt.block_on(drop_template(&mut conn, template));
    }
    rt.block_on(conn.execute(sql::raw_sql(&format!(
        "DROP USER '{me}'@'%'; DROP USER '{them}'@'%'"
    ))))
    .unwrap();
    let _ = std::fs::remove_dir_all(&dir);

    assert!(first_ok, "{first}");
    resealed
        .expect("a template")
        .expect("the neighbour may rewrite and seal the marker");
    assert!(
        !grants
            .iter()
            .any(|g| g.contains("ON *.*") && g.contains("ALL PRIVILEGES")),
        "the script sealed by `{them}` was executed"
    );
    assert!(next_ok, "{next}");
    assert!(next.contains("has no seal made by this account"), "{next}");
}

/// Disabling a template's events keeps their definers: an event of another account (here one a
/// migration made with an explicit `DEFINER`, as a neighbour's slipped into a template being built
/// would be) does not become this account's, so no clone gets an event that runs as it.
#[test]
fn disabling_a_templates_events_keeps_their_definers() {
    let (rt, mut conn) = dbtest_tests::blocking_admin();
    let id = run_id();
    let other = format!("zz_evdef_{}", &id[id.len() - 8..]);
    let dir = migrations_dir(
        &id,
        &format!(
            "CREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT);\n\
             CREATE DEFINER = '{other}'@'%' EVENT e ON SCHEDULE EVERY 1 DAY DO SET @x = 1;"
        ),
    );
    let (ok, out) = try_member(&dir, &[("DBTEST_REUSE", "never")]);
    let template = announced_database(&out).map(|db| template_of(&rt, &mut conn, &db));
    let events: Vec<(String, String)> = template
        .as_ref()
        .map(|template| {
            rt.block_on(
                sqlx::query_as(
                    "SELECT CONVERT(DEFINER USING utf8mb4), CONVERT(STATUS USING utf8mb4) \
                     FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?",
                )
                .bind(template)
                .fetch_all(&mut conn),
            )
            .unwrap()
        })
        .unwrap_or_default();
    if let Some(template) = &template {
        rt.block_on(drop_template(&mut conn, template));
    }
    let _ = std::fs::remove_dir_all(&dir);

    assert!(ok, "{out}");
    assert_eq!(events, [(format!("{other}@%"), "DISABLED".to_owned())]);
}

/// `scripts/with-mariadb`, when it cannot use root without a password, makes an account for the
/// run and drops it when the command ends, even when the command fails: no superuser with a
/// known password outlives it. Needs what the script needs for that: root (CI runs as root) and
/// a server on the local socket (the one this suite's URL names).
#[test]
fn with_mariadb_leaves_no_account_behind() {
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    let client = ["mariadb", "mysql"]
        .into_iter()
        .find(|c| Command::new(c).arg("--version").output().is_ok());
    let (true, Some(client), Ok(_)) = (root, client, std::env::var("DBTEST_DATABASE_URL")) else {
        eprintln!(
            "skipped: needs root, a mariadb client and a system server (DBTEST_DATABASE_URL)"
        );
        return;
    };
    let accounts = |user: &str| -> String {
        let out = Command::new(client)
            .args(["-N", "-B", "-e"])
            .arg(format!(
                "SELECT COUNT(*) FROM mysql.user WHERE user = '{user}'"
            ))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/with-mariadb");
    // The command names its account (never the password), says whether it exists, and fails.
    let inner = format!(
        "u=${{DBTEST_DATABASE_URL#mysql://}}; u=${{u%%:*}}; echo \"RUN_USER=$u\"; \
         echo \"EXISTS=$({client} -N -B -e \"SELECT COUNT(*) FROM mysql.user WHERE user = '$u'\")\"; exit 3"
    );
    let out = Command::new(script)
        .args(["sh", "-c", &inner])
        .env_remove("DBTEST_DATABASE_URL")
        .env("WITH_MARIADB_ACCOUNT", "temporary")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let said = format!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    let user = stdout
        .lines()
        .find_map(|l| l.strip_prefix("RUN_USER="))
        .unwrap_or_else(|| panic!("{said}"))
        .to_owned();
    assert_eq!(
        out.status.code(),
        Some(3),
        "the command's status is the script's: {said}"
    );
    assert!(user.starts_with("dbtest_run_"), "{said}");
    assert!(
        stdout.contains("EXISTS=2"),
        "the account for the run (two hosts): {said}"
    );
    assert_eq!(
        accounts(&user),
        "0",
        "the account `{user}` outlived the run"
    );
    assert_eq!(
        accounts("dbtest"),
        "0",
        "a `dbtest` account is left: {said}"
    );
}
