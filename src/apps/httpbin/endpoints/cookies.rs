//! `/cookies`, `/cookies/set?k=v`, `/cookies/set/{k}/{v}` and `/cookies/delete?k`, with
//! Werkzeug's `Set-Cookie` formatting.

use http::{HeaderValue, Response, header};
use serde_json::{Map, Value, json};

use super::super::request::Inbound;
use super::super::{Body, reply};

/// `{"cookies": {...}}` from the request's `Cookie` header(s); the first of a repeated name wins.
pub fn show(req: &Inbound) -> Response<Body> {
    let mut cookies = Map::new();
    for value in req.headers.get_all(header::COOKIE) {
        let text = String::from_utf8_lossy(value.as_bytes());
        for (name, value) in parse(&text) {
            cookies.entry(name).or_insert(Value::String(value));
        }
    }
    reply::json(&json!({ "cookies": cookies }))
}

/// Sets every pair, then redirects to `/cookies`.
pub fn set(req: &Inbound, pairs: &[(String, String)]) -> Response<Body> {
    let secure = req.scheme() == "https";
    let lines = pairs.iter().map(|(k, v)| {
        let mut line = format!("{k}={}", quote(v));
        if secure {
            line.push_str("; Secure");
        }
        line.push_str("; Path=/");
        line
    });
    with_cookies(lines.collect())
}

/// Expires every named cookie, then redirects to `/cookies`.
pub fn delete(req: &Inbound) -> Response<Body> {
    let lines = req
        .args
        .iter()
        .map(|(k, _)| format!("{k}=; Expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=0; Path=/"));
    with_cookies(lines.collect())
}

fn with_cookies(lines: Vec<String>) -> Response<Body> {
    let mut response = reply::redirect("/cookies");
    for line in lines {
        match HeaderValue::from_str(&line) {
            Ok(value) => {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
            Err(_) => return reply::internal_error(),
        }
    }
    response
}

/// `a=1; b="x y"` → pairs; quoted values are unquoted, pairs without `=` ignored.
pub fn parse(header: &str) -> Vec<(String, String)> {
    header
        .split(';')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.trim().to_owned(), unquote(v.trim())))
        .filter(|(k, _)| !k.is_empty())
        .collect()
}

fn is_legal(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~:".contains(c)
}

/// Werkzeug's cookie quoting: a value with any other character is wrapped in quotes, with
/// `"` `\` `,` `;` and control characters escaped.
pub fn quote(value: &str) -> String {
    if value.chars().all(is_legal) {
        return value.to_owned();
    }
    let mut out = String::from("\"");
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            ',' => out.push_str("\\054"),
            ';' => out.push_str("\\073"),
            c if u32::from(c) < 32 || u32::from(c) == 127 => {
                out.push_str(&format!("\\{:03o}", u32::from(c)))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn unquote(value: &str) -> String {
    let Some(inner) = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) else {
        return value.to_owned();
    };
    let mut out = String::new();
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let octal: String = std::iter::from_fn(|| chars.next_if(|d| ('0'..='7').contains(d)))
            .take(3)
            .collect();
        match u32::from_str_radix(&octal, 8).ok().and_then(char::from_u32) {
            Some(decoded) if octal.len() == 3 => out.push(decoded),
            _ => {
                out.push_str(&octal);
                if octal.is_empty()
                    && let Some(next) = chars.next()
                {
                    out.push(next);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_round_trips() {
        assert_eq!(quote("abc-1"), "abc-1");
        assert_eq!(quote("a b"), "\"a b\"");
        assert_eq!(quote("a;b,c\"d"), "\"a\\073b\\054c\\\"d\"");
        for v in ["plain", "a b", "x;y,z", "q\"uo\\te"] {
            assert_eq!(unquote(&quote(v)), v);
        }
    }

    #[test]
    fn parses_cookie_header() {
        assert_eq!(
            parse("a=1; b=\"x y\";junk; c="),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "".into())
            ]
        );
    }
}
