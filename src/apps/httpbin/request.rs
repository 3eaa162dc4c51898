//! What httpbin reads from a request, computed the way Flask/Werkzeug behind gunicorn did:
//! title-cased headers, `url`, `origin`, `args`, and the body split into `form`, `files`,
//! `data` and `json`.

use std::net::SocketAddr;

use bytes::Bytes;
use http::{HeaderMap, Method, header};
use serde_json::{Map, Value};

use super::multipart;
use super::params::{self, Pairs};

/// A request whose body has been read: everything an endpoint needs, no I/O left.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub method: Method,
    /// Percent-decoded path, used for routing (Werkzeug matched on `PATH_INFO`).
    pub path: String,
    /// Path and query as sent, used for `url`.
    pub raw_path_and_query: String,
    pub args: Pairs,
    pub headers: HeaderMap,
    /// `:authority` of an HTTP/2 or absolute-form request, used when `Host` is missing.
    pub authority: Option<String>,
    pub body: Bytes,
    pub peer: SocketAddr,
}

/// The fields of httpbin's `get_dict`, in the order callers list them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Url,
    Args,
    Form,
    Data,
    Origin,
    Headers,
    Files,
    Json,
    Method,
}

/// The body as Werkzeug split it.
#[derive(Debug, Default)]
struct Body {
    form: Value,
    files: Value,
    /// Raw bytes of a body that is not a form (forms leave `data` empty).
    data: Bytes,
}

impl Inbound {
    pub fn new(parts: &http::request::Parts, body: Bytes, peer: SocketAddr) -> Inbound {
        let uri = &parts.uri;
        let raw_path = uri.path();
        let raw_path_and_query = match uri.query() {
            Some(q) => format!("{raw_path}?{q}"),
            None => raw_path.to_owned(),
        };
        Inbound {
            method: parts.method.clone(),
            path: params::percent_decode(raw_path.as_bytes()),
            raw_path_and_query,
            args: params::parse_urlencoded(uri.query().unwrap_or_default().as_bytes()),
            headers: parts.headers.clone(),
            authority: uri.authority().map(|a| a.to_string()),
            body,
            peer,
        }
    }

