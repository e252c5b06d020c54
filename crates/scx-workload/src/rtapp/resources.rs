//! Shared objects by name, as rt-app creates them on first use: condition
//! variables, mutexes, barriers, timers and taskgroups (cgroups).
//!
//! Namespaces follow rt-app, which keys a resource by name *and* type:
//! `signal`, `broad`, `wait`, `sync`, `suspend` and `resume` share one
//! namespace of conditions; `lock`, `unlock`, the `mutex` of `wait`/`sync`
//! and the hidden mutex of `suspend`/`resume` (named after the condition)
//! share one namespace of mutexes; barriers and timers have their own.
//! Ids are given in order of first use in the file.

use std::collections::HashMap;

use super::error::Pos;
use super::model::TimerUse;
use super::value::quote;
use super::warn::Warnings;
use crate::program::{BarrierSpec, CgroupId, CgroupSpec, TimerId, TimerMode, TimerSpec};
use scx_machine::clock::NSEC_PER_USEC;

/// Names numbered in order of first use.
#[derive(Default)]
pub(crate) struct Names {
    names: Vec<String>,
    index: HashMap<String, usize>,
}

impl Names {
    /// The id of `name`, allocated on first use.
    pub fn id(&mut self, name: &str) -> usize {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        self.names.push(name.to_string());
        self.index.insert(name.to_string(), self.names.len() - 1);
        self.names.len() - 1
    }

    /// The names, by id.
    pub fn into_vec(self) -> Vec<String> {
        self.names
    }
}

/// Barriers and the number of threads rt-app expects at each.
#[derive(Default)]
pub(crate) struct Barriers {
    names: Names,
    parties: Vec<u32>,
}

impl Barriers {
    /// Records one `barrier` event of a task started `instances` times: like
    /// rt-app, every event adds the task's instance count to the parties.
    pub fn reference(&mut self, name: &str, instances: u32) -> usize {
        let id = self.names.id(name);
        if id == self.parties.len() {
            self.parties.push(0);
        }
        self.parties[id] = self.parties[id].saturating_add(instances);
        id
    }

    /// The barrier specs, by id.
    pub fn into_specs(self) -> Vec<BarrierSpec> {
        self.names
            .into_vec()
            .into_iter()
            .zip(self.parties)
            .map(|(name, parties)| BarrierSpec { name, parties })
            .collect()
    }
}

/// Whose timer a `ref` names: global timers are shared by every thread,
/// `unique...` ones belong to each thread of one task.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TimerScope {
    /// Shared by all threads.
    Global,
    /// Per thread of the task with this index.
    Task(usize),
}

struct TimerEntry {
    /// Ids of the specs modelling this rt-app timer, one per period.
    periods: Vec<(u64, TimerId)>,
    absolute: bool,
    relative: bool,
    first: Pos,
}

/// Timers, one spec per rt-app timer and period.
#[derive(Default)]
pub(crate) struct Timers {
    specs: Vec<TimerSpec>,
    entries: HashMap<(TimerScope, String), TimerEntry>,
    order: Vec<(TimerScope, String)>,
}

impl Timers {
    /// The spec modelling `use_` within `scope`.
    ///
    /// rt-app keeps one expiry sequence per timer and takes the period from
    /// each event; scxsim's timers have one period, so a timer used with two
    /// periods becomes two specs (and a warning).
    pub fn id(&mut self, scope: TimerScope, use_: &TimerUse) -> TimerId {
        let key = (scope, use_.name.name.clone());
        if !self.entries.contains_key(&key) {
            self.order.push(key.clone());
        }
        let entry = self.entries.entry(key).or_insert_with(|| TimerEntry {
            periods: Vec::new(),
            absolute: false,
            relative: false,
            first: use_.name.pos,
        });
        entry.absolute |= use_.absolute;
        entry.relative |= !use_.absolute;
        if let Some(&(_, id)) = entry.periods.iter().find(|(p, _)| *p == use_.period_us) {
            return id;
        }
        let id = self.specs.len();
        self.specs.push(TimerSpec {
            name: use_.name.name.clone(),
            period: use_.period_us * NSEC_PER_USEC,
            mode: TimerMode::Relative,
            shared: scope == TimerScope::Global,
        });
        entry.periods.push((use_.period_us, id));
        id
    }

    /// The specs, with each timer's mode settled: rt-app makes a timer
    /// absolute as soon as any event using it says so.
    pub fn into_specs(mut self, w: &mut Warnings) -> Vec<TimerSpec> {
        for key in &self.order {
            let e = &self.entries[key];
            let name = quote(&key.1);
            if e.periods.len() > 1 {
                w.note(
                    e.first,
                    format!(
                        "timer {name} is used with {} different periods: rt-app \
                        keeps one expiry sequence for it, scxsim models one timer \
                        per period",
                        e.periods.len()
                    ),
                );
            }
            if e.absolute && e.relative {
                w.note(
                    e.first,
                    format!(
                        "timer {name} is both \"absolute\" and \"relative\": rt-app \
                        makes it absolute for every use"
                    ),
                );
            }
            for &(_, id) in &e.periods {
                self.specs[id].mode = if e.absolute {
                    TimerMode::Absolute
                } else {
                    TimerMode::Relative
                };
            }
        }
        self.specs
    }
}

/// The cgroup hierarchy built from taskgroup paths.
#[derive(Default)]
pub(crate) struct Cgroups {
    specs: Vec<CgroupSpec>,
    index: HashMap<String, CgroupId>,
}

impl Cgroups {
    /// The cgroup of normalised `path`, created with its missing ancestors
    /// (weight 100) as rt-app does; `None` for the root.
    pub fn id(&mut self, path: &str) -> Option<CgroupId> {
        let mut parent = None;
        let mut prefix = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            prefix.push('/');
            prefix.push_str(part);
            parent = Some(self.child(&prefix, parent));
        }
        parent
    }

    fn child(&mut self, path: &str, parent: Option<CgroupId>) -> CgroupId {
        if let Some(&id) = self.index.get(path) {
            return id;
        }
        self.specs.push(CgroupSpec {
            path: path.to_string(),
            parent,
            weight: 100,
        });
        self.index.insert(path.to_string(), self.specs.len() - 1);
        self.specs.len() - 1
    }

    /// The path of cgroup `id`.
    pub fn path(&self, id: CgroupId) -> &str {
        &self.specs[id].path
    }

    /// The specs, parents before children.
    pub fn into_specs(self) -> Vec<CgroupSpec> {
        self.specs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroups_get_their_parents_first() {
        let mut c = Cgroups::default();
        assert_eq!(c.id("/a/b"), Some(1));
        assert_eq!(c.id("/a"), Some(0));
        assert_eq!(c.id("/"), None);
        let specs = c.into_specs();
        assert_eq!(specs[1].parent, Some(0));
        assert_eq!(specs[1].path, "/a/b");
    }

    #[test]
    fn barrier_parties_add_instances_per_reference() {
        let mut b = Barriers::default();
        b.reference("x", 2);
        b.reference("x", 3);
        assert_eq!(b.into_specs()[0].parties, 5);
    }
}
