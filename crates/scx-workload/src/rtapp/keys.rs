//! The vocabulary of an rt-app file: which keys are events, which are
//! properties, and which are accepted but not modelled (with the reason
//! given in the warning).
//!
//! Events are recognised by *prefix*, as rt-app recognises them, so `run0`,
//! `run_second` and `runtime1` are all events; the longest matching prefix
//! wins (`runtime1` is a `runtime`, as in rt-app).

use super::error::Res;
use super::json::{Kind, Value};

/// The event types rt-app knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// `run`: CPU work.
    Run,
    /// `runtime`: busy-wait for wall time.
    RunTime,
    /// `sleep`.
    Sleep,
    /// `mem`: memory writes (not modelled).
    Mem,
    /// `iorun`: writes to the I/O device (not modelled).
    IoRun,
    /// `lock`.
    Lock,
    /// `unlock`.
    Unlock,
    /// `signal`.
    Signal,
    /// `broad`.
    Broad,
    /// `wait`.
    Wait,
    /// `sync`.
    Sync,
    /// `barrier`.
    Barrier,
    /// `timer`.
    Timer,
    /// `resume`.
    Resume,
    /// `suspend`.
    Suspend,
    /// `yield`.
    Yield,
    /// `fork`.
    Fork,
}

/// Event prefixes (no two of them both match a key except `run` and
/// `runtime`).
const EVENT_PREFIXES: &[(&str, EventKind)] = &[
    ("run", EventKind::Run),
    ("runtime", EventKind::RunTime),
    ("sleep", EventKind::Sleep),
    ("mem", EventKind::Mem),
    ("iorun", EventKind::IoRun),
    ("lock", EventKind::Lock),
    ("unlock", EventKind::Unlock),
    ("signal", EventKind::Signal),
    ("broad", EventKind::Broad),
    ("wait", EventKind::Wait),
    ("sync", EventKind::Sync),
    ("barrier", EventKind::Barrier),
    ("timer", EventKind::Timer),
    ("resume", EventKind::Resume),
    ("suspend", EventKind::Suspend),
    ("yield", EventKind::Yield),
    ("fork", EventKind::Fork),
];

impl EventKind {
    /// The event a key names, matched by its longest event prefix.
    pub fn classify(key: &str) -> Option<EventKind> {
        EVENT_PREFIXES
            .iter()
            .filter(|(prefix, _)| key.starts_with(prefix))
            .max_by_key(|(prefix, _)| prefix.len())
            .map(|(_, kind)| *kind)
    }

    /// The canonical event name.
    pub fn name(self) -> &'static str {
        EVENT_PREFIXES
            .iter()
            .find(|(_, kind)| *kind == self)
            .map(|(name, _)| *name)
            .unwrap_or("event")
    }
}

/// The event names, for "expected one of" messages.
pub(crate) fn event_names() -> String {
    let names: Vec<&str> = EVENT_PREFIXES.iter().map(|(n, _)| *n).collect();
    names.join(", ")
}

/// JSON types a key may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ty {
    /// `true`/`false`.
    Bool,
    /// A string.
    Str,
    /// An integer.
    Int,
    /// An integer or a string.
    IntOrStr,
    /// A boolean or a string.
    BoolOrStr,
    /// An array.
    Array,
}

impl Ty {
    fn accepts(self, v: &Value) -> bool {
        let int = v.is_integer();
        let s = v.is_string();
        let b = matches!(v.kind, Kind::Bool(_));
        match self {
            Ty::Bool => b,
            Ty::Str => s,
            Ty::Int => int,
            Ty::IntOrStr => int || s,
            Ty::BoolOrStr => b || s,
            Ty::Array => matches!(v.kind, Kind::Array(_)),
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Ty::Bool => "true or false",
            Ty::Str => "a string",
            Ty::Int => "an integer",
            Ty::IntOrStr => "an integer or a string",
            Ty::BoolOrStr => "true, false or a string",
            Ty::Array => "an array",
        }
    }

    /// Fails unless `v` has this type.
    pub fn check(self, v: &Value, key: &str) -> Res<()> {
        if self.accepts(v) {
            Ok(())
        } else {
            Err(v.expected(self.describe(), key))
        }
    }
}

