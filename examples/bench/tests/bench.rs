//! The benchmark's tests: each reads seed data and writes a few rows, as a typical data-layer test
//! does. `#[db_test]` by default; `--features sqlx-test` runs the same tests under `#[sqlx::test]`.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use sqlx::{MySqlPool, Row};

#[cfg(not(feature = "sqlx-test"))]
use dbtest_runtime::db_test as bench_test;
#[cfg(feature = "sqlx-test")]
use sqlx::test as bench_test;

/// Reads the seed data every test relies on; returns the default organization's id.
async fn seed(pool: &MySqlPool) -> sqlx::Result<u64> {
    let row = sqlx::query(
        "SELECT (SELECT COUNT(*) FROM countries), (SELECT COUNT(*) FROM roles), \
         (SELECT id FROM organizations WHERE slug = 'default'), \
         (SELECT CONVERT(value USING utf8mb4) FROM settings WHERE name = 'invoice.prefix')",
    )
    .fetch_one(pool)
    .await?;
    assert_eq!(row.get::<i64, _>(0), 20);
    assert_eq!(row.get::<i64, _>(1), 4);
    assert_eq!(row.get::<String, _>(3), "INV-");
    Ok(row.get::<u64, _>(2))
}

async fn scenario(pool: &MySqlPool, kind: u32) -> sqlx::Result<()> {
    let org = seed(pool).await?;
    match kind % 5 {
        0 => {
            let project =
                sqlx::query("INSERT INTO projects (organization_id, name) VALUES (?, 'Launch')")
                    .bind(org)
                    .execute(pool)
                    .await?
                    .last_insert_id();
            for title in ["Plan", "Build", "Ship"] {
                sqlx::query("INSERT INTO tasks (project_id, user_id, title) VALUES (?, 1, ?)")
                    .bind(project)
                    .bind(title)
                    .execute(pool)
                    .await?;
            }
            let tasks: i64 =
                sqlx::query_scalar("SELECT tasks FROM project_task_counts WHERE project_id = ?")
                    .bind(project)
                    .fetch_one(pool)
                    .await?;
            assert_eq!(tasks, 3);
        }
        1 => {
            let customer = sqlx::query(
                "INSERT INTO customers (organization_id, country_id, name) VALUES (?, 1, 'Acme')",
            )
            .bind(org)
            .execute(pool)
            .await?
            .last_insert_id();
            let product = sqlx::query(
                "INSERT INTO products (organization_id, sku, name) VALUES (?, 'SKU-1', 'Widget')",
            )
            .bind(org)
            .execute(pool)
            .await?
            .last_insert_id();
            let order = sqlx::query("INSERT INTO orders (customer_id, currency_id) VALUES (?, 1)")
                .bind(customer)
                .execute(pool)
                .await?
                .last_insert_id();
            for qty in [2, 3] {
                sqlx::query("INSERT INTO order_lines (order_id, product_id, quantity, unit_cents) VALUES (?, ?, ?, 250)")
                    .bind(order)
                    .bind(product)
                    .bind(qty)
                    .execute(pool)
                    .await?;
            }
            let total: i64 = sqlx::query_scalar("SELECT total_cents FROM orders WHERE id = ?")
                .bind(order)
                .fetch_one(pool)
                .await?;
            assert_eq!(total, 1250, "the trigger keeps order totals");
        }
        2 => {
            let product = sqlx::query(
                "INSERT INTO products (organization_id, sku, name) VALUES (?, 'SKU-2', 'Gadget')",
            )
            .bind(org)
            .execute(pool)
            .await?
            .last_insert_id();
            sqlx::query("INSERT INTO product_prices (product_id, currency_id, amount_cents) VALUES (?, 1, 999), (?, 2, 899)")
                .bind(product)
                .bind(product)
                .execute(pool)
                .await?;
            sqlx::query("INSERT INTO stock_levels (product_id, warehouse_id, quantity) SELECT ?, id, 10 FROM warehouses")
                .bind(product)
                .execute(pool)
                .await?;
            let stock: i64 = sqlx::query_scalar(
                "SELECT CAST(SUM(quantity) AS SIGNED) FROM stock_levels WHERE product_id = ?",
            )
            .bind(product)
            .fetch_one(pool)
            .await?;
            assert_eq!(stock, 30);
        }
        3 => {
            let team = sqlx::query("INSERT INTO teams (organization_id, name) VALUES (?, 'Core')")
                .bind(org)
                .execute(pool)
                .await?
                .last_insert_id();
            sqlx::query("INSERT INTO team_members (team_id, user_id, lead) VALUES (?, 1, 1)")
                .bind(team)
                .execute(pool)
                .await?;
            sqlx::query("INSERT INTO audit_events (organization_id, user_id, action) VALUES (?, 1, 'team.created')")
                .bind(org)
                .execute(pool)
                .await?;
            let perms: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM role_permissions rp JOIN roles r ON r.id = rp.role_id WHERE r.name = 'member'",
            )
            .fetch_one(pool)
            .await?;
            assert!(perms > 0);
        }
        _ => {
            sqlx::query("UPDATE settings SET value = '2000' WHERE name = 'invoice.next'")
                .execute(pool)
                .await?;
            sqlx::query(
                "UPDATE feature_flags SET enabled = 1 - enabled WHERE name = 'beta_reports'",
            )
            .execute(pool)
            .await?;
            sqlx::query(
                "INSERT INTO notifications (user_id, message) VALUES (1, 'settings changed')",
            )
            .execute(pool)
            .await?;
        }
    }
    Ok(())
}

macro_rules! bench_tests {
    ($($name:ident => $kind:expr),* $(,)?) => {
        $(
            #[bench_test]
            async fn $name(pool: MySqlPool) -> sqlx::Result<()> {
                scenario(&pool, $kind).await
            }
        )*
    };
}

bench_tests! {
    t00 => 0, t01 => 1, t02 => 2, t03 => 3, t04 => 4, t05 => 0, t06 => 1, t07 => 2,
    t08 => 3, t09 => 4, t10 => 0, t11 => 1, t12 => 2, t13 => 3, t14 => 4, t15 => 0,
    t16 => 1, t17 => 2, t18 => 3, t19 => 4, t20 => 0, t21 => 1, t22 => 2, t23 => 3,
}
