//! A sidecar's outbound side, for the services it sees (Kubernetes Services and exported
//! ServiceEntry hosts): HTTP ports share `0.0.0.0_<port>` and the route configuration `<port>`
//! (a virtual host per service, VirtualServices bound to `mesh` applied); TCP ports with an
//! address get `<address>_<port>`; TLS ports of hosts without one get `0.0.0.0_<port>` with a
//! chain per host chosen by SNI, and plain TCP ports `0.0.0.0_<port>` to the first such host.
//! What matches nothing goes where `outboundTrafficPolicy` says: PassthroughCluster
//! (ALLOW_ANY) or BlackHoleCluster and a 502 (REGISTRY_ONLY).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Map;

use crate::xds::core::Address;
use crate::xds::listener::{
    Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter, ListenerFilterConfig,
    TrafficDirection,
};
use crate::xds::route::{
    DirectResponseAction, Route, RouteAction, RouteConfiguration, VirtualHost,
};

use super::bootstrap::ProxyIdentity;
use super::build::{self, prefix, route_to};
use super::model::{Model, Protocol, ServiceInfo};
use super::names;
use super::settings::{MeshSettings, OutboundPolicy};
use super::vs_routes::{
    RouteScope, Source, binds_to_mesh, host_matches, http_routes_from, in_scope, route_clusters,
};

/// Where connections to unknown destinations go.
pub fn catch_all_cluster(settings: &MeshSettings) -> &'static str {
    match settings.outbound_policy {
        OutboundPolicy::AllowAny => "PassthroughCluster",
        OutboundPolicy::RegistryOnly => "BlackHoleCluster",
    }
}

/// The outbound listeners and the port-named route configurations of a sidecar.
pub fn outbound(
    model: &Model,
    settings: &MeshSettings,
    proxy: &ProxyIdentity,
    warnings: &mut Vec<String>,
) -> (Vec<Listener>, Vec<RouteConfiguration>) {
    let catch_all = catch_all_cluster(settings);
    let visible: Vec<&ServiceInfo> = model
        .services
        .iter()
        .filter(|s| s.visible_from(&proxy.namespace))
        .collect();
    let mut http_ports: BTreeSet<u16> = BTreeSet::new();
    let mut listeners = Vec::new();
    // Hosts without an address: port → (SNI host, tcp_proxy) for TLS, one tcp_proxy for TCP.
    let mut by_sni: BTreeMap<u16, Vec<(String, Filter)>> = BTreeMap::new();
    let mut tcp_any: BTreeMap<u16, Filter> = BTreeMap::new();
    for s in &visible {
        for p in &s.ports {
            let cluster = names::outbound_cluster(p.port, "", &s.fqdn);
            if p.protocol.is_http() {
                http_ports.insert(p.port);
            } else if let Some(vip) = s.vip {
                let filter = vip_tcp_filter(model, s, p.port, &cluster);
                listeners.push(build::outbound_tcp_listener_with(vip, p.port, filter));
            } else if s.entry.is_some() {
                if matches!(p.protocol, Protocol::Tls | Protocol::Https) {
                    let filter = l4_filter(model, &s.fqdn, p.port, &cluster, true);
                    by_sni
                        .entry(p.port)
                        .or_default()
                        .push((s.fqdn.clone(), filter));
                } else {
                    match tcp_any.entry(p.port) {
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(l4_filter(model, &s.fqdn, p.port, &cluster, false));
                        }
                        std::collections::btree_map::Entry::Occupied(_) => note(
                            warnings,
                            format!(
                                "ServiceEntry host {} port {}: TCP without addresses, and another host already takes every connection on that port (give the entries addresses to tell them apart)",
                                s.fqdn, p.port
                            ),
                        ),
                    }
                }
            }
        }
    }
    for (port, hosts) in by_sni {
        if http_ports.contains(&port) {
            note(
                warnings,
                format!(
                    "ServiceEntry TLS port {port} is also an HTTP port of another service; the HTTP listener wins"
                ),
            );
            continue;
        }
        tcp_any.remove(&port);
        listeners.push(sni_listener(port, &hosts, catch_all));
    }
    for (port, filter) in tcp_any {
        if http_ports.contains(&port) {
            note(
                warnings,
                format!(
                    "ServiceEntry TCP port {port} is also an HTTP port of another service; the HTTP listener wins"
                ),
            );
            continue;
        }
        listeners.push(any_address_listener(
            port,
            vec![FilterChain {
                filters: vec![filter],
                ..Default::default()
            }],
        ));
    }
    let mut routes = Vec::new();
    for port in &http_ports {
        listeners.push(build::outbound_http_listener(*port, catch_all));
        let mut vhosts: Vec<VirtualHost> = visible
            .iter()
            .filter(|s| s.port(*port).is_some_and(|sp| sp.protocol.is_http()))
            .map(|s| service_vhost(model, s, *port, proxy, warnings))
            .collect();
        vhosts.push(catch_all_vhost(settings));
        routes.push(build::route_config(&port.to_string(), vhosts));
    }
    (listeners, routes)
}

