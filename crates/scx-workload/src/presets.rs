//! Named workload presets, each modelled on a well-known workload shape.
//!
//! | name | stands for |
//! |---|---|
//! | `default` | what the reference console ran under `scx_qmap -l 100`: two busy shell loops, a shell loop running `usleep 2000` children, and a fork/exec loop |
//! | `two_runners` | two tasks that never sleep (benchmark shape) |
//! | `dsq_contention` | eight tasks looping 2 ms run / 1 ms sleep (benchmark shape) |
//! | `hogs` | two CPU hogs per CPU, never sleeping |
//! | `wake_storm` | hackbench-like: groups of senders waking receivers at a high rate |
//! | `schbench` | schbench-like: message threads waking worker threads that do a short burst; wakeup latency matters |
//! | `interactive_batch` | interactive tasks (short bursts, nice -5) next to batch hogs (nice 10) |
//! | `pinned` | one task pinned to each CPU, running and sleeping |
//! | `fork_churn` | shells forking short-lived children that run briefly and exit |
//! | `cgroups` | a cpu.weight hierarchy (`/A` 100 with `/A/B` 100 and `/A/C` 100, `/D` 200) with one hog per CPU in each of `/A/B`, `/A/C` and `/D`: fair shares are 25%, 25% and 50% |
//! | `hotplug` | two run/sleep tasks per CPU while the last CPU goes offline at 1 s and comes back at 2 s |
//!
//! Presets scale with the machine: `build(name, nr_cpus)`.

use crate::program::*;
use scx_machine::clock::{NSEC_PER_MSEC, NSEC_PER_SEC, NSEC_PER_USEC};
use scx_machine::Cpumask;

/// Preset names with one-line descriptions.
pub const PRESETS: &[(&str, &str)] = &[
    (
        "default",
        "two busy shell loops, a usleep 2000 loop and a fork/exec loop (the reference console's workload)",
    ),
    ("two_runners", "2 always-running tasks"),
    ("dsq_contention", "8 tasks looping 2 ms run / 1 ms sleep"),
    ("hogs", "2 never-sleeping CPU hogs per CPU"),
    (
        "wake_storm",
        "hackbench-like message passing: senders wake receivers at a high rate",
    ),
    (
        "schbench",
        "schbench-like: message threads wake workers for short bursts (p99 wakeup latency)",
    ),
    (
        "interactive_batch",
        "interactive tasks (1 ms bursts every 10 ms, nice -5) with batch hogs (nice 10)",
    ),
    ("pinned", "one run/sleep task pinned to each CPU"),
    ("fork_churn", "shells forking short-lived children"),
    (
        "cgroups",
        "hogs in /A/B, /A/C (weights 100 under /A 100) and /D (200): shares 25/25/50%",
    ),
    (
        "hotplug",
        "2 run/sleep tasks per CPU; the last CPU goes offline at 1 s and returns at 2 s",
    ),
];

/// Builds preset `name` for a machine of `nr_cpus` CPUs.
pub fn build(name: &str, nr_cpus: usize) -> Result<Workload, String> {
    let nr = nr_cpus.max(1);
    let mut w = match name {
        "default" => default_mix(),
        "two_runners" => two_runners(),
        "dsq_contention" => dsq_contention(),
        "hogs" => hogs(nr),
        "wake_storm" => wake_storm(nr),
        "schbench" => schbench(nr),
        "interactive_batch" => interactive_batch(nr),
        "pinned" => pinned(nr),
        "fork_churn" => fork_churn(nr),
        "cgroups" => cgroups(nr),
        "hotplug" => hotplug(nr),
        _ => {
            let names: Vec<&str> = PRESETS.iter().map(|(n, _)| *n).collect();
            return Err(format!(
                "unknown workload preset {name:?}; expected a file path or one of {}",
                names.join(", ")
            ));
        }
    };
    w.name = name.to_string();
    w.description = PRESETS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, d)| d.to_string())
        .unwrap_or_default();
    w.validate(nr)?;
    Ok(w)
}

fn forever(body: Vec<Step>) -> Step {
    Step::Loop {
        repeat: Repeat::Forever,
        body,
    }
}

