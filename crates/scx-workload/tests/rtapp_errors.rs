//! Every class of bad rt-app input gives one error, on one line, naming
//! the file, the line and column of the offending token, and what was
//! expected there.

mod common;

use common::*;
use scx_workload::rtapp;

/// `line:column` of the first occurrence of `needle` in `text` (after
/// `skip` earlier occurrences), columns in characters.
fn at(text: &str, needle: &str, skip: usize) -> String {
    let idx = text.match_indices(needle).nth(skip).expect("needle").0;
    let before = &text[..idx];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().unwrap().chars().count() + 1;
    format!("{line}:{col}")
}

/// Asserts `text` fails at `needle` (its `skip`-th occurrence) with `msg`.
fn fails(text: &str, needle: &str, skip: usize, msg: &str) {
    assert_eq!(
        err(text),
        format!("wl.json:{}: {msg}", at(text, needle, skip))
    );
}

const EVENTS: &str = "run, runtime, sleep, mem, iorun, lock, unlock, signal, broad, wait, sync, barrier, timer, resume, suspend, yield, fork";

#[test]
fn malformed_json() {
    fails(
        "{\n  \"tasks\": {\n    \"t\": {\"run\": 1 \"sleep\": 2}\n  }\n}",
        "\"sleep\"",
        0,
        "expected ',' or '}' after the value, got '\"'",
    );
    fails(
        "{\"tasks\": {\"t\": {\"run\": 1}}} extra",
        "extra",
        0,
        "expected the end of the document after the top-level value, got 'e'",
    );
    fails(
        "{\"tasks\": {\"t\": {\"run\": \"1}}}",
        "\"1",
        0,
        "expected a closing '\"' for this string, got the end of the file",
    );
    fails(
        "{\"tasks\": /* no end",
        "/*",
        0,
        "expected '*/' to close this comment, got the end of the file",
    );
    fails(
        "{\"tasks\": {\"t\": {\"run\": 01}}}",
        "1}",
        0,
        "expected no leading zeros in a number, got '1'",
    );
    fails(
        "{\"tasks\": {\"t\": {\"run\": tru}}}",
        "tru",
        0,
        "expected a JSON value, got 't'",
    );
    fails(
        "{\"tasks\": {\"t\": {run: 1}}}",
        "run",
        0,
        "expected a quoted key or '}', got 'r'",
    );
    assert_eq!(
        err(""),
        "wl.json:1:1: expected a JSON value, got the end of the file"
    );
    fails(
        "[1, 2]",
        "[",
        0,
        "expected an object with \"tasks\" at the top level, got an array",
    );
}

#[test]
fn positions_count_characters_not_bytes() {
    let text = "{\"tasks\": {\"é\": {\"slép\": 1}}}";
    fails(
        text,
        "\"slép\"",
        0,
        &format!("expected an event ({EVENTS}) or a property, got unknown key \"slép\""),
    );
    assert_eq!(at(text, "\"slép\"", 0), "1:18");
}

#[test]
fn unknown_event() {
    let text =
        "{\n\t\"tasks\": {\n\t\t\"t\": {\n\t\t\t\"run\": 10,\n\t\t\t\"slep\": 10\n\t\t}\n\t}\n}";
    fails(
        text,
        "\"slep\"",
        0,
        &format!("expected an event ({EVENTS}) or a property, got unknown key \"slep\""),
    );
    let phased =
        r#"{"tasks": {"t": {"phases": {"p": {"run": 1, "wiat": {"ref": "c", "mutex": "m"}}}}}}"#;
    fails(
        phased,
        "\"wiat\"",
        0,
        &format!("expected an event ({EVENTS}) or a property, got unknown key \"wiat\""),
    );
    fails(
        r#"{"tasks": {"t": {"nice": 5, "run": 1}}}"#,
        "\"nice\"",
        0,
        "expected an event or a property, got \"nice\", which rt-app does not know (it sets the nice value through \"priority\")",
    );
    fails(
        r#"{"tasks": {"t": {"phases": {"p": {"delay": 5, "run": 1}}}}}"#,
        "\"delay\"",
        0,
        "expected an event or a phase property, got the task-level key \"delay\"",
    );
}

