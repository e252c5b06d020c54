//! Interrupts and the CPU execution driver.
//!
//! Models when code runs on a CPU. A CPU is always in one [`Mode`]: running
//! a task's work, idling, in kernel code with interrupts latched, or inside
//! `__schedule()` with interrupts off. Interrupts (tick, hrtimer expiry,
//! reschedule IPI, irq_work) are taken at once when the CPU is interruptible
//! (running a task or idle) and latched otherwise, then taken at the next
//! point the CPU enables interrupts — exactly why a CPU trapped in
//! `balance_one()`'s dispatch loop never sees its tick, its timers, or a
//! kick, and why the kernel's breaker defers its self-kick through irq_work.
//!
//! Kernel work charges simulated time to the CPU running it
//! (`Kernel::charge`); the CPU resumes after the accumulated cost.

use crate::kernel::Kernel;
use crate::rq::Mode;
use crate::task::TaskKind;
use scx_machine::clock::Ns;

/// Bits of pending `irq_work` on a CPU.
pub mod irq_work {
    /// `scx_kick_cpus_irq_work`: process this CPU's kick masks.
    pub const SCX_KICK: u32 = 1 << 0;
    /// `rq->scx.deferred_irq_work`: run deferred direct dispatches.
    pub const SCX_DEFERRED: u32 = 1 << 1;
    /// `scx_ops_error_irq_work`: dump and queue the disable work.
    pub const SCX_ERROR: u32 = 1 << 2;
}

/// Events of the simulation's queue.
#[derive(Clone, Debug)]
pub(crate) enum Ev {
    /// The CPU's kernel code reaches its next step.
    CpuStep { cpu: u32, gen: u64 },
    /// The current task's work may be complete.
    WorkDone { cpu: u32, gen: u64 },
    /// Periodic scheduler tick.
    Tick { cpu: u32, gen: u64 },
    /// An hrtimer expires.
    Timer { id: u32, gen: u64 },
    /// A reschedule IPI arrives.
    Ipi { cpu: u32 },
    /// A self-interrupt for queued irq_work.
    IrqWork { cpu: u32 },
    /// A workload task instance is due to start.
    StartTask { spec: u32, instance: u32 },
    /// A workload timed action is due.
    Action { index: u32 },
    /// A CPU spinning on a runqueue lock gets it.
    LockGranted { cpu: u32 },
    /// The hard lockup detector's perf NMI (taken whatever the CPU does).
    Nmi { cpu: u32 },
}

impl Ev {
    /// The CPU a per-CPU event is for.
    fn cpu(&self) -> Option<usize> {
        match *self {
            Ev::CpuStep { cpu, .. }
            | Ev::WorkDone { cpu, .. }
            | Ev::Tick { cpu, .. }
            | Ev::Ipi { cpu }
            | Ev::IrqWork { cpu }
            | Ev::LockGranted { cpu }
            | Ev::Nmi { cpu } => Some(cpu as usize),
            Ev::Timer { .. } | Ev::StartTask { .. } | Ev::Action { .. } => None,
        }
    }
}

/// What to do when a task's current piece of work is over.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Resume {
    /// Continue the current work (`work_left` / `wall_until`).
    #[default]
    Work,
    /// Execute the next program instruction.
    Next,
    /// Call `schedule()` (the task is blocking, yielding or dying).
    Schedule,
}

