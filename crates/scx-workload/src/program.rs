//! The workload intermediate representation: tasks, programs and shared
//! objects, independent of where they were described (preset or rt-app).
//!
//! Semantics of each [`Step`] as the kernel model executes it:
//!
//! * `Run` consumes CPU time: the task must be *on a CPU* for that long
//!   (rt-app's `run`), so preemption stretches its wall-clock duration.
//! * `RunWall` busy-loops until that much simulated time has passed since the
//!   step started, whether or not the task was on a CPU (rt-app's `runtime`).
//! * `Sleep` blocks on a timer (`usleep`); `Timer` blocks until the next
//!   period boundary of a (possibly shared) periodic timer.
//! * `Suspend`/`Resume`, `Wait`/`Signal`/`Broadcast`/`SignalWait`,
//!   `Lock`/`Unlock` and `Barrier` are blocking and wakeup edges between
//!   tasks, with pthread semantics.
//! * `Fork` creates a child from a template (`fork()`, `SCX_WAKE_FORK`);
//!   `WaitChildren` blocks until every child forked so far has exited
//!   (`wait4` in a shell loop); `Exit` ends the task (falling off the end of
//!   the program also exits).
//! * `Set*` steps are the system calls that change a running task's
//!   affinity, nice, policy or cgroup; `MigrateDisable`/`MigrateEnable` bracket
//!   a migration-disabled section.

use scx_machine::clock::Ns;
use scx_machine::Cpumask;

/// Index into [`Workload::templates`].
pub type TemplateId = usize;
/// Index into [`Workload::conds`].
pub type CondId = usize;
/// Index into [`Workload::mutexes`].
pub type MutexId = usize;
/// Index into [`Workload::barriers`].
pub type BarrierId = usize;
/// Index into [`Workload::timers`].
pub type TimerId = usize;
/// Index into [`Workload::cgroups`].
pub type CgroupId = usize;

/// A scheduling policy, as `sched_setscheduler()` takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Policy {
    /// `SCHED_NORMAL` (0).
    #[default]
    Normal,
    /// `SCHED_FIFO` (1) with an RT priority 1..=99.
    Fifo(u32),
    /// `SCHED_RR` (2) with an RT priority 1..=99.
    Rr(u32),
    /// `SCHED_BATCH` (3).
    Batch,
    /// `SCHED_IDLE` (5).
    Idle,
    /// `SCHED_EXT` (7).
    Ext,
}

impl Policy {
    /// The kernel's numeric policy value.
    pub fn number(self) -> u32 {
        match self {
            Policy::Normal => 0,
            Policy::Fifo(_) => 1,
            Policy::Rr(_) => 2,
            Policy::Batch => 3,
            Policy::Idle => 5,
            Policy::Ext => 7,
        }
    }

    /// True for `SCHED_FIFO`/`SCHED_RR`.
    pub fn is_rt(self) -> bool {
        matches!(self, Policy::Fifo(_) | Policy::Rr(_))
    }

    /// Name as the kernel's headers spell it.
    pub fn name(self) -> &'static str {
        match self {
            Policy::Normal => "SCHED_NORMAL",
            Policy::Fifo(_) => "SCHED_FIFO",
            Policy::Rr(_) => "SCHED_RR",
            Policy::Batch => "SCHED_BATCH",
            Policy::Idle => "SCHED_IDLE",
            Policy::Ext => "SCHED_EXT",
        }
    }
}

/// How a periodic [`Step::Timer`] computes its next expiry (rt-app's
/// `mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum TimerMode {
    /// Next expiry = previous expiry + period, even if the task is late
    /// (rt-app `absolute`).
    Absolute,
    /// Next expiry = previous expiry + period, but if that is already in the
    /// past the timer restarts from now (rt-app `relative`, its default).
    #[default]
    Relative,
}

/// How many times a loop body runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Repeat {
    /// Until the task is killed or the run ends (rt-app `loop: -1`).
    Forever,
    /// Exactly this many times.
    Times(u64),
}

