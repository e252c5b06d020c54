//! Differential test: random straight-line/forward-branching programs over
//! the non-atomic ALU/JMP subset run on the VM and on a deliberately simple
//! reference interpreter written independently below; all registers must
//! agree.

use proptest::prelude::*;
use scx_bpf::insn::Insn;
use scx_bpf::{LoadEnv, NullHost, Vm};

/// The reference: decodes class / operation / source separately and
/// computes with wide integers where that is simplest.
fn reference(code: &[Insn]) -> u64 {
    let mut r = [0u64; 11];
    let mut pc = 0usize;
    loop {
        let i = code[pc];
        pc += 1;
        let class = i.op & 7;
        let oper = i.op >> 4;
        let use_reg = i.op & 8 != 0;
        match class {
            0 => {
                let hi = code[pc].imm as u32 as u64;
                r[i.dst as usize] = (hi << 32) | i.imm as u32 as u64;
                pc += 1;
            }
            4 | 7 => {
                let wide = class == 7;
                let a = r[i.dst as usize];
                let b = if use_reg {
                    r[i.src as usize]
                } else {
                    i.imm as i64 as u64
                };
                r[i.dst as usize] = if wide {
                    ref_alu64(oper, a, b, &i)
                } else {
                    ref_alu32(oper, a, b, &i)
                };
            }
            5 | 6 => {
                if oper == 9 {
                    return r[0];
                }
                let a = r[i.dst as usize];
                let b = if use_reg {
                    r[i.src as usize]
                } else {
                    i.imm as i64 as u64
                };
                let (a, b) = if class == 6 {
                    (a & 0xffff_ffff, b & 0xffff_ffff)
                } else {
                    (a, b)
                };
                let sa = if class == 6 {
                    a as u32 as i32 as i128
                } else {
                    a as i64 as i128
                };
                let sb = if class == 6 {
                    b as u32 as i32 as i128
                } else {
                    b as i64 as i128
                };
                let taken = match oper {
                    0 => true,
                    1 => a == b,
                    2 => a > b,
                    3 => a >= b,
                    4 => a & b != 0,
                    5 => a != b,
                    6 => sa > sb,
                    7 => sa >= sb,
                    10 => a < b,
                    11 => a <= b,
                    12 => sa < sb,
                    13 => sa <= sb,
                    _ => unreachable!(),
                };
                if taken {
                    let delta = if class == 6 && oper == 0 {
                        i.imm as i64
                    } else {
                        i.off as i64
                    };
                    pc = (pc as i64 + delta) as usize;
                }
            }
            _ => unreachable!(),
        }
    }
}

fn ref_alu64(oper: u8, a: u64, b: u64, i: &Insn) -> u64 {
    let signed = i.off == 1;
    match oper {
        0 => a.wrapping_add(b),
        1 => a.wrapping_sub(b),
        2 => a.wrapping_mul(b),
        3 if b == 0 => 0,
        3 if signed => ((a as i64 as i128) / (b as i64 as i128)) as u64,
        3 => a / b,
        4 => a | b,
        5 => a & b,
        6 => a << (b % 64),
        7 => a >> (b % 64),
        8 => 0u64.wrapping_sub(a),
        9 if b == 0 => a,
        9 if signed => ((a as i64 as i128) % (b as i64 as i128)) as u64,
        9 => a % b,
        10 => a ^ b,
        11 => match i.off {
            8 => b as u8 as i8 as i64 as u64,
            16 => b as u16 as i16 as i64 as u64,
            32 => b as u32 as i32 as i64 as u64,
            _ => b,
        },
        12 => ((a as i64) >> (b % 64)) as u64,
        13 => {
            let n = i.imm as u32 / 8;
            let bytes = a.to_le_bytes();
            (0..n as usize).fold(0u64, |acc, k| {
                acc | (bytes[k] as u64) << (8 * (n as usize - 1 - k))
            })
        }
        _ => unreachable!(),
    }
}

fn ref_alu32(oper: u8, a: u64, b: u64, i: &Insn) -> u64 {
    let (x, y) = (a as u32, b as u32);
    let signed = i.off == 1;
    let v: u32 = match oper {
        0 => x.wrapping_add(y),
        1 => x.wrapping_sub(y),
        2 => x.wrapping_mul(y),
        3 if y == 0 => 0,
        3 if signed => ((x as i32 as i64) / (y as i32 as i64)) as u32,
        3 => x / y,
        4 => x | y,
        5 => x & y,
        6 => x << (y % 32),
        7 => x >> (y % 32),
        8 => 0u32.wrapping_sub(x),
        9 if y == 0 => x,
        9 if signed => ((x as i32 as i64) % (y as i32 as i64)) as u32,
        9 => x % y,
        10 => x ^ y,
        11 => match i.off {
            8 => y as u8 as i8 as i32 as u32,
            16 => y as u16 as i16 as i32 as u32,
            _ => y,
        },
        12 => ((x as i32) >> (y % 32)) as u32,
        13 => {
            let bits = i.imm as u32;
            let le = i.op & 8 == 0;
            return match (le, bits) {
                (true, 16) => a & 0xffff,
                (true, 32) => a & 0xffff_ffff,
                (true, _) => a,
                (false, 16) => (a as u16).swap_bytes() as u64,
                (false, 32) => (a as u32).swap_bytes() as u64,
                (false, _) => a.swap_bytes(),
            };
        }
        _ => unreachable!(),
    };
    v as u64
}

