//! What every sink needs to know about tasks and CPUs while it reads the
//! event stream: a task table built from [`Event::TaskNew`] and friends,
//! which task each CPU is running, and naming helpers (DSQ names, task
//! groups, load weights).
//!
//! Sinks call [`TaskTable::apply`] *after* handling an event, so while they
//! handle it the table still shows the state before the event (e.g. the old
//! `comm` of a [`Event::TaskRename`]).
//!
//! ## Which CPU an event happened on
//!
//! Most events carry their CPU. The others are attributed by
//! [`TaskTable::event_cpu`]:
//!
//! * `TaskExit`, `TaskRename`, `TaskPrio`, `TaskClass`: the CPU the task
//!   last ran on (an exiting or exec'ing task is running there);
//! * `TaskNew`: the parent's CPU when the parent is running (a fork);
//! * everything else (`Migrate`, `DsqDepth`, `ScxExit`, `ScxState`, `Log`,
//!   and the out-of-band work of boot and workload creation): the CPU of
//!   the latest event that named one ("context CPU"). `sched_migrate_task`
//!   from `try_to_wake_up()` follows the `sched_waking` of the same wakeup,
//!   and from sched_ext dispatch follows the `ops.dispatch()` call, so this
//!   is the CPU the kernel was executing on.

use crate::{Class, Event, Tid};

/// One task as the event stream describes it.
#[derive(Clone, Debug, PartialEq)]
pub struct TaskInfo {
    /// Process id (0 for idle tasks).
    pub pid: u32,
    /// Thread group id.
    pub tgid: u32,
    /// Parent task, if forked.
    pub parent: Option<Tid>,
    /// Current `comm`.
    pub comm: String,
    /// Kernel prio.
    pub prio: i32,
    /// Kernel thread.
    pub kthread: bool,
    /// For idle tasks, their CPU.
    pub idle_cpu: Option<u32>,
    /// Scheduling class, once a [`Event::TaskClass`] named it.
    pub class: Option<Class>,
    /// `task_cpu()`: the CPU it last ran on or was queued for.
    pub cpu: u32,
    /// Called `do_exit()`.
    pub exited: bool,
}

impl TaskInfo {
    /// True for the per-CPU idle tasks (`swapper/N`).
    pub fn is_idle(&self) -> bool {
        self.idle_cpu.is_some()
    }

    /// True for RT and stop-class tasks (kernel prio below 100), which the
    /// fair-share model leaves out.
    pub fn is_rt(&self) -> bool {
        self.prio < 100 || matches!(self.class, Some(Class::Rt | Class::Stop))
    }
}

/// The task table and per-CPU state.
#[derive(Clone, Debug, Default)]
pub struct TaskTable {
    tasks: Vec<Option<TaskInfo>>,
    curr: Vec<Option<Tid>>,
    idle: Vec<Option<Tid>>,
    ctx_cpu: u32,
}

impl TaskTable {
    /// An empty table.
    pub fn new() -> TaskTable {
        TaskTable::default()
    }

    /// The task `tid`, if announced.
    pub fn get(&self, tid: Tid) -> Option<&TaskInfo> {
        self.tasks.get(tid as usize).and_then(Option::as_ref)
    }

    /// Every announced task with its id, in id order.
    pub fn iter(&self) -> impl Iterator<Item = (Tid, &TaskInfo)> {
        self.tasks
            .iter()
            .enumerate()
            .filter_map(|(i, t)| t.as_ref().map(|t| (i as Tid, t)))
    }

    /// `pid` of a task (0 if unknown).
    pub fn pid(&self, tid: Tid) -> u32 {
        self.get(tid).map_or(0, |t| t.pid)
    }

    /// `comm` of a task (`<...>` if unknown, as trace-cmd prints it).
    pub fn comm(&self, tid: Tid) -> &str {
        self.get(tid).map_or("<...>", |t| t.comm.as_str())
    }

    /// Kernel prio of a task (120 if unknown).
    pub fn prio(&self, tid: Tid) -> i32 {
        self.get(tid).map_or(120, |t| t.prio)
    }

    /// True if `tid` is an idle task.
    pub fn is_idle(&self, tid: Tid) -> bool {
        self.get(tid).is_some_and(TaskInfo::is_idle)
    }

    /// Number of CPUs (one idle task each).
    pub fn nr_cpus(&self) -> usize {
        self.idle.len()
    }

    /// The task running on `cpu` (its idle task until the first switch).
    pub fn curr(&self, cpu: u32) -> Option<Tid> {
        let c = cpu as usize;
        self.curr
            .get(c)
            .copied()
            .flatten()
            .or_else(|| self.idle.get(c).copied().flatten())
    }

