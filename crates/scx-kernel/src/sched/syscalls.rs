//! Task attribute changes (`kernel/sched/syscalls.c`, `core.c`): yield,
//! affinity, nice, policy, cgroup moves, and the per-CPU stopper that
//! migrates running tasks.
//!
//! Every change follows the kernel's "dequeue and put, change, enqueue and
//! set next" pattern with the kernel's flags, so sched_ext callbacks see
//! exactly the sequences a real kernel produces (e.g. a nice change of a
//! running SCX task: `stopping(false)`, `quiescent(0x0a)`, `set_weight`,
//! `runnable(0x0a)`, `running`).

use crate::consts::*;
use crate::kernel::Kernel;
use crate::task::{Class, Tid};
use scx_machine::Cpumask;
use scx_workload::Policy;

/// Work for the per-CPU stopper.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopWork {
    /// `migration_cpu_stop`: move `task` off this CPU if it is still here.
    Migrate {
        /// The task.
        task: Tid,
    },
    /// `softlockup_fn`: the lockup detector's proof that the CPU schedules.
    SoftlockupTouch,
    /// `__balance_push_cpu_stop`: push `task` off this CPU, which is going
    /// offline.
    BalancePush {
        /// The task.
        task: Tid,
    },
}

impl Kernel {
    /// Runs `change` on `p` between a dequeue/put and an enqueue/set-next,
    /// as the kernel's `sched_change` pattern does.
    pub(crate) fn task_change(
        &mut self,
        p: Tid,
        deq_flags: u64,
        enq_flags: u64,
        change: impl FnOnce(&mut Kernel),
    ) {
        let cpu = self.task(p).cpu;
        let queued = self.task(p).on_rq;
        let running = self.rqs[cpu].curr == p;
        self.update_rq_clock(cpu);
        if queued {
            self.dequeue_task(cpu, p, deq_flags);
        }
        if running {
            self.put_prev_task_change(cpu, p);
        }
        change(self);
        if queued {
            self.enqueue_task(cpu, p, enq_flags);
        }
        if running {
            self.set_next_task_change(cpu, p);
        }
    }

    fn put_prev_task_change(&mut self, cpu: usize, p: Tid) {
        match self.task(p).class {
            Class::Fair => self.put_prev_task_fair(cpu, p),
            Class::Rt | Class::Stop => {
                self.update_curr_common(cpu);
            }
            Class::Ext => self.put_prev_task_scx_change(cpu, p),
            Class::Idle => {}
        }
    }

    fn set_next_task_change(&mut self, cpu: usize, p: Tid) {
        let clock = self.rqs[cpu].clock;
        self.task_mut(p).exec_start = clock;
        match self.task(p).class {
            Class::Fair => self.set_next_task_fair(cpu, p),
            Class::Rt | Class::Stop => self.set_next_task_rt(cpu, p),
            Class::Ext => self.set_next_task_scx(cpu, p),
            Class::Idle => {}
        }
    }

    /// `sched_yield()` by the running task `p`.
    pub(crate) fn sched_yield(&mut self, cpu: usize, p: Tid) {
        self.update_rq_clock(cpu);
        match self.task(p).class {
            Class::Fair => {
                self.update_curr_fair(cpu);
                let max = self.rqs[cpu].cfs.tree.keys().next_back().map(|k| k.0);
                if let Some(m) = max {
                    let t = self.task_mut(p);
                    t.se.vruntime = t.se.vruntime.max(m + 1);
                }
            }
            Class::Rt | Class::Stop => self.task_mut(p).rt.time_slice = 0,
            Class::Ext => self.yield_task_scx(cpu, p),
            Class::Idle => {}
        }
    }

    /// `set_user_nice()`.
    pub(crate) fn set_user_nice(&mut self, p: Tid, nice: i32) {
        let nice = nice.clamp(-20, 19);
        if self.task(p).nice == nice {
            return;
        }
        let cpu = self.task(p).cpu;
        let running = self.rqs[cpu].curr == p;
        let queued = self.task(p).on_rq;
        let old_prio = self.task(p).prio;
        let flags = DEQUEUE_SAVE | DEQUEUE_NOCLOCK;
        self.task_change(p, flags, ENQUEUE_RESTORE | ENQUEUE_NOCLOCK, |k| {
            k.task_mut(p).nice = nice;
            k.refresh_prio_weight(p);
            if k.task(p).class == Class::Ext {
                k.reweight_task_scx(p);
            }
        });
        self.emit_prio(p);
        if queued && self.task(p).class == Class::Fair {
            if running {
                if self.task(p).prio > old_prio {
                    self.resched_curr(cpu);
                }
            } else {
                self.wakeup_preempt(cpu, p, 0);
            }
        }
    }

