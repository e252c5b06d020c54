//! Helpers for the safety-net tests (errors.rs, exits.rs, lockups.rs): a
//! scheduler whose every callback can be hooked ([`Probe`]), the kernel's
//! exit reasons written out from ext.c, and the checks every scx exit must
//! pass (the exit record, the disable log lines, `ops.exit()` called once and
//! last, every task back on the fair class, conservation).
//!
//! Include with `mod common;` then
//! `#[path = "common/errors_util.rs"] mod errors_util;`.
#![allow(dead_code, missing_docs)]

use crate::common::*;
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_kernel::task::Class;
use scx_kernel::Kernel;
use scx_machine::Cpumask;
use scx_observe::Event;
use scx_workload::TaskSpec;
use std::cell::RefCell;
use std::rc::Rc;

/// `SCX_EXIT_*` values (ext.c:29-41), written out rather than taken from
/// the model.
pub const EXIT_UNREG: u32 = 64;
pub const EXIT_UNREG_BPF: u32 = 65;
pub const EXIT_UNREG_KERN: u32 = 66;
pub const EXIT_SYSRQ: u32 = 67;
pub const EXIT_ERROR: u32 = 1024;
pub const EXIT_ERROR_BPF: u32 = 1025;
pub const EXIT_ERROR_STALL: u32 = 1026;

/// `scx_exit_reason()` (ext.c:4672-4692).
pub fn reason(kind: u32) -> &'static str {
    match kind {
        EXIT_UNREG => "unregistered from user space",
        EXIT_UNREG_BPF => "unregistered from BPF",
        EXIT_UNREG_KERN => "unregistered from the main kernel",
        EXIT_SYSRQ => "disabled by sysrq-S",
        EXIT_ERROR => "runtime error",
        EXIT_ERROR_BPF => "scx_bpf_error",
        EXIT_ERROR_STALL => "runnable task stall",
        _ => "<UNKNOWN>",
    }
}

/// One callback invocation as the hook sees it.
#[derive(Clone, Debug)]
pub struct Call {
    pub op: Op,
    /// The task argument (`p`, `from` for yield), if any.
    pub task: Option<Task>,
    /// The CPU argument (`dispatch`, `cpu_release`, `update_idle`, ...),
    /// else the CPU executing the callback.
    pub cpu: i32,
    /// `prev_cpu` of `select_cpu`, else -1.
    pub prev_cpu: i32,
    /// Flags argument (`enq_flags`, `wake_flags`, `deq_flags`), `runnable`
    /// of `stopping`, `fork` of `init_task`, else 0.
    pub arg: u64,
}

/// The hook: return `Some(v)` to replace the default behaviour of the op
/// (and return `v` from ops with a return value), `None` to run it.
pub type Hook = Box<dyn FnMut(&mut Cx, &Call) -> Option<i64>>;

/// A BPF timer callback: the timer's id.
pub type TimerHook = Box<dyn FnMut(&mut Cx, u64)>;

/// What the probe saw, shared with the test.
#[derive(Default, Debug)]
pub struct ProbeLog {
    /// Every `ops.exit()` info, in order.
    pub exits: Vec<ExitInfo>,
}

/// Values a hook records for the test (hooks must not assert: a panic in a
/// callback is itself turned into an scx error).
#[derive(Clone, Default, Debug)]
pub struct Notes(pub Rc<RefCell<Vec<String>>>);

impl Notes {
    pub fn push(&self, s: impl Into<String>) {
        self.0.borrow_mut().push(s.into());
    }
    pub fn get(&self) -> Vec<String> {
        self.0.borrow().clone()
    }
    pub fn first(&self) -> Option<String> {
        self.0.borrow().first().cloned()
    }
    pub fn len(&self) -> usize {
        self.0.borrow().len()
    }
    pub fn is_empty(&self) -> bool {
        self.0.borrow().is_empty()
    }
}

/// A scheduler whose behaviour is a global FIFO over user DSQ [`DSQ`]
/// (`init` creates it, `enqueue` dispatches there, `dispatch` consumes it)
/// unless the hook takes over a callback.
pub struct Probe {
    pub info: OpsInfo,
    pub hook: Hook,
    pub log: Rc<RefCell<ProbeLog>>,
    /// Called when a BPF timer armed with `Cx::timer_start` fires.
    pub on_timer: Option<TimerHook>,
    /// The state digest reported to the lockup model (`None`: unknown, no
    /// fast-forwarding). Hooks with state keep it up to date.
    pub digest: Option<Rc<std::cell::Cell<u64>>>,
}

