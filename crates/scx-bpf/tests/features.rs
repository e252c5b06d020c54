//! BPF-side machinery exercised by the scx_sim_features object: rbtree,
//! lists, spin locks, cpumasks and kptrs, ring buffers, hash/LRU maps,
//! bpf_loop and number iterators, atomics, kernel field access, cgroups,
//! CO-RE existence answers, printk, and the typed run-time faults.

mod common;

use common::{MockHost, MockTask};
use scx_bpf::host::{HostKfunc, TaskField};
use scx_bpf::{Arg, CgroupId, Fault, KfuncSet, LoadEnv, TaskId, Vm};

fn setup(obj: &str) -> Option<(Vm, MockHost, TaskId)> {
    let vm = common::load(obj)?;
    let mut h = MockHost::new();
    h.add_task(1, MockTask::new(1, "init"));
    let mut t = MockTask::new(4242, "Zebra");
    t.weight = 77;
    t.cpus = 0b1010_0110;
    t.parent = Some(1);
    let id = h.add_task(5, t);
    Some((vm, h, id))
}

fn run(vm: &mut Vm, h: &mut MockHost, prog: &str, args: &[Arg]) -> Result<u64, Fault> {
    vm.call_program(h, prog, args)
}

fn rbtree_orders_by_the_bpf_less_callback(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    assert_eq!(
        run(&mut vm, &mut h, "f_rbtree", &[]).unwrap(),
        10 * 10000 + 30 * 100 + 50
    );
    assert_eq!(
        run(&mut vm, &mut h, "f_rbtree", &[]).unwrap(),
        10 * 10000 + 30 * 100 + 50,
        "nodes were all freed"
    );
}

fn lists_push_and_pop_both_ends(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    // list: 3 1 2 -> pop_front 3, pop_back 2, pop_back 1
    assert_eq!(run(&mut vm, &mut h, "f_list", &[]).unwrap(), 321);
}

fn cpumask_kfuncs_and_kptr_stash(obj: &str) {
    let Some((mut vm, mut h, t)) = setup(obj) else {
        return;
    };
    let r = run(&mut vm, &mut h, "f_cpumask", &[Arg::Task(t)]).unwrap();
    // mask {1,3} (cpu 9999 ignored), first 1, & task {1,2,5,7} = {1}, test(3) = 1
    assert_eq!(r, 2 | (1 << 8) | (1 << 16) | (1 << 24));
    assert_eq!(run(&mut vm, &mut h, "f_cpumask_unstash", &[]).unwrap(), 2);
    assert_eq!(run(&mut vm, &mut h, "f_cpumask_unstash", &[]).unwrap(), 77);
}

fn ringbuf_records_reach_the_host(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    assert_eq!(
        run(&mut vm, &mut h, "f_ringbuf", &[Arg::Int(99)]).unwrap(),
        0
    );
    let recs = vm.ringbuf_drain("events");
    assert_eq!(recs.len(), 2, "the discarded record is not delivered");
    let word = |r: &[u8], i: usize| u64::from_le_bytes(r[i..i + 8].try_into().unwrap());
    assert_eq!(
        (word(&recs[0].data, 0), word(&recs[0].data, 8)),
        (7 | (1 << 32), 99)
    );
    assert_eq!(
        (word(&recs[1].data, 0), word(&recs[1].data, 8)),
        (7 | (2 << 32), 100)
    );
}

