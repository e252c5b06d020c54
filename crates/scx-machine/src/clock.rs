//! Simulated time: `u64` nanoseconds since boot, plus the conversions the
//! kernel uses (jiffies at a configurable `HZ`, milliseconds).
//!
//! Like the kernel, jiffies are derived from time: `jiffies = ns / (1e9/HZ)`.
//! Unlike the kernel (where jiffies advance from the tick of whichever CPU
//! does timekeeping and stop advancing if no CPU takes interrupts), scxsim's
//! jiffies always follow the simulated clock; the difference only shows when
//! every CPU spins with interrupts disabled, a state scxsim reports itself.

/// Nanoseconds per microsecond.
pub const NSEC_PER_USEC: u64 = 1_000;
/// Nanoseconds per millisecond.
pub const NSEC_PER_MSEC: u64 = 1_000_000;
/// Nanoseconds per second.
pub const NSEC_PER_SEC: u64 = 1_000_000_000;

/// Simulated time in nanoseconds since boot.
pub type Ns = u64;

/// The kernel's tick rate and the jiffies conversions that depend on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hz(u32);

impl Hz {
    /// Creates a tick rate. `hz` must divide 1e9 evenly and lie in 100..=1000
    /// (the values Linux's `CONFIG_HZ` allows are 100, 250, 300, 1000).
    pub fn new(hz: u32) -> Result<Hz, String> {
        if !(100..=1000).contains(&hz) || !NSEC_PER_SEC.is_multiple_of(u64::from(hz)) {
            return Err(format!(
                "HZ must be between 100 and 1000 and divide 1e9 (got {hz})"
            ));
        }
        Ok(Hz(hz))
    }

    /// The tick rate in Hz.
    pub fn get(self) -> u32 {
        self.0
    }

    /// Length of one tick (one jiffy) in ns.
    pub fn tick_ns(self) -> Ns {
        NSEC_PER_SEC / u64::from(self.0)
    }

    /// `jiffies` at simulated time `ns`.
    pub fn jiffies(self, ns: Ns) -> u64 {
        ns / self.tick_ns()
    }

    /// The kernel's `msecs_to_jiffies()`: rounds up.
    pub fn msecs_to_jiffies(self, ms: u64) -> u64 {
        (ms * u64::from(self.0)).div_ceil(1000)
    }

    /// The kernel's `jiffies_to_msecs()`.
    pub fn jiffies_to_msecs(self, j: u64) -> u64 {
        j * 1000 / u64::from(self.0)
    }
}

impl Default for Hz {
    /// 1000 Hz: the reference console (a 6.12 kernel running `scx_qmap -l
    /// 100`) prints runnable_at deltas such as `-7249ms` and `-1ms`, which
    /// only a 1 ms jiffy produces.
    fn default() -> Hz {
        Hz(1000)
    }
}

/// The kernel's `time_after(a, b)` for jiffies: true if `a` is after `b`,
/// wrap-safe.
pub fn time_after(a: u64, b: u64) -> bool {
    (b.wrapping_sub(a) as i64) < 0
}

/// Formats `ns` as `seconds.micros` the way dmesg prints timestamps
/// (`[    4.236455]`).
pub fn dmesg_stamp(ns: Ns) -> String {
    format!(
        "[{:5}.{:06}]",
        ns / NSEC_PER_SEC,
        (ns % NSEC_PER_SEC) / NSEC_PER_USEC
    )
}

/// Parses a duration such as `10s`, `250ms`, `40us`, `5000ns` or a plain
/// number of seconds (`2.5`).
pub fn parse_duration(s: &str) -> Result<Ns, String> {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("ns") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix("us") {
        (v, 1e3)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1e6)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1e9)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60e9)
    } else {
        (s, 1e9)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("expected a duration such as 10s, 250ms or 40us, got {s:?}"))?;
    if !v.is_finite() || v < 0.0 {
        return Err(format!("expected a non-negative duration, got {s:?}"));
    }
    let ns = v * mult;
    if ns > 1e18 {
        return Err(format!("duration {s:?} is too long"));
    }
    Ok(ns.round() as Ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jiffies_follow_hz() {
        let hz = Hz::new(250).unwrap();
        assert_eq!(hz.tick_ns(), 4_000_000);
        assert_eq!(hz.jiffies(7_999_999), 1);
        assert_eq!(hz.msecs_to_jiffies(5000), 1250);
        assert_eq!(hz.msecs_to_jiffies(1), 1);
        assert_eq!(hz.jiffies_to_msecs(1812), 7248);
    }

    #[test]
    fn rejects_bad_hz() {
        assert!(Hz::new(7).is_err());
        assert!(Hz::new(300).is_err(), "1e9/300 is not an integer");
        assert!(Hz::new(1000).is_ok());
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("10s").unwrap(), 10 * NSEC_PER_SEC);
        assert_eq!(parse_duration("250ms").unwrap(), 250 * NSEC_PER_MSEC);
        assert_eq!(parse_duration("2.5").unwrap(), 2_500_000_000);
        assert_eq!(parse_duration("40us").unwrap(), 40_000);
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("abc").is_err());
    }

    #[test]
    fn stamps_like_dmesg() {
        assert_eq!(dmesg_stamp(4_236_455_000), "[    4.236455]");
    }

    #[test]
    fn time_after_wraps() {
        assert!(time_after(5, 4));
        assert!(!time_after(4, 4));
        assert!(time_after(1, u64::MAX));
    }
}
