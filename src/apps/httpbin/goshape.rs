//! The [`Flavor::Go`] answers: go-httpbin v2.15's JSON (Istio's current `httpbin` sample) for
//! the request-inspection endpoints (`/headers`, `/get`, `/anything`, `/post`…, `/ip`,
//! `/user-agent`, `/uuid`). Where classic httpbin prints `"Accept": "*/*"`, go-httpbin prints
//! `"Accept": ["*/*"]`: headers and args are Go maps of lists (sorted, canonical names), fields
//! follow go-httpbin's structs, and JSON is Go's 2-space indent plus a newline.
//!
//! [`Flavor::Go`]: super::Flavor::Go

use http::{Response, StatusCode, header};
use serde_json::{Map, Value};

use super::Body;
use super::reply;
use super::request::{Field, Inbound};
use crate::apps::jsontext::{self, Dialect};

/// go-httpbin's encoder: `SetEscapeHTML(false)`, built with Go ≥ 1.22.
const ENCODER: Dialect = Dialect::Go {
    escape_html: false,
    short_escapes: true,
};

/// `writeJSON`: pretty Go JSON and a trailing newline.
pub fn json(status: StatusCode, value: &Value) -> Response<Body> {
    let mut text = jsontext::pretty(value, ENCODER);
    text.push('\n');
    reply::with_body(status, Some("application/json; charset=utf-8"), text)
}

pub fn headers(req: &Inbound) -> Response<Body> {
    json(StatusCode::OK, &object([("headers", headers_json(req))]))
}

/// `noBodyResponse`: `/get`, and `/anything` for HEAD.
pub fn get(req: &Inbound) -> Response<Body> {
    json(StatusCode::OK, &object(base(req)))
}

/// `bodyResponse`: `/anything`, `/post`, `/put`, `/patch`, `/delete`.
pub fn with_body(req: &Inbound) -> Response<Body> {
    let mut fields = base(req).to_vec();
    let parsed = match parse_body(req) {
        Ok(parsed) => parsed,
        Err(detail) => return error(StatusCode::BAD_REQUEST, &detail),
    };
    fields.extend([
        ("data", parsed.data),
        ("files", parsed.files),
        ("form", parsed.form),
        ("json", parsed.json),
    ]);
    json(StatusCode::OK, &object(fields))
}

pub fn ip(req: &Inbound) -> Response<Body> {
    json(
        StatusCode::OK,
        &object([("origin", Value::from(origin(req)))]),
    )
}

pub fn user_agent(req: &Inbound) -> Response<Body> {
    let agent = req.header(header::USER_AGENT).unwrap_or_default();
    json(
        StatusCode::OK,
        &object([("user-agent", Value::from(agent))]),
    )
}

pub fn uuid() -> Response<Body> {
    let id = uuid::Uuid::new_v4().to_string();
    json(StatusCode::OK, &object([("uuid", Value::from(id))]))
}

/// `writeError`: `{"status_code": …, "error": "Bad Request", "detail": …}`.
fn error(status: StatusCode, detail: &str) -> Response<Body> {
    let value = object([
        ("status_code", Value::from(status.as_u16())),
        (
            "error",
            Value::from(status.canonical_reason().unwrap_or("")),
        ),
        ("detail", Value::from(detail)),
    ]);
    json(status, &value)
}

