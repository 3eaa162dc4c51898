//! `/stats?format=json`, shaped as Envoy's `StatsJsonRender` streams it:
//! `{"stats":[{"name":…,"value":…},…,{"histograms":{"supported_quantiles":[…],
//! "computed_quantiles":[{"name":…,"values":[{"cumulative":…,"interval":…},…]}]}}]}`.
//! Text readouts come first with string values; the histograms entry only when there are any.
//! Quantiles print as `%g` (NaN as `null`), like Envoy's `Json::Streamer::number`.

use std::collections::BTreeMap;

use super::histogram::QUANTILE_LABELS;
use super::num;
use super::snapshot::{HistogramStat, Snapshot};

pub(crate) fn render(snap: &Snapshot) -> String {
    let mut entries: Vec<String> = Vec::new();

    let readouts: BTreeMap<&str, &str> = snap
        .text_readouts
        .iter()
        .map(|t| (t.name.as_str(), t.value.as_str()))
        .collect();
    for (name, value) in readouts {
        entries.push(format!(
            "{{\"name\":{},\"value\":{}}}",
            quote(name),
            quote(value)
        ));
    }

    let numbers: BTreeMap<&str, u64> = snap
        .counters
        .iter()
        .chain(&snap.gauges)
        .map(|s| (s.name.as_str(), s.value))
        .collect();
    for (name, value) in numbers {
        entries.push(format!("{{\"name\":{},\"value\":{value}}}", quote(name)));
    }

    let histograms: BTreeMap<&str, &HistogramStat> = snap
        .histograms
        .iter()
        .map(|h| (h.name.as_str(), h))
        .collect();
    if !histograms.is_empty() {
        let computed: Vec<String> = histograms
            .into_iter()
            .map(|(name, h)| {
                let values: Vec<String> = h
                    .summary
                    .cumulative
                    .iter()
                    .zip(&h.summary.interval)
                    .map(|(c, i)| {
                        format!(
                            "{{\"cumulative\":{},\"interval\":{}}}",
                            number(*c),
                            number(*i)
                        )
                    })
                    .collect();
                format!(
                    "{{\"name\":{},\"values\":[{}]}}",
                    quote(name),
                    values.join(",")
                )
            })
            .collect();
        entries.push(format!(
            "{{\"histograms\":{{\"supported_quantiles\":[{}],\"computed_quantiles\":[{}]}}}}",
            QUANTILE_LABELS.join(","),
            computed.join(",")
        ));
    }

    format!("{{\"stats\":[{}]}}", entries.join(","))
}

fn quote(s: &str) -> String {
    // Serialising a &str cannot fail; fall back to an empty string rather than panic.
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_string())
}

fn number(x: f64) -> String {
    if x.is_nan() {
        "null".to_string()
    } else {
        num::general(x, 6)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use crate::proxy::stats::{Query, Store, Unit};

    #[test]
    fn shape_parses_and_matches_envoy() {
        let store = Store::new();
        store.text_readout("server.note").set("say \"hi\"\n");
        store.counter("cluster.a.upstream_rq_total").add(3);
        store.gauge("cluster.a.upstream_cx_active").set(1);
        store
            .histogram("cluster.a.upstream_rq_time", Unit::Milliseconds)
            .record(3);
        store.histogram("http.x.downstream_rq_time", Unit::Milliseconds);
        store.flush_interval();
        let text = store.render_json(&Query::default());
        let v: Value = serde_json::from_str(&text).unwrap();
        let stats = v["stats"].as_array().unwrap();
        assert_eq!(
            stats[0],
            json!({"name": "server.note", "value": "say \"hi\"\n"})
        );
        assert_eq!(
            stats[1],
            json!({"name": "cluster.a.upstream_cx_active", "value": 1})
        );
        assert_eq!(
            stats[2],
            json!({"name": "cluster.a.upstream_rq_total", "value": 3})
        );
        let h = &stats[3]["histograms"];
        assert_eq!(
            h["supported_quantiles"],
            json!([0, 25, 50, 75, 90, 95, 99, 99.5, 99.9, 100])
        );
        let computed = h["computed_quantiles"].as_array().unwrap();
        assert_eq!(computed[0]["name"], "cluster.a.upstream_rq_time");
        let values = computed[0]["values"].as_array().unwrap();
        assert_eq!(values.len(), 10);
        assert_eq!(values[0], json!({"cumulative": 3, "interval": null}));
        assert_eq!(values[1], json!({"cumulative": 3.025, "interval": null}));
        assert_eq!(values[9], json!({"cumulative": 3.1, "interval": null}));
        // A histogram that never recorded is listed with all-null values.
        assert_eq!(computed[1]["name"], "http.x.downstream_rq_time");
        assert_eq!(
            computed[1]["values"][0],
            json!({"cumulative": null, "interval": null})
        );
        // Byte-exact form of the streamed JSON.
        assert!(text.starts_with(r#"{"stats":[{"name":"server.note","value":"say \"hi\"\n"},"#));
        assert!(text.contains(concat!(
            r#"{"histograms":{"supported_quantiles":[0,25,50,75,90,95,99,99.5,99.9,100],"#,
            r#""computed_quantiles":[{"name":"cluster.a.upstream_rq_time","values":"#,
            r#"[{"cumulative":3,"interval":null},{"cumulative":3.025,"interval":null}"#
        )));
    }

    #[test]
    fn no_histograms_no_histograms_entry() {
        let store = Store::new();
        store.counter("c").inc();
        assert_eq!(
            store.render_json(&Query::default()),
            "{\"stats\":[{\"name\":\"c\",\"value\":1}]}"
        );
        assert_eq!(
            Store::new().render_json(&Query::default()),
            "{\"stats\":[]}"
        );
    }
}
