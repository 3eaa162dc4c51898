//! Upstream clusters at run time: hosts from static config, DNS (STRICT_DNS, LOGICAL_DNS,
//! re-resolved every `dns_refresh_rate`) or EDS pushes; load balancing; connection pools; the
//! cluster's stats and its retry circuit breaker.

pub mod dial;
pub mod h2pool;
pub mod hashing;
pub mod health_check;
pub mod host;
pub mod lb;
pub mod outlier;
pub mod pool;
pub mod protocol;
pub mod stats;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::net::resolve::{Family, Resolver};
use crate::plog;
use crate::xds::cluster::{Cluster as XdsCluster, DiscoveryType, DnsLookupFamily, LbPolicy};
use crate::xds::core::Locality;
use crate::xds::endpoint::{ClusterLoadAssignment, HealthStatus};

use super::Rejected;
use super::log::{Component, Level, Logger};
use super::stats::Store;
use super::tls::ClusterTransport;
use super::tls::client::UpstreamTls;
use super::tls::secrets::SecretManager;
use health_check::{CheckConfig, Checker};
use host::Host;
use lb::{Balancer, Choice, HashLb, HostSet};
use outlier::{Detector, Outcome, OutlierConfig};
use pool::{PoolCtx, PoolLimits};
use stats::ClusterStats;

/// Envoy's default circuit-breaker thresholds (both priorities).
pub const DEFAULT_MAX_CONNECTIONS: u64 = 1024;
pub const DEFAULT_MAX_PENDING: u64 = 1024;
pub const DEFAULT_MAX_REQUESTS: u64 = 1024;
pub const DEFAULT_MAX_RETRIES: u64 = 3;

/// Envoy's default limit on upstream response headers (60 KiB).
const MAX_RESPONSE_HEADERS: usize = 60 * 1024;

/// One endpoint as configured, before DNS.
#[derive(Debug, Clone)]
struct EndpointSpec {
    address: String,
    port: u16,
    hostname: String,
    weight: u32,
    priority: u32,
    locality: Locality,
    health: HealthStatus,
    /// The endpoint's metadata (picks its transport socket).
    metadata: Option<crate::xds::core::Metadata>,
}

#[derive(Debug)]
pub struct Cluster {
    pub config: XdsCluster,
    pub name: String,
    pub stats: Arc<ClusterStats>,
    pub added_via_api: bool,
    pub version_info: String,
    pub last_updated: SystemTime,
    hosts: ArcSwap<HostSet>,
    balancer: Balancer,
    endpoints: Vec<EndpointSpec>,
    log: Arc<Logger>,
    resolver: Resolver,
    /// Retries in flight, for the `max_retries` circuit breaker.
    retries_active: AtomicU64,
    /// Requests waiting for a connection, for `max_pending_requests`.
    pending: AtomicU64,
    pub limits: Limits,
    /// ORIGINAL_DST: one host per original destination, made on first use.
    original_hosts: std::sync::Mutex<HashMap<SocketAddr, Arc<Host>>>,
    cancel: CancellationToken,
    /// TLS to the endpoints (`transport_socket`, `transport_socket_matches`); `None` for
    /// plain TCP.
    pub transport: Option<Arc<ClusterTransport>>,
    /// Passive health checking (`outlier_detection`).
    pub outlier: Option<Arc<Detector>>,
    /// Active health checking (`health_checks`).
    pub health_checker: Option<Arc<Checker>>,
    /// The upstream HTTP version (HTTP/1.1 unless the config asks for HTTP/2).
    pub protocol: protocol::UpstreamProtocol,
}

