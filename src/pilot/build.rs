//! The xDS shapes istiod generates, built from plain inputs (names, ports, hosts): outbound and
//! inbound clusters, the special clusters, gateway and sidecar listeners, route configurations,
//! virtual hosts, routes with Istio's default retry policy, and endpoint assignments. What to
//! build for which proxy is decided elsewhere (`gateway.rs`, `sidecar.rs`); this file only knows
//! the shapes.

use std::net::{IpAddr, SocketAddr};

use serde_json::{Map, Value, json};

use crate::xds::cluster::{
    CircuitBreakers, Cluster, DiscoveryType, EdsClusterConfig, LbPolicy, Thresholds,
};
use crate::xds::core::{Address, Metadata, NamedExtension};
use crate::xds::de::Duration;
use crate::xds::endpoint::{
    ClusterLoadAssignment, Endpoint, HealthStatus, LbEndpoint, LocalityLbEndpoints,
};
use crate::xds::hcm::{HttpConnectionManager, HttpFilter, HttpFilterConfig, Rds, Router};
use crate::xds::listener::{
    Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter, ListenerFilterConfig,
    NetworkFilterConfig, TrafficDirection,
};
use crate::xds::route::{
    Decorator, RetryPolicy, Route, RouteAction, RouteConfiguration, RouteMatch, VirtualHost,
};
use crate::xds::tcp_proxy::{TcpClusterWeight, TcpProxy, TcpWeightedClusters};
use crate::xds::tls::TransportSocket;

use super::mtls::{self, INBOUND_ALPN, MtlsMode};
use super::names;

/// istiod's default `connectTimeout` (mesh config).
pub const CONNECT_TIMEOUT_SECS: u64 = 10;
/// Circuit-breaker thresholds istiod sets when no DestinationRule does: unlimited.
const UNLIMITED: u32 = u32::MAX;

pub fn ads() -> Value {
    json!({"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"})
}

/// Circuit breakers without limits (what istiod sets without a DestinationRule).
fn unlimited() -> CircuitBreakers {
    CircuitBreakers {
        thresholds: vec![Thresholds {
            max_connections: Some(UNLIMITED),
            max_pending_requests: Some(UNLIMITED),
            max_requests: Some(UNLIMITED),
            max_retries: Some(UNLIMITED),
            track_remaining: true,
            ..Default::default()
        }],
    }
}

fn istio_metadata(key: &str, value: Value) -> Metadata {
    let mut istio = Map::new();
    istio.insert(key.to_owned(), value);
    let mut fm = Map::new();
    fm.insert("istio".to_owned(), Value::Object(istio));
    Metadata {
        filter_metadata: fm,
    }
}

/// `istio.services` cluster metadata: the Services a cluster stands for.
pub fn services_metadata(services: Vec<Value>) -> Metadata {
    istio_metadata("services", Value::Array(services))
}

/// `outbound|<port>||<fqdn>`: an EDS cluster for one Service port.
pub fn outbound_cluster(
    port: u16,
    subset: &str,
    fqdn: &str,
    service: &str,
    namespace: &str,
) -> Cluster {
    let name = names::outbound_cluster(port, subset, fqdn);
    Cluster {
        name: name.clone(),
        discovery_type: DiscoveryType::Eds,
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads()),
            service_name: name,
        }),
        connect_timeout: Some(Duration::from_secs(CONNECT_TIMEOUT_SECS)),
        lb_policy: LbPolicy::LeastRequest,
        circuit_breakers: Some(unlimited()),
        common_lb_config: Some(json!({"locality_weighted_lb_config": {}})),
        metadata: Some(istio_metadata(
            "services",
            json!([{"host": fqdn, "name": service, "namespace": namespace}]),
        )),
        ..Default::default()
    }
}

/// `inbound|<port>||`: to the app on the pod's own localhost (Istio forwards inbound traffic to
/// the app over localhost; the app binds the pod-localhost address here).
pub fn inbound_cluster(port: u16, app: SocketAddr) -> Cluster {
    let name = names::inbound_cluster(port);
    Cluster {
        name: name.clone(),
        discovery_type: DiscoveryType::Static,
        connect_timeout: Some(Duration::from_secs(CONNECT_TIMEOUT_SECS)),
        circuit_breakers: Some(unlimited()),
        load_assignment: Some(assignment(&name, &[app])),
        ..Default::default()
    }
}

