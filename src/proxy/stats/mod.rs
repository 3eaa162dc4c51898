//! Envoy-style stats: counters, gauges, histograms and text readouts under Envoy's names, with
//! the admin renderings `/stats` (text), `/stats?format=json` and `/stats/prometheus`.
//!
//! The [`Store`] maps names to handles; the data path keeps the handles ([`Counter`], [`Gauge`],
//! [`Histogram`]) and writes them without touching the store's lock. Imports nothing outside
//! this module.

mod handles;
mod histogram;
mod num;
mod prometheus;
mod query;
mod render_json;
mod render_text;
mod snapshot;
mod tags;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock, PoisonError, RwLock};

pub use handles::{Counter, Gauge, Histogram, TextReadout, Unit};
pub use histogram::{DEFAULT_BUCKETS, Exact, QUANTILES, Summary};
pub use query::{Format, Kind, Query, QueryError};
pub use tags::{Tag, TagExtracted, extract as extract_tags};

/// Envoy's registered custom stat namespaces: stats under them render in Prometheus without
/// the namespace and without the `envoy_` prefix (Istio's filters register `istiocustom`, so
/// `istiocustom.istio_requests_total` scrapes as `istio_requests_total`).
pub const CUSTOM_NAMESPACES: [&str; 1] = [ISTIO_NAMESPACE];
/// The namespace of Istio's standard metrics.
pub const ISTIO_NAMESPACE: &str = "istiocustom";

use snapshot::{HistogramStat, NumberStat, Snapshot, TextStat};

/// A handle plus its lazily computed tag extraction (needed only for Prometheus).
struct Entry<H> {
    handle: H,
    tagged: OnceLock<TagExtracted>,
}

/// Name → entry for one kind of stat. Reads (the usual get-or-create hit) share the lock.
struct Family<H> {
    entries: RwLock<HashMap<String, Entry<H>>>,
}