impl Probe {
    /// A probe implementing `ops` plus `init` and `exit`.
    pub fn new(ops: &[Op]) -> Probe {
        let mut all = ops.to_vec();
        all.extend([Op::Init, Op::Exit]);
        Probe {
            info: OpsInfo::new("test", &all),
            hook: Box::new(|_, _| None),
            log: Default::default(),
            on_timer: None,
            digest: None,
        }
    }

    /// The FIFO with the task lifecycle callbacks.
    pub fn fifo() -> Probe {
        Probe::new(&[
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
        ])
    }

    pub fn hook(mut self, f: impl FnMut(&mut Cx, &Call) -> Option<i64> + 'static) -> Probe {
        self.hook = Box::new(f);
        self
    }

    pub fn with(mut self, op: Op) -> Probe {
        self.info.implemented.insert(op);
        self
    }

    pub fn flags(mut self, f: u64) -> Probe {
        self.info.flags |= f;
        self
    }

    pub fn timeout_ms(mut self, ms: u32) -> Probe {
        self.info.timeout_ms = ms;
        self
    }

    pub fn batch(mut self, n: u32) -> Probe {
        self.info.dispatch_max_batch = n;
        self
    }

    pub fn on_timer(mut self, f: impl FnMut(&mut Cx, u64) + 'static) -> Probe {
        self.on_timer = Some(Box::new(f));
        self
    }

    /// A constant digest: the hooks keep no state that matters.
    pub fn digest(mut self) -> Probe {
        self.digest = Some(Default::default());
        self
    }

    fn call(&mut self, cx: &mut Cx, op: Op, task: Option<Task>, cpu: i32, arg: u64) -> Option<i64> {
        let c = Call {
            op,
            task,
            cpu: if cpu < 0 { cx.smp_processor_id() } else { cpu },
            prev_cpu: -1,
            arg,
        };
        (self.hook)(cx, &c)
    }
}

impl Scheduler for Probe {
    fn info(&self) -> OpsInfo {
        self.info.clone()
    }

    fn select_cpu(&mut self, cx: &mut Cx, p: Task, prev_cpu: i32, wake_flags: u64) -> i32 {
        let c = Call {
            op: Op::SelectCpu,
            task: Some(p),
            cpu: cx.smp_processor_id(),
            prev_cpu,
            arg: wake_flags,
        };
        match (self.hook)(cx, &c) {
            Some(v) => v as i32,
            None => prev_cpu,
        }
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        if self.call(cx, Op::Enqueue, Some(p), -1, enq_flags).is_none() {
            cx.dispatch(p, DSQ, SCX_SLICE_DFL, enq_flags);
        }
    }

    fn dequeue(&mut self, cx: &mut Cx, p: Task, deq_flags: u64) {
        self.call(cx, Op::Dequeue, Some(p), -1, deq_flags);
    }

    fn dispatch(&mut self, cx: &mut Cx, cpu: i32, prev: Option<Task>) {
        if self.call(cx, Op::Dispatch, prev, cpu, 0).is_none() {
            cx.consume(DSQ);
        }
    }

    fn tick(&mut self, cx: &mut Cx, p: Task) {
        self.call(cx, Op::Tick, Some(p), -1, 0);
    }

    fn runnable(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        self.call(cx, Op::Runnable, Some(p), -1, enq_flags);
    }

    fn running(&mut self, cx: &mut Cx, p: Task) {
        self.call(cx, Op::Running, Some(p), -1, 0);
    }

    fn stopping(&mut self, cx: &mut Cx, p: Task, runnable: bool) {
        self.call(cx, Op::Stopping, Some(p), -1, u64::from(runnable));
    }

    fn quiescent(&mut self, cx: &mut Cx, p: Task, deq_flags: u64) {
        self.call(cx, Op::Quiescent, Some(p), -1, deq_flags);
    }

