//! Every scx error call site of Linux 6.12's ext.c that the model can reach
//! through the ops API (spec safety.md §10), provoked by a misbehaving
//! scheduler: the exact message (ext.c's format string with the values
//! filled in), the exit kind and reason, the kfunc's documented fallback,
//! and what must follow every exit (disable log lines, `ops.exit()` once
//! and last, every task back on the fair class, conservation). Also the
//! non-exit diagnostics (zero slice, cgroup weight) and the call sites that
//! must *not* raise an exit. Line numbers cite ext.c of 6.12.117.

mod common;
#[path = "common/errors_util.rs"]
mod errors_util;

use common::*;
use errors_util::*;
use scx_kernel::consts::*;
use scx_kernel::ops::*;
use scx_machine::Cpumask;
use scx_observe::Event;
use scx_workload::{Policy, Step, TaskSpec};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;

/// Two CPUs, two hogs and a sleeper, 100 ms after attaching.
fn sim(probe: Probe) -> Sim {
    run_probe(2, std_tasks(), probe, 110 * MS)
}

fn kthreadd(cx: &Cx) -> Task {
    cx.task_from_pid(2).expect("kthreadd")
}

/// `<comm>[<pid>]` of a task as a callback sees it.
fn name_of(cx: &Cx, p: Task) -> String {
    let t = cx.task(p);
    format!("{}[{}]", t.comm(), t.pid())
}

// ---------------------------------------------------------------------
// scx_kf_allowed() (ext.c:1164-1192)

/// ext.c:1167: a kfunc whose mask is not in the current op's mask. One
/// scenario per (kfunc, op) pair; the message names the kfunc's required
/// mask and the op's (kfuncs.md §1.1 table).
#[test]
fn kfunc_from_an_op_that_does_not_allow_it() {
    type Case = (&'static str, Op, u32, u32, fn(&mut Cx, &Call));
    let cases: Vec<Case> = vec![
        ("dispatch from running", Op::Running, 0x6, 0x10, |cx, c| {
            cx.dispatch(c.task.unwrap(), SCX_DSQ_LOCAL, SCX_SLICE_DFL, 0)
        }),
        ("consume from enqueue", Op::Enqueue, 0x2, 0x4, |cx, _| {
            cx.consume(DSQ);
        }),
        (
            "select_cpu_dfl from enqueue",
            Op::Enqueue,
            0x8,
            0x4,
            |cx, c| {
                let p = c.task.unwrap();
                let prev = cx.task_cpu(p);
                cx.select_cpu_dfl(p, prev, 0);
            },
        ),
        ("dispatch from init", Op::Init, 0x6, 0x0, |cx, _| {
            let k = kthreadd(cx);
            cx.dispatch(k, DSQ, SCX_SLICE_DFL, 0);
        }),
        (
            "reenqueue_local from dispatch",
            Op::Dispatch,
            0x1,
            0x2,
            |cx, _| {
                cx.reenqueue_local();
            },
        ),
        (
            "dispatch_nr_slots from tick",
            Op::Tick,
            0x2,
            0x10,
            |cx, _| {
                cx.dispatch_nr_slots();
            },
        ),
        (
            "dispatch_cancel from select_cpu",
            Op::SelectCpu,
            0x2,
            0xc,
            |cx, _| {
                cx.dispatch_cancel();
            },
        ),
        (
            "consume from quiescent",
            Op::Quiescent,
            0x2,
            0x10,
            |cx, _| {
                cx.consume(DSQ);
            },
        ),
        (
            "dispatch_vtime from stopping",
            Op::Stopping,
            0x6,
            0x10,
            |cx, _| {
                let k = kthreadd(cx);
                cx.dispatch_vtime(k, DSQ, SCX_SLICE_DFL, 0, 0);
            },
        ),
        ("task_cgroup from init", Op::Init, 0x1f, 0x0, |cx, _| {
            let k = kthreadd(cx);
            cx.task_cgroup(k);
        }),
    ];
    for (what, op, need, have, f) in cases {
        let probe = Probe::fifo()
            .with(op)
            .flags(SCX_OPS_KEEP_BUILTIN_IDLE)
            .hook(move |cx, c| {
                if c.op == op {
                    f(cx, c);
                    if op == Op::Init {
                        return Some(i64::from(cx.create_dsq(DSQ, -1)));
                    }
                }
                None
            });
        let mut s = sim(probe);
        let msg =
            format!("kfunc with mask {need:#x} called from an operation only allowing {have:#x}");
        eprintln!("case: {what}");
        assert_exit(&mut s, EXIT_ERROR, &msg);
    }
}

/// ext.c:1167 through `scx_bpf_dispatch_from_dsq()`: allowed with kf_mask 0
/// or DISPATCH; from ops.enqueue (0x4) it is the DISPATCH mask error
/// (kfuncs.md §3.6 step 2), and nothing moves.
#[test]
fn dispatch_from_dsq_from_enqueue() {
    let moved = Notes::default();
    let m = moved.clone();
    let probe = Probe::fifo().hook(move |cx, c| {
        if c.op == Op::Enqueue && m.is_empty() {
            let (mut it, _) = cx.dsq_iter_new(DSQ, 0);
            if let Some(q) = cx.dsq_iter_next(&mut it) {
                let r = cx.dispatch_from_dsq(&mut it, q, SCX_DSQ_GLOBAL, 0);
                m.push(format!("{r}"));
            }
            cx.dsq_iter_destroy(it);
        }
        None
    });
    // Three hogs on two CPUs: DSQ 0 always holds one.
    let mut s = run_probe(2, vec![hog("a"), hog("b"), hog("c")], probe, 110 * MS);
    assert_eq!(moved.first().as_deref(), Some("false"));
    assert_exit(
        &mut s,
        EXIT_ERROR,
        "kfunc with mask 0x2 called from an operation only allowing 0x4",
    );
}

/// ext.c:1203: `scx_bpf_task_cgroup(p)` on a task that is not an argument
/// of the op in progress; returns the root cgroup.
#[test]
fn task_cgroup_of_a_task_not_being_operated_on() {
    let got = Notes::default();
    let g = got.clone();
    let probe = Probe::fifo().hook(move |cx, c| {
        if c.op == Op::Enqueue {
            // Own argument: fine.
            let own = cx.task_cgroup(c.task.unwrap());
            let k = kthreadd(cx);
            let other = cx.task_cgroup(k);
            g.push(format!("{} {}", own.0, other.0));
        }
        None
    });
    let mut s = sim(probe);
    assert_eq!(got.first().as_deref(), Some("0 0"));
    assert_exit(&mut s, EXIT_ERROR, "called on a task not being operated on");
}

/// ext.c:1181: `scx_bpf_reenqueue_local()` from the `ops.enqueue()` that
/// `scx_bpf_reenqueue_local()` itself runs nested inside
/// `ops.cpu_release()` (kf_mask CPU_RELEASE|ENQUEUE = 0x5): the nesting
/// check fires, not the mask check.
#[test]
fn reenqueue_local_from_the_nested_enqueue() {
    let s = cpu_release_scenario(|cx| {
        cx.reenqueue_local();
    });
    expect_only(
        s,
        EXIT_ERROR,
        "cpu_release kfunc called from a nested operation",
    );
}

/// ext.c:1167 with the nested mask: `scx_bpf_consume()` from the nested
/// REENQ enqueue reports the combined mask 0x5 the kernel has set.
#[test]
fn consume_from_the_nested_enqueue() {
    let s = cpu_release_scenario(|cx| {
        cx.consume(DSQ);
    });
    expect_only(
        s,
        EXIT_ERROR,
        "kfunc with mask 0x2 called from an operation only allowing 0x5",
    );
}

/// Dispatching from the nested REENQ enqueue is allowed (mask 0x6 ∩ 0x5,
/// highest bit ENQUEUE): no exit, and the re-enqueued tasks keep running.
#[test]
fn dispatch_from_the_nested_enqueue_is_fine() {
    let s = cpu_release_scenario(|_| {});
    assert!(s.k.scx.last_exit.is_none(), "{:?}", s.k.scx.last_exit);
    let reenq = s
        .rec
        .all_ops()
        .iter()
        .filter(|(_, op, _, f)| *op == Op::Enqueue && f & SCX_ENQ_REENQ != 0)
        .count();
    assert!(reenq > 0, "no SCX_ENQ_REENQ enqueue happened");
    s.k.check_conservation();
}

/// Two hogs and a periodic RT task on CPU 0: the RT task preempts, the
/// kernel calls ops.cpu_release(), which re-enqueues the local DSQ; `f`
/// runs in each SCX_ENQ_REENQ enqueue before the task is dispatched back
/// to the local DSQ.
fn cpu_release_scenario(f: fn(&mut Cx)) -> Sim {
    let rt = TaskSpec::new(
        "rt",
        vec![forever(vec![Step::Sleep(7 * MS), Step::Run(MS)])],
    )
    .policy(Policy::Fifo(10))
    .cpus(Cpumask::of(0));
    let tasks = vec![pinned(hog("a"), 0), pinned(hog("b"), 0), rt];
    let probe = Probe::fifo()
        .with(Op::CpuRelease)
        .hook(move |cx, c| match c.op {
            Op::CpuRelease => {
                cx.reenqueue_local();
                Some(0)
            }
            Op::Enqueue => {
                if c.arg & SCX_ENQ_REENQ != 0 {
                    f(cx);
                }
                cx.dispatch(c.task.unwrap(), SCX_DSQ_LOCAL, SCX_SLICE_DFL, c.arg);
                Some(0)
            }
            _ => None,
        });
    run_probe(2, tasks, probe, 200 * MS)
}

/// Asserts the exit without requiring every task to make progress after it
/// (pinned RT tasks may starve others on their CPU).
fn expect_only(mut s: Sim, kind: u32, msg: &str) {
    assert_exit(&mut s, kind, msg);
}

// ---------------------------------------------------------------------
// ops_cpu_valid() (ext.c:1510-1521) and its callers

/// ext.c:1517 via `scx_bpf_kick_cpu()` (no kick), `scx_bpf_cpuperf_*()`
/// (1024), `scx_bpf_test_and_clear_cpu_idle()` (false),
/// `scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu)` (-ENOENT),
/// `scx_bpf_cpu_rq()` (NULL) and `scx_bpf_select_cpu_dfl()` (prev_cpu,
/// not idle): `invalid CPU %d` with no suffix.
#[test]
fn invalid_cpu_numbers_in_kfuncs() {
    type Case = (i32, &'static str, fn(&mut Cx, &Call) -> String);
    let cases: Vec<Case> = vec![
        (-1, "", |cx, _| {
            cx.kick_cpu(-1, 0);
            String::new()
        }),
        (2, "", |cx, _| {
            cx.kick_cpu(2, SCX_KICK_PREEMPT);
            String::new()
        }),
        (5, "1024", |cx, _| cx.cpuperf_cap(5).to_string()),
        (-2, "1024", |cx, _| cx.cpuperf_cur(-2).to_string()),
        (9, "", |cx, _| {
            cx.cpuperf_set(9, 100);
            String::new()
        }),
        (3, "false", |cx, _| {
            cx.test_and_clear_cpu_idle(3).to_string()
        }),
        (9, "-2", |cx, _| {
            cx.dsq_nr_queued(SCX_DSQ_LOCAL_ON | 9).to_string()
        }),
        (99, "true", |cx, _| cx.cpu_rq(99).is_none().to_string()),
        (42, "42 false", |cx, c| {
            let (cpu, idle) = cx.select_cpu_dfl(c.task.unwrap(), 42, c.arg);
            format!("{cpu} {idle}")
        }),
    ];
    for (cpu, ret, f) in cases {
        let got = Notes::default();
        let g = got.clone();
        let probe = Probe::fifo().with(Op::SelectCpu).hook(move |cx, c| {
            if c.op == Op::SelectCpu && g.is_empty() {
                g.push(f(cx, c));
            }
            None
        });
        let mut s = sim(probe);
        assert_eq!(got.first().as_deref(), Some(ret), "return value, CPU {cpu}");
        assert_exit(&mut s, EXIT_ERROR, &format!("invalid CPU {cpu}"));
    }
}

/// ext.c:1517 from `find_dsq_for_dispatch()` (ext.c:1877): a LOCAL_ON
/// verdict naming an impossible CPU; the task goes to the global DSQ.
#[test]
fn local_on_verdict_with_an_invalid_cpu_falls_back_to_global() {
    for cpu in [7u64, 0xffff_ffff] {
        let probe = Probe::fifo().hook(move |cx, c| {
            if c.op == Op::Enqueue {
                cx.dispatch(c.task.unwrap(), SCX_DSQ_LOCAL_ON | cpu, SCX_SLICE_DFL, 0);
                return Some(0);
            }
            None
        });
        let mut s = sim(probe);
        assert_eq!(fallback_dsq(&s.rec), Some(SCX_DSQ_GLOBAL));
        // The CPU is the low 32 bits taken as s32 (ext.c:1877).
        let shown = cpu as u32 as i32;
        assert_exit(
            &mut s,
            EXIT_ERROR,
            &format!("invalid CPU {shown} in SCX_DSQ_LOCAL_ON dispatch verdict"),
        );
    }
}

/// ext.c:1517 from `select_task_rq_scx()` (ext.c:3374): ops.select_cpu()
/// returned an impossible CPU; the wakeup uses prev_cpu.
#[test]
fn select_cpu_returning_an_invalid_cpu() {
    for bad in [2i64, -1, 1000] {
        let prev = Notes::default();
        let pv = prev.clone();
        let probe = Probe::fifo().with(Op::SelectCpu).hook(move |cx, c| {
            if c.op == Op::SelectCpu {
                let p = c.task.unwrap();
                pv.push(format!("{} {}", cx.task(p).pid(), c.prev_cpu));
                return Some(bad);
            }
            None
        });
        let mut s = sim(probe);
        // The first woken task went to its prev_cpu's runqueue.
        let first = prev.first().expect("a select_cpu call");
        let (pid, prev_cpu) = first.split_once(' ').unwrap();
        let pid: u32 = pid.parse().unwrap();
        let prev_cpu: u32 = prev_cpu.parse().unwrap();
        let p = s.k.task_by_pid(pid).unwrap();
        let (t0, ..) = claims(&s.rec)[0].clone();
        let target = s.rec.events().into_iter().find_map(|(t, e)| match e {
            Event::Wakeup {
                tid, target_cpu, ..
            } if tid == p && t >= t0 => Some(target_cpu),
            _ => None,
        });
        assert_eq!(target, Some(prev_cpu), "fallback to prev_cpu");
        assert_exit(
            &mut s,
            EXIT_ERROR,
            &format!("invalid CPU {bad} from ops.select_cpu()"),
        );
    }
}

// ---------------------------------------------------------------------
// ops_sanitize_err() (ext.c:1533-1541) and lifecycle errors

/// ext.c:1540 for ops.init() (then ext.c:5373's "failed (-71)" is dropped:
/// first exit wins).
#[test]
fn init_returning_an_invalid_errno() {
    for ret in [1i64, -4096, 4096] {
        let probe = Probe::fifo().hook(move |_, c| (c.op == Op::Init).then_some(ret));
        let mut s = sim(probe);
        assert_eq!(s.k.attach_result(), Some(0), "attach still succeeds");
        assert_exit(
            &mut s,
            EXIT_ERROR,
            &format!("ops.init() returned an invalid errno {ret}"),
        );
    }
}

/// ext.c:5373: ops.init() failed with a valid -errno (here the -EEXIST of
/// creating the same DSQ twice, ext.c:6757-6763); the attach reports
/// success and ops.exit() tells why (safety.md §9.2).
#[test]
fn init_failing() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Init {
            cx.create_dsq(DSQ, -1);
            return Some(i64::from(cx.create_dsq(DSQ, -1)));
        }
        None
    });
    let mut s = sim(probe);
    assert_eq!(s.k.attach_result(), Some(0));
    // No task ever ran on the scheduler.
    assert_eq!(
        s.rec.count(|e| matches!(
            e,
            Event::OpCall {
                op: Op::Enqueue,
                ..
            }
        )),
        0
    );
    assert_exit(&mut s, EXIT_ERROR, "ops.init() failed (-17)");
}

