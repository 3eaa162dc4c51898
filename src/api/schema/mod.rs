//! Schema validation for every kind: Istio's and the Gateway API's CRD schemas, and the
//! Kubernetes OpenAPI definitions of the built-in kinds, embedded as compact JSON
//! (`src/api/schemas/*.json`, made by `src/api/schemas/extract.py`) and parsed once, on first use.
//!
//! What is checked: see `validate.rs`. What is skipped: CEL rules (`x-kubernetes-validations`)
//! other than the handful in `rules.rs`, defaulting (`default:` values are not filled in), and
//! formats other than int32, byte, date-time, ipv4 and ipv6.

mod model;
mod rules;
mod validate;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use serde::Deserialize;

pub use model::Schema;
pub use validate::{Violation, validate, validate_at};

use super::kinds::split_api_version;

const CRDS_JSON: &str = include_str!("../schemas/crds.json");
const K8S_JSON: &str = include_str!("../schemas/k8s.json");

/// Every embedded schema, parsed.
pub struct Registry {
    definitions: BTreeMap<String, Schema>,
    k8s_kinds: BTreeMap<String, String>,
    crd_kinds: BTreeMap<String, BTreeMap<String, usize>>,
    crd_schemas: Vec<Schema>,
}

#[derive(Deserialize)]
struct K8sFile {
    kinds: BTreeMap<String, String>,
    definitions: BTreeMap<String, Schema>,
}

#[derive(Deserialize)]
struct CrdFile {
    kinds: BTreeMap<String, BTreeMap<String, usize>>,
    schemas: Vec<Schema>,
}

/// The registry, parsed on first use. The embedded files are part of the binary and a test
/// parses them, so failing here is a build defect, not a user error.
pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        #[allow(clippy::expect_used)]
        let k8s: K8sFile = serde_json::from_str(K8S_JSON).expect("embedded k8s.json parses");
        #[allow(clippy::expect_used)]
        let crds: CrdFile = serde_json::from_str(CRDS_JSON).expect("embedded crds.json parses");
        Registry {
            definitions: k8s.definitions,
            k8s_kinds: k8s.kinds,
            crd_kinds: crds.kinds,
            crd_schemas: crds.schemas,
        }
    })
}

impl Registry {
    /// A Kubernetes definition by its short name (`core.v1.Container`).
    pub fn definition(&self, name: &str) -> Option<&Schema> {
        self.definitions.get(name)
    }

    /// The schema of a whole object of this apiVersion and kind. Every kind in the registry has
    /// one; IstioOperator's leaves `spec` and `status` free-form.
    pub fn for_kind(&self, api_version: &str, kind: &str) -> Option<&Schema> {
        if let Some(def) = self.k8s_kinds.get(&format!("{api_version}/{kind}")) {
            return self.definition(def);
        }
        let (group, version) = split_api_version(api_version);
        let index = *self
            .crd_kinds
            .get(&format!("{group}/{kind}"))?
            .get(version)?;
        self.crd_schemas.get(index)
    }

