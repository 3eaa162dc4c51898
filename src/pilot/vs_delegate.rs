//! VirtualService delegation (`http[].delegate`): a root VirtualService hands the requests its
//! route matches to another VirtualService's `http` routes, whose matches are merged with the
//! root's as istiod's `mergeHTTPRoutes` merges them.

use std::collections::BTreeMap;

use crate::api::istio::{HttpMatchRequest, HttpRoute, StringMatch, VirtualService};

use super::model::Model;

/// The routes `vs` stands for, each with the namespace its destinations resolve in: a
/// delegating route becomes the delegate's routes (matches merged, the root's settings
/// filling what the delegate leaves unset). Delegation is one level deep, as in istiod.
pub fn expand(
    vs: &VirtualService,
    model: &Model,
    warnings: &mut Vec<String>,
) -> Vec<(HttpRoute, String)> {
    let ns = vs.metadata.namespace.clone().unwrap_or_default();
    let mut out = Vec::new();
    for root in &vs.spec.http {
        let Some(d) = &root.delegate else {
            out.push((root.clone(), ns.clone()));
            continue;
        };
        let dns = d.namespace.clone().unwrap_or_else(|| ns.clone());
        let Some(delegate) = model.virtual_services.iter().find(|v| {
            v.metadata.name == d.name && v.metadata.namespace.as_deref().unwrap_or("") == dns
        }) else {
            warnings.push(format!(
                "VirtualService {ns}/{}: delegate {dns}/{} not found",
                vs.metadata.name, d.name
            ));
            continue;
        };
        for sub in &delegate.spec.http {
            if sub.delegate.is_some() {
                continue;
            }
            let matches = merge_matches(&root.match_, &sub.match_);
            // Every merged match conflicted: the delegate route cannot apply here.
            if matches.is_empty() && !(root.match_.is_empty() && sub.match_.is_empty()) {
                continue;
            }
            let mut r = sub.clone();
            r.match_ = matches;
            r.rewrite = r.rewrite.or_else(|| root.rewrite.clone());
            r.timeout = r.timeout.or_else(|| root.timeout.clone());
            r.retries = r.retries.or_else(|| root.retries.clone());
            r.fault = r.fault.or_else(|| root.fault.clone());
            r.mirror = r.mirror.or_else(|| root.mirror.clone());
            r.cors_policy = r.cors_policy.or_else(|| root.cors_policy.clone());
            r.headers = r.headers.or_else(|| root.headers.clone());
            out.push((r, dns.clone()));
        }
    }
    out
}

/// istiod's `mergeHTTPMatchRequests`: every delegate match within every root match.
fn merge_matches(root: &[HttpMatchRequest], sub: &[HttpMatchRequest]) -> Vec<HttpMatchRequest> {
    if root.is_empty() {
        return sub.to_vec();
    }
    if sub.is_empty() {
        return root.to_vec();
    }
    sub.iter()
        .flat_map(|s| root.iter().filter_map(move |r| merge_match(r, s)))
        .collect()
}

/// One merged match, or `None` when the two conflict (istiod's `hasConflict`).
fn merge_match(root: &HttpMatchRequest, sub: &HttpMatchRequest) -> Option<HttpMatchRequest> {
    let mut out = sub.clone();
    out.name = match (&root.name, &sub.name) {
        (Some(r), Some(s)) => Some(format!("{r}-{s}")),
        (r, s) => s.clone().or_else(|| r.clone()),
    };
    out.uri = merge_uri(root.uri.as_ref(), sub.uri.as_ref())?;
    out.scheme = same(root.scheme.as_ref(), sub.scheme.as_ref())?;
    out.method = same(root.method.as_ref(), sub.method.as_ref())?;
    out.authority = same(root.authority.as_ref(), sub.authority.as_ref())?;
    out.port = same(root.port.as_ref(), sub.port.as_ref())?;
    out.source_namespace = same(
        root.source_namespace.as_ref(),
        sub.source_namespace.as_ref(),
    )?;
    if root.ignore_uri_case != sub.ignore_uri_case && root.uri.is_some() && sub.uri.is_some() {
        return None;
    }
    out.ignore_uri_case = root.ignore_uri_case || sub.ignore_uri_case;
    out.headers = union(&root.headers, &sub.headers)?;
    out.without_headers = union(&root.without_headers, &sub.without_headers)?;
    out.query_params = union(&root.query_params, &sub.query_params)?;
    out.source_labels = union(&root.source_labels, &sub.source_labels)?;
    // Only the root is bound to gateways.
    out.gateways = root.gateways.clone();
    Some(out)
}

