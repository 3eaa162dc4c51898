//! The TCP proxy network filter: picks a cluster (or one of weighted clusters), connects to a
//! host of it (the original destination for ORIGINAL_DST clusters), and copies bytes both ways,
//! with Envoy's `tcp.<stat_prefix>.*` stats and access logs.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use crate::net::dial::BoxStream;
use crate::plog;
use crate::xds::tcp_proxy::TcpProxy;

use super::access_log::{AccessLogger, Record};
use super::cluster::Cluster;
use super::cluster::host::{dec, inc};
use super::flags::{Flag, Flags};
use super::istio::labels::Reporter;
use super::istio::metrics::TcpSeries;
use super::istio::peer::PeerInfo;
use super::istio::{StatsRt, TcpObservation};
use super::listener::BuildCtx;
use super::log::{Component, Level};
use super::stats::Counter;
use super::tls::ConnTls;
use super::{Proxy, Rejected};

/// What Istio's TCP report learns as the connection is set up.
#[derive(Default)]
struct IstioConn {
    downstream_tls: Option<Arc<ConnTls>>,
    upstream_tls: Option<Arc<ConnTls>>,
    cluster: Option<Arc<Cluster>>,
    workload: Option<Arc<str>>,
    series: Option<Arc<TcpSeries>>,
}

#[derive(Debug)]
pub struct TcpStats {
    pub downstream_cx_total: Counter,
    pub downstream_cx_no_route: Counter,
    pub downstream_cx_rx_bytes_total: Counter,
    pub downstream_cx_tx_bytes_total: Counter,
    pub idle_timeout: Counter,
    pub max_downstream_connection_duration: Counter,
}

#[derive(Debug)]
pub struct TcpProxyRt {
    pub config: TcpProxy,
    /// (cluster, weight); one entry with weight 1 for `cluster`.
    targets: Vec<(String, u32)>,
    access_logs: Vec<AccessLogger>,
    stats: TcpStats,
    /// Istio's `istio.stats` network filter in front of this tcp_proxy.
    istio: Option<Arc<StatsRt>>,
}

