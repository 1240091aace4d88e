//! The module layers of `docs/architecture.md`, checked: a top-level module of this crate
//! names (`crate::x`) only modules of its own layer or below, and the modules of one layer
//! do not name each other in a circle. A new module must be given a layer here.

use std::collections::BTreeMap;
use std::path::Path;

/// Bottom to top, as `docs/architecture.md` describes them.
const LAYERS: &[(&str, &[&str])] = &[
    (
        "leaf value types",
        &[
            "envelope",
            "identity",
            "limits",
            "location",
            "pattern",
            "presence",
            "problem",
            "rate",
            "recipient",
            "telemetry",
            "type_key",
            "wait",
        ],
    ),
    ("per-connection queues and the hub", &["hub", "outbound"]),
    ("the broker seam", &["broker"]),
    (
        "the application model",
        &[
            "action",
            "context",
            "event",
            "hooks",
            "resolver",
            "sync_store",
        ],
    ),
    ("the registry and the built-ins", &["builtin", "registry"]),
    ("the node and its connections", &["connection", "node"]),
    (
        "facades",
        &[
            "dispatch",
            "handshake",
            "private",
            "schema",
            "synced",
            "testing",
            "transport",
        ],
    ),
];

fn layer_of(module: &str) -> usize {
    LAYERS
        .iter()
        .position(|(_, modules)| modules.contains(&module))
        .unwrap_or_else(|| panic!("module `{module}` has no layer in tests/module_layers.rs"))
}

/// Every `crate::x` a module's files name, by top-level module.
fn edges() -> BTreeMap<String, Vec<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut edges = BTreeMap::new();
    let mut stack = vec![src.clone()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|ext| ext != "rs") {
                continue;
            }
            let relative = path.strip_prefix(&src).unwrap();
            let first = relative.components().next().unwrap().as_os_str();
            let module = first.to_str().unwrap().trim_end_matches(".rs").to_owned();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let named = edges.entry(module).or_insert_with(Vec::new);
            named.extend(crate_paths(&text));
        }
    }
    edges
}

/// The first segment of every `crate::` path in `text`, comments left out.
fn crate_paths(text: &str) -> Vec<String> {
    let code: String = text
        .lines()
        .map(|line| line.split("//").next().unwrap_or_default())
        .collect::<Vec<_>>()
        .join("\n");
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item = String::new();
            for ch in group.chars() {
                match ch {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(first_segment(&item));
                        item.clear();
                        continue;
                    }
                    _ => {}
                }
                item.push(ch);
            }
            found.push(first_segment(&item));
        } else {
            found.push(first_segment(rest));
        }
    }
    found.retain(|segment| !segment.is_empty() && segment != "self");
    found
}

fn first_segment(path: &str) -> String {
    path.trim()
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

#[test]
fn no_module_names_one_above_its_layer() {
    let edges = edges();
    let mut upward = Vec::new();
    for (module, named) in &edges {
        for target in named {
            let target = target.trim_start_matches("__");
            if edges.contains_key(target) && layer_of(target) > layer_of(module) {
                upward.push(format!(
                    "{module} ({}) names {target} ({})",
                    LAYERS[layer_of(module)].0,
                    LAYERS[layer_of(target)].0
                ));
            }
        }
    }
    assert!(upward.is_empty(), "{upward:#?}");
}

#[test]
fn modules_of_one_layer_do_not_name_each_other_in_a_circle() {
    let edges = edges();
    // Depth-first search for a back edge, within each layer.
    fn visit<'a>(
        module: &'a str,
        edges: &'a BTreeMap<String, Vec<String>>,
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) {
        if done.contains(&module) {
            return;
        }
        if let Some(at) = path.iter().position(|m| *m == module) {
            panic!("module cycle: {} -> {module}", path[at..].join(" -> "));
        }
        path.push(module);
        for target in &edges[module] {
            let target = target.trim_start_matches("__");
            if target != module
                && edges.contains_key(target)
                && layer_of(target) == layer_of(module)
            {
                let target = edges.get_key_value(target).unwrap().0.as_str();
                visit(target, edges, path, done);
            }
        }
        path.pop();
        done.push(module);
    }
    let mut done = Vec::new();
    for module in edges.keys() {
        visit(module, &edges, &mut Vec::new(), &mut done);
    }
}

#[test]
fn every_module_has_a_layer() {
    for module in edges().keys() {
        layer_of(module);
    }
}

#[test]
fn the_checker_sees_grouped_and_nested_paths() {
    let text = "use crate::{a::X, b::{Y, Z}, self};\nlet x = crate::c::f(); // crate::d\n";
    assert_eq!(crate_paths(text), ["a", "b", "c"]);
}
