//! Proving a finished test's database equal to a fresh clone of its template, putting back what
//! a test may change without DDL (rows, AUTO_INCREMENT counters, sequences), and proving it again;
//! anything else and the caller drops the database.
//!
//! The comparison is with a *fresh clone*, not with the template: when a template is built, its
//! first clones are read into a reference [`State`] (and two of them compared, so a kind of object
//! whose clones differ by nature is found then, not at every reset). A state holds, per object,
//! every column `SHOW CREATE …` returns for it — whatever the server shows, including
//! attributes a future server adds, is compared without being named here — grants on the
//! database, and per table a digest of its rows (history rows included), per sequence its row.
//! Only what a test can change without DDL is put back; a difference anywhere else means the test
//! changed the schema, and the database is dropped.
//!
//! What a reset need not read: the rows of a table empty in the reference are only asked whether
//! there still are none; on MariaDB, the definition of a table no DDL can have touched since the
//! last proof is taken as it was (see [`Gate`]). Everything else is read at every reset.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use sqlx::mysql::{MySqlConnection, MySqlRow};
use sqlx::{Column, Row};

use crate::compat;
use crate::compat::text;
use crate::dialect::Server;
use crate::naming::{ident, literal, DbName};
use crate::snapshot::{self, Script, DATA_MODE};
use crate::{record, say};

/// What a client can observe of a database, as far as resetting is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct State {
    /// Per object (`table t`, `view v`, `trigger g`, `procedure p`, `grant …`, `database`,
    /// `disabled keys`): every column `SHOW CREATE …` shows of it, with the database's own name,
    /// the current user's `DEFINER` and a table's AUTO_INCREMENT counter marked; for a trigger also
    /// its table, timing, event and place in the firing order.
    pub objects: BTreeMap<String, String>,
    /// Per table whose `SHOW CREATE TABLE` shows an AUTO_INCREMENT counter: its value.
    pub counters: BTreeMap<String, u64>,
    /// Per base table: the digest of its rows (see [`rows_sql`]).
    pub rows: BTreeMap<String, String>,
    /// Per sequence: its row.
    pub sequences: BTreeMap<String, String>,
    /// Per trigger: its table.
    pub trigger_tables: BTreeMap<String, String>,
}

impl State {
    /// The state as text, read back by [`State::decode`].
    pub fn encode(&self) -> String {
        let mut out = String::new();
        for (k, v) in &self.objects {
            record::write(&mut out, [Some("object"), Some(k), Some(v)]);
        }
        for (t, n) in &self.counters {
            record::write(&mut out, [Some("counter"), Some(t), Some(&*n.to_string())]);
        }
        for (t, rows) in &self.rows {
            record::write(&mut out, [Some("rows"), Some(t), Some(rows)]);
        }
        for (s, row) in &self.sequences {
            record::write(&mut out, [Some("sequence"), Some(s), Some(row)]);
        }
        for (g, t) in &self.trigger_tables {
            record::write(&mut out, [Some("trigger"), Some(g), Some(t)]);
        }
        out
    }

    pub fn decode(s: &str) -> Option<State> {
        let mut state = State::default();
        for fields in record::read(s)? {
            match fields.as_slice() {
                [Some(kind), Some(k), v] => match (kind.as_str(), v) {
                    ("object", Some(v)) => {
                        state.objects.insert(k.clone(), v.clone());
                    }
                    ("counter", Some(v)) => {
                        state.counters.insert(k.clone(), v.parse().ok()?);
                    }
                    ("rows", Some(v)) => {
                        state.rows.insert(k.clone(), v.clone());
                    }
                    ("sequence", Some(v)) => {
                        state.sequences.insert(k.clone(), v.clone());
                    }
                    ("trigger", Some(v)) => {
                        state.trigger_tables.insert(k.clone(), v.clone());
                    }
                    _ => return None,
                },
                _ => return None,
            }
        }
        Some(state)
    }

    /// The first difference from `want`, naming the object; `None` when equal. `scope`: only
    /// these tables, their triggers and these sequences.
    pub fn difference(&self, want: &State, scope: Option<&BTreeSet<String>>) -> Option<String> {
        if let Some(what) = self.objects_difference(want, scope) {
            return Some(what);
        }
        let tables = |m: &BTreeMap<String, String>| -> BTreeSet<String> {
            m.keys()
                .filter(|t| scope.is_none_or(|s| s.contains(*t)))
                .cloned()
                .collect()
        };
        for t in tables(&want.rows).union(&tables(&self.rows)) {
            if want.rows.get(t) != self.rows.get(t) {
                return Some(format!("the rows of table `{t}` differ"));
            }
            if want.counters.get(t) != self.counters.get(t) {
                return Some(format!("the AUTO_INCREMENT counter of table `{t}` differs"));
            }
        }
        for (s, row) in &want.sequences {
            if scope.is_none_or(|sc| sc.contains(s)) && self.sequences.get(s) != Some(row) {
                return Some(format!("the state of sequence `{s}` differs"));
            }
        }
        None
    }

    /// The first difference in [`State::objects`] (definitions, grants, …), as
    /// [`State::difference`] names it.
    fn objects_difference(&self, want: &State, scope: Option<&BTreeSet<String>>) -> Option<String> {
        let in_scope = |key: &str| match scope {
            None => true,
            Some(tables) => match key.split_once(' ') {
                Some(("table" | "sequence", name)) => tables.contains(name),
                Some(("trigger", name)) => want
                    .trigger_tables
                    .get(name)
                    .or_else(|| self.trigger_tables.get(name))
                    .is_some_and(|t| tables.contains(t)),
                _ => false,
            },
        };
        let keys: BTreeSet<&String> = want
            .objects
            .keys()
            .chain(self.objects.keys())
            .filter(|k| in_scope(k))
            .collect();
        for key in keys {
            match (want.objects.get(key), self.objects.get(key)) {
                (Some(a), Some(b)) if a == b => {}
                (Some(a), Some(b)) => {
                    return Some(format!(
                        "{} differs{}",
                        describe(key),
                        first_changed_line(a, b)
                    ))
                }
                (Some(_), None) => return Some(format!("{} is gone", describe(key))),
                (None, _) => return Some(format!("{} was added", describe(key))),
            }
        }
        None
    }
}

/// `: <the first line of `now` that differs from `was`>`, shortened; empty when none does.
fn first_changed_line(was: &str, now: &str) -> String {
    let mut old = was.lines();
    for line in now.lines() {
        if old.next() != Some(line) {
            let line = line.replace('\u{1a}', "");
            let short: String = line.trim().chars().take(160).collect();
            return format!(": `{short}`");
        }
    }
    String::new()
}

/// `table t` → "table `t`".
fn describe(key: &str) -> String {
    if key == "disabled keys" {
        return "the set of disabled keys (`ALTER TABLE … DISABLE KEYS`)".into();
    }
    match key.split_once(' ') {
        Some((kind, name)) => format!("{kind} `{name}`"),
        None => format!("the {key}"),
    }
}

/// Sets the session up for reading a state and putting rows back, whatever a fixture or the
/// migrations left in it: the data mode (also how SHOW CREATE prints), no foreign key checks,
/// autocommit, no safe-updates, one time zone.
pub(crate) async fn prepare_session(
    conn: &mut MySqlConnection,
    server: &Server,
) -> Result<(), sqlx::Error> {
    compat::raw_sql(&prepared_sql(server))
        .execute(conn)
        .await
        .map(drop)
}

/// The settings a state is read under, as one statement. Statements dbtest builds are parsed as
/// utf8mb4 whatever an object's creation left the session with.
fn prepared_sql(server: &Server) -> String {
    format!(
        "SET SESSION sql_mode = '{DATA_MODE}', sql_quote_show_create = 1, foreign_key_checks = 0, \
         autocommit = 1, sql_safe_updates = 0, time_zone = '+00:00', group_concat_max_len = 4294967295, \
         character_set_client = 'utf8mb4', timestamp = DEFAULT{}",
        server.state_session_settings()
    )
}

/// One object listed in `information_schema`, and how its state is read.
struct Listed {
    key: String,
    /// What the listing says beyond the name (part of the digest).
    extra: String,
    /// The `SHOW CREATE` statement that shows it; `None` for a kind dbtest does not know (its
    /// listing alone is its state: no fresh clone has it).
    show: Option<&'static str>,
    name: String,
}

