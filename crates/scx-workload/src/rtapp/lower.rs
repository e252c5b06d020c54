//! Turns the file as read ([`Doc`]) into scxsim's [`Workload`].
//!
//! Per task definition:
//!
//! * Its program is built once: each phase is its attribute changes
//!   (affinity, policy/nice, cgroup) followed by its events, wrapped in a
//!   `Loop` when the phase repeats; the phases are wrapped in a `Loop` when
//!   the task repeats them. rt-app applies a phase's attributes before its
//!   first event, so the attributes in force when the first phase starts
//!   become the `TaskSpec`'s own, and a later phase only gets a `Set*` step
//!   for an attribute that can differ on entry (rt-app's affinity falls back
//!   to the task's `cpus` in a phase without one; policy and taskgroup stay
//!   as they are).
//! * One `TaskSpec` per thread, named as rt-app names it:
//!   `{task}-{n}` with `n` counting threads across the whole file.
//! * If some `fork` names it, a template with the same program.
//!
//! When a task's phases end, rt-app switches the thread back to
//! `SCHED_OTHER` before it exits; that is a final `SetPolicy(Normal)`.

use std::collections::HashMap;

use super::doc::Doc;
use super::error::{Fail, Pos, Res};
use super::model::{Event, TaskDef, TaskRepeat, Taskgroup};
use super::resources::{Barriers, Cgroups, Names, TimerScope, Timers};
use super::sched::{self, allows_taskgroup, SchedState, SchedTarget};
use super::value::quote;
use super::warn::Warnings;
use crate::program::*;
use scx_machine::clock::NSEC_PER_USEC;
use scx_machine::Cpumask;

/// Longest thread name `pthread_setname_np()` accepts.
const COMM_MAX: usize = 15;

/// Builds the workload of `doc` for a machine of `nr_cpus` CPUs; `name` is
/// the workload's name.
pub(crate) fn lower(doc: &Doc, name: &str, nr_cpus: usize, w: &mut Warnings) -> Res<Workload> {
    let mut l = Lowering {
        doc,
        all: Cpumask::first_n(nr_cpus),
        forks: fork_targets(doc)?,
        conds: Names::default(),
        mutexes: Names::default(),
        barriers: Barriers::default(),
        timers: Timers::default(),
        cgroups: Cgroups::default(),
    };
    let mut tasks = Vec::new();
    let mut templates: Vec<Option<TaskSpec>> = vec![None; l.forks.len()];
    let mut thread = 0usize;
    for (i, def) in doc.tasks.iter().enumerate() {
        let spec = l.task(i, def, w)?;
        for _ in 0..def.instances {
            tasks.push(instance(&spec, def.pos, thread, w));
            thread += 1;
        }
        if let Some(&t) = l.forks.get(&def.name) {
            templates[t] = Some(template(spec, def, w));
        }
    }
    Ok(Workload {
        name: name.to_string(),
        description: format!("rt-app workload {name}"),
        tasks,
        templates: templates.into_iter().flatten().collect(),
        conds: l.conds.into_vec(),
        mutexes: l.mutexes.into_vec(),
        barriers: l.barriers.into_specs(),
        timers: l.timers.into_specs(w),
        cgroups: l.cgroups.into_specs(),
        actions: Vec::new(),
        duration: doc.global.duration,
        warnings: Vec::new(),
    })
}

/// The tasks some `fork` names, numbered in order of first mention.
fn fork_targets(doc: &Doc) -> Res<HashMap<String, TemplateId>> {
    let mut ids = HashMap::new();
    for ev in doc.tasks.iter().flat_map(|d| d.events()) {
        let Event::Fork(target) = ev else { continue };
        if !doc.tasks.iter().any(|d| d.name == target.name) {
            let names: Vec<String> = doc.tasks.iter().map(|d| quote(&d.name)).collect();
            return Err(Fail::new(
                target.pos,
                format!(
                    "expected the name of a task to fork (one of {}), got {}",
                    names.join(", "),
                    quote(&target.name)
                ),
            ));
        }
        let next = ids.len();
        ids.entry(target.name.clone()).or_insert(next);
    }
    Ok(ids)
}

