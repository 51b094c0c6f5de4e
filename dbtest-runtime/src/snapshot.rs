//! Reads a ready template into its clone script: a typed description of everything that turns an
//! empty database into one indistinguishable from the template. Read once, when the template is
//! built; stored with the template's ready marker (see [`Script::encode`]), so other processes
//! fetch it in one query.
//!
//! Every definition comes from the server's own `SHOW CREATE …`: tables and sequences; views with
//! the template's qualifier removed (otherwise the clone's views would read the template);
//! triggers, routines and events each with the `sql_mode`, character set and time zone they were
//! created under. Rows are not in the script: a clone copies them server-side from the template
//! with `INSERT … SELECT` (with their history, for system-versioned tables), before any trigger
//! exists, so copying fires none.

use std::collections::{BTreeMap, BTreeSet};

use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::Row;

use crate::compat;
use crate::compat::text;
use crate::dialect::Server;
use crate::naming::{ident, literal, DbName};
use crate::record;

/// The marker table inside every template; never copied into clones.
pub(crate) const MARKER_TABLE: &str = "_dbtest_template";

/// Follows a table in a `FROM` clause wherever dbtest reads rows: an index hint, which the server
/// refuses for a view (error 1176, "Key … doesn't exist"), so a table that another account with
/// the grant replaced by a view is never read through it (its functions would run with this
/// account's privileges). Run on MariaDB; for MySQL 8 from its worklog WL#13538, whose new hint
/// syntax is to be "allowed to be used in views", unlike this one. An empty list changes no
/// plan: every read it is on scans the whole table.
pub(crate) const NOT_A_VIEW: &str = " USE INDEX ()";

/// The `sql_mode` tables are read, created and filled under: nothing that changes how
/// `SHOW CREATE` prints (no `ANSI_QUOTES`), no strictness that would refuse the template's own
/// values (zero dates), a stored 0 in an AUTO_INCREMENT column kept as 0, and an error instead of
/// a silently substituted engine.
pub(crate) const DATA_MODE: &str = "NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION";

/// Why a template could not be read.
#[derive(Debug)]
pub(crate) enum SnapshotError {
    Sql(sqlx::Error),
    Unsupported(String),
}

impl From<sqlx::Error> for SnapshotError {
    fn from(e: sqlx::Error) -> Self {
        SnapshotError::Sql(e)
    }
}

impl From<SnapshotError> for crate::error::Cause {
    fn from(e: SnapshotError) -> Self {
        match e {
            SnapshotError::Sql(e) => e.into(),
            SnapshotError::Unsupported(what) => what.into(),
        }
    }
}

impl std::fmt::Display for SnapshotError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SnapshotError::Sql(e) => e.fmt(f),
            SnapshotError::Unsupported(what) => f.write_str(what),
        }
    }
}

/// The clone script of a template.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Script {
    /// The database's default character set and collation.
    pub charset: String,
    pub collation: String,
    /// Base tables (system-versioned ones included), by name.
    pub tables: Vec<Table>,
    pub sequences: Vec<Sequence>,
    /// Routines, then views (each after the views it reads), triggers (per table in firing
    /// order), events: everything created after the rows.
    pub objects: Vec<Object>,
}

/// A base table of the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Table {
    pub name: String,
    /// `SHOW CREATE TABLE`, with the template's AUTO_INCREMENT counter.
    pub create: String,
    /// The template's table has rows (a clone copies them).
    pub has_rows: bool,
    /// The columns a row copy writes: every column but generated ones.
    pub columns: Vec<Column>,
    /// System-versioned: its row start and row end columns. Rows are copied with their history
    /// and timestamps when the server can (`system_versioning_insert_history`, MariaDB 10.11+).
    pub versioning: Option<Versioning>,
}

/// A stored column of a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Column {
    pub name: String,
    /// `information_schema.COLUMNS.DATA_TYPE`, lower case (`float`, `enum`, …).
    pub data_type: String,
}

impl Column {
    /// `name` of type `data_type`.
    #[cfg(test)]
    pub(crate) fn new(name: &str, data_type: &str) -> Column {
        Column {
            name: name.into(),
            data_type: data_type.into(),
        }
    }
}

/// The period columns of a system-versioned table, and whether its history is copied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Versioning {
    pub start: String,
    pub end: String,
    /// The server can insert history (`system_versioning_insert_history`).
    pub with_history: bool,
}

/// A sequence of the template: its definition and the state a clone starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Sequence {
    pub name: String,
    /// `SHOW CREATE SEQUENCE`.
    pub create: String,
    /// `next_not_cached_value` and `cycle_count` of the template.
    pub next: i64,
    pub round: i64,
}

