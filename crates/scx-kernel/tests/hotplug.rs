//! CPU hotplug: an offline CPU is emptied by `balance_push()` and then runs
//! nothing; a pinned task loses its affinity with the kernel's message; a
//! CPU that comes back takes work again; sched_ext sees `ops.cpu_offline()`
//! / `ops.cpu_online()` with the runqueue's online flag already updated, or
//! exits with the hotplug restart code when the scheduler lacks them.

mod common;

use common::*;
use scx_kernel::consts::*;
use scx_kernel::ext::exit::{SCX_ECODE_ACT_RESTART, SCX_ECODE_RSN_HOTPLUG, SCX_EXIT_UNREG_KERN};
use scx_kernel::ops::*;
use scx_machine::clock::NSEC_PER_MSEC as MS;
use scx_machine::Topology;
use scx_observe::{Event, Op};
use scx_workload::{TaskSpec, TimedAction};
use std::cell::RefCell;
use std::rc::Rc;

/// Four CPUs, eight hogs, CPU 3 offline at 100 ms and back at 300 ms.
fn hotplug_machine(extra: Vec<TaskSpec>) -> (scx_kernel::Kernel, Rec) {
    let mut tasks: Vec<TaskSpec> = (0..8).map(|i| hog(&format!("h{i}"))).collect();
    tasks.extend(extra);
    let mut w = workload(tasks);
    w.actions = vec![
        (100 * MS, TimedAction::CpuOffline(3)),
        (300 * MS, TimedAction::CpuOnline(3)),
    ];
    machine_with(quiet_cfg(), Topology::flat(4).unwrap(), w)
}

/// Time of the first log line containing `needle`.
fn log_time(k: &scx_kernel::Kernel, needle: &str) -> Option<u64> {
    k.log
        .iter()
        .find(|(_, l)| l.contains(needle))
        .map(|(t, _)| *t)
}

/// Switches onto `cpu` of non-idle tasks in `[from, to)`.
fn switches_on(k: &scx_kernel::Kernel, rec: &Rec, cpu: u32, from: u64, to: u64) -> usize {
    rec.events()
        .iter()
        .filter(|(t, e)| {
            *t >= from
                && *t < to
                && matches!(e, Event::Switch { cpu: c, next, .. }
                    if *c == cpu && !k.task(*next).is_idle())
        })
        .count()
}

#[test]
fn an_offline_cpu_is_emptied_and_runs_nothing_until_it_returns() {
    let (mut k, rec) = hotplug_machine(vec![]);
    k.run_until(600 * MS);
    let down = log_time(&k, "smpboot: CPU 3 is now offline").expect("CPU 3 went offline");
    let up = log_time(&k, "smpboot: Booting Node 0 Processor 3").expect("CPU 3 came back");
    assert!(
        (100 * MS..110 * MS).contains(&down),
        "offline took until {down}"
    );
    assert_eq!(up, 300 * MS);
    assert_eq!(
        switches_on(&k, &rec, 3, down, up),
        0,
        "CPU 3 ran tasks while offline"
    );
    assert!(
        switches_on(&k, &rec, 3, up, 600 * MS) > 0,
        "CPU 3 never ran again"
    );
    // No hog was lost: each ran both before and after the offline period.
    for i in 0..8 {
        let t = tid(&k, &format!("h{i}"));
        assert!(k.task(t).on_rq, "h{i} is not runnable");
    }
}

#[test]
fn a_task_pinned_to_the_outgoing_cpu_loses_its_affinity() {
    let pinned = hog("pinned").cpus(scx_machine::Cpumask::of(3));
    let (mut k, rec) = hotplug_machine(vec![pinned]);
    k.run_until(200 * MS);
    let p = tid(&k, "pinned");
    let pid = k.task(p).pid;
    let line = format!("process {pid} (pinned) no longer affine to cpu3");
    assert!(log_time(&k, &line).is_some(), "log: {:?}", k.log);
    assert_eq!(k.task(p).cpus, k.topo.all_cpus());
    let ran_elsewhere = rec.events().iter().any(|(t, e)| {
        *t > 100 * MS && matches!(e, Event::Switch { next, cpu, .. } if *next == p && *cpu != 3)
    });
    assert!(ran_elsewhere, "the pinned task did not run on another CPU");
}

