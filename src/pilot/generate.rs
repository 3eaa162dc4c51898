//! Per-proxy configuration: what istiod sends a gateway (listeners for its Gateways' servers,
//! `http.<port>` routes from the VirtualServices bound to them) and a sidecar (virtual outbound
//! and inbound listeners, per-port outbound listeners, port-named routes), plus the clusters and
//! endpoints both need.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::api::istio::{Gateway, RouteDestination, Server, ServerTlsMode, VirtualService};
use crate::xds::cluster::Cluster;
use crate::xds::core::DataSource;
use crate::xds::core::Metadata;
use crate::xds::endpoint::ClusterLoadAssignment;
use crate::xds::listener::Listener;
use crate::xds::route::{Route, RouteAction, RouteConfiguration, TlsRequirement, VirtualHost};
use crate::xds::tls::{CertificateValidationContext, Secret, TlsCertificate};

use super::bootstrap::ProxyIdentity;
use super::build::{self, InboundPort, prefix, route_to};
use super::model::{Model, Workload};
use super::mtls;
use super::names::{self, ProxyType};
use super::settings::{self, MeshSettings};
use super::vs_routes::{binds_to, binds_to_mesh, destination_cluster, host_matches, http_routes};

/// Everything one proxy gets, by xDS type.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProxyConfig {
    pub clusters: Vec<Cluster>,
    pub endpoints: Vec<ClusterLoadAssignment>,
    pub listeners: Vec<Listener>,
    pub routes: Vec<RouteConfiguration>,
    /// Gateway credentials istiod serves over ADS (`kubernetes://NAME`).
    pub secrets: Vec<Secret>,
}

/// A gateway server bound to a listener port: (server port, gateway, hosts, httpsRedirect).
type ServerOf<'a> = (u16, &'a Gateway, Vec<String>, bool);
pub fn generate(
    model: &Model,
    settings: &MeshSettings,
    proxy: &ProxyIdentity,
    warnings: &mut Vec<String>,
) -> ProxyConfig {
    let mut config = generate_config(model, settings, proxy, warnings);
    super::telemetry::attach(&mut config.listeners, proxy.kind == ProxyType::Router);
    if settings::access_logging_on(model, settings, proxy, warnings) {
        settings::attach_access_logs(&mut config.listeners, &settings::access_log(settings));
    }
    config
}

fn generate_config(
    model: &Model,
    settings: &MeshSettings,
    proxy: &ProxyIdentity,
    warnings: &mut Vec<String>,
) -> ProxyConfig {
    let (mut clusters, mut endpoints) = outbound(model, &proxy.namespace, warnings);
    clusters.push(build::black_hole());
    match proxy.kind {
        ProxyType::Router => {
            let (listeners, routes, secrets) = gateway(model, proxy, warnings);
            if settings.filter_gateway_clusters {
                // Only what the gateway's routes and tcp_proxies name (and the specials).
                let used = referenced_clusters(&listeners, &routes);
                clusters.retain(|c| used.contains(&c.name) || c.name == "BlackHoleCluster");
                endpoints.retain(|e| used.contains(&e.cluster_name));
            }
            ProxyConfig {
                clusters,
                endpoints,
                listeners,
                routes,
                secrets,
            }
        }
        ProxyType::Sidecar => {
            clusters.push(build::passthrough("PassthroughCluster"));
            clusters.push(build::passthrough("InboundPassthroughCluster"));
            let me = model
                .workloads
                .iter()
                .find(|w| w.pod == proxy.pod && w.namespace == proxy.namespace);
            let inbound = me.map(|w| inbound_ports(model, w)).unwrap_or_default();
            for p in &inbound {
                let mut c = build::inbound_cluster(p.port, SocketAddr::new(proxy.app_ip, p.port));
                // The Services this port serves, as istiod records them (telemetry's
                // destination_service).
                c.metadata = me.map(|w| inbound_services(model, w, p.port));
                clusters.push(c);
            }
            let (mut listeners, routes) = sidecar_outbound(model, proxy, warnings);
            listeners.insert(0, build::virtual_outbound());
            let workload_mode = me.map_or(mtls::MtlsMode::Permissive, |w| {
                mtls::inbound_mode(model, w, 0)
            });
            listeners.insert(1, build::virtual_inbound(&inbound, workload_mode));
            ProxyConfig {
                clusters,
                endpoints,
                listeners,
                routes,
                secrets: Vec::new(),
            }
        }
    }
}

