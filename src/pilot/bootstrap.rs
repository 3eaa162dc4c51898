//! The static bootstrap every proxy starts from (Istio's `envoy_bootstrap.json` template, as
//! far as mesh runs it): node identity and metadata, the admin API on the pod's address, the
//! Prometheus listener on 15090 and the readiness listener on 15021 with their clusters.
//! Everything else arrives by xDS.

use std::net::IpAddr;

use serde_json::json;

use crate::xds::Bootstrap;
use crate::xds::decode::decode_str;

use super::names::{self, ProxyType};

/// Who a proxy is.
#[derive(Debug, Clone)]
pub struct ProxyIdentity {
    pub kind: ProxyType,
    pub pod: String,
    pub namespace: String,
    pub ip: IpAddr,
    pub labels: std::collections::BTreeMap<String, String>,
    pub service_account: String,
    /// The workload (Deployment) name.
    pub workload: String,
    /// Where the pod's apps listen (the pod's own localhost; the sidecar forwards inbound
    /// traffic there, as Istio's inbound clusters forward over localhost).
    pub app_ip: IpAddr,
}

impl ProxyIdentity {
    pub fn node_id(&self) -> String {
        names::node_id(self.kind, self.ip, &self.pod, &self.namespace)
    }

    /// proxy-status NAME: `<pod>.<namespace>`.
    pub fn name(&self) -> String {
        names::proxy_name(&self.pod, &self.namespace)
    }
}

/// The admin port every Istio proxy uses.
pub const ADMIN_PORT: u16 = 15000;
/// pilot-agent's port (readiness answers there).
pub const AGENT_PORT: u16 = 15020;

/// The pod's labels plus the canonical service labels pilot-agent fills in when the pod has
/// none (name: `app.kubernetes.io/name`, `app`, else the workload; revision:
/// `app.kubernetes.io/version`, `version`, else `latest`) — what telemetry reports.
fn node_labels(p: &ProxyIdentity) -> std::collections::BTreeMap<String, String> {
    let mut labels = p.labels.clone();
    let first = |keys: &[&str]| keys.iter().find_map(|k| p.labels.get(*k).cloned());
    let name = first(&["app.kubernetes.io/name", "app"]).unwrap_or_else(|| p.workload.clone());
    let revision =
        first(&["app.kubernetes.io/version", "version"]).unwrap_or_else(|| "latest".into());
    labels
        .entry("service.istio.io/canonical-name".into())
        .or_insert(name);
    labels
        .entry("service.istio.io/canonical-revision".into())
        .or_insert(revision);
    labels
}

pub fn bootstrap(p: &ProxyIdentity) -> Bootstrap {
    let ip = p.ip;
    let metadata = json!({
        "CLUSTER_ID": "Kubernetes",
        "ISTIO_VERSION": names::ISTIO_VERSION,
        "LABELS": node_labels(p),
        "MESH_ID": "cluster.local",
        "NAME": p.pod,
        "NAMESPACE": p.namespace,
        "SERVICE_ACCOUNT": p.service_account,
        "WORKLOAD_NAME": p.workload,
        "INTERCEPTION_MODE": "REDIRECT",
        "PILOT_SAN": ["istiod.istio-system.svc"],
    });
    let yaml = format!(
        r#"
admin:
  address: {{socket_address: {{address: "{ip}", port_value: {ADMIN_PORT}}}}}
stats_flush_interval: 5s
static_resources:
  listeners:
  - address: {{socket_address: {{address: 0.0.0.0, port_value: 15090}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: stats
          codec_type: AUTO
          route_config:
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes: [{{match: {{prefix: /stats/prometheus}}, route: {{cluster: prometheus_stats}}}}]
          http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
  - address: {{socket_address: {{address: 0.0.0.0, port_value: 15021}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: agent
          codec_type: AUTO
          route_config:
            virtual_hosts:
            - name: backend
              domains: ["*"]
              routes: [{{match: {{prefix: /healthz/ready}}, route: {{cluster: agent}}}}]
          http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
  clusters:
  - name: prometheus_stats
    type: STATIC
    connect_timeout: 0.250s
    load_assignment:
      cluster_name: prometheus_stats
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: "{ip}", port_value: {ADMIN_PORT}}}}}}}}}]}}]
  - name: agent
    type: STATIC
    connect_timeout: 0.250s
    load_assignment:
      cluster_name: agent
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: "{ip}", port_value: {AGENT_PORT}}}}}}}}}]}}]
"#
    );
    // The template is ours and fixed; only the identity varies.
    let mut b: Bootstrap = decode_str("bootstrap", &yaml).unwrap_or_default();
    b.node = Some(crate::xds::core::Node {
        id: p.node_id(),
        cluster: format!("{}.{}", p.workload, p.namespace),
        metadata: metadata.as_object().cloned(),
        ..Default::default()
    });
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootstrap_has_the_istio_static_listeners_and_clusters() {
        let p = ProxyIdentity {
            kind: ProxyType::Router,
            pod: "istio-ingressgateway-996bc6bb6-mktpr".into(),
            namespace: "istio-system".into(),
            ip: "127.10.0.1".parse().unwrap(),
            labels: [("istio".to_owned(), "ingressgateway".to_owned())].into(),
            service_account: "istio-ingressgateway-service-account".into(),
            workload: "istio-ingressgateway".into(),
            app_ip: "127.20.0.1".parse().unwrap(),
        };
        let b = bootstrap(&p);
        let sr = b.static_resources.unwrap();
        assert_eq!(sr.listeners.len(), 2);
        assert_eq!(
            sr.clusters
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["prometheus_stats", "agent"]
        );
        let node = b.node.unwrap();
        assert!(
            node.id.starts_with(
                "router~127.10.0.1~istio-ingressgateway-996bc6bb6-mktpr.istio-system~"
            )
        );
        assert_eq!(node.cluster, "istio-ingressgateway.istio-system");
        // pilot-agent's canonical labels for a pod without them.
        let labels = &node.metadata.as_ref().unwrap()["LABELS"];
        assert_eq!(
            labels["service.istio.io/canonical-name"],
            "istio-ingressgateway"
        );
        assert_eq!(labels["service.istio.io/canonical-revision"], "latest");
        assert_eq!(
            b.admin.unwrap().address.unwrap().display(),
            "127.10.0.1:15000"
        );
    }
}
