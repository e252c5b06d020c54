//! The bridge that runs real compiled sched_ext BPF objects (`*.bpf.o`) in
//! scxsim's simulated kernel.
//!
//! * [`sched::BpfScheduler`] — a loaded object as a
//!   [`scx_kernel::ops::Scheduler`]: each `sched_ext_ops` callback runs
//!   the object's program in the scx-bpf interpreter.
//! * [`host::KernelHost`] — scx-bpf's [`scx_bpf::Host`] over the kernel's
//!   kfunc surface [`scx_kernel::ops::Cx`]: every kfunc a program calls is
//!   the `Cx` method a Rust scheduler would call, with the same checks,
//!   error exits and messages.
//! * [`loader::BpfTool`] — the user-space loader
//!   ([`scx_scheds::tool::Tool`]): knobs (`--set NAME=VALUE`), the
//!   kernel example tools' own flags for their objects ([`toolflags`]),
//!   statistics from maps and global data, ring buffers, restarts.
//!
//! Design decision: a BPF scheduler is just another implementor of the ops
//! API, so the kernel model cannot tell it from a Rust port — watchdog,
//! exits, dumps, traces and fast-forwarding work unchanged. The one thing
//! the bridge adds is the response to what a verifier would have caught:
//! a program fault (out-of-bounds access, runaway loop, leaked reference)
//! becomes an scx error exit, never a simulator failure. Fast-forwarding
//! stays exact because the VM counts every change to the program's
//! persistent state ([`scx_bpf::Vm::state_generation`]) and that count is
//! the scheduler's [`scx_kernel::ops::Scheduler::state_digest`].
//!
//! ```no_run
//! use scx_bpf_sched::loader::{BpfTool, OpenOptions};
//! use scx_bpf_sched::knobs::Knob;
//! let mut opts = OpenOptions::new(4);
//! opts.knobs.push(Knob::parse("slice_ns=5000000").unwrap());
//! let tool = BpfTool::open("scx_sim_vtime.bpf.o", &opts).unwrap();
//! // scxsim::run::run_tool(&cfg, Box::new(tool), &mut out, &mut err, None)
//! # let _ = tool;
//! ```

pub mod fields;
pub mod host;
pub mod iters;
pub mod knobs;
pub mod loader;
pub mod sched;
pub mod stats;
pub mod toolflags;

pub use loader::{BpfTool, OpenError, OpenOptions};
pub use sched::BpfScheduler;
