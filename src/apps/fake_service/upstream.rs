//! Calls to `UPSTREAM_URIS`, as v0.14.1's `workerHTTP` and `client/http.go` make them over
//! Go 1.12's HTTP client, through the pod's [`Dialer`] (so via the sidecar in a meshed pod):
//! `GET` the URI with the caller's path appended (`HTTP_CLIENT_APPEND_REQUEST`, on by
//! default: `http://api:9090` called for `/users` asks `http://api:9090/users`; the URI's
//! own query stays, the caller's is dropped) and the caller's headers copied; a fresh
//! connection per call (`Connection: close`, keep-alives off by default); the whole call
//! bounded by `HTTP_CLIENT_REQUEST_TIMEOUT`. The reply is read back into a [`Response`] with
//! the URI as configured, the status as `code`, and — on `200` only — its headers and cookies.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;

use super::gofmt::canonical_header;
use super::inbound::Inbound;
use super::response::Response;
use crate::net::dial::Dialer;

/// Answers beyond this are refused (Go reads everything; a sandbox wants a bound).
const MAX_RESPONSE: usize = 10 * 1024 * 1024;

/// Caller headers Go's request writer never copies onto the wire, and hop-by-hop ones.
const NOT_COPIED: [&str; 9] = [
    "host",
    "user-agent",
    "content-length",
    "transfer-encoding",
    "trailer",
    "connection",
    "keep-alive",
    "te",
    "upgrade",
];

/// An `http://host[:port][/path][?query]` upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// As configured; the reply's `uri`.
    pub uri: String,
    /// `host:port` as written (the `Host` header).
    pub authority: String,
    pub host: String,
    pub port: u16,
    pub path: String,
    pub query: Option<String>,
}

/// An upstream URI the built-in app cannot call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error(
        "upstream {0:?} is not an http:// URI: fake-service v0.14.1 calls anything else over \
         gRPC, which the built-in fake-service does not speak"
    )]
    NotHttp(String),
    #[error("upstream {0:?} has no host or an invalid port")]
    Malformed(String),
}

impl Target {
    pub fn parse(uri: &str) -> Result<Target, TargetError> {
        let rest = uri
            .strip_prefix("http://")
            .ok_or_else(|| TargetError::NotHttp(uri.to_owned()))?;
        let malformed = || TargetError::Malformed(uri.to_owned());
        let rest = rest.split('#').next().unwrap_or(rest);
        let end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(end);
        let (path, query) = match tail.split_once('?') {
            Some((p, q)) => (p, Some(q.to_owned())),
            None => (tail, None),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                let port = if p.is_empty() {
                    80
                } else {
                    p.parse().map_err(|_| malformed())?
                };
                (h, port)
            }
            _ => (authority, 80),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(malformed());
        }
        Ok(Target {
            uri: uri.to_owned(),
            authority: authority.to_owned(),
            host: host.to_owned(),
            port,
            path: path.to_owned(),
            query,
        })
    }

    /// The URL of the call for `inbound`: `appendPath` adds the caller's path.
    fn url(&self, inbound: Option<&Inbound>) -> (String, String) {
        let mut path = self.path.clone();
        if let Some(inbound) = inbound {
            path.push_str(&inbound.path);
        }
        let query = self
            .query
            .as_ref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default();
        let url = format!("http://{}{path}{query}", self.authority);
        let target = if path.is_empty() { "/" } else { &path };
        (url, format!("{target}{query}"))
    }
}

/// How calls are made (the `client.NewHTTP` settings).
#[derive(Debug, Clone, Copy)]
pub struct ClientSettings {
    pub append_request: bool,
    pub keep_alives: bool,
    pub timeout: Duration,
}

/// One finished call: the entry for `upstream_calls`, and the error that fails the request.
#[derive(Debug)]
pub struct Called {
    pub response: Response,
    pub error: Option<String>,
}

