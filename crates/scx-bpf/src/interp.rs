//! The eBPF interpreter: the full ISA clang emits for `-mcpu=v3` and `v4`.
//!
//! One flat `match` on the opcode byte: ALU/ALU32 (with v4 signed
//! division/modulo, `movsx` and `bswap`), JMP/JMP32 (with `ja32`), loads
//! and stores including sign-extending loads, `ld_imm64`, atomics
//! (add/and/or/xor with and without fetch, xchg, cmpxchg, 32 and 64 bit),
//! helper/kfunc/bpf-to-bpf calls with frames and 512 bytes of stack each.
//! Registers, frames and the instruction budget are locals of [`Vm::exec`],
//! so a helper or kfunc may re-enter the VM.

use crate::error::Fault;
use crate::host::Host;
use crate::insn::{self, Insn};
use crate::vm::{Inv, Vm, MAX_FRAMES, STACK_PER_FRAME};

/// Division semantics of eBPF: x/0 = 0, x%0 = x; signed variants wrap.
#[inline(always)]
fn div64(a: u64, b: u64, signed: bool) -> u64 {
    match (b, signed) {
        (0, _) => 0,
        (_, false) => a / b,
        (_, true) => (a as i64).wrapping_div(b as i64) as u64,
    }
}

#[inline(always)]
fn mod64(a: u64, b: u64, signed: bool) -> u64 {
    match (b, signed) {
        (0, _) => a,
        (_, false) => a % b,
        (_, true) => (a as i64).wrapping_rem(b as i64) as u64,
    }
}

#[inline(always)]
fn div32(a: u64, b: u32, signed: bool) -> u64 {
    let a = a as u32;
    (match (b, signed) {
        (0, _) => 0,
        (_, false) => a / b,
        (_, true) => (a as i32).wrapping_div(b as i32) as u32,
    }) as u64
}

#[inline(always)]
fn mod32(a: u64, b: u32, signed: bool) -> u64 {
    let a = a as u32;
    (match (b, signed) {
        (0, _) => a,
        (_, false) => a % b,
        (_, true) => (a as i32).wrapping_rem(b as i32) as u32,
    }) as u64
}

/// `movsx`: sign-extend the low `bits` of `v`.
#[inline(always)]
fn sext(v: u64, bits: i16) -> u64 {
    match bits {
        8 => v as i8 as i64 as u64,
        16 => v as i16 as i64 as u64,
        32 => v as i32 as i64 as u64,
        _ => v,
    }
}

/// Byte swap of the low `bits` (zero-extended).
#[inline(always)]
fn bswap(v: u64, bits: i32) -> u64 {
    match bits {
        16 => (v as u16).swap_bytes() as u64,
        32 => (v as u32).swap_bytes() as u64,
        _ => v.swap_bytes(),
    }
}

/// Truncate to the low `bits` (the `le` conversion on a little-endian VM).
#[inline(always)]
fn trunc(v: u64, bits: i32) -> u64 {
    match bits {
        16 => v as u16 as u64,
        32 => v as u32 as u64,
        _ => v,
    }
}

/// Evaluate a jump condition (`code` = high nibble of the opcode).
#[inline(always)]
fn cond64(code: u8, a: u64, b: u64) -> bool {
    match code {
        0x10 => a == b,
        0x20 => a > b,
        0x30 => a >= b,
        0x40 => a & b != 0,
        0x50 => a != b,
        0x60 => (a as i64) > (b as i64),
        0x70 => (a as i64) >= (b as i64),
        0xa0 => a < b,
        0xb0 => a <= b,
        0xc0 => (a as i64) < (b as i64),
        _ => (a as i64) <= (b as i64),
    }
}

#[inline(always)]
fn cond32(code: u8, a: u64, b: u64) -> bool {
    let (a, b) = (a as u32, b as u32);
    match code {
        0x60 | 0x70 | 0xc0 | 0xd0 => cond64(code, a as i32 as i64 as u64, b as i32 as i64 as u64),
        _ => cond64(code, a as u64, b as u64),
    }
}

/// Is this a jump instruction (other than call/exit), and where does it go?
pub(crate) fn jump_target(i: &Insn, pc: usize) -> Option<i64> {
    let class = i.class();
    if class != insn::CLASS_JMP && class != insn::CLASS_JMP32 {
        return None;
    }
    match i.op & 0xf0 {
        0x80 | 0x90 => None,
        0x00 if class == insn::CLASS_JMP32 => Some(pc as i64 + 1 + i.imm as i64),
        _ => Some(pc as i64 + 1 + i.off as i64),
    }
}

