//! A small bookshop data layer: the application whose tests show `#[db_test]` at work.
//!
//! Its schema (`migrations/`) has foreign keys, CHECK constraints, a generated column, a view
//! (`book_sales`), a trigger (`order_items_take_stock`) and seed rows (categories and a starting
//! catalogue).

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use sqlx::{MySql, MySqlPool, Row, Transaction};

/// A book in the catalogue.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Book {
    pub id: u64,
    pub author_id: u64,
    pub title: String,
    pub isbn: String,
    pub price_cents: i32,
    pub stock: i32,
}

/// One line of an order.
#[derive(Debug, Clone, Copy)]
pub struct Line {
    pub book_id: u64,
    pub quantity: i32,
}

/// What can go wrong in the shop.
#[derive(Debug)]
pub enum ShopError {
    NotEnoughStock {
        book_id: u64,
        wanted: i32,
        have: i32,
    },
    UnknownBook(u64),
    OrderNotOpen(u64),
    Db(sqlx::Error),
}

impl From<sqlx::Error> for ShopError {
    fn from(e: sqlx::Error) -> Self {
        ShopError::Db(e)
    }
}

impl std::fmt::Display for ShopError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for ShopError {}

/// The columns of a [`Book`], as a literal so that queries stay `&'static str` (`concat!`).
macro_rules! book_columns {
    () => {
        "id, author_id, title, isbn, price_cents, stock"
    };
}

pub async fn add_author(pool: &MySqlPool, name: &str, country: Option<&str>) -> sqlx::Result<u64> {
    let done = sqlx::query("INSERT INTO authors (name, country) VALUES (?, ?)")
        .bind(name)
        .bind(country)
        .execute(pool)
        .await?;
    Ok(done.last_insert_id())
}

