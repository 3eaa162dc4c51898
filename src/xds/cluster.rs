//! `envoy.config.cluster.v3.Cluster`: upstream groups, discovery type, load balancing, limits.

use serde::{Deserialize, Serialize};

use super::core::Metadata;
use super::de::{self, Duration};
use super::endpoint::ClusterLoadAssignment;
use super::tls::{TransportSocket, TransportSocketMatch};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DiscoveryType {
    #[default]
    Static,
    StrictDns,
    LogicalDns,
    Eds,
    OriginalDst,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LbPolicy {
    #[default]
    RoundRobin,
    LeastRequest,
    RingHash,
    Random,
    Maglev,
    ClusterProvided,
    LoadBalancingPolicyConfig,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum DnsLookupFamily {
    #[default]
    Auto,
    V4Only,
    V6Only,
    V4Preferred,
    All,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Cluster {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub alt_stat_name: String,
    #[serde(default, rename = "type", skip_serializing_if = "de::is_default")]
    pub discovery_type: DiscoveryType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eds_cluster_config: Option<EdsClusterConfig>,
    /// Default 5 s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_connection_buffer_limit_bytes: Option<u32>,
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub lb_policy: LbPolicy,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_assignment: Option<ClusterLoadAssignment>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_requests_per_connection: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breakers: Option<CircuitBreakers>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dns_refresh_rate: Option<Duration>,
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub dns_lookup_family: DnsLookupFamily,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub least_request_lb_config: Option<LeastRequestLbConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outlier_detection: Option<OutlierDetection>,
    /// Active health checking (`envoy.config.core.v3.HealthCheck`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ring_hash_lb_config: Option<RingHashLbConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maglev_lb_config: Option<MaglevLbConfig>,
    /// TLS origination (`UpstreamTlsContext`) or raw bytes (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_socket: Option<TransportSocket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_lb_config: Option<serde_json::Value>,
    /// How long an ORIGINAL_DST cluster keeps hosts nobody uses (default 5 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleanup_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub original_dst_lb_config: Option<serde_json::Value>,
    /// Per-endpoint transport sockets chosen by endpoint metadata (Istio's `tlsMode-istio`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub transport_socket_matches: Vec<TransportSocketMatch>,
    /// Deprecated in v3 for `typed_extension_protocol_options`, still honoured: HTTP/2 upstream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_protocol_options: Option<super::protocol::Http2ProtocolOptions>,
    /// `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`: the upstream HTTP version.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub typed_extension_protocol_options: super::protocol::TypedProtocolOptions,
}

impl Cluster {
    /// Envoy's default connect timeout is 5 s.
    pub fn connect_timeout(&self) -> std::time::Duration {
        self.connect_timeout
            .map(Duration::get)
            .unwrap_or(std::time::Duration::from_secs(5))
    }

    /// The name stats use: `alt_stat_name` when set.
    pub fn stat_name(&self) -> &str {
        if self.alt_stat_name.is_empty() {
            &self.name
        } else {
            &self.alt_stat_name
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct EdsClusterConfig {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eds_config: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LeastRequestLbConfig {
    /// Default 2 (power of two choices).
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub choice_count: Option<u32>,
}

/// `envoy.config.core.v3.HealthCheck`: one active checker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub timeout: Duration,
    pub interval: Duration,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_jitter: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_jitter: Option<Duration>,
    #[serde(default, deserialize_with = "de::opt_int")]
    pub unhealthy_threshold: Option<u32>,
    #[serde(default, deserialize_with = "de::opt_int")]
    pub healthy_threshold: Option<u32>,
    /// How often to check while the cluster has had no traffic (Envoy: 60 s).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_traffic_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reuse_connection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_health_check: Option<HttpHealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_health_check: Option<TcpHealthCheck>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpHealthCheck {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    pub path: String,
    /// `[start, end)` ranges; default `[200, 201)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub expected_statuses: Vec<Int64Range>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Int64Range {
    #[serde(default, deserialize_with = "de::opt_int")]
    pub start: Option<i64>,
    #[serde(default, deserialize_with = "de::opt_int")]
    pub end: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TcpHealthCheck {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send: Option<HcPayload>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub receive: Vec<HcPayload>,
}

/// A payload as hex text (`text`) or raw bytes (`binary`, base64 in JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HcPayload {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
}

/// `Cluster.OutlierDetection` (`envoy.config.cluster.v3.OutlierDetection`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OutlierDetection {
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_5xx: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base_ejection_time: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_ejection_percent: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_consecutive_5xx: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_success_rate: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub success_rate_minimum_hosts: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub success_rate_request_volume: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub success_rate_stdev_factor: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_gateway_failure: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_consecutive_gateway_failure: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub consecutive_local_origin_failure: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_consecutive_local_origin_failure: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_local_origin_success_rate: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub failure_percentage_threshold: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_failure_percentage: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub enforcing_failure_percentage_local_origin: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub failure_percentage_minimum_hosts: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub failure_percentage_request_volume: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_ejection_time: Option<Duration>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub split_external_local_origin_errors: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum HashFunction {
    #[default]
    XxHash,
    MurmurHash2,
}

/// `Cluster.RingHashLbConfig`: the ring's size bounds (Envoy: 1024 and 8M).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RingHashLbConfig {
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub minimum_ring_size: Option<u64>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub maximum_ring_size: Option<u64>,
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub hash_function: HashFunction,
}

/// `Cluster.MaglevLbConfig`: the lookup table's size (a prime; Envoy: 65537).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct MaglevLbConfig {
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub table_size: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CircuitBreakers {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thresholds: Vec<Thresholds>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoutingPriority {
    #[default]
    Default,
    High,
}

/// Circuit-breaker limits for one priority; Envoy's defaults are 1024/1024/1024/3.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub priority: RoutingPriority,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_connections: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_pending_requests: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_requests: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_retries: Option<u32>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub track_remaining: bool,
    /// Retries allowed as a share of active requests (replaces `max_retries` when set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_budget: Option<RetryBudget>,
}

/// `CircuitBreakers.Thresholds.RetryBudget` (Envoy: 20%, at least 3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RetryBudget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub budget_percent: Option<super::hcm::Percent>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub min_retry_concurrency: Option<u32>,
}
