//! The one effect boundary between the VM and the simulated kernel.
//!
//! Everything that touches the kernel goes through [`Host`]: the sched_ext
//! and task/cgroup kfuncs (decoded into a typed [`KfuncCall`]), reads of
//! kernel object fields through kernel windows, the three BPF-writable task
//! fields, the clock, the current CPU, timers and the trace sink. The VM
//! itself implements all pure BPF-side machinery (maps, `bpf_obj_new`,
//! rbtree/list, `bpf_cpumask_*`, RCU, iterators over numbers, reference
//! counting).
//!
//! ## Kernel pointers
//! A kernel object reaches a program as a *window address* (see
//! [`crate::mem`]): `Window::Task` + [`TaskId`], `Window::Cgroup` +
//! [`CgroupId`], `Window::Rq` + CPU, `Window::Dsq` + DSQ id,
//! `Window::Mask` + [`GlobalMask`]. Loads through a window are translated
//! by the kernel type table into [`Host::read_field`], [`Host::read_ptr`],
//! [`Host::cpumask_word`] or [`Host::task_comm`]; unbacked bytes read 0.
//! Stores are allowed only to `scx.slice`, `scx.dsq_vtime` and
//! `scx.disallow` and arrive at [`Host::write_task`].
//!
//! ## Re-entrancy
//! [`Host::kfunc`] receives `&mut Vm`, so a handler may run another
//! program (e.g. `scx_bpf_reenqueue_local()` calling `ops.enqueue`) with
//! [`crate::Vm::call_op`]; per-invocation state lives on the Rust stack.

use crate::error::Fault;
use crate::vm::Vm;
pub use crate::vmlinux::{CgroupField, DsqField, GlobalMask, PtrField, RqField, TaskField};
use std::collections::BTreeSet;

/// Identity of a simulated task (must fit in 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

/// Identity of a simulated cgroup: its `kn->id` (must fit in 32 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CgroupId(pub u64);

/// Identity of a BPF timer inside one VM (index in creation order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub usize);

/// A scalar kernel field read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelField {
    /// A task field.
    Task(TaskId, TaskField),
    /// A cgroup field.
    Cgroup(CgroupId, CgroupField),
    /// A runqueue field of a CPU.
    Rq(u32, RqField),
    /// A DSQ field.
    Dsq(u64, DsqField),
}

/// A pointer-valued kernel field read: `owner` is the task id, cgroup id or
/// CPU that holds the field; `index` is the array index (ancestors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KernelPtr {
    /// Which field.
    pub field: PtrField,
    /// Owner id.
    pub owner: u64,
    /// Array index, 0 for scalars.
    pub index: u32,
}

/// Which cpumask a cpumask-word read is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaskRef {
    /// `task->cpus_mask` (what `cpus_ptr` points to).
    Task(TaskId),
    /// A global mask.
    Global(GlobalMask),
}

/// A kernel object a kfunc returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KernelObj {
    /// NULL.
    Null,
    /// A task.
    Task(TaskId),
    /// A cgroup.
    Cgroup(CgroupId),
    /// A CPU's runqueue.
    Rq(u32),
    /// A global cpumask.
    Mask(GlobalMask),
}

/// What a host kfunc returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KRet {
    /// No value.
    Void,
    /// An integer (sign-extended into r0).
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A kernel object pointer.
    Obj(KernelObj),
    /// `scx_bpf_select_cpu_dfl` result.
    SelectCpu {
        /// Chosen CPU.
        cpu: i32,
        /// Written to `*is_idle`.
        is_idle: bool,
    },
    /// An iterator was created; the handle is passed back on next/destroy.
    Iter(u64),
}

/// Iterator state of `bpf_iter_scx_dsq` as passed to `dispatch_from_dsq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DsqIterRef {
    /// Host iterator handle.
    pub handle: u64,
    /// Slice set with `..._set_slice`, if any.
    pub slice: Option<u64>,
    /// Vtime set with `..._set_vtime`, if any.
    pub vtime: Option<u64>,
}

