//! The rt-app file as read, before it becomes a `Workload`: tasks, phases
//! and events with the positions needed for later messages.
//!
//! Reading (`task.rs`, `event.rs`) fills these types and checks each value
//! on its own; lowering (`lower.rs`) resolves cross-references and builds
//! the IR.

use super::error::Pos;
use super::sched::SchedKeys;
use crate::program::Repeat;
use scx_machine::Cpumask;

/// A name used as a reference (mutex, condition, barrier, task...) and where
/// it was written.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Named {
    /// The name.
    pub name: String,
    /// Position of the string value.
    pub pos: Pos,
}

/// One `timer` event.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TimerUse {
    /// The `ref`.
    pub name: Named,
    /// The `period`, µs.
    pub period_us: u64,
    /// `mode` was `absolute`.
    pub absolute: bool,
}

impl TimerUse {
    /// rt-app gives each thread its own timer when the ref starts with
    /// `unique`.
    pub fn unique(&self) -> bool {
        self.name.name.starts_with("unique")
    }
}

/// One event of a phase, durations in µs.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Event {
    /// `run`.
    Run(u64),
    /// `runtime`.
    RunWall(u64),
    /// `sleep`.
    Sleep(u64),
    /// `timer`.
    Timer(TimerUse),
    /// `yield`.
    Yield,
    /// `suspend`: wait on the condition of that name.
    Suspend(Named),
    /// `resume`: wake every waiter of the condition of that name.
    Resume(Named),
    /// `wait`.
    Wait {
        /// The condition (`ref`).
        cond: Named,
        /// The mutex.
        mutex: Named,
    },
    /// `sync`: signal then wait on the same condition.
    Sync {
        /// The condition (`ref`).
        cond: Named,
        /// The mutex.
        mutex: Named,
    },
    /// `signal`.
    Signal(Named),
    /// `broad`.
    Broad(Named),
    /// `lock`.
    Lock(Named),
    /// `unlock`.
    Unlock(Named),
    /// `barrier`.
    Barrier(Named),
    /// `fork`: the task name.
    Fork(Named),
}

/// A `taskgroup` value, normalised (`/a//b/` becomes `/a/b`; the root is
/// `/`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Taskgroup {
    /// Normalised path.
    pub path: String,
    /// Position of the value.
    pub pos: Pos,
}

/// How often a task runs its phases (task-level `loop`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TaskRepeat {
    /// `loop: 0` with phases: the thread starts and leaves at once.
    Never,
    /// A number of times.
    Times(u64),
    /// Until the run ends.
    Forever,
}

/// One phase (or the task object itself when it has no `phases`).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct PhaseDef {
    /// Where the phase object starts.
    pub pos: Pos,
    /// Phase-level `loop`.
    pub repeat: Repeat,
    /// Phase-level `cpus`.
    pub cpus: Option<Cpumask>,
    /// Phase-level `policy`/`priority`.
    pub sched: SchedKeys,
    /// Phase-level `taskgroup` (`""` is no taskgroup).
    pub taskgroup: Option<Taskgroup>,
    /// Events in file order.
    pub events: Vec<Event>,
}

/// One entry of `tasks`.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct TaskDef {
    /// The key: rt-app's task name.
    pub name: String,
    /// Where the key is.
    pub pos: Pos,
    /// `instance`.
    pub instances: u32,
    /// `delay`, µs.
    pub delay_us: u64,
    /// Task-level `loop` over all phases.
    pub repeat: TaskRepeat,
    /// Task-level `cpus`.
    pub cpus: Option<Cpumask>,
    /// Task-level `policy`/`priority`.
    pub sched: SchedKeys,
    /// Task-level `taskgroup`.
    pub taskgroup: Option<Taskgroup>,
    /// Phases in file order.
    pub phases: Vec<PhaseDef>,
}

impl TaskDef {
    /// Every event of every phase, in file order.
    pub fn events(&self) -> impl Iterator<Item = &Event> {
        self.phases.iter().flat_map(|p| p.events.iter())
    }
}
