//! scxsim's kernel model: a simulated Linux 6.12 scheduler core with the
//! sched_ext class, driven by a discrete-event loop.
//!
//! * [`kernel::Kernel`] — all simulated state and the event loop.
//! * [`sched`] — `__schedule()`, wakeups, the tick, the fair and RT classes.
//! * [`ext`] — the sched_ext core, one module per kernel concept.
//! * [`ops`] — the scheduler-facing API: the [`ops::Scheduler`] trait
//!   (`struct sched_ext_ops`) and [`ops::Cx`] (the kfuncs).
//! * [`irq`], [`timer`], [`workqueue`] — interrupts and the CPU execution
//!   model, hrtimers, kworkers.
//! * [`exec`] — executing workload programs; [`world`] — booting.
//!
//! Design decision: the kernel is one struct with index-addressed arenas
//! (tasks, DSQs, list links) and no shared ownership, so a run is a pure
//! function of its inputs and seed and many runs can proceed in parallel.
//! The scheduler object is held separately and lent to each callback, so a
//! callback's `&mut self` and the kernel's state never alias.
//!
//! ```
//! use scx_kernel::{config::KernelConfig, kernel::Kernel};
//! use scx_machine::Topology;
//! let mut k = Kernel::new(KernelConfig::default(), Topology::flat(2).unwrap(), 1);
//! k.boot(None, 1).unwrap();
//! k.run_until(10_000_000);
//! assert!(k.stats.events > 0);
//! ```

pub mod config;
pub mod consts;
pub mod exec;
pub mod ext;
pub mod fastfwd;
pub mod hotplug;
pub mod irq;
pub mod kernel;
pub mod list;
pub mod lock;
pub mod lockup;
pub mod ops;
pub mod rq;
pub mod sched;
pub mod task;
pub mod timer;
pub mod workqueue;
pub mod world;

pub use kernel::Kernel;