/// One generated instruction (before jump offsets are bounded).
fn arb_insn() -> impl Strategy<Value = Insn> {
    let alu_oper = prop::sample::select(vec![0u8, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    let jmp_oper = prop::sample::select(vec![0u8, 1, 2, 3, 4, 5, 6, 7, 10, 11, 12, 13]);
    let alu = (
        alu_oper,
        any::<bool>(),
        any::<bool>(),
        0u8..10,
        0u8..10,
        any::<i32>(),
        0u8..4,
    )
        .prop_map(|(oper, wide, reg, dst, src, imm, variant)| {
            let class = if wide { 7 } else { 4 };
            let (mut off, mut imm, mut reg) = (0i16, imm, reg);
            match oper {
                3 | 9 => off = (variant & 1) as i16,
                11 if reg => off = [0, 8, 16, 32][variant as usize],
                13 => {
                    imm = [16, 32, 64, 64][variant as usize];
                    reg = !wide && reg;
                }
                _ => {}
            }
            if oper == 11 && !wide && off == 32 {
                off = 0;
            }
            if oper == 8 || (oper == 13 && wide) {
                reg = false;
            }
            Insn {
                op: (oper << 4) | if reg { 8 } else { 0 } | class,
                dst,
                src,
                off,
                imm,
            }
        });
    let jmp = (
        jmp_oper,
        any::<bool>(),
        any::<bool>(),
        0u8..10,
        0u8..10,
        any::<i32>(),
        0i16..6,
    )
        .prop_map(|(oper, wide, reg, dst, src, imm, off)| {
            let class = if wide { 5 } else { 6 };
            let reg = reg && oper != 0;
            let imm = if oper == 0 && !wide { off as i32 } else { imm };
            Insn {
                op: (oper << 4) | if reg { 8 } else { 0 } | class,
                dst,
                src,
                off,
                imm,
            }
        });
    prop_oneof![3 => alu, 1 => jmp]
}

/// Registers seeded by ld_imm64, the body with jumps clamped to stay inside
/// the body (forward only, so every program terminates), then all registers
/// folded into r0.
fn program(seeds: &[u64], body: &[Insn]) -> Vec<Insn> {
    let mut code = Vec::new();
    for (r, v) in seeds.iter().enumerate() {
        code.push(Insn {
            op: 0x18,
            dst: r as u8,
            src: 0,
            off: 0,
            imm: *v as u32 as i32,
        });
        code.push(Insn {
            op: 0,
            dst: 0,
            src: 0,
            off: 0,
            imm: (*v >> 32) as u32 as i32,
        });
    }
    let n = body.len();
    for (k, i) in body.iter().enumerate() {
        let mut i = *i;
        if matches!(i.op & 7, 5 | 6) {
            let room = (n - k - 1) as i16;
            let off = if room == 0 {
                0
            } else {
                i.off.rem_euclid(room + 1)
            };
            if i.op == 0x06 {
                i.imm = off as i32;
            } else {
                i.off = off;
            }
        }
        code.push(i);
    }
    for r in 1..10u8 {
        code.push(Insn {
            op: 0x67,
            dst: 0,
            src: 0,
            off: 0,
            imm: 7,
        }); // r0 <<= 7
        code.push(Insn {
            op: 0xaf,
            dst: 0,
            src: r,
            off: 0,
            imm: 0,
        }); // r0 ^= rN
    }
    code.push(Insn {
        op: 0x95,
        dst: 0,
        src: 0,
        off: 0,
        imm: 0,
    });
    code
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]
    #[test]
    fn vm_matches_reference(seeds in prop::collection::vec(any::<u64>(), 10), body in prop::collection::vec(arb_insn(), 1..48)) {
        let code = program(&seeds, &body);
        let want = reference(&code);
        let mut vm = Vm::from_code(code, &LoadEnv::default()).expect("generated code is valid");
        let got = vm.run_raw(&mut NullHost, "prog", [0; 5]).expect("runs");
        prop_assert_eq!(got, want);
    }
}
