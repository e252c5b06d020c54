//! The kernel's lockup detectors (kernel/watchdog.c, watchdog_perf.c of
//! 6.12) against a scheduler that traps CPUs in `balance_one()`'s dispatch
//! loop, and fast-forwarding (fastfwd.rs) shown not to change behaviour:
//!
//! * without the dispatch-loop breaker (`dsp_max_loops = 0`) every CPU
//!   spins with interrupts off: each gets "Watchdog detected hard LOCKUP on
//!   cpu N" at the first NMI with no hrtimer interrupt since the previous
//!   one, nothing else ever runs (no scx exit), and the machine halts
//!   (HardLockup) in bounded wall time; with `nmi_watchdog = false` it
//!   halts silently;
//! * a CPU trapped for longer than 2 × watchdog_thresh and then released
//!   gets "BUG: soft lockup - CPU#N stuck for Ns! [comm:pid]" when its
//!   hrtimer finally runs;
//! * the same runs with `fast_forward = false` give the same exits, stalled
//!   tasks and lockup reports, at the same times within a documented
//!   tolerance — with and without the breaker.

mod common;
#[path = "common/errors_util.rs"]
mod errors_util;

use common::*;
use errors_util::*;
use scx_kernel::config::KernelConfig;
use scx_kernel::consts::*;
use scx_kernel::fastfwd::Halt;
use scx_kernel::ops::*;
use scx_kernel::rq::Mode;
use scx_kernel::Kernel;
use scx_machine::clock::NSEC_PER_SEC;
use scx_machine::{Cpumask, Topology};
use scx_observe::Event;
use scx_workload::{Step, TaskSpec};

const SEC: u64 = NSEC_PER_SEC;

