//! Retry policies: which outcomes are retried (`retry_on`), how often, and Envoy's fully
//! jittered exponential back-off.

use std::time::Duration;

use http::HeaderMap;

use crate::xds::route::RetryPolicy as XdsRetryPolicy;

use super::super::Rejected;
use super::matcher::CompiledHeader;

/// The `retry_on` conditions as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryOn(u32);

impl RetryOn {
    pub const FIVE_XX: RetryOn = RetryOn(1);
    pub const GATEWAY_ERROR: RetryOn = RetryOn(1 << 1);
    pub const RESET: RetryOn = RetryOn(1 << 2);
    pub const RESET_BEFORE_REQUEST: RetryOn = RetryOn(1 << 3);
    pub const CONNECT_FAILURE: RetryOn = RetryOn(1 << 4);
    pub const ENVOY_RATELIMITED: RetryOn = RetryOn(1 << 5);
    pub const RETRIABLE_4XX: RetryOn = RetryOn(1 << 6);
    pub const REFUSED_STREAM: RetryOn = RetryOn(1 << 7);
    pub const RETRIABLE_STATUS_CODES: RetryOn = RetryOn(1 << 8);
    pub const RETRIABLE_HEADERS: RetryOn = RetryOn(1 << 9);
    pub const HTTP3_POST_CONNECT_FAILURE: RetryOn = RetryOn(1 << 10);
    pub const GRPC_CANCELLED: RetryOn = RetryOn(1 << 11);
    pub const GRPC_DEADLINE_EXCEEDED: RetryOn = RetryOn(1 << 12);
    pub const GRPC_INTERNAL: RetryOn = RetryOn(1 << 13);
    pub const GRPC_RESOURCE_EXHAUSTED: RetryOn = RetryOn(1 << 14);
    pub const GRPC_UNAVAILABLE: RetryOn = RetryOn(1 << 15);

    pub fn has(self, other: RetryOn) -> bool {
        self.0 & other.0 != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Parses Envoy's comma list (HTTP and gRPC names). Unknown names are returned, and — as
    /// Envoy does — otherwise ignored.
    pub fn parse(s: &str) -> (RetryOn, Vec<String>) {
        let mut bits = 0;
        let mut unknown = Vec::new();
        for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let bit = match name {
                "5xx" => Self::FIVE_XX,
                "gateway-error" => Self::GATEWAY_ERROR,
                "reset" => Self::RESET,
                "reset-before-request" => Self::RESET_BEFORE_REQUEST,
                "connect-failure" => Self::CONNECT_FAILURE,
                "envoy-ratelimited" => Self::ENVOY_RATELIMITED,
                "retriable-4xx" => Self::RETRIABLE_4XX,
                "refused-stream" => Self::REFUSED_STREAM,
                "retriable-status-codes" => Self::RETRIABLE_STATUS_CODES,
                "retriable-headers" => Self::RETRIABLE_HEADERS,
                "http3-post-connect-failure" => Self::HTTP3_POST_CONNECT_FAILURE,
                "cancelled" => Self::GRPC_CANCELLED,
                "deadline-exceeded" => Self::GRPC_DEADLINE_EXCEEDED,
                "internal" => Self::GRPC_INTERNAL,
                "resource-exhausted" => Self::GRPC_RESOURCE_EXHAUSTED,
                "unavailable" => Self::GRPC_UNAVAILABLE,
                other => {
                    unknown.push(other.to_owned());
                    continue;
                }
            };
            bits |= bit.0;
        }
        (RetryOn(bits), unknown)
    }
}

/// Why an attempt failed without a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetKind {
    /// The connection could not be made (refused, timed out).
    ConnectFailure,
    /// The connection dropped before a response; `sent` says whether the request went out.
    Reset { sent: bool },
    /// The per-try timeout fired.
    PerTryTimeout,
}

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    pub on: RetryOn,
    pub num_retries: u32,
    pub per_try_timeout: Option<Duration>,
    pub retriable_status_codes: Vec<u16>,
    pub base_interval: Duration,
    pub max_interval: Duration,
    /// `envoy.retry_host_predicates.previous_hosts`: avoid hosts already tried.
    pub previous_hosts: bool,
    pub host_selection_max_attempts: u32,
    pub retriable_headers: Vec<CompiledHeader>,
    /// `retry_on` names Envoy does not know (and ignores).
    pub unknown: Vec<String>,
}

