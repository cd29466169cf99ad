//! The architecture of `src/`, read from the code's own `crate::` paths: dependencies point one
//! way (cli → commands → context → db → output and the small modules below it), nothing below
//! `lib.rs` imports `cli`, and no two modules need each other. A module and its own ancestors are
//! one unit (a folder's `mod.rs` is its front door), so their mutual paths are not counted.
//!
//! `cargo test --test integration architecture:: -- --nocapture` also prints the module graph;
//! with `CRM_ARCHITECTURE_SRC=DIR` it reads another `src/` (an older commit's, to compare).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Top-level modules by layer: a module may use only modules of a lower layer (or its own).
/// `commands` receive the `context`, which holds the database and the output.
const LAYERS: &[(&str, u8)] = &[
    ("cli", 7),
    ("commands", 6),
    ("context", 5),
    ("db", 4),
    ("interrupt", 3),
    ("output", 2),
    ("validate", 2),
    ("password", 2),
    ("error", 1),
    ("session", 0),
];

/// Modules at this depth or deeper are folded into their ancestor at this depth: the graph is
/// drawn between command groups and the files of `db`, not between the files of one group.
fn room(module: &[String]) -> String {
    let depth = match module.first().map(String::as_str) {
        Some("commands") if module.get(1).map(String::as_str) == Some("db") => 3,
        Some("commands") | Some("db") => 2,
        _ => 1,
    };
    module[..module.len().min(depth)].join("::")
}

fn layer(module: &str) -> Option<u8> {
    let top = module.split("::").next()?;
    LAYERS
        .iter()
        .find(|(name, _)| *name == top)
        .map(|(_, l)| *l)
}

fn source_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .expect("src/ is readable")
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            source_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `src/commands/db/mod.rs` → `["commands", "db"]`; `src/lib.rs` → `[]`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).expect("under src/");
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let last = parts.pop().expect("a file name");
    let stem = last.trim_end_matches(".rs");
    if !matches!(stem, "mod" | "lib" | "main") {
        parts.push(stem.to_string());
    }
    parts
}

/// The modules declared `#[cfg(test)] mod name;` in `text`, the code of module `module`: files
/// of tests, which may use what they test from anywhere.
fn test_modules(text: &str, module: &[String]) -> Vec<Vec<String>> {
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    lines
        .windows(2)
        .filter(|w| w[0] == "#[cfg(test)]")
        .filter_map(|w| {
            let declared = w[1].strip_suffix(';')?;
            let name = declared.rsplit(' ').next()?;
            declared.contains("mod ").then(|| {
                let mut path = module.to_vec();
                path.push(name.to_string());
                path
            })
        })
        .collect()
}

/// The code of a file without its comments and string literals (a path in a doc comment or a
/// message is not a dependency), and without its `#[cfg(test)]` module.
fn code_of(text: &str) -> String {
    let text = match text.find("#[cfg(test)]\nmod tests") {
        Some(at) => &text[..at],
        None => text,
    };
    let mut code = String::with_capacity(text.len());
    for line in text.lines() {
        let line = line.trim_start();
        if line.starts_with("//") {
            continue;
        }
        let mut in_string = false;
        let mut escaped = false;
        for c in line.chars() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    in_string = false;
                }
                continue;
            }
            if c == '"' {
                in_string = true;
                continue;
            }
            code.push(c);
        }
        code.push('\n');
    }
    code
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Every module path that starts with `crate::` or `super::` in `code`, resolved against
/// `module`, with `use` groups (`crate::{a, b::c}`) expanded one level.
fn paths_in(code: &str, module: &[String]) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    let bytes: Vec<char> = code.chars().collect();
    let mut i = 0;
    while i < bytes.len() {
        let start_ok = i == 0 || !is_ident(bytes[i - 1]) && bytes[i - 1] != ':';
        let rest: String = bytes[i..bytes.len().min(i + 8)].iter().collect();
        let (base, skip) = if start_ok && rest.starts_with("crate::") {
            (Vec::new(), 7)
        } else if start_ok && rest.starts_with("super::") {
            // `super` is the parent of the module, whose file may be a `mod.rs`.
            let mut base = module.to_vec();
            let mut j = i;
            while bytes[j..].iter().collect::<String>().starts_with("super::") {
                base.pop();
                j += 7;
            }
            (base, j - i)
        } else {
            i += 1;
            continue;
        };
        i += skip;
        let (segments, next) = read_path(&bytes, i);
        i = next;
        if i < bytes.len() && bytes[i] == '{' {
            let close = bytes[i..]
                .iter()
                .position(|&c| c == '}')
                .map_or(bytes.len(), |p| i + p);
            let group: String = bytes[i + 1..close].iter().collect();
            for item in group.split(',') {
                let item: Vec<char> = item.trim().chars().collect();
                let (more, _) = read_path(&item, 0);
                let mut path = base.clone();
                path.extend(segments.iter().cloned());
                path.extend(more);
                found.push(path);
            }
            i = close;
        } else {
            let mut path = base;
            path.extend(segments);
            found.push(path);
        }
    }
    found
}

/// Reads `a::b::c` from `at`; returns the segments and where reading stopped (after a trailing
/// `::` when a group or glob follows).
fn read_path(chars: &[char], mut at: usize) -> (Vec<String>, usize) {
    let mut segments = Vec::new();
    loop {
        let start = at;
        while at < chars.len() && is_ident(chars[at]) {
            at += 1;
        }
        if at > start {
            segments.push(chars[start..at].iter().collect());
        }
        if chars.get(at) == Some(&':') && chars.get(at + 1) == Some(&':') {
            at += 2;
        } else {
            return (segments, at);
        }
    }
}

