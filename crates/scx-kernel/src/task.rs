//! `struct task_struct`: the fields of a task the scheduler model uses.
//!
//! Tasks live in an arena indexed by [`Tid`]; an index is never reused in a
//! run, so a scheduler holding a stale handle can at worst see a dead task.
//! The per-class scheduling entities (`se` for fair, `rt`, `scx`) are plain
//! sub-structs, as in the kernel.

use crate::consts::*;
use crate::exec::ExecState;
use crate::ext::entity::ScxEntity;
use crate::sched::fair::FairEntity;
use scx_machine::Cpumask;
pub use scx_observe::{Class, Tid};
use scx_workload::Policy;

/// `TASK_COMM_LEN` - 1: longest `comm`.
pub const COMM_MAX: usize = 15;

/// The task's `__state`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskState {
    /// `TASK_RUNNING`: runnable or running.
    Running,
    /// `TASK_INTERRUPTIBLE`: blocked.
    Sleeping,
    /// `TASK_DEAD`: exited.
    Dead,
}

/// What a task is, for the parts of the kernel that care.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TaskKind {
    /// A user-space task running a workload program.
    User,
    /// A kernel thread running a workload-style program (kthreadd, ksoftirqd,
    /// rcu_preempt, ...).
    Kthread,
    /// A workqueue worker of pool `pool` (see `workqueue.rs`).
    Kworker {
        /// Index of its worker pool.
        pool: usize,
    },
    /// The sched_ext helper kthreads that run enable/disable work.
    ScxHelper,
    /// The per-CPU stopper (`migration/N`, stop class).
    Stopper,
    /// The per-CPU idle task (`swapper/N`, pid 0).
    Idle,
}

/// RT scheduling entity.
#[derive(Clone, Debug, Default)]
pub struct RtEntity {
    /// Remaining RR timeslice in ticks.
    pub time_slice: u32,
    /// Queued on an RT runqueue.
    pub on_rq: bool,
}

/// One task.
#[derive(Clone, Debug)]
pub struct Task {
    /// Arena index.
    pub tid: Tid,
    /// Process id (0 for idle tasks).
    pub pid: u32,
    /// Thread group id.
    pub tgid: u32,
    /// Name.
    pub comm: String,
    /// Parent, if forked.
    pub parent: Option<Tid>,
    /// Children forked and not yet exited.
    pub live_children: u32,
    /// What kind of task.
    pub kind: TaskKind,
    /// `PF_*` flags.
    pub flags: u32,
    /// Policy.
    pub policy: Policy,
    /// Nice value.
    pub nice: i32,
    /// Kernel prio (0..=139).
    pub prio: i32,
    /// CFS load weight.
    pub load_weight: u32,
    /// Scheduling class.
    pub class: Class,
    /// `__state`.
    pub state: TaskState,
    /// `p->on_rq`: queued in its class.
    pub on_rq: bool,
    /// `task_cpu(p)`.
    pub cpu: usize,
    /// `p->wake_cpu`.
    pub wake_cpu: usize,
    /// `p->cpus_mask` (== `cpus_ptr`; migrate-disable pins via
    /// `migration_disabled`).
    pub cpus: Cpumask,
    /// `p->start_time`: when the task was created.
    pub start_time: u64,
    /// `p->migration_disabled` nesting count.
    pub migration_disabled: u32,
    /// `p->cpus_mask` while `cpus` (the effective `p->cpus_ptr`) is
    /// narrowed to one CPU because the task was switched out with
    /// migration disabled; `None` when `cpus_ptr == &cpus_mask`.
    pub cpus_mask: Option<scx_machine::Cpumask>,
    /// Cgroup index (0 = root).
    pub cgroup: usize,
    /// `se.sum_exec_runtime`.
    pub sum_exec_runtime: u64,
    /// `se.exec_start`.
    pub exec_start: u64,
    /// Voluntary context switches.
    pub nvcsw: u64,
    /// Involuntary context switches.
    pub nivcsw: u64,
    /// Number of times `set_task_cpu` moved it.
    pub nr_migrations: u64,
    /// Fair entity.
    pub se: FairEntity,
    /// RT entity.
    pub rt: RtEntity,
    /// sched_ext entity.
    pub scx: ScxEntity,
    /// Behaviour program state.
    pub exec: ExecState,
    /// `TASK_ON_RQ_MIGRATING`: between `deactivate_task()` and
    /// `activate_task()` of a migration.
    pub migrating: bool,
    /// `TASK_WAKING`: woken, waiting for its new runqueue's lock.
    pub waking: bool,
    /// Set once `sched_ext_free()` ran.
    pub freed: bool,
    /// `kthread_is_per_cpu()`: a kernel thread bound to one CPU for good
    /// (`migration/N`, `ksoftirqd/N`, `kworker/N:0`).
    pub per_cpu_kthread: bool,
}

impl Task {
    /// `nr_cpus_allowed`.
    pub fn nr_cpus_allowed(&self) -> usize {
        self.cpus.weight()
    }

    /// True for kernel threads (`PF_KTHREAD`).
    pub fn is_kthread(&self) -> bool {
        self.flags & PF_KTHREAD != 0
    }

    /// `is_migration_disabled()`.
    pub fn is_migration_disabled(&self) -> bool {
        self.migration_disabled > 0
    }

    /// True for the per-CPU idle task.
    pub fn is_idle(&self) -> bool {
        self.kind == TaskKind::Idle
    }

    /// The one-letter state the debug dump prints (`R`, `S`, `X`).
    pub fn state_char(&self) -> char {
        match self.state {
            TaskState::Running => 'R',
            TaskState::Sleeping => 'S',
            TaskState::Dead => 'X',
        }
    }
}

/// Kernel prio for a policy and nice value (`normal_prio`).
pub fn prio_of(policy: Policy, nice: i32) -> i32 {
    match policy {
        Policy::Fifo(p) | Policy::Rr(p) => 99 - p as i32,
        _ => 120 + nice,
    }
}

/// Truncates a name to `TASK_COMM_LEN - 1` bytes, as `set_task_comm` does.
pub fn truncate_comm(name: &str) -> String {
    let mut s = String::new();
    for ch in name.chars() {
        if s.len() + ch.len_utf8() > COMM_MAX {
            break;
        }
        s.push(ch);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comm_truncates_to_15_bytes() {
        assert_eq!(truncate_comm("a-very-long-task-name"), "a-very-long-tas");
        assert_eq!(truncate_comm("sh"), "sh");
    }

    #[test]
    fn prios() {
        assert_eq!(prio_of(Policy::Normal, 0), 120);
        assert_eq!(prio_of(Policy::Normal, -20), 100);
        assert_eq!(prio_of(Policy::Fifo(99), 0), 0);
        assert_eq!(prio_of(Policy::Rr(1), 0), 98);
    }
}
