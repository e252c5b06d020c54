//! The kernel's own example schedulers, compiled from Linux 6.12's
//! `tools/sched_ext` (their sources are not part of this repository), run
//! unmodified through the bridge and make exactly the decisions of the
//! Rust ports in `scx-scheds`: identical console output (but for the wall
//! time) and identical event traces, when the scheduler's own work costs
//! the same simulated time in both (`equal_cost()`).
//!
//! `SCX_BPF_EXTERNAL_OBJS` names a directory holding `scx_simple.bpf.o`,
//! `scx_qmap.bpf.o`, `scx_central.bpf.o` and `scx_flatcg.bpf.o`;
//! `scripts/upstream-schedulers.sh DIR` builds them (test.sh does, and sets
//! the variable); without it these tests print SKIP and pass.

mod common;

use common::{config, run, Outcome};
use scx_bpf_sched::knobs::Knob;
use scx_bpf_sched::{BpfTool, OpenOptions};
use scx_scheds::tool::make_tool;
use scxsim::run::RunConfig;
use std::path::PathBuf;

fn external(name: &str) -> Option<String> {
    let Some(dir) = std::env::var_os("SCX_BPF_EXTERNAL_OBJS") else {
        eprintln!("SKIP: SCX_BPF_EXTERNAL_OBJS not set");
        return None;
    };
    let p = PathBuf::from(dir).join(name);
    assert!(p.exists(), "{} missing", p.display());
    Some(p.to_string_lossy().into_owned())
}

/// The console without scxsim's wall-time summary line.
fn console(o: &Outcome) -> String {
    let err: Vec<&str> = o
        .stderr
        .lines()
        .filter(|l| !l.starts_with("scxsim: simulated"))
        .collect();
    format!("{}\n--\n{}", o.stdout, err.join("\n"))
}

/// `config()` with the scheduler's own work free: interpreted
/// instructions and kfunc calls cost nothing, so a BPF callback and its
/// Rust port's take the same simulated time (`op_call`) and the two runs
/// can be compared decision for decision.
fn equal_cost(name: &str, cpus: usize, workload: &str, ms: u64) -> RunConfig {
    let mut cfg = config(name, cpus, workload, ms);
    cfg.kernel.cost.set("bpf_insn", 0).unwrap();
    cfg.kernel.cost.set("kfunc", 0).unwrap();
    cfg
}

/// Runs upstream object `obj` with `knobs` and the Rust port `port` with
/// `args` under `cfg`; both must behave identically.
fn same_as_port(cfg: &RunConfig, obj: &str, knobs: &[&str], port: &str, args: &[&str]) {
    check_same(cfg, obj, knobs, &[], port, args);
}

/// Runs upstream object `obj` with its tool's `flags` (the loader's own
/// command line) against the port with the same flags.
fn flags_same_as_port(cfg: &RunConfig, obj: &str, port: &str, flags: &[&str]) {
    check_same(cfg, obj, &[], flags, port, flags);
}

/// `obj` opened with `knobs` and `loader_args`, the port `port` with
/// `port_args`: the same console (but for the wall time) and the same
/// event trace, with the scheduler really called.
fn check_same(
    cfg: &RunConfig,
    obj: &str,
    knobs: &[&str],
    loader_args: &[&str],
    port: &str,
    port_args: &[&str],
) {
    let Some(path) = external(obj) else { return };
    let bpf = run(cfg, open_upstream(cfg, &path, knobs, loader_args));
    let args: Vec<String> = port_args.iter().map(|s| s.to_string()).collect();
    let rust = run(cfg, make_tool(port, &args).unwrap());
    let what = format!("{obj} {knobs:?} {loader_args:?} vs {port} {args:?}");
    assert!(bpf.op_lines() > 1000, "{what}: {}", bpf.stderr);
    assert_eq!(console(&bpf), console(&rust), "{what}");
    assert!(bpf.trace == rust.trace, "{what}: traces differ");
}

#[test]
fn scx_simple_vtime_and_fifo() {
    let cfg = equal_cost("scx_simple", 4, "dsq_contention", 3000);
    same_as_port(&cfg, "scx_simple.bpf.o", &[], "simple", &[]);
    same_as_port(
        &cfg,
        "scx_simple.bpf.o",
        &["fifo_sched=true"],
        "simple",
        &["-f"],
    );
}

