//! Reads one event (`"run0": 1000`, `"timer": {...}`, ...) into a
//! [`model::Event`](super::model::Event).
//!
//! Values are checked as strictly as rt-app checks them, and a little more:
//! durations must be non-negative integers that fit rt-app's 32-bit `int`,
//! and the objects of `wait`, `sync` and `timer` must name every resource
//! they use (rt-app would silently fall back to a resource called
//! `"unknown"`).

use super::error::{Fail, Res};
use super::json::{Member, Value};
use super::keys::{EventKind, Ty};
use super::model::{Event, Named, TimerUse};
use super::value::quote;
use super::warn::Warnings;

/// Reads the event in member `m`, already classified as `kind`; `task` is
/// the task's name (an empty `suspend` means the task itself, as rt-app's
/// `workgen` fills it in). Events scxsim does not model give `None` and a
/// warning.
pub(crate) fn parse(
    kind: EventKind,
    m: &Member,
    task: &str,
    w: &mut Warnings,
) -> Res<Option<Event>> {
    let (v, key) = (&m.value, m.key.as_str());
    let ev = match kind {
        EventKind::Run => Event::Run(duration(v, key)?),
        EventKind::RunTime => Event::RunWall(duration(v, key)?),
        EventKind::Sleep => Event::Sleep(duration(v, key)?),
        EventKind::Mem | EventKind::IoRun => return unmodelled(kind, m, w),
        EventKind::Lock => Event::Lock(named(v, "a mutex name", key)?),
        EventKind::Unlock => Event::Unlock(named(v, "a mutex name", key)?),
        EventKind::Signal => Event::Signal(named(v, "a condition name", key)?),
        EventKind::Broad => Event::Broad(named(v, "a condition name", key)?),
        EventKind::Wait => {
            let (cond, mutex) = cond_and_mutex(v, key)?;
            Event::Wait { cond, mutex }
        }
        EventKind::Sync => {
            let (cond, mutex) = cond_and_mutex(v, key)?;
            Event::Sync { cond, mutex }
        }
        EventKind::Barrier => Event::Barrier(named(v, "a barrier name", key)?),
        EventKind::Timer => return timer(v, key, w),
        EventKind::Resume => {
            Event::Resume(named(v, "the name of a suspended task or condition", key)?)
        }
        EventKind::Suspend => Event::Suspend(suspend_name(v, key, task)?),
        EventKind::Yield => Event::Yield,
        EventKind::Fork => Event::Fork(named(v, "a task name", key)?),
    };
    Ok(Some(ev))
}

/// A duration in µs: rt-app keeps them in an `int`.
fn duration(v: &Value, key: &str) -> Res<u64> {
    let us = v.int_in(
        0,
        i64::from(i32::MAX),
        "a non-negative duration in microseconds",
        key,
    )?;
    Ok(us as u64)
}

fn named(v: &Value, what: &str, key: &str) -> Res<Named> {
    let name = v.string(what, key)?;
    Ok(Named {
        name: name.to_string(),
        pos: v.pos,
    })
}

fn suspend_name(v: &Value, key: &str, task: &str) -> Res<Named> {
    let mut n = named(
        v,
        "the name of a condition (or \"\" for the task itself)",
        key,
    )?;
    if n.name.is_empty() {
        n.name = task.to_string();
    }
    Ok(n)
}

fn unmodelled(kind: EventKind, m: &Member, w: &mut Warnings) -> Res<Option<Event>> {
    Ty::Int.check(&m.value, &m.key)?;
    let name = kind.name();
    w.once(name, m.key_pos, || {
        format!(
            "\"{name}\" events are not modelled (memory and I/O load is not simulated); skipped"
        )
    });
    Ok(None)
}

