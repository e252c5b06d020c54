//! Helpers shared by the scheduler integration tests: a recording event
//! sink, running a built-in tool on a workload, and reading the final
//! kernel.

#![allow(dead_code)]

use scx_kernel::Kernel;
use scx_machine::Topology;
use scx_observe::{Event, Sink};
use scx_workload::Workload;
use scxsim::run::{run_with_sink, RunConfig, RunResult};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

/// Every `(time, event)` the kernel emitted, shared with the test.
#[derive(Clone, Default)]
pub struct Recorder(pub Rc<RefCell<Vec<(u64, Event)>>>);

impl Sink for Recorder {
    fn event(&mut self, time: u64, ev: &Event) {
        self.0.borrow_mut().push((time, ev.clone()));
    }
}

/// What a test run produced.
pub struct Outcome {
    /// The run's result (final kernel included).
    pub res: RunResult,
    /// The loader's stdout.
    pub out: String,
    /// The loader's stderr.
    pub err: String,
    /// Every event.
    pub events: Vec<(u64, Event)>,
}

/// A run configuration for built-in scheduler `sched` with `args` on `cpus`
/// flat CPUs running `w` for `duration` ns.
pub fn config(sched: &str, args: &[&str], cpus: usize, w: Workload, duration: u64) -> RunConfig {
    let mut cfg = RunConfig::new(sched, args.iter().map(|s| s.to_string()).collect());
    cfg.topo = Topology::flat(cpus).expect("topology");
    cfg.workload = Arc::new(w);
    cfg.duration = duration;
    cfg
}

/// Runs `cfg` recording every event.
pub fn run(cfg: &RunConfig) -> Outcome {
    let rec = Recorder::default();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let res = run_with_sink(cfg, &mut out, &mut err, Some(Box::new(rec.clone())))
        .unwrap_or_else(|e| panic!("run failed: {e}"));
    let events = rec.0.borrow().clone();
    Outcome {
        res,
        out: String::from_utf8(out).expect("utf8 stdout"),
        err: String::from_utf8(err).expect("utf8 stderr"),
        events,
    }
}

/// Runs `cfg` without recording events.
pub fn run_quiet(cfg: &RunConfig) -> Outcome {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let res =
        run_with_sink(cfg, &mut out, &mut err, None).unwrap_or_else(|e| panic!("run failed: {e}"));
    Outcome {
        res,
        out: String::from_utf8(out).expect("utf8 stdout"),
        err: String::from_utf8(err).expect("utf8 stderr"),
        events: Vec::new(),
    }
}

/// The tids of the live-or-dead tasks whose `comm` starts with `prefix`.
pub fn tasks_named(k: &Kernel, prefix: &str) -> Vec<u32> {
    k.tasks
        .iter()
        .filter(|t| t.comm.starts_with(prefix))
        .map(|t| t.tid)
        .collect()
}

/// `argv` for a tool from string literals.
pub fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

/// A kernel with `cpus` flat CPUs running `w`, with built-in tool `name`
/// (flags `args`) attached at 20 ms as the loader would, stepped until the
/// attach completed. For tests that inspect the kernel mid-run.
pub fn attached(name: &str, args: &[&str], cpus: usize, w: Workload) -> Kernel {
    let mut k = Kernel::new(
        scx_kernel::config::KernelConfig::default(),
        Topology::flat(cpus).expect("topology"),
        1,
    );
    k.boot(Some(Arc::new(w)), 1).expect("boot");
    k.run_until(20_000_000);
    let tool = scx_scheds::tool::make_tool(name, &self::args(args)).expect("tool");
    k.attach(tool.scheduler(&k, false)).expect("load");
    while k.attach_result().is_none() {
        k.step();
    }
    assert_eq!(k.attach_result(), Some(0), "attach failed");
    k
}

/// `sum_exec_runtime` of every task whose `comm` starts with `prefix`, by
/// tid.
pub fn runtimes(k: &Kernel, prefix: &str) -> BTreeMap<u32, u64> {
    k.tasks
        .iter()
        .filter(|t| t.comm.starts_with(prefix))
        .map(|t| (t.tid, t.sum_exec_runtime))
        .collect()
}