/// A key rt-app reads that scxsim accepts without modelling.
pub(crate) struct Unmodelled {
    /// The key.
    pub key: &'static str,
    /// Its type in rt-app.
    pub ty: Ty,
    /// Why it has no effect in scxsim.
    pub why: &'static str,
}

const LOGS: &str = "rt-app's log and plot files are not produced";
const IO: &str = "memory and I/O load (mem, iorun) is not modelled";
const UCLAMP: &str = "utilization clamping (uclamp) is not modelled";
const NUMA: &str = "NUMA memory binding is not modelled";
const DL: &str = "SCHED_DEADLINE parameters are not modelled";
const PI: &str = "priority-inheritance mutexes are not modelled (scxsim's mutexes never boost \
                  their holder)";
const MEMBIND: &str = "NUMA memory binding is not modelled (and rt-app itself reads \
                       \"nodes_membind\", not this spelling)";
const LEGACY_PERIOD: &str =
    "it is rt-app's legacy SCHED_DEADLINE period, and SCHED_DEADLINE is not modelled";
const LEGACY_DEADLINE: &str =
    "it is rt-app's legacy SCHED_DEADLINE deadline, and SCHED_DEADLINE is not modelled";

/// Shorthand for a table row.
const fn un(key: &'static str, ty: Ty, why: &'static str) -> Unmodelled {
    Unmodelled { key, ty, why }
}

/// Keys of the `global` object that are accepted but not modelled.
pub(crate) const GLOBAL_UNMODELLED: &[Unmodelled] = &[
    un("pi_enabled", Ty::Bool, PI),
    un(
        "lock_pages",
        Ty::Bool,
        "locking memory has no effect in the simulator",
    ),
    un("logdir", Ty::Str, LOGS),
    un("log_basename", Ty::Str, LOGS),
    un("log_size", Ty::IntOrStr, LOGS),
    un("gnuplot", Ty::Bool, LOGS),
    un("cumulative_slack", Ty::Bool, LOGS),
    un(
        "ftrace",
        Ty::BoolOrStr,
        "rt-app's ftrace markers are not produced",
    ),
    un("io_device", Ty::Str, IO),
    un("mem_buffer_size", Ty::Int, IO),
];

/// Task- or phase-level keys that are accepted but not modelled.
pub(crate) const PROPERTY_UNMODELLED: &[Unmodelled] = &[
    un("util_min", Ty::Int, UCLAMP),
    un("util_max", Ty::Int, UCLAMP),
    un("nodes_membind", Ty::Array, NUMA),
    un("membind_nodes", Ty::Array, MEMBIND),
    un("dl-runtime", Ty::Int, DL),
    un("dl-period", Ty::Int, DL),
    un("dl-deadline", Ty::Int, DL),
];

/// Task-level keys only, accepted but not modelled.
pub(crate) const TASK_UNMODELLED: &[Unmodelled] = &[
    un("period", Ty::Int, LEGACY_PERIOD),
    un("deadline", Ty::Int, LEGACY_DEADLINE),
];

/// Looks `key` up in a table of unmodelled keys.
pub(crate) fn find_unmodelled(
    table: &'static [Unmodelled],
    key: &str,
) -> Option<&'static Unmodelled> {
    table.iter().find(|u| u.key == key)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_match_by_prefix_in_rtapp_order() {
        assert_eq!(EventKind::classify("run0"), Some(EventKind::Run));
        assert_eq!(EventKind::classify("run_second"), Some(EventKind::Run));
        assert_eq!(EventKind::classify("runtime1"), Some(EventKind::RunTime));
        assert_eq!(EventKind::classify("sleep-1"), Some(EventKind::Sleep));
        assert_eq!(EventKind::classify("unlock"), Some(EventKind::Unlock));
        assert_eq!(EventKind::classify("broadcast"), Some(EventKind::Broad));
        assert_eq!(EventKind::classify("loop"), None);
        assert_eq!(EventKind::classify("slep"), None);
        assert_eq!(EventKind::RunTime.name(), "runtime");
    }
}