pub async fn add_book(
    pool: &MySqlPool,
    author_id: u64,
    title: &str,
    isbn: &str,
    price_cents: i32,
    stock: i32,
) -> sqlx::Result<u64> {
    let done = sqlx::query(
        "INSERT INTO books (author_id, title, isbn, price_cents, stock) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(author_id)
    .bind(title)
    .bind(isbn)
    .bind(price_cents)
    .bind(stock)
    .execute(pool)
    .await?;
    Ok(done.last_insert_id())
}

pub async fn book_by_isbn(pool: &MySqlPool, isbn: &str) -> sqlx::Result<Option<Book>> {
    sqlx::query_as(concat!(
        "SELECT ",
        book_columns!(),
        " FROM books WHERE isbn = ?"
    ))
    .bind(isbn)
    .fetch_optional(pool)
    .await
}

pub async fn book(pool: &MySqlPool, id: u64) -> sqlx::Result<Option<Book>> {
    sqlx::query_as(concat!(
        "SELECT ",
        book_columns!(),
        " FROM books WHERE id = ?"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await
}

/// Books of a category, cheapest first.
pub async fn books_in_category(pool: &MySqlPool, slug: &str) -> sqlx::Result<Vec<Book>> {
    sqlx::query_as(
        "SELECT b.id, b.author_id, b.title, b.isbn, b.price_cents, b.stock \
         FROM books b JOIN book_categories bc ON bc.book_id = b.id \
         JOIN categories c ON c.id = bc.category_id WHERE c.slug = ? ORDER BY b.price_cents, b.id",
    )
    .bind(slug)
    .fetch_all(pool)
    .await
}

pub async fn category_slugs(pool: &MySqlPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar("SELECT slug FROM categories ORDER BY slug")
        .fetch_all(pool)
        .await
}

pub async fn register_customer(pool: &MySqlPool, email: &str, name: &str) -> sqlx::Result<u64> {
    let done = sqlx::query("INSERT INTO customers (email, name) VALUES (LOWER(?), ?)")
        .bind(email)
        .bind(name)
        .execute(pool)
        .await?;
    Ok(done.last_insert_id())
}

/// Places an order in one transaction; fails without a trace when any line lacks stock.
pub async fn place_order(
    pool: &MySqlPool,
    customer_id: u64,
    lines: &[Line],
) -> Result<u64, ShopError> {
    let mut tx = pool.begin().await?;
    let order_id = sqlx::query("INSERT INTO orders (customer_id) VALUES (?)")
        .bind(customer_id)
        .execute(&mut *tx)
        .await?
        .last_insert_id();
    for line in lines {
        let row = sqlx::query("SELECT price_cents, stock FROM books WHERE id = ? FOR UPDATE")
            .bind(line.book_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(ShopError::UnknownBook(line.book_id))?;
        let (price, stock): (i32, i32) = (row.get(0), row.get(1));
        if stock < line.quantity {
            return Err(ShopError::NotEnoughStock {
                book_id: line.book_id,
                wanted: line.quantity,
                have: stock,
            });
        }
        // The trigger takes the books out of stock.
        sqlx::query("INSERT INTO order_items (order_id, book_id, quantity, unit_price_cents) VALUES (?, ?, ?, ?)")
            .bind(order_id)
            .bind(line.book_id)
            .bind(line.quantity)
            .bind(price)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(order_id)
}

async fn order_status(tx: &mut Transaction<'_, MySql>, order_id: u64) -> Result<String, ShopError> {
    let status: Option<String> =
        sqlx::query_scalar("SELECT CAST(status AS CHAR) FROM orders WHERE id = ? FOR UPDATE")
            .bind(order_id)
            .fetch_optional(&mut **tx)
            .await?;
    status.ok_or(ShopError::OrderNotOpen(order_id))
}

pub async fn pay_order(pool: &MySqlPool, order_id: u64) -> Result<(), ShopError> {
    let mut tx = pool.begin().await?;
    if order_status(&mut tx, order_id).await? != "open" {
        return Err(ShopError::OrderNotOpen(order_id));
    }
    sqlx::query("UPDATE orders SET status = 'paid' WHERE id = ?")
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Cancels an open order and puts its books back in stock.
pub async fn cancel_order(pool: &MySqlPool, order_id: u64) -> Result<(), ShopError> {
    let mut tx = pool.begin().await?;
    if order_status(&mut tx, order_id).await? != "open" {
        return Err(ShopError::OrderNotOpen(order_id));
    }
    sqlx::query(
        "UPDATE books b JOIN order_items oi ON oi.book_id = b.id SET b.stock = b.stock + oi.quantity \
         WHERE oi.order_id = ?",
    )
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO stock_movements (book_id, delta, reason) \
         SELECT book_id, quantity, 'cancel' FROM order_items WHERE order_id = ?",
    )
    .bind(order_id)
    .execute(&mut *tx)
    .await?;
    sqlx::query("UPDATE orders SET status = 'cancelled' WHERE id = ?")
        .bind(order_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn restock(pool: &MySqlPool, book_id: u64, quantity: i32) -> Result<(), ShopError> {
    let mut tx = pool.begin().await?;
    let changed = sqlx::query("UPDATE books SET stock = stock + ? WHERE id = ?")
        .bind(quantity)
        .bind(book_id)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if changed == 0 {
        return Err(ShopError::UnknownBook(book_id));
    }
    sqlx::query("INSERT INTO stock_movements (book_id, delta, reason) VALUES (?, ?, 'restock')")
        .bind(book_id)
        .bind(quantity)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Units sold and revenue of a book, from the `book_sales` view (cancelled orders excluded).
pub async fn sales_of(pool: &MySqlPool, book_id: u64) -> sqlx::Result<(i64, i64)> {
    let row = sqlx::query(
        "SELECT CAST(units_sold AS SIGNED), CAST(revenue_cents AS SIGNED) FROM book_sales WHERE book_id = ?",
    )
    .bind(book_id)
    .fetch_one(pool)
    .await?;
    Ok((row.get(0), row.get(1)))
}

pub async fn add_review(
    pool: &MySqlPool,
    book_id: u64,
    customer_id: u64,
    rating: i8,
    body: &str,
) -> sqlx::Result<u64> {
    let done =
        sqlx::query("INSERT INTO reviews (book_id, customer_id, rating, body) VALUES (?, ?, ?, ?)")
            .bind(book_id)
            .bind(customer_id)
            .bind(rating)
            .bind(body)
            .execute(pool)
            .await?;
    Ok(done.last_insert_id())
}

/// Average rating of a book, if it has reviews.
pub async fn average_rating(pool: &MySqlPool, book_id: u64) -> sqlx::Result<Option<f64>> {
    sqlx::query_scalar("SELECT CAST(AVG(rating) AS DOUBLE) FROM reviews WHERE book_id = ?")
        .bind(book_id)
        .fetch_one(pool)
        .await
}

/// A price in cents as euros, like "10.99" (the format of the `price_eur` column).
pub fn format_eur(cents: i32) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Price in euros as the generated column computes it, as a string like "10.99".
pub async fn price_eur(pool: &MySqlPool, book_id: u64) -> sqlx::Result<String> {
    sqlx::query_scalar("SELECT CAST(price_eur AS CHAR) FROM books WHERE id = ?")
        .bind(book_id)
        .fetch_one(pool)
        .await
}
