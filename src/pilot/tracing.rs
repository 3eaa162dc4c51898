//! What `meshConfig.enableTracing` adds to every proxy: Zipkin tracing on each HTTP connection
//! manager (Istio's provider settings, sampling from `defaultConfig.tracing.sampling`) and the
//! `zipkin` cluster it reports to.

use std::net::{IpAddr, SocketAddr};

use crate::xds::cluster::{Cluster, DiscoveryType, EdsClusterConfig};
use crate::xds::core::Address;
use crate::xds::de::Duration;
use crate::xds::endpoint::ClusterLoadAssignment;
use crate::xds::hcm::{
    CollectorEndpointVersion, CustomTag, LiteralTag, Percent, TracerConfig, Tracing,
    TracingProvider, ZipkinConfig,
};
use crate::xds::listener::{Listener, NetworkFilterConfig};

use super::bootstrap::ProxyIdentity;
use super::build;
use super::model::Model;
use super::names::ProxyType;
use super::settings::MeshSettings;

/// The cluster istiod's Zipkin provider reports to.
pub const CLUSTER: &str = "zipkin";
const DEFAULT_PORT: u16 = 9411;

/// The HCM `tracing` istiod writes for this proxy.
pub fn hcm_tracing(settings: &MeshSettings, proxy: &ProxyIdentity) -> Tracing {
    let literal = |tag: &str, value: &str| CustomTag {
        tag: tag.to_owned(),
        literal: Some(LiteralTag {
            value: value.to_owned(),
        }),
        ..Default::default()
    };
    let canonical_service = proxy
        .labels
        .get("service.istio.io/canonical-name")
        .or_else(|| proxy.labels.get("app.kubernetes.io/name"))
        .or_else(|| proxy.labels.get("app"))
        .cloned()
        .unwrap_or_else(|| proxy.workload.clone());
    let canonical_revision = proxy
        .labels
        .get("service.istio.io/canonical-revision")
        .or_else(|| proxy.labels.get("app.kubernetes.io/version"))
        .or_else(|| proxy.labels.get("version"))
        .map_or("latest", String::as_str);
    Tracing {
        client_sampling: Some(Percent { value: 100.0 }),
        random_sampling: Some(Percent {
            value: settings.tracing_sampling.clamp(0.0, 100.0),
        }),
        overall_sampling: Some(Percent { value: 100.0 }),
        custom_tags: vec![
            literal("istio.canonical_revision", canonical_revision),
            literal("istio.canonical_service", &canonical_service),
            literal("istio.mesh_id", "cluster.local"),
            literal("istio.namespace", &proxy.namespace),
        ],
        provider: Some(TracingProvider {
            name: "envoy.tracers.zipkin".to_owned(),
            typed_config: TracerConfig::Zipkin(ZipkinConfig {
                collector_cluster: CLUSTER.to_owned(),
                collector_endpoint: "/api/v2/spans".to_owned(),
                trace_id_128bit: true,
                // Istio gives every proxy its own span rather than sharing the caller's.
                shared_span_context: Some(false),
                collector_endpoint_version: CollectorEndpointVersion::HttpJson,
                collector_hostname: String::new(),
            }),
        }),
        // A gateway shows both sides of its hop: the downstream (SERVER) span and the
        // router's CLIENT span to the backend.
        spawn_upstream_span: (proxy.kind == ProxyType::Router).then_some(true),
        ..Default::default()
    }
}

/// The `zipkin` cluster for `host:port`: STATIC for an IP, EDS with the Service's endpoints
/// when the host names a Service in the mesh, STRICT_DNS otherwise.
pub fn collector_cluster(
    model: &Model,
    address: &str,
    namespace: &str,
) -> (Cluster, Option<ClusterLoadAssignment>) {
    let (host, port) = match address.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => (h, p.parse().unwrap_or(DEFAULT_PORT)),
        _ => (address, DEFAULT_PORT),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let mut cluster = Cluster {
        name: CLUSTER.to_owned(),
        connect_timeout: Some(Duration::from_secs(1)),
        ..Default::default()
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        cluster.discovery_type = DiscoveryType::Static;
        cluster.load_assignment = Some(build::assignment(CLUSTER, &[SocketAddr::new(ip, port)]));
        return (cluster, None);
    }
    let service = model.services.iter().find(|s| {
        let short = format!("{}.{}", s.name, s.namespace);
        host == s.fqdn
            || host == short
            || host == format!("{short}.svc")
            || (host == s.name && s.namespace == namespace)
    });
    if service.is_some() || names_a_service(model, host) {
        // The Service's endpoints; none yet (the collector is not installed) means reports
        // fail quietly until it is, rather than a DNS error every few seconds.
        let eps = service
            .and_then(|svc| Some(model.endpoints_of(svc, svc.port(port)?)))
            .unwrap_or_default();
        cluster.discovery_type = DiscoveryType::Eds;
        cluster.eds_cluster_config = Some(EdsClusterConfig {
            eds_config: Some(build::ads()),
            service_name: CLUSTER.to_owned(),
        });
        return (cluster, Some(build::assignment(CLUSTER, &eps)));
    }
    cluster.discovery_type = DiscoveryType::StrictDns;
    // One endpoint named by host; the proxy resolves it.
    let mut cla = build::assignment(CLUSTER, &[SocketAddr::from(([0, 0, 0, 0], port))]);
    for e in cla
        .endpoints
        .iter_mut()
        .flat_map(|l| l.lb_endpoints.iter_mut())
    {
        if let Some(ep) = &mut e.endpoint {
            ep.address = Address::socket(host.to_owned(), u32::from(port));
        }
    }
    cluster.load_assignment = Some(cla);
    (cluster, None)
}