/// `scx_bpf_create_dsq()` errors are return values, not exits
/// (ext.c:4263-4283, 6757-6763): built-in ids and bad nodes are -EINVAL,
/// duplicates -EEXIST; a scheduler that ignores them keeps running.
#[test]
fn create_dsq_errors_are_errnos() {
    let got = Notes::default();
    let g = got.clone();
    let probe = Probe::fifo().hook(move |cx, c| {
        if c.op == Op::Init {
            let rets = [
                cx.create_dsq(DSQ, -1),
                cx.create_dsq(DSQ, -1),
                cx.create_dsq(SCX_DSQ_GLOBAL, -1),
                cx.create_dsq(SCX_DSQ_LOCAL_ON | 1, -1),
                cx.create_dsq(7, 1),
                cx.create_dsq(8, -2),
                cx.create_dsq(9, 0),
            ];
            g.push(format!("{rets:?}"));
            return Some(0);
        }
        None
    });
    let s = sim(probe);
    assert_eq!(
        got.first().as_deref(),
        Some("[0, -17, -22, -22, -22, -22, 0]")
    );
    assert!(s.k.scx.last_exit.is_none(), "{:?}", s.k.scx.last_exit);
    assert!(claims(&s.rec).is_empty());
}

/// ext.c:5472: ops.init_task() failed for one task while loading; the
/// message names that task (safety.md §9.2).
#[test]
fn init_task_failing_at_load() {
    let victim = Notes::default();
    let v = victim.clone();
    let probe = Probe::fifo().hook(move |cx, c| {
        if c.op == Op::InitTask && cx.task(c.task.unwrap()).comm() == "h1" {
            v.push(name_of(cx, c.task.unwrap()));
            return Some(-12);
        }
        None
    });
    let mut s = sim(probe);
    let v = victim.first().expect("init_task(h1)");
    assert_eq!(v, cp(&s.k, "h1"));
    assert_eq!(s.k.attach_result(), Some(0));
    assert_exit(
        &mut s,
        EXIT_ERROR,
        &format!("ops.init_task() failed (-12) for {v}"),
    );
}

/// ext.c:1540 for ops.init_task() (the sanitized -EPROTO's "failed (-71)"
/// of ext.c:5472 is then dropped).
#[test]
fn init_task_returning_an_invalid_errno() {
    let probe = Probe::fifo().hook(|_, c| (c.op == Op::InitTask).then_some(5));
    let mut s = sim(probe);
    assert_exit(
        &mut s,
        EXIT_ERROR,
        "ops.init_task() returned an invalid errno 5",
    );
}

/// ext.c:4409: ops.cgroup_init() failed (the raw value, not sanitized) for
/// the root cgroup at enable.
#[test]
fn cgroup_init_failing() {
    let probe = Probe::fifo()
        .with(Op::CgroupInit)
        .hook(|_, c| (c.op == Op::CgroupInit).then_some(3));
    let mut s = sim(probe);
    assert_exit(&mut s, EXIT_ERROR, "ops.cgroup_init() failed (3)");
}

/// ext.c:5247: SCX_OPS_ENQ_LAST without ops.enqueue, checked after
/// ops.init() (which ran).
#[test]
fn enq_last_without_enqueue() {
    let probe = Probe::new(&[Op::Dispatch]).flags(SCX_OPS_ENQ_LAST);
    let mut s = sim(probe);
    assert_eq!(
        s.rec
            .count(|e| matches!(e, Event::OpCall { op: Op::Init, .. })),
        1
    );
    assert_exit(
        &mut s,
        EXIT_ERROR,
        "SCX_OPS_ENQ_LAST requires ops.enqueue() to be implemented",
    );
}

