//! HTTP/1.1 connection pool for one upstream host: idle keep-alive connections are reused,
//! new ones are dialled with the cluster's connect timeout, and every connection is counted in
//! the cluster's `upstream_cx_*` stats and the host's `/clusters` counters.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::plog;

use super::super::http::body::Body;
use super::super::log::{Component, Level, Logger};
use super::super::stats::Counter;
use super::super::tls::ConnTls;
use super::super::tls::client::UpstreamTls;
use super::host::{Host, dec, inc};
use super::stats::ClusterStats;
use crate::net::dial::BoxStream;

/// Idle connections of one host.
#[derive(Debug, Default)]
pub struct Pool {
    idle: Mutex<Vec<Idle>>,
    /// Wakes requests waiting for a connection (circuit breaker `max_connections`).
    available: tokio::sync::Notify,
    /// This host's connections, open or being opened.
    count: std::sync::atomic::AtomicU64,
}

/// The cluster's circuit breakers, as the pool needs them.
#[derive(Debug, Clone, Copy)]
pub struct PoolLimits<'a> {
    pub max_connections: u64,
    pub max_pending_requests: u64,
    /// Requests waiting for a connection, cluster-wide.
    pub pending: &'a std::sync::atomic::AtomicU64,
}

#[derive(Debug)]
struct Idle {
    sender: SendRequest<Body>,
    /// When it was returned (for the cluster's idle timeout).
    since: Instant,
    uses: u32,
    local: Option<std::net::SocketAddr>,
    tls: Option<Arc<ConnTls>>,
}

/// What the pool needs from its cluster.
pub struct PoolCtx<'a> {
    pub stats: &'a Arc<ClusterStats>,
    pub connect_timeout: Duration,
    pub max_requests_per_connection: Option<u32>,
    pub log: &'a Arc<Logger>,
    /// Upstream response headers larger than this fail the request (Envoy's 60 KiB default).
    pub max_response_headers: usize,
    /// TLS to this host (the cluster's transport socket for it).
    pub tls: Option<Arc<UpstreamTls>>,
    pub limits: Option<PoolLimits<'a>>,
    /// `common_http_protocol_options.idle_timeout`: idle connections older than this are
    /// closed instead of reused.
    pub idle_timeout: Option<Duration>,
}

/// A connection checked out for one request.
pub struct Conn {
    pub sender: SendRequest<Body>,
    /// True when dialled for this request (a stale reused connection may be retried once).
    pub fresh: bool,
    uses: u32,
    /// The connection's own address (`%UPSTREAM_LOCAL_ADDRESS%`).
    pub local: Option<std::net::SocketAddr>,
    /// The TLS session, when the cluster originates TLS (the peer's identity for telemetry).
    pub tls: Option<Arc<ConnTls>>,
}

/// Why no connection could be made; the strings are Envoy's reset and transport reasons.
#[derive(Debug, Clone)]
pub enum ConnectError {
    Timeout,
    Failed {
        transport: String,
    },
    /// A circuit breaker (`max_connections` with `max_pending_requests`, or `max_requests`)
    /// said no: Envoy's `overflow` reset, flag UO.
    Overflow,
}

impl ConnectError {
    pub fn reset_reason(&self) -> &'static str {
        match self {
            ConnectError::Timeout => "connection timeout",
            ConnectError::Failed { .. } => "remote connection failure",
            ConnectError::Overflow => "overflow",
        }
    }

    pub fn transport_reason(&self) -> Option<&str> {
        match self {
            ConnectError::Timeout | ConnectError::Overflow => None,
            ConnectError::Failed { transport } => Some(transport),
        }
    }
}

