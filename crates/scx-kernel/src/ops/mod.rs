//! The scheduler-facing API: `struct sched_ext_ops` as a Rust trait, and the
//! kfunc surface ([`Cx`]) a scheduler calls back into.
//!
//! A scheduler — a Rust port, a user's own scheduler, or a loaded BPF
//! object — implements [`Scheduler`]. Like a BPF struct_ops table, it
//! declares which callbacks exist ([`OpsInfo::implemented`]): the kernel
//! behaves differently when an op is absent (no `enqueue` means the global
//! DSQ, no `select_cpu` means the built-in selection), so absence is part of
//! the API, not a default method body.
//!
//! Every callback receives `&mut Cx`, the kfunc surface. The kernel enforces
//! the kfunc-allowed mask of the op in progress and turns misuse into the
//! kernel's scx error, never a panic.
//!
//! ```
//! use scx_kernel::ops::*;
//! use scx_kernel::consts::*;
//!
//! /// A global FIFO: everything goes to one shared DSQ.
//! struct Fifo;
//! impl Scheduler for Fifo {
//!     fn info(&self) -> OpsInfo {
//!         OpsInfo::new("fifo", &[Op::Enqueue, Op::Dispatch, Op::Init])
//!     }
//!     fn init(&mut self, cx: &mut Cx) -> i32 {
//!         cx.create_dsq(0, -1)
//!     }
//!     fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
//!         cx.dispatch(p, 0, SCX_SLICE_DFL, enq_flags);
//!     }
//!     fn dispatch(&mut self, cx: &mut Cx, _cpu: i32, _prev: Option<Task>) {
//!         cx.consume(0);
//!     }
//! }
//! ```

mod cx;
pub mod storage;

pub use cx::{Cx, DsqIter, RqView, TaskRef};
pub use scx_observe::Op;
pub use storage::{BpfQueue, PerCpu, TaskStorage};

use scx_machine::Cpumask;

/// A task handle as callbacks receive it (`struct task_struct *`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Task(pub u32);

/// A cgroup handle (`struct cgroup *`), by cgroup index (0 = root).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cgroup(pub u32);

/// A set of ops, by [`Op::bit`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpSet(pub u64);

impl OpSet {
    /// The set of `ops`.
    pub fn of(ops: &[Op]) -> OpSet {
        OpSet(ops.iter().fold(0, |m, o| m | o.bit()))
    }

    /// Membership.
    pub fn has(self, op: Op) -> bool {
        self.0 & op.bit() != 0
    }

    /// Adds `op`.
    pub fn insert(&mut self, op: Op) {
        self.0 |= op.bit();
    }
}

/// The non-callback fields of `struct sched_ext_ops` plus which callbacks
/// are implemented.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpsInfo {
    /// `ops.name`.
    pub name: String,
    /// `ops.flags` (`SCX_OPS_*`).
    pub flags: u64,
    /// `ops.dispatch_max_batch` (0 = default).
    pub dispatch_max_batch: u32,
    /// `ops.timeout_ms` (0 = 30 s).
    pub timeout_ms: u32,
    /// `ops.exit_dump_len` (0 = 32768).
    pub exit_dump_len: u32,
    /// `ops.hotplug_seq` (0 = not checked).
    pub hotplug_seq: u64,
    /// Callbacks present in the table.
    pub implemented: OpSet,
}

impl OpsInfo {
    /// Info for `name` with callbacks `ops` and every other field zero.
    pub fn new(name: &str, ops: &[Op]) -> OpsInfo {
        OpsInfo {
            name: name.to_string(),
            flags: 0,
            dispatch_max_batch: 0,
            timeout_ms: 0,
            exit_dump_len: 0,
            hotplug_seq: 0,
            implemented: OpSet::of(ops),
        }
    }
}

/// `struct scx_init_task_args`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InitTaskArgs {
    /// True when called from fork, false when the scheduler is loading.
    pub fork: bool,
    /// The task's cgroup.
    pub cgroup: Cgroup,
}

/// `struct scx_exit_task_args`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExitTaskArgs {
    /// True if the task never left the INIT state (fork cancelled).
    pub cancelled: bool,
}