impl<H> Default for Family<H> {
    fn default() -> Self {
        Family {
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl<H: Clone> Family<H> {
    fn get_or_create(&self, name: &str, make: impl FnOnce() -> H) -> H {
        if let Some(e) = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return e.handle.clone();
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries
            .entry(name.to_string())
            .or_insert_with(|| Entry {
                handle: make(),
                tagged: OnceLock::new(),
            })
            .handle
            .clone()
    }

    /// Like [`Family::get_or_create`], for a stat whose tags are given, not extracted.
    fn get_or_create_tagged(
        &self,
        name: &str,
        make: impl FnOnce() -> H,
        tagged: impl FnOnce() -> TagExtracted,
    ) -> H {
        if let Some(e) = self
            .entries
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(name)
        {
            return e.handle.clone();
        }
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        entries
            .entry(name.to_string())
            .or_insert_with(|| Entry {
                handle: make(),
                tagged: OnceLock::from(tagged()),
            })
            .handle
            .clone()
    }

    /// Calls `f` on every entry while holding the read lock.
    fn for_each(&self, mut f: impl FnMut(&str, &Entry<H>)) {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        for (name, entry) in entries.iter() {
            f(name, entry);
        }
    }
}

#[derive(Default)]
struct Inner {
    counters: Family<Counter>,
    gauges: Family<Gauge>,
    histograms: Family<Histogram>,
    text_readouts: Family<TextReadout>,
}

/// All stats of one proxy. Cheap to clone (an `Arc`); `Send + Sync`.
#[derive(Clone, Default)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

impl Store {
    pub fn new() -> Store {
        Store::default()
    }

    /// The counter with this full name, created at zero on first use.
    pub fn counter(&self, name: &str) -> Counter {
        self.inner.counters.get_or_create(name, Counter::default)
    }

    pub fn gauge(&self, name: &str) -> Gauge {
        self.inner.gauges.get_or_create(name, Gauge::default)
    }

    /// The histogram with this name; `unit` applies only when this call creates it.
    pub fn histogram(&self, name: &str, unit: Unit) -> Histogram {
        self.inner
            .histograms
            .get_or_create(name, || Histogram::new(unit))
    }

    /// A counter whose tag-extracted name and tags are given (Envoy's
    /// `counterFromStatNames` with a tag vector, as Istio's stats filter creates its metrics)
    /// instead of extracted from `name` by the default extractors.
    pub fn counter_tagged(&self, name: &str, tagged: impl FnOnce() -> TagExtracted) -> Counter {
        self.inner
            .counters
            .get_or_create_tagged(name, Counter::default, tagged)
    }

    /// A gauge with given tags (see [`Store::counter_tagged`]).
    pub fn gauge_tagged(&self, name: &str, tagged: impl FnOnce() -> TagExtracted) -> Gauge {
        self.inner
            .gauges
            .get_or_create_tagged(name, Gauge::default, tagged)
    }

    /// A histogram with given tags (see [`Store::counter_tagged`]).
    pub fn histogram_tagged(
        &self,
        name: &str,
        unit: Unit,
        tagged: impl FnOnce() -> TagExtracted,
    ) -> Histogram {
        self.inner
            .histograms
            .get_or_create_tagged(name, || Histogram::new(unit), tagged)
    }

    pub fn text_readout(&self, name: &str) -> TextReadout {
        self.inner
            .text_readouts
            .get_or_create(name, TextReadout::default)
    }

    /// A view that prefixes every name with `prefix.` (a trailing dot on `prefix` is optional).
    pub fn scope(&self, prefix: &str) -> Scope {
        Scope {
            store: self.clone(),
            prefix: prefix.trim_end_matches('.').to_string(),
        }
    }

    /// Admin `/reset_counters`: every counter back to zero; gauges and histograms untouched.
    pub fn reset_counters(&self) {
        self.inner.counters.for_each(|_, e| e.handle.reset());
    }

    /// Ends the current histogram interval (the proxy calls this every flush period).
    pub fn flush_interval(&self) {
        self.inner
            .histograms
            .for_each(|_, e| e.handle.flush_interval());
    }

    /// `/stats` in Envoy's text format.
    pub fn render_text(&self, q: &Query) -> String {
        render_text::render(&self.snapshot(q, false))
    }

    /// `/stats?format=json`.
    pub fn render_json(&self, q: &Query) -> String {
        render_json::render(&self.snapshot(q, false))
    }

    /// `/stats/prometheus` (and `/stats?format=prometheus`).
    pub fn render_prometheus(&self, q: &Query) -> String {
        // Envoy leaves text readouts out of Prometheus unless `text_readouts` is given.
        let text_readouts = q.text_readouts_in_prometheus || q.kind == Kind::TextReadouts;
        prometheus::render(&self.snapshot(q, true), text_readouts)
    }

    /// Renders in `q.format`.
    pub fn render(&self, q: &Query) -> String {
        match q.format {
            Format::Text => self.render_text(q),
            Format::Json => self.render_json(q),
            Format::Prometheus => self.render_prometheus(q),
        }
    }

    /// Copies out the stats `q` selects; tag extraction only when `with_tags`.
    fn snapshot(&self, q: &Query, with_tags: bool) -> Snapshot {
        let mut snap = Snapshot::default();
        let tagged = |name: &str, tagged: &OnceLock<TagExtracted>| {
            with_tags.then(|| tagged.get_or_init(|| tags::extract(name)).clone())
        };
        if q.kind.counters() {
            self.inner.counters.for_each(|name, e| {
                if q.admits(name, e.handle.used()) {
                    snap.counters.push(NumberStat {
                        name: name.to_string(),
                        value: e.handle.value(),
                        tagged: tagged(name, &e.tagged),
                    });
                }
            });
        }
        if q.kind.gauges() {
            self.inner.gauges.for_each(|name, e| {
                if q.admits(name, e.handle.used()) {
                    snap.gauges.push(NumberStat {
                        name: name.to_string(),
                        value: e.handle.value(),
                        tagged: tagged(name, &e.tagged),
                    });
                }
            });
        }
        if q.kind.text_readouts() {
            self.inner.text_readouts.for_each(|name, e| {
                if q.admits(name, e.handle.used()) {
                    snap.text_readouts.push(TextStat {
                        name: name.to_string(),
                        value: e.handle.value(),
                        tagged: tagged(name, &e.tagged),
                    });
                }
            });
        }
        if q.kind.histograms() {
            self.inner.histograms.for_each(|name, e| {
                let used = e.handle.used();
                if q.admits(name, used) {
                    snap.histograms.push(HistogramStat {
                        name: name.to_string(),
                        used,
                        summary: e.handle.summary(),
                        tagged: tagged(name, &e.tagged),
                    });
                }
            });
        }
        snap
    }
}

/// A prefix over a [`Store`]: `scope("cluster.foo").counter("upstream_rq_total")` is the
/// counter `cluster.foo.upstream_rq_total`.
#[derive(Clone, Debug)]
pub struct Scope {
    store: Store,
    prefix: String,
}

impl Scope {
    pub fn counter(&self, name: &str) -> Counter {
        self.store.counter(&self.join(name))
    }

    pub fn gauge(&self, name: &str) -> Gauge {
        self.store.gauge(&self.join(name))
    }

    pub fn histogram(&self, name: &str, unit: Unit) -> Histogram {
        self.store.histogram(&self.join(name), unit)
    }

    pub fn text_readout(&self, name: &str) -> TextReadout {
        self.store.text_readout(&self.join(name))
    }

    /// A nested scope: `scope("http.ingress").scope("rds")` prefixes `http.ingress.rds.`.
    pub fn scope(&self, sub: &str) -> Scope {
        self.store.scope(&self.join(sub))
    }

    /// The prefix, without a trailing dot.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    fn join(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_string()
        } else if name.is_empty() {
            self.prefix.clone()
        } else {
            format!("{}.{}", self.prefix, name)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_name_is_same_cell() {
        let store = Store::new();
        store.counter("a.b").inc();
        store.counter("a.b").inc();
        assert_eq!(store.counter("a.b").value(), 2);
        let h = store.histogram("h", Unit::Milliseconds);
        store.histogram("h", Unit::Bytes).record(3);
        assert_eq!(h.unit(), Unit::Milliseconds);
        assert_eq!(h.summary().sample_count, 1);
    }

    #[test]
    fn scopes_join_with_dots() {
        let store = Store::new();
        let cluster = store.scope("cluster.foo");
        cluster.counter("upstream_rq_total").add(3);
        assert_eq!(store.counter("cluster.foo.upstream_rq_total").value(), 3);
        store
            .scope("http.ingress.")
            .scope("rds")
            .gauge("version")
            .set(9);
        assert_eq!(store.gauge("http.ingress.rds.version").value(), 9);
        assert_eq!(store.scope("").counter("server.uptime_x").value(), 0);
        assert_eq!(cluster.prefix(), "cluster.foo");
    }

    #[test]
    fn reset_counters_keeps_gauges_and_histograms() {
        let store = Store::new();
        store.counter("c").add(5);
        store.gauge("g").set(7);
        store.histogram("h", Unit::Unspecified).record(1);
        store.reset_counters();
        assert_eq!(store.counter("c").value(), 0);
        assert_eq!(store.gauge("g").value(), 7);
        assert_eq!(
            store
                .histogram("h", Unit::Unspecified)
                .summary()
                .sample_count,
            1
        );
        // Still "used" after a reset, as in Envoy.
        let q = Query {
            used_only: true,
            ..Query::default()
        };
        assert_eq!(
            store.render_text(&q),
            "c: 0\ng: 7\nh: P0(1,1) P25(1.025,1.025) P50(1.05,1.05) P75(1.075,1.075) \
             P90(1.09,1.09) P95(1.095,1.095) P99(1.099,1.099) P99.5(1.0995,1.0995) \
             P99.9(1.0999,1.0999) P100(1.1,1.1)\n"
        );
    }

    #[test]
    fn store_is_send_sync_and_shared_across_threads() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Store>();
        assert_send_sync::<Scope>();
        assert_send_sync::<Histogram>();
        let store = Store::new();
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    for j in 0..100 {
                        store.counter(&format!("c{}", j % 10)).inc();
                        store.histogram("h", Unit::Milliseconds).record(i * 10 + j);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        let total: u64 = (0..10)
            .map(|j| store.counter(&format!("c{j}")).value())
            .sum();
        assert_eq!(total, 400);
        assert_eq!(
            store
                .histogram("h", Unit::Milliseconds)
                .summary()
                .sample_count,
            400
        );
    }
}
