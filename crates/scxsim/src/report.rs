//! The JSON report (`--report FILE.json`).
//!
//! Schema `scxsim-report/1`:
//!
//! * `config`: the run's inputs (scheduler and its flags, topology, CPUs,
//!   workload, seed, duration, kernel knobs).
//! * `exits`: every scheduler instance's exit, in order: `scheduler`,
//!   `kind` (e.g. `SCX_EXIT_ERROR_STALL`), `kind_value` (1026), `exit_code`,
//!   `reason`, `msg`, `backtrace`, `claimed_at_ns`, `disabled_at_ns`, `dump`.
//! * `exit`: the last of them, or null.
//! * `totals`: simulated ns, events, context switches, schedules, wakeups,
//!   forks, `ops.dispatch()` calls, dispatch-loop breaker firings, callbacks.
//! * `cpus`: per CPU, `busy_ns` and `utilization` (busy / simulated time).
//! * `tasks`: per task, `pid`, `comm`, `runtime_ns`, voluntary and
//!   involuntary switches, migrations.
//! * `host`: facts about the machine scxsim ran on (`wall_ns`): the only
//!   part that differs between two runs with the same inputs.

use crate::run::{RunConfig, RunResult};
use scx_kernel::ext::exit::{exit_kind_name, ExitRecord};
use serde_json::{json, Value};

/// Report schema identifier.
pub const SCHEMA: &str = "scxsim-report/1";

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

/// Builds the report.
pub fn build(cfg: &RunConfig, res: &RunResult) -> Value {
    let k = &res.kernel;
    let kc = &cfg.kernel;
    let cpus: Vec<Value> = (0..k.nr_cpus())
        .map(|c| {
            let busy = k.cpu_busy_ns(c);
            json!({
                "cpu": c,
                "busy_ns": busy,
                "utilization": if res.sim_ns > 0 { busy as f64 / res.sim_ns as f64 } else { 0.0 },
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
        "host": { "wall_ns": res.wall_ns },
    })
}

/// Writes the report to `path` atomically (temporary file then rename), so
/// a failed run never leaves a half-written report.
pub fn write(path: &std::path::Path, v: &Value) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    let text = serde_json::to_string_pretty(v).map_err(std::io::Error::other)?;
    std::fs::write(&tmp, text + "\n")?;
    std::fs::rename(&tmp, path)
}
