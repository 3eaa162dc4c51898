//! A YAML/JSON document as a tree that remembers where every node came from, so errors found
//! while decoding typed config can point at `file:line:column`. Also Envoy's merge of
//! `--config-yaml` over `--config-path` (protobuf `MergeFrom`: messages merge, lists append,
//! scalars overwrite).

use std::fmt;
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

use super::error::ConfigError;

/// Where a node starts: the source's name (a file path, or `--config-yaml`), 1-based line and column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loc {
    pub source: Arc<str>,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Loc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.source, self.line, self.column)
    }
}

#[derive(Debug, Clone)]
pub enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys keep their own location (for "unknown field" errors) and their order.
    Map(Vec<(String, Loc, Node)>),
}

#[derive(Debug, Clone)]
pub struct Node {
    pub loc: Loc,
    pub tree: Tree,
}

/// Parses YAML (JSON is YAML too) into a located tree. An empty document is an empty map.
pub fn parse(source_name: &str, text: &str) -> Result<Node, ConfigError> {
    let source: Arc<str> = Arc::from(source_name);
    if text.trim().is_empty() {
        return Ok(Node {
            loc: Loc {
                source,
                line: 1,
                column: 1,
            },
            tree: Tree::Map(Vec::new()),
        });
    }
    let raw: Spanned<Raw> = serde_saphyr::from_str(text).map_err(|err| {
        let (line, column) = err
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((1, 1));
        ConfigError::Syntax {
            loc: Loc {
                source: source.clone(),
                line,
                column,
            },
            reason: first_line(&err.to_string()),
        }
    })?;
    Ok(from_raw(raw, &source))
}

fn first_line(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message);
    // serde-saphyr prefixes "error: line L column C: "; we print our own location.
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest.to_owned(),
        _ => line.to_owned(),
    }
}

fn loc_of<T>(s: &Spanned<T>, source: &Arc<str>) -> Loc {
    Loc {
        source: source.clone(),
        line: s.referenced.line() as usize,
        column: s.referenced.column() as usize,
    }
}

fn from_raw(raw: Spanned<Raw>, source: &Arc<str>) -> Node {
    let loc = loc_of(&raw, source);
    let tree = match raw.value {
        Raw::Null => Tree::Null,
        Raw::Bool(b) => Tree::Bool(b),
        Raw::Int(i) => Tree::Int(i),
        Raw::UInt(u) => Tree::UInt(u),
        Raw::Float(f) => Tree::Float(f),
        Raw::Str(s) => Tree::Str(s),
        Raw::Seq(items) => Tree::Seq(items.into_iter().map(|n| from_raw(n, source)).collect()),
        Raw::Map(entries) => Tree::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let kloc = loc_of(&k, source);
                    (k.value, kloc, from_raw(v, source))
                })
                .collect(),
        ),
    };
    Node { loc, tree }
}

impl Node {
    /// Envoy's `MergeFrom`: maps merge key by key, sequences append, anything else replaces.
    pub fn merge(&mut self, over: Node) {
        match (&mut self.tree, over.tree) {
            (Tree::Map(mine), Tree::Map(theirs)) => {
                for (key, kloc, value) in theirs {
                    match mine.iter_mut().find(|(k, _, _)| *k == key) {
                        Some((_, _, existing)) => existing.merge(value),
                        None => mine.push((key, kloc, value)),
                    }
                }
            }
            (Tree::Seq(mine), Tree::Seq(theirs)) => mine.extend(theirs),
            (_, tree) => {
                self.tree = tree;
                self.loc = over.loc;
            }
        }
    }

    pub fn to_json(&self) -> Value {
        match &self.tree {
            Tree::Null => Value::Null,
            Tree::Bool(b) => Value::Bool(*b),
            Tree::Int(i) => Value::from(*i),
            Tree::UInt(u) => Value::from(*u),
            Tree::Float(f) => serde_json::Number::from_f64(*f)
                .map(Value::Number)
                .unwrap_or(Value::Null),
            Tree::Str(s) => Value::String(s.clone()),
            Tree::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Tree::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, _, v)| (k.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }

    /// Follows a path of map keys and list indexes to a node's location. With `at_key`, a path
    /// ending in a map key points at the key itself (where an unknown field was typed).
    pub fn locate(&self, path: &[PathSeg], at_key: bool) -> Loc {
        let mut node = self;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            node = match (seg, &node.tree) {
                (PathSeg::Key(key), Tree::Map(entries)) => {
                    match entries.iter().find(|(k, _, _)| k == key) {
                        Some((_, kloc, _)) if last && at_key => return kloc.clone(),
                        Some((_, _, value)) => value,
                        None => return node.loc.clone(),
                    }
                }
                (PathSeg::Index(i), Tree::Seq(items)) => match items.get(*i) {
                    Some(item) => item,
                    None => return node.loc.clone(),
                },
                _ => return node.loc.clone(),
            };
        }
        node.loc.clone()
    }