fn note(warnings: &mut Vec<String>, w: String) {
    if !warnings.contains(&w) {
        warnings.push(w);
    }
}

/// A service's virtual host on one port: the routes of VirtualServices bound to `mesh` for
/// its host, or the default route to its cluster.
fn service_vhost(
    model: &Model,
    s: &ServiceInfo,
    port: u16,
    proxy: &ProxyIdentity,
    warnings: &mut Vec<String>,
) -> VirtualHost {
    let namespace = proxy.namespace.as_str();
    let source = Source {
        labels: &proxy.labels,
        namespace,
    };
    let cluster = names::outbound_cluster(port, "", &s.fqdn);
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
        .flat_map(|v| http_routes_from(v, model, port, RouteScope::Mesh, Some(&source), warnings))
        .collect();
    let routes = if bound.is_empty() {
        vec![Route {
            name: "default".to_owned(),
            ..route_to(&cluster, prefix("/"), &format!("{}:{port}/*", s.fqdn), None)
        }]
    } else {
        bound
    };
    VirtualHost {
        name: format!("{}:{port}", s.fqdn),
        domains: domains(s, namespace),
        routes,
        include_request_attempt_count: true,
        ..Default::default()
    }
}

/// What matches no service: `allow_any` to PassthroughCluster, or `block_all`, a 502.
fn catch_all_vhost(settings: &MeshSettings) -> VirtualHost {
    let route = match settings.outbound_policy {
        OutboundPolicy::AllowAny => Route {
            name: "allow_any".to_owned(),
            route_match: prefix("/"),
            route: Some(RouteAction {
                cluster: Some("PassthroughCluster".to_owned()),
                timeout: Some(crate::xds::de::Duration::ZERO),
                max_grpc_timeout: Some(crate::xds::de::Duration::ZERO),
                ..Default::default()
            }),
            ..Default::default()
        },
        OutboundPolicy::RegistryOnly => Route {
            name: "block_all".to_owned(),
            route_match: prefix("/"),
            direct_response: Some(DirectResponseAction {
                status: 502,
                body: None,
            }),
            ..Default::default()
        },
    };
    VirtualHost {
        name: route.name.clone(),
        domains: vec!["*".to_owned()],
        routes: vec![route],
        include_request_attempt_count: true,
        ..Default::default()
    }
}

/// The names a service answers to from a proxy in `namespace` (`generateVirtualHostDomains`):
/// a Kubernetes Service's short and partial names, a ServiceEntry host only as written; and
/// the address.
fn domains(s: &ServiceInfo, namespace: &str) -> Vec<String> {
    let mut d = vec![s.fqdn.clone()];
    if s.entry.is_none() {
        if s.namespace == namespace {
            d.push(s.name.clone());
        }
        d.push(format!("{}.{}.svc", s.name, s.namespace));
        d.push(format!("{}.{}", s.name, s.namespace));
    }
    if let Some(vip) = s.vip {
        d.push(vip.to_string());
    }
    d
}

/// The tcp_proxy for a service's ClusterIP on a TCP port: the first `tcp` route (matching the
/// port, bound to `mesh`) of a VirtualService whose hosts name the service — weighted subsets
/// as in Istio's TCP traffic-shifting task — else the service's own cluster.
fn vip_tcp_filter(model: &Model, s: &ServiceInfo, port: u16, cluster: &str) -> Filter {
    for vs in model.virtual_services.iter().filter(|v| binds_to_mesh(v)) {
        let ns = vs.metadata.namespace.as_deref().unwrap_or("");
        let names_service = vs.spec.hosts.iter().any(|h| {
            model
                .service_for_host(h, ns)
                .is_some_and(|t| t.fqdn == s.fqdn)
        });
        if !names_service {
            continue;
        }
        let route = vs.spec.tcp.iter().find(|r| {
            r.match_.is_empty()
                || r.match_.iter().any(|m| {
                    m.port.is_none_or(|p| p == u32::from(port))
                        && in_scope(&m.gateways, ns, RouteScope::Mesh)
                })
        });
        if let Some(route) = route.filter(|r| !r.route.is_empty()) {
            return build::tcp_filter_weighted(&route_clusters(model, ns, &route.route, port));
        }
    }
    build::tcp_filter(cluster, cluster)
}

