//! The runtime's modules import one another without cycles: each phase can be read knowing only
//! the modules below it (the map is in the README, *Runtime modules*). This test reads the
//! sources as text: a module uses another when its code (tests aside) names `crate::<module>`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Module → the modules its code names.
fn imports() -> BTreeMap<String, BTreeSet<String>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let sources: BTreeMap<String, String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs") && !p.ends_with("lib.rs"))
        .map(|p| {
            let name = p.file_stem().unwrap().to_string_lossy().into_owned();
            let code = std::fs::read_to_string(&p).unwrap();
            let code = match code.find("#[cfg(test)]\nmod tests") {
                Some(at) => code[..at].to_owned(),
                None => code,
            };
            (name, code)
        })
        .collect();
    let names: BTreeSet<&String> = sources.keys().collect();
    sources
        .iter()
        .map(|(module, code)| {
            let mut uses = BTreeSet::new();
            for (at, _) in code.match_indices("crate::") {
                let rest = &code[at + "crate::".len()..];
                // `crate::name` or `crate::{a, b::c}`.
                let list = match rest.strip_prefix('{') {
                    Some(inner) => &inner[..inner.find('}').unwrap_or(inner.len())],
                    None => rest,
                };
                for item in list.split(',') {
                    let word: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                        .collect();
                    if names.contains(&word) && word != *module {
                        uses.insert(word);
                    }
                    if list.len() == rest.len() {
                        break; // not a `{…}` list: only its first name
                    }
                }
            }
            (module.clone(), uses)
        })
        .collect()
}

/// A cycle in `graph`, if there is one.
fn cycle(graph: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        graph: &BTreeMap<String, BTreeSet<String>>,
        module: &str,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|m| m == module) {
            let mut found = path[at..].to_vec();
            found.push(module.to_owned());
            return Some(found);
        }
        if !done.insert(module.to_owned()) {
            return None;
        }
        path.push(module.to_owned());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(found) = visit(graph, next, path, done) {
                return Some(found);
            }
        }
        path.pop();
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|m| visit(graph, m, &mut Vec::new(), &mut done))
}

#[test]
fn the_modules_import_one_another_without_cycles() {
    let graph = imports();
    // The reading works: the entry point uses the phases it runs.
    assert!(
        ["context", "lease", "template", "sweep", "registry"]
            .iter()
            .all(|m| graph["run"].contains(*m)),
        "{:?}",
        graph["run"]
    );
    if let Some(found) = cycle(&graph) {
        panic!(
            "the runtime's modules import in a cycle: {}",
            found.join(" → ")
        );
    }
}

/// The README's table of runtime modules, row by row (a row may name several).
fn layers() -> Vec<Vec<String>> {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let section = &readme[readme
        .find("### Runtime modules")
        .expect("the README's module map")..];
    let table = &section[section.find("| module |").expect("its table")..];
    table
        .lines()
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(|row| {
            row.split('|')
                .nth(1)
                .unwrap_or_default()
                .split(',')
                .map(|m| m.trim().trim_matches('`').to_owned())
                .collect()
        })
        .collect()
}

#[test]
fn the_readme_lists_every_module_below_those_that_use_it() {
    let graph = imports();
    let layers = layers();
    let level: BTreeMap<&str, usize> = layers
        .iter()
        .enumerate()
        .flat_map(|(i, row)| row.iter().map(move |m| (m.as_str(), i)))
        .collect();
    let test_only = ["architecture", "catalog", "docs"];
    let modules: BTreeSet<&str> = graph
        .keys()
        .map(String::as_str)
        .filter(|m| !test_only.contains(m))
        .collect();
    assert_eq!(
        level.keys().copied().collect::<BTreeSet<_>>(),
        modules,
        "the README's *Runtime modules* names each module once"
    );
    for (module, uses) in &graph {
        for used in uses {
            if let (Some(a), Some(b)) = (level.get(module.as_str()), level.get(used.as_str())) {
                assert!(
                    b <= a,
                    "`{module}` uses `{used}`, which the README lists below it (a module uses only those above it): move one of them"
                );
            }
        }
    }
}

#[test]
fn a_cycle_is_found_when_there_is_one() {
    let mut graph = imports();
    // As if `config` used `context`, which uses `config`.
    graph.get_mut("config").unwrap().insert("context".into());
    let found = cycle(&graph).expect("a cycle");
    assert_eq!(found.first(), found.last(), "{found:?}");
}
