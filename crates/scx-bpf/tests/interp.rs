//! Hand-computed expectations for every opcode class of the interpreter,
//! including the v4 additions, calls/frames and atomics.

use scx_bpf::insn::Insn;
use scx_bpf::{Fault, LoadEnv, NullHost, Vm};

fn ins(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        op,
        dst,
        src,
        off,
        imm,
    }
}

fn mov64(dst: u8, imm: i32) -> Insn {
    ins(0xb7, dst, 0, 0, imm)
}

fn ld64(dst: u8, v: u64) -> [Insn; 2] {
    [
        ins(0x18, dst, 0, 0, v as u32 as i32),
        ins(0, 0, 0, 0, (v >> 32) as u32 as i32),
    ]
}

fn exit() -> Insn {
    ins(0x95, 0, 0, 0, 0)
}

fn run(code: Vec<Insn>) -> Result<u64, Fault> {
    let mut vm = Vm::from_code(code, &LoadEnv::default()).expect("valid code");
    vm.run_raw(&mut NullHost, "prog", [0; 5])
}

/// r0 = a; r1 = b; r0 = r0 <op> r1 (or imm form); exit.
fn binop(op: u8, a: u64, b: u64, off: i16) -> u64 {
    let mut code = Vec::new();
    code.extend(ld64(0, a));
    code.extend(ld64(1, b));
    if op & 0x08 != 0 {
        code.push(ins(op, 0, 1, off, 0));
    } else {
        code.push(ins(op, 0, 0, off, b as i32));
    }
    code.push(exit());
    run(code).unwrap()
}

#[test]
fn alu64_register_and_immediate_forms() {
    let cases: &[(u8, u64, u64, u64)] = &[
        (0x0f, 5, 7, 12),
        (0x07, u64::MAX, 2, 1),
        (0x1f, 5, 7, u64::MAX - 1),
        (0x17, 5, 7, u64::MAX - 1),
        (0x2f, 1 << 40, 1 << 30, 0),
        (0x27, 6, 7, 42),
        (0x3f, 100, 7, 14),
        (0x37, 100, 0, 0),
        (0x4f, 0xf0, 0x0f, 0xff),
        (0x47, 0xf0, 0x0f, 0xff),
        (0x5f, 0xff, 0x0f, 0x0f),
        (0x57, 0xff, 0x0f, 0x0f),
        (0x6f, 1, 65, 2),
        (0x67, 1, 63, 1 << 63),
        (0x7f, 1 << 63, 63, 1),
        (0x77, 0x100, 4, 0x10),
        (0x9f, 100, 7, 2),
        (0x97, 100, 0, 100),
        (0xaf, 0xff, 0x0f, 0xf0),
        (0xa7, 0xff, 0x0f, 0xf0),
        (0xbf, 0, 0x1234, 0x1234),
        (0xcf, 1 << 63, 4, 0xf8 << 56),
        (0xc7, 1 << 63, 4, 0xf8 << 56),
    ];
    for &(op, a, b, want) in cases {
        assert_eq!(binop(op, a, b, 0), want, "op {op:#04x} {a:#x} {b:#x}");
    }
    // imm operands are sign-extended to 64 bits
    assert_eq!(binop(0x07, 0, -1i64 as u64, 0), u64::MAX);
    assert_eq!(binop(0xb7, 9, -2i64 as u64, 0), -2i64 as u64);
    // neg
    assert_eq!(
        run(vec![mov64(0, 5), ins(0x87, 0, 0, 0, 0), exit()]).unwrap(),
        -5i64 as u64
    );
}

#[test]
fn alu32_zero_extends() {
    let hi = 0xdead_beef_0000_0000u64;
    let cases: &[(u8, u64, u64, u64)] = &[
        (0x0c, hi | 5, 7, 12),
        (0x04, hi | 0xffff_ffff, 1, 0),
        (0x1c, hi | 5, 7, 0xffff_fffe),
        (0x2c, hi | 3, 5, 15),
        (0x3c, hi | 100, 7, 14),
        (0x34, hi | 100, 0, 0),
        (0x4c, hi | 0xf0, 0x0f, 0xff),
        (0x5c, hi | 0xff, 0x0f, 0x0f),
        (0x6c, hi | 1, 33, 2),
        (0x7c, hi | 0x100, 4, 0x10),
        (0x9c, hi | 100, 7, 2),
        (0x94, hi | 100, 0, 100),
        (0xac, hi | 0xff, 0x0f, 0xf0),
        (0xbc, hi | 1, hi | 0x1234, 0x1234),
        (0xcc, hi | 0x8000_0000, 4, 0xf800_0000),
    ];
    for &(op, a, b, want) in cases {
        assert_eq!(binop(op, a, b, 0), want, "op {op:#04x}");
    }
    assert_eq!(
        run(vec![mov64(0, 5), ins(0x84, 0, 0, 0, 0), exit()]).unwrap(),
        0xffff_fffb
    );
}

