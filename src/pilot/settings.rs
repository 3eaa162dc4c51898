//! Mesh-wide settings istiod takes from `meshConfig` and its environment (`mesh install`), and
//! what the Telemetry API turns on per proxy: access logs.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::xds::core::DataSource;
use crate::xds::hcm::{AccessLog, AccessLogConfig, FileAccessLog, SubstitutionFormatString};
use crate::xds::listener::{Listener, NetworkFilterConfig};

use super::bootstrap::ProxyIdentity;
use super::model::Model;

/// Istio 1.23+'s default TEXT access log format.
pub const DEFAULT_TEXT_FORMAT: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% \"%UPSTREAM_TRANSPORT_FAILURE_REASON%\" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n";

/// Istio's JSON access log: the same operators under these keys.
pub fn default_json_format() -> Map<String, Value> {
    let pairs = [
        ("authority", "%REQ(:AUTHORITY)%"),
        ("bytes_received", "%BYTES_RECEIVED%"),
        ("bytes_sent", "%BYTES_SENT%"),
        (
            "connection_termination_details",
            "%CONNECTION_TERMINATION_DETAILS%",
        ),
        ("downstream_local_address", "%DOWNSTREAM_LOCAL_ADDRESS%"),
        ("downstream_remote_address", "%DOWNSTREAM_REMOTE_ADDRESS%"),
        ("duration", "%DURATION%"),
        ("method", "%REQ(:METHOD)%"),
        ("path", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%"),
        ("protocol", "%PROTOCOL%"),
        ("request_id", "%REQ(X-REQUEST-ID)%"),
        ("requested_server_name", "%REQUESTED_SERVER_NAME%"),
        ("response_code", "%RESPONSE_CODE%"),
        ("response_code_details", "%RESPONSE_CODE_DETAILS%"),
        ("response_flags", "%RESPONSE_FLAGS%"),
        ("route_name", "%ROUTE_NAME%"),
        ("start_time", "%START_TIME%"),
        ("upstream_cluster", "%UPSTREAM_CLUSTER_RAW%"),
        ("upstream_host", "%UPSTREAM_HOST%"),
        ("upstream_local_address", "%UPSTREAM_LOCAL_ADDRESS%"),
        (
            "upstream_service_time",
            "%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%",
        ),
        (
            "upstream_transport_failure_reason",
            "%UPSTREAM_TRANSPORT_FAILURE_REASON%",
        ),
        ("user_agent", "%REQ(USER-AGENT)%"),
        ("x_forwarded_for", "%REQ(X-FORWARDED-FOR)%"),
    ];
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogEncoding {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OutboundPolicy {
    /// Unknown destinations pass through (PassthroughCluster).
    #[default]
    AllowAny,
    /// Only registered services; the rest go to BlackHoleCluster (502).
    RegistryOnly,
}

/// What istiod runs with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MeshSettings {
    /// `meshConfig.accessLogFile` (`""`: off unless the Telemetry API says otherwise).
    pub access_log_file: String,
    pub access_log_encoding: LogEncoding,
    /// `meshConfig.accessLogFormat` (empty: Istio's default).
    pub access_log_format: String,
    pub outbound_policy: OutboundPolicy,
    /// `PILOT_FILTER_GATEWAY_CLUSTER_CONFIG`: gateways get only the clusters their routes use.
    pub filter_gateway_clusters: bool,
    /// `meshConfig.enableTracing`, `defaultConfig.tracing.sampling` (percent),
    /// `defaultConfig.tracing.zipkin.address`.
    pub enable_tracing: bool,
    pub tracing_sampling: f64,
    pub zipkin_address: Option<String>,
    /// Every istiod environment variable, for the record.
    pub pilot_env: BTreeMap<String, String>,
}

/// Istio's Telemetry resource, as far as access logging goes.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryLogging {
    pub namespace: String,
    pub name: String,
    /// `selector.matchLabels` (empty: namespace-wide; mesh-wide in istio-system).
    pub selector: BTreeMap<String, String>,
    /// `accessLogging`: `(providers, disabled)` entries (empty providers: the default one).
    pub access_logging: Vec<(Vec<String>, bool)>,
}

impl TelemetryLogging {
    pub fn from_unstructured(u: &crate::api::Unstructured) -> TelemetryLogging {
        let spec = u.rest.get("spec").cloned().unwrap_or_default();
        TelemetryLogging {
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
            access_logging: spec["accessLogging"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|e| {
                            let providers = e["providers"]
                                .as_array()
                                .map(|p| {
                                    p.iter()
                                        .filter_map(|p| p["name"].as_str().map(str::to_owned))
                                        .collect()
                                })
                                .unwrap_or_default();
                            (providers, e["disabled"].as_bool().unwrap_or(false))
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

/// Whether this proxy logs requests: the most specific Telemetry that configures access
/// logging (workload, then namespace, then mesh) decides; without one, meshConfig does.
pub fn access_logging_on(
    model: &Model,
    settings: &MeshSettings,
    proxy: &ProxyIdentity,
    warnings: &mut Vec<String>,
) -> bool {
    let workload = model.telemetries.iter().find(|t| {
        t.namespace == proxy.namespace
            && !t.selector.is_empty()
            && crate::api::meta::labels_match(&t.selector, &proxy.labels)
            && !t.access_logging.is_empty()
    });
    let namespace = model.telemetries.iter().find(|t| {
        t.namespace == proxy.namespace && t.selector.is_empty() && !t.access_logging.is_empty()
    });
    let mesh = model.telemetries.iter().find(|t| {
        t.namespace == "istio-system" && t.selector.is_empty() && !t.access_logging.is_empty()
    });
    if let Some(t) = workload.or(namespace).or(mesh) {
        let mut on = false;
        for (providers, disabled) in &t.access_logging {
            for p in providers.iter().filter(|p| p.as_str() != "envoy") {
                let w = format!(
                    "Telemetry {}/{}: access log provider {p:?} is not acted on by mesh yet (only the built-in \"envoy\")",
                    t.namespace, t.name
                );
                if !warnings.contains(&w) {
                    warnings.push(w);
                }
            }
            let uses_envoy = providers.is_empty() || providers.iter().any(|p| p == "envoy");
            if uses_envoy {
                on = !disabled;
            }
        }
        return on;
    }
    !settings.access_log_file.is_empty()
}

/// The access log istiod attaches to HCMs and tcp_proxies.
pub fn access_log(settings: &MeshSettings) -> AccessLog {
    let path = if settings.access_log_file.is_empty() {
        "/dev/stdout".to_owned()
    } else {
        settings.access_log_file.clone()
    };
    let log_format = match settings.access_log_encoding {
        LogEncoding::Json => SubstitutionFormatString {
            json_format: Some(default_json_format()),
            ..Default::default()
        },
        LogEncoding::Text => {
            let format = if settings.access_log_format.is_empty() {
                DEFAULT_TEXT_FORMAT.to_owned()
            } else {
                settings.access_log_format.clone()
            };
            SubstitutionFormatString {
                text_format_source: Some(DataSource {
                    inline_string: Some(format),
                    ..Default::default()
                }),
                ..Default::default()
            }
        }
    };
    AccessLog {
        name: "envoy.access_loggers.file".to_owned(),
        typed_config: AccessLogConfig::File(FileAccessLog {
            path,
            log_format: Some(log_format),
            ..Default::default()
        }),
    }
}

/// Adds the access log to every HCM and tcp_proxy of these listeners.
pub fn attach_access_logs(listeners: &mut [Listener], log: &AccessLog) {
    for l in listeners {
        for chain in &mut l.filter_chains {
            for f in &mut chain.filters {
                match &mut f.typed_config {
                    NetworkFilterConfig::HttpConnectionManager(hcm) => {
                        hcm.access_log = vec![log.clone()]
                    }
                    NetworkFilterConfig::TcpProxy(tcp) => tcp.access_log = vec![log.clone()],
                    NetworkFilterConfig::IstioStats(_) => {}
                }
            }
        }
    }
}

/// A compact summary, for `mesh up` and logs.
pub fn describe(s: &MeshSettings) -> Value {
    json!({
        "accessLogFile": s.access_log_file,
        "accessLogEncoding": if s.access_log_encoding == LogEncoding::Json { "JSON" } else { "TEXT" },
        "outboundTrafficPolicy": if s.outbound_policy == OutboundPolicy::RegistryOnly { "REGISTRY_ONLY" } else { "ALLOW_ANY" },
        "PILOT_FILTER_GATEWAY_CLUSTER_CONFIG": s.filter_gateway_clusters,
    })
}

/// Istio's default Zipkin collector (`meshConfig.defaultConfig.tracing.zipkin.address`).
pub const DEFAULT_ZIPKIN_ADDRESS: &str = "zipkin.istio-system:9411";

/// What istiod reads: its mesh config (ConfigMap `istio-system/istio`, key `mesh`, written by
/// `istioctl install`) and its own environment (the `istiod` Deployment's container env).
/// Without the ConfigMap, the defaults of a sandbox nobody installed into (no access logs, no
/// tracing). A mesh config that does not parse leaves the defaults and says why.
pub fn from_resources(resources: &[&crate::api::Resource]) -> (MeshSettings, Option<String>) {
    use crate::api::Resource;
    let mut s = MeshSettings::default();
    let mut problem = None;
    for r in resources {
        if let Resource::Deployment(d) = r
            && d.metadata.name == "istiod"
            && d.metadata.namespace.as_deref() == Some("istio-system")
        {
            for c in &d.spec.template.spec.containers {
                for e in &c.env {
                    s.pilot_env
                        .insert(e.name.clone(), e.value.clone().unwrap_or_default());
                }
            }
        }
    }
    s.filter_gateway_clusters = s
        .pilot_env
        .get("PILOT_FILTER_GATEWAY_CLUSTER_CONFIG")
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let mesh_text = resources.iter().find_map(|r| match r {
        Resource::ConfigMap(cm)
            if cm.metadata.name == "istio"
                && cm.metadata.namespace.as_deref() == Some("istio-system") =>
        {
            Some(cm.data.get("mesh").cloned().unwrap_or_default())
        }
        _ => None,
    });
    let Some(text) = mesh_text else {
        return (s, None);
    };
    let mesh: Value = if text.trim().is_empty() {
        Value::Object(Map::new())
    } else {
        match serde_saphyr::from_str(&text) {
            Ok(v) => v,
            Err(e) => {
                problem = Some(format!(
                    "ConfigMap istio-system/istio: key mesh is not valid YAML ({}); istiod keeps its defaults",
                    e.to_string().lines().next().unwrap_or_default()
                ));
                Value::Object(Map::new())
            }
        }
    };
    apply_mesh_config(&mut s, &mesh);
    (s, problem)
}

/// `meshConfig` fields istiod acts on, with Istio's defaults for the ones not set.
pub fn apply_mesh_config(s: &mut MeshSettings, mesh: &Value) {
    s.access_log_file = mesh["accessLogFile"].as_str().unwrap_or("").to_owned();
    s.access_log_encoding = match mesh["accessLogEncoding"].as_str() {
        Some("JSON") => LogEncoding::Json,
        _ => LogEncoding::Text,
    };
    s.access_log_format = mesh["accessLogFormat"].as_str().unwrap_or("").to_owned();
    s.outbound_policy = match mesh["outboundTrafficPolicy"]["mode"].as_str() {
        Some("REGISTRY_ONLY") => OutboundPolicy::RegistryOnly,
        _ => OutboundPolicy::AllowAny,
    };
    s.enable_tracing = mesh["enableTracing"].as_bool().unwrap_or(true);
    let tracing = &mesh["defaultConfig"]["tracing"];
    s.tracing_sampling = tracing["sampling"]
        .as_f64()
        .or_else(|| s.pilot_env.get("PILOT_TRACE_SAMPLING")?.parse().ok())
        .unwrap_or(1.0);
    s.zipkin_address = Some(
        tracing["zipkin"]["address"]
            .as_str()
            .unwrap_or(DEFAULT_ZIPKIN_ADDRESS)
            .to_owned(),
    );
}

#[cfg(test)]
mod derive_tests {
    use super::*;
    use crate::api::Resource;

    fn resources(text: &str) -> Vec<Resource> {
        crate::api::decode("t.yaml", text)
            .unwrap()
            .into_iter()
            .map(|d| d.resource)
            .collect()
    }

    #[test]
    fn istiod_reads_its_config_map_and_environment() {
        let rs = resources(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: |-\n    accessLogFile: /dev/stdout\n    accessLogEncoding: JSON\n    outboundTrafficPolicy: {mode: REGISTRY_ONLY}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: istiod, namespace: istio-system}\nspec:\n  selector: {matchLabels: {app: istiod}}\n  template:\n    metadata: {labels: {app: istiod}}\n    spec:\n      containers:\n      - name: discovery\n        image: docker.io/istio/pilot:1.26.0\n        env:\n        - {name: PILOT_FILTER_GATEWAY_CLUSTER_CONFIG, value: \"true\"}\n        - {name: PILOT_TRACE_SAMPLING, value: \"100.0\"}\n",
        );
        let refs: Vec<&Resource> = rs.iter().collect();
        let (s, problem) = from_resources(&refs);
        assert_eq!(problem, None);
        assert_eq!(s.access_log_file, "/dev/stdout");
        assert_eq!(s.access_log_encoding, LogEncoding::Json);
        assert_eq!(s.outbound_policy, OutboundPolicy::RegistryOnly);
        assert!(s.filter_gateway_clusters);
        assert!(s.enable_tracing, "Istio's default");
        assert_eq!(s.tracing_sampling, 100.0);
        assert_eq!(s.zipkin_address.as_deref(), Some(DEFAULT_ZIPKIN_ADDRESS));
        // No ConfigMap: nothing installed, the sandbox's defaults.
        let (s, _) = from_resources(&refs[1..]);
        assert_eq!(s.access_log_file, "");
        assert!(!s.enable_tracing);
        let bad = resources(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: istio, namespace: istio-system}\ndata:\n  mesh: \"a: [\"\n",
        );
        let (_, problem) = from_resources(&bad.iter().collect::<Vec<_>>());
        assert!(problem.unwrap().contains("not valid YAML"));
    }
}
