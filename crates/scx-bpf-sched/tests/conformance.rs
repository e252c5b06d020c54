//! The bridge is faithful: a BPF object and a line-by-line Rust port of it
//! make the same decisions on the same workload (identical event traces),
//! and one source compiled against two kernel headers with different
//! `task_struct` layouts (CO-RE) behaves identically in the full
//! simulation.
//!
//! The kernel model charges no per-instruction cost for BPF code yet, so
//! BPF and Rust callbacks cost the same simulated time; `cost.bpf_insn=0`
//! keeps these comparisons exact once it does.

mod common;

use common::vtime_port::VtimePortTool;
use common::{config, run, run_object};
use scxsim::run::RunConfig;

const VTIME: &str = "scx_sim_vtime.bpf.o";
const VTIME_ALT: &str = "scx_sim_vtime.alt.bpf.o";

fn cfg(cpus: usize, workload: &str, ms: u64) -> RunConfig {
    let mut c = config(VTIME, cpus, workload, ms);
    c.kernel.set_kv("cost.bpf_insn=0").unwrap();
    c
}

/// The first line where two traces differ, for the failure message.
fn first_difference(a: &str, b: &str) -> String {
    match a.lines().zip(b.lines()).position(|(x, y)| x != y) {
        Some(i) => format!(
            "line {i}:\n  bpf:  {}\n  rust: {}",
            a.lines().nth(i).unwrap(),
            b.lines().nth(i).unwrap()
        ),
        None => format!("lengths {} vs {}", a.lines().count(), b.lines().count()),
    }
}

fn bpf_matches_rust(cpus: usize, workload: &str, fifo: bool) {
    let c = cfg(cpus, workload, 2000);
    let knobs: &[&str] = if fifo { &["fifo_mode=true"] } else { &[] };
    let Some(bpf) = run_object(VTIME, &c, knobs) else {
        return;
    };
    let rust = run(&c, Box::new(VtimePortTool { fifo_mode: fifo }));
    assert!(bpf.op_lines() > 1000, "a real workload ran");
    assert!(
        bpf.trace == rust.trace,
        "{workload}, fifo={fifo}: {}",
        first_difference(&bpf.trace, &rust.trace)
    );
    assert_eq!(bpf.result.stats.events, rust.result.stats.events);
}

#[test]
fn vtime_bpf_and_rust_port_decide_alike_on_dsq_contention() {
    bpf_matches_rust(4, "dsq_contention", false);
}

#[test]
fn fifo_bpf_and_rust_port_decide_alike_on_dsq_contention() {
    bpf_matches_rust(4, "dsq_contention", true);
}

#[test]
fn vtime_bpf_and_rust_port_decide_alike_on_the_default_workload() {
    bpf_matches_rust(2, "default", false);
}

#[test]
fn core_same_source_two_layouts_same_simulation() {
    let c = cfg(4, "interactive_batch", 2000);
    let Some(ours) = run_object(VTIME, &c, &[]) else {
        return;
    };
    let alt = run_object(VTIME_ALT, &c, &[]).unwrap();
    assert!(ours.op_lines() > 1000);
    assert!(
        ours.trace == alt.trace,
        "{}",
        first_difference(&ours.trace, &alt.trace)
    );
    assert_eq!(ours.stdout, alt.stdout);
}
