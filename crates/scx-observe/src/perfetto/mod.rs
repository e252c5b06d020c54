//! A Perfetto protobuf trace (`.pftrace`) written from the event stream, so
//! a simulated run opens in the Perfetto UI and trace processor like a
//! kernel trace recorded by `traced_probes`.
//!
//! What goes in (all timestamps are simulated ns on the boot clock):
//!
//! * A `SystemInfo` packet naming the kernel (`Linux 6.12.0-scxsim`), so
//!   the importer decodes `prev_state` with the 4.14+ bit layout.
//! * Per-CPU `FtraceEventBundle`s (sequence 1) with the scheduler
//!   tracepoints in their kernel form: `sched_switch` (`prev_state` from
//!   [`PrevState::bits`](crate::PrevState::bits), prios from
//!   `TaskNew`/`TaskPrio`), `sched_waking` (`target_cpu` = the task's CPU
//!   before the wakeup, as `task_cpu(p)` then), `sched_wakeup`,
//!   `sched_wakeup_new`, `sched_migrate_task`, `sched_process_exit`,
//!   `task_newtask` (forks) and `task_rename` (exec). `common_pid` is the
//!   task running on the event's CPU ([`TaskTable::event_cpu`]).
//!   Bundles are flushed all CPUs together every [`FLUSH_EVENTS`] events,
//!   so the file stays nearly time-ordered, as `traced_probes` writes it.
//! * `ProcessTree` packets for tasks created out of band (boot, the
//!   workload's initial tasks), which the kernel never forked on a CPU.
//!   Idle tasks are pid 0 `swapper/N`, which the importer knows without one.
//! * Track events (sequence 2, interned names): a `sched_ext` track group
//!   with a counter track per DSQ (`DSQ <name>`, from `DsqDepth`), per-CPU
//!   tracks of instants for ops callbacks (`OpCall`, with the task and the
//!   argument) and for kicks (`Kick`, the dispatch-loop breaker's self-kick
//!   named `kick (breaker)`; `KickDelivered`), a `scx state` track whose
//!   slices are the enable states, an `scx events` track (watchdog checks,
//!   the exit with kind, code, reason and message, class changes, the
//!   debug dump as an annotation), and a `kernel log` track of `printk`
//!   lines. `DispatchRound` events are not written: each round is visible
//!   as its `ops.dispatch()` call.
//!
//! The first packet of sequence 2 clears its incremental state; later
//! packets that use interned ids say they need it.

pub mod proto;

use crate::tasks::{dsq_name, TaskTable};
use crate::{Event, Sink, Tid};
use proto::*;
use std::collections::BTreeMap;
use std::io::Write;

/// Ftrace events buffered (over all CPUs) before bundles are written.
pub const FLUSH_EVENTS: usize = 4096;
/// Sequence of the ftrace bundles, process trees and system info.
pub const SEQ_FTRACE: u32 = 1;
/// Sequence of the track events and their descriptors.
pub const SEQ_TRACK: u32 = 2;
/// Kernel release written in `SystemInfo`.
pub const KERNEL_RELEASE: &str = "6.12.0-scxsim";

/// `clone_flags` of a user `fork()` (glibc: `CLONE_CHILD_SETTID |
/// CLONE_CHILD_CLEARTID | SIGCHLD`).
const CLONE_USER: u64 = 0x0120_0011;
/// `clone_flags` of `kernel_thread()` (`CLONE_VM | CLONE_FS | CLONE_FILES |
/// CLONE_UNTRACED | SIGCHLD`).
const CLONE_KTHREAD: u64 = 0x0080_0711;

/// Track kinds; a track's uuid is `kind << 32 | index`.
#[derive(Clone, Copy)]
enum Track {
    Root = 1,
    State = 2,
    Events = 3,
    Log = 4,
    Ops = 5,
    Kicks = 6,
    Dsq = 7,
}

fn uuid(kind: Track, index: u64) -> u64 {
    ((kind as u64) << 32) | index
}

/// A debug annotation value.
enum Val {
    Int(i64),
    Uint(u64),
    Str(String),
    Bool(bool),
}

/// Assigns interned ids in first-use order.
#[derive(Default)]
struct Interner {
    ids: BTreeMap<String, u64>,
}

