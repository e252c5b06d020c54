//! How a sched_ext scheduler ends (spec safety.md §1-§7, ext.c of 6.12.117):
//! every exit kind with its reason; the first exit wins; the exit is
//! asynchronous (callbacks go on until the disable work); the disable path
//! in the kernel's order (bypass, per-task quiescent/disable/exit_task,
//! the log lines, `ops.exit()` once); the debug dump's shape, the
//! scheduler's dump ops and truncation; a panicking Rust scheduler becomes
//! an scx error; and the stall watchdog — `<comm>[<pid>] failed to run for
//! N.NNNs` between timeout and 1.5×timeout after the task became runnable,
//! first stalled task by CPU then list order, and the tick's "watchdog
//! failed to check in" when the watchdog's kworker is starved.

mod common;
#[path = "common/errors_util.rs"]
mod errors_util;

use common::*;
use errors_util::*;
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_machine::Cpumask;
use scx_observe::Event;
use scx_workload::{Step, TaskSpec};

fn sim(probe: Probe) -> Sim {
    run_probe(2, std_tasks(), probe, 110 * MS)
}

// ---------------------------------------------------------------------
// Exit kinds and the exit claim

/// User space detaching: SCX_EXIT_UNREG (64), "unregistered from user
/// space", no message, no dump (ext.c:5818-5822, scx_ops_disable()).
#[test]
fn detach_is_unreg() {
    let mut s = sim(Probe::fifo());
    assert!(s.k.scx.last_exit.is_none());
    s.k.detach();
    s.k.run_until(s.k.now + 20 * MS);
    assert_exit(&mut s, EXIT_UNREG, "");
}

/// SysRq-S: SCX_EXIT_SYSRQ (67), "disabled by sysrq-S"; before any
/// scheduler was ever enabled only a log line (ext.c:5947-5960).
#[test]
fn sysrq_s() {
    let (mut k, _rec) = machine(2, std_tasks());
    k.run_until(10 * MS);
    k.sysrq_s();
    k.run_until(20 * MS);
    assert!(log_lines(&k).contains(&"sched_ext: BPF scheduler not yet used".to_string()));
    assert!(k.scx.last_exit.is_none());

    let mut s = sim(Probe::fifo());
    s.k.sysrq_s();
    s.k.run_until(s.k.now + 20 * MS);
    assert_exit(&mut s, EXIT_SYSRQ, "");
}

/// Only the first exit is recorded; later errors, exits and the detach are
/// dropped without a trace (ext.c:5180-5209 step 1).
#[test]
fn first_exit_wins() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Dispatch {
            cx.error("first");
            cx.error("second");
            cx.exit(5, "third");
            cx.consume(SCX_DSQ_GLOBAL);
        }
        None
    });
    let mut s = sim(probe);
    s.k.detach();
    s.k.run_until(s.k.now + 20 * MS);
    assert!(!log_lines(&s.k)
        .iter()
        .any(|l| l.contains("second") || l.contains("third") || l.contains("invalid DSQ ID")));
    assert_exit(&mut s, EXIT_ERROR_BPF, "first");
}

/// The message is cut to SCX_EXIT_MSG_LEN - 1 = 1023 bytes.
#[test]
fn long_messages_are_truncated() {
    let long: String = (0..2000)
        .map(|i| char::from(b'a' + (i % 26) as u8))
        .collect();
    let l2 = long.clone();
    let probe = Probe::fifo().hook(move |cx, c| {
        if c.op == Op::Dispatch {
            cx.error(&l2);
        }
        None
    });
    let mut s = sim(probe);
    assert_exit(&mut s, EXIT_ERROR_BPF, &long[..1023]);
}

