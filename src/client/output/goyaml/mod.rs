//! `sigs.k8s.io/yaml.JSONToYAML` (go-yaml v2 underneath), which istioctl and kubectl use for
//! `-o yaml`: mapping keys sorted in go-yaml's "natural" order (`a2` before `a10`), strings
//! that would read back as numbers, booleans, nulls or timestamps double-quoted, indicators
//! single-quoted (`'*'`, `'@type'`), multi-line strings as `|` blocks, long lines folded at
//! 80 columns, sequences under a key not indented.

mod emitter;
mod resolve;

use serde_json::Number;

use super::gojson;
use super::gosort::sort_slice;
use super::node::Node;
use emitter::{Style, Yaml};

/// The YAML go-yaml prints for this JSON value (ends with a newline).
pub fn json_to_yaml(node: &Node) -> String {
    emitter::emit(&to_yaml(node))
}

fn to_yaml(node: &Node) -> Yaml {
    match node {
        Node::Null => Yaml::Scalar("null".to_string(), Style::Plain),
        Node::Bool(b) => Yaml::Scalar(b.to_string(), Style::Plain),
        Node::Number(n) => Yaml::Scalar(number(n), Style::Plain),
        Node::String(s) => string(s),
        Node::Message(entries) | Node::Map(entries) | Node::Struct(entries) => {
            let mut sorted: Vec<&(String, Node)> = entries.iter().collect();
            sort_slice(&mut sorted, |a, b| key_less(&a.0, &b.0));
            Yaml::Map(
                sorted
                    .iter()
                    .map(|(k, v)| (string(k), to_yaml(v)))
                    .collect(),
            )
        }
        Node::List(items) | Node::ListValue(items) => {
            Yaml::Seq(items.iter().map(to_yaml).collect())
        }
    }
}

/// go-yaml's `stringv`: literal block for multi-line text, plain when the text would read
/// back as a string, double-quoted otherwise.
fn string(s: &str) -> Yaml {
    let style = if s.contains('\n') {
        Style::Literal
    } else if resolve::plain_is_string(s) {
        Style::Plain
    } else {
        Style::DoubleQuoted
    };
    Yaml::Scalar(s.to_string(), style)
}

/// A JSON number as go-yaml re-reads and prints it: integers as integers, the rest through
/// `strconv.FormatFloat(f, 'g', -1, 64)`.
fn number(n: &Number) -> String {
    let text = gojson::format_number(n);
    if let Ok(i) = text.parse::<i64>() {
        return i.to_string();
    }
    if let Ok(u) = text.parse::<u64>() {
        return u.to_string();
    }
    match text.parse::<f64>() {
        Ok(f) if f.is_nan() => ".nan".to_string(),
        Ok(f) if f.is_infinite() => if f > 0.0 { ".inf" } else { "-.inf" }.to_string(),
        Ok(f) => gojson::format_float_g(f),
        Err(_) => text,
    }
}

