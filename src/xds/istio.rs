//! Istio's own Envoy extensions, as istiod sends them: the `istio.stats` filter
//! (`stats.PluginConfig`, HTTP and network) and the `istio.metadata_exchange` HTTP filter
//! (`io.istio.http.peer_metadata.Config`).

use serde::{Deserialize, Serialize};

use super::de;

/// `stats.PluginConfig`: Istio's standard metrics (`istio_requests_total`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StatsPluginConfig {
    /// Don't fall back to the Host header for `destination_service` when the cluster names
    /// no service (istiod sets it on inbound and gateway listeners).
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub disable_host_header_fallback: bool,
    /// `UNSPECIFIED` (the listener's direction decides) or `SERVER_GATEWAY` (waypoints).
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub reporter: StatsReporter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StatsReporter {
    #[default]
    Unspecified,
    ServerGateway,
}

/// `io.istio.http.peer_metadata.Config`: how a proxy learns its peer's workload and tells the
/// peer its own.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PeerMetadataConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downstream_discovery: Vec<PeerMetadataMethod>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream_discovery: Vec<PeerMetadataMethod>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub downstream_propagation: Vec<PeerMetadataMethod>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upstream_propagation: Vec<PeerMetadataMethod>,
}

/// One discovery or propagation method: `istio_headers` (`x-envoy-peer-metadata`) or
/// `workload_discovery` (ambient's workload xDS).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PeerMetadataMethod {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub istio_headers: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_discovery: Option<serde_json::Map<String, serde_json::Value>>,
}

impl PeerMetadataMethod {
    pub fn istio_headers() -> PeerMetadataMethod {
        PeerMetadataMethod {
            istio_headers: Some(serde_json::Map::new()),
            workload_discovery: None,
        }
    }
}
