//! scx_wrr on the simulated machine: CPU time follows the weights, rounds
//! are as long as the turns in them, and the loader's flags work.

use scx_example_wrr::loader::WrrTool;
use scx_example_wrr::sched::Wrr;
use scx_example_wrr::workload::weighted_hogs;
use scx_kernel::Kernel;
use scx_machine::Topology;
use scx_scheds::tool::{with_sched, ToolError};
use scxsim::run::{run_tool, RunConfig, RunResult};
use std::sync::Arc;

/// Runs scx_wrr with `flags` on the demo workload on `cpus` CPUs for 10 s.
fn run_wrr(flags: &[&str], cpus: usize) -> RunResult {
    let flags: Vec<String> = flags.iter().map(|s| s.to_string()).collect();
    let tool = WrrTool::parse(&flags).expect("flags");
    let mut cfg = RunConfig::new("wrr", flags);
    cfg.topo = Topology::flat(cpus).expect("topology");
    cfg.workload = Arc::new(weighted_hogs(cpus));
    cfg.duration = 10_000_000_000;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    run_tool(&cfg, Box::new(tool), &mut out, &mut err, None).expect("run")
}

/// Total CPU time of the tasks whose name starts with `prefix`.
fn runtime(k: &Kernel, prefix: &str) -> f64 {
    let ns: u64 = k
        .tasks
        .iter()
        .filter(|t| t.comm.starts_with(prefix))
        .map(|t| t.sum_exec_runtime)
        .sum();
    ns as f64
}

#[test]
fn cpu_time_follows_weights() {
    for cpus in [1, 2, 4] {
        let res = run_wrr(&[], cpus);
        assert_eq!(res.exits[0].info.reason, "unregistered from user space");
        // nice -5 is weight 305, nice 0 is weight 100.
        let ratio = runtime(&res.kernel, "heavy") / runtime(&res.kernel, "light");
        assert!(
            (ratio - 3.05).abs() < 0.15,
            "{cpus} CPUs: heavy/light = {ratio:.2}"
        );
    }
}

#[test]
fn rounds_last_as_long_as_their_turns() {
    let mut res = run_wrr(&["-s", "5000"], 2);
    let c = with_sched(&mut res.kernel, |w: &Wrr| w.totals()).expect("wrr");
    // A round lasts about (2 × 15 ms + 2 × 5 ms) / 2 CPUs = 20 ms.
    assert!((400..=550).contains(&c.rounds), "{c:?}");
    assert!(c.consumed > 4 * c.rounds, "{c:?}");
}

#[test]
fn flags_and_help() {
    let tool = WrrTool::parse(&["-s".into(), "5000".into()]).expect("flags");
    assert_eq!(tool.base_slice_ns, 5_000_000);
    assert!(matches!(
        WrrTool::parse(&["-h".into()]),
        Err(ToolError::Help(_))
    ));
    assert!(matches!(
        WrrTool::parse(&["-x".into()]),
        Err(ToolError::Usage(_))
    ));
}
