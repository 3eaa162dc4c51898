//! The HTTP/1.1 accept loop shared by catalog and webapp (Node's and Go's servers speak plain
//! HTTP/1.1, no h2c). A handler may ask for the connection to be dropped instead of answered
//! (catalog's `drop` fault) by tagging its response with [`DropConnection`].

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

/// The response body type of every app answer (the same type as httpbin's).
pub type Body = BoxBody<Bytes, io::Error>;

/// How long a stopping app lets in-flight requests finish (a killed container gives none; a
/// short grace keeps tests and restarts tidy).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(2);

/// Response extension: close the connection without sending this response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DropConnection;

#[derive(Debug, thiserror::Error)]
#[error("the app dropped the connection on purpose")]
struct Dropped;

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A response that closes the connection unanswered.
pub fn dropped() -> Response<Body> {
    let mut response = Response::new(full(Bytes::new()));
    response.extensions_mut().insert(DropConnection);
    response
}

/// Serves HTTP/1.1 with `handler` until `shutdown`, then stops accepting and lets in-flight
/// requests finish for up to [`DRAIN_TIMEOUT`].
pub async fn serve_http1<H, F>(
    app: &'static str,
    listener: TcpListener,
    handler: H,
    shutdown: CancellationToken,
) -> io::Result<()>
where
    H: Fn(Request<Incoming>, SocketAddr) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Response<Body>> + Send + 'static,
{
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Per-connection failures (aborted handshakes, fd exhaustion) are transient.
                tracing::warn!("{app}: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let service = service_fn(move |req| {
            let answer = handler(req, peer);
            async move {
                let response = answer.await;
                if response.extensions().get::<DropConnection>().is_some() {
                    // hyper closes the connection, unanswered, when the service fails.
                    return Err(Dropped);
                }
                Ok::<_, Dropped>(response)
            }
        });
        let stop = shutdown.clone();
        connections.spawn(async move {
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .serve_connection(TokioIo::new(stream), service);
            let mut conn = std::pin::pin!(conn);
            tokio::select! {
                result = conn.as_mut() => log_end(app, peer, result),
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    log_end(app, peer, conn.await);
                }
            }
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!("{app}: closing connections still open after {DRAIN_TIMEOUT:?}");
    }
    Ok(())
}

fn log_end(app: &str, peer: SocketAddr, result: Result<(), hyper::Error>) {
    if let Err(err) = result {
        tracing::debug!(%peer, "{app}: connection ended: {err}");
    }
}
