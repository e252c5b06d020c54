//! CO-RE (compile once, run everywhere) relocation against our kernel type
//! table.
//!
//! An object compiled against any `vmlinux.h` records, for each access to
//! a kernel type, the *local* type and an access path (`0:13:18`). We walk
//! that path in the object's BTF, find the kernel type of the same
//! essential name (the part before any `___flavor` suffix) in
//! [`crate::vmlinux::KernelTypes`], match members by name, and compute the
//! value the instruction needs (offset, size, existence, signedness,
//! bitfield shifts, type id/size/existence, enumerator existence/value).
//! A relocation that cannot be resolved yields [`CoreResult::Poison`]: the
//! loader turns that instruction into one that faults if executed, as
//! libbpf does, while the `*_exists` kinds resolve to 0.

use crate::btf::{Btf, Kind};
use crate::btf_ext::{CoreKind, CoreRelo};

/// Outcome of resolving one relocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CoreResult {
    /// Patch the instruction with this value. For field offsets, `size`
    /// carries (local size, target size, target signed) so the loader can
    /// adjust the memory access width.
    Value {
        /// The value to patch in.
        value: u64,
        /// Field width adjustment info for memory accesses.
        size: Option<SizeAdjust>,
    },
    /// Unresolvable: the instruction must fault if executed.
    Poison(String),
}

/// Field width of a relocated memory access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeAdjust {
    /// Width in the object.
    pub local: u32,
    /// Width in our kernel.
    pub target: u32,
    /// Target field is signed.
    pub signed: bool,
}

/// The part of a type name before any `___` flavor suffix.
pub fn essential_name(name: &str) -> &str {
    match name.find("___") {
        Some(i) => &name[..i],
        None => name,
    }
}

/// One step of an access path after the root index.
#[derive(Debug, Clone)]
enum Step {
    /// Named member.
    Member(String),
    /// Array element index.
    Index(u32),
}

/// A field found in one BTF: where it is and what it is.
#[derive(Debug, Clone, Copy)]
struct FieldLoc {
    bit_off: u64,
    ty: u32,
    bitfield: u32,
}

/// `index * size` bytes in bits, or an error on overflow.
fn bits(index: u32, size: u64) -> Result<u64, String> {
    (index as u64)
        .checked_mul(size)
        .and_then(|b| b.checked_mul(8))
        .ok_or_else(|| "offset overflow".to_string())
}

fn parse_access(s: &str) -> Result<Vec<u32>, String> {
    s.split(':')
        .map(|p| {
            p.parse::<u32>()
                .map_err(|_| format!("bad access string {s:?}"))
        })
        .collect()
}

fn is_composite(btf: &Btf, id: u32) -> bool {
    matches!(
        btf.get(id).map(|t| &t.kind),
        Some(Kind::Struct { .. } | Kind::Union { .. })
    )
}

fn is_enum(btf: &Btf, id: u32) -> bool {
    matches!(btf.get(id).map(|t| &t.kind), Some(Kind::Enum { .. }))
}

/// Kinds that can stand in for each other when matching a root type.
fn same_kind_class(a: &Kind, b: &Kind) -> bool {
    use std::mem::discriminant as d;
    matches!((a, b), (Kind::Enum { .. }, Kind::Enum { .. })) || d(a) == d(b)
}

/// Walk the local access path: the steps by name and the local field.
fn local_spec(btf: &Btf, root: u32, access: &[u32]) -> Result<(Vec<Step>, FieldLoc), String> {
    let mut ty = btf.skip_mods_and_typedefs(root);
    let root_size = btf.size_of(ty).unwrap_or(0);
    let mut loc = FieldLoc {
        bit_off: bits(access[0], root_size)?,
        ty: root,
        bitfield: 0,
    };
    let mut steps = Vec::new();
    for &a in &access[1..] {
        ty = btf.skip_mods_and_typedefs(ty);
        if is_composite(btf, ty) {
            let m = btf
                .members(ty)
                .get(a as usize)
                .ok_or_else(|| format!("member index {a} out of range"))?;
            loc = FieldLoc {
                bit_off: loc.bit_off + m.bit_offset as u64,
                ty: m.ty,
                bitfield: m.bitfield_size,
            };
            if !m.name.is_empty() {
                steps.push(Step::Member(m.name.clone()));
            }
            ty = m.ty;
        } else if let Some((elem, _)) = btf.array_info(ty) {
            let esz = btf.size_of(elem).unwrap_or(0);
            loc = FieldLoc {
                bit_off: loc
                    .bit_off
                    .checked_add(bits(a, esz)?)
                    .ok_or("offset overflow")?,
                ty: elem,
                bitfield: 0,
            };
            steps.push(Step::Index(a));
            ty = elem;
        } else {
            return Err("access path steps into a scalar".into());
        }
    }
    Ok((steps, loc))
}

