//! The HTTP connection manager: serves HTTP/1.1 (and h2c with `codec_type: AUTO|HTTP2`) on a
//! downstream connection, applies Envoy's request header rules (x-request-id,
//! x-forwarded-proto, internal/external), picks the route, runs the router, and accounts every
//! request in `http.<stat_prefix>.*` stats and access logs.

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use crate::net::dial::BoxStream;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio_util::sync::CancellationToken;

use crate::plog;
use crate::xds::hcm::{
    CodecType, HttpConnectionManager, HttpFilterConfig, ServerHeaderTransformation,
};
use crate::xds::listener::TrafficDirection;

use super::super::access_log::{AccessLogger, Record};
use super::super::cluster::pool::CountingIo;
use super::super::istio::labels::{Protocol, Reporter};
use super::super::istio::peer::PeerInfo;
use super::super::istio::{ExchangeRt, HttpObservation, StatsRt};
use super::super::listener::BuildCtx;
use super::super::log::{Component, Level, Logger};
use super::super::stats::{Counter, Gauge, Histogram, Scope, Unit};
use super::super::tls::ConnTls;
use super::super::tracing::{self, ActiveSpan, RequestFacts, TracingRt};
use super::super::{Proxy, Rejected};
use super::body::{self, Body, End, Observed};
use super::filters::fault::{FaultFilter, FaultRequest, FaultSettings};
use super::filters::local_ratelimit::Limiter;
use super::filters::{FilterChain, PerFilter};
use super::local_reply::LocalReply;
use super::matcher::Pseudo;
use super::route::{Action, RequestView, RouteTable};
use super::router::{self, Forwarded, RouterCtx};

/// `http.<stat_prefix>.*` (and the per-listener `listener.<addr>.http.<prefix>.*`).
#[derive(Debug)]
pub struct HcmStats {
    pub downstream_cx_total: Counter,
    pub downstream_cx_active: Gauge,
    pub downstream_cx_http1_total: Counter,
    pub downstream_cx_http1_active: Gauge,
    pub downstream_cx_http2_total: Counter,
    pub downstream_cx_http2_active: Gauge,
    pub downstream_cx_ssl_total: Counter,
    pub downstream_cx_ssl_active: Gauge,
    pub downstream_cx_upgrades_total: Counter,
    pub downstream_cx_upgrades_active: Gauge,
    pub downstream_cx_destroy: Counter,
    pub downstream_cx_destroy_remote: Counter,
    pub downstream_cx_destroy_local: Counter,
    pub downstream_cx_rx_bytes_total: Counter,
    pub downstream_cx_tx_bytes_total: Counter,
    pub downstream_cx_protocol_error: Counter,
    pub downstream_cx_length_ms: Histogram,
    pub downstream_rq_total: Counter,
    pub downstream_rq_http1_total: Counter,
    pub downstream_rq_http2_total: Counter,
    pub downstream_rq_active: Gauge,
    pub downstream_rq_completed: Counter,
    pub downstream_rq_rx_reset: Counter,
    pub downstream_rq_tx_reset: Counter,
    pub downstream_rq_time: Histogram,
    pub downstream_rq_xx: [Counter; 5],
    pub listener_rq_xx: [Counter; 5],
    pub listener_rq_completed: Counter,
    pub no_route: Counter,
    pub no_cluster: Counter,
    pub rq_total: Counter,
    pub rq_direct_response: Counter,
    pub rq_redirect: Counter,
    pub rq_reset_after_downstream_response_started: Counter,
    pub downstream_rq_ws_on_non_ws_route: Counter,
    pub downstream_rq_idle_timeout: Counter,
}

impl HcmStats {
    fn new(scope: &Scope, listener: &Scope) -> HcmStats {
        for c in [
            "downstream_cx_delayed_close_timeout",
            "downstream_cx_drain_close",
            "downstream_cx_idle_timeout",
            "downstream_cx_max_duration_reached",
            "downstream_cx_max_requests_reached",
            "downstream_cx_overload_disable_keepalive",
            "downstream_cx_destroy_active_rq",
            "downstream_cx_destroy_local_active_rq",
            "downstream_cx_destroy_remote_active_rq",
            "downstream_cx_http3_total",
            "downstream_flow_control_paused_reading_total",
            "downstream_flow_control_resumed_reading_total",
            "downstream_rq_failed_path_normalization",
            "downstream_rq_header_timeout",
            "downstream_rq_http3_total",
            "downstream_rq_max_duration_reached",
            "downstream_rq_non_relative_path",
            "downstream_rq_overload_close",
            "downstream_rq_redirected_with_normalized_path",
            "downstream_rq_rejected_via_ip_detection",
            "downstream_rq_response_before_rq_complete",
            "downstream_rq_timeout",
            "downstream_rq_too_large",
            "downstream_rq_too_many_premature_resets",
            "passthrough_internal_redirect_bad_location",
            "passthrough_internal_redirect_no_route",
            "passthrough_internal_redirect_predicate",
            "passthrough_internal_redirect_too_many_redirects",
            "passthrough_internal_redirect_unsafe_scheme",
            "rq_overload_local_reply",
            "rs_too_large",
        ] {
            scope.counter(c);
        }
        for g in [
            "downstream_cx_http3_active",
            "downstream_cx_rx_bytes_buffered",
            "downstream_cx_tx_bytes_buffered",
        ] {
            scope.gauge(g);
        }
        let xx = |s: &Scope| -> [Counter; 5] {
            [1, 2, 3, 4, 5].map(|n| s.counter(&format!("downstream_rq_{n}xx")))
        };
        let c = |n: &str| scope.counter(n);
        HcmStats {
            downstream_cx_total: c("downstream_cx_total"),
            downstream_cx_active: scope.gauge("downstream_cx_active"),
            downstream_cx_http1_total: c("downstream_cx_http1_total"),
            downstream_cx_http1_active: scope.gauge("downstream_cx_http1_active"),
            downstream_cx_http2_total: c("downstream_cx_http2_total"),
            downstream_cx_http2_active: scope.gauge("downstream_cx_http2_active"),
            downstream_cx_ssl_total: c("downstream_cx_ssl_total"),
            downstream_cx_ssl_active: scope.gauge("downstream_cx_ssl_active"),
            downstream_cx_upgrades_total: c("downstream_cx_upgrades_total"),
            downstream_cx_upgrades_active: scope.gauge("downstream_cx_upgrades_active"),
            downstream_cx_destroy: c("downstream_cx_destroy"),
            downstream_cx_destroy_remote: c("downstream_cx_destroy_remote"),
            downstream_cx_destroy_local: c("downstream_cx_destroy_local"),
            downstream_cx_rx_bytes_total: c("downstream_cx_rx_bytes_total"),
            downstream_cx_tx_bytes_total: c("downstream_cx_tx_bytes_total"),
            downstream_cx_protocol_error: c("downstream_cx_protocol_error"),
            downstream_cx_length_ms: scope.histogram("downstream_cx_length_ms", Unit::Milliseconds),
            downstream_rq_total: c("downstream_rq_total"),
            downstream_rq_http1_total: c("downstream_rq_http1_total"),
            downstream_rq_http2_total: c("downstream_rq_http2_total"),
            downstream_rq_active: scope.gauge("downstream_rq_active"),
            downstream_rq_completed: c("downstream_rq_completed"),
            downstream_rq_rx_reset: c("downstream_rq_rx_reset"),
            downstream_rq_tx_reset: c("downstream_rq_tx_reset"),
            downstream_rq_time: scope.histogram("downstream_rq_time", Unit::Milliseconds),
            downstream_rq_xx: xx(scope),
            listener_rq_xx: xx(listener),
            listener_rq_completed: listener.counter("downstream_rq_completed"),
            no_route: c("no_route"),
            no_cluster: c("no_cluster"),
            rq_total: c("rq_total"),
            rq_direct_response: c("rq_direct_response"),
            rq_redirect: c("rq_redirect"),
            rq_reset_after_downstream_response_started: c(
                "rq_reset_after_downstream_response_started",
            ),
            downstream_rq_ws_on_non_ws_route: c("downstream_rq_ws_on_non_ws_route"),
            downstream_rq_idle_timeout: c("downstream_rq_idle_timeout"),
        }
    }

