//! Envoy admin JSON → [`Node`], as istioctl sees it after unmarshalling into Go protos:
//! field names become lowerCamelCase (Envoy dumps `snake_case`; istioctl's own testdata is
//! camelCase, both are accepted), while the keys of free-form maps (`filter_metadata`,
//! `typed_per_filter_config`, node `metadata`, …) are kept verbatim and sorted, as Go's
//! protojson prints maps. Empty lists and maps and `null`s inside messages are dropped (proto3
//! has no way to say "present but empty" for them).
//!
//! There is no schema here: which fields are maps or Structs is a short list of the ones Envoy
//! and Istio configs use ([`MAP_FIELDS`], [`STRUCT_FIELDS`] and the rules in [`field_kind`]).

use serde_json::{Map, Value};

use super::node::Node;

/// Proto `map<string, V>` fields (by JSON name) and how their values are typed.
const MAP_FIELDS: &[(&str, MapValue)] = &[
    ("filterMetadata", MapValue::Struct),
    ("perFilterConfig", MapValue::Struct),
    ("typedFilterMetadata", MapValue::Message),
    ("typedPerFilterConfig", MapValue::Message),
    ("typedExtensionProtocolOptions", MapValue::Message),
    ("providers", MapValue::Message),
    ("requirementMap", MapValue::Message),
    ("sourceCodes", MapValue::Message),
    ("policies", MapValue::Message),
    ("dynamicParameters", MapValue::Message),
    ("keyValues", MapValue::Message),
];

/// `google.protobuf.Struct` fields (by JSON name), wherever they appear.
const STRUCT_FIELDS: &[&str] = &[
    "staticLayer",
    "jsonFormat",
    "transportSocketMatchCriteria",
    "defaultSubset",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum MapValue {
    Message,
    Struct,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Message,
    Map(MapValue),
    Struct,
    /// A `google.protobuf.Value`: any JSON.
    Value,
}

/// Converts admin JSON (a config dump, a `/clusters?format=json` body, one proto) to a
/// [`Node`] tree with protojson field names.
pub fn from_json(value: &Value) -> Node {
    match value {
        Value::Object(obj) => message(obj, ""),
        Value::Array(items) => Node::List(items.iter().map(from_json).collect()),
        scalar => scalar_node(scalar),
    }
}

/// Converts JSON without renaming anything: every object is a message with its keys as
/// written (for echoing a raw dump as YAML, where only key order matters).
pub fn from_raw_json(value: &Value) -> Node {
    match value {
        Value::Object(obj) => Node::Message(
            obj.iter()
                .map(|(k, v)| (k.clone(), from_raw_json(v)))
                .collect(),
        ),
        Value::Array(items) => Node::List(items.iter().map(from_raw_json).collect()),
        scalar => scalar_node(scalar),
    }
}

/// protoc's JSON name for a field: `route_config_name` → `routeConfigName`; names without
/// underscores (already camelCase, `@type`) are unchanged.
pub fn lower_camel(name: &str) -> String {
    if !name.contains('_') {
        return name.to_string();
    }
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            out.push(c.to_ascii_uppercase());
            upper = false;
        } else {
            out.push(c);
        }
    }
    out
}

/// A message found under the field `field` (its JSON name; `""` at the root).
fn message(obj: &Map<String, Value>, field: &str) -> Node {
    let type_url = obj.get("@type").and_then(Value::as_str).unwrap_or("");
    let mut fields = Vec::with_capacity(obj.len());
    for (key, value) in obj {
        let name = lower_camel(key);
        let kind = field_kind(&name, value, field, type_url);
        let node = match value {
            Value::Null => continue,
            Value::Array(items) if items.is_empty() => continue,
            Value::Array(items) => match kind {
                Kind::Struct | Kind::Value => {
                    Node::ListValue(items.iter().map(struct_value).collect())
                }
                _ => Node::List(items.iter().map(|v| element(v, &name)).collect()),
            },
            Value::Object(map) => match kind {
                Kind::Message => message(map, &name),
                Kind::Struct | Kind::Value => struct_node(map),
                Kind::Map(_) if map.is_empty() => continue,
                Kind::Map(MapValue::Struct) => Node::Map(sorted(map, |v| match v {
                    Value::Object(inner) => struct_node(inner),
                    other => struct_value(other),
                })),
                Kind::Map(MapValue::Message) => Node::Map(sorted(map, |v| element(v, &name))),
            },
            scalar => scalar_node(scalar),
        };
        fields.push((name, node));
    }
    // Go's protojson prints an `Any` holding `google.protobuf.Empty` with an empty value.
    if type_url.ends_with("/google.protobuf.Empty") && !obj.contains_key("value") {
        fields.push(("value".to_string(), Node::Message(Vec::new())));
    }
    Node::Message(fields)
}

