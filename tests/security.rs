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
    admin, announce_database, announced_database, drop_template, migrator_from_env,
    only_database_like, run_id, sql, url_for,
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

fn run_member(dir: &std::path::Path) -> String {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "member", "--ignored", "--nocapture"])
        .env(DIR_ENV, dir)
        .env("DBTEST_WARM", "0")
        .env("DBTEST_KEEP", "never")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    announced_database(&stdout).expect("the member named its database")
}

/// A registry row forged by another account (in the warm pool, for this user's template, naming
/// a database dbtest did not create) is never claimed: the test gets a database of its own, and
/// the named one is not touched.
#[test]
fn a_forged_registry_row_never_sends_a_test_into_another_database() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut conn = rt.block_on(admin());
    let id = run_id();
    let dir = std::env::temp_dir().join(format!("dbtest-security-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("1_t.sql"),
        format!("-- security run {id}\nCREATE TABLE t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT);\n"),
    )
    .unwrap();
    let first = run_member(&dir);
    let digest = &first["dbtest_db_".len().."dbtest_db_".len() + 8];
    let template = rt.block_on(only_database_like(
        &mut conn,
        &format!("dbtest\\_tpl\\_{digest}"),
    ));

    // A database of the user's that dbtest did not create, with a table of the same name.
    let victim = format!("zz_security_{id}");
    let neighbour = format!("zz_neighbour_{id}");
    let password = format!("pw{id}");
    rt.block_on(conn.execute(sql::raw_sql(&format!(
        "CREATE DATABASE `{victim}`; CREATE TABLE `{victim}`.t (id INT AUTO_INCREMENT PRIMARY KEY, note TEXT); \
         INSERT INTO `{victim}`.t (note) VALUES ('precious'); \
         CREATE USER '{neighbour}'@'%' IDENTIFIED BY '{password}'; \
         GRANT ALL PRIVILEGES ON `dbtest\\_registry`.* TO '{neighbour}'@'%'"
    ))))
    .unwrap();
    let me: String = rt
        .block_on(sqlx::query_scalar("SELECT CURRENT_USER()").fetch_one(&mut conn))
        .unwrap();
    // Drops the test databases of this run's template (and their rows), but for `victim`'s row.
    let drop_test_databases = |conn: &mut MySqlConnection| {
        let names: Vec<String> = rt
            .block_on(
                sqlx::query_scalar(
                    "SELECT CONVERT(name USING utf8mb4) FROM dbtest_registry.databases WHERE template = ?",
                )
                .bind(&template)
                .fetch_all(&mut *conn),
            )
            .unwrap();
        for db in names.iter().filter(|db| db.starts_with("dbtest_db_")) {
            rt.block_on(conn.execute(sql::raw_sql(&format!(
                "DROP DATABASE IF EXISTS `{db}`; DELETE FROM dbtest_registry.databases WHERE name = '{db}'"
            ))))
            .unwrap();
        }
    };
    // The pool of this template now holds nothing but the neighbour's row.
    drop_test_databases(&mut conn);
    let forged = rt.block_on(async {
        let mut as_neighbour = MySqlConnection::connect(&url_for(&neighbour, &password)).await?;
        sqlx::query(
            "INSERT INTO dbtest_registry.databases (name, kind, template, ready_at, cloned_by) \
             VALUES (?, 'test', ?, CURRENT_TIMESTAMP(3), ?)",
        )
        .bind(&victim)
        .bind(&template)
        .bind(&me)
        .execute(&mut as_neighbour)
        .await
        .map(drop)
    });

    let next = forged.as_ref().ok().map(|()| run_member(&dir));
    let notes: Vec<String> = rt
        .block_on(
            sql::query_scalar(&format!(
                "SELECT CONVERT(note USING utf8mb4) FROM `{victim}`.t ORDER BY id"
            ))
            .fetch_all(&mut conn),
        )
        .unwrap_or_default();

    // Clean up: the victim, the neighbour, the forged row, this run's template and its databases.
    drop_test_databases(&mut conn);
    rt.block_on(conn.execute(sql::raw_sql(&format!(
        "DELETE FROM dbtest_registry.databases WHERE template = '{template}'; DROP DATABASE `{victim}`; \
         DROP USER '{neighbour}'@'%'"
    ))))
    .unwrap();
    rt.block_on(drop_template(&mut conn, &template));
    let _ = std::fs::remove_dir_all(&dir);

    forged.expect("the neighbour can write the registry (as the README's grant allows)");
    let next = next.unwrap();
    assert_ne!(next, victim, "the test was sent into `{victim}`");
    assert!(next.starts_with("dbtest_db_"), "{next}");
    assert_eq!(notes, ["precious"], "`{victim}` was written into");
}
