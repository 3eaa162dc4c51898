//! The mesh as istiod sees it: Services (with FQDNs, VIPs and port protocols), the workloads
//! behind them (pods, with sidecars or as gateways), and the Istio config — built once per
//! change from the store's resources and shared by every proxy's translation.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use crate::api::Resource;
use crate::api::istio::{DestinationRule, Gateway, VirtualService};
use crate::api::k8s::{Endpoints, IntOrString, Pod, Service};

use super::names;

/// A port's protocol, by Istio's port naming rules (`http-…`, `grpc`, `tcp`, …) or
/// `appProtocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protocol {
    Http,
    Http2,
    Grpc,
    /// gRPC-Web: HTTP/1.1-framed gRPC, routed as HTTP but not spoken in HTTP/2 upstream.
    GrpcWeb,
    Https,
    Tls,
    Tcp,
    /// Unnamed: Istio sniffs (treated as HTTP-capable).
    Unknown,
}

impl Protocol {
    /// Istio's rules (`kube.ConvertProtocol`): `appProtocol` wins over the name, with
    /// Kubernetes' own `kubernetes.io/h2c`, `/ws` and `/wss`; `grpc-web…` before the general
    /// prefix (it holds a dash); else the part of the name before the first `-`, any case.
    pub fn from_port(name: Option<&str>, app_protocol: Option<&str>) -> Protocol {
        let raw = app_protocol.or(name).unwrap_or("").to_ascii_lowercase();
        if app_protocol.is_some() {
            match raw.as_str() {
                "kubernetes.io/h2c" => return Protocol::Http2,
                "kubernetes.io/ws" => return Protocol::Http,
                "kubernetes.io/wss" => return Protocol::Https,
                _ => {}
            }
        }
        if raw.starts_with("grpc-web") {
            return Protocol::GrpcWeb;
        }
        let prefix = raw.split('-').next().unwrap_or("");
        match prefix {
            "http" | "http_proxy" => Protocol::Http,
            "http2" => Protocol::Http2,
            "grpc" => Protocol::Grpc,
            "https" => Protocol::Https,
            "tls" => Protocol::Tls,
            // Istio knows these, and proxies them as TCP (their filters are off by default).
            "tcp" | "mongo" | "redis" | "mysql" => Protocol::Tcp,
            _ => Protocol::Unknown,
        }
    }

    /// HTTP routing applies (listener with an HTTP connection manager).
    pub fn is_http(self) -> bool {
        matches!(
            self,
            Protocol::Http
                | Protocol::Http2
                | Protocol::Grpc
                | Protocol::GrpcWeb
                | Protocol::Unknown
        )
    }
}

#[derive(Debug, Clone)]
pub struct SvcPort {
    pub name: Option<String>,
    pub port: u16,
    pub target: IntOrString,
    pub protocol: Protocol,
}

#[derive(Debug, Clone)]
pub struct ServiceInfo {
    pub name: String,
    pub namespace: String,
    pub fqdn: String,
    pub vip: Option<IpAddr>,
    pub ports: Vec<SvcPort>,
    pub selector: BTreeMap<String, String>,
    /// A ServiceEntry host (not a Kubernetes Service): where it lives, how it resolves.
    pub entry: Option<super::service_entry::EntryInfo>,
}

impl ServiceInfo {
    pub fn port(&self, number: u16) -> Option<&SvcPort> {
        self.ports.iter().find(|p| p.port == number)
    }

    /// Whether a proxy in `namespace` sees it (a ServiceEntry's `exportTo`; Services are
    /// exported everywhere).
    pub fn visible_from(&self, namespace: &str) -> bool {
        self.entry
            .as_ref()
            .is_none_or(|e| e.exported_to(&self.namespace, namespace))
    }
}

#[derive(Debug, Clone)]
pub struct Workload {
    pub pod: String,
    pub namespace: String,
    pub ip: IpAddr,
    pub labels: BTreeMap<String, String>,
    pub service_account: String,
    pub sidecar: bool,
    pub spec: Pod,
}