/// An EDS cluster and its endpoints for every Service port in the mesh, with auto mTLS (or
/// the DestinationRule's `tls`) as a client in `client_ns` gets it.
fn outbound(
    model: &Model,
    client_ns: &str,
    warnings: &mut Vec<String>,
) -> (Vec<Cluster>, Vec<ClusterLoadAssignment>) {
    let mut clusters = Vec::new();
    let mut endpoints = Vec::new();
    for s in &model.services {
        let sans = model.service_identities(s);
        let dr = model.destination_rule_for(&s.fqdn, client_ns, &s.namespace);
        if let Some(dr) = dr {
            note_unacted_destination_rule(dr, warnings);
        }
        for p in &s.ports {
            let mut c = build::outbound_cluster(p.port, "", &s.fqdn, &s.name, &s.namespace);
            let dr_tls = dr
                .and_then(|d| d.spec.traffic_policy.as_ref())
                .and_then(|t| {
                    t.port_level_settings
                        .iter()
                        .find(|pl| {
                            pl.port.as_ref().and_then(|ps| ps.number) == Some(u32::from(p.port))
                        })
                        .and_then(|pl| pl.tls.clone())
                        .or_else(|| t.tls.clone())
                });
            let tls = match &dr_tls {
                Some(tls) => mtls::destination_rule_tls(tls, &sans, p.port, &s.fqdn, warnings),
                None => mtls::auto_mtls(
                    &sans,
                    &mtls::istio_sni(p.port, "", &s.fqdn),
                    mtls::client_alpn(p.protocol),
                ),
            };
            c.transport_socket = tls.transport_socket;
            c.transport_socket_matches = tls.transport_socket_matches;
            let eps: Vec<(SocketAddr, Option<Metadata>)> = model
                .endpoints_of(s, p)
                .into_iter()
                .map(|a| {
                    let meshed = model.workload_at(a.ip()).is_some_and(|w| {
                        w.labels
                            .get("security.istio.io/tlsMode")
                            .map(String::as_str)
                            == Some("istio")
                    });
                    let mut fm: serde_json::Map<String, serde_json::Value> =
                        mtls::endpoint_metadata(meshed).into_iter().collect();
                    if let Some(w) = model.workload_at(a.ip()) {
                        fm.insert(
                            "istio".into(),
                            serde_json::json!({"workload": workload_metadata(w)}),
                        );
                    }
                    (
                        a,
                        Some(Metadata {
                            filter_metadata: fm,
                        }),
                    )
                })
                .collect();
            endpoints.push(build::assignment_with_metadata(&c.name, &eps));
            clusters.push(c);
        }
    }
    (clusters, endpoints)
}

/// Every cluster a gateway's routes or tcp_proxies send to.
fn referenced_clusters(listeners: &[Listener], routes: &[RouteConfiguration]) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for r in routes {
        for vh in &r.virtual_hosts {
            for route in &vh.routes {
                if let Some(RouteAction {
                    cluster,
                    weighted_clusters,
                    ..
                }) = &route.route
                {
                    used.extend(cluster.clone());
                    if let Some(w) = weighted_clusters {
                        used.extend(w.clusters.iter().map(|c| c.name.clone()));
                    }
                }
            }
        }
    }
    for l in listeners {
        for chain in &l.filter_chains {
            for f in &chain.filters {
                if let crate::xds::listener::NetworkFilterConfig::TcpProxy(t) = &f.typed_config {
                    used.extend(t.cluster.clone());
                    if let Some(w) = &t.weighted_clusters {
                        used.extend(w.clusters.iter().map(|c| c.name.clone()));
                    }
                }
            }
        }
    }
    used
}

/// istiod's endpoint workload metadata: `name;namespace;canonical name;revision;cluster`.
fn workload_metadata(w: &Workload) -> String {
    let name = w.workload_name();
    let canonical = w
        .labels
        .get("service.istio.io/canonical-name")
        .or_else(|| w.labels.get("app"))
        .cloned()
        .unwrap_or_else(|| name.clone());
    let revision = w
        .labels
        .get("service.istio.io/canonical-revision")
        .or_else(|| w.labels.get("version"))
        .cloned()
        .unwrap_or_else(|| "latest".to_owned());
    format!("{name};{};{canonical};{revision};Kubernetes", w.namespace)
}

