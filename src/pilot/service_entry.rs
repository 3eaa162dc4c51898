//! ServiceEntries as services of the mesh: each host becomes a service (named after the host,
//! in the entry's namespace) with the entry's ports, location, resolution, endpoints and
//! `exportTo`, so VirtualServices, DestinationRules and cluster generation treat it as they
//! treat a Kubernetes Service.

use std::collections::BTreeMap;
use std::net::IpAddr;

use crate::api::istio::{Location, Port, Resolution, ServiceEntry, WorkloadEntrySpec};
use crate::api::k8s::IntOrString;

use super::model::{Protocol, ServiceInfo, SvcPort};

/// What a ServiceEntry adds to a service.
#[derive(Debug, Clone, PartialEq)]
pub struct EntryInfo {
    /// The ServiceEntry's own name.
    pub entry: String,
    pub location: Location,
    pub resolution: Resolution,
    pub endpoints: Vec<WorkloadEntrySpec>,
    pub export_to: Vec<String>,
    pub subject_alt_names: Vec<String>,
    /// `workloadSelector` (pods as endpoints) — not acted on yet, reported.
    pub selects_workloads: bool,
}

impl EntryInfo {
    pub fn external(&self) -> bool {
        self.location == Location::MeshExternal
    }

    /// `exportTo`: none or `*` is everywhere, `.` the entry's own namespace.
    pub fn exported_to(&self, own_namespace: &str, namespace: &str) -> bool {
        self.export_to.is_empty()
            || self
                .export_to
                .iter()
                .any(|e| e == "*" || e == namespace || (e == "." && own_namespace == namespace))
    }
}

/// One place a ServiceEntry port's traffic can go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryEndpoint {
    /// An IP (STATIC) or a name (DNS).
    pub address: String,
    pub port: u16,
    pub labels: BTreeMap<String, String>,
}

/// Istio's protocol names on a ServiceEntry port (`HTTP`, `TLS`, …); none means TCP.
fn protocol(p: &Port) -> Protocol {
    if p.protocol.is_empty() {
        Protocol::Tcp
    } else {
        Protocol::from_port(None, Some(&p.protocol))
    }
}

/// The services a ServiceEntry declares: one per host.
pub fn services(se: &ServiceEntry) -> Vec<ServiceInfo> {
    let namespace = se.metadata.namespace.clone().unwrap_or_default();
    let ports: Vec<SvcPort> = se
        .spec
        .ports
        .iter()
        .filter_map(|p| {
            let number = u16::try_from(p.number).ok()?;
            let target = p
                .target_port
                .and_then(|t| i32::try_from(t).ok())
                .unwrap_or(i32::from(number));
            Some(SvcPort {
                name: (!p.name.is_empty()).then(|| p.name.clone()),
                port: number,
                target: IntOrString::Int(target),
                protocol: protocol(p),
            })
        })
        .collect();
    let info = EntryInfo {
        entry: se.metadata.name.clone(),
        // Istio's defaults: outside the mesh, no resolution (the original destination).
        location: se.spec.location.unwrap_or(Location::MeshExternal),
        resolution: se.spec.resolution.unwrap_or(Resolution::None),
        endpoints: se.spec.endpoints.clone(),
        export_to: se.spec.export_to.clone(),
        subject_alt_names: se.spec.subject_alt_names.clone(),
        selects_workloads: se.spec.workload_selector.is_some(),
    };
    let vip = se
        .spec
        .addresses
        .iter()
        .find_map(|a| a.parse::<IpAddr>().ok());
    se.spec
        .hosts
        .iter()
        .map(|host| ServiceInfo {
            name: host.clone(),
            namespace: namespace.clone(),
            fqdn: host.clone(),
            vip,
            ports: ports.clone(),
            selector: BTreeMap::new(),
            entry: Some(info.clone()),
        })
        .collect()
}

