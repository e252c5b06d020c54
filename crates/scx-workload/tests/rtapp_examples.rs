//! rt-app files of each common shape, checked against the exact workload
//! they must become: periodic timers (as LISA writes them), a wake chain
//! through suspend/resume, forks, nested taskgroups, a mutex/condition
//! producer-consumer, barriers, and the finer points of loops, affinity and
//! policy changes.

mod common;

use common::*;
use scx_machine::Cpumask;
use scx_workload::rtapp;
use scx_workload::*;

fn warned(name: &str, keys: &[(u32, u32, &str, &str)]) -> Vec<String> {
    keys.iter()
        .map(|(l, c, k, why)| {
            format!("{name}.json:{l}:{c}: \"{k}\" is not modelled: {why}; ignored")
        })
        .collect()
}

const LOGS: &str = "rt-app's log and plot files are not produced";
const FTRACE: &str = "rt-app's ftrace markers are not produced";
const LOCK_PAGES: &str = "locking memory has no effect in the simulator";
const PI: &str =
    "priority-inheritance mutexes are not modelled (scxsim's mutexes never boost their holder)";

#[test]
fn periodic_lisa_file() {
    let big = TaskSpec {
        cpus: Some(Cpumask::first_n(4)),
        ..thread(
            "big-0",
            vec![
                times(100, vec![Step::Run(ms(8)), Step::Timer(0)]),
                Step::SetCpus(Cpumask::from_cpus([2, 3])),
                times(50, vec![Step::Run(ms(2)), Step::Timer(0)]),
            ],
        )
    };
    let small = |n: u32| TaskSpec {
        policy: Policy::Fifo(30),
        start_delay: ms(5),
        ..thread(
            &format!("small-{n}"),
            vec![
                times(200, vec![Step::Run(ms(1)), Step::Timer(1)]),
                Step::SetPolicy(Policy::Normal),
            ],
        )
    };
    let mut warnings = warned(
        "periodic",
        &[
            (5, 9, "lock_pages", LOCK_PAGES),
            (6, 9, "log_size", LOGS),
            (7, 9, "ftrace", FTRACE),
            (8, 9, "logdir", LOGS),
        ],
    );
    let uclamp = "utilization clamping (uclamp) is not modelled";
    warnings.extend(warned(
        "periodic",
        &[(24, 21, "util_max", uclamp), (25, 21, "util_min", uclamp)],
    ));
    let expected = Workload {
        tasks: vec![big, small(1), small(2)],
        timers: vec![
            TimerSpec {
                name: "unique".into(),
                period: ms(16),
                mode: TimerMode::Relative,
                shared: false,
            },
            TimerSpec {
                name: "tick".into(),
                period: ms(10),
                mode: TimerMode::Absolute,
                shared: true,
            },
        ],
        warnings,
        ..workload("periodic")
    };
    assert_eq!(example("periodic", 4), expected);
}

#[test]
fn wake_chain_through_suspend_and_resume() {
    // rt-app's resume is a broadcast under the condition's own mutex, so a
    // resume nobody waits for is lost; suspend waits under that mutex.
    let resume = |c: usize| vec![Step::Lock(c), Step::Broadcast(c), Step::Unlock(c)];
    let suspend = |c: usize| {
        vec![
            Step::Lock(c),
            Step::Wait { cond: c, mutex: c },
            Step::Unlock(c),
        ]
    };
    let waker = thread(
        "waker-0",
        vec![forever(
            [vec![Step::Run(us(500))], resume(0), vec![Step::Timer(0)]].concat(),
        )],
    );
    let stage1 = thread(
        "stage1-1",
        vec![forever(
            [suspend(0), vec![Step::Run(ms(2))], resume(1)].concat(),
        )],
    );
    let stage2 = TaskSpec {
        nice: -10,
        cpus: Some(Cpumask::of(1)),
        ..thread(
            "stage2-2",
            vec![forever([suspend(1), vec![Step::Run(ms(1))]].concat())],
        )
    };
    let expected = Workload {
        tasks: vec![waker, stage1, stage2],
        conds: vec!["stage1".into(), "stage2".into()],
        mutexes: vec!["stage1".into(), "stage2".into()],
        timers: vec![TimerSpec {
            name: "waker_tick".into(),
            period: ms(10),
            mode: TimerMode::Relative,
            shared: true,
        }],
        duration: Some(2_000_000_000),
        warnings: warned(
            "wakechain",
            &[
                (29, 3, "pi_enabled", PI),
                (30, 3, "lock_pages", LOCK_PAGES),
                (31, 3, "logdir", LOGS),
                (32, 3, "log_basename", LOGS),
                (33, 3, "ftrace", FTRACE),
                (34, 3, "gnuplot", LOGS),
            ],
        ),
        ..workload("wakechain")
    };
    assert_eq!(example("wakechain", 4), expected);
}

