//! The HTTP connection manager network filter, its HTTP filters, and access logs.

use serde::{Deserialize, Serialize};

use super::core::DataSource;
use super::de::{self, Duration};
use super::route::RouteConfiguration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CodecType {
    #[default]
    Auto,
    Http1,
    Http2,
    Http3,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ServerHeaderTransformation {
    #[default]
    Overwrite,
    AppendIfAbsent,
    PassThrough,
}

/// `envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpConnectionManager {
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub codec_type: CodecType,
    pub stat_prefix: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rds: Option<Rds>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub route_config: Option<RouteConfiguration>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub http_filters: Vec<HttpFilter>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_http_protocol_options: Option<HttpProtocolOptions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2_protocol_options: Option<super::protocol::Http2ProtocolOptions>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub upgrade_configs: Vec<super::protocol::UpgradeConfig>,
    /// Default 5 min; `0s` turns it off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream_idle_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub server_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_log: Vec<AccessLog>,
    /// BoolValue, default false.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_remote_address: Option<bool>,
    /// BoolValue, default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_request_id: Option<bool>,
    #[serde(
        default,
        deserialize_with = "de::int",
        skip_serializing_if = "de::is_zero_u32"
    )]
    pub xff_num_trusted_hops: u32,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub skip_xff_append: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub via: String,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_request_headers_kb: Option<u32>,
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub server_header_transformation: ServerHeaderTransformation,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub preserve_external_request_id: bool,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub always_set_request_id_in_response: bool,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub strip_any_host_port: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracing: Option<Tracing>,
}

/// `envoy.config.core.v3.HttpProtocolOptions` (the common, HTTP-version independent options).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpProtocolOptions {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_timeout: Option<Duration>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_headers_count: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_requests_per_connection: Option<u32>,
}

/// Dynamic routes by name (served by the control plane).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Rds {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_source: Option<serde_json::Value>,
    pub route_config_name: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpFilter {
    pub name: String,
    /// Missing for filters named the old way (`envoy.filters.http.router` alone, as the book's
    /// files do); the decoder fills in the default config for known names.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typed_config: Option<HttpFilterConfig>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub is_optional: bool,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub disabled: bool,
}

crate::any_enum! {
    /// The HTTP filters mesh implements.
    pub enum HttpFilterConfig {
        Router(Router) = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
        IstioStats(super::istio::StatsPluginConfig) = "type.googleapis.com/stats.PluginConfig",
        PeerMetadata(super::istio::PeerMetadataConfig) = "type.googleapis.com/io.istio.http.peer_metadata.Config",
        Fault(super::http_filters::HttpFault) = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
        LocalRateLimit(super::http_filters::LocalRateLimit) = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
    }
}

/// `envoy.extensions.filters.http.router.v3.Router`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Router {
    /// BoolValue, default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_stats: Option<bool>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub suppress_envoy_headers: bool,
}

/// `envoy.config.accesslog.v3.AccessLog`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AccessLog {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub typed_config: AccessLogConfig,
}

crate::any_enum! {
    /// The access loggers mesh implements.
    pub enum AccessLogConfig {
        File(FileAccessLog) = "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
        Stdout(StreamAccessLog) = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog",
        Stderr(StreamAccessLog) = "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StderrAccessLog",
    }
}

impl Default for AccessLogConfig {
    fn default() -> Self {
        AccessLogConfig::Stdout(StreamAccessLog::default())
    }
}

/// `envoy.extensions.access_loggers.file.v3.FileAccessLog`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FileAccessLog {
    pub path: String,
    /// Deprecated inline text format.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_format: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<SubstitutionFormatString>,
}

/// `envoy.extensions.access_loggers.stream.v3.Std{out,err}AccessLog`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StreamAccessLog {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<SubstitutionFormatString>,
}

/// `envoy.config.core.v3.SubstitutionFormatString`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SubstitutionFormatString {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_format: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_format_source: Option<DataSource>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub omit_empty_values: bool,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub content_type: String,
}

/// `HttpConnectionManager.Tracing`: which requests get a span, and where spans go.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Tracing {
    /// Requests with `x-client-trace-id` traced (default 100%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_sampling: Option<Percent>,
    /// Requests with no trace decision yet traced (default 100%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_sampling: Option<Percent>,
    /// A cap applied after the other two (default 100%).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overall_sampling: Option<Percent>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub verbose: bool,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_path_tag_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub custom_tags: Vec<CustomTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<TracingProvider>,
    /// BoolValue: the router adds a CLIENT child span per upstream request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn_upstream_span: Option<bool>,
}

/// `envoy.type.v3.Percent`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Percent {
    #[serde(default)]
    pub value: f64,
}

/// `envoy.config.trace.v3.Tracing.Http`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TracingProvider {
    pub name: String,
    pub typed_config: TracerConfig,
}

crate::any_enum! {
    /// The tracers mesh implements.
    pub enum TracerConfig {
        Zipkin(ZipkinConfig) = "type.googleapis.com/envoy.config.trace.v3.ZipkinConfig",
    }
}

impl Default for TracerConfig {
    fn default() -> Self {
        TracerConfig::Zipkin(ZipkinConfig::default())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CollectorEndpointVersion {
    DeprecatedAndUnavailableDoNotUse,
    #[default]
    HttpJson,
    HttpProto,
    Grpc,
}

/// `envoy.config.trace.v3.ZipkinConfig`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ZipkinConfig {
    pub collector_cluster: String,
    pub collector_endpoint: String,
    #[serde(
        default,
        alias = "trace_id128bit",
        skip_serializing_if = "de::is_false"
    )]
    pub trace_id_128bit: bool,
    /// BoolValue, default true: a SERVER span reuses the caller's span id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_span_context: Option<bool>,
    #[serde(default)]
    pub collector_endpoint_version: CollectorEndpointVersion,
    /// The `host` of report requests (default: the cluster name).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub collector_hostname: String,
}

/// `envoy.type.tracing.v3.CustomTag`: a tag added to every span.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CustomTag {
    pub tag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub literal: Option<LiteralTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<NamedTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_header: Option<NamedTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LiteralTag {
    pub value: String,
}

/// `CustomTag.Environment` and `CustomTag.Header`: a name and a fallback value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct NamedTag {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub default_value: String,
}