    /// A header's value as text (ISO-8859-1, as WSGI decodes it), repeats joined with `,` as
    /// gunicorn does.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<String> {
        let values: Vec<String> = self.headers.get_all(name).iter().map(latin1).collect();
        (!values.is_empty()).then(|| values.join(","))
    }

    /// `{"Title-Case-Name": "value"}` for every header. Unlike classic httpbin nothing is
    /// hidden: the labs exist to show what a proxy added (`X-Request-Id`, `X-Forwarded-*`).
    pub fn headers_json(&self) -> Value {
        let mut map = Map::new();
        for name in self.headers.keys() {
            let value = self.header(name).unwrap_or_default();
            // WSGI drops empty Content-Type/Content-Length (they live outside `HTTP_*`).
            let special = name == header::CONTENT_TYPE || name == header::CONTENT_LENGTH;
            if special && value.is_empty() {
                continue;
            }
            map.insert(title_case(name.as_str()), Value::String(value));
        }
        if !self.headers.contains_key(header::HOST) {
            map.insert("Host".into(), Value::String(self.host()));
        }
        Value::Object(map)
    }

    /// The `Host` header, else the request's authority (HTTP/2), else `localhost`.
    pub fn host(&self) -> String {
        self.header(header::HOST)
            .or_else(|| self.authority.clone())
            .unwrap_or_else(|| "localhost".to_owned())
    }

    /// httpbin's `get_url`: the scheme a proxy reported (`X-Forwarded-Proto`,
    /// `X-Forwarded-Protocol`, `X-Forwarded-Ssl: on`), else `http`.
    pub fn scheme(&self) -> String {
        self.header("x-forwarded-proto")
            .or_else(|| self.header("x-forwarded-protocol"))
            .or_else(|| {
                (self.header("x-forwarded-ssl").as_deref() == Some("on")).then(|| "https".into())
            })
            .unwrap_or_else(|| "http".to_owned())
    }

    pub fn url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme(),
            self.host(),
            self.raw_path_and_query
        )
    }

    /// `X-Forwarded-For` as sent (the whole chain, as httpbin showed it), else the peer's IP.
    pub fn origin(&self) -> String {
        self.header("x-forwarded-for")
            .unwrap_or_else(|| self.peer.ip().to_string())
    }

    /// httpbin's `get_dict(...)`: the named fields as one JSON object.
    pub fn dict(&self, fields: &[Field]) -> Map<String, Value> {
        let body = self.split_body();
        let mut out = Map::new();
        for field in fields {
            let (key, value) = match field {
                Field::Url => ("url", Value::String(self.url())),
                Field::Args => ("args", params::semiflatten(&self.args)),
                Field::Form => ("form", body.form.clone()),
                Field::Data => ("data", Value::String(json_safe(&body.data, None))),
                Field::Origin => ("origin", Value::String(self.origin())),
                Field::Headers => ("headers", self.headers_json()),
                Field::Files => ("files", body.files.clone()),
                Field::Json => ("json", parse_json(&body.data)),
                Field::Method => ("method", Value::String(self.method.to_string())),
            };
            out.insert(key.to_owned(), value);
        }
        out
    }

    fn mime_type(&self) -> String {
        let content_type = self.header(header::CONTENT_TYPE).unwrap_or_default();
        let mime = content_type.split(';').next().unwrap_or_default();
        mime.trim().to_ascii_lowercase()
    }

    fn split_body(&self) -> Body {
        let empty = || Value::Object(Map::new());
        match self.mime_type().as_str() {
            "application/x-www-form-urlencoded" => Body {
                form: params::semiflatten(&params::parse_urlencoded(&self.body)),
                files: empty(),
                data: Bytes::new(),
            },
            "multipart/form-data" => {
                let content_type = self.header(header::CONTENT_TYPE).unwrap_or_default();
                let parts = multipart::boundary(&content_type)
                    .map(|b| multipart::parse(&self.body, &b))
                    .unwrap_or_default();
                let (files, fields): (Vec<_>, Vec<_>) =
                    parts.into_iter().partition(|p| p.filename.is_some());
                let fields: Pairs = fields
                    .into_iter()
                    .map(|p| (p.name, String::from_utf8_lossy(&p.data).into_owned()))
                    .collect();
                let files = files.into_iter().map(|p| {
                    let value = json_safe(&p.data, p.content_type.as_deref());
                    (p.name, Value::String(value))
                });
                Body {
                    form: params::semiflatten(&fields),
                    files: params::semiflatten_values(files),
                    data: Bytes::new(),
                }
            }
            _ => Body {
                form: empty(),
                files: empty(),
                data: self.body.clone(),
            },
        }
    }
}

/// Python's `str.title()` on a header name: a letter is upper-cased after any non-letter
/// (`x-b3-traceid` → `X-B3-Traceid`); `_` reads as `-` as in a WSGI environ.
pub fn title_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut after_letter = false;
    for c in name.chars() {
        let c = if c == '_' { '-' } else { c };
        if c.is_ascii_alphabetic() {
            out.push(if after_letter {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            });
            after_letter = true;
        } else {
            out.push(c);
            after_letter = false;
        }
    }
    out
}

/// httpbin's `json_safe`: UTF-8 text as is, anything else as a `data:` URL in base64.
pub fn json_safe(data: &[u8], content_type: Option<&str>) -> String {
    match std::str::from_utf8(data) {
        Ok(text) => text.to_owned(),
        Err(_) => format!(
            "data:{};base64,{}",
            content_type.unwrap_or("application/octet-stream"),
            base64(data)
        ),
    }
}

fn parse_json(data: &[u8]) -> Value {
    serde_json::from_slice(data).unwrap_or(Value::Null)
}

