//! Keeps `docs/writing-a-scheduler.md` true. Every code block tagged
//! `file=PATH` must be this crate's file at PATH, byte for byte, and every
//! file of the crate but this test must be shown; every command of the
//! guide's `sh` blocks is run (in a scratch directory), and the `text
//! output` and `text trace` blocks must have the shape (numbers aside) of
//! what the preceding command printed and traced.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A fenced code block: its info string and its text.
struct Block {
    info: String,
    body: String,
}

/// The fenced blocks of a markdown text (fences start a line).
fn blocks(md: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for line in md.split_inclusive('\n') {
        match (line.strip_prefix("```"), open.take()) {
            (Some(info), None) => {
                open = Some(Block {
                    info: info.trim().to_string(),
                    body: String::new(),
                })
            }
            (Some(_), Some(b)) => out.push(b),
            (None, Some(mut b)) => {
                b.body.push_str(line);
                open = Some(b);
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "unterminated code block");
    out
}

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn guide() -> Vec<Block> {
    let path = crate_dir().join("../../docs/writing-a-scheduler.md");
    blocks(&std::fs::read_to_string(&path).expect("docs/writing-a-scheduler.md"))
}

/// `file=PATH` of an info string.
fn file_of(info: &str) -> Option<&str> {
    info.split_whitespace()
        .find_map(|w| w.strip_prefix("file="))
}

#[test]
fn the_guide_shows_every_file_verbatim() {
    let mut shown = Vec::new();
    for b in guide() {
        let Some(path) = file_of(&b.info) else {
            continue;
        };
        let actual = std::fs::read_to_string(crate_dir().join(path)).expect(path);
        assert!(
            b.body == actual,
            "docs/writing-a-scheduler.md shows an outdated {path}"
        );
        shown.push(path.to_string());
    }
    shown.sort();
    let mut want: Vec<String> = ["Cargo.toml", "tests/wrr.rs"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for entry in std::fs::read_dir(crate_dir().join("src")).expect("src") {
        let name = entry.expect("entry").file_name();
        want.push(format!("src/{}", name.to_string_lossy()));
    }
    want.sort();
    assert_eq!(shown, want);
}

/// A line with every number replaced by `#` and blanks collapsed, so that
/// output can be compared by its shape.
fn shape(line: &str) -> String {
    let mut out = String::new();
    let mut in_number = false;
    for c in line.chars() {
        let numeric = c.is_ascii_digit() || (in_number && c == '.');
        if numeric && !in_number {
            out.push('#');
        } else if !numeric {
            out.push(c);
        }
        in_number = numeric;
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn shapes(text: &str) -> Vec<String> {
    text.lines().map(shape).collect()
}

/// What the last `cargo run` of the guide produced.
struct RunOutput {
    stdout: String,
    dir: PathBuf,
    trace: Option<String>,
}

/// A fresh scratch directory, unique to this call.
fn scratch(name: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("scx-wrr-guide-{}-{name}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// `cargo new ...`, run as such in a scratch directory.
fn cargo_new(args: &[&str]) {
    let dir = scratch("new");
    let status = Command::new(env!("CARGO"))
        .args(args)
        .current_dir(&dir)
        .status()
        .expect("cargo new");
    assert!(status.success(), "cargo {args:?}");
    let path = args.last().expect("path");
    assert!(dir.join(path).join("Cargo.toml").exists());
    std::fs::remove_dir_all(&dir).expect("cleanup");
}

/// `cargo run -p scx-example-wrr -- ARGS`: the binary with ARGS.
fn run_binary(args: &[&str]) -> RunOutput {
    let dir = scratch("run");
    let out = Command::new(env!("CARGO_BIN_EXE_scx-example-wrr"))
        .args(args)
        .current_dir(&dir)
        .output()
        .expect("run the binary");
    assert!(out.status.success(), "{args:?}: {out:?}");
    let trace = args
        .iter()
        .position(|a| *a == "--trace")
        .map(|i| args[i + 1].to_string());
    let run = RunOutput {
        stdout: String::from_utf8(out.stdout).expect("utf8"),
        dir,
        trace,
    };
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    check_report(&run, &args);
    run
}

/// Runs one command line of the guide; `cargo run` results go to `last`.
fn run_command(line: &str, last: &mut Option<RunOutput>) {
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["cargo", "new", rest @ ..] => {
            let mut args = vec!["new"];
            args.extend(rest);
            cargo_new(&args);
        }
        ["cargo", "run", opts @ ..] => {
            let sep = opts
                .iter()
                .position(|w| *w == "--")
                .expect("`--` before the binary's flags");
            assert!(
                opts[..sep]
                    .windows(2)
                    .any(|w| w == ["-p", "scx-example-wrr"]),
                "{line}"
            );
            *last = Some(run_binary(&opts[sep + 1..]));
        }
        ["cargo", "test", "-p", "scx-example-wrr"] => {}
        _ => panic!("the guide runs a command this test does not know: {line}"),
    }
}

/// The JSON report the last run wrote.
fn check_report(run: &RunOutput, args: &[String]) {
    let Some(i) = args.iter().position(|a| a == "--report") else {
        return;
    };
    let text = std::fs::read_to_string(run.dir.join(&args[i + 1])).expect("report file");
    let report: serde_json::Value = serde_json::from_str(&text).expect("report JSON");
    let schema = report["schema"].as_str().expect("schema");
    assert!(schema.starts_with("scxsim-report/"), "{schema}");
    assert_eq!(report["exit"]["reason"], "unregistered from user space");
    assert_eq!(report["exit"]["scheduler"], "wrr");
}

/// Checks a `text output` or `text trace` block against the last run.
fn check_result(b: &Block, last: &Option<RunOutput>) {
    let run = last.as_ref().expect("a `cargo run` before the output");
    let want = shapes(&b.body);
    if b.info.contains("output") {
        assert_eq!(shapes(&run.stdout), want, "output of the guide's run");
        return;
    }
    let trace = run.trace.as_ref().expect("the run wrote a trace");
    let got = shapes(&std::fs::read_to_string(run.dir.join(trace)).expect("trace file"));
    assert!(
        got.windows(want.len()).any(|w| w == want.as_slice()),
        "the trace excerpt's events do not occur in this order"
    );
}

#[test]
fn the_guides_commands_work() {
    let mut last = None;
    let mut checked = 0;
    for b in guide() {
        if b.info == "sh" {
            for line in b.body.lines().map(str::trim).filter(|l| !l.is_empty()) {
                run_command(line, &mut last);
            }
        } else if b.info == "text output" || b.info == "text trace" {
            check_result(&b, &last);
            checked += 1;
        }
    }
    assert_eq!(checked, 2);
    if let Some(run) = last {
        std::fs::remove_dir_all(&run.dir).expect("cleanup");
    }
}

#[test]
fn shapes_ignore_numbers_only() {
    assert_eq!(shape("heavy-0    2240.5ms   37.3%"), "heavy-# #ms #%");
    assert_eq!(shape("[    0.020001] x"), "[ #] x");
    assert_ne!(shape("rounds=1"), shape("round=1"));
    assert!(Path::new(&crate_dir()).join("src/sched.rs").exists());
}

/// The binary runs the scheduler and writes its trace with other flags than
/// the guide's.
#[test]
fn the_binary_runs_with_a_trace() {
    let run = run_binary(&["--duration", "1s", "--trace", "t.txt"]);
    assert!(run
        .stdout
        .contains("sched_ext: BPF scheduler \"wrr\" enabled"));
    assert!(run.stdout.contains("heavy-0"));
    let trace = std::fs::read_to_string(run.dir.join("t.txt")).expect("trace");
    assert!(trace.lines().any(|l| l.contains(" op=dispatch ")));
    std::fs::remove_dir_all(&run.dir).expect("cleanup");
}
