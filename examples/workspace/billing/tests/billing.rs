use dbtest_runtime::db_test;
use sqlx::MySqlPool;

#[db_test(fixtures("alice"))]
async fn alice_owes_forty(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(billing::unpaid_cents(&pool, 100).await?, 4000);
    Ok(())
}

#[db_test(fixtures("alice"))]
async fn paying_clears_the_debt(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(billing::pay_all(&pool, 100).await?, 2);
    assert_eq!(billing::unpaid_cents(&pool, 100).await?, 0);
    Ok(())
}
