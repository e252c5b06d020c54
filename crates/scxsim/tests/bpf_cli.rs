//! `scxsim OBJECT.bpf.o [--set NAME=VALUE]...`: compiled BPF schedulers
//! through the command line — exit codes, the console, knob errors, and
//! the one-line error for each kind of malformed object.

#[path = "../../scx-bpf-sched/tests/common/objects.rs"]
mod objects;

use std::process::{Command, Output};

/// Runs scxsim with `args`.
fn scxsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scxsim"))
        .args(args)
        .output()
        .expect("run scxsim")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A bad-input failure: exit code 2 and exactly one line on stderr,
/// `scxsim: ` and then the message; returns the message.
fn one_line_error(o: &Output) -> String {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(stdout(o).is_empty(), "no partial output");
    err.trim_end()
        .strip_prefix("scxsim: ")
        .expect("prefixed")
        .to_string()
}

/// A modified copy of object `name` written next to the built objects.
fn patched(name: &str, tag: &str, f: impl FnOnce(&mut Vec<u8>)) -> Option<String> {
    let src = objects::object(name)?;
    let mut bytes = std::fs::read(&src).unwrap();
    f(&mut bytes);
    let dst = format!("{src}.{tag}.bpf.o");
    std::fs::write(&dst, bytes).unwrap();
    Some(dst)
}

/// Replaces every occurrence of `from` by `to` (same length).
fn replace_all(bytes: &mut [u8], from: &[u8], to: &[u8]) {
    assert_eq!(from.len(), to.len());
    let mut i = 0;
    while i + from.len() <= bytes.len() {
        if &bytes[i..i + from.len()] == from {
            bytes[i..i + from.len()].copy_from_slice(to);
        }
        i += 1;
    }
}

/// File offset of section `name`'s contents (ELF64 little endian).
fn section_offset(b: &[u8], name: &str) -> usize {
    let rd = |o: usize, n: usize| {
        let mut w = [0u8; 8];
        w[..n].copy_from_slice(&b[o..o + n]);
        u64::from_le_bytes(w) as usize
    };
    let (shoff, shentsize, shnum, shstrndx) = (rd(0x28, 8), rd(0x3a, 2), rd(0x3c, 2), rd(0x3e, 2));
    let strtab = rd(shoff + shstrndx * shentsize + 0x18, 8);
    (0..shnum)
        .map(|i| shoff + i * shentsize)
        .find(|&h| {
            let n = &b[strtab + rd(h, 4)..];
            n.starts_with(name.as_bytes()) && n[name.len()] == 0
        })
        .map(|h| rd(h + 0x18, 8))
        .expect("section present")
}

