//! Metrics on hand-built event streams whose answers are worked out by hand
//! in the comments.

use scx_observe::metrics::{Metrics, MetricsReport};
use scx_observe::{Class, Event, PrevState, Sink, Tid};

const MS: u64 = 1_000_000;

/// A little builder for event streams.
struct Stream {
    m: Metrics,
}

impl Stream {
    /// `cpus` idle tasks (tids 0..cpus) and the given tasks `(tid, pid,
    /// comm, prio)`, all at time 0.
    fn new(cpus: u32, tasks: &[(Tid, u32, &str, i32)]) -> Stream {
        let mut m = Metrics::new();
        for c in 0..cpus {
            m.event(0, &new_task(c, 0, &format!("swapper/{c}"), 120, Some(c)));
        }
        for &(tid, pid, comm, prio) in tasks {
            m.event(0, &new_task(tid, pid, comm, prio, None));
        }
        Stream { m }
    }

    fn ev(&mut self, t: u64, e: Event) -> &mut Self {
        self.m.event(t, &e);
        self
    }

    fn wake(&mut self, t: u64, cpu: u32, tid: Tid) -> &mut Self {
        self.ev(t, Event::Waking { cpu, tid }).ev(
            t,
            Event::Wakeup {
                cpu,
                tid,
                target_cpu: cpu,
                new: false,
            },
        )
    }

    fn switch(&mut self, t: u64, cpu: u32, prev: Tid, state: PrevState, next: Tid) -> &mut Self {
        self.ev(
            t,
            Event::Switch {
                cpu,
                prev,
                prev_state: state,
                next,
            },
        )
    }

    fn report(&self, end: u64) -> MetricsReport {
        self.m.report(end)
    }
}

fn new_task(tid: Tid, pid: u32, comm: &str, prio: i32, idle_cpu: Option<u32>) -> Event {
    Event::TaskNew {
        tid,
        pid,
        tgid: pid,
        parent: None,
        comm: comm.into(),
        prio,
        kthread: false,
        idle_cpu,
    }
}

fn task(r: &MetricsReport, pid: u32) -> &scx_observe::metrics::TaskReport {
    r.tasks
        .iter()
        .find(|t| t.pid == pid)
        .expect("task in report")
}

/// One CPU, two tasks:
///
/// ```text
/// t=0     A (pid 10) and B (pid 11) wake (waking + wakeup)
/// t=1ms   idle -> A                 A: delay 1ms, wakeup latency 1ms
/// t=4ms   A -> B, A preempted (R)   A ran 3ms; B: delay 4ms, latency 4ms
/// t=6ms   B -> A, B sleeps (S)      B ran 2ms; A: delay 2ms (no waking)
/// t=9ms   A -> idle, A sleeps       A ran 3ms more
/// t=10ms  B wakes
/// t=10.5  idle -> B                 B: delay 0.5ms, latency 0.5ms
/// end=12ms                          B runs 1.5ms more
/// ```
#[test]
fn runtime_delays_latencies_and_switches() {
    let mut s = Stream::new(1, &[(1, 10, "a", 120), (2, 11, "b", 120)]);
    s.wake(0, 0, 1).wake(0, 0, 2);
    s.switch(MS, 0, 0, PrevState::Running, 1);
    s.switch(4 * MS, 0, 1, PrevState::Running, 2);
    s.switch(6 * MS, 0, 2, PrevState::Sleeping, 1);
    s.switch(9 * MS, 0, 1, PrevState::Sleeping, 0);
    s.wake(10 * MS, 0, 2);
    s.switch(10 * MS + MS / 2, 0, 0, PrevState::Running, 2);
    let r = s.report(12 * MS);

    let a = task(&r, 10);
    assert_eq!(a.runtime_ns, 6 * MS);
    assert_eq!((a.voluntary_switches, a.involuntary_switches), (1, 1));
    assert_eq!(a.run_delay.count, 2);
    assert_eq!(a.run_delay.max_ns, 2 * MS);
    assert_eq!(a.run_delay.mean_ns, 1.5 * MS as f64);
    assert_eq!(a.wakeup_latency.count, 1);
    assert_eq!(a.wakeup_latency.p50_ns, MS);

    let b = task(&r, 11);
    assert_eq!(b.runtime_ns, 2 * MS + 3 * MS / 2);
    assert_eq!(b.wakeup_latency.count, 2);
    assert_eq!(b.wakeup_latency.p50_ns, MS / 2);
    assert_eq!(b.wakeup_latency.max_ns, 4 * MS);
    assert_eq!((b.voluntary_switches, b.involuntary_switches), (1, 0));

    // The CPU: busy 6 + 3.5 ms of 12, idle the rest.
    assert_eq!(r.cpus[0].busy_ns, 9 * MS + MS / 2);
    assert_eq!(r.cpus[0].idle_ns, 2 * MS + MS / 2);
    assert_eq!(r.cpus[0].switches, 5);
    assert_eq!(r.counts.context_switches, 5);
    assert_eq!(r.counts.voluntary_switches, 2);
    assert_eq!(r.counts.involuntary_switches, 1);
    assert_eq!(r.counts.idle_switches, 2);
    assert_eq!(r.counts.wakeups, 3);
    // All wakeup latencies: 1, 4, 0.5 ms -> p50 1 ms.
    assert_eq!(r.wakeup_latency.count, 3);
    assert_eq!(r.wakeup_latency.p50_ns, MS);
    // Shares add up to the busy CPUs.
    let sum: f64 = r.tasks.iter().map(|t| t.share).sum();
    assert!((sum - r.busy_cpus()).abs() < 1e-12);
}

