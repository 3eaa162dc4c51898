//! A DestinationRule's `trafficPolicy` on a cluster, as istiod applies it: the effective policy
//! for a port and subset (subset over top level, port-level settings over both, field by
//! field), `loadBalancer` (simple policies, `consistentHash` → RING_HASH/MAGLEV plus the routes'
//! `hash_policy`), `connectionPool` (circuit-breaker thresholds, connect timeout, requests per
//! connection) and `outlierDetection`.

use serde_json::Value;

use crate::api::istio::{
    ConnectionPoolSettings, DestinationRule, LoadBalancerSettings, OutlierDetection, SimpleLb,
    Subset, TrafficPolicy,
};
use crate::xds::cluster::{
    Cluster, DiscoveryType, LbPolicy, MaglevLbConfig, OutlierDetection as XdsOutlier,
    RingHashLbConfig,
};
use crate::xds::de::Duration;
use crate::xds::route::{
    HashConnectionProperties, HashCookie, HashHeader, HashPolicy, HashQueryParameter,
};

/// The parts of a traffic policy that shape a cluster.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Effective {
    pub load_balancer: Option<LoadBalancerSettings>,
    pub connection_pool: Option<ConnectionPoolSettings>,
    pub outlier_detection: Option<OutlierDetection>,
    /// `retryBudget` (`percent`, `minRetryConcurrency`).
    pub retry_budget: Option<Value>,
}

fn overlay(into: &mut Effective, t: &TrafficPolicy, port: u16) {
    if let Some(b) = t.rest.get("retryBudget") {
        into.retry_budget = Some(b.clone());
    }
    if t.load_balancer.is_some() {
        into.load_balancer = t.load_balancer.clone();
    }
    if t.connection_pool.is_some() {
        into.connection_pool = t.connection_pool.clone();
    }
    if t.outlier_detection.is_some() {
        into.outlier_detection = t.outlier_detection.clone();
    }
    if let Some(pl) = t
        .port_level_settings
        .iter()
        .find(|pl| pl.port.as_ref().and_then(|p| p.number) == Some(u32::from(port)))
    {
        if pl.load_balancer.is_some() {
            into.load_balancer = pl.load_balancer.clone();
        }
        if pl.connection_pool.is_some() {
            into.connection_pool = pl.connection_pool.clone();
        }
        if pl.outlier_detection.is_some() {
            into.outlier_detection = pl.outlier_detection.clone();
        }
    }
}

/// The policy for one port of one subset (`None`: the service's own cluster).
pub fn effective(dr: Option<&DestinationRule>, subset: Option<&Subset>, port: u16) -> Effective {
    let mut e = Effective::default();
    if let Some(t) = dr.and_then(|d| d.spec.traffic_policy.as_ref()) {
        overlay(&mut e, t, port);
    }
    if let Some(t) = subset.and_then(|s| s.traffic_policy.as_ref()) {
        overlay(&mut e, t, port);
    }
    e
}

pub fn duration(text: Option<&str>) -> Option<Duration> {
    text.and_then(|t| crate::api::parse_duration(t).ok())
        .map(Duration)
}

fn clamp_u32(v: i32) -> u32 {
    u32::try_from(v).unwrap_or(0)
}

