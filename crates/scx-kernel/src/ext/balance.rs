//! `balance_one()` and the dispatch machinery (ext.c:2282-2775):
//! the dispatch loop with its `SCX_DSP_MAX_LOOPS` breaker, the dispatch
//! buffer and `finish_dispatch()`'s qseq checks, consuming DSQs, and moving
//! tasks between runqueues and DSQs.
//!
//! Each round of the dispatch loop is one step of the CPU (see
//! `sched/core.rs`): other CPUs run between rounds, and a loop that never
//! ends keeps advancing simulated time by the cost model's `op_call` and
//! `balance_round` per round.

use crate::consts::*;
use crate::ext::dsq::DsqKind;
use crate::ext::rq::DspEnt;
use crate::kernel::Kernel;
use crate::sched::core::{class_above, Section};
use crate::task::{Class, Tid};
use scx_observe::{Event, Op};

/// Outcome of one dispatch round.
enum Round {
    /// `goto has_tasks`.
    HasTasks,
    /// `goto no_tasks` (or the loop ended).
    NoTasks,
    /// `while (dspc->nr_tasks)`: call `ops.dispatch()` again.
    Again,
}

impl Kernel {
    /// `balance_scx()` → `balance_one()` up to and including the first
    /// dispatch round. `None` if the dispatch loop continues in a later
    /// step of the CPU (the section is saved in the CPU's mode).
    pub(crate) fn balance_scx_begin(
        &mut self,
        cpu: usize,
        prev: Tid,
        preempt: bool,
    ) -> Option<bool> {
        let prev_on_scx = self.task(prev).class == Class::Ext;
        let prev_on_rq = self.task(prev).scx.queued();
        let rq = &mut self.rqs[cpu].scx;
        rq.flags |= SCX_RQ_IN_BALANCE;
        rq.flags &= !(SCX_RQ_BAL_PENDING | SCX_RQ_BAL_KEEP);
        if self.scx.cpu_preempt && self.rqs[cpu].scx.cpu_released {
            if self.scx.has(Op::CpuAcquire) {
                self.scx_call_void(Op::CpuAcquire, SCX_KF_REST, cpu as u64, |s, cx| {
                    s.cpu_acquire(cx, cpu as i32)
                });
            }
            self.rqs[cpu].scx.cpu_released = false;
        }
        if prev_on_scx {
            self.update_curr_scx(cpu);
            if prev_on_rq && self.task(prev).scx.slice > 0 && !self.scx_rq_bypassing(cpu) {
                self.rqs[cpu].scx.flags |= SCX_RQ_BAL_KEEP;
                return Some(self.balance_done(cpu, true));
            }
        }
        if self.scx.dsqs.get(self.rqs[cpu].scx.local_dsq).nr > 0 || self.consume_global_dsq(cpu) {
            return Some(self.balance_done(cpu, true));
        }
        if !self.scx.has(Op::Dispatch)
            || self.scx_rq_bypassing(cpu)
            || self.rqs[cpu].scx.flags & SCX_RQ_ONLINE == 0
        {
            return Some(self.balance_no_tasks(cpu, prev_on_rq));
        }
        let max = self.cfg.dsp_max_loops;
        let sec = Section {
            prev,
            prev_on_scx,
            prev_on_rq,
            loops_left: (max > 0).then_some(max),
            round: 0,
            preempt,
        };
        self.balance_scx_continue(cpu, sec)
    }

    /// Runs one dispatch round of a suspended `balance_one()`.
    pub(crate) fn balance_scx_continue(&mut self, cpu: usize, mut sec: Section) -> Option<bool> {
        match self.dispatch_round(cpu, &mut sec) {
            Round::HasTasks => Some(self.balance_done(cpu, true)),
            Round::NoTasks => Some(self.balance_no_tasks(cpu, sec.prev_on_rq)),
            Round::Again => {
                self.rqs[cpu].mode = crate::rq::Mode::Sched(sec);
                None
            }
        }
    }