    fn charge_code(&self, status: u16) {
        if let Some(i) = (status / 100)
            .checked_sub(1)
            .map(usize::from)
            .filter(|i| *i < 5)
        {
            self.downstream_rq_xx[i].inc();
            self.listener_rq_xx[i].inc();
        }
    }
}

/// Where a connection manager's routes come from.
#[derive(Debug)]
pub enum RouteSource {
    /// An inline `route_config`.
    Static(Arc<RouteTable>),
    /// RDS: the route configuration of this name, as last pushed.
    Rds(String),
}

impl RouteSource {
    /// The table to route with now; RDS not received yet routes nothing (404 NR), as Envoy.
    pub fn table(&self, proxy: &Proxy) -> Option<Arc<RouteTable>> {
        match self {
            RouteSource::Static(t) => Some(t.clone()),
            RouteSource::Rds(name) => proxy.applied().route_table(name),
        }
    }
}

/// One HTTP connection manager, compiled.
#[derive(Debug)]
pub struct HcmRt {
    pub config: HttpConnectionManager,
    pub stats: HcmStats,
    pub routes: RouteSource,
    pub access_logs: Vec<AccessLogger>,
    pub suppress_envoy_headers: bool,
    pub dynamic_stats: bool,
    pub server_name: HeaderValue,
    pub use_remote_address: bool,
    pub generate_request_id: bool,
    pub max_request_headers: usize,
    pub max_headers_count: usize,
    pub idle_timeout: Option<Duration>,
    pub max_requests_per_connection: Option<u32>,
    pub via: Option<HeaderValue>,
    pub log: Arc<Logger>,
    /// Spans and B3 propagation, when `tracing` names a provider.
    pub tracing: Option<TracingRt>,
    /// Istio's `istio.stats` HTTP filter.
    pub istio_stats: Option<Arc<StatsRt>>,
    /// Istio's `istio.metadata_exchange` HTTP filter.
    pub exchange: Option<ExchangeRt>,
    /// Fault injection and local rate limits, run before the router in config order.
    pub filters: FilterChain,
    /// `upgrade_configs`: (lower-cased upgrade type, enabled).
    pub upgrades: Vec<(String, bool)>,
}

