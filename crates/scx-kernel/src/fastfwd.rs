//! Fast-forwarding repetitions that provably change nothing, and halting a
//! machine that can never make progress again.
//!
//! A CPU spinning in `balance_one()`'s dispatch loop (the kernel without the
//! breaker) or cycling through the breaker (32 rounds, idle, self-kick,
//! again) repeats the same computation for as long as nothing else happens.
//! scxsim detects a *repetition* that leaves everything it can read exactly
//! as it found it — the scheduler's own state
//! ([`crate::ops::Scheduler::state_digest`]), the DSQs, the tasks, the
//! runqueues, the timers — without reading the clock or producing output.
//! From then on every repetition would be the same, so the CPU is *parked*:
//! its repetitions are no longer simulated one by one but accounted in bulk
//! (callback counts, `pnt_seq`, simulated time).
//!
//! After every event scxsim checks whether the event changed what a parked
//! CPU reads (its *view*); if so, the CPU resumes at its next repetition
//! boundary and runs normally. Before every event, the repetitions that
//! started earlier are accounted, so counters read by the event are exact.
//!
//! Exactness. A parked CPU behaves exactly as the unparked simulation would,
//! with one approximation: a change made by another CPU (or an interrupt
//! arriving) while a repetition is in progress is seen by the parked CPU at
//! the start of its next repetition rather than at the instant it lands in
//! the middle of one — a delay shorter than one repetition (typically a few
//! microseconds for the breaker cycle). A breaker cycle is only taken as a
//! repetition after two consecutive cycles were identical in state, length
//! and counters, so that activity of other CPUs that happens to fall inside
//! one cycle is not mistaken for part of it.
//!
//! A machine on which every online CPU is stuck — spinning in the dispatch
//! loop with interrupts off, on a runqueue lock held by such a CPU, or in
//! `SCX_KICK_WAIT` for one — can never make progress again. It *halts*: at
//! once when there is no NMI watchdog (the machine is silent), otherwise
//! once the hard lockup detector has reported every stuck CPU.

use crate::kernel::{Kernel, RunStats};
use crate::rq::Mode;
use scx_machine::clock::Ns;
use scx_observe::Event;

/// What kind of repetition a CPU is parked in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParkKind {
    /// One round of the dispatch loop, interrupts off (no breaker).
    Round,
    /// One breaker cycle: 32 rounds, the idle task, the self-kick taken.
    Cycle,
}

/// Per-CPU activity counters, to account skipped repetitions exactly.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CpuCounters {
    /// Events handled for this CPU.
    pub events: u64,
    /// `__schedule()` passes.
    pub schedules: u64,
    /// Context switches.
    pub context_switches: u64,
    /// `ops.dispatch()` calls.
    pub dispatch_calls: u64,
    /// Breaker firings.
    pub breaks: u64,
    /// Scheduler callbacks.
    pub op_calls: u64,
    /// Wakeups performed by this CPU.
    pub wakeups: u64,
    /// Forks performed by this CPU.
    pub forks: u64,
    /// Reads of the clock whose value reached simulated state.
    pub time_reads: u64,
    /// Reads of other CPUs' state (idle masks, remote runqueues).
    pub remote_reads: u64,
    /// Changes made to other CPUs' state (resched, IPIs, irq_work, perf).
    pub remote_writes: u64,
}

impl CpuCounters {
    fn minus(self, o: CpuCounters) -> CpuCounters {
        CpuCounters {
            events: self.events - o.events,
            schedules: self.schedules - o.schedules,
            context_switches: self.context_switches - o.context_switches,
            dispatch_calls: self.dispatch_calls - o.dispatch_calls,
            breaks: self.breaks - o.breaks,
            op_calls: self.op_calls - o.op_calls,
            wakeups: self.wakeups - o.wakeups,
            forks: self.forks - o.forks,
            time_reads: self.time_reads - o.time_reads,
            remote_reads: self.remote_reads - o.remote_reads,
            remote_writes: self.remote_writes - o.remote_writes,
        }
    }