/// The tcp_proxy for a host without an address on an L4 port: the first `tls` (by `sniHosts`)
/// or `tcp` route of a VirtualService bound to `mesh` for the host and port, else the host's
/// own cluster.
fn l4_filter(model: &Model, host: &str, port: u16, cluster: &str, tls: bool) -> Filter {
    for vs in model.virtual_services.iter().filter(|v| binds_to_mesh(v)) {
        let ns = vs.metadata.namespace.as_deref().unwrap_or("");
        let port_ok = |p: Option<u32>| p.is_none_or(|p| p == u32::from(port));
        let route = if tls {
            vs.spec
                .tls
                .iter()
                .find(|r| {
                    r.match_.iter().any(|m| {
                        port_ok(m.port)
                            && in_scope(&m.gateways, ns, RouteScope::Mesh)
                            && m.sni_hosts.iter().any(|h| host_matches(h, host))
                    })
                })
                .map(|r| &r.route)
        } else if vs.spec.hosts.iter().any(|h| host_matches(h, host)) {
            vs.spec
                .tcp
                .iter()
                .find(|r| {
                    r.match_.is_empty()
                        || r.match_
                            .iter()
                            .any(|m| port_ok(m.port) && in_scope(&m.gateways, ns, RouteScope::Mesh))
                })
                .map(|r| &r.route)
        } else {
            None
        };
        if let Some(route) = route.filter(|r| !r.is_empty()) {
            return build::tcp_filter_weighted(&route_clusters(model, ns, route, port));
        }
    }
    build::tcp_filter(cluster, cluster)
}

/// `0.0.0.0_<port>` for TLS hosts without addresses: the TLS inspector reads the SNI, each
/// host's chain proxies where its route says, anything else goes to `catch_all`.
fn sni_listener(port: u16, hosts: &[(String, Filter)], catch_all: &str) -> Listener {
    let mut chains: Vec<FilterChain> = hosts
        .iter()
        .map(|(host, filter)| FilterChain {
            filter_chain_match: Some(FilterChainMatch {
                server_names: vec![host.clone()],
                ..Default::default()
            }),
            filters: vec![filter.clone()],
            ..Default::default()
        })
        .collect();
    chains.push(FilterChain {
        name: "PassthroughFilterChain".to_owned(),
        filters: vec![build::tcp_filter(catch_all, catch_all)],
        ..Default::default()
    });
    let mut l = any_address_listener(port, chains);
    l.listener_filters = vec![ListenerFilter {
        name: "envoy.filters.listener.tls_inspector".to_owned(),
        typed_config: Some(ListenerFilterConfig::TlsInspector(Map::new())),
    }];
    l
}