/// An error kind records a backtrace (`ei->bt`, ext.c:5193-5196): the
/// dump's "Backtrace:" section and the disable log list at least one frame.
#[test]
fn error_exits_carry_a_backtrace() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Dispatch {
            cx.dispatch_cancel();
        }
        None
    });
    let s = sim(probe);
    let e = s.k.scx.last_exit.clone().expect("exit");
    assert!(!e.info.bt.is_empty());
    let after = e
        .info
        .dump
        .split("\nBacktrace:\n")
        .nth(1)
        .expect("Backtrace:");
    assert!(
        after.starts_with("  ") && !after.starts_with("  \n"),
        "{}",
        e.info.dump
    );
    let lines = log_lines(&s.k);
    let i = lines
        .iter()
        .position(|l| l == "sched_ext: test: dispatch buffer underflow")
        .unwrap();
    assert!(
        lines.get(i + 1).is_some_and(|l| l.starts_with("   ")),
        "{lines:#?}"
    );
}

/// The exit is asynchronous (safety.md §2.3): after the claim the kernel
/// keeps calling the scheduler — here the preempted task's ops.stopping()
/// when the RT disable helper takes its CPU — until the disable work
/// switches on bypass.
#[test]
fn callbacks_continue_until_the_disable_work() {
    let probe = Probe::fifo().with(Op::Tick).hook(|cx, c| {
        if c.op == Op::Tick && cx.ktime_get_ns() > 30 * MS {
            cx.error("from tick");
        }
        None
    });
    let tasks = vec![hog("a"), hog("b"), hog("c")];
    let mut s = run_probe(2, tasks, probe, 110 * MS);
    let evs = s.rec.events();
    let claim = evs
        .iter()
        .position(|(_, e)| matches!(e, Event::ScxExit { .. }))
        .unwrap();
    let disabling = evs
        .iter()
        .position(|(_, e)| matches!(e, Event::ScxState { state: "disabling" }))
        .unwrap();
    let between: Vec<Op> = evs[claim..disabling]
        .iter()
        .filter_map(|(_, e)| match e {
            Event::OpCall { op, .. } => Some(*op),
            _ => None,
        })
        .collect();
    assert!(between.contains(&Op::Stopping), "{between:?}");
    // The disable work ran on the RT helper kthread, later than the claim.
    let e = s.k.scx.last_exit.clone().unwrap();
    assert!(e.disabled_at > e.claimed_at);
    assert!(e.disabled_at - e.claimed_at < MS, "{e:?}");
    assert_exit(&mut s, EXIT_ERROR_BPF, "from tick");
}

