//! `scx-example-wrr`: runs `scx_wrr` on the demo workload on a simulated
//! machine, like the real loader on a real one, then prints how the CPU
//! time was shared.
//!
//! ```text
//! scx-example-wrr [-s SLICE_US] [--cpus N] [--duration DUR] [--seed N]
//!                 [--trace FILE] [--report FILE.json]
//! ```

use scx_example_wrr::loader::WrrTool;
use scx_example_wrr::workload::weighted_hogs;
use scx_kernel::Kernel;
use scx_machine::clock::parse_duration;
use scx_machine::Topology;
use scx_observe::text::TextTrace;
use scx_observe::Sink;
use scx_scheds::tool::ToolError;
use scxsim::run::{run_tool, RunConfig};
use std::io::BufWriter;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

/// The command line: our long options, and the scheduler's own flags.
struct Options {
    cpus: usize,
    duration: u64,
    seed: u64,
    trace: Option<String>,
    report: Option<String>,
    sched_args: Vec<String>,
}

fn number<T: std::str::FromStr>(opt: &str, v: &str) -> Result<T, String> {
    v.parse().map_err(|_| format!("{opt}: bad number {v:?}"))
}

fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        cpus: 2,
        duration: 5_000_000_000,
        seed: 1,
        trace: None,
        report: None,
        sched_args: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if !a.starts_with("--") {
            o.sched_args.push(a.clone());
            continue;
        }
        let v = it.next().ok_or(format!("{a}: missing value"))?;
        match a.as_str() {
            "--cpus" => o.cpus = number(a, v)?,
            "--seed" => o.seed = number(a, v)?,
            "--duration" => o.duration = parse_duration(v)?,
            "--trace" => o.trace = Some(v.clone()),
            "--report" => o.report = Some(v.clone()),
            _ => return Err(format!("unknown option {a}")),
        }
    }
    Ok(o)
}

/// A sink writing the text trace to `path`.
fn trace_sink(path: &str) -> Result<Box<dyn Sink>, String> {
    let f = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
    Ok(Box::new(TextTrace::new(BufWriter::new(f))))
}

/// Each demo task's CPU time and share of the demo tasks' total.
fn print_shares(k: &Kernel) {
    let demo: Vec<_> = k
        .tasks
        .iter()
        .filter(|t| {
            ["heavy", "light", "blip"]
                .iter()
                .any(|n| t.comm.starts_with(n))
        })
        .collect();
    let total: u64 = demo.iter().map(|t| t.sum_exec_runtime).sum();
    println!("{:<10} {:>12} {:>7}", "task", "runtime", "share");
    for t in demo {
        let ms = t.sum_exec_runtime as f64 / 1e6;
        let share = 100.0 * t.sum_exec_runtime as f64 / total.max(1) as f64;
        println!("{:<10} {:>10.1}ms {:>6.1}%", t.comm, ms, share);
    }
}

/// Runs the simulation; returns the process exit code.
fn run(args: &[String]) -> Result<u8, String> {
    let o = parse_options(args)?;
    let tool = match WrrTool::parse(&o.sched_args) {
        Ok(t) => t,
        Err(ToolError::Help(h)) => {
            print!("{h}");
            return Ok(0);
        }
        Err(ToolError::Usage(u)) => return Err(u),
    };
    let mut cfg = RunConfig::new("wrr", o.sched_args.clone());
    cfg.topo = Topology::flat(o.cpus)?;
    cfg.workload = Arc::new(weighted_hogs(o.cpus));
    cfg.duration = o.duration;
    cfg.seed = o.seed;
    let sink = o.trace.as_deref().map(trace_sink).transpose()?;
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    let mut res =
        run_tool(&cfg, Box::new(tool), &mut out, &mut err, sink).map_err(|e| e.to_string())?;
    // Dropping the sink flushes the trace file.
    drop(res.kernel.take_sink());
    if let Some(path) = &o.report {
        let report = scxsim::report::build(&cfg, &res);
        scxsim::report::write(Path::new(path), &report).map_err(|e| format!("{path}: {e}"))?;
    }
    print_shares(&res.kernel);
    Ok(res.exit_code() as u8)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("scx-example-wrr: {e}");
            ExitCode::from(2)
        }
    }
}
