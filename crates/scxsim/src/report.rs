//! The JSON report (`--report FILE.json`).
//!
//! Schema `scxsim-report/2` (`/1` plus `metrics`; every `/1` field is
//! unchanged):
//!
//! * `config`: the run's inputs (scheduler and its flags, topology, CPUs,
//!   workload, seed, duration, kernel knobs).
//! * `exits`: every scheduler instance's exit, in order: `scheduler`,
//!   `kind` (e.g. `SCX_EXIT_ERROR_STALL`), `kind_value` (1026), `exit_code`,
//!   `reason`, `msg`, `backtrace`, `claimed_at_ns`, `disabled_at_ns`, `dump`.
//! * `exit`: the last of them, or null.
//! * `totals`: simulated ns, events, context switches, schedules, wakeups,
//!   forks, `ops.dispatch()` calls, dispatch-loop breaker firings, callbacks
//!   (the kernel's own counters).
//! * `cpus`: per CPU, `busy_ns` and `utilization` (busy / end of the run),
//!   from the kernel's runqueue accounting (`rq.busy_ns` plus the running
//!   task's time up to the end of the run, see [`kernel_busy_ns`]).
//! * `tasks`: per task, `pid`, `comm`, `runtime_ns` (the kernel's
//!   `sum_exec_runtime`), voluntary and involuntary switches (the kernel's
//!   `nvcsw`/`nivcsw`, which count every `__schedule()` of the task, also
//!   those that picked it again), migrations.
//! * `metrics`: null unless the run was observed (any of `--report`,
//!   `--html`, `--summary` observes it), else the event-stream metrics of
//!   `scx_observe::metrics` (definitions there):
//!   * `end_ns` (the end of the run: simulated time or the last event,
//!     whichever is later), `nr_cpus`;
//!   * `totals`: `busy_ns`, `busy_cpus`, `utilization`, event counts
//!     (`context_switches`, `voluntary_switches`, `involuntary_switches`,
//!     `idle_switches`,
//!     `wakings`, `wakeups`, `wakeups_new`, `migrations`, `tasks_created`,
//!     `task_exits`, `op_calls`, `kicks`, `breaker_kicks`,
//!     `kicks_delivered`, `dispatch_rounds`, `watchdog_checks`,
//!     `switch_mismatches`), and `wakeup_latency` / `run_delay`
//!     distributions (`count`, `mean_ns`, `p50_ns`, `p90_ns`, `p99_ns`,
//!     `max_ns`);
//!   * `fairness`: `jain` (time-weighted), `min_share_ratio`,
//!     `max_share_ratio`, `tasks`;
//!   * `cpus`: `cpu`, `busy_ns`, `idle_ns`, `utilization`, `switches`;
//!   * `tasks` (idle tasks excluded): `pid`, `comm`, `group`, `prio`,
//!     `weight`, `rt`, `runtime_ns` (on-CPU time from `sched_switch`),
//!     `share`, `expected_ns`, `expected_share`, `share_ratio` (null outside
//!     the fair-share population), `run_delay`, `wakeup_latency`,
//!     `migrations`, `voluntary_switches`, `involuntary_switches`,
//!     `wakeups`, `exited`;
//!   * `groups`: `group`, `tasks`, `runtime_ns`, `run_delay`,
//!     `wakeup_latency`;
//!   * `dsqs`: `id`, `name`, `max_depth`, `final_depth`, `changes`;
//!   * `ops`: callback counts by op name; `scx_exits`: the exits seen in
//!     the stream (`at_ns`, `kind`, `exit_code`, `reason`, `msg`).
//! * `host`: facts about the machine scxsim ran on (`wall_ns`): the only
//!   part that differs between two runs with the same inputs.

use crate::run::{RunConfig, RunResult};
use scx_kernel::ext::exit::{exit_kind_name, ExitRecord};
use scx_kernel::Kernel;
use scx_observe::metrics::MetricsReport;
use serde_json::{json, Value};

/// Report schema identifier.
pub const SCHEMA: &str = "scxsim-report/2";