/// The parts of a DestinationRule mesh does not translate yet are reported, never dropped
/// silently.
fn note_unacted_destination_rule(
    dr: &crate::api::istio::DestinationRule,
    warnings: &mut Vec<String>,
) {
    let mut unacted = Vec::new();
    if !dr.spec.subsets.is_empty() {
        unacted.push("subsets");
    }
    if let Some(t) = &dr.spec.traffic_policy {
        if t.load_balancer.is_some() {
            unacted.push("trafficPolicy.loadBalancer");
        }
        if t.connection_pool.is_some() {
            unacted.push("trafficPolicy.connectionPool");
        }
        if t.outlier_detection.is_some() {
            unacted.push("trafficPolicy.outlierDetection");
        }
    }
    if !unacted.is_empty() {
        let w = format!(
            "DestinationRule {}/{}: {} not acted on by mesh yet (tls is)",
            dr.metadata.namespace.as_deref().unwrap_or(""),
            dr.metadata.name,
            unacted.join(", ")
        );
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    }
}

/// `istio.services` metadata of an inbound cluster: the Services whose target port is `port`.
fn inbound_services(model: &Model, w: &Workload, port: u16) -> Metadata {
    let services: Vec<serde_json::Value> = model
        .services_of(w)
        .into_iter()
        .filter(|s| {
            s.ports
                .iter()
                .any(|p| super::model::resolve_target(&p.target, &w.spec) == Some(port))
        })
        .map(|s| serde_json::json!({"host": s.fqdn, "name": s.name, "namespace": s.namespace}))
        .collect();
    build::services_metadata(services)
}

/// The ports a workload serves: target ports of the Services that select it.
fn inbound_ports(model: &Model, w: &Workload) -> Vec<InboundPort> {
    // port → (HTTP-capable, explicitly named)
    let mut ports: BTreeMap<u16, (bool, bool)> = BTreeMap::new();
    for s in model.services_of(w) {
        for p in &s.ports {
            if let Some(target) = super::model::resolve_target(&p.target, &w.spec) {
                let (http, named) = ports.get(&target).copied().unwrap_or((false, false));
                let explicit = p.protocol != super::model::Protocol::Unknown;
                ports.insert(target, (http || p.protocol.is_http(), named || explicit));
            }
        }
    }
    ports
        .into_iter()
        .map(|(port, (http, named))| InboundPort {
            port,
            http,
            auto: !named,
            mode: mtls::inbound_mode(model, w, port),
        })
        .collect()
}