    /// Adds `n` repetitions of `self` to the per-CPU and global counters.
    /// Skipped events are counted apart: `RunStats::events` stays the
    /// number of events really processed.
    fn add_times(self, n: u64, c: &mut CpuCounters, s: &mut RunStats) {
        c.events += self.events * n;
        c.schedules += self.schedules * n;
        c.context_switches += self.context_switches * n;
        c.dispatch_calls += self.dispatch_calls * n;
        c.breaks += self.breaks * n;
        c.op_calls += self.op_calls * n;
        c.wakeups += self.wakeups * n;
        c.forks += self.forks * n;
        s.events_skipped += self.events * n;
        s.schedules += self.schedules * n;
        s.context_switches += self.context_switches * n;
        s.dispatch_calls += self.dispatch_calls * n;
        s.dispatch_loop_breaks += self.breaks * n;
        s.op_calls += self.op_calls * n;
        s.wakeups += self.wakeups * n;
        s.forks += self.forks * n;
        s.fast_forwarded += n;
    }
}

/// A verified repetition: starting from `view`, it takes `period` ns, does
/// `per` and advances `pnt_seq` by `pnt`, and ends in `view` again.
#[derive(Clone, Debug)]
struct Rep {
    kind: ParkKind,
    view: Vec<u64>,
    /// The view includes every CPU (the repetition reads other CPUs).
    remote: bool,
    period: Ns,
    per: CpuCounters,
    pnt: u64,
}

/// A CPU's state at a repetition boundary.
#[derive(Clone, Debug)]
struct Mark {
    view: Vec<u64>,
    remote: bool,
    at: Ns,
    counters: CpuCounters,
    pnt: u64,
    outputs: usize,
}

/// A parked CPU.
#[derive(Clone, Debug)]
pub struct Park {
    rep: Rep,
    /// Start of the next repetition not yet accounted.
    at: Ns,
}

impl Park {
    /// Kind of repetition.
    pub fn kind(&self) -> ParkKind {
        self.rep.kind
    }
}

/// Fast-forward state of one CPU.
#[derive(Clone, Debug, Default)]
pub struct FfCpu {
    /// Set while the CPU is parked.
    pub parked: Option<Park>,
    /// A round of the dispatch loop ended in a fixed point: park in
    /// `settle()`, when the next round's start time is known.
    round_request: Option<Mark>,
    /// The view before the current dispatch round.
    round_start: Option<Mark>,
    /// Boundaries of the last breaker cycles (oldest first, at most 3).
    marks: Vec<Mark>,
    /// The last verified breaker cycle: parks at once when its start
    /// state recurs.
    known_cycle: Option<Rep>,
    /// The breaker fired since the last cycle boundary.
    pub(crate) breaker_fired: bool,
    /// This CPU's repetitions read other CPUs: views include them.
    remote: bool,
    /// Set when a round of the current balance's dispatch loop proved to be
    /// a fixed point: the loop never ends unless another CPU intervenes.
    pub(crate) looping_since: Option<Ns>,
}

/// How a halted machine ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Halt {
    /// Every online CPU is stuck and the hard lockup detector reported each.
    HardLockup {
        /// When the last CPU got stuck.
        since: Ns,
        /// The CPUs and when their hard lockup was reported.
        reports: Vec<(usize, Ns)>,
    },
    /// Every online CPU is stuck and nothing can report it.
    Silent {
        /// When the last CPU got stuck.
        since: Ns,
    },
}

impl Halt {
    /// When the machine stopped making progress.
    pub fn since(&self) -> Ns {
        match self {
            Halt::HardLockup { since, .. } | Halt::Silent { since } => *since,
        }
    }
}

/// Dispatch rounds done in one balance before fixed-point checks start: a
/// loop this long cannot be the breaker's.
const ROUND_CHECK_AFTER: u32 = 2 * crate::consts::SCX_DSP_MAX_LOOPS;

