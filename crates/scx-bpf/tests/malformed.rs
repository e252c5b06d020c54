//! Malformed objects give their documented typed errors, and no input —
//! random, truncated or mutated — makes the loader or the VM panic.

mod common;

use proptest::prelude::*;
use scx_bpf::host::HostKfunc;
use scx_bpf::obj::RelocTarget;
use scx_bpf::{BpfObject, KfuncSet, LoadEnv, LoadErrorKind, NullHost, Vm};

const VTIME: &str = "scx_sim_vtime.bpf.o";

fn vtime_bytes() -> Option<Vec<u8>> {
    common::object_bytes(VTIME)
}

/// File offset, size and name position of a section, read with the ELF64
/// header layout.
fn section(bytes: &[u8], name: &str) -> Option<(usize, usize, usize)> {
    let u16_at = |o: usize| u16::from_le_bytes(bytes[o..o + 2].try_into().unwrap()) as usize;
    let u64_at = |o: usize| u64::from_le_bytes(bytes[o..o + 8].try_into().unwrap()) as usize;
    let u32_at = |o: usize| u32::from_le_bytes(bytes[o..o + 4].try_into().unwrap()) as usize;
    let (shoff, shentsize, shnum, shstrndx) =
        (u64_at(0x28), u16_at(0x3a), u16_at(0x3c), u16_at(0x3e));
    let hdr = |i: usize| shoff + i * shentsize;
    let strtab = u64_at(hdr(shstrndx) + 0x18);
    (0..shnum).find_map(|i| {
        let n = strtab + u32_at(hdr(i));
        let end = bytes[n..].iter().position(|&c| c == 0)?;
        (&bytes[n..n + end] == name.as_bytes())
            .then(|| (u64_at(hdr(i) + 0x18), u64_at(hdr(i) + 0x20), n))
    })
}

#[test]
fn truncated_elf_is_bad_elf() {
    let Some(b) = vtime_bytes() else { return };
    for cut in [0, 10, 63, 64, b.len() / 2, b.len() - 1] {
        let e = BpfObject::parse(VTIME, &b[..cut]).unwrap_err();
        assert!(
            matches!(e.kind, LoadErrorKind::BadElf(_) | LoadErrorKind::BadBtf(_)),
            "cut {cut}: {e}"
        );
    }
}

#[test]
fn wrong_machine_is_reported() {
    let Some(mut b) = vtime_bytes() else { return };
    b[18] = 62;
    b[19] = 0;
    let e = BpfObject::parse(VTIME, &b).unwrap_err();
    assert_eq!(e.kind, LoadErrorKind::WrongMachine(62));
    assert_eq!(
        e.to_string(),
        "scx_sim_vtime.bpf.o: not an eBPF object (e_machine 62)"
    );
}

#[test]
fn bad_relocations_name_section_and_insn() {
    let Some(b) = vtime_bytes() else { return };
    let (off, _, _) = section(&b, ".relstruct_ops/vt_enqueue").expect("relocation section");
    // Unknown relocation type on the first entry.
    let mut bad_type = b.clone();
    bad_type[off + 8] = 99;
    let e = BpfObject::parse(VTIME, &bad_type).unwrap_err();
    assert!(matches!(e.kind, LoadErrorKind::BadRelocation(_)), "{e}");
    assert_eq!(e.section.as_deref(), Some("struct_ops/vt_enqueue"));
    assert!(e.insn.is_some());
    // Offset past the end of the section.
    let mut bad_off = b.clone();
    bad_off[off..off + 8].copy_from_slice(&0x10_0000u64.to_le_bytes());
    let e = BpfObject::parse(VTIME, &bad_off).unwrap_err();
    assert!(matches!(e.kind, LoadErrorKind::BadRelocation(_)), "{e}");
    assert!(
        e.to_string()
            .starts_with("scx_sim_vtime.bpf.o: section struct_ops/vt_enqueue: insn "),
        "{e}"
    );
    // Symbol index out of range.
    let mut bad_sym = b.clone();
    bad_sym[off + 12..off + 16].copy_from_slice(&0xffffu32.to_le_bytes());
    assert!(BpfObject::parse(VTIME, &bad_sym).is_err());
}

