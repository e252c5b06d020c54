//! Runs real compiled sched_ext BPF scheduler objects (`*.bpf.o`) inside
//! scxsim, unmodified.
//!
//! The pipeline:
//! 1. [`obj::BpfObject::parse`] reads the ELF, our own [`btf`] and
//!    [`btf_ext`] parsers, programs, maps, global data and the
//!    `sched_ext_ops` table. It never executes anything.
//! 2. Optionally set `const volatile` knobs and resize arrays on the
//!    parsed object, like a skeleton loader.
//! 3. [`vm::Vm::load`] creates maps and data regions, applies relocations,
//!    resolves kfuncs against the host's table and applies CO-RE
//!    relocations against our kernel type table ([`vmlinux`]).
//! 4. The simulated kernel calls callbacks with [`vm::Vm::call_op`],
//!    implementing [`host::Host`] — the single effect boundary.
//!
//! ```no_run
//! use scx_bpf::{BpfObject, LoadEnv, Vm};
//! let bytes = std::fs::read("sched.bpf.o").unwrap();
//! let mut obj = BpfObject::parse("sched.bpf.o", &bytes).unwrap();
//! obj.set_var_u64("slice_ns", 5_000_000).unwrap();
//! let vm = Vm::load(obj, &LoadEnv::default()).unwrap();
//! assert!(vm.has_op("enqueue"));
//! ```

mod access;
pub mod bstr;
pub mod btf;
pub mod btf_ext;
pub mod core_relo;
pub mod error;
mod helpers;
pub mod host;
pub mod insn;
mod interp;
pub mod kfuncs;
pub mod maps;
pub mod mem;
pub mod obj;
pub mod vm;
pub mod vmlinux;
mod window;

pub use access::GlobalVar;
pub use error::{Fault, LoadError, LoadErrorKind};
pub use host::{
    CgroupId, Host, HostKfunc, KRet, KernelField, KernelObj, KernelPtr, KfuncCall, KfuncSet,
    MaskRef, NullHost, TaskId, TimerId,
};
pub use obj::{BpfObject, StructOps};
pub use vm::{Arg, BstrError, LoadEnv, OpHandle, Vm};
