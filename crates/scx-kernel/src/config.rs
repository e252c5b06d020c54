//! Kernel knobs: the values the kernel (or the dispatch-loop patch) makes
//! tunable, with the kernel's defaults, set from the command line as
//! `--kernel KEY=VALUE`.

use crate::consts::{SCX_DSP_DFL_MAX_BATCH, SCX_DSP_MAX_LOOPS, SCX_SLICE_DFL};
use scx_machine::clock::{parse_duration, Hz, Ns, NSEC_PER_MSEC};
use scx_machine::cost::CostModel;

/// Every tunable of the modelled kernel.
#[derive(Clone, Debug, PartialEq)]
pub struct KernelConfig {
    /// `CONFIG_HZ` (default 1000, as the reference kernel).
    pub hz: Hz,
    /// `SCX_DSP_MAX_LOOPS`: rounds of `ops.dispatch()` per balance before the
    /// breaker self-kicks (default 32; 0 = the kernel before the patch, no
    /// breaker).
    pub dsp_max_loops: u32,
    /// `SCX_DSP_DFL_MAX_BATCH`: dispatch buffer size when the scheduler
    /// leaves `dispatch_max_batch` at 0 (default 32).
    pub dsp_max_batch: u32,
    /// Slice the kernel refills to (`SCX_SLICE_DFL`, default 20 ms).
    pub slice_dfl: Ns,
    /// `kernel.watchdog_thresh` in seconds (default 10): the hard lockup
    /// detector fires after this long without timer interrupts, the soft
    /// lockup detector after twice it.
    pub watchdog_thresh: u32,
    /// `nmi_watchdog` (default on): whether the hard lockup detector exists.
    pub nmi_watchdog: bool,
    /// Simulated-time charges.
    pub cost: CostModel,
    /// Period of the per-CPU kworkers' housekeeping work (vmstat-like);
    /// 0 disables it.
    pub housekeeping_period: Ns,
    /// Period at which `rcu_preempt` wakes; 0 disables it.
    pub rcu_period: Ns,
    /// `nohz_full=`: CPUs whose tick stops while they run a single task that
    /// does not need it (for sched_ext, a task with `SCX_SLICE_INF`).
    pub nohz_full: scx_machine::Cpumask,
    /// Fast-forward repetitions that provably change nothing (default on;
    /// see [`crate::fastfwd`]). Off simulates every repetition one by one.
    pub fast_forward: bool,
}

impl Default for KernelConfig {
    fn default() -> Self {
        KernelConfig {
            hz: Hz::default(),
            dsp_max_loops: SCX_DSP_MAX_LOOPS,
            dsp_max_batch: SCX_DSP_DFL_MAX_BATCH,
            slice_dfl: SCX_SLICE_DFL,
            watchdog_thresh: 10,
            nmi_watchdog: true,
            cost: CostModel::default(),
            housekeeping_period: 1000 * NSEC_PER_MSEC,
            rcu_period: 12 * NSEC_PER_MSEC,
            nohz_full: scx_machine::Cpumask::new(),
            fast_forward: true,
        }
    }
}

/// Keys accepted by [`KernelConfig::set`], with their meaning.
pub const KNOBS: &[(&str, &str)] = &[
    ("hz", "tick rate (CONFIG_HZ), 100..1000, default 1000"),
    (
        "dsp_max_loops",
        "SCX_DSP_MAX_LOOPS, default 32; 0 = no dispatch-loop breaker (the kernel before the patch)",
    ),
    (
        "dsp_max_batch",
        "default dispatch buffer size (SCX_DSP_DFL_MAX_BATCH), default 32",
    ),
    (
        "slice_dfl",
        "SCX_SLICE_DFL as the kernel refills it, default 20ms",
    ),
    (
        "watchdog_thresh",
        "lockup detector threshold in seconds, default 10",
    ),
    (
        "nmi_watchdog",
        "hard lockup detector on (1) or off (0), default 1",
    ),
    (
        "housekeeping_period",
        "period of per-CPU kworker housekeeping work, default 1s (0 = off)",
    ),
    (
        "rcu_period",
        "period of rcu_preempt wakeups, default 12ms (0 = off)",
    ),
    (
        "nohz_full",
        "CPU list whose tick stops while running one task with an infinite slice, default none",
    ),
    (
        "fast_forward",
        "skip dispatch-loop repetitions that provably change nothing (1) or simulate each (0), default 1",
    ),
    (
        "cost.<name>",
        "simulated time charged for a kernel path (names below)",
    ),
];

