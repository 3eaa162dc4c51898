//! Talks to a running sandbox's local API: HTTP/1.1 on 127.0.0.1 with the bearer token kept in
//! the sandbox's state directory. JSON in, JSON out; `logs -f` streams lines. Also reads the
//! proxies' admin and Prometheus endpoints ([`exposition`], [`traffic`]), and shapes their
//! answers the way istioctl and kubectl print them ([`output`]: the rows and texts both the CLI
//! and the TUI show). May import `api`, `xds`.

pub mod exposition;
pub mod output;
pub mod traffic;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "cannot reach the sandbox's API at {addr}: {reason} (is it still running? `mesh list` shows sandboxes, `mesh up` starts one)"
    )]
    Unreachable { addr: SocketAddr, reason: String },
    #[error("the sandbox refused the request: {0}")]
    Refused(String),
    /// The API answered with an error; `body` is its JSON (with `error` and maybe `diagnostics`).
    #[error("{}", .body.get("error").and_then(Value::as_str).unwrap_or("request failed"))]
    Api { status: u16, body: Value },
    #[error("unexpected answer from the sandbox: {0}")]
    Protocol(String),
}

/// A handle on one sandbox's API.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
    token: String,
}

/// Where a sandbox's API is (the `api.json` the sandbox writes into its state directory).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct Endpoint {
    pub name: String,
    pub address: SocketAddr,
    pub token: String,
    pub pid: u32,
}

impl Client {
    pub fn new(endpoint: &Endpoint) -> Client {
        Client {
            addr: endpoint.address,
            token: endpoint.token.clone(),
        }
    }

    async fn send(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
        let unreachable = |e: &dyn std::fmt::Display| ClientError::Unreachable {
            addr: self.addr,
            reason: e.to_string(),
        };
        let stream = tokio::time::timeout(
            Duration::from_secs(5),
            tokio::net::TcpStream::connect(self.addr),
        )
        .await
        .map_err(|e| unreachable(&e))?
        .map_err(|e| unreachable(&e))?;
        let (mut send, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
                .await
                .map_err(|e| unreachable(&e))?;
        tokio::spawn(conn);
        let bytes = match body {
            Some(v) => Bytes::from(
                serde_json::to_vec(v).map_err(|e| ClientError::Protocol(e.to_string()))?,
            ),
            None => Bytes::new(),
        };
        let req = http::Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, self.addr.to_string())
            .header(
                http::header::AUTHORIZATION,
                format!("Bearer {}", self.token),
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(bytes))
            .map_err(|e| ClientError::Protocol(e.to_string()))?;
        send.send_request(req).await.map_err(|e| unreachable(&e))
    }

    async fn json(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<Value, ClientError> {
        let resp = self.send(method, path, body).await?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::Protocol(e.to_string()))?
            .to_bytes();
        let value: Value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                ClientError::Protocol(format!("{e}: {}", String::from_utf8_lossy(&bytes)))
            })?
        };
        if status == http::StatusCode::UNAUTHORIZED {
            return Err(ClientError::Refused("wrong token (the sandbox was restarted? its state directory holds the current one)".into()));
        }
        if !status.is_success() {
            return Err(ClientError::Api {
                status: status.as_u16(),
                body: value,
            });
        }
        Ok(value)
    }

    pub async fn get(&self, path: &str) -> Result<Value, ClientError> {
        self.json(http::Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.json(http::Method::POST, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        self.json(http::Method::DELETE, path, Some(body)).await
    }

    /// Streams a text response line by line (e.g. `logs?follow=true`) into `each`.
    pub async fn stream_lines(
        &self,
        path: &str,
        mut each: impl FnMut(&str),
    ) -> Result<(), ClientError> {
        let resp = self.send(http::Method::GET, path, None).await?;
        let status = resp.status();
        let mut body = resp.into_body();
        if !status.is_success() {
            let bytes = body
                .collect()
                .await
                .map_err(|e| ClientError::Protocol(e.to_string()))?
                .to_bytes();
            let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(ClientError::Api {
                status: status.as_u16(),
                body: value,
            });
        }
        let mut pending = Vec::new();
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| ClientError::Protocol(e.to_string()))?;
            if let Ok(data) = frame.into_data() {
                pending.extend_from_slice(&data);
                while let Some(i) = pending.iter().position(|b| *b == b'\n') {
                    let line: Vec<u8> = pending.drain(..=i).collect();
                    each(String::from_utf8_lossy(&line[..line.len() - 1]).as_ref());
                }
            }
        }
        if !pending.is_empty() {
            each(String::from_utf8_lossy(&pending).as_ref());
        }
        Ok(())
    }
}

/// A plain HTTP/1.1 exchange with no token: a proxy's admin API (what istioctl reaches through
/// a port-forward). Returns the status and the body text.
pub async fn admin_request(
    addr: SocketAddr,
    method: http::Method,
    path: &str,
) -> Result<(u16, String), ClientError> {
    let unreachable = |e: &dyn std::fmt::Display| ClientError::Unreachable {
        addr,
        reason: e.to_string(),
    };
    let stream = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .map_err(|e| unreachable(&e))?
        .map_err(|e| unreachable(&e))?;
    let (mut send, conn) =
        hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(stream))
            .await
            .map_err(|e| unreachable(&e))?;
    tokio::spawn(conn);
    let req = http::Request::builder()
        .method(method)
        .uri(path)
        .header(http::header::HOST, addr.to_string())
        .body(Full::new(Bytes::new()))
        .map_err(|e| ClientError::Protocol(e.to_string()))?;
    let resp = send.send_request(req).await.map_err(|e| unreachable(&e))?;
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| ClientError::Protocol(e.to_string()))?
        .to_bytes();
    Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
}

/// Percent-encodes a query value.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_query_values() {
        assert_eq!(encode("a b|c"), "a%20b%7Cc");
        assert_eq!(encode("deploy/x.y"), "deploy%2Fx.y");
    }
}
