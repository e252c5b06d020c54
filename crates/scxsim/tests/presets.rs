//! Every workload preset (`scxsim --help`, crates/scx-workload/src/presets.rs)
//! under scx_simple and scx_qmap on a flat 4-CPU machine: the run ends
//! normally and the JSON report (`--report`, docs/report-schema.md) shows
//! what the preset stands for. Each expectation is derived here from the
//! preset's definition, not from a previous run:
//!
//! * `default`: the two shell busy-loops each keep a CPU; the fork loops
//!   fork thousands of children that exec `usleep`/`true` and exit;
//! * `two_runners`: two never-sleeping tasks on four CPUs each own a CPU;
//! * `dsq_contention`: 8 tasks wanting 2/3 of a CPU each saturate four
//!   CPUs and split them evenly;
//! * `hogs`: 8 hogs split four CPUs evenly;
//! * `wake_storm`: tens of thousands of wakeups per simulated second;
//! * `schbench`: every worker is woken every 10 ms and, with idle CPUs
//!   around, starts within microseconds;
//! * `interactive_batch`: the interactive tasks complete most of their
//!   bursts and never wait longer than two default slices; batch tasks
//!   soak up the rest of the machine;
//! * `pinned`: each pinned task stays on its CPU (no migration) and gets
//!   the 3/4 of it it asks for;
//! * `fork_churn`: children are forked, run and exit, and none is left;
//! * `cgroups`: schedulers that ignore cgroups split the CPUs per task;
//! * `hotplug`: the last CPU does nothing while offline and works again
//!   when back; scx_simple (no `ops.cpu_online/offline`) is restarted by
//!   its loader each time, scx_qmap carries on.

use scxsim::outputs::{OutputPaths, Outputs};
use scxsim::run::{run_with_sink, RunConfig};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;

const MS: u64 = 1_000_000;
const CPUS: usize = 4;
const SCHEDULERS: [&str; 2] = ["simple", "qmap"];

/// A fresh scratch directory.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scxsim-presets-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// One finished run: its JSON report and what it printed.
struct Run {
    what: String,
    report: Value,
    duration: u64,
    attach_at: u64,
}

fn run(sched: &str, preset: &str, duration_ms: u64) -> Run {
    let mut cfg = RunConfig::new(sched, Vec::new());
    cfg.topo = scx_machine::Topology::flat(CPUS).unwrap();
    cfg.workload = Arc::new(scx_workload::presets::build(preset, CPUS).unwrap());
    cfg.duration = duration_ms * MS;
    let dir = scratch(&format!("{sched}-{preset}"));
    let paths = OutputPaths {
        report: Some(dir.join("report.json")),
        ..Default::default()
    };
    let mut outputs = Outputs::create(&paths).unwrap();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let res = run_with_sink(&cfg, &mut out, &mut err, outputs.sink()).unwrap();
    outputs.finish(&cfg, &res).unwrap();
    let report = serde_json::from_slice(&std::fs::read(dir.join("report.json")).unwrap()).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let r = Run {
        what: format!("{sched} on {preset}"),
        report,
        duration: cfg.duration,
        attach_at: cfg.attach_at,
    };
    r.assert_normal_end(sched, preset);
    r
}

impl Run {
    fn u(&self, v: &Value) -> u64 {
        v.as_u64()
            .unwrap_or_else(|| panic!("{}: {v} is not a count", self.what))
    }

    /// The run ended with the loader's SIGINT, after the scheduler ran.
    fn assert_normal_end(&self, sched: &str, preset: &str) {
        let exit = &self.report["exit"];
        assert_eq!(exit["kind"], "SCX_EXIT_UNREG", "{}: {exit}", self.what);
        assert_eq!(exit["scheduler"], sched, "{}", self.what);
        assert!(
            self.u(&self.report["metrics"]["totals"]["op_calls"]) > 0,
            "{}: the scheduler was never called",
            self.what
        );
        if preset != "hotplug" {
            let n = self.report["exits"].as_array().unwrap().len();
            assert_eq!(n, 1, "{}: {}", self.what, self.report["exits"]);
        }
    }