#[test]
fn negative_or_non_numeric_durations() {
    let text = "{\"tasks\": {\n  \"t\": {\n    \"run\": 10,\n    \"sleep\": -5\n  }\n}}";
    fails(
        text,
        "-5",
        0,
        "expected a non-negative duration in microseconds for \"sleep\", got -5",
    );
    assert_eq!(
        err(text),
        "wl.json:4:14: expected a non-negative duration in microseconds for \"sleep\", got -5"
    );
    fails(
        r#"{"tasks": {"t": {"run1": "10"}}}"#,
        "\"10\"",
        0,
        "expected a non-negative duration in microseconds for \"run1\", got \"10\"",
    );
    fails(
        r#"{"tasks": {"t": {"runtime": 2.5}}}"#,
        "2.5",
        0,
        "expected a non-negative duration in microseconds for \"runtime\", got 2.5",
    );
    fails(
        r#"{"tasks": {"t": {"run": 1e3}}}"#,
        "1e3",
        0,
        "expected a non-negative duration in microseconds for \"run\", got 1e3",
    );
    fails(
        r#"{"tasks": {"t": {"run": 2147483648}}}"#,
        "2147483648",
        0,
        "expected a non-negative duration in microseconds for \"run\", got 2147483648",
    );
    fails(
        r#"{"tasks": {"t": {"run": 1, "timer": {"ref": "x", "period": -100}}}}"#,
        "-100",
        0,
        "expected a non-negative duration in microseconds for \"period\", got -100",
    );
    fails(
        r#"{"tasks": {"t": {"delay": -1, "run": 1}}}"#,
        "-1",
        0,
        "expected a non-negative delay in microseconds for \"delay\", got -1",
    );
}

#[test]
fn cpu_out_of_range_for_the_topology() {
    let text = r#"{"tasks": {"t": {"cpus": [0, 7], "run": 1}}}"#;
    fails(
        text,
        "7",
        0,
        "expected a CPU number in 0..4 on this 4-CPU machine for \"cpus\", got 7",
    );
    assert!(rtapp::parse(text, "wl.json", 8).is_ok());
    fails(
        r#"{"tasks": {"t": {"phases": {"p": {"cpus": [-1], "run": 1}}}}}"#,
        "-1",
        0,
        "expected a CPU number in 0..4 on this 4-CPU machine for \"cpus\", got -1",
    );
    fails(
        r#"{"tasks": {"t": {"cpus": [], "run": 1}}}"#,
        "[]",
        0,
        "expected at least one CPU for \"cpus\", got an array",
    );
    fails(
        r#"{"tasks": {"t": {"cpus": ["0"], "run": 1}}}"#,
        "\"0\"",
        0,
        "expected a CPU number in 0..4 on this 4-CPU machine for \"cpus\", got \"0\"",
    );
}

#[test]
fn unknown_references() {
    fails(
        r#"{"tasks": {"a": {"run": 1, "fork": "c"}, "b": {"run": 1}}}"#,
        "\"c\"",
        0,
        "expected the name of a task to fork (one of \"a\", \"b\"), got \"c\"",
    );
    fails(
        r#"{"tasks": {"t": {"run": 1, "taskgroup": "tg1"}}}"#,
        "\"tg1\"",
        0,
        "expected a taskgroup path starting with '/' for \"taskgroup\", got \"tg1\"",
    );
}

#[test]
fn wrong_types() {
    fails(
        r#"{"tasks": {"t": {"instance": "2", "run": 1}}}"#,
        "\"2\"",
        0,
        "expected a number of threads in 0..=32768 for \"instance\", got \"2\"",
    );
    fails(
        r#"{"tasks": {"t": {"phases": [], "run": 1}}}"#,
        "[]",
        0,
        "expected an object for \"phases\", got an array",
    );
    fails(
        r#"{"tasks": {"t": {"loop": true, "run": 1}}}"#,
        "true",
        0,
        "expected a loop count (-1 for ever) for \"loop\", got true",
    );
    fails(
        r#"{"global": {"pi_enabled": "yes"}, "tasks": {"t": {"run": 1}}}"#,
        "\"yes\"",
        0,
        "expected true or false for \"pi_enabled\", got \"yes\"",
    );
    fails(
        r#"{"global": {"default_policy": 5}, "tasks": {"t": {"run": 1}}}"#,
        "5",
        0,
        "expected one of SCHED_OTHER, SCHED_NORMAL, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR for \"default_policy\", got 5",
    );
    fails(
        r#"{"tasks": []}"#,
        "[]",
        0,
        "expected an object for \"tasks\", got an array",
    );
    fails(
        r#"{"tasks": {"t": 3}}"#,
        "3",
        0,
        "expected an object for \"t\", got 3",
    );
    fails(
        r#"{"tasks": {"t": {"lock": 3}}}"#,
        "3",
        0,
        "expected a mutex name for \"lock\", got 3",
    );
    fails(
        r#"{"tasks": {"t": {"wait": "c"}}}"#,
        "\"c\"",
        0,
        "expected an object for \"wait\", got \"c\"",
    );
    fails(
        r#"{"tasks": {"t": {"mem": "4k"}}}"#,
        "\"4k\"",
        0,
        "expected an integer for \"mem\", got \"4k\"",
    );
    fails(
        r#"{"tasks": {"t": {"util_min": "x", "run": 1}}}"#,
        "\"x\"",
        0,
        "expected an integer for \"util_min\", got \"x\"",
    );
    fails(
        r#"{"global": {"calibration": true}, "tasks": {"t": {"run": 1}}}"#,
        "true",
        0,
        "expected an integer or a string for \"calibration\", got true",
    );
    fails(
        r#"{"global": {"duration": "10"}, "tasks": {"t": {"run": 1}}}"#,
        "\"10\"",
        0,
        "expected a duration in seconds (-1 for no limit) for \"duration\", got \"10\"",
    );
    fails(
        r#"{"tasks": {"t": {"timer": {"ref": "x", "period": 1, "mode": "abs"}}}}"#,
        "\"abs\"",
        0,
        "expected \"absolute\" or \"relative\" for \"mode\", got \"abs\"",
    );
}

