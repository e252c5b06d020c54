//! Our C test schedulers, compiled with clang-19, loaded and driven through
//! their callbacks against the mock host.

mod common;

use common::{MockHost, MockTask};
use scx_bpf::host::{DsqIterRef, TaskField};
use scx_bpf::{Arg, KfuncCall, TaskId, TimerId, Vm};

const SCX_DSQ_LOCAL: u64 = (1 << 63) | 2;
const SCX_DSQ_LOCAL_ON: u64 = (1 << 63) | (1 << 62);
const SCX_ENQ_REENQ: u64 = 1 << 40;

fn host_with_tasks() -> (MockHost, TaskId, TaskId) {
    let mut h = MockHost::new();
    let a = h.add_task(10, MockTask::new(100, "worker"));
    let mut heavy = MockTask::new(200, "heavy");
    heavy.weight = 200;
    heavy.prio = 100;
    let b = h.add_task(11, heavy);
    (h, a, b)
}

// ---------------------------------------------------------------- vtime

#[test]
fn vtime_struct_ops_table_and_maps() {
    let Some(vm) = common::load("scx_sim_vtime.bpf.o") else {
        return;
    };
    let ops = vm.struct_ops().unwrap();
    assert_eq!(ops.name, "sim_vtime");
    assert_eq!(ops.var, "vtime_ops");
    assert_eq!(ops.timeout_ms, 3000);
    assert_eq!(ops.flags, 0);
    let cbs: Vec<(&str, &str)> = ops
        .callbacks
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        cbs,
        [
            ("dispatch", "vt_dispatch"),
            ("enable", "vt_enable"),
            ("enqueue", "vt_enqueue"),
            ("exit", "vt_exit"),
            ("init", "vt_init"),
            ("running", "vt_running"),
            ("select_cpu", "vt_select_cpu"),
            ("stopping", "vt_stopping"),
        ]
    );
    assert!(
        vm.programs()
            .iter()
            .find(|p| p.name == "vt_init")
            .unwrap()
            .sleepable
    );
    let stats = vm.map("stats").unwrap();
    assert_eq!(
        (
            stats.map_type,
            stats.key_size,
            stats.value_size,
            stats.max_entries
        ),
        (6, 4, 8, 3)
    );
}

/// Drive a short scenario and return everything the host saw.
fn vtime_scenario(vm: &mut Vm) -> (Vec<KfuncCall>, Vec<(u32, TaskField, u64)>, u64) {
    let (mut h, a, b) = host_with_tasks();
    assert_eq!(vm.call_op(&mut h, "init", &[]).unwrap(), 0);
    vm.call_op(&mut h, "enable", &[Arg::Task(a)]).unwrap();
    vm.call_op(&mut h, "enable", &[Arg::Task(b)]).unwrap();
    // CPU 1 is idle: direct dispatch to the local DSQ.
    assert_eq!(
        vm.call_op(
            &mut h,
            "select_cpu",
            &[Arg::Task(a), Arg::Int(0), Arg::Int(8)]
        )
        .unwrap(),
        1
    );
    h.idle_cpus = 0;
    assert_eq!(
        vm.call_op(
            &mut h,
            "select_cpu",
            &[Arg::Task(b), Arg::Int(2), Arg::Int(8)]
        )
        .unwrap(),
        2
    );
    vm.call_op(&mut h, "enqueue", &[Arg::Task(b), Arg::Int(1)])
        .unwrap();
    vm.call_op(&mut h, "dispatch", &[Arg::Int(2), Arg::OptTask(None)])
        .unwrap();
    vm.call_op(&mut h, "running", &[Arg::Task(b)]).unwrap();
    h.tasks.get_mut(&11).unwrap().slice = 5_000_000; // used 15ms of 20ms
    vm.call_op(&mut h, "stopping", &[Arg::Task(b), Arg::Int(1)])
        .unwrap();
    vm.call_op(&mut h, "enqueue", &[Arg::Task(b), Arg::Int(0)])
        .unwrap();
    let vt = h.tasks[&11].dsq_vtime;
    (h.calls, h.writes, vt)
}

