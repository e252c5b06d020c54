//! The `scxsim` binary's front door (DESIGN.md "Errors", STYLE.md §7 and
//! §14, crates/scxsim/src/exitcode.rs):
//!
//! * bad input — unknown scheduler, unknown scheduler flag, bad `--cpus` /
//!   `--topo`, bad `--duration`, bad `--kernel` key or value, missing or
//!   invalid rt-app file, unknown preset, bad `--seed`, an output file in a
//!   directory that does not exist — gives exactly one line on stderr that
//!   names the offending thing (option, file and place) and what was
//!   expected, exit code 2, nothing on stdout, no panic, and leaves no
//!   output file (finished or temporary) behind;
//! * `-h` of every scheduler prints the real tool's help, `scxsim --help`
//!   explains scxsim;
//! * the exit codes of a normal run (0), a scheduler error (11), a stall
//!   (12), a hard lockup (20) and a silent machine (21) are the documented
//!   ones.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh scratch directory (the binary's working directory).
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("scxsim-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

struct Run {
    code: Option<i32>,
    out: String,
    err: String,
}

fn scxsim_in(dir: &Path, args: &[&str]) -> Run {
    let o = Command::new(env!("CARGO_BIN_EXE_scxsim"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run scxsim");
    Run {
        code: o.status.code(),
        out: String::from_utf8_lossy(&o.stdout).into_owned(),
        err: String::from_utf8_lossy(&o.stderr).into_owned(),
    }
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Runs `args` (plus, unless given, a trace, ftrace and report file in a
/// scratch directory, so cleanup is checked too, and a short duration) and asserts the bad-input
/// contract; every string of `mentions` must appear in the message.
/// Returns the message.
fn bad_input(name: &str, args: &[&str], mentions: &[&str]) -> String {
    let dir = scratch(name);
    let mut all: Vec<&str> = args.to_vec();
    for (opt, val) in [
        ("--trace", "t.txt"),
        ("--ftrace", "f.txt"),
        ("--report", "r.json"),
        ("--duration", "100ms"),
    ] {
        if !args.contains(&opt) {
            all.extend([opt, val]);
        }
    }
    let r = scxsim_in(&dir, &all);
    let ctx = format!("scxsim {}", args.join(" "));
    assert_eq!(r.code, Some(2), "{ctx}: exit code; stderr:\n{}", r.err);
    assert!(!r.err.contains("panicked"), "{ctx}: panic:\n{}", r.err);
    assert!(r.out.is_empty(), "{ctx}: stdout not empty:\n{}", r.out);
    assert!(
        r.err.ends_with('\n') && r.err.matches('\n').count() == 1,
        "{ctx}: expected exactly one line on stderr, got:\n{}",
        r.err
    );
    for m in mentions {
        assert!(
            r.err.contains(m),
            "{ctx}: message does not mention {m:?}: {}",
            r.err
        );
    }
    assert_eq!(
        files_in(&dir),
        Vec::<String>::new(),
        "{ctx}: files left behind"
    );
    let _ = std::fs::remove_dir_all(&dir);
    r.err
}

// ----------------------------------------------------------------------
// Bad input.

#[test]
fn unknown_scheduler() {
    bad_input("sched", &["nosuch"], &["nosuch"]);
}

/// The message says which schedulers exist.
#[test]
fn unknown_or_missing_scheduler_lists_the_choices() {
    let all = ["simple", "qmap", "central", "flatcg"];
    bad_input("sched-list", &["nosuch"], &all);
    bad_input("sched-none", &["--cpus", "2"], &all);
}

#[test]
fn unknown_scheduler_flag() {
    for (sched, prog) in [
        ("simple", "scx_simple"),
        ("qmap", "scx_qmap"),
        ("central", "scx_central"),
        ("flatcg", "scx_flatcg"),
    ] {
        bad_input(&format!("flag-{sched}"), &[sched, "-z"], &[prog, "'z'"]);
    }
    bad_input(
        "flag-value",
        &["qmap", "-s", "abc"],
        &["-s", "abc", "number"],
    );
    bad_input("scxsim-flag", &["qmap", "--bogus"], &["--bogus"]);
}

#[test]
fn bad_cpus_and_topology() {
    bad_input(
        "cpus-word",
        &["simple", "--cpus", "x"],
        &["--cpus", "'x'", "number"],
    );
    bad_input(
        "cpus-zero",
        &["simple", "--cpus", "0"],
        &["--cpus", "at least 1"],
    );
    bad_input(
        "cpus-many",
        &["simple", "--cpus", "100000"],
        &["--cpus", "at most"],
    );
    bad_input(
        "topo-shape",
        &["simple", "--topo", "2x2"],
        &["--topo", "2x2", "NODESxLLCSxCORESxTHREADS", "laptop"],
    );
    bad_input(
        "topo-zero",
        &["simple", "--topo", "0x1x1x1"],
        &["--topo", "at least 1"],
    );
    bad_input(
        "topo-name",
        &["simple", "--topo", "mainframe"],
        &["mainframe", "server"],
    );
    bad_input(
        "cpus-and-topo",
        &["simple", "--cpus", "2", "--topo", "laptop"],
        &["--cpus", "--topo"],
    );
}

#[test]
fn bad_duration() {
    bad_input(
        "dur-unit",
        &["simple", "--duration", "5q"],
        &["--duration", "5q", "10s"],
    );
    bad_input(
        "dur-word",
        &["simple", "--duration", "soon"],
        &["--duration", "soon"],
    );
    bad_input("dur-missing", &["simple", "--duration"], &["--duration"]);
}

#[test]
fn bad_kernel_knobs() {
    bad_input(
        "knob-key",
        &["simple", "--kernel", "foo=1"],
        &["--kernel", "foo", "hz", "dsp_max_loops"],
    );
    bad_input(
        "knob-form",
        &["simple", "--kernel", "hz"],
        &["--kernel", "KEY=VALUE"],
    );
    bad_input(
        "knob-value",
        &["simple", "--kernel", "hz=abc"],
        &["--kernel", "hz=abc", "integer"],
    );
    bad_input(
        "knob-range",
        &["simple", "--kernel", "hz=5"],
        &["hz=5", "1000"],
    );
    bad_input(
        "knob-cost",
        &["simple", "--kernel", "cost.nope=5"],
        &["cost.nope", "schedule"],
    );
    bad_input(
        "knob-batch",
        &["simple", "--kernel", "dsp_max_batch=0"],
        &["dsp_max_batch", "at least 1"],
    );
}

/// `nohz_full=` naming a CPU the machine does not have: the kernel rejects
/// the whole list ("nohz_full= or isolcpus= incorrect CPU range",
/// kernel/sched/isolation.c); scxsim must not silently accept it.
#[test]
fn nohz_full_outside_the_machine() {
    bad_input(
        "nohz-range",
        &["central", "--cpus", "2", "--kernel", "nohz_full=9"],
        &["nohz_full", "9"],
    );
}

#[test]
fn bad_seed() {
    bad_input(
        "seed-word",
        &["simple", "--seed", "abc"],
        &["--seed", "'abc'", "integer"],
    );
    bad_input(
        "seed-frac",
        &["simple", "--seed", "1.5"],
        &["--seed", "1.5"],
    );
    bad_input(
        "seed-big",
        &["simple", "--seed", "99999999999999999999999"],
        &["--seed", "99999999999999999999999"],
    );
    bad_input("seed-eq", &["simple", "--seed=-1"], &["--seed", "-1"]);
}

/// A negative number as the value of a long option (`--seed -1`,
/// `--duration -5s`) is that option's bad value, and the message must say
/// which option it was given to.
#[test]
fn negative_values_name_their_option() {
    bad_input("seed-neg", &["simple", "--seed", "-1"], &["--seed", "-1"]);
    bad_input(
        "dur-neg",
        &["simple", "--duration", "-5s"],
        &["--duration", "-5s"],
    );
}

#[test]
fn unknown_workload_preset() {
    bad_input(
        "preset",
        &["simple", "--workload", "nope"],
        &["nope", "two_runners", "fork_churn"],
    );
}

#[test]
fn missing_workload_file() {
    let dir = scratch("missing-wl");
    let path = dir.join("no-such-dir").join("w.json");
    let p = path.to_str().unwrap();
    bad_input("missing-wl-run", &["simple", "--workload", p], &[p, "file"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// An rt-app file with a syntax error and one with an unknown event key:
/// `file:line:column: what was expected` (the rt-app reader's format,
/// crates/scx-workload/src/rtapp/error.rs), pointing at the offending
/// token.
#[test]
fn invalid_rtapp_file_points_at_line_and_column() {
    let dir = scratch("rtapp");
    let missing_comma = dir.join("missing_comma.json");
    std::fs::write(
        &missing_comma,
        "{\n  \"tasks\": {\n    \"t\": {\n      \"run\": 1000\n      \"sleep\": 1000\n    }\n  }\n}\n",
    )
    .unwrap();
    let unknown_key = dir.join("unknown_key.json");
    std::fs::write(
        &unknown_key,
        "{\n  \"tasks\": {\n    \"t\": {\n      \"run\": 1000,\n      \"slep\": 1000\n    }\n  }\n}\n",
    )
    .unwrap();
    // The second line of each file's task body starts at column 7.
    let f = missing_comma.to_str().unwrap();
    let at = format!("{f}:5:7:");
    bad_input(
        "rtapp-syntax",
        &["simple", "--workload", f],
        &[&at, "expected"],
    );
    let f = unknown_key.to_str().unwrap();
    let at = format!("{f}:5:7:");
    bad_input(
        "rtapp-key",
        &["simple", "--workload", f],
        &[&at, "slep", "expected"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn trace_in_a_missing_directory() {
    bad_input(
        "trace-dir",
        &["simple", "--trace", "no-such-dir/t.txt"],
        &["no-such-dir/t.txt"],
    );
}

/// The `--ftrace` file cannot be created, while the `--trace` file (opened
/// first) could: the trace's temporary file must not stay behind.
#[test]
fn ftrace_in_a_missing_directory() {
    bad_input(
        "ftrace-dir",
        &["simple", "--ftrace", "no-such-dir/f.txt"],
        &["no-such-dir/f.txt"],
    );
}

/// `--report` and `--html` are written at the end of the run, but a path
/// that cannot be written is still bad input: it must be refused before
/// simulating (exit 2, nothing on stdout), like `--trace`.
#[test]
fn report_in_a_missing_directory() {
    bad_input(
        "report-dir",
        &["simple", "--report", "no-such-dir/r.json"],
        &["no-such-dir/r.json"],
    );
    bad_input(
        "html-dir",
        &["simple", "--html", "no-such-dir/r.html"],
        &["no-such-dir/r.html"],
    );
}

/// A report path that is a directory: refused, and no temporary file is
/// left next to it (the report is written to `<path>.json.tmp` first).
#[test]
fn report_path_that_is_a_directory() {
    let dir = scratch("report-is-dir");
    std::fs::create_dir(dir.join("out")).unwrap();
    let r = scxsim_in(&dir, &["simple", "--duration", "50ms", "--report", "out"]);
    assert_eq!(
        files_in(&dir),
        vec!["out".to_string()],
        "temporary file left behind"
    );
    assert_eq!(r.code, Some(2), "{}", r.err);
    assert_eq!(r.err.matches('\n').count(), 1, "{}", r.err);
    assert!(r.err.contains("out"), "{}", r.err);
    let _ = std::fs::remove_dir_all(&dir);
}

// ----------------------------------------------------------------------
// Help.

/// `scxsim <scheduler> -h` prints the real tool's help (its first line and
/// usage line from tools/sched_ext/scx_*.c) and exits 0.
#[test]
fn each_scheduler_prints_its_help() {
    let dir = scratch("help");
    for (sched, first, usage) in [
        (
            "simple",
            "A simple sched_ext scheduler.",
            "Usage: scx_simple",
        ),
        (
            "qmap",
            "A simple five-level FIFO queue sched_ext scheduler.",
            "Usage: scx_qmap",
        ),
        (
            "central",
            "A central FIFO sched_ext scheduler.",
            "Usage: scx_central",
        ),
        (
            "flatcg",
            "A flattened cgroup hierarchy sched_ext scheduler.",
            "Usage: scx_flatcg",
        ),
    ] {
        let r = scxsim_in(&dir, &[sched, "-h"]);
        assert_eq!(r.code, Some(0), "{sched} -h: {}", r.err);
        assert_eq!(r.out.lines().next(), Some(first), "{sched} -h:\n{}", r.out);
        assert!(r.out.contains(usage), "{sched} -h:\n{}", r.out);
        assert!(r.out.contains("-h            Display this help and exit"));
        // --help after a scheduler: its help, then scxsim's options.
        let r = scxsim_in(&dir, &[sched, "--help"]);
        assert_eq!(r.code, Some(0));
        assert!(
            r.out.contains(usage) && r.out.contains("--workload"),
            "{}",
            r.out
        );
    }
    assert!(files_in(&dir).is_empty());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn scxsim_help_explains_everything() {
    let dir = scratch("scxsim-help");
    let r = scxsim_in(&dir, &["--help"]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    for want in [
        "Usage: scxsim <SCHEDULER>",
        "simple",
        "qmap",
        "central",
        "flatcg",
        "--cpus",
        "--topo",
        "--workload",
        "--duration",
        "--seed",
        "--kernel",
        "--report",
        "--trace",
        "--quiet",
        "laptop",
        "server",
        "two_runners",
        "dsq_contention",
        "dsp_max_loops",
        "12 SCX_EXIT_ERROR_STALL",
    ] {
        assert!(r.out.contains(want), "--help lacks {want:?}:\n{}", r.out);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

// ----------------------------------------------------------------------
// Exit codes.

fn exit_of(name: &str, args: &[&str]) -> Run {
    let dir = scratch(name);
    let r = scxsim_in(&dir, args);
    assert!(!r.err.contains("panicked"), "{}", r.err);
    let _ = std::fs::remove_dir_all(&dir);
    r
}

/// A normal run ends with the loader's SIGINT: `SCX_EXIT_UNREG`, exit 0.
#[test]
fn normal_run_exits_0() {
    let r = exit_of("ok", &["simple", "--duration", "200ms", "--quiet"]);
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(
        r.err.ends_with("EXIT: unregistered from user space\n"),
        "{}",
        r.err
    );
    assert!(
        r.out
            .contains("sched_ext: BPF scheduler \"simple\" enabled"),
        "{}",
        r.out
    );
}

/// `scx_qmap -e 10` calls `scx_bpf_error()` after 10 enqueues:
/// `SCX_EXIT_ERROR_BPF`, exit 11.
#[test]
fn scx_bpf_error_exits_11() {
    let r = exit_of(
        "bpf-error",
        &["qmap", "-e", "10", "--duration", "500ms", "--quiet"],
    );
    assert_eq!(r.code, Some(11), "{}", r.err);
    assert!(
        r.err
            .contains("EXIT: scx_bpf_error (test triggering error)"),
        "{}",
        r.err
    );
}

/// `scx_qmap -l 100` (the reference console): the watchdog ejects it with
/// "runnable task stall", `SCX_EXIT_ERROR_STALL`, exit 12.
#[test]
fn stall_exits_12() {
    let r = exit_of(
        "stall",
        &["qmap", "-l", "100", "--duration", "12s", "--quiet"],
    );
    assert_eq!(r.code, Some(12), "{}", r.err);
    assert!(r.err.contains("EXIT: runnable task stall"), "{}", r.err);
    assert!(r.err.contains("DEBUG DUMP"), "{}", r.err);
}

/// The kernel before the dispatch-loop breaker (`dsp_max_loops=0`): the
/// CPU spins in `balance_one()` with interrupts off and the NMI watchdog
/// reports a hard lockup: exit 20; without the NMI watchdog nothing can
/// report it: exit 21.
#[test]
fn lockup_exits_20_and_silence_21() {
    let r = exit_of(
        "lockup",
        &[
            "qmap",
            "-l",
            "100",
            "--kernel",
            "dsp_max_loops=0",
            "--duration",
            "30s",
            "--quiet",
        ],
    );
    assert_eq!(r.code, Some(20), "{}", r.err);
    assert!(r.err.contains("hard LOCKUP"), "{}", r.err);
    let r = exit_of(
        "silent",
        &[
            "qmap",
            "-l",
            "100",
            "--kernel",
            "dsp_max_loops=0",
            "--kernel",
            "nmi_watchdog=0",
            "--duration",
            "30s",
            "--quiet",
        ],
    );
    assert_eq!(r.code, Some(21), "{}", r.err);
}

/// `--at TIME:ACTION`: bad actions and impossible hotplug sequences are
/// bad input.
#[test]
fn bad_timed_actions() {
    bad_input(
        "at-action",
        &["simple", "--at", "1s:reboot"],
        &["--at", "reboot"],
    );
    bad_input(
        "at-form",
        &["simple", "--at", "cpu-offline=1"],
        &["--at", "TIME:ACTION"],
    );
    bad_input(
        "at-range",
        &["simple", "--at", "10ms:cpu-offline=7"],
        &["--at", "CPU 7"],
    );
    bad_input(
        "at-last",
        &["simple", "--cpus", "1", "--at", "10ms:cpu-offline=0"],
        &["last online CPU"],
    );
}

/// SysRq-S through `--at`: the kernel's sysrq line, the scheduler disabled
/// with reason "disabled by sysrq-S", exit code 5. A CPU taken offline
/// without ops.cpu_offline(): scx_simple exits with the hotplug restart
/// code and its loader restarts it.
#[test]
fn timed_actions_run() {
    let dir = scratch("at-run");
    let r = scxsim_in(
        &dir,
        &[
            "simple",
            "--quiet",
            "--duration",
            "3s",
            "--at",
            "1s:cpu-offline=1",
            "--at",
            "2s:sysrq-s",
        ],
    );
    assert_eq!(r.code, Some(5), "{}", r.err);
    assert!(
        r.out.contains("] smpboot: CPU 1 is now offline"),
        "{}",
        r.out
    );
    assert!(r
        .out
        .contains("] sysrq: Disable sched_ext and revert all tasks to CFS"));
    assert!(r.err.contains(
        "EXIT: unregistered from the main kernel (cpu 1 going offline, exiting scheduler)"
    ));
    assert!(r.err.ends_with("EXIT: disabled by sysrq-S\n"), "{}", r.err);
    assert_eq!(
        r.out
            .matches("sched_ext: BPF scheduler \"simple\" enabled")
            .count(),
        2
    );
}

/// `--at TIME:sysrq-d`: the kernel logs the SysRq action, the dump goes to
/// the `sched_ext_dump` tracepoint (in `--ftrace` as trace-cmd prints it:
/// the line alone), and the scheduler keeps running to a normal end.
#[test]
fn sysrq_d_dumps_into_the_trace() {
    let dir = scratch("sysrq-d");
    let r = scxsim_in(
        &dir,
        &[
            "qmap",
            "--quiet",
            "--duration",
            "2s",
            "--at",
            "1s:sysrq-d",
            "--ftrace",
            "f.txt",
        ],
    );
    assert_eq!(r.code, Some(0), "{}", r.err);
    assert!(
        r.out
            .contains("[    1.000000] sysrq: Trigger sched_ext debug dump"),
        "{}",
        r.out
    );
    assert!(
        r.err.ends_with("EXIT: unregistered from user space\n"),
        "{}",
        r.err
    );
    let f = std::fs::read_to_string(dir.join("f.txt")).unwrap();
    let dump: Vec<&str> = f
        .lines()
        .filter_map(|l| {
            l.split_once(" sched_ext_dump: ")
                .map(|(_, d)| d.trim_start())
        })
        .collect();
    assert_eq!(
        dump.first(),
        Some(&"Debug dump triggered by SysRq-D"),
        "{f}"
    );
    // scx_qmap's ops.dump prints its FIFOs.
    assert!(
        dump.iter().any(|l| l.starts_with("QMAP FIFO[0]:")),
        "{dump:?}"
    );
    assert!(dump.contains(&"CPU states"), "{dump:?}");
    assert!(f.contains(" 1.000000000: sched_ext_dump:"), "{f}");
}

/// `--sysrq-s TIME` is `--at TIME:sysrq-s`: the disable lands at that
/// simulated time, with the kernel's console line and exit.
#[test]
fn sysrq_s_option() {
    let dir = scratch("sysrq-s");
    let r = scxsim_in(
        &dir,
        &["qmap", "--quiet", "--duration", "2s", "--sysrq-s", "1500ms"],
    );
    assert!(
        r.out
            .contains("[    1.500000] sysrq: Disable sched_ext and revert all tasks to CFS"),
        "{}",
        r.out
    );
    assert!(r.err.ends_with("EXIT: disabled by sysrq-S\n"), "{}", r.err);
    bad_input(
        "sysrq-s-bad",
        &["simple", "--sysrq-s", "soon"],
        &["--sysrq-s", "soon"],
    );
}
