//! Per-workload traffic from Istio's standard metrics, as `mesh metrics` shows it: requests,
//! requests per second, success rate (non-5xx) and latency quantiles, for each destination
//! workload. A workload's own sidecar (`reporter="destination"`) is preferred; a workload
//! without one is seen through its clients (`reporter="source"`).
//!
//! Rates come either from one scrape per proxy (totals since the proxy started, over its
//! uptime) or from two scrapes (the difference, over the time between them).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use serde::Serialize;

use super::exposition::Sample;

/// What one proxy served at one moment.
#[derive(Debug, Clone, Default)]
pub struct Scrape {
    pub samples: Vec<Sample>,
}

impl Scrape {
    /// `envoy_server_uptime`, in seconds.
    pub fn uptime(&self) -> Option<f64> {
        self.samples
            .iter()
            .find(|s| s.name == "envoy_server_uptime")
            .map(|s| s.value)
    }
}

/// One row of the summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkloadTraffic {
    pub namespace: String,
    pub workload: String,
    /// `destination` (the workload's sidecar) or `source` (its clients).
    pub reporter: String,
    pub requests: f64,
    pub rps: f64,
    /// Share of non-5xx responses, 0–1; `None` without requests.
    pub success_rate: Option<f64>,
    /// Milliseconds; `None` without requests.
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

#[derive(Debug, Default)]
struct Acc {
    requests: f64,
    errors: f64,
    rps: f64,
    /// `le` → cumulative count (summed over series).
    buckets: BTreeMap<OrderedLe, f64>,
}

/// A bucket bound that sorts (`+Inf` last).
#[derive(Debug, Clone, Copy)]
struct OrderedLe(f64);
impl PartialEq for OrderedLe {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}
impl Eq for OrderedLe {}
impl PartialOrd for OrderedLe {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for OrderedLe {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

/// A series: metric name and labels.
type SeriesKey<'a> = (&'a str, &'a [(String, String)]);

type Key = (String, String, String); // (reporter, namespace, workload)

fn key(s: &Sample) -> Option<Key> {
    Some((
        s.label("reporter")?.to_owned(),
        s.label("destination_workload_namespace")?.to_owned(),
        s.label("destination_workload")?.to_owned(),
    ))
}

/// Adds one proxy's samples, which cover `seconds`.
fn add(accs: &mut BTreeMap<Key, Acc>, samples: &[Sample], seconds: f64) {
    for s in samples {
        let Some(k) = key(s) else { continue };
        match s.name.as_str() {
            "istio_requests_total" => {
                let acc = accs.entry(k).or_default();
                acc.requests += s.value;
                if seconds > 0.0 {
                    acc.rps += s.value / seconds;
                }
                if s.label("response_code").is_some_and(|c| c.starts_with('5')) {
                    acc.errors += s.value;
                }
            }
            "istio_request_duration_milliseconds_bucket" => {
                let le = match s.label("le") {
                    Some("+Inf") => f64::INFINITY,
                    Some(v) => match v.parse() {
                        Ok(v) => v,
                        Err(_) => continue,
                    },
                    None => continue,
                };
                *accs
                    .entry(k)
                    .or_default()
                    .buckets
                    .entry(OrderedLe(le))
                    .or_default() += s.value;
            }
            _ => {}
        }
    }
}

/// Prometheus' `histogram_quantile`: linear interpolation inside the bucket the rank falls
/// in; the highest finite bound when it falls in `+Inf`.
pub fn quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let total = buckets.last().map(|(_, c)| *c).filter(|c| *c > 0.0)?;
    let rank = q * total;
    let (mut lower, mut below) = (0.0, 0.0);
    for (le, count) in buckets {
        if *count >= rank {
            if le.is_infinite() {
                return Some(lower);
            }
            if *count == below {
                return Some(*le);
            }
            return Some(lower + (le - lower) * (rank - below) / (count - below));
        }
        lower = *le;
        below = *count;
    }
    Some(lower)
}

fn rows(accs: BTreeMap<Key, Acc>) -> Vec<WorkloadTraffic> {
    let mut by_workload: BTreeMap<(String, String), (String, Acc)> = BTreeMap::new();
    for ((reporter, ns, workload), acc) in accs {
        let slot = by_workload.entry((ns, workload));
        match slot {
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert((reporter, acc));
            }
            // The workload's own sidecar wins over what its clients saw.
            std::collections::btree_map::Entry::Occupied(mut o) => {
                if reporter == "destination" {
                    o.insert((reporter, acc));
                }
            }
        }
    }
    by_workload
        .into_iter()
        .map(|((namespace, workload), (reporter, acc))| {
            let buckets: Vec<(f64, f64)> = acc.buckets.iter().map(|(le, c)| (le.0, *c)).collect();
            let any = acc.requests > 0.0;
            WorkloadTraffic {
                namespace,
                workload,
                reporter,
                requests: acc.requests,
                rps: acc.rps,
                success_rate: any.then(|| (acc.requests - acc.errors) / acc.requests),
                p50_ms: any.then(|| quantile(0.5, &buckets)).flatten(),
                p99_ms: any.then(|| quantile(0.99, &buckets)).flatten(),
            }
        })
        .collect()
}