/// Thread `n` of the file, a copy of `spec` (task key at `pos`) named as
/// rt-app names it.
fn instance(spec: &TaskSpec, pos: Pos, n: usize, w: &mut Warnings) -> TaskSpec {
    let mut t = spec.clone();
    let name = format!("{}-{n}", spec.name);
    t.name = if name.len() > COMM_MAX {
        w.once(&format!("long name {}", spec.name), pos, || {
            format!(
                "thread name {} is longer than {COMM_MAX} bytes: rt-app's \
                pthread_setname_np() fails and the thread keeps the name \
                \"rt-app\", as here",
                quote(&name)
            )
        });
        "rt-app".to_string()
    } else {
        name
    };
    t
}

/// The template forked threads of `def` start from.
fn template(mut spec: TaskSpec, def: &TaskDef, w: &mut Warnings) -> TaskSpec {
    if def.delay_us > 0 {
        w.note(
            def.pos,
            format!(
                "task {} is forked and has a \"delay\": rt-app counts it \
                from the start of the run, not from the fork; forked \
                threads start at once here",
                quote(&def.name)
            ),
        );
    }
    spec.start_delay = 0;
    spec
}

/// Where a phase moves the thread's cgroup.
#[derive(Clone, Copy, PartialEq, Eq)]
enum CgTarget {
    Keep,
    Root(Pos),
    Group(CgroupId),
}

/// The attributes of a thread between events.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Attrs {
    cpus: Cpumask,
    sched: SchedState,
    cgroup: Option<CgroupId>,
}

/// What entering a phase sets.
#[derive(Clone, Copy)]
struct Targets {
    /// Affinity: the phase's `cpus`, else the task's, else every CPU.
    cpus: Cpumask,
    /// True if that affinity was written in the file.
    cpus_given: bool,
    sched: Option<SchedTarget>,
    cgroup: CgTarget,
}

impl Attrs {
    fn enter(self, t: &Targets) -> Attrs {
        Attrs {
            cpus: t.cpus,
            sched: t.sched.map_or(self.sched, |s| self.sched.apply(s)),
            cgroup: match t.cgroup {
                CgTarget::Keep => self.cgroup,
                CgTarget::Root(_) => None,
                CgTarget::Group(g) => Some(g),
            },
        }
    }
}

/// Per phase, its targets and every state it can be entered in (except
/// the very first entry, whose changes become the `TaskSpec`'s own).
struct Plan {
    targets: Vec<Targets>,
    entries: Vec<Vec<Attrs>>,
    start: Attrs,
    end: Attrs,
}

struct Lowering<'d> {
    doc: &'d Doc,
    all: Cpumask,
    forks: HashMap<String, TemplateId>,
    conds: Names,
    mutexes: Names,
    barriers: Barriers,
    timers: Timers,
    cgroups: Cgroups,
}

