//! Reads the top level of an rt-app file: the `global` settings, the
//! legacy `resources` table and the `tasks` object.

use super::error::{Fail, Res};
use super::json::{Member, Value};
use super::keys::{self, find_unmodelled, Ty};
use super::model::TaskDef;
use super::sched::PolicyAt;
use super::task::{self, MAX_THREADS};
use super::value::quote;
use super::warn::Warnings;
use scx_machine::clock::{Ns, NSEC_PER_SEC};

/// The `global` settings scxsim uses.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Global {
    /// `duration`: `None` when the run is unbounded.
    pub duration: Option<Ns>,
    /// `default_policy`.
    pub default_policy: PolicyAt,
}

/// A whole file, read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Doc {
    /// The `global` settings.
    pub global: Global,
    /// The tasks, in file order.
    pub tasks: Vec<TaskDef>,
}

/// Reads a parsed file for a machine of `nr_cpus` CPUs.
pub(crate) fn read(root: &Value, nr_cpus: usize, w: &mut Warnings) -> Res<Doc> {
    let members = match &root.kind {
        super::json::Kind::Object(m) => m,
        _ => {
            return Err(Fail::new(
                root.pos,
                format!(
                    "expected an object with \"tasks\" at the top level, got {}",
                    root.describe()
                ),
            ))
        }
    };
    check_top_keys(members, w)?;
    let global = match members.iter().find(|m| m.key == "global") {
        Some(m) => read_global(m, w)?,
        None => Global {
            duration: None,
            default_policy: PolicyAt::DEFAULT,
        },
    };
    let tasks_member = members
        .iter()
        .find(|m| m.key == "tasks")
        .ok_or_else(|| Fail::new(root.pos, "expected a \"tasks\" key at the top level"))?;
    let tasks = read_tasks(tasks_member, nr_cpus, w)?;
    Ok(Doc { global, tasks })
}

fn check_top_keys(members: &[Member], w: &mut Warnings) -> Res<()> {
    for (i, m) in members.iter().enumerate() {
        if members[..i].iter().any(|p| p.key == m.key) {
            return Err(Fail::new(
                m.key_pos,
                format!(
                    "expected {} only once at the top level, got it again",
                    quote(&m.key)
                ),
            ));
        }
        match m.key.as_str() {
            "global" | "tasks" => {}
            "resources" => w.once("resources", m.key_pos, || {
                "\"resources\" is rt-app's legacy resource table; resources \
                are created from the events that use them, so it is ignored"
                    .into()
            }),
            _ => {
                return Err(Fail::new(
                    m.key_pos,
                    format!(
                        "expected \"tasks\", \"global\" or \"resources\" at the top \
                        level, got {}",
                        quote(&m.key)
                    ),
                ))
            }
        }
    }
    Ok(())
}

fn read_global(g: &Member, w: &mut Warnings) -> Res<Global> {
    let mut out = Global {
        duration: None,
        default_policy: PolicyAt::DEFAULT,
    };
    let members = g.value.object(&g.key)?;
    for (i, m) in members.iter().enumerate() {
        if members[..i].iter().any(|p| p.key == m.key) {
            return Err(Fail::new(
                m.key_pos,
                format!(
                    "expected {} only once in \"global\", got it again",
                    quote(&m.key)
                ),
            ));
        }
        global_key(m, &mut out, w)?;
    }
    Ok(out)
}

fn global_key(m: &Member, out: &mut Global, w: &mut Warnings) -> Res<()> {
    let (key, v) = (m.key.as_str(), &m.value);
    match key {
        "duration" => out.duration = duration(v, w)?,
        "default_policy" => out.default_policy = PolicyAt::parse(v, key)?,
        // Calibration converts `run` durations into loop counts on real
        // hardware; scxsim's `run` already is CPU time.
        "calibration" => Ty::IntOrStr.check(v, key)?,
        _ => {
            let Some(u) = find_unmodelled(keys::GLOBAL_UNMODELLED, key) else {
                return Err(Fail::new(
                    m.key_pos,
                    format!(
                        "expected a global setting (duration, default_policy, \
                        calibration, pi_enabled, lock_pages, logdir, log_basename, \
                        log_size, ftrace, gnuplot, io_device, mem_buffer_size, \
                        cumulative_slack), got {}",
                        quote(key)
                    ),
                ));
            };
            u.ty.check(v, key)?;
            w.once(u.key, m.key_pos, || {
                format!("{} is not modelled: {}; ignored", quote(u.key), u.why)
            });
        }
    }
    Ok(())
}

/// `duration` in seconds; rt-app only stops the run for positive values.
fn duration(v: &Value, w: &mut Warnings) -> Res<Option<Ns>> {
    let what = "a duration in seconds (-1 for no limit)";
    let secs = v.int_in(i64::from(i32::MIN), i64::from(i32::MAX), what, "duration")?;
    if secs > 0 {
        return Ok(Some(secs as u64 * NSEC_PER_SEC));
    }
    if secs != -1 {
        w.note(
            v.pos,
            format!("\"duration\" {secs} means no time limit in rt-app"),
        );
    }
    Ok(None)
}

fn read_tasks(t: &Member, nr_cpus: usize, w: &mut Warnings) -> Res<Vec<TaskDef>> {
    let members = t.value.object(&t.key)?;
    if members.is_empty() {
        return Err(t.value.expected("at least one task", &t.key));
    }
    let mut out: Vec<TaskDef> = Vec::new();
    let mut threads = 0i64;
    for m in members {
        if out.iter().any(|d| d.name == m.key) {
            return Err(Fail::new(
                m.key_pos,
                format!("expected each task name once, got {} again", quote(&m.key)),
            ));
        }
        let def = task::read(m, nr_cpus, w)?;
        threads += i64::from(def.instances);
        if threads > MAX_THREADS {
            return Err(Fail::new(
                m.key_pos,
                format!(
                    "expected at most {MAX_THREADS} threads in all (Linux's \
                    default pid_max), got {threads} by task {}",
                    quote(&m.key)
                ),
            ));
        }
        out.push(def);
    }
    Ok(out)
}