#[test]
fn vtime_callbacks_issue_expected_host_calls() {
    let Some(mut vm) = common::load("scx_sim_vtime.bpf.o") else {
        return;
    };
    let (calls, writes, vtime) = vtime_scenario(&mut vm);
    let t = |id| TaskId(id);
    assert_eq!(
        calls[0],
        KfuncCall::CreateDsq {
            dsq_id: 7,
            node: -1
        }
    );
    assert_eq!(
        calls[1],
        KfuncCall::SelectCpuDfl {
            task: t(10),
            prev_cpu: 0,
            wake_flags: 8
        }
    );
    assert_eq!(
        calls[2],
        KfuncCall::Dispatch {
            task: t(10),
            dsq_id: SCX_DSQ_LOCAL,
            slice: 20_000_000,
            enq_flags: 0
        }
    );
    assert_eq!(
        calls[3],
        KfuncCall::SelectCpuDfl {
            task: t(11),
            prev_cpu: 2,
            wake_flags: 8
        }
    );
    assert!(matches!(
        calls[4],
        KfuncCall::DispatchVtime {
            task: TaskId(11),
            dsq_id: 7,
            slice: 20_000_000,
            enq_flags: 1,
            ..
        }
    ));
    assert_eq!(calls[5], KfuncCall::Consume { dsq_id: 7 });
    // 15ms used at weight 200 -> vtime += 15e6 * 100 / 200.
    assert_eq!(vtime, 7_500_000);
    assert!(writes.contains(&(11, TaskField::ScxDsqVtime, 7_500_000)));
    assert!(matches!(
        calls[6],
        KfuncCall::DispatchVtime {
            vtime: 7_500_000,
            ..
        }
    ));
    // Per-CPU stats: one direct dispatch, two queued, one consumed.
    let stat = |vm: &mut Vm, i: u32| -> u64 {
        let b = vm.map_lookup("stats", &i.to_le_bytes()).unwrap();
        b.chunks(8)
            .map(|c| u64::from_le_bytes(c.try_into().unwrap()))
            .sum()
    };
    assert_eq!(
        (stat(&mut vm, 0), stat(&mut vm, 1), stat(&mut vm, 2)),
        (1, 2, 1)
    );
}

#[test]
fn vtime_fifo_knob_changes_behaviour() {
    let Some(mut obj) = common::parse("scx_sim_vtime.bpf.o") else {
        return;
    };
    obj.set_var("fifo_mode", &[1]).unwrap();
    obj.set_var_u64("slice_ns", 3_000_000).unwrap();
    assert!(
        obj.set_var("fifo_mode", &[1, 2]).is_err(),
        "size is checked"
    );
    assert!(obj.set_var("no_such_knob", &[1]).is_err());
    let mut vm = Vm::load(obj, &common::env()).unwrap();
    let (mut h, a, _) = host_with_tasks();
    vm.call_op(&mut h, "enqueue", &[Arg::Task(a), Arg::Int(0)])
        .unwrap();
    assert_eq!(
        h.calls,
        [KfuncCall::Dispatch {
            task: a,
            dsq_id: 7,
            slice: 3_000_000,
            enq_flags: 0
        }]
    );
}

#[test]
fn vtime_exit_records_reason_and_message() {
    let Some(mut vm) = common::load("scx_sim_vtime.bpf.o") else {
        return;
    };
    let mut h = MockHost::new();
    let ei = Arg::ExitInfo {
        kind: 1025,
        exit_code: -3,
        reason: "scx_bpf_error".into(),
        msg: "something broke".into(),
        dump: String::new(),
    };
    vm.call_op(&mut h, "exit", &[ei]).unwrap();
    let g = vm.global("exit_info").unwrap();
    assert_eq!(i32::from_le_bytes(g[0..4].try_into().unwrap()), 1025);
    assert_eq!(i64::from_le_bytes(g[8..16].try_into().unwrap()), -3);
    assert!(g[16..].starts_with(b"scx_bpf_error\0"));
    assert!(g[16 + 128..].starts_with(b"something broke\0"));
}

