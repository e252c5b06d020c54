//! Runqueue locks held across simulated time.
//!
//! A CPU inside `__schedule()` holds its runqueue lock from the start of
//! the section to the context switch — across every dispatch round of
//! `balance_one()`. Another CPU that needs that lock (to wake a task onto
//! that runqueue, to kick that CPU, for the watchdog's scan, the debug dump
//! or the enable/disable work) spins with interrupts disabled until it is
//! released, as `raw_spin_rq_lock()` does. So a CPU trapped forever in the
//! dispatch loop traps every CPU that touches its runqueue — the machine
//! goes silent, as the kernel before the dispatch-loop breaker did.
//!
//! Like the kernel; however scxsim performs the waiting CPU's remaining work
//! for that lock (the [`LockedOp`]s) when the lock is released, rather than
//! resuming a call stack, and work done on the same CPU before it started
//! spinning stays done. Lock acquisitions nested inside a dispatch round
//! (pulling a task off another CPU's runqueue) are not modelled.

use crate::irq::Ev;
use crate::kernel::Kernel;
use crate::rq::Mode;
use crate::task::Tid;

/// Work a CPU performs once it gets the lock it spins on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LockedOp {
    /// The rest of `try_to_wake_up()`: activate `p` on `cpu`.
    TtwuActivate {
        /// Task being woken.
        p: Tid,
        /// Its new runqueue.
        cpu: usize,
        /// Wake flags.
        wake_flags: u64,
    },
    /// The rest of `try_to_wake_up()` once `p`, which its CPU was still
    /// switching out (`p->on_cpu`), is off that CPU: select a runqueue and
    /// activate `p` there.
    TtwuOffCpu {
        /// Task being woken.
        p: Tid,
        /// Wake flags.
        wake_flags: u64,
    },
    /// The rest of `wake_up_new_task()`.
    WakeNew {
        /// The new task.
        p: Tid,
        /// Its runqueue.
        cpu: usize,
    },
    /// Run this CPU's kick irq_work again (targets already kicked were
    /// cleared from the masks).
    KickIrqWork,
    /// Continue the sched_ext watchdog's scan at CPU `from`.
    WatchdogScan {
        /// Next CPU to check.
        from: usize,
    },
    /// Generate the debug dump and queue the disable work (error irq_work).
    ErrorIrqWork,
    /// Run the helper kthread's current work item.
    HelperWork,
}

impl Kernel {
    /// True if the current CPU must spin for `target`'s runqueue lock.
    pub(crate) fn rq_lock_busy(&self, target: usize) -> bool {
        target != self.cur_cpu && matches!(self.rqs[target].mode, Mode::Sched(_))
    }

    /// True if the current CPU is already spinning (further work of the
    /// same event queues up behind the first).
    pub(crate) fn spinning(&self) -> bool {
        self.executing && matches!(self.rqs[self.cur_cpu].mode, Mode::LockWait { .. })
    }

    /// Starts (or continues) spinning on `holder`'s lock; `op` runs once it
    /// is granted. Out-of-band work (no CPU) is performed at release time.
    pub(crate) fn lock_wait(&mut self, holder: usize, op: LockedOp) {
        let cpu = self.cur_cpu;
        if !self.executing {
            self.rqs[holder].oob_ops.push(op);
            return;
        }
        if !self.spinning() {
            self.pause_for_lock(cpu);
            self.rqs[cpu].mode = Mode::LockWait { holder };
        }
        self.rqs[cpu].lock_ops.push(op);
    }

    /// The CPU stops what it was doing to spin: a running task's work is
    /// paused and its program continues after the wait.
    fn pause_for_lock(&mut self, cpu: usize) {
        if let Mode::Exec { since } = self.rqs[cpu].mode {
            let curr = self.rqs[cpu].curr;
            let done = self.now.saturating_sub(since);
            let t = self.task_mut(curr);
            t.exec.work_left = t.exec.work_left.saturating_sub(done);
        }
    }

    /// `cpu` left `__schedule()`: grant its lock to the CPUs spinning on it.
    pub(crate) fn release_rq_lock(&mut self, cpu: usize) {
        let oob = std::mem::take(&mut self.rqs[cpu].oob_ops);
        if !oob.is_empty() {
            let saved = (self.cur_cpu, self.executing);
            self.executing = false;
            for op in oob {
                self.run_locked_op(op);
            }
            (self.cur_cpu, self.executing) = saved;
        }
        for w in 0..self.nr_cpus() {
            if self.rqs[w].mode == (Mode::LockWait { holder: cpu }) {
                self.push(self.now, Ev::LockGranted { cpu: w as u32 });
            }
        }
    }

    /// A spinning CPU got its lock: run the queued work (it may have to
    /// spin again for another lock).
    pub(crate) fn lock_granted(&mut self, cpu: usize) {
        let Mode::LockWait { holder } = self.rqs[cpu].mode else {
            return;
        };
        if matches!(self.rqs[holder].mode, Mode::Sched(_)) {
            return; // re-taken before we got it; keep spinning
        }
        self.cur_cpu = cpu;
        self.executing = true;
        self.rqs[cpu].mode = Mode::Kernel;
        let ops = std::mem::take(&mut self.rqs[cpu].lock_ops);
        let mut it = ops.into_iter();
        for op in it.by_ref() {
            self.run_locked_op(op);
            if self.spinning() {
                break;
            }
        }
        let rest: Vec<LockedOp> = it.collect();
        self.rqs[cpu].lock_ops.extend(rest);
        self.settle(cpu);
        self.executing = false;
    }

    fn run_locked_op(&mut self, op: LockedOp) {
        match op {
            LockedOp::TtwuActivate { p, cpu, wake_flags } => {
                self.ttwu_activate_locked(cpu, p, wake_flags)
            }
            LockedOp::TtwuOffCpu { p, wake_flags } => self.ttwu_select_and_activate(p, wake_flags),
            LockedOp::WakeNew { p, cpu } => self.wake_new_activate_locked(cpu, p),
            LockedOp::KickIrqWork => self.kick_cpus_irq_workfn(self.cur_cpu),
            LockedOp::WatchdogScan { from } => self.watchdog_scan(self.cur_cpu, from),
            LockedOp::ErrorIrqWork => self.scx_ops_error_irq_workfn(self.cur_cpu),
            LockedOp::HelperWork => {
                let me = self.rqs[self.cur_cpu].curr;
                self.scx_helper_next(self.cur_cpu, me);
            }
        }
    }

    /// Work that takes every CPU's runqueue lock in turn (a loop of
    /// `rq_lock()`/`rq_unlock()`): advances `*done` past the CPUs whose lock
    /// is free now and returns the first busy one to wait for, or `None`
    /// (resetting `*done`) once every lock has been taken.
    pub(crate) fn next_busy_rq(&self, done: &mut usize) -> Option<usize> {
        while *done < self.nr_cpus() {
            if self.rq_lock_busy(*done) {
                return Some(*done);
            }
            *done += 1;
        }
        *done = 0;
        None
    }
}
