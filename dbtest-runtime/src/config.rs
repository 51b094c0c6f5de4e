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
/// Default number of connections in the pool handed to a test.
pub const DEFAULT_POOL_SIZE: u32 = 5;

/// The settings of this process. Its `Debug` shows the URL without the password.
#[derive(Clone)]
pub(crate) struct Settings {
    /// Connection options for the server, with no default database.
    pub connect: MySqlConnectOptions,
    /// The server URL with its password replaced by `***`, for messages.
    pub url_redacted: String,
    pub lock_timeout: Duration,
    pub connect_timeout: Duration,
    pub ddl_timeout: Duration,
    pub pool_size: u32,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("url", &self.url_redacted)
            .field("lock_timeout", &self.lock_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("ddl_timeout", &self.ddl_timeout)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

impl Settings {
    /// The settings of this process, read from the environment on first use.
    pub fn get() -> Result<&'static Settings, Arc<Error>> {
        static SETTINGS: OnceLock<Result<Settings, Arc<Error>>> = OnceLock::new();
        SETTINGS
            .get_or_init(|| Settings::from_env(|var| std::env::var(var).ok()).map_err(Arc::new))
            .as_ref()
            .map_err(Arc::clone)
    }

    /// Reads settings through `env`, so tests can supply their own environment.
    pub fn from_env(env: impl Fn(&str) -> Option<String>) -> Result<Settings, Error> {
        let (var, url) = ["DBTEST_DATABASE_URL", "DATABASE_URL"]
            .into_iter()
            .find_map(|var| env(var).filter(|v| !v.is_empty()).map(|v| (var, v)))
            .ok_or(Error::NoUrl)?;
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
            connect,
            url_redacted,
            lock_timeout: seconds(&env, "DBTEST_LOCK_TIMEOUT", DEFAULT_LOCK_TIMEOUT)?,
            connect_timeout: seconds(&env, "DBTEST_CONNECT_TIMEOUT", DEFAULT_CONNECT_TIMEOUT)?,
            ddl_timeout: seconds(&env, "DBTEST_DDL_TIMEOUT", DEFAULT_DDL_TIMEOUT)?,
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

fn seconds(
    env: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, Error> {
    let Some(value) = env(var) else {
        return Ok(default);
    };
    value
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s > 0.0 && *s <= 86_400.0)
        .map(Duration::from_secs_f64)
        .ok_or(Error::BadSetting {
            var,
            value,
            expected: "a number of seconds greater than 0 (e.g. 30 or 2.5)",
        })
}

/// Returns `url` with the password (if any) replaced by `***`.
///
/// ```
/// # use dbtest_runtime::__private::redact_url;
/// assert_eq!(redact_url("mysql://app:s3cret@db:3306/x"), "mysql://app:***@db:3306/x");
/// assert_eq!(redact_url("mysql://root@db"), "mysql://root@db");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
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
        let e = Settings::from_env(env(&[])).unwrap_err();
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
    fn redaction() {
        assert_eq!(redact_url("mysql://u:p@h/db?x=@"), "mysql://u:***@h/db?x=@");
        assert_eq!(redact_url("mysql://u:p:q@h"), "mysql://u:***@h");
        assert_eq!(redact_url("mysql://h:3306"), "mysql://h:3306");
        assert_eq!(redact_url("not a url"), "not a url");
    }
}
