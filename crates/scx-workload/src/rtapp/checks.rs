//! Warnings about files that rt-app accepts but that probably do not do
//! what their author meant: threads that can never wake, barriers that can
//! never open, forks rt-app would abort, phases that are never reached.
//!
//! None of these changes the workload; they only add to
//! `Workload::warnings`.

use std::collections::HashMap;

use super::doc::Doc;
use super::error::Pos;
use super::model::{Event, Named, TaskDef, TaskRepeat};
use super::value::quote;
use super::warn::Warnings;
use crate::program::Repeat;

/// rt-app's limit of forks per forked task.
const FORKS_LIMIT: u32 = 1024;
/// rt-app's default limit of distinct taskgroups.
const MAX_TASKGROUPS: usize = 32;

/// Adds the warnings about `doc`.
pub(crate) fn check(doc: &Doc, w: &mut Warnings) {
    conditions(doc, w);
    barriers(doc, w);
    forks(doc, w);
    for def in &doc.tasks {
        unreachable_phases(def, w);
        waits_without_mutex(def, w);
    }
    taskgroups(doc, w);
}

/// Who waits on and who wakes each condition.
#[derive(Default)]
struct CondUse {
    first: Option<Pos>,
    waiter: bool,
    waker: bool,
}

fn conditions(doc: &Doc, w: &mut Warnings) {
    let mut uses: Vec<(String, CondUse)> = Vec::new();
    let mut mark = |n: &Named, waits: bool, wakes: bool| {
        let i = match uses.iter().position(|(name, _)| *name == n.name) {
            Some(i) => i,
            None => {
                uses.push((n.name.clone(), CondUse::default()));
                uses.len() - 1
            }
        };
        let u = &mut uses[i].1;
        u.first.get_or_insert(n.pos);
        u.waiter |= waits;
        u.waker |= wakes;
    };
    for ev in doc.tasks.iter().flat_map(|d| d.events()) {
        match ev {
            Event::Wait { cond, .. } | Event::Suspend(cond) => mark(cond, true, false),
            Event::Sync { cond, .. } => mark(cond, true, true),
            Event::Signal(c) | Event::Broad(c) | Event::Resume(c) => mark(c, false, true),
            _ => {}
        }
    }
    for (name, u) in uses {
        let pos = u.first.unwrap_or(Pos::START);
        if !u.waker {
            w.note(
                pos,
                format!(
                    "nothing signals or resumes {}: threads waiting on it block for ever",
                    quote(&name)
                ),
            );
        } else if !u.waiter {
            w.note(
                pos,
                format!(
                    "nothing waits on or suspends on {}: its wakeups are lost",
                    quote(&name)
                ),
            );
        }
    }
}

fn barriers(doc: &Doc, w: &mut Warnings) {
    let forked: Vec<&str> = doc
        .tasks
        .iter()
        .flat_map(|d| d.events())
        .filter_map(|e| match e {
            Event::Fork(t) => Some(t.name.as_str()),
            _ => None,
        })
        .collect();
    let mut parties: HashMap<&str, (Pos, u32)> = HashMap::new();
    let mut order: Vec<&str> = Vec::new();
    for def in &doc.tasks {
        let mut seen: Vec<&str> = Vec::new();
        for ev in def.events() {
            let Event::Barrier(b) = ev else { continue };
            if seen.contains(&b.name.as_str()) {
                w.note(
                    b.pos,
                    format!(
                        "task {} reaches barrier {} more than once per pass: rt-app \
                        counts every reference as more parties, so it may never open",
                        quote(&def.name),
                        quote(&b.name)
                    ),
                );
            } else if forked.contains(&def.name.as_str()) {
                w.note(
                    b.pos,
                    format!(
                        "forked task {} uses barrier {}: rt-app does not count \
                        forked threads among its parties",
                        quote(&def.name),
                        quote(&b.name)
                    ),
                );
            }
            seen.push(&b.name);
            let e = parties.entry(&b.name).or_insert_with(|| {
                order.push(&b.name);
                (b.pos, 0)
            });
            e.1 += def.instances;
        }
    }
    for name in order {
        let (pos, n) = parties[name];
        if n == 0 {
            w.note(
                pos,
                format!(
                    "barrier {} has no parties (only tasks with \"instance\" 0 \
                    use it): threads reaching it block for ever",
                    quote(name)
                ),
            );
        }
    }
}

fn forks(doc: &Doc, w: &mut Warnings) {
    for def in &doc.tasks {
        let endless_task = def.repeat == TaskRepeat::Forever;
        for p in &def.phases {
            let endless = endless_task || p.repeat == Repeat::Forever;
            for ev in &p.events {
                if let Event::Fork(t) = ev {
                    if endless {
                        w.note(
                            t.pos,
                            format!(
                                "task {} forks {} in an endless loop: rt-app aborts after \
                                {FORKS_LIMIT} forks of it, scxsim keeps forking",
                                quote(&def.name),
                                quote(&t.name)
                            ),
                        );
                    }
                }
            }
        }
        let is_forked = doc
            .tasks
            .iter()
            .flat_map(|d| d.events())
            .any(|e| matches!(e, Event::Fork(t) if t.name == def.name));
        if def.instances == 0 && !is_forked {
            w.note(
                def.pos,
                format!(
                    "task {} has \"instance\" 0 and no fork names it: it never runs",
                    quote(&def.name)
                ),
            );
        }
    }
}

fn unreachable_phases(def: &TaskDef, w: &mut Warnings) {
    let Some(k) = def.phases.iter().position(|p| p.repeat == Repeat::Forever) else {
        return;
    };
    if let Some(next) = def.phases.get(k + 1) {
        w.note(
            next.pos,
            format!(
                "task {}: this phase is never reached, the phase before it loops for ever",
                quote(&def.name)
            ),
        );
    }
}

/// `pthread_cond_wait()` needs the mutex held: follows `lock`/`unlock` in
/// file order (one pass, loops ignored).
fn waits_without_mutex(def: &TaskDef, w: &mut Warnings) {
    let mut held: Vec<&str> = Vec::new();
    for ev in def.events() {
        match ev {
            Event::Lock(m) => held.push(&m.name),
            Event::Unlock(m) => held.retain(|h| *h != m.name),
            Event::Wait { mutex, .. } | Event::Sync { mutex, .. }
                if !held.contains(&mutex.name.as_str()) =>
            {
                w.note(
                    mutex.pos,
                    format!(
                        "task {} waits with mutex {} not locked before it (in file \
                        order): undefined for pthreads",
                        quote(&def.name),
                        quote(&mutex.name)
                    ),
                );
            }
            _ => {}
        }
    }
}

fn taskgroups(doc: &Doc, w: &mut Warnings) {
    let mut paths: Vec<&str> = Vec::new();
    for def in &doc.tasks {
        let groups = def
            .taskgroup
            .iter()
            .chain(def.phases.iter().filter_map(|p| p.taskgroup.as_ref()));
        for tg in groups {
            if !paths.contains(&tg.path.as_str()) {
                paths.push(&tg.path);
                if paths.len() == MAX_TASKGROUPS + 1 {
                    w.note(
                        tg.pos,
                        format!(
                            "more than {MAX_TASKGROUPS} taskgroups: rt-app's default \
                            build refuses this file"
                        ),
                    );
                }
            }
        }
    }
}
