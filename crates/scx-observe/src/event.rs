//! Event types emitted by the kernel model.
//!
//! Field meanings follow the kernel's tracepoints where one exists
//! (`sched_switch`, `sched_waking`, `sched_wakeup[_new]`,
//! `sched_migrate_task`, `sched_process_exit`); the sched_ext-specific
//! events (`OpCall`, `Kick`, `DsqDepth`, `ScxExit`, ...) are scxsim's own.

/// A task, by its stable index in the kernel's task arena.
pub type Tid = u32;

/// The sched_ext callbacks, in `struct sched_ext_ops` declaration order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[allow(missing_docs)]
pub enum Op {
    SelectCpu,
    Enqueue,
    Dequeue,
    Dispatch,
    Tick,
    Runnable,
    Running,
    Stopping,
    Quiescent,
    Yield,
    CoreSchedBefore,
    SetWeight,
    SetCpumask,
    UpdateIdle,
    CpuAcquire,
    CpuRelease,
    InitTask,
    ExitTask,
    Enable,
    Disable,
    Dump,
    DumpCpu,
    DumpTask,
    CgroupInit,
    CgroupExit,
    CgroupPrepMove,
    CgroupMove,
    CgroupCancelMove,
    CgroupSetWeight,
    CpuOnline,
    CpuOffline,
    Init,
    Exit,
}

impl Op {
    /// Every op in declaration order.
    pub const ALL: [Op; 33] = [
        Op::SelectCpu,
        Op::Enqueue,
        Op::Dequeue,
        Op::Dispatch,
        Op::Tick,
        Op::Runnable,
        Op::Running,
        Op::Stopping,
        Op::Quiescent,
        Op::Yield,
        Op::CoreSchedBefore,
        Op::SetWeight,
        Op::SetCpumask,
        Op::UpdateIdle,
        Op::CpuAcquire,
        Op::CpuRelease,
        Op::InitTask,
        Op::ExitTask,
        Op::Enable,
        Op::Disable,
        Op::Dump,
        Op::DumpCpu,
        Op::DumpTask,
        Op::CgroupInit,
        Op::CgroupExit,
        Op::CgroupPrepMove,
        Op::CgroupMove,
        Op::CgroupCancelMove,
        Op::CgroupSetWeight,
        Op::CpuOnline,
        Op::CpuOffline,
        Op::Init,
        Op::Exit,
    ];

    /// The member name in `struct sched_ext_ops`.
    pub fn name(self) -> &'static str {
        match self {
            Op::SelectCpu => "select_cpu",
            Op::Enqueue => "enqueue",
            Op::Dequeue => "dequeue",
            Op::Dispatch => "dispatch",
            Op::Tick => "tick",
            Op::Runnable => "runnable",
            Op::Running => "running",
            Op::Stopping => "stopping",
            Op::Quiescent => "quiescent",
            Op::Yield => "yield",
            Op::CoreSchedBefore => "core_sched_before",
            Op::SetWeight => "set_weight",
            Op::SetCpumask => "set_cpumask",
            Op::UpdateIdle => "update_idle",
            Op::CpuAcquire => "cpu_acquire",
            Op::CpuRelease => "cpu_release",
            Op::InitTask => "init_task",
            Op::ExitTask => "exit_task",
            Op::Enable => "enable",
            Op::Disable => "disable",
            Op::Dump => "dump",
            Op::DumpCpu => "dump_cpu",
            Op::DumpTask => "dump_task",
            Op::CgroupInit => "cgroup_init",
            Op::CgroupExit => "cgroup_exit",
            Op::CgroupPrepMove => "cgroup_prep_move",
            Op::CgroupMove => "cgroup_move",
            Op::CgroupCancelMove => "cgroup_cancel_move",
            Op::CgroupSetWeight => "cgroup_set_weight",
            Op::CpuOnline => "cpu_online",
            Op::CpuOffline => "cpu_offline",
            Op::Init => "init",
            Op::Exit => "exit",
        }
    }

    /// Bit of this op in an implemented-ops mask.
    pub fn bit(self) -> u64 {
        1 << (self as u32)
    }

    /// Looks an op up by its member name.
    pub fn from_name(name: &str) -> Option<Op> {
        Op::ALL.iter().copied().find(|o| o.name() == name)
    }
}