/// Adds `tracing` to every HTTP connection manager of these listeners.
pub fn attach(listeners: &mut [Listener], tracing: &Tracing) {
    for l in listeners {
        for chain in &mut l.filter_chains {
            for f in &mut chain.filters {
                if let NetworkFilterConfig::HttpConnectionManager(hcm) = &mut f.typed_config {
                    hcm.tracing = Some(tracing.clone());
                }
            }
        }
    }
}

/// Whether `host` is written as a Kubernetes Service name (`name`, `name.namespace` of a
/// namespace in use, `….svc[.cluster.local]`), so the mesh's registry answers for it.
fn names_a_service(model: &Model, host: &str) -> bool {
    if !host.contains('.') || host.ends_with(".svc") || host.ends_with(".svc.cluster.local") {
        return true;
    }
    let Some((_, ns)) = host.split_once('.') else {
        return false;
    };
    ns == "istio-system"
        || model.services.iter().any(|s| s.namespace == ns)
        || model.workloads.iter().any(|w| w.namespace == ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model(text: &str) -> Model {
        let rs: Vec<crate::api::Resource> = crate::api::decode("t.yaml", text)
            .unwrap()
            .into_iter()
            .map(|d| d.resource)
            .collect();
        Model::from_resources(rs.iter())
    }

    const ZIPKIN: &str = "apiVersion: v1\nkind: Service\nmetadata: {name: zipkin, namespace: istio-system}\nspec:\n  selector: {app: zipkin}\n  ports: [{name: http-query, port: 9411, targetPort: 9411}]\n---\napiVersion: v1\nkind: Endpoints\nmetadata: {name: zipkin, namespace: istio-system}\nsubsets: [{addresses: [{ip: 127.10.0.9}], ports: [{name: http-query, port: 9411}]}]\n";

    #[test]
    fn the_collector_cluster_follows_the_address() {
        let empty = Model::default();
        let (c, cla) = collector_cluster(&empty, "127.0.0.1:19411", "default");
        assert_eq!(
            (c.name.as_str(), c.discovery_type),
            ("zipkin", DiscoveryType::Static)
        );
        assert!(cla.is_none());
        let ep = &c.load_assignment.unwrap().endpoints[0].lb_endpoints[0];
        assert_eq!(
            ep.endpoint.as_ref().unwrap().address.display(),
            "127.0.0.1:19411"
        );

        let m = model(ZIPKIN);
        let (c, cla) = collector_cluster(&m, "zipkin.istio-system:9411", "default");
        assert_eq!(c.discovery_type, DiscoveryType::Eds);
        let cla = cla.unwrap();
        assert_eq!(cla.cluster_name, "zipkin");
        assert_eq!(
            cla.endpoints[0].lb_endpoints[0]
                .endpoint
                .as_ref()
                .unwrap()
                .address
                .display(),
            "127.10.0.9:9411"
        );
        // Not installed yet: a cluster with no endpoints, no DNS lookups.
        let (c, cla) = collector_cluster(&empty, "zipkin.istio-system:9411", "default");
        assert_eq!(c.discovery_type, DiscoveryType::Eds);
        assert!(cla.unwrap().endpoints.is_empty());
        // Anything else is a DNS name.
        let (c, _) = collector_cluster(&empty, "collector.example.com", "default");
        assert_eq!(c.discovery_type, DiscoveryType::StrictDns);
        let ep = &c.load_assignment.unwrap().endpoints[0].lb_endpoints[0];
        assert_eq!(
            ep.endpoint.as_ref().unwrap().address.display(),
            "collector.example.com:9411"
        );
    }

    #[test]
    fn hcm_tracing_is_istios_zipkin_provider() {
        let settings = MeshSettings {
            enable_tracing: true,
            tracing_sampling: 1.0,
            ..Default::default()
        };
        let proxy = ProxyIdentity {
            kind: ProxyType::Sidecar,
            pod: "webapp-1".into(),
            namespace: "istioinaction".into(),
            ip: "127.10.0.2".parse().unwrap(),
            labels: [("app".to_owned(), "webapp".to_owned())].into(),
            service_account: "webapp".into(),
            workload: "webapp".into(),
            app_ip: "127.20.0.2".parse().unwrap(),
        };
        let t = hcm_tracing(&settings, &proxy);
        let v = serde_json::to_value(&t).unwrap();
        assert_eq!(v["random_sampling"]["value"], 1.0);
        assert_eq!(v["provider"]["name"], "envoy.tracers.zipkin");
        let z = &v["provider"]["typed_config"];
        assert_eq!(
            z["@type"],
            "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig"
        );
        assert_eq!(z["collector_cluster"], "zipkin");
        assert_eq!(z["collector_endpoint"], "/api/v2/spans");
        assert_eq!(z["collector_endpoint_version"], "HTTP_JSON");
        assert_eq!(z["trace_id_128bit"], true);
        assert_eq!(z["shared_span_context"], false);
        assert!(
            v.get("spawn_upstream_span").is_none(),
            "sidecars: one span per hop"
        );
        assert!(
            t.custom_tags
                .iter()
                .any(|c| c.tag == "istio.canonical_service"
                    && c.literal.as_ref().unwrap().value == "webapp")
        );
        let gw = ProxyIdentity {
            kind: ProxyType::Router,
            ..proxy
        };
        assert_eq!(hcm_tracing(&settings, &gw).spawn_upstream_span, Some(true));
    }
}