/// Find a member by name, looking through anonymous aggregates.
fn find_member(btf: &Btf, ty: u32, name: &str, depth: usize) -> Option<FieldLoc> {
    if depth > 16 {
        return None;
    }
    for m in btf.members(ty) {
        if m.name == name {
            return Some(FieldLoc {
                bit_off: m.bit_offset as u64,
                ty: m.ty,
                bitfield: m.bitfield_size,
            });
        }
        if m.name.is_empty() {
            if let Some(inner) = find_member(btf, m.ty, name, depth + 1) {
                return Some(FieldLoc {
                    bit_off: inner.bit_off + m.bit_offset as u64,
                    ..inner
                });
            }
        }
    }
    None
}

/// Are a local and a target field type compatible for relocation purposes?
fn fields_compatible(lb: &Btf, lt: u32, tb: &Btf, tt: u32, depth: usize) -> bool {
    let (lt, tt) = (lb.skip_mods_and_typedefs(lt), tb.skip_mods_and_typedefs(tt));
    let (Some(l), Some(t)) = (lb.get(lt), tb.get(tt)) else {
        return false;
    };
    if is_composite(lb, lt) && is_composite(tb, tt) {
        return true;
    }
    if depth > 16 || !same_kind_class(&l.kind, &t.kind) {
        return false;
    }
    match (&l.kind, &t.kind) {
        (Kind::Enum { .. }, _) | (Kind::Fwd { .. }, _) => {
            l.name.is_empty()
                || t.name.is_empty()
                || essential_name(&l.name) == essential_name(&t.name)
        }
        (Kind::Int { bit_offset: a, .. }, Kind::Int { bit_offset: b, .. }) => *a == 0 && *b == 0,
        (Kind::Array { elem: a, .. }, Kind::Array { elem: b, .. }) => {
            fields_compatible(lb, *a, tb, *b, depth + 1)
        }
        _ => true,
    }
}

/// Match the named steps in one target candidate.
fn match_target(
    lb: &Btf,
    local: &FieldLoc,
    steps: &[Step],
    tb: &Btf,
    cand: u32,
    root_idx: u32,
) -> Option<FieldLoc> {
    let size = tb.size_of(cand)?;
    let mut loc = FieldLoc {
        bit_off: bits(root_idx, size).ok()?,
        ty: cand,
        bitfield: 0,
    };
    for step in steps {
        let ty = tb.skip_mods_and_typedefs(loc.ty);
        match step {
            Step::Member(name) => {
                if !is_composite(tb, ty) {
                    return None;
                }
                let m = find_member(tb, ty, name, 0)?;
                loc = FieldLoc {
                    bit_off: loc.bit_off.checked_add(m.bit_off)?,
                    ..m
                };
            }
            Step::Index(i) => {
                let (elem, n) = tb.array_info(ty)?;
                if n != 0 && *i >= n {
                    return None;
                }
                let esz = tb.size_of(elem)?;
                loc = FieldLoc {
                    bit_off: loc.bit_off.checked_add(bits(*i, esz).ok()?)?,
                    ty: elem,
                    bitfield: 0,
                };
            }
        }
    }
    fields_compatible(lb, local.ty, tb, loc.ty, 0).then_some(loc)
}