impl Interner {
    /// The iid of `s`, recording a definition in `defs` if it is new.
    fn get(&mut self, s: &str, defs: &mut Vec<InternedString>) -> u64 {
        if let Some(&id) = self.ids.get(s) {
            return id;
        }
        let id = self.ids.len() as u64 + 1;
        self.ids.insert(s.to_string(), id);
        defs.push(InternedString {
            iid: Some(id),
            name: Some(s.to_string()),
        });
        id
    }
}

/// An exit's debug dump, attached to the trace at [`PerfettoTrace::finish`].
#[derive(Clone, Debug, Default)]
pub struct DumpNote {
    /// When the exit was claimed.
    pub at_ns: u64,
    /// Scheduler name.
    pub scheduler: String,
    /// Exit reason.
    pub reason: String,
    /// The dump text (may be empty).
    pub dump: String,
}

/// The Perfetto trace writer sink.
pub struct PerfettoTrace<W: Write> {
    out: W,
    buf: Vec<u8>,
    table: TaskTable,
    bundles: Vec<Vec<FtraceEvent>>,
    buffered: usize,
    names: Interner,
    ann_names: Interner,
    track_seq_started: bool,
    header_done: bool,
    dsq_tracks: BTreeMap<u64, u64>,
    dsq_last: BTreeMap<u64, u32>,
    state_open: bool,
    last_time: u64,
    finished: bool,
    /// First write error, if any (writing stops there).
    pub error: Option<std::io::Error>,
}

impl<W: Write> PerfettoTrace<W> {
    /// A trace writing to `out`.
    pub fn new(out: W) -> Self {
        PerfettoTrace {
            out,
            buf: Vec::with_capacity(1 << 16),
            table: TaskTable::new(),
            bundles: Vec::new(),
            buffered: 0,
            names: Interner::default(),
            ann_names: Interner::default(),
            track_seq_started: false,
            header_done: false,
            dsq_tracks: BTreeMap::new(),
            dsq_last: BTreeMap::new(),
            state_open: false,
            last_time: 0,
            finished: false,
            error: None,
        }
    }

    /// Ends the trace at `end_ns`: writes the buffered bundles, closes the
    /// open state slice, repeats each DSQ's depth at the end (so the trace
    /// spans the whole run), attaches the exits' debug dumps, and flushes.
    /// Events after this are ignored.
    pub fn finish(&mut self, end_ns: u64, dumps: &[DumpNote]) -> std::io::Result<()> {
        if !self.finished {
            self.header();
            self.flush_bundles();
            for d in dumps {
                self.dump_note(d);
            }
            let end = end_ns.max(self.last_time);
            if self.state_open {
                self.slice(end, uuid(Track::State, 0), TrackEventType::SliceEnd, None);
            }
            let last: Vec<(u64, u32)> = self.dsq_last.iter().map(|(k, v)| (*k, *v)).collect();
            for (dsq, depth) in last {
                self.counter(end, dsq, depth);
            }
            self.write_buf();
            self.finished = true;
            if self.error.is_none() {
                if let Err(e) = self.out.flush() {
                    self.error = Some(e);
                }
            }
        }
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// The writer (call [`PerfettoTrace::finish`] first).
    pub fn into_inner(self) -> W {
        self.out
    }

    // ------------------------------------------------------------------
    // Packet plumbing.

    fn write_packet(&mut self, p: &TracePacket) {
        encode_packet(p, &mut self.buf);
        if self.buf.len() >= 1 << 16 {
            self.write_buf();
        }
    }

    fn write_buf(&mut self) {
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(&self.buf) {
                self.error = Some(e);
            }
        }
        self.buf.clear();
    }

    fn seq_packet(seq: u32) -> TracePacket {
        TracePacket {
            trusted_packet_sequence_id: Some(seq),
            ..Default::default()
        }
    }

    fn timed_packet(seq: u32, t: u64) -> TracePacket {
        TracePacket {
            timestamp: Some(t),
            timestamp_clock_id: Some(CLOCK_BOOTTIME),
            ..Self::seq_packet(seq)
        }
    }

