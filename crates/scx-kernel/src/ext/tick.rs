//! Slice accounting and per-task property hooks (ext.c:1652-1666,
//! 2262-2280, 3399-3415, 3633-3650, 3926-3934): `update_curr_scx()`,
//! `task_tick_scx()`, yield, reweight and affinity changes.

use crate::consts::*;
use crate::kernel::Kernel;
use crate::task::Tid;
use scx_observe::Op;

impl Kernel {
    /// `update_curr_scx()`: charges runtime and decrements the slice.
    pub(crate) fn update_curr_scx(&mut self, cpu: usize) {
        let delta = self.update_curr_common(cpu);
        if delta == 0 {
            return;
        }
        let curr = self.rqs[cpu].curr;
        let t = self.task_mut(curr);
        if t.scx.slice != SCX_SLICE_INF {
            t.scx.slice -= t.scx.slice.min(delta);
        }
    }

    /// `task_tick_scx()`.
    pub(crate) fn task_tick_scx(&mut self, cpu: usize, curr: Tid) {
        self.update_curr_scx(cpu);
        if self.scx_rq_bypassing(cpu) {
            self.task_mut(curr).scx.slice = 0;
        } else if self.scx.has(Op::Tick) {
            self.scx_call_task(Op::Tick, SCX_KF_REST, curr, 0, |s, cx, t| s.tick(cx, t));
        }
        if self.task(curr).scx.slice == 0 {
            self.resched_curr(cpu);
        }
    }

    /// `yield_task_scx()`.
    pub(crate) fn yield_task_scx(&mut self, _cpu: usize, p: Tid) {
        if self.scx.has(Op::Yield) {
            self.scx_call(
                Op::Yield,
                SCX_KF_REST,
                [Some(p), None],
                0,
                false,
                |s, cx| s.yield_(cx, crate::ops::Task(p), None),
            );
        } else {
            self.task_mut(p).scx.slice = 0;
        }
    }

    /// `reweight_task_scx()`: new weight, then `ops.set_weight()`.
    pub(crate) fn reweight_task_scx(&mut self, p: Tid) {
        let w = sched_weight_to_cgroup(self.task(p).load_weight);
        self.task_mut(p).scx.weight = w;
        if self.scx.has(Op::SetWeight) {
            self.scx_call_task(Op::SetWeight, SCX_KF_REST, p, u64::from(w), |s, cx, t| {
                s.set_weight(cx, t, w)
            });
        }
    }

    /// `set_cpus_allowed_scx()`: tells the scheduler the effective mask.
    pub(crate) fn set_cpus_allowed_scx(&mut self, p: Tid) {
        if self.scx.has(Op::SetCpumask) {
            let mask = self.task(p).cpus;
            self.scx_call_task(Op::SetCpumask, SCX_KF_REST, p, 0, |s, cx, t| {
                s.set_cpumask(cx, t, &mask)
            });
        }
    }
}
