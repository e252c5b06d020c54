//! `.BTF.ext`: per-section function info, line info and CO-RE relocation
//! records emitted by clang alongside `.BTF`.
//!
//! Instruction offsets in an unlinked object are byte offsets; [`BtfExt`]
//! converts them to instruction indices.

use crate::btf::{rd_cstr, rd_u16, rd_u32, BTF_MAGIC};
use std::collections::BTreeMap;

/// A `bpf_func_info` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FuncInfo {
    /// Instruction index in the section.
    pub insn: usize,
    /// FUNC type id.
    pub type_id: u32,
}

/// A `bpf_line_info` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineInfo {
    /// Instruction index in the section.
    pub insn: usize,
    /// Source file name.
    pub file: String,
    /// Source line text.
    pub line: String,
    /// Line number.
    pub line_no: u32,
    /// Column.
    pub col: u32,
}

/// CO-RE relocation kinds as clang encodes them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CoreKind {
    /// Field byte offset.
    FieldByteOffset,
    /// Field byte size.
    FieldByteSize,
    /// Field exists.
    FieldExists,
    /// Field is signed.
    FieldSigned,
    /// Left shift for bitfield extraction.
    FieldLshiftU64,
    /// Right shift for bitfield extraction.
    FieldRshiftU64,
    /// Local type id.
    TypeIdLocal,
    /// Target type id.
    TypeIdTarget,
    /// Type exists.
    TypeExists,
    /// Type size.
    TypeSize,
    /// Enumerator exists.
    EnumvalExists,
    /// Enumerator value.
    EnumvalValue,
    /// Type matches (strict shape comparison).
    TypeMatches,
}

impl CoreKind {
    /// Decode clang's numeric kind.
    pub fn from_u32(v: u32) -> Option<CoreKind> {
        use CoreKind::*;
        Some(match v {
            0 => FieldByteOffset,
            1 => FieldByteSize,
            2 => FieldExists,
            3 => FieldSigned,
            4 => FieldLshiftU64,
            5 => FieldRshiftU64,
            6 => TypeIdLocal,
            7 => TypeIdTarget,
            8 => TypeExists,
            9 => TypeSize,
            10 => EnumvalExists,
            11 => EnumvalValue,
            12 => TypeMatches,
            _ => return None,
        })
    }

    /// True for the field-based kinds.
    pub fn is_field(self) -> bool {
        use CoreKind::*;
        matches!(
            self,
            FieldByteOffset
                | FieldByteSize
                | FieldExists
                | FieldSigned
                | FieldLshiftU64
                | FieldRshiftU64
        )
    }

    /// True for the enumerator kinds.
    pub fn is_enumval(self) -> bool {
        matches!(self, CoreKind::EnumvalExists | CoreKind::EnumvalValue)
    }
}

/// A `bpf_core_relo` record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreRelo {
    /// Instruction index in the section.
    pub insn: usize,
    /// Local (object) root type id.
    pub type_id: u32,
    /// Access string such as `0:1:2`.
    pub access: String,
    /// Relocation kind.
    pub kind: CoreKind,
}

/// Parsed `.BTF.ext`, keyed by section name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BtfExt {
    /// Function info per section.
    pub func_info: BTreeMap<String, Vec<FuncInfo>>,
    /// Line info per section.
    pub line_info: BTreeMap<String, Vec<LineInfo>>,
    /// CO-RE relocations per section.
    pub core_relos: BTreeMap<String, Vec<CoreRelo>>,
}

/// One info block: a slice of records grouped by section name.
fn blocks<T>(
    data: &[u8],
    strs: &[u8],
    min_rec: usize,
    mut rec: impl FnMut(&[u8]) -> Result<T, String>,
) -> Result<BTreeMap<String, Vec<T>>, String> {
    let mut out = BTreeMap::new();
    if data.is_empty() {
        return Ok(out);
    }
    let rec_size = rd_u32(data, 0).ok_or("info truncated")? as usize;
    if rec_size < min_rec {
        return Err(format!("record size {rec_size} too small"));
    }
    let mut pos = 4;
    while pos < data.len() {
        let sec_off = rd_u32(data, pos).ok_or("info truncated")?;
        let n = rd_u32(data, pos + 4).ok_or("info truncated")? as usize;
        pos += 8;
        let name = rd_cstr(strs, sec_off as usize).ok_or("bad section name offset")?;
        let total = n.checked_mul(rec_size).ok_or("record count overflow")?;
        let body = data.get(pos..pos + total).ok_or("records truncated")?;
        let recs = body
            .chunks(rec_size)
            .map(&mut rec)
            .collect::<Result<Vec<_>, _>>()?;
        out.entry(name).or_insert_with(Vec::new).extend(recs);
        pos += total;
    }
    Ok(out)
}