#[test]
fn vtime_object_runs() {
    let Some(obj) = objects::object("scx_sim_vtime.bpf.o") else {
        return;
    };
    let o = scxsim(&[
        &obj,
        "--cpus",
        "4",
        "--workload",
        "dsq_contention",
        "--duration",
        "2s",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("sched_ext: BPF scheduler \"sim_vtime\" enabled"),
        "{out}"
    );
    assert!(
        out.lines().filter(|l| l.starts_with("direct=")).count() == 2,
        "{out}"
    );
    assert!(stderr(&o).contains("EXIT: unregistered from user space"));
}

/// `scxsim compare` takes BPF objects next to built-in schedulers, the
/// words after an object being its knobs; the FIFO knob changes what the
/// object does (its wakeup latency tail), a bad knob is a one-line error.
#[test]
fn compare_runs_objects_with_their_knobs() {
    let Some(obj) = objects::object("scx_sim_vtime.bpf.o") else {
        return;
    };
    let fifo = format!("{obj} fifo_mode=true");
    let common = [
        "--cpus",
        "4",
        "--workload",
        "dsq_contention",
        "--duration",
        "300ms",
    ];
    let mut args = vec!["compare", "simple", &obj, &fifo];
    args.extend(common);
    let o = scxsim(&args);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = stdout(&o);
    let header = out.lines().nth(1).unwrap_or_default();
    assert!(header.contains(&fifo), "{out}");
    let exits = out.lines().find(|l| l.starts_with("exit ")).unwrap();
    assert_eq!(exits.matches("UNREG").count(), 3, "{out}");
    let p99 = out
        .lines()
        .find(|l| l.starts_with("wakeup latency p99"))
        .unwrap();
    let cells: Vec<&str> = p99.split("  ").filter(|c| !c.trim().is_empty()).collect();
    assert_ne!(cells[2], cells[3], "the FIFO knob changed nothing: {out}");
    let mut bad = vec!["compare", "simple"];
    let nope = format!("{obj} nope=1");
    bad.push(&nope);
    bad.extend(common);
    let e = one_line_error(&scxsim(&bad));
    assert!(e.contains("has no global variable nope"), "{e}");
}

#[test]
fn knobs_change_behaviour_and_help_lists_them() {
    let Some(obj) = objects::object("scx_sim_vtime.bpf.o") else {
        return;
    };
    let h = scxsim(&[&obj, "-h"]);
    assert_eq!(h.status.code(), Some(0));
    assert!(stdout(&h).contains("--set fifo_mode=0"), "{}", stdout(&h));
    assert!(stdout(&h).contains("--set slice_ns=20000000"));
    let args = [
        obj.as_str(),
        "--cpus",
        "4",
        "--workload",
        "hogs",
        "--duration",
        "3s",
    ];
    let long = scxsim(&args);
    let short = scxsim(&[&args[..], &["--set", "slice_ns=1000000"]].concat());
    let queued = |o: &Output| {
        let out = stdout(o);
        let line = out
            .lines()
            .rfind(|l| l.starts_with("direct="))
            .unwrap()
            .to_string();
        line.split("queued=")
            .nth(1)
            .unwrap()
            .split(' ')
            .next()
            .unwrap()
            .parse::<u64>()
            .unwrap()
    };
    assert!(
        queued(&short) > 5 * queued(&long),
        "1 ms slices mean more enqueues"
    );
}

#[test]
fn looping_dispatch_ends_in_a_stall() {
    let Some(obj) = objects::object("scx_sim_queues.bpf.o") else {
        return;
    };
    let o = scxsim(&[
        &obj,
        "--set",
        "stall_after_dispatches=100",
        "--duration",
        "12s",
    ]);
    assert_eq!(o.status.code(), Some(12), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("EXIT: runnable task stall ("),
        "{}",
        stderr(&o)
    );
}

#[test]
fn looping_dispatch_without_the_breaker_is_a_hard_lockup() {
    let Some(obj) = objects::object("scx_sim_queues.bpf.o") else {
        return;
    };
    let o = scxsim(&[
        &obj,
        "--set",
        "stall_after_dispatches=100",
        "--kernel",
        "dsp_max_loops=0",
        "--duration",
        "30s",
    ]);
    assert_eq!(o.status.code(), Some(20), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Watchdog detected hard LOCKUP on cpu 0"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn runtime_fault_is_an_error_exit() {
    let Some(obj) = objects::object("scx_sim_central.bpf.o") else {
        return;
    };
    let o = scxsim(&[
        &obj,
        "--cpus",
        "4",
        "--set",
        "nr_cpu_ids=64",
        "--duration",
        "1s",
    ]);
    assert_eq!(o.status.code(), Some(10), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("EXIT: runtime error (BPF program fault in ops.dispatch(): section struct_ops/c_dispatch: insn "),
        "{err}"
    );
}

#[test]
fn knob_errors_are_one_line() {
    let Some(obj) = objects::object("scx_sim_vtime.bpf.o") else {
        return;
    };
    let e = one_line_error(&scxsim(&[&obj, "--set", "nope=1"]));
    assert_eq!(
        e,
        format!("--set nope=1: {obj} has no global variable nope (its knobs: slice_ns, fifo_mode)")
    );
    let e = one_line_error(&scxsim(&[&obj, "--set", "slice_ns=fast"]));
    assert!(
        e.starts_with("--set slice_ns=fast: expected an integer"),
        "{e}"
    );
    let e = one_line_error(&scxsim(&[&obj, "--set", "fifo_mode=300"]));
    assert_eq!(
        e,
        "--set fifo_mode=300: 300 does not fit in fifo_mode (1 bytes)"
    );
    let e = one_line_error(&scxsim(&[&obj, "--set", "slice_ns"]));
    assert_eq!(e, "--set slice_ns: expected NAME=VALUE");
    let e = one_line_error(&scxsim(&[&obj, "-f"]));
    assert!(
        e.contains("this object takes no flags (got '-f'); set knobs with --set NAME=VALUE"),
        "{e}"
    );
    let e = one_line_error(&scxsim(&["simple", "--set", "x=1"]));
    assert_eq!(e, "--set applies to BPF objects only, not to simple");
}

#[test]
fn truncated_object() {
    let Some(p) = patched("scx_sim_vtime.bpf.o", "trunc", |b| b.truncate(100)) else {
        return;
    };
    let e = one_line_error(&scxsim(&[&p]));
    assert!(e.starts_with(&format!("{p}: bad ELF: ")), "{e}");
}

#[test]
fn wrong_machine() {
    let Some(p) = patched("scx_sim_vtime.bpf.o", "x86", |b| b[18] = 62) else {
        return;
    };
    let e = one_line_error(&scxsim(&[&p]));
    assert_eq!(e, format!("{p}: not an eBPF object (e_machine 62)"));
}

#[test]
fn unknown_kfunc_names_section_and_instruction() {
    let Some(p) = patched("scx_sim_vtime.bpf.o", "kfunc", |b| {
        replace_all(b, b"scx_bpf_consume\0", b"scx_bpf_consumX\0")
    }) else {
        return;
    };
    let e = one_line_error(&scxsim(&[&p]));
    assert!(
        e.starts_with(&format!("{p}: section struct_ops/vt_dispatch: insn ")),
        "{e}"
    );
    assert!(e.ends_with(": unknown kfunc scx_bpf_consumX"), "{e}");
}

#[test]
fn bad_relocation_names_section_and_instruction() {
    let Some(p) = patched("scx_sim_vtime.bpf.o", "reloc", |b| {
        let off = section_offset(b, ".relstruct_ops/vt_enqueue");
        b[off + 8] = 99;
    }) else {
        return;
    };
    let e = one_line_error(&scxsim(&[&p]));
    assert!(
        e.starts_with(&format!("{p}: section struct_ops/vt_enqueue: insn ")),
        "{e}"
    );
    assert!(e.contains("bad relocation"), "{e}");
}

#[test]
fn object_without_an_ops_table() {
    let Some(obj) = objects::object("scx_sim_features.bpf.o") else {
        return;
    };
    let e = one_line_error(&scxsim(&[&obj]));
    assert_eq!(
        e,
        format!("{obj}: bad struct_ops: no sched_ext_ops table (section .struct_ops.link)")
    );
}

#[test]
fn missing_file() {
    let e = one_line_error(&scxsim(&["/nonexistent/sched.bpf.o"]));
    assert!(
        e.starts_with("/nonexistent/sched.bpf.o: cannot read: "),
        "{e}"
    );
}

/// The kernel's own scx_qmap object (built by
/// scripts/upstream-schedulers.sh; `SCX_BPF_EXTERNAL_OBJS`) run as its tool
/// is: `scxsim scx_qmap.bpf.o -l 100` ends in the stall, exit code 12.
#[test]
fn kernel_qmap_object_takes_its_tools_flags() {
    let Some(dir) = std::env::var_os("SCX_BPF_EXTERNAL_OBJS") else {
        eprintln!("SKIP: SCX_BPF_EXTERNAL_OBJS not set");
        return;
    };
    let obj = std::path::Path::new(&dir).join("scx_qmap.bpf.o");
    let obj = obj.to_string_lossy();
    let o = scxsim(&[&obj, "-l", "100", "--duration", "12s"]);
    assert_eq!(o.status.code(), Some(12), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("EXIT: runnable task stall (sh[38] failed to run for 7.080s)"),
        "{}",
        stderr(&o)
    );
    let e = one_line_error(&scxsim(&[&obj, "-l"]));
    assert_eq!(e, "scx_qmap: option requires an argument -- 'l'");
}
