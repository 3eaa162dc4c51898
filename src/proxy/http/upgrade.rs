//! HTTP/1.1 upgrades (WebSocket and other `Upgrade:` protocols): whether a request may upgrade
//! (the connection manager's `upgrade_configs`, overridden per route, as Envoy decides), the
//! upgrade request sent upstream on a connection of its own, and the tunnel joining both
//! sides once the upstream answered `101 Switching Protocols`.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use http::{HeaderMap, Request, Response, header};
use hyper::body::Incoming;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use super::super::cluster::Cluster;
use super::super::cluster::h2pool::Lease;
use super::super::cluster::host::{Host, dec, inc};
use super::super::stats::{Counter, Gauge};
use super::body::Body;
use super::router::Failure;

/// The upgrade a request asks for (`Upgrade: websocket` with `Connection: upgrade`), lower-cased.
pub fn requested(headers: &HeaderMap) -> Option<String> {
    let connection_says = headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str().is_ok_and(|s| {
            s.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        })
    });
    if !connection_says {
        return None;
    }
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_ascii_lowercase())
        .filter(|v| !v.is_empty())
}

/// Envoy's table: the type must be in the connection manager's `upgrade_configs`; a route's
/// own entry for it (enabled or not) wins over the manager's `enabled`.
pub fn allowed(hcm: &[(String, bool)], route: &[(String, bool)], kind: &str) -> bool {
    let Some((_, enabled)) = hcm.iter().find(|(k, _)| k == kind) else {
        return false;
    };
    match route.iter().find(|(k, _)| k == kind) {
        Some((_, r)) => *r,
        None => *enabled,
    }
}

/// Sends the upgrade request on a new HTTP/1.1 connection (an upgraded connection is never
/// pooled), with hyper's upgrade support on.
pub(super) async fn send(
    cluster: &Arc<Cluster>,
    host: &Arc<Host>,
    req: Request<Body>,
) -> Result<(Response<Incoming>, Lease), Failure> {
    let ctx = cluster.pool_ctx_for(host);
    let opened = super::super::cluster::dial::open(host, &ctx, true)
        .await
        .map_err(Failure::Connect)?;
    let (local, tls) = (opened.local, opened.tls.clone());
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .handshake::<_, Body>(TokioIo::new(opened.io))
        .await
        .map_err(|e| {
            Failure::Connect(super::super::cluster::pool::ConnectError::Failed {
                transport: e.to_string(),
            })
        })?;
    let stats = cluster.stats.clone();
    stats.upstream_cx_http1_total.inc();
    stats.upstream_cx_active.inc();
    stats.cx_count.fetch_add(1, Ordering::AcqRel);
    inc(&host.stats.cx_active);
    cluster.stats.upstream_rq_pending_total.inc();
    let host2 = host.clone();
    tokio::spawn(async move {
        // Ends when the tunnel (or a refused upgrade's response) is done with it.
        let _ = connection.with_upgrades().await;
        stats.upstream_cx_active.dec();
        stats.cx_count.fetch_sub(1, Ordering::AcqRel);
        stats.upstream_cx_destroy.inc();
        dec(&host2.stats.cx_active);
    });
    match sender.send_request(req).await {
        Ok(resp) => Ok((resp, Lease::Dedicated { local, tls })),
        Err(e) => Err(Failure::Reset {
            reason: "connection termination".to_owned(),
            sent: true,
            protocol: e.is_parse(),
        }),
    }
}

/// Joins the client's upgraded connection to the upstream's and copies bytes both ways until
/// either side closes; counted in `downstream_cx_upgrades_*`.
pub fn tunnel(down: OnUpgrade, up: OnUpgrade, total: &Counter, active: &Gauge) {
    total.inc();
    active.inc();
    let active = active.clone();
    tokio::spawn(async move {
        if let (Ok(down), Ok(up)) = (down.await, up.await) {
            let (mut d, mut u) = (TokioIo::new(down), TokioIo::new(up));
            let _ = tokio::io::copy_bidirectional(&mut d, &mut u).await;
        }
        active.dec();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_requests_upgrade() {
        let mut h = HeaderMap::new();
        h.insert("upgrade", "WebSocket".parse().unwrap());
        assert_eq!(requested(&h), None, "no Connection: upgrade");
        h.insert("connection", "keep-alive, Upgrade".parse().unwrap());
        assert_eq!(requested(&h).as_deref(), Some("websocket"));
    }

    #[test]
    fn envoys_enable_table() {
        let on = vec![("websocket".to_owned(), true)];
        let off = vec![("websocket".to_owned(), false)];
        assert!(allowed(&on, &[], "websocket"));
        assert!(!allowed(&on, &off, "websocket"));
        assert!(allowed(&off, &on, "websocket"));
        assert!(!allowed(&off, &[], "websocket"));
        assert!(
            !allowed(&[], &on, "websocket"),
            "the manager must know the type"
        );
    }
}