/// Shapes `c` by the policy; what mesh cannot translate goes to `warnings`.
pub fn apply(c: &mut Cluster, e: &Effective, who: &str, warnings: &mut Vec<String>) {
    let mut warn = |w: String| {
        if !warnings.contains(&w) {
            warnings.push(w);
        }
    };
    if let Some(lb) = &e.load_balancer {
        match (&lb.simple, &lb.consistent_hash) {
            (_, Some(ch)) => consistent_hash(c, ch),
            (Some(SimpleLb::RoundRobin), _) => c.lb_policy = LbPolicy::RoundRobin,
            (Some(SimpleLb::Random), _) => c.lb_policy = LbPolicy::Random,
            (Some(SimpleLb::LeastConn | SimpleLb::LeastRequest | SimpleLb::Unspecified), _) => {
                c.lb_policy = LbPolicy::LeastRequest
            }
            (Some(SimpleLb::Passthrough), _) => {
                c.discovery_type = DiscoveryType::OriginalDst;
                c.eds_cluster_config = None;
                c.lb_policy = LbPolicy::ClusterProvided;
            }
            (None, None) => {}
        }
        if lb.locality_lb_setting.is_some() || !lb.rest.is_empty() {
            warn(format!(
                "{who}: trafficPolicy.loadBalancer locality and warmup settings are not acted on by mesh yet"
            ));
        }
    }
    if let Some(pool) = &e.connection_pool {
        // istiod starts from unlimited thresholds and sets what the rule names.
        let cb = c.circuit_breakers.get_or_insert_with(Default::default);
        if cb.thresholds.is_empty() {
            cb.thresholds.push(Default::default());
        }
        let th = &mut cb.thresholds[0];
        if let Some(tcp) = &pool.tcp {
            if let Some(n) = tcp.max_connections {
                th.max_connections = Some(clamp_u32(n));
            }
            if let Some(d) = duration(tcp.connect_timeout.as_deref()) {
                c.connect_timeout = Some(d);
            }
            // idleTimeout: on the tcp_proxy of TCP routes (`tcp_timeouts`) and, for HTTP
            // services without http.idleTimeout, on their clusters (`upstream_protocol`).
            if tcp.tcp_keepalive.is_some() || tcp.max_connection_duration.is_some() {
                warn(format!(
                    "{who}: connectionPool.tcp keepalive and maxConnectionDuration are not acted on by mesh yet"
                ));
            }
        }
        if let Some(http) = &pool.http {
            if let Some(n) = http.http1_max_pending_requests {
                th.max_pending_requests = Some(clamp_u32(n));
            }
            if let Some(n) = http.http2_max_requests {
                th.max_requests = Some(clamp_u32(n));
            }
            if let Some(n) = http.max_retries {
                th.max_retries = Some(clamp_u32(n));
            }
            if let Some(n) = http.max_requests_per_connection.filter(|n| *n > 0) {
                c.max_requests_per_connection = Some(clamp_u32(n));
            }
            // h2UpgradePolicy and useClientProtocol: see `upstream_protocol`.
            // idleTimeout: on the cluster's HTTP protocol options (`upstream_protocol`).
            if http.max_concurrent_streams.is_some() {
                warn(format!(
                    "{who}: connectionPool.http maxConcurrentStreams is not acted on by mesh yet"
                ));
            }
        }
    }
    if let Some(b) = &e.retry_budget {
        let cb = c.circuit_breakers.get_or_insert_with(Default::default);
        if cb.thresholds.is_empty() {
            cb.thresholds.push(Default::default());
        }
        cb.thresholds[0].retry_budget = Some(crate::xds::cluster::RetryBudget {
            budget_percent: Some(crate::xds::hcm::Percent {
                value: b["percent"].as_f64().unwrap_or(20.0),
            }),
            min_retry_concurrency: Some(
                b["minRetryConcurrency"]
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(3),
            ),
        });
    }
    if let Some(o) = &e.outlier_detection {
        let mut out = XdsOutlier {
            // istiod turns Envoy's success-rate ejection off.
            enforcing_success_rate: Some(0),
            ..Default::default()
        };
        if let Some(n) = o.consecutive_5xx_errors {
            out.consecutive_5xx = Some(n);
            out.enforcing_consecutive_5xx = Some(if n > 0 { 100 } else { 0 });
        }
        if let Some(n) = o.consecutive_gateway_errors {
            out.consecutive_gateway_failure = Some(n);
            out.enforcing_consecutive_gateway_failure = Some(if n > 0 { 100 } else { 0 });
        }
        out.interval = duration(o.interval.as_deref());
        out.base_ejection_time = duration(o.base_ejection_time.as_deref());
        out.max_ejection_percent = o.max_ejection_percent.map(clamp_u32);
        if o.split_external_local_origin_errors == Some(true)
            || o.consecutive_local_origin_failures.is_some()
        {
            warn(format!(
                "{who}: outlierDetection local-origin settings are not acted on by mesh yet"
            ));
        }
        if let Some(p) = o.min_health_percent {
            c.common_lb_config = Some(serde_json::json!({
                "healthy_panic_threshold": {"value": f64::from(p)},
                "locality_weighted_lb_config": {},
            }));
        }
        c.outlier_detection = Some(out);
    }
}

/// `consistentHash`: RING_HASH (the default, or `ringHash`/`minimumRingSize`) or MAGLEV.
fn consistent_hash(c: &mut Cluster, ch: &Value) {
    if let Some(m) = ch.get("maglev") {
        c.lb_policy = LbPolicy::Maglev;
        c.maglev_lb_config = Some(MaglevLbConfig {
            table_size: m["tableSize"].as_u64(),
        });
        return;
    }
    c.lb_policy = LbPolicy::RingHash;
    let min = ch["ringHash"]["minimumRingSize"]
        .as_u64()
        .or_else(|| ch["minimumRingSize"].as_u64())
        .unwrap_or(1024);
    c.ring_hash_lb_config = Some(RingHashLbConfig {
        minimum_ring_size: Some(min),
        ..Default::default()
    });
}