/// `workerHTTP` + `HTTPImpl.Do`.
pub async fn call(
    dialer: &dyn Dialer,
    settings: ClientSettings,
    target: &Target,
    inbound: &Inbound,
) -> Called {
    let appended = settings.append_request.then_some(inbound);
    let (url, request_target) = target.url(appended);
    let outcome = tokio::time::timeout(
        settings.timeout,
        exchange(dialer, settings, target, (&url, &request_target), appended),
    )
    .await
    .unwrap_or_else(|_| {
        Err(format!(
            "Get {url}: net/http: request canceled (Client.Timeout exceeded while awaiting headers)"
        ))
    });
    let (code, body, headers, cookies, error) = match outcome {
        Err(reason) => (
            -1,
            None,
            BTreeMap::new(),
            BTreeMap::new(),
            Some(format!(
                "Error communicating with upstream service: {reason}"
            )),
        ),
        Ok((status, body, _, _)) if status != StatusCode::OK => (
            i64::from(status.as_u16()),
            Some(body),
            BTreeMap::new(),
            BTreeMap::new(),
            Some(format!("Error processing upstream request: {url}")),
        ),
        Ok((status, body, headers, cookies)) => (
            i64::from(status.as_u16()),
            Some(body),
            headers,
            cookies,
            None,
        ),
    };
    let mut response = body
        .as_deref()
        .and_then(Response::from_json)
        .unwrap_or_default();
    response.uri = target.uri.clone();
    response.code = code;
    response.headers = headers;
    response.cookies = cookies;
    if let Some(error) = &error {
        response.error = error.clone();
    }
    Called { response, error }
}

type Exchanged = (
    StatusCode,
    Bytes,
    BTreeMap<String, String>,
    BTreeMap<String, String>,
);

/// One HTTP/1.1 exchange on a fresh connection to `url` (asking for `request_target`).
/// Errors are Go 1.12's `url.Error` text: `Get http://api:9090/: <reason>`.
async fn exchange(
    dialer: &dyn Dialer,
    settings: ClientSettings,
    target: &Target,
    (url, request_target): (&str, &str),
    inbound: Option<&Inbound>,
) -> Result<Exchanged, String> {
    // Go unzips a gzip answer itself only when it asked for gzip on its own.
    let (request, gzip_asked) = build_request(settings, target, request_target, inbound)
        .map_err(|e| fail(url, e.to_string()))?;

    let stream = dialer.dial(&target.host, target.port).await.map_err(|e| {
        fail(
            url,
            format!("dial tcp {}: {}", target.authority, dial_reason(&e)),
        )
    })?;
    let (mut sender, connection) = hyper::client::conn::http1::Builder::new()
        .title_case_headers(true)
        .handshake(TokioIo::new(stream))
        .await
        .map_err(|e| fail(url, http_reason(&e)))?;
    // Drives the connection; aborted (closing it) when this call ends or times out.
    let _driver = AbortOnDrop(tokio::spawn(connection));
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| fail(url, http_reason(&e)))?;
    let (parts, body) = response.into_parts();
    if gzip_asked
        && parts
            .headers
            .get(header::CONTENT_ENCODING)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"gzip"))
    {
        // Go would unzip it transparently; there is no inflater in this build.
        return Err(fail(
            url,
            "gzip-encoded answers are not supported by the sandbox".into(),
        ));
    }
    let mut body = std::pin::pin!(body);
    let mut buf = BytesMut::new();
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| fail(url, http_reason(&e)))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > MAX_RESPONSE {
                return Err(fail(
                    url,
                    format!("answer larger than {MAX_RESPONSE} bytes"),
                ));
            }
            buf.extend_from_slice(&data);
        }
    }
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    let mut cookies = BTreeMap::new();
    // Go's transport keeps neither `Transfer-Encoding` nor a `Connection: close` it obeyed.
    let close = parts.headers.get_all(header::CONNECTION).iter().any(|v| {
        v.to_str()
            .is_ok_and(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case("close")))
    });
    for name in parts.headers.keys() {
        if name == header::TRANSFER_ENCODING || (close && name == header::CONNECTION) {
            continue;
        }
        let values: Vec<String> = parts
            .headers
            .get_all(name)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        if name == header::SET_COOKIE {
            for cookie in &values {
                if let Some((name, value)) = set_cookie(cookie) {
                    cookies.insert(name, value);
                }
            }
        }
        headers.insert(canonical_header(name.as_str()), values.join(","));
    }
    Ok((parts.status, buf.freeze(), headers, cookies))
}

/// Go 1.12's `url.Error` text.
fn fail(url: &str, reason: String) -> String {
    format!("Get {url}: {reason}")
}

