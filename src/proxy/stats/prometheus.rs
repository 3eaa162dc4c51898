//! `/stats/prometheus`: text exposition 0.0.4 as Envoy's `PrometheusStatsFormatter` writes it.
//!
//! Metric name = `envoy_` + tag-extracted name with every char outside `[a-zA-Z0-9_]` turned
//! into `_`; tags become labels in extraction order. Families come counters, gauges, text
//! readouts (only with `text_readouts`, as gauges of value 0 with a `text_value` label), then
//! histograms; each family is one `# TYPE` line, its series, and a blank line. Families sort by
//! tag-extracted name and series by full name, both compared token by token (dot-separated),
//! as Envoy's symbol table does.

use std::cmp::Ordering;
use std::fmt::Write as _;

use super::histogram::DEFAULT_BUCKETS;
use super::num;
use super::snapshot::Snapshot;
use super::tags::{self, Tag, TagExtracted};

pub(crate) fn render(snap: &Snapshot, text_readouts: bool) -> String {
    let mut out = String::new();
    write_families(
        &mut out,
        "counter",
        &snap.counters,
        |s| (&s.name, &s.tagged),
        |out, metric, labels, s| {
            let _ = writeln!(out, "{metric}{{{labels}}} {}", s.value);
        },
    );
    write_families(
        &mut out,
        "gauge",
        &snap.gauges,
        |s| (&s.name, &s.tagged),
        |out, metric, labels, s| {
            let _ = writeln!(out, "{metric}{{{labels}}} {}", s.value);
        },
    );
    if text_readouts {
        write_families(
            &mut out,
            "gauge",
            &snap.text_readouts,
            |s| (&s.name, &s.tagged),
            |out, metric, labels, s| {
                let value = format!("text_value=\"{}\"", escape_value(&s.value));
                let labels = if labels.is_empty() {
                    value
                } else {
                    format!("{labels},{value}")
                };
                let _ = writeln!(out, "{metric}{{{labels}}} 0");
            },
        );
    }
    write_families(
        &mut out,
        "histogram",
        &snap.histograms,
        |s| (&s.name, &s.tagged),
        |out, metric, labels, h| {
            let sep = if labels.is_empty() { "" } else { "," };
            let s = &h.summary;
            for (bound, count) in DEFAULT_BUCKETS.iter().zip(&s.buckets) {
                let le = num::general(*bound, 32);
                let _ = writeln!(out, "{metric}_bucket{{{labels}{sep}le=\"{le}\"}} {count}");
            }
            let _ = writeln!(
                out,
                "{metric}_bucket{{{labels}{sep}le=\"+Inf\"}} {}",
                s.sample_count
            );
            let _ = writeln!(
                out,
                "{metric}_sum{{{labels}}} {}",
                num::general(s.sample_sum, 32)
            );
            let _ = writeln!(out, "{metric}_count{{{labels}}} {}", s.sample_count);
        },
    );
    out
}

/// Groups `stats` by tag-extracted name and writes one family per group.
fn write_families<T>(
    out: &mut String,
    kind: &str,
    stats: &[T],
    parts: impl Fn(&T) -> (&String, &Option<TagExtracted>),
    write: impl Fn(&mut String, &str, &str, &T),
) {
    let mut rows: Vec<(&str, TagExtracted, &T)> = stats
        .iter()
        .map(|s| {
            let (name, tagged) = parts(s);
            let tagged = tagged.clone().unwrap_or_else(|| tags::extract(name));
            (name.as_str(), tagged, s)
        })
        .collect();
    rows.sort_by(|a, b| token_cmp(&a.1.name, &b.1.name).then_with(|| token_cmp(a.0, b.0)));

    let mut current: Option<&str> = None;
    for (_, tagged, stat) in &rows {
        let metric = metric_name(&tagged.name);
        if current != Some(tagged.name.as_str()) {
            if current.is_some() {
                out.push('\n');
            }
            let _ = writeln!(out, "# TYPE {metric} {kind}");
            current = Some(tagged.name.as_str());
        }
        write(out, &metric, &labels(&tagged.tags), stat);
    }
    if current.is_some() {
        out.push('\n');
    }
}

/// Compares stat names token by token, like Envoy's `SymbolTable::lessThan`.
fn token_cmp(a: &str, b: &str) -> Ordering {
    a.split('.').cmp(b.split('.'))
}

