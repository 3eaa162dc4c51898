//! Listeners: a compiled listener ([`ListenerRt`]: filter chains, listener filters) and the slot
//! that owns its socket ([`ListenerSlot`]). A config update swaps the slot's listener; new
//! connections get the new one while open connections finish on the old, as in Envoy.
//! Listeners with `use_original_dst` hand connections to the listener of their original
//! destination (a sidecar's 15001); listeners with `bind_to_port: false` only receive those.

pub mod chain;
pub mod inspect;

use std::collections::HashSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::net::dial::BoxStream;
use crate::plog;
use crate::xds::listener::{
    FilterChain, Listener, ListenerFilterConfig, NetworkFilterConfig, TrafficDirection,
};

use super::access_log::StdStreams;
use super::http::hcm::HcmRt;
use super::istio::StatsRt;
use super::log::{Component, Level, Logger};
use super::stats::{Counter, Gauge, Histogram, Store, Unit};
use super::tcp_proxy::TcpProxyRt;
use super::tls::secrets::SecretManager;
use super::tls::server::DownstreamTls;
use super::tls::stats::SslStats;
use super::{Proxy, Rejected};
use chain::{ChainMatch, ConnView};
use inspect::Detected;

/// `listener.<address>.*`.
#[derive(Debug)]
pub struct ListenerStats {
    pub downstream_cx_total: Counter,
    pub downstream_cx_destroy: Counter,
    pub downstream_cx_active: Gauge,
    pub downstream_cx_length_ms: Histogram,
    pub no_filter_chain_match: Counter,
    pub downstream_pre_cx_timeout: Counter,
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
            "extension_config_missing",
            "network_extension_config_missing",
        ] {
            s.counter(c);
        }
        s.gauge("downstream_pre_cx_active");
        ListenerStats {
            downstream_cx_total: s.counter("downstream_cx_total"),
            downstream_cx_destroy: s.counter("downstream_cx_destroy"),
            downstream_cx_active: s.gauge("downstream_cx_active"),
            downstream_cx_length_ms: s.histogram("downstream_cx_length_ms", Unit::Milliseconds),
            no_filter_chain_match: s.counter("no_filter_chain_match"),
            downstream_pre_cx_timeout: s.counter("downstream_pre_cx_timeout"),
        }
    }
}

/// What a filter chain does with a connection.
#[derive(Debug)]
pub enum ChainKind {
    Http(Arc<HcmRt>),
    Tcp(Arc<TcpProxyRt>),
}

#[derive(Debug)]
pub struct ChainRt {
    pub name: String,
    matcher: ChainMatch,
    pub kind: ChainKind,
    /// TLS termination, when the chain's transport socket is a `DownstreamTlsContext`.
    pub tls: Option<Arc<DownstreamTls>>,
}

/// What building config needs from the proxy around it.
pub struct BuildCtx<'a> {
    pub store: &'a Store,
    pub log: &'a Arc<Logger>,
    /// Routes must name these clusters (static config); `None` skips the check.
    pub clusters: Option<&'a HashSet<String>>,
    pub std: &'a StdStreams,
    /// Pushed by a control plane (RDS and EDS allowed) rather than read from a bootstrap.
    pub dynamic: bool,
    pub version_info: &'a str,
    /// Replaces `0.0.0.0`/`::` in listener addresses (a sidecar binds its pod IP).
    pub bind_ip: Option<IpAddr>,
    /// Secrets that TLS contexts name.
    pub secrets: &'a Arc<SecretManager>,
    /// The bootstrap's tracer, for connection managers whose `tracing` names none.
    pub tracing: Option<&'a crate::xds::hcm::TracingProvider>,
    /// The bootstrap's node: who this proxy is (Istio's filters report it).
    pub node: Option<&'a crate::xds::core::Node>,
    /// The traffic direction of the listener being built (Istio's stats reporter).
    pub direction: TrafficDirection,
}

