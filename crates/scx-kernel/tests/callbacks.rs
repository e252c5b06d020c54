//! Callback sequences and flags the kernel produces on each path, checked
//! against the behaviour spec (`../shared/spec/core.md`, section in each
//! test's comment).

mod common;

use common::*;
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_machine::Cpumask;
use scx_observe::Event;
use scx_workload::{Policy, Step, TaskSpec};

fn with_select_prev() -> TestSched {
    TestSched::full().with(Op::SelectCpu)
}

/// core.md §4.3 (fork into SCX: init_task(fork), enable, set_weight, no
/// set_cpumask; select_cpu with SCX_WAKE_FORK; first enqueue 0x88 without
/// WAKEUP/CPU_SELECTED) and §4.7 (wakeup → run → sleep: select_cpu(TTWU),
/// runnable(WAKEUP|NOCLOCK|RQ_SELECTED), enqueue, running, stopping(false),
/// quiescent(SLEEP|NOCLOCK)), §4.5 (death: quiescent(0x19), then disable and
/// exit_task(cancelled=false) when the task is freed).
#[test]
fn fork_wakeup_sleep_exit_sequence() {
    let mut t = TaskSpec::new(
        "t",
        vec![
            Step::Run(MS),
            Step::Sleep(5 * MS),
            Step::Run(MS),
            Step::Exit,
        ],
    );
    t.start_delay = 10 * MS;
    let (mut k, rec) = machine(2, vec![t]);
    attach(&mut k, with_select_prev());
    rec.clear();
    k.run_until(50 * MS);
    let p = tid_any(&k, "t");
    let ops = rec.ops_of(p);
    let expect: Vec<(Op, u64)> = vec![
        (Op::InitTask, 1),
        (Op::Enable, 0),
        (Op::SetWeight, 100),
        (Op::SelectCpu, SCX_WAKE_FORK),
        (Op::Runnable, ENQUEUE_NOCLOCK | ENQUEUE_INITIAL),
        (Op::Enqueue, 0x88),
        (Op::Running, 0),
        (Op::Stopping, 0),
        (Op::Quiescent, DEQUEUE_SLEEP | DEQUEUE_NOCLOCK),
        (Op::SelectCpu, SCX_WAKE_TTWU),
        (Op::Runnable, 0x409),
        (Op::Enqueue, 0x409),
        (Op::Running, 0),
        (Op::Stopping, 0),
        (Op::Quiescent, 0x19),
        (Op::Disable, 0),
        (Op::ExitTask, 0),
    ];
    assert_eq!(ops, expect);
}

/// core.md §4.7 / §8: slice expiry with another task waiting:
/// stopping(true) then enqueue(p, 0).
#[test]
fn slice_expiry_reenqueues_with_zero_flags() {
    let a = hog("a").cpus(Cpumask::of(0));
    let b = hog("b").cpus(Cpumask::of(0));
    let (mut k, rec) = machine(2, vec![a, b]);
    attach(&mut k, TestSched::full());
    rec.clear();
    k.run_until(200 * MS);
    let a = tid(&k, "a");
    let seq = rec.ops_of(a);
    let names: Vec<_> = seq.iter().map(|(o, _)| *o).collect();
    let pos = names
        .windows(3)
        .position(|w| w == [Op::Running, Op::Stopping, Op::Enqueue])
        .expect("running, stopping, enqueue");
    assert_eq!(seq[pos + 1].1, 1, "stopping(runnable=true)");
    assert_eq!(seq[pos + 2].1, 0, "enqueue flags 0 on slice expiry");
    // Each runs a 20 ms slice in turn: ~5 switches in 200 ms each.
    let runs = names.iter().filter(|o| **o == Op::Running).count();
    assert!((3..=7).contains(&runs), "{runs} runs");
}