#[test]
fn core_same_source_against_two_layouts_behaves_identically() {
    let (Some(mut sim), Some(mut alt)) = (
        common::load("scx_sim_vtime.bpf.o"),
        common::load("scx_sim_vtime.alt.bpf.o"),
    ) else {
        return;
    };
    // The two objects really were compiled against different layouts.
    let (a, b) = (
        common::object_bytes("scx_sim_vtime.bpf.o").unwrap(),
        common::object_bytes("scx_sim_vtime.alt.bpf.o").unwrap(),
    );
    assert_ne!(a, b);
    let (pa, pb) = (
        common::parse("scx_sim_vtime.bpf.o").unwrap(),
        common::parse("scx_sim_vtime.alt.bpf.o").unwrap(),
    );
    assert_ne!(
        pa.code, pb.code,
        "field offsets compiled into the code differ"
    );
    assert_eq!(pa.core_sites.len(), pb.core_sites.len());
    assert_eq!(vtime_scenario(&mut sim), vtime_scenario(&mut alt));
}

// --------------------------------------------------------------- queues

fn queues_vm(stall: u32) -> Option<Vm> {
    let mut obj = common::parse("scx_sim_queues.bpf.o")?;
    obj.set_var_u64("stall_after_dispatches", stall as u64)
        .unwrap();
    Some(Vm::load(obj, &common::env()).unwrap())
}

#[test]
fn queues_table_maps_and_inner_maps() {
    let Some(vm) = queues_vm(0) else { return };
    let ops = vm.struct_ops().unwrap();
    assert_eq!(
        (ops.name.as_str(), ops.flags, ops.timeout_ms),
        ("sim_queues", 2, 5000)
    );
    assert_eq!(
        vm.map_names(),
        ["q_low", "q_mid", "q_high", "queues", "task_ctxs"]
    );
    let q = vm.map("queues").unwrap();
    assert_eq!((q.map_type, q.max_entries, q.len()), (12, 3, 3));
    assert_eq!(vm.map("task_ctxs").unwrap().map_type, 29);
    let mut vm = vm;
    assert_eq!(vm.set_inner_map("queues", &0u32.to_le_bytes(), "q_high"), 0);
    assert_eq!(
        vm.set_inner_map("queues", &3u32.to_le_bytes(), "q_high"),
        -7
    );
    assert_eq!(vm.set_inner_map("nope", &0u32.to_le_bytes(), "q_high"), -2);
}

#[test]
fn queues_enqueue_dispatch_round_trip() {
    let Some(mut vm) = queues_vm(0) else { return };
    let (mut h, a, b) = host_with_tasks();
    assert_eq!(vm.call_op(&mut h, "init", &[]).unwrap(), 0);
    for t in [a, b] {
        let r = vm
            .call_op(
                &mut h,
                "init_task",
                &[
                    Arg::Task(t),
                    Arg::InitTaskArgs {
                        fork: false,
                        cgroup: None,
                    },
                ],
            )
            .unwrap();
        assert_eq!(r, 0);
        vm.call_op(&mut h, "enqueue", &[Arg::Task(t), Arg::Int(0)])
            .unwrap();
    }
    assert_eq!(vm.map("q_mid").unwrap().len(), 1);
    assert_eq!(vm.map("q_high").unwrap().len(), 1);
    assert_eq!(vm.global_u64("nr_enqueued"), Some(2));
    h.calls.clear();
    vm.call_op(&mut h, "dispatch", &[Arg::Int(0), Arg::OptTask(None)])
        .unwrap();
    // high queue first (pid 200), then mid (pid 100), then consume.
    let dispatched: Vec<_> = h.calls_named("Dispatch {").into_iter().cloned().collect();
    assert_eq!(
        dispatched,
        [
            KfuncCall::Dispatch {
                task: b,
                dsq_id: 1,
                slice: 5_000_000,
                enq_flags: 0
            },
            KfuncCall::Dispatch {
                task: a,
                dsq_id: 1,
                slice: 5_000_000,
                enq_flags: 0
            },
        ]
    );
    assert!(h.calls.contains(&KfuncCall::TaskFromPid { pid: 200 }));
    assert_eq!(h.calls.last(), Some(&KfuncCall::Consume { dsq_id: 1 }));
    assert_eq!(vm.global_u64("nr_dispatched"), Some(2));
    assert_eq!(h.local, [11]);
}

