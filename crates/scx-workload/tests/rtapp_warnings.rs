//! What the rt-app reader warns about: every key it accepts without
//! modelling (once per key name, however often it appears), rt-app
//! behaviours the IR cannot express, and files rt-app accepts that
//! probably do not do what was meant. Warnings never stop the read.

mod common;

use common::*;
use scx_workload::Step;

/// The warnings of `text`, which must read.
fn warnings(text: &str) -> Vec<String> {
    ok(text).warnings
}

/// Asserts exactly one warning mentions `needle`, and returns it.
fn one(text: &str, needle: &str) -> String {
    let all = warnings(text);
    let hits: Vec<&String> = all.iter().filter(|w| w.contains(needle)).collect();
    assert_eq!(hits.len(), 1, "{needle:?} in {all:#?}");
    hits[0].clone()
}

#[test]
fn every_unmodelled_global_key_warns_once() {
    let text = r#"{"global": {
        "duration": 3, "calibration": "CPU0", "default_policy": "SCHED_OTHER",
        "pi_enabled": false, "lock_pages": true, "logdir": "./", "log_basename": "rt",
        "log_size": "file", "ftrace": "main,task", "gnuplot": false, "io_device": "/dev/null",
        "mem_buffer_size": 4194304, "cumulative_slack": false},
      "tasks": {"t": {"run": 1}}}"#;
    let keys: Vec<String> = warnings(text)
        .iter()
        .map(|w| w.split('"').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "pi_enabled",
            "lock_pages",
            "logdir",
            "log_basename",
            "log_size",
            "ftrace",
            "gnuplot",
            "io_device",
            "mem_buffer_size",
            "cumulative_slack"
        ]
    );
}

#[test]
fn calibration_and_modelled_keys_do_not_warn() {
    let text = r#"{"global": {"duration": -1, "calibration": 150, "default_policy": "SCHED_FIFO"},
      "tasks": {"t": {"instance": 2, "delay": 5, "cpus": [1], "priority": 20, "loop": 3, "run": 1, "sleep": 1}}}"#;
    assert_eq!(warnings(text), Vec::<String>::new());
}

#[test]
fn repeated_property_keys_warn_once_with_a_count() {
    let text = "{\"tasks\": {\"t\": {\"phases\": {\n\"a\": {\"util_min\": 10, \"run\": 1},\n\"b\": {\"util_min\": 20, \"nodes_membind\": [0], \"run\": 1}}}}}";
    assert_eq!(
        warnings(text),
        [
            "wl.json:2:7: \"util_min\" is not modelled: utilization clamping (uclamp) is not modelled; ignored (2 occurrences)",
            "wl.json:3:23: \"nodes_membind\" is not modelled: NUMA memory binding is not modelled; ignored",
        ]
    );
}

#[test]
fn deadline_parameters_and_legacy_keys_warn() {
    let text = r#"{"tasks": {"t": {"dl-runtime": 100, "dl-period": 1000, "dl-deadline": 1000, "period": 1000, "deadline": 900, "prio": 3, "run": 1}}}"#;
    let all = warnings(text);
    assert_eq!(all.len(), 6, "{all:#?}");
    assert!(all[0]
        .contains("\"dl-runtime\" is not modelled: SCHED_DEADLINE parameters are not modelled"));
    assert!(
        all[3].contains("\"period\" is not modelled: it is rt-app's legacy SCHED_DEADLINE period")
    );
    assert!(all[5].contains("\"prio\" is not an rt-app key (rt-app ignores it; \"priority\" sets the priority); ignored"));
}

#[test]
fn mem_and_iorun_are_skipped_with_one_warning_each() {
    let text = r#"{"tasks": {"t": {"loop": 1, "run": 1, "mem": 4096, "iorun0": 10, "mem1": 8}}}"#;
    let w = ok(text);
    assert_eq!(w.tasks[0].program, vec![Step::Run(us(1))]);
    assert_eq!(
        w.warnings,
        [
            "wl.json:1:39: \"mem\" events are not modelled (memory and I/O load is not simulated); skipped (2 occurrences)",
            "wl.json:1:52: \"iorun\" events are not modelled (memory and I/O load is not simulated); skipped",
        ]
    );
}