/// core.md §7.2 step 4 and §8: with its slice left, `prev` is kept without
/// calling ops.dispatch; at slice expiry with nothing else to run it is kept
/// (BAL_KEEP), slice refilled, with no stopping/running pair.
#[test]
fn keep_prev_without_callbacks() {
    let h = hog("h").cpus(Cpumask::of(1));
    let (mut k, rec) = machine(2, vec![h]);
    let mut s = TestSched::full().with(Op::Tick);
    // Reschedule on every tick: each balance then sees slice left.
    s.info.implemented.insert(Op::Tick);
    attach(&mut k, KickOnTick(s));
    k.run_until(30 * MS);
    rec.clear();
    k.run_until(130 * MS);
    let h = tid(&k, "h");
    let seq = rec.op_names(h);
    assert!(!seq.contains(&"running"), "{seq:?}");
    assert!(!seq.contains(&"stopping"), "{seq:?}");
    let dispatches = rec
        .all_ops()
        .iter()
        .filter(|(cpu, op, _, _)| *cpu == 1 && *op == Op::Dispatch)
        .count();
    // ~100 kicks (one per tick) but ops.dispatch only at the 5 slice expiries.
    let kicks = rec.count(|e| matches!(e, Event::KickDelivered { target: 1, .. }));
    assert!(kicks >= 90, "{kicks} kicks");
    assert!((4..=6).contains(&dispatches), "{dispatches} dispatch calls");
}

/// A TestSched whose ops.tick kicks the task's own CPU.
struct KickOnTick(TestSched);

impl Scheduler for KickOnTick {
    fn info(&self) -> OpsInfo {
        self.0.info()
    }
    fn init(&mut self, cx: &mut Cx) -> i32 {
        self.0.init(cx)
    }
    fn enqueue(&mut self, cx: &mut Cx, p: Task, f: u64) {
        self.0.enqueue(cx, p, f)
    }
    fn dispatch(&mut self, cx: &mut Cx, cpu: i32, prev: Option<Task>) {
        self.0.dispatch(cx, cpu, prev)
    }
    fn tick(&mut self, cx: &mut Cx, p: Task) {
        let cpu = cx.task_cpu(p);
        cx.kick_cpu(cpu, 0);
    }
}

/// core.md §13.1: with SCX_OPS_ENQ_LAST the last runnable task is
/// re-enqueued with SCX_ENQ_LAST; put on the local DSQ it runs again at
/// once (a new ops.running).
#[test]
fn enq_last_reenqueues_the_last_task() {
    let h = hog("h").cpus(Cpumask::of(1));
    let (mut k, rec) = machine(2, vec![h]);
    let mut s = TestSched::full().flags(SCX_OPS_ENQ_LAST);
    s.enqueue = Some(Box::new(|cx, p, f| {
        let dsq = if f & SCX_ENQ_LAST != 0 {
            SCX_DSQ_LOCAL
        } else {
            DSQ
        };
        cx.dispatch(p, dsq, SCX_SLICE_DFL, f);
    }));
    attach(&mut k, s);
    k.run_until(30 * MS);
    rec.clear();
    k.run_until(75 * MS);
    let h = tid(&k, "h");
    let seq = rec.ops_of(h);
    let i = seq
        .iter()
        .position(|(o, f)| *o == Op::Enqueue && *f == SCX_ENQ_LAST)
        .expect("enqueue with SCX_ENQ_LAST");
    assert_eq!(seq[i - 1], (Op::Stopping, 1));
    assert_eq!(seq[i + 1].0, Op::Running);
}

/// core.md §5.4: a direct dispatch from ops.select_cpu skips ops.enqueue.
#[test]
fn direct_dispatch_from_select_cpu_skips_enqueue() {
    let t = TaskSpec::new("t", vec![forever(vec![Step::Run(MS), Step::Sleep(3 * MS)])]);
    let (mut k, rec) = machine(2, vec![t]);
    let mut s = with_select_prev();
    s.select_cpu = Some(Box::new(|cx, p, prev, _| {
        cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
        prev
    }));
    attach(&mut k, s);
    rec.clear();
    k.run_until(40 * MS);
    let seq = rec.op_names(tid(&k, "t"));
    assert!(
        seq.windows(3)
            .any(|w| w == ["select_cpu", "runnable", "running"]),
        "{seq:?}"
    );
    assert!(!seq.contains(&"enqueue"), "{seq:?}");
}