impl Workload {
    /// The Deployment the pod belongs to (its ReplicaSet's name without the hash), else the pod.
    pub fn workload_name(&self) -> String {
        self.spec
            .metadata
            .owner_references
            .iter()
            .find(|o| o.kind == "ReplicaSet")
            .and_then(|o| o.name.rsplit_once('-').map(|(w, _)| w.to_owned()))
            .unwrap_or_else(|| self.pod.clone())
    }
}

/// Everything translation reads.
#[derive(Debug, Clone, Default)]
pub struct Model {
    /// Sorted by FQDN.
    pub services: Vec<ServiceInfo>,
    pub workloads: Vec<Workload>,
    pub gateways: Vec<Gateway>,
    pub virtual_services: Vec<VirtualService>,
    pub destination_rules: Vec<DestinationRule>,
    /// `(namespace, service name)` → its Endpoints.
    pub endpoints: BTreeMap<(String, String), Endpoints>,
    pub peer_authentications: Vec<PeerAuth>,
    /// Telemetry resources' access logging.
    pub telemetries: Vec<super::settings::TelemetryLogging>,
    /// EnvoyFilters mesh can apply (others are refused when applied).
    pub envoy_filters: Vec<super::envoy_filter::EnvoyFilterPatches>,
    /// `(namespace, name)` → the Secret's data, decoded (gateway credentials).
    pub secrets: BTreeMap<(String, String), BTreeMap<String, Vec<u8>>>,
}

/// Istio's `PeerAuthentication`, as far as mTLS modes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerAuth {
    pub namespace: String,
    pub name: String,
    /// `selector.matchLabels`; empty: the whole namespace (or mesh, in `istio-system`).
    pub selector: BTreeMap<String, String>,
    /// `STRICT`, `PERMISSIVE`, `DISABLE`; `None` (`UNSET`) inherits.
    pub mode: Option<String>,
    /// `portLevelMtls`: port → mode.
    pub port_modes: BTreeMap<u16, String>,
}