impl Kernel {
    /// True if fixed-point detection may run: the scheduler can say when
    /// its state changed.
    fn fixed_points_detectable(&self) -> bool {
        self.sched
            .as_ref()
            .is_some_and(|s| s.state_digest().is_some())
    }

    /// True if repetitions may be fast-forwarded.
    fn ff_enabled(&self) -> bool {
        self.cfg.fast_forward && self.fixed_points_detectable()
    }

    /// Marks whether `cpu` spins in a dispatch loop proved endless.
    pub(crate) fn set_looping(&mut self, cpu: usize, looping: bool) {
        let was = self.ff[cpu].looping_since.is_some();
        match (was, looping) {
            (false, true) => {
                self.ff[cpu].looping_since = Some(self.now);
                self.looping_cpus += 1;
            }
            (true, false) => {
                self.ff[cpu].looping_since = None;
                self.looping_cpus -= 1;
            }
            _ => {}
        }
    }

    /// Appends the machine-wide state a repetition may read or change: the
    /// scheduler's digest, sched_ext globals, shared DSQs, the tasks'
    /// scheduling state, scheduler timers, the unbound workqueue, cgroups.
    fn global_view(&self, out: &mut Vec<u64>) {
        out.push(
            self.sched
                .as_ref()
                .and_then(|s| s.state_digest())
                .unwrap_or(0),
        );
        out.extend([
            u64::from(self.scx.exit_kind),
            self.scx.enable_state as u64,
            u64::from(self.scx.bypass_depth),
            self.scx.disable_seq,
        ]);
        for d in &self.scx.dsqs.arena {
            if !matches!(d.kind, crate::ext::dsq::DsqKind::Local(_)) {
                out.extend([d.id, u64::from(d.nr), u64::from(d.seq)]);
            }
        }
        for t in &self.tasks {
            out.extend([
                t.state as u64,
                u64::from(t.on_rq),
                t.cpu as u64,
                t.class as u64,
                u64::from(t.scx.flags),
                t.scx.ops_state,
                t.scx.dsq.map_or(u64::MAX, u64::from),
                t.scx.slice,
                t.scx.dsq_vtime,
                t.scx.sticky_cpu as u64,
                t.scx.holding_cpu as u64,
                t.scx.ddsp_dsq_id,
                u64::from(t.waking),
            ]);
        }
        self.timers.view(None, out);
        if let Some(p) = self.wq.pools.last() {
            out.extend([p.worklist.len() as u64, p.idle.len() as u64]);
        }
        out.extend(self.cgroups.iter().map(|c| u64::from(c.weight)));
    }

    /// Appends CPU `cpu`'s state: its runqueue (including what only it acts
    /// on: mode, latched interrupts, resched flag), its idle bits, local
    /// DSQ, timers and kworker pool.
    fn cpu_view(&self, cpu: usize, out: &mut Vec<u64>) {
        let rq = &self.rqs[cpu];
        let mode = match &rq.mode {
            Mode::Exec { .. } => 1,
            Mode::Idle => 2,
            Mode::Kernel => 3,
            Mode::Sched(s) => {
                4 | u64::from(s.prev) << 8
                    | u64::from(s.prev_on_scx) << 40
                    | u64::from(s.prev_on_rq) << 41
                    | u64::from(s.preempt) << 42
                    | u64::from(s.loops_left.is_some()) << 43
            }
            Mode::Offline => 5,
            Mode::KickWait => 6,
            Mode::LockWait { holder } => 7 + ((*holder as u64) << 8),
        };
        let local = self.scx.dsqs.get(rq.scx.local_dsq);
        out.extend([
            mode,
            u64::from(rq.curr),
            u64::from(rq.nr_running),
            u64::from(rq.online),
            u64::from(rq.need_resched),
            u64::from(rq.need_resched_after_switch),
            u64::from(rq.tick_armed),
            u64::from(rq.pending.tick),
            u64::from(rq.pending.ipi),
            u64::from(rq.pending.irq_work),
            rq.lock_ops.len() as u64,
            rq.oob_ops.len() as u64,
            u64::from(rq.scx.flags),
            u64::from(rq.scx.nr_running),
            u64::from(rq.scx.cpu_released),
            u64::from(rq.scx.cpuperf_target),
            rq.scx.dsp_buf.len() as u64,
            rq.scx.reenq.len() as u64,
            u64::from(self.scx.idle_cpu.test(cpu)),
            u64::from(self.scx.idle_smt.test(cpu)),
            u64::from(local.nr),
            u64::from(local.seq),
        ]);
        out.extend(rq.pending.timers.iter().map(|t| u64::from(*t)));
        out.push(u64::MAX);
        for m in [
            &rq.scx.cpus_to_kick,
            &rq.scx.cpus_to_kick_if_idle,
            &rq.scx.cpus_to_preempt,
            &rq.scx.cpus_to_wait,
        ] {
            out.extend(m.iter().map(|c| c as u64));
            out.push(u64::MAX);
        }
        self.timers.view(Some(cpu), out);
        if let Some(p) = self.wq.pools.get(cpu) {
            out.extend([p.worklist.len() as u64, p.idle.len() as u64]);
        }
    }

