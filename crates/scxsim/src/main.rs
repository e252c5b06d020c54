//! The `scxsim` command line.
//!
//! `scxsim <scheduler> [the scheduler's own flags] [--scxsim options]`:
//! the scheduler's flags are short ones, passed verbatim to its loader;
//! scxsim's options are all long ones, so the two mix freely.
//!
//! `scxsim path/to/sched.bpf.o [--set NAME=VALUE]... [--scxsim options]`
//! runs a compiled sched_ext BPF object instead (scx-bpf-sched's loader).

use clap::{Arg, ArgAction, Command};
use scx_bpf_sched::knobs::Knob;
use scx_bpf_sched::{BpfTool, OpenError, OpenOptions};
use scx_kernel::config::{KernelConfig, KNOBS};
use scx_machine::clock::parse_duration;
use scx_machine::Topology;
use scx_scheds::tool::Tool;
use scx_workload::TimedAction;
use scxsim::compare::{self, CompareError, SchedSpec};
use scxsim::exitcode;
use scxsim::outputs::{OutputPaths, Outputs};
use scxsim::run::{is_bpf_object, run_tool, run_with_sink, RunConfig, RunError};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

fn options() -> Command {
    let knobs: Vec<String> = KNOBS
        .iter()
        .map(|(k, d)| format!("  {k:<20} {d}"))
        .collect();
    let presets: Vec<String> = scx_workload::presets::PRESETS
        .iter()
        .map(|(n, d)| format!("  {n:<18} {d}"))
        .collect();
    let tools: Vec<String> = scx_scheds::tool::TOOLS
        .iter()
        .map(|(n, d)| format!("  {n:<10} {d}"))
        .collect();
    let dfl = scx_machine::cost::CostModel::default();
    let costs: Vec<String> = scx_machine::cost::CostModel::FIELDS
        .iter()
        .map(|(n, d)| format!("  {n:<15} {:>6} ns  {d}", dfl.get(n).unwrap_or(0)))
        .collect();
    let topos: Vec<String> = scx_machine::topology::PRESETS
        .iter()
        .map(|(n, s, d)| format!("  {n:<10} {s:<9} {d}"))
        .collect();
    Command::new("scxsim")
        .version(env!("CARGO_PKG_VERSION"))
        .about("A deterministic simulator of Linux's sched_ext scheduling class")
        .override_usage(
            "scxsim <SCHEDULER> [SCHEDULER FLAGS...] [--cpus N | --topo SPEC] [--workload PRESET|FILE]\n       \
             [--duration DUR] [--seed N] [--kernel KEY=VALUE]... [--report FILE.json] [--trace FILE]\n       \
             [--ftrace FILE] [--html FILE.html] [--summary] [--quiet]\n       \
             scxsim <OBJECT.bpf.o> [--set NAME=VALUE]... [the same options]\n       \
             scxsim compare SCHEDULER[,SCHEDULER...] [machine, workload and run options] [--jobs N] [--report FILE.json]",
        )
        .after_help(format!(
            "Schedulers (their own flags follow them verbatim; `scxsim <SCHEDULER> -h` shows them):\n{}\n\n\
             BPF objects: a SCHEDULER that is not one of the above and ends in .bpf.o or names an existing\n\
             file is a compiled sched_ext BPF object (clang -target bpf), run unmodified by scxsim's eBPF\n\
             interpreter. Its const volatile knobs are set with --set NAME=VALUE (integers, 0x hex,\n\
             true/false); `scxsim OBJECT.bpf.o -h` lists them. A global nr_cpu_ids is set to the CPU count\n\
             and RESIZABLE_ARRAY()s are sized to it, as the example loaders do. The kernel's own\n\
             scx_simple, scx_qmap, scx_central and scx_flatcg objects also take their tools' flags\n\
             (`scxsim scx_qmap.bpf.o -l 100`). A program fault (e.g. an out-of-bounds access) ends the\n\
             scheduler with an error exit. See docs/bpf-schedulers.md.\n\n\
             Topology presets (--topo):\n{}\n\n\
             Workload presets (--workload):\n{}\n\n\
             Kernel knobs (--kernel KEY=VALUE):\n{}\n\n\
             Kernel path costs (--kernel cost.NAME=DURATION; defaults):\n{}\n\n\
             Timed actions (--at TIME:ACTION, repeatable): cpu-offline=N, cpu-online=N (CPU hotplug),\n\
             sysrq-s (SysRq-S: disable the sched_ext scheduler), sysrq-d (SysRq-D: a debug dump to\n\
             the sched_ext_dump tracepoint; see it with --ftrace or --trace). E.g. --at 2s:cpu-offline=1.\n\n\
             Compare: `scxsim compare simple \"qmap -b 4\"` runs each scheduler (name and its own flags)\n\
             on the same machine, workload and seed, in parallel, and prints one table\n\
             (--report FILE.json writes it as JSON). A BPF object's words are its knobs:\n\
             `scxsim compare simple \"sched.bpf.o fifo_mode=true\"`.\n\n\
             Exit codes: 0 normal end, 1 scxsim failure, 2 bad input, 3 load/attach failure,\n\
             4 SCX_EXIT_UNREG_KERN, 5 SysRq-S, 10 SCX_EXIT_ERROR, 11 SCX_EXIT_ERROR_BPF,\n\
             12 SCX_EXIT_ERROR_STALL, 20 machine hung (hard LOCKUP reported), 21 machine hung silently.",
            tools.join("\n"),
            topos.join("\n"),
            presets.join("\n"),
            knobs.join("\n"),
            costs.join("\n")
        ))
        .disable_help_flag(true)
        .arg(Arg::new("help").long("help").action(ArgAction::SetTrue).help("Print help"))
        .arg(Arg::new("cpus").long("cpus").value_name("N").help("Flat machine with N CPUs (default 2)"))
        .arg(
            Arg::new("topo")
                .long("topo")
                .value_name("SPEC")
                .help("NODESxLLCSxCORESxTHREADS (e.g. 2x2x8x2) or a topology preset"),
        )
        .arg(
            Arg::new("workload")
                .long("workload")
                .value_name("PRESET|FILE")
                .help("Workload preset name or rt-app JSON file (default: default)"),
        )
        .arg(Arg::new("duration").long("duration").value_name("DUR").help("Simulated run length (default 10s)"))
        .arg(Arg::new("seed").long("seed").value_name("N").help("Random seed (default 1)"))
        .arg(
            Arg::new("attach-at")
                .long("attach-at")
                .value_name("DUR")
                .help("When the loader attaches the scheduler (default 20ms)"),
        )
        .arg(
            Arg::new("at")
                .long("at")
                .value_name("TIME:ACTION")
                .action(ArgAction::Append)
                .help("At TIME: cpu-offline=N, cpu-online=N, sysrq-s or sysrq-d (repeatable)"),
        )
        .arg(
            Arg::new("sysrq-s")
                .long("sysrq-s")
                .value_name("TIME")
                .action(ArgAction::Append)
                .help("Press SysRq-S at TIME (same as --at TIME:sysrq-s; repeatable)"),
        )
        .arg(
            Arg::new("kernel")
                .long("kernel")
                .value_name("KEY=VALUE")
                .action(ArgAction::Append)
                .help("Set a kernel knob (repeatable)"),
        )
        .arg(
            Arg::new("set")
                .long("set")
                .value_name("NAME=VALUE")
                .action(ArgAction::Append)
                .help("BPF objects: set a global variable (const volatile knob) before load (repeatable)"),
        )
        .arg(Arg::new("report").long("report").value_name("FILE.json").help("Write a JSON report"))
        .arg(
            Arg::new("trace")
                .long("trace")
                .value_name("FILE")
                .help("Write an event trace: Perfetto protobuf if FILE ends in .pftrace, else text"),
        )
        .arg(
            Arg::new("ftrace")
                .long("ftrace")
                .value_name("FILE")
                .help("Write the scheduler tracepoints as `trace-cmd report` text"),
        )
        .arg(
            Arg::new("ftrace-raw")
                .long("ftrace-raw")
                .action(ArgAction::SetTrue)
                .help("--ftrace in `trace-cmd report -R` form (raw field values)"),
        )
        .arg(
            Arg::new("html")
                .long("html")
                .value_name("FILE.html")
                .help("Write a self-contained HTML report"),
        )
        .arg(
            Arg::new("summary")
                .long("summary")
                .action(ArgAction::SetTrue)
                .help("Print scheduling metrics after the run"),
        )
        .arg(
            Arg::new("jobs")
                .long("jobs")
                .value_name("N")
                .help("compare: runs at a time (default: one per CPU)"),
        )
        .arg(
            Arg::new("no-dmesg")
                .long("no-dmesg")
                .action(ArgAction::SetTrue)
                .help("Do not print the kernel log"),
        )
        .arg(
            Arg::new("quiet")
                .long("quiet")
                .action(ArgAction::SetTrue)
                .help("No scxsim summary line, no progress bar"),
        )
}

