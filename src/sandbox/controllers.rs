//! The few Kubernetes controllers a sandbox needs, as functions over the store: Deployments
//! → ReplicaSets → Pods (with Istio's sidecar injection), Services get cluster IPs, and
//! Endpoints follow the ready Pods a Service selects.

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde_json::json;

use crate::api::k8s::{
    Container, ContainerPort, Deployment, EndpointAddress, EndpointPort, EndpointSubset, Endpoints,
    IntOrString, Pod, PodTemplateSpec, ReplicaSet, Service,
};
use crate::api::meta::OwnerReference;
use crate::api::{ObjectMeta, Resource, ResourceKey};

use super::ipam::Ipam;
use super::store::Store;

/// Istio's proxy image, for injected sidecars and gateways.
pub const PROXY_IMAGE: &str = "docker.io/istio/proxyv2:1.26.0";

/// Characters Kubernetes uses for generated names (no vowels, no look-alikes).
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// FNV-1a of the pod template, rendered like Kubernetes' `pod-template-hash`.
pub fn template_hash(t: &PodTemplateSpec) -> String {
    let bytes = serde_json::to_vec(t).unwrap_or_default();
    let mut h: u32 = 0x811c9dc5;
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x01000193);
    }
    h.to_string()
        .bytes()
        .map(|b| SAFE[usize::from(b) % SAFE.len()] as char)
        .collect()
}

/// Five random safe characters, like a ReplicaSet's pod name suffix.
pub fn random_suffix() -> String {
    (0..5)
        .map(|_| SAFE[rand::random_range(0..SAFE.len())] as char)
        .collect()
}

fn key(kind: &str, group: &str, ns: &str, name: &str) -> ResourceKey {
    ResourceKey {
        group: group.to_owned(),
        kind: kind.to_owned(),
        namespace: Some(ns.to_owned()),
        name: name.to_owned(),
    }
}

fn owner(kind: &str, api_version: &str, meta: &ObjectMeta) -> OwnerReference {
    serde_json::from_value(json!({
        "apiVersion": api_version,
        "kind": kind,
        "name": meta.name,
        "uid": meta.uid.clone().unwrap_or_default(),
        "controller": true,
        "blockOwnerDeletion": true,
    }))
    .unwrap_or_default()
}

fn owned_by(meta: &ObjectMeta, kind: &str, name: &str) -> bool {
    meta.owner_references
        .iter()
        .any(|o| o.kind == kind && o.name == name)
}

/// Whether pods of this template in `ns` get a sidecar: the namespace label
/// `istio-injection=enabled`, overridden by the pod's `sidecar.istio.io/inject` label or
/// annotation (Istio's rules, simplified to the ones the book uses).
pub fn injects(store: &Store, ns: &str, t: &PodTemplateSpec) -> bool {
    let explicit = t
        .metadata
        .labels
        .get("sidecar.istio.io/inject")
        .or_else(|| t.metadata.annotations.get("sidecar.istio.io/inject"));
    if let Some(v) = explicit {
        return v == "true";
    }
    if is_gateway_template(t) {
        return false;
    }
    let ns_key = ResourceKey {
        group: String::new(),
        kind: "Namespace".to_owned(),
        namespace: None,
        name: ns.to_owned(),
    };
    store.get(&ns_key).is_some_and(|n| {
        n.meta().labels.get("istio-injection").map(String::as_str) == Some("enabled")
    })
}

/// A gateway pod runs only Istio's proxy image (`proxy router`).
pub fn is_gateway_template(t: &PodTemplateSpec) -> bool {
    matches!(t.spec.containers.as_slice(), [c] if c.image.as_deref().is_some_and(is_proxy_image))
}

pub fn is_proxy_image(image: &str) -> bool {
    image.contains("istio/proxyv2") || image == "auto"
}

/// Istio's injection templates: `inject.istio.io/templates: gateway` turns the pod's own
/// `istio-proxy` container (image `auto`) into a gateway; anything else gets a sidecar.
fn inject(pod: &mut Pod, workload: &str) {
    let template = pod
        .metadata
        .annotations
        .get("inject.istio.io/templates")
        .cloned();
    if template.as_deref() == Some("gateway") {
        inject_gateway(pod, workload);
    } else {
        inject_sidecar(pod, workload);
    }
}

