//! Latency histograms and their summaries, in microseconds.
//!
//! `Latency` wraps an hdrhistogram (1 µs .. 60 s, 3 significant digits) and
//! clamps out-of-range values instead of failing. `SignedLatency` keeps a
//! difference that may be negative (kick arrival minus HTTP response) as exact
//! samples (a shifted histogram would lose the microseconds that matter), for
//! the few thousand samples a kick run makes. Summaries are plain serde structs.
//!
//! Besides a few named percentiles, a summary carries the whole percentile
//! curve (`percentiles`) on a "nines" ladder, which `loadgen plot` draws.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Largest value a histogram holds: 60 s in µs. Larger values are clamped.
const MAX_US: u64 = 60_000_000;

/// The percentile curve's step on the nines scale (x = -log10(1 - q)):
/// ten points per nine, so 90, 99 and 99.9 are points of their own.
const NINES_STEP: f64 = 0.1;
/// The curve stops at 99.999 even with more samples than that resolves.
const MAX_NINES: f64 = 5.0;

/// Percentiles of one measured quantity, all in microseconds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub count: u64,
    pub min_us: u64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
    /// `[percentile, µs]` pairs from 0 (the minimum) up the nines ladder
    /// (..., 90, ..., 99, ..., 99.9) as far as the sample count resolves.
    pub percentiles: Vec<(f64, u64)>,
}

/// Like `Summary`, for a signed difference.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SignedSummary {
    pub count: u64,
    pub min_us: i64,
    pub p50_us: i64,
    pub p90_us: i64,
    pub p99_us: i64,
    pub max_us: i64,
    pub mean_us: f64,
    /// `[percentile, µs]` pairs, as in `Summary`.
    pub percentiles: Vec<(f64, i64)>,
}

/// A latency histogram in microseconds.
#[derive(Clone, Debug)]
pub struct Latency {
    hist: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Latency::new()
    }
}

impl Latency {
    pub fn new() -> Latency {
        Latency {
            hist: Histogram::new_with_bounds(1, MAX_US, 3).expect("static bounds are valid"),
        }
    }

    pub fn record(&mut self, d: Duration) {
        self.record_us(u64::try_from(d.as_micros()).unwrap_or(MAX_US));
    }

    /// Records `us`, clamped into 0 ..= 60 s.
    pub fn record_us(&mut self, us: u64) {
        self.hist.saturating_record(us.min(MAX_US));
    }

    pub fn add(&mut self, other: &Latency) {
        self.hist
            .add(&other.hist)
            .expect("histograms with equal bounds add");
    }

    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    pub fn summary(&self) -> Summary {
        if self.hist.is_empty() {
            return Summary::default();
        }
        let h = &self.hist;
        Summary {
            count: h.len(),
            min_us: h.min(),
            p50_us: h.value_at_quantile(0.50),
            p90_us: h.value_at_quantile(0.90),
            p99_us: h.value_at_quantile(0.99),
            max_us: h.max(),
            mean_us: round1(h.mean()),
            percentiles: nines_ladder(h.len())
                .map(|q| (percent(q), h.value_at_quantile(q)))
                .collect(),
        }
    }
}

/// Signed microsecond differences, kept exactly; nearest-rank percentiles.
#[derive(Clone, Debug, Default)]
pub struct SignedLatency {
    samples: Vec<i64>,
}

impl SignedLatency {
    pub fn record_us(&mut self, us: i64) {
        self.samples.push(us);
    }

    pub fn summary(&self) -> SignedSummary {
        if self.samples.is_empty() {
            return SignedSummary::default();
        }
        let mut sorted = self.samples.clone();
        sorted.sort_unstable();
        let n = sorted.len();
        // Nearest rank: the smallest value with at least q of the samples at or below it.
        let at = |q: f64| sorted[((q * n as f64).ceil() as usize).clamp(1, n) - 1];
        let sum: i128 = sorted.iter().map(|&v| i128::from(v)).sum();
        SignedSummary {
            count: n as u64,
            min_us: sorted[0],
            p50_us: at(0.50),
            p90_us: at(0.90),
            p99_us: at(0.99),
            max_us: sorted[n - 1],
            mean_us: round1(sum as f64 / n as f64),
            percentiles: nines_ladder(n as u64)
                .map(|q| (percent(q), at(q)))
                .collect(),
        }
    }
}

/// Events per second, 0 when no time passed.
pub fn per_second(count: u64, elapsed: Duration) -> f64 {
    let secs = elapsed.as_secs_f64();
    if secs > 0.0 {
        round1(count as f64 / secs)
    } else {
        0.0
    }
}

/// Quantiles 1 - 10^-x for x = 0, 0.1, 0.2, ... while at least one of
/// `count` samples lies above the quantile (past that every point is the
/// maximum), and never past `MAX_NINES`.
fn nines_ladder(count: u64) -> impl Iterator<Item = f64> {
    let resolved = (count as f64).log10().min(MAX_NINES);
    // The small slack keeps x = 2.0 for exactly 100 samples despite rounding.
    let steps = ((resolved + 1e-9) / NINES_STEP).floor() as u32;
    (0..=steps).map(|k| 1.0 - 10f64.powf(-f64::from(k) * NINES_STEP))
}