    /// Rewrites lowerCamelCase keys to snake_case, as protobuf's JSON parser accepts both,
    /// except below keys whose values are free-form maps (metadata, Struct, per-filter configs).
    pub fn normalize_keys(&mut self) {
        match &mut self.tree {
            Tree::Map(entries) => {
                for (key, _, value) in entries.iter_mut() {
                    if is_camel(key) {
                        *key = camel_to_snake(key);
                    }
                    if key == "transport_socket_matches" {
                        value.normalize_socket_matches();
                    } else if !FREE_FORM_KEYS.contains(&key.as_str()) {
                        value.normalize_keys();
                    }
                }
            }
            Tree::Seq(items) => items.iter_mut().for_each(Node::normalize_keys),
            _ => {}
        }
    }
}

impl Node {
    /// A cluster's `transport_socket_matches[].match` is a Struct compared with endpoint
    /// metadata (Istio's `tlsMode`), so its keys keep their case; the rest is config.
    fn normalize_socket_matches(&mut self) {
        let Tree::Seq(items) = &mut self.tree else {
            return self.normalize_keys();
        };
        for item in items {
            let Tree::Map(entries) = &mut item.tree else {
                item.normalize_keys();
                continue;
            };
            for (key, _, value) in entries.iter_mut() {
                if is_camel(key) {
                    *key = camel_to_snake(key);
                }
                if key != "match" {
                    value.normalize_keys();
                }
            }
        }
    }
}

/// Fields whose values are maps keyed by user data, or `google.protobuf.Struct`s.
const FREE_FORM_KEYS: &[&str] = &[
    "metadata",
    "filter_metadata",
    "typed_filter_metadata",
    "typed_per_filter_config",
    "typed_extension_protocol_options",
    "static_layer",
    "json_format",
    "fields",
];

fn is_camel(key: &str) -> bool {
    key.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && key.chars().any(|c| c.is_ascii_uppercase())
        && key.chars().all(|c| c.is_ascii_alphanumeric())
}

fn camel_to_snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for c in key.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// One step of a field path: `static_resources.clusters[0].hosts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// Renders a path the way Envoy names fields: `static_resources.clusters[0].hosts`.
pub fn path_string(path: &[PathSeg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            PathSeg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            PathSeg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// What serde-saphyr gives us, before we drop its span types.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<String>, Spanned<Raw>)>),
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Raw, E> {
        Ok(Raw::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Raw, E> {
        Ok(Raw::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Raw, E> {
        Ok(Raw::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Raw, E> {
        Ok(Raw::Str(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Raw, E> {
        Ok(Raw::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Spanned<Raw>>()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key::<Spanned<String>>()? {
            let value = map.next_value::<Spanned<Raw>>()?;
            entries.push((key, value));
        }
        Ok(Raw::Map(entries))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_keys_and_values() {
        let doc = "a:\n  b: [1, 2]\n  c:\n  - x: 1\n    y: two\n";
        let node = parse("f.yaml", doc).unwrap();
        let path = [
            PathSeg::Key("a".into()),
            PathSeg::Key("c".into()),
            PathSeg::Index(0),
            PathSeg::Key("y".into()),
        ];
        let loc = node.locate(&path, false);
        assert_eq!((loc.line, loc.column), (5, 8));
        let loc = node.locate(&path, true);
        assert_eq!((loc.line, loc.column), (5, 5));
        assert_eq!(loc.to_string(), "f.yaml:5:5");
    }

    #[test]
    fn merge_appends_lists_and_overwrites_scalars() {
        let mut base = parse("a", "x: 1\nl: [1]\nm: {p: 1, q: 2}\n").unwrap();
        let over = parse("b", "x: 2\nl: [2]\nm: {q: 3}\n").unwrap();
        base.merge(over);
        assert_eq!(
            base.to_json(),
            serde_json::json!({"x": 2, "l": [1, 2], "m": {"p": 1, "q": 3}})
        );
    }

    #[test]
    fn syntax_errors_have_a_location() {
        let err = parse("bad.yaml", "a: [1, 2\nb: 3\n").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yaml:2:"), "{text}");
    }

    #[test]
    fn camel_case_keys_become_snake_case_outside_free_form_maps() {
        let mut node = parse(
            "a",
            "staticResources: {x: 1}\nmetadata: {CLUSTER_ID: k, fooBar: 1}\n",
        )
        .unwrap();
        node.normalize_keys();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"static_resources": {"x": 1}, "metadata": {"CLUSTER_ID": "k", "fooBar": 1}})
        );
    }

    #[test]
    fn json_is_yaml() {
        let node = parse("a.json", r#"{"a": {"b": [1, "x", true, null, 1.5]}}"#).unwrap();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": {"b": [1, "x", true, null, 1.5]}})
        );
    }
}
