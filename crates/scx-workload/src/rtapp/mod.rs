//! Reads rt-app JSON workload files, as rt-app and LISA write them, into a
//! [`Workload`].
//!
//! [rt-app](https://github.com/scheduler-tools/rt-app) is the workload
//! generator scheduler developers (and LISA) use: a JSON file describes
//! threads as sequences of events. [`load`] and [`parse`] accept those files
//! unchanged and either return the equivalent workload or one
//! [`RtAppError`] that points at the offending token
//! (`file:line:column: what was expected`); nothing is simulated then.
//! Things the IR cannot express are never silently dropped: they are
//! reported in [`Workload::warnings`], one warning per key name
//! (`file:line:column: message`, pointing at the first occurrence).
//!
//! # Accepted grammar
//!
//! JSON as rt-app's json-c reads it: comments (`/* */`, `//`), trailing
//! commas, and repeated keys (kept in file order, as rt-app's `workgen`
//! renames them). Durations are integers in microseconds; everything else
//! is checked as rt-app checks it.
//!
//! ```text
//! { "global": {...}?, "tasks": { NAME: TASK, ... }, "resources": ...? }
//! ```
//!
//! * `global`: `duration` (seconds, `-1` or any value <= 0: no limit),
//!   `default_policy`, `calibration` (accepted and ignored: scxsim's `run`
//!   already is CPU time); `pi_enabled`, `lock_pages`, `logdir`,
//!   `log_basename`, `log_size`, `ftrace`, `gnuplot`, `io_device`,
//!   `mem_buffer_size`, `cumulative_slack` are type-checked, not modelled,
//!   one warning each.
//! * `TASK`: `instance` (threads to start, default 1; 0 = only a `fork`
//!   template), `delay` (µs), `loop`, `cpus`, `policy`, `priority`,
//!   `taskgroup`, and either `phases` (an object of `PHASE`s in file order)
//!   or events directly (a single phase).
//! * `PHASE`: `loop` (default 1), `cpus`, `policy`, `priority`,
//!   `taskgroup`, then events matched **by key prefix** in file order as
//!   rt-app matches them (`run0`, `sleep1`, `run_second`, `runtime-2`...).
//! * Accepted but not modelled (one warning per key): `util_min`,
//!   `util_max`, `nodes_membind`, `membind_nodes`, `dl-runtime`,
//!   `dl-period`, `dl-deadline`, task-level `period`/`deadline` (legacy
//!   deadline parameters), `mem` and `iorun` events, the top-level
//!   `resources` table, and `prio` (which rt-app ignores; older LISA
//!   versions wrote it).
//!
//! # Mapping to the IR
//!
//! | rt-app | IR |
//! |---|---|
//! | `run: N` | `Run(N µs)` (CPU time: rt-app's calibrated loop is exact here) |
//! | `runtime: N` | `RunWall(N µs)` |
//! | `sleep: N` | `Sleep(N µs)` |
//! | `timer: {ref, period, mode}` | `Timer(id)`; `shared` unless `ref` starts with `unique` (one timer per thread); `mode` absolute if any use says so |
//! | `yield` | `Yield` |
//! | `lock`/`unlock: M` | `Lock(M)`/`Unlock(M)` |
//! | `wait: {ref: C, mutex: M}` | `Wait { C, M }` |
//! | `signal`/`broad: C` | `Signal(C)`/`Broadcast(C)` |
//! | `sync: {ref: C, mutex: M}` | `SignalWait { signal: C, wait: C, mutex: M }` |
//! | `suspend: C` | `Lock(C)`, `Wait { C, C }`, `Unlock(C)` (`""` = the task's own name) |
//! | `resume: C` | `Lock(C)`, `Broadcast(C)`, `Unlock(C)` |
//! | `barrier: B` | `Barrier(B)`, parties = sum over tasks of instances × uses, as rt-app counts |
//! | `fork: T` | `Fork(template of T)`; T also starts `instance` threads at boot |
//! | phase `loop` | `Loop { Times(n) }` (inline when 1); 0 or negative: `Forever`, as rt-app never stops those |
//! | task `loop` | `Loop` around all phases; default for ever; 0 runs no phase |
//! | phase `cpus`, `policy`/`priority`, `taskgroup` | `SetCpus`, `SetPolicy`/`SetNice`, `SetCgroup` at phase entry, when they can differ |
//! | `taskgroup: /a/b` | cgroups `/a` and `/a/b` (weight 100), created on first use |
//!
//! `suspend`/`resume` are spelt out because rt-app implements them as a
//! condition variable under a mutex of the same name: a `resume` with no
//! thread suspended is lost, whereas the IR's `Resume` would be remembered.
//!
//! Threads are named as rt-app names them: `{task}-{n}`, `n` counting the
//! threads of the whole file in order, so every instance is its own
//! `TaskSpec` (with `instances: 1`). A name longer than 15 bytes makes
//! rt-app's `pthread_setname_np()` fail, and the thread keeps the name
//! `rt-app`; so does it here, with a warning. Policies: `SCHED_OTHER`,
//! `SCHED_IDLE`, `SCHED_FIFO`, `SCHED_RR` as in rt-app (`priority` is the
//! nice value for fair policies, ignored for `SCHED_IDLE`, the RT priority
//! otherwise; defaults 0 and 10). When a task ends its phases, rt-app
//! switches it back to `SCHED_OTHER`: a final `SetPolicy(Normal)`.
//!
//! # Deliberate differences from rt-app
//!
//! * Stricter: unknown keys are errors (rt-app ignores them, so a typo such
//!   as `slep` silently changes the workload); so are negative or
//!   non-integer durations (rt-app wraps them), out-of-range CPUs,
//!   priorities and nice values (rt-app fails at run time), `wait`/`sync`/
//!   `timer` objects without `ref`/`mutex`/`period` (rt-app substitutes
//!   `"unknown"` or 0), a `fork` of an undefined task, timer modes other
//!   than `absolute`/`relative`, and more than 32768 threads.
//! * `SCHED_DEADLINE` is an error: it is not modelled, and running such a
//!   task in another class would give misleading results.
//! * `SCHED_NORMAL` (= `SCHED_OTHER`) and `SCHED_BATCH` are accepted
//!   although rt-app refuses them; `priority` is the nice value for both.
//! * A timer used with two periods becomes two timers (the IR has one period
//!   per timer); a timer with period 0 is skipped.
//! * Moving back to the root taskgroup (`"/"`) after another one is not
//!   modelled (no IR step), nor is rt-app's return to the root cgroup as a
//!   thread exits.
//! * A forked task's `delay` is ignored: rt-app counts it from the start of
//!   the run, not from the fork. Forked threads are named after their task
//!   (rt-app names them `{task}-{n}-{fork:04}`).
//! * All threads are threads of one rt-app process; the IR's
//!   `same_process` only groups the instances of one `TaskSpec`, so each
//!   thread is its own group here.
//! * rt-app creates every thread at once and lets it sleep through its
//!   `delay`; the IR's `start_delay` creates the task after the delay.
//!   rt-app also starts a timer's period from the thread's start (after its
//!   delay) rather than from the timer's first use; how `Timer` starts is
//!   the kernel model's choice.

