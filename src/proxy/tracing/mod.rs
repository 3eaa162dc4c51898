//! Distributed tracing as Envoy's HTTP connection manager does it with the Zipkin tracer: a
//! sampling decision at the edge (or the caller's, from B3 headers), one span per request per
//! proxy, B3 context for the next hop, and spans reported in the background ([`reporter`]).

pub mod b3;
pub mod reporter;
pub mod zipkin;

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderName};

use crate::xds::hcm::{CollectorEndpointVersion, Percent, TracerConfig, Tracing, TracingProvider};
use crate::xds::listener::TrafficDirection;

use super::Rejected;
use super::access_log::Record;
use super::stats::{Counter, Scope};
use b3::TraceId;
use reporter::Collector;
use zipkin::{Endpoint, Kind, Span};

const DECORATOR_OPERATION: HeaderName = HeaderName::from_static("x-envoy-decorator-operation");

/// Envoy's default `max_path_tag_length`.
const DEFAULT_MAX_PATH_TAG: usize = 256;

/// `http.<stat_prefix>.tracing.*`: why requests were (not) traced.
#[derive(Debug)]
pub struct TracingStats {
    random_sampling: Counter,
    service_forced: Counter,
    client_enabled: Counter,
    not_traceable: Counter,
}

impl TracingStats {
    pub fn new(hcm_scope: &Scope) -> TracingStats {
        let s = hcm_scope.scope("tracing");
        s.counter("health_check");
        TracingStats {
            random_sampling: s.counter("random_sampling"),
            service_forced: s.counter("service_forced"),
            client_enabled: s.counter("client_enabled"),
            not_traceable: s.counter("not_traceable"),
        }
    }
}

#[derive(Debug)]
enum TagValue {
    Literal(String),
    Header(HeaderName, String),
}

/// An HCM's `tracing`, compiled.
#[derive(Debug)]
pub struct TracingRt {
    pub collector: Collector,
    client_sampling: f64,
    random_sampling: f64,
    overall_sampling: f64,
    wide_ids: bool,
    shared_span_context: bool,
    spawn_upstream_span: bool,
    /// The kind of the connection manager's own span.
    kind: Kind,
    /// An outbound listener's connection manager (Envoy's egress operation).
    egress: bool,
    custom_tags: Vec<(String, TagValue)>,
    max_path_tag_length: usize,
    pub stats: TracingStats,
}

/// Percent → fraction, checking Envoy's `[0, 100]` bound.
fn fraction(p: Option<Percent>, path: &str, errors: &mut Vec<Rejected>) -> f64 {
    let v = p.map_or(100.0, |p| p.value);
    if !(0.0..=100.0).contains(&v) || v.is_nan() {
        errors.push(Rejected::new(
            format!("{path}.value"),
            "PercentValidationError.Value: value must be inside range [0, 100]",
        ));
    }
    v / 100.0
}

