//! Pieces shared by Istio's networking kinds: string matches, destinations, ports, header
//! operations, percentages and workload selectors.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};

/// Istio's `StringMatch`: exactly one of `exact`, `prefix`, `regex` (RE2 syntax), or `{}`
/// (which Istio reads as "present, with any value" in header matches).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Regex(String),
    Present,
}

impl StringMatch {
    /// Whether `value` satisfies the match. A regex must match the whole value (RE2 full match,
    /// as Envoy's safe_regex); one that does not compile matches nothing.
    pub fn matches(&self, value: &str) -> bool {
        match self {
            StringMatch::Exact(s) => value == s,
            StringMatch::Prefix(p) => value.starts_with(p.as_str()),
            StringMatch::Regex(r) => regex::Regex::new(&format!("^(?:{r})$"))
                .map(|re| re.is_match(value))
                .unwrap_or(false),
            StringMatch::Present => true,
        }
    }
}

impl Serialize for StringMatch {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let entry = match self {
            StringMatch::Exact(v) => Some(("exact", v)),
            StringMatch::Prefix(v) => Some(("prefix", v)),
            StringMatch::Regex(v) => Some(("regex", v)),
            StringMatch::Present => None,
        };
        let mut map = s.serialize_map(Some(usize::from(entry.is_some())))?;
        if let Some((k, v)) = entry {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for StringMatch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringMatch;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("one of `exact`, `prefix` or `regex`")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<StringMatch, A::Error> {
                let mut found: Option<StringMatch> = None;
                while let Some(key) = map.next_key::<String>()? {
                    let value: String = map.next_value()?;
                    let m = match key.as_str() {
                        "exact" => StringMatch::Exact(value),
                        "prefix" => StringMatch::Prefix(value),
                        "regex" => StringMatch::Regex(value),
                        other => {
                            return Err(de::Error::unknown_field(
                                other,
                                &["exact", "prefix", "regex"],
                            ));
                        }
                    };
                    if found.is_some() {
                        return Err(de::Error::custom(
                            "only one of `exact`, `prefix`, `regex` may be set",
                        ));
                    }
                    found = Some(m);
                }
                Ok(found.unwrap_or(StringMatch::Present))
            }
        }
        d.deserialize_map(V)
    }
}

/// Where traffic goes: a service host (short name, FQDN or ServiceEntry host), a subset from a
/// DestinationRule, and a port.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Destination {
    pub host: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subset: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<PortSelector>,
}

impl Destination {
    pub fn port_number(&self) -> Option<u32> {
        self.port.as_ref().and_then(|p| p.number)
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortSelector {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u32>,
}

/// A port a Gateway server or a ServiceEntry declares.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Port {
    pub number: u32,
    /// `HTTP`, `HTTPS`, `GRPC`, `HTTP2`, `MONGO`, `TCP` or `TLS` (case-insensitive in Istio).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub protocol: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<u32>,
}

/// A percentage as Istio writes it: `{value: 50.0}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Percent {
    #[serde(default)]
    pub value: f64,
}

/// Header changes for requests and responses.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Headers {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<HeaderOperations>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response: Option<HeaderOperations>,
}

/// `set` overwrites, `add` appends, `remove` deletes. Keys are kept sorted, as istiod emits them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HeaderOperations {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub set: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub add: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// Which workloads a resource applies to, by pod labels.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkloadSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_match_round_trips_and_matches() {
        for (v, m) in [
            (json!({"exact": "/a"}), StringMatch::Exact("/a".into())),
            (
                json!({"prefix": "/api"}),
                StringMatch::Prefix("/api".into()),
            ),
            (
                json!({"regex": "/items/[0-9]+"}),
                StringMatch::Regex("/items/[0-9]+".into()),
            ),
            (json!({}), StringMatch::Present),
        ] {
            let decoded: StringMatch = serde_json::from_value(v.clone()).unwrap();
            assert_eq!(decoded, m);
            assert_eq!(serde_json::to_value(&m).unwrap(), v);
        }
        assert!(
            serde_json::from_value::<StringMatch>(json!({"exact": "a", "prefix": "b"})).is_err()
        );
        assert!(StringMatch::Prefix("/api".into()).matches("/api/catalog"));
        assert!(StringMatch::Regex("/items/[0-9]+".into()).matches("/items/12"));
        assert!(!StringMatch::Regex("/items/[0-9]+".into()).matches("/items/12/x"));
        assert!(StringMatch::Present.matches(""));
    }
}