/// What kind of object an [`Object`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Kind {
    Procedure,
    Function,
    View,
    Trigger,
    Event,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Procedure => "procedure",
            Kind::Function => "function",
            Kind::View => "view",
            Kind::Trigger => "trigger",
            Kind::Event => "event",
        }
    }

    fn parse(s: &str) -> Option<Kind> {
        [
            Kind::Procedure,
            Kind::Function,
            Kind::View,
            Kind::Trigger,
            Kind::Event,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A view, trigger, routine or event, and the session it is created under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Object {
    pub kind: Kind,
    pub name: String,
    /// The table of a trigger.
    pub table: Option<String>,
    pub session: Session,
    /// The `CREATE …` statement, without the cloning user's own `DEFINER` clause.
    pub create: String,
}

/// Session settings an object was created under (`None`: the script's default).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Session {
    pub sql_mode: Option<String>,
    pub charset_client: Option<String>,
    pub collation_connection: Option<String>,
    pub time_zone: Option<String>,
}

/// Client character sets in which a multi-byte character may end in 0x5C, the backslash: text
/// replayed under one of them is not parsed as it was written.
const ESCAPE_UNSAFE: [&str; 5] = ["big5", "cp932", "gbk", "sjis", "gb18030"];

impl Session {
    /// The `SET SESSION` statement for these settings, if any.
    fn set_sql(&self) -> Option<String> {
        let parts: Vec<String> = [
            ("sql_mode", &self.sql_mode),
            ("character_set_client", &self.charset_client),
            ("collation_connection", &self.collation_connection),
            ("time_zone", &self.time_zone),
        ]
        .into_iter()
        .filter_map(|(name, value)| {
            // Checked to be plain when read (`Session::checked`).
            let value = literal(value.as_deref()?)?;
            Some(format!("{name} = {value}"))
        })
        .collect();
        (!parts.is_empty()).then(|| format!("SET SESSION {}", parts.join(", ")))
    }

    /// Refuses settings that cannot be written as a plain literal.
    fn checked(self) -> Result<Session, SnapshotError> {
        for value in [
            &self.sql_mode,
            &self.charset_client,
            &self.collation_connection,
            &self.time_zone,
        ]
        .into_iter()
        .flatten()
        {
            if literal(value).is_none() {
                return Err(SnapshotError::Unsupported(format!(
                    "unexpected session setting {value:?}"
                )));
            }
        }
        if let Some(cs) = self
            .charset_client
            .as_deref()
            .filter(|cs| ESCAPE_UNSAFE.contains(&cs.to_ascii_lowercase().as_str()))
        {
            return Err(SnapshotError::Unsupported(format!(
                "an object of the template was created with character_set_client = {cs}; its text \
                 reaches dbtest as utf8mb4, and read again as {cs} a multi-byte character can swallow \
                 the backslash of an escaped quote and end a string early (the text would not be \
                 the object's, and could run as statements of its own); create it under utf8mb4 \
                 (information_schema.ROUTINES, TRIGGERS, VIEWS and EVENTS show CHARACTER_SET_CLIENT)"
            )));
        }
        Ok(self)
    }
}

impl Table {
    /// A MERGE table: its rows are those of the tables it unites; copying or deleting them would
    /// write those tables.
    pub(crate) fn is_merge(&self) -> bool {
        self.create.to_ascii_uppercase().contains("\n) ENGINE=MRG_")
    }

    /// Emptied by `TRUNCATE`, which makes the table anew, not by `DELETE`: an InnoDB FULLTEXT
    /// index keeps deleted documents (relevance differs from a fresh clone's, and its document
    /// ids refuse the template's again). Not for system-versioned tables (refused by the server).
    pub(crate) fn truncated(&self) -> bool {
        self.versioning.is_none() && self.create.to_ascii_uppercase().contains("FULLTEXT")
    }

    /// Empties the table (and, for a system-versioned one, its history).
    pub(crate) fn delete_sql(&self) -> String {
        if self.truncated() {
            return format!("TRUNCATE TABLE {}", ident(&self.name));
        }
        // The multi-table form takes an index hint: a view in its place is refused.
        let mut sql = format!("DELETE {t} FROM {t}{NOT_A_VIEW}", t = ident(&self.name));
        if self.versioning.is_some() {
            sql.push_str(&format!(";\nDELETE HISTORY FROM {}", ident(&self.name)));
        }
        sql
    }

    /// Copies the template's rows into the (empty) table of the session's default database: for
    /// a system-versioned table with history, every row version with its timestamps (the session
    /// must have `system_versioning_insert_history` on).
    pub(crate) fn copy_sql(&self, template: &DbName) -> Option<String> {
        if !self.has_rows {
            return None;
        }
        let mut cols: Vec<String> = self.columns.iter().map(|c| ident(&c.name)).collect();
        let mut from = format!("{template}.{}", ident(&self.name));
        if let Some(v) = self.versioning.as_ref().filter(|v| v.with_history) {
            cols.push(ident(&v.start));
            cols.push(ident(&v.end));
            from.push_str(" FOR SYSTEM_TIME ALL");
        }
        from.push_str(NOT_A_VIEW);
        let cols = cols.join(", ");
        // The target names itself with the hint too, in the statement that writes: a view put in
        // its place after it was created or checked is refused, not written through (an insert
        // into a view with a check option runs the view's functions).
        Some(format!(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM {from} \
             WHERE NOT EXISTS (SELECT 1 FROM {t}{NOT_A_VIEW} WHERE FALSE)",
            t = ident(&self.name)
        ))
    }

    /// Puts the table's AUTO_INCREMENT counter back to `counter` (1 when the template shows none:
    /// the server then takes the smallest value its rows allow).
    pub(crate) fn counter_sql(&self, counter: Option<u64>) -> String {
        format!(
            "ALTER TABLE {} AUTO_INCREMENT = {}",
            ident(&self.name),
            counter.unwrap_or(1)
        )
    }
}

impl Sequence {
    /// Sets a new sequence to the template's state. `SETVAL` only moves forward, so a used
    /// sequence is first restarted at its start value (which `RESTART` keeps).
    pub(crate) fn set_sql(&self, fresh: bool) -> String {
        let restart = if fresh {
            String::new()
        } else {
            format!("ALTER SEQUENCE {} RESTART;\n", ident(&self.name))
        };
        format!(
            "{restart}DO SETVAL({}, {}, 0, {})",
            ident(&self.name),
            self.next,
            self.round
        )
    }
}

impl Object {
    /// The statements that create the object: its session settings, then its `CREATE`.
    pub(crate) fn create_sql(&self) -> String {
        match self.session.set_sql() {
            Some(set) => format!("{set};\n{}", self.create),
            None => self.create.clone(),
        }
    }
}

/// Session settings for copying rows: the data mode, no foreign key checks, and history
/// insertion when a table needs it.
pub(crate) fn data_session_sql(history: bool) -> String {
    let mut sql = format!("SET SESSION sql_mode = '{DATA_MODE}', foreign_key_checks = 0");
    if history {
        sql.push_str(", system_versioning_insert_history = 1");
    }
    sql
}

impl Script {
    /// The statements that turn the session's (empty) default database into a clone of
    /// `template`: settings saved, tables and sequences, rows, then routines, views, triggers and
    /// events; settings restored.
    /// `restore` is the statement that puts the session back afterwards
    /// (`dialect::Server::restore_session`).
    pub(crate) fn clone_sql(&self, template: &DbName, restore: &str) -> String {
        let mut out = Vec::new();
        let history = self
            .tables
            .iter()
            .any(|t| t.versioning.as_ref().is_some_and(|v| v.with_history));
        out.push(data_session_sql(history));
        out.push(format!(
            "ALTER DATABASE CHARACTER SET {} COLLATE {}",
            literal(&self.charset).unwrap_or_else(|| "DEFAULT".into()),
            literal(&self.collation).unwrap_or_else(|| "DEFAULT".into())
        ));
        out.extend(self.tables.iter().map(|t| t.create.clone()));
        for s in &self.sequences {
            out.push(s.create.clone());
            out.push(s.set_sql(true));
        }
        out.extend(self.tables.iter().filter_map(|t| t.copy_sql(template)));
        if history {
            out.push("SET SESSION system_versioning_insert_history = 0".into());
        }
        out.extend(self.objects.iter().map(Object::create_sql));
        out.push(restore.into());
        out.join(";\n")
    }

    /// The table `name`.
    pub(crate) fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The sequence `name`.
    pub(crate) fn sequence(&self, name: &str) -> Option<&Sequence> {
        self.sequences.iter().find(|s| s.name == name)
    }

    /// The triggers of `table`, in firing order.
    pub(crate) fn triggers_of<'a>(&'a self, table: &'a str) -> impl Iterator<Item = &'a Object> {
        self.objects
            .iter()
            .filter(move |o| o.kind == Kind::Trigger && o.table.as_deref() == Some(table))
    }

    /// The script as text, read back by [`Script::decode`].
    pub(crate) fn encode(&self) -> String {
        let mut out = String::new();
        record::write(
            &mut out,
            [Some("db"), Some(&*self.charset), Some(&*self.collation)],
        );
        for t in &self.tables {
            let (start, end, history) = match &t.versioning {
                Some(v) => (Some(&*v.start), Some(&*v.end), Some(flag(v.with_history))),
                None => (None, None, None),
            };
            record::write(
                &mut out,
                [
                    Some("table"),
                    Some(&*t.name),
                    Some(flag(t.has_rows)),
                    start,
                    end,
                    history,
                    Some(&*t.create),
                ]
                .into_iter()
                .chain(
                    t.columns
                        .iter()
                        .flat_map(|c| [Some(c.name.as_str()), Some(c.data_type.as_str())]),
                ),
            );
        }
        for s in &self.sequences {
            record::write(
                &mut out,
                [
                    Some("sequence"),
                    Some(&*s.name),
                    Some(&*s.next.to_string()),
                    Some(&*s.round.to_string()),
                    Some(&*s.create),
                ],
            );
        }
        for o in &self.objects {
            record::write(
                &mut out,
                [
                    Some("object"),
                    Some(o.kind.as_str()),
                    Some(&*o.name),
                    o.table.as_deref(),
                    o.session.sql_mode.as_deref(),
                    o.session.charset_client.as_deref(),
                    o.session.collation_connection.as_deref(),
                    o.session.time_zone.as_deref(),
                    Some(&*o.create),
                ],
            );
        }
        out
    }

    /// Reads a script written by [`Script::encode`]; `None` if it is not one.
    pub(crate) fn decode(text: &str) -> Option<Script> {
        let mut script = Script::default();
        for fields in record::read(text)? {
            let mut f = fields.into_iter();
            let mut next = || f.next();
            match next()??.as_str() {
                "db" => {
                    script.charset = next()??;
                    script.collation = next()??;
                }
                "table" => {
                    let name = next()??;
                    let has_rows = next()?? == "1";
                    let (start, end, history) = (next()?, next()?, next()?);
                    let create = next()??;
                    let versioning = match (start, end, history) {
                        (Some(start), Some(end), Some(h)) => Some(Versioning {
                            start,
                            end,
                            with_history: h == "1",
                        }),
                        (None, None, None) => None,
                        _ => return None,
                    };
                    let fields = std::iter::from_fn(next).collect::<Option<Vec<_>>>()?;
                    if fields.len() % 2 != 0 {
                        return None;
                    }
                    let columns = fields
                        .chunks(2)
                        .map(|pair| Column {
                            name: pair[0].clone(),
                            data_type: pair[1].clone(),
                        })
                        .collect();
                    script.tables.push(Table {
                        name,
                        create,
                        has_rows,
                        columns,
                        versioning,
                    });
                }
                "sequence" => script.sequences.push(Sequence {
                    name: next()??,
                    next: next()??.parse().ok()?,
                    round: next()??.parse().ok()?,
                    create: next()??,
                }),
                "object" => {
                    let kind = Kind::parse(&next()??)?;
                    let name = next()??;
                    let table = next()?;
                    let session = Session {
                        sql_mode: next()?,
                        charset_client: next()?,
                        collation_connection: next()?,
                        time_zone: next()?,
                    }
                    .checked()
                    .ok()?;
                    script.objects.push(Object {
                        kind,
                        name,
                        table,
                        session,
                        create: next()??,
                    });
                }
                _ => return None,
            }
        }
        Some(script)
    }
}

fn flag(b: bool) -> &'static str {
    if b {
        "1"
    } else {
        "0"
    }
}

