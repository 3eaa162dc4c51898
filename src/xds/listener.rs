//! `envoy.config.listener.v3`: Listener → FilterChain → network Filter.

use serde::{Deserialize, Serialize};

use super::core::{Address, Metadata};
use super::de::{self, Duration};
use super::hcm::{AccessLog, HttpConnectionManager};
use super::tcp_proxy::TcpProxy;
use super::tls::TransportSocket;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrafficDirection {
    #[default]
    Unspecified,
    Inbound,
    Outbound,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub address: Address,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub stat_prefix: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filter_chains: Vec<FilterChain>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub per_connection_buffer_limit_bytes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub traffic_direction: TrafficDirection,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_filter_chain: Option<FilterChain>,
    /// BoolValue. A listener with `use_original_dst` hands each connection to the listener
    /// bound to its original destination (a sidecar's 15001).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_original_dst: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listener_filters: Vec<ListenerFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_filters_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub continue_on_listener_filters_timeout: bool,
    /// BoolValue, default true. False: the listener only receives connections handed over by
    /// a `use_original_dst` listener (Istio's per-service outbound listeners).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_to_port: Option<bool>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_log: Vec<AccessLog>,
}

impl Listener {
    pub fn binds_to_port(&self) -> bool {
        self.bind_to_port.unwrap_or(true)
    }
}

/// A listener filter: inspects a new connection before a filter chain is chosen.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ListenerFilter {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typed_config: Option<ListenerFilterConfig>,
}

crate::any_enum! {
    /// The listener filters mesh implements (they are configuration-free).
    pub enum ListenerFilterConfig {
        TlsInspector(serde_json::Map<String, serde_json::Value>) = "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector",
        HttpInspector(serde_json::Map<String, serde_json::Value>) = "type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector",
        OriginalDst(serde_json::Map<String, serde_json::Value>) = "type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst",
    }
}

/// `envoy.config.listener.v3.FilterChainMatch`: which connections a chain takes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FilterChainMatch {
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub destination_port: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub prefix_ranges: Vec<CidrRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_prefix_ranges: Vec<CidrRange>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub server_names: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub transport_protocol: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub application_protocols: Vec<String>,
}

/// `envoy.config.core.v3.CidrRange`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CidrRange {
    pub address_prefix: String,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub prefix_len: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FilterChain {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_chain_match: Option<FilterChainMatch>,
    #[serde(
        default,
        deserialize_with = "super::de::one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub filters: Vec<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// TLS termination (`DownstreamTlsContext`) or raw bytes (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_socket: Option<TransportSocket>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Filter {
    pub name: String,
    pub typed_config: NetworkFilterConfig,
}

crate::any_enum! {
    /// The network filters mesh implements.
    pub enum NetworkFilterConfig {
        HttpConnectionManager(Box<HttpConnectionManager>) = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
        TcpProxy(Box<TcpProxy>) = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy",
        IstioStats(super::istio::StatsPluginConfig) = "type.googleapis.com/stats.PluginConfig",
    }
}

impl Default for NetworkFilterConfig {
    fn default() -> Self {
        NetworkFilterConfig::HttpConnectionManager(Box::default())
    }
}
