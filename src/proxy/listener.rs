//! Listeners: bind an address, accept connections, and hand each to its filter chain (the HTTP
//! connection manager). Draining stops accepting and lets open connections finish.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::plog;
use crate::xds::listener::{Listener, NetworkFilterConfig};

use super::access_log::StdStreams;
use super::http::hcm::HcmRt;
use super::log::{Component, Level, Logger};
use super::stats::{Counter, Gauge, Histogram, Store, Unit};
use super::{Proxy, Rejected};

/// `listener.<address>.*`.
#[derive(Debug)]
pub struct ListenerStats {
    pub downstream_cx_total: Counter,
    pub downstream_cx_destroy: Counter,
    pub downstream_cx_active: Gauge,
    pub downstream_cx_length_ms: Histogram,
}

impl ListenerStats {
    pub fn new(store: &Store, prefix: &str) -> ListenerStats {
        let s = store.scope(prefix);
        for c in [
            "downstream_cx_overflow",
            "downstream_cx_overload_reject",
            "downstream_global_cx_overflow",
            "downstream_listener_filter_error",
            "downstream_listener_filter_remote_close",
            "downstream_pre_cx_timeout",
            "extension_config_missing",
            "network_extension_config_missing",
            "no_filter_chain_match",
        ] {
            s.counter(c);
        }
        s.gauge("downstream_pre_cx_active");
        ListenerStats {
            downstream_cx_total: s.counter("downstream_cx_total"),
            downstream_cx_destroy: s.counter("downstream_cx_destroy"),
            downstream_cx_active: s.gauge("downstream_cx_active"),
            downstream_cx_length_ms: s.histogram("downstream_cx_length_ms", Unit::Milliseconds),
        }
    }
}

/// One listener at run time.
#[derive(Debug)]
pub struct ListenerRt {
    pub config: Listener,
    pub name: String,
    pub address: SocketAddr,
    pub added_via_api: bool,
    pub last_updated: SystemTime,
    pub stats: Arc<ListenerStats>,
    hcm: Arc<HcmRt>,
    /// Stops this listener alone (removed by a config update).
    stop: CancellationToken,
    active: Arc<AtomicU64>,
    bound: std::sync::Mutex<Option<SocketAddr>>,
}

