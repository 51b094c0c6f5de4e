//! The few places where sqlx 0.8 and 0.9 differ for what dbtest does, so the rest of the crate
//! is written once; and how dbtest reads what the server answers (any text column, an error's
//! number).
//!
//! sqlx 0.9 takes SQL text that is not a `&'static str` only through `AssertSqlSafe`, the caller's
//! promise that no untrusted input is in it. dbtest's dynamic SQL is built from names dbtest makes
//! itself and from the server's own answers (`SHOW CREATE TABLE`, `information_schema`), with
//! identifiers quoted by `snapshot::ident` and string values by `db::quote` or bound as
//! parameters; these functions are where that promise is made, and the only places.

use sqlx::mysql::{MySql, MySqlArguments, MySqlRow};
use sqlx::query::{Query, QueryScalar};
use sqlx::Row;

/// `sqlx::query` for SQL text built at run time.
pub fn query(sql: &str) -> Query<'_, MySql, MySqlArguments> {
    #[cfg(feature = "sqlx-0_9")]
    return sqlx::query(sqlx::AssertSqlSafe(sql));
    #[cfg(not(feature = "sqlx-0_9"))]
    return sqlx::query(sql);
}

/// `sqlx::query_scalar` for SQL text built at run time.
pub fn query_scalar<O>(sql: &str) -> QueryScalar<'_, MySql, O, MySqlArguments>
where
    (O,): for<'r> sqlx::FromRow<'r, sqlx::mysql::MySqlRow>,
{
    #[cfg(feature = "sqlx-0_9")]
    return sqlx::query_scalar(sqlx::AssertSqlSafe(sql));
    #[cfg(not(feature = "sqlx-0_9"))]
    return sqlx::query_scalar(sql);
}

/// `sqlx::raw_sql` for SQL text built at run time: several statements in one request.
#[cfg(feature = "sqlx-0_9")]
pub fn raw_sql(sql: &str) -> sqlx::RawSql {
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
}

/// `sqlx::raw_sql` for SQL text built at run time: several statements in one request.
#[cfg(not(feature = "sqlx-0_9"))]
pub fn raw_sql(sql: &str) -> sqlx::RawSql<'_> {
    sqlx::raw_sql(sql)
}

/// Reads column `index` of `row` as text, whatever string or binary type the server chose for it.
pub(crate) fn text(row: &MySqlRow, index: usize) -> Result<Option<String>, sqlx::Error> {
    let bytes: Option<Vec<u8>> = row.try_get_unchecked(index)?;
    Ok(bytes.map(|b| String::from_utf8_lossy(&b).into_owned()))
}

/// The MySQL error code of `e`, if it is a server error.
pub(crate) fn server_code(e: &sqlx::Error) -> Option<u16> {
    e.as_database_error()
        .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .map(|d| d.number())
}
