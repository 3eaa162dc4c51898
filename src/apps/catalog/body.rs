//! json-server's body parsing (`body-parser`'s `json({limit: '10mb'})` and
//! `urlencoded({extended: false})`): `req.body` is the parsed JSON or form, else `{}`.

use http::HeaderMap;
use serde_json::{Map, Value};

/// `bodyParser.json({limit: '10mb'})`.
pub const JSON_LIMIT: usize = 10 * 1024 * 1024;
/// `bodyParser.urlencoded()`'s default limit.
pub const FORM_LIMIT: usize = 100 * 1024;

/// Why body-parser refused a body; Express answers with the error's status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("PayloadTooLargeError: request entity too large")]
    TooLarge,
    /// V8's `JSON.parse` message (`Unexpected token x in JSON at position 0`).
    #[error("SyntaxError: {0}")]
    Syntax(String),
    /// The client went away while sending the body.
    #[error("BadRequestError: request aborted")]
    Aborted,
}

impl BodyError {
    pub fn status(&self) -> http::StatusCode {
        match self {
            BodyError::TooLarge => http::StatusCode::PAYLOAD_TOO_LARGE,
            BodyError::Syntax(_) | BodyError::Aborted => http::StatusCode::BAD_REQUEST,
        }
    }
}

/// The largest body any parser accepts (bigger ones are refused while reading).
pub fn limit(headers: &HeaderMap) -> usize {
    match mime(headers).as_str() {
        "application/x-www-form-urlencoded" => FORM_LIMIT,
        _ => JSON_LIMIT,
    }
}

/// `req.body` for a request with these headers and body bytes.
pub fn parse(headers: &HeaderMap, raw: &[u8]) -> Result<Value, BodyError> {
    let empty = || Value::Object(Map::new());
    match mime(headers).as_str() {
        "application/json" if raw.len() > JSON_LIMIT => Err(BodyError::TooLarge),
        "application/json" if raw.is_empty() => Ok(empty()),
        "application/json" => parse_json(raw),
        "application/x-www-form-urlencoded" if raw.len() > FORM_LIMIT => Err(BodyError::TooLarge),
        "application/x-www-form-urlencoded" => Ok(parse_form(raw)),
        _ => Ok(empty()),
    }
}

fn mime(headers: &HeaderMap) -> String {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let mime = content_type.split(';').next().unwrap_or_default();
    mime.trim().to_ascii_lowercase()
}

/// Strict JSON: only an object or an array at the top, as body-parser's `strict` mode.
fn parse_json(raw: &[u8]) -> Result<Value, BodyError> {
    let first = raw
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    match first.map(|i| raw[i]) {
        Some(b'{' | b'[') => {}
        Some(other) => {
            // body-parser reports the first character as the offending token at position 0.
            let c = char::from(other);
            return Err(BodyError::Syntax(format!(
                "Unexpected token {c} in JSON at position 0"
            )));
        }
        None => return Err(BodyError::Syntax("Unexpected end of JSON input".into())),
    }
    serde_json::from_slice(raw).map_err(|err| BodyError::Syntax(v8_message(raw, &err)))
}

/// V8's wording for a `JSON.parse` failure, from serde_json's line and column.
fn v8_message(raw: &[u8], err: &serde_json::Error) -> String {
    if err.is_eof() {
        return "Unexpected end of JSON input".to_owned();
    }
    let mut line_start = 0;
    for _ in 1..err.line() {
        match raw[line_start..].iter().position(|&b| b == b'\n') {
            Some(i) => line_start += i + 1,
            None => break,
        }
    }
    let position = (line_start + err.column().saturating_sub(1)).min(raw.len().saturating_sub(1));
    match raw.get(position).copied() {
        Some(b'"') => format!("Unexpected string in JSON at position {position}"),
        Some(b'0'..=b'9' | b'-') => format!("Unexpected number in JSON at position {position}"),
        Some(b) => format!(
            "Unexpected token {} in JSON at position {position}",
            char::from(b)
        ),
        None => "Unexpected end of JSON input".to_owned(),
    }
}

/// Node's `querystring.parse`: `+` is a space, repeated keys collect into an array.
fn parse_form(raw: &[u8]) -> Value {
    let mut map = Map::new();
    for pair in raw.split(|&b| b == b'&').filter(|p| !p.is_empty()) {
        let (key, value) = match pair.iter().position(|&b| b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let (key, value) = (decode(key), Value::String(decode(value)));
        match map.get_mut(&key) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                map.insert(key, value);
            }
        }
    }
    Value::Object(map)
}

fn decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        match raw[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let digit = |at: usize| raw.get(at).copied().and_then(hex);
                match (digit(i + 1), digit(i + 2)) {
                    (Some(high), Some(low)) => {
                        out.push(high * 16 + low);
                        i += 2;
                    }
                    // A malformed escape stays as written.
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(b: u8) -> Option<u8> {
    char::from(b).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(content_type: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        h
    }

    #[test]
    fn json_bodies() {
        let h = headers("application/json; charset=utf-8");
        assert_eq!(parse(&h, br#"{"a": 1}"#), Ok(json!({"a": 1})));
        assert_eq!(parse(&h, b""), Ok(json!({})));
        assert_eq!(
            parse(&h, b"x"),
            Err(BodyError::Syntax(
                "Unexpected token x in JSON at position 0".into()
            ))
        );
        assert_eq!(
            parse(&h, b"\"str\""),
            Err(BodyError::Syntax(
                "Unexpected token \" in JSON at position 0".into()
            ))
        );
        assert_eq!(
            parse(&h, b"{\"a\": 1"),
            Err(BodyError::Syntax("Unexpected end of JSON input".into()))
        );
        assert_eq!(
            parse(&h, b"{\"a\" 1}"),
            Err(BodyError::Syntax(
                "Unexpected number in JSON at position 5".into()
            ))
        );
    }

    #[test]
    fn forms_and_other_types() {
        let h = headers("application/x-www-form-urlencoded");
        assert_eq!(
            parse(&h, b"name=Red+Hat&c=%41&c=b&flag"),
            Ok(json!({"name": "Red Hat", "c": ["A", "b"], "flag": ""}))
        );
        assert_eq!(parse(&headers("text/plain"), b"{\"a\":1}"), Ok(json!({})));
        assert_eq!(parse(&HeaderMap::new(), b"{\"a\":1}"), Ok(json!({})));
        assert_eq!(decode(b"100%"), "100%");
    }
}