/// Two always-runnable tasks of weights 1024 (nice 0) and 335 (nice 5) on
/// one CPU, splitting it 3:1 in 4 ms rounds for 40 ms. The fluid model
/// gives them 1024/1359 and 335/1359 of the CPU; scaled to the 40 ms they
/// got, expected = 30.14 ms and 9.86 ms.
#[test]
fn expected_share_follows_weight() {
    let mut s = Stream::new(1, &[(1, 10, "heavy", 120), (2, 11, "light", 125)]);
    s.wake(0, 0, 1).wake(0, 0, 2);
    s.switch(0, 0, 0, PrevState::Running, 1);
    for round in 0..10 {
        let t = round * 4 * MS;
        s.switch(t + 3 * MS, 0, 1, PrevState::Running, 2);
        s.switch(t + 4 * MS, 0, 2, PrevState::Running, 1);
    }
    let r = s.report(40 * MS);
    let h = task(&r, 10);
    let l = task(&r, 11);
    assert_eq!((h.weight, l.weight), (1024, 335));
    assert_eq!(h.runtime_ns + l.runtime_ns, 40 * MS);
    let eh = h.expected_ns.unwrap();
    let el = l.expected_ns.unwrap();
    assert!((eh - 40e6 * 1024.0 / 1359.0).abs() < 1.0, "{eh}");
    assert!((el - 40e6 * 335.0 / 1359.0).abs() < 1.0, "{el}");
    // 30 ms actual vs 30.14 expected: ratio just under 1.
    assert!((h.share_ratio.unwrap() - 30e6 / eh).abs() < 1e-12);
    assert!(r.fairness.jain > 0.99 && r.fairness.jain <= 1.0);
    assert_eq!(r.fairness.tasks, 2);
}

/// Water-filling: three runnable tasks on two CPUs, one of nice -20
/// (weight 88761) and two of nice 10 (weight 110): the heavy one is capped
/// at one CPU, the other two share the second. An RT task (prio 50) running
/// on a CPU takes that CPU out of the capacity.
#[test]
fn expected_share_caps_at_one_cpu_and_excludes_rt() {
    let mut s = Stream::new(
        2,
        &[
            (2, 10, "big", 100),
            (3, 11, "small", 130),
            (4, 12, "small", 130),
            (5, 13, "rtkthread", 50),
        ],
    );
    for t in 2..=4 {
        s.wake(0, 0, t);
    }
    s.switch(0, 0, 0, PrevState::Running, 2);
    // 0..10 ms: capacity 2. big's proportional share (2 × 88761/88981)
    // exceeds a CPU, so it gets 1 and the smalls split the other: 0.5 each.
    s.ev(10 * MS, Event::Waking { cpu: 1, tid: 5 });
    s.switch(10 * MS, 1, 1, PrevState::Running, 5);
    // 10..20 ms: the RT task holds CPU 1, capacity 1: big's share
    // 88761/88981 < 1, so all three divide the CPU by weight.
    let r = s.report(20 * MS);
    let e = |pid| task(&r, pid).expected_ns.unwrap();
    // Raw expected: big 10ms + 10ms*88761/88981, smalls 5ms + 10ms*110/88981.
    let raw_big = 10e6 + 10e6 * 88761.0 / 88981.0;
    let raw_small = 5e6 + 10e6 * 110.0 / 88981.0;
    let ratio = e(10) / e(11);
    assert!((ratio - raw_big / raw_small).abs() < 1e-6, "{ratio}");
    assert_eq!(e(11), e(12));
    assert!(
        task(&r, 13).expected_ns.is_none(),
        "RT tasks have no expectation"
    );
    assert!(task(&r, 13).rt);
}

