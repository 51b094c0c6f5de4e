//! What dbtest keeps per process, in one place: the settings, the server they lead to (the
//! embedded one is started or found here, once), what that server is (read once, with the
//! registry made), whether the sweep has run, and the templates built or found so far.
//!
//! A process has one context, or one per `url_env` its crates name (each may be another server).
//! The context holds these; the phases that make them (`registry::prepare`, `sweep`,
//! `template::ensure`) hand it the work, so it depends on none of them.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};

use crate::config::{Endpoint, Settings};
use crate::dialect;
use crate::error::Error;

/// The per-process state of one server's tests. It dereferences to its [`Settings`].
#[derive(Debug)]
pub(crate) struct Context {
    pub settings: Settings,
    /// How to reach the server.
    pub server: Endpoint,
    /// What the server is, read when the registry is made (see [`Context::prepare`]).
    facts: tokio::sync::OnceCell<Result<dialect::Server, Arc<Error>>>,
    /// Set once this process's sweep has run.
    swept: tokio::sync::OnceCell<()>,
    /// Values made once per key, of the type each caller names: the template of each migration
    /// source (see `template::ensure`).
    cells: Mutex<HashMap<String, Arc<dyn Any + Send + Sync>>>,
}

impl std::ops::Deref for Context {
    type Target = Settings;
    fn deref(&self) -> &Settings {
        &self.settings
    }
}

impl Context {
    /// The context of this process's environment, made on first use.
    pub fn get() -> Result<&'static Context, Arc<Error>> {
        Context::get_for(None)
    }

    /// The context for tests whose Cargo.toml names `url_env`: that variable is read before
    /// `DBTEST_DATABASE_URL`. Two `url_env`s (or none) that lead to one server share its context.
    pub fn get_for(url_env: Option<&'static str>) -> Result<&'static Context, Arc<Error>> {
        static MADE: Mutex<Option<Made>> = Mutex::new(None);
        let mut made = MADE.lock().unwrap_or_else(|p| p.into_inner());
        made.get_or_insert_with(Made::default)
            .context(url_env, |k| std::env::var(k).ok())
    }

    /// The context of `settings`: finds (or starts) its server.
    pub fn new(settings: Settings) -> Result<Context, Error> {
        Ok(Context {
            server: crate::server::resolve(&settings.target)?,
            settings,
            facts: tokio::sync::OnceCell::new(),
            swept: tokio::sync::OnceCell::new(),
            cells: Mutex::new(HashMap::new()),
        })
    }

    /// What the server is, read by `read` the first time (with the registry made: see
    /// `registry::prepare`); every test awaits it, so its error is every test's.
    pub async fn prepare(
        &self,
        read: impl Future<Output = Result<dialect::Server, Error>>,
    ) -> Result<&dialect::Server, Arc<Error>> {
        self.facts
            .get_or_init(|| async {
                let server = read.await.map_err(Arc::new)?;
                if let Some(line) = server.too_old() {
                    crate::say::announce(&line);
                }
                Ok(server)
            })
            .await
            .as_ref()
            .map_err(Arc::clone)
    }

    /// What the server is.
    ///
    /// # Panics
    /// Before [`Context::prepare`] succeeded, which every test awaits before anything else.
    pub fn dialect(&self) -> &dialect::Server {
        self.known()
            .expect("dbtest identifies the server before any test database is touched")
    }

    /// What the server is, if it was read already.
    pub fn known(&self) -> Option<&dialect::Server> {
        self.facts.get().and_then(|made| made.as_ref().ok())
    }

    /// Runs `sweep` the first time only.
    pub async fn sweep_once(&self, sweep: impl Future<Output = ()>) {
        self.swept.get_or_init(|| sweep).await;
    }

    /// The value of `key` of type `T`, made (by `T::default()`) on first use.
    ///
    /// # Panics
    /// If `key` was first asked for as another type (keys name their type, as `template:…`).
    pub fn cell<T: Default + Send + Sync + 'static>(&self, key: &str) -> Arc<T> {
        let mut cells = self.cells.lock().unwrap_or_else(|p| p.into_inner());
        let cell = cells
            .entry(key.to_owned())
            .or_insert_with(|| Arc::new(T::default()));
        Arc::clone(cell)
            .downcast::<T>()
            .unwrap_or_else(|_| panic!("dbtest: context cell `{key}` is of another type"))
    }
}

/// The context of each `url_env` read so far, and of each target (see [`Context::get_for`]).
#[derive(Default)]
struct Made {
    by_var: HashMap<Option<&'static str>, Result<&'static Context, Arc<Error>>>,
    by_target: HashMap<String, Result<&'static Context, Arc<Error>>>,
}

impl Made {
    /// The context of `url_env` in environment `env`: made on first use, shared by every
    /// `url_env` whose settings lead to the same target.
    fn context(
        &mut self,
        url_env: Option<&'static str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<&'static Context, Arc<Error>> {
        if let Some(found) = self.by_var.get(&url_env) {
            return found.clone();
        }
        let env = |k: &str| {
            let named = match (k, url_env) {
                ("DBTEST_DATABASE_URL", Some(var)) => env(var),
                _ => None,
            };
            named.or_else(|| env(k))
        };
        let context = match Settings::from_env(env) {
            Err(e) => Err(Arc::new(e)),
            Ok(settings) => self
                .by_target
                .entry(settings.target.identity().to_owned())
                .or_insert_with(|| {
                    Context::new(settings)
                        .map(|c| &*Box::leak(Box::new(c)))
                        .map_err(Arc::new)
                })
                .clone(),
        };
        self.by_var.insert(url_env, context.clone());
        context
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_envs_that_lead_to_one_server_share_its_context() {
        let env = |k: &str| match k {
            "DBTEST_DATABASE_URL" => Some("mysql://root@db1".to_owned()),
            "APP_SAME" => Some("mysql://root@db1".to_owned()),
            "APP_OTHER" => Some("mysql://root@db2".to_owned()),
            _ => None,
        };
        let mut made = Made::default();
        let default = made.context(None, env).unwrap();
        let same = made.context(Some("APP_SAME"), env).unwrap();
        let unset = made.context(Some("APP_UNSET"), env).unwrap();
        let other = made.context(Some("APP_OTHER"), env).unwrap();
        assert!(std::ptr::eq(default, same) && std::ptr::eq(default, unset));
        assert!(!std::ptr::eq(default, other));
        assert_eq!(other.server.url_redacted, "mysql://root@db2");
        // Asked again: the same one, without reading the environment again.
        assert!(std::ptr::eq(
            made.context(Some("APP_OTHER"), |_| None).unwrap(),
            other
        ));
    }
}