impl TcpProxyRt {
    pub fn build(
        cfg: &TcpProxy,
        path: &str,
        ctx: &BuildCtx<'_>,
        istio: Option<Arc<StatsRt>>,
    ) -> Result<Arc<TcpProxyRt>, Vec<Rejected>> {
        let mut errors = Vec::new();
        if cfg.stat_prefix.is_empty() {
            errors.push(Rejected::new(
                format!("{path}.stat_prefix"),
                "value length must be at least 1 characters",
            ));
        }
        let targets: Vec<(String, u32)> = match (&cfg.cluster, &cfg.weighted_clusters) {
            (Some(c), None) => vec![(c.clone(), 1)],
            (None, Some(w)) if !w.clusters.is_empty() => w
                .clusters
                .iter()
                .map(|c| (c.name.clone(), c.weight))
                .collect(),
            _ => {
                errors.push(Rejected::new(path, "TcpProxyValidationError.ClusterSpecifier: exactly one of cluster, weighted_clusters is required"));
                Vec::new()
            }
        };
        if let Some(known) = ctx.clusters {
            for (i, (name, _)) in targets.iter().enumerate() {
                if !known.contains(name) {
                    errors.push(Rejected::new(
                        format!("{path}.cluster"),
                        format!("tcp proxy: unknown cluster '{name}' (target {i})"),
                    ));
                }
            }
        }
        let mut access_logs = Vec::new();
        for (i, a) in cfg.access_log.iter().enumerate() {
            match AccessLogger::build(a, &format!("{path}.access_log[{i}]"), ctx.std) {
                Ok(l) => access_logs.push(l),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let s = ctx.store.scope(&format!("tcp.{}", cfg.stat_prefix));
        for c in [
            "downstream_flow_control_paused_reading_total",
            "downstream_flow_control_resumed_reading_total",
            "upstream_flush_total",
            "on_demand_cluster_attempt",
            "on_demand_cluster_missing",
        ] {
            s.counter(c);
        }
        for g in [
            "downstream_cx_rx_bytes_buffered",
            "downstream_cx_tx_bytes_buffered",
            "upstream_flush_active",
        ] {
            s.gauge(g);
        }
        Ok(Arc::new(TcpProxyRt {
            config: cfg.clone(),
            targets,
            access_logs,
            stats: TcpStats {
                downstream_cx_total: s.counter("downstream_cx_total"),
                downstream_cx_no_route: s.counter("downstream_cx_no_route"),
                downstream_cx_rx_bytes_total: s.counter("downstream_cx_rx_bytes_total"),
                downstream_cx_tx_bytes_total: s.counter("downstream_cx_tx_bytes_total"),
                idle_timeout: s.counter("idle_timeout"),
                max_downstream_connection_duration: s.counter("max_downstream_connection_duration"),
            },
            istio,
        }))
    }

    fn pick(&self) -> Option<&str> {
        let total: u64 = self.targets.iter().map(|(_, w)| u64::from(*w)).sum();
        if total == 0 {
            return self.targets.first().map(|(n, _)| n.as_str());
        }
        let mut point = rand::random_range(0..total);
        for (name, w) in &self.targets {
            if point < u64::from(*w) {
                return Some(name);
            }
            point -= u64::from(*w);
        }
        None
    }

    /// Proxies one downstream connection until either side closes.
    pub async fn serve(
        self: Arc<Self>,
        mut downstream: BoxStream,
        peer: SocketAddr,
        destination: SocketAddr,
        id: u64,
        downstream_tls: Option<Arc<crate::proxy::tls::ConnTls>>,
        proxy: Arc<Proxy>,
    ) {
        let started = Instant::now();
        let mut istio = IstioConn {
            downstream_tls: downstream_tls.clone(),
            ..IstioConn::default()
        };
        self.stats.downstream_cx_total.inc();
        let mut rec = Record::new(peer, destination);
        rec.downstream_tls = downstream_tls;
        rec.start = SystemTime::now();
        rec.protocol = "-";
        rec.connection_id = id;
        let applied = proxy.applied();
        let cluster = self.pick().and_then(|n| applied.cluster(n)).cloned();
        let Some(cluster) = cluster else {
            self.stats.downstream_cx_no_route.inc();
            rec.flags = Flags::of(Flag::NoClusterFound);
            self.finish(&mut rec, started, &mut istio);
            return;
        };
        rec.upstream_cluster = Some(cluster.name.clone());
        istio.cluster = Some(cluster.clone());
        let Some(host) = cluster.choose_host(&[], Some(destination), None) else {
            rec.flags = Flags::of(Flag::NoHealthyUpstream);
            self.finish(&mut rec, started, &mut istio);
            return;
        };
        rec.upstream_host = Some(host.address);
        istio.workload = host.workload.clone();
        let stats = &cluster.stats;
        stats.upstream_cx_total.inc();
        inc(&host.stats.cx_total);
        let connect = tokio::time::timeout(
            cluster.config.connect_timeout(),
            crate::net::dial_tcp(host.address),
        )
        .await;
        let upstream = match connect {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                stats.upstream_cx_connect_fail.inc();
                inc(&host.stats.cx_connect_fail);
                cluster.report(&host, super::cluster::outlier::Outcome::LocalFailure);
                plog!(
                    proxy.log,
                    Level::Debug,
                    Component::Connection,
                    "[C{id}] tcp proxy: connection to {} failed: {e}",
                    host.address
                );
                rec.flags = Flags::of(Flag::UpstreamConnectionFailure);
                rec.upstream_transport_failure_reason = Some(format!("delayed connect error: {e}"));
                self.finish(&mut rec, started, &mut istio);
                return;
            }
            Err(_) => {
                stats.upstream_cx_connect_fail.inc();
                stats.upstream_cx_connect_timeout.inc();
                inc(&host.stats.cx_connect_fail);
                cluster.report(&host, super::cluster::outlier::Outcome::LocalFailure);
                rec.flags = Flags::of(Flag::UpstreamConnectionFailure);
                self.finish(&mut rec, started, &mut istio);
                return;
            }
        };
        rec.upstream_local = upstream.local_addr().ok();
        // The cluster's transport socket for this host: TLS origination, or plain bytes.
        let mut upstream: BoxStream = match cluster.tls_for(&host) {
            Some(tls) => match tls
                .connect(Box::new(upstream), host.address.ip(), false)
                .await
            {
                Ok((s, facts)) => {
                    istio.upstream_tls = Some(facts);
                    s
                }
                Err(e) => {
                    stats.upstream_cx_connect_fail.inc();
                    inc(&host.stats.cx_connect_fail);
                    plog!(
                        proxy.log,
                        Level::Debug,
                        Component::Connection,
                        "[C{id}] tcp proxy: TLS handshake with {} failed: {e}",
                        host.address
                    );
                    rec.flags = Flags::of(Flag::UpstreamConnectionFailure);
                    rec.upstream_transport_failure_reason = Some(e.0);
                    self.finish(&mut rec, started, &mut istio);
                    return;
                }
            },
            None => Box::new(upstream),
        };
        stats.upstream_cx_active.inc();
        inc(&host.stats.cx_active);
        // Connected: Istio counts the connection as opened once it knows its peer.
        istio.series = self.istio_open(&rec, &istio);
        // Envoy's default idle timeout is an hour; `0s` turns it off.
        let idle = match self.config.idle_timeout {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d.get()),
            None => Some(std::time::Duration::from_secs(3600)),
        };
        let max = self
            .config
            .max_downstream_connection_duration
            .map(|d| d.get())
            .filter(|d| !d.is_zero());
        let (rx, tx, ended) =
            super::tcp_idle::copy(&mut downstream, &mut upstream, idle, max).await;
        match ended {
            super::tcp_idle::Ended::IdleTimeout => {
                self.stats.idle_timeout.inc();
                plog!(
                    proxy.log,
                    Level::Debug,
                    Component::Connection,
                    "[C{id}] tcp proxy: idle timeout"
                );
            }
            super::tcp_idle::Ended::MaxDuration => {
                self.stats.max_downstream_connection_duration.inc();
            }
            super::tcp_idle::Ended::Closed => {}
        }
        self.stats.downstream_cx_rx_bytes_total.add(rx);
        self.stats.downstream_cx_tx_bytes_total.add(tx);
        stats.upstream_cx_tx_bytes_total.add(rx);
        stats.upstream_cx_rx_bytes_total.add(tx);
        stats.upstream_cx_active.dec();
        stats.upstream_cx_destroy.inc();
        dec(&host.stats.cx_active);
        rec.bytes_received = rx;
        rec.bytes_sent = tx;
        self.finish(&mut rec, started, &mut istio);
    }

