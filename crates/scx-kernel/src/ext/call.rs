//! `SCX_CALL_OP*` (ext.c:1082-1161): invoking a scheduler callback.
//!
//! The call sets the op's kfunc mask and argument tasks on the CPU for the
//! duration of the call, charges the cost model's `op_call`, emits an
//! [`Event::OpCall`], and catches a panicking Rust scheduler, turning the
//! panic into an scx error exit (the simulation carries on; the kernel's
//! fallback for the op applies).
//!
//! Nesting: the only op nesting in 6.12 is `ops.enqueue()` inside
//! `ops.cpu_release()` via `scx_bpf_reenqueue_local()`. scxsim runs those
//! enqueues right after `cpu_release` returns (see `kick.rs`'s
//! `reenqueue_local`), so ops never nest; the return value the scheduler
//! sees is the same, and the order of callbacks in the event stream is the
//! same as the kernel's.

use crate::kernel::Kernel;
use crate::ops::{Cx, Scheduler};
use crate::task::Tid;
use scx_observe::{Event, Op};
use std::panic::{catch_unwind, AssertUnwindSafe};

impl Kernel {
    /// Invokes `op` on the current CPU with kfunc `mask` and argument
    /// `tasks`; `fallback` is returned if the scheduler panics.
    pub(crate) fn scx_call<R>(
        &mut self,
        op: Op,
        mask: u32,
        tasks: [Option<Tid>; 2],
        arg: u64,
        fallback: R,
        f: impl FnOnce(&mut dyn Scheduler, &mut Cx) -> R,
    ) -> R {
        let cpu = self.cur_cpu;
        self.stats.op_calls += 1;
        self.rqs[self.cur_cpu].counters.op_calls += 1;
        self.charge(self.cfg.cost.op_call);
        self.emit_with(|| Event::OpCall {
            cpu: cpu as u32,
            op,
            task: tasks[0],
            arg,
        });
        let depth = self.scx.error_context.len();
        self.scx
            .error_context
            .extend([op_caller(op), op_trampoline(op)]);
        let rq = &mut self.rqs[cpu].scx;
        let saved_mask = rq.kf_mask;
        let saved_tasks = rq.kf_tasks;
        rq.kf_mask |= mask;
        if tasks[0].is_some() {
            rq.kf_tasks = tasks;
        }
        let mut s = self.take_sched();
        let result = {
            let mut cx = Cx::new(self, cpu);
            catch_unwind(AssertUnwindSafe(|| f(&mut *s, &mut cx)))
        };
        self.put_sched(s);
        self.release_op_iters(cpu);
        let rq = &mut self.rqs[cpu].scx;
        rq.kf_mask = saved_mask;
        rq.kf_tasks = saved_tasks;
        let r = match result {
            Ok(r) => r,
            Err(payload) => {
                let msg = panic_message(&payload);
                self.scx_ops_error(format!("ops.{}() panicked: {msg}", op.name()));
                fallback
            }
        };
        self.scx.error_context.truncate(depth);
        r
    }

    /// `SCX_CALL_OP` without a return value or argument tasks.
    pub(crate) fn scx_call_void(
        &mut self,
        op: Op,
        mask: u32,
        arg: u64,
        f: impl FnOnce(&mut dyn Scheduler, &mut Cx),
    ) {
        self.scx_call(op, mask, [None, None], arg, (), f)
    }

    /// `SCX_CALL_OP_TASK` without a return value.
    pub(crate) fn scx_call_task(
        &mut self,
        op: Op,
        mask: u32,
        p: Tid,
        arg: u64,
        f: impl FnOnce(&mut dyn Scheduler, &mut Cx, crate::ops::Task),
    ) {
        self.scx_call(op, mask, [Some(p), None], arg, (), |s, cx| {
            f(s, cx, crate::ops::Task(p))
        })
    }
}

/// The text of a panic payload.
pub fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic payload".to_string()
    }
}

