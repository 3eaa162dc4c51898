//! JSON text the way Go prints it: `encoding/json` string escaping (HTML-safe: `<` is
//! `\u003c`) and float formatting, `json.MarshalIndent` layout, and the quirky layout of
//! golang/protobuf's `jsonpb.Marshaler{Indent}` (istioctl's `protomarshal.ToJSONWithIndent`,
//! used for `proxy-config bootstrap` and `secret -o json`), where an empty message prints as
//! `{` newline newline `}` and a `google.protobuf.Struct` is indented two extra levels.

use serde_json::Number;

use super::node::Node;

/// `json.MarshalIndent(v, "", indent)`: one value per line, `"key": value`, `{}`/`[]` when empty.
pub fn marshal_indent(node: &Node, indent: &str) -> String {
    let mut out = String::new();
    go_indent(&mut out, node, 0, indent);
    out
}

/// `jsonpb.Marshaler{Indent: indent}.MarshalToString(msg)` of a message.
pub fn jsonpb_indent(node: &Node, indent: &str) -> String {
    let mut w = Jsonpb {
        out: String::new(),
        indent,
    };
    match node {
        Node::Message(fields) => w.message(fields, 0),
        other => w.singular(other, 0),
    }
    w.out
}

/// Appends `s` as a Go `encoding/json` string literal.
pub fn write_string(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
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
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                let b = c as u32 as usize;
                out.push_str("\\u00");
                out.push(char::from(HEX[b >> 4]));
                out.push(char::from(HEX[b & 0xf]));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON number as Go prints it: integers as digits, floats like `json.Marshal(float64)`.
pub fn format_number(n: &Number) -> String {
    if n.is_f64() {
        n.as_f64().map_or_else(|| n.to_string(), format_float)
    } else {
        n.to_string()
    }
}

/// `json.Marshal(float64)`: shortest digits, `%f` between 1e-6 and 1e21, else `%e` with the
/// exponent's leading zero dropped (`1e-7`, `1e+21`).
pub fn format_float(f: f64) -> String {
    if !f.is_finite() {
        return "null".to_string();
    }
    let abs = f.abs();
    if abs != 0.0 && !(1e-6..1e21).contains(&abs) {
        let (neg, digits, exp) = shortest_digits(f);
        let mut s = format_e(neg, &digits, exp);
        // clean up e-09 to e-9
        let n = s.len();
        if n >= 4 && s.as_bytes()[n - 4..n - 1] == *b"e-0" {
            s.remove(n - 2);
        }
        return s;
    }
    let (neg, digits, exp) = shortest_digits(f);
    format_f(neg, &digits, exp)
}

/// `strconv.FormatFloat(f, 'g', -1, 64)` (how go-yaml prints floats): shortest digits, `%e`
/// when the exponent is below -4 or at least 6 (`1.2345675e+06`, `1e-05`).
pub fn format_float_g(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_string();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_string();
    }
    let (neg, digits, exp) = shortest_digits(f);
    if !(-4..6).contains(&exp) {
        format_e(neg, &digits, exp)
    } else {
        format_f(neg, &digits, exp)
    }
}

/// Shortest round-trip decimal digits of `f` and the decimal exponent of the first digit.
fn shortest_digits(f: f64) -> (bool, String, i32) {
    let s = format!("{:e}", f.abs());
    let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = if digits.is_empty() {
        "0".to_string()
    } else {
        digits
    };
    (
        f.is_sign_negative() && f != 0.0,
        digits,
        exp.parse().unwrap_or(0),
    )
}

fn format_e(neg: bool, digits: &str, exp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    s.push_str(&digits[..1]);
    if digits.len() > 1 {
        s.push('.');
        s.push_str(&digits[1..]);
    }
    s.push('e');
    s.push(if exp < 0 { '-' } else { '+' });
    let e = exp.unsigned_abs();
    if e < 10 {
        s.push('0');
    }
    s.push_str(&e.to_string());
    s
}

fn format_f(neg: bool, digits: &str, exp: i32) -> String {
    let mut s = String::new();
    if neg {
        s.push('-');
    }
    let point = exp + 1; // digits before the decimal point
    if point <= 0 {
        s.push_str("0.");
        for _ in 0..-point {
            s.push('0');
        }
        s.push_str(digits);
    } else {
        let point = point as usize;
        if digits.len() <= point {
            s.push_str(digits);
            for _ in digits.len()..point {
                s.push('0');
            }
        } else {
            s.push_str(&digits[..point]);
            s.push('.');
            s.push_str(&digits[point..]);
        }
    }
    s
}

fn push_indent(out: &mut String, indent: &str, depth: usize) {
    for _ in 0..depth {
        out.push_str(indent);
    }
}

fn scalar(out: &mut String, node: &Node) {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Number(n) => out.push_str(&format_number(n)),
        Node::String(s) => write_string(out, s),
        _ => {}
    }
}

fn go_indent(out: &mut String, node: &Node, depth: usize, indent: &str) {
    match node {
        Node::Message(fields) | Node::Map(fields) | Node::Struct(fields) => {
            if fields.is_empty() {
                out.push_str("{}");
                return;
            }
            out.push('{');
            for (i, (key, value)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                push_indent(out, indent, depth + 1);
                write_string(out, key);
                out.push_str(": ");
                go_indent(out, value, depth + 1, indent);
            }
            out.push('\n');
            push_indent(out, indent, depth);
            out.push('}');
        }
        Node::List(items) | Node::ListValue(items) => {
            if items.is_empty() {
                out.push_str("[]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push('\n');
                push_indent(out, indent, depth + 1);
                go_indent(out, item, depth + 1, indent);
            }
            out.push('\n');
            push_indent(out, indent, depth);
            out.push(']');
        }
        other => scalar(out, other),
    }
}

/// Mirrors jsonpb's `marshalMessage`/`marshalValue`/`marshalSingularValue` recursion, whose
/// `indent` argument is one level short for values wrapped in `google.protobuf.Value`.
struct Jsonpb<'a> {
    out: String,
    indent: &'a str,
}

