//! The cost model: simulated nanoseconds charged for kernel paths and
//! scheduler callbacks.
//!
//! Costs make time pass while the kernel works, so that a scheduler stuck in
//! a loop (e.g. `ops.dispatch()` re-called forever) advances the clock and
//! the kernel's watchdogs fire at the simulated time a real machine's would.
//! The defaults are round numbers of the order measured on current x86
//! servers (a context switch is about a microsecond); they are documented
//! here and in ARCHITECTURE.md and can be changed per run with
//! `--kernel cost.<name>=<ns>`.

use crate::clock::Ns;

/// Simulated-time charges, in ns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CostModel {
    /// One pass through `__schedule()` (pick, accounting), callbacks excluded.
    pub schedule: Ns,
    /// `context_switch()` when the next task differs from the previous one.
    pub context_switch: Ns,
    /// `try_to_wake_up()` on the waker's CPU, callbacks excluded.
    pub wakeup: Ns,
    /// The scheduler tick handler.
    pub tick: Ns,
    /// Entry and exit of an interrupt (timer expiry, IPI, irq_work).
    pub irq: Ns,
    /// One sched_ext callback invocation by a Rust scheduler.
    pub op_call: Ns,
    /// One kfunc call made by a scheduler.
    pub kfunc: Ns,
    /// One interpreted BPF instruction.
    pub bpf_insn: Ns,
    /// Kernel-side work of one round of `balance_one()`'s dispatch loop
    /// (buffer flush, local/global checks), callbacks excluded.
    pub balance_round: Ns,
    /// Running one workqueue item, its own work excluded.
    pub work_item: Ns,
    /// `fork()` in the parent.
    pub fork: Ns,
    /// `do_exit()` in the exiting task.
    pub exit: Ns,
    /// A simple system call (nice, affinity, yield, futex op).
    pub syscall: Ns,
}

impl Default for CostModel {
    fn default() -> Self {
        CostModel {
            schedule: 500,
            context_switch: 400,
            wakeup: 500,
            tick: 200,
            irq: 150,
            op_call: 80,
            kfunc: 20,
            bpf_insn: 1,
            balance_round: 100,
            work_item: 500,
            fork: 30_000,
            exit: 20_000,
            syscall: 300,
        }
    }
}

impl CostModel {
    /// Names accepted by [`CostModel::set`], with their meaning.
    pub const FIELDS: &'static [(&'static str, &'static str)] = &[
        (
            "schedule",
            "one pass through __schedule(), callbacks excluded",
        ),
        ("context_switch", "context_switch() to a different task"),
        ("wakeup", "try_to_wake_up() on the waker's CPU"),
        ("tick", "the scheduler tick handler"),
        ("irq", "interrupt entry and exit"),
        ("op_call", "one sched_ext callback of a Rust scheduler"),
        ("kfunc", "one kfunc call"),
        ("bpf_insn", "one interpreted BPF instruction"),
        (
            "balance_round",
            "one round of balance_one()'s dispatch loop",
        ),
        ("work_item", "running one workqueue item"),
        ("fork", "fork() in the parent"),
        ("exit", "do_exit() in the exiting task"),
        ("syscall", "a simple system call"),
    ];

    /// The cost named `name` (one of [`CostModel::FIELDS`]).
    pub fn get(&self, name: &str) -> Option<Ns> {
        let mut c = self.clone();
        c.slot(name).map(|s| *s)
    }

    fn slot(&mut self, name: &str) -> Option<&mut Ns> {
        Some(match name {
            "schedule" => &mut self.schedule,
            "context_switch" => &mut self.context_switch,
            "wakeup" => &mut self.wakeup,
            "tick" => &mut self.tick,
            "irq" => &mut self.irq,
            "op_call" => &mut self.op_call,
            "kfunc" => &mut self.kfunc,
            "bpf_insn" => &mut self.bpf_insn,
            "balance_round" => &mut self.balance_round,
            "work_item" => &mut self.work_item,
            "fork" => &mut self.fork,
            "exit" => &mut self.exit,
            "syscall" => &mut self.syscall,
            _ => return None,
        })
    }

    /// Sets the cost named `name` (one of [`CostModel::FIELDS`]).
    pub fn set(&mut self, name: &str, ns: Ns) -> Result<(), String> {
        let Some(slot) = self.slot(name) else {
            let names: Vec<&str> = Self::FIELDS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown cost {name:?}; expected one of {}",
                names.join(", ")
            ));
        };
        *slot = ns;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_settable() {
        let mut c = CostModel::default();
        for (name, _) in CostModel::FIELDS {
            c.set(name, 7).unwrap();
        }
        assert_eq!(c.schedule, 7);
        assert_eq!(c.syscall, 7);
        assert!(c.set("nope", 1).is_err());
        assert_eq!(c.get("schedule"), Some(7));
        assert_eq!(c.get("nope"), None);
    }
}
