//! Reports over accounts and invoices.
use sqlx::MySqlPool;

pub async fn accounts_with_debt(pool: &MySqlPool) -> sqlx::Result<i64> {
    sqlx::query_scalar("SELECT COUNT(*) FROM unpaid_totals WHERE unpaid_cents > 0")
        .fetch_one(pool)
        .await
}
