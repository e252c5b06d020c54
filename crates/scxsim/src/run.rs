//! A run: boot the simulated machine, then do what the scheduler's loader
//! does — load and attach it, print its statistics every interval, report
//! its exit as `UEI_REPORT()` does, restart on a restart exit code — while
//! the simulated kernel's log goes to the output with dmesg timestamps.
//!
//! Output streams mirror a real console: the tool's statistics and the
//! kernel log on `out` (stdout), the tool's exit report (`DEBUG DUMP`,
//! `EXIT: ...`) on `err` (stderr). At the end of the run the loader gets the
//! equivalent of SIGINT: it detaches, and the kernel unregisters the
//! scheduler ("unregistered from user space").

use scx_kernel::config::KernelConfig;
use scx_kernel::ext::exit::ExitRecord;
use scx_kernel::fastfwd::Halt;
use scx_kernel::kernel::RunStats;
use scx_kernel::Kernel;
use scx_machine::clock::{dmesg_stamp, Ns, NSEC_PER_MSEC, NSEC_PER_SEC};
use scx_machine::Topology;
use scx_observe::progress::Progress;
use scx_observe::Sink;
use scx_scheds::tool::{make_tool, Tool, ToolError};
use scx_workload::Workload;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

/// Everything that defines a run.
pub struct RunConfig {
    /// Built-in scheduler name (`simple`, `qmap`).
    pub scheduler: String,
    /// The scheduler tool's own flags, verbatim.
    pub sched_args: Vec<String>,
    /// The machine.
    pub topo: Topology,
    /// Kernel knobs.
    pub kernel: KernelConfig,
    /// The workload.
    pub workload: Arc<Workload>,
    /// Simulated run length.
    pub duration: Ns,
    /// RNG seed.
    pub seed: u64,
    /// When the loader attaches the scheduler.
    pub attach_at: Ns,
    /// Print the kernel log on the output.
    pub dmesg: bool,
    /// Suppress scxsim's own summary line.
    pub quiet: bool,
}

impl RunConfig {
    /// Defaults: 2 CPUs, the `default` workload, 10 s, seed 1, attach at
    /// 20 ms.
    pub fn new(scheduler: &str, sched_args: Vec<String>) -> RunConfig {
        let topo = Topology::flat(2).expect("2 CPUs");
        let workload = scx_workload::presets::build("default", 2).expect("default preset");
        RunConfig {
            scheduler: scheduler.to_string(),
            sched_args,
            topo,
            kernel: KernelConfig::default(),
            workload: Arc::new(workload),
            duration: 10 * NSEC_PER_SEC,
            seed: 1,
            attach_at: 20 * NSEC_PER_MSEC,
            dmesg: true,
            quiet: true,
        }
    }
}

/// Why a run could not happen.
#[derive(Debug)]
pub enum RunError {
    /// Bad input (one line).
    BadInput(String),
    /// `-h` was given: the help text.
    Help(String),
    /// Writing the output failed.
    Io(std::io::Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::BadInput(s) | RunError::Help(s) => write!(f, "{s}"),
            RunError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl From<std::io::Error> for RunError {
    fn from(e: std::io::Error) -> Self {
        RunError::Io(e)
    }
}

/// What happened.
pub struct RunResult {
    /// The loader's program name (`scx_qmap`).
    pub program: String,
    /// Every scheduler instance's exit, in order.
    pub exits: Vec<ExitRecord>,
    /// Set if loading or attaching failed, with the loader's message.
    pub load_error: Option<String>,
    /// Simulated time at the end.
    pub sim_ns: Ns,
    /// Wall-clock time the run took.
    pub wall_ns: u64,
    /// Kernel counters.
    pub stats: RunStats,
    /// Set if the machine hung: every CPU stuck for good.
    pub halt: Option<Halt>,
    /// The kernel at the end of the run, for inspection.
    pub kernel: Box<Kernel>,
}

impl RunResult {
    /// The last scheduler instance's exit.
    pub fn final_exit(&self) -> Option<&ExitRecord> {
        self.exits.last()
    }

    /// The process exit code (see [`crate::exitcode`]).
    pub fn exit_code(&self) -> i32 {
        if self.load_error.is_some() {
            return crate::exitcode::LOAD_FAILED;
        }
        match self.halt {
            Some(Halt::HardLockup { .. }) => return crate::exitcode::LOCKUP,
            Some(Halt::Silent { .. }) => return crate::exitcode::SILENT,
            None => {}
        }
        self.final_exit()
            .map(|e| crate::exitcode::for_exit_kind(e.info.kind))
            .unwrap_or(crate::exitcode::OK)
    }
}

/// The loader process simulated next to the kernel.
struct Loader<'a> {
    k: Box<Kernel>,
    tool: Box<dyn Tool>,
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    dmesg: bool,
    log_printed: usize,
    end: Ns,
    progress: Progress,
    /// The tool's unterminated output line.
    partial: String,
}

impl Loader<'_> {
    /// Runs the simulation up to `t` and prints the kernel log produced.
    fn advance(&mut self, t: Ns) -> std::io::Result<()> {
        self.k.run_until(t);
        self.progress.tick(self.k.now);
        let p = self.progress.clone();
        p.suspend(|| self.flush_log())
    }

