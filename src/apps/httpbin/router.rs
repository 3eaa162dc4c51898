//! [`handle`]: one request in, one response out. Reads the body (capped), routes, checks the
//! method, runs the endpoint and adds httpbin's CORS headers.

use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, Method, Request, Response, StatusCode, header};
use http_body_util::BodyExt;

use super::endpoints::{cookies, dynamic, index, inspect, redirect, response_headers, status};
use super::request::Inbound;
use super::routes::{Allow, Endpoint, route};
use super::{Body, Flavor, goshape, reply};

/// Request bodies beyond this are refused with 413.
pub const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
enum BodyError {
    #[error("request body is larger than {MAX_REQUEST_BODY} bytes")]
    TooLarge,
    #[error("reading the request body failed: {0}")]
    Read(String),
}

/// One request → one response (pure apart from randomness and delays); `peer` is the client.
pub async fn handle<B>(req: Request<B>, peer: SocketAddr) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display,
{
    handle_flavor(req, peer, Flavor::Classic).await
}

/// [`handle`] with the JSON shapes of the given httpbin implementation.
pub async fn handle_flavor<B>(req: Request<B>, peer: SocketAddr, flavor: Flavor) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: std::fmt::Display,
{
    let (parts, body) = req.into_parts();
    let mut response = match read_body(&parts.headers, body).await {
        Ok(body) => respond(&Inbound::new(&parts, body, peer), flavor).await,
        Err(err) => {
            tracing::debug!(%peer, "httpbin: {err}");
            match err {
                BodyError::TooLarge => reply::error_page(StatusCode::PAYLOAD_TOO_LARGE),
                BodyError::Read(_) => reply::error_page(StatusCode::BAD_REQUEST),
            }
        }
    };
    add_cors(&parts.method, &parts.headers, &mut response);
    response
}

async fn read_body<B>(headers: &HeaderMap, body: B) -> Result<Bytes, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: std::fmt::Display,
{
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_REQUEST_BODY as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_REQUEST_BODY {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf.freeze())
}

async fn respond(req: &Inbound, flavor: Flavor) -> Response<Body> {
    let Some((endpoint, allow)) = route(&req.path) else {
        return reply::error_page(StatusCode::NOT_FOUND);
    };
    if req.method == Method::OPTIONS {
        return with_allow(reply::html(StatusCode::OK, ""), allow);
    }
    if !allow.permits(&req.method) {
        return with_allow(reply::error_page(StatusCode::METHOD_NOT_ALLOWED), allow);
    }
    if flavor == Flavor::Go
        && let Some(response) = go_inspect(req, &endpoint)
    {
        return response;
    }
    match endpoint {
        Endpoint::Index => index::index(),
        Endpoint::Headers => inspect::headers(req),
        Endpoint::Get => inspect::get(req),
        Endpoint::WithBody => inspect::with_body(req),
        Endpoint::Anything => inspect::anything(req),
        Endpoint::Ip => inspect::ip(req),
        Endpoint::Uuid => inspect::uuid(),
        Endpoint::UserAgent => inspect::user_agent(req),
        Endpoint::Status(codes) => status::status(codes),
        Endpoint::Delay(seconds) => dynamic::delay(req, seconds).await,
        Endpoint::Bytes(n) => dynamic::bytes(req, n),
        Endpoint::Stream(n) => dynamic::stream(req, n),
        Endpoint::Redirect(n) => redirect::redirect(req, n),
        Endpoint::RelativeRedirect(n) => redirect::relative(n),
        Endpoint::AbsoluteRedirect(n) => redirect::absolute(req, n),
        Endpoint::RedirectTo => redirect::redirect_to(req),
        Endpoint::Cookies => cookies::show(req),
        Endpoint::CookiesSet => cookies::set(req, &req.args),
        Endpoint::CookieSetPath(name, value) => {
            cookies::set(req, &[(name.to_owned(), value.to_owned())])
        }
        Endpoint::CookiesDelete => cookies::delete(req),
        Endpoint::ResponseHeaders => response_headers::response_headers(req),
    }
}

/// go-httpbin's answer for the request-inspection endpoints; `None` for the others, which
/// keep classic httpbin's answers.
fn go_inspect(req: &Inbound, endpoint: &Endpoint) -> Option<Response<Body>> {
    let response = match endpoint {
        Endpoint::Headers => goshape::headers(req),
        Endpoint::Get => goshape::get(req),
        Endpoint::Anything if req.method == Method::HEAD => goshape::get(req),
        Endpoint::WithBody | Endpoint::Anything => goshape::with_body(req),
        Endpoint::Ip => goshape::ip(req),
        Endpoint::Uuid => goshape::uuid(),
        Endpoint::UserAgent => goshape::user_agent(req),
        _ => return None,
    };
    Some(response)
}

fn with_allow(mut response: Response<Body>, allow: Allow) -> Response<Body> {
    reply::set(&mut response, header::ALLOW, &allow.header());
    response
}

/// httpbin's `after_request` hook, applied to every response including errors.
fn add_cors(method: &Method, request: &HeaderMap, response: &mut Response<Body>) {
    let origin = request
        .get(header::ORIGIN)
        .cloned()
        .unwrap_or(http::HeaderValue::from_static("*"));
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
        http::HeaderValue::from_static("true"),
    );
    if method == Method::OPTIONS {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            http::HeaderValue::from_static("GET, POST, PUT, DELETE, PATCH, OPTIONS"),
        );
        headers.insert(
            header::ACCESS_CONTROL_MAX_AGE,
            http::HeaderValue::from_static("3600"),
        );
        if let Some(asked) = request.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
            headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
        }
    }
}