/// `scx_qmap -l`'s loop: every ops.dispatch() "dispatches" kthreadd (PID
/// 2, never BPF-owned); kernel threads are dispatched to their CPU's local
/// DSQ from ops.enqueue, user tasks parked in DSQ 0 for good. Stateless,
/// so it reports a constant digest and may be fast-forwarded.
fn looping(timeout_ms: u32) -> Probe {
    Probe::fifo()
        .timeout_ms(timeout_ms)
        .digest()
        .hook(|cx, c| match c.op {
            Op::Enqueue => {
                let p = c.task.unwrap();
                if cx.task(p).is_kthread() {
                    let cpu = cx.task_cpu(p) as u64;
                    cx.dispatch(p, SCX_DSQ_LOCAL_ON | cpu, SCX_SLICE_DFL, c.arg);
                } else {
                    cx.dispatch(p, DSQ, SCX_SLICE_DFL, c.arg);
                }
                Some(0)
            }
            Op::Dispatch => {
                let k = cx.task_from_pid(2).unwrap();
                cx.dispatch(k, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
                Some(0)
            }
            _ => None,
        })
}

fn boot(cfg: KernelConfig, cpus: usize, tasks: Vec<TaskSpec>) -> (Kernel, Rec) {
    machine_with(cfg, Topology::flat(cpus).unwrap(), workload(tasks))
}

/// Lines of the kernel log containing `pat`, with their times.
fn log_with(k: &Kernel, pat: &str) -> Vec<(u64, String)> {
    k.log
        .iter()
        .filter(|(_, l)| l.contains(pat))
        .cloned()
        .collect()
}

/// Hard lockup reports as (cpu, time).
fn hard_reports(k: &Kernel) -> Vec<(usize, u64)> {
    log_with(k, "Watchdog detected hard LOCKUP on cpu ")
        .into_iter()
        .map(|(t, l)| {
            let cpu = l.rsplit(' ').next().unwrap().parse().unwrap();
            (cpu, t)
        })
        .collect()
}

// ---------------------------------------------------------------------
// Hard lockup: the kernel before the dispatch-loop breaker

/// 2, 4 and 8 CPUs, `dsp_max_loops = 0`: every CPU is trapped right after
/// the attach (10 ms). No CPU takes a timer interrupt again, so the first
/// NMI (watchdog_thresh = 10 s after boot) finds each CPU's
/// hrtimer_interrupts unchanged and reports it, once; the machine then
/// halts. The scx watchdog never gets to run: no scx exit.
#[test]
fn no_breaker_every_cpu_hard_locks_up() {
    for cpus in [2usize, 4, 8] {
        let mut cfg = quiet_cfg();
        cfg.dsp_max_loops = 0;
        let tasks = (0..cpus).map(|i| hog(&format!("h{i}"))).collect();
        let (mut k, rec) = boot(cfg, cpus, tasks);
        k.run_until(10 * MS);
        attach(&mut k, looping(5000));
        let more = k.run_until(60 * SEC);
        assert!(!more, "the run stops at the halt");
        let Some(Halt::HardLockup { since, reports }) = k.halted().cloned() else {
            panic!("{cpus} CPUs: {:?}", k.halted());
        };
        // Trapped at the first slice expiry after the attach.
        assert!(
            since > 10 * MS && since <= 10 * MS + SCX_SLICE_DFL + 2 * MS,
            "stuck since {since}"
        );
        let want: Vec<(usize, u64)> = (0..cpus).map(|c| (c, 10 * SEC)).collect();
        assert_eq!(reports, want);
        assert_eq!(hard_reports(&k), want, "one log line per CPU");
        // Every CPU is still inside __schedule() with interrupts off, and
        // its dispatch loop was accounted to the end (fast-forwarded).
        for cpu in 0..cpus {
            assert!(matches!(k.rqs[cpu].mode, Mode::Sched(_)), "CPU {cpu}");
        }
        let min_rounds = cpus as u64 * (9 * SEC) / (2 * k.cfg.cost.balance_round.max(1) + 1000);
        assert!(
            k.stats.dispatch_calls > min_rounds,
            "{} dispatch calls",
            k.stats.dispatch_calls
        );
        assert!(k.stats.fast_forwarded > 0);
        assert_eq!(k.stats.dispatch_loop_breaks, 0);
        assert!(k.scx.last_exit.is_none(), "{:?}", k.scx.last_exit);
        assert!(claims(&rec).is_empty());
        assert_eq!(rec.count(|e| matches!(e, Event::WatchdogCheck { .. })), 0);
        assert!(log_with(&k, "soft lockup").is_empty());
        k.check_conservation();
    }
}

/// `nmi_watchdog = false`: nothing can report the trapped CPUs; the machine
/// halts silently as soon as every CPU is provably stuck.
#[test]
fn no_breaker_without_nmi_watchdog_is_silent() {
    let mut cfg = quiet_cfg();
    cfg.dsp_max_loops = 0;
    cfg.nmi_watchdog = false;
    let (mut k, rec) = boot(cfg, 2, vec![hog("h0"), hog("h1")]);
    k.run_until(10 * MS);
    attach(&mut k, looping(5000));
    k.run_until(60 * SEC);
    let Some(Halt::Silent { since }) = k.halted().cloned() else {
        panic!("{:?}", k.halted());
    };
    assert!(
        since > 10 * MS && since <= 10 * MS + SCX_SLICE_DFL + 2 * MS,
        "{since}"
    );
    // Halted at once: nothing was simulated after it (only the final
    // accounting of the skipped dispatch rounds).
    let last = rec
        .events()
        .iter()
        .filter(|(_, e)| !matches!(e, Event::FastForward { .. }))
        .map(|(t, _)| *t)
        .max()
        .unwrap();
    assert!(
        last < since + MS,
        "events until {last}, halted since {since}"
    );
    assert!(hard_reports(&k).is_empty());
    assert!(k.scx.last_exit.is_none());
}

/// With the breaker (the default) the same scheduler never locks a CPU
/// up: both detectors stay quiet and the scx watchdog ejects it.
#[test]
fn with_the_breaker_no_lockup() {
    let mut cfg = quiet_cfg();
    cfg.watchdog_thresh = 1;
    let (mut k, _rec) = boot(cfg, 2, vec![hog("h0"), hog("h1")]);
    k.run_until(10 * MS);
    attach(&mut k, looping(1000));
    k.run_until(3 * SEC);
    assert!(k.halted().is_none());
    assert!(hard_reports(&k).is_empty());
    assert!(log_with(&k, "soft lockup").is_empty());
    let e = k.scx.last_exit.as_ref().expect("stall exit");
    assert_eq!(e.info.kind, EXIT_ERROR_STALL);
    assert!(k.stats.dispatch_loop_breaks > 0);
}

// ---------------------------------------------------------------------
// Soft lockup

/// CPU 0 trapped (no breaker) while CPU 1 keeps running; the trap ends
/// when a task CPU 0 can consume appears, about 6 s later. With
/// watchdog_thresh = 2: sample period 0.8 s, soft threshold 4 s, NMI every
/// 2 s. Returns the kernel and when the releasing task was enqueued.
fn trapped_then_released(fast_forward: bool) -> (Kernel, Rec, u64) {
    let mut cfg = quiet_cfg();
    cfg.dsp_max_loops = 0;
    cfg.watchdog_thresh = 2;
    cfg.fast_forward = fast_forward;
    cfg.cost.balance_round = 20 * US;
    // `w` moves to CPU 1 (where its sleep timer will fire), then sleeps 6 s
    // and wakes up allowed on both CPUs.
    let w = TaskSpec::new(
        "w",
        vec![
            Step::SetCpus(Cpumask::of(1)),
            Step::Run(MS),
            Step::SetCpus(Cpumask::first_n(2)),
            Step::Sleep(6 * SEC),
            Step::Run(10 * MS),
            Step::Sleep(100 * SEC),
        ],
    );
    let (mut k, rec) = boot(cfg, 2, vec![pinned(hog("h1"), 1), w]);
    k.run_until(10 * MS);
    let woke = Notes::default();
    let wk = woke.clone();
    let probe = Probe::fifo()
        .with(Op::SelectCpu)
        .digest()
        .hook(move |cx, c| match c.op {
            Op::SelectCpu => {
                let p = c.task.unwrap();
                Some(if cx.task(p).cpus_ptr().test(1) {
                    1
                } else {
                    i64::from(c.prev_cpu)
                })
            }
            Op::Enqueue => {
                let p = c.task.unwrap();
                if cx.task(p).comm() == "w" {
                    wk.push(format!("{}", cx.ktime_get_ns()));
                    cx.dispatch(p, DSQ, SCX_SLICE_DFL, c.arg);
                } else {
                    cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_INF, c.arg);
                }
                Some(0)
            }
            Op::Dispatch => {
                // CPU 0 loops as qmap -l does; CPU 1 keeps its task.
                if c.cpu == 0 && !cx.consume(DSQ) {
                    let k = cx.task_from_pid(2).unwrap();
                    cx.dispatch(k, SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0);
                }
                Some(0)
            }
            _ => None,
        });
    attach(&mut k, probe);
    k.run_until(6500 * MS);
    let t = woke
        .get()
        .iter()
        .map(|s| s.parse::<u64>().unwrap())
        .find(|t| *t > SEC)
        .expect("w woke up");
    (k, rec, t)
}