/// Records `cpu_online`/`cpu_offline` calls with the online state the
/// scheduler sees at that moment; with `idle_of`, also implements
/// `ops.update_idle()` (keeping the built-in idle masks) and records its
/// calls for that CPU with their time.
struct HotplugSched {
    inner: TestSched,
    seen: Rc<RefCell<Vec<String>>>,
    idle_of: Option<(i32, IdleCalls)>,
}

/// `ops.update_idle()` calls seen: (time, idle).
type IdleCalls = Rc<RefCell<Vec<(u64, bool)>>>;

impl Scheduler for HotplugSched {
    fn info(&self) -> OpsInfo {
        let mut i = self.inner.info();
        i.implemented.insert(Op::CpuOnline);
        i.implemented.insert(Op::CpuOffline);
        if self.idle_of.is_some() {
            i.implemented.insert(Op::UpdateIdle);
            i.flags |= SCX_OPS_KEEP_BUILTIN_IDLE;
        }
        i
    }
    fn update_idle(&mut self, cx: &mut Cx, cpu: i32, idle: bool) {
        if let Some((c, calls)) = &self.idle_of {
            if *c == cpu {
                calls.borrow_mut().push((cx.ktime_get_ns(), idle));
            }
        }
    }
    fn init(&mut self, cx: &mut Cx) -> i32 {
        self.inner.init(cx)
    }
    fn enqueue(&mut self, cx: &mut Cx, p: Task, f: u64) {
        self.inner.enqueue(cx, p, f)
    }
    fn dispatch(&mut self, cx: &mut Cx, cpu: i32, prev: Option<Task>) {
        self.inner.dispatch(cx, cpu, prev)
    }
    fn cpu_online(&mut self, cx: &mut Cx, cpu: i32) {
        let online = cx.get_online_cpumask().test(cpu as usize);
        self.seen
            .borrow_mut()
            .push(format!("online {cpu} {online}"));
    }
    fn cpu_offline(&mut self, cx: &mut Cx, cpu: i32) {
        let online = cx.get_online_cpumask().test(cpu as usize);
        self.seen
            .borrow_mut()
            .push(format!("offline {cpu} {online}"));
    }
}

#[test]
fn sched_ext_gets_cpu_offline_then_cpu_online() {
    let (mut k, rec) = hotplug_machine(vec![]);
    k.run_until(20 * MS);
    let seen = Rc::new(RefCell::new(Vec::new()));
    attach(
        &mut k,
        HotplugSched {
            inner: TestSched::new(&[Op::Enqueue, Op::Dispatch]),
            seen: seen.clone(),
            idle_of: None,
        },
    );
    k.run_until(600 * MS);
    // 6.12: ops.cpu_offline() runs while the CPU is still online (only
    // inactive); ops.cpu_online() once it is online again.
    assert_eq!(*seen.borrow(), vec!["offline 3 true", "online 3 true"]);
    assert_eq!(k.scx.exit_kind, 0, "the scheduler exited");
    assert_eq!(k.rqs[3].scx.flags & SCX_RQ_ONLINE, SCX_RQ_ONLINE);
    let down = log_time(&k, "is now offline").unwrap();
    assert_eq!(switches_on(&k, &rec, 3, down, 300 * MS), 0);
    assert!(k.scx.hotplug_seq >= 2);
}

