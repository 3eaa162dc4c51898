//! The JavaScript coercions catalog's `server.js` leans on (`value.active == true`,
//! `value.percentage || 100`, `element.id == req.params.id`, `"…" + value`), so a fault body a
//! learner posts behaves exactly as it would against the real Node app. `None` is `undefined`.

use serde_json::Value;

use crate::apps::jsontext;

/// JavaScript truthiness: `undefined`, `null`, `false`, `0`, `NaN` and `""` are false.
pub fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_f64().is_some_and(|x| x != 0.0),
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Array(_) | Value::Object(_)) => true,
    }
}

/// `Number(value)`.
pub fn to_number(value: Option<&Value>) -> f64 {
    match value {
        None => f64::NAN,
        Some(Value::Null) => 0.0,
        Some(Value::Bool(b)) => f64::from(u8::from(*b)),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(f64::NAN),
        Some(Value::String(s)) => string_to_number(s),
        Some(array @ Value::Array(_)) => string_to_number(&to_string(Some(array))),
        Some(Value::Object(_)) => f64::NAN,
    }
}

/// `String(value)`, as string concatenation uses it.
pub fn to_string(value: Option<&Value>) -> String {
    match value {
        None => "undefined".to_owned(),
        Some(Value::Null) => "null".to_owned(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => jsontext::number(n),
        Some(Value::String(s)) => s.clone(),
        // `[1, null, "a"]` → "1,,a"
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| match item {
                Value::Null => String::new(),
                other => to_string(Some(other)),
            })
            .collect::<Vec<_>>()
            .join(","),
        Some(Value::Object(_)) => "[object Object]".to_owned(),
    }
}

/// A JavaScript number as `String(n)` prints it (`NaN`, `Infinity` included).
pub fn number_to_string(x: f64) -> String {
    if x.is_nan() {
        "NaN".to_owned()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else {
        jsontext::float(x)
    }
}

/// `value == true`: only values whose number is 1 (`true`, `1`, `"1"`, `[1]`).
pub fn loosely_true(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) => false,
        other => to_number(other) == 1.0,
    }
}

/// `value == text` for a string literal on the right (`value.type == "500"`).
pub fn loosely_equals_str(value: Option<&Value>, text: &str) -> bool {
    match value {
        None | Some(Value::Null | Value::Object(_)) => false,
        Some(Value::String(s)) => s == text,
        Some(array @ Value::Array(_)) => to_string(Some(array)) == text,
        // Number or boolean against a string: both become numbers.
        other => to_number(other) == string_to_number(text),
    }
}

/// `Number("…")`: trimmed; empty is 0; decimal, `0x`/`0o`/`0b` integers and `Infinity`; else NaN.
pub fn string_to_number(text: &str) -> f64 {
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\u{feff}');
    if t.is_empty() {
        return 0.0;
    }
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = t
            .get(..2)
            .filter(|p| p.eq_ignore_ascii_case(prefix))
            .and_then(|_| t.get(2..))
        {
            return u128::from_str_radix(digits, radix).map_or(f64::NAN, |n| n as f64);
        }
    }
    let unsigned = t.strip_prefix(['+', '-']).unwrap_or(t);
    if unsigned == "Infinity" {
        return if t.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        };
    }
    // Rust's parser also takes "inf" and "nan"; JavaScript only digits, `.` and exponents.
    let decimal = unsigned
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'));
    if !decimal || !unsigned.bytes().any(|b| b.is_ascii_digit()) {
        return f64::NAN;
    }
    t.parse::<f64>().unwrap_or(f64::NAN)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn truthiness() {
        for falsy in [json!(null), json!(false), json!(0), json!(""), json!(0.0)] {
            assert!(!truthy(Some(&falsy)), "{falsy}");
        }
        assert!(!truthy(None));
        for yes in [
            json!(true),
            json!(1),
            json!("0"),
            json!("false"),
            json!([]),
            json!({}),
        ] {
            assert!(truthy(Some(&yes)), "{yes}");
        }
    }

    #[test]
    fn numbers_from_strings() {
        assert_eq!(string_to_number(" 12 "), 12.0);
        assert_eq!(string_to_number(""), 0.0);
        assert_eq!(string_to_number("0x1f"), 31.0);
        assert_eq!(string_to_number("1e2"), 100.0);
        assert_eq!(string_to_number("-Infinity"), f64::NEG_INFINITY);
        for nan in ["abc", "1a", "inf", "NaN", "1_0", ".", "--1"] {
            assert!(string_to_number(nan).is_nan(), "{nan:?}");
        }
    }

    #[test]
    fn loose_equality() {
        assert!(loosely_true(Some(&json!(true))));
        assert!(loosely_true(Some(&json!("1"))));
        assert!(loosely_true(Some(&json!([1]))));
        assert!(!loosely_true(Some(&json!("true"))));
        assert!(!loosely_true(Some(&json!(2))));
        assert!(!loosely_true(None));
        assert!(loosely_equals_str(Some(&json!(500)), "500"));
        assert!(loosely_equals_str(Some(&json!("500")), "500"));
        assert!(!loosely_equals_str(Some(&json!("0500")), "500"));
        assert!(!loosely_equals_str(Some(&json!("latency")), "drop"));
    }

    #[test]
    fn concatenation_strings() {
        assert_eq!(to_string(None), "undefined");
        assert_eq!(to_string(Some(&json!({"a": 1}))), "[object Object]");
        assert_eq!(to_string(Some(&json!([1, null, "a"]))), "1,,a");
        assert_eq!(to_string(Some(&json!(50.0))), "50");
        assert_eq!(number_to_string(f64::NAN), "NaN");
    }
}