#[test]
fn v4_signed_division_movsx_and_bswap() {
    let m7 = -7i64 as u64;
    assert_eq!(binop(0x3f, m7, 2, 1), -3i64 as u64, "sdiv64");
    assert_eq!(binop(0x9f, m7, 2, 1), -1i64 as u64, "smod64");
    assert_eq!(
        binop(0x3f, i64::MIN as u64, -1i64 as u64, 1),
        i64::MIN as u64,
        "sdiv overflow wraps"
    );
    assert_eq!(binop(0x9f, i64::MIN as u64, -1i64 as u64, 1), 0);
    assert_eq!(
        binop(0x3c, m7 as u32 as u64, 2, 1),
        (-3i32) as u32 as u64,
        "sdiv32"
    );
    assert_eq!(
        binop(0x9c, m7 as u32 as u64, 2, 1),
        (-1i32) as u32 as u64,
        "smod32"
    );
    assert_eq!(
        binop(0x9c, m7, 0, 1),
        m7 as u32 as u64,
        "smod32 by 0 keeps low half"
    );
    let movsx = |op: u8, bits: i16, v: u64| {
        let mut c = Vec::from(ld64(1, v));
        c.push(ins(op, 0, 1, bits, 0));
        c.push(exit());
        run(c).unwrap()
    };
    assert_eq!(movsx(0xbf, 8, 0x80), 0xffff_ffff_ffff_ff80);
    assert_eq!(movsx(0xbf, 16, 0x8001), 0xffff_ffff_ffff_8001);
    assert_eq!(movsx(0xbf, 32, 0x8000_0000), 0xffff_ffff_8000_0000);
    assert_eq!(movsx(0xbc, 8, 0xff), 0xffff_ffff);
    assert_eq!(movsx(0xbc, 16, 0x8000), 0xffff_8000);
    let swap = |op: u8, imm: i32, v: u64| {
        let mut c = Vec::from(ld64(0, v));
        c.push(ins(op, 0, 0, 0, imm));
        c.push(exit());
        run(c).unwrap()
    };
    let v = 0x0102_0304_0506_0708;
    assert_eq!(swap(0xd7, 16, v), 0x0807);
    assert_eq!(swap(0xd7, 32, v), 0x0807_0605);
    assert_eq!(swap(0xd7, 64, v), 0x0807_0605_0403_0201);
    assert_eq!(swap(0xdc, 32, v), 0x0807_0605, "to big-endian");
    assert_eq!(swap(0xd4, 16, v), 0x0708, "to little-endian truncates");
    assert_eq!(swap(0xd4, 64, v), v);
}

/// r0 = 1 if `cond` jumps, else 0.
fn jumps(op: u8, a: u64, b: u64) -> u64 {
    let mut c = Vec::new();
    c.extend(ld64(1, a));
    c.extend(ld64(2, b));
    c.push(mov64(0, 0));
    if op & 0x08 != 0 {
        c.push(ins(op, 1, 2, 1, 0));
    } else {
        c.push(ins(op, 1, 0, 1, b as i32));
    }
    c.push(exit());
    c.push(mov64(0, 1));
    c.push(exit());
    run(c).unwrap()
}

#[test]
fn jmp_and_jmp32_conditions() {
    let neg = -1i64 as u64;
    // (code, a, b, taken64, taken32)
    let cases: &[(u8, u64, u64, u64, u64)] = &[
        (0x10, 5, 5, 1, 1),
        (0x10, 5 | 1 << 32, 5, 0, 1),
        (0x20, 6, 5, 1, 1),
        (0x20, neg, 5, 1, 1),
        (0x30, 5, 5, 1, 1),
        (0x40, 6, 2, 1, 1),
        (0x40, 1 << 33, 1 << 33, 1, 0),
        (0x50, 5, 6, 1, 1),
        (0x60, neg, 5, 0, 0),
        (0x60, 0xffff_ffff, 5, 1, 0),
        (0x70, 5, 5, 1, 1),
        (0xa0, 4, 5, 1, 1),
        (0xb0, 5, 5, 1, 1),
        (0xc0, neg, 5, 1, 1),
        (0xc0, 0xffff_ffff, 5, 0, 1),
        (0xd0, 5, 5, 1, 1),
    ];
    for &(code, a, b, t64, t32) in cases {
        for src in [0x00, 0x08] {
            if src == 0 && b as i32 as i64 as u64 != b {
                // The K form sign-extends imm; only use representable operands.
                continue;
            }
            assert_eq!(
                jumps(code | src | 5, a, b),
                t64,
                "jmp {code:#x}/{src} {a:#x} {b:#x}"
            );
            assert_eq!(
                jumps(code | src | 6, a, b),
                t32,
                "jmp32 {code:#x}/{src} {a:#x} {b:#x}"
            );
        }
    }
    // ja and ja32 (imm offset)
    assert_eq!(
        run(vec![
            mov64(0, 1),
            ins(0x05, 0, 0, 1, 0),
            mov64(0, 2),
            exit()
        ])
        .unwrap(),
        1
    );
    assert_eq!(
        run(vec![
            mov64(0, 1),
            ins(0x06, 0, 0, 0, 1),
            mov64(0, 2),
            exit()
        ])
        .unwrap(),
        1
    );
}

