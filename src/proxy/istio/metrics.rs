//! Istio's standard metrics in the proxy's stats store, under the `istiocustom` namespace so
//! Prometheus sees `istio_requests_total{reporter="…",…}`. Each distinct label set is one
//! series; its handles are cached so a request costs one map lookup.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use super::super::stats::{Counter, Histogram, ISTIO_NAMESPACE, Store, Tag, TagExtracted, Unit};

/// The handles of one HTTP label set.
#[derive(Debug)]
struct HttpSeries {
    requests: Counter,
    duration: Histogram,
    request_bytes: Histogram,
    response_bytes: Histogram,
}

/// The handles of one TCP label set.
#[derive(Debug)]
pub struct TcpSeries {
    pub opened: Counter,
    pub closed: Counter,
    pub sent: Counter,
    pub received: Counter,
}

/// One proxy's Istio metrics.
#[derive(Debug)]
pub struct IstioMetrics {
    store: Store,
    http: RwLock<HashMap<String, Arc<HttpSeries>>>,
    tcp: RwLock<HashMap<String, Arc<TcpSeries>>>,
}

/// `.reporter.destination.source_workload.webapp…`: the tags as Envoy appends them to a stat
/// name (what `/stats` prints after `istiocustom.<metric>`).
fn suffix(tags: &[Tag]) -> String {
    let mut s = String::with_capacity(tags.len() * 32);
    for t in tags {
        s.push('.');
        s.push_str(t.name);
        s.push('.');
        s.push_str(&t.value);
    }
    s
}

fn get_or_make<T>(
    map: &RwLock<HashMap<String, Arc<T>>>,
    key: String,
    make: impl FnOnce(&str) -> T,
) -> Arc<T> {
    if let Some(s) = map.read().unwrap_or_else(PoisonError::into_inner).get(&key) {
        return s.clone();
    }
    let mut w = map.write().unwrap_or_else(PoisonError::into_inner);
    let made = make(&key);
    w.entry(key).or_insert_with(|| Arc::new(made)).clone()
}

impl IstioMetrics {
    pub fn new(store: &Store) -> IstioMetrics {
        IstioMetrics {
            store: store.clone(),
            http: RwLock::default(),
            tcp: RwLock::default(),
        }
    }

    fn counter(&self, metric: &str, suffix: &str, tags: &[Tag]) -> Counter {
        let tagged = || TagExtracted {
            name: format!("{ISTIO_NAMESPACE}.{metric}"),
            tags: tags.to_vec(),
        };
        self.store
            .counter_tagged(&format!("{ISTIO_NAMESPACE}.{metric}{suffix}"), tagged)
    }

    fn histogram(&self, metric: &str, unit: Unit, suffix: &str, tags: &[Tag]) -> Histogram {
        let tagged = || TagExtracted {
            name: format!("{ISTIO_NAMESPACE}.{metric}"),
            tags: tags.to_vec(),
        };
        self.store
            .histogram_tagged(&format!("{ISTIO_NAMESPACE}.{metric}{suffix}"), unit, tagged)
    }

    /// `istio_build{component="proxy",tag="<ISTIO_VERSION>"} 1`: which Istio the proxy is.
    pub fn build_info(&self, version: &str) {
        let version = if version.is_empty() {
            "unknown"
        } else {
            version
        };
        let tags = vec![
            Tag {
                name: "component",
                value: "proxy".into(),
            },
            Tag {
                name: "tag",
                value: version.to_owned(),
            },
        ];
        let name = format!("{ISTIO_NAMESPACE}.istio_build{}", suffix(&tags));
        self.store
            .gauge_tagged(&name, || TagExtracted {
                name: format!("{ISTIO_NAMESPACE}.istio_build"),
                tags,
            })
            .set(1);
    }

