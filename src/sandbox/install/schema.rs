//! The part of `IstioOperator.spec` mesh knows: which fields exist (so a typo is an error that
//! names the closest valid path, as istioctl's validation does) and which of them mesh acts on
//! (the rest are kept and reported as not acted on, never silently ignored).

use serde_json::Value;

use crate::api::suggest;
use crate::api::tree::{Loc, Node, Tree};

/// What a field holds.
#[derive(Debug)]
pub enum Shape {
    Str,
    Bool,
    Int,
    Num,
    /// An int or a string (`targetPort`).
    IntOrStr,
    Enum(&'static [&'static str]),
    /// Free-form: anything is accepted below it.
    Any,
    /// Known keys: `(name, shape, acted on)`.
    Map(&'static [(&'static str, Shape, bool)]),
    /// Any key, each value of this shape (`label`, `proxyMetadata`).
    Dict(&'static Shape),
    List(&'static Shape),
}

use Shape::*;

const ENV_VAR: Shape = Map(&[
    ("name", Str, true),
    ("value", Str, true),
    ("valueFrom", Any, false),
]);

const SERVICE_PORT: Shape = Map(&[
    ("name", Str, true),
    ("port", Int, true),
    ("targetPort", IntOrStr, true),
    ("nodePort", Int, true),
    ("protocol", Enum(&["TCP", "UDP", "SCTP"]), true),
    ("appProtocol", Str, false),
]);

const K8S: Shape = Map(&[
    ("env", List(&ENV_VAR), true),
    (
        "service",
        Map(&[
            (
                "type",
                Enum(&["ClusterIP", "NodePort", "LoadBalancer"]),
                true,
            ),
            ("ports", List(&SERVICE_PORT), true),
            ("externalTrafficPolicy", Str, false),
            ("loadBalancerIP", Str, false),
            ("loadBalancerSourceRanges", Any, false),
            ("externalIPs", Any, false),
            ("selector", Dict(&Str), false),
        ]),
        true,
    ),
    ("replicaCount", Int, true),
    ("resources", Any, false),
    ("hpaSpec", Any, false),
    ("podAnnotations", Dict(&Str), false),
    ("serviceAnnotations", Dict(&Str), false),
    ("nodeSelector", Any, false),
    ("affinity", Any, false),
    ("tolerations", Any, false),
    ("strategy", Any, false),
    ("overlays", Any, false),
    ("podDisruptionBudget", Any, false),
    ("securityContext", Any, false),
    ("readinessProbe", Any, false),
    ("imagePullPolicy", Str, false),
    ("imagePullSecrets", Any, false),
    ("priorityClassName", Str, false),
    ("volumes", Any, false),
    ("volumeMounts", Any, false),
]);

const COMPONENT: Shape = Map(&[
    ("enabled", Bool, true),
    ("namespace", Str, true),
    ("hub", Str, false),
    ("tag", Any, false),
    ("k8s", K8S, true),
]);

const GATEWAY: Shape = Map(&[
    ("name", Str, true),
    ("namespace", Str, true),
    ("enabled", Bool, true),
    ("label", Dict(&Str), true),
    ("hub", Str, false),
    ("tag", Any, false),
    ("k8s", K8S, true),
]);

const TRACING: Shape = Map(&[
    ("sampling", Num, true),
    ("zipkin", Map(&[("address", Str, true)]), true),
    ("max_path_tag_length", Int, false),
    ("maxPathTagLength", Int, false),
    ("custom_tags", Any, false),
    ("customTags", Any, false),
    ("tlsSettings", Any, false),
    ("lightstep", Any, false),
    ("datadog", Any, false),
    ("stackdriver", Any, false),
    ("openCensusAgent", Any, false),
]);

const PROXY_CONFIG: Shape = Map(&[
    ("tracing", TRACING, true),
    ("proxyMetadata", Dict(&Str), false),
    ("holdApplicationUntilProxyStarts", Bool, false),
    ("discoveryAddress", Str, false),
    ("concurrency", Int, false),
    ("proxyStatsMatcher", Any, false),
    ("terminationDrainDuration", Str, false),
    ("drainDuration", Str, false),
    ("gatewayTopology", Any, false),
    ("image", Any, false),
    ("privateKeyProvider", Any, false),
    ("meshId", Str, false),
    ("statusPort", Int, false),
    ("extraStatTags", Any, false),
]);

const MESH_CONFIG: Shape = Map(&[
    ("accessLogFile", Str, true),
    ("accessLogEncoding", Enum(&["TEXT", "JSON"]), true),
    ("accessLogFormat", Str, true),
    ("enableTracing", Bool, true),
    (
        "outboundTrafficPolicy",
        Map(&[("mode", Enum(&["ALLOW_ANY", "REGISTRY_ONLY"]), true)]),
        true,
    ),
    ("defaultConfig", PROXY_CONFIG, true),
    ("enableAutoMtls", Bool, false),
    ("enablePrometheusMerge", Bool, false),
    ("trustDomain", Str, false),
    ("trustDomainAliases", Any, false),
    ("rootNamespace", Str, false),
    ("defaultProviders", Any, false),
    ("extensionProviders", Any, false),
    ("ingressControllerMode", Str, false),
    ("ingressClass", Str, false),
    ("ingressService", Str, false),
    ("ingressSelector", Str, false),
    ("localityLbSetting", Any, false),
    ("protocolDetectionTimeout", Str, false),
    ("connectTimeout", Str, false),
    ("defaultServiceExportTo", Any, false),
    ("defaultVirtualServiceExportTo", Any, false),
    ("defaultDestinationRuleExportTo", Any, false),
    ("discoverySelectors", Any, false),
    ("meshMTLS", Any, false),
    ("tcpKeepalive", Any, false),
    ("h2UpgradePolicy", Str, false),
    ("inboundTrafficPolicy", Any, false),
    ("serviceSettings", Any, false),
    ("caCertificates", Any, false),
    ("pathNormalization", Any, false),
]);

const VALUES: Shape = Map(&[
    (
        "pilot",
        Map(&[
            ("env", Dict(&Any), true),
            ("traceSampling", Num, true),
            ("autoscaleEnabled", Bool, false),
            ("autoscaleMin", Int, false),
            ("autoscaleMax", Int, false),
            ("replicaCount", Int, false),
            ("resources", Any, false),
            ("image", Str, false),
            ("hub", Str, false),
            ("tag", Any, false),
            ("podAnnotations", Any, false),
            ("nodeSelector", Any, false),
            ("cpu", Any, false),
            ("memory", Any, false),
            ("enableProtocolSniffingForOutbound", Bool, false),
            ("enableProtocolSniffingForInbound", Bool, false),
        ]),
        true,
    ),
    ("global", Any, false),
    ("gateways", Any, false),
    ("meshConfig", Any, false),
    ("telemetry", Any, false),
    ("sidecarInjectorWebhook", Any, false),
    ("base", Any, false),
    ("istiodRemote", Any, false),
    ("cni", Any, false),
    ("ztunnel", Any, false),
    ("revision", Str, false),
    ("defaultRevision", Str, false),
    ("profile", Str, false),
    ("revisionTags", Any, false),
]);

/// `IstioOperator.spec`.
pub const SPEC: Shape = Map(&[
    ("profile", Str, true),
    ("hub", Str, false),
    ("tag", Any, false),
    ("revision", Str, false),
    ("namespace", Str, false),
    ("installPackagePath", Str, false),
    ("meshConfig", MESH_CONFIG, true),
    ("values", VALUES, true),
    (
        "components",
        Map(&[
            ("base", COMPONENT, true),
            ("pilot", COMPONENT, true),
            ("cni", COMPONENT, false),
            ("ztunnel", COMPONENT, false),
            ("istiodRemote", COMPONENT, false),
            ("ingressGateways", List(&GATEWAY), true),
            ("egressGateways", List(&GATEWAY), true),
        ]),
        true,
    ),
]);

/// One problem with a spec: where, which field, why.
#[derive(Debug, Clone, PartialEq)]
pub struct Problem {
    pub loc: Loc,
    /// `meshConfig.accessLogFile` (relative to `spec`).
    pub path: String,
    pub reason: String,
    pub fix: Option<String>,
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_owned()
    } else {
        format!("{path}.{key}")
    }
}

