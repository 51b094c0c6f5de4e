//! `tracing` spans for each phase of a test: with a subscriber installed, a `#[db_test]` opens
//! `template`, `acquire` and `release` spans, and `claim` or `clone` inside `acquire` — the names
//! the README promises (`RUST_LOG=dbtest_runtime=debug` with any subscriber). Without one, tracing
//! does nothing.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dbtest_runtime::db_test;
use sqlx::MySqlPool;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// A span opened: its target, its name, and its parent's id.
type Opened = (String, String, Option<u64>);

/// Records every span opened: its target, its name and its parent (the span given as its parent,
/// or else the one its thread is in), so that "inside" can be checked.
#[derive(Clone, Default)]
struct Recorder {
    /// By id - 1.
    spans: Arc<Mutex<Vec<Opened>>>,
    /// The spans each thread is in, innermost last.
    entered: Arc<Mutex<HashMap<std::thread::ThreadId, Vec<u64>>>>,
}

impl Recorder {
    fn current(&self) -> Option<u64> {
        let entered = self.entered.lock().unwrap();
        entered.get(&std::thread::current().id())?.last().copied()
    }

    /// Whether span `id` lies inside a span named `name`.
    fn inside(&self, mut id: u64, name: &str) -> bool {
        let spans = self.spans.lock().unwrap();
        while let Some(parent) = spans[id as usize - 1].2 {
            if spans[parent as usize - 1].1 == name {
                return true;
            }
            id = parent;
        }
        false
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let meta = span.metadata();
        let parent = match span.parent() {
            Some(p) => Some(p.into_u64()),
            None if span.is_contextual() => self.current(),
            None => None,
        };
        let mut spans = self.spans.lock().unwrap();
        spans.push((meta.target().to_owned(), meta.name().to_owned(), parent));
        Id::from_u64(spans.len() as u64)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, id: &Id) {
        let mut entered = self.entered.lock().unwrap();
        entered
            .entry(std::thread::current().id())
            .or_default()
            .push(id.into_u64());
    }
    fn exit(&self, id: &Id) {
        let mut entered = self.entered.lock().unwrap();
        if let Some(stack) = entered.get_mut(&std::thread::current().id()) {
            if let Some(i) = stack.iter().rposition(|s| *s == id.into_u64()) {
                stack.remove(i);
            }
        }
    }
}

/// Run by `phases_have_spans` under the recording subscriber, not by the harness on its own.
#[db_test(migrations = "tests/simple/migrations")]
#[ignore = "called by phases_have_spans"]
async fn member(pool: MySqlPool) {
    let one: i64 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(one, 1);
}

#[test]
fn phases_have_spans() {
    let recorder = Recorder::default();
    tracing::subscriber::with_default(recorder.clone(), member);
    let spans = recorder.spans.lock().unwrap().clone();
    let ours: Vec<(u64, &str)> = spans
        .iter()
        .enumerate()
        .filter(|(_, (target, _, _))| target.starts_with("dbtest_runtime"))
        .map(|(i, (_, name, _))| (i as u64 + 1, name.as_str()))
        .collect();
    let names: Vec<&str> = ours.iter().map(|(_, n)| *n).collect();
    for phase in ["template", "acquire", "release"] {
        assert!(names.contains(&phase), "no `{phase}` span in {names:?}");
    }
    // The template's build clones too (under `template`): the test's own claim or clone is the
    // one inside `acquire`.
    assert!(
        ours.iter()
            .any(|(id, n)| (*n == "claim" || *n == "clone") && recorder.inside(*id, "acquire")),
        "neither `claim` nor `clone` inside `acquire` in {spans:?}"
    );
}
