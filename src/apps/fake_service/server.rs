//! fake-service's listener, as Go 1.12's net/http runs it: plain HTTP/1.1 (no h2c), or with
//! TLS HTTP/2 and HTTP/1.1 chosen by ALPN. A plain-text request sent to the TLS port gets Go's
//! `400 Client sent an HTTP request to an HTTPS server.`; a failed handshake is logged as
//! net/http logs it. Stops accepting on shutdown, then drains like the other apps.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;

use super::handler::FakeService;
use crate::apps::serve::DRAIN_TIMEOUT;

/// Go peeks at a failed handshake's first five bytes for these (`tlsRecordHeaderLooksLikeHTTP`).
const HTTP_STARTS: [&[u8; 5]; 5] = [b"GET /", b"HEAD ", b"POST ", b"PUT /", b"OPTIO"];

/// A handshake that has not finished by then is dropped (Go has no limit; a sandbox wants one).
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    tls: Option<Arc<ServerConfig>>,
    app: Arc<FakeService>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let acceptor = tls.map(TlsAcceptor::from);
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
                tracing::warn!("fake-service: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let serving = connection(
            stream,
            peer,
            acceptor.clone(),
            app.clone(),
            shutdown.clone(),
        );
        let stopped = shutdown.clone().cancelled_owned();
        connections.spawn(async move {
            // Past the drain time a connection is cut, whatever it is doing.
            let cut = async move {
                stopped.await;
                tokio::time::sleep(DRAIN_TIMEOUT).await;
            };
            tokio::select! {
                () = serving => {}
                () = cut => {}
            }
        });
    }
    drop(listener);
    let drained = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::debug!("fake-service: closing connections still open after {DRAIN_TIMEOUT:?}");
    }
    Ok(())
}

async fn connection(
    mut stream: TcpStream,
    peer: SocketAddr,
    acceptor: Option<TlsAcceptor>,
    app: Arc<FakeService>,
    stop: CancellationToken,
) {
    let Some(acceptor) = acceptor else {
        http_conn(TokioIo::new(stream), peer, app, stop, false).await;
        return;
    };
    if looks_like_http(&stream).await {
        // Read what was sent first: closing on unread bytes would reset the connection
        // before the client sees the answer.
        let mut request = [0u8; 4096];
        let _ = tokio::time::timeout(Duration::from_millis(100), stream.read(&mut request)).await;
        let answer =
            b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
        let _ = stream.write_all(answer).await;
        let _ = stream.shutdown().await;
        return;
    }
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(err)) => {
            app.log
                .std(&format!("http: TLS handshake error from {peer}: {err}"));
            return;
        }
        Err(_) => return,
    };
    let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2".as_slice());
    http_conn(TokioIo::new(tls), peer, app, stop, h2).await;
}

/// Go's check on a failed handshake's record header, done up front.
async fn looks_like_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 5];
    let peeked = stream.peek(&mut first).await.unwrap_or(0);
    peeked == first.len() && HTTP_STARTS.iter().any(|start| **start == first)
}

/// HTTP on an accepted connection (HTTP/2 only after ALPN chose it). A panicking handler
/// closes the connection, or resets its stream on HTTP/2, as net/http does.
async fn http_conn<S>(
    io: TokioIo<S>,
    peer: SocketAddr,
    app: Arc<FakeService>,
    stop: CancellationToken,
    h2: bool,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let prefix = if h2 { "http2" } else { "http" };
    let service = service_fn(move |req| {
        let app = app.clone();
        async move {
            let answer = app.serve(req).await;
            if let Err(panic) = &answer {
                app.log
                    .std(&format!("{prefix}: panic serving {peer}: {panic}"));
            }
            answer
        }
    });
    // (Two spelled-out arms rather than one generic driver: a generic `GracefulConnection`
    // bound makes rustc's `Send` inference for the spawned task fail.)
    let result = if h2 {
        let conn = http2::Builder::new(TokioExecutor::new())
            .timer(TokioTimer::new())
            .serve_connection(io, service);
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => result,
            () = stop.cancelled() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        }
    } else {
        let conn = http1::Builder::new()
            .timer(TokioTimer::new())
            .title_case_headers(true)
            .serve_connection(io, service);
        let mut conn = std::pin::pin!(conn);
        tokio::select! {
            result = conn.as_mut() => result,
            () = stop.cancelled() => {
                conn.as_mut().graceful_shutdown();
                conn.await
            }
        }
    };
    if let Err(err) = result {
        tracing::debug!(%peer, "fake-service: connection ended: {err}");
    }
}
