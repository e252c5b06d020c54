//! The core scheduler (`kernel/sched/core.c`): `__schedule()` and the class
//! loop, `try_to_wake_up()`, fork and exit, `set_task_cpu()`, and the
//! scheduler tick.
//!
//! `__schedule()` is resumable: everything up to `balance_one()`'s dispatch
//! loop runs at once, each further dispatch round is a separate step of the
//! CPU ([`Section`]), and the pick and context switch follow the last round.
//! Between rounds other CPUs run, as they do in the kernel while a CPU spins
//! in `balance_one()`; the CPU itself keeps interrupts disabled throughout.
//!
//! Like the kernel, classes are visited in priority order stop > rt > fair >
//! ext > idle, skipping fair when every task is switched to sched_ext and
//! ext when no BPF scheduler is enabled (`next_active_class()`). There is
//! no deadline class.

use crate::consts::*;
use crate::exec::BlockedOn;
use crate::irq::Resume;
use crate::kernel::Kernel;
use crate::rq::Mode;
use crate::task::{prio_of, Class, TaskKind, TaskState, Tid};
use scx_machine::clock::Ns;
use scx_observe::{Event, PrevState};

/// The resumable part of `__schedule()`: `balance_one()`'s dispatch loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The task that was running when `__schedule()` started.
    pub prev: Tid,
    /// `prev->sched_class == &ext_sched_class` at balance time.
    pub prev_on_scx: bool,
    /// `prev` was `SCX_TASK_QUEUED` at balance time.
    pub prev_on_rq: bool,
    /// Rounds left before the breaker (`None` = no breaker).
    pub loops_left: Option<u32>,
    /// Rounds done so far.
    pub round: u32,
    /// `__schedule(SM_PREEMPT)`.
    pub preempt: bool,
}

/// `sched_class_above(a, b)`.
pub fn class_above(a: Class, b: Class) -> bool {
    a < b
}

impl Kernel {
    // ------------------------------------------------------------------
    // Classes visited by the core.

    /// The classes `__schedule()` visits, highest first.
    fn active_classes(&self) -> impl Iterator<Item = Class> {
        let skip_fair = self.scx.switched_all;
        let skip_ext = !self.scx.enabled;
        [Class::Stop, Class::Rt, Class::Fair, Class::Ext, Class::Idle]
            .into_iter()
            .filter(move |c| !(skip_fair && *c == Class::Fair || skip_ext && *c == Class::Ext))
    }

    /// `update_rq_clock()`.
    pub(crate) fn update_rq_clock(&mut self, cpu: usize) {
        self.rqs[cpu].clock = self.now;
    }

    /// `update_curr_common()`: charges `curr` the time since `exec_start`.
    pub(crate) fn update_curr_common(&mut self, cpu: usize) -> u64 {
        let curr = self.rqs[cpu].curr;
        let clock = self.rqs[cpu].clock;
        let t = self.task_mut(curr);
        let delta = clock.saturating_sub(t.exec_start);
        t.exec_start = clock.max(t.exec_start);
        t.sum_exec_runtime += delta;
        delta
    }

    /// `enqueue_task()` by class.
    pub(crate) fn enqueue_task(&mut self, cpu: usize, p: Tid, flags: u64) {
        match self.task(p).class {
            Class::Fair => self.enqueue_task_fair(cpu, p, flags),
            Class::Rt | Class::Stop => self.enqueue_task_rt(cpu, p, flags & ENQUEUE_HEAD != 0),
            Class::Ext => self.enqueue_task_scx(cpu, p, flags),
            Class::Idle => unreachable!("enqueueing an idle task"),
        }
    }

    /// `dequeue_task()` by class.
    pub(crate) fn dequeue_task(&mut self, cpu: usize, p: Tid, flags: u64) {
        match self.task(p).class {
            Class::Fair => self.dequeue_task_fair(cpu, p),
            Class::Rt | Class::Stop => self.dequeue_task_rt(cpu, p),
            Class::Ext => self.dequeue_task_scx(cpu, p, flags),
            Class::Idle => unreachable!("dequeueing an idle task"),
        }
    }

    /// `activate_task()`: enqueue a task that is not on a runqueue. A task
    /// coming from `deactivate_task()` (migrating) gets `ENQUEUE_MIGRATED`.
    pub(crate) fn activate_task(&mut self, cpu: usize, p: Tid, mut flags: u64) {
        if self.task(p).migrating {
            flags |= ENQUEUE_MIGRATED;
        }
        self.enqueue_task(cpu, p, flags);
        let t = self.task_mut(p);
        t.on_rq = true;
        t.migrating = false;
        self.update_tick_dependency(cpu);
    }