impl Cluster {
    /// Validates and builds a cluster. `path` locates errors (`static_resources.clusters[0]`).
    /// DNS clusters start empty; [`Cluster::start`] resolves them.
    #[allow(clippy::too_many_arguments)]
    pub fn build(
        cfg: &XdsCluster,
        path: &str,
        store: &Store,
        log: Arc<Logger>,
        resolver: Resolver,
        added_via_api: bool,
        version_info: &str,
        secrets: &Arc<SecretManager>,
    ) -> Result<Arc<Cluster>, Vec<Rejected>> {
        let mut errors = Vec::new();
        if cfg.name.is_empty() {
            errors.push(Rejected::new(
                format!("{path}.name"),
                "ClusterValidationError.Name: value length must be at least 1 characters",
            ));
        }
        match cfg.lb_policy {
            LbPolicy::RoundRobin
            | LbPolicy::Random
            | LbPolicy::LeastRequest
            | LbPolicy::RingHash
            | LbPolicy::Maglev => {}
            LbPolicy::ClusterProvided if cfg.discovery_type == DiscoveryType::OriginalDst => {}
            other => errors.push(Rejected::new(
                format!("{path}.lb_policy"),
                format!("lb_policy {other:?} is not supported by mesh yet (supported: ROUND_ROBIN, LEAST_REQUEST, RANDOM, RING_HASH, MAGLEV)"),
            )),
        }
        if let Some(r) = &cfg.ring_hash_lb_config {
            let min = r
                .minimum_ring_size
                .unwrap_or(hashing::DEFAULT_MIN_RING_SIZE);
            let max = r
                .maximum_ring_size
                .unwrap_or(hashing::DEFAULT_MAX_RING_SIZE);
            if max > hashing::DEFAULT_MAX_RING_SIZE {
                errors.push(Rejected::new(
                    format!("{path}.ring_hash_lb_config.maximum_ring_size"),
                    "RingHashLbConfigValidationError.MaximumRingSize: value must be less than or equal to 8388608",
                ));
            } else if min > max {
                errors.push(Rejected::new(
                    format!("{path}.ring_hash_lb_config"),
                    format!("ring hash: minimum_ring_size ({min}) > maximum_ring_size ({max})"),
                ));
            }
            if r.hash_function != crate::xds::cluster::HashFunction::XxHash {
                errors.push(Rejected::new(
                    format!("{path}.ring_hash_lb_config.hash_function"),
                    "hash_function MURMUR_HASH_2 is not supported by mesh yet (supported: XX_HASH)",
                ));
            }
        }
        if let Some(m) = &cfg.maglev_lb_config
            && let Some(size) = m.table_size
            && !is_prime(size)
        {
            errors.push(Rejected::new(
                format!("{path}.maglev_lb_config.table_size"),
                format!("The table size of maglev must be prime number ({size})"),
            ));
        }
        if cfg.least_request_lb_config.is_some() && cfg.lb_policy != LbPolicy::LeastRequest {
            errors.push(Rejected::new(
                format!("{path}.least_request_lb_config"),
                "least_request_lb_config needs lb_policy LEAST_REQUEST",
            ));
        }
        let limits = match Limits::build(cfg, path) {
            Ok(l) => l,
            Err(e) => {
                errors.push(e);
                Limits::default()
            }
        };
        let endpoints = match endpoint_specs(cfg, path) {
            Ok(e) => e,
            Err(mut e) => {
                errors.append(&mut e);
                Vec::new()
            }
        };
        match cfg.discovery_type {
            DiscoveryType::Static => {
                for (i, e) in endpoints.iter().enumerate() {
                    if e.address.parse::<IpAddr>().is_err() {
                        errors.push(Rejected::new(
                            format!("{path}.load_assignment.endpoints[{i}]"),
                            format!("malformed IP address: {}. Consider setting resolver_name or setting cluster type to 'STRICT_DNS' or 'LOGICAL_DNS'", e.address),
                        ));
                    }
                }
            }
            DiscoveryType::LogicalDns => {
                if endpoints.len() != 1 {
                    errors.push(Rejected::new(
                        format!("{path}.load_assignment"),
                        "LOGICAL_DNS clusters must have a single locality_lb_endpoint and a single lb_endpoint",
                    ));
                }
            }
            DiscoveryType::StrictDns => {}
            DiscoveryType::Eds => {
                if !added_via_api {
                    errors.push(Rejected::new(
                        format!("{path}.type"),
                        "EDS clusters need a control plane; `mesh envoy` runs static bootstraps (use STATIC, STRICT_DNS or LOGICAL_DNS), `mesh up` runs the control plane",
                    ));
                }
            }
            DiscoveryType::OriginalDst => {
                if cfg
                    .load_assignment
                    .as_ref()
                    .is_some_and(|l| !l.endpoints.is_empty())
                {
                    errors.push(Rejected::new(
                        format!("{path}.load_assignment"),
                        "ORIGINAL_DST clusters take their hosts from connections, not from load_assignment",
                    ));
                }
            }
        }
        let mut checks = Vec::new();
        for (i, h) in cfg.health_checks.iter().enumerate() {
            match CheckConfig::build(h, &format!("{path}.health_checks[{i}]"), &cfg.name) {
                Ok(c) => checks.push(c),
                Err(mut e) => errors.append(&mut e),
            }
        }
        if checks.len() > 1 {
            errors.push(Rejected::new(
                format!("{path}.health_checks"),
                "more than one health checker per cluster is not supported by mesh yet",
            ));
        }
        let outlier = match &cfg.outlier_detection {
            Some(o) => match OutlierConfig::build(o, &format!("{path}.outlier_detection")) {
                Ok(c) => Some(c),
                Err(mut e) => {
                    errors.append(&mut e);
                    None
                }
            },
            None => None,
        };
        let protocol = match protocol::UpstreamProtocol::build(cfg, path) {
            Ok(p) => p,
            Err(mut e) => {
                errors.append(&mut e);
                Default::default()
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let outlier = outlier.map(|c| {
            Arc::new(Detector::new(
                c,
                store,
                &format!("cluster.{}", cfg.stat_name()),
            ))
        });
        let health_checker = checks.pop().map(|c| {
            Arc::new(Checker::new(
                c,
                store,
                &format!("cluster.{}", cfg.stat_name()),
            ))
        });
        let scope = store.scope(&format!("cluster.{}", cfg.stat_name()));
        let transport = ClusterTransport::build(
            cfg.transport_socket.as_ref(),
            &cfg.transport_socket_matches,
            path,
            &scope,
            secrets,
        )?;
        let stats = Arc::new(ClusterStats::new(scope));
        let cluster = Cluster {
            config: cfg.clone(),
            name: cfg.name.clone(),
            stats,
            added_via_api,
            version_info: version_info.to_owned(),
            last_updated: SystemTime::now(),
            hosts: ArcSwap::from_pointee(HostSet::default()),
            balancer: Balancer::default(),
            endpoints,
            log,
            resolver,
            retries_active: AtomicU64::new(0),
            pending: AtomicU64::new(0),
            limits,
            original_hosts: std::sync::Mutex::new(HashMap::new()),
            cancel: CancellationToken::new(),
            transport,
            outlier,
            health_checker,
            protocol,
        };
        if cfg.discovery_type == DiscoveryType::Static {
            let hosts = cluster
                .endpoints
                .iter()
                .filter_map(|e| {
                    let ip: IpAddr = e.address.parse().ok()?;
                    Some(Arc::new(cluster.host_from(
                        e,
                        SocketAddr::new(ip, e.port),
                        String::new(),
                    )))
                })
                .collect();
            cluster.set_hosts(hosts);
        }
        Ok(Arc::new(cluster))
    }

    /// Resolves DNS clusters once (so the first request finds hosts) and keeps them fresh.
    pub async fn start(self: &Arc<Self>) {
        self.start_outlier_detection();
        self.start_health_checks();
        if !self.is_dns() {
            return;
        }
        self.refresh_dns().await;
        let me = Arc::downgrade(self);
        let cancel = self.cancel.clone();
        let every = self
            .config
            .dns_refresh_rate
            .map(|d| d.get())
            .filter(|d| *d >= Duration::from_millis(1))
            .unwrap_or(Duration::from_secs(5));
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                let Some(cluster) = me.upgrade() else { return };
                cluster.refresh_dns().await;
            }
        });
    }

    /// The outlier detector's interval tick, for as long as the cluster lives.
    fn start_outlier_detection(self: &Arc<Self>) {
        let Some(detector) = self.outlier.clone() else {
            return;
        };
        let me = Arc::downgrade(self);
        let cancel = self.cancel.clone();
        let every = detector.config.interval;
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
                let Some(cluster) = me.upgrade() else { return };
                detector.tick(&cluster.hosts().hosts, std::time::Instant::now());
            }
        });
    }

    /// The active health checker: a round at once, then every `interval` (every
    /// `no_traffic_interval` while the cluster has had no requests), as Envoy does.
    fn start_health_checks(self: &Arc<Self>) {
        let Some(checker) = self.health_checker.clone() else {
            return;
        };
        let me = Arc::downgrade(self);
        let cancel = self.cancel.clone();
        tokio::spawn(async move {
            loop {
                let Some(cluster) = me.upgrade() else { return };
                let hosts = cluster.hosts().hosts.clone();
                let had_traffic = cluster.stats.upstream_rq_total.value() > 0;
                drop(cluster);
                checker.round(&hosts).await;
                if let Some(cluster) = me.upgrade() {
                    cluster.refresh_membership();
                }
                let every = if had_traffic {
                    checker.config.interval
                } else {
                    checker.config.no_traffic_interval
                };
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = tokio::time::sleep(every) => {}
                }
            }
        });
    }

    /// `membership_healthy` after health changed outside an endpoint update.
    fn refresh_membership(&self) {
        let set = self.hosts.load();
        self.stats
            .membership_healthy
            .set(set.healthy_count() as u64);
    }

    /// An attempt's outcome on `host`, for outlier detection.
    pub fn report(&self, host: &Host, outcome: Outcome) {
        if let Some(d) = &self.outlier {
            d.report(host, outcome, &self.hosts().hosts);
        }
    }

    fn is_dns(&self) -> bool {
        matches!(
            self.config.discovery_type,
            DiscoveryType::StrictDns | DiscoveryType::LogicalDns
        )
    }

    async fn refresh_dns(&self) {
        let family = match self.config.dns_lookup_family {
            DnsLookupFamily::Auto => Family::Auto,
            DnsLookupFamily::V4Only => Family::V4Only,
            DnsLookupFamily::V6Only => Family::V6Only,
            DnsLookupFamily::V4Preferred => Family::V4Preferred,
            DnsLookupFamily::All => Family::All,
        };
        self.stats.update_attempt.inc();
        let logical = self.config.discovery_type == DiscoveryType::LogicalDns;
        let mut resolved: Vec<(SocketAddr, &EndpointSpec)> = Vec::new();
        let mut failed = false;
        for e in &self.endpoints {
            match self.resolver.resolve(&e.address, family).await {
                Ok(ips) => {
                    // LOGICAL_DNS connects to the first address of the latest answer.
                    let take = if logical { 1 } else { ips.len() };
                    for ip in ips.into_iter().take(take) {
                        resolved.push((SocketAddr::new(ip, e.port), e));
                    }
                }
                Err(err) => {
                    failed = true;
                    plog!(
                        self.log,
                        Level::Warning,
                        Component::Dns,
                        "cluster '{}': cannot resolve '{}': {} (for names only this machine knows, run with --resolve {}=IP)",
                        self.name,
                        e.address,
                        err,
                        e.address
                    );
                }
            }
        }
        if failed {
            self.stats.update_failure.inc();
            if resolved.is_empty() {
                return;
            }
        }
        let current = self.hosts.load();
        let same = current.hosts.len() == resolved.len()
            && current
                .hosts
                .iter()
                .zip(&resolved)
                .all(|(h, (addr, _))| h.address == *addr);
        if same {
            self.stats.update_no_rebuild.inc();
            self.stats.update_success.inc();
            return;
        }
        let by_addr: HashMap<SocketAddr, Arc<Host>> = current
            .hosts
            .iter()
            .map(|h| (h.address, h.clone()))
            .collect();
        let hosts = resolved
            .into_iter()
            .map(|(addr, spec)| {
                by_addr
                    .get(&addr)
                    .cloned()
                    .unwrap_or_else(|| Arc::new(self.host_from(spec, addr, spec.hostname.clone())))
            })
            .collect();
        self.set_hosts(hosts);
        self.stats.update_success.inc();
        self.stats.membership_change.inc();
    }

    /// Replaces the hosts of an EDS cluster from a control-plane push.
    pub fn set_assignment(&self, cla: &ClusterLoadAssignment) {
        let current = self.hosts.load();
        let by_addr: HashMap<SocketAddr, Arc<Host>> = current
            .hosts
            .iter()
            .map(|h| (h.address, h.clone()))
            .collect();
        let mut hosts = Vec::new();
        for loc in &cla.endpoints {
            for lbe in &loc.lb_endpoints {
                let Some(ep) = &lbe.endpoint else { continue };
                let Some(addr) = ep.address.ip_socket_addr() else {
                    continue;
                };
                let weight = lbe.load_balancing_weight.unwrap_or(1);
                let socket = self.socket_match(lbe.metadata.as_ref());
                let workload = host::workload_of(lbe.metadata.as_ref());
                let locality = loc.locality.clone().unwrap_or_default();
                // A host moved to another priority or locality is a new host (failover).
                let reuse = by_addr.get(&addr).filter(|h| {
                    h.health == lbe.health_status
                        && h.weight == weight.max(1)
                        && h.socket_match == socket
                        && h.workload == workload
                        && h.priority == loc.priority
                        && h.locality == locality
                        && h.locality_weight == loc.load_balancing_weight
                });
                hosts.push(reuse.cloned().unwrap_or_else(|| {
                    Arc::new(
                        Host::new(
                            addr,
                            ep.hostname.clone(),
                            weight,
                            loc.priority,
                            locality.clone(),
                            lbe.health_status,
                        )
                        .with_socket_match(socket)
                        .with_metadata(lbe.metadata.as_ref())
                        .with_locality_weight(loc.load_balancing_weight),
                    )
                }));
            }
        }
        self.stats.update_attempt.inc();
        self.stats.update_success.inc();
        if hosts.is_empty() {
            self.stats.update_empty.inc();
        }
        self.set_hosts(hosts);
    }

    fn set_hosts(&self, hosts: Vec<Arc<Host>>) {
        if self.health_checker.is_some() {
            // A host new to the cluster waits for its first passing check; one that was
            // here keeps its state (also when its object was made anew).
            let old = self.hosts.load();
            for h in &hosts {
                match old.hosts.iter().find(|o| o.address == h.address) {
                    Some(o) => h.set_hc_failed(o.hc_failed()),
                    None => h.set_hc_failed(true),
                }
            }
        }
        let weighted = self
            .config
            .common_lb_config
            .as_ref()
            .is_some_and(|c| c.get("locality_weighted_lb_config").is_some());
        let set = HostSet::new(hosts).with_locality_weighting(weighted);
        self.stats.membership_total.set(set.hosts.len() as u64);
        self.stats
            .membership_healthy
            .set(set.healthy_count() as u64);
        self.stats
            .membership_degraded
            .set(set.degraded_count() as u64);
        self.stats.max_host_weight.set(
            set.hosts
                .iter()
                .map(|h| u64::from(h.weight))
                .max()
                .unwrap_or(0),
        );
        // Connections to hosts that left stay until their requests finish; idle ones go now.
        let old = self.hosts.swap(Arc::new(set));
        let new = self.hosts.load();
        for h in &old.hosts {
            if !new.hosts.iter().any(|n| Arc::ptr_eq(n, h)) {
                h.pool.clear();
                h.h2.clear();
            }
        }
    }

    pub fn hosts(&self) -> Arc<HostSet> {
        self.hosts.load_full()
    }

    /// Picks a host for a request, avoiding `exclude` when others are available. ORIGINAL_DST
    /// clusters connect to `original_dst`, the address the client was going to.
    pub fn choose_host(
        &self,
        exclude: &[SocketAddr],
        original_dst: Option<SocketAddr>,
        hash: Option<u64>,
    ) -> Option<Arc<Host>> {
        if self.config.discovery_type == DiscoveryType::OriginalDst {
            let dst = original_dst?;
            let mut hosts = self.original_hosts.lock().ok()?;
            let host = hosts
                .entry(dst)
                .or_insert_with(|| {
                    Arc::new(Host::new(
                        dst,
                        String::new(),
                        1,
                        0,
                        Locality::default(),
                        HealthStatus::Healthy,
                    ))
                })
                .clone();
            return Some(host);
        }
        let set = self.hosts.load();
        let hashed = match self.config.lb_policy {
            LbPolicy::RingHash => {
                let r = self.config.ring_hash_lb_config.clone().unwrap_or_default();
                Some(HashLb::Ring {
                    min_size: r
                        .minimum_ring_size
                        .unwrap_or(hashing::DEFAULT_MIN_RING_SIZE),
                    max_size: r
                        .maximum_ring_size
                        .unwrap_or(hashing::DEFAULT_MAX_RING_SIZE),
                })
            }
            LbPolicy::Maglev => Some(HashLb::Maglev {
                table_size: self
                    .config
                    .maglev_lb_config
                    .as_ref()
                    .and_then(|m| m.table_size)
                    .unwrap_or(hashing::DEFAULT_MAGLEV_TABLE_SIZE),
            }),
            _ => None,
        };
        let choice_count = self
            .config
            .least_request_lb_config
            .as_ref()
            .and_then(|c| c.choice_count)
            .unwrap_or(2);
        let chosen = match hashed {
            Some(lb) => self.balancer.choose_hashed(lb, &set, exclude, hash),
            None => self
                .balancer
                .choose(self.config.lb_policy, choice_count, &set, exclude),
        };
        match chosen {
            Some((host, choice)) => {
                if choice == Choice::Panic {
                    self.stats.lb_healthy_panic.inc();
                }
                Some(host)
            }
            None => {
                self.stats.upstream_cx_none_healthy.inc();
                None
            }
        }
    }

    pub fn pool_ctx<'a>(&'a self) -> PoolCtx<'a> {
        PoolCtx {
            stats: &self.stats,
            connect_timeout: self.config.connect_timeout(),
            max_requests_per_connection: self.config.max_requests_per_connection,
            log: &self.log,
            max_response_headers: MAX_RESPONSE_HEADERS,
            tls: None,
            idle_timeout: self.protocol.idle_timeout,
            limits: Some(PoolLimits {
                max_connections: self.limits.max_connections,
                max_pending_requests: self.limits.max_pending_requests,
                pending: &self.pending,
            }),
        }
    }

    /// Takes a slot in the retry circuit breaker (`max_retries`, default 3), or `None` when full.
    pub fn try_retry_slot(self: &Arc<Self>) -> Option<RetrySlot> {
        let max = self.max_retries_now();
        let taken = self
            .retries_active
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok();
        if !taken {
            self.stats.upstream_rq_retry_overflow.inc();
            return None;
        }
        if self.retries_active.load(Ordering::Acquire) >= max {
            self.stats.rq_retry_open.set(1);
        }
        Some(RetrySlot {
            cluster: self.clone(),
        })
    }

    /// The retry limit now: `max_retries`, or with a retry budget, that share of the active
    /// and pending requests (never below `min_retry_concurrency`), as Envoy computes it.
    fn max_retries_now(&self) -> u64 {
        match self.limits.retry_budget {
            Some((percent, min)) => {
                let active = self.stats.upstream_rq_active.value()
                    + self.stats.upstream_rq_pending_active.value();
                ((active as f64 * percent / 100.0) as u64).max(min)
            }
            None => self.limits.max_retries,
        }
    }

    /// Stops DNS refresh and drops idle connections.
    pub fn shutdown(&self) {
        self.cancel.cancel();
        for h in &self.hosts.load().hosts {
            h.pool.clear();
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// Circuit-breaker thresholds of the default priority (Envoy's defaults when unset).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    pub max_connections: u64,
    pub max_pending_requests: u64,
    pub max_requests: u64,
    pub max_retries: u64,
    /// `(budget_percent, min_retry_concurrency)`.
    pub retry_budget: Option<(f64, u64)>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_pending_requests: DEFAULT_MAX_PENDING,
            max_requests: DEFAULT_MAX_REQUESTS,
            max_retries: DEFAULT_MAX_RETRIES,
            retry_budget: None,
        }
    }
}