/// `BlackHoleCluster`: no endpoints, so every request to it fails (REGISTRY_ONLY, no route).
pub fn black_hole() -> Cluster {
    Cluster {
        name: "BlackHoleCluster".to_owned(),
        discovery_type: DiscoveryType::Static,
        connect_timeout: Some(Duration::from_secs(CONNECT_TIMEOUT_SECS)),
        ..Default::default()
    }
}

/// `PassthroughCluster` / `InboundPassthroughCluster`: to wherever the connection was going.
pub fn passthrough(name: &str) -> Cluster {
    Cluster {
        name: name.to_owned(),
        discovery_type: DiscoveryType::OriginalDst,
        connect_timeout: Some(Duration::from_secs(CONNECT_TIMEOUT_SECS)),
        lb_policy: LbPolicy::ClusterProvided,
        circuit_breakers: Some(unlimited()),
        ..Default::default()
    }
}

/// A `ClusterLoadAssignment` with every address healthy.
pub fn assignment(cluster: &str, endpoints: &[SocketAddr]) -> ClusterLoadAssignment {
    let plain: Vec<(SocketAddr, Option<Metadata>)> = endpoints.iter().map(|a| (*a, None)).collect();
    assignment_with_metadata(cluster, &plain)
}

/// Endpoints with their metadata (istiod's `tlsMode` and workload identity).
pub fn assignment_with_metadata(
    cluster: &str,
    endpoints: &[(SocketAddr, Option<Metadata>)],
) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name: cluster.to_owned(),
        endpoints: if endpoints.is_empty() {
            Vec::new()
        } else {
            vec![LocalityLbEndpoints {
                locality: None,
                lb_endpoints: endpoints
                    .iter()
                    .map(|(a, metadata)| LbEndpoint {
                        endpoint: Some(Endpoint {
                            address: Address::socket(a.ip().to_string(), u32::from(a.port())),
                            hostname: String::new(),
                        }),
                        health_status: HealthStatus::Healthy,
                        metadata: metadata.clone(),
                        load_balancing_weight: Some(1),
                    })
                    .collect(),
                load_balancing_weight: None,
                priority: 0,
            }]
        },
    }
}