    /// `deactivate_task()`: dequeue for a migration (`TASK_ON_RQ_MIGRATING`).
    pub(crate) fn deactivate_task(&mut self, cpu: usize, p: Tid, flags: u64) {
        self.task_mut(p).migrating = true;
        self.dequeue_task(cpu, p, flags);
        self.task_mut(p).on_rq = false;
    }

    /// `block_task()`: dequeue a task that goes to sleep or dies.
    fn block_task(&mut self, cpu: usize, p: Tid, flags: u64) {
        self.dequeue_task(cpu, p, DEQUEUE_SLEEP | flags);
        self.task_mut(p).on_rq = false;
    }

    /// `set_task_cpu()`.
    pub(crate) fn set_task_cpu(&mut self, p: Tid, cpu: usize) {
        let from = self.task(p).cpu;
        if from != cpu {
            self.emit_with(|| Event::Migrate {
                tid: p,
                from: from as u32,
                to: cpu as u32,
            });
            let t = self.task_mut(p);
            t.cpu = cpu;
            t.nr_migrations += 1;
        }
        self.task_mut(p).wake_cpu = cpu;
    }

    /// `is_cpu_allowed()`: user tasks need an active CPU; per-CPU kernel
    /// threads and migration-disabled tasks an online one; other kernel
    /// threads an online CPU that is not going down.
    pub(crate) fn is_cpu_allowed(&self, p: Tid, cpu: usize) -> bool {
        let t = self.task(p);
        if cpu >= self.nr_cpus() || !t.cpus.test(cpu) {
            return false;
        }
        let rq = &self.rqs[cpu];
        if t.is_migration_disabled() || t.per_cpu_kthread {
            return rq.online;
        }
        if !t.is_kthread() {
            return rq.active;
        }
        rq.online && !rq.dying
    }

    /// `select_fallback_rq()`: an allowed CPU on `cpu`'s node, else any
    /// allowed CPU; if none is left, the task's affinity is widened to every
    /// CPU (the cpuset fallback) and a user task's loss of affinity is
    /// logged.
    pub(crate) fn select_fallback_rq(&mut self, p: Tid, cpu: usize) -> usize {
        let node = self.topo.node_of(cpu.min(self.nr_cpus() - 1));
        let same_node = (0..self.nr_cpus())
            .find(|c| self.topo.node_of(*c) == node && self.is_cpu_allowed(p, *c));
        if let Some(c) = same_node {
            return c;
        }
        if let Some(c) = (0..self.nr_cpus()).find(|c| self.is_cpu_allowed(p, *c)) {
            return c;
        }
        let all = self.topo.all_cpus();
        self.do_set_cpus_allowed(p, all);
        let dest = (0..self.nr_cpus())
            .find(|c| self.is_cpu_allowed(p, *c))
            .expect("an online CPU is left");
        if !self.task(p).is_kthread() {
            let t = self.task(p);
            let line = format!(
                "process {} ({}) no longer affine to cpu{cpu}",
                t.pid, t.comm
            );
            self.printk(line);
        }
        dest
    }

    /// `select_task_rq()`: the class hook when the task may move, then the
    /// allowed-CPU check with fallback.
    fn select_task_rq(&mut self, p: Tid, prev: usize, wake_flags: &mut u64) -> usize {
        let t = self.task(p);
        let mut cpu = if t.nr_cpus_allowed() > 1 && !t.is_migration_disabled() {
            let c = match t.class {
                Class::Fair => self.select_task_rq_fair(p, prev, *wake_flags),
                Class::Rt | Class::Stop => self.select_task_rq_rt(p, prev),
                Class::Ext => self.select_task_rq_scx(p, prev, *wake_flags),
                Class::Idle => prev,
            };
            *wake_flags |= WF_RQ_SELECTED;
            c
        } else {
            t.cpus.first().unwrap_or(prev)
        };
        if !self.is_cpu_allowed(p, cpu) {
            cpu = self.select_fallback_rq(p, cpu);
        }
        cpu
    }

    /// `wakeup_preempt()`.
    pub(crate) fn wakeup_preempt(&mut self, cpu: usize, p: Tid, _wake_flags: u64) {
        let curr = self.rqs[cpu].curr;
        let pc = self.task(p).class;
        let cc = self.task(curr).class;
        if pc == cc {
            match pc {
                Class::Fair => self.wakeup_preempt_fair(cpu, p),
                Class::Rt | Class::Stop => self.wakeup_preempt_rt(cpu, p),
                Class::Ext | Class::Idle => {}
            }
        } else if class_above(pc, cc) {
            self.resched_curr(cpu);
        }
    }

