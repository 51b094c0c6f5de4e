//! The `dbtest` command-line tool against the real server: it lists, it sweeps, and it never
//! drops a database dbtest did not create — not even one that looks exactly like one of ours.

use dbtest_runtime::__private::sql;
use dbtest_runtime::sqlx;
use std::process::Command;

use sqlx::{Executor, MySqlConnection};

fn dbtest(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dbtest"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn admin() -> MySqlConnection {
    use sqlx::ConnectOptions;
    dbtest_runtime::admin::connect_options()
        .unwrap()
        .connect()
        .await
        .unwrap()
}

async fn exists(conn: &mut MySqlConnection, db: &str) -> bool {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(db)
    .fetch_one(conn)
    .await
    .unwrap();
    n == 1
}

#[test]
fn usage_and_refusals() {
    let (ok, out, _) = dbtest(&["--help"]);
    assert!(
        ok && out.contains("clean --all") && out.contains("server status|stop"),
        "{out}"
    );
    let (ok, _, err) = dbtest(&["clean"]);
    assert!(!ok && err.contains("say `dbtest clean --all`"), "{err}");
    let (ok, _, err) = dbtest(&["frobnicate"]);
    assert!(
        !ok && err
            .starts_with("usage: dbtest list | gc | clean --all | server status | server stop"),
        "{err}"
    );
}

#[test]
fn list_and_gc_leave_look_alikes_alone() {
    // Names of exactly dbtest's shapes, made by hand: not in the registry, so not dbtest's.
    let lookalikes = [
        "dbtest_db_0123abcd_0123456789ab_lookalike",
        "dbtest_tpl_0123456789abcdef",
    ];
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut conn = rt.block_on(admin());
    for db in lookalikes {
        rt.block_on(conn.execute(sql::raw_sql(&format!(
            "CREATE DATABASE IF NOT EXISTS `{db}`"
        ))))
        .unwrap();
    }
    let (listed, list_out, list_err) = dbtest(&["list"]);
    let (swept, gc_out, gc_err) = dbtest(&["gc"]);
    let survived: Vec<bool> = lookalikes
        .iter()
        .map(|db| rt.block_on(exists(&mut conn, db)))
        .collect();
    for db in lookalikes {
        rt.block_on(conn.execute(sql::raw_sql(&format!("DROP DATABASE IF EXISTS `{db}`"))))
            .unwrap();
    }
    assert!(listed, "{list_err}");
    assert!(
        list_out.starts_with("KIND") && list_out.trim_end().ends_with("database(s)"),
        "{list_out}"
    );
    assert!(
        !list_out.contains("lookalike"),
        "unregistered databases are not dbtest's: {list_out}"
    );
    assert!(swept, "{gc_err}");
    assert!(gc_out.contains("swept "), "{gc_out}");
    assert_eq!(survived, [true, true], "look-alikes must survive the sweep");
}