impl ListenerRt {
    /// Validates and builds a listener. With `clusters`, routes must name known clusters.
    pub fn build(
        cfg: &Listener,
        path: &str,
        store: &Store,
        log: &Arc<Logger>,
        clusters: Option<&HashSet<String>>,
        std: &StdStreams,
        added_via_api: bool,
    ) -> Result<Arc<ListenerRt>, Vec<Rejected>> {
        let mut errors = Vec::new();
        let address = match cfg.address.ip_socket_addr() {
            Some(a) => a,
            None => {
                errors.push(Rejected::new(
                    format!("{path}.address.socket_address"),
                    format!(
                        "malformed IP address: {}. Listeners bind IP literals (e.g. 0.0.0.0 or 127.0.0.1)",
                        cfg.address
                            .socket_address
                            .as_ref()
                            .map(|s| s.address.as_str())
                            .unwrap_or("")
                    ),
                ));
                SocketAddr::from(([0, 0, 0, 0], 0))
            }
        };
        let chains: Vec<(String, &crate::xds::listener::FilterChain)> = cfg
            .filter_chains
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("{path}.filter_chains[{i}]"), c))
            .chain(
                cfg.default_filter_chain
                    .iter()
                    .map(|c| (format!("{path}.default_filter_chain"), c)),
            )
            .collect();
        let hcm = match chains.as_slice() {
            [] => {
                errors.push(Rejected::new(
                    path,
                    format!(
                        "error adding listener '{}': no filter chains specified",
                        cfg.address.display()
                    ),
                ));
                None
            }
            [(cpath, chain)] => match chain.filters.as_slice() {
                [filter] => {
                    let fpath = format!("{cpath}.filters[0]");
                    match &filter.typed_config {
                        NetworkFilterConfig::HttpConnectionManager(h) => {
                            let stat_addr = listener_stat_name(cfg, address);
                            match HcmRt::build(
                                h,
                                &format!("{fpath}.typed_config"),
                                store,
                                log,
                                clusters,
                                std,
                                &stat_addr,
                            ) {
                                Ok(h) => Some(h),
                                Err(mut e) => {
                                    errors.append(&mut e);
                                    None
                                }
                            }
                        }
                    }
                }
                [] => {
                    errors.push(Rejected::new(
                        format!("{cpath}.filters"),
                        "a filter chain needs a terminal network filter (envoy.filters.network.http_connection_manager)",
                    ));
                    None
                }
                _ => {
                    errors.push(Rejected::new(
                        format!("{cpath}.filters"),
                        "mesh supports one network filter per chain for now (the http_connection_manager)",
                    ));
                    None
                }
            },
            _ => {
                errors.push(Rejected::new(
                    format!("{path}.filter_chains"),
                    "mesh supports one filter chain per listener for now (filter_chain_match is not supported yet)",
                ));
                None
            }
        };
        if cfg.per_connection_buffer_limit_bytes == Some(0) {
            errors.push(Rejected::new(
                format!("{path}.per_connection_buffer_limit_bytes"),
                "value must be greater than 0",
            ));
        }
        let Some(hcm) = hcm.filter(|_| errors.is_empty()) else {
            return Err(errors);
        };
        let stats = Arc::new(ListenerStats::new(
            store,
            &format!("listener.{}", listener_stat_name(cfg, address)),
        ));
        Ok(Arc::new(ListenerRt {
            config: cfg.clone(),
            name: if cfg.name.is_empty() {
                cfg.address.display()
            } else {
                cfg.name.clone()
            },
            address,
            added_via_api,
            last_updated: SystemTime::now(),
            stats,
            hcm,
            stop: CancellationToken::new(),
            active: Arc::new(AtomicU64::new(0)),
            bound: std::sync::Mutex::new(None),
        }))
    }

    /// The address actually bound (differs from the config when the port was 0).
    pub fn bound_address(&self) -> SocketAddr {
        self.bound
            .lock()
            .ok()
            .and_then(|b| *b)
            .unwrap_or(self.address)
    }

    /// Binds and spawns the accept loop.
    pub async fn bind_and_serve(
        self: &Arc<Self>,
        proxy: Arc<Proxy>,
    ) -> std::io::Result<SocketAddr> {
        let listener = crate::net::bind_tcp(self.address)?;
        let local = listener.local_addr()?;
        if let Ok(mut b) = self.bound.lock() {
            *b = Some(local);
        }
        // Draining the proxy stops this listener too.
        let drain = proxy.drain.clone();
        let stop = self.stop.clone();
        tokio::spawn(async move {
            tokio::select! {
                _ = drain.cancelled() => stop.cancel(),
                _ = stop.cancelled() => {}
            }
        });
        let me = self.clone();
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    _ = me.stop.cancelled() => break,
                    a = listener.accept() => a,
                };
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        plog!(
                            proxy.log,
                            Level::Warning,
                            Component::ConnHandler,
                            "accept on {local} failed: {e}"
                        );
                        // Out of file descriptors and the like: back off instead of spinning.
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                me.stats.downstream_cx_total.inc();
                me.stats.downstream_cx_active.inc();
                proxy.server_stats.total_connections.inc();
                me.active.fetch_add(1, Ordering::AcqRel);
                let id = proxy.next_connection_id();
                plog!(
                    proxy.log,
                    Level::Debug,
                    Component::ConnHandler,
                    "[C{id}] new connection from {peer}"
                );
                let (me2, proxy2) = (me.clone(), proxy.clone());
                tokio::spawn(async move {
                    let opened = Instant::now();
                    super::http::hcm::serve_connection(
                        stream,
                        peer,
                        local,
                        id,
                        proxy2.clone(),
                        me2.hcm.clone(),
                        me2.stop.clone(),
                    )
                    .await;
                    me2.stats.downstream_cx_destroy.inc();
                    me2.stats.downstream_cx_active.dec();
                    proxy2.server_stats.total_connections.dec();
                    me2.stats
                        .downstream_cx_length_ms
                        .record(opened.elapsed().as_millis() as u64);
                    me2.active.fetch_sub(1, Ordering::AcqRel);
                });
            }
            plog!(
                proxy.log,
                Level::Debug,
                Component::ConnHandler,
                "listener '{}' on {local} stopped accepting",
                me.name
            );
        });
        Ok(local)
    }

    /// Stops accepting and lets open connections finish (a config update removed it).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Waits until every connection closed or `deadline` passed.
    pub async fn wait_drained(&self, deadline: tokio::time::Instant) {
        while self.active.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
    }
}

/// `listener.<stat_prefix or address>`: Envoy writes `0.0.0.0:15001` as `0.0.0.0_15001`.
fn listener_stat_name(cfg: &Listener, addr: SocketAddr) -> String {
    if !cfg.stat_prefix.is_empty() {
        return cfg.stat_prefix.clone();
    }
    match addr {
        SocketAddr::V4(a) => format!("{}_{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]_{}", a.ip(), a.port()).replace(':', "_"),
    }
}
