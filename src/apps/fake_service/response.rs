//! fake-service's reply, `response.Response` of v0.14.1, written as its `ToJSON` writes it:
//! `json.Encoder` with `SetIndent("", "  ")` (HTML escaping on, Go 1.12's `\u0008` style)
//! and a trailing newline. Field order is the struct's; every field but `code` is
//! `omitempty`. `body` is a `json.RawMessage`: kept byte for byte, only compacted,
//! HTML-escaped and re-indented, so `MESSAGE='{"b": 2.50}'` comes back as `2.50`.
//! Upstream replies are read back into the same struct (`FromJSON`), unknown fields dropped.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::apps::jsontext::{self, Dialect};

/// `json.Marshal` as Go 1.12 builds it (fake-service v0.14.1 is built with Go 1.12).
const GO: Dialect = Dialect::Go {
    escape_html: true,
    short_escapes: false,
};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Response {
    pub name: String,
    pub uri: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub ip_addresses: Vec<String>,
    pub start_time: String,
    pub end_time: String,
    pub duration: String,
    pub headers: BTreeMap<String, String>,
    pub cookies: BTreeMap<String, String>,
    #[serde(deserialize_with = "raw")]
    pub body: Option<Box<RawValue>>,
    pub upstream_calls: Vec<Response>,
    pub code: i64,
    pub error: String,
}

/// A `RawMessage` keeps a JSON `null` as the text `null` (serde's `Option` would drop it).
fn raw<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Box<RawValue>>, D::Error> {
    Box::<RawValue>::deserialize(d).map(Some)
}

/// A `RawMessage` the encoder refuses (`MESSAGE` that is not valid JSON once quoted): Go's
/// `ToJSON` panics, and net/http drops the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("json: error calling MarshalJSON for type json.RawMessage: {0}")]
pub struct InvalidBody(pub String);

impl Response {
    /// `body` from `MESSAGE`: raw JSON when it starts with `{`, else the text between quotes,
    /// unescaped (`fmt.Sprintf(`"%s"`, message)`) — so a `"` inside breaks it, as in Go.
    pub fn set_body(&mut self, message: &str) -> Result<(), InvalidBody> {
        let raw = if message.starts_with('{') {
            message.to_owned()
        } else {
            format!("\"{message}\"")
        };
        let value = RawValue::from_string(raw).map_err(|e| InvalidBody(e.to_string()))?;
        self.body = Some(value);
        Ok(())
    }

    /// `FromJSON`: the reply of an upstream, or `None` when it is not a JSON object of this
    /// shape (an Envoy error page, a JSON array…).
    pub fn from_json(bytes: &[u8]) -> Option<Response> {
        serde_json::from_slice(bytes).ok()
    }

    /// `ToJSON`: indented JSON plus a newline.
    pub fn to_json(&self) -> String {
        let mut compact = String::new();
        self.write_compact(&mut compact);
        let mut out = indent(&compact);
        out.push('\n');
        out
    }

    /// `json.Marshal`: one line, fields in struct order, empty ones left out.
    fn write_compact(&self, out: &mut String) {
        let mut fields: Vec<(&str, String)> = Vec::new();
        let string = |s: &str| jsontext::compact(&serde_json::Value::String(s.to_owned()), GO);
        for (key, value) in [
            ("name", &self.name),
            ("uri", &self.uri),
            ("type", &self.kind),
        ] {
            if !value.is_empty() {
                fields.push((key, string(value)));
            }
        }
        if !self.ip_addresses.is_empty() {
            let items: Vec<String> = self.ip_addresses.iter().map(|ip| string(ip)).collect();
            fields.push(("ip_addresses", format!("[{}]", items.join(","))));
        }
        for (key, value) in [
            ("start_time", &self.start_time),
            ("end_time", &self.end_time),
            ("duration", &self.duration),
        ] {
            if !value.is_empty() {
                fields.push((key, string(value)));
            }
        }
        for (key, map) in [("headers", &self.headers), ("cookies", &self.cookies)] {
            if !map.is_empty() {
                // A Go map: keys sorted, which the BTreeMap already is.
                let entries: Vec<String> = map
                    .iter()
                    .map(|(k, v)| format!("{}:{}", string(k), string(v)))
                    .collect();
                fields.push((key, format!("{{{}}}", entries.join(","))));
            }
        }
        if let Some(body) = &self.body {
            fields.push(("body", compact_raw(body.get())));
        }
        if !self.upstream_calls.is_empty() {
            let mut calls = Vec::new();
            for call in &self.upstream_calls {
                let mut text = String::new();
                call.write_compact(&mut text);
                calls.push(text);
            }
            fields.push(("upstream_calls", format!("[{}]", calls.join(","))));
        }
        fields.push(("code", self.code.to_string()));
        if !self.error.is_empty() {
            fields.push(("error", string(&self.error)));
        }
        out.push('{');
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(&format!("\"{key}\":{value}"));
        }
        out.push('}');
    }
}

