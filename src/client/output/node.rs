//! [`Node`]: a JSON value that remembers what Go's protobuf printers need to know — which
//! objects are protobuf messages, which are proto `map<…>` fields and which are free-form
//! `google.protobuf.Struct`s. Accessors never panic: a missing field reads as `Null`, `""`,
//! `0` or an empty list, the way istioctl's generated getters read unset fields.

use serde_json::Number;

/// A protojson value (see the module docs). Build one with [`crate::client::output::protojson`].
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    Null,
    Bool(bool),
    Number(Number),
    String(String),
    /// A protobuf message: fields in the order they were dumped (declaration order), `@type`
    /// first on an `Any`.
    Message(Vec<(String, Node)>),
    /// A proto `map<string, …>` field: free-form keys, sorted as protojson sorts them.
    Map(Vec<(String, Node)>),
    /// A `google.protobuf.Struct`: free-form keys, sorted; values are Struct values.
    Struct(Vec<(String, Node)>),
    /// A repeated field.
    List(Vec<Node>),
    /// A `google.protobuf.ListValue` (an array inside a Struct).
    ListValue(Vec<Node>),
}

static NULL: Node = Node::Null;

impl Node {
    /// The field or map entry `key`, or `Null`.
    pub fn get(&self, key: &str) -> &Node {
        self.entries()
            .iter()
            .find(|(k, _)| k == key)
            .map_or(&NULL, |(_, v)| v)
    }

    /// `get` along a path of keys.
    pub fn at(&self, path: &[&str]) -> &Node {
        path.iter().fold(self, |node, key| node.get(key))
    }

    /// Whether the field is present (set).
    pub fn has(&self, key: &str) -> bool {
        self.entries().iter().any(|(k, _)| k == key)
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Node::Null)
    }

    /// The string value, or `""` for anything else.
    pub fn as_str(&self) -> &str {
        match self {
            Node::String(s) => s,
            _ => "",
        }
    }

    /// An unsigned integer from a JSON number or a decimal string (int64 fields are strings).
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Node::Number(n) => n.as_u64(),
            Node::String(s) => s.parse().ok(),
            _ => None,
        }
    }

    /// `as_u64` clamped into a `u32`, 0 when unset (proto3's default).
    pub fn as_u32(&self) -> u32 {
        self.as_u64()
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX))
    }

    pub fn as_bool(&self) -> bool {
        matches!(self, Node::Bool(true))
    }

    /// Elements of a list, or nothing.
    pub fn items(&self) -> &[Node] {
        match self {
            Node::List(items) | Node::ListValue(items) => items,
            _ => &[],
        }
    }

    /// Fields or entries of an object, or nothing.
    pub fn entries(&self) -> &[(String, Node)] {
        match self {
            Node::Message(fields) | Node::Map(fields) | Node::Struct(fields) => fields,
            _ => &[],
        }
    }

    /// The strings of a list of strings (other elements read as `""`).
    pub fn strings(&self) -> Vec<&str> {
        self.items().iter().map(Node::as_str).collect()
    }

    /// A copy without the field `key` (used to drop `@type` when an `Any` is printed as the
    /// message it holds).
    pub fn without(&self, key: &str) -> Node {
        match self {
            Node::Message(fields) => {
                Node::Message(fields.iter().filter(|(k, _)| k != key).cloned().collect())
            }
            other => other.clone(),
        }
    }

    /// Whether any string inside (keys excluded) contains `needle`.
    pub fn any_string_contains(&self, needle: &str) -> bool {
        match self {
            Node::String(s) => s.contains(needle),
            Node::Message(f) | Node::Map(f) | Node::Struct(f) => {
                f.iter().any(|(_, v)| v.any_string_contains(needle))
            }
            Node::List(items) | Node::ListValue(items) => {
                items.iter().any(|v| v.any_string_contains(needle))
            }
            _ => false,
        }
    }

    /// The tree as plain JSON (object kinds forgotten).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Number(n) => Value::Number(n.clone()),
            Node::String(s) => Value::String(s.clone()),
            Node::Message(f) | Node::Map(f) | Node::Struct(f) => {
                Value::Object(f.iter().map(|(k, v)| (k.clone(), v.to_json())).collect())
            }
            Node::List(items) | Node::ListValue(items) => {
                Value::Array(items.iter().map(Node::to_json).collect())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_fields_read_as_defaults() {
        let node = Node::Message(vec![("a".into(), Node::String("x".into()))]);
        assert_eq!(node.get("a").as_str(), "x");
        assert!(node.get("b").is_null());
        assert_eq!(node.at(&["b", "c"]).as_str(), "");
        assert_eq!(node.get("b").as_u32(), 0);
        assert!(node.get("b").items().is_empty());
        assert_eq!(Node::String("8080".into()).as_u32(), 8080);
    }
}