/// ext.c:5233: `ops.hotplug_seq` differs from the kernel's: a graceful
/// UNREG_KERN exit with the restart code (no dump, no backtrace).
#[test]
fn hotplug_seq_mismatch() {
    let (mut k, rec) = machine(2, std_tasks());
    k.run_until(10 * MS);
    let actual = k.scx.hotplug_seq;
    let mut probe = Probe::fifo();
    probe.info.hotplug_seq = actual + 7;
    let log = probe.log.clone();
    attach(&mut k, probe);
    k.run_until(110 * MS);
    let mut s = Sim { k, rec, log };
    assert_exit_code(
        &mut s,
        EXIT_UNREG_KERN,
        (1 << 48) | (1 << 32),
        &format!(
            "expected hotplug seq {} did not match actual {actual}",
            actual + 7
        ),
    );
}

/// ext.c:3517: a CPU going offline or online while a scheduler without
/// ops.cpu_offline()/ops.cpu_online() is loaded: a graceful UNREG_KERN exit
/// with SCX_ECODE_ACT_RESTART | SCX_ECODE_RSN_HOTPLUG.
#[test]
fn hotplug_without_the_hotplug_ops() {
    for online in [false, true] {
        let (mut k, rec) = machine(4, std_tasks());
        k.run_until(10 * MS);
        if online {
            k.cpu_down(3).unwrap();
            k.run_until(30 * MS);
        }
        let probe = Probe::fifo();
        let log = probe.log.clone();
        attach(&mut k, probe);
        k.run_until(60 * MS);
        if online {
            k.cpu_up(3).unwrap();
        } else {
            k.cpu_down(3).unwrap();
        }
        k.run_until(120 * MS);
        let mut s = Sim { k, rec, log };
        let dir = if online { "online" } else { "offline" };
        assert_exit_code(
            &mut s,
            EXIT_UNREG_KERN,
            (1 << 48) | (1 << 32),
            &format!("cpu 3 going {dir}, exiting scheduler"),
        );
    }
}

/// With ops.cpu_offline()/cpu_online() the same transitions are no exit.
#[test]
fn hotplug_with_the_hotplug_ops() {
    let probe = Probe::fifo().with(Op::CpuOnline).with(Op::CpuOffline);
    let mut s = run_probe(4, std_tasks(), probe, 40 * MS);
    s.k.cpu_down(3).unwrap();
    s.k.run_until(80 * MS);
    s.k.cpu_up(3).unwrap();
    s.k.run_until(120 * MS);
    assert!(s.k.scx.last_exit.is_none(), "{:?}", s.k.scx.last_exit);
    let ops: Vec<(Op, u64)> = s
        .rec
        .all_ops()
        .into_iter()
        .filter(|(_, op, _, _)| matches!(op, Op::CpuOnline | Op::CpuOffline))
        .map(|(_, op, _, arg)| (op, arg))
        .collect();
    assert_eq!(ops, vec![(Op::CpuOffline, 3), (Op::CpuOnline, 3)]);
}

/// ext.c:3753: ops.init_task() sets `disallow` for a SCHED_EXT task being
/// forked; the fork still succeeds.
#[test]
fn disallow_set_during_fork() {
    let parent = TaskSpec::new(
        "parent",
        vec![
            Step::Sleep(30 * MS),
            Step::Fork(0),
            forever(vec![Step::Sleep(5 * MS)]),
        ],
    )
    .policy(Policy::Ext);
    let child = TaskSpec::new("child", vec![Step::Run(MS), Step::Exit]);
    let mut w = workload(vec![parent, hog("h0")]);
    w.templates.push(child);
    let (mut k, rec) = machine_with(quiet_cfg(), scx_machine::Topology::flat(2).unwrap(), w);
    k.run_until(10 * MS);
    let forked = Notes::default();
    let f = forked.clone();
    let probe = Probe::fifo()
        .flags(SCX_OPS_SWITCH_PARTIAL)
        .hook(move |cx, c| {
            if c.op == Op::InitTask && c.arg == 1 {
                let p = c.task.unwrap();
                f.push(name_of(cx, p));
                cx.set_disallow(p, true);
            }
            None
        });
    let log = probe.log.clone();
    attach(&mut k, probe);
    k.run_until(100 * MS);
    let child = forked.first().expect("a fork while loaded");
    // The fork succeeded: the child exists (and ran to its exit).
    let pid: u32 = child
        .trim_end_matches(']')
        .rsplit('[')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(k.tasks.iter().any(|t| t.pid == pid));
    let mut s = Sim { k, rec, log };
    assert_exit(
        &mut s,
        EXIT_ERROR,
        &format!("ops.init_task() set task->scx.disallow for {child} during fork"),
    );
}

/// ext.c:3732-3751: `disallow` at load (not fork) silently reverts a
/// SCHED_EXT task to SCHED_NORMAL and counts it in nr_rejected; no exit.
#[test]
fn disallow_at_load_is_not_an_error() {
    let t = TaskSpec::new("ext", vec![forever(vec![Step::Run(MS), Step::Sleep(MS)])])
        .policy(Policy::Ext);
    let probe = Probe::fifo().flags(SCX_OPS_SWITCH_PARTIAL).hook(|cx, c| {
        if c.op == Op::InitTask && c.arg == 0 && cx.task(c.task.unwrap()).comm() == "ext" {
            cx.set_disallow(c.task.unwrap(), true);
        }
        None
    });
    let s = run_probe(2, vec![t, hog("h0")], probe, 60 * MS);
    assert!(s.k.scx.last_exit.is_none());
    assert_eq!(s.k.scx.nr_rejected, 1);
    let ext = s.k.task(tid(&s.k, "ext"));
    assert_eq!(ext.policy, Policy::Normal);
    assert_ne!(ext.class, scx_kernel::task::Class::Ext);
}

// ---------------------------------------------------------------------
// scx_dispatch_preamble() (ext.c:6260-6277)

/// ext.c:6268: a NULL task (here a handle naming no task).
#[test]
fn dispatch_of_a_null_task() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Dispatch {
            cx.dispatch(Task(u32::MAX), DSQ, SCX_SLICE_DFL, 0);
        }
        None
    });
    let mut s = sim(probe);
    assert_exit(&mut s, EXIT_ERROR, "called with NULL task");
}

/// ext.c:6273: enq_flags with an internal bit (56-63), printed `%llx`.
#[test]
fn dispatch_with_internal_enq_flags() {
    for (flags, shown) in [
        (1u64 << 63, "0x8000000000000000"),
        (SCX_ENQ_CLEAR_OPSS | SCX_ENQ_WAKEUP, "0x100000000000001"),
    ] {
        let probe = Probe::fifo().hook(move |cx, c| {
            if c.op == Op::Dispatch {
                let k = kthreadd(cx);
                cx.dispatch(k, DSQ, SCX_SLICE_DFL, flags);
            }
            None
        });
        let mut s = sim(probe);
        assert_exit(&mut s, EXIT_ERROR, &format!("invalid enq_flags {shown}"));
    }
}

// ---------------------------------------------------------------------
// dispatch_enqueue() (ext.c:1709-1800)

/// ext.c:1738: vtime ordering into a built-in DSQ (global or local) is
/// refused and the task inserted FIFO.
#[test]
fn vtime_into_a_builtin_dsq() {
    for dsq in [SCX_DSQ_GLOBAL, SCX_DSQ_LOCAL] {
        let probe = Probe::fifo().hook(move |cx, c| {
            if c.op == Op::Enqueue {
                cx.dispatch_vtime(c.task.unwrap(), dsq, SCX_SLICE_DFL, 10, c.arg);
                return Some(0);
            }
            None
        });
        let mut s = sim(probe);
        let global = fallback_dsq(&s.rec);
        if dsq == SCX_DSQ_GLOBAL {
            assert_eq!(global, Some(SCX_DSQ_GLOBAL));
        }
        assert_exit(
            &mut s,
            EXIT_ERROR,
            "cannot use vtime ordering for built-in DSQs",
        );
    }
}

/// ext.c:1752 and 1774: mixing FIFO and PRIQ insertion on one user DSQ.
/// DSQ 5 is never consumed, so its first task stays there. (ops.select_cpu
/// is implemented so that every wakeup goes through ops.enqueue.)
#[test]
fn mixing_fifo_and_priq() {
    for fifo_first in [true, false] {
        let n = Rc::new(RefCell::new(0u32));
        let probe = Probe::fifo()
            .with(Op::SelectCpu)
            .hook(move |cx, c| match c.op {
                Op::Init => {
                    cx.create_dsq(DSQ, -1);
                    Some(i64::from(cx.create_dsq(5, -1)))
                }
                Op::Enqueue => {
                    let p = c.task.unwrap();
                    let first = *n.borrow() == 0;
                    *n.borrow_mut() += 1;
                    if first == fifo_first {
                        cx.dispatch(p, 5, SCX_SLICE_DFL, c.arg);
                    } else {
                        cx.dispatch_vtime(p, 5, SCX_SLICE_DFL, 100, c.arg);
                    }
                    Some(0)
                }
                _ => None,
            });
        let mut s = sim(probe);
        let msg = if fifo_first {
            "DSQ ID 0x0000000000000005 already had FIFO-enqueued tasks"
        } else {
            "DSQ ID 0x0000000000000005 already had PRIQ-enqueued tasks"
        };
        assert_exit(&mut s, EXIT_ERROR, msg);
    }
}

