//! Picking and switching (ext.c:2958-3190): `pick_task_scx()`,
//! `set_next_task_scx()`, `put_prev_task_scx()` with `SCX_OPS_ENQ_LAST`, and
//! `switch_class()` with `ops.cpu_release()`.

use crate::consts::*;
use crate::kernel::Kernel;
use crate::sched::core::class_above;
use crate::task::{Class, Tid};
use scx_observe::Op;

impl Kernel {
    /// `pick_task_scx()` (ext.c:3123-3190).
    pub(crate) fn pick_task_scx(&mut self, cpu: usize) -> Option<Tid> {
        let prev = self.rqs[cpu].curr;
        let flags = self.rqs[cpu].scx.flags;
        let mut keep_prev = flags & SCX_RQ_BAL_KEEP != 0;
        let mut kick_idle = false;
        if flags & SCX_RQ_BAL_PENDING != 0 {
            if self.task(prev).scx.queued() {
                keep_prev = true;
            } else {
                keep_prev = false;
                kick_idle = true;
            }
        } else if keep_prev && self.task(prev).class != Class::Ext {
            keep_prev = false;
        }
        if keep_prev {
            if self.task(prev).scx.slice == 0 {
                self.task_mut(prev).scx.slice = self.cfg.slice_dfl;
            }
            return Some(prev);
        }
        let local = self.rqs[cpu].scx.local_dsq;
        let Some(p) = self.scx.dsqs.first_task(local) else {
            if kick_idle {
                self.kick_cpu(cpu, cpu as i64, SCX_KICK_IDLE, false);
            }
            return None;
        };
        if self.task(p).scx.slice == 0 {
            if !self.scx_rq_bypassing(cpu) && !self.scx.warned_zero_slice {
                let (comm, pid) = (self.task(p).comm.clone(), self.task(p).pid);
                self.printk(format!(
                    "sched_ext: {comm}[{pid}] has zero slice in pick_task_scx()"
                ));
                self.scx.warned_zero_slice = true;
            }
            self.task_mut(p).scx.slice = self.cfg.slice_dfl;
        }
        Some(p)
    }

    /// `set_next_task_scx()` (ext.c:2958-2998).
    pub(crate) fn set_next_task_scx(&mut self, cpu: usize, p: Tid) {
        let queued = self.task(p).scx.queued();
        if queued {
            self.ops_dequeue(p, SCX_DEQ_CORE_SCHED_EXEC);
            self.dispatch_dequeue(cpu, p);
        }
        if self.scx.has(Op::Running) && queued {
            self.scx_call_task(Op::Running, SCX_KF_REST, p, 0, |s, cx, t| s.running(cx, t));
        }
        self.clr_task_runnable(p, true);
        let inf = self.task(p).scx.slice == SCX_SLICE_INF;
        let rq = &mut self.rqs[cpu].scx;
        let had = rq.flags & SCX_RQ_CAN_STOP_TICK != 0;
        if inf {
            rq.flags |= SCX_RQ_CAN_STOP_TICK;
        } else {
            rq.flags &= !SCX_RQ_CAN_STOP_TICK;
        }
        if had != inf {
            self.update_tick_dependency(cpu);
        }
    }

    /// `put_prev_task_scx()` (ext.c:3061-3115).
    pub(crate) fn put_prev_task_scx(&mut self, cpu: usize, p: Tid, next: Tid) {
        self.update_curr_scx(cpu);
        let queued = self.task(p).scx.queued();
        if self.scx.has(Op::Stopping) && queued {
            self.scx_call_task(Op::Stopping, SCX_KF_REST, p, 1, |s, cx, t| {
                s.stopping(cx, t, true)
            });
        }
        if self.task(p).scx.queued() {
            self.set_task_runnable(cpu, p);
            let next_class = self.task(next).class;
            if self.task(p).scx.slice > 0 && !self.scx_rq_bypassing(cpu) {
                let local = self.rqs[cpu].scx.local_dsq;
                self.dispatch_enqueue(local, p, SCX_ENQ_HEAD);
            } else if class_above(Class::Ext, next_class) {
                self.do_enqueue_task(cpu, p, SCX_ENQ_LAST, -1);
                let local = self.rqs[cpu].scx.local_dsq;
                if self.task(p).scx.dsq == Some(local) {
                    // set_tsk_need_resched(next): the CPU reschedules at once.
                    self.rqs[cpu].need_resched_after_switch = true;
                }
            } else {
                self.do_enqueue_task(cpu, p, 0, -1);
            }
        }
        if self.task(next).class != Class::Ext {
            self.switch_class(cpu, next);
        }
    }

    /// `put_prev_task()` from the attribute-change pattern: `next` is NULL.
    pub(crate) fn put_prev_task_scx_change(&mut self, cpu: usize, _p: Tid) {
        self.update_curr_scx(cpu);
    }

    /// `switch_class()` (ext.c:3014-3059).
    fn switch_class(&mut self, cpu: usize, next: Tid) {
        self.rqs[cpu].scx.pnt_seq += 1;
        self.kick_wait_check(cpu);
        if !self.scx.cpu_preempt {
            return;
        }
        let next_class = self.task(next).class;
        if class_above(Class::Ext, next_class) {
            return;
        }
        if !self.rqs[cpu].scx.cpu_released {
            if self.scx.has(Op::CpuRelease) {
                let reason = match next_class {
                    Class::Stop => SCX_CPU_PREEMPT_STOP,
                    Class::Rt => SCX_CPU_PREEMPT_RT,
                    _ => SCX_CPU_PREEMPT_UNKNOWN,
                };
                let args = crate::ops::CpuReleaseArgs {
                    reason,
                    task: crate::ops::Task(next),
                };
                self.scx_call_void(Op::CpuRelease, SCX_KF_CPU_RELEASE, cpu as u64, |s, cx| {
                    s.cpu_release(cx, cpu as i32, &args)
                });
                self.reenqueue_local_finish(cpu);
            }
            self.rqs[cpu].scx.cpu_released = true;
        }
    }
}
