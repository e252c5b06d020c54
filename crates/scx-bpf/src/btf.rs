//! BPF Type Format: the type graph of an object (`.BTF`) or of our
//! simulated kernel.
//!
//! [`Btf::parse`] decodes the binary format (header, type section, string
//! section) covering every kind up to ENUM64, including DATASEC/VAR,
//! FUNC/FUNC_PROTO, DECL_TAG, TYPE_TAG and FLOAT. The same [`Btf`] value is
//! built programmatically by [`crate::vmlinux`] for the kernel side, so CO-RE
//! matching compares two values of one type.

/// Little-endian u32 at `off`, if in range.
pub(crate) fn rd_u32(b: &[u8], off: usize) -> Option<u32> {
    let s = b.get(off..off.checked_add(4)?)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Little-endian u16 at `off`, if in range.
pub(crate) fn rd_u16(b: &[u8], off: usize) -> Option<u16> {
    let s = b.get(off..off.checked_add(2)?)?;
    Some(u16::from_le_bytes([s[0], s[1]]))
}

/// NUL-terminated string at `off` in a string table.
pub(crate) fn rd_cstr(b: &[u8], off: usize) -> Option<String> {
    let rest = b.get(off..)?;
    let end = rest.iter().position(|&c| c == 0)?;
    Some(String::from_utf8_lossy(&rest[..end]).into_owned())
}

/// Magic number opening `.BTF` and `.BTF.ext`.
pub const BTF_MAGIC: u16 = 0xeb9f;

/// One struct or union member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Member name (empty for anonymous members).
    pub name: String,
    /// Member type id.
    pub ty: u32,
    /// Offset in bits from the start of the aggregate.
    pub bit_offset: u32,
    /// Bitfield width in bits, 0 for a plain member.
    pub bitfield_size: u32,
}

/// One DATASEC entry: a variable placed in a section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecVar {
    /// VAR type id.
    pub ty: u32,
    /// Byte offset in the section (0 in unlinked objects).
    pub offset: u32,
    /// Byte size.
    pub size: u32,
}

/// The kind-specific part of a BTF type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// Type id 0.
    Void,
    /// Integer (including char and bool).
    Int {
        /// Byte size.
        size: u32,
        /// Signed encoding.
        signed: bool,
        /// Char encoding.
        is_char: bool,
        /// Bool encoding.
        is_bool: bool,
        /// Bit offset of the value inside the storage.
        bit_offset: u8,
        /// Number of value bits.
        bits: u8,
    },
    /// Pointer to a type.
    Ptr(u32),
    /// Array.
    Array {
        /// Element type.
        elem: u32,
        /// Index type.
        index: u32,
        /// Element count.
        nelems: u32,
    },
    /// Struct.
    Struct {
        /// Byte size.
        size: u32,
        /// Members.
        members: Vec<Member>,
    },
    /// Union.
    Union {
        /// Byte size.
        size: u32,
        /// Members.
        members: Vec<Member>,
    },
    /// ENUM or ENUM64.
    Enum {
        /// Byte size.
        size: u32,
        /// Values are signed.
        signed: bool,
        /// True for ENUM64.
        is64: bool,
        /// (name, value) pairs.
        values: Vec<(String, i64)>,
    },
    /// Forward declaration.
    Fwd {
        /// Forward-declared union (else struct).
        is_union: bool,
    },
    /// Typedef.
    Typedef(u32),
    /// `volatile` modifier.
    Volatile(u32),
    /// `const` modifier.
    Const(u32),
    /// `restrict` modifier.
    Restrict(u32),
    /// Function (name + prototype).
    Func {
        /// FUNC_PROTO type id.
        proto: u32,
        /// Linkage: 0 static, 1 global, 2 extern.
        linkage: u32,
    },
    /// Function prototype.
    FuncProto {
        /// Return type.
        ret: u32,
        /// (name, type) of each parameter.
        params: Vec<(String, u32)>,
    },
    /// Variable.
    Var {
        /// Variable type.
        ty: u32,
        /// Linkage: 0 static, 1 global, 2 extern.
        linkage: u32,
    },
    /// Data section.
    Datasec {
        /// Section size (0 in objects).
        size: u32,
        /// Variables in the section.
        vars: Vec<SecVar>,
    },
    /// Floating point.
    Float {
        /// Byte size.
        size: u32,
    },
    /// Declaration tag.
    DeclTag {
        /// Tagged type.
        ty: u32,
        /// Member/param index or -1.
        component: i32,
    },
    /// Type tag.
    TypeTag(u32),
}