#[test]
fn unknown_kfunc_is_a_load_error_with_location() {
    let Some(obj) = common::parse(VTIME) else {
        return;
    };
    let reloc = obj
        .relocs
        .iter()
        .find(|r| matches!(&r.target, RelocTarget::Kfunc { name, .. } if name == "scx_bpf_consume"))
        .unwrap();
    let sec = obj
        .code_sections
        .iter()
        .find(|s| reloc.insn >= s.base && reloc.insn < s.base + s.len)
        .unwrap();
    let env = LoadEnv {
        kfuncs: KfuncSet::all_except(&[HostKfunc::Consume]),
        ..common::env()
    };
    let e = Vm::load(obj.clone(), &env).unwrap_err();
    assert_eq!(
        e.kind,
        LoadErrorKind::UnknownKfunc("scx_bpf_consume".into())
    );
    assert_eq!(
        e.to_string(),
        format!(
            "scx_sim_vtime.bpf.o: section {}: insn {}: unknown kfunc scx_bpf_consume",
            sec.name,
            reloc.insn - sec.base
        )
    );
    assert_eq!(sec.name, "struct_ops/vt_dispatch");
}

#[test]
fn weak_kfunc_missing_from_host_loads_and_faults_only_if_called() {
    let Some(obj) = common::parse("scx_sim_queues.bpf.o") else {
        return;
    };
    let env = LoadEnv {
        kfuncs: KfuncSet::all_except(&[HostKfunc::DumpBstr]),
        ..common::env()
    };
    let mut vm = Vm::load(obj, &env).expect("weak kfuncs may be missing");
    let dctx = scx_bpf::Arg::DumpCtx {
        kind: 0,
        exit_code: 0,
        reason: String::new(),
        at_ns: 0,
        at_jiffies: 0,
    };
    let e = vm.call_op(&mut NullHost, "dump", &[dctx]).unwrap_err();
    assert!(e.to_string().contains("scx_bpf_dump_bstr"), "{e}");
}

#[test]
fn missing_or_corrupt_btf() {
    let Some(b) = vtime_bytes() else { return };
    let (off, _, name_at) = section(&b, ".BTF").unwrap();
    let mut bad_magic = b.clone();
    bad_magic[off] ^= 0xff;
    let e = BpfObject::parse(VTIME, &bad_magic).unwrap_err();
    assert!(matches!(e.kind, LoadErrorKind::BadBtf(_)), "{e}");
    let mut no_btf = b.clone();
    no_btf[name_at + 1] = b'X';
    let e = BpfObject::parse(VTIME, &no_btf).unwrap_err();
    assert_eq!(
        e.kind,
        LoadErrorKind::BadBtf("object has no .BTF section".into())
    );
}

/// Parse, load and briefly run everything; only errors, never panics.
fn exercise(bytes: &[u8]) {
    let Ok(obj) = BpfObject::parse("fuzz.o", bytes) else {
        return;
    };
    let names: Vec<String> = obj.programs.iter().map(|p| p.name.clone()).collect();
    let env = LoadEnv {
        insn_budget: 20_000,
        nr_cpu_ids: 2,
        ..LoadEnv::default()
    };
    let Ok(mut vm) = Vm::load(obj, &env) else {
        return;
    };
    for n in names {
        let _ = vm.call_program(
            &mut NullHost,
            &n,
            &[scx_bpf::Arg::Int(1), scx_bpf::Arg::Int(2)],
        );
    }
}

fn corpus() -> Vec<Vec<u8>> {
    [
        "scx_sim_vtime.bpf.o",
        "scx_sim_queues.bpf.o",
        "scx_sim_central.bpf.o",
        "scx_sim_features.bpf.o",
    ]
    .iter()
    .filter_map(|n| common::object_bytes(n))
    .collect()
}

/// Cases per property: 300 in the normal suite, more with
/// `SCX_BPF_FUZZ_CASES=N` for a longer soak.
fn cases() -> u32 {
    std::env::var("SCX_BPF_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn random_bytes_never_panic(mut bytes in prop::collection::vec(any::<u8>(), 0..4096), elfish in any::<bool>()) {
        if elfish && bytes.len() >= 64 {
            bytes[..8].copy_from_slice(b"\x7fELF\x02\x01\x01\x00");
            bytes[18] = 247;
            bytes[19] = 0;
        }
        exercise(&bytes);
    }

    #[test]
    fn mutated_objects_never_panic(which in 0usize..4, flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16), cut in any::<prop::sample::Index>(), truncate in any::<bool>()) {
        let corpus = corpus();
        if corpus.is_empty() {
            return Ok(());
        }
        let mut b = corpus[which % corpus.len()].clone();
        for (at, v) in flips {
            let i = at.index(b.len());
            b[i] ^= v;
        }
        if truncate {
            b.truncate(cut.index(b.len() + 1));
        }
        exercise(&b);
    }
}
