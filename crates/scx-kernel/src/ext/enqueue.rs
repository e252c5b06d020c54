//! The enqueue and dequeue paths (ext.c:1900-2260): `enqueue_task_scx()`,
//! the `do_enqueue_task()` decision ladder, direct dispatch (incl. deferred
//! remote `SCX_DSQ_LOCAL_ON`), `dequeue_task_scx()`/`ops_dequeue()`,
//! `select_task_rq_scx()` and the runnable list the watchdog walks.

use crate::consts::*;
use crate::ext::rq::DdspMarker;
use crate::irq::irq_work;
use crate::kernel::Kernel;
use crate::task::Tid;
use scx_observe::Op;

impl Kernel {
    /// `set_task_runnable()`: appends to the rq's runnable list, stamping
    /// `runnable_at` if it was reset.
    pub(crate) fn set_task_runnable(&mut self, cpu: usize, p: Tid) {
        let j = self.jiffies();
        let t = self.task_mut(p);
        if t.scx.flags & SCX_TASK_RESET_RUNNABLE_AT != 0 {
            t.scx.runnable_at = j;
            t.scx.flags &= !SCX_TASK_RESET_RUNNABLE_AT;
        }
        let rq = &mut self.rqs[cpu].scx;
        self.scx.runnable_links.push_back(&mut rq.runnable_list, p);
    }

    /// `clr_task_runnable()`.
    pub(crate) fn clr_task_runnable(&mut self, p: Tid, reset_runnable_at: bool) {
        if self.scx.runnable_links.is_linked(p) {
            let cpu = self.task(p).cpu;
            let rq = &mut self.rqs[cpu].scx;
            self.scx.runnable_links.remove(&mut rq.runnable_list, p);
        }
        if reset_runnable_at {
            self.task_mut(p).scx.flags |= SCX_TASK_RESET_RUNNABLE_AT;
        }
    }

    /// `clear_direct_dispatch()`.
    pub(crate) fn clear_direct_dispatch(&mut self, p: Tid) {
        let t = self.task_mut(p);
        t.scx.ddsp_dsq_id = SCX_DSQ_INVALID;
        t.scx.ddsp_enq_flags = 0;
    }

    /// `enqueue_task_scx()` (ext.c:2130-2170).
    pub(crate) fn enqueue_task_scx(&mut self, cpu: usize, p: Tid, core_flags: u64) {
        let mut enq_flags = core_flags;
        if enq_flags & ENQUEUE_WAKEUP != 0 {
            self.rqs[cpu].scx.flags |= SCX_RQ_IN_WAKEUP;
        }
        enq_flags |= self.rqs[cpu].scx.extra_enq_flags;
        let mut sticky = self.task(p).scx.sticky_cpu;
        if sticky >= 0 {
            self.task_mut(p).scx.sticky_cpu = -1;
        }
        if enq_flags & ENQUEUE_RESTORE != 0 && self.rqs[cpu].curr == p {
            sticky = cpu as i32;
        }
        if !self.task(p).scx.queued() {
            self.set_task_runnable(cpu, p);
            self.task_mut(p).scx.flags |= SCX_TASK_QUEUED;
            self.rqs[cpu].scx.nr_running += 1;
            self.rqs[cpu].nr_running += 1;
            if self.scx.has(Op::Runnable) && !self.task(p).migrating {
                self.scx_call_task(Op::Runnable, SCX_KF_REST, p, enq_flags, |s, cx, t| {
                    s.runnable(cx, t, enq_flags)
                });
            }
            self.do_enqueue_task(cpu, p, enq_flags, sticky);
        }
        self.rqs[cpu].scx.flags &= !SCX_RQ_IN_WAKEUP;
    }

