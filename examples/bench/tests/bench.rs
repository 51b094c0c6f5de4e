//! The benchmark's tests: each reads seed data and writes a few rows, as a typical data-layer test
//! does. `#[db_test]` by default; `--features sqlx-test` runs the same tests under `#[sqlx::test]`;
//! `--features floor` runs their bodies alone, each on a database made for it beforehand
//! (`bench_report` makes them), with no tool at all: what no tool can beat on this machine.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use sqlx::{MySqlPool, Row};

#[cfg(not(any(feature = "sqlx-test", feature = "floor")))]
use dbtest_runtime::db_test as bench_test;
#[cfg(all(feature = "sqlx-test", not(feature = "floor")))]
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
    match kind % 8 {
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
        5 => {
            // Accounting: a journal entry posted to two accounts of the seeded chart.
            let year = sqlx::query(
                "INSERT INTO fiscal_years (organization_id, starts_on, ends_on) VALUES (?, '2026-01-01', '2026-12-31')",
            )
            .bind(org)
            .execute(pool)
            .await?
            .last_insert_id();
            let journal = sqlx::query(
                "INSERT INTO journals (organization_id, code, name) VALUES (?, 'GEN', 'General')",
            )
            .bind(org)
            .execute(pool)
            .await?
            .last_insert_id();
            let entry = sqlx::query(
                "INSERT INTO journal_entries (journal_id, fiscal_year_id, user_id, posted_on) VALUES (?, ?, 1, '2026-03-01')",
            )
            .bind(journal)
            .bind(year)
            .execute(pool)
            .await?
            .last_insert_id();
            sqlx::query(
                "INSERT INTO journal_lines (journal_entry_id, account_id, debit_cents, credit_cents) \
                 SELECT ?, id, IF(code = '1000', 5000, 0), IF(code = '4000', 5000, 0) FROM accounts \
                 WHERE code IN ('1000', '4000')",
            )
            .bind(entry)
            .execute(pool)
            .await?;
            let memo: String = sqlx::query_scalar(
                "SELECT CONVERT(memo USING utf8mb4) FROM journal_entries WHERE id = ?",
            )
            .bind(entry)
            .fetch_one(pool)
            .await?;
            assert_eq!(memo, "posted", "the trigger marks posted entries");
        }
        6 => {
            // Support: a ticket with a message, then its subject edited.
            let queue =
                sqlx::query("INSERT INTO ticket_queues (organization_id, name) VALUES (?, 'Help')")
                    .bind(org)
                    .execute(pool)
                    .await?
                    .last_insert_id();
            let ticket = sqlx::query(
                "INSERT INTO tickets (ticket_queue_id, user_id, subject) VALUES (?, 1, 'Login fails')",
            )
            .bind(queue)
            .execute(pool)
            .await?
            .last_insert_id();
            sqlx::query(
                "INSERT INTO ticket_messages (ticket_id, user_id, body) VALUES (?, 1, 'Since today')",
            )
            .bind(ticket)
            .execute(pool)
            .await?;
            sqlx::query("UPDATE tickets SET subject = '  Login fails on SSO  ' WHERE id = ?")
                .bind(ticket)
                .execute(pool)
                .await?;
            let subject: String = sqlx::query_scalar(
                "SELECT CONVERT(subject USING utf8mb4) FROM tickets WHERE id = ?",
            )
            .bind(ticket)
            .fetch_one(pool)
            .await?;
            assert_eq!(subject, "Login fails on SSO");
        }
        7 => {
            // CRM: a lead, and a stage of the seeded pipeline.
            sqlx::query(
                "INSERT INTO leads (organization_id, user_id, email, score) VALUES (?, 1, 'lead@example.org', -5)",
            )
            .bind(org)
            .execute(pool)
            .await?;
            let (score, stages): (i64, i64) = sqlx::query_as(
                "SELECT (SELECT score FROM leads WHERE email = 'lead@example.org'), \
                 (SELECT COUNT(*) FROM opportunity_stages)",
            )
            .fetch_one(pool)
            .await?;
            assert_eq!((score, stages), (0, 5), "the trigger floors scores at 0");
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

#[cfg(not(feature = "floor"))]
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

#[cfg(feature = "floor")]
macro_rules! bench_tests {
    ($($name:ident => $kind:expr),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                floor(stringify!($name), $kind);
            }
        )*
    };
}

/// The body of test `name` alone, as `#[db_test]` runs it (a runtime of its own, a pool of at most
/// five connections made on first use, closed at the end), on database `benchfloor_<name>` of
/// the server `BENCH_FLOOR_URL` names, made for it beforehand.
#[cfg(feature = "floor")]
fn floor(name: &str, kind: u32) {
    use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
    let url = std::env::var("BENCH_FLOOR_URL").expect("BENCH_FLOOR_URL: the server's URL");
    let options: MySqlConnectOptions = url.parse().expect("BENCH_FLOOR_URL");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let pool = MySqlPoolOptions::new()
            .max_connections(5)
            .connect_lazy_with(options.database(&format!("benchfloor_{name}")));
        scenario(&pool, kind).await.unwrap();
        pool.close().await;
    });
}

bench_tests! {
    t00 => 0, t01 => 1, t02 => 2, t03 => 3, t04 => 4, t05 => 5, t06 => 6, t07 => 7,
    t08 => 0, t09 => 1, t10 => 2, t11 => 3, t12 => 4, t13 => 5, t14 => 6, t15 => 7,
    t16 => 0, t17 => 1, t18 => 2, t19 => 3, t20 => 4, t21 => 5, t22 => 6, t23 => 7,
    t24 => 0, t25 => 1, t26 => 2, t27 => 3, t28 => 4, t29 => 5, t30 => 6, t31 => 7,
    t32 => 0, t33 => 1, t34 => 2, t35 => 3, t36 => 4, t37 => 5, t38 => 6, t39 => 7,
    t40 => 0, t41 => 1, t42 => 2, t43 => 3, t44 => 4, t45 => 5, t46 => 6, t47 => 7,
}
