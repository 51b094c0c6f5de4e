//! Putting a finished test's database back to its template's state, so it can go back to the
//! warm pool instead of being dropped: only the tables whose rows or AUTO_INCREMENT counter differ
//! from the template's are touched, and the result is verified. A database whose schema differs
//! (the test ran DDL), or that cannot be proven clean, is not reset: the caller drops it.
//!
//! "The template's state" is recorded once, when the template is built: a digest of its schema
//! (every table, column, index, constraint, partition, view, trigger, routine and event, from
//! `information_schema`) and each table's `CHECKSUM TABLE` and AUTO_INCREMENT counter.

use crate::compat;
use std::collections::BTreeMap;

use sqlx::mysql::MySqlConnection;
use sqlx::Row;

use crate::db::text;
use crate::naming::{ident, literal};
use crate::snapshot::MARKER_TABLE;

/// A database's state, as far as resetting is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct State {
    /// MD5 of the normalised schema description.
    pub schema: String,
    /// Per base table: `CHECKSUM TABLE` and the AUTO_INCREMENT counter.
    pub tables: BTreeMap<String, (Option<i64>, Option<u64>)>,
}

impl State {
    /// One line per fact, tab-separated; read back by [`State::decode`].
    pub fn encode(&self) -> String {
        let mut out = format!("schema\t{}\n", self.schema);
        for (t, (sum, ai)) in &self.tables {
            let n = |v: Option<String>| v.unwrap_or_else(|| "-".into());
            out.push_str(&format!(
                "table\t{t}\t{}\t{}\n",
                n(sum.map(|s| s.to_string())),
                n(ai.map(|a| a.to_string()))
            ));
        }
        out
    }

    pub fn decode(s: &str) -> Option<State> {
        let mut schema = None;
        let mut tables = BTreeMap::new();
        for line in s.lines() {
            let f: Vec<&str> = line.split('\t').collect();
            match f.as_slice() {
                ["schema", md5] => schema = Some((*md5).to_owned()),
                ["table", t, sum, ai] => {
                    tables.insert((*t).to_owned(), (sum.parse().ok(), ai.parse().ok()));
                }
                _ => return None,
            }
        }
        Some(State {
            schema: schema?,
            tables,
        })
    }
}

/// Settings the state queries need in this session.
pub(crate) async fn prepare_session(
    conn: &mut MySqlConnection,
    mariadb: bool,
) -> Result<(), sqlx::Error> {
    let mut sql = "SET SESSION group_concat_max_len = 4294967295".to_owned();
    if !mariadb {
        // MySQL 8 caches information_schema statistics (AUTO_INCREMENT among them) for a day.
        sql.push_str(", information_schema_stats_expiry = 0");
    }
    compat::raw_sql(&sql).execute(conn).await.map(drop)
}

/// The digest of `db`'s schema, with its own name taken out.
pub(crate) async fn schema_digest(
    conn: &mut MySqlConnection,
    db: &str,
) -> Result<String, sqlx::Error> {
    let d = literal(db).expect("generated names are plain");
    let m = literal(MARKER_TABLE).expect("plain");
    let sql = format!(
        "SELECT MD5(COALESCE(GROUP_CONCAT(x ORDER BY x SEPARATOR '\\n'), '')) FROM (\
         SELECT CONCAT_WS('|', 'T', TABLE_NAME, TABLE_TYPE, ENGINE, ROW_FORMAT, TABLE_COLLATION, CREATE_OPTIONS, TABLE_COMMENT) AS x \
           FROM information_schema.TABLES WHERE TABLE_SCHEMA = {d} AND TABLE_NAME <> {m} \
         UNION ALL SELECT CONCAT_WS('|', 'C', TABLE_NAME, COLUMN_NAME, ORDINAL_POSITION, COLUMN_DEFAULT, IS_NULLABLE, COLUMN_TYPE, \
           COLLATION_NAME, EXTRA, GENERATION_EXPRESSION, COLUMN_COMMENT) \
           FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = {d} AND TABLE_NAME <> {m} \
         UNION ALL SELECT CONCAT_WS('|', 'I', TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME, NON_UNIQUE, SUB_PART, INDEX_TYPE) \
           FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = {d} AND TABLE_NAME <> {m} \
         UNION ALL SELECT CONCAT_WS('|', 'F', CONSTRAINT_NAME, TABLE_NAME, REFERENCED_TABLE_NAME, UPDATE_RULE, DELETE_RULE) \
           FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {d} \
         UNION ALL SELECT CONCAT_WS('|', 'K', CONSTRAINT_NAME, TABLE_NAME, CHECK_CLAUSE) \
           FROM information_schema.CHECK_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = {d} \
         UNION ALL SELECT CONCAT_WS('|', 'P', TABLE_NAME, PARTITION_NAME, SUBPARTITION_NAME, PARTITION_METHOD, PARTITION_EXPRESSION, \
           PARTITION_DESCRIPTION) FROM information_schema.PARTITIONS WHERE TABLE_SCHEMA = {d} AND PARTITION_NAME IS NOT NULL \
         UNION ALL SELECT CONCAT_WS('|', 'V', TABLE_NAME, REPLACE(VIEW_DEFINITION, CONCAT('`', TABLE_SCHEMA, '`.'), ''), CHECK_OPTION, SECURITY_TYPE) \
           FROM information_schema.VIEWS WHERE TABLE_SCHEMA = {d} \
         UNION ALL SELECT CONCAT_WS('|', 'G', TRIGGER_NAME, EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER, \
           ACTION_STATEMENT, SQL_MODE) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = {d} \
         UNION ALL SELECT CONCAT_WS('|', 'R', ROUTINE_NAME, ROUTINE_TYPE, ROUTINE_DEFINITION, SQL_MODE) \
           FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {d} \
         UNION ALL SELECT CONCAT_WS('|', 'E', EVENT_NAME, EVENT_DEFINITION, STATUS, INTERVAL_VALUE, INTERVAL_FIELD) \
           FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {d}\
         ) AS s",
    );
    let row = compat::raw_sql(&sql).fetch_one(conn).await?;
    Ok(text(&row, 0)?.unwrap_or_default())
}