/// Task state as `sched_switch`'s `prev_state` reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PrevState {
    /// `TASK_RUNNING` (preempted): `R` / `R+`.
    Running,
    /// `TASK_INTERRUPTIBLE` sleep: `S`.
    Sleeping,
    /// `TASK_UNINTERRUPTIBLE`: `D`.
    Uninterruptible,
    /// `TASK_DEAD` / exiting: `X`.
    Dead,
}

impl PrevState {
    /// The kernel's `prev_state` bit value as `sched_switch` records it
    /// (`__trace_sched_switch_state()`: the task-state index as a bit, in
    /// the `TASK_REPORT` layout of kernels since 4.14).
    ///
    /// A dying task's `__state` is `TASK_DEAD` (0x80), but that bit is not
    /// in `TASK_REPORT`: the tracepoint reports its `exit_state` instead.
    /// scxsim releases a dead task at its last switch (no zombie phase),
    /// which is `EXIT_DEAD`, reported as 0x10 and printed `X`. (0x80 in a
    /// 6.12 `prev_state` means `TASK_REPORT_IDLE`, printed `I`.)
    pub fn bits(self) -> u64 {
        match self {
            PrevState::Running => 0,
            PrevState::Sleeping => 0x1,
            PrevState::Uninterruptible => 0x2,
            PrevState::Dead => 0x10,
        }
    }

    /// One-letter form used in text traces.
    pub fn letter(self) -> &'static str {
        match self {
            PrevState::Running => "R",
            PrevState::Sleeping => "S",
            PrevState::Uninterruptible => "D",
            PrevState::Dead => "X",
        }
    }
}

/// Which scheduling class a task is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// `stop_sched_class`.
    Stop,
    /// `rt_sched_class`.
    Rt,
    /// `fair_sched_class`.
    Fair,
    /// `ext_sched_class`.
    Ext,
    /// `idle_sched_class`.
    Idle,
}

impl Class {
    /// Symbol name as `%ps` prints it in the debug dump.
    pub fn symbol(self) -> &'static str {
        match self {
            Class::Stop => "stop_sched_class",
            Class::Rt => "rt_sched_class",
            Class::Fair => "fair_sched_class",
            Class::Ext => "ext_sched_class",
            Class::Idle => "idle_sched_class",
        }
    }
}

