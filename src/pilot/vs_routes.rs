//! A VirtualService's `http` routes → Envoy routes, as istiod translates them: one Envoy route
//! per match, destinations as clusters (`outbound|port|subset|fqdn`) or weighted clusters,
//! rewrites, redirects, header operations, timeouts and retries, with the `istio.config`
//! metadata and decorator that proxy-config shows. What mesh does not translate yet is reported,
//! never dropped silently.

use crate::api::istio::{HttpMatchRequest, HttpRoute, StringMatch, VirtualService};
use crate::xds::core::{DataSource, HeaderAppendAction, HeaderValue, HeaderValueOption};
use crate::xds::de::Duration;
use crate::xds::matcher::{HeaderMatcher, QueryParameterMatcher, RegexMatcher, StringMatcher};
use crate::xds::route::{
    ClusterWeight, DirectResponseAction, RedirectAction, RedirectResponseCode, RetryPolicy, Route,
    RouteMatch, WeightedCluster,
};

use super::build::{default_retry_policy, route_to};
use super::model::Model;
use super::names;

/// Where routes are being built: a sidecar (`mesh`) or the gateway `(namespace, name)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteScope<'a> {
    Mesh,
    Gateway(&'a str, &'a str),
}

/// Routes for one VirtualService on a listener port (`port` picks the destination port when a
/// destination names none and its Service has several). Matches that name other gateways
/// (`gateways`) or another port (`port`) are left out, as istiod leaves them out.
pub fn http_routes(
    vs: &VirtualService,
    model: &Model,
    port: u16,
    scope: RouteScope<'_>,
    warnings: &mut Vec<String>,
) -> Vec<Route> {
    http_routes_from(vs, model, port, scope, None, warnings)
}

/// The workload a sidecar's routes are built for: matches with `sourceLabels` or
/// `sourceNamespace` apply only to the workloads they name (istiod's `sourceMatchHTTP`).
pub struct Source<'a> {
    pub labels: &'a std::collections::BTreeMap<String, String>,
    pub namespace: &'a str,
}

