//! The kernel's lockup detectors (`kernel/watchdog.c`,
//! `kernel/watchdog_perf.c`) with `watchdog_thresh` (default 10 s).
//!
//! * Each CPU has a watchdog hrtimer every `2 * thresh / 5` s (4 s). It
//!   counts `hrtimer_interrupts`, queues `softlockup_fn` on the CPU's
//!   stopper (which refreshes the CPU's touch timestamp when it gets to
//!   run), and reports a soft lockup when the touch timestamp is more than
//!   `2 * thresh` s old: `BUG: soft lockup - CPU#N stuck for Ss! [comm:pid]`.
//! * With `nmi_watchdog` on, a perf NMI hits each CPU every `thresh` s —
//!   regardless of the CPU's interrupt state — and reports a hard lockup
//!   when the CPU's hrtimer has not run since the previous NMI:
//!   `Watchdog detected hard LOCKUP on cpu N`, once.
//!
//! Like the kernel; however the NMI period is `thresh` seconds of simulated
//! time (the kernel counts unhalted CPU cycles, which only differs while
//! the CPU idles), and the report's register and stack dump is a stand-in
//! naming where the simulated CPU is stuck.

use crate::irq::Ev;
use crate::kernel::Kernel;
use crate::rq::Mode;
use crate::timer::TimerKind;
use scx_machine::clock::{Ns, NSEC_PER_SEC};
use scx_observe::Event;

/// Per-CPU detector state.
#[derive(Clone, Debug, Default)]
pub struct Lockup {
    /// `hrtimer_interrupts`.
    pub hrtimer_interrupts: u64,
    /// `hrtimer_interrupts_saved`.
    pub hrtimer_interrupts_saved: u64,
    /// `watchdog_hardlockup_warned`.
    pub hard_warned: bool,
    /// When the current hard lockup was reported (cleared when the CPU's
    /// hrtimer runs again).
    pub hard_reported_at: Option<Ns>,
    /// `watchdog_touch_ts` (seconds).
    pub touch_ts: u64,
    /// `watchdog_report_ts` (seconds).
    pub report_ts: u64,
    /// `softlockup_completion` not yet done: `softlockup_fn` is queued.
    pub softlockup_queued: bool,
    /// Soft lockups reported.
    pub soft_reports: u32,
    /// A perf NMI event for this CPU is queued.
    pub nmi_pending: bool,
}

impl Kernel {
    fn sample_period(&self) -> Ns {
        u64::from(self.cfg.watchdog_thresh) * 2 * NSEC_PER_SEC / 5
    }

    /// `get_timestamp()`: the clock in units of 2^30 ns (about a second),
    /// as the kernel approximates seconds.
    fn watchdog_timestamp(&self) -> u64 {
        self.now >> 30
    }

    /// Starts the detectors on every CPU (`lockup_detector_init`).
    pub(crate) fn start_lockup_detectors(&mut self) {
        for cpu in 0..self.nr_cpus() {
            self.start_lockup_detector(cpu);
        }
    }

    /// Starts the detectors on `cpu` (at boot, or when it comes online):
    /// its hrtimer and, unless one is still pending, its perf NMI.
    pub(crate) fn start_lockup_detector(&mut self, cpu: usize) {
        let period = self.sample_period();
        self.hrtimer_start(TimerKind::Watchdog(cpu), self.now + period, cpu, false);
        let l = &mut self.lockup[cpu];
        l.touch_ts = self.now >> 30;
        l.report_ts = l.touch_ts;
        l.hrtimer_interrupts_saved = l.hrtimer_interrupts;
        l.hard_warned = false;
        l.hard_reported_at = None;
        if self.cfg.nmi_watchdog && !l.nmi_pending {
            l.nmi_pending = true;
            let at = self.now + u64::from(self.cfg.watchdog_thresh) * NSEC_PER_SEC;
            self.push(at, Ev::Nmi { cpu: cpu as u32 });
        }
    }

