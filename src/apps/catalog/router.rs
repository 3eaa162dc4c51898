//! [`handle`]: one request through the real catalog's middleware chain, in its order:
//! morgan (custom) → compression/CORS → static `/` → morgan('dev') → no-cache → body-parser →
//! the blowup middleware → routes → finalhandler's 404.

use std::fmt::Display;
use std::net::SocketAddr;
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName};
use http::request::Parts;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;

use super::blowup;
use super::body::{self, BodyError};
use super::express::{Payload, Reply};
use super::morgan::{self, Entry};
use super::routes::{self, Handled};
use super::{Catalog, INDEX_PAGE};
use crate::apps::serve::{self, Body};

/// What the chain ended with.
enum Answer {
    Reply(Handled),
    /// The `drop` fault: `req.socket.end()`, nothing sent.
    Drop,
}

/// One request → one response; log lines go to the catalog's log as the original prints them.
pub async fn handle<B>(req: Request<B>, catalog: &Catalog, _peer: SocketAddr) -> Response<Body>
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Display,
{
    let started = Instant::now();
    let (parts, body) = req.into_parts();
    let mut middleware = cors(&parts.headers);
    let mut dev_log = false;
    let answer = chain(&parts, body, catalog, &mut middleware, &mut dev_log).await;
    let response_time = started.elapsed();

    let url = original_url(&parts);
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok());
    let mut entry = Entry {
        method: parts.method.as_str(),
        host,
        url: &url,
        ..Entry::default()
    };
    let Answer::Reply(handled) = answer else {
        log_access(catalog, &entry, dev_log);
        return serve::dropped();
    };
    for line in &handled.log {
        catalog.log(line);
    }
    let status = handled.logged_status.unwrap_or(handled.reply.status);
    entry.status = Some(status.as_u16());
    entry.content_length = handled.reply.content_length();
    entry.response_time = Some(response_time);
    log_access(catalog, &entry, dev_log);
    let mut response = handled.reply.into_response(middleware);
    if handled.close_after {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

async fn chain<B>(
    parts: &Parts,
    body: B,
    catalog: &Catalog,
    middleware: &mut Vec<(HeaderName, String)>,
    dev_log: &mut bool,
) -> Answer
where
    B: hyper::body::Body<Data = Bytes> + Send,
    B::Error: Display,
{
    let (method, path) = (&parts.method, parts.uri.path());
    if method == Method::OPTIONS {
        return reply(preflight(&parts.headers, middleware));
    }
    if (method == Method::GET || method == Method::HEAD) && (path == "/" || path == "/index.html") {
        return reply(Reply::static_file("text/html; charset=UTF-8", INDEX_PAGE));
    }
    *dev_log = path != "/favicon.ico";
    middleware.extend([
        (header::CACHE_CONTROL, "no-cache".to_owned()),
        (header::PRAGMA, "no-cache".to_owned()),
        (header::EXPIRES, "-1".to_owned()),
    ]);
    let body = match read_body(&parts.headers, body).await {
        Ok(body) => body,
        Err(err) => {
            let message = err.to_string();
            return Answer::Reply(Handled {
                reply: Reply::error_page(err.status(), &message),
                log: vec![message],
                logged_status: None,
                close_after: false,
            });
        }
    };

    let outcome = {
        let state = catalog.state();
        blowup::evaluate(&state.blowups, path, &mut || catalog.random())
    };
    for line in &outcome.log {
        catalog.log(line);
    }
    if outcome.fail {
        let mut handled = plain(Reply::end(StatusCode::INTERNAL_SERVER_ERROR));
        handled.close_after = outcome.drop;
        return Answer::Reply(handled);
    }
    if outcome.drop {
        return Answer::Drop;
    }
    if let Some(delay) = outcome.delay {
        tokio::time::sleep(delay).await;
    }

    let Some(route) = routes::route(method, path) else {
        return reply(Reply::not_found(method, path));
    };
    let mut handled = {
        let mut state = catalog.state();
        routes::handle(&route, &mut state, body, catalog.show_image())
    };
    handled.reply.revalidate(method, &parts.headers);
    Answer::Reply(handled)
}

fn plain(reply: Reply) -> Handled {
    Handled {
        reply,
        log: Vec::new(),
        logged_status: None,
        close_after: false,
    }
}

fn reply(reply: Reply) -> Answer {
    Answer::Reply(plain(reply))
}

/// Express's `X-Powered-By` and the `cors({origin: true, credentials: true})` headers every
/// answer carries.
fn cors(request: &HeaderMap) -> Vec<(HeaderName, String)> {
    let mut headers = vec![(
        HeaderName::from_static("x-powered-by"),
        "Express".to_owned(),
    )];
    if let Some(origin) = request.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        headers.push((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.to_owned()));
    }
    headers.push((header::VARY, "Origin".to_owned()));
    headers.push((header::ACCESS_CONTROL_ALLOW_CREDENTIALS, "true".to_owned()));
    headers
}

/// The cors package answers every OPTIONS itself: 204, allowed methods, requested headers.
fn preflight(request: &HeaderMap, middleware: &mut Vec<(HeaderName, String)>) -> Reply {
    middleware.push((
        header::ACCESS_CONTROL_ALLOW_METHODS,
        "GET,HEAD,PUT,PATCH,POST,DELETE".to_owned(),
    ));
    if let Some(asked) = request
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .and_then(|v| v.to_str().ok())
    {
        middleware.push((header::ACCESS_CONTROL_ALLOW_HEADERS, asked.to_owned()));
    }
    if let Some((_, vary)) = middleware.iter_mut().find(|(n, _)| n == header::VARY) {
        vary.push_str(", Access-Control-Request-Headers");
    }
    let mut reply = Reply::end(StatusCode::NO_CONTENT);
    reply.headers.push((header::CONTENT_LENGTH, "0".to_owned()));
    reply.payload = Payload::Sized(Bytes::new());
    reply
}

/// Reads the body up to body-parser's limit for its type, then parses it into `req.body`.
async fn read_body<B>(headers: &HeaderMap, body: B) -> Result<Value, BodyError>
where
    B: hyper::body::Body<Data = Bytes>,
    B::Error: Display,
{
    let limit = body::limit(headers);
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| BodyError::Aborted)?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(BodyError::TooLarge);
            }
            buf.extend_from_slice(&data);
        }
    }
    body::parse(headers, &buf)
}

/// `req.originalUrl`: the request target as sent.
fn original_url(parts: &Parts) -> String {
    match parts.uri.authority() {
        Some(_) => parts.uri.to_string(),
        None => parts
            .uri
            .path_and_query()
            .map_or_else(|| parts.uri.path().to_owned(), |pq| pq.as_str().to_owned()),
    }
}

fn log_access(catalog: &Catalog, entry: &Entry, dev_log: bool) {
    catalog.log(&morgan::custom(entry));
    if dev_log {
        catalog.log(&morgan::dev(entry));
    }
}
