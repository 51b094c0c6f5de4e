//! Invoices.
use sqlx::MySqlPool;

pub async fn unpaid_cents(pool: &MySqlPool, account: u64) -> sqlx::Result<i64> {
    let v: Option<i64> = sqlx::query_scalar(
        "SELECT CAST(unpaid_cents AS SIGNED) FROM unpaid_totals WHERE account_id = ?",
    )
    .bind(account)
    .fetch_optional(pool)
    .await?;
    Ok(v.unwrap_or(0))
}

pub async fn pay_all(pool: &MySqlPool, account: u64) -> sqlx::Result<u64> {
    Ok(
        sqlx::query("UPDATE invoices SET paid = 1 WHERE account_id = ?")
            .bind(account)
            .execute(pool)
            .await?
            .rows_affected(),
    )
}