fn peer_auth(u: &crate::api::Unstructured) -> PeerAuth {
    let spec = u.rest.get("spec").cloned().unwrap_or_default();
    let mode = |v: &serde_json::Value| {
        v["mode"]
            .as_str()
            .filter(|m| *m != "UNSET")
            .map(str::to_owned)
    };
    PeerAuth {
        namespace: u.metadata.namespace.clone().unwrap_or_default(),
        name: u.metadata.name.clone(),
        selector: spec["selector"]["matchLabels"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned())))
                    .collect()
            })
            .unwrap_or_default(),
        mode: mode(&spec["mtls"]),
        port_modes: spec["portLevelMtls"]
            .as_object()
            .map(|m| {
                m.iter()
                    .filter_map(|(p, v)| Some((p.parse().ok()?, mode(v)?)))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

impl Model {
    pub fn from_resources<'a>(resources: impl IntoIterator<Item = &'a Resource>) -> Model {
        let mut m = Model::default();
        for r in resources {
            match r {
                Resource::Service(s) => m.services.push(service_info(s)),
                Resource::Pod(p) => {
                    if let Some(w) = workload(p) {
                        m.workloads.push(w);
                    }
                }
                Resource::ServiceEntry(se) => m.services.extend(super::service_entry::services(se)),
                Resource::Gateway(g) => m.gateways.push(g.clone()),
                Resource::VirtualService(v) => m.virtual_services.push(v.clone()),
                Resource::DestinationRule(d) => m.destination_rules.push(d.clone()),
                Resource::Endpoints(e) => {
                    let ns = e.metadata.namespace.clone().unwrap_or_default();
                    m.endpoints.insert((ns, e.metadata.name.clone()), e.clone());
                }
                Resource::Unstructured(u) if u.kind == "PeerAuthentication" => {
                    m.peer_authentications.push(peer_auth(u));
                }
                Resource::Unstructured(u) if u.kind == "EnvoyFilter" => {
                    if let Ok(ef) = super::envoy_filter::parse(u) {
                        m.envoy_filters.push(ef);
                    }
                }
                Resource::Unstructured(u) if u.kind == "Telemetry" => {
                    m.telemetries
                        .push(super::settings::TelemetryLogging::from_unstructured(u));
                }
                Resource::Secret(s) => {
                    let mut data: BTreeMap<String, Vec<u8>> = s
                        .data
                        .iter()
                        .filter_map(|(k, v)| {
                            crate::api::base64::decode(v).ok().map(|b| (k.clone(), b))
                        })
                        .collect();
                    data.extend(
                        s.string_data
                            .iter()
                            .map(|(k, v)| (k.clone(), v.as_bytes().to_vec())),
                    );
                    let ns = s.metadata.namespace.clone().unwrap_or_default();
                    m.secrets.insert((ns, s.metadata.name.clone()), data);
                }
                _ => {}
            }
        }
        m.services.sort_by(|a, b| a.fqdn.cmp(&b.fqdn));
        m.workloads
            .sort_by(|a, b| (&a.namespace, &a.pod).cmp(&(&b.namespace, &b.pod)));
        m
    }

    /// The workload at a pod IP.
    pub fn workload_at(&self, ip: IpAddr) -> Option<&Workload> {
        self.workloads.iter().find(|w| w.ip == ip)
    }

    /// The service accounts of a Service's pods, as SPIFFE IDs (what a client checks).
    pub fn service_identities(&self, svc: &ServiceInfo) -> Vec<String> {
        let mut ids: Vec<String> = self
            .workloads
            .iter()
            .filter(|w| {
                w.namespace == svc.namespace
                    && !svc.selector.is_empty()
                    && crate::api::meta::labels_match(&svc.selector, &w.labels)
            })
            .map(|w| {
                format!(
                    "spiffe://{}/ns/{}/sa/{}",
                    crate::ca::DEFAULT_TRUST_DOMAIN,
                    w.namespace,
                    w.service_account
                )
            })
            .collect();
        ids.sort();
        ids.dedup();
        ids
    }

    /// The DestinationRule for a host, as a client in `client_ns` sees it: its own namespace's
    /// first, then the Service's, then the root namespace's (istio-system).
    pub fn destination_rule_for(
        &self,
        fqdn: &str,
        client_ns: &str,
        svc_ns: &str,
    ) -> Option<&DestinationRule> {
        let matching = |ns: &str| {
            self.destination_rules.iter().find(|d| {
                let dns = d.metadata.namespace.as_deref().unwrap_or("");
                dns == ns && names::resolve_shortname(&d.spec.host, dns) == fqdn
            })
        };
        matching(client_ns)
            .or_else(|| matching(svc_ns))
            .or_else(|| matching("istio-system"))
    }

    /// A host as written in a VirtualService or DestinationRule in `namespace` → the Service
    /// (Istio's `ResolveShortnameToFQDN`: see [`names::resolve_shortname`]).
    pub fn service_for_host(&self, host: &str, namespace: &str) -> Option<&ServiceInfo> {
        let fqdn = names::resolve_shortname(host, namespace);
        self.services.iter().find(|s| s.fqdn == fqdn)
    }

    /// The ready endpoints of a Service port: pod IP and resolved target port.
    pub fn endpoints_of(&self, svc: &ServiceInfo, port: &SvcPort) -> Vec<SocketAddr> {
        let Some(ep) = self
            .endpoints
            .get(&(svc.namespace.clone(), svc.name.clone()))
        else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for subset in &ep.subsets {
            let matching = subset.ports.iter().find(|p| match (&p.name, &port.name) {
                (Some(a), Some(b)) => a == b,
                (None, None) => true,
                _ => subset.ports.len() == 1,
            });
            let Some(target) = matching.and_then(|p| u16::try_from(p.port).ok()) else {
                continue;
            };
            for a in &subset.addresses {
                if let Ok(ip) = a.ip.parse::<IpAddr>() {
                    out.push(SocketAddr::new(ip, target));
                }
            }
        }
        out.sort();
        out
    }

    /// The Services whose selector picks this workload.
    pub fn services_of(&self, w: &Workload) -> Vec<&ServiceInfo> {
        self.services
            .iter()
            .filter(|s| {
                s.namespace == w.namespace
                    && !s.selector.is_empty()
                    && s.selector.iter().all(|(k, v)| w.labels.get(k) == Some(v))
            })
            .collect()
    }
}

/// The container port a Service's target port names (numbers pass through).
pub fn resolve_target(target: &IntOrString, pod: &Pod) -> Option<u16> {
    match target {
        IntOrString::Int(n) => u16::try_from(*n).ok(),
        IntOrString::String(s) => match s.parse::<u16>() {
            Ok(n) => Some(n),
            Err(_) => pod
                .spec
                .containers
                .iter()
                .find_map(|c| c.port_named(s))
                .and_then(|p| u16::try_from(p.container_port).ok()),
        },
    }
}

fn service_info(s: &Service) -> ServiceInfo {
    let ns = s.metadata.namespace.clone().unwrap_or_default();
    ServiceInfo {
        name: s.metadata.name.clone(),
        fqdn: names::fqdn(&s.metadata.name, &ns),
        namespace: ns,
        vip: s.spec.cluster_ip.as_deref().and_then(|ip| ip.parse().ok()),
        ports: s
            .spec
            .ports
            .iter()
            // Istio proxies no UDP: such ports get no listener or cluster.
            .filter(|p| {
                !p.protocol
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("UDP"))
            })
            .filter_map(|p| {
                Some(SvcPort {
                    name: p.name.clone(),
                    port: u16::try_from(p.port).ok()?,
                    target: p.target(),
                    protocol: Protocol::from_port(p.name.as_deref(), p.app_protocol.as_deref()),
                })
            })
            .collect(),
        selector: s.spec.selector.clone(),
        entry: None,
    }
}

