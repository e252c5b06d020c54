//! `scxsim compare`: several schedulers on the same machine, workload,
//! seed and kernel knobs, side by side.
//!
//! ```text
//! scxsim compare simple "qmap -b 4" [--cpus N | --topo SPEC] [--workload W]
//!        [--duration D] [--seed N] [--kernel K=V]... [--jobs N] [--report FILE.json]
//! ```
//!
//! Each scheduler spec is a name followed by that scheduler's own flags:
//! one argument (`"qmap -b 4"`), comma-separated (`simple,qmap`), or
//! unquoted words where a word that is not a scheduler name belongs to
//! the scheduler before it (`simple qmap -b 4`). A compiled BPF object
//! (`path/sched.bpf.o`) is a scheduler too; the words after it are its
//! knobs, `NAME=VALUE` as `--set` takes them
//! (`"scx_simple.bpf.o fifo_sched=true"`), or, for the kernel's example
//! objects, their tools' flags (`"scx_qmap.bpf.o -b 4"`). The runs are independent
//! and deterministic, so they run in parallel threads (`--jobs`, default:
//! the number of CPUs) and the table is the same whatever the order they
//! finish in.
//!
//! Figures per scheduler (definitions in `scx_observe::metrics`): how the
//! scheduler exited; CPU busy (all tasks' CPU time per simulated second,
//! in CPUs); workload throughput (the CPU time per second of user tasks,
//! i.e. not kernel threads); wakeup latency p50/p99; run delay mean/p99;
//! fairness vs weight (time-weighted Jain index and the share/expected
//! range); migrations; context switches (voluntary/involuntary); wakeups;
//! callbacks; dispatch-loop breaker kicks; and the host wall time.

use crate::run::{is_bpf_object, run_tool, run_with_sink, RunConfig, RunError};
use scx_bpf_sched::knobs::Knob;
use scx_bpf_sched::{BpfTool, OpenOptions};
use scx_observe::metrics::{fmt_ns, Metrics, MetricsReport};
use scx_observe::Shared;
use serde_json::{json, Value};
use std::fmt::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Comparison JSON schema identifier.
pub const SCHEMA: &str = "scxsim-compare/1";

/// One scheduler to run: its name and flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedSpec {
    /// As given (`qmap -b 4`), used as the column title.
    pub label: String,
    /// Scheduler name.
    pub name: String,
    /// Its flags.
    pub args: Vec<String>,
}

impl SchedSpec {
    /// Parses `"name flag flag..."`.
    pub fn parse(s: &str) -> Result<SchedSpec, String> {
        let mut words = s.split_whitespace().map(str::to_string);
        let name = words.next().ok_or("empty scheduler spec")?;
        let args: Vec<String> = words.collect();
        let label = std::iter::once(name.clone())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" ");
        Ok(SchedSpec { label, name, args })
    }

    /// Parses the command line's specs (see the module doc).
    pub fn parse_list(args: &[String]) -> Result<Vec<SchedSpec>, String> {
        let mut words: Vec<String> = Vec::new();
        for a in args {
            for (i, part) in a.split(',').enumerate() {
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                // A comma or a new scheduler name starts a new spec.
                let starts = i > 0 || words.is_empty() || part.contains(' ') || is_scheduler(part);
                match words.last_mut() {
                    Some(w) if !starts => {
                        w.push(' ');
                        w.push_str(part);
                    }
                    _ => words.push(part.to_string()),
                }
            }
        }
        if words.is_empty() {
            return Err("compare: name at least one scheduler (e.g. simple,qmap)".into());
        }
        words.iter().map(|w| SchedSpec::parse(w)).collect()
    }
}

/// True if `word` names a built-in scheduler or a BPF object.
fn is_scheduler(word: &str) -> bool {
    let bare = word.strip_prefix("scx_").unwrap_or(word);
    scx_scheds::tool::TOOLS.iter().any(|(n, _)| *n == bare) || is_bpf_object(word)
}