/// One listener, compiled.
#[derive(Debug)]
pub struct ListenerRt {
    pub config: Listener,
    pub name: String,
    /// The address from the config, with the proxy's bind IP applied.
    pub address: SocketAddr,
    pub added_via_api: bool,
    pub version_info: String,
    pub last_updated: SystemTime,
    pub stats: Arc<ListenerStats>,
    pub chains: Vec<ChainRt>,
    pub default_chain: Option<ChainRt>,
    inspect_tls: bool,
    inspect_http: bool,
    /// `listener_filters_timeout`: 15 s unset, none when `0s`.
    inspect_timeout: Option<Duration>,
    /// What to do when it fires: go on with what was seen, or close.
    continue_on_timeout: bool,
    pub use_original_dst: bool,
}

impl ListenerRt {
    /// Validates and compiles a listener; `path` locates errors.
    pub fn build(
        cfg: &Listener,
        path: &str,
        ctx: &BuildCtx<'_>,
    ) -> Result<Arc<ListenerRt>, Vec<Rejected>> {
        let ctx = &BuildCtx {
            direction: cfg.traffic_direction,
            ..*ctx
        };
        let mut errors = Vec::new();
        let configured = match cfg.address.ip_socket_addr() {
            Some(a) => a,
            None => {
                errors.push(Rejected::new(
                    format!("{path}.address.socket_address"),
                    format!(
                        "malformed IP address: {}. Listeners bind IP literals (e.g. 0.0.0.0 or 127.0.0.1)",
                        cfg.address.socket_address.as_ref().map(|s| s.address.as_str()).unwrap_or("")
                    ),
                ));
                SocketAddr::from(([0, 0, 0, 0], 0))
            }
        };
        let address = match ctx.bind_ip {
            Some(ip) if configured.ip().is_unspecified() => SocketAddr::new(ip, configured.port()),
            _ => configured,
        };
        let stat_name = listener_stat_name(cfg, configured);
        let mut inspect_tls = false;
        let mut inspect_http = false;
        for (i, f) in cfg.listener_filters.iter().enumerate() {
            let known = match (&f.typed_config, f.name.as_str()) {
                (Some(ListenerFilterConfig::TlsInspector(_)), _)
                | (None, "envoy.filters.listener.tls_inspector") => {
                    inspect_tls = true;
                    true
                }
                (Some(ListenerFilterConfig::HttpInspector(_)), _)
                | (None, "envoy.filters.listener.http_inspector") => {
                    inspect_http = true;
                    true
                }
                // The original destination is always known here (given by the sandbox).
                (Some(ListenerFilterConfig::OriginalDst(_)), _)
                | (None, "envoy.filters.listener.original_dst") => true,
                _ => false,
            };
            if !known {
                errors.push(Rejected::new(
                    format!("{path}.listener_filters[{i}]"),
                    format!("Didn't find a registered implementation for '{}'", f.name),
                ));
            }
        }
        // `listener.<address>.ssl.*` exists only when some chain terminates TLS.
        let ssl_cell: std::sync::OnceLock<Arc<SslStats>> = std::sync::OnceLock::new();
        let ssl = || {
            ssl_cell
                .get_or_init(|| {
                    Arc::new(SslStats::new(
                        &ctx.store.scope(&format!("listener.{stat_name}")),
                    ))
                })
                .clone()
        };
        let mut chains = Vec::new();
        for (i, c) in cfg.filter_chains.iter().enumerate() {
            match build_chain(
                c,
                &format!("{path}.filter_chains[{i}]"),
                ctx,
                &stat_name,
                &ssl,
                cfg.traffic_direction,
            ) {
                Ok(chain) => {
                    if let Some(dup) = chains
                        .iter()
                        .position(|o: &ChainRt| o.matcher.same_as(&chain.matcher))
                    {
                        errors.push(Rejected::new(
                            format!("{path}.filter_chains[{i}]"),
                            format!("error adding listener '{}': multiple filter chains with the same matching rules are defined (same as filter_chains[{dup}])", cfg.address.display()),
                        ));
                    }
                    chains.push(chain);
                }
                Err(mut e) => errors.append(&mut e),
            }
        }
        let default_chain = match &cfg.default_filter_chain {
            Some(c) => {
                match build_chain(
                    c,
                    &format!("{path}.default_filter_chain"),
                    ctx,
                    &stat_name,
                    &ssl,
                    cfg.traffic_direction,
                ) {
                    Ok(chain) => Some(chain),
                    Err(mut e) => {
                        errors.append(&mut e);
                        None
                    }
                }
            }
            None => None,
        };
        if cfg.filter_chains.is_empty() && cfg.default_filter_chain.is_none() {
            errors.push(Rejected::new(
                path,
                format!(
                    "error adding listener '{}': no filter chains specified",
                    cfg.address.display()
                ),
            ));
        }
        if cfg.per_connection_buffer_limit_bytes == Some(0) {
            errors.push(Rejected::new(
                format!("{path}.per_connection_buffer_limit_bytes"),
                "value must be greater than 0",
            ));
        }
        if !cfg.access_log.is_empty() {
            errors.push(Rejected::new(
                format!("{path}.access_log"),
                "listener-level access_log is not supported by mesh yet (use the HTTP connection manager's or tcp_proxy's)",
            ));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Arc::new(ListenerRt {
            config: cfg.clone(),
            name: if cfg.name.is_empty() {
                cfg.address.display()
            } else {
                cfg.name.clone()
            },
            address,
            added_via_api: ctx.dynamic,
            version_info: ctx.version_info.to_owned(),
            last_updated: SystemTime::now(),
            stats: Arc::new(ListenerStats::new(
                ctx.store,
                &format!("listener.{stat_name}"),
            )),
            chains,
            default_chain,
            inspect_tls,
            inspect_http,
            inspect_timeout: match cfg.listener_filters_timeout.map(|d| d.get()) {
                None => Some(Duration::from_secs(15)),
                Some(d) if d.is_zero() => None,
                Some(d) => Some(d),
            },
            continue_on_timeout: cfg.continue_on_listener_filters_timeout,
            use_original_dst: cfg.use_original_dst.unwrap_or(false),
        }))
    }

