//! The weighted fair class (`kernel/sched/fair.c`), CFS-style.
//!
//! Per-CPU runqueues ordered by vruntime (`delta * NICE_0_LOAD / weight`),
//! the `sched_latency`/`min_granularity` slice (scaled by
//! `1 + ilog2(min(nr_cpus, 8))` as the kernel scales its tunables), wakeup
//! placement that bounds a sleeper's credit to half a latency period,
//! wakeup preemption with `wakeup_granularity`, new-idle balancing (a CPU
//! about to idle pulls one task), periodic load balancing from the tick, and
//! kicking an idle CPU when a busy one has queued work (NO_HZ idle balance).
//!
//! Deliberate differences from 6.12, which uses EEVDF: scxsim keeps the
//! classic CFS pick (smallest vruntime) and tick preemption instead of
//! eligibility and virtual deadlines, has no delayed dequeue, no PELT load
//! tracking (load = sum of queued weights), no group scheduling inside the
//! fair class, and balances by task count within the whole machine rather
//! than by sched domain. The fair class is where tasks live before a BPF
//! scheduler attaches, in partial mode and after an exit; its job here is to
//! be a credible weighted fair baseline, not a cycle-accurate CFS.

use crate::consts::*;
use crate::kernel::Kernel;
use crate::task::{Class, Tid};
use scx_machine::clock::{Ns, NSEC_PER_MSEC, NSEC_PER_USEC};
use scx_workload::Policy;
use std::collections::BTreeMap;

/// Fair scheduling entity.
#[derive(Clone, Debug, Default)]
pub struct FairEntity {
    /// Virtual runtime.
    pub vruntime: u64,
    /// vruntime relative to the rq's min_vruntime when last dequeued.
    pub vlag: i64,
    /// `sum_exec_runtime` when the task last started running.
    pub slice_start: u64,
    /// Key in the rq's tree while queued and not running.
    pub key: Option<(u64, u64)>,
    /// Queued on a fair runqueue (`se.on_rq`).
    pub on_rq: bool,
}

/// Per-CPU fair runqueue.
#[derive(Debug, Default)]
pub struct CfsRq {
    /// Queued, not running, tasks keyed by `(vruntime, arrival)`.
    pub tree: BTreeMap<(u64, u64), Tid>,
    seq: u64,
    /// Queued fair tasks, the running one included.
    pub nr_running: u32,
    /// Sum of their load weights.
    pub load: u64,
    /// Monotonic floor of vruntimes.
    pub min_vruntime: u64,
}

impl Kernel {
    fn fair_factor(&self) -> u64 {
        let n = self.nr_cpus().clamp(1, 8) as u64;
        1 + u64::from(63 - n.leading_zeros())
    }

    /// `sysctl_sched_latency` scaled.
    fn sched_latency(&self) -> Ns {
        6 * NSEC_PER_MSEC * self.fair_factor()
    }

    /// `sysctl_sched_min_granularity` scaled.
    fn min_granularity(&self) -> Ns {
        750 * NSEC_PER_USEC * self.fair_factor()
    }

    /// `sysctl_sched_wakeup_granularity` scaled.
    fn wakeup_granularity(&self) -> Ns {
        NSEC_PER_MSEC * self.fair_factor()
    }

    fn calc_delta_fair(delta: u64, weight: u32) -> u64 {
        if weight as u64 == NICE_0_LOAD {
            delta
        } else {
            (u128::from(delta) * u128::from(NICE_0_LOAD) / u128::from(weight.max(1))) as u64
        }
    }

    /// `sched_slice()`: this task's share of the latency period.
    fn sched_slice(&self, cpu: usize, p: Tid) -> Ns {
        let rq = &self.rqs[cpu].cfs;
        let nr = u64::from(rq.nr_running.max(1));
        let period = if nr > 8 {
            nr * self.min_granularity()
        } else {
            self.sched_latency()
        };
        let w = u64::from(self.task(p).load_weight);
        (u128::from(period) * u128::from(w) / u128::from(rq.load.max(w))) as u64
    }