/// A PRIQ DSQ used only with vtime, and a FIFO DSQ only FIFO: no error.
#[test]
fn priq_alone_is_fine() {
    let probe = Probe::fifo().hook(|cx, c| match c.op {
        Op::Init => {
            cx.create_dsq(DSQ, -1);
            Some(i64::from(cx.create_dsq(5, -1)))
        }
        Op::Enqueue => {
            let p = c.task.unwrap();
            let v = cx.task(p).sum_exec_runtime();
            cx.dispatch_vtime(p, 5, SCX_SLICE_DFL, v, c.arg);
            Some(0)
        }
        Op::Dispatch => {
            cx.consume(5);
            Some(0)
        }
        _ => None,
    });
    let s = sim(probe);
    assert!(s.k.scx.last_exit.is_none(), "{:?}", s.k.scx.last_exit);
}

/// ext.c:1892: a DSQ id that names no DSQ — a missing user DSQ or a
/// built-in id other than LOCAL/LOCAL_ON/GLOBAL — printed `%llx`, with the
/// task; the task goes to the global DSQ. (SCX_DSQ_INVALID from
/// ops.enqueue is not an error: it is the "no direct dispatch" sentinel of
/// `ddsp_dsq_id`, ext.c:2068, so the task simply stays with the BPF
/// scheduler; see `direct_dispatch_to_scx_dsq_invalid`.)
#[test]
fn dispatch_to_a_non_existent_dsq() {
    for (id, shown) in [
        (0x1234u64, "0x1234"),
        (0x8000_0000_0000_0003, "0x8000000000000003"),
        ((1 << 62) | 5, "0x4000000000000005"),
    ] {
        let who = Notes::default();
        let w = who.clone();
        let probe = Probe::fifo().hook(move |cx, c| {
            if c.op == Op::Enqueue {
                let p = c.task.unwrap();
                if w.is_empty() {
                    w.push(name_of(cx, p));
                }
                cx.dispatch(p, id, SCX_SLICE_DFL, c.arg);
                return Some(0);
            }
            None
        });
        let mut s = sim(probe);
        assert_eq!(fallback_dsq(&s.rec), Some(SCX_DSQ_GLOBAL));
        let p = who.first().unwrap();
        assert_exit(
            &mut s,
            EXIT_ERROR,
            &format!("non-existent DSQ {shown} for {p}"),
        );
    }
}

/// ext.c:1892 from ops.dispatch(): the dispatch buffer names a missing DSQ
/// when it is flushed (`finish_dispatch()` resolves every id, including
/// SCX_DSQ_INVALID).
#[test]
fn dispatch_buffer_to_a_non_existent_dsq() {
    for (id, shown) in [(77u64, "0x4d"), (SCX_DSQ_INVALID, "0x8000000000000000")] {
        dispatch_buffer_to(id, shown);
    }
}

fn dispatch_buffer_to(id: u64, shown: &str) {
    let owned: Rc<RefCell<VecDeque<Task>>> = Default::default();
    let (o1, o2) = (owned.clone(), owned.clone());
    let who = Notes::default();
    let w = who.clone();
    let probe = Probe::fifo().hook(move |cx, c| match c.op {
        Op::Enqueue => {
            o1.borrow_mut().push_back(c.task.unwrap());
            Some(0)
        }
        Op::Dispatch => {
            if let Some(p) = o2.borrow_mut().pop_front() {
                if w.is_empty() {
                    w.push(name_of(cx, p));
                }
                cx.dispatch(p, id, SCX_SLICE_DFL, 0);
            }
            Some(0)
        }
        _ => None,
    });
    let mut s = sim(probe);
    let p = who.first().unwrap();
    assert_exit(
        &mut s,
        EXIT_ERROR,
        &format!("non-existent DSQ {shown} for {p}"),
    );
}

/// `scx_bpf_dispatch(p, SCX_DSQ_INVALID, ...)` from ops.enqueue() records
/// the sentinel as the direct-dispatch target, so `do_enqueue_task()` sees
/// no direct dispatch (ext.c:2068-2076): no error, the task is QUEUED with
/// the BPF scheduler, and the disable path takes it back.
#[test]
fn direct_dispatch_to_scx_dsq_invalid() {
    let probe = Probe::fifo().with(Op::SelectCpu).hook(|cx, c| {
        if c.op == Op::Enqueue && cx.task(c.task.unwrap()).comm() == "rs" {
            cx.dispatch(c.task.unwrap(), SCX_DSQ_INVALID, SCX_SLICE_DFL, c.arg);
            return Some(0);
        }
        None
    });
    let mut s = sim(probe);
    assert!(claims(&s.rec).is_empty(), "{:?}", claims(&s.rec));
    let rs = s.k.task(tid(&s.k, "rs"));
    assert!(rs.scx.queued(), "rs stays queued with the BPF scheduler");
    assert_eq!(rs.scx.ops_state & 3, SCX_OPSS_QUEUED);
    s.k.detach();
    s.k.run_until(s.k.now + 50 * MS);
    assert_exit(&mut s, EXIT_UNREG, "");
}

/// ext.c:1914: a second dispatch within one ops.enqueue(); the first
/// stands.
#[test]
fn direct_dispatch_twice() {
    let who = Notes::default();
    let w = who.clone();
    let probe = Probe::fifo().hook(move |cx, c| {
        if c.op == Op::Enqueue {
            let p = c.task.unwrap();
            if w.is_empty() {
                w.push(name_of(cx, p));
            }
            cx.dispatch(p, DSQ, SCX_SLICE_DFL, c.arg);
            cx.dispatch(p, SCX_DSQ_GLOBAL, SCX_SLICE_DFL, c.arg);
            return Some(0);
        }
        None
    });
    let mut s = sim(probe);
    let p = who.first().unwrap();
    assert_exit(
        &mut s,
        EXIT_ERROR,
        &format!("{p} already direct-dispatched"),
    );
}

/// ext.c:1917: ops.enqueue(p) (and ops.select_cpu(p)) direct-dispatching
/// another task; nothing is dispatched and `p` stays with the BPF
/// scheduler until the disable path takes it back.
#[test]
fn direct_dispatch_of_another_task() {
    for op in [Op::Enqueue, Op::SelectCpu] {
        let who = Notes::default();
        let w = who.clone();
        let probe = Probe::fifo().with(Op::SelectCpu).hook(move |cx, c| {
            if c.op == op {
                let p = c.task.unwrap();
                let k = kthreadd(cx);
                if w.is_empty() {
                    w.push(name_of(cx, p));
                }
                cx.dispatch(k, DSQ, SCX_SLICE_DFL, 0);
                return (op == Op::Enqueue).then_some(0);
            }
            None
        });
        let mut s = sim(probe);
        let p = who.first().unwrap();
        let kt = format!("kthreadd[{}]", s.k.task(s.k.task_by_pid(2).unwrap()).pid);
        assert_exit(
            &mut s,
            EXIT_ERROR,
            &format!("scheduling for {p} but trying to direct-dispatch {kt}"),
        );
    }
}

/// ext.c:2393: a LOCAL_ON verdict for a CPU outside the task's cpumask,
/// from ops.enqueue() (deferred dispatch) and from ops.dispatch(); the
/// task goes to the global DSQ and still runs.
#[test]
fn local_on_a_cpu_the_task_may_not_use() {
    for from_dispatch in [false, true] {
        let owned: Rc<RefCell<VecDeque<Task>>> = Default::default();
        let (o1, o2) = (owned.clone(), owned.clone());
        let probe = Probe::fifo().hook(move |cx, c| match c.op {
            Op::Enqueue => {
                let p = c.task.unwrap();
                if cx.task(p).comm() != "pin" {
                    return None;
                }
                if from_dispatch {
                    o1.borrow_mut().push_back(p);
                } else {
                    cx.dispatch(p, SCX_DSQ_LOCAL_ON | 1, SCX_SLICE_DFL, c.arg);
                }
                Some(0)
            }
            Op::Dispatch => {
                if let Some(p) = o2.borrow_mut().pop_front() {
                    cx.dispatch(p, SCX_DSQ_LOCAL_ON | 1, SCX_SLICE_DFL, 0);
                }
                None
            }
            _ => None,
        });
        let tasks = vec![pinned(run_sleep("pin", MS, 2 * MS), 0), hog("h1")];
        let mut s = run_probe(2, tasks, probe, 110 * MS);
        let pin = cp(&s.k, "pin");
        assert_exit(
            &mut s,
            EXIT_ERROR,
            &format!("SCX_DSQ_LOCAL[_ON] target CPU 1 not allowed for {pin}"),
        );
    }
}

/// ext.c:2380: a LOCAL_ON verdict that would migrate a task inside a
/// migrate_disable() section (it sleeps there and is woken on its CPU).
#[test]
fn local_on_moving_a_migration_disabled_task() {
    let md = TaskSpec::new(
        "md",
        vec![forever(vec![
            Step::MigrateDisable,
            Step::Run(MS),
            Step::Sleep(2 * MS),
            Step::Run(MS),
            Step::MigrateEnable,
            Step::Run(MS),
        ])],
    );
    let seen = Notes::default();
    let sn = seen.clone();
    let probe = Probe::fifo().hook(move |cx, c| {
        if c.op == Op::Enqueue {
            let p = c.task.unwrap();
            if cx.task(p).comm() != "md" {
                return None;
            }
            let cpu = cx.task_cpu(p);
            let other = 1 - cpu;
            if cx.task(p).migration_disabled() && sn.is_empty() {
                sn.push(format!("{} {cpu} {other}", name_of(cx, p)));
            }
            cx.dispatch(p, SCX_DSQ_LOCAL_ON | other as u64, SCX_SLICE_DFL, c.arg);
            return Some(0);
        }
        None
    });
    let mut s = run_probe(2, vec![md, hog("h1")], probe, 110 * MS);
    let first = seen
        .first()
        .expect("an enqueue while migration is disabled");
    let v: Vec<&str> = first.split(' ').collect();
    assert_exit(
        &mut s,
        EXIT_ERROR,
        &format!(
            "SCX_DSQ_LOCAL[_ON] cannot move migration disabled {} from CPU {} to {}",
            v[0], v[1], v[2]
        ),
    );
}

