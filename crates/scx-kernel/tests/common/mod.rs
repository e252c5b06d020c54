//! Test harness for the kernel model: a quiet machine, a recording event
//! sink, a configurable test scheduler, and helpers to read callback
//! sequences out of the event stream.
#![allow(dead_code, missing_docs)]

use scx_kernel::config::KernelConfig;
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_kernel::Kernel;
use scx_machine::clock::{NSEC_PER_MSEC, NSEC_PER_USEC};
use scx_machine::Topology;
use scx_observe::{Event, Sink, Tid};
use scx_workload::{Repeat, Step, TaskSpec, Workload};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

pub const MS: u64 = NSEC_PER_MSEC;
pub const US: u64 = NSEC_PER_USEC;

/// Records every event.
#[derive(Clone, Default)]
pub struct Rec(pub Rc<RefCell<Vec<(u64, Event)>>>);

impl Sink for Rec {
    fn event(&mut self, t: u64, ev: &Event) {
        self.0.borrow_mut().push((t, ev.clone()));
    }
}

impl Rec {
    pub fn events(&self) -> Vec<(u64, Event)> {
        self.0.borrow().clone()
    }

    pub fn clear(&self) {
        self.0.borrow_mut().clear();
    }

    /// Callbacks involving task `tid`, in order, as (op, arg).
    pub fn ops_of(&self, tid: Tid) -> Vec<(Op, u64)> {
        self.0
            .borrow()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::OpCall {
                    op,
                    task: Some(t),
                    arg,
                    ..
                } if *t == tid => Some((*op, *arg)),
                _ => None,
            })
            .collect()
    }

    /// Names of the callbacks involving `tid`.
    pub fn op_names(&self, tid: Tid) -> Vec<&'static str> {
        self.ops_of(tid).iter().map(|(o, _)| o.name()).collect()
    }

    /// Every callback, as (cpu, op, task, arg).
    pub fn all_ops(&self) -> Vec<(u32, Op, Option<Tid>, u64)> {
        self.0
            .borrow()
            .iter()
            .filter_map(|(_, e)| match e {
                Event::OpCall { cpu, op, task, arg } => Some((*cpu, *op, *task, *arg)),
                _ => None,
            })
            .collect()
    }

    pub fn count(&self, f: impl Fn(&Event) -> bool) -> usize {
        self.0.borrow().iter().filter(|(_, e)| f(e)).count()
    }
}

/// A kernel config without background kernel-thread activity, so callback
/// sequences only show the workload's tasks.
pub fn quiet_cfg() -> KernelConfig {
    KernelConfig {
        housekeeping_period: 0,
        rcu_period: 0,
        ..Default::default()
    }
}

pub fn forever(body: Vec<Step>) -> Step {
    Step::Loop {
        repeat: Repeat::Forever,
        body,
    }
}

/// A booted quiet machine with `cpus` CPUs running `tasks`, recording.
pub fn machine(cpus: usize, tasks: Vec<TaskSpec>) -> (Kernel, Rec) {
    machine_with(quiet_cfg(), Topology::flat(cpus).unwrap(), workload(tasks))
}

pub fn workload(tasks: Vec<TaskSpec>) -> Workload {
    Workload {
        name: "test".into(),
        tasks,
        ..Default::default()
    }
}

pub fn machine_with(cfg: KernelConfig, topo: Topology, w: Workload) -> (Kernel, Rec) {
    let mut k = Kernel::new(cfg, topo, 7);
    let rec = Rec::default();
    k.set_sink(Box::new(rec.clone()));
    k.boot(Some(Arc::new(w)), 7).expect("boot");
    (k, rec)
}

/// Attaches `s` and runs until the enable work completed.
pub fn attach(k: &mut Kernel, s: impl Scheduler + 'static) {
    k.attach(Box::new(s)).expect("attach");
    while k.attach_result().is_none() {
        k.step();
    }
    assert_eq!(k.attach_result(), Some(0), "attach failed");
}

pub fn tid(k: &Kernel, comm: &str) -> Tid {
    k.tasks
        .iter()
        .find(|t| t.comm == comm && !t.freed)
        .unwrap_or_else(|| panic!("no task {comm}"))
        .tid
}

