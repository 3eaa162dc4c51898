//! HTTP protocol options: `envoy.config.core.v3.Http2ProtocolOptions`,
//! `Http1ProtocolOptions`, and the cluster's
//! `envoy.extensions.upstreams.http.v3.HttpProtocolOptions` (which HTTP version to speak
//! upstream), plus the connection manager's `upgrade_configs`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::de;
use super::hcm::HttpProtocolOptions as CommonHttpProtocolOptions;

/// `envoy.config.core.v3.Http2ProtocolOptions` (the fields mesh acts on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Http2ProtocolOptions {
    /// Envoy's default is 2147483647.
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_concurrent_streams: Option<u32>,
    /// Envoy's default is 268435456 (256 MiB).
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub initial_stream_window_size: Option<u32>,
    /// Envoy's default is 268435456 (256 MiB).
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub initial_connection_window_size: Option<u32>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub allow_connect: bool,
}

/// `envoy.config.core.v3.Http1ProtocolOptions` (the fields mesh acts on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Http1ProtocolOptions {
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub accept_http_10: bool,
}

/// `HttpProtocolOptions.ExplicitHttpConfig` / `UseDownstreamHttpConfig` / `AutoHttpConfig`:
/// the same two fields, whose presence says which versions may be used.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpVersions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_protocol_options: Option<Http1ProtocolOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_protocol_options: Option<Http2ProtocolOptions>,
}

/// `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpstreamHttpProtocolOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_http_protocol_options: Option<CommonHttpProtocolOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub explicit_http_config: Option<HttpVersions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_downstream_protocol_config: Option<HttpVersions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_config: Option<HttpVersions>,
}

crate::any_enum! {
    /// The protocol options extensions mesh implements (a cluster's
    /// `typed_extension_protocol_options` values).
    pub enum ProtocolOptionsConfig {
        Http(UpstreamHttpProtocolOptions) = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
    }
}

/// The key Envoy files the upstream HTTP options under.
pub const HTTP_PROTOCOL_OPTIONS_KEY: &str =
    "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

/// A cluster's `typed_extension_protocol_options`.
pub type TypedProtocolOptions = BTreeMap<String, ProtocolOptionsConfig>;

/// `HttpConnectionManager.UpgradeConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpgradeConfig {
    pub upgrade_type: String,
    /// BoolValue, default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

/// `RouteAction.UpgradeConfig` (per route).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RouteUpgradeConfig {
    pub upgrade_type: String,
    /// BoolValue, default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}