impl Pool {
    /// An idle connection that is still open, or a new one. At the cluster's
    /// `max_connections` the request waits for one of this host's connections to come back
    /// (`max_pending_requests` of them may wait; more overflow), as Envoy's HTTP/1 pool does;
    /// a host with no connection at all gets one anyway, so every host can make progress.
    pub async fn acquire(host: &Arc<Host>, ctx: &PoolCtx<'_>) -> Result<Conn, ConnectError> {
        let mut waited = false;
        loop {
            if let Some(conn) = Self::take_idle(host, ctx).await {
                return Ok(conn);
            }
            let count = &ctx.stats.cx_count;
            let Some(limits) = ctx.limits else {
                count.fetch_add(1, Ordering::AcqRel);
                return connect(host, ctx).await;
            };
            let reserved = count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < limits.max_connections).then_some(n + 1)
                })
                .is_ok();
            let host_open = host.pool.count.load(Ordering::Acquire);
            if reserved || host_open == 0 {
                if !reserved {
                    count.fetch_add(1, Ordering::AcqRel);
                    ctx.stats.upstream_cx_overflow.inc();
                }
                return connect(host, ctx).await;
            }
            if !waited {
                ctx.stats.upstream_cx_overflow.inc();
            }
            let pending = limits.pending.fetch_add(1, Ordering::AcqRel);
            if pending >= limits.max_pending_requests {
                limits.pending.fetch_sub(1, Ordering::AcqRel);
                ctx.stats.upstream_rq_pending_overflow.inc();
                return Err(ConnectError::Overflow);
            }
            ctx.stats.upstream_rq_pending_active.inc();
            let notified = host.pool.available.notified();
            // Re-check after registering, so a release in between is not missed.
            let ready = match host.pool.idle.lock() {
                Ok(v) => !v.is_empty(),
                Err(_) => false,
            };
            if !ready {
                notified.await;
            }
            ctx.stats.upstream_rq_pending_active.dec();
            limits.pending.fetch_sub(1, Ordering::AcqRel);
            waited = true;
        }
    }

    async fn take_idle(host: &Arc<Host>, ctx: &PoolCtx<'_>) -> Option<Conn> {
        loop {
            let idle = host.pool.idle.lock().ok().and_then(|mut v| v.pop());
            let mut idle = idle?;
            if idle.sender.is_closed() {
                continue;
            }
            // Dropping the sender closes the connection (Envoy's `upstream_cx_idle_timeout`).
            if ctx.idle_timeout.is_some_and(|t| idle.since.elapsed() >= t) {
                ctx.stats.upstream_cx_idle_timeout.inc();
                continue;
            }
            // Ready once the previous response was fully read; an error means it closed.
            if idle.sender.ready().await.is_ok() {
                return Some(Conn {
                    sender: idle.sender,
                    fresh: false,
                    uses: idle.uses,
                    local: idle.local,
                    tls: idle.tls,
                });
            }
        }
    }

    /// Returns a connection after its response ended cleanly.
    pub fn release(
        host: &Host,
        mut conn: Conn,
        ctx_max_requests: Option<u32>,
        stats: &ClusterStats,
    ) {
        conn.uses += 1;
        if conn.sender.is_closed() {
            return;
        }
        if ctx_max_requests.is_some_and(|max| conn.uses >= max) {
            stats.upstream_cx_max_requests.inc();
            return;
        }
        if let Ok(mut idle) = host.pool.idle.lock() {
            idle.push(Idle {
                since: Instant::now(),
                local: conn.local,
                sender: conn.sender,
                uses: conn.uses,
                tls: conn.tls,
            });
        }
        host.pool.available.notify_one();
    }

    /// Drops every idle connection (cluster removed or changed).
    pub fn clear(&self) {
        if let Ok(mut idle) = self.idle.lock() {
            idle.clear();
        }
    }
}

/// Dials a connection counted in `cx_count` (released when it fails or, later, closes).
async fn connect(host: &Arc<Host>, ctx: &PoolCtx<'_>) -> Result<Conn, ConnectError> {
    host.pool.count.fetch_add(1, Ordering::AcqRel);
    let r = dial(host, ctx).await;
    if r.is_err() {
        ctx.stats.cx_count.fetch_sub(1, Ordering::AcqRel);
        host.pool.count.fetch_sub(1, Ordering::AcqRel);
        host.pool.available.notify_one();
    }
    r
}

