//! scx_central on the simulated machine: where scheduling decisions are
//! made, tickless operation of the non-central CPUs, the central timer's
//! preemption, the `ops.init` CPU rule, and the loader's output.

mod common;

use common::*;
use scx_kernel::consts::*;
use scx_kernel::ops::{Cx, OpsInfo, Scheduler, Task};
use scx_kernel::Kernel;
use scx_machine::clock::{NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC};
use scx_machine::Topology;
use scx_observe::{Event, Op};
use scx_scheds::central::{Central, TIMER_INTERVAL_NS};
use scx_scheds::tool::{make_tool, with_sched};
use scx_workload::{Repeat, Step, TaskSpec, Workload};
use std::collections::BTreeMap;

const CENTRAL: u32 = 0;
const CPUS: usize = 4;

fn forever(body: Vec<Step>) -> Step {
    Step::Loop {
        repeat: Repeat::Forever,
        body,
    }
}

/// More CPU hogs than CPUs, plus tasks that sleep and wake up often.
fn busy_and_waking(nr_cpus: usize) -> Workload {
    let mut w = Workload::default();
    w.tasks.push(
        TaskSpec::new("hog", vec![forever(vec![Step::Run(NSEC_PER_SEC)])])
            .instances(2 * nr_cpus as u32),
    );
    w.tasks.push(
        TaskSpec::new(
            "waker",
            vec![forever(vec![
                Step::Run(300 * NSEC_PER_USEC),
                Step::Sleep(2 * NSEC_PER_MSEC),
            ])],
        )
        .instances(3),
    );
    w
}

/// Only CPU hogs: every non-central CPU always has something to run.
fn hogs(n: u32) -> Workload {
    let mut w = Workload::default();
    w.tasks
        .push(TaskSpec::new("hog", vec![forever(vec![Step::Run(NSEC_PER_SEC)])]).instances(n));
    w
}

fn nohz_config(args: &[&str], w: Workload, duration: u64) -> scxsim::run::RunConfig {
    let mut cfg = config("central", args, CPUS, w, duration);
    cfg.kernel.set_kv("nohz_full=1-3").expect("nohz_full knob");
    cfg
}

fn local_dsq_cpu(dsq: u64) -> Option<u32> {
    (dsq & SCX_DSQ_LOCAL_ON == SCX_DSQ_LOCAL_ON).then_some((dsq & SCX_DSQ_LOCAL_CPU_MASK) as u32)
}

/// The callback (if any) whose execution a kernel event belongs to: events
/// are emitted synchronously, so everything between an `OpCall` and the
/// end of that callback's effects (the dispatch round, the context switch,
/// the next callback) is its doing.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Window {
    None,
    Op { op: Op, cpu: u32, task: Option<u32> },
}

/// Why a non-central CPU's local DSQ grew.
#[derive(Debug, Default)]
struct Placements {
    by_central_dispatch: u64,
    by_other_dispatch: Vec<(u64, u32)>,
    by_enqueue_of_percpu_kthread: u64,
    kernel_requeue_of_prev: u64,
    unexplained: Vec<(u64, u32, Window)>,
}

fn is_percpu_kthread(k: &Kernel, tid: u32) -> bool {
    let t = k.task(tid);
    t.is_kthread() && t.cpus.weight() == 1
}

/// Classifies every growth of a non-central CPU's local DSQ while the
/// scheduler is enabled.
fn classify_placements(events: &[(u64, Event)], k: &Kernel) -> Placements {
    let mut p = Placements::default();
    let mut depth: BTreeMap<u64, u32> = BTreeMap::new();
    let mut window = Window::None;
    let mut enabled = false;
    for (t, ev) in events {
        match ev {
            Event::ScxState { state } => enabled = *state == "enabled",
            Event::OpCall { op, cpu, task, .. } => {
                window = Window::Op {
                    op: *op,
                    cpu: *cpu,
                    task: *task,
                }
            }
            Event::DispatchRound { .. } | Event::Switch { .. } => window = Window::None,
            Event::DsqDepth { dsq, depth: d } => {
                let old = depth.insert(*dsq, *d).unwrap_or(0);
                let Some(target) = local_dsq_cpu(*dsq) else {
                    continue;
                };
                if !enabled || target == CENTRAL || *d <= old {
                    continue;
                }
                match window {
                    Window::Op {
                        op: Op::Dispatch,
                        cpu,
                        ..
                    } if cpu == CENTRAL => p.by_central_dispatch += 1,
                    Window::Op {
                        op: Op::Dispatch,
                        cpu,
                        ..
                    } => p.by_other_dispatch.push((*t, cpu)),
                    Window::Op {
                        op: Op::Enqueue,
                        task: Some(tid),
                        ..
                    } if is_percpu_kthread(k, tid) => p.by_enqueue_of_percpu_kthread += 1,
                    Window::Op {
                        op: Op::Stopping,
                        cpu,
                        ..
                    } if cpu == target => p.kernel_requeue_of_prev += 1,
                    w => p.unexplained.push((*t, target, w)),
                }
            }
            _ => {}
        }
    }
    p
}