/// A delegate's uri must stay within the root's prefix (or equal its exact path).
fn merge_uri(root: Option<&StringMatch>, sub: Option<&StringMatch>) -> Option<Option<StringMatch>> {
    match (root, sub) {
        (None, s) => Some(s.cloned()),
        (Some(r), None) => Some(Some(r.clone())),
        (
            Some(StringMatch::Prefix(r)),
            Some(s @ (StringMatch::Prefix(p) | StringMatch::Exact(p))),
        ) if p.starts_with(r.as_str()) => Some(Some(s.clone())),
        (Some(r @ StringMatch::Exact(a)), Some(StringMatch::Exact(b))) if a == b => {
            Some(Some(r.clone()))
        }
        _ => None,
    }
}

/// Both set and different is a conflict; otherwise whichever is set.
fn same<T: Clone + PartialEq>(root: Option<&T>, sub: Option<&T>) -> Option<Option<T>> {
    match (root, sub) {
        (Some(r), Some(s)) if r != s => None,
        (r, s) => Some(s.or(r).cloned()),
    }
}

fn union<V: Clone + PartialEq>(
    root: &BTreeMap<String, V>,
    sub: &BTreeMap<String, V>,
) -> Option<BTreeMap<String, V>> {
    let mut out = root.clone();
    for (k, v) in sub {
        if out.get(k).is_some_and(|r| r != v) {
            return None;
        }
        out.insert(k.clone(), v.clone());
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::super::vs_routes::{RouteScope, http_routes};
    use super::*;

    fn vs(text: &str) -> VirtualService {
        serde_saphyr::from_str(text).expect("vs")
    }

    #[test]
    fn delegate_routes_are_merged_into_the_roots_matches() {
        let root = vs(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: root, namespace: istio-system}\nspec:\n  hosts: [catalog.istioinaction.io]\n  gateways: [gw]\n  http:\n  - match: [{uri: {prefix: /items}}]\n    timeout: 3s\n    delegate: {name: items, namespace: istioinaction}\n  - match: [{uri: {prefix: /other}}]\n    delegate: {name: missing}\n",
        );
        let items = vs(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: items, namespace: istioinaction}\nspec:\n  http:\n  - match: [{uri: {prefix: /items/special}, headers: {x-v: {exact: \"2\"}}}]\n    route: [{destination: {host: catalog, subset: v2}}]\n  - match: [{uri: {prefix: /elsewhere}}]\n    route: [{destination: {host: elsewhere}}]\n  - route: [{destination: {host: catalog, subset: v1}}]\n",
        );
        let model = Model {
            virtual_services: vec![root.clone(), items],
            ..Default::default()
        };
        let mut warnings = Vec::new();
        let routes = http_routes(
            &root,
            &model,
            80,
            RouteScope::Gateway("istio-system", "gw"),
            &mut warnings,
        );
        assert_eq!(
            warnings,
            ["VirtualService istio-system/root: delegate istio-system/missing not found"]
        );
        let got: Vec<(Option<String>, usize, String, Option<String>)> = routes
            .iter()
            .map(|r| {
                let a = r.route.as_ref().expect("route");
                (
                    r.route_match.prefix.clone(),
                    r.route_match.headers.len(),
                    a.cluster.clone().unwrap_or_default(),
                    a.timeout.map(|t| format!("{:?}", t.get())),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    Some("/items/special".to_owned()),
                    1,
                    "outbound|80|v2|catalog.istioinaction.svc.cluster.local".to_owned(),
                    Some("3s".to_owned())
                ),
                (
                    Some("/items".to_owned()),
                    0,
                    "outbound|80|v1|catalog.istioinaction.svc.cluster.local".to_owned(),
                    Some("3s".to_owned())
                ),
            ]
        );
    }
}