    /// `watchdog_timer_fn()` on `cpu`, in interrupt context.
    pub(crate) fn watchdog_timer_fn(&mut self, cpu: usize) {
        self.lockup[cpu].hrtimer_interrupts += 1;
        if !self.lockup[cpu].softlockup_queued {
            self.lockup[cpu].softlockup_queued = true;
            self.stop_one_cpu(cpu, crate::sched::syscalls::StopWork::SoftlockupTouch);
        }
        let period = self.sample_period();
        self.hrtimer_start(TimerKind::Watchdog(cpu), self.now + period, cpu, false);
        let now = self.watchdog_timestamp();
        let thresh = 2 * u64::from(self.cfg.watchdog_thresh);
        let l = &self.lockup[cpu];
        if now > l.report_ts + thresh {
            let duration = now - l.touch_ts;
            self.lockup[cpu].report_ts = now;
            self.lockup[cpu].soft_reports += 1;
            let curr = self.task(self.rqs[cpu].curr);
            let line = format!(
                "BUG: soft lockup - CPU#{cpu} stuck for {duration}s! [{}:{}]",
                curr.comm, curr.pid
            );
            self.emit_with(|| Event::CpuStuck {
                cpu: cpu as u32,
                what: "soft lockup".into(),
            });
            self.printk(line);
        }
    }

    /// `softlockup_fn()` run by the stopper: the CPU scheduled, touch.
    pub(crate) fn softlockup_touch(&mut self, cpu: usize) {
        let now = self.watchdog_timestamp();
        let l = &mut self.lockup[cpu];
        l.touch_ts = now;
        l.report_ts = now;
        l.softlockup_queued = false;
    }

    /// The perf NMI on `cpu`: `watchdog_hardlockup_check()`.
    pub(crate) fn watchdog_nmi(&mut self, cpu: usize) {
        if !self.rqs[cpu].online {
            // The perf event went away with the CPU.
            self.lockup[cpu].nmi_pending = false;
            return;
        }
        let at = self.now + u64::from(self.cfg.watchdog_thresh) * NSEC_PER_SEC;
        self.push(at, Ev::Nmi { cpu: cpu as u32 });
        let l = &mut self.lockup[cpu];
        if l.hrtimer_interrupts != l.hrtimer_interrupts_saved {
            l.hrtimer_interrupts_saved = l.hrtimer_interrupts;
            l.hard_warned = false;
            l.hard_reported_at = None;
            return;
        }
        if l.hard_warned {
            return;
        }
        l.hard_warned = true;
        l.hard_reported_at = Some(self.now);
        self.emit_with(|| Event::CpuStuck {
            cpu: cpu as u32,
            what: "hard lockup".into(),
        });
        self.printk(format!("Watchdog detected hard LOCKUP on cpu {cpu}"));
        let curr = self.task(self.rqs[cpu].curr);
        let comm = curr.comm.clone();
        let pid = curr.pid;
        self.printk(format!(
            "CPU: {cpu} UID: 0 PID: {pid} Comm: {comm} Not tainted 6.12.117 #1"
        ));
        self.printk("Call Trace:".into());
        self.printk(" <NMI>".into());
        self.printk(" </NMI>".into());
        self.printk(" <TASK>".into());
        for f in self.stuck_frames(cpu) {
            self.printk(format!(" {f}"));
        }
        self.printk(" </TASK>".into());
    }

    /// Stand-in frames of where `cpu` spins, innermost first.
    fn stuck_frames(&self, cpu: usize) -> Vec<&'static str> {
        match self.rqs[cpu].mode {
            Mode::Sched(_) => vec![
                "balance_one",
                "balance_scx",
                "__pick_next_task",
                "__schedule",
                "schedule",
            ],
            Mode::LockWait { .. } => vec![
                "native_queued_spin_lock_slowpath",
                "_raw_spin_lock",
                "raw_spin_rq_lock_nested",
                "try_to_wake_up",
            ],
            Mode::KickWait => vec!["kick_cpus_irq_workfn", "irq_work_single", "irq_work_run"],
            _ => vec!["asm_sysvec_apic_timer_interrupt"],
        }
    }
}
