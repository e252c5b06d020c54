//! A parsed BPF object file: the pure, non-executing description of what a
//! `*.bpf.o` contains.
//!
//! [`BpfObject::parse`] reads the ELF (via the `object` crate), our own BTF
//! and BTF.ext parsers, and produces: the flat code of every executable
//! section, programs (function symbols outside `.text`), `.text`
//! subprograms, code relocations resolved to symbolic targets, maps defined
//! in BTF-described `.maps`, global data sections placed by ELF symbols, and
//! the `sched_ext_ops` table(s) found in `.struct_ops.link`. Before loading,
//! a caller may set `const volatile` knobs by name ([`BpfObject::set_var`])
//! and grow data sections whose last variable is an array
//! ([`BpfObject::resize_array`]), the way a libbpf skeleton loader does.

use crate::btf::{Btf, Kind};
use crate::btf_ext::{BtfExt, CoreRelo};
use crate::error::{LoadError, LoadErrorKind};
use crate::insn::{self, Insn};
use object::read::elf::ElfFile64;
use object::{
    Object, ObjectSection, ObjectSymbol, RelocationFlags, RelocationTarget, SectionIndex,
    SymbolSection,
};
use std::collections::BTreeMap;

/// ELF machine number of eBPF.
pub const EM_BPF: u16 = 247;
const R_BPF_64_64: u32 = 1;
const R_BPF_64_32: u32 = 10;

/// A contiguous executable section inside the flat code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeSection {
    /// ELF section name.
    pub name: String,
    /// First flat instruction index.
    pub base: usize,
    /// Number of instruction slots.
    pub len: usize,
}

/// An entry point: a function symbol in a non-`.text` executable section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Function (symbol) name.
    pub name: String,
    /// Section name, e.g. `struct_ops/qmap_enqueue`.
    pub section: String,
    /// Flat index of the first instruction.
    pub entry: usize,
    /// Section is `struct_ops.s/...`.
    pub sleepable: bool,
}

/// What a code relocation points at, before addresses exist.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RelocTarget {
    /// ld_imm64 of a map (index into [`BpfObject::maps`]).
    Map(usize),
    /// ld_imm64 of an address inside a data section.
    Data {
        /// Index into [`BpfObject::data`].
        section: usize,
        /// Byte offset inside it.
        offset: u64,
    },
    /// ld_imm64 of a subprogram address (callback pointer), flat index.
    FuncAddr(usize),
    /// bpf-to-bpf call, flat target index.
    Call(usize),
    /// kfunc call to an undefined symbol.
    Kfunc {
        /// Symbol name.
        name: String,
        /// Declared `__weak`.
        weak: bool,
    },
    /// ld_imm64 of an undefined symbol (`bpf_ksym_exists`).
    Ksym {
        /// Symbol name.
        name: String,
        /// Declared `__weak`.
        weak: bool,
    },
}

/// A relocation attached to one instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeReloc {
    /// Flat instruction index.
    pub insn: usize,
    /// Target.
    pub target: RelocTarget,
}

/// A CO-RE record attached to a flat instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoreSite {
    /// Flat instruction index.
    pub insn: usize,
    /// The record from `.BTF.ext`.
    pub relo: CoreRelo,
}

/// Kind of a global data section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataKind {
    /// `.data` / `.data.*`: writable, initialised.
    Data,
    /// `.rodata` / `.rodata.*`: read-only once loaded.
    Rodata,
    /// `.bss` / `.bss.*`: writable, zeroed.
    Bss,
}

/// One variable placed in a data section by its ELF symbol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Symbol name.
    pub name: String,
    /// Byte offset in the section.
    pub offset: u64,
    /// Byte size.
    pub size: u64,
    /// BTF type of the variable, when the DATASEC names it.
    pub btf_type: Option<u32>,
}

/// A global data section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataSection {
    /// Section name.
    pub name: String,
    /// Kind.
    pub kind: DataKind,
    /// Initial bytes (zeros for bss).
    pub bytes: Vec<u8>,
    /// Variables sorted by offset.
    pub vars: Vec<Variable>,
}

/// A map defined in `.maps`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDef {
    /// Map (symbol) name.
    pub name: String,
    /// `BPF_MAP_TYPE_*`.
    pub map_type: u32,
    /// Key size in bytes.
    pub key_size: u32,
    /// Value size in bytes.
    pub value_size: u32,
    /// Maximum entries.
    pub max_entries: u32,
    /// `map_flags`.
    pub map_flags: u32,
    /// BTF type of the key.
    pub key_type: Option<u32>,
    /// BTF type of the value.
    pub value_type: Option<u32>,
    /// Inner map template for map-in-map types.
    pub inner: Option<Box<MapDef>>,
    /// Initial inner maps: (slot index, map name).
    pub init_values: Vec<(u32, String)>,
}