impl HcmRt {
    pub fn build(
        cfg: &HttpConnectionManager,
        path: &str,
        ctx: &BuildCtx<'_>,
        listener_stat_name: &str,
        direction: TrafficDirection,
    ) -> Result<Arc<HcmRt>, Vec<Rejected>> {
        let (store, log, clusters, std) = (ctx.store, ctx.log, ctx.clusters, ctx.std);
        let mut errors = Vec::new();
        if cfg.stat_prefix.is_empty() {
            errors.push(Rejected::new(
                format!("{path}.stat_prefix"),
                "HttpConnectionManagerValidationError.StatPrefix: value length must be at least 1 characters",
            ));
        }
        if cfg.codec_type == CodecType::Http3 {
            errors.push(Rejected::new(
                format!("{path}.codec_type"),
                "HTTP3 is not supported by mesh",
            ));
        }
        // The router must be the last (terminal) filter; before it, Istio's two filters.
        let mut router = None;
        let (mut istio_stats, mut exchange) = (None, None);
        let mut filters = FilterChain::default();
        let hcm_scope = store.scope(&format!("http.{}", cfg.stat_prefix));
        for (i, f) in cfg.http_filters.iter().enumerate() {
            let fpath = format!("{path}.http_filters[{i}]");
            let is_last = i + 1 == cfg.http_filters.len();
            let resolved = match &f.typed_config {
                Some(HttpFilterConfig::Router(r)) => Some(r.clone()),
                Some(HttpFilterConfig::IstioStats(c)) => {
                    match StatsRt::build(c, &format!("{fpath}.typed_config"), ctx) {
                        Ok(s) => istio_stats = Some(s),
                        Err(e) => errors.push(e),
                    }
                    None
                }
                Some(HttpFilterConfig::PeerMetadata(c)) => {
                    match ExchangeRt::build(c, &format!("{fpath}.typed_config"), ctx) {
                        Ok(x) => exchange = Some(x),
                        Err(mut e) => errors.append(&mut e),
                    }
                    None
                }
                Some(HttpFilterConfig::Fault(c)) => {
                    match FaultSettings::build(c, &format!("{fpath}.typed_config")) {
                        Ok(s) => filters.push_fault(&f.name, FaultFilter::new(s, &hcm_scope)),
                        Err(mut e) => errors.append(&mut e),
                    }
                    None
                }
                Some(HttpFilterConfig::LocalRateLimit(c)) => {
                    match Limiter::build(c, &format!("{fpath}.typed_config")) {
                        Ok(l) => filters.push_rate_limit(&f.name, l, store),
                        Err(mut e) => errors.append(&mut e),
                    }
                    None
                }
                None if f.name == "envoy.filters.http.router" || f.name == "envoy.router" => {
                    Some(Default::default())
                }
                None => {
                    errors.push(Rejected::new(
                        &fpath,
                        format!(
                            "Didn't find a registered implementation for '{}' with type URL: ''",
                            f.name
                        ),
                    ));
                    None
                }
            };
            if let Some(r) = resolved {
                if !is_last {
                    errors.push(Rejected::new(
                        &fpath,
                        format!("Error: terminal filter named {} of type envoy.filters.http.router must be the last filter in a http filter chain.", f.name),
                    ));
                }
                router = Some(r);
            }
        }
        let router = router.unwrap_or_default();
        let routes = match (&cfg.route_config, &cfg.rds) {
            (Some(rc), None) => {
                // Static route configs check their clusters unless told not to (Envoy's rule).
                let check = if rc.validate_clusters.unwrap_or(!ctx.dynamic) {
                    clusters
                } else {
                    None
                };
                match RouteTable::build(rc, &format!("{path}.route_config"), check) {
                    Ok(t) => Some(RouteSource::Static(Arc::new(t))),
                    Err(mut e) => {
                        errors.append(&mut e);
                        None
                    }
                }
            }
            (None, Some(rds)) if ctx.dynamic => {
                Some(RouteSource::Rds(rds.route_config_name.clone()))
            }
            (None, Some(_)) => {
                errors.push(Rejected::new(
                    format!("{path}.rds"),
                    "rds needs a control plane; `mesh envoy` supports inline route_config",
                ));
                None
            }
            _ => {
                errors.push(Rejected::new(
                    path,
                    "HttpConnectionManagerValidationError.RouteSpecifier: exactly one of route_config, rds is required",
                ));
                None
            }
        };
        let mut access_logs = Vec::new();
        for (i, a) in cfg.access_log.iter().enumerate() {
            match AccessLogger::build(a, &format!("{path}.access_log[{i}]"), std) {
                Ok(l) => access_logs.push(l),
                Err(e) => errors.push(e),
            }
        }
        let server_name = if cfg.server_name.is_empty() {
            "envoy"
        } else {
            &cfg.server_name
        };
        let server_name = HeaderValue::from_str(server_name).unwrap_or_else(|_| {
            errors.push(Rejected::new(
                format!("{path}.server_name"),
                "invalid header value",
            ));
            HeaderValue::from_static("envoy")
        });
        let via = if cfg.via.is_empty() {
            None
        } else {
            match HeaderValue::from_str(&cfg.via) {
                Ok(v) => Some(v),
                Err(_) => {
                    errors.push(Rejected::new(format!("{path}.via"), "invalid header value"));
                    None
                }
            }
        };
        if cfg.xff_num_trusted_hops > 0 {
            errors.push(Rejected::new(
                format!("{path}.xff_num_trusted_hops"),
                "xff_num_trusted_hops is not supported by mesh yet",
            ));
        }
        let kb = cfg.max_request_headers_kb.unwrap_or(60);
        if !(1..=8192).contains(&kb) {
            errors.push(Rejected::new(
                format!("{path}.max_request_headers_kb"),
                "value must be inside range (0, 8192]",
            ));
        }
        let scope = store.scope(&format!("http.{}", cfg.stat_prefix));
        let tracing = match &cfg.tracing {
            Some(t) => {
                // Static configs must name a defined collector cluster; pushed ones may not
                // have it yet.
                let check = if ctx.dynamic { None } else { clusters };
                let fallback = ctx.tracing;
                match TracingRt::build(
                    t,
                    &format!("{path}.tracing"),
                    direction,
                    check,
                    fallback,
                    &scope,
                ) {
                    Ok(t) => t,
                    Err(mut e) => {
                        errors.append(&mut e);
                        None
                    }
                }
            }
            None => None,
        };
        let mut upgrades = Vec::new();
        for (i, u) in cfg.upgrade_configs.iter().enumerate() {
            let kind = u.upgrade_type.to_ascii_lowercase();
            if kind.is_empty() {
                errors.push(Rejected::new(
                    format!("{path}.upgrade_configs[{i}].upgrade_type"),
                    "UpgradeConfigValidationError.UpgradeType: value length must be at least 1 characters",
                ));
            } else if kind == "connect" {
                errors.push(Rejected::new(
                    format!("{path}.upgrade_configs[{i}].upgrade_type"),
                    "CONNECT upgrades are not supported by mesh yet (websocket and other HTTP/1.1 Upgrade types are)",
                ));
            }
            upgrades.push((kind, u.enabled.unwrap_or(true)));
        }
        let Some(routes) = routes.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        let listener_scope = store.scope(&format!(
            "listener.{listener_stat_name}.http.{}",
            cfg.stat_prefix
        ));
        let protocol = cfg.common_http_protocol_options.as_ref();
        Ok(Arc::new(HcmRt {
            config: cfg.clone(),
            stats: HcmStats::new(&scope, &listener_scope),
            routes,
            access_logs,
            suppress_envoy_headers: router.suppress_envoy_headers,
            dynamic_stats: router.dynamic_stats.unwrap_or(true),
            server_name,
            use_remote_address: cfg.use_remote_address.unwrap_or(false),
            generate_request_id: cfg.generate_request_id.unwrap_or(true),
            max_request_headers: kb as usize * 1024,
            max_headers_count: protocol.and_then(|p| p.max_headers_count).unwrap_or(100) as usize,
            idle_timeout: protocol
                .and_then(|p| p.idle_timeout)
                .map(|d| d.get())
                .filter(|d| !d.is_zero()),
            max_requests_per_connection: protocol
                .and_then(|p| p.max_requests_per_connection)
                .filter(|n| *n > 0),
            via,
            filters,
            upgrades,
            log: log.clone(),
            tracing,
            istio_stats,
            exchange,
        }))
    }
}

