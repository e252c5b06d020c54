//! Workloads: what the simulated tasks do.
//!
//! A [`Workload`] is plain data: the tasks to start (each with a behaviour
//! program of [`Step`]s), templates that tasks fork, the shared synchronisation
//! objects they use (condition variables, mutexes, barriers, timers), a
//! cgroup hierarchy, and events at fixed times (CPU hotplug, cgroup weight
//! changes). The kernel model (`scx-kernel`) executes programs; this crate
//! never schedules anything.
//!
//! Workloads come from [`presets`] (named, documented shapes such as
//! `two_runners` and `dsq_contention`) or from rt-app JSON files
//! ([`rtapp`]).
//!
//! ```
//! use scx_workload::presets;
//! let w = presets::build("two_runners", 4).unwrap();
//! assert_eq!(w.tasks.len(), 1);
//! assert_eq!(w.tasks[0].instances, 2);
//! ```

pub mod presets;
pub mod program;
pub mod rtapp;

pub use program::*;
