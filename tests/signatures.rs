//! Every parameter form, return form and argument form `#[db_test]` accepts, against the server.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use dbtest_runtime::db_test;
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{MySql, MySqlPool};

static MIGRATOR: Migrator = sqlx::migrate!("tests/simple/migrations");

async fn notes(pool: &MySqlPool) -> Vec<String> {
    sqlx::query_scalar("SELECT body FROM notes ORDER BY id")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[db_test(migrations = "tests/simple/migrations")]
async fn pool_parameter(pool: MySqlPool) {
    assert_eq!(notes(&pool).await, ["from the migration"]);
    // The pool is bounded: DBTEST_POOL_SIZE, 5 unless set.
    let expected = std::env::var("DBTEST_POOL_SIZE")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    assert_eq!(pool.options().get_max_connections(), expected);
}

#[db_test(migrator = "MIGRATOR")]
async fn static_migrator_and_one_connection(mut conn: PoolConnection<MySql>) -> sqlx::Result<()> {
    let body: String = sqlx::query_scalar("SELECT body FROM notes")
        .fetch_one(&mut *conn)
        .await?;
    assert_eq!(body, "from the migration");
    Ok(())
}

#[db_test(migrations = "tests/simple/migrations")]
async fn options_parameters(
    opts: MySqlPoolOptions,
    connect: MySqlConnectOptions,
) -> sqlx::Result<()> {
    let db = connect
        .get_database()
        .expect("names the test database")
        .to_owned();
    assert!(db.starts_with("dbtest_db_"), "{db}");
    let pool = opts.max_connections(1).connect_with(connect).await?;
    assert_eq!(notes(&pool).await, ["from the migration"]);
    pool.close().await;
    Ok(())
}

#[db_test(migrations = false)]
async fn no_migrations_is_an_empty_database(pool: MySqlPool) -> sqlx::Result<()> {
    let tables: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(tables, 0);
    Ok(())
}

#[db_test(migrations = "tests/simple/migrations", fixtures("one_note"))]
async fn fixture_by_name(pool: MySqlPool) {
    assert_eq!(
        notes(&pool).await,
        ["from the migration", "from fixtures/one_note.sql"]
    );
}

#[db_test(
    migrations = "tests/simple/migrations",
    fixtures("data/two_notes.sql", "fixtures/one_note.sql")
)]
async fn fixtures_by_path_in_order(pool: MySqlPool) {
    assert_eq!(
        notes(&pool).await,
        [
            "from the migration",
            "from data/two_notes.sql 1",
            "from data/two_notes.sql 2",
            "from fixtures/one_note.sql"
        ]
    );
}

#[db_test(
    migrations = "tests/simple/migrations",
    fixtures(path = "data", scripts("two_notes"))
)]
async fn fixtures_by_path_and_scripts(pool: MySqlPool) {
    assert_eq!(
        notes(&pool).await,
        [
            "from the migration",
            "from data/two_notes.sql 1",
            "from data/two_notes.sql 2"
        ]
    );
}

#[db_test]
#[should_panic(expected = "the body of a plain async test runs")]
async fn no_parameters_is_a_plain_async_test() {
    tokio::task::yield_now().await;
    panic!("the body of a plain async test runs");
}

#[db_test(migrations = false)]
#[should_panic(expected = "expected failure")]
async fn should_panic_works(_pool: MySqlPool) {
    panic!("expected failure");
}

#[db_test(migrations = "tests/simple/migrations")]
async fn databases_are_private(pool: MySqlPool) -> sqlx::Result<()> {
    // Written here, seen nowhere else: every test of this migration set sees only the migration's
    // row, whichever database it gets (`background::a_test_waits_for_a_database_being_reset_rather_than_cloning`
    // hands one test's database to the next for certain).
    let notes: Vec<String> = sqlx::query_scalar("SELECT body FROM notes")
        .fetch_all(&pool)
        .await?;
    assert_eq!(notes, ["from the migration"]);
    sqlx::query("INSERT INTO notes (body) VALUES ('private')")
        .execute(&pool)
        .await?;
    let db: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(&pool)
        .await?;
    assert!(db.starts_with("dbtest_db_"), "{db}");
    Ok(())
}
