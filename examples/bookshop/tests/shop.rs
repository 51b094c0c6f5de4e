//! The bookshop's tests. Each runs on its own database, cloned from a template that the
//! migrations built once.
//!
//! `cargo test -p bookshop` runs them under `#[db_test]`; `cargo test -p bookshop --features
//! sqlx-test` runs the very same tests under `#[sqlx::test]`, for comparison.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use bookshop::*;
use sqlx::pool::PoolConnection;
use sqlx::{MySql, MySqlPool};

#[cfg(not(feature = "sqlx-test"))]
use dbtest_runtime::db_test as shop_test;
#[cfg(feature = "sqlx-test")]
use sqlx::test as shop_test;

#[shop_test]
async fn seed_categories_are_there(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(
        category_slugs(&pool).await?,
        ["children", "fiction", "history", "poetry", "science"]
    );
    Ok(())
}

#[shop_test]
async fn seed_catalogue_is_there(pool: MySqlPool) -> sqlx::Result<()> {
    let cosmos = book_by_isbn(&pool, "9780345539434").await?.expect("seeded");
    assert_eq!(
        (cosmos.id, cosmos.title.as_str(), cosmos.stock),
        (3, "Cosmos", 7)
    );
    Ok(())
}

#[shop_test]
async fn new_books_get_the_next_id(pool: MySqlPool) -> sqlx::Result<()> {
    let author = add_author(&pool, "Octavia E. Butler", Some("US")).await?;
    assert_eq!(author, 4, "the seed used ids 1 to 3");
    let book = add_book(&pool, author, "Kindred", "9780807083697", 1699, 5).await?;
    assert_eq!(book, 5, "the seed used ids 1 to 4");
    Ok(())
}

#[shop_test]
async fn isbn_is_unique(pool: MySqlPool) {
    let err = add_book(&pool, 1, "Copy", "9780547773742", 100, 1)
        .await
        .unwrap_err();
    let db = err.as_database_error().expect("a server error");
    assert_eq!(db.code().as_deref(), Some("23000"), "{db}");
}

#[shop_test]
async fn books_need_an_existing_author(pool: MySqlPool) {
    let err = add_book(&pool, 999, "Orphan", "9999999999999", 100, 1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("books_author"), "{err}");
}

#[shop_test]
async fn negative_prices_are_refused(pool: MySqlPool) {
    let err = add_book(&pool, 1, "Free money", "1111111111111", -5, 1)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("books_price_nonnegative"), "{err}");
}

#[shop_test]
async fn categories_list_cheapest_first(pool: MySqlPool) -> sqlx::Result<()> {
    let fiction = books_in_category(&pool, "fiction").await?;
    let titles: Vec<_> = fiction.iter().map(|b| b.title.as_str()).collect();
    assert_eq!(titles, ["A Wizard of Earthsea", "The Dispossessed"]);
    assert!(books_in_category(&pool, "poetry").await?.is_empty());
    Ok(())
}

#[shop_test]
async fn price_in_euros_is_generated(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(price_eur(&pool, 4).await?, "21.99");
    sqlx::query("UPDATE books SET price_cents = 2500 WHERE id = 4")
        .execute(&pool)
        .await?;
    assert_eq!(price_eur(&pool, 4).await?, "25.00");
    Ok(())
}

#[shop_test(fixtures("customers"))]
async fn customer_emails_are_stored_lowercase(pool: MySqlPool) -> sqlx::Result<()> {
    let id = register_customer(&pool, "Alan@Example.ORG", "Alan").await?;
    let email: String = sqlx::query_scalar("SELECT email FROM customers WHERE id = ?")
        .bind(id)
        .fetch_one(&pool)
        .await?;
    assert_eq!(email, "alan@example.org");
    assert!(
        register_customer(&pool, "ADA@example.org", "Ada again")
            .await
            .is_err(),
        "fixture's Ada"
    );
    Ok(())
}

