//! CPU hotplug as the scheduler sees it (`kernel/cpu.c`'s teardown and
//! bringup, `sched_cpu_deactivate()`, `balance_push()`,
//! `sched_cpu_activate()`).
//!
//! Going down, in the kernel's order:
//! 1. `sched_cpu_deactivate()`: the CPU stops being active (no new task is
//!    placed there), `balance_push` is armed, the runqueue goes offline
//!    (sched_ext's `rq_offline_scx()`), then `ops.cpu_offline()` — or, for a
//!    scheduler without it, the exit with a restart code.
//! 2. Every time the CPU schedules, `balance_push()` has its stopper push
//!    the task it picked to another CPU (`select_fallback_rq()`, which
//!    widens a task's affinity when none of its CPUs is left), until only
//!    per-CPU kernel threads and migration-disabled tasks would run there.
//! 3. Once the CPU idles with nothing queued, it is taken down: its
//!    per-CPU timers move to a live CPU (the lockup detector's and the
//!    kworker housekeeping timer are cancelled, as their hotplug callbacks
//!    do), the tick stops and the CPU is offline.
//!
//! Coming up: the CPU comes back idle with its tick and lockup detectors,
//! then `sched_cpu_activate()`: active again, `ops.cpu_online()` (or the
//! restart exit), the runqueue online (`rq_online_scx()`).
//!
//! The online steps run on the new CPU in its hotplug thread, which then
//! sleeps: the CPU schedules (balance, so the BPF scheduler may dispatch
//! to it) and switches to idle, which is what marks it idle for
//! `scx_bpf_select_cpu_dfl()` and calls `ops.update_idle()`.
//!
//! Approximations: the hotplug state machine's own threads (`cpuhp/N`,
//! `stop_machine`) and its RCU grace periods are not simulated as tasks —
//! each step above happens as soon as its precondition holds, in the
//! out-of-band context of the workload action that asked for it; the new
//! CPU's first schedule stands for its hotplug thread going to sleep (the
//! transition to idle is notified as a task-to-idle one, but no context
//! switch is counted for the thread).

use crate::rq::Mode;
use crate::sched::syscalls::StopWork;
use crate::task::Tid;
use crate::timer::TimerKind;

impl crate::kernel::Kernel {
    /// Takes `cpu` offline (`echo 0 > /sys/devices/system/cpu/cpuN/online`).
    pub fn cpu_down(&mut self, cpu: usize) -> Result<(), String> {
        if cpu >= self.nr_cpus() {
            return Err(format!("CPU {cpu} does not exist"));
        }
        if self.rqs[cpu].dying && self.rqs[cpu].up_after_down {
            // Down, up, down while the first takedown is in progress.
            self.rqs[cpu].up_after_down = false;
            return Ok(());
        }
        if !self.rqs[cpu].active {
            return Err(format!("CPU {cpu} is already offline"));
        }
        if (0..self.nr_cpus()).filter(|c| self.rqs[*c].active).count() == 1 {
            return Err(format!("CPU {cpu} is the last active CPU"));
        }
        self.sched_cpu_deactivate(cpu);
        Ok(())
    }

    /// Brings `cpu` online (`echo 1 > /sys/devices/system/cpu/cpuN/online`).
    pub fn cpu_up(&mut self, cpu: usize) -> Result<(), String> {
        if cpu >= self.nr_cpus() {
            return Err(format!("CPU {cpu} does not exist"));
        }
        if self.rqs[cpu].dying {
            // Hotplug operations are serialised: this one waits for the
            // takedown in progress.
            self.rqs[cpu].up_after_down = true;
            return Ok(());
        }
        if self.rqs[cpu].online {
            return Err(format!("CPU {cpu} is already online"));
        }
        self.bringup_cpu(cpu);
        self.sched_cpu_activate(cpu);
        Ok(())
    }

    /// `sched_cpu_deactivate()`.
    fn sched_cpu_deactivate(&mut self, cpu: usize) {
        let rq = &mut self.rqs[cpu];
        rq.active = false;
        rq.dying = true;
        self.rq_offline_scx(cpu);
        self.scx_handle_hotplug(cpu, false);
        // The hotplug thread runs on the CPU going down: it schedules, and
        // balance_push() starts emptying it (or takes it down at once if it
        // idles with nothing queued).
        self.resched_curr(cpu);
    }

    /// `balance_push()`, run after each switch on a CPU going down.
    pub(crate) fn balance_push(&mut self, cpu: usize) {
        if !self.rqs[cpu].dying || self.rqs[cpu].mode == Mode::Offline {
            return;
        }
        let curr = self.rqs[cpu].curr;
        let t = self.task(curr);
        if t.per_cpu_kthread || t.is_migration_disabled() || t.is_idle() {
            if t.is_idle() && self.rqs[cpu].nr_running == 0 {
                self.take_cpu_down(cpu);
            }
            return;
        }
        self.stop_one_cpu(cpu, StopWork::BalancePush { task: curr });
    }

    /// `__balance_push_cpu_stop()`: the stopper moves `p` to a fallback CPU.
    pub(crate) fn balance_push_stop(&mut self, cpu: usize, p: Tid) {
        let t = self.task(p);
        if t.cpu != cpu || !t.on_rq || self.rqs[cpu].curr == p {
            return;
        }
        let dest = self.select_fallback_rq(p, cpu);
        self.move_queued_task_to(p, cpu, dest);
    }

    /// The CPU is empty: it leaves the machine.
    fn take_cpu_down(&mut self, cpu: usize) {
        let dest = (0..self.nr_cpus())
            .find(|c| *c != cpu && self.rqs[*c].active)
            .expect("another CPU is active");
        self.cancel_timers(
            |k| matches!(k, TimerKind::Watchdog(c) | TimerKind::Housekeeping(c) if *c == cpu),
        );
        self.migrate_timers(cpu, dest);
        self.stop_tick(cpu);
        let rq = &mut self.rqs[cpu];
        rq.online = false;
        rq.dying = false;
        rq.mode = Mode::Offline;
        rq.need_resched = false;
        rq.hotplug_thread_on_cpu = false;
        rq.step_gen += 1;
        rq.pending = Default::default();
        self.printk(format!("smpboot: CPU {cpu} is now offline"));
        if std::mem::take(&mut self.rqs[cpu].up_after_down) {
            self.bringup_cpu(cpu);
            self.sched_cpu_activate(cpu);
        }
    }

    /// The CPU starts again, idle, with its tick and lockup detectors.
    fn bringup_cpu(&mut self, cpu: usize) {
        let node = self.topo.node_of(cpu);
        self.printk(format!(
            "smpboot: Booting Node {node} Processor {cpu} APIC {cpu:#x}"
        ));
        let idle = self.rqs[cpu].idle;
        let rq = &mut self.rqs[cpu];
        rq.online = true;
        rq.curr = idle;
        rq.clock = self.now;
        rq.curr_since = self.now;
        rq.mode = Mode::Kernel;
        self.start_lockup_detector(cpu);
        if self.cfg.housekeeping_period > 0 {
            let at = self.now + self.cfg.housekeeping_period;
            self.hrtimer_start(TimerKind::Housekeeping(cpu), at, cpu, false);
        }
        self.push_step(cpu, self.now);
    }

    /// `sched_cpu_activate()`.
    fn sched_cpu_activate(&mut self, cpu: usize) {
        self.rqs[cpu].active = true;
        self.scx_handle_hotplug(cpu, true);
        self.rq_online_scx(cpu);
        // The hotplug thread is done and sleeps.
        self.rqs[cpu].hotplug_thread_on_cpu = true;
        self.resched_curr(cpu);
    }
}
