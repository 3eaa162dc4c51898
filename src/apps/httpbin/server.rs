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
use crate::apps::Log;

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
    serve_logged(listener, flavor, None, shutdown).await
}

/// [`serve_flavor`] writing gunicorn's access log line per request to `access` (the image run
/// with `gunicorn --access-logfile -`, as Istio's mirroring task does).
pub async fn serve_logged(
    listener: TcpListener,
    flavor: Flavor,
    access: Option<Log>,
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
        let access = access.clone();
        let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let access = access.clone();
            async move {
                let line = access.as_ref().map(|_| RequestLine::of(&req, peer));
                let response = handle_flavor(req, peer, flavor).await;
                if let (Some(log), Some(line)) = (access, line) {
                    log(&line.gunicorn(&response));
                }
                Ok::<_, Infallible>(response)
            }
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

/// What gunicorn's access log needs from a request, taken before the handler consumes it.
struct RequestLine {
    peer: std::net::IpAddr,
    request: String,
    referer: String,
    agent: String,
}

impl RequestLine {
    fn of<B>(req: &hyper::Request<B>, peer: std::net::SocketAddr) -> RequestLine {
        let header = |name: hyper::header::HeaderName| {
            req.headers().get(name).map_or("-".to_owned(), |v| {
                String::from_utf8_lossy(v.as_bytes()).into_owned()
            })
        };
        let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
        RequestLine {
            peer: peer.ip(),
            request: format!("{} {target} {:?}", req.method(), req.version()),
            referer: header(hyper::header::REFERER),
            agent: header(hyper::header::USER_AGENT),
        }
    }

    /// gunicorn's default `access_log_format`: `%(h)s %(l)s %(u)s %(t)s "%(r)s" %(s)s %(b)s
    /// "%(f)s" "%(a)s"`.
    fn gunicorn<B: hyper::body::Body>(&self, response: &hyper::Response<B>) -> String {
        let size = response
            .headers()
            .get(hyper::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| response.body().size_hint().exact().map(|n| n.to_string()))
            .unwrap_or_else(|| "-".to_owned());
        let now = time::OffsetDateTime::now_utc()
            .format(time::macros::format_description!(
                "[day]/[month repr:short]/[year]:[hour]:[minute]:[second] +0000"
            ))
            .unwrap_or_default();
        format!(
            "{} - - [{now}] \"{}\" {} {size} \"{}\" \"{}\"",
            self.peer,
            self.request,
            response.status().as_u16(),
            self.referer,
            self.agent
        )
    }
}
