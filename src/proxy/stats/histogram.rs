//! Histogram storage and statistics, computed the way Envoy's circllhist does so quantiles,
//! Prometheus buckets and sums print the same numbers.
//!
//! Values go into log-linear bins of two significant digits (3 → [3, 3.1), 123 → [120, 130)).
//! A u64 needs at most 20 decades × 90 bins + a zero bin, so memory is bounded no matter how
//! many values are recorded. Each histogram keeps the bins of the current interval (since the
//! last flush) apart from the bins of all completed intervals; the cumulative view is their sum.

use super::Unit;

/// The quantiles Envoy reports, in order (`P0 … P100`).
pub const QUANTILES: [f64; 10] = [0.0, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.995, 0.999, 1.0];

/// The labels Envoy prints for [`QUANTILES`] (`fmt "{:g}"` of 100 × q).
pub(crate) const QUANTILE_LABELS: [&str; 10] = [
    "0", "25", "50", "75", "90", "95", "99", "99.5", "99.9", "100",
];

/// Envoy's default Prometheus bucket upper bounds (`HistogramSettingsImpl::defaultBuckets`).
pub const DEFAULT_BUCKETS: [f64; 19] = [
    0.5, 1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0,
    60000.0, 300000.0, 600000.0, 1800000.0, 3600000.0,
];

/// Envoy's fixed-point scale for `Unit::Percent` (a recorded 1_000_000 means 100%).
const PERCENT_SCALE: f64 = 1_000_000.0;

/// Exact powers of ten for the bin arithmetic (every one up to 1e22 is exact in an f64).
const POW10: [f64; 20] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19,
];

/// One bin: `mantissa / 10 × 10^exp` up to the next mantissa. `mantissa == 0` is the zero bin.
/// Field order makes the derived `Ord` the numeric order (zero bin first).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Bin {
    exp: u8,
    mantissa: u8,
}

impl Bin {
    /// Like circllhist's `int_scale_to_hist_bucket(value, 0)`: keep two significant digits.
    fn of(value: u64) -> Bin {
        if value == 0 {
            return Bin {
                exp: 0,
                mantissa: 0,
            };
        }
        let (mut v, mut exp) = if value < 10 {
            (value * 10, 0u8)
        } else {
            (value, 1u8)
        };
        while v >= 100 {
            v /= 10;
            exp += 1;
        }
        // v is in 10..=99 here, so the cast cannot truncate.
        Bin {
            exp,
            mantissa: v as u8,
        }
    }

    /// Lower edge of the bin (circllhist's `hist_bucket_to_double`).
    fn left(self) -> f64 {
        if self.mantissa == 0 {
            return 0.0;
        }
        (f64::from(self.mantissa) / 10.0) * POW10[usize::from(self.exp)]
    }

    /// Width of the bin (`hist_bucket_to_double_bin_width`); the zero bin has none.
    fn width(self) -> f64 {
        if self.mantissa == 0 {
            return 0.0;
        }
        POW10[usize::from(self.exp)] / 10.0
    }
}

/// A sparse, sorted set of bins with their counts (only non-zero counts are kept).
#[derive(Clone, Debug, Default)]
pub(crate) struct Bins {
    bins: Vec<(Bin, u64)>,
}

impl Bins {
    fn insert(&mut self, value: u64) {
        let bin = Bin::of(value);
        match self.bins.binary_search_by(|(b, _)| b.cmp(&bin)) {
            Ok(i) => self.bins[i].1 = self.bins[i].1.saturating_add(1),
            Err(i) => self.bins.insert(i, (bin, 1)),
        }
    }

    fn clear(&mut self) {
        self.bins.clear();
    }

    fn is_empty(&self) -> bool {
        self.bins.is_empty()
    }

    /// Adds every bin of `other` into `self` (circllhist's `hist_accumulate`).
    fn accumulate(&mut self, other: &Bins) {
        self.bins = merge(&self.bins, &other.bins);
    }

    /// Total number of values (`hist_sample_count`).
    fn count(&self) -> u64 {
        self.bins
            .iter()
            .fold(0u64, |acc, (_, c)| acc.saturating_add(*c))
    }

    /// circllhist's `hist_approx_quantile`: find the bin holding each quantile's rank and
    /// interpolate linearly inside it. An empty set gives NaN for every quantile.
    fn quantiles(&self, qs: &[f64]) -> Vec<f64> {
        let Some(&(first, first_count)) = self.bins.first() else {
            return vec![f64::NAN; qs.len()];
        };
        let total: f64 = self.bins.iter().map(|(_, c)| *c as f64).sum();
        let mut i = 0;
        let mut left = first.left();
        let mut width = first.width();
        let mut lower = 0.0;
        let mut upper = first_count as f64;
        qs.iter()
            .map(|q| {
                let rank = total * q;
                while i + 1 < self.bins.len() && upper < rank {
                    i += 1;
                    let (bin, count) = self.bins[i];
                    left = bin.left();
                    width = bin.width();
                    lower = upper;
                    upper = lower + count as f64;
                }
                if lower == rank {
                    left
                } else if upper == rank {
                    left + width
                } else if width == 0.0 {
                    left
                } else {
                    left + (rank - lower) / (upper - lower) * width
                }
            })
            .collect()
    }

