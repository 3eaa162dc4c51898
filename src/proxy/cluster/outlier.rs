//! Outlier detection (passive health checking): a host that answers with too many consecutive
//! 5xx (or gateway errors: 502/503/504 and connection failures) is ejected from load balancing
//! for `base_ejection_time × times ejected` (capped by `max_ejection_time`), unless that would
//! eject more than `max_ejection_percent` of the cluster (one host may always be ejected).
//! Ejected hosts come back on the next `interval` tick after their time is up; a host that
//! stays healthy for an interval has its ejection multiplier decremented.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::proxy::Rejected;
use crate::proxy::stats::{Counter, Gauge, Store};
use crate::xds::cluster::OutlierDetection;

use super::host::Host;

/// The settings, with Envoy's defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct OutlierConfig {
    pub consecutive_5xx: u32,
    pub enforcing_consecutive_5xx: u32,
    pub consecutive_gateway_failure: u32,
    pub enforcing_consecutive_gateway_failure: u32,
    pub interval: Duration,
    pub base_ejection_time: Duration,
    pub max_ejection_time: Duration,
    pub max_ejection_percent: u32,
}

impl OutlierConfig {
    pub fn build(o: &OutlierDetection, path: &str) -> Result<OutlierConfig, Vec<Rejected>> {
        let mut errors = Vec::new();
        let dur = |d: Option<crate::xds::de::Duration>, default: u64| {
            d.map(|d| d.get()).unwrap_or(Duration::from_secs(default))
        };
        let pct = |v: Option<u32>, default: u32, field: &str, errors: &mut Vec<Rejected>| {
            let v = v.unwrap_or(default);
            if v > 100 {
                errors.push(Rejected::new(
                    format!("{path}.{field}"),
                    format!("OutlierDetectionValidationError.{field}: value must be less than or equal to 100"),
                ));
            }
            v
        };
        let cfg = OutlierConfig {
            consecutive_5xx: o.consecutive_5xx.unwrap_or(5),
            enforcing_consecutive_5xx: pct(
                o.enforcing_consecutive_5xx,
                100,
                "enforcing_consecutive_5xx",
                &mut errors,
            ),
            consecutive_gateway_failure: o.consecutive_gateway_failure.unwrap_or(5),
            enforcing_consecutive_gateway_failure: pct(
                o.enforcing_consecutive_gateway_failure,
                0,
                "enforcing_consecutive_gateway_failure",
                &mut errors,
            ),
            interval: dur(o.interval, 10),
            base_ejection_time: dur(o.base_ejection_time, 30),
            max_ejection_time: dur(o.max_ejection_time, 300),
            max_ejection_percent: pct(
                o.max_ejection_percent,
                10,
                "max_ejection_percent",
                &mut errors,
            ),
        };
        if cfg.interval.is_zero() {
            errors.push(Rejected::new(
                format!("{path}.interval"),
                "OutlierDetectionValidationError.Interval: value must be greater than 0s",
            ));
        }
        // Success-rate and failure-percentage detection are other algorithms; refusing their
        // enforcement (Istio sends them off) beats silently not ejecting.
        for (field, value) in [
            ("enforcing_success_rate", o.enforcing_success_rate),
            (
                "enforcing_failure_percentage",
                o.enforcing_failure_percentage,
            ),
            (
                "enforcing_local_origin_success_rate",
                o.enforcing_local_origin_success_rate,
            ),
            (
                "enforcing_failure_percentage_local_origin",
                o.enforcing_failure_percentage_local_origin,
            ),
        ] {
            if value.is_some_and(|v| v > 0) {
                errors.push(Rejected::new(
                    format!("{path}.{field}"),
                    format!("{field} > 0 is not supported by mesh yet (only consecutive 5xx and gateway-failure detection)"),
                ));
            }
        }
        if o.split_external_local_origin_errors {
            errors.push(Rejected::new(
                format!("{path}.split_external_local_origin_errors"),
                "split_external_local_origin_errors is not supported by mesh yet",
            ));
        }
        if errors.is_empty() {
            Ok(cfg)
        } else {
            Err(errors)
        }
    }
}

/// What an attempt on a host came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Status(u16),
    /// Connect failure, reset or timeout: counted as a gateway failure (503/504), as Envoy
    /// does without `split_external_local_origin_errors`.
    LocalFailure,
}

#[derive(Debug, Default)]
struct HostState {
    consecutive_5xx: u32,
    consecutive_gateway: u32,
    times_ejected: u32,
    ejected_at: Option<Instant>,
}

/// `cluster.<name>.outlier_detection.*`.
#[derive(Debug)]
struct OutlierStats {
    ejections_active: Gauge,
    ejections_total: Counter,
    ejections_overflow: Counter,
    ejections_enforced_total: Counter,
    ejections_enforced_consecutive_5xx: Counter,
    ejections_detected_consecutive_5xx: Counter,
    ejections_enforced_consecutive_gateway_failure: Counter,
    ejections_detected_consecutive_gateway_failure: Counter,
    ejections_consecutive_5xx: Counter,
}