impl Kernel {
    pub(crate) fn dispatch_event(&mut self, ev: Ev) {
        if let Some(cpu) = ev.cpu() {
            self.rqs[cpu].counters.events += 1;
        }
        match ev {
            Ev::CpuStep { cpu, gen } => {
                let cpu = cpu as usize;
                if self.rqs[cpu].step_gen == gen {
                    self.cur_cpu = cpu;
                    self.executing = true;
                    self.cpu_step(cpu);
                    self.settle(cpu);
                    self.executing = false;
                }
            }
            Ev::WorkDone { cpu, gen } => {
                let cpu = cpu as usize;
                if self.rqs[cpu].work_gen == gen {
                    self.rqs[cpu].work_at = None;
                    if let Mode::Exec { since } = self.rqs[cpu].mode {
                        self.cur_cpu = cpu;
                        self.executing = true;
                        if self.work_remaining(cpu, since) == 0 {
                            self.cpu_step(cpu);
                        }
                        self.settle(cpu);
                        self.executing = false;
                    }
                }
            }
            Ev::Tick { cpu, gen } => {
                let cpu = cpu as usize;
                if self.rqs[cpu].tick_gen == gen && self.rqs[cpu].tick_armed {
                    self.rqs[cpu].pending.tick = true;
                    self.try_take_interrupts(cpu);
                }
            }
            Ev::Timer { id, gen } => self.timer_expired(id, gen),
            Ev::Ipi { cpu } => {
                let cpu = cpu as usize;
                self.rqs[cpu].pending.ipi = true;
                self.try_take_interrupts(cpu);
            }
            Ev::IrqWork { cpu } => self.try_take_interrupts(cpu as usize),
            Ev::StartTask { spec, instance } => self.start_workload_task(spec as usize, instance),
            Ev::Action { index } => self.run_timed_action(index as usize),
            Ev::LockGranted { cpu } => self.lock_granted(cpu as usize),
            Ev::Nmi { cpu } => self.watchdog_nmi(cpu as usize),
        }
    }

    /// True if the CPU takes interrupts now.
    pub(crate) fn interruptible(&self, cpu: usize) -> bool {
        matches!(self.rqs[cpu].mode, Mode::Exec { .. } | Mode::Idle)
    }

    /// Takes pending interrupts if the CPU can, then settles it.
    pub(crate) fn try_take_interrupts(&mut self, cpu: usize) {
        if !self.interruptible(cpu) || !self.rqs[cpu].pending.any() {
            return;
        }
        let saved = (self.cur_cpu, self.executing);
        self.cur_cpu = cpu;
        self.executing = true;
        self.pause_curr(cpu);
        self.rqs[cpu].mode = Mode::Kernel;
        self.handle_pending_irqs(cpu);
        self.settle(cpu);
        (self.cur_cpu, self.executing) = saved;
    }

    /// Stops `curr`'s work progress at `now` (an interrupt or preemption).
    fn pause_curr(&mut self, cpu: usize) {
        if let Mode::Exec { since } = self.rqs[cpu].mode {
            let curr = self.rqs[cpu].curr;
            let done = self.now.saturating_sub(since);
            let t = self.task_mut(curr);
            t.exec.work_left = t.exec.work_left.saturating_sub(done);
            t.exec.resume = crate::irq::Resume::Work;
        }
    }

    /// Work `curr` still has to do if it runs from `since` on.
    fn work_remaining(&self, cpu: usize, since: Ns) -> Ns {
        let e = &self.task(self.rqs[cpu].curr).exec;
        match e.wall_until {
            Some(w) => w.saturating_sub(self.now.max(since)),
            None => (since + e.work_left).saturating_sub(self.now),
        }
    }

    /// Runs every latched interrupt handler of `cpu`, in a fixed order:
    /// reschedule IPI, irq_work, hrtimers (in expiry order), tick.
    pub(crate) fn handle_pending_irqs(&mut self, cpu: usize) {
        let mut rounds = 0;
        while self.rqs[cpu].pending.any() {
            rounds += 1;
            assert!(rounds < 1000, "interrupt storm on CPU {cpu}");
            self.charge(self.cfg.cost.irq);
            if std::mem::take(&mut self.rqs[cpu].pending.ipi) {
                // The IPI's only job is to make the CPU notice need_resched.
            }
            let work = std::mem::take(&mut self.rqs[cpu].pending.irq_work);
            if work != 0 {
                self.run_irq_work(cpu, work);
                if matches!(self.rqs[cpu].mode, Mode::KickWait | Mode::LockWait { .. }) {
                    return;
                }
            }
            let timers = std::mem::take(&mut self.rqs[cpu].pending.timers);
            let mut it = timers.into_iter();
            for id in it.by_ref() {
                self.run_timer(cpu, id);
                if self.spinning() {
                    break;
                }
            }
            let rest: Vec<u32> = it.collect();
            if !rest.is_empty() {
                let p = &mut self.rqs[cpu].pending.timers;
                let mut all = rest;
                all.append(p);
                *p = all;
                return;
            }
            if self.spinning() {
                return;
            }
            if std::mem::take(&mut self.rqs[cpu].pending.tick) {
                self.scheduler_tick(cpu);
            }
        }
    }