/// The routes' `hash_policy` for a destination whose policy hashes (`consistentHash`).
pub fn hash_policy(e: &Effective) -> Vec<HashPolicy> {
    let Some(ch) = e
        .load_balancer
        .as_ref()
        .and_then(|lb| lb.consistent_hash.as_ref())
    else {
        return Vec::new();
    };
    let mut p = HashPolicy::default();
    if let Some(h) = ch["httpHeaderName"].as_str() {
        p.header = Some(HashHeader {
            header_name: h.to_owned(),
            regex_rewrite: None,
        });
    } else if let Some(cookie) = ch.get("httpCookie") {
        p.cookie = Some(HashCookie {
            name: cookie["name"].as_str().unwrap_or_default().to_owned(),
            ttl: duration(cookie["ttl"].as_str()),
            path: cookie["path"].as_str().unwrap_or_default().to_owned(),
        });
    } else if ch["useSourceIp"].as_bool() == Some(true) {
        p.connection_properties = Some(HashConnectionProperties { source_ip: true });
    } else if let Some(q) = ch["httpQueryParameterName"].as_str() {
        p.query_parameter = Some(HashQueryParameter { name: q.to_owned() });
    } else {
        return Vec::new();
    }
    vec![p]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Resource;

    fn dr(text: &str) -> DestinationRule {
        match crate::api::decode("dr.yaml", text)
            .unwrap()
            .remove(0)
            .resource
        {
            Resource::DestinationRule(d) => d,
            other => panic!("{other:?}"),
        }
    }

    const DR: &str = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: catalog, namespace: istioinaction}\nspec:\n  host: catalog\n  trafficPolicy:\n    loadBalancer:\n      consistentHash: {httpHeaderName: x-user}\n    connectionPool:\n      tcp: {maxConnections: 1, connectTimeout: 2s}\n      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}\n    outlierDetection: {consecutive5xxErrors: 1, interval: 5s, baseEjectionTime: 30s, maxEjectionPercent: 100}\n    retryBudget: {percent: 10, minRetryConcurrency: 1}\n    portLevelSettings:\n    - port: {number: 9090}\n      loadBalancer: {simple: RANDOM}\n  subsets:\n  - name: v2\n    labels: {version: v2}\n    trafficPolicy:\n      loadBalancer:\n        consistentHash: {maglev: {tableSize: 65537}, useSourceIp: true}\n";

    #[test]
    fn a_destination_rule_shapes_its_clusters_and_routes() {
        let d = dr(DR);
        let e = effective(Some(&d), None, 80);
        let mut c = crate::pilot::build::outbound_cluster(
            80,
            "",
            "catalog.istioinaction.svc.cluster.local",
            "catalog",
            "istioinaction",
        );
        let mut w = Vec::new();
        apply(&mut c, &e, "DestinationRule istioinaction/catalog", &mut w);
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(c.lb_policy, LbPolicy::RingHash);
        assert_eq!(
            c.ring_hash_lb_config.as_ref().unwrap().minimum_ring_size,
            Some(1024)
        );
        let th = &c.circuit_breakers.as_ref().unwrap().thresholds[0];
        assert_eq!(th.max_connections, Some(1));
        assert_eq!(th.max_pending_requests, Some(1));
        assert_eq!(th.max_requests, Some(u32::MAX), "unlimited stays");
        let budget = th.retry_budget.as_ref().unwrap();
        assert_eq!(budget.budget_percent.as_ref().unwrap().value, 10.0);
        assert_eq!(budget.min_retry_concurrency, Some(1));
        assert_eq!(c.connect_timeout, Some(Duration::from_secs(2)));
        assert_eq!(c.max_requests_per_connection, Some(1));
        let o = c.outlier_detection.as_ref().unwrap();
        assert_eq!(
            (o.consecutive_5xx, o.enforcing_consecutive_5xx),
            (Some(1), Some(100))
        );
        assert_eq!(o.max_ejection_percent, Some(100));
        assert_eq!(o.enforcing_success_rate, Some(0));
        let hp = hash_policy(&e);
        assert_eq!(hp[0].header.as_ref().unwrap().header_name, "x-user");
        // Port level wins for its port; the subset's own policy for the subset.
        assert_eq!(
            effective(Some(&d), None, 9090)
                .load_balancer
                .unwrap()
                .simple,
            Some(SimpleLb::Random)
        );
        let v2 = effective(Some(&d), Some(&d.spec.subsets[0]), 80);
        let mut c2 = crate::pilot::build::outbound_cluster(
            80,
            "v2",
            "catalog.istioinaction.svc.cluster.local",
            "catalog",
            "istioinaction",
        );
        apply(&mut c2, &v2, "dr", &mut w);
        assert_eq!(c2.lb_policy, LbPolicy::Maglev);
        assert!(hash_policy(&v2)[0].connection_properties.is_some());
        assert!(
            v2.outlier_detection.is_some(),
            "the top level's other fields stay"
        );
    }
}
