//! Response builders with the bodies and headers Flask/Werkzeug produced: `jsonify`, Werkzeug's
//! HTML error pages and redirect page, and the CORS headers httpbin adds to every answer.

use bytes::Bytes;
use http::{HeaderValue, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::Value;

use super::Body;
use super::pyjson;

pub const HTML: &str = "text/html; charset=utf-8";
pub const JSON: &str = "application/json";

pub fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// A response with a body and, when given, a Content-Type.
pub fn with_body(
    status: StatusCode,
    content_type: Option<&str>,
    body: impl Into<Bytes>,
) -> Response<Body> {
    let mut response = Response::new(full(body));
    *response.status_mut() = status;
    if let Some(ct) = content_type {
        set(&mut response, header::CONTENT_TYPE, ct);
    }
    response
}

/// Flask's `jsonify`: pretty JSON, `application/json`.
pub fn json(value: &Value) -> Response<Body> {
    with_body(StatusCode::OK, Some(JSON), pyjson::pretty(value))
}

/// Flask's plain `Response("text", status)`: HTML content type, whatever the text.
pub fn html(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    with_body(status, Some(HTML), body)
}

/// Werkzeug's HTML page for an HTTP error (404, 405, 413, 500…).
pub fn error_page(status: StatusCode) -> Response<Body> {
    let description = match status {
        StatusCode::BAD_REQUEST => {
            "The browser (or proxy) sent a request that this server could not understand."
        }
        StatusCode::NOT_FOUND => {
            "The requested URL was not found on the server.  If you entered the URL manually \
             please check your spelling and try again."
        }
        StatusCode::METHOD_NOT_ALLOWED => "The method is not allowed for the requested URL.",
        StatusCode::PAYLOAD_TOO_LARGE => "The data value transmitted exceeds the capacity limit.",
        _ => {
            "The server encountered an internal error and was unable to complete your request.  \
             Either the server is overloaded or there is an error in the application."
        }
    };
    let name = match status {
        // Werkzeug's (pre-RFC 7231) names.
        StatusCode::PAYLOAD_TOO_LARGE => "Request Entity Too Large",
        _ => status.canonical_reason().unwrap_or("Error"),
    };
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n\
         <title>{code} {name}</title>\n<h1>{name}</h1>\n<p>{description}</p>\n",
        code = status.as_u16()
    );
    html(status, body)
}

/// The 500 a Python exception in the original view would have produced (bad numbers in the
/// path or query that httpbin fed straight to `int()`/`float()`).
pub fn internal_error() -> Response<Body> {
    error_page(StatusCode::INTERNAL_SERVER_ERROR)
}

/// Flask's `redirect(location)`: 302 with Werkzeug's small HTML page.
pub fn redirect(location: &str) -> Response<Body> {
    let escaped = escape_html(location);
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 3.2 Final//EN\">\n\
         <title>Redirecting...</title>\n<h1>Redirecting...</h1>\n\
         <p>You should be redirected automatically to target URL: \
         <a href=\"{escaped}\">{escaped}</a>.  If not click the link."
    );
    set_location(html(StatusCode::FOUND, body), location)
}

/// A bare redirect with an empty body (httpbin's `relative-redirect` and `redirect-to`).
pub fn bare_redirect(status: StatusCode, location: &str) -> Response<Body> {
    set_location(html(status, ""), location)
}

fn set_location(mut response: Response<Body>, location: &str) -> Response<Body> {
    match HeaderValue::from_str(location) {
        Ok(value) => {
            response.headers_mut().insert(header::LOCATION, value);
            response
        }
        // Python would have failed to write such a header.
        Err(_) => internal_error(),
    }
}

/// Inserts a header whose value is known to be valid; invalid ones are dropped.
pub fn set(response: &mut Response<Body>, name: header::HeaderName, value: &str) {
    if let Ok(value) = HeaderValue::from_str(value) {
        response.headers_mut().insert(name, value);
    }
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}
