//! Rust ports of the kernel's example sched_ext schedulers
//! (`tools/sched_ext` at v6.12.117), each in two halves like the original:
//! the BPF side as a [`scx_kernel::ops::Scheduler`], and the user-space
//! loader as a [`tool::Tool`] that parses the real tool's flags, fills the
//! scheduler's knobs, prints its periodic statistics and decides on
//! restarts.
//!
//! * [`simple`] — `scx_simple`: global weighted vtime or FIFO.
//! * [`qmap`] — `scx_qmap`: five weighted FIFOs, with its fault-injection
//!   knobs (`-l`, `-t`, `-T`, `-e`, ...).
//! * [`central`] — `scx_central`: one CPU makes every scheduling decision;
//!   the others run tasks with infinite slices (tickless with
//!   `nohz_full`), preempted by a 1 ms timer pinned to the central CPU.
//! * [`flatcg`] — `scx_flatcg`: cgroup `cpu.weight` hierarchy flattened
//!   into one level of compounded weights, per-cgroup vtime.
//!
//! ```
//! use scx_scheds::tool;
//! let t = tool::make_tool("qmap", &["-l".into(), "100".into()]).unwrap();
//! assert_eq!(t.program_name(), "scx_qmap");
//! ```

pub mod central;
pub mod flatcg;
pub mod getopt;
pub mod qmap;
pub mod simple;
pub mod tool;
