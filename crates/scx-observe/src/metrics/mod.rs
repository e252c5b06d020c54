//! Scheduling metrics computed from the event stream alone.
//!
//! [`Metrics`] is a [`Sink`]; [`Metrics::report`] closes the books at the
//! end of the run and returns a [`MetricsReport`] (JSON via
//! [`MetricsReport::to_json`], text via [`MetricsReport::summary`]).
//!
//! ## Definitions
//!
//! Time is simulated ns; a run covers `[0, end]`. Each CPU runs its idle
//! task from 0 until its first `sched_switch`.
//!
//! * **On-CPU time (runtime)** of a task: the sum of the intervals from a
//!   `sched_switch` that switches it in to the next `sched_switch` on that
//!   CPU (or `end`). This is exactly what a trace consumer (Perfetto's
//!   `sched` table) computes. It includes the scheduler overhead the CPU
//!   spends in `__schedule()` before the next switch, so it can differ
//!   slightly from the kernel's `sum_exec_runtime` (which stops at the rq
//!   clock update), but a CPU's busy time — the on-CPU time of its non-idle
//!   tasks — equals the kernel's `cpu_busy_ns` to the nanosecond.
//! * **CPU busy / idle**: on-CPU time of non-idle tasks / of the idle task.
//!   **Utilisation** = busy / `end` (per CPU), busy / (`end` × CPUs)
//!   overall.
//! * **Context switches**: `sched_switch` events. Those switching out a
//!   task are *voluntary* when `prev_state` is not `R` (the task blocked or
//!   died) and *involuntary* when it is `R` (preempted or yielded while
//!   runnable); the rest switch out the idle task.
//! * **Run delay**: time runnable but not running. It starts when a
//!   sleeping task becomes runnable (`sched_waking`, `sched_wakeup`, or
//!   `sched_wakeup_new` for a new task — the earliest) or when a task is
//!   switched out still runnable (`prev_state` `R`), and ends when the task
//!   is switched in. One sample per such interval.
//! * **Wakeup latency**: from `sched_waking` to the task's next switch-in
//!   (only for tasks not running at the `sched_waking`; new tasks have no
//!   `sched_waking`, so they count in run delay only).
//! * **Percentiles**: see [`latency`] (exact up to 256 samples, HDR
//!   histogram with 3 significant digits beyond).
//! * **Migrations**: `sched_migrate_task` events of the task.
//! * **Share** of a task: its on-CPU time / `end` (in CPUs: 1.0 = one CPU
//!   all the time); the shares of all tasks add up to the busy CPUs.
//! * **Expected share**: the fluid weighted-fair model of [`share`] (only
//!   for tasks that are neither idle nor RT/stop-class, the *fair-share
//!   population*), scaled so the population's expected CPU time equals its
//!   actual CPU time. **Share ratio** = actual / expected.
//! * **Fairness**: Jain's index of the share ratios `x = a/e` (actual over
//!   expected CPU time) over the fair-share population, each task weighted
//!   by its expected time: `(Σ e·x)² / (Σe · Σ e·x²)`, which simplifies to
//!   `(Σa)² / (Σe · Σ a²/e)`. 1 means every task got CPU in proportion to
//!   its weight while it contended; a task that contended briefly counts
//!   little. The smallest and largest ratio are given over the tasks whose
//!   expected time is at least [`FAIRNESS_MIN_FRACTION`] of the total.
//! * **Groups**: tasks grouped by [`task_group`] of their `comm`; a sample
//!   or interval counts for the group of the task's `comm` at that time.
//!
//! Weights come from prio (`TaskNew`/`TaskPrio`), so `SCHED_IDLE` tasks
//! count as nice 0 and cgroup weights are not modelled.

pub mod latency;
mod report;
pub mod share;
mod summary;

pub use report::*;

pub use summary::fmt_ns;

use crate::tasks::{dsq_name, prio_to_weight, task_group, TaskTable};
use crate::{Event, Op, PrevState, Sink, Tid};
use latency::LatencyStats;
use share::{water_fill, FairShare};
use std::collections::{BTreeMap, BTreeSet};

/// Share of the population's expected CPU time a task needs to count in
/// the smallest and largest share ratio.
pub const FAIRNESS_MIN_FRACTION: f64 = 0.01;

