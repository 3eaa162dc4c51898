//! The HTTP/2 connection pool of one upstream host: multiplexed connections shared by every
//! request to that host; a new one is dialled when the open ones carry the cluster's
//! `max_concurrent_streams` each (Envoy's default: 2^31-1, so one connection) or have closed.
//! Counted in `upstream_cx_http2_total` and the usual `upstream_cx_*` stats. Streams beyond
//! the server's own `SETTINGS_MAX_CONCURRENT_STREAMS` wait in hyper for a free stream.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::plog;

use super::super::http::body::Body;
use super::super::log::{Component, Level};
use super::super::tls::ConnTls;
use super::host::{Host, dec, inc};
use super::pool::{Conn, ConnectError, Pool, PoolCtx};
use super::protocol::H2Settings;
use super::stats::ClusterStats;

/// A host's open HTTP/2 connections.
#[derive(Debug, Default)]
pub struct H2Pool {
    slot: tokio::sync::Mutex<Vec<H2Conn>>,
}

/// A handle on the shared connection (cheap to clone: one per request).
#[derive(Debug, Clone)]
pub struct H2Conn {
    pub sender: SendRequest<Body>,
    pub local: Option<SocketAddr>,
    pub tls: Option<Arc<ConnTls>>,
    /// One reference per holder: the pool's slot and each request on the connection.
    users: Arc<()>,
}

impl H2Conn {
    /// Requests on this connection now (every holder but the pool).
    fn streams(&self) -> u64 {
        (Arc::strong_count(&self.users) as u64).saturating_sub(1)
    }
}

impl H2Pool {
    /// An open connection with a free stream, or a new one (requests arriving meanwhile wait
    /// for it rather than dialling their own, as Envoy's HTTP/2 pool does).
    pub async fn acquire(
        host: &Arc<Host>,
        ctx: &PoolCtx<'_>,
        settings: &H2Settings,
    ) -> Result<(H2Conn, bool), ConnectError> {
        let max = u64::from(
            settings
                .max_concurrent_streams
                .unwrap_or(2_147_483_647)
                .max(1),
        );
        let mut open = host.h2.slot.lock().await;
        open.retain(|c| !c.sender.is_closed());
        if let Some(c) = open
            .iter()
            .find(|c| c.sender.is_ready() && c.streams() < max)
        {
            return Ok((c.clone(), false));
        }
        let conn = connect(host, ctx, settings).await?;
        open.push(conn.clone());
        Ok((conn, true))
    }

    /// Forgets the open connections (cluster removed or changed); requests in flight finish.
    pub fn clear(&self) {
        if let Ok(mut s) = self.slot.try_lock() {
            s.clear();
        }
    }
}

async fn connect(
    host: &Arc<Host>,
    ctx: &PoolCtx<'_>,
    settings: &H2Settings,
) -> Result<H2Conn, ConnectError> {
    let stats = ctx.stats;
    stats.cx_count.fetch_add(1, Ordering::AcqRel);
    let opened = match super::dial::open(host, ctx, false).await {
        Ok(o) => o,
        Err(e) => {
            stats.cx_count.fetch_sub(1, Ordering::AcqRel);
            return Err(e);
        }
    };
    let mut builder = hyper::client::conn::http2::Builder::new(TokioExecutor::new());
    // Envoy's defaults: 256 MiB windows.
    builder
        .initial_stream_window_size(settings.initial_stream_window_size.unwrap_or(268_435_456))
        .initial_connection_window_size(
            settings
                .initial_connection_window_size
                .unwrap_or(268_435_456),
        )
        .max_frame_size(16_384)
        .max_header_list_size(u32::try_from(ctx.max_response_headers).unwrap_or(u32::MAX));
    let handshake = builder.handshake::<_, Body>(TokioIo::new(opened.io)).await;
    let (sender, connection) = match handshake {
        Ok(pair) => pair,
        Err(e) => {
            stats.cx_count.fetch_sub(1, Ordering::AcqRel);
            stats.upstream_cx_connect_fail.inc();
            inc(&host.stats.cx_connect_fail);
            return Err(ConnectError::Failed {
                transport: e.to_string(),
            });
        }
    };
    stats.upstream_cx_http2_total.inc();
    stats.upstream_cx_active.inc();
    inc(&host.stats.cx_active);
    let (stats, host2, log) = (ctx.stats.clone(), host.clone(), ctx.log.clone());
    tokio::spawn(async move {
        let started = Instant::now();
        let result = connection.await;
        if let Err(e) = result {
            plog!(
                log,
                Level::Debug,
                Component::Connection,
                "upstream HTTP/2 connection error: {e}"
            );
        }
        closed(&stats, &host2);
        stats
            .upstream_cx_length_ms
            .record(started.elapsed().as_millis() as u64);
        plog!(
            log,
            Level::Debug,
            Component::Connection,
            "closing upstream HTTP/2 connection to {}",
            host2.address
        );
    });
    let conn = H2Conn {
        sender,
        local: opened.local,
        tls: opened.tls,
        users: Arc::new(()),
    };
    if let Some(idle) = ctx.idle_timeout {
        tokio::spawn(close_when_idle(
            host.clone(),
            conn.clone(),
            idle,
            ctx.stats.clone(),
        ));
    }
    Ok(conn)
}

