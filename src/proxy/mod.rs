//! The Envoy-compatible data plane. Its only input is an `xds` snapshot: a static bootstrap
//! (`mesh envoy`) or, later, a control-plane push — both go through [`build`] into an
//! [`Applied`] that [`Proxy`] swaps in atomically. May import `xds` and `net`.

pub mod access_log;
pub mod admin;
pub mod build;
pub mod cluster;
pub mod file_sources;
pub mod flags;
pub mod http;
pub mod istio;
pub mod listener;
pub mod log;
mod sds_apply;
pub mod server_stats;
pub mod stats;
pub mod tcp_idle;
pub mod tcp_proxy;
pub mod tls;
pub mod tracing;
pub mod xds_apply;

#[cfg(test)]
mod tests_dynamic;
#[cfg(test)]
mod tests_tls;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

use crate::net::resolve::Resolver;
use crate::xds::Bootstrap;

use access_log::StdStreams;
use cluster::Cluster;
use http::route::RouteTable;
use listener::{ListenerRt, ListenerSlot};
use log::{Component, Level, Logger, Sink};
use server_stats::ServerStats;
use stats::Store;

/// One reason a configuration was refused, at an Envoy field path
/// (`static_resources.clusters[0].load_assignment`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    pub path: String,
    pub reason: String,
}

impl Rejected {
    pub fn new(path: impl Into<String>, reason: impl Into<String>) -> Rejected {
        Rejected {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.reason)
    }
}

/// Why a proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Rejected>),
    #[error("cannot bind '{address}' for {what}: {source}")]
    Bind {
        what: String,
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

/// The server's lifecycle state, as `/server_info` and `server.state` report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ServerState {
    Live = 0,
    Draining = 1,
    PreInitializing = 2,
    Initializing = 3,
}

impl ServerState {
    pub fn name(self) -> &'static str {
        match self {
            ServerState::Live => "LIVE",
            ServerState::Draining => "DRAINING",
            ServerState::PreInitializing => "PRE_INITIALIZING",
            ServerState::Initializing => "INITIALIZING",
        }
    }
}

/// How the proxy was started (`--service-node`, log levels, …); shown by `/server_info`.
#[derive(Debug, Clone)]
pub struct Options {
    pub service_node: Option<String>,
    pub service_cluster: Option<String>,
    pub service_zone: Option<String>,
    pub log_level: Level,
    pub component_log_level: Option<String>,
    pub log_sink: Sink,
    pub std_streams: StdStreams,
    pub resolver: Resolver,
    pub concurrency: usize,
    pub base_id: u64,
    pub config_path: String,
    pub config_yaml: String,
    pub drain_time: Duration,
    pub parent_shutdown_time: Duration,
    pub log_path: String,
    /// Listeners configured on `0.0.0.0` bind this IP instead (a sidecar binds its pod IP).
    pub bind_ip: Option<std::net::IpAddr>,
    /// The port of the listener that serves captured inbound connections (Istio's 15006).
    pub inbound_port: u16,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            service_node: None,
            service_cluster: None,
            service_zone: None,
            log_level: Level::Info,
            component_log_level: None,
            log_sink: Sink::Stderr,
            std_streams: StdStreams::default(),
            resolver: Resolver::default(),
            concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            base_id: 0,
            config_path: String::new(),
            config_yaml: String::new(),
            drain_time: Duration::from_secs(600),
            parent_shutdown_time: Duration::from_secs(900),
            log_path: String::new(),
            bind_ip: None,
            inbound_port: 15006,
        }
    }
}

/// What a proxy is running right now. Replaced as a whole; never mutated in place.
#[derive(Debug, Clone)]
pub struct Applied {
    pub bootstrap: Bootstrap,
    pub bootstrap_updated: SystemTime,
    /// Static clusters first, in config order, then dynamic ones.
    pub clusters: Vec<Arc<Cluster>>,
    pub cluster_index: HashMap<String, usize>,
    /// Static listeners first, then dynamic ones.
    pub listeners: Vec<Arc<ListenerSlot>>,
    /// Pushed listeners waiting for SDS secrets (Envoy's warming listeners): not bound, not
    /// serving; an active listener of the same name keeps serving until its update warms.
    pub warming_listeners: Vec<Arc<ListenerRt>>,
    /// Route configurations received by RDS.
    pub routes: HashMap<String, Arc<RdsRoute>>,
    /// The last EDS assignment per cluster name.
    pub endpoints: HashMap<String, Arc<crate::xds::endpoint::ClusterLoadAssignment>>,
    /// The last accepted version per xDS type URL.
    pub versions: HashMap<&'static str, String>,
}