/// An element of a repeated field or a message-valued map entry.
fn element(value: &Value, field: &str) -> Node {
    match value {
        Value::Object(obj) => message(obj, field),
        Value::Array(items) => Node::List(items.iter().map(|v| element(v, field)).collect()),
        scalar => scalar_node(scalar),
    }
}

fn field_kind(name: &str, value: &Value, parent: &str, type_url: &str) -> Kind {
    if name == "value" {
        if type_url.ends_with(".TypedStruct") || type_url.ends_with("/google.protobuf.Struct") {
            return Kind::Struct;
        }
        if type_url.ends_with("/google.protobuf.Value")
            || type_url.ends_with("/google.protobuf.ListValue")
        {
            return Kind::Value;
        }
    }
    if STRUCT_FIELDS.contains(&name) || (name == "match" && parent == "transportSocketMatches") {
        return Kind::Struct;
    }
    // Only a node's (and its build version's) metadata is a Struct; elsewhere `metadata` is
    // `core.v3.Metadata` or a message of its own (tracing custom tags, RBAC matchers).
    if name == "metadata" && (parent == "node" || parent == "userAgentBuildVersion") {
        return Kind::Struct;
    }
    if value.is_object()
        && let Some((_, kind)) = MAP_FIELDS.iter().find(|(field, _)| *field == name)
    {
        return Kind::Map(*kind);
    }
    Kind::Message
}

/// A `google.protobuf.Struct` object: keys verbatim, sorted.
fn struct_node(obj: &Map<String, Value>) -> Node {
    Node::Struct(sorted(obj, struct_value))
}

/// A `google.protobuf.Value`.
fn struct_value(value: &Value) -> Node {
    match value {
        Value::Object(obj) => struct_node(obj),
        Value::Array(items) => Node::ListValue(items.iter().map(struct_value).collect()),
        scalar => scalar_node(scalar),
    }
}

fn sorted(obj: &Map<String, Value>, convert: impl Fn(&Value) -> Node) -> Vec<(String, Node)> {
    let mut entries: Vec<(String, Node)> =
        obj.iter().map(|(k, v)| (k.clone(), convert(v))).collect();
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    entries
}