fn counters(o: &mut Outcome) -> scx_scheds::central::Counters {
    with_sched(&mut o.res.kernel, |c: &Central| c.stats.clone()).expect("central attached")
}

#[test]
fn every_decision_is_made_on_the_central_cpu() {
    let cfg = nohz_config(&[], busy_and_waking(CPUS), 3 * NSEC_PER_SEC);
    let mut o = run(&cfg);
    let c = counters(&mut o);
    // No task ever had to bounce through FALLBACK_DSQ (no affinity
    // constraints), so non-central CPUs have no work of their own to find.
    assert_eq!((c.nr_mismatches, c.nr_overflows), (0, 0), "{c:?}");
    let p = classify_placements(&o.events, &o.res.kernel);
    assert!(
        p.unexplained.is_empty(),
        "unexplained placements: {:?}",
        &p.unexplained[..p.unexplained.len().min(10)]
    );
    assert!(
        p.by_other_dispatch.is_empty(),
        "non-central ops.dispatch() placed tasks: {:?}",
        p.by_other_dispatch
    );
    assert!(p.by_central_dispatch > 300, "{p:?}");
    // ops.dispatch() on the non-central CPUs never produced work.
    for (_, ev) in &o.events {
        if let Event::DispatchRound { cpu, nr_tasks, .. } = ev {
            assert!(
                *cpu == CENTRAL || *nr_tasks == 0,
                "CPU {cpu} dispatched {nr_tasks} task(s)"
            );
        }
    }
    // ops.enqueue() placed nothing but per-CPU kthreads itself (every
    // other task went to the central queue): the design's one exception.
    assert!(p.by_enqueue_of_percpu_kthread <= c.nr_locals, "{p:?} {c:?}");
    assert_wakeups_land_on_the_central_cpu(&o.events, &o.res.kernel);
}

/// `ops.select_cpu()` answers the central CPU: every woken task that may
/// run there is queued on its runqueue. (`ops.enqueue()` itself runs on
/// whichever CPU does the wakeup or preemption, as in the kernel; it only
/// pushes the PID to the central queue.)
fn assert_wakeups_land_on_the_central_cpu(events: &[(u64, Event)], k: &Kernel) {
    let mut woken = 0;
    let mut enqueue_cpus = std::collections::BTreeSet::new();
    for (t, ev) in while_enabled(events) {
        match ev {
            Event::Wakeup {
                tid, target_cpu, ..
            } if !is_percpu_kthread(k, *tid) && !k.task(*tid).policy.is_rt() => {
                woken += 1;
                assert_eq!(
                    *target_cpu, CENTRAL,
                    "task {tid} woken onto CPU {target_cpu} at {t}"
                );
            }
            Event::OpCall {
                op: Op::Enqueue,
                cpu,
                ..
            } => {
                enqueue_cpus.insert(*cpu);
            }
            _ => {}
        }
    }
    assert!(woken > 500, "{woken} wakeups");
    assert_eq!(
        enqueue_cpus.len(),
        CPUS,
        "ops.enqueue() ran on CPUs {enqueue_cpus:?}"
    );
}

/// Busy and ticking time of one CPU.
#[derive(Clone, Copy, Debug, Default)]
struct TickCoverage {
    busy: u64,
    busy_ticking: u64,
}

impl TickCoverage {
    fn ticking_share(&self) -> f64 {
        self.busy_ticking as f64 / self.busy.max(1) as f64
    }
}