/// The `gateway` template: the `istio-proxy` container becomes `proxy router` on Istio's
/// image, with the gateway's labels; no init container, no second proxy.
fn inject_gateway(pod: &mut Pod, workload: &str) {
    let app = pod
        .metadata
        .labels
        .get("app")
        .cloned()
        .unwrap_or_else(|| workload.to_owned());
    let labels = &mut pod.metadata.labels;
    labels
        .entry("service.istio.io/canonical-name".into())
        .or_insert(app);
    labels
        .entry("service.istio.io/canonical-revision".into())
        .or_insert_with(|| "latest".into());
    labels
        .entry("istio.io/rev".into())
        .or_insert_with(|| "default".into());
    pod.metadata.annotations.insert(
        "sidecar.istio.io/status".into(),
        r#"{"initContainers":null,"containers":["istio-proxy"],"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null,"revision":"default"}"#.into(),
    );
    if let Some(c) = pod
        .spec
        .containers
        .iter_mut()
        .find(|c| c.name == "istio-proxy")
    {
        c.image = Some(PROXY_IMAGE.into());
        c.args = [
            "proxy",
            "router",
            "--domain",
            "$(POD_NAMESPACE).svc.cluster.local",
            "--proxyLogLevel=warning",
            "--proxyComponentLogLevel=misc:error",
            "--log_output_level=default:info",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if c.ports.iter().all(|p| p.container_port != 15090) {
            c.ports.push(ContainerPort {
                name: Some("http-envoy-prom".into()),
                container_port: 15090,
                protocol: Some("TCP".into()),
                ..Default::default()
            });
        }
    }
}

/// Adds what Istio's sidecar injector adds: `istio-init`, `istio-proxy`, labels and annotations.
fn inject_sidecar(pod: &mut Pod, workload: &str) {
    let app = pod
        .metadata
        .labels
        .get("app")
        .cloned()
        .unwrap_or_else(|| workload.to_owned());
    let version = pod
        .metadata
        .labels
        .get("version")
        .cloned()
        .unwrap_or_else(|| "latest".to_owned());
    pod.metadata
        .labels
        .insert("security.istio.io/tlsMode".into(), "istio".into());
    pod.metadata
        .labels
        .insert("service.istio.io/canonical-name".into(), app);
    pod.metadata
        .labels
        .insert("service.istio.io/canonical-revision".into(), version);
    let default_container = pod
        .spec
        .containers
        .first()
        .map(|c| c.name.clone())
        .unwrap_or_default();
    let a = &mut pod.metadata.annotations;
    a.insert(
        "kubectl.kubernetes.io/default-container".into(),
        default_container,
    );
    a.insert("prometheus.io/path".into(), "/stats/prometheus".into());
    a.insert("prometheus.io/port".into(), "15020".into());
    a.insert("prometheus.io/scrape".into(), "true".into());
    a.insert(
        "sidecar.istio.io/status".into(),
        r#"{"initContainers":["istio-init"],"containers":["istio-proxy"],"volumes":["workload-socket","credential-socket","workload-certs","istio-envoy","istio-data","istio-podinfo","istio-token","istiod-ca-cert"],"imagePullSecrets":null,"revision":"default"}"#.into(),
    );
    pod.spec.init_containers.push(Container {
        name: "istio-init".into(),
        image: Some(PROXY_IMAGE.into()),
        args: [
            "istio-iptables",
            "-p",
            "15001",
            "-z",
            "15006",
            "-u",
            "1337",
            "-m",
            "REDIRECT",
            "-i",
            "*",
            "-x",
            "",
            "-b",
            "*",
            "-d",
            "15090,15021,15020",
            "--log_output_level=default:info",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        ..Default::default()
    });
    pod.spec.containers.push(Container {
        name: "istio-proxy".into(),
        image: Some(PROXY_IMAGE.into()),
        args: [
            "proxy",
            "sidecar",
            "--domain",
            "$(POD_NAMESPACE).svc.cluster.local",
            "--proxyLogLevel=warning",
            "--proxyComponentLogLevel=misc:error",
            "--log_output_level=default:info",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
        ports: vec![ContainerPort {
            name: Some("http-envoy-prom".into()),
            container_port: 15090,
            protocol: Some("TCP".into()),
            ..Default::default()
        }],
        ..Default::default()
    });
}

/// What admission does to a Pod created directly (not by a Deployment): the default service
/// account, and Istio's sidecar when the namespace or the pod asks for one.
pub fn admit_pod(store: &Store, pod: &mut Pod) {
    if pod.spec.service_account_name.is_none() {
        pod.spec.service_account_name = Some("default".into());
    }
    if pod.spec.containers.iter().any(|c| c.name == "istio-proxy") {
        return;
    }
    let ns = pod
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let template = PodTemplateSpec {
        metadata: pod.metadata.clone(),
        spec: pod.spec.clone(),
    };
    if injects(store, &ns, &template) {
        let name = pod.metadata.name.clone();
        inject(pod, &name);
    }
}

/// Deployments → one ReplicaSet per template (older ones scaled to zero at once) → Pods.
/// Returns whether anything changed.
pub fn deployments(store: &mut Store, node: &str) -> bool {
    let mut changed = false;
    let deployments: Vec<Deployment> = store
        .list("Deployment", None)
        .into_iter()
        .filter_map(|r| match r {
            Resource::Deployment(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    let mut live_rs: BTreeSet<ResourceKey> = BTreeSet::new();
    for d in &deployments {
        let ns = d
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| "default".to_owned());
        let hash = template_hash(&d.spec.template);
        let rs_name = format!("{}-{hash}", d.metadata.name);
        let replicas = d.spec.replicas().max(0);
        let injected = injects(store, &ns, &d.spec.template);
        let rs_key = key("ReplicaSet", "apps", &ns, &rs_name);
        live_rs.insert(rs_key.clone());
        let mut template = d.spec.template.clone();
        template
            .metadata
            .labels
            .insert("pod-template-hash".into(), hash.clone());
        let rs = ReplicaSet {
            api_version: "apps/v1".into(),
            kind: "ReplicaSet".into(),
            metadata: ObjectMeta {
                name: rs_name.clone(),
                namespace: Some(ns.clone()),
                labels: template.metadata.labels.clone(),
                annotations: [(
                    "deployment.kubernetes.io/desired-replicas".to_owned(),
                    replicas.to_string(),
                )]
                .into(),
                owner_references: vec![owner("Deployment", "apps/v1", &d.metadata)],
                ..Default::default()
            },
            spec: serde_json::from_value(json!({
                "replicas": replicas,
                "selector": d.spec.selector,
                "template": template,
            }))
            .unwrap_or_default(),
            status: None,
        };
        if store.get(&rs_key).is_none() {
            changed |= store.put(Resource::ReplicaSet(rs), true) != super::store::Change::Unchanged;
        }
        // Pods of this ReplicaSet: create or delete to match replicas.
        let mut pods: Vec<String> = store
            .list("Pod", Some(&ns))
            .into_iter()
            .filter(|p| owned_by(p.meta(), "ReplicaSet", &rs_name))
            .map(|p| p.name().to_owned())
            .collect();
        pods.sort();
        let want = usize::try_from(replicas).unwrap_or(0);
        while pods.len() < want {
            let name = format!("{rs_name}-{}", random_suffix());
            let mut pod = Pod {
                api_version: "v1".into(),
                kind: "Pod".into(),
                metadata: ObjectMeta {
                    name: name.clone(),
                    namespace: Some(ns.clone()),
                    labels: template.metadata.labels.clone(),
                    annotations: template.metadata.annotations.clone(),
                    owner_references: vec![
                        serde_json::from_value(json!({
                            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs_name,
                            "uid": "", "controller": true, "blockOwnerDeletion": true,
                        }))
                        .unwrap_or_default(),
                    ],
                    ..Default::default()
                },
                spec: template.spec.clone(),
                status: Some(
                    serde_json::from_value(json!({"phase": "Pending"})).unwrap_or_default(),
                ),
            };
            pod.spec.node_name = Some(node.to_owned());
            if pod.spec.service_account_name.is_none() {
                pod.spec.service_account_name = Some("default".into());
            }
            if injected {
                inject(&mut pod, &d.metadata.name);
            }
            store.put(Resource::Pod(pod), true);
            pods.push(name);
            changed = true;
        }
        while pods.len() > want {
            if let Some(name) = pods.pop() {
                store.remove(&key("Pod", "", &ns, &name));
                changed = true;
            }
        }
    }
    // ReplicaSets of old templates or deleted Deployments go, with their Pods.
    let stale_rs: Vec<ResourceKey> = store
        .list("ReplicaSet", None)
        .into_iter()
        .map(|r| r.key())
        .filter(|k| !live_rs.contains(k))
        .collect();
    for rs in stale_rs {
        let ns = rs.namespace.clone().unwrap_or_default();
        let pods: Vec<ResourceKey> = store
            .list("Pod", Some(&ns))
            .into_iter()
            .filter(|p| owned_by(p.meta(), "ReplicaSet", &rs.name))
            .map(|p| p.key())
            .collect();
        for p in pods {
            store.remove(&p);
        }
        store.remove(&rs);
        changed = true;
    }
    changed
}

/// Services without a cluster IP get one (headless `None` ones stay headless).
pub fn service_ips(store: &mut Store, ipam: &mut Ipam) -> bool {
    let mut changed = false;
    let services: Vec<Service> = store
        .list("Service", None)
        .into_iter()
        .filter_map(|r| match r {
            Resource::Service(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let mut used_node_ports: std::collections::BTreeSet<i32> = services
        .iter()
        .flat_map(|s| s.spec.ports.iter().filter_map(|p| p.node_port))
        .collect();
    for mut s in services {
        if allocate_node_ports(&mut s, &mut used_node_ports) {
            store.put(Resource::Service(s.clone()), false);
            changed = true;
        }
        match s
            .spec
            .cluster_ip
            .as_deref()
            .map(|ip| (ip, ip.parse::<Ipv4Addr>()))
        {
            Some(("None", _)) => continue,
            Some((_, Ok(ip))) => {
                // Restored or user-set: keep it (and keep the allocator from handing it out).
                ipam.claim_service(ip);
                continue;
            }
            _ => {}
        }
        if let Ok(ip) = ipam.service() {
            s.spec.cluster_ip = Some(ip.to_string());
            s.spec.cluster_ips = vec![ip.to_string()];
            store.put(Resource::Service(s), false);
            changed = true;
        }
    }
    changed
}

/// Kubernetes' node-port allocator: every port of a NodePort or LoadBalancer Service that
/// names none gets a free one in 30086–32767. Picked from a hash of the Service and port (the
/// API server picks at random), so a sandbox started twice from a scenario shows the same.
fn allocate_node_ports(s: &mut Service, used: &mut std::collections::BTreeSet<i32>) -> bool {
    use crate::api::k8s::ServiceType;
    if !matches!(
        s.spec.type_,
        Some(ServiceType::NodePort | ServiceType::LoadBalancer)
    ) {
        return false;
    }
    // Dynamic allocations prefer the range above the static band (KEP-3668: the first 86
    // ports of 30000–32767 are left for Services that ask for a port, like the book's).
    const FIRST: i32 = 30086;
    const COUNT: i32 = 32768 - FIRST;
    let mut changed = false;
    let id = format!(
        "{}/{}",
        s.metadata.namespace.as_deref().unwrap_or(""),
        s.metadata.name
    );
    for p in &mut s.spec.ports {
        if p.node_port.is_some() {
            continue;
        }
        // FNV-1a over "ns/name:port": stable, no dependency.
        let mut h: u32 = 0x811c_9dc5;
        for b in format!("{id}:{}", p.port).bytes() {
            h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
        }
        let start = (h % COUNT as u32) as i32;
        if let Some(port) = (0..COUNT)
            .map(|i| FIRST + (start + i) % COUNT)
            .find(|port| !used.contains(port))
        {
            used.insert(port);
            p.node_port = Some(port);
            changed = true;
        }
    }
    changed
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

/// Whether a pod is running and ready (has an IP and a Ready condition).
pub fn pod_ready(p: &Pod) -> bool {
    p.status.as_ref().is_some_and(|s| {
        s.pod_ip.is_some()
            && s.conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
    })
}

/// A subset's ready and not-ready addresses.
type ReadyAndNot = (Vec<EndpointAddress>, Vec<EndpointAddress>);

/// Endpoints for every Service with a selector: the ready Pods it selects.
pub fn endpoints(store: &mut Store) -> bool {
    let mut changed = false;
    let services: Vec<Service> = store
        .list("Service", None)
        .into_iter()
        .filter_map(|r| match r {
            Resource::Service(s) => Some(s.clone()),
            _ => None,
        })
        .collect();
    let mut wanted: BTreeSet<ResourceKey> = BTreeSet::new();
    for s in &services {
        if s.spec.selector.is_empty() {
            continue;
        }
        let ns = s.metadata.namespace.clone().unwrap_or_default();
        let pods: Vec<Pod> = store
            .list("Pod", Some(&ns))
            .into_iter()
            .filter_map(|r| match r {
                Resource::Pod(p)
                    if crate::api::meta::labels_match(&s.spec.selector, &p.metadata.labels) =>
                {
                    Some(p.clone())
                }
                _ => None,
            })
            .collect();
        // Pods with the same resolved ports share a subset.
        let mut subsets: BTreeMap<Vec<(String, u16)>, ReadyAndNot> = BTreeMap::new();
        for p in &pods {
            let Some(ip) = p.status.as_ref().and_then(|st| st.pod_ip.clone()) else {
                continue;
            };
            let ports: Vec<(String, u16)> = s
                .spec
                .ports
                .iter()
                .filter_map(|sp| {
                    resolve_target(&sp.target(), p)
                        .map(|t| (sp.name.clone().unwrap_or_default(), t))
                })
                .collect();
            let addr: EndpointAddress = serde_json::from_value(json!({
                "ip": ip,
                "nodeName": p.spec.node_name,
                "targetRef": {"kind": "Pod", "namespace": ns, "name": p.metadata.name, "uid": p.metadata.uid},
            }))
            .unwrap_or_default();
            let entry = subsets.entry(ports).or_default();
            if pod_ready(p) {
                entry.0.push(addr);
            } else {
                entry.1.push(addr);
            }
        }
        let subsets: Vec<EndpointSubset> = subsets
            .into_iter()
            .map(|(ports, (ready, not_ready))| EndpointSubset {
                addresses: ready,
                not_ready_addresses: not_ready,
                ports: ports
                    .into_iter()
                    .map(|(name, port)| EndpointPort {
                        name: (!name.is_empty()).then_some(name),
                        port: i32::from(port),
                        protocol: Some("TCP".into()),
                        ..Default::default()
                    })
                    .collect(),
            })
            .collect();
        let ep = Endpoints {
            api_version: "v1".into(),
            kind: "Endpoints".into(),
            metadata: ObjectMeta {
                name: s.metadata.name.clone(),
                namespace: Some(ns.clone()),
                labels: s.metadata.labels.clone(),
                ..Default::default()
            },
            subsets,
        };
        let k = key("Endpoints", "", &ns, &s.metadata.name);
        wanted.insert(k);
        changed |= store.put(Resource::Endpoints(ep), true) != super::store::Change::Unchanged;
    }
    let stale: Vec<ResourceKey> = store
        .list("Endpoints", None)
        .into_iter()
        .map(|r| r.key())
        .filter(|k| !wanted.contains(k))
        .collect();
    for k in stale {
        store.remove(&k);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(text: &str) -> Service {
        match crate::api::decode("s.yaml", text)
            .unwrap()
            .remove(0)
            .resource
        {
            Resource::Service(s) => s,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn node_ports_are_allocated_above_the_static_band_and_never_twice() {
        let mut used = [30000].into();
        let mut lb = service(
            "apiVersion: v1\nkind: Service\nmetadata: {name: gw, namespace: ns}\nspec:\n  type: LoadBalancer\n  ports:\n  - {name: a, port: 80}\n  - {name: b, port: 443, nodePort: 30000}\n  - {name: c, port: 31400}\n",
        );
        assert!(allocate_node_ports(&mut lb, &mut used));
        let ports: Vec<i32> = lb.spec.ports.iter().filter_map(|p| p.node_port).collect();
        assert_eq!(ports.len(), 3);
        assert_eq!(ports[1], 30000, "an explicit port is kept");
        assert!(
            ports[0] >= 30086 && ports[2] >= 30086 && ports[0] != ports[2],
            "{ports:?}"
        );
        // The same service elsewhere gets the same ports (stable), unless they are taken.
        let mut again = lb.clone();
        again.spec.ports[0].node_port = None;
        let mut fresh = [30000].into();
        allocate_node_ports(&mut again, &mut fresh);
        assert_eq!(again.spec.ports[0].node_port, Some(ports[0]));
        let mut cluster_ip = service(
            "apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec:\n  ports:\n  - {port: 80}\n",
        );
        assert!(!allocate_node_ports(&mut cluster_ip, &mut used));
    }
}
