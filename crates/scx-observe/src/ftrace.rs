//! The event stream as `trace-cmd report` prints a recorded kernel trace,
//! for text tools (LISA, scripts written for real traces).
//!
//! Header: `version = 6` and `cpus=N`. Then one line per tracepoint, in
//! time order:
//!
//! ```text
//!               sh-14    [001]     0.007061554: sched_switch:         prev_comm=sh prev_pid=14 prev_prio=120 prev_state=S ==> next_comm=sh next_pid=17 next_prio=120
//! ```
//!
//! `comm-pid` of the task running on the CPU (`<idle>-0` for the idle
//! task), `[cpu]`, the timestamp in seconds with nanoseconds (`trace-cmd
//! report -t`), the event name padded to 20 columns, and the fields.
//!
//! Two styles:
//!
//! * [`FtraceStyle::Report`] — `trace-cmd report -N`: each event's kernel
//!   `TP_printk` format (6.12), e.g. `prev_state=S`, `target_cpu=001`.
//!   LISA reads this with `HRTxtTraceParser`.
//! * [`FtraceStyle::Raw`] — `trace-cmd report -N -R`: every field as
//!   `name=value` in format order, numbers raw (`prev_state=1`). LISA's
//!   default `TxtTraceParser` reads this.
//!
//! Events: `sched_switch`, `sched_waking`, `sched_wakeup`,
//! `sched_wakeup_new`, `sched_migrate_task`, `sched_process_exit`,
//! `task_newtask` (forks on a CPU), `task_rename` (exec), `console`
//! (`printk:console`, the kernel log) and `sched_ext_dump` (each line of a
//! debug dump). The other sched_ext events have no kernel tracepoint and
//! are left out (see the Perfetto trace for them). CPU
//! attribution is [`TaskTable::event_cpu`].

use crate::tasks::TaskTable;
use crate::{Event, Sink, Tid};
use std::io::Write;

/// Which `trace-cmd report` output to imitate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FtraceStyle {
    /// `trace-cmd report -N -t`: the kernel's print formats.
    Report,
    /// `trace-cmd report -N -t -R`: raw `field=value` lists.
    Raw,
}

/// `TASK_REPORT_MAX`: `sched_switch` ORs it in for a preempted task.
const TASK_REPORT_MAX: u64 = 0x100;
/// `sched_switch`'s `__print_flags` table.
const STATE_FLAGS: [(u64, &str); 8] = [
    (0x01, "S"),
    (0x02, "D"),
    (0x04, "T"),
    (0x08, "t"),
    (0x10, "X"),
    (0x20, "Z"),
    (0x40, "P"),
    (0x80, "I"),
];

/// `prev_state` as `sched_switch`'s `TP_printk` prints it.
pub fn prev_state_str(bits: u64) -> String {
    let low = bits & (TASK_REPORT_MAX - 1);
    let mut s = if low == 0 {
        "R".to_string()
    } else {
        let names: Vec<&str> = STATE_FLAGS
            .iter()
            .filter(|(b, _)| low & b != 0)
            .map(|(_, n)| *n)
            .collect();
        names.join("|")
    };
    if bits & TASK_REPORT_MAX != 0 {
        s.push('+');
    }
    s
}

/// A field value.
enum F<'a> {
    Str(&'a str),
    Num(i64),
    /// `%03d` in the print format, plain in raw.
    Cpu(u32),
    /// `unsigned long`: `%lx` in the print format, `0x%lx` in raw.
    Hex(u64),
    /// `prev_state`: decoded in the print format, a number in raw.
    State(u64),
}

/// The trace-cmd-style text writer.
pub struct FtraceText<W: Write> {
    out: W,
    style: FtraceStyle,
    table: TaskTable,
    header_done: bool,
    /// First write error, if any.
    pub error: Option<std::io::Error>,
}

impl<W: Write> FtraceText<W> {
    /// A writer in `style` to `out`.
    pub fn new(out: W, style: FtraceStyle) -> Self {
        FtraceText {
            out,
            style,
            table: TaskTable::new(),
            header_done: false,
            error: None,
        }
    }

    /// Flushes; returns the first write error.
    pub fn finish(&mut self) -> std::io::Result<()> {
        if !self.header_done {
            self.header();
        }
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }

    /// The writer.
    pub fn into_inner(self) -> W {
        self.out
    }