    fn yield_(&mut self, cx: &mut Cx, from: Task, _to: Option<Task>) -> bool {
        self.call(cx, Op::Yield, Some(from), -1, 0)
            .is_some_and(|v| v != 0)
    }

    fn set_weight(&mut self, cx: &mut Cx, p: Task, weight: u32) {
        self.call(cx, Op::SetWeight, Some(p), -1, u64::from(weight));
    }

    fn set_cpumask(&mut self, cx: &mut Cx, p: Task, _cpumask: &Cpumask) {
        self.call(cx, Op::SetCpumask, Some(p), -1, 0);
    }

    fn update_idle(&mut self, cx: &mut Cx, cpu: i32, idle: bool) {
        self.call(cx, Op::UpdateIdle, None, cpu, u64::from(idle));
    }

    fn cpu_acquire(&mut self, cx: &mut Cx, cpu: i32) {
        self.call(cx, Op::CpuAcquire, None, cpu, 0);
    }

    fn cpu_release(&mut self, cx: &mut Cx, cpu: i32, args: &CpuReleaseArgs) {
        self.call(
            cx,
            Op::CpuRelease,
            Some(args.task),
            cpu,
            u64::from(args.reason),
        );
    }

    fn init_task(&mut self, cx: &mut Cx, p: Task, args: &InitTaskArgs) -> i32 {
        self.call(cx, Op::InitTask, Some(p), -1, u64::from(args.fork))
            .map_or(0, |v| v as i32)
    }

    fn exit_task(&mut self, cx: &mut Cx, p: Task, args: &ExitTaskArgs) {
        self.call(cx, Op::ExitTask, Some(p), -1, u64::from(args.cancelled));
    }

    fn enable(&mut self, cx: &mut Cx, p: Task) {
        self.call(cx, Op::Enable, Some(p), -1, 0);
    }

    fn disable(&mut self, cx: &mut Cx, p: Task) {
        self.call(cx, Op::Disable, Some(p), -1, 0);
    }

    fn dump(&mut self, cx: &mut Cx, _dctx: &DumpCtx) {
        self.call(cx, Op::Dump, None, -1, 0);
    }

    fn dump_cpu(&mut self, cx: &mut Cx, _dctx: &DumpCtx, cpu: i32, idle: bool) {
        self.call(cx, Op::DumpCpu, None, cpu, u64::from(idle));
    }

    fn dump_task(&mut self, cx: &mut Cx, _dctx: &DumpCtx, p: Task) {
        self.call(cx, Op::DumpTask, Some(p), -1, 0);
    }

    fn cgroup_init(&mut self, cx: &mut Cx, cgrp: Cgroup, _args: &CgroupInitArgs) -> i32 {
        self.call(cx, Op::CgroupInit, None, -1, u64::from(cgrp.0))
            .map_or(0, |v| v as i32)
    }

    fn cgroup_prep_move(&mut self, cx: &mut Cx, p: Task, _from: Cgroup, to: Cgroup) -> i32 {
        self.call(cx, Op::CgroupPrepMove, Some(p), -1, u64::from(to.0))
            .map_or(0, |v| v as i32)
    }

    fn cpu_online(&mut self, cx: &mut Cx, cpu: i32) {
        self.call(cx, Op::CpuOnline, None, cpu, 0);
    }

    fn cpu_offline(&mut self, cx: &mut Cx, cpu: i32) {
        self.call(cx, Op::CpuOffline, None, cpu, 0);
    }

    fn init(&mut self, cx: &mut Cx) -> i32 {
        match self.call(cx, Op::Init, None, -1, 0) {
            Some(v) => v as i32,
            None => cx.create_dsq(DSQ, -1),
        }
    }

    fn exit(&mut self, cx: &mut Cx, info: &ExitInfo) {
        self.log.borrow_mut().exits.push(info.clone());
        self.call(cx, Op::Exit, None, -1, u64::from(info.kind));
    }

    fn timer_fired(&mut self, cx: &mut Cx, timer: u64) {
        if let Some(f) = self.on_timer.as_mut() {
            f(cx, timer);
        }
    }

    fn state_digest(&self) -> Option<u64> {
        self.digest.as_ref().map(|d| d.get())
    }
}

