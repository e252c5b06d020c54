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
use scx_scheds::getopt::{getopt, strtod, strtol, strtoul};
use scx_scheds::tool::{make_tool, ToolError};

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

/// A known loader: its Rust port, getopt string and the global each
/// knob-setting letter writes.
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
    // The port validates: same errors, same help.
    make_tool(l.port, args).map_err(|e| match e {
        ToolError::Help(h) => FlagsError::Help(h),
        ToolError::Usage(u) => FlagsError::Usage(u),
    })?;
    let opts = getopt(args, l.optstring).map_err(FlagsError::Usage)?;
    let mut out = LoaderFlags::default();
    for o in opts {
        let arg = o.arg.unwrap_or_default();
        let knob = |name: &str, value: String| Knob {
            name: name.to_string(),
            value,
        };
        // Validated above; a failed conversion cannot happen here.
        let num = |c: char| strtoul(&arg, c).unwrap_or(0);
        let k = match (l.ops_name, o.letter) {
            ("simple", 'f') | ("flatcg", 'f') => knob("fifo_sched", "true".into()),
            ("qmap", 's') | ("central", 's') => {
                knob("slice_ns", num('s').wrapping_mul(1000).to_string())
            }
            ("qmap", 'e') => knob("test_error_cnt", num('e').to_string()),
            ("qmap", 't') => knob("stall_user_nth", num('t').to_string()),
            ("qmap", 'T') => knob("stall_kernel_nth", num('T').to_string()),
            ("qmap", 'l') => knob("dsp_inf_loop_after", num('l').to_string()),
            ("qmap", 'b') => knob("dsp_batch", num('b').to_string()),
            ("qmap", 'P') => knob("print_shared_dsq", "true".into()),
            ("qmap", 'H') => knob("highpri_boosting", "true".into()),
            ("qmap", 'S') => knob("suppress_dump", "true".into()),
            ("qmap", 'd') => {
                // A negative value means the loader's own pid; the loader is
                // not a simulated task, so no task matches (as in the port).
                let tgid = strtol(&arg, 'd').unwrap_or(0) as i32;
                let tgid = if tgid < 0 { i32::MAX } else { tgid };
                knob("disallow_tgid", tgid.to_string())
            }
            ("qmap", 'D') => {
                out.exit_dump_len = Some(num('D') as u32);
                continue;
            }
            ("qmap", 'p') => {
                out.ops_flags |= SCX_OPS_SWITCH_PARTIAL;
                continue;
            }
            ("central", 'c') => knob("central_cpu", num('c').to_string()),
            ("flatcg", 's') => {
                let us = strtod(&arg, 's').unwrap_or(0.0);
                knob("cgrp_slice_ns", ((us * 1000.0) as u64).to_string())
            }
            // -v: libbpf's verbose output, which has no counterpart here;
            // scx_flatcg's -i and -d are the loader's own (its report
            // interval and an echoed setting; see loader.rs).
            _ => continue,
        };
        out.knobs.push(k);
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