    /// The SDS secrets this listener's TLS contexts name.
    pub fn sds_names(&self) -> Vec<String> {
        self.tls_contexts()
            .flat_map(|t| t.common.sds_names())
            .collect()
    }

    /// SDS secrets not received yet: while any is missing the listener warms.
    pub fn missing_secrets(&self) -> Vec<String> {
        self.tls_contexts()
            .flat_map(|t| t.common.missing())
            .collect()
    }

    /// Every chain's TLS context, in chain order (the default chain last).
    pub fn tls_contexts(&self) -> impl Iterator<Item = &Arc<DownstreamTls>> {
        self.chains
            .iter()
            .chain(self.default_chain.iter())
            .filter_map(|c| c.tls.as_ref())
    }

    /// Serves one connection: listener filters, chain selection, then HTTP or TCP proxying.
    /// `destination` is where the client was going (the original destination when redirected).
    pub async fn serve(
        self: Arc<Self>,
        stream: BoxStream,
        peer: SocketAddr,
        destination: SocketAddr,
        proxy: Arc<Proxy>,
        stop: CancellationToken,
    ) {
        let id = proxy.next_connection_id();
        plog!(
            proxy.log,
            Level::Debug,
            Component::ConnHandler,
            "[C{id}] new connection from {peer} to {destination} on listener '{}'",
            self.name
        );
        // A virtual-outbound listener passes the connection to the one for its destination.
        if self.use_original_dst
            && let Some(target) = proxy.listener_for_destination(destination, &self.name)
        {
            let (target, stop) = (target.current(), target.generation());
            return Box::pin(target.serve(stream, peer, destination, proxy, stop)).await;
        }
        let (stream, detected) = if self.inspect_tls || self.inspect_http {
            let (stream, detected, timed_out) = inspect::inspect(
                stream,
                self.inspect_tls,
                self.inspect_http,
                self.inspect_timeout,
            )
            .await;
            if timed_out && !self.continue_on_timeout {
                // Envoy closes the connection (`downstream_pre_cx_timeout`).
                self.stats.downstream_pre_cx_timeout.inc();
                return;
            }
            (stream, detected)
        } else {
            (stream, Detected::default())
        };
        let matchers: Vec<ChainMatch> = self.chains.iter().map(|c| c.matcher.clone()).collect();
        let view = ConnView {
            destination,
            source: peer,
            detected: &detected,
        };
        let chain = match chain::select(&matchers, &view) {
            Some(i) => &self.chains[i],
            None => match &self.default_chain {
                Some(c) => c,
                None => {
                    self.stats.no_filter_chain_match.inc();
                    plog!(
                        proxy.log,
                        Level::Debug,
                        Component::ConnHandler,
                        "[C{id}] closing connection from {peer}: no matching filter chain found"
                    );
                    return;
                }
            },
        };
        let opened = Instant::now();
        self.stats.downstream_cx_total.inc();
        self.stats.downstream_cx_active.inc();
        proxy.server_stats.total_connections.inc();
        // The chosen chain's transport socket: its TLS context serves its own certificate.
        let handshake = match &chain.tls {
            Some(tls) => match tls.accept(stream).await {
                Ok((s, facts)) => Some((s, Some(facts))),
                Err(e) => {
                    plog!(
                        proxy.log,
                        Level::Debug,
                        Component::Connection,
                        "[C{id}] closing connection from {peer}: {e}"
                    );
                    None
                }
            },
            None => Some((stream, None)),
        };
        match (&chain.kind, handshake) {
            (_, None) => {}
            (ChainKind::Http(hcm), Some((stream, tls))) => {
                super::http::hcm::serve_connection(
                    stream,
                    peer,
                    destination,
                    id,
                    proxy.clone(),
                    hcm.clone(),
                    stop,
                    tls,
                )
                .await;
            }
            (ChainKind::Tcp(tcp), Some((stream, tls))) => {
                // Passed-through TLS still has the SNI the inspector read (REQUESTED_SERVER_NAME).
                let tls = tls.or_else(|| {
                    detected.server_name.clone().map(|sni| {
                        Arc::new(crate::proxy::tls::ConnTls {
                            sni: Some(sni),
                            ..Default::default()
                        })
                    })
                });
                tcp.clone()
                    .serve(stream, peer, destination, id, tls, proxy.clone())
                    .await
            }
        }
        self.stats.downstream_cx_destroy.inc();
        self.stats.downstream_cx_active.dec();
        proxy.server_stats.total_connections.dec();
        self.stats
            .downstream_cx_length_ms
            .record(opened.elapsed().as_millis() as u64);
    }
}