/// Where one port of a ServiceEntry host sends traffic: each endpoint (its own port for the
/// port's name, else the target port), or, for a DNS entry without endpoints, the host itself.
pub fn endpoints(svc: &ServiceInfo, port: &SvcPort) -> Vec<EntryEndpoint> {
    let Some(entry) = &svc.entry else {
        return Vec::new();
    };
    let target = match port.target {
        IntOrString::Int(n) => u16::try_from(n).unwrap_or(port.port),
        IntOrString::String(_) => port.port,
    };
    let dns = matches!(
        entry.resolution,
        Resolution::Dns | Resolution::DnsRoundRobin | Resolution::DynamicDns
    );
    if entry.endpoints.is_empty() {
        return if dns {
            vec![EntryEndpoint {
                address: svc.fqdn.clone(),
                port: target,
                labels: BTreeMap::new(),
            }]
        } else {
            Vec::new()
        };
    }
    entry
        .endpoints
        .iter()
        .filter_map(|e| {
            let address = e.address.clone().filter(|a| !a.is_empty())?;
            let own = port
                .name
                .as_ref()
                .and_then(|n| e.ports.get(n))
                .and_then(|p| u16::try_from(*p).ok());
            Some(EntryEndpoint {
                address,
                port: own.unwrap_or(target),
                labels: e.labels.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(yaml: &str) -> ServiceEntry {
        serde_saphyr::from_str(yaml).unwrap()
    }

    #[test]
    fn each_host_is_a_service_with_the_entry_ports() {
        let se = entry(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: default}\nspec:\n  hosts: [httpbin.org, example.com]\n  ports:\n  - {number: 80, name: http, protocol: HTTP}\n  - {number: 443, name: tls, protocol: TLS}\n  - {number: 9000, name: raw}\n  resolution: DNS\n",
        );
        let s = services(&se);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].fqdn, "httpbin.org");
        assert_eq!(s[0].name, "httpbin.org");
        assert_eq!(s[0].namespace, "default");
        let protocols: Vec<Protocol> = s[0].ports.iter().map(|p| p.protocol).collect();
        assert_eq!(protocols, [Protocol::Http, Protocol::Tls, Protocol::Tcp]);
        let e = s[0].entry.as_ref().unwrap();
        assert!(e.external());
        assert_eq!(e.resolution, Resolution::Dns);
        // A DNS entry without endpoints resolves its own host.
        assert_eq!(
            endpoints(&s[1], &s[1].ports[0]),
            [EntryEndpoint {
                address: "example.com".into(),
                port: 80,
                labels: BTreeMap::new()
            }]
        );
    }

    #[test]
    fn static_endpoints_use_their_own_port_for_the_port_name() {
        let se = entry(
            "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata: {name: ext, namespace: default}\nspec:\n  hosts: [db.internal]\n  ports:\n  - {number: 5432, name: tcp, protocol: TCP, targetPort: 5433}\n  resolution: STATIC\n  location: MESH_INTERNAL\n  endpoints:\n  - address: 127.0.0.9\n    ports: {tcp: 6000}\n    labels: {version: v1}\n  - address: 127.0.0.10\n",
        );
        let s = &services(&se)[0];
        let eps = endpoints(s, &s.ports[0]);
        assert_eq!(eps[0].address, "127.0.0.9");
        assert_eq!(eps[0].port, 6000);
        assert_eq!(eps[0].labels["version"], "v1");
        assert_eq!(eps[1].port, 5433);
        assert!(!s.entry.as_ref().unwrap().external());
    }

    #[test]
    fn export_to() {
        let mut e = EntryInfo {
            entry: "x".into(),
            location: Location::MeshExternal,
            resolution: Resolution::None,
            endpoints: Vec::new(),
            export_to: Vec::new(),
            subject_alt_names: Vec::new(),
            selects_workloads: false,
        };
        assert!(e.exported_to("a", "b"));
        e.export_to = vec![".".into()];
        assert!(e.exported_to("a", "a"));
        assert!(!e.exported_to("a", "b"));
        e.export_to = vec!["b".into()];
        assert!(e.exported_to("a", "b"));
        e.export_to = vec!["*".into()];
        assert!(e.exported_to("a", "c"));
    }
}