/// Reads the whole state of `db` (which the session must be prepared for, see
/// [`prepare_session`]); `script` is its template's clone script, whose tables' columns say what a
/// row digest reads.
pub(crate) async fn read(
    conn: &mut MySqlConnection,
    db: &DbName,
    script: &Script,
) -> Result<State, sqlx::Error> {
    let read = read_definitions(conn, db, None, None).await?;
    let mut state = read.state;
    state.rows = read_rows(conn, db, &read.tables, script, None).await?;
    Ok(state)
}

/// What a reset may take as unchanged without reading it: on MariaDB, the definition of an InnoDB
/// table, not partitioned, whose file is in the database's directory (`TABLES.CREATE_OPTIONS`
/// names no `DIRECTORY`), whose `information_schema.TABLES.CREATE_TIME` is older than the second
/// in which the last proof that the database is clean began (`since`), and so is that of every
/// table its foreign keys reference (all in this database).
///
/// Why that holds, as measured on MariaDB 10.11: `CREATE_TIME` of an InnoDB table is the change
/// time of its `.frm` file, on the server's clock, in whole seconds; every statement that changes
/// what `SHOW CREATE TABLE` shows of a table writes or renames that file (each `ALTER TABLE`, even
/// one that only changes a default, a comment or a counter; `CREATE`, `RENAME`, `CREATE OR
/// REPLACE`), so it is at least `since` after any such statement — but for what a foreign key
/// shows of its parent, which InnoDB keeps apart from the child's file, by the parent's name:
/// renaming the parent (away, into another database, two parents swapped, another table put in
/// its place) or a column it references changes the child's text and not its file. Each of those
/// is DDL on the parent, which leaves no table of that name or one whose `CREATE_TIME` moved:
/// hence the rule on parents. The one other thing InnoDB, not the file, adds to the text is
/// where the table's own file is (`DATA DIRECTORY`): `EXCHANGE PARTITION` with a partition kept
/// elsewhere moves it without touching the `.frm` (found by an independent review), and
/// `CREATE_OPTIONS` shows it, hence the rule on directories. The AUTO_INCREMENT counter is
/// compared all the same (`TABLES.AUTO_INCREMENT`), and rows always are: `TRUNCATE` and `EXCHANGE
/// PARTITION` change rows and counter without moving `UPDATE_TIME` or `CREATE_TIME`. A server clock that went back since
/// `since` (now is earlier) turns the gate off. MySQL keeps `CREATE_TIME` in its data dictionary
/// and documents no such rule: there every table is read.
pub(crate) struct Gate<'a> {
    /// Server seconds since the epoch when the last proof began; `None`: nothing is skipped.
    pub since: Option<i64>,
    pub want: &'a State,
    pub shapes: &'a Shapes,
}

/// Per table, what the gated listing says of it.
#[derive(Debug, Default)]
struct Facts {
    engine: Option<String>,
    /// `CREATE_TIME`, in seconds since the epoch.
    created: Option<i64>,
    /// `AUTO_INCREMENT`.
    counter: Option<u64>,
}

/// What a reset needs to know of each table of a template's clone script, read from its
/// `SHOW CREATE TABLE` text once per template rather than at every reset.
#[derive(Debug, Default)]
pub(crate) struct Shapes {
    tables: BTreeMap<String, Shape>,
}

#[derive(Debug)]
struct Shape {
    /// InnoDB and not partitioned: a table the gate may skip.
    gated: bool,
    /// The tables its foreign keys reference; `None` when one is in another database or a key
    /// cannot be read (the gate never skips it then).
    parents: Option<BTreeSet<String>>,
    /// InnoDB, not system-versioned: `TRUNCATE` empties it and starts its counter again, firing
    /// no trigger and leaving its `.frm` as it was.
    emptiable: bool,
    /// Made anew after every test (see [`snapshot::Table::truncated`]).
    truncated: bool,
}

impl Shapes {
    pub(crate) fn of(script: &Script) -> Shapes {
        let tables = script
            .tables
            .iter()
            .map(|t| {
                let innodb = engine_of(&t.create) == Some("InnoDB");
                let parents = foreign_keys(&t.create).and_then(|keys| {
                    keys.into_values()
                        .map(|fk| fk.database.is_none().then_some(fk.table))
                        .collect()
                });
                let shape = Shape {
                    gated: innodb && !t.create.to_ascii_uppercase().contains("PARTITION BY"),
                    parents,
                    emptiable: innodb && t.versioning.is_none(),
                    truncated: t.truncated(),
                };
                (t.name.clone(), shape)
            })
            .collect();
        Shapes { tables }
    }
}

impl Gate<'_> {
    /// The tables whose definitions need not be read, from the listing's `facts`; `now` is the
    /// server's clock when the listing was read.
    fn unchanged(&self, facts: &BTreeMap<String, Facts>, now: i64) -> BTreeSet<String> {
        let Some(since) = self.since.filter(|since| *since <= now) else {
            return BTreeSet::new();
        };
        let untouched = |name: &str| {
            facts
                .get(name)
                .is_some_and(|f| f.created.is_some_and(|c| c < since))
        };
        facts
            .iter()
            .filter(|(name, f)| {
                let Some(shape) = self.shapes.tables.get(*name) else {
                    return false;
                };
                shape.gated
                    && f.engine.as_deref() == Some("InnoDB")
                    && untouched(name)
                    && self.want.objects.contains_key(&format!("table {name}"))
                    && shape
                        .parents
                        .as_ref()
                        .is_some_and(|parents| parents.iter().all(|p| untouched(p)))
            })
            .map(|(name, _)| name.clone())
            .collect()
    }
}

/// A foreign key: the database (`None`: this one) and table it references.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct ForeignKey {
    database: Option<String>,
    table: String,
}

/// The foreign keys a `SHOW CREATE TABLE` text shows, by name (`CONSTRAINT `n` FOREIGN KEY (…)
/// REFERENCES [`db`.]`t` (…)`); `None` if one cannot be read so.
fn foreign_keys(create: &str) -> Option<BTreeMap<String, ForeignKey>> {
    let mut out = BTreeMap::new();
    for line in create.lines() {
        let Some(rest) = line.trim_start().strip_prefix("CONSTRAINT ") else {
            continue;
        };
        let (name, rest) = take_ident(rest)?;
        let Some(rest) = rest.strip_prefix(" FOREIGN KEY ") else {
            continue;
        };
        let (_columns, rest) = take_idents(rest)?;
        let rest = rest.strip_prefix(" REFERENCES ")?;
        let (first, rest) = take_ident(rest)?;
        let (database, table, rest) = match rest.strip_prefix('.') {
            Some(rest) => {
                let (table, rest) = take_ident(rest)?;
                (Some(first), table, rest)
            }
            None => (None, first, rest),
        };
        // Its columns are read only to know the key was read whole.
        take_idents(rest.strip_prefix(' ')?)?;
        let fk = ForeignKey { database, table };
        if out.insert(name, fk).is_some() {
            return None;
        }
    }
    // A key written some other way would be missed: none may be.
    let written = create.matches(" FOREIGN KEY ").count();
    (written == out.len()).then_some(out)
}

/// `(`a`, `b`)` at the start of `s`: the names, and what follows.
fn take_idents(s: &str) -> Option<(Vec<String>, &str)> {
    let mut rest = s.strip_prefix('(')?;
    let mut names = Vec::new();
    loop {
        let (name, after) = take_ident(rest)?;
        names.push(name);
        if let Some(after) = after.strip_prefix(", ") {
            rest = after;
        } else {
            return Some((names, after.strip_prefix(')')?));
        }
    }
}

/// The backquoted identifier `s` starts with, unquoted, and what follows it.
fn take_ident(s: &str) -> Option<(String, &str)> {
    let mut name = String::new();
    let mut chars = s.strip_prefix('`')?.char_indices();
    while let Some((i, c)) = chars.next() {
        if c == '`' {
            let after = &s[i + 2..];
            match after.strip_prefix('`') {
                Some(_) => {
                    name.push('`');
                    chars.next();
                }
                None => return Some((name, after)),
            }
        } else {
            name.push(c);
        }
    }
    None
}

