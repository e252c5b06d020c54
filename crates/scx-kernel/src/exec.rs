//! Executing workload programs: what a task does while it runs.
//!
//! Each task runs a compiled form of its [`scx_workload::Step`] program. CPU
//! work (`Run`) progresses only while the task is on a CPU; everything else
//! is a system call executed at once on the task's CPU, charging the cost
//! model's `syscall` (or `fork`, `exit`, `wakeup`) time before the task
//! continues. Blocking steps set the task's state and call `schedule()`.
//!
//! The synchronisation objects (condition variables, mutexes, barriers,
//! periodic timers) live in [`WorkloadState`] with FIFO wait queues, so who
//! is woken first is deterministic.
//!
//! Every executed instruction costs at least 1 ns and at most
//! [`MAX_INSNS_PER_STEP`] instructions run per step, so no program can stall
//! simulated time.

use crate::consts::PF_EXITING;
use crate::irq::Resume;
use crate::kernel::Kernel;
use crate::task::{TaskKind, TaskState, Tid};
use scx_machine::clock::Ns;
use scx_machine::rng::SimRng;
use scx_machine::Cpumask;
use scx_workload::{Policy, Repeat, Step, TimerMode, Workload};
use std::collections::VecDeque;
use std::sync::Arc;

/// Most program instructions executed in one step before yielding to the
/// event queue.
pub const MAX_INSNS_PER_STEP: u32 = 256;

/// A compiled program instruction.
#[derive(Clone, Debug, PartialEq)]
pub enum Insn {
    /// A workload step without control flow.
    Step(Step),
    /// Start of a loop; `end` is the index of its `LoopEnd`.
    LoopStart {
        /// `None` = forever.
        times: Option<u64>,
        /// Index of the matching `LoopEnd`.
        end: usize,
    },
    /// End of a loop; `start` is the index of its `LoopStart`.
    LoopEnd {
        /// Index of the matching `LoopStart`.
        start: usize,
    },
}

/// Flattens nested loops into jumps.
pub fn compile(steps: &[Step]) -> Vec<Insn> {
    let mut out = Vec::new();
    compile_into(steps, &mut out);
    out
}

fn compile_into(steps: &[Step], out: &mut Vec<Insn>) {
    for s in steps {
        match s {
            Step::Loop { repeat, body } => {
                let start = out.len();
                let times = match repeat {
                    Repeat::Forever => None,
                    Repeat::Times(n) => Some(*n),
                };
                out.push(Insn::LoopStart { times, end: 0 });
                compile_into(body, out);
                let end = out.len();
                out.push(Insn::LoopEnd { start });
                out[start] = Insn::LoopStart { times, end };
            }
            other => out.push(Insn::Step(other.clone())),
        }
    }
}

/// A task's program execution state.
#[derive(Clone, Debug, Default)]
pub struct ExecState {
    /// The compiled program (`None` for tasks with built-in behaviour).
    pub prog: Option<Arc<Vec<Insn>>>,
    /// Next instruction.
    pub pc: usize,
    /// Remaining iterations of the enclosing loops (innermost last;
    /// `u64::MAX` = forever).
    pub loops: Vec<u64>,
    /// CPU time left in the current `Run`.
    pub work_left: Ns,
    /// End of the current `RunWall`, if one is in progress.
    pub wall_until: Option<Ns>,
    /// What happens when the current work is over.
    pub resume: Resume,
    /// The timer a sleeping task waits for.
    pub sleep_timer: Option<u32>,
    /// Next expiry of each per-task periodic timer (by timer index).
    pub timer_next: Vec<Option<Ns>>,
    /// Set once the exit work is done: the next schedule is the last.
    pub dying: bool,
    /// The task's private random stream.
    pub rng: Option<SimRng>,
    /// True while blocked on a workload object (for invariant checks).
    pub blocked_on: Option<BlockedOn>,
    /// Stand-in kernel stack of where the task last stopped, for the debug
    /// dump (innermost first).
    pub stack_site: &'static [&'static str],
}

