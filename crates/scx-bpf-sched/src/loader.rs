//! The user-space side of a BPF scheduler object: [`BpfTool`], a
//! [`Tool`] that does what a skeleton-based sched_ext loader does — open
//! the object, set its knobs (`--set NAME=VALUE`), load it, attach its
//! `sched_ext_ops`, print statistics every second from its maps and
//! global data, drain its ring buffers, and restart it when it exits with
//! `SCX_ECODE_ACT_RESTART` (as scx_simple, scx_central and scx_flatcg do).
//! The exit report (`UEI_REPORT()`) is printed by the runner from the
//! kernel's exit record, which holds what the object's UEI would.
//!
//! Everything that can fail is checked when the tool is opened: parsing,
//! knobs, and a trial load (relocations, kfuncs, CO-RE, maps), so a bad
//! object is a one-line error before any simulation starts.

use crate::knobs::{self, Knob};
use crate::sched::BpfScheduler;
use crate::stats::{self, StatsKind};
use crate::toolflags::{self, FlagsError};
use scx_bpf::{BpfObject, LoadEnv, LoadError, Vm};
use scx_kernel::ops::{downcast_mut, Scheduler};
use scx_kernel::Kernel;
use scx_machine::clock::{Ns, NSEC_PER_SEC};
use scx_scheds::flatcg::{FlatcgTool, Stats, FCG_NR_STATS};
use scx_scheds::tool::{uei_ecode_restart, Tool};
use std::cell::Cell;
use std::collections::BTreeSet;
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, OnceLock};

/// Why an object could not be opened. Every variant displays as one line
/// naming the object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// The file could not be read.
    Read {
        /// The path.
        path: String,
        /// The I/O error.
        error: String,
    },
    /// Parsing or loading failed (names section and instruction).
    Load(LoadError),
    /// A `--set` was malformed or named nothing settable.
    Knob(String),
    /// A loader flag was wrong (one line).
    Flags(String),
    /// `-h`: the loader's help, to print before exiting 0.
    Help(String),
}

impl fmt::Display for OpenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OpenError::Read { path, error } => write!(f, "{path}: cannot read: {error}"),
            OpenError::Load(e) => write!(f, "{e}"),
            OpenError::Knob(s) | OpenError::Flags(s) => write!(f, "{s}"),
            OpenError::Help(h) => write!(f, "{h}"),
        }
    }
}

impl std::error::Error for OpenError {}

impl From<LoadError> for OpenError {
    fn from(e: LoadError) -> Self {
        OpenError::Load(e)
    }
}

/// How to open an object.
#[derive(Clone, Debug)]
pub struct OpenOptions {
    /// `--set NAME=VALUE` knobs, in order.
    pub knobs: Vec<Knob>,
    /// The loader's own flags (`-l 100`), for the kernel's example
    /// objects (see [`toolflags`]); `-h` asks for the help.
    pub loader_args: Vec<String>,
    /// CPUs of the simulated machine (`nr_cpu_ids`).
    pub nr_cpus: u32,
    /// Seed of the program's `bpf_get_prandom_u32()`.
    pub seed: u64,
    /// Instruction budget per callback invocation.
    pub insn_budget: u64,
}

impl OpenOptions {
    /// No knobs, `nr_cpus` CPUs, seed 1, the VM's default budget.
    pub fn new(nr_cpus: u32) -> OpenOptions {
        OpenOptions {
            knobs: Vec::new(),
            loader_args: Vec::new(),
            nr_cpus,
            seed: 1,
            insn_budget: scx_bpf::vm::DEFAULT_BUDGET,
        }
    }
}

/// The loader of one BPF scheduler object.
#[derive(Clone)]
pub struct BpfTool {
    program: &'static str,
    obj: BpfObject,
    /// What a restart loads when loader flags were given: the real
    /// loaders parse their flags once, so a restart runs without them.
    restart_obj: Option<BpfObject>,
    /// The tool restarts on `SCX_ECODE_ACT_RESTART` (scx_qmap's loader
    /// has no restart loop).
    restarts: bool,
    /// The kernel's scx_flatcg object: its loader's preamble, report
    /// interval and counter block (the port's loader, fed from the
    /// object's `stats` map and `hweight_gen`).
    flatcg: Option<FlatcgTool>,
    /// Instances created so far.
    attaches: Cell<u32>,
    env: LoadEnv,
    stats: StatsKind,
    /// Stats intervals printed so far.
    seq: u64,
}