    /// System info and the static tracks, once the CPUs are known.
    fn header(&mut self) {
        if self.header_done {
            return;
        }
        self.header_done = true;
        let nr = self.table.nr_cpus() as u32;
        let info = SystemInfo {
            utsname: Some(Utsname {
                sysname: Some("Linux".into()),
                version: Some("#1 SMP PREEMPT_DYNAMIC scxsim".into()),
                release: Some(KERNEL_RELEASE.into()),
                machine: Some("x86_64".into()),
            }),
            num_cpus: Some(nr),
        };
        let p = TracePacket {
            system_info: Some(info),
            ..Self::seq_packet(SEQ_FTRACE)
        };
        self.write_packet(&p);
        self.bundles.resize_with(nr as usize, Vec::new);
        self.describe(uuid(Track::Root, 0), "sched_ext", None, 0, false);
        let root = Some(uuid(Track::Root, 0));
        self.describe(uuid(Track::State, 0), "scx state", root, 0, false);
        self.describe(uuid(Track::Events, 0), "scx events", root, 1, false);
        self.describe(uuid(Track::Log, 0), "kernel log", root, 2, false);
        for c in 0..nr {
            let rank = 10 + 2 * c as i32;
            let ops = format!("cpu{c} ops");
            self.describe(uuid(Track::Ops, c.into()), &ops, root, rank, false);
            let kicks = format!("cpu{c} kicks");
            self.describe(uuid(Track::Kicks, c.into()), &kicks, root, rank + 1, false);
        }
    }

    /// A track descriptor; the very first one clears sequence 2's state.
    fn describe(&mut self, id: u64, name: &str, parent: Option<u64>, rank: i32, counter: bool) {
        let mut p = Self::seq_packet(SEQ_TRACK);
        if !self.track_seq_started {
            self.track_seq_started = true;
            p.first_packet_on_sequence = Some(true);
            p.sequence_flags = Some(SEQ_INCREMENTAL_STATE_CLEARED);
        }
        p.track_descriptor = Some(TrackDescriptor {
            uuid: Some(id),
            name: Some(name.into()),
            parent_uuid: parent,
            counter: counter.then_some(CounterDescriptor {
                unit: Some(CounterUnit::Count as i32),
            }),
            child_ordering: parent.is_none().then_some(ChildOrdering::Explicit as i32),
            sibling_order_rank: parent.map(|_| rank),
            description: None,
        });
        self.write_packet(&p);
    }

    /// Writes one track event, interning its name when `interned`.
    fn track_event(&mut self, t: u64, mut ev: TrackEvent, name: &str, anns: Vec<(&str, Val)>) {
        let mut defs = InternedData::default();
        if ev.name.is_none() {
            ev.name_iid = Some(self.names.get(name, &mut defs.event_names));
        }
        for (k, v) in anns {
            let mut a = DebugAnnotation {
                name_iid: Some(self.ann_names.get(k, &mut defs.debug_annotation_names)),
                ..Default::default()
            };
            match v {
                Val::Int(i) => a.int_value = Some(i),
                Val::Uint(u) => a.uint_value = Some(u),
                Val::Str(s) => a.string_value = Some(s),
                Val::Bool(b) => a.bool_value = Some(b),
            }
            ev.debug_annotations.push(a);
        }
        let mut p = Self::timed_packet(SEQ_TRACK, t);
        p.sequence_flags = Some(SEQ_NEEDS_INCREMENTAL_STATE);
        if !defs.event_names.is_empty() || !defs.debug_annotation_names.is_empty() {
            p.interned_data = Some(defs);
        }
        p.track_event = Some(ev);
        self.write_packet(&p);
    }

    fn instant(&mut self, t: u64, track: u64, name: &str, anns: Vec<(&str, Val)>) {
        let ev = TrackEvent {
            r#type: Some(TrackEventType::Instant as i32),
            track_uuid: Some(track),
            ..Default::default()
        };
        self.track_event(t, ev, name, anns);
    }

    /// An instant whose name is not worth interning (log lines, reasons).
    fn instant_plain(&mut self, t: u64, track: u64, name: String, anns: Vec<(&str, Val)>) {
        let ev = TrackEvent {
            r#type: Some(TrackEventType::Instant as i32),
            track_uuid: Some(track),
            name: Some(name),
            ..Default::default()
        };
        self.track_event(t, ev, "", anns);
    }