/// What a blocked task waits for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BlockedOn {
    /// A timer (sleep or periodic).
    Timer,
    /// A condition (suspend or cond wait).
    Cond(usize),
    /// A mutex.
    Mutex(usize),
    /// A barrier.
    Barrier(usize),
    /// Children to exit.
    Children,
    /// Nothing the workload controls (kernel threads, workers).
    Kernel,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CondWaiter {
    Suspend(Tid),
    Wait { tid: Tid, mutex: usize },
}

/// Runtime state of the workload's shared objects.
#[derive(Debug, Default)]
pub struct WorkloadState {
    /// The workload being run.
    pub workload: Option<Arc<Workload>>,
    /// Compiled programs of `workload.tasks`.
    pub task_progs: Vec<Arc<Vec<Insn>>>,
    /// Compiled programs of `workload.templates`.
    pub template_progs: Vec<Arc<Vec<Insn>>>,
    cond_waiters: Vec<VecDeque<CondWaiter>>,
    cond_pending: Vec<bool>,
    mutex_owner: Vec<Option<Tid>>,
    mutex_waiters: Vec<VecDeque<Tid>>,
    barrier_waiters: Vec<Vec<Tid>>,
    shared_timer_next: Vec<Option<Ns>>,
    /// Seed for the per-task random streams.
    pub seed: u64,
    /// First instance of each task spec (thread-group leader).
    pub leaders: std::collections::BTreeMap<usize, Tid>,
}

impl WorkloadState {
    /// Prepares the runtime state for `w`.
    pub fn new(w: Arc<Workload>, seed: u64) -> WorkloadState {
        WorkloadState {
            task_progs: w
                .tasks
                .iter()
                .map(|t| Arc::new(compile(&t.program)))
                .collect(),
            template_progs: w
                .templates
                .iter()
                .map(|t| Arc::new(compile(&t.program)))
                .collect(),
            cond_waiters: vec![VecDeque::new(); w.conds.len()],
            cond_pending: vec![false; w.conds.len()],
            mutex_owner: vec![None; w.mutexes.len()],
            mutex_waiters: vec![VecDeque::new(); w.mutexes.len()],
            barrier_waiters: vec![Vec::new(); w.barriers.len()],
            shared_timer_next: vec![None; w.timers.len()],
            workload: Some(w),
            seed,
            leaders: Default::default(),
        }
    }
}

/// What one instruction did.
enum Flow {
    /// Keep executing instructions.
    Continue,
    /// The task now has work or blocks/yields; stop.
    Stop,
}

impl Kernel {
    /// Runs `curr`'s program from its current instruction until it starts
    /// CPU work, blocks, yields or exits.
    pub(crate) fn exec_next(&mut self, cpu: usize) {
        let tid = self.rqs[cpu].curr;
        self.rqs[cpu].mode = crate::rq::Mode::Kernel;
        match self.task(tid).kind {
            TaskKind::Kworker { pool } => {
                self.kworker_next(cpu, tid, pool);
                return self.after_exec(cpu, tid);
            }
            TaskKind::ScxHelper => {
                self.scx_helper_next(cpu, tid);
                return self.after_exec(cpu, tid);
            }
            TaskKind::Stopper => {
                self.stopper_next(cpu, tid);
                return self.after_exec(cpu, tid);
            }
            TaskKind::Idle => unreachable!("the idle task has no program"),
            TaskKind::User | TaskKind::Kthread => {}
        }
        if self.task(tid).exec.prog.is_none() && !self.task(tid).exec.dying {
            // A task without a program sleeps until the end of the run.
            self.block_in_kernel(tid);
            return self.after_exec(cpu, tid);
        }
        if self.task(tid).exec.dying {
            self.do_task_dead(tid);
            return self.after_exec(cpu, tid);
        }
        let mut n = 0;
        loop {
            n += 1;
            self.charge(1);
            if n > MAX_INSNS_PER_STEP {
                self.task_mut(tid).exec.resume = Resume::Next;
                break;
            }
            if let Flow::Stop = self.exec_insn(cpu, tid) {
                break;
            }
            if self.spinning() {
                self.task_mut(tid).exec.resume = Resume::Next;
                break;
            }
        }
        self.after_exec(cpu, tid);
    }