/// The kernel function that calls `op` (a backtrace stand-in frame).
fn op_caller(op: Op) -> &'static str {
    match op {
        Op::SelectCpu => "select_task_rq_scx",
        Op::Enqueue => "do_enqueue_task",
        Op::Dequeue => "ops_dequeue",
        Op::Dispatch | Op::CpuAcquire => "balance_one",
        Op::Tick => "task_tick_scx",
        Op::Runnable => "enqueue_task_scx",
        Op::Running => "set_next_task_scx",
        Op::Stopping => "put_prev_task_scx",
        Op::Quiescent => "dequeue_task_scx",
        Op::Yield => "yield_task_scx",
        Op::CoreSchedBefore => "scx_prio_less",
        Op::SetWeight => "reweight_task_scx",
        Op::SetCpumask => "set_cpus_allowed_scx",
        Op::UpdateIdle => "__scx_update_idle",
        Op::CpuRelease => "switch_class",
        Op::InitTask => "scx_ops_init_task",
        Op::ExitTask => "scx_ops_exit_task",
        Op::Enable => "scx_ops_enable_task",
        Op::Disable => "scx_ops_disable_task",
        Op::CpuOnline | Op::CpuOffline => "handle_hotplug",
        Op::Init => "scx_ops_enable",
        Op::Exit => "scx_ops_disable_workfn",
        Op::Dump | Op::DumpCpu | Op::DumpTask => "scx_dump_state",
        Op::CgroupInit => "scx_cgroup_init",
        Op::CgroupExit => "scx_cgroup_exit",
        Op::CgroupPrepMove => "scx_cgroup_can_attach",
        Op::CgroupMove => "scx_cgroup_move_task",
        Op::CgroupCancelMove => "scx_cgroup_cancel_attach",
        Op::CgroupSetWeight => "scx_group_set_weight",
    }
}

/// The struct_ops trampoline frame of each op, in [`Op::ALL`] order.
const TRAMPOLINES: [&str; 33] = [
    "bpf__sched_ext_ops_select_cpu",
    "bpf__sched_ext_ops_enqueue",
    "bpf__sched_ext_ops_dequeue",
    "bpf__sched_ext_ops_dispatch",
    "bpf__sched_ext_ops_tick",
    "bpf__sched_ext_ops_runnable",
    "bpf__sched_ext_ops_running",
    "bpf__sched_ext_ops_stopping",
    "bpf__sched_ext_ops_quiescent",
    "bpf__sched_ext_ops_yield",
    "bpf__sched_ext_ops_core_sched_before",
    "bpf__sched_ext_ops_set_weight",
    "bpf__sched_ext_ops_set_cpumask",
    "bpf__sched_ext_ops_update_idle",
    "bpf__sched_ext_ops_cpu_acquire",
    "bpf__sched_ext_ops_cpu_release",
    "bpf__sched_ext_ops_init_task",
    "bpf__sched_ext_ops_exit_task",
    "bpf__sched_ext_ops_enable",
    "bpf__sched_ext_ops_disable",
    "bpf__sched_ext_ops_dump",
    "bpf__sched_ext_ops_dump_cpu",
    "bpf__sched_ext_ops_dump_task",
    "bpf__sched_ext_ops_cgroup_init",
    "bpf__sched_ext_ops_cgroup_exit",
    "bpf__sched_ext_ops_cgroup_prep_move",
    "bpf__sched_ext_ops_cgroup_move",
    "bpf__sched_ext_ops_cgroup_cancel_move",
    "bpf__sched_ext_ops_cgroup_set_weight",
    "bpf__sched_ext_ops_cpu_online",
    "bpf__sched_ext_ops_cpu_offline",
    "bpf__sched_ext_ops_init",
    "bpf__sched_ext_ops_exit",
];

/// The struct_ops trampoline frame of `op`.
fn op_trampoline(op: Op) -> &'static str {
    TRAMPOLINES[op as usize]
}