/// Facts about one downstream connection, shared by its requests.
pub struct ConnInfo {
    pub id: u64,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    pub requests: std::sync::atomic::AtomicU32,
    /// The TLS session, when the filter chain terminated TLS.
    pub tls: Option<Arc<ConnTls>>,
}

/// Serves one downstream connection until it closes, or until draining ends it gracefully.
#[allow(clippy::too_many_arguments)]
pub async fn serve_connection(
    stream: BoxStream,
    peer: SocketAddr,
    local: SocketAddr,
    id: u64,
    proxy: Arc<Proxy>,
    hcm: Arc<HcmRt>,
    stop: CancellationToken,
    tls: Option<Arc<ConnTls>>,
) {
    let opened = Instant::now();
    let stats = &hcm.stats;
    stats.downstream_cx_total.inc();
    stats.downstream_cx_active.inc();
    let secure = tls.is_some();
    if secure {
        stats.downstream_cx_ssl_total.inc();
        stats.downstream_cx_ssl_active.inc();
    }
    // The codec: fixed by `codec_type`, else ALPN `h2` on TLS, else the HTTP/2 preface (AUTO).
    let alpn_h2 = tls.as_ref().and_then(|t| t.alpn.as_deref()) == Some("h2");
    let (stream, http2) = match hcm.config.codec_type {
        CodecType::Http2 => (stream, true),
        CodecType::Http1 => (stream, false),
        _ if alpn_h2 => (stream, true),
        // No `h2` by ALPN (Istio's mTLS says `istio-h2`): the preface decides, as Envoy's
        // AUTO codec does.
        _ => match tokio::select! {
            sniffed = super::sniff::h2_preface(stream) => sniffed,
            // Draining: a connection that has not said a word yet is simply closed.
            () = stop.cancelled() => (Box::new(tokio::io::empty()) as BoxStream, None),
        } {
            (s, Some(h2)) => (s, h2),
            // Closed (or drained) before a byte: no codec was ever made (Envoy counts neither).
            (_, None) => {
                stats.downstream_cx_destroy.inc();
                stats.downstream_cx_destroy_remote.inc();
                stats.downstream_cx_active.dec();
                if secure {
                    stats.downstream_cx_ssl_active.dec();
                }
                return;
            }
        },
    };
    let (cx_total, cx_active) = if http2 {
        (
            &stats.downstream_cx_http2_total,
            &stats.downstream_cx_http2_active,
        )
    } else {
        (
            &stats.downstream_cx_http1_total,
            &stats.downstream_cx_http1_active,
        )
    };
    cx_total.inc();
    cx_active.inc();
    let io = TokioIo::new(CountingIo::new(
        stream,
        stats.downstream_cx_rx_bytes_total.clone(),
        stats.downstream_cx_tx_bytes_total.clone(),
    ));
    let conn = Arc::new(ConnInfo {
        id,
        peer,
        local,
        requests: Default::default(),
        tls,
    });
    let (p, h, c) = (proxy.clone(), hcm.clone(), conn.clone());
    let service = service_fn(move |req: Request<Incoming>| {
        let (p, h, c) = (p.clone(), h.clone(), c.clone());
        // Boxed: a request's future is ~9 KiB, and hyper moves the service future it holds
        // on every request; a box is one allocation and one copy.
        let request = Box::pin(handle(req, p, h, c));
        async move { Ok::<_, Infallible>(request.await) }
    });
    // `stop` is a child of the proxy's drain token: one wait covers both.
    let result = if http2 {
        let h2_options = hcm.config.http2_protocol_options.as_ref();
        let setting = |f: fn(&crate::xds::protocol::Http2ProtocolOptions) -> Option<u32>| {
            h2_options.and_then(f)
        };
        let mut h2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
        // Envoy's defaults: 256 MiB windows, 2^31-1 streams.
        h2.initial_stream_window_size(
            setting(|o| o.initial_stream_window_size).or(Some(268_435_456)),
        )
        .initial_connection_window_size(
            setting(|o| o.initial_connection_window_size).or(Some(268_435_456)),
        )
        .max_concurrent_streams(setting(|o| o.max_concurrent_streams).or(Some(2_147_483_647)))
        .max_header_list_size(u32::try_from(hcm.max_request_headers).unwrap_or(u32::MAX));
        let serving = h2.serve_connection(io, service);
        tokio::pin!(serving);
        tokio::select! {
            biased;
            r = serving.as_mut() => r,
            _ = stop.cancelled() => {
                serving.as_mut().graceful_shutdown();
                serving.await
            }
        }
    } else {
        let mut h1 = hyper::server::conn::http1::Builder::new();
        h1.keep_alive(true)
            .max_buf_size(hcm.max_request_headers.max(8192));
        // Only when configured: a custom header limit and a header-read timer cost
        // something on every request in hyper.
        if hcm.max_headers_count != 100 {
            h1.max_headers(hcm.max_headers_count);
        }
        if let Some(idle) = hcm.idle_timeout {
            h1.timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(idle);
        }
        // With upgrades: a WebSocket handshake hands the connection to the tunnel.
        let serving = h1.serve_connection(io, service).with_upgrades();
        tokio::pin!(serving);
        tokio::select! {
            biased;
            r = serving.as_mut() => r,
            _ = stop.cancelled() => {
                serving.as_mut().graceful_shutdown();
                serving.await
            }
        }
    };
    if let Err(e) = result {
        let text = e.to_string();
        // A client that sends garbage gets hyper's 400 and counts as a protocol error.
        if text.contains("parse") || text.contains("invalid") {
            stats.downstream_cx_protocol_error.inc();
        }
        plog!(
            hcm.log,
            Level::Debug,
            Component::Connection,
            "[C{id}] connection error: {text}"
        );
    }
    stats.downstream_cx_destroy.inc();
    stats.downstream_cx_destroy_remote.inc();
    stats.downstream_cx_active.dec();
    cx_active.dec();
    if secure {
        stats.downstream_cx_ssl_active.dec();
    }
    stats
        .downstream_cx_length_ms
        .record(opened.elapsed().as_millis() as u64);
    plog!(
        hcm.log,
        Level::Debug,
        Component::Connection,
        "[C{id}] closing"
    );
}