    /// Non-kernel-thread tasks whose group (comm without instance suffix)
    /// or comm is `name`.
    fn tasks(&self, name: &str) -> Vec<&Value> {
        let v: Vec<&Value> = self.report["metrics"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kthread"] == false && (t["group"] == name || t["comm"] == name))
            .collect();
        assert!(!v.is_empty(), "{}: no task {name}", self.what);
        v
    }

    fn runtime(&self, t: &Value) -> u64 {
        self.u(&t["runtime_ns"])
    }

    fn totals(&self, key: &str) -> f64 {
        self.report["metrics"]["totals"][key]
            .as_f64()
            .unwrap_or_else(|| panic!("{}: totals.{key}", self.what))
    }

    /// Asserts `got` is within `tol` (relative) of `want`.
    fn near(&self, what: &str, got: f64, want: f64, tol: f64) {
        assert!(
            (got / want - 1.0).abs() <= tol,
            "{}: {what} = {got:.4}, expected {want:.4} ± {:.0}%",
            self.what,
            tol * 100.0
        );
    }

    fn cpu_busy(&self, cpu: usize) -> u64 {
        self.u(&self.report["metrics"]["cpus"][cpu]["busy_ns"])
    }
}

#[test]
fn default_preset_keeps_the_spinners_and_forks_children() {
    for s in SCHEDULERS {
        let r = run(s, "default", 1000);
        // Four `sh`: the two spinners (the first two pids) never sleep and
        // have a CPU each on four CPUs; the two fork loops wait for their
        // children. (A child is also `sh` until it execs.)
        let sh = r.tasks("sh");
        assert!(sh.len() >= 4, "{}", r.what);
        for t in &sh[4..] {
            assert!(r.runtime(t) <= 200_000, "{}: {t}", r.what);
        }
        for t in &sh[..2] {
            r.near(
                "spinner share",
                r.runtime(t) as f64 / r.duration as f64,
                1.0,
                0.02,
            );
            assert_eq!(r.u(&t["voluntary_switches"]), 0, "{}: {t}", r.what);
        }
        for t in &sh[2..4] {
            assert!(r.runtime(t) < r.duration / 2, "{}: {t}", r.what);
        }
        // Each fork loop waits for its child: ~2.3 ms per usleep child,
        // ~0.3 ms per true child, so thousands of children a second.
        let created = r.totals("tasks_created");
        assert!(created > 1000.0, "{}: {created} tasks created", r.what);
        // Every child but the (at most two) still running has exited:
        // alive are init, the four `sh` and those children.
        let alive = r.report["metrics"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["kthread"] == false && t["exited"] == false)
            .count();
        assert!((5..=7).contains(&alive), "{}: {alive} tasks alive", r.what);
        let usleep = r.tasks("usleep");
        let truth = r.tasks("true");
        assert!(
            usleep.len() > 100 && truth.len() > usleep.len(),
            "{}",
            r.what
        );
    }
}

#[test]
fn two_runners_own_a_cpu_each() {
    for s in SCHEDULERS {
        let r = run(s, "two_runners", 1000);
        let runners = r.tasks("runner");
        assert_eq!(runners.len(), 2);
        for t in runners {
            r.near(
                "runner share",
                r.runtime(t) as f64 / r.duration as f64,
                1.0,
                0.01,
            );
        }
        r.near("utilisation", r.totals("utilization"), 0.5, 0.01);
    }
}

#[test]
fn dsq_contention_saturates_and_splits_evenly() {
    for s in SCHEDULERS {
        let r = run(s, "dsq_contention", 1000);
        let c = r.tasks("contender");
        assert_eq!(c.len(), 8);
        // Demand 8 × 2/3 CPU > 4 CPUs: the machine is full, each task gets
        // half a CPU.
        assert!(r.totals("utilization") > 0.99, "{}", r.what);
        for t in c {
            r.near(
                "contender share",
                r.runtime(t) as f64 / r.duration as f64,
                0.5,
                0.1,
            );
        }
    }
}

#[test]
fn hogs_split_the_machine_evenly() {
    for s in SCHEDULERS {
        let r = run(s, "hogs", 1000);
        let h = r.tasks("hog");
        assert_eq!(h.len(), 2 * CPUS);
        assert!(r.totals("utilization") > 0.99, "{}", r.what);
        // Before the attach the fair class shares too; one 20 ms slice of
        // granularity on a one-second run.
        for t in h {
            r.near(
                "hog share",
                r.runtime(t) as f64 / r.duration as f64,
                0.5,
                0.05,
            );
        }
    }
}

#[test]
fn wake_storm_makes_many_wakeups() {
    for s in SCHEDULERS {
        let r = run(s, "wake_storm", 200);
        let per_sec = r.totals("wakeups") / (r.duration as f64 / 1e9);
        assert!(per_sec > 50_000.0, "{}: {per_sec:.0} wakeups/s", r.what);
        // Every receiver takes part.
        for g in ["hb-recv0", "hb-recv1"] {
            for t in r.tasks(g) {
                assert!(r.u(&t["wakeups"]) > 1000, "{}: {t}", r.what);
            }
        }
    }
}

#[test]
fn schbench_workers_wake_every_period_with_low_latency() {
    for s in SCHEDULERS {
        let r = run(s, "schbench", 1000);
        let period = 10 * MS;
        // The message thread sleeps 10 ms, then wakes its workers: a
        // period slightly above 10 ms.
        let expected = (r.duration / period) as f64;
        for g in ["schb-wrk0", "schb-wrk1"] {
            for t in r.tasks(g) {
                let w = r.u(&t["wakeups"]) as f64;
                assert!(
                    w > 0.95 * expected && w <= expected,
                    "{}: {w} wakeups",
                    r.what
                );
                // Two workers per message thread, four CPUs: a worker's
                // wakeup finds an idle CPU.
                let p99 = r.u(&t["wakeup_latency"]["p99_ns"]);
                assert!(p99 < 100_000, "{}: p99 wakeup latency {p99} ns", r.what);
                // ~1 ms (0.8..1.2 ms) of work per wakeup.
                let per_wake = r.runtime(t) as f64 / w;
                assert!((800_000.0..1_200_000.0).contains(&per_wake), "{}", r.what);
            }
        }
    }
}

#[test]
fn interactive_tasks_get_their_bursts_batch_takes_the_rest() {
    for s in SCHEDULERS {
        let r = run(s, "interactive_batch", 2000);
        let slice = 20 * MS;
        let mut interactive_ns = 0;
        for t in r.tasks("interactive") {
            // 0.5–1.5 ms bursts every 8–12 ms of sleep: at most 1/11 of
            // the time, less the wait for a CPU (no preemption in either
            // scheduler, so up to a slice).
            let share = r.runtime(t) as f64 / r.duration as f64;
            assert!(
                (0.04..0.095).contains(&share),
                "{}: interactive share {share}",
                r.what
            );
            let p99 = r.u(&t["wakeup_latency"]["p99_ns"]);
            assert!(p99 < 2 * slice, "{}: p99 {p99}", r.what);
            interactive_ns += r.runtime(t);
        }
        let batch_ns: u64 = r.tasks("batch").iter().map(|t| r.runtime(t)).sum();
        let capacity = CPUS as u64 * r.duration;
        assert!(
            interactive_ns + batch_ns > capacity * 99 / 100,
            "{}: batch does not soak up the machine",
            r.what
        );
    }
}

#[test]
fn pinned_tasks_never_migrate() {
    for s in SCHEDULERS {
        let r = run(s, "pinned", 1000);
        for cpu in 0..CPUS {
            let t = r.tasks(&format!("pinned/{cpu}"))[0];
            assert_eq!(r.u(&t["migrations"]), 0, "{}: {t}", r.what);
            // 3 ms run / 1 ms sleep, alone on the CPU.
            r.near(
                "pinned share",
                r.runtime(t) as f64 / r.duration as f64,
                0.75,
                0.01,
            );
            r.near(
                "its CPU's load",
                r.cpu_busy(cpu) as f64 / r.duration as f64,
                0.75,
                0.02,
            );
        }
    }
}

#[test]
fn fork_churn_children_come_and_go() {
    for s in SCHEDULERS {
        let r = run(s, "fork_churn", 500);
        let children = r.tasks("child");
        let forkers = r.tasks("forker").len();
        assert_eq!(forkers, CPUS / 2);
        // Each forker makes two 0.1–0.5 ms children and waits for both:
        // at least one pair per ~1 ms, and only the last pair may be alive.
        assert!(
            children.len() > 500,
            "{}: {} children",
            r.what,
            children.len()
        );
        let alive = children.iter().filter(|t| t["exited"] == false).count();
        assert!(alive <= 2 * forkers, "{}: {alive} children alive", r.what);
        assert!(
            r.totals("wakeups_new") >= children.len() as f64,
            "{}",
            r.what
        );
    }
}

#[test]
fn cgroup_unaware_schedulers_split_per_task() {
    for s in SCHEDULERS {
        let r = run(s, "cgroups", 1000);
        // 12 hogs (4 each in /A/B, /A/C, /D) on 4 CPUs: a third of a CPU
        // each, whatever the cgroup weights (scx_flatcg is the one that
        // honours them; tests/flatcg.rs).
        for g in ["hog.A.B", "hog.A.C", "hog.D"] {
            for t in r.tasks(g) {
                r.near(
                    "hog share",
                    r.runtime(t) as f64 / r.duration as f64,
                    1.0 / 3.0,
                    0.08,
                );
            }
        }
    }
}

#[test]
fn hotplug_takes_the_last_cpu_away_for_a_second() {
    for s in SCHEDULERS {
        let r = run(s, "hotplug", 3000);
        // Eight 3 ms / 1 ms workers want 6 CPUs: every online CPU is busy.
        for cpu in 0..CPUS - 1 {
            r.near(
                "busy",
                r.cpu_busy(cpu) as f64 / r.duration as f64,
                1.0,
                0.01,
            );
        }
        // CPU 3 is offline from 1 s to 2 s (and busy otherwise).
        let last = r.cpu_busy(CPUS - 1) as f64 / r.duration as f64;
        r.near("last CPU busy", last, 2.0 / 3.0, 0.02);
        let exits: Vec<String> = r.report["exits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["msg"].as_str().unwrap().to_string())
            .collect();
        let expected: Vec<String> = match s {
            // No ops.cpu_offline/online: the kernel's restart exit, and the
            // loader attaches again.
            "simple" => vec![
                "cpu 3 going offline, exiting scheduler".into(),
                "cpu 3 going online, exiting scheduler".into(),
                String::new(),
            ],
            _ => vec![String::new()],
        };
        assert_eq!(exits, expected, "{}", r.what);
        assert!(r.attach_at < 1000 * MS);
    }
}
