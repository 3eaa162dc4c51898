//! What every object has: `apiVersion`/`kind` (TypeMeta), `metadata` (ObjectMeta), and label
//! selectors with their matching rules.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `apiVersion` and `kind`, read first to know how to decode the rest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeMeta {
    #[serde(default)]
    pub api_version: String,
    #[serde(default)]
    pub kind: String,
}

/// Kubernetes' ObjectMeta: every field the API accepts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<i64>,
    /// RFC 3339, e.g. `2024-05-01T10:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_timestamp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_grace_period_seconds: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
    /// Server-side apply bookkeeping; kept as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub managed_fields: Vec<Value>,
}

impl ObjectMeta {
    /// A metadata with just a name (and namespace), for objects mesh creates itself.
    pub fn named(name: &str, namespace: Option<&str>) -> ObjectMeta {
        ObjectMeta {
            name: name.to_owned(),
            namespace: namespace.map(str::to_owned),
            ..ObjectMeta::default()
        }
    }

    pub fn label(&self, key: &str) -> Option<&str> {
        self.labels.get(key).map(String::as_str)
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.annotations.get(key).map(String::as_str)
    }
}

/// Who owns an object (a ReplicaSet owns its Pods).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub uid: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_owner_deletion: Option<bool>,
}

/// `matchLabels` and `matchExpressions`, both of which must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelector {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub match_labels: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_expressions: Vec<LabelSelectorRequirement>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelSelectorRequirement {
    pub key: String,
    /// `In`, `NotIn`, `Exists` or `DoesNotExist`.
    pub operator: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl LabelSelector {
    /// Whether `labels` satisfy the selector. An empty selector matches everything (as a
    /// Deployment's or PeerAuthentication's does); an unknown operator matches nothing.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        labels_match(&self.match_labels, labels)
            && self.match_expressions.iter().all(|req| {
                let value = labels.get(&req.key);
                match req.operator.as_str() {
                    "In" => value.is_some_and(|v| req.values.contains(v)),
                    "NotIn" => value.is_none_or(|v| !req.values.contains(v)),
                    "Exists" => value.is_some(),
                    "DoesNotExist" => value.is_none(),
                    _ => false,
                }
            })
    }

    pub fn is_empty(&self) -> bool {
        self.match_labels.is_empty() && self.match_expressions.is_empty()
    }
}

/// A plain map selector (a Service's `selector`, an Istio Gateway's `selector`): every pair must
/// be among `labels`. An empty map matches everything; callers that mean "selects nothing" for
/// an empty selector (Services) check that themselves.
pub fn labels_match(
    selector: &BTreeMap<String, String>,
    labels: &BTreeMap<String, String>,
) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}

pub(crate) fn is_false(b: &bool) -> bool {
    !*b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn req(key: &str, operator: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.to_owned(),
            operator: operator.to_owned(),
            values: values.iter().map(|v| (*v).to_owned()).collect(),
        }
    }

    #[test]
    fn selectors_match_like_kubernetes() {
        let pod = labels(&[("app", "catalog"), ("version", "v1")]);
        let by_labels = |pairs| LabelSelector {
            match_labels: labels(pairs),
            ..LabelSelector::default()
        };
        let by_expr = |r| LabelSelector {
            match_expressions: vec![r],
            ..LabelSelector::default()
        };
        assert!(LabelSelector::default().matches(&pod));
        assert!(by_labels(&[("app", "catalog")]).matches(&pod));
        assert!(by_labels(&[("app", "catalog"), ("version", "v1")]).matches(&pod));
        assert!(!by_labels(&[("app", "catalog"), ("version", "v2")]).matches(&pod));
        assert!(!by_labels(&[("tier", "web")]).matches(&pod));
        assert!(by_expr(req("version", "In", &["v1", "v2"])).matches(&pod));
        assert!(!by_expr(req("version", "In", &["v2"])).matches(&pod));
        assert!(by_expr(req("version", "NotIn", &["v2"])).matches(&pod));
        assert!(by_expr(req("tier", "NotIn", &["web"])).matches(&pod));
        assert!(!by_expr(req("version", "NotIn", &["v1"])).matches(&pod));
        assert!(by_expr(req("app", "Exists", &[])).matches(&pod));
        assert!(!by_expr(req("tier", "Exists", &[])).matches(&pod));
        assert!(by_expr(req("tier", "DoesNotExist", &[])).matches(&pod));
        assert!(!by_expr(req("app", "Bogus", &[])).matches(&pod));
        let both = LabelSelector {
            match_labels: labels(&[("app", "catalog")]),
            match_expressions: vec![req("version", "In", &["v2"])],
        };
        assert!(!both.matches(&pod));
        assert!(labels_match(&labels(&[("app", "catalog")]), &pod));
        assert!(!labels_match(&labels(&[("app", "webapp")]), &pod));
    }
}