    /// Sets the CPU mode from the task's resume point.
    fn after_exec(&mut self, cpu: usize, tid: Tid) {
        if self.spinning() {
            return;
        }
        let e = &self.task(tid).exec;
        if e.resume == Resume::Work {
            let since = self.now + std::mem::take(&mut self.rqs[cpu].acc);
            self.rqs[cpu].mode = crate::rq::Mode::Exec { since };
        } else {
            self.rqs[cpu].mode = crate::rq::Mode::Kernel;
        }
    }

    fn fetch(&mut self, tid: Tid) -> Option<Insn> {
        let e = &self.task(tid).exec;
        let prog = e.prog.as_ref()?;
        prog.get(e.pc).cloned()
    }

    fn exec_insn(&mut self, cpu: usize, tid: Tid) -> Flow {
        let Some(insn) = self.fetch(tid) else {
            // Falling off the end of the program exits.
            self.do_exit(tid);
            return Flow::Stop;
        };
        self.task_mut(tid).exec.pc += 1;
        match insn {
            Insn::LoopStart { times, end } => {
                match times {
                    Some(0) => self.task_mut(tid).exec.pc = end + 1,
                    Some(n) => self.task_mut(tid).exec.loops.push(n),
                    None => self.task_mut(tid).exec.loops.push(u64::MAX),
                }
                Flow::Continue
            }
            Insn::LoopEnd { start } => {
                let e = &mut self.task_mut(tid).exec;
                let top = e.loops.last_mut().expect("loop stack underflow");
                if *top == u64::MAX || *top > 1 {
                    if *top != u64::MAX {
                        *top -= 1;
                    }
                    e.pc = start + 1;
                } else {
                    e.loops.pop();
                }
                Flow::Continue
            }
            Insn::Step(s) => self.exec_step(cpu, tid, s),
        }
    }

    fn start_work(&mut self, tid: Tid, ns: Ns) -> Flow {
        let e = &mut self.task_mut(tid).exec;
        e.work_left = ns;
        e.wall_until = None;
        e.resume = Resume::Work;
        Flow::Stop
    }

    fn draw(&mut self, tid: Tid, min: Ns, max: Ns) -> Ns {
        let seed = self.wl.seed;
        let e = &mut self.task_mut(tid).exec;
        let rng = e
            .rng
            .get_or_insert_with(|| SimRng::fork(seed, u64::from(tid) + 1));
        rng.range(min, max)
    }

    /// Blocks the running task: it calls `schedule()` next.
    pub(crate) fn block_current(&mut self, tid: Tid, on: BlockedOn) {
        let t = self.task_mut(tid);
        t.state = TaskState::Sleeping;
        t.exec.blocked_on = Some(on);
        t.exec.resume = Resume::Schedule;
        t.exec.stack_site = stack_site_of(on, t.kind);
    }

    fn sleep_until(&mut self, cpu: usize, tid: Tid, at: Ns) -> Flow {
        self.charge(self.cfg.cost.syscall);
        if at <= self.now {
            return Flow::Continue;
        }
        let id = self.hrtimer_start(crate::timer::TimerKind::WakeTask(tid), at, cpu, false);
        self.task_mut(tid).exec.sleep_timer = Some(id);
        self.block_current(tid, BlockedOn::Timer);
        Flow::Stop
    }