/// The disable path's per-task callbacks (safety.md §5 step 9): after the
/// state becomes "disabling", each task gets — in this order — ops.stopping
/// (false) if running, ops.quiescent(DEQUEUE_SAVE|MOVE|NOCLOCK = 0x0e) if
/// queued, ops.disable, ops.exit_task(cancelled=false); nothing else, and
/// ops.exit() comes after all of them.
#[test]
fn disable_path_per_task_callbacks() {
    let probe = Probe::fifo().with(Op::Tick).hook(|cx, c| {
        if c.op == Op::Tick && cx.ktime_get_ns() > 40 * MS {
            cx.error("enough");
        }
        None
    });
    let tasks = vec![hog("a"), hog("b"), hog("c"), run_sleep("rs", MS, 5 * MS)];
    let mut s = run_probe(2, tasks, probe, 110 * MS);
    let evs = s.rec.events();
    let disabling = evs
        .iter()
        .position(|(_, e)| matches!(e, Event::ScxState { state: "disabling" }))
        .unwrap();
    let mut per_task: std::collections::BTreeMap<u32, Vec<(Op, u64)>> = Default::default();
    for (_, e) in &evs[disabling..] {
        if let Event::OpCall {
            op,
            task: Some(t),
            arg,
            ..
        } = e
        {
            per_task.entry(*t).or_default().push((*op, *arg));
        }
    }
    let enabled: Vec<u32> = s
        .rec
        .events()
        .iter()
        .filter_map(|(_, e)| match e {
            Event::OpCall {
                op: Op::Enable,
                task: Some(t),
                ..
            } => Some(*t),
            _ => None,
        })
        .collect();
    assert!(enabled.len() > 5, "{enabled:?}");
    let (mut running, mut queued) = (0, 0);
    for t in &enabled {
        let seq = per_task.get(t).cloned().unwrap_or_default();
        let tail = [(Op::Disable, 0), (Op::ExitTask, 0)];
        let ok = match seq.len() {
            2 => seq[..] == tail,
            3 => seq[0] == (Op::Quiescent, 0x0e) && seq[1..] == tail,
            4 => seq[0] == (Op::Stopping, 0) && seq[1] == (Op::Quiescent, 0x0e) && seq[2..] == tail,
            _ => false,
        };
        assert!(ok, "task {t}: {seq:?}");
        running += usize::from(seq.len() == 4);
        queued += usize::from(seq.len() >= 3);
    }
    // Two CPUs, three hogs: one hog is running on the CPU the disable
    // helper does not occupy, and at least the third hog is queued.
    assert_eq!(running, 1, "{per_task:?}");
    assert!(queued >= 2, "{per_task:?}");
    let exit_at = evs
        .iter()
        .rposition(|(_, e)| matches!(e, Event::OpCall { op: Op::Exit, .. }))
        .unwrap();
    let last_task_op = evs
        .iter()
        .rposition(|(_, e)| matches!(e, Event::OpCall { task: Some(_), .. }))
        .unwrap();
    assert!(last_task_op < exit_at);
    assert_exit(&mut s, EXIT_ERROR_BPF, "enough");
}

/// `ops.exit()` is called for an exit claimed before the scheduler ever
/// reached ENABLED (scx_bpf_exit() from ops.init()), and the attach still
/// returns 0 (safety.md §9.2).
#[test]
fn exit_from_init() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Init {
            cx.exit(3, "not today");
            return Some(i64::from(cx.create_dsq(DSQ, -1)));
        }
        None
    });
    let mut s = sim(probe);
    assert_eq!(s.k.attach_result(), Some(0));
    assert!(!log_lines(&s.k).iter().any(|l| l.contains("enabled")));
    assert_exit_code(&mut s, EXIT_UNREG_BPF, 3, "not today");
}

/// A new scheduler can be attached after the previous one exited, and its
/// exit is its own.
#[test]
fn attach_again_after_an_exit() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Dispatch {
            cx.error("one");
        }
        None
    });
    let mut s = sim(probe);
    assert_eq!(s.k.scx.last_exit.as_ref().unwrap().info.msg, "one");
    let p2 = Probe::fifo();
    let log2 = p2.log.clone();
    attach(&mut s.k, p2);
    s.k.run_until(s.k.now + 50 * MS);
    assert!(s.k.scx.enabled);
    s.k.detach();
    s.k.run_until(s.k.now + 20 * MS);
    let e = s.k.scx.last_exit.clone().unwrap();
    assert_eq!((e.info.kind, e.info.msg.as_str()), (EXIT_UNREG, ""));
    assert_eq!(log2.borrow().exits.len(), 1);
    assert_eq!(s.k.scx.disable_seq, 2);
    assert_all_fair(&mut s.k);
}

// ---------------------------------------------------------------------
// The debug dump (ext.c:4891-5166)