    fn write(&mut self, s: &str) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(s.as_bytes()) {
                self.error = Some(e);
            }
        }
    }

    fn header(&mut self) {
        self.header_done = true;
        let h = format!("version = 6\ncpus={}\n", self.table.nr_cpus());
        self.write(&h);
    }

    /// Formats one event line.
    fn line(&self, t: u64, cpu: u32, pid: u32, name: &str, fields: &[(&str, F)]) -> String {
        let comm = if pid == 0 {
            "<idle>"
        } else {
            self.table
                .curr(cpu)
                .filter(|c| self.table.pid(*c) == pid)
                .map_or("<...>", |c| self.table.comm(c))
        };
        let pad = " ".repeat(20usize.saturating_sub(name.len()));
        let body = match self.style {
            FtraceStyle::Report => self.printk_fields(name, fields),
            FtraceStyle::Raw => raw_fields(fields),
        };
        format!(
            "{comm:>16}-{pid:<5} [{cpu:03}] {:>5}.{:09}: {name}: {pad}{body}\n",
            t / 1_000_000_000,
            t % 1_000_000_000
        )
    }

    /// The kernel's `TP_printk` rendering.
    fn printk_fields(&self, name: &str, fields: &[(&str, F)]) -> String {
        let mut parts: Vec<String> = fields.iter().map(|(k, v)| fmt_printk(k, v)).collect();
        if name == "sched_switch" && parts.len() == 7 {
            parts[3].push_str(" ==>");
        }
        if name == "console" || name == "sched_ext_dump" {
            return fields
                .first()
                .map_or(String::new(), |(_, v)| value(v, false));
        }
        parts.join(" ")
    }

    fn task_fields(&self, tid: Tid) -> [(&'static str, F<'_>); 3] {
        [
            ("comm", F::Str(self.table.comm(tid))),
            ("pid", F::Num(self.table.pid(tid).into())),
            ("prio", F::Num(self.table.prio(tid).into())),
        ]
    }

    fn curr_pid(&self, cpu: u32) -> u32 {
        self.table.curr(cpu).map_or(0, |c| self.table.pid(c))
    }

    /// The line for `ev`, if it is a tracepoint this format carries.
    fn format(&self, t: u64, ev: &Event) -> Option<String> {
        let cpu = self.table.event_cpu(ev);
        let tb = &self.table;
        let line = match ev {
            Event::Switch {
                prev,
                prev_state,
                next,
                ..
            } => {
                let f = [
                    ("prev_comm", F::Str(tb.comm(*prev))),
                    ("prev_pid", F::Num(tb.pid(*prev).into())),
                    ("prev_prio", F::Num(tb.prio(*prev).into())),
                    ("prev_state", F::State(prev_state.bits())),
                    ("next_comm", F::Str(tb.comm(*next))),
                    ("next_pid", F::Num(tb.pid(*next).into())),
                    ("next_prio", F::Num(tb.prio(*next).into())),
                ];
                self.line(t, cpu, tb.pid(*prev), "sched_switch", &f)
            }
            Event::Waking { tid, .. } => {
                let from = tb.get(*tid).map_or(cpu, |i| i.cpu);
                self.wakeup_line(t, cpu, "sched_waking", *tid, from)
            }
            Event::Wakeup {
                tid,
                target_cpu,
                new,
                ..
            } => {
                let name = if *new {
                    "sched_wakeup_new"
                } else {
                    "sched_wakeup"
                };
                self.wakeup_line(t, cpu, name, *tid, *target_cpu)
            }
            Event::Migrate { tid, from, to } => {
                let mut f: Vec<(&str, F)> = self.task_fields(*tid).into();
                f.push(("orig_cpu", F::Num((*from).into())));
                f.push(("dest_cpu", F::Num((*to).into())));
                self.line(t, cpu, self.curr_pid(cpu), "sched_migrate_task", &f)
            }
            Event::TaskExit { tid } => {
                let f = self.task_fields(*tid);
                self.line(t, cpu, tb.pid(*tid), "sched_process_exit", &f)
            }
            Event::TaskNew {
                pid,
                parent: Some(par),
                comm,
                kthread,
                ..
            } if tb.running_on(*par).is_some() => {
                let flags = if *kthread { 0x0080_0711 } else { 0x0120_0011 };
                let f = [
                    ("pid", F::Num((*pid).into())),
                    ("comm", F::Str(comm)),
                    ("clone_flags", F::Hex(flags)),
                    ("oom_score_adj", F::Num(0)),
                ];
                self.line(t, cpu, tb.pid(*par), "task_newtask", &f)
            }
            Event::TaskRename { tid, comm } => {
                let f = [
                    ("pid", F::Num(tb.pid(*tid).into())),
                    ("oldcomm", F::Str(tb.comm(*tid))),
                    ("newcomm", F::Str(comm)),
                    ("oom_score_adj", F::Num(0)),
                ];
                self.line(t, cpu, tb.pid(*tid), "task_rename", &f)
            }
            Event::Log { line } => {
                let f = [("msg", F::Str(line))];
                self.line(t, cpu, self.curr_pid(cpu), "console", &f)
            }
            Event::DumpLine { line, .. } => {
                let f = [("line", F::Str(line))];
                self.line(t, cpu, self.curr_pid(cpu), "sched_ext_dump", &f)
            }
            _ => return None,
        };
        Some(line)
    }

    fn wakeup_line(&self, t: u64, cpu: u32, name: &str, tid: Tid, target: u32) -> String {
        let mut f: Vec<(&str, F)> = self.task_fields(tid).into();
        f.push(("target_cpu", F::Cpu(target)));
        self.line(t, cpu, self.curr_pid(cpu), name, &f)
    }
}