/// Totals since each proxy started; rates over its uptime.
pub fn since_start(scrapes: &[Scrape]) -> Vec<WorkloadTraffic> {
    let mut accs = BTreeMap::new();
    for s in scrapes {
        add(&mut accs, &s.samples, s.uptime().unwrap_or(0.0).max(1.0));
    }
    rows(accs)
}

/// What happened between two scrapes of the same proxies (in the same order), `elapsed`
/// apart. A series that went down (a proxy restarted) counts from zero.
pub fn over_window(before: &[Scrape], after: &[Scrape], elapsed: Duration) -> Vec<WorkloadTraffic> {
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    let mut accs = BTreeMap::new();
    for delta in deltas(before, after) {
        add(&mut accs, &delta, seconds);
    }
    rows(accs)
}

/// Each proxy's samples minus what it had in `before`.
fn deltas(before: &[Scrape], after: &[Scrape]) -> Vec<Vec<Sample>> {
    after
        .iter()
        .enumerate()
        .map(|(i, a)| {
            let old: BTreeMap<SeriesKey<'_>, f64> = before
                .get(i)
                .map(|b| {
                    b.samples
                        .iter()
                        .map(|s| ((s.name.as_str(), s.labels.as_slice()), s.value))
                        .collect()
                })
                .unwrap_or_default();
            a.samples
                .iter()
                .map(|s| {
                    let was = old
                        .get(&(s.name.as_str(), s.labels.as_slice()))
                        .copied()
                        .unwrap_or(0.0);
                    let value = if s.value >= was {
                        s.value - was
                    } else {
                        s.value
                    };
                    Sample { value, ..s.clone() }
                })
                .collect()
        })
        .collect()
}

/// One edge of the service graph: requests per second from one workload to another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Edge {
    /// `workload.namespace` (`unknown` for a client without a sidecar).
    pub source: String,
    pub destination: String,
    pub rps: f64,
}

/// The service graph between two scrapes: `istio_requests_total` per (source, destination)
/// workload, from the destination's sidecar when it reported, else from the source's.
pub fn edges_over_window(before: &[Scrape], after: &[Scrape], elapsed: Duration) -> Vec<Edge> {
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    // (source, destination) -> (reporter -> requests)
    let mut seen: BTreeMap<(String, String), BTreeMap<String, f64>> = BTreeMap::new();
    for delta in deltas(before, after) {
        for s in delta.iter().filter(|s| s.name == "istio_requests_total") {
            let workload = |w: &str, ns: &str| match (s.label(w), s.label(ns)) {
                (Some(w), Some(ns)) if w != "unknown" => format!("{w}.{ns}"),
                _ => "unknown".to_owned(),
            };
            let key = (
                workload("source_workload", "source_workload_namespace"),
                workload("destination_workload", "destination_workload_namespace"),
            );
            let reporter = s.label("reporter").unwrap_or("").to_owned();
            *seen.entry(key).or_default().entry(reporter).or_default() += s.value;
        }
    }
    seen.into_iter()
        .map(|((source, destination), by_reporter)| {
            let requests = by_reporter
                .get("destination")
                .or_else(|| by_reporter.get("source"))
                .copied()
                .unwrap_or(0.0);
            Edge {
                source,
                destination,
                rps: requests / seconds,
            }
        })
        .collect()
}

/// The port Istio's proxies serve Prometheus on.
pub const PROMETHEUS_PORT: u16 = 15090;

/// One scrape of every proxy (`(name, prometheus address)`) in order; an unreachable or
/// unreadable one counts as empty and is reported in the second list.
pub async fn scrape_all(targets: &[(String, SocketAddr)]) -> (Vec<Scrape>, Vec<String>) {
    let mut out = Vec::with_capacity(targets.len());
    let mut warnings = Vec::new();
    for (name, addr) in targets {
        let samples =
            match super::admin_request(*addr, http::Method::GET, "/stats/prometheus").await {
                Ok((200, text)) => super::exposition::parse(&text).unwrap_or_else(|e| {
                    warnings.push(format!("{name}: unreadable metrics from {addr}: {e}"));
                    Vec::new()
                }),
                Ok((status, _)) => {
                    warnings.push(format!("{name}: {addr} answered {status}"));
                    Vec::new()
                }
                Err(e) => {
                    warnings.push(format!("{name}: {e}"));
                    Vec::new()
                }
            };
        out.push(Scrape { samples });
    }
    (out, warnings)
}

