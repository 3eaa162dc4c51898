//! The labels of Istio's standard metrics, in Istio's order, computed as Istio's stats filter
//! does: the reporter's own side from its node metadata, the peer's side from metadata
//! exchange (or endpoint metadata), principals from the mTLS certificates, `unknown` (or
//! `latest` for canonical revisions) where nothing is known.

use crate::xds::core::Metadata;

use super::super::stats::Tag;
use super::peer::PeerInfo;

/// Which end of a request reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reporter {
    /// Client sidecars and gateways (outbound listeners).
    Source,
    /// Server sidecars (inbound listeners).
    Destination,
}

impl Reporter {
    fn as_str(self) -> &'static str {
        match self {
            Reporter::Source => "source",
            Reporter::Destination => "destination",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Protocol {
    #[default]
    Http,
    Grpc,
    Tcp,
}

/// The destination service: host, short name and namespace (empty when not known).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceFacts {
    pub host: String,
    pub name: String,
    pub namespace: String,
}

/// Istio's specials name themselves as the service.
const SPECIAL_CLUSTERS: [&str; 5] = [
    "BlackHoleCluster",
    "PassthroughCluster",
    "InboundPassthroughCluster",
    "InboundPassthroughClusterIpv4",
    "InboundPassthroughClusterIpv6",
];

/// The destination service of a request: the cluster's `istio.services` metadata (what istiod
/// puts on outbound and inbound clusters), the special route or cluster names, else the Host
/// header unless `host_fallback` is off.
pub fn destination_service(
    host_header: Option<&str>,
    host_fallback: bool,
    route_name: Option<&str>,
    cluster: Option<(&str, Option<&Metadata>)>,
) -> ServiceFacts {
    let mut s = ServiceFacts::default();
    if host_fallback && let Some(h) = host_header {
        s.host = h.to_owned();
        s.name = h.to_owned();
    }
    match route_name {
        Some("block_all") => s.name = "BlackHoleCluster".to_owned(),
        Some("allow_any") => s.name = "PassthroughCluster".to_owned(),
        _ => match cluster {
            Some((name, _)) if SPECIAL_CLUSTERS.contains(&name) => s.name = name.to_owned(),
            Some((_, Some(md))) => {
                let first = md
                    .filter_metadata
                    .get("istio")
                    .and_then(|i| i.get("services"))
                    .and_then(|v| v.as_array())
                    .and_then(|a| a.first());
                if let Some(svc) = first {
                    let field = |k: &str| svc.get(k).and_then(|v| v.as_str());
                    if let Some(h) = field("host") {
                        s.host = h.to_owned();
                    }
                    if let Some(ns) = field("namespace") {
                        s.namespace = ns.to_owned();
                    }
                    s.name = match field("name") {
                        Some(n) => n.to_owned(),
                        None => s.host.split('.').next().unwrap_or_default().to_owned(),
                    };
                }
            }
            _ => {}
        },
    }
    s
}

/// Everything the labels of one request or connection depend on.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub reporter: Reporter,
    /// This proxy's workload.
    pub local: &'a PeerInfo,
    /// The other side's workload, when exchanged or known from endpoint metadata.
    pub peer: Option<&'a PeerInfo>,
    /// The other side's certificate identity (its SPIFFE URI SAN), over mTLS.
    pub peer_principal: Option<&'a str>,
    /// Our own certificate identity on that connection.
    pub local_principal: Option<&'a str>,
    pub service: &'a ServiceFacts,
    pub protocol: Protocol,
    /// HTTP only.
    pub response_code: u16,
    pub grpc_status: Option<&'a str>,
    /// Envoy's short response flags, `-` for none.
    pub response_flags: &'a str,
}

/// `…/ns/<namespace>/sa/…` of a SPIFFE identity.
fn principal_namespace(principal: &str) -> Option<&str> {
    let (_, rest) = principal.split_once("/ns/")?;
    rest.split('/').next().filter(|ns| !ns.is_empty())
}

fn or<'s>(v: &'s str, default: &'s str) -> &'s str {
    if v.is_empty() { default } else { v }
}

const UNKNOWN: &str = "unknown";

