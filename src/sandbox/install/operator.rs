//! What `istioctl install` reads: IstioOperator files (`-f`, merged in order) and `--set`
//! overlays on top of a built-in profile, checked field by field.

use serde_json::{Map, Value, json};

use crate::api::Diagnostic;
use crate::api::tree::Node;

use super::schema::{self, Seg};

/// A resolved install: the operator's identity, its spec merged over its profile, and the
/// fields it sets that mesh keeps but does not act on.
#[derive(Debug, Clone, PartialEq)]
pub struct Operator {
    /// `metadata.name` (`installed-state` when only `--set` was given, as istioctl names it).
    pub name: String,
    /// Where the IstioOperator object is kept (`metadata.namespace`, else `istio-system`).
    pub namespace: String,
    pub profile: String,
    /// What the user wrote (files + `--set`), for the stored IstioOperator.
    pub user_spec: Value,
    /// The profile with the user's spec merged over it: what gets rendered.
    pub spec: Value,
    pub not_acted: Vec<String>,
}

/// A file the user gave, by name.
#[derive(Debug, Clone)]
pub struct InstallFile {
    pub source: String,
    pub text: String,
}

pub const PROFILES: &[&str] = &["default", "demo", "minimal", "empty"];

/// Istio's built-in profiles (1.26), as far as mesh renders them.
pub fn profile(name: &str) -> Option<Value> {
    let gateway = |name: &str, enabled: bool| json!({"name": name, "enabled": enabled});
    let spec = match name {
        "default" => json!({
            "components": {
                "base": {"enabled": true},
                "pilot": {"enabled": true},
                "ingressGateways": [gateway("istio-ingressgateway", true)],
                "egressGateways": [gateway("istio-egressgateway", false)],
            },
        }),
        "demo" => json!({
            "components": {
                "base": {"enabled": true},
                "pilot": {"enabled": true},
                "ingressGateways": [{
                    "name": "istio-ingressgateway",
                    "enabled": true,
                    "k8s": {"service": {"ports": [
                        {"name": "status-port", "port": 15021, "targetPort": 15021},
                        {"name": "http2", "port": 80, "targetPort": 8080},
                        {"name": "https", "port": 443, "targetPort": 8443},
                        {"name": "tcp", "port": 31400, "targetPort": 31400},
                        {"name": "tls", "port": 15443, "targetPort": 15443},
                    ]}},
                }],
                "egressGateways": [gateway("istio-egressgateway", true)],
            },
            "meshConfig": {"accessLogFile": "/dev/stdout"},
            "values": {"pilot": {"traceSampling": 100.0}},
        }),
        "minimal" => json!({
            "components": {
                "base": {"enabled": true},
                "pilot": {"enabled": true},
                "ingressGateways": [gateway("istio-ingressgateway", false)],
                "egressGateways": [gateway("istio-egressgateway", false)],
            },
        }),
        "empty" => json!({
            "components": {
                "base": {"enabled": false},
                "pilot": {"enabled": false},
                "ingressGateways": [gateway("istio-ingressgateway", false)],
                "egressGateways": [gateway("istio-egressgateway", false)],
            },
        }),
        _ => return None,
    };
    Some(spec)
}