/// A booted 4-CPU kernel with `nohz_full` set to `nohz_full` (if any)
/// running workload `w`, at the loader's usual attach time.
fn booted(nohz_full: Option<&str>, w: Workload) -> Kernel {
    let mut kc = scx_kernel::config::KernelConfig::default();
    if let Some(list) = nohz_full {
        kc.set("nohz_full", list).expect("nohz_full");
    }
    let mut k = Kernel::new(kc, Topology::flat(CPUS).expect("4 CPUs"), 1);
    k.boot(Some(std::sync::Arc::new(w)), 1).expect("boot");
    k.run_until(20 * NSEC_PER_MSEC);
    k
}

/// Attaches `sched`, lets it settle for 100 ms, then measures for 2 s, per
/// CPU, how much of its busy time had the periodic tick armed.
fn tick_coverage_of(k: &mut Kernel, sched: Box<dyn Scheduler>) -> Vec<TickCoverage> {
    k.attach(sched).expect("attach");
    while k.attach_result().is_none() {
        k.step();
    }
    assert_eq!(k.attach_result(), Some(0));
    k.run_until(k.now + 100 * NSEC_PER_MSEC);
    let end = k.now + 2 * NSEC_PER_SEC;
    let mut cov = vec![TickCoverage::default(); CPUS];
    while let Some(next) = k.next_event_time().filter(|t| *t <= end) {
        let dt = next - k.now;
        for (cpu, c) in cov.iter_mut().enumerate() {
            let rq = &k.rqs[cpu];
            if !k.task(rq.curr).is_idle() {
                c.busy += dt;
                if rq.tick_armed {
                    c.busy_ticking += dt;
                }
            }
        }
        k.step();
    }
    assert!(k.scx.last_exit.is_none(), "scheduler exited");
    cov
}

/// scx_central over `nr_hogs` hogs on 4 CPUs.
fn tick_coverage(nohz_full: Option<&str>, nr_hogs: u32) -> Vec<TickCoverage> {
    let mut k = booted(nohz_full, hogs(nr_hogs));
    let tool = make_tool("central", &[]).expect("tool");
    let sched = tool.scheduler(&k, false);
    tick_coverage_of(&mut k, sched)
}

#[test]
fn non_central_cpus_run_tickless_with_nohz_full() {
    // One hog per CPU: each non-central CPU keeps its hog, alone on its
    // runqueue (see the ignored test below for more hogs than CPUs).
    let cov = tick_coverage(Some("1-3"), CPUS as u32);
    for (cpu, c) in cov.iter().enumerate() {
        assert!(c.busy > 19 * NSEC_PER_SEC / 10, "CPU {cpu} not busy: {c:?}");
    }
    // The central CPU is not nohz_full: it ticks all the time.
    assert!(cov[0].ticking_share() > 0.99, "{:?}", cov[0]);
    // The others get the tick back only for a moment after each switch
    // (until the first tick sees the infinite slice alone on the CPU).
    for (cpu, c) in cov.iter().enumerate().skip(1) {
        assert!(
            c.ticking_share() < 0.10,
            "CPU {cpu} ticked {:.1}% of its busy time",
            100.0 * c.ticking_share()
        );
    }
}

/// Runs task `a` with an infinite slice and keeps task `b`, queued on the
/// same runqueue, to itself (never dispatched); everything else goes to
/// its local DSQ with an infinite slice, preempting. `SCX_OPS_ENQ_LAST`
/// makes `a` come back through `ops.enqueue()` (and get its infinite
/// slice) when the slice it had when the scheduler was attached ends.
struct HoldB;

impl Scheduler for HoldB {
    fn info(&self) -> OpsInfo {
        let mut i = OpsInfo::new("holdb", &[Op::Enqueue]);
        i.flags = SCX_OPS_ENQ_LAST;
        i
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        if cx.task(p).comm() != "b" {
            cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_INF, enq_flags | SCX_ENQ_PREEMPT);
        }
    }
}