impl TracingRt {
    /// Validates `tracing` with its own provider, or else the bootstrap's; `Ok(None)` when
    /// neither names one (nothing to report to).
    pub fn build(
        cfg: &Tracing,
        path: &str,
        direction: TrafficDirection,
        clusters: Option<&HashSet<String>>,
        bootstrap_provider: Option<&TracingProvider>,
        scope: &Scope,
    ) -> Result<Option<TracingRt>, Vec<Rejected>> {
        let mut errors = Vec::new();
        let client_sampling = fraction(
            cfg.client_sampling,
            &format!("{path}.client_sampling"),
            &mut errors,
        );
        let random_sampling = fraction(
            cfg.random_sampling,
            &format!("{path}.random_sampling"),
            &mut errors,
        );
        let overall_sampling = fraction(
            cfg.overall_sampling,
            &format!("{path}.overall_sampling"),
            &mut errors,
        );
        let mut custom_tags = Vec::new();
        for (i, t) in cfg.custom_tags.iter().enumerate() {
            let tpath = format!("{path}.custom_tags[{i}]");
            if t.tag.is_empty() {
                errors.push(Rejected::new(
                    format!("{tpath}.tag"),
                    "CustomTagValidationError.Tag: value length must be at least 1 characters",
                ));
            }
            let value = match (&t.literal, &t.request_header) {
                (Some(l), None) => Some(TagValue::Literal(l.value.clone())),
                (None, Some(h)) => match HeaderName::from_bytes(h.name.to_lowercase().as_bytes()) {
                    Ok(n) => Some(TagValue::Header(n, h.default_value.clone())),
                    Err(_) => {
                        errors.push(Rejected::new(
                            format!("{tpath}.request_header.name"),
                            "invalid header name",
                        ));
                        None
                    }
                },
                _ => None,
            };
            match value {
                Some(v) if t.environment.is_none() && t.metadata.is_none() => {
                    custom_tags.push((t.tag.clone(), v))
                }
                _ => errors.push(Rejected::new(
                    &tpath,
                    "mesh supports custom tags of exactly one kind: literal or request_header",
                )),
            }
        }
        let Some(provider) = cfg.provider.as_ref().or(bootstrap_provider) else {
            return if errors.is_empty() {
                Ok(None)
            } else {
                Err(errors)
            };
        };
        let ppath = format!("{path}.provider.typed_config");
        let TracerConfig::Zipkin(z) = &provider.typed_config;
        if z.collector_cluster.is_empty() {
            errors.push(Rejected::new(
                format!("{ppath}.collector_cluster"),
                "ZipkinConfigValidationError.CollectorCluster: value length must be at least 1 characters",
            ));
        } else if clusters.is_some_and(|c| !c.contains(&z.collector_cluster)) {
            errors.push(Rejected::new(
                format!("{ppath}.collector_cluster"),
                format!(
                    "{} collector cluster is not defined on cluster manager level",
                    z.collector_cluster
                ),
            ));
        }
        if z.collector_endpoint.is_empty() {
            errors.push(Rejected::new(
                format!("{ppath}.collector_endpoint"),
                "ZipkinConfigValidationError.CollectorEndpoint: value length must be at least 1 characters",
            ));
        }
        if z.collector_endpoint_version != CollectorEndpointVersion::HttpJson {
            errors.push(Rejected::new(
                format!("{ppath}.collector_endpoint_version"),
                "mesh reports spans as HTTP_JSON only",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        reporter::register_stats(scope.store());
        let spawn_upstream_span = cfg.spawn_upstream_span.unwrap_or(false);
        // With an upstream span of its own, the connection manager's span is the server side.
        let egress = direction == TrafficDirection::Outbound;
        let kind = if egress && !spawn_upstream_span {
            Kind::Client
        } else {
            Kind::Server
        };
        Ok(Some(TracingRt {
            collector: Collector {
                cluster: z.collector_cluster.clone(),
                endpoint: z.collector_endpoint.clone(),
                hostname: z.collector_hostname.clone(),
            },
            client_sampling,
            random_sampling,
            overall_sampling,
            wide_ids: z.trace_id_128bit,
            shared_span_context: z.shared_span_context.unwrap_or(true),
            spawn_upstream_span,
            kind,
            egress,
            custom_tags,
            max_path_tag_length: cfg
                .max_path_tag_length
                .map_or(DEFAULT_MAX_PATH_TAG, |n| n as usize),
            stats: TracingStats::new(scope),
        }))
    }

    /// The sampling decision for a request without one from its caller.
    fn decide(&self, headers: &HeaderMap) -> bool {
        let roll = |f: f64| f >= 1.0 || rand::random::<f64>() < f;
        // `x-envoy-force-trace` only survives from internal callers (the HCM strips it).
        let traced = if headers.contains_key("x-envoy-force-trace") {
            self.stats.service_forced.inc();
            true
        } else if headers.contains_key("x-client-trace-id") && roll(self.client_sampling) {
            self.stats.client_enabled.inc();
            true
        } else if roll(self.random_sampling) {
            self.stats.random_sampling.inc();
            true
        } else {
            self.stats.not_traceable.inc();
            false
        };
        traced && roll(self.overall_sampling)
    }

    /// Starts the span of one request from its (already mutated) headers.
    pub fn start(&self, headers: &HeaderMap, req: RequestFacts) -> ActiveSpan {
        let incoming = b3::extract(headers);
        let sampled = incoming.sampled.unwrap_or_else(|| self.decide(headers));
        let (trace, id, parent, shared) = match incoming.ids {
            Some((t, s, p)) if self.shared_span_context && self.kind == Kind::Server => {
                (t, s, p, true)
            }
            Some((t, s, _)) => (t, b3::nonzero(), Some(s), false),
            None => (TraceId::random(self.wide_ids), b3::nonzero(), None, false),
        };
        let mut tags = BTreeMap::new();
        // An unsampled span is never reported: only its ids are needed.
        if sampled {
            self.tags(headers, &req, &mut tags);
        }
        // Envoy names a span by direction until a route decorator names the operation.
        let name = if self.egress {
            format!("egress {}", req.authority)
        } else {
            "ingress".to_owned()
        };
        ActiveSpan {
            trace,
            id,
            parent,
            shared,
            sampled,
            kind: self.kind,
            egress: self.egress,
            name,
            start: req.start,
            upstream: self
                .spawn_upstream_span
                .then(|| (b3::nonzero(), SystemTime::now())),
            local: Endpoint::at(Some(req.service_name), req.local),
            peer: req.peer,
            tags,
        }
    }

    /// The tags Envoy sets when a request starts, and the custom ones.
    fn tags(&self, headers: &HeaderMap, req: &RequestFacts, tags: &mut BTreeMap<String, String>) {
        let header = |n: &str| {
            headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        for (tag, value) in &self.custom_tags {
            let v = match value {
                TagValue::Literal(v) => v.clone(),
                TagValue::Header(n, default) => headers
                    .get(n)
                    .and_then(|v| v.to_str().ok())
                    .map_or_else(|| default.clone(), str::to_owned),
            };
            tags.insert(tag.clone(), v);
        }
        let mut url = format!("{}://{}{}", req.scheme, req.authority, req.path);
        if url.len() > self.max_path_tag_length {
            let mut cut = self.max_path_tag_length;
            while !url.is_char_boundary(cut) {
                cut -= 1;
            }
            url.truncate(cut);
        }
        tags.insert("http.url".into(), url);
        tags.insert("http.method".into(), req.method.clone());
        tags.insert("http.protocol".into(), req.protocol.to_owned());
        tags.insert("component".into(), "proxy".into());
        tags.insert("node_id".into(), req.node_id.clone());
        tags.insert(
            "guid:x-request-id".into(),
            header("x-request-id").unwrap_or_default(),
        );
        tags.insert(
            "user_agent".into(),
            header("user-agent").unwrap_or_else(|| "-".into()),
        );
        tags.insert(
            "downstream_cluster".into(),
            header("x-envoy-downstream-service-cluster").unwrap_or_else(|| "-".into()),
        );
        tags.insert("peer.address".into(), req.peer.ip().to_string());
    }
}

/// What the connection manager knows about a request when its span starts.
pub struct RequestFacts {
    pub scheme: &'static str,
    pub authority: String,
    pub path: String,
    pub method: String,
    pub protocol: &'static str,
    pub start: SystemTime,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// The proxy's node id and its `service_cluster` (the span's service name).
    pub node_id: String,
    pub service_name: String,
}

/// The span of a request in flight.
#[derive(Debug)]
pub struct ActiveSpan {
    trace: TraceId,
    id: u64,
    parent: Option<u64>,
    shared: bool,
    pub sampled: bool,
    kind: Kind,
    egress: bool,
    name: String,
    start: SystemTime,
    /// The router's child span (`spawn_upstream_span`): its id and start.
    upstream: Option<(u64, SystemTime)>,
    local: Endpoint,
    peer: SocketAddr,
    tags: BTreeMap<String, String>,
}

fn micros(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

impl ActiveSpan {
    /// Names the span after the route's decorator. Outbound, the name travels to the next
    /// proxy in `x-envoy-decorator-operation`; inbound, that header (from the caller) wins, so
    /// both sides of a call carry the caller's operation name.
    pub fn apply_decorator(&mut self, operation: Option<&str>, headers: &mut HeaderMap) {
        if self.egress {
            if let Some(op) = operation {
                self.name = op.to_owned();
                if let Ok(v) = http::HeaderValue::from_str(op) {
                    headers.insert(DECORATOR_OPERATION, v);
                }
            }
            return;
        }
        match headers.remove(DECORATOR_OPERATION) {
            Some(v) => {
                if let Ok(v) = v.to_str()
                    && !v.is_empty()
                {
                    self.name = v.to_owned();
                }
            }
            None => {
                if let Some(op) = operation {
                    self.name = op.to_owned();
                }
            }
        }
    }

    /// Tells the next hop which span it continues: ours, or the router's child span.
    pub fn inject(&self, headers: &mut HeaderMap) {
        match self.upstream {
            Some((child, _)) => b3::inject(headers, self.trace, child, Some(self.id), self.sampled),
            None => b3::inject(headers, self.trace, self.id, self.parent, self.sampled),
        }
    }

    /// The finished spans (the connection manager's, then the router's child), from what the
    /// access log knows about the request.
    pub fn finish(mut self, rec: &Record, elapsed: Duration) -> Vec<Span> {
        let status = rec.response_code;
        let flags = if rec.flags.is_empty() {
            "-".to_owned()
        } else {
            rec.flags.short()
        };
        let cluster = rec.upstream_cluster.clone().unwrap_or_else(|| "-".into());
        let t = &mut self.tags;
        t.insert("http.status_code".into(), status.to_string());
        t.insert("response_flags".into(), flags);
        t.insert("upstream_cluster".into(), cluster.clone());
        t.insert("upstream_cluster.name".into(), cluster.clone());
        t.insert("request_size".into(), rec.bytes_received.to_string());
        t.insert("response_size".into(), rec.bytes_sent.to_string());
        if status >= 500 || status == 0 {
            t.insert("error".into(), "true".into());
        }
        let trace_id = self.trace.hex();
        let end = self.start + elapsed;
        let mut spans = Vec::with_capacity(2);
        let upstream_ep = rec.upstream_host.map(|h| Endpoint::at(None, h));
        if let Some((child, child_start)) = self.upstream {
            let mut tags = BTreeMap::new();
            for k in ["component", "node_id", "guid:x-request-id", "http.protocol"] {
                if let Some(v) = self.tags.get(k) {
                    tags.insert(k.to_owned(), v.clone());
                }
            }
            for k in [
                "http.status_code",
                "upstream_cluster",
                "upstream_cluster.name",
                "error",
            ] {
                if let Some(v) = self.tags.get(k) {
                    tags.insert(k.to_owned(), v.clone());
                }
            }
            if let Some(h) = rec.upstream_host {
                tags.insert("upstream_address".into(), h.to_string());
            }
            spans.push(Span {
                trace_id: trace_id.clone(),
                id: b3::hex(child),
                parent_id: Some(b3::hex(self.id)),
                name: format!("router {cluster} egress"),
                kind: Kind::Client,
                timestamp: micros(child_start),
                duration: end
                    .duration_since(child_start)
                    .map_or(0, |d| d.as_micros() as u64),
                local_endpoint: self.local.clone(),
                remote_endpoint: upstream_ep.clone(),
                tags,
                shared: false,
            });
        }
        let remote = match self.kind {
            Kind::Server => Some(Endpoint::at(None, self.peer)),
            Kind::Client => upstream_ep,
        };
        spans.insert(
            0,
            Span {
                trace_id,
                id: b3::hex(self.id),
                parent_id: self.parent.map(b3::hex),
                name: self.name,
                kind: self.kind,
                timestamp: micros(self.start),
                duration: elapsed.as_micros() as u64,
                local_endpoint: self.local,
                remote_endpoint: remote,
                tags: self.tags,
                shared: self.shared,
            },
        );
        spans
    }
}

/// The proxy's node id and service cluster, as spans name them (command-line flags win over
/// the bootstrap's `node`, as in Envoy).
pub fn local_identity(proxy: &super::Proxy) -> (String, String) {
    let applied = proxy.applied();
    let node = applied.bootstrap.node.as_ref();
    let id = match &proxy.options.service_node {
        Some(n) => n.clone(),
        None => node.map(|n| n.id.clone()).unwrap_or_default(),
    };
    let cluster = match &proxy.options.service_cluster {
        Some(c) => c.clone(),
        None => node.map(|n| n.cluster.clone()).unwrap_or_default(),
    };
    (id, cluster)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::decode::decode_str;

    fn build(yaml: &str, direction: TrafficDirection) -> Result<Option<TracingRt>, Vec<Rejected>> {
        let cfg: Tracing = decode_str("t.yaml", yaml).unwrap();
        let clusters: HashSet<String> = ["zipkin".to_owned()].into();
        let store = super::super::stats::Store::new();
        TracingRt::build(
            &cfg,
            "tracing",
            direction,
            Some(&clusters),
            None,
            &store.scope("http.t"),
        )
    }

    const ZIPKIN: &str = "provider:\n  name: envoy.tracers.zipkin\n  typedConfig:\n    '@type': type.googleapis.com/envoy.config.trace.v3.ZipkinConfig\n    collectorCluster: zipkin\n    collectorEndpoint: /api/v2/spans\n    collectorEndpointVersion: HTTP_JSON\n    traceId128bit: true\n";

    #[test]
    fn decodes_camel_case_and_picks_the_span_kind() {
        let t = build(ZIPKIN, TrafficDirection::Outbound).unwrap().unwrap();
        assert!(t.wide_ids && t.shared_span_context);
        assert_eq!((t.kind, t.egress), (Kind::Client, true));
        assert_eq!(t.collector.cluster, "zipkin");
        let t = build(ZIPKIN, TrafficDirection::Unspecified)
            .unwrap()
            .unwrap();
        assert_eq!(t.kind, Kind::Server);
        let spawn = format!("{ZIPKIN}spawnUpstreamSpan: true\n");
        let t = build(&spawn, TrafficDirection::Outbound).unwrap().unwrap();
        assert_eq!((t.kind, t.egress), (Kind::Server, true));
        // No provider: nothing to report to.
        assert!(
            build("randomSampling: {value: 5}\n", TrafficDirection::Inbound)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn refuses_what_envoy_refuses() {
        let bad = format!("{ZIPKIN}randomSampling: {{value: 150}}\n")
            .replace("HTTP_JSON", "HTTP_PROTO")
            .replace("collectorCluster: zipkin", "collectorCluster: jaeger");
        let errors = build(&bad, TrafficDirection::Inbound).unwrap_err();
        let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "tracing.random_sampling.value",
                "tracing.provider.typed_config.collector_cluster",
                "tracing.provider.typed_config.collector_endpoint_version",
            ]
        );
    }

    #[test]
    fn an_edge_request_starts_a_trace_and_a_caller_decides_sampling() {
        let t = build(
            &format!("{ZIPKIN}randomSampling: {{value: 0}}\n"),
            TrafficDirection::Inbound,
        )
        .unwrap()
        .unwrap();
        let facts = || RequestFacts {
            scheme: "http",
            authority: "a".into(),
            path: "/".into(),
            method: "GET".into(),
            protocol: "HTTP/1.1",
            start: SystemTime::now(),
            peer: "127.0.0.1:1".parse().unwrap(),
            local: "127.0.0.1:2".parse().unwrap(),
            node_id: "n".into(),
            service_name: "s".into(),
        };
        // 0% random sampling: not sampled, but ids are still made and passed on.
        let span = t.start(&HeaderMap::new(), facts());
        assert!(!span.sampled);
        let mut h = HeaderMap::new();
        span.inject(&mut h);
        assert_eq!(h["x-b3-sampled"], "0");
        assert_eq!(h["x-b3-traceid"].len(), 32);
        // The caller's decision wins over random sampling.
        let mut caller = HeaderMap::new();
        caller.insert("x-b3-sampled", http::HeaderValue::from_static("1"));
        assert!(t.start(&caller, facts()).sampled);
        // A forced trace from an internal caller.
        let mut forced = HeaderMap::new();
        forced.insert(
            "x-envoy-force-trace",
            http::HeaderValue::from_static("true"),
        );
        assert!(t.start(&forced, facts()).sampled);
        assert_eq!(t.stats.service_forced.value(), 1);
        assert_eq!(t.stats.not_traceable.value(), 1);
    }
}