    fn exec_step(&mut self, cpu: usize, tid: Tid, s: Step) -> Flow {
        match s {
            Step::Run(ns) => self.start_work(tid, ns),
            Step::RunRange { min, max } => {
                let ns = self.draw(tid, min, max);
                self.start_work(tid, ns)
            }
            Step::RunWall(ns) => {
                let until = self.now + ns;
                let e = &mut self.task_mut(tid).exec;
                e.work_left = 0;
                e.wall_until = Some(until);
                e.resume = Resume::Work;
                Flow::Stop
            }
            Step::Sleep(ns) => self.sleep_until(cpu, tid, self.now + ns),
            Step::SleepRange { min, max } => {
                let ns = self.draw(tid, min, max);
                self.sleep_until(cpu, tid, self.now + ns)
            }
            Step::Timer(i) => {
                let at = self.next_timer_expiry(tid, i);
                self.sleep_until(cpu, tid, at)
            }
            Step::Yield => {
                self.charge(self.cfg.cost.syscall);
                self.sched_yield(cpu, tid);
                self.task_mut(tid).exec.resume = Resume::Schedule;
                Flow::Stop
            }
            Step::Suspend(c) => self.cond_suspend(tid, c),
            Step::Resume(c) => {
                self.charge(self.cfg.cost.syscall);
                self.cond_resume(c);
                Flow::Continue
            }
            Step::Wait { cond, mutex } => self.cond_wait(tid, cond, mutex),
            Step::Signal(c) => {
                self.charge(self.cfg.cost.syscall);
                self.cond_signal(c, false);
                Flow::Continue
            }
            Step::Broadcast(c) => {
                self.charge(self.cfg.cost.syscall);
                self.cond_signal(c, true);
                Flow::Continue
            }
            Step::SignalWait {
                signal,
                wait,
                mutex,
            } => {
                self.charge(self.cfg.cost.syscall);
                self.cond_signal(signal, false);
                self.cond_wait(tid, wait, mutex)
            }
            Step::Lock(m) => self.mutex_lock(tid, m),
            Step::Unlock(m) => {
                self.charge(self.cfg.cost.syscall);
                self.mutex_unlock(tid, m);
                Flow::Continue
            }
            Step::Barrier(b) => self.barrier_wait(tid, b),
            Step::Fork(t) => {
                self.charge(self.cfg.cost.fork);
                self.do_fork(tid, t);
                Flow::Continue
            }
            Step::WaitChildren => {
                self.charge(self.cfg.cost.syscall);
                if self.task(tid).live_children == 0 {
                    Flow::Continue
                } else {
                    self.block_current(tid, BlockedOn::Children);
                    Flow::Stop
                }
            }
            Step::Exec(name) => {
                self.charge(self.cfg.cost.syscall);
                self.set_task_comm(tid, &name);
                Flow::Continue
            }
            Step::SetCpus(mask) => {
                self.charge(self.cfg.cost.syscall);
                self.sched_setaffinity(tid, mask);
                Flow::Continue
            }
            Step::SetNice(n) => {
                self.charge(self.cfg.cost.syscall);
                self.set_user_nice(tid, n);
                Flow::Continue
            }
            Step::SetPolicy(p) => {
                self.charge(self.cfg.cost.syscall);
                self.sched_setscheduler(tid, p);
                Flow::Continue
            }
            Step::SetCgroup(g) => {
                self.charge(self.cfg.cost.syscall);
                self.sched_move_task(tid, g + 1);
                Flow::Continue
            }
            Step::MigrateDisable => {
                self.task_mut(tid).migration_disabled += 1;
                Flow::Continue
            }
            Step::MigrateEnable => {
                if self.task(tid).is_migration_disabled() {
                    self.migrate_enable(tid);
                }
                Flow::Continue
            }
            Step::Exit => {
                self.do_exit(tid);
                Flow::Stop
            }
            Step::Loop { .. } => unreachable!("loops are compiled away"),
        }
    }

    /// `do_exit()`: marks the task exiting and charges the exit work, after
    /// which it dies in its final `schedule()`.
    pub(crate) fn do_exit(&mut self, tid: Tid) {
        let cost = self.cfg.cost.exit;
        self.emit_with(|| scx_observe::Event::TaskExit { tid });
        let t = self.task_mut(tid);
        t.flags |= PF_EXITING;
        t.exec.dying = true;
        t.exec.work_left = cost;
        t.exec.wall_until = None;
        t.exec.resume = Resume::Work;
    }

    /// The exit work is done: `TASK_DEAD`, then the last `schedule()`.
    fn do_task_dead(&mut self, tid: Tid) {
        self.release_held_mutexes(tid);
        let t = self.task_mut(tid);
        t.state = TaskState::Dead;
        t.exec.resume = Resume::Schedule;
        t.exec.blocked_on = None;
        if let Some(parent) = t.parent {
            self.child_exited(parent);
        }
    }

    fn child_exited(&mut self, parent: Tid) {
        let p = self.task_mut(parent);
        p.live_children = p.live_children.saturating_sub(1);
        if p.live_children == 0 && p.exec.blocked_on == Some(BlockedOn::Children) {
            self.wake_blocked(parent);
        }
    }

