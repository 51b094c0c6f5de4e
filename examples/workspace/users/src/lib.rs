//! Accounts.
use sqlx::MySqlPool;

pub async fn sign_up(pool: &MySqlPool, email: &str) -> sqlx::Result<u64> {
    Ok(sqlx::query("INSERT INTO accounts (email) VALUES (?)")
        .bind(email)
        .execute(pool)
        .await?
        .last_insert_id())
}

pub async fn plan_of(pool: &MySqlPool, email: &str) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT plan FROM accounts WHERE email = ?")
        .bind(email)
        .fetch_one(pool)
        .await
}
