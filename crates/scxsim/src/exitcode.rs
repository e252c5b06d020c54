//! scxsim's process exit codes: a stable mapping from how a run ended.
//!
//! | code | meaning |
//! |---|---|
//! | 0 | the run completed; the scheduler was unregistered at the end (`SCX_EXIT_UNREG`) or exited by itself (`SCX_EXIT_UNREG_BPF`) |
//! | 1 | scxsim itself failed (a bug: an internal invariant broke) |
//! | 2 | bad input (unknown flag, bad topology, bad workload file, bad `--kernel` key) |
//! | 3 | the scheduler could not be loaded or attached |
//! | 4 | the kernel unregistered the scheduler (`SCX_EXIT_UNREG_KERN`, e.g. CPU hotplug) |
//! | 5 | SysRq-S disabled the scheduler (`SCX_EXIT_SYSRQ`) |
//! | 10 | runtime error detected by the kernel (`SCX_EXIT_ERROR`) |
//! | 11 | the scheduler called `scx_bpf_error()` (`SCX_EXIT_ERROR_BPF`) |
//! | 12 | the watchdog found a stall (`SCX_EXIT_ERROR_STALL`) |
//! | 20 | the machine hung: every CPU stuck for good, and the hard lockup detector reported each (soft lockups that pass show only in the log) |
//! | 21 | the machine hung and no NMI watchdog could report it: it went silent |

use scx_kernel::ext::exit::*;

/// Success.
pub const OK: i32 = 0;
/// scxsim failed.
pub const INTERNAL: i32 = 1;
/// Bad input.
pub const BAD_INPUT: i32 = 2;
/// Load or attach failed.
pub const LOAD_FAILED: i32 = 3;
/// The machine hung; the hard lockup detector reported it.
pub const LOCKUP: i32 = 20;
/// The machine hung silently (no NMI watchdog).
pub const SILENT: i32 = 21;

/// Exit code for a scheduler exit of `kind`.
pub fn for_exit_kind(kind: u32) -> i32 {
    match kind {
        SCX_EXIT_UNREG_KERN => 4,
        SCX_EXIT_SYSRQ => 5,
        SCX_EXIT_ERROR => 10,
        SCX_EXIT_ERROR_BPF => 11,
        SCX_EXIT_ERROR_STALL => 12,
        _ => OK,
    }
}