    /// One iteration of the `do { ... } while (dspc->nr_tasks)` loop.
    fn dispatch_round(&mut self, cpu: usize, sec: &mut Section) -> Round {
        self.ff_round_begin(cpu, sec.round);
        self.charge(self.cfg.cost.balance_round);
        self.rqs[cpu].scx.dsp_nr_tasks = 0;
        self.stats.dispatch_calls += 1;
        self.rqs[cpu].counters.dispatch_calls += 1;
        let prev_arg = sec.prev_on_scx.then_some(crate::ops::Task(sec.prev));
        self.scx_call_void(Op::Dispatch, SCX_KF_DISPATCH, cpu as u64, |s, cx| {
            s.dispatch(cx, cpu as i32, prev_arg)
        });
        self.flush_dispatch_buf(cpu);
        sec.round += 1;
        let nr_tasks = self.rqs[cpu].scx.dsp_nr_tasks;
        let round = sec.round;
        self.emit_with(|| Event::DispatchRound {
            cpu: cpu as u32,
            round,
            nr_tasks,
        });
        if sec.prev_on_rq && self.task(sec.prev).scx.slice > 0 {
            self.rqs[cpu].scx.flags |= SCX_RQ_BAL_KEEP;
            return Round::HasTasks;
        }
        if self.scx.dsqs.get(self.rqs[cpu].scx.local_dsq).nr > 0 || self.consume_global_dsq(cpu) {
            return Round::HasTasks;
        }
        if let Some(left) = sec.loops_left.as_mut() {
            *left -= 1;
            if *left == 0 {
                self.stats.dispatch_loop_breaks += 1;
                self.rqs[cpu].counters.breaks += 1;
                self.ff[cpu].breaker_fired = true;
                self.kick_cpu(cpu, cpu as i64, 0, true);
                return Round::NoTasks;
            }
        }
        if nr_tasks != 0 {
            self.ff_round_end(cpu);
            Round::Again
        } else {
            Round::NoTasks
        }
    }

    /// `no_tasks:` of `balance_one()`.
    fn balance_no_tasks(&mut self, cpu: usize, prev_on_rq: bool) -> bool {
        if prev_on_rq && (!self.scx.enq_last || self.scx_rq_bypassing(cpu)) {
            self.rqs[cpu].scx.flags |= SCX_RQ_BAL_KEEP;
            return self.balance_done(cpu, true);
        }
        self.balance_done(cpu, false)
    }

    fn balance_done(&mut self, cpu: usize, found: bool) -> bool {
        self.rqs[cpu].scx.flags &= !SCX_RQ_IN_BALANCE;
        self.set_looping(cpu, false);
        found
    }

    /// `flush_dispatch_buf()`.
    pub(crate) fn flush_dispatch_buf(&mut self, cpu: usize) {
        let buf = std::mem::take(&mut self.rqs[cpu].scx.dsp_buf);
        for ent in &buf {
            self.finish_dispatch(cpu, *ent);
        }
        let rq = &mut self.rqs[cpu].scx;
        rq.dsp_nr_tasks += buf.len() as u32;
        let mut buf = buf;
        buf.clear();
        rq.dsp_buf = buf;
    }

    /// `finish_dispatch()` (ext.c:2700-2759).
    fn finish_dispatch(&mut self, cpu: usize, ent: DspEnt) {
        let p = ent.task;
        let t = self.task(p);
        match t.scx.opss() {
            SCX_OPSS_NONE | SCX_OPSS_DISPATCHING => return,
            SCX_OPSS_QUEUED => {
                if t.scx.opss_qseq() != ent.qseq {
                    return;
                }
                self.task_mut(p).scx.ops_state = SCX_OPSS_DISPATCHING;
            }
            _ => unreachable!("QUEUEING is never visible outside do_enqueue_task() in scxsim"),
        }
        assert!(
            self.task(p).scx.queued(),
            "dispatching a task that is not QUEUED"
        );
        let d = self.find_dsq_for_dispatch(cpu, ent.dsq_id, p);
        if matches!(self.scx.dsqs.get(d).kind, DsqKind::Local(_)) {
            self.dispatch_to_local_dsq(cpu, d, p, ent.enq_flags);
        } else {
            self.dispatch_enqueue(d, p, ent.enq_flags | SCX_ENQ_CLEAR_OPSS);
        }
    }