/// istiod's default retry policy for HTTP routes (mesh default).
pub fn default_retry_policy() -> RetryPolicy {
    RetryPolicy {
        retry_on: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes"
            .to_owned(),
        num_retries: Some(2),
        retry_host_predicate: vec![NamedExtension {
            name: "envoy.retry_host_predicates.previous_hosts".to_owned(),
            typed_config: Some(
                json!({"@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}),
            ),
        }],
        host_selection_retry_max_attempts: 5,
        retriable_status_codes: vec![503],
        ..Default::default()
    }
}

/// A route to one cluster, as istiod writes it: `timeout: 0s`, the default retries,
/// `max_grpc_timeout: 0s`, a decorator, and the VirtualService in `istio.config` metadata.
pub fn route_to(
    cluster: &str,
    route_match: RouteMatch,
    decorator: &str,
    config_path: Option<&str>,
) -> Route {
    Route {
        route_match,
        route: Some(RouteAction {
            cluster: Some(cluster.to_owned()),
            timeout: Some(Duration::ZERO),
            retry_policy: Some(default_retry_policy()),
            max_grpc_timeout: Some(Duration::ZERO),
            ..Default::default()
        }),
        metadata: config_path.map(|p| istio_metadata("config", json!(p))),
        decorator: Some(Decorator {
            operation: decorator.to_owned(),
            propagate: None,
        }),
        ..Default::default()
    }
}

pub fn prefix(p: &str) -> RouteMatch {
    RouteMatch {
        prefix: Some(p.to_owned()),
        ..Default::default()
    }
}

/// A route configuration as istiod sends it (ports ignored in host matching, clusters not
/// validated up front).
pub fn route_config(name: &str, virtual_hosts: Vec<VirtualHost>) -> RouteConfiguration {
    RouteConfiguration {
        name: name.to_owned(),
        virtual_hosts,
        validate_clusters: Some(false),
        ignore_port_in_host_matching: true,
        max_direct_response_body_size_bytes: Some(1_048_576),
        ..Default::default()
    }
}

/// The virtual host of a gateway with no VirtualService for its hosts: `blackhole:<port>`.
pub fn blackhole_vhost(port: u16) -> VirtualHost {
    VirtualHost {
        name: format!("blackhole:{port}"),
        domains: vec!["*".to_owned()],
        ..Default::default()
    }
}

fn router_filter() -> HttpFilter {
    HttpFilter {
        name: "envoy.filters.http.router".to_owned(),
        typed_config: Some(HttpFilterConfig::Router(Router::default())),
        ..Default::default()
    }
}

/// An HTTP connection manager taking its routes from RDS.
pub fn hcm_rds(
    stat_prefix: &str,
    route_name: &str,
    use_remote_address: bool,
) -> HttpConnectionManager {
    HttpConnectionManager {
        stat_prefix: stat_prefix.to_owned(),
        rds: Some(Rds {
            config_source: Some(ads()),
            route_config_name: route_name.to_owned(),
        }),
        // Outbound and gateway HCMs carry istiod's fault filter; VirtualServices fill it per route.
        http_filters: vec![super::fault::fault_filter(), router_filter()],
        use_remote_address: use_remote_address.then_some(true),
        server_name: "istio-envoy".to_owned(),
        upgrade_configs: websocket(),
        ..Default::default()
    }
}

/// istiod allows WebSocket upgrades on every HTTP connection manager.
fn websocket() -> Vec<crate::xds::protocol::UpgradeConfig> {
    vec![crate::xds::protocol::UpgradeConfig {
        upgrade_type: "websocket".to_owned(),
        enabled: None,
    }]
}

/// An HTTP connection manager with an inline route configuration.
pub fn hcm_inline(stat_prefix: &str, routes: RouteConfiguration) -> HttpConnectionManager {
    HttpConnectionManager {
        stat_prefix: stat_prefix.to_owned(),
        route_config: Some(routes),
        http_filters: vec![router_filter()],
        server_name: "istio-envoy".to_owned(),
        upgrade_configs: websocket(),
        ..Default::default()
    }
}

pub fn hcm_filter(hcm: HttpConnectionManager) -> Filter {
    Filter {
        name: "envoy.filters.network.http_connection_manager".to_owned(),
        typed_config: NetworkFilterConfig::HttpConnectionManager(Box::new(hcm)),
    }
}

pub fn tcp_filter(stat_prefix: &str, cluster: &str) -> Filter {
    Filter {
        name: "envoy.filters.network.tcp_proxy".to_owned(),
        typed_config: NetworkFilterConfig::TcpProxy(Box::new(TcpProxy {
            stat_prefix: stat_prefix.to_owned(),
            cluster: Some(cluster.to_owned()),
            ..Default::default()
        })),
    }
}

fn inspectors() -> Vec<ListenerFilter> {
    let f = |name: &str, cfg: ListenerFilterConfig| ListenerFilter {
        name: name.to_owned(),
        typed_config: Some(cfg),
    };
    vec![
        f(
            "envoy.filters.listener.tls_inspector",
            ListenerFilterConfig::TlsInspector(Map::new()),
        ),
        f(
            "envoy.filters.listener.http_inspector",
            ListenerFilterConfig::HttpInspector(Map::new()),
        ),
    ]
}

fn http_match(port: Option<u16>) -> FilterChainMatch {
    FilterChainMatch {
        destination_port: port.map(u32::from),
        transport_protocol: "raw_buffer".to_owned(),
        application_protocols: vec!["http/1.1".to_owned(), "h2c".to_owned()],
        ..Default::default()
    }
}

/// A gateway's plain-HTTP listener: `0.0.0.0_<port>` with RDS `http.<port>`.
pub fn gateway_http_listener(port: u16) -> Listener {
    let name = names::listener("0.0.0.0", port);
    Listener {
        name: name.clone(),
        address: Address::socket("0.0.0.0", u32::from(port)),
        filter_chains: vec![FilterChain {
            filters: vec![hcm_filter(hcm_rds(
                &format!("outbound_{name}"),
                &names::gateway_http_route(port),
                true,
            ))],
            ..Default::default()
        }],
        traffic_direction: TrafficDirection::Outbound,
        ..Default::default()
    }
}

/// A gateway's L4 listener (`TCP` servers and `TLS` `PASSTHROUGH` ones): one filter chain per
/// route — SNI-matched chains behind the TLS inspector for passthrough, a catch-all for TCP.
pub fn gateway_tcp_listener(port: u16, chains: Vec<GatewayTcpChain>) -> Listener {
    let name = names::listener("0.0.0.0", port);
    let sni = chains.iter().any(|c| !c.server_names.is_empty());
    let listener_filters = if sni {
        vec![ListenerFilter {
            name: "envoy.filters.listener.tls_inspector".to_owned(),
            typed_config: Some(ListenerFilterConfig::TlsInspector(Map::new())),
        }]
    } else {
        Vec::new()
    };
    Listener {
        name,
        address: Address::socket("0.0.0.0", u32::from(port)),
        filter_chains: chains
            .into_iter()
            .map(|c| FilterChain {
                filter_chain_match: (!c.server_names.is_empty()).then(|| FilterChainMatch {
                    server_names: c.server_names,
                    ..Default::default()
                }),
                filters: vec![c.filter],
                ..Default::default()
            })
            .collect(),
        listener_filters,
        traffic_direction: TrafficDirection::Outbound,
        ..Default::default()
    }
}

/// One HTTPS server of a gateway port: the SNI names it answers, its route configuration and
/// the TLS it terminates with.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayTlsChain {
    pub server_names: Vec<String>,
    pub route: String,
    pub transport_socket: TransportSocket,
}

/// A gateway's HTTPS listener: TLS terminated per server (chosen by SNI), then HTTP routed by
/// the server's own route configuration.
pub fn gateway_https_listener(port: u16, chains: Vec<GatewayTlsChain>) -> Listener {
    let name = names::listener("0.0.0.0", port);
    Listener {
        name: name.clone(),
        address: Address::socket("0.0.0.0", u32::from(port)),
        filter_chains: chains
            .into_iter()
            .map(|c| FilterChain {
                filter_chain_match: (!c.server_names.is_empty()).then(|| FilterChainMatch {
                    server_names: c.server_names,
                    ..Default::default()
                }),
                filters: vec![hcm_filter(hcm_rds(
                    &format!("outbound_{name}"),
                    &c.route,
                    true,
                ))],
                transport_socket: Some(c.transport_socket),
                ..Default::default()
            })
            .collect(),
        listener_filters: vec![ListenerFilter {
            name: "envoy.filters.listener.tls_inspector".to_owned(),
            typed_config: Some(ListenerFilterConfig::TlsInspector(Map::new())),
        }],
        traffic_direction: TrafficDirection::Outbound,
        ..Default::default()
    }
}

/// One L4 route on a gateway port: the SNI names it answers (none: every connection) and its
/// tcp_proxy.
#[derive(Debug, Clone, PartialEq)]
pub struct GatewayTcpChain {
    pub server_names: Vec<String>,
    pub filter: Filter,
}

/// tcp_proxy to one cluster, or weighted across several (Istio's stat prefix is the cluster
/// name, or the first one's when weighted).
pub fn tcp_filter_weighted(clusters: &[(String, u32)]) -> Filter {
    match clusters {
        [(only, _)] => tcp_filter(only, only),
        many => Filter {
            name: "envoy.filters.network.tcp_proxy".to_owned(),
            typed_config: NetworkFilterConfig::TcpProxy(Box::new(TcpProxy {
                stat_prefix: many.first().map(|c| c.0.clone()).unwrap_or_default(),
                weighted_clusters: Some(TcpWeightedClusters {
                    clusters: many
                        .iter()
                        .map(|(name, weight)| TcpClusterWeight {
                            name: name.clone(),
                            weight: *weight,
                        })
                        .collect(),
                }),
                ..Default::default()
            })),
        },
    }
}

/// A sidecar's `virtualOutbound` (15001): connections go to the listener of their original
/// destination, anything else to `catch_all` (PassthroughCluster, or BlackHoleCluster under
/// REGISTRY_ONLY).
pub fn virtual_outbound(catch_all: &str) -> Listener {
    Listener {
        name: "virtualOutbound".to_owned(),
        address: Address::socket("0.0.0.0", 15001),
        filter_chains: vec![FilterChain {
            name: "virtualOutbound-catchall-tcp".to_owned(),
            filters: vec![tcp_filter(catch_all, catch_all)],
            ..Default::default()
        }],
        use_original_dst: Some(true),
        traffic_direction: TrafficDirection::Outbound,
        ..Default::default()
    }
}

/// A sidecar's outbound HTTP listener for one Service port: `0.0.0.0_<port>`, RDS `<port>`,
/// and `catch_all` for whatever is not HTTP.
pub fn outbound_http_listener(port: u16, catch_all: &str) -> Listener {
    let name = names::listener("0.0.0.0", port);
    Listener {
        name: name.clone(),
        address: Address::socket("0.0.0.0", u32::from(port)),
        filter_chains: vec![
            FilterChain {
                filter_chain_match: Some(http_match(None)),
                filters: vec![hcm_filter(hcm_rds(
                    &format!("outbound_{name}"),
                    &port.to_string(),
                    false,
                ))],
                ..Default::default()
            },
            FilterChain {
                filters: vec![tcp_filter(catch_all, catch_all)],
                name: "PassthroughFilterChain".to_owned(),
                ..Default::default()
            },
        ],
        listener_filters: inspectors(),
        bind_to_port: Some(false),
        traffic_direction: TrafficDirection::Outbound,
        ..Default::default()
    }
}

/// A sidecar's outbound TCP listener for one Service port: `<clusterIP>_<port>`.
pub fn outbound_tcp_listener(vip: IpAddr, port: u16, cluster: &str) -> Listener {
    outbound_tcp_listener_with(vip, port, tcp_filter(cluster, cluster))
}

/// The same listener with a given tcp_proxy (a VirtualService's weighted `tcp` route).
pub fn outbound_tcp_listener_with(vip: IpAddr, port: u16, filter: Filter) -> Listener {
    let name = names::listener(&vip.to_string(), port);
    Listener {
        name: name.clone(),
        address: Address::socket(vip.to_string(), u32::from(port)),
        filter_chains: vec![FilterChain {
            filters: vec![filter],
            ..Default::default()
        }],
        bind_to_port: Some(false),
        traffic_direction: TrafficDirection::Outbound,
        ..Default::default()
    }
}

/// One port the sidecar serves inbound: HTTP or TCP, and its PeerAuthentication mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InboundPort {
    pub port: u16,
    pub http: bool,
    /// Unnamed port: Istio sniffs, so mTLS clients of either kind are served (by ALPN).
    pub auto: bool,
    pub mode: MtlsMode,
    /// An `http2`/`grpc` port: the app is spoken to in HTTP/2.
    pub h2: bool,
}

