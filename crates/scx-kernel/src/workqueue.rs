//! Workqueues and their kworkers (`kernel/workqueue.c`, simplified).
//!
//! Two kinds of worker pools: one per CPU (bound workers `kworker/N:0`) and
//! one unbound pool (`kworker/uX:Y`). Queued work wakes the pool's most
//! recently idled worker, which runs items until the list is empty and then
//! sleeps. Workers are ordinary `SCHED_NORMAL` kthreads, so under a BPF
//! scheduler they are scheduled by it: a scheduler that starves kworkers
//! starves the sched_ext watchdog, which runs here.
//!
//! Differences from the kernel: pools have a fixed number of workers (no
//! on-demand creation through kthreadd, no concurrency management), and a
//! work item's effect happens when the worker starts it; its cost is then
//! charged as the worker's run time.

use crate::kernel::Kernel;
use crate::task::Tid;
use std::collections::VecDeque;

/// A work item.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Work {
    /// `scx_watchdog_workfn` on `system_unbound_wq`.
    ScxWatchdog,
    /// Per-CPU housekeeping (vmstat-like statistics folding).
    Housekeeping(usize),
}

/// A worker pool.
#[derive(Debug, Default)]
pub struct Pool {
    /// Bound CPU, or `None` for the unbound pool.
    pub cpu: Option<usize>,
    /// All workers.
    pub workers: Vec<Tid>,
    /// Idle workers, most recently idled first.
    pub idle: Vec<Tid>,
    /// Pending work.
    pub worklist: VecDeque<Work>,
}

/// All pools.
#[derive(Debug, Default)]
pub struct Workqueues {
    /// Pools; per-CPU pools first, then the unbound pool.
    pub pools: Vec<Pool>,
}

/// Cost of one housekeeping item, ns.
const HOUSEKEEPING_NS: u64 = 4_000;

impl Kernel {
    fn pool_for(&self, w: &Work) -> usize {
        match w {
            Work::Housekeeping(cpu) => *cpu,
            Work::ScxWatchdog => self.wq.pools.len() - 1,
        }
    }

    /// `queue_work()`: adds `w` to its pool and wakes an idle worker.
    pub(crate) fn queue_work(&mut self, w: Work) {
        let p = self.pool_for(&w);
        self.wq.pools[p].worklist.push_back(w);
        if let Some(worker) = self.wq.pools[p].idle.first().copied() {
            self.wq.pools[p].idle.remove(0);
            self.try_to_wake_up(worker, 0);
        }
    }

    /// A kworker's program step: run the next item or go idle.
    pub(crate) fn kworker_next(&mut self, cpu: usize, tid: Tid, pool: usize) {
        match self.wq.pools[pool].worklist.pop_front() {
            Some(w) => {
                let cost = self.cfg.cost.work_item + self.run_work(cpu, &w);
                let t = self.task_mut(tid);
                t.exec.work_left = cost;
                t.exec.resume = crate::irq::Resume::Work;
            }
            None => {
                self.wq.pools[pool].idle.insert(0, tid);
                self.block_current(tid, crate::exec::BlockedOn::Kernel);
            }
        }
    }

    /// Executes work `w` on `cpu`; returns its own cost in ns.
    fn run_work(&mut self, cpu: usize, w: &Work) -> u64 {
        match w {
            Work::ScxWatchdog => self.scx_watchdog_workfn(cpu),
            Work::Housekeeping(_) => HOUSEKEEPING_NS,
        }
    }

    /// Housekeeping timer: queue the CPU's housekeeping work, re-arm.
    pub(crate) fn housekeeping_timer(&mut self, cpu: usize) {
        self.queue_work(Work::Housekeeping(cpu));
        let period = self.cfg.housekeeping_period;
        if period > 0 {
            self.hrtimer_start(
                crate::timer::TimerKind::Housekeeping(cpu),
                self.now + period,
                cpu,
                false,
            );
        }
    }
}