#[test]
fn scx_simple_restarts_across_cpu_hotplug() {
    let cfg = equal_cost("scx_simple", 4, "hotplug", 3000);
    same_as_port(&cfg, "scx_simple.bpf.o", &[], "simple", &[]);
}

#[test]
fn scx_qmap_dispatch_loop_stall() {
    let cfg = equal_cost("scx_qmap", 2, "default", 12_000);
    let knobs = ["dsp_inf_loop_after=100"];
    same_as_port(&cfg, "scx_qmap.bpf.o", &knobs, "qmap", &["-l", "100"]);
}

#[test]
fn scx_central_timer() {
    let cfg = equal_cost("scx_central", 4, "default", 3000);
    same_as_port(&cfg, "scx_central.bpf.o", &[], "central", &[]);
}

/// Opens upstream object `path` for `cfg`'s machine with `knobs` and
/// its tool's flags `loader_args`.
fn open_upstream(
    cfg: &RunConfig,
    path: &str,
    knobs: &[&str],
    loader_args: &[&str],
) -> Box<BpfTool> {
    let mut opts = OpenOptions::new(cfg.topo.nr_cpus() as u32);
    opts.knobs = knobs.iter().map(|k| Knob::parse(k).unwrap()).collect();
    opts.loader_args = loader_args.iter().map(|s| s.to_string()).collect();
    Box::new(BpfTool::open(path, &opts).unwrap())
}

/// scx_flatcg, whose loader prints its settings first and a block of
/// counters every `-i` seconds (2 by default; the restart after a hotplug
/// exit waits for that interval too): the same console and decisions as
/// the port, with knobs or with the tool's flags.
#[test]
fn scx_flatcg_cgroup_weights() {
    let cfg = equal_cost("scx_flatcg", 4, "cgroups", 3000);
    same_as_port(&cfg, "scx_flatcg.bpf.o", &[], "flatcg", &[]);
    same_as_port(
        &cfg,
        "scx_flatcg.bpf.o",
        &["cgrp_slice_ns=5000000"],
        "flatcg",
        &["-s", "5000"],
    );
    same_as_port(
        &cfg,
        "scx_flatcg.bpf.o",
        &["fifo_sched=true"],
        "flatcg",
        &["-f"],
    );
    flags_same_as_port(
        &cfg,
        "scx_flatcg.bpf.o",
        "flatcg",
        &["-i", "0.5", "-d", "-s", "3000"],
    );
    let cfg = equal_cost("scx_flatcg", 2, "hotplug", 5000);
    flags_same_as_port(&cfg, "scx_flatcg.bpf.o", "flatcg", &["-f"]);
}

/// Each of scx_qmap's flags that its loader turns into a global variable
/// (scx_qmap.c's getopt loop: `skel->rodata->...` / `skel->bss->...`),
/// given to the object as that knob: the same run as the port's with the
/// flag — a normal end, an error exit, a stall.
#[test]
fn scx_qmap_flags_as_knobs() {
    let cases: [(&[&str], &[&str]); 8] = [
        (&["-s", "5000"], &["slice_ns=5000000"]),
        (&["-e", "100"], &["test_error_cnt=100"]),
        (&["-t", "100"], &["stall_user_nth=100"]),
        (&["-T", "20"], &["stall_kernel_nth=20"]),
        (&["-b", "4"], &["dsp_batch=4"]),
        (&["-P"], &["print_shared_dsq=true"]),
        (&["-H"], &["highpri_boosting=true"]),
        (
            &["-S", "-t", "100"],
            &["suppress_dump=true", "stall_user_nth=100"],
        ),
    ];
    let cfg = equal_cost("scx_qmap", 2, "default", 8000);
    for (flags, knobs) in cases {
        same_as_port(&cfg, "scx_qmap.bpf.o", knobs, "qmap", flags);
    }
}

/// scx_central's `-s` (its loader sets `slice_ns`).
#[test]
fn scx_central_slice() {
    let cfg = equal_cost("scx_central", 4, "default", 3000);
    let knobs = ["slice_ns=5000000"];
    same_as_port(
        &cfg,
        "scx_central.bpf.o",
        &knobs,
        "central",
        &["-s", "5000"],
    );
}