/// The `sched_ext_ops` table of the object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructOps {
    /// Variable name (e.g. `qmap_ops`).
    pub var: String,
    /// `ops.name`.
    pub name: String,
    /// `ops.flags`.
    pub flags: u64,
    /// `ops.timeout_ms`.
    pub timeout_ms: u32,
    /// `ops.exit_dump_len`.
    pub exit_dump_len: u32,
    /// `ops.dispatch_max_batch`.
    pub dispatch_max_batch: u32,
    /// `ops.hotplug_seq`.
    pub hotplug_seq: u64,
    /// Callback member name -> program name.
    pub callbacks: BTreeMap<String, String>,
}

/// Everything parsed out of one object.
#[derive(Debug, Clone)]
pub struct BpfObject {
    /// Object name used in errors.
    pub name: String,
    /// Object BTF.
    pub btf: Btf,
    /// Object BTF.ext.
    pub btf_ext: BtfExt,
    /// All executable sections, concatenated.
    pub code: Vec<Insn>,
    /// Where each executable section sits in `code`.
    pub code_sections: Vec<CodeSection>,
    /// Entry points.
    pub programs: Vec<Program>,
    /// Function symbols in `.text` (name, flat index).
    pub subprograms: Vec<(String, usize)>,
    /// Code relocations.
    pub relocs: Vec<CodeReloc>,
    /// CO-RE relocation sites.
    pub core_sites: Vec<CoreSite>,
    /// Maps.
    pub maps: Vec<MapDef>,
    /// Global data sections.
    pub data: Vec<DataSection>,
    /// struct_ops tables.
    pub struct_ops: Vec<StructOps>,
    /// License string.
    pub license: String,
}

/// A symbol as the parser needs it.
#[derive(Debug, Clone)]
struct Sym {
    name: String,
    section: Option<usize>,
    value: u64,
    size: u64,
    is_func: bool,
    is_section: bool,
    weak: bool,
}

struct Parser<'a> {
    name: String,
    elf: ElfFile64<'a, object::LittleEndian>,
    syms: BTreeMap<usize, Sym>,
    btf: Btf,
    btf_strs: Vec<u8>,
    /// ELF section index -> code section position in `code_sections`.
    code_of: BTreeMap<usize, usize>,
    /// ELF section index -> data section index.
    data_of: BTreeMap<usize, usize>,
    maps_sec: Option<usize>,
    obj: BpfObject,
}

fn err(obj: &str, kind: LoadErrorKind) -> LoadError {
    LoadError::new(obj, kind)
}

/// Check the ELF identity before handing the bytes to `object`, so the
/// common mistakes get precise errors.
fn check_ident(name: &str, data: &[u8]) -> Result<(), LoadError> {
    if data.len() < 64 || &data[..4] != b"\x7fELF" {
        return Err(err(
            name,
            LoadErrorKind::BadElf("not an ELF file or truncated header".into()),
        ));
    }
    if data[4] != 2 || data[5] != 1 {
        return Err(err(
            name,
            LoadErrorKind::BadElf("not a 64-bit little-endian ELF".into()),
        ));
    }
    let machine = u16::from_le_bytes([data[18], data[19]]);
    if machine != EM_BPF {
        return Err(err(name, LoadErrorKind::WrongMachine(machine)));
    }
    Ok(())
}

fn data_kind(sec: &str) -> Option<DataKind> {
    let is = |p: &str| sec == p || sec.strip_prefix(p).is_some_and(|r| r.starts_with('.'));
    if is(".data") {
        Some(DataKind::Data)
    } else if is(".rodata") {
        Some(DataKind::Rodata)
    } else if is(".bss") {
        Some(DataKind::Bss)
    } else {
        None
    }
}

