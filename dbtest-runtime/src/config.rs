//! Where settings come from (`DBTEST_*` and `DATABASE_URL` environment variables), their
//! defaults, and their validation. Read once per process.

use std::str::FromStr;
use std::time::Duration;

use sqlx::mysql::MySqlConnectOptions;
use sqlx::ConnectOptions;

use crate::error::Error;

/// Default bound on waiting for another process to finish building a template.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(120);
/// Default bound on opening one connection.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default bound on creating or dropping one test database.
pub const DEFAULT_DDL_TIMEOUT: Duration = Duration::from_secs(60);
/// Default bound on building a template (running every migration and reading the result).
pub const DEFAULT_BUILD_TIMEOUT: Duration = Duration::from_secs(600);
/// Default number of connections in the pool handed to a test.
pub const DEFAULT_POOL_SIZE: u32 = 5;
/// Default number of kept databases of failed tests retained on the server.
pub const DEFAULT_KEEP_MAX: usize = 20;
/// Default age after which a kept database is swept.
pub const DEFAULT_KEEP_TTL: Duration = Duration::from_secs(3 * 24 * 3600);
/// Default age after which a template nobody used is dropped.
pub const DEFAULT_TEMPLATE_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Default bound on waiting for a connection slot (see [`Settings::slots`]).
pub const DEFAULT_SLOT_TIMEOUT: Duration = Duration::from_secs(300);
/// Default age below which an ownerless test database is left alone by the sweep.
pub const DEFAULT_SWEEP_GRACE: Duration = Duration::from_secs(30);

/// Default idle period after which the embedded server shuts down (`DBTEST_SERVER_IDLE` changes it).
///
/// ```
/// assert_eq!(dbtest_runtime::server::DEFAULT_IDLE.as_secs(), 60);
/// ```
pub const DEFAULT_IDLE: Duration = Duration::from_secs(60);

/// Default number of clean databases per template kept ready in the warm pool.
pub const DEFAULT_WARM: u32 = 2;
/// Default bound on the warm pool's size per template.
pub const DEFAULT_WARM_MAX: u32 = 8;

/// What happens to the database of a test that ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// Keep the databases of failed tests (the default).
    Failed,
    /// Drop every test database.
    Never,
    /// Keep every test database.
    Always,
}

/// Where the server is, as the environment says: a URL, or none (the embedded server).
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// `DBTEST_DATABASE_URL` or `DATABASE_URL` (or the variable named by `url_env`).
    Url(Box<Endpoint>),
    /// No URL: the embedded server, stopped `idle` after its last user process ended.
    Embedded { idle: Duration },
}

/// How to reach a server. Its `Debug` shows the URL without the password.
#[derive(Clone)]
pub(crate) struct Endpoint {
    /// Connection options for the server, with no default database.
    pub connect: MySqlConnectOptions,
    /// The server URL with its password replaced by `***`, for messages.
    pub url_redacted: String,
    /// Whether the URL carries a password (commands printed for the user then ask for it).
    pub has_password: bool,
    /// The server's TCP address (for the embedded server: its loopback port).
    pub tcp: (String, u16),
    /// The URL as written, password included: only compared, never shown.
    url: String,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("url", &self.url_redacted)
            .field("tcp", &self.tcp)
            .finish()
    }
}

/// The settings of this process, read from its environment; nothing is connected or started to
/// read them.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub target: Target,
    pub lock_timeout: Duration,
    pub connect_timeout: Duration,
    pub ddl_timeout: Duration,
    pub build_timeout: Duration,
    pub pool_size: u32,
    pub keep: Keep,
    pub keep_max: usize,
    pub keep_ttl: Duration,
    pub template_ttl: Duration,
    pub sweep_grace: Duration,
    /// Connections all dbtest processes on the server may use together (`DBTEST_MAX_CONNECTIONS`);
    /// by default half the server's `max_connections`.
    pub max_connections: Option<u32>,
    pub slot_timeout: Duration,
    /// Reset passing tests' databases and reuse them (`DBTEST_REUSE=reset`, the default), or
    /// drop every one (`never`).
    pub reuse: bool,
    /// Clean databases per template made ahead of demand (`DBTEST_WARM`).
    pub warm: u32,
    /// Most clean databases per template kept in the pool (`DBTEST_WARM_MAX`).
    pub warm_max: u32,
}

/// One `DBTEST_*` variable that [`Settings`] holds: its name, and how a value is taken into the
/// settings (`Err` says what would have been accepted).
pub(crate) struct Variable {
    pub name: &'static str,
    apply: fn(&mut Settings, &str) -> Result<(), &'static str>,
}