fn build_chain(
    c: &FilterChain,
    path: &str,
    ctx: &BuildCtx<'_>,
    stat_name: &str,
    ssl: &dyn Fn() -> Arc<SslStats>,
    direction: crate::xds::listener::TrafficDirection,
) -> Result<ChainRt, Vec<Rejected>> {
    let matcher = ChainMatch::build(c.filter_chain_match.as_ref(), path).map_err(|e| vec![e])?;
    let tls = super::tls::build_downstream(c.transport_socket.as_ref(), path, ctx.secrets, ssl)?;
    // Istio's `istio.stats` network filter may come before tcp_proxy; the last filter is the
    // terminal one.
    let Some((terminal, before)) = c.filters.split_last() else {
        return Err(vec![Rejected::new(
            format!("{path}.filters"),
            "a filter chain needs a terminal network filter (http_connection_manager or tcp_proxy)",
        )]);
    };
    let mut istio_stats = None;
    for (i, f) in before.iter().enumerate() {
        let fpath = format!("{path}.filters[{i}].typed_config");
        match &f.typed_config {
            NetworkFilterConfig::IstioStats(cfg) => {
                istio_stats = Some(StatsRt::build(cfg, &fpath, ctx).map_err(|e| vec![e])?);
            }
            _ => {
                return Err(vec![Rejected::new(
                    format!("{path}.filters[{i}]"),
                    "mesh supports one terminal network filter per chain (an http_connection_manager or a tcp_proxy), after an optional istio.stats",
                )]);
            }
        }
    }
    let fpath = format!("{path}.filters[{}].typed_config", before.len());
    let kind = match &terminal.typed_config {
        NetworkFilterConfig::HttpConnectionManager(_) if istio_stats.is_some() => {
            return Err(vec![Rejected::new(
                format!("{path}.filters"),
                "the istio.stats network filter counts TCP; HTTP is counted by the istio.stats HTTP filter in the connection manager",
            )]);
        }
        NetworkFilterConfig::HttpConnectionManager(h) => {
            ChainKind::Http(HcmRt::build(h, &fpath, ctx, stat_name, direction)?)
        }
        NetworkFilterConfig::TcpProxy(t) => {
            ChainKind::Tcp(TcpProxyRt::build(t, &fpath, ctx, istio_stats)?)
        }
        NetworkFilterConfig::IstioStats(_) => {
            return Err(vec![Rejected::new(
                format!("{path}.filters[{}]", before.len()),
                "istio.stats is not a terminal filter: put a tcp_proxy after it",
            )]);
        }
    };
    Ok(ChainRt {
        name: c.name.clone(),
        matcher,
        kind,
        tls,
    })
}

