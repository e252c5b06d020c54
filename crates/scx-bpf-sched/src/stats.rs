//! What the loader prints every interval, read from the object's maps and
//! global data the way the example tools read `skel->bss` and their
//! `stats` maps: bespoke lines for schedulers we know (our test
//! schedulers, and the kernel's `scx_simple`, `scx_qmap` and
//! `scx_central` in their tools' formats; `scx_flatcg`'s block is the
//! port's loader fed from the object, see `loader.rs`), and for any other
//! object a
//! generic line with its writable integer globals. Ring-buffer records are
//! drained and printed too.

use scx_bpf::obj::DataKind;
use scx_bpf::Vm;
use scx_scheds::central::{format_stats, Counters};

/// How an object's statistics are read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatsKind {
    /// `scx_sim_vtime`: per-CPU counters in the `stats` array.
    SimVtime,
    /// `scx_sim_queues`: global counters.
    SimQueues,
    /// `scx_sim_central`: global counters.
    SimCentral,
    /// The kernel's `scx_simple`: `stats` per-CPU array (local, global).
    Simple,
    /// The kernel's `scx_qmap`: `skel->bss` counters.
    Qmap,
    /// The kernel's `scx_central`: `skel->bss` counters, numbered blocks.
    Central,
    /// Anything else: writable integer globals.
    Generic,
}

/// Most globals the generic line shows.
const GENERIC_VARS_MAX: usize = 16;

impl StatsKind {
    /// Chooses by `ops.name` (and, for `simple`, the `stats` map shape).
    pub fn for_object(ops_name: &str, vm: &Vm) -> StatsKind {
        match ops_name {
            "sim_vtime" => StatsKind::SimVtime,
            "sim_queues" => StatsKind::SimQueues,
            "sim_central" => StatsKind::SimCentral,
            "simple" if is_percpu_u64_array(vm, "stats", 2) => StatsKind::Simple,
            "qmap" if vm.global_u64("nr_expedited_lost").is_some() => StatsKind::Qmap,
            "central" if vm.global_u64("nr_overflows").is_some() => StatsKind::Central,
            _ => StatsKind::Generic,
        }
    }

    /// This interval's lines; `seq` counts the intervals so far.
    pub fn lines(self, vm: &mut Vm, seq: u64) -> Vec<String> {
        let g = |name: &str| vm.global_u64(name).unwrap_or(0);
        match self {
            StatsKind::SimVtime => {
                let c = percpu_counters(vm, "stats", 3).unwrap_or_default();
                vec![format!("direct={} queued={} consumed={}", c[0], c[1], c[2])]
            }
            StatsKind::SimQueues => vec![format!(
                "enq={} dsp={} reenq={} missing={} urgent={}",
                g("nr_enqueued"),
                g("nr_dispatched"),
                g("nr_reenqueued"),
                g("nr_missing"),
                g("nr_urgent")
            )],
            StatsKind::SimCentral => vec![format!(
                "timer={} kicks={} handed={}",
                g("nr_timer_runs"),
                g("nr_kicks"),
                g("nr_handed")
            )],
            StatsKind::Simple => {
                let c = percpu_counters(vm, "stats", 2).unwrap_or_default();
                vec![format!("local={} global={}", c[0], c[1])]
            }
            StatsKind::Qmap => qmap_lines(vm),
            StatsKind::Central => {
                let c = Counters {
                    nr_total: g("nr_total"),
                    nr_locals: g("nr_locals"),
                    nr_queued: g("nr_queued"),
                    nr_lost_pids: g("nr_lost_pids"),
                    nr_timers: g("nr_timers"),
                    nr_dispatches: g("nr_dispatches"),
                    nr_mismatches: g("nr_mismatches"),
                    nr_retries: g("nr_retries"),
                    nr_overflows: g("nr_overflows"),
                };
                format_stats(seq, &c)
            }
            StatsKind::Generic => generic_line(vm).into_iter().collect(),
        }
    }
}

