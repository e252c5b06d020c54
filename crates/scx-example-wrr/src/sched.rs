//! The BPF side of `scx_wrr`: weighted round robin.
//!
//! Time is cut into rounds. In every round each runnable task gets one
//! turn, and a turn lasts a slice proportional to the task's weight
//! (`base slice × weight / 100`: nice 0 gets the base slice, nice -5 about
//! three times as much), so CPU time is shared in proportion to weight.
//!
//! Two FIFOs (user DSQs) hold the turns: DSQ `round % 2` those of the
//! current round, the other one those of the next round. A task that has
//! had its turn queues for the next round; a task that wakes up after
//! missing rounds queues for the current one. When the current round's
//! FIFO runs dry, the next round starts. A waking task that finds an idle
//! CPU runs there at once (that is its turn).

use scx_kernel::consts::*;
use scx_kernel::ops::*;

/// The shortest slice handed out, whatever the weight (50 µs).
pub const MIN_SLICE_NS: u64 = 50_000;

/// The FIFO holding the turns of round `round`.
pub fn round_dsq(round: u64) -> u64 {
    round % 2
}

/// What the scheduler counts, per CPU (like a BPF per-CPU array).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Wakeups sent straight to an idle CPU from `select_cpu`.
    pub direct: u64,
    /// Turns queued by `enqueue`.
    pub queued: u64,
    /// Turns a CPU took from a FIFO in `dispatch`.
    pub consumed: u64,
    /// Rounds started.
    pub rounds: u64,
}

/// Per-task state (like BPF task-local storage).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TaskCtx {
    /// The first round in which the task may have its next turn.
    pub next_round: u64,
}

/// The scheduler's state.
pub struct Wrr {
    /// Slice of a nice-0 task (weight 100).
    pub base_slice_ns: u64,
    /// The current round.
    pub round: u64,
    /// Per-task state.
    pub tasks: TaskStorage<TaskCtx>,
    /// Counters, by CPU.
    pub stats: PerCpu<Counters>,
}

impl Wrr {
    /// A scheduler for `nr_cpus` CPUs giving nice-0 tasks `base_slice_ns`.
    pub fn new(nr_cpus: usize, base_slice_ns: u64) -> Wrr {
        Wrr {
            base_slice_ns,
            round: 0,
            tasks: TaskStorage::default(),
            stats: PerCpu::new(nr_cpus, Counters::default()),
        }
    }

    /// The slice of a task of `weight` (100 = nice 0).
    pub fn slice_for(&self, weight: u32) -> u64 {
        (self.base_slice_ns * u64::from(weight) / 100).max(MIN_SLICE_NS)
    }

    /// The counters summed over CPUs, as the loader reads them.
    pub fn totals(&self) -> Counters {
        self.stats
            .iter()
            .fold(Counters::default(), |a, c| Counters {
                direct: a.direct + c.direct,
                queued: a.queued + c.queued,
                consumed: a.consumed + c.consumed,
                rounds: a.rounds + c.rounds,
            })
    }

    /// Bumps a counter of the CPU running the callback.
    fn count(&mut self, cx: &Cx, bump: impl FnOnce(&mut Counters)) {
        let cpu = cx.smp_processor_id() as usize;
        bump(self.stats.get_mut(cpu));
    }

    /// Books `p`'s next turn: in the current round if it has not had one
    /// yet, else in the next. Returns that round.
    fn book_turn(&mut self, p: Task) -> u64 {
        let now = self.round;
        let mut ctx = self.tasks.get(p).copied().unwrap_or_default();
        let turn = ctx.next_round.clamp(now, now + 1);
        ctx.next_round = turn + 1;
        self.tasks.insert(p, ctx);
        turn
    }

    /// Takes the next turn of round `round` onto this CPU.
    fn take_turn(&mut self, cx: &mut Cx, round: u64) -> bool {
        let got = cx.consume(round_dsq(round));
        if got {
            self.count(cx, |c| c.consumed += 1);
        }
        got
    }
}

impl Scheduler for Wrr {
    fn info(&self) -> OpsInfo {
        OpsInfo::new(
            "wrr",
            &[
                Op::SelectCpu,
                Op::Enqueue,
                Op::Dispatch,
                Op::InitTask,
                Op::ExitTask,
                Op::Init,
            ],
        )
    }

    fn select_cpu(&mut self, cx: &mut Cx, p: Task, prev_cpu: i32, wake_flags: u64) -> i32 {
        // scx_bpf_select_cpu_dfl(): the kernel's choice, and whether that
        // CPU is idle (and now claimed for p).
        let (cpu, is_idle) = cx.select_cpu_dfl(p, prev_cpu, wake_flags);
        if is_idle {
            self.book_turn(p);
            let slice = self.slice_for(cx.task(p).weight());
            // scx_bpf_dispatch() to SCX_DSQ_LOCAL: run p on that CPU next,
            // without going through ops.enqueue().
            cx.dispatch(p, SCX_DSQ_LOCAL, slice, 0);
            self.count(cx, |c| c.direct += 1);
        }
        cpu
    }

    fn enqueue(&mut self, cx: &mut Cx, p: Task, enq_flags: u64) {
        let round = self.book_turn(p);
        let slice = self.slice_for(cx.task(p).weight());
        cx.dispatch(p, round_dsq(round), slice, enq_flags);
        self.count(cx, |c| c.queued += 1);
    }

    fn dispatch(&mut self, cx: &mut Cx, _cpu: i32, _prev: Option<Task>) {
        if self.take_turn(cx, self.round) {
            return;
        }
        // Everyone in this round has had their turn: start the next one,
        // if anyone is waiting for it (scx_bpf_dsq_nr_queued()).
        if cx.dsq_nr_queued(round_dsq(self.round + 1)) > 0 {
            self.round += 1;
            self.count(cx, |c| c.rounds += 1);
            self.take_turn(cx, self.round);
        }
    }

    fn init_task(&mut self, _cx: &mut Cx, p: Task, _args: &InitTaskArgs) -> i32 {
        self.tasks.insert(p, TaskCtx::default());
        0
    }

    fn exit_task(&mut self, _cx: &mut Cx, p: Task, _args: &ExitTaskArgs) {
        self.tasks.remove(p);
    }

    fn init(&mut self, cx: &mut Cx) -> i32 {
        // scx_bpf_create_dsq(): the two round FIFOs, on any NUMA node.
        for round in 0..2 {
            let ret = cx.create_dsq(round_dsq(round), -1);
            if ret != 0 {
                return ret;
            }
        }
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_follow_weights() {
        let w = Wrr::new(1, 20_000_000);
        assert_eq!(w.slice_for(100), 20_000_000);
        assert_eq!(w.slice_for(300), 60_000_000);
        assert_eq!(w.slice_for(1), 200_000);
        assert_eq!(Wrr::new(1, 1_000).slice_for(1), MIN_SLICE_NS);
    }

    #[test]
    fn one_turn_per_round() {
        let mut w = Wrr::new(1, 20_000_000);
        let p = Task(7);
        assert_eq!(w.book_turn(p), 0);
        assert_eq!(w.book_turn(p), 1);
        // Never further ahead than the next round.
        assert_eq!(w.book_turn(p), 1);
        w.round = 5;
        // A task that missed rounds gets a turn in the current one.
        assert_eq!(w.book_turn(p), 5);
        assert_eq!(w.book_turn(p), 6);
    }
}