/// Reads the state of `db` but its rows; returns it with the base tables found. `scope`: only
/// these tables, their triggers, and these sequences (after a reset, to check what it touched).
///
/// Two requests (three with MyISAM or Aria tables): the listing, from `information_schema`
/// lookups that scan only this database; then every `SHOW CREATE` and the sequences' rows.
async fn read_definitions(
    conn: &mut MySqlConnection,
    db: &DbName,
    scope: Option<&BTreeSet<String>>,
    gate: Option<&Gate<'_>>,
) -> Result<Definitions, sqlx::Error> {
    let gate = gate.filter(|g| g.since.is_some());
    let mut listing = list(conn, db, scope, gate.is_some()).await?;
    let mut state = State {
        trigger_tables: std::mem::take(&mut listing.trigger_tables),
        ..State::default()
    };
    // Tables no DDL can have touched keep the definitions they had (see `Gate`).
    let skipped = match (gate, listing.now) {
        (Some(g), Some(now)) => take_unchanged(&mut listing, g, now, &mut state),
        _ => 0,
    };
    show_all(conn, db, scope, &listing, &mut state).await?;
    Ok(Definitions {
        state,
        tables: listing.tables,
        now: listing.now,
        skipped,
    })
}

/// What the listing of a database found (see [`list`]).
#[derive(Default)]
struct Listing {
    /// Every object, each with how its state is read.
    objects: Vec<Listed>,
    tables: Vec<String>,
    sequences: Vec<String>,
    /// Each trigger's table.
    trigger_tables: BTreeMap<String, String>,
    /// The session's account (`CURRENT_USER()`), whose `DEFINER` clauses a clone drops.
    user: String,
    /// The server's clock when the listing began (seconds since the epoch).
    now: Option<i64>,
    /// What a gated read learns of each table (see [`Gate`]).
    facts: BTreeMap<String, Facts>,
}

/// Lists the objects of `db` (within `scope`), in one request, and the grants on its routines.
/// `gated`: also what the gate needs of each table.
async fn list(
    conn: &mut MySqlConnection,
    db: &DbName,
    scope: Option<&BTreeSet<String>>,
    gated: bool,
) -> Result<Listing, sqlx::Error> {
    let d = db.literal();
    let mut out = Listing::default();
    for row in compat::raw_sql(&listing_sql(db, scope, gated))
        .fetch_all(&mut *conn)
        .await?
    {
        let source = text(&row, 0)?.unwrap_or_default();
        let name = text(&row, 1)?.unwrap_or_default();
        let a = text(&row, 2)?.unwrap_or_default();
        let b = text(&row, 3)?;
        let number = |i| text(&row, i).map(|v| v.and_then(|v| v.parse::<i64>().ok()));
        let (c, n) = (number(4)?, number(5)?);
        let b = b.unwrap_or_default();
        let (kind, show, extra) = match (source.as_str(), a.as_str()) {
            ("user", _) => {
                out.user = name;
                out.now = c;
                continue;
            }
            ("table", "VIEW") => ("view", Some("VIEW"), String::new()),
            ("table", "SEQUENCE") => ("sequence", Some("SEQUENCE"), String::new()),
            ("table", "BASE TABLE" | "SYSTEM VERSIONED") => ("table", Some("TABLE"), a.clone()),
            ("table", _) => ("unknown table", None, a.clone()),
            ("trigger", _) => ("trigger", Some("TRIGGER"), format!("on {a} {b}")),
            ("routine", "PROCEDURE") => ("procedure", Some("PROCEDURE"), String::new()),
            ("routine", "FUNCTION") => ("function", Some("FUNCTION"), String::new()),
            ("routine", _) => ("unknown routine", None, a.clone()),
            ("event", _) => ("event", Some("EVENT"), String::new()),
            ("grant", _) => ("grant", None, a.clone()),
            _ => ("unknown", None, format!("{source} {a} {b}")),
        };
        let table_in_scope = |t: &str| scope.is_none_or(|s| s.contains(t));
        let wanted = match kind {
            "table" | "sequence" | "unknown table" => table_in_scope(&name),
            "trigger" => table_in_scope(&a),
            _ => scope.is_none(),
        };
        if !wanted {
            continue;
        }
        if kind == "table" && gated {
            let f = out.facts.entry(name.clone()).or_default();
            f.engine = Some(b.clone()).filter(|e| !e.is_empty());
            f.created = c;
            f.counter = n.and_then(|n| u64::try_from(n).ok());
        }
        match kind {
            "table" => out.tables.push(name.clone()),
            "sequence" => out.sequences.push(name.clone()),
            "trigger" => {
                out.trigger_tables.insert(name.clone(), a.clone());
            }
            _ => {}
        }
        out.objects.push(Listed {
            key: format!("{kind} {name}"),
            extra,
            show,
            name,
        });
    }

    // Grants on routines are in no information_schema table: read where the account may.
    if scope.is_none() {
        let routines = compat::raw_sql(&format!(
            "SELECT CONCAT_WS(' ', User, Host, Routine_type, Routine_name, Proc_priv) \
             FROM mysql.procs_priv WHERE Db = {d}"
        ))
        .fetch_all(&mut *conn)
        .await;
        if let Ok(rows) = routines {
            for row in rows {
                let grant = text(&row, 0)?.unwrap_or_default();
                out.objects.push(Listed {
                    key: format!("grant {grant}"),
                    extra: String::new(),
                    show: None,
                    name: grant,
                });
            }
        }
    }
    Ok(out)
}

/// The listing request of `db` (see [`list`]): a row per object, its kind first.
fn listing_sql(db: &DbName, scope: Option<&BTreeSet<String>>, gated: bool) -> String {
    let d = db.literal();
    // TRIGGERS is looked up by EVENT_OBJECT_SCHEMA: by TRIGGER_SCHEMA, MariaDB scans every
    // database on the server. TABLES without ENGINE opens no table: only a gated read asks
    // for what needs it. `UNIX_TIMESTAMP()` is the statement's start, before it reads anything.
    // A scope of few tables is looked up table by table: by name, the server opens only those
    // (the result is filtered below all the same).
    let names: Option<Vec<String>> = scope.and_then(|s| s.iter().map(|t| literal(t)).collect());
    let by_name: Vec<Option<String>> = match names {
        Some(names) if !names.is_empty() => names.into_iter().map(Some).collect(),
        _ => vec![None],
    };
    let mut parts = Vec::new();
    for name in &by_name {
        let (table, trigger) = match name {
            Some(n) => (
                format!(" AND TABLE_NAME = {n}"),
                format!(" AND EVENT_OBJECT_TABLE = {n}"),
            ),
            None => (String::new(), String::new()),
        };
        parts.push(if gated {
            format!(
                "SELECT 'table', TABLE_NAME, TABLE_TYPE, \
                   IF(LOCATE('DIRECTORY', COALESCE(CREATE_OPTIONS, '')) = 0, ENGINE, \
                      CONCAT(ENGINE, ' in a directory of its own')), \
                   UNIX_TIMESTAMP(CREATE_TIME), AUTO_INCREMENT \
                 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {d}{table}"
            )
        } else {
            format!(
                "SELECT 'table', TABLE_NAME, TABLE_TYPE, NULL, NULL, NULL \
                 FROM information_schema.TABLES WHERE TABLE_SCHEMA = {d}{table}"
            )
        });
        parts.push(format!(
            "SELECT 'trigger', TRIGGER_NAME, EVENT_OBJECT_TABLE, \
               CONCAT_WS(' ', ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER), NULL, NULL \
             FROM information_schema.TRIGGERS WHERE EVENT_OBJECT_SCHEMA = {d}{trigger}"
        ));
    }
    let mut listing = format!(
        "USE {db};\n\
         SELECT 'user', CURRENT_USER(), NULL, NULL, UNIX_TIMESTAMP(), NULL \
         UNION ALL {}",
        parts.join(" UNION ALL ")
    );
    if scope.is_none() {
        // Grants name the database: a fresh clone, new and with a name of its own, has none of
        // its own (a pattern like `dbtest\_%` matches both). Database grants are patterns: an
        // exact one escapes its `_`.
        listing.push_str(&format!(
            " UNION ALL SELECT 'routine', ROUTINE_NAME, ROUTINE_TYPE, NULL, NULL, NULL \
               FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = {d} \
             UNION ALL SELECT 'event', EVENT_NAME, NULL, NULL, NULL, NULL \
               FROM information_schema.EVENTS WHERE EVENT_SCHEMA = {d} \
             UNION ALL SELECT 'grant', CONCAT_WS(' ', GRANTEE, PRIVILEGE_TYPE, 'on', TABLE_SCHEMA), IS_GRANTABLE, NULL, NULL, NULL \
               FROM information_schema.SCHEMA_PRIVILEGES WHERE {d} LIKE TABLE_SCHEMA \
             UNION ALL SELECT 'grant', CONCAT_WS(' ', GRANTEE, PRIVILEGE_TYPE, 'on table', TABLE_NAME), IS_GRANTABLE, NULL, NULL, NULL \
               FROM information_schema.TABLE_PRIVILEGES WHERE TABLE_SCHEMA = {d} \
             UNION ALL SELECT 'grant', CONCAT_WS(' ', GRANTEE, PRIVILEGE_TYPE, 'on column', TABLE_NAME, COLUMN_NAME), \
               IS_GRANTABLE, NULL, NULL, NULL FROM information_schema.COLUMN_PRIVILEGES WHERE TABLE_SCHEMA = {d}"
        ));
    }
    listing
}

