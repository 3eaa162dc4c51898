//! `-o json|yaml|name`: kubectl's generic printers over unstructured objects. kubectl decodes
//! what the API server sends into `map[string]interface{}`, so both JSON and YAML come out
//! with every object's keys sorted (`encoding/json` sorts map keys bytewise, go-yaml
//! naturally), and integers stay integers while other numbers are float64.

use serde_json::{Map, Number, Value};

use super::meta::s;
use crate::client::output::gojson;
use crate::client::output::goyaml::json_to_yaml;
use crate::client::output::node::Node;

/// `json.MarshalIndent(obj, "", "    ")` plus the newline kubectl adds.
pub(super) fn json(value: &Value) -> String {
    let mut out = gojson::marshal_indent(&sorted_node(value), "    ");
    out.push('\n');
    out
}

/// `yaml.Marshal(obj)` (sigs.k8s.io/yaml).
pub(super) fn yaml(value: &Value) -> String {
    json_to_yaml(&sorted_node(value))
}

/// The `kind.group/name` line `-o name` prints for an object; the kind and group come from
/// its own `apiVersion` and `kind`, falling back to its listing's.
pub(super) fn name_line(object: &Value, kind: &str, group: &str) -> String {
    let own_kind = s(&object["kind"]);
    let (kind, group) = if own_kind.is_empty() {
        (kind, group)
    } else {
        let api_version = s(&object["apiVersion"]);
        let own_group = api_version.rsplit_once('/').map_or("", |(g, _)| g);
        (own_kind, own_group)
    };
    let name = match s(&object["metadata"]["name"]) {
        "" => "<unknown>",
        n => n,
    };
    if group.is_empty() {
        format!("{}/{name}\n", kind.to_lowercase())
    } else {
        format!("{}.{group}/{name}\n", kind.to_lowercase())
    }
}

/// kubectl's `List` of several objects (`kubectl get pods -o yaml`).
pub(super) fn list(items: Vec<Value>) -> Value {
    let mut metadata = Map::new();
    metadata.insert("resourceVersion".into(), Value::String(String::new()));
    let mut list = Map::new();
    list.insert("apiVersion".into(), Value::String("v1".into()));
    list.insert("items".into(), Value::Array(items));
    list.insert("kind".into(), Value::String("List".into()));
    list.insert("metadata".into(), Value::Object(metadata));
    Value::Object(list)
}

/// The object as kubectl prints it by default: without `metadata.managedFields`
/// (`--show-managed-fields=false`).
pub(super) fn without_managed_fields(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.shift_remove("managedFields");
    }
    object
}

/// The value as Go holds it after unstructured decoding: object keys sorted bytewise,
/// numbers that are not int64 turned into float64.
fn sorted_node(value: &Value) -> Node {
    match value {
        Value::Null => Node::Null,
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => Node::Number(go_number(n)),
        Value::String(text) => Node::String(text.clone()),
        Value::Array(items) => Node::List(items.iter().map(sorted_node).collect()),
        Value::Object(map) => {
            let mut entries: Vec<(String, Node)> = map
                .iter()
                .map(|(k, v)| (k.clone(), sorted_node(v)))
                .collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Node::Map(entries)
        }
    }
}

/// An integer beyond int64 is a float64 in Go's unstructured objects.
fn go_number(n: &Number) -> Number {
    if n.is_u64() && n.as_i64().is_none() {
        n.as_f64()
            .and_then(Number::from_f64)
            .unwrap_or_else(|| n.clone())
    } else {
        n.clone()
    }
}

/// Compact `json.Marshal` of a decoded value (map keys sorted, HTML-safe escaping), as
/// JSONPath printer columns print arrays and objects.
pub(super) fn compact(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&gojson::format_number(&go_number(n))),
        Value::String(text) => gojson::write_string(out, text),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                compact(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gojson::write_string(out, key);
                out.push(':');
                compact(out, &map[key.as_str()]);
            }
            out.push('}');
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn json_sorts_keys_and_indents_four_spaces() {
        let obj = json!({"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "a", "managedFields": [{}], "labels": {}}, "spec": {"x": []}});
        assert_eq!(
            json(&without_managed_fields(&obj)),
            "{\n    \"apiVersion\": \"v1\",\n    \"kind\": \"Pod\",\n    \"metadata\": {\n        \"labels\": {},\n        \"name\": \"a\"\n    },\n    \"spec\": {\n        \"x\": []\n    }\n}\n"
        );
    }

    #[test]
    fn empty_list() {
        assert_eq!(
            json(&list(Vec::new())),
            "{\n    \"apiVersion\": \"v1\",\n    \"items\": [],\n    \"kind\": \"List\",\n    \"metadata\": {\n        \"resourceVersion\": \"\"\n    }\n}\n"
        );
        assert_eq!(
            yaml(&list(Vec::new())),
            "apiVersion: v1\nitems: []\nkind: List\nmetadata:\n  resourceVersion: \"\"\n"
        );
    }

    #[test]
    fn names_use_the_objects_group() {
        let deploy =
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "webapp"}});
        assert_eq!(name_line(&deploy, "", ""), "deployment.apps/webapp\n");
        let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}});
        assert_eq!(name_line(&pod, "Pod", ""), "pod/p\n");
        let bare = json!({"metadata": {"name": "gw"}});
        assert_eq!(
            name_line(&bare, "Gateway", "networking.istio.io"),
            "gateway.networking.istio.io/gw\n"
        );
    }

    #[test]
    fn compact_marshal() {
        let mut out = String::new();
        compact(&mut out, &json!({"b": [1, 2.5, "<"], "a": null}));
        assert_eq!(out, r#"{"a":null,"b":[1,2.5,"\u003c"]}"#);
    }
}
