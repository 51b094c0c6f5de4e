//! The layers benchmark: tests that need 210 rows in 10 tables before their first assertion, on
//! the benchmark's 100-table schema, each written five ways (`bench_report` runs each group and
//! compares what a test costs):
//!
//! - `fixtures_*`: `fixtures("projects", "tasks", "catalogue")` (under `--features sqlx-test`,
//!   `#[sqlx::test]` with the same fixtures);
//! - `replayed_*`: the same three files run by the test's body, as `fixtures(...)` ran before
//!   derived templates;
//! - `setup_*`: `setup = "seed"`, a function writing the same rows one statement at a time;
//! - `seeded_in_body_*`: the body calls `seed` first, as a suite without `setup` does;
//! - `bare_*`: no rows at all, the cost of a bare `#[db_test]`.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use sqlx::MySqlPool;

#[cfg(not(feature = "sqlx-test"))]
use dbtest_runtime::db_test;
#[cfg(not(feature = "sqlx-test"))]
use dbtest_runtime::db_test as layers_test;
#[cfg(feature = "sqlx-test")]
use sqlx::test as layers_test;

const FILES: [&str; 3] = [
    include_str!("fixtures/projects.sql"),
    include_str!("fixtures/tasks.sql"),
    include_str!("fixtures/catalogue.sql"),
];

/// The application's seeding code: every row in its own statement, through the pool.
#[cfg_attr(feature = "sqlx-test", allow(dead_code))]
async fn seed(pool: MySqlPool) -> sqlx::Result<()> {
    for statement in FILES.iter().flat_map(|f| f.lines()) {
        if statement.starts_with("INSERT") {
            sqlx::query(statement).execute(&pool).await?;
        }
    }
    Ok(())
}

/// What every test of the seeded groups does: reads what the rows made, writes a task and a
/// comment, and checks them.
async fn scenario(pool: &MySqlPool, i: u64) -> sqlx::Result<()> {
    let (tasks, customers): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM tasks), (SELECT COUNT(*) FROM customers c JOIN contacts k ON k.customer_id = c.id)",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!((tasks, customers), (40, 20), "the seeded rows");
    let task =
        sqlx::query("INSERT INTO tasks (project_id, user_id, title) VALUES (?, 1, 'Review')")
            .bind(1 + i % 20)
            .execute(pool)
            .await?
            .last_insert_id();
    assert_eq!(task, 41, "the counter the rows left");
    sqlx::query("INSERT INTO task_comments (task_id, user_id, body) VALUES (?, 1, 'Looks good')")
        .bind(task)
        .execute(pool)
        .await?;
    let comments: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM task_comments")
        .fetch_one(pool)
        .await?;
    assert_eq!(comments, 31);
    Ok(())
}

/// Runs the three files, as `fixtures(...)` did on every test's database.
#[cfg_attr(feature = "sqlx-test", allow(dead_code))]
async fn replay(pool: &MySqlPool) -> sqlx::Result<()> {
    for file in FILES {
        sqlx::raw_sql(file).execute(pool).await?;
    }
    Ok(())
}

/// 16 tests of one group, `$name::t00` … `$name::t15`, each `#[$attr]` running `$body` with its
/// pool and its number.
macro_rules! group {
    (#[$attr:meta] $name:ident, |$pool:ident, $i:ident| $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            group!(@tests #[$attr] |$pool, $i| $body; t00 0, t01 1, t02 2, t03 3, t04 4, t05 5, t06 6,
                   t07 7, t08 8, t09 9, t10 10, t11 11, t12 12, t13 13, t14 14, t15 15);
        }
    };
    (@tests #[$attr:meta] |$pool:ident, $i:ident| $body:expr; $($test:ident $n:literal),*) => {
        $(
            #[$attr]
            async fn $test($pool: MySqlPool) -> sqlx::Result<()> {
                let $i: u64 = $n;
                $body
            }
        )*
    };
}

group!(
    #[layers_test(fixtures("projects", "tasks", "catalogue"))]
    fixtures,
    |pool, i| scenario(&pool, i).await
);

#[cfg(not(feature = "sqlx-test"))]
group!(
    #[db_test]
    replayed,
    |pool, i| {
        replay(&pool).await?;
        scenario(&pool, i).await
    }
);

#[cfg(not(feature = "sqlx-test"))]
group!(
    #[db_test(setup = "crate::seed")]
    setup,
    |pool, i| scenario(&pool, i).await
);

#[cfg(not(feature = "sqlx-test"))]
group!(
    #[db_test]
    seeded_in_body,
    |pool, i| {
        seed(pool.clone()).await?;
        scenario(&pool, i).await
    }
);

#[cfg(not(feature = "sqlx-test"))]
group!(
    #[db_test]
    bare,
    |pool, i| {
        let team = sqlx::query("INSERT INTO teams (organization_id, name) SELECT id, ? FROM organizations WHERE slug = 'default'")
        .bind(format!("Team {i}"))
        .execute(&pool)
        .await?
        .last_insert_id();
        assert_eq!(team, 1);
        Ok(())
    }
);
