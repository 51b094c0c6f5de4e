//! A clone is indistinguishable from its template: same definitions of every object, same rows,
//! same AUTO_INCREMENT counters; its views read its own tables; running the migrations on it again
//! does nothing — also when the template was built by another user.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::sync::LazyLock;

use dbtest_runtime::db_test;
use dbtest_tests::{
    admin, announce_template_digest, drop_template, fingerprint, migrator_from_env,
    only_database_like, run_id, sql, template_digest_in, url_for,
};
use sqlx::migrate::Migrator;
use sqlx::{Executor, MySqlPool};

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fidelity/migrations");

/// Who built `template` (its objects' definer), and who runs this test (the clone's).
async fn owners(pool: &MySqlPool, template: &str) -> (String, String) {
    let built_by: String = sql::query_scalar(&format!(
        "SELECT CONVERT(built_by USING utf8mb4) FROM `{template}`._dbtest_template"
    ))
    .fetch_one(pool)
    .await
    .unwrap();
    let me: String = sqlx::query_scalar("SELECT CURRENT_USER()")
        .fetch_one(pool)
        .await
        .unwrap();
    (built_by, me)
}

/// The test's own database and its template.
async fn names(pool: &MySqlPool) -> (String, String) {
    let clone: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(pool)
        .await
        .unwrap();
    // dbtest_db_<first 8 hex of the template digest>_…
    let digest = &clone["dbtest_db_".len().."dbtest_db_".len() + 8];
    let mut conn = pool.acquire().await.unwrap();
    let template = only_database_like(&mut conn, &format!("dbtest\\_tpl\\_{digest}")).await;
    (clone, template)
}

#[db_test(migrations = "tests/fidelity/migrations")]
async fn clone_is_indistinguishable_from_its_template(pool: MySqlPool) {
    assert_indistinguishable(&pool).await;
}