/// One BTF type: name plus kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Type {
    /// Type name (empty when anonymous).
    pub name: String,
    /// Kind-specific data.
    pub kind: Kind,
}

/// A whole type graph; index = type id, id 0 is void.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Btf {
    /// Types by id.
    pub types: Vec<Type>,
}

impl Default for Btf {
    fn default() -> Self {
        Btf {
            types: vec![Type {
                name: String::new(),
                kind: Kind::Void,
            }],
        }
    }
}

/// Reads the fixed 12-byte `btf_type` record and its trailing data.
struct Cursor<'a> {
    types: &'a [u8],
    strs: &'a [u8],
    pos: usize,
}

impl Cursor<'_> {
    fn u32(&mut self) -> Result<u32, String> {
        let v = rd_u32(self.types, self.pos).ok_or("type section truncated")?;
        self.pos += 4;
        Ok(v)
    }

    fn name(&self, off: u32) -> Result<String, String> {
        rd_cstr(self.strs, off as usize).ok_or_else(|| format!("bad string offset {off}"))
    }

    fn members(&mut self, vlen: u32, kflag: bool) -> Result<Vec<Member>, String> {
        (0..vlen)
            .map(|_| {
                let name = self.u32()?;
                let ty = self.u32()?;
                let off = self.u32()?;
                let (bit_offset, bitfield_size) = if kflag {
                    (off & 0xff_ffff, off >> 24)
                } else {
                    (off, 0)
                };
                Ok(Member {
                    name: self.name(name)?,
                    ty,
                    bit_offset,
                    bitfield_size,
                })
            })
            .collect()
    }

    fn one(&mut self) -> Result<Type, String> {
        let name_off = self.u32()?;
        let info = self.u32()?;
        let size_or_type = self.u32()?;
        let vlen = info & 0xffff;
        let kflag = info >> 31 != 0;
        let name = self.name(name_off)?;
        let kind = match (info >> 24) & 0x1f {
            1 => {
                let enc = self.u32()?;
                Kind::Int {
                    size: size_or_type,
                    signed: (enc >> 24) & 1 != 0,
                    is_char: (enc >> 24) & 2 != 0,
                    is_bool: (enc >> 24) & 4 != 0,
                    bit_offset: ((enc >> 16) & 0xff) as u8,
                    bits: (enc & 0xff) as u8,
                }
            }
            2 => Kind::Ptr(size_or_type),
            3 => Kind::Array {
                elem: self.u32()?,
                index: self.u32()?,
                nelems: self.u32()?,
            },
            4 => Kind::Struct {
                size: size_or_type,
                members: self.members(vlen, kflag)?,
            },
            5 => Kind::Union {
                size: size_or_type,
                members: self.members(vlen, kflag)?,
            },
            6 => Kind::Enum {
                size: size_or_type,
                signed: kflag,
                is64: false,
                values: (0..vlen)
                    .map(|_| {
                        let n = self.u32()?;
                        let v = self.u32()?;
                        let v = if kflag { v as i32 as i64 } else { v as i64 };
                        Ok((self.name(n)?, v))
                    })
                    .collect::<Result<_, String>>()?,
            },
            7 => Kind::Fwd { is_union: kflag },
            8 => Kind::Typedef(size_or_type),
            9 => Kind::Volatile(size_or_type),
            10 => Kind::Const(size_or_type),
            11 => Kind::Restrict(size_or_type),
            12 => Kind::Func {
                proto: size_or_type,
                linkage: vlen,
            },
            13 => Kind::FuncProto {
                ret: size_or_type,
                params: (0..vlen)
                    .map(|_| {
                        let n = self.u32()?;
                        let t = self.u32()?;
                        Ok((self.name(n)?, t))
                    })
                    .collect::<Result<_, String>>()?,
            },
            14 => Kind::Var {
                ty: size_or_type,
                linkage: self.u32()?,
            },
            15 => Kind::Datasec {
                size: size_or_type,
                vars: (0..vlen)
                    .map(|_| {
                        Ok(SecVar {
                            ty: self.u32()?,
                            offset: self.u32()?,
                            size: self.u32()?,
                        })
                    })
                    .collect::<Result<_, String>>()?,
            },
            16 => Kind::Float { size: size_or_type },
            17 => Kind::DeclTag {
                ty: size_or_type,
                component: self.u32()? as i32,
            },
            18 => Kind::TypeTag(size_or_type),
            19 => Kind::Enum {
                size: size_or_type,
                signed: kflag,
                is64: true,
                values: (0..vlen)
                    .map(|_| {
                        let n = self.u32()?;
                        let lo = self.u32()? as u64;
                        let hi = self.u32()? as u64;
                        Ok((self.name(n)?, ((hi << 32) | lo) as i64))
                    })
                    .collect::<Result<_, String>>()?,
            },
            k => return Err(format!("unknown BTF kind {k}")),
        };
        Ok(Type { name, kind })
    }
}

