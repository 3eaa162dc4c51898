//! `istioctl analyze`'s analyzers for the mistakes learners make with traffic rules: what
//! istiod accepts but cannot act on. Each message has Istio's code, level and words, and the
//! field it is about (a path the caller locates in the user's file).
//!
//! | code | analyzer |
//! | --- | --- |
//! | IST0101 | VirtualService host, mirror host, gateway or subset not found |
//! | IST0102 | namespace not enabled for injection |
//! | IST0109 | VirtualServices bound to the mesh gateway define the same host |
//! | IST0132 | VirtualService host not in its Gateway's hosts |
//! | IST0173 | DestinationRule subset selects no pods |
//! | IST0174 | DestinationRule host matches no service |

use std::collections::BTreeMap;

use crate::api::istio::{Destination, VirtualService};
use crate::api::tree::PathSeg;
use crate::api::{Resource, meta};

use super::model::{Model, ServiceInfo};
use super::names;

/// Istio's message levels, most severe first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Error,
    Warning,
    Info,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Error => "Error",
            Level::Warning => "Warning",
            Level::Info => "Info",
        }
    }

    /// `Error`, `Warning`, `Info` (any case), as `--failure-threshold` takes them.
    pub fn parse(s: &str) -> Option<Level> {
        match s.to_ascii_lowercase().as_str() {
            "error" => Some(Level::Error),
            "warning" | "warn" => Some(Level::Warning),
            "info" => Some(Level::Info),
            _ => None,
        }
    }
}

/// One analyzer finding.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub code: &'static str,
    pub level: Level,
    /// The resource it is about: kind, namespace ("" for cluster-scoped), name.
    pub kind: String,
    pub namespace: String,
    pub name: String,
    /// The field it is about, from the object's root (empty: the object).
    pub path: Vec<PathSeg>,
    pub text: String,
}

impl Message {
    /// istioctl's origin: `VirtualService istioinaction/catalog`.
    pub fn origin(&self) -> String {
        if self.namespace.is_empty() {
            format!("{} {}", self.kind, self.name)
        } else {
            format!("{} {}/{}", self.kind, self.namespace, self.name)
        }
    }

    pub fn doc_url(&self) -> String {
        format!(
            "https://istio.io/v{}/docs/reference/config/analysis/{}/",
            names::ISTIO_VERSION
                .rsplit_once('.')
                .map_or(names::ISTIO_VERSION, |(major_minor, _)| major_minor),
            self.code.to_ascii_lowercase()
        )
    }
}

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_owned())
}

/// Namespaces istioctl leaves out of analysis.
const SYSTEM_NAMESPACES: [&str; 5] = [
    "kube-system",
    "kube-public",
    "kube-node-lease",
    "local-path-storage",
    "istio-system",
];

/// Runs every analyzer over one set of resources (the sandbox's and/or the user's files).
pub fn analyze(resources: &[Resource]) -> Vec<Message> {
    let model = Model::from_resources(resources);
    let mut out = Vec::new();
    for vs in &model.virtual_services {
        vs_destinations(&model, vs, &mut out);
        vs_gateways(&model, vs, &mut out);
    }
    mesh_gateway_conflicts(&model, &mut out);
    destination_rules(&model, &mut out);
    namespaces_not_injected(resources, &mut out);
    out.sort_by(|a, b| {
        (a.level, &a.namespace, &a.kind, &a.name, a.code).cmp(&(
            b.level,
            &b.namespace,
            &b.kind,
            &b.name,
            b.code,
        ))
    });
    out
}

fn vs_message(
    vs: &VirtualService,
    code: &'static str,
    level: Level,
    path: Vec<PathSeg>,
    text: String,
) -> Message {
    Message {
        code,
        level,
        kind: "VirtualService".to_owned(),
        namespace: vs.metadata.namespace.clone().unwrap_or_default(),
        name: vs.metadata.name.clone(),
        path,
        text,
    }
}

/// The Service (or ServiceEntry host, wildcards included) a destination host names.
fn service_for<'m>(model: &'m Model, host: &str, namespace: &str) -> Option<&'m ServiceInfo> {
    let fqdn = names::resolve_shortname(host, namespace);
    model.services.iter().find(|s| {
        s.fqdn == fqdn
            || s.fqdn
                .strip_prefix('*')
                .is_some_and(|suffix| fqdn.ends_with(suffix))
    })
}