/// core.md §5.4: SCX_DSQ_LOCAL_ON of another CPU from ops.enqueue is
/// deferred, then the task migrates and runs there (no runnable/quiescent
/// for the migration, §4.7).
#[test]
fn remote_local_on_from_enqueue_migrates() {
    let t = TaskSpec::new("t", vec![forever(vec![Step::Run(MS), Step::Sleep(3 * MS)])]);
    let (mut k, rec) = machine(4, vec![t]);
    let mut s = with_select_prev();
    s.select_cpu = Some(Box::new(|_, _, _, _| 0));
    s.enqueue = Some(Box::new(|cx, p, f| {
        let dsq = if cx.task(p).comm() == "t" {
            SCX_DSQ_LOCAL_ON | 3
        } else {
            DSQ
        };
        cx.dispatch(p, dsq, SCX_SLICE_DFL, f)
    }));
    attach(&mut k, s);
    rec.clear();
    k.run_until(40 * MS);
    assert!(k.scx.last_exit.is_none(), "{:?}", k.scx.last_exit);
    let p = tid(&k, "t");
    let runs_on: Vec<u32> = rec
        .all_ops()
        .iter()
        .filter(|(_, op, t, _)| *op == Op::Running && *t == Some(p))
        .map(|(cpu, ..)| *cpu)
        .collect();
    assert!(runs_on.len() >= 5);
    assert!(runs_on.iter().all(|c| *c == 3), "{runs_on:?}");
    let seq = rec.op_names(p);
    assert_eq!(
        seq.iter().filter(|n| **n == "runnable").count(),
        seq.iter().filter(|n| **n == "enqueue").count(),
        "no extra runnable for the migration: {seq:?}"
    );
}

/// core.md §5.1 / ops.md §1: without ops.select_cpu the built-in selection
/// finds an idle CPU and dispatches directly to its local DSQ, skipping
/// ops.enqueue.
#[test]
fn default_select_cpu_dispatches_to_idle_cpu() {
    let t = TaskSpec::new("t", vec![forever(vec![Step::Run(MS), Step::Sleep(3 * MS)])]);
    let (mut k, rec) = machine(4, vec![t]);
    attach(&mut k, TestSched::full());
    rec.clear();
    k.run_until(40 * MS);
    let seq = rec.op_names(tid(&k, "t"));
    assert!(seq.contains(&"running"), "{seq:?}");
    assert!(!seq.contains(&"enqueue"), "{seq:?}");
}

/// core.md §5.3 case 6: without ops.enqueue tasks go to the global DSQ and
/// CPUs consume it automatically.
#[test]
fn no_enqueue_op_uses_global_dsq() {
    let a = hog("a").cpus(Cpumask::of(0));
    let b = hog("b").cpus(Cpumask::of(0));
    let (mut k, rec) = machine(2, vec![a, b]);
    attach(&mut k, TestSched::new(&[Op::Running, Op::Stopping]));
    rec.clear();
    k.run_until(100 * MS);
    let ga = SCX_DSQ_GLOBAL;
    assert!(rec.count(|e| matches!(e, Event::DsqDepth { dsq, .. } if *dsq == ga)) > 0);
    let runs = rec
        .op_names(tid(&k, "a"))
        .iter()
        .filter(|n| **n == "running")
        .count();
    assert!(runs >= 2, "a ran {runs} times");
}

/// core.md §13.2 / §5.3 case 5: an exiting task that is re-enqueued goes
/// straight to the local DSQ without ops.enqueue when SCX_OPS_ENQ_EXITING is
/// not set.
#[test]
fn exiting_task_bypasses_enqueue() {
    let dying = TaskSpec::new("dying", vec![Step::Run(MS), Step::Exit]).cpus(Cpumask::of(0));
    let other = hog("other").cpus(Cpumask::of(0));
    let mut cfg = quiet_cfg();
    cfg.cost.exit = 50 * MS;
    let w = workload(vec![dying, other]);
    let (mut k, rec) = machine_with(cfg, scx_machine::Topology::flat(2).unwrap(), w);
    let mut s = TestSched::full();
    s.enqueue = Some(Box::new(|cx, p, f| cx.dispatch(p, DSQ, 2 * MS, f)));
    attach(&mut k, s);
    rec.clear();
    k.run_until(200 * MS);
    let evs = rec.events();
    let p = tid_any(&k, "dying");
    let exit_at = evs
        .iter()
        .position(|(_, e)| matches!(e, Event::TaskExit { tid } if *tid == p))
        .expect("task exited");
    let after: Vec<Op> = evs[exit_at..]
        .iter()
        .filter_map(|(_, e)| match e {
            Event::OpCall {
                op, task: Some(t), ..
            } if *t == p => Some(*op),
            _ => None,
        })
        .collect();
    assert!(after.contains(&Op::Stopping), "{after:?}");
    assert!(!after.contains(&Op::Enqueue), "{after:?}");
    assert!(
        after.iter().filter(|o| **o == Op::Running).count() >= 2,
        "{after:?}"
    );
}