    /// Counts an opened connection in Istio's metrics, with what is known of the peer.
    fn istio_open(&self, rec: &Record, c: &IstioConn) -> Option<Arc<TcpSeries>> {
        let stats = self.istio.as_ref()?;
        let flags = rec.flags.short();
        let (peer, tls) = match stats.reporter {
            Reporter::Destination => (None, c.downstream_tls.as_deref()),
            Reporter::Source => (
                c.workload
                    .as_deref()
                    .and_then(PeerInfo::from_endpoint_metadata),
                c.upstream_tls.as_deref(),
            ),
        };
        Some(
            stats.tcp_opened(&TcpObservation {
                peer,
                peer_principal: tls.and_then(|t| t.peer_uri_san()),
                local_principal: tls.and_then(|t| t.local_uri_san.as_deref()),
                cluster: c
                    .cluster
                    .as_ref()
                    .map(|cl| (cl.name.as_str(), cl.config.metadata.as_ref())),
                response_flags: &flags,
            }),
        )
    }

    fn finish(&self, rec: &mut Record, started: Instant, istio: &mut IstioConn) {
        if self.istio.is_some() {
            // A connection that never reached its upstream is opened and closed at once.
            let series = match istio.series.take() {
                Some(s) => Some(s),
                None => self.istio_open(rec, istio),
            };
            if let Some(s) = series {
                s.received.add(rec.bytes_received);
                s.sent.add(rec.bytes_sent);
                s.closed.inc();
            }
        }
        if self.access_logs.is_empty() {
            return;
        }
        rec.duration = Some(started.elapsed());
        for l in &self.access_logs {
            l.log(rec);
        }
    }
}