/// Regression (`sched_can_stop_tick()` in scx-kernel `sched/core.rs`):
/// scxsim used to refuse to stop the tick whenever `rq->nr_running > 1`.
/// The 6.12 kernel never looks at the total: it checks DL, RR and FIFO counts, then
/// asks sched_ext (`scx_can_stop_tick()`: stop iff the current task was
/// given `SCX_SLICE_INF`, because "@rq can dispatch from different DSQs,
/// so we can't tell whether it needs the tick or not by looking at
/// nr_running"), then `rq->cfs.h_nr_queued > 1` (core.c:1283-1330). Tasks
/// the BPF scheduler holds (QUEUED in ops_state) still count in the
/// runqueue's `nr_running`, so a nohz_full CPU kept ticking whenever a
/// BPF-owned task was enqueued on its runqueue (with scx_central, 8 hogs on
/// 4 CPUs: CPU 1 ticked during ~60% of its busy time instead of a few %).
///
/// Reproduction: `a` and `b` are both pinned to nohz_full CPU 1; `a` runs
/// with `SCX_SLICE_INF`, `b` stays in the BPF scheduler. The kernel stops
/// CPU 1's tick; the bug ticked 100% of the time.
#[test]
fn tick_stops_while_the_bpf_scheduler_holds_tasks_of_that_cpu() {
    let mut w = Workload::default();
    for name in ["a", "b"] {
        let spin = forever(vec![Step::Run(NSEC_PER_SEC)]);
        w.tasks
            .push(TaskSpec::new(name, vec![spin]).cpus(scx_machine::Cpumask::of(1)));
    }
    let mut k = booted(Some("1"), w);
    let cov = tick_coverage_of(&mut k, Box::new(HoldB));
    assert!(cov[1].busy > 19 * NSEC_PER_SEC / 10, "{:?}", cov[1]);
    assert!(
        cov[1].ticking_share() < 0.10,
        "CPU 1 ticked {:.1}% of its busy time",
        100.0 * cov[1].ticking_share()
    );
}

/// The same with scx_central and twice as many hogs as CPUs.
#[test]
fn central_with_queued_tasks_runs_tickless() {
    let cov = tick_coverage(Some("1-3"), 2 * CPUS as u32);
    for (cpu, c) in cov.iter().enumerate().skip(1) {
        assert!(
            c.ticking_share() < 0.10,
            "CPU {cpu} ticked {:.1}% of its busy time",
            100.0 * c.ticking_share()
        );
    }
}

#[test]
fn without_nohz_full_every_cpu_ticks() {
    for (cpu, c) in tick_coverage(None, CPUS as u32).iter().enumerate() {
        assert!(c.ticking_share() > 0.99, "CPU {cpu}: {c:?}");
    }
}

/// On-CPU spans `(cpu, task, start, end, preempted)` of non-idle tasks.
fn on_cpu_spans(events: &[(u64, Event)], idle: &[u32]) -> Vec<(u32, u32, u64, u64, bool)> {
    let mut current: BTreeMap<u32, (u32, u64)> = BTreeMap::new();
    let mut spans = Vec::new();
    for (t, ev) in events {
        let Event::Switch {
            cpu,
            prev,
            prev_state,
            next,
        } = ev
        else {
            continue;
        };
        if let Some((task, since)) = current.remove(cpu) {
            debug_assert_eq!(task, *prev);
            let preempted = *prev_state == scx_observe::PrevState::Running;
            spans.push((*cpu, task, since, *t, preempted));
        }
        if !idle.contains(next) {
            current.insert(*cpu, (*next, *t));
        }
    }
    spans
}

fn idle_tids(events: &[(u64, Event)]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::TaskNew {
                tid,
                idle_cpu: Some(_),
                ..
            } => Some(*tid),
            _ => None,
        })
        .collect()
}

/// The events between the first instance's `enabled` and `disabling`
/// state changes.
fn while_enabled(events: &[(u64, Event)]) -> &[(u64, Event)] {
    let at = |want: &str| {
        events
            .iter()
            .position(|(_, e)| matches!(e, Event::ScxState { state } if *state == want))
    };
    let on = at("enabled").expect("enabled");
    &events[on..at("disabling").unwrap_or(events.len())]
}

/// `(enabled at, disabling at)` of the first scheduler instance.
fn enabled_window(events: &[(u64, Event)]) -> (u64, u64) {
    let w = while_enabled(events);
    (w[0].0, w.last().map_or(u64::MAX, |(t, _)| *t))
}

fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v[v.len() / 2]
}