/// The trapped CPU 0 gets a hard lockup report at the first NMI (2 s; its
/// hrtimer never ran since boot), CPU 1 none, and the machine does not
/// halt. When `w` releases it, CPU 0 takes its overdue watchdog hrtimer in
/// `w`'s context and reports a soft lockup: it has not scheduled (its
/// stopper has not run) for more than 2 × watchdog_thresh.
#[test]
fn soft_lockup_after_a_long_trap() {
    let (k, _rec, woke) = trapped_then_released(true);
    assert!(k.halted().is_none());
    assert_eq!(hard_reports(&k), vec![(0, 2 * SEC)]);
    let soft = log_with(&k, "BUG: soft lockup - CPU#");
    assert_eq!(soft.len(), 1, "{soft:?}");
    let (at, line) = &soft[0];
    // Reported as soon as CPU 0 leaves the loop (within a round).
    assert!(*at >= woke && *at < woke + MS, "{at} vs {woke}");
    let w = k.task(tid(&k, "w"));
    let tail = format!("s! [w:{}]", w.pid);
    let secs = line
        .strip_prefix("BUG: soft lockup - CPU#0 stuck for ")
        .and_then(|r| r.strip_suffix(&tail))
        .unwrap_or_else(|| panic!("{line}"));
    let secs: u64 = secs.parse().unwrap();
    assert!((5..=6).contains(&secs), "{line}");
    // CPU 0 runs again: `w` ran there.
    assert!(w.sum_exec_runtime >= 10 * MS);
    assert!(k.scx.last_exit.is_none());
}