/// Envoy's hop-by-hop headers, dropped when forwarding in either direction.
const HOP_BY_HOP: [&str; 6] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
    "te",
];

/// `x-envoy-*` request headers only honoured from internal clients.
const INTERNAL_ONLY: [&str; 13] = [
    "x-envoy-retriable-status-codes",
    "x-envoy-retry-on",
    "x-envoy-retry-grpc-on",
    "x-envoy-max-retries",
    "x-envoy-upstream-alt-stat-name",
    "x-envoy-upstream-rq-timeout-ms",
    "x-envoy-upstream-rq-per-try-timeout-ms",
    "x-envoy-upstream-rq-timeout-alt-response",
    "x-envoy-expected-rq-timeout-ms",
    "x-envoy-force-trace",
    "x-envoy-ip-tags",
    "x-envoy-original-url",
    "x-envoy-hedge-on-per-try-timeout",
];

fn is_internal_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_private() || v4.is_loopback(),
        IpAddr::V6(v6) => v6.is_loopback() || (v6.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn scheme_header(headers: &HeaderMap) -> &'static str {
    match headers.get("x-forwarded-proto").map(HeaderValue::as_bytes) {
        Some(b"https") => "https",
        _ => "http",
    }
}

/// One request, start to finish.
async fn handle(
    mut req: Request<Incoming>,
    proxy: Arc<Proxy>,
    hcm: Arc<HcmRt>,
    conn: Arc<ConnInfo>,
) -> Response<Body> {
    let started = Instant::now();
    let start_time = SystemTime::now();
    let stats = &hcm.stats;
    stats.downstream_rq_total.inc();
    stats.rq_total.inc();
    let http2 = req.version() == http::Version::HTTP_2;
    if http2 {
        stats.downstream_rq_http2_total.inc();
    } else {
        stats.downstream_rq_http1_total.inc();
    }
    stats.downstream_rq_active.inc();
    conn.requests
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let stream_id: u64 = rand::random();
    // An HTTP/1.1 upgrade (WebSocket): the client's side of the tunnel, if it comes to one.
    let upgrade = match req.version() {
        http::Version::HTTP_11 => super::upgrade::requested(req.headers()),
        _ => None,
    };
    let upgrade_header = req.headers().get(header::UPGRADE).cloned();
    let on_upgrade = upgrade.as_ref().map(|_| hyper::upgrade::on(&mut req));
    let (mut parts, incoming) = req.into_parts();
    let protocol = match parts.version {
        http::Version::HTTP_10 => "HTTP/1.0",
        http::Version::HTTP_2 => "HTTP/2",
        _ => "HTTP/1.1",
    };
    let authority = parts
        .uri
        .authority()
        .map(|a| a.as_str().to_owned())
        .or_else(|| {
            parts
                .headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_owned)
        })
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    if hcm.log.enabled(Component::Http, Level::Debug) {
        let mut lines = format!(
            "[C{}][S{stream_id}] request headers complete (end_stream={}):\n':authority', '{authority}'\n':path', '{path}'\n':method', '{}'",
            conn.id,
            hyper::body::Body::is_end_stream(&incoming),
            parts.method
        );
        for (k, v) in &parts.headers {
            if k != header::HOST {
                lines.push_str(&format!(
                    "\n'{}', '{}'",
                    k,
                    String::from_utf8_lossy(v.as_bytes())
                ));
            }
        }
        plog!(hcm.log, Level::Debug, Component::Http, "{lines}");
    }

    // What the access log and stats need at the end.
    let mut rec = Record::new(conn.peer, conn.local);
    rec.downstream_tls = conn.tls.clone();
    rec.start = start_time;
    rec.protocol = protocol;
    rec.connection_id = conn.id;
    rec.stream_id = stream_id;
    rec.method = parts.method.to_string();
    rec.authority = authority.clone();

    let mut request_id = None;
    let mut span: Option<ActiveSpan> = None;
    // Istio's filters: the peer the downstream says it is, and the request body's size.
    let mut downstream_peer = None;
    let grpc = parts
        .headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let request_bytes = Arc::new(AtomicU64::new(0));
    let outcome = if authority.is_empty() && parts.version == http::Version::HTTP_11 {
        Err(LocalReply::missing_host())
    } else {
        let internal =
            mutate_request_headers(&mut parts.headers, &hcm, conn.peer, conn.tls.is_some());
        // Envoy keeps `connection`/`upgrade` on an upgrade request.
        if let Some(u) = upgrade_header.filter(|_| upgrade.is_some()) {
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts.headers.insert(header::UPGRADE, u);
        }
        if hcm.config.always_set_request_id_in_response {
            request_id = parts.headers.get("x-request-id").cloned();
        }
        rec.path = path.clone();
        rec.scheme = scheme_header(&parts.headers);
        if let Some(t) = &hcm.tracing {
            let s = start_span(t, &proxy, &conn, &parts, &rec);
            s.inject(&mut parts.headers);
            span = Some(s);
        }
        if let Some(x) = &hcm.exchange {
            downstream_peer = x.on_request(&mut parts.headers);
        }
        let incoming = if hcm.istio_stats.is_some() {
            let counted = request_bytes.clone();
            body::boxed(Observed::new(incoming, move |_, n| {
                counted.store(n, Ordering::Relaxed)
            }))
        } else {
            body::boxed(incoming)
        };
        route_and_forward(
            &proxy,
            &hcm,
            &conn,
            stream_id,
            parts,
            incoming,
            &authority,
            &path,
            internal,
            started,
            &mut rec,
            &mut span,
            upgrade.as_deref(),
        )
        .await
    };
    let (mut upstream_tls, mut upstream_workload) = (None, None);

    let mut response = match outcome {
        Ok(fwd) => {
            upstream_tls = fwd.upstream_tls;
            upstream_workload = fwd.upstream_workload;
            rec.flags = rec.flags.union(fwd.flags);
            rec.upstream_cluster = fwd.cluster;
            rec.upstream_host = fwd.host;
            rec.attempt_count = fwd.attempts;
            rec.response_code_details = fwd.details;
            rec.upstream_transport_failure_reason = fwd.transport_failure;
            rec.local_reply_body = fwd.local_reply_body;
            fwd.response
        }
        Err(reply) => {
            rec.flags = rec.flags.union(reply.flags);
            rec.response_code_details = reply.details.clone();
            if !reply.body.is_empty() {
                rec.local_reply_body = Some(reply.body.clone());
            }
            if grpc {
                reply.into_grpc_response(&hcm.server_name)
            } else {
                reply.into_response(&hcm.server_name)
            }
        }
    };
    let upstream_peer = match &hcm.exchange {
        Some(x) => x.on_response(response.headers_mut(), downstream_peer.is_some()),
        None => None,
    };
    let istio = hcm.istio_stats.as_ref().map(|stats| {
        let applied = proxy.applied();
        let cluster = rec
            .upstream_cluster
            .as_deref()
            .and_then(|n| applied.cluster(n))
            .map(|c| (c.name.as_str(), c.config.metadata.as_ref()));
        let mut o = HttpObservation {
            service: stats.service(Some(&authority), rec.route_name.as_deref(), cluster),
            protocol: if grpc { Protocol::Grpc } else { Protocol::Http },
            // From the headers: a trailers-only gRPC answer (errors); the trailers of a
            // streamed answer are not read here.
            grpc_status: grpc
                .then(|| response.headers().get("grpc-status"))
                .flatten()
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned),
            request_bytes: request_bytes.clone(),
            ..HttpObservation::default()
        };
        // The server knows its client from the exchange and the client certificate; the
        // client knows its server from the exchange (else the endpoint's metadata) and the
        // server certificate.
        let tls = match stats.reporter {
            Reporter::Destination => {
                o.peer = downstream_peer.take();
                conn.tls.as_deref()
            }
            Reporter::Source => {
                o.peer = upstream_peer.or_else(|| {
                    upstream_workload
                        .as_deref()
                        .and_then(PeerInfo::from_endpoint_metadata)
                });
                upstream_tls.as_deref()
            }
        };
        if let Some(t) = tls {
            o.peer_principal = t.peer_uri_san().map(str::to_owned);
            o.local_principal = t.local_uri_san.clone();
        }
        o
    });
    // The upstream switched protocols: join the two upgraded connections.
    if response.status() == http::StatusCode::SWITCHING_PROTOCOLS
        && let Some(down) = on_upgrade
        && let Some(up) = response
            .extensions_mut()
            .remove::<hyper::upgrade::OnUpgrade>()
    {
        super::upgrade::tunnel(
            down,
            up,
            &stats.downstream_cx_upgrades_total,
            &stats.downstream_cx_upgrades_active,
        );
    }
    finalize_response_headers(&mut response, &hcm);
    if let Some(id) = request_id {
        response.headers_mut().insert("x-request-id", id);
    }
    let status = response.status().as_u16();
    stats.charge_code(status);
    rec.response_code = status;
    rec.response_duration.get_or_insert(started.elapsed());
    if hcm.log.enabled(Component::Http, Level::Debug) {
        plog!(
            hcm.log,
            Level::Debug,
            Component::Http,
            "[C{}][S{stream_id}] encoding headers via codec (end_stream={}):\n':status', '{status}'",
            conn.id,
            hyper::body::Body::is_end_stream(response.body())
        );
    }

    // Finish accounting when the response body has gone out (or the client left).
    let (parts, body) = response.into_parts();
    if !hcm.access_logs.is_empty() {
        rec.response_headers = Some(parts.headers.clone());
    }
    // A streamed gRPC answer says its status in the trailers: Istio's metrics want it.
    let trailer_status = (grpc && istio.as_ref().is_some_and(|o| o.grpc_status.is_none()))
        .then(|| Arc::new(std::sync::OnceLock::new()));
    let body = match &trailer_status {
        Some(seen) => body::boxed(super::grpc_status::TrailerStatus::new(body, seen.clone())),
        None => body,
    };
    let mut istio = istio;
    let hcm2 = hcm.clone();
    let proxy2 = proxy.clone();
    let observed = Observed::new(body, move |end, bytes| {
        let stats = &hcm2.stats;
        stats.downstream_rq_active.dec();
        stats.downstream_rq_completed.inc();
        stats.listener_rq_completed.inc();
        let elapsed = started.elapsed();
        stats.downstream_rq_time.record(elapsed.as_millis() as u64);
        if end != End::Complete {
            stats.downstream_rq_tx_reset.inc();
            if end == End::Dropped {
                rec.flags
                    .set(super::super::flags::Flag::DownstreamConnectionTermination);
            }
        }
        if let (Some(stats), Some(o)) = (&hcm2.istio_stats, istio.as_mut()) {
            if let Some(s) = trailer_status.as_ref().and_then(|t| t.get()) {
                o.grpc_status = Some(s.clone());
            }
            stats.record_http(o, rec.response_code, &rec.flags.short(), elapsed, bytes);
        }
        if !hcm2.access_logs.is_empty() {
            rec.bytes_sent = bytes;
            rec.duration = Some(elapsed);
            rec.response_tx_duration = rec.response_duration.map(|d| elapsed.saturating_sub(d));
            for l in &hcm2.access_logs {
                l.log(&rec);
            }
        }
        if let (Some(t), Some(s)) = (&hcm2.tracing, span.filter(|s| s.sampled)) {
            rec.bytes_sent = bytes;
            let spans = s.finish(&rec, elapsed);
            proxy2.tracers.report(&proxy2, &t.collector, spans);
        }
    });
    Response::from_parts(parts, body::boxed(observed))
}

