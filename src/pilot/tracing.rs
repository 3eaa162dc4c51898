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
    if let Some(svc) = service {
        let eps = svc
            .port(port)
            .map(|p| model.endpoints_of(svc, p))
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
    for e in cla.endpoints.iter_mut().flat_map(|l| l.lb_endpoints.iter_mut()) {
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
