//! Helpers for the project's own integration tests.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::collections::BTreeMap;

use sqlx::mysql::MySqlConnection;
use sqlx::{Column, Row};

/// sqlx 0.9 takes SQL text built at run time only as `AssertSqlSafe`; these take it from either sqlx.
pub use dbtest_runtime::__private::sql;

/// A normalised description of everything in database `db` a test could observe: the definition
/// of every table, column, index, constraint, partition, view, trigger, routine and event, each
/// table's AUTO_INCREMENT counter and every row (every version, for system-versioned tables). The database's own name is replaced by
/// `<db>`, and the definer `owner` (`user@host`) of objects by `<owner>`, so two databases compare
/// equal exactly when they are indistinguishable to their owners. dbtest's ready marker is left
/// out.
///
/// Read from `information_schema` and the rows themselves, not the `SHOW CREATE …` statements the
/// clone is made from nor dbtest's digests, so a mistake in one is not repeated in the other.
pub async fn fingerprint(
    conn: &mut MySqlConnection,
    db: &str,
    owner: &str,
) -> BTreeMap<String, Vec<String>> {
    assert!(
        db.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
        "{db}"
    );
    const SOURCES: [(&str, &str); 11] = [
        ("SCHEMATA", "SCHEMA_NAME"),
        ("TABLES", "TABLE_SCHEMA"),
        ("COLUMNS", "TABLE_SCHEMA"),
        ("STATISTICS", "TABLE_SCHEMA"),
        ("REFERENTIAL_CONSTRAINTS", "CONSTRAINT_SCHEMA"),
        ("CHECK_CONSTRAINTS", "CONSTRAINT_SCHEMA"),
        ("PARTITIONS", "TABLE_SCHEMA"),
        ("VIEWS", "TABLE_SCHEMA"),
        ("TRIGGERS", "TRIGGER_SCHEMA"),
        ("ROUTINES", "ROUTINE_SCHEMA"),
        ("EVENTS", "EVENT_SCHEMA"),
    ];
    // Columns that describe when or how big, not what.
    const VOLATILE: [&str; 15] = [
        "CREATE_TIME",
        "UPDATE_TIME",
        "CHECK_TIME",
        "CREATED",
        "LAST_ALTERED",
        "LAST_EXECUTED",
        "TABLE_ROWS",
        "AVG_ROW_LENGTH",
        "DATA_LENGTH",
        "INDEX_LENGTH",
        "DATA_FREE",
        "MAX_DATA_LENGTH",
        "MAX_INDEX_LENGTH",
        "CARDINALITY",
        "CHECKSUM",
    ];
    let mut out = BTreeMap::new();
    for (table, schema_col) in SOURCES {
        let rows = sql::raw_sql(&format!(
            "SELECT * FROM information_schema.{table} WHERE {schema_col} = '{db}'"
        ))
        .fetch_all(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("reading information_schema.{table}: {e}"));
        let mut lines = Vec::new();
        for row in rows {
            let mut fields = Vec::new();
            let mut marker = false;
            for col in row.columns() {
                if VOLATILE.contains(&col.name()) {
                    continue;
                }
                let mut value = text(&row, col.ordinal()).replace(db, "<db>");
                if col.name() == "DEFINER" && value == owner {
                    value = "<owner>".into();
                }
                if col.name().ends_with("TABLE_NAME")
                    && (value == "_dbtest_template" || value == "_dbtest_seal")
                {
                    marker = true;
                }
                fields.push(format!("{}={value}", col.name()));
            }
            if !marker {
                lines.push(fields.join(" | "));
            }
        }
        lines.sort();
        out.insert(table.to_owned(), lines);
    }
    // Every row of every table (every version of a system-versioned one), each value as hex (so
    // no bytes are lost), sorted: the rows as a set.
    let tables: Vec<(String, String)> = sql::raw_sql(&format!(
        "SELECT TABLE_NAME, TABLE_TYPE FROM information_schema.TABLES WHERE TABLE_SCHEMA = '{db}' \
         AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED') AND TABLE_NAME <> '_dbtest_template' \
         ORDER BY TABLE_NAME"
    ))
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    .iter()
    .map(|r| (text(r, 0), text(r, 1)))
    .collect();
    let mut rows = Vec::new();
    for (t, kind) in tables {
        let select = if kind == "SYSTEM VERSIONED" {
            format!("SELECT *, row_start, row_end FROM `{db}`.`{t}` FOR SYSTEM_TIME ALL")
        } else {
            format!("SELECT * FROM `{db}`.`{t}`")
        };
        let mut lines: Vec<String> = sql::raw_sql(&select)
            .fetch_all(&mut *conn)
            .await
            .unwrap_or_else(|e| panic!("{select}: {e}"))
            .iter()
            .map(|row| {
                let values: Vec<String> = (0..row.columns().len())
                    .map(|i| {
                        let v: Option<Vec<u8>> = row.try_get_unchecked(i).unwrap();
                        v.map_or_else(
                            || "NULL".to_owned(),
                            |b| b.iter().map(|x| format!("{x:02x}")).collect(),
                        )
                    })
                    .collect();
                format!("{t}: {}", values.join(" "))
            })
            .collect();
        if lines.is_empty() {
            lines.push(format!("{t}: no rows"));
        }
        lines.sort();
        rows.extend(lines);
    }
    out.insert("ROWS".to_owned(), rows);
    out
}

