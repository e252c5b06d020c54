//! The generated kernel-layout headers under tests/bpf/include must match
//! the kernel type table. Regenerate with `SCX_BPF_BLESS=1 cargo test -p
//! scx-bpf --test header`.

use scx_bpf::vmlinux::{c_header, HeaderLayout, KernelTypes};
use std::path::Path;

fn check(rel: &str, layout: HeaderLayout) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    let want = c_header(&KernelTypes::new(), layout);
    if std::env::var_os("SCX_BPF_BLESS").is_some() {
        std::fs::write(&path, &want).unwrap();
        return;
    }
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(have == want, "{rel} is stale: rerun with SCX_BPF_BLESS=1");
}

#[test]
fn sim_layout_header_is_current() {
    check("tests/bpf/include/scx_sim_vmlinux.h", HeaderLayout::Sim);
}

#[test]
fn shuffled_layout_header_is_current() {
    check(
        "tests/bpf/include/alt/scx_sim_vmlinux.h",
        HeaderLayout::Shuffled,
    );
}