/// One thing the kernel model did.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A task exists (boot or fork). `prio` is the kernel prio (120 + nice
    /// for fair tasks, 99 - rt_priority for RT, 120 for idle tasks).
    TaskNew {
        /// The task.
        tid: Tid,
        /// Its pid (0 for the per-CPU idle tasks).
        pid: u32,
        /// Its thread group id.
        tgid: u32,
        /// Parent task, if forked.
        parent: Option<Tid>,
        /// `comm`.
        comm: String,
        /// Kernel prio.
        prio: i32,
        /// True for kernel threads.
        kthread: bool,
        /// For per-CPU idle tasks, their CPU.
        idle_cpu: Option<u32>,
    },
    /// `comm` changed (exec).
    TaskRename {
        /// The task.
        tid: Tid,
        /// New `comm`.
        comm: String,
    },
    /// Kernel prio changed (nice or policy change).
    TaskPrio {
        /// The task.
        tid: Tid,
        /// New prio.
        prio: i32,
    },
    /// The task moved to another scheduling class.
    TaskClass {
        /// The task.
        tid: Tid,
        /// New class.
        class: Class,
    },
    /// `sched_process_exit`: the task called `do_exit()`.
    TaskExit {
        /// The task.
        tid: Tid,
    },
    /// `sched_switch` on `cpu`.
    Switch {
        /// CPU.
        cpu: u32,
        /// Task switched out.
        prev: Tid,
        /// Its state.
        prev_state: PrevState,
        /// Task switched in.
        next: Tid,
    },
    /// `sched_waking`, emitted on the waker's CPU.
    Waking {
        /// CPU doing the wakeup.
        cpu: u32,
        /// Task being woken.
        tid: Tid,
    },
    /// `sched_wakeup` / `sched_wakeup_new`: the task is runnable on
    /// `target_cpu`'s runqueue.
    Wakeup {
        /// CPU doing the wakeup.
        cpu: u32,
        /// Task woken.
        tid: Tid,
        /// Runqueue it was enqueued on.
        target_cpu: u32,
        /// True for a newly forked task (`sched_wakeup_new`).
        new: bool,
    },
    /// `sched_migrate_task`.
    Migrate {
        /// The task.
        tid: Tid,
        /// Old CPU.
        from: u32,
        /// New CPU.
        to: u32,
    },
    /// A sched_ext callback was invoked on `cpu`.
    OpCall {
        /// CPU executing it.
        cpu: u32,
        /// Which callback.
        op: Op,
        /// The task argument, if any.
        task: Option<Tid>,
        /// The main integer argument (flags, cpu, weight...), else 0.
        arg: u64,
    },
    /// `scx_bpf_kick_cpu()` was requested (by the scheduler or, with
    /// `breaker`, by `balance_one()`'s dispatch-loop breaker).
    Kick {
        /// Kicking CPU.
        cpu: u32,
        /// Target CPU.
        target: u32,
        /// `SCX_KICK_*` flags.
        flags: u64,
        /// True for the dispatch-loop breaker's self-kick.
        breaker: bool,
    },
    /// A CPU was rescheduled (`resched_curr`) by a kick's irq_work.
    KickDelivered {
        /// Kicking CPU.
        cpu: u32,
        /// Target CPU.
        target: u32,
    },
    /// The number of tasks queued on a DSQ changed.
    DsqDepth {
        /// DSQ id (local DSQs: `SCX_DSQ_LOCAL_ON | cpu`).
        dsq: u64,
        /// New depth.
        depth: u32,
    },
    /// One round of `balance_one()`'s dispatch loop finished.
    DispatchRound {
        /// CPU.
        cpu: u32,
        /// 1-based round number within this balance.
        round: u32,
        /// Dispatch-buffer entries flushed plus successful consumes.
        nr_tasks: u32,
    },
    /// The sched_ext watchdog ran its periodic check.
    WatchdogCheck {
        /// CPU the kworker ran on.
        cpu: u32,
    },
    /// A sched_ext exit was claimed (first exit wins).
    ScxExit {
        /// Exit kind value.
        kind: u32,
        /// Exit code.
        exit_code: i64,
        /// Reason string.
        reason: String,
        /// Message.
        msg: String,
    },
    /// One line of a sched_ext debug dump, as the `sched_ext_dump`
    /// tracepoint carries it ("" for a blank line).
    DumpLine {
        /// CPU doing the dump.
        cpu: u32,
        /// The line.
        line: String,
    },
    /// The scheduler's enable state changed.
    ScxState {
        /// `enabling`, `enabled`, `disabling`, `disabled`.
        state: &'static str,
    },
    /// A kernel log line (`printk`).
    Log {
        /// The line, without timestamp.
        line: String,
    },
    /// A CPU became stuck with interrupts disabled (lockup model).
    CpuStuck {
        /// CPU.
        cpu: u32,
        /// Why.
        what: String,
    },
    /// A parked CPU's repetitions were accounted without being simulated
    /// one by one (fast-forward): `reps` identical repetitions of `period`
    /// ns each, the first starting at `from`.
    FastForward {
        /// CPU.
        cpu: u32,
        /// Start of the first repetition.
        from: u64,
        /// Number of repetitions.
        reps: u64,
        /// Length of one repetition in ns.
        period: u64,
    },
}