/// Envoy's upstream idle timeout: a connection with no stream for `idle` is closed (the pool
/// forgets it; hyper closes it once the last handle is gone). Checked four times per period.
async fn close_when_idle(
    host: Arc<Host>,
    conn: H2Conn,
    idle: std::time::Duration,
    stats: Arc<ClusterStats>,
) {
    let step = (idle / 4).max(std::time::Duration::from_millis(10));
    let mut quiet = std::time::Duration::ZERO;
    // Holds no handle itself, so a connection the pool forgot closes as its last request ends.
    let weak = Arc::downgrade(&conn.users);
    drop(conn);
    loop {
        tokio::time::sleep(step).await;
        let users = weak.strong_count();
        if users == 0 {
            return;
        }
        // The slot's reference only: no stream in flight.
        quiet = if users <= 1 {
            quiet + step
        } else {
            std::time::Duration::ZERO
        };
        if quiet >= idle {
            let mut open = host.h2.slot.lock().await;
            if let Some(users) = weak.upgrade() {
                let before = open.len();
                open.retain(|c| !Arc::ptr_eq(&c.users, &users));
                if open.len() < before {
                    stats.upstream_cx_idle_timeout.inc();
                }
            }
            return;
        }
    }
}

fn closed(stats: &ClusterStats, host: &Host) {
    stats.upstream_cx_active.dec();
    stats.cx_count.fetch_sub(1, Ordering::AcqRel);
    dec(&host.stats.cx_active);
    stats.upstream_cx_destroy.inc();
    stats.upstream_cx_destroy_remote.inc();
}

/// The connection one request went out on: its own HTTP/1.1 connection (returned to the pool
/// when the response ends) or a stream of the host's shared HTTP/2 connection.
pub enum Lease {
    H1(Conn),
    H2(H2Conn),
    /// A connection of its own (an upgrade), never returned to a pool.
    Dedicated {
        local: Option<SocketAddr>,
        tls: Option<Arc<ConnTls>>,
    },
}

impl Lease {
    pub fn local(&self) -> Option<SocketAddr> {
        match self {
            Lease::H1(c) => c.local,
            Lease::H2(c) => c.local,
            Lease::Dedicated { local, .. } => *local,
        }
    }

    pub fn tls(&self) -> Option<Arc<ConnTls>> {
        match self {
            Lease::H1(c) => c.tls.clone(),
            Lease::H2(c) => c.tls.clone(),
            Lease::Dedicated { tls, .. } => tls.clone(),
        }
    }

    /// The response ended cleanly: an HTTP/1.1 connection may serve the next request.
    pub fn release(self, host: &Host, max_requests: Option<u32>, stats: &ClusterStats) {
        if let Lease::H1(c) = self {
            Pool::release(host, c, max_requests, stats);
        }
    }
}
