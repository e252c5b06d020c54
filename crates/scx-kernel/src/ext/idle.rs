//! Built-in idle tracking and default CPU selection (ext.c:3235-3349,
//! 3417-3504; lib/cpumask.c for the distribute cursor).
//!
//! `idle_masks.cpu` holds idle CPUs, `idle_masks.smt` CPUs whose whole SMT
//! core is idle. `cpumask_any_and_distribute()` keeps a round-robin cursor
//! per *calling* CPU, which scxsim keeps too, so idle picks rotate exactly
//! as the kernel's do.

use crate::consts::*;
use crate::kernel::Kernel;
use crate::task::Tid;
use scx_machine::Cpumask;
use scx_observe::Op;

impl Kernel {
    /// `scx_update_idle()` / `__scx_update_idle()`.
    pub(crate) fn scx_update_idle(&mut self, cpu: usize, idle: bool, do_notify: bool) {
        if !self.scx.enabled {
            return;
        }
        if self.scx.has(Op::UpdateIdle) && do_notify && !self.scx_rq_bypassing(cpu) {
            self.scx_call_void(Op::UpdateIdle, SCX_KF_REST, u64::from(idle), |s, cx| {
                s.update_idle(cx, cpu as i32, idle)
            });
        }
        if self.scx.builtin_idle && (do_notify || self.task(self.rqs[cpu].curr).is_idle()) {
            self.update_builtin_idle(cpu, idle);
        }
    }

    /// `update_builtin_idle()`.
    fn update_builtin_idle(&mut self, cpu: usize, idle: bool) {
        if idle {
            self.scx.idle_cpu.set(cpu);
        } else {
            self.scx.idle_cpu.clear(cpu);
        }
        if self.topo.smt_active() {
            let smt = self.topo.smt_siblings(cpu);
            if idle {
                if smt.is_subset(&self.scx.idle_cpu) {
                    self.scx.idle_smt = self.scx.idle_smt.or(&smt);
                }
            } else {
                self.scx.idle_smt = self.scx.idle_smt.andnot(&smt);
            }
        }
    }

    /// `reset_idle_masks()`: every online CPU is idle.
    pub(crate) fn reset_idle_masks(&mut self) {
        let online = self.online_mask();
        self.scx.idle_cpu = online;
        self.scx.idle_smt = online;
    }

    /// `cpu_online_mask`.
    pub fn online_mask(&self) -> Cpumask {
        Cpumask::from_cpus((0..self.nr_cpus()).filter(|c| self.rqs[*c].online))
    }

    /// `test_and_clear_cpu_idle()`.
    pub(crate) fn test_and_clear_cpu_idle(&mut self, cpu: usize) -> bool {
        if self.topo.smt_active() {
            let smt = self.topo.smt_siblings(cpu);
            if smt.intersects(&self.scx.idle_smt) {
                self.scx.idle_smt = self.scx.idle_smt.andnot(&smt);
            } else if self.scx.idle_smt.test(cpu) {
                self.scx.idle_smt.clear(cpu);
            }
        }
        self.scx.idle_cpu.test_and_clear(cpu)
    }

    /// `cpumask_any_and_distribute(a, b)` on the calling CPU.
    pub(crate) fn any_and_distribute(&mut self, a: &Cpumask, b: &Cpumask) -> Option<usize> {
        let this = self.cur_cpu;
        let m = a.and(b);
        let next = m.next_wrap_after(self.rqs[this].scx.distribute_prev)?;
        if next < self.nr_cpus() {
            self.rqs[this].scx.distribute_prev = next;
            Some(next)
        } else {
            None
        }
    }

    /// `scx_pick_idle_cpu()`: `-EBUSY` as `None`.
    pub(crate) fn scx_pick_idle_cpu(&mut self, allowed: &Cpumask, flags: u64) -> Option<usize> {
        loop {
            let mut cpu = None;
            if self.topo.smt_active() {
                let smt = self.scx.idle_smt;
                cpu = self.any_and_distribute(&smt, allowed);
                if cpu.is_none() && flags & SCX_PICK_IDLE_CORE != 0 {
                    return None;
                }
            }
            if cpu.is_none() {
                let idle = self.scx.idle_cpu;
                cpu = Some(self.any_and_distribute(&idle, allowed)?);
            }
            let c = cpu?;
            if self.test_and_clear_cpu_idle(c) {
                return Some(c);
            }
        }
    }

    /// `scx_select_cpu_dfl()` (ext.c:3286-3349): `(cpu, found)`.
    pub(crate) fn scx_select_cpu_dfl(
        &mut self,
        p: Tid,
        prev_cpu: usize,
        wake_flags: u64,
    ) -> (usize, bool) {
        let cpu = self.cur_cpu;
        let allowed = self.task(p).cpus;
        let waker = self.rqs[cpu].curr;
        if wake_flags & SCX_WAKE_SYNC != 0
            && !self.scx.idle_cpu.is_empty()
            && self.task(waker).flags & PF_EXITING == 0
            && self.scx.dsqs.get(self.rqs[cpu].scx.local_dsq).nr == 0
            && allowed.test(cpu)
        {
            return (cpu, true);
        }
        if self.topo.smt_active() {
            if self.scx.idle_smt.test(prev_cpu) && self.test_and_clear_cpu_idle(prev_cpu) {
                return (prev_cpu, true);
            }
            if let Some(c) = self.scx_pick_idle_cpu(&allowed, SCX_PICK_IDLE_CORE) {
                return (c, true);
            }
        }
        if self.test_and_clear_cpu_idle(prev_cpu) {
            return (prev_cpu, true);
        }
        if let Some(c) = self.scx_pick_idle_cpu(&allowed, 0) {
            return (c, true);
        }
        (prev_cpu, false)
    }
}
