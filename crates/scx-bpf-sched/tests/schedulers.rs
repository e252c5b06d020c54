//! Whole simulations of scx-bpf's C test schedulers through the bridge:
//! each runs end to end; the looping queue scheduler ends like the Rust
//! qmap port with `-l` (runnable task stall) and, without the kernel's
//! dispatch-loop breaker, in the hard lockup verdict; the central
//! scheduler's BPF timer drives it; program faults end in error exits.

mod common;

use common::{config, run, run_object};
use scx_kernel::ext::exit::{SCX_EXIT_ERROR, SCX_EXIT_ERROR_STALL, SCX_EXIT_UNREG};
use scx_kernel::fastfwd::Halt;
use scx_scheds::tool::make_tool;

const VTIME: &str = "scx_sim_vtime.bpf.o";
const QUEUES: &str = "scx_sim_queues.bpf.o";
const CENTRAL: &str = "scx_sim_central.bpf.o";

/// The numbers after `key=` in each stats line that has one.
fn series(stdout: &str, key: &str) -> Vec<u64> {
    let pat = format!("{key}=");
    stdout
        .lines()
        .filter_map(|l| {
            let rest = &l[l.find(&pat)? + pat.len()..];
            rest.split(' ').next()?.parse().ok()
        })
        .collect()
}

#[test]
fn vtime_runs_end_to_end() {
    let cfg = config(VTIME, 4, "dsq_contention", 3000);
    let Some(o) = run_object(VTIME, &cfg, &[]) else {
        return;
    };
    assert_eq!(o.kind(), SCX_EXIT_UNREG, "{}", o.stderr);
    assert!(
        o.stdout.contains("BPF scheduler \"sim_vtime\" enabled"),
        "{}",
        o.stdout
    );
    assert!(o.stderr.contains("EXIT: unregistered from user space"));
    let queued = series(&o.stdout, "queued");
    assert_eq!(queued.len(), 3, "one stats line per second: {}", o.stdout);
    assert!(queued.windows(2).all(|w| w[0] < w[1]), "{queued:?}");
    assert!(o.op_lines() > 1000, "callbacks ran");
}

#[test]
fn queues_runs_end_to_end() {
    let cfg = config(QUEUES, 2, "default", 3000);
    let Some(o) = run_object(QUEUES, &cfg, &[]) else {
        return;
    };
    assert_eq!(o.kind(), SCX_EXIT_UNREG, "{}", o.stderr);
    let dsp = series(&o.stdout, "dsp");
    assert!(dsp.last().copied().unwrap_or(0) > 100, "{}", o.stdout);
}

#[test]
fn queues_loop_knob_ends_in_the_same_stall_as_qmap_l() {
    let cfg = config(QUEUES, 2, "default", 12_000);
    let Some(bpf) = run_object(QUEUES, &cfg, &["stall_after_dispatches=100"]) else {
        return;
    };
    let mut qcfg = config("qmap", 2, "default", 12_000);
    qcfg.sched_args = vec!["-l".into(), "100".into()];
    let rust = run(&qcfg, make_tool("qmap", &qcfg.sched_args).unwrap());
    assert_eq!(rust.kind(), SCX_EXIT_ERROR_STALL);
    assert_eq!(bpf.kind(), SCX_EXIT_ERROR_STALL, "{}", bpf.stderr);
    assert_eq!(bpf.result.exit_code(), rust.result.exit_code());
    assert!(
        bpf.stderr.contains("EXIT: runnable task stall ("),
        "{}",
        bpf.stderr
    );
    assert!(bpf.stdout.contains("disabled (runnable task stall)"));
    assert!(
        bpf.stderr.contains("\nqueues: enq=104 dsp=100\n"),
        "ops.dump() wrote to the debug dump through scx_bpf_dump_bstr: {}",
        bpf.stderr
    );
    assert!(
        bpf.result.stats.dispatch_loop_breaks > 1000,
        "the breaker kept the looping CPU alive"
    );
}