/// core.md §9.2 / §9.4: preempted by an RT task with slice left, the SCX
/// task goes back to the head of its local DSQ without ops.enqueue,
/// ops.cpu_release(reason RT) is called once, ops.cpu_acquire at the next
/// SCX balance, then the task runs again.
#[test]
fn rt_preemption_releases_and_reacquires_the_cpu() {
    let h = hog("h").cpus(Cpumask::of(0));
    let rt = TaskSpec::new(
        "rt",
        vec![forever(vec![Step::Sleep(7 * MS), Step::Run(MS)])],
    )
    .cpus(Cpumask::of(0))
    .policy(Policy::Fifo(10));
    let (mut k, rec) = machine(2, vec![h, rt]);
    let s = TestSched::full().with(Op::CpuRelease).with(Op::CpuAcquire);
    attach(&mut k, s);
    k.run_until(5 * MS);
    rec.clear();
    k.run_until(19 * MS);
    let h = tid(&k, "h");
    let seq = rec.op_names(h);
    assert!(
        seq.windows(3)
            .any(|w| w == ["running", "stopping", "running"]),
        "{seq:?}"
    );
    assert!(!seq.contains(&"enqueue"), "{seq:?}");
    let cpu0: Vec<(Op, u64)> = rec
        .all_ops()
        .iter()
        .filter(|(cpu, op, _, _)| *cpu == 0 && matches!(op, Op::CpuRelease | Op::CpuAcquire))
        .map(|(_, op, _, a)| (*op, *a))
        .collect();
    assert_eq!(cpu0[0], (Op::CpuRelease, 0));
    assert_eq!(cpu0[1], (Op::CpuAcquire, 0));
}

/// core.md §9.1: SCX_ENQ_PREEMPT into a local DSQ zeroes the running SCX
/// task's slice and preempts it; it is then re-enqueued through
/// ops.enqueue(p, 0).
#[test]
fn enq_preempt_preempts_the_running_task() {
    let h = hog("h").cpus(Cpumask::of(0));
    let w = TaskSpec::new("w", vec![forever(vec![Step::Sleep(5 * MS), Step::Run(US)])])
        .cpus(Cpumask::of(0));
    let (mut k, rec) = machine(2, vec![h, w]);
    let mut s = TestSched::full();
    s.enqueue = Some(Box::new(|cx, p, f| {
        if cx.task(p).comm() == "w" {
            cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, f | SCX_ENQ_PREEMPT);
        } else {
            cx.dispatch(p, DSQ, SCX_SLICE_DFL, f);
        }
    }));
    attach(&mut k, s);
    k.run_until(3 * MS);
    rec.clear();
    k.run_until(30 * MS);
    let h = tid(&k, "h");
    let seq = rec.ops_of(h);
    let names: Vec<Op> = seq.iter().map(|(o, _)| *o).collect();
    let i = names
        .windows(2)
        .position(|w| w == [Op::Stopping, Op::Enqueue])
        .expect("stopping then enqueue");
    assert_eq!(seq[i + 1].1, 0);
    assert!(
        names.iter().filter(|o| **o == Op::Enqueue).count() >= 4,
        "{names:?}"
    );
}

