//! The safety net end to end through the runner (`scxsim::run`), as a user
//! sees it: `scx_qmap -l 100` on 2, 4 and 64 CPUs ends in the watchdog's
//! "runnable task stall" (exit kind 1026, exit code 12) naming a task qmap
//! had queued, reported 5-7.5 s after it was stranded, with the debug dump
//! in the reference console's shape, and every stranded task running again
//! on the fair class afterwards; qmap's fault-injection knobs `-t`, `-T`,
//! `-e` end as the real qmap does; a normal run ends with "unregistered
//! from user space" (exit code 0); and the kernel without the dispatch-loop
//! breaker ends in a reported hard lockup of every CPU (exit code 20) or,
//! with `nmi_watchdog=0`, in silence (exit code 21), in bounded time.
//! Expected texts come from ext.c / scx_qmap.c of Linux 6.12 and the real
//! console in ../shared/reference/.

use scx_kernel::fastfwd::Halt;
use scx_kernel::task::Class;
use scx_machine::clock::{NSEC_PER_MSEC, NSEC_PER_SEC};
use scx_observe::{Event, Sink};
use scxsim::run::{run_with_sink, RunConfig, RunResult};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;

const MS: u64 = NSEC_PER_MSEC;
const SEC: u64 = NSEC_PER_SEC;

/// Records context switches, state changes and exits (not every event).
#[derive(Clone, Default)]
struct Switches(Rc<RefCell<Vec<(u64, Event)>>>);

impl Sink for Switches {
    fn event(&mut self, t: u64, ev: &Event) {
        if matches!(
            ev,
            Event::Switch { .. } | Event::ScxState { .. } | Event::ScxExit { .. }
        ) {
            self.0.borrow_mut().push((t, ev.clone()));
        }
    }
}

struct Out {
    res: RunResult,
    out: String,
    err: String,
    events: Vec<(u64, Event)>,
}

fn cfg(args: &[&str], cpus: usize, secs: u64, knobs: &[&str]) -> RunConfig {
    cfg_w(args, cpus, secs, knobs, "default")
}

fn cfg_w(args: &[&str], cpus: usize, secs: u64, knobs: &[&str], w: &str) -> RunConfig {
    let mut c = RunConfig::new("qmap", args.iter().map(|s| s.to_string()).collect());
    c.topo = scx_machine::Topology::flat(cpus).unwrap();
    c.workload = Arc::new(match w.strip_prefix("busy+") {
        // A never-sleeping task pinned to each CPU but the last two, plus
        // preset `w`.
        Some(w) => {
            let mut wl = scx_workload::presets::build(w, cpus).unwrap();
            let spin = vec![scx_workload::Step::Loop {
                repeat: scx_workload::Repeat::Forever,
                body: vec![scx_workload::Step::Run(SEC)],
            }];
            for i in 0..cpus - 2 {
                let t = scx_workload::TaskSpec::new(&format!("pin{i}"), spin.clone())
                    .cpus(scx_machine::Cpumask::of(i));
                wl.tasks.push(t);
            }
            wl
        }
        None => scx_workload::presets::build(w, cpus).unwrap(),
    });
    c.duration = secs * SEC;
    for k in knobs {
        c.kernel.set_kv(k).unwrap();
    }
    c
}

fn run(c: &RunConfig) -> Out {
    let rec = Switches::default();
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let res = run_with_sink(c, &mut out, &mut err, Some(Box::new(rec.clone()))).expect("run");
    let events = rec.0.borrow().clone();
    Out {
        res,
        out: String::from_utf8(out).unwrap(),
        err: String::from_utf8(err).unwrap(),
        events,
    }
}

