//! Outbound clusters and their endpoints: one cluster per port of every service a proxy sees
//! (Kubernetes Services and ServiceEntry hosts), and one more per DestinationRule subset
//! (`outbound|80|v1|host`), each with the TLS auto mTLS or the DestinationRule gives it.
//! Kubernetes Services and STATIC entries are EDS clusters; DNS entries are STRICT_DNS
//! (LOGICAL_DNS for DNS_ROUND_ROBIN) clusters to their hosts or endpoints; NONE entries are
//! ORIGINAL_DST clusters.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use serde_json::{Value, json};

use crate::api::istio::{
    ClientTlsMode, ClientTlsSettings, DestinationRule, Resolution, Subset, TrafficPolicy,
};
use crate::xds::cluster::{Cluster, DiscoveryType, DnsLookupFamily, LbPolicy};
use crate::xds::core::{Address, Locality, Metadata};
use crate::xds::de::Duration;
use crate::xds::endpoint::{
    ClusterLoadAssignment, Endpoint, HealthStatus, LbEndpoint, LocalityLbEndpoints,
};

use super::build;
use super::locality;
use super::model::{Model, ServiceInfo, SvcPort, Workload};
use super::mtls;
use super::service_entry;
use super::traffic_policy;

/// istiod's default `dnsRefreshRate` (mesh config).
const DNS_REFRESH_SECS: u64 = 60;