/// The dump's layout: header, backtrace, ops.dump lines after a blank
/// line, "CPU states", per CPU `CPU %-4d: nr_run=...` and `curr=...`
/// with ops.dump_cpu lines (prefix 2 spaces), per-task blocks with
/// ops.dump_task lines (prefix 4 spaces); the scheduler's dump text is
/// split at newlines.
#[test]
fn dump_layout_with_dump_ops() {
    let probe = Probe::fifo()
        .with(Op::Dump)
        .with(Op::DumpCpu)
        .with(Op::DumpTask)
        .with(Op::Tick)
        .hook(|cx, c| {
            match c.op {
                Op::Tick if cx.ktime_get_ns() > 30 * MS => cx.error("dump me"),
                Op::Dump => cx.dump("DUMP one\nDUMP two\n"),
                Op::DumpCpu => cx.dump(&format!("DCPU {} idle={}", c.cpu, c.arg)),
                Op::DumpTask => {
                    let pid = cx.task(c.task.unwrap()).pid();
                    cx.dump(&format!("DTASK {pid}"));
                }
                _ => {}
            }
            None
        });
    let tasks = vec![hog("a"), hog("b"), hog("c")];
    let mut s = run_probe(2, tasks, probe, 110 * MS);
    let e = s.k.scx.last_exit.clone().unwrap();
    let d = &e.info.dump;
    let lines: Vec<&str> = d.lines().collect();
    let (comm, pid) = lines[0]
        .strip_suffix(" triggered exit kind 1025:")
        .and_then(|h| h.strip_suffix(']'))
        .and_then(|h| h.rsplit_once('['))
        .unwrap_or_else(|| panic!("header: {}", lines[0]));
    let pid: u32 = pid.parse().unwrap();
    let t = s.k.task(s.k.task_by_pid(pid).expect("the dumping task"));
    assert_eq!(t.comm, comm);
    assert_eq!(lines[1], "  scx_bpf_error (dump me)");
    assert_eq!(lines[2], "");
    assert_eq!(lines[3], "Backtrace:");
    let i = lines
        .iter()
        .position(|l| *l == "DUMP one")
        .expect("ops.dump lines");
    assert_eq!(lines[i - 1], "", "a blank line before the ops.dump output");
    assert_eq!(lines[i + 1], "DUMP two");
    assert_eq!(&lines[i + 2..i + 5], ["", "CPU states", "----------"]);
    for cpu in 0..2 {
        let head = format!("CPU {cpu:<4}: nr_run=");
        let c = lines
            .iter()
            .position(|l| l.starts_with(&head))
            .unwrap_or_else(|| panic!("no {head:?} in\n{d}"));
        assert_eq!(lines[c - 1], "");
        assert!(
            lines[c].contains(" flags=0x")
                && lines[c].contains(" cpu_rel=")
                && lines[c].contains(" pnt_seq=")
        );
        assert!(lines[c + 1].starts_with("          curr=") && lines[c + 1].contains(" class="));
        // ops.dump_cpu after a blank line, with a two-space prefix.
        let dc = lines[c..]
            .iter()
            .position(|l| l.starts_with("  DCPU "))
            .map(|x| x + c)
            .expect("dump_cpu output");
        assert_eq!(lines[dc], format!("  DCPU {cpu} idle=0"));
        assert_eq!(lines[dc - 1], "");
    }
    // Every task block: marker line, three detail lines, then the
    // dump_task line with a four-space prefix after a blank line.
    let mut blocks = 0;
    for (i, l) in lines.iter().enumerate() {
        let Some(rest) = l.strip_prefix(" *R ").or_else(|| l.strip_prefix("  R ")) else {
            continue;
        };
        blocks += 1;
        let (name, delta) = rest.rsplit_once(' ').unwrap();
        assert!(
            delta.ends_with("ms") && (delta.starts_with('+') || delta.starts_with('-')),
            "{l}"
        );
        let pid = name.trim_end_matches(']').rsplit_once('[').unwrap().1;
        assert!(
            lines[i + 1].starts_with("      scx_state/flags="),
            "{}",
            lines[i + 1]
        );
        assert!(
            lines[i + 1].contains(" dsq_flags=0x") && lines[i + 1].contains(" ops_state/qseq=")
        );
        assert!(lines[i + 2].starts_with("      sticky/holding_cpu="));
        assert!(lines[i + 2].contains(" dsq_id=") && lines[i + 2].contains(" dsq_vtime="));
        assert!(lines[i + 3].starts_with("      cpus="));
        assert_eq!(lines[i + 4], "");
        assert_eq!(lines[i + 5], format!("    DTASK {pid}"));
    }
    // Three hogs and the two kworkers/helpers around: at least the hogs.
    assert!(blocks >= 3, "{d}");
    assert_exit(&mut s, EXIT_ERROR_BPF, "dump me");
}