impl BpfObject {
    /// Parse an object. `name` is used in error messages (usually the file
    /// name). Parsing never executes code and needs no environment.
    pub fn parse(name: &str, data: &[u8]) -> Result<BpfObject, LoadError> {
        check_ident(name, data)?;
        let elf = ElfFile64::<object::LittleEndian>::parse(data)
            .map_err(|e| err(name, LoadErrorKind::BadElf(e.to_string())))?;
        let mut p = Parser {
            name: name.to_string(),
            elf,
            syms: BTreeMap::new(),
            btf: Btf::default(),
            btf_strs: Vec::new(),
            code_of: BTreeMap::new(),
            data_of: BTreeMap::new(),
            maps_sec: None,
            obj: BpfObject {
                name: name.to_string(),
                btf: Btf::default(),
                btf_ext: BtfExt::default(),
                code: Vec::new(),
                code_sections: Vec::new(),
                programs: Vec::new(),
                subprograms: Vec::new(),
                relocs: Vec::new(),
                core_sites: Vec::new(),
                maps: Vec::new(),
                data: Vec::new(),
                struct_ops: Vec::new(),
                license: String::new(),
            },
        };
        p.read_symbols();
        p.read_btf()?;
        p.read_sections()?;
        p.read_programs();
        p.read_maps()?;
        p.read_code_relocs()?;
        p.read_core_sites()?;
        p.read_struct_ops()?;
        p.obj.btf = std::mem::take(&mut p.btf);
        Ok(p.obj)
    }

    /// Find a program by name.
    pub fn program(&self, name: &str) -> Option<&Program> {
        self.programs.iter().find(|p| p.name == name)
    }

    /// Find a map definition by name.
    pub fn map(&self, name: &str) -> Option<&MapDef> {
        self.maps.iter().find(|m| m.name == name)
    }

    /// Locate a global variable: (data section index, variable).
    pub fn find_var(&self, name: &str) -> Option<(usize, &Variable)> {
        self.data
            .iter()
            .enumerate()
            .find_map(|(i, d)| d.vars.iter().find(|v| v.name == name).map(|v| (i, v)))
    }

    /// Set a global variable's initial bytes before load (the skeleton's
    /// `skel->rodata->x = v`). `bytes` must be exactly the variable's size.
    pub fn set_var(&mut self, name: &str, bytes: &[u8]) -> Result<(), LoadError> {
        let bad = |s: String| err(&self.name, LoadErrorKind::BadVariable(s));
        let (sec, var) = self
            .find_var(name)
            .ok_or_else(|| bad(format!("no global variable {name}")))?;
        if var.size != bytes.len() as u64 {
            return Err(bad(format!(
                "{name} is {} bytes, got {}",
                var.size,
                bytes.len()
            )));
        }
        let off = var.offset as usize;
        self.data[sec].bytes[off..off + bytes.len()].copy_from_slice(bytes);
        Ok(())
    }

    /// Set an integer variable (1, 2, 4 or 8 bytes) from a u64.
    pub fn set_var_u64(&mut self, name: &str, value: u64) -> Result<(), LoadError> {
        let size = self.find_var(name).map(|(_, v)| v.size).unwrap_or(0);
        if !matches!(size, 1 | 2 | 4 | 8) {
            return Err(err(
                &self.name,
                LoadErrorKind::BadVariable(format!("{name} is not an integer variable")),
            ));
        }
        self.set_var(name, &value.to_le_bytes()[..size as usize])
    }

    /// Read a global variable's current initial bytes.
    pub fn var_bytes(&self, name: &str) -> Option<&[u8]> {
        let (sec, v) = self.find_var(name)?;
        self.data[sec]
            .bytes
            .get(v.offset as usize..(v.offset + v.size) as usize)
    }

    /// Grow (or shrink) the array that is the last variable of a data
    /// section to `nelems` elements, like libbpf's `RESIZE_ARRAY`.
    pub fn resize_array(&mut self, var: &str, nelems: u64) -> Result<(), LoadError> {
        let bad = |s: String| err(&self.name, LoadErrorKind::BadVariable(s));
        let (sec, v) = self
            .find_var(var)
            .ok_or_else(|| bad(format!("no global variable {var}")))?;
        let last = self.data[sec].vars.iter().map(|x| x.offset).max();
        if last != Some(v.offset) {
            return Err(bad(format!(
                "{var} is not the last variable of {}",
                self.data[sec].name
            )));
        }
        let ty = v
            .btf_type
            .ok_or_else(|| bad(format!("{var} has no BTF type")))?;
        let (elem, _) = self
            .btf
            .array_info(ty)
            .ok_or_else(|| bad(format!("{var} is not an array")))?;
        let esz = self
            .btf
            .size_of(elem)
            .filter(|&s| s > 0)
            .ok_or_else(|| bad(format!("{var}: bad element")))?;
        let off = v.offset;
        let size = esz
            .checked_mul(nelems)
            .filter(|&s| off.saturating_add(s) <= crate::maps::MAX_MAP_BYTES)
            .ok_or_else(|| bad("too large".into()))?;
        let d = &mut self.data[sec];
        d.bytes.resize((off + size) as usize, 0);
        if let Some(v) = d.vars.iter_mut().find(|x| x.name == var) {
            v.size = size;
        }
        Ok(())
    }
}