fn scalar_node(value: &Value) -> Node {
    match value {
        Value::Bool(b) => Node::Bool(*b),
        Value::Number(n) => Node::Number(n.clone()),
        Value::String(s) => Node::String(s.clone()),
        _ => Node::Null,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn keys(node: &Node) -> Vec<&str> {
        node.entries().iter().map(|(k, _)| k.as_str()).collect()
    }

    #[test]
    fn field_names_become_lower_camel_case() {
        assert_eq!(lower_camel("route_config_name"), "routeConfigName");
        assert_eq!(
            lower_camel("http2_protocol_options"),
            "http2ProtocolOptions"
        );
        assert_eq!(lower_camel("use_http_10"), "useHttp10");
        assert_eq!(lower_camel("alreadyCamel"), "alreadyCamel");
        assert_eq!(lower_camel("@type"), "@type");
    }

    #[test]
    fn snake_and_camel_input_give_the_same_tree() {
        let snake = json!({"active_state": {"version_info": "1", "listener": {"name": "x"}}});
        let camel = json!({"activeState": {"versionInfo": "1", "listener": {"name": "x"}}});
        assert_eq!(from_json(&snake), from_json(&camel));
    }

    #[test]
    fn free_form_map_keys_are_kept_and_sorted() {
        let route = json!({
            "metadata": {"filter_metadata": {"istio": {"config": "/apis/x", "some_key": 1},
                                              "a_filter": {"z_key": true}}},
            "typed_per_filter_config": {"envoy.filters.http.fault": {
                "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
                "max_active_faults": 1}}
        });
        let node = from_json(&route);
        let filter_metadata = node.at(&["metadata", "filterMetadata"]);
        assert!(matches!(filter_metadata, Node::Map(_)));
        assert_eq!(keys(filter_metadata), ["a_filter", "istio"]);
        assert_eq!(keys(filter_metadata.get("istio")), ["config", "some_key"]);
        assert!(matches!(filter_metadata.get("istio"), Node::Struct(_)));
        let fault = node.at(&["typedPerFilterConfig", "envoy.filters.http.fault"]);
        assert_eq!(keys(fault), ["@type", "maxActiveFaults"]);
    }

    #[test]
    fn node_metadata_and_runtime_layers_are_structs() {
        let bootstrap = json!({"node": {"id": "a", "metadata": {"ISTIO_VERSION": "1.26.0",
                "LABELS": {"app_name": "x"}, "PROXY_CONFIG": {"binary_path": "/b"}}},
            "layered_runtime": {"layers": [{"name": "global config",
                "static_layer": {"re2.max_program_size.error_level": 32768, "a_b": {"c_d": 1}}}]}});
        let node = from_json(&bootstrap);
        let metadata = node.at(&["node", "metadata"]);
        assert!(matches!(metadata, Node::Struct(_)));
        assert_eq!(keys(metadata), ["ISTIO_VERSION", "LABELS", "PROXY_CONFIG"]);
        assert_eq!(keys(metadata.get("PROXY_CONFIG")), ["binary_path"]);
        let layer = &node.at(&["layeredRuntime", "layers"]).items()[0];
        assert_eq!(
            keys(layer.get("staticLayer")),
            ["a_b", "re2.max_program_size.error_level"]
        );
        assert_eq!(keys(layer.get("staticLayer").get("a_b")), ["c_d"]);
    }

    #[test]
    fn typed_struct_values_and_transport_socket_matches_are_structs() {
        let cluster = json!({"transport_socket_matches": [{"name": "tlsMode-istio",
                "match": {"tlsMode": "istio", "some_label": "x"},
                "transport_socket": {"name": "tls"}}],
            "typed_config": {"@type": "type.googleapis.com/udpa.type.v1.TypedStruct",
                "type_url": "type.googleapis.com/x", "value": {"snake_key": 1}}});
        let node = from_json(&cluster);
        let matched = &node.get("transportSocketMatches").items()[0];
        assert_eq!(keys(matched), ["name", "match", "transportSocket"]);
        assert_eq!(keys(matched.get("match")), ["some_label", "tlsMode"]);
        assert_eq!(keys(node.get("typedConfig")), ["@type", "typeUrl", "value"]);
        assert_eq!(keys(node.at(&["typedConfig", "value"])), ["snake_key"]);
    }

    #[test]
    fn other_metadata_fields_are_messages() {
        let tracing = json!({"custom_tags": [{"tag": "a", "metadata": {"kind": {"request": {}},
            "metadata_key": {"key": "envoy.filters.http.rbac"}}}]});
        let node = from_json(&tracing);
        let metadata = node.get("customTags").items()[0].get("metadata");
        assert!(matches!(metadata, Node::Message(_)));
        assert_eq!(keys(metadata), ["kind", "metadataKey"]);
    }

    #[test]
    fn empty_lists_maps_and_nulls_are_dropped_from_messages() {
        let node = from_json(&json!({"a": [], "filter_metadata": {}, "b": null, "c": {}}));
        assert_eq!(keys(&node), ["c"]);
    }
}