/// Every proxy's Prometheus address, from the sandbox's `GET /v1/proxies` answer.
pub fn prometheus_targets(proxies: &serde_json::Value) -> Vec<(String, SocketAddr)> {
    proxies["proxies"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let admin: SocketAddr = p["admin"].as_str()?.parse().ok()?;
            Some((
                p["name"].as_str().unwrap_or_default().to_owned(),
                SocketAddr::new(admin.ip(), PROMETHEUS_PORT),
            ))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::exposition::parse;

    fn scrape(text: &str) -> Scrape {
        Scrape {
            samples: parse(text).unwrap(),
        }
    }

    const L: &str =
        "destination_workload=\"catalog\",destination_workload_namespace=\"istioinaction\"";

    fn catalog(reporter: &str, ok: u32, errors: u32, uptime: u32) -> String {
        format!(
            "envoy_server_uptime{{}} {uptime}\n\
             istio_requests_total{{reporter=\"{reporter}\",{L},response_code=\"200\"}} {ok}\n\
             istio_requests_total{{reporter=\"{reporter}\",{L},response_code=\"503\"}} {errors}\n\
             istio_request_duration_milliseconds_bucket{{reporter=\"{reporter}\",{L},response_code=\"200\",le=\"5\"}} {ok}\n\
             istio_request_duration_milliseconds_bucket{{reporter=\"{reporter}\",{L},response_code=\"200\",le=\"10\"}} {ok}\n\
             istio_request_duration_milliseconds_bucket{{reporter=\"{reporter}\",{L},response_code=\"200\",le=\"+Inf\"}} {ok}\n\
             istio_request_duration_milliseconds_bucket{{reporter=\"{reporter}\",{L},response_code=\"503\",le=\"5\"}} 0\n\
             istio_request_duration_milliseconds_bucket{{reporter=\"{reporter}\",{L},response_code=\"503\",le=\"10\"}} {errors}\n\
             istio_request_duration_milliseconds_bucket{{reporter=\"{reporter}\",{L},response_code=\"503\",le=\"+Inf\"}} {errors}\n"
        )
    }

    #[test]
    fn since_start_prefers_the_destination_sidecar() {
        let rows = since_start(&[
            scrape(&catalog("destination", 9, 1, 10)),
            scrape(&catalog("source", 100, 0, 10)),
        ]);
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!(
            (r.workload.as_str(), r.reporter.as_str()),
            ("catalog", "destination")
        );
        assert_eq!(r.requests, 10.0);
        assert_eq!(r.rps, 1.0);
        assert_eq!(r.success_rate, Some(0.9));
        // 9 of 10 at or below 5 ms: the median interpolates inside [0, 5].
        assert_eq!(r.p50_ms, Some(5.0 * 5.0 / 9.0));
        // The 99th percentile falls in (5, 10].
        assert_eq!(r.p99_ms, Some(5.0 + 5.0 * (9.9 - 9.0) / 1.0));
    }

    #[test]
    fn window_is_the_difference() {
        let before = [scrape(&catalog("destination", 10, 0, 10))];
        let after = [scrape(&catalog("destination", 30, 0, 12))];
        let rows = over_window(&before, &after, Duration::from_secs(2));
        assert_eq!(rows[0].requests, 20.0);
        assert_eq!(rows[0].rps, 10.0);
        assert_eq!(rows[0].success_rate, Some(1.0));
        // Nothing new: no rate, no quantiles.
        let idle = over_window(&after, &after, Duration::from_secs(1));
        assert_eq!((idle[0].requests, idle[0].p50_ms), (0.0, None));
    }

    #[test]
    fn quantiles_like_prometheus() {
        let b = [(1.0, 0.0), (5.0, 10.0), (f64::INFINITY, 10.0)];
        assert_eq!(quantile(0.5, &b), Some(3.0));
        let inf = [(1.0, 0.0), (f64::INFINITY, 4.0)];
        assert_eq!(quantile(0.5, &inf), Some(1.0));
        assert_eq!(quantile(0.5, &[(1.0, 0.0)]), None);
    }

    #[test]
    fn edges_prefer_the_destination_reporter() {
        let line = |reporter: &str, n: u32| {
            format!(
                "istio_requests_total{{reporter=\"{reporter}\",source_workload=\"webapp\",source_workload_namespace=\"istioinaction\",destination_workload=\"catalog\",destination_workload_namespace=\"istioinaction\",response_code=\"200\"}} {n}\n"
            )
        };
        let before = [
            scrape(&line("source", 10)),
            scrape(&line("destination", 10)),
        ];
        let after = [
            scrape(&line("source", 30)),
            scrape(&line("destination", 28)),
        ];
        let edges = edges_over_window(&before, &after, Duration::from_secs(2));
        assert_eq!(
            edges,
            [Edge {
                source: "webapp.istioinaction".into(),
                destination: "catalog.istioinaction".into(),
                rps: 9.0,
            }]
        );
    }
}