/// Takes the definitions of the tables `gate` finds unchanged since the last proof from the
/// reference state instead of reading them again: they leave `listing`'s objects and go into
/// `state` as they were. Returns how many.
fn take_unchanged(listing: &mut Listing, gate: &Gate<'_>, now: i64, state: &mut State) -> usize {
    let unchanged = gate.unchanged(&listing.facts, now);
    let facts = &listing.facts;
    let mut skipped = 0;
    listing.objects.retain(|o| {
        let Some(t) = o
            .key
            .strip_prefix("table ")
            .filter(|t| unchanged.contains(*t))
        else {
            return true;
        };
        let Some(was) = gate.want.objects.get(&o.key) else {
            return true;
        };
        // Its listing (BASE TABLE or SYSTEM VERSIONED) is part of its state.
        if !was.ends_with(&format!("\n{}\n", o.extra)) {
            return true;
        }
        state.objects.insert(o.key.clone(), was.clone());
        if let Some(counter) = facts[t].counter.filter(|n| *n > 1) {
            // SHOW CREATE shows a counter from 2 on.
            state.counters.insert(t.to_owned(), counter);
        }
        skipped += 1;
        false
    });
    skipped
}

/// Reads what `listing` lists into `state`, in one request: every `SHOW CREATE` and the
/// sequences' rows, one row each (and, for engines that keep them, the disabled keys).
async fn show_all(
    conn: &mut MySqlConnection,
    db: &DbName,
    scope: Option<&BTreeSet<String>>,
    listing: &Listing,
    state: &mut State,
) -> Result<(), sqlx::Error> {
    let d = db.literal();
    let Listing {
        objects,
        sequences,
        user,
        ..
    } = listing;
    // One request: every SHOW CREATE and the sequences' rows, one row each.
    let mut batch = Vec::new();
    if scope.is_none() {
        batch.push(format!("SHOW CREATE DATABASE {db}"));
    }
    for o in objects {
        if let Some(show) = o.show {
            batch.push(format!("SHOW CREATE {show} {}", ident(&o.name)));
        }
    }
    for s in sequences {
        batch.push(format!(
            "SELECT * FROM {}{}",
            ident(s),
            snapshot::NOT_A_VIEW
        ));
    }
    let rows = compat::raw_sql(&batch.join(";\n"))
        .fetch_all(&mut *conn)
        .await?;
    let mut rows = rows.iter();
    let mut next = || {
        rows.next().ok_or_else(|| {
            sqlx::Error::Protocol("dbtest: a state query returned fewer rows than asked".into())
        })
    };
    let definer = snapshot::definer_clauses(user);
    let normal = |s: String| {
        let mut s = s.replace(db.as_str(), "\u{1a}db");
        for clause in &definer {
            s = s.replace(clause.as_str(), "\u{1a}definer ");
        }
        s
    };
    if scope.is_none() {
        let row = next()?;
        state
            .objects
            .insert("database".into(), digest(&[], &all_columns(row, &normal)?));
    }
    // Engines that keep `ALTER TABLE … DISABLE KEYS`, which SHOW CREATE does not show.
    let mut keys_kept = false;
    for o in objects {
        let mut fields = Vec::new();
        if o.show.is_some() {
            let row = next()?;
            let name = text(row, 0)?.unwrap_or_default();
            if name != o.name {
                return Err(sqlx::Error::Protocol(format!(
                    "dbtest: SHOW CREATE of `{}` answered for `{name}`",
                    o.name
                )));
            }
            fields = all_columns(row, &normal)?;
        }
        if o.show == Some("TABLE") {
            if let Some(create) = fields.get_mut(1) {
                keys_kept |= !engine_of(create).is_some_and(|e| e == "InnoDB" || e == "MEMORY");
                if let Some((rest, counter)) = take_counter(create) {
                    state.counters.insert(o.name.clone(), counter);
                    *create = rest;
                }
            }
        }
        fields.push(o.extra.clone());
        state
            .objects
            .insert(o.key.clone(), digest(&[&o.key], &fields));
    }
    for s in sequences {
        let row = next()?;
        state
            .sequences
            .insert(s.clone(), all_columns(row, &normal)?.join(","));
    }
    if next().is_ok() {
        return Err(sqlx::Error::Protocol(
            "dbtest: a state query returned more rows than asked".into(),
        ));
    }
    if keys_kept && scope.is_none() {
        let disabled: Option<String> = compat::query_scalar(&format!(
            "SELECT GROUP_CONCAT(CONCAT_WS('.', TABLE_NAME, INDEX_NAME) ORDER BY TABLE_NAME, INDEX_NAME) \
             FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = {d} AND COMMENT = 'disabled'"
        ))
        .fetch_one(&mut *conn)
        .await?;
        state.objects.insert(
            "disabled keys".into(),
            digest(&[], &[disabled.unwrap_or_default()]),
        );
    }
    Ok(())
}

/// What [`read_definitions`] found.
struct Definitions {
    /// The state, but rows.
    state: State,
    /// The base tables.
    tables: Vec<String>,
    /// The server's clock (seconds since the epoch) when the listing began.
    now: Option<i64>,
    /// How many tables' definitions were taken as unchanged (see [`Gate`]).
    skipped: usize,
}

/// The digest of no rows (see [`rows_sql`]).
const NO_ROWS: &str = "0:0";

/// What [`read_rows`] gives a table that should be empty and is not.
const SOME_ROWS: &str = "some rows";

/// The digests of the rows of `tables` in `db` (of the tables the clone script knows: a table
/// it does not know is a difference already). One query, a scalar subquery per table (a statement
/// per table costs the server several times as much). A table empty in `want` is only asked
/// whether it still is (an empty table equals an empty table): a digest's expression costs the
/// server more to prepare than a table without rows costs to read.
async fn read_rows(
    conn: &mut MySqlConnection,
    db: &DbName,
    tables: &[String],
    script: &Script,
    want: Option<&State>,
) -> Result<BTreeMap<String, String>, sqlx::Error> {
    let known: Vec<&snapshot::Table> = tables.iter().filter_map(|t| script.table(t)).collect();
    let empty = |t: &snapshot::Table| {
        want.is_some_and(|w| w.rows.get(&t.name).is_some_and(|r| r == NO_ROWS))
    };
    let mut out = BTreeMap::new();
    for chunk in known.chunks(512) {
        let sql = format!(
            "SELECT {}",
            chunk
                .iter()
                .map(|t| if empty(t) {
                    format!(
                        "IF(EXISTS(SELECT 1 FROM {}), '{SOME_ROWS}', '{NO_ROWS}')",
                        rows_from(db, t)
                    )
                } else {
                    format!("({})", rows_sql(db, t))
                })
                .collect::<Vec<_>>()
                .join(",\n")
        );
        let row = compat::raw_sql(&sql).fetch_one(&mut *conn).await?;
        for (i, t) in chunk.iter().enumerate() {
            out.insert(t.name.clone(), text(&row, i)?.unwrap_or_default());
        }
    }
    Ok(out)
}

