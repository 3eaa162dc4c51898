//! istiod's validating webhook (`validation.istio.io`) for the rules learners meet: what the
//! schema cannot say about a VirtualService or DestinationRule (route kinds that exclude each
//! other, weights, duplicate hosts and subsets, the mesh wildcard). Messages are istiod's; each
//! problem names the field it is about so the caller can locate it in the file.

use std::collections::BTreeSet;

use super::{Destination, DestinationRule, VirtualService};
use crate::api::tree::PathSeg;

/// One rejected rule: where (a field path from the object's root) and istiod's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub path: Vec<PathSeg>,
    pub message: String,
}

/// The prefix kubectl prints before the webhook's message.
pub const DENIED: &str =
    "admission webhook \"validation.istio.io\" denied the request: configuration is invalid";

fn key(k: &str) -> PathSeg {
    PathSeg::Key(k.to_owned())
}

struct Out(Vec<Rejection>);

impl Out {
    fn push(&mut self, path: &[PathSeg], message: impl Into<String>) {
        self.0.push(Rejection {
            path: path.to_vec(),
            message: message.into(),
        });
    }
}

fn at(base: &[PathSeg], more: &[PathSeg]) -> Vec<PathSeg> {
    base.iter().chain(more).cloned().collect()
}

/// Whether one host name covers the other, as istio's `host.Name.Matches` does for the
/// duplicate-host check (`*` and `*.suffix` wildcards).
fn hosts_overlap(a: &str, b: &str) -> bool {
    fn covers(wild: &str, other: &str) -> bool {
        if wild == "*" {
            return true;
        }
        match wild.strip_prefix('*') {
            Some(suffix) => other.ends_with(suffix),
            None => false,
        }
    }
    a == b || covers(a, b) || covers(b, a)
}