/// A decoded host kfunc call. Task, cgroup and cpumask arguments are
/// already translated from guest pointers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KfuncCall {
    /// `scx_bpf_create_dsq`.
    CreateDsq {
        /// DSQ id.
        dsq_id: u64,
        /// NUMA node.
        node: i32,
    },
    /// `scx_bpf_select_cpu_dfl` → [`KRet::SelectCpu`].
    SelectCpuDfl {
        /// Task.
        task: TaskId,
        /// Previous CPU.
        prev_cpu: i32,
        /// Wake flags.
        wake_flags: u64,
    },
    /// `scx_bpf_dispatch` / `scx_bpf_dsq_insert`.
    Dispatch {
        /// Task.
        task: TaskId,
        /// Target DSQ.
        dsq_id: u64,
        /// Slice.
        slice: u64,
        /// Enqueue flags.
        enq_flags: u64,
    },
    /// `scx_bpf_dispatch_vtime` / `scx_bpf_dsq_insert_vtime`.
    DispatchVtime {
        /// Task.
        task: TaskId,
        /// Target DSQ.
        dsq_id: u64,
        /// Slice.
        slice: u64,
        /// Virtual time.
        vtime: u64,
        /// Enqueue flags.
        enq_flags: u64,
    },
    /// `scx_bpf_dispatch_nr_slots` → Int.
    DispatchNrSlots,
    /// `scx_bpf_dispatch_cancel`.
    DispatchCancel,
    /// `scx_bpf_consume` / `scx_bpf_dsq_move_to_local` → Bool.
    Consume {
        /// Source DSQ.
        dsq_id: u64,
    },
    /// `scx_bpf_dispatch[_vtime]_from_dsq` / `scx_bpf_dsq_move[_vtime]` → Bool.
    DispatchFromDsq {
        /// Iterator (with slice/vtime overrides).
        iter: DsqIterRef,
        /// Task.
        task: TaskId,
        /// Target DSQ.
        dsq_id: u64,
        /// Enqueue flags.
        enq_flags: u64,
        /// The `_vtime` variant.
        vtime_order: bool,
    },
    /// `scx_bpf_reenqueue_local` → Int.
    ReenqueueLocal,
    /// `scx_bpf_kick_cpu`.
    KickCpu {
        /// CPU.
        cpu: i32,
        /// SCX_KICK_* flags.
        flags: u64,
    },
    /// `scx_bpf_dsq_nr_queued` → Int.
    DsqNrQueued {
        /// DSQ id.
        dsq_id: u64,
    },
    /// `scx_bpf_destroy_dsq`.
    DestroyDsq {
        /// DSQ id.
        dsq_id: u64,
    },
    /// `bpf_iter_scx_dsq_new` → [`KRet::Iter`] or Int(-errno).
    DsqIterNew {
        /// DSQ id.
        dsq_id: u64,
        /// SCX_DSQ_ITER_* flags.
        flags: u64,
    },
    /// `bpf_iter_scx_dsq_next` → Obj(Task or Null).
    DsqIterNext {
        /// Handle from [`KRet::Iter`].
        handle: u64,
    },
    /// `bpf_iter_scx_dsq_destroy`.
    DsqIterDestroy {
        /// Handle.
        handle: u64,
    },
    /// `scx_bpf_exit_bstr`; format with [`Vm::bstr_format`].
    ExitBstr {
        /// Exit code.
        exit_code: i64,
        /// Guest address of the format string.
        fmt: u64,
        /// Guest address of the u64 argument array.
        data: u64,
        /// Byte size of the array.
        data_sz: u32,
    },
    /// `scx_bpf_error_bstr`.
    ErrorBstr {
        /// Format string address.
        fmt: u64,
        /// Argument array address.
        data: u64,
        /// Byte size of the array.
        data_sz: u32,
    },
    /// `scx_bpf_dump_bstr`.
    DumpBstr {
        /// Format string address.
        fmt: u64,
        /// Argument array address.
        data: u64,
        /// Byte size of the array.
        data_sz: u32,
    },
    /// `scx_bpf_cpuperf_cap` → Int.
    CpuperfCap {
        /// CPU.
        cpu: i32,
    },
    /// `scx_bpf_cpuperf_cur` → Int.
    CpuperfCur {
        /// CPU.
        cpu: i32,
    },
    /// `scx_bpf_cpuperf_set`.
    CpuperfSet {
        /// CPU.
        cpu: i32,
        /// Performance target.
        perf: u32,
    },
    /// `scx_bpf_nr_cpu_ids` → Int.
    NrCpuIds,
    /// `scx_bpf_get_{possible,online,idle}_cpumask`, `..._idle_smtmask` →
    /// Obj(Mask). The VM tracks the acquired reference.
    GetCpumask(GlobalMask),
    /// `scx_bpf_test_and_clear_cpu_idle` → Bool.
    TestAndClearCpuIdle {
        /// CPU.
        cpu: i32,
    },
    /// `scx_bpf_pick_idle_cpu` → Int.
    PickIdleCpu {
        /// Allowed CPUs (bitmap words).
        cpus_allowed: Vec<u64>,
        /// Flags.
        flags: u64,
    },
    /// `scx_bpf_pick_any_cpu` → Int.
    PickAnyCpu {
        /// Allowed CPUs (bitmap words).
        cpus_allowed: Vec<u64>,
        /// Flags.
        flags: u64,
    },
    /// `scx_bpf_task_running` → Bool.
    TaskRunning {
        /// Task.
        task: TaskId,
    },
    /// `scx_bpf_task_cpu` → Int.
    TaskCpu {
        /// Task.
        task: TaskId,
    },
    /// `scx_bpf_cpu_rq` → Obj(Rq or Null).
    CpuRq {
        /// CPU.
        cpu: i32,
    },
    /// `scx_bpf_task_cgroup` → Obj(Cgroup); acquired.
    TaskCgroup {
        /// Task.
        task: TaskId,
    },
    /// `bpf_task_from_pid` → Obj(Task or Null); acquired.
    TaskFromPid {
        /// PID.
        pid: i32,
    },
    /// `bpf_cgroup_ancestor` → Obj(Cgroup or Null); acquired.
    CgroupAncestor {
        /// Cgroup.
        cgroup: CgroupId,
        /// Level.
        level: i32,
    },
    /// `bpf_cgroup_from_id` → Obj(Cgroup or Null); acquired.
    CgroupFromId {
        /// Cgroup id.
        id: u64,
    },
    /// `bpf_iter_css_new` → Iter or Int(-errno).
    CssIterNew {
        /// Starting cgroup.
        start: CgroupId,
        /// BPF_CGROUP_ITER_* order.
        flags: u32,
    },
    /// `bpf_iter_css_next` → Obj(Cgroup or Null).
    CssIterNext {
        /// Handle.
        handle: u64,
    },
    /// `bpf_iter_css_destroy`.
    CssIterDestroy {
        /// Handle.
        handle: u64,
    },
}