/// The query of the digest of table `t`'s rows in `db`: how many, and the exact sum of the first
/// 64 bits of their MD5s (the order of rows does not matter, each row does). A row's MD5 is of
/// each column's own MD5, or `n` for NULL: fixed-width parts, so no change of values can move a
/// boundary and keep the digest — as it can with `CHECKSUM TABLE`, whose row checksum does not
/// see where one string ends and the next begins. Every stored column counts (generated ones
/// follow from them); a system-versioned table's history too, with its row start and end.
fn rows_sql(db: &DbName, t: &snapshot::Table) -> String {
    // Each value as text that tells it apart: FLOAT printed as a string keeps 6 digits, so as a
    // DOUBLE (exact; `* 1e0` rather than `CAST(… AS DOUBLE)`, which MySQL has from 8.0.17 only);
    // an ENUM's error value and a '' member print alike, so with its index.
    let value = |c: &snapshot::Column| {
        let q = ident(&c.name);
        match c.data_type.as_str() {
            "float" => format!("({q} * 1e0)"),
            "enum" | "set" => format!("CONCAT({q} + 0, ':', CAST({q} AS BINARY))"),
            _ => format!("CAST({q} AS BINARY)"),
        }
    };
    let mut cols: Vec<String> = t.columns.iter().map(value).collect();
    if let Some(v) = &t.versioning {
        cols.push(format!("CAST({} AS BINARY)", ident(&v.start)));
        cols.push(format!("CAST({} AS BINARY)", ident(&v.end)));
    }
    let from = rows_from(db, t);
    let parts = cols
        .iter()
        .map(|c| format!("COALESCE(MD5({c}), 'n')"))
        .collect::<Vec<_>>()
        .join(", ");
    let row = if cols.is_empty() {
        "MD5('')".to_owned()
    } else {
        format!("MD5(CONCAT({parts}))")
    };
    format!(
        "SELECT CONCAT_WS(':', COUNT(*), COALESCE(SUM(CAST(CONV(LEFT({row}, 16), 16, 10) AS UNSIGNED)), 0)) \
         FROM {from}"
    )
}

/// Table `t` of `db` as a digest reads it: every row, a system-versioned table's history too,
/// never through a view.
fn rows_from(db: &DbName, t: &snapshot::Table) -> String {
    let mut from = format!("{db}.{}", ident(&t.name));
    if t.versioning.is_some() {
        from.push_str(" FOR SYSTEM_TIME ALL");
    }
    from.push_str(snapshot::NOT_A_VIEW);
    from
}

#[cfg(test)]
#[test]
fn the_row_digest_reads_every_column_and_the_history() {
    let t = snapshot::Table {
        name: "hist".into(),
        create: String::new(),
        has_rows: true,
        columns: vec![
            snapshot::Column::new("id", "int"),
            snapshot::Column::new("na`me", "varchar"),
            snapshot::Column::new("f", "float"),
            snapshot::Column::new("e", "enum"),
        ],
        versioning: Some(snapshot::Versioning {
            start: "row_start".into(),
            end: "row_end".into(),
            with_history: true,
        }),
    };
    let sql = rows_sql(
        &DbName::parse("dbtest_db_01234567_0123456789ab").unwrap(),
        &t,
    );
    for part in [
        "COALESCE(MD5(CAST(`id` AS BINARY)), 'n')",
        "COALESCE(MD5(CAST(`na``me` AS BINARY)), 'n')",
        "COALESCE(MD5((`f` * 1e0)), 'n')",
        "COALESCE(MD5(CONCAT(`e` + 0, ':', CAST(`e` AS BINARY))), 'n')",
        "COALESCE(MD5(CAST(`row_end` AS BINARY)), 'n')",
        "FROM `dbtest_db_01234567_0123456789ab`.`hist` FOR SYSTEM_TIME ALL USE INDEX ()",
    ] {
        assert!(sql.contains(part), "{part} in {sql}");
    }
}

/// The engine in a `SHOW CREATE TABLE` text.
fn engine_of(create: &str) -> Option<&str> {
    let start = create.find("\n) ENGINE=")? + "\n) ENGINE=".len();
    create[start..].split([' ', '\n']).next()
}

/// Every column of `row` as `name=value`, normalised, but the trigger's `Created` time (a fresh
/// clone's triggers are new, whenever it was made).
fn all_columns(
    row: &MySqlRow,
    normal: &impl Fn(String) -> String,
) -> Result<Vec<String>, sqlx::Error> {
    let mut out = Vec::new();
    for col in row.columns() {
        if col.name() == "Created" {
            continue;
        }
        let value = text(row, col.ordinal())?.unwrap_or_else(|| "\u{1a}NULL".into());
        out.push(format!("{}={}", col.name(), normal(value)));
    }
    Ok(out)
}

/// What an object's state holds: `head` and `fields`, one per line (a field's own line breaks are
/// the server's, and every field starts with its column's name, so the lines say which is which).
fn digest(head: &[&str], fields: &[String]) -> String {
    let mut out = String::new();
    for f in head
        .iter()
        .copied()
        .chain(fields.iter().map(String::as_str))
    {
        out.push_str(f);
        out.push('\n');
    }
    out
}

/// Splits the AUTO_INCREMENT counter out of a `SHOW CREATE TABLE` text: the server prints it right
/// after the engine, on the line of table options (`) ENGINE=InnoDB AUTO_INCREMENT=11 DEFAULT …`).
fn take_counter(create: &str) -> Option<(String, u64)> {
    let start = create.find("\n) ENGINE=")? + "\n) ENGINE=".len();
    let engine_end = start + create[start..].find(' ')?;
    let rest = &create[engine_end..];
    let digits_at = " AUTO_INCREMENT=".len();
    if !rest.starts_with(" AUTO_INCREMENT=") {
        return None;
    }
    let len = rest[digits_at..]
        .bytes()
        .take_while(u8::is_ascii_digit)
        .count();
    let counter = rest[digits_at..digits_at + len].parse().ok()?;
    Some((
        format!("{}{}", &create[..engine_end], &rest[digits_at + len..]),
        counter,
    ))
}

/// What became of a finished test's database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// Proven equal to a fresh clone (after putting back this many tables and sequences), by a
    /// proof that began at `proven` on the server's clock (seconds since the epoch).
    Reset {
        restored: usize,
        proven: Option<i64>,
    },
    /// To be dropped.
    Drop(Why),
}

/// Why a database is dropped instead of reset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Why {
    /// A session other than dbtest's is still on it.
    InUse,
    /// A prepared XA transaction on the server (it outlives its session, and may hold changes
    /// to this database that would appear when it commits): its xid.
    PreparedXa(String),
    /// The test changed what reset does not put back (DDL): which object.
    Changed(String),
    /// Put back, yet still not equal to a fresh clone: what differs. The kind of change cannot
    /// be reset.
    NotRestored(String),
    /// What differs is of a kind reset cannot put back as a fresh clone has it: what.
    CannotReset(String),
    /// The template itself was changed since it was built (a test wrote into it): which table.
    /// Fresh clones carry the change too.
    TemplateChanged(String),
}

impl fmt::Display for Why {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Why::InUse => f.write_str("another session still uses it"),
            Why::PreparedXa(xid) => write!(
                f,
                "a prepared XA transaction ({xid}, see XA RECOVER) outlives its session and may hold changes to it"
            ),
            Why::CannotReset(what) => write!(f, "{what} cannot be put back as a fresh clone has them"),
            Why::TemplateChanged(table) => write!(
                f,
                "the rows of the template's table `{table}` are no longer those it was built with"
            ),
            Why::Changed(what) => write!(f, "the test changed its schema: {what}"),
            Why::NotRestored(what) => {
                write!(f, "after putting it back, {what} from a fresh clone's")
            }
        }
    }
}

/// What a reset puts back.
#[derive(Debug, Default)]
struct Plan {
    rows: BTreeSet<String>,
    counters: BTreeSet<String>,
    /// Empty in a fresh clone, with no counter shown: emptied by `TRUNCATE`, which puts back rows
    /// and counter in one statement, fires no trigger and leaves the table's `.frm` (so its
    /// `CREATE_TIME`) as it was.
    emptied: BTreeSet<String>,
    sequences: BTreeSet<String>,
    /// Not put back themselves, but checked after (MERGE tables: their rows are others').
    checked: BTreeSet<String>,
}

impl Plan {
    fn is_empty(&self) -> bool {
        self.rows.is_empty()
            && self.counters.is_empty()
            && self.emptied.is_empty()
            && self.sequences.is_empty()
    }

    fn scope(&self) -> BTreeSet<String> {
        self.rows
            .iter()
            .chain(&self.counters)
            .chain(&self.emptied)
            .chain(&self.sequences)
            .chain(&self.checked)
            .cloned()
            .collect()
    }
}