fn keys<'a>(entries: &'a [(&'static str, Shape, bool)]) -> impl Iterator<Item = &'static str> + 'a {
    entries.iter().map(|(k, _, _)| *k)
}

fn unknown(
    path: &str,
    key: &str,
    entries: &[(&'static str, Shape, bool)],
) -> (String, Option<String>) {
    let reason = format!(
        "unknown field {key:?} in {}",
        if path.is_empty() { "spec" } else { path }
    );
    let fix = match suggest::closest(key, keys(entries)) {
        Some(best) => Some(format!("did you mean {}?", join(path, best))),
        None => Some(format!(
            "valid fields here: {}",
            keys(entries).collect::<Vec<_>>().join(", ")
        )),
    };
    (reason, fix)
}

/// Checks a located tree (from a file) against a shape. `not_acted` collects the set fields
/// mesh keeps but does not act on.
pub fn check_node(
    shape: &Shape,
    node: &Node,
    path: &str,
    problems: &mut Vec<Problem>,
    not_acted: &mut Vec<String>,
) {
    let mismatch = |want: &str| Problem {
        loc: node.loc,
        path: path.to_owned(),
        reason: format!("expected {want}, got {}", node.describe()),
        fix: None,
    };
    match (shape, &node.tree) {
        (_, Tree::Null) | (Any, _) => {}
        (Str, Tree::Str(_)) | (Bool, Tree::Bool(_)) => {}
        (Int, Tree::Int(_) | Tree::UInt(_)) => {}
        (Num, Tree::Int(_) | Tree::UInt(_) | Tree::Float(_)) => {}
        (IntOrStr, Tree::Int(_) | Tree::UInt(_) | Tree::Str(_)) => {}
        (Enum(values), Tree::Str(s)) => {
            if !values.contains(&s.as_str()) {
                problems.push(Problem {
                    loc: node.loc,
                    path: path.to_owned(),
                    reason: format!("unsupported value {s:?}"),
                    fix: Some(format!("use one of: {}", values.join(", "))),
                });
            }
        }
        (Map(entries), Tree::Map(fields)) => {
            for (key, kloc, value) in fields {
                match entries.iter().find(|(k, _, _)| k == key) {
                    Some((_, inner, acted)) => {
                        let p = join(path, key);
                        if !acted {
                            not_acted.push(p.clone());
                            continue;
                        }
                        check_node(inner, value, &p, problems, not_acted);
                    }
                    None => {
                        let (reason, fix) = unknown(path, key, entries);
                        problems.push(Problem {
                            loc: *kloc,
                            path: join(path, key),
                            reason,
                            fix,
                        });
                    }
                }
            }
        }
        (Dict(inner), Tree::Map(fields)) => {
            for (key, _, value) in fields {
                check_node(inner, value, &join(path, key), problems, not_acted);
            }
        }
        (List(inner), Tree::Seq(items)) => {
            for (i, item) in items.iter().enumerate() {
                check_node(inner, item, &format!("{path}[{i}]"), problems, not_acted);
            }
        }
        (Str | Enum(_), _) => problems.push(mismatch("a string")),
        (Bool, _) => problems.push(mismatch("a boolean")),
        (Int, _) => problems.push(mismatch("an integer")),
        (Num, _) => problems.push(mismatch("a number")),
        (IntOrStr, _) => problems.push(mismatch("an integer or a string")),
        (Map(_) | Dict(_), _) => problems.push(mismatch("a mapping")),
        (List(_), _) => problems.push(mismatch("a list")),
    }
}

/// One step of a `--set` path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// Splits `components.ingressGateways[0].enabled` into steps.
pub fn split_path(path: &str) -> Result<Vec<Seg>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if key.is_empty() && rest.is_empty() {
            return Err(format!("empty step in path {path:?}"));
        }
        if !key.is_empty() {
            out.push(Seg::Key(key.to_owned()));
        }
        while let Some(r) = rest.strip_prefix('[') {
            let Some((index, after)) = r.split_once(']') else {
                return Err(format!("unclosed '[' in path {path:?}"));
            };
            let i = index
                .parse()
                .map_err(|_| format!("list index {index:?} in path {path:?} is not a number"))?;
            out.push(Seg::Index(i));
            rest = after;
        }
        if !rest.is_empty() {
            return Err(format!("unexpected {rest:?} in path {path:?}"));
        }
    }
    Ok(out)
}

/// Checks a `--set` path: `Ok(acted_on)`, or why not with the closest valid path.
pub fn check_path(segs: &[Seg]) -> Result<bool, (String, Option<String>)> {
    let mut shape = &SPEC;
    let mut path = String::new();
    let mut acted = true;
    for seg in segs {
        match (seg, shape) {
            (_, Any) => return Ok(acted),
            (Seg::Key(k), Map(entries)) => match entries.iter().find(|(name, _, _)| name == k) {
                Some((_, inner, a)) => {
                    acted &= *a;
                    shape = inner;
                    path = join(&path, k);
                }
                None => return Err(unknown(&path, k, entries)),
            },
            (Seg::Key(k), Dict(inner)) => {
                shape = inner;
                path = join(&path, k);
            }
            (Seg::Index(i), List(inner)) => {
                shape = inner;
                path = format!("{path}[{i}]");
            }
            (Seg::Index(_), _) => return Err((format!("{path} is not a list"), None)),
            (Seg::Key(k), List(_)) => {
                return Err((
                    format!("{path} is a list"),
                    Some(format!("index it: {path}[0].{k}")),
                ));
            }
            (Seg::Key(k), _) => {
                return Err((format!("{path} has no field {k:?}: it is a value"), None));
            }
        }
    }
    Ok(acted)
}

/// The typed value of `--set path=text` (istioctl: booleans and numbers are typed, the rest
/// are strings), checked against the path's shape.
pub fn set_value(segs: &[Seg], text: &str) -> Value {
    let mut shape = &SPEC;
    for seg in segs {
        shape = match (seg, shape) {
            (Seg::Key(k), Map(entries)) => match entries.iter().find(|(n, _, _)| n == k) {
                Some((_, inner, _)) => inner,
                None => &Any,
            },
            (Seg::Key(_), Dict(inner)) | (Seg::Index(_), List(inner)) => inner,
            _ => &Any,
        };
    }
    let as_string = || Value::String(text.to_owned());
    match shape {
        Str | Enum(_) => as_string(),
        _ => {
            if text == "true" || text == "false" {
                Value::Bool(text == "true")
            } else if let Ok(i) = text.parse::<i64>() {
                Value::from(i)
            } else if let Ok(f) = text.parse::<f64>() {
                Value::from(f)
            } else {
                as_string()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(path: &str) -> Result<bool, (String, Option<String>)> {
        check_path(&split_path(path).unwrap())
    }

    #[test]
    fn set_paths_are_checked_with_the_closest_valid_path() {
        assert_eq!(check("meshConfig.accessLogFile"), Ok(true));
        assert_eq!(
            check("values.pilot.env.PILOT_FILTER_GATEWAY_CLUSTER_CONFIG"),
            Ok(true)
        );
        assert_eq!(
            check("components.ingressGateways[0].k8s.service.ports[1].nodePort"),
            Ok(true)
        );
        assert_eq!(check("meshConfig.enablePrometheusMerge"), Ok(false));
        assert_eq!(
            check("values.global.proxy.resources.requests.cpu"),
            Ok(false)
        );
        let (reason, fix) = check("meshConfig.acessLogFile").unwrap_err();
        assert_eq!(reason, "unknown field \"acessLogFile\" in meshConfig");
        assert_eq!(
            fix.as_deref(),
            Some("did you mean meshConfig.accessLogFile?")
        );
        let (_, fix) = check("meshconfig.accessLogFile").unwrap_err();
        assert_eq!(fix.as_deref(), Some("did you mean meshConfig?"));
        assert!(check("components.ingressGateways.enabled").is_err());
    }

    #[test]
    fn set_values_are_typed_by_the_field() {
        let segs = |p: &str| split_path(p).unwrap();
        assert_eq!(
            set_value(&segs("meshConfig.accessLogFile"), "true"),
            Value::from("true")
        );
        assert_eq!(
            set_value(&segs("meshConfig.enableTracing"), "false"),
            Value::Bool(false)
        );
        assert_eq!(
            set_value(&segs("values.pilot.traceSampling"), "100"),
            Value::from(100)
        );
        assert_eq!(
            set_value(
                &segs("values.pilot.env.PILOT_FILTER_GATEWAY_CLUSTER_CONFIG"),
                "true"
            ),
            Value::Bool(true)
        );
        assert!(split_path("a..b").is_err());
        assert_eq!(
            split_path("a[2].b").unwrap(),
            vec![Seg::Key("a".into()), Seg::Index(2), Seg::Key("b".into())]
        );
    }

    #[test]
    fn files_are_checked_with_locations() {
        let node = crate::api::tree::parse(
            "meshConfig:\n  accessLogFile: /dev/stdout\n  accesLogEncoding: JSON\ncomponents:\n  ingressGateways:\n  - name: gw\n    enabled: yes-please\n",
            1,
        )
        .unwrap();
        let (mut problems, mut not_acted) = (Vec::new(), Vec::new());
        check_node(&SPEC, &node, "", &mut problems, &mut not_acted);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert_eq!(problems[0].loc, Loc { line: 3, column: 3 });
        assert_eq!(
            problems[0].fix.as_deref(),
            Some("did you mean meshConfig.accessLogEncoding?")
        );
        assert_eq!(problems[1].path, "components.ingressGateways[0].enabled");
        assert!(
            problems[1].reason.starts_with("expected a boolean"),
            "{:?}",
            problems[1]
        );
    }
}
