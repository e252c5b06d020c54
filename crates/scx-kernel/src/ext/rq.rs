//! `struct scx_rq` (kernel/sched/sched.h:795-811): the per-CPU sched_ext
//! state, plus the per-CPU kfunc context (`current->scx.kf_mask`,
//! `kf_tasks`, the direct-dispatch marker and the dispatch buffer), which
//! the kernel keeps per task or per CPU and scxsim keeps per CPU because a
//! CPU runs one op at a time.

use crate::list::ListHead;
use crate::task::Tid;
use scx_machine::Cpumask;

/// The per-CPU `direct_dispatch_task` marker (ext.c:943).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DdspMarker {
    /// NULL: not inside select_cpu/enqueue.
    #[default]
    None,
    /// Inside select_cpu/enqueue of this task.
    Task(Tid),
    /// `ERR_PTR(-ESRCH)`: a direct dispatch was already made.
    Used,
}

/// One dispatch-buffer entry (`struct scx_dsp_buf_ent`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DspEnt {
    /// Task.
    pub task: Tid,
    /// qseq recorded at `scx_bpf_dispatch()` time.
    pub qseq: u64,
    /// Target DSQ id.
    pub dsq_id: u64,
    /// Enqueue flags.
    pub enq_flags: u64,
}

/// Per-CPU sched_ext state.
#[derive(Debug, Default)]
pub struct ScxRq {
    /// Index of this CPU's local DSQ.
    pub local_dsq: u32,
    /// `runnable_list`.
    pub runnable_list: ListHead,
    /// `ddsp_deferred_locals`.
    pub ddsp_deferred: ListHead,
    /// `deferred_bal_cb` is queued: run deferred work before the rq lock is
    /// released at the end of this `__schedule()`.
    pub bal_cb_pending: bool,
    /// `extra_enq_flags`.
    pub extra_enq_flags: u64,
    /// `nr_running`.
    pub nr_running: u32,
    /// `flags` (`SCX_RQ_*`).
    pub flags: u32,
    /// `cpuperf_target`.
    pub cpuperf_target: u32,
    /// `cpu_released`.
    pub cpu_released: bool,
    /// `cpus_to_kick`.
    pub cpus_to_kick: Cpumask,
    /// `cpus_to_kick_if_idle`.
    pub cpus_to_kick_if_idle: Cpumask,
    /// `cpus_to_preempt`.
    pub cpus_to_preempt: Cpumask,
    /// `cpus_to_wait`.
    pub cpus_to_wait: Cpumask,
    /// `pnt_seq`.
    pub pnt_seq: u64,
    /// `scx_kick_cpus_pnt_seqs` of this CPU.
    pub pseqs: Vec<u64>,
    /// kfunc mask of the op running on this CPU.
    pub kf_mask: u32,
    /// Argument tasks of the op running on this CPU.
    pub kf_tasks: [Option<Tid>; 2],
    /// `direct_dispatch_task`.
    pub ddsp_task: DdspMarker,
    /// The dispatch buffer.
    pub dsp_buf: Vec<DspEnt>,
    /// `dspc->nr_tasks`.
    pub dsp_nr_tasks: u32,
    /// The op running on this CPU may call `scx_bpf_dump()`.
    pub in_dump: bool,
    /// `distribute_cpu_mask_prev` of `cpumask_any_and_distribute()`.
    pub distribute_prev: usize,
    /// Tasks `scx_bpf_reenqueue_local()` took off the local DSQ, to be
    /// re-enqueued when `ops.cpu_release()` returns.
    pub reenq: Vec<Tid>,
}
