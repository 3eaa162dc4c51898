//! JSON text as the sample apps' own runtimes print it: JavaScript's `JSON.stringify` (catalog is
//! a Node app) and Go's `encoding/json` (webapp, go-httpbin). The layout is the same (`,`/`: `,
//! 2-space indent when pretty); escaping, key order and numbers differ, and a learner diffing our
//! output against the book's sees those differences.

use serde_json::{Map, Number, Value};

/// Whose `JSON` printer to imitate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// `JSON.stringify`: integer-like keys first (JavaScript object order), only `"`, `\` and
    /// control characters escaped.
    Js,
    /// Go's `encoding/json`. Keys are written in the order the `Value` holds them: a Go struct
    /// keeps declaration order, a Go map is sorted (see [`sort_keys`]).
    Go {
        /// `json.Marshal` escapes `<`, `>`, `&`; an `Encoder` with `SetEscapeHTML(false)` doesn't.
        escape_html: bool,
        /// Go 1.22 writes `\b` and `\f`; older Go wrote `\u0008` and `\u000c`.
        short_escapes: bool,
    },
}

/// One line, no spaces (`JSON.stringify(v)`, `json.Marshal(v)`).
pub fn compact(value: &Value, dialect: Dialect) -> String {
    let mut out = String::new();
    write_value(&mut out, value, dialect, None);
    out
}

/// Two-space indent, `": "` after keys, no trailing newline (`JSON.stringify(v, null, 2)`,
/// `json.MarshalIndent(v, "", "  ")`).
pub fn pretty(value: &Value, dialect: Dialect) -> String {
    let mut out = String::new();
    write_value(&mut out, value, dialect, Some(0));
    out
}

/// Sorts every object's keys, deeply: how Go prints a `map[string]…`.
pub fn sort_keys(value: &mut Value) {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = std::mem::take(map).into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, mut v) in entries {
                sort_keys(&mut v);
                map.insert(key, v);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(sort_keys),
        _ => {}
    }
}

/// A JSON number as JavaScript and Go (`float64`) print it: integers up to 2^53 exactly,
/// anything else as the shortest decimal that reads back the same double.
pub fn number(n: &Number) -> String {
    const EXACT: u64 = 1 << 53;
    if let Some(i) = n.as_u64().filter(|i| *i <= EXACT) {
        return i.to_string();
    }
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT) {
        return i.to_string();
    }
    float(n.as_f64().unwrap_or(f64::NAN))
}

/// ECMAScript's `Number.prototype.toString()` (Go's float encoder chooses the same forms):
/// plain decimals for 1e-6 ≤ |x| < 1e21, else `1.5e+21` / `1e-7`. Not finite → `null`, as
/// `JSON.stringify` does.
pub fn float(x: f64) -> String {
    if !x.is_finite() {
        return "null".to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "-1.2345e-7".
    let sci = format!("{:e}", x.abs());
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(|c| *c != '.').collect();
    let k = digits.len() as i32;
    // x = 0.d1d2…dk × 10^n
    let n = exponent.parse::<i32>().unwrap_or(0) + 1;
    let body = if k <= n && n <= 21 {
        format!("{digits}{}", "0".repeat((n - k) as usize))
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        format!("{int}.{frac}")
    } else if -6 < n && n <= 0 {
        format!("0.{}{digits}", "0".repeat((-n) as usize))
    } else {
        let e = n - 1;
        let sign = if e < 0 { '-' } else { '+' };
        let (first, rest) = digits.split_at(1);
        if rest.is_empty() {
            format!("{first}e{sign}{}", e.abs())
        } else {
            format!("{first}.{rest}e{sign}{}", e.abs())
        }
    };
    if x < 0.0 { format!("-{body}") } else { body }
}

fn write_value(out: &mut String, value: &Value, dialect: Dialect, level: Option<usize>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&number_in(n, dialect)),
        Value::String(s) => write_string(out, s, dialect),
        Value::Array(items) => {
            let items: Vec<&Value> = items.iter().collect();
            write_seq(out, ('[', ']'), &items, level, |out, item, level| {
                write_value(out, item, dialect, level);
            });
        }
        Value::Object(map) => {
            let entries = ordered(map, dialect);
            write_seq(out, ('{', '}'), &entries, level, |out, (k, v), level| {
                write_string(out, k, dialect);
                out.push(':');
                if level.is_some() {
                    out.push(' ');
                }
                write_value(out, v, dialect, level);
            });
        }
    }
}

/// Go's typed integers print exactly; everything else follows [`number`].
fn number_in(n: &Number, dialect: Dialect) -> String {
    match dialect {
        Dialect::Go { .. } if n.is_i64() || n.is_u64() => n.to_string(),
        _ => number(n),
    }
}

fn write_seq<T: Copy>(
    out: &mut String,
    (open, close): (char, char),
    items: &[T],
    level: Option<usize>,
    mut write_item: impl FnMut(&mut String, T, Option<usize>),
) {
    out.push(open);
    if items.is_empty() {
        out.push(close);
        return;
    }
    let inner = level.map(|l| l + 1);
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        newline(out, inner);
        write_item(out, *item, inner);
    }
    newline(out, level);
    out.push(close);
}

fn newline(out: &mut String, level: Option<usize>) {
    if let Some(level) = level {
        out.push('\n');
        out.extend(std::iter::repeat_n("  ", level));
    }
}