    /// The view of a repetition of `cpu`: the machine-wide state and the
    /// CPU's own, plus every other CPU's when the repetition reads them.
    fn view_of(&self, cpu: usize, remote: bool) -> Vec<u64> {
        let mut v = Vec::with_capacity(64 + 16 * self.tasks.len());
        self.global_view(&mut v);
        self.cpu_view(cpu, &mut v);
        if remote {
            for c in (0..self.nr_cpus()).filter(|c| *c != cpu) {
                self.cpu_view(c, &mut v);
            }
        }
        v
    }

    /// A boundary of `cpu`; `remote` says whether the view includes the
    /// other CPUs.
    fn mark(&self, cpu: usize, remote: bool) -> Mark {
        Mark {
            view: self.view_of(cpu, remote),
            remote,
            at: self.now,
            counters: self.rqs[cpu].counters,
            pnt: self.rqs[cpu].scx.pnt_seq,
            outputs: self.log.len() + self.trace_pipe.len(),
        }
    }

    /// Before a dispatch round of a long loop: remember the view.
    pub(crate) fn ff_round_begin(&mut self, cpu: usize, round: u32) {
        if round == 0 {
            self.set_looping(cpu, false);
        }
        // Detection runs without fast-forward too: it is how an endless
        // loop (and so a hung machine) is recognised.
        if round < ROUND_CHECK_AFTER || !self.fixed_points_detectable() {
            return;
        }
        let remote = self.ff[cpu].remote;
        self.ff[cpu].round_start = Some(self.mark(cpu, remote));
    }

    /// After a dispatch round that will be followed by another: asks for
    /// the CPU to be parked if the round changed nothing.
    pub(crate) fn ff_round_end(&mut self, cpu: usize) {
        let Some(start) = self.ff[cpu].round_start.take() else {
            return;
        };
        let end = self.mark(cpu, start.remote);
        if self.repetition_ok(cpu, &start, &end) {
            self.ff[cpu].round_request = Some(start);
        }
    }

    /// True if the repetition between marks `a` and `b` of `cpu` is a
    /// fixed point: same view, no clock read, no output, nothing done to
    /// another CPU, and — if it read other CPUs — a view that includes
    /// them (otherwise asks for such views from now on).
    fn repetition_ok(&mut self, cpu: usize, a: &Mark, b: &Mark) -> bool {
        let d = b.counters.minus(a.counters);
        if d.remote_reads > 0 && !a.remote {
            self.ff[cpu].remote = true;
            return false;
        }
        a.remote == b.remote
            && a.view == b.view
            && a.outputs == b.outputs
            && d.time_reads == 0
            && d.remote_writes == 0
    }