#[test]
fn queues_stall_knob_keeps_dispatching_pid_2() {
    let Some(mut vm) = queues_vm(1) else { return };
    let (mut h, a, _) = host_with_tasks();
    let kthreadd = h.add_task(2, MockTask::new(2, "kthreadd"));
    vm.call_op(&mut h, "init", &[]).unwrap();
    vm.call_op(
        &mut h,
        "init_task",
        &[
            Arg::Task(a),
            Arg::InitTaskArgs {
                fork: true,
                cgroup: None,
            },
        ],
    )
    .unwrap();
    vm.call_op(&mut h, "enqueue", &[Arg::Task(a), Arg::Int(0)])
        .unwrap();
    vm.call_op(&mut h, "dispatch", &[Arg::Int(0), Arg::OptTask(None)])
        .unwrap();
    for _ in 0..3 {
        h.calls.clear();
        vm.call_op(&mut h, "dispatch", &[Arg::Int(0), Arg::OptTask(None)])
            .unwrap();
        assert!(h.calls.contains(&KfuncCall::TaskFromPid { pid: 2 }));
        assert!(h.calls.contains(&KfuncCall::Dispatch {
            task: kthreadd,
            dsq_id: SCX_DSQ_LOCAL,
            slice: 5_000_000,
            enq_flags: 0
        }));
    }
}

#[test]
fn queues_cpu_release_reenters_enqueue() {
    let Some(mut vm) = queues_vm(0) else { return };
    let (mut h, a, b) = host_with_tasks();
    vm.call_op(&mut h, "init", &[]).unwrap();
    h.local = vec![10, 11];
    let args = [
        Arg::Int(0),
        Arg::CpuReleaseArgs {
            reason: 0,
            task: None,
        },
    ];
    vm.call_op(&mut h, "cpu_release", &args).unwrap();
    // The host's reenqueue_local ran ops.enqueue for both tasks, nested
    // inside the cpu_release invocation.
    assert_eq!(vm.global_u64("nr_reenqueued"), Some(2));
    let reenq: Vec<_> = h.calls_named("Dispatch {").into_iter().cloned().collect();
    assert_eq!(
        reenq,
        [
            KfuncCall::Dispatch {
                task: a,
                dsq_id: 1,
                slice: 5_000_000,
                enq_flags: SCX_ENQ_REENQ
            },
            KfuncCall::Dispatch {
                task: b,
                dsq_id: 1,
                slice: 5_000_000,
                enq_flags: SCX_ENQ_REENQ
            },
        ]
    );
}

#[test]
fn queues_urgent_tasks_move_via_dsq_iterator() {
    let Some(mut vm) = queues_vm(0) else { return };
    let (mut h, a, b) = host_with_tasks();
    vm.call_op(&mut h, "init", &[]).unwrap();
    for t in [a, b] {
        vm.call_op(
            &mut h,
            "init_task",
            &[
                Arg::Task(t),
                Arg::InitTaskArgs {
                    fork: false,
                    cgroup: None,
                },
            ],
        )
        .unwrap();
    }
    h.dsqs.insert(1, vec![10, 11]);
    h.calls.clear();
    vm.call_op(&mut h, "dispatch", &[Arg::Int(0), Arg::OptTask(None)])
        .unwrap();
    let moved: Vec<_> = h
        .calls_named("DispatchFromDsq")
        .into_iter()
        .cloned()
        .collect();
    assert_eq!(
        moved,
        [KfuncCall::DispatchFromDsq {
            iter: DsqIterRef {
                handle: 0,
                slice: Some(10_000_000),
                vtime: None
            },
            task: b,
            dsq_id: 2,
            enq_flags: 0,
            vtime_order: false,
        }]
    );
    assert_eq!(
        h.calls_named("DsqIterDestroy").len(),
        1,
        "cleanup attribute destroys the iterator"
    );
    assert_eq!(h.calls[h.calls.len() - 1], KfuncCall::Consume { dsq_id: 2 });
    assert_eq!(vm.global_u64("nr_urgent"), Some(1));
}