#[test]
fn task_level_events_next_to_phases_are_ignored_like_rtapp() {
    let text = r#"{"tasks": {"t": {"runtime": 500, "sleep": 3, "phases": {"p": {"run": 1}}}}}"#;
    let w = ok(text);
    assert_eq!(w.tasks[0].program, vec![forever(vec![Step::Run(us(1))])]);
    assert!(w.warnings[0].contains("task-level \"runtime\" next to \"phases\" is rt-app's legacy SCHED_DEADLINE runtime, not an event; ignored"));
    assert!(w.warnings[1]
        .contains("task-level \"sleep\" events next to \"phases\" are ignored by rt-app; ignored"));
}

#[test]
fn legacy_resources_table_warns() {
    let w = one(
        r#"{"resources": {"m": {"type": "mutex"}}, "tasks": {"t": {"run": 1}}}"#,
        "resources",
    );
    assert!(
        w.starts_with("wl.json:1:2: \"resources\" is rt-app's legacy resource table"),
        "{w}"
    );
}

#[test]
fn repeated_event_keys_and_phase_names_warn_once() {
    let w = one(
        r#"{"tasks": {"t": {"run": 1, "sleep": 2, "run": 3, "sleep": 4}}}"#,
        "repeated event keys",
    );
    assert!(w.ends_with("(2 occurrences)"), "{w}");
    one(
        r#"{"tasks": {"t": {"phases": {"p": {"run": 1}, "p": {"run": 2}}}}}"#,
        "repeated phase names",
    );
}

#[test]
fn loop_and_duration_values_rtapp_treats_specially() {
    one(
        r#"{"global": {"duration": 0}, "tasks": {"t": {"run": 1}}}"#,
        "\"duration\" 0 means no time limit in rt-app",
    );
    one(
        r#"{"tasks": {"t": {"phases": {"p": {"loop": 0, "run": 1}}}}}"#,
        "\"loop\" 0 in a phase makes rt-app repeat it for ever",
    );
    one(
        r#"{"tasks": {"t": {"loop": 0, "phases": {"p": {"run": 1}}}}}"#,
        "task-level \"loop\" 0: rt-app starts this task but runs none of its phases",
    );
    one(
        r#"{"tasks": {"t": {"loop": -3, "phases": {"p": {"run": 1}}}}}"#,
        "task-level \"loop\" -3 makes rt-app repeat the phases for ever",
    );
}

#[test]
fn conditions_nobody_wakes_or_nobody_waits_on() {
    one(
        r#"{"tasks": {"t": {"lock": "m", "wait": {"ref": "c", "mutex": "m"}, "unlock": "m"}}}"#,
        "wl.json:1:47: nothing signals or resumes \"c\": threads waiting on it block for ever",
    );
    one(
        r#"{"tasks": {"a": {"run": 1, "resume": "b"}, "b": {"run": 1}}}"#,
        "nothing waits on or suspends on \"b\": its wakeups are lost",
    );
}

#[test]
fn waits_without_their_mutex() {
    one(
        r#"{"tasks": {"t": {"signal": "c", "wait": {"ref": "c", "mutex": "m"}}}}"#,
        "task \"t\" waits with mutex \"m\" not locked before it (in file order): undefined for pthreads",
    );
}

#[test]
fn barriers_that_may_never_open() {
    one(
        r#"{"tasks": {"t": {"instance": 2, "run": 1, "barrier": "b", "barrier1": "b"}}}"#,
        "task \"t\" reaches barrier \"b\" more than once per pass",
    );
    let text = r#"{"tasks": {"a": {"loop": 1, "fork": "w", "barrier": "b"}, "w": {"instance": 0, "loop": 1, "barrier": "b"}}}"#;
    one(text, "forked task \"w\" uses barrier \"b\": rt-app does not count forked threads among its parties");
    one(
        r#"{"tasks": {"a": {"loop": 1, "fork": "w"}, "w": {"instance": 0, "loop": 1, "barrier": "b"}}}"#,
        "barrier \"b\" has no parties (only tasks with \"instance\" 0 use it): threads reaching it block for ever",
    );
}

#[test]
fn forks_and_tasks_that_never_run() {
    one(
        r#"{"tasks": {"a": {"run": 1, "fork": "w"}, "w": {"instance": 0, "loop": 1, "run": 1}}}"#,
        "task \"a\" forks \"w\" in an endless loop: rt-app aborts after 1024 forks of it, scxsim keeps forking",
    );
    one(
        r#"{"tasks": {"a": {"run": 1}, "z": {"instance": 0, "run": 1}}}"#,
        "task \"z\" has \"instance\" 0 and no fork names it: it never runs",
    );
    let w = ok(
        r#"{"tasks": {"a": {"loop": 1, "fork": "w"}, "w": {"instance": 0, "delay": 100, "loop": 1, "run": 1}}}"#,
    );
    assert_eq!(w.templates[0].start_delay, 0);
    assert!(
        w.warnings
            .iter()
            .any(|x| x.contains("task \"w\" is forked and has a \"delay\"")),
        "{:#?}",
        w.warnings
    );
}