/// One scheduler's results.
#[derive(Clone, Debug)]
pub struct Row {
    /// The spec.
    pub spec: SchedSpec,
    /// Loader program name.
    pub program: String,
    /// Final exit kind name, or `-`.
    pub exit_kind: String,
    /// Final exit reason.
    pub exit_reason: String,
    /// Scheduler instances that exited.
    pub exits: usize,
    /// Load or attach failure.
    pub load_error: Option<String>,
    /// The process exit code scxsim would return.
    pub exit_code: i32,
    /// CPU time of user (non-kernel-thread) tasks.
    pub workload_ns: u64,
    /// Host wall time.
    pub wall_ns: u64,
    /// Everything measured.
    pub metrics: MetricsReport,
}

impl Row {
    /// All tasks' CPU time per simulated second (CPUs).
    pub fn busy_cpus(&self) -> f64 {
        self.metrics.busy_cpus()
    }

    /// User tasks' CPU time per simulated second (CPUs).
    pub fn throughput(&self) -> f64 {
        let end = self.metrics.end_ns.max(1) as f64;
        self.workload_ns as f64 / end
    }

    /// The sum of every task's share (equals [`Row::busy_cpus`]).
    pub fn share_sum(&self) -> f64 {
        self.metrics.tasks.iter().map(|t| t.share).sum()
    }

    fn to_json(&self) -> Value {
        let m = &self.metrics;
        let c = &m.counts;
        json!({
            "label": self.spec.label,
            "scheduler": self.spec.name,
            "args": self.spec.args,
            "program": self.program,
            "exit": {
                "kind": self.exit_kind,
                "reason": self.exit_reason,
                "instances": self.exits,
                "exit_code": self.exit_code,
                "load_error": self.load_error,
            },
            "end_ns": m.end_ns,
            "busy_cpus": self.busy_cpus(),
            "utilization": m.utilization,
            "share_sum": self.share_sum(),
            "workload_ns": self.workload_ns,
            "throughput_cpus": self.throughput(),
            "wakeup_latency": m.wakeup_latency.to_json(),
            "run_delay": m.run_delay.to_json(),
            "fairness": {
                "jain": m.fairness.jain,
                "min_share_ratio": m.fairness.min_ratio,
                "max_share_ratio": m.fairness.max_ratio,
                "tasks": m.fairness.tasks,
            },
            "migrations": c.migrations,
            "context_switches": c.context_switches,
            "voluntary_switches": c.voluntary_switches,
            "involuntary_switches": c.involuntary_switches,
            "wakeups": c.wakeups,
            "wakeups_new": c.wakeups_new,
            "op_calls": c.op_calls,
            "breaker_kicks": c.breaker_kicks,
            "host": { "wall_ns": self.wall_ns },
        })
    }
}

/// The comparison.
#[derive(Clone, Debug)]
pub struct Table {
    /// What was compared on (workload, machine, duration, seed).
    pub setup: String,
    /// One row per scheduler, in the order given.
    pub rows: Vec<Row>,
}