/// The reported duration uses the kernel's `get_timestamp()` =
/// `running_clock() >> 30` (units of 2^30 ns ≈ 1.074 s, watchdog.c:550),
/// for both the threshold test and the printed value: trapped since boot
/// (touch_ts = 0) and reported at t, the line says `t >> 30` seconds.
#[test]
fn soft_lockup_duration_in_kernel_units() {
    let (k, _rec, _woke) = trapped_then_released(true);
    let soft = log_with(&k, "BUG: soft lockup - CPU#0 stuck for ");
    let (at, line) = soft.first().cloned().expect("a soft lockup");
    let w = k.task(tid(&k, "w"));
    assert_eq!(
        line,
        format!(
            "BUG: soft lockup - CPU#0 stuck for {}s! [w:{}]",
            at >> 30,
            w.pid
        )
    );
}

// ---------------------------------------------------------------------
// Fast-forward changes nothing

/// What a run produced that the kernel would show.
#[derive(Debug, PartialEq)]
struct Outcome {
    exit: Option<(u32, String, String)>,
    claimed_at: Option<u64>,
    hard: Vec<(usize, u64)>,
    soft: Vec<(u64, String)>,
    stuck: Vec<bool>,
}

fn outcome(k: &Kernel) -> Outcome {
    Outcome {
        exit: k
            .scx
            .last_exit
            .as_ref()
            .map(|e| (e.info.kind, e.info.reason.clone(), e.info.msg.clone())),
        claimed_at: k.scx.last_exit.as_ref().map(|e| e.claimed_at),
        hard: hard_reports(k),
        soft: log_with(k, "soft lockup"),
        stuck: k
            .rqs
            .iter()
            .map(|r| matches!(r.mode, Mode::Sched(_)))
            .collect(),
    }
}

/// Splits `<comm>[<pid>] failed to run for S.MMMs` into the task and ms.
fn stalled(msg: &str) -> (String, u64) {
    let (task, d) = msg.split_once(" failed to run for ").expect(msg);
    let d = d.strip_suffix('s').unwrap();
    let (s, ms) = d.split_once('.').unwrap();
    (
        task.to_string(),
        s.parse::<u64>().unwrap() * 1000 + ms.parse::<u64>().unwrap(),
    )
}

/// A 2-CPU run of the looping scheduler for 2 s; each dispatch round costs
/// 20 µs (`cost.balance_round`) so that simulating every round one by one
/// stays cheap.
fn loop_run(breaker: bool, fast_forward: bool) -> (Kernel, u64) {
    let mut cfg = quiet_cfg();
    cfg.dsp_max_loops = if breaker { 32 } else { 0 };
    cfg.watchdog_thresh = 1;
    cfg.fast_forward = fast_forward;
    cfg.cost.balance_round = 20 * US;
    let tasks = vec![hog("h0"), hog("h1"), run_sleep("rs", MS, 3 * MS)];
    let (mut k, _rec) = boot(cfg, 2, tasks);
    k.run_until(10 * MS);
    attach(&mut k, looping(500));
    k.run_until(2 * SEC);
    let skipped = k.stats.fast_forwarded;
    (k, skipped)
}

/// The breaker case: the watchdog names the same stranded task with the
/// same wait and at the same time, fast-forwarded or not. Tolerance: one
/// breaker cycle (32 rounds of 20 µs plus the idle and kick, under 1 ms)
/// for the claim time, i.e. at most 1 ms (one jiffy) in the printed wait.
#[test]
fn fast_forward_does_not_change_the_stall() {
    let (ff, skipped) = loop_run(true, true);
    let (slow, none) = loop_run(true, false);
    assert!(skipped > 0, "the breaker cycles were fast-forwarded");
    assert_eq!(none, 0);
    let (a, b) = (outcome(&ff), outcome(&slow));
    let (ka, ra, ma) = a.exit.clone().expect("stall with fast-forward");
    let (kb, rb, mb) = b.exit.clone().expect("stall without fast-forward");
    assert_eq!((ka, ra.as_str()), (EXIT_ERROR_STALL, "runnable task stall"));
    assert_eq!((ka, &ra), (kb, &rb));
    let (ta, da) = stalled(&ma);
    let (tb, db) = stalled(&mb);
    assert_eq!(ta, tb, "{ma} vs {mb}");
    assert!(da.abs_diff(db) <= 1, "{ma} vs {mb}");
    let (ca, cb) = (a.claimed_at.unwrap(), b.claimed_at.unwrap());
    assert!(ca.abs_diff(cb) < MS, "claimed at {ca} vs {cb}");
    assert_eq!((a.hard, a.soft), (b.hard, b.soft));
    // The breaker fired as often, within 2%: a parked CPU finishes the
    // cycle in progress when something changes (fastfwd.rs "Exactness").
    let (fa, fb) = (
        ff.stats.dispatch_loop_breaks,
        slow.stats.dispatch_loop_breaks,
    );
    assert!(fa.abs_diff(fb) * 50 <= fb, "breaker firings: {fa} vs {fb}");
}