/// The longest prefix of `path` that is a module of the crate.
fn module_prefix(path: &[String], modules: &BTreeSet<Vec<String>>) -> Option<Vec<String>> {
    (1..=path.len())
        .rev()
        .map(|n| path[..n].to_vec())
        .find(|p| modules.contains(p))
}

struct Graph {
    /// room → rooms it uses, with one file and path as the evidence of each arrow.
    arrows: BTreeMap<String, BTreeMap<String, String>>,
    /// Arrows between top-level modules that run against LAYERS.
    upward: Vec<String>,
    /// Files below lib.rs that name `cli`.
    cli_users: Vec<String>,
}

fn graph() -> Graph {
    let src = std::env::var_os("CRM_ARCHITECTURE_SRC")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let mut files = Vec::new();
    source_files(&src, &mut files);
    let modules: BTreeSet<Vec<String>> = files.iter().map(|f| module_of(&src, f)).collect();
    let tests: Vec<Vec<String>> = files
        .iter()
        .flat_map(|f| {
            let text = fs::read_to_string(f).expect("a readable source file");
            test_modules(&text, &module_of(&src, f))
        })
        .collect();
    let mut graph = Graph {
        arrows: BTreeMap::new(),
        upward: Vec::new(),
        cli_users: Vec::new(),
    };
    for file in &files {
        let module = module_of(&src, file);
        if module.is_empty() {
            continue; // lib.rs and main.rs sit above everything
        }
        if tests.iter().any(|t| module.starts_with(t)) {
            continue;
        }
        let shown = file
            .strip_prefix(&src)
            .expect("under src/")
            .display()
            .to_string();
        let text = fs::read_to_string(file).expect("a readable source file");
        let code = code_of(&text);
        let from = room(&module);
        graph.arrows.entry(from.clone()).or_default();
        for path in paths_in(&code, &module) {
            let Some(target) = module_prefix(&path, &modules) else {
                continue;
            };
            // A module and its ancestors are one unit.
            if module.starts_with(&target) || target.starts_with(&module) {
                continue;
            }
            if target.first().map(String::as_str) == Some("cli") {
                graph
                    .cli_users
                    .push(format!("src/{shown}: crate::{}", path.join("::")));
            }
            let to = room(&target);
            if to == from
                || from.starts_with(&format!("{to}::"))
                || to.starts_with(&format!("{from}::"))
            {
                continue;
            }
            let (lf, lt) = (layer(&from), layer(&to));
            let same_top = from.split("::").next() == to.split("::").next();
            if !same_top && lf <= lt {
                graph.upward.push(format!(
                    "src/{shown} ({from}) uses crate::{} ({to}), which is not below it",
                    path.join("::")
                ));
            }
            graph
                .arrows
                .get_mut(&from)
                .expect("inserted above")
                .entry(to)
                .or_insert_with(|| format!("src/{shown}: crate::{}", path.join("::")));
        }
    }
    graph
}

/// A cycle of rooms, if there is one (depth-first search).
fn a_cycle(arrows: &BTreeMap<String, BTreeMap<String, String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        arrows: &BTreeMap<String, BTreeMap<String, String>>,
        state: &mut BTreeMap<String, u8>,
        stack: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        state.insert(node.to_string(), 1);
        stack.push(node.to_string());
        for next in arrows.get(node).into_iter().flat_map(|m| m.keys()) {
            match state.get(next.as_str()) {
                Some(1) => {
                    let at = stack.iter().position(|n| n == next).expect("on the stack");
                    let mut cycle = stack[at..].to_vec();
                    cycle.push(next.clone());
                    return Some(cycle);
                }
                Some(_) => {}
                None => {
                    if let Some(cycle) = visit(next, arrows, state, stack) {
                        return Some(cycle);
                    }
                }
            }
        }
        stack.pop();
        state.insert(node.to_string(), 2);
        None
    }
    let mut state = BTreeMap::new();
    for node in arrows.keys() {
        if !state.contains_key(node) {
            let mut stack = Vec::new();
            if let Some(cycle) = visit(node, arrows, &mut state, &mut stack) {
                return Some(cycle);
            }
        }
    }
    None
}

#[test]
fn no_module_below_lib_imports_the_clap_tree() {
    let graph = graph();
    assert!(
        graph.cli_users.is_empty(),
        "cli.rs is the top of the tree; these reach up for it:\n{}",
        graph.cli_users.join("\n")
    );
}

#[test]
fn dependencies_point_down_the_layers() {
    let graph = graph();
    assert!(
        graph.upward.is_empty(),
        "arrows that run back up:\n{}",
        graph.upward.join("\n")
    );
}

#[test]
fn no_two_modules_need_each_other() {
    let graph = graph();
    for (from, to) in &graph.arrows {
        println!("{from}");
        for (target, evidence) in to {
            println!("  -> {target}    ({evidence})");
        }
    }
    if let Some(cycle) = a_cycle(&graph.arrows) {
        let evidence: Vec<String> = cycle
            .windows(2)
            .map(|w| format!("{} -> {}: {}", w[0], w[1], graph.arrows[&w[0]][&w[1]]))
            .collect();
        panic!(
            "an import cycle: {}\n{}",
            cycle.join(" -> "),
            evidence.join("\n")
        );
    }
}