/// `basename(argv[0])` of the loader: the object's file name without
/// `.bpf.o`. Names are interned because [`Tool::program_name`] is
/// `'static`; each distinct name is stored once per process.
fn program_name(path: &str) -> &'static str {
    static NAMES: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let file = Path::new(path)
        .file_name()
        .map_or(path.to_string(), |f| f.to_string_lossy().into_owned());
    let stem = file
        .strip_suffix(".bpf.o")
        .or_else(|| file.strip_suffix(".o"))
        .unwrap_or(&file)
        .to_string();
    let mut names = NAMES
        .get_or_init(Default::default)
        .lock()
        .expect("not poisoned");
    match names.get(stem.as_str()) {
        Some(n) => n,
        None => {
            let n: &'static str = Box::leak(stem.into_boxed_str());
            names.insert(n);
            n
        }
    }
}

impl BpfTool {
    /// Reads and opens the object at `path`.
    pub fn open(path: &str, opts: &OpenOptions) -> Result<BpfTool, OpenError> {
        let bytes = std::fs::read(path).map_err(|e| OpenError::Read {
            path: path.to_string(),
            error: e.to_string(),
        })?;
        BpfTool::from_bytes(path, &bytes, opts)
    }

    /// Opens an object from its bytes; `name` is used in messages.
    pub fn from_bytes(name: &str, bytes: &[u8], opts: &OpenOptions) -> Result<BpfTool, OpenError> {
        let parsed = BpfObject::parse(name, bytes)?;
        let program = program_name(name);
        let known = toolflags::tool_name(&parsed);
        let args = &opts.loader_args;
        if known.is_none() && args.iter().any(|a| a == "-h") {
            return Err(OpenError::Help(help_text(&parsed, program)));
        }
        let flags = match toolflags::translate(&parsed, name, args) {
            Ok(f) => f,
            Err(FlagsError::Help(_)) => return Err(OpenError::Help(help_text(&parsed, program))),
            Err(FlagsError::Usage(u)) => return Err(OpenError::Flags(u)),
        };
        let configured = |flags: &toolflags::LoaderFlags| {
            let mut obj = parsed.clone();
            toolflags::apply_ops_fields(&mut obj, flags);
            let knobs: Vec<Knob> = flags.knobs.iter().chain(&opts.knobs).cloned().collect();
            knobs::configure(&mut obj, &knobs, opts.nr_cpus).map(|_| obj)
        };
        let obj = configured(&flags).map_err(OpenError::Knob)?;
        let restart_obj = if flags == toolflags::LoaderFlags::default() {
            None
        } else {
            Some(configured(&toolflags::LoaderFlags::default()).map_err(OpenError::Knob)?)
        };
        let env = LoadEnv {
            nr_cpu_ids: opts.nr_cpus,
            insn_budget: opts.insn_budget,
            seed: opts.seed,
            ..LoadEnv::default()
        };
        let mut sched = BpfScheduler::new(Vm::load(obj.clone(), &env)?)?;
        let stats = StatsKind::for_object(&sched.info().name, sched.vm_mut());
        let flatcg = match known.as_deref() {
            // Parsed (successfully) by `translate` already.
            Some("scx_flatcg") => FlatcgTool::parse(args).ok(),
            _ => None,
        };
        Ok(BpfTool {
            program,
            obj,
            restart_obj,
            restarts: known.as_deref() != Some("scx_qmap"),
            flatcg,
            attaches: Cell::new(0),
            env,
            stats,
            seq: 0,
        })
    }

    /// A fresh scheduler instance (what `SCX_OPS_LOAD()` produces).
    pub fn instance(&self) -> BpfScheduler {
        self.instance_of(&self.obj)
    }

    fn instance_of(&self, obj: &BpfObject) -> BpfScheduler {
        let vm = Vm::load(obj.clone(), &self.env).expect("loaded once when opened");
        BpfScheduler::new(vm).expect("checked when opened")
    }

    /// The configured object (knobs applied).
    pub fn object(&self) -> &BpfObject {
        &self.obj
    }

    /// The loader's help: the object, its ops table and its knobs.
    pub fn help(&self) -> String {
        help_text(&self.obj, self.program)
    }
}