fn field(r: &[u8], i: usize) -> Result<u32, String> {
    rd_u32(r, i * 4).ok_or_else(|| "record truncated".to_string())
}

fn insn_index(byte_off: u32) -> Result<usize, String> {
    if !byte_off.is_multiple_of(8) {
        return Err(format!("instruction offset {byte_off} not a multiple of 8"));
    }
    Ok(byte_off as usize / 8)
}

impl BtfExt {
    /// Parse `.BTF.ext`; `strs` is the string section of the matching `.BTF`.
    pub fn parse(data: &[u8], btf_strs: &[u8]) -> Result<BtfExt, String> {
        if rd_u16(data, 0) != Some(BTF_MAGIC) {
            return Err("bad .BTF.ext magic".into());
        }
        let hdr_len = rd_u32(data, 4).ok_or("header truncated")? as usize;
        let sub = |i: usize| -> Result<&[u8], String> {
            if 8 + 8 * i + 8 > hdr_len {
                return Ok(&[]);
            }
            let off = rd_u32(data, 8 + 8 * i).ok_or("header truncated")? as usize;
            let len = rd_u32(data, 12 + 8 * i).ok_or("header truncated")? as usize;
            let start = hdr_len.checked_add(off).ok_or("offset overflow")?;
            data.get(start..start.checked_add(len).ok_or("length overflow")?)
                .ok_or_else(|| "info section out of range".to_string())
        };
        let func_info = blocks(sub(0)?, btf_strs, 8, |r| {
            Ok(FuncInfo {
                insn: insn_index(field(r, 0)?)?,
                type_id: field(r, 1)?,
            })
        })?;
        let line_info = blocks(sub(1)?, btf_strs, 16, |r| {
            let s = |o: u32| rd_cstr(btf_strs, o as usize).unwrap_or_default();
            let lc = field(r, 3)?;
            Ok(LineInfo {
                insn: insn_index(field(r, 0)?)?,
                file: s(field(r, 1)?),
                line: s(field(r, 2)?),
                line_no: lc >> 10,
                col: lc & 0x3ff,
            })
        })?;
        let core_relos = blocks(sub(2)?, btf_strs, 16, |r| {
            let kind = field(r, 3)?;
            Ok(CoreRelo {
                insn: insn_index(field(r, 0)?)?,
                type_id: field(r, 1)?,
                access: rd_cstr(btf_strs, field(r, 2)? as usize)
                    .ok_or("bad access string offset")?,
                kind: CoreKind::from_u32(kind)
                    .ok_or_else(|| format!("unknown CO-RE kind {kind}"))?,
            })
        })?;
        Ok(BtfExt {
            func_info,
            line_info,
            core_relos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u32s(v: &[u32]) -> Vec<u8> {
        v.iter().flat_map(|x| x.to_le_bytes()).collect()
    }

    #[test]
    fn parses_core_relos_and_func_info() {
        let strs = b"\0sec\x000:1\0";
        let func = u32s(&[8, 1, 1, 16, 7]);
        let lines = u32s(&[16]);
        let core = u32s(&[16, 1, 1, 8, 3, 5, 0]);
        let mut hdr = vec![0x9f, 0xeb, 1, 0];
        hdr.extend(u32s(&[
            32,
            0,
            func.len() as u32,
            func.len() as u32,
            lines.len() as u32,
        ]));
        hdr.extend(u32s(&[
            (func.len() + lines.len()) as u32,
            core.len() as u32,
        ]));
        let mut data = hdr;
        data.extend(func);
        data.extend(lines);
        data.extend(core);
        let ext = BtfExt::parse(&data, strs).unwrap();
        assert_eq!(
            ext.func_info["sec"][0],
            FuncInfo {
                insn: 2,
                type_id: 7
            }
        );
        let r = &ext.core_relos["sec"][0];
        assert_eq!(
            (r.insn, r.type_id, r.access.as_str(), r.kind),
            (1, 3, "0:1", CoreKind::FieldByteOffset)
        );
    }

    #[test]
    fn rejects_truncation() {
        assert!(BtfExt::parse(&[0x9f, 0xeb], b"\0").is_err());
        let mut data = vec![0x9f, 0xeb, 1, 0];
        data.extend(u32s(&[32, 0, 100, 0, 0, 0, 0]));
        assert!(BtfExt::parse(&data, b"\0").is_err());
    }
}