/// Every outbound cluster and EDS assignment a proxy in `client_ns` gets.
pub fn outbound(
    model: &Model,
    client_ns: &str,
    client_locality: Option<&Locality>,
    client_labels: &BTreeMap<String, String>,
    sidecar: bool,
    warnings: &mut Vec<String>,
) -> (Vec<Cluster>, Vec<ClusterLoadAssignment>) {
    let mut clusters = Vec::new();
    let mut endpoints = Vec::new();
    for s in model.services.iter().filter(|s| s.visible_from(client_ns)) {
        let dr = model.destination_rule_for(&s.fqdn, client_ns, &s.namespace);
        if let Some(e) = s.entry.as_ref().filter(|e| e.selects_workloads) {
            let w = format!(
                "ServiceEntry {}/{}: workloadSelector not acted on by mesh yet (endpoints are)",
                s.namespace, e.entry
            );
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        let subsets: Vec<Option<&Subset>> = std::iter::once(None)
            .chain(dr.into_iter().flat_map(|d| d.spec.subsets.iter().map(Some)))
            .collect();
        for p in &s.ports {
            for subset in &subsets {
                let (mut c, eds) = cluster(model, s, p, dr, *subset, warnings);
                let pool = traffic_policy::effective(dr, *subset, p.port).connection_pool;
                let choice = super::upstream_protocol::choose(
                    p.protocol,
                    sidecar,
                    pool.as_ref().and_then(|c| c.http.as_ref()),
                );
                // Upstream connections' idle timeout: the rule's http.idleTimeout, else its
                // tcp.idleTimeout (istiod applies the TCP one to HTTP services too).
                let idle = pool
                    .as_ref()
                    .filter(|_| p.protocol.is_http())
                    .and_then(|pool| {
                        let http = pool.http.as_ref().and_then(|h| h.idle_timeout.as_deref());
                        let tcp = pool.tcp.as_ref().and_then(|t| t.idle_timeout.as_deref());
                        traffic_policy::duration(http.or(tcp))
                    });
                super::upstream_protocol::apply(&mut c, choice, idle);
                let setting = traffic_policy::effective(dr, *subset, p.port)
                    .load_balancer
                    .and_then(|lb| lb.locality_lb_setting)
                    .unwrap_or(Value::Null);
                let enabled = setting["enabled"].as_bool() != Some(false);
                // Istio: failover needs outlier detection; `distribute` works without.
                let failover = enabled && c.outlier_detection.is_some();
                endpoints.extend(eds.map(|cla| {
                    by_locality(
                        model,
                        cla,
                        client_locality,
                        client_labels,
                        failover,
                        enabled.then_some(&setting),
                    )
                }));
                clusters.push(c);
            }
        }
    }
    (clusters, endpoints)
}

/// One cluster (and its EDS assignment, for EDS clusters) for a service port and subset.
fn cluster(
    model: &Model,
    s: &ServiceInfo,
    p: &SvcPort,
    dr: Option<&DestinationRule>,
    subset: Option<&Subset>,
    warnings: &mut Vec<String>,
) -> (Cluster, Option<ClusterLoadAssignment>) {
    let subset_name = subset.map(|ss| ss.name.as_str()).unwrap_or("");
    let labels = subset.map(|ss| &ss.labels);
    let mut c = build::outbound_cluster(p.port, subset_name, &s.fqdn, &s.name, &s.namespace);
    let sans = match &s.entry {
        Some(e) => e.subject_alt_names.clone(),
        None => model.service_identities(s),
    };
    let tls = match cluster_tls(dr, subset, p.port) {
        Some(mut tls) => {
            // A subset's Istio mTLS names the subset in its SNI (`outbound_.80_.v1_.host`).
            if tls.mode == Some(ClientTlsMode::IstioMutual) && tls.sni.is_none() {
                tls.sni = Some(mtls::istio_sni(p.port, subset_name, &s.fqdn));
            }
            mtls::destination_rule_tls(&tls, &sans, p.port, &s.fqdn, warnings)
        }
        // Auto mTLS only inside the mesh: an external host never speaks Istio's mTLS.
        None if s.entry.as_ref().is_some_and(|e| e.external()) => mtls::ClusterTls::default(),
        None => mtls::auto_mtls(
            &sans,
            &mtls::istio_sni(p.port, subset_name, &s.fqdn),
            mtls::client_alpn(p.protocol),
        ),
    };
    c.transport_socket = tls.transport_socket;
    c.transport_socket_matches = tls.transport_socket_matches;
    if let Some(dr) = dr {
        add_config_metadata(&mut c, dr, subset_name);
        let who = format!(
            "DestinationRule {}/{}",
            dr.metadata.namespace.as_deref().unwrap_or(""),
            dr.metadata.name
        );
        traffic_policy::apply(
            &mut c,
            &traffic_policy::effective(Some(dr), subset, p.port),
            &who,
            warnings,
        );
    }
    let Some(entry) = &s.entry else {
        let eps = service_endpoints(model, s, p, labels);
        let cla = build::assignment_with_metadata(&c.name, &eps);
        return (c, Some(cla));
    };
    mark_external(&mut c, entry.external());
    let eps: Vec<service_entry::EntryEndpoint> = service_entry::endpoints(s, p)
        .into_iter()
        .filter(|e| labels.is_none_or(|l| crate::api::meta::labels_match(l, &e.labels)))
        .collect();
    match entry.resolution {
        Resolution::Static => {
            let eps: Vec<(SocketAddr, Option<Metadata>)> = eps
                .iter()
                .filter_map(|e| {
                    let ip: IpAddr = e.address.parse().ok()?;
                    let meshed = !entry.external()
                        && e.labels
                            .get("security.istio.io/tlsMode")
                            .map(String::as_str)
                            == Some("istio");
                    let fm = mtls::endpoint_metadata(meshed).into_iter().collect();
                    Some((
                        SocketAddr::new(ip, e.port),
                        Some(Metadata {
                            filter_metadata: fm,
                        }),
                    ))
                })
                .collect();
            let cla = build::assignment_with_metadata(&c.name, &eps);
            (c, Some(cla))
        }
        Resolution::None => {
            // Wherever the connection was going (Istio's PASSTHROUGH for resolution NONE).
            c.discovery_type = DiscoveryType::OriginalDst;
            c.eds_cluster_config = None;
            c.lb_policy = LbPolicy::ClusterProvided;
            (c, None)
        }
        Resolution::Dns | Resolution::DnsRoundRobin | Resolution::DynamicDns => {
            c.discovery_type = if entry.resolution == Resolution::DnsRoundRobin {
                DiscoveryType::LogicalDns
            } else {
                DiscoveryType::StrictDns
            };
            c.eds_cluster_config = None;
            c.dns_lookup_family = DnsLookupFamily::V4Only;
            c.dns_refresh_rate = Some(Duration::from_secs(DNS_REFRESH_SECS));
            c.load_assignment = Some(dns_assignment(&c.name, &eps));
            (c, None)
        }
    }
}

/// The TLS a DestinationRule asks for on this port: the subset's policy over the rule's,
/// port-level settings over the policy's own.
fn cluster_tls(
    dr: Option<&DestinationRule>,
    subset: Option<&Subset>,
    port: u16,
) -> Option<ClientTlsSettings> {
    let of = |t: &TrafficPolicy| {
        t.port_level_settings
            .iter()
            .find(|pl| pl.port.as_ref().and_then(|ps| ps.number) == Some(u32::from(port)))
            .and_then(|pl| pl.tls.clone())
            .or_else(|| t.tls.clone())
    };
    subset
        .and_then(|ss| ss.traffic_policy.as_ref())
        .and_then(of)
        .or_else(|| dr.and_then(|d| d.spec.traffic_policy.as_ref()).and_then(of))
}

/// The ready endpoints of a Service port (only the subset's pods, when a subset names
/// labels), with istiod's `tlsMode` and workload metadata.
fn service_endpoints(
    model: &Model,
    s: &ServiceInfo,
    p: &SvcPort,
    labels: Option<&BTreeMap<String, String>>,
) -> Vec<(SocketAddr, Option<Metadata>)> {
    model
        .endpoints_of(s, p)
        .into_iter()
        .filter_map(|a| {
            let w = model.workload_at(a.ip());
            if let Some(l) = labels
                && !w.is_some_and(|w| crate::api::meta::labels_match(l, &w.labels))
            {
                return None;
            }
            let meshed = w.is_some_and(|w| {
                w.labels
                    .get("security.istio.io/tlsMode")
                    .map(String::as_str)
                    == Some("istio")
            });
            let mut fm: serde_json::Map<String, Value> =
                mtls::endpoint_metadata(meshed).into_iter().collect();
            if let Some(w) = w {
                fm.insert("istio".into(), json!({"workload": workload_metadata(w)}));
            }
            Some((
                a,
                Some(Metadata {
                    filter_metadata: fm,
                }),
            ))
        })
        .collect()
}

/// Groups an assignment's endpoints by their pods' localities, as istiod does; with a client
/// locality (failover on), each group gets its priority for that client.
fn by_locality(
    model: &Model,
    cla: ClusterLoadAssignment,
    client: Option<&Locality>,
    client_labels: &BTreeMap<String, String>,
    failover: bool,
    setting: Option<&Value>,
) -> ClusterLoadAssignment {
    let mut groups: Vec<(Option<Locality>, Vec<LbEndpoint>)> = Vec::new();
    for group in cla.endpoints {
        for lbe in group.lb_endpoints {
            let loc = lbe
                .endpoint
                .as_ref()
                .and_then(|e| e.address.ip_socket_addr())
                .and_then(|a| model.workload_at(a.ip()))
                .and_then(|w| locality::of_labels(&w.labels))
                .or_else(|| group.locality.clone());
            match groups.iter_mut().find(|(l, _)| *l == loc) {
                Some((_, v)) => v.push(lbe),
                None => groups.push((loc, vec![lbe])),
            }
        }
    }
    // `distribute` for this client: weights per locality, unnamed localities left out.
    let weights = match (client, setting) {
        (Some(c), Some(s)) => {
            let locs: Vec<Locality> = groups
                .iter()
                .map(|(l, _)| l.clone().unwrap_or_default())
                .collect();
            locality::distribute(s, c, &locs)
        }
        _ => None,
    };
    // `failoverPriority` (with failover on, without `distribute`): each locality splits by the
    // priority its endpoints' labels earn against the client's; the priorities are then
    // numbered without gaps. A client without labels keeps one priority, as istiod does.
    let order: Vec<String> = setting
        .and_then(|s| s["failoverPriority"].as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if failover && weights.is_none() && !order.is_empty() {
        let labels_of = |lbe: &LbEndpoint| {
            lbe.endpoint
                .as_ref()
                .and_then(|e| e.address.ip_socket_addr())
                .and_then(|a| model.workload_at(a.ip()))
                .map(|w| w.labels.clone())
                .unwrap_or_default()
        };
        let mut split: Vec<(u32, Option<Locality>, Vec<LbEndpoint>)> = Vec::new();
        for (loc, lbes) in groups {
            for lbe in lbes {
                let p = if client_labels.is_empty() {
                    0
                } else {
                    locality::label_priority(&order, client_labels, &labels_of(&lbe))
                };
                match split.iter_mut().find(|(q, l, _)| *q == p && *l == loc) {
                    Some((_, _, v)) => v.push(lbe),
                    None => split.push((p, loc.clone(), vec![lbe])),
                }
            }
        }
        let mut priorities: Vec<u32> = split.iter().map(|(p, _, _)| *p).collect();
        locality::compact(&mut priorities);
        return ClusterLoadAssignment {
            cluster_name: cla.cluster_name,
            endpoints: split
                .into_iter()
                .zip(priorities)
                .map(|((_, loc, lb_endpoints), priority)| LocalityLbEndpoints {
                    load_balancing_weight: Some(
                        lb_endpoints
                            .iter()
                            .map(|e| e.load_balancing_weight.unwrap_or(1))
                            .sum(),
                    ),
                    priority,
                    locality: loc,
                    lb_endpoints,
                })
                .collect(),
        };
    }
    let null = Value::Null;
    ClusterLoadAssignment {
        cluster_name: cla.cluster_name,
        endpoints: groups
            .into_iter()
            .enumerate()
            .filter(|(i, _)| weights.as_ref().is_none_or(|w| w[*i] > 0))
            .map(|(i, (loc, lb_endpoints))| LocalityLbEndpoints {
                priority: match (client, &loc) {
                    (Some(c), Some(l)) if failover && weights.is_none() => {
                        locality::failover_priority(setting.unwrap_or(&null), c, l)
                    }
                    _ => 0,
                },
                locality: loc,
                lb_endpoints,
                load_balancing_weight: weights.as_ref().map(|w| w[i]),
            })
            .collect(),
    }
}

/// A DNS cluster's inline endpoints: names (or IPs) the proxy resolves itself.
fn dns_assignment(cluster: &str, eps: &[service_entry::EntryEndpoint]) -> ClusterLoadAssignment {
    ClusterLoadAssignment {
        cluster_name: cluster.to_owned(),
        endpoints: if eps.is_empty() {
            Vec::new()
        } else {
            vec![LocalityLbEndpoints {
                locality: None,
                lb_endpoints: eps
                    .iter()
                    .map(|e| LbEndpoint {
                        endpoint: Some(Endpoint {
                            address: Address::socket(e.address.clone(), u32::from(e.port)),
                            hostname: String::new(),
                        }),
                        health_status: HealthStatus::Healthy,
                        metadata: None,
                        load_balancing_weight: Some(1),
                    })
                    .collect(),
                load_balancing_weight: None,
                priority: 0,
            }]
        },
    }
}

/// `istio.external: true` on a MESH_EXTERNAL host's cluster, as istiod marks it.
fn mark_external(c: &mut Cluster, external: bool) {
    if !external {
        return;
    }
    if let Some(Value::Object(istio)) = c
        .metadata
        .as_mut()
        .and_then(|m| m.filter_metadata.get_mut("istio"))
    {
        istio.insert("external".into(), Value::Bool(true));
    }
}

/// The DestinationRule (and subset) a cluster comes from, in `istio.config`/`istio.subset`.
fn add_config_metadata(c: &mut Cluster, dr: &DestinationRule, subset: &str) {
    let ns = dr.metadata.namespace.as_deref().unwrap_or("");
    let path = super::names::config_path("destination-rule", ns, &dr.metadata.name);
    if let Some(Value::Object(istio)) = c
        .metadata
        .as_mut()
        .and_then(|m| m.filter_metadata.get_mut("istio"))
    {
        istio.insert("config".into(), Value::String(path));
        if !subset.is_empty() {
            istio.insert("subset".into(), Value::String(subset.to_owned()));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> Model {
        let docs = crate::api::decode("t.yaml", text).unwrap();
        Model::from_resources(docs.iter().map(|d| &d.resource))
    }

    fn find<'a>(clusters: &'a [Cluster], name: &str) -> &'a Cluster {
        clusters
            .iter()
            .find(|c| c.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn destination_rules_choose_the_upstream_protocol_and_idle_timeout() {
        let m = model(
            "\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.internal]
  ports: [{number: 80, name: http, protocol: HTTP}, {number: 81, name: legacy, protocol: HTTP}]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints: [{address: 127.0.0.5}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api, namespace: default}
spec:
  host: api.internal
  trafficPolicy:
    connectionPool:
      http: {h2UpgradePolicy: UPGRADE, idleTimeout: 30s}
    portLevelSettings:
    - port: {number: 81}
      connectionPool:
        http: {useClientProtocol: true}
        tcp: {idleTimeout: 5s}
",
        );
        let (clusters, _) = outbound(&m, "default", None, &BTreeMap::new(), true, &mut Vec::new());
        let json = |name: &str| {
            serde_json::to_value(find(&clusters, name)).unwrap()["typed_extension_protocol_options"]
                ["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
                .clone()
        };
        let upgraded = json("outbound|80||api.internal");
        assert_eq!(
            upgraded["explicit_http_config"],
            json!({"http2_protocol_options": {}})
        );
        assert_eq!(
            upgraded["common_http_protocol_options"],
            json!({"idle_timeout": "30s"})
        );
        let client = json("outbound|81||api.internal");
        assert!(
            client["use_downstream_protocol_config"].is_object(),
            "{client}"
        );
        assert_eq!(
            client["common_http_protocol_options"],
            json!({"idle_timeout": "5s"})
        );
    }

    #[test]
    fn resolution_picks_the_cluster_type() {
        let m = model(
            "\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: dns, namespace: default}
spec:
  hosts: [httpbin.org]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: rr, namespace: default}
spec:
  hosts: [rr.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS_ROUND_ROBIN
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: static, namespace: default}
spec:
  hosts: [legacy.internal]
  ports: [{number: 8080, name: http, protocol: HTTP}]
  resolution: STATIC
  location: MESH_INTERNAL
  endpoints:
  - {address: 127.0.0.5, labels: {version: v1}}
  - {address: 127.0.0.6, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: none, namespace: default}
spec:
  hosts: ['*.wild.example.com']
  ports: [{number: 443, name: tls, protocol: TLS}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: legacy, namespace: default}
spec:
  host: legacy.internal
  subsets:
  - {name: v1, labels: {version: v1}}
",
        );
        let mut w = Vec::new();
        let (clusters, eds) = outbound(&m, "default", None, &BTreeMap::new(), true, &mut w);
        let dns = find(&clusters, "outbound|80||httpbin.org");
        assert_eq!(dns.discovery_type, DiscoveryType::StrictDns);
        assert_eq!(dns.dns_lookup_family, DnsLookupFamily::V4Only);
        assert!(dns.eds_cluster_config.is_none());
        assert!(
            dns.transport_socket_matches.is_empty(),
            "no auto mTLS outside the mesh"
        );
        let la = dns.load_assignment.as_ref().unwrap();
        let ep = la.endpoints[0].lb_endpoints[0].endpoint.as_ref().unwrap();
        assert_eq!(ep.address, Address::socket("httpbin.org", 80));
        assert_eq!(
            dns.metadata.as_ref().unwrap().filter_metadata["istio"]["external"],
            true
        );
        assert_eq!(
            find(&clusters, "outbound|80||rr.example.com").discovery_type,
            DiscoveryType::LogicalDns
        );
        let none = find(&clusters, "outbound|443||*.wild.example.com");
        assert_eq!(none.discovery_type, DiscoveryType::OriginalDst);
        assert_eq!(none.lb_policy, LbPolicy::ClusterProvided);
        // STATIC: EDS, with the subset's endpoints only in the subset cluster.
        let st = find(&clusters, "outbound|8080||legacy.internal");
        assert_eq!(st.discovery_type, DiscoveryType::Eds);
        let addrs = |name: &str| -> Vec<Address> {
            eds.iter()
                .find(|e| e.cluster_name == name)
                .unwrap()
                .endpoints
                .iter()
                .flat_map(|l| l.lb_endpoints.iter())
                .filter_map(|e| e.endpoint.as_ref().map(|e| e.address.clone()))
                .collect()
        };
        assert_eq!(addrs("outbound|8080||legacy.internal").len(), 2);
        assert_eq!(
            addrs("outbound|8080|v1|legacy.internal"),
            [Address::socket("127.0.0.5", 8080)]
        );
        let v1 = find(&clusters, "outbound|8080|v1|legacy.internal");
        let istio = &v1.metadata.as_ref().unwrap().filter_metadata["istio"];
        assert_eq!(istio["subset"], "v1");
        assert_eq!(
            istio["config"],
            "/apis/networking.istio.io/v1/namespaces/default/destination-rule/legacy"
        );
        // MESH_INTERNAL keeps auto mTLS.
        assert!(!st.transport_socket_matches.is_empty());
    }

    #[test]
    fn a_subsets_istio_mtls_names_the_subset_in_its_sni() {
        let docs = crate::api::decode(
            "t.yaml",
            "\
apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: default}
spec:
  selector: {app: catalog}
  ports: [{name: http, port: 80, targetPort: 3000}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog, namespace: default}
spec:
  host: catalog
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
  subsets:
  - {name: v1, labels: {version: v1}}
",
        )
        .unwrap();
        let m = Model::from_resources(docs.iter().map(|d| &d.resource));
        let (clusters, _) = outbound(&m, "default", None, &BTreeMap::new(), true, &mut Vec::new());
        let sni = |name: &str| {
            let c = clusters.iter().find(|c| c.name == name).unwrap();
            match c
                .transport_socket
                .as_ref()
                .and_then(|t| t.typed_config.as_ref())
            {
                Some(crate::xds::tls::TransportSocketConfig::UpstreamTls(u)) => u.sni.clone(),
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(
            sni("outbound|80|v1|catalog.default.svc.cluster.local"),
            "outbound_.80_.v1_.catalog.default.svc.cluster.local"
        );
        assert_eq!(
            sni("outbound|80||catalog.default.svc.cluster.local"),
            "outbound_.80_._.catalog.default.svc.cluster.local"
        );
    }
}
