//! The benchmark's schema lives in `migrations/` (written by `gen_migrations.py`); its tests are in
//! `tests/bench.rs`, and `examples/bench_report.rs` at the workspace root runs and times them.
