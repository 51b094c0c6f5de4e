// No path anywhere: the workspace's Cargo.toml says where the migrations and fixtures are.
use dbtest_runtime::db_test;
use sqlx::MySqlPool;

#[db_test]
async fn the_seeded_founder_is_on_pro(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(users::plan_of(&pool, "founder@example.org").await?, "pro");
    Ok(())
}

#[db_test]
async fn sign_up_starts_free(pool: MySqlPool) -> sqlx::Result<()> {
    users::sign_up(&pool, "new@example.org").await?;
    assert_eq!(users::plan_of(&pool, "new@example.org").await?, "free");
    // pool_size = 2 from the workspace's Cargo.toml.
    assert_eq!(pool.options().get_max_connections(), 2);
    Ok(())
}