/// ext.c:4311: destroying a user DSQ that still has tasks; it is not
/// destroyed (consuming it keeps working until the exit).
#[test]
fn destroying_an_in_use_dsq() {
    let seen = Notes::default();
    let sn = seen.clone();
    let probe = Probe::fifo().hook(move |cx, c| {
        if c.op == Op::Dispatch {
            let n = cx.dsq_nr_queued(DSQ);
            if n > 0 && sn.is_empty() {
                sn.push(n.to_string());
                cx.destroy_dsq(DSQ);
                let after = cx.dsq_nr_queued(DSQ);
                sn.push(after.to_string());
            }
        }
        None
    });
    let tasks = vec![hog("a"), hog("b"), hog("c"), hog("d")];
    let mut s = run_probe(2, tasks, probe, 110 * MS);
    let v = seen.get();
    assert_eq!(v.len(), 2, "{v:?}");
    assert_eq!(v[0], v[1], "the DSQ still exists");
    assert_exit(
        &mut s,
        EXIT_ERROR,
        &format!(
            "attempting to destroy in-use dsq 0x0000000000000000 (nr={})",
            v[0]
        ),
    );
}

/// Destroying an empty DSQ is fine, and dispatching to it afterwards is a
/// non-existent DSQ (ext.c:1892): the id is gone from the hash.
#[test]
fn destroyed_dsq_no_longer_exists() {
    let probe = Probe::fifo().hook(|cx, c| match c.op {
        Op::Init => {
            cx.create_dsq(DSQ, -1);
            cx.create_dsq(9, -1);
            cx.destroy_dsq(9);
            Some(0)
        }
        Op::Enqueue => {
            cx.dispatch(c.task.unwrap(), 9, SCX_SLICE_DFL, c.arg);
            Some(0)
        }
        _ => None,
    });
    let mut s = sim(probe);
    let msg = s.k.scx.last_exit.as_ref().map(|e| e.info.msg.clone());
    let msg = msg.expect("an exit");
    assert!(msg.starts_with("non-existent DSQ 0x9 for "), "{msg}");
    assert_exit(&mut s, EXIT_ERROR, &msg);
}

// ---------------------------------------------------------------------
// The dispatch buffer (ext.c:6285-6301, 6495-6520)

/// ext.c:6292: more dispatches in one ops.dispatch() than
/// `dispatch_max_batch` (set, and the default 32); the extra one is
/// dropped. `scx_bpf_dispatch_nr_slots()` counts down to 0.
#[test]
fn dispatch_buffer_overflow() {
    for batch in [2u32, 0] {
        let cap = if batch == 0 { 32 } else { batch };
        let slots = Notes::default();
        let sl = slots.clone();
        let probe = Probe::fifo().batch(batch).hook(move |cx, c| {
            if c.op == Op::Dispatch && sl.is_empty() {
                let k = kthreadd(cx);
                let before = cx.dispatch_nr_slots();
                for _ in 0..cap {
                    cx.dispatch(k, DSQ, SCX_SLICE_DFL, 0);
                }
                let after = cx.dispatch_nr_slots();
                sl.push(format!("{before} {after}"));
                cx.dispatch(k, DSQ, SCX_SLICE_DFL, 0);
            }
            None
        });
        let mut s = sim(probe);
        assert_eq!(slots.first(), Some(format!("{cap} 0")));
        assert_exit(&mut s, EXIT_ERROR, "dispatch buffer overflow");
    }
}

/// ext.c:6519: cancelling with an empty buffer; cancelling a buffered
/// dispatch is fine.
#[test]
fn dispatch_buffer_underflow() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Dispatch {
            let k = kthreadd(cx);
            cx.dispatch(k, DSQ, SCX_SLICE_DFL, 0);
            cx.dispatch_cancel();
            cx.dispatch_cancel();
        }
        None
    });
    let mut s = sim(probe);
    assert_exit(&mut s, EXIT_ERROR, "dispatch buffer underflow");
}

/// ext.c:6549: `scx_bpf_consume()` of anything but a user DSQ
/// (`0x%016llx`), returns false.
#[test]
fn consume_of_a_non_user_dsq() {
    for (id, shown) in [
        (SCX_DSQ_GLOBAL, "0x8000000000000001"),
        (SCX_DSQ_LOCAL, "0x8000000000000002"),
        (SCX_DSQ_LOCAL_ON | 1, "0xc000000000000001"),
        (42, "0x000000000000002a"),
    ] {
        let got = Notes::default();
        let g = got.clone();
        let probe = Probe::fifo().hook(move |cx, c| {
            if c.op == Op::Dispatch && g.is_empty() {
                g.push(cx.consume(id).to_string());
            }
            None
        });
        let mut s = sim(probe);
        assert_eq!(got.first().as_deref(), Some("false"));
        assert_exit(&mut s, EXIT_ERROR, &format!("invalid DSQ ID {shown}"));
    }
}

// ---------------------------------------------------------------------
// Other kfuncs

/// ext.c:6821: SCX_KICK_IDLE with PREEMPT or WAIT.
#[test]
fn kick_idle_with_preempt_or_wait() {
    for flags in [
        SCX_KICK_IDLE | SCX_KICK_PREEMPT,
        SCX_KICK_IDLE | SCX_KICK_WAIT,
    ] {
        let probe = Probe::fifo().hook(move |cx, c| {
            if c.op == Op::Dispatch {
                cx.kick_cpu(1 - c.cpu, flags);
            }
            None
        });
        let mut s = sim(probe);
        assert_exit(
            &mut s,
            EXIT_ERROR,
            "PREEMPT/WAIT cannot be used with SCX_KICK_IDLE",
        );
    }
}

/// ext.c:7204: a cpuperf target above SCX_CPUPERF_ONE, checked before the
/// CPU number; 1024 itself is fine.
#[test]
fn cpuperf_target_out_of_range() {
    for (cpu, perf) in [(0i32, 1025u32), (9, 2000)] {
        let probe = Probe::fifo().with(Op::Tick).hook(move |cx, c| {
            if c.op == Op::Tick {
                cx.cpuperf_set(c.cpu, 1024);
                cx.cpuperf_set(cpu, perf);
            }
            None
        });
        let mut s = sim(probe);
        assert_exit(
            &mut s,
            EXIT_ERROR,
            &format!("Invalid cpuperf target {perf} for CPU {cpu}"),
        );
    }
}

/// ext.c:7117: `scx_bpf_dump()` outside ops.dump()/dump_cpu()/dump_task().
#[test]
fn dump_outside_a_dump_op() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Enqueue {
            cx.dump("hello");
        }
        None
    });
    let mut s = sim(probe);
    assert_exit(
        &mut s,
        EXIT_ERROR,
        "scx_bpf_dump() must only be called from ops.dump() and friends",
    );
}

/// ext.c:6233, 7268, 7289, 7330, 7363: the idle kfuncs when ops.update_idle
/// is implemented without SCX_OPS_KEEP_BUILTIN_IDLE; each returns its
/// failure value. `scx_bpf_select_cpu_dfl()` checks the CPU first.
#[test]
fn idle_kfuncs_without_builtin_idle() {
    type Case = (&'static str, &'static str, fn(&mut Cx, &Call) -> String);
    let cases: Vec<Case> = vec![
        ("select_cpu_dfl", "", |cx, c| {
            let (cpu, idle) = cx.select_cpu_dfl(c.task.unwrap(), c.prev_cpu, c.arg);
            format!("{} {idle}", cpu == c.prev_cpu)
        }),
        ("get_idle_cpumask", "", |cx, _| {
            cx.get_idle_cpumask().is_empty().to_string()
        }),
        ("get_idle_smtmask", "", |cx, _| {
            cx.get_idle_smtmask().is_empty().to_string()
        }),
        ("test_and_clear_cpu_idle", "", |cx, _| {
            cx.test_and_clear_cpu_idle(0).to_string()
        }),
        ("pick_idle_cpu", "", |cx, _| {
            let all = cx.get_possible_cpumask();
            cx.pick_idle_cpu(&all, 0).to_string()
        }),
        ("select_cpu_dfl with a bad CPU", "invalid CPU 9", |cx, c| {
            let (cpu, idle) = cx.select_cpu_dfl(c.task.unwrap(), 9, c.arg);
            format!("{cpu} {idle}")
        }),
    ];
    let expect_ret = ["true false", "true", "true", "false", "-16", "9 false"];
    for ((what, msg, f), ret) in cases.into_iter().zip(expect_ret) {
        let got = Notes::default();
        let g = got.clone();
        let probe = Probe::fifo()
            .with(Op::SelectCpu)
            .with(Op::UpdateIdle)
            .hook(move |cx, c| {
                if c.op == Op::SelectCpu && g.is_empty() {
                    g.push(f(cx, c));
                }
                None
            });
        let mut s = sim(probe);
        eprintln!("case: {what}");
        assert_eq!(got.first().as_deref(), Some(ret), "{what}");
        let msg = if msg.is_empty() {
            "built-in idle tracking is disabled"
        } else {
            msg
        };
        assert_exit(&mut s, EXIT_ERROR, msg);
    }
}

/// With SCX_OPS_KEEP_BUILTIN_IDLE the same calls are fine.
#[test]
fn idle_kfuncs_with_keep_builtin_idle() {
    let probe = Probe::fifo()
        .with(Op::SelectCpu)
        .with(Op::UpdateIdle)
        .flags(SCX_OPS_KEEP_BUILTIN_IDLE)
        .hook(|cx, c| {
            if c.op == Op::SelectCpu {
                let all = cx.get_possible_cpumask();
                cx.get_idle_cpumask();
                cx.get_idle_smtmask();
                cx.pick_idle_cpu(&all, 0);
                let (cpu, _) = cx.select_cpu_dfl(c.task.unwrap(), c.prev_cpu, c.arg);
                return Some(i64::from(cpu));
            }
            None
        });
    let s = sim(probe);
    assert!(s.k.scx.last_exit.is_none(), "{:?}", s.k.scx.last_exit);
}

