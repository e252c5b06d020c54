//! The kernel: every piece of simulated state, the event loop, and the
//! plumbing (event emission, cost charging, scheduler calls) the models in
//! `sched/`, `ext/` and friends share.
//!
//! One `Kernel` is one simulated machine running one kernel. It is
//! single-threaded and deterministic: all state lives here, events are
//! processed in `(time, sequence)` order, and the only randomness is the
//! seeded [`SimRng`]. Several kernels can run in parallel threads.

use crate::config::KernelConfig;
use crate::exec::WorkloadState;
use crate::ext::ScxState;
use crate::irq::Ev;
use crate::ops::{NoScheduler, Scheduler};
use crate::rq::Rq;
use crate::task::{Task, Tid};
use crate::timer::Timers;
use crate::workqueue::Workqueues;
use scx_machine::clock::Ns;
use scx_machine::events::EventQueue;
use scx_machine::rng::SimRng;
use scx_machine::Topology;
use scx_observe::{Event, Sink};

/// Counters over a whole run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RunStats {
    /// Events processed.
    pub events: u64,
    /// Context switches (`prev != next`).
    pub context_switches: u64,
    /// `__schedule()` passes.
    pub schedules: u64,
    /// `ops.dispatch()` calls.
    pub dispatch_calls: u64,
    /// Times the dispatch-loop breaker fired.
    pub dispatch_loop_breaks: u64,
    /// Wakeups (`try_to_wake_up` that enqueued).
    pub wakeups: u64,
    /// Forks.
    pub forks: u64,
    /// Scheduler callbacks invoked.
    pub op_calls: u64,
    /// Repetitions fast-forwarded (see [`crate::fastfwd`]); the counters
    /// above include them.
    pub fast_forwarded: u64,
    /// Events the fast-forwarded repetitions stand for (not in `events`,
    /// which counts events really processed).
    pub events_skipped: u64,
}

/// The simulated kernel.
pub struct Kernel {
    /// Knobs.
    pub cfg: KernelConfig,
    /// CPU layout.
    pub topo: Topology,
    /// Simulated time of the event being processed.
    pub now: Ns,
    pub(crate) events: EventQueue<Ev>,
    /// The seeded random source.
    pub rng: SimRng,
    /// Task arena, indexed by [`Tid`].
    pub tasks: Vec<Task>,
    /// pid → task (pids are never reused in a run).
    pub pids: std::collections::BTreeMap<u32, Tid>,
    pub(crate) next_pid: u32,
    /// Per-CPU runqueues.
    pub rqs: Vec<Rq>,
    /// sched_ext global state.
    pub scx: ScxState,
    pub(crate) sched: Option<Box<dyn Scheduler>>,
    pub(crate) sink: Option<Box<dyn Sink>>,
    /// Every kernel log line, with its time.
    pub log: Vec<(Ns, String)>,
    /// Lines written with `bpf_printk()`: time, CPU, text.
    pub trace_pipe: Vec<(Ns, usize, String)>,
    /// Per-CPU stopper kthreads (`migration/N`).
    pub stoppers: Vec<Tid>,
    /// Pending work of each stopper.
    pub stop_works: Vec<Vec<crate::sched::syscalls::StopWork>>,
    pub(crate) timers: Timers,
    pub(crate) wq: Workqueues,
    /// The workload's synchronisation objects and programs.
    pub wl: WorkloadState,
    /// Run counters.
    pub stats: RunStats,
    /// CPU executing the code of the current event.
    pub cur_cpu: usize,
    /// True while `cur_cpu` is really executing (a CPU event), false for
    /// out-of-band work (boot, workload events, the loader), which has no
    /// CPU of its own and must IPI every CPU it reschedules.
    pub(crate) executing: bool,
    /// Cgroup tree: parent index and weight per cgroup (0 = root).
    pub cgroups: Vec<CgroupNode>,
    /// Set when a simulator invariant check should run after every event.
    pub check_invariants: bool,
    /// The `init` task (pid 1), parent of the workload's tasks.
    pub init_task: Option<Tid>,
    /// Per-CPU lockup detector state.
    pub lockup: Vec<crate::lockup::Lockup>,
    /// Per-CPU fast-forward state.
    pub(crate) ff: Vec<crate::fastfwd::FfCpu>,
    /// Number of parked CPUs.
    pub(crate) parked_cpus: u32,
    /// Number of CPUs in a dispatch loop proved endless.
    pub(crate) looping_cpus: u32,
    /// Number of CPUs spinning in `SCX_KICK_WAIT` (they may wait on each
    /// other for good).
    pub(crate) kick_waiting_cpus: u32,
    /// Set when the machine can never make progress again.
    pub(crate) halted: Option<crate::fastfwd::Halt>,
    /// Since when every online CPU has been stuck.
    pub(crate) all_stuck_since: Option<Ns>,
    /// Scratch buffer of the fast-forward checks.
    pub(crate) view_buf: Vec<u64>,
}

/// One cgroup of the hierarchy.
#[derive(Clone, Debug)]
pub struct CgroupNode {
    /// Path.
    pub path: String,
    /// Parent (None for the root).
    pub parent: Option<usize>,
    /// `cpu.weight`.
    pub weight: u32,
    /// `SCX_TG_ONLINE`/`SCX_TG_INITED` style bits: ops.cgroup_init done.
    pub scx_inited: bool,
}

