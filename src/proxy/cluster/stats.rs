//! A cluster's stats under `cluster.<name>.`: every name Envoy creates up front (so `/stats`
//! lists them at zero), handles for the hot path, and the per-status-code counters.

use std::sync::OnceLock;

use super::super::stats::{Counter, Gauge, Histogram, Scope, Unit};

const COUNTERS: &[&str] = &[
    "assignment_stale",
    "assignment_timeout_received",
    "bind_errors",
    "default.total_match_count",
    "lb_healthy_panic",
    "lb_local_cluster_not_ok",
    "lb_recalculate_zone_structures",
    "lb_subsets_created",
    "lb_subsets_fallback",
    "lb_subsets_fallback_panic",
    "lb_subsets_removed",
    "lb_subsets_selected",
    "lb_zone_cluster_too_small",
    "lb_zone_no_capacity_left",
    "lb_zone_number_differs",
    "lb_zone_routing_all_directly",
    "lb_zone_routing_cross_zone",
    "lb_zone_routing_sampled",
    "membership_change",
    "original_dst_host_invalid",
    "retry_or_shadow_abandoned",
    "update_attempt",
    "update_empty",
    "update_failure",
    "update_no_rebuild",
    "update_success",
    "upstream_cx_close_notify",
    "upstream_cx_connect_attempts_exceeded",
    "upstream_cx_connect_fail",
    "upstream_cx_connect_timeout",
    "upstream_cx_connect_with_0_rtt",
    "upstream_cx_destroy",
    "upstream_cx_destroy_local",
    "upstream_cx_destroy_local_with_active_rq",
    "upstream_cx_destroy_remote",
    "upstream_cx_destroy_remote_with_active_rq",
    "upstream_cx_destroy_with_active_rq",
    "upstream_cx_http1_total",
    "upstream_cx_http3_total",
    "upstream_cx_max_duration_reached",
    "upstream_cx_max_requests",
    "upstream_cx_none_healthy",
    "upstream_cx_overflow",
    "upstream_cx_pool_overflow",
    "upstream_cx_protocol_error",
    "upstream_cx_rx_bytes_total",
    "upstream_cx_total",
    "upstream_cx_tx_bytes_total",
    "upstream_flow_control_backed_up_total",
    "upstream_flow_control_drained_total",
    "upstream_flow_control_paused_reading_total",
    "upstream_flow_control_resumed_reading_total",
    "upstream_http3_broken",
    "upstream_internal_redirect_failed_total",
    "upstream_internal_redirect_succeeded_total",
    "upstream_rq_0rtt",
    "upstream_rq_cancelled",
    "upstream_rq_completed",
    "upstream_rq_maintenance_mode",
    "upstream_rq_max_duration_reached",
    "upstream_rq_pending_failure_eject",
    "upstream_rq_pending_overflow",
    "upstream_rq_pending_total",
    "upstream_rq_per_try_idle_timeout",
    "upstream_rq_per_try_timeout",
    "upstream_rq_retry",
    "upstream_rq_retry_backoff_exponential",
    "upstream_rq_retry_backoff_ratelimited",
    "upstream_rq_retry_limit_exceeded",
    "upstream_rq_retry_overflow",
    "upstream_rq_retry_success",
    "upstream_rq_rx_reset",
    "upstream_rq_timeout",
    "upstream_rq_total",
    "upstream_rq_tx_reset",
];

const GAUGES: &[&str] = &[
    "circuit_breakers.default.cx_open",
    "circuit_breakers.default.cx_pool_open",
    "circuit_breakers.default.rq_open",
    "circuit_breakers.default.rq_pending_open",
    "circuit_breakers.default.rq_retry_open",
    "circuit_breakers.high.cx_open",
    "circuit_breakers.high.cx_pool_open",
    "circuit_breakers.high.rq_open",
    "circuit_breakers.high.rq_pending_open",
    "circuit_breakers.high.rq_retry_open",
    "lb_subsets_active",
    "max_host_weight",
    "membership_degraded",
    "membership_excluded",
    "membership_healthy",
    "membership_total",
    "upstream_cx_active",
    "upstream_cx_rx_bytes_buffered",
    "upstream_cx_tx_bytes_buffered",
    "upstream_rq_active",
    "upstream_rq_pending_active",
    "version",
];

/// Counters for one status code and its class, under one prefix (``, `external.`, `retry.`).
#[derive(Debug, Clone)]
pub struct CodeCounters {
    pub code: Counter,
    pub class: Counter,
    pub completed: Counter,
}

