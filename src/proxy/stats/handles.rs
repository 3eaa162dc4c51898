//! Stat handles the data path holds: each is an `Arc` to its own cell, so writing a stat never
//! touches the store's name maps. Counters and gauges are plain atomics; histograms take a short
//! per-histogram mutex; "used" (Envoy's `usedonly`) is set on the first write.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::histogram::{HistogramData, Summary};

/// What a histogram's values measure. `Percent` values are fixed-point, scaled by 1,000,000
/// (Envoy's `Histogram::PercentScale`), and are scaled back when rendered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Unit {
    #[default]
    Unspecified,
    Bytes,
    Microseconds,
    Milliseconds,
    Percent,
}

/// Marks a cell used; the load first keeps the common already-used case a read.
fn mark_used(used: &AtomicBool) {
    if !used.load(Ordering::Relaxed) {
        used.store(true, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct CounterCell {
    value: AtomicU64,
    used: AtomicBool,
}

/// A monotonically increasing count (until `/reset_counters`).
#[derive(Clone, Debug, Default)]
pub struct Counter(Arc<CounterCell>);

impl Counter {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn add(&self, amount: u64) {
        self.0.value.fetch_add(amount, Ordering::Relaxed);
        mark_used(&self.0.used);
    }

    pub fn value(&self) -> u64 {
        self.0.value.load(Ordering::Relaxed)
    }

    /// Whether the counter was ever written (a reset does not clear this, as in Envoy).
    pub fn used(&self) -> bool {
        self.0.used.load(Ordering::Relaxed)
    }

    pub(crate) fn reset(&self) {
        self.0.value.store(0, Ordering::Relaxed);
    }
}

#[derive(Debug, Default)]
struct GaugeCell {
    value: AtomicU64,
    used: AtomicBool,
}

/// A value that goes up and down; never below zero.
#[derive(Clone, Debug, Default)]
pub struct Gauge(Arc<GaugeCell>);

impl Gauge {
    pub fn inc(&self) {
        self.add(1);
    }

    pub fn dec(&self) {
        self.sub(1);
    }

    pub fn add(&self, amount: u64) {
        self.0.value.fetch_add(amount, Ordering::Relaxed);
        mark_used(&self.0.used);
    }

    /// Subtracts, stopping at zero (Envoy asserts instead; a proxy should not crash on it).
    pub fn sub(&self, amount: u64) {
        // The closure always returns Some, so fetch_update cannot fail.
        let _ = self
            .0
            .value
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                Some(v.saturating_sub(amount))
            });
        mark_used(&self.0.used);
    }

    pub fn set(&self, value: u64) {
        self.0.value.store(value, Ordering::Relaxed);
        mark_used(&self.0.used);
    }

    pub fn value(&self) -> u64 {
        self.0.value.load(Ordering::Relaxed)
    }

    pub fn used(&self) -> bool {
        self.0.used.load(Ordering::Relaxed)
    }
}

#[derive(Debug)]
struct HistogramCell {
    unit: Unit,
    used: AtomicBool,
    data: Mutex<HistogramData>,
}

/// A distribution of recorded values (latencies, sizes).
#[derive(Clone, Debug)]
pub struct Histogram(Arc<HistogramCell>);

impl Histogram {
    pub(crate) fn new(unit: Unit) -> Histogram {
        Histogram(Arc::new(HistogramCell {
            unit,
            used: AtomicBool::new(false),
            data: Mutex::new(HistogramData::default()),
        }))
    }

    pub fn record(&self, value: u64) {
        self.lock().record(value);
        mark_used(&self.0.used);
    }

    pub fn unit(&self) -> Unit {
        self.0.unit
    }

    pub fn used(&self) -> bool {
        self.0.used.load(Ordering::Relaxed)
    }

    /// Quantiles, Prometheus buckets and exact figures as of now.
    pub fn summary(&self) -> Summary {
        self.lock().summary(self.0.unit)
    }

    pub(crate) fn flush_interval(&self) {
        self.lock().flush_interval();
    }

    // A panic while recording leaves the data consistent enough to keep using.
    fn lock(&self) -> MutexGuard<'_, HistogramData> {
        self.0.data.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct TextReadoutCell {
    value: Mutex<String>,
    used: AtomicBool,
}

/// A string-valued stat (e.g. `server.version`-like facts).
#[derive(Clone, Debug, Default)]
pub struct TextReadout(Arc<TextReadoutCell>);

impl TextReadout {
    pub fn set(&self, value: impl Into<String>) {
        *self.0.value.lock().unwrap_or_else(PoisonError::into_inner) = value.into();
        mark_used(&self.0.used);
    }

    pub fn value(&self) -> String {
        self.0
            .value
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn used(&self) -> bool {
        self.0.used.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_counts_and_tracks_use() {
        let c = Counter::default();
        assert!(!c.used());
        c.inc();
        c.add(4);
        assert_eq!(c.value(), 5);
        assert!(c.used());
        c.reset();
        assert_eq!(c.value(), 0);
        assert!(c.used());
    }

    #[test]
    fn gauge_saturates_at_zero() {
        let g = Gauge::default();
        g.inc();
        g.add(2);
        g.dec();
        assert_eq!(g.value(), 2);
        g.sub(10);
        assert_eq!(g.value(), 0);
        g.set(7);
        assert_eq!(g.value(), 7);
        assert!(g.used());
    }

    #[test]
    fn clones_share_one_cell() {
        let c = Counter::default();
        let c2 = c.clone();
        c2.inc();
        assert_eq!(c.value(), 1);
        let t = TextReadout::default();
        t.clone().set("v1");
        assert_eq!(t.value(), "v1");
        assert!(t.used());
    }

    #[test]
    fn counters_are_safe_across_threads() {
        let c = Counter::default();
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let c = c.clone();
                std::thread::spawn(move || (0..1000).for_each(|_| c.inc()))
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(c.value(), 4000);
    }
}