    // ------------------------------------------------------------------
    // Wakeups.

    /// `try_to_wake_up()`; returns whether the task was woken.
    pub(crate) fn try_to_wake_up(&mut self, p: Tid, wake_flags: u64) -> bool {
        let wake_flags = wake_flags | SCX_WAKE_TTWU;
        let state = self.task(p).state;
        if state != TaskState::Sleeping {
            return false;
        }
        let waker_cpu = self.cur_cpu;
        self.emit_with(|| Event::Waking {
            cpu: waker_cpu as u32,
            tid: p,
        });
        if let Some(id) = self.task_mut(p).exec.sleep_timer.take() {
            self.hrtimer_cancel(id);
        }
        self.task_mut(p).exec.blocked_on = None;
        if self.task(p).on_rq {
            // ttwu_runnable(): it has not descheduled yet.
            self.task_mut(p).state = TaskState::Running;
            let cpu = self.task(p).cpu;
            if self.rqs[cpu].curr != p {
                self.update_rq_clock(cpu);
                self.wakeup_preempt(cpu, p, wake_flags);
            }
            return true;
        }
        self.task_mut(p).state = TaskState::Running;
        // p->on_cpu: its CPU is still inside __schedule() switching it out
        // (between dispatch rounds). The waker waits for the switch, which
        // completes when that CPU drops its runqueue lock.
        let on = self.task(p).cpu;
        if self.rqs[on].curr == p && (self.spinning() || self.rq_lock_busy(on)) {
            self.task_mut(p).waking = true;
            self.lock_wait(on, crate::lock::LockedOp::TtwuOffCpu { p, wake_flags });
            return true;
        }
        self.ttwu_select_and_activate(p, wake_flags);
        true
    }

    /// `try_to_wake_up()` from `select_task_rq()` on, for a task off CPU.
    pub(crate) fn ttwu_select_and_activate(&mut self, p: Tid, mut wake_flags: u64) {
        let prev = self.task(p).wake_cpu;
        let cpu = self.select_task_rq(p, prev, &mut wake_flags);
        if self.task(p).cpu != cpu {
            wake_flags |= WF_MIGRATED;
            self.set_task_cpu(p, cpu);
        }
        self.ttwu_activate_locked(cpu, p, wake_flags);
    }

    /// `ttwu_queue()`: takes `cpu`'s runqueue lock (spinning if another CPU
    /// holds it, see `lock.rs`) and activates `p` there.
    pub(crate) fn ttwu_activate_locked(&mut self, cpu: usize, p: Tid, wake_flags: u64) {
        if self.spinning() || self.rq_lock_busy(cpu) {
            self.task_mut(p).waking = true;
            self.lock_wait(
                cpu,
                crate::lock::LockedOp::TtwuActivate { p, cpu, wake_flags },
            );
            return;
        }
        self.task_mut(p).waking = false;
        self.ttwu_do_activate(cpu, p, wake_flags);
    }

    fn ttwu_do_activate(&mut self, cpu: usize, p: Tid, wake_flags: u64) {
        let mut en = ENQUEUE_WAKEUP | ENQUEUE_NOCLOCK;
        if wake_flags & WF_RQ_SELECTED != 0 {
            en |= ENQUEUE_RQ_SELECTED;
        }
        if wake_flags & WF_MIGRATED != 0 {
            en |= ENQUEUE_MIGRATED;
        }
        self.update_rq_clock(cpu);
        self.stats.wakeups += 1;
        self.rqs[self.cur_cpu].counters.wakeups += 1;
        self.activate_task(cpu, p, en);
        self.wakeup_preempt(cpu, p, wake_flags);
        let waker = self.cur_cpu as u32;
        self.emit_with(|| Event::Wakeup {
            cpu: waker,
            tid: p,
            target_cpu: cpu as u32,
            new: false,
        });
        if self.task(p).class == Class::Ext {
            self.task_woken_scx(cpu);
        }
    }