    /// The tool's stdout, line-buffered as stdio is: complete lines go out
    /// at once, a partial line waits for its newline (or the end of the
    /// run), so kernel log lines never land in the middle of one.
    fn tool_print(&mut self, text: &str) -> std::io::Result<()> {
        self.partial.push_str(text);
        if let Some(i) = self.partial.rfind('\n') {
            let rest = self.partial.split_off(i + 1);
            self.out.write_all(self.partial.as_bytes())?;
            self.partial = rest;
        }
        Ok(())
    }

    fn flush_log(&mut self) -> std::io::Result<()> {
        if self.dmesg {
            for (at, line) in &self.k.log[self.log_printed..] {
                writeln!(self.out, "{} {}", dmesg_stamp(*at), line)?;
            }
        }
        self.log_printed = self.k.log.len();
        Ok(())
    }

    /// Steps the kernel until `done` holds, the run ends, or nothing is
    /// left to simulate. Returns whether `done` held.
    fn wait_for(&mut self, limit: Ns, done: impl Fn(&Kernel) -> bool) -> std::io::Result<bool> {
        while !done(&self.k) && self.k.halted().is_none() {
            match self.k.next_event_time() {
                Some(t) if t <= limit => self.k.step(),
                _ => break,
            }
        }
        self.flush_log()?;
        Ok(done(&self.k))
    }

    /// `UEI_REPORT()`.
    fn uei_report(&mut self, e: &ExitRecord) -> std::io::Result<()> {
        let bar = "=".repeat(80);
        if !e.info.dump.is_empty() {
            write!(
                self.err,
                "\nDEBUG DUMP\n{bar}\n\n{}\n{bar}\n\n",
                e.info.dump
            )?;
        }
        write!(self.err, "EXIT: {}", e.info.reason)?;
        if !e.info.msg.is_empty() {
            write!(self.err, " ({})", e.info.msg)?;
        }
        writeln!(self.err)
    }

    /// One load-attach-monitor-exit cycle; returns the exit, or `None` if
    /// the scheduler never got attached or never exited.
    fn instance(
        &mut self,
        restart: bool,
        load_error: &mut Option<String>,
    ) -> std::io::Result<Option<ExitRecord>> {
        let prog = self.tool.program_name();
        if let Some(p) = self.tool.preamble() {
            self.tool_print(&p)?;
        }
        let sched = self.tool.scheduler(&self.k, restart);
        // An exit during the attach itself (ops.init failing) counts too.
        let seq = self.k.scx.disable_seq;
        if let Err(e) = self.k.attach(sched) {
            let msg = format!("{prog}: Failed to load skel: {e}");
            writeln!(self.err, "{msg}")?;
            *load_error = Some(msg);
            return Ok(None);
        }
        let end = self.end;
        if !self.wait_for(end, |k| k.attach_result().is_some())? {
            return Ok(None);
        }
        if let Some(ret) = self.k.attach_result().filter(|r| *r < 0) {
            let msg = format!("{prog}: Failed to attach struct_ops ({ret})");
            writeln!(self.err, "{msg}")?;
            *load_error = Some(msg);
            return Ok(None);
        }
        let exited = move |k: &Kernel| k.scx.disable_seq > seq;
        let interval = self.tool.interval();
        let mut next = self.k.now;
        while !exited(&self.k) && self.k.now < end && self.k.halted().is_none() {
            // The loader is a user task: on a machine where every CPU is
            // stuck it cannot run, so it prints nothing.
            if self.k.all_stuck_since().is_none() {
                let p = self.progress.clone();
                p.suspend(|| -> std::io::Result<()> {
                    for line in self.tool.stats(&mut self.k) {
                        self.tool_print(&line)?;
                        self.tool_print("\n")?;
                    }
                    Ok(())
                })?;
            }
            next += interval;
            self.advance(next.min(end))?;
        }
        if self.k.halted().is_some() || self.k.all_stuck_since().is_some() {
            // Hung: user space cannot run, so the loader never detaches.
            return Ok(None);
        }
        if !exited(&self.k) {
            // The loader's SIGINT handler: bpf_link__destroy().
            self.k.detach();
            let grace = self.k.now + 60 * NSEC_PER_SEC;
            if !self.wait_for(grace, exited)? {
                return Ok(None);
            }
        }
        let rec = self.k.scx.last_exit.clone().expect("exited");
        let p = self.progress.clone();
        p.suspend(|| self.uei_report(&rec))?;
        Ok(Some(rec))
    }
}