#[test]
fn queues_error_dump_and_printk_are_formatted() {
    let Some(mut vm) = queues_vm(0) else { return };
    let (mut h, a, _) = host_with_tasks();
    // No init_task: the task has no storage, so enqueue reports an error.
    vm.call_op(&mut h, "enqueue", &[Arg::Task(a), Arg::Int(0)])
        .unwrap();
    assert_eq!(h.errors, ["no task_ctx for pid 100"]);
    let dctx = Arg::DumpCtx {
        kind: 0,
        exit_code: 0,
        reason: "dump".into(),
        at_ns: 1,
        at_jiffies: 1,
    };
    vm.call_op(&mut h, "dump", &[dctx]).unwrap();
    assert_eq!(h.dumps, ["queues: enq=0 dsp=0"]);
    vm.call_op(&mut h, "cpu_online", &[Arg::Int(3)]).unwrap();
    assert_eq!(h.trace, ["cpu 3 online, hello"]);
}

#[test]
fn task_storage_is_dropped_when_the_host_frees_the_task() {
    let Some(mut vm) = queues_vm(0) else { return };
    let (mut h, a, _) = host_with_tasks();
    vm.call_op(
        &mut h,
        "init_task",
        &[
            Arg::Task(a),
            Arg::InitTaskArgs {
                fork: false,
                cgroup: None,
            },
        ],
    )
    .unwrap();
    assert_eq!(vm.map("task_ctxs").unwrap().storage_owners(), [10]);
    vm.task_freed(a);
    assert!(vm.map("task_ctxs").unwrap().is_empty());
}

// -------------------------------------------------------------- central

fn central_vm() -> Option<Vm> {
    let mut obj = common::parse("scx_sim_central.bpf.o")?;
    obj.set_var_u64("nr_cpu_ids", 4).unwrap();
    obj.set_var_u64("central_cpu", 0).unwrap();
    obj.resize_array("want_task", 4).unwrap();
    obj.resize_array("run_started", 4).unwrap();
    assert!(
        obj.resize_array("nr_kicks", 4).is_err(),
        "only a section's trailing array can grow"
    );
    Some(Vm::load(obj, &common::env()).unwrap())
}

#[test]
fn central_struct_ops_numeric_fields() {
    let Some(vm) = central_vm() else { return };
    let ops = vm.struct_ops().unwrap();
    assert_eq!(
        (
            ops.flags,
            ops.dispatch_max_batch,
            ops.exit_dump_len,
            ops.hotplug_seq
        ),
        (2, 16, 8192, 42)
    );
    assert_eq!(ops.timeout_ms, 0);
    assert_eq!(ops.name, "sim_central");
}

#[test]
fn central_timer_is_pinned_and_fires_through_the_host() {
    let Some(mut vm) = central_vm() else { return };
    let (mut h, a, _) = host_with_tasks();
    assert_eq!(vm.call_op(&mut h, "init", &[]).unwrap(), 0);
    assert_eq!(
        h.calls[0],
        KfuncCall::CreateDsq {
            dsq_id: 0,
            node: -1
        }
    );
    assert_eq!(
        h.timers,
        [(TimerId(0), 1_000_000, 2, 0)],
        "BPF_F_TIMER_CPU_PIN on the central CPU"
    );
    // Task on CPU 3 started running at t=0 and exceeded its 10ms slice.
    h.tasks.get_mut(&10).unwrap().cpu = 3;
    h.now = 5;
    vm.call_op(&mut h, "running", &[Arg::Task(a)]).unwrap();
    h.now = 20_000_000;
    h.calls.clear();
    vm.fire_timer(&mut h, TimerId(0)).unwrap();
    assert_eq!(h.calls, [KfuncCall::KickCpu { cpu: 3, flags: 2 }]);
    assert_eq!(h.timers.len(), 2, "callback re-armed the timer");
    assert_eq!(vm.global_u64("nr_timer_runs"), Some(1));
    assert_eq!(vm.global_u64("timer_on_wrong_cpu"), Some(0));
    h.cpu = 2;
    vm.fire_timer(&mut h, TimerId(0)).unwrap();
    assert_eq!(vm.global_u64("timer_on_wrong_cpu"), Some(1));
}

