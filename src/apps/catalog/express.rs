//! Responses as Express 4 (behind json-server's middlewares) writes them: `res.json` with
//! `json spaces` 2, `res.send(text)`, `res.sendStatus`, `res.end()`, finalhandler's error pages,
//! and the headers the middlewares add (`X-Powered-By`, CORS, no-cache, `Vary`, `ETag`).

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Response, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;

use super::etag;
use crate::apps::jsontext::{self, Dialect};
use crate::apps::serve::{self, Body};

/// How the body goes out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// `res.send(…)`: a body with `Content-Length`.
    Sized(Bytes),
    /// `res.end()` with nothing: the compression middleware makes Node send an empty chunked
    /// body, so there is no `Content-Length` at all.
    EmptyChunked,
}

/// An answer under construction, headers in the order Express sets them.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: Vec<(HeaderName, String)>,
    pub payload: Payload,
}

impl Reply {
    fn new(status: StatusCode, headers: Vec<(HeaderName, String)>, payload: Payload) -> Reply {
        Reply {
            status,
            headers,
            payload,
        }
    }

    /// `res.status(code).end()`.
    pub fn end(status: StatusCode) -> Reply {
        Reply::new(status, Vec::new(), Payload::EmptyChunked)
    }

    /// `res.json(value)` / `res.send(object)`: 2-space JSON (json-server's `json spaces`).
    pub fn json(value: &Value) -> Reply {
        let text = jsontext::pretty(value, Dialect::Js);
        Reply::sized(
            StatusCode::OK,
            "application/json; charset=utf-8",
            Bytes::from(text),
        )
    }

    /// `res.send("text")`: Express calls any string HTML.
    pub fn text(text: impl Into<String>) -> Reply {
        let text: String = text.into();
        Reply::sized(
            StatusCode::OK,
            "text/html; charset=utf-8",
            Bytes::from(text),
        )
    }

    /// `res.sendStatus(code)`: the status text as plain text.
    pub fn send_status(status: StatusCode) -> Reply {
        let text = status.canonical_reason().unwrap_or("").to_owned();
        Reply::sized(status, "text/plain; charset=utf-8", Bytes::from(text))
    }

    fn sized(status: StatusCode, content_type: &str, body: Bytes) -> Reply {
        let headers = vec![
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_LENGTH, body.len().to_string()),
            (header::ETAG, etag::weak(&body)),
        ];
        Reply::new(status, headers, Payload::Sized(body))
    }

    /// finalhandler's page for an unmatched route: `Cannot GET /path`.
    pub fn not_found(method: &Method, path: &str) -> Reply {
        let text = format!("Cannot {method} {path}");
        Reply::error_page(StatusCode::NOT_FOUND, &text)
    }

    /// finalhandler's page for an error (the dev-mode page shows the error's first line).
    pub fn error_page(status: StatusCode, message: &str) -> Reply {
        let body = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <title>Error</title>\n</head>\n<body>\n<pre>{}</pre>\n</body>\n</html>\n",
            escape_html(message)
        );
        let headers = vec![
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'".to_owned(),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::CONTENT_LENGTH, body.len().to_string()),
        ];
        Reply::new(status, headers, Payload::Sized(Bytes::from(body)))
    }

    /// A static file (serve-static): no ETag of ours, public caching.
    pub fn static_file(content_type: &str, body: &'static str) -> Reply {
        let headers = vec![
            (header::ACCEPT_RANGES, "bytes".to_owned()),
            (header::CACHE_CONTROL, "public, max-age=0".to_owned()),
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::CONTENT_LENGTH, body.len().to_string()),
        ];
        Reply::new(
            StatusCode::OK,
            headers,
            Payload::Sized(Bytes::from_static(body.as_bytes())),
        )
    }

    /// `Content-Length` as morgan's `:res[content-length]` reads it.
    pub fn content_length(&self) -> Option<&str> {
        self.headers
            .iter()
            .find(|(name, _)| name == header::CONTENT_LENGTH)
            .map(|(_, value)| value.as_str())
    }

    /// Express's freshness rule: a GET/HEAD 2xx whose ETag the client already has becomes a
    /// bodiless 304.
    pub fn revalidate(&mut self, method: &Method, request: &HeaderMap) {
        let cacheable =
            (method == Method::GET || method == Method::HEAD) && self.status.is_success();
        let fresh = cacheable
            && self
                .headers
                .iter()
                .any(|(n, tag)| n == header::ETAG && etag::fresh(request, tag));
        if fresh {
            self.status = StatusCode::NOT_MODIFIED;
            self.headers
                .retain(|(n, _)| n != header::CONTENT_TYPE && n != header::CONTENT_LENGTH);
            self.payload = Payload::Sized(Bytes::new());
        }
    }

    /// The finished response: the middlewares' headers first, then the reply's own; the
    /// compression middleware adds `Accept-Encoding` to `Vary` for compressible types.
    pub fn into_response(self, middleware: Vec<(HeaderName, String)>) -> Response<Body> {
        let compressible = self
            .headers
            .iter()
            .any(|(n, v)| n == header::CONTENT_TYPE && compressible(v));
        let mut headers: Vec<(HeaderName, String)> = middleware;
        headers.extend(self.headers);
        if compressible {
            match headers.iter_mut().find(|(n, _)| n == header::VARY) {
                Some((_, vary)) => vary.push_str(", Accept-Encoding"),
                None => headers.push((header::VARY, "Accept-Encoding".to_owned())),
            }
        }
        let body = match self.payload {
            Payload::Sized(bytes) => serve::full(bytes),
            Payload::EmptyChunked => empty_chunked(),
        };
        let mut response = Response::new(body);
        *response.status_mut() = self.status;
        for (name, value) in headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(name, value);
            }
        }
        response
    }
}