    /// In `settle()`: parks a CPU whose round asked for it, with the next
    /// round starting at `next`. Returns true if the CPU is parked.
    pub(crate) fn ff_settle(&mut self, cpu: usize, next: Ns) -> bool {
        if let Some(start) = self.ff[cpu].round_request.take() {
            let mut per = self.rqs[cpu].counters.minus(start.counters);
            per.events = 1;
            let rep = Rep {
                kind: ParkKind::Round,
                view: start.view,
                remote: start.remote,
                period: next - self.now,
                per,
                pnt: self.rqs[cpu].scx.pnt_seq - start.pnt,
            };
            self.set_looping(cpu, true);
            if self.cfg.fast_forward {
                self.park(cpu, rep, next);
            }
        }
        self.ff[cpu].parked.is_some()
    }

    /// At the start of each breaker cycle (the idle CPU about to reschedule
    /// after taking its self-kick): parks the CPU if the cycle repeats.
    /// Returns true if the CPU is parked (and must not schedule now).
    pub(crate) fn ff_cycle_boundary(&mut self, cpu: usize) -> bool {
        if !std::mem::take(&mut self.ff[cpu].breaker_fired) || !self.ff_enabled() {
            self.ff[cpu].marks.clear();
            return false;
        }
        let m = self.mark(cpu, self.ff[cpu].remote);
        if let Some(rep) = &self.ff[cpu].known_cycle {
            if rep.remote == m.remote && rep.view == m.view {
                let rep = rep.clone();
                self.park(cpu, rep, self.now);
                return true;
            }
        }
        let mut marks = std::mem::take(&mut self.ff[cpu].marks);
        marks.push(m);
        if marks.len() > 3 {
            marks.remove(0);
        }
        let rep = match &marks[..] {
            [a, b, c] => self.cycle_rep(cpu, a, b, c),
            _ => None,
        };
        match rep {
            Some(rep) => {
                self.ff[cpu].known_cycle = Some(rep.clone());
                self.park(cpu, rep, self.now);
                true
            }
            None => {
                if self.ff[cpu].remote && marks.iter().any(|m| !m.remote) {
                    marks.clear();
                }
                self.ff[cpu].marks = marks;
                false
            }
        }
    }

    /// The breaker cycle of `cpu` if the two cycles between the marks are
    /// fixed points, identical in length and counters.
    fn cycle_rep(&mut self, cpu: usize, a: &Mark, b: &Mark, c: &Mark) -> Option<Rep> {
        let per = b.counters.minus(a.counters);
        let same = b.at > a.at
            && b.at - a.at == c.at - b.at
            && per == c.counters.minus(b.counters)
            && b.pnt - a.pnt == c.pnt - b.pnt;
        if !(same && self.repetition_ok(cpu, a, b) && self.repetition_ok(cpu, b, c)) {
            return None;
        }
        Some(Rep {
            kind: ParkKind::Cycle,
            view: c.view.clone(),
            remote: c.remote,
            period: c.at - b.at,
            per,
            pnt: c.pnt - b.pnt,
        })
    }

    fn park(&mut self, cpu: usize, rep: Rep, at: Ns) {
        debug_assert!(rep.period > 0, "a repetition takes time");
        self.rqs[cpu].step_gen += 1;
        self.ff[cpu].parked = Some(Park { rep, at });
        self.parked_cpus += 1;
    }

    /// Accounts, for every parked CPU, the repetitions that start before
    /// `t` (called before each event and at the end of a run).
    pub(crate) fn ff_sync(&mut self, t: Ns) {
        for cpu in 0..self.nr_cpus() {
            let Some(p) = self.ff[cpu].parked.as_mut() else {
                continue;
            };
            if t <= p.at {
                continue;
            }
            let n = (t - p.at).div_ceil(p.rep.period);
            let from = p.at;
            p.at += n * p.rep.period;
            let (per, pnt, period) = (p.rep.per, p.rep.pnt, p.rep.period);
            let rq = &mut self.rqs[cpu];
            per.add_times(n, &mut rq.counters, &mut self.stats);
            rq.scx.pnt_seq += n * pnt;
            if let Mode::Sched(s) = &mut rq.mode {
                s.round = s.round.saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
            }
            self.emit_with(|| Event::FastForward {
                cpu: cpu as u32,
                from,
                reps: n,
                period,
            });
        }
    }