#[derive(Debug)]
pub struct Detector {
    pub config: OutlierConfig,
    hosts: Mutex<HashMap<SocketAddr, HostState>>,
    stats: OutlierStats,
}

impl Detector {
    pub fn new(config: OutlierConfig, store: &Store, stat_prefix: &str) -> Detector {
        let c = |n: &str| store.counter(&format!("{stat_prefix}.outlier_detection.{n}"));
        Detector {
            config,
            hosts: Mutex::new(HashMap::new()),
            stats: OutlierStats {
                ejections_active: store
                    .gauge(&format!("{stat_prefix}.outlier_detection.ejections_active")),
                ejections_total: c("ejections_total"),
                ejections_overflow: c("ejections_overflow"),
                ejections_enforced_total: c("ejections_enforced_total"),
                ejections_enforced_consecutive_5xx: c("ejections_enforced_consecutive_5xx"),
                ejections_detected_consecutive_5xx: c("ejections_detected_consecutive_5xx"),
                ejections_enforced_consecutive_gateway_failure: c(
                    "ejections_enforced_consecutive_gateway_failure",
                ),
                ejections_detected_consecutive_gateway_failure: c(
                    "ejections_detected_consecutive_gateway_failure",
                ),
                ejections_consecutive_5xx: c("ejections_consecutive_5xx"),
            },
        }
    }

    /// Records one attempt's outcome; may eject `host` (`all` is the cluster's host set, for
    /// the ejection cap).
    pub fn report(&self, host: &Host, outcome: Outcome, all: &[std::sync::Arc<Host>]) {
        let Ok(mut states) = self.hosts.lock() else {
            return;
        };
        let state = states.entry(host.address).or_default();
        let (is_5xx, is_gateway) = match outcome {
            Outcome::Status(s) => (s >= 500, matches!(s, 502..=504)),
            Outcome::LocalFailure => (true, true),
        };
        if !is_5xx {
            state.consecutive_5xx = 0;
            state.consecutive_gateway = 0;
            return;
        }
        state.consecutive_5xx += 1;
        if is_gateway {
            state.consecutive_gateway += 1;
        } else {
            state.consecutive_gateway = 0;
        }
        if state.ejected_at.is_some() {
            return;
        }
        let cfg = &self.config;
        let (detected_5xx, detected_gw) = (
            state.consecutive_5xx >= cfg.consecutive_5xx,
            state.consecutive_gateway >= cfg.consecutive_gateway_failure,
        );
        if detected_5xx {
            self.stats.ejections_detected_consecutive_5xx.inc();
        }
        if detected_gw {
            self.stats
                .ejections_detected_consecutive_gateway_failure
                .inc();
        }
        let enforce_5xx = detected_5xx && chance(cfg.enforcing_consecutive_5xx);
        let enforce_gw =
            !enforce_5xx && detected_gw && chance(cfg.enforcing_consecutive_gateway_failure);
        if !(enforce_5xx || enforce_gw) {
            if detected_5xx {
                state.consecutive_5xx = 0;
            }
            if detected_gw {
                state.consecutive_gateway = 0;
            }
            return;
        }
        state.consecutive_5xx = 0;
        state.consecutive_gateway = 0;
        let ejected_now = all.iter().filter(|h| h.outlier_ejected()).count();
        let total = all.len().max(1);
        let percent_after = 100.0 * (ejected_now + 1) as f64 / total as f64;
        if ejected_now > 0 && percent_after > f64::from(cfg.max_ejection_percent) {
            self.stats.ejections_overflow.inc();
            return;
        }
        state.times_ejected += 1;
        state.ejected_at = Some(Instant::now());
        host.set_outlier_ejected(true);
        self.stats.ejections_active.inc();
        self.stats.ejections_total.inc();
        self.stats.ejections_enforced_total.inc();
        if enforce_5xx {
            self.stats.ejections_enforced_consecutive_5xx.inc();
            self.stats.ejections_consecutive_5xx.inc();
        } else {
            self.stats
                .ejections_enforced_consecutive_gateway_failure
                .inc();
        }
    }