/// Whether `db` can be let go of now, for a reset (`None`) or only dropped (`Some(why)`): no
/// other session is on it and no prepared XA transaction may hold changes to it. Asked before
/// [`reset`], at the test's end: what it finds is the test's doing, and the test fails if its
/// database cannot then be dropped either. Leaves the session prepared for [`reset`] (see
/// [`prepare_session`]).
pub(crate) async fn let_go(
    conn: &mut MySqlConnection,
    db: &DbName,
    server: &Server,
) -> Result<Option<Why>, sqlx::Error> {
    // MySQL 8.0.19+ shows prepared XA transactions only to XA_RECOVER_ADMIN, and refuses others
    // with ER_XAER_RMERR (1401) before naming the privilege (1227): once refused, not asked again.
    static XA_REFUSED: AtomicBool = AtomicBool::new(false);
    let d = db.literal();
    let others = format!(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = {d} AND ID <> CONNECTION_ID()"
    );
    // One request: the session prepared for the reset, the other sessions, the prepared XA
    // transactions (a row of four columns each).
    let ask = |xa: bool| {
        let mut sql = format!("{};\n{others}", prepared_sql(server));
        if xa {
            sql.push_str(";\nXA RECOVER");
        }
        sql
    };
    let xa = !XA_REFUSED.load(Ordering::Relaxed);
    let rows = match compat::raw_sql(&ask(xa)).fetch_all(&mut *conn).await {
        Ok(rows) => rows,
        Err(e) if xa && matches!(crate::compat::server_code(&e), Some(1401 | 1227)) => {
            XA_REFUSED.store(true, Ordering::Relaxed);
            say::once(
                "xa recover refused",
                &format!(
                    "dbtest: the server refused XA RECOVER ({e}), so a test that leaves a prepared XA \
                     transaction behind cannot be told apart; grant XA_RECOVER_ADMIN (MySQL 8.0.19+) to \
                     have it checked"
                ),
            );
            compat::raw_sql(&ask(false)).fetch_all(&mut *conn).await?
        }
        Err(e) => return Err(e),
    };
    let count = |row: &MySqlRow| -> Result<i64, sqlx::Error> {
        Ok(text(row, 0)?
            .and_then(|n| n.parse().ok())
            .unwrap_or(i64::MAX))
    };
    let mut in_use = rows.first().map_or(Ok(i64::MAX), count)? > 0;
    let mut prepared = rows.get(1).map(|row| text(row, 3)).transpose()?;

    // Another session still on the database (a connection the test opened itself and left
    // open) could write after the reset: not provably clean. The test's pool has just closed, and
    // the server may take a moment to end those sessions: wait for them, briefly; then look for
    // prepared XA transactions again (such a session may have left one).
    if in_use {
        let deadline = std::time::Instant::now() + std::time::Duration::from_millis(500);
        while in_use {
            if std::time::Instant::now() > deadline {
                return Ok(Some(Why::InUse));
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            let row = compat::raw_sql(&others).fetch_one(&mut *conn).await?;
            in_use = count(&row)? > 0;
        }
        if !XA_REFUSED.load(Ordering::Relaxed) {
            let rows = compat::raw_sql("XA RECOVER").fetch_all(&mut *conn).await?;
            prepared = rows.first().map(|row| text(row, 3)).transpose()?;
        }
    }
    // A prepared XA transaction has no session, yet may hold changes to any database.
    if let Some(data) = prepared {
        return Ok(Some(Why::PreparedXa(data.unwrap_or_default())));
    }
    Ok(None)
}

/// What a reset puts a database back to: a fresh clone of a template.
pub(crate) struct Fresh<'a> {
    /// The template's name.
    pub template: &'a DbName,
    /// Its clone script.
    pub script: &'a Script,
    /// What a reset needs to know of the script's tables.
    pub shapes: &'a Shapes,
    /// The state of a fresh clone.
    pub state: &'a State,
}

/// Resets `db` to `fresh`, on a session prepared by [`prepare_session`], once [`let_go`] found
/// nothing in the way. `clean_since`: when the last proof that `db` was clean began (see
/// [`Gate`]).
pub(crate) async fn reset(
    conn: &mut MySqlConnection,
    db: &DbName,
    fresh: &Fresh<'_>,
    clean_since: Option<i64>,
    server: &Server,
) -> Result<Outcome, sqlx::Error> {
    let Fresh {
        template,
        script,
        shapes,
        state: want,
    } = *fresh;
    // Only a database of dbtest's is put back (and only one is ever claimed, see `pool::claim`).
    if !crate::naming::is_test_db_of(db, template) {
        return Err(sqlx::Error::Protocol(format!(
            "dbtest: refusing to reset {db}: not a test database of {template}"
        )));
    }
    let gate = Gate {
        // The gate reads what only MariaDB keeps as it needs (see `Gate`).
        since: clean_since.filter(|_| server.is_mariadb()),
        want,
        shapes,
    };
    let started = std::time::Instant::now();
    let read = read_definitions(conn, db, None, Some(&gate)).await?;
    let (mut have, proven) = (read.state, read.now);
    let definitions = started.elapsed();
    say::debug(|| {
        format!(
            "{db}: definitions read in {definitions:.1?}, of {} tables {} taken as unchanged{}",
            read.tables.len(),
            read.skipped,
            clean_since.map_or(String::new(), |s| format!(
                " (no DDL since {s}, the start of the last proof)"
            ))
        )
    });
    if let Some(what) = definitions_differ(&have, want) {
        return Ok(Outcome::Drop(Why::Changed(what)));
    }
    have.rows = read_rows(conn, db, &read.tables, script, Some(want)).await?;
    let rows = started.elapsed() - definitions;
    let plan = match plan(&have, want, script, shapes) {
        Ok(plan) => plan,
        Err(why) => return Ok(Outcome::Drop(why)),
    };
    let phases = |restored: std::time::Duration| {
        say::debug(|| {
            format!(
                "{db}: rows read in {rows:.1?}; {} tables put back in {restored:.1?} ({}), read again in {:.1?}",
                plan.rows.len() + plan.emptied.len(),
                plan.rows
                    .iter()
                    .chain(&plan.emptied)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                started.elapsed() - definitions - rows - restored
            )
        })
    };
    if plan.is_empty() {
        phases(std::time::Duration::ZERO);
        return Ok(Outcome::Reset {
            restored: 0,
            proven,
        });
    }
    compat::raw_sql(&restore_sql(&plan, template, script, want, server))
        .execute(&mut *conn)
        .await?;
    let restored = started.elapsed() - definitions - rows;
    let scope = plan.scope();
    let after_read = read_definitions(conn, db, Some(&scope), None).await?;
    let mut after = after_read.state;
    after.rows = read_rows(conn, db, &after_read.tables, script, Some(want)).await?;
    phases(restored);
    let Some(what) = after.difference(want, Some(&scope)) else {
        return Ok(Outcome::Reset {
            restored: scope.len(),
            proven,
        });
    };
    // Rows copied from the template that differ from a fresh clone's: is it the template?
    let copied: Vec<String> = plan.rows.iter().cloned().collect();
    let source = read_rows(conn, template, &copied, script, Some(want)).await?;
    if let Some(t) = copied.iter().find(|t| source.get(*t) != want.rows.get(*t)) {
        return Ok(Outcome::Drop(Why::TemplateChanged(t.clone())));
    }
    Ok(Outcome::Drop(Why::NotRestored(what)))
}

/// The first difference between `have` and `want` in anything but rows, counters and sequences'
/// state: what a reset cannot put back.
fn definitions_differ(have: &State, want: &State) -> Option<String> {
    have.objects_difference(want, None)
}