/// A CPU's busy time by the kernel's accounting, up to `end`: the
/// runqueue's `busy_ns` (closed at each context switch) plus the running
/// non-idle task's time since it was switched in. Unlike
/// `Kernel::cpu_busy_ns` this never underflows when the last context
/// switch is later than the kernel's clock (which `run_until()` can move
/// back after the loader's detach grace period).
pub fn kernel_busy_ns(k: &Kernel, cpu: usize, end: u64) -> u64 {
    let rq = &k.rqs[cpu];
    let running = if k.task(rq.curr).is_idle() {
        0
    } else {
        end.max(k.now).saturating_sub(rq.curr_since)
    };
    rq.busy_ns + running
}

fn exit_json(e: &ExitRecord) -> Value {
    json!({
        "scheduler": e.name,
        "kind": exit_kind_name(e.info.kind),
        "kind_value": e.info.kind,
        "exit_code": e.info.exit_code,
        "reason": e.info.reason,
        "msg": e.info.msg,
        "backtrace": e.info.bt,
        "claimed_at_ns": e.claimed_at,
        "disabled_at_ns": e.disabled_at,
        "dump": e.info.dump,
    })
}

/// Builds the report without event-stream metrics.
pub fn build(cfg: &RunConfig, res: &RunResult) -> Value {
    build_with(cfg, res, None)
}

/// Builds the report, with the `metrics` section if given.
pub fn build_with(cfg: &RunConfig, res: &RunResult, metrics: Option<&MetricsReport>) -> Value {
    let k = &res.kernel;
    let kc = &cfg.kernel;
    let end = metrics.map_or(res.sim_ns, |m| m.end_ns);
    let cpus: Vec<Value> = (0..k.nr_cpus())
        .map(|c| {
            let busy = kernel_busy_ns(k, c, end);
            json!({
                "cpu": c,
                "busy_ns": busy,
                "utilization": if end > 0 { busy as f64 / end as f64 } else { 0.0 },
            })
        })
        .collect();
    let tasks: Vec<Value> = k
        .tasks
        .iter()
        .filter(|t| !t.is_idle())
        .map(|t| {
            json!({
                "pid": t.pid,
                "tgid": t.tgid,
                "comm": t.comm,
                "runtime_ns": t.sum_exec_runtime,
                "nvcsw": t.nvcsw,
                "nivcsw": t.nivcsw,
                "migrations": t.nr_migrations,
                "exited": t.freed,
            })
        })
        .collect();
    let s = &res.stats;
    json!({
        "schema": SCHEMA,
        "scxsim_version": env!("CARGO_PKG_VERSION"),
        "config": {
            "scheduler": cfg.scheduler,
            "scheduler_args": cfg.sched_args,
            "program": res.program,
            "topology": cfg.topo.spec(),
            "cpus": cfg.topo.nr_cpus(),
            "workload": cfg.workload.name,
            "seed": cfg.seed,
            "duration_ns": cfg.duration,
            "attach_at_ns": cfg.attach_at,
            "kernel": {
                "hz": kc.hz.get(),
                "dsp_max_loops": kc.dsp_max_loops,
                "dsp_max_batch": kc.dsp_max_batch,
                "slice_dfl_ns": kc.slice_dfl,
                "watchdog_thresh": kc.watchdog_thresh,
                "nmi_watchdog": kc.nmi_watchdog,
            },
        },
        "load_error": res.load_error,
        "exits": res.exits.iter().map(exit_json).collect::<Vec<_>>(),
        "exit": res.final_exit().map(exit_json),
        "totals": {
            "sim_ns": res.sim_ns,
            "events": s.events,
            "context_switches": s.context_switches,
            "schedules": s.schedules,
            "wakeups": s.wakeups,
            "forks": s.forks,
            "dispatch_calls": s.dispatch_calls,
            "dispatch_loop_breaks": s.dispatch_loop_breaks,
            "op_calls": s.op_calls,
        },
        "cpus": cpus,
        "tasks": tasks,
        "metrics": metrics.map(MetricsReport::to_json),
        "host": { "wall_ns": res.wall_ns },
    })
}

/// Writes the report to `path` atomically (temporary file then rename), so
/// a failed run never leaves a half-written report.
pub fn write(path: &std::path::Path, v: &Value) -> std::io::Result<()> {
    let tmp = crate::outputs::tmp_path(path);
    let text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    let r = std::fs::write(&tmp, text + "\n").and_then(|()| std::fs::rename(&tmp, path));
    if r.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    r
}