impl Limits {
    /// Reads the DEFAULT-priority thresholds (all four are enforced).
    fn build(cfg: &XdsCluster, _path: &str) -> Result<Limits, Rejected> {
        let mut limits = Limits::default();
        let Some(cb) = &cfg.circuit_breakers else {
            return Ok(limits);
        };
        for t in &cb.thresholds {
            if t.priority != crate::xds::cluster::RoutingPriority::Default {
                continue;
            }
            if let Some(v) = t.max_connections {
                limits.max_connections = u64::from(v);
            }
            if let Some(v) = t.max_pending_requests {
                limits.max_pending_requests = u64::from(v);
            }
            if let Some(v) = t.max_requests {
                limits.max_requests = u64::from(v);
            }
            if let Some(v) = t.max_retries {
                limits.max_retries = u64::from(v);
            }
            if let Some(b) = &t.retry_budget {
                limits.retry_budget = Some((
                    b.budget_percent.as_ref().map_or(20.0, |p| p.value),
                    u64::from(b.min_retry_concurrency.unwrap_or(3)),
                ));
            }
        }
        Ok(limits)
    }
}

/// Held while a retry is in flight.
pub struct RetrySlot {
    cluster: Arc<Cluster>,
}

impl Drop for RetrySlot {
    fn drop(&mut self) {
        self.cluster.retries_active.fetch_sub(1, Ordering::AcqRel);
        self.cluster.stats.rq_retry_open.set(0);
    }
}

