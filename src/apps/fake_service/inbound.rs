//! An incoming request as fake-service's Go code sees it (`*http.Request`): `r.URL.String()`,
//! `r.Proto`, `r.Host` (apart from the headers), the header list, and — for the log only —
//! the form a POST carries. [`Inbound::log_text`] is its `formatRequest`.

use http::{HeaderMap, Method, Request, Version};
use http_body_util::{BodyExt, Limited};

use super::gofmt::canonical_header;

/// What net/http reads of a form body at most (`ParseForm`'s 10 MB).
const MAX_FORM: usize = 10 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub method: Method,
    /// `r.URL.String()`: the request target as sent (`/path?q`, or the absolute form).
    pub uri: String,
    /// `r.URL.Path`, still percent-encoded.
    pub path: String,
    pub proto: &'static str,
    /// `r.Host`: the absolute-form authority, else `Host` (or HTTP/2's `:authority`).
    pub host: String,
    /// Every header but `Host`, lower-case names, values of one name together, in arrival
    /// order (Go iterates a map; any order is what it prints).
    pub headers: Vec<(String, String)>,
    /// `r.Form.Encode()` for a POST (query plus a url-encoded body); `None` otherwise.
    pub form: Option<String>,
}

impl Inbound {
    /// Reads what the handler needs; a POST's url-encoded body is read for the log, as
    /// `formatRequest`'s `r.ParseForm()` does.
    pub async fn read<B>(req: Request<B>) -> Inbound
    where
        B: hyper::body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = req.into_parts();
        let http2 = parts.version == Version::HTTP_2;
        let uri = match (&parts.uri.path_and_query(), http2) {
            // HTTP/2's request carries scheme and authority beside `:path`; Go's URL is `:path`.
            (Some(pq), true) => pq.as_str().to_owned(),
            _ => parts.uri.to_string(),
        };
        let host = match (parts.uri.authority(), http2) {
            (Some(a), false) => a.as_str().to_owned(),
            _ => header_text(&parts.headers, http::header::HOST)
                .or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()))
                .unwrap_or_default(),
        };
        let proto = match parts.version {
            Version::HTTP_09 => "HTTP/0.9",
            Version::HTTP_10 => "HTTP/1.0",
            Version::HTTP_2 => "HTTP/2.0",
            _ => "HTTP/1.1",
        };
        let mut headers = Vec::new();
        for name in parts.headers.keys().filter(|n| *n != http::header::HOST) {
            for value in parts.headers.get_all(name) {
                let value = String::from_utf8_lossy(value.as_bytes()).into_owned();
                headers.push((name.as_str().to_owned(), value));
            }
        }
        let form = if parts.method == Method::POST {
            let query = parts.uri.query().unwrap_or("");
            let urlencoded = header_text(&parts.headers, http::header::CONTENT_TYPE)
                .and_then(|t| t.split(';').next().map(|m| m.trim().to_ascii_lowercase()))
                .is_some_and(|m| m == "application/x-www-form-urlencoded");
            let body = if urlencoded {
                match Limited::new(body, MAX_FORM).collect().await {
                    Ok(collected) => collected.to_bytes().to_vec(),
                    Err(_) => Vec::new(),
                }
            } else {
                Vec::new()
            };
            Some(encode_form(&String::from_utf8_lossy(&body), query))
        } else {
            None
        };
        Inbound {
            method: parts.method,
            path: parts.uri.path().to_owned(),
            uri,
            proto,
            host,
            headers,
            form,
        }
    }

    /// The first value of a header (any case), like `r.Header.Get`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `formatRequest`: `METHOD URL PROTO`, `Host: …`, `name: value` per header (names
    /// lower-cased), and for a POST a `"\n"` element then the encoded form, all joined by
    /// newlines.
    pub fn log_text(&self) -> String {
        let mut lines = vec![
            format!("{} {} {}", self.method, self.uri, self.proto),
            format!("Host: {}", self.host),
        ];
        for (name, value) in &self.headers {
            lines.push(format!("{}: {value}", name.to_ascii_lowercase()));
        }
        if let Some(form) = &self.form {
            lines.push("\n".to_owned());
            lines.push(form.clone());
        }
        lines.join("\n")
    }

    /// The headers as Go's `http.Header` holds them: canonical names, in order.
    pub fn canonical_headers(&self) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(n, v)| (canonical_header(n), v.clone()))
            .collect()
    }
}