fn base(req: &Inbound) -> [(&'static str, Value); 5] {
    [
        ("args", args(req)),
        ("headers", headers_json(req)),
        ("method", Value::from(req.method.as_str())),
        ("origin", Value::from(origin(req))),
        ("url", Value::from(req.url())),
    ]
}

fn object(fields: impl IntoIterator<Item = (&'static str, Value)>) -> Value {
    let map: Map<String, Value> = fields.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    Value::Object(map)
}

/// `http.Header` with `Host` set: canonical names, every value, sorted by name.
fn headers_json(req: &Inbound) -> Value {
    let mut map = Map::new();
    for name in req.headers.keys() {
        if name == header::HOST {
            continue;
        }
        let values: Vec<Value> = req
            .headers
            .get_all(name)
            .iter()
            .map(|v| Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        map.insert(canonical(name.as_str()), Value::Array(values));
    }
    map.insert(
        "Host".to_owned(),
        Value::Array(vec![Value::from(req.host())]),
    );
    let mut value = Value::Object(map);
    jsontext::sort_keys(&mut value);
    value
}

/// `url.Values` of the query: every value of every key, keys sorted.
fn args(req: &Inbound) -> Value {
    values(&req.args)
}

fn values(pairs: &[(String, String)]) -> Value {
    let mut map: Map<String, Value> = Map::new();
    for (key, value) in pairs {
        let entry = map
            .entry(key.clone())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::from(value.as_str()));
        }
    }
    let mut value = Value::Object(map);
    jsontext::sort_keys(&mut value);
    value
}

/// `getClientIP`: a platform's client-IP header, the first `X-Forwarded-For` entry, else the
/// peer as `ip:port` (v2.15 keeps the port).
fn origin(req: &Inbound) -> String {
    for name in [
        "fly-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
        "true-client-ip",
    ] {
        if let Some(ip) = req.headers.get(name).and_then(|v| v.to_str().ok())
            && !ip.is_empty()
        {
            return ip.to_owned();
        }
    }
    let forwarded = req
        .headers
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty());
    match forwarded {
        Some(list) => list.split(',').next().unwrap_or_default().trim().to_owned(),
        None => req.peer.to_string(),
    }
}