/// [`http_routes`] for one workload's proxy.
pub fn http_routes_from(
    vs: &VirtualService,
    model: &Model,
    port: u16,
    scope: RouteScope<'_>,
    source: Option<&Source<'_>>,
    warnings: &mut Vec<String>,
) -> Vec<Route> {
    let root_ns = vs.metadata.namespace.clone().unwrap_or_default();
    let path = names::config_path("virtual-service", &root_ns, &vs.metadata.name);
    let mut out = Vec::new();
    // Delegated routes' destinations resolve in the delegate's namespace.
    let expanded = super::vs_delegate::expand(vs, model, warnings);
    for (i, (http, ns)) in expanded.iter().enumerate() {
        unsupported(vs, i, http, warnings);
        let matches: Vec<Option<&HttpMatchRequest>> = if http.match_.is_empty() {
            vec![None]
        } else {
            let here: Vec<Option<&HttpMatchRequest>> = http
                .match_
                .iter()
                .filter(|m| match_applies(m, &root_ns, scope, port) && source_applies(m, source))
                .map(Some)
                .collect();
            if here.is_empty() {
                continue;
            }
            here
        };
        for m in matches {
            let route_match = m.map(convert_match).unwrap_or_else(|| RouteMatch {
                prefix: Some("/".to_owned()),
                ..Default::default()
            });
            let (cluster, host_port) = first_cluster(http, model, ns, port);
            let mut route = route_to(
                &cluster,
                route_match.clone(),
                &decorator(&host_port, &route_match),
                Some(&path),
            );
            route.name = match (&http.name, m.and_then(|m| m.name.as_ref())) {
                (Some(r), Some(mn)) => format!("{r}.{mn}"),
                (Some(r), None) => r.clone(),
                _ => String::new(),
            };
            if let Some(r) = &http.redirect {
                route.route = None;
                route.redirect = Some(RedirectAction {
                    path_redirect: r.uri.clone(),
                    host_redirect: r.authority.clone(),
                    port_redirect: r.port,
                    scheme_redirect: r.scheme.clone(),
                    response_code: match r.redirect_code.unwrap_or(301) {
                        302 => RedirectResponseCode::Found,
                        303 => RedirectResponseCode::SeeOther,
                        307 => RedirectResponseCode::TemporaryRedirect,
                        308 => RedirectResponseCode::PermanentRedirect,
                        _ => RedirectResponseCode::MovedPermanently,
                    },
                    ..Default::default()
                });
            } else if let Some(dr) = http.direct_response.as_ref().and_then(direct_response) {
                route.route = None;
                route.direct_response = Some(dr);
            } else if let Some(action) = route.route.as_mut() {
                if http.route.len() > 1 {
                    action.cluster = None;
                    action.weighted_clusters = Some(weighted(http, model, ns, port));
                } else if let Some(d) = http.route.first() {
                    action.hash_policy = destination_hash_policy(&d.destination, model, ns, port);
                }
                if let Some(rw) = &http.rewrite {
                    if let Some(uri) = &rw.uri {
                        action.prefix_rewrite = Some(uri.clone());
                    }
                    if let Some(a) = &rw.authority {
                        action.host_rewrite_literal = Some(a.clone());
                    }
                }
                if let Some(t) = http
                    .timeout
                    .as_deref()
                    .and_then(|t| crate::api::parse_duration(t).ok())
                {
                    action.timeout = Some(Duration(t));
                }
                if let Some(r) = &http.retries {
                    action.retry_policy = retry(r);
                }
                action.request_mirror_policies =
                    super::vs_mirror::mirror_policies(http, model, ns, port, warnings);
            }
            if let Some(f) = &http.fault {
                route.typed_per_filter_config = super::fault::route_fault(f);
            }
            if let Some(h) = &http.headers {
                if let Some(req) = &h.request {
                    route.request_headers_to_add = header_ops(&req.set, &req.add);
                    route.request_headers_to_remove = req.remove.clone();
                }
                if let Some(resp) = &h.response {
                    route.response_headers_to_add = header_ops(&resp.set, &resp.add);
                    route.response_headers_to_remove = resp.remove.clone();
                }
            }
            out.push(route);
        }
    }
    out
}

fn unsupported(vs: &VirtualService, i: usize, http: &HttpRoute, warnings: &mut Vec<String>) {
    let mut missing = Vec::new();
    if http.cors_policy.is_some() {
        missing.push("corsPolicy");
    }
    if http
        .direct_response
        .as_ref()
        .is_some_and(|d| direct_response(d).is_none())
    {
        missing.push("directResponse");
    }
    if !missing.is_empty() {
        warnings.push(format!(
            "VirtualService {}/{}: http[{i}]: {} not acted on by mesh yet",
            vs.metadata.namespace.as_deref().unwrap_or(""),
            vs.metadata.name,
            missing.join(", ")
        ));
    }
}

/// `directResponse: {status, body: {string | bytes}}` as istiod writes it: the body inline
/// (`bytes` stay base64, as protobuf JSON carries them). `None` when it has no valid status.
fn direct_response(v: &serde_json::Value) -> Option<DirectResponseAction> {
    let status = u32::try_from(v.get("status")?.as_u64()?).ok()?;
    let body = v.get("body").map(|b| DataSource {
        inline_string: b.get("string").and_then(|s| s.as_str()).map(str::to_owned),
        inline_bytes: b.get("bytes").and_then(|s| s.as_str()).map(str::to_owned),
        ..Default::default()
    });
    Some(DirectResponseAction { status, body })
}

/// The cluster of the route's first destination and the `host:port` its decorator names.
fn first_cluster(http: &HttpRoute, model: &Model, ns: &str, port: u16) -> (String, String) {
    match http.route.first() {
        Some(d) => destination_cluster(&d.destination, model, ns, port),
        None => ("BlackHoleCluster".to_owned(), String::new()),
    }
}