fn header_text(headers: &HeaderMap, name: http::header::HeaderName) -> Option<String> {
    headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// `r.Form.Encode()` after `ParseForm`: body pairs first, then the query's, per key; keys
/// sorted; Go 1.12 splits on `&` and `;` and skips pairs it cannot unescape.
fn encode_form(body: &str, query: &str) -> String {
    let mut form: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for source in [body, query] {
        for pair in source.split(['&', ';']).filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            if let (Some(key), Some(value)) = (unescape(key), unescape(value)) {
                form.entry(key).or_default().push(value);
            }
        }
    }
    let mut pairs = Vec::new();
    for (key, values) in &form {
        for value in values {
            pairs.push(format!("{}={}", escape(key), escape(value)));
        }
    }
    pairs.join("&")
}

/// `url.QueryUnescape`: `+` is a blank, `%XX` a byte; a bad escape is `None`.
fn unescape(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

/// `url.QueryEscape`: letters, digits and `-_.~` stay, a blank is `+`, the rest `%XX`.
fn escape(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::Full;

    async fn read(req: Request<Full<bytes::Bytes>>) -> Inbound {
        Inbound::read(req).await
    }

    #[tokio::test]
    async fn sees_the_request_as_go_does() {
        let req = Request::get("/api?x=1")
            .header("host", "localhost:9090")
            .header("user-agent", "curl/7.64.1")
            .header("accept", "*/*")
            .body(Full::default())
            .unwrap();
        let inbound = read(req).await;
        assert_eq!(inbound.uri, "/api?x=1");
        assert_eq!(inbound.path, "/api");
        assert_eq!(inbound.host, "localhost:9090");
        assert_eq!(inbound.form, None);
        assert_eq!(
            inbound.log_text(),
            "GET /api?x=1 HTTP/1.1\nHost: localhost:9090\nuser-agent: curl/7.64.1\naccept: */*"
        );
        assert_eq!(inbound.header("User-Agent"), Some("curl/7.64.1"));
        assert_eq!(
            inbound.canonical_headers()[0],
            ("User-Agent".to_owned(), "curl/7.64.1".to_owned())
        );
    }

    #[tokio::test]
    async fn http2_uses_the_path_and_authority() {
        let req = Request::get("https://simple-sni-1.istioinaction.io/hi")
            .version(Version::HTTP_2)
            .body(Full::default())
            .unwrap();
        let inbound = read(req).await;
        assert_eq!(inbound.uri, "/hi");
        assert_eq!(inbound.host, "simple-sni-1.istioinaction.io");
        assert_eq!(inbound.proto, "HTTP/2.0");
    }

    #[tokio::test]
    async fn a_post_logs_its_form() {
        let req = Request::post("/?z=last&a=q")
            .header("host", "svc")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::from("a=1&b=two+words&bad=%zz"))
            .unwrap();
        let inbound = read(req).await;
        assert_eq!(inbound.form.as_deref(), Some("a=1&a=q&b=two+words&z=last"));
        assert!(
            inbound.log_text().ends_with(
                "content-type: application/x-www-form-urlencoded\n\n\na=1&a=q&b=two+words&z=last"
            ),
            "{}",
            inbound.log_text()
        );
        let json = Request::post("/")
            .header("content-type", "application/json")
            .body(Full::from("{}"))
            .unwrap();
        assert_eq!(read(json).await.form.as_deref(), Some(""));
    }
}