/// Checksums and AUTO_INCREMENT counters of `db`'s base tables (dbtest's marker left out).
pub(crate) async fn table_state(
    conn: &mut MySqlConnection,
    db: &str,
) -> Result<BTreeMap<String, (Option<i64>, Option<u64>)>, sqlx::Error> {
    let mut tables = BTreeMap::new();
    for row in sqlx::query(
        "SELECT TABLE_NAME, AUTO_INCREMENT FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_NAME <> ?",
    )
    .bind(db)
    .bind(MARKER_TABLE)
    .fetch_all(&mut *conn)
    .await?
    {
        let ai: Option<u64> = row.try_get_unchecked(1)?;
        tables.insert(text(&row, 0)?.unwrap_or_default(), (None, ai));
    }
    if tables.is_empty() {
        return Ok(tables);
    }
    let list = tables
        .keys()
        .map(|t| format!("{}.{}", ident(db), ident(t)))
        .collect::<Vec<_>>()
        .join(", ");
    let prefix = format!("{db}.");
    for row in compat::raw_sql(&format!("CHECKSUM TABLE {list}"))
        .fetch_all(&mut *conn)
        .await?
    {
        let table = text(&row, 0)?.unwrap_or_default();
        let sum = text(&row, 1)?.and_then(|s| s.parse::<i64>().ok());
        if let Some(entry) = tables.get_mut(table.strip_prefix(&prefix).unwrap_or(&table)) {
            entry.0 = sum;
        }
    }
    Ok(tables)
}

/// The whole state of `db`.
pub(crate) async fn read(conn: &mut MySqlConnection, db: &str) -> Result<State, sqlx::Error> {
    Ok(State {
        schema: schema_digest(conn, db).await?,
        tables: table_state(conn, db).await?,
    })
}

/// Resets `db` (the session's default database) to `template`'s state `want`, copying rows from
/// `template` with `copies` (per table, the `INSERT … SELECT` of the clone script). Returns
/// `Ok(())` when `db` is proven equal to the template, else why not (then: drop it).
pub(crate) async fn reset(
    conn: &mut MySqlConnection,
    db: &str,
    want: &State,
    copies: &BTreeMap<String, String>,
) -> Result<Result<(), &'static str>, sqlx::Error> {
    // Another session still on the database (a connection the test opened itself and left
    // open) could write after the reset: not provably clean. The test's pool has just closed, and
    // the server may take a moment to end those sessions: wait for them, briefly.
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
    loop {
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = ? AND ID <> CONNECTION_ID()",
        )
        .bind(db)
        .fetch_one(&mut *conn)
        .await?;
        if others == 0 {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Ok(Err("another session still uses it"));
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let schema = schema_digest(conn, db).await?;
    if schema != want.schema {
        tracing::debug!(
            database = db,
            "not reset: its schema differs from the template's (DDL)"
        );
        return Ok(Err("its schema differs from the template's (DDL)"));
    }
    // Triggers fire while rows are put back and may change other tables; those are put back in the
    // next round. Three rounds without convergence: not provably clean.
    for _ in 0..3 {
        let have = table_state(conn, db).await?;
        if have.len() != want.tables.len() || have.keys().ne(want.tables.keys()) {
            tracing::debug!(
                database = db,
                "not reset: its tables differ from the template's"
            );
            return Ok(Err("its tables differ from the template's"));
        }

        // Rows in one transaction (one log flush instead of one per statement); counters after it,
        // since ALTER TABLE commits implicitly.
        let mut rows = Vec::new();
        let mut counters = Vec::new();
        for (t, (sum, ai)) in &have {
            let (want_sum, want_ai) = want.tables[t];
            if *sum != want_sum {
                rows.push(format!("DELETE FROM {}", ident(t)));
                if let Some(copy) = copies.get(t) {
                    rows.push(copy.clone());
                }
            }
            if let (true, Some(want_ai)) = (*ai != want_ai, want_ai) {
                counters.push(format!(
                    "ALTER TABLE {} AUTO_INCREMENT = {want_ai}",
                    ident(t)
                ));
            }
        }
        if rows.is_empty() && counters.is_empty() {
            return Ok(Ok(()));
        }
        let mut sql = vec![
            format!("USE {}", ident(db)),
            "SET @dbtest_fkc = @@SESSION.foreign_key_checks, SESSION foreign_key_checks = 0"
                .to_owned(),
        ];
        if !rows.is_empty() {
            sql.push("START TRANSACTION".into());
            sql.append(&mut rows);
            sql.push("COMMIT".into());
        }
        sql.append(&mut counters);
        sql.push("SET SESSION foreign_key_checks = @dbtest_fkc".into());
        compat::raw_sql(&sql.join(";\n"))
            .execute(&mut *conn)
            .await?;
    }
    Ok(Err(
        "it did not settle to the template's state in three rounds (triggers?)",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips() {
        let s = State {
            schema: "0123abcd".into(),
            tables: [
                ("a".to_owned(), (Some(-42), Some(7))),
                ("b".to_owned(), (None, None)),
            ]
            .into_iter()
            .collect(),
        };
        assert_eq!(State::decode(&s.encode()), Some(s));
        assert_eq!(State::decode("nonsense"), None);
    }
}
