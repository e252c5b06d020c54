//! `scx_wrr`: a weighted round-robin sched_ext scheduler, written as a
//! user of scxsim would write one.
//!
//! * [`sched`] — the BPF side: a [`scx_kernel::ops::Scheduler`] whose
//!   callbacks call kfuncs on [`scx_kernel::ops::Cx`].
//! * [`loader`] — the user-space side: a [`scx_scheds::tool::Tool`] with
//!   the tool's flags, help text and periodic statistics.
//! * [`workload`] — the demo workload: tasks of different weights.
//!
//! The binary (`src/main.rs`) runs it on the workload with a text trace and
//! a JSON report. `docs/writing-a-scheduler.md` builds this crate step by
//! step.

pub mod loader;
pub mod sched;
pub mod workload;