    /// `wake_up_new_task()`.
    pub(crate) fn wake_up_new_task(&mut self, p: Tid) {
        self.task_mut(p).state = TaskState::Running;
        let mut wf = SCX_WAKE_FORK;
        let prev = self.task(p).cpu;
        let cpu = self.select_task_rq(p, prev, &mut wf);
        // `__set_task_cpu()`: a child's first placement is not a migration
        // (no sched_migrate_task, no nr_migrations).
        let t = self.task_mut(p);
        t.cpu = cpu;
        t.wake_cpu = cpu;
        self.wake_new_activate_locked(cpu, p);
    }

    /// The second half of `wake_up_new_task()`, under `cpu`'s rq lock.
    pub(crate) fn wake_new_activate_locked(&mut self, cpu: usize, p: Tid) {
        if self.spinning() || self.rq_lock_busy(cpu) {
            self.task_mut(p).waking = true;
            self.lock_wait(cpu, crate::lock::LockedOp::WakeNew { p, cpu });
            return;
        }
        self.task_mut(p).waking = false;
        self.update_rq_clock(cpu);
        self.activate_task(cpu, p, ENQUEUE_NOCLOCK | ENQUEUE_INITIAL);
        let waker = self.cur_cpu as u32;
        self.emit_with(|| Event::Wakeup {
            cpu: waker,
            tid: p,
            target_cpu: cpu as u32,
            new: true,
        });
        self.wakeup_preempt(cpu, p, SCX_WAKE_FORK);
        if self.task(p).class == Class::Ext {
            self.task_woken_scx(cpu);
        }
    }

    // ------------------------------------------------------------------
    // __schedule().

    /// Starts `__schedule()` on `cpu`.
    pub(crate) fn start_schedule(&mut self, cpu: usize, preempt: bool) {
        self.stats.schedules += 1;
        self.rqs[cpu].counters.schedules += 1;
        self.charge(self.cfg.cost.schedule);
        self.update_rq_clock(cpu);
        let prev = self.rqs[cpu].curr;
        let state = self.task(prev).state;
        if !preempt && self.task(prev).exec.resume == Resume::Schedule {
            // schedule() is being called; when it returns the task goes on
            // with its next instruction.
            self.task_mut(prev).exec.resume = Resume::Next;
        }
        let voluntary = !preempt && state != TaskState::Running && !self.task(prev).is_idle();
        if voluntary {
            let special = if state == TaskState::Dead {
                DEQUEUE_SPECIAL
            } else {
                0
            };
            self.block_task(cpu, prev, DEQUEUE_NOCLOCK | special);
            self.task_mut(prev).nvcsw += 1;
        } else if !self.task(prev).is_idle() {
            self.task_mut(prev).nivcsw += 1;
        }
        let pc = self.task(prev).class;
        // Fast path of __pick_next_task(): no sched_ext, all tasks fair.
        if !self.scx.enabled
            && !class_above(pc, Class::Fair)
            && self.rqs[cpu].nr_running == self.rqs[cpu].cfs.nr_running
        {
            if self.rqs[cpu].cfs.nr_running == 0 {
                self.newidle_balance(cpu);
            }
            let next = self
                .pick_task_fair(cpu)
                .unwrap_or_else(|| self.pick_task_idle(cpu));
            return self.finish_schedule(cpu, prev, next);
        }
        self.prev_balance(cpu, prev, preempt);
    }

    /// `prev_balance()`: each class's balance from prev's class down; stops
    /// at the first that has work. sched_ext's may suspend the schedule.
    fn prev_balance(&mut self, cpu: usize, prev: Tid, preempt: bool) {
        let mut start = self.task(prev).class;
        if self.scx.enabled {
            self.rqs[cpu].scx.flags |= SCX_RQ_BAL_PENDING;
            if class_above(Class::Ext, start) {
                start = Class::Ext;
            }
        }
        let classes: Vec<Class> = self.active_classes().filter(|c| *c >= start).collect();
        for class in classes {
            let found = match class {
                Class::Stop | Class::Rt => self.rqs[cpu].rt.nr_running > 0,
                Class::Fair => self.rqs[cpu].cfs.nr_running > 0 || self.newidle_balance(cpu),
                Class::Ext => match self.balance_scx_begin(cpu, prev, preempt) {
                    Some(found) => found,
                    None => return, // suspended in the dispatch loop
                },
                Class::Idle => break,
            };
            if found {
                break;
            }
        }
        self.schedule_pick(cpu, prev);
    }

    /// Continues a suspended `__schedule()`.
    pub(crate) fn schedule_continue(&mut self, cpu: usize, sec: Section) {
        let prev = sec.prev;
        if self.balance_scx_continue(cpu, sec).is_some() {
            // Only the idle class is below ext: nothing more to balance.
            self.schedule_pick(cpu, prev);
        }
    }