impl<'a> Parser<'a> {
    fn fail(&self, kind: LoadErrorKind) -> LoadError {
        err(&self.name, kind)
    }

    fn read_symbols(&mut self) {
        for s in self.elf.symbols() {
            let section = match s.section() {
                SymbolSection::Section(i) => Some(i.0),
                _ => None,
            };
            self.syms.insert(
                s.index().0,
                Sym {
                    name: s.name().unwrap_or("").to_string(),
                    section,
                    value: s.address(),
                    size: s.size(),
                    is_func: s.kind() == object::SymbolKind::Text,
                    is_section: s.kind() == object::SymbolKind::Section,
                    weak: s.is_weak(),
                },
            );
        }
    }
}

impl<'a> Parser<'a> {
    fn section_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, LoadError> {
        match self.elf.section_by_name(name) {
            Some(s) => s
                .data()
                .map(|d| Some(d.to_vec()))
                .map_err(|e| self.fail(LoadErrorKind::BadElf(format!("{name}: {e}")))),
            None => Ok(None),
        }
    }

    fn read_btf(&mut self) -> Result<(), LoadError> {
        let Some(raw) = self.section_bytes(".BTF")? else {
            return Err(self.fail(LoadErrorKind::BadBtf("object has no .BTF section".into())));
        };
        self.btf = Btf::parse(&raw).map_err(|e| self.fail(LoadErrorKind::BadBtf(e)))?;
        self.btf_strs = btf_string_section(&raw);
        if let Some(ext) = self.section_bytes(".BTF.ext")? {
            self.obj.btf_ext = BtfExt::parse(&ext, &self.btf_strs)
                .map_err(|e| self.fail(LoadErrorKind::BadBtf(format!(".BTF.ext: {e}"))))?;
        }
        Ok(())
    }

    fn read_sections(&mut self) -> Result<(), LoadError> {
        struct Raw {
            index: usize,
            name: String,
            exec: bool,
            size: u64,
            data: Result<Vec<u8>, String>,
        }
        let raws: Vec<Raw> = self
            .elf
            .sections()
            .map(|s| Raw {
                index: s.index().0,
                name: s.name().unwrap_or("").to_string(),
                exec: matches!(s.flags(), object::SectionFlags::Elf { sh_flags } if sh_flags & u64::from(object::elf::SHF_EXECINSTR) != 0),
                size: s.size(),
                data: s.data().map(|d| d.to_vec()).map_err(|e| e.to_string()),
            })
            .collect();
        for r in raws {
            let kind = data_kind(&r.name);
            if !r.exec && kind == Some(DataKind::Bss) {
                if r.size > crate::maps::MAX_MAP_BYTES {
                    return Err(self.fail(LoadErrorKind::BadElf(format!("{} too large", r.name))));
                }
                self.add_data_section(r.index, &r.name, DataKind::Bss, vec![0; r.size as usize]);
                continue;
            }
            if !(r.exec || kind.is_some() || r.name == "license") {
                if r.name == ".maps" {
                    self.maps_sec = Some(r.index);
                }
                continue;
            }
            let data = r
                .data
                .map_err(|e| self.fail(LoadErrorKind::BadElf(format!("{}: {e}", r.name))))?;
            match kind {
                _ if r.exec => self.add_code_section(r.index, &r.name, &data)?,
                Some(k) => self.add_data_section(r.index, &r.name, k, data),
                None => {
                    self.obj.license = String::from_utf8_lossy(&data)
                        .trim_end_matches('\0')
                        .to_string()
                }
            }
        }
        Ok(())
    }

    fn add_code_section(
        &mut self,
        index: usize,
        name: &str,
        bytes: &[u8],
    ) -> Result<(), LoadError> {
        let insns = Insn::decode_all(bytes).ok_or_else(|| {
            self.fail(LoadErrorKind::BadInstruction(
                "section size not a multiple of 8".into(),
            ))
            .in_section(name)
        })?;
        let base = self.obj.code.len();
        for (i, ins) in insns.iter().enumerate() {
            if ins.dst > 10 || ins.src > 10 {
                return Err(self
                    .fail(LoadErrorKind::BadInstruction(format!(
                        "register out of range in opcode {:#04x}",
                        ins.op
                    )))
                    .in_section(name)
                    .at_insn(i));
            }
        }
        self.obj.code.extend(insns);
        self.code_of.insert(index, self.obj.code_sections.len());
        self.obj.code_sections.push(CodeSection {
            name: name.to_string(),
            base,
            len: self.obj.code.len() - base,
        });
        Ok(())
    }