/// A route configuration pushed by RDS, compiled.
#[derive(Debug)]
pub struct RdsRoute {
    pub config: crate::xds::route::RouteConfiguration,
    pub table: Arc<RouteTable>,
    pub version_info: String,
    pub last_updated: SystemTime,
}

impl Applied {
    pub fn cluster(&self, name: &str) -> Option<&Arc<Cluster>> {
        self.cluster_index
            .get(name)
            .and_then(|i| self.clusters.get(*i))
    }

    pub fn route_table(&self, name: &str) -> Option<Arc<RouteTable>> {
        self.routes.get(name).map(|r| r.table.clone())
    }

    fn reindex(&mut self) {
        self.cluster_index = self
            .clusters
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i))
            .collect();
    }
}

/// One running proxy: config, stats, logs, lifecycle. Shared by listeners, admin and requests.
#[derive(Debug)]
pub struct Proxy {
    pub log: Arc<Logger>,
    pub stats: Store,
    pub options: Options,
    pub started: Instant,
    pub started_at: SystemTime,
    state: AtomicU8,
    healthcheck_failed: AtomicBool,
    /// Cancelled to stop the proxy (Ctrl-C, `/quitquitquit`).
    pub shutdown: CancellationToken,
    /// Cancelled to drain listeners (`/drain_listeners`, shutdown).
    pub drain: CancellationToken,
    applied: ArcSwap<Applied>,
    next_conn_id: AtomicU64,
    pub server_stats: ServerStats,
    admin_addr: std::sync::Mutex<Option<SocketAddr>>,
    /// Pushes are applied one at a time.
    apply_lock: tokio::sync::Mutex<()>,
    /// Static and SDS secrets, shared by every TLS context.
    pub secrets: Arc<tls::secrets::SecretManager>,
    /// Span reporters, one per collector, started by the first sampled span.
    pub tracers: tracing::reporter::Reporters,
}

impl Proxy {
    pub fn applied(&self) -> Arc<Applied> {
        self.applied.load_full()
    }

    pub fn state(&self) -> ServerState {
        match self.state.load(Ordering::Relaxed) {
            0 => ServerState::Live,
            1 => ServerState::Draining,
            2 => ServerState::PreInitializing,
            _ => ServerState::Initializing,
        }
    }

    fn set_state(&self, s: ServerState) {
        self.state.store(s as u8, Ordering::Relaxed);
        self.server_stats.state.set(s as u64);
        self.server_stats
            .live
            .set(u64::from(s == ServerState::Live));
    }

    pub fn healthcheck_failed(&self) -> bool {
        self.healthcheck_failed.load(Ordering::Relaxed)
    }

    pub fn set_healthcheck_failed(&self, failed: bool) {
        self.healthcheck_failed.store(failed, Ordering::Relaxed);
    }

