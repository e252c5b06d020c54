//! Reads a task object and its phases into [`TaskDef`].
//!
//! A task object holds task-only keys (`instance`, `delay`, `phases`), the
//! keys a phase may also hold (`loop`, `cpus`, `policy`, `priority`,
//! `taskgroup`, not-modelled properties) and, when it has no `phases`, its
//! events directly: it is then a single phase whose `loop` repeats the
//! events, and the task runs that phase once (or for ever with no `loop`).
//! With `phases`, the task-level `loop` repeats all phases (default: for
//! ever) and rt-app ignores events written at task level.

use super::error::{Fail, Pos, Res};
use super::event;
use super::json::{Member, Value};
use super::keys::{self, find_unmodelled, EventKind, Unmodelled};
use super::model::{Event, PhaseDef, TaskDef, TaskRepeat, Taskgroup};
use super::sched::{PolicyAt, SchedKeys};
use super::value::quote;
use super::warn::Warnings;
use crate::program::Repeat;
use scx_machine::cpumask::MAX_CPUS;
use scx_machine::Cpumask;

/// Most threads a file may start (Linux's default `pid_max`).
pub(crate) const MAX_THREADS: i64 = 32_768;

/// Reads task `m` (key = task name) for a machine of `nr_cpus` CPUs.
pub(crate) fn read(m: &Member, nr_cpus: usize, w: &mut Warnings) -> Res<TaskDef> {
    let members = m.value.object(&m.key)?;
    let has_phases = members.iter().any(|x| x.key == "phases");
    let mut r = TaskReader {
        def: TaskDef {
            name: m.key.clone(),
            pos: m.key_pos,
            instances: 1,
            delay_us: 0,
            repeat: TaskRepeat::Forever,
            cpus: None,
            sched: SchedKeys::default(),
            taskgroup: None,
            phases: Vec::new(),
        },
        body: PhaseReader::new(m, nr_cpus, Scope::Task { has_phases }),
    };
    for x in members {
        r.member(x, w)?;
    }
    r.finish(m, w)
}

/// Where a set of keys is being read: a task object or a phase object.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scope {
    Task { has_phases: bool },
    Phase,
}

struct TaskReader<'a> {
    def: TaskDef,
    body: PhaseReader<'a>,
}

impl<'a> TaskReader<'a> {
    fn member(&mut self, x: &'a Member, w: &mut Warnings) -> Res<()> {
        let v = &x.value;
        match x.key.as_str() {
            "instance" => {
                self.body.once(x)?;
                let n = v.int_in(
                    0,
                    MAX_THREADS,
                    &format!("a number of threads in 0..={MAX_THREADS}"),
                    &x.key,
                )?;
                self.def.instances = n as u32;
            }
            "delay" => {
                self.body.once(x)?;
                let d = v.int_in(
                    0,
                    i64::from(i32::MAX),
                    "a non-negative delay in microseconds",
                    &x.key,
                )?;
                self.def.delay_us = d as u64;
            }
            "phases" => {
                self.body.once(x)?;
                self.def.phases = phases(x, &self.def.name, self.body.nr_cpus, w)?;
            }
            "prio" => {
                w.once("prio", x.key_pos, || {
                    "\"prio\" is not an rt-app key (rt-app ignores it; \
                    \"priority\" sets the priority); ignored"
                        .into()
                });
            }
            _ => {
                if let Some(u) = find_unmodelled(keys::TASK_UNMODELLED, &x.key) {
                    self.body.once(x)?;
                    return unmodelled(u, x, w);
                }
                self.body.member(x, &self.def.name, w)?;
            }
        }
        Ok(())
    }

    fn finish(mut self, m: &Member, w: &mut Warnings) -> Res<TaskDef> {
        let body = self.body;
        self.def.cpus = body.phase.cpus;
        self.def.sched = body.phase.sched;
        self.def.taskgroup = body.phase.taskgroup.clone();
        if self.def.phases.is_empty() {
            if body.nr_event_keys == 0 {
                return Err(no_events(&m.value, &m.key));
            }
            // The task object is its only phase; its `loop` is that phase's.
            self.def.repeat = match body.loop_value {
                Some(_) => TaskRepeat::Times(1),
                None => TaskRepeat::Forever,
            };
            let repeat = body
                .loop_value
                .map(|(n, pos)| phase_repeat(n, pos, w))
                .unwrap_or(Repeat::Times(1));
            self.def.phases.push(PhaseDef {
                pos: m.value.pos,
                repeat,
                cpus: None,
                sched: SchedKeys::default(),
                taskgroup: None,
                events: body.phase.events,
            });
        } else if let Some((n, pos)) = body.loop_value {
            self.def.repeat = task_repeat(n, pos, w);
        }
        Ok(self.def)
    }
}