#[test]
fn phases_after_an_endless_phase() {
    one(
        r#"{"tasks": {"t": {"phases": {"a": {"loop": -1, "run": 1}, "b": {"run": 1}}}}}"#,
        "task \"t\": this phase is never reached, the phase before it loops for ever",
    );
}

#[test]
fn timers_the_ir_models_differently() {
    let w = ok(
        r#"{"tasks": {"t": {"run": 1, "timer": {"ref": "x", "period": 100}, "timer1": {"ref": "x", "period": 200, "mode": "absolute"}}}}"#,
    );
    assert_eq!(w.timers.len(), 2);
    assert!(w
        .timers
        .iter()
        .all(|t| t.mode == scx_workload::TimerMode::Absolute));
    assert!(
        w.warnings
            .iter()
            .any(|x| x.contains("timer \"x\" is used with 2 different periods")),
        "{:#?}",
        w.warnings
    );
    assert!(
        w.warnings
            .iter()
            .any(|x| x.contains("timer \"x\" is both \"absolute\" and \"relative\"")),
        "{:#?}",
        w.warnings
    );
    let w = ok(r#"{"tasks": {"t": {"loop": 1, "run": 1, "timer": {"ref": "x", "period": 0}}}}"#);
    assert_eq!(w.tasks[0].program, vec![Step::Run(us(1))]);
    assert!(
        w.warnings[0].contains("timer \"x\" has period 0 and is skipped"),
        "{:#?}",
        w.warnings
    );
}

#[test]
fn return_to_the_root_taskgroup_is_not_modelled() {
    // rt-app's tutorial example 11.
    let text = r#"{"tasks": {"thread0": {"loop": -1, "phases": {
        "phase0": {"run": 20000, "sleep": 80000, "taskgroup": "/tg1/tg11"},
        "phase1": {"run": 20000, "sleep": 80000},
        "phase2": {"run": 20000, "sleep": 80000, "taskgroup": "/"}}}}}"#;
    let w = ok(text);
    assert_eq!(w.tasks[0].cgroup, Some(1));
    one(text, "moving back to the root taskgroup is not modelled (the IR has no step for it): the task stays in \"/tg1/tg11\"");
}

#[test]
fn too_many_taskgroups() {
    let tasks: Vec<String> = (0..33)
        .map(|i| format!("\"t{i}\": {{\"taskgroup\": \"/g{i}\", \"run\": 1}}"))
        .collect();
    let text = format!("{{\"tasks\": {{{}}}}}", tasks.join(", "));
    one(
        &text,
        "more than 32 taskgroups: rt-app's default build refuses this file",
    );
}

#[test]
fn long_thread_names_keep_rtapps_name() {
    let w = ok(r#"{"tasks": {"short": {"run": 1}, "a_rather_long": {"instance": 12, "run": 1}}}"#);
    let names: Vec<&str> = w.tasks.iter().map(|t| t.name.as_str()).collect();
    let fitting: Vec<String> = (1..=9).map(|n| format!("a_rather_long-{n}")).collect();
    assert_eq!(names[1..10], fitting);
    assert_eq!(names[10..], ["rt-app"; 3]);
    one(
        r#"{"tasks": {"short": {"run": 1}, "a_rather_long": {"instance": 12, "run": 1}}}"#,
        "wl.json:1:33: thread name \"a_rather_long-10\" is longer than 15 bytes",
    );
}

#[test]
fn idle_priority_and_phases_without_modelled_events() {
    one(
        r#"{"tasks": {"t": {"policy": "SCHED_IDLE", "priority": 5, "run": 1}}}"#,
        "\"priority\" 5 is ignored with SCHED_IDLE",
    );
    one(
        r#"{"tasks": {"t": {"phases": {"a": {"mem": 10}, "b": {"run": 1}}}}}"#,
        "this phase has no event scxsim models: skipped",
    );
}

#[test]
fn example_files_warn_only_about_what_they_use() {
    for name in ["fork", "taskgroups", "barrier"] {
        assert_eq!(example(name, 4).warnings, Vec::<String>::new(), "{name}");
    }
}
