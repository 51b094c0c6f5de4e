use dbtest_runtime::db_test;
use sqlx::MySqlPool;

#[db_test]
async fn nobody_owes_anything_at_first(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(reports::accounts_with_debt(&pool).await?, 0);
    Ok(())
}

#[db_test(fixtures("alice"))]
async fn alice_shows_up(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(reports::accounts_with_debt(&pool).await?, 1);
    Ok(())
}