/// A DNS-1123 label, as subset names must be.
fn dns_label(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn subset_name(out: &mut Out, path: &[PathSeg], name: &str) {
    if name.is_empty() {
        out.push(path, "subset name cannot be empty");
    } else if !dns_label(name) {
        out.push(path, format!("subset name is invalid: {name}"));
    }
}

fn destination(out: &mut Out, path: &[PathSeg], d: &Destination) {
    if d.host == "*" {
        out.push(&at(path, &[key("host")]), "invalid destination host *");
    }
    if let Some(subset) = d.subset.as_deref().filter(|s| !s.is_empty()) {
        subset_name(out, &at(path, &[key("subset")]), subset);
    }
}

/// Weights: none negative, and several destinations may not all weigh 0.
fn weights(out: &mut Out, path: &[PathSeg], ws: &[Option<i32>]) {
    let mut total: i64 = 0;
    for (i, w) in ws.iter().enumerate() {
        let w = w.unwrap_or(0);
        if w < 0 {
            out.push(
                &at(path, &[PathSeg::Index(i), key("weight")]),
                format!("weight {w} < 0"),
            );
        }
        total += i64::from(w);
    }
    if ws.len() > 1 && total == 0 {
        out.push(path, "total destination weight = 0");
    }
}

/// istiod's `ValidateVirtualService`, for the rules above.
pub fn virtual_service(vs: &VirtualService) -> Vec<Rejection> {
    let mut out = Out(Vec::new());
    let spec = &vs.spec;
    let root = [key("spec")];
    let delegate = spec.hosts.is_empty();
    if delegate {
        if !spec.gateways.is_empty() {
            out.push(
                &at(&root, &[key("gateways")]),
                "delegate virtual service must have no gateways specified",
            );
        }
        if !spec.tls.is_empty() {
            out.push(
                &at(&root, &[key("tls")]),
                "delegate virtual service must have no tls route specified",
            );
        }
        if !spec.tcp.is_empty() {
            out.push(
                &at(&root, &[key("tcp")]),
                "delegate virtual service must have no tcp route specified",
            );
        }
    }
    let applies_to_mesh = spec.gateways.is_empty() || spec.gateways.iter().any(|g| g == "mesh");
    let mut hosts_valid = true;
    for (i, h) in spec.hosts.iter().enumerate() {
        if applies_to_mesh && h == "*" {
            out.push(
                &at(&root, &[key("hosts"), PathSeg::Index(i)]),
                "wildcard host * is not allowed for virtual services bound to the mesh gateway",
            );
            hosts_valid = false;
        }
    }
    if hosts_valid {
        for i in 0..spec.hosts.len() {
            for j in i + 1..spec.hosts.len() {
                if hosts_overlap(&spec.hosts[i], &spec.hosts[j]) {
                    out.push(
                        &at(&root, &[key("hosts"), PathSeg::Index(j)]),
                        format!(
                            "duplicate hosts in virtual service: {} & {}",
                            spec.hosts[i], spec.hosts[j]
                        ),
                    );
                }
            }
        }
    }
    if spec.http.is_empty() && spec.tcp.is_empty() && spec.tls.is_empty() {
        out.push(
            &root,
            "http, tcp or tls must be provided in virtual service",
        );
    }
    for (i, route) in spec.http.iter().enumerate() {
        let path = at(&root, &[key("http"), PathSeg::Index(i)]);
        let name = route.name.as_deref().unwrap_or("");
        if !delegate && route.delegate.is_some() {
            // A root route may only delegate.
            if route.redirect.is_some() {
                out.push(
                    &at(&path, &[key("redirect")]),
                    format!("root HTTP route {name} must not specify redirect"),
                );
            }
            if !route.route.is_empty() {
                out.push(
                    &at(&path, &[key("route")]),
                    format!("root HTTP route {name} must not specify route"),
                );
            }
        } else {
            if delegate && route.delegate.is_some() {
                out.push(
                    &at(&path, &[key("delegate")]),
                    "delegate HTTP route cannot contain delegate",
                );
            }
            http_route_conflicts(&mut out, &path, route);
        }
        if route.mirror.is_some() && !route.mirrors.is_empty() {
            out.push(&path, "HTTP route cannot contain both mirror and mirrors");
        }
        if let Some(p) = route.mirror_percentage.as_ref().map(|p| p.value) {
            let field = at(&path, &[key("mirrorPercentage")]);
            if p > 100.0 {
                out.push(
                    &field,
                    format!("mirror_percentage must have a max value of 100 (it has {p:.6})"),
                );
            }
            if p < 0.0 {
                out.push(
                    &field,
                    format!("mirror_percentage must have a min value of 0 (it has {p:.6})"),
                );
            }
        }
        if let Some(m) = &route.mirror {
            destination(&mut out, &at(&path, &[key("mirror")]), m);
        }
        let route_path = at(&path, &[key("route")]);
        for (j, d) in route.route.iter().enumerate() {
            destination(
                &mut out,
                &at(&route_path, &[PathSeg::Index(j), key("destination")]),
                &d.destination,
            );
        }
        let ws: Vec<Option<i32>> = route.route.iter().map(|d| d.weight).collect();
        weights(&mut out, &route_path, &ws);
    }
    for (i, route) in spec.tcp.iter().enumerate() {
        let path = at(&root, &[key("tcp"), PathSeg::Index(i), key("route")]);
        if route.route.is_empty() {
            out.push(&path, "TCP route is required");
        }
        for (j, d) in route.route.iter().enumerate() {
            destination(
                &mut out,
                &at(&path, &[PathSeg::Index(j), key("destination")]),
                &d.destination,
            );
        }
        let ws: Vec<Option<i32>> = route.route.iter().map(|d| d.weight).collect();
        weights(&mut out, &path, &ws);
    }
    out.0
}

/// The route kinds that exclude each other: route, redirect, directResponse (and fault or
/// rewrite with the last two).
fn http_route_conflicts(out: &mut Out, path: &[PathSeg], r: &super::HttpRoute) {
    let has_route = !r.route.is_empty();
    if r.redirect.is_some() {
        let p = at(path, &[key("redirect")]);
        if has_route {
            out.push(&p, "HTTP route cannot contain both route and redirect");
        }
        if r.fault.is_some() {
            out.push(&p, "HTTP route cannot contain both fault and redirect");
        }
        if r.rewrite.is_some() {
            out.push(
                &p,
                "HTTP route rule cannot contain both rewrite and redirect",
            );
        }
        if r.direct_response.is_some() {
            out.push(
                &p,
                "HTTP route rule cannot contain both direct_response and redirect",
            );
        }
    } else if r.direct_response.is_some() {
        let p = at(path, &[key("directResponse")]);
        if has_route {
            out.push(
                &p,
                "HTTP route cannot contain both route and direct_response",
            );
        }
        if r.fault.is_some() {
            out.push(
                &p,
                "HTTP route cannot contain both fault and direct_response",
            );
        }
        if r.rewrite.is_some() {
            out.push(
                &p,
                "HTTP route rule cannot contain both rewrite and direct_response",
            );
        }
    } else if !has_route && r.delegate.is_none() {
        out.push(path, "HTTP route, redirect or direct_response is required");
    }
}

/// istiod's `ValidateDestinationRule`, for subsets.
pub fn destination_rule(dr: &DestinationRule) -> Vec<Rejection> {
    let mut out = Out(Vec::new());
    let mut seen = BTreeSet::new();
    for (i, s) in dr.spec.subsets.iter().enumerate() {
        let path = [key("spec"), key("subsets"), PathSeg::Index(i), key("name")];
        if !seen.insert(s.name.as_str()) {
            out.push(&path, format!("duplicate subset names: {}", s.name));
        }
        subset_name(&mut out, &path, &s.name);
    }
    out.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::resource::Resource;

    fn vs(yaml: &str) -> Vec<String> {
        let decoded = crate::api::decode::decode("t.yaml", yaml);
        match decoded {
            Ok(mut objs) => match objs.pop().map(|d| d.resource) {
                Some(Resource::VirtualService(v)) => {
                    virtual_service(&v).into_iter().map(|r| r.message).collect()
                }
                _ => vec!["not a VirtualService".to_owned()],
            },
            Err(d) => d.iter().map(|d| d.reason.clone()).collect(),
        }
    }

    #[test]
    fn hosts_overlap_like_istio() {
        assert!(hosts_overlap("a.com", "a.com"));
        assert!(hosts_overlap("*.a.com", "b.a.com"));
        assert!(hosts_overlap("b.a.com", "*.a.com"));
        assert!(hosts_overlap("*", "x"));
        assert!(!hosts_overlap("a.com", "b.com"));
        assert!(!hosts_overlap("*.a.com", "a.com"));
    }

    #[test]
    fn dns_labels() {
        assert!(dns_label("v1"));
        assert!(!dns_label("V1"));
        assert!(!dns_label("-v1"));
        assert!(!dns_label("v_1"));
    }

    #[test]
    fn rejection_reaches_apply_with_field_location() {
        let text = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r\nspec:\n  hosts: [catalog]\n  http:\n  - route:\n    - destination: {host: catalog, subset: v1}\n      weight: 0\n    - destination: {host: catalog, subset: v2}\n      weight: 0\n";
        let err = crate::api::decode::decode("vs.yaml", text).expect_err("rejected");
        let shown = err[0].to_string();
        assert!(shown.starts_with("vs.yaml:8:5:"), "{shown}");
        assert!(shown.contains("total destination weight = 0"), "{shown}");
        assert!(shown.contains(DENIED), "{shown}");
    }

    #[test]
    fn messages_are_istiods() {
        let base = "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: r\nspec:\n";
        let got = vs(&format!(
            "{base}  hosts: ['*']\n  http:\n  - route:\n    - destination: {{host: a}}\n      weight: -1\n"
        ));
        // The schema already refuses negative weights in some CRD versions; either way the
        // mesh wildcard is istiod's own rule.
        assert!(
            got.iter()
                .any(|m| m.contains("wildcard host * is not allowed")),
            "{got:?}"
        );
        let got = vs(&format!(
            "{base}  hosts: [a, a]\n  http:\n  - redirect: {{uri: /x}}\n    route:\n    - destination: {{host: a}}\n"
        ));
        assert!(
            got.iter()
                .any(|m| m.ends_with("duplicate hosts in virtual service: a & a")),
            "{got:?}"
        );
        assert!(
            got.iter()
                .any(|m| m.ends_with("HTTP route cannot contain both route and redirect")),
            "{got:?}"
        );
        let got = vs(&format!(
            "{base}  hosts: [a]\n  http:\n  - match: [{{uri: {{prefix: /}}}}]\n"
        ));
        assert!(
            got.iter()
                .any(|m| m.ends_with("HTTP route, redirect or direct_response is required")),
            "{got:?}"
        );
        let got = vs(&format!(
            "{base}  hosts: [a]\n  http:\n  - route:\n    - destination: {{host: a, subset: V_1}}\n"
        ));
        assert!(
            got.iter()
                .any(|m| m.ends_with("subset name is invalid: V_1")),
            "{got:?}"
        );
        let ok = vs(&format!(
            "{base}  hosts: [a]\n  http:\n  - route:\n    - destination: {{host: a, subset: v1}}\n      weight: 90\n    - destination: {{host: a, subset: v2}}\n      weight: 20\n"
        ));
        assert!(ok.is_empty(), "weights need not add up to 100: {ok:?}");
    }
}