/// Splits argv into the scheduler name, its own flags and scxsim's long
/// options (with their values).
fn split_args(args: &[String]) -> (Option<String>, Vec<String>, Vec<String>) {
    let takes_value = |name: &str| {
        matches!(
            name,
            "--cpus"
                | "--topo"
                | "--workload"
                | "--duration"
                | "--seed"
                | "--attach-at"
                | "--sysrq-s"
                | "--kernel"
                | "--at"
                | "--set"
                | "--report"
                | "--trace"
                | "--ftrace"
                | "--html"
                | "--jobs"
        )
    };
    let mut sched = None;
    let mut tool = Vec::new();
    let mut ours = vec!["scxsim".to_string()];
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        i += 1;
        if a.starts_with("--") && a.len() > 2 {
            if !a.contains('=') && takes_value(a) && i < args.len() {
                // `--opt=value`, so a value starting with '-' stays a value.
                ours.push(format!("{a}={}", args[i]));
                i += 1;
            } else {
                ours.push(a.clone());
            }
        } else if sched.is_none() && !a.starts_with('-') {
            sched = Some(a.clone());
        } else {
            tool.push(a.clone());
        }
    }
    (sched, tool, ours)
}

fn bad(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("scxsim: {msg}");
    ExitCode::from(exitcode::BAD_INPUT as u8)
}