/// JavaScript objects list array-index keys (`"0"`, `"500"`) first, ascending, then the rest in
/// insertion order; Go output keeps the order given.
fn ordered(map: &Map<String, Value>, dialect: Dialect) -> Vec<(&String, &Value)> {
    let mut entries: Vec<(&String, &Value)> = map.iter().collect();
    if dialect == Dialect::Js {
        // A stable sort: non-index keys all compare equal and keep their order.
        entries.sort_by_key(|(k, _)| array_index(k).map_or((1, 0), |i| (0, i)));
    }
    entries
}

/// `Some(i)` when `key` is a canonical array index (`"0"`, `"42"`, not `"042"` or `"-1"`).
pub fn array_index(key: &str) -> Option<u32> {
    let canonical = !key.is_empty()
        && key.bytes().all(|b| b.is_ascii_digit())
        && (key == "0" || !key.starts_with('0'));
    key.parse::<u32>()
        .ok()
        .filter(|i| canonical && *i < u32::MAX)
}

fn write_string(out: &mut String, s: &str, dialect: Dialect) {
    let (html, short) = match dialect {
        Dialect::Js => (false, true),
        Dialect::Go {
            escape_html,
            short_escapes,
        } => (escape_html, short_escapes),
    };
    let go = matches!(dialect, Dialect::Go { .. });
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' if short => out.push_str("\\b"),
            '\u{c}' if short => out.push_str("\\f"),
            '<' | '>' | '&' if html => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            '\u{2028}' | '\u{2029}' if go => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c if u32::from(c) < 0x20 => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const GO_MARSHAL: Dialect = Dialect::Go {
        escape_html: true,
        short_escapes: false,
    };

    #[test]
    fn js_pretty_matches_json_stringify() {
        let v = json!([{"id": 1, "price": "282.00", "tags": [], "o": {}}]);
        assert_eq!(
            pretty(&v, Dialect::Js),
            "[\n  {\n    \"id\": 1,\n    \"price\": \"282.00\",\n    \"tags\": [],\n    \"o\": {}\n  }\n]"
        );
        assert_eq!(
            compact(&v, Dialect::Js),
            r#"[{"id":1,"price":"282.00","tags":[],"o":{}}]"#
        );
    }

    #[test]
    fn js_puts_index_keys_first() {
        let v = json!({"latency": 1, "500": 2, "b": 3, "7": 4, "07": 5});
        assert_eq!(
            compact(&v, Dialect::Js),
            r#"{"7":4,"500":2,"latency":1,"b":3,"07":5}"#
        );
        // Go keeps the order it is given.
        assert_eq!(
            compact(&v, GO_MARSHAL),
            r#"{"latency":1,"500":2,"b":3,"7":4,"07":5}"#
        );
    }

    #[test]
    fn escaping_per_dialect() {
        let v = json!("<a&b> \u{8}\u{c}\u{1} \u{2028} é \"\\");
        assert_eq!(
            compact(&v, Dialect::Js),
            "\"<a&b> \\b\\f\\u0001 \u{2028} é \\\"\\\\\""
        );
        assert_eq!(
            compact(&v, GO_MARSHAL),
            "\"\\u003ca\\u0026b\\u003e \\u0008\\u000c\\u0001 \\u2028 é \\\"\\\\\""
        );
        let go_122 = Dialect::Go {
            escape_html: false,
            short_escapes: true,
        };
        assert_eq!(
            compact(&v, go_122),
            "\"<a&b> \\b\\f\\u0001 \\u2028 é \\\"\\\\\""
        );
    }

    #[test]
    fn numbers_print_like_javascript() {
        for (x, text) in [
            (1.0, "1"),
            (1.5, "1.5"),
            (-0.25, "-0.25"),
            (1e21, "1e+21"),
            (1.5e21, "1.5e+21"),
            (1e20, "100000000000000000000"),
            (1e-6, "0.000001"),
            (1e-7, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (123.456, "123.456"),
            (0.1 + 0.2, "0.30000000000000004"),
            (f64::NAN, "null"),
        ] {
            assert_eq!(float(x), text, "{x}");
        }
        let big: Number = serde_json::from_str("12345678901234567891").unwrap();
        assert_eq!(number(&big), "12345678901234567000");
        assert_eq!(number(&Number::from(42)), "42");
        let one: Number = serde_json::from_str("1.0").unwrap();
        assert_eq!(number(&one), "1");
        assert_eq!(compact(&json!(1.0), GO_MARSHAL), "1");
        assert_eq!(compact(&json!(7), GO_MARSHAL), "7");
    }

    #[test]
    fn sort_keys_is_deep() {
        let mut v = json!({"b": {"z": 1, "a": 2}, "a": [{"y": 1, "x": 2}]});
        sort_keys(&mut v);
        assert_eq!(
            compact(&v, GO_MARSHAL),
            r#"{"a":[{"x":2,"y":1}],"b":{"a":2,"z":1}}"#
        );
    }

    #[test]
    fn array_index_is_canonical() {
        assert_eq!(array_index("0"), Some(0));
        assert_eq!(array_index("500"), Some(500));
        for no in ["", "05", "-1", "1.0", "4294967295", "a1"] {
            assert_eq!(array_index(no), None, "{no:?}");
        }
    }
}