    fn slice(&mut self, t: u64, track: u64, ty: TrackEventType, name: Option<&str>) {
        let ev = TrackEvent {
            r#type: Some(ty as i32),
            track_uuid: Some(track),
            ..Default::default()
        };
        match name {
            Some(n) => self.track_event(t, ev, n, Vec::new()),
            None => {
                let mut p = Self::timed_packet(SEQ_TRACK, t);
                p.track_event = Some(ev);
                self.write_packet(&p);
            }
        }
    }

    fn counter(&mut self, t: u64, dsq: u64, depth: u32) {
        let track = match self.dsq_tracks.get(&dsq) {
            Some(&u) => u,
            None => {
                let u = uuid(Track::Dsq, self.dsq_tracks.len() as u64);
                self.dsq_tracks.insert(dsq, u);
                let name = format!("DSQ {}", dsq_name(dsq));
                let rank = 1000 + self.dsq_tracks.len() as i32;
                self.describe(u, &name, Some(uuid(Track::Root, 0)), rank, true);
                u
            }
        };
        self.dsq_last.insert(dsq, depth);
        let mut p = Self::timed_packet(SEQ_TRACK, t);
        p.track_event = Some(TrackEvent {
            r#type: Some(TrackEventType::Counter as i32),
            track_uuid: Some(track),
            counter_value: Some(depth.into()),
            ..Default::default()
        });
        self.write_packet(&p);
    }

    fn dump_note(&mut self, d: &DumpNote) {
        let mut anns = vec![
            ("scheduler", Val::Str(d.scheduler.clone())),
            ("reason", Val::Str(d.reason.clone())),
        ];
        if !d.dump.is_empty() {
            anns.push(("dump", Val::Str(d.dump.clone())));
        }
        self.instant(d.at_ns, uuid(Track::Events, 0), "exit report", anns);
    }

    // ------------------------------------------------------------------
    // Ftrace.

    fn ftrace(&mut self, t: u64, cpu: u32, mut fe: FtraceEvent) {
        let c = cpu as usize;
        if self.bundles.len() <= c {
            self.bundles.resize_with(c + 1, Vec::new);
        }
        fe.timestamp = Some(t);
        if fe.pid.is_none() {
            fe.pid = Some(self.table.curr(cpu).map_or(0, |p| self.table.pid(p)));
        }
        self.bundles[c].push(fe);
        self.buffered += 1;
        if self.buffered >= FLUSH_EVENTS {
            self.flush_bundles();
        }
    }

    fn flush_bundles(&mut self) {
        for c in 0..self.bundles.len() {
            if self.bundles[c].is_empty() {
                continue;
            }
            let event = std::mem::take(&mut self.bundles[c]);
            let p = TracePacket {
                ftrace_events: Some(FtraceEventBundle {
                    cpu: Some(c as u32),
                    event,
                }),
                ..Self::seq_packet(SEQ_FTRACE)
            };
            self.write_packet(&p);
        }
        self.buffered = 0;
    }

    fn wakeup_fields(&self, tid: Tid, target_cpu: u32) -> SchedWakeup {
        SchedWakeup {
            comm: Some(self.table.comm(tid).to_string()),
            pid: Some(self.table.pid(tid) as i32),
            prio: Some(self.table.prio(tid)),
            success: None,
            target_cpu: Some(target_cpu as i32),
        }
    }

    fn switch_fields(&self, prev: Tid, state: u64, next: Tid) -> SchedSwitch {
        let t = &self.table;
        SchedSwitch {
            prev_comm: Some(t.comm(prev).to_string()),
            prev_pid: Some(t.pid(prev) as i32),
            prev_prio: Some(t.prio(prev)),
            prev_state: Some(state as i64),
            next_comm: Some(t.comm(next).to_string()),
            next_pid: Some(t.pid(next) as i32),
            next_prio: Some(t.prio(next)),
        }
    }