/// Does the interpreter implement this opcode?
pub(crate) fn valid_opcode(i: &Insn) -> bool {
    let code = i.op & 0xf0;
    match i.class() {
        insn::CLASS_ALU => code <= 0xd0 && (code != 0x80 || i.op & 0x08 == 0),
        insn::CLASS_ALU64 => code <= 0xd0 && (!matches!(code, 0x80 | 0xd0) || i.op & 0x08 == 0),
        insn::CLASS_JMP => match code {
            0x00 | 0x80 | 0x90 => i.op & 0x08 == 0,
            c => c <= 0xd0,
        },
        insn::CLASS_JMP32 => match code {
            0x00 => i.op & 0x08 == 0,
            0x80 | 0x90 => false,
            c => c <= 0xd0,
        },
        insn::CLASS_LDX => matches!(i.op, 0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91),
        insn::CLASS_ST => matches!(i.op, 0x62 | 0x6a | 0x72 | 0x7a),
        insn::CLASS_STX => matches!(i.op, 0x63 | 0x6b | 0x73 | 0x7b | 0xc3 | 0xdb),
        _ => i.op == insn::LD_IMM64 || i.op == 0,
    }
}

/// A call frame saved by a bpf-to-bpf call.
struct Frame {
    ret: usize,
    saved: [u64; 4],
    fp: u64,
}

impl Vm {
    /// Atomic read-modify-write on BPF memory; returns the value to place
    /// in the destination register (if any).
    fn atomic(&mut self, i: &Insn, r: &mut [u64; 16], pc: usize) -> Result<(), Fault> {
        let size = if i.op == 0xdb { 8 } else { 4 };
        let addr = r[i.dst as usize].wrapping_add(i.off as i64 as u64);
        let old = self
            .mem
            .load(addr, size)
            .ok_or(Fault::OutOfBounds { pc, addr, size })?;
        let src = r[i.src as usize];
        let mask = if size == 8 { u64::MAX } else { u32::MAX as u64 };
        let new = match i.imm & !insn::ATOMIC_FETCH {
            insn::ATOMIC_ADD => old.wrapping_add(src),
            insn::ATOMIC_OR => old | src,
            insn::ATOMIC_AND => old & src,
            insn::ATOMIC_XOR => old ^ src,
            0xe0 => src,
            0xf0 => {
                if old == r[0] & mask {
                    src
                } else {
                    old
                }
            }
            _ => return Err(Fault::IllegalInsn { pc, opcode: i.op }),
        } & mask;
        self.mem.store(addr, size, new).map_err(|ro| {
            if ro {
                Fault::ReadOnly { pc, addr }
            } else {
                Fault::OutOfBounds { pc, addr, size }
            }
        })?;
        if i.imm == insn::ATOMIC_CMPXCHG {
            r[0] = old;
        } else if i.imm & insn::ATOMIC_FETCH != 0 {
            r[i.src as usize] = old;
        }
        Ok(())
    }