/// The filters that hand a port's traffic to the app: an HCM for HTTP, tcp_proxy otherwise.
fn inbound_filters(p: &InboundPort, mtls: bool) -> Vec<Filter> {
    let cluster = names::inbound_cluster(p.port);
    let name = names::listener("0.0.0.0", p.port);
    if !p.http {
        return vec![tcp_filter(&cluster, &cluster)];
    }
    let routes = route_config(
        &cluster,
        vec![VirtualHost {
            name: "inbound|http|".to_owned() + &p.port.to_string(),
            domains: vec!["*".to_owned()],
            routes: vec![Route {
                name: "default".to_owned(),
                ..route_to(&cluster, prefix("/"), &format!(":{}/*", p.port), None)
            }],
            ..Default::default()
        }],
    );
    let mut hcm = hcm_inline(&format!("inbound_{name}"), routes);
    hcm.use_remote_address = Some(false);
    // Over mTLS the peer's identity is known; istiod forwards it to the app as XFCC. (The
    // proxy does not implement forward_client_cert_details yet, so it is left out.)
    let _ = mtls;
    vec![hcm_filter(hcm)]
}

fn chain(
    name: String,
    m: FilterChainMatch,
    filters: Vec<Filter>,
    tls: Option<TransportSocket>,
) -> FilterChain {
    FilterChain {
        filter_chain_match: Some(m),
        filters,
        transport_socket: tls,
        name,
        ..Default::default()
    }
}

