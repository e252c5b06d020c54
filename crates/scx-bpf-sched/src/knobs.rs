//! Configuring an object before load, as a skeleton-based loader does
//! between `SCX_OPS_OPEN()` and `SCX_OPS_LOAD()`: `--set NAME=VALUE`
//! writes a global variable (`skel->rodata->NAME = VALUE` for a `const
//! volatile` knob; `.data`/`.bss` variables too), and the conventions of
//! the kernel's example loaders are applied — globals `nr_cpu_ids` and
//! `nr_cpus` are set to the machine's CPU count (what the loaders fill in
//! from `libbpf_num_possible_cpus()`), arrays declared with `RESIZABLE_ARRAY()` (a
//! one-element array alone in a `.data.NAME` or `.bss.NAME` section) are
//! resized to that many elements (`RESIZE_ARRAY()`), except a `UEI_DEFINE()`
//! dump buffer `X_dump`, which gets `ops.exit_dump_len` bytes (32768 if
//! 0) with `X_dump_len` set to match (`UEI_SET_SIZE()`).

use scx_bpf::obj::DataKind;
use scx_bpf::BpfObject;

/// One `--set NAME=VALUE`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Knob {
    /// Variable name.
    pub name: String,
    /// The value as given.
    pub value: String,
}

impl Knob {
    /// Parses `NAME=VALUE`.
    pub fn parse(arg: &str) -> Result<Knob, String> {
        match arg.split_once('=') {
            Some((n, v)) if !n.is_empty() => Ok(Knob {
                name: n.to_string(),
                value: v.to_string(),
            }),
            _ => Err(format!("--set {arg}: expected NAME=VALUE")),
        }
    }
}

/// An integer literal: decimal, `0x` hex, `0o` octal or `0b` binary,
/// optionally negative; `true`/`false` are 1 and 0.
pub fn parse_int(s: &str) -> Option<i128> {
    match s {
        "true" => return Some(1),
        "false" => return Some(0),
        _ => {}
    }
    let (neg, digits) = match s.strip_prefix('-') {
        Some(d) => (true, d),
        None => (false, s),
    };
    let digits = digits.replace('_', "");
    let (radix, body) = match digits.get(..2) {
        Some("0x" | "0X") => (16, &digits[2..]),
        Some("0o") => (8, &digits[2..]),
        Some("0b") => (2, &digits[2..]),
        _ => (10, &digits[..]),
    };
    let v = u64::from_str_radix(body, radix).ok()? as i128;
    Some(if neg { -v } else { v })
}

/// `v` as the little-endian bytes of a `size`-byte integer, if it fits
/// (as unsigned or as signed).
fn int_bytes(v: i128, size: u64) -> Option<Vec<u8>> {
    let bits = 8 * size as u32;
    let fits = v >= -(1i128 << (bits - 1)) && v < (1i128 << bits);
    fits.then(|| (v as u64).to_le_bytes()[..size as usize].to_vec())
}

/// Names of the object's `const volatile` knobs (read-only globals).
pub fn knob_names(obj: &BpfObject) -> Vec<String> {
    obj.data
        .iter()
        .filter(|d| d.kind == DataKind::Rodata)
        .flat_map(|d| d.vars.iter().map(|v| v.name.clone()))
        .filter(|n| !n.starts_with('.'))
        .collect()
}

/// Applies one knob; the error is one line naming the knob.
pub fn apply(obj: &mut BpfObject, k: &Knob) -> Result<(), String> {
    let what = format!("--set {}={}", k.name, k.value);
    let Some((_, var)) = obj.find_var(&k.name) else {
        let names = knob_names(obj);
        let known = if names.is_empty() {
            "it has no const volatile knobs".to_string()
        } else {
            format!("its knobs: {}", names.join(", "))
        };
        return Err(format!(
            "{what}: {} has no global variable {} ({known})",
            obj.name, k.name
        ));
    };
    let size = var.size;
    if !matches!(size, 1 | 2 | 4 | 8) {
        return Err(format!(
            "{what}: {} is a {size}-byte variable; only integer variables can be set",
            k.name
        ));
    }
    let v = parse_int(&k.value).ok_or_else(|| {
        format!(
            "{what}: expected an integer (decimal, 0x hex, true/false), got '{}'",
            k.value
        )
    })?;
    let bytes = int_bytes(v, size).ok_or_else(|| {
        format!(
            "{what}: {} does not fit in {} ({size} bytes)",
            k.value, k.name
        )
    })?;
    obj.set_var(&k.name, &bytes)
        .map_err(|e| format!("{what}: {e}"))
}