/// A line of the text table: label and one cell per scheduler.
type Line = (&'static str, fn(&Row) -> String);

const LINES: &[Line] = &[
    ("exit", |r| {
        r.exit_kind.trim_start_matches("SCX_EXIT_").into()
    }),
    ("CPU busy (CPUs)", |r| format!("{:.3}", r.busy_cpus())),
    ("workload CPU/s (CPUs)", |r| {
        format!("{:.3}", r.throughput())
    }),
    ("wakeup latency p50", |r| {
        lat(r, |m| m.wakeup_latency.p50_ns as f64)
    }),
    ("wakeup latency p99", |r| {
        lat(r, |m| m.wakeup_latency.p99_ns as f64)
    }),
    ("run delay mean", |r| fmt_ns(r.metrics.run_delay.mean_ns)),
    ("run delay p99", |r| {
        fmt_ns(r.metrics.run_delay.p99_ns as f64)
    }),
    ("fairness (Jain)", |r| {
        format!("{:.3}", r.metrics.fairness.jain)
    }),
    ("share/expected range", |r| {
        let f = &r.metrics.fairness;
        format!("{:.2}-{:.2}", f.min_ratio, f.max_ratio)
    }),
    ("migrations", |r| r.metrics.counts.migrations.to_string()),
    ("context switches", |r| {
        r.metrics.counts.context_switches.to_string()
    }),
    ("  voluntary/involuntary", |r| {
        let c = &r.metrics.counts;
        format!("{}/{}", c.voluntary_switches, c.involuntary_switches)
    }),
    ("wakeups (+new)", |r| {
        let c = &r.metrics.counts;
        format!("{}+{}", c.wakeups, c.wakeups_new)
    }),
    ("callbacks", |r| r.metrics.counts.op_calls.to_string()),
    ("breaker kicks", |r| {
        r.metrics.counts.breaker_kicks.to_string()
    }),
    ("wall time (host)", |r| fmt_ns(r.wall_ns as f64)),
];

fn lat(r: &Row, f: fn(&MetricsReport) -> f64) -> String {
    if r.metrics.wakeup_latency.count == 0 {
        "-".into()
    } else {
        fmt_ns(f(&r.metrics))
    }
}

impl Table {
    /// The table as text: one column per scheduler, then each exit reason.
    pub fn to_text(&self) -> String {
        let label_w = LINES.iter().map(|l| l.0.len()).max().unwrap_or(0) + 2;
        let cells: Vec<Vec<String>> = LINES
            .iter()
            .map(|(_, f)| self.rows.iter().map(f).collect())
            .collect();
        let col_w: Vec<usize> = (0..self.rows.len())
            .map(|i| {
                let head = self.rows[i].spec.label.chars().count();
                cells
                    .iter()
                    .map(|c| c[i].chars().count())
                    .chain([head])
                    .max()
                    .unwrap_or(0)
                    + 2
            })
            .collect();
        let mut s = format!("scxsim compare: {}\n", self.setup);
        let _ = write!(s, "{:label_w$}", "");
        for (r, w) in self.rows.iter().zip(&col_w) {
            let _ = write!(s, "{:>w$}", r.spec.label);
        }
        s.push('\n');
        for ((label, _), row) in LINES.iter().zip(&cells) {
            let _ = write!(s, "{label:label_w$}");
            for (c, w) in row.iter().zip(&col_w) {
                let _ = write!(s, "{c:>w$}");
            }
            s.push('\n');
        }
        for r in &self.rows {
            let why = r.load_error.as_deref().unwrap_or(&r.exit_reason);
            let _ = writeln!(s, "{}: {}", r.spec.label, why);
        }
        s
    }

    /// The table as JSON (schema [`SCHEMA`]).
    pub fn to_json(&self) -> Value {
        json!({
            "schema": SCHEMA,
            "setup": self.setup,
            "rows": self.rows.iter().map(Row::to_json).collect::<Vec<_>>(),
        })
    }
}

/// Why a comparison could not be made.
#[derive(Debug)]
pub enum CompareError {
    /// A scheduler's flags were bad, or it printed its help.
    BadInput(String),
    /// Writing failed.
    Io(std::io::Error),
}

impl std::fmt::Display for CompareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompareError::BadInput(s) => write!(f, "{s}"),
            CompareError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for CompareError {}

/// The configuration of one scheduler's run: `base` with `spec`'s
/// scheduler, quiet consoles.
pub fn config_for(base: &RunConfig, spec: &SchedSpec) -> RunConfig {
    RunConfig {
        scheduler: spec.name.clone(),
        sched_args: spec.args.clone(),
        topo: base.topo.clone(),
        kernel: base.kernel.clone(),
        workload: base.workload.clone(),
        duration: base.duration,
        seed: base.seed,
        attach_at: base.attach_at,
        dmesg: false,
        quiet: true,
    }
}

/// Runs one scheduler and measures it.
pub fn run_one(base: &RunConfig, spec: &SchedSpec) -> Result<Row, CompareError> {
    let cfg = config_for(base, spec);
    let metrics = Shared::new(Metrics::new());
    let (mut out, mut err) = (std::io::sink(), std::io::sink());
    let sink = Some(Box::new(metrics.clone()) as Box<dyn scx_observe::Sink>);
    let ran = if is_bpf_object(&spec.name) {
        let tool = open_bpf(&cfg, spec)?;
        run_tool(&cfg, tool, &mut out, &mut err, sink)
    } else {
        run_with_sink(&cfg, &mut out, &mut err, sink)
    };
    let res = ran.map_err(|e| match e {
        RunError::BadInput(s) => CompareError::BadInput(format!("{}: {s}", spec.label)),
        RunError::Help(_) => CompareError::BadInput(format!("{}: -h given", spec.label)),
        RunError::Io(e) => CompareError::Io(e),
    })?;
    let m = metrics.borrow().report(res.sim_ns);
    let workload_ns = m
        .tasks
        .iter()
        .filter(|t| !t.kthread)
        .map(|t| t.runtime_ns)
        .sum();
    let last = res.final_exit();
    Ok(Row {
        spec: spec.clone(),
        program: res.program.clone(),
        exit_kind: last.map_or("-".into(), |e| {
            scx_kernel::ext::exit::exit_kind_name(e.info.kind).to_string()
        }),
        exit_reason: last.map_or("did not exit".into(), |e| e.info.reason.clone()),
        exits: res.exits.len(),
        load_error: res.load_error.clone(),
        exit_code: res.exit_code(),
        workload_ns,
        wall_ns: res.wall_ns,
        metrics: m,
    })
}

/// Opens the BPF object of `spec` for `cfg`'s machine: its `NAME=VALUE`
/// words are knobs, the others its loader's flags.
fn open_bpf(
    cfg: &RunConfig,
    spec: &SchedSpec,
) -> Result<Box<dyn scx_scheds::tool::Tool>, CompareError> {
    let bad = |why: String| CompareError::BadInput(format!("{}: {why}", spec.label));
    let mut opts = OpenOptions::new(cfg.topo.nr_cpus() as u32);
    opts.seed = cfg.seed;
    for w in &spec.args {
        if w.contains('=') {
            opts.knobs.push(Knob::parse(w).map_err(bad)?);
        } else {
            opts.loader_args.push(w.clone());
        }
    }
    let tool = BpfTool::open(&spec.name, &opts).map_err(|e| bad(e.to_string()))?;
    Ok(Box::new(tool))
}

/// A one-line description of the common setup.
pub fn setup_line(base: &RunConfig) -> String {
    format!(
        "workload {}, {} CPUs ({}), {:.3} s, seed {}",
        base.workload.name,
        base.topo.nr_cpus(),
        base.topo.spec(),
        base.duration as f64 / 1e9,
        base.seed
    )
}

/// Runs every spec on `base`'s machine and workload, `jobs` at a time
/// (0 = one per available CPU), and tabulates.
pub fn compare(base: &RunConfig, specs: &[SchedSpec], jobs: usize) -> Result<Table, CompareError> {
    let jobs = match jobs {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .min(specs.len())
    .max(1);
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<Result<Row, CompareError>>>> =
        Mutex::new((0..specs.len()).map(|_| None).collect());
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(spec) = specs.get(i) else { break };
                let r = run_one(base, spec);
                results.lock().expect("results lock")[i] = Some(r);
            });
        }
    });
    let rows = results
        .into_inner()
        .expect("results lock")
        .into_iter()
        .map(|r| r.expect("every spec ran"))
        .collect::<Result<Vec<Row>, CompareError>>()?;
    Ok(Table {
        setup: setup_line(base),
        rows,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(args: &[&str]) -> Vec<String> {
        let a: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        SchedSpec::parse_list(&a)
            .unwrap()
            .into_iter()
            .map(|s| s.label)
            .collect()
    }

    #[test]
    fn spec_lists() {
        assert_eq!(labels(&["simple,qmap"]), ["simple", "qmap"]);
        assert_eq!(labels(&["simple", "qmap -b 4"]), ["simple", "qmap -b 4"]);
        assert_eq!(
            labels(&["simple", "qmap", "-b", "4"]),
            ["simple", "qmap -b 4"]
        );
        assert_eq!(labels(&["simple -f,qmap -l 5"]), ["simple -f", "qmap -l 5"]);
        let s = SchedSpec::parse("qmap  -b 4").unwrap();
        assert_eq!((s.name.as_str(), s.args.len()), ("qmap", 2));
        assert!(SchedSpec::parse_list(&[]).is_err());
    }
}