/// Column `i` of a text-protocol row as a string (`NULL` for null).
pub fn text(row: &sqlx::mysql::MySqlRow, i: usize) -> String {
    let v: Option<Vec<u8>> = row.try_get_unchecked(i).unwrap();
    v.map_or_else(
        || "NULL".to_owned(),
        |b| String::from_utf8_lossy(&b).into_owned(),
    )
}

/// The only database whose name starts with `prefix`.
pub async fn only_database_like(conn: &mut MySqlConnection, prefix: &str) -> String {
    let rows = sql::raw_sql(&format!("SHOW DATABASES LIKE '{prefix}%'"))
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "databases starting with {prefix}");
    text(&rows[0], 0)
}

/// A connection to the configured server (or the embedded one), with no default database.
pub async fn admin() -> MySqlConnection {
    use sqlx::ConnectOptions;
    let options = dbtest_runtime::admin::connect_options().expect("a server (see README)");
    options.connect().await.expect("connect to the test server")
}

/// A run of the ignored test `name` of the calling test binary, in a child process of its own
/// (`--exact`, `--nocapture`: what the test prints is in its output); the caller adds its
/// environment, `--test-threads`, and how its output is taken.
pub fn member(name: &str) -> std::process::Command {
    let mut cmd = std::process::Command::new(std::env::current_exe().expect("the test binary"));
    cmd.args(["--exact", name, "--ignored", "--nocapture"]);
    cmd
}