    /// The pick loop and the switch.
    fn schedule_pick(&mut self, cpu: usize, prev: Tid) {
        let classes: Vec<Class> = self.active_classes().collect();
        let mut next = None;
        for class in classes {
            next = match class {
                Class::Stop | Class::Rt => self.pick_task_rt(cpu),
                Class::Fair => self.pick_task_fair(cpu),
                Class::Ext => self.pick_task_scx(cpu),
                Class::Idle => Some(self.pick_task_idle(cpu)),
            };
            if next.is_some() {
                break;
            }
        }
        let next = next.expect("the idle class always has a task");
        self.finish_schedule(cpu, prev, next);
    }

    /// `pick_task_idle()`.
    fn pick_task_idle(&mut self, cpu: usize) -> Tid {
        self.scx_update_idle(cpu, true, false);
        self.rqs[cpu].idle
    }

    /// `put_prev_set_next_task()`, `context_switch()` and
    /// `finish_task_switch()`.
    fn finish_schedule(&mut self, cpu: usize, prev: Tid, next: Tid) {
        // On a CPU just brought up, prev stands for its hotplug thread.
        let after_hotplug_thread = std::mem::take(&mut self.rqs[cpu].hotplug_thread_on_cpu);
        if next != prev {
            if !after_hotplug_thread {
                self.put_prev_task(cpu, prev, next);
            }
            self.set_next_task(cpu, next);
            self.context_switch(cpu, prev, next);
            // After rq->curr moved to next, as in __schedule() (the kernel
            // calls it just before tracing the switch).
            self.migrate_disable_switch(cpu, prev);
        } else if after_hotplug_thread {
            // set_next_task_idle() after the hotplug thread slept.
            self.scx_update_idle(cpu, true, true);
        }
        // clear_tsk_need_resched(prev); a flag set on `next` stays.
        let rq = &mut self.rqs[cpu];
        rq.need_resched = std::mem::take(&mut rq.need_resched_after_switch);
        if std::mem::take(&mut rq.scx.bal_cb_pending) {
            self.run_deferred(cpu);
        }

        self.rqs[cpu].mode = Mode::Kernel;
        let curr = self.rqs[cpu].curr;
        if !self.task(curr).is_idle() {
            self.start_tick(cpu);
        }
        self.release_rq_lock(cpu);
        if self.rqs[cpu].dying {
            self.balance_push(cpu);
        }
    }

    fn put_prev_task(&mut self, cpu: usize, prev: Tid, next: Tid) {
        match self.task(prev).class {
            Class::Fair => self.put_prev_task_fair(cpu, prev),
            Class::Rt | Class::Stop => {
                self.update_curr_common(cpu);
                self.put_prev_task_rt(cpu, prev)
            }
            Class::Ext => self.put_prev_task_scx(cpu, prev, next),
            Class::Idle => self.scx_update_idle(cpu, false, true),
        }
    }

    fn set_next_task(&mut self, cpu: usize, next: Tid) {
        let clock = self.rqs[cpu].clock;
        self.task_mut(next).exec_start = clock;
        match self.task(next).class {
            Class::Fair => self.set_next_task_fair(cpu, next),
            Class::Rt | Class::Stop => self.set_next_task_rt(cpu, next),
            Class::Ext => self.set_next_task_scx(cpu, next),
            Class::Idle => self.scx_update_idle(cpu, true, true),
        }
    }

    fn context_switch(&mut self, cpu: usize, prev: Tid, next: Tid) {
        self.stats.context_switches += 1;
        self.rqs[cpu].counters.context_switches += 1;
        self.charge(self.cfg.cost.context_switch);
        let prev_state = match self.task(prev).state {
            TaskState::Running => PrevState::Running,
            TaskState::Sleeping => PrevState::Sleeping,
            TaskState::Dead => PrevState::Dead,
        };
        self.emit_with(|| Event::Switch {
            cpu: cpu as u32,
            prev,
            prev_state,
            next,
        });
        let now = self.now;
        let rq = &mut self.rqs[cpu];
        if !self.tasks[prev as usize].is_idle() {
            rq.busy_ns += now - rq.curr_since;
        }
        rq.curr = next;
        rq.curr_since = now;
        if self.task(prev).state == TaskState::Dead {
            self.release_dead_task(prev);
        }
    }

    // ------------------------------------------------------------------
    // Task creation, fork, death.