impl Lowering<'_> {
    /// The spec shared by every thread of task `i` (named after the task).
    fn task(&mut self, i: usize, def: &TaskDef, w: &mut Warnings) -> Res<TaskSpec> {
        let initial = sched::task_target(&def.sched, self.doc.global.default_policy, w)?;
        let tg = def.taskgroup.as_ref();
        check_taskgroup(
            initial.policy,
            tg.map(|t| t.pos),
            tg.map_or(def.pos, |t| t.pos),
        )?;
        let start = Attrs {
            cpus: def.cpus.unwrap_or(self.all),
            sched: SchedState {
                policy: initial.policy,
                nice: initial.nice.unwrap_or(0),
            },
            cgroup: tg.and_then(|t| self.cgroups.id(&t.path)),
        };
        let plan = self.plan(def, start, w)?;
        let first = &plan.targets[0];
        let runs = def.repeat != TaskRepeat::Never;
        let attrs = if runs {
            plan.start.enter(first)
        } else {
            plan.start
        };
        let program = self.program(i, def, &plan, w);
        Ok(TaskSpec {
            name: def.name.clone(),
            instances: 1,
            policy: attrs.sched.policy,
            nice: attrs.sched.nice,
            cpus: (runs && first.cpus_given).then_some(attrs.cpus),
            cgroup: attrs.cgroup,
            start_delay: def.delay_us * NSEC_PER_USEC,
            same_process: true,
            program,
        })
    }

    fn cg_target(&mut self, tg: Option<&Taskgroup>) -> CgTarget {
        match tg {
            None => CgTarget::Keep,
            Some(t) => match self.cgroups.id(&t.path) {
                None => CgTarget::Root(t.pos),
                Some(g) => CgTarget::Group(g),
            },
        }
    }

    /// Resolves each phase's targets in file order (as rt-app does, once),
    /// and records the states each phase is entered in over two passes.
    fn plan(&mut self, def: &TaskDef, start: Attrs, w: &mut Warnings) -> Res<Plan> {
        let mut targets = Vec::new();
        let mut entries = vec![Vec::new(); def.phases.len()];
        let mut st = start;
        let mut tg_pos = def.taskgroup.as_ref().map(|t| t.pos);
        for (k, p) in def.phases.iter().enumerate() {
            let t = Targets {
                cpus: p.cpus.or(def.cpus).unwrap_or(self.all),
                cpus_given: p.cpus.or(def.cpus).is_some(),
                sched: sched::phase_target(&p.sched, st.sched, w)?,
                cgroup: self.cg_target(p.taskgroup.as_ref()),
            };
            if k > 0 {
                entries[k].push(st);
            }
            st = st.enter(&t);
            tg_pos = p.taskgroup.as_ref().map(|t| t.pos).or(tg_pos);
            let blame = p
                .taskgroup
                .as_ref()
                .map(|t| t.pos)
                .or(p.sched.policy.map(|x| x.pos))
                .or(p.sched.priority.map(|x| x.1))
                .unwrap_or(p.pos);
            check_taskgroup(st.sched.policy, tg_pos, blame)?;
            targets.push(t);
        }
        let end = st;
        if matches!(def.repeat, TaskRepeat::Forever | TaskRepeat::Times(2..)) {
            for (k, t) in targets.iter().enumerate() {
                entries[k].push(st);
                st = st.enter(t);
            }
        }
        Ok(Plan {
            targets,
            entries,
            start,
            end,
        })
    }

    fn program(&mut self, i: usize, def: &TaskDef, plan: &Plan, w: &mut Warnings) -> Vec<Step> {
        let mut steps = Vec::new();
        let mut events = 0;
        for (k, p) in def.phases.iter().enumerate() {
            steps.extend(self.entry_steps(plan, k, w));
            let mut body = Vec::new();
            for ev in &p.events {
                body.extend(self.event(i, def, ev));
            }
            if body.is_empty() {
                w.note(
                    p.pos,
                    "this phase has no event scxsim models: skipped (rt-app \
                    would spend CPU time in it)",
                );
            }
            events += body.len();
            steps.extend(wrap(p.repeat, body));
        }
        let mut program = match def.repeat {
            _ if events == 0 => Vec::new(),
            TaskRepeat::Never => Vec::new(),
            TaskRepeat::Times(n) => wrap(Repeat::Times(n), steps),
            TaskRepeat::Forever => wrap(Repeat::Forever, steps),
        };
        let runs = def.repeat != TaskRepeat::Never;
        let finite = def.repeat != TaskRepeat::Forever
            && (!runs || def.phases.iter().all(|p| p.repeat != Repeat::Forever));
        let last = if runs { plan.end } else { plan.start };
        if finite && last.sched.policy != Policy::Normal {
            program.push(Step::SetPolicy(Policy::Normal));
        }
        program
    }

    /// The `Set*` steps entering phase `k` needs.
    fn entry_steps(&mut self, plan: &Plan, k: usize, w: &mut Warnings) -> Vec<Step> {
        let t = &plan.targets[k];
        let entries = &plan.entries[k];
        let differs = |f: &dyn Fn(&Attrs) -> bool| entries.iter().any(f);
        let mut out = Vec::new();
        if differs(&|e| e.cpus != t.cpus) {
            out.push(Step::SetCpus(t.cpus));
        }
        if let Some(s) = t.sched {
            if differs(&|e| e.sched.policy != s.policy) {
                out.push(Step::SetPolicy(s.policy));
            }
            if let Some(n) = s.nice.filter(|n| differs(&|e| e.sched.nice != *n)) {
                out.push(Step::SetNice(n));
            }
        }
        match t.cgroup {
            CgTarget::Group(g) if differs(&|e| e.cgroup != Some(g)) => out.push(Step::SetCgroup(g)),
            CgTarget::Root(pos) => {
                if let Some(g) = entries.iter().find_map(|e| e.cgroup) {
                    let path = self.cgroups.path(g).to_string();
                    w.note(
                        pos,
                        format!(
                            "moving back to the root taskgroup is not modelled (the IR \
                            has no step for it): the task stays in {}",
                            quote(&path)
                        ),
                    );
                }
            }
            _ => {}
        }
        out
    }

    /// The steps of one event of task `i`.
    fn event(&mut self, i: usize, def: &TaskDef, ev: &Event) -> Vec<Step> {
        let step = match ev {
            Event::Run(us) => Step::Run(us * NSEC_PER_USEC),
            Event::RunWall(us) => Step::RunWall(us * NSEC_PER_USEC),
            Event::Sleep(us) => Step::Sleep(us * NSEC_PER_USEC),
            Event::Timer(t) => {
                let scope = if t.unique() {
                    TimerScope::Task(i)
                } else {
                    TimerScope::Global
                };
                Step::Timer(self.timers.id(scope, t))
            }
            Event::Yield => Step::Yield,
            Event::Suspend(c) => {
                return self.guarded(&c.name, |cond, mutex| Step::Wait { cond, mutex })
            }
            Event::Resume(c) => return self.guarded(&c.name, |cond, _| Step::Broadcast(cond)),
            Event::Wait { cond, mutex } => Step::Wait {
                cond: self.conds.id(&cond.name),
                mutex: self.mutexes.id(&mutex.name),
            },
            Event::Sync { cond, mutex } => {
                let c = self.conds.id(&cond.name);
                Step::SignalWait {
                    signal: c,
                    wait: c,
                    mutex: self.mutexes.id(&mutex.name),
                }
            }
            Event::Signal(c) => Step::Signal(self.conds.id(&c.name)),
            Event::Broad(c) => Step::Broadcast(self.conds.id(&c.name)),
            Event::Lock(m) => Step::Lock(self.mutexes.id(&m.name)),
            Event::Unlock(m) => Step::Unlock(self.mutexes.id(&m.name)),
            Event::Barrier(b) => Step::Barrier(self.barriers.reference(&b.name, def.instances)),
            Event::Fork(t) => Step::Fork(self.forks[&t.name]),
        };
        vec![step]
    }

    /// rt-app's `suspend`/`resume`: the condition `name` used under the
    /// mutex of the same name, so a `resume` with no waiter is lost.
    fn guarded(&mut self, name: &str, inner: impl Fn(CondId, MutexId) -> Step) -> Vec<Step> {
        let cond = self.conds.id(name);
        let mutex = self.mutexes.id(name);
        vec![Step::Lock(mutex), inner(cond, mutex), Step::Unlock(mutex)]
    }
}

/// `steps` repeated `repeat` times (inline when once).
fn wrap(repeat: Repeat, steps: Vec<Step>) -> Vec<Step> {
    match repeat {
        _ if steps.is_empty() => steps,
        Repeat::Times(1) => steps,
        repeat => vec![Step::Loop {
            repeat,
            body: steps,
        }],
    }
}

/// rt-app refuses a taskgroup for a thread whose policy is not
/// `SCHED_OTHER`/`SCHED_IDLE` (scxsim also allows its `SCHED_BATCH`).
fn check_taskgroup(policy: Policy, taskgroup: Option<Pos>, blame: Pos) -> Res<()> {
    if taskgroup.is_none() || allows_taskgroup(policy) {
        return Ok(());
    }
    Err(Fail::new(
        blame,
        format!(
            "expected SCHED_OTHER or SCHED_IDLE for a task in a \
            taskgroup (rt-app refuses other policies there), got {}",
            policy.name()
        ),
    ))
}