    fn add_data_section(&mut self, index: usize, name: &str, kind: DataKind, bytes: Vec<u8>) {
        let btf_vars = self.datasec_var_types(name);
        let mut vars: Vec<Variable> = self
            .syms
            .values()
            .filter(|y| {
                y.section == Some(index) && !y.is_section && !y.is_func && !y.name.is_empty()
            })
            // A symbol must lie inside its section to be a variable.
            .filter(|y| {
                y.value
                    .checked_add(y.size)
                    .is_some_and(|end| end <= bytes.len() as u64)
            })
            .map(|y| Variable {
                name: y.name.clone(),
                offset: y.value,
                size: y.size,
                btf_type: btf_vars.get(&y.name).copied(),
            })
            .collect();
        vars.sort_by(|a, b| (a.offset, &a.name).cmp(&(b.offset, &b.name)));
        self.data_of.insert(index, self.obj.data.len());
        self.obj.data.push(DataSection {
            name: name.to_string(),
            kind,
            bytes,
            vars,
        });
    }

    /// Variable name -> BTF type for a DATASEC.
    fn datasec_var_types(&self, sec: &str) -> BTreeMap<String, u32> {
        let mut out = BTreeMap::new();
        for t in &self.btf.types {
            if let (true, Kind::Datasec { vars, .. }) = (t.name == sec, &t.kind) {
                for v in vars {
                    if let Some(vt) = self.btf.get(v.ty) {
                        if let Kind::Var { ty, .. } = vt.kind {
                            out.insert(vt.name.clone(), ty);
                        }
                    }
                }
            }
        }
        out
    }

    fn read_programs(&mut self) {
        for y in self.syms.values() {
            let Some(sec) = y.section.and_then(|s| self.code_of.get(&s)) else {
                continue;
            };
            if !y.is_func {
                continue;
            }
            let cs = &self.obj.code_sections[*sec];
            if y.value / 8 >= cs.len as u64 {
                continue;
            }
            let entry = cs.base + (y.value / 8) as usize;
            if cs.name == ".text" {
                self.obj.subprograms.push((y.name.clone(), entry));
            } else {
                self.obj.programs.push(Program {
                    name: y.name.clone(),
                    section: cs.name.clone(),
                    entry,
                    sleepable: cs.name.starts_with("struct_ops.s/"),
                });
            }
        }
        self.obj.programs.sort_by_key(|p| p.entry);
        self.obj.subprograms.sort_by_key(|p| p.1);
    }
}

/// Extract the string section of a raw `.BTF` blob (already validated).
fn btf_string_section(raw: &[u8]) -> Vec<u8> {
    let rd = |o| crate::btf::rd_u32(raw, o).unwrap_or(0) as usize;
    let start = rd(4) + rd(16);
    raw.get(start..start + rd(20))
        .map(|s| s.to_vec())
        .unwrap_or_default()
}