/// Per-task accumulators.
#[derive(Clone, Debug, Default)]
struct TaskAcc {
    oncpu_ns: u64,
    running: bool,
    runnable: bool,
    waiting_since: Option<u64>,
    waking_at: Option<u64>,
    run_delay: LatencyStats,
    wakeup: LatencyStats,
    migrations: u64,
    voluntary: u64,
    involuntary: u64,
    wakings: u64,
    expected_raw: f64,
    exited: bool,
}

/// Per-CPU accumulators.
#[derive(Clone, Debug, Default)]
struct CpuAcc {
    curr: Option<Tid>,
    since: u64,
    busy_ns: u64,
    switches: u64,
    rt: bool,
}

/// Per-group accumulators.
#[derive(Clone, Debug, Default)]
struct GroupAcc {
    oncpu_ns: u64,
    run_delay: LatencyStats,
    wakeup: LatencyStats,
}

/// Event counters.
#[derive(Clone, Debug, Default)]
struct Counts {
    switches: u64,
    voluntary: u64,
    involuntary: u64,
    from_idle: u64,
    wakings: u64,
    wakeups: u64,
    wakeups_new: u64,
    migrations: u64,
    tasks_created: u64,
    task_exits: u64,
    op_calls: u64,
    kicks: u64,
    breaker_kicks: u64,
    kicks_delivered: u64,
    dispatch_rounds: u64,
    watchdog_checks: u64,
    switch_mismatches: u64,
}

/// A DSQ's depth history in brief.
#[derive(Clone, Debug, Default)]
struct DsqAcc {
    max: u32,
    last: u32,
    changes: u64,
}

/// An `ScxExit` as seen in the stream.
#[derive(Clone, Debug, PartialEq)]
pub struct ExitSeen {
    /// When.
    pub at_ns: u64,
    /// Exit kind value.
    pub kind: u32,
    /// Exit code.
    pub exit_code: i64,
    /// Reason.
    pub reason: String,
    /// Message.
    pub msg: String,
}

/// The metrics sink.
#[derive(Clone, Debug, Default)]
pub struct Metrics {
    table: TaskTable,
    tasks: Vec<TaskAcc>,
    cpus: Vec<CpuAcc>,
    groups: BTreeMap<String, GroupAcc>,
    wakeup: LatencyStats,
    run_delay: LatencyStats,
    contenders: BTreeSet<Tid>,
    share: FairShare,
    counts: Counts,
    dsqs: BTreeMap<u64, DsqAcc>,
    ops: Vec<u64>,
    exits: Vec<ExitSeen>,
    states: Vec<(u64, &'static str)>,
    last_time: u64,
}

impl Metrics {
    /// An empty accumulator.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    /// The task table as of the last event.
    pub fn tasks(&self) -> &TaskTable {
        &self.table
    }

    /// Time of the last event seen.
    pub fn last_time(&self) -> u64 {
        self.last_time
    }

    fn task(&mut self, tid: Tid) -> &mut TaskAcc {
        let i = tid as usize;
        if self.tasks.len() <= i {
            self.tasks.resize_with(i + 1, TaskAcc::default);
        }
        &mut self.tasks[i]
    }

    fn cpu(&mut self, cpu: u32) -> &mut CpuAcc {
        let i = cpu as usize;
        if self.cpus.len() <= i {
            self.cpus.resize_with(i + 1, CpuAcc::default);
        }
        &mut self.cpus[i]
    }

    fn group_of(&self, tid: Tid) -> String {
        task_group(self.table.comm(tid)).to_string()
    }

    fn group(&mut self, tid: Tid) -> &mut GroupAcc {
        let g = self.group_of(tid);
        self.groups.entry(g).or_default()
    }

    /// True if `tid` belongs to the fair-share population.
    fn fair(&self, tid: Tid) -> bool {
        self.table
            .get(tid)
            .is_some_and(|t| !t.is_idle() && !t.is_rt())
    }

    /// Weighted contenders and capacity right now.
    fn contention(&self) -> (Vec<(Tid, u32)>, f64) {
        let w: Vec<(Tid, u32)> = self
            .contenders
            .iter()
            .map(|&t| (t, prio_to_weight(self.table.prio(t))))
            .collect();
        let nr = self.table.nr_cpus().max(self.cpus.len());
        let rt = self.cpus.iter().filter(|c| c.rt).count();
        (w, nr.saturating_sub(rt) as f64)
    }