/// `-h` for an object: what it is, its callbacks and its knobs with their
/// current values.
fn help_text(obj: &BpfObject, program: &str) -> String {
    let mut out = match (toolflags::tool_name(obj), toolflags::tool_help(obj)) {
        (Some(tool), Some(help)) => format!(
            "{help}\n{program} is the kernel's {tool}: it takes {tool}'s flags above, \
             and knobs with --set NAME=VALUE.\n\n"
        ),
        _ => format!("Usage: {program} [--set NAME=VALUE]...\n\n"),
    };
    if let Some(so) = obj.struct_ops.first() {
        let ops: Vec<&str> = so.callbacks.keys().map(String::as_str).collect();
        out += &format!(
            "sched_ext_ops \"{}\" ({}): {}\n",
            so.name,
            so.var,
            ops.join(", ")
        );
    }
    let names = knobs::knob_names(obj);
    if names.is_empty() {
        out += "\nNo const volatile knobs.\n";
        return out;
    }
    out += "\nKnobs (const volatile globals; current value):\n";
    for n in names {
        let value = obj
            .var_bytes(&n)
            .filter(|b| matches!(b.len(), 1 | 2 | 4 | 8))
            .map(|b| {
                let mut w = [0u8; 8];
                w[..b.len()].copy_from_slice(b);
                u64::from_le_bytes(w).to_string()
            })
            .unwrap_or_else(|| "(not an integer)".into());
        out += &format!("  --set {n}={value}\n");
    }
    out
}

impl BpfTool {
    /// scx_flatcg's block: the `stats` per-CPU array summed per counter
    /// and `hweight_gen`, as its loader reads them; then ring buffers.
    fn flatcg_stats(&mut self, k: &mut Kernel) -> Vec<String> {
        let read = k.with_scheduler(|s| {
            downcast_mut::<BpfScheduler>(s).map(|b| {
                let vm = b.vm_mut();
                let mut acc: Stats = [0; FCG_NR_STATS];
                let sums = stats::percpu_counters(vm, "stats", FCG_NR_STATS as u32);
                for (a, v) in acc.iter_mut().zip(sums.unwrap_or_default()) {
                    *a = v;
                }
                let gen = vm.global_u64("hweight_gen").unwrap_or(0);
                (acc, gen, stats::drain_ringbufs(vm))
            })
        });
        let f = self.flatcg.as_mut().expect("flatcg loader");
        let Some((acc, gen, rings)) = read else {
            f.skip_interval(k);
            return Vec::new();
        };
        let mut lines = f.stats_from(k, acc, gen);
        lines.extend(rings);
        lines
    }
}

impl Tool for BpfTool {
    fn program_name(&self) -> &'static str {
        self.program
    }

    fn preamble(&self) -> Option<String> {
        let f = self.flatcg.as_ref()?;
        let obj = match (&self.restart_obj, self.attaches.get() > 0) {
            (Some(o), true) => o,
            _ => &self.obj,
        };
        let slice = obj.var_bytes("cgrp_slice_ns").map_or(0, |b| {
            let mut w = [0u8; 8];
            w[..b.len().min(8)].copy_from_slice(&b[..b.len().min(8)]);
            u64::from_le_bytes(w)
        });
        Some(f.preamble_with_slice(slice))
    }

    fn interval(&self) -> Ns {
        self.flatcg.as_ref().map_or(NSEC_PER_SEC, |f| f.interval())
    }

    fn scheduler(&self, k: &Kernel, restart: bool) -> Box<dyn Scheduler> {
        self.attaches.set(self.attaches.get() + 1);
        let mut s = match (&self.restart_obj, restart) {
            (Some(obj), true) => self.instance_of(obj),
            _ => self.instance(),
        };
        s.set_hotplug_seq(k.scx.hotplug_seq);
        Box::new(s)
    }

    fn stats(&mut self, k: &mut Kernel) -> Vec<String> {
        if self.flatcg.is_some() {
            return self.flatcg_stats(k);
        }
        let (kind, seq) = (self.stats, self.seq);
        self.seq += 1;
        k.with_scheduler(|s| {
            downcast_mut::<BpfScheduler>(s).map(|b| {
                let mut lines = kind.lines(b.vm_mut(), seq);
                lines.extend(stats::drain_ringbufs(b.vm_mut()));
                lines
            })
        })
        .unwrap_or_default()
    }

    fn restarts_on(&self, exit_code: i64) -> bool {
        self.restarts && uei_ecode_restart(exit_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn program_names_drop_the_suffix_and_are_interned() {
        assert_eq!(program_name("a/b/scx_x.bpf.o"), "scx_x");
        assert_eq!(program_name("plain.o"), "plain");
        assert_eq!(program_name("noext"), "noext");
        assert!(std::ptr::eq(
            program_name("x/y.bpf.o"),
            program_name("z/y.bpf.o")
        ));
    }

    #[test]
    fn unreadable_files_name_the_path() {
        let e = BpfTool::open("/nonexistent/x.bpf.o", &OpenOptions::new(2))
            .err()
            .unwrap();
        assert!(e
            .to_string()
            .starts_with("/nonexistent/x.bpf.o: cannot read: "));
    }
}