    /// Values in bins lying wholly at or below `threshold` (`hist_approx_count_below`).
    /// This is what Envoy reports as a Prometheus `le` bucket.
    fn count_below(&self, threshold: f64) -> u64 {
        let mut n = 0u64;
        for (bin, count) in &self.bins {
            if bin.left() + bin.width() <= threshold {
                n = n.saturating_add(*count);
            } else {
                break;
            }
        }
        n
    }

    /// Sum of bin midpoints × counts (`hist_approx_sum`), Envoy's Prometheus `_sum`.
    fn approx_sum(&self) -> f64 {
        // Fold from +0.0: `Iterator::sum` of no floats is -0.0, which would print as "-0".
        self.bins.iter().fold(0.0, |acc, (bin, count)| {
            acc + (bin.left() + bin.width() / 2.0) * *count as f64
        })
    }
}

/// Merges two sorted bin lists, adding counts of equal bins.
fn merge(a: &[(Bin, u64)], b: &[(Bin, u64)]) -> Vec<(Bin, u64)> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while i < a.len() && j < b.len() {
        match a[i].0.cmp(&b[j].0) {
            std::cmp::Ordering::Less => {
                out.push(a[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.push(b[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.push((a[i].0, a[i].1.saturating_add(b[j].1)));
                i += 1;
                j += 1;
            }
        }
    }
    out.extend_from_slice(&a[i..]);
    out.extend_from_slice(&b[j..]);
    out
}

/// Everything one histogram has recorded, guarded by the handle's mutex.
#[derive(Debug, Default)]
pub(crate) struct HistogramData {
    /// Values recorded since the last `flush_interval`.
    interval: Bins,
    /// Values of every completed interval.
    completed: Bins,
    /// Exact running figures, for callers that want more than Envoy prints.
    count: u64,
    sum: u64,
    min: Option<u64>,
    max: Option<u64>,
}

impl HistogramData {
    pub(crate) fn record(&mut self, value: u64) {
        self.interval.insert(value);
        self.count = self.count.saturating_add(1);
        self.sum = self.sum.saturating_add(value);
        self.min = Some(self.min.map_or(value, |m| m.min(value)));
        self.max = Some(self.max.map_or(value, |m| m.max(value)));
    }

    /// Ends the current interval: its values join the completed ones.
    pub(crate) fn flush_interval(&mut self) {
        if !self.interval.is_empty() {
            self.completed.accumulate(&self.interval);
            self.interval.clear();
        }
    }

    pub(crate) fn summary(&self, unit: Unit) -> Summary {
        let mut cumulative = self.completed.clone();
        cumulative.accumulate(&self.interval);
        let scale = if unit == Unit::Percent {
            PERCENT_SCALE
        } else {
            1.0
        };
        let scaled = |v: Vec<f64>| v.into_iter().map(|x| x / scale).collect::<Vec<_>>();
        Summary {
            interval: scaled(self.interval.quantiles(&QUANTILES)),
            cumulative: scaled(cumulative.quantiles(&QUANTILES)),
            // Envoy scales the bounds up rather than the bins down for percents.
            buckets: DEFAULT_BUCKETS
                .iter()
                .map(|b| cumulative.count_below(b * scale))
                .collect(),
            sample_count: cumulative.count(),
            sample_sum: cumulative.approx_sum() / scale,
            exact: Exact {
                count: self.count,
                sum: self.sum,
                min: self.min,
                max: self.max,
            },
        }
    }
}

/// Statistics of one histogram at one moment, as the renderers need them.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    /// Quantiles (see [`QUANTILES`]) over the current interval; NaN when it is empty.
    pub interval: Vec<f64>,
    /// Quantiles over everything recorded; NaN when nothing was.
    pub cumulative: Vec<f64>,
    /// Envoy's cumulative Prometheus bucket counts, one per default bound.
    pub buckets: Vec<u64>,
    /// Number of values recorded.
    pub sample_count: u64,
    /// Envoy's approximate sum (bin midpoints × counts).
    pub sample_sum: f64,
    /// Exact figures over everything recorded.
    pub exact: Exact,
}

/// Exact count, sum, min and max of the recorded values.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Exact {
    pub count: u64,
    pub sum: u64,
    pub min: Option<u64>,
    pub max: Option<u64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(values: &[u64]) -> HistogramData {
        let mut d = HistogramData::default();
        for v in values {
            d.record(*v);
        }
        d
    }

    #[test]
    fn bins_keep_two_significant_digits() {
        let b = Bin::of(3);
        assert_eq!((b.left(), b.width()), (3.0, 0.1));
        let b = Bin::of(123);
        assert_eq!((b.left(), b.width()), (120.0, 10.0));
        let b = Bin::of(99);
        assert_eq!((b.left(), b.width()), (99.0, 1.0));
        let b = Bin::of(0);
        assert_eq!((b.left(), b.width()), (0.0, 0.0));
        assert_eq!(
            Bin::of(u64::MAX),
            Bin {
                exp: 19,
                mantissa: 18
            }
        );
        assert!(Bin::of(0) < Bin::of(1) && Bin::of(9) < Bin::of(10) && Bin::of(99) < Bin::of(100));
    }

    #[test]
    fn single_value_quantiles_interpolate_inside_the_bin() {
        let s = data(&[3]).summary(Unit::Milliseconds);
        assert_eq!(
            s.cumulative,
            vec![
                3.0, 3.025, 3.05, 3.075, 3.09, 3.095, 3.099, 3.0995, 3.0999, 3.1
            ]
        );
        // Recorded in the current interval, so the interval view sees it too.
        assert_eq!(s.interval, s.cumulative);
    }

    #[test]
    fn flushed_interval_is_empty_but_cumulative_keeps_values() {
        let mut d = data(&[3]);
        d.flush_interval();
        let s = d.summary(Unit::Unspecified);
        assert!(s.interval.iter().all(|q| q.is_nan()));
        assert_eq!(s.cumulative[0], 3.0);
        assert_eq!(s.cumulative[9], 3.1);
        d.record(10);
        let s = d.summary(Unit::Unspecified);
        assert_eq!(s.interval[0], 10.0);
        assert_eq!(s.interval[9], 11.0);
        assert_eq!(s.sample_count, 2);
    }

    #[test]
    fn multiple_values_quantiles() {
        // 1, 2, …, 100: each value alone in its bin.
        let values: Vec<u64> = (1..=100).collect();
        let s = data(&values).summary(Unit::Unspecified);
        assert_eq!(s.cumulative[0], 1.0);
        // Rank 25 is the upper edge of the bin of 25: [25, 26).
        assert_eq!(s.cumulative[1], 26.0);
        assert_eq!(s.cumulative[2], 51.0);
        assert_eq!(s.cumulative[9], 110.0);
    }

    #[test]
    fn empty_histogram_is_all_nan() {
        let s = HistogramData::default().summary(Unit::Unspecified);
        assert!(s.interval.iter().chain(&s.cumulative).all(|q| q.is_nan()));
        assert_eq!(s.sample_count, 0);
        assert_eq!(s.sample_sum.to_bits(), 0.0f64.to_bits());
        assert!(s.buckets.iter().all(|b| *b == 0));
    }

    #[test]
    fn prometheus_buckets_count_whole_bins_like_envoy() {
        let s = data(&[0, 1, 4, 5, 7, 1000]).summary(Unit::Milliseconds);
        // le=0.5: only the zero bin. le=1: [1, 1.1) reaches past 1, so 1 is not counted yet.
        assert_eq!(s.buckets[0], 1);
        assert_eq!(s.buckets[1], 1);
        // le=5: 1 and 4 fit; 5's bin [5, 5.1) does not.
        assert_eq!(s.buckets[2], 3);
        assert_eq!(s.buckets[3], 5);
        assert_eq!(s.buckets[9], 5);
        assert_eq!(s.buckets[10], 6);
        assert_eq!(s.sample_count, 6);
        let exact = s.exact;
        assert_eq!(
            (exact.count, exact.sum, exact.min, exact.max),
            (6, 1017, Some(0), Some(1000))
        );
    }

    #[test]
    fn approx_sum_uses_bin_midpoints() {
        let s = data(&[3]).summary(Unit::Unspecified);
        assert_eq!(s.sample_sum, 3.05);
        let s = data(&[123, 0]).summary(Unit::Unspecified);
        assert_eq!(s.sample_sum, 125.0);
    }

    #[test]
    fn percent_unit_is_scaled() {
        // 50% is recorded as 0.5 × PercentScale.
        let s = data(&[500_000]).summary(Unit::Percent);
        assert_eq!(s.cumulative[0], 0.5);
        assert_eq!(s.buckets[0], 0);
        assert_eq!(s.buckets[1], 1);
    }

    #[test]
    fn memory_is_bounded() {
        let mut d = HistogramData::default();
        for v in 0..200_000u64 {
            d.record(v * 7919);
        }
        d.flush_interval();
        assert!(d.completed.bins.len() <= 20 * 90 + 1);
    }
}