impl Cluster {
    fn host_from(&self, e: &EndpointSpec, addr: SocketAddr, hostname: String) -> Host {
        Host::new(
            addr,
            hostname,
            e.weight,
            e.priority,
            e.locality.clone(),
            e.health,
        )
        .with_socket_match(self.socket_match(e.metadata.as_ref()))
        .with_metadata(e.metadata.as_ref())
    }

    /// Which of `transport_socket_matches` an endpoint with `metadata` uses.
    fn socket_match(&self, metadata: Option<&crate::xds::core::Metadata>) -> Option<u8> {
        self.transport
            .as_ref()
            .and_then(|t| t.match_index(metadata))
    }

    /// The TLS context for connections to `host` (`None`: plain TCP).
    pub fn tls_for(&self, host: &Host) -> Option<Arc<UpstreamTls>> {
        self.transport
            .as_ref()
            .and_then(|t| t.for_index(host.socket_match))
            .cloned()
    }

    /// The pool settings for `host`, with its TLS context.
    pub fn pool_ctx_for<'a>(&'a self, host: &Host) -> PoolCtx<'a> {
        let mut ctx = self.pool_ctx();
        ctx.tls = self.tls_for(host);
        ctx
    }
}

fn endpoint_specs(cfg: &XdsCluster, path: &str) -> Result<Vec<EndpointSpec>, Vec<Rejected>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    let Some(cla) = &cfg.load_assignment else {
        return Ok(out);
    };
    for (i, loc) in cla.endpoints.iter().enumerate() {
        for (j, lbe) in loc.lb_endpoints.iter().enumerate() {
            let at = format!("{path}.load_assignment.endpoints[{i}].lb_endpoints[{j}]");
            let Some(ep) = &lbe.endpoint else {
                errors.push(Rejected::new(&at, "an lb_endpoint needs an `endpoint`"));
                continue;
            };
            let Some(sa) = &ep.address.socket_address else {
                errors.push(Rejected::new(
                    format!("{at}.endpoint.address"),
                    "only socket_address endpoints are supported",
                ));
                continue;
            };
            let port = match u16::try_from(sa.port_value) {
                Ok(p) if p > 0 => p,
                _ => {
                    errors.push(Rejected::new(
                        format!("{at}.endpoint.address.socket_address.port_value"),
                        format!("invalid port {}: must be 1-65535", sa.port_value),
                    ));
                    continue;
                }
            };
            if lbe.load_balancing_weight == Some(0) {
                errors.push(Rejected::new(
                    format!("{at}.load_balancing_weight"),
                    "value must be greater than or equal to 1",
                ));
            }
            out.push(EndpointSpec {
                address: sa.address.clone(),
                port,
                hostname: if ep.hostname.is_empty() {
                    sa.address.clone()
                } else {
                    ep.hostname.clone()
                },
                weight: lbe.load_balancing_weight.unwrap_or(1),
                priority: loc.priority,
                locality: loc.locality.clone().unwrap_or_default(),
                health: lbe.health_status,
                metadata: lbe.metadata.clone(),
            });
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Maglev needs a prime table size (every skip then visits every slot).
fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n.is_multiple_of(d) {
            return false;
        }
        d += 1;
    }
    true
}
