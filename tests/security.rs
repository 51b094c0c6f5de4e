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
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "member", "--ignored", "--nocapture"])
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
        let dir = std::env::temp_dir().join(format!("dbtest-security-{id}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("1_t.sql"),
            format!("-- security run {id}\n{migration}\n"),
        )
        .unwrap();
        let first = run_member(&dir);
        let digest = &first["dbtest_db_".len().."dbtest_db_".len() + 8];
        let template = rt.block_on(only_database_like(
            &mut conn,
            &format!("dbtest\\_tpl\\_{digest}"),
        ));
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
    let (template, victim) = (scene.template.clone(), format!("zz_security_{}", scene.id));
    scene.run(&format!(
        "CREATE DATABASE `{victim}`; CREATE TABLE `{victim}`.log (who TEXT)"
    ));
    let (user, as_neighbour) = scene.neighbour(None);
    let replaced = scene.rt.block_on(async {
        as_neighbour?
            .execute(sql::raw_sql(&format!(
                "CREATE FUNCTION `{template}`.f() RETURNS INT SQL SECURITY INVOKER MODIFIES SQL DATA \
                 BEGIN INSERT INTO `{victim}`.log VALUES (CURRENT_USER()); RETURN 1; END; \
                 DROP TABLE `{template}`.t; \
                 CREATE SQL SECURITY INVOKER VIEW `{template}`.t AS SELECT `{template}`.f() AS id, 'x' AS note"
            )))
            .await
            .map(drop)
    });
    let (next_ok, next_out) = try_member(&scene.dir, &[("DBTEST_REUSE", "never")]);
    let log: Vec<String> = scene
        .rt
        .block_on(
            sql::query_scalar(&format!(
                "SELECT CONVERT(who USING utf8mb4) FROM `{victim}`.log"
            ))
            .fetch_all(&mut scene.conn),
        )
        .unwrap();
    scene.run(&format!("DROP DATABASE `{victim}`"));
    scene.clean(&user);

    replaced.expect("the neighbour may change the template (as the grant allows)");
    assert!(log.is_empty(), "the neighbour's function ran as {log:?}");
    assert!(
        !next_ok,
        "a clone of a template whose table is a view was made:\n{next_out}"
    );
    assert!(next_out.contains("is a view"), "{next_out}");
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