    /// Wakes a task blocked on a workload object.
    pub(crate) fn wake_blocked(&mut self, tid: Tid) {
        self.task_mut(tid).exec.blocked_on = None;
        self.charge(self.cfg.cost.wakeup);
        self.try_to_wake_up(tid, 0);
    }

    fn next_timer_expiry(&mut self, tid: Tid, i: usize) -> Ns {
        let w = self.wl.workload.clone().expect("workload");
        let spec = &w.timers[i];
        let prev = if spec.shared {
            self.wl.shared_timer_next[i]
        } else {
            let e = &mut self.task_mut(tid).exec;
            if e.timer_next.len() <= i {
                e.timer_next.resize(i + 1, None);
            }
            e.timer_next[i]
        };
        let target = prev.unwrap_or(self.now + spec.period);
        let next = if target <= self.now && spec.mode == TimerMode::Relative {
            self.now + spec.period
        } else {
            target + spec.period
        };
        if spec.shared {
            self.wl.shared_timer_next[i] = Some(next);
        } else {
            self.task_mut(tid).exec.timer_next[i] = Some(next);
        }
        target
    }

    fn cond_suspend(&mut self, tid: Tid, c: usize) -> Flow {
        self.charge(self.cfg.cost.syscall);
        if std::mem::take(&mut self.wl.cond_pending[c]) {
            return Flow::Continue;
        }
        self.wl.cond_waiters[c].push_back(CondWaiter::Suspend(tid));
        self.block_current(tid, BlockedOn::Cond(c));
        Flow::Stop
    }

    fn cond_resume(&mut self, c: usize) {
        if self.wl.cond_waiters[c].is_empty() {
            self.wl.cond_pending[c] = true;
            return;
        }
        self.cond_signal(c, true);
    }

    fn cond_signal(&mut self, c: usize, all: bool) {
        while let Some(w) = self.wl.cond_waiters[c].pop_front() {
            match w {
                CondWaiter::Suspend(t) => self.wake_blocked(t),
                CondWaiter::Wait { tid, mutex } => self.mutex_reacquire(tid, mutex),
            }
            if !all {
                break;
            }
        }
    }

    fn cond_wait(&mut self, tid: Tid, cond: usize, mutex: usize) -> Flow {
        self.charge(self.cfg.cost.syscall);
        self.mutex_unlock(tid, mutex);
        self.wl.cond_waiters[cond].push_back(CondWaiter::Wait { tid, mutex });
        self.block_current(tid, BlockedOn::Cond(cond));
        Flow::Stop
    }

    /// A signalled cond waiter takes its mutex back (or queues for it).
    fn mutex_reacquire(&mut self, tid: Tid, m: usize) {
        match self.wl.mutex_owner[m] {
            None => {
                self.wl.mutex_owner[m] = Some(tid);
                self.wake_blocked(tid);
            }
            Some(_) => {
                self.wl.mutex_waiters[m].push_back(tid);
                self.task_mut(tid).exec.blocked_on = Some(BlockedOn::Mutex(m));
            }
        }
    }

    fn mutex_lock(&mut self, tid: Tid, m: usize) -> Flow {
        self.charge(self.cfg.cost.syscall);
        match self.wl.mutex_owner[m] {
            None => {
                self.wl.mutex_owner[m] = Some(tid);
                Flow::Continue
            }
            Some(owner) if owner == tid => Flow::Continue,
            Some(_) => {
                self.wl.mutex_waiters[m].push_back(tid);
                self.block_current(tid, BlockedOn::Mutex(m));
                Flow::Stop
            }
        }
    }

    fn mutex_unlock(&mut self, tid: Tid, m: usize) {
        if self.wl.mutex_owner[m] != Some(tid) {
            return;
        }
        match self.wl.mutex_waiters[m].pop_front() {
            Some(next) => {
                self.wl.mutex_owner[m] = Some(next);
                self.wake_blocked(next);
            }
            None => self.wl.mutex_owner[m] = None,
        }
    }