fn workload(p: &Pod) -> Option<Workload> {
    let ip = p.status.as_ref()?.pod_ip.as_deref()?.parse().ok()?;
    Some(Workload {
        pod: p.metadata.name.clone(),
        namespace: p.metadata.namespace.clone().unwrap_or_default(),
        ip,
        labels: p.metadata.labels.clone(),
        service_account: p.spec.service_account().to_owned(),
        sidecar: p.spec.containers.iter().any(|c| c.name == "istio-proxy")
            && p.spec.containers.len() > 1,
        spec: p.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_ports_are_left_out() {
        let svc: Service = serde_json::from_value(serde_json::json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "dns", "namespace": "default"},
            "spec": {"ports": [
                {"name": "dns", "port": 53, "protocol": "UDP"},
                {"name": "dns-tcp", "port": 53, "protocol": "TCP"}
            ]}
        }))
        .unwrap();
        let info = service_info(&svc);
        assert_eq!(info.ports.len(), 1);
        assert_eq!(info.ports[0].name.as_deref(), Some("dns-tcp"));
    }

    #[test]
    fn protocols_by_port_name() {
        assert_eq!(Protocol::from_port(Some("http"), None), Protocol::Http);
        assert_eq!(Protocol::from_port(Some("http-web"), None), Protocol::Http);
        assert_eq!(Protocol::from_port(Some("http2"), None), Protocol::Http2);
        assert_eq!(Protocol::from_port(Some("grpc-xds"), None), Protocol::Grpc);
        assert_eq!(Protocol::from_port(Some("tcp"), None), Protocol::Tcp);
        assert_eq!(Protocol::from_port(Some("https"), None), Protocol::Https);
        assert_eq!(Protocol::from_port(None, None), Protocol::Unknown);
        assert_eq!(
            Protocol::from_port(Some("web"), Some("http")),
            Protocol::Http
        );
        assert!(!Protocol::Tcp.is_http());
        assert_eq!(
            Protocol::from_port(Some("grpc-web"), None),
            Protocol::GrpcWeb
        );
        assert_eq!(
            Protocol::from_port(Some("GRPC-Web-x"), None),
            Protocol::GrpcWeb
        );
        assert_eq!(
            Protocol::from_port(Some("HTTP2-api"), None),
            Protocol::Http2
        );
        assert_eq!(Protocol::from_port(Some("mongo-db"), None), Protocol::Tcp);
        assert_eq!(Protocol::from_port(Some("h2c"), None), Protocol::Unknown);
        assert_eq!(
            Protocol::from_port(Some("web"), Some("kubernetes.io/h2c")),
            Protocol::Http2
        );
        assert_eq!(
            Protocol::from_port(Some("grpc"), Some("kubernetes.io/ws")),
            Protocol::Http
        );
        assert_eq!(
            Protocol::from_port(Some("http"), Some("grpc")),
            Protocol::Grpc
        );
    }
}