    fn local_cpu(&self, d: u32) -> usize {
        match self.scx.dsqs.get(d).kind {
            DsqKind::Local(c) => c,
            _ => unreachable!("not a local DSQ"),
        }
    }

    /// `dispatch_to_local_dsq()` (ext.c:2597-2679); `cpu` is the locked rq.
    pub(crate) fn dispatch_to_local_dsq(
        &mut self,
        cpu: usize,
        dst_dsq: u32,
        p: Tid,
        enq_flags: u64,
    ) {
        let src = self.task(p).cpu;
        let dst = self.local_cpu(dst_dsq);
        if cpu == src && cpu == dst {
            return self.dispatch_enqueue(dst_dsq, p, enq_flags | SCX_ENQ_CLEAR_OPSS);
        }
        if src != dst && !self.task_can_run_on_remote_rq(p, dst, true) {
            let g = self.find_global_dsq(p);
            return self.dispatch_enqueue(g, p, enq_flags | SCX_ENQ_CLEAR_OPSS);
        }
        let this = self.cur_cpu as i32;
        let t = self.task_mut(p);
        t.scx.holding_cpu = this;
        t.scx.ops_state = SCX_OPSS_NONE;
        if self.task(p).scx.holding_cpu == this {
            if src == dst {
                self.task_mut(p).scx.holding_cpu = -1;
                self.dispatch_enqueue(dst_dsq, p, enq_flags);
            } else {
                self.move_remote_task_to_local_dsq(p, enq_flags, src, dst);
            }
            let curr = self.rqs[dst].curr;
            if class_above(self.task(p).class, self.task(curr).class) {
                self.resched_curr(dst);
            }
        }
    }

    /// `task_can_run_on_remote_rq()` (ext.c:2359-2402).
    pub(crate) fn task_can_run_on_remote_rq(
        &mut self,
        p: Tid,
        cpu: usize,
        trigger_error: bool,
    ) -> bool {
        let t = self.task(p);
        debug_assert_ne!(t.cpu, cpu);
        if t.is_migration_disabled() {
            if trigger_error {
                let msg = format!(
                    "SCX_DSQ_LOCAL[_ON] cannot move migration disabled {}[{}] from CPU {} to {}",
                    t.comm, t.pid, t.cpu, cpu
                );
                self.scx_ops_error(msg);
            }
            return false;
        }
        if !t.cpus.test(cpu) {
            if trigger_error {
                let msg = format!(
                    "SCX_DSQ_LOCAL[_ON] target CPU {} not allowed for {}[{}]",
                    cpu, t.comm, t.pid
                );
                self.scx_ops_error(msg);
            }
            return false;
        }
        self.scx_rq_online(cpu)
    }

    /// `move_remote_task_to_local_dsq()` (ext.c:2315-2338).
    pub(crate) fn move_remote_task_to_local_dsq(
        &mut self,
        p: Tid,
        enq_flags: u64,
        src: usize,
        dst: usize,
    ) {
        self.deactivate_task(src, p, 0);
        self.set_task_cpu(p, dst);
        self.task_mut(p).scx.sticky_cpu = dst as i32;
        assert!(self.task(p).cpus.test(dst));
        assert_eq!(self.rqs[dst].scx.extra_enq_flags, 0);
        self.rqs[dst].scx.extra_enq_flags = enq_flags;
        self.activate_task(dst, p, 0);
        self.rqs[dst].scx.extra_enq_flags = 0;
    }