/// Go's `textproto.CanonicalMIMEHeaderKey`: `x-b3-traceid` → `X-B3-Traceid`.
fn canonical(name: &str) -> String {
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

struct Parsed {
    data: Value,
    files: Value,
    form: Value,
    json: Value,
}

/// `parseBody`: `data` is the raw body (a base64 `data:` URL for unknown types), forms and
/// files are lists per key, `json` is the decoded body of an `application/json` request.
fn parse_body(req: &Inbound) -> Result<Parsed, String> {
    let empty = || Value::Object(Map::new());
    let mut parsed = Parsed {
        data: Value::from(""),
        files: empty(),
        form: empty(),
        json: Value::Null,
    };
    if req.body.is_empty() {
        return Ok(parsed);
    }
    let raw = String::from_utf8_lossy(&req.body).into_owned();
    parsed.data = Value::from(raw);
    let content_type = req.header(header::CONTENT_TYPE).unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default();
    match mime {
        "text/html" | "text/plain" => {}
        "application/x-www-form-urlencoded" | "multipart/form-data" => {
            let classic = req.dict(&[Field::Form, Field::Files]);
            parsed.form = as_lists(classic.get("form"));
            parsed.files = as_lists(classic.get("files"));
        }
        "application/json" => {
            // A Decoder reads one value; whatever follows it is ignored.
            let mut stream = serde_json::Deserializer::from_slice(&req.body).into_iter::<Value>();
            match stream.next() {
                Some(Ok(mut value)) => {
                    go_interface(&mut value);
                    parsed.json = value;
                }
                Some(Err(err)) => return Err(format!("error parsing request body: {err}")),
                None => return Err("error parsing request body: EOF".to_owned()),
            }
        }
        _ => {
            let kind = if mime.is_empty() {
                "application/octet-stream"
            } else {
                mime
            };
            parsed.data = Value::from(format!("data:{kind};base64,{}", base64_url(&req.body)));
        }
    }
    Ok(parsed)
}

/// Classic httpbin's one-or-many values → Go's always-a-list, keys sorted.
fn as_lists(value: Option<&Value>) -> Value {
    let mut map = Map::new();
    if let Some(Value::Object(fields)) = value {
        for (key, v) in fields {
            let list = match v {
                Value::Array(items) => items.clone(),
                other => vec![other.clone()],
            };
            map.insert(key.clone(), Value::Array(list));
        }
    }
    let mut value = Value::Object(map);
    jsontext::sort_keys(&mut value);
    value
}

/// What decoding into `interface{}` does: maps print sorted, numbers are `float64`.
fn go_interface(value: &mut Value) {
    match value {
        Value::Number(n) => {
            if let Some(f) = n.as_f64().and_then(serde_json::Number::from_f64) {
                *n = f;
            }
        }
        Value::Array(items) => items.iter_mut().for_each(go_interface),
        Value::Object(map) => map.values_mut().for_each(go_interface),
        _ => {}
    }
    jsontext::sort_keys(value);
}

/// Go's `base64.URLEncoding` (`-` and `_`, padded).
fn base64_url(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
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
    use super::super::{Flavor, handle_flavor};
    use super::*;
    use bytes::Bytes;
    use http::Request;
    use http_body_util::{BodyExt, Full};
    use serde_json::json;

    async fn go(req: Request<Full<Bytes>>) -> (StatusCode, http::HeaderMap, String) {
        let response = handle_flavor(req, "10.1.2.3:40000".parse().unwrap(), Flavor::Go).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        (
            parts.status,
            parts.headers,
            String::from_utf8_lossy(&body).into_owned(),
        )
    }

    #[tokio::test]
    async fn get_prints_go_httpbin_json() {
        let req = Request::get("/get?b=2&a=1&a=3")
            .header("host", "httpbin:8000")
            .header("user-agent", "curl/8.7.1")
            .header("x-b3-traceid", "abc")
            .header("accept", "a")
            .header("accept", "b")
            .body(Full::default())
            .unwrap();
        let (status, headers, text) = go(req).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            headers[header::CONTENT_TYPE],
            "application/json; charset=utf-8"
        );
        let expected = r#"{
  "args": {
    "a": [
      "1",
      "3"
    ],
    "b": [
      "2"
    ]
  },
  "headers": {
    "Accept": [
      "a",
      "b"
    ],
    "Host": [
      "httpbin:8000"
    ],
    "User-Agent": [
      "curl/8.7.1"
    ],
    "X-B3-Traceid": [
      "abc"
    ]
  },
  "method": "GET",
  "origin": "10.1.2.3:40000",
  "url": "http://httpbin:8000/get?b=2&a=1&a=3"
}
"#;
        assert_eq!(text, expected);
    }

    #[tokio::test]
    async fn post_decodes_json_like_go() {
        let req = Request::post("/post")
            .header("host", "httpbin")
            .header("content-type", "application/json")
            .header("x-forwarded-for", "1.2.3.4, 10.0.0.1")
            .body(Full::new(Bytes::from_static(
                br#"{"z": 1.0, "a": [2, "<x>"]} trailing"#,
            )))
            .unwrap();
        let (status, _, text) = go(req).await;
        assert_eq!(status, StatusCode::OK);
        let v: Value = serde_json::from_str(&text).unwrap();
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(
            keys,
            [
                "args", "headers", "method", "origin", "url", "data", "files", "form", "json"
            ]
        );
        assert_eq!(v["json"], json!({"a": [2, "<x>"], "z": 1}));
        assert!(
            text.contains(
                "\"json\": {\n    \"a\": [\n      2,\n      \"<x>\"\n    ],\n    \"z\": 1\n  }"
            ),
            "{text}"
        );
        assert_eq!(v["origin"], "1.2.3.4");
        assert_eq!(v["form"], json!({}));
        assert_eq!(v["data"], r#"{"z": 1.0, "a": [2, "<x>"]} trailing"#);

        let bad = Request::post("/post")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(b"{nope")))
            .unwrap();
        let (status, _, text) = go(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(text.starts_with("{\n  \"status_code\": 400,\n  \"error\": \"Bad Request\",\n  \"detail\": \"error parsing request body: "), "{text}");
    }

    #[tokio::test]
    async fn forms_binary_and_untouched_endpoints() {
        let form = Request::put("/put")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from_static(b"k=1&k=2")))
            .unwrap();
        let (_, _, text) = go(form).await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["form"], json!({"k": ["1", "2"]}));
        assert_eq!(v["data"], "k=1&k=2");
        let binary = Request::post("/anything/x")
            .body(Full::new(Bytes::from_static(&[0xfb, 0xff])))
            .unwrap();
        let (_, _, text) = go(binary).await;
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["data"], "data:application/octet-stream;base64,-_8=");
        assert_eq!(v["method"], "POST");
        let (status, _, _) = go(Request::get("/status/418").body(Full::default()).unwrap()).await;
        assert_eq!(status, StatusCode::IM_A_TEAPOT);
        let (_, _, text) = go(Request::get("/user-agent").body(Full::default()).unwrap()).await;
        assert_eq!(text, "{\n  \"user-agent\": \"\"\n}\n");
    }

    #[test]
    fn canonical_header_names() {
        assert_eq!(canonical("x-b3-traceid"), "X-B3-Traceid");
        assert_eq!(canonical("user-agent"), "User-Agent");
        assert_eq!(canonical("x-3d_thing"), "X-3d_thing");
    }

    #[test]
    fn url_safe_base64() {
        assert_eq!(base64_url(&[0xfb, 0xff]), "-_8=");
        assert_eq!(base64_url(b"abc"), "YWJj");
    }
}
