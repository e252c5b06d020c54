//! Shared support for scx-bpf-sched's tests: the test objects, whole runs
//! with a captured console and text trace, and a Rust port of
//! `scx_sim_vtime.bpf.c` for conformance tests.
#![allow(dead_code)]

pub mod objects;
pub mod vtime_port;

use scx_bpf_sched::knobs::Knob;
use scx_bpf_sched::{BpfTool, OpenOptions};
use scx_machine::clock::NSEC_PER_MSEC;
use scx_machine::Topology;
use scx_observe::text::TextTrace;
use scx_scheds::tool::Tool;
use scxsim::run::{run_tool, RunConfig, RunResult};
use std::io::Write;
use std::sync::{Arc, Mutex};

/// A `Write` into a buffer the test keeps a handle to.
#[derive(Clone, Default)]
pub struct SharedBuf(pub Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a run printed and produced.
pub struct Outcome {
    pub stdout: String,
    pub stderr: String,
    pub trace: String,
    pub result: RunResult,
}

impl Outcome {
    /// Exit kind of the last scheduler instance (0 if none).
    pub fn kind(&self) -> u32 {
        self.result.final_exit().map_or(0, |e| e.info.kind)
    }

    /// Lines of the trace that are scheduler callbacks.
    pub fn op_lines(&self) -> usize {
        self.trace.lines().filter(|l| l.contains(" op ")).count()
    }
}

/// A run configuration: `cpus` flat CPUs, preset `workload`, `ms` long.
pub fn config(name: &str, cpus: usize, workload: &str, ms: u64) -> RunConfig {
    let mut cfg = RunConfig::new(name, Vec::new());
    cfg.topo = Topology::flat(cpus).unwrap();
    cfg.workload = Arc::new(scx_workload::presets::build(workload, cpus).unwrap());
    cfg.duration = ms * NSEC_PER_MSEC;
    cfg
}

/// Runs `tool` under `cfg`, capturing the console and a text trace.
pub fn run(cfg: &RunConfig, tool: Box<dyn Tool>) -> Outcome {
    let trace = SharedBuf::default();
    let sink = Box::new(TextTrace::new(trace.clone()));
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let result = run_tool(cfg, tool, &mut out, &mut err, Some(sink)).expect("run");
    let trace = String::from_utf8(trace.0.lock().unwrap().clone()).unwrap();
    Outcome {
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
        trace,
        result,
    }
}

/// Opens built object `name` for `cfg`'s machine with `knobs`.
pub fn open(name: &str, cfg: &RunConfig, knobs: &[&str]) -> Option<BpfTool> {
    let path = objects::object(name)?;
    let mut opts = OpenOptions::new(cfg.topo.nr_cpus() as u32);
    opts.seed = cfg.seed;
    opts.knobs = knobs.iter().map(|k| Knob::parse(k).unwrap()).collect();
    Some(BpfTool::open(&path, &opts).expect("open"))
}

/// Runs built object `name` with `knobs` under `cfg`.
pub fn run_object(name: &str, cfg: &RunConfig, knobs: &[&str]) -> Option<Outcome> {
    let tool = open(name, cfg, knobs)?;
    Some(run(cfg, Box::new(tool)))
}