// ---------------------------------------------------------------------
// scx_bpf_error() / scx_bpf_exit() (ext.c:7071, 7092)

/// ext.c:7092: kind ERROR_BPF with the formatted message, from any op.
#[test]
fn scx_bpf_error_from_any_op() {
    for op in [Op::Enqueue, Op::Dispatch, Op::Running, Op::Init] {
        let probe = Probe::fifo().hook(move |cx, c| {
            if c.op == op {
                cx.error(&format!("bad thing in {}", op.name()));
                if op == Op::Init {
                    return Some(i64::from(cx.create_dsq(DSQ, -1)));
                }
            }
            None
        });
        let mut s = sim(probe);
        assert_exit(
            &mut s,
            EXIT_ERROR_BPF,
            &format!("bad thing in {}", op.name()),
        );
    }
}

/// ext.c:7071: kind UNREG_BPF with the BPF's exit code; graceful (no dump,
/// no backtrace, message not logged).
#[test]
fn scx_bpf_exit_with_a_code() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Dispatch {
            cx.exit(0x1_0000_0000_002a, "done here");
        }
        None
    });
    let mut s = sim(probe);
    assert_exit_code(&mut s, EXIT_UNREG_BPF, 0x1_0000_0000_002a, "done here");
}

// ---------------------------------------------------------------------
// Non-exit diagnostics

/// ext.c:3181: a task picked from the local DSQ with a zero slice is
/// warned about once per scheduler instance and given the default slice;
/// the scheduler keeps running.
#[test]
fn zero_slice_warning_once() {
    let probe = Probe::fifo().hook(|cx, c| {
        if c.op == Op::Enqueue {
            let p = c.task.unwrap();
            cx.dispatch(p, SCX_DSQ_LOCAL, SCX_SLICE_DFL, c.arg);
            cx.set_slice(p, 0);
            return Some(0);
        }
        None
    });
    let s = sim(probe);
    assert!(s.k.scx.last_exit.is_none());
    let warns: Vec<String> = log_lines(&s.k)
        .into_iter()
        .filter(|l| l.contains("has zero slice in pick_task_scx()"))
        .collect();
    assert_eq!(warns.len(), 1, "{warns:?}");
    let w = &warns[0];
    let who = w
        .strip_prefix("sched_ext: ")
        .and_then(|r| r.strip_suffix(" has zero slice in pick_task_scx()"))
        .unwrap_or_else(|| panic!("{w}"));
    assert!(who.ends_with(']') && who.contains('['), "{w}");
}

/// ext.c:4009: a non-root cgroup and no SCX_OPS_HAS_CGROUP_WEIGHT: one
/// warning at enable; with the flag none. Not an exit.
#[test]
fn cgroup_weight_warning() {
    for flag in [0, SCX_OPS_HAS_CGROUP_WEIGHT] {
        let mut w = workload(vec![hog("h0")]);
        w.cgroups.push(scx_workload::CgroupSpec {
            path: "/a".into(),
            parent: None,
            weight: 100,
        });
        let (mut k, _rec) = machine_with(quiet_cfg(), scx_machine::Topology::flat(2).unwrap(), w);
        attach(&mut k, Probe::fifo().flags(flag));
        k.run_until(50 * MS);
        let warns = log_lines(&k)
            .into_iter()
            .filter(|l| *l == "sched_ext: \"test\" does not implement cgroup cpu.weight")
            .count();
        assert_eq!(warns, usize::from(flag == 0));
        assert!(k.scx.last_exit.is_none());
    }
}

/// ext.c:1540 for ops.cgroup_prep_move(): a task moving between cgroups
/// while loaded; the move is refused.
#[test]
fn cgroup_prep_move_returning_an_invalid_errno() {
    let mut w = workload(vec![TaskSpec::new(
        "mover",
        vec![
            Step::Sleep(30 * MS),
            Step::SetCgroup(0),
            forever(vec![Step::Run(MS), Step::Sleep(MS)]),
        ],
    )]);
    w.cgroups.push(scx_workload::CgroupSpec {
        path: "/a".into(),
        parent: None,
        weight: 100,
    });
    let (mut k, rec) = machine_with(quiet_cfg(), scx_machine::Topology::flat(2).unwrap(), w);
    k.run_until(10 * MS);
    let probe = Probe::fifo()
        .with(Op::CgroupPrepMove)
        .flags(SCX_OPS_HAS_CGROUP_WEIGHT)
        .hook(|_, c| (c.op == Op::CgroupPrepMove).then_some(1));
    let log = probe.log.clone();
    attach(&mut k, probe);
    k.run_until(100 * MS);
    let mover = k.task(tid(&k, "mover"));
    assert_eq!(mover.cgroup, 0, "the move was refused");
    let mut s = Sim { k, rec, log };
    assert_exit(
        &mut s,
        EXIT_ERROR,
        "ops.cgroup_prep_move() returned an invalid errno 1",
    );
}

// ---------------------------------------------------------------------
// Property: misbehaving schedulers never break the simulator

mod chaos {
    //! Random schedulers built from valid and invalid kfunc calls in random
    //! callbacks, on random small machines and workloads: the simulator
    //! never panics or hangs (every run reaches its simulated end time
    //! within a bounded number of events, or halts), every scheduler either
    //! keeps running or ends in an scx exit with a kernel exit kind, tasks
    //! are conserved throughout (the kernel's own check after every event,
    //! and here at the end), and after the exit every task is back on the
    //! fair class.

    use super::*;
    use proptest::prelude::*;
    use scx_kernel::config::KernelConfig;
    use scx_kernel::task::Class;

    #[derive(Clone, Copy, Debug)]
    pub enum CpuSel {
        Valid(u8),
        Neg,
        TooBig,
    }

    #[derive(Clone, Copy, Debug)]
    pub enum DsqSel {
        User0,
        User1,
        Global,
        Local,
        LocalOn(CpuSel),
        Invalid,
        Other(u64),
    }

    #[derive(Clone, Copy, Debug)]
    pub enum Who {
        Arg,
        Kthreadd,
        Null,
    }

    #[derive(Clone, Copy, Debug)]
    pub enum Act {
        Dispatch {
            who: Who,
            dsq: DsqSel,
            slice: u64,
            flags: u64,
            vtime: bool,
        },
        Consume(DsqSel),
        Kick(CpuSel, u64),
        Create(DsqSel),
        Destroy(DsqSel),
        Cancel,
        NrSlots,
        Reenq,
        SelectDfl(CpuSel),
        Perf(CpuSel, u32),
        IdleMask,
        PickIdle,
        Error,
        Exit(i64),
        Panic,
        SetSlice(u64),
        TaskCgroup(Who),
        MoveFirst(DsqSel, DsqSel),
        Skip,
        Ret(i64),
    }

    #[derive(Clone, Debug)]
    pub struct Rule {
        op: Op,
        after: u8,
        every: u8,
        act: Act,
    }

    #[derive(Clone, Debug)]
    pub enum Kind {
        Hog,
        RunSleep(u64, u64),
        Pinned(u8),
        Yielder,
        Forker,
        MigDis,
    }

    #[derive(Clone, Debug)]
    pub struct Case {
        cpus: usize,
        breaker: bool,
        timeout_ms: u32,
        flags: u64,
        update_idle: bool,
        tasks: Vec<Kind>,
        rules: Vec<Rule>,
    }

    fn cpu_sel() -> impl Strategy<Value = CpuSel> {
        prop_oneof![
            4 => (0u8..8).prop_map(CpuSel::Valid),
            1 => Just(CpuSel::Neg),
            1 => Just(CpuSel::TooBig),
        ]
    }

    fn dsq_sel() -> impl Strategy<Value = DsqSel> {
        prop_oneof![
            4 => Just(DsqSel::User0),
            1 => Just(DsqSel::User1),
            2 => Just(DsqSel::Global),
            3 => Just(DsqSel::Local),
            2 => cpu_sel().prop_map(DsqSel::LocalOn),
            1 => Just(DsqSel::Invalid),
            1 => any::<u64>().prop_map(DsqSel::Other),
        ]
    }

    fn who() -> impl Strategy<Value = Who> {
        prop_oneof![6 => Just(Who::Arg), 2 => Just(Who::Kthreadd), 1 => Just(Who::Null)]
    }