/// A CPU that comes back goes through the scheduler once, as its hotplug
/// thread sleeps (kernel/cpu.c runs the online steps in `cpuhp/N` on that
/// CPU): the switch to idle marks it idle, notifies `ops.update_idle()`,
/// and the default CPU selection then wakes tasks onto it. Without that, a
/// scheduler whose tasks wait in a shared DSQ would never use it again.
#[test]
fn a_cpu_back_online_is_idle_for_select_cpu_and_takes_wakeups() {
    // 3 CPUs' worth of 2 ms run / 2 ms sleep work on 4 CPUs.
    let tasks = (0..6).map(|i| run_sleep(&format!("w{i}"), 2 * MS, 2 * MS));
    let mut w = workload(tasks.collect());
    w.actions = vec![
        (100 * MS, TimedAction::CpuOffline(3)),
        (300 * MS, TimedAction::CpuOnline(3)),
    ];
    let (mut k, rec) = machine_with(quiet_cfg(), Topology::flat(4).unwrap(), w);
    k.run_until(20 * MS);
    let calls = Rc::new(RefCell::new(Vec::new()));
    let sched = HotplugSched {
        inner: TestSched::new(&[Op::Enqueue, Op::Dispatch]),
        seen: Rc::default(),
        idle_of: Some((3, calls.clone())),
    };
    attach(&mut k, sched);
    k.run_until(600 * MS);
    assert_eq!(k.scx.exit_kind, 0, "the scheduler exited");
    let after: Vec<_> = calls
        .borrow()
        .iter()
        .filter(|(t, _)| *t >= 300 * MS)
        .copied()
        .collect();
    let first = after.first().copied();
    assert!(
        matches!(first, Some((t, true)) if t < 301 * MS),
        "CPU 3 did not report idle when it came up: {after:?}"
    );
    let ran = switches_on(&k, &rec, 3, 300 * MS, 600 * MS);
    let on_cpu0 = switches_on(&k, &rec, 0, 300 * MS, 600 * MS);
    assert!(
        ran * 2 > on_cpu0,
        "CPU 3 ran {ran} tasks after coming back, CPU 0 {on_cpu0}"
    );
}

#[test]
fn a_scheduler_without_hotplug_ops_exits_with_the_restart_code() {
    let (mut k, _rec) = hotplug_machine(vec![]);
    k.run_until(20 * MS);
    let s = TestSched::full();
    let log = s.log.clone();
    attach(&mut k, s);
    k.run_until(200 * MS);
    let exit = k.scx.last_exit.clone().expect("the scheduler exited");
    assert_eq!(exit.info.kind, SCX_EXIT_UNREG_KERN);
    assert_eq!(
        exit.info.exit_code,
        SCX_ECODE_ACT_RESTART | SCX_ECODE_RSN_HOTPLUG
    );
    assert_eq!(exit.info.msg, "cpu 3 going offline, exiting scheduler");
    assert_eq!(
        *log.borrow(),
        vec![format!(
            "exit {SCX_EXIT_UNREG_KERN} cpu 3 going offline, exiting scheduler"
        )]
    );
    // Every task is back in the fair class; CPU 3 still went offline.
    assert!(k
        .tasks
        .iter()
        .all(|t| t.class != scx_kernel::task::Class::Ext));
    assert!(log_time(&k, "smpboot: CPU 3 is now offline").is_some());
}

#[test]
fn sysrq_s_reverts_every_task_to_the_fair_class() {
    let mut w = workload((0..4).map(|i| hog(&format!("h{i}"))).collect());
    w.actions = vec![(100 * MS, TimedAction::SysrqS)];
    let (mut k, _rec) = machine_with(quiet_cfg(), Topology::flat(2).unwrap(), w);
    k.run_until(20 * MS);
    attach(&mut k, TestSched::full());
    k.run_until(200 * MS);
    let exit = k.scx.last_exit.clone().expect("disabled");
    assert_eq!(exit.info.kind, scx_kernel::ext::exit::SCX_EXIT_SYSRQ);
    assert_eq!(exit.info.reason, "disabled by sysrq-S");
    let sysrq = log_time(&k, "sysrq: Disable sched_ext and revert all tasks to CFS");
    assert_eq!(sysrq, Some(100 * MS));
    assert!(k
        .tasks
        .iter()
        .all(|t| t.class != scx_kernel::task::Class::Ext));
}

#[test]
fn sysrq_s_before_any_scheduler_says_so() {
    let mut w = workload(vec![hog("h")]);
    w.actions = vec![(10 * MS, TimedAction::SysrqS)];
    let (mut k, _rec) = machine_with(quiet_cfg(), Topology::flat(2).unwrap(), w);
    k.run_until(20 * MS);
    assert!(log_time(&k, "sched_ext: BPF scheduler not yet used").is_some());
}
