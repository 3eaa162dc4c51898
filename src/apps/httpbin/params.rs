//! Query strings and urlencoded forms as Werkzeug decoded them, and httpbin's "semiflatten":
//! a key seen once maps to a string, a repeated key to the list of its values.

use serde_json::{Map, Value};

/// Ordered `(key, value)` pairs, repeats kept (Werkzeug's `MultiDict`).
pub type Pairs = Vec<(String, String)>;

/// Decodes `a=1&b=x+y&a=%32`: `+` is a space, `%XX` escapes are UTF-8 (invalid bytes become
/// U+FFFD), empty segments are skipped and a bare key gets an empty value.
pub fn parse_urlencoded(raw: &[u8]) -> Pairs {
    raw.split(|&b| b == b'&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (key, value) = match segment.iter().position(|&b| b == b'=') {
                Some(i) => (&segment[..i], &segment[i + 1..]),
                None => (segment, &b""[..]),
            };
            (form_decode(key), form_decode(value))
        })
        .collect()
}

fn form_decode(raw: &[u8]) -> String {
    let plus_as_space: Vec<u8> = raw
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    percent_decode(&plus_as_space)
}

/// `%XX` → byte (malformed escapes stay as written), then lossy UTF-8.
pub fn percent_decode(raw: &[u8]) -> String {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'%'
            && let Some(byte) = raw.get(i + 1..i + 3).and_then(hex_byte)
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(raw[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_byte(two: &[u8]) -> Option<u8> {
    let text = std::str::from_utf8(two).ok()?;
    u8::from_str_radix(text, 16).ok()
}

/// httpbin's `semiflatten`: one value → a string, several → a list, in first-seen key order.
pub fn semiflatten(pairs: &[(String, String)]) -> Value {
    semiflatten_values(
        pairs
            .iter()
            .map(|(k, v)| (k.clone(), Value::from(v.as_str()))),
    )
}

/// [`semiflatten`] for values that are already JSON (uploaded files).
pub fn semiflatten_values(pairs: impl IntoIterator<Item = (String, Value)>) -> Value {
    let mut map: Map<String, Value> = Map::new();
    for (key, value) in pairs {
        match map.get_mut(&key) {
            None => {
                map.insert(key, value);
            }
            Some(Value::Array(list)) => list.push(value),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, value]);
            }
        }
    }
    Value::Object(map)
}

/// The first value of `key`, as Werkzeug's `args.get` returns it.
pub fn first<'a>(pairs: &'a [(String, String)], key: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pairs(raw: &str) -> Pairs {
        parse_urlencoded(raw.as_bytes())
    }

    #[test]
    fn decodes_plus_percent_and_bare_keys() {
        assert_eq!(
            pairs("a=x+y&b=%41%zz&&c&d="),
            vec![
                ("a".into(), "x y".into()),
                ("b".into(), "A%zz".into()),
                ("c".into(), "".into()),
                ("d".into(), "".into()),
            ]
        );
    }

    #[test]
    fn invalid_utf8_is_replaced() {
        assert_eq!(pairs("k=%ff"), vec![("k".into(), "\u{fffd}".into())]);
    }

    #[test]
    fn repeated_keys_become_lists() {
        assert_eq!(
            semiflatten(&pairs("a=1&b=2&a=3&a=4")),
            json!({"a": ["1", "3", "4"], "b": "2"})
        );
        assert_eq!(semiflatten(&[]), json!({}));
    }

    #[test]
    fn first_value_wins() {
        assert_eq!(first(&pairs("u=1&u=2"), "u"), Some("1"));
        assert_eq!(first(&pairs("u=1"), "x"), None);
    }
}