/// Executes a run, writing the console to `out` and `err`.
pub fn run(
    cfg: &RunConfig,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> Result<RunResult, RunError> {
    run_with_sink(cfg, out, err, None)
}

/// True if `sched` names a BPF object rather than a built-in scheduler:
/// not a built-in name (with or without `scx_`), not `compare`, and ending
/// in `.bpf.o` or naming an existing file.
pub fn is_bpf_object(sched: &str) -> bool {
    let builtin = scx_scheds::tool::TOOLS
        .iter()
        .any(|(n, _)| sched == *n || sched.strip_prefix("scx_") == Some(n));
    !builtin
        && sched != "compare"
        && (sched.ends_with(".bpf.o") || std::path::Path::new(sched).is_file())
}

/// [`run`] with an event sink attached to the kernel.
pub fn run_with_sink(
    cfg: &RunConfig,
    out: &mut dyn Write,
    err: &mut dyn Write,
    sink: Option<Box<dyn Sink>>,
) -> Result<RunResult, RunError> {
    let tool = make_tool(&cfg.scheduler, &cfg.sched_args).map_err(|e| match e {
        ToolError::Help(h) => RunError::Help(h),
        ToolError::Usage(u) => RunError::BadInput(u),
    })?;
    run_tool(cfg, tool, out, err, sink)
}

/// Runs `tool` (any scheduler with its loader, e.g. one of your own)
/// instead of the built-in named by `cfg.scheduler`.
pub fn run_tool(
    cfg: &RunConfig,
    tool: Box<dyn Tool>,
    out: &mut dyn Write,
    err: &mut dyn Write,
    sink: Option<Box<dyn Sink>>,
) -> Result<RunResult, RunError> {
    let wall = Instant::now();
    let mut k = Box::new(Kernel::new(cfg.kernel.clone(), cfg.topo.clone(), cfg.seed));
    if let Some(s) = sink {
        k.set_sink(s);
    }
    k.boot(Some(cfg.workload.clone()), cfg.seed)
        .map_err(RunError::BadInput)?;
    let program = tool.program_name().to_string();
    let mut l = Loader {
        k,
        tool,
        out,
        err,
        dmesg: cfg.dmesg,
        log_printed: 0,
        end: cfg.duration,
        progress: Progress::new(cfg.duration, !cfg.quiet),
        partial: String::new(),
    };
    l.advance(cfg.attach_at.min(cfg.duration))?;
    let mut exits = Vec::new();
    let mut load_error = None;
    let mut restart = false;
    while l.k.now < cfg.duration && l.k.halted().is_none() {
        let Some(rec) = l.instance(restart, &mut load_error)? else {
            break;
        };
        let again = l.tool.restarts_on(rec.info.exit_code);
        exits.push(rec);
        if !again {
            break;
        }
        restart = true;
    }
    l.advance(cfg.duration)?;
    l.progress.finish();
    let rest = std::mem::take(&mut l.partial);
    l.out.write_all(rest.as_bytes())?;
    let halt = l.k.halted().cloned();
    if let Some(h) = &halt {
        writeln!(l.err, "{}", halt_verdict(h))?;
    }
    let sim_ns = l.k.now;
    let stats = l.k.stats.clone();
    let wall_ns = wall.elapsed().as_nanos() as u64;
    if !cfg.quiet {
        let secs = wall_ns as f64 / 1e9;
        writeln!(
            l.err,
            "scxsim: simulated {:.3}s on {} CPUs in {:.3}s ({:.0}x real time), {} events",
            sim_ns as f64 / 1e9,
            l.k.nr_cpus(),
            secs,
            sim_ns as f64 / 1e9 / secs.max(1e-9),
            stats.events
        )?;
    }
    Ok(RunResult {
        program,
        exits,
        load_error,
        sim_ns,
        wall_ns,
        stats,
        halt,
        kernel: l.k,
    })
}

/// scxsim's one-line verdict on a hung machine (stderr).
pub fn halt_verdict(h: &Halt) -> String {
    let since = h.since() as f64 / 1e9;
    match h {
        Halt::HardLockup { reports, .. } => {
            let cpus: Vec<String> = reports
                .iter()
                .map(|(c, t)| format!("CPU {c} at {:.3}s", *t as f64 / 1e9))
                .collect();
            format!(
                "scxsim: machine hung: since {since:.3}s every CPU spins with interrupts disabled \
                 and nothing can run again; hard LOCKUP reported on {}",
                cpus.join(", ")
            )
        }
        Halt::Silent { .. } => format!(
            "scxsim: machine hung: since {since:.3}s every CPU spins with interrupts disabled \
             and nothing can run again; no NMI watchdog (nmi_watchdog=0), so nothing reports it"
        ),
    }
}
