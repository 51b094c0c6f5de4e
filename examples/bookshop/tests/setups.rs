//! Every way a bookshop test can ask for its database: each argument of the attribute and each
//! kind of parameter, one test each. Like `shop.rs`, these run under `#[db_test]`, or under
//! `#[sqlx::test]` with `--features sqlx-test`: the arguments mean the same under both.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use bookshop::*;
use sqlx::migrate::Migrator;
use sqlx::mysql::{MySqlConnectOptions, MySqlPoolOptions};
use sqlx::{Connection, MySqlPool};

#[cfg(not(feature = "sqlx-test"))]
use dbtest_runtime::db_test as shop_test;
#[cfg(feature = "sqlx-test")]
use sqlx::test as shop_test;

/// The migrations, embedded in the test binary (for `migrator = "MIGRATOR"`).
static MIGRATOR: Migrator = sqlx::migrate!(); // ./migrations

/// No parameter: a plain async test, no database (the formatting matches the generated column;
/// `price_in_euros_matches_the_formatting` below checks that against the server).
#[shop_test]
async fn euro_formatting() {
    assert_eq!(format_eur(1099), "10.99");
    assert_eq!(format_eur(2100), "21.00");
    assert_eq!(format_eur(5), "0.05");
}

/// No argument: the migrations in `./migrations`, as every test in `shop.rs` has them.
#[shop_test]
async fn price_in_euros_matches_the_formatting(pool: MySqlPool) -> sqlx::Result<()> {
    for id in 1..=4 {
        let book = book(&pool, id).await?.expect("seeded");
        assert_eq!(price_eur(&pool, id).await?, format_eur(book.price_cents));
    }
    Ok(())
}

/// `migrations = false`: an empty database — here, to check that the migrations apply to one
/// from scratch, as they do in production.
#[shop_test(migrations = false)]
async fn migrations_apply_to_an_empty_database(pool: MySqlPool) -> sqlx::Result<()> {
    let tables = || {
        sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
        )
        .fetch_one(&pool)
    };
    assert_eq!(tables().await?, 0);
    MIGRATOR.run(&pool).await?;
    // 9 tables, the view, and sqlx's own `_sqlx_migrations`.
    assert_eq!(tables().await?, 11);
    assert_eq!(category_slugs(&pool).await?.len(), 5);
    // Running them again does nothing.
    MIGRATOR.run(&pool).await?;
    assert_eq!(tables().await?, 11);
    Ok(())
}

/// `migrator = "MIGRATOR"` with `fixtures("customers")`: the embedded migrations, then
/// `fixtures/customers.sql` beside this file.
#[shop_test(migrator = "MIGRATOR", fixtures("customers"))]
async fn a_migrator_and_a_fixture(pool: MySqlPool) -> Result<(), ShopError> {
    let order = place_order(
        &pool,
        100,
        &[Line {
            book_id: 2,
            quantity: 1,
        }],
    )
    .await?;
    pay_order(&pool, order).await?;
    assert_eq!(sales_of(&pool, 2).await?, (1, 1599));
    Ok(())
}

/// `migrations = "./migrations"` (a directory, relative to Cargo.toml; sqlx wants the `./`) with a fixture given by its
/// path, relative to this file.
#[shop_test(migrations = "./migrations", fixtures("seeds/bestsellers.sql"))]
async fn a_fixture_by_path(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(sales_of(&pool, 1).await?, (8, 8 * 1099));
    assert_eq!(sales_of(&pool, 3).await?, (2, 2 * 1899));
    assert_eq!(book(&pool, 1).await?.expect("seeded").stock, 12 - 8);
    Ok(())
}

/// `fixtures(path = "seeds", scripts(…))`: several scripts from one directory, in order (the
/// reviews need the customer the first script adds).
#[shop_test(fixtures(path = "seeds", scripts("bestsellers", "reviews")))]
async fn fixtures_from_a_directory(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(average_rating(&pool, 1).await?, Some(5.0));
    assert_eq!(average_rating(&pool, 3).await?, Some(4.0));
    assert_eq!(average_rating(&pool, 2).await?, None);
    Ok(())
}

/// What `setup = "…"` names: the app's own code writing what several tests need (dbtest only:
/// `#[sqlx::test]` has no setup).
#[cfg(not(feature = "sqlx-test"))]
async fn a_new_author_and_her_books(pool: MySqlPool) -> sqlx::Result<()> {
    let author = add_author(&pool, "Octavia E. Butler", Some("US")).await?;
    for (title, isbn) in [
        ("Kindred", "9780807083697"),
        ("Parable of the Sower", "9781538732182"),
    ] {
        add_book(&pool, author, title, isbn, 1599, 3).await?;
    }
    Ok(())
}

/// `setup = "a_new_author_and_her_books"`: run once into a template of its own (under the
/// migrations' template), and cloned for every test that names it, instead of run in each.
#[cfg(not(feature = "sqlx-test"))]
#[dbtest_runtime::db_test(setup = "a_new_author_and_her_books")]
async fn a_setup_writes_through_the_apps_own_code(pool: MySqlPool) -> sqlx::Result<()> {
    let book = book_by_isbn(&pool, "9781538732182").await?.expect("set up");
    assert_eq!(
        (book.title.as_str(), book.stock),
        ("Parable of the Sower", 3)
    );
    Ok(())
}

/// `(MySqlPoolOptions, MySqlConnectOptions)`: the test builds its connections itself — here two,
/// to see that another connection does not see an order before it is committed.
#[shop_test(fixtures("customers"))]
async fn an_uncommitted_order_is_invisible(
    opts: MySqlPoolOptions,
    connect: MySqlConnectOptions,
) -> sqlx::Result<()> {
    let pool = opts
        .max_connections(1)
        .connect_with(connect.clone())
        .await?;
    let mut other = sqlx::MySqlConnection::connect_with(&connect).await?;
    let orders = "SELECT COUNT(*) FROM orders";

    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO orders (customer_id) VALUES (100)")
        .execute(&mut *tx)
        .await?;
    let seen: i64 = sqlx::query_scalar(orders).fetch_one(&mut other).await?;
    assert_eq!(seen, 0, "visible before the commit");
    tx.commit().await?;
    let seen: i64 = sqlx::query_scalar(orders).fetch_one(&mut other).await?;
    assert_eq!(seen, 1);

    other.close().await?;
    pool.close().await;
    Ok(())
}

/// `#[should_panic]` works as on any test: here a duplicate ISBN, unwrapped.
#[shop_test]
#[should_panic(expected = "Duplicate entry")]
async fn a_second_book_with_the_same_isbn_panics(pool: MySqlPool) {
    add_book(&pool, 1, "Earthsea again", "9780547773742", 999, 1)
        .await
        .unwrap();
}