    /// Allocates a task in the arena with default attributes.
    pub(crate) fn alloc_task(&mut self, comm: &str, kind: TaskKind, parent: Option<Tid>) -> Tid {
        let tid = self.tasks.len() as Tid;
        let pid = if kind == TaskKind::Idle {
            0
        } else {
            let p = self.next_pid;
            self.next_pid += 1;
            p
        };
        let jiffies = self.jiffies();
        let cpu = parent.map(|p| self.task(p).cpu).unwrap_or(0);
        let kthread = !matches!(kind, TaskKind::User);
        self.tasks.push(crate::task::Task {
            tid,
            pid,
            tgid: pid,
            comm: crate::task::truncate_comm(comm),
            parent,
            live_children: 0,
            kind,
            flags: if kthread { PF_KTHREAD } else { 0 },
            policy: scx_workload::Policy::Normal,
            nice: 0,
            prio: 120,
            load_weight: NICE_0_LOAD as u32,
            class: Class::Fair,
            state: TaskState::Sleeping,
            on_rq: false,
            cpu,
            wake_cpu: cpu,
            cpus: scx_machine::Cpumask::first_n(self.nr_cpus()),
            start_time: self.now,
            migration_disabled: 0,
            cpus_mask: None,
            cgroup: 0,
            sum_exec_runtime: 0,
            exec_start: self.now,
            nvcsw: 0,
            nivcsw: 0,
            nr_migrations: 0,
            se: Default::default(),
            rt: Default::default(),
            scx: crate::ext::entity::ScxEntity::new(jiffies),
            exec: Default::default(),
            migrating: false,
            waking: false,
            freed: false,
            per_cpu_kthread: false,
        });
        if pid != 0 {
            self.pids.insert(pid, tid);
        }
        self.scx.grow_tasks(self.tasks.len());
        tid
    }

    /// Recomputes prio, load weight and class-visible weight after a policy
    /// or nice change.
    pub(crate) fn refresh_prio_weight(&mut self, p: Tid) {
        let t = self.task_mut(p);
        t.prio = prio_of(t.policy, t.nice);
        t.load_weight = match t.policy {
            scx_workload::Policy::Idle => WEIGHT_IDLEPRIO,
            _ => nice_to_weight(t.nice),
        };
    }

    /// The class a task's policy maps to now (`__setscheduler_class`).
    pub(crate) fn class_for_policy(&self, p: Tid) -> Class {
        let t = self.task(p);
        if t.kind == TaskKind::Idle {
            Class::Idle
        } else if t.kind == TaskKind::Stopper {
            Class::Stop
        } else if t.policy.is_rt() {
            Class::Rt
        } else if self.task_should_scx(t.policy) {
            Class::Ext
        } else {
            Class::Fair
        }
    }

    /// Creates a task as `fork()` by `parent` would, then wakes it.
    /// Returns `None` if `ops.init_task()` failed the fork.
    pub(crate) fn fork_task(
        &mut self,
        parent: Option<Tid>,
        comm: &str,
        kind: TaskKind,
        setup: impl FnOnce(&mut Kernel, Tid),
    ) -> Option<Tid> {
        self.stats.forks += 1;
        self.rqs[self.cur_cpu].counters.forks += 1;
        let p = self.alloc_task(comm, kind, parent);
        if let Some(par) = parent {
            let (policy, nice, cpus, cg, tgid) = {
                let pt = self.task(par);
                // The child gets the parent's cpus_mask, never its
                // migrate_disable() narrowing.
                let cpus = pt.cpus_mask.unwrap_or(pt.cpus);
                (pt.policy, pt.nice, cpus, pt.cgroup, pt.tgid)
            };
            let t = self.task_mut(p);
            t.policy = policy;
            t.nice = nice;
            t.cpus = cpus;
            t.cgroup = cg;
            let _ = tgid;
        }
        setup(self, p);
        self.refresh_prio_weight(p);
        let class = self.class_for_policy(p);
        self.task_mut(p).class = class;
        let prio = self.task(p).prio;
        let (pid, tgid, kthread) = {
            let t = self.task(p);
            (t.pid, t.tgid, t.is_kthread())
        };
        let comm_s = self.task(p).comm.clone();
        self.emit_with(|| Event::TaskNew {
            tid: p,
            pid,
            tgid,
            parent,
            comm: comm_s,
            prio,
            kthread,
            idle_cpu: None,
        });
        if let Err(ret) = self.scx_fork(p) {
            self.discard_failed_fork(p, ret);
            return None;
        }
        self.scx_post_fork(p);
        if let Some(par) = parent {
            self.task_mut(par).live_children += 1;
        }
        self.wake_up_new_task(p);
        Some(p)
    }