/// A [`Variable`] that sets `field` to what `parse` makes of its value.
macro_rules! variable {
    ($name:literal, $field:ident, $parse:expr) => {
        Variable {
            name: $name,
            apply: |settings, value| {
                settings.$field = $parse(value)?;
                Ok(())
            },
        }
    };
}

/// Every variable [`Settings::from_env`] reads besides the URL, in the order they are checked.
pub(crate) const VARIABLES: &[Variable] = &[
    variable!("DBTEST_LOCK_TIMEOUT", lock_timeout, positive_duration),
    variable!("DBTEST_CONNECT_TIMEOUT", connect_timeout, positive_duration),
    variable!("DBTEST_DDL_TIMEOUT", ddl_timeout, positive_duration),
    variable!("DBTEST_BUILD_TIMEOUT", build_timeout, positive_duration),
    variable!("DBTEST_KEEP", keep, |v| one_of(
        v,
        &[
            ("failed", Keep::Failed),
            ("never", Keep::Never),
            ("always", Keep::Always)
        ],
        "`failed` (the default), `never` or `always`"
    )),
    variable!("DBTEST_KEEP_MAX", keep_max, |v| whole(
        v,
        0..=10_000,
        "a whole number from 0 to 10000"
    )
    .map(|n| n as usize)),
    variable!("DBTEST_KEEP_TTL", keep_ttl, positive_duration),
    variable!("DBTEST_TEMPLATE_TTL", template_ttl, positive_duration),
    variable!("DBTEST_SWEEP_GRACE", sweep_grace, |v| duration(v)
        .ok_or(DURATION_OR_ZERO)),
    variable!("DBTEST_MAX_CONNECTIONS", max_connections, |v| whole(
        v,
        2..=u32::MAX,
        "a whole number of connections, at least 2"
    )
    .map(Some)),
    variable!("DBTEST_SLOT_TIMEOUT", slot_timeout, positive_duration),
    variable!("DBTEST_REUSE", reuse, |v| one_of(
        v,
        &[("reset", true), ("never", false)],
        "`reset` (the default: reset a passing test's database and reuse it) or `never`"
    )),
    variable!("DBTEST_WARM", warm, |v| whole(v, 0..=1000, COUNT)),
    variable!("DBTEST_WARM_MAX", warm_max, |v| whole(v, 0..=1000, COUNT)),
    variable!("DBTEST_POOL_SIZE", pool_size, |v| whole(
        v,
        1..=100,
        "a whole number from 1 to 100"
    )),
];

impl Target {
    /// What tells two targets apart: the URL as written (never shown: it may hold a password),
    /// or the embedded server. Settings read for two `url_env`s that lead to one target share
    /// one context.
    pub fn identity(&self) -> &str {
        match self {
            Target::Url(endpoint) => &endpoint.url,
            Target::Embedded { .. } => "embedded",
        }
    }
}

impl Settings {
    /// Connections one test may use at once: its pool and the owner connection.
    pub fn connections_per_test(&self) -> u32 {
        self.pool_size + 1
    }

    /// The connection budget of all dbtest processes on a server with `server_max` connections,
    /// and the number of tests that may run at once within it (each holds a slot).
    pub fn slots(&self, server_max: u32) -> (u32, u32) {
        let budget = self.max_connections.unwrap_or(server_max / 2).max(2);
        (budget, (budget / self.connections_per_test()).max(1))
    }