/// Maximum number of modifier/typedef hops followed before giving up (guards
/// against cycles in malformed input).
const MAX_CHAIN: usize = 32;

impl Btf {
    /// Parse a `.BTF` section.
    pub fn parse(data: &[u8]) -> Result<Btf, String> {
        if rd_u16(data, 0) != Some(BTF_MAGIC) {
            return Err("bad magic".into());
        }
        let hdr_len = rd_u32(data, 4).ok_or("header truncated")? as usize;
        let field = |i: usize| {
            rd_u32(data, 8 + 4 * i)
                .map(|v| v as usize)
                .ok_or("header truncated")
        };
        let (type_off, type_len, str_off, str_len) = (field(0)?, field(1)?, field(2)?, field(3)?);
        let slice = |off: usize, len: usize| {
            let start = hdr_len.checked_add(off)?;
            data.get(start..start.checked_add(len)?)
        };
        let types = slice(type_off, type_len).ok_or("type section out of range")?;
        let strs = slice(str_off, str_len).ok_or("string section out of range")?;
        let mut cur = Cursor {
            types,
            strs,
            pos: 0,
        };
        let mut btf = Btf::default();
        while cur.pos < types.len() {
            btf.types.push(cur.one()?);
        }
        btf.validate()?;
        Ok(btf)
    }