/// IST0101 for route and mirror hosts, and for subsets no DestinationRule defines.
fn vs_destinations(model: &Model, vs: &VirtualService, out: &mut Vec<Message>) {
    let ns = vs.metadata.namespace.as_deref().unwrap_or("default");
    let mut check = |d: &Destination, path: Vec<PathSeg>, mirror: bool| {
        let Some(svc) = service_for(model, &d.host, ns) else {
            let what = if mirror { "mirror host" } else { "host" };
            let mut host_path = path.clone();
            host_path.push(key("host"));
            out.push(vs_message(
                vs,
                "IST0101",
                Level::Error,
                host_path,
                format!("Referenced {what} not found: {:?}", d.host),
            ));
            return;
        };
        let Some(subset) = d.subset.as_deref().filter(|s| !s.is_empty()) else {
            return;
        };
        let fqdn = names::resolve_shortname(&d.host, ns);
        let defined = model
            .destination_rule_for(&fqdn, ns, &svc.namespace)
            .is_some_and(|dr| dr.spec.subsets.iter().any(|s| s.name == subset));
        if !defined {
            let what = if mirror {
                "mirror+subset in destinationrule"
            } else {
                "host+subset in destinationrule"
            };
            let mut subset_path = path;
            subset_path.push(key("subset"));
            out.push(vs_message(
                vs,
                "IST0101",
                Level::Error,
                subset_path,
                format!("Referenced {what} not found: \"{}+{subset}\"", d.host),
            ));
        }
    };
    for (i, http) in vs.spec.http.iter().enumerate() {
        for (j, r) in http.route.iter().enumerate() {
            let path = vec![
                key("spec"),
                key("http"),
                PathSeg::Index(i),
                key("route"),
                PathSeg::Index(j),
                key("destination"),
            ];
            check(&r.destination, path, false);
        }
        if let Some(m) = &http.mirror {
            check(
                m,
                vec![key("spec"), key("http"), PathSeg::Index(i), key("mirror")],
                true,
            );
        }
    }
    // TCP and TLS routes name destinations the same way.
    let l4 = vs
        .spec
        .tcp
        .iter()
        .map(|r| ("tcp", &r.route))
        .enumerate()
        .chain(vs.spec.tls.iter().map(|r| ("tls", &r.route)).enumerate());
    for (i, (section, routes)) in l4 {
        for (j, r) in routes.iter().enumerate() {
            let path = vec![
                key("spec"),
                key(section),
                PathSeg::Index(i),
                key("route"),
                PathSeg::Index(j),
                key("destination"),
            ];
            check(&r.destination, path, false);
        }
    }
}

/// Whether a Gateway server host (`ns/host`, `*/host`, `./host`, `host`) admits a
/// VirtualService host from `vs_ns`.
fn gateway_host_admits(server_host: &str, gw_ns: &str, vs_host: &str, vs_ns: &str) -> bool {
    let (ns, host) = match server_host.split_once('/') {
        Some((".", h)) => (gw_ns, h),
        Some((n, h)) => (n, h),
        None => ("*", server_host),
    };
    if ns != "*" && ns != vs_ns {
        return false;
    }
    let covers = |wild: &str, other: &str| {
        wild == "*"
            || wild
                .strip_prefix('*')
                .is_some_and(|sfx| other.ends_with(sfx))
    };
    host == vs_host || covers(host, vs_host) || covers(vs_host, host)
}

/// IST0101 for gateways that do not exist, IST0132 for hosts a gateway does not serve.
fn vs_gateways(model: &Model, vs: &VirtualService, out: &mut Vec<Message>) {
    let ns = vs.metadata.namespace.as_deref().unwrap_or("default");
    for (i, gw) in vs.spec.gateways.iter().enumerate() {
        if gw == "mesh" {
            continue;
        }
        let (gw_ns, gw_name) = gw.split_once('/').unwrap_or((ns, gw));
        let path = vec![key("spec"), key("gateways"), PathSeg::Index(i)];
        let found = model.gateways.iter().find(|g| {
            g.metadata.name == gw_name
                && g.metadata.namespace.as_deref().unwrap_or("default") == gw_ns
        });
        if found.is_none() {
            out.push(vs_message(
                vs,
                "IST0101",
                Level::Error,
                path.clone(),
                format!("Referenced gateway not found: {gw:?}"),
            ));
        }
        // A missing gateway serves no host either: istioctl reports both.
        let served = |h: &String| {
            found.is_some_and(|g| {
                g.spec
                    .servers
                    .iter()
                    .flat_map(|s| &s.hosts)
                    .any(|sh| gateway_host_admits(sh, gw_ns, h, ns))
            })
        };
        if !vs.spec.hosts.iter().all(served) {
            out.push(vs_message(
                vs,
                "IST0132",
                Level::Warning,
                path,
                format!(
                    "one or more host {} defined in VirtualService {ns}/{} not found in Gateway {gw_ns}/{gw_name}.",
                    go_list(&vs.spec.hosts),
                    vs.metadata.name
                ),
            ));
        }
    }
}