    fn act() -> impl Strategy<Value = Act> {
        let flags = prop_oneof![
            6 => Just(0u64),
            1 => Just(SCX_ENQ_PREEMPT),
            1 => Just(SCX_ENQ_HEAD),
            1 => Just(SCX_ENQ_CLEAR_OPSS),
        ];
        let slice = prop_oneof![
            Just(SCX_SLICE_DFL),
            Just(0u64),
            Just(SCX_SLICE_INF),
            Just(100 * US)
        ];
        let kick = prop_oneof![
            Just(0u64),
            Just(SCX_KICK_IDLE),
            Just(SCX_KICK_PREEMPT),
            Just(SCX_KICK_WAIT),
            Just(SCX_KICK_IDLE | SCX_KICK_PREEMPT),
        ];
        prop_oneof![
            12 => (who(), dsq_sel(), slice, flags, prop::bool::weighted(0.2)).prop_map(
                |(who, dsq, slice, flags, vtime)| Act::Dispatch { who, dsq, slice, flags, vtime }
            ),
            4 => dsq_sel().prop_map(Act::Consume),
            3 => (cpu_sel(), kick).prop_map(|(c, f)| Act::Kick(c, f)),
            1 => dsq_sel().prop_map(Act::Create),
            1 => dsq_sel().prop_map(Act::Destroy),
            1 => Just(Act::Cancel),
            1 => Just(Act::NrSlots),
            1 => Just(Act::Reenq),
            1 => cpu_sel().prop_map(Act::SelectDfl),
            1 => (cpu_sel(), 0u32..1100).prop_map(|(c, p)| Act::Perf(c, p)),
            1 => Just(Act::IdleMask),
            1 => Just(Act::PickIdle),
            1 => Just(Act::Error),
            1 => (0i64..3).prop_map(Act::Exit),
            1 => Just(Act::Panic),
            1 => prop_oneof![Just(0u64), Just(SCX_SLICE_INF)].prop_map(Act::SetSlice),
            1 => who().prop_map(Act::TaskCgroup),
            1 => (dsq_sel(), dsq_sel()).prop_map(|(a, b)| Act::MoveFirst(a, b)),
            3 => Just(Act::Skip),
            2 => prop_oneof![Just(0i64), Just(-12), Just(5), Just(1), Just(-1), Just(99)].prop_map(Act::Ret),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => Just(Op::Enqueue),
            4 => Just(Op::Dispatch),
            2 => Just(Op::SelectCpu),
            1 => Just(Op::Running),
            1 => Just(Op::Stopping),
            1 => Just(Op::Tick),
            1 => Just(Op::Runnable),
            1 => Just(Op::Quiescent),
            1 => Just(Op::InitTask),
            1 => Just(Op::Init),
            1 => Just(Op::CpuRelease),
            1 => Just(Op::UpdateIdle),
            1 => Just(Op::Exit),
        ]
    }

