//! Building the C test schedulers of scx-bpf (`crates/scx-bpf/tests/bpf`)
//! with clang-19, once per test process and only when a source is newer
//! than the objects. Shared by scx-bpf-sched's tests and scxsim's
//! `bpf_cli` test (included there with `#[path]`).
//!
//! Without clang-19 the tests print `SKIP` and pass — except under CI
//! (environment variable `CI` set), where a missing compiler is a failure.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::SystemTime;

/// Objects `build.sh` produces.
pub const OBJECTS: &[&str] = &[
    "scx_sim_vtime.bpf.o",
    "scx_sim_vtime.alt.bpf.o",
    "scx_sim_queues.bpf.o",
    "scx_sim_central.bpf.o",
    "scx_sim_features.bpf.o",
];

/// The directory of the C sources and `build.sh`.
pub fn source_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scx-bpf/tests/bpf")
}

/// Newest modification time under `dir`.
fn newest(dir: &Path) -> SystemTime {
    let mut t = SystemTime::UNIX_EPOCH;
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        let m = if p.is_dir() {
            newest(&p)
        } else {
            e.metadata().and_then(|m| m.modified()).unwrap_or(t)
        };
        t = t.max(m);
    }
    t
}

fn fresh(out: &Path, src: &Path) -> bool {
    let src_time = newest(src);
    OBJECTS.iter().all(|o| {
        std::fs::metadata(out.join(o))
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= src_time)
    })
}

/// The built objects' directory, or `None` (after printing `SKIP`) when
/// clang-19 is missing outside CI.
pub fn objects_dir() -> Option<PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scx-bpf-sched-objs");
        let src = source_dir();
        if fresh(&out, &src) {
            return Some(out);
        }
        let r = std::process::Command::new("bash")
            .arg(src.join("build.sh"))
            .arg(&out)
            .output()
            .expect("run build.sh");
        match r.status.code() {
            Some(0) => Some(out),
            Some(2) if std::env::var_os("CI").is_none() => {
                eprintln!("SKIP: clang-19 not found (apt-get install -y clang-19)");
                None
            }
            _ => panic!(
                "build.sh failed (under CI a missing clang-19 is an error):\n{}",
                String::from_utf8_lossy(&r.stderr)
            ),
        }
    })
    .clone()
}

/// Path of built object `name`.
pub fn object(name: &str) -> Option<String> {
    objects_dir().map(|d| d.join(name).to_string_lossy().into_owned())
}
