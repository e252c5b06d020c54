//! scxsim: run a sched_ext scheduler on a simulated machine and workload
//! and see what the Linux 6.12 kernel would do.
//!
//! This crate is the front door: [`run::RunConfig`] describes a run,
//! [`run::run`] executes it the way the scheduler's own loader would (load,
//! attach, print statistics every interval, report the exit, restart on
//! request) while the simulated kernel prints its log, and
//! [`report`] writes the JSON report. The `scxsim` binary (`main.rs`) only
//! parses arguments and maps results to exit codes.
//!
//! ```
//! use scxsim::run::{RunConfig, run};
//! let mut cfg = RunConfig::new("simple", vec![]);
//! cfg.duration = 200_000_000; // 0.2 s
//! let mut out = Vec::new();
//! let mut err = Vec::new();
//! let res = run(&cfg, &mut out, &mut err).unwrap();
//! assert_eq!(res.final_exit().unwrap().info.reason, "unregistered from user space");
//! ```

pub mod compare;
pub mod exitcode;
pub mod outputs;
pub mod report;
pub mod run;