    /// One finished HTTP request. Byte histograms use Envoy's default buckets, as Istio's
    /// sidecars do without a `statsHistogramBuckets` annotation.
    pub fn record_http(
        &self,
        tags: &[Tag],
        duration_ms: u64,
        request_bytes: u64,
        response_bytes: u64,
    ) {
        let s = get_or_make(&self.http, suffix(tags), |sfx| HttpSeries {
            requests: self.counter("istio_requests_total", sfx, tags),
            duration: self.histogram(
                "istio_request_duration_milliseconds",
                Unit::Milliseconds,
                sfx,
                tags,
            ),
            request_bytes: self.histogram("istio_request_bytes", Unit::Bytes, sfx, tags),
            response_bytes: self.histogram("istio_response_bytes", Unit::Bytes, sfx, tags),
        });
        s.requests.inc();
        s.duration.record(duration_ms);
        s.request_bytes.record(request_bytes);
        s.response_bytes.record(response_bytes);
    }

    /// The TCP counters of one label set.
    pub fn tcp(&self, tags: &[Tag]) -> Arc<TcpSeries> {
        get_or_make(&self.tcp, suffix(tags), |sfx| TcpSeries {
            opened: self.counter("istio_tcp_connections_opened_total", sfx, tags),
            closed: self.counter("istio_tcp_connections_closed_total", sfx, tags),
            sent: self.counter("istio_tcp_sent_bytes_total", sfx, tags),
            received: self.counter("istio_tcp_received_bytes_total", sfx, tags),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::stats::Query;

    fn tags(code: &str) -> Vec<Tag> {
        vec![
            Tag {
                name: "reporter",
                value: "destination".into(),
            },
            Tag {
                name: "destination_service",
                value: "catalog.istioinaction.svc.cluster.local".into(),
            },
            Tag {
                name: "response_code",
                value: code.into(),
            },
        ]
    }

    #[test]
    fn renders_istio_families_in_prometheus() {
        let store = Store::new();
        let m = IstioMetrics::new(&store);
        m.record_http(&tags("200"), 3, 0, 120);
        m.record_http(&tags("200"), 7, 0, 120);
        m.record_http(&tags("503"), 1, 0, 19);
        let text = store.render_prometheus(&Query::default());
        assert!(text.contains(
            "# TYPE istio_requests_total counter\n\
             istio_requests_total{reporter=\"destination\",destination_service=\"catalog.istioinaction.svc.cluster.local\",response_code=\"200\"} 2\n\
             istio_requests_total{reporter=\"destination\",destination_service=\"catalog.istioinaction.svc.cluster.local\",response_code=\"503\"} 1\n"
        ), "{text}");
        assert_eq!(
            text.matches("# TYPE istio_request_duration_milliseconds histogram")
                .count(),
            1
        );
        assert!(text.contains("istio_request_duration_milliseconds_bucket{reporter=\"destination\",destination_service=\"catalog.istioinaction.svc.cluster.local\",response_code=\"200\",le=\"5\"} 1\n"));
        assert!(text.contains("istio_response_bytes_count{reporter=\"destination\",destination_service=\"catalog.istioinaction.svc.cluster.local\",response_code=\"503\"} 1\n"));
        m.build_info("1.26.0");
        let text = store.render_prometheus(&Query::default());
        assert!(
            text.contains(
                "# TYPE istio_build gauge\nistio_build{component=\"proxy\",tag=\"1.26.0\"} 1\n"
            ),
            "{text}"
        );
        // `/stats` keeps Envoy's full names.
        let plain = store.render_text(&Query::default());
        assert!(plain.contains("istiocustom.istio_requests_total.reporter.destination.destination_service.catalog.istioinaction.svc.cluster.local.response_code.200: 2\n"), "{plain}");
    }

    #[test]
    fn tcp_series_are_shared_per_label_set() {
        let store = Store::new();
        let m = IstioMetrics::new(&store);
        let a = m.tcp(&tags("0")[..2]);
        a.opened.inc();
        m.tcp(&tags("0")[..2]).opened.inc();
        assert_eq!(a.opened.value(), 2);
    }
}
