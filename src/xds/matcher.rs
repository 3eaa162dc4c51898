//! `envoy.type.matcher.v3` and the route header/query matchers.

use serde::{Deserialize, Serialize};

use super::de;

/// `envoy.type.matcher.v3.RegexMatcher` (RE2 syntax; `google_re2` is accepted and ignored as
/// Envoy ignores its deprecated `max_program_size`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RegexMatcher {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub google_re2: Option<serde_json::Value>,
    pub regex: String,
}

/// `envoy.type.matcher.v3.StringMatcher`: exactly one of the match kinds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct StringMatcher {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_regex: Option<RegexMatcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains: Option<String>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub ignore_case: bool,
}

impl StringMatcher {
    /// How many of the oneof fields are set (must be exactly one).
    pub fn kinds_set(&self) -> usize {
        [
            self.exact.is_some(),
            self.prefix.is_some(),
            self.suffix.is_some(),
            self.safe_regex.is_some(),
            self.contains.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count()
    }
}

/// `envoy.type.v3.Int64Range`: [start, end).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Int64Range {
    #[serde(
        default,
        deserialize_with = "de::int",
        serialize_with = "i64_as_string"
    )]
    pub start: i64,
    #[serde(
        default,
        deserialize_with = "de::int",
        serialize_with = "i64_as_string"
    )]
    pub end: i64,
}

fn i64_as_string<S: serde::Serializer>(v: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

/// `envoy.config.route.v3.HeaderMatcher`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct HeaderMatcher {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exact_match: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safe_regex_match: Option<RegexMatcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_match: Option<Int64Range>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present_match: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix_match: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suffix_match: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contains_match: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_match: Option<StringMatcher>,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub invert_match: bool,
    #[serde(default, skip_serializing_if = "de::is_false")]
    pub treat_missing_header_as_empty: bool,
}

/// `envoy.config.route.v3.QueryParameterMatcher`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct QueryParameterMatcher {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub string_match: Option<StringMatcher>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub present_match: Option<bool>,
}