    /// `do_enqueue_task()` (ext.c:2015-2100): the decision ladder.
    pub(crate) fn do_enqueue_task(&mut self, cpu: usize, p: Tid, enq_flags: u64, sticky: i32) {
        assert!(
            self.task(p).scx.queued(),
            "do_enqueue_task on a task not QUEUED"
        );
        if sticky == cpu as i32 {
            // rq migration: straight to the local DSQ, slice unchanged.
            return self.enqueue_local(cpu, p, enq_flags, false);
        }
        if !self.scx_rq_online(cpu) {
            return self.enqueue_local(cpu, p, enq_flags, true);
        }
        if self.scx_rq_bypassing(cpu) {
            return self.enqueue_global(p, enq_flags);
        }
        if self.task(p).scx.ddsp_dsq_id != SCX_DSQ_INVALID {
            return self.direct_dispatch(p, enq_flags);
        }
        if !self.scx.enq_exiting && self.task(p).flags & PF_EXITING != 0 {
            return self.enqueue_local(cpu, p, enq_flags, true);
        }
        if !self.scx.has(Op::Enqueue) {
            return self.enqueue_global(p, enq_flags);
        }
        // 7. ops.enqueue().
        let t = self.task_mut(p);
        let qseq_mask = (!SCX_OPSS_STATE_MASK) >> SCX_OPSS_QSEQ_SHIFT;
        t.scx.ops_qseq = (t.scx.ops_qseq + 1) & qseq_mask & 0xffff_ffff;
        if t.scx.ops_qseq == 0 {
            t.scx.ops_qseq = 1;
        }
        let qseq = t.scx.ops_qseq << SCX_OPSS_QSEQ_SHIFT;
        assert_eq!(
            t.scx.ops_state, SCX_OPSS_NONE,
            "enqueue of a task the BPF side owns"
        );
        t.scx.ops_state = SCX_OPSS_QUEUEING | qseq;
        let this = self.cur_cpu;
        self.rqs[this].scx.ddsp_task = DdspMarker::Task(p);
        self.scx_call_task(Op::Enqueue, SCX_KF_ENQUEUE, p, enq_flags, |s, cx, t| {
            s.enqueue(cx, t, enq_flags)
        });
        self.rqs[this].scx.ddsp_task = DdspMarker::None;
        if self.task(p).scx.ddsp_dsq_id != SCX_DSQ_INVALID {
            return self.direct_dispatch(p, enq_flags);
        }
        self.task_mut(p).scx.ops_state = SCX_OPSS_QUEUED | qseq;
    }

    /// The ladder's `local:`/`local_norefill:` exits.
    fn enqueue_local(&mut self, cpu: usize, p: Tid, enq_flags: u64, refill: bool) {
        if refill {
            self.task_mut(p).scx.slice = self.cfg.slice_dfl;
        }
        self.clear_direct_dispatch(p);
        self.dispatch_enqueue(self.rqs[cpu].scx.local_dsq, p, enq_flags);
    }

    /// The ladder's `global:` exit.
    fn enqueue_global(&mut self, p: Tid, enq_flags: u64) {
        self.task_mut(p).scx.slice = self.cfg.slice_dfl;
        self.clear_direct_dispatch(p);
        let g = self.find_global_dsq(p);
        self.dispatch_enqueue(g, p, enq_flags);
    }

    /// `direct_dispatch()` (ext.c:1949-2001).
    pub(crate) fn direct_dispatch(&mut self, p: Tid, enq_flags: u64) {
        let rq_cpu = self.task(p).cpu;
        let ddsp_id = self.task(p).scx.ddsp_dsq_id;
        let d = self.find_dsq_for_dispatch(rq_cpu, ddsp_id, p);
        self.task_mut(p).scx.ddsp_enq_flags |= enq_flags;
        let remote_local = match self.scx.dsqs.get(d).kind {
            crate::ext::dsq::DsqKind::Local(c) => c != rq_cpu,
            _ => false,
        };
        if remote_local {
            self.task_mut(p).scx.ops_state = SCX_OPSS_NONE;
            let rq = &mut self.rqs[rq_cpu].scx;
            self.scx.dsqs.links.push_back(&mut rq.ddsp_deferred, p);
            self.task_mut(p).scx.on_ddsp_deferred = true;
            self.schedule_deferred(rq_cpu);
            return;
        }
        let flags = self.task(p).scx.ddsp_enq_flags;
        self.clear_direct_dispatch(p);
        self.dispatch_enqueue(d, p, flags | SCX_ENQ_CLEAR_OPSS);
    }

    /// `schedule_deferred()` (ext.c:1573-1603).
    pub(crate) fn schedule_deferred(&mut self, cpu: usize) {
        let flags = self.rqs[cpu].scx.flags;
        if flags & SCX_RQ_IN_WAKEUP != 0 {
            return;
        }
        if flags & SCX_RQ_IN_BALANCE != 0 {
            self.rqs[cpu].scx.bal_cb_pending = true;
            return;
        }
        self.irq_work_queue(cpu, irq_work::SCX_DEFERRED);
    }