/// One instruction of a task's behaviour program.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    /// Consume this much CPU time.
    Run(Ns),
    /// Consume a CPU time drawn uniformly from `min..=max` (seeded RNG).
    RunRange {
        /// Shortest run.
        min: Ns,
        /// Longest run.
        max: Ns,
    },
    /// Busy-loop until this much wall-clock (simulated) time has passed.
    RunWall(Ns),
    /// Sleep this long.
    Sleep(Ns),
    /// Sleep a duration drawn uniformly from `min..=max`.
    SleepRange {
        /// Shortest sleep.
        min: Ns,
        /// Longest sleep.
        max: Ns,
    },
    /// Block until the next expiry of a periodic timer.
    Timer(TimerId),
    /// `sched_yield()`.
    Yield,
    /// Block until another task resumes `CondId` (rt-app `suspend`).
    Suspend(CondId),
    /// Wake the tasks suspended on `CondId` (rt-app `resume`); if none is
    /// suspended, the next `Suspend` returns at once (a pending resume).
    Resume(CondId),
    /// `pthread_cond_wait(cond, mutex)`; the mutex must be held.
    Wait {
        /// The condition variable.
        cond: CondId,
        /// The mutex released while waiting and re-taken after.
        mutex: MutexId,
    },
    /// `pthread_cond_signal`: wake one waiter.
    Signal(CondId),
    /// `pthread_cond_broadcast`: wake every waiter.
    Broadcast(CondId),
    /// Signal one condition then wait on another, atomically (rt-app `sync`).
    SignalWait {
        /// Signalled first.
        signal: CondId,
        /// Then waited on.
        wait: CondId,
        /// The mutex held around the wait.
        mutex: MutexId,
    },
    /// `pthread_mutex_lock`: blocks while another task holds it.
    Lock(MutexId),
    /// `pthread_mutex_unlock`: hands the mutex to the first waiter.
    Unlock(MutexId),
    /// `pthread_barrier_wait`.
    Barrier(BarrierId),
    /// `fork()` a child running the template's program.
    Fork(TemplateId),
    /// Block until every child forked so far has exited.
    WaitChildren,
    /// Change the task's name, as `exec()` does.
    Exec(String),
    /// `sched_setaffinity()`.
    SetCpus(Cpumask),
    /// `setpriority()`: new nice value.
    SetNice(i32),
    /// `sched_setscheduler()`.
    SetPolicy(Policy),
    /// Move the task to another cgroup.
    SetCgroup(CgroupId),
    /// Enter a `migrate_disable()` section.
    MigrateDisable,
    /// Leave it.
    MigrateEnable,
    /// Run `body` repeatedly.
    Loop {
        /// How often.
        repeat: Repeat,
        /// The steps.
        body: Vec<Step>,
    },
    /// `exit()`.
    Exit,
}

/// A task to create, with its attributes and behaviour.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskSpec {
    /// Name (`comm`, truncated to 15 bytes as the kernel does). With several
    /// instances, instance `i` is named `"{name}-{i}"` as rt-app names its
    /// threads, unless there is exactly one.
    pub name: String,
    /// How many identical tasks to start.
    pub instances: u32,
    /// Scheduling policy at start.
    pub policy: Policy,
    /// Nice value (-20..=19) for non-RT policies.
    pub nice: i32,
    /// Allowed CPUs; `None` = every CPU.
    pub cpus: Option<Cpumask>,
    /// Cgroup; `None` = root.
    pub cgroup: Option<CgroupId>,
    /// Delay before the task is created (rt-app `delay`).
    pub start_delay: Ns,
    /// Whether all instances share one thread group (threads of one
    /// process, as rt-app's are) rather than being separate processes.
    pub same_process: bool,
    /// The behaviour program.
    pub program: Vec<Step>,
}

impl TaskSpec {
    /// A task named `name` running `program`, with default attributes.
    pub fn new(name: &str, program: Vec<Step>) -> TaskSpec {
        TaskSpec {
            name: name.to_string(),
            instances: 1,
            policy: Policy::Normal,
            nice: 0,
            cpus: None,
            cgroup: None,
            start_delay: 0,
            same_process: false,
            program,
        }
    }

    /// Builder: number of instances.
    pub fn instances(mut self, n: u32) -> TaskSpec {
        self.instances = n;
        self
    }

    /// Builder: nice value.
    pub fn nice(mut self, n: i32) -> TaskSpec {
        self.nice = n;
        self
    }

    /// Builder: policy.
    pub fn policy(mut self, p: Policy) -> TaskSpec {
        self.policy = p;
        self
    }

    /// Builder: affinity.
    pub fn cpus(mut self, m: Cpumask) -> TaskSpec {
        self.cpus = Some(m);
        self
    }

    /// Name of instance `i` (see [`TaskSpec::name`]).
    pub fn instance_name(&self, i: u32) -> String {
        if self.instances == 1 {
            self.name.clone()
        } else {
            format!("{}-{}", self.name, i)
        }
    }
}