impl RetryPolicy {
    pub fn build(p: &XdsRetryPolicy, path: &str) -> Result<RetryPolicy, Rejected> {
        let (on, unknown) = RetryOn::parse(&p.retry_on);
        let base_interval = p
            .retry_back_off
            .as_ref()
            .map(|b| b.base_interval.get())
            .unwrap_or(Duration::from_millis(25));
        if base_interval.is_zero() {
            return Err(Rejected::new(
                format!("{path}.retry_back_off.base_interval"),
                "value must be greater than 0s",
            ));
        }
        let max_interval = p
            .retry_back_off
            .as_ref()
            .and_then(|b| b.max_interval)
            .map(|d| d.get())
            .unwrap_or(base_interval * 10);
        if max_interval < base_interval {
            return Err(Rejected::new(
                format!("{path}.retry_back_off.max_interval"),
                "max_interval must be greater than or equal to the base_interval",
            ));
        }
        let mut previous_hosts = false;
        for (i, pred) in p.retry_host_predicate.iter().enumerate() {
            match pred.name.as_str() {
                "envoy.retry_host_predicates.previous_hosts" => previous_hosts = true,
                other => {
                    return Err(Rejected::new(
                        format!("{path}.retry_host_predicate[{i}].name"),
                        format!(
                            "retry host predicate '{other}' is not supported by mesh yet (supported: envoy.retry_host_predicates.previous_hosts)"
                        ),
                    ));
                }
            }
        }
        let mut retriable_status_codes = Vec::new();
        for (i, code) in p.retriable_status_codes.iter().enumerate() {
            match u16::try_from(*code) {
                Ok(c) if (100..600).contains(&c) => retriable_status_codes.push(c),
                _ => {
                    return Err(Rejected::new(
                        format!("{path}.retriable_status_codes[{i}]"),
                        format!("invalid HTTP status code {code}"),
                    ));
                }
            }
        }
        let mut retriable_headers = Vec::new();
        for (i, h) in p.retriable_headers.iter().enumerate() {
            retriable_headers.push(CompiledHeader::build(
                h,
                &format!("{path}.retriable_headers[{i}]"),
            )?);
        }
        if !p.retriable_request_headers.is_empty() {
            return Err(Rejected::new(
                format!("{path}.retriable_request_headers"),
                "retriable_request_headers is not supported by mesh yet",
            ));
        }
        if p.per_try_idle_timeout.is_some() {
            return Err(Rejected::new(
                format!("{path}.per_try_idle_timeout"),
                "per_try_idle_timeout is not supported by mesh yet",
            ));
        }
        Ok(RetryPolicy {
            on,
            num_retries: p.num_retries.unwrap_or(1),
            per_try_timeout: p.per_try_timeout.map(|d| d.get()).filter(|d| !d.is_zero()),
            retriable_status_codes,
            base_interval,
            max_interval,
            previous_hosts,
            host_selection_max_attempts: u32::try_from(p.host_selection_retry_max_attempts.max(1))
                .unwrap_or(1),
            retriable_headers,
            unknown,
        })
    }

    /// Applies the request's `x-envoy-retry-on`, `x-envoy-retry-grpc-on`,
    /// `x-envoy-max-retries` and `x-envoy-retriable-status-codes` (internal requests only).
    pub fn from_headers(base: Option<&RetryPolicy>, headers: &HeaderMap) -> Option<RetryPolicy> {
        let get = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
        let on_header = [get("x-envoy-retry-on"), get("x-envoy-retry-grpc-on")]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(",");
        let max = get("x-envoy-max-retries").and_then(|v| v.trim().parse::<u32>().ok());
        let codes: Vec<u16> = get("x-envoy-retriable-status-codes")
            .map(|v| v.split(',').filter_map(|c| c.trim().parse().ok()).collect())
            .unwrap_or_default();
        if on_header.is_empty() && max.is_none() && codes.is_empty() {
            return base.cloned();
        }
        let mut p = base.cloned().unwrap_or_else(|| RetryPolicy {
            on: RetryOn::default(),
            num_retries: 1,
            per_try_timeout: None,
            retriable_status_codes: Vec::new(),
            base_interval: Duration::from_millis(25),
            max_interval: Duration::from_millis(250),
            previous_hosts: false,
            host_selection_max_attempts: 1,
            retriable_headers: Vec::new(),
            unknown: Vec::new(),
        });
        let (extra, _) = RetryOn::parse(&on_header);
        p.on = RetryOn(p.on.0 | extra.0);
        if let Some(m) = max {
            p.num_retries = m;
        }
        p.retriable_status_codes.extend(codes);
        Some(p)
    }