    /// A task created on no CPU: a process-tree entry.
    fn process_tree(&mut self, t: u64, ev: &Event) {
        let Event::TaskNew {
            pid,
            tgid,
            parent,
            comm,
            kthread,
            ..
        } = ev
        else {
            return;
        };
        let ppid = parent.map_or(0, |p| self.table.pid(p));
        let tree = ProcessTree {
            processes: vec![Process {
                pid: Some(*tgid as i32),
                ppid: Some(ppid as i32),
                cmdline: vec![comm.clone()],
                is_kthread: Some(*kthread),
                cmdline_is_comm: Some(true),
            }],
            threads: vec![Thread {
                tid: Some(*pid as i32),
                name: Some(comm.clone()),
                tgid: Some(*tgid as i32),
            }],
        };
        let mut p = Self::timed_packet(SEQ_FTRACE, t);
        p.process_tree = Some(tree);
        self.write_packet(&p);
    }

    fn task_new(&mut self, t: u64, ev: &Event) {
        let Event::TaskNew {
            pid,
            parent,
            comm,
            kthread,
            idle_cpu,
            ..
        } = ev
        else {
            return;
        };
        if idle_cpu.is_some() {
            return;
        }
        let forker = parent.and_then(|p| self.table.running_on(p).map(|c| (p, c)));
        let Some((par, cpu)) = forker else {
            self.process_tree(t, ev);
            return;
        };
        let fe = FtraceEvent {
            pid: Some(self.table.pid(par)),
            task_newtask: Some(TaskNewtask {
                pid: Some(*pid as i32),
                comm: Some(comm.clone()),
                clone_flags: Some(if *kthread { CLONE_KTHREAD } else { CLONE_USER }),
                oom_score_adj: Some(0),
            }),
            ..Default::default()
        };
        self.ftrace(t, cpu, fe);
    }

    fn sched_event(&mut self, t: u64, cpu: u32, ev: &Event) {
        let mut fe = FtraceEvent::default();
        match ev {
            Event::Switch {
                prev,
                prev_state,
                next,
                ..
            } => {
                fe.pid = Some(self.table.pid(*prev));
                fe.sched_switch = Some(self.switch_fields(*prev, prev_state.bits(), *next));
            }
            Event::Waking { tid, .. } => {
                let from = self.table.get(*tid).map_or(cpu, |i| i.cpu);
                fe.sched_waking = Some(self.wakeup_fields(*tid, from));
            }
            Event::Wakeup {
                tid,
                target_cpu,
                new,
                ..
            } => {
                let w = self.wakeup_fields(*tid, *target_cpu);
                if *new {
                    fe.sched_wakeup_new = Some(w);
                } else {
                    fe.sched_wakeup = Some(w);
                }
            }
            Event::Migrate { tid, from, to } => {
                let t = &self.table;
                fe.sched_migrate_task = Some(SchedMigrateTask {
                    comm: Some(t.comm(*tid).to_string()),
                    pid: Some(t.pid(*tid) as i32),
                    prio: Some(t.prio(*tid)),
                    orig_cpu: Some(*from as i32),
                    dest_cpu: Some(*to as i32),
                });
            }
            Event::TaskExit { tid } => {
                let t = &self.table;
                fe.pid = Some(t.pid(*tid));
                fe.sched_process_exit = Some(SchedProcessExit {
                    comm: Some(t.comm(*tid).to_string()),
                    pid: Some(t.pid(*tid) as i32),
                    tgid: Some(t.get(*tid).map_or(0, |i| i.tgid) as i32),
                    prio: Some(t.prio(*tid)),
                });
            }
            Event::TaskRename { tid, comm } => {
                fe.pid = Some(self.table.pid(*tid));
                fe.task_rename = Some(TaskRename {
                    pid: Some(self.table.pid(*tid) as i32),
                    oldcomm: Some(self.table.comm(*tid).to_string()),
                    newcomm: Some(comm.clone()),
                    oom_score_adj: Some(0),
                });
            }
            _ => return,
        }
        self.ftrace(t, cpu, fe);
    }

    // ------------------------------------------------------------------
    // sched_ext track events.

    fn task_label(&self, tid: Tid) -> String {
        format!("{}[{}]", self.table.comm(tid), self.table.pid(tid))
    }

