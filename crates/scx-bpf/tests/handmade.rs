//! Objects assembled by hand (with `object`'s ELF writer and raw BTF
//! bytes), so loader behaviour is tested without clang.

use object::write::{Object, Relocation, StandardSection, Symbol, SymbolSection};
use object::{
    Architecture, BinaryFormat, Endianness, RelocationFlags, SectionKind, SymbolFlags, SymbolKind,
    SymbolScope,
};
use scx_bpf::insn::Insn;
use scx_bpf::{BpfObject, LoadEnv, LoadErrorKind, NullHost, Vm};

/// An empty but valid `.BTF` (header plus a one-byte string table).
fn empty_btf() -> Vec<u8> {
    let mut v = vec![0x9f, 0xeb, 1, 0];
    for x in [24u32, 0, 0, 0, 1] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.push(0);
    v
}

fn code(insns: &[Insn]) -> Vec<u8> {
    insns.iter().flat_map(|i| i.encode()).collect()
}

fn ins(op: u8, dst: u8, src: u8, off: i16, imm: i32) -> Insn {
    Insn {
        op,
        dst,
        src,
        off,
        imm,
    }
}

/// One program `prog` in `struct_ops/prog`, plus a `.text` subprogram
/// `triple` and an optional call to the undefined symbol `kfunc`.
fn build(kfunc: Option<&str>) -> Vec<u8> {
    let mut o = Object::new(BinaryFormat::Elf, Architecture::Bpf, Endianness::Little);
    let text = o.section_id(StandardSection::Text);
    let sub = code(&[
        ins(0xbf, 0, 1, 0, 0),
        ins(0x27, 0, 0, 0, 3),
        ins(0x95, 0, 0, 0, 0),
    ]);
    o.append_section_data(text, &sub, 8);
    let sub_sym = o.add_symbol(Symbol {
        name: b"triple".to_vec(),
        value: 0,
        size: sub.len() as u64,
        kind: SymbolKind::Text,
        scope: SymbolScope::Compilation,
        weak: false,
        section: SymbolSection::Section(text),
        flags: SymbolFlags::None,
    });
    let sec = o.add_section(Vec::new(), b"struct_ops/prog".to_vec(), SectionKind::Text);
    let mut main = vec![ins(0xb7, 1, 0, 0, 14), ins(0x85, 0, 1, 0, -1)];
    if kfunc.is_some() {
        main.push(ins(0x85, 0, 1, 0, -1));
    }
    main.push(ins(0x95, 0, 0, 0, 0));
    let body = code(&main);
    o.append_section_data(sec, &body, 8);
    o.add_symbol(Symbol {
        name: b"prog".to_vec(),
        value: 0,
        size: body.len() as u64,
        kind: SymbolKind::Text,
        scope: SymbolScope::Linkage,
        weak: false,
        section: SymbolSection::Section(sec),
        flags: SymbolFlags::None,
    });
    let call = |symbol, offset| Relocation {
        offset,
        symbol,
        addend: 0,
        flags: RelocationFlags::Elf { r_type: 10 },
    };
    o.add_relocation(sec, call(sub_sym, 8)).unwrap();
    if let Some(name) = kfunc {
        let k = o.add_symbol(Symbol {
            name: name.as_bytes().to_vec(),
            value: 0,
            size: 0,
            kind: SymbolKind::Text,
            scope: SymbolScope::Linkage,
            weak: false,
            section: SymbolSection::Undefined,
            flags: SymbolFlags::None,
        });
        o.add_relocation(sec, call(k, 16)).unwrap();
    }
    let btf = o.add_section(Vec::new(), b".BTF".to_vec(), SectionKind::Other);
    o.append_section_data(btf, &empty_btf(), 4);
    o.write().unwrap()
}

#[test]
fn handmade_object_parses_loads_and_runs() {
    let obj = BpfObject::parse("hand.o", &build(None)).unwrap();
    assert_eq!(obj.programs.len(), 1);
    assert_eq!(obj.programs[0].section, "struct_ops/prog");
    assert_eq!(obj.subprograms, [("triple".to_string(), 0)]);
    let mut vm = Vm::load(obj, &LoadEnv::default()).unwrap();
    assert_eq!(vm.run_raw(&mut NullHost, "prog", [0; 5]).unwrap(), 42);
}

#[test]
fn handmade_unknown_kfunc_is_reported_precisely() {
    let obj = BpfObject::parse("sched.bpf.o", &build(Some("scx_bpf_foo"))).unwrap();
    let e = Vm::load(obj, &LoadEnv::default()).unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::UnknownKfunc("scx_bpf_foo".into()));
    assert_eq!(
        e.to_string(),
        "sched.bpf.o: section struct_ops/prog: insn 2: unknown kfunc scx_bpf_foo"
    );
}

#[test]
fn handmade_known_kfunc_resolves() {
    let obj = BpfObject::parse("k.o", &build(Some("bpf_rcu_read_lock"))).unwrap();
    assert!(Vm::load(obj, &LoadEnv::default()).is_ok());
}
