//! Fuzz the object loader end to end: parse, load, then run every program
//! briefly against a host with no kernel. Nothing may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scx_bpf::{Arg, BpfObject, LoadEnv, NullHost, Vm};

fuzz_target!(|data: &[u8]| {
    let Ok(obj) = BpfObject::parse("fuzz.o", data) else {
        return;
    };
    let names: Vec<String> = obj.programs.iter().map(|p| p.name.clone()).collect();
    let env = LoadEnv {
        insn_budget: 20_000,
        nr_cpu_ids: 2,
        ..LoadEnv::default()
    };
    let Ok(mut vm) = Vm::load(obj, &env) else {
        return;
    };
    for name in names {
        let _ = vm.call_program(&mut NullHost, &name, &[Arg::Int(1), Arg::Int(2)]);
    }
});