fn hash_and_lru_maps_are_deterministic(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    for (k, want) in [(5u64, 1u64), (9, 1), (5, 2), (7, 1), (5, 3)] {
        assert_eq!(
            run(&mut vm, &mut h, "f_hash", &[Arg::Int(k)]).unwrap(),
            want
        );
    }
    let mut keys = Vec::new();
    let mut k = vm.map_next_key("counts", None);
    while let Some(cur) = k {
        keys.push(u32::from_le_bytes(cur[..4].try_into().unwrap()));
        k = vm.map_next_key("counts", Some(&cur));
    }
    assert_eq!(keys, [5, 9, 7], "insertion order");
    // LRU of 2: after 5, 9, 5, 7, 5 the least recent (9) was evicted.
    assert!(vm.map_lookup("recent", &9u32.to_le_bytes()).is_none());
    assert!(vm.map_lookup("recent", &5u32.to_le_bytes()).is_some());
    assert_eq!(vm.map_delete("counts", &9u32.to_le_bytes()), 0);
    assert_eq!(
        vm.map_update("counts", &1u32.to_le_bytes(), &5u64.to_le_bytes(), 0),
        0
    );
    assert_eq!(
        vm.map_lookup("counts", &1u32.to_le_bytes()).unwrap(),
        5u64.to_le_bytes()
    );
}

fn bpf_loop_and_number_iterators(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    assert_eq!(
        run(&mut vm, &mut h, "f_loop", &[Arg::Int(10), Arg::Int(0)]).unwrap(),
        (10 << 32) | 45
    );
    assert_eq!(
        run(&mut vm, &mut h, "f_loop", &[Arg::Int(10), Arg::Int(4)]).unwrap(),
        (4 << 32) | 6
    );
    assert_eq!(
        run(&mut vm, &mut h, "f_iter_num", &[Arg::Int(5)]).unwrap(),
        10 * 100 + 5
    );
    assert_eq!(
        run(&mut vm, &mut h, "f_iter_num", &[Arg::Int(0)]).unwrap(),
        5
    );
}

fn atomics_on_globals(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    let r = run(&mut vm, &mut h, "f_atomics", &[]).unwrap();
    assert_eq!(r, 100 + 105 + 0x169 + 0x69 + 0x68 + 7 + 101);
    assert_eq!(vm.global_u64("atom64"), Some(9));
    assert_eq!(vm.global_u64("atom32"), Some(50));
}

fn kernel_fields_read_through_windows_and_slice_write(obj: &str) {
    let Some((mut vm, mut h, t)) = setup(obj) else {
        return;
    };
    let r = run(&mut vm, &mut h, "f_task_fields", &[Arg::Task(t)]).unwrap();
    assert_eq!(
        r,
        4242 | (77 << 16) | (0xa6 << 32) | (1 << 40) | ((b'Z' as u64) << 56)
    );
    assert_eq!(h.writes, [(5, TaskField::ScxSlice, 1234)]);
}

fn writes_to_other_kernel_fields_fault(obj: &str) {
    let Some((mut vm, mut h, t)) = setup(obj) else {
        return;
    };
    let e = run(&mut vm, &mut h, "f_bad_write", &[Arg::Task(t)]).unwrap_err();
    assert!(matches!(e, Fault::KernelWrite { .. }), "{e}");
}

fn cgroup_fields_ancestors_and_storage(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    h.cgroups.insert(1, vec![1]);
    h.cgroups.insert(20, vec![1, 20]);
    h.cgroups.insert(33, vec![1, 20, 33]);
    let r = run(&mut vm, &mut h, "f_cgroup", &[Arg::Cgroup(CgroupId(33))]).unwrap();
    assert_eq!(r, 33 | (2 << 16) | (1 << 32) | (20 << 48));
    for want in 1..=3 {
        assert_eq!(
            run(
                &mut vm,
                &mut h,
                "f_cgrp_storage",
                &[Arg::Cgroup(CgroupId(33))]
            )
            .unwrap(),
            want
        );
    }
    vm.cgroup_freed(CgroupId(33));
    assert_eq!(
        run(
            &mut vm,
            &mut h,
            "f_cgrp_storage",
            &[Arg::Cgroup(CgroupId(33))]
        )
        .unwrap(),
        1
    );
}

