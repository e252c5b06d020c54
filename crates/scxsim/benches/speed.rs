//! Speed benchmarks: simulated-time/wall-time ratios and events per second
//! for the benchmark workload shapes. Run with `cargo bench -p scxsim`;
//! the ratios are printed after criterion's timings and recorded in
//! BENCHMARKS.md.

use criterion::{criterion_main, Criterion};
use scx_machine::clock::NSEC_PER_SEC;
use scx_machine::Topology;
use scxsim::run::{run, RunConfig};
use std::sync::Arc;
use std::time::Instant;

fn config(sched: &str, args: &[&str], workload: &str, cpus: usize, secs: u64) -> RunConfig {
    let mut cfg = RunConfig::new(sched, args.iter().map(|s| s.to_string()).collect());
    cfg.topo = Topology::flat(cpus).unwrap();
    cfg.workload = Arc::new(scx_workload::presets::build(workload, cpus).unwrap());
    cfg.duration = secs * NSEC_PER_SEC;
    cfg.dmesg = false;
    cfg
}

/// [`config`] with kernel knobs set.
fn with_kernel(mut cfg: RunConfig, knobs: &[&str]) -> RunConfig {
    for kv in knobs {
        cfg.kernel.set_kv(kv).unwrap();
    }
    cfg
}

/// [`config`] on a topology preset.
fn on_topo(mut cfg: RunConfig, preset: &str, workload: &str) -> RunConfig {
    cfg.topo = Topology::parse(preset).unwrap();
    let n = cfg.topo.nr_cpus();
    cfg.workload = Arc::new(scx_workload::presets::build(workload, n).unwrap());
    cfg
}

/// One whole run; returns (wall ns, events).
fn once(cfg: &RunConfig) -> (u64, u64) {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let t = Instant::now();
    let res = run(cfg, &mut out, &mut err).unwrap();
    (t.elapsed().as_nanos() as u64, res.stats.events)
}

/// Median speed over `n` runs: (sim/wall ratio, events per wall second).
fn speed(cfg: &RunConfig, n: usize) -> (f64, f64) {
    let mut v: Vec<(u64, u64)> = (0..n).map(|_| once(cfg)).collect();
    v.sort();
    let (wall, events) = v[n / 2];
    (
        cfg.duration as f64 / wall as f64,
        events as f64 / (wall as f64 / 1e9),
    )
}

fn shapes() -> Vec<(&'static str, RunConfig)> {
    vec![
        (
            "two_runners (scx_simple, 4 CPUs, 1 s)",
            config("simple", &[], "two_runners", 4, 1),
        ),
        (
            "dsq_contention (scx_simple, 4 CPUs, 1 s)",
            config("simple", &[], "dsq_contention", 4, 1),
        ),
        (
            "two_runners (scx_simple, 4 CPUs, 10 s)",
            config("simple", &[], "two_runners", 4, 10),
        ),
        (
            "dsq_contention (scx_simple, 4 CPUs, 10 s)",
            config("simple", &[], "dsq_contention", 4, 10),
        ),
        (
            "default (scx_qmap, 2 CPUs, 10 s)",
            config("qmap", &[], "default", 2, 10),
        ),
        (
            "qmap -l 100 (2 CPUs, 10 s)",
            config("qmap", &["-l", "100"], "default", 2, 10),
        ),
        (
            "qmap -l 100, fast_forward=0 (2 CPUs, 10 s)",
            with_kernel(
                config("qmap", &["-l", "100"], "default", 2, 10),
                &["fast_forward=0"],
            ),
        ),
        (
            "qmap -l 100, dsp_max_loops=0 (2 CPUs, 30 s)",
            with_kernel(
                config("qmap", &["-l", "100"], "default", 2, 30),
                &["dsp_max_loops=0"],
            ),
        ),
        (
            "hogs (scx_qmap, server preset, 1 s)",
            on_topo(config("qmap", &[], "hogs", 2, 1), "server", "hogs"),
        ),
        (
            "hotplug (scx_simple, 4 CPUs, 3 s)",
            config("simple", &[], "hotplug", 4, 3),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("simulate");
    g.sample_size(20);
    for (name, cfg) in shapes().into_iter().take(2) {
        g.bench_function(name, |b| b.iter(|| once(&cfg)));
    }
    g.finish();
    println!("\nshape | sim/wall ratio | events per second");
    for (name, cfg) in shapes() {
        let (ratio, eps) = speed(&cfg, 7);
        println!("{name} | {ratio:.0}x | {:.2}M", eps / 1e6);
    }
}

/// The criterion entry point.
fn benches() {
    let mut c = Criterion::default().configure_from_args();
    bench(&mut c);
}

criterion_main!(benches);