impl KernelConfig {
    /// Applies one `KEY=VALUE` assignment.
    pub fn set_kv(&mut self, kv: &str) -> Result<(), String> {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| format!("--kernel {kv:?}: expected KEY=VALUE"))?;
        self.set(k.trim(), v.trim())
            .map_err(|e| format!("--kernel {kv:?}: {e}"))
    }

    /// Sets knob `key` to `value`.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        match key {
            "hz" => self.hz = Hz::new(parse_u32(value)?)?,
            "dsp_max_loops" => self.dsp_max_loops = parse_u32(value)?,
            "dsp_max_batch" => {
                let v = parse_u32(value)?;
                if v == 0 {
                    return Err("dsp_max_batch must be at least 1".into());
                }
                self.dsp_max_batch = v;
            }
            "slice_dfl" => {
                let v = parse_duration(value)?;
                if v == 0 {
                    return Err("slice_dfl must be positive".into());
                }
                self.slice_dfl = v;
            }
            "watchdog_thresh" => {
                let v = parse_u32(value)?;
                if !(1..=60).contains(&v) {
                    return Err("watchdog_thresh must be between 1 and 60 seconds".into());
                }
                self.watchdog_thresh = v;
            }
            "nmi_watchdog" => self.nmi_watchdog = parse_bool(value)?,
            "housekeeping_period" => self.housekeeping_period = parse_duration(value)?,
            "rcu_period" => self.rcu_period = parse_duration(value)?,
            "nohz_full" => self.nohz_full = scx_machine::Cpumask::parse_list(value)?,
            "fast_forward" => self.fast_forward = parse_bool(value)?,
            _ => {
                if let Some(name) = key.strip_prefix("cost.") {
                    let ns = parse_duration_ns(value)?;
                    return self.cost.set(name, ns);
                }
                let names: Vec<&str> = KNOBS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "unknown kernel knob {key:?}; expected one of {}",
                    names.join(", ")
                ));
            }
        }
        Ok(())
    }
}

fn parse_u32(v: &str) -> Result<u32, String> {
    v.parse()
        .map_err(|_| format!("expected a non-negative integer, got {v:?}"))
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v {
        "1" | "on" | "true" | "yes" => Ok(true),
        "0" | "off" | "false" | "no" => Ok(false),
        _ => Err(format!("expected 0 or 1, got {v:?}")),
    }
}

/// Costs are plain ns unless a unit is given.
fn parse_duration_ns(v: &str) -> Result<Ns, String> {
    if let Ok(n) = v.parse::<u64>() {
        return Ok(n);
    }
    parse_duration(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_parse() {
        let mut c = KernelConfig::default();
        c.set_kv("dsp_max_loops=0").unwrap();
        assert_eq!(c.dsp_max_loops, 0);
        c.set_kv("hz=1000").unwrap();
        assert_eq!(c.hz.get(), 1000);
        c.set_kv("cost.op_call=200").unwrap();
        assert_eq!(c.cost.op_call, 200);
        c.set_kv("nmi_watchdog=0").unwrap();
        assert!(!c.nmi_watchdog);
    }

    #[test]
    fn bad_knobs_are_one_line_errors() {
        let mut c = KernelConfig::default();
        let e = c.set_kv("bogus=1").unwrap_err();
        assert!(e.contains("unknown kernel knob \"bogus\""), "{e}");
        assert!(!e.contains('\n'));
        assert!(c.set_kv("hz").unwrap_err().contains("KEY=VALUE"));
        assert!(c.set_kv("hz=7").is_err());
        assert!(c.set_kv("dsp_max_loops=-1").is_err());
    }
}
