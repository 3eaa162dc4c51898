//! Istio's own filters, as Istio's proxy runs them: `istio.metadata_exchange` (peers tell each
//! other their workload in `x-envoy-peer-metadata` headers) and `istio.stats` (the standard
//! `istio_*` metrics, for HTTP in the connection manager and for TCP before tcp_proxy).
//!
//! TCP connections carry no headers; Istio exchanges metadata there inside the mTLS tunnel
//! (ALPN `istio-peer-exchange`), which mesh does not implement. So a TCP report knows its peer
//! only from the certificate (principal and namespace) or, on the client side, from the
//! upstream endpoint's `istio.workload` metadata. TCP bytes are reported when the connection
//! closes (Istio also reports long connections every `tcp_reporting_duration`).

pub mod labels;
pub mod metrics;
pub mod pbstruct;
pub mod peer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use http::{HeaderMap, HeaderValue};

use crate::xds::istio::{PeerMetadataConfig, PeerMetadataMethod, StatsPluginConfig, StatsReporter};
use crate::xds::listener::TrafficDirection;

use super::Rejected;
use super::listener::BuildCtx;
use labels::{Facts, Protocol, Reporter, ServiceFacts};
use metrics::{IstioMetrics, TcpSeries};
use peer::PeerInfo;

/// Inbound listeners report as the destination; outbound ones (sidecars' and gateways') as
/// the source, as Istio decides from the listener's traffic direction.
fn reporter(direction: TrafficDirection) -> Reporter {
    match direction {
        TrafficDirection::Inbound => Reporter::Destination,
        _ => Reporter::Source,
    }
}

/// This proxy's own workload, from the bootstrap's node.
fn local_peer(ctx: &BuildCtx<'_>) -> PeerInfo {
    match ctx.node {
        Some(n) => {
            PeerInfo::from_metadata(&n.id, n.metadata.as_ref().unwrap_or(&Default::default()))
        }
        None => PeerInfo::default(),
    }
}

/// A compiled `istio.stats` filter.
#[derive(Debug)]
pub struct StatsRt {
    pub reporter: Reporter,
    host_fallback: bool,
    metrics: IstioMetrics,
    local: PeerInfo,
}

impl StatsRt {
    pub fn build(
        cfg: &StatsPluginConfig,
        path: &str,
        ctx: &BuildCtx<'_>,
    ) -> Result<Arc<StatsRt>, Rejected> {
        if cfg.reporter == StatsReporter::ServerGateway {
            return Err(Rejected::new(
                format!("{path}.reporter"),
                "SERVER_GATEWAY (waypoint) reporting is not supported by mesh",
            ));
        }
        let metrics = IstioMetrics::new(ctx.store);
        let version = ctx
            .node
            .and_then(|n| n.metadata.as_ref())
            .and_then(|m| m.get("ISTIO_VERSION"))
            .and_then(|v| v.as_str())
            .unwrap_or_default();
        metrics.build_info(version);
        Ok(Arc::new(StatsRt {
            reporter: reporter(ctx.direction),
            host_fallback: !cfg.disable_host_header_fallback,
            metrics,
            local: local_peer(ctx),
        }))
    }

    /// The destination service of an HTTP request (see [`labels::destination_service`]).
    pub fn service(
        &self,
        host_header: Option<&str>,
        route_name: Option<&str>,
        cluster: Option<(&str, Option<&crate::xds::core::Metadata>)>,
    ) -> ServiceFacts {
        labels::destination_service(host_header, self.host_fallback, route_name, cluster)
    }

    /// One finished request.
    pub fn record_http(
        &self,
        o: &HttpObservation,
        response_code: u16,
        response_flags: &str,
        duration: Duration,
        response_bytes: u64,
    ) {
        let tags = labels::labels(&Facts {
            reporter: self.reporter,
            local: &self.local,
            peer: o.peer.as_ref(),
            peer_principal: o.peer_principal.as_deref(),
            local_principal: o.local_principal.as_deref(),
            service: &o.service,
            protocol: o.protocol,
            response_code,
            grpc_status: o.grpc_status.as_deref(),
            response_flags,
        });
        self.metrics.record_http(
            &tags,
            duration.as_millis() as u64,
            o.request_bytes.load(Ordering::Relaxed),
            response_bytes,
        );
    }

