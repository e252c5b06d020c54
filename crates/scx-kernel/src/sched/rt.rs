//! The real-time class (`kernel/sched/rt.c`): SCHED_FIFO and SCHED_RR.
//!
//! Per-CPU priority queues, FIFO within a priority, the highest priority
//! (lowest `prio`) first; SCHED_RR tasks rotate every `RR_TIMESLICE`
//! (100 ms). A woken RT task preempts a lower-priority RT task or any task
//! of a lower class. CPU selection avoids a CPU already running an RT task
//! of equal or higher priority, like `cpupri`'s lowest-rq search.
//!
//! Differences: no push/pull balancing between runqueues and no RT
//! throttling; RT tasks are rare in scxsim's workloads and the sched_ext
//! helper kthreads are the main users.

use crate::kernel::Kernel;
use crate::task::{Class, Tid};
use scx_workload::Policy;
use std::collections::BTreeMap;

/// `RR_TIMESLICE` in ms.
pub const RR_TIMESLICE_MS: u64 = 100;

/// Per-CPU RT runqueue.
#[derive(Debug, Default)]
pub struct RtRq {
    /// Queued tasks keyed by `(prio, position)`: tail insertions count up
    /// from 2^63, head insertions count down from it, so each priority's
    /// list keeps every task in the kernel's order.
    pub queue: BTreeMap<(i32, u64), Tid>,
    tail: u64,
    head: u64,
    /// Number of queued RT tasks (the running one included).
    pub nr_running: u32,
}

impl RtRq {
    /// A queue position at the head or the tail of a priority's list.
    fn position(&mut self, head: bool) -> u64 {
        const MID: u64 = 1 << 63;
        if head {
            self.head += 1;
            MID - self.head
        } else {
            self.tail += 1;
            MID + self.tail
        }
    }
}

impl Kernel {
    pub(crate) fn enqueue_task_rt(&mut self, cpu: usize, p: Tid, head: bool) {
        let prio = self.task(p).prio;
        let rq = &mut self.rqs[cpu].rt;
        let key = (prio, rq.position(head));
        rq.queue.insert(key, p);
        rq.nr_running += 1;
        self.rqs[cpu].nr_running += 1;
        self.task_mut(p).rt.on_rq = true;
        if self.task(p).rt.time_slice == 0 {
            self.task_mut(p).rt.time_slice = self.rr_ticks();
        }
    }

    fn rr_ticks(&self) -> u32 {
        (RR_TIMESLICE_MS * u64::from(self.cfg.hz.get()) / 1000).max(1) as u32
    }

    pub(crate) fn dequeue_task_rt(&mut self, cpu: usize, p: Tid) {
        let rq = &mut self.rqs[cpu].rt;
        if let Some(k) = rq.queue.iter().find(|(_, t)| **t == p).map(|(k, _)| *k) {
            rq.queue.remove(&k);
        }
        rq.nr_running -= 1;
        self.rqs[cpu].nr_running -= 1;
        self.task_mut(p).rt.on_rq = false;
    }

    /// The highest-priority RT task: the first queued one, or the running
    /// one (kept out of the queue while it runs) if it is at least as high
    /// and has not used up an RR slice.
    pub(crate) fn pick_task_rt(&mut self, cpu: usize) -> Option<Tid> {
        let queued = self.rqs[cpu].rt.queue.iter().next().map(|(k, t)| (k.0, *t));
        let curr = self.rqs[cpu].curr;
        let c = self.task(curr);
        let curr_ok = matches!(c.class, Class::Rt | Class::Stop) && c.rt.on_rq;
        let rotate = matches!(c.policy, Policy::Rr(_)) && c.rt.time_slice == 0;
        match (queued, curr_ok) {
            (Some((prio, t)), true) if prio < c.prio || (prio == c.prio && rotate) => Some(t),
            (_, true) => Some(curr),
            (Some((_, t)), false) => Some(t),
            (None, false) => None,
        }
    }

    pub(crate) fn set_next_task_rt(&mut self, cpu: usize, p: Tid) {
        let rq = &mut self.rqs[cpu].rt;
        if let Some(k) = rq.queue.iter().find(|(_, t)| **t == p).map(|(k, _)| *k) {
            rq.queue.remove(&k);
        }
    }

    /// `put_prev_task_rt`: a still-runnable RT task goes back to the head of
    /// its priority (it was preempted) or the tail after an RR rotation.
    pub(crate) fn put_prev_task_rt(&mut self, cpu: usize, p: Tid) {
        if !self.task(p).rt.on_rq {
            return;
        }
        let prio = self.task(p).prio;
        let rotate = self.task(p).rt.time_slice == 0;
        if rotate {
            self.task_mut(p).rt.time_slice = self.rr_ticks();
        }
        let rq = &mut self.rqs[cpu].rt;
        let key = (prio, rq.position(!rotate));
        rq.queue.insert(key, p);
    }

    pub(crate) fn task_tick_rt(&mut self, cpu: usize, p: Tid) {
        if !matches!(self.task(p).policy, Policy::Rr(_)) {
            return;
        }
        let t = self.task_mut(p);
        t.rt.time_slice = t.rt.time_slice.saturating_sub(1);
        if t.rt.time_slice == 0 && self.rqs[cpu].rt.nr_running > 1 {
            self.resched_curr(cpu);
        }
    }

    pub(crate) fn wakeup_preempt_rt(&mut self, cpu: usize, p: Tid) {
        let curr = self.rqs[cpu].curr;
        if self.task(p).prio < self.task(curr).prio {
            self.resched_curr(cpu);
        }
    }

    /// `select_task_rq_rt`: keep `cpu` unless it runs an RT task of equal or
    /// higher priority; then prefer an allowed CPU running no RT task.
    pub(crate) fn select_task_rq_rt(&mut self, p: Tid, cpu: usize) -> usize {
        let prio = self.task(p).prio;
        let busy = |k: &Kernel, c: usize| {
            let curr = k.task(k.rqs[c].curr);
            curr.class == Class::Rt && curr.prio <= prio
        };
        if !busy(self, cpu) {
            return cpu;
        }
        let mask = self.task(p).cpus;
        let found = mask
            .iter()
            .filter(|c| *c < self.nr_cpus() && self.rqs[*c].active)
            .find(|c| !busy(self, *c));
        found.unwrap_or(cpu)
    }
}