#[shop_test(fixtures("customers"))]
async fn an_order_takes_books_out_of_stock(pool: MySqlPool) -> Result<(), ShopError> {
    place_order(
        &pool,
        100,
        &[
            Line {
                book_id: 1,
                quantity: 3,
            },
            Line {
                book_id: 3,
                quantity: 1,
            },
        ],
    )
    .await?;
    assert_eq!(book(&pool, 1).await?.unwrap().stock, 9);
    assert_eq!(book(&pool, 3).await?.unwrap().stock, 6);
    Ok(())
}

#[shop_test(fixtures("customers"))]
async fn the_trigger_records_stock_movements(pool: MySqlPool) -> Result<(), ShopError> {
    place_order(
        &pool,
        101,
        &[Line {
            book_id: 2,
            quantity: 2,
        }],
    )
    .await?;
    let moves: Vec<(u64, i32, String)> =
        sqlx::query_as("SELECT book_id, delta, reason FROM stock_movements ORDER BY id")
            .fetch_all(&pool)
            .await?;
    assert_eq!(moves, [(2, -2, "sale".to_owned())]);
    Ok(())
}

#[shop_test(fixtures("customers"))]
async fn an_order_beyond_stock_fails_and_leaves_nothing(pool: MySqlPool) -> sqlx::Result<()> {
    let err = place_order(
        &pool,
        100,
        &[
            Line {
                book_id: 1,
                quantity: 1,
            },
            Line {
                book_id: 4,
                quantity: 4,
            },
        ],
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            ShopError::NotEnoughStock {
                book_id: 4,
                wanted: 4,
                have: 3
            }
        ),
        "{err}"
    );
    let orders: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&pool)
        .await?;
    assert_eq!(orders, 0);
    assert_eq!(
        book(&pool, 1).await?.unwrap().stock,
        12,
        "rolled back with the order"
    );
    Ok(())
}

#[shop_test(fixtures("customers"))]
async fn unknown_books_cannot_be_ordered(pool: MySqlPool) {
    let err = place_order(
        &pool,
        100,
        &[Line {
            book_id: 77,
            quantity: 1,
        }],
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ShopError::UnknownBook(77)), "{err}");
}

#[shop_test(fixtures("customers", "orders"))]
async fn the_sales_view_counts_paid_orders_only(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(sales_of(&pool, 3).await?, (2, 2 * 1899));
    assert_eq!(sales_of(&pool, 1).await?, (1, 1099));
    assert_eq!(sales_of(&pool, 4).await?, (0, 0), "order 501 was cancelled");
    Ok(())
}

#[shop_test(fixtures("customers"))]
async fn cancelling_puts_books_back(pool: MySqlPool) -> Result<(), ShopError> {
    let order = place_order(
        &pool,
        100,
        &[Line {
            book_id: 3,
            quantity: 5,
        }],
    )
    .await?;
    assert_eq!(book(&pool, 3).await?.unwrap().stock, 2);
    cancel_order(&pool, order).await?;
    assert_eq!(book(&pool, 3).await?.unwrap().stock, 7);
    assert_eq!(sales_of(&pool, 3).await?, (0, 0));
    Ok(())
}

#[shop_test(fixtures("customers", "orders"))]
async fn paid_orders_cannot_be_cancelled(pool: MySqlPool) {
    assert!(matches!(
        cancel_order(&pool, 500).await,
        Err(ShopError::OrderNotOpen(500))
    ));
    assert!(matches!(
        pay_order(&pool, 500).await,
        Err(ShopError::OrderNotOpen(500))
    ));
}

#[shop_test(fixtures("customers"))]
async fn paying_an_order(pool: MySqlPool) -> Result<(), ShopError> {
    let order = place_order(
        &pool,
        101,
        &[Line {
            book_id: 2,
            quantity: 1,
        }],
    )
    .await?;
    pay_order(&pool, order).await?;
    let status: String = sqlx::query_scalar("SELECT CAST(status AS CHAR) FROM orders WHERE id = ?")
        .bind(order)
        .fetch_one(&pool)
        .await?;
    assert_eq!(status, "paid");
    Ok(())
}

