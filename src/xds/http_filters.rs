//! The typed configs of the HTTP filters that run before the router: fault injection and the
//! local rate limit (Envoy's field names; the same messages serve as per-route overrides).

use serde::{Deserialize, Serialize};

use super::core::{FractionalPercent, HeaderValueOption, RuntimeFractionalPercent};
use super::de::{self, Duration};
use super::matcher::HeaderMatcher;

/// `envoy.extensions.filters.http.fault.v3.HTTPFault`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpFault {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay: Option<FaultDelay>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort: Option<FaultAbort>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub upstream_cluster: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub headers: Vec<HeaderMatcher>,
    /// UInt32Value; unset means no limit.
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub max_active_faults: Option<u32>,
}

/// `envoy.extensions.filters.common.fault.v3.FaultDelay`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FaultDelay {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed_delay: Option<Duration>,
    /// `HeaderDelay` (an empty message): the delay comes from `x-envoy-fault-delay-request`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_delay: Option<Empty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<FractionalPercent>,
}

/// `envoy.extensions.filters.http.fault.v3.FaultAbort`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct FaultAbort {
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub http_status: Option<u32>,
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub grpc_status: Option<u32>,
    /// `HeaderAbort`: the status comes from `x-envoy-fault-abort-request` (or `-grpc-request`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header_abort: Option<Empty>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub percentage: Option<FractionalPercent>,
}

/// An empty protobuf message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LocalRateLimit {
    pub stat_prefix: String,
    /// `HttpStatus {code}`; 429 when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<HttpStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_bucket: Option<TokenBucket>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_enabled: Option<RuntimeFractionalPercent>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_enforced: Option<RuntimeFractionalPercent>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response_headers_to_add: Vec<HeaderValueOption>,
}

/// `envoy.type.v3.HttpStatus`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HttpStatus {
    #[serde(deserialize_with = "de::int")]
    pub code: u32,
}

/// `envoy.type.v3.TokenBucket`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TokenBucket {
    #[serde(deserialize_with = "de::int")]
    pub max_tokens: u32,
    /// UInt32Value, default 1.
    #[serde(
        default,
        deserialize_with = "de::opt_int",
        skip_serializing_if = "Option::is_none"
    )]
    pub tokens_per_fill: Option<u32>,
    pub fill_interval: Duration,
}

crate::any_enum! {
    /// What a route or virtual host may carry in `typed_per_filter_config`.
    pub enum PerFilterConfig {
        Fault(HttpFault) = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
        LocalRateLimit(LocalRateLimit) = "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fault_and_rate_limit_decode_with_envoy_field_names() {
        let f: PerFilterConfig = serde_json::from_value(serde_json::json!({
            "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
            "delay": {"fixed_delay": "0.5s", "percentage": {"numerator": 50, "denominator": "TEN_THOUSAND"}},
            "abort": {"http_status": 503, "percentage": {"numerator": 100}},
            "max_active_faults": 3
        }))
        .unwrap();
        let PerFilterConfig::Fault(f) = f else {
            panic!("not a fault")
        };
        assert_eq!(f.abort.unwrap().http_status, Some(503));
        assert_eq!(f.max_active_faults, Some(3));
        let r: PerFilterConfig = serde_json::from_value(serde_json::json!({
            "@type": "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit",
            "stat_prefix": "http_local_rate_limiter",
            "token_bucket": {"max_tokens": 4, "tokens_per_fill": 4, "fill_interval": "60s"},
            "filter_enabled": {"runtime_key": "k", "default_value": {"numerator": 100, "denominator": "HUNDRED"}}
        }))
        .unwrap();
        assert!(
            matches!(r, PerFilterConfig::LocalRateLimit(l) if l.token_bucket.as_ref().is_some_and(|b| b.max_tokens == 4))
        );
        let bad = serde_json::from_value::<PerFilterConfig>(serde_json::json!({
            "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
            "delay": {"exponential_delay": {}}
        }));
        assert!(bad.is_err());
    }
}
