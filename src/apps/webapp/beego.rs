//! What beego v2.0.1 (webapp's framework, run in its default `prod` mode) prints and answers:
//! the Apache-style access log line through beego's console logger, the start-up line, plain
//! `CustomAbort` bodies, `ServeJSON`'s compact JSON, and its HTML error pages.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{HeaderMap, Response, StatusCode};
use serde_json::Value;
use time::OffsetDateTime;
use time::macros::format_description;

use crate::apps::jsontext::{self, Dialect};
use crate::apps::serve::{self, Body};

/// Go 1.19's `json.Marshal` (the webapp image was built in 2022): HTML-escaping, `\u0008`.
pub const MARSHAL: Dialect = Dialect::Go {
    escape_html: true,
    short_escapes: false,
};

/// beego's console logger colours the level tag (on by default, also in containers).
const EMERGENCY: &str = "\x1b[1;37m[M]\x1b[0m";
const INFORMATIONAL: &str = "\x1b[1;34m[I]\x1b[0m";

/// The line beego prints when it starts listening.
pub fn startup_line(port: u16) -> String {
    format!(
        "{} {INFORMATIONAL} [server.go:241]  http server Running on http://:{port}",
        log_time(OffsetDateTime::now_utc())
    )
}

/// One request as `LogAccess` records it.
#[derive(Debug, Clone)]
pub struct Access<'a> {
    pub headers: &'a HeaderMap,
    pub peer: SocketAddr,
    pub method: &'a str,
    /// The request target as sent (`r.RequestURI`).
    pub uri: &'a str,
    pub proto: &'a str,
    /// The request's `Content-Length` (beego logs it as "body bytes sent"): 0 without a body,
    /// -1 when chunked.
    pub request_length: i64,
    pub user_agent: &'a str,
    pub referer: &'a str,
}

/// The access log line; `started` is `None` for the extra line beego's error handler writes
/// (zero time, zero duration).
pub fn access_line(
    access: &Access,
    status: u16,
    started: Option<(OffsetDateTime, Duration)>,
) -> String {
    let (request_time, elapsed) = match started {
        Some((at, elapsed)) => (apache_time(at), elapsed),
        None => ("01/Jan/0001 12:00:00".to_owned(), Duration::ZERO),
    };
    let record = format!(
        "{} - - [{request_time}] \"{} {} {} {status} {}\" {:.6} {} {}",
        client_ip(access.headers, access.peer),
        access.method,
        access.uri,
        access.proto,
        access.request_length,
        elapsed.as_secs_f64(),
        access.referer,
        access.user_agent,
    );
    format!(
        "{} {EMERGENCY} [router.go:1014]  {}",
        log_time(OffsetDateTime::now_utc()),
        record.trim()
    )
}

/// `ctx.Input.IP()`: the first `X-Forwarded-For` entry (port stripped), else the peer's IP.
fn client_ip(headers: &HeaderMap, peer: SocketAddr) -> String {
    let forwarded = headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .filter(|first| !first.is_empty());
    match forwarded {
        Some(first) => first
            .parse::<SocketAddr>()
            .map_or_else(|_| first.to_owned(), |addr| addr.ip().to_string()),
        None => peer.ip().to_string(),
    }
}

/// beego's console time header: `2006/01/02 15:04:05.000`.
fn log_time(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]/[month]/[day] [hour]:[minute]:[second].[subsecond digits:3]"
    ))
    .unwrap_or_default()
}

/// The access record's `02/Jan/2006 03:04:05` (a 12-hour clock, no AM/PM: beego's format).
fn apache_time(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[day]/[month repr:short]/[year] [hour repr:12]:[minute]:[second]"
    ))
    .unwrap_or_default()
}

/// A response with a body; Go's server sniffs a Content-Type when none is set.
pub fn with_body(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let body: Bytes = body.into();
    let mut response = Response::new(serve::full(body));
    *response.status_mut() = status;
    if let Ok(value) = HeaderValue::from_str(content_type) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
}