    fn release_held_mutexes(&mut self, tid: Tid) {
        for m in 0..self.wl.mutex_owner.len() {
            self.mutex_unlock(tid, m);
        }
        for q in &mut self.wl.cond_waiters {
            q.retain(|w| !matches!(w, CondWaiter::Suspend(t) | CondWaiter::Wait { tid: t, .. } if *t == tid));
        }
        for q in &mut self.wl.mutex_waiters {
            q.retain(|t| *t != tid);
        }
        for q in &mut self.wl.barrier_waiters {
            q.retain(|t| *t != tid);
        }
    }

    fn barrier_wait(&mut self, tid: Tid, b: usize) -> Flow {
        self.charge(self.cfg.cost.syscall);
        let parties = self
            .wl
            .workload
            .as_ref()
            .map(|w| w.barriers[b].parties)
            .unwrap_or(1) as usize;
        if self.wl.barrier_waiters[b].len() + 1 >= parties {
            let waiters = std::mem::take(&mut self.wl.barrier_waiters[b]);
            for t in waiters {
                self.wake_blocked(t);
            }
            return Flow::Continue;
        }
        self.wl.barrier_waiters[b].push(tid);
        self.block_current(tid, BlockedOn::Barrier(b));
        Flow::Stop
    }

    /// Installs a compiled program on a task.
    pub(crate) fn set_program(&mut self, tid: Tid, prog: Arc<Vec<Insn>>) {
        let e = &mut self.task_mut(tid).exec;
        e.prog = Some(prog);
        e.pc = 0;
        e.loops.clear();
        e.resume = Resume::Next;
    }

    /// Applies a policy at task creation (no class change callbacks).
    pub(crate) fn initial_policy(
        &mut self,
        tid: Tid,
        policy: Policy,
        nice: i32,
        cpus: Option<Cpumask>,
    ) {
        let nr = self.nr_cpus();
        let t = self.task_mut(tid);
        t.policy = policy;
        t.nice = nice;
        if let Some(m) = cpus {
            t.cpus = m;
        } else {
            t.cpus = Cpumask::first_n(nr);
        }
        self.refresh_prio_weight(tid);
    }
}

/// The kernel frames a task blocked on `on` would show, innermost first.
pub fn stack_site_of(on: BlockedOn, kind: TaskKind) -> &'static [&'static str] {
    const SYSCALL: [&str; 2] = ["do_syscall_64", "entry_SYSCALL_64_after_hwframe"];
    let _ = SYSCALL;
    match (on, kind) {
        (BlockedOn::Timer, _) => &[
            "common_nsleep",
            "__x64_sys_clock_nanosleep",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe",
        ],
        (BlockedOn::Children, _) => &[
            "kernel_wait4",
            "__do_sys_wait4",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe",
        ],
        (BlockedOn::Cond(_) | BlockedOn::Mutex(_) | BlockedOn::Barrier(_), _) => &[
            "futex_wait",
            "do_futex",
            "__x64_sys_futex",
            "do_syscall_64",
            "entry_SYSCALL_64_after_hwframe",
        ],
        (BlockedOn::Kernel, TaskKind::Kworker { .. }) => &[
            "worker_thread",
            "kthread",
            "ret_from_fork",
            "ret_from_fork_asm",
        ],
        (BlockedOn::Kernel, _) => &["kthread", "ret_from_fork", "ret_from_fork_asm"],
    }
}

/// Frames of a task preempted while running.
pub fn preempted_stack(kind: TaskKind) -> &'static [&'static str] {
    match kind {
        TaskKind::User => &["asm_sysvec_apic_timer_interrupt"],
        _ => &["kthread", "ret_from_fork", "ret_from_fork_asm"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_compile_to_jumps() {
        let prog = compile(&[
            Step::Run(1),
            Step::Loop {
                repeat: Repeat::Times(3),
                body: vec![Step::Sleep(2)],
            },
            Step::Exit,
        ]);
        assert_eq!(
            prog,
            vec![
                Insn::Step(Step::Run(1)),
                Insn::LoopStart {
                    times: Some(3),
                    end: 3
                },
                Insn::Step(Step::Sleep(2)),
                Insn::LoopEnd { start: 1 },
                Insn::Step(Step::Exit),
            ]
        );
    }
}
