//! The sandbox's local API: HTTP/1.1 on 127.0.0.1, every request carrying the bearer token from
//! the state directory. Routing to the sandbox's handlers is a trait, so this file only knows
//! HTTP: auth, JSON bodies, and streamed text for `logs -f`.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

/// What a handler answers.
pub enum Reply {
    Json(StatusCode, Value),
    /// Text lines; with a receiver, keeps streaming new lines until the client leaves.
    Lines(Vec<String>, Option<broadcast::Receiver<String>>),
}

impl Reply {
    pub fn ok(v: Value) -> Reply {
        Reply::Json(StatusCode::OK, v)
    }

    pub fn error(status: StatusCode, message: impl Into<String>) -> Reply {
        Reply::Json(status, json!({ "error": message.into() }))
    }
}

/// One parsed API request.
pub struct ApiRequest {
    pub method: http::Method,
    pub path: String,
    pub query: Vec<(String, String)>,
    pub body: Value,
}

impl ApiRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn flag(&self, name: &str) -> bool {
        self.param(name)
            .is_some_and(|v| v == "true" || v == "1" || v.is_empty())
    }
}

pub type ReplyFuture<'a> = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

/// The sandbox's side of the API.
pub trait Routes: Send + Sync + 'static {
    fn route(&self, req: ApiRequest) -> ReplyFuture<'_>;
}

type ApiBody = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

/// Binds 127.0.0.1 (any port) and serves until `shutdown`.
pub async fn serve(
    routes: Arc<dyn Routes>,
    token: String,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let listener = crate::net::bind_tcp(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let addr = listener.local_addr()?;
    let token = Arc::new(token);
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = shutdown.cancelled() => return,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(_) => continue,
                },
            };
            let (routes, token) = (routes.clone(), token.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req| {
                    let (routes, token) = (routes.clone(), token.clone());
                    async move { Ok::<_, Infallible>(handle(req, routes, &token).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(addr)
}

async fn handle(
    req: http::Request<Incoming>,
    routes: Arc<dyn Routes>,
    token: &str,
) -> Response<ApiBody> {
    let authorized = req
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| constant_time_eq(t.as_bytes(), token.as_bytes()));
    if !authorized {
        return json_response(
            StatusCode::UNAUTHORIZED,
            &json!({"error": "missing or wrong token"}),
        );
    }
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let query = req
        .uri()
        .query()
        .map(crate::proxy::http::matcher::parse_query)
        .unwrap_or_default();
    let bytes = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return json_response(StatusCode::BAD_REQUEST, &json!({"error": e.to_string()})),
    };
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                return json_response(
                    StatusCode::BAD_REQUEST,
                    &json!({"error": format!("body is not JSON: {e}")}),
                );
            }
        }
    };
    match routes
        .route(ApiRequest {
            method,
            path,
            query,
            body,
        })
        .await
    {
        Reply::Json(status, v) => json_response(status, &v),
        Reply::Lines(lines, follow) => lines_response(lines, follow),
    }
}

fn json_response(status: StatusCode, v: &Value) -> Response<ApiBody> {
    let mut body = serde_json::to_vec(v).unwrap_or_default();
    body.push(b'\n');
    let mut r = Response::new(Full::new(Bytes::from(body)).boxed_unsync());
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    r
}

fn lines_response(
    lines: Vec<String>,
    follow: Option<broadcast::Receiver<String>>,
) -> Response<ApiBody> {
    let head = futures_util::stream::iter(
        lines
            .into_iter()
            .map(|l| Ok::<_, Infallible>(Frame::data(Bytes::from(format!("{l}\n"))))),
    );
    let tail = futures_util::stream::unfold(follow, |rx| async move {
        let mut rx = rx?;
        loop {
            match rx.recv().await {
                Ok(line) => {
                    return Some((Ok(Frame::data(Bytes::from(format!("{line}\n")))), Some(rx)));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    let body = StreamBody::new(futures_util::StreamExt::chain(head, tail));
    let mut r = Response::new(body.boxed_unsync());
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh random token (hex).
pub fn new_token() -> String {
    (0..4)
        .map(|_| format!("{:016x}", rand::random::<u64>()))
        .collect()
}