/// `0.0.0.0_<port>`: every original destination on the port (hosts without an address).
fn any_address_listener(port: u16, chains: Vec<FilterChain>) -> Listener {
    Listener {
        name: names::listener("0.0.0.0", port),
        address: Address::socket("0.0.0.0", u32::from(port)),
        filter_chains: chains,
        bind_to_port: Some(false),
        traffic_direction: TrafficDirection::Outbound,
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pilot::names::ProxyType;
    use crate::xds::listener::NetworkFilterConfig;

    const ENTRIES: &str = "\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: web, namespace: default}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: tls, namespace: default}
spec:
  hosts: [a.example.com, b.example.com]
  ports: [{number: 443, name: tls, protocol: TLS}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: db, namespace: default}
spec:
  hosts: [db.example.com]
  ports: [{number: 5432, name: tcp, protocol: TCP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: private, namespace: other}
spec:
  hosts: [private.example.com]
  exportTo: [.]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
";

    fn model(text: &str) -> Model {
        let docs = crate::api::decode("t.yaml", text).unwrap();
        Model::from_resources(docs.iter().map(|d| &d.resource))
    }

    fn proxy(namespace: &str) -> ProxyIdentity {
        ProxyIdentity {
            kind: ProxyType::Sidecar,
            pod: "sleep-1".into(),
            namespace: namespace.into(),
            ip: "127.10.0.9".parse().unwrap(),
            labels: Default::default(),
            service_account: "sleep".into(),
            workload: "sleep".into(),
            app_ip: "127.20.0.9".parse().unwrap(),
        }
    }

    fn tcp_cluster(c: &FilterChain) -> String {
        match &c.filters[0].typed_config {
            NetworkFilterConfig::TcpProxy(t) => t.cluster.clone().unwrap_or_default(),
            NetworkFilterConfig::HttpConnectionManager(_) => "HCM".into(),
            NetworkFilterConfig::IstioStats(_) => "istio.stats".into(),
        }
    }

    #[test]
    fn service_entry_hosts_get_listeners_and_virtual_hosts() {
        let m = model(ENTRIES);
        let mut w = Vec::new();
        let (listeners, routes) = outbound(&m, &MeshSettings::default(), &proxy("default"), &mut w);
        let names: Vec<&str> = listeners.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, ["0.0.0.0_443", "0.0.0.0_5432", "0.0.0.0_80"]);
        // TLS: one chain per host by SNI, then the catch-all.
        let tls = &listeners[0];
        let snis: Vec<Vec<String>> = tls
            .filter_chains
            .iter()
            .map(|c| {
                c.filter_chain_match
                    .as_ref()
                    .map(|m| m.server_names.clone())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(
            snis,
            [
                vec!["a.example.com".to_string()],
                vec!["b.example.com".into()],
                vec![]
            ]
        );
        assert_eq!(
            tcp_cluster(&tls.filter_chains[0]),
            "outbound|443||a.example.com"
        );
        assert_eq!(tcp_cluster(&tls.filter_chains[2]), "PassthroughCluster");
        assert_eq!(
            tls.listener_filters[0].name,
            "envoy.filters.listener.tls_inspector"
        );
        // TCP without addresses: every connection on the port.
        assert_eq!(
            tcp_cluster(&listeners[1].filter_chains[0]),
            "outbound|5432||db.example.com"
        );
        // HTTP: the host's virtual host (only its own name), then allow_any.
        let r80 = &routes[0];
        assert_eq!(r80.name, "80");
        let vhosts: Vec<(&str, &[String])> = r80
            .virtual_hosts
            .iter()
            .map(|v| (v.name.as_str(), v.domains.as_slice()))
            .collect();
        assert_eq!(
            vhosts[0],
            ("httpbin.org:80", &["httpbin.org".to_string()][..])
        );
        assert_eq!(vhosts.last().unwrap().0, "allow_any");
        // exportTo: . keeps the other namespace's host away from this proxy …
        assert!(!vhosts.iter().any(|(n, _)| n.starts_with("private")));
        // … and shows it to its own namespace.
        let (_, routes) = outbound(&m, &MeshSettings::default(), &proxy("other"), &mut w);
        assert!(
            routes[0]
                .virtual_hosts
                .iter()
                .any(|v| v.name == "private.example.com:80")
        );
    }

    #[test]
    fn tls_routes_bound_to_mesh_pick_the_sni_chain_destination() {
        let vs = "\
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: via-egress, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [mesh, istio-egressgateway]
  tls:
  - match: [{gateways: [mesh], port: 443, sniHosts: [a.example.com]}]
    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: a, port: {number: 443}}}]
  - match: [{gateways: [istio-egressgateway], port: 443, sniHosts: [a.example.com]}]
    route: [{destination: {host: a.example.com, port: {number: 443}}}]
";
        let m = model(&format!("{ENTRIES}{vs}"));
        let (listeners, _) = outbound(
            &m,
            &MeshSettings::default(),
            &proxy("default"),
            &mut Vec::new(),
        );
        let tls = listeners.iter().find(|l| l.name == "0.0.0.0_443").unwrap();
        assert_eq!(
            tcp_cluster(&tls.filter_chains[0]),
            "outbound|443|a|istio-egressgateway.istio-system.svc.cluster.local"
        );
        // The other host keeps its own cluster.
        assert_eq!(
            tcp_cluster(&tls.filter_chains[1]),
            "outbound|443||b.example.com"
        );
    }

    #[test]
    fn registry_only_sends_the_unknown_to_the_black_hole() {
        let m = model(ENTRIES);
        let settings = MeshSettings {
            outbound_policy: OutboundPolicy::RegistryOnly,
            ..Default::default()
        };
        let mut w = Vec::new();
        let (listeners, routes) = outbound(&m, &settings, &proxy("default"), &mut w);
        let catch_all = routes[0].virtual_hosts.last().unwrap();
        assert_eq!(catch_all.name, "block_all");
        assert_eq!(catch_all.domains, ["*"]);
        let route = &catch_all.routes[0];
        assert_eq!(route.name, "block_all");
        assert_eq!(route.direct_response.as_ref().unwrap().status, 502);
        assert!(route.route.is_none());
        let tls = listeners.iter().find(|l| l.name == "0.0.0.0_443").unwrap();
        let last = tls.filter_chains.last().unwrap();
        assert_eq!(last.name, "PassthroughFilterChain");
        assert_eq!(tcp_cluster(last), "BlackHoleCluster");
        let http = listeners.iter().find(|l| l.name == "0.0.0.0_80").unwrap();
        assert_eq!(tcp_cluster(&http.filter_chains[1]), "BlackHoleCluster");
        assert_eq!(catch_all_cluster(&settings), "BlackHoleCluster");
        assert_eq!(
            build::virtual_outbound(catch_all_cluster(&settings)).filter_chains[0]
                .filters
                .len(),
            1
        );
    }
}