    /// Queues irq_work `bits` on `cpu` (`irq_work_queue()`): it runs when the
    /// CPU next enables interrupts.
    pub(crate) fn irq_work_queue(&mut self, cpu: usize, bits: u32) {
        if cpu != self.cur_cpu {
            self.rqs[self.cur_cpu].counters.remote_writes += 1;
        }
        let was = self.rqs[cpu].pending.irq_work;
        self.rqs[cpu].pending.irq_work |= bits;
        if was == 0 {
            self.push(self.now, Ev::IrqWork { cpu: cpu as u32 });
        }
    }

    fn run_irq_work(&mut self, cpu: usize, work: u32) {
        if work & irq_work::SCX_DEFERRED != 0 {
            self.run_deferred(cpu);
        }
        if work & irq_work::SCX_KICK != 0 {
            self.kick_cpus_irq_workfn(cpu);
        }
        if work & irq_work::SCX_ERROR != 0 {
            self.scx_ops_error_irq_workfn(cpu);
        }
    }

    /// `resched_curr()`: flags `cpu`'s current task and, for another CPU,
    /// sends it a reschedule IPI.
    pub(crate) fn resched_curr(&mut self, cpu: usize) {
        let rq = &mut self.rqs[cpu];
        if rq.need_resched {
            return;
        }
        rq.need_resched = true;
        let local = self.executing && cpu == self.cur_cpu;
        if cpu != self.cur_cpu {
            self.rqs[self.cur_cpu].counters.remote_writes += 1;
        }
        if !local && self.rqs[cpu].online {
            self.push(self.now, Ev::Ipi { cpu: cpu as u32 });
        }
    }

    /// Advances the CPU's state machine after its step event fired.
    fn cpu_step(&mut self, cpu: usize) {
        match self.rqs[cpu].mode.clone() {
            Mode::Exec { since } => {
                let curr = self.rqs[cpu].curr;
                let now = self.now;
                let t = self.task_mut(curr);
                debug_assert!(since + t.exec.work_left <= now || t.exec.wall_until.is_some());
                t.exec.work_left = 0;
                t.exec.wall_until = None;
                t.exec.resume = Resume::Next;
                self.rqs[cpu].mode = Mode::Kernel;
                self.exec_next(cpu);
            }
            Mode::Kernel => {
                if self.rqs[cpu].pending.any() {
                    self.handle_pending_irqs(cpu);
                    return;
                }
                self.resume_curr(cpu);
            }
            Mode::Sched(sec) => self.schedule_continue(cpu, sec),
            Mode::Idle | Mode::Offline | Mode::KickWait | Mode::LockWait { .. } => {}
        }
    }

    /// Interrupts are enabled again: `curr` continues, or the CPU
    /// reschedules if it must.
    fn resume_curr(&mut self, cpu: usize) {
        let curr = self.rqs[cpu].curr;
        if self.task(curr).kind == TaskKind::Idle {
            if self.rqs[cpu].need_resched {
                // tick_nohz_idle_exit(): leaving the idle loop restarts the
                // tick; it stops again only when the CPU really idles.
                self.start_tick(cpu);
                if self.ff_cycle_boundary(cpu) {
                    return;
                }
                self.start_schedule(cpu, false);
            } else {
                self.enter_idle_loop(cpu);
            }
            return;
        }
        match self.task(curr).exec.resume {
            Resume::Schedule => self.start_schedule(cpu, false),
            _ if self.rqs[cpu].need_resched => self.start_schedule(cpu, true),
            Resume::Work => {
                let since = self.now + std::mem::take(&mut self.rqs[cpu].acc);
                self.rqs[cpu].mode = Mode::Exec { since };
            }
            Resume::Next => self.exec_next(cpu),
        }
    }

