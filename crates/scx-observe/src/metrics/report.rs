//! The figures [`Metrics`](super::Metrics) hands out at the end of a run,
//! and their JSON form (the report's `metrics` section).

use super::latency::LatencySummary;
use super::summary;
use super::{ratio, ExitSeen, FAIRNESS_MIN_FRACTION};
use crate::Tid;
use serde_json::{json, Value};

/// Per-CPU figures.
#[derive(Clone, Debug, PartialEq)]
pub struct CpuReport {
    /// CPU.
    pub cpu: u32,
    /// On-CPU time of non-idle tasks.
    pub busy_ns: u64,
    /// `end` − busy.
    pub idle_ns: u64,
    /// busy / end.
    pub utilization: f64,
    /// `sched_switch` events on it.
    pub switches: u64,
}

/// Per-task figures (idle tasks excluded).
#[derive(Clone, Debug, PartialEq)]
pub struct TaskReport {
    /// Task id in the event stream.
    pub tid: Tid,
    /// pid.
    pub pid: u32,
    /// Last `comm`.
    pub comm: String,
    /// Group of the last `comm`.
    pub group: String,
    /// Last kernel prio.
    pub prio: i32,
    /// Load weight of that prio.
    pub weight: u32,
    /// RT or stop class (outside the fair-share population).
    pub rt: bool,
    /// Kernel thread.
    pub kthread: bool,
    /// On-CPU time.
    pub runtime_ns: u64,
    /// runtime / end (CPUs).
    pub share: f64,
    /// Expected CPU time (fair-share population only).
    pub expected_ns: Option<f64>,
    /// expected / end.
    pub expected_share: Option<f64>,
    /// runtime / expected (when expected ≥ 1 ns).
    pub share_ratio: Option<f64>,
    /// Run delay.
    pub run_delay: LatencySummary,
    /// Wakeup latency.
    pub wakeup_latency: LatencySummary,
    /// `sched_migrate_task` events.
    pub migrations: u64,
    /// Switched out not runnable.
    pub voluntary_switches: u64,
    /// Switched out runnable.
    pub involuntary_switches: u64,
    /// `sched_waking` events.
    pub wakeups: u64,
    /// Exited.
    pub exited: bool,
}

/// Per-group figures.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupReport {
    /// Group name.
    pub group: String,
    /// Tasks whose last `comm` is in the group.
    pub tasks: u64,
    /// On-CPU time while in the group.
    pub runtime_ns: u64,
    /// Run delay.
    pub run_delay: LatencySummary,
    /// Wakeup latency.
    pub wakeup_latency: LatencySummary,
    /// Wakeup-latency CDF points `(ns, fraction)`.
    pub wakeup_cdf: Vec<(u64, f64)>,
}

/// Per-DSQ figures.
#[derive(Clone, Debug, PartialEq)]
pub struct DsqReport {
    /// DSQ id.
    pub id: u64,
    /// Readable name.
    pub name: String,
    /// Largest depth.
    pub max_depth: u32,
    /// Depth at the end.
    pub final_depth: u32,
    /// Depth changes.
    pub changes: u64,
}

/// Event counts.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    /// `sched_switch` events.
    pub context_switches: u64,
    /// ... of a task whose `prev_state` is not `R`.
    pub voluntary_switches: u64,
    /// ... with `prev_state` `R` (not counting the idle task).
    pub involuntary_switches: u64,
    /// ... away from the idle task (the three add up to all).
    pub idle_switches: u64,
    /// `sched_waking` events.
    pub wakings: u64,
    /// `sched_wakeup` events.
    pub wakeups: u64,
    /// `sched_wakeup_new` events.
    pub wakeups_new: u64,
    /// `sched_migrate_task` events.
    pub migrations: u64,
    /// Tasks created (not counting idle tasks).
    pub tasks_created: u64,
    /// `sched_process_exit` events.
    pub task_exits: u64,
    /// sched_ext callbacks.
    pub op_calls: u64,
    /// `scx_bpf_kick_cpu()` requests, breaker included.
    pub kicks: u64,
    /// Dispatch-loop breaker self-kicks.
    pub breaker_kicks: u64,
    /// Kicks that rescheduled their target.
    pub kicks_delivered: u64,
    /// Dispatch-loop rounds.
    pub dispatch_rounds: u64,
    /// Watchdog checks.
    pub watchdog_checks: u64,
    /// `sched_switch` whose `prev` was not the CPU's current task (0 in a
    /// consistent stream).
    pub switch_mismatches: u64,
}

