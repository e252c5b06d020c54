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
        match result {
            Ok(r) => r,
            Err(payload) => {
                let msg = panic_message(&payload);
                self.scx_ops_error(format!("ops.{}() panicked: {msg}", op.name()));
                fallback
            }
        }
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