#[derive(Debug)]
pub struct ClusterStats {
    scope: Scope,
    pub upstream_cx_total: Counter,
    pub upstream_cx_active: Gauge,
    pub upstream_cx_http1_total: Counter,
    pub upstream_cx_http2_total: Counter,
    pub upstream_cx_idle_timeout: Counter,
    pub upstream_cx_connect_fail: Counter,
    pub upstream_cx_connect_timeout: Counter,
    pub upstream_cx_destroy: Counter,
    pub upstream_cx_destroy_local: Counter,
    pub upstream_cx_destroy_remote: Counter,
    pub upstream_cx_destroy_with_active_rq: Counter,
    pub upstream_cx_destroy_remote_with_active_rq: Counter,
    pub upstream_cx_rx_bytes_total: Counter,
    pub upstream_cx_tx_bytes_total: Counter,
    pub upstream_cx_none_healthy: Counter,
    pub upstream_cx_max_requests: Counter,
    pub upstream_cx_protocol_error: Counter,
    pub upstream_cx_overflow: Counter,
    pub upstream_rq_pending_overflow: Counter,
    pub upstream_rq_pending_active: Gauge,
    pub cx_open: Gauge,
    pub rq_pending_open: Gauge,
    pub rq_open: Gauge,
    pub upstream_cx_connect_ms: Histogram,
    pub upstream_cx_length_ms: Histogram,
    pub upstream_rq_total: Counter,
    pub upstream_rq_active: Gauge,
    pub upstream_rq_completed: Counter,
    pub upstream_rq_pending_total: Counter,
    pub upstream_rq_timeout: Counter,
    pub upstream_rq_per_try_timeout: Counter,
    pub upstream_rq_retry: Counter,
    pub upstream_rq_retry_success: Counter,
    pub upstream_rq_retry_limit_exceeded: Counter,
    pub upstream_rq_retry_overflow: Counter,
    pub upstream_rq_retry_backoff_exponential: Counter,
    pub upstream_rq_rx_reset: Counter,
    pub upstream_rq_tx_reset: Counter,
    pub upstream_rq_cancelled: Counter,
    pub retry_or_shadow_abandoned: Counter,
    pub rq_retry_open: Gauge,
    pub membership_healthy: Gauge,
    pub membership_degraded: Gauge,
    pub membership_excluded: Gauge,
    pub membership_total: Gauge,
    pub max_host_weight: Gauge,
    pub membership_change: Counter,
    pub update_attempt: Counter,
    pub update_success: Counter,
    pub update_failure: Counter,
    pub update_empty: Counter,
    pub update_no_rebuild: Counter,
    pub lb_healthy_panic: Counter,
    pub upstream_rq_time: Histogram,
    pub external_upstream_rq_time: Histogram,
    pub internal_upstream_rq_time: Histogram,
    /// `upstream_rq_<code>`, indexed by status code, created on first use.
    codes: [PerCode; 3],
    /// Connections open or being opened: what the `max_connections` breaker counts (Envoy
    /// counts a connection from the moment it starts connecting).
    pub cx_count: std::sync::atomic::AtomicU64,
}

/// Lazily created counters for 100..=599.
#[derive(Debug)]
struct PerCode {
    prefix: &'static str,
    slots: Box<[OnceLock<CodeCounters>]>,
}

/// Which family of code counters to charge.
#[derive(Debug, Clone, Copy)]
pub enum CodeScope {
    All = 0,
    External = 1,
    Internal = 2,
}