/// Is `map` a per-CPU array of at least `n` u64 values?
fn is_percpu_u64_array(vm: &Vm, map: &str, n: u32) -> bool {
    vm.map(map).is_some_and(|m| {
        m.map_type == scx_bpf::maps::types::PERCPU_ARRAY && m.value_size == 8 && m.max_entries >= n
    })
}

/// Sums over CPUs of the first `n` u64 elements of per-CPU array `map`
/// (`None` if the map is not such an array).
pub(crate) fn percpu_counters(vm: &mut Vm, map: &str, n: u32) -> Option<Vec<u64>> {
    if !is_percpu_u64_array(vm, map, n) {
        return None;
    }
    let sums = (0..n)
        .map(|i| {
            vm.map_lookup(map, &i.to_le_bytes())
                .unwrap_or_default()
                .chunks_exact(8)
                .map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes")))
                .fold(0u64, u64::wrapping_add)
        })
        .collect();
    Some(sums)
}

/// scx_qmap's three lines (its `cpuperf` line needs the kfunc, which
/// scxsim has).
fn qmap_lines(vm: &Vm) -> Vec<String> {
    let g = |name: &str| vm.global_u64(name).unwrap_or(0);
    let (enq, dsp) = (g("nr_enqueued"), g("nr_dispatched"));
    vec![
        format!(
            "stats  : enq={enq} dsp={dsp} delta={} reenq={} deq={} core={} enq_ddsp={}",
            enq as i64 - dsp as i64,
            g("nr_reenqueued"),
            g("nr_dequeued"),
            g("nr_core_sched_execed"),
            g("nr_ddsp_from_enq")
        ),
        format!(
            "         exp_local={} exp_remote={} exp_timer={} exp_lost={}",
            g("nr_expedited_local"),
            g("nr_expedited_remote"),
            g("nr_expedited_from_timer"),
            g("nr_expedited_lost")
        ),
        format!(
            "cpuperf: cur min/avg/max={}/{}/{} target min/avg/max={}/{}/{}",
            g("cpuperf_min"),
            g("cpuperf_avg"),
            g("cpuperf_max"),
            g("cpuperf_target_min"),
            g("cpuperf_target_avg"),
            g("cpuperf_target_max")
        ),
    ]
}

/// `name=value` for the writable integer globals.
fn generic_line(vm: &Vm) -> Option<String> {
    let vars: Vec<String> = vm
        .globals()
        .filter(|v| v.integer && v.section != DataKind::Rodata)
        .filter_map(|v| vm.global_u64(v.name).map(|x| format!("{}={x}", v.name)))
        .take(GENERIC_VARS_MAX)
        .collect();
    (!vars.is_empty()).then(|| format!("stats  : {}", vars.join(" ")))
}

/// Drains every ring buffer: one line per record, as text when the record
/// is a printable string, else as hex bytes.
pub fn drain_ringbufs(vm: &mut Vm) -> Vec<String> {
    let names: Vec<String> = vm
        .map_names()
        .into_iter()
        .filter(|n| {
            vm.map(n)
                .is_some_and(|m| m.map_type == scx_bpf::maps::types::RINGBUF)
        })
        .collect();
    let mut out = Vec::new();
    for name in names {
        for r in vm.ringbuf_drain(&name) {
            out.push(format!("ringbuf {name}: {}", render(&r.data)));
        }
    }
    out
}

/// A record as text (up to its NUL) if printable, else hex.
fn render(data: &[u8]) -> String {
    let text = data.split(|&b| b == 0).next().unwrap_or_default();
    let tail_is_nul = data[text.len()..].iter().all(|&b| b == 0);
    let printable = !text.is_empty() && text.iter().all(|&b| b == b'\t' || (32..127).contains(&b));
    if printable && tail_is_nul {
        String::from_utf8_lossy(text).into_owned()
    } else {
        data.iter()
            .map(|b| format!("{b:02x}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_render_as_text_or_hex() {
        assert_eq!(render(b"hello\0\0\0"), "hello");
        assert_eq!(render(&[1, 2, 0xff]), "01 02 ff");
        assert_eq!(render(b"a\0b"), "61 00 62");
        assert_eq!(render(&[0, 0]), "00 00");
    }
}