fn core_existence_answers_like_6_12(obj: &str) {
    let Some((mut vm, mut h, t)) = setup(obj) else {
        return;
    };
    let r = run(&mut vm, &mut h, "f_core", &[Arg::Task(t)]).unwrap();
    let want = 1 | 2 | 4 | 16 | 64 | 128 | 256 | 512;
    assert_eq!(r, want, "bits: {r:#b}");
    // Without scx_bpf_task_cgroup in the host table the weak ksym is 0.
    let obj = common::parse(obj).unwrap();
    let env = LoadEnv {
        kfuncs: KfuncSet::all_except(&[HostKfunc::TaskCgroup]),
        ..common::env()
    };
    let mut vm2 = Vm::load(obj, &env).unwrap();
    assert_eq!(
        run(&mut vm2, &mut h, "f_core", &[Arg::Task(t)]).unwrap(),
        want & !512
    );
}

fn unresolvable_core_access_faults_only_when_executed(obj: &str) {
    let Some((mut vm, mut h, t)) = setup(obj) else {
        return;
    };
    let e = run(&mut vm, &mut h, "f_core_poison", &[Arg::Task(t)]).unwrap_err();
    assert!(
        matches!(&e, Fault::CoRePoisoned { what, .. } if what.contains("sched_ext_entity")),
        "{e}"
    );
}

fn printk_snprintf_and_prandom(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    let r1 = run(&mut vm, &mut h, "f_printk", &[Arg::Int(42)]).unwrap();
    assert_eq!(h.trace, ["four -1 7 ff str", "n=42 s=xyz"]);
    let r2 = run(&mut vm, &mut h, "f_printk", &[Arg::Int(42)]).unwrap();
    assert_ne!(r1, r2);
    let mut again = common::load(obj).unwrap();
    assert_eq!(
        run(&mut again, &mut h, "f_printk", &[Arg::Int(42)]).unwrap(),
        r1,
        "seeded: reproducible"
    );
}

fn runaway_program_hits_the_budget(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    vm.set_insn_budget(100_000);
    assert_eq!(
        run(&mut vm, &mut h, "f_runaway", &[]).unwrap_err(),
        Fault::Runaway { budget: 100_000 }
    );
    assert!(vm.set_global("spin_forever", &0u64.to_le_bytes()));
    assert_eq!(run(&mut vm, &mut h, "f_runaway", &[]).unwrap(), 0);
}

fn out_of_bounds_map_value_access_faults(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    assert_eq!(run(&mut vm, &mut h, "f_oob", &[Arg::Int(0)]).unwrap(), 1);
    let e = run(&mut vm, &mut h, "f_oob", &[Arg::Int(64)]).unwrap_err();
    let Fault::OutOfBounds { pc, size: 8, .. } = e else {
        panic!("{e}")
    };
    assert_eq!(vm.locate_pc(pc).unwrap().0, "struct_ops/f_oob");
}

fn leaked_reference_is_a_typed_fault(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    let e = run(&mut vm, &mut h, "f_leak", &[]).unwrap_err();
    assert!(matches!(e, Fault::RefLeak { .. }), "{e}");
}

fn scx_bpf_error_message_is_formatted_by_bstr(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    run(&mut vm, &mut h, "f_error", &[]).unwrap();
    assert_eq!(h.errors, ["bad value -5 in place (abc)"]);
}

fn unknown_program_and_op(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    assert_eq!(
        run(&mut vm, &mut h, "nope", &[]).unwrap_err(),
        Fault::NoSuchProgram("nope".into())
    );
    assert!(vm.call_op(&mut h, "enqueue", &[]).is_err());
}

fn v4_style_arithmetic(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    for (d, idx) in [(7i64, 0u64), (-7, 1), (3, 1), (-1000, 0)] {
        let (q, r) = (-1000 / d, -1000 % d);
        let (q32, r32) = (-1000i32 / d as i32, -1000i32 % d as i32);
        let wide: i64 = [-3 - 300 - 70000, 5 + 7 + 9][idx as usize];
        let want = ((q * 1_000_000 + r * 10_000 + q32 as i64 * 100 + r32 as i64) as u64)
            ^ wide as u64
            ^ (d as u64).swap_bytes()
            ^ (idx as u32).swap_bytes() as u64
            ^ (idx as u16).swap_bytes() as u64;
        let got = run(
            &mut vm,
            &mut h,
            "f_v4ops",
            &[Arg::Int(d as u64), Arg::Int(idx)],
        )
        .unwrap();
        assert_eq!(got, want, "d={d} idx={idx}");
    }
}