    /// After each event: resumes every parked CPU whose view the event
    /// changed, at its next repetition boundary.
    pub(crate) fn ff_check_disturbed(&mut self) {
        let mut v = std::mem::take(&mut self.view_buf);
        v.clear();
        self.global_view(&mut v);
        let n = v.len();
        for cpu in 0..self.nr_cpus() {
            let Some(p) = &self.ff[cpu].parked else {
                continue;
            };
            let remote = p.rep.remote;
            v.truncate(n);
            self.cpu_view(cpu, &mut v);
            if remote {
                for c in (0..self.nr_cpus()).filter(|c| *c != cpu) {
                    self.cpu_view(c, &mut v);
                }
            }
            let p = self.ff[cpu].parked.as_ref().expect("parked");
            if v != p.rep.view {
                self.unpark(cpu);
            }
        }
        self.view_buf = v;
    }

    fn unpark(&mut self, cpu: usize) {
        let p = self.ff[cpu].parked.take().expect("CPU is parked");
        self.parked_cpus -= 1;
        self.ff[cpu].marks.clear();
        self.push_step(cpu, p.at.max(self.now));
    }

    /// The online CPUs that can never make progress again: the largest set
    /// of CPUs each of which spins in a dispatch loop with interrupts off
    /// that proved endless (see `looping_since`), spins for a runqueue lock held by a member, or
    /// waits in `SCX_KICK_WAIT` for a member to reschedule.
    fn stuck_cpus(&self) -> Vec<usize> {
        let nr = self.nr_cpus();
        let mut stuck: Vec<bool> = (0..nr)
            .map(|c| {
                let rq = &self.rqs[c];
                rq.online
                    && match rq.mode {
                        Mode::Sched(_) => self.ff[c].looping_since.is_some(),
                        Mode::LockWait { .. } | Mode::KickWait => true,
                        _ => false,
                    }
            })
            .collect();
        loop {
            let mut changed = false;
            for c in 0..nr {
                if !stuck[c] {
                    continue;
                }
                let waits_on_stuck = match self.rqs[c].mode {
                    Mode::LockWait { holder } => stuck[holder],
                    Mode::KickWait => self.rqs[c].scx.cpus_to_wait.iter().any(|t| stuck[t]),
                    _ => true,
                };
                if !waits_on_stuck {
                    stuck[c] = false;
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        (0..nr).filter(|c| stuck[*c]).collect()
    }

    /// After an event: halts the machine if every online CPU is stuck.
    pub(crate) fn check_halt(&mut self) {
        if self.halted.is_some() {
            return;
        }
        let stuck = self.stuck_cpus();
        let online = (0..self.nr_cpus()).filter(|c| self.rqs[*c].online).count();
        if stuck.is_empty() || stuck.len() != online {
            self.all_stuck_since = None;
            return;
        }
        let since = *self.all_stuck_since.get_or_insert(self.now);
        if !self.cfg.nmi_watchdog {
            self.halted = Some(Halt::Silent { since });
            self.ff_sync(self.now);
            return;
        }
        let reports: Option<Vec<(usize, Ns)>> = stuck
            .iter()
            .map(|c| self.lockup[*c].hard_reported_at.map(|t| (*c, t)))
            .collect();
        if let Some(reports) = reports {
            self.halted = Some(Halt::HardLockup { since, reports });
            self.ff_sync(self.now);
        }
    }

    /// Since when every online CPU has been stuck (nothing, not even user
    /// space, can run), if it is.
    pub fn all_stuck_since(&self) -> Option<Ns> {
        self.all_stuck_since
    }

    /// Why the machine halted, if it did.
    pub fn halted(&self) -> Option<&Halt> {
        self.halted.as_ref()
    }

    /// Parked state of `cpu`, if parked.
    pub fn parked(&self, cpu: usize) -> Option<&Park> {
        self.ff[cpu].parked.as_ref()
    }
}