    fn emit_prio(&mut self, p: Tid) {
        let prio = self.task(p).prio;
        self.emit_with(|| scx_observe::Event::TaskPrio { tid: p, prio });
    }

    /// `sched_setscheduler()`; returns 0 or a negative errno.
    pub(crate) fn sched_setscheduler(&mut self, p: Tid, policy: Policy) -> i32 {
        if policy == Policy::Ext && self.task(p).scx.disallow {
            return -EACCES;
        }
        let old_prio = self.task(p).prio;
        let old_class = self.task(p).class;
        let cpu = self.task(p).cpu;
        let queued = self.task(p).on_rq;
        let running = self.rqs[cpu].curr == p;
        let mut new_prio = old_prio;
        let mut enq = ENQUEUE_RESTORE | ENQUEUE_MOVE | ENQUEUE_NOCLOCK;
        {
            let t = self.task(p);
            if crate::task::prio_of(policy, t.nice) > old_prio {
                enq |= ENQUEUE_HEAD;
            }
        }
        self.task_change(p, DEQUEUE_SAVE | DEQUEUE_MOVE | DEQUEUE_NOCLOCK, enq, |k| {
            k.task_mut(p).policy = policy;
            k.refresh_prio_weight(p);
            new_prio = k.task(p).prio;
            let new_class = k.class_for_policy(p);
            k.task_mut(p).class = new_class;
            if new_class != old_class {
                k.emit_with(|| scx_observe::Event::TaskClass {
                    tid: p,
                    class: new_class,
                });
                if new_class == Class::Ext {
                    k.switching_to_scx(p);
                }
            }
        });
        let new_class = self.task(p).class;
        if new_class != old_class {
            if old_class == Class::Ext {
                self.switched_from_scx(p);
            }
            self.switched_to(cpu, p, queued, running);
        }
        if new_prio != old_prio {
            self.emit_prio(p);
        }
        0
    }

    /// `switched_to_*()` of the task's new class.
    fn switched_to(&mut self, cpu: usize, p: Tid, queued: bool, running: bool) {
        if !queued {
            return;
        }
        match self.task(p).class {
            Class::Fair | Class::Rt | Class::Stop => {
                if running {
                    self.resched_curr(cpu);
                } else {
                    self.wakeup_preempt(cpu, p, 0);
                }
            }
            Class::Ext | Class::Idle => {}
        }
    }

    /// `migrate_disable_switch()`: a task switched out with migration
    /// disabled is narrowed to its CPU (`cpus_ptr`), under the change
    /// pattern (it is no longer current, so no put/set-next), so wakeups and
    /// the BPF scheduler (`ops.set_cpumask()`) keep it there.
    pub(crate) fn migrate_disable_switch(&mut self, cpu: usize, p: Tid) {
        let t = self.task(p);
        if !t.is_migration_disabled() || t.cpus_mask.is_some() {
            return;
        }
        let queued = t.on_rq;
        let mask = t.cpus;
        if queued {
            self.dequeue_task(cpu, p, DEQUEUE_SAVE | DEQUEUE_NOCLOCK);
        }
        let t = self.task_mut(p);
        t.cpus_mask = Some(mask);
        t.cpus = Cpumask::of(cpu);
        if t.class == Class::Ext {
            self.set_cpus_allowed_scx(p);
        }
        if queued {
            self.enqueue_task(cpu, p, ENQUEUE_RESTORE | ENQUEUE_NOCLOCK);
        }
    }

    /// `migrate_enable()` by the running task `p`: the last enable points
    /// `cpus_ptr` back at `cpus_mask` (moving the task if its CPU is no
    /// longer allowed) before the count drops to zero.
    pub(crate) fn migrate_enable(&mut self, p: Tid) {
        let t = self.task(p);
        if t.migration_disabled > 1 {
            self.task_mut(p).migration_disabled -= 1;
            return;
        }
        if let Some(mask) = t.cpus_mask {
            self.do_set_cpus_allowed(p, mask);
            self.task_mut(p).cpus_mask = None;
            self.task_mut(p).migration_disabled = 0;
            self.affine_move_task(p);
        }
        self.task_mut(p).migration_disabled = 0;
    }