/// Map-definition parsing (BTF-described `.maps`).
impl Parser<'_> {
    fn map_def_from_btf(&self, name: &str, ty: u32, depth: usize) -> Result<MapDef, LoadError> {
        let bad = |s: String| self.fail(LoadErrorKind::BadMap(format!("{name}: {s}")));
        if depth > 1 {
            return Err(bad("maps nest at most one level".into()));
        }
        let mut def = MapDef {
            name: name.to_string(),
            map_type: 0,
            key_size: 0,
            value_size: 0,
            max_entries: 0,
            map_flags: 0,
            key_type: None,
            value_type: None,
            inner: None,
            init_values: Vec::new(),
        };
        let st = self.btf.skip_mods_and_typedefs(ty);
        if !matches!(self.btf.get(st).map(|t| &t.kind), Some(Kind::Struct { .. })) {
            return Err(bad("definition is not a struct".into()));
        }
        for m in self.btf.members(st).to_vec() {
            let uint = || {
                self.btf
                    .ptr_array_len(m.ty)
                    .ok_or_else(|| bad(format!("{} is not __uint", m.name)))
            };
            let pointee = || {
                self.btf
                    .pointee(m.ty)
                    .ok_or_else(|| bad(format!("{} is not __type", m.name)))
            };
            match m.name.as_str() {
                "type" => def.map_type = uint()?,
                "max_entries" => def.max_entries = uint()?,
                "map_flags" => def.map_flags = uint()?,
                "key_size" => def.key_size = uint()?,
                "value_size" => def.value_size = uint()?,
                "key" => {
                    let t = pointee()?;
                    def.key_type = Some(t);
                    def.key_size = self
                        .btf
                        .size_of(t)
                        .ok_or_else(|| bad("key has no size".into()))?
                        as u32;
                }
                "value" => {
                    let t = pointee()?;
                    def.value_type = Some(t);
                    def.value_size = self
                        .btf
                        .size_of(t)
                        .ok_or_else(|| bad("value has no size".into()))?
                        as u32;
                }
                "values" => {
                    let (elem, _) = self
                        .btf
                        .array_info(m.ty)
                        .ok_or_else(|| bad("values is not an array".into()))?;
                    let inner_ty = self
                        .btf
                        .pointee(elem)
                        .ok_or_else(|| bad("values element is not a pointer".into()))?;
                    def.inner = Some(Box::new(self.map_def_from_btf(
                        &format!("{name}.inner"),
                        inner_ty,
                        depth + 1,
                    )?));
                    if def.value_size == 0 {
                        def.value_size = 4;
                    }
                }
                _ => {}
            }
        }
        Ok(def)
    }

    fn read_maps(&mut self) -> Result<(), LoadError> {
        let Some(sec) = self.maps_sec else {
            return Ok(());
        };
        let types = self.datasec_var_types(".maps");
        let mut syms: Vec<Sym> = self
            .syms
            .values()
            .filter(|y| y.section == Some(sec) && !y.is_section)
            .cloned()
            .collect();
        syms.sort_by_key(|y| y.value);
        let mut offsets = Vec::new();
        for y in &syms {
            let ty = *types.get(&y.name).ok_or_else(|| {
                self.fail(LoadErrorKind::BadMap(format!(
                    "{}: no BTF definition",
                    y.name
                )))
            })?;
            let def = self.map_def_from_btf(&y.name, ty, 0)?;
            offsets.push((
                y.value,
                self.btf.member_offset(ty, "values").map(|(o, _)| o as u64),
            ));
            self.obj.maps.push(def);
        }
        self.read_map_init_values(sec, &offsets)
    }

    /// `.rel.maps` entries fill `values` slots of map-in-map definitions.
    fn read_map_init_values(
        &mut self,
        sec: usize,
        offsets: &[(u64, Option<u64>)],
    ) -> Result<(), LoadError> {
        let section = self
            .elf
            .section_by_index(SectionIndex(sec))
            .map_err(|e| self.fail(LoadErrorKind::BadElf(e.to_string())))?;
        for (off, rel) in section.relocations() {
            let target = self.reloc_symbol(&rel, ".maps", 0)?;
            let owner = offsets.iter().rposition(|(start, _)| *start <= off);
            let Some(i) = owner else { continue };
            let Some(values_off) = offsets[i].1 else {
                return Err(self.fail(LoadErrorKind::BadRelocation(format!(
                    "unexpected relocation in map {}",
                    self.obj.maps[i].name
                ))));
            };
            let slot = off
                .checked_sub(offsets[i].0.saturating_add(values_off))
                .ok_or_else(|| {
                    self.fail(LoadErrorKind::BadRelocation(
                        "relocation before map values".into(),
                    ))
                })?
                / 8;
            self.obj.maps[i]
                .init_values
                .push((slot as u32, target.name.clone()));
        }
        Ok(())
    }

    fn reloc_symbol(
        &self,
        rel: &object::Relocation,
        sec: &str,
        insn: usize,
    ) -> Result<Sym, LoadError> {
        match rel.target() {
            RelocationTarget::Symbol(i) => self.syms.get(&i.0).cloned().ok_or_else(|| {
                self.fail(LoadErrorKind::BadRelocation(format!(
                    "symbol index {} out of range",
                    i.0
                )))
                .in_section(sec)
                .at_insn(insn)
            }),
            _ => Err(self
                .fail(LoadErrorKind::BadRelocation(
                    "relocation without symbol".into(),
                ))
                .in_section(sec)
                .at_insn(insn)),
        }
    }
}

