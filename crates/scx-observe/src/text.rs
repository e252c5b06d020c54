//! A human-readable text trace: one line per event.
//!
//! Format: `<seconds.nanoseconds> <what> <fields>`, tasks printed as
//! `comm[pid]`. Legend:
//!
//! | what | meaning |
//! |---|---|
//! | `new` | task created (`parent`, `prio`) |
//! | `comm` | task renamed |
//! | `prio`, `class` | task priority or scheduling class changed |
//! | `exit` | `sched_process_exit` |
//! | `switch` | `sched_switch` on `cpu` |
//! | `waking`, `wakeup`, `wakeup_new` | the wakeup tracepoints |
//! | `migrate` | `sched_migrate_task` |
//! | `op` | a sched_ext callback (`op=`, `task=`, `arg=`) |
//! | `kick` | `scx_bpf_kick_cpu()` (`breaker` if by the dispatch-loop breaker) |
//! | `kicked` | a kick's irq_work rescheduled the target |
//! | `dsq` | a DSQ's depth changed |
//! | `round` | a dispatch-loop round ended (`nr_tasks`) |
//! | `watchdog` | the sched_ext watchdog ran |
//! | `scx_exit` | an exit was claimed |
//! | `scx_state` | the scheduler's enable state changed |
//! | `log` | a kernel log line |
//! | `stuck` | a CPU got stuck with interrupts disabled |

use crate::{Event, Sink, Tid};
use std::collections::BTreeMap;
use std::io::Write;

/// Writes events as text lines.
pub struct TextTrace<W: Write> {
    out: W,
    names: BTreeMap<Tid, (String, u32)>,
    /// First write error, if any.
    pub error: Option<std::io::Error>,
}

impl<W: Write> TextTrace<W> {
    /// A trace writing to `out`.
    pub fn new(out: W) -> Self {
        TextTrace {
            out,
            names: BTreeMap::new(),
            error: None,
        }
    }

    /// Flushes the writer; returns the first error seen.
    pub fn flush(&mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }

    /// Flushes and returns the writer.
    pub fn into_inner(mut self) -> W {
        let _ = self.out.flush();
        self.out
    }

    fn name(&self, t: Tid) -> String {
        match self.names.get(&t) {
            Some((c, p)) => format!("{c}[{p}]"),
            None => format!("tid{t}"),
        }
    }

    fn format(&mut self, ev: &Event) -> String {
        match ev {
            Event::TaskNew {
                tid,
                pid,
                comm,
                parent,
                prio,
                ..
            } => {
                self.names.insert(*tid, (comm.clone(), *pid));
                let parent = parent.map(|p| self.name(p)).unwrap_or_else(|| "-".into());
                format!("new {} parent={parent} prio={prio}", self.name(*tid))
            }
            Event::TaskRename { tid, comm } => {
                let old = self.name(*tid);
                if let Some(e) = self.names.get_mut(tid) {
                    e.0 = comm.clone();
                }
                format!("comm {old} -> {comm}")
            }
            Event::TaskPrio { tid, prio } => format!("prio {} prio={prio}", self.name(*tid)),
            Event::TaskClass { tid, class } => {
                format!("class {} {}", self.name(*tid), class.symbol())
            }
            Event::TaskExit { tid } => format!("exit {}", self.name(*tid)),
            Event::Switch {
                cpu,
                prev,
                prev_state,
                next,
            } => format!(
                "switch cpu={cpu} prev={} prev_state={} next={}",
                self.name(*prev),
                prev_state.letter(),
                self.name(*next)
            ),
            Event::Waking { cpu, tid } => format!("waking cpu={cpu} {}", self.name(*tid)),
            Event::Wakeup {
                cpu,
                tid,
                target_cpu,
                new,
            } => format!(
                "{} cpu={cpu} {} target_cpu={target_cpu}",
                if *new { "wakeup_new" } else { "wakeup" },
                self.name(*tid)
            ),
            Event::Migrate { tid, from, to } => {
                format!("migrate {} {from} -> {to}", self.name(*tid))
            }
            Event::OpCall { cpu, op, task, arg } => {
                let t = task
                    .map(|t| format!(" task={}", self.name(t)))
                    .unwrap_or_default();
                format!("op cpu={cpu} op={}{t} arg={arg:#x}", op.name())
            }
            Event::Kick {
                cpu,
                target,
                flags,
                breaker,
            } => format!(
                "kick cpu={cpu} target={target} flags={flags:#x}{}",
                if *breaker { " breaker" } else { "" }
            ),
            Event::KickDelivered { cpu, target } => format!("kicked cpu={cpu} target={target}"),
            Event::DsqDepth { dsq, depth } => format!("dsq id={dsq:#x} depth={depth}"),
            Event::DispatchRound {
                cpu,
                round,
                nr_tasks,
            } => {
                format!("round cpu={cpu} round={round} nr_tasks={nr_tasks}")
            }
            Event::WatchdogCheck { cpu } => format!("watchdog cpu={cpu}"),
            Event::ScxExit {
                kind,
                exit_code,
                reason,
                msg,
            } => format!(
                "scx_exit kind={kind} code={exit_code:#x} reason=\"{reason}\" msg=\"{msg}\""
            ),
            Event::ScxState { state } => format!("scx_state {state}"),
            Event::Log { line } => format!("log {line}"),
            Event::DumpLine { cpu, line } => format!("dump cpu={cpu} {line}"),
            Event::CpuStuck { cpu, what } => format!("stuck cpu={cpu} {what}"),
            Event::FastForward {
                cpu,
                from,
                reps,
                period,
            } => format!("fast_forward cpu={cpu} from={from} reps={reps} period={period}"),
        }
    }
}

impl<W: Write> Sink for TextTrace<W> {
    fn event(&mut self, time: u64, ev: &Event) {
        let line = self.format(ev);
        if self.error.is_none() {
            if let Err(e) = writeln!(
                self.out,
                "{:>6}.{:09} {line}",
                time / 1_000_000_000,
                time % 1_000_000_000
            ) {
                self.error = Some(e);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrevState;

    #[test]
    fn names_tasks_from_tasknew() {
        let mut t = TextTrace::new(Vec::new());
        t.event(
            1,
            &Event::TaskNew {
                tid: 3,
                pid: 42,
                tgid: 42,
                parent: None,
                comm: "sh".into(),
                prio: 120,
                kthread: false,
                idle_cpu: None,
            },
        );
        t.event(
            2_000_000_001,
            &Event::Switch {
                cpu: 1,
                prev: 3,
                prev_state: PrevState::Sleeping,
                next: 9,
            },
        );
        let s = String::from_utf8(t.into_inner()).unwrap();
        assert!(s.contains("new sh[42] parent=- prio=120"), "{s}");
        assert!(
            s.contains("     2.000000001 switch cpu=1 prev=sh[42] prev_state=S next=tid9"),
            "{s}"
        );
    }
}