    /// `move_local_task_to_local_dsq()` (ext.c:2282-2303): links an
    /// unlinked task into `dst`'s local DSQ without touching the DSQ seq.
    fn move_local_task_to_local_dsq(&mut self, p: Tid, enq_flags: u64, dst: usize) {
        assert!(self.task(p).scx.holding_cpu < 0);
        let d = self.rqs[dst].scx.local_dsq;
        let dsqs = &mut self.scx.dsqs;
        let list = &mut dsqs.arena[d as usize].list;
        if enq_flags & (SCX_ENQ_HEAD | SCX_ENQ_PREEMPT) != 0 {
            dsqs.links.push_front(list, p);
        } else {
            dsqs.links.push_back(list, p);
        }
        dsqs.arena[d as usize].nr += 1;
        self.task_mut(p).scx.dsq = Some(d);
        self.emit_dsq_depth(d);
        self.local_dsq_post_enq(dst, p, enq_flags);
    }

    /// Emits a DSQ depth event.
    pub(crate) fn emit_dsq_depth(&mut self, d: u32) {
        if self.tracing() {
            let dsq = self.scx.dsqs.get(d);
            let (id, depth) = (dsq.trace_id(), dsq.nr);
            self.emit_with(|| Event::DsqDepth { dsq: id, depth });
        }
    }

    /// `consume_dispatch_q()` (ext.c:2541-2574).
    pub(crate) fn consume_dispatch_q(&mut self, cpu: usize, d: u32) -> bool {
        let candidates: Vec<Tid> = self.scx.dsqs.tasks(d).collect();
        for p in candidates {
            let src = self.task(p).cpu;
            if src == cpu {
                self.task_unlink_from_dsq(p, d);
                self.task_mut(p).scx.dsq = None;
                self.move_local_task_to_local_dsq(p, 0, cpu);
                return true;
            }
            if self.task_can_run_on_remote_rq(p, cpu, false) {
                self.task_unlink_from_dsq(p, d);
                self.task_mut(p).scx.holding_cpu = self.cur_cpu as i32;
                self.move_remote_task_to_local_dsq(p, 0, src, cpu);
                return true;
            }
        }
        false
    }

    /// `consume_global_dsq()`.
    pub(crate) fn consume_global_dsq(&mut self, cpu: usize) -> bool {
        let node = self.topo.node_of(cpu);
        let g = self.scx.dsqs.global[node];
        if self.scx.dsqs.get(g).nr == 0 {
            return false;
        }
        self.consume_dispatch_q(cpu, g)
    }

    /// `move_task_between_dsqs()` (ext.c:2488-2539); returns the task's rq.
    pub(crate) fn move_task_between_dsqs(
        &mut self,
        p: Tid,
        enq_flags: u64,
        src_dsq: u32,
        mut dst_dsq: u32,
    ) -> usize {
        let src = self.task(p).cpu;
        let mut dst = src;
        if let DsqKind::Local(c) = self.scx.dsqs.get(dst_dsq).kind {
            dst = c;
            if src != dst && !self.task_can_run_on_remote_rq(p, dst, true) {
                dst_dsq = self.find_global_dsq(p);
                dst = src;
            }
        }
        if matches!(self.scx.dsqs.get(dst_dsq).kind, DsqKind::Local(_)) {
            if src == dst {
                self.task_unlink_from_dsq(p, src_dsq);
                self.task_mut(p).scx.dsq = None;
                self.move_local_task_to_local_dsq(p, enq_flags, dst);
            } else {
                self.move_remote_task_to_local_dsq(p, enq_flags, src, dst);
            }
        } else {
            self.task_unlink_from_dsq(p, src_dsq);
            self.task_mut(p).scx.dsq = None;
            self.dispatch_enqueue(dst_dsq, p, enq_flags);
        }
        dst
    }
}