/// The no-breaker case: the same CPUs get hard lockup reports at the same
/// NMI (1 s), no scx exit, the CPUs still trapped at 2 s. (The halt is
/// scxsim's own verdict and needs the fixed-point proof only
/// fast-forwarding makes, so it is not compared.)
#[test]
fn fast_forward_does_not_change_the_hard_lockup() {
    let (ff, skipped) = loop_run(false, true);
    let (slow, _) = loop_run(false, false);
    assert!(skipped > 0);
    let (a, b) = (outcome(&ff), outcome(&slow));
    assert_eq!(a.hard, vec![(0, SEC), (1, SEC)]);
    assert_eq!(a.exit, None);
    assert_eq!(b.stuck, vec![true, true]);
    assert_eq!((a.exit, a.hard, a.soft), (b.exit, b.hard, b.soft));
    // Rounds counted alike: within one round per CPU per skipped event.
    let (ra, rb) = (ff.stats.dispatch_calls, slow.stats.dispatch_calls);
    assert!(ra.abs_diff(rb) * 1000 <= rb, "{ra} vs {rb} dispatch calls");
}

/// The soft lockup scenario, fast-forwarded or not: same reports, same
/// times (the release is seen at the next round boundary: < 1 round).
#[test]
fn fast_forward_does_not_change_the_soft_lockup() {
    let (a, _, wa) = trapped_then_released(true);
    let (b, _, wb) = trapped_then_released(false);
    assert_eq!(wa, wb, "w woke at the same time");
    let (oa, ob) = (outcome(&a), outcome(&b));
    assert_eq!(oa.hard, ob.hard);
    assert_eq!(oa.soft.len(), 1);
    assert_eq!(oa.soft.len(), ob.soft.len());
    assert_eq!(oa.soft[0].1, ob.soft[0].1);
    assert!(
        oa.soft[0].0.abs_diff(ob.soft[0].0) < 10 * US,
        "{:?} {:?}",
        oa.soft,
        ob.soft
    );
}

/// Two CPUs that each `SCX_KICK_WAIT` the other from `ops.dispatch()`:
/// once both wait at the same time, each spins in its kick irq_work with
/// interrupts off for the other to reschedule, which it cannot do
/// (kick_cpus_irq_workfn(), ext.c). Neither takes a timer interrupt again:
/// the NMI watchdog reports both and the machine halts in bounded wall
/// time; the simulator never spins.
#[test]
fn mutual_kick_wait_deadlock_is_a_hard_lockup() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Dispatch {
            let other = 1 - c.cpu;
            cx.kick_cpu(other, SCX_KICK_WAIT);
        }
        None
    });
    let tasks = (0..4)
        .map(|i| run_sleep(&format!("rs{i}"), MS, MS))
        .collect();
    let (mut k, _rec) = boot(quiet_cfg(), 2, tasks);
    k.run_until(10 * MS);
    attach(&mut k, probe);
    let more = k.run_until(60 * SEC);
    assert!(!more, "the run stops at the halt");
    let Some(Halt::HardLockup { since, reports }) = k.halted().cloned() else {
        panic!("{:?}", k.halted());
    };
    assert!(since < SEC, "stuck since {since}");
    assert_eq!(
        reports.iter().map(|(c, _)| *c).collect::<Vec<_>>(),
        vec![0, 1]
    );
    for cpu in 0..2 {
        assert!(matches!(k.rqs[cpu].mode, Mode::KickWait), "CPU {cpu}");
    }
}