#[test]
fn central_timer_preempts_after_the_slice() {
    let slice = 5 * NSEC_PER_MSEC;
    let cfg = nohz_config(&["-s", "5000"], hogs(8), 3 * NSEC_PER_SEC);
    let o = run(&cfg);
    let idle = idle_tids(&o.events);
    let hog_tids = tasks_named(&o.res.kernel, "hog");
    // Who is on each CPU since when, to judge every timer kick.
    let mut current: BTreeMap<u32, (u32, u64)> = BTreeMap::new();
    let mut timer_kicks = 0;
    for (t, ev) in &o.events {
        match ev {
            Event::Switch { cpu, next, .. } => {
                current.insert(*cpu, (*next, *t));
            }
            Event::Kick {
                cpu,
                target,
                flags,
                breaker: false,
            } if *target != CENTRAL && flags & SCX_KICK_PREEMPT != 0 => {
                timer_kicks += 1;
                assert_eq!(
                    *cpu, CENTRAL,
                    "preempting kick of CPU {target} from CPU {cpu} at {t}"
                );
                let (task, since) = current[target];
                if !idle.contains(&task) {
                    assert!(
                        t - since >= slice,
                        "CPU {target} kicked {}us after {task} started",
                        (t - since) / 1000
                    );
                }
            }
            _ => {}
        }
    }
    assert!(timer_kicks > 1000, "only {timer_kicks} timer kicks");
    let (on, off) = enabled_window(&o.events);
    let spans: Vec<u64> = on_cpu_spans(&o.events, &idle)
        .into_iter()
        .filter(|(_, _, start, end, _)| *start > on && *end < off)
        .filter(|(cpu, task, _, _, preempted)| {
            *cpu != CENTRAL && *preempted && hog_tids.contains(task)
        })
        .map(|(_, _, start, end, _)| end - start)
        .collect();
    assert!(spans.len() > 1000, "{} spans", spans.len());
    // A hog keeps its infinite slice until the next timer run after
    // `slice` has passed: never much longer than slice + one period.
    let max = *spans.iter().max().expect("spans");
    assert!(
        max <= slice + TIMER_INTERVAL_NS + 200 * NSEC_PER_USEC,
        "a hog ran {}us",
        max / 1000
    );
    let med = median(spans);
    assert!(
        (slice..=slice + TIMER_INTERVAL_NS).contains(&med),
        "median span {}us",
        med / 1000
    );
}

#[test]
fn init_runs_on_the_enable_helper_cpu() {
    // The enable helper kthread runs ops.init(); in scxsim it sits on CPU 0.
    let o = run(&config("central", &[], 2, hogs(2), 200 * NSEC_PER_MSEC));
    let init_cpus: Vec<u32> = o
        .events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::OpCall {
                op: Op::Init, cpu, ..
            } => Some(*cpu),
            _ => None,
        })
        .collect();
    assert_eq!(init_cpus, vec![0]);
    assert_eq!(o.res.exits.len(), 1);
    assert_eq!(o.res.exits[0].info.reason, "unregistered from user space");
}

fn scx_exits(events: &[(u64, Event)]) -> Vec<(u32, String)> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            Event::ScxExit { kind, msg, .. } => Some((*kind, msg.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn init_from_a_non_central_cpu_fails() {
    let o = run(&config(
        "central",
        &["-c", "1"],
        2,
        hogs(2),
        200 * NSEC_PER_MSEC,
    ));
    assert_eq!(
        scx_exits(&o.events),
        vec![(
            scx_kernel::ext::exit::SCX_EXIT_ERROR_BPF,
            "init from non-central CPU".to_string()
        )]
    );
    assert!(o
        .out
        .contains("sched_ext: BPF scheduler \"central\" disabled (scx_bpf_error)"));
    assert!(o
        .out
        .contains("sched_ext: central: init from non-central CPU"));
    assert!(!o.out.contains("enabled"), "{}", o.out);
}

/// Regression (runner, `scxsim::run`): when the scheduler is disabled
/// while it is being attached (an `ops.init()` failure), the loader used
/// not to notice the exit, because it sampled `scx.disable_seq` only after
/// the attach. The real loader sees `UEI_EXITED()` at once, prints
/// `EXIT: scx_bpf_error (init from non-central CPU)` (after the debug
/// dump) and returns.
#[test]
fn loader_reports_an_init_failure() {
    let o = run(&config(
        "central",
        &["-c", "1"],
        2,
        hogs(2),
        2 * NSEC_PER_SEC,
    ));
    assert!(
        o.err
            .contains("EXIT: scx_bpf_error (init from non-central CPU)"),
        "stderr: {}",
        o.err
    );
    assert_eq!(o.res.exits.len(), 1);
    assert_eq!(o.res.exit_code(), scxsim::exitcode::for_exit_kind(1025));
    assert!(!o.out.contains("[SEQ 1]"), "{}", o.out);
}
