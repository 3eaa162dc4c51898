//! Sending one request as a stream of the host's shared HTTP/2 connection: the request is
//! turned into HTTP/2 form (`:scheme`/`:authority` from the URI, no `host` or
//! connection-specific headers) and its failures become the router's reset reasons.

use std::sync::Arc;

use http::{HeaderValue, Request, Response, Uri, header};
use hyper::body::Incoming;

use super::super::cluster::Cluster;
use super::super::cluster::h2pool::{H2Pool, Lease};
use super::super::cluster::host::Host;
use super::body::Body;
use super::router::Failure;

/// Headers HTTP/2 forbids (RFC 9113 §8.2.2); `te` may only say `trailers`.
const CONNECTION_SPECIFIC: [&str; 5] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "upgrade",
];

pub(super) async fn send(
    cluster: &Arc<Cluster>,
    host: &Arc<Host>,
    mut req: Request<Body>,
) -> Result<(Response<Incoming>, Lease), Failure> {
    let ctx = cluster.pool_ctx_for(host);
    let (conn, fresh) = H2Pool::acquire(host, &ctx, &cluster.protocol.h2)
        .await
        .map_err(Failure::Connect)?;
    if fresh {
        cluster.stats.upstream_rq_pending_total.inc();
    }
    to_h2_form(&mut req, conn.tls.is_some());
    let mut sender = conn.sender.clone();
    match sender.send_request(req).await {
        Ok(resp) => Ok((resp, Lease::H2(conn))),
        Err(e) => {
            // A stream the server refused or reset, or a connection that went away.
            let text = e.to_string();
            let refused = text.contains("REFUSED_STREAM");
            Err(Failure::Reset {
                reason: if refused {
                    "remote refused stream reset".to_owned()
                } else if e.is_closed() || e.is_canceled() {
                    "connection termination".to_owned()
                } else {
                    "remote reset".to_owned()
                },
                sent: !refused,
                protocol: false,
            })
        }
    }
}

/// Absolute URI (`:scheme`, `:authority`) instead of a `host` header; no HTTP/1-only headers.
fn to_h2_form(req: &mut Request<Body>, tls: bool) {
    let headers = req.headers_mut();
    let authority = headers
        .remove(header::HOST)
        .and_then(|h| h.to_str().ok().map(str::to_owned));
    for h in CONNECTION_SPECIFIC {
        headers.remove(h);
    }
    if headers
        .get(header::TE)
        .is_some_and(|v| !v.as_bytes().eq_ignore_ascii_case(b"trailers"))
    {
        headers.insert(header::TE, HeaderValue::from_static("trailers"));
    }
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    let scheme = if tls { "https" } else { "http" };
    let authority = authority.unwrap_or_else(|| "localhost".to_owned());
    if let Ok(uri) = format!("{scheme}://{authority}{path}").parse::<Uri>() {
        *req.uri_mut() = uri;
    }
    *req.version_mut() = http::Version::HTTP_2;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_take_http2_form() {
        let mut req = Request::builder()
            .uri("/a?b=1")
            .header("host", "svc:80")
            .header("connection", "close")
            .header("te", "gzip")
            .body(super::super::body::empty())
            .unwrap();
        to_h2_form(&mut req, false);
        assert_eq!(req.uri().to_string(), "http://svc:80/a?b=1");
        assert!(req.headers().get("host").is_none());
        assert!(req.headers().get("connection").is_none());
        assert_eq!(req.headers()["te"], "trailers");
    }
}