/// Go's `%v` of a string slice: `[a b]`.
fn go_list(items: &[String]) -> String {
    format!("[{}]", items.join(" "))
}

/// IST0109: two VirtualServices for the mesh gateway with the same host.
fn mesh_gateway_conflicts(model: &Model, out: &mut Vec<Message>) {
    let mut by_host: BTreeMap<String, Vec<&VirtualService>> = BTreeMap::new();
    for vs in &model.virtual_services {
        let mesh = vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == "mesh");
        if !mesh {
            continue;
        }
        let ns = vs.metadata.namespace.as_deref().unwrap_or("default");
        for h in &vs.spec.hosts {
            // Exported everywhere (Istio's default): scope `*`.
            by_host
                .entry(format!("*/{}", names::resolve_shortname(h, ns)))
                .or_default()
                .push(vs);
        }
    }
    for (scoped, list) in by_host {
        if list.len() < 2 {
            continue;
        }
        let mut names: Vec<String> = list
            .iter()
            .map(|v| {
                format!(
                    "{}/{}",
                    v.metadata.namespace.as_deref().unwrap_or("default"),
                    v.metadata.name
                )
            })
            .collect();
        names.sort();
        let joined = names.join(",");
        for vs in list {
            out.push(vs_message(
                vs,
                "IST0109",
                Level::Error,
                vec![key("metadata"), key("name")],
                format!(
                    "The VirtualServices {joined} associated with mesh gateway define the same host {scoped} which can lead to undefined behavior. This can be fixed by merging the conflicting VirtualServices into a single resource."
                ),
            ));
        }
    }
}

/// IST0174 for hosts without a service, IST0173 for subsets that select no pod.
fn destination_rules(model: &Model, out: &mut Vec<Message>) {
    for dr in &model.destination_rules {
        let ns = dr.metadata.namespace.clone().unwrap_or_default();
        let message = |code, level, path, text| Message {
            code,
            level,
            kind: "DestinationRule".to_owned(),
            namespace: ns.clone(),
            name: dr.metadata.name.clone(),
            path,
            text,
        };
        let Some(svc) = service_for(model, &dr.spec.host, &ns) else {
            out.push(message(
                "IST0174",
                Level::Warning,
                vec![key("spec"), key("host")],
                format!(
                    "The host {} defined in the DestinationRule does not match any services in the mesh.",
                    dr.spec.host
                ),
            ));
            continue;
        };
        for (i, subset) in dr.spec.subsets.iter().enumerate() {
            let mut selector = svc.selector.clone();
            selector.extend(subset.labels.clone());
            let selects = model
                .workloads
                .iter()
                .any(|w| w.namespace == svc.namespace && meta::labels_match(&selector, &w.labels));
            // ServiceEntries without a selector have no pods to select: not a finding.
            if !selects && (svc.entry.is_none() || !svc.selector.is_empty()) {
                out.push(message(
                    "IST0173",
                    Level::Error,
                    vec![key("spec"), key("subsets"), PathSeg::Index(i), key("name")],
                    format!(
                        "The Subset {} defined in the DestinationRule does not select any pods. Which may lead to 503 UH (NoHealthyUpstream).",
                        subset.name
                    ),
                ));
            }
        }
    }
}