async fn assert_indistinguishable(pool: &MySqlPool) {
    let pool = pool.clone();
    let (clone, template) = names(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let (built_by, me) = owners(&pool, &template).await;
    let want = fingerprint(&mut conn, &template, &built_by).await;
    let got = fingerprint(&mut conn, &clone, &me).await;

    // The fingerprint covers what the schema has, so an equal one means something.
    let count = |k: &str| want[k].len();
    assert_eq!(count("VIEWS"), 3);
    assert_eq!(count("TRIGGERS"), 3);
    assert_eq!(count("ROUTINES"), 2);
    assert_eq!(count("EVENTS"), 1);
    assert!(count("PARTITIONS") >= 3);
    assert_eq!(count("REFERENTIAL_CONSTRAINTS"), 2);
    assert_eq!(
        want["ROWS"]
            .iter()
            .filter(|r| r.starts_with("audit_log: "))
            .count(),
        3,
        "{:?}",
        want["ROWS"]
    );
    assert!(want["TABLES"]
        .iter()
        .any(|t| t.contains("TABLE_NAME=parent") && t.contains("AUTO_INCREMENT=10")));

    for (key, lines) in &want {
        assert_eq!(
            &got[key], lines,
            "{key} differs between template `{template}` and clone `{clone}`"
        );
    }
    assert_eq!(got, want);
}

#[db_test(migrations = "tests/fidelity/migrations")]
async fn clone_objects_act_on_the_clone(pool: MySqlPool) -> sqlx::Result<()> {
    let (_clone, template) = names(&pool).await;
    let totals = |db: Option<&str>| {
        let from = db.map(|d| format!("`{d}`.")).unwrap_or_default();
        format!("SELECT CAST(COALESCE(SUM(total), 0) AS CHAR CHARACTER SET utf8mb4) FROM {from}child_totals WHERE parent_id = 3")
    };
    let before: String = sql::query_scalar(&totals(Some(&template)))
        .fetch_one(&pool)
        .await?;

    // The procedure, both triggers and the views, all in the clone.
    sqlx::query("CALL add_child(3, 4)").execute(&pool).await?;
    let in_clone: String = sql::query_scalar(&totals(None)).fetch_one(&pool).await?;
    assert_eq!(in_clone, "4.00");
    let summary: String =
        sqlx::query_scalar("SELECT CAST(with_tax AS CHAR CHARACTER SET utf8mb4) FROM parent_summary WHERE code = 'mid'").fetch_one(&pool).await?;
    assert_eq!(summary, "4.80");
    let codes: Vec<String> =
        sqlx::query_scalar("SELECT CONVERT(code USING utf8mb4) FROM a_codes ORDER BY code")
            .fetch_all(&pool)
            .await?;
    assert_eq!(codes, ["leaf", "mid", "root"]);
    let audit: Vec<String> = sqlx::query_scalar("SELECT what FROM audit_log ORDER BY id")
        .fetch_all(&pool)
        .await?;
    assert_eq!(
        audit,
        [
            "insert 1002",
            "second 1002",
            "child for 1",
            "insert 1003",
            "second 1003",
            "child for 3"
        ],
        "seeded rows once each, then this test's"
    );
    // The ANSI_QUOTES trigger trims labels; AUTO_INCREMENT continues where the template's was.
    sqlx::query("INSERT INTO parent (code, label) VALUES ('new', '  padded  ')")
        .execute(&pool)
        .await?;
    let (id, label): (i32, String) =
        sqlx::query_as("SELECT id, label FROM parent WHERE code = 'new'")
            .fetch_one(&pool)
            .await?;
    assert_eq!((id, label.as_str()), (10, "padded"));

    let after: String = sql::query_scalar(&totals(Some(&template)))
        .fetch_one(&pool)
        .await?;
    assert_eq!(before, after, "the template is untouched");
    Ok(())
}

#[db_test(migrations = "tests/fidelity/migrations")]
async fn migrating_a_clone_again_does_nothing(
    pool: MySqlPool,
) -> Result<(), Box<dyn std::error::Error>> {
    let count =
        || sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM _sqlx_migrations WHERE success = 1");
    assert_eq!(count().fetch_one(&pool).await?, 5);
    let migrator = sqlx::migrate::Migrator::new(std::path::Path::new(MIGRATIONS)).await?;
    migrator.run(&pool).await?;
    assert_eq!(count().fetch_one(&pool).await?, 5);
    Ok(())
}

/// The fingerprint is no rubber stamp: each kind of difference shows.
#[db_test(migrations = "tests/fidelity/migrations")]
async fn fingerprint_sees_every_kind_of_difference(pool: MySqlPool) -> sqlx::Result<()> {
    let (clone, template) = names(&pool).await;
    let mut conn = pool.acquire().await?;
    let (built_by, me) = owners(&pool, &template).await;
    let want = fingerprint(&mut conn, &template, &built_by).await;
    // Each change adds to the ones before, and is looked for where nothing else changed yet.
    let changes = [
        // Characters moved from one string to the next: CHECKSUM TABLE would not see it.
        (
            "ROWS",
            "UPDATE parent SET code = 'roo', label = 'tRoot' WHERE id = 1",
        ),
        ("TABLES", "ALTER TABLE child AUTO_INCREMENT = 5000"),
        ("ROUTINES", "ALTER PROCEDURE add_child COMMENT 'changed'"),
        (
            "VIEWS",
            &format!(
                "CREATE OR REPLACE VIEW a_codes AS SELECT code FROM `{template}`.parent_summary"
            ),
        ),
        ("TRIGGERS", "DROP TRIGGER child_ai_second"),
        ("EVENTS", "ALTER EVENT purge_audit COMMENT 'changed'"),
        (
            "CHECK_CONSTRAINTS",
            "ALTER TABLE child DROP CONSTRAINT child_qty",
        ),
    ];
    for (what, change) in changes {
        sql::raw_sql(change).execute(&mut *conn).await?;
        let got = fingerprint(&mut conn, &clone, &me).await;
        assert_ne!(got[what], want[what], "after `{change}`");
    }
    Ok(())
}

const DIR_ENV: &str = "DBTEST_FIDELITY_MIGRATIONS";
static COPY: LazyLock<Migrator> = LazyLock::new(|| migrator_from_env(DIR_ENV));

#[db_test(migrator = "COPY")]
#[ignore = "started by `each_account_clones_a_template_of_its_own_faithfully`"]
async fn member_compares(pool: MySqlPool) {
    // First, so the parent can remove the template even when the comparison fails.
    announce_template_digest(&pool).await;
    assert_indistinguishable(&pool).await;
}

/// Accounts do not share templates (each trusts only a ready marker it sealed itself): a second
/// account (here a temporary one) running the same migrations builds a template of its own, and
/// each gets faithful clones whose triggers, routines, views and events are its own — including
/// ones created under `ANSI_QUOTES`.
#[test]
fn each_account_clones_a_template_of_its_own_faithfully() {
    let rt = dbtest_tests::runtime();
    let id = run_id();
    // A copy of the fidelity migrations plus a nonce: a cold template of its own.
    let dir = std::env::temp_dir().join(format!("dbtest-fidelity-{id}"));
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(MIGRATIONS).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("0006_nonce.sql"), format!("-- run {id}\nDO 0;\n")).unwrap();

    let (user, password) = (
        format!("dbtest_fid_{}", &id[id.len() - 8..]),
        format!("pw{id}"),
    );
    let other_url = url_for(&user, &password);
    let mut conn = rt.block_on(admin());
    rt.block_on(conn.execute(sql::raw_sql(&format!(
        "CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'; GRANT ALL PRIVILEGES ON *.* TO '{user}'@'%'"
    ))))
    .expect("this test needs a user that may CREATE USER and GRANT (scripts/with-mariadb sets one up)");

    // `None`: this process's own server settings.
    let member = |url: Option<&str>| {
        let mut cmd = dbtest_tests::member("member_compares");
        if let Some(url) = url {
            cmd.env("DBTEST_DATABASE_URL", url);
        }
        let out = cmd
            .env(DIR_ENV, &dir)
            // Fresh clones, no warm pool: the temporary user's databases must not outlive it.
            .env("DBTEST_REUSE", "never")
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
    };
    // The other user builds its template (and compares its own clone); then this user.
    let (built_ok, built_out) = member(Some(&other_url));
    let (cloned_ok, cloned_out) = member(None);

    let digests = [
        template_digest_in(&built_out),
        template_digest_in(&cloned_out),
    ];
    rt.block_on(async {
        for d in digests.iter().flatten() {
            let template = only_database_like(&mut conn, &format!("dbtest\\_tpl\\_{d}")).await;
            drop_template(&mut conn, &template).await;
        }
        conn.execute(sql::raw_sql(&format!("DROP USER '{user}'@'%'")))
            .await
            .unwrap();
    });
    let _ = std::fs::remove_dir_all(&dir);

    assert!(built_ok, "the other user's run failed:\n{built_out}");
    assert!(
        cloned_ok,
        "this user's clone is not faithful:\n{cloned_out}"
    );
    assert!(
        digests[0].is_some() && digests[0] != digests[1],
        "the two accounts share a template: {digests:?}"
    );
    assert!(!cloned_out.contains(&password) && !built_out.contains(&password));
}