/// An empty body of unknown length: hyper sends it chunked, as Node does after `res.end()`.
fn empty_chunked() -> Body {
    let frames = futures_util::stream::empty::<Result<hyper::body::Frame<Bytes>, std::io::Error>>();
    http_body_util::StreamBody::new(frames).boxed()
}

/// The `compressible` package's verdict for the types catalog sends.
fn compressible(content_type: &str) -> bool {
    let mime = content_type.split(';').next().unwrap_or_default().trim();
    mime.starts_with("text/") || mime == "application/json"
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_reply_has_express_headers() {
        let reply = Reply::json(&json!({"a": 1}));
        assert_eq!(reply.content_length(), Some("12"));
        let response = reply.into_response(vec![(header::VARY, "Origin".into())]);
        let h = response.headers();
        assert_eq!(h[header::CONTENT_TYPE], "application/json; charset=utf-8");
        assert_eq!(h[header::VARY], "Origin, Accept-Encoding");
        assert!(h[header::ETAG].to_str().unwrap().starts_with("W/\"c-"));
    }

    #[test]
    fn end_has_no_length() {
        let reply = Reply::end(StatusCode::CREATED);
        assert_eq!(reply.content_length(), None);
        let response = reply.into_response(vec![(header::VARY, "Origin".into())]);
        assert_eq!(response.headers()[header::VARY], "Origin");
        assert!(response.headers().get(header::CONTENT_TYPE).is_none());
    }

    #[test]
    fn revalidation_turns_into_304() {
        let mut reply = Reply::send_status(StatusCode::OK);
        let tag = reply.headers[2].1.clone();
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, tag.parse().unwrap());
        reply.revalidate(&Method::POST, &request);
        assert_eq!(reply.status, StatusCode::OK);
        reply.revalidate(&Method::GET, &request);
        assert_eq!(reply.status, StatusCode::NOT_MODIFIED);
        assert_eq!(reply.content_length(), None);
    }

    #[test]
    fn not_found_page() {
        let reply = Reply::not_found(&Method::PUT, "/items/<9>");
        let Payload::Sized(body) = &reply.payload else {
            panic!("sized")
        };
        let text = String::from_utf8_lossy(body);
        assert!(
            text.contains("<pre>Cannot PUT /items/&lt;9&gt;</pre>"),
            "{text}"
        );
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
    }
}