    /// The CPU `tid` is running on, if it is running.
    pub fn running_on(&self, tid: Tid) -> Option<u32> {
        let cpu = self.get(tid)?.cpu;
        (self.curr(cpu) == Some(tid)).then_some(cpu)
    }

    /// The CPU `ev` happened on (see the module doc).
    pub fn event_cpu(&self, ev: &Event) -> u32 {
        if let Some(c) = own_cpu(ev) {
            return c;
        }
        match ev {
            Event::TaskExit { tid }
            | Event::TaskRename { tid, .. }
            | Event::TaskPrio { tid, .. }
            | Event::TaskClass { tid, .. } => self.get(*tid).map_or(self.ctx_cpu, |t| t.cpu),
            Event::TaskNew {
                parent: Some(p), ..
            } => self.running_on(*p).unwrap_or(self.ctx_cpu),
            _ => self.ctx_cpu,
        }
    }

    /// Updates the table with `ev` (call after handling it).
    pub fn apply(&mut self, ev: &Event) {
        // The frequent sched_ext events only move the context CPU.
        if let Event::OpCall { cpu, .. }
        | Event::DispatchRound { cpu, .. }
        | Event::Kick { cpu, .. }
        | Event::KickDelivered { cpu, .. } = ev
        {
            self.ctx_cpu = *cpu;
            return;
        }
        let cpu = self.event_cpu(ev);
        if own_cpu(ev).is_some() || matches!(ev, Event::TaskNew { .. }) {
            self.ctx_cpu = cpu;
        }
        match ev {
            Event::TaskNew {
                tid,
                pid,
                tgid,
                parent,
                comm,
                prio,
                kthread,
                idle_cpu,
            } => {
                let info = TaskInfo {
                    pid: *pid,
                    tgid: *tgid,
                    parent: *parent,
                    comm: comm.clone(),
                    prio: *prio,
                    kthread: *kthread,
                    idle_cpu: *idle_cpu,
                    class: idle_cpu.map(|_| Class::Idle),
                    cpu: idle_cpu.unwrap_or(cpu),
                    exited: false,
                };
                if let Some(c) = idle_cpu {
                    set_at(&mut self.idle, *c as usize, *tid);
                }
                set_at(&mut self.tasks, *tid as usize, info);
            }
            Event::TaskRename { tid, comm } => self.with(*tid, |t| t.comm = comm.clone()),
            Event::TaskPrio { tid, prio } => self.with(*tid, |t| t.prio = *prio),
            Event::TaskClass { tid, class } => self.with(*tid, |t| t.class = Some(*class)),
            Event::TaskExit { tid } => self.with(*tid, |t| t.exited = true),
            Event::Switch { cpu, next, .. } => {
                set_at(&mut self.curr, *cpu as usize, *next);
                let c = *cpu;
                self.with(*next, |t| t.cpu = c);
            }
            Event::Wakeup {
                tid, target_cpu, ..
            } => {
                let c = *target_cpu;
                self.with(*tid, |t| t.cpu = c);
            }
            Event::Migrate { tid, to, .. } => {
                let c = *to;
                self.with(*tid, |t| t.cpu = c);
            }
            _ => {}
        }
    }

    fn with(&mut self, tid: Tid, f: impl FnOnce(&mut TaskInfo)) {
        if let Some(Some(t)) = self.tasks.get_mut(tid as usize) {
            f(t);
        }
    }
}

/// Stores `v` at index `i`, growing the vector with `None`s.
fn set_at<T>(v: &mut Vec<Option<T>>, i: usize, x: impl Into<T>) {
    if v.len() <= i {
        v.resize_with(i + 1, || None);
    }
    v[i] = Some(x.into());
}

/// The CPU field of events that carry one.
pub fn own_cpu(ev: &Event) -> Option<u32> {
    match ev {
        Event::Switch { cpu, .. }
        | Event::Waking { cpu, .. }
        | Event::Wakeup { cpu, .. }
        | Event::OpCall { cpu, .. }
        | Event::Kick { cpu, .. }
        | Event::KickDelivered { cpu, .. }
        | Event::DispatchRound { cpu, .. }
        | Event::WatchdogCheck { cpu }
        | Event::DumpLine { cpu, .. }
        | Event::CpuStuck { cpu, .. }
        | Event::FastForward { cpu, .. } => Some(*cpu),
        _ => None,
    }
}

/// `SCX_DSQ_FLAG_BUILTIN`.
const DSQ_BUILTIN: u64 = 1 << 63;
/// `SCX_DSQ_FLAG_LOCAL_ON`.
const DSQ_LOCAL_ON: u64 = 1 << 62;

