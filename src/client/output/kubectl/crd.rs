//! Tables of custom resources, as the API server's CRD table convertor
//! (`apiextensions-apiserver/pkg/registry/customresource/tableconvertor`) builds them from a
//! CRD's `additionalPrinterColumns`: NAME, then each column's JSONPath evaluated on the object.
//! A CRD that declares no columns gets AGE.
//!
//! The columns are those of Istio's `crd-all.gen.yaml` and the Gateway API CRDs in
//! `shared/reference/schemas/` (the same for every served version of a kind).

use serde_json::Value;

use super::Column;
use super::gojson_compact;
use super::meta::{age_of, parse_time};
use crate::client::output::gojson;

/// One step of the simple JSONPaths printer columns use.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    /// `.name`
    Key(&'static str),
    /// `[*]`
    All,
    /// `[?(@.field=="value")]`
    Where(&'static str, &'static str),
}

/// A column's declared `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Type {
    String,
    Date,
}

/// One `additionalPrinterColumns` entry.
#[derive(Debug, Clone, Copy)]
pub(super) struct CrdColumn {
    pub name: &'static str,
    pub path: &'static [Step],
    pub ty: Type,
    /// `priority: 1`: shown only with `-o wide`.
    pub wide: bool,
}

use Step::{All, Key, Where};

const fn string(name: &'static str, path: &'static [Step]) -> CrdColumn {
    CrdColumn {
        name,
        path,
        ty: Type::String,
        wide: false,
    }
}

const AGE: CrdColumn = CrdColumn {
    name: "Age",
    path: &[Key("metadata"), Key("creationTimestamp")],
    ty: Type::Date,
    wide: false,
};

const ACCEPTED: CrdColumn = string(
    "Accepted",
    &[
        Key("status"),
        Key("conditions"),
        Where("type", "Accepted"),
        Key("status"),
    ],
);
const PROGRAMMED: CrdColumn = string(
    "Programmed",
    &[
        Key("status"),
        Key("conditions"),
        Where("type", "Programmed"),
        Key("status"),
    ],
);
const HOSTNAMES: CrdColumn = string("Hostnames", &[Key("spec"), Key("hostnames")]);
const HOSTS: CrdColumn = string("Hosts", &[Key("spec"), Key("hosts")]);

const VIRTUAL_SERVICE: &[CrdColumn] = &[
    string("Gateways", &[Key("spec"), Key("gateways")]),
    HOSTS,
    AGE,
];
const DESTINATION_RULE: &[CrdColumn] = &[string("Host", &[Key("spec"), Key("host")]), AGE];
const SERVICE_ENTRY: &[CrdColumn] = &[
    HOSTS,
    string("Location", &[Key("spec"), Key("location")]),
    string("Resolution", &[Key("spec"), Key("resolution")]),
    AGE,
];
const WORKLOAD_ENTRY: &[CrdColumn] = &[AGE, string("Address", &[Key("spec"), Key("address")])];
const AUTHORIZATION_POLICY: &[CrdColumn] = &[string("Action", &[Key("spec"), Key("action")]), AGE];
const PEER_AUTHENTICATION: &[CrdColumn] = &[
    string("Mode", &[Key("spec"), Key("mtls"), Key("mode")]),
    AGE,
];
const K8S_GATEWAY: &[CrdColumn] = &[
    string("Class", &[Key("spec"), Key("gatewayClassName")]),
    string(
        "Address",
        &[Key("status"), Key("addresses"), All, Key("value")],
    ),
    PROGRAMMED,
    AGE,
];
const GATEWAY_CLASS: &[CrdColumn] = &[
    string("Controller", &[Key("spec"), Key("controllerName")]),
    ACCEPTED,
    AGE,
    CrdColumn {
        wide: true,
        ..string("Description", &[Key("spec"), Key("description")])
    },
];
const ROUTE: &[CrdColumn] = &[HOSTNAMES, AGE];
/// The operator CRD's columns (`istioctl install` objects).
const ISTIO_OPERATOR: &[CrdColumn] = &[
    string("Revision", &[Key("spec"), Key("revision")]),
    string("Status", &[Key("status"), Key("status")]),
    AGE,
];
const LISTENER_SET: &[CrdColumn] = &[ACCEPTED, PROGRAMMED, AGE];
const X_MESH: &[CrdColumn] = &[ACCEPTED, AGE];
const DEFAULT: &[CrdColumn] = &[AGE];

/// The printer columns (after NAME) of a custom resource kind.
pub(super) fn columns(group: &str, kind: &str) -> &'static [CrdColumn] {
    match (group, kind) {
        ("networking.istio.io", "VirtualService") => VIRTUAL_SERVICE,
        ("networking.istio.io", "DestinationRule") => DESTINATION_RULE,
        ("networking.istio.io", "ServiceEntry") => SERVICE_ENTRY,
        ("networking.istio.io", "WorkloadEntry") => WORKLOAD_ENTRY,
        ("security.istio.io", "AuthorizationPolicy") => AUTHORIZATION_POLICY,
        ("security.istio.io", "PeerAuthentication") => PEER_AUTHENTICATION,
        ("gateway.networking.k8s.io", "Gateway") => K8S_GATEWAY,
        ("gateway.networking.k8s.io", "GatewayClass") => GATEWAY_CLASS,
        ("gateway.networking.k8s.io", "HTTPRoute" | "GRPCRoute") => ROUTE,
        ("gateway.networking.k8s.io", "ListenerSet") => LISTENER_SET,
        ("gateway.networking.x-k8s.io", "XMesh") => X_MESH,
        ("install.istio.io", "IstioOperator") => ISTIO_OPERATOR,
        // Istio's Gateway, Sidecar, EnvoyFilter, RequestAuthentication, Telemetry, WasmPlugin,
        // WorkloadGroup, ProxyConfig; the other Gateway API kinds; unknown kinds.
        _ => DEFAULT,
    }
}

