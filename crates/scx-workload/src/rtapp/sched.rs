//! Scheduling policy and priority, with rt-app's rules for defaults and
//! phase-level changes.
//!
//! * `priority` is the nice value for `SCHED_OTHER` (and scxsim's
//!   `SCHED_NORMAL`/`SCHED_BATCH` aliases), the RT priority for
//!   `SCHED_FIFO`/`SCHED_RR`, and ignored for `SCHED_IDLE` (rt-app calls
//!   no `setpriority()` for it). Defaults: 0 for fair policies, 10 for RT.
//! * A task's policy is its `policy` or the global `default_policy`.
//! * A phase changes the policy only if it sets `policy` or `priority`; a
//!   phase with only `priority` keeps the policy in force when it is first
//!   entered (rt-app resolves that once and keeps it).
//! * `SCHED_DEADLINE` is refused with an error: scxsim does not model it, and
//!   running such a task under another class would give misleading results.

use super::error::{Fail, Pos, Res};
use super::json::Value;
use super::value::quote;
use super::warn::Warnings;
use crate::program::Policy;

/// A policy name as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PolicyName {
    /// `SCHED_OTHER` or `SCHED_NORMAL`.
    Normal,
    /// `SCHED_BATCH` (scxsim extension; rt-app itself refuses it).
    Batch,
    /// `SCHED_IDLE`.
    Idle,
    /// `SCHED_FIFO`.
    Fifo,
    /// `SCHED_RR`.
    Rr,
    /// `SCHED_DEADLINE` (not modelled).
    Deadline,
}

const NAMES: &[(&str, PolicyName)] = &[
    ("SCHED_OTHER", PolicyName::Normal),
    ("SCHED_NORMAL", PolicyName::Normal),
    ("SCHED_BATCH", PolicyName::Batch),
    ("SCHED_IDLE", PolicyName::Idle),
    ("SCHED_FIFO", PolicyName::Fifo),
    ("SCHED_RR", PolicyName::Rr),
    ("SCHED_DEADLINE", PolicyName::Deadline),
];

/// A policy name and where it was written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PolicyAt {
    /// The policy.
    pub name: PolicyName,
    /// Position of the string (the start of the file for the built-in
    /// default).
    pub pos: Pos,
}

impl PolicyAt {
    /// rt-app's default when no `default_policy` is given.
    pub const DEFAULT: PolicyAt = PolicyAt {
        name: PolicyName::Normal,
        pos: Pos::START,
    };

    /// Reads a policy string.
    pub fn parse(v: &Value, key: &str) -> Res<PolicyAt> {
        let what =
            "one of SCHED_OTHER, SCHED_NORMAL, SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR";
        let s = v.string(what, key)?;
        NAMES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, name)| PolicyAt {
                name: *name,
                pos: v.pos,
            })
            .ok_or_else(|| v.expected(what, key))
    }
}

impl PolicyName {
    fn of(policy: Policy) -> PolicyName {
        match policy {
            Policy::Normal | Policy::Ext => PolicyName::Normal,
            Policy::Batch => PolicyName::Batch,
            Policy::Idle => PolicyName::Idle,
            Policy::Fifo(_) => PolicyName::Fifo,
            Policy::Rr(_) => PolicyName::Rr,
        }
    }

    /// The name rt-app prints.
    pub fn label(self) -> &'static str {
        NAMES
            .iter()
            .find(|(_, p)| *p == self)
            .map(|(n, _)| *n)
            .unwrap_or("?")
    }
}

/// True for the policies rt-app allows in a taskgroup (its `SCHED_OTHER`
/// and `SCHED_IDLE`, plus scxsim's `SCHED_BATCH`).
pub(crate) fn allows_taskgroup(policy: Policy) -> bool {
    matches!(
        policy,
        Policy::Normal | Policy::Batch | Policy::Idle | Policy::Ext
    )
}

/// The `policy` and `priority` keys of a task or phase.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct SchedKeys {
    /// `policy`, if given.
    pub policy: Option<PolicyAt>,
    /// `priority` and its position, if given.
    pub priority: Option<(i64, Pos)>,
}

impl SchedKeys {
    /// True if neither key is present.
    pub fn is_empty(&self) -> bool {
        self.policy.is_none() && self.priority.is_none()
    }
}

/// Policy and nice value of a thread at some point of its program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SchedState {
    /// The policy (with its RT priority).
    pub policy: Policy,
    /// The nice value (kept across RT episodes, as the kernel does).
    pub nice: i32,
}

/// What applying a task's or phase's keys sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SchedTarget {
    /// The policy.
    pub policy: Policy,
    /// The nice value, for policies where rt-app sets one.
    pub nice: Option<i32>,
}

impl SchedState {
    /// The state after `t` is applied.
    pub fn apply(self, t: SchedTarget) -> SchedState {
        SchedState {
            policy: t.policy,
            nice: t.nice.unwrap_or(self.nice),
        }
    }
}