/// The request Go's client writes: `Host` and `User-Agent` (the caller's, else Go's), then
/// `Connection: close` without keep-alives, the caller's headers (`appendHeaders`: last value
/// of each, sorted as Go writes them) and `Accept-Encoding: gzip` unless the caller chose one
/// (the flag says whether it was added).
fn build_request(
    settings: ClientSettings,
    target: &Target,
    request_target: &str,
    inbound: Option<&Inbound>,
) -> Result<(Request<Empty<Bytes>>, bool), http::Error> {
    let mut request = Request::get(request_target).body(Empty::<Bytes>::new())?;
    let headers = request.headers_mut();
    headers.insert(header::HOST, HeaderValue::from_str(&target.authority)?);
    let agent = inbound
        .and_then(|i| i.header("user-agent"))
        .unwrap_or("Go-http-client/1.1");
    if let Ok(agent) = HeaderValue::from_str(agent) {
        headers.insert(header::USER_AGENT, agent);
    }
    if !settings.keep_alives {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let mut copied: BTreeMap<String, String> = BTreeMap::new();
    for (name, v) in inbound.map(Inbound::canonical_headers).unwrap_or_default() {
        if !NOT_COPIED.contains(&name.to_ascii_lowercase().as_str()) {
            copied.insert(name, v);
        }
    }
    for (name, v) in &copied {
        if let (Ok(name), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            headers.insert(name, v);
        }
    }
    let gzip =
        !headers.contains_key(header::ACCEPT_ENCODING) && !headers.contains_key(header::RANGE);
    if gzip {
        headers.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip"));
    }
    Ok((request, gzip))
}

/// The tail of Go's dial error for the usual cases.
fn dial_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".to_owned(),
        std::io::ErrorKind::TimedOut => "i/o timeout".to_owned(),
        _ => err.to_string(),
    }
}

/// A connection closed before a whole answer is Go's `EOF`.
fn http_reason(err: &hyper::Error) -> String {
    if err.is_incomplete_message() || err.is_closed() {
        "EOF".to_owned()
    } else {
        err.to_string()
    }
}

/// `name=value` of a `Set-Cookie` (quotes around the value dropped, as `readSetCookies`).
fn set_cookie(line: &str) -> Option<(String, String)> {
    let first = line.split(';').next()?.trim();
    let (name, value) = first.split_once('=')?;
    let name = name.trim();
    if name.is_empty() {
        return None;
    }
    let value = value.trim();
    let value = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value);
    Some((name.to_owned(), value.to_owned()))
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
    fn targets_parse_like_go_urls() {
        let t = Target::parse("http://catalog:80/items?x=1").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.authority.as_str()),
            ("catalog", 80, "catalog:80")
        );
        assert_eq!(
            (t.path.as_str(), t.query.as_deref()),
            ("/items", Some("x=1"))
        );
        let t = Target::parse("http://api").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, ""));
        assert_eq!(Target::parse("http://[::1]:9091").unwrap().host, "::1");
        assert!(matches!(
            Target::parse("grpc://payments:9090"),
            Err(TargetError::NotHttp(_))
        ));
        assert!(matches!(
            Target::parse("https://payments:9090"),
            Err(TargetError::NotHttp(_))
        ));
        assert!(matches!(
            Target::parse("http://:80"),
            Err(TargetError::Malformed(_))
        ));
        assert!(matches!(
            Target::parse("http://a:port"),
            Err(TargetError::Malformed(_))
        ));
    }

    #[test]
    fn the_callers_path_is_appended() {
        let inbound = Inbound {
            method: http::Method::GET,
            uri: "/users?id=1".into(),
            path: "/users".into(),
            proto: "HTTP/1.1",
            host: "web".into(),
            headers: vec![],
            form: None,
        };
        let t = Target::parse("http://api:9090").unwrap();
        assert_eq!(
            t.url(Some(&inbound)),
            ("http://api:9090/users".to_owned(), "/users".to_owned())
        );
        assert_eq!(t.url(None), ("http://api:9090".to_owned(), "/".to_owned()));
        let t = Target::parse("http://catalog:80/items?x=1").unwrap();
        assert_eq!(
            t.url(Some(&inbound)),
            (
                "http://catalog:80/items/users?x=1".to_owned(),
                "/items/users?x=1".to_owned()
            )
        );
    }

    #[test]
    fn cookies_are_name_and_value() {
        assert_eq!(
            set_cookie("session=\"abc\"; Path=/; HttpOnly"),
            Some(("session".into(), "abc".into()))
        );
        assert_eq!(set_cookie("novalue"), None);
    }
}
