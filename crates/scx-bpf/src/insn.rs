//! The eBPF instruction encoding: one 8-byte slot per [`Insn`] (ld_imm64
//! takes two), opcode classes and the pseudo source-register values that
//! mark calls and 64-bit immediates.

/// One instruction slot, decoded from its 8 little-endian bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Insn {
    /// Opcode byte.
    pub op: u8,
    /// Destination register (low nibble of byte 1).
    pub dst: u8,
    /// Source register (high nibble of byte 1).
    pub src: u8,
    /// Signed 16-bit offset.
    pub off: i16,
    /// Signed 32-bit immediate.
    pub imm: i32,
}

impl Insn {
    /// Decode one slot.
    pub fn decode(b: &[u8; 8]) -> Insn {
        Insn {
            op: b[0],
            dst: b[1] & 0xf,
            src: b[1] >> 4,
            off: i16::from_le_bytes([b[2], b[3]]),
            imm: i32::from_le_bytes([b[4], b[5], b[6], b[7]]),
        }
    }

    /// Encode back to bytes.
    pub fn encode(&self) -> [u8; 8] {
        let o = self.off.to_le_bytes();
        let i = self.imm.to_le_bytes();
        [
            self.op,
            (self.src << 4) | (self.dst & 0xf),
            o[0],
            o[1],
            i[0],
            i[1],
            i[2],
            i[3],
        ]
    }

    /// Decode a whole code section; a trailing partial slot is an error.
    pub fn decode_all(code: &[u8]) -> Option<Vec<Insn>> {
        if !code.len().is_multiple_of(8) {
            return None;
        }
        Some(
            code.chunks_exact(8)
                .map(|c| Insn::decode(c.try_into().expect("chunk of 8")))
                .collect(),
        )
    }

    /// Opcode class (low 3 bits).
    pub fn class(&self) -> u8 {
        self.op & 7
    }

    /// True for the first slot of a 64-bit immediate load.
    pub fn is_ld_imm64(&self) -> bool {
        self.op == LD_IMM64
    }

    /// True for a `call` instruction.
    pub fn is_call(&self) -> bool {
        self.op == CALL
    }
}

/// Class: non-standard loads (ld_imm64).
pub const CLASS_LD: u8 = 0;
/// Class: register loads.
pub const CLASS_LDX: u8 = 1;
/// Class: immediate stores.
pub const CLASS_ST: u8 = 2;
/// Class: register stores and atomics.
pub const CLASS_STX: u8 = 3;
/// Class: 32-bit ALU.
pub const CLASS_ALU: u8 = 4;
/// Class: 64-bit jumps.
pub const CLASS_JMP: u8 = 5;
/// Class: 32-bit jumps.
pub const CLASS_JMP32: u8 = 6;
/// Class: 64-bit ALU.
pub const CLASS_ALU64: u8 = 7;

/// Mode: immediate.
pub const MODE_IMM: u8 = 0x00;
/// Mode: memory.
pub const MODE_MEM: u8 = 0x60;
/// Mode: sign-extending memory load (v4).
pub const MODE_MEMSX: u8 = 0x80;
/// Mode: atomic.
pub const MODE_ATOMIC: u8 = 0xc0;

/// ld_imm64 opcode.
pub const LD_IMM64: u8 = 0x18;
/// call opcode.
pub const CALL: u8 = 0x85;
/// exit opcode.
pub const EXIT: u8 = 0x95;

/// ld_imm64 src: plain 64-bit constant.
pub const PSEUDO_NONE: u8 = 0;
/// ld_imm64 src: map by fd.
pub const PSEUDO_MAP_FD: u8 = 1;
/// ld_imm64 src: address inside a map value.
pub const PSEUDO_MAP_VALUE: u8 = 2;
/// ld_imm64 src: address of a subprogram.
pub const PSEUDO_FUNC: u8 = 4;

/// call src: helper by id.
pub const CALL_HELPER: u8 = 0;
/// call src: bpf-to-bpf call, imm is a relative instruction offset.
pub const CALL_PSEUDO: u8 = 1;
/// call src: kfunc; after loading, imm indexes the VM's kfunc table.
pub const CALL_KFUNC: u8 = 2;
/// call src (VM-internal): an instruction whose CO-RE relocation failed;
/// imm indexes the VM's poison table. Faults when executed.
pub const CALL_POISON: u8 = 3;

/// Atomic op: add.
pub const ATOMIC_ADD: i32 = 0x00;
/// Atomic op: or.
pub const ATOMIC_OR: i32 = 0x40;
/// Atomic op: and.
pub const ATOMIC_AND: i32 = 0x50;
/// Atomic op: xor.
pub const ATOMIC_XOR: i32 = 0xa0;
/// Atomic flag: return the old value.
pub const ATOMIC_FETCH: i32 = 0x01;
/// Atomic op: exchange.
pub const ATOMIC_XCHG: i32 = 0xe0 | ATOMIC_FETCH;
/// Atomic op: compare-and-exchange.
pub const ATOMIC_CMPXCHG: i32 = 0xf0 | ATOMIC_FETCH;

/// Byte width of a load/store size field (bits 3-4 of the opcode).
pub fn size_bytes(op: u8) -> usize {
    match op & 0x18 {
        0x00 => 4,
        0x08 => 2,
        0x10 => 1,
        _ => 8,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let i = Insn {
            op: 0x61,
            dst: 3,
            src: 10,
            off: -8,
            imm: 0x1234_5678,
        };
        assert_eq!(Insn::decode(&i.encode()), i);
        assert_eq!(size_bytes(0x61), 4);
        assert_eq!(size_bytes(0x79), 8);
        assert_eq!(size_bytes(0x71), 1);
        assert_eq!(size_bytes(0x69), 2);
        assert!(Insn::decode_all(&[0; 9]).is_none());
    }
}
