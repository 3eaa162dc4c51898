//! `envoy.config.listener.v3`: Listener → FilterChain → network Filter.

use serde::{Deserialize, Serialize};

use super::core::{Address, Metadata};
use super::de;
use super::hcm::HttpConnectionManager;

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
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FilterChain {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
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
    }
}

impl Default for NetworkFilterConfig {
    fn default() -> Self {
        NetworkFilterConfig::HttpConnectionManager(Box::default())
    }
}
