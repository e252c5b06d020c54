//! Helpers shared by the rt-app integration tests: reading the example
//! files under `tests/rtapp/` and spelling expected workloads tersely.
#![allow(dead_code)]

use scx_workload::rtapp;
use scx_workload::{Repeat, Step, TaskSpec, Workload};
use std::path::PathBuf;

/// The example files, by name without `.json`.
pub const EXAMPLES: &[&str] = &[
    "periodic",
    "wakechain",
    "fork",
    "taskgroups",
    "prodcons",
    "barrier",
];

/// Path of example `name`.
pub fn example_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/rtapp")
        .join(format!("{name}.json"))
}

/// Text of example `name`.
pub fn example_text(name: &str) -> String {
    std::fs::read_to_string(example_path(name)).expect("example file")
}

/// Example `name` parsed as file `{name}.json` for `nr_cpus` CPUs.
pub fn example(name: &str, nr_cpus: usize) -> Workload {
    rtapp::parse(&example_text(name), &format!("{name}.json"), nr_cpus)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// `text` parsed as `wl.json` on 4 CPUs, which must succeed.
pub fn ok(text: &str) -> Workload {
    rtapp::parse(text, "wl.json", 4).unwrap_or_else(|e| panic!("{e}"))
}

/// The error message for `text` parsed as `wl.json` on 4 CPUs.
pub fn err(text: &str) -> String {
    match rtapp::parse(text, "wl.json", 4) {
        Ok(w) => panic!("expected an error, got {w:#?}"),
        Err(e) => e.to_string(),
    }
}

/// Microseconds in ns.
pub fn us(n: u64) -> u64 {
    n * 1_000
}

/// Milliseconds in ns.
pub fn ms(n: u64) -> u64 {
    n * 1_000_000
}

/// `body` repeated `n` times.
pub fn times(n: u64, body: Vec<Step>) -> Step {
    Step::Loop {
        repeat: Repeat::Times(n),
        body,
    }
}

/// `body` repeated for ever.
pub fn forever(body: Vec<Step>) -> Step {
    Step::Loop {
        repeat: Repeat::Forever,
        body,
    }
}

/// An rt-app thread: one instance, threads of one process.
pub fn thread(name: &str, program: Vec<Step>) -> TaskSpec {
    TaskSpec {
        same_process: true,
        ..TaskSpec::new(name, program)
    }
}

/// The workload `parse` builds for file `name.json` with these parts.
pub fn workload(name: &str) -> Workload {
    Workload {
        name: name.to_string(),
        description: format!("rt-app workload {name}"),
        ..Workload::default()
    }
}

/// Checks that `e` is one line `file:line:col: message` with a position
/// inside `text` (or `1:1` for empty input).
pub fn assert_positioned(e: &rtapp::RtAppError, file: &str, text: &str) {
    let s = e.to_string();
    assert!(
        !s.contains('\n') && !s.contains('\r'),
        "not one line: {s:?}"
    );
    let prefix = format!("{file}:{}:{}: ", e.line, e.column);
    assert!(
        s.starts_with(&prefix),
        "{s:?} does not start with {prefix:?}"
    );
    assert!(s.len() > prefix.len(), "empty message: {s:?}");
    assert!(e.line >= 1 && e.column >= 1, "{s}");
    let body = text.strip_prefix('\u{feff}').unwrap_or(text);
    let lines: Vec<&str> = body.split('\n').collect();
    let line = lines
        .get(e.line as usize - 1)
        .unwrap_or_else(|| panic!("line out of range: {s}"));
    assert!(
        e.column as usize <= line.chars().count() + 1,
        "column out of range: {s}"
    );
}