/// How proportional to weight the CPU time was.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Fairness {
    /// Tasks in the min/max ratio (expected ≥ [`FAIRNESS_MIN_FRACTION`] of
    /// the total).
    pub tasks: u64,
    /// Jain's index of share ratios weighted by expected time (1 if no
    /// task had expected time).
    pub jain: f64,
    /// Smallest share ratio.
    pub min_ratio: f64,
    /// Largest share ratio.
    pub max_ratio: f64,
}

impl Fairness {
    /// Over the fair-share population of `tasks`.
    pub fn of(tasks: &[TaskReport]) -> Fairness {
        let pop: Vec<(f64, f64)> = tasks
            .iter()
            .filter_map(|t| t.expected_ns.map(|e| (t.runtime_ns as f64, e)))
            .filter(|(_, e)| *e > 0.0)
            .collect();
        let sum_a: f64 = pop.iter().map(|p| p.0).sum();
        let sum_e: f64 = pop.iter().map(|p| p.1).sum();
        let sum_a2e: f64 = pop.iter().map(|(a, e)| a * a / e).sum();
        let jain = if sum_a2e > 0.0 {
            sum_a * sum_a / (sum_e * sum_a2e)
        } else {
            1.0
        };
        let big: Vec<f64> = pop
            .iter()
            .filter(|(_, e)| *e >= FAIRNESS_MIN_FRACTION * sum_e)
            .map(|(a, e)| a / e)
            .collect();
        Fairness {
            tasks: big.len() as u64,
            jain,
            min_ratio: if big.is_empty() {
                0.0
            } else {
                big.iter().copied().fold(f64::INFINITY, f64::min)
            },
            max_ratio: big.iter().copied().fold(0.0, f64::max),
        }
    }
}