/// The `sched_ext_dump` events emitted since `from` (time order).
fn dump_events(s: &Sim, from: u64) -> Vec<String> {
    s.rec
        .events()
        .into_iter()
        .filter(|(t, _)| *t >= from)
        .filter_map(|(_, e)| match e {
            Event::DumpLine { line, .. } => Some(line),
            _ => None,
        })
        .collect()
}

/// Every line of an error dump, blank ones included, also goes to the
/// `sched_ext_dump` tracepoint (dump_line()/dump_newline(), ext.c): with
/// no idle CPU block abandoned, the traced lines are the dump's text.
#[test]
fn error_dump_lines_go_to_the_tracepoint() {
    let probe = Probe::fifo().with(Op::Dump).with(Op::Tick).hook(|cx, c| {
        match c.op {
            Op::Tick if cx.ktime_get_ns() > 30 * MS => cx.error("dump me"),
            Op::Dump => cx.dump("DUMP one\n"),
            _ => {}
        }
        None
    });
    let s = run_probe(2, std_tasks(), probe, 110 * MS);
    let e = s.k.scx.last_exit.clone().unwrap();
    let traced = dump_events(&s, 0);
    assert!(traced.len() > 10, "{traced:?}");
    let text: String = traced.iter().map(|l| format!("{l}\n")).collect();
    assert_eq!(text, e.info.dump);
}

/// SysRq-D (ext.c sysrq_handle_sched_ext_dump()): a dump of kind NONE,
/// header "Debug dump triggered by SysRq-D", into a zero-sized buffer, so
/// only the tracepoint sees it; ops.dump runs; the scheduler carries on.
/// The task it interrupted shows the SysRq handler's frames.
#[test]
fn sysrq_d_dumps_to_the_tracepoint_and_the_scheduler_goes_on() {
    let probe = Probe::fifo().with(Op::Dump).hook(|cx, c| {
        if c.op == Op::Dump {
            cx.dump("DUMP hello\n");
        }
        None
    });
    let mut s = run_probe(2, std_tasks(), probe, 50 * MS);
    let at = s.k.now;
    s.k.sysrq_d(0);
    let lines = dump_events(&s, at);
    assert_eq!(lines[0], "Debug dump triggered by SysRq-D");
    assert_eq!(&lines[1..3], ["", "DUMP hello"]);
    let states = lines
        .iter()
        .position(|l| l == "CPU states")
        .expect("CPU states");
    assert_eq!(lines[states + 1], "----------");
    let curr = s.k.rqs[0].curr;
    if s.k.task(curr).class == scx_kernel::task::Class::Ext {
        let i = lines
            .iter()
            .position(|l| l.starts_with(" *R "))
            .expect("current task");
        assert!(lines[i..].contains(&"    sysrq_handle_sched_ext_dump".to_string()));
    }
    s.k.run_until(at + 50 * MS);
    assert!(s.k.scx.last_exit.is_none(), "SysRq-D ended the scheduler");
    assert!(s.k.scx.enabled);
    // Without a scheduler there is nothing to dump.
    s.k.detach();
    s.k.run_until(s.k.now + 20 * MS);
    let after = s.k.now;
    s.k.sysrq_d(0);
    assert!(dump_events(&s, after).is_empty());
}