    pub fn next_connection_id(&self) -> u64 {
        self.next_conn_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn admin_address(&self) -> Option<SocketAddr> {
        self.admin_addr.lock().ok().and_then(|a| *a)
    }

    /// Starts draining: listeners stop accepting and finish their connections.
    pub fn start_draining(&self) {
        self.set_state(ServerState::Draining);
        self.drain.cancel();
    }

    fn store_applied(&self, applied: Applied) {
        self.applied.store(Arc::new(applied));
    }

    /// The listener a redirected connection belongs to: the one configured on exactly its
    /// destination, else the one on `0.0.0.0` and its port (never `except`, the one asking).
    pub fn listener_for_destination(
        &self,
        dst: SocketAddr,
        except: &str,
    ) -> Option<Arc<ListenerSlot>> {
        let applied = self.applied();
        let candidates: Vec<&Arc<ListenerSlot>> = applied
            .listeners
            .iter()
            .filter(|s| s.current().name != except)
            .collect();
        let configured = |l: &ListenerSlot| l.current().config.address.ip_socket_addr();
        candidates
            .iter()
            .find(|l| configured(l) == Some(dst))
            .or_else(|| {
                candidates.iter().find(|l| {
                    configured(l).is_some_and(|a| a.ip().is_unspecified() && a.port() == dst.port())
                })
            })
            .map(|s| (*s).clone())
    }

    /// Hands over an outbound connection an app made, with the address it was going to (what
    /// Istio's iptables redirect to 15001 achieves). Without a `use_original_dst` listener
    /// the connection is closed.
    pub fn handoff(
        self: &Arc<Self>,
        stream: crate::net::dial::BoxStream,
        peer: SocketAddr,
        original_dst: SocketAddr,
    ) {
        let applied = self.applied();
        let slot = applied
            .listeners
            .iter()
            .find(|s| s.current().use_original_dst)
            .cloned();
        match slot {
            Some(slot) => slot.spawn_connection(stream, peer, original_dst, self.clone()),
            None => crate::plog!(
                self.log,
                Level::Debug,
                Component::ConnHandler,
                "no virtual outbound listener for a redirected connection to {original_dst}; closing"
            ),
        }
    }

    /// Binds `addr` and serves what arrives there on the inbound listener (port
    /// `options.inbound_port`, Istio's 15006), as a sidecar captures its pod's ports.
    pub async fn capture_inbound(
        self: &Arc<Self>,
        addr: SocketAddr,
    ) -> std::io::Result<SocketAddr> {
        let socket = crate::net::bind_tcp(addr)?;
        let local = socket.local_addr()?;
        let proxy = self.clone();
        tokio::spawn(async move {
            loop {
                let (stream, peer) = tokio::select! {
                    _ = proxy.shutdown.cancelled() => return,
                    a = socket.accept() => match a {
                        Ok(a) => a,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    },
                };
                let _ = stream.set_nodelay(true);
                let applied = proxy.applied();
                let slot = applied
                    .listeners
                    .iter()
                    .find(|s| {
                        s.current()
                            .config
                            .address
                            .ip_socket_addr()
                            .is_some_and(|a| a.port() == proxy.options.inbound_port)
                    })
                    .cloned();
                match slot {
                    Some(slot) => {
                        slot.spawn_connection(Box::new(stream), peer, local, proxy.clone())
                    }
                    None => crate::plog!(
                        proxy.log,
                        Level::Debug,
                        Component::ConnHandler,
                        "no inbound listener yet for a connection to {local}; closing"
                    ),
                }
            }
        });
        Ok(local)
    }
}

/// A started proxy: its shared state and the addresses it actually bound.
#[derive(Debug)]
pub struct Running {
    pub proxy: Arc<Proxy>,
    pub admin_addr: Option<SocketAddr>,
    /// `(listener name, bound address)`.
    pub listeners: Vec<(String, SocketAddr)>,
}

impl Running {
    /// Resolves when the proxy has been told to stop (`/quitquitquit` or [`Running::stop`]).
    pub async fn stopped(&self) {
        self.proxy.shutdown.cancelled().await;
    }

