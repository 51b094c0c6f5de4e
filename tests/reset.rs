//! Reset instead of drop: after a test's inserts, updates, deletes, truncates (and the triggers
//! they fire), its database is put back exactly to the template's state — the fingerprint of the
//! reset database equals the template's — and the next test gets it from the warm pool; after
//! DDL it is dropped instead.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::process::Command;
use std::sync::LazyLock;

use dbtest_runtime::db_test;
use dbtest_tests::{
    admin, announce_database, announced_database, fingerprint, migrator_from_env, run_id, sql,
};
use sqlx::migrate::Migrator;
use sqlx::{Connection, Executor, MySqlConnection, MySqlPool};

const DIR_ENV: &str = "DBTEST_RESET_MIGRATIONS";
const MIX_ENV: &str = "DBTEST_RESET_MIX";
const FIDELITY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fidelity/migrations");

static SET: LazyLock<Migrator> = LazyLock::new(|| migrator_from_env(DIR_ENV));

/// Changes its database as DBTEST_RESET_MIX says, and passes.
#[db_test(migrator = "SET")]
#[ignore = "started by `a_reset_database_is_indistinguishable_from_its_template`"]
async fn member_mutates(pool: MySqlPool) -> sqlx::Result<()> {
    announce_database(&pool).await;
    let mix = std::env::var(MIX_ENV).unwrap();
    let sql = match mix.as_str() {
        "dml" => {
            "INSERT INTO parent (code, label) VALUES ('x1', 'new'); \
             UPDATE parent SET label = 'changed' WHERE id = 1; \
             DELETE FROM child WHERE id = 1000; \
             INSERT INTO measurements VALUES (9, '2024-12-31', 9.5); \
             UPDATE lookup_myisam SET name = 'uno' WHERE id = 1"
        }
        "truncate-and-triggers" => {
            "TRUNCATE TABLE audit_log; CALL add_child(2, 3); CALL add_child(3, 1); \
             SET FOREIGN_KEY_CHECKS = 0; TRUNCATE TABLE parent; SET FOREIGN_KEY_CHECKS = 1"
        }
        "counters" => "ALTER TABLE child AUTO_INCREMENT = 5000; INSERT INTO empty_table VALUES (1); DELETE FROM empty_table",
        "everything" => {
            "SET FOREIGN_KEY_CHECKS = 0; DELETE FROM child; DELETE FROM parent; DELETE FROM audit_log; \
             DELETE FROM measurements; DELETE FROM lookup_myisam; DELETE FROM _sqlx_migrations; SET FOREIGN_KEY_CHECKS = 1"
        }
        "ddl" => "ALTER TABLE parent ADD COLUMN extra INT NULL",
        "leak" => {
            // A connection of the test's own, left open past its end.
            let conn = MySqlConnection::connect_with(&pool.connect_options()).await?;
            sqlx::query("INSERT INTO audit_log (what) VALUES ('from my own connection')").execute(&pool).await?;
            std::mem::forget(conn);
            "SELECT 1"
        }
        "read" => "SELECT COUNT(*) FROM parent",
        other => panic!("unknown mix {other}"),
    };
    sqlx::raw_sql(sql).execute(&pool).await?;
    Ok(())
}

struct Run {
    rt: tokio::runtime::Runtime,
    conn: MySqlConnection,
    dir: std::path::PathBuf,
}

impl Run {
    fn member(&mut self, mix: &str) -> String {
        let out = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "member_mutates", "--ignored", "--nocapture"])
            .env(DIR_ENV, &self.dir)
            .env(MIX_ENV, mix)
            .env("DBTEST_REUSE", "reset")
            .env("DBTEST_WARM", "0")
            .env("DBTEST_KEEP", "never")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "mix {mix} failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        announced_database(&stdout).expect("the member named its database")
    }

    fn query_i64(&mut self, sql: &str, db: &str) -> i64 {
        self.rt
            .block_on(sql::query_scalar(sql).bind(db).fetch_one(&mut self.conn))
            .unwrap()
    }

    fn pooled(&mut self, db: &str) -> bool {
        self.query_i64(
            "SELECT COUNT(*) FROM dbtest_registry.databases WHERE name = ? AND ready_at IS NOT NULL",
            db,
        ) == 1
    }

    fn exists(&mut self, db: &str) -> bool {
        self.query_i64(
            "SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
            db,
        ) == 1
    }

    fn text(&mut self, sql: &str, db: &str) -> String {
        let row = self
            .rt
            .block_on(sql::query(sql).bind(db).fetch_one(&mut self.conn))
            .unwrap();
        dbtest_tests::text(&row, 0)
    }
}

