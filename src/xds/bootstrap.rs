//! `envoy.config.bootstrap.v3.Bootstrap`: what `mesh envoy -c` reads.

use serde::{Deserialize, Serialize};

use super::cluster::Cluster;
use super::config_source::ConfigSource;
use super::core::{Address, Node};
use super::de::Duration;
use super::hcm::{AccessLog, TracingProvider};
use super::listener::Listener;
use super::tls::Secret;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<Node>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub static_resources: Option<StaticResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_resources: Option<DynamicResources>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats_flush_interval: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin: Option<Admin>,
    /// The tracer connection managers use when their `tracing` names no provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<BootstrapTracing>,
}

/// Where listeners and clusters come from at run time (files, for `mesh envoy`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DynamicResources {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lds_config: Option<ConfigSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cds_config: Option<ConfigSource>,
    /// An ADS gRPC stream: recognised so the refusal can say why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ads_config: Option<serde_json::Value>,
}

/// `envoy.config.trace.v3.Tracing`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct BootstrapTracing {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<TracingProvider>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StaticResources {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listeners: Vec<Listener>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clusters: Vec<Cluster>,
    /// Secrets that `tls_certificate_sds_secret_configs` without `sds_config` name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<Secret>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Admin {
    /// Deprecated in favour of `access_log`; still accepted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub access_log_path: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_log: Vec<AccessLog>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub profile_path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
}
