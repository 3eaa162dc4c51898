//! The OpenAPI v3 subset that Kubernetes structural schemas (and so Istio's and the Gateway
//! API's CRDs) use, as read from the embedded schema files.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use regex::Regex;
use serde::Deserialize;
use serde_json::Value;

/// One schema node. Unknown keywords are ignored when parsing; a test checks that the embedded
/// files use no keyword outside this list.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schema {
    /// A definition in the Kubernetes file (`core.v1.Container`); nothing else is set then.
    #[serde(rename = "$ref")]
    pub reference: Option<String>,
    #[serde(rename = "type", default)]
    pub types: Types,
    #[serde(default)]
    pub nullable: bool,
    pub properties: Option<BTreeMap<String, Schema>>,
    pub additional_properties: Option<Additional>,
    pub items: Option<Box<Schema>>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(rename = "enum")]
    pub enum_values: Option<Vec<Value>>,
    pub format: Option<String>,
    pub pattern: Option<String>,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    #[serde(default)]
    pub exclusive_minimum: bool,
    #[serde(default)]
    pub exclusive_maximum: bool,
    pub min_length: Option<u64>,
    pub max_length: Option<u64>,
    pub min_items: Option<u64>,
    pub max_items: Option<u64>,
    pub min_properties: Option<u64>,
    pub max_properties: Option<u64>,
    #[serde(default)]
    pub one_of: Vec<Schema>,
    #[serde(default)]
    pub any_of: Vec<Schema>,
    #[serde(default)]
    pub all_of: Vec<Schema>,
    pub not: Option<Box<Schema>>,
    #[serde(rename = "x-kubernetes-preserve-unknown-fields", default)]
    pub preserve_unknown_fields: bool,
    #[serde(rename = "x-kubernetes-int-or-string", default)]
    pub int_or_string: bool,
    #[serde(rename = "x-kubernetes-list-type")]
    pub list_type: Option<String>,
    #[serde(rename = "x-kubernetes-list-map-keys", default)]
    pub list_map_keys: Vec<String>,
    /// CEL rules; only those `rules.rs` implements are kept in the embedded files.
    #[serde(rename = "x-kubernetes-validations", default)]
    pub validations: Vec<Rule>,
    #[serde(skip)]
    compiled_pattern: OnceLock<Option<Regex>>,
}

/// `type: string` or (rarely) `type: [string, integer]`; empty means any type.
#[derive(Debug, Default, Deserialize)]
#[serde(untagged)]
pub enum Types {
    #[default]
    Any,
    One(String),
    Many(Vec<String>),
}

impl Types {
    pub fn list(&self) -> Vec<&str> {
        match self {
            Types::Any => Vec::new(),
            Types::One(t) => vec![t.as_str()],
            Types::Many(ts) => ts.iter().map(String::as_str).collect(),
        }
    }
}

/// `additionalProperties: false` or a schema for every value of a map.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Additional {
    Allowed(bool),
    Schema(Box<Schema>),
}

#[derive(Debug, Deserialize)]
pub struct Rule {
    pub rule: String,
    #[serde(default)]
    pub message: String,
}

impl Schema {
    /// The compiled `pattern`; `None` when absent or when Go's RE2 syntax is not Rust's (then
    /// the pattern is not checked rather than rejecting valid input).
    pub fn pattern_regex(&self) -> Option<&Regex> {
        self.compiled_pattern
            .get_or_init(|| self.pattern.as_deref().and_then(|p| Regex::new(p).ok()))
            .as_ref()
    }

    /// Whether this node constrains the value's shape (as opposed to a oneOf/anyOf branch that
    /// only lists `required` fields).
    pub fn is_object(&self) -> bool {
        self.types.list().contains(&"object")
    }
}
