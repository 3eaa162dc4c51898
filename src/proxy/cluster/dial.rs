//! Opening one upstream transport connection (TCP, then TLS when the cluster originates it)
//! with the cluster's connect timeout, counted in `upstream_cx_*` and the host's counters.
//! Used by the HTTP/2 pool and by upgraded (WebSocket) requests; the HTTP/1.1 pool keeps its
//! own copy on its hot path.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use crate::net::dial::BoxStream;
use crate::plog;

use super::super::log::{Component, Level};
use super::super::tls::ConnTls;
use super::host::{Host, inc};
use super::pool::{ConnectError, CountingIo, PoolCtx};

/// A connected, counted upstream stream.
pub struct Opened {
    pub io: CountingIo<BoxStream>,
    pub local: Option<SocketAddr>,
    pub tls: Option<Arc<ConnTls>>,
}

/// Dials `host`; `http1_only` drops `h2` from the ALPN offer.
pub async fn open(
    host: &Arc<Host>,
    ctx: &PoolCtx<'_>,
    http1_only: bool,
) -> Result<Opened, ConnectError> {
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
    let fail = |timeout: bool| {
        stats.upstream_cx_connect_fail.inc();
        inc(&host.stats.cx_connect_fail);
        stats.upstream_cx_destroy.inc();
        if timeout {
            stats.upstream_cx_connect_timeout.inc();
            stats.upstream_cx_destroy_local.inc();
        } else {
            stats.upstream_cx_destroy_remote.inc();
        }
    };
    let stream =
        match tokio::time::timeout(ctx.connect_timeout, crate::net::dial_tcp(host.address)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => {
                fail(false);
                let text = e.to_string();
                let text = text.split(" (os error").next().unwrap_or_default();
                return Err(ConnectError::Failed {
                    transport: format!("delayed connect error: {text}"),
                });
            }
            Err(_) => {
                fail(true);
                return Err(ConnectError::Timeout);
            }
        };
    let local = stream.local_addr().ok();
    let (stream, tls): (BoxStream, _) = match &ctx.tls {
        Some(tls) => {
            let left = ctx.connect_timeout.saturating_sub(started.elapsed());
            let handshake = tokio::time::timeout(
                left,
                tls.connect(Box::new(stream), host.address.ip(), http1_only),
            )
            .await;
            match handshake {
                Ok(Ok((s, facts))) => (s, Some(facts)),
                Ok(Err(e)) => {
                    fail(false);
                    return Err(ConnectError::Failed { transport: e.0 });
                }
                Err(_) => {
                    fail(true);
                    return Err(ConnectError::Timeout);
                }
            }
        }
        None => (Box::new(stream), None),
    };
    stats
        .upstream_cx_connect_ms
        .record(started.elapsed().as_millis() as u64);
    Ok(Opened {
        io: CountingIo::new(
            stream,
            stats.upstream_cx_rx_bytes_total.clone(),
            stats.upstream_cx_tx_bytes_total.clone(),
        ),
        local,
        tls,
    })
}