    /// The interval tick: brings back hosts whose ejection is over, and lets hosts that stayed
    /// in forget one ejection.
    pub fn tick(&self, all: &[std::sync::Arc<Host>], now: Instant) {
        let Ok(mut states) = self.hosts.lock() else {
            return;
        };
        let cfg = &self.config;
        for host in all {
            let Some(state) = states.get_mut(&host.address) else {
                continue;
            };
            match state.ejected_at {
                Some(at) => {
                    let ejection = (cfg.base_ejection_time * state.times_ejected)
                        .min(cfg.max_ejection_time.max(cfg.base_ejection_time));
                    if now.duration_since(at) >= ejection {
                        state.ejected_at = None;
                        host.set_outlier_ejected(false);
                        self.stats.ejections_active.dec();
                    }
                }
                None if state.times_ejected > 0 => state.times_ejected -= 1,
                None => {}
            }
            // A host object made anew by an endpoint update takes its state along.
            host.set_outlier_ejected(state.ejected_at.is_some());
        }
        // Hosts that left the cluster take their state along.
        let present: std::collections::HashSet<SocketAddr> =
            all.iter().map(|h| h.address).collect();
        states.retain(|addr, s| {
            let keep = present.contains(addr);
            if !keep && s.ejected_at.is_some() {
                self.stats.ejections_active.dec();
            }
            keep
        });
    }

    /// How many hosts are ejected now.
    pub fn ejected(&self) -> usize {
        self.stats.ejections_active.value() as usize
    }
}

/// `true` with probability `percent`/100.
fn chance(percent: u32) -> bool {
    percent >= 100 || (percent > 0 && rand::random_range(0..100) < percent)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::xds::core::Locality;
    use crate::xds::endpoint::HealthStatus;

    fn hosts(n: u16) -> Vec<Arc<Host>> {
        (1..=n)
            .map(|p| {
                Arc::new(Host::new(
                    SocketAddr::from(([127, 0, 0, 1], p)),
                    String::new(),
                    1,
                    0,
                    Locality::default(),
                    HealthStatus::Healthy,
                ))
            })
            .collect()
    }

    fn detector(o: OutlierDetection) -> (Detector, Store) {
        let store = Store::new();
        let d = Detector::new(OutlierConfig::build(&o, "c").unwrap(), &store, "cluster.c");
        (d, store)
    }

    fn cfg(consecutive: u32, max_percent: u32) -> OutlierDetection {
        OutlierDetection {
            consecutive_5xx: Some(consecutive),
            max_ejection_percent: Some(max_percent),
            base_ejection_time: Some(crate::xds::de::Duration::from_secs(10)),
            ..Default::default()
        }
    }

    #[test]
    fn consecutive_errors_eject_and_a_success_resets_the_count() {
        let hs = hosts(2);
        let (d, store) = detector(cfg(2, 100));
        d.report(&hs[0], Outcome::Status(500), &hs);
        d.report(&hs[0], Outcome::Status(200), &hs);
        d.report(&hs[0], Outcome::Status(503), &hs);
        assert!(!hs[0].outlier_ejected());
        d.report(&hs[0], Outcome::LocalFailure, &hs);
        assert!(hs[0].outlier_ejected());
        assert!(!hs[0].is_healthy());
        assert_eq!(d.ejected(), 1);
        assert_eq!(
            store
                .counter("cluster.c.outlier_detection.ejections_enforced_consecutive_5xx")
                .value(),
            1
        );
    }

    #[test]
    fn the_cap_keeps_hosts_in_but_one_may_always_go() {
        let hs = hosts(4);
        let (d, store) = detector(cfg(1, 10));
        d.report(&hs[0], Outcome::Status(500), &hs);
        assert!(hs[0].outlier_ejected(), "one host even above 10%");
        d.report(&hs[1], Outcome::Status(500), &hs);
        assert!(!hs[1].outlier_ejected());
        assert_eq!(
            store
                .counter("cluster.c.outlier_detection.ejections_overflow")
                .value(),
            1
        );
    }

    #[test]
    fn ejections_last_longer_each_time_and_end_on_a_tick() {
        let hs = hosts(2);
        let (d, _) = detector(cfg(1, 100));
        let t0 = Instant::now();
        d.report(&hs[0], Outcome::Status(500), &hs);
        d.tick(&hs, t0 + Duration::from_secs(5));
        assert!(hs[0].outlier_ejected(), "base 10s not over");
        d.tick(&hs, t0 + Duration::from_secs(11));
        assert!(!hs[0].outlier_ejected());
        // The second ejection (right away) lasts 2 × base.
        let t1 = Instant::now();
        d.report(&hs[0], Outcome::Status(500), &hs);
        d.tick(&hs, t1 + Duration::from_secs(11));
        assert!(hs[0].outlier_ejected());
        d.tick(&hs, t1 + Duration::from_secs(21));
        assert!(!hs[0].outlier_ejected());
        // Gateway-failure enforcement is off by default (Envoy's 0%).
        let (d, _) = detector(OutlierDetection {
            consecutive_5xx: Some(100),
            consecutive_gateway_failure: Some(1),
            ..Default::default()
        });
        d.report(&hs[1], Outcome::Status(502), &hs);
        assert!(!hs[1].outlier_ejected());
        assert!(
            OutlierConfig::build(
                &OutlierDetection {
                    enforcing_success_rate: Some(100),
                    ..Default::default()
                },
                "c"
            )
            .is_err()
        );
    }
}