fn default_mix() -> Workload {
    let mut w = Workload::default();
    // A child that exec()s usleep and sleeps 2 ms, then exits.
    w.templates.push(TaskSpec::new(
        "sh",
        vec![
            Step::Run(150 * NSEC_PER_USEC),
            Step::Exec("usleep".into()),
            Step::Run(50 * NSEC_PER_USEC),
            Step::Sleep(2 * NSEC_PER_MSEC),
            Step::Run(20 * NSEC_PER_USEC),
        ],
    ));
    // A child that exec()s true and exits at once.
    w.templates.push(TaskSpec::new(
        "sh",
        vec![
            Step::Run(150 * NSEC_PER_USEC),
            Step::Exec("true".into()),
            Step::Run(100 * NSEC_PER_USEC),
        ],
    ));
    w.tasks
        .push(TaskSpec::new("sh", vec![forever(vec![Step::Run(NSEC_PER_SEC)])]).instances(2));
    w.tasks.push(TaskSpec::new(
        "sh",
        vec![forever(vec![
            Step::Run(30 * NSEC_PER_USEC),
            Step::Fork(0),
            Step::WaitChildren,
        ])],
    ));
    w.tasks.push(TaskSpec::new(
        "sh",
        vec![forever(vec![
            Step::Run(30 * NSEC_PER_USEC),
            Step::Fork(1),
            Step::WaitChildren,
        ])],
    ));
    // Instances of the spinner are both called "sh", like the shell loops.
    for t in &mut w.tasks {
        t.name = "sh".into();
    }
    w.tasks[0].same_process = false;
    w
}

fn two_runners() -> Workload {
    let mut w = Workload::default();
    w.tasks
        .push(TaskSpec::new("runner", vec![forever(vec![Step::Run(NSEC_PER_SEC)])]).instances(2));
    w
}

fn dsq_contention() -> Workload {
    let mut w = Workload::default();
    w.tasks.push(
        TaskSpec::new(
            "contender",
            vec![forever(vec![
                Step::Run(2 * NSEC_PER_MSEC),
                Step::Sleep(NSEC_PER_MSEC),
            ])],
        )
        .instances(8),
    );
    w
}

fn hogs(nr: usize) -> Workload {
    let mut w = Workload::default();
    w.tasks.push(
        TaskSpec::new("hog", vec![forever(vec![Step::Run(NSEC_PER_SEC)])]).instances(2 * nr as u32),
    );
    w
}

fn wake_storm(nr: usize) -> Workload {
    // hackbench: groups of 4 senders and 4 receivers; each sender sends a
    // small message to every receiver of its group in turn.
    let mut w = Workload::default();
    let groups = nr.div_ceil(2).max(1);
    for g in 0..groups {
        let first = w.conds.len();
        for r in 0..4 {
            w.conds.push(format!("g{g}-r{r}"));
        }
        let mut sends = Vec::new();
        for r in 0..4 {
            sends.push(Step::Run(2 * NSEC_PER_USEC));
            sends.push(Step::Resume(first + r));
        }
        sends.push(Step::SleepRange {
            min: 20 * NSEC_PER_USEC,
            max: 60 * NSEC_PER_USEC,
        });
        w.tasks
            .push(TaskSpec::new(&format!("hb-send{g}"), vec![forever(sends)]).instances(4));
        for r in 0..4 {
            w.tasks.push(TaskSpec::new(
                &format!("hb-recv{g}.{r}"),
                vec![forever(vec![
                    Step::Suspend(first + r),
                    Step::Run(3 * NSEC_PER_USEC),
                ])],
            ));
        }
    }
    w
}

fn schbench(nr: usize) -> Workload {
    // schbench: 2 message threads, each with nr_cpus/2 (at least 2)
    // workers; every 10 ms a message thread wakes all its workers, which
    // each burn ~1 ms of CPU and go back to sleep.
    let mut w = Workload::default();
    let workers = (nr / 2).max(2);
    for m in 0..2 {
        let first = w.conds.len();
        let mut wake = vec![Step::Sleep(10 * NSEC_PER_MSEC)];
        for i in 0..workers {
            w.conds.push(format!("m{m}-w{i}"));
            wake.push(Step::Resume(first + i));
        }
        w.tasks
            .push(TaskSpec::new(&format!("schb-msg{m}"), vec![forever(wake)]));
        for i in 0..workers {
            w.tasks.push(TaskSpec::new(
                &format!("schb-wrk{m}.{i}"),
                vec![forever(vec![
                    Step::Suspend(first + i),
                    Step::RunRange {
                        min: 800 * NSEC_PER_USEC,
                        max: 1200 * NSEC_PER_USEC,
                    },
                ])],
            ));
        }
    }
    w
}