    /// Drains listeners, waits up to `grace` for connections to finish, and stops.
    pub async fn stop(&self, grace: Duration) {
        self.proxy.start_draining();
        let applied = self.proxy.applied();
        let deadline = tokio::time::Instant::now() + grace;
        for l in &applied.listeners {
            l.wait_drained(deadline).await;
        }
        for c in &applied.clusters {
            c.shutdown();
        }
        self.proxy.shutdown.cancel();
    }
}

/// Checks a bootstrap the way `--mode validate` does: everything but binding sockets.
pub fn validate(bootstrap: &Bootstrap, options: &Options) -> Result<(), Vec<Rejected>> {
    let log = Arc::new(Logger::new(Level::Off, Sink::Stderr));
    let secrets = tls::secrets::SecretManager::new();
    build::build_static(bootstrap, &Store::new(), &log, options, &secrets)?;
    file_sources::check(bootstrap).map(|_| ())
}

/// Builds, binds and starts a proxy from a bootstrap. Must run inside a tokio runtime.
pub async fn start(bootstrap: Bootstrap, options: Options) -> Result<Running, StartError> {
    let log = Arc::new(Logger::new(options.log_level, options.log_sink.clone()));
    if let Some(spec) = &options.component_log_level {
        log.apply_component_levels(spec)
            .map_err(|e| StartError::Invalid(vec![Rejected::new("--component-log-level", e)]))?;
    }
    let store = Store::new();
    let server_stats = ServerStats::new(&store, options.concurrency);
    crate::plog!(
        log,
        Level::Info,
        Component::Main,
        "initializing epoch 0 (base id={}, hot restart version=disabled)",
        options.base_id
    );
    let secrets = tls::secrets::SecretManager::new();
    let built = build::build_static(&bootstrap, &store, &log, &options, &secrets)
        .map_err(StartError::Invalid)?;
    let proxy = Arc::new(Proxy {
        log: log.clone(),
        stats: store.clone(),
        options,
        started: Instant::now(),
        started_at: SystemTime::now(),
        state: AtomicU8::new(ServerState::Initializing as u8),
        healthcheck_failed: AtomicBool::new(false),
        shutdown: CancellationToken::new(),
        drain: CancellationToken::new(),
        applied: ArcSwap::from_pointee(Applied {
            bootstrap: bootstrap.clone(),
            bootstrap_updated: SystemTime::now(),
            clusters: built.clusters.clone(),
            cluster_index: built.cluster_index.clone(),
            listeners: Vec::new(),
            warming_listeners: Vec::new(),
            routes: HashMap::new(),
            endpoints: HashMap::new(),
            versions: HashMap::new(),
        }),
        next_conn_id: AtomicU64::new(0),
        server_stats,
        admin_addr: std::sync::Mutex::new(None),
        apply_lock: tokio::sync::Mutex::new(()),
        secrets,
        tracers: Default::default(),
    });
    proxy.set_state(ServerState::Initializing);

    let admin_addr = match bootstrap.admin.as_ref().and_then(|a| a.address.as_ref()) {
        Some(addr) => {
            let Some(sa) = addr.ip_socket_addr() else {
                return Err(StartError::Invalid(vec![Rejected::new(
                    "admin.address.socket_address",
                    format!("malformed IP address: {}", addr.display()),
                )]));
            };
            let bound =
                admin::serve(proxy.clone(), sa)
                    .await
                    .map_err(|source| StartError::Bind {
                        what: "the admin API".to_owned(),
                        address: sa,
                        source,
                    })?;
            crate::plog!(log, Level::Info, Component::Main, "admin address: {bound}");
            if let Ok(mut a) = proxy.admin_addr.lock() {
                *a = Some(bound);
            }
            Some(bound)
        }
        None => None,
    };

    crate::plog!(
        log,
        Level::Info,
        Component::Main,
        "loading {} cluster(s)",
        built.clusters.len()
    );
    for c in &built.clusters {
        c.start().await;
    }
    crate::plog!(
        log,
        Level::Info,
        Component::Config,
        "all clusters initialized. initializing init manager"
    );
    crate::plog!(
        log,
        Level::Info,
        Component::Main,
        "loading {} listener(s)",
        built.listeners.len()
    );
    let mut bound = Vec::new();
    let mut listeners = Vec::new();
    for l in built.listeners {
        let slot = ListenerSlot::new(l.clone());
        let addr = slot
            .bind_and_serve(proxy.clone())
            .await
            .map_err(|source| StartError::Bind {
                what: format!("listener '{}'", l.name),
                address: l.address,
                source,
            })?;
        proxy.server_stats.listener_added.inc();
        bound.push((l.name.clone(), addr));
        listeners.push(slot);
    }
    proxy
        .server_stats
        .total_listeners_active
        .set(listeners.len() as u64);
    proxy
        .server_stats
        .active_clusters
        .set(built.clusters.len() as u64);
    proxy
        .server_stats
        .cluster_added
        .add(built.clusters.len() as u64);
    let mut applied = (*proxy.applied()).clone();
    applied.listeners = listeners;
    proxy.store_applied(applied);
    // Dynamic resources from files: loaded once before serving, then watched.
    match file_sources::FileSources::from_bootstrap(&proxy, &bootstrap) {
        Ok(Some(mut sources)) => {
            sources.initial_load().await;
            sources.spawn();
        }
        Ok(None) => {}
        Err(rejected) => {
            proxy.shutdown.cancel();
            return Err(StartError::Invalid(rejected));
        }
    }
    crate::plog!(
        log,
        Level::Info,
        Component::Config,
        "all dependencies initialized. starting workers"
    );
    proxy.set_state(ServerState::Live);
    proxy
        .server_stats
        .initialization_time_ms
        .record(proxy.started.elapsed().as_millis() as u64);
    server_stats::spawn_flush(
        proxy.clone(),
        bootstrap.stats_flush_interval.map(|d| d.get()),
    );
    crate::plog!(
        log,
        Level::Info,
        Component::Main,
        "starting main dispatch loop"
    );
    Ok(Running {
        proxy,
        admin_addr,
        listeners: bound,
    })
}