    fn rule() -> impl Strategy<Value = Rule> {
        (op(), 0u8..40, 1u8..6, act()).prop_map(|(op, after, every, act)| Rule {
            op,
            after,
            every,
            act,
        })
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            3 => Just(Kind::Hog),
            3 => (100u64..3000, 100u64..5000).prop_map(|(r, s)| Kind::RunSleep(r, s)),
            1 => (0u8..8).prop_map(Kind::Pinned),
            1 => Just(Kind::Yielder),
            1 => Just(Kind::Forker),
            1 => Just(Kind::MigDis),
        ]
    }

    pub fn case() -> impl Strategy<Value = Case> {
        (
            1usize..=4,
            prop::bool::weighted(0.8),
            100u32..600,
            prop::sample::select(vec![
                0,
                SCX_OPS_ENQ_LAST,
                SCX_OPS_ENQ_EXITING,
                SCX_OPS_KEEP_BUILTIN_IDLE,
            ]),
            prop::bool::weighted(0.2),
            prop::collection::vec(kind(), 1..6),
            prop::collection::vec(rule(), 0..6),
            prop::option::weighted(0.2, 0u8..40),
        )
            .prop_map(
                |(cpus, breaker, timeout_ms, flags, update_idle, tasks, mut rules, looper)| {
                    // Sometimes scx_qmap -l: after a while every ops.dispatch()
                    // only "dispatches" kthreadd.
                    if let Some(after) = looper {
                        rules.push(Rule {
                            op: Op::Dispatch,
                            after,
                            every: 1,
                            act: Act::Dispatch {
                                who: Who::Kthreadd,
                                dsq: DsqSel::Local,
                                slice: SCX_SLICE_DFL,
                                flags: 0,
                                vtime: false,
                            },
                        });
                        rules.push(Rule {
                            op: Op::Dispatch,
                            after,
                            every: 1,
                            act: Act::Skip,
                        });
                    }
                    Case {
                        cpus,
                        breaker,
                        timeout_ms,
                        flags,
                        update_idle,
                        tasks,
                        rules,
                    }
                },
            )
    }

    fn cpu_of(cx: &Cx, s: CpuSel) -> i32 {
        let nr = cx.nr_cpu_ids() as i32;
        match s {
            CpuSel::Valid(c) => i32::from(c) % nr,
            CpuSel::Neg => -1,
            CpuSel::TooBig => nr + 3,
        }
    }

    fn dsq_of(cx: &Cx, s: DsqSel) -> u64 {
        match s {
            DsqSel::User0 => DSQ,
            DsqSel::User1 => 1,
            DsqSel::Global => SCX_DSQ_GLOBAL,
            DsqSel::Local => SCX_DSQ_LOCAL,
            DsqSel::LocalOn(c) => SCX_DSQ_LOCAL_ON | (cpu_of(cx, c) as u32 as u64),
            DsqSel::Invalid => SCX_DSQ_INVALID,
            DsqSel::Other(v) => v,
        }
    }

    fn who_of(cx: &Cx, c: &Call, w: Who) -> Option<Task> {
        match w {
            Who::Arg => c.task,
            Who::Kthreadd => cx.task_from_pid(2),
            Who::Null => Some(Task(u32::MAX)),
        }
    }

    /// Performs `a` in callback `c`; `Some` replaces the op's default.
    fn perform(cx: &mut Cx, c: &Call, a: Act) -> Option<i64> {
        match a {
            Act::Dispatch {
                who,
                dsq,
                slice,
                flags,
                vtime,
            } => {
                if let Some(p) = who_of(cx, c, who) {
                    let d = dsq_of(cx, dsq);
                    if vtime {
                        cx.dispatch_vtime(p, d, slice, 7, flags);
                    } else {
                        cx.dispatch(p, d, slice, flags);
                    }
                }
                (c.op == Op::Enqueue).then_some(0)
            }
            Act::Consume(d) => {
                let d = dsq_of(cx, d);
                cx.consume(d);
                (c.op == Op::Dispatch).then_some(0)
            }
            Act::Kick(cpu, f) => {
                let cpu = cpu_of(cx, cpu);
                cx.kick_cpu(cpu, f);
                None
            }
            Act::Create(d) => {
                let d = dsq_of(cx, d);
                cx.create_dsq(d, -1);
                None
            }
            Act::Destroy(d) => {
                let d = dsq_of(cx, d);
                cx.destroy_dsq(d);
                None
            }
            Act::Cancel => {
                cx.dispatch_cancel();
                None
            }
            Act::NrSlots => {
                cx.dispatch_nr_slots();
                None
            }
            Act::Reenq => {
                cx.reenqueue_local();
                None
            }
            Act::SelectDfl(cpu) => {
                let cpu = cpu_of(cx, cpu);
                c.task
                    .map(|p| i64::from(cx.select_cpu_dfl(p, cpu, c.arg).0))
                    .filter(|_| c.op == Op::SelectCpu)
            }
            Act::Perf(cpu, perf) => {
                let cpu = cpu_of(cx, cpu);
                cx.cpuperf_set(cpu, perf);
                None
            }
            Act::IdleMask => {
                cx.get_idle_cpumask();
                cx.get_idle_smtmask();
                None
            }
            Act::PickIdle => {
                let m = cx.get_online_cpumask();
                cx.pick_idle_cpu(&m, 0);
                cx.pick_any_cpu(&m, 0);
                None
            }
            Act::Error => {
                cx.error("chaos");
                None
            }
            Act::Exit(code) => {
                cx.exit(code, "chaos exit");
                None
            }
            Act::Panic => panic!("chaos panic"),
            Act::SetSlice(s) => {
                if let Some(p) = c.task {
                    cx.set_slice(p, s);
                }
                None
            }
            Act::TaskCgroup(w) => {
                if let Some(p) = who_of(cx, c, w).filter(|p| p.0 != u32::MAX) {
                    cx.task_cgroup(p);
                }
                None
            }
            Act::MoveFirst(from, to) => {
                let (from, to) = (dsq_of(cx, from), dsq_of(cx, to));
                let (mut it, _) = cx.dsq_iter_new(from, 0);
                if let Some(p) = cx.dsq_iter_next(&mut it) {
                    cx.dispatch_from_dsq(&mut it, p, to, 0);
                }
                cx.dsq_iter_destroy(it);
                None
            }
            Act::Skip => Some(0),
            Act::Ret(v) => match c.op {
                Op::SelectCpu => {
                    let nr = i64::from(cx.nr_cpu_ids());
                    // Mostly valid CPUs, sometimes not.
                    Some(if (0..nr + 2).contains(&v) {
                        v % (nr + 1)
                    } else {
                        v
                    })
                }
                Op::Init | Op::InitTask => Some(v),
                _ => None,
            },
        }
    }

    fn probe(case: &Case) -> Probe {
        let mut p = Probe::fifo()
            .with(Op::SelectCpu)
            .with(Op::Tick)
            .with(Op::CpuRelease)
            .flags(case.flags)
            .timeout_ms(case.timeout_ms);
        if case.update_idle {
            p = p.with(Op::UpdateIdle);
        }
        let rules = case.rules.clone();
        let mut counts = vec![0u32; rules.len()];
        // The call counters saturate, so a scheduler stuck in a loop
        // reaches a fixed point and can be fast-forwarded (and halted).
        let digest = std::rc::Rc::new(std::cell::Cell::new(0u64));
        p.digest = Some(digest.clone());
        p.hook(move |cx, c| {
            let mut ret = None;
            for (i, r) in rules.iter().enumerate() {
                if r.op != c.op {
                    continue;
                }
                counts[i] = (counts[i] + 1).min(200);
                digest.set(counts.iter().fold(0u64, |h, n| {
                    h.wrapping_mul(1_000_003).wrapping_add(u64::from(*n))
                }));
                let n = counts[i];
                if n > u32::from(r.after) && n.is_multiple_of(u32::from(r.every)) {
                    if let Some(v) = perform(cx, c, r.act) {
                        ret = Some(v);
                    }
                }
            }
            if c.op == Op::Init && ret.is_none() {
                // Keep DSQ 0 so the default FIFO works; DSQ 1 only exists
                // if a rule creates it.
                return Some(i64::from(cx.create_dsq(DSQ, -1)));
            }
            ret
        })
    }

    fn task(i: usize, k: &Kind, cpus: usize) -> TaskSpec {
        let name = format!("t{i}");
        match k {
            Kind::Hog => hog(&name),
            Kind::RunSleep(r, s) => run_sleep(&name, r * US, s * US),
            Kind::Pinned(c) => pinned(hog(&name), usize::from(*c) % cpus),
            Kind::Yielder => {
                TaskSpec::new(&name, vec![forever(vec![Step::Run(200 * US), Step::Yield])])
            }
            Kind::Forker => TaskSpec::new(
                &name,
                vec![forever(vec![
                    Step::Run(300 * US),
                    Step::Fork(0),
                    Step::WaitChildren,
                ])],
            ),
            Kind::MigDis => TaskSpec::new(
                &name,
                vec![forever(vec![
                    Step::MigrateDisable,
                    Step::Run(500 * US),
                    Step::Sleep(US * 700),
                    Step::MigrateEnable,
                    Step::Run(300 * US),
                ])],
            ),
        }
    }

    /// Runs to `until`, stepping, with a bound on the number of events.
    fn bounded_run(k: &mut Kernel, until: u64) {
        let cap = k.stats.events + 4_000_000;
        while k.halted().is_none() {
            match k.next_event_time() {
                Some(t) if t <= until => k.step(),
                _ => break,
            }
            assert!(k.stats.events < cap, "no progress: stuck at {} ns", k.now);
        }
        k.run_until(until);
    }

    /// Boots the case's machine, attaches its scheduler and runs 400 ms.
    fn run_case(case: &Case) -> (Kernel, std::rc::Rc<std::cell::RefCell<ProbeLog>>) {
        let mut cfg = KernelConfig {
            housekeeping_period: 0,
            rcu_period: 0,
            ..Default::default()
        };
        cfg.dsp_max_loops = if case.breaker { 32 } else { 0 };
        cfg.cost.balance_round = 20 * US;
        let mut w = workload(
            case.tasks
                .iter()
                .enumerate()
                .map(|(i, k)| task(i, k, case.cpus))
                .collect(),
        );
        w.templates.push(TaskSpec::new(
            "child",
            vec![Step::Run(100 * US), Step::Exit],
        ));
        let (mut k, _rec) = machine_with(cfg, scx_machine::Topology::flat(case.cpus).unwrap(), w);
        let _ = k.take_sink();
        k.run_until(5 * MS);
        let p = probe(case);
        let log = p.log.clone();
        k.attach(Box::new(p)).expect("valid ops info");
        bounded_run(&mut k, 400 * MS);
        (k, log)
    }

    pub fn check(case: &Case) {
        let (mut k, log) = run_case(case);
        if k.halted().is_some() || k.all_stuck_since().is_some() {
            // Every CPU is stuck for good (no breaker): nothing can run,
            // not even the loader (as the runner has it).
            assert!(!case.breaker, "every CPU stuck with the breaker on");
            k.check_conservation();
            return;
        }
        assert_eq!(k.attach_result(), Some(0), "attach completed");
        // Whatever happened, user space now detaches.
        k.detach();
        let end = k.now + 300 * MS;
        bounded_run(&mut k, end);
        k.check_conservation();
        if k.halted().is_some() || k.scx.enabled {
            // The disable work never got a CPU: the machine is wedged.
            let wedged = k.rqs.iter().any(|r| {
                matches!(
                    r.mode,
                    Mode::Sched(_) | Mode::LockWait { .. } | Mode::KickWait
                )
            });
            assert!(wedged, "the disable did not complete on a live machine");
            return;
        }
        let e = k.scx.last_exit.clone().expect("an exit record");
        assert!(
            [
                EXIT_UNREG,
                EXIT_UNREG_BPF,
                EXIT_UNREG_KERN,
                EXIT_ERROR,
                EXIT_ERROR_BPF,
                EXIT_ERROR_STALL
            ]
            .contains(&e.info.kind),
            "{e:?}"
        );
        assert_eq!(e.info.reason, reason(e.info.kind));
        // Graceful kinds never have a dump. (Error kinds should always have
        // one, but see `error_irq_work_livelock` below.)
        if e.info.kind < EXIT_ERROR {
            assert!(e.info.dump.is_empty(), "{e:?}");
        } else if !e.info.dump.is_empty() {
            let head = format!(
                "triggered exit kind {}:\n  {} (",
                e.info.kind, e.info.reason
            );
            assert!(e.info.dump.contains(&head), "{}", e.info.dump);
        }
        let exits = log.borrow().exits.len();
        assert_eq!(exits, 1, "ops.exit() once");
        for t in k.tasks.iter().filter(|t| !t.freed) {
            assert_ne!(t.class, Class::Ext, "{}[{}] left on ext", t.comm, t.pid);
        }
    }

    use scx_kernel::rq::Mode;
    use scx_kernel::Kernel;

    pub fn found_case() -> Case {
        Case {
            cpus: 4,
            breaker: true,
            timeout_ms: 197,
            flags: SCX_OPS_ENQ_EXITING,
            update_idle: false,
            tasks: vec![
                Kind::MigDis,
                Kind::Pinned(1),
                Kind::RunSleep(1944, 4120),
                Kind::Hog,
                Kind::RunSleep(1336, 2845),
            ],
            rules: vec![
                Rule {
                    op: Op::SelectCpu,
                    after: 17,
                    every: 1,
                    act: Act::Dispatch {
                        who: Who::Arg,
                        dsq: DsqSel::Global,
                        slice: 100 * US,
                        flags: 0,
                        vtime: true,
                    },
                },
                Rule {
                    op: Op::SelectCpu,
                    after: 31,
                    every: 3,
                    act: Act::Kick(CpuSel::Valid(3), SCX_KICK_PREEMPT),
                },
                Rule {
                    op: Op::Enqueue,
                    after: 23,
                    every: 2,
                    act: Act::Dispatch {
                        who: Who::Arg,
                        dsq: DsqSel::User0,
                        slice: SCX_SLICE_DFL,
                        flags: 0,
                        vtime: false,
                    },
                },
                Rule {
                    op: Op::Dispatch,
                    after: 0,
                    every: 1,
                    act: Act::Dispatch {
                        who: Who::Kthreadd,
                        dsq: DsqSel::Local,
                        slice: SCX_SLICE_DFL,
                        flags: 0,
                        vtime: false,
                    },
                },
                Rule {
                    op: Op::Dispatch,
                    after: 0,
                    every: 1,
                    act: Act::Skip,
                },
            ],
        }
    }

    /// Found by the property below: four CPUs, two of them cycling through
    /// the dispatch-loop breaker (scx_qmap -l style) out of phase, and a
    /// "watchdog failed to check in" stall raised on a third. The error
    /// irq_work waits until no runqueue lock is held across a `__schedule()`
    /// at all, which never happens, so the debug dump is never taken and the
    /// disable work never queued: the scheduler stays loaded with a pending
    /// exit until user space detaches 200 ms later, and the exit has no
    /// dump. The kernel's `scx_dump_state()` (ext.c:5081-5140) takes the rq
    /// locks one at a time with fair spinlocks, so the dump completes within
    /// a few breaker cycles and the disable follows at once.
    #[test]
    fn error_irq_work_livelock() {
        let (k, _) = run_case(&found_case());
        let e = k.scx.last_exit.clone().expect("the stall was processed");
        assert_eq!(e.info.kind, EXIT_ERROR_STALL);
        assert!(e.disabled_at - e.claimed_at < 10 * MS, "{e:?}");
        assert!(e.info.dump.contains("triggered exit kind 1026:"), "{e:?}");
    }

    /// Found by the property below: no breaker, one task inside a
    /// migrate_disable() section, a scheduler looping in ops.dispatch().
    pub fn found_case_2() -> Case {
        let looping = Act::Dispatch {
            who: Who::Kthreadd,
            dsq: DsqSel::Local,
            slice: SCX_SLICE_DFL,
            flags: 0,
            vtime: false,
        };
        Case {
            cpus: 2,
            breaker: false,
            timeout_ms: 100,
            flags: 0,
            update_idle: false,
            tasks: vec![Kind::MigDis],
            rules: vec![
                Rule {
                    op: Op::Dispatch,
                    after: 2,
                    every: 1,
                    act: looping,
                },
                Rule {
                    op: Op::Dispatch,
                    after: 2,
                    every: 1,
                    act: Act::Skip,
                },
            ],
        }
    }

    /// Regression (found by the property below): at 400 ms both CPUs spin
    /// in the endless dispatch loop, CPU 1 with the `sched_ext_ops_helper`
    /// kthread as `prev` (it blocked, then CPU 1 got trapped before switching
    /// away). Detaching wakes the helper; scxsim used to migrate it to CPU 0
    /// while it was still CPU 1's current task, breaking conservation. The
    /// kernel's try_to_wake_up() never moves a task that is still `on_cpu`:
    /// it queues the wakeup on that CPU's wake list (core.c:4277-4279) or
    /// waits for `p->on_cpu` to clear (core.c:4290).
    #[test]
    fn wakeup_of_the_prev_of_a_trapped_cpu() {
        let (mut k, _) = run_case(&found_case_2());
        assert!(k.halted().is_none());
        k.detach();
        let end = k.now + 100 * MS;
        bounded_run(&mut k, end);
        k.check_conservation();
    }

    proptest! {
        // A fixed seed keeps the suite deterministic; PROPTEST_RNG_SEED=<n>
        // explores another sample (10 × 1024 random cases passed when this
        // was written). The dump of error exits is not required because of
        // the bug in `error_irq_work_livelock`.
        #![proptest_config({
            let mut c = ProptestConfig {
                cases: 256,
                failure_persistence: None,
                ..ProptestConfig::default()
            };
            if matches!(c.rng_seed, proptest::test_runner::RngSeed::Random) {
                c.rng_seed = proptest::test_runner::RngSeed::Fixed(0x5afe_7e57);
            }
            c
        })]

        #[test]
        fn misbehaving_schedulers_never_break_the_simulator(c in case()) {
            check(&c);
        }
    }
}
