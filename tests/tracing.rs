//! `tracing` spans for each phase of a test: with a subscriber installed, a `#[db_test]` opens
//! `template`, `acquire` and `release` spans, and `claim` or `clone` inside `acquire` — the names
//! the README promises (`RUST_LOG=dbtest_runtime=debug` with any subscriber). Without one, tracing
//! does nothing.

#[cfg(feature = "sqlx-0_8")]
extern crate sqlx08 as sqlx;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use dbtest_runtime::db_test;
use sqlx::MySqlPool;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

/// Records the target and name of every span opened.
#[derive(Clone, Default)]
struct Recorder {
    next: Arc<AtomicU64>,
    spans: Arc<Mutex<Vec<(String, String)>>>,
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let meta = span.metadata();
        self.spans
            .lock()
            .unwrap()
            .push((meta.target().to_owned(), meta.name().to_owned()));
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, _: &Event<'_>) {}
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
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
    let ours: Vec<&str> = spans
        .iter()
        .filter(|(target, _)| target.starts_with("dbtest_runtime"))
        .map(|(_, name)| name.as_str())
        .collect();
    for phase in ["template", "acquire", "release"] {
        assert!(ours.contains(&phase), "no `{phase}` span in {ours:?}");
    }
    assert!(
        ours.contains(&"claim") || ours.contains(&"clone"),
        "neither `claim` nor `clone` in {ours:?}"
    );
}