/// core.md §10: sched_yield() without ops.yield zeroes the slice, so the
/// task is re-enqueued through ops.enqueue(p, 0) when another task waits.
#[test]
fn yield_without_op_zeroes_slice() {
    let y =
        TaskSpec::new("y", vec![forever(vec![Step::Run(MS), Step::Yield])]).cpus(Cpumask::of(0));
    let h = hog("h").cpus(Cpumask::of(0));
    let (mut k, rec) = machine(2, vec![y, h]);
    attach(&mut k, TestSched::full());
    rec.clear();
    k.run_until(100 * MS);
    let seq = rec.ops_of(tid(&k, "y"));
    let names: Vec<Op> = seq.iter().map(|(o, _)| *o).collect();
    let i = names
        .windows(2)
        .position(|w| w == [Op::Stopping, Op::Enqueue])
        .expect("stopping then enqueue after a yield");
    assert_eq!(seq[i], (Op::Stopping, 1));
    assert_eq!(seq[i + 1], (Op::Enqueue, 0));
}

/// core.md §12.1: ops.update_idle(cpu, true) after a CPU puts its last task
/// and (cpu, false) before the next ops.running.
#[test]
fn update_idle_ordering() {
    let t = TaskSpec::new("t", vec![forever(vec![Step::Run(MS), Step::Sleep(4 * MS)])])
        .cpus(Cpumask::of(1));
    let (mut k, rec) = machine(2, vec![t]);
    attach(
        &mut k,
        TestSched::full().with(Op::UpdateIdle).with(Op::SelectCpu),
    );
    rec.clear();
    k.run_until(30 * MS);
    let p = tid(&k, "t");
    let cpu1: Vec<(Op, Option<u32>, u64)> = rec
        .all_ops()
        .into_iter()
        .filter(|(cpu, op, t, _)| *cpu == 1 && (*op == Op::UpdateIdle || *t == Some(p)))
        .map(|(_, op, t, a)| (op, t, a))
        .filter(|(op, _, _)| matches!(op, Op::UpdateIdle | Op::Running | Op::Stopping))
        .collect();
    let w = cpu1
        .windows(4)
        .find(|w| w[0].0 == Op::Stopping)
        .expect("a full cycle on CPU 1");
    assert_eq!(w[1], (Op::UpdateIdle, None, 1), "{cpu1:?}");
    assert_eq!(w[2], (Op::UpdateIdle, None, 0), "{cpu1:?}");
    assert_eq!(w[3].0, Op::Running, "{cpu1:?}");
}

/// core.md §4.1 / §13.4: with SCX_OPS_SWITCH_PARTIAL only SCHED_EXT tasks
/// are enabled on sched_ext; every task still gets ops.init_task.
#[test]
fn partial_mode_switches_only_sched_ext_tasks() {
    let a = hog("a");
    let b = hog("b").policy(Policy::Ext);
    let (mut k, rec) = machine(2, vec![a, b]);
    k.run_until(MS);
    attach(&mut k, TestSched::full().flags(SCX_OPS_SWITCH_PARTIAL));
    let (a, b) = (tid(&k, "a"), tid(&k, "b"));
    assert!(rec.op_names(a).contains(&"init_task"));
    assert!(!rec.op_names(a).contains(&"enable"));
    assert!(rec.op_names(b).contains(&"enable"));
    assert!(k
        .log
        .iter()
        .any(|(_, l)| l == "sched_ext: BPF scheduler \"test\" enabled (partial)"));
}

/// core.md §4.6, safety.md §5: detaching runs, per SCX task, the switch out
/// (quiescent 0x0e) then ops.disable and ops.exit_task; ops.exit comes last.
#[test]
fn detach_disables_every_task_then_calls_exit() {
    let (mut k, rec) = machine(2, vec![hog("a"), run_sleep("b", MS, 2 * MS)]);
    let s = TestSched::full();
    let log = s.log.clone();
    attach(&mut k, s);
    k.run_until(50 * MS);
    rec.clear();
    k.detach();
    k.run_until(60 * MS);
    let b = tid(&k, "b");
    let seq = rec.ops_of(b);
    let tail: Vec<Op> = seq.iter().rev().take(2).map(|(o, _)| *o).collect();
    assert_eq!(tail, vec![Op::ExitTask, Op::Disable]);
    let all = rec.all_ops();
    assert_eq!(all.last().map(|o| o.1), Some(Op::Exit));
    assert_eq!(log.borrow().as_slice(), ["exit 64 "]);
    assert!(k
        .log
        .iter()
        .any(|(_, l)| l
            == "sched_ext: BPF scheduler \"test\" disabled (unregistered from user space)"));
    assert_eq!(k.task(b).class, scx_observe::Class::Fair);
}