fn interactive_batch(nr: usize) -> Workload {
    let mut w = Workload::default();
    w.tasks.push(
        TaskSpec::new(
            "interactive",
            vec![forever(vec![
                Step::RunRange {
                    min: 500 * NSEC_PER_USEC,
                    max: 1500 * NSEC_PER_USEC,
                },
                Step::SleepRange {
                    min: 8 * NSEC_PER_MSEC,
                    max: 12 * NSEC_PER_MSEC,
                },
            ])],
        )
        .instances(nr as u32)
        .nice(-5),
    );
    w.tasks.push(
        TaskSpec::new("batch", vec![forever(vec![Step::Run(NSEC_PER_SEC)])])
            .instances(nr as u32)
            .nice(10)
            .policy(Policy::Batch),
    );
    w
}

fn pinned(nr: usize) -> Workload {
    let mut w = Workload::default();
    for cpu in 0..nr {
        w.tasks.push(
            TaskSpec::new(
                &format!("pinned/{cpu}"),
                vec![forever(vec![
                    Step::Run(3 * NSEC_PER_MSEC),
                    Step::Sleep(NSEC_PER_MSEC),
                ])],
            )
            .cpus(Cpumask::of(cpu)),
        );
    }
    w
}

fn fork_churn(nr: usize) -> Workload {
    let mut w = Workload::default();
    w.templates.push(TaskSpec::new(
        "child",
        vec![Step::RunRange {
            min: 100 * NSEC_PER_USEC,
            max: 500 * NSEC_PER_USEC,
        }],
    ));
    w.tasks.push(
        TaskSpec::new(
            "forker",
            vec![forever(vec![
                Step::Run(20 * NSEC_PER_USEC),
                Step::Fork(0),
                Step::Fork(0),
                Step::WaitChildren,
            ])],
        )
        .instances(nr.div_ceil(2) as u32),
    );
    w
}

fn cgroups(nr: usize) -> Workload {
    let mut w = Workload::default();
    let tree = [
        ("/A", None, 100, 0),
        ("/A/B", Some(0), 100, nr),
        ("/A/C", Some(0), 100, nr),
        ("/D", None, 200, nr),
    ];
    for (i, (path, parent, weight, hogs)) in tree.into_iter().enumerate() {
        w.cgroups.push(CgroupSpec {
            path: path.into(),
            parent,
            weight,
        });
        if hogs > 0 {
            let name = format!("hog{}", path.replace('/', "."));
            let mut t = TaskSpec::new(&name, vec![forever(vec![Step::Run(NSEC_PER_SEC)])])
                .instances(hogs as u32);
            t.cgroup = Some(i);
            w.tasks.push(t);
        }
    }
    w
}

fn hotplug(nr: usize) -> Workload {
    let mut w = Workload::default();
    w.tasks.push(
        TaskSpec::new(
            "worker",
            vec![forever(vec![
                Step::Run(3 * NSEC_PER_MSEC),
                Step::Sleep(NSEC_PER_MSEC),
            ])],
        )
        .instances(2 * nr as u32),
    );
    if nr > 1 {
        w.actions = vec![
            (NSEC_PER_SEC, TimedAction::CpuOffline(nr - 1)),
            (2 * NSEC_PER_SEC, TimedAction::CpuOnline(nr - 1)),
        ];
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_preset_builds_and_validates() {
        for (name, _) in PRESETS {
            for cpus in [1, 2, 4, 64] {
                let w = build(name, cpus).unwrap();
                assert!(w.nr_boot_tasks() > 0, "{name}");
                assert_eq!(w.name, *name);
            }
        }
    }

    #[test]
    fn unknown_preset_lists_choices() {
        let e = build("nope", 4).unwrap_err();
        assert!(e.contains("two_runners"), "{e}");
    }

    #[test]
    fn benchmark_shapes_match_their_definitions() {
        let w = build("dsq_contention", 4).unwrap();
        assert_eq!(w.nr_boot_tasks(), 8);
        let w = build("two_runners", 4).unwrap();
        assert_eq!(w.nr_boot_tasks(), 2);
    }
}
