//! Where settings come from (`DBTEST_*` and `DATABASE_URL` environment variables), their
//! defaults, and their validation. Read once per process.

use std::str::FromStr;
use std::sync::{Arc, OnceLock};
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

/// The settings of this process. Its `Debug` shows the URL without the password.
#[derive(Clone)]
pub(crate) struct Settings {
    /// Connection options for the server, with no default database.
    pub connect: MySqlConnectOptions,
    /// The server URL with its password replaced by `***`, for messages.
    pub url_redacted: String,
    /// Whether the URL carries a password (commands printed for the user then ask for it).
    pub has_password: bool,
    /// The server's TCP address (for the embedded server: its loopback port).
    pub tcp: (String, u16),
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

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url_redacted)
            .field("lock_timeout", &self.lock_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("ddl_timeout", &self.ddl_timeout)
            .field("build_timeout", &self.build_timeout)
            .field("pool_size", &self.pool_size)
            .field("keep", &self.keep)
            .field("keep_max", &self.keep_max)
            .field("keep_ttl", &self.keep_ttl)
            .field("template_ttl", &self.template_ttl)
            .field("sweep_grace", &self.sweep_grace)
            .field("max_connections", &self.max_connections)
            .field("slot_timeout", &self.slot_timeout)
            .field("reuse", &self.reuse)
            .field("warm", &self.warm)
            .field("warm_max", &self.warm_max)
            .finish()
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

    /// The settings of this process, read from the environment on first use.
    pub fn get() -> Result<&'static Settings, Arc<Error>> {
        static SETTINGS: OnceLock<Result<Settings, Arc<Error>>> = OnceLock::new();
        SETTINGS
            .get_or_init(|| Settings::from_env(|var| std::env::var(var).ok()).map_err(Arc::new))
            .as_ref()
            .map_err(Arc::clone)
    }

    /// The settings of this process for tests whose Cargo.toml names `url_env`: that variable is
    /// read before `DBTEST_DATABASE_URL`.
    pub fn get_for(url_env: Option<&'static str>) -> Result<&'static Settings, Arc<Error>> {
        type Cache = std::collections::HashMap<&'static str, &'static Result<Settings, Arc<Error>>>;
        static BY_VAR: std::sync::Mutex<Option<Cache>> = std::sync::Mutex::new(None);
        let Some(var) = url_env else {
            return Settings::get();
        };
        let mut cache = BY_VAR.lock().unwrap_or_else(|p| p.into_inner());
        let entry = *cache
            .get_or_insert_with(Cache::new)
            .entry(var)
            .or_insert_with(|| {
                let env = |k: &str| {
                    let named = (k == "DBTEST_DATABASE_URL")
                        .then(|| std::env::var(var).ok())
                        .flatten();
                    named.or_else(|| std::env::var(k).ok())
                };
                Box::leak(Box::new(Settings::from_env(env).map_err(Arc::new)))
            });
        entry.as_ref().map_err(Arc::clone)
    }

    /// Reads settings through `env`, so tests can supply their own environment.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let Some((var, url)) = ["DBTEST_DATABASE_URL", "DATABASE_URL"]
            .into_iter()
            .find_map(|var| env(var).filter(|v| !v.is_empty()).map(|v| (var, v)))
        else {
            return Settings::embedded(&env);
        };
        Settings::with_server(&env, var, url)
    }

    /// No URL: the embedded server (unless `DBTEST_EMBEDDED=never`).
    fn embedded(env: &impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        if env("DBTEST_EMBEDDED").as_deref() == Some("never") {
            return Err(Error::NoUrl);
        }
        let idle = duration(env, "DBTEST_SERVER_IDLE", crate::server::DEFAULT_IDLE)?;
        let server = crate::server::ensure(idle)?;
        if let Some(initialised) = server.started {
            crate::server::announce(&format!(
                "dbtest: started an embedded server (pid {}, socket {}, port {}) in {:.0?}{}; it stops after {idle:?} \
                 without tests (DBTEST_SERVER_IDLE)",
                server.pid,
                server.socket.display(),
                server.port,
                server.took,
                if initialised { ", data directory initialised" } else { "" },
            ));
        }
        let base = crate::server::base_dir();
        let password = crate::server::password(&base).ok_or_else(|| Error::Server {
            action: "connecting to the embedded server".into(),
            reason: format!(
                "its password file {}/password is missing or unreadable",
                base.display()
            ),
        })?;
        let connect = MySqlConnectOptions::new()
            .socket(&server.socket)
            .username("root")
            .password(&password)
            .disable_statement_logging();
        let mut settings =
            Settings::with_server(env, "DBTEST_DATABASE_URL", "mysql://root@localhost".into())?;
        settings.url_redacted = format!("the embedded server (socket {})", server.socket.display());
        settings.tcp = ("127.0.0.1".into(), server.port);
        settings.connect = connect;
        // The ready-to-paste client command asks for it (it is in the password file).
        settings.has_password = true;
        Ok(settings)
    }

    fn with_server(
        env: &impl Fn(&str) -> Option<String>,
        var: &'static str,
        url: String,
    ) -> Result<Settings, Error> {
        let url_redacted = redact_url(&url);
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
        let connect = MySqlConnectOptions::from_str(&url)
            .map_err(|e| Error::BadUrl {
                var,
                url: url_redacted.clone(),
                reason: redact_in(&e.to_string(), &url),
            })?
            // Statements are logged by dbtest's own messages where they matter; sqlx's per-statement
            // log lines would repeat every clone script.
            .disable_statement_logging();
        Ok(Settings {
            tcp: (connect.get_host().to_owned(), connect.get_port()),
            connect,
            has_password: url_redacted != url,
            url_redacted,
            lock_timeout: duration(&env, "DBTEST_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)?,
            connect_timeout: duration(&env, "DBTEST_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT)?,
            ddl_timeout: duration(&env, "DBTEST_DDL_TIMEOUT", DEFAULT_DDL_TIMEOUT)?,
            build_timeout: duration(&env, "DBTEST_BUILD_TIMEOUT", DEFAULT_BUILD_TIMEOUT)?,
            keep: match env("DBTEST_KEEP").as_deref().map(str::trim) {
                None | Some("failed") => Keep::Failed,
                Some("never") => Keep::Never,
                Some("always") => Keep::Always,
                Some(other) => {
                    return Err(Error::BadSetting {
                        var: "DBTEST_KEEP",
                        value: other.to_owned(),
                        expected: "`failed` (the default), `never` or `always`",
                    })
                }
            },
            keep_max: match env("DBTEST_KEEP_MAX") {
                None => DEFAULT_KEEP_MAX,
                Some(v) => v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n <= 10_000)
                    .ok_or(Error::BadSetting {
                        var: "DBTEST_KEEP_MAX",
                        value: v,
                        expected: "a whole number from 0 to 10000",
                    })?,
            },
            keep_ttl: duration(&env, "DBTEST_KEEP_TTL", DEFAULT_KEEP_TTL)?,
            template_ttl: duration(&env, "DBTEST_TEMPLATE_TTL", DEFAULT_TEMPLATE_TTL)?,
            sweep_grace: duration_or_zero(&env, "DBTEST_SWEEP_GRACE", DEFAULT_SWEEP_GRACE)?,
            max_connections: match env("DBTEST_MAX_CONNECTIONS") {
                None => None,
                Some(v) => Some(v.trim().parse::<u32>().ok().filter(|n| *n >= 2).ok_or(
                    Error::BadSetting {
                        var: "DBTEST_MAX_CONNECTIONS",
                        value: v,
                        expected: "a whole number of connections, at least 2",
                    },
                )?),
            },
            slot_timeout: duration(&env, "DBTEST_SLOT_TIMEOUT", DEFAULT_SLOT_TIMEOUT)?,
            reuse: match env("DBTEST_REUSE").as_deref().map(str::trim) {
                None | Some("reset") => true,
                Some("never") => false,
                Some(other) => {
                    return Err(Error::BadSetting {
                        var: "DBTEST_REUSE",
                        value: other.to_owned(),
                        expected: "`reset` (the default: reset a passing test's database and reuse it) or `never`",
                    })
                }
            },
            warm: count(&env, "DBTEST_WARM", DEFAULT_WARM)?,
            warm_max: count(&env, "DBTEST_WARM_MAX", DEFAULT_WARM_MAX)?,
            pool_size: match env("DBTEST_POOL_SIZE") {
                None => DEFAULT_POOL_SIZE,
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or(Error::BadSetting {
                        var: "DBTEST_POOL_SIZE",
                        value: v,
                        expected: "a whole number from 1 to 100",
                    })?,
            },
        })
    }
}