/// `outbound|<port>|<subset>|<fqdn>` for a destination: the port given, or the Service's only
/// port, or the listener's.
pub fn destination_cluster(
    d: &crate::api::istio::Destination,
    model: &Model,
    ns: &str,
    port: u16,
) -> (String, String) {
    let svc = model.service_for_host(&d.host, ns);
    let fqdn = names::resolve_shortname(&d.host, ns);
    let port = d
        .port_number()
        .and_then(|p| u16::try_from(p).ok())
        .or_else(|| svc.and_then(|s| (s.ports.len() == 1).then(|| s.ports[0].port)))
        .unwrap_or(port);
    let subset = d.subset.clone().unwrap_or_default();
    (
        names::outbound_cluster(port, &subset, &fqdn),
        format!("{fqdn}:{port}"),
    )
}

/// The `hash_policy` a destination's DestinationRule asks for (`consistentHash`), as istiod
/// puts it on routes with one destination.
fn destination_hash_policy(
    d: &crate::api::istio::Destination,
    model: &Model,
    ns: &str,
    port: u16,
) -> Vec<crate::xds::route::HashPolicy> {
    let fqdn = names::resolve_shortname(&d.host, ns);
    let svc_ns = model
        .service_for_host(&d.host, ns)
        .map(|s| s.namespace.clone())
        .unwrap_or_else(|| ns.to_owned());
    let Some(dr) = model.destination_rule_for(&fqdn, ns, &svc_ns) else {
        return Vec::new();
    };
    let subset = d
        .subset
        .as_deref()
        .and_then(|name| dr.spec.subsets.iter().find(|s| s.name == name));
    let port = d
        .port_number()
        .and_then(|p| u16::try_from(p).ok())
        .unwrap_or(port);
    super::traffic_policy::hash_policy(&super::traffic_policy::effective(Some(dr), subset, port))
}

