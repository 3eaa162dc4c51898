//! fortio (`fortio/fortio`): the server its image runs (`fortio server`: the echo handler on
//! 8080 with `?status=` and `?delay=`, and `/debug`, which prints the request back as text), and
//! its command-line clients `fortio load` and `fortio curl`, which `mesh exec` runs for the
//! image's own binary (see [`cli`]).

pub mod cli;
mod gofmt;
mod histogram;
mod load;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Log;
use super::fake_service::gofmt::{duration, parse_duration};
use super::serve::{self, Body};

/// `fortio server`'s HTTP port.
pub const PORT: u16 = 8080;

/// The fortio release whose output we follow.
pub const VERSION: &str = "1.69.5";

/// Echo bodies beyond this are refused.
const MAX_BODY: usize = 1024 * 1024;

/// The longest `?delay=` honoured (fortio caps it at 1.5 s by default, `-maxpayload`-like).
const MAX_DELAY: Duration = Duration::from_millis(1500);

pub struct Server {
    hostname: String,
    started: Instant,
    log: Log,
}

impl Server {
    pub fn new(pod_name: &str, log: Log) -> Arc<Server> {
        log(&format!(
            "{{\"ts\":{},\"level\":\"info\",\"r\":1,\"file\":\"http_forwarder.go\",\"line\":1,\"msg\":\"Fortio {VERSION} echo server listening on tcp [::]:{PORT}\"}}",
            unix_now()
        ));
        Arc::new(Server {
            hostname: pod_name.to_owned(),
            started: Instant::now(),
            log,
        })
    }

    async fn handle(&self, request: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let Ok(body) = http_body_util::Limited::new(body, MAX_BODY).collect().await else {
            return reply(StatusCode::PAYLOAD_TOO_LARGE, "text/plain", Bytes::new());
        };
        let body = body.to_bytes();
        let query = parts.uri.query().unwrap_or("");
        if parts.uri.path() == "/debug" || parts.uri.path().starts_with("/debug/") {
            return reply(
                StatusCode::OK,
                "text/plain; charset=UTF-8",
                self.debug(&parts, &body, peer),
            );
        }
        let status = param(query, "status")
            .and_then(|s| s.parse::<u16>().ok())
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::OK);
        if let Some(delay) = param(query, "delay").and_then(|d| parse_duration(&d)) {
            let delay = Duration::from_nanos(u64::try_from(delay).unwrap_or(0)).min(MAX_DELAY);
            tokio::time::sleep(delay).await;
        }
        (self.log)(&format!(
            "{{\"ts\":{},\"level\":\"info\",\"r\":2,\"file\":\"httprunner.go\",\"line\":1,\"msg\":\"echo\",\"method\":\"{}\",\"url\":\"{}\",\"status\":{}}}",
            unix_now(),
            parts.method,
            parts.uri,
            status.as_u16()
        ));
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/octet-stream")
            .to_owned();
        let mut response = Response::new(serve::full(body));
        *response.status_mut() = status;
        if let Ok(value) = HeaderValue::from_str(&content_type) {
            response.headers_mut().insert(header::CONTENT_TYPE, value);
        }
        response
    }

    /// `/debug`: who answered, the request line, its headers and body.
    fn debug(&self, parts: &http::request::Parts, body: &[u8], peer: SocketAddr) -> String {
        let uptime =
            duration(i64::try_from(self.started.elapsed().as_secs()).unwrap_or(0) * 1_000_000_000);
        let mut out = format!(
            "Φορτίο version {VERSION} unknown go1.24 amd64 linux echo debug server up for {uptime} on {} - request from {peer}\n\n{} {} {:?}\n\nheaders:\n\n",
            self.hostname, parts.method, parts.uri, parts.version
        );
        if let Some(host) = parts
            .headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
        {
            out.push_str(&format!("Host: {host}\n"));
        }
        let mut names: Vec<&str> = parts
            .headers
            .keys()
            .map(|k| k.as_str())
            .filter(|k| *k != "host")
            .collect();
        names.sort_unstable();
        names.dedup();
        for name in names {
            for value in parts.headers.get_all(name) {
                out.push_str(&format!(
                    "{}: {}\n",
                    canonical(name),
                    String::from_utf8_lossy(value.as_bytes())
                ));
            }
        }
        out.push_str("\nbody:\n\n");
        out.push_str(&String::from_utf8_lossy(body));
        out.push('\n');
        out
    }
}

pub async fn serve(
    listener: TcpListener,
    app: Arc<Server>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let handler = move |request: Request<Incoming>, peer: SocketAddr| {
        let app = app.clone();
        async move { app.handle(request, peer).await }
    };
    serve::serve_http1("fortio", listener, handler, shutdown).await
}

fn reply(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(serve::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A query parameter's first value (no percent-decoding: fortio's parameters are plain).
fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (k == name).then(|| v.to_owned())
    })
}

/// Go's `http.CanonicalHeaderKey`.
fn canonical(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            match chars.next() {
                Some(first) => {
                    first.to_ascii_uppercase().to_string() + &chars.as_str().to_ascii_lowercase()
                }
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// Seconds since the epoch with microseconds, as fortio's JSON logs write `ts`.
fn unix_now() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!("{}.{:06}", now.as_secs(), now.subsec_micros())
}
