//! The loader side of a scheduler: what the real tool's `main()` does
//! around the BPF program — parse its flags, load and attach, print
//! statistics every interval, report the exit, and restart on request.
//!
//! The runner (`scxsim`) drives a [`Tool`]: it asks for a scheduler
//! instance (the skeleton with its knobs applied), attaches it, calls
//! [`Tool::stats`] each [`Tool::interval`], and at the end prints the UEI
//! report the real tool prints.

use scx_kernel::ops::Scheduler;
use scx_kernel::Kernel;
use scx_machine::clock::{Ns, NSEC_PER_SEC};

/// Why a tool did not start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ToolError {
    /// `-h`: print this help and exit 0.
    Help(String),
    /// A bad flag or value: one line.
    Usage(String),
}

/// A scheduler's user-space loader.
pub trait Tool {
    /// `basename(argv[0])`, e.g. `scx_qmap`.
    fn program_name(&self) -> &'static str;
    /// A fresh BPF-side instance with the knobs applied (`SCX_OPS_OPEN` +
    /// option parsing + `SCX_OPS_LOAD`). `restart` is true when the loader
    /// restarts after an exit with a restart code.
    fn scheduler(&self, k: &Kernel, restart: bool) -> Box<dyn Scheduler>;
    /// Lines printed to stdout this interval (reads the scheduler's maps).
    fn stats(&mut self, k: &mut Kernel) -> Vec<String>;
    /// Time between two stats prints.
    fn interval(&self) -> Ns {
        NSEC_PER_SEC
    }
    /// Whether the tool restarts after an exit with this code
    /// (`UEI_ECODE_RESTART`), as scx_simple, scx_central and scx_flatcg do.
    fn restarts_on(&self, exit_code: i64) -> bool {
        let _ = exit_code;
        false
    }
    /// Text printed before loading, if any (scx_flatcg prints its settings).
    fn preamble(&self) -> Option<String> {
        None
    }
}

/// Built-in tools: `(name, one-line description)`.
pub const TOOLS: &[(&str, &str)] = &[
    (
        "simple",
        "scx_simple: global weighted vtime (default) or FIFO (-f) scheduler",
    ),
    (
        "qmap",
        "scx_qmap: five-level weighted FIFO scheduler with fault-injection knobs",
    ),
    (
        "central",
        "scx_central: one CPU makes every decision; others run tickless (try --kernel nohz_full=1-N)",
    ),
    (
        "flatcg",
        "scx_flatcg: flattened hierarchical cgroup weights (cpu.weight) with per-cgroup vtime",
    ),
];

/// `UEI_ECODE_RESTART(ecode)`.
pub fn uei_ecode_restart(exit_code: i64) -> bool {
    (exit_code as u64 >> 48) & 0xffff == 1
}

/// Creates the built-in tool `name` with its command-line `args`.
pub fn make_tool(name: &str, args: &[String]) -> Result<Box<dyn Tool>, ToolError> {
    match name {
        "simple" | "scx_simple" => Ok(Box::new(crate::simple::SimpleTool::parse(args)?)),
        "qmap" | "scx_qmap" => Ok(Box::new(crate::qmap::QmapTool::parse(args)?)),
        "central" | "scx_central" => Ok(Box::new(crate::central::CentralTool::parse(args)?)),
        "flatcg" | "scx_flatcg" => Ok(Box::new(crate::flatcg::FlatcgTool::parse(args)?)),
        _ => Err(ToolError::Usage(format!("unknown scheduler '{name}'"))),
    }
}

/// The help text of tool `name`, as `-h` prints it.
pub fn tool_help(name: &str) -> Option<String> {
    match make_tool(name, &["-h".to_string()]) {
        Err(ToolError::Help(h)) => Some(h),
        _ => None,
    }
}

/// Reads the attached scheduler as `T`.
pub fn with_sched<T: Scheduler, R>(k: &mut Kernel, f: impl FnOnce(&T) -> R) -> Option<R> {
    k.with_scheduler(|s| scx_kernel::ops::downcast_ref::<T>(s).map(f))
}