fn weighted(http: &HttpRoute, model: &Model, ns: &str, port: u16) -> WeightedCluster {
    let n = http.route.len() as u32;
    WeightedCluster {
        clusters: http
            .route
            .iter()
            .map(|d| ClusterWeight {
                name: destination_cluster(&d.destination, model, ns, port).0,
                weight: Some(
                    d.weight
                        .and_then(|w| u32::try_from(w).ok())
                        .unwrap_or(100 / n.max(1)),
                ),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    }
}

fn decorator(host_port: &str, m: &RouteMatch) -> String {
    let path = if let Some(p) = &m.prefix {
        format!("{p}*")
    } else if let Some(p) = &m.path {
        p.clone()
    } else if let Some(r) = &m.safe_regex {
        r.regex.clone()
    } else {
        "/*".to_owned()
    };
    format!("{host_port}{path}")
}

fn string_matcher(s: &StringMatch) -> Option<StringMatcher> {
    let mut m = StringMatcher::default();
    match s {
        StringMatch::Exact(v) => m.exact = Some(v.clone()),
        StringMatch::Prefix(v) => m.prefix = Some(v.clone()),
        StringMatch::Regex(v) => {
            m.safe_regex = Some(RegexMatcher {
                google_re2: None,
                regex: v.clone(),
            })
        }
        StringMatch::Present => return None,
    }
    Some(m)
}

fn header(name: &str, s: &StringMatch, invert: bool) -> HeaderMatcher {
    let mut h = HeaderMatcher {
        name: name.to_owned(),
        invert_match: invert,
        ..Default::default()
    };
    match string_matcher(s) {
        Some(m) => h.string_match = Some(m),
        None => h.present_match = Some(true),
    }
    h
}

fn convert_match(m: &HttpMatchRequest) -> RouteMatch {
    let mut r = RouteMatch::default();
    match &m.uri {
        Some(StringMatch::Exact(p)) => r.path = Some(p.clone()),
        Some(StringMatch::Prefix(p)) => r.prefix = Some(p.clone()),
        Some(StringMatch::Regex(re)) => {
            r.safe_regex = Some(RegexMatcher {
                google_re2: None,
                regex: re.clone(),
            })
        }
        Some(StringMatch::Present) | None => r.prefix = Some("/".to_owned()),
    }
    if m.ignore_uri_case {
        r.case_sensitive = Some(false);
    }
    for (name, s) in &m.headers {
        r.headers.push(header(name, s, false));
    }
    for (name, s) in &m.without_headers {
        r.headers.push(header(name, s, true));
    }
    if let Some(s) = &m.method {
        r.headers.push(header(":method", s, false));
    }
    if let Some(s) = &m.authority {
        r.headers.push(header(":authority", s, false));
    }
    if let Some(s) = &m.scheme {
        r.headers.push(header(":scheme", s, false));
    }
    for (name, s) in &m.query_params {
        r.query_parameters.push(QueryParameterMatcher {
            name: name.clone(),
            string_match: string_matcher(s),
            present_match: string_matcher(s).is_none().then_some(true),
        });
    }
    r
}

fn header_ops(
    set: &std::collections::BTreeMap<String, String>,
    add: &std::collections::BTreeMap<String, String>,
) -> Vec<HeaderValueOption> {
    let opt = |(k, v): (&String, &String), action| HeaderValueOption {
        header: HeaderValue {
            key: k.clone(),
            value: v.clone(),
        },
        append_action: action,
        ..Default::default()
    };
    set.iter()
        .map(|kv| opt(kv, HeaderAppendAction::OverwriteIfExistsOrAdd))
        .chain(
            add.iter()
                .map(|kv| opt(kv, HeaderAppendAction::AppendIfExistsOrAdd)),
        )
        .collect()
}

fn retry(r: &crate::api::istio::HttpRetry) -> Option<RetryPolicy> {
    let attempts = r.attempts.unwrap_or(2);
    if attempts <= 0 {
        return None;
    }
    let mut p = default_retry_policy();
    p.num_retries = u32::try_from(attempts).ok();
    if let Some(on) = &r.retry_on {
        // Istio lets HTTP status codes sit in retryOn; Envoy wants them apart.
        let mut words = Vec::new();
        let mut codes = Vec::new();
        for w in on.split(',').map(str::trim).filter(|w| !w.is_empty()) {
            match w.parse::<u32>() {
                Ok(c) => codes.push(c),
                Err(_) => words.push(w.to_owned()),
            }
        }
        if !codes.is_empty() && !words.iter().any(|w| w == "retriable-status-codes") {
            words.push("retriable-status-codes".to_owned());
        }
        p.retry_on = words.join(",");
        p.retriable_status_codes = codes;
    }
    if let Some(t) = r
        .per_try_timeout
        .as_deref()
        .and_then(|t| crate::api::parse_duration(t).ok())
    {
        p.per_try_timeout = Some(Duration(t));
    }
    Some(p)
}

/// Whether a VirtualService attaches to a gateway (`namespace/name` or a name in the VS's own
/// namespace); `mesh` means sidecars, and no `gateways` means `mesh` only.
pub fn binds_to(vs: &VirtualService, gateway_ns: &str, gateway_name: &str) -> bool {
    let vs_ns = vs.metadata.namespace.as_deref().unwrap_or("");
    vs.spec.gateways.iter().any(|g| match g.split_once('/') {
        Some((ns, name)) => ns == gateway_ns && name == gateway_name,
        None => g == gateway_name && vs_ns == gateway_ns,
    })
}

/// istiod's `sourceMatchHTTP`: a match naming gateways is not checked against the source;
/// otherwise its `sourceLabels` must all be on the workload and `sourceNamespace` be its own.
fn source_applies(m: &HttpMatchRequest, source: Option<&Source<'_>>) -> bool {
    let Some(src) = source else {
        return true;
    };
    if !m.gateways.is_empty() {
        return true;
    }
    m.source_labels
        .iter()
        .all(|(k, v)| src.labels.get(k) == Some(v))
        && m.source_namespace
            .as_deref()
            .is_none_or(|n| n == src.namespace)
}

/// Whether a match's `gateways` and `port` (when given) select this scope and port.
fn match_applies(m: &HttpMatchRequest, vs_ns: &str, scope: RouteScope<'_>, port: u16) -> bool {
    in_scope(&m.gateways, vs_ns, scope) && m.port.is_none_or(|p| p == u32::from(port))
}

/// Whether a match's `gateways` (none: wherever the VirtualService is bound) name this scope:
/// `mesh` for sidecars, `name` (in the VirtualService's namespace) or `ns/name` for gateways.
pub fn in_scope(gateways: &[String], vs_ns: &str, scope: RouteScope<'_>) -> bool {
    gateways.is_empty()
        || gateways.iter().any(|g| match scope {
            RouteScope::Mesh => g == "mesh",
            RouteScope::Gateway(gw_ns, gw_name) => match g.split_once('/') {
                Some((ns, name)) => ns == gw_ns && name == gw_name,
                None => g == gw_name && vs_ns == gw_ns,
            },
        })
}

/// The clusters (with weights) a TCP or TLS route sends to.
pub fn route_clusters(
    model: &Model,
    ns: &str,
    route: &[crate::api::istio::RouteDestination],
    port: u16,
) -> Vec<(String, u32)> {
    let n = u32::try_from(route.len()).unwrap_or(1).max(1);
    route
        .iter()
        .map(|d| {
            let (cluster, _) = destination_cluster(&d.destination, model, ns, port);
            (
                cluster,
                d.weight
                    .and_then(|w| u32::try_from(w).ok())
                    .unwrap_or(100 / n),
            )
        })
        .collect()
}

pub fn binds_to_mesh(vs: &VirtualService) -> bool {
    vs.spec.gateways.is_empty() || vs.spec.gateways.iter().any(|g| g == "mesh")
}

/// Gateway hosts may be `ns/host`, `*/host`, `*.example.com`, `*`.
pub fn host_matches(pattern: &str, host: &str) -> bool {
    let pattern = pattern.split_once('/').map(|(_, h)| h).unwrap_or(pattern);
    if pattern == "*" || host == "*" {
        return true;
    }
    if let Some(suffix) = pattern.strip_prefix('*') {
        return host.ends_with(suffix);
    }
    if let Some(suffix) = host.strip_prefix('*') {
        return pattern.ends_with(suffix);
    }
    pattern.eq_ignore_ascii_case(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_apply_only_to_their_gateways_and_port() {
        let vs: VirtualService = serde_saphyr::from_str(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: egress, namespace: default}\nspec:\n  hosts: [httpbin.org]\n  gateways: [istio-egressgateway, mesh]\n  http:\n  - match: [{gateways: [mesh], port: 80}]\n    route: [{destination: {host: istio-egressgateway.istio-system.svc.cluster.local, subset: httpbin, port: {number: 80}}}]\n  - match: [{gateways: [istio-egressgateway], port: 80}]\n    route: [{destination: {host: httpbin.org, port: {number: 80}}}]\n",
        )
        .unwrap();
        let model = Model::default();
        let clusters = |scope, port| -> Vec<String> {
            http_routes(&vs, &model, port, scope, &mut Vec::new())
                .iter()
                .filter_map(|r| r.route.as_ref().and_then(|a| a.cluster.clone()))
                .collect()
        };
        assert_eq!(
            clusters(RouteScope::Mesh, 80),
            ["outbound|80|httpbin|istio-egressgateway.istio-system.svc.cluster.local"]
        );
        assert_eq!(
            clusters(RouteScope::Gateway("default", "istio-egressgateway"), 80),
            ["outbound|80||httpbin.org"]
        );
        assert!(clusters(RouteScope::Gateway("other", "istio-egressgateway"), 80).is_empty());
        assert!(clusters(RouteScope::Mesh, 8080).is_empty());
    }

    #[test]
    fn direct_responses_and_match_fields_as_istiod_translates_them() {
        let vs: VirtualService = serde_saphyr::from_str(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: catalog, namespace: default}\nspec:\n  hosts: [catalog]\n  http:\n  - match:\n    - uri: {exact: /Items}\n      ignoreUriCase: true\n      method: {exact: POST}\n      authority: {prefix: catalog}\n      scheme: {exact: https}\n      withoutHeaders: {x-debug: {exact: \"1\"}}\n      queryParams: {tier: {exact: gold}, any: {regex: \".*\"}}\n    directResponse: {status: 503, body: {string: unavailable}}\n  - directResponse: {status: 200, body: {bytes: aGk=}}\n",
        )
        .unwrap();
        let mut warnings = Vec::new();
        let routes = http_routes(&vs, &Model::default(), 80, RouteScope::Mesh, &mut warnings);
        assert!(warnings.is_empty(), "{warnings:?}");
        let json = serde_json::to_value(&routes).unwrap();
        assert_eq!(
            json[0]["direct_response"],
            serde_json::json!({"status": 503, "body": {"inline_string": "unavailable"}})
        );
        assert!(json[0].get("route").is_none());
        assert_eq!(
            json[1]["direct_response"],
            serde_json::json!({"status": 200, "body": {"inline_bytes": "aGk="}})
        );
        let m = &json[0]["match"];
        assert_eq!(m["path"], "/Items");
        assert_eq!(m["case_sensitive"], false);
        let headers: Vec<String> = m["headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h.to_string())
            .collect();
        let has = |needle: &str| headers.iter().any(|h| h.contains(needle));
        assert!(
            has(r#""name":"x-debug""#) && has(r#""invert_match":true"#),
            "{headers:?}"
        );
        assert!(
            has(r#""name":":method""#) && has(r#""exact":"POST""#),
            "{headers:?}"
        );
        assert!(
            has(r#""name":":authority""#) && has(r#""prefix":"catalog""#),
            "{headers:?}"
        );
        assert!(
            has(r#""name":":scheme""#) && has(r#""exact":"https""#),
            "{headers:?}"
        );
        let qp = m["query_parameters"].to_string();
        assert!(
            qp.contains(r#""name":"tier""#) && qp.contains(r#""exact":"gold""#),
            "{qp}"
        );
        assert!(
            qp.contains(r#""name":"any""#) && qp.contains(r#""regex":".*""#),
            "{qp}"
        );
    }

    #[test]
    fn source_labels_pick_the_workloads_a_match_applies_to() {
        let vs: VirtualService = serde_saphyr::from_str(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: catalog, namespace: default}\nspec:\n  hosts: [catalog]\n  http:\n  - match: [{sourceLabels: {app: webapp}, sourceNamespace: default}]\n    route: [{destination: {host: catalog, subset: v2}}]\n  - route: [{destination: {host: catalog, subset: v1}}]\n",
        )
        .unwrap();
        let model = Model::default();
        let clusters = |labels: &[(&str, &str)], namespace: &str| -> Vec<String> {
            let labels = labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            let src = Source {
                labels: &labels,
                namespace,
            };
            http_routes_from(
                &vs,
                &model,
                80,
                RouteScope::Mesh,
                Some(&src),
                &mut Vec::new(),
            )
            .iter()
            .filter_map(|r| r.route.as_ref().and_then(|a| a.cluster.clone()))
            .collect()
        };
        let v1 = "outbound|80|v1|catalog.default.svc.cluster.local";
        let v2 = "outbound|80|v2|catalog.default.svc.cluster.local";
        assert_eq!(
            clusters(&[("app", "webapp"), ("version", "x")], "default"),
            [v2, v1]
        );
        assert_eq!(clusters(&[("app", "other")], "default"), [v1]);
        assert_eq!(clusters(&[("app", "webapp")], "elsewhere"), [v1]);
    }

    #[test]
    fn host_patterns() {
        assert!(host_matches(
            "webapp.istioinaction.io",
            "webapp.istioinaction.io"
        ));
        assert!(host_matches(
            "*.istioinaction.io",
            "webapp.istioinaction.io"
        ));
        assert!(host_matches("istioinaction/*", "anything"));
        assert!(!host_matches(
            "catalog.istioinaction.io",
            "webapp.istioinaction.io"
        ));
    }
}