/// The labels in Istio's order: 25 for HTTP, 23 for TCP (no response code, no gRPC status).
pub fn labels(f: &Facts<'_>) -> Vec<Tag> {
    let peer_san = f.peer_principal.unwrap_or_default();
    let local_san = f.local_principal.unwrap_or_default();
    let peer = |get: fn(&PeerInfo) -> &str| f.peer.map(get).unwrap_or_default();
    let peer_ns = principal_namespace(peer_san).unwrap_or(peer(|p| &p.namespace));
    let l = f.local;
    let s = f.service;
    let mut v: Vec<(&'static str, String)> = Vec::with_capacity(25);
    let mut push = |name: &'static str, value: &str| v.push((name, value.to_owned()));
    push("reporter", f.reporter.as_str());
    match f.reporter {
        Reporter::Destination => {
            push("source_workload", or(peer(|p| &p.workload), UNKNOWN));
            push(
                "source_canonical_service",
                or(peer(|p| &p.canonical_name), UNKNOWN),
            );
            push(
                "source_canonical_revision",
                or(peer(|p| &p.canonical_revision), "latest"),
            );
            push("source_workload_namespace", or(peer_ns, UNKNOWN));
            push("source_principal", or(peer_san, UNKNOWN));
            push("source_app", or(peer(|p| &p.app), UNKNOWN));
            push("source_version", or(peer(|p| &p.version), UNKNOWN));
            push("source_cluster", or(peer(|p| &p.cluster), UNKNOWN));
            push("destination_workload", &l.workload);
            push("destination_workload_namespace", &l.namespace);
            push("destination_principal", or(local_san, UNKNOWN));
            push("destination_app", &l.app);
            push("destination_version", &l.version);
            push("destination_service", or(&s.host, &l.canonical_name));
            push("destination_canonical_service", &l.canonical_name);
            push("destination_canonical_revision", &l.canonical_revision);
            push("destination_service_name", or(&s.name, &l.canonical_name));
            push("destination_service_namespace", &l.namespace);
            push("destination_cluster", &l.cluster);
        }
        Reporter::Source => {
            push("source_workload", &l.workload);
            push("source_canonical_service", &l.canonical_name);
            push("source_canonical_revision", &l.canonical_revision);
            push("source_workload_namespace", &l.namespace);
            push("source_principal", or(local_san, UNKNOWN));
            push("source_app", &l.app);
            push("source_version", &l.version);
            push("source_cluster", &l.cluster);
            push("destination_workload", or(peer(|p| &p.workload), UNKNOWN));
            push("destination_workload_namespace", or(peer_ns, UNKNOWN));
            push("destination_principal", or(peer_san, UNKNOWN));
            push("destination_app", or(peer(|p| &p.app), UNKNOWN));
            push("destination_version", or(peer(|p| &p.version), UNKNOWN));
            push("destination_service", or(&s.host, UNKNOWN));
            push(
                "destination_canonical_service",
                or(peer(|p| &p.canonical_name), UNKNOWN),
            );
            push(
                "destination_canonical_revision",
                or(peer(|p| &p.canonical_revision), "latest"),
            );
            push("destination_service_name", or(&s.name, UNKNOWN));
            push(
                "destination_service_namespace",
                or(or(&s.namespace, peer_ns), UNKNOWN),
            );
            push("destination_cluster", or(peer(|p| &p.cluster), UNKNOWN));
        }
    }
    match f.protocol {
        Protocol::Tcp => push("request_protocol", "tcp"),
        Protocol::Http | Protocol::Grpc => {
            push(
                "request_protocol",
                if f.protocol == Protocol::Grpc {
                    "grpc"
                } else {
                    "http"
                },
            );
            push("response_code", &f.response_code.to_string());
            push("grpc_response_status", f.grpc_status.unwrap_or_default());
        }
    }
    push("response_flags", f.response_flags);
    // The server knows whether both sides presented certificates; the client cannot tell.
    let policy = match f.reporter {
        Reporter::Destination if !peer_san.is_empty() && !local_san.is_empty() => "mutual_tls",
        Reporter::Destination => "none",
        Reporter::Source => UNKNOWN,
    };
    push("connection_security_policy", policy);
    v.into_iter()
        .map(|(name, value)| Tag { name, value })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn peer(workload: &str, ns: &str, revision: &str) -> PeerInfo {
        PeerInfo {
            workload: workload.into(),
            namespace: ns.into(),
            canonical_name: workload.into(),
            canonical_revision: revision.into(),
            app: workload.into(),
            cluster: "Kubernetes".into(),
            ..PeerInfo::default()
        }
    }

    fn render(tags: &[Tag]) -> String {
        tags.iter()
            .map(|t| format!("{}=\"{}\"", t.name, t.value))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The reference capture: the ingress gateway calling webapp, reported by webapp's sidecar.
    #[test]
    fn destination_report_matches_istios_capture() {
        let gateway = PeerInfo {
            version: String::new(),
            ..peer("istio-ingressgateway", "istio-system", "latest")
        };
        let webapp = peer("webapp", "istioinaction", "latest");
        let md: Metadata = serde_json::from_value(json!({"filter_metadata": {"istio": {"services": [
            {"host": "webapp.istioinaction.svc.cluster.local", "name": "webapp", "namespace": "istioinaction"}]}}}))
        .unwrap();
        let service = destination_service(
            Some("webapp.istioinaction.io"),
            false,
            Some("default"),
            Some(("inbound|8080||", Some(&md))),
        );
        let tags = labels(&Facts {
            reporter: Reporter::Destination,
            local: &webapp,
            peer: Some(&gateway),
            peer_principal: Some(
                "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
            ),
            local_principal: Some("spiffe://cluster.local/ns/istioinaction/sa/webapp"),
            service: &service,
            protocol: Protocol::Http,
            response_code: 200,
            grpc_status: None,
            response_flags: "-",
        });
        assert_eq!(
            render(&tags),
            "reporter=\"destination\",source_workload=\"istio-ingressgateway\",source_canonical_service=\"istio-ingressgateway\",source_canonical_revision=\"latest\",source_workload_namespace=\"istio-system\",source_principal=\"spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account\",source_app=\"istio-ingressgateway\",source_version=\"unknown\",source_cluster=\"Kubernetes\",destination_workload=\"webapp\",destination_workload_namespace=\"istioinaction\",destination_principal=\"spiffe://cluster.local/ns/istioinaction/sa/webapp\",destination_app=\"webapp\",destination_version=\"\",destination_service=\"webapp.istioinaction.svc.cluster.local\",destination_canonical_service=\"webapp\",destination_canonical_revision=\"latest\",destination_service_name=\"webapp\",destination_service_namespace=\"istioinaction\",destination_cluster=\"Kubernetes\",request_protocol=\"http\",response_code=\"200\",grpc_response_status=\"\",response_flags=\"-\",connection_security_policy=\"mutual_tls\""
        );
    }

    #[test]
    fn source_report_with_an_unknown_peer() {
        let gateway = peer("istio-ingressgateway", "istio-system", "latest");
        let service = destination_service(Some("example.com"), true, None, None);
        let tags = labels(&Facts {
            reporter: Reporter::Source,
            local: &gateway,
            peer: None,
            peer_principal: None,
            local_principal: None,
            service: &service,
            protocol: Protocol::Http,
            response_code: 503,
            grpc_status: None,
            response_flags: "UF",
        });
        let get = |n: &str| tags.iter().find(|t| t.name == n).unwrap().value.clone();
        assert_eq!(tags.len(), 25);
        assert_eq!(get("reporter"), "source");
        assert_eq!(get("source_workload"), "istio-ingressgateway");
        assert_eq!(get("source_principal"), "unknown");
        assert_eq!(get("destination_workload"), "unknown");
        assert_eq!(get("destination_canonical_revision"), "latest");
        assert_eq!(get("destination_service"), "example.com");
        assert_eq!(get("destination_service_namespace"), "unknown");
        assert_eq!(get("response_flags"), "UF");
        assert_eq!(get("connection_security_policy"), "unknown");
    }

    #[test]
    fn tcp_has_no_response_code_and_plain_text_is_none() {
        let catalog = peer("catalog", "istioinaction", "v1");
        let service = destination_service(None, false, None, Some(("inbound|3000||", None)));
        let tags = labels(&Facts {
            reporter: Reporter::Destination,
            local: &catalog,
            peer: None,
            peer_principal: None,
            local_principal: None,
            service: &service,
            protocol: Protocol::Tcp,
            response_code: 0,
            grpc_status: None,
            response_flags: "-",
        });
        let names: Vec<&str> = tags.iter().map(|t| t.name).collect();
        assert_eq!(names.len(), 23);
        assert!(!names.contains(&"response_code") && !names.contains(&"grpc_response_status"));
        assert_eq!(
            names[20..],
            [
                "request_protocol",
                "response_flags",
                "connection_security_policy"
            ]
        );
        assert_eq!(tags[22].value, "none");
        // No service from the cluster: the canonical name stands in.
        assert_eq!(tags[14].value, "catalog");
    }

    #[test]
    fn special_clusters_and_principal_namespaces() {
        let s = destination_service(Some("x"), true, Some("allow_any"), None);
        assert_eq!(
            (s.host.as_str(), s.name.as_str()),
            ("x", "PassthroughCluster")
        );
        let s = destination_service(None, false, None, Some(("BlackHoleCluster", None)));
        assert_eq!(s.name, "BlackHoleCluster");
        assert_eq!(
            principal_namespace("spiffe://cluster.local/ns/istioinaction/sa/webapp"),
            Some("istioinaction")
        );
        assert_eq!(principal_namespace("spiffe://cluster.local/sa/x"), None);
    }
}
