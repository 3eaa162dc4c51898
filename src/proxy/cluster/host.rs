//! One upstream endpoint: its address, hostname, weight, priority, health, the counters
//! `/clusters` prints, and its connection pool.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::xds::core::Locality;
use crate::xds::endpoint::HealthStatus;

use super::pool::Pool;

/// Per-host counters, in the order `/clusters` prints them (alphabetical, as Envoy does).
#[derive(Debug, Default)]
pub struct HostStats {
    pub cx_active: AtomicU64,
    pub cx_connect_fail: AtomicU64,
    pub cx_total: AtomicU64,
    pub rq_active: AtomicU64,
    pub rq_error: AtomicU64,
    pub rq_success: AtomicU64,
    pub rq_timeout: AtomicU64,
    pub rq_total: AtomicU64,
}

impl HostStats {
    /// `(name, value, is_gauge)` in `/clusters` order.
    pub fn rows(&self) -> [(&'static str, u64, bool); 8] {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        [
            ("cx_active", g(&self.cx_active), true),
            ("cx_connect_fail", g(&self.cx_connect_fail), false),
            ("cx_total", g(&self.cx_total), false),
            ("rq_active", g(&self.rq_active), true),
            ("rq_error", g(&self.rq_error), false),
            ("rq_success", g(&self.rq_success), false),
            ("rq_timeout", g(&self.rq_timeout), false),
            ("rq_total", g(&self.rq_total), false),
        ]
    }
}

/// An endpoint's `istio.workload` metadata.
pub fn workload_of(metadata: Option<&crate::xds::core::Metadata>) -> Option<Arc<str>> {
    metadata?
        .filter_metadata
        .get("istio")?
        .get("workload")?
        .as_str()
        .map(Arc::from)
}

/// Bumped whenever any host's outlier or active-health flag changes, so load balancers can
/// keep their candidate lists between changes instead of filtering every host on every pick.
pub static HEALTH_EPOCH: AtomicU64 = AtomicU64::new(0);

pub fn inc(a: &AtomicU64) {
    a.fetch_add(1, Ordering::Relaxed);
}

/// Saturating decrement (a gauge never goes below zero).
pub fn dec(a: &AtomicU64) {
    let _ = a.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        Some(v.saturating_sub(1))
    });
}

#[derive(Debug)]
pub struct Host {
    pub address: SocketAddr,
    /// The DNS name the address came from (what `auto_host_rewrite` sends as Host).
    pub hostname: String,
    pub weight: u32,
    pub priority: u32,
    pub locality: Locality,
    pub health: HealthStatus,
    pub stats: HostStats,
    pub pool: Pool,
    /// The shared HTTP/2 connection, for clusters that speak HTTP/2 upstream.
    pub h2: super::h2pool::H2Pool,
    /// Index into the cluster's `transport_socket_matches` (`None`: its default socket).
    pub socket_match: Option<u8>,
    /// istiod's `istio.workload` endpoint metadata (`name;namespace;canonical;revision;
    /// cluster`): who a client's telemetry reports as the destination when the peer does not
    /// say.
    pub workload: Option<Arc<str>>,
    /// Ejected by outlier detection: out of load balancing until the detector lets it back.
    ejected: AtomicBool,
    /// Failing (or not yet passing) active health checks.
    hc_failed: AtomicBool,
    /// Its locality's `load_balancing_weight` (locality-weighted load balancing).
    pub locality_weight: Option<u32>,
}

impl Host {
    pub fn new(
        address: SocketAddr,
        hostname: String,
        weight: u32,
        priority: u32,
        locality: Locality,
        health: HealthStatus,
    ) -> Host {
        Host {
            address,
            hostname,
            weight: weight.max(1),
            priority,
            locality,
            health,
            stats: HostStats::default(),
            pool: Pool::default(),
            h2: Default::default(),
            socket_match: None,
            workload: None,
            ejected: AtomicBool::new(false),
            hc_failed: AtomicBool::new(false),
            locality_weight: None,
        }
    }

    /// Takes `istio.workload` from the endpoint's metadata.
    pub fn with_metadata(mut self, metadata: Option<&crate::xds::core::Metadata>) -> Host {
        self.workload = workload_of(metadata);
        self
    }

    pub fn with_locality_weight(mut self, weight: Option<u32>) -> Host {
        self.locality_weight = weight;
        self
    }

    pub fn with_socket_match(mut self, socket_match: Option<u8>) -> Host {
        self.socket_match = socket_match;
        self
    }

    /// Usable for new requests: healthy or of unknown health (Envoy treats UNKNOWN as healthy),
    /// and not ejected by outlier detection.
    pub fn is_healthy(&self) -> bool {
        matches!(self.health, HealthStatus::Healthy | HealthStatus::Unknown)
            && !self.outlier_ejected()
            && !self.hc_failed()
    }

    pub fn hc_failed(&self) -> bool {
        self.hc_failed.load(Ordering::Relaxed)
    }

    pub fn set_hc_failed(&self, failed: bool) {
        if self.hc_failed.swap(failed, Ordering::AcqRel) != failed {
            HEALTH_EPOCH.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub fn outlier_ejected(&self) -> bool {
        self.ejected.load(Ordering::Relaxed)
    }

    pub fn set_outlier_ejected(&self, ejected: bool) {
        if self.ejected.swap(ejected, Ordering::AcqRel) != ejected {
            HEALTH_EPOCH.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub fn is_degraded(&self) -> bool {
        self.health == HealthStatus::Degraded
    }

    /// `/clusters`' `health_flags`.
    pub fn health_flags(&self) -> &'static str {
        match (self.hc_failed(), self.outlier_ejected()) {
            (true, true) => return "/failed_active_hc/failed_outlier_check",
            (true, false) => return "/failed_active_hc",
            (false, true) => return "/failed_outlier_check",
            (false, false) => {}
        }
        match self.health {
            HealthStatus::Healthy | HealthStatus::Unknown => "healthy",
            HealthStatus::Degraded => "/degraded_eds_health",
            HealthStatus::Draining => "/eds_status_draining",
            HealthStatus::Unhealthy | HealthStatus::Timeout => "/failed_eds_health",
        }
    }
}
