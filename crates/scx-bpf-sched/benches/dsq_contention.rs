//! Speed of a compiled BPF scheduler in the simulator: the dsq_contention
//! workload (8 tasks looping 2 ms run / 1 ms sleep on 4 CPUs) under the
//! BPF FIFO test scheduler (`scx_sim_vtime.bpf.o --set fifo_mode=true`),
//! whole runs (boot, load, attach, run, detach). Prints the
//! simulated-time/wall-time ratio (target: at least 100x) and events per
//! second, next to the Rust `scx_simple -f` on the same shape.
//!
//! `cargo bench -p scx-bpf-sched --bench dsq_contention` (release profile).
//! Needs clang-19 to build the object.

#[path = "../tests/common/objects.rs"]
mod objects;

use criterion::{criterion_main, Criterion};
use scx_bpf_sched::knobs::Knob;
use scx_bpf_sched::{BpfTool, OpenOptions};
use scx_machine::clock::NSEC_PER_SEC;
use scx_machine::Topology;
use scx_scheds::tool::{make_tool, Tool};
use scxsim::run::{run_tool, RunConfig};
use std::sync::Arc;
use std::time::Instant;

const CPUS: usize = 4;

fn config(secs: u64) -> RunConfig {
    let mut cfg = RunConfig::new("scx_sim_vtime.bpf.o", Vec::new());
    cfg.topo = Topology::flat(CPUS).unwrap();
    cfg.workload = Arc::new(scx_workload::presets::build("dsq_contention", CPUS).unwrap());
    cfg.duration = secs * NSEC_PER_SEC;
    cfg.dmesg = false;
    cfg
}

/// The BPF FIFO scheduler's loader (the object is read and checked once;
/// each run loads it into a fresh VM when it attaches).
fn bpf_fifo(path: &str) -> BpfTool {
    let mut opts = OpenOptions::new(CPUS as u32);
    opts.knobs.push(Knob::parse("fifo_mode=true").unwrap());
    BpfTool::open(path, &opts).expect("open the object")
}

/// One whole run: (wall ns, events).
fn once(cfg: &RunConfig, tool: Box<dyn Tool>) -> (u64, u64) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let t = Instant::now();
    let res = run_tool(cfg, tool, &mut out, &mut err, None).unwrap();
    (t.elapsed().as_nanos() as u64, res.stats.events)
}

/// Median over `n` runs: (sim/wall ratio, events per wall second).
fn speed(cfg: &RunConfig, n: usize, tool: impl Fn() -> Box<dyn Tool>) -> (f64, f64) {
    let mut v: Vec<(u64, u64)> = (0..n).map(|_| once(cfg, tool())).collect();
    v.sort();
    let (wall, events) = v[n / 2];
    (
        cfg.duration as f64 / wall as f64,
        events as f64 / (wall as f64 / 1e9),
    )
}

fn bench(c: &mut Criterion) {
    let Some(path) = objects::object("scx_sim_vtime.bpf.o") else {
        return;
    };
    let fifo = bpf_fifo(&path);
    let mut g = c.benchmark_group("bpf");
    g.sample_size(20);
    let cfg = config(1);
    g.bench_function("dsq_contention (BPF FIFO, 4 CPUs, 1 s)", |b| {
        b.iter(|| once(&cfg, Box::new(fifo.clone())))
    });
    g.finish();
    println!("\nshape | sim/wall ratio | events per second");
    for secs in [1, 10] {
        let cfg = config(secs);
        let (ratio, eps) = speed(&cfg, 7, || Box::new(fifo.clone()));
        println!(
            "dsq_contention, BPF FIFO (scx_sim_vtime.bpf.o), {CPUS} CPUs, {secs} s | {ratio:.0}x | {:.1}M",
            eps / 1e6
        );
        let simple = || make_tool("simple", &["-f".to_string()]).unwrap();
        let (ratio, eps) = speed(&cfg, 7, simple);
        println!(
            "dsq_contention, Rust scx_simple -f, {CPUS} CPUs, {secs} s | {ratio:.0}x | {:.1}M",
            eps / 1e6
        );
    }
}

/// The criterion entry point.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