/// Events: copied with their definitions, but disabled, in the template and in every test
/// database, so that none runs under a test whatever the server's `event_scheduler`.
#[db_test(migrations = "tests/events/migrations")]
async fn events_are_copied_disabled(pool: MySqlPool) -> sqlx::Result<()> {
    let (clone, template) = names(&pool).await;
    let events = |db: String| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, (String, String, String, String)>(
                "SELECT CONVERT(EVENT_NAME USING utf8mb4), CONVERT(STATUS USING utf8mb4), \
                 CONVERT(CONCAT_WS(' ', INTERVAL_VALUE, INTERVAL_FIELD, ON_COMPLETION) USING utf8mb4), \
                 CONVERT(EVENT_DEFINITION USING utf8mb4) \
                 FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME",
            )
            .bind(db)
            .fetch_all(&pool)
            .await
        }
    };
    let in_clone = events(clone).await?;
    let in_template = events(template).await?;
    let names: Vec<&str> = in_clone.iter().map(|e| e.0.as_str()).collect();
    assert_eq!(names, ["e_later", "e_off", "e_tick"]);
    for (name, status, _, _) in in_clone.iter().chain(&in_template) {
        assert_eq!(status, "DISABLED", "event `{name}`");
    }
    // Everything else as the migration wrote it.
    let tick = &in_clone[2];
    assert_eq!(tick.2, "1 SECOND NOT PRESERVE");
    assert_eq!(tick.3, "INSERT INTO ticks () VALUES ()");
    assert_eq!(in_clone[0].2, "1 DAY PRESERVE");
    assert_eq!(in_clone, in_template);
    Ok(())
}