/// Gateway servers that select this proxy, by the port the gateway pod listens on (a server's
/// port resolved through the gateway's Service to its target port, as istiod does).
fn gateway(
    model: &Model,
    proxy: &ProxyIdentity,
    warnings: &mut Vec<String>,
) -> (Vec<Listener>, Vec<RouteConfiguration>, Vec<Secret>) {
    let me = model
        .workloads
        .iter()
        .find(|w| w.pod == proxy.pod && w.namespace == proxy.namespace);
    let services = me.map(|w| model.services_of(w)).unwrap_or_default();
    let target_of = |port: u16| -> u16 {
        services
            .iter()
            .find_map(|s| s.port(port))
            .and_then(|p| me.and_then(|w| super::model::resolve_target(&p.target, &w.spec)))
            .unwrap_or(port)
    };
    let selected: Vec<&Gateway> = model
        .gateways
        .iter()
        .filter(|g| {
            !g.spec.selector.is_empty()
                && g.spec
                    .selector
                    .iter()
                    .all(|(k, v)| proxy.labels.get(k) == Some(v))
        })
        .collect();
    // listener port → (server port, gateway, hosts)
    let mut http: BTreeMap<u16, Vec<ServerOf<'_>>> = BTreeMap::new();
    let mut https: BTreeMap<u16, Vec<(u16, &Gateway, &Server)>> = BTreeMap::new();
    let mut l4: BTreeMap<u16, Vec<build::GatewayTcpChain>> = BTreeMap::new();
    for g in &selected {
        for s in &g.spec.servers {
            let Ok(port) = u16::try_from(s.port.number) else {
                continue;
            };
            let protocol = s.port.protocol.to_ascii_uppercase();
            let tls_mode = s.tls.as_ref().and_then(|t| t.mode);
            let passthrough = tls_mode == Some(ServerTlsMode::Passthrough);
            let terminates = matches!(
                tls_mode,
                Some(ServerTlsMode::Simple | ServerTlsMode::Mutual)
            );
            let redirect = s.tls.as_ref().is_some_and(|t| t.https_redirect);
            match protocol.as_str() {
                "HTTP" | "HTTP2" | "GRPC" => http.entry(target_of(port)).or_default().push((port, g, s.hosts.clone(), redirect)),
                "HTTPS" if terminates => https.entry(target_of(port)).or_default().push((port, g, s)),
                "TCP" => l4.entry(target_of(port)).or_default().extend(tcp_chains(model, g, s, port)),
                "TLS" if passthrough => l4.entry(target_of(port)).or_default().extend(passthrough_chains(model, g, s, port)),
                other => warnings.push(format!(
                    "Gateway {}/{}: server port {port} protocol {other}{} is not acted on by mesh yet",
                    g.metadata.namespace.as_deref().unwrap_or(""),
                    g.metadata.name,
                    s.tls.as_ref().and_then(|t| t.mode).map(|m| format!(" (tls mode {m:?})")).unwrap_or_default()
                )),
            }
        }
    }
    let mut listeners = Vec::new();
    let mut routes = Vec::new();
    for (listen, servers) in http {
        listeners.push(build::gateway_http_listener(listen));
        let vhosts = gateway_vhosts(model, &servers, listen, warnings);
        routes.push(build::route_config(
            &names::gateway_http_route(listen),
            vhosts,
        ));
    }
    let mut secrets = Vec::new();
    for (listen, servers) in https {
        let mut chains = Vec::new();
        for (port, g, server) in servers {
            let gw_ns = g.metadata.namespace.as_deref().unwrap_or("");
            let port_name = server.port.name.as_str();
            let route = names::gateway_https_route(port, port_name, &g.metadata.name, gw_ns);
            let vhosts = gateway_vhosts(
                model,
                &[(port, g, server.hosts.clone(), false)],
                port,
                warnings,
            );
            routes.push(build::route_config(&route, vhosts));
            let tls = server.tls.clone().unwrap_or_default();
            let mutual = tls.mode == Some(ServerTlsMode::Mutual);
            let credential = tls.credential_name.clone().unwrap_or_default();
            if credential.is_empty() {
                warnings.push(format!(
                    "Gateway {gw_ns}/{}: server {port_name} has no credentialName (file-mounted certificates are not supported by mesh)",
                    g.metadata.name
                ));
                continue;
            }
            secrets.extend(gateway_secrets(
                model,
                &proxy.namespace,
                &credential,
                mutual,
            ));
            let server_names: Vec<String> = server
                .hosts
                .iter()
                .filter(|h| *h != "*")
                .map(|h| h.rsplit('/').next().unwrap_or(h).to_owned())
                .collect();
            chains.push(build::GatewayTlsChain {
                server_names,
                route,
                transport_socket: mtls::gateway_tls(&credential, mutual),
            });
        }
        if !chains.is_empty() {
            listeners.push(build::gateway_https_listener(listen, chains));
        }
    }
    secrets.sort_by(|a, b| a.name.cmp(&b.name));
    secrets.dedup_by(|a, b| a.name == b.name);
    // istiod builds no listener for an L4 server no route binds to.
    for (listen, chains) in l4 {
        if !chains.is_empty() {
            listeners.push(build::gateway_tcp_listener(listen, chains));
        }
    }
    (listeners, routes, secrets)
}