/// The table columns: NAME and the printer columns.
pub(super) fn table_columns(cols: &[CrdColumn]) -> Vec<Column> {
    std::iter::once(Column {
        name: "Name",
        wide: false,
    })
    .chain(cols.iter().map(|c| Column {
        name: c.name,
        wide: c.wide,
    }))
    .collect()
}

/// The row: the name, then each column's first JSONPath result, printed as the convertor
/// prints it (a missing value is an empty cell).
pub(super) fn cells(object: &Value, cols: &[CrdColumn], now: i128) -> Vec<String> {
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    std::iter::once(name)
        .chain(cols.iter().map(|c| match find(object, c.path).first() {
            None => String::new(),
            Some(value) => cell(value, c.ty, now),
        }))
        .collect()
}

/// The values a JSONPath finds (with missing keys allowed, as the convertor sets).
fn find<'a>(root: &'a Value, path: &[Step]) -> Vec<&'a Value> {
    let mut current = vec![root];
    for step in path {
        let mut next = Vec::new();
        for value in current {
            match (step, value) {
                (Key(key), Value::Object(map)) => next.extend(map.get(*key)),
                (All, Value::Array(items)) => next.extend(items),
                (All, Value::Object(map)) => next.extend(map.values()),
                (Where(field, want), Value::Array(items)) => next.extend(
                    items
                        .iter()
                        .filter(|item| item[*field].as_str() == Some(*want)),
                ),
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// `string` columns go through `jsonpath.PrintResults` (arrays and objects as compact
/// `json.Marshal`, scalars as `fmt.Print` would); `date` columns become an age.
fn cell(value: &Value, ty: Type, now: i128) -> String {
    match ty {
        Type::Date => match value {
            Value::String(text) if text.is_empty() || text == "null" => "<unknown>".to_string(),
            Value::String(text) => match parse_time(text) {
                Some(t) => age_of(Some(t), now),
                None => "<invalid>".to_string(),
            },
            _ => String::new(),
        },
        Type::String => match value {
            Value::String(text) => text.clone(),
            Value::Null => "<no value>".to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => match n.as_i64() {
                Some(i) => i.to_string(),
                None => go_print_float(n.as_f64().unwrap_or(0.0)),
            },
            Value::Array(_) | Value::Object(_) => {
                let mut out = String::new();
                gojson_compact(&mut out, value);
                out
            }
        },
    }
}

/// `fmt.Print(float64)` (`%v`): shortest digits, exponent form below 1e-4 or from 1e21.
fn go_print_float(f: f64) -> String {
    let abs = f.abs();
    if abs == 0.0 || (1e-4..1e21).contains(&abs) {
        gojson::format_float(f)
    } else {
        gojson::format_float_g(f)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn row(group: &str, kind: &str, object: Value) -> Vec<String> {
        cells(&object, columns(group, kind), 0)
    }

    #[test]
    fn arrays_print_as_compact_json() {
        let vs = json!({"metadata": {"name": "webapp-vs-from-gw"},
            "spec": {"hosts": ["webapp.istioinaction.io", "a<b"], "gateways": ["coolstore-gateway"]}});
        assert_eq!(
            row("networking.istio.io", "VirtualService", vs),
            [
                "webapp-vs-from-gw",
                "[\"coolstore-gateway\"]",
                "[\"webapp.istioinaction.io\",\"a\\u003cb\"]",
                ""
            ]
        );
    }

    #[test]
    fn filters_and_wildcards_take_the_first_result() {
        let gw = json!({"metadata": {"name": "gw", "creationTimestamp": "1970-01-01T00:00:00Z"},
            "spec": {"gatewayClassName": "istio"},
            "status": {"addresses": [{"value": "10.0.0.1"}, {"value": "10.0.0.2"}],
                       "conditions": [{"type": "Accepted", "status": "True"},
                                      {"type": "Programmed", "status": "False"}]}});
        assert_eq!(
            row("gateway.networking.k8s.io", "Gateway", gw),
            ["gw", "istio", "10.0.0.1", "False", "0s"]
        );
        let bare = json!({"metadata": {"name": "gw"}, "spec": {}});
        assert_eq!(
            row("gateway.networking.k8s.io", "Gateway", bare),
            ["gw", "", "", "", ""]
        );
    }

    #[test]
    fn scalars_and_dates() {
        assert_eq!(cell(&json!(8080), Type::String, 0), "8080");
        assert_eq!(cell(&json!(0.5), Type::String, 0), "0.5");
        assert_eq!(cell(&json!(true), Type::String, 0), "true");
        assert_eq!(cell(&json!("yesterday"), Type::Date, 0), "<invalid>");
        assert_eq!(cell(&json!(5), Type::Date, 0), "");
    }
}