fn count(
    env: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u32,
) -> Result<u32, Error> {
    match env(var) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse::<u32>()
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or(Error::BadSetting {
                var,
                value: v,
                expected: "a whole number from 0 to 1000",
            }),
    }
}

fn duration(
    env: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, Error> {
    match duration_or_zero(env, var, default)? {
        d if d.is_zero() => Err(Error::BadSetting {
            var,
            value: env(var).unwrap_or_default(),
            expected: DURATION_FORMAT,
        }),
        d => Ok(d),
    }
}

const DURATION_FORMAT: &str =
    "a duration greater than 0: seconds (30, 2.5) or a number with a unit s, m, h or d (90s, 10m, 72h, 7d)";

/// A duration in seconds, or with a unit (`s`, `m`, `h`, `d`); zero allowed.
fn duration_or_zero(
    env: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, Error> {
    let Some(value) = env(var) else {
        return Ok(default);
    };
    let v = value.trim();
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
        .ok_or(Error::BadSetting {
            var,
            value,
            expected: DURATION_FORMAT,
        })
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

    #[test]
    fn prefers_dbtest_url_and_applies_defaults() {
        let s = Settings::from_env(env(&[
            ("DATABASE_URL", "mysql://other@h1"),
            ("DBTEST_DATABASE_URL", "mysql://me:pw@h2:3307"),
        ]))
        .unwrap();
        assert_eq!(s.url_redacted, "mysql://me:***@h2:3307");
        assert_eq!(s.lock_timeout, DEFAULT_LOCK_TIMEOUT);
        assert_eq!(s.pool_size, DEFAULT_POOL_SIZE);
    }

    #[test]
    fn falls_back_to_database_url() {
        let s = Settings::from_env(env(&[("DATABASE_URL", "mysql://root@h1")])).unwrap();
        assert_eq!(s.url_redacted, "mysql://root@h1");
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