/// One field in its `TP_printk` form.
fn fmt_printk(k: &str, v: &F) -> String {
    format!("{k}={}", value(v, false))
}

/// `trace-cmd report -R`: `name=value ...`.
fn raw_fields(fields: &[(&str, F)]) -> String {
    let parts: Vec<String> = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", value(v, true)))
        .collect();
    parts.join(" ")
}

fn value(v: &F, raw: bool) -> String {
    match (v, raw) {
        (F::Str(s), _) => (*s).to_string(),
        (F::Num(n), _) => n.to_string(),
        (F::Cpu(c), false) => format!("{c:03}"),
        (F::Cpu(c), true) => c.to_string(),
        (F::Hex(h), false) => format!("{h:x}"),
        (F::Hex(h), true) => format!("{h:#x}"),
        (F::State(s), false) => prev_state_str(*s),
        (F::State(s), true) => s.to_string(),
    }
}

impl<W: Write> Sink for FtraceText<W> {
    fn event(&mut self, time: u64, ev: &Event) {
        let boot_idle = matches!(
            ev,
            Event::TaskNew {
                idle_cpu: Some(_),
                ..
            }
        );
        if !boot_idle && !self.header_done {
            self.header();
        }
        if let Some(line) = self.format(time, ev) {
            self.write(&line);
        }
        self.table.apply(ev);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrevState;

    fn boot(s: &mut FtraceText<Vec<u8>>) {
        for (tid, comm, idle) in [(0, "swapper/0", Some(0)), (1, "sh", None)] {
            s.event(
                0,
                &Event::TaskNew {
                    tid,
                    pid: tid * 14,
                    tgid: tid * 14,
                    parent: None,
                    comm: comm.into(),
                    prio: 120,
                    kthread: false,
                    idle_cpu: idle,
                },
            );
        }
    }

    fn run(style: FtraceStyle) -> String {
        let mut s = FtraceText::new(Vec::new(), style);
        boot(&mut s);
        s.event(5, &Event::Waking { cpu: 0, tid: 1 });
        s.event(
            1_000_000_150,
            &Event::Switch {
                cpu: 0,
                prev: 0,
                prev_state: PrevState::Running,
                next: 1,
            },
        );
        s.event(
            2_000_000_000,
            &Event::Switch {
                cpu: 0,
                prev: 1,
                prev_state: PrevState::Dead,
                next: 0,
            },
        );
        s.finish().unwrap();
        String::from_utf8(s.into_inner()).unwrap()
    }

    #[test]
    fn report_style_lines() {
        let out = run(FtraceStyle::Report);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(lines[0], "version = 6");
        assert_eq!(lines[1], "cpus=1");
        assert_eq!(
            lines[2],
            "          <idle>-0     [000]     0.000000005: sched_waking:         \
             comm=sh pid=14 prio=120 target_cpu=000"
        );
        assert_eq!(
            lines[3],
            "          <idle>-0     [000]     1.000000150: sched_switch:         \
             prev_comm=swapper/0 prev_pid=0 prev_prio=120 prev_state=R ==> \
             next_comm=sh next_pid=14 next_prio=120"
        );
        assert!(lines[4].starts_with("              sh-14    [000]     2.000000000:"));
        assert!(lines[4].contains("prev_state=X ==> next_comm=swapper/0"));
    }

    #[test]
    fn raw_style_lines() {
        let out = run(FtraceStyle::Raw);
        assert!(out.contains(
            "sched_switch:         prev_comm=sh prev_pid=14 prev_prio=120 prev_state=16 \
             next_comm=swapper/0 next_pid=0 next_prio=120"
        ));
        assert!(out.contains("sched_waking:         comm=sh pid=14 prio=120 target_cpu=0"));
    }

    #[test]
    fn prev_state_strings() {
        assert_eq!(prev_state_str(0), "R");
        assert_eq!(prev_state_str(0x100), "R+");
        assert_eq!(prev_state_str(0x1), "S");
        assert_eq!(prev_state_str(0x3), "S|D");
        assert_eq!(prev_state_str(0x80), "I");
    }
}