/// Reads `template` into its clone script.
///
/// Each `SHOW CREATE` goes as text (`raw_sql`), not as a prepared statement: a template has more
/// objects than sqlx caches statements per connection (100), and past that every new one evicts
/// another with a `COM_STMT_CLOSE`, which the server does not answer. sqlx 0.9.0 leaves Nagle's
/// algorithm on (sqlx#4335), so the next request then waits for the server's delayed ACK:
/// 43 ms per object, measured, most of a template's read.
pub(crate) async fn read(
    conn: &mut MySqlConnection,
    template: &DbName,
    server: &Server,
) -> Result<Script, SnapshotError> {
    // How SHOW CREATE prints depends on the session's sql_mode: read under the mode the script
    // is replayed under.
    compat::raw_sql(&format!(
        "SET SESSION sql_mode = '{DATA_MODE}', sql_quote_show_create = 1"
    ))
    .execute(&mut *conn)
    .await?;
    let qualifier = format!("{template}.");
    let definer = current_definer(conn).await?;
    let mut script = Script::default();

    let row = sqlx::query(
        "SELECT DEFAULT_CHARACTER_SET_NAME, DEFAULT_COLLATION_NAME \
         FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    )
    .bind(template.as_str())
    .fetch_one(&mut *conn)
    .await?;
    script.charset = text(&row, 0)?.unwrap_or_default();
    script.collation = text(&row, 1)?.unwrap_or_default();
    for value in [&script.charset, &script.collation] {
        if literal(value).is_none() {
            return Err(SnapshotError::Unsupported(format!(
                "unexpected character set or collation {value:?}"
            )));
        }
    }

    read_tables(
        conn,
        template,
        &qualifier,
        server.can_insert_history(),
        &mut script,
    )
    .await?;
    script.objects = read_routines(conn, template, &qualifier, &definer).await?;
    script
        .objects
        .extend(read_views(conn, template, &qualifier, &definer).await?);
    script
        .objects
        .extend(read_triggers(conn, template, &qualifier, &definer).await?);
    script
        .objects
        .extend(read_events(conn, template, &qualifier, &definer).await?);
    Ok(script)
}

/// Tables (with their columns, rows and versioning) and sequences.
async fn read_tables(
    conn: &mut MySqlConnection,
    template: &DbName,
    qualifier: &str,
    insert_history: bool,
    script: &mut Script,
) -> Result<(), SnapshotError> {
    let (tables, sequences) = list_tables(conn, template).await?;
    let (mut columns, mut periods) = read_columns(conn, template).await?;
    let has_rows = tables_with_rows(conn, qualifier, &tables).await?;
    for (name, versioned) in tables {
        let row = compat::raw_sql(&format!("SHOW CREATE TABLE {qualifier}{}", ident(&name)))
            .fetch_one(&mut *conn)
            .await?;
        let versioning = versioned.then(|| {
            let (start, end, by_transaction) = periods
                .remove(&name)
                .unwrap_or_else(|| ("row_start".into(), "row_end".into(), false));
            Versioning {
                start,
                end,
                with_history: insert_history && !by_transaction,
            }
        });
        let mut table = Table {
            create: text(&row, 1)?.unwrap_or_default(),
            has_rows: has_rows.contains(&name),
            columns: columns.remove(&name).unwrap_or_default(),
            versioning,
            name,
        };
        if table.is_merge() {
            table.has_rows = false;
        }
        script.tables.push(table);
    }
    for name in sequences {
        let row = compat::raw_sql(&format!("SHOW CREATE SEQUENCE {qualifier}{}", ident(&name)))
            .fetch_one(&mut *conn)
            .await?;
        let create = text(&row, 1)?.unwrap_or_default();
        let row = compat::query(&format!(
            "SELECT next_not_cached_value, cycle_count FROM {qualifier}{}{NOT_A_VIEW}",
            ident(&name)
        ))
        .fetch_one(&mut *conn)
        .await?;
        script.sequences.push(Sequence {
            name,
            create,
            next: row.try_get_unchecked(0)?,
            round: row.try_get_unchecked(1)?,
        });
    }
    Ok(())
}

/// The base tables of `template` (each with whether it is system-versioned) and its sequences,
/// but dbtest's marker.
async fn list_tables(
    conn: &mut MySqlConnection,
    template: &DbName,
) -> Result<(Vec<(String, bool)>, Vec<String>), SnapshotError> {
    let rows = listed(
        conn,
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = ? AND TABLE_TYPE <> 'VIEW' ORDER BY TABLE_NAME",
        template,
    )
    .await?;
    let mut tables = Vec::new();
    let mut sequences = Vec::new();
    for row in &rows {
        let name = text(row, 0)?.unwrap_or_default();
        let kind = text(row, 1)?.unwrap_or_default();
        if name == MARKER_TABLE {
            continue;
        }
        match kind.as_str() {
            "SEQUENCE" => sequences.push(name),
            "BASE TABLE" => tables.push((name, false)),
            "SYSTEM VERSIONED" => tables.push((name, true)),
            other => {
                return Err(SnapshotError::Unsupported(format!(
                    "table `{name}` is of type {other}, which dbtest cannot clone"
                )))
            }
        }
    }

    Ok((tables, sequences))
}

/// Per table, the columns a copy writes.
type Columns = BTreeMap<String, Vec<Column>>;
/// Per system-versioned table, its period columns: start, end, and whether they hold transaction
/// ids.
type Periods = BTreeMap<String, (String, String, bool)>;

/// The columns of each table of `template` that a copy writes, and the period columns of its
/// system-versioned ones.
async fn read_columns(
    conn: &mut MySqlConnection,
    template: &DbName,
) -> Result<(Columns, Periods), SnapshotError> {
    // Columns a copy writes, and the period columns of system-versioned tables (explicit ones are
    // listed as generated `ROW START` / `ROW END`; implicit ones are not listed at all).
    let mut columns = Columns::new();
    let mut periods = Periods::new();
    for row in listed(
        conn,
        "SELECT TABLE_NAME, COLUMN_NAME, EXTRA, GENERATION_EXPRESSION, DATA_TYPE FROM information_schema.COLUMNS \
         WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME, ORDINAL_POSITION",
        template,
    )
    .await?
    {
        let table = text(&row, 0)?.unwrap_or_default();
        let column = text(&row, 1)?.unwrap_or_default();
        let extra = text(&row, 2)?.unwrap_or_default().to_ascii_uppercase();
        let generation = text(&row, 3)?.unwrap_or_default().to_ascii_uppercase();
        let data_type = text(&row, 4)?.unwrap_or_default().to_ascii_lowercase();
        match generation.as_str() {
            "ROW START" => {
                let p = periods.entry(table).or_default();
                p.0 = column;
                // Transaction-precise versioning (BIGINT transaction ids): its history cannot
                // be inserted.
                p.2 = data_type == "bigint";
            }
            "ROW END" => periods.entry(table).or_default().1 = column,
            _ if extra.contains("VIRTUAL GENERATED") || extra.contains("STORED GENERATED") => {}
            _ => columns.entry(table).or_default().push(Column {
                name: column,
                data_type,
            }),
        }
    }

    Ok((columns, periods))
}

/// The tables of `tables` that have rows (history rows count).
async fn tables_with_rows(
    conn: &mut MySqlConnection,
    qualifier: &str,
    tables: &[(String, bool)],
) -> Result<BTreeSet<String>, SnapshotError> {
    let mut out = BTreeSet::new();
    for chunk in tables.chunks(64) {
        // UNION ALL keeps the order of its branches only with an explicit key; number them.
        let probe = chunk
            .iter()
            .enumerate()
            .map(|(i, (t, versioned))| {
                let all = if *versioned {
                    " FOR SYSTEM_TIME ALL"
                } else {
                    ""
                };
                format!(
                    "SELECT {i} AS n, EXISTS (SELECT 1 FROM {qualifier}{}{all}{NOT_A_VIEW}) AS has_rows",
                    ident(t)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        for row in compat::query(&format!(
            "SELECT n, has_rows FROM ({probe}) AS p ORDER BY n"
        ))
        .fetch_all(&mut *conn)
        .await?
        {
            let n: i64 = row.try_get_unchecked(0)?;
            let has_rows: i64 = row.try_get_unchecked(1)?;
            if has_rows != 0 {
                out.insert(chunk[n as usize].0.clone());
            }
        }
    }
    Ok(out)
}

/// The rows of `sql`, a listing of the objects of `template` (its one parameter).
async fn listed(
    conn: &mut MySqlConnection,
    sql: &'static str,
    template: &DbName,
) -> Result<Vec<MySqlRow>, sqlx::Error> {
    sqlx::query(sql)
        .bind(template.as_str())
        .fetch_all(&mut *conn)
        .await
}

/// Procedures and functions (before views: views may call functions).
async fn read_routines(
    conn: &mut MySqlConnection,
    template: &DbName,
    qualifier: &str,
    definer: &[String; 2],
) -> Result<Vec<Object>, SnapshotError> {
    let mut out = Vec::new();
    for row in listed(
        conn,
        "SELECT ROUTINE_TYPE, ROUTINE_NAME FROM information_schema.ROUTINES \
         WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
        template,
    )
    .await?
    {
        let kind_name = text(&row, 0)?.unwrap_or_default();
        let name = text(&row, 1)?.unwrap_or_default();
        let kind = match kind_name.as_str() {
            "PROCEDURE" => Kind::Procedure,
            "FUNCTION" => Kind::Function,
            _ => {
                return Err(SnapshotError::Unsupported(format!(
                    "routine `{name}` is a {kind_name}, which dbtest cannot clone"
                )))
            }
        };
        let row = compat::raw_sql(&format!(
            "SHOW CREATE {kind_name} {qualifier}{}",
            ident(&name)
        ))
        .fetch_one(&mut *conn)
        .await?;
        let body = text(&row, 2)?.ok_or_else(|| {
            SnapshotError::Unsupported(format!(
                "the server hides the body of {kind_name} `{name}` from this user; grant it SELECT on mysql.proc \
                 (MariaDB) or SHOW_ROUTINE (MySQL)"
            ))
        })?;
        out.push(Object {
            kind,
            name,
            table: None,
            session: Session {
                sql_mode: text(&row, 1)?,
                charset_client: text(&row, 3)?,
                collation_connection: text(&row, 4)?,
                time_zone: None,
            }
            .checked()?,
            create: strip_definer(&body, definer),
        });
    }
    Ok(out)
}

/// Views, each after the views it reads, reading the clone's tables.
async fn read_views(
    conn: &mut MySqlConnection,
    template: &DbName,
    qualifier: &str,
    definer: &[String; 2],
) -> Result<Vec<Object>, SnapshotError> {
    let names: Vec<String> = sqlx::query(
        "SELECT TABLE_NAME FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
    )
    .bind(template.as_str())
    .fetch_all(&mut *conn)
    .await?
    .iter()
    .map(|r| text(r, 0).map(Option::unwrap_or_default))
    .collect::<Result<_, _>>()?;
    let mut defs = BTreeMap::new();
    for name in &names {
        let row = compat::raw_sql(&format!("SHOW CREATE VIEW {qualifier}{}", ident(name)))
            .fetch_one(&mut *conn)
            .await?;
        defs.insert(
            name.clone(),
            (
                text(&row, 1)?.unwrap_or_default(),
                text(&row, 2)?,
                text(&row, 3)?,
            ),
        );
    }
    let mut out = Vec::new();
    for name in view_order(&defs, qualifier) {
        let (def, csc, cc) = &defs[&name];
        out.push(Object {
            kind: Kind::View,
            table: None,
            // Read under the data mode: created under it too, whatever object came before.
            session: Session {
                sql_mode: Some(DATA_MODE.into()),
                charset_client: csc.clone(),
                collation_connection: cc.clone(),
                time_zone: None,
            }
            .checked()?,
            create: strip_definer(&def.replace(qualifier, ""), definer),
            name,
        });
    }
    Ok(out)
}

/// Triggers, per table in firing order.
async fn read_triggers(
    conn: &mut MySqlConnection,
    template: &DbName,
    qualifier: &str,
    definer: &[String; 2],
) -> Result<Vec<Object>, SnapshotError> {
    let mut out = Vec::new();
    for row in listed(
        conn,
        // By EVENT_OBJECT_SCHEMA: by TRIGGER_SCHEMA, MariaDB scans every database.
        "SELECT TRIGGER_NAME, EVENT_OBJECT_TABLE FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = ? \
         ORDER BY EVENT_OBJECT_TABLE, EVENT_MANIPULATION, ACTION_TIMING, ACTION_ORDER",
        template,
    )
    .await?
    {
        let name = text(&row, 0)?.unwrap_or_default();
        let table = text(&row, 1)?;
        let row = compat::raw_sql(&format!("SHOW CREATE TRIGGER {qualifier}{}", ident(&name)))
            .fetch_one(&mut *conn)
            .await?;
        out.push(Object {
            kind: Kind::Trigger,
            name,
            table,
            session: Session {
                sql_mode: text(&row, 1)?,
                charset_client: text(&row, 3)?,
                collation_connection: text(&row, 4)?,
                time_zone: None,
            }
            .checked()?,
            create: strip_definer(&text(&row, 2)?.unwrap_or_default(), definer),
        });
    }
    Ok(out)
}

async fn read_events(
    conn: &mut MySqlConnection,
    template: &DbName,
    qualifier: &str,
    definer: &[String; 2],
) -> Result<Vec<Object>, SnapshotError> {
    let mut out = Vec::new();
    for row in listed(
        conn,
        "SELECT EVENT_NAME FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME",
        template,
    )
    .await?
    {
        let name = text(&row, 0)?.unwrap_or_default();
        let row = compat::raw_sql(&format!("SHOW CREATE EVENT {qualifier}{}", ident(&name)))
            .fetch_one(&mut *conn)
            .await?;
        out.push(Object {
            kind: Kind::Event,
            name,
            table: None,
            session: Session {
                sql_mode: text(&row, 1)?,
                time_zone: text(&row, 2)?,
                charset_client: text(&row, 4)?,
                collation_connection: text(&row, 5)?,
            }
            .checked()?,
            create: strip_definer(&text(&row, 3)?.unwrap_or_default(), definer),
        });
    }
    Ok(out)
}

/// The `DEFINER=` clauses `SHOW CREATE …` prints for objects the current user created: with
/// backquotes, or with double quotes for objects created under `ANSI_QUOTES`.
async fn current_definer(conn: &mut MySqlConnection) -> Result<[String; 2], sqlx::Error> {
    let row = sqlx::query("SELECT CURRENT_USER()").fetch_one(conn).await?;
    Ok(definer_clauses(&text(&row, 0)?.unwrap_or_default()))
}

pub(crate) fn definer_clauses(user: &str) -> [String; 2] {
    let (name, host) = user.rsplit_once('@').unwrap_or((user, ""));
    let ansi = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    [
        format!("DEFINER={}@{} ", ident(name), ident(host)),
        format!("DEFINER={}@{} ", ansi(name), ansi(host)),
    ]
}

/// Removes the current user's `DEFINER=` clause, so the clone's objects belong to whoever clones
/// (exactly as running the migrations would make them). Other definers are kept verbatim.
/// Only the clause in the statement's head counts (`CREATE [ALGORITHM=…] DEFINER=… `, as `SHOW
/// CREATE` prints it): the same text further on is the object's body, and cutting it there would
/// change what the body says (a string cut after a backslash swallows its closing quote).
fn strip_definer(create: &str, definer: &[String; 2]) -> String {
    let Some(rest) = create.strip_prefix("CREATE ") else {
        return create.to_owned();
    };
    let algorithm = rest
        .strip_prefix("ALGORITHM=")
        .and_then(|r| r.split_once(' '))
        .filter(|(word, _)| !word.is_empty() && word.bytes().all(|b| b.is_ascii_uppercase()))
        .map_or(0, |(word, _)| "ALGORITHM=".len() + word.len() + 1);
    let head = "CREATE ".len() + algorithm;
    match definer
        .iter()
        .find(|clause| create[head..].starts_with(clause.as_str()))
    {
        Some(clause) => format!("{}{}", &create[..head], &create[head + clause.len()..]),
        None => create.to_owned(),
    }
}

/// Views in an order where each comes after every view it reads.
fn view_order(
    defs: &BTreeMap<String, (String, Option<String>, Option<String>)>,
    qualifier: &str,
) -> Vec<String> {
    fn visit(
        name: &str,
        deps: &BTreeMap<&str, BTreeSet<&str>>,
        done: &mut BTreeSet<String>,
        out: &mut Vec<String>,
    ) {
        if !done.insert(name.to_owned()) {
            return;
        }
        for dep in &deps[name] {
            visit(dep, deps, done, out);
        }
        out.push(name.to_owned());
    }
    let deps: BTreeMap<&str, BTreeSet<&str>> = defs
        .iter()
        .map(|(name, (def, _, _))| {
            let reads = defs
                .keys()
                .filter(|other| {
                    *other != name && def.contains(&format!("{qualifier}{}", ident(other)))
                })
                .map(String::as_str)
                .collect();
            (name.as_str(), reads)
        })
        .collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for name in deps.keys() {
        visit(name, &deps, &mut done, &mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definer_of_current_user_is_stripped_others_kept() {
        let me = definer_clauses("root@localhost");
        assert_eq!(
            strip_definer(
                "CREATE DEFINER=`root`@`localhost` TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET @x = 1",
                &me
            ),
            "CREATE TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET @x = 1"
        );
        // Under ANSI_QUOTES the server quotes the definer with double quotes.
        assert_eq!(
            strip_definer(
                r#"CREATE DEFINER="root"@"localhost" TRIGGER "t" BEFORE INSERT ON "a" FOR EACH ROW SET NEW."x" = 1"#,
                &me
            ),
            r#"CREATE TRIGGER "t" BEFORE INSERT ON "a" FOR EACH ROW SET NEW."x" = 1"#
        );
        let other = "CREATE DEFINER=`app`@`%` PROCEDURE p() SELECT 1";
        assert_eq!(strip_definer(other, &me), other);
        let host_lookalike = "CREATE DEFINER=`root`@`localhost2` PROCEDURE p() SELECT 1";
        assert_eq!(strip_definer(host_lookalike, &me), host_lookalike);
        // A view's head has its algorithm first.
        assert_eq!(
            strip_definer(
                "CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select 1",
                &me
            ),
            "CREATE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select 1"
        );
        // Another account's object whose body holds this account's clause is left whole: cut
        // there, `'a\` would escape the quote and the rest would run as statements.
        let smuggled = r"CREATE DEFINER=`nb`@`%` TRIGGER t BEFORE INSERT ON a FOR EACH ROW SET @v = 'a\DEFINER=`root`@`localhost` ', @w = ';DROP DATABASE x;#'";
        assert_eq!(strip_definer(smuggled, &me), smuggled);
    }

    fn sample() -> Script {
        Script {
            charset: "utf8mb4".into(),
            collation: "utf8mb4_bin".into(),
            tables: vec![
                Table {
                    name: "we`ird\ttab".into(),
                    create: "CREATE TABLE `we``ird\ttab` (\n  `id` int\n)".into(),
                    has_rows: true,
                    columns: vec![Column::new("id", "int"), Column::new("na\nme", "varchar")],
                    versioning: None,
                },
                Table {
                    name: "hist".into(),
                    create: "CREATE TABLE `hist` (`id` int) WITH SYSTEM VERSIONING".into(),
                    has_rows: true,
                    columns: vec![Column::new("id", "int")],
                    versioning: Some(Versioning {
                        start: "row_start".into(),
                        end: "row_end".into(),
                        with_history: true,
                    }),
                },
                Table {
                    name: "empty".into(),
                    create: "CREATE TABLE `empty` (`id` int)".into(),
                    has_rows: false,
                    columns: vec![],
                    versioning: None,
                },
            ],
            sequences: vec![Sequence {
                name: "s".into(),
                create: "CREATE SEQUENCE `s` start with 5".into(),
                next: 1005,
                round: 2,
            }],
            objects: vec![Object {
                kind: Kind::Trigger,
                name: "stamp".into(),
                table: Some("hist".into()),
                session: Session {
                    sql_mode: Some("STRICT_TRANS_TABLES".into()),
                    ..Session::default()
                },
                create: "CREATE TRIGGER stamp BEFORE INSERT ON hist FOR EACH ROW BEGIN\n  SET @a = ';\t';\nEND"
                    .into(),
            }],
        }
    }

    #[test]
    fn script_round_trips_through_its_text() {
        let script = sample();
        assert_eq!(Script::decode(&script.encode()), Some(script));
        assert_eq!(Script::decode("table\tonly-a-name\n"), None);
        assert_eq!(Script::decode("nonsense\n"), None);
    }

    #[test]
    fn clone_copies_rows_before_triggers_and_history_with_timestamps() {
        let sql = sample().clone_sql(
            &DbName::parse("dbtest_tpl_0123456789abcdef").unwrap(),
            "SET SESSION sql_mode = ''",
        );
        // Nothing is kept in user variables, which a trigger firing in the session could change.
        assert!(!sql.contains("@dbtest"), "{sql}");
        assert!(sql.ends_with("SET SESSION sql_mode = ''"), "{sql}");
        let at = |needle: &str| {
            sql.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {sql}"))
        };
        assert!(at("INSERT INTO `hist`") < at("CREATE TRIGGER stamp"));
        assert!(at("system_versioning_insert_history = 1") < at("INSERT INTO `hist`"));
        assert!(sql.contains(
            "INSERT INTO `hist` (`id`, `row_start`, `row_end`) SELECT `id`, `row_start`, `row_end` \
             FROM `dbtest_tpl_0123456789abcdef`.`hist` FOR SYSTEM_TIME ALL USE INDEX ()"
        ));
        assert!(!sql.contains("INSERT INTO `empty`"));
        assert!(sql.contains("DO SETVAL(`s`, 1005, 0, 2)"));
        assert!(sql.contains("SET SESSION sql_mode = 'STRICT_TRANS_TABLES';\nCREATE TRIGGER stamp"));
        let t = sample();
        assert_eq!(
            t.sequences[0].set_sql(false),
            "ALTER SEQUENCE `s` RESTART;\nDO SETVAL(`s`, 1005, 0, 2)"
        );
        assert_eq!(
            t.tables[1].delete_sql(),
            "DELETE `hist` FROM `hist` USE INDEX ();\nDELETE HISTORY FROM `hist`"
        );
    }

    #[test]
    fn views_come_after_the_views_they_read() {
        let q = "`dbtest_tpl_0123456789abcdef`.";
        let def = |body: &str| (body.to_owned(), None, None);
        let defs: BTreeMap<String, _> = [
            (
                "a_top",
                def("CREATE VIEW `a_top` AS select 1 from `dbtest_tpl_0123456789abcdef`.`m_mid`"),
            ),
            (
                "m_mid",
                def("CREATE VIEW `m_mid` AS select 1 from `dbtest_tpl_0123456789abcdef`.`z_base`"),
            ),
            (
                "z_base",
                def("CREATE VIEW `z_base` AS select 1 from `dbtest_tpl_0123456789abcdef`.`t`"),
            ),
            (
                "b_alone",
                def("CREATE VIEW `b_alone` AS select 1 from `dbtest_tpl_0123456789abcdef`.`t`"),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(
            view_order(&defs, q),
            ["z_base", "m_mid", "a_top", "b_alone"]
        );
    }
}