#[shop_test]
async fn restocking_is_recorded(pool: MySqlPool) -> Result<(), ShopError> {
    restock(&pool, 4, 10).await?;
    assert_eq!(book(&pool, 4).await?.unwrap().stock, 13);
    let reason: String = sqlx::query_scalar("SELECT reason FROM stock_movements")
        .fetch_one(&pool)
        .await?;
    assert_eq!(reason, "restock");
    assert!(matches!(
        restock(&pool, 404, 1).await,
        Err(ShopError::UnknownBook(404))
    ));
    Ok(())
}

#[shop_test(fixtures("customers"))]
async fn reviews_average_and_limits(pool: MySqlPool) -> sqlx::Result<()> {
    assert_eq!(average_rating(&pool, 1).await?, None);
    add_review(&pool, 1, 100, 5, "Wonderful").await?;
    add_review(&pool, 1, 101, 4, "Good").await?;
    assert_eq!(average_rating(&pool, 1).await?, Some(4.5));
    assert!(
        add_review(&pool, 1, 100, 3, "Changed my mind")
            .await
            .is_err(),
        "one review per customer"
    );
    assert!(
        add_review(&pool, 2, 100, 9, "Off the scale").await.is_err(),
        "rating is 1 to 5"
    );
    Ok(())
}

#[shop_test(fixtures("customers"))]
async fn deleting_a_customer_removes_their_reviews(pool: MySqlPool) -> sqlx::Result<()> {
    add_review(&pool, 3, 101, 5, "Stars").await?;
    sqlx::query("DELETE FROM customers WHERE id = 101")
        .execute(&pool)
        .await?;
    let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM reviews")
        .fetch_one(&pool)
        .await?;
    assert_eq!(left, 0);
    Ok(())
}

#[shop_test]
async fn a_single_connection_works_too(mut conn: PoolConnection<MySql>) -> sqlx::Result<()> {
    sqlx::query("INSERT INTO authors (name) VALUES ('Anonymous')")
        .execute(&mut *conn)
        .await?;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM authors")
        .fetch_one(&mut *conn)
        .await?;
    assert_eq!(n, 4);
    Ok(())
}

#[shop_test]
async fn every_test_starts_from_the_same_state(pool: MySqlPool) -> sqlx::Result<()> {
    // Other tests add authors, orders and reviews; none of it is visible here.
    let counts: (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM authors), (SELECT COUNT(*) FROM books), \
         (SELECT COUNT(*) FROM orders), (SELECT COUNT(*) FROM stock_movements)",
    )
    .fetch_one(&pool)
    .await?;
    assert_eq!(counts, (3, 4, 0, 0));
    Ok(())
}

#[shop_test]
async fn concurrent_orders_never_oversell(pool: MySqlPool) -> sqlx::Result<()> {
    register_customer(&pool, "a@example.org", "A").await?;
    // Book 4 has 3 copies; five buyers want one each, at once.
    let buyers = (0..5).map(|_| {
        let pool = pool.clone();
        async move {
            place_order(
                &pool,
                1,
                &[Line {
                    book_id: 4,
                    quantity: 1,
                }],
            )
            .await
        }
    });
    let results = futures_join_all(buyers).await;
    let sold = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(sold, 3, "{results:?}");
    assert_eq!(book(&pool, 4).await?.unwrap().stock, 0);
    Ok(())
}

/// Runs futures concurrently on the current task (a few lines instead of a dependency).
async fn futures_join_all<F: std::future::Future>(
    futures: impl IntoIterator<Item = F>,
) -> Vec<F::Output> {
    let futures: Vec<_> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = futures.iter().map(|_| None).collect();
    let mut pending = futures;
    std::future::poll_fn(move |cx| {
        let mut all_done = true;
        for (i, fut) in pending.iter_mut().enumerate() {
            if outputs[i].is_none() {
                match fut.as_mut().poll(cx) {
                    std::task::Poll::Ready(out) => outputs[i] = Some(out),
                    std::task::Poll::Pending => all_done = false,
                }
            }
        }
        if all_done {
            std::task::Poll::Ready(outputs.iter_mut().map(|o| o.take().unwrap()).collect())
        } else {
            std::task::Poll::Pending
        }
    })
    .await
}
