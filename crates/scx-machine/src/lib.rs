//! The simulated machine underneath scxsim's kernel model.
//!
//! This crate holds what a real box provides before any kernel runs: the CPU
//! [`topology`] (NUMA nodes, last-level caches, cores, SMT threads), the
//! simulated [`clock`] in nanoseconds, the discrete-event [`events`] queue
//! ordered by `(time, sequence)`, the seeded [`rng`], and the [`cost`] model
//! that charges simulated time for kernel paths and scheduler callbacks.
//!
//! Design decision: nothing here knows about scheduling. The kernel model
//! (`scx-kernel`) owns the meaning of events; this crate only orders them, so
//! that one simulation is a pure function of its inputs and seed.
//!
//! ```
//! use scx_machine::topology::Topology;
//! let topo = Topology::parse("1x2x2x2").unwrap();
//! assert_eq!(topo.nr_cpus(), 8);
//! assert_eq!(topo.smt_siblings(0).iter().collect::<Vec<_>>(), vec![0, 4]);
//! ```

pub mod clock;
pub mod cost;
pub mod cpumask;
pub mod events;
pub mod rng;
pub mod topology;

pub use cpumask::Cpumask;
pub use topology::Topology;