    /// Check that every referenced type id exists.
    fn validate(&self) -> Result<(), String> {
        let n = self.types.len() as u32;
        let check = |id: u32| {
            if id < n {
                Ok(())
            } else {
                Err(format!("type id {id} out of range"))
            }
        };
        for t in &self.types {
            match &t.kind {
                Kind::Ptr(x)
                | Kind::Typedef(x)
                | Kind::Volatile(x)
                | Kind::Const(x)
                | Kind::Restrict(x)
                | Kind::TypeTag(x) => check(*x)?,
                Kind::Array { elem, index, .. } => {
                    check(*elem)?;
                    check(*index)?
                }
                Kind::Struct { members, .. } | Kind::Union { members, .. } => {
                    members.iter().try_for_each(|m| check(m.ty))?
                }
                Kind::Func { proto, .. } => check(*proto)?,
                Kind::FuncProto { ret, params } => {
                    check(*ret)?;
                    params.iter().try_for_each(|p| check(p.1))?
                }
                Kind::Var { ty, .. } | Kind::DeclTag { ty, .. } => check(*ty)?,
                Kind::Datasec { vars, .. } => vars.iter().try_for_each(|v| check(v.ty))?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Append a type and return its id.
    pub fn add(&mut self, name: &str, kind: Kind) -> u32 {
        self.types.push(Type {
            name: name.to_string(),
            kind,
        });
        (self.types.len() - 1) as u32
    }

    /// The type with this id.
    pub fn get(&self, id: u32) -> Option<&Type> {
        self.types.get(id as usize)
    }

    /// Skip typedefs and modifiers (const/volatile/restrict/type tags).
    pub fn skip_mods_and_typedefs(&self, mut id: u32) -> u32 {
        for _ in 0..MAX_CHAIN {
            match self.get(id).map(|t| &t.kind) {
                Some(
                    Kind::Typedef(x)
                    | Kind::Volatile(x)
                    | Kind::Const(x)
                    | Kind::Restrict(x)
                    | Kind::TypeTag(x),
                ) => id = *x,
                _ => return id,
            }
        }
        id
    }

    /// Skip modifiers only (typedefs are kept).
    pub fn skip_mods(&self, mut id: u32) -> u32 {
        for _ in 0..MAX_CHAIN {
            match self.get(id).map(|t| &t.kind) {
                Some(Kind::Volatile(x) | Kind::Const(x) | Kind::Restrict(x) | Kind::TypeTag(x)) => {
                    id = *x
                }
                _ => return id,
            }
        }
        id
    }

    /// Byte size of a type, if it has one.
    pub fn size_of(&self, id: u32) -> Option<u64> {
        self.size_of_depth(id, 0)
    }

    fn size_of_depth(&self, id: u32, depth: usize) -> Option<u64> {
        if depth > MAX_CHAIN {
            return None;
        }
        let id = self.skip_mods_and_typedefs(id);
        match &self.get(id)?.kind {
            Kind::Int { size, .. }
            | Kind::Struct { size, .. }
            | Kind::Union { size, .. }
            | Kind::Enum { size, .. }
            | Kind::Float { size }
            | Kind::Datasec { size, .. } => Some(*size as u64),
            Kind::Ptr(_) => Some(8),
            Kind::Array { elem, nelems, .. } => Some(
                self.size_of_depth(*elem, depth + 1)?
                    .checked_mul(*nelems as u64)?,
            ),
            Kind::Var { ty, .. } => self.size_of_depth(*ty, depth + 1),
            _ => None,
        }
    }

    /// First type id with this name whose kind matches `pred`.
    pub fn find(&self, name: &str, pred: impl Fn(&Kind) -> bool) -> Option<u32> {
        self.types
            .iter()
            .position(|t| t.name == name && pred(&t.kind))
            .map(|i| i as u32)
    }

    /// Id of the struct with this name.
    pub fn find_struct(&self, name: &str) -> Option<u32> {
        self.find(name, |k| matches!(k, Kind::Struct { .. }))
    }

    /// Members of a struct/union (after skipping typedefs), else empty.
    pub fn members(&self, id: u32) -> &[Member] {
        match self.get(self.skip_mods_and_typedefs(id)).map(|t| &t.kind) {
            Some(Kind::Struct { members, .. } | Kind::Union { members, .. }) => members,
            _ => &[],
        }
    }

    /// Byte offset and type of the named member of a struct/union, looking
    /// through anonymous inner aggregates.
    pub fn member_offset(&self, id: u32, name: &str) -> Option<(u32, u32)> {
        self.member_offset_depth(id, name, 0)
    }

    fn member_offset_depth(&self, id: u32, name: &str, depth: usize) -> Option<(u32, u32)> {
        if depth > MAX_CHAIN {
            return None;
        }
        for m in self.members(id) {
            if m.name == name {
                return Some((m.bit_offset / 8, m.ty));
            }
            if m.name.is_empty() {
                if let Some((o, t)) = self.member_offset_depth(m.ty, name, depth + 1) {
                    return Some(((m.bit_offset / 8).saturating_add(o), t));
                }
            }
        }
        None
    }

    /// Number of elements if `id` (after typedefs) is an array.
    pub fn array_info(&self, id: u32) -> Option<(u32, u32)> {
        match &self.get(self.skip_mods_and_typedefs(id))?.kind {
            Kind::Array { elem, nelems, .. } => Some((*elem, *nelems)),
            _ => None,
        }
    }

    /// Value of a named integer-like `__uint(name, N)` map attribute: BTF
    /// encodes it as a pointer to an array of N elements.
    pub fn ptr_array_len(&self, id: u32) -> Option<u32> {
        match &self.get(self.skip_mods_and_typedefs(id))?.kind {
            Kind::Ptr(t) => self.array_info(*t).map(|(_, n)| n),
            _ => None,
        }
    }

    /// Pointee of a pointer type.
    pub fn pointee(&self, id: u32) -> Option<u32> {
        match &self.get(self.skip_mods_and_typedefs(id))?.kind {
            Kind::Ptr(t) => Some(*t),
            _ => None,
        }
    }

    /// Name of the type after skipping modifiers and typedefs.
    pub fn resolved_name(&self, id: u32) -> &str {
        self.get(self.skip_mods_and_typedefs(id))
            .map(|t| t.name.as_str())
            .unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a raw `.BTF` blob from type records and a string table.
    pub(crate) fn raw_btf(types: &[u32], strs: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        v.extend_from_slice(&BTF_MAGIC.to_le_bytes());
        v.push(1);
        v.push(0);
        v.extend_from_slice(&24u32.to_le_bytes());
        let tlen = (types.len() * 4) as u32;
        for x in [0, tlen, tlen, strs.len() as u32] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        for t in types {
            v.extend_from_slice(&t.to_le_bytes());
        }
        v.extend_from_slice(strs);
        v
    }

    #[test]
    fn parses_every_kind() {
        // strings: 0:"" 1:"int" 5:"s" 7:"a" 9:"E" 11:"X" 13:"f" 15:"v" 17:".data" 23:"tag" 27:"fl" 30:"E64"
        let strs = b"\0int\0s\0a\0E\0X\0f\0v\0.data\0tag\0fl\0E64\0";
        let k = |kind: u32, vlen: u32, kflag: u32| (kflag << 31) | (kind << 24) | vlen;
        let types = [
            1,
            k(1, 0, 0),
            4,
            (1 << 24) | 32, // 1 int, signed 32 bits
            0,
            k(2, 0, 0),
            1, // 2 ptr -> int
            0,
            k(3, 0, 0),
            0,
            1,
            1,
            4, // 3 int[4]
            5,
            k(4, 2, 1),
            8,
            7,
            1,
            0,
            0,
            1,
            (3 << 24) | 32, // 4 struct s { int a; bitfield:3 at 32 }
            9,
            k(6, 1, 1),
            4,
            11,
            (-2i32) as u32, // 5 enum E { X = -2 } signed
            0,
            k(10, 0, 0),
            4, // 6 const struct s
            0,
            k(13, 1, 0),
            1,
            7,
            2, // 7 proto int (int *a)
            13,
            k(12, 1, 0),
            7, // 8 func f global
            15,
            k(14, 0, 0),
            1,
            1, // 9 var v: int
            17,
            k(15, 1, 0),
            0,
            9,
            0,
            4, // 10 datasec .data
            23,
            k(17, 0, 0),
            4,
            (-1i32) as u32, // 11 decl tag on struct
            23,
            k(18, 0, 0),
            1, // 12 type tag
            27,
            k(16, 0, 0),
            8, // 13 float
            30,
            k(19, 1, 0),
            8,
            11,
            1,
            0x8000_0000, // 14 enum64
            0,
            k(8, 0, 0),
            4, // 15 typedef (unnamed, fine)
        ];
        let btf = Btf::parse(&raw_btf(&types, strs)).unwrap();
        assert_eq!(btf.types.len(), 16);
        assert!(matches!(
            btf.types[1].kind,
            Kind::Int {
                size: 4,
                signed: true,
                bits: 32,
                ..
            }
        ));
        assert_eq!(btf.size_of(3), Some(16));
        assert_eq!(btf.members(4)[1].bitfield_size, 3);
        assert_eq!(btf.member_offset(4, "a"), Some((0, 1)));
        assert!(matches!(&btf.types[5].kind, Kind::Enum { values, .. } if values[0].1 == -2));
        assert_eq!(btf.size_of(6), Some(8));
        assert!(matches!(
            btf.types[8].kind,
            Kind::Func {
                proto: 7,
                linkage: 1
            }
        ));
        assert!(matches!(&btf.types[10].kind, Kind::Datasec { vars, .. } if vars[0].ty == 9));
        assert!(matches!(
            btf.types[11].kind,
            Kind::DeclTag { component: -1, .. }
        ));
        assert!(matches!(btf.types[13].kind, Kind::Float { size: 8 }));
        assert!(
            matches!(&btf.types[14].kind, Kind::Enum { is64: true, values, .. } if values[0].1 as u64 == 0x8000_0000_0000_0001)
        );
        assert_eq!(btf.skip_mods_and_typedefs(15), 4);
    }

    #[test]
    fn rejects_garbage() {
        assert!(Btf::parse(&[]).is_err());
        assert!(Btf::parse(&[0x9f, 0xeb, 1, 0, 24, 0, 0, 0]).is_err());
        let strs = b"\0";
        // pointer to a type id that does not exist
        let bad = raw_btf(&[0, 2 << 24, 99], strs);
        assert!(Btf::parse(&bad).is_err());
        // unknown kind
        let bad = raw_btf(&[0, 31 << 24, 0], strs);
        assert!(Btf::parse(&bad).is_err());
    }
}
