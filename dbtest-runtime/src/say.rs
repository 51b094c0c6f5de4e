//! What dbtest says on its own, beyond errors: one line when it makes a test suite slower or
//! does something the user did not ask for, once per process and cause; and, with
//! `DBTEST_LOG=debug`, why a database was dropped instead of reset. Written to stderr itself, not
//! through `eprintln!`: most of it is said on dbtest's own thread, which libtest would have
//! write into the output it captures for whichever test started that thread.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;

use crate::naming::DbName;

/// Prints `line` the first time this process says something under `key`.
pub(crate) fn once(key: &str, line: &str) {
    static SAID: Mutex<Option<HashSet<String>>> = Mutex::new(None);
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    if said.get_or_insert_with(HashSet::new).insert(key.to_owned()) {
        announce(line);
    }
}

/// Says why database `name` is dropped instead of reset (with `DBTEST_LOG=debug`).
pub(crate) fn dropped(name: &DbName, why: &str) {
    tracing::debug!(database = name.as_str(), why, "dropped, not reset");
    debug(|| format!("{name} is dropped, not reset: {why}"));
}

/// Prints `line()` on stderr with `DBTEST_LOG=debug` (or `trace`).
pub(crate) fn debug(line: impl FnOnce() -> String) {
    if matches!(
        std::env::var("DBTEST_LOG").as_deref(),
        Ok("debug" | "trace")
    ) {
        announce(&format!("dbtest: {}", line()));
    }
}

/// Appends `line()` to the file `DBTEST_TIMINGS` names, if it names one (for benchmarks).
pub(crate) fn timing(line: impl FnOnce() -> String) {
    if let Some(path) = std::env::var_os("DBTEST_TIMINGS") {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(format!("{}\n", line()).as_bytes());
        }
    }
}

/// Writes `text` to the process's stderr, past libtest's output capture (which files a line said on
/// one of dbtest's threads under whichever test started that thread).
pub(crate) fn announce(text: &str) {
    let _ = writeln!(std::io::stderr(), "{text}");
}