async fn dial(host: &Arc<Host>, ctx: &PoolCtx<'_>) -> Result<Conn, ConnectError> {
    let stats = ctx.stats;
    let started = Instant::now();
    stats.upstream_cx_total.inc();
    inc(&host.stats.cx_total);
    plog!(
        ctx.log,
        Level::Debug,
        Component::Pool,
        "creating a new connection (connecting to {})",
        host.address
    );
    let stream =
        match tokio::time::timeout(ctx.connect_timeout, crate::net::dial_tcp(host.address)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                stats.upstream_cx_connect_fail.inc();
                inc(&host.stats.cx_connect_fail);
                stats.upstream_cx_destroy.inc();
                stats.upstream_cx_destroy_remote.inc();
                let transport = format!("delayed connect error: {}", strerror(&e));
                plog!(
                    ctx.log,
                    Level::Debug,
                    Component::Connection,
                    "connection to {} failed: {}",
                    host.address,
                    transport
                );
                return Err(ConnectError::Failed { transport });
            }
            Err(_) => {
                stats.upstream_cx_connect_fail.inc();
                stats.upstream_cx_connect_timeout.inc();
                inc(&host.stats.cx_connect_fail);
                stats.upstream_cx_destroy.inc();
                stats.upstream_cx_destroy_local.inc();
                plog!(
                    ctx.log,
                    Level::Debug,
                    Component::Connection,
                    "connection to {} timed out after {:?}",
                    host.address,
                    ctx.connect_timeout
                );
                return Err(ConnectError::Timeout);
            }
        };
    let local = stream.local_addr().ok();
    // A TLS connection is connected once its handshake is done, within the same timeout.
    let (stream, tls): (BoxStream, _) = match &ctx.tls {
        Some(tls) => {
            let left = ctx.connect_timeout.saturating_sub(started.elapsed());
            let handshake =
                tokio::time::timeout(left, tls.connect(Box::new(stream), host.address.ip(), true))
                    .await;
            match handshake {
                Ok(Ok((s, facts))) => (s, Some(facts)),
                Ok(Err(e)) => {
                    stats.upstream_cx_connect_fail.inc();
                    inc(&host.stats.cx_connect_fail);
                    stats.upstream_cx_destroy.inc();
                    stats.upstream_cx_destroy_remote.inc();
                    plog!(
                        ctx.log,
                        Level::Debug,
                        Component::Connection,
                        "TLS handshake with {} failed: {e}",
                        host.address
                    );
                    return Err(ConnectError::Failed { transport: e.0 });
                }
                Err(_) => {
                    stats.upstream_cx_connect_fail.inc();
                    stats.upstream_cx_connect_timeout.inc();
                    inc(&host.stats.cx_connect_fail);
                    stats.upstream_cx_destroy.inc();
                    stats.upstream_cx_destroy_local.inc();
                    return Err(ConnectError::Timeout);
                }
            }
        }
        None => (Box::new(stream), None),
    };
    stats
        .upstream_cx_connect_ms
        .record(started.elapsed().as_millis() as u64);
    let io = CountingIo::new(
        stream,
        stats.upstream_cx_rx_bytes_total.clone(),
        stats.upstream_cx_tx_bytes_total.clone(),
    );
    let handshake = hyper::client::conn::http1::Builder::new()
        .max_buf_size(ctx.max_response_headers.max(8192))
        .handshake::<_, Body>(TokioIo::new(io))
        .await;
    let (sender, connection) = match handshake {
        Ok(pair) => pair,
        Err(e) => {
            stats.upstream_cx_connect_fail.inc();
            inc(&host.stats.cx_connect_fail);
            return Err(ConnectError::Failed {
                transport: e.to_string(),
            });
        }
    };
    stats.upstream_cx_http1_total.inc();
    stats.upstream_cx_active.inc();
    inc(&host.stats.cx_active);
    let (stats, host2, log) = (stats.clone(), host.clone(), ctx.log.clone());
    let addr: SocketAddr = host.address;
    tokio::spawn(async move {
        let opened = Instant::now();
        let result = connection.await;
        stats.upstream_cx_active.dec();
        stats.cx_count.fetch_sub(1, Ordering::AcqRel);
        host2.pool.count.fetch_sub(1, Ordering::AcqRel);
        dec(&host2.stats.cx_active);
        // A waiting request may open a connection in its place.
        host2.pool.available.notify_one();
        stats.upstream_cx_destroy.inc();
        match &result {
            Err(e) if e.is_incomplete_message() => {
                stats.upstream_cx_destroy_remote_with_active_rq.inc();
                stats.upstream_cx_destroy_with_active_rq.inc();
                stats.upstream_cx_destroy_remote.inc();
            }
            _ => stats.upstream_cx_destroy_remote.inc(),
        }
        stats
            .upstream_cx_length_ms
            .record(opened.elapsed().as_millis() as u64);
        plog!(
            log,
            Level::Debug,
            Component::Connection,
            "closing upstream connection to {addr}"
        );
    });
    Ok(Conn {
        sender,
        fresh: true,
        uses: 0,
        local,
        tls,
    })
}

/// The C library's text for an I/O error ("Connection refused"), without Rust's suffix.
fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_owned(),
        None => text,
    }
}

/// A stream that counts bytes read and written into two counters.
pub struct CountingIo<T> {
    inner: T,
    rx: Counter,
    tx: Counter,
}

impl<T: AsyncRead + Unpin> AsyncRead for CountingIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let res = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.rx.add(n as u64);
        }
        res
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for CountingIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &res {
            self.tx.add(*n as u64);
        }
        res
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let res = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = &res {
            self.tx.add(*n as u64);
        }
        res
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<T> CountingIo<T> {
    pub fn new(inner: T, rx: Counter, tx: Counter) -> CountingIo<T> {
        CountingIo { inner, rx, tx }
    }
}
