//! Determinism (DESIGN.md "Determinism"; README: "same seed,
//! byte-identical output"): the same inputs and seed give byte-identical
//! stdout, stderr, text trace (`--trace FILE`) and JSON report (all but its
//! `host` part, the wall-clock facts), for every built-in scheduler on a
//! flat 2-CPU machine, a flat 8-CPU machine and the NUMA + SMT `server`
//! preset, with several workload presets — through the library
//! (`scxsim::run::run_with_sink`) and through the `scxsim` binary (where
//! stderr also carries the summary line with the wall time unless
//! `--quiet`). Different seeds give different traces when the workload
//! draws random numbers (`RunRange`/`SleepRange` steps).

use scxsim::outputs::{OutputPaths, Outputs};
use scxsim::run::{run_with_sink, RunConfig};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const MS: u64 = 1_000_000;

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scxsim-det-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One run's inputs.
#[derive(Clone, Debug)]
struct Spec {
    sched: &'static str,
    args: &'static [&'static str],
    topo: &'static str,
    workload: &'static str,
    duration_ms: u64,
}

/// Everything a run produced.
#[derive(Debug, PartialEq)]
struct Outcome {
    out: Vec<u8>,
    err: Vec<u8>,
    trace: Vec<u8>,
    /// The report without `host`.
    report: Value,
    exit_code: i32,
}

fn config(s: &Spec, seed: u64) -> RunConfig {
    let mut cfg = RunConfig::new(s.sched, s.args.iter().map(|a| a.to_string()).collect());
    cfg.topo = scx_machine::Topology::parse(s.topo).unwrap();
    cfg.workload = Arc::new(scx_workload::presets::build(s.workload, cfg.topo.nr_cpus()).unwrap());
    cfg.duration = s.duration_ms * MS;
    cfg.seed = seed;
    cfg
}

/// Reads a JSON report and removes `host`, asserting it was there.
fn report_without_host(path: &Path) -> Value {
    let mut v: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let host = v.as_object_mut().unwrap().remove("host");
    assert!(host.is_some(), "{}: no host section", path.display());
    v
}

fn run_lib(s: &Spec, seed: u64, dir: &Path) -> Outcome {
    let cfg = config(s, seed);
    let paths = OutputPaths {
        trace: Some(dir.join("trace.txt")),
        report: Some(dir.join("report.json")),
        ..Default::default()
    };
    let mut outputs = Outputs::create(&paths).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let res = run_with_sink(&cfg, &mut out, &mut err, outputs.sink()).unwrap();
    outputs.finish(&cfg, &res).unwrap();
    Outcome {
        out,
        err,
        trace: std::fs::read(dir.join("trace.txt")).unwrap(),
        report: report_without_host(&dir.join("report.json")),
        exit_code: res.exit_code(),
    }
}

/// Asserts two outcomes are identical, naming the first difference.
fn assert_same(what: &str, a: &Outcome, b: &Outcome) {
    let first_diff = |x: &[u8], y: &[u8]| x.iter().zip(y).position(|(p, q)| p != q);
    for (name, x, y) in [
        ("stdout", &a.out, &b.out),
        ("stderr", &a.err, &b.err),
        ("trace", &a.trace, &b.trace),
    ] {
        assert!(
            x == y,
            "{what}: {name} differs ({} vs {} bytes, first difference at byte {:?})",
            x.len(),
            y.len(),
            first_diff(x, y)
        );
    }
    assert!(a.report == b.report, "{what}: report differs");
    assert_eq!(a.exit_code, b.exit_code, "{what}: exit code");
}

const SCHEDULERS: &[(&str, &[&str])] = &[
    ("simple", &[]),
    ("qmap", &["-b", "4"]),
    ("central", &[]),
    ("flatcg", &[]),
];

/// (topology, workload, draws random numbers)
const SHAPES: &[(&str, &str, bool)] = &[
    ("2", "default", false),
    ("2", "wake_storm", true),
    ("8", "schbench", true),
    ("server", "interactive_batch", true),
];