/// Splits `<comm>[<pid>] failed to run for S.MMMs` into comm, pid, ms.
fn stall_msg(msg: &str) -> Option<(String, u32, u64)> {
    let (task, d) = msg.split_once(" failed to run for ")?;
    let (comm, pid) = task.strip_suffix(']')?.rsplit_once('[')?;
    let (s, ms) = d.strip_suffix('s')?.split_once('.')?;
    if ms.len() != 3 {
        return None;
    }
    Some((
        comm.to_string(),
        pid.parse().ok()?,
        s.parse::<u64>().ok()? * 1000 + ms.parse::<u64>().ok()?,
    ))
}

/// The `UEI_REPORT()` block on stderr (user_exit_info.h:71-85): the dump
/// between two 80-`=` bars, then `EXIT: <reason> (<msg>)`.
fn assert_uei_report(err: &str, reason: &str, msg: &str, dump: &str) {
    let bar = "=".repeat(80);
    let tail = if msg.is_empty() {
        format!("EXIT: {reason}\n")
    } else {
        format!("EXIT: {reason} ({msg})\n")
    };
    assert!(err.contains(&tail), "no {tail:?} in stderr:\n{err}");
    if dump.is_empty() {
        assert!(!err.contains("DEBUG DUMP"), "{err}");
    } else {
        let block = format!("\nDEBUG DUMP\n{bar}\n\n{dump}\n{bar}\n\n{tail}");
        assert!(err.contains(&block), "stderr:\n{err}");
    }
}

/// The dump in the reference's shape (reference/…-qmap-l100-2cpu.txt).
fn assert_qmap_dump_shape(dump: &str, kind: u32, reason: &str, msg: &str, cpus: usize) {
    let lines: Vec<&str> = dump.lines().collect();
    assert!(
        lines[0].ends_with(&format!("] triggered exit kind {kind}:")),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], format!("  {reason} ({msg})"));
    assert_eq!(lines[2], "");
    assert_eq!(lines[3], "Backtrace:");
    let q0 = lines
        .iter()
        .position(|l| l.starts_with("QMAP FIFO[0]:"))
        .expect("QMAP FIFO lines");
    assert_eq!(lines[q0 - 1], "", "blank line before the ops.dump output");
    for i in 0..5 {
        assert!(
            lines[q0 + i].starts_with(&format!("QMAP FIFO[{i}]:")),
            "{}",
            lines[q0 + i]
        );
    }
    assert_eq!(&lines[q0 + 5..q0 + 8], ["", "CPU states", "----------"]);
    let cpu_lines: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.starts_with("CPU ") && l.contains(": nr_run="))
        .map(|(i, _)| i)
        .collect();
    assert!(!cpu_lines.is_empty() && cpu_lines.len() <= cpus);
    for &c in &cpu_lines {
        let l = lines[c];
        assert!(
            l.contains(" flags=0x") && l.contains(" cpu_rel=") && l.contains(" pnt_seq="),
            "{l}"
        );
        assert!(lines[c + 1].starts_with("          curr=") && lines[c + 1].contains(" class="));
    }
    // qmap's dump_cpu and dump_task lines.
    assert!(dump.contains("\n  QMAP: dsp_idx="), "{dump}");
    let tasks = lines
        .iter()
        .filter(|l| l.starts_with(" *R ") || l.starts_with("  R "))
        .count();
    let qmap_task_lines = lines
        .iter()
        .filter(|l| l.starts_with("    QMAP: force_local=") && l.contains(" core_sched_seq="))
        .count();
    // A dump longer than exit_dump_len (32768) is cut, possibly inside the
    // last task block, and ends with the marker (ext.c:5160-5162).
    let truncated = dump.ends_with("\n\n~~~~ TRUNCATED ~~~~\n");
    if truncated {
        assert_eq!(dump.len(), 32767);
    }
    let complete = qmap_task_lines == tasks || truncated && qmap_task_lines + 1 == tasks;
    assert!(
        tasks > 0 && complete,
        "{tasks} tasks, {qmap_task_lines} QMAP lines"
    );
}