    /// Would this response be retried (given retries remain)?
    pub fn retries_response(&self, status: u16, headers: &HeaderMap) -> bool {
        // A response from an overloaded Envoy upstream is never retried.
        if headers.contains_key("x-envoy-overloaded") {
            return false;
        }
        let on = self.on;
        if on.has(RetryOn::FIVE_XX) && status >= 500 {
            return true;
        }
        if on.has(RetryOn::GATEWAY_ERROR) && matches!(status, 502..=504) {
            return true;
        }
        if on.has(RetryOn::RETRIABLE_4XX) && status == 409 {
            return true;
        }
        if on.has(RetryOn::RETRIABLE_STATUS_CODES) && self.retriable_status_codes.contains(&status)
        {
            return true;
        }
        if on.has(RetryOn::ENVOY_RATELIMITED) && headers.contains_key("x-envoy-ratelimited") {
            return true;
        }
        if on.has(RetryOn::RETRIABLE_HEADERS) {
            let pseudo = super::matcher::Pseudo {
                method: "",
                authority: "",
                path: "",
                scheme: "",
            };
            if self
                .retriable_headers
                .iter()
                .any(|m| m.matches(headers, &pseudo))
            {
                return true;
            }
        }
        if let Some(code) = headers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u32>().ok())
        {
            let grpc = match code {
                1 => RetryOn::GRPC_CANCELLED,
                4 => RetryOn::GRPC_DEADLINE_EXCEEDED,
                8 => RetryOn::GRPC_RESOURCE_EXHAUSTED,
                13 => RetryOn::GRPC_INTERNAL,
                14 => RetryOn::GRPC_UNAVAILABLE,
                _ => RetryOn::default(),
            };
            if on.has(grpc) {
                return true;
            }
        }
        false
    }

    /// Would this failure be retried (given retries remain)?
    pub fn retries_reset(&self, kind: ResetKind) -> bool {
        let on = self.on;
        let any_reset =
            on.has(RetryOn::FIVE_XX) || on.has(RetryOn::GATEWAY_ERROR) || on.has(RetryOn::RESET);
        match kind {
            ResetKind::ConnectFailure => {
                any_reset
                    || on.has(RetryOn::CONNECT_FAILURE)
                    || on.has(RetryOn::RESET_BEFORE_REQUEST)
            }
            ResetKind::Reset { sent } => {
                any_reset || (!sent && on.has(RetryOn::RESET_BEFORE_REQUEST))
            }
            ResetKind::PerTryTimeout => any_reset,
        }
    }

    /// Envoy's fully jittered exponential back-off before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor = (1u64 << retry.min(30)) - 1;
        let ceiling = self.base_interval.as_millis() as u64 * factor;
        let ceiling = ceiling.max(1);
        let jittered = rand::random_range(0..ceiling);
        Duration::from_millis(jittered).min(self.max_interval)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(yaml: &str) -> RetryPolicy {
        let p: XdsRetryPolicy = crate::xds::decode::decode_str("t", yaml).unwrap();
        RetryPolicy::build(&p, "rp").unwrap()
    }

    #[test]
    fn five_xx_retries_server_errors_and_resets() {
        let p = policy("{retry_on: 5xx, num_retries: 3}");
        let h = HeaderMap::new();
        assert!(p.retries_response(500, &h));
        assert!(p.retries_response(503, &h));
        assert!(!p.retries_response(404, &h));
        assert!(p.retries_reset(ResetKind::ConnectFailure));
        assert!(p.retries_reset(ResetKind::PerTryTimeout));
        assert_eq!(p.num_retries, 3);
    }

    #[test]
    fn narrower_conditions() {
        let p = policy(
            "{retry_on: 'connect-failure,retriable-status-codes,bogus', retriable_status_codes: [418]}",
        );
        let h = HeaderMap::new();
        assert!(!p.retries_response(500, &h));
        assert!(p.retries_response(418, &h));
        assert!(p.retries_reset(ResetKind::ConnectFailure));
        assert!(!p.retries_reset(ResetKind::Reset { sent: true }));
        assert!(!p.retries_reset(ResetKind::PerTryTimeout));
        assert_eq!(p.unknown, ["bogus"]);
        assert_eq!(p.num_retries, 1);
        let gw = policy("{retry_on: gateway-error}");
        assert!(gw.retries_response(502, &h) && !gw.retries_response(500, &h));
        let four = policy("{retry_on: retriable-4xx}");
        assert!(four.retries_response(409, &h) && !four.retries_response(404, &h));
        let mut overloaded = HeaderMap::new();
        overloaded.insert("x-envoy-overloaded", "true".parse().unwrap());
        assert!(!policy("{retry_on: 5xx}").retries_response(503, &overloaded));
        let grpc = policy("{retry_on: unavailable}");
        let mut g = HeaderMap::new();
        g.insert("grpc-status", "14".parse().unwrap());
        assert!(grpc.retries_response(200, &g));
    }

    #[test]
    fn backoff_is_jittered_and_capped() {
        let p = policy("{retry_on: 5xx}");
        for _ in 0..100 {
            assert!(p.backoff(1) < Duration::from_millis(25));
            assert!(p.backoff(2) < Duration::from_millis(75));
            assert!(p.backoff(10) <= Duration::from_millis(250));
        }
    }

    #[test]
    fn headers_extend_the_policy() {
        let mut h = HeaderMap::new();
        h.insert("x-envoy-retry-on", "5xx".parse().unwrap());
        h.insert("x-envoy-max-retries", "2".parse().unwrap());
        let p = RetryPolicy::from_headers(None, &h).unwrap();
        assert!(p.on.has(RetryOn::FIVE_XX));
        assert_eq!(p.num_retries, 2);
        assert!(RetryPolicy::from_headers(None, &HeaderMap::new()).is_none());
    }
}