/// Go's `compact` of a valid `RawMessage`: whitespace outside strings removed, `<`, `>`, `&`,
/// U+2028 and U+2029 escaped, everything else kept verbatim.
fn compact_raw(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string {
            match c {
                _ if escaped => {
                    escaped = false;
                    out.push(c);
                }
                '\\' => {
                    escaped = true;
                    out.push(c);
                }
                '"' => {
                    in_string = false;
                    out.push(c);
                }
                '<' | '>' | '&' | '\u{2028}' | '\u{2029}' => {
                    out.push_str(&format!("\\u{:04x}", u32::from(c)));
                }
                c => out.push(c),
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            out.push(c);
        }
    }
    out
}

/// Go's `json.Indent(dst, compact, "", "  ")`: a newline and indent after `{`, `[` and `,`,
/// `": "` after keys, and `{}`/`[]` for empty ones. Bytes inside strings pass untouched.
fn indent(compact: &str) -> String {
    let mut out = String::with_capacity(compact.len() * 2);
    let (mut depth, mut need_indent) = (0usize, false);
    let (mut in_string, mut escaped) = (false, false);
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", depth));
    };
    for c in compact.chars() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if need_indent && c != '}' && c != ']' {
            need_indent = false;
            depth += 1;
            newline(&mut out, depth);
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                need_indent = true;
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            '}' | ']' => {
                if need_indent {
                    need_indent = false;
                } else {
                    depth = depth.saturating_sub(1);
                    newline(&mut out, depth);
                }
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn simple() -> Response {
        let mut r = Response {
            name: "simple-tls-service-1".into(),
            uri: "/".into(),
            kind: "HTTP".into(),
            ip_addresses: vec!["10.1.0.63".into()],
            start_time: "2020-09-03T20:13:04.659495".into(),
            end_time: "2020-09-03T20:13:04.659593".into(),
            duration: "98.4µs".into(),
            code: 200,
            ..Response::default()
        };
        r.set_body("Hello from simple-tls-service-1!!!").unwrap();
        r
    }

    #[test]
    fn writes_v0_14_1s_shape() {
        assert_eq!(
            simple().to_json(),
            r#"{
  "name": "simple-tls-service-1",
  "uri": "/",
  "type": "HTTP",
  "ip_addresses": [
    "10.1.0.63"
  ],
  "start_time": "2020-09-03T20:13:04.659495",
  "end_time": "2020-09-03T20:13:04.659593",
  "duration": "98.4µs",
  "body": "Hello from simple-tls-service-1!!!",
  "code": 200
}
"#
        );
    }

    #[test]
    fn upstream_calls_nest_with_headers_sorted() {
        let mut upstream = Response {
            uri: "http://api:9090".into(),
            code: 200,
            ..Response::default()
        };
        upstream
            .headers
            .insert("Date".into(), "Thu, 03 Sep 2020 20:13:04 GMT".into());
        upstream
            .headers
            .insert("Content-Type".into(), "text/plain; charset=utf-8".into());
        let mut r = simple();
        r.upstream_calls.push(upstream);
        let text = r.to_json();
        assert!(
            text.contains(
                "  \"body\": \"Hello from simple-tls-service-1!!!\",\n  \"upstream_calls\": [\n    {\n      \"uri\": \"http://api:9090\",\n      \"headers\": {\n        \"Content-Type\": \"text/plain; charset=utf-8\",\n        \"Date\": \"Thu, 03 Sep 2020 20:13:04 GMT\"\n      },\n      \"code\": 200\n    }\n  ],\n  \"code\": 200\n}\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn raw_bodies_keep_their_bytes_and_escape_html() {
        let mut r = Response::default();
        r.set_body(r#"{ "b": 2.50, "a": [ ], "html": "<b>&</b>" }"#)
            .unwrap();
        assert_eq!(
            r.to_json(),
            "{\n  \"body\": {\n    \"b\": 2.50,\n    \"a\": [],\n    \"html\": \"\\u003cb\\u003e\\u0026\\u003c/b\\u003e\"\n  },\n  \"code\": 0\n}\n"
        );
        assert!(r.set_body("say \"hi\"").is_err());
        assert!(r.set_body("{not json").is_err());
    }

    #[test]
    fn reads_upstream_replies_back() {
        let text = simple().to_json();
        let back = Response::from_json(text.as_bytes()).unwrap();
        assert_eq!(back.to_json(), text);
        let odd = Response::from_json(br#"{"code": 503, "body": null, "extra": 1}"#).unwrap();
        assert_eq!(odd.to_json(), "{\n  \"body\": null,\n  \"code\": 503\n}\n");
        assert!(Response::from_json(b"[1, 2]").is_none());
        assert!(Response::from_json(b"no healthy upstream").is_none());
    }

    #[test]
    fn strings_escape_like_go_1_12() {
        let r = Response {
            error: "a<b \u{8} \"q\"".into(),
            ..Response::default()
        };
        assert_eq!(
            r.to_json(),
            "{\n  \"code\": 0,\n  \"error\": \"a\\u003cb \\u0008 \\\"q\\\"\"\n}\n"
        );
    }
}