/// The real kernel's console for `scx_qmap -l 100` (docs/reference in a
/// copy of the repository, ../shared/reference next to it).
fn reference_console() -> String {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let name = "linux-6.12.117-scx_qmap-l100-2cpu.txt";
    for dir in ["docs/reference", "../shared/reference"] {
        if let Ok(s) = std::fs::read_to_string(root.join(dir).join(name)) {
            return s;
        }
    }
    panic!("reference console {name} not found under docs/reference or ../shared/reference");
}

/// The function names of the dump's "Backtrace:" block, offsets dropped.
fn backtrace_names(dump: &str) -> Vec<String> {
    dump.lines()
        .skip_while(|l| *l != "Backtrace:")
        .skip(1)
        .take_while(|l| !l.is_empty())
        .map(|l| l.trim().split('+').next().unwrap().to_string())
        .collect()
}

/// The pids in the dump's `QMAP FIFO[i]:` lines.
fn fifo_pids(dump: &str) -> Vec<u32> {
    dump.lines()
        .filter_map(|l| l.strip_prefix("QMAP FIFO["))
        .filter_map(|l| l.split_once("]:").map(|(_, r)| r))
        .flat_map(|r| r.split_whitespace().filter_map(|p| p.parse().ok()))
        .collect()
}

/// `scx_qmap -l 100`: the stall exit and what follows.
fn qmap_l100(cpus: usize, workload: &str, secs: u64) {
    let c = cfg_w(&["-l", "100"], cpus, secs, &[], workload);
    let o = run(&c);
    let res = &o.res;
    assert_eq!(res.exits.len(), 1, "{:?}", res.exits);
    let e = &res.exits[0];
    assert_eq!(
        (e.info.kind, e.info.reason.as_str()),
        (1026, "runnable task stall")
    );
    assert_eq!(res.exit_code(), 12);
    assert!(res.halt.is_none());
    let (comm, pid, ms) = stall_msg(&e.info.msg).unwrap_or_else(|| panic!("{}", e.info.msg));
    // Reported from the watchdog's check every timeout/2 = 2.5 s: the wait
    // is over qmap's 5 s timeout and at most 7.5 s (plus the kworker's wait
    // for a CPU, under one 20 ms slice).
    assert!(ms > 5000 && ms <= 7520, "{}", e.info.msg);
    // A task qmap had queued: it is in one of qmap's FIFOs in the dump, and
    // its dump block says it became runnable that long ago.
    assert!(
        fifo_pids(&e.info.dump).contains(&pid),
        "{pid} not in qmap's FIFOs:\n{}",
        e.info.dump
    );
    let block = format!("R {comm}[{pid}] -");
    let delta = e
        .info
        .dump
        .lines()
        .find_map(|l| l.trim_start().strip_prefix(&block))
        .and_then(|r| r.strip_suffix("ms"))
        .unwrap_or_else(|| panic!("no block for {comm}[{pid}]"));
    let delta: u64 = delta.parse().unwrap();
    assert!(
        delta.abs_diff(ms) <= 1,
        "dump says -{delta}ms, message {ms} ms"
    );
    assert_qmap_dump_shape(&e.info.dump, 1026, "runnable task stall", &e.info.msg, cpus);
    // The stall is raised from the watchdog work, as on the real kernel:
    // the same frames (without offsets) in the dump and in the log.
    let reference = reference_console();
    let want = backtrace_names(&reference);
    assert_eq!(
        want.first().map(String::as_str),
        Some("scx_watchdog_workfn")
    );
    assert_eq!(backtrace_names(&e.info.dump), want);
    let log_frames: Vec<String> = o
        .out
        .lines()
        .skip_while(|l| !l.ends_with(&format!("sched_ext: qmap: {}", e.info.msg)))
        .skip(1)
        .take(want.len())
        .map(|l| {
            l.split_once("]    ")
                .map_or("", |(_, f)| f)
                .split('+')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(log_frames, want, "backtrace in the kernel log");
    assert_uei_report(&o.err, "runnable task stall", &e.info.msg, &e.info.dump);
    // The kernel log, with dmesg stamps.
    for l in [
        "sched_ext: BPF scheduler \"qmap\" enabled".to_string(),
        "sched_ext: BPF scheduler \"qmap\" disabled (runnable task stall)".to_string(),
        format!("sched_ext: qmap: {}", e.info.msg),
    ] {
        assert!(
            o.out.lines().any(|x| x.ends_with(&l) && x.starts_with('[')),
            "no {l:?}"
        );
    }
    // qmap's statistics stop moving once the loop starts: dsp= stays at 101.
    assert!(o.out.contains(" dsp=101 "), "{}", o.out);

    // Afterwards every stranded task runs again, on the fair class.
    let k = &res.kernel;
    let disabled = e.disabled_at;
    let stranded = fifo_pids(&e.info.dump);
    assert!(!stranded.is_empty());
    for p in stranded {
        let Some(tid) = k.tasks.iter().find(|t| t.pid == p).map(|t| t.tid) else {
            continue;
        };
        let ran = o.events.iter().any(|(t, ev)| {
            *t > disabled && matches!(ev, Event::Switch { next, .. } if *next == tid)
        });
        assert!(ran, "stranded task {p} never ran after the exit");
    }
    for t in k.tasks.iter().filter(|t| !t.freed) {
        assert_ne!(t.class, Class::Ext, "{}[{}]", t.comm, t.pid);
    }
    k.check_conservation();
}

#[test]
fn qmap_l100_on_2_cpus() {
    qmap_l100(2, "default", 10);
}

#[test]
fn qmap_l100_on_4_cpus() {
    qmap_l100(4, "default", 10);
}

/// On 64 CPUs the reference workload's four tasks always find an idle CPU
/// and qmap dispatches them directly to it (its `pick_direct_dispatch_cpu`),
/// so nothing is ever stranded in its FIFOs and nothing stalls — as on a
/// real kernel (see the next test). Here 62 CPUs are kept busy by pinned
/// hogs (qmap dispatches single-CPU tasks straight to their local DSQ), so
/// the reference workload competes for the last two CPUs as on the
/// reference machine.
#[test]
fn qmap_l100_on_64_cpus() {
    qmap_l100(64, "busy+default", 10);
}

/// The reference workload on 64 CPUs: no task waits in qmap's FIFOs, so the
/// run ends normally.
#[test]
fn qmap_l100_on_64_cpus_with_few_tasks_does_not_stall() {
    let o = run(&cfg(&["-l", "100"], 64, 8, &[]));
    let e = o.res.final_exit().expect("exit");
    assert_eq!(e.info.kind, 64, "{:?}", e.info);
    assert_eq!(o.res.exit_code(), 0);
}

/// `-t 100`: every 100th enqueue of a user task is lost; the watchdog
/// names a lost task (kind 1026, exit code 12).
#[test]
fn qmap_t_stall() {
    let o = run(&cfg(&["-t", "100"], 2, 12, &[]));
    let e = o.res.final_exit().expect("exit").clone();
    assert_eq!(
        (e.info.kind, e.info.reason.as_str()),
        (1026, "runnable task stall")
    );
    let (_, pid, ms) = stall_msg(&e.info.msg).unwrap_or_else(|| panic!("{}", e.info.msg));
    assert!(ms > 5000 && ms <= 7520, "{}", e.info.msg);
    let t = o.res.kernel.tasks.iter().find(|t| t.pid == pid).unwrap();
    assert!(!t.is_kthread(), "-t loses user tasks only: {}", e.info.msg);
    assert_eq!(o.res.exit_code(), 12);
    assert_qmap_dump_shape(&e.info.dump, 1026, "runnable task stall", &e.info.msg, 2);
    assert_uei_report(&o.err, "runnable task stall", &e.info.msg, &e.info.dump);
}

/// `-T 20`: every 20th enqueue of a kernel thread is lost; either a lost
/// kthread is named, or — if the lost one is the kworker that runs the
/// watchdog — the tick reports the watchdog itself (examples.md §2.4).
#[test]
fn qmap_big_t_stall() {
    let o = run(&cfg(&["-T", "20"], 2, 12, &[]));
    let e = o.res.final_exit().expect("exit").clone();
    assert_eq!(
        (e.info.kind, e.info.reason.as_str()),
        (1026, "runnable task stall")
    );
    let m = &e.info.msg;
    if let Some((_, pid, ms)) = stall_msg(m) {
        assert!(ms > 5000 && ms <= 7520, "{m}");
        let t = o.res.kernel.tasks.iter().find(|t| t.pid == pid).unwrap();
        assert!(t.is_kthread(), "{m}");
    } else {
        let d = m
            .strip_prefix("watchdog failed to check in for ")
            .unwrap_or_else(|| panic!("{m}"));
        let (s, ms) = d.strip_suffix('s').unwrap().split_once('.').unwrap();
        let ms = s.parse::<u64>().unwrap() * 1000 + ms.parse::<u64>().unwrap();
        assert!(ms > 5000, "{m}");
    }
    assert_eq!(o.res.exit_code(), 12);
    assert_uei_report(&o.err, "runnable task stall", m, &e.info.dump);
}

/// `-e 1000`: the 1000th enqueue calls scx_bpf_error("test triggering
/// error"): kind 1025 "scx_bpf_error", the dump with qmap's lines, exit
/// code 11.
#[test]
fn qmap_e_error() {
    let o = run(&cfg(&["-e", "1000"], 2, 10, &[]));
    let e = o.res.final_exit().expect("exit").clone();
    assert_eq!(
        (e.info.kind, e.info.reason.as_str(), e.info.msg.as_str()),
        (1025, "scx_bpf_error", "test triggering error")
    );
    assert_eq!(o.res.exits.len(), 1);
    assert_eq!(o.res.exit_code(), 11);
    assert_qmap_dump_shape(
        &e.info.dump,
        1025,
        "scx_bpf_error",
        "test triggering error",
        2,
    );
    assert_uei_report(
        &o.err,
        "scx_bpf_error",
        "test triggering error",
        &e.info.dump,
    );
    assert!(o.out.contains("sched_ext: qmap: test triggering error"));
    for t in o.res.kernel.tasks.iter().filter(|t| !t.freed) {
        assert_ne!(t.class, Class::Ext);
    }
}

/// A run that ends normally: the loader's SIGINT detaches, the kernel
/// unregisters the scheduler (kind 64, no message, no dump) and the tool
/// prints `EXIT: unregistered from user space`; exit code 0.
#[test]
fn normal_end_is_unregistered_from_user_space() {
    for sched in ["qmap", "simple"] {
        let mut c = cfg(&[], 2, 2, &[]);
        c.scheduler = sched.into();
        let o = run(&c);
        let e = o.res.final_exit().expect("exit").clone();
        assert_eq!(
            (e.info.kind, e.info.reason.as_str(), e.info.msg.as_str()),
            (64, "unregistered from user space", "")
        );
        assert!(e.claimed_at >= 2 * SEC, "at the end of the run");
        assert!(e.info.dump.is_empty());
        assert!(
            o.err.ends_with("EXIT: unregistered from user space\n"),
            "{}",
            o.err
        );
        assert!(!o.err.contains("DEBUG DUMP"));
        assert_eq!(o.res.exit_code(), 0);
        assert!(o.out.lines().any(|l| l.ends_with(&format!(
            "sched_ext: BPF scheduler \"{sched}\" disabled (unregistered from user space)"
        ))));
        assert!(!o.out.contains(&format!("sched_ext: {sched}: ")));
    }
}

/// The kernel before the dispatch-loop breaker: `qmap -l 100` traps every
/// CPU with interrupts off; each CPU's hard lockup is reported (the first
/// NMI without timer interrupts, watchdog_thresh = 10 s), nothing else
/// runs — no scx exit, no `EXIT:` line, the loader prints nothing more —
/// and scxsim halts with exit code 20.
#[test]
fn no_breaker_hard_lockup_through_the_runner() {
    for cpus in [2usize, 4] {
        let o = run(&cfg(&["-l", "100"], cpus, 60, &["dsp_max_loops=0"]));
        let res = &o.res;
        let Some(Halt::HardLockup { since, reports }) = res.halt.clone() else {
            panic!("{cpus} CPUs: {:?}", res.halt);
        };
        assert_eq!(res.exit_code(), 20);
        assert!(res.exits.is_empty(), "{:?}", res.exits);
        assert!(!o.err.contains("EXIT:"));
        assert_eq!(reports.len(), cpus);
        for (i, (cpu, at)) in reports.iter().enumerate() {
            assert_eq!(*cpu, i);
            // The first NMI (every 10 s from boot) after the CPU got stuck
            // with no timer interrupt in between.
            assert!(
                *at > since && *at % (10 * SEC) == 0 && *at <= since + 20 * SEC,
                "{at} {since}"
            );
            let line = format!("Watchdog detected hard LOCKUP on cpu {cpu}");
            assert!(o.out.lines().any(|l| l.ends_with(&line)), "no {line:?}");
        }
        assert!(o.err.contains("scxsim: machine hung"), "{}", o.err);
        // Stats lines stop once every CPU is stuck.
        let last_stats = o.out.lines().filter(|l| l.starts_with("stats  :")).count();
        assert!(last_stats < 10, "{last_stats} stats lines");
        assert!(res.sim_ns < 60 * SEC || res.kernel.halted().is_some());
    }
}

/// The same with `nmi_watchdog=0`: nothing can report the lockup; scxsim
/// halts with its own verdict and exit code 21, and the kernel log says
/// nothing after the scheduler was enabled.
#[test]
fn no_breaker_without_nmi_watchdog_through_the_runner() {
    let o = run(&cfg(
        &["-l", "100"],
        2,
        60,
        &["dsp_max_loops=0", "nmi_watchdog=0"],
    ));
    let Some(Halt::Silent { since }) = o.res.halt.clone() else {
        panic!("{:?}", o.res.halt);
    };
    assert_eq!(o.res.exit_code(), 21);
    assert!(o.res.exits.is_empty());
    assert!(!o.out.contains("LOCKUP"));
    let log = &o.res.kernel.log;
    assert!(log.iter().all(|(t, _)| *t <= since), "{log:?}");
    assert!(o.err.contains("no NMI watchdog"), "{}", o.err);
}

/// A run that ends while every CPU is trapped but before the detector
/// fires: the loader (user space) cannot run, so nothing detaches and the
/// simulator does not crash.
#[test]
fn no_breaker_run_ending_before_the_nmi() {
    let o = run(&cfg(&["-l", "100"], 2, 5, &["dsp_max_loops=0"]));
    assert!(o.res.exits.is_empty(), "{:?}", o.res.exits);
    assert!(o.res.kernel.all_stuck_since().is_some());
    o.res.kernel.check_conservation();
}

/// Sanity of the timing claim in the brief: a stall is never reported
/// before qmap's 5 s timeout has passed since the attach.
#[test]
fn no_stall_before_the_timeout() {
    let o = run(&cfg(&["-l", "100"], 2, 5, &[]));
    // 5 s of simulated time from boot, attach at 20 ms: too early.
    assert!(
        o.res.exits.iter().all(|e| e.info.kind != 1026),
        "{:?}",
        o.res.exits
    );
    assert!(o
        .events
        .iter()
        .all(|(t, e)| !matches!(e, Event::ScxExit { kind: 1026, .. }) || *t > 5 * SEC + 20 * MS));
}