/// Owns a listener's socket (if it binds one) and the listener currently serving it.
#[derive(Debug)]
pub struct ListenerSlot {
    current: ArcSwap<ListenerRt>,
    stop: CancellationToken,
    /// Cancelled when `current` is replaced: HTTP connections of the old config drain
    /// (finish the request in flight, then close), as Envoy drains a modified listener.
    generation: std::sync::Mutex<CancellationToken>,
    active: Arc<AtomicU64>,
    bound: std::sync::Mutex<Option<SocketAddr>>,
}

impl ListenerSlot {
    pub fn new(listener: Arc<ListenerRt>) -> Arc<ListenerSlot> {
        let stop = CancellationToken::new();
        Arc::new(ListenerSlot {
            current: ArcSwap::new(listener),
            generation: std::sync::Mutex::new(stop.child_token()),
            stop,
            active: Arc::new(AtomicU64::new(0)),
            bound: std::sync::Mutex::new(None),
        })
    }

    pub fn current(&self) -> Arc<ListenerRt> {
        self.current.load_full()
    }

    /// New connections get `listener`; open ones finish on the old one and drain.
    pub fn swap(&self, listener: Arc<ListenerRt>) {
        self.current.store(listener);
        if let Ok(mut g) = self.generation.lock() {
            let old = std::mem::replace(&mut *g, self.stop.child_token());
            old.cancel();
        }
    }

    /// The token connections of the current config stop on.
    pub fn generation(&self) -> CancellationToken {
        self.generation
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|_| self.stop.child_token())
    }

    /// The address actually bound (differs from the config when the port was 0).
    pub fn bound_address(&self) -> SocketAddr {
        self.bound
            .lock()
            .ok()
            .and_then(|b| *b)
            .unwrap_or_else(|| self.current().address)
    }

    /// Binds the listener's address (unless `bind_to_port: false`) and accepts until stopped.
    pub async fn bind_and_serve(
        self: &Arc<Self>,
        proxy: Arc<Proxy>,
    ) -> std::io::Result<SocketAddr> {
        let listener_rt = self.current();
        if !listener_rt.config.binds_to_port() {
            return Ok(listener_rt.address);
        }
        let socket = crate::net::bind_tcp(listener_rt.address)?;
        let local = socket.local_addr()?;
        if let Ok(mut b) = self.bound.lock() {
            *b = Some(local);
        }
        // Draining the proxy stops this listener too.
        let (drain, stop) = (proxy.drain.clone(), self.stop.clone());
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
                    a = socket.accept() => a,
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
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                me.spawn_connection(Box::new(stream), peer, local, proxy.clone());
            }
            plog!(
                proxy.log,
                Level::Debug,
                Component::ConnHandler,
                "listener '{}' on {local} stopped accepting",
                me.current().name
            );
        });
        Ok(local)
    }

    /// Serves a connection that arrived for this slot's listener (accepted or handed over).
    pub fn spawn_connection(
        self: &Arc<Self>,
        stream: BoxStream,
        peer: SocketAddr,
        destination: SocketAddr,
        proxy: Arc<Proxy>,
    ) {
        let listener = self.current();
        let active = self.active.clone();
        let stop = self.generation();
        active.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            listener.serve(stream, peer, destination, proxy, stop).await;
            active.fetch_sub(1, Ordering::AcqRel);
        });
    }

    /// Stops accepting and lets open connections finish (a config update removed it).
    pub fn stop(&self) {
        self.stop.cancel();
    }

    /// Waits until every connection closed or `deadline` passed.
    pub async fn wait_drained(&self, deadline: tokio::time::Instant) {
        while self.active.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
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