/// A DSQ id as people say it: `global`, `local`, `local/cpu3`, or the
/// user DSQ's number (`dsq 0`), else `builtin 0x...`. `SCX_DSQ_GLOBAL |
/// node << 32` reads `global/nodeN` (a per-node global DSQ, should the
/// kernel model name them apart).
pub fn dsq_name(id: u64) -> String {
    if id & DSQ_BUILTIN == 0 {
        return format!("dsq {id}");
    }
    if id & DSQ_LOCAL_ON != 0 {
        return format!("local/cpu{}", id & 0xffff_ffff);
    }
    let (node, low) = ((id & !DSQ_BUILTIN) >> 32, id & 0xffff_ffff);
    match (node, low) {
        (0, 1) => "global".into(),
        (0, 2) => "local".into(),
        (n, 1) => format!("global/node{n}"),
        _ => format!("builtin {id:#x}"),
    }
}

/// The group a task belongs to for per-group statistics: its `comm` up to
/// the first `/` or `:`, without a trailing `-N`, `_N` or number — so
/// `kworker/u8:1` → `kworker`, `sh-0` → `sh`, `worker12` → `worker`,
/// `migration/1` → `migration`. A name that would become empty stays whole.
pub fn task_group(comm: &str) -> &str {
    let head = comm.split(['/', ':']).next().unwrap_or(comm);
    let trimmed = head.trim_end_matches(|c: char| c.is_ascii_digit());
    let trimmed = trimmed.trim_end_matches(['-', '_', '.']);
    if trimmed.is_empty() {
        comm
    } else {
        trimmed
    }
}

/// The kernel's `sched_prio_to_weight[]` (nice -20 … 19).
const PRIO_TO_WEIGHT: [u32; 40] = [
    88761, 71755, 56483, 46273, 36291, 29154, 23254, 18705, 14949, 11916, 9548, 7620, 6100, 4904,
    3906, 3121, 2501, 1991, 1586, 1277, 1024, 820, 655, 526, 423, 335, 272, 215, 172, 137, 110, 87,
    70, 56, 45, 36, 29, 23, 18, 15,
];

/// CFS load weight of a task of kernel prio `prio` (100..=139 ↔ nice
/// -20..=19); RT prios (below 100) get nice -20's weight. `SCHED_IDLE`
/// tasks (weight 3) are not distinguishable by prio and get nice 0's.
pub fn prio_to_weight(prio: i32) -> u32 {
    PRIO_TO_WEIGHT[(prio - 100).clamp(0, 39) as usize]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrevState;

    fn new_task(tid: Tid, pid: u32, comm: &str, idle_cpu: Option<u32>) -> Event {
        Event::TaskNew {
            tid,
            pid,
            tgid: pid,
            parent: None,
            comm: comm.into(),
            prio: 120,
            kthread: false,
            idle_cpu,
        }
    }

    #[test]
    fn groups_and_dsq_names() {
        assert_eq!(task_group("kworker/u8:1"), "kworker");
        assert_eq!(task_group("sh-0"), "sh");
        assert_eq!(task_group("worker12"), "worker");
        assert_eq!(task_group("usleep"), "usleep");
        assert_eq!(task_group("42"), "42");
        assert_eq!(dsq_name(0x8000000000000001), "global");
        assert_eq!(dsq_name(0xC000000000000003), "local/cpu3");
        assert_eq!(dsq_name(7), "dsq 7");
        assert_eq!(dsq_name(0x8000000100000001), "global/node1");
        assert_eq!(prio_to_weight(120), 1024);
        assert_eq!(prio_to_weight(100), 88761);
        assert_eq!(prio_to_weight(139), 15);
    }

    #[test]
    fn tracks_curr_and_cpus() {
        let mut t = TaskTable::new();
        t.apply(&new_task(0, 0, "swapper/0", Some(0)));
        t.apply(&new_task(1, 0, "swapper/1", Some(1)));
        t.apply(&new_task(2, 10, "sh", None));
        assert_eq!(t.nr_cpus(), 2);
        assert_eq!(t.curr(1), Some(1));
        t.apply(&Event::Wakeup {
            cpu: 0,
            tid: 2,
            target_cpu: 1,
            new: true,
        });
        t.apply(&Event::Switch {
            cpu: 1,
            prev: 1,
            prev_state: PrevState::Running,
            next: 2,
        });
        assert_eq!(t.curr(1), Some(2));
        assert_eq!(t.running_on(2), Some(1));
        assert_eq!(t.event_cpu(&Event::TaskExit { tid: 2 }), 1);
        // A migrate is attributed to the CPU of the latest event with one.
        t.apply(&Event::Waking { cpu: 0, tid: 2 });
        assert_eq!(
            t.event_cpu(&Event::Migrate {
                tid: 2,
                from: 1,
                to: 0
            }),
            0
        );
    }
}
