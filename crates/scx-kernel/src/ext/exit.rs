//! Exits (ext.c:29-89, 4672-4692, 5168-5209): exit kinds and codes, the
//! single atomic exit claim (the first exit wins; later ones vanish), the
//! exit info, and the error irq_work that dumps state and queues the
//! disable work.
//!
//! Raising an exit does not stop anything by itself: callers go on with
//! their documented fallback, callbacks keep running, and the scheduler is
//! torn down only when the disable work runs on the RT helper kthread.

use crate::consts::SCX_EXIT_MSG_LEN;
use crate::kernel::Kernel;
use crate::ops::ExitInfo;
use scx_machine::clock::Ns;
use scx_observe::Event;

/// `SCX_EXIT_NONE`.
pub const SCX_EXIT_NONE: u32 = 0;
/// `SCX_EXIT_DONE`.
pub const SCX_EXIT_DONE: u32 = 1;
/// `SCX_EXIT_UNREG`.
pub const SCX_EXIT_UNREG: u32 = 64;
/// `SCX_EXIT_UNREG_BPF`.
pub const SCX_EXIT_UNREG_BPF: u32 = 65;
/// `SCX_EXIT_UNREG_KERN`.
pub const SCX_EXIT_UNREG_KERN: u32 = 66;
/// `SCX_EXIT_SYSRQ`.
pub const SCX_EXIT_SYSRQ: u32 = 67;
/// `SCX_EXIT_ERROR`.
pub const SCX_EXIT_ERROR: u32 = 1024;
/// `SCX_EXIT_ERROR_BPF`.
pub const SCX_EXIT_ERROR_BPF: u32 = 1025;
/// `SCX_EXIT_ERROR_STALL`.
pub const SCX_EXIT_ERROR_STALL: u32 = 1026;

/// `SCX_ECODE_RSN_HOTPLUG`.
pub const SCX_ECODE_RSN_HOTPLUG: i64 = 1 << 32;
/// `SCX_ECODE_ACT_RESTART`.
pub const SCX_ECODE_ACT_RESTART: i64 = 1 << 48;

/// `scx_exit_reason()`.
pub fn exit_reason(kind: u32) -> &'static str {
    match kind {
        SCX_EXIT_UNREG => "unregistered from user space",
        SCX_EXIT_UNREG_BPF => "unregistered from BPF",
        SCX_EXIT_UNREG_KERN => "unregistered from the main kernel",
        SCX_EXIT_SYSRQ => "disabled by sysrq-S",
        SCX_EXIT_ERROR => "runtime error",
        SCX_EXIT_ERROR_BPF => "scx_bpf_error",
        SCX_EXIT_ERROR_STALL => "runnable task stall",
        _ => "<UNKNOWN>",
    }
}

/// The name of an exit kind (`SCX_EXIT_*`).
pub fn exit_kind_name(kind: u32) -> &'static str {
    match kind {
        SCX_EXIT_NONE => "SCX_EXIT_NONE",
        SCX_EXIT_DONE => "SCX_EXIT_DONE",
        SCX_EXIT_UNREG => "SCX_EXIT_UNREG",
        SCX_EXIT_UNREG_BPF => "SCX_EXIT_UNREG_BPF",
        SCX_EXIT_UNREG_KERN => "SCX_EXIT_UNREG_KERN",
        SCX_EXIT_SYSRQ => "SCX_EXIT_SYSRQ",
        SCX_EXIT_ERROR => "SCX_EXIT_ERROR",
        SCX_EXIT_ERROR_BPF => "SCX_EXIT_ERROR_BPF",
        SCX_EXIT_ERROR_STALL => "SCX_EXIT_ERROR_STALL",
        _ => "SCX_EXIT_<UNKNOWN>",
    }
}

/// A finished scheduler instance's exit, as its loader's `ops.exit()` /
/// UEI saw it, plus when things happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitRecord {
    /// Scheduler name.
    pub name: String,
    /// The exit info passed to `ops.exit()`.
    pub info: ExitInfo,
    /// When the exit was claimed.
    pub claimed_at: Ns,
    /// When the disable work finished.
    pub disabled_at: Ns,
}

impl Kernel {
    /// `scx_claim_exit()`: NONE → `kind`; false if already claimed.
    fn scx_claim_exit(&mut self, kind: u32) -> bool {
        if self.scx.exit_kind != SCX_EXIT_NONE {
            return false;
        }
        self.scx.exit_kind = kind;
        true
    }