    /// Reads settings through `env` (the process's environment, or a test's own): the URL,
    /// then each of [`VARIABLES`] that is set, over the defaults.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let url = ["DBTEST_DATABASE_URL", "DATABASE_URL"]
            .into_iter()
            .find_map(|var| env(var).filter(|v| !v.is_empty()).map(|v| (var, v)));
        let target = match url {
            Some((var, url)) => Target::Url(Box::new(Endpoint::parse(var, &url)?)),
            None if env("DBTEST_EMBEDDED").as_deref() == Some("never") => return Err(Error::NoUrl),
            None => Target::Embedded {
                idle: match env("DBTEST_SERVER_IDLE") {
                    None => DEFAULT_IDLE,
                    Some(v) => {
                        positive_duration(v.trim()).map_err(|expected| Error::BadSetting {
                            var: "DBTEST_SERVER_IDLE",
                            value: v,
                            expected,
                        })?
                    }
                },
            },
        };
        let mut settings = Settings::defaults(target);
        for var in VARIABLES {
            if let Some(value) = env(var.name) {
                (var.apply)(&mut settings, value.trim()).map_err(|expected| Error::BadSetting {
                    var: var.name,
                    value,
                    expected,
                })?;
            }
        }
        Ok(settings)
    }

    fn defaults(target: Target) -> Settings {
        Settings {
            target,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ddl_timeout: DEFAULT_DDL_TIMEOUT,
            build_timeout: DEFAULT_BUILD_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
            keep: Keep::Failed,
            keep_max: DEFAULT_KEEP_MAX,
            keep_ttl: DEFAULT_KEEP_TTL,
            template_ttl: DEFAULT_TEMPLATE_TTL,
            sweep_grace: DEFAULT_SWEEP_GRACE,
            max_connections: None,
            slot_timeout: DEFAULT_SLOT_TIMEOUT,
            reuse: true,
            warm: DEFAULT_WARM,
            warm_max: DEFAULT_WARM_MAX,
        }
    }
}

impl Endpoint {
    /// The embedded server's endpoint (see `server::resolve`).
    pub fn embedded(connect: MySqlConnectOptions, socket: &std::path::Path, port: u16) -> Endpoint {
        Endpoint {
            connect,
            url_redacted: format!("the embedded server (socket {})", socket.display()),
            tcp: ("127.0.0.1".into(), port),
            // The ready-to-paste client command asks for it (it is in the password file).
            has_password: true,
            url: "embedded".into(),
        }
    }

    /// The server at `url` (read from variable `var`).
    fn parse(var: &'static str, url: &str) -> Result<Endpoint, Error> {
        let url_redacted = redact_url(url);
        // sqlx's MySQL options take any scheme; a `postgres://` URL left in DATABASE_URL by another
        // project must not be tried as MySQL.
        if !(url.starts_with("mysql://") || url.starts_with("mariadb://")) {
            return Err(Error::BadUrl {
                var,
                url: url_redacted,
                reason:
                    "expected a `mysql://` or `mariadb://` URL, e.g. mysql://root@127.0.0.1:3306"
                        .into(),
            });
        }
        let connect = MySqlConnectOptions::from_str(url)
            .map_err(|e| Error::BadUrl {
                var,
                url: url_redacted.clone(),
                reason: redact_in(&e.to_string(), url),
            })?
            // Statements are logged by dbtest's own messages where they matter; sqlx's per-statement
            // log lines would repeat every clone script.
            .disable_statement_logging();
        Ok(Endpoint {
            tcp: (connect.get_host().to_owned(), connect.get_port()),
            connect,
            has_password: url_redacted != url,
            url_redacted,
            url: url.to_owned(),
        })
    }
}

/// `v` as a whole number within `range` (else `expected`).
fn whole(
    v: &str,
    range: std::ops::RangeInclusive<u32>,
    expected: &'static str,
) -> Result<u32, &'static str> {
    v.parse::<u32>()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or(expected)
}

/// The value of the word `v` among `words` (else `expected`).
fn one_of<T: Copy>(
    v: &str,
    words: &[(&str, T)],
    expected: &'static str,
) -> Result<T, &'static str> {
    words
        .iter()
        .find(|(word, _)| *word == v)
        .map(|(_, value)| *value)
        .ok_or(expected)
}

const COUNT: &str = "a whole number from 0 to 1000";

const DURATION_FORMAT: &str =
    "a duration greater than 0: seconds (30, 2.5) or a number with a unit s, m, h or d (90s, 10m, 72h, 7d)";

const DURATION_OR_ZERO: &str =
    "a duration: seconds (0, 30, 2.5) or a number with a unit s, m, h or d (90s, 10m, 72h, 7d)";

fn positive_duration(v: &str) -> Result<Duration, &'static str> {
    duration(v).filter(|d| !d.is_zero()).ok_or(DURATION_FORMAT)
}

/// A duration in seconds, or with a unit (`s`, `m`, `h`, `d`); zero allowed; at most 400 days.
fn duration(v: &str) -> Option<Duration> {
    let (number, unit) = match v.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&v[..i], c),
        _ => (v, 's'),
    };
    let scale = match unit {
        's' => 1.0,
        'm' => 60.0,
        'h' => 3600.0,
        'd' => 86_400.0,
        _ => f64::NAN,
    };
    number
        .trim()
        .parse::<f64>()
        .ok()
        .map(|n| n * scale)
        .filter(|s| s.is_finite() && *s >= 0.0 && *s <= 400.0 * 86_400.0)
        .map(Duration::from_secs_f64)
}

