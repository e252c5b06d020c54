//! The core scheduler and the non-sched_ext scheduling classes.
//!
//! * [`core`]: `__schedule()`, the class loop, wakeups, fork, exit, the tick
//!   (kernel/sched/core.c).
//! * [`syscalls`]: attribute changes — affinity, nice, policy, cgroup, yield
//!   (kernel/sched/syscalls.c and friends).
//! * [`fair`]: the weighted fair class (kernel/sched/fair.c, CFS-style).
//! * [`rt`]: the real-time class (kernel/sched/rt.c).
//!
//! The sched_ext class lives in `crate::ext`.

pub mod core;
pub mod fair;
pub mod rt;
pub mod syscalls;
