//! Kernel object fields as a BPF program reads them through `task_struct`,
//! `rq`, `cgroup` and `scx_dispatch_q` pointers, answered from the
//! simulated kernel's read-only views ([`scx_kernel::ops::TaskRef`],
//! [`scx_kernel::ops::RqView`]) and cgroup accessors on [`Cx`].
//!
//! Like a BTF-typed load in the kernel, except for what the kernel model
//! does not have: `p->scx.core_sched_at` (no core scheduling) and
//! `rq->scx.ops_qseq` (not in 6.12, whose qseq is per task) read 0, a
//! DSQ's `seq` reads 0, and `rq->idle` is NULL.

use scx_bpf::host::{CgroupField, DsqField, KernelPtr, PtrField, RqField, TaskField};
use scx_kernel::consts::{SCHED_PRIO_TO_WEIGHT, SCX_DSQ_LOCAL_ON};
use scx_kernel::ops::{Cgroup, Cx, Task};

/// `p->se.load.weight` from the nice level.
fn load_weight(cx: &Cx, p: Task) -> u64 {
    let nice = cx.task(p).static_prio() - 120;
    let idx = (nice + 20).clamp(0, 39) as usize;
    u64::from(SCHED_PRIO_TO_WEIGHT[idx])
}

/// A scalar `task_struct` field.
pub fn task_field(cx: &mut Cx, p: Task, f: TaskField) -> u64 {
    use TaskField::*;
    match f {
        Cpu | WakeCpu => cx.task_cpu(p) as u64,
        OnCpu => u64::from(cx.task_running(p)),
        LoadWeight => load_weight(cx, p),
        _ => task_view_field(cx, p, f),
    }
}

/// Fields read straight from the task view.
fn task_view_field(cx: &Cx, p: Task, f: TaskField) -> u64 {
    use TaskField::*;
    let t = cx.task(p);
    match f {
        Pid => t.pid() as u64,
        Tgid => t.tgid() as u64,
        Flags => u64::from(t.flags()),
        StaticPrio => t.static_prio() as u64,
        Policy => u64::from(t.policy()),
        NrCpusAllowed => u64::from(t.nr_cpus_allowed()),
        MigrationDisabled => u64::from(t.migration_disabled()),
        SumExecRuntime => t.sum_exec_runtime(),
        ScxFlags => u64::from(t.scx_flags()),
        ScxWeight => u64::from(t.weight()),
        ScxSlice => t.slice(),
        ScxDsqVtime => t.dsq_vtime(),
        ScxDisallow => u64::from(t.disallow()),
        Prio => t.prio() as u64,
        NormalPrio => t.normal_prio() as u64,
        RtPriority => u64::from(t.rt_priority()),
        State => u64::from(t.state()),
        StartTime => t.start_time(),
        Vruntime => t.vruntime(),
        ScxStickyCpu => t.sticky_cpu() as i64 as u64,
        ScxHoldingCpu => t.holding_cpu() as i64 as u64,
        ScxOpsState => t.ops_state(),
        ScxRunnableAt => t.runnable_at(),
        ScxDsqSeq => u64::from(t.dsq_seq()),
        ScxDsqFlags => u64::from(t.dsq_flags()),
        ScxDdspDsqId => t.ddsp_dsq_id(),
        ScxDdspEnqFlags => t.ddsp_enq_flags(),
        ScxCoreSchedAt => 0,
        Cpu | WakeCpu | OnCpu | OnRq | LoadWeight => 0,
    }
}

/// A scalar `struct rq` field of `cpu`.
pub fn rq_field(cx: &mut Cx, cpu: u32, f: RqField) -> u64 {
    match f {
        RqField::Cpu => u64::from(cpu),
        _ if !cpu_exists(cx, cpu) => 0,
        RqField::Online => u64::from(cx.get_online_cpumask().test(cpu as usize)),
        RqField::Clock | RqField::ClockTask => cx.ktime_get_ns(),
        RqField::LocalDsqNr => {
            let n = cx.dsq_nr_queued(SCX_DSQ_LOCAL_ON | u64::from(cpu));
            n.max(0) as u64
        }
        _ => rq_view_field(cx, cpu, f),
    }
}

/// Is `cpu` a CPU id of this machine? (Reads through a forged `rq`
/// pointer must not raise the kfuncs' invalid-CPU error.)
fn cpu_exists(cx: &Cx, cpu: u32) -> bool {
    cpu < cx.nr_cpu_ids()
}

/// Fields read from the runqueue view of an existing CPU.
fn rq_view_field(cx: &mut Cx, cpu: u32, f: RqField) -> u64 {
    let Some(rq) = cx.cpu_rq(cpu as i32) else {
        return 0;
    };
    match f {
        RqField::NrRunning => u64::from(rq.nr_running()),
        RqField::ScxNrRunning => u64::from(rq.scx_nr_running()),
        RqField::ScxFlags => u64::from(rq.scx_flags()),
        RqField::ScxCpuperfTarget => u64::from(rq.cpuperf_target()),
        RqField::NrSwitches => rq.nr_switches(),
        RqField::ScxCpuReleased => u64::from(rq.cpu_released()),
        RqField::LocalDsqNr => u64::from(rq.local_dsq_nr()),
        RqField::ScxOpsQseq => 0,
        RqField::Cpu | RqField::Online | RqField::Clock | RqField::ClockTask => 0,
    }
}

/// A scalar `struct cgroup` field.
pub fn cgroup_field(cx: &Cx, cg: Cgroup, f: CgroupField) -> u64 {
    match f {
        CgroupField::Id => cx.cgroup_id(cg),
        CgroupField::Level => u64::from(cx.cgroup_level(cg)),
        CgroupField::MaxDepth => i32::MAX as u64,
        CgroupField::SerialNr => u64::from(cg.0),
        CgroupField::Flags => 0,
    }
}

/// A scalar `struct scx_dispatch_q` field of DSQ `dsq_id`.
pub fn dsq_field(cx: &mut Cx, dsq_id: u64, f: DsqField) -> u64 {
    match f {
        DsqField::Id => dsq_id,
        DsqField::Nr => cx.dsq_nr_queued(dsq_id).max(0) as u64,
        DsqField::Seq => 0,
    }
}

/// A pointer field: the id of the object it points to.
pub fn ptr_field(cx: &mut Cx, ptr: KernelPtr) -> Option<u64> {
    match ptr.field {
        PtrField::GroupLeader => {
            let tgid = cx.task(Task(ptr.owner as u32)).tgid();
            cx.task_from_pid(tgid).map(|t| u64::from(t.0))
        }
        PtrField::RqCurr if cpu_exists(cx, ptr.owner as u32) => {
            cx.cpu_rq(ptr.owner as i32).map(|rq| u64::from(rq.curr().0))
        }
        PtrField::RqCurr => None,
        PtrField::CgroupAncestor => {
            let cg = cx.cgroup_from_id(ptr.owner)?;
            cx.cgroup_ancestor(cg, ptr.index).map(|a| cx.cgroup_id(a))
        }
        PtrField::CgroupParent => {
            let cg = cx.cgroup_from_id(ptr.owner)?;
            let level = cx.cgroup_level(cg).checked_sub(1)?;
            cx.cgroup_ancestor(cg, level).map(|a| cx.cgroup_id(a))
        }
        PtrField::RealParent | PtrField::Parent => cx
            .task(Task(ptr.owner as u32))
            .parent()
            .map(|t| u64::from(t.0)),
        PtrField::ScxDsq => cx.task(Task(ptr.owner as u32)).dsq_id(),
        PtrField::RqIdle => None,
    }
}
