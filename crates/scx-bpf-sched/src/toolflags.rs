//! The command-line flags of the kernel's example loaders, for their
//! objects: `scxsim scx_qmap.bpf.o -l 100` does what `scx_qmap -l 100`
//! does — its loader writes `skel->rodata->dsp_inf_loop_after = 100`
//! between open and load — so a user runs the object exactly as they
//! would run the tool.
//!
//! The flags are validated by the Rust port's own parser
//! (`scx_scheds`), so errors, `-h` and edge cases are the port's; each
//! flag is then turned into what the real loader's getopt loop writes: a
//! global variable (a [`Knob`]), `ops.exit_dump_len`, or an
//! `SCX_OPS_SWITCH_PARTIAL` flag in `ops.flags`.
//!
//! An object counts as the kernel's example when its `ops.name` is the
//! tool's and it has the globals that tool's loader writes. Like the real
//! loaders, which parse their flags once and re-open the skeleton on a
//! restart without parsing them again, flags apply to the first attach
//! only.

use crate::knobs::Knob;
use scx_bpf::BpfObject;
use scx_kernel::consts::SCX_OPS_SWITCH_PARTIAL;
use scx_scheds::central::CentralTool;
use scx_scheds::flatcg::FlatcgTool;
use scx_scheds::getopt::getopt;
use scx_scheds::qmap::QmapTool;
use scx_scheds::simple::SimpleTool;
use scx_scheds::tool::ToolError;

/// What a kernel example loader's flags write into its object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoaderFlags {
    /// Globals the getopt loop sets, in flag order.
    pub knobs: Vec<Knob>,
    /// `skel->struct_ops.X_ops->exit_dump_len` (scx_qmap `-D`).
    pub exit_dump_len: Option<u32>,
    /// Bits or-ed into `ops.flags` (scx_qmap `-p`).
    pub ops_flags: u64,
}

/// A known loader: its Rust port and getopt string.
struct Loader {
    ops_name: &'static str,
    port: &'static str,
    optstring: &'static str,
    /// A global every genuine object of this tool has.
    marker: &'static str,
}

const LOADERS: [Loader; 4] = [
    Loader {
        ops_name: "simple",
        port: "simple",
        optstring: "fvh",
        marker: "fifo_sched",
    },
    Loader {
        ops_name: "qmap",
        port: "qmap",
        optstring: "s:e:t:T:l:b:PHd:D:Spvh",
        marker: "dsp_inf_loop_after",
    },
    Loader {
        ops_name: "central",
        port: "central",
        optstring: "s:c:pvh",
        marker: "central_cpu",
    },
    Loader {
        ops_name: "flatcg",
        port: "flatcg",
        optstring: "s:i:dfvh",
        marker: "cgrp_slice_ns",
    },
];

/// The kernel example loader whose object `obj` is, if any.
fn loader_of(obj: &BpfObject) -> Option<&'static Loader> {
    let so = obj.struct_ops.first()?;
    LOADERS
        .iter()
        .find(|l| l.ops_name == so.name && obj.var_bytes(l.marker).is_some())
}

/// The tool whose flags `obj` takes (`scx_qmap`), if it is one of the
/// kernel's examples.
pub fn tool_name(obj: &BpfObject) -> Option<String> {
    loader_of(obj).map(|l| format!("scx_{}", l.ops_name))
}

/// The real tool's help for `obj`, if it is a kernel example.
pub fn tool_help(obj: &BpfObject) -> Option<String> {
    scx_scheds::tool::tool_help(loader_of(obj)?.port)
}

/// Why flags could not be applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FlagsError {
    /// `-h` (or a flag the tool answers with its help).
    Help(String),
    /// One line.
    Usage(String),
}

/// Translates `args` for `obj` (named `name` in messages).
pub fn translate(obj: &BpfObject, name: &str, args: &[String]) -> Result<LoaderFlags, FlagsError> {
    if args.is_empty() {
        return Ok(LoaderFlags::default());
    }
    let Some(l) = loader_of(obj) else {
        return Err(FlagsError::Usage(format!(
            "{name}: this object takes no flags (got '{}'); set knobs with --set NAME=VALUE \
             (the kernel's scx_simple, scx_qmap, scx_central and scx_flatcg objects take their \
             tools' flags)",
            args[0]
        )));
    };
    // The port parses: same errors, same help, same conversions
    // (`-s` in µs, `-d -1`, ...). Only the letters given are written, as
    // the real getopt loop leaves the others at the object's defaults.
    let tool_err = |e: ToolError| match e {
        ToolError::Help(h) => FlagsError::Help(h),
        ToolError::Usage(u) => FlagsError::Usage(u),
    };
    // A getopt error is reported by the port's parser below.
    let given: Vec<char> = getopt(args, l.optstring)
        .unwrap_or_default()
        .iter()
        .map(|o| o.letter)
        .collect();
    let mut out = LoaderFlags::default();
    let mut set = |letter: char, var: &str, value: String| {
        if given.contains(&letter) {
            out.knobs.push(Knob {
                name: var.to_string(),
                value,
            });
        }
    };
    match l.ops_name {
        "simple" => {
            let t = SimpleTool::parse(args).map_err(tool_err)?;
            set('f', "fifo_sched", t.fifo_sched().to_string());
        }
        "qmap" => {
            let t = QmapTool::parse(args).map_err(tool_err)?;
            let k = t.knobs();
            set('s', "slice_ns", k.slice_ns.to_string());
            set('e', "test_error_cnt", k.test_error_cnt.to_string());
            set('t', "stall_user_nth", k.stall_user_nth.to_string());
            set('T', "stall_kernel_nth", k.stall_kernel_nth.to_string());
            set('l', "dsp_inf_loop_after", k.dsp_inf_loop_after.to_string());
            set('b', "dsp_batch", k.dsp_batch.to_string());
            set('P', "print_shared_dsq", k.print_shared_dsq.to_string());
            set('H', "highpri_boosting", k.highpri_boosting.to_string());
            set('d', "disallow_tgid", k.disallow_tgid.to_string());
            set('S', "suppress_dump", k.suppress_dump.to_string());
            if given.contains(&'D') {
                out.exit_dump_len = Some(k.exit_dump_len);
            }
            out.ops_flags = k.flags & SCX_OPS_SWITCH_PARTIAL;
        }
        "central" => {
            let t = CentralTool::parse(args).map_err(tool_err)?;
            let k = t.knobs();
            set('s', "slice_ns", k.slice_ns.to_string());
            set('c', "central_cpu", k.central_cpu.to_string());
        }
        _ => {
            // scx_flatcg's -i and -d are its loader's own (loader.rs).
            let t = FlatcgTool::parse(args).map_err(tool_err)?;
            let k = t.knobs();
            set('s', "cgrp_slice_ns", k.cgrp_slice_ns.to_string());
            set('f', "fifo_sched", k.fifo_sched.to_string());
        }
    }
    Ok(out)
}

/// Writes what `flags` set outside the globals into `obj`'s ops table.
pub fn apply_ops_fields(obj: &mut BpfObject, flags: &LoaderFlags) {
    if let Some(so) = obj.struct_ops.first_mut() {
        if let Some(len) = flags.exit_dump_len {
            so.exit_dump_len = len;
        }
        so.flags |= flags.ops_flags;
    }
}