    /// Kubernetes' ObjectMeta, used to check `metadata` of kinds that have no schema.
    pub fn object_meta(&self) -> Option<&Schema> {
        self.definition("meta.v1.ObjectMeta")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::kinds;
    use serde_json::{Value, json};

    #[test]
    fn every_kind_has_a_schema_in_every_served_version() {
        let reg = registry();
        for k in kinds::all() {
            for v in k.versions {
                let found = reg.for_kind(&k.api_version(v), k.kind).is_some();
                assert!(found, "{}/{}", k.api_version(v), k.kind);
            }
        }
        // Every $ref points at a definition the file has.
        fn refs(v: &Value, out: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(r)) = m.get("$ref") {
                        out.push(r.clone());
                    }
                    m.values().for_each(|x| refs(x, out));
                }
                Value::Array(a) => a.iter().for_each(|x| refs(x, out)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(&serde_json::from_str(K8S_JSON).unwrap(), &mut all);
        refs(&serde_json::from_str(CRDS_JSON).unwrap(), &mut all);
        for r in all {
            assert!(reg.definition(&r).is_some(), "dangling $ref {r}");
        }
    }

    #[test]
    fn embedded_schemas_use_only_keywords_we_implement() {
        const KNOWN: &[&str] = &[
            "$ref",
            "type",
            "nullable",
            "properties",
            "additionalProperties",
            "items",
            "required",
            "enum",
            "format",
            "pattern",
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "minLength",
            "maxLength",
            "minItems",
            "maxItems",
            "minProperties",
            "maxProperties",
            "oneOf",
            "anyOf",
            "allOf",
            "not",
            "x-kubernetes-preserve-unknown-fields",
            "x-kubernetes-int-or-string",
            "x-kubernetes-list-type",
            "x-kubernetes-list-map-keys",
            "x-kubernetes-validations",
        ];
        fn walk(v: &Value, bad: &mut Vec<String>) {
            let Value::Object(m) = v else { return };
            for (k, sub) in m {
                if !KNOWN.contains(&k.as_str()) {
                    bad.push(k.clone());
                }
                match k.as_str() {
                    "properties" => {
                        if let Value::Object(props) = sub {
                            props.values().for_each(|p| walk(p, bad));
                        }
                    }
                    "items" | "additionalProperties" | "not" => walk(sub, bad),
                    "oneOf" | "anyOf" | "allOf" => {
                        if let Value::Array(a) = sub {
                            a.iter().for_each(|p| walk(p, bad));
                        }
                    }
                    _ => {}
                }
            }
        }
        let mut bad = Vec::new();
        let k8s: Value = serde_json::from_str(K8S_JSON).unwrap();
        k8s["definitions"]
            .as_object()
            .unwrap()
            .values()
            .for_each(|d| walk(d, &mut bad));
        let crds: Value = serde_json::from_str(CRDS_JSON).unwrap();
        crds["schemas"]
            .as_array()
            .unwrap()
            .iter()
            .for_each(|d| walk(d, &mut bad));
        bad.sort();
        bad.dedup();
        assert!(bad.is_empty(), "unimplemented keywords: {bad:?}");
    }

    #[test]
    fn every_pattern_compiles_in_rust_regex_syntax() {
        fn walk(v: &Value, bad: &mut Vec<String>) {
            match v {
                Value::Object(m) => {
                    if let Some(Value::String(p)) = m.get("pattern")
                        && regex::Regex::new(p).is_err()
                    {
                        bad.push(p.clone());
                    }
                    m.values().for_each(|x| walk(x, bad));
                }
                Value::Array(a) => a.iter().for_each(|x| walk(x, bad)),
                _ => {}
            }
        }
        let mut bad = Vec::new();
        walk(&serde_json::from_str(CRDS_JSON).unwrap(), &mut bad);
        walk(&serde_json::from_str(K8S_JSON).unwrap(), &mut bad);
        assert!(bad.is_empty(), "patterns we would skip: {bad:?}");
    }

    fn reasons(api_version: &str, kind: &str, mut value: Value) -> Vec<String> {
        let reg = registry();
        let schema = reg.for_kind(api_version, kind).unwrap();
        validate(reg, schema, &mut value)
            .into_iter()
            .map(|v| format!("{}: {}", crate::api::tree::path_string(&v.path), v.reason))
            .collect()
    }

    #[test]
    fn reports_kubernetes_style_violations() {
        let vs = json!({
            "apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
            "metadata": {"name": "x"},
            "spec": {"hosts": ["a"], "http": [{
                "match": [{"uri": {"exact": "/a", "prefix": "/"}}],
                "route": [{"destination": {"host": "a"}, "weight": "fifty"}, {"weight": 5}],
                "timeout": "10",
            }]}
        });
        assert_eq!(
            reasons("networking.istio.io/v1", "VirtualService", vs),
            vec![
                "spec.http[0].match[0].uri: Invalid value: only one of `exact`, `prefix`, `regex` may be set, found `exact` and `prefix`",
                "spec.http[0].route[0].weight: must be of type integer, got string \"fifty\"",
                "spec.http[0].route[1].destination: Required value",
                "spec.http[0].timeout: Invalid value: \"10\": must be a valid duration greater than 1ms",
            ]
        );
        let gw = json!({
            "apiVersion": "networking.istio.io/v1", "kind": "Gateway", "metadata": {"name": "x"},
            "spec": {"servers": [{"port": {"number": 443, "name": "https", "protocol": "HTTPS"},
                "hosts": ["*"], "tls": {"mode": "SIMPLEX", "credentialNam": "x"}}]}
        });
        assert_eq!(
            reasons("networking.istio.io/v1", "Gateway", gw),
            vec![
                "spec.servers[0].tls.mode: Unsupported value: \"SIMPLEX\": supported values: \"PASSTHROUGH\", \"SIMPLE\", \"MUTUAL\", \"AUTO_PASSTHROUGH\", \"ISTIO_MUTUAL\", \"OPTIONAL_MUTUAL\"",
                "spec.servers[0].tls.credentialNam: strict decoding error: unknown field \"spec.servers[0].tls.credentialNam\"",
            ]
        );
    }

    #[test]
    fn nulls_mean_not_set() {
        let svc = json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": "s", "labels": null, "annotations": {"a": null}},
            "spec": {"selector": null, "ports": [{"port": 80, "name": null}]}});
        assert!(reasons("v1", "Service", svc).is_empty());
        let mut gw = json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
            "metadata": {"name": "g"}, "spec": {"selector": null, "servers": null}});
        let reg = registry();
        let schema = reg.for_kind("networking.istio.io/v1", "Gateway").unwrap();
        assert!(validate(reg, schema, &mut gw).is_empty());
        assert_eq!(gw["spec"], json!({}));
    }

    #[test]
    fn kubernetes_kinds_are_strict_too() {
        let deploy = json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "x", "labels": {"a": "b"}},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}}, "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "i", "imagePullPolcy": "Always",
                    "ports": [{"containerPort": "http"}], "resources": {"limits": {"cpu": 0.5, "memory": "1Gi"}}}]}}}
        });
        assert_eq!(
            reasons("apps/v1", "Deployment", deploy),
            vec![
                "spec.template.spec.containers[0].imagePullPolcy: strict decoding error: unknown field \"spec.template.spec.containers[0].imagePullPolcy\"",
                "spec.template.spec.containers[0].ports[0].containerPort: must be of type integer, got string \"http\"",
            ]
        );
        let secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
            "data": {"a": "not base64!"}, "type": "Opaque"});
        assert_eq!(
            reasons("v1", "Secret", secret),
            vec!["data.a: Invalid value: \"not base64!\": illegal base64 data at input byte 3"]
        );
        let svc = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
            "spec": {"type": "ClusterIp", "ports": [{"port": 80, "targetPort": "http"}, {"port": 81, "targetPort": 8.5}]}});
        assert_eq!(
            reasons("v1", "Service", svc),
            vec![
                "spec.type: Unsupported value: \"ClusterIp\": supported values: \"ClusterIP\", \"NodePort\", \"LoadBalancer\", \"ExternalName\"",
                "spec.ports[1].targetPort: must be an integer or a string, got number 8.5",
            ]
        );
    }
}
