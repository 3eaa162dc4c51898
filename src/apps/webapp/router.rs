//! [`handle`]: webapp's routes as `main.go` registers them with beego, and beego's logging
//! rules: a normal answer logs one access line, an error page (`404`) two (beego's error
//! handler logs one with a zero time first), and a `CustomAbort` (the 500 `error calling
//! Catalog service`, the 400 `Invalid CatalogItem`) none at all, because beego's abort panic
//! skips its access log.

use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::request::Parts;
use http::{HeaderMap, Method, Request, Response, StatusCode, Version, header};
use http_body_util::BodyExt;
use serde_json::Value;
use time::OffsetDateTime;

use super::Webapp;
use super::beego::{self, Access};
use super::client::propagated;
use super::gostruct::{self, CATALOG_ITEM, GoValue, USER};
use super::index;
use crate::apps::jsontext;
use crate::apps::serve::Body;

/// beego's `MaxMemory` (64 MiB): larger request bodies are refused with 413.
pub const MAX_REQUEST_BODY: usize = 1 << 26;

/// The methods beego's router knows; anything else is a 405 error page.
const HTTP_METHODS: &[&str] = &[
    "GET",
    "POST",
    "PUT",
    "DELETE",
    "PATCH",
    "OPTIONS",
    "HEAD",
    "TRACE",
    "CONNECT",
    "MKCOL",
    "COPY",
    "MOVE",
    "PROPFIND",
    "PROPPATCH",
    "LOCK",
    "UNLOCK",
];

/// How beego logs an answer.
enum Outcome {
    /// One access line.
    Served(Response<Body>),
    /// `exception(code)`: the error handler's zero-time line, then the normal one.
    Exception(StatusCode),
    /// `CustomAbort` or a static file: nothing logged.
    Silent(Response<Body>),
}

/// One request → one response, access log lines to the webapp's log.
pub async fn handle<B>(req: Request<B>, app: &Webapp, peer: SocketAddr) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Display,
{
    let (wall, started) = (OffsetDateTime::now_utc(), Instant::now());
    let (parts, body) = req.into_parts();
    let outcome = respond(&parts, body, app).await;
    let uri = parts.uri.to_string();
    let header = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    let access = Access {
        headers: &parts.headers,
        peer,
        method: parts.method.as_str(),
        uri: &uri,
        proto: proto(parts.version),
        request_length: request_length(&parts),
        user_agent: header(header::USER_AGENT),
        referer: header(header::REFERER),
    };
    let response = match outcome {
        Outcome::Silent(response) => return response,
        Outcome::Served(response) => response,
        Outcome::Exception(status) => {
            app.log(&beego::access_line(&access, status.as_u16(), None));
            beego::error_page(status)
        }
    };
    let status = response.status().as_u16();
    app.log(&beego::access_line(
        &access,
        status,
        Some((wall, started.elapsed())),
    ));
    response
}

async fn respond<B>(parts: &Parts, body: B, app: &Webapp) -> Outcome
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Display,
{
    let method = &parts.method;
    if !HTTP_METHODS.contains(&method.as_str()) {
        return Outcome::Exception(StatusCode::METHOD_NOT_ALLOWED);
    }
    let path = parts.uri.path();
    if path.starts_with("/static/") && (method == Method::GET || method == Method::HEAD) {
        return Outcome::Silent(match path {
            "/static/css/main.css" => {
                beego::with_body(StatusCode::OK, "text/css; charset=utf-8", index::MAIN_CSS)
            }
            _ => beego::error_page(StatusCode::NOT_FOUND),
        });
    }
    let body = if method == Method::GET || method == Method::HEAD {
        Bytes::new()
    } else {
        match read_body(&parts.headers, body).await {
            Some(body) => body,
            None => return Outcome::Exception(StatusCode::PAYLOAD_TOO_LARGE),
        }
    };
    // beego's tree skips empty segments, so `/api/catalog/` and `//api//catalog` match too.
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let forward = propagated(&parts.headers);
    let get = method == Method::GET;
    match segments.as_slice() {
        [] if get => Outcome::Served(home(app, &forward).await),
        [] => Outcome::Served(beego::method_not_allowed()),
        ["api", "healthz"] if get => Outcome::Served(beego::text(StatusCode::OK, "Healthy!")),
        ["api", "catalog"] => catalog(app, &forward).await,
        ["api", "catalog", "items"] if method == Method::POST => {
            create_item(app, &forward, &body).await
        }
        ["api", "catalog", "items", id] if is_digits(id) => item(app, &forward, id).await,
        ["api", "users"] => users(app, &forward).await,
        _ => Outcome::Exception(StatusCode::NOT_FOUND),
    }
}

type Forward = [(header::HeaderName, http::HeaderValue)];