/// The request's span, from its headers after Envoy's mutations (so `x-request-id` is set).
fn start_span(
    t: &TracingRt,
    proxy: &Proxy,
    conn: &ConnInfo,
    parts: &http::request::Parts,
    rec: &Record,
) -> ActiveSpan {
    let (node_id, service_name) = tracing::local_identity(proxy);
    t.start(
        &parts.headers,
        RequestFacts {
            scheme: rec.scheme,
            authority: rec.authority.clone(),
            path: rec.path.clone(),
            method: rec.method.clone(),
            protocol: rec.protocol,
            start: rec.start,
            peer: conn.peer,
            local: conn.local,
            node_id,
            service_name,
        },
    )
}

/// Envoy's `mutateRequestHeaders`: hop-by-hop removal, XFF, x-forwarded-proto, internal vs
/// external, x-request-id, via. Returns whether the request is internal.
fn mutate_request_headers(
    headers: &mut HeaderMap,
    hcm: &HcmRt,
    peer: SocketAddr,
    secure: bool,
) -> bool {
    // One pass over the names (no hashing) tells which of the costly cases apply.
    let (mut hop_by_hop, mut envoy) = (false, false);
    for name in headers.keys() {
        let n = name.as_str();
        if n.starts_with("x-envoy-") {
            envoy = true;
        } else if HOP_BY_HOP.contains(&n) {
            hop_by_hop = true;
        }
    }
    if hop_by_hop {
        for h in HOP_BY_HOP {
            // Only `te: trailers` may pass.
            if h == "te"
                && headers
                    .get("te")
                    .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"trailers"))
            {
                continue;
            }
            headers.remove(h);
        }
    }
    let xff = headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok());
    let (xff_entries, xff_last) = match xff {
        Some(v) => {
            let mut n = 0;
            let mut last = None;
            for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                n += 1;
                last = Some(part);
            }
            (n, last.and_then(|l| l.parse::<IpAddr>().ok()))
        }
        None => (0, None),
    };
    let (final_address, trusted_checks): (Option<IpAddr>, bool) = if hcm.use_remote_address {
        let had_xff = xff_entries > 0;
        if !hcm.config.skip_xff_append {
            let appended = match headers.get(&X_FORWARDED_FOR).and_then(|v| v.to_str().ok()) {
                Some(old) if !old.is_empty() => format!("{old}, {}", peer.ip()),
                _ => peer.ip().to_string(),
            };
            if let Ok(v) = HeaderValue::try_from(appended) {
                headers.insert(X_FORWARDED_FOR, v);
            }
        }
        (Some(peer.ip()), !had_xff)
    } else {
        // The last XFF entry is the client; trusted checks only with exactly one entry.
        (xff_last, xff_entries == 1)
    };
    let internal = trusted_checks && final_address.is_some_and(is_internal_ip);
    let edge = hcm.use_remote_address && !internal;
    // The scheme the client used with us: https when the chain terminated TLS.
    let proto = HeaderValue::from_static(if secure { "https" } else { "http" });
    if hcm.use_remote_address {
        headers.insert(X_FORWARDED_PROTO, proto);
    } else {
        headers.entry(X_FORWARDED_PROTO).or_insert(proto);
    }
    if internal {
        headers.insert(X_ENVOY_INTERNAL, HeaderValue::from_static("true"));
    } else {
        if envoy {
            headers.remove(X_ENVOY_INTERNAL);
            for h in INTERNAL_ONLY {
                headers.remove(h);
            }
        }
        if let RouteSource::Static(t) = &hcm.routes {
            for h in &t.internal_only_headers {
                headers.remove(h);
            }
        }
        if edge {
            if envoy {
                headers.remove("x-envoy-decorator-operation");
                headers.remove("x-envoy-downstream-service-cluster");
                headers.remove("x-envoy-downstream-service-node");
            }
            if let Ok(v) = HeaderValue::try_from(peer.ip().to_string()) {
                headers.insert("x-envoy-external-address", v);
            }
        }
    }
    if hcm.generate_request_id {
        let regenerate = edge && !hcm.config.preserve_external_request_id;
        match headers.entry(X_REQUEST_ID) {
            http::header::Entry::Occupied(mut e) if regenerate => {
                e.insert(new_request_id());
            }
            http::header::Entry::Occupied(_) => {}
            http::header::Entry::Vacant(e) => {
                e.insert(new_request_id());
            }
        }
    }
    if let Some(via) = &hcm.via {
        headers.append(header::VIA, via.clone());
    }
    internal
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_ENVOY_INTERNAL: HeaderName = HeaderName::from_static("x-envoy-internal");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A lower-case UUID v4, formatted without an intermediate `String`.
fn new_request_id() -> HeaderValue {
    let mut buf = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut buf);
    HeaderValue::from_str(text).unwrap_or(HeaderValue::from_static("-"))
}