/// What to put back so `have` becomes `want`; `Err` names a difference that is not rows,
/// counters or sequences.
fn plan(have: &State, want: &State, script: &Script, shapes: &Shapes) -> Result<Plan, Why> {
    if let Some(what) = definitions_differ(have, want) {
        return Err(Why::Changed(what));
    }
    let mut plan = Plan::default();
    // A FULLTEXT index keeps state the rows do not show (deleted documents, document ids), which
    // changes relevance: its tables are made anew after any test, rows equal or not.
    for (t, shape) in &shapes.tables {
        if shape.truncated && want.rows.contains_key(t) {
            plan.rows.insert(t.clone());
        }
    }
    for (t, sum) in &want.rows {
        if have.rows.get(t) != Some(sum) {
            plan.rows.insert(t.clone());
        }
        if have.counters.get(t) != want.counters.get(t) {
            plan.counters.insert(t.clone());
        }
    }
    for (s, row) in &want.sequences {
        if have.sequences.get(s) != Some(row) {
            plan.sequences.insert(s.clone());
        }
    }
    // Only what the clone script can put back.
    for t in plan.rows.iter().chain(&plan.counters) {
        if script.table(t).is_none() {
            return Err(Why::Changed(format!(
                "table `{t}` is not in the template's clone script"
            )));
        }
    }
    for s in &plan.sequences {
        if script.sequence(s).is_none() {
            return Err(Why::Changed(format!(
                "sequence `{s}` is not in the template's clone script"
            )));
        }
    }
    let tables: Vec<_> = plan.rows.iter().filter_map(|t| script.table(t)).collect();
    for t in &tables {
        if t.create
            .to_ascii_uppercase()
            .contains("PARTITION BY SYSTEM_TIME")
        {
            // Which history partition a row lands in depends on what the table held before.
            return Err(Why::CannotReset(format!(
                "the rows of table `{}` (history partitioned BY SYSTEM_TIME)",
                t.name
            )));
        }
    }
    // A MERGE table's rows are put back with the tables it unites; a truncated table's counter
    // starts again.
    let merged: Vec<String> = tables
        .iter()
        .filter(|t| t.is_merge())
        .map(|t| t.name.clone())
        .collect();
    let truncated: Vec<String> = tables
        .iter()
        .filter(|t| t.truncated())
        .map(|t| t.name.clone())
        .collect();
    for t in merged {
        plan.rows.remove(&t);
        plan.checked.insert(t);
    }
    plan.counters.extend(truncated);
    // What a fresh clone has empty, with no counter shown: one TRUNCATE.
    let emptiable = |t: &String| {
        shapes.tables.get(t).is_some_and(|s| s.emptiable)
            && want.rows.get(t).is_some_and(|r| r == NO_ROWS)
            && !want.counters.contains_key(t)
    };
    plan.emptied = plan
        .rows
        .iter()
        .chain(&plan.counters)
        .filter(|t| emptiable(t))
        .cloned()
        .collect();
    plan.rows.retain(|t| !plan.emptied.contains(t));
    plan.counters.retain(|t| !plan.emptied.contains(t));
    Ok(plan)
}

