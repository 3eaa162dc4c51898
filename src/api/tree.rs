//! A YAML (or JSON) document as a tree that remembers where every key and value was written, so
//! errors found later — by the schema, by typed decoding — point at `line:column` in the file.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_saphyr::Spanned;

/// 1-based line and column in the file (0:0 for values that came from JSON with no text).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Loc {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone, PartialEq)]
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

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub loc: Loc,
    pub tree: Tree,
}

/// A YAML syntax error, located in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    pub loc: Loc,
    pub reason: String,
}

/// One step of a field path: `spec.http[0].route`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSeg {
    Key(String),
    Index(usize),
}

/// Renders a path the way Kubernetes names fields: `spec.http[0].route[0].weight`.
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
            PathSeg::Index(i) => {
                out.push('[');
                out.push_str(&i.to_string());
                out.push(']');
            }
        }
    }
    out
}

/// Parses one YAML document whose first line is line `first_line` of its file.
pub fn parse(text: &str, first_line: usize) -> Result<Node, SyntaxError> {
    let offset = first_line.saturating_sub(1);
    // Repeated keys reach our visitor, which keeps them all; `Node::duplicate_keys` then
    // reports them with the line of the first one, as go-yaml (and so kubectl) does.
    let options = serde_saphyr::options! {
        duplicate_keys: serde_saphyr::DuplicateKeyPolicy::PassThrough,
    };
    let raw: Spanned<Raw> = serde_saphyr::from_str_with_options(text, options).map_err(|err| {
        let loc = err
            .location()
            .map(|l| Loc {
                line: l.line() as usize + offset,
                column: l.column() as usize,
            })
            .unwrap_or(Loc {
                line: first_line,
                column: 1,
            });
        SyntaxError {
            loc,
            reason: first_line_of(&err.to_string()),
        }
    })?;
    Ok(from_raw(raw, offset))
}

/// serde-saphyr's message without its own "error: line L column C:" prefix and snippet.
fn first_line_of(message: &str) -> String {
    let line = message.lines().next().unwrap_or(message).trim();
    let line = line.strip_prefix("error: ").unwrap_or(line);
    match line.split_once(": ") {
        Some((head, rest)) if head.starts_with("line ") => rest.to_owned(),
        _ => line.to_owned(),
    }
}

fn loc_of<T>(s: &Spanned<T>, offset: usize) -> Loc {
    Loc {
        line: s.referenced.line() as usize + offset,
        column: s.referenced.column() as usize,
    }
}

fn from_raw(raw: Spanned<Raw>, offset: usize) -> Node {
    let loc = loc_of(&raw, offset);
    let tree = match raw.value {
        Raw::Null => Tree::Null,
        Raw::Bool(b) => Tree::Bool(b),
        Raw::Int(i) => Tree::Int(i),
        Raw::UInt(u) => Tree::UInt(u),
        Raw::Float(f) => Tree::Float(f),
        Raw::Str(s) => Tree::Str(s),
        Raw::Seq(items) => Tree::Seq(items.into_iter().map(|n| from_raw(n, offset)).collect()),
        Raw::Map(entries) => Tree::Map(
            entries
                .into_iter()
                .map(|(k, v)| {
                    let kloc = loc_of(&k, offset);
                    (k.value, kloc, from_raw(v, offset))
                })
                .collect(),
        ),
    };
    Node { loc, tree }
}

