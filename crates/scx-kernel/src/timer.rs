//! hrtimers: one-shot timers that fire as an interrupt on a CPU.
//!
//! A timer is bound to the CPU that armed it, like a pinned hrtimer. A
//! *global* timer (the kernel's unbound delayed work, whose timers the timer
//! migration hierarchy lets any busy CPU handle) that expires while its CPU
//! cannot take interrupts moves to the lowest-numbered online CPU that can;
//! if none can, it stays latched on its CPU. A pinned timer simply waits:
//! a task sleeping on a CPU trapped with interrupts off never wakes up.

use crate::irq::Ev;
use crate::kernel::Kernel;
use crate::task::Tid;
use scx_machine::clock::Ns;

/// What a timer does when it fires.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TimerKind {
    /// Wake a task blocked in `Sleep`/`Timer` (`hrtimer_wakeup`).
    WakeTask(Tid),
    /// Delayed work: queue work item on a workqueue.
    DelayedWork(crate::workqueue::Work),
    /// A scheduler's BPF-style timer (`bpf_timer`), by the scheduler's id.
    SchedTimer(u64),
    /// Periodic housekeeping of the per-CPU kworker of `cpu`.
    Housekeeping(usize),
    /// The lockup detectors' per-CPU hrtimer (`watchdog_timer_fn`).
    Watchdog(usize),
}

#[derive(Clone, Debug)]
struct Timer {
    kind: TimerKind,
    cpu: usize,
    global: bool,
    armed: bool,
    gen: u64,
}

/// The timer arena.
#[derive(Default, Debug)]
pub struct Timers {
    timers: Vec<Timer>,
    free: Vec<u32>,
}

impl Timers {
    /// Appends the arming state of timers (for fast-forward views): arming
    /// or cancelling a timer changes it.
    /// `cpu` selects the timers bound to that CPU; `None` the scheduler's
    /// timers, which are machine-wide state.
    pub(crate) fn view(&self, cpu: Option<usize>, out: &mut Vec<u64>) {
        for (i, t) in self.timers.iter().enumerate() {
            let sched = matches!(t.kind, TimerKind::SchedTimer(_));
            let mine = match cpu {
                None => sched,
                Some(c) => !sched && t.cpu == c,
            };
            if mine {
                out.extend([i as u64, t.gen << 1 | u64::from(t.armed)]);
            }
        }
    }
}

/// Handle of an armed timer.
pub type TimerId = u32;

impl Kernel {
    /// Arms a timer firing at `at` on `cpu`.
    pub(crate) fn hrtimer_start(
        &mut self,
        kind: TimerKind,
        at: Ns,
        cpu: usize,
        global: bool,
    ) -> TimerId {
        let t = Timer {
            kind,
            cpu,
            global,
            armed: true,
            gen: 0,
        };
        let id = match self.timers.free.pop() {
            Some(id) => {
                let gen = self.timers.timers[id as usize].gen + 1;
                self.timers.timers[id as usize] = Timer { gen, ..t };
                id
            }
            None => {
                self.timers.timers.push(t);
                self.timers.timers.len() as u32 - 1
            }
        };
        let gen = self.timers.timers[id as usize].gen;
        self.push(at.max(self.now), Ev::Timer { id, gen });
        id
    }

    /// Cancels timer `id` if still armed; returns whether it was.
    pub(crate) fn hrtimer_cancel(&mut self, id: TimerId) -> bool {
        let t = &mut self.timers.timers[id as usize];
        if !t.armed {
            return false;
        }
        t.armed = false;
        t.gen += 1;
        self.timers.free.push(id);
        // A latched expiry of this timer is dropped when it is run.
        true
    }

    pub(crate) fn timer_expired(&mut self, id: u32, gen: u64) {
        let t = &self.timers.timers[id as usize];
        if !t.armed || t.gen != gen {
            return;
        }
        let mut cpu = t.cpu;
        if t.global && !self.interruptible(cpu) {
            if let Some(c) =
                (0..self.nr_cpus()).find(|c| self.rqs[*c].online && self.interruptible(*c))
            {
                cpu = c;
            }
        }
        self.rqs[cpu].pending.timers.push(id);
        self.try_take_interrupts(cpu);
    }

    /// Cancels every armed timer whose kind matches.
    pub(crate) fn cancel_timers(&mut self, matches: impl Fn(&TimerKind) -> bool) {
        let ids: Vec<u32> = (0..self.timers.timers.len() as u32)
            .filter(|id| {
                let t = &self.timers.timers[*id as usize];
                t.armed && matches(&t.kind)
            })
            .collect();
        for id in ids {
            self.hrtimer_cancel(id);
        }
    }

    /// `hrtimers_cpu_dying()`: moves every timer of `from` (armed or
    /// latched) to `to`.
    pub(crate) fn migrate_timers(&mut self, from: usize, to: usize) {
        for t in self
            .timers
            .timers
            .iter_mut()
            .filter(|t| t.armed && t.cpu == from)
        {
            t.cpu = to;
        }
        let latched = std::mem::take(&mut self.rqs[from].pending.timers);
        if !latched.is_empty() {
            self.rqs[to].pending.timers.extend(latched);
            self.try_take_interrupts(to);
        }
    }

    /// Runs an expired timer's callback in interrupt context on `cpu`.
    pub(crate) fn run_timer(&mut self, cpu: usize, id: u32) {
        let t = &mut self.timers.timers[id as usize];
        if !t.armed {
            return;
        }
        t.armed = false;
        t.gen += 1;
        let kind = t.kind.clone();
        self.timers.free.push(id);
        match kind {
            TimerKind::WakeTask(tid) => {
                self.task_mut(tid).exec.sleep_timer = None;
                self.try_to_wake_up(tid, 0);
            }
            TimerKind::DelayedWork(w) => self.queue_work(w),
            TimerKind::SchedTimer(sid) => self.sched_timer_fired(cpu, sid),
            TimerKind::Housekeeping(c) => self.housekeeping_timer(c),
            TimerKind::Watchdog(c) => self.watchdog_timer_fn(c),
        }
    }
}