#[test]
fn missing_required_keys() {
    fails(
        r#"{"global": {}}"#,
        "{",
        0,
        "expected a \"tasks\" key at the top level",
    );
    fails(
        r#"{"tasks": {"t": {"timer": {"ref": "tick"}}}}"#,
        "{\"ref\"",
        0,
        "expected a \"period\" key in the object for \"timer\"",
    );
    fails(
        r#"{"tasks": {"t": {"lock": "m", "wait0": {"ref": "c"}, "unlock": "m"}}}"#,
        "{\"ref\"",
        0,
        "expected a \"mutex\" key in the object for \"wait0\"",
    );
    fails(
        r#"{"tasks": {"t": {"sync": {"mutex": "m"}}}}"#,
        "{\"mutex\"",
        0,
        "expected a \"ref\" key in the object for \"sync\"",
    );
}

#[test]
fn empty_tasks_phases_and_events() {
    fails(
        r#"{"tasks": {}}"#,
        "{}",
        0,
        "expected at least one task for \"tasks\", got an object",
    );
    fails(
        r#"{"tasks": {"t": {"phases": {}}}}"#,
        "{}",
        0,
        "expected at least one phase for \"phases\", got an object",
    );
    fails(
        r#"{"tasks": {"t": {"loop": 2}}}"#,
        "{\"loop\"",
        0,
        &format!("expected at least one event ({EVENTS}) in \"t\", got none"),
    );
    fails(
        r#"{"tasks": {"t": {"phases": {"p1": {"run": 1}, "p2": {"cpus": [1]}}}}}"#,
        "{\"cpus\"",
        0,
        &format!("expected at least one event ({EVENTS}) in \"p2\", got none"),
    );
}

#[test]
fn policies_and_priorities() {
    fails(
        r#"{"tasks": {"t": {"policy": "SCHED_DEADLINE", "dl-runtime": 1000, "run": 1}}}"#,
        "\"SCHED_DEADLINE\"",
        0,
        "expected a policy scxsim models (SCHED_OTHER, SCHED_NORMAL, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR), got \"SCHED_DEADLINE\", which is not modelled",
    );
    // A deadline default only matters for tasks that use it.
    let dl_default = r#"{"global": {"default_policy": "SCHED_DEADLINE"}, "tasks": {"a": {"policy": "SCHED_OTHER", "run": 1}, "b": {"run": 1}}}"#;
    fails(dl_default, "\"SCHED_DEADLINE\"", 0, "expected a policy scxsim models (SCHED_OTHER, SCHED_NORMAL, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR), got \"SCHED_DEADLINE\", which is not modelled");
    fails(
        r#"{"tasks": {"t": {"policy": "SCHED_FIFI", "run": 1}}}"#,
        "\"SCHED_FIFI\"",
        0,
        "expected one of SCHED_OTHER, SCHED_NORMAL, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR for \"policy\", got \"SCHED_FIFI\"",
    );
    fails(
        r#"{"tasks": {"t": {"policy": "SCHED_FIFO", "priority": 0, "run": 1}}}"#,
        "0,",
        0,
        "expected an RT priority in 1..=99 for \"priority\" with SCHED_FIFO, got 0",
    );
    fails(
        r#"{"tasks": {"t": {"priority": 20, "run": 1}}}"#,
        "20",
        0,
        "expected a nice value in -20..=19 for \"priority\" with SCHED_OTHER, got 20",
    );
    fails(
        r#"{"tasks": {"t": {"policy": "SCHED_RR", "phases": {"p": {"priority": 100, "run": 1}}}}}"#,
        "100",
        0,
        "expected an RT priority in 1..=99 for \"priority\" with SCHED_RR, got 100",
    );
}

