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
//!
//! ```
//! use scx_scheds::tool;
//! let t = tool::make_tool("qmap", &["-l".into(), "100".into()]).unwrap();
//! assert_eq!(t.program_name(), "scx_qmap");
//! ```

pub mod getopt;
pub mod qmap;
pub mod simple;
pub mod tool;