/// The statements that put back what `plan` lists: rows while their tables have no triggers (the
/// triggers are dropped and made again, as a clone makes them after its rows), in one
/// transaction; then counters and sequences.
fn restore_sql(
    plan: &Plan,
    template: &DbName,
    script: &Script,
    want: &State,
    server: &Server,
) -> String {
    let tables: Vec<_> = plan.rows.iter().filter_map(|t| script.table(t)).collect();
    let history = tables
        .iter()
        .any(|t| t.versioning.as_ref().is_some_and(|v| v.with_history));
    let mut sql = vec![snapshot::data_session_sql(history)];
    let triggers: Vec<_> = tables
        .iter()
        .flat_map(|t| script.triggers_of(&t.name))
        .collect();
    sql.extend(
        triggers
            .iter()
            .map(|g| format!("DROP TRIGGER {}", ident(&g.name))),
    );
    // TRUNCATE commits implicitly: before the transaction.
    sql.extend(
        plan.emptied
            .iter()
            .map(|t| format!("TRUNCATE TABLE {}", ident(t))),
    );
    sql.extend(
        tables
            .iter()
            .filter(|t| t.truncated())
            .map(|t| t.delete_sql()),
    );
    // InnoDB rows in one transaction; the other engines' (MyISAM, Aria, MEMORY, MERGE) before
    // it, on their own: they have no transactions, and MySQL with enforce_gtid_consistency refuses
    // them in a transaction that wrote InnoDB rows (error 1785).
    let (transactional, others): (Vec<_>, Vec<_>) = tables
        .iter()
        .partition(|t| engine_of(&t.create) == Some("InnoDB"));
    let put_back = |sql: &mut Vec<String>, t: &snapshot::Table| {
        if !t.truncated() {
            sql.push(t.delete_sql());
        }
        sql.extend(t.copy_sql(template));
    };
    for t in others {
        put_back(&mut sql, t);
    }
    if !transactional.is_empty() {
        sql.push("START TRANSACTION".into());
        for t in transactional {
            put_back(&mut sql, t);
        }
        sql.push("COMMIT".into());
    }
    // ALTER TABLE commits implicitly: after the rows.
    for t in plan.counters.iter().filter_map(|t| script.table(t)) {
        sql.push(t.counter_sql(want.counters.get(&t.name).copied()));
    }
    for s in plan.sequences.iter().filter_map(|s| script.sequence(s)) {
        sql.push(s.set_sql(false));
    }
    sql.extend(triggers.iter().map(|g| g.create_sql()));
    // Back to the settings a state is read under (a trigger's creation sets its own, and a
    // trigger that fired may have changed the time zone).
    sql.push(prepared_sql(server));
    sql.join(";\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> State {
        State {
            objects: [
                ("table a".to_owned(), "1".to_owned()),
                ("trigger g".to_owned(), "2".to_owned()),
                ("view v".to_owned(), "3".to_owned()),
            ]
            .into_iter()
            .collect(),
            counters: [("a".to_owned(), 7)].into_iter().collect(),
            rows: [
                ("a".to_owned(), "1:2:3".to_owned()),
                ("b".to_owned(), "0:0:0".to_owned()),
            ]
            .into_iter()
            .collect(),
            sequences: [("s".to_owned(), "1,2,3".to_owned())].into_iter().collect(),
            trigger_tables: [("g".to_owned(), "a".to_owned())].into_iter().collect(),
        }
    }

    #[test]
    fn state_round_trips() {
        let s = state();
        assert_eq!(State::decode(&s.encode()), Some(s));
        assert_eq!(State::decode("nonsense"), None);
        assert_eq!(State::decode("counter\ta\tnot-a-number"), None);
    }

    #[test]
    fn differences_name_the_object() {
        let want = state();
        assert_eq!(want.difference(&want, None), None);
        let mut have = want.clone();
        have.objects.insert("view v".into(), "changed".into());
        assert_eq!(
            have.difference(&want, None).as_deref(),
            Some("view `v` differs: `changed`")
        );
        // Out of a scope of table `a`: the view is not looked at; the trigger on `a` is.
        assert_eq!(have.difference(&want, Some(&["a".to_owned()].into())), None);
        have.objects.insert("trigger g".into(), "changed".into());
        assert_eq!(
            have.difference(&want, Some(&["a".to_owned()].into()))
                .as_deref(),
            Some("trigger `g` differs: `changed`")
        );
        let mut have = want.clone();
        have.objects.insert("procedure p".into(), "x".into());
        assert_eq!(
            have.difference(&want, None).as_deref(),
            Some("procedure `p` was added")
        );
        let mut have = want.clone();
        have.rows.insert("b".into(), "1:1:1".into());
        assert_eq!(
            have.difference(&want, None).as_deref(),
            Some("the rows of table `b` differ")
        );
        let mut have = want.clone();
        have.sequences.insert("s".into(), "9".into());
        assert!(have
            .difference(&want, None)
            .unwrap()
            .contains("sequence `s`"));
    }

    #[test]
    fn a_plan_puts_back_rows_counters_sequences_and_nothing_else() {
        let mut want = state();
        let table = |name: &str, create: &str| snapshot::Table {
            name: name.into(),
            create: create.into(),
            has_rows: true,
            columns: vec![snapshot::Column::new("id", "int")],
            versioning: None,
        };
        let innodb = "CREATE TABLE `e` (\n  `id` int\n) ENGINE=InnoDB";
        let script = Script {
            tables: vec![
                table("a", ""),
                table("b", ""),
                table("e", innodb),
                table("n", innodb),
            ],
            sequences: vec![snapshot::Sequence {
                name: "s".into(),
                create: String::new(),
                next: 1,
                round: 0,
            }],
            ..Script::default()
        };
        let shapes = Shapes::of(&script);
        // `e` and `n` are empty in a fresh clone; `n` shows a counter there.
        for t in ["e", "n"] {
            want.rows.insert(t.into(), NO_ROWS.into());
        }
        want.counters.insert("n".into(), 4);
        let mut have = want.clone();
        have.rows.insert("a".into(), "1:1:1".into());
        have.counters.insert("a".into(), 9);
        have.sequences.insert("s".into(), "x".into());
        have.rows.insert("e".into(), SOME_ROWS.into());
        have.counters.insert("e".into(), 2);
        have.rows.insert("n".into(), SOME_ROWS.into());
        let p = plan(&have, &want, &script, &shapes).unwrap();
        assert_eq!(p.scope(), ["a", "e", "n", "s"].map(str::to_owned).into());
        assert!(p.counters.contains("a") && p.rows.contains("a"));
        // One TRUNCATE for `e`; `n`'s counter is put back as the others are.
        assert_eq!(p.emptied, ["e".to_owned()].into());
        assert!(!p.rows.contains("e") && !p.counters.contains("e"));
        assert!(p.rows.contains("n"));
        let mut ddl = have.clone();
        ddl.objects.insert("table a".into(), "altered".into());
        assert_eq!(
            plan(&ddl, &want, &script, &shapes).unwrap_err(),
            Why::Changed("table `a` differs: `altered`".into())
        );
        let mut dropped = want.clone();
        dropped.rows.remove("b");
        dropped.objects.remove("view v");
        assert!(plan(&dropped, &want, &script, &shapes).is_err());
    }

    #[test]
    fn rows_of_engines_without_transactions_are_put_back_outside_the_transaction() {
        let table = |name: &str, engine: &str| snapshot::Table {
            name: name.into(),
            create: format!(
                "CREATE TABLE `{name}` (\n  `id` int\n) ENGINE={engine} DEFAULT CHARSET=utf8mb4"
            ),
            has_rows: true,
            columns: vec![snapshot::Column::new("id", "int")],
            versioning: None,
        };
        let script = Script {
            tables: vec![
                table("inno", "InnoDB"),
                table("my", "MyISAM"),
                table("mem", "MEMORY"),
            ],
            ..Script::default()
        };
        let plan = Plan {
            rows: ["inno", "my", "mem"]
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            ..Plan::default()
        };
        let server = Server::identify("10.11.19-MariaDB", "", 151).unwrap();
        let sql = restore_sql(
            &plan,
            &DbName::parse("dbtest_tpl_0123456789abcdef").unwrap(),
            &script,
            &state(),
            &server,
        );
        let at = |needle: &str| {
            sql.find(needle)
                .unwrap_or_else(|| panic!("{needle} in {sql}"))
        };
        let (start, commit) = (at("START TRANSACTION"), at("COMMIT"));
        assert!(
            start < at("DELETE `inno` FROM `inno`") && at("DELETE `inno` FROM `inno`") < commit,
            "{sql}"
        );
        for other in ["DELETE `my` FROM `my`", "DELETE `mem` FROM `mem`"] {
            assert!(at(other) < start, "{other} before the transaction: {sql}");
        }
    }

    fn fk(database: Option<&str>, table: &str) -> ForeignKey {
        ForeignKey {
            database: database.map(str::to_owned),
            table: table.into(),
        }
    }

    #[test]
    fn foreign_keys_are_read_from_the_definition() {
        let create = "CREATE TABLE `c` (\n  `a` int,\n  `b` int,\n  KEY `x` (`a`),\n  \
                      CONSTRAINT `x` FOREIGN KEY (`a`) REFERENCES `p` (`id`),\n  \
                      CONSTRAINT `y` FOREIGN KEY (`a`, `b`) REFERENCES `other`.`q``r` (`i`, `j`) ON DELETE CASCADE,\n  \
                      CONSTRAINT `ck` CHECK (`a` > 0)\n) ENGINE=InnoDB";
        let keys = foreign_keys(create).unwrap();
        assert_eq!(keys.len(), 2);
        assert_eq!(keys["x"], fk(None, "p"));
        assert_eq!(keys["y"], fk(Some("other"), "q`r"));
        assert_eq!(
            foreign_keys("CREATE TABLE `t` (\n  `id` int\n) ENGINE=InnoDB"),
            Some(BTreeMap::new())
        );
        assert_eq!(
            foreign_keys("  CONSTRAINT `x` FOREIGN KEY (`a`) REFERENCES"),
            None
        );
        // A key not written as `CONSTRAINT … FOREIGN KEY` (or a comment that reads like one):
        // not read, so no key is taken as known.
        assert_eq!(
            foreign_keys("CREATE TABLE `t` (\n  `id` int COMMENT 'a FOREIGN KEY here'\n)"),
            None
        );
        assert_eq!(take_ident("`a``b` rest"), Some(("a`b".to_owned(), " rest")));
        assert_eq!(take_ident("`unclosed"), None);
    }

    #[test]
    fn the_gate_skips_only_old_innodb_tables_whose_parents_are_old() {
        let table = |name: &str, engine: &str, extra: &str| snapshot::Table {
            name: name.into(),
            create: format!("CREATE TABLE `{name}` (\n  `id` int{extra}\n) ENGINE={engine}"),
            has_rows: false,
            columns: vec![snapshot::Column::new("id", "int")],
            versioning: None,
        };
        let script = Script {
            tables: vec![
                table("p", "InnoDB", ""),
                table(
                    "c",
                    "InnoDB",
                    ",\n  CONSTRAINT `f` FOREIGN KEY (`id`) REFERENCES `p` (`id`)",
                ),
                table(
                    "x",
                    "InnoDB",
                    ",\n  CONSTRAINT `f` FOREIGN KEY (`id`) REFERENCES `other`.`p` (`id`)",
                ),
                table("m", "MyISAM", ""),
                table("q", "InnoDB", "\n) ENGINE=InnoDB PARTITION BY HASH (`id`"),
            ],
            ..Script::default()
        };
        let shapes = Shapes::of(&script);
        let want = State {
            objects: ["p", "c", "x", "m", "q"]
                .iter()
                .map(|t| (format!("table {t}"), "x\nBASE TABLE\n".to_owned()))
                .collect(),
            ..State::default()
        };
        let facts = |created: &[(&str, i64)]| -> BTreeMap<String, Facts> {
            created
                .iter()
                .map(|(t, c)| {
                    let engine = if *t == "m" { "MyISAM" } else { "InnoDB" };
                    let f = Facts {
                        engine: Some(engine.into()),
                        created: Some(*c),
                        ..Facts::default()
                    };
                    ((*t).to_owned(), f)
                })
                .collect()
        };
        let gate = Gate {
            since: Some(100),
            want: &want,
            shapes: &shapes,
        };
        let skipped = |s: BTreeSet<String>| s.into_iter().collect::<Vec<_>>();
        let all_old = facts(&[("p", 50), ("c", 50), ("x", 50), ("m", 50), ("q", 50)]);
        // Not `x`, whose parent is in another database; not MyISAM, not partitioned.
        assert_eq!(skipped(gate.unchanged(&all_old, 120)), ["c", "p"]);
        // Its parent changed in the second the proof began, or is not there (renamed away):
        // the child is read too.
        let p_new = facts(&[("p", 100), ("c", 50)]);
        assert!(gate.unchanged(&p_new, 120).is_empty());
        let p_gone = facts(&[("c", 50)]);
        assert!(gate.unchanged(&p_gone, 120).is_empty());
        let c_new = facts(&[("p", 50), ("c", 100)]);
        assert_eq!(skipped(gate.unchanged(&c_new, 120)), ["p"]);
        // A clock that went back, or no proof: nothing is skipped.
        assert!(gate.unchanged(&all_old, 99).is_empty());
        let no_proof = Gate {
            since: None,
            ..gate
        };
        assert!(no_proof.unchanged(&all_old, 120).is_empty());
    }

    #[test]
    fn the_counter_is_taken_from_the_options_line_only() {
        let create = "CREATE TABLE `t` (\n  `id` int NOT NULL AUTO_INCREMENT COMMENT ') ENGINE=x AUTO_INCREMENT=5',\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=11 DEFAULT CHARSET=utf8mb4";
        let (rest, n) = take_counter(create).unwrap();
        assert_eq!(n, 11);
        assert_eq!(
            rest,
            "CREATE TABLE `t` (\n  `id` int NOT NULL AUTO_INCREMENT COMMENT ') ENGINE=x AUTO_INCREMENT=5',\n  PRIMARY KEY (`id`)\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"
        );
        assert_eq!(
            take_counter("CREATE TABLE `t` (\n  `id` int\n) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"),
            None
        );
    }
}