/// `CustomAbort(status, text)` and `ctx.Output.Body(text)`: Go sniffs plain text.
pub fn text(status: StatusCode, text: &str) -> Response<Body> {
    with_body(status, "text/plain; charset=utf-8", text.to_owned())
}

/// `ServeJSON()` in prod mode: compact JSON.
pub fn json(value: &Value) -> Response<Body> {
    let text = jsontext::compact(value, MARSHAL);
    with_body(StatusCode::OK, "application/json; charset=utf-8", text)
}

/// The base controller's answer to a method it does not implement (`http.Error`).
pub fn method_not_allowed() -> Response<Body> {
    let mut response = text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// beego's error page (`exception("404")` and friends).
pub fn error_page(status: StatusCode) -> Response<Body> {
    let title = status.canonical_reason().unwrap_or("Error");
    let reasons: &[&str] = match status {
        StatusCode::NOT_FOUND => &[
            "The page you have requested has flown the coop.",
            "Perhaps you are here because:",
            "The page has moved",
            "The page no longer exists",
            "You were looking for your puppy and got lost",
            "You like 404 pages",
        ],
        StatusCode::METHOD_NOT_ALLOWED => &[
            "The method you have requested Not Allowed.",
            "The method specified in the Request-Line is not allowed for the resource.",
        ],
        StatusCode::PAYLOAD_TOO_LARGE => &["The request entity is too large."],
        _ => &["The page you have requested is down right now."],
    };
    let mut page = format!(
        "\n<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta http-equiv=\"Content-Type\" \
         content=\"text/html; charset=UTF-8\">\n<title>{title}</title>\n</head>\n<body>\n\
         <div id=\"wrapper\"><div id=\"container\">\n<div class=\"navtop\"><h1>{title}</h1></div>\n\
         <div id=\"content\">\n"
    );
    for reason in reasons {
        page.push_str(&format!("<br>{reason}\n"));
    }
    page.push_str(
        "<a href=\"/\" title=\"Home\" class=\"button\">Go Home</a><br />\n\
         <br>Powered by beego 2.0.1\n</div>\n</div></div>\n</body>\n</html>\n",
    );
    with_body(status, "text/html; charset=utf-8", page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_line_matches_beego() {
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "172.18.0.1, 10.0.0.2".parse().unwrap());
        let access = Access {
            headers: &headers,
            peer: "127.0.0.6:40000".parse().unwrap(),
            method: "GET",
            uri: "/api/catalog",
            proto: "HTTP/1.1",
            request_length: 0,
            user_agent: "curl/8.7.1",
            referer: "",
        };
        let at = time::macros::datetime!(2025-04-14 21:28:40.248 UTC);
        let line = access_line(&access, 200, Some((at, Duration::from_micros(4840))));
        let re = regex::Regex::new(
            r#"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2}\.\d{3} \x1b\[1;37m\[M\]\x1b\[0m \[router\.go:1014\]  172\.18\.0\.1 - - \[14/Apr/2025 09:28:40\] "GET /api/catalog HTTP/1\.1 200 0" 0\.004840  curl/8\.7\.1$"#,
        )
        .unwrap();
        assert!(re.is_match(&line), "{line:?}");
        // Without a user agent the record's trailing spaces are trimmed.
        let bare = Access {
            user_agent: "",
            headers: &HeaderMap::new(),
            ..access
        };
        let line = access_line(&bare, 404, None);
        assert!(
            line.ends_with(
                "127.0.0.6 - - [01/Jan/0001 12:00:00] \"GET /api/catalog HTTP/1.1 404 0\" 0.000000"
            ),
            "{line:?}"
        );
    }

    #[test]
    fn startup() {
        assert!(startup_line(8080).ends_with(
            "\x1b[1;34m[I]\x1b[0m [server.go:241]  http server Running on http://:8080"
        ));
    }
}