#[allow(clippy::too_many_arguments)]
async fn route_and_forward(
    proxy: &Arc<Proxy>,
    hcm: &Arc<HcmRt>,
    conn: &ConnInfo,
    stream_id: u64,
    mut parts: http::request::Parts,
    incoming: Body,
    authority: &str,
    path: &str,
    internal: bool,
    started: Instant,
    rec: &mut Record,
    span: &mut Option<ActiveSpan>,
    upgrade: Option<&str>,
) -> Result<Forwarded, LocalReply> {
    let host_for_match = if hcm.config.strip_any_host_port {
        strip_port(authority)
    } else {
        authority
    };
    if !hcm.access_logs.is_empty() {
        rec.request_headers = parts.headers.clone();
    }
    let Some(table) = hcm.routes.table(proxy) else {
        hcm.stats.no_route.inc();
        return Err(LocalReply::no_route());
    };
    let method = parts.method.to_string();
    let scheme = scheme_header(&parts.headers);
    // Envoy checks the virtual host's TLS requirement before any route, by x-forwarded-proto.
    if let Some(vh) = table.virtual_host(host_for_match) {
        use crate::xds::route::TlsRequirement;
        let redirect = scheme != "https"
            && match vh.require_tls {
                TlsRequirement::All => true,
                TlsRequirement::ExternalOnly => !internal,
                TlsRequirement::None => false,
            };
        if redirect {
            let mut resp = Response::new(body::empty());
            *resp.status_mut() = http::StatusCode::MOVED_PERMANENTLY;
            if let Ok(v) = HeaderValue::try_from(format!("https://{authority}{path}")) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
            return Ok(Forwarded::local(resp, "ssl_redirect"));
        }
    }
    let matched = table.route(&RequestView {
        host: host_for_match,
        path,
        headers: &parts.headers,
        method: &method,
        scheme,
    });
    // The pre-router filters see the matched route's overrides (Envoy's cached route); with no
    // route they still run, on their own config.
    let _passed = if hcm.filters.is_empty() {
        None
    } else {
        let cluster = match matched.as_ref().map(|m| &m.route.action) {
            Some(Action::Forward(f)) => match &f.target {
                super::route::ClusterTarget::Named(n) => Some(n.as_str()),
                _ => None,
            },
            _ => None,
        };
        let req = FaultRequest {
            headers: &parts.headers,
            pseudo: Pseudo {
                method: &method,
                authority,
                path,
                scheme,
            },
            cluster,
        };
        let none = PerFilter::default();
        let overrides = match &matched {
            Some(m) => [&m.route.per_filter, &m.vhost.per_filter],
            None => [&none, &none],
        };
        let passed = hcm.filters.decode(&req, overrides, &proxy.stats).await?;
        rec.flags = rec.flags.union(passed.flags);
        Some(passed)
    };
    let Some(m) = matched else {
        hcm.stats.no_route.inc();
        plog!(
            hcm.log,
            Level::Debug,
            Component::Router,
            "[C{}][S{stream_id}] no route match for URL '{path}'",
            conn.id
        );
        return Err(LocalReply::no_route());
    };
    rec.route_name = Some(m.route.name.clone());
    if let Some(s) = span.as_mut() {
        s.apply_decorator(m.route.decorator.as_deref(), &mut parts.headers);
    }
    match &m.route.action {
        Action::Direct { status, body } => {
            hcm.stats.rq_direct_response.inc();
            let mut resp = Response::new(body::full(body.clone()));
            *resp.status_mut() =
                http::StatusCode::from_u16(*status).unwrap_or(http::StatusCode::OK);
            if !body.is_empty() {
                resp.headers_mut()
                    .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
            }
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            apply_response_mutations(&mut resp, &table, m.vhost, m.route, None, rec);
            Ok(Forwarded::local(resp, "direct_response"))
        }
        Action::Redirect(r) => {
            hcm.stats.rq_redirect.inc();
            let location =
                router::redirect_location(r, scheme, authority, path, m.route.matched_prefix());
            let mut resp = Response::new(body::empty());
            *resp.status_mut() = http::StatusCode::from_u16(r.response_code.status())
                .unwrap_or(http::StatusCode::MOVED_PERMANENTLY);
            if let Ok(v) = HeaderValue::try_from(location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp.headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(0));
            apply_response_mutations(&mut resp, &table, m.vhost, m.route, None, rec);
            Ok(Forwarded::local(resp, "via_upstream"))
        }
        Action::Forward(fwd) => {
            if let Some(kind) = upgrade
                && !super::upgrade::allowed(&hcm.upgrades, &fwd.upgrades, kind)
            {
                hcm.stats.downstream_rq_ws_on_non_ws_route.inc();
                return Err(LocalReply::upgrade_failed());
            }
            let ctx = RouterCtx {
                proxy,
                hcm,
                conn_id: conn.id,
                stream_id,
                internal,
                downstream_started: started,
                destination: conn.local,
                upgrade: upgrade.is_some(),
                stream_idle: super::stream_idle::effective(
                    hcm.config.stream_idle_timeout.map(|d| d.get()),
                    fwd.idle_timeout,
                ),
            };
            let result = router::forward(
                &ctx, &mut parts, incoming, authority, path, &table, m.vhost, m.route, fwd, rec,
            )
            .await;
            let mut forwarded = match result {
                Ok(f) => f,
                Err(e) => {
                    if e.flags.has(super::super::flags::Flag::NoClusterFound) {
                        hcm.stats.no_cluster.inc();
                    }
                    return Err(e);
                }
            };
            let weighted = match (&fwd.target, forwarded.weighted) {
                (super::route::ClusterTarget::Weighted { clusters, .. }, Some(i)) => {
                    clusters.get(i)
                }
                _ => None,
            };
            apply_response_mutations(
                &mut forwarded.response,
                &table,
                m.vhost,
                m.route,
                weighted,
                rec,
            );
            Ok(forwarded)
        }
    }
}

fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((h, p))
            if p.chars().all(|c| c.is_ascii_digit()) && (h.ends_with(']') || !h.contains(':')) =>
        {
            h
        }
        _ => host,
    }
}

/// Route, virtual host and route-config response header mutations (most specific first).
fn apply_response_mutations(
    resp: &mut Response<Body>,
    table: &RouteTable,
    vhost: &super::route::VirtualHostRt,
    route: &super::route::RouteRt,
    weighted: Option<&super::route::WeightedTarget>,
    rec: &Record,
) {
    let h = resp.headers_mut();
    if let Some(w) = weighted {
        w.response_headers.apply(h, Some(rec));
    }
    route.response_headers.apply(h, Some(rec));
    vhost.response_headers.apply(h, Some(rec));
    table.response_headers.apply(h, Some(rec));
    if vhost.include_attempt_count_in_response && rec.attempt_count > 0 {
        h.insert(
            "x-envoy-attempt-count",
            HeaderValue::from(rec.attempt_count),
        );
    }
}

/// `server` and `x-request-id` on the way out.
fn finalize_response_headers(resp: &mut Response<Body>, hcm: &HcmRt) {
    let h = resp.headers_mut();
    match hcm.config.server_header_transformation {
        ServerHeaderTransformation::Overwrite => {
            h.insert(header::SERVER, hcm.server_name.clone());
        }
        ServerHeaderTransformation::AppendIfAbsent => {
            if !h.contains_key(header::SERVER) {
                h.insert(header::SERVER, hcm.server_name.clone());
            }
        }
        ServerHeaderTransformation::PassThrough => {}
    }
}
