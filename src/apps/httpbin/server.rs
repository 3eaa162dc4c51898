//! [`serve`]: the accept loop. HTTP/1.1 and h2c (prior knowledge) on one port, graceful
//! shutdown that lets in-flight requests finish.

use std::convert::Infallible;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Flavor;
use super::router::handle_flavor;

/// How long a shutdown waits for in-flight requests (a `/delay` is at most 10 s).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);

/// Serves HTTP/1.1 (and h2c prior knowledge) until `shutdown` is cancelled, then stops
/// accepting and finishes in-flight requests (up to a bounded drain time).
pub async fn serve(listener: TcpListener, shutdown: CancellationToken) -> std::io::Result<()> {
    serve_flavor(listener, Flavor::Classic, shutdown).await
}

/// [`serve`] answering with `flavor`'s JSON shapes.
pub async fn serve_flavor(
    listener: TcpListener,
    flavor: Flavor,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // A timer makes hyper's 30 s header-read timeout take effect (slow clients can't pin us).
    builder.http1().timer(TokioTimer::new());
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Per-connection failures (aborted handshakes, fd exhaustion) are transient.
                tracing::warn!("httpbin: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service_fn(move |req| async move {
            Ok::<_, Infallible>(handle_flavor(req, peer, flavor).await)
        });
        let conn = builder
            .serve_connection(TokioIo::new(stream), service)
            .into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(err) = conn.await {
                tracing::debug!(%peer, "httpbin: connection ended: {err}");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("httpbin: connections still open after {DRAIN_TIMEOUT:?}; closing them");
    }
    Ok(())
}