/// The initial policy of a task: its keys, else `default`.
pub(crate) fn task_target(
    keys: &SchedKeys,
    default: PolicyAt,
    w: &mut Warnings,
) -> Res<SchedTarget> {
    target(keys.policy.unwrap_or(default), keys.priority, w)
}

/// What a phase's keys change, given the state in force when the phase is
/// first entered; `None` if the phase sets neither key.
pub(crate) fn phase_target(
    keys: &SchedKeys,
    current: SchedState,
    w: &mut Warnings,
) -> Res<Option<SchedTarget>> {
    if keys.is_empty() {
        return Ok(None);
    }
    let policy = keys.policy.unwrap_or(PolicyAt {
        name: PolicyName::of(current.policy),
        pos: keys.priority.map(|(_, p)| p).unwrap_or(Pos::START),
    });
    target(policy, keys.priority, w).map(Some)
}

fn priority_error(pos: Pos, prio: i64, range: &str, policy: PolicyName) -> Fail {
    Fail::new(
        pos,
        format!(
            "expected {range} for {} with {}, got {prio}",
            quote("priority"),
            policy.label()
        ),
    )
}

fn target(policy: PolicyAt, priority: Option<(i64, Pos)>, w: &mut Warnings) -> Res<SchedTarget> {
    let prio = priority.map(|(p, _)| p);
    let prio_pos = priority.map(|(_, p)| p).unwrap_or(policy.pos);
    match policy.name {
        PolicyName::Deadline => Err(Fail::new(
            policy.pos,
            "expected a policy scxsim models (SCHED_OTHER, SCHED_NORMAL, \
            SCHED_BATCH, SCHED_IDLE, SCHED_FIFO, SCHED_RR), got \
            \"SCHED_DEADLINE\", which is not modelled",
        )),
        PolicyName::Fifo | PolicyName::Rr => {
            let p = prio.unwrap_or(10);
            if !(1..=99).contains(&p) {
                return Err(priority_error(
                    prio_pos,
                    p,
                    "an RT priority in 1..=99",
                    policy.name,
                ));
            }
            let p = p as u32;
            let policy = if policy.name == PolicyName::Fifo {
                Policy::Fifo(p)
            } else {
                Policy::Rr(p)
            };
            Ok(SchedTarget { policy, nice: None })
        }
        PolicyName::Normal | PolicyName::Batch => {
            let n = prio.unwrap_or(0);
            if !(-20..=19).contains(&n) {
                return Err(priority_error(
                    prio_pos,
                    n,
                    "a nice value in -20..=19",
                    policy.name,
                ));
            }
            let p = if policy.name == PolicyName::Normal {
                Policy::Normal
            } else {
                Policy::Batch
            };
            Ok(SchedTarget {
                policy: p,
                nice: Some(n as i32),
            })
        }
        PolicyName::Idle => {
            if let Some((p, pos)) = priority.filter(|(p, _)| *p != 0) {
                w.note(
                    pos,
                    format!(
                        "\"priority\" {p} is ignored with SCHED_IDLE: rt-app sets no \
                        nice value for it"
                    ),
                );
            }
            Ok(SchedTarget {
                policy: Policy::Idle,
                nice: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(policy: Option<PolicyName>, prio: Option<i64>) -> SchedKeys {
        SchedKeys {
            policy: policy.map(|name| PolicyAt {
                name,
                pos: Pos::START,
            }),
            priority: prio.map(|p| (p, Pos { line: 2, col: 3 })),
        }
    }

    #[test]
    fn defaults_follow_rtapp() {
        let mut w = Warnings::default();
        let t = task_target(
            &keys(Some(PolicyName::Fifo), None),
            PolicyAt::DEFAULT,
            &mut w,
        )
        .unwrap();
        assert_eq!(t.policy, Policy::Fifo(10));
        let t = task_target(&keys(None, Some(-5)), PolicyAt::DEFAULT, &mut w).unwrap();
        assert_eq!(
            t,
            SchedTarget {
                policy: Policy::Normal,
                nice: Some(-5)
            }
        );
    }

    #[test]
    fn priority_only_phase_keeps_the_policy_in_force() {
        let mut w = Warnings::default();
        let cur = SchedState {
            policy: Policy::Rr(5),
            nice: 3,
        };
        let t = phase_target(&keys(None, Some(42)), cur, &mut w)
            .unwrap()
            .unwrap();
        assert_eq!(t.policy, Policy::Rr(42));
        assert_eq!(cur.apply(t).nice, 3);
        assert_eq!(phase_target(&keys(None, None), cur, &mut w).unwrap(), None);
    }

    #[test]
    fn out_of_range_priorities_are_errors() {
        let mut w = Warnings::default();
        let e = task_target(
            &keys(Some(PolicyName::Normal), Some(25)),
            PolicyAt::DEFAULT,
            &mut w,
        )
        .unwrap_err();
        assert_eq!(
            e.msg,
            "expected a nice value in -20..=19 for \"priority\" with SCHED_OTHER, got 25"
        );
        assert_eq!(e.pos, Pos { line: 2, col: 3 });
    }
}