#[test]
fn loads_stores_and_sign_extending_loads() {
    let v = 0x8182_8384_8586_8788u64;
    let mut c = Vec::from(ld64(1, v));
    c.push(ins(0x7b, 10, 1, -8, 0)); // *(u64 *)(r10 - 8) = r1
    c.push(ins(0x61, 0, 10, -8, 0)); // r0 = *(u32 *)(r10 - 8)
    c.push(ins(0x69, 2, 10, -8, 0)); // r2 = *(u16 *)
    c.push(ins(0x71, 3, 10, -8, 0)); // r3 = *(u8 *)
    c.push(ins(0x81, 4, 10, -8, 0)); // r4 = *(s32 *)
    c.push(ins(0x89, 5, 10, -8, 0)); // r5 = *(s16 *)
    c.push(ins(0x91, 6, 10, -8, 0)); // r6 = *(s8 *)
    c.push(ins(0x72, 10, 0, -16, 0x7f)); // *(u8 *)(r10 - 16) = 0x7f
    c.push(ins(0x6a, 10, 0, -15, 0x1234)); // *(u16 *)(r10 - 15) = 0x1234
    c.push(ins(0x62, 10, 0, -12, -1)); // *(u32 *)(r10 - 12) = -1
    c.push(ins(0x79, 7, 10, -16, 0)); // r7 = *(u64 *)(r10 - 16)
    c.push(ins(0x7a, 10, 0, -24, -2)); // *(u64 *)(r10 - 24) = -2 (sign-extended imm)
    c.push(ins(0x79, 8, 10, -24, 0));
    // r0 = r0 ^ r2 ^ r3 ^ r4 ^ r5 ^ r6 ^ r7 ^ r8
    for r in [2, 3, 4, 5, 6, 7, 8] {
        c.push(ins(0xaf, 0, r, 0, 0));
    }
    c.push(exit());
    let want = 0x8586_8788u64
        ^ 0x8788
        ^ 0x88
        ^ 0xffff_ffff_8586_8788
        ^ 0xffff_ffff_ffff_8788
        ^ 0xffff_ffff_ffff_ff88
        ^ 0xffff_ffff_0012_347f
        ^ (-2i64 as u64);
    assert_eq!(run(c).unwrap(), want);
}

#[test]
fn atomics_all_forms() {
    // Each case: op imm, size op (0xdb/0xc3), init, src, expected memory, expected fetched (r1)
    let cases: &[(i32, u8, u64, u64, u64, u64)] = &[
        (0x00, 0xdb, 10, 5, 15, 5),
        (0x01, 0xdb, 10, 5, 15, 10),
        (0x40, 0xdb, 0xf0, 0x0f, 0xff, 0x0f),
        (0x41, 0xdb, 0xf0, 0x0f, 0xff, 0xf0),
        (0x50, 0xdb, 0xff, 0x0f, 0x0f, 0x0f),
        (0x51, 0xdb, 0xff, 0x0f, 0x0f, 0xff),
        (0xa0, 0xdb, 0xff, 0x0f, 0xf0, 0x0f),
        (0xa1, 0xdb, 0xff, 0x0f, 0xf0, 0xff),
        (0xe1, 0xdb, 7, 9, 9, 7),
        (0x01, 0xc3, 0xffff_ffff, 1, 0, 0xffff_ffff),
        (0xe1, 0xc3, 3, 1 << 40 | 4, 4, 3),
    ];
    for &(imm, op, init, src, mem, fetched) in cases {
        let mut c = Vec::from(ld64(1, init));
        c.push(ins(0x7b, 10, 1, -8, 0));
        c.extend(ld64(1, src));
        c.push(ins(op, 10, 1, -8, imm));
        c.push(ins(0x79, 0, 10, -8, 0));
        c.push(ins(0xbf, 2, 1, 0, 0));
        // First run returns the memory; the second returns the fetched value.
        c.push(exit());
        let got = run(c.clone()).unwrap();
        let want_mem = if op == 0xc3 { mem & 0xffff_ffff } else { mem };
        assert_eq!(got, want_mem, "mem after atomic {imm:#x}/{op:#x}");
        let n = c.len();
        c[n - 3] = ins(0xbf, 0, 1, 0, 0);
        assert_eq!(
            run(c).unwrap(),
            fetched,
            "fetched by atomic {imm:#x}/{op:#x}"
        );
    }
    // cmpxchg: r0 holds the expected value, receives the old value
    for (expect, want_mem) in [(7u64, 9u64), (8, 7)] {
        let mut c = vec![
            mov64(1, 7),
            ins(0x7b, 10, 1, -8, 0),
            mov64(1, 9),
            mov64(0, expect as i32),
        ];
        c.push(ins(0xdb, 10, 1, -8, 0xf1));
        c.push(ins(0x79, 2, 10, -8, 0));
        c.push(ins(0x27, 2, 0, 0, 1000)); // r2 *= 1000
        c.push(ins(0x0f, 0, 2, 0, 0)); // r0 = old + mem*1000
        c.push(exit());
        assert_eq!(run(c).unwrap(), 7 + want_mem * 1000);
    }
}