/// Target candidates for a local root type: same essential name, same kind.
fn candidates(lb: &Btf, local: u32, tb: &Btf) -> Vec<u32> {
    let lid = lb.skip_mods(local);
    let Some(l) = lb.get(lid) else {
        return Vec::new();
    };
    let name = essential_name(&l.name);
    if name.is_empty() {
        return Vec::new();
    }
    tb.types
        .iter()
        .enumerate()
        .filter(|(_, t)| essential_name(&t.name) == name && same_kind_class(&l.kind, &t.kind))
        .map(|(i, _)| i as u32)
        .collect()
}

fn int_signed(btf: &Btf, ty: u32) -> bool {
    match btf.get(btf.skip_mods_and_typedefs(ty)).map(|t| &t.kind) {
        Some(Kind::Int { signed, .. } | Kind::Enum { signed, .. }) => *signed,
        _ => false,
    }
}

/// Byte offset and byte size of the load that covers a (bit)field.
fn field_window(btf: &Btf, f: &FieldLoc) -> Result<(u64, u64), String> {
    let tsize = btf.size_of(f.ty).ok_or("field has no size")?;
    if f.bitfield == 0 {
        return Ok((f.bit_off / 8, tsize));
    }
    let mut sz = tsize.max(1);
    let mut off = f.bit_off / 8 / sz * sz;
    while (f.bit_off + f.bitfield as u64).saturating_sub(off * 8) > sz * 8 {
        if sz >= 8 {
            return Err("bitfield wider than 8 bytes".into());
        }
        sz *= 2;
        off = f.bit_off / 8 / sz * sz;
    }
    Ok((off, sz))
}

fn field_value(kind: CoreKind, btf: &Btf, f: &FieldLoc) -> Result<u64, String> {
    let (off, sz) = field_window(btf, f)?;
    let bits = if f.bitfield != 0 {
        f.bitfield as u64
    } else {
        sz * 8
    };
    Ok(match kind {
        CoreKind::FieldByteOffset => off,
        CoreKind::FieldByteSize => sz,
        CoreKind::FieldExists => 1,
        CoreKind::FieldSigned => int_signed(btf, f.ty) as u64,
        CoreKind::FieldLshiftU64 => {
            64u64.saturating_sub((f.bit_off + bits).saturating_sub(off * 8))
        }
        CoreKind::FieldRshiftU64 => 64u64.saturating_sub(bits),
        _ => unreachable!("field kind"),
    })
}

fn resolve_field(lb: &Btf, r: &CoreRelo, access: &[u32], tb: &Btf) -> Result<CoreResult, String> {
    let (steps, local) = local_spec(lb, r.type_id, access)?;
    let found = candidates(lb, r.type_id, tb)
        .into_iter()
        .find_map(|c| match_target(lb, &local, &steps, tb, c, access[0]));
    let Some(target) = found else {
        return Ok(if r.kind == CoreKind::FieldExists {
            CoreResult::Value {
                value: 0,
                size: None,
            }
        } else {
            CoreResult::Poison(format!(
                "{} {} not in kernel",
                lb.resolved_name(r.type_id),
                r.access
            ))
        });
    };
    let value = field_value(r.kind, tb, &target)?;
    let size = (r.kind == CoreKind::FieldByteOffset && local.bitfield == 0).then(|| SizeAdjust {
        local: lb.size_of(local.ty).unwrap_or(0) as u32,
        target: tb.size_of(target.ty).unwrap_or(0) as u32,
        signed: int_signed(tb, target.ty),
    });
    Ok(CoreResult::Value { value, size })
}

fn resolve_type(lb: &Btf, r: &CoreRelo, tb: &Btf) -> CoreResult {
    let value = |v: u64| CoreResult::Value {
        value: v,
        size: None,
    };
    if r.kind == CoreKind::TypeIdLocal {
        return value(r.type_id as u64);
    }
    let cand = candidates(lb, r.type_id, tb).into_iter().next();
    match (r.kind, cand) {
        (CoreKind::TypeExists | CoreKind::TypeMatches, c) => value(c.is_some() as u64),
        (CoreKind::TypeIdTarget, Some(c)) => value(c as u64),
        (CoreKind::TypeSize, Some(c)) => match tb.size_of(c) {
            Some(s) => value(s),
            None => CoreResult::Poison(format!("type {} has no size", tb.types[c as usize].name)),
        },
        _ => CoreResult::Poison(format!(
            "type {} not in kernel",
            lb.resolved_name(r.type_id)
        )),
    }
}