/// Deep merge, `over` winning; gateway lists merge their entries by `name` as istioctl does,
/// other lists are replaced.
pub fn merge(base: &mut Value, over: &Value) {
    match (base, over) {
        (Value::Object(b), Value::Object(o)) => {
            for (k, v) in o {
                match b.get_mut(k) {
                    Some(existing)
                        if (k == "ingressGateways" || k == "egressGateways")
                            && existing.is_array()
                            && v.is_array() =>
                    {
                        merge_named(existing, v);
                    }
                    Some(existing) if existing.is_object() && v.is_object() => merge(existing, v),
                    _ => {
                        b.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (b, o) => *b = o.clone(),
    }
}

fn merge_named(base: &mut Value, over: &Value) {
    let (Some(b), Some(o)) = (base.as_array_mut(), over.as_array()) else {
        return;
    };
    for (i, item) in o.iter().enumerate() {
        // An entry without a name (`--set components.ingressGateways[0].enabled=false`)
        // means the profile's entry at that position.
        let existing = match item["name"].as_str() {
            Some(name) => b.iter_mut().find(|e| e["name"].as_str() == Some(name)),
            None => b.get_mut(i),
        };
        match existing {
            Some(existing) => merge(existing, item),
            None => b.push(item.clone()),
        }
    }
}

/// Writes `value` at `segs` in `spec`, creating maps and growing lists as needed.
fn set_at(spec: &mut Value, segs: &[Seg], value: Value) {
    let Some((first, rest)) = segs.split_first() else {
        *spec = value;
        return;
    };
    match first {
        Seg::Key(k) => {
            if !spec.is_object() {
                *spec = Value::Object(Map::new());
            }
            if let Value::Object(m) = spec {
                set_at(m.entry(k.clone()).or_insert(Value::Null), rest, value);
            }
        }
        Seg::Index(i) => {
            if !spec.is_array() {
                *spec = Value::Array(Vec::new());
            }
            if let Value::Array(a) = spec {
                while a.len() <= *i {
                    a.push(Value::Null);
                }
                set_at(&mut a[*i], rest, value);
            }
        }
    }
}

/// Reads the files and `--set` flags into one operator, or every problem found.
pub fn resolve(files: &[InstallFile], set: &[String]) -> Result<Operator, Vec<Diagnostic>> {
    resolve_in(files, set, None)
}

/// [`resolve`], keeping the operator object in `namespace` (`-n`) when its file names none.
pub fn resolve_in(
    files: &[InstallFile],
    set: &[String],
    namespace_flag: Option<&str>,
) -> Result<Operator, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut not_acted = Vec::new();
    let mut user_spec = Value::Object(Map::new());
    let (mut name, mut namespace) = (None, None);
    for file in files {
        let nodes = match crate::api::decode::parse_trees(&file.source, &file.text) {
            Ok(n) => n,
            Err(d) => {
                problems.extend(d);
                continue;
            }
        };
        for node in nodes {
            match read_document(&file.source, &node, &mut not_acted) {
                Ok((meta_name, meta_ns, spec)) => {
                    name = meta_name.or(name);
                    namespace = meta_ns.or(namespace);
                    merge(&mut user_spec, &spec);
                }
                Err(d) => problems.extend(d),
            }
        }
    }
    for flag in set {
        let source = format!("--set {flag}");
        let Some((path, text)) = flag.split_once('=') else {
            problems.push(
                Diagnostic::new(&source, 0, 0, "expected path=value")
                    .with_fix("e.g. --set meshConfig.accessLogFile=/dev/stdout"),
            );
            continue;
        };
        // `--set profile=demo` and `--set spec.profile=demo` mean the same.
        let path = path.strip_prefix("spec.").unwrap_or(path);
        let segs = match schema::split_path(path) {
            Ok(s) => s,
            Err(reason) => {
                problems.push(Diagnostic::new(&source, 0, 0, reason));
                continue;
            }
        };
        match schema::check_path(&segs) {
            Ok(acted) => {
                if !acted {
                    not_acted.push(path.to_owned());
                }
                set_at(&mut user_spec, &segs, schema::set_value(&segs, text));
            }
            Err((reason, fix)) => {
                let mut d = Diagnostic::new(&source, 0, 0, reason);
                if let Some(fix) = fix {
                    d = d.with_fix(fix);
                }
                problems.push(d);
            }
        }
    }
    let namespace = namespace.or_else(|| namespace_flag.map(str::to_owned));
    finish(name, namespace, user_spec, not_acted, problems)
}

/// The profile under the user's spec, or every problem found.
fn finish(
    name: Option<String>,
    namespace: Option<String>,
    user_spec: Value,
    mut not_acted: Vec<String>,
    mut problems: Vec<Diagnostic>,
) -> Result<Operator, Vec<Diagnostic>> {
    let profile = user_spec["profile"]
        .as_str()
        .unwrap_or("default")
        .to_owned();
    let Some(mut spec) = profile_or_problem(&profile, &mut problems) else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    merge(&mut spec, &user_spec);
    not_acted.sort();
    not_acted.dedup();
    Ok(Operator {
        name: name.unwrap_or_else(|| "installed-state".to_owned()),
        namespace: namespace.unwrap_or_else(|| "istio-system".to_owned()),
        profile,
        user_spec,
        spec,
        not_acted,
    })
}

/// Every IstioOperator document of a scenario file, each its own install (other documents
/// are left to the scenario).
pub fn operators_in(source: &str, text: &str) -> Result<Vec<Operator>, Vec<Diagnostic>> {
    let nodes = crate::api::decode::parse_trees(source, text)?;
    let mut out = Vec::new();
    let mut problems = Vec::new();
    for node in nodes {
        if node.get("kind").and_then(Node::as_str) != Some("IstioOperator") {
            continue;
        }
        let mut not_acted = Vec::new();
        match read_document(source, &node, &mut not_acted) {
            Ok((name, ns, spec)) => match finish(name, ns, spec, not_acted, Vec::new()) {
                Ok(op) => out.push(op),
                Err(d) => problems.extend(d),
            },
            Err(d) => problems.extend(d),
        }
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(problems)
    }
}

fn profile_or_problem(profile: &str, problems: &mut Vec<Diagnostic>) -> Option<Value> {
    let p = self::profile(profile);
    if p.is_none() {
        problems.push(
            Diagnostic::new("profile", 0, 0, format!("mesh has no profile {profile:?}"))
                .with_fix(format!("use one of: {}", PROFILES.join(", "))),
        );
    }
    p
}

type DocParts = (Option<String>, Option<String>, Value);

/// One IstioOperator document: its name, namespace and checked spec.
fn read_document(
    source: &str,
    node: &Node,
    not_acted: &mut Vec<String>,
) -> Result<DocParts, Vec<Diagnostic>> {
    let kind = node.get("kind").and_then(Node::as_str);
    let name = node
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str)
        .map(str::to_owned);
    let namespace = node
        .get("metadata")
        .and_then(|m| m.get("namespace"))
        .and_then(Node::as_str)
        .map(str::to_owned);
    let at = |loc: crate::api::tree::Loc, reason: String| {
        Diagnostic::new(source, loc.line, loc.column, reason).with_object(kind, name.as_deref())
    };
    if kind != Some("IstioOperator") {
        return Err(vec![
            at(
                node.loc,
                format!(
                    "istioctl install takes IstioOperator documents, not {}",
                    kind.unwrap_or("a document without a kind")
                ),
            )
            .with_fix("apply other manifests with mesh apply -f"),
        ]);
    }
    let api = node.get("apiVersion").and_then(Node::as_str).unwrap_or("");
    if api != "install.istio.io/v1alpha1" {
        let loc = node.key_loc("apiVersion").unwrap_or(node.loc);
        return Err(vec![
            at(loc, format!("unknown apiVersion {api:?}"))
                .with_fix("IstioOperator is install.istio.io/v1alpha1"),
        ]);
    }
    let Some(spec) = node.get("spec") else {
        return Ok((name, namespace, Value::Object(Map::new())));
    };
    let mut problems = Vec::new();
    schema::check_node(&schema::SPEC, spec, "", &mut problems, not_acted);
    if let Some(p) = spec.get("profile").and_then(Node::as_str)
        && !PROFILES.contains(&p)
    {
        let loc = spec.get("profile").map_or(spec.loc, |n| n.loc);
        problems.push(schema::Problem {
            loc,
            path: "profile".into(),
            reason: format!("mesh has no profile {p:?}"),
            fix: Some(format!("use one of: {}", PROFILES.join(", "))),
        });
    }
    if problems.is_empty() {
        Ok((name, namespace, spec.to_json()))
    } else {
        Err(problems
            .into_iter()
            .map(|p| {
                let d = at(p.loc, p.reason).with_field(format!("spec.{}", p.path));
                match p.fix {
                    Some(fix) => d.with_fix(fix),
                    None => d,
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> InstallFile {
        InstallFile {
            source: "op.yaml".into(),
            text: text.into(),
        }
    }

    #[test]
    fn the_books_user_gateway_merges_over_the_empty_profile() {
        let text = include_str!("../../../scenarios/istio-in-action/ch4/my-user-gateway.yaml");
        let op = resolve(&[file(text)], &[]).unwrap();
        assert_eq!(op.name, "my-user-gateway-install");
        assert_eq!(op.namespace, "istioinaction");
        assert_eq!(op.profile, "empty");
        let gws = op.spec["components"]["ingressGateways"].as_array().unwrap();
        assert_eq!(gws.len(), 2);
        assert_eq!(gws[0]["name"], "istio-ingressgateway");
        assert_eq!(gws[0]["enabled"], false);
        assert_eq!(gws[1]["label"]["istio"], "my-user-gateway");
        assert_eq!(op.spec["components"]["pilot"]["enabled"], false);
        assert_eq!(op.not_acted, vec!["values.gateways".to_owned()]);
    }

    #[test]
    fn set_flags_override_files_and_pick_profiles() {
        let op = resolve(
            &[],
            &[
                "profile=demo".into(),
                "meshConfig.accessLogEncoding=JSON".into(),
                "components.egressGateways[0].enabled=false".into(),
            ],
        )
        .unwrap();
        assert_eq!(op.name, "installed-state");
        assert_eq!(op.spec["meshConfig"]["accessLogFile"], "/dev/stdout");
        assert_eq!(op.spec["meshConfig"]["accessLogEncoding"], "JSON");
        assert_eq!(op.spec["components"]["egressGateways"][0]["enabled"], false);
        assert_eq!(
            op.spec["components"]["egressGateways"][0]["name"],
            "istio-egressgateway"
        );
    }

    #[test]
    fn bad_input_names_the_place_and_the_fix() {
        let err = resolve(&[], &["meshConfig.acessLogFile=/dev/stdout".into()]).unwrap_err();
        assert_eq!(
            err[0].to_string(),
            "--set meshConfig.acessLogFile=/dev/stdout: unknown field \"acessLogFile\" in meshConfig (did you mean meshConfig.accessLogFile?)"
        );
        let err = resolve(&[], &["profile=ambient".into()]).unwrap_err();
        assert!(
            err[0]
                .to_string()
                .contains("use one of: default, demo, minimal, empty")
        );
        let text = "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nmetadata:\n  name: x\nspec:\n  meshConfig:\n    accessLogFile: /dev/stdout\n  component:\n    pilot: {}\n";
        let err = resolve(&[file(text)], &[]).unwrap_err();
        assert_eq!(
            err[0].to_string(),
            "op.yaml:8:3: IstioOperator/x: spec.component: unknown field \"component\" in spec (did you mean components?)"
        );
        let err = resolve(
            &[file(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
            )],
            &[],
        )
        .unwrap_err();
        assert!(err[0].to_string().contains("not ConfigMap"), "{}", err[0]);
    }
}