/// Host kfuncs by name. `names()` lists the 6.12 name first, then 6.13
/// aliases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HostKfunc {
    /// scx_bpf_create_dsq
    CreateDsq,
    /// scx_bpf_select_cpu_dfl
    SelectCpuDfl,
    /// scx_bpf_dispatch / scx_bpf_dsq_insert
    Dispatch,
    /// scx_bpf_dispatch_vtime / scx_bpf_dsq_insert_vtime
    DispatchVtime,
    /// scx_bpf_dispatch_nr_slots
    DispatchNrSlots,
    /// scx_bpf_dispatch_cancel
    DispatchCancel,
    /// scx_bpf_consume / scx_bpf_dsq_move_to_local
    Consume,
    /// scx_bpf_dispatch_from_dsq_set_slice / scx_bpf_dsq_move_set_slice
    DispatchFromDsqSetSlice,
    /// scx_bpf_dispatch_from_dsq_set_vtime / scx_bpf_dsq_move_set_vtime
    DispatchFromDsqSetVtime,
    /// scx_bpf_dispatch_from_dsq / scx_bpf_dsq_move
    DispatchFromDsq,
    /// scx_bpf_dispatch_vtime_from_dsq / scx_bpf_dsq_move_vtime
    DispatchVtimeFromDsq,
    /// scx_bpf_reenqueue_local
    ReenqueueLocal,
    /// scx_bpf_kick_cpu
    KickCpu,
    /// scx_bpf_dsq_nr_queued
    DsqNrQueued,
    /// scx_bpf_destroy_dsq
    DestroyDsq,
    /// bpf_iter_scx_dsq_new
    DsqIterNew,
    /// bpf_iter_scx_dsq_next
    DsqIterNext,
    /// bpf_iter_scx_dsq_destroy
    DsqIterDestroy,
    /// scx_bpf_exit_bstr
    ExitBstr,
    /// scx_bpf_error_bstr
    ErrorBstr,
    /// scx_bpf_dump_bstr
    DumpBstr,
    /// scx_bpf_cpuperf_cap
    CpuperfCap,
    /// scx_bpf_cpuperf_cur
    CpuperfCur,
    /// scx_bpf_cpuperf_set
    CpuperfSet,
    /// scx_bpf_nr_cpu_ids
    NrCpuIds,
    /// scx_bpf_get_possible_cpumask
    GetPossibleCpumask,
    /// scx_bpf_get_online_cpumask
    GetOnlineCpumask,
    /// scx_bpf_put_cpumask
    PutCpumask,
    /// scx_bpf_get_idle_cpumask
    GetIdleCpumask,
    /// scx_bpf_get_idle_smtmask
    GetIdleSmtmask,
    /// scx_bpf_put_idle_cpumask
    PutIdleCpumask,
    /// scx_bpf_test_and_clear_cpu_idle
    TestAndClearCpuIdle,
    /// scx_bpf_pick_idle_cpu
    PickIdleCpu,
    /// scx_bpf_pick_any_cpu
    PickAnyCpu,
    /// scx_bpf_task_running
    TaskRunning,
    /// scx_bpf_task_cpu
    TaskCpu,
    /// scx_bpf_cpu_rq
    CpuRq,
    /// scx_bpf_task_cgroup
    TaskCgroup,
    /// bpf_task_from_pid
    TaskFromPid,
    /// bpf_task_acquire
    TaskAcquire,
    /// bpf_task_release
    TaskRelease,
    /// bpf_cgroup_ancestor
    CgroupAncestor,
    /// bpf_cgroup_from_id
    CgroupFromId,
    /// bpf_cgroup_acquire
    CgroupAcquire,
    /// bpf_cgroup_release
    CgroupRelease,
    /// bpf_iter_css_new
    CssIterNew,
    /// bpf_iter_css_next
    CssIterNext,
    /// bpf_iter_css_destroy
    CssIterDestroy,
}