/// go-yaml's `keyList.Less` for string keys: letters compare as characters, letters sort
/// after non-letters, and runs of digits compare as numbers.
fn key_less(a: &str, b: &str) -> bool {
    let ar: Vec<char> = a.chars().collect();
    let br: Vec<char> = b.chars().collect();
    let is_letter = |c: char| c.is_alphabetic();
    let is_digit = |c: char| c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric());
    let digit = |c: char| i64::from(u32::from(c).wrapping_sub(u32::from('0')) as i32);
    for i in 0..ar.len().min(br.len()) {
        if ar[i] == br[i] {
            continue;
        }
        let (al, bl) = (is_letter(ar[i]), is_letter(br[i]));
        if al && bl {
            return ar[i] < br[i];
        }
        if al || bl {
            return bl;
        }
        let (mut an, mut bn) = (0i64, 0i64);
        if ar[i] == '0' || br[i] == '0' {
            for j in (0..i).rev() {
                if !is_digit(ar[j]) {
                    break;
                }
                if ar[j] != '0' {
                    an = 1;
                    bn = 1;
                    break;
                }
            }
        }
        let mut ai = i;
        while ai < ar.len() && is_digit(ar[ai]) {
            an = an.wrapping_mul(10).wrapping_add(digit(ar[ai]));
            ai += 1;
        }
        let mut bi = i;
        while bi < br.len() && is_digit(br[bi]) {
            bn = bn.wrapping_mul(10).wrapping_add(digit(br[bi]));
            bi += 1;
        }
        if an != bn {
            return an < bn;
        }
        if ai != bi {
            return ai < bi;
        }
        return ar[i] < br[i];
    }
    ar.len() < br.len()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::output::protojson::{from_json, from_raw_json};

    fn yaml(value: serde_json::Value) -> String {
        json_to_yaml(&from_raw_json(&value))
    }

    #[test]
    fn keys_sort_naturally() {
        assert!(key_less("a2", "a10"));
        assert!(key_less("a", "b"));
        assert!(key_less("1", "a"));
        assert!(key_less("@type", "address"));
        assert!(key_less("Z", "a"));
        assert!(key_less("port", "portValue"));
        let mut keys = vec!["b", "a10", "a2", "@type", "A"];
        sort_slice(&mut keys, |a, b| key_less(a, b));
        assert_eq!(keys, ["@type", "A", "a2", "a10", "b"]);
    }

    #[test]
    fn block_layout_like_kubectl() {
        let out = yaml(
            json!([{"name": "http.8080", "virtualHosts": [{"domains": ["*"],
            "name": "blackhole:80"}], "validateClusters": false, "maxDirectResponseBodySizeBytes": 1048576,
            "empty": {}, "none": [], "nested": [[1, 2], {"a": null}]}]),
        );
        assert_eq!(
            out,
            "- empty: {}\n  maxDirectResponseBodySizeBytes: 1048576\n  name: http.8080\n  nested:\n  - - 1\n    - 2\n  - a: null\n  none: []\n  validateClusters: false\n  virtualHosts:\n  - domains:\n    - '*'\n    name: blackhole:80\n"
        );
    }

    #[test]
    fn scalars_are_quoted_when_needed() {
        let out = yaml(
            json!({"a": "5", "b": "", "c": "@x", "d": "true", "e": "0s", "f": "- x",
            "g": "it's: here", "h": "2023-05-16T01:32:52Z", "i": 0.25, "j": "tab\there", "k": " lead"}),
        );
        assert_eq!(
            out,
            "a: \"5\"\nb: \"\"\nc: '@x'\nd: \"true\"\ne: 0s\nf: '- x'\ng: 'it''s: here'\nh: \"2023-05-16T01:32:52Z\"\ni: 0.25\nj: \"tab\\there\"\nk: ' lead'\n"
        );
    }

    #[test]
    fn multi_line_strings_are_literal_blocks() {
        assert_eq!(yaml(json!({"a": "x\ny\n"})), "a: |\n  x\n  y\n");
        assert_eq!(yaml(json!({"a": "x\ny"})), "a: |-\n  x\n  y\n");
        assert_eq!(yaml(json!({"a": ["x\n\n"]})), "a:\n- |+\n  x\n\n");
    }

    #[test]
    fn long_strings_fold_at_80_columns() {
        let words = "word ".repeat(20);
        let out = yaml(json!({"key": words.trim_end()}));
        assert_eq!(
            out,
            "key: word word word word word word word word word word word word word word word word\n  word word word word\n"
        );
    }

    #[test]
    fn protojson_numbers_and_camel_keys() {
        let out = json_to_yaml(&from_json(
            &json!({"port_value": 8080, "weight": 1.5, "big": 1234567.5}),
        ));
        assert_eq!(out, "big: 1.2345675e+06\nportValue: 8080\nweight: 1.5\n");
    }
}