mod checks;
mod doc;
mod error;
mod event;
mod json;
mod keys;
mod lower;
mod model;
mod resources;
mod sched;
mod task;
mod value;
mod warn;

pub use error::RtAppError;

use crate::program::Workload;
use error::{Fail, Pos};
use std::path::Path;

/// Reads the rt-app file at `path` for a machine of `nr_cpus` CPUs.
///
/// The file name in messages is `path` as given. A file that cannot be read
/// or is not UTF-8 is an error at the first byte that could not be read
/// (`1:1` for I/O errors).
pub fn load(path: &Path, nr_cpus: usize) -> Result<Workload, RtAppError> {
    let file = path.display().to_string();
    let bytes = std::fs::read(path).map_err(|e| {
        RtAppError::from_fail(
            &file,
            Fail::new(Pos::START, format!("expected a readable file: {e}")),
        )
    })?;
    let text = String::from_utf8(bytes).map_err(|e| {
        RtAppError::from_fail(&file, not_utf8(e.as_bytes(), e.utf8_error().valid_up_to()))
    })?;
    parse(&text, &file, nr_cpus)
}

/// Reads rt-app JSON `text` for a machine of `nr_cpus` CPUs; `file_name`
/// is used in messages and names the workload.
pub fn parse(text: &str, file_name: &str, nr_cpus: usize) -> Result<Workload, RtAppError> {
    let mut w = warn::Warnings::default();
    let mut wl =
        build(text, file_name, nr_cpus, &mut w).map_err(|f| RtAppError::from_fail(file_name, f))?;
    wl.warnings = w.render(file_name);
    Ok(wl)
}

/// Parses, reads, lowers and checks; warnings go to `w`.
fn build(
    text: &str,
    file_name: &str,
    nr_cpus: usize,
    w: &mut warn::Warnings,
) -> Result<Workload, Fail> {
    let root = json::parse(text)?;
    let doc = doc::read(&root, nr_cpus, w)?;
    let wl = lower::lower(&doc, &workload_name(file_name), nr_cpus, w)?;
    checks::check(&doc, w);
    // The reader checks everything itself; this is a safety net.
    wl.validate(nr_cpus)
        .map_err(|e| Fail::new(Pos::START, format!("expected a valid workload, got: {e}")))?;
    Ok(wl)
}

/// The workload's name: the file name without directories and `.json`.
fn workload_name(file_name: &str) -> String {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    base.strip_suffix(".json").unwrap_or(base).to_string()
}

/// The position of the first invalid byte of a file that is not UTF-8.
fn not_utf8(bytes: &[u8], valid_up_to: usize) -> Fail {
    let valid = String::from_utf8_lossy(&bytes[..valid_up_to]);
    let line = valid.matches('\n').count() + 1;
    let col = valid.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Fail::new(
        Pos {
            line: line.min(u32::MAX as usize) as u32,
            col: col.min(u32::MAX as usize) as u32,
        },
        "expected UTF-8 text, got an invalid byte",
    )
}
