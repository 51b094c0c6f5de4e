//! A clone is indistinguishable from its template: same definitions of every object, same rows,
//! same AUTO_INCREMENT counters; its views read its own tables; running the migrations on it again
//! does nothing.

use dbtest_runtime::db_test;
use dbtest_tests::{fingerprint, only_database_like};
use sqlx::MySqlPool;

const MIGRATIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fidelity/migrations");

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
    let (clone, template) = names(&pool).await;
    let mut conn = pool.acquire().await.unwrap();
    let want = fingerprint(&mut conn, &template).await;
    let got = fingerprint(&mut conn, &clone).await;

    // The fingerprint covers what the schema has, so an equal one means something.
    let count = |k: &str| want[k].len();
    assert_eq!(count("VIEWS"), 3);
    assert_eq!(count("TRIGGERS"), 3);
    assert_eq!(count("ROUTINES"), 2);
    assert_eq!(count("EVENTS"), 1);
    assert!(count("PARTITIONS") >= 3);
    assert_eq!(count("REFERENTIAL_CONSTRAINTS"), 2);
    assert!(
        want["ROWS"]
            .iter()
            .any(|r| r.starts_with("audit_log: ") && r.ends_with("rows 3")),
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
    let before: String = sqlx::query_scalar(&totals(Some(&template)))
        .fetch_one(&pool)
        .await?;

    // The procedure, both triggers and the views, all in the clone.
    sqlx::query("CALL add_child(3, 4)").execute(&pool).await?;
    let in_clone: String = sqlx::query_scalar(&totals(None)).fetch_one(&pool).await?;
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

    let after: String = sqlx::query_scalar(&totals(Some(&template)))
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
    let want = fingerprint(&mut conn, &template).await;
    let changes = [
        ("ROWS", "UPDATE lookup_myisam SET name = 'uno' WHERE id = 1"),
        ("TABLES", "ALTER TABLE child AUTO_INCREMENT = 5000"),
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
        sqlx::raw_sql(change).execute(&mut *conn).await?;
        let got = fingerprint(&mut conn, &clone).await;
        assert_ne!(got[what], want[what], "after `{change}`");
    }
    Ok(())
}