/// The kernel's objects take their tools' own flags (`scxsim
/// scx_qmap.bpf.o -l 100`), including those that set `sched_ext_ops`
/// fields rather than globals (`-D` exit_dump_len, `-p` SWITCH_PARTIAL),
/// and — as the real loaders, which parse their flags once — a restarted
/// scheduler runs without them (scx_simple `-f` across hotplug restarts).
#[test]
fn kernel_objects_take_their_tools_flags() {
    let cfg = equal_cost("scx_qmap", 2, "default", 12_000);
    flags_same_as_port(&cfg, "scx_qmap.bpf.o", "qmap", &["-l", "100"]);
    flags_same_as_port(&cfg, "scx_qmap.bpf.o", "qmap", &["-t", "100", "-D", "600"]);
    flags_same_as_port(&cfg, "scx_qmap.bpf.o", "qmap", &["-p", "-b", "4"]);
    let cfg = equal_cost("scx_simple", 4, "hotplug", 3000);
    flags_same_as_port(&cfg, "scx_simple.bpf.o", "simple", &["-f"]);
    let cfg = equal_cost("scx_central", 4, "default", 2000);
    flags_same_as_port(&cfg, "scx_central.bpf.o", "central", &["-s", "3000"]);
}

/// A flag the tool does not have is the port's one-line error; `-h` is
/// the tool's help followed by the object's own description.
#[test]
fn kernel_object_flag_errors_and_help() {
    let Some(path) = external("scx_qmap.bpf.o") else {
        return;
    };
    let mut opts = OpenOptions::new(2);
    opts.loader_args = vec!["-x".into()];
    let e = BpfTool::open(&path, &opts).err().unwrap().to_string();
    assert_eq!(e, "scx_qmap: invalid option -- 'x'");
    opts.loader_args = vec!["-h".into()];
    let Err(scx_bpf_sched::OpenError::Help(h)) = BpfTool::open(&path, &opts) else {
        panic!("no help");
    };
    assert!(h.starts_with("A simple five-level FIFO queue"), "{h}");
    assert!(
        h.contains("scx_qmap is the kernel's scx_qmap: it takes scx_qmap's flags"),
        "{h}"
    );
    assert!(h.contains("--set dsp_inf_loop_after=0"), "{h}");
}

/// A sweep over machines and workloads: the kernel's example object `obj`
/// with its tool's `flags` makes the same decisions as its port —
/// byte-identical event traces and the same exit code — on a flat 2-CPU
/// machine and an SMT laptop, for every workload shape that stresses a
/// different path (fork/exec, wake storms, latency wakeups, nice levels,
/// fork churn, CPU hotplug). Durations keep each shape to a few thousand
/// scheduling events.
fn sweep(obj: &str, port: &str, flags: &[&str]) {
    let Some(path) = external(obj) else { return };
    let workloads = [
        ("default", 300),
        ("wake_storm", 60),
        ("schbench", 500),
        ("interactive_batch", 500),
        ("fork_churn", 150),
        ("hotplug", 2500),
    ];
    for topo in ["2", "1x1x4x2"] {
        for (wl, ms) in workloads {
            let mut cfg = equal_cost(port, 2, wl, ms);
            cfg.topo = scx_machine::Topology::parse(topo).unwrap();
            cfg.workload =
                std::sync::Arc::new(scx_workload::presets::build(wl, cfg.topo.nr_cpus()).unwrap());
            cfg.seed = 3;
            let bpf = run(&cfg, open_upstream(&cfg, &path, &[], flags));
            let args: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
            let rust = run(&cfg, make_tool(port, &args).unwrap());
            let what = format!("{obj} {flags:?} on {topo} with {wl}");
            assert_eq!(bpf.result.exit_code(), rust.result.exit_code(), "{what}");
            assert!(bpf.trace == rust.trace, "{what}: traces differ");
        }
    }
}

#[test]
fn sweep_scx_simple() {
    sweep("scx_simple.bpf.o", "simple", &[]);
    sweep("scx_simple.bpf.o", "simple", &["-f"]);
}

#[test]
fn sweep_scx_qmap() {
    sweep("scx_qmap.bpf.o", "qmap", &[]);
}

#[test]
fn sweep_scx_qmap_batch_and_boost() {
    sweep("scx_qmap.bpf.o", "qmap", &["-b", "8", "-H"]);
}

#[test]
fn sweep_scx_central() {
    sweep("scx_central.bpf.o", "central", &[]);
}

#[test]
fn sweep_scx_flatcg() {
    sweep("scx_flatcg.bpf.o", "flatcg", &[]);
}