/// A task by name, freed or not.
pub fn tid_any(k: &Kernel, comm: &str) -> Tid {
    k.tasks.iter().find(|t| t.comm == comm).expect("task").tid
}

pub type EnqueueFn = Box<dyn FnMut(&mut Cx, Task, u64)>;
pub type DispatchFn = Box<dyn FnMut(&mut Cx, i32, Option<Task>)>;
pub type SelectFn = Box<dyn FnMut(&mut Cx, Task, i32, u64) -> i32>;
pub type ReleaseFn = Box<dyn FnMut(&mut Cx, i32, &CpuReleaseArgs)>;

/// A scheduler whose ops are configurable: by default a global FIFO over
/// user DSQ 0 (`enqueue` dispatches there, `dispatch` consumes it).
pub struct TestSched {
    pub info: OpsInfo,
    pub enqueue: Option<EnqueueFn>,
    pub dispatch: Option<DispatchFn>,
    pub select_cpu: Option<SelectFn>,
    pub yield_ret: bool,
    pub cpu_release: Option<ReleaseFn>,
    pub log: Rc<RefCell<Vec<String>>>,
}

pub const DSQ: u64 = 0;

impl TestSched {
    /// A FIFO scheduler implementing `ops` (plus init).
    pub fn new(ops: &[Op]) -> TestSched {
        let mut all = ops.to_vec();
        all.push(Op::Init);
        TestSched {
            info: OpsInfo::new("test", &all),
            enqueue: None,
            dispatch: None,
            select_cpu: None,
            yield_ret: false,
            cpu_release: None,
            log: Default::default(),
        }
    }

    /// Every op implemented, FIFO behaviour.
    pub fn full() -> TestSched {
        TestSched::new(&[
            Op::Enqueue,
            Op::Dequeue,
            Op::Dispatch,
            Op::Runnable,
            Op::Running,
            Op::Stopping,
            Op::Quiescent,
            Op::InitTask,
            Op::ExitTask,
            Op::Enable,
            Op::Disable,
            Op::SetWeight,
            Op::SetCpumask,
            Op::Exit,
        ])
    }

    pub fn flags(mut self, f: u64) -> TestSched {
        self.info.flags |= f;
        self
    }

    pub fn with(mut self, op: Op) -> TestSched {
        self.info.implemented.insert(op);
        self
    }
}

impl Scheduler for TestSched {
    fn info(&self) -> OpsInfo {
        self.info.clone()
    }

    fn init(&mut self, cx: &mut Cx) -> i32 {
        cx.create_dsq(DSQ, -1)
    }

    fn select_cpu(&mut self, cx: &mut Cx, p: Task, prev_cpu: i32, wake_flags: u64) -> i32 {
        match self.select_cpu.as_mut() {
            Some(f) => f(cx, p, prev_cpu, wake_flags),
            None => prev_cpu,
        }
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        match self.enqueue.as_mut() {
            Some(f) => f(cx, p, enq_flags),
            None => cx.dispatch(p, DSQ, SCX_SLICE_DFL, enq_flags),
        }
    }

    fn dispatch(&mut self, cx: &mut Cx, cpu: i32, prev: Option<Task>) {
        match self.dispatch.as_mut() {
            Some(f) => f(cx, cpu, prev),
            None => {
                cx.consume(DSQ);
            }
        }
    }

    fn yield_(&mut self, _cx: &mut Cx, _from: Task, _to: Option<Task>) -> bool {
        self.yield_ret
    }

    fn cpu_release(&mut self, cx: &mut Cx, cpu: i32, args: &CpuReleaseArgs) {
        if let Some(f) = self.cpu_release.as_mut() {
            f(cx, cpu, args)
        }
    }

    fn exit(&mut self, _cx: &mut Cx, info: &ExitInfo) {
        self.log
            .borrow_mut()
            .push(format!("exit {} {}", info.kind, info.msg));
    }
}

/// A task that runs `run` then sleeps `sleep`, forever.
pub fn run_sleep(name: &str, run: u64, sleep: u64) -> TaskSpec {
    TaskSpec::new(
        name,
        vec![forever(vec![Step::Run(run), Step::Sleep(sleep)])],
    )
}

/// A task that never sleeps.
pub fn hog(name: &str) -> TaskSpec {
    TaskSpec::new(name, vec![forever(vec![Step::Run(1_000_000_000)])])
}