/// `envoy_` + the tag-extracted name made Prometheus-safe; a stat in a custom namespace
/// drops the namespace and gets no prefix (Envoy's `PrometheusStatsFormatter::metricName`).
fn metric_name(tag_extracted: &str) -> String {
    for ns in super::CUSTOM_NAMESPACES {
        if let Some(rest) = tag_extracted
            .strip_prefix(ns)
            .and_then(|r| r.strip_prefix('.'))
        {
            return sanitize_name(rest);
        }
    }
    format!("envoy_{}", sanitize_name(tag_extracted))
}

/// Replaces every char outside `[a-zA-Z0-9_]` with `_`.
fn sanitize_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Escapes a label value as the exposition format requires: `\`, newline and `"`.
fn escape_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str(r"\\"),
            '\n' => out.push_str(r"\n"),
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

fn labels(tags: &[Tag]) -> String {
    tags.iter()
        .map(|t| format!("{}=\"{}\"", sanitize_name(t.name), escape_value(&t.value)))
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::stats::{Query, Store, Unit};

    #[test]
    fn real_capture_names_and_label_order() {
        let store = Store::new();
        store.counter("cluster.foo.upstream_rq_2xx").add(450142);
        store.counter("cluster.foo.upstream_rq_503").add(30);
        let text = store.render_prometheus(&Query::default());
        assert_eq!(
            text,
            "# TYPE envoy_cluster_upstream_rq counter\n\
             envoy_cluster_upstream_rq{envoy_response_code=\"503\",envoy_cluster_name=\"foo\"} 30\n\
             \n\
             # TYPE envoy_cluster_upstream_rq_xx counter\n\
             envoy_cluster_upstream_rq_xx{envoy_response_code_class=\"2\",envoy_cluster_name=\"foo\"} 450142\n\
             \n"
        );
    }

    #[test]
    fn families_ordered_counters_gauges_histograms() {
        let store = Store::new();
        store.gauge("server.uptime").set(5);
        store.counter("cluster.b.upstream_cx_total").add(2);
        store.counter("cluster.a.upstream_cx_total").add(1);
        store.counter("cluster_manager.cluster_added").add(1);
        store
            .histogram("server.initialization_time_ms", Unit::Milliseconds)
            .record(3);
        store
            .text_readout("server.hot_restart_generation_text")
            .set("1");
        let text = store.render_prometheus(&Query::default());
        let want = "\
# TYPE envoy_cluster_upstream_cx_total counter
envoy_cluster_upstream_cx_total{envoy_cluster_name=\"a\"} 1
envoy_cluster_upstream_cx_total{envoy_cluster_name=\"b\"} 2

# TYPE envoy_cluster_manager_cluster_added counter
envoy_cluster_manager_cluster_added{} 1

# TYPE envoy_server_uptime gauge
envoy_server_uptime{} 5

# TYPE envoy_server_initialization_time_ms histogram
envoy_server_initialization_time_ms_bucket{le=\"0.5\"} 0
envoy_server_initialization_time_ms_bucket{le=\"1\"} 0
envoy_server_initialization_time_ms_bucket{le=\"5\"} 1
";
        assert!(text.starts_with(want), "{text}");
        assert!(text.contains("envoy_server_initialization_time_ms_bucket{le=\"3600000\"} 1\n"));
        assert!(
            text.ends_with(
                "envoy_server_initialization_time_ms_bucket{le=\"+Inf\"} 1\n\
             envoy_server_initialization_time_ms_sum{} 3.049999999999999822364316059975\n\
             envoy_server_initialization_time_ms_count{} 1\n\n"
            ),
            "{text}"
        );
        // Text readouts only on request.
        assert!(!text.contains("hot_restart"));

        // A histogram that never recorded still renders, with zeros.
        let store = Store::new();
        store.histogram("cluster.a.upstream_rq_time", Unit::Milliseconds);
        let text = store.render_prometheus(&Query::default());
        assert!(text.contains(
            "envoy_cluster_upstream_rq_time_bucket{envoy_cluster_name=\"a\",le=\"0.5\"} 0\n"
        ));
        assert!(
            text.ends_with(
                "envoy_cluster_upstream_rq_time_sum{envoy_cluster_name=\"a\"} 0\n\
             envoy_cluster_upstream_rq_time_count{envoy_cluster_name=\"a\"} 0\n\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn text_readouts_as_gauges_when_asked() {
        let store = Store::new();
        store
            .text_readout("cluster.c1.version_text")
            .set("v\"1\"\\\n");
        let q = Query {
            text_readouts_in_prometheus: true,
            ..Query::default()
        };
        assert_eq!(
            store.render_prometheus(&q),
            "# TYPE envoy_cluster_version_text gauge\n\
             envoy_cluster_version_text{envoy_cluster_name=\"c1\",text_value=\"v\\\"1\\\"\\\\\\n\"} 0\n\n"
        );
    }

    #[test]
    fn label_values_are_escaped_and_names_sanitized() {
        assert_eq!(escape_value("a\\b\"c\nd|e"), "a\\\\b\\\"c\\nd|e");
        assert_eq!(sanitize_name("a.b-c|d:e"), "a_b_c_d_e");
        assert_eq!(
            metric_name("listener.admin.http.downstream_rq_xx"),
            "envoy_listener_admin_http_downstream_rq_xx"
        );
        let store = Store::new();
        store
            .counter(
                "cluster.outbound|80||webapp.istioinaction.svc.cluster.local.upstream_cx_total",
            )
            .inc();
        let text = store.render_prometheus(&Query::default());
        assert_eq!(
            text,
            "# TYPE envoy_cluster_istioinaction_svc_cluster_local_upstream_cx_total counter\n\
             envoy_cluster_istioinaction_svc_cluster_local_upstream_cx_total{envoy_cluster_name=\"outbound|80||webapp\"} 1\n\n"
        );
    }

    #[test]
    fn usedonly_filter_and_token_order() {
        let store = Store::new();
        store.counter("a.b").inc();
        store.counter("a-x.b").inc();
        store.counter("unused.counter");
        let q = Query {
            used_only: true,
            ..Query::default()
        };
        let text = store.render_prometheus(&q);
        // Token order puts `a` before `a-x` (byte order would not).
        assert_eq!(
            text,
            "# TYPE envoy_a_b counter\nenvoy_a_b{} 1\n\n# TYPE envoy_a_x_b counter\nenvoy_a_x_b{} 1\n\n"
        );
        let q = Query {
            filter: Some(regex::Regex::new("^a-").unwrap()),
            ..Query::default()
        };
        assert_eq!(
            store.render_prometheus(&q),
            "# TYPE envoy_a_x_b counter\nenvoy_a_x_b{} 1\n\n"
        );
        assert_eq!(Store::new().render_prometheus(&Query::default()), "");
    }

    /// Runs `promtool check metrics` on a realistic exposition. Exit 1 (parse/format errors)
    /// fails; exit 3 (lint findings only, which Envoy's own output also gets) passes.
    #[test]
    fn promtool_accepts_exposition() {
        use std::process::{Command, Stdio};

        let store = Store::new();
        let cluster = store.scope("cluster.outbound|80||webapp.istioinaction.svc.cluster.local");
        cluster.counter("upstream_rq_200").add(7);
        cluster.counter("upstream_rq_2xx").add(7);
        cluster.counter("upstream_rq_503").add(1);
        cluster.gauge("upstream_cx_active").set(2);
        cluster
            .histogram("upstream_rq_time", Unit::Milliseconds)
            .record(12);
        store.counter("cluster.xds-grpc.upstream_cx_total").inc();
        store.counter("http.ingress_http.downstream_rq_2xx").add(3);
        store
            .counter("listener.0.0.0.0_15001.downstream_cx_total")
            .add(4);
        store
            .counter("listener.[__1]_80.downstream_cx_total")
            .add(1);
        store
            .counter("listener.admin.http.admin.downstream_rq_2xx")
            .add(1);
        store.gauge("server.uptime").set(42);
        store
            .histogram("http.ingress_http.downstream_rq_time", Unit::Milliseconds)
            .record(0);
        store.histogram(
            "http.ingress_http.downstream_cx_length_ms",
            Unit::Milliseconds,
        );
        store
            .text_readout("server.version_text")
            .set("mesh \"dev\"\n");
        let q = Query {
            text_readouts_in_prometheus: true,
            ..Query::default()
        };
        let text = store.render_prometheus(&q);

        let path = std::env::temp_dir().join(format!(
            "mesh-stats-promtool-{}-{:?}.prom",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        std::fs::write(&path, &text).unwrap();
        let input = std::fs::File::open(&path).unwrap();
        let output = match Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::from(input))
            .output()
        {
            Ok(output) => output,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let _ = std::fs::remove_file(&path);
                assert!(
                    std::env::var("MESH_REQUIRE_TOOLS").as_deref() != Ok("1"),
                    "promtool not installed but MESH_REQUIRE_TOOLS=1"
                );
                println!("notice: promtool not installed; skipping");
                return;
            }
            Err(e) => panic!("running promtool: {e}"),
        };
        let _ = std::fs::remove_file(&path);
        let code = output.status.code();
        assert!(
            matches!(code, Some(0) | Some(3)),
            "promtool check metrics exited {code:?}\nstdout: {}\nstderr: {}\ninput:\n{text}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr),
        );
    }
}