/// Everything [`Metrics`](super::Metrics) computed for a run.
#[derive(Clone, Debug, PartialEq)]
pub struct MetricsReport {
    /// End of the run.
    pub end_ns: u64,
    /// CPUs.
    pub nr_cpus: u32,
    /// Total busy time.
    pub busy_ns: u64,
    /// busy / (end × CPUs).
    pub utilization: f64,
    /// Fairness vs weight.
    pub fairness: Fairness,
    /// Event counts.
    pub counts: Counters,
    /// All wakeup latencies.
    pub wakeup_latency: LatencySummary,
    /// All run delays.
    pub run_delay: LatencySummary,
    /// Per CPU.
    pub cpus: Vec<CpuReport>,
    /// Per task, in task-id order.
    pub tasks: Vec<TaskReport>,
    /// Per group, by name.
    pub groups: Vec<GroupReport>,
    /// Per DSQ, by id.
    pub dsqs: Vec<DsqReport>,
    /// Callback counts by op name (ops in declaration order).
    pub ops: Vec<(&'static str, u64)>,
    /// sched_ext exits seen.
    pub exits: Vec<ExitSeen>,
    /// Enable-state changes `(time, state)`.
    pub states: Vec<(u64, &'static str)>,
}

fn opt(v: Option<f64>) -> Value {
    v.map_or(Value::Null, |x| json!(x))
}

impl MetricsReport {
    /// Busy CPUs on average (busy / end): the sum of all task shares.
    pub fn busy_cpus(&self) -> f64 {
        ratio(self.busy_ns as f64, self.end_ns as f64)
    }

    /// The report's `metrics` section (see `scxsim::report`).
    pub fn to_json(&self) -> Value {
        let c = &self.counts;
        json!({
            "end_ns": self.end_ns,
            "nr_cpus": self.nr_cpus,
            "totals": {
                "busy_ns": self.busy_ns,
                "busy_cpus": self.busy_cpus(),
                "utilization": self.utilization,
                "context_switches": c.context_switches,
                "voluntary_switches": c.voluntary_switches,
                "involuntary_switches": c.involuntary_switches,
                "idle_switches": c.idle_switches,
                "wakings": c.wakings,
                "wakeups": c.wakeups,
                "wakeups_new": c.wakeups_new,
                "migrations": c.migrations,
                "tasks_created": c.tasks_created,
                "task_exits": c.task_exits,
                "op_calls": c.op_calls,
                "kicks": c.kicks,
                "breaker_kicks": c.breaker_kicks,
                "kicks_delivered": c.kicks_delivered,
                "dispatch_rounds": c.dispatch_rounds,
                "watchdog_checks": c.watchdog_checks,
                "switch_mismatches": c.switch_mismatches,
                "wakeup_latency": self.wakeup_latency.to_json(),
                "run_delay": self.run_delay.to_json(),
            },
            "fairness": {
                "tasks": self.fairness.tasks,
                "jain": self.fairness.jain,
                "min_share_ratio": self.fairness.min_ratio,
                "max_share_ratio": self.fairness.max_ratio,
            },
            "cpus": self.cpus.iter().map(|c| json!({
                "cpu": c.cpu,
                "busy_ns": c.busy_ns,
                "idle_ns": c.idle_ns,
                "utilization": c.utilization,
                "switches": c.switches,
            })).collect::<Vec<_>>(),
            "tasks": self.tasks.iter().map(task_json).collect::<Vec<_>>(),
            "groups": self.groups.iter().map(|g| json!({
                "group": g.group,
                "tasks": g.tasks,
                "runtime_ns": g.runtime_ns,
                "run_delay": g.run_delay.to_json(),
                "wakeup_latency": g.wakeup_latency.to_json(),
            })).collect::<Vec<_>>(),
            "dsqs": self.dsqs.iter().map(|d| json!({
                "id": d.id,
                "name": d.name,
                "max_depth": d.max_depth,
                "final_depth": d.final_depth,
                "changes": d.changes,
            })).collect::<Vec<_>>(),
            "ops": self.ops.iter().map(|(o, n)| ((*o).to_string(), json!(n))).collect::<serde_json::Map<_, _>>(),
            "scx_exits": self.exits.iter().map(|e| json!({
                "at_ns": e.at_ns,
                "kind": e.kind,
                "exit_code": e.exit_code,
                "reason": e.reason,
                "msg": e.msg,
            })).collect::<Vec<_>>(),
        })
    }

    /// A readable summary (about 30 lines).
    pub fn summary(&self) -> String {
        summary::summary(self)
    }
}

fn task_json(t: &TaskReport) -> Value {
    json!({
        "pid": t.pid,
        "comm": t.comm,
        "group": t.group,
        "prio": t.prio,
        "weight": t.weight,
        "rt": t.rt,
        "kthread": t.kthread,
        "runtime_ns": t.runtime_ns,
        "share": t.share,
        "expected_ns": opt(t.expected_ns),
        "expected_share": opt(t.expected_share),
        "share_ratio": opt(t.share_ratio),
        "run_delay": t.run_delay.to_json(),
        "wakeup_latency": t.wakeup_latency.to_json(),
        "migrations": t.migrations,
        "voluntary_switches": t.voluntary_switches,
        "involuntary_switches": t.involuntary_switches,
        "wakeups": t.wakeups,
        "exited": t.exited,
    })
}