#[test]
fn a_reset_database_is_indistinguishable_from_its_template() {
    let id = run_id();
    let dir = std::env::temp_dir().join(format!("dbtest-reset-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(FIDELITY).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    // A template of this run's own, so the pool holds only what this test puts there.
    std::fs::write(dir.join("0006_nonce.sql"), format!("-- run {id}\nDO 0;\n")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let conn = rt.block_on(admin());
    let mut run = Run {
        rt,
        conn,
        dir: dir.clone(),
    };

    let mut results = Vec::new();
    let mut first: Option<String> = None;
    let mut template = String::new();
    for mix in [
        "dml",
        "truncate-and-triggers",
        "counters",
        "everything",
        "read",
    ] {
        let db = run.member(mix);
        if template.is_empty() {
            template = run.text(
                "SELECT CONVERT(template USING utf8mb4) FROM dbtest_registry.databases WHERE name = ?",
                &db,
            );
        }
        // Every later test claimed the one database the first left in the pool.
        let same = first.get_or_insert_with(|| db.clone()) == &db;
        let pooled = run.pooled(&db);
        let owner = run.text(
            "SELECT CONVERT(cloned_by USING utf8mb4) FROM dbtest_registry.databases WHERE name = ?",
            &db,
        );
        let built_by = run.text(
            &format!("SELECT CONVERT(built_by USING utf8mb4) FROM `{template}`._dbtest_template WHERE ? IS NOT NULL"),
            &db,
        );
        let (want, got) = run.rt.block_on(async {
            let want = fingerprint(&mut run.conn, &template, &built_by).await;
            let got = fingerprint(&mut run.conn, &db, &owner).await;
            (want, got)
        });
        results.push((
            mix,
            same,
            pooled,
            want == got,
            first_difference(&want, &got),
        ));
    }
    // DDL: the database is dropped, not reset.
    let ddl_db = run.member("ddl");
    let ddl_dropped = !run.exists(&ddl_db);
    // A connection the test opened itself is still there: the database is dropped, not reset.
    let leak_db = run.member("leak");
    let leak_dropped = !run.exists(&leak_db);

    // Clean up this run's template and whatever of it is left in the pool.
    run.rt
        .block_on(run.conn.execute(sql::raw_sql(&format!(
            "DROP DATABASE IF EXISTS `{template}`; DELETE FROM dbtest_registry.databases WHERE name = '{template}'"
        ))))
        .unwrap();
    let leftovers: Vec<String> = run
        .rt
        .block_on(
            sqlx::query_scalar("SELECT CONVERT(name USING utf8mb4) FROM dbtest_registry.databases WHERE template = ?")
                .bind(&template)
                .fetch_all(&mut run.conn),
        )
        .unwrap();
    for db in leftovers {
        run.rt
            .block_on(run.conn.execute(sql::raw_sql(&format!(
                "DROP DATABASE IF EXISTS `{db}`; DELETE FROM dbtest_registry.databases WHERE name = '{db}'"
            ))))
            .unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);

    for (mix, same, pooled, equal, diff) in &results {
        assert!(pooled, "after `{mix}` the database went back to the pool");
        assert!(same, "after `{mix}`: the pooled database was claimed again");
        assert!(
            equal,
            "after `{mix}` and a reset the database differs from the template: {diff}"
        );
    }
    assert_eq!(
        ddl_db,
        *first.as_ref().unwrap(),
        "the DDL test also got the pooled database"
    );
    assert!(ddl_dropped, "after DDL the database is dropped, not reset");
    assert!(
        leak_dropped,
        "with a connection of the test still open, the database is dropped, not reset"
    );
}

fn first_difference(
    want: &std::collections::BTreeMap<String, Vec<String>>,
    got: &std::collections::BTreeMap<String, Vec<String>>,
) -> String {
    want.iter()
        .find(|(k, v)| got.get(*k) != Some(v))
        .map(|(k, v)| format!("{k}: template {v:?}, reset {:?}", got.get(k)))
        .unwrap_or_default()
}