/// Every scheduler × shape, run twice with one seed: identical.
#[test]
fn same_seed_same_bytes_for_every_scheduler_and_shape() {
    let dir = scratch("same");
    for (sched, args) in SCHEDULERS {
        for (topo, workload, _) in SHAPES {
            let s = Spec {
                sched,
                args,
                topo,
                workload,
                duration_ms: 150,
            };
            let what = format!("{s:?}");
            let a = run_lib(&s, 7, &dir);
            let b = run_lib(&s, 7, &dir);
            assert!(
                !a.trace.is_empty() && !a.out.is_empty(),
                "{what}: nothing produced"
            );
            assert_same(&what, &a, &b);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// A run that ends in the watchdog's stall exit, with its debug dump on
/// stderr: also identical.
#[test]
fn same_seed_same_bytes_with_an_error_exit_and_dump() {
    let dir = scratch("stall");
    let s = Spec {
        sched: "qmap",
        args: &["-l", "100"],
        topo: "2",
        workload: "default",
        duration_ms: 12_000,
    };
    let a = run_lib(&s, 1, &dir);
    let b = run_lib(&s, 1, &dir);
    let err = String::from_utf8_lossy(&a.err);
    assert!(err.contains("DEBUG DUMP"), "{err}");
    assert!(err.contains("EXIT: runnable task stall"), "{err}");
    assert_same("qmap -l 100", &a, &b);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Workloads with random run and sleep lengths: a different seed gives a
/// different trace (and the seed is what the report says it is).
#[test]
fn different_seeds_give_different_traces_for_random_workloads() {
    let dir = scratch("seeds");
    for (sched, args) in SCHEDULERS {
        for (topo, workload, random) in SHAPES {
            if !random {
                continue;
            }
            let s = Spec {
                sched,
                args,
                topo,
                workload,
                duration_ms: 150,
            };
            let a = run_lib(&s, 1, &dir);
            let b = run_lib(&s, 2, &dir);
            assert_ne!(a.trace, b.trace, "{s:?}: seeds 1 and 2 gave the same trace");
            assert_eq!(a.report["config"]["seed"], 1);
            assert_eq!(b.report["config"]["seed"], 2);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// What one run of the binary produced.
struct BinOutcome {
    out: Vec<u8>,
    err: Vec<u8>,
    code: Option<i32>,
    files: Vec<(String, Vec<u8>)>,
    report: Value,
}

fn run_bin(args: &[&str], dir: &Path) -> BinOutcome {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_scxsim"))
        .args(args)
        .args(["--trace", "trace.txt", "--report", "report.json"])
        .args(["--ftrace", "ftrace.txt"])
        .current_dir(dir)
        .output()
        .unwrap();
    let mut files = Vec::new();
    for name in ["trace.txt", "ftrace.txt"] {
        files.push((name.to_string(), std::fs::read(dir.join(name)).unwrap()));
    }
    BinOutcome {
        out: o.stdout,
        err: o.stderr,
        code: o.status.code(),
        files,
        report: report_without_host(&dir.join("report.json")),
    }
}

/// stderr without scxsim's summary line (the only line carrying the wall
/// time).
fn without_summary(err: &[u8]) -> (String, usize) {
    let text = String::from_utf8(err.to_vec()).unwrap();
    let mut removed = 0;
    let kept: Vec<&str> = text
        .split_inclusive('\n')
        .filter(|l| {
            let summary = l.starts_with("scxsim: simulated ");
            removed += usize::from(summary);
            !summary
        })
        .collect();
    (kept.concat(), removed)
}

/// The binary, twice with the same arguments (8 CPUs, schbench, qmap):
/// identical stdout, stderr but for the summary line (present without
/// `--quiet`), trace, ftrace text and report; with `--quiet` stderr is
/// identical as a whole. Its stdout is also what the library prints for
/// the same inputs.
#[test]
fn the_binary_is_deterministic_too() {
    let base = scratch("bin");
    let args = [
        "qmap",
        "-b",
        "4",
        "--cpus",
        "8",
        "--workload",
        "schbench",
        "--duration",
        "150ms",
        "--seed",
        "5",
    ];
    let a = run_bin(&args, &base.join("a"));
    let b = run_bin(&args, &base.join("b"));
    assert_eq!(a.code, Some(0), "{}", String::from_utf8_lossy(&a.err));
    assert_eq!(a.code, b.code);
    assert!(a.out == b.out, "stdout differs");
    let (ea, na) = without_summary(&a.err);
    let (eb, nb) = without_summary(&b.err);
    assert_eq!((na, nb), (1, 1), "one summary line without --quiet:\n{ea}");
    assert_eq!(ea, eb, "stderr differs beyond the summary line");
    for ((name, x), (_, y)) in a.files.iter().zip(&b.files) {
        assert!(!x.is_empty(), "{name} is empty");
        assert!(x == y, "{name} differs");
    }
    assert!(a.report == b.report, "report differs");

    let mut quiet = args.to_vec();
    quiet.push("--quiet");
    let c = run_bin(&quiet, &base.join("c"));
    let d = run_bin(&quiet, &base.join("d"));
    assert_eq!(
        without_summary(&c.err).1,
        0,
        "--quiet still prints the summary"
    );
    assert!(c.err == d.err, "stderr differs with --quiet");
    assert!(c.out == a.out, "--quiet changed stdout");
    assert_eq!(c.files, a.files, "--quiet changed the files");

    // The library, same inputs: the same console output.
    let s = Spec {
        sched: "qmap",
        args: &["-b", "4"],
        topo: "8",
        workload: "schbench",
        duration_ms: 150,
    };
    let lib = run_lib(&s, 5, &base);
    assert!(lib.out == a.out, "library and binary stdout differ");
    assert_eq!(lib.err, c.err, "library and binary (--quiet) stderr differ");
    assert_eq!(lib.trace, a.files[0].1, "library and binary traces differ");
    assert!(lib.report == a.report, "library and binary reports differ");
    let _ = std::fs::remove_dir_all(&base);
}