/// A periodic timer that tasks block on with [`Step::Timer`].
#[derive(Clone, Debug, PartialEq)]
pub struct TimerSpec {
    /// Name (rt-app `ref`).
    pub name: String,
    /// Period.
    pub period: Ns,
    /// Expiry rule.
    pub mode: TimerMode,
    /// True if every task using it shares one expiry sequence; false for
    /// per-task timers (rt-app's `unique`).
    pub shared: bool,
}

/// A pthread barrier.
#[derive(Clone, Debug, PartialEq)]
pub struct BarrierSpec {
    /// Name.
    pub name: String,
    /// Number of tasks that must arrive before all are released.
    pub parties: u32,
}

/// A cgroup in the hierarchy.
#[derive(Clone, Debug, PartialEq)]
pub struct CgroupSpec {
    /// Absolute path, e.g. `/batch/low`. The root is implicit.
    pub path: String,
    /// Parent cgroup; `None` = root.
    pub parent: Option<CgroupId>,
    /// `cpu.weight` (1..=10000, default 100).
    pub weight: u32,
}

/// Something that happens at a fixed simulated time.
#[derive(Clone, Debug, PartialEq)]
pub enum TimedAction {
    /// Take a CPU offline.
    CpuOffline(usize),
    /// Bring a CPU online.
    CpuOnline(usize),
    /// Change a cgroup's `cpu.weight`.
    CgroupWeight(CgroupId, u32),
    /// SysRq-S (`echo S > /proc/sysrq-trigger`): disable the sched_ext
    /// scheduler and revert every task to the fair class.
    SysrqS,
    /// SysRq-D (`echo D > /proc/sysrq-trigger`): a sched_ext debug dump to
    /// the `sched_ext_dump` tracepoint; the scheduler keeps running.
    SysrqD,
}

/// A whole workload.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Workload {
    /// Name shown in reports.
    pub name: String,
    /// One-line description.
    pub description: String,
    /// Tasks started at boot (after their `start_delay`).
    pub tasks: Vec<TaskSpec>,
    /// Tasks created only by [`Step::Fork`].
    pub templates: Vec<TaskSpec>,
    /// Condition variables, by name.
    pub conds: Vec<String>,
    /// Mutexes, by name.
    pub mutexes: Vec<String>,
    /// Barriers.
    pub barriers: Vec<BarrierSpec>,
    /// Periodic timers.
    pub timers: Vec<TimerSpec>,
    /// Cgroups below the root.
    pub cgroups: Vec<CgroupSpec>,
    /// Actions at fixed times, in time order.
    pub actions: Vec<(Ns, TimedAction)>,
    /// Run length the workload asks for (rt-app `global.duration`).
    pub duration: Option<Ns>,
    /// Non-fatal remarks about the input (e.g. rt-app keys not modelled).
    pub warnings: Vec<String>,
}

impl Workload {
    /// Total number of tasks started at boot (instances expanded).
    pub fn nr_boot_tasks(&self) -> usize {
        self.tasks.iter().map(|t| t.instances as usize).sum()
    }

    /// Checks references and values against a machine of `nr_cpus` CPUs.
    /// Returns the first problem found.
    pub fn validate(&self, nr_cpus: usize) -> Result<(), String> {
        for t in self.tasks.iter().chain(self.templates.iter()) {
            self.validate_task(t, nr_cpus)?;
        }
        for (i, c) in self.cgroups.iter().enumerate() {
            if !(1..=10000).contains(&c.weight) {
                return Err(format!(
                    "cgroup {}: cpu.weight {} not in 1..=10000",
                    c.path, c.weight
                ));
            }
            if let Some(p) = c.parent {
                if p >= i {
                    return Err(format!(
                        "cgroup {}: parent must be defined before it",
                        c.path
                    ));
                }
            }
        }
        let mut online = vec![true; nr_cpus];
        let mut last = 0;
        for (at, a) in &self.actions {
            if *at < last {
                return Err("timed actions must be in time order".into());
            }
            last = *at;
            match a {
                TimedAction::CpuOffline(c) | TimedAction::CpuOnline(c) if *c >= nr_cpus => {
                    return Err(format!("CPU {c} out of range for a {nr_cpus}-CPU machine"))
                }
                TimedAction::CgroupWeight(g, _) if *g >= self.cgroups.len() => {
                    return Err(format!("unknown cgroup index {g}"))
                }
                TimedAction::CpuOffline(c) => {
                    if !online[*c] {
                        return Err(format!("CPU {c} taken offline at {at} ns while offline"));
                    }
                    if online.iter().filter(|o| **o).count() == 1 {
                        return Err(format!(
                            "CPU {c} taken offline at {at} ns: it is the last online CPU"
                        ));
                    }
                    online[*c] = false;
                }
                TimedAction::CpuOnline(c) => {
                    if online[*c] {
                        return Err(format!("CPU {c} brought online at {at} ns while online"));
                    }
                    online[*c] = true;
                }
                TimedAction::CgroupWeight(..) | TimedAction::SysrqS | TimedAction::SysrqD => {}
            }
        }
        Ok(())
    }