/// Runs a probe on a quiet machine with `cpus` CPUs and `tasks`: boots,
/// runs 10 ms under the fair class, attaches, then runs until `until`.
pub struct Sim {
    pub k: Kernel,
    pub rec: Rec,
    pub log: Rc<RefCell<ProbeLog>>,
}

pub fn start(cpus: usize, tasks: Vec<TaskSpec>, probe: Probe) -> Sim {
    let (mut k, rec) = machine(cpus, tasks);
    k.run_until(10 * MS);
    let log = probe.log.clone();
    attach(&mut k, probe);
    Sim { k, rec, log }
}

pub fn run_probe(cpus: usize, tasks: Vec<TaskSpec>, probe: Probe, until: u64) -> Sim {
    let mut s = start(cpus, tasks, probe);
    s.k.run_until(until);
    s
}

/// Two hogs that never sleep and one task that runs 1 ms every 3 ms.
pub fn std_tasks() -> Vec<TaskSpec> {
    vec![hog("h0"), hog("h1"), run_sleep("rs", MS, 3 * MS)]
}

/// The pid of the (first) task named `comm`, live or not.
pub fn task_pid(k: &Kernel, comm: &str) -> u32 {
    k.task(tid_any(k, comm)).pid
}

/// `<comm>[<pid>]` of the (first) task named `comm`.
pub fn cp(k: &Kernel, comm: &str) -> String {
    format!("{comm}[{}]", task_pid(k, comm))
}

/// The exit claims seen in the event stream, in order.
pub fn claims(rec: &Rec) -> Vec<(u64, u32, String)> {
    rec.events()
        .into_iter()
        .filter_map(|(t, e)| match e {
            Event::ScxExit { kind, msg, .. } => Some((t, kind, msg)),
            _ => None,
        })
        .collect()
}

/// Kernel log lines (without time).
pub fn log_lines(k: &Kernel) -> Vec<String> {
    k.log.iter().map(|(_, l)| l.clone()).collect()
}

/// Asserts that the scheduler exited once with `kind` and `msg`, checks
/// everything the kernel does on the way out (safety.md §5), and that the
/// machine keeps running every workload task on the fair class.
pub fn assert_exit(s: &mut Sim, kind: u32, msg: &str) {
    assert_exit_code(s, kind, 0, msg)
}

/// [`assert_exit`] with an exit code.
pub fn assert_exit_code(s: &mut Sim, kind: u32, code: i64, msg: &str) {
    let k = &mut s.k;
    let e = k
        .scx
        .last_exit
        .clone()
        .unwrap_or_else(|| panic!("no exit; expected kind {kind} ({msg})"));
    assert_eq!(
        (e.info.kind, e.info.msg.as_str()),
        (kind, msg),
        "exit kind/msg (reason {:?})",
        e.info.reason
    );
    assert_eq!(e.info.reason, reason(kind), "reason of kind {kind}");
    assert_eq!(e.info.exit_code, code, "exit code");
    assert_eq!(e.name, "test");
    assert!(e.claimed_at <= e.disabled_at);

    // First exit wins: exactly one claim, this one.
    let cl = claims(&s.rec);
    assert_eq!(cl.len(), 1, "exit claims: {cl:?}");
    assert_eq!((cl[0].1, cl[0].2.as_str()), (kind, msg));

    // Backtrace and dump only for error kinds (safety.md §2.1, §7).
    if kind >= EXIT_ERROR {
        // (Whether the backtrace has frames is checked by exits.rs.)
        let head = format!("triggered exit kind {kind}:\n  {} ({msg})\n", reason(kind));
        assert!(
            e.info.dump.contains(&head),
            "dump header {head:?} not in:\n{}",
            e.info.dump
        );
        assert!(e.info.dump.contains("\nBacktrace:\n"), "{}", e.info.dump);
        assert!(e.info.dump.contains("\nCPU states\n----------\n"));
    } else {
        assert!(e.info.bt.is_empty(), "no backtrace for kind {kind}");
        assert!(e.info.dump.is_empty(), "no dump for kind {kind}");
    }

    // The disable work's log lines (ext.c:4794-4804).
    let lines = log_lines(k);
    let first = format!(
        "sched_ext: BPF scheduler \"test\" disabled ({})",
        reason(kind)
    );
    let i = lines
        .iter()
        .position(|l| *l == first)
        .unwrap_or_else(|| panic!("no {first:?} in {lines:#?}"));
    if kind >= EXIT_ERROR && !msg.is_empty() {
        assert_eq!(lines.get(i + 1), Some(&format!("sched_ext: test: {msg}")));
    } else {
        let m = format!("sched_ext: test: {msg}");
        assert!(!lines.contains(&m), "graceful exits do not log the msg");
    }

    // ops.exit() exactly once, with the exit info, after the log lines and
    // after every per-task disable/exit_task, and nothing after it.
    let exits = s.log.borrow().exits.clone();
    assert_eq!(exits.len(), 1, "ops.exit() calls");
    assert_eq!(exits[0], e.info, "ops.exit() info");
    let evs = s.rec.events();
    let exit_at = evs
        .iter()
        .position(|(_, ev)| matches!(ev, Event::OpCall { op: Op::Exit, .. }))
        .expect("ops.exit() call");
    let log_at = evs
        .iter()
        .position(|(_, ev)| matches!(ev, Event::Log { line } if *line == first))
        .expect("disable log line");
    assert!(log_at < exit_at, "log line before ops.exit()");
    let disabling = evs
        .iter()
        .position(|(_, ev)| matches!(ev, Event::ScxState { state: "disabling" }))
        .expect("disabling");
    assert!(disabling < log_at);
    for (_, ev) in &evs[exit_at + 1..] {
        assert!(
            !matches!(ev, Event::OpCall { .. }),
            "callback after ops.exit(): {ev:?}"
        );
    }
    assert!(matches!(
        evs[exit_at..]
            .iter()
            .find(|(_, ev)| matches!(ev, Event::ScxState { .. }))
            .map(|(_, ev)| ev),
        Some(Event::ScxState { state: "disabled" })
    ));
    assert_eq!(k.scx.enable_state.name(), "disabled");
    assert!(!k.scx.enabled);

    assert_all_fair(k);
}