/// `exit_dump_len` bounds the dump; an overflowed dump ends with the
/// truncation marker in its last 23 bytes (incl. the NUL), so the text is
/// `exit_dump_len - 1` bytes (ext.c:5160-5162).
#[test]
fn dump_truncated_to_exit_dump_len() {
    for len in [300u32, 600] {
        let mut probe = Probe::fifo().hook(|cx, c| {
            if c.op == Op::Dispatch {
                cx.error("truncate me");
            }
            None
        });
        probe.info.exit_dump_len = len;
        let mut s = run_probe(2, vec![hog("a"), hog("b"), hog("c")], probe, 110 * MS);
        let e = s.k.scx.last_exit.clone().unwrap();
        assert_eq!(e.info.dump.len(), len as usize - 1, "{:?}", e.info.dump);
        assert!(e.info.dump.ends_with("\n\n~~~~ TRUNCATED ~~~~\n"));
        assert!(e
            .info
            .dump
            .contains("triggered exit kind 1025:\n  scx_bpf_error (truncate me)"));
        assert_exit(&mut s, EXIT_ERROR_BPF, "truncate me");
    }
}

/// Without a dump length the default is 32768 and a small machine's dump
/// fits: no marker.
#[test]
fn default_dump_is_not_truncated() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Dispatch {
            cx.error("x");
        }
        None
    });
    let s = sim(probe);
    let d = &s.k.scx.last_exit.as_ref().unwrap().info.dump;
    assert!(!d.contains("TRUNCATED") && d.len() < 32768);
}

// ---------------------------------------------------------------------
// A panicking Rust scheduler (ext/call.rs)

/// A panic inside a callback becomes an SCX_EXIT_ERROR "ops.<op>()
/// panicked: <msg>" and the simulation carries on: the op's fallback
/// applies and every task ends on the fair class.
#[test]
fn panics_become_scx_errors() {
    for op in [
        Op::Enqueue,
        Op::Dispatch,
        Op::SelectCpu,
        Op::Running,
        Op::Stopping,
        Op::Tick,
        Op::InitTask,
        Op::Init,
    ] {
        let probe = Probe::fifo()
            .with(Op::SelectCpu)
            .with(Op::Tick)
            .hook(move |_, c| {
                if c.op == op {
                    panic!("boom in {}", op.name());
                }
                None
            });
        let mut s = sim(probe);
        assert_exit(
            &mut s,
            EXIT_ERROR,
            &format!("ops.{}() panicked: boom in {}", op.name(), op.name()),
        );
    }
}

/// A panicking ops.exit() (called after the exit claim was consumed) is
/// dropped like any later error; the first exit stands.
#[test]
fn panic_in_exit_is_dropped() {
    let probe = Probe::fifo().hook(|cx, c| {
        match c.op {
            Op::Dispatch => cx.error("real"),
            Op::Exit => panic!("in exit"),
            _ => {}
        }
        None
    });
    let mut s = sim(probe);
    assert_exit(&mut s, EXIT_ERROR_BPF, "real");
}

/// A panicking BPF timer callback.
#[test]
fn panic_in_a_timer_callback() {
    let probe = Probe::fifo()
        .hook(|cx, c| {
            if c.op == Op::Init {
                cx.timer_start(1, 5 * MS, false);
                return Some(i64::from(cx.create_dsq(DSQ, -1)));
            }
            None
        })
        .on_timer(|_, id| panic!("timer {id} says no"));
    let mut s = sim(probe);
    assert_exit(
        &mut s,
        EXIT_ERROR,
        "BPF timer callback panicked: timer 1 says no",
    );
}

// ---------------------------------------------------------------------
// The stall watchdog (ext.c:3570-3631)

/// Loses every enqueue of the task named `victim`; `timeout_ms` as given.
fn losing(victim: &'static str, timeout_ms: u32, times: Notes) -> Probe {
    Probe::fifo()
        .with(Op::SelectCpu)
        .timeout_ms(timeout_ms)
        .hook(move |cx, c| {
            if c.op == Op::Enqueue && cx.task(c.task.unwrap()).comm() == victim {
                let now = cx.ktime_get_ns();
                times.push(now.to_string());
                return Some(0);
            }
            None
        })
}

