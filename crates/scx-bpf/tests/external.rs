//! Optional smoke run of externally built scheduler objects: when
//! `SCX_BPF_EXTERNAL_OBJS` names a directory, every `*.bpf.o` in it is
//! loaded and driven through a generic callback sequence against the mock
//! host (init, task init/enable, select_cpu, enqueue, dispatch, running,
//! tick, stopping, dump, exit). Nothing runs when the variable is unset.

mod common;

use common::{MockHost, MockTask};
use scx_bpf::{Arg, BpfObject, Vm};

fn drive(vm: &mut Vm, h: &mut MockHost) -> Vec<String> {
    let mut log = Vec::new();
    let mut call = |vm: &mut Vm, h: &mut MockHost, op: &str, args: &[Arg]| {
        if vm.has_op(op) {
            let r = vm.call_op(h, op, args);
            log.push(format!("{op}: {r:?}"));
        }
    };
    let tasks: Vec<_> = (0..3)
        .map(|i| h.add_task(10 + i, MockTask::new(100 + i as i32, "ext")))
        .collect();
    call(vm, h, "init", &[]);
    h.cgroups.insert(1, vec![1]);
    call(
        vm,
        h,
        "cgroup_init",
        &[
            Arg::Cgroup(scx_bpf::CgroupId(1)),
            Arg::CgroupInitArgs { weight: 100 },
        ],
    );
    for &t in &tasks {
        let args = Arg::InitTaskArgs {
            fork: false,
            cgroup: Some(scx_bpf::CgroupId(1)),
        };
        call(vm, h, "init_task", &[Arg::Task(t), args]);
        call(vm, h, "enable", &[Arg::Task(t)]);
    }
    for &t in &tasks {
        call(
            vm,
            h,
            "select_cpu",
            &[Arg::Task(t), Arg::Int(0), Arg::Int(8)],
        );
        call(vm, h, "runnable", &[Arg::Task(t), Arg::Int(1)]);
        call(vm, h, "enqueue", &[Arg::Task(t), Arg::Int(1)]);
    }
    for cpu in 0..2 {
        call(vm, h, "dispatch", &[Arg::Int(cpu), Arg::OptTask(None)]);
    }
    for &t in &tasks {
        call(vm, h, "running", &[Arg::Task(t)]);
        call(vm, h, "tick", &[Arg::Task(t)]);
        call(vm, h, "stopping", &[Arg::Task(t), Arg::Int(1)]);
        call(vm, h, "quiescent", &[Arg::Task(t), Arg::Int(1)]);
    }
    call(
        vm,
        h,
        "cpu_release",
        &[
            Arg::Int(0),
            Arg::CpuReleaseArgs {
                reason: 0,
                task: None,
            },
        ],
    );
    let dump = Arg::DumpCtx {
        kind: 0,
        exit_code: 0,
        reason: "dump".into(),
        at_ns: 1,
        at_jiffies: 1,
    };
    call(vm, h, "dump", &[dump]);
    let exit = Arg::ExitInfo {
        kind: 64,
        exit_code: 0,
        reason: "unregistered".into(),
        msg: String::new(),
        dump: String::new(),
    };
    call(vm, h, "exit", &[exit]);
    for t in 0..vm.nr_timers() {
        let r = vm.fire_timer(h, scx_bpf::TimerId(t));
        log.push(format!("timer {t}: {r:?}"));
    }
    log
}

#[test]
fn external_objects_load_and_run() {
    let Some(dir) = std::env::var_os("SCX_BPF_EXTERNAL_OBJS") else {
        return;
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .collect();
    entries.sort();
    for path in entries
        .iter()
        .filter(|p| p.to_string_lossy().ends_with(".bpf.o"))
    {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let mut obj = BpfObject::parse(&name, &std::fs::read(path).unwrap()).unwrap();
        // Loader conventions of the kernel's example schedulers.
        let _ = obj.set_var_u64("nr_cpu_ids", 4);
        for v in ["cpu_gimme_task", "cpu_started_at"] {
            let _ = obj.resize_array(v, 4);
        }
        let mut vm = Vm::load(obj, &common::env()).unwrap_or_else(|e| panic!("{e}"));
        let mut h = MockHost::new();
        for line in drive(&mut vm, &mut h) {
            println!("{name}: {line}");
        }
        println!(
            "{name}: {} host calls, errors {:?}, trace {:?}",
            h.calls.len(),
            h.errors,
            h.trace
        );
    }
}