/// Every host kfunc.
pub const ALL_HOST_KFUNCS: &[HostKfunc] = {
    use HostKfunc::*;
    &[
        CreateDsq,
        SelectCpuDfl,
        Dispatch,
        DispatchVtime,
        DispatchNrSlots,
        DispatchCancel,
        Consume,
        DispatchFromDsqSetSlice,
        DispatchFromDsqSetVtime,
        DispatchFromDsq,
        DispatchVtimeFromDsq,
        ReenqueueLocal,
        KickCpu,
        DsqNrQueued,
        DestroyDsq,
        DsqIterNew,
        DsqIterNext,
        DsqIterDestroy,
        ExitBstr,
        ErrorBstr,
        DumpBstr,
        CpuperfCap,
        CpuperfCur,
        CpuperfSet,
        NrCpuIds,
        GetPossibleCpumask,
        GetOnlineCpumask,
        PutCpumask,
        GetIdleCpumask,
        GetIdleSmtmask,
        PutIdleCpumask,
        TestAndClearCpuIdle,
        PickIdleCpu,
        PickAnyCpu,
        TaskRunning,
        TaskCpu,
        CpuRq,
        TaskCgroup,
        TaskFromPid,
        TaskAcquire,
        TaskRelease,
        CgroupAncestor,
        CgroupFromId,
        CgroupAcquire,
        CgroupRelease,
        CssIterNew,
        CssIterNext,
        CssIterDestroy,
    ]
};

