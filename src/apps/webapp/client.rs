//! webapp's calls to catalog and forum, as beego's `httplib` over Go's HTTP client makes them:
//! a fresh HTTP/1.1 connection per call through the pod's [`Dialer`], `Host: HOST:PORT` exactly
//! as the environment spells it, `User-Agent: beegoServer`, `Accept-Encoding: gzip`, and the
//! caller's `x-*`/`Authorization` headers (first value of each) so tracing headers reach the
//! next service. httplib gives up after 60 s.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;

use crate::net::dial::Dialer;

/// httplib's default connect and read/write timeouts are 60 s each; one bound for the call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Answers beyond this are refused (the original had no limit; a sandbox wants one).
pub const MAX_RESPONSE: usize = 10 * 1024 * 1024;

/// Where a service is, from `*_SERVICE_HOST` and `*_SERVICE_PORT` as written in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: String,
}

/// Why a call failed; webapp answers 500 either way, this is for our own debug log.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    #[error("no host to call: the service host variable is empty")]
    NoHost,
    #[error("invalid port {0:?} in the service port variable")]
    BadPort(String),
    #[error("cannot connect to {target}: {source}")]
    Connect {
        target: String,
        source: std::io::Error,
    },
    #[error("HTTP exchange with {target} failed: {source}")]
    Http {
        target: String,
        source: hyper::Error,
    },
    #[error("no answer from {target} within {timeout:?}")]
    Timeout { target: String, timeout: Duration },
    #[error("answer from {target} is larger than {MAX_RESPONSE} bytes")]
    TooLarge { target: String },
    #[error("answer from {target} is gzip-encoded, which this client does not decode")]
    Gzip { target: String },
    #[error("cannot build the request: {0}")]
    Request(#[from] http::Error),
}

/// An answer: status and whole body (httplib reads the body whatever the status).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// The incoming headers webapp forwards: names starting `x-` or `authorization`, first value.
pub fn propagated(incoming: &HeaderMap) -> Vec<(HeaderName, HeaderValue)> {
    let mut out: Vec<(HeaderName, HeaderValue)> = incoming
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name.starts_with("x-") || name.starts_with("authorization")
        })
        .filter_map(|name| Some((name.clone(), incoming.get(name)?.clone())))
        .collect();
    // Go writes request headers sorted by name.
    out.sort_by(|a, b| a.0.as_str().cmp(b.0.as_str()));
    out
}

impl Upstream {
    /// The port to dial (Go uses 80 when the URL's port is empty).
    fn port_number(&self) -> Result<u16, CallError> {
        if self.port.is_empty() {
            return Ok(80);
        }
        self.port
            .parse()
            .map_err(|_| CallError::BadPort(self.port.clone()))
    }

    fn target(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    /// Calls `method path` with `forward`ed headers and an optional JSON body.
    pub async fn call(
        &self,
        dialer: &dyn Dialer,
        method: Method,
        path: &str,
        forward: &[(HeaderName, HeaderValue)],
        json: Option<Bytes>,
        timeout: Duration,
    ) -> Result<Answer, CallError> {
        if self.host.is_empty() {
            return Err(CallError::NoHost);
        }
        let port = self.port_number()?;
        let has_body = json.is_some();
        let mut request = Request::builder()
            .method(method)
            .uri(path)
            .body(Full::new(json.unwrap_or_default()))?;
        let headers = request.headers_mut();
        let host = HeaderValue::from_str(&self.target()).map_err(http::Error::from)?;
        headers.insert(header::HOST, host);
        headers.insert(header::USER_AGENT, HeaderValue::from_static("beegoServer"));
        if has_body {
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        for (name, value) in forward {
            headers.insert(name.clone(), value.clone());
        }
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
        let target = self.target();
        let exchange = self.exchange(dialer, port, request);
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Timeout { target, timeout }),
        }
    }

    async fn exchange(
        &self,
        dialer: &dyn Dialer,
        port: u16,
        request: Request<Full<Bytes>>,
    ) -> Result<Answer, CallError> {
        let target = self.target();
        let stream = dialer
            .dial(&self.host, port)
            .await
            .map_err(|source| CallError::Connect {
                target: target.clone(),
                source,
            })?;
        let http = |source| CallError::Http {
            target: target.clone(),
            source,
        };
        let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
            .title_case_headers(true)
            .handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        // Drives the connection; aborted (closing it) when this call ends or is abandoned.
        let _driver = AbortOnDrop(tokio::spawn(connection));
        let response = sender.send_request(request).await.map_err(http)?;
        let (parts, body) = response.into_parts();
        if parts
            .headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"))
        {
            return Err(CallError::Gzip { target });
        }
        let mut body = std::pin::pin!(body);
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(http)?.into_data() {
                if buf.len() + data.len() > MAX_RESPONSE {
                    return Err(CallError::TooLarge { target });
                }
                buf.extend_from_slice(&data);
            }
        }
        Ok(Answer {
            status: parts.status,
            body: buf.freeze(),
        })
    }
}

/// Aborts a task when dropped: a timed-out call must not leave its connection behind.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwards_x_headers_and_authorization_only() {
        let mut incoming = HeaderMap::new();
        for (k, v) in [
            ("x-request-id", "r1"),
            ("x-b3-traceid", "t1"),
            ("authorization", "Bearer abc"),
            ("user-agent", "curl/8.7.1"),
            ("host", "webapp.istioinaction.io"),
            ("accept", "*/*"),
            ("x-request-id", "second value is dropped"),
        ] {
            incoming.append(k, v.parse().unwrap());
        }
        let forwarded: Vec<(String, String)> = propagated(&incoming)
            .into_iter()
            .map(|(n, v)| (n.to_string(), v.to_str().unwrap().to_owned()))
            .collect();
        assert_eq!(
            forwarded,
            [
                ("authorization".to_owned(), "Bearer abc".to_owned()),
                ("x-b3-traceid".to_owned(), "t1".to_owned()),
                ("x-request-id".to_owned(), "r1".to_owned()),
            ]
        );
    }
}