    fn enter_idle_loop(&mut self, cpu: usize) {
        self.rqs[cpu].mode = Mode::Idle;
        self.stop_tick(cpu);
    }

    /// Schedules the CPU's next step according to its mode.
    pub(crate) fn settle(&mut self, cpu: usize) {
        let acc = std::mem::take(&mut self.rqs[cpu].acc);
        if self.ff_settle(cpu, self.now + acc) {
            return;
        }
        match self.rqs[cpu].mode {
            Mode::Exec { since } => {
                if self.rqs[cpu].need_resched {
                    // Return to user space with TIF_NEED_RESCHED: preempt.
                    self.pause_curr(cpu);
                    self.rqs[cpu].mode = Mode::Kernel;
                    self.push_step(cpu, self.now + acc);
                    return;
                }
                // Progress made since `since` counts before the resume
                // point moves (an early work-completion check can land
                // here mid-run).
                self.pause_curr(cpu);
                let since = since.max(self.now) + acc;
                self.rqs[cpu].mode = Mode::Exec { since };
                let curr = self.rqs[cpu].curr;
                let e = &self.task(curr).exec;
                let at = match e.wall_until {
                    Some(w) => w.max(since),
                    None => since + e.work_left,
                };
                self.arm_work_done(cpu, at);
            }
            Mode::Kernel | Mode::Sched(_) => self.push_step(cpu, self.now + acc),
            Mode::Idle => {
                if self.rqs[cpu].need_resched || acc > 0 {
                    self.rqs[cpu].mode = Mode::Kernel;
                    self.push_step(cpu, self.now + acc);
                }
            }
            Mode::Offline | Mode::KickWait | Mode::LockWait { .. } => {}
        }
    }

    /// Makes sure a work-completion event fires at or before `at`.
    fn arm_work_done(&mut self, cpu: usize, at: Ns) {
        let rq = &mut self.rqs[cpu];
        if rq.work_at.is_some_and(|t| t <= at) {
            return;
        }
        rq.work_gen += 1;
        rq.work_at = Some(at);
        let gen = rq.work_gen;
        self.push(
            at,
            Ev::WorkDone {
                cpu: cpu as u32,
                gen,
            },
        );
    }

    /// Schedules the CPU's next kernel step at `at` (invalidating any
    /// earlier one).
    pub(crate) fn push_step(&mut self, cpu: usize, at: Ns) {
        debug_assert!(self.ff[cpu].parked.is_none(), "stepping a parked CPU");
        let rq = &mut self.rqs[cpu];
        rq.step_gen += 1;
        let gen = rq.step_gen;
        self.push(
            at,
            Ev::CpuStep {
                cpu: cpu as u32,
                gen,
            },
        );
    }

    /// Arms the periodic tick at the next tick boundary after now.
    pub(crate) fn start_tick(&mut self, cpu: usize) {
        if self.rqs[cpu].tick_armed || !self.rqs[cpu].online {
            return;
        }
        self.rqs[cpu].tick_armed = true;
        self.rqs[cpu].tick_gen += 1;
        self.arm_next_tick(cpu);
    }

    pub(crate) fn arm_next_tick(&mut self, cpu: usize) {
        let period = self.cfg.hz.tick_ns();
        let at = (self.now / period + 1) * period;
        let gen = self.rqs[cpu].tick_gen;
        self.push(
            at,
            Ev::Tick {
                cpu: cpu as u32,
                gen,
            },
        );
    }

    /// NO_HZ idle: the tick stops while the CPU idles.
    pub(crate) fn stop_tick(&mut self, cpu: usize) {
        if self.rqs[cpu].tick_armed {
            self.rqs[cpu].tick_armed = false;
            self.rqs[cpu].tick_gen += 1;
            self.rqs[cpu].pending.tick = false;
        }
    }
}