/// A task the scheduler lost: "runnable task stall" with
/// `<comm>[<pid>] failed to run for %u.%03us`, the wait in whole jiffies
/// (HZ=1000) from when it became runnable, reported strictly after the
/// timeout and no later than 1.5 × timeout (the check runs every
/// timeout/2), from the watchdog kworker.
#[test]
fn runnable_task_stall() {
    for timeout in [1000u32, 600] {
        let times = Notes::default();
        let lost = TaskSpec::new("lost", vec![Step::Sleep(37 * MS), Step::Run(MS)]);
        let probe = losing("lost", timeout, times.clone());
        let mut s = run_probe(2, vec![hog("a"), lost], probe, 2500 * MS);
        let t0: u64 = times.first().expect("lost was enqueued").parse().unwrap();
        assert_eq!(times.len(), 1);
        let e = s.k.scx.last_exit.clone().expect("stall");
        let t = e.claimed_at;
        let timeout_ns = u64::from(timeout) * MS;
        assert!(t > t0 + timeout_ns, "too early: {t} vs {t0}");
        // The watchdog's kworker is itself an SCX task: it may wait up to a
        // slice (20 ms) behind the hog before the check runs.
        assert!(
            t <= t0 + timeout_ns * 3 / 2 + 21 * MS,
            "too late: {t} vs {t0}"
        );
        let ms = t / MS - t0 / MS;
        let msg = format!(
            "{} failed to run for {}.{:03}s",
            cp(&s.k, "lost"),
            ms / 1000,
            ms % 1000
        );
        // Raised by the watchdog work on a kworker.
        let checks: Vec<u64> = s
            .rec
            .events()
            .iter()
            .filter_map(|(at, e)| matches!(e, Event::WatchdogCheck { .. }).then_some(*at))
            .collect();
        assert!(checks.contains(&t), "{checks:?} {t}");
        // Checks every timeout/2 after the previous one ran (plus the
        // kworker's wait for a CPU).
        for w in checks.windows(2) {
            let gap = w[1] - w[0];
            assert!(
                gap >= timeout_ns / 2 && gap <= timeout_ns / 2 + 21 * MS,
                "gap {gap}"
            );
        }
        assert!(e.info.dump.starts_with("kworker/"), "{}", e.info.dump);
        assert_exit(&mut s, EXIT_ERROR_STALL, &msg);
    }
}

/// The first stalled task is reported CPU by CPU (ascending), then in
/// runnable-list order — not the longest waiter (safety.md §4.3).
#[test]
fn stall_names_the_lowest_cpu_first() {
    let times = Notes::default();
    let t2 = times.clone();
    let early =
        TaskSpec::new("early", vec![Step::Sleep(20 * MS), Step::Run(MS)]).cpus(Cpumask::of(1));
    let late =
        TaskSpec::new("late", vec![Step::Sleep(200 * MS), Step::Run(MS)]).cpus(Cpumask::of(0));
    let probe = Probe::fifo()
        .with(Op::SelectCpu)
        .timeout_ms(1000)
        .hook(move |cx, c| {
            if c.op == Op::Enqueue {
                let comm = cx.task(c.task.unwrap()).comm().to_string();
                if comm == "early" || comm == "late" {
                    let now = cx.ktime_get_ns();
                    t2.push(format!("{comm} {now}"));
                    return Some(0);
                }
            }
            None
        });
    let tasks = vec![pinned(hog("h0"), 0), pinned(hog("h1"), 1), early, late];
    let mut s = run_probe(2, tasks, probe, 2500 * MS);
    let v = times.get();
    assert_eq!(v.len(), 2, "{v:?}");
    let at = |name: &str| -> u64 {
        v.iter()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap()
            .parse()
            .unwrap()
    };
    let (te, tl) = (at("early"), at("late"));
    let e = s.k.scx.last_exit.clone().expect("stall");
    let t = e.claimed_at;
    // Both were stalled when it was reported, early for longer.
    assert!(t > tl + 1000 * MS && te < tl);
    let ms = t / MS - tl / MS;
    let msg = format!(
        "{} failed to run for {}.{:03}s",
        cp(&s.k, "late"),
        ms / 1000,
        ms % 1000
    );
    assert_exit(&mut s, EXIT_ERROR_STALL, &msg);
}