    /// `run_deferred()` → `process_ddsp_deferred_locals()` (ext.c:2930-2956).
    pub(crate) fn run_deferred(&mut self, cpu: usize) {
        while let Some(p) = self.scx.dsqs.links.first(&self.rqs[cpu].scx.ddsp_deferred) {
            let rq = &mut self.rqs[cpu].scx;
            self.scx.dsqs.links.remove(&mut rq.ddsp_deferred, p);
            self.task_mut(p).scx.on_ddsp_deferred = false;
            let (id, flags) = (
                self.task(p).scx.ddsp_dsq_id,
                self.task(p).scx.ddsp_enq_flags,
            );
            self.clear_direct_dispatch(p);
            let d = self.find_dsq_for_dispatch(cpu, id, p);
            if matches!(
                self.scx.dsqs.get(d).kind,
                crate::ext::dsq::DsqKind::Local(_)
            ) {
                self.dispatch_to_local_dsq(cpu, d, p, flags);
            }
        }
    }

    /// `task_woken_scx()`.
    pub(crate) fn task_woken_scx(&mut self, cpu: usize) {
        self.run_deferred(cpu);
    }

    /// `ops_dequeue()` (ext.c:2172-2217).
    pub(crate) fn ops_dequeue(&mut self, p: Tid, deq_flags: u64) {
        self.clr_task_runnable(p, false);
        match self.task(p).scx.opss() {
            SCX_OPSS_NONE => {}
            SCX_OPSS_QUEUEING => unreachable!("dequeue while QUEUEING (BUG in the kernel too)"),
            SCX_OPSS_QUEUED => {
                if self.scx.has(Op::Dequeue) {
                    self.scx_call_task(Op::Dequeue, SCX_KF_REST, p, deq_flags, |s, cx, t| {
                        s.dequeue(cx, t, deq_flags)
                    });
                }
                self.task_mut(p).scx.ops_state = SCX_OPSS_NONE;
            }
            _ => {
                unreachable!("dequeue while DISPATCHING: dispatches complete atomically in scxsim")
            }
        }
    }

    /// `dequeue_task_scx()` (ext.c:2219-2260).
    pub(crate) fn dequeue_task_scx(&mut self, cpu: usize, p: Tid, deq_flags: u64) {
        if !self.task(p).scx.queued() {
            return;
        }
        self.ops_dequeue(p, deq_flags);
        if self.scx.has(Op::Stopping) && self.rqs[cpu].curr == p {
            self.update_curr_scx(cpu);
            self.scx_call_task(Op::Stopping, SCX_KF_REST, p, 0, |s, cx, t| {
                s.stopping(cx, t, false)
            });
        }
        if self.scx.has(Op::Quiescent) && !self.task(p).migrating {
            self.scx_call_task(Op::Quiescent, SCX_KF_REST, p, deq_flags, |s, cx, t| {
                s.quiescent(cx, t, deq_flags)
            });
        }
        let t = self.task_mut(p);
        if deq_flags & SCX_DEQ_SLEEP != 0 {
            t.scx.flags |= SCX_TASK_DEQD_FOR_SLEEP;
        } else {
            t.scx.flags &= !SCX_TASK_DEQD_FOR_SLEEP;
        }
        t.scx.flags &= !SCX_TASK_QUEUED;
        self.rqs[cpu].scx.nr_running -= 1;
        self.rqs[cpu].nr_running -= 1;
        self.dispatch_dequeue(cpu, p);
        self.clear_direct_dispatch(p);
    }

    /// `select_task_rq_scx()` (ext.c:3351-3392).
    pub(crate) fn select_task_rq_scx(&mut self, p: Tid, prev_cpu: usize, wake_flags: u64) -> usize {
        if wake_flags & WF_EXEC != 0 {
            return prev_cpu;
        }
        let task_cpu = self.task(p).cpu;
        if self.scx.has(Op::SelectCpu) && !self.scx_rq_bypassing(task_cpu) {
            let this = self.cur_cpu;
            self.rqs[this].scx.ddsp_task = DdspMarker::Task(p);
            let cpu = self.scx_call(
                Op::SelectCpu,
                SCX_KF_ENQUEUE | SCX_KF_SELECT_CPU,
                [Some(p), None],
                wake_flags,
                prev_cpu as i32,
                |s, cx| s.select_cpu(cx, crate::ops::Task(p), prev_cpu as i32, wake_flags),
            );
            self.rqs[this].scx.ddsp_task = DdspMarker::None;
            if self.ops_cpu_valid(i64::from(cpu), Some("from ops.select_cpu()")) {
                cpu as usize
            } else {
                prev_cpu
            }
        } else {
            let (cpu, found) = self.scx_select_cpu_dfl(p, prev_cpu, wake_flags);
            if found {
                let slice = self.cfg.slice_dfl;
                let t = self.task_mut(p);
                t.scx.slice = slice;
                t.scx.ddsp_dsq_id = SCX_DSQ_LOCAL;
            }
            cpu
        }
    }
}