fn build_config(
    m: &clap::ArgMatches,
    sched: String,
    tool_args: Vec<String>,
) -> Result<RunConfig, String> {
    let mut cfg = RunConfig::new(&sched, tool_args);
    cfg.topo = match (m.get_one::<String>("cpus"), m.get_one::<String>("topo")) {
        (Some(_), Some(_)) => return Err("--cpus and --topo are mutually exclusive".into()),
        (Some(n), None) => {
            let n: usize = n
                .parse()
                .map_err(|_| format!("--cpus: expected a number of CPUs, got '{n}'"))?;
            Topology::flat(n).map_err(|e| format!("--cpus {n}: {e}"))?
        }
        (None, Some(t)) => Topology::parse(t).map_err(|e| format!("--topo: {e}"))?,
        (None, None) => Topology::flat(2).expect("2 CPUs"),
    };
    let mut kc = KernelConfig::default();
    for kv in m.get_many::<String>("kernel").into_iter().flatten() {
        kc.set_kv(kv)?;
    }
    let nr = cfg.topo.nr_cpus();
    if let Some(c) = kc.nohz_full.iter().find(|c| *c >= nr) {
        return Err(format!(
            "--kernel nohz_full: CPU {c} out of range for a {nr}-CPU machine"
        ));
    }
    cfg.kernel = kc;
    if let Some(d) = m.get_one::<String>("duration") {
        cfg.duration = parse_duration(d).map_err(|e| format!("--duration: {e}"))?;
    }
    if let Some(d) = m.get_one::<String>("attach-at") {
        cfg.attach_at = parse_duration(d).map_err(|e| format!("--attach-at: {e}"))?;
    }
    if let Some(s) = m.get_one::<String>("seed") {
        cfg.seed = s
            .parse()
            .map_err(|_| format!("--seed: expected a non-negative integer, got '{s}'"))?;
    }
    let wl = m
        .get_one::<String>("workload")
        .map(String::as_str)
        .unwrap_or("default");
    let w = if scx_workload::presets::PRESETS.iter().any(|(n, _)| *n == wl) {
        scx_workload::presets::build(wl, nr)?
    } else if std::path::Path::new(wl).exists() {
        let w =
            scx_workload::rtapp::load(std::path::Path::new(wl), nr).map_err(|e| e.to_string())?;
        for warning in &w.warnings {
            eprintln!("scxsim: warning: {warning}");
        }
        w
    } else {
        return Err(scx_workload::presets::build(wl, nr).unwrap_err());
    };
    let mut w = w;
    for at in m.get_many::<String>("at").into_iter().flatten() {
        w.actions.push(parse_at(at)?);
    }
    for t in m.get_many::<String>("sysrq-s").into_iter().flatten() {
        let t = parse_duration(t).map_err(|e| format!("--sysrq-s {t:?}: {e}"))?;
        w.actions.push((t, TimedAction::SysrqS));
    }
    w.actions.sort_by_key(|(t, _)| *t);
    w.validate(nr).map_err(|e| format!("--at: {e}"))?;
    if m.get_one::<String>("duration").is_none() {
        // rt-app's global.duration, when the command line does not say.
        if let Some(d) = w.duration {
            cfg.duration = d;
        }
    }
    cfg.workload = Arc::new(w);
    cfg.dmesg = !m.get_flag("no-dmesg");
    cfg.quiet = m.get_flag("quiet");
    Ok(cfg)
}