#[test]
fn bpf_to_bpf_calls_have_frames_and_preserve_callee_saved() {
    // main: r6 = 100; *(r10-8) = 1; r1 = 5; call sub; r0 += r6; r0 += *(r10-8); exit
    // sub:  r6 = 7; *(r10-8) = 1000; r0 = r1 * 3; exit
    let code = vec![
        mov64(6, 100),
        ins(0x7a, 10, 0, -8, 1),
        mov64(1, 5),
        ins(0x85, 0, 1, 0, 4), // call +4 -> insn 8
        ins(0x0f, 0, 6, 0, 0),
        ins(0x79, 2, 10, -8, 0),
        ins(0x0f, 0, 2, 0, 0),
        exit(),
        mov64(6, 7),
        ins(0x7a, 10, 0, -8, 1000),
        ins(0xbf, 0, 1, 0, 0),
        ins(0x27, 0, 0, 0, 3),
        exit(),
    ];
    assert_eq!(run(code).unwrap(), 15 + 100 + 1);
}

#[test]
fn recursion_overflows_the_frame_limit() {
    let code = vec![ins(0x85, 0, 1, 0, -1), exit()];
    assert!(matches!(
        run(code).unwrap_err(),
        Fault::StackOverflow { .. }
    ));
}

#[test]
fn budget_stops_infinite_loops() {
    let code = vec![ins(0x05, 0, 0, -1, 0), exit()];
    let mut vm = Vm::from_code(
        code,
        &LoadEnv {
            insn_budget: 1000,
            ..LoadEnv::default()
        },
    )
    .unwrap();
    assert_eq!(
        vm.run_raw(&mut NullHost, "prog", [0; 5]).unwrap_err(),
        Fault::Runaway { budget: 1000 }
    );
}

#[test]
fn memory_faults_and_probe_mem_semantics() {
    // Store below the stack region faults.
    let code = vec![ins(0x7a, 10, 0, -4096 - 8, 1), mov64(0, 0), exit()];
    assert!(matches!(run(code).unwrap_err(), Fault::OutOfBounds { .. }));
    // A load through NULL reads 0 (bad kernel pointer), a store faults.
    assert_eq!(
        run(vec![mov64(1, 0), ins(0x79, 0, 1, 16, 0), exit()]).unwrap(),
        0
    );
    assert!(run(vec![mov64(1, 0), ins(0x7a, 1, 0, 16, 1), exit()]).is_err());
    // Loads through a kernel window with nothing backing read 0.
    let mut c = Vec::from(ld64(1, 0xff10_0000_0010_0000));
    c.push(ins(0x79, 0, 1, 0x7ff, 0));
    c.push(exit());
    assert_eq!(run(c).unwrap(), 0);
}

#[test]
fn malformed_raw_code_is_rejected_at_load() {
    let env = LoadEnv::default();
    assert!(
        Vm::from_code(vec![ins(0xff, 0, 0, 0, 0), exit()], &env).is_err(),
        "unknown opcode"
    );
    assert!(
        Vm::from_code(vec![ins(0x05, 0, 0, 10, 0), exit()], &env).is_err(),
        "jump out of code"
    );
    assert!(
        Vm::from_code(vec![ins(0x18, 0, 0, 0, 0)], &env).is_err(),
        "truncated ld_imm64"
    );
    let e = Vm::from_code(vec![ins(0x85, 0, 0, 0, 9999), exit()], &env).unwrap_err();
    assert_eq!(
        e.to_string(),
        "raw: section raw: insn 0: unknown helper 9999"
    );
}