/// IST0102: a namespace with workloads but without an injection label.
fn namespaces_not_injected(resources: &[Resource], out: &mut Vec<Message>) {
    for r in resources {
        let Resource::Namespace(ns) = r else { continue };
        let name = ns.metadata.name.as_str();
        if SYSTEM_NAMESPACES.contains(&name) {
            continue;
        }
        let labels = &ns.metadata.labels;
        if labels.contains_key("istio-injection") || labels.contains_key("istio.io/rev") {
            continue;
        }
        out.push(Message {
            code: "IST0102",
            level: Level::Info,
            kind: "Namespace".to_owned(),
            namespace: String::new(),
            name: name.to_owned(),
            path: Vec::new(),
            text: format!(
                "The namespace is not enabled for Istio injection. Run 'kubectl label namespace {name} istio-injection=enabled' to enable it, or 'kubectl label namespace {name} istio-injection=disabled' to explicitly mark it as not needing injection."
            ),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resources(yaml: &str) -> Vec<Resource> {
        crate::api::decode::decode("t.yaml", yaml)
            .expect("valid")
            .into_iter()
            .map(|d| d.resource)
            .collect()
    }

    const WORLD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: istioinaction, labels: {istio-injection: enabled}}
---
apiVersion: v1
kind: Service
metadata: {name: catalog, namespace: istioinaction}
spec:
  selector: {app: catalog}
  ports: [{name: http, port: 80, targetPort: 3000}]
---
apiVersion: v1
kind: Pod
metadata: {name: catalog-1, namespace: istioinaction, labels: {app: catalog, version: v1}}
spec:
  containers: [{name: catalog, image: istioinaction/catalog:latest}]
status: {podIP: 127.10.0.5}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: coolstore-gateway, namespace: istioinaction}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [webapp.istioinaction.io]
"#;

    fn codes(extra: &str) -> Vec<(String, String)> {
        analyze(&resources(&format!("{WORLD}---\n{extra}")))
            .into_iter()
            .map(|m| (m.code.to_owned(), m.text))
            .collect()
    }

    #[test]
    fn unknown_host_subset_and_gateway() {
        let got = codes(
            r#"apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: catalog, namespace: istioinaction}
spec:
  hosts: [catalog.istioinaction.io]
  gateways: [coolstore-gateway, nope]
  http:
  - route:
    - destination: {host: catalog, subset: v3}
      weight: 50
    - destination: {host: catalog2}
      weight: 50
  tcp:
  - route:
    - destination: {host: tcp-nowhere}
"#,
        );
        let has = |code: &str, text: &str| got.iter().any(|(c, t)| c == code && t == text);
        assert!(
            has("IST0101", "Referenced host not found: \"catalog2\""),
            "{got:#?}"
        );
        assert!(
            has(
                "IST0101",
                "Referenced host+subset in destinationrule not found: \"catalog+v3\""
            ),
            "{got:#?}"
        );
        assert!(
            has("IST0101", "Referenced gateway not found: \"nope\""),
            "{got:#?}"
        );
        assert!(
            has("IST0101", "Referenced host not found: \"tcp-nowhere\""),
            "{got:#?}"
        );
        assert!(
            has(
                "IST0132",
                "one or more host [catalog.istioinaction.io] defined in VirtualService istioinaction/catalog not found in Gateway istioinaction/coolstore-gateway."
            ),
            "{got:#?}"
        );
    }

    #[test]
    fn subsets_without_pods_and_unknown_rule_hosts() {
        let got = codes(
            r#"apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: catalog, namespace: istioinaction}
spec:
  host: catalog
  subsets:
  - {name: version-v1, labels: {version: v1}}
  - {name: version-v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ghost, namespace: istioinaction}
spec:
  host: ghost
"#,
        );
        let codes: Vec<&str> = got.iter().map(|(c, _)| c.as_str()).collect();
        assert_eq!(codes, ["IST0173", "IST0174"], "{got:#?}");
        assert!(got[0].1.starts_with("The Subset version-v2 "), "{got:#?}");
    }

    #[test]
    fn conflicting_mesh_virtual_services() {
        let vs = |name: &str| {
            format!(
                "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: {name}, namespace: istioinaction}}\nspec:\n  hosts: [catalog]\n  http:\n  - route:\n    - destination: {{host: catalog}}\n"
            )
        };
        let got = codes(&format!("{}---\n{}", vs("a"), vs("b")));
        let conflicts: Vec<_> = got.iter().filter(|(c, _)| c == "IST0109").collect();
        assert_eq!(conflicts.len(), 2, "{got:#?}");
        assert!(conflicts[0].1.starts_with(
            "The VirtualServices istioinaction/a,istioinaction/b associated with mesh gateway define the same host */catalog.istioinaction.svc.cluster.local "
        ));
    }

    #[test]
    fn a_clean_world_has_no_findings() {
        assert!(
            codes("apiVersion: v1\nkind: Namespace\nmetadata: {name: istio-system}\n").is_empty()
        );
    }
}