fn no_events(v: &Value, key: &str) -> Fail {
    Fail::new(
        v.pos,
        format!(
            "expected at least one event ({}) in {}, got none",
            keys::event_names(),
            quote(key)
        ),
    )
}

/// Reads the `phases` object.
fn phases(x: &Member, task: &str, nr_cpus: usize, w: &mut Warnings) -> Res<Vec<PhaseDef>> {
    let members = x.value.object(&x.key)?;
    if members.is_empty() {
        return Err(x.value.expected("at least one phase", &x.key));
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for p in members {
        if seen.contains(&p.key.as_str()) {
            w.once("duplicate phase", p.key_pos, || {
                "repeated phase names: every phase is kept in file order, as \
                rt-app's workgen renames them (rt-app alone would keep only \
                one)"
                    .into()
            });
        }
        seen.push(&p.key);
        out.push(phase(p, task, nr_cpus, w)?);
    }
    Ok(out)
}

/// Reads one phase object.
fn phase(p: &Member, task: &str, nr_cpus: usize, w: &mut Warnings) -> Res<PhaseDef> {
    let members = p.value.object(&p.key)?;
    let mut r = PhaseReader::new(p, nr_cpus, Scope::Phase);
    for x in members {
        r.member(x, task, w)?;
    }
    if r.nr_event_keys == 0 {
        return Err(no_events(&p.value, &p.key));
    }
    r.phase.repeat = r
        .loop_value
        .map(|(n, pos)| phase_repeat(n, pos, w))
        .unwrap_or(Repeat::Times(1));
    Ok(r.phase)
}

/// Phase-level `loop`: rt-app stops a phase when its iteration count
/// *equals* the loop value, so 0 and negative values never stop.
fn phase_repeat(n: i64, pos: Pos, w: &mut Warnings) -> Repeat {
    if n >= 1 {
        return Repeat::Times(n as u64);
    }
    if n != -1 {
        w.note(
            pos,
            format!("\"loop\" {n} in a phase makes rt-app repeat it for ever"),
        );
    }
    Repeat::Forever
}

/// Task-level `loop` over all phases: 0 runs no phase, negative values
/// loop for ever.
fn task_repeat(n: i64, pos: Pos, w: &mut Warnings) -> TaskRepeat {
    match n {
        1.. => TaskRepeat::Times(n as u64),
        0 => {
            w.note(
                pos,
                "task-level \"loop\" 0: rt-app starts this task but runs none of its phases",
            );
            TaskRepeat::Never
        }
        -1 => TaskRepeat::Forever,
        _ => {
            w.note(
                pos,
                format!("task-level \"loop\" {n} makes rt-app repeat the phases for ever"),
            );
            TaskRepeat::Forever
        }
    }
}

fn unmodelled(u: &Unmodelled, x: &Member, w: &mut Warnings) -> Res<()> {
    u.ty.check(&x.value, &x.key)?;
    w.once(u.key, x.key_pos, || {
        format!("{} is not modelled: {}; ignored", quote(u.key), u.why)
    });
    Ok(())
}

/// Reads the keys a phase may hold; also used for the common keys of a
/// task object.
struct PhaseReader<'a> {
    owner: &'a str,
    nr_cpus: usize,
    scope: Scope,
    phase: PhaseDef,
    loop_value: Option<(i64, Pos)>,
    nr_event_keys: usize,
    seen: Vec<&'a str>,
    seen_events: Vec<&'a str>,
}