impl HostKfunc {
    /// Names this kfunc answers to (6.12 name first, then 6.13 aliases).
    pub fn names(self) -> &'static [&'static str] {
        use HostKfunc::*;
        match self {
            CreateDsq => &["scx_bpf_create_dsq"],
            SelectCpuDfl => &["scx_bpf_select_cpu_dfl"],
            Dispatch => &["scx_bpf_dispatch", "scx_bpf_dsq_insert"],
            DispatchVtime => &["scx_bpf_dispatch_vtime", "scx_bpf_dsq_insert_vtime"],
            DispatchNrSlots => &["scx_bpf_dispatch_nr_slots"],
            DispatchCancel => &["scx_bpf_dispatch_cancel"],
            Consume => &["scx_bpf_consume", "scx_bpf_dsq_move_to_local"],
            DispatchFromDsqSetSlice => &[
                "scx_bpf_dispatch_from_dsq_set_slice",
                "scx_bpf_dsq_move_set_slice",
            ],
            DispatchFromDsqSetVtime => &[
                "scx_bpf_dispatch_from_dsq_set_vtime",
                "scx_bpf_dsq_move_set_vtime",
            ],
            DispatchFromDsq => &["scx_bpf_dispatch_from_dsq", "scx_bpf_dsq_move"],
            DispatchVtimeFromDsq => &["scx_bpf_dispatch_vtime_from_dsq", "scx_bpf_dsq_move_vtime"],
            ReenqueueLocal => &["scx_bpf_reenqueue_local"],
            KickCpu => &["scx_bpf_kick_cpu"],
            DsqNrQueued => &["scx_bpf_dsq_nr_queued"],
            DestroyDsq => &["scx_bpf_destroy_dsq"],
            DsqIterNew => &["bpf_iter_scx_dsq_new"],
            DsqIterNext => &["bpf_iter_scx_dsq_next"],
            DsqIterDestroy => &["bpf_iter_scx_dsq_destroy"],
            ExitBstr => &["scx_bpf_exit_bstr"],
            ErrorBstr => &["scx_bpf_error_bstr"],
            DumpBstr => &["scx_bpf_dump_bstr"],
            CpuperfCap => &["scx_bpf_cpuperf_cap"],
            CpuperfCur => &["scx_bpf_cpuperf_cur"],
            CpuperfSet => &["scx_bpf_cpuperf_set"],
            NrCpuIds => &["scx_bpf_nr_cpu_ids"],
            GetPossibleCpumask => &["scx_bpf_get_possible_cpumask"],
            GetOnlineCpumask => &["scx_bpf_get_online_cpumask"],
            PutCpumask => &["scx_bpf_put_cpumask"],
            GetIdleCpumask => &["scx_bpf_get_idle_cpumask"],
            GetIdleSmtmask => &["scx_bpf_get_idle_smtmask"],
            PutIdleCpumask => &["scx_bpf_put_idle_cpumask"],
            TestAndClearCpuIdle => &["scx_bpf_test_and_clear_cpu_idle"],
            PickIdleCpu => &["scx_bpf_pick_idle_cpu"],
            PickAnyCpu => &["scx_bpf_pick_any_cpu"],
            TaskRunning => &["scx_bpf_task_running"],
            TaskCpu => &["scx_bpf_task_cpu"],
            CpuRq => &["scx_bpf_cpu_rq"],
            TaskCgroup => &["scx_bpf_task_cgroup"],
            TaskFromPid => &["bpf_task_from_pid"],
            TaskAcquire => &["bpf_task_acquire"],
            TaskRelease => &["bpf_task_release"],
            CgroupAncestor => &["bpf_cgroup_ancestor"],
            CgroupFromId => &["bpf_cgroup_from_id"],
            CgroupAcquire => &["bpf_cgroup_acquire"],
            CgroupRelease => &["bpf_cgroup_release"],
            CssIterNew => &["bpf_iter_css_new"],
            CssIterNext => &["bpf_iter_css_next"],
            CssIterDestroy => &["bpf_iter_css_destroy"],
        }
    }

    /// Look a kfunc up by any of its names.
    pub fn from_name(name: &str) -> Option<HostKfunc> {
        ALL_HOST_KFUNCS
            .iter()
            .copied()
            .find(|k| k.names().contains(&name))
    }
}

/// The set of host kfuncs a host provides; names outside it are load
/// errors (or 0 for `__weak` declarations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KfuncSet(pub BTreeSet<HostKfunc>);

impl KfuncSet {
    /// Every host kfunc.
    pub fn all() -> KfuncSet {
        KfuncSet(ALL_HOST_KFUNCS.iter().copied().collect())
    }

    /// Every host kfunc except those listed.
    pub fn all_except(missing: &[HostKfunc]) -> KfuncSet {
        KfuncSet(
            ALL_HOST_KFUNCS
                .iter()
                .copied()
                .filter(|k| !missing.contains(k))
                .collect(),
        )
    }

    /// Is `k` provided?
    pub fn contains(&self, k: HostKfunc) -> bool {
        self.0.contains(&k)
    }
}

impl Default for KfuncSet {
    fn default() -> Self {
        KfuncSet::all()
    }
}

/// The simulated kernel as seen from the VM. Implemented by scxsim's
/// sched_ext core; tests use a mock.
pub trait Host {
    /// Execute a host kfunc. Return `Err` to abort the invocation (the
    /// kernel would have disabled the scheduler); ordinary failures are
    /// return values as in the kernel.
    fn kfunc(&mut self, vm: &mut Vm, call: KfuncCall) -> Result<KRet, Fault>;

    /// Read a scalar kernel field (zero-extended; the VM truncates).
    fn read_field(&mut self, field: KernelField) -> u64;

    /// Read a pointer field: the id of the target object, `None` for NULL.
    fn read_ptr(&mut self, ptr: KernelPtr) -> Option<u64>;