    /// `scx_ops_exit_kind()`.
    pub(crate) fn scx_ops_exit_kind(&mut self, kind: u32, exit_code: i64, msg: String) {
        if !self.scx_claim_exit(kind) {
            return;
        }
        let bt = if kind >= SCX_EXIT_ERROR {
            self.backtrace_stand_in()
        } else {
            Vec::new()
        };
        let msg = truncate_msg(msg);
        let now = self.now;
        let ei = self.scx.exit_info.get_or_insert_with(ExitInfo::default);
        ei.exit_code = exit_code;
        ei.bt = bt;
        ei.msg = msg.clone();
        ei.kind = kind;
        ei.reason = exit_reason(kind).to_string();
        self.scx.exit_claimed_at = now;
        self.emit_with(|| Event::ScxExit {
            kind,
            exit_code,
            reason: exit_reason(kind).to_string(),
            msg,
        });
        self.irq_work_queue(self.cur_cpu, crate::irq::irq_work::SCX_ERROR);
    }

    /// `scx_ops_error()`: kind `SCX_EXIT_ERROR`, code 0.
    pub(crate) fn scx_ops_error(&mut self, msg: String) {
        self.scx_ops_exit_kind(SCX_EXIT_ERROR, 0, msg);
    }

    /// `scx_ops_exit()`: kind `SCX_EXIT_UNREG_KERN` with `code`.
    pub(crate) fn scx_ops_exit(&mut self, code: i64, msg: String) {
        self.scx_ops_exit_kind(SCX_EXIT_UNREG_KERN, code, msg);
    }

    /// `scx_ops_disable()`: claims `kind` and queues the disable work
    /// directly (no message, no dump).
    pub fn scx_ops_disable(&mut self, kind: u32) {
        let kind = if kind == SCX_EXIT_NONE || kind == SCX_EXIT_DONE {
            SCX_EXIT_ERROR
        } else {
            kind
        };
        if self.scx_claim_exit(kind) {
            self.scx.exit_claimed_at = self.now;
            let now_msg = String::new();
            let ei = self.scx.exit_info.get_or_insert_with(ExitInfo::default);
            ei.kind = kind;
            ei.reason = exit_reason(kind).to_string();
            ei.msg = now_msg;
            self.emit_with(|| Event::ScxExit {
                kind,
                exit_code: 0,
                reason: exit_reason(kind).to_string(),
                msg: String::new(),
            });
        }
        self.schedule_disable_work();
    }

    /// `scx_ops_error_irq_workfn()`.
    pub(crate) fn scx_ops_error_irq_workfn(&mut self, cpu: usize) {
        let Some(ei) = self.scx.exit_info.as_ref() else {
            return;
        };
        if ei.kind >= SCX_EXIT_ERROR && ei.dump.is_empty() {
            // scx_dump_state() takes each CPU's runqueue lock in turn:
            // wait for each busy one, one at a time.
            let mut done = self.scx.dump_locks_done;
            let busy = self.next_busy_rq(&mut done);
            self.scx.dump_locks_done = done;
            if let Some(c) = busy {
                self.lock_wait(c, crate::lock::LockedOp::ErrorIrqWork);
                return;
            }
            let dump = self.scx_dump_state(cpu);
            if let Some(ei) = self.scx.exit_info.as_mut() {
                ei.dump = dump;
            }
        }
        self.schedule_disable_work();
    }

    /// Stand-in for the kernel's saved stack trace: the kernel paths and
    /// the scheduler op the error was raised from, innermost first.
    fn backtrace_stand_in(&self) -> Vec<String> {
        self.scx
            .error_context
            .iter()
            .rev()
            .map(|f| f.to_string())
            .collect()
    }
}

fn truncate_msg(mut msg: String) -> String {
    if msg.len() >= SCX_EXIT_MSG_LEN {
        let mut end = SCX_EXIT_MSG_LEN - 1;
        while !msg.is_char_boundary(end) {
            end -= 1;
        }
        msg.truncate(end);
    }
    msg
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons_match_the_kernel() {
        assert_eq!(exit_reason(SCX_EXIT_ERROR_STALL), "runnable task stall");
        assert_eq!(exit_reason(SCX_EXIT_UNREG), "unregistered from user space");
        assert_eq!(exit_reason(3), "<UNKNOWN>");
        assert_eq!(
            SCX_ECODE_ACT_RESTART | SCX_ECODE_RSN_HOTPLUG,
            0x0001000100000000
        );
    }

    #[test]
    fn messages_truncate_to_1023_bytes() {
        assert_eq!(truncate_msg("x".repeat(2000)).len(), 1023);
        assert_eq!(truncate_msg("short".into()), "short");
    }
}