fn resolve_enumval(lb: &Btf, r: &CoreRelo, access: &[u32], tb: &Btf) -> Result<CoreResult, String> {
    let lid = lb.skip_mods_and_typedefs(r.type_id);
    let Some(Kind::Enum { values, .. }) = lb.get(lid).map(|t| &t.kind) else {
        return Err("enum relocation on a non-enum".into());
    };
    let (lname, _) = values
        .get(access[0] as usize)
        .ok_or("enumerator index out of range")?;
    let want = essential_name(lname);
    let found = candidates(lb, lid, tb)
        .into_iter()
        .filter(|&c| is_enum(tb, c))
        .find_map(|c| match &tb.types[c as usize].kind {
            Kind::Enum { values, .. } => values
                .iter()
                .find(|(n, _)| essential_name(n) == want)
                .map(|(_, v)| *v),
            _ => None,
        });
    Ok(match (r.kind, found) {
        (CoreKind::EnumvalExists, f) => CoreResult::Value {
            value: f.is_some() as u64,
            size: None,
        },
        (_, Some(v)) => CoreResult::Value {
            value: v as u64,
            size: None,
        },
        (_, None) => CoreResult::Poison(format!("enumerator {lname} not in kernel")),
    })
}

/// Resolve one relocation of object BTF `local` against kernel BTF `target`.
/// An `Err` means the record itself is malformed.
pub fn resolve(local: &Btf, r: &CoreRelo, target: &Btf) -> Result<CoreResult, String> {
    let access = parse_access(&r.access)?;
    if local.get(r.type_id).is_none() {
        return Err(format!("type id {} out of range", r.type_id));
    }
    if r.kind.is_field() {
        resolve_field(local, r, &access, target)
    } else if r.kind.is_enumval() {
        resolve_enumval(local, r, &access, target)
    } else {
        Ok(resolve_type(local, r, target))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::btf::Member;
    use crate::vmlinux::KernelTypes;

    /// A local BTF with `struct task_struct { int pid; u64 x; struct sched_ext_entity scx; }`
    /// where scx has `u64 slice` at a different offset than the kernel's.
    fn local() -> (Btf, u32, u32) {
        let mut b = Btf::default();
        let int = b.add(
            "int",
            Kind::Int {
                size: 4,
                signed: true,
                is_char: false,
                is_bool: false,
                bit_offset: 0,
                bits: 32,
            },
        );
        let u64t = b.add(
            "u64",
            Kind::Int {
                size: 8,
                signed: false,
                is_char: false,
                is_bool: false,
                bit_offset: 0,
                bits: 64,
            },
        );
        let m = |n: &str, ty, off: u32| Member {
            name: n.into(),
            ty,
            bit_offset: off * 8,
            bitfield_size: 0,
        };
        let scx = b.add(
            "sched_ext_entity",
            Kind::Struct {
                size: 16,
                members: vec![m("weight", int, 0), m("slice", u64t, 8)],
            },
        );
        let task = b.add(
            "task_struct___mine",
            Kind::Struct {
                size: 32,
                members: vec![
                    m("pid", int, 0),
                    m("bogus_613_field", u64t, 8),
                    m("scx", scx, 16),
                ],
            },
        );
        let e = b.add(
            "scx_enq_flags",
            Kind::Enum {
                size: 8,
                signed: false,
                is64: true,
                values: vec![
                    ("SCX_ENQ_PREEMPT".into(), 1 << 32),
                    ("SCX_ENQ_NOT_IN_612".into(), 7),
                ],
            },
        );
        (b, task, e)
    }

    fn relo(type_id: u32, access: &str, kind: CoreKind) -> CoreRelo {
        CoreRelo {
            insn: 0,
            type_id,
            access: access.into(),
            kind,
        }
    }

    #[test]
    fn field_offsets_follow_the_kernel() {
        let (lb, task, _) = local();
        let kt = KernelTypes::new();
        let want = kt.offset_of("task_struct", "scx.slice").unwrap() as u64;
        let r = resolve(
            &lb,
            &relo(task, "0:2:1", CoreKind::FieldByteOffset),
            &kt.btf,
        )
        .unwrap();
        assert_eq!(
            r,
            CoreResult::Value {
                value: want,
                size: Some(SizeAdjust {
                    local: 8,
                    target: 8,
                    signed: false
                })
            }
        );
        let r = resolve(&lb, &relo(task, "0:0", CoreKind::FieldSigned), &kt.btf).unwrap();
        assert_eq!(
            r,
            CoreResult::Value {
                value: 1,
                size: None
            }
        );
    }

    #[test]
    fn missing_fields_do_not_exist_or_poison() {
        let (lb, task, _) = local();
        let kt = KernelTypes::new();
        let r = resolve(&lb, &relo(task, "0:1", CoreKind::FieldExists), &kt.btf).unwrap();
        assert_eq!(
            r,
            CoreResult::Value {
                value: 0,
                size: None
            }
        );
        let r = resolve(&lb, &relo(task, "0:1", CoreKind::FieldByteOffset), &kt.btf).unwrap();
        assert!(matches!(r, CoreResult::Poison(_)));
    }

    #[test]
    fn types_and_enums() {
        let (lb, task, e) = local();
        let kt = KernelTypes::new();
        let size = kt.struct_size("task_struct").unwrap() as u64;
        assert_eq!(
            resolve(&lb, &relo(task, "0", CoreKind::TypeSize), &kt.btf).unwrap(),
            CoreResult::Value {
                value: size,
                size: None
            }
        );
        assert_eq!(
            resolve(&lb, &relo(task, "0", CoreKind::TypeExists), &kt.btf).unwrap(),
            CoreResult::Value {
                value: 1,
                size: None
            }
        );
        assert_eq!(
            resolve(&lb, &relo(e, "0", CoreKind::EnumvalValue), &kt.btf).unwrap(),
            CoreResult::Value {
                value: 1 << 32,
                size: None
            }
        );
        assert_eq!(
            resolve(&lb, &relo(e, "1", CoreKind::EnumvalExists), &kt.btf).unwrap(),
            CoreResult::Value {
                value: 0,
                size: None
            }
        );
        assert!(resolve(&lb, &relo(task, "x", CoreKind::TypeSize), &kt.btf).is_err());
    }

    #[test]
    fn bitfield_shifts_follow_the_target() {
        let int = |b: &mut Btf| {
            b.add(
                "unsigned int",
                Kind::Int {
                    size: 4,
                    signed: false,
                    is_char: false,
                    is_bool: false,
                    bit_offset: 0,
                    bits: 32,
                },
            )
        };
        let bf = |n: &str, ty, off: u32, size: u32| Member {
            name: n.into(),
            ty,
            bit_offset: off,
            bitfield_size: size,
        };
        let mut target = Btf::default();
        let u = int(&mut target);
        target.add(
            "flagsy",
            Kind::Struct {
                size: 8,
                members: vec![bf("pad", u, 0, 0), bf("a", u, 32 + 3, 5)],
            },
        );
        let mut local = Btf::default();
        let lu = int(&mut local);
        let ls = local.add(
            "flagsy",
            Kind::Struct {
                size: 4,
                members: vec![bf("a", lu, 0, 5)],
            },
        );
        let get = |kind| match resolve(
            &local,
            &CoreRelo {
                insn: 0,
                type_id: ls,
                access: "0:0".into(),
                kind,
            },
            &target,
        )
        .unwrap()
        {
            CoreResult::Value { value, .. } => value,
            p => panic!("{p:?}"),
        };
        assert_eq!(get(CoreKind::FieldByteOffset), 4);
        assert_eq!(get(CoreKind::FieldByteSize), 4);
        assert_eq!(get(CoreKind::FieldLshiftU64), 64 - (3 + 5));
        assert_eq!(get(CoreKind::FieldRshiftU64), 64 - 5);
        assert_eq!(get(CoreKind::FieldSigned), 0);
    }
}