#[derive(Clone, Copy, PartialEq)]
enum Elem {
    /// Elements are the field's own type.
    Plain,
    /// Elements are `google.protobuf.Value`s (inside a Struct or ListValue).
    Value,
}

impl Jsonpb<'_> {
    fn pad(&mut self, depth: usize) {
        push_indent(&mut self.out, self.indent, depth);
    }

    fn message(&mut self, fields: &[(String, Node)], depth: usize) {
        self.out.push_str("{\n");
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                self.out.push_str(",\n");
            }
            self.pad(depth + 1);
            write_string(&mut self.out, key);
            self.out.push_str(": ");
            self.value(value, depth);
        }
        self.out.push('\n');
        self.pad(depth);
        self.out.push('}');
    }

    /// `marshalValue(fd, v, indent)` for a field of a message at `depth`.
    fn value(&mut self, node: &Node, depth: usize) {
        match node {
            Node::List(items) => self.list(items, depth, Elem::Plain),
            Node::Map(entries) => self.map(entries, depth, Elem::Plain),
            other => self.singular(other, depth),
        }
    }

    /// `marshalSingularValue(fd, v, indent)`.
    fn singular(&mut self, node: &Node, depth: usize) {
        match node {
            Node::Message(fields) => self.message(fields, depth + 1),
            Node::Struct(entries) => self.map(entries, depth + 1, Elem::Value),
            Node::ListValue(items) => self.list(items, depth + 1, Elem::Value),
            Node::List(items) => self.list(items, depth, Elem::Plain),
            Node::Map(entries) => self.map(entries, depth, Elem::Plain),
            other => scalar(&mut self.out, other),
        }
    }

    /// A `google.protobuf.Value` message element.
    fn struct_value(&mut self, node: &Node, depth: usize) {
        match node {
            Node::Struct(entries) => self.map(entries, depth + 2, Elem::Value),
            Node::ListValue(items) => self.list(items, depth + 2, Elem::Value),
            other => self.singular(other, depth + 1),
        }
    }

    fn element(&mut self, node: &Node, depth: usize, elem: Elem) {
        match elem {
            Elem::Plain => self.singular(node, depth),
            Elem::Value => self.struct_value(node, depth),
        }
    }

    fn list(&mut self, items: &[Node], depth: usize, elem: Elem) {
        self.out.push('[');
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push('\n');
            self.pad(depth + 2);
            self.element(item, depth + 1, elem);
        }
        self.out.push('\n');
        self.pad(depth + 1);
        self.out.push(']');
    }

    fn map(&mut self, entries: &[(String, Node)], depth: usize, elem: Elem) {
        self.out.push('{');
        for (i, (key, value)) in entries.iter().enumerate() {
            if i > 0 {
                self.out.push(',');
            }
            self.out.push('\n');
            self.pad(depth + 2);
            write_string(&mut self.out, key);
            self.out.push_str(": ");
            self.element(value, depth + 1, elem);
        }
        self.out.push('\n');
        self.pad(depth + 1);
        self.out.push('}');
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::output::protojson::from_json;

    #[test]
    fn strings_are_escaped_like_encoding_json() {
        let mut out = String::new();
        write_string(&mut out, "a<b>&\"\\\n\t\u{1}\u{8}é\u{2028}");
        assert_eq!(out, r#""a\u003cb\u003e\u0026\"\\\n\t\u0001\bé\u2028""#);
    }

    #[test]
    fn floats_are_formatted_like_go() {
        assert_eq!(format_float(100.0), "100");
        assert_eq!(format_float(0.25), "0.25");
        assert_eq!(format_float(1e21), "1e+21");
        assert_eq!(format_float(1.5e-7), "1.5e-7");
        assert_eq!(format_float(123456789.5), "123456789.5");
        assert_eq!(format_float(-0.001), "-0.001");
        assert_eq!(format_float_g(1234567.5), "1.2345675e+06");
        assert_eq!(format_float_g(123456.5), "123456.5");
        assert_eq!(format_float_g(0.0001), "0.0001");
        assert_eq!(format_float_g(0.00001), "1e-05");
        assert_eq!(format_float_g(0.5), "0.5");
    }

    #[test]
    fn marshal_indent_layout() {
        let node = from_json(&json!({"a": {}, "b": [1, {"c": "d"}], "e": 0.5}));
        assert_eq!(
            marshal_indent(&node, "    "),
            "{\n    \"a\": {},\n    \"b\": [\n        1,\n        {\n            \"c\": \"d\"\n        }\n    ],\n    \"e\": 0.5\n}"
        );
    }

    #[test]
    fn jsonpb_indents_structs_deeper_and_splits_empty_messages() {
        let node = from_json(&json!({"node": {"metadata": {"B": "2", "A": {"x": 1}},
            "http2_protocol_options": {}}}));
        let expected = concat!(
            "{\n",
            "    \"node\": {\n",
            "        \"metadata\": {\n",
            "                \"A\": {\n",
            "                            \"x\": 1\n",
            "                        },\n",
            "                \"B\": \"2\"\n",
            "            },\n",
            "        \"http2ProtocolOptions\": {\n",
            "\n",
            "        }\n",
            "    }\n",
            "}"
        );
        assert_eq!(jsonpb_indent(&node, "    "), expected);
    }
}
