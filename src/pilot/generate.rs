//! Per-proxy configuration: what istiod sends a gateway (listeners for its Gateways' servers,
//! `http.<port>` routes from the VirtualServices bound to them) and a sidecar (virtual outbound
//! and inbound listeners, per-port outbound listeners, port-named routes), plus the clusters and
//! endpoints both need.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use crate::api::istio::{Gateway, Server, ServerTlsMode, VirtualService};
use crate::xds::cluster::Cluster;
use crate::xds::core::{DataSource, Metadata};
use crate::xds::endpoint::ClusterLoadAssignment;
use crate::xds::listener::Listener;
use crate::xds::route::{RouteAction, RouteConfiguration, TlsRequirement, VirtualHost};
use crate::xds::tls::{CertificateValidationContext, Secret, TlsCertificate};

use super::bootstrap::ProxyIdentity;
use super::build::{self, InboundPort};
use super::model::{Model, Workload};
use super::mtls;
use super::names::{self, ProxyType};
use super::settings::{self, MeshSettings};
use super::tracing;
use super::vs_routes::{
    RouteScope, Source, binds_to, host_matches, http_routes_from, in_scope, route_clusters,
};

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
    super::tcp_timeouts::apply(&mut config.listeners, model, &proxy.namespace);
    super::telemetry::attach(&mut config.listeners, proxy.kind == ProxyType::Router);
    super::envoy_filter::apply(
        &model.envoy_filters,
        &proxy.namespace,
        &proxy.labels,
        proxy.kind == ProxyType::Router,
        &mut config.listeners,
        &mut config.routes,
    );
    if settings::access_logging_on(model, settings, proxy, warnings) {
        settings::attach_access_logs(&mut config.listeners, &settings::access_log(settings));
    }
    if settings.enable_tracing
        && let Some(address) = &settings.zipkin_address
    {
        let (cluster, cla) = tracing::collector_cluster(model, address, &proxy.namespace);
        config.clusters.push(cluster);
        config.endpoints.extend(cla);
        tracing::attach(
            &mut config.listeners,
            &tracing::hcm_tracing(settings, proxy),
        );
    }
    config
}

fn generate_config(
    model: &Model,
    settings: &MeshSettings,
    proxy: &ProxyIdentity,
    warnings: &mut Vec<String>,
) -> ProxyConfig {
    let (mut clusters, mut endpoints) = super::outbound::outbound(
        model,
        &proxy.namespace,
        super::locality::of_labels(&proxy.labels).as_ref(),
        &proxy.labels,
        proxy.kind == ProxyType::Sidecar,
        warnings,
    );
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
                // The app's protocol: HTTP/2 for http2/grpc ports, the client's when sniffed.
                let protocol = match (p.h2, p.auto) {
                    (true, _) => super::model::Protocol::Grpc,
                    (false, true) => super::model::Protocol::Unknown,
                    (false, false) => super::model::Protocol::Http,
                };
                super::upstream_protocol::apply(
                    &mut c,
                    super::upstream_protocol::choose(protocol, true, None),
                    None,
                );
                // The Services this port serves, as istiod records them (telemetry's
                // destination_service).
                c.metadata = me.map(|w| inbound_services(model, w, p.port));
                clusters.push(c);
            }
            let (mut listeners, routes) =
                super::sidecar::outbound(model, settings, proxy, warnings);
            listeners.insert(
                0,
                build::virtual_outbound(super::sidecar::catch_all_cluster(settings)),
            );
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
    use super::model::Protocol;
    // port → (HTTP-capable, explicitly named, HTTP/2)
    let mut ports: BTreeMap<u16, (bool, bool, bool)> = BTreeMap::new();
    for s in model.services_of(w) {
        for p in &s.ports {
            if let Some(target) = super::model::resolve_target(&p.target, &w.spec) {
                let (http, named, h2) = ports.get(&target).copied().unwrap_or_default();
                let explicit = p.protocol != Protocol::Unknown;
                let is_h2 = matches!(p.protocol, Protocol::Http2 | Protocol::Grpc);
                ports.insert(
                    target,
                    (http || p.protocol.is_http(), named || explicit, h2 || is_h2),
                );
            }
        }
    }
    ports
        .into_iter()
        .map(|(port, (http, named, h2))| InboundPort {
            port,
            http,
            auto: !named,
            mode: mtls::inbound_mode(model, w, port),
            h2,
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
                Some(ServerTlsMode::Simple | ServerTlsMode::Mutual | ServerTlsMode::IstioMutual)
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
        let vhosts = gateway_vhosts(model, &servers, listen, proxy, warnings);
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
                proxy,
                warnings,
            );
            routes.push(build::route_config(&route, vhosts));
            let tls = server.tls.clone().unwrap_or_default();
            if tls.mode == Some(ServerTlsMode::IstioMutual) {
                // The mesh's own mTLS (sidecars to an egress gateway): the gateway's workload
                // certificate, clients verified against the mesh root.
                chains.push(build::GatewayTlsChain {
                    server_names: server_names(server),
                    route,
                    transport_socket: mtls::inbound_tls(true),
                });
                continue;
            }
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
            chains.push(build::GatewayTlsChain {
                server_names: server_names(server),
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

/// The SNI names a server answers: its hosts without namespaces, `*` meaning any.
fn server_names(server: &Server) -> Vec<String> {
    server
        .hosts
        .iter()
        .filter(|h| *h != "*")
        .map(|h| h.rsplit('/').next().unwrap_or(h).to_owned())
        .collect()
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
    proxy: &ProxyIdentity,
    warnings: &mut Vec<String>,
) -> Vec<VirtualHost> {
    // A match's `sourceLabels` are checked against the gateway pod's labels, as istiod does.
    let source = Source {
        labels: &proxy.labels,
        namespace: &proxy.namespace,
    };
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
                    entry.routes.extend(http_routes_from(
                        vs,
                        model,
                        *server_port,
                        RouteScope::Gateway(gw_ns, &g.metadata.name),
                        Some(&source),
                        warnings,
                    ));
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
        let here = RouteScope::Gateway(
            g.metadata.namespace.as_deref().unwrap_or(""),
            &g.metadata.name,
        );
        for r in &vs.spec.tcp {
            let matches = r.match_.is_empty()
                || r.match_.iter().any(|m| {
                    m.port.is_none_or(|p| p == u32::from(port)) && in_scope(&m.gateways, ns, here)
                });
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
        let here = RouteScope::Gateway(
            g.metadata.namespace.as_deref().unwrap_or(""),
            &g.metadata.name,
        );
        for r in &vs.spec.tls {
            for m in r.match_.iter().filter(|m| {
                m.port.is_none_or(|p| p == u32::from(port)) && in_scope(&m.gateways, ns, here)
            }) {
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