/// Code relocations.
impl Parser<'_> {
    fn read_code_relocs(&mut self) -> Result<(), LoadError> {
        let code_secs: Vec<(usize, usize)> = self.code_of.iter().map(|(k, v)| (*k, *v)).collect();
        for (sidx, cpos) in code_secs {
            let cs = self.obj.code_sections[cpos].clone();
            let section = self
                .elf
                .section_by_index(SectionIndex(sidx))
                .map_err(|e| self.fail(LoadErrorKind::BadElf(e.to_string())))?;
            let rels: Vec<(u64, object::Relocation)> = section.relocations().collect();
            for (off, rel) in rels {
                let idx = (off / 8) as usize;
                let located = |k: LoadErrorKind| self.fail(k).in_section(&cs.name).at_insn(idx);
                if off % 8 != 0 || idx >= cs.len {
                    return Err(located(LoadErrorKind::BadRelocation(format!(
                        "offset {off} outside code"
                    ))));
                }
                let sym = self.reloc_symbol(&rel, &cs.name, idx)?;
                let r_type = match rel.flags() {
                    RelocationFlags::Elf { r_type } => r_type,
                    _ => 0,
                };
                let target = self.code_target(&cs, idx, r_type, &sym).map_err(located)?;
                self.obj.relocs.push(CodeReloc {
                    insn: cs.base + idx,
                    target,
                });
            }
        }
        Ok(())
    }

    fn code_target(
        &self,
        cs: &CodeSection,
        idx: usize,
        r_type: u32,
        sym: &Sym,
    ) -> Result<RelocTarget, LoadErrorKind> {
        let ins = self.obj.code[cs.base + idx];
        let bad = |s: String| LoadErrorKind::BadRelocation(s);
        match (r_type, ins.op) {
            (R_BPF_64_32, insn::CALL) => self.call_target(cs, idx, ins, sym),
            (R_BPF_64_64, insn::LD_IMM64) => {
                if cs.base + idx + 1 >= cs.base + cs.len {
                    return Err(LoadErrorKind::BadInstruction("truncated ld_imm64".into()));
                }
                self.ldimm_target(ins, sym)
            }
            _ => Err(bad(format!(
                "relocation type {r_type} against {} on opcode {:#04x}",
                sym.name, ins.op
            ))),
        }
    }

    fn call_target(
        &self,
        _cs: &CodeSection,
        _idx: usize,
        ins: Insn,
        sym: &Sym,
    ) -> Result<RelocTarget, LoadErrorKind> {
        let Some(sec) = sym.section else {
            return Ok(RelocTarget::Kfunc {
                name: sym.name.clone(),
                weak: sym.weak,
            });
        };
        let tcs = self
            .code_of
            .get(&sec)
            .map(|c| &self.obj.code_sections[*c])
            .ok_or_else(|| {
                LoadErrorKind::BadRelocation(format!("call to non-code symbol {}", sym.name))
            })?;
        let sym_off = if sym.is_section { 0 } else { sym.value };
        let t = (sym_off / 8) as i64 + ins.imm as i64 + 1;
        if t < 0 || t as usize >= tcs.len {
            return Err(LoadErrorKind::BadRelocation(format!(
                "call target {t} outside {}",
                tcs.name
            )));
        }
        Ok(RelocTarget::Call(tcs.base + t as usize))
    }

    fn ldimm_target(&self, ins: Insn, sym: &Sym) -> Result<RelocTarget, LoadErrorKind> {
        let Some(sec) = sym.section else {
            return Ok(RelocTarget::Ksym {
                name: sym.name.clone(),
                weak: sym.weak,
            });
        };
        if Some(sec) == self.maps_sec {
            let i = self
                .obj
                .maps
                .iter()
                .position(|m| m.name == sym.name)
                .ok_or_else(|| LoadErrorKind::BadRelocation(format!("unknown map {}", sym.name)))?;
            return Ok(RelocTarget::Map(i));
        }
        let addend = ins.imm as u32 as u64;
        if let Some(&d) = self.data_of.get(&sec) {
            let offset = sym.value.saturating_add(addend);
            if offset > self.obj.data[d].bytes.len() as u64 {
                return Err(LoadErrorKind::BadRelocation(format!(
                    "offset {offset} past {}",
                    self.obj.data[d].name
                )));
            }
            return Ok(RelocTarget::Data { section: d, offset });
        }
        if let Some(&c) = self.code_of.get(&sec) {
            let tcs = &self.obj.code_sections[c];
            let t = (sym.value.saturating_add(addend) / 8) as usize;
            if t >= tcs.len {
                return Err(LoadErrorKind::BadRelocation(format!(
                    "function address outside {}",
                    tcs.name
                )));
            }
            return Ok(RelocTarget::FuncAddr(tcs.base + t));
        }
        Err(LoadErrorKind::BadRelocation(format!(
            "ld_imm64 against unsupported symbol {}",
            sym.name
        )))
    }

    fn read_core_sites(&mut self) -> Result<(), LoadError> {
        for (sec, relos) in &self.obj.btf_ext.core_relos {
            let cs = self
                .obj
                .code_sections
                .iter()
                .find(|c| &c.name == sec)
                .ok_or_else(|| {
                    self.fail(LoadErrorKind::BadCoRe(format!(
                        "records for unknown section {sec}"
                    )))
                })?;
            for r in relos {
                if r.insn >= cs.len {
                    return Err(self
                        .fail(LoadErrorKind::BadCoRe("instruction out of range".into()))
                        .in_section(sec)
                        .at_insn(r.insn));
                }
                self.obj.core_sites.push(CoreSite {
                    insn: cs.base + r.insn,
                    relo: r.clone(),
                });
            }
        }
        Ok(())
    }
}