/// No task lost: conservation holds, no live task is left on the ext
/// class, and every workload task still runs (gets CPU time on the fair
/// class) afterwards.
pub fn assert_all_fair(k: &mut Kernel) {
    k.check_conservation();
    for t in k.tasks.iter().filter(|t| !t.freed) {
        assert_ne!(t.class, Class::Ext, "{}[{}] still on ext", t.comm, t.pid);
        assert!(t.scx.dsq.is_none(), "{}[{}] still on a DSQ", t.comm, t.pid);
    }
    let users: Vec<_> = k
        .tasks
        .iter()
        .filter(|t| !t.freed && t.kind == scx_kernel::task::TaskKind::User && t.comm != "init")
        .map(|t| (t.tid, t.sum_exec_runtime))
        .collect();
    let until = k.now + 300 * MS;
    k.run_until(until);
    k.check_conservation();
    for (tid, before) in users {
        let t = k.task(tid);
        if t.freed || t.state == scx_kernel::task::TaskState::Dead {
            continue;
        }
        // Back on the class of its policy: fair, or RT for RT policies.
        let want = if t.policy.is_rt() {
            Class::Rt
        } else {
            Class::Fair
        };
        assert_eq!(
            t.class, want,
            "{}[{}] not on its policy's class",
            t.comm, t.pid
        );
        assert!(
            t.sum_exec_runtime > before,
            "{}[{}] got no CPU time after the exit",
            t.comm,
            t.pid
        );
    }
}

/// A task pinned to `cpus`.
pub fn pinned(t: TaskSpec, cpu: usize) -> TaskSpec {
    t.cpus(Cpumask::of(cpu))
}

/// The DSQ the task that raised the first exit landed on right after the
/// claim (the first DSQ insertion after the `ScxExit` event, before any
/// further callback), as its trace id.
pub fn fallback_dsq(rec: &Rec) -> Option<u64> {
    let evs = rec.events();
    let i = evs
        .iter()
        .position(|(_, e)| matches!(e, Event::ScxExit { .. }))?;
    for (_, e) in &evs[i + 1..] {
        match e {
            Event::DsqDepth { dsq, .. } => return Some(*dsq),
            Event::OpCall { .. } => return None,
            _ => {}
        }
    }
    None
}
