//! A latency distribution: exact for small sample counts, an HDR histogram
//! beyond.
//!
//! Count, sum, mean, min and max are always exact. Quantiles are exact
//! (nearest rank: the smallest sample with at least `q·n` samples at or
//! below it) while at most [`EXACT_SAMPLES`] samples were recorded; past
//! that the samples move into an HDR histogram with 3 significant digits,
//! whose quantiles are within 0.1% of the true value (clamped to the exact
//! min and max). This keeps thousands of short-lived tasks cheap.

use hdrhistogram::Histogram;

/// Samples kept verbatim before switching to a histogram.
pub const EXACT_SAMPLES: usize = 256;

#[derive(Clone, Debug)]
enum Store {
    Samples(Vec<u64>),
    Hist(Box<Histogram<u64>>),
}

/// A distribution of nanosecond latencies.
#[derive(Clone, Debug)]
pub struct LatencyStats {
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
    store: Store,
}

impl Default for LatencyStats {
    fn default() -> Self {
        LatencyStats {
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
            store: Store::Samples(Vec::new()),
        }
    }
}

/// The usual figures of a distribution (all ns; zero when empty).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Mean.
    pub mean_ns: f64,
    /// Median.
    pub p50_ns: u64,
    /// 90th percentile.
    pub p90_ns: u64,
    /// 99th percentile.
    pub p99_ns: u64,
    /// Maximum.
    pub max_ns: u64,
}

impl LatencySummary {
    /// As a JSON object.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "count": self.count,
            "mean_ns": self.mean_ns,
            "p50_ns": self.p50_ns,
            "p90_ns": self.p90_ns,
            "p99_ns": self.p99_ns,
            "max_ns": self.max_ns,
        })
    }
}

impl LatencyStats {
    /// Records one sample.
    pub fn record(&mut self, v: u64) {
        self.count += 1;
        self.sum += u128::from(v);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        match &mut self.store {
            Store::Samples(s) => {
                s.push(v);
                if s.len() > EXACT_SAMPLES {
                    let mut h = Histogram::<u64>::new(3).expect("3 significant digits");
                    for &x in s.iter() {
                        h.record(x).expect("auto-resizing histogram");
                    }
                    self.store = Store::Hist(Box::new(h));
                }
            }
            Store::Hist(h) => h.record(v).expect("auto-resizing histogram"),
        }
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// Sum of the samples.
    pub fn sum(&self) -> u128 {
        self.sum
    }

    /// Largest sample (0 if none).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// True while quantiles are exact.
    pub fn is_exact(&self) -> bool {
        matches!(self.store, Store::Samples(_))
    }

    /// The `q` quantile (0 ≤ q ≤ 1; 0 if empty).
    pub fn quantile(&self, q: f64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        let q = q.clamp(0.0, 1.0);
        match &self.store {
            Store::Samples(s) => {
                let mut v = s.clone();
                v.sort_unstable();
                v[nearest_rank(q, v.len())]
            }
            Store::Hist(h) => h.value_at_quantile(q).clamp(self.min, self.max),
        }
    }

    /// Count, mean, p50, p90, p99 and max.
    pub fn summary(&self) -> LatencySummary {
        if self.count == 0 {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.count,
            mean_ns: self.sum as f64 / self.count as f64,
            p50_ns: self.quantile(0.5),
            p90_ns: self.quantile(0.9),
            p99_ns: self.quantile(0.99),
            max_ns: self.max,
        }
    }

    /// Points `(value_ns, fraction ≤ value)` of the CDF at `n + 1` evenly
    /// spaced quantiles plus the 99.9th, for plotting.
    pub fn cdf_points(&self, n: usize) -> Vec<(u64, f64)> {
        if self.count == 0 || n == 0 {
            return Vec::new();
        }
        let mut qs: Vec<f64> = (0..=n).map(|i| i as f64 / n as f64).collect();
        qs.push(0.999);
        qs.sort_by(f64::total_cmp);
        qs.dedup();
        qs.into_iter().map(|q| (self.quantile(q), q)).collect()
    }
}

/// Index of the nearest-rank `q` quantile among `n` sorted samples.
fn nearest_rank(q: f64, n: usize) -> usize {
    let rank = (q * n as f64).ceil() as usize;
    rank.clamp(1, n) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_nearest_rank() {
        let mut s = LatencyStats::default();
        for v in 1..=100 {
            s.record(v * 10);
        }
        let m = s.summary();
        assert_eq!(m.count, 100);
        assert_eq!(m.p50_ns, 500);
        assert_eq!(m.p90_ns, 900);
        assert_eq!(m.p99_ns, 990);
        assert_eq!(m.max_ns, 1000);
        assert!((m.mean_ns - 505.0).abs() < 1e-9);
        assert_eq!(s.quantile(0.0), 10);
    }

    #[test]
    fn histogram_beyond_exact_limit_stays_close() {
        let mut s = LatencyStats::default();
        for v in 1..=10_000u64 {
            s.record(v * 1000);
        }
        assert!(!s.is_exact());
        let p50 = s.quantile(0.5) as f64;
        assert!((p50 / 5_000_000.0 - 1.0).abs() < 0.002, "{p50}");
        assert_eq!(s.summary().max_ns, 10_000_000);
        let pts = s.cdf_points(10);
        assert_eq!(pts.first().unwrap().1, 0.0);
        assert_eq!(pts.last().unwrap(), &(10_000_000, 1.0));
    }
}
