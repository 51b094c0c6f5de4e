//! `dbtest`: list and clean the databases dbtest made on a server.
//!
//! ```text
//! dbtest list          templates (reset and reused, or why not) and test databases, with owner
//!                      alive/gone, kept ones
//! dbtest gc            what the sweep before the first test does, now
//! dbtest clean --all   drop every dbtest database whose owner is gone, templates included
//! ```
//! The server comes from DBTEST_DATABASE_URL (or DATABASE_URL), as for the tests.

use std::process::ExitCode;

use dbtest_runtime::admin;

const USAGE: &str = "usage: dbtest list | gc | clean --all | server status | server stop
  list         templates (reset and reused, or why not) and test databases (owner alive or gone, kept)
  gc           drop orphaned test databases, kept ones past DBTEST_KEEP_MAX/DBTEST_KEEP_TTL,
               templates unused for DBTEST_TEMPLATE_TTL and builds that died
  clean --all  drop every dbtest database whose owner is gone, templates included
  server status|stop  the embedded server (used when no URL is set): show it, or stop it now
The server comes from DBTEST_DATABASE_URL (or DATABASE_URL).";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = match args.as_slice() {
        ["list"] => rt
            .block_on(admin::list())
            .map(|entries| print_list(&entries)),
        ["gc"] => rt.block_on(admin::gc()).map(|r| print_report(&r)),
        ["clean", "--all"] => rt.block_on(admin::clean_all()).map(|r| print_report(&r)),
        ["server", "status"] => {
            let base = dbtest_runtime::server::base_dir();
            match dbtest_runtime::server::read_state(&base) {
                Some(r) => println!(
                    "embedded server: pid {}, port {}, socket {}, {} (directory {})",
                    r.pid,
                    r.port,
                    r.socket.display(),
                    if dbtest_runtime::server::alive(&r) {
                        "running"
                    } else {
                        "not answering"
                    },
                    base.display()
                ),
                None => println!("no embedded server running (directory {})", base.display()),
            }
            Ok(())
        }
        ["server", "stop"] => {
            let base = dbtest_runtime::server::base_dir();
            dbtest_runtime::server::stop(&base).map(|stopped| {
                println!(
                    "{}",
                    if stopped {
                        "embedded server stopped"
                    } else {
                        "no embedded server was running"
                    }
                )
            })
        }
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(())
        }
        ["clean"] => {
            eprintln!("dbtest: `clean` drops every dbtest database whose owner is gone; say `dbtest clean --all`");
            return ExitCode::from(2);
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dbtest: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The entries in the order they are listed, each with its depth: every template followed by the
/// templates derived from it (deeper), then the test databases.
fn tree(entries: &[admin::Entry]) -> Vec<(usize, &admin::Entry)> {
    let templates: Vec<&admin::Entry> = entries.iter().filter(|e| e.kind == "template").collect();
    let is_root = |e: &admin::Entry| !templates.iter().any(|t| t.name == e.template);
    let mut out = Vec::new();
    let mut stack: Vec<(usize, &admin::Entry)> = templates
        .iter()
        .rev()
        .filter(|e| is_root(e))
        .map(|e| (0, *e))
        .collect();
    while let Some((depth, e)) = stack.pop() {
        out.push((depth, e));
        // A bound keeps a loop of parents finite.
        if depth < templates.len() {
            let children = templates.iter().rev().filter(|c| c.template == e.name);
            stack.extend(children.map(|c| (depth + 1, *c)));
        }
    }
    // Rows no root leads to (a loop of parents, which dbtest never writes) are listed too.
    let unlisted: Vec<&admin::Entry> = templates
        .iter()
        .filter(|t| !out.iter().any(|(_, e)| std::ptr::eq(*e, **t)))
        .copied()
        .collect();
    out.extend(unlisted.into_iter().map(|e| (0, e)));
    out.extend(
        entries
            .iter()
            .filter(|e| e.kind != "template")
            .map(|e| (0, e)),
    );
    out
}

fn print_list(entries: &[admin::Entry]) {
    println!(
        "{:<9} {:<64} {:<6} {:>8}  STATE",
        "KIND", "NAME", "OWNER", "AGE"
    );
    for (depth, e) in tree(entries) {
        let owner = if e.owner_gone { "gone" } else { "alive" };
        let state = match (e.kind.as_str(), e.exists) {
            (_, false) => "missing (registry row only)".to_owned(),
            ("template", _) if e.ready => format!(
                "ready, used {} ago; {}{}",
                e.unused_s.map_or("never".into(), age),
                match &e.no_reset {
                    None => "test databases reset and reused".to_owned(),
                    Some(why) => format!("test databases dropped after each test: {why}"),
                },
                derived(e)
            ),
            ("template", _) if e.owner_gone => format!("unfinished build{}", derived(e)),
            ("template", _) => format!("building{}", derived(e)),
            (_, _) if e.ready_s.is_some() && e.owner_gone => "ready (warm pool)".to_owned(),
            (_, _) if e.kept_s.is_some() => format!(
                "kept {} ago, test {} ({})",
                age(e.kept_s.unwrap_or(0)),
                e.test,
                e.origin
            ),
            (_, _) if e.owner_gone => format!("orphaned, test {} ({})", e.test, e.origin),
            (_, _) => format!("in use, test {} ({})", e.test, e.origin),
        };
        let name = match depth {
            0 => e.name.clone(),
            d => format!("{}└ {}", "  ".repeat(d - 1), e.name),
        };
        println!(
            "{:<9} {:<64} {:<6} {:>8}  {state}",
            e.kind,
            name,
            owner,
            age(e.age_s)
        );
    }
    println!("{} database(s)", entries.len());
}

/// For a derived template: what it adds, on which template.
fn derived(e: &admin::Entry) -> String {
    if e.template.is_empty() {
        return String::new();
    }
    format!("; {} on {}", e.test, e.template)
}

fn print_report(r: &admin::Report) {
    for (what, names) in [
        ("orphaned test database", &r.orphans),
        ("kept database", &r.kept),
        ("template", &r.templates),
    ] {
        for name in names {
            println!("dropped {what} {name}");
        }
    }
    println!("{r}");
}

/// `s` seconds as a short age: 42s, 7m, 3h, 2d.
fn age(s: i64) -> String {
    match s {
        s if s < 120 => format!("{s}s"),
        s if s < 7200 => format!("{}m", s / 60),
        s if s < 172_800 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, kind: &str, template: &str) -> admin::Entry {
        admin::Entry {
            name: name.into(),
            kind: kind.into(),
            exists: true,
            owner_gone: true,
            age_s: 0,
            kept_s: None,
            unused_s: None,
            ready: true,
            ready_s: None,
            template: template.into(),
            test: String::new(),
            origin: String::new(),
            no_reset: None,
        }
    }

    #[test]
    fn derived_templates_are_listed_under_their_parent() {
        let entries = [
            entry("tpl_a", "template", ""),
            entry("tpl_b", "template", ""),
            entry("tpl_a_setup", "template", "tpl_a"),
            entry("db_1", "test", "tpl_a_setup"),
            entry("tpl_a_setup_fixtures", "template", "tpl_a_setup"),
            entry("tpl_orphan_child", "template", "tpl_gone"),
            entry("tpl_loop_1", "template", "tpl_loop_2"),
            entry("tpl_loop_2", "template", "tpl_loop_1"),
        ];
        let listed: Vec<(usize, &str)> = tree(&entries)
            .into_iter()
            .map(|(d, e)| (d, e.name.as_str()))
            .collect();
        assert_eq!(
            listed,
            [
                (0, "tpl_a"),
                (1, "tpl_a_setup"),
                (2, "tpl_a_setup_fixtures"),
                (0, "tpl_b"),
                (0, "tpl_orphan_child"),
                (0, "tpl_loop_1"),
                (0, "tpl_loop_2"),
                (0, "db_1"),
            ]
        );
    }
}
