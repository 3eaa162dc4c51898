//! `/stats` text, as Envoy's `StatsTextRender` writes it: text readouts first, then counters and
//! gauges together, then histograms, each group sorted by name (byte order).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::histogram::QUANTILE_LABELS;
use super::num;
use super::snapshot::{HistogramStat, Snapshot};

pub(crate) fn render(snap: &Snapshot) -> String {
    let mut out = String::new();

    let readouts: BTreeMap<&str, &str> = snap
        .text_readouts
        .iter()
        .map(|t| (t.name.as_str(), t.value.as_str()))
        .collect();
    for (name, value) in readouts {
        let _ = writeln!(out, "{name}: \"{value}\"");
    }

    // One map for both kinds, so they interleave by name as in Envoy.
    let numbers: BTreeMap<&str, u64> = snap
        .counters
        .iter()
        .chain(&snap.gauges)
        .map(|s| (s.name.as_str(), s.value))
        .collect();
    for (name, value) in numbers {
        let _ = writeln!(out, "{name}: {value}");
    }

    let histograms: BTreeMap<&str, &HistogramStat> = snap
        .histograms
        .iter()
        .map(|h| (h.name.as_str(), h))
        .collect();
    for (name, h) in histograms {
        let _ = writeln!(out, "{name}: {}", quantile_summary(h));
    }
    out
}

/// `P0(i,c) P25(i,c) … P100(i,c)`, or `No recorded values` for a never-written histogram.
pub(crate) fn quantile_summary(h: &HistogramStat) -> String {
    if !h.used {
        return "No recorded values".to_string();
    }
    let s = &h.summary;
    QUANTILE_LABELS
        .iter()
        .zip(s.interval.iter().zip(&s.cumulative))
        .map(|(label, (i, c))| format!("P{label}({},{})", num::shortest(*i), num::shortest(*c)))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use crate::proxy::stats::{Query, Store, Unit};

    #[test]
    fn groups_and_orders_like_envoy() {
        let store = Store::new();
        store.counter("cluster.b.upstream_rq_total").add(2);
        store.gauge("cluster.a.upstream_cx_active").set(1);
        store.counter("cluster.a.upstream_cx_total").inc();
        store.text_readout("server.version_text").set("1.0");
        store.text_readout("a.readout").set("x");
        store.histogram("cluster.a.upstream_rq_time", Unit::Milliseconds);
        store
            .histogram("cluster.a.upstream_cx_connect_ms", Unit::Milliseconds)
            .record(3);
        store.flush_interval();
        let text = store.render_text(&Query::default());
        assert_eq!(
            text,
            "a.readout: \"x\"\n\
             server.version_text: \"1.0\"\n\
             cluster.a.upstream_cx_active: 1\n\
             cluster.a.upstream_cx_total: 1\n\
             cluster.b.upstream_rq_total: 2\n\
             cluster.a.upstream_cx_connect_ms: P0(nan,3) P25(nan,3.025) P50(nan,3.05) \
             P75(nan,3.075) P90(nan,3.09) P95(nan,3.095) P99(nan,3.099) P99.5(nan,3.0995) \
             P99.9(nan,3.0999) P100(nan,3.1)\n\
             cluster.a.upstream_rq_time: No recorded values\n"
        );
    }

    #[test]
    fn current_interval_shows_in_both_columns() {
        let store = Store::new();
        let h = store.histogram("h", Unit::Unspecified);
        h.record(1050);
        let text = store.render_text(&Query::default());
        // 1050 keeps two significant digits: bin [1000, 1100).
        assert!(
            text.starts_with("h: P0(1000,1000) P25(1025,1025) P50(1050,1050)"),
            "{text}"
        );
        assert!(text.ends_with("P100(1100,1100)\n"), "{text}");
    }

    #[test]
    fn usedonly_filter_and_type() {
        let store = Store::new();
        store.counter("cluster.a.upstream_rq_retry").inc();
        store.counter("cluster.a.upstream_rq_total");
        store.gauge("cluster.a.upstream_cx_active");
        store.histogram("cluster.a.upstream_rq_time", Unit::Milliseconds);
        let params = |pairs: &[(&str, &str)]| {
            let v: Vec<(String, String)> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Query::from_params(&v).unwrap()
        };
        assert_eq!(
            store.render_text(&params(&[("usedonly", "")])),
            "cluster.a.upstream_rq_retry: 1\n"
        );
        assert_eq!(
            store.render_text(&params(&[("filter", "retry|active")])),
            "cluster.a.upstream_cx_active: 0\ncluster.a.upstream_rq_retry: 1\n"
        );
        assert_eq!(
            store.render_text(&params(&[("type", "Histograms")])),
            "cluster.a.upstream_rq_time: No recorded values\n"
        );
        assert_eq!(
            store.render_text(&params(&[("type", "Gauges")])),
            "cluster.a.upstream_cx_active: 0\n"
        );
        assert_eq!(store.render_text(&params(&[("filter", "^nothing$")])), "");
    }
}