/// `struct scx_cpu_release_args`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuReleaseArgs {
    /// `SCX_CPU_PREEMPT_*`.
    pub reason: u32,
    /// The task about to run.
    pub task: Task,
}

/// `struct scx_cgroup_init_args`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CgroupInitArgs {
    /// The cgroup's `cpu.weight`.
    pub weight: u32,
}

/// `struct scx_dump_ctx`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DumpCtx {
    /// Exit kind being dumped.
    pub kind: u32,
    /// Exit code.
    pub exit_code: i64,
    /// Reason string.
    pub reason: String,
    /// ktime (ns) when dumping started.
    pub at_ns: u64,
    /// jiffies when dumping started.
    pub at_jiffies: u64,
}

/// `struct scx_exit_info` as `ops.exit()` sees it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExitInfo {
    /// `enum scx_exit_kind` value.
    pub kind: u32,
    /// Exit code.
    pub exit_code: i64,
    /// Reason string.
    pub reason: String,
    /// Backtrace stand-in (one frame per line).
    pub bt: Vec<String>,
    /// Message.
    pub msg: String,
    /// Debug dump (error kinds only).
    pub dump: String,
}

/// `struct sched_ext_ops`: every 6.12 callback.
///
/// Default method bodies exist only so implementors can leave out what they
/// do not implement; whether the kernel calls an op is decided solely by
/// [`OpsInfo::implemented`]. The kfunc context of each op (mask, argument
/// tasks) is as in the kernel; see spec ops.md.
#[allow(unused_variables)]
pub trait Scheduler: std::any::Any {
    /// The struct_ops fields. Read once, when the scheduler is attached.
    fn info(&self) -> OpsInfo;