    /// The counters of a TCP connection with these facts (opened is counted here).
    pub fn tcp_opened(&self, o: &TcpObservation<'_>) -> Arc<TcpSeries> {
        let service = labels::destination_service(None, false, None, o.cluster);
        let tags = labels::labels(&Facts {
            reporter: self.reporter,
            local: &self.local,
            peer: o.peer.as_ref(),
            peer_principal: o.peer_principal,
            local_principal: o.local_principal,
            service: &service,
            protocol: Protocol::Tcp,
            response_code: 0,
            grpc_status: None,
            response_flags: o.response_flags,
        });
        let series = self.metrics.tcp(&tags);
        series.opened.inc();
        series
    }
}

/// What one HTTP request's report needs beyond its status, flags and timing.
#[derive(Debug, Default)]
pub struct HttpObservation {
    pub peer: Option<PeerInfo>,
    pub peer_principal: Option<String>,
    pub local_principal: Option<String>,
    pub service: ServiceFacts,
    pub protocol: Protocol,
    pub grpc_status: Option<String>,
    /// Request body bytes, counted as the body streams upstream.
    pub request_bytes: Arc<AtomicU64>,
}

/// What a TCP connection's report needs.
#[derive(Debug, Default)]
pub struct TcpObservation<'a> {
    pub peer: Option<PeerInfo>,
    pub peer_principal: Option<&'a str>,
    pub local_principal: Option<&'a str>,
    pub cluster: Option<(&'a str, Option<&'a crate::xds::core::Metadata>)>,
    pub response_flags: &'a str,
}

/// A compiled `istio.metadata_exchange` (peer_metadata) HTTP filter.
#[derive(Debug)]
pub struct ExchangeRt {
    /// Read the peer's headers: from requests inbound, from responses outbound.
    discover: bool,
    /// Send ours: on requests outbound, on responses (to peers that sent theirs) inbound.
    propagate: bool,
    inbound: bool,
    headers: Option<(HeaderValue, HeaderValue)>,
}

impl ExchangeRt {
    pub fn build(
        cfg: &PeerMetadataConfig,
        path: &str,
        ctx: &BuildCtx<'_>,
    ) -> Result<ExchangeRt, Vec<Rejected>> {
        let mut errors = Vec::new();
        let check = |list: &[PeerMetadataMethod], field: &str, errors: &mut Vec<Rejected>| {
            for (i, m) in list.iter().enumerate() {
                if m.workload_discovery.is_some() || m.istio_headers.is_none() {
                    errors.push(Rejected::new(
                        format!("{path}.{field}[{i}]"),
                        "mesh implements only istio_headers (workload_discovery needs ambient's workload xDS)",
                    ));
                }
            }
            !list.is_empty()
        };
        let inbound = ctx.direction == TrafficDirection::Inbound;
        let down_d = check(
            &cfg.downstream_discovery,
            "downstream_discovery",
            &mut errors,
        );
        let down_p = check(
            &cfg.downstream_propagation,
            "downstream_propagation",
            &mut errors,
        );
        let up_d = check(&cfg.upstream_discovery, "upstream_discovery", &mut errors);
        let up_p = check(
            &cfg.upstream_propagation,
            "upstream_propagation",
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(ExchangeRt {
            discover: if inbound { down_d } else { up_d },
            propagate: if inbound { down_p } else { up_p },
            inbound,
            headers: local_peer(ctx).header_values(),
        })
    }

    /// On the request: inbound, takes the downstream's headers (the app never sees them);
    /// outbound, tells the upstream who we are. Returns the downstream peer.
    pub fn on_request(&self, headers: &mut HeaderMap) -> Option<PeerInfo> {
        if self.inbound {
            return if self.discover {
                PeerInfo::take_headers(headers)
            } else {
                None
            };
        }
        if self.propagate
            && let Some(values) = &self.headers
        {
            PeerInfo::write_headers(headers, values);
        }
        None
    }

    /// On the response: outbound, takes the upstream's headers; inbound, answers a peer that
    /// sent its own with ours. Returns the upstream peer.
    pub fn on_response(
        &self,
        headers: &mut HeaderMap,
        downstream_is_peer: bool,
    ) -> Option<PeerInfo> {
        if !self.inbound {
            return if self.discover {
                PeerInfo::take_headers(headers)
            } else {
                None
            };
        }
        if self.propagate
            && downstream_is_peer
            && let Some(values) = &self.headers
        {
            PeerInfo::write_headers(headers, values);
        }
        None
    }
}
