//! Interpreter throughput in instructions per second (criterion reports the
//! `elements/s` throughput, one element = one executed instruction).
// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use scx_bpf::host::{KernelField, KernelPtr, MaskRef, TaskField};
use scx_bpf::insn::Insn;
use scx_bpf::{
    Arg, BpfObject, Fault, Host, KRet, KfuncCall, LoadEnv, NullHost, TaskId, TimerId, Vm,
};
use std::path::PathBuf;

fn ins(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        op,
        dst,
        src,
        off,
        imm,
    }
}

/// r1 = n; loop { r0 += r1; r0 ^= 0x55; r2 = r0; r2 >>= 3; r0 += r2; r1 -= 1 } while r1 != 0
fn alu_loop(n: i32) -> (Vec<Insn>, u64) {
    let code = vec![
        ins(0xb7, 1, 0, 0, n),
        ins(0xb7, 0, 0, 0, 0),
        ins(0x0f, 0, 1, 0, 0),
        ins(0xa7, 0, 0, 0, 0x55),
        ins(0xbf, 2, 0, 0, 0),
        ins(0x77, 2, 0, 0, 3),
        ins(0x0f, 0, 2, 0, 0),
        ins(0x17, 1, 0, 0, 1),
        ins(0x55, 1, 0, -7, 0),
        ins(0x95, 0, 0, 0, 0),
    ];
    (code, 2 + 7 * n as u64 + 1)
}

/// Stack traffic: *(r10-8) += r1 each iteration, with a 32-bit compare.
fn mem_loop(n: i32) -> (Vec<Insn>, u64) {
    let code = vec![
        ins(0xb7, 1, 0, 0, n),
        ins(0x7a, 10, 0, -8, 0),
        ins(0x79, 0, 10, -8, 0),
        ins(0x0f, 0, 1, 0, 0),
        ins(0x7b, 10, 0, -8, 0),
        ins(0x17, 1, 0, 0, 1),
        ins(0x56, 1, 0, -5, 0),
        ins(0x79, 0, 10, -8, 0),
        ins(0x95, 0, 0, 0, 0),
    ];
    (code, 2 + 5 * n as u64 + 2)
}

fn bench_program(c: &mut Criterion, name: &str, (code, insns): (Vec<Insn>, u64)) {
    let env = LoadEnv {
        insn_budget: u64::MAX,
        ..LoadEnv::default()
    };
    let mut vm = Vm::from_code(code, &env).unwrap();
    let mut g = c.benchmark_group("interp");
    g.throughput(Throughput::Elements(insns));
    g.bench_function(name, |b| {
        b.iter(|| vm.run_raw(&mut NullHost, "prog", [0; 5]).unwrap())
    });
    g.finish();
}

/// A kernel that accepts every kfunc and answers fields with constants.
struct BenchHost;

impl Host for BenchHost {
    fn kfunc(&mut self, _vm: &mut Vm, call: KfuncCall) -> Result<KRet, Fault> {
        Ok(match call {
            KfuncCall::SelectCpuDfl { prev_cpu, .. } => KRet::SelectCpu {
                cpu: prev_cpu,
                is_idle: false,
            },
            _ => KRet::Int(0),
        })
    }
    fn read_field(&mut self, field: KernelField) -> u64 {
        match field {
            KernelField::Task(_, TaskField::ScxWeight) => 100,
            _ => 1,
        }
    }
    fn read_ptr(&mut self, _ptr: KernelPtr) -> Option<u64> {
        None
    }
    fn cpumask_word(&mut self, _mask: MaskRef, _word: u32) -> u64 {
        u64::MAX
    }
    fn task_comm(&mut self, _task: TaskId) -> [u8; 16] {
        *b"bench\0\0\0\0\0\0\0\0\0\0\0"
    }
    fn write_task(&mut self, _task: TaskId, _field: TaskField, _value: u64) {}
    fn ktime_ns(&mut self) -> u64 {
        0
    }
    fn current_cpu(&mut self) -> u32 {
        0
    }
    fn timer_start(&mut self, _timer: TimerId, _nsecs: u64, _flags: u64, _cpu: u32) -> i64 {
        0
    }
    fn timer_cancel(&mut self, _timer: TimerId) -> i64 {
        0
    }
    fn trace(&mut self, _line: &str) {}
}

/// Callbacks of the compiled vtime scheduler (skipped without clang-19).
fn bench_callbacks(c: &mut Criterion) {
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scx-bpf-bench-objs");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bpf/build.sh");
    let built = std::process::Command::new("bash")
        .arg(script)
        .arg(&out)
        .output();
    let Ok(bytes) = std::fs::read(out.join("scx_sim_vtime.bpf.o")).map_err(|_| built) else {
        eprintln!("SKIP callback benchmarks: clang-19 not available");
        return;
    };
    let obj = BpfObject::parse("scx_sim_vtime.bpf.o", &bytes).unwrap();
    let mut vm = Vm::load(obj, &LoadEnv::default()).unwrap();
    let mut g = c.benchmark_group("callback");
    g.throughput(Throughput::Elements(1));
    let args = [Arg::Task(TaskId(1)), Arg::Int(0)];
    g.bench_function("vtime_enqueue", |b| {
        b.iter(|| vm.call_op(&mut BenchHost, "enqueue", &args).unwrap())
    });
    let args = [Arg::Task(TaskId(1)), Arg::Int(1)];
    g.bench_function("vtime_stopping", |b| {
        b.iter(|| vm.call_op(&mut BenchHost, "stopping", &args).unwrap())
    });
    g.finish();
}

fn benches(c: &mut Criterion) {
    bench_program(c, "alu_loop_100k", alu_loop(100_000));
    bench_program(c, "stack_loop_100k", mem_loop(100_000));
    bench_callbacks(c);
}

criterion_group!(interp, benches);
criterion_main!(interp);
