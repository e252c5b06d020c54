//! The sched_ext watchdog (ext.c:3570-3631): a delayed work item on the
//! unbound workqueue runs every `timeout / 2`, walks each online CPU's
//! runnable list in order and reports the first task that has waited
//! longer than the timeout; each CPU's tick checks that the watchdog
//! itself ran recently.
//!
//! Because the check runs on a kworker — an ordinary task under the BPF
//! scheduler — a scheduler that starves kworkers starves the check, and the
//! tick-side "failed to check in" test catches it.

use crate::ext::exit::SCX_EXIT_ERROR_STALL;
use crate::kernel::Kernel;
use crate::timer::TimerKind;
use crate::workqueue::Work;
use scx_machine::clock::time_after;
use scx_observe::Event;

/// Frames of the watchdog work, outermost first.
const WATCHDOG_FRAMES: [&str; 6] = [
    "ret_from_fork_asm",
    "ret_from_fork",
    "kthread",
    "worker_thread",
    "process_one_work",
    "scx_watchdog_workfn",
];

impl Kernel {
    /// Arms the watchdog's delayed work `delay` jiffies from now.
    pub(crate) fn queue_watchdog(&mut self, delay_jiffies: u64) {
        let tick = self.cfg.hz.tick_ns();
        let at = (self.jiffies() + delay_jiffies) * tick;
        let cpu = self.cur_cpu;
        let id = self.hrtimer_start(TimerKind::DelayedWork(Work::ScxWatchdog), at, cpu, true);
        self.scx.watchdog_timer = Some(id);
        self.scx.watchdog_armed = true;
    }

    /// `cancel_delayed_work_sync(&scx_watchdog_work)`.
    pub(crate) fn cancel_watchdog(&mut self) {
        if let Some(id) = self.scx.watchdog_timer.take() {
            self.hrtimer_cancel(id);
        }
        for pool in &mut self.wq.pools {
            pool.worklist.retain(|w| *w != Work::ScxWatchdog);
        }
        self.scx.watchdog_armed = false;
    }

    /// `scx_watchdog_workfn()`; returns its cost in ns.
    pub(crate) fn scx_watchdog_workfn(&mut self, cpu: usize) -> u64 {
        if !self.scx.watchdog_armed {
            return 0;
        }
        self.emit_with(|| Event::WatchdogCheck { cpu: cpu as u32 });
        self.scx.watchdog_timestamp = self.jiffies();
        self.watchdog_scan(cpu, 0);
        200
    }

    /// The per-CPU part of the watchdog work, from CPU `from` on; spins on
    /// a runqueue lock held across a `__schedule()` (see `lock.rs`).
    pub(crate) fn watchdog_scan(&mut self, _cpu: usize, from: usize) {
        if !self.scx.watchdog_armed {
            return;
        }
        let depth = self.scx.error_context.len();
        self.scx.error_context.extend(WATCHDOG_FRAMES);
        for c in from..self.nr_cpus() {
            if !self.rqs[c].online {
                continue;
            }
            if self.rq_lock_busy(c) {
                self.scx.error_context.truncate(depth);
                self.lock_wait(c, crate::lock::LockedOp::WatchdogScan { from: c });
                return;
            }
            let (stalled, n) = self.check_rq_for_timeouts(c);
            self.charge(20 * n);
            if stalled {
                break;
            }
        }
        self.scx.error_context.truncate(depth);
        let half = self.scx.watchdog_timeout / 2;
        self.queue_watchdog(half);
    }

    /// `check_rq_for_timeouts()`: `(stalled, tasks scanned)`.
    fn check_rq_for_timeouts(&mut self, cpu: usize) -> (bool, u64) {
        let now = self.jiffies();
        let timeout = self.scx.watchdog_timeout;
        let mut n = 0;
        let mut stalled = None;
        for p in self
            .scx
            .runnable_links
            .tasks(&self.rqs[cpu].scx.runnable_list)
        {
            n += 1;
            let at = self.task(p).scx.runnable_at;
            if time_after(now, at.wrapping_add(timeout)) {
                stalled = Some((p, at));
                break;
            }
        }
        if let Some((p, at)) = stalled {
            let ms = self.cfg.hz.jiffies_to_msecs(now.wrapping_sub(at));
            let t = self.task(p);
            let msg = format!(
                "{}[{}] failed to run for {}.{:03}s",
                t.comm,
                t.pid,
                ms / 1000,
                ms % 1000
            );
            self.scx_ops_exit_kind(SCX_EXIT_ERROR_STALL, 0, msg);
            return (true, n);
        }
        (false, n)
    }

    /// `scx_tick()`: the watchdog's own check-in test.
    pub(crate) fn scx_tick(&mut self, _cpu: usize) {
        let now = self.jiffies();
        let last = self.scx.watchdog_timestamp;
        if self.scx.watchdog_armed && time_after(now, last.wrapping_add(self.scx.watchdog_timeout))
        {
            let ms = self.cfg.hz.jiffies_to_msecs(now.wrapping_sub(last));
            let depth = self.scx.error_context.len();
            self.scx.error_context.extend([
                "asm_sysvec_apic_timer_interrupt",
                "sched_tick",
                "scx_tick",
            ]);
            self.scx_ops_exit_kind(
                SCX_EXIT_ERROR_STALL,
                0,
                format!(
                    "watchdog failed to check in for {}.{:03}s",
                    ms / 1000,
                    ms % 1000
                ),
            );
            self.scx.error_context.truncate(depth);
        }
    }
}