impl<'a> PhaseReader<'a> {
    fn new(owner: &'a Member, nr_cpus: usize, scope: Scope) -> PhaseReader<'a> {
        PhaseReader {
            owner: &owner.key,
            nr_cpus,
            scope,
            phase: PhaseDef {
                pos: owner.value.pos,
                repeat: Repeat::Times(1),
                cpus: None,
                sched: SchedKeys::default(),
                taskgroup: None,
                events: Vec::new(),
            },
            loop_value: None,
            nr_event_keys: 0,
            seen: Vec::new(),
            seen_events: Vec::new(),
        }
    }

    /// Fails if property `x` was already given in this object.
    fn once(&mut self, x: &'a Member) -> Res<()> {
        if self.seen.contains(&x.key.as_str()) {
            return Err(Fail::new(
                x.key_pos,
                format!(
                    "expected {} only once in {}, got it again",
                    quote(&x.key),
                    quote(self.owner)
                ),
            ));
        }
        self.seen.push(&x.key);
        Ok(())
    }

    fn member(&mut self, x: &'a Member, task: &str, w: &mut Warnings) -> Res<()> {
        let v = &x.value;
        let key = x.key.as_str();
        if let Some(kind) = EventKind::classify(key) {
            return self.event(kind, x, task, w);
        }
        self.once(x)?;
        match key {
            "loop" => {
                let n = v.int_in(
                    i64::from(i32::MIN),
                    i64::from(i32::MAX),
                    "a loop count (-1 for ever)",
                    key,
                )?;
                self.loop_value = Some((n, v.pos));
            }
            "cpus" => self.phase.cpus = Some(cpus(v, key, self.nr_cpus)?),
            "policy" => self.phase.sched.policy = Some(PolicyAt::parse(v, key)?),
            "priority" => {
                let p = v.int_in(
                    i64::from(i32::MIN),
                    i64::from(i32::MAX),
                    "an integer priority",
                    key,
                )?;
                self.phase.sched.priority = Some((p, v.pos));
            }
            "taskgroup" => self.phase.taskgroup = taskgroup(v, key)?,
            _ => match find_unmodelled(keys::PROPERTY_UNMODELLED, key) {
                Some(u) => unmodelled(u, x, w)?,
                None => return Err(self.unknown(x)),
            },
        }
        Ok(())
    }

    fn event(&mut self, kind: EventKind, x: &'a Member, task: &str, w: &mut Warnings) -> Res<()> {
        self.nr_event_keys += 1;
        if self.seen_events.contains(&x.key.as_str()) {
            w.once("duplicate event", x.key_pos, || {
                "repeated event keys: every event is kept in file order, as \
                rt-app's workgen renames them (rt-app alone would keep only \
                one)"
                    .into()
            });
        }
        self.seen_events.push(&x.key);
        if self.scope == (Scope::Task { has_phases: true }) {
            let name = kind.name();
            w.once(&format!("task-level {name}"), x.key_pos, || {
                ignored_task_event(kind)
            });
            return Ok(());
        }
        let ev: Option<Event> = event::parse(kind, x, task, w)?;
        self.phase.events.extend(ev);
        Ok(())
    }

    fn unknown(&self, x: &Member) -> Fail {
        let msg = match (self.scope, x.key.as_str()) {
            (Scope::Phase, "instance" | "delay" | "phases") => {
                format!(
                    "expected an event or a phase property, got the task-level key {}",
                    quote(&x.key)
                )
            }
            (_, "nice") => "expected an event or a property, got \"nice\", which rt-app \
            does not know (it sets the nice value through \"priority\")"
                .to_string(),
            _ => format!(
                "expected an event ({}) or a property, got unknown key {}",
                keys::event_names(),
                quote(&x.key)
            ),
        };
        Fail::new(x.key_pos, msg)
    }
}

fn ignored_task_event(kind: EventKind) -> String {
    if kind == EventKind::RunTime {
        "task-level \"runtime\" next to \"phases\" is rt-app's \
        legacy SCHED_DEADLINE runtime, not an event; ignored"
            .into()
    } else {
        format!(
            "task-level \"{}\" events next to \"phases\" are ignored by rt-app; ignored",
            kind.name()
        )
    }
}

/// Reads a `cpus` array, checking each CPU against the machine.
pub(crate) fn cpus(v: &Value, key: &str, nr_cpus: usize) -> Res<Cpumask> {
    let items = v.array(key)?;
    if items.is_empty() {
        return Err(v.expected("at least one CPU", key));
    }
    let limit = nr_cpus.min(MAX_CPUS) as i64;
    let what = format!("a CPU number in 0..{limit} on this {nr_cpus}-CPU machine");
    let mut mask = Cpumask::new();
    for it in items {
        let c = it.int_in(0, limit - 1, &what, key)?;
        mask.set(c as usize);
    }
    Ok(mask)
}

/// Reads a `taskgroup` path; `""` means none.
pub(crate) fn taskgroup(v: &Value, key: &str) -> Res<Option<Taskgroup>> {
    let what = "a taskgroup path starting with '/'";
    let s = v.string(what, key)?;
    if s.is_empty() {
        return Ok(None);
    }
    if !s.starts_with('/') {
        return Err(v.expected(what, key));
    }
    let parts: Vec<&str> = s.split('/').filter(|p| !p.is_empty()).collect();
    Ok(Some(Taskgroup {
        path: format!("/{}", parts.join("/")),
        pos: v.pos,
    }))
}