    fn validate_task(&self, t: &TaskSpec, nr_cpus: usize) -> Result<(), String> {
        let who = format!("task {:?}", t.name);
        if !(-20..=19).contains(&t.nice) {
            return Err(format!("{who}: nice {} not in -20..=19", t.nice));
        }
        if let Policy::Fifo(p) | Policy::Rr(p) = t.policy {
            if !(1..=99).contains(&p) {
                return Err(format!("{who}: RT priority {p} not in 1..=99"));
            }
        }
        if let Some(m) = &t.cpus {
            check_mask(m, nr_cpus).map_err(|e| format!("{who}: {e}"))?;
        }
        if let Some(g) = t.cgroup {
            if g >= self.cgroups.len() {
                return Err(format!("{who}: unknown cgroup index {g}"));
            }
        }
        self.validate_steps(&t.program, nr_cpus)
            .map_err(|e| format!("{who}: {e}"))
    }

    fn validate_steps(&self, steps: &[Step], nr_cpus: usize) -> Result<(), String> {
        for s in steps {
            match s {
                Step::RunRange { min, max } | Step::SleepRange { min, max } if min > max => {
                    return Err(format!("range {min}..{max} is empty"))
                }
                Step::Timer(i) if *i >= self.timers.len() => {
                    return Err(format!("unknown timer {i}"))
                }
                Step::Suspend(c) | Step::Resume(c) | Step::Signal(c) | Step::Broadcast(c)
                    if *c >= self.conds.len() =>
                {
                    return Err(format!("unknown condition {c}"))
                }
                Step::Wait { cond, mutex }
                    if *cond >= self.conds.len() || *mutex >= self.mutexes.len() =>
                {
                    return Err("unknown condition or mutex".into())
                }
                Step::SignalWait {
                    signal,
                    wait,
                    mutex,
                } if *signal >= self.conds.len()
                    || *wait >= self.conds.len()
                    || *mutex >= self.mutexes.len() =>
                {
                    return Err("unknown condition or mutex".into())
                }
                Step::Lock(m) | Step::Unlock(m) if *m >= self.mutexes.len() => {
                    return Err(format!("unknown mutex {m}"))
                }
                Step::Barrier(b) if *b >= self.barriers.len() => {
                    return Err(format!("unknown barrier {b}"))
                }
                Step::Fork(t) if *t >= self.templates.len() => {
                    return Err(format!("unknown template {t}"))
                }
                Step::SetCpus(m) => check_mask(m, nr_cpus)?,
                Step::SetNice(n) if !(-20..=19).contains(n) => {
                    return Err(format!("nice {n} not in -20..=19"))
                }
                Step::SetCgroup(g) if *g >= self.cgroups.len() => {
                    return Err(format!("unknown cgroup {g}"))
                }
                Step::Loop { body, .. } => self.validate_steps(body, nr_cpus)?,
                _ => {}
            }
        }
        Ok(())
    }
}

fn check_mask(m: &Cpumask, nr_cpus: usize) -> Result<(), String> {
    if m.is_empty() {
        return Err("empty CPU affinity".into());
    }
    match m.iter().find(|c| *c >= nr_cpus) {
        Some(c) => Err(format!("CPU {c} out of range for a {nr_cpus}-CPU machine")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_catches_bad_refs() {
        let mut w = Workload::default();
        w.tasks.push(TaskSpec::new("t", vec![Step::Lock(0)]));
        assert!(w.validate(4).unwrap_err().contains("unknown mutex"));
        w.mutexes.push("m".into());
        assert!(w.validate(4).is_ok());
        w.tasks
            .push(TaskSpec::new("p", vec![]).cpus(Cpumask::of(7)));
        assert!(w.validate(4).unwrap_err().contains("CPU 7 out of range"));
    }

    #[test]
    fn instance_names_follow_rtapp() {
        let t = TaskSpec::new("thread", vec![]).instances(3);
        assert_eq!(t.instance_name(2), "thread-2");
        assert_eq!(TaskSpec::new("solo", vec![]).instance_name(0), "solo");
    }
}