    fn scx_event(&mut self, t: u64, ev: &Event) {
        let events = uuid(Track::Events, 0);
        match ev {
            Event::OpCall { cpu, op, task, arg } => {
                let mut anns = Vec::with_capacity(2);
                if let Some(p) = task {
                    anns.push(("task", Val::Str(self.task_label(*p))));
                }
                anns.push(("arg", Val::Uint(*arg)));
                self.instant(t, uuid(Track::Ops, (*cpu).into()), op.name(), anns);
            }
            Event::Kick {
                cpu,
                target,
                flags,
                breaker,
            } => {
                let name = if *breaker { "kick (breaker)" } else { "kick" };
                let anns = vec![
                    ("target_cpu", Val::Uint((*target).into())),
                    ("flags", Val::Uint(*flags)),
                    ("breaker", Val::Bool(*breaker)),
                ];
                self.instant(t, uuid(Track::Kicks, (*cpu).into()), name, anns);
            }
            Event::KickDelivered { cpu, target } => {
                let anns = vec![("from_cpu", Val::Uint((*cpu).into()))];
                let track = uuid(Track::Kicks, (*target).into());
                self.instant(t, track, "kick delivered", anns);
            }
            Event::DsqDepth { dsq, depth } => self.counter(t, *dsq, *depth),
            Event::WatchdogCheck { cpu } => {
                let anns = vec![("cpu", Val::Uint((*cpu).into()))];
                self.instant(t, events, "watchdog check", anns);
            }
            Event::ScxExit {
                kind,
                exit_code,
                reason,
                msg,
            } => {
                let anns = vec![
                    ("kind", Val::Uint((*kind).into())),
                    ("exit_code", Val::Int(*exit_code)),
                    ("reason", Val::Str(reason.clone())),
                    ("msg", Val::Str(msg.clone())),
                ];
                self.instant_plain(t, events, format!("scx_exit: {reason}"), anns);
            }
            Event::ScxState { state } => {
                let track = uuid(Track::State, 0);
                if self.state_open {
                    self.slice(t, track, TrackEventType::SliceEnd, None);
                }
                self.slice(t, track, TrackEventType::SliceBegin, Some(state));
                self.state_open = true;
            }
            Event::TaskClass { tid, class } => {
                let anns = vec![
                    ("task", Val::Str(self.task_label(*tid))),
                    ("class", Val::Str(class.symbol().into())),
                ];
                self.instant(t, events, "class change", anns);
            }
            Event::Log { line } => {
                self.instant_plain(t, uuid(Track::Log, 0), line.clone(), Vec::new());
            }
            Event::DumpLine { cpu, line } => {
                let anns = vec![("line", Val::Str(line.clone()))];
                self.instant(t, uuid(Track::Ops, (*cpu).into()), "sched_ext_dump", anns);
            }
            Event::CpuStuck { cpu, what } => {
                let anns = vec![("what", Val::Str(what.clone()))];
                self.instant(t, uuid(Track::Ops, (*cpu).into()), "cpu stuck", anns);
            }
            Event::FastForward {
                cpu, reps, period, ..
            } => {
                let anns = vec![
                    ("reps", Val::Uint(*reps)),
                    ("period_ns", Val::Uint(*period)),
                ];
                self.instant(t, uuid(Track::Ops, (*cpu).into()), "fast-forward", anns);
            }
            _ => {}
        }
    }
}

impl<W: Write> Sink for PerfettoTrace<W> {
    fn event(&mut self, time: u64, ev: &Event) {
        if self.finished || self.error.is_some() {
            return;
        }
        self.last_time = self.last_time.max(time);
        let boot_idle = matches!(
            ev,
            Event::TaskNew {
                idle_cpu: Some(_),
                ..
            }
        );
        if !boot_idle {
            self.header();
        }
        let cpu = self.table.event_cpu(ev);
        match ev {
            Event::TaskNew { .. } => self.task_new(time, ev),
            Event::Switch { .. }
            | Event::Waking { .. }
            | Event::Wakeup { .. }
            | Event::Migrate { .. }
            | Event::TaskExit { .. }
            | Event::TaskRename { .. } => self.sched_event(time, cpu, ev),
            _ => self.scx_event(time, ev),
        }
        self.table.apply(ev);
    }
}