/// The watchdog's kworker itself is starved (every unbound kworker is
/// lost), so the check never runs and each CPU's tick reports it: "watchdog
/// failed to check in for %u.%03us" on the first tick strictly after
/// timestamp + timeout — with a tick every jiffy, timeout + 1 ms.
#[test]
fn watchdog_failed_to_check_in() {
    let probe = Probe::fifo()
        .with(Op::SelectCpu)
        .timeout_ms(500)
        .hook(|cx, c| {
            if c.op == Op::Enqueue && cx.task(c.task.unwrap()).comm().starts_with("kworker/u") {
                return Some(0);
            }
            None
        });
    let mut s = run_probe(2, vec![hog("a"), hog("b")], probe, 1500 * MS);
    assert_eq!(
        s.rec.count(|e| matches!(e, Event::WatchdogCheck { .. })),
        0,
        "the watchdog work never ran"
    );
    let e = s.k.scx.last_exit.clone().expect("stall");
    assert!(
        e.info.dump.starts_with("a[") || e.info.dump.starts_with("b["),
        "{}",
        e.info.dump
    );
    assert_exit(
        &mut s,
        EXIT_ERROR_STALL,
        "watchdog failed to check in for 0.501s",
    );
}

/// A task that keeps running (never waiting on the runnable list) never
/// trips the watchdog, whatever its slice — here SCX_SLICE_INF.
#[test]
fn a_running_task_never_stalls() {
    let probe = Probe::fifo().timeout_ms(300).hook(|cx, c| {
        if c.op == Op::Enqueue {
            cx.dispatch(c.task.unwrap(), SCX_DSQ_LOCAL, SCX_SLICE_INF, c.arg);
            return Some(0);
        }
        None
    });
    let s = run_probe(2, vec![pinned(hog("inf"), 1)], probe, 2000 * MS);
    assert!(s.k.scx.last_exit.is_none(), "{:?}", s.k.scx.last_exit);
    assert!(s.rec.count(|e| matches!(e, Event::WatchdogCheck { .. })) >= 10);
}

/// `ops.timeout_ms` is capped at 30 s: more fails the load with -E2BIG and
/// nothing runs (ext.c:5769-5774); 0 means 30 s, checked every 15 s.
#[test]
fn timeout_ms_limits() {
    let (mut k, _rec) = machine(2, vec![hog("a")]);
    let err = k
        .attach(Box::new(Probe::fifo().timeout_ms(30_001)))
        .expect_err("30001 ms is too long");
    assert_eq!(err.errno, -7);
    assert!(k.attach(Box::new(Probe::fifo().timeout_ms(30_000))).is_ok());

    let s = run_probe(1, vec![hog("a")], Probe::fifo(), 16 * 1000 * MS);
    let checks: Vec<u64> = s
        .rec
        .events()
        .iter()
        .filter_map(|(at, e)| matches!(e, Event::WatchdogCheck { .. }).then_some(*at))
        .collect();
    assert_eq!(checks.len(), 1, "{checks:?}");
    let enabled = s
        .rec
        .events()
        .iter()
        .find_map(|(at, e)| matches!(e, Event::ScxState { state: "enabled" }).then_some(*at))
        .unwrap();
    // The work is due 15 s after enabling; its kworker is an SCX task and
    // may wait up to a slice (20 ms) behind the hog.
    let due = enabled + 15_000 * MS;
    assert!(
        checks[0] >= due && checks[0] <= due + 21 * MS,
        "{checks:?} {enabled}"
    );
}