/// Starts every one of `commands` at once, their output taken, and waits for all of them: their
/// outputs, in order (for claims about processes that run together).
pub fn outputs_together(
    commands: impl IntoIterator<Item = std::process::Command>,
) -> Vec<std::process::Output> {
    use std::process::Stdio;
    let children: Vec<std::process::Child> = commands
        .into_iter()
        .map(|mut c| {
            c.stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect()
}

/// Runs `command` with its output taken, killing it after `bound`: its output, or `None` if it
/// was still running then (a test that would hang fails instead).
pub fn output_within(
    mut command: std::process::Command,
    bound: std::time::Duration,
) -> Option<std::process::Output> {
    use std::process::Stdio;
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + bound;
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    Some(child.wait_with_output().unwrap())
}

/// A current-thread runtime, for a `#[test]` (or a benchmark program) that drives the server
/// itself.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A current-thread runtime for a `#[test]` that drives the server itself, and [`admin`] on it.
pub fn blocking_admin() -> (tokio::runtime::Runtime, MySqlConnection) {
    let rt = crate::runtime();
    let conn = rt.block_on(admin());
    (rt, conn)
}

/// `mysql://user:password@host:port` of the test server, for a child process that must connect
/// as another user.
pub fn url_for(user: &str, password: &str) -> String {
    let (host, port) = dbtest_runtime::admin::tcp_address().expect("a server (see README)");
    format!("mysql://{user}:{password}@{host}:{port}")
}

/// A short id unique to this call (process, moment and a counter), for names of one test run.
pub fn run_id() -> String {
    static COUNTER: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:x}{:08x}{n:x}", std::process::id(), nanos)
}

/// A migrator read from the directory named by environment variable `var`: lets a child process
/// of a test use a migration set its parent wrote (a new one each run, so its template is cold).
pub fn migrator_from_env(var: &str) -> sqlx::migrate::Migrator {
    let dir = std::path::PathBuf::from(
        std::env::var(var).unwrap_or_else(|_| panic!("{var} is set by the parent test")),
    );
    std::thread::spawn(move || {
        let rt = crate::runtime();
        rt.block_on(sqlx::migrate::Migrator::new(dir))
            .expect("migrations")
    })
    .join()
    .unwrap()
}

/// Prints `TEMPLATE_DIGEST=<8 hex>` for the test database `pool` opens, so a parent process can
/// find (and remove) the template its child built; [`template_digest_in`] reads it back.
pub async fn announce_template_digest(pool: &sqlx::MySqlPool) {
    let db: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(pool)
        .await
        .unwrap();
    println!(
        "TEMPLATE_DIGEST={}",
        &db["dbtest_db_".len().."dbtest_db_".len() + 8]
    );
}

/// The digest a child announced with [`announce_template_digest`].
pub fn template_digest_in(output: &str) -> Option<String> {
    output.lines().find_map(|l| {
        l.split_once("TEMPLATE_DIGEST=")
            .map(|(_, d)| d.trim().to_owned())
    })
}

/// Seals `template`'s ready marker again after a test changed it on purpose, as dbtest seals one
/// (a second implementation of its digest, in SQL): a view holding the SHA-256 of the marker's
/// row, whose definer is the current account.
pub async fn reseal(conn: &mut MySqlConnection, template: &str) {
    assert!(template.starts_with("dbtest_tpl_"), "{template}");
    let digest: String = sql::query_scalar(&format!(
        "SELECT CONVERT(SHA2(CONCAT(format_version, 0x1f, migration_key, \
         0x1f, LENGTH(script), 0x1f, script, \
         0x1f, IFNULL(LENGTH(state), -1), 0x1f, IFNULL(state, ''), \
         0x1f, IFNULL(LENGTH(no_reset), -1), 0x1f, IFNULL(no_reset, '')), 256) USING utf8mb4) \
         FROM `{template}`._dbtest_template WHERE id = 1"
    ))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    sql::raw_sql(&format!(
        "CREATE OR REPLACE VIEW `{template}`._dbtest_seal AS SELECT '{digest}' AS digest"
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
}

/// How many statements containing `marker` the server is running (for other sessions than this).
pub async fn statements_running(conn: &mut MySqlConnection, marker: &str) -> i64 {
    sql::query_scalar(
        "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE ? AND ID <> CONNECTION_ID()",
    )
    .bind(format!("%{marker}%"))
    .fetch_one(conn)
    .await
    .unwrap()
}

/// What is left of database `name` on the server: the database and its registry row (0 to 2).
pub async fn traces_of(conn: &mut MySqlConnection, name: &str) -> i64 {
    sql::query_scalar(
        "SELECT (SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?) \
         + (SELECT COUNT(*) FROM dbtest_registry.databases WHERE name = ?)",
    )
    .bind(name)
    .bind(name)
    .fetch_one(conn)
    .await
    .unwrap()
}

/// Drops a one-off template a test made, with its registry row (as `dbtest clean` would).
pub async fn drop_template(conn: &mut MySqlConnection, name: &str) {
    assert!(name.starts_with("dbtest_tpl_"), "{name}");
    sql::raw_sql(&format!(
        "DROP DATABASE IF EXISTS `{name}`; DELETE FROM dbtest_registry.databases WHERE name = '{name}'"
    ))
    .execute(conn)
    .await
    .unwrap();
}

/// Prints `CHILD_DB=<name>` for the test database `pool` opens, for a parent process to read back
/// with [`announced_database`].
pub async fn announce_database(pool: &sqlx::MySqlPool) {
    let db: String = sqlx::query_scalar("SELECT DATABASE()")
        .fetch_one(pool)
        .await
        .unwrap();
    println!("CHILD_DB={db}");
}

/// The database a child announced with [`announce_database`].
pub fn announced_database(output: &str) -> Option<String> {
    output
        .split("CHILD_DB=")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .map(str::to_owned)
}

/// Helpers of the benchmark programs in `examples/` (`compare_sqlx`, `bench_report`).
pub mod bench {
    use std::process::Command;

    use sqlx::{Connection, Executor, MySqlConnection};

    /// A current-thread runtime, and a connection to `base` on it.
    pub fn connect(base: &str) -> (tokio::runtime::Runtime, MySqlConnection) {
        let rt = crate::runtime();
        let conn = rt
            .block_on(MySqlConnection::connect(base))
            .expect("connect");
        (rt, conn)
    }

    /// Drops database `name` if it is there and creates it empty (the database of the URL
    /// `#[sqlx::test]` runs are given, where sqlx keeps its bookkeeping).
    pub fn fresh_database(rt: &tokio::runtime::Runtime, conn: &mut MySqlConnection, name: &str) {
        rt.block_on(conn.execute(crate::sql::raw_sql(&format!(
            "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name}"
        ))))
        .unwrap();
    }

    /// The configured server's URL without a database path.
    pub fn server_url() -> String {
        let url = std::env::var("DBTEST_DATABASE_URL")
            .or_else(|_| std::env::var("DATABASE_URL"))
            .expect("set DBTEST_DATABASE_URL (scripts/with-mariadb does)");
        let trimmed = url
            .split('?')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/');
        match trimmed.rfind('/') {
            Some(i) if i > "mysql://".len() => trimmed[..i].to_owned(),
            _ => trimmed.to_owned(),
        }
    }

    /// Builds test target `test` of `package` with `extra` cargo arguments; returns its path.
    pub fn test_binary(package: &str, test: &str, extra: &[&str]) -> String {
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args([
                "test",
                "-p",
                package,
                "--test",
                test,
                "--no-run",
                "--message-format=json",
            ])
            .args(extra)
            .output()
            .expect("cargo");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let name = format!("\"name\":\"{test}\"");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains(&name) && l.contains("\"kind\":[\"test\"]"))
            .find_map(|l| {
                l.split("\"executable\":\"")
                    .nth(1)?
                    .split('"')
                    .next()
                    .map(str::to_owned)
            })
            .unwrap_or_else(|| panic!("the {test} test binary of {package}"))
    }

    /// Runs the libtest binary `bin` in `dir` with `args`, no server URL of its own but what `env`
    /// sets, and panics with its output unless it passes: how long it took.
    pub fn run_suite(
        bin: &str,
        dir: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> std::time::Duration {
        let started = std::time::Instant::now();
        let out = Command::new(bin)
            .args(args)
            .env_remove("DATABASE_URL")
            .env_remove("DBTEST_DATABASE_URL")
            .envs(env.iter().copied())
            .current_dir(dir)
            .output()
            .unwrap_or_else(|e| panic!("run {bin}: {e}"));
        let took = started.elapsed();
        assert!(
            out.status.success(),
            "{bin} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        took
    }

    /// How many tests a libtest binary has.
    pub fn count_tests(bin: &str) -> usize {
        let out = Command::new(bin)
            .args(["--list"])
            .output()
            .expect("run the test binary");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.ends_with(": test"))
            .count()
    }
}

/// A command of the server's command-line clients (`mariadb-dump`, `mariadb`, or their MySQL
/// names), connected to the test server as the tests' user: the first of `programs` found.
/// A password is passed in the environment, never on the command line.
pub fn client_command(programs: &[&str]) -> std::process::Command {
    let program = programs
        .iter()
        .find(|p| {
            std::process::Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .unwrap_or_else(|| panic!("none of {programs:?} is installed"));
    let options = dbtest_runtime::admin::connect_options().expect("a server (see README)");
    let mut cmd = std::process::Command::new(program);
    cmd.arg("--no-defaults");
    match options.get_socket() {
        Some(socket) => cmd.arg(format!("--socket={}", socket.display())),
        None => cmd
            .arg(format!("--host={}", options.get_host()))
            .arg(format!("--port={}", options.get_port()))
            .arg("--protocol=tcp"),
    };
    cmd.arg(format!("--user={}", options.get_username()));
    let url_set = ["DBTEST_DATABASE_URL", "DATABASE_URL"]
        .iter()
        .any(|v| std::env::var_os(v).is_some());
    let password = match url_set {
        true => url_password(),
        false => dbtest_runtime::server::password(&dbtest_runtime::server::base_dir()),
    };
    if let Some(password) = password {
        cmd.env("MYSQL_PWD", password);
    }
    cmd
}

/// The password in the configured URL, percent-decoded (none when no URL is set: the embedded
/// server's is in its password file).
fn url_password() -> Option<String> {
    let url = std::env::var("DBTEST_DATABASE_URL")
        .or_else(|_| std::env::var("DATABASE_URL"))
        .ok()?;
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next()?;
    let userinfo = authority.rsplit_once('@')?.0;
    let password = userinfo.split_once(':')?.1;
    let bytes = password.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&password[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// Makes the tests that take `lock` wait for each other, across processes too (nextest runs each
/// test in a process of its own): a server advisory lock, held as long as the connection returned
/// lives. At most 120 s of waiting.
pub fn serial(lock: &str) -> (tokio::runtime::Runtime, MySqlConnection) {
    serial_within(lock, 120)
}

/// [`serial`], waiting at most `secs` seconds (for a lock held by a long test).
pub fn serial_within(lock: &str, secs: u32) -> (tokio::runtime::Runtime, MySqlConnection) {
    let (rt, mut conn) = blocking_admin();
    let got: Option<i64> = rt
        .block_on(
            sqlx::query_scalar("SELECT GET_LOCK(?, ?)")
                .bind(lock)
                .bind(secs)
                .fetch_one(&mut conn),
        )
        .unwrap();
    assert_eq!(
        got,
        Some(1),
        "the tests holding `{lock}` wait for each other at most {secs} s"
    );
    (rt, conn)
}

/// The lock of the tests that sweep with no grace period, or look at what a sweep did: a sweep
/// of one of them may hold a database's lock, about to drop it, while another looks.
pub const SWEEPS: &str = "dbtest_tests_sweeps";

/// The lock of the tests that grant another account privileges on `dbtest\_%` (a pattern that
/// matches every test database), and of those that prove test databases are reset and reused:
/// such a grant, made meanwhile, changes the grants of every test database, and a database whose
/// grants changed is (rightly) dropped, not reset. Held by a test of a minute or more: wait with
/// [`serial_within`] and [`GRANTS_WAIT`]. A test that takes several of these locks takes them in
/// the order `reset.rs`'s RESETS, GRANTS, [`SWEEPS`].
pub const GRANTS: &str = "dbtest_tests_grants";
/// How long a test waits for [`GRANTS`], in seconds.
pub const GRANTS_WAIT: u32 = 600;

/// The schema of the release series (`tests/series.rs`): `tables` tables `t0`… in one migration,
/// each with a foreign key to the table of half its number (a tree), an index, a text column and
/// a default, and seed rows in every sixth table.
pub mod series {
    use std::fmt::Write;

    /// Writes the series' migration for `tables` tables into `dir`.
    pub fn write_schema(dir: &std::path::Path, tables: u32) {
        let mut sql = String::new();
        for i in 0..tables {
            let parent = if i == 0 {
                String::new()
            } else {
                format!(
                    ",\n  CONSTRAINT fk_t{i} FOREIGN KEY (parent_id) REFERENCES t{} (id)",
                    i / 2
                )
            };
            writeln!(
                sql,
                "CREATE TABLE t{i} (\n  id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,\n  parent_id INT NULL,\n  \
                 name VARCHAR(100) NOT NULL,\n  note TEXT NULL,\n  created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP,\n  \
                 KEY k_name (name){parent}\n) ENGINE = InnoDB;"
            )
            .unwrap();
            if i % 6 == 0 {
                let rows: Vec<String> = (1..=5).map(|r| format!("('seed {i}.{r}')")).collect();
                writeln!(sql, "INSERT INTO t{i} (name) VALUES {};", rows.join(", ")).unwrap();
            }
        }
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(format!("0001_series_{tables}.sql")), sql).unwrap();
    }
}