    /// Integrates the fluid model up to `t`.
    fn settle(&mut self, t: u64) {
        if self.share.is_dirty() {
            let (w, cap) = self.contention();
            self.share.set_alloc(water_fill(&w, cap));
        }
        let mut credits = Vec::new();
        self.share.advance(t, |tid, ns| credits.push((tid, ns)));
        for (tid, ns) in credits {
            self.task(tid).expected_raw += ns;
        }
    }

    /// Re-evaluates whether `tid` contends, after a state change.
    fn update_contender(&mut self, tid: Tid) {
        let want = self.fair(tid)
            && self
                .tasks
                .get(tid as usize)
                .is_some_and(|a| a.runnable || a.running);
        let changed = if want {
            self.contenders.insert(tid)
        } else {
            self.contenders.remove(&tid)
        };
        if changed {
            self.share.invalidate();
        }
    }

    /// Charges the CPU's current task up to `t`.
    fn charge_cpu(&mut self, cpu: u32, t: u64) {
        let c = self.cpu(cpu);
        let dt = t.saturating_sub(c.since);
        c.since = t;
        let own = c.curr;
        let Some(curr) = own.or_else(|| self.table.curr(cpu)) else {
            return;
        };
        if self.table.is_idle(curr) {
            return;
        }
        self.cpu(cpu).busy_ns += dt;
        self.task(curr).oncpu_ns += dt;
        self.group(curr).oncpu_ns += dt;
    }

    fn on_switch(&mut self, t: u64, cpu: u32, prev: Tid, state: PrevState, next: Tid) {
        self.counts.switches += 1;
        let curr = self.cpus.get(cpu as usize).and_then(|c| c.curr);
        if curr.or_else(|| self.table.curr(cpu)) != Some(prev) {
            self.counts.switch_mismatches += 1;
        }
        self.charge_cpu(cpu, t);
        let next_rt = self.table.get(next).is_some_and(|i| i.is_rt());
        let c = self.cpu(cpu);
        c.switches += 1;
        c.curr = Some(next);
        if c.rt != next_rt {
            c.rt = next_rt;
            self.share.invalidate();
        }
        if self.table.is_idle(prev) {
            self.counts.from_idle += 1;
        } else {
            self.switch_out(t, prev, state);
        }
        if !self.table.is_idle(next) {
            self.switch_in(t, next);
        }
    }

    fn switch_out(&mut self, t: u64, prev: Tid, state: PrevState) {
        let still_runnable = state == PrevState::Running;
        if still_runnable {
            self.counts.involuntary += 1;
        } else {
            self.counts.voluntary += 1;
        }
        let a = self.task(prev);
        a.running = false;
        if still_runnable {
            a.involuntary += 1;
            a.waiting_since = Some(t);
        } else {
            a.voluntary += 1;
            a.runnable = false;
            a.waiting_since = None;
            a.waking_at = None;
        }
        if state == PrevState::Dead {
            a.exited = true;
        }
        self.update_contender(prev);
    }

    fn switch_in(&mut self, t: u64, next: Tid) {
        let a = self.task(next);
        a.running = true;
        a.runnable = true;
        let delay = a.waiting_since.take().map(|s| t - s);
        let wake = a.waking_at.take().map(|w| t - w);
        if let Some(d) = delay {
            a.run_delay.record(d);
            self.run_delay.record(d);
            self.group(next).run_delay.record(d);
        }
        if let Some(w) = wake {
            self.task(next).wakeup.record(w);
            self.wakeup.record(w);
            self.group(next).wakeup.record(w);
        }
        self.update_contender(next);
    }

    /// A sleeping task becomes runnable (waking or wakeup).
    fn become_runnable(&mut self, t: u64, tid: Tid, waking: bool) {
        let a = self.task(tid);
        if a.running {
            return;
        }
        if waking && a.waking_at.is_none() {
            a.waking_at = Some(t);
        }
        if !a.runnable {
            a.runnable = true;
            a.waiting_since = Some(t);
        }
        self.update_contender(tid);
    }