/// `GET /api/catalog`: catalog's `/items`, re-encoded.
async fn catalog(app: &Webapp, forward: &Forward) -> Outcome {
    let items = app
        .fetch(Service::Catalog, "/items", forward)
        .await
        .and_then(|body| gostruct::decode_slice(&body, CATALOG_ITEM).map_err(|e| e.to_string()));
    match items {
        Ok(items) => Outcome::Served(beego::json(&gostruct::encode_slice(
            items.as_deref(),
            CATALOG_ITEM,
        ))),
        Err(err) => abort_catalog(&err),
    }
}

/// `/api/catalog/items/:id:int`: one item via catalog's `/items/{id}`.
async fn item(app: &Webapp, forward: &Forward, id: &str) -> Outcome {
    // strconv.Atoi: leading zeros vanish, an overflow saturates (its error is ignored).
    let id = id.parse::<i64>().unwrap_or(i64::MAX);
    let found = app
        .fetch(Service::Catalog, &format!("/items/{id}"), forward)
        .await
        .and_then(|body| gostruct::decode_struct(&body, CATALOG_ITEM).map_err(|e| e.to_string()));
    match found {
        Ok(item) => Outcome::Served(beego::json(&gostruct::encode(
            &item,
            gostruct::Kind::Struct(CATALOG_ITEM),
        ))),
        Err(err) => abort_catalog(&err),
    }
}

/// `POST /api/catalog/items`: decode into a `CatalogItem`, post its JSON to catalog, which
/// must answer 201; success is `ServeJSON` of nothing: `null`.
async fn create_item(app: &Webapp, forward: &Forward, body: &[u8]) -> Outcome {
    let item = match gostruct::decode_struct(body, CATALOG_ITEM) {
        Ok(item) => item,
        Err(err) => {
            tracing::debug!("webapp: invalid catalog item: {err}");
            return Outcome::Silent(beego::text(StatusCode::BAD_REQUEST, "Invalid CatalogItem"));
        }
    };
    let json = gostruct::encode(&item, gostruct::Kind::Struct(CATALOG_ITEM));
    let json = Bytes::from(jsontext::compact(&json, beego::MARSHAL));
    match app.post(Service::Catalog, "/items", forward, json).await {
        Ok(StatusCode::CREATED) => Outcome::Served(beego::json(&Value::Null)),
        Ok(status) => abort_catalog(&format!("catalog answered {status}, not 201")),
        Err(err) => abort_catalog(&err),
    }
}

/// `/api/users`: forum's `/api/users`, re-encoded.
async fn users(app: &Webapp, forward: &Forward) -> Outcome {
    let users = app
        .fetch(Service::Forum, "/api/users", forward)
        .await
        .and_then(|body| gostruct::decode_slice(&body, USER).map_err(|e| e.to_string()));
    match users {
        Ok(users) => Outcome::Served(beego::json(&gostruct::encode_slice(users.as_deref(), USER))),
        Err(err) => {
            tracing::debug!("webapp: forum call failed: {err}");
            Outcome::Silent(beego::text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "error calling Forum service",
            ))
        }
    }
}

/// `GET /`: the page, whatever the two calls gave.
async fn home(app: &Webapp, forward: &Forward) -> Response<Body> {
    let catalog: Option<Vec<GoValue>> = app
        .fetch(Service::Catalog, "/items", forward)
        .await
        .ok()
        .and_then(|body| gostruct::decode_slice(&body, CATALOG_ITEM).ok())
        .map(Option::unwrap_or_default);
    let users: Option<Vec<GoValue>> = app
        .fetch(Service::Forum, "/api/users", forward)
        .await
        .ok()
        .and_then(|body| gostruct::decode_slice(&body, USER).ok())
        .map(Option::unwrap_or_default);
    let page = index::page(catalog.as_deref(), users.as_deref());
    beego::with_body(StatusCode::OK, "text/html; charset=utf-8", page)
}

fn abort_catalog(err: &str) -> Outcome {
    tracing::debug!("webapp: catalog call failed: {err}");
    Outcome::Silent(beego::text(
        StatusCode::INTERNAL_SERVER_ERROR,
        "error calling Catalog service",
    ))
}

/// Which upstream a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    Catalog,
    Forum,
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

fn proto(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        _ => "HTTP/1.1",
    }
}

/// Go's `r.ContentLength`: the declared length, 0 without a body, -1 when chunked.
fn request_length(parts: &Parts) -> i64 {
    if let Some(length) = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
    {
        return length;
    }
    if parts.headers.contains_key(header::TRANSFER_ENCODING) {
        -1
    } else {
        0
    }
}

/// The whole body, or `None` when it is over beego's limit.
async fn read_body<B>(headers: &HeaderMap, body: B) -> Option<Bytes>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Display,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BODY as u64) {
        return None;
    }
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        // A broken upload reads as what arrived, as Go's io.ReadAll error is ignored here.
        let Ok(frame) = frame else { break };
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_REQUEST_BODY {
                return None;
            }
            buf.extend_from_slice(&data);
        }
    }
    Some(buf.freeze())
}