    /// `s32 select_cpu(p, prev_cpu, wake_flags)`.
    fn select_cpu(&mut self, cx: &mut Cx, p: Task, prev_cpu: i32, wake_flags: u64) -> i32 {
        prev_cpu
    }
    /// `void enqueue(p, enq_flags)`.
    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {}
    /// `void dequeue(p, deq_flags)`.
    fn dequeue(&mut self, cx: &mut Cx, p: Task, deq_flags: u64) {}
    /// `void dispatch(cpu, prev)`.
    fn dispatch(&mut self, cx: &mut Cx, cpu: i32, prev: Option<Task>) {}
    /// `void tick(p)`.
    fn tick(&mut self, cx: &mut Cx, p: Task) {}
    /// `void runnable(p, enq_flags)`.
    fn runnable(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {}
    /// `void running(p)`.
    fn running(&mut self, cx: &mut Cx, p: Task) {}
    /// `void stopping(p, runnable)`.
    fn stopping(&mut self, cx: &mut Cx, p: Task, runnable: bool) {}
    /// `void quiescent(p, deq_flags)`.
    fn quiescent(&mut self, cx: &mut Cx, p: Task, deq_flags: u64) {}
    /// `bool yield(from, to)`.
    fn yield_(&mut self, cx: &mut Cx, from: Task, to: Option<Task>) -> bool {
        false
    }
    /// `bool core_sched_before(a, b)`.
    fn core_sched_before(&mut self, cx: &mut Cx, a: Task, b: Task) -> bool {
        false
    }
    /// `void set_weight(p, weight)`.
    fn set_weight(&mut self, cx: &mut Cx, p: Task, weight: u32) {}
    /// `void set_cpumask(p, cpumask)`.
    fn set_cpumask(&mut self, cx: &mut Cx, p: Task, cpumask: &Cpumask) {}
    /// `void update_idle(cpu, idle)`.
    fn update_idle(&mut self, cx: &mut Cx, cpu: i32, idle: bool) {}
    /// `void cpu_acquire(cpu, args)`; `args` is NULL in 6.12.
    fn cpu_acquire(&mut self, cx: &mut Cx, cpu: i32) {}
    /// `void cpu_release(cpu, args)`.
    fn cpu_release(&mut self, cx: &mut Cx, cpu: i32, args: &CpuReleaseArgs) {}
    /// `s32 init_task(p, args)`.
    fn init_task(&mut self, cx: &mut Cx, p: Task, args: &InitTaskArgs) -> i32 {
        0
    }
    /// `void exit_task(p, args)`.
    fn exit_task(&mut self, cx: &mut Cx, p: Task, args: &ExitTaskArgs) {}
    /// `void enable(p)`.
    fn enable(&mut self, cx: &mut Cx, p: Task) {}
    /// `void disable(p)`.
    fn disable(&mut self, cx: &mut Cx, p: Task) {}
    /// `void dump(ctx)`.
    fn dump(&mut self, cx: &mut Cx, dctx: &DumpCtx) {}
    /// `void dump_cpu(ctx, cpu, idle)`.
    fn dump_cpu(&mut self, cx: &mut Cx, dctx: &DumpCtx, cpu: i32, idle: bool) {}
    /// `void dump_task(ctx, p)`.
    fn dump_task(&mut self, cx: &mut Cx, dctx: &DumpCtx, p: Task) {}
    /// `s32 cgroup_init(cgrp, args)`.
    fn cgroup_init(&mut self, cx: &mut Cx, cgrp: Cgroup, args: &CgroupInitArgs) -> i32 {
        0
    }
    /// `void cgroup_exit(cgrp)`.
    fn cgroup_exit(&mut self, cx: &mut Cx, cgrp: Cgroup) {}
    /// `s32 cgroup_prep_move(p, from, to)`.
    fn cgroup_prep_move(&mut self, cx: &mut Cx, p: Task, from: Cgroup, to: Cgroup) -> i32 {
        0
    }
    /// `void cgroup_move(p, from, to)`.
    fn cgroup_move(&mut self, cx: &mut Cx, p: Task, from: Cgroup, to: Cgroup) {}
    /// `void cgroup_cancel_move(p, from, to)`.
    fn cgroup_cancel_move(&mut self, cx: &mut Cx, p: Task, from: Cgroup, to: Cgroup) {}
    /// `void cgroup_set_weight(cgrp, weight)`.
    fn cgroup_set_weight(&mut self, cx: &mut Cx, cgrp: Cgroup, weight: u32) {}
    /// `void cpu_online(cpu)`.
    fn cpu_online(&mut self, cx: &mut Cx, cpu: i32) {}
    /// `void cpu_offline(cpu)`.
    fn cpu_offline(&mut self, cx: &mut Cx, cpu: i32) {}
    /// `s32 init(void)`.
    fn init(&mut self, cx: &mut Cx) -> i32 {
        0
    }
    /// `void exit(info)`.
    fn exit(&mut self, cx: &mut Cx, info: &ExitInfo) {}

    /// A BPF timer armed with [`Cx::timer_start`] fired; `timer` is the id
    /// the scheduler chose. Runs in softirq context (kfunc mask 0) on the
    /// CPU the timer fired on.
    fn timer_fired(&mut self, cx: &mut Cx, timer: u64) {}

    /// A digest of the scheduler's own state, for the lockup model's
    /// fixed-point detection: if a dispatch round leaves both the kernel and
    /// this digest unchanged, the round is provably idempotent. `None` (the
    /// default) means "unknown", which disables fast-forwarding.
    fn state_digest(&self) -> Option<u64> {
        None
    }
}

/// Downcasts a scheduler object to its concrete type (as a loader reads its
/// own skeleton's maps).
pub fn downcast_ref<T: Scheduler>(s: &dyn Scheduler) -> Option<&T> {
    let any: &dyn std::any::Any = s;
    any.downcast_ref::<T>()
}

/// Mutable form of [`downcast_ref`].
pub fn downcast_mut<T: Scheduler>(s: &mut dyn Scheduler) -> Option<&mut T> {
    let any: &mut dyn std::any::Any = s;
    any.downcast_mut::<T>()
}

/// A scheduler that implements nothing, used while none is attached.
pub struct NoScheduler;

impl Scheduler for NoScheduler {
    fn info(&self) -> OpsInfo {
        OpsInfo::new("none", &[])
    }
}
