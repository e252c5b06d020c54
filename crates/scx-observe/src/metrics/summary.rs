//! The readable text form of a [`MetricsReport`], printed after a run.

use super::{MetricsReport, TaskReport};
use std::fmt::Write;

/// Tasks listed in the summary.
const TOP_TASKS: usize = 10;
/// Groups listed in the summary.
const TOP_GROUPS: usize = 8;

/// A duration in the unit that reads best (`850 ns`, `12.3 µs`, `4.56 ms`,
/// `2.000 s`).
pub fn fmt_ns(ns: f64) -> String {
    if ns < 1e3 {
        format!("{ns:.0} ns")
    } else if ns < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if ns < 1e9 {
        format!("{:.2} ms", ns / 1e6)
    } else {
        format!("{:.3} s", ns / 1e9)
    }
}

/// A latency figure, `-` when there were no samples.
fn lat(count: u64, ns: u64) -> String {
    if count == 0 {
        "-".into()
    } else {
        fmt_ns(ns as f64)
    }
}

fn pct(x: f64) -> String {
    format!("{:.1}%", x * 100.0)
}

fn opt_pct(x: Option<f64>) -> String {
    x.map_or_else(|| "-".into(), pct)
}

/// The summary text.
pub fn summary(r: &MetricsReport) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "scxsim metrics: {} simulated on {} CPUs",
        fmt_ns(r.end_ns as f64),
        r.nr_cpus
    );
    cpu_lines(&mut s, r);
    latency_lines(&mut s, r);
    task_lines(&mut s, r);
    group_lines(&mut s, r);
    for e in &r.exits {
        let _ = writeln!(
            s,
            "scx exit at {}: {}{}",
            fmt_ns(e.at_ns as f64),
            e.reason,
            if e.msg.is_empty() {
                String::new()
            } else {
                format!(" ({})", e.msg)
            }
        );
    }
    s
}

fn cpu_lines(s: &mut String, r: &MetricsReport) {
    let _ = writeln!(
        s,
        "  {:<6} {:>12} {:>7} {:>9}",
        "cpu", "busy", "util", "switches"
    );
    for c in &r.cpus {
        let _ = writeln!(
            s,
            "  {:<6} {:>12} {:>7} {:>9}",
            format!("cpu{}", c.cpu),
            fmt_ns(c.busy_ns as f64),
            pct(c.utilization),
            c.switches
        );
    }
    let c = &r.counts;
    let _ = writeln!(
        s,
        "  {:<6} {:>12} {:>7} {:>9}  (voluntary {}, involuntary {}, from idle {})",
        "all",
        fmt_ns(r.busy_ns as f64),
        pct(r.utilization),
        c.context_switches,
        c.voluntary_switches,
        c.involuntary_switches,
        c.idle_switches
    );
}

fn latency_lines(s: &mut String, r: &MetricsReport) {
    let w = &r.wakeup_latency;
    let d = &r.run_delay;
    let _ = writeln!(
        s,
        "wakeup latency  n={:<7} p50 {}  p90 {}  p99 {}  max {}",
        w.count,
        fmt_ns(w.p50_ns as f64),
        fmt_ns(w.p90_ns as f64),
        fmt_ns(w.p99_ns as f64),
        fmt_ns(w.max_ns as f64)
    );
    let _ = writeln!(
        s,
        "run delay       n={:<7} mean {}  p50 {}  p99 {}  max {}",
        d.count,
        fmt_ns(d.mean_ns),
        fmt_ns(d.p50_ns as f64),
        fmt_ns(d.p99_ns as f64),
        fmt_ns(d.max_ns as f64)
    );
    let c = &r.counts;
    let _ = writeln!(
        s,
        "wakeups {} (+{} new)  migrations {}  callbacks {}  kicks {} (breaker {})",
        c.wakeups, c.wakeups_new, c.migrations, c.op_calls, c.kicks, c.breaker_kicks
    );
    let f = &r.fairness;
    let _ = writeln!(
        s,
        "fairness vs weight: Jain {:.3} (time-weighted); share/expected {:.2} .. {:.2} over {} main tasks",
        f.jain, f.min_ratio, f.max_ratio, f.tasks
    );
}

fn task_row(t: &TaskReport) -> String {
    format!(
        "  {:>7} {:<16} {:>11} {:>7} {:>8} {:>6} {:>10} {:>10} {:>5} {:>6}/{:<6}",
        t.pid,
        t.comm,
        fmt_ns(t.runtime_ns as f64),
        pct(t.share),
        opt_pct(t.expected_share),
        t.share_ratio
            .map_or_else(|| "-".into(), |x| format!("{x:.2}")),
        lat(t.wakeup_latency.count, t.wakeup_latency.p50_ns),
        lat(t.wakeup_latency.count, t.wakeup_latency.p99_ns),
        t.migrations,
        t.voluntary_switches,
        t.involuntary_switches
    )
}

fn task_lines(s: &mut String, r: &MetricsReport) {
    let mut top: Vec<&TaskReport> = r.tasks.iter().collect();
    top.sort_by(|a, b| b.runtime_ns.cmp(&a.runtime_ns).then(a.pid.cmp(&b.pid)));
    let _ = writeln!(s, "top tasks by CPU time ({} tasks in all)", r.tasks.len());
    let _ = writeln!(
        s,
        "  {:>7} {:<16} {:>11} {:>7} {:>8} {:>6} {:>10} {:>10} {:>5} {:>13}",
        "pid",
        "comm",
        "cpu time",
        "share",
        "expected",
        "ratio",
        "wake p50",
        "wake p99",
        "migr",
        "vol/invol"
    );
    for t in top.into_iter().take(TOP_TASKS) {
        let _ = writeln!(s, "{}", task_row(t));
    }
}

fn group_lines(s: &mut String, r: &MetricsReport) {
    let mut groups: Vec<_> = r.groups.iter().collect();
    groups.sort_by(|a, b| b.runtime_ns.cmp(&a.runtime_ns).then(a.group.cmp(&b.group)));
    let _ = writeln!(
        s,
        "  {:<16} {:>6} {:>11} {:>10} {:>10} {:>10}",
        "group", "tasks", "cpu time", "wake p50", "wake p99", "delay p99"
    );
    for g in groups.into_iter().take(TOP_GROUPS) {
        let _ = writeln!(
            s,
            "  {:<16} {:>6} {:>11} {:>10} {:>10} {:>10}",
            g.group,
            g.tasks,
            fmt_ns(g.runtime_ns as f64),
            lat(g.wakeup_latency.count, g.wakeup_latency.p50_ns),
            lat(g.wakeup_latency.count, g.wakeup_latency.p99_ns),
            lat(g.run_delay.count, g.run_delay.p99_ns)
        );
    }
}
