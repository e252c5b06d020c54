//! Kicking CPUs (ext.c:5977-6084, 6792-6843): `scx_bpf_kick_cpu()` marks
//! the target in the kicking CPU's masks and queues irq_work; the irq_work
//! reschedules the targets, zeroes slices for `SCX_KICK_PREEMPT`, and for
//! `SCX_KICK_WAIT` busy-waits with interrupts off until each target passes
//! through `switch_class()` (its `pnt_seq` moves). Also
//! `scx_bpf_reenqueue_local()`.

use crate::consts::*;
use crate::kernel::Kernel;
use crate::rq::Mode;
use crate::task::Class;
use scx_observe::Event;

impl Kernel {
    /// `scx_bpf_kick_cpu()` issued on `this` (`breaker`: by `balance_one()`'s
    /// dispatch-loop breaker rather than the scheduler).
    pub(crate) fn kick_cpu(&mut self, this: usize, cpu: i64, flags: u64, breaker: bool) {
        if !self.ops_cpu_valid(cpu, None) {
            return;
        }
        let target = cpu as usize;
        self.emit_with(|| Event::Kick {
            cpu: this as u32,
            target: target as u32,
            flags,
            breaker,
        });
        if self.scx_rq_bypassing(this) {
            return;
        }
        if flags & SCX_KICK_IDLE != 0 {
            if flags & (SCX_KICK_PREEMPT | SCX_KICK_WAIT) != 0 {
                self.scx_ops_error("PREEMPT/WAIT cannot be used with SCX_KICK_IDLE".into());
            }
            if self.can_skip_idle_kick(target) {
                return;
            }
            self.rqs[this].scx.cpus_to_kick_if_idle.set(target);
        } else {
            let rq = &mut self.rqs[this].scx;
            rq.cpus_to_kick.set(target);
            if flags & SCX_KICK_PREEMPT != 0 {
                rq.cpus_to_preempt.set(target);
            }
            if flags & SCX_KICK_WAIT != 0 {
                rq.cpus_to_wait.set(target);
            }
        }
        self.irq_work_queue(this, crate::irq::irq_work::SCX_KICK);
    }

    /// `can_skip_idle_kick()`.
    fn can_skip_idle_kick(&self, cpu: usize) -> bool {
        let rq = &self.rqs[cpu];
        !self.task(rq.curr).is_idle() && rq.scx.flags & SCX_RQ_IN_BALANCE == 0
    }

    /// `kick_cpus_irq_workfn()` on `this`.
    pub(crate) fn kick_cpus_irq_workfn(&mut self, this: usize) {
        let mut should_wait = false;
        let to_kick = self.rqs[this].scx.cpus_to_kick;
        for cpu in to_kick.iter() {
            if self.rq_lock_busy(cpu) {
                self.lock_wait(cpu, crate::lock::LockedOp::KickIrqWork);
                return;
            }
            should_wait |= self.kick_one_cpu(cpu, this);
            let rq = &mut self.rqs[this].scx;
            rq.cpus_to_kick.clear(cpu);
            rq.cpus_to_kick_if_idle.clear(cpu);
        }
        let if_idle = self.rqs[this].scx.cpus_to_kick_if_idle;
        for cpu in if_idle.iter() {
            if self.rq_lock_busy(cpu) {
                self.lock_wait(cpu, crate::lock::LockedOp::KickIrqWork);
                return;
            }
            if !self.can_skip_idle_kick(cpu) && (self.rqs[cpu].online || cpu == this) {
                self.deliver_kick(this, cpu);
            }
            self.rqs[this].scx.cpus_to_kick_if_idle.clear(cpu);
        }
        if should_wait {
            let mut wait = self.rqs[this].scx.cpus_to_wait;
            wait.clear(this);
            self.rqs[this].scx.cpus_to_wait = wait;
            if wait.is_empty() {
                return;
            }
            self.rqs[this].mode = Mode::KickWait;
            self.kick_waiting_cpus += 1;
            self.kick_wait_check_waiter(this);
        } else {
            self.rqs[this].scx.cpus_to_wait = Default::default();
        }
    }