/// Returns `url` with the password (if any) replaced by `***`.
///
/// A URL that parses (the `url` crate, as sqlx parses it) has its password replaced. One that does
/// not — a password with an unencoded `/`, `?`, `#` or `@` makes it so — is cut from the first `:`
/// after the scheme to the last `@`: rather too much than a password.
///
/// ```
/// # use dbtest_runtime::__private::redact_url;
/// assert_eq!(redact_url("mysql://app:s3cret@db:3306/x"), "mysql://app:***@db:3306/x");
/// assert_eq!(redact_url("mysql://root@db"), "mysql://root@db");
/// assert_eq!(redact_url("mysql://app:pa/ss?w#rd@db/x"), "mysql://app:***@db/x");
/// ```
pub fn redact_url(url: &str) -> String {
    if let Ok(mut parsed) = url::Url::parse(url) {
        if parsed.password().is_none() {
            return url.to_owned();
        }
        if parsed.set_password(Some("***")).is_ok() {
            return parsed.as_str().to_owned();
        }
    }
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let Some(at) = rest.rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].find(':') {
        Some(colon) => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        None => url.to_owned(),
    }
}

/// Removes the password of `url` from a message that may quote it.
fn redact_in(message: &str, url: &str) -> String {
    let redacted = redact_url(url);
    message.replace(url, &redacted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    fn url(s: &Settings) -> &str {
        match &s.target {
            Target::Url(endpoint) => &endpoint.url_redacted,
            Target::Embedded { .. } => panic!("no URL: {s:?}"),
        }
    }

    #[test]
    fn prefers_dbtest_url_and_applies_defaults() {
        let s = Settings::from_env(env(&[
            ("DATABASE_URL", "mysql://other@h1"),
            ("DBTEST_DATABASE_URL", "mysql://me:pw@h2:3307"),
        ]))
        .unwrap();
        assert_eq!(url(&s), "mysql://me:***@h2:3307");
        assert_eq!(s.lock_timeout, DEFAULT_LOCK_TIMEOUT);
        assert_eq!(s.pool_size, DEFAULT_POOL_SIZE);
    }

    #[test]
    fn no_url_means_the_embedded_server_and_reading_that_starts_nothing() {
        let s = Settings::from_env(env(&[("DBTEST_SERVER_IDLE", "5m")])).unwrap();
        assert!(
            matches!(s.target, Target::Embedded { idle } if idle == Duration::from_secs(300)),
            "{s:?}"
        );
        let e = Settings::from_env(env(&[("DBTEST_SERVER_IDLE", "soon")])).unwrap_err();
        assert!(e.to_string().starts_with("DBTEST_SERVER_IDLE="), "{e}");
    }

    #[test]
    fn every_variable_of_the_table_refuses_a_bad_value_by_its_name() {
        for var in VARIABLES {
            let e =
                Settings::from_env(env(&[("DATABASE_URL", "mysql://root@h1"), (var.name, "x")]))
                    .unwrap_err();
            assert!(
                e.to_string()
                    .starts_with(&format!("{}=\"x\" is not valid: ", var.name)),
                "{e}"
            );
        }
    }

    #[test]
    fn falls_back_to_database_url() {
        let s = Settings::from_env(env(&[("DATABASE_URL", "mysql://root@h1")])).unwrap();
        assert_eq!(url(&s), "mysql://root@h1");
    }

    #[test]
    fn missing_url_says_what_to_set() {
        let e = Settings::from_env(env(&[("DBTEST_EMBEDDED", "never")])).unwrap_err();
        assert!(e.to_string().contains("DBTEST_DATABASE_URL"), "{e}");
    }

    #[test]
    fn bad_settings_name_the_variable() {
        let e = Settings::from_env(env(&[
            ("DATABASE_URL", "mysql://root@h1"),
            ("DBTEST_LOCK_TIMEOUT", "soon"),
        ]))
        .unwrap_err();
        assert!(
            e.to_string().starts_with("DBTEST_LOCK_TIMEOUT=\"soon\""),
            "{e}"
        );
        let e = Settings::from_env(env(&[
            ("DATABASE_URL", "mysql://root@h1"),
            ("DBTEST_POOL_SIZE", "0"),
        ]))
        .unwrap_err();
        assert!(e.to_string().contains("DBTEST_POOL_SIZE"), "{e}");
    }

    #[test]
    fn bad_url_never_shows_the_password() {
        let e =
            Settings::from_env(env(&[("DATABASE_URL", "postgres://u:hunter2@h/x")])).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.contains("DATABASE_URL") && msg.contains("mysql://"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"), "{msg}");
        let e = Settings::from_env(env(&[("DATABASE_URL", "mysql://u:hunter2@h:notaport/x")]))
            .unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
        let ok = Settings::from_env(env(&[("DATABASE_URL", "mysql://u:hunter2@h/x")])).unwrap();
        assert!(!format!("{ok:?}").contains("hunter2"), "{ok:?}");
    }

    #[test]
    fn durations_take_units() {
        let s = Settings::from_env(env(&[
            ("DATABASE_URL", "mysql://root@h1"),
            ("DBTEST_LOCK_TIMEOUT", "2.5"),
            ("DBTEST_BUILD_TIMEOUT", "10m"),
            ("DBTEST_KEEP_TTL", "72h"),
            ("DBTEST_TEMPLATE_TTL", "7d"),
            ("DBTEST_SWEEP_GRACE", "0"),
            ("DBTEST_KEEP", "never"),
        ]))
        .unwrap();
        assert_eq!(s.lock_timeout, Duration::from_millis(2500));
        assert_eq!(s.build_timeout, Duration::from_secs(600));
        assert_eq!(s.keep_ttl, Duration::from_secs(72 * 3600));
        assert_eq!(s.template_ttl, Duration::from_secs(7 * 86_400));
        assert_eq!(s.sweep_grace, Duration::ZERO);
        assert_eq!(s.keep, Keep::Never);
        for bad in ["0", "-1", "7w", "h", "1e9d"] {
            let e = Settings::from_env(env(&[
                ("DATABASE_URL", "mysql://root@h1"),
                ("DBTEST_CONNECT_TIMEOUT", bad),
            ]));
            assert!(e.is_err(), "{bad}");
        }
    }

    #[test]
    fn connection_budget() {
        let base = [("DATABASE_URL", "mysql://root@h1")];
        let s = Settings::from_env(env(&base)).unwrap();
        // max_connections=151: half for dbtest, 6 per test (5 in the pool and the owner).
        assert_eq!(s.slots(151), (75, 12));
        let s = Settings::from_env(env(&[
            base[0],
            ("DBTEST_MAX_CONNECTIONS", "20"),
            ("DBTEST_POOL_SIZE", "1"),
        ]))
        .unwrap();
        assert_eq!(s.slots(151), (20, 10));
        let s = Settings::from_env(env(&[base[0], ("DBTEST_MAX_CONNECTIONS", "3")])).unwrap();
        assert_eq!(s.slots(151), (3, 1), "always at least one slot");
        assert!(Settings::from_env(env(&[base[0], ("DBTEST_MAX_CONNECTIONS", "many")])).is_err());
    }

    #[test]
    fn redaction() {
        assert_eq!(redact_url("mysql://u:p@h/db?x=@"), "mysql://u:***@h/db?x=@");
        assert_eq!(redact_url("mysql://u:p:q@h"), "mysql://u:***@h");
        assert_eq!(redact_url("mysql://h:3306"), "mysql://h:3306");
        assert_eq!(redact_url("not a url"), "not a url");
        // Passwords that break the URL's syntax: never shown, whatever else is cut with them.
        for (url, secret) in [
            ("mysql://app:se/cret@db:3306/x", "se/cret"),
            ("mysql://app:se?cret@db/x", "se?cret"),
            ("mysql://app:se#cret@db/x", "se#cret"),
            ("mysql://app:se@cret@db/x", "se@cret"),
            ("mysql://app:s%2Fcret@db/x", "s%2Fcret"),
        ] {
            let shown = redact_url(url);
            assert!(
                !shown.contains(secret) && !shown.contains("cret"),
                "{url} -> {shown}"
            );
            assert!(shown.starts_with("mysql://app:***@"), "{url} -> {shown}");
        }
    }

    #[test]
    fn the_options_dbtest_hands_out_show_no_password() {
        let options: sqlx::mysql::MySqlConnectOptions =
            "mysql://app:s3cret@db:3306/x".parse().unwrap();
        assert!(
            format!("{options:?}").contains("s3cret"),
            "sqlx's own Debug shows it"
        );
        let ours = crate::admin::ServerOptions::from_options(options.clone());
        let shown = format!("{ours:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("***") && shown.contains("db"),
            "{shown}"
        );
        assert_eq!(ours.get_host(), "db");
    }
}