#[test]
fn taskgroups_need_a_fair_policy() {
    fails(
        r#"{"tasks": {"t": {"policy": "SCHED_FIFO", "taskgroup": "/rt", "run": 1}}}"#,
        "\"/rt\"",
        0,
        "expected SCHED_OTHER or SCHED_IDLE for a task in a taskgroup (rt-app refuses other policies there), got SCHED_FIFO",
    );
    fails(
        r#"{"tasks": {"t": {"taskgroup": "/a", "phases": {"p": {"run": 1}, "q": {"policy": "SCHED_RR", "run": 1}}}}}"#,
        "\"SCHED_RR\"",
        0,
        "expected SCHED_OTHER or SCHED_IDLE for a task in a taskgroup (rt-app refuses other policies there), got SCHED_RR",
    );
}

#[test]
fn repeated_keys_that_cannot_repeat() {
    fails(
        r#"{"tasks": {"t": {"run": 1}, "t": {"run": 2}}}"#,
        "\"t\"",
        1,
        "expected each task name once, got \"t\" again",
    );
    fails(
        r#"{"tasks": {"t": {"loop": 1, "loop": 2, "run": 1}}}"#,
        "\"loop\"",
        1,
        "expected \"loop\" only once in \"t\", got it again",
    );
    fails(
        r#"{"tasks": {"t": {"run": 1}}, "tasks": {}}"#,
        "\"tasks\"",
        1,
        "expected \"tasks\" only once at the top level, got it again",
    );
    fails(
        r#"{"tasks": {"t": {"timer": {"ref": "a", "ref": "b", "period": 1}}}}"#,
        "\"ref\"",
        1,
        "expected \"ref\" only once in \"timer\", got it again",
    );
}

#[test]
fn unknown_settings() {
    fails(
        r#"{"tasks": {"t": {"run": 1}}, "taks": {}}"#,
        "\"taks\"",
        0,
        "expected \"tasks\", \"global\" or \"resources\" at the top level, got \"taks\"",
    );
    fails(
        r#"{"global": {"duraton": 5}, "tasks": {"t": {"run": 1}}}"#,
        "\"duraton\"",
        0,
        "expected a global setting (duration, default_policy, calibration, pi_enabled, lock_pages, logdir, log_basename, log_size, ftrace, gnuplot, io_device, mem_buffer_size, cumulative_slack), got \"duraton\"",
    );
    fails(
        r#"{"tasks": {"t": {"timer": {"ref": "a", "perod": 1}}}}"#,
        "\"perod\"",
        0,
        "expected one of \"ref\", \"period\", \"mode\" in \"timer\", got \"perod\"",
    );
}

#[test]
fn too_many_threads() {
    fails(
        r#"{"tasks": {"a": {"instance": 30000, "run": 1}, "b": {"instance": 3000, "run": 1}}}"#,
        "\"b\"",
        0,
        "expected at most 32768 threads in all (Linux's default pid_max), got 33000 by task \"b\"",
    );
}

#[test]
fn load_reports_files_that_are_not_utf8() {
    let dir = std::env::temp_dir().join(format!("scx-rtapp-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("bad.json");
    std::fs::write(&path, b"{\"tasks\": {\n  \"t\xff\": {\"run\": 1}}}").unwrap();
    let e = rtapp::load(&path, 4).unwrap_err();
    assert_eq!((e.line, e.column), (2, 5));
    assert!(
        e.to_string()
            .ends_with(":2:5: expected UTF-8 text, got an invalid byte"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn errors_are_single_positioned_lines() {
    let text = "{\"tasks\": {\"t\": {\"run\": 1, \"lock\": \"a\\nb\", \"x\\ny\": 1}}}";
    let e = rtapp::parse(text, "dir/wl.json", 4).unwrap_err();
    assert_positioned(&e, "dir/wl.json", text);
    assert!(e.message.contains("\"x\\u000ay\""), "{}", e.message);
}