    fn deliver_kick(&mut self, this: usize, cpu: usize) {
        self.emit_with(|| Event::KickDelivered {
            cpu: this as u32,
            target: cpu as u32,
        });
        self.resched_curr(cpu);
    }

    /// `kick_one_cpu()`; returns whether `this` must wait for `cpu`.
    fn kick_one_cpu(&mut self, cpu: usize, this: usize) -> bool {
        let mut should_wait = false;
        if self.rqs[cpu].online || cpu == this {
            if self.rqs[this].scx.cpus_to_preempt.test(cpu) {
                let curr = self.rqs[cpu].curr;
                if self.task(curr).class == Class::Ext {
                    self.task_mut(curr).scx.slice = 0;
                }
                self.rqs[this].scx.cpus_to_preempt.clear(cpu);
            }
            if self.rqs[this].scx.cpus_to_wait.test(cpu) {
                let seq = self.rqs[cpu].scx.pnt_seq;
                let pseqs = &mut self.rqs[this].scx.pseqs;
                if pseqs.len() <= cpu {
                    pseqs.resize(cpu + 1, 0);
                }
                pseqs[cpu] = seq;
                should_wait = true;
            }
            self.deliver_kick(this, cpu);
        } else {
            self.rqs[this].scx.cpus_to_preempt.clear(cpu);
            self.rqs[this].scx.cpus_to_wait.clear(cpu);
        }
        should_wait
    }

    /// `cpu` passed through `switch_class()`: release CPUs waiting on it.
    pub(crate) fn kick_wait_check(&mut self, _cpu: usize) {
        for w in 0..self.nr_cpus() {
            if self.rqs[w].mode == Mode::KickWait {
                self.kick_wait_check_waiter(w);
            }
        }
    }

    /// Clears satisfied targets of waiter `w`; resumes it when none is left.
    fn kick_wait_check_waiter(&mut self, w: usize) {
        let wait = self.rqs[w].scx.cpus_to_wait;
        for cpu in wait.iter() {
            let seq = self.rqs[cpu].scx.pnt_seq;
            if self.rqs[w].scx.pseqs.get(cpu).copied() != Some(seq) {
                self.rqs[w].scx.cpus_to_wait.clear(cpu);
            }
        }
        if self.rqs[w].scx.cpus_to_wait.is_empty() && self.rqs[w].mode == Mode::KickWait {
            self.rqs[w].mode = Mode::Kernel;
            self.kick_waiting_cpus -= 1;
            if w != self.cur_cpu {
                let saved = self.cur_cpu;
                self.cur_cpu = w;
                self.settle(w);
                self.cur_cpu = saved;
            }
        }
    }

    /// `scx_bpf_reenqueue_local()`, first half: takes every task off this
    /// CPU's local DSQ; they are re-enqueued by
    /// [`Kernel::reenqueue_local_finish`] when `ops.cpu_release()` returns.
    pub(crate) fn reenqueue_local_start(&mut self, cpu: usize) -> u32 {
        let local = self.rqs[cpu].scx.local_dsq;
        let tasks: Vec<_> = self.scx.dsqs.tasks(local).collect();
        for p in &tasks {
            self.dispatch_dequeue(cpu, *p);
        }
        let n = tasks.len() as u32;
        self.rqs[cpu].scx.reenq.extend(tasks);
        n
    }

    /// Second half: `do_enqueue_task(rq, p, SCX_ENQ_REENQ, -1)` for each.
    pub(crate) fn reenqueue_local_finish(&mut self, cpu: usize) {
        let tasks = std::mem::take(&mut self.rqs[cpu].scx.reenq);
        // In the kernel these enqueues nest inside ops.cpu_release(): they
        // run with both kfunc masks set.
        let saved = self.rqs[cpu].scx.kf_mask;
        self.rqs[cpu].scx.kf_mask |= SCX_KF_CPU_RELEASE;
        for p in tasks {
            self.do_enqueue_task(cpu, p, SCX_ENQ_REENQ, -1);
        }
        self.rqs[cpu].scx.kf_mask = saved;
    }
}