#[test]
fn fork_of_a_task_with_no_instance() {
    let launcher = thread(
        "launcher-0",
        vec![times(
            10,
            vec![Step::Run(us(100)), Step::Fork(0), Step::Sleep(ms(20))],
        )],
    );
    let worker = thread(
        "worker",
        vec![Step::Run(ms(5)), Step::Sleep(ms(1)), Step::Run(ms(5))],
    );
    let expected = Workload {
        tasks: vec![launcher],
        templates: vec![worker],
        ..workload("fork")
    };
    assert_eq!(example("fork", 4), expected);
}

#[test]
fn forked_task_with_instances_also_starts_at_boot() {
    let w = ok(r#"{"tasks": {
        "a": {"loop": 2, "fork": "b", "sleep": 100},
        "b": {"instance": 2, "loop": 1, "run": 10}
    }}"#);
    let b = |n: &str| thread(n, vec![Step::Run(us(10))]);
    assert_eq!(
        w.tasks.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["a-0", "b-1", "b-2"]
    );
    assert_eq!(w.tasks[1], b("b-1"));
    assert_eq!(w.templates, vec![b("b")]);
    assert_eq!(
        w.tasks[0].program,
        vec![times(2, vec![Step::Fork(0), Step::Sleep(us(100))])]
    );
}

#[test]
fn nested_taskgroups() {
    let web = |n: u32| TaskSpec {
        cgroup: Some(1),
        ..thread(
            &format!("web-{n}"),
            vec![forever(vec![Step::Run(ms(3)), Step::Sleep(ms(7))])],
        )
    };
    let batch = TaskSpec {
        policy: Policy::Idle,
        cgroup: Some(2),
        ..thread("batch-2", vec![forever(vec![Step::Run(ms(100))])])
    };
    let run_sleep = vec![Step::Run(ms(20)), Step::Sleep(ms(80))];
    let mover = TaskSpec {
        cgroup: Some(4),
        ..thread(
            "mover-3",
            vec![forever(
                [
                    vec![Step::SetCgroup(4)],
                    run_sleep.clone(),
                    run_sleep.clone(),
                    vec![Step::SetCgroup(1)],
                    run_sleep,
                ]
                .concat(),
            )],
        )
    };
    let cg = |path: &str, parent: Option<usize>| CgroupSpec {
        path: path.into(),
        parent,
        weight: 100,
    };
    let expected = Workload {
        tasks: vec![web(0), web(1), batch, mover],
        cgroups: vec![
            cg("/apps", None),
            cg("/apps/web", Some(0)),
            cg("/apps/batch", Some(0)),
            cg("/tg1", None),
            cg("/tg1/tg11", Some(3)),
        ],
        duration: Some(2_000_000_000),
        ..workload("taskgroups")
    };
    assert_eq!(example("taskgroups", 4), expected);
}

#[test]
fn producer_consumer_with_mutex_and_condition() {
    let producer = TaskSpec {
        nice: -5,
        cpus: Some(Cpumask::of(0)),
        ..thread(
            "producer-0",
            vec![forever(vec![
                Step::Sleep(ms(10)),
                times(
                    8,
                    vec![
                        Step::Lock(0),
                        Step::Run(us(200)),
                        Step::Signal(0),
                        Step::Unlock(0),
                        Step::Run(ms(1)),
                        Step::Timer(0),
                    ],
                ),
            ])],
        )
    };
    let consumer = |n: u32| TaskSpec {
        cpus: Some(Cpumask::from_cpus([1, 2])),
        ..thread(
            &format!("consumer-{n}"),
            vec![forever(vec![
                Step::Lock(0),
                Step::Wait { cond: 0, mutex: 0 },
                Step::Unlock(0),
                Step::Run(us(1500)),
            ])],
        )
    };
    let sync = Step::SignalWait {
        signal: 1,
        wait: 1,
        mutex: 1,
    };
    let ping = thread(
        "ping-3",
        vec![forever(vec![
            Step::Lock(1),
            sync.clone(),
            Step::Unlock(1),
            Step::Run(us(50)),
        ])],
    );
    let pong = thread(
        "pong-4",
        vec![forever(vec![
            Step::Lock(1),
            sync,
            Step::Unlock(1),
            Step::Yield,
        ])],
    );
    let expected = Workload {
        tasks: vec![producer, consumer(1), consumer(2), ping, pong],
        conds: vec!["queue".into(), "pp".into()],
        mutexes: vec!["queue_lock".into(), "pp_lock".into()],
        timers: vec![TimerSpec {
            name: "tick".into(),
            period: ms(4),
            mode: TimerMode::Relative,
            shared: true,
        }],
        duration: Some(5_000_000_000),
        warnings: warned("prodcons", &[(47, 3, "pi_enabled", PI)]),
        ..workload("prodcons")
    };
    assert_eq!(example("prodcons", 4), expected);
}

