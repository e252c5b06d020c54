//! The dispatch-loop breaker (core.md §7.2 step 8): a scheduler whose
//! ops.dispatch() keeps "dispatching" a task it does not own makes the
//! kernel re-call it exactly SCX_DSP_MAX_LOOPS (32) times per balance, then
//! kick its own CPU through irq_work; the CPU goes idle and re-enters
//! balance. Without the breaker (`dsp_max_loops=0`) the loop never ends.

mod common;

use common::*;
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_machine::Topology;
use scx_observe::{Event, Sink};
use std::cell::Cell;
use std::rc::Rc;

/// Dispatches kthreadd (PID 2, asleep, never BPF-owned) on every call, as
/// `scx_qmap -l` does; real tasks are parked in DSQ 0 and never consumed.
fn looping_sched(timeout_ms: u32) -> TestSched {
    let mut s = TestSched::full();
    s.info.timeout_ms = timeout_ms;
    s.dispatch = Some(Box::new(|cx, _cpu, _prev| {
        if let Some(p) = cx.task_from_pid(2) {
            cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
        }
    }));
    s
}

/// Per CPU: dispatch calls between consecutive events of interest.
#[test]
fn thirty_two_rounds_then_a_deferred_self_kick() {
    let (mut k, rec) = machine(2, vec![hog("h")]);
    attach(&mut k, looping_sched(0));
    k.run_until(5 * MS);
    rec.clear();
    k.run_until(6 * MS);
    let evs = rec.events();
    for cpu in 0..2u32 {
        let mut seq = Vec::new();
        for (_, e) in &evs {
            match e {
                Event::OpCall {
                    cpu: c,
                    op: Op::Dispatch,
                    ..
                } if *c == cpu => seq.push('d'),
                Event::Kick {
                    cpu: c,
                    target,
                    flags: 0,
                    breaker: true,
                } if *c == cpu && *target == cpu => seq.push('K'),
                Event::KickDelivered { cpu: c, target } if *c == cpu && *target == cpu => {
                    seq.push('r')
                }
                _ => {}
            }
        }
        let s: String = seq.into_iter().collect();
        // Complete cycles: 32 dispatch calls, the breaker's kick, and only
        // after the balance ended (interrupts back on) the kick's resched.
        let cycle = format!("{}Kr", "d".repeat(32));
        let first = s.find('r').expect("a complete cycle") + 1;
        let last = s.rfind('r').expect("a complete cycle") + 1;
        let body = &s[first..last];
        assert!(
            body.len() >= 3 * cycle.len(),
            "CPU {cpu}: too few cycles: {s}"
        );
        assert_eq!(body.len() % cycle.len(), 0, "CPU {cpu}: {body}");
        assert!(
            body.as_bytes()
                .chunks(cycle.len())
                .all(|c| c == cycle.as_bytes()),
            "CPU {cpu}: {body}"
        );
    }
    // Each round ends with nr_tasks = 1 (the dropped dispatch still counts).
    assert!(evs
        .iter()
        .all(|(_, e)| !matches!(e, Event::DispatchRound { nr_tasks: 0, .. })));
    // The CPUs sit in the idle task between balances.
    for cpu in 0..2 {
        assert!(k.task(k.rqs[cpu].curr).is_idle(), "CPU {cpu} is not idle");
    }
}

/// The breaker lets interrupts in: the CPUs keep taking ticks and the
/// stall is reported (safety.md §4). Here the scheduler strands even the
/// kworker that would run the watchdog, so the tick-side check reports it.
#[test]
fn breaker_lets_the_tick_report_a_starved_watchdog() {
    let (mut k, _rec) = machine(2, vec![hog("h")]);
    attach(&mut k, looping_sched(500));
    k.run_until(1000 * MS);
    let e = k.scx.last_exit.as_ref().expect("the scheduler was ejected");
    assert_eq!(e.info.kind, 1026);
    assert_eq!(e.info.reason, "runnable task stall");
    assert!(
        e.info
            .msg
            .starts_with("watchdog failed to check in for 0.5"),
        "{}",
        e.info.msg
    );
}

/// Kernel threads run (dispatched to their CPU's local DSQ from
/// ops.enqueue); only the user task is stranded, and the watchdog work
/// names it (safety.md §4.3).
#[test]
fn breaker_lets_the_watchdog_report_the_stranded_task() {
    let (mut k, _rec) = machine(2, vec![hog("h")]);
    let mut s = looping_sched(500);
    s.enqueue = Some(Box::new(|cx, p, f| {
        if cx.task(p).is_kthread() {
            let cpu = cx.task_cpu(p) as u64;
            cx.dispatch(p, SCX_DSQ_LOCAL_ON | cpu, SCX_SLICE_DFL, f);
        } else {
            cx.dispatch(p, DSQ, SCX_SLICE_DFL, f);
        }
    }));
    attach(&mut k, s);
    k.run_until(1000 * MS);
    let e = k.scx.last_exit.as_ref().expect("the scheduler was ejected");
    assert_eq!(e.info.kind, 1026);
    // The first stranded user task in runnable-list order: init or h.
    let user: Vec<String> = ["init", "h"]
        .iter()
        .map(|c| format!("{c}[{}] failed to run for ", k.task(tid(&k, c)).pid))
        .collect();
    let m = &e.info.msg;
    let prefix = user
        .iter()
        .find(|u| m.starts_with(u.as_str()))
        .unwrap_or_else(|| panic!("{m}"));
    // Checked every timeout/2: reported between 0.5 and 0.75 s of waiting.
    let secs: f64 = m[prefix.len()..].trim_end_matches('s').parse().unwrap();
    assert!((0.5..=0.75).contains(&secs), "{m}");
}

/// Counts dispatch rounds and breaker kicks without storing events.
#[derive(Clone, Default)]
struct RoundCounter {
    max_round: Rc<Cell<u32>>,
    breaker_kicks: Rc<Cell<u32>>,
}

impl Sink for RoundCounter {
    fn event(&mut self, _t: u64, ev: &Event) {
        match ev {
            Event::DispatchRound { round, .. } => {
                self.max_round.set(self.max_round.get().max(*round))
            }
            Event::Kick { breaker: true, .. } => {
                self.breaker_kicks.set(self.breaker_kicks.get() + 1)
            }
            _ => {}
        }
    }
}

/// `--kernel dsp_max_loops=0`: the kernel before the patch. One balance
/// keeps calling ops.dispatch() — past 10,000 rounds in 10 ms of simulated
/// time — and never kicks; the CPU never leaves the loop.
#[test]
fn without_the_breaker_the_loop_never_ends() {
    let mut cfg = quiet_cfg();
    cfg.dsp_max_loops = 0;
    let w = workload(vec![hog("h")]);
    let mut k = scx_kernel::Kernel::new(cfg, Topology::flat(2).unwrap(), 7);
    let c = RoundCounter::default();
    k.set_sink(Box::new(c.clone()));
    k.boot(Some(std::sync::Arc::new(w)), 7).unwrap();
    attach(&mut k, looping_sched(0));
    k.run_until(10 * MS);
    assert!(
        c.max_round.get() > 10_000,
        "only {} rounds",
        c.max_round.get()
    );
    assert_eq!(c.breaker_kicks.get(), 0);
    let stuck = (0..2)
        .filter(|c| matches!(k.rqs[*c].mode, scx_kernel::rq::Mode::Sched(_)))
        .count();
    assert!(stuck >= 1, "no CPU is stuck in the dispatch loop");
}