    fn discard_failed_fork(&mut self, p: Tid, ret: i32) {
        let pid = self.task(p).pid;
        self.pids.remove(&pid);
        let t = self.task_mut(p);
        t.state = TaskState::Dead;
        t.freed = true;
        let _ = ret;
    }

    /// The `Fork` step: the child runs template `template`.
    pub(crate) fn do_fork(&mut self, parent: Tid, template: usize) {
        let prog = self.wl.template_progs[template].clone();
        let name = self
            .wl
            .workload
            .as_ref()
            .map(|w| w.templates[template].name.clone())
            .unwrap_or_else(|| "child".into());
        self.fork_task(Some(parent), &name, TaskKind::User, |k, p| {
            k.set_program(p, prog);
        });
    }

    /// `finish_task_switch()` of a `TASK_DEAD` task: the last reference is
    /// dropped (`sched_ext_free()`).
    fn release_dead_task(&mut self, p: Tid) {
        let pid = self.task(p).pid;
        self.pids.remove(&pid);
        self.sched_ext_free(p);
        self.task_mut(p).freed = true;
    }

    /// `set_task_comm()`.
    pub(crate) fn set_task_comm(&mut self, p: Tid, name: &str) {
        let comm = crate::task::truncate_comm(name);
        self.task_mut(p).comm = comm.clone();
        self.emit_with(|| Event::TaskRename { tid: p, comm });
    }

    // ------------------------------------------------------------------
    // The tick.

    /// `sched_tick()` on `cpu`, in interrupt context.
    pub(crate) fn scheduler_tick(&mut self, cpu: usize) {
        self.charge(self.cfg.cost.tick);
        self.update_rq_clock(cpu);
        let curr = self.rqs[cpu].curr;
        match self.task(curr).class {
            Class::Fair => self.task_tick_fair(cpu, curr),
            Class::Rt | Class::Stop => {
                self.update_curr_common(cpu);
                self.task_tick_rt(cpu, curr);
            }
            Class::Ext => self.task_tick_scx(cpu, curr),
            Class::Idle => {}
        }
        if self.scx.enabled {
            self.scx_tick(cpu);
        }
        self.fair_periodic_balance(cpu);
        if self.rqs[cpu].tick_armed {
            if self.cfg.nohz_full.test(cpu) && self.sched_can_stop_tick(cpu) {
                self.stop_tick(cpu);
            } else {
                self.arm_next_tick(cpu);
            }
        }
    }

    /// `sched_can_stop_tick()` with sched_ext's `scx_can_stop_tick()`.
    pub(crate) fn sched_can_stop_tick(&self, cpu: usize) -> bool {
        let rq = &self.rqs[cpu];
        // RT tasks queued or running here (the running one is kept out of
        // the queue); stop-class tasks do not count.
        let curr = rq.curr;
        let running_rt = {
            let c = self.task(curr);
            c.class == Class::Rt && c.rt.on_rq
        };
        let rt = rq
            .rt
            .queue
            .values()
            .copied()
            .chain(running_rt.then_some(curr))
            .filter(|t| self.task(*t).class == Class::Rt);
        let (mut rr, mut fifo) = (0, 0);
        for t in rt {
            match self.task(t).policy {
                scx_workload::Policy::Rr(_) => rr += 1,
                _ => fifo += 1,
            }
        }
        // More than one RR task needs the tick for round-robin; a single
        // one, or FIFO tasks only, do not.
        if rr > 0 {
            return rr == 1;
        }
        if fifo > 0 {
            return true;
        }
        // Only fair and sched_ext tasks left: sched_ext decides for its
        // current task (scx_can_stop_tick()), fair needs the tick for
        // preemption between two or more tasks.
        if self.scx.enabled && !self.scx_can_stop_tick(cpu) {
            return false;
        }
        rq.cfs.nr_running <= 1
    }

    /// `scx_can_stop_tick()`.
    fn scx_can_stop_tick(&self, cpu: usize) -> bool {
        if self.scx_rq_bypassing(cpu) {
            return false;
        }
        if self.task(self.rqs[cpu].curr).class != Class::Ext {
            return true;
        }
        self.rqs[cpu].scx.flags & SCX_RQ_CAN_STOP_TICK != 0
    }