fn spin_lock_held_at_exit_faults_and_is_released(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    assert!(matches!(
        run(&mut vm, &mut h, "f_lock_leak", &[]).unwrap_err(),
        Fault::Lock(_)
    ));
    assert_eq!(
        run(&mut vm, &mut h, "f_rbtree", &[]).unwrap(),
        10 * 10000 + 30 * 100 + 50
    );
}

fn timers_init_start_cancel(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    h.cpu = 3;
    // init 0, second init -EBUSY (16), start 0
    assert_eq!(run(&mut vm, &mut h, "f_timer", &[]).unwrap(), 16 << 8);
    assert_eq!(h.timers, [(scx_bpf::TimerId(0), 5000, 0, 3)]);
    vm.fire_timer(&mut h, scx_bpf::TimerId(0)).unwrap();
    assert_eq!(
        vm.global_u64("self_cancel_ret"),
        Some(-35i64 as u64),
        "-EDEADLK from own callback"
    );
    assert_eq!(vm.global_u64("cb_key"), Some(1));
    let v = vm.map_lookup("timers", &1u32.to_le_bytes()).unwrap();
    assert_eq!(
        u64::from_le_bytes(v[..8].try_into().unwrap()),
        1,
        "callback got the map value"
    );
    assert_eq!(run(&mut vm, &mut h, "f_timer_cancel", &[]).unwrap(), 0);
    assert_eq!(h.cancels, [scx_bpf::TimerId(0)]);
}

fn comm_reads(obj: &str) {
    let Some((mut vm, mut h, t)) = setup(obj) else {
        return;
    };
    assert_eq!(run(&mut vm, &mut h, "f_comm", &[Arg::Task(t)]).unwrap(), 6);
    assert_eq!(&vm.global("last_comm").unwrap()[..6], b"Zebra\0");
    assert_eq!(vm.global("direct_comm").unwrap(), b"ebra");
}

fn bstr_rejects_bad_data_size(obj: &str) {
    let Some((mut vm, mut h, _)) = setup(obj) else {
        return;
    };
    run(&mut vm, &mut h, "f_error_bad_size", &[]).unwrap();
    assert_eq!(h.errors.len(), 1);
    assert!(
        h.errors[0].starts_with("<bstr error -22: invalid data=0x"),
        "{}",
        h.errors[0]
    );
    assert!(h.errors[0].ends_with("and data__sz=12>"), "{}", h.errors[0]);
}

/// Every test runs against the object built with -mcpu=v3 and with v4.
macro_rules! for_both_isas {
    ($($name:ident),* $(,)?) => {
        mod v3 {
            $(#[test] fn $name() { super::$name("scx_sim_features.bpf.o") })*
        }
        mod v4 {
            $(#[test] fn $name() { super::$name("scx_sim_features.v4.bpf.o") })*
        }
    };
}

for_both_isas!(
    rbtree_orders_by_the_bpf_less_callback,
    lists_push_and_pop_both_ends,
    cpumask_kfuncs_and_kptr_stash,
    ringbuf_records_reach_the_host,
    hash_and_lru_maps_are_deterministic,
    bpf_loop_and_number_iterators,
    atomics_on_globals,
    kernel_fields_read_through_windows_and_slice_write,
    writes_to_other_kernel_fields_fault,
    cgroup_fields_ancestors_and_storage,
    core_existence_answers_like_6_12,
    unresolvable_core_access_faults_only_when_executed,
    printk_snprintf_and_prandom,
    runaway_program_hits_the_budget,
    out_of_bounds_map_value_access_faults,
    leaked_reference_is_a_typed_fault,
    scx_bpf_error_message_is_formatted_by_bstr,
    unknown_program_and_op,
    v4_style_arithmetic,
    spin_lock_held_at_exit_faults_and_is_released,
    timers_init_start_cancel,
    comm_reads,
    bstr_rejects_bad_data_size,
);