#[test]
fn barrier_parties_count_instances_per_use() {
    let a = |n: u32| {
        thread(
            &format!("sync_a-{n}"),
            vec![times(5, vec![Step::Run(ms(30)), Step::Barrier(0)])],
        )
    };
    // The SCHED_OTHER set by the second phase sticks when the phases repeat,
    // as rt-app only changes the policy where a phase says so.
    let b = TaskSpec {
        policy: Policy::Rr(10),
        ..thread(
            "sync_b-2",
            vec![times(
                5,
                vec![
                    Step::Run(ms(10)),
                    Step::Barrier(0),
                    Step::SetPolicy(Policy::Normal),
                    Step::SetNice(5),
                    Step::RunWall(ms(4)),
                    Step::Sleep(ms(1)),
                ],
            )],
        )
    };
    let expected = Workload {
        tasks: vec![a(0), a(1), b],
        barriers: vec![BarrierSpec {
            name: "sync_point".into(),
            parties: 3,
        }],
        ..workload("barrier")
    };
    assert_eq!(example("barrier", 4), expected);
}

#[test]
fn load_reads_the_file_and_names_it_as_given() {
    let path = example_path("fork");
    let w = rtapp::load(&path, 4).unwrap();
    assert_eq!(w.name, "fork");
    assert_eq!(w.tasks, example("fork", 4).tasks);
    let e = rtapp::load(&path.with_file_name("missing.json"), 4).unwrap_err();
    assert!(
        e.to_string()
            .contains("missing.json:1:1: expected a readable file"),
        "{e}"
    );
}

#[test]
fn every_example_validates_on_small_and_large_machines() {
    for name in EXAMPLES {
        for cpus in [4, 64, 512] {
            example(name, cpus).validate(cpus).unwrap();
        }
    }
}

#[test]
fn loop_rules_without_phases() {
    // No "loop": the events repeat for ever.
    let w = ok(r#"{"tasks": {"t": {"run": 1, "sleep": 2}}}"#);
    assert_eq!(
        w.tasks[0].program,
        vec![forever(vec![Step::Run(us(1)), Step::Sleep(us(2))])]
    );
    // "loop": n repeats them n times, then the thread ends.
    let w = ok(r#"{"tasks": {"t": {"loop": 3, "run": 1}}}"#);
    assert_eq!(w.tasks[0].program, vec![times(3, vec![Step::Run(us(1))])]);
    let w = ok(r#"{"tasks": {"t": {"loop": 1, "run": 1}}}"#);
    assert_eq!(w.tasks[0].program, vec![Step::Run(us(1))]);
    // rt-app never stops a phase whose loop is 0: for ever.
    let w = ok(r#"{"tasks": {"t": {"loop": 0, "run": 1}}}"#);
    assert_eq!(w.tasks[0].program, vec![forever(vec![Step::Run(us(1))])]);
}

#[test]
fn loop_rules_with_phases() {
    let phases = r#""phases": {"a": {"loop": 2, "run": 1}, "b": {"sleep": 3}}"#;
    let prog = |task_loop: &str| {
        ok(&format!(
            r#"{{"tasks": {{"t": {{{task_loop} {phases}}}}}}}"#
        ))
        .tasks[0]
            .program
            .clone()
    };
    let body = vec![times(2, vec![Step::Run(us(1))]), Step::Sleep(us(3))];
    assert_eq!(prog(""), vec![forever(body.clone())]);
    assert_eq!(prog(r#""loop": -1,"#), vec![forever(body.clone())]);
    assert_eq!(prog(r#""loop": 1,"#), body.clone());
    assert_eq!(prog(r#""loop": 4,"#), vec![times(4, body)]);
    assert_eq!(prog(r#""loop": 0,"#), vec![]);
}

#[test]
fn phase_affinity_falls_back_to_the_task_affinity() {
    // The example of rt-app's tutorial: phase3 has no "cpus", so it runs on
    // the task's CPUs again.
    let w = rtapp::parse(
        r#"{"tasks": {"thread2": {"cpus": [4, 5, 6], "phases": {
            "phase1": {"cpus": [0, 1], "run": 10, "sleep": 10},
            "phase2": {"cpus": [2], "run": 10, "sleep": 10},
            "phase3": {"run": 10, "sleep": 10}}}}}"#,
        "wl.json",
        8,
    )
    .unwrap();
    let rs = vec![Step::Run(us(10)), Step::Sleep(us(10))];
    let expected = TaskSpec {
        cpus: Some(Cpumask::from_cpus([0, 1])),
        ..thread(
            "thread2-0",
            vec![forever(
                [
                    vec![Step::SetCpus(Cpumask::from_cpus([0, 1]))],
                    rs.clone(),
                    vec![Step::SetCpus(Cpumask::of(2))],
                    rs.clone(),
                    vec![Step::SetCpus(Cpumask::from_cpus([4, 5, 6]))],
                    rs,
                ]
                .concat(),
            )],
        )
    };
    assert_eq!(w.tasks, vec![expected]);
}

#[test]
fn phase_without_cpus_returns_to_every_cpu() {
    let w = ok(r#"{"tasks": {"t": {"loop": 1, "phases": {
        "a": {"cpus": [1], "run": 1}, "b": {"run": 2}}}}}"#);
    assert_eq!(w.tasks[0].cpus, Some(Cpumask::of(1)));
    assert_eq!(
        w.tasks[0].program,
        vec![
            Step::Run(us(1)),
            Step::SetCpus(Cpumask::first_n(4)),
            Step::Run(us(2))
        ]
    );
}

#[test]
fn policy_and_priority_changes_per_phase() {
    let w = ok(
        r#"{"global": {"default_policy": "SCHED_FIFO"}, "tasks": {"t": {"loop": 1, "phases": {
        "a": {"run": 1},
        "b": {"priority": 50, "run": 2},
        "c": {"policy": "SCHED_OTHER", "priority": -3, "run": 3},
        "d": {"priority": 4, "run": 4},
        "e": {"policy": "SCHED_BATCH", "run": 5}}}}}"#,
    );
    let t = &w.tasks[0];
    assert_eq!((t.policy, t.nice), (Policy::Fifo(10), 0));
    assert_eq!(
        t.program,
        vec![
            Step::Run(us(1)),
            Step::SetPolicy(Policy::Fifo(50)),
            Step::Run(us(2)),
            Step::SetPolicy(Policy::Normal),
            Step::SetNice(-3),
            Step::Run(us(3)),
            Step::SetNice(4),
            Step::Run(us(4)),
            Step::SetPolicy(Policy::Batch),
            Step::SetNice(0),
            Step::Run(us(5)),
            Step::SetPolicy(Policy::Normal),
        ]
    );
}

#[test]
fn first_phase_settings_become_the_task_attributes() {
    let w = ok(
        r#"{"tasks": {"t": {"priority": 3, "taskgroup": "/a", "phases": {
        "a": {"policy": "SCHED_BATCH", "priority": 7, "cpus": [3], "run": 1}}}}}"#,
    );
    let t = &w.tasks[0];
    assert_eq!(
        (t.policy, t.nice, t.cpus, t.cgroup),
        (Policy::Batch, 7, Some(Cpumask::of(3)), Some(0))
    );
    // Entering the only phase again changes nothing.
    assert_eq!(t.program, vec![forever(vec![Step::Run(us(1))])]);
}