impl ClusterStats {
    pub fn new(scope: Scope) -> ClusterStats {
        for name in COUNTERS {
            scope.counter(name);
        }
        for name in GAUGES {
            scope.gauge(name);
        }
        let c = |n: &str| scope.counter(n);
        let g = |n: &str| scope.gauge(n);
        let h = |n: &str| scope.histogram(n, Unit::Milliseconds);
        let per_code = |prefix: &'static str| PerCode {
            prefix,
            slots: (0..600).map(|_| OnceLock::new()).collect(),
        };
        ClusterStats {
            upstream_cx_total: c("upstream_cx_total"),
            upstream_cx_active: g("upstream_cx_active"),
            upstream_cx_http1_total: c("upstream_cx_http1_total"),
            upstream_cx_http2_total: c("upstream_cx_http2_total"),
            upstream_cx_idle_timeout: c("upstream_cx_idle_timeout"),
            upstream_cx_connect_fail: c("upstream_cx_connect_fail"),
            upstream_cx_connect_timeout: c("upstream_cx_connect_timeout"),
            upstream_cx_destroy: c("upstream_cx_destroy"),
            upstream_cx_destroy_local: c("upstream_cx_destroy_local"),
            upstream_cx_destroy_remote: c("upstream_cx_destroy_remote"),
            upstream_cx_destroy_with_active_rq: c("upstream_cx_destroy_with_active_rq"),
            upstream_cx_destroy_remote_with_active_rq: c(
                "upstream_cx_destroy_remote_with_active_rq",
            ),
            upstream_cx_rx_bytes_total: c("upstream_cx_rx_bytes_total"),
            upstream_cx_tx_bytes_total: c("upstream_cx_tx_bytes_total"),
            upstream_cx_none_healthy: c("upstream_cx_none_healthy"),
            upstream_cx_max_requests: c("upstream_cx_max_requests"),
            upstream_cx_protocol_error: c("upstream_cx_protocol_error"),
            upstream_cx_overflow: c("upstream_cx_overflow"),
            upstream_rq_pending_overflow: c("upstream_rq_pending_overflow"),
            upstream_rq_pending_active: g("upstream_rq_pending_active"),
            cx_open: g("circuit_breakers.default.cx_open"),
            rq_pending_open: g("circuit_breakers.default.rq_pending_open"),
            rq_open: g("circuit_breakers.default.rq_open"),
            upstream_cx_connect_ms: h("upstream_cx_connect_ms"),
            upstream_cx_length_ms: h("upstream_cx_length_ms"),
            upstream_rq_total: c("upstream_rq_total"),
            upstream_rq_active: g("upstream_rq_active"),
            upstream_rq_completed: c("upstream_rq_completed"),
            upstream_rq_pending_total: c("upstream_rq_pending_total"),
            upstream_rq_timeout: c("upstream_rq_timeout"),
            upstream_rq_per_try_timeout: c("upstream_rq_per_try_timeout"),
            upstream_rq_retry: c("upstream_rq_retry"),
            upstream_rq_retry_success: c("upstream_rq_retry_success"),
            upstream_rq_retry_limit_exceeded: c("upstream_rq_retry_limit_exceeded"),
            upstream_rq_retry_overflow: c("upstream_rq_retry_overflow"),
            upstream_rq_retry_backoff_exponential: c("upstream_rq_retry_backoff_exponential"),
            upstream_rq_rx_reset: c("upstream_rq_rx_reset"),
            upstream_rq_tx_reset: c("upstream_rq_tx_reset"),
            upstream_rq_cancelled: c("upstream_rq_cancelled"),
            retry_or_shadow_abandoned: c("retry_or_shadow_abandoned"),
            rq_retry_open: g("circuit_breakers.default.rq_retry_open"),
            membership_healthy: g("membership_healthy"),
            membership_degraded: g("membership_degraded"),
            membership_excluded: g("membership_excluded"),
            membership_total: g("membership_total"),
            max_host_weight: g("max_host_weight"),
            membership_change: c("membership_change"),
            update_attempt: c("update_attempt"),
            update_success: c("update_success"),
            update_failure: c("update_failure"),
            update_empty: c("update_empty"),
            update_no_rebuild: c("update_no_rebuild"),
            lb_healthy_panic: c("lb_healthy_panic"),
            upstream_rq_time: h("upstream_rq_time"),
            external_upstream_rq_time: h("external.upstream_rq_time"),
            internal_upstream_rq_time: h("internal.upstream_rq_time"),
            codes: [per_code(""), per_code("external."), per_code("internal.")],
            cx_count: std::sync::atomic::AtomicU64::new(0),
            scope,
        }
    }

    /// `upstream_rq_<code>`, `upstream_rq_<N>xx` and `upstream_rq_completed` for one family.
    pub fn code(&self, family: CodeScope, status: u16) -> Option<&CodeCounters> {
        let per = &self.codes[family as usize];
        let slot = per.slots.get(usize::from(status))?;
        Some(slot.get_or_init(|| {
            CodeCounters {
                code: self
                    .scope
                    .counter(&format!("{}upstream_rq_{status}", per.prefix)),
                class: self
                    .scope
                    .counter(&format!("{}upstream_rq_{}xx", per.prefix, status / 100)),
                completed: self
                    .scope
                    .counter(&format!("{}upstream_rq_completed", per.prefix)),
            }
        }))
    }

    /// `retry.upstream_rq_<code>` etc., charged for responses to retried attempts.
    pub fn retry_code(&self, status: u16) {
        self.scope
            .counter(&format!("retry.upstream_rq_{status}"))
            .inc();
        self.scope
            .counter(&format!("retry.upstream_rq_{}xx", status / 100))
            .inc();
        self.scope.counter("retry.upstream_rq_completed").inc();
    }

    /// Charges one upstream response: plain and internal/external families.
    pub fn charge_response(&self, status: u16, internal: bool) {
        let family = if internal {
            CodeScope::Internal
        } else {
            CodeScope::External
        };
        for f in [CodeScope::All, family] {
            if let Some(c) = self.code(f, status) {
                c.code.inc();
                c.class.inc();
                c.completed.inc();
            }
        }
    }

    /// `upstream_rq_time` (and its internal/external twin) once a response has ended.
    pub fn record_rq_time(&self, internal: bool, elapsed_ms: u64) {
        self.upstream_rq_time.record(elapsed_ms);
        if internal {
            self.internal_upstream_rq_time.record(elapsed_ms);
        } else {
            self.external_upstream_rq_time.record(elapsed_ms);
        }
    }
}