    /// `sched_update_tick_dependency()`: a nohz_full CPU running a task
    /// whose tick was stopped gets it back when it can no longer go without.
    pub(crate) fn update_tick_dependency(&mut self, cpu: usize) {
        if !self.cfg.nohz_full.test(cpu) || self.rqs[cpu].tick_armed {
            return;
        }
        if !self.task(self.rqs[cpu].curr).is_idle() && !self.sched_can_stop_tick(cpu) {
            self.start_tick(cpu);
        }
    }

    // ------------------------------------------------------------------
    // Invariants.

    /// Task conservation: every live task is in exactly one place —
    /// running on one CPU, queued in exactly one class runqueue, owned by
    /// the BPF scheduler, on exactly one DSQ, or blocked. Panics with a
    /// description if not (a simulator bug).
    pub fn check_conservation(&self) {
        let mut currs: Vec<Tid> = self.rqs.iter().map(|rq| rq.curr).collect();
        currs.sort_unstable();
        if let Some(w) = currs.windows(2).find(|w| w[0] == w[1]) {
            panic!("task {} is current on two CPUs", w[0]);
        }
        for a in &self.rqs {
            let c = self.task(a.curr);
            assert!(
                c.is_idle() || c.cpu == a.cpu,
                "CPU {} runs task {} whose task_cpu is {}",
                a.cpu,
                c.pid,
                c.cpu
            );
        }
        for tid in self.scx.tasks_links.tasks(&self.scx.tasks_list) {
            let t = self.task(tid);
            let running = self.rqs[t.cpu].curr == tid;
            match t.state {
                TaskState::Dead => {
                    assert!(
                        !t.on_rq || running,
                        "dead task {} still queued and not running",
                        t.pid
                    );
                }
                TaskState::Sleeping if !t.on_rq => {
                    assert!(t.scx.dsq.is_none(), "sleeping task {} on a DSQ", t.pid);
                }
                _ => {}
            }
            if t.on_rq {
                self.check_queued_once(tid);
            } else if t.state != TaskState::Dead {
                assert!(t.scx.dsq.is_none(), "task {} not on rq but on a DSQ", t.pid);
                assert!(
                    !t.scx.queued(),
                    "task {} not on rq but SCX_TASK_QUEUED",
                    t.pid
                );
                assert!(
                    t.state == TaskState::Sleeping || running || t.waking,
                    "task {} is runnable but neither queued nor running",
                    t.pid
                );
            }
        }
        self.check_scx_invariants();
    }

    fn check_queued_once(&self, p: Tid) {
        let t = self.task(p);
        match t.class {
            Class::Ext => {
                assert!(
                    t.scx.queued(),
                    "task {} on_rq in ext but not SCX_TASK_QUEUED",
                    t.pid
                );
                let running = self.rqs[t.cpu].curr == p;
                let places = [
                    running,
                    t.scx.dsq.is_some(),
                    t.scx.opss() == SCX_OPSS_QUEUED,
                    t.scx.on_ddsp_deferred,
                    t.scx.holding_cpu >= 0,
                ];
                let n = places.iter().filter(|b| **b).count();
                assert!(
                    n == 1,
                    "SCX task {}[{}] is in {n} places (running, dsq, bpf, deferred, held) = {places:?}",
                    t.comm,
                    t.pid
                );
            }
            Class::Fair => {
                let running = self.rqs[t.cpu].curr == p;
                assert!(
                    running ^ t.se.key.is_some(),
                    "fair task {} running={running} queued={}",
                    t.pid,
                    t.se.key.is_some()
                );
            }
            Class::Rt | Class::Stop => {
                let running = self.rqs[t.cpu].curr == p;
                let queued = self.rqs[t.cpu].rt.queue.values().any(|q| *q == p);
                assert!(
                    running ^ queued,
                    "RT task {} running={running} queued={queued}",
                    t.pid
                );
            }
            Class::Idle => {}
        }
    }

    /// Time a CPU has spent running tasks (not idle) so far.
    pub fn cpu_busy_ns(&self, cpu: usize) -> Ns {
        let rq = &self.rqs[cpu];
        let mut b = rq.busy_ns;
        if !self.task(rq.curr).is_idle() {
            b += self.now - rq.curr_since;
        }
        b
    }

    /// Marks the task as blocked for the kernel itself (kthreads waiting for
    /// work) and makes it call `schedule()`.
    pub(crate) fn block_in_kernel(&mut self, p: Tid) {
        self.block_current(p, BlockedOn::Kernel);
        self.task_mut(p).exec.resume = Resume::Schedule;
    }
}
