//! JSON text exactly as classic httpbin printed it: Python 2's `json.dumps` through Flask's
//! `jsonify` (sorted keys, 2-space indent, `", "` item separator, `ensure_ascii`), so a user who
//! diffs our output against the book's sees the same bytes.

use serde_json::Value;

/// `jsonify`'s pretty form plus the trailing newline httpbin appended.
///
/// The item separator keeps Python 2's `", "` even before a line break, hence the trailing
/// space at the end of every non-final line that httpbin.org is known for.
pub fn pretty(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, Some(0));
    out.push('\n');
    out
}

/// `json.dumps(value)` with default arguments: one line, `", "` and `": "`, keys sorted here
/// (Python 2 dicts had no useful order anyway).
pub fn compact(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, None);
    out
}

fn write_value(out: &mut String, value: &Value, level: Option<usize>) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => out.push_str(&python_number(&n.to_string())),
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            write_seq(out, '[', ']', items.iter(), level, |out, item, level| {
                write_value(out, item, level)
            });
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            write_seq(
                out,
                '{',
                '}',
                entries.into_iter(),
                level,
                |out, (k, v), level| {
                    write_string(out, k);
                    out.push_str(": ");
                    write_value(out, v, level);
                },
            );
        }
    }
}

fn write_seq<T>(
    out: &mut String,
    open: char,
    close: char,
    items: impl ExactSizeIterator<Item = T>,
    level: Option<usize>,
    mut write_item: impl FnMut(&mut String, T, Option<usize>),
) {
    out.push(open);
    if items.len() == 0 {
        out.push(close);
        return;
    }
    let inner = level.map(|l| l + 1);
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        newline(out, inner);
        write_item(out, item, inner);
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

/// Python's `ensure_ascii` escaping: everything outside printable ASCII becomes `\uXXXX`
/// (lower-case hex, surrogate pairs beyond the BMP).
fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
        }
    }
    out.push('"');
}

/// Python writes exponents with a sign (`1e+16`); serde_json writes `1e16`.
fn python_number(text: &str) -> String {
    match text.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') && !exp.starts_with('+') => {
            format!("{mantissa}e+{exp}")
        }
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pretty_sorts_keys_and_keeps_python_separators() {
        let v = json!({"b": [1, 2], "a": {}, "c": {"y": null, "x": true}, "d": []});
        let expected = "{\n  \"a\": {}, \n  \"b\": [\n    1, \n    2\n  ], \n  \"c\": {\n    \"x\": true, \n    \"y\": null\n  }, \n  \"d\": []\n}\n";
        assert_eq!(pretty(&v), expected);
    }

    #[test]
    fn strings_are_ascii_escaped_like_python() {
        let v = json!("é \u{1F600} \"q\" \\ \n \u{7f} /");
        assert_eq!(compact(&v), r#""\u00e9 \ud83d\ude00 \"q\" \\ \n \u007f /""#);
    }

    #[test]
    fn compact_uses_python_default_separators() {
        let v = json!({"b": 1, "a": [1, "x"]});
        assert_eq!(compact(&v), r#"{"a": [1, "x"], "b": 1}"#);
    }

    #[test]
    fn numbers_print_like_python() {
        assert_eq!(compact(&json!(1.5)), "1.5");
        assert_eq!(compact(&json!(-3)), "-3");
        assert_eq!(python_number("1e16"), "1e+16");
        assert_eq!(python_number("1e-7"), "1e-7");
    }

    #[test]
    fn empty_top_level_object() {
        assert_eq!(pretty(&json!({})), "{}\n");
    }
}