/// Arrays declared with `RESIZABLE_ARRAY()`: the sole, one-element array
/// variable of a `.data.NAME`/`.bss.NAME` section.
pub fn resizable_arrays(obj: &BpfObject) -> Vec<String> {
    obj.data
        .iter()
        .filter(|d| d.name.starts_with(".data.") || d.name.starts_with(".bss."))
        .filter(|d| d.vars.len() == 1)
        .filter_map(|d| {
            let v = &d.vars[0];
            let (_, n) = obj.btf.array_info(v.btf_type?)?;
            (n == 1).then(|| v.name.clone())
        })
        .collect()
}

/// `UEI_DUMP_DFL_LEN`: the dump buffer size when `ops.exit_dump_len` is 0.
const UEI_DUMP_DFL_LEN: u64 = 32768;

/// Elements a resizable array gets: the dump length for a UEI dump buffer
/// (whose `NAME_len` companion is set to it), else `nr_cpus`.
fn resized_len(obj: &mut BpfObject, name: &str, nr_cpus: u32) -> Result<u64, String> {
    let len_var = format!("{name}_len");
    if !name.ends_with("_dump") || obj.find_var(&len_var).is_none() {
        return Ok(u64::from(nr_cpus));
    }
    let len = obj
        .struct_ops
        .first()
        .map(|so| u64::from(so.exit_dump_len))
        .filter(|&l| l != 0)
        .unwrap_or(UEI_DUMP_DFL_LEN);
    obj.set_var_u64(&len_var, len).map_err(|e| e.to_string())?;
    Ok(len)
}

/// Globals the example loaders set to the number of possible CPUs.
const CPU_COUNT_VARS: [&str; 2] = ["nr_cpu_ids", "nr_cpus"];

/// Applies the example loaders' conventions for `nr_cpus` CPUs, then the
/// knobs (so an explicit `--set nr_cpu_ids=...` wins).
pub fn configure(obj: &mut BpfObject, knobs: &[Knob], nr_cpus: u32) -> Result<(), String> {
    for name in CPU_COUNT_VARS {
        if obj.find_var(name).is_some() {
            obj.set_var_u64(name, u64::from(nr_cpus))
                .map_err(|e| e.to_string())?;
        }
    }
    for name in resizable_arrays(obj) {
        let len = resized_len(obj, &name, nr_cpus)?;
        obj.resize_array(&name, len).map_err(|e| e.to_string())?;
    }
    knobs.iter().try_for_each(|k| apply(obj, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_literals() {
        assert_eq!(parse_int("42"), Some(42));
        assert_eq!(parse_int("-1"), Some(-1));
        assert_eq!(parse_int("0x10"), Some(16));
        assert_eq!(parse_int("0b101"), Some(5));
        assert_eq!(parse_int("1_000"), Some(1000));
        assert_eq!(parse_int("true"), Some(1));
        assert_eq!(parse_int("5ms"), None);
        assert_eq!(parse_int(""), None);
    }

    #[test]
    fn sizes_are_checked() {
        assert_eq!(int_bytes(255, 1), Some(vec![255]));
        assert_eq!(int_bytes(-1, 1), Some(vec![255]));
        assert_eq!(int_bytes(256, 1), None);
        assert_eq!(int_bytes(-129, 1), None);
        assert_eq!(int_bytes(u64::MAX as i128, 8), Some(vec![255; 8]));
        assert_eq!(int_bytes(-1, 4), Some(vec![255; 4]));
    }

    #[test]
    fn knob_syntax() {
        assert_eq!(
            Knob::parse("a=b=c").unwrap(),
            Knob {
                name: "a".into(),
                value: "b=c".into()
            }
        );
        assert!(Knob::parse("novalue").is_err());
        assert!(Knob::parse("=1").is_err());
    }
}