/// The `.struct_ops.link` table.
impl Parser<'_> {
    fn read_struct_ops(&mut self) -> Result<(), LoadError> {
        for secname in [".struct_ops.link", ".struct_ops"] {
            let Some(section) = self.elf.section_by_name(secname) else {
                continue;
            };
            let data = section
                .data()
                .map_err(|e| self.fail(LoadErrorKind::BadElf(e.to_string())))?
                .to_vec();
            let types = self.datasec_var_types(secname);
            let mut vars: Vec<Sym> = self
                .syms
                .values()
                .filter(|y| {
                    y.section == Some(section.index().0) && !y.is_section && !y.name.is_empty()
                })
                .cloned()
                .collect();
            vars.sort_by_key(|y| y.value);
            let rels: Vec<(u64, Sym)> = section
                .relocations()
                .map(|(off, rel)| Ok((off, self.reloc_symbol(&rel, secname, 0)?)))
                .collect::<Result<_, LoadError>>()?;
            for v in &vars {
                let ty = *types.get(&v.name).ok_or_else(|| {
                    self.fail(LoadErrorKind::BadStructOps(format!(
                        "{}: no BTF type",
                        v.name
                    )))
                    .in_section(secname)
                })?;
                let ops = self
                    .one_struct_ops(v, ty, &data, &rels)
                    .map_err(|e| e.in_section(secname))?;
                self.obj.struct_ops.push(ops);
            }
        }
        Ok(())
    }

    fn one_struct_ops(
        &self,
        v: &Sym,
        ty: u32,
        data: &[u8],
        rels: &[(u64, Sym)],
    ) -> Result<StructOps, LoadError> {
        let bad = |s: String| self.fail(LoadErrorKind::BadStructOps(s));
        let size = self
            .btf
            .size_of(ty)
            .ok_or_else(|| bad("table type has no size".into()))?;
        let base = v.value;
        let bytes = data
            .get(base as usize..base.saturating_add(size) as usize)
            .ok_or_else(|| bad(format!("{} outside section", v.name)))?;
        let num = |field: &str| -> u64 {
            let Some((off, t)) = self.btf.member_offset(ty, field) else {
                return 0;
            };
            let sz = self.btf.size_of(t).unwrap_or(0) as usize;
            let mut buf = [0u8; 8];
            if let Some(s) = bytes.get(off as usize..off as usize + sz.min(8)) {
                buf[..s.len()].copy_from_slice(s);
            }
            u64::from_le_bytes(buf)
        };
        let name = self
            .btf
            .member_offset(ty, "name")
            .and_then(|(off, t)| {
                bytes.get(
                    off as usize
                        ..(off as usize).saturating_add(self.btf.size_of(t).unwrap_or(0) as usize),
                )
            })
            .map(|s| {
                String::from_utf8_lossy(&s[..s.iter().position(|&c| c == 0).unwrap_or(s.len())])
                    .into_owned()
            })
            .unwrap_or_default();
        let mut callbacks = BTreeMap::new();
        for (off, sym) in rels
            .iter()
            .filter(|(o, _)| *o >= base && *o < base.saturating_add(size))
        {
            let member = self
                .btf
                .members(ty)
                .iter()
                .find(|m| (m.bit_offset / 8) as u64 == off - base)
                .ok_or_else(|| {
                    bad(format!(
                        "relocation at offset {} matches no member",
                        off - base
                    ))
                })?;
            if !sym.is_func {
                return Err(bad(format!(
                    "{} points to non-function {}",
                    member.name, sym.name
                )));
            }
            callbacks.insert(member.name.clone(), sym.name.clone());
        }
        Ok(StructOps {
            var: v.name.clone(),
            name,
            flags: num("flags"),
            timeout_ms: num("timeout_ms") as u32,
            exit_dump_len: num("exit_dump_len") as u32,
            dispatch_max_batch: num("dispatch_max_batch") as u32,
            hotplug_seq: num("hotplug_seq"),
            callbacks,
        })
    }
}