/// A quantile as a percentile, rounded so that 0.999 reads 99.9.
fn percent(q: f64) -> f64 {
    (q * 100.0 * 1e4).round() / 1e4
}

fn round1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// hdrhistogram with 3 significant digits: within 0.1 % (plus 1 µs).
    fn close(got: u64, want: u64) -> bool {
        got.abs_diff(want) <= want / 1000 + 1
    }

    #[test]
    fn percentiles_of_one_to_ten_thousand() {
        let mut h = Latency::new();
        for us in 1..=10_000 {
            h.record_us(us);
        }
        let s = h.summary();
        assert_eq!(s.count, 10_000);
        assert_eq!(s.min_us, 1);
        assert!(close(s.p50_us, 5_000), "{s:?}");
        assert!(close(s.p90_us, 9_000), "{s:?}");
        assert!(close(s.p99_us, 9_900), "{s:?}");
        assert!(close(s.max_us, 10_000), "{s:?}");
        assert!((s.mean_us - 5_000.5).abs() < 5.0, "{s:?}");
    }

    #[test]
    fn a_few_slow_values_show_only_in_the_tail() {
        let mut h = Latency::new();
        for _ in 0..990 {
            h.record(Duration::from_micros(300));
        }
        for _ in 0..10 {
            h.record(Duration::from_millis(40));
        }
        let s = h.summary();
        assert_eq!(s.p50_us, 300);
        assert_eq!(s.p90_us, 300);
        assert_eq!(s.p99_us, 300, "the 99th percentile is the 990th value");
        assert!(close(s.max_us, 40_000), "{s:?}");
    }

    #[test]
    fn empty_histogram_summarises_to_zeros() {
        assert_eq!(Latency::new().summary(), Summary::default());
        assert_eq!(SignedLatency::default().summary(), SignedSummary::default());
    }

    #[test]
    fn values_out_of_range_are_clamped_not_lost() {
        let mut h = Latency::new();
        h.record(Duration::from_secs(3600));
        h.record_us(0);
        let s = h.summary();
        assert_eq!(s.count, 2);
        assert!(close(s.max_us, MAX_US), "{s:?}");
        assert_eq!(s.min_us, 0);
    }

    #[test]
    fn merged_histograms_count_both() {
        let (mut a, mut b) = (Latency::new(), Latency::new());
        a.record_us(100);
        b.record_us(300);
        a.add(&b);
        let s = a.summary();
        assert_eq!((s.count, s.min_us, s.max_us), (2, 100, 300));
    }

    #[test]
    fn signed_differences_keep_their_sign() {
        let mut h = SignedLatency::default();
        for us in [-800, -200, 0, 150, 900] {
            h.record_us(us);
        }
        let s = h.summary();
        assert_eq!(s.count, 5);
        assert_eq!((s.min_us, s.p50_us, s.max_us), (-800, 0, 900));
        assert_eq!((s.p90_us, s.p99_us), (900, 900));
        assert_eq!(s.mean_us, 10.0);
    }

    #[test]
    fn signed_percentiles_use_nearest_rank() {
        let mut h = SignedLatency::default();
        for us in (1..=100).rev() {
            h.record_us(us - 50);
        }
        let s = h.summary();
        assert_eq!(
            (s.min_us, s.p50_us, s.p90_us, s.p99_us, s.max_us),
            (-49, 0, 40, 49, 50)
        );
    }

    #[test]
    fn the_percentile_curve_climbs_the_nines_as_far_as_the_samples_go() {
        let mut h = Latency::new();
        for us in 1..=1000 {
            h.record_us(us);
        }
        let s = h.summary();
        // 0 .. 3 nines in tenths: 31 points, the last one 99.9.
        assert_eq!(s.percentiles.len(), 31, "{:?}", s.percentiles);
        assert_eq!(s.percentiles[0], (0.0, 1));
        let at = |p: f64| s.percentiles.iter().find(|(q, _)| *q == p).map(|&(_, v)| v);
        assert!(close(at(90.0).unwrap(), 900), "{:?}", s.percentiles);
        assert!(close(at(99.0).unwrap(), 990), "{:?}", s.percentiles);
        assert!(close(at(99.9).unwrap(), 999), "{:?}", s.percentiles);
        assert!(s
            .percentiles
            .windows(2)
            .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1));

        let mut few = SignedLatency::default();
        for us in -5..5 {
            few.record_us(us);
        }
        let s = few.summary();
        assert_eq!(s.percentiles.len(), 11, "ten samples resolve one nine");
        assert_eq!(s.percentiles[0], (0.0, -5));
        assert_eq!(s.percentiles[10], (90.0, 3));
    }

    #[test]
    fn the_ladder_stops_at_five_nines() {
        assert_eq!(nines_ladder(10_000_000).count(), 51);
        assert_eq!(nines_ladder(1).count(), 1);
    }

    #[test]
    fn rate_is_count_over_seconds() {
        assert_eq!(per_second(500, Duration::from_millis(250)), 2000.0);
        assert_eq!(per_second(5, Duration::ZERO), 0.0);
    }
}