#[test]
fn queues_loop_without_the_breaker_is_a_hard_lockup() {
    let mut cfg = config(QUEUES, 2, "default", 30_000);
    cfg.kernel.set_kv("dsp_max_loops=0").unwrap();
    let Some(o) = run_object(QUEUES, &cfg, &["stall_after_dispatches=100"]) else {
        return;
    };
    assert!(
        matches!(o.result.halt, Some(Halt::HardLockup { .. })),
        "{}",
        o.stderr
    );
    assert_eq!(o.result.exit_code(), 20);
    assert!(
        o.stdout.contains("Watchdog detected hard LOCKUP on cpu"),
        "{}",
        o.stdout
    );
    assert!(
        o.result.stats.fast_forwarded > 0,
        "the scheduler's state digest lets the kernel fast-forward"
    );
}

#[test]
fn central_timer_drives_the_scheduler() {
    let cfg = config(CENTRAL, 4, "dsq_contention", 2000);
    let Some(o) = run_object(CENTRAL, &cfg, &[]) else {
        return;
    };
    assert_eq!(o.kind(), SCX_EXIT_UNREG, "{}", o.stderr);
    let timer = series(&o.stdout, "timer");
    // A 1 ms timer over ~1 s between the first two stats lines.
    let per_second = timer[1] - timer[0];
    assert!((990..=1010).contains(&per_second), "{timer:?}");
    assert!(series(&o.stdout, "handed").last() > Some(&1000));
    // 2 ms bursts never outlive the 10 ms slice: no preemption kicks.
    assert_eq!(series(&o.stdout, "kicks").last(), Some(&0), "{}", o.stdout);
    // Hogs do: the timer kicks each of the three other CPUs once its task
    // has run 10 ms, seen at the next 1 ms timer run: ~3 × 1000 / 10.5
    // kicks per second.
    let cfg = config(CENTRAL, 4, "hogs", 2000);
    let o = run_object(CENTRAL, &cfg, &[]).expect("built above");
    let kicks = series(&o.stdout, "kicks");
    let per_second = kicks[1] - kicks[0];
    assert!((250..=300).contains(&per_second), "{kicks:?}");
}

#[test]
fn out_of_bounds_access_is_an_error_exit_naming_the_instruction() {
    // nr_cpu_ids beyond the (machine-sized) arrays: ARRAY_ELEM_PTR's bound
    // check passes and the load runs past the end of want_task[].
    let cfg = config(CENTRAL, 4, "dsq_contention", 1000);
    let Some(o) = run_object(CENTRAL, &cfg, &["nr_cpu_ids=64"]) else {
        return;
    };
    assert_eq!(o.kind(), SCX_EXIT_ERROR, "{}", o.stderr);
    let msg = &o.result.final_exit().unwrap().info.msg;
    assert!(
        msg.starts_with(
            "BPF program fault in ops.dispatch(): section struct_ops/c_dispatch: insn "
        ),
        "{msg}"
    );
    assert!(
        msg.contains("out-of-bounds access of 1 bytes at 0x"),
        "{msg}"
    );
    assert!(o.stderr.contains("DEBUG DUMP"));
    assert!(o.result.sim_ns >= cfg.duration, "the simulation carries on");
}

#[test]
fn runaway_program_is_an_error_exit() {
    let cfg = config(VTIME, 2, "default", 500);
    let Some(path) = common::objects::object(VTIME) else {
        return;
    };
    let mut opts = scx_bpf_sched::OpenOptions::new(2);
    opts.insn_budget = 5;
    let tool = scx_bpf_sched::BpfTool::open(&path, &opts).unwrap();
    let o = run(&cfg, Box::new(tool));
    let info = &o.result.final_exit().unwrap().info;
    assert_eq!(info.kind, SCX_EXIT_ERROR);
    assert!(
        info.msg
            .ends_with("runaway program: instruction budget 5 exhausted"),
        "{}",
        info.msg
    );
}

#[test]
fn runs_are_deterministic() {
    let cfg = config(QUEUES, 2, "default", 1500);
    let Some(a) = run_object(QUEUES, &cfg, &[]) else {
        return;
    };
    let b = run_object(QUEUES, &cfg, &[]).unwrap();
    assert_eq!(a.stdout, b.stdout);
    assert_eq!(a.trace, b.trace);
    assert!(a.trace.len() > 10_000);
}