/// The members of an event object, checked against `allowed` keys; each
/// allowed key gets its value if present.
fn fields<'a, const N: usize>(
    v: &'a Value,
    key: &str,
    allowed: [&str; N],
) -> Res<[Option<&'a Value>; N]> {
    let mut out = [None; N];
    for m in v.object(key)? {
        let Some(i) = allowed.iter().position(|a| *a == m.key) else {
            let names: Vec<String> = allowed.iter().map(|a| quote(a)).collect();
            return Err(Fail::new(
                m.key_pos,
                format!(
                    "expected one of {} in {}, got {}",
                    names.join(", "),
                    quote(key),
                    quote(&m.key)
                ),
            ));
        };
        if out[i].is_some() {
            return Err(Fail::new(
                m.key_pos,
                format!(
                    "expected {} only once in {}, got it again",
                    quote(&m.key),
                    quote(key)
                ),
            ));
        }
        out[i] = Some(&m.value);
    }
    Ok(out)
}

fn required<'a>(field: Option<&'a Value>, name: &str, obj: &Value, key: &str) -> Res<&'a Value> {
    field.ok_or_else(|| {
        Fail::new(
            obj.pos,
            format!(
                "expected a {} key in the object for {}",
                quote(name),
                quote(key)
            ),
        )
    })
}

fn cond_and_mutex(v: &Value, key: &str) -> Res<(Named, Named)> {
    let [r, m] = fields(v, key, ["ref", "mutex"])?;
    let cond = named(required(r, "ref", v, key)?, "a condition name", "ref")?;
    let mutex = named(required(m, "mutex", v, key)?, "a mutex name", "mutex")?;
    Ok((cond, mutex))
}

fn timer(v: &Value, key: &str, w: &mut Warnings) -> Res<Option<Event>> {
    let [r, p, m] = fields(v, key, ["ref", "period", "mode"])?;
    let name = named(required(r, "ref", v, key)?, "a timer name", "ref")?;
    let period = required(p, "period", v, key)?;
    let period_us = duration(period, "period")?;
    let absolute = match m {
        None => false,
        Some(mode) => match mode.string("\"absolute\" or \"relative\"", "mode")? {
            "absolute" => true,
            "relative" => false,
            _ => return Err(mode.expected("\"absolute\" or \"relative\"", "mode")),
        },
    };
    if period_us == 0 {
        w.note(
            period.pos,
            format!(
                "timer {} has period 0 and is skipped (in rt-app it only \
                moves the timer's reference to now)",
                quote(&name.name)
            ),
        );
        return Ok(None);
    }
    Ok(Some(Event::Timer(TimerUse {
        name,
        period_us,
        absolute,
    })))
}

#[cfg(test)]
mod tests {
    use super::super::json;
    use super::*;

    fn one(text: &str) -> Res<Option<Event>> {
        let doc = json::parse(text).unwrap();
        let json::Kind::Object(members) = doc.kind else {
            panic!()
        };
        let m = &members[0];
        let kind = EventKind::classify(&m.key).unwrap();
        parse(kind, m, "me", &mut Warnings::default())
    }

    #[test]
    fn timers_need_ref_and_period() {
        let e = one(r#"{"timer0": {"period": 5}}"#).unwrap_err();
        assert_eq!(e.msg, "expected a \"ref\" key in the object for \"timer0\"");
        let e = one(r#"{"timer0": {"ref": "t", "perod": 5}}"#).unwrap_err();
        assert!(
            e.msg
                .starts_with("expected one of \"ref\", \"period\", \"mode\""),
            "{}",
            e.msg
        );
        let ev = one(r#"{"timer0": {"ref": "t", "period": 5, "mode": "absolute"}}"#)
            .unwrap()
            .unwrap();
        assert!(matches!(
            ev,
            Event::Timer(TimerUse {
                period_us: 5,
                absolute: true,
                ..
            })
        ));
    }

    #[test]
    fn empty_suspend_means_the_task_itself() {
        let ev = one(r#"{"suspend": ""}"#).unwrap().unwrap();
        assert!(matches!(ev, Event::Suspend(Named { ref name, .. }) if name == "me"));
    }

    #[test]
    fn durations_are_non_negative_ints() {
        assert!(one(r#"{"run": -1}"#).is_err());
        assert!(one(r#"{"run": 1.5}"#).is_err());
        assert!(one(r#"{"run": 2147483648}"#).is_err());
        assert_eq!(one(r#"{"runtime2": 7}"#).unwrap(), Some(Event::RunWall(7)));
    }
}
