//! `/response-headers?k=v`: each query pair becomes a response header, and the body lists the
//! response's headers (Content-Type and Content-Length included) as httpbin did.

use http::{HeaderName, HeaderValue, Response, StatusCode, header};
use serde_json::{Map, Value};

use super::super::request::Inbound;
use super::super::{Body, pyjson, reply};

pub fn response_headers(req: &Inbound) -> Response<Body> {
    let mut extra = Vec::with_capacity(req.args.len());
    for (name, value) in &req.args {
        match (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            (Ok(n), Ok(v)) => extra.push((n, v)),
            // gunicorn refused to send such headers.
            _ => return reply::internal_error(),
        }
    }
    let body = render(&req.args);
    let mut response = reply::with_body(StatusCode::OK, Some(reply::JSON), body);
    for (name, value) in extra {
        // Framing stays ours: a client-chosen length would corrupt the response.
        if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
            continue;
        }
        response.headers_mut().append(name, value);
    }
    response
}

/// The JSON body, whose own `Content-Length` entry must match its length: re-render until the
/// number stops changing (httpbin's loop).
pub fn render(args: &[(String, String)]) -> String {
    let mut length = 0;
    loop {
        let mut headers = vec![
            ("Content-Type".to_owned(), reply::JSON.to_owned()),
            ("Content-Length".to_owned(), length.to_string()),
        ];
        headers.extend(args.iter().cloned());
        let body = pyjson::pretty(&Value::Object(group(&headers)));
        if body.len() == length {
            return body;
        }
        length = body.len();
    }
}

/// Werkzeug `Headers`: each spelling is a key whose value is every header matching it
/// case-insensitively (one → string, several → list).
fn group(headers: &[(String, String)]) -> Map<String, Value> {
    let mut map = Map::new();
    for (name, _) in headers {
        if map.contains_key(name) {
            continue;
        }
        let mut values: Vec<Value> = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| Value::String(v.clone()))
            .collect();
        let value = if values.len() == 1 {
            values.remove(0)
        } else {
            Value::Array(values)
        };
        map.insert(name.clone(), value);
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_lists_its_own_length() {
        let args = vec![("X-Test".to_owned(), "1".to_owned())];
        let body = render(&args);
        let v: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(v["Content-Length"], Value::String(body.len().to_string()));
        assert_eq!(v["Content-Type"], "application/json");
        assert_eq!(v["X-Test"], "1");
    }

    #[test]
    fn repeated_names_become_lists() {
        let args = vec![
            ("k".to_owned(), "1".to_owned()),
            ("k".to_owned(), "2".to_owned()),
        ];
        let v: Value = serde_json::from_str(&render(&args)).unwrap();
        assert_eq!(v["k"], serde_json::json!(["1", "2"]));
    }
}
