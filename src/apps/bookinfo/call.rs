//! How bookinfo's services call each other: one HTTP/1.1 GET per call through the pod's
//! [`Dialer`] (Python's `requests`, Java's JAX-RS client: no pooling worth modelling), with the
//! headers the caller chose to propagate and a deadline for the whole exchange.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use crate::net::dial::Dialer;

/// Answers beyond this are treated as failures (the services answer a few hundred bytes).
const MAX_ANSWER: usize = 1024 * 1024;

/// Why a call produced no answer; every service turns this into its "unavailable" text.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
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
    #[error("answer from {target} is larger than {MAX_ANSWER} bytes")]
    TooLarge { target: String },
    #[error("cannot build the request: {0}")]
    Request(#[from] http::Error),
}

/// A status and the whole body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: StatusCode,
    pub body: Bytes,
}

/// A service to call: `http://host:port`, as the apps build it from `*_HOSTNAME` and
/// `*_SERVICE_PORT` (defaults: the service name, 9080).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    pub host: String,
    pub port: u16,
}

impl Upstream {
    /// `NAME_HOSTNAME`/`NAME_SERVICE_PORT` with `SERVICES_DOMAIN` appended, as the apps do.
    pub fn from_env(
        env: &std::collections::BTreeMap<String, String>,
        service: &str,
        var: &str,
    ) -> Upstream {
        let host = env
            .get(&format!("{var}_HOSTNAME"))
            .cloned()
            .unwrap_or_else(|| service.to_owned());
        let host = match env.get("SERVICES_DOMAIN") {
            Some(domain) => format!("{host}.{domain}"),
            None => host,
        };
        let port = env
            .get(&format!("{var}_SERVICE_PORT"))
            .and_then(|p| p.parse().ok())
            .unwrap_or(super::PORT);
        Upstream { host, port }
    }

    /// `GET path` with `headers`; fails after `timeout` for the whole exchange.
    pub async fn get(
        &self,
        dialer: &dyn Dialer,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
        user_agent: &'static str,
        timeout: Duration,
    ) -> Result<Answer, CallError> {
        let target = format!("{}:{}", self.host, self.port);
        let mut request = Request::builder().uri(path).body(Empty::<Bytes>::new())?;
        let map = request.headers_mut();
        map.insert(
            header::HOST,
            HeaderValue::from_str(&target).map_err(http::Error::from)?,
        );
        map.insert(header::USER_AGENT, HeaderValue::from_static(user_agent));
        map.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
        for (name, value) in headers {
            map.insert(name.clone(), value.clone());
        }
        let exchange = self.exchange(dialer, &target, request);
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Timeout { target, timeout }),
        }
    }

    async fn exchange(
        &self,
        dialer: &dyn Dialer,
        target: &str,
        request: Request<Empty<Bytes>>,
    ) -> Result<Answer, CallError> {
        let stream =
            dialer
                .dial(&self.host, self.port)
                .await
                .map_err(|source| CallError::Connect {
                    target: target.to_owned(),
                    source,
                })?;
        let http = |source| CallError::Http {
            target: target.to_owned(),
            source,
        };
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(http)?;
        let _driver = AbortOnDrop(tokio::spawn(connection));
        let response = sender.send_request(request).await.map_err(http)?;
        let (parts, body) = response.into_parts();
        let mut body = std::pin::pin!(body);
        let mut buf = BytesMut::new();
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame.map_err(http)?.into_data() {
                if buf.len() + data.len() > MAX_ANSWER {
                    return Err(CallError::TooLarge {
                        target: target.to_owned(),
                    });
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

/// The incoming headers named in `names` (first value each), for the next hop.
pub fn pick(incoming: &HeaderMap, names: &[&str]) -> Vec<(HeaderName, HeaderValue)> {
    names
        .iter()
        .filter_map(|name| {
            let value = incoming.get(*name)?;
            Some((HeaderName::from_bytes(name.as_bytes()).ok()?, value.clone()))
        })
        .collect()
}

/// Aborts the connection task when the call ends or is abandoned (a timed-out call must not
/// keep its connection).
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