/// Migrations, exits, class and prio changes, DSQs, ops and kicks are
/// counted; a task switched out dead stops contending.
#[test]
fn counters_and_lifecycle() {
    let mut s = Stream::new(2, &[(2, 10, "worker-1", 120)]);
    s.wake(0, 0, 2);
    s.ev(
        0,
        Event::Migrate {
            tid: 2,
            from: 0,
            to: 1,
        },
    );
    s.switch(MS, 1, 1, PrevState::Running, 2);
    s.ev(
        MS,
        Event::TaskClass {
            tid: 2,
            class: Class::Ext,
        },
    );
    s.ev(MS, Event::TaskPrio { tid: 2, prio: 125 });
    s.ev(
        2 * MS,
        Event::OpCall {
            cpu: 1,
            op: scx_observe::Op::Enqueue,
            task: Some(2),
            arg: 0,
        },
    );
    s.ev(
        2 * MS,
        Event::Kick {
            cpu: 0,
            target: 0,
            flags: 0,
            breaker: true,
        },
    );
    s.ev(
        2 * MS,
        Event::DsqDepth {
            dsq: 1 << 63 | 1,
            depth: 3,
        },
    );
    s.ev(
        3 * MS,
        Event::DsqDepth {
            dsq: 1 << 63 | 1,
            depth: 1,
        },
    );
    s.ev(4 * MS, Event::TaskExit { tid: 2 });
    s.switch(4 * MS, 1, 2, PrevState::Dead, 1);
    let r = s.report(10 * MS);
    let t = task(&r, 10);
    assert_eq!(t.migrations, 1);
    assert!(t.exited);
    assert_eq!(t.prio, 125);
    assert_eq!(t.group, "worker");
    assert_eq!(t.runtime_ns, 3 * MS);
    // Contended 0..4 ms (alone, one CPU's worth), then dead.
    assert!((t.expected_ns.unwrap() - 3.0 * MS as f64).abs() < 1e-6);
    assert_eq!(r.counts.migrations, 1);
    assert_eq!(r.counts.task_exits, 1);
    assert_eq!(r.counts.op_calls, 1);
    assert_eq!(r.counts.breaker_kicks, 1);
    assert_eq!(r.ops, vec![("enqueue", 1)]);
    assert_eq!(r.dsqs[0].name, "global");
    assert_eq!((r.dsqs[0].max_depth, r.dsqs[0].final_depth), (3, 1));
    assert_eq!(r.counts.switch_mismatches, 0);
}

/// `report()` charges running tasks up to the end and can be called again.
#[test]
fn report_is_repeatable_and_charges_running_tasks() {
    let mut s = Stream::new(1, &[(1, 10, "a", 120)]);
    s.wake(0, 0, 1).switch(MS, 0, 0, PrevState::Running, 1);
    let r1 = s.report(5 * MS);
    let r2 = s.report(5 * MS);
    assert_eq!(r1, r2);
    assert_eq!(task(&r1, 10).runtime_ns, 4 * MS);
    assert_eq!(s.report(7 * MS).cpus[0].busy_ns, 6 * MS);
    // The summary names the task.
    assert!(r1.summary().contains("a"), "{}", r1.summary());
}

/// Percentiles beyond the exact-sample limit come from the histogram and
/// stay within 0.1%.
#[test]
fn many_wakeups_percentiles() {
    let mut s = Stream::new(1, &[(1, 10, "a", 120)]);
    let mut t = 0;
    for i in 1..=1000u64 {
        s.wake(t, 0, 1);
        t += i * 1000; // latency i µs
        s.switch(t, 0, 0, PrevState::Running, 1);
        t += 1000;
        s.switch(t, 0, 1, PrevState::Sleeping, 0);
    }
    let r = s.report(t);
    let w = task(&r, 10).wakeup_latency;
    assert_eq!(w.count, 1000);
    assert_eq!(w.max_ns, 1_000_000);
    assert!(
        (w.p50_ns as f64 / 500_000.0 - 1.0).abs() < 0.002,
        "{}",
        w.p50_ns
    );
    assert!(
        (w.p99_ns as f64 / 990_000.0 - 1.0).abs() < 0.002,
        "{}",
        w.p99_ns
    );
}