    fn on_event(&mut self, t: u64, ev: &Event) {
        match ev {
            Event::TaskNew { tid, idle_cpu, .. } => {
                self.task(*tid);
                if idle_cpu.is_none() {
                    self.counts.tasks_created += 1;
                }
            }
            Event::TaskPrio { .. } | Event::TaskClass { .. } => self.share.invalidate(),
            Event::TaskExit { tid } => {
                self.counts.task_exits += 1;
                self.task(*tid).exited = true;
            }
            Event::Switch {
                cpu,
                prev,
                prev_state,
                next,
            } => self.on_switch(t, *cpu, *prev, *prev_state, *next),
            Event::Waking { tid, .. } => {
                self.counts.wakings += 1;
                self.task(*tid).wakings += 1;
                self.become_runnable(t, *tid, true);
            }
            Event::Wakeup { tid, new, .. } => {
                if *new {
                    self.counts.wakeups_new += 1;
                } else {
                    self.counts.wakeups += 1;
                }
                self.become_runnable(t, *tid, false);
            }
            Event::Migrate { tid, .. } => {
                self.counts.migrations += 1;
                self.task(*tid).migrations += 1;
            }
            _ => self.on_scx_event(t, ev),
        }
    }

    fn on_scx_event(&mut self, t: u64, ev: &Event) {
        let c = &mut self.counts;
        match ev {
            Event::OpCall { op, .. } => {
                c.op_calls += 1;
                let i = *op as usize;
                if self.ops.len() <= i {
                    self.ops.resize(Op::ALL.len(), 0);
                }
                self.ops[i] += 1;
            }
            Event::Kick { breaker, .. } => {
                c.kicks += 1;
                c.breaker_kicks += u64::from(*breaker);
            }
            Event::KickDelivered { .. } => c.kicks_delivered += 1,
            Event::DispatchRound { .. } => c.dispatch_rounds += 1,
            Event::WatchdogCheck { .. } => c.watchdog_checks += 1,
            Event::DsqDepth { dsq, depth } => {
                let d = self.dsqs.entry(*dsq).or_default();
                d.max = d.max.max(*depth);
                d.last = *depth;
                d.changes += 1;
            }
            Event::ScxExit {
                kind,
                exit_code,
                reason,
                msg,
            } => self.exits.push(ExitSeen {
                at_ns: t,
                kind: *kind,
                exit_code: *exit_code,
                reason: reason.clone(),
                msg: msg.clone(),
            }),
            Event::ScxState { state } => self.states.push((t, state)),
            _ => {}
        }
    }

    /// The figures for a run that ended at `end_ns` (tasks still running
    /// are charged up to it). Does not change the accumulator.
    pub fn report(&self, end_ns: u64) -> MetricsReport {
        let mut m = self.clone();
        let end = end_ns.max(m.last_time);
        m.settle(end);
        for cpu in 0..m.cpus.len().max(m.table.nr_cpus()) as u32 {
            m.charge_cpu(cpu, end);
        }
        m.build_report(end)
    }

    fn build_report(&self, end: u64) -> MetricsReport {
        let tasks = self.task_reports(end);
        let cpus: Vec<CpuReport> = (0..self.cpus.len().max(self.table.nr_cpus()))
            .map(|i| {
                let c = self.cpus.get(i).cloned().unwrap_or_default();
                CpuReport {
                    cpu: i as u32,
                    busy_ns: c.busy_ns,
                    idle_ns: end - c.busy_ns.min(end),
                    utilization: ratio(c.busy_ns as f64, end as f64),
                    switches: c.switches,
                }
            })
            .collect();
        let busy: u64 = cpus.iter().map(|c| c.busy_ns).sum();
        let groups = self.group_reports(&tasks);
        MetricsReport {
            end_ns: end,
            nr_cpus: cpus.len() as u32,
            busy_ns: busy,
            utilization: ratio(busy as f64, end as f64 * cpus.len() as f64),
            fairness: Fairness::of(&tasks),
            counts: self.counts_report(),
            wakeup_latency: self.wakeup.summary(),
            run_delay: self.run_delay.summary(),
            cpus,
            tasks,
            groups,
            dsqs: self.dsq_reports(),
            ops: Op::ALL
                .iter()
                .zip(&self.ops)
                .filter(|(_, n)| **n > 0)
                .map(|(o, n)| (o.name(), *n))
                .collect(),
            exits: self.exits.clone(),
            states: self.states.clone(),
        }
    }