    /// `sched_setaffinity()`.
    pub(crate) fn sched_setaffinity(&mut self, p: Tid, mask: Cpumask) {
        let mask = mask.and(&self.topo.all_cpus());
        if mask.is_empty() {
            return;
        }
        if let Some(m) = self.task_mut(p).cpus_mask.as_mut() {
            // Narrowed by migrate_disable(): the new mask takes effect at
            // migrate_enable().
            *m = mask;
            return;
        }
        if self.task(p).cpus == mask {
            return;
        }
        self.do_set_cpus_allowed(p, mask);
        self.affine_move_task(p);
    }

    /// `do_set_cpus_allowed()`: changes the mask under the change pattern
    /// (`ops.set_cpumask()` for a sched_ext task), without moving the task.
    pub(crate) fn do_set_cpus_allowed(&mut self, p: Tid, mask: Cpumask) {
        self.task_change(
            p,
            DEQUEUE_SAVE | DEQUEUE_NOCLOCK,
            ENQUEUE_RESTORE | ENQUEUE_NOCLOCK,
            |k| {
                k.task_mut(p).cpus = mask;
                if k.task(p).class == Class::Ext {
                    k.set_cpus_allowed_scx(p);
                }
            },
        );
    }

    /// Moves `p` off a CPU it may no longer use.
    fn affine_move_task(&mut self, p: Tid) {
        let cpu = self.task(p).cpu;
        if self.task(p).cpus.test(cpu) {
            return;
        }
        if self.rqs[cpu].curr == p {
            self.stop_one_cpu(cpu, StopWork::Migrate { task: p });
        } else if self.task(p).on_rq {
            self.move_queued_task(p, cpu);
        } else if let Some(dest) = self.task(p).cpus.first() {
            self.set_task_cpu(p, dest);
        }
    }

    /// `move_queued_task()`: migrates a queued, not running task to an
    /// allowed CPU.
    fn move_queued_task(&mut self, p: Tid, src: usize) {
        let dest = (0..self.nr_cpus())
            .find(|c| self.is_cpu_allowed(p, *c))
            .unwrap_or(src);
        self.move_queued_task_to(p, src, dest);
    }

    /// `move_queued_task()` to `dest`.
    pub(crate) fn move_queued_task_to(&mut self, p: Tid, src: usize, dest: usize) {
        if dest == src {
            return;
        }
        self.update_rq_clock(src);
        self.deactivate_task(src, p, DEQUEUE_NOCLOCK);
        self.set_task_cpu(p, dest);
        self.update_rq_clock(dest);
        self.activate_task(dest, p, 0);
        self.wakeup_preempt(dest, p, 0);
    }

    /// `stop_one_cpu_nowait()`: queues work for `cpu`'s stopper and wakes
    /// it; the stop class preempts whatever runs there.
    pub(crate) fn stop_one_cpu(&mut self, cpu: usize, w: StopWork) {
        self.stop_works[cpu].push(w);
        let stopper = self.stoppers[cpu];
        self.try_to_wake_up(stopper, 0);
    }

    /// The stopper's program: run its works, then sleep.
    pub(crate) fn stopper_next(&mut self, cpu: usize, me: Tid) {
        let works = std::mem::take(&mut self.stop_works[cpu]);
        for w in works {
            match w {
                StopWork::SoftlockupTouch => self.softlockup_touch(cpu),
                StopWork::Migrate { task } => {
                    let t = self.task(task);
                    if t.cpu == cpu && t.on_rq && !t.cpus.test(cpu) && self.rqs[cpu].curr != task {
                        self.move_queued_task(task, cpu);
                    }
                }
                StopWork::BalancePush { task } => self.balance_push_stop(cpu, task),
            }
        }
        self.charge(self.cfg.cost.syscall);
        self.block_in_kernel(me);
    }

    /// `sched_move_task()`: moves `p` to cgroup `cg` (0 = root).
    pub(crate) fn sched_move_task(&mut self, p: Tid, cg: usize) {
        let from = self.task(p).cgroup;
        if from == cg || cg >= self.cgroups.len() {
            return;
        }
        if self.scx_cgroup_can_attach(p, from, cg).is_err() {
            return;
        }
        let flags = DEQUEUE_SAVE | DEQUEUE_MOVE | DEQUEUE_NOCLOCK;
        self.task_change(
            p,
            flags,
            ENQUEUE_RESTORE | ENQUEUE_MOVE | ENQUEUE_NOCLOCK,
            |k| {
                k.task_mut(p).cgroup = cg;
                k.scx_cgroup_move(p, from, cg);
            },
        );
    }
}