/// `--at TIME:ACTION`.
fn parse_at(s: &str) -> Result<(u64, TimedAction), String> {
    let err = |why: String| format!("--at {s:?}: {why}");
    let (t, action) = s
        .split_once(':')
        .ok_or_else(|| err("expected TIME:ACTION, e.g. 2s:cpu-offline=1".into()))?;
    let t = parse_duration(t).map_err(err)?;
    let cpu = |v: &str| {
        v.parse::<usize>()
            .map_err(|_| err(format!("expected a CPU number, got {v:?}")))
    };
    let a = match action.split_once('=') {
        Some(("cpu-offline", v)) => TimedAction::CpuOffline(cpu(v)?),
        Some(("cpu-online", v)) => TimedAction::CpuOnline(cpu(v)?),
        None if action == "sysrq-s" => TimedAction::SysrqS,
        None if action == "sysrq-d" => TimedAction::SysrqD,
        _ => {
            return Err(err(format!(
            "unknown action {action:?}; expected cpu-offline=N, cpu-online=N, sysrq-s or sysrq-d"
        )))
        }
    };
    Ok((t, a))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (sched, tool_args, ours) = split_args(&args);
    let m = match options().try_get_matches_from(&ours) {
        Ok(m) => m,
        Err(e) => {
            let first = e
                .to_string()
                .lines()
                .next()
                .unwrap_or("bad arguments")
                .to_string();
            return bad(first.trim_start_matches("error: "));
        }
    };
    let bpf = sched.as_deref().is_some_and(is_bpf_object);
    if m.get_flag("help") {
        return print_help(sched.as_deref(), bpf, &m);
    }
    let Some(sched) = sched else {
        return bad(format!(
            "missing scheduler: expected one of {SCHEDULER_CHOICES} (see scxsim --help)"
        ));
    };
    if sched == "compare" {
        return compare_main(&m, &tool_args);
    }
    if !bpf && !is_builtin(&sched) {
        return bad(format!(
            "unknown scheduler '{sched}': expected one of {SCHEDULER_CHOICES} (see scxsim --help)"
        ));
    }
    if !bpf && m.contains_id("set") {
        return bad(format!("--set applies to BPF objects only, not to {sched}"));
    }
    let cfg = match build_config(&m, sched, tool_args) {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    let bpf_tool = if bpf {
        match open_bpf(&cfg, &m) {
            Ok(BpfOpen::Tool(t)) => Some(t),
            Ok(BpfOpen::Help(h)) => {
                print!("{h}");
                return ExitCode::SUCCESS;
            }
            Err(e) => return bad(e),
        }
    } else {
        None
    };
    let path = |name: &str| m.get_one::<String>(name).map(PathBuf::from);
    let paths = OutputPaths {
        trace: path("trace"),
        ftrace: path("ftrace"),
        ftrace_raw: m.get_flag("ftrace-raw"),
        report: path("report"),
        html: path("html"),
        summary: m.get_flag("summary"),
    };
    let mut outputs = match Outputs::create(&paths) {
        Ok(o) => o,
        Err(e) => return bad(e),
    };
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let ran = match bpf_tool {
        Some(tool) => run_tool(&cfg, tool, &mut out, &mut err, outputs.sink()),
        None => run_with_sink(&cfg, &mut out, &mut err, outputs.sink()),
    };
    let res = match ran {
        Ok(r) => r,
        Err(RunError::Help(h)) => {
            print!("{h}");
            return ExitCode::SUCCESS;
        }
        Err(RunError::BadInput(e)) => return bad(e),
        Err(RunError::Io(e)) => {
            let _ = writeln!(err, "scxsim: output error: {e}");
            return ExitCode::from(exitcode::INTERNAL as u8);
        }
    };
    if let Err(e) = outputs.finish(&cfg, &res) {
        let _ = writeln!(err, "scxsim: {e}");
        return ExitCode::from(exitcode::INTERNAL as u8);
    }
    if let Some(s) = outputs.summary() {
        let _ = write!(out, "{s}");
    }
    let _ = out.flush();
    ExitCode::from(res.exit_code() as u8)
}

/// The schedulers `scxsim` accepts, for error messages.
const SCHEDULER_CHOICES: &str = "simple, qmap, central, flatcg or a .bpf.o object";

/// True if `sched` is a built-in scheduler (`qmap` or `scx_qmap`).
fn is_builtin(sched: &str) -> bool {
    scx_scheds::tool::TOOLS
        .iter()
        .any(|(n, _)| sched == *n || sched.strip_prefix("scx_") == Some(n))
}

/// What opening a BPF object produced.
enum BpfOpen {
    /// The loader, ready to run.
    Tool(Box<dyn Tool>),
    /// `-h`: the object's help text.
    Help(String),
}

/// Opens the BPF object `cfg.scheduler` with the `--set` knobs and its
/// loader flags (the kernel's example objects take their tools' flags;
/// `-h` asks for the help).
fn open_bpf(cfg: &RunConfig, m: &clap::ArgMatches) -> Result<BpfOpen, String> {
    let mut opts = OpenOptions::new(cfg.topo.nr_cpus() as u32);
    opts.seed = cfg.seed;
    for kv in m.get_many::<String>("set").into_iter().flatten() {
        opts.knobs.push(Knob::parse(kv)?);
    }
    opts.loader_args = cfg.sched_args.clone();
    match BpfTool::open(&cfg.scheduler, &opts) {
        Ok(tool) => Ok(BpfOpen::Tool(Box::new(tool))),
        Err(OpenError::Help(h)) => Ok(BpfOpen::Help(h)),
        Err(e) => Err(e.to_string()),
    }
}

/// `--help`, with the scheduler's own help first when one is named.
fn print_help(sched: Option<&str>, bpf: bool, m: &clap::ArgMatches) -> ExitCode {
    let own = match sched {
        Some(s) if bpf => {
            let mut opts = OpenOptions::new(2);
            for kv in m.get_many::<String>("set").into_iter().flatten() {
                if let Ok(k) = Knob::parse(kv) {
                    opts.knobs.push(k);
                }
            }
            match BpfTool::open(s, &opts) {
                Ok(t) => Some(t.help()),
                Err(e) => return bad(e),
            }
        }
        Some(s) => scx_scheds::tool::tool_help(s),
        None => None,
    };
    if let Some(h) = own {
        print!("{h}");
        println!("\nscxsim options (long options, mixed freely with the scheduler's):");
    }
    let _ = options().print_help();
    println!();
    ExitCode::SUCCESS
}

/// `scxsim compare SPEC...`: the comparison table on stdout.
fn compare_main(m: &clap::ArgMatches, spec_args: &[String]) -> ExitCode {
    let specs = match SchedSpec::parse_list(spec_args) {
        Ok(s) => s,
        Err(e) => return bad(e),
    };
    let base = match build_config(m, specs[0].name.clone(), Vec::new()) {
        Ok(c) => c,
        Err(e) => return bad(e),
    };
    let jobs = match m.get_one::<String>("jobs").map(|j| j.parse::<usize>()) {
        None => 0,
        Some(Ok(j)) => j,
        Some(Err(_)) => return bad("--jobs: expected a number of parallel runs"),
    };
    let table = match compare::compare(&base, &specs, jobs) {
        Ok(t) => t,
        Err(CompareError::BadInput(e)) => return bad(e),
        Err(CompareError::Io(e)) => {
            eprintln!("scxsim: output error: {e}");
            return ExitCode::from(exitcode::INTERNAL as u8);
        }
    };
    print!("{}", table.to_text());
    if let Some(p) = m.get_one::<String>("report") {
        if let Err(e) = scxsim::report::write(std::path::Path::new(p), &table.to_json()) {
            eprintln!("scxsim: {p}: cannot write report: {e}");
            return ExitCode::from(exitcode::INTERNAL as u8);
        }
    }
    ExitCode::SUCCESS
}