    fn task_reports(&self, end: u64) -> Vec<TaskReport> {
        let fair: Vec<(Tid, &TaskAcc)> = self
            .table
            .iter()
            .filter(|(t, _)| self.fair(*t))
            .filter_map(|(t, _)| self.tasks.get(t as usize).map(|a| (t, a)))
            .collect();
        let actual: f64 = fair.iter().map(|(_, a)| a.oncpu_ns as f64).sum();
        let raw: f64 = fair.iter().map(|(_, a)| a.expected_raw).sum();
        let scale = if raw > 0.0 { actual / raw } else { 0.0 };
        self.table
            .iter()
            .filter(|(_, i)| !i.is_idle())
            .map(|(tid, info)| {
                let a = self.tasks.get(tid as usize).cloned().unwrap_or_default();
                let expected = self.fair(tid).then_some(a.expected_raw * scale);
                TaskReport {
                    tid,
                    pid: info.pid,
                    comm: info.comm.clone(),
                    group: task_group(&info.comm).to_string(),
                    prio: info.prio,
                    weight: prio_to_weight(info.prio),
                    rt: info.is_rt(),
                    kthread: info.kthread,
                    runtime_ns: a.oncpu_ns,
                    share: ratio(a.oncpu_ns as f64, end as f64),
                    expected_ns: expected,
                    expected_share: expected.map(|e| ratio(e, end as f64)),
                    share_ratio: expected
                        .filter(|e| *e >= 1.0)
                        .map(|e| a.oncpu_ns as f64 / e),
                    run_delay: a.run_delay.summary(),
                    wakeup_latency: a.wakeup.summary(),
                    migrations: a.migrations,
                    voluntary_switches: a.voluntary,
                    involuntary_switches: a.involuntary,
                    wakeups: a.wakings,
                    exited: info.exited || a.exited,
                }
            })
            .collect()
    }

    fn group_reports(&self, tasks: &[TaskReport]) -> Vec<GroupReport> {
        let mut n: BTreeMap<&str, u64> = BTreeMap::new();
        for t in tasks {
            *n.entry(t.group.as_str()).or_default() += 1;
        }
        self.groups
            .iter()
            .map(|(g, a)| GroupReport {
                group: g.clone(),
                tasks: n.get(g.as_str()).copied().unwrap_or(0),
                runtime_ns: a.oncpu_ns,
                run_delay: a.run_delay.summary(),
                wakeup_latency: a.wakeup.summary(),
                wakeup_cdf: a.wakeup.cdf_points(50),
            })
            .collect()
    }

    fn dsq_reports(&self) -> Vec<DsqReport> {
        self.dsqs
            .iter()
            .map(|(id, d)| DsqReport {
                id: *id,
                name: dsq_name(*id),
                max_depth: d.max,
                final_depth: d.last,
                changes: d.changes,
            })
            .collect()
    }

    fn counts_report(&self) -> Counters {
        let c = &self.counts;
        Counters {
            context_switches: c.switches,
            voluntary_switches: c.voluntary,
            involuntary_switches: c.involuntary,
            idle_switches: c.from_idle,
            wakings: c.wakings,
            wakeups: c.wakeups,
            wakeups_new: c.wakeups_new,
            migrations: c.migrations,
            tasks_created: c.tasks_created,
            task_exits: c.task_exits,
            op_calls: c.op_calls,
            kicks: c.kicks,
            breaker_kicks: c.breaker_kicks,
            kicks_delivered: c.kicks_delivered,
            dispatch_rounds: c.dispatch_rounds,
            watchdog_checks: c.watchdog_checks,
            switch_mismatches: c.switch_mismatches,
        }
    }
}

impl Sink for Metrics {
    fn event(&mut self, time: u64, ev: &Event) {
        self.last_time = self.last_time.max(time);
        let affects_share = matches!(
            ev,
            Event::Switch { .. }
                | Event::Waking { .. }
                | Event::Wakeup { .. }
                | Event::TaskPrio { .. }
                | Event::TaskClass { .. }
        );
        if affects_share {
            self.settle(time);
        }
        // The table must know a new task before its accumulators are made,
        // and keep a renamed task's old comm until the event is handled.
        if matches!(ev, Event::TaskNew { .. }) {
            self.table.apply(ev);
            self.on_event(time, ev);
        } else {
            self.on_event(time, ev);
            self.table.apply(ev);
        }
    }
}

pub(crate) fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}