/// `kubernetes://NAME` (certificate and key) and, for MUTUAL, `kubernetes://NAME-cacert` (the
/// CA that signs client certificates: the Secret's `ca.crt`/`cacert`, or a `NAME-cacert`
/// Secret). A Secret that does not exist is simply not sent: the listener waits for it.
fn gateway_secrets(model: &Model, ns: &str, credential: &str, mutual: bool) -> Vec<Secret> {
    let inline = |b: &[u8]| DataSource {
        inline_bytes: Some(crate::api::base64::encode(b)),
        ..Default::default()
    };
    let mut out = Vec::new();
    let data = model.secrets.get(&(ns.to_owned(), credential.to_owned()));
    if let Some(d) = data {
        let cert = d.get("tls.crt").or_else(|| d.get("cert"));
        let key = d.get("tls.key").or_else(|| d.get("key"));
        if let (Some(c), Some(k)) = (cert, key) {
            out.push(Secret {
                name: format!("kubernetes://{credential}"),
                tls_certificate: Some(TlsCertificate {
                    certificate_chain: Some(inline(c)),
                    private_key: Some(inline(k)),
                }),
                ..Default::default()
            });
        }
    }
    if mutual {
        let ca = data
            .and_then(|d| d.get("ca.crt").or_else(|| d.get("cacert")))
            .or_else(|| {
                model
                    .secrets
                    .get(&(ns.to_owned(), format!("{credential}-cacert")))
                    .and_then(|d| d.get("ca.crt").or_else(|| d.get("cacert")))
            });
        if let Some(ca) = ca {
            out.push(Secret {
                name: format!("kubernetes://{credential}-cacert"),
                validation_context: Some(CertificateValidationContext {
                    trusted_ca: Some(inline(ca)),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
    }
    out
}

/// The virtual hosts of one gateway route configuration: every host of the bound
/// VirtualServices that the servers accept (`blackhole:<port>` when none).
fn gateway_vhosts(
    model: &Model,
    servers: &[ServerOf<'_>],
    listen: u16,
    warnings: &mut Vec<String>,
) -> Vec<VirtualHost> {
    {
        let mut vhosts: BTreeMap<String, VirtualHost> = BTreeMap::new();
        for (server_port, g, hosts, redirect) in servers {
            let gw_ns = g.metadata.namespace.as_deref().unwrap_or("");
            for vs in model
                .virtual_services
                .iter()
                .filter(|v| binds_to(v, gw_ns, &g.metadata.name))
            {
                for host in vs
                    .spec
                    .hosts
                    .iter()
                    .filter(|h| hosts.iter().any(|p| host_matches(p, h)))
                {
                    let name = format!("{host}:{server_port}");
                    let entry = vhosts.entry(name.clone()).or_insert_with(|| VirtualHost {
                        name,
                        domains: vec![host.clone()],
                        include_request_attempt_count: true,
                        ..Default::default()
                    });
                    if *redirect {
                        // httpsRedirect: Envoy answers 301 to https://host/path.
                        entry.require_tls = TlsRequirement::All;
                    }
                    entry
                        .routes
                        .extend(http_routes(vs, model, *server_port, warnings));
                }
            }
        }
        let mut vhosts: Vec<VirtualHost> = vhosts.into_values().collect();
        if vhosts.is_empty() {
            let port = servers.first().map(|(p, _, _, _)| *p).unwrap_or(listen);
            vhosts.push(build::blackhole_vhost(port));
        }
        vhosts
    }
}

/// The clusters (with weights) a TCP/TLS route sends to.
fn route_clusters(
    model: &Model,
    ns: &str,
    route: &[RouteDestination],
    port: u16,
) -> Vec<(String, u32)> {
    let n = u32::try_from(route.len()).unwrap_or(1).max(1);
    route
        .iter()
        .map(|d| {
            let (cluster, _) = destination_cluster(&d.destination, model, ns, port);
            (
                cluster,
                d.weight
                    .and_then(|w| u32::try_from(w).ok())
                    .unwrap_or(100 / n),
            )
        })
        .collect()
}

/// VirtualServices bound to gateway `g` whose hosts overlap the server's.
fn bound_to<'a>(
    model: &'a Model,
    g: &'a Gateway,
    server: &'a Server,
) -> impl Iterator<Item = &'a VirtualService> + 'a {
    let gw_ns = g.metadata.namespace.as_deref().unwrap_or("");
    model.virtual_services.iter().filter(move |v| {
        binds_to(v, gw_ns, &g.metadata.name)
            && v.spec.hosts.iter().any(|h| {
                server
                    .hosts
                    .iter()
                    .any(|p| host_matches(p, h) || host_matches(h, p))
            })
    })
}

/// A `TCP` server: the first `tcp` route matching the server port takes every connection.
fn tcp_chains(
    model: &Model,
    g: &Gateway,
    server: &Server,
    port: u16,
) -> Vec<build::GatewayTcpChain> {
    for vs in bound_to(model, g, server) {
        let ns = vs.metadata.namespace.as_deref().unwrap_or("");
        for r in &vs.spec.tcp {
            let matches = r.match_.is_empty()
                || r.match_
                    .iter()
                    .any(|m| m.port.is_none_or(|p| p == u32::from(port)));
            if matches && !r.route.is_empty() {
                return vec![build::GatewayTcpChain {
                    server_names: Vec::new(),
                    filter: build::tcp_filter_weighted(&route_clusters(model, ns, &r.route, port)),
                }];
            }
        }
    }
    Vec::new()
}

/// A `TLS` `PASSTHROUGH` server: one chain per `tls` route, matched on its SNI hosts.
fn passthrough_chains(
    model: &Model,
    g: &Gateway,
    server: &Server,
    port: u16,
) -> Vec<build::GatewayTcpChain> {
    let mut out = Vec::new();
    for vs in bound_to(model, g, server) {
        let ns = vs.metadata.namespace.as_deref().unwrap_or("");
        for r in &vs.spec.tls {
            for m in r
                .match_
                .iter()
                .filter(|m| m.port.is_none_or(|p| p == u32::from(port)))
            {
                let names: Vec<String> = m
                    .sni_hosts
                    .iter()
                    .filter(|h| server.hosts.iter().any(|p| host_matches(p, h)))
                    .cloned()
                    .collect();
                if names.is_empty() || r.route.is_empty() {
                    continue;
                }
                out.push(build::GatewayTcpChain {
                    server_names: names,
                    filter: build::tcp_filter_weighted(&route_clusters(model, ns, &r.route, port)),
                });
            }
        }
    }
    out
}

/// A sidecar's outbound listeners (one per HTTP port, one per TCP service port) and its
/// port-named route configurations.
fn sidecar_outbound(
    model: &Model,
    proxy: &ProxyIdentity,
    warnings: &mut Vec<String>,
) -> (Vec<Listener>, Vec<RouteConfiguration>) {
    let mut http_ports: BTreeSet<u16> = BTreeSet::new();
    let mut listeners = Vec::new();
    for s in &model.services {
        for p in &s.ports {
            if p.protocol.is_http() {
                http_ports.insert(p.port);
            } else if let Some(vip) = s.vip {
                let cluster = names::outbound_cluster(p.port, "", &s.fqdn);
                listeners.push(build::outbound_tcp_listener(vip, p.port, &cluster));
            }
        }
    }
    let mut routes = Vec::new();
    for port in &http_ports {
        listeners.push(build::outbound_http_listener(*port));
        let mut vhosts = Vec::new();
        for s in &model.services {
            if !s.port(*port).is_some_and(|sp| sp.protocol.is_http()) {
                continue;
            }
            let cluster = names::outbound_cluster(*port, "", &s.fqdn);
            let bound: Vec<Route> = model
                .virtual_services
                .iter()
                .filter(|v| binds_to_mesh(v))
                .filter(|v| {
                    let ns = v.metadata.namespace.as_deref().unwrap_or("");
                    v.spec.hosts.iter().any(|h| {
                        model
                            .service_for_host(h, ns)
                            .is_some_and(|t| t.fqdn == s.fqdn)
                    })
                })
                .flat_map(|v| http_routes(v, model, *port, warnings))
                .collect();
            let routes = if bound.is_empty() {
                vec![Route {
                    name: "default".to_owned(),
                    ..route_to(&cluster, prefix("/"), &format!("{}:{port}/*", s.fqdn), None)
                }]
            } else {
                bound
            };
            vhosts.push(VirtualHost {
                name: format!("{}:{port}", s.fqdn),
                domains: domains(s, &proxy.namespace),
                routes,
                include_request_attempt_count: true,
                ..Default::default()
            });
        }
        vhosts.push(VirtualHost {
            name: "allow_any".to_owned(),
            domains: vec!["*".to_owned()],
            routes: vec![Route {
                name: "allow_any".to_owned(),
                route_match: prefix("/"),
                route: Some(RouteAction {
                    cluster: Some("PassthroughCluster".to_owned()),
                    timeout: Some(crate::xds::de::Duration::ZERO),
                    max_grpc_timeout: Some(crate::xds::de::Duration::ZERO),
                    ..Default::default()
                }),
                ..Default::default()
            }],
            include_request_attempt_count: true,
            ..Default::default()
        });
        routes.push(build::route_config(&port.to_string(), vhosts));
    }
    (listeners, routes)
}

/// The names a Service answers to from a proxy in `namespace` (`generateVirtualHostDomains`).
fn domains(s: &super::model::ServiceInfo, namespace: &str) -> Vec<String> {
    let mut d = vec![s.fqdn.clone()];
    if s.namespace == namespace {
        d.push(s.name.clone());
    }
    d.push(format!("{}.{}.svc", s.name, s.namespace));
    d.push(format!("{}.{}", s.name, s.namespace));
    if let Some(vip) = s.vip {
        d.push(vip.to_string());
    }
    d
}