    fn update_min_vruntime(&mut self, cpu: usize) {
        let curr = self.rqs[cpu].curr;
        let curr_v = (self.task(curr).class == Class::Fair && self.task(curr).se.on_rq)
            .then(|| self.task(curr).se.vruntime);
        let left = self.rqs[cpu].cfs.tree.keys().next().map(|k| k.0);
        let cand = match (curr_v, left) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (None, None) => return,
        };
        let rq = &mut self.rqs[cpu].cfs;
        rq.min_vruntime = rq.min_vruntime.max(cand);
    }

    /// `update_curr()` for a fair `curr`: charges vruntime.
    pub(crate) fn update_curr_fair(&mut self, cpu: usize) {
        let curr = self.rqs[cpu].curr;
        if self.task(curr).class != Class::Fair {
            return;
        }
        let delta = self.update_curr_common(cpu);
        if delta > 0 {
            let w = self.task(curr).load_weight;
            self.task_mut(curr).se.vruntime += Self::calc_delta_fair(delta, w);
        }
        self.update_min_vruntime(cpu);
    }

    fn tree_insert(&mut self, cpu: usize, p: Tid) {
        let v = self.task(p).se.vruntime;
        let rq = &mut self.rqs[cpu].cfs;
        rq.seq += 1;
        let key = (v, rq.seq);
        rq.tree.insert(key, p);
        self.task_mut(p).se.key = Some(key);
    }

    fn tree_remove(&mut self, cpu: usize, p: Tid) {
        if let Some(key) = self.task_mut(p).se.key.take() {
            self.rqs[cpu].cfs.tree.remove(&key);
        }
    }

    pub(crate) fn enqueue_task_fair(&mut self, cpu: usize, p: Tid, flags: u64) {
        self.update_curr_fair(cpu);
        let min = self.rqs[cpu].cfs.min_vruntime;
        let mut v = (min as i64 + self.task(p).se.vlag).max(0) as u64;
        if flags & ENQUEUE_INITIAL != 0 {
            // START_DEBIT: a new task starts one slice behind.
            let w = self.task(p).load_weight;
            v = v.max(min + Self::calc_delta_fair(self.sched_latency() / 2, w));
        } else if flags & ENQUEUE_WAKEUP != 0 {
            // GENTLE_FAIR_SLEEPERS: at most half a latency of credit.
            v = v.max(min.saturating_sub(self.sched_latency() / 2));
        }
        self.task_mut(p).se.vruntime = v;
        self.task_mut(p).se.on_rq = true;
        let w = u64::from(self.task(p).load_weight);
        let rq = &mut self.rqs[cpu].cfs;
        rq.nr_running += 1;
        rq.load += w;
        self.rqs[cpu].nr_running += 1;
        if self.rqs[cpu].curr != p {
            self.tree_insert(cpu, p);
        }
        self.update_min_vruntime(cpu);
    }

    pub(crate) fn dequeue_task_fair(&mut self, cpu: usize, p: Tid) {
        if self.rqs[cpu].curr == p {
            self.update_curr_fair(cpu);
        }
        self.tree_remove(cpu, p);
        let min = self.rqs[cpu].cfs.min_vruntime;
        let t = self.task_mut(p);
        t.se.on_rq = false;
        t.se.vlag = t.se.vruntime as i64 - min as i64;
        let w = u64::from(t.load_weight);
        let rq = &mut self.rqs[cpu].cfs;
        rq.nr_running -= 1;
        rq.load -= w;
        self.rqs[cpu].nr_running -= 1;
        self.update_min_vruntime(cpu);
    }

    /// Picks the fair task with the smallest vruntime (the running one
    /// included if still queued).
    pub(crate) fn pick_task_fair(&mut self, cpu: usize) -> Option<Tid> {
        self.update_curr_fair(cpu);
        let left = self.rqs[cpu].cfs.tree.iter().next().map(|(k, t)| (k.0, *t));
        let curr = self.rqs[cpu].curr;
        let curr_ok = self.task(curr).class == Class::Fair && self.task(curr).se.on_rq;
        match (left, curr_ok) {
            (Some((v, t)), true) if v < self.task(curr).se.vruntime => Some(t),
            (_, true) => Some(curr),
            (Some((_, t)), false) => Some(t),
            (None, false) => None,
        }
    }

    pub(crate) fn put_prev_task_fair(&mut self, cpu: usize, p: Tid) {
        self.update_curr_fair(cpu);
        if self.task(p).se.on_rq && self.task(p).se.key.is_none() {
            self.tree_insert(cpu, p);
        }
    }

    pub(crate) fn set_next_task_fair(&mut self, cpu: usize, p: Tid) {
        self.tree_remove(cpu, p);
        let t = self.task_mut(p);
        t.se.slice_start = t.sum_exec_runtime;
    }

    /// `task_tick_fair`: preempt once the task used its slice and someone
    /// else waits.
    pub(crate) fn task_tick_fair(&mut self, cpu: usize, curr: Tid) {
        self.update_curr_fair(cpu);
        if self.rqs[cpu].cfs.nr_running < 2 {
            return;
        }
        let t = self.task(curr);
        let ran = t.sum_exec_runtime - t.se.slice_start;
        if ran > self.sched_slice(cpu, curr) {
            self.resched_curr(cpu);
            return;
        }
        if ran < self.min_granularity() {
            return;
        }
        if let Some((v, _)) = self.rqs[cpu].cfs.tree.keys().next().copied() {
            let cv = self.task(curr).se.vruntime;
            if cv > v && cv - v > self.sched_slice(cpu, curr) {
                self.resched_curr(cpu);
            }
        }
    }

    /// `check_preempt_wakeup_fair`.
    pub(crate) fn wakeup_preempt_fair(&mut self, cpu: usize, p: Tid) {
        let curr = self.rqs[cpu].curr;
        if self.rqs[cpu].need_resched {
            return;
        }
        let cp = self.task(curr).policy;
        let pp = self.task(p).policy;
        if cp == Policy::Idle && pp != Policy::Idle {
            self.resched_curr(cpu);
            return;
        }
        if pp == Policy::Batch || pp == Policy::Idle {
            return;
        }
        self.update_curr_fair(cpu);
        let gran = Self::calc_delta_fair(self.wakeup_granularity(), self.task(p).load_weight);
        let cv = self.task(curr).se.vruntime;
        let pv = self.task(p).se.vruntime;
        if cv > pv && cv - pv > gran {
            self.resched_curr(cpu);
        }
    }

    fn cpu_idle(&self, c: usize) -> bool {
        let rq = &self.rqs[c];
        rq.active && rq.nr_running == 0 && self.task(rq.curr).is_idle()
    }

    /// `select_task_rq_fair`, simplified: the previous CPU if idle, else an
    /// idle CPU sharing its LLC, else any idle CPU, else the least loaded
    /// allowed CPU (forks always take the least loaded).
    pub(crate) fn select_task_rq_fair(&mut self, p: Tid, prev: usize, wake_flags: u64) -> usize {
        let allowed = self.task(p).cpus;
        let ok = |k: &Kernel, c: usize| c < k.nr_cpus() && k.rqs[c].active && allowed.test(c);
        if wake_flags & crate::consts::SCX_WAKE_FORK == 0 {
            if ok(self, prev) && self.cpu_idle(prev) {
                return prev;
            }
            let llc = self.topo.llc_cpus(prev.min(self.nr_cpus() - 1));
            let idle_in = |k: &Kernel, m: scx_machine::Cpumask| {
                m.iter().find(|c| ok(k, *c) && k.cpu_idle(*c))
            };
            if let Some(c) = idle_in(self, llc).or_else(|| idle_in(self, allowed)) {
                return c;
            }
            if ok(self, prev) {
                return prev;
            }
        }
        allowed
            .iter()
            .filter(|c| ok(self, *c))
            .min_by_key(|c| (self.rqs[*c].nr_running, *c != prev, *c))
            .unwrap_or(prev)
    }

    /// Moves a queued, not running, fair task from `src` to `dst`.
    fn migrate_fair_task(&mut self, p: Tid, src: usize, dst: usize) {
        self.deactivate_task(src, p, 0);
        self.set_task_cpu(p, dst);
        self.activate_task(dst, p, 0);
        self.wakeup_preempt(dst, p, 0);
    }

    /// Finds a task queued (not running) on the busiest CPU that may run on
    /// `dst`.
    fn find_pullable(&self, dst: usize, min_queued: u32) -> Option<(Tid, usize)> {
        let busiest = (0..self.nr_cpus())
            .filter(|c| *c != dst && self.rqs[*c].active)
            .max_by_key(|c| (self.rqs[*c].cfs.nr_running, std::cmp::Reverse(*c)))?;
        if self.rqs[busiest].cfs.nr_running < min_queued {
            return None;
        }
        self.rqs[busiest]
            .cfs
            .tree
            .values()
            .copied()
            .find(|t| {
                let task = self.task(*t);
                task.cpus.test(dst) && !task.is_migration_disabled()
            })
            .map(|t| (t, busiest))
    }

    /// `sched_balance_newidle`: a CPU about to go idle pulls one task.
    pub(crate) fn newidle_balance(&mut self, cpu: usize) -> bool {
        if !self.rqs[cpu].active {
            return false;
        }
        match self.find_pullable(cpu, 2) {
            Some((p, src)) => {
                self.migrate_fair_task(p, src, cpu);
                true
            }
            None => false,
        }
    }

    /// Periodic balancing from the tick, and NO_HZ idle kicks.
    pub(crate) fn fair_periodic_balance(&mut self, cpu: usize) {
        if !self.rqs[cpu].active || self.now < self.rqs[cpu].next_balance {
            return;
        }
        self.rqs[cpu].next_balance = self.now + 4 * self.cfg.hz.tick_ns();
        let mine = self.rqs[cpu].cfs.nr_running;
        if let Some((p, src)) = self.find_pullable(cpu, mine + 2) {
            self.migrate_fair_task(p, src, cpu);
        }
        if self.rqs[cpu].cfs.nr_running >= 2 {
            let idle = (0..self.nr_cpus()).find(|c| *c != cpu && self.cpu_idle(*c));
            if let Some(c) = idle {
                self.resched_curr(c);
            }
        }
    }
}