impl Kernel {
    /// A booted machine with idle tasks only (see `world.rs` for the
    /// default kernel threads and the workload).
    pub fn new(cfg: KernelConfig, topo: Topology, seed: u64) -> Kernel {
        let nr = topo.nr_cpus();
        let mut k = Kernel {
            cfg,
            topo,
            now: 0,
            events: EventQueue::new(),
            rng: SimRng::new(seed),
            tasks: Vec::new(),
            pids: Default::default(),
            next_pid: 1,
            rqs: Vec::with_capacity(nr),
            scx: ScxState::new(nr),
            sched: Some(Box::new(NoScheduler)),
            sink: None,
            log: Vec::new(),
            trace_pipe: Vec::new(),
            stoppers: Vec::new(),
            stop_works: Vec::new(),
            timers: Timers::default(),
            wq: Workqueues::default(),
            wl: WorkloadState::default(),
            stats: RunStats::default(),
            cur_cpu: 0,
            executing: false,
            cgroups: vec![CgroupNode {
                path: "/".into(),
                parent: None,
                weight: 100,
                scx_inited: false,
            }],
            check_invariants: cfg!(debug_assertions),
            init_task: None,
            lockup: Vec::new(),
            ff: Vec::new(),
            parked_cpus: 0,
            looping_cpus: 0,
            kick_waiting_cpus: 0,
            halted: None,
            all_stuck_since: None,
            view_buf: Vec::new(),
        };
        k.boot_cpus();
        k
    }

    /// Installs the event sink (replacing any previous one).
    pub fn set_sink(&mut self, sink: Box<dyn Sink>) {
        self.sink = Some(sink);
    }

    /// Removes and returns the event sink.
    pub fn take_sink(&mut self) -> Option<Box<dyn Sink>> {
        self.sink.take()
    }

    /// True if events are being recorded.
    #[inline]
    pub fn tracing(&self) -> bool {
        self.sink.is_some()
    }

    /// Emits an event built by `f`, if anyone listens.
    #[inline]
    pub(crate) fn emit_with(&mut self, f: impl FnOnce() -> Event) {
        if let Some(s) = self.sink.as_mut() {
            let ev = f();
            s.event(self.now, &ev);
        }
    }

    /// `printk`: records a kernel log line and emits it.
    pub fn printk(&mut self, line: String) {
        self.emit_with(|| Event::Log { line: line.clone() });
        self.log.push((self.now, line));
    }

    /// Number of CPUs.
    pub fn nr_cpus(&self) -> usize {
        self.rqs.len()
    }

    /// `jiffies` now.
    pub fn jiffies(&self) -> u64 {
        self.cfg.hz.jiffies(self.now)
    }

    /// Charges `ns` of simulated time to the CPU running the current code.
    #[inline]
    pub(crate) fn charge(&mut self, ns: Ns) {
        let c = self.cur_cpu;
        self.rqs[c].acc += ns;
    }

    /// Schedules `ev` at `at` (never in the past).
    pub(crate) fn push(&mut self, at: Ns, ev: Ev) {
        debug_assert!(at >= self.now, "event in the past");
        self.events.push(at.max(self.now), ev);
    }

    /// Looks a task up by pid.
    pub fn task_by_pid(&self, pid: u32) -> Option<Tid> {
        self.pids.get(&pid).copied()
    }

    /// The task `tid`.
    pub fn task(&self, tid: Tid) -> &Task {
        &self.tasks[tid as usize]
    }

    pub(crate) fn task_mut(&mut self, tid: Tid) -> &mut Task {
        &mut self.tasks[tid as usize]
    }

    /// Takes the scheduler out for a call; see [`Kernel::put_sched`].
    pub(crate) fn take_sched(&mut self) -> Box<dyn Scheduler> {
        self.sched
            .take()
            .expect("sched_ext op invoked while another op is running (nested op call)")
    }

    pub(crate) fn put_sched(&mut self, s: Box<dyn Scheduler>) {
        debug_assert!(self.sched.is_none());
        self.sched = Some(s);
    }

    /// Replaces the scheduler object (used when attaching); returns the old.
    pub(crate) fn swap_sched(&mut self, s: Box<dyn Scheduler>) -> Box<dyn Scheduler> {
        self.sched.replace(s).expect("scheduler slot empty")
    }

    /// Gives access to the attached scheduler object between events (e.g.
    /// for a loader reading its statistics).
    pub fn with_scheduler<R>(&mut self, f: impl FnOnce(&mut dyn Scheduler) -> R) -> R {
        let mut s = self.take_sched();
        let r = f(&mut *s);
        self.put_sched(s);
        r
    }

    /// Time of the next pending event.
    pub fn next_event_time(&self) -> Option<Ns> {
        self.events.peek_time()
    }

    /// Processes events up to and including time `until`; returns false if
    /// the queue ran dry or the machine halted ([`Kernel::halted`]) first.
    /// Time never goes backwards: after the call `now` is the later of
    /// `until` and the last event processed.
    pub fn run_until(&mut self, until: Ns) -> bool {
        let more = loop {
            if self.halted.is_some() {
                break false;
            }
            match self.events.peek_time() {
                Some(t) if t <= until => self.step(),
                Some(_) => break true,
                None => break false,
            }
        };
        self.now = self.now.max(until);
        // A halted machine's counters stop at the halt, fast-forwarded or
        // not.
        if self.parked_cpus > 0 && self.halted.is_none() {
            self.ff_sync(self.now);
        }
        more
    }

    /// Processes one event.
    pub fn step(&mut self) {
        let Some((t, ev)) = self.events.pop() else {
            return;
        };
        debug_assert!(t >= self.now, "time went backwards");
        if self.parked_cpus > 0 {
            self.ff_sync(t);
        }
        self.now = t;
        self.stats.events += 1;
        self.dispatch_event(ev);
        if self.parked_cpus > 0 {
            self.ff_check_disturbed();
        }
        if self.looping_cpus > 0 || self.kick_waiting_cpus > 0 {
            self.check_halt();
        }
        if self.check_invariants {
            self.check_conservation();
        }
    }
}