impl Node {
    /// A tree with no locations, for JSON that has no file behind it (stored resources).
    pub fn from_json(value: &Value) -> Node {
        let tree = match value {
            Value::Null => Tree::Null,
            Value::Bool(b) => Tree::Bool(*b),
            Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
                (Some(i), _, _) => Tree::Int(i),
                (None, Some(u), _) => Tree::UInt(u),
                (None, None, Some(f)) => Tree::Float(f),
                (None, None, None) => Tree::Null,
            },
            Value::String(s) => Tree::Str(s.clone()),
            Value::Array(items) => Tree::Seq(items.iter().map(Node::from_json).collect()),
            Value::Object(map) => Tree::Map(
                map.iter()
                    .map(|(k, v)| (k.clone(), Loc::default(), Node::from_json(v)))
                    .collect(),
            ),
        };
        Node {
            loc: Loc::default(),
            tree,
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

    /// The value under `key`, when this node is a map that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.tree {
            Tree::Map(entries) => entries.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v),
            _ => None,
        }
    }

    /// Where `key` itself was written, when this node is a map that has it.
    pub fn key_loc(&self, key: &str) -> Option<Loc> {
        match &self.tree {
            Tree::Map(entries) => entries
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, loc, _)| *loc),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match &self.tree {
            Tree::Str(s) => Some(s),
            _ => None,
        }
    }

    /// What this node is, in words, for "got …" messages.
    pub fn describe(&self) -> String {
        describe(&self.to_json())
    }

    /// Follows a path of map keys and list indexes to a location. With `at_key`, a path ending
    /// in a map key points at the key itself (where an unknown field was typed). A path that
    /// leaves the tree stops at the deepest node it reached.
    pub fn locate(&self, path: &[PathSeg], at_key: bool) -> Loc {
        let mut node = self;
        for (i, seg) in path.iter().enumerate() {
            let last = i + 1 == path.len();
            node = match (seg, &node.tree) {
                (PathSeg::Key(key), Tree::Map(entries)) => {
                    match entries.iter().find(|(k, _, _)| k == key) {
                        Some((_, kloc, _)) if last && at_key => return *kloc,
                        Some((_, _, value)) => value,
                        None => return node.loc,
                    }
                }
                (PathSeg::Index(i), Tree::Seq(items)) => match items.get(*i) {
                    Some(item) => item,
                    None => return node.loc,
                },
                _ => return node.loc,
            };
        }
        node.loc
    }

    /// Where a field is best shown: a scalar's value, or the key of a mapping or list (whose
    /// value starts on a later line).
    pub fn locate_field(&self, path: &[PathSeg]) -> Loc {
        let mut node = self;
        for seg in path {
            let next = match (seg, &node.tree) {
                (PathSeg::Key(key), Tree::Map(entries)) => {
                    entries.iter().find(|(k, _, _)| k == key).map(|(_, _, v)| v)
                }
                (PathSeg::Index(i), Tree::Seq(items)) => items.get(*i),
                _ => None,
            };
            match next {
                Some(n) => node = n,
                None => return node.loc,
            }
        }
        let collection = matches!(node.tree, Tree::Map(_) | Tree::Seq(_));
        self.locate(
            path,
            collection && matches!(path.last(), Some(PathSeg::Key(_))),
        )
    }

    /// Keys written twice in one mapping: (key, where the repeat is, line of the first one).
    /// YAML forbids them and Kubernetes rejects them; silently keeping one would hide a mistake.
    pub fn duplicate_keys(&self) -> Vec<(String, Loc, usize)> {
        let mut out = Vec::new();
        self.collect_duplicates(&mut out);
        out
    }

    fn collect_duplicates(&self, out: &mut Vec<(String, Loc, usize)>) {
        match &self.tree {
            Tree::Map(entries) => {
                for (i, (key, loc, value)) in entries.iter().enumerate() {
                    if let Some((_, first, _)) = entries[..i].iter().find(|(k, _, _)| k == key) {
                        out.push((key.clone(), *loc, first.line));
                    }
                    value.collect_duplicates(out);
                }
            }
            Tree::Seq(items) => items.iter().for_each(|n| n.collect_duplicates(out)),
            _ => {}
        }
    }
}

/// A JSON value in words: `string "fifty"`, `integer 5`, `a list`, `an object`, `null`.
pub fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) if n.is_f64() => format!("number {n}"),
        Value::Number(n) => format!("integer {n}"),
        Value::String(s) => format!("string {}", Value::String(s.clone())),
        Value::Array(_) => "a list".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
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
    fn locates_keys_and_values_with_a_line_offset() {
        let doc = "a:\n  b: [1, 2]\n  c:\n  - x: 1\n    y: two\n";
        let node = parse(doc, 11).unwrap();
        let path = [
            PathSeg::Key("a".into()),
            PathSeg::Key("c".into()),
            PathSeg::Index(0),
            PathSeg::Key("y".into()),
        ];
        assert_eq!(
            node.locate(&path, false),
            Loc {
                line: 15,
                column: 8
            }
        );
        assert_eq!(
            node.locate(&path, true),
            Loc {
                line: 15,
                column: 5
            }
        );
        assert_eq!(path_string(&path), "a.c[0].y");
    }

    #[test]
    fn syntax_errors_have_a_file_line() {
        let err = parse("a: [1, 2\nb: 3\n", 5).unwrap_err();
        assert_eq!(err.loc.line, 6, "{err:?}");
        assert!(!err.reason.is_empty());
    }

    #[test]
    fn scalars_keep_their_yaml_types() {
        let node = parse("a: \"80\"\nb: 80\nc: true\nd: 1.5\ne:\nf: ~\n", 1).unwrap();
        assert_eq!(
            node.to_json(),
            serde_json::json!({"a": "80", "b": 80, "c": true, "d": 1.5, "e": null, "f": null})
        );
    }

    #[test]
    fn json_round_trips_through_the_tree() {
        let value = serde_json::json!({"a": {"b": [1, "x", true, null, 1.5, -3]}});
        assert_eq!(Node::from_json(&value).to_json(), value);
    }

    #[test]
    fn finds_duplicate_keys() {
        let node = parse("a: 1\nb:\n  c: 1\n  c: 2\n", 1).unwrap();
        let dups = node.duplicate_keys();
        assert_eq!(dups, vec![("c".to_owned(), Loc { line: 4, column: 3 }, 3)]);
    }
}