/// A sidecar's `virtualInbound` (15006): per served port, an mTLS chain (unless DISABLE) and
/// plain-text chains (unless STRICT) — HTTP to an HCM, the rest to tcp_proxy, the app's own TLS
/// passed through — then the catch-all passthrough chains in the workload's mode.
pub fn virtual_inbound(ports: &[InboundPort], workload_mode: MtlsMode) -> Listener {
    let mut chains = Vec::new();
    let istio_alpn = || {
        INBOUND_ALPN
            .iter()
            .map(|s| (*s).to_owned())
            .collect::<Vec<_>>()
    };
    for p in ports {
        let name = names::listener("0.0.0.0", p.port);
        let port = Some(u32::from(p.port));
        if p.mode != MtlsMode::Disable {
            let tls_match = |alpn: Vec<String>| FilterChainMatch {
                destination_port: port,
                transport_protocol: "tls".to_owned(),
                application_protocols: alpn,
                ..Default::default()
            };
            let strict = p.mode == MtlsMode::Strict;
            let tcp_port = InboundPort { http: false, ..*p };
            if p.auto {
                // Sniffed port: HTTP clients say istio-http/*, TCP clients istio.
                let http_alpn = INBOUND_ALPN[2..].iter().map(|s| (*s).to_owned()).collect();
                let tcp_alpn = INBOUND_ALPN[..2].iter().map(|s| (*s).to_owned()).collect();
                chains.push(chain(
                    format!("{name}-mtls-http"),
                    tls_match(http_alpn),
                    inbound_filters(p, true),
                    Some(mtls::inbound_tls(true)),
                ));
                chains.push(chain(
                    format!("{name}-mtls-tcp"),
                    tls_match(tcp_alpn),
                    inbound_filters(&tcp_port, true),
                    Some(mtls::inbound_tls(false)),
                ));
                if strict {
                    chains.push(chain(
                        format!("{name}-mtls"),
                        tls_match(Vec::new()),
                        inbound_filters(&tcp_port, true),
                        Some(mtls::inbound_tls(false)),
                    ));
                }
            } else {
                // STRICT: any TLS client is an mTLS client (openssl s_client sees the workload
                // certificate); PERMISSIVE: only Istio's ALPN, other TLS belongs to the app.
                let alpn = if strict { Vec::new() } else { istio_alpn() };
                chains.push(chain(
                    format!("{name}-mtls"),
                    tls_match(alpn),
                    inbound_filters(p, true),
                    Some(mtls::inbound_tls(p.http)),
                ));
            }
        }
        if p.mode == MtlsMode::Strict {
            continue;
        }
        if p.http {
            chains.push(chain(
                name.clone(),
                http_match(Some(p.port)),
                inbound_filters(p, false),
                None,
            ));
        }
        let cluster = names::inbound_cluster(p.port);
        let raw = FilterChainMatch {
            destination_port: port,
            transport_protocol: "raw_buffer".to_owned(),
            ..Default::default()
        };
        chains.push(chain(
            format!("{name}-tcp"),
            raw,
            vec![tcp_filter(&cluster, &cluster)],
            None,
        ));
        // The app's own TLS (not Istio's mTLS) passes through to it untouched.
        let tls = FilterChainMatch {
            destination_port: port,
            transport_protocol: "tls".to_owned(),
            ..Default::default()
        };
        chains.push(chain(
            format!("{name}-tls"),
            tls,
            vec![tcp_filter(&cluster, &cluster)],
            None,
        ));
    }
    let passthrough = || {
        vec![tcp_filter(
            "InboundPassthroughCluster",
            "InboundPassthroughCluster",
        )]
    };
    if workload_mode != MtlsMode::Disable {
        let m = FilterChainMatch {
            transport_protocol: "tls".to_owned(),
            application_protocols: if workload_mode == MtlsMode::Strict {
                Vec::new()
            } else {
                istio_alpn()
            },
            ..Default::default()
        };
        chains.push(chain(
            "virtualInbound-mtls".to_owned(),
            m,
            passthrough(),
            Some(mtls::inbound_tls(false)),
        ));
    }
    if workload_mode != MtlsMode::Strict {
        let raw = FilterChainMatch {
            transport_protocol: "raw_buffer".to_owned(),
            ..Default::default()
        };
        chains.push(chain(
            "virtualInbound-catchall-tcp".to_owned(),
            raw,
            passthrough(),
            None,
        ));
        let tls = FilterChainMatch {
            transport_protocol: "tls".to_owned(),
            ..Default::default()
        };
        chains.push(chain(
            "virtualInbound-tls".to_owned(),
            tls,
            passthrough(),
            None,
        ));
    }
    let mut listener_filters = vec![ListenerFilter {
        name: "envoy.filters.listener.original_dst".to_owned(),
        typed_config: Some(ListenerFilterConfig::OriginalDst(Map::new())),
    }];
    listener_filters.extend(inspectors());
    Listener {
        name: "virtualInbound".to_owned(),
        address: Address::socket("0.0.0.0", 15006),
        filter_chains: chains,
        listener_filters,
        // istiod's inbound protocol detection (PILOT_INBOUND_PROTOCOL_DETECTION_TIMEOUT, 1s):
        // a server-first protocol gets its bytes through after a second.
        listener_filters_timeout: Some(Duration::from_secs(1)),
        continue_on_listener_filters_timeout: true,
        bind_to_port: Some(false),
        traffic_direction: TrafficDirection::Inbound,
        ..Default::default()
    }
}