    /// Run code from `entry` until its `exit`; `depth` is the frame index of
    /// the entry frame (callbacks run deeper frames of the same stack).
    pub(crate) fn exec(
        &mut self,
        host: &mut dyn Host,
        inv: &mut Inv,
        entry: usize,
        args: [u64; 5],
        depth: usize,
    ) -> Result<u64, Fault> {
        if depth >= MAX_FRAMES {
            return Err(Fault::StackOverflow { pc: entry });
        }
        // Instructions are read through `self.code` each time rather than
        // through a cloned `Arc`: the clone's two atomic operations cost
        // more than the whole of a short callback.
        let mut r = [0u64; 16];
        r[1..6].copy_from_slice(&args);
        r[10] = inv.stack + ((depth + 1) * STACK_PER_FRAME) as u64;
        let mut frames: Vec<Frame> = Vec::new();
        let mut pc = entry;
        let mut budget = inv.budget;
        loop {
            if budget == 0 {
                inv.budget = 0;
                return Err(Fault::Runaway {
                    budget: self.budget,
                });
            }
            budget -= 1;
            let Some(&i) = self.code.get(pc) else {
                inv.budget = budget;
                return Err(Fault::BadJump { pc });
            };
            let (d, s) = (i.dst as usize & 15, i.src as usize & 15);
            let k64 = i.imm as i64 as u64;
            let k32 = i.imm as u32;
            let at = pc;
            pc += 1;
            match i.op {
                // ---- ALU64
                0x07 => r[d] = r[d].wrapping_add(k64),
                0x0f => r[d] = r[d].wrapping_add(r[s]),
                0x17 => r[d] = r[d].wrapping_sub(k64),
                0x1f => r[d] = r[d].wrapping_sub(r[s]),
                0x27 => r[d] = r[d].wrapping_mul(k64),
                0x2f => r[d] = r[d].wrapping_mul(r[s]),
                0x37 => r[d] = div64(r[d], k64, i.off == 1),
                0x3f => r[d] = div64(r[d], r[s], i.off == 1),
                0x47 => r[d] |= k64,
                0x4f => r[d] |= r[s],
                0x57 => r[d] &= k64,
                0x5f => r[d] &= r[s],
                0x67 => r[d] <<= k64 & 63,
                0x6f => r[d] <<= r[s] & 63,
                0x77 => r[d] >>= k64 & 63,
                0x7f => r[d] >>= r[s] & 63,
                0x87 => r[d] = r[d].wrapping_neg(),
                0x97 => r[d] = mod64(r[d], k64, i.off == 1),
                0x9f => r[d] = mod64(r[d], r[s], i.off == 1),
                0xa7 => r[d] ^= k64,
                0xaf => r[d] ^= r[s],
                0xb7 => r[d] = k64,
                0xbf => r[d] = sext(r[s], i.off),
                0xc7 => r[d] = ((r[d] as i64) >> (k64 & 63)) as u64,
                0xcf => r[d] = ((r[d] as i64) >> (r[s] & 63)) as u64,
                0xd7 => r[d] = bswap(r[d], i.imm),
                // ---- ALU32
                0x04 => r[d] = (r[d] as u32).wrapping_add(k32) as u64,
                0x0c => r[d] = (r[d] as u32).wrapping_add(r[s] as u32) as u64,
                0x14 => r[d] = (r[d] as u32).wrapping_sub(k32) as u64,
                0x1c => r[d] = (r[d] as u32).wrapping_sub(r[s] as u32) as u64,
                0x24 => r[d] = (r[d] as u32).wrapping_mul(k32) as u64,
                0x2c => r[d] = (r[d] as u32).wrapping_mul(r[s] as u32) as u64,
                0x34 => r[d] = div32(r[d], k32, i.off == 1),
                0x3c => r[d] = div32(r[d], r[s] as u32, i.off == 1),
                0x44 => r[d] = (r[d] as u32 | k32) as u64,
                0x4c => r[d] = (r[d] as u32 | r[s] as u32) as u64,
                0x54 => r[d] = (r[d] as u32 & k32) as u64,
                0x5c => r[d] = (r[d] as u32 & r[s] as u32) as u64,
                0x64 => r[d] = ((r[d] as u32) << (k32 & 31)) as u64,
                0x6c => r[d] = ((r[d] as u32) << (r[s] & 31)) as u64,
                0x74 => r[d] = ((r[d] as u32) >> (k32 & 31)) as u64,
                0x7c => r[d] = ((r[d] as u32) >> (r[s] & 31)) as u64,
                0x84 => r[d] = (r[d] as u32).wrapping_neg() as u64,
                0x94 => r[d] = mod32(r[d], k32, i.off == 1),
                0x9c => r[d] = mod32(r[d], r[s] as u32, i.off == 1),
                0xa4 => r[d] = (r[d] as u32 ^ k32) as u64,
                0xac => r[d] = (r[d] as u32 ^ r[s] as u32) as u64,
                0xb4 => r[d] = k32 as u64,
                0xbc => r[d] = sext(r[s], i.off) as u32 as u64,
                0xc4 => r[d] = ((r[d] as i32) >> (k32 & 31)) as u32 as u64,
                0xcc => r[d] = ((r[d] as i32) >> (r[s] & 31)) as u32 as u64,
                0xd4 => r[d] = trunc(r[d], i.imm),
                0xdc => r[d] = bswap(r[d], i.imm),
                // ---- jumps
                0x05 => pc = (pc as i64 + i.off as i64) as usize,
                0x06 => pc = (pc as i64 + i.imm as i64) as usize,
                0x15 | 0x25 | 0x35 | 0x45 | 0x55 | 0x65 | 0x75 | 0xa5 | 0xb5 | 0xc5 | 0xd5 => {
                    if cond64(i.op & 0xf0, r[d], k64) {
                        pc = (pc as i64 + i.off as i64) as usize;
                    }
                }
                0x1d | 0x2d | 0x3d | 0x4d | 0x5d | 0x6d | 0x7d | 0xad | 0xbd | 0xcd | 0xdd => {
                    if cond64(i.op & 0xf0, r[d], r[s]) {
                        pc = (pc as i64 + i.off as i64) as usize;
                    }
                }
                0x16 | 0x26 | 0x36 | 0x46 | 0x56 | 0x66 | 0x76 | 0xa6 | 0xb6 | 0xc6 | 0xd6 => {
                    if cond32(i.op & 0xf0, r[d], k64) {
                        pc = (pc as i64 + i.off as i64) as usize;
                    }
                }
                0x1e | 0x2e | 0x3e | 0x4e | 0x5e | 0x6e | 0x7e | 0xae | 0xbe | 0xce | 0xde => {
                    if cond32(i.op & 0xf0, r[d], r[s]) {
                        pc = (pc as i64 + i.off as i64) as usize;
                    }
                }
                // ---- memory
                0x61 | 0x69 | 0x71 | 0x79 | 0x81 | 0x89 | 0x91 => {
                    let size = insn::size_bytes(i.op);
                    let addr = r[s].wrapping_add(i.off as i64 as u64);
                    let v = match self.mem.load(addr, size) {
                        Some(v) => v,
                        None => {
                            inv.budget = budget;
                            self.load_slow(host, addr, size, at)?
                        }
                    };
                    r[d] = if i.op & 0xe0 == insn::MODE_MEMSX {
                        sext(v, (size * 8) as i16)
                    } else {
                        v
                    };
                }
                0x62 | 0x6a | 0x72 | 0x7a | 0x63 | 0x6b | 0x73 | 0x7b => {
                    let size = insn::size_bytes(i.op);
                    let addr = r[d].wrapping_add(i.off as i64 as u64);
                    let v = if i.class() == insn::CLASS_ST {
                        k64
                    } else {
                        r[s]
                    };
                    if let Err(ro) = self.mem.store(addr, size, v) {
                        inv.budget = budget;
                        self.store_slow(host, addr, size, v, at, ro)?;
                    }
                }
                0xc3 | 0xdb => self.atomic(&i, &mut r, at)?,
                insn::LD_IMM64 => {
                    let hi = self.code.get(pc).map(|n| n.imm as u32 as u64).unwrap_or(0);
                    r[d] = (hi << 32) | k32 as u64;
                    pc += 1;
                }
                // ---- calls
                insn::CALL => match i.src {
                    insn::CALL_PSEUDO => {
                        if depth + frames.len() + 1 >= MAX_FRAMES {
                            return Err(Fault::StackOverflow { pc: at });
                        }
                        frames.push(Frame {
                            ret: pc,
                            saved: [r[6], r[7], r[8], r[9]],
                            fp: r[10],
                        });
                        r[10] += STACK_PER_FRAME as u64;
                        pc = (pc as i64 + i.imm as i64) as usize;
                    }
                    src => {
                        inv.budget = budget;
                        let a = [r[1], r[2], r[3], r[4], r[5]];
                        let cur_depth = depth + frames.len();
                        r[0] = match src {
                            insn::CALL_HELPER => {
                                self.call_helper(host, inv, i.imm, a, cur_depth)?
                            }
                            insn::CALL_KFUNC => {
                                self.call_kfunc(host, inv, i.imm as usize, a, cur_depth)?
                            }
                            _ => {
                                let what = self
                                    .poisons
                                    .get(i.imm as usize)
                                    .cloned()
                                    .unwrap_or_default();
                                return Err(Fault::CoRePoisoned { pc: at, what });
                            }
                        };
                        budget = inv.budget;
                    }
                },
                insn::EXIT => match frames.pop() {
                    Some(f) => {
                        pc = f.ret;
                        r[6..10].copy_from_slice(&f.saved);
                        r[10] = f.fp;
                    }
                    None => {
                        inv.budget = budget;
                        return Ok(r[0]);
                    }
                },
                op => {
                    inv.budget = budget;
                    return Err(Fault::IllegalInsn { pc: at, opcode: op });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_edge_cases() {
        assert_eq!(div64(7, 0, false), 0);
        assert_eq!(mod64(7, 0, false), 7);
        assert_eq!(div64(i64::MIN as u64, -1i64 as u64, true), i64::MIN as u64);
        assert_eq!(mod64(i64::MIN as u64, -1i64 as u64, true), 0);
        assert_eq!(div32(0xffff_ffff_0000_0009, 2, false), 4);
        assert_eq!(mod32(0xffff_ffff_0000_0009, 0, false), 9);
        assert_eq!(div32(-9i32 as u32 as u64, 2, true), -4i32 as u32 as u64);
        assert_eq!(sext(0x80, 8), 0xffff_ffff_ffff_ff80);
        assert_eq!(bswap(0x1122, 16), 0x2211);
        assert_eq!(trunc(0x1_2345_6789, 32), 0x2345_6789);
        assert!(cond32(0x60, 1, 0xffff_ffff));
        assert!(!cond64(0x60, 1, 0xffff_ffff));
    }
}