    /// Word `word` (64 CPUs each) of a kernel cpumask.
    fn cpumask_word(&mut self, mask: MaskRef, word: u32) -> u64;

    /// `task->comm`, NUL-padded.
    fn task_comm(&mut self, task: TaskId) -> [u8; 16];

    /// Store to one of the BPF-writable task fields
    /// ([`TaskField::bpf_writable`]).
    fn write_task(&mut self, task: TaskId, field: TaskField, value: u64);

    /// `bpf_ktime_get_ns()`.
    fn ktime_ns(&mut self) -> u64;

    /// `bpf_get_smp_processor_id()`.
    fn current_cpu(&mut self) -> u32;

    /// Arm `timer` to fire after `nsecs` (absolute time if
    /// `BPF_F_TIMER_ABS`), pinned to `cpu` if `BPF_F_TIMER_CPU_PIN`. When
    /// it fires, call [`Vm::fire_timer`]. Return 0 or `-errno`.
    fn timer_start(&mut self, timer: TimerId, nsecs: u64, flags: u64, cpu: u32) -> i64;

    /// Disarm `timer`. Return 0 (or 1 if it was armed, as the kernel does
    /// when the callback was pending) or `-errno`.
    fn timer_cancel(&mut self, timer: TimerId) -> i64;

    /// A `bpf_printk` / `bpf_trace_printk` line.
    fn trace(&mut self, line: &str);
}

/// A host with no kernel behind it: every kfunc faults, fields read 0,
/// time stands still at 0 on CPU 0. Useful for pure-BPF tests and
/// benchmarks.
#[derive(Debug, Default, Clone, Copy)]
pub struct NullHost;

impl Host for NullHost {
    fn kfunc(&mut self, _vm: &mut Vm, call: KfuncCall) -> Result<KRet, Fault> {
        Err(Fault::Host(format!("NullHost cannot run {call:?}")))
    }
    fn read_field(&mut self, _field: KernelField) -> u64 {
        0
    }
    fn read_ptr(&mut self, _ptr: KernelPtr) -> Option<u64> {
        None
    }
    fn cpumask_word(&mut self, _mask: MaskRef, _word: u32) -> u64 {
        0
    }
    fn task_comm(&mut self, _task: TaskId) -> [u8; 16] {
        [0; 16]
    }
    fn write_task(&mut self, _task: TaskId, _field: TaskField, _value: u64) {}
    fn ktime_ns(&mut self) -> u64 {
        0
    }
    fn current_cpu(&mut self) -> u32 {
        0
    }
    fn timer_start(&mut self, _timer: TimerId, _nsecs: u64, _flags: u64, _cpu: u32) -> i64 {
        0
    }
    fn timer_cancel(&mut self, _timer: TimerId) -> i64 {
        0
    }
    fn trace(&mut self, _line: &str) {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_6_13_aliases_resolve() {
        for k in ALL_HOST_KFUNCS {
            for n in k.names() {
                assert_eq!(HostKfunc::from_name(n), Some(*k));
            }
        }
        assert_eq!(
            HostKfunc::from_name("scx_bpf_dsq_insert"),
            Some(HostKfunc::Dispatch)
        );
        assert_eq!(
            HostKfunc::from_name("scx_bpf_dsq_insert_vtime"),
            Some(HostKfunc::DispatchVtime)
        );
        assert_eq!(
            HostKfunc::from_name("scx_bpf_dsq_move_to_local"),
            Some(HostKfunc::Consume)
        );
        assert_eq!(
            HostKfunc::from_name("scx_bpf_dsq_move"),
            Some(HostKfunc::DispatchFromDsq)
        );
        assert_eq!(
            HostKfunc::from_name("scx_bpf_dsq_move_vtime"),
            Some(HostKfunc::DispatchVtimeFromDsq)
        );
        assert_eq!(
            HostKfunc::from_name("scx_bpf_dsq_move_set_slice"),
            Some(HostKfunc::DispatchFromDsqSetSlice)
        );
        assert_eq!(
            HostKfunc::from_name("scx_bpf_dsq_move_set_vtime"),
            Some(HostKfunc::DispatchFromDsqSetVtime)
        );
        assert_eq!(HostKfunc::from_name("scx_bpf_foo"), None);
        assert!(!KfuncSet::all_except(&[HostKfunc::KickCpu]).contains(HostKfunc::KickCpu));
    }
}
