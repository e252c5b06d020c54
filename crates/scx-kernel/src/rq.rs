//! `struct rq`: per-CPU runqueue state, plus the CPU's execution mode
//! (what the CPU is doing right now in simulated time).
//!
//! Like the kernel's `struct rq` with its `cfs`, `rt` and `scx` sub-structs;
//! however the execution mode ([`Mode`]), the latched interrupts and the
//! cost accumulator are scxsim's: they model the CPU itself, which the
//! kernel does not need to represent.

use crate::ext::rq::ScxRq;
use crate::sched::fair::CfsRq;
use crate::sched::rt::RtRq;
use crate::task::Tid;
use scx_machine::clock::Ns;

/// What a CPU is doing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mode {
    /// `curr`, a real task, executes its program. Its current piece of work
    /// (re)started at `since`, which may lie in the future when kernel time
    /// (a system call, an interrupt) comes first.
    Exec {
        /// When the work resumes.
        since: Ns,
    },
    /// The idle task runs the idle loop; the CPU takes interrupts.
    Idle,
    /// Kernel code with interrupts latched until the CPU's next step; then
    /// pending interrupts are taken and `curr` continues (or reschedules).
    Kernel,
    /// Inside `__schedule()` with interrupts disabled; continues at the
    /// CPU's next step.
    Sched(crate::sched::core::Section),
    /// Busy-waiting with interrupts disabled in the kick irq_work for
    /// `SCX_KICK_WAIT` targets to reschedule.
    KickWait,
    /// Spinning with interrupts disabled for `holder`'s runqueue lock.
    LockWait {
        /// The CPU holding the lock.
        holder: usize,
    },
    /// The CPU is offline.
    Offline,
}

/// Interrupts raised while the CPU could not take them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PendingIrqs {
    /// A scheduler tick.
    pub tick: bool,
    /// A reschedule IPI.
    pub ipi: bool,
    /// `irq_work` is queued (bits of [`crate::irq::irq_work`]).
    pub irq_work: u32,
    /// Expired hrtimers bound to this CPU, in expiry order.
    pub timers: Vec<u32>,
}

impl PendingIrqs {
    /// True if anything is pending.
    pub fn any(&self) -> bool {
        self.tick || self.ipi || self.irq_work != 0 || !self.timers.is_empty()
    }
}

/// One CPU's runqueue and execution state.
#[derive(Debug)]
pub struct Rq {
    /// CPU number.
    pub cpu: usize,
    /// `cpu_online()`: the CPU runs (it may be going down).
    pub online: bool,
    /// `cpu_active()`: the scheduler may put tasks here.
    pub active: bool,
    /// `cpu_dying()`: the CPU is on its way down; `balance_push()` pushes
    /// every task that may run elsewhere off it.
    pub dying: bool,
    /// A CPU-up request waits for the takedown in progress.
    pub up_after_down: bool,
    /// The CPU was just brought up: its first schedule stands for the
    /// hotplug thread (`cpuhp/N`) going to sleep after the online steps,
    /// a task-to-idle transition rather than idle-to-idle.
    pub hotplug_thread_on_cpu: bool,
    /// `rq->curr`.
    pub curr: Tid,
    /// `rq->idle`.
    pub idle: Tid,
    /// `rq_clock()`.
    pub clock: Ns,
    /// `rq->nr_running` (all classes).
    pub nr_running: u32,
    /// `TIF_NEED_RESCHED` of `curr`.
    pub need_resched: bool,
    /// `set_tsk_need_resched(next)` during the pick: survives the switch.
    pub need_resched_after_switch: bool,
    /// What the CPU is doing.
    pub mode: Mode,
    /// Generation of the CPU's pending kernel step event (older ones are
    /// stale).
    pub step_gen: u64,
    /// Generation of the pending work-completion event.
    pub work_gen: u64,
    /// When the pending work-completion event fires, if one is armed. It
    /// may fire early (interrupts delayed the work), never late.
    pub work_at: Option<Ns>,
    /// Simulated time charged on this CPU during the current event.
    pub acc: Ns,
    /// Interrupts waiting for the CPU to enable them.
    pub pending: PendingIrqs,
    /// Generation of the tick event (bumped when the tick stops).
    pub tick_gen: u64,
    /// True while the periodic tick is armed (the CPU is not idle).
    pub tick_armed: bool,
    /// CFS runqueue.
    pub cfs: CfsRq,
    /// RT runqueue.
    pub rt: RtRq,
    /// sched_ext per-rq state.
    pub scx: ScxRq,
    /// Next periodic fair load-balance time.
    pub next_balance: Ns,
    /// Total ns the CPU ran real tasks.
    pub busy_ns: Ns,
    /// Work to do once the runqueue lock this CPU spins on is granted.
    pub lock_ops: Vec<crate::lock::LockedOp>,
    /// Out-of-band work waiting for this runqueue's lock.
    pub oob_ops: Vec<crate::lock::LockedOp>,
    /// When `curr` last changed.
    pub curr_since: Ns,
    /// This CPU's activity counters (for fast-forwarding).
    pub counters: crate::fastfwd::CpuCounters,
}