#[test]
fn central_hands_tasks_to_cpus_that_asked() {
    let Some(mut vm) = central_vm() else { return };
    let (mut h, a, _) = host_with_tasks();
    vm.call_op(&mut h, "init", &[]).unwrap();
    assert_eq!(
        vm.call_op(
            &mut h,
            "select_cpu",
            &[Arg::Task(a), Arg::Int(2), Arg::Int(0)]
        )
        .unwrap(),
        0
    );
    vm.call_op(&mut h, "enqueue", &[Arg::Task(a), Arg::Int(0)])
        .unwrap();
    assert_eq!(
        h.calls.last(),
        Some(&KfuncCall::KickCpu { cpu: 0, flags: 2 })
    );
    // CPU 2 finds nothing and asks the central CPU.
    vm.call_op(&mut h, "dispatch", &[Arg::Int(2), Arg::OptTask(None)])
        .unwrap();
    assert_eq!(vm.global("want_task").unwrap(), [0, 0, 1, 0]);
    h.calls.clear();
    vm.call_op(&mut h, "dispatch", &[Arg::Int(0), Arg::OptTask(None)])
        .unwrap();
    assert!(h.calls.contains(&KfuncCall::Dispatch {
        task: a,
        dsq_id: SCX_DSQ_LOCAL_ON | 2,
        slice: u64::MAX,
        enq_flags: 0
    }));
    assert!(h.calls.contains(&KfuncCall::KickCpu { cpu: 2, flags: 1 }));
    assert_eq!(vm.global("want_task").unwrap(), [0, 0, 0, 0]);
    assert_eq!(vm.global_u64("nr_handed"), Some(1));
}

#[test]
fn central_kthreads_are_dispatched_locally_with_preempt() {
    let Some(mut vm) = central_vm() else { return };
    let mut h = MockHost::new();
    let mut kt = MockTask::new(30, "ksoftirqd/1");
    kt.flags = 0x0020_0000;
    kt.cpus = 0b10;
    let k = h.add_task(3, kt);
    vm.call_op(&mut h, "enqueue", &[Arg::Task(k), Arg::Int(1)])
        .unwrap();
    assert_eq!(
        h.calls,
        [KfuncCall::Dispatch {
            task: k,
            dsq_id: SCX_DSQ_LOCAL,
            slice: u64::MAX,
            enq_flags: 1 | (1 << 32)
        }]
    );
}

/// What one run leaves behind: host calls, global variables, instructions.
type RunTrace = (Vec<KfuncCall>, Vec<Option<Vec<u8>>>, u64);

#[test]
fn runs_are_reproducible() {
    let run = || -> Option<RunTrace> {
        let mut vm = queues_vm(0)?;
        let (mut h, a, b) = host_with_tasks();
        vm.call_op(&mut h, "init", &[]).unwrap();
        for t in [a, b] {
            vm.call_op(
                &mut h,
                "init_task",
                &[
                    Arg::Task(t),
                    Arg::InitTaskArgs {
                        fork: false,
                        cgroup: None,
                    },
                ],
            )
            .unwrap();
        }
        for round in 0..20u64 {
            let t = if round % 3 == 0 { a } else { b };
            vm.call_op(&mut h, "enqueue", &[Arg::Task(t), Arg::Int(round & 1)])
                .unwrap();
            vm.call_op(
                &mut h,
                "dispatch",
                &[Arg::Int(round % 4), Arg::OptTask(None)],
            )
            .unwrap();
        }
        let globals = ["nr_enqueued", "nr_dispatched", "nr_urgent", "exit_info"]
            .iter()
            .map(|g| vm.global(g))
            .collect();
        Some((h.calls, globals, vm.insns_executed))
    };
    let (Some(x), Some(y)) = (run(), run()) else {
        return;
    };
    assert_eq!(x, y);
}