fn latin1(value: &http::HeaderValue) -> String {
    value.as_bytes().iter().map(|&b| char::from(b)).collect()
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inbound(method: &str, uri: &str, headers: &[(&str, &str)], body: &str) -> Inbound {
        let mut builder = http::Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let (parts, ()) = builder.body(()).unwrap().into_parts();
        Inbound::new(
            &parts,
            Bytes::copy_from_slice(body.as_bytes()),
            "10.0.0.7:5555".parse().unwrap(),
        )
    }

    #[test]
    fn title_case_matches_python() {
        assert_eq!(
            title_case("x-envoy-expected-rq-timeout-ms"),
            "X-Envoy-Expected-Rq-Timeout-Ms"
        );
        assert_eq!(title_case("x-b3-traceid"), "X-B3-Traceid");
        assert_eq!(title_case("user-agent"), "User-Agent");
        assert_eq!(title_case("x-3d_thing"), "X-3D-Thing");
        assert_eq!(title_case("dnt"), "Dnt");
    }

    #[test]
    fn headers_are_strings_repeats_joined_nothing_hidden() {
        let req = inbound(
            "GET",
            "/headers",
            &[
                ("host", "httpbin:8000"),
                ("x-request-id", "abc"),
                ("x-forwarded-proto", "http"),
                ("accept", "a"),
                ("accept", "b"),
            ],
            "",
        );
        assert_eq!(
            req.headers_json(),
            json!({
                "Host": "httpbin:8000",
                "X-Request-Id": "abc",
                "X-Forwarded-Proto": "http",
                "Accept": "a,b",
            })
        );
    }

    #[test]
    fn url_uses_host_and_forwarded_proto() {
        let req = inbound("GET", "/get?a=1", &[("host", "example.com")], "");
        assert_eq!(req.url(), "http://example.com/get?a=1");
        let req = inbound(
            "GET",
            "/get",
            &[("host", "example.com"), ("x-forwarded-proto", "https")],
            "",
        );
        assert_eq!(req.url(), "https://example.com/get");
        let req = inbound("GET", "http://h2.example:81/get", &[], "");
        assert_eq!(req.url(), "http://h2.example:81/get");
    }

    #[test]
    fn origin_is_forwarded_for_or_peer() {
        assert_eq!(inbound("GET", "/ip", &[], "").origin(), "10.0.0.7");
        let req = inbound(
            "GET",
            "/ip",
            &[("x-forwarded-for", "1.2.3.4, 10.0.0.1")],
            "",
        );
        assert_eq!(req.origin(), "1.2.3.4, 10.0.0.1");
    }

    #[test]
    fn json_body_goes_to_data_and_json() {
        let req = inbound(
            "POST",
            "/post",
            &[("content-type", "application/json")],
            r#"{"a": [1]}"#,
        );
        let d = req.dict(&[Field::Data, Field::Json, Field::Form, Field::Files]);
        assert_eq!(
            Value::Object(d),
            json!({"data": "{\"a\": [1]}", "json": {"a": [1]}, "form": {}, "files": {}})
        );
    }

    #[test]
    fn urlencoded_body_goes_to_form_only() {
        let req = inbound(
            "POST",
            "/post",
            &[(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )],
            "a=1&a=2&b=x+y",
        );
        let d = req.dict(&[Field::Data, Field::Json, Field::Form]);
        assert_eq!(
            Value::Object(d),
            json!({"data": "", "json": null, "form": {"a": ["1", "2"], "b": "x y"}})
        );
    }

    #[test]
    fn multipart_splits_fields_and_files() {
        let body = "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nv\r\n\
                    --b\r\nContent-Disposition: form-data; name=\"up\"; filename=\"x.bin\"\r\n\
                    Content-Type: application/x-thing\r\n\r\n\u{0}\u{1}\r\n--b--\r\n";
        let mut req = inbound(
            "POST",
            "/post",
            &[("content-type", "multipart/form-data; boundary=b")],
            "",
        );
        req.body = Bytes::from(body);
        let d = req.dict(&[Field::Form, Field::Files, Field::Data]);
        assert_eq!(d["form"], json!({"f": "v"}));
        assert_eq!(d["files"], json!({"up": "\u{0}\u{1}"}));
        assert_eq!(d["data"], json!(""));
    }

    #[test]
    fn binary_data_becomes_a_data_url() {
        assert_eq!(
            json_safe(&[0xff, 0x00, 0x41], None),
            "data:application/octet-stream;base64,/wBB"
        );
        assert_eq!(json_safe(b"hi", None), "hi");
        assert_eq!(base64(b"any carnal pleas"), "YW55IGNhcm5hbCBwbGVhcw==");
        assert_eq!(base64(b"any carnal pleasu"), "YW55IGNhcm5hbCBwbGVhc3U=");
        assert_eq!(base64(b"any carnal pleasur"), "YW55IGNhcm5hbCBwbGVhc3Vy");
    }

    #[test]
    fn args_keep_repeats() {
        let req = inbound("GET", "/get?x=1&x=2&y=%20", &[], "");
        assert_eq!(
            Value::Object(req.dict(&[Field::Args])),
            json!({"args": {"x": ["1", "2"], "y": " "}})
        );
    }
}
