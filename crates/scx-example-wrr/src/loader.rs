//! The user-space side of `scx_wrr`: what a loader's `main()` does around
//! the BPF program — parse the flags, hand the kernel a scheduler with its
//! knobs set, and print statistics every second.

use crate::sched::Wrr;
use scx_kernel::consts::SCX_SLICE_DFL;
use scx_kernel::ops::Scheduler;
use scx_kernel::Kernel;
use scx_scheds::getopt::{getopt, strtoul};
use scx_scheds::tool::{with_sched, Tool, ToolError};

/// `-h` output.
pub const HELP: &str = "A weighted round-robin sched_ext scheduler.

Usage: scx_wrr [-s SLICE_US] [-v]

  -s SLICE_US   Slice of a nice-0 task (default: 20000)
  -v            Print libbpf debug messages
  -h            Display this help and exit
";

/// The loader, with the knobs its flags set.
pub struct WrrTool {
    /// `-s`: slice of a nice-0 task.
    pub base_slice_ns: u64,
}

impl WrrTool {
    /// Parses the flags (getopt string `"s:vh"`).
    pub fn parse(args: &[String]) -> Result<WrrTool, ToolError> {
        let usage = |e: String| ToolError::Usage(format!("scx_wrr: {e}"));
        let mut tool = WrrTool {
            base_slice_ns: SCX_SLICE_DFL,
        };
        for opt in getopt(args, "s:vh").map_err(usage)? {
            match opt.letter {
                's' => {
                    let us = strtoul(&opt.arg.unwrap_or_default(), 's').map_err(usage)?;
                    tool.base_slice_ns = us * 1000;
                }
                'v' => {}
                _ => return Err(ToolError::Help(HELP.to_string())),
            }
        }
        Ok(tool)
    }
}

impl Tool for WrrTool {
    fn program_name(&self) -> &'static str {
        "scx_wrr"
    }

    fn scheduler(&self, k: &Kernel, _restart: bool) -> Box<dyn Scheduler> {
        Box::new(Wrr::new(k.nr_cpus(), self.base_slice_ns))
    }

    fn stats(&mut self, k: &mut Kernel) -> Vec<String> {
        let Some(c) = with_sched(k, |w: &Wrr| w.totals()) else {
            return Vec::new();
        };
        vec![format!(
            "rounds={} direct={} queued={} consumed={}",
            c.rounds, c.direct, c.queued, c.consumed
        )]
    }
}