#[test]
fn thread_names_count_across_the_file() {
    let w = ok(
        r#"{"tasks": {"a": {"run": 1}, "b": {"instance": 3, "run": 1}, "c": {"instance": 0, "run": 1}, "d": {"run": 1}}}"#,
    );
    let names: Vec<&str> = w.tasks.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["a-0", "b-1", "b-2", "b-3", "d-4"]);
    assert!(w.tasks.iter().all(|t| t.instances == 1));
}

#[test]
fn unique_timers_belong_to_each_task_and_shared_ones_to_all() {
    let w = ok(r#"{"tasks": {
        "a": {"run": 1, "timer": {"ref": "unique", "period": 100}, "timer1": {"ref": "uniqueB", "period": 100}},
        "b": {"run": 1, "timer": {"ref": "unique", "period": 100}, "timer1": {"ref": "shared", "period": 100}},
        "c": {"run": 1, "timer": {"ref": "shared", "period": 100, "mode": "absolute"}}}}"#);
    let names: Vec<(&str, bool, TimerMode)> = w
        .timers
        .iter()
        .map(|t| (t.name.as_str(), t.shared, t.mode))
        .collect();
    assert_eq!(
        names,
        [
            ("unique", false, TimerMode::Relative),
            ("uniqueB", false, TimerMode::Relative),
            ("unique", false, TimerMode::Relative),
            ("shared", true, TimerMode::Absolute),
        ]
    );
    assert_eq!(
        w.tasks[2].program,
        vec![forever(vec![Step::Run(us(1)), Step::Timer(3)])]
    );
}

#[test]
fn repeated_event_keys_run_in_file_order() {
    // rt-app's tutorial writes such files for its workgen helper.
    let w = ok(r#"{"tasks": {"t": {"loop": 1, "run": 1, "sleep": 2, "run": 3, "sleep": 4}}}"#);
    assert_eq!(
        w.tasks[0].program,
        vec![
            Step::Run(us(1)),
            Step::Sleep(us(2)),
            Step::Run(us(3)),
            Step::Sleep(us(4))
        ]
    );
}
