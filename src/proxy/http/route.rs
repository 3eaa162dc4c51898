//! A route configuration compiled for lookups: virtual host by `Host` (exact, `*.suffix`,
//! `prefix.*`, `*`, longest wildcard first), then the first route whose path, header and query
//! conditions all match.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use regex::Regex;

use crate::xds::core::HeaderValueOption;
use crate::xds::route::{
    ClusterNotFoundResponseCode, RedirectAction, Route, RouteAction, RouteConfiguration,
    VirtualHost,
};

use super::super::Rejected;
use super::filters::PerFilter;
use super::headers::HeaderMutation;
use super::matcher::{CompiledHeader, CompiledQuery, Pseudo, full_regex};
use super::retry::RetryPolicy;

/// Envoy's default route timeout.
pub const DEFAULT_ROUTE_TIMEOUT: Duration = Duration::from_secs(15);

#[derive(Debug)]
pub struct RouteTable {
    pub name: String,
    vhosts: Vec<VirtualHostRt>,
    exact: HashMap<String, usize>,
    /// (suffix without the `*`, vhost), longest first.
    suffixes: Vec<(String, usize)>,
    /// (prefix without the `*`, vhost), longest first.
    prefixes: Vec<(String, usize)>,
    any: Option<usize>,
    pub request_headers: HeaderMutation,
    pub response_headers: HeaderMutation,
    pub internal_only_headers: Vec<http::HeaderName>,
    ignore_port: bool,
}

#[derive(Debug)]
pub struct VirtualHostRt {
    pub name: String,
    /// `require_tls`: plain-text requests get a 301 to `https://` instead of a route.
    pub require_tls: crate::xds::route::TlsRequirement,
    pub routes: Vec<RouteRt>,
    pub request_headers: HeaderMutation,
    pub response_headers: HeaderMutation,
    pub retry_policy: Option<RetryPolicy>,
    pub include_request_attempt_count: bool,
    pub include_attempt_count_in_response: bool,
    /// `typed_per_filter_config` for the fault and local rate limit filters.
    pub per_filter: PerFilter,
}

#[derive(Debug)]
pub struct RouteRt {
    pub name: String,
    path: PathMatch,
    case_sensitive: bool,
    headers: Vec<CompiledHeader>,
    query: Vec<CompiledQuery>,
    pub action: Action,
    pub request_headers: HeaderMutation,
    pub response_headers: HeaderMutation,
    /// The decorator operation, or the route's default `<host><path>`-style name.
    pub decorator: Option<String>,
    /// `typed_per_filter_config` for the fault and local rate limit filters.
    pub per_filter: PerFilter,
}

#[derive(Debug)]
enum PathMatch {
    Prefix(String),
    Exact(String),
    Regex(Regex),
    SeparatedPrefix(String),
}

#[derive(Debug)]
pub enum Action {
    Forward(Box<ForwardRt>),
    Redirect(RedirectAction),
    Direct { status: u16, body: Bytes },
}

#[derive(Debug)]
pub enum ClusterTarget {
    Named(String),
    FromHeader(http::HeaderName),
    Weighted {
        clusters: Vec<WeightedTarget>,
        total: u64,
    },
}

#[derive(Debug)]
pub struct WeightedTarget {
    pub name: String,
    pub weight: u32,
    pub request_headers: HeaderMutation,
    pub response_headers: HeaderMutation,
    pub host_rewrite_literal: Option<String>,
}

#[derive(Debug)]
pub enum HostRewrite {
    None,
    Literal(String),
    /// Use the upstream host's hostname (DNS clusters).
    Auto,
    Header(http::HeaderName),
}

#[derive(Debug)]
pub struct ForwardRt {
    pub target: ClusterTarget,
    pub cluster_not_found_status: u16,
    pub prefix_rewrite: Option<String>,
    pub regex_rewrite: Option<(Regex, String)>,
    pub host_rewrite: HostRewrite,
    /// `None` = no timeout (`0s`).
    pub timeout: Option<Duration>,
    pub retry_policy: Option<RetryPolicy>,
    /// gRPC requests may set their own timeout (`grpc-timeout`), capped by this; zero = no cap.
    pub max_grpc_timeout: Option<Duration>,
    pub hash_policy: Vec<super::hash_policy::HashPolicyRt>,
    pub mirrors: Vec<super::mirror::MirrorRt>,
    /// Per-route `upgrade_configs`: (lower-cased upgrade type, enabled).
    pub upgrades: Vec<(String, bool)>,
    /// The route's `idle_timeout` (over the manager's `stream_idle_timeout`; zero: off).
    pub idle_timeout: Option<Duration>,
}

/// What a successful lookup returns.
pub struct Matched<'a> {
    pub vhost: &'a VirtualHostRt,
    pub route: &'a RouteRt,
}

/// The request parts route matching looks at.
pub struct RequestView<'a> {
    pub host: &'a str,
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub method: &'a str,
    pub scheme: &'a str,
}

impl RouteTable {
    /// Compiles `cfg`; `path` is where it sits in the config (for errors). With `clusters`,
    /// every cluster a route names must exist (Envoy's `validate_clusters`).
    pub fn build(
        cfg: &RouteConfiguration,
        path: &str,
        clusters: Option<&HashSet<String>>,
    ) -> Result<RouteTable, Vec<Rejected>> {
        let mut errors = Vec::new();
        let mut vhosts = Vec::new();
        let mut exact = HashMap::new();
        let mut suffixes = Vec::new();
        let mut prefixes = Vec::new();
        let mut any = None;
        let mut seen_domains = HashSet::new();
        for (i, vh) in cfg.virtual_hosts.iter().enumerate() {
            let vpath = format!("{path}.virtual_hosts[{i}]");
            for (d, domain) in vh.domains.iter().enumerate() {
                let domain = domain.to_ascii_lowercase();
                let dpath = format!("{vpath}.domains[{d}]");
                if !seen_domains.insert(domain.clone()) {
                    errors.push(Rejected::new(
                        dpath,
                        format!(
                            "Only unique values for domains are permitted. Duplicate entry of domain {domain} in route {}",
                            cfg.name
                        ),
                    ));
                    continue;
                }
                if domain == "*" {
                    any = Some(i);
                } else if let Some(suffix) = domain.strip_prefix('*') {
                    suffixes.push((suffix.to_owned(), i));
                } else if let Some(prefix) = domain.strip_suffix('*') {
                    prefixes.push((prefix.to_owned(), i));
                } else if domain.contains('*') {
                    errors.push(Rejected::new(
                        dpath,
                        format!("invalid domain '{domain}': a wildcard may only be the first or last character"),
                    ));
                } else {
                    exact.insert(domain, i);
                }
            }
            match build_vhost(vh, &vpath, clusters) {
                Ok(v) => vhosts.push(v),
                Err(mut e) => errors.append(&mut e),
            }
        }
        suffixes.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        prefixes.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        let internal_only_headers = cfg
            .internal_only_headers
            .iter()
            .enumerate()
            .filter_map(|(i, h)| match http::HeaderName::try_from(h.as_str()) {
                Ok(name) => Some(name),
                Err(_) => {
                    errors.push(Rejected::new(
                        format!("{path}.internal_only_headers[{i}]"),
                        format!("invalid header name '{h}'"),
                    ));
                    None
                }
            })
            .collect();
        let (request_headers, response_headers) = mutations(
            (&cfg.request_headers_to_add, &cfg.request_headers_to_remove),
            (
                &cfg.response_headers_to_add,
                &cfg.response_headers_to_remove,
            ),
            path,
            &mut errors,
        );
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RouteTable {
            name: cfg.name.clone(),
            vhosts,
            exact,
            suffixes,
            prefixes,
            any,
            request_headers,
            response_headers,
            internal_only_headers,
            ignore_port: cfg.ignore_port_in_host_matching,
        })
    }

    /// The virtual host for a `Host`/`:authority` value.
    pub fn virtual_host(&self, host: &str) -> Option<&VirtualHostRt> {
        let mut host = host.to_ascii_lowercase();
        if self.ignore_port
            && let Some((h, port)) = host.rsplit_once(':')
            && port.chars().all(|c| c.is_ascii_digit())
            && (h.ends_with(']') || !h.contains(':'))
        {
            host = h.to_owned();
        }
        let index = self
            .exact
            .get(&host)
            .copied()
            .or_else(|| {
                self.suffixes
                    .iter()
                    .find(|(s, _)| host.len() > s.len() && host.ends_with(s.as_str()))
                    .map(|(_, i)| *i)
            })
            .or_else(|| {
                self.prefixes
                    .iter()
                    .find(|(p, _)| host.len() > p.len() && host.starts_with(p.as_str()))
                    .map(|(_, i)| *i)
            })
            .or(self.any)?;
        self.vhosts.get(index)
    }

    /// The first matching route of the request's virtual host.
    pub fn route(&self, req: &RequestView<'_>) -> Option<Matched<'_>> {
        let vhost = self.virtual_host(req.host)?;
        let (path_only, query) = match req.path.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (req.path, None),
        };
        let query = query.map(super::matcher::parse_query).unwrap_or_default();
        let pseudo = Pseudo {
            method: req.method,
            authority: req.host,
            path: req.path,
            scheme: req.scheme,
        };
        let route = vhost.routes.iter().find(|r| {
            r.path_matches(req.path, path_only)
                && r.headers.iter().all(|h| h.matches(req.headers, &pseudo))
                && r.query.iter().all(|q| q.matches(&query))
        })?;
        Some(Matched { vhost, route })
    }
}

impl RouteRt {
    fn path_matches(&self, full: &str, path_only: &str) -> bool {
        let eq = |a: &str, b: &str| {
            if self.case_sensitive {
                a == b
            } else {
                a.eq_ignore_ascii_case(b)
            }
        };
        match &self.path {
            // Envoy matches prefixes against the whole `:path`, query included.
            PathMatch::Prefix(p) => {
                full.len() >= p.len() && full.is_char_boundary(p.len()) && eq(&full[..p.len()], p)
            }
            PathMatch::Exact(p) => eq(path_only, p),
            PathMatch::Regex(re) => re.is_match(path_only),
            PathMatch::SeparatedPrefix(p) => {
                path_only.len() >= p.len()
                    && path_only.is_char_boundary(p.len())
                    && eq(&path_only[..p.len()], p)
                    && (path_only.len() == p.len() || path_only.as_bytes()[p.len()] == b'/')
            }
        }
    }

    /// The part of the path the route matched as a prefix (for `prefix_rewrite`).
    pub fn matched_prefix(&self) -> Option<&str> {
        match &self.path {
            PathMatch::Prefix(p) | PathMatch::SeparatedPrefix(p) => Some(p),
            PathMatch::Exact(p) => Some(p),
            PathMatch::Regex(_) => None,
        }
    }
}

fn mutation(
    add: &[HeaderValueOption],
    remove: &[String],
    path: &str,
    errors: &mut Vec<Rejected>,
) -> HeaderMutation {
    match HeaderMutation::build(add, remove, path) {
        Ok(m) => m,
        Err(e) => {
            errors.push(e);
            HeaderMutation::default()
        }
    }
}

type AddRemove<'a> = (&'a [HeaderValueOption], &'a [String]);

/// The request and response header mutations of one level (`path` is that level).
fn mutations(
    request: AddRemove<'_>,
    response: AddRemove<'_>,
    path: &str,
    errors: &mut Vec<Rejected>,
) -> (HeaderMutation, HeaderMutation) {
    (
        mutation(
            request.0,
            request.1,
            &format!("{path}.request_headers_to_add"),
            errors,
        ),
        mutation(
            response.0,
            response.1,
            &format!("{path}.response_headers_to_add"),
            errors,
        ),
    )
}

fn build_vhost(
    vh: &VirtualHost,
    path: &str,
    clusters: Option<&HashSet<String>>,
) -> Result<VirtualHostRt, Vec<Rejected>> {
    let mut errors = Vec::new();
    if vh.domains.is_empty() {
        errors.push(Rejected::new(
            format!("{path}.domains"),
            "VirtualHostValidationError.Domains: value must contain at least 1 item(s)",
        ));
    }
    let retry_policy = match &vh.retry_policy {
        Some(p) => match RetryPolicy::build(p, &format!("{path}.retry_policy")) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    let mut routes = Vec::new();
    for (i, r) in vh.routes.iter().enumerate() {
        match build_route(r, &format!("{path}.routes[{i}]"), clusters) {
            Ok(r) => routes.push(r),
            Err(mut e) => errors.append(&mut e),
        }
    }
    let (request_headers, response_headers) = mutations(
        (&vh.request_headers_to_add, &vh.request_headers_to_remove),
        (&vh.response_headers_to_add, &vh.response_headers_to_remove),
        path,
        &mut errors,
    );
    let per_filter =
        PerFilter::build(vh.typed_per_filter_config.as_ref(), path).unwrap_or_else(|mut e| {
            errors.append(&mut e);
            PerFilter::default()
        });
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(VirtualHostRt {
        name: vh.name.clone(),
        require_tls: vh.require_tls,
        routes,
        request_headers,
        response_headers,
        retry_policy,
        include_request_attempt_count: vh.include_request_attempt_count,
        include_attempt_count_in_response: vh.include_attempt_count_in_response,
        per_filter,
    })
}

fn build_route(
    r: &Route,
    path: &str,
    clusters: Option<&HashSet<String>>,
) -> Result<RouteRt, Vec<Rejected>> {
    let mut errors = Vec::new();
    let m = &r.route_match;
    let mpath = format!("{path}.match");
    let kinds = [
        m.prefix.is_some(),
        m.path.is_some(),
        m.safe_regex.is_some(),
        m.path_separated_prefix.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let case_sensitive = m.case_sensitive.unwrap_or(true);
    let lower = |s: &String| {
        if case_sensitive {
            s.clone()
        } else {
            s.to_ascii_lowercase()
        }
    };
    let path_match = if kinds != 1 {
        errors.push(Rejected::new(
            &mpath,
            "RouteMatchValidationError.PathSpecifier: exactly one of prefix, path, safe_regex, path_separated_prefix is required",
        ));
        PathMatch::Prefix(String::new())
    } else if let Some(p) = &m.prefix {
        PathMatch::Prefix(lower(p))
    } else if let Some(p) = &m.path {
        PathMatch::Exact(lower(p))
    } else if let Some(p) = &m.path_separated_prefix {
        if !p.starts_with('/') || (p.len() > 1 && p.ends_with('/')) || p.contains(['?', '#']) {
            errors.push(Rejected::new(
                format!("{mpath}.path_separated_prefix"),
                "must start with '/', must not end with '/', and must not contain '?' or '#'",
            ));
        }
        PathMatch::SeparatedPrefix(lower(p))
    } else {
        match m
            .safe_regex
            .as_ref()
            .map(|re| full_regex(re, &format!("{mpath}.safe_regex")))
        {
            Some(Ok(re)) => PathMatch::Regex(re),
            Some(Err(e)) => {
                errors.push(e);
                PathMatch::Prefix(String::new())
            }
            None => PathMatch::Prefix(String::new()),
        }
    };
    if m.runtime_fraction.is_some() {
        errors.push(Rejected::new(
            format!("{mpath}.runtime_fraction"),
            "runtime_fraction is not supported by mesh yet",
        ));
    }
    let mut headers = Vec::new();
    for (i, h) in m.headers.iter().enumerate() {
        match CompiledHeader::build(h, &format!("{mpath}.headers[{i}]")) {
            Ok(h) => headers.push(h),
            Err(e) => errors.push(e),
        }
    }
    let mut query = Vec::new();
    for (i, q) in m.query_parameters.iter().enumerate() {
        match CompiledQuery::build(q, &format!("{mpath}.query_parameters[{i}]")) {
            Ok(q) => query.push(q),
            Err(e) => errors.push(e),
        }
    }
    let actions = [
        r.route.is_some(),
        r.redirect.is_some(),
        r.direct_response.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let action = if actions != 1 {
        errors.push(Rejected::new(
            path,
            "RouteValidationError.Action: exactly one of route, redirect, direct_response is required",
        ));
        None
    } else if let Some(a) = &r.route {
        match build_forward(a, &format!("{path}.route"), clusters) {
            Ok(f) => Some(Action::Forward(Box::new(f))),
            Err(mut e) => {
                errors.append(&mut e);
                None
            }
        }
    } else if let Some(redirect) = &r.redirect {
        Some(Action::Redirect(redirect.clone()))
    } else if let Some(d) = &r.direct_response {
        match direct_response_body(d, &format!("{path}.direct_response")) {
            Ok(body) => {
                if !(200..600).contains(&d.status) {
                    errors.push(Rejected::new(
                        format!("{path}.direct_response.status"),
                        "value must be inside range [200, 600)",
                    ));
                }
                Some(Action::Direct {
                    status: u16::try_from(d.status).unwrap_or(500),
                    body,
                })
            }
            Err(e) => {
                errors.push(e);
                None
            }
        }
    } else {
        None
    };
    let (request_headers, response_headers) = mutations(
        (&r.request_headers_to_add, &r.request_headers_to_remove),
        (&r.response_headers_to_add, &r.response_headers_to_remove),
        path,
        &mut errors,
    );
    let per_filter =
        PerFilter::build(r.typed_per_filter_config.as_ref(), path).unwrap_or_else(|mut e| {
            errors.append(&mut e);
            PerFilter::default()
        });
    match action {
        Some(action) if errors.is_empty() => Ok(RouteRt {
            name: r.name.clone(),
            path: path_match,
            case_sensitive,
            headers,
            query,
            action,
            request_headers,
            response_headers,
            decorator: r.decorator.as_ref().map(|d| d.operation.clone()),
            per_filter,
        }),
        _ => Err(errors),
    }
}

fn direct_response_body(
    d: &crate::xds::route::DirectResponseAction,
    path: &str,
) -> Result<Bytes, Rejected> {
    let Some(body) = &d.body else {
        return Ok(Bytes::new());
    };
    if let Some(s) = &body.inline_string {
        return Ok(Bytes::from(s.clone()));
    }
    if let Some(b64) = &body.inline_bytes {
        return base64_decode(b64)
            .map(Bytes::from)
            .ok_or_else(|| Rejected::new(format!("{path}.body.inline_bytes"), "invalid base64"));
    }
    if let Some(file) = &body.filename {
        return std::fs::read(file).map(Bytes::from).map_err(|e| {
            Rejected::new(
                format!("{path}.body.filename"),
                format!("cannot read '{file}': {e}"),
            )
        });
    }
    Err(Rejected::new(
        format!("{path}.body"),
        "one of inline_string, inline_bytes, filename is required",
    ))
}

/// Standard base64 with optional padding (protobuf JSON `bytes`).
fn base64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        } as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

fn build_forward(
    a: &RouteAction,
    path: &str,
    clusters: Option<&HashSet<String>>,
) -> Result<ForwardRt, Vec<Rejected>> {
    let mut errors = Vec::new();
    let targets = [
        a.cluster.is_some(),
        a.cluster_header.is_some(),
        a.weighted_clusters.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    let check = |name: &str, what: &str, at: String, errors: &mut Vec<Rejected>| {
        if let Some(known) = clusters
            && !known.contains(name)
        {
            errors.push(Rejected::new(at, format!("route: unknown {what}'{name}'")));
        }
    };
    let target = if targets != 1 {
        errors.push(Rejected::new(
            path,
            "RouteActionValidationError.ClusterSpecifier: exactly one of cluster, cluster_header, weighted_clusters is required",
        ));
        ClusterTarget::Named(String::new())
    } else if let Some(c) = &a.cluster {
        check(c, "cluster ", format!("{path}.cluster"), &mut errors);
        ClusterTarget::Named(c.clone())
    } else if let Some(h) = &a.cluster_header {
        match http::HeaderName::try_from(h.as_str()) {
            Ok(h) => ClusterTarget::FromHeader(h),
            Err(_) => {
                errors.push(Rejected::new(
                    format!("{path}.cluster_header"),
                    format!("invalid header name '{h}'"),
                ));
                ClusterTarget::Named(String::new())
            }
        }
    } else if let Some(w) = &a.weighted_clusters {
        let mut out = Vec::new();
        let mut total: u64 = 0;
        for (i, c) in w.clusters.iter().enumerate() {
            let cpath = format!("{path}.weighted_clusters.clusters[{i}]");
            check(
                &c.name,
                "weighted cluster ",
                format!("{cpath}.name"),
                &mut errors,
            );
            let weight = c.weight.unwrap_or(0);
            total += u64::from(weight);
            out.push(WeightedTarget {
                name: c.name.clone(),
                weight,
                request_headers: mutation(
                    &c.request_headers_to_add,
                    &c.request_headers_to_remove,
                    &format!("{cpath}.request_headers_to_add"),
                    &mut errors,
                ),
                response_headers: mutation(
                    &c.response_headers_to_add,
                    &c.response_headers_to_remove,
                    &format!("{cpath}.response_headers_to_add"),
                    &mut errors,
                ),
                host_rewrite_literal: c.host_rewrite_literal.clone(),
            });
        }
        if w.clusters.is_empty() {
            errors.push(Rejected::new(
                format!("{path}.weighted_clusters.clusters"),
                "value must contain at least 1 item(s)",
            ));
        }
        if total == 0 && !w.clusters.is_empty() {
            errors.push(Rejected::new(
                format!("{path}.weighted_clusters"),
                "Sum of weights in the weighted_cluster must be greater than 0.",
            ));
        }
        if let Some(t) = w.total_weight
            && u64::from(t) != total
        {
            errors.push(Rejected::new(
                format!("{path}.weighted_clusters.total_weight"),
                format!("Sum of weights in the weighted_cluster should add up to {t}"),
            ));
        }
        ClusterTarget::Weighted {
            clusters: out,
            total,
        }
    } else {
        ClusterTarget::Named(String::new())
    };
    let regex_rewrite = match &a.regex_rewrite {
        Some(rr) => match full_regex(&rr.pattern, &format!("{path}.regex_rewrite.pattern"))
            // Rewrites substitute every match, so the pattern must not be anchored.
            .and_then(|_| {
                Regex::new(&rr.pattern.regex).map_err(|e| {
                    Rejected::new(format!("{path}.regex_rewrite.pattern.regex"), e.to_string())
                })
            }) {
            Ok(re) => Some((re, envoy_substitution(&rr.substitution))),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    let rewrites = [
        a.host_rewrite_literal.is_some(),
        a.auto_host_rewrite.unwrap_or(false),
        a.host_rewrite_header.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if rewrites > 1 {
        errors.push(Rejected::new(
            path,
            "only one of host_rewrite_literal, auto_host_rewrite, host_rewrite_header may be set",
        ));
    }
    if a.prefix_rewrite.is_some() && a.regex_rewrite.is_some() {
        errors.push(Rejected::new(
            path,
            "Cannot specify both prefix_rewrite and regex_rewrite",
        ));
    }
    let host_rewrite = if let Some(h) = &a.host_rewrite_literal {
        HostRewrite::Literal(h.clone())
    } else if a.auto_host_rewrite == Some(true) {
        HostRewrite::Auto
    } else if let Some(h) = &a.host_rewrite_header {
        match http::HeaderName::try_from(h.as_str()) {
            Ok(h) => HostRewrite::Header(h),
            Err(_) => {
                errors.push(Rejected::new(
                    format!("{path}.host_rewrite_header"),
                    format!("invalid header name '{h}'"),
                ));
                HostRewrite::None
            }
        }
    } else {
        HostRewrite::None
    };
    let retry_policy = match &a.retry_policy {
        Some(p) => match RetryPolicy::build(p, &format!("{path}.retry_policy")) {
            Ok(r) => Some(r),
            Err(e) => {
                errors.push(e);
                None
            }
        },
        None => None,
    };
    if a.metadata_match.is_some() {
        errors.push(Rejected::new(
            format!("{path}.metadata_match"),
            "metadata_match (subset load balancing) is not supported by mesh yet",
        ));
    }
    let hash_policy = match super::hash_policy::build(&a.hash_policy, path) {
        Ok(h) => h,
        Err(mut e) => {
            errors.append(&mut e);
            Vec::new()
        }
    };
    let mirrors = match super::mirror::build(&a.request_mirror_policies, path, clusters) {
        Ok(m) => m,
        Err(mut e) => {
            errors.append(&mut e);
            Vec::new()
        }
    };
    let timeout = match a.timeout {
        Some(t) if t.is_zero() => None,
        Some(t) => Some(t.get()),
        None => Some(DEFAULT_ROUTE_TIMEOUT),
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ForwardRt {
        target,
        cluster_not_found_status: match a.cluster_not_found_response_code {
            ClusterNotFoundResponseCode::ServiceUnavailable => 503,
            ClusterNotFoundResponseCode::NotFound => 404,
            ClusterNotFoundResponseCode::InternalServerError => 500,
        },
        prefix_rewrite: a.prefix_rewrite.clone(),
        regex_rewrite,
        host_rewrite,
        timeout,
        retry_policy,
        max_grpc_timeout: a.max_grpc_timeout.map(|d| d.get()),
        hash_policy,
        mirrors,
        idle_timeout: a.idle_timeout.map(|d| d.get()),
        upgrades: a
            .upgrade_configs
            .iter()
            .map(|u| {
                (
                    u.upgrade_type.to_ascii_lowercase(),
                    u.enabled.unwrap_or(true),
                )
            })
            .collect(),
    })
}

/// Envoy writes capture groups as `\1`; the regex crate wants `${1}`.
fn envoy_substitution(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek().is_some_and(|d| d.is_ascii_digit()) => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(|d| d.is_ascii_digit()) {
                    digits.push(d);
                    chars.next();
                }
                out.push_str(&format!("${{{digits}}}"));
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(yaml: &str) -> RouteTable {
        let cfg: RouteConfiguration = crate::xds::decode::decode_str("t", yaml).unwrap();
        RouteTable::build(&cfg, "route_config", None).unwrap()
    }

    fn view<'a>(host: &'a str, path: &'a str, headers: &'a HeaderMap) -> RequestView<'a> {
        RequestView {
            host,
            path,
            headers,
            method: "GET",
            scheme: "http",
        }
    }

    const HOSTS: &str = r#"
name: r
virtual_hosts:
- {name: exact, domains: ["www.example.com"], routes: [{match: {prefix: /}, direct_response: {status: 200}}]}
- {name: suffix, domains: ["*.example.com"], routes: [{match: {prefix: /}, direct_response: {status: 201}}]}
- {name: longsuffix, domains: ["*.api.example.com"], routes: [{match: {prefix: /}, direct_response: {status: 202}}]}
- {name: prefix, domains: ["foo.*"], routes: [{match: {prefix: /}, direct_response: {status: 203}}]}
- {name: ported, domains: ["webapp.io:*"], routes: [{match: {prefix: /}, direct_response: {status: 204}}]}
- {name: any, domains: ["*"], routes: [{match: {prefix: /}, direct_response: {status: 205}}]}
"#;

    #[test]
    fn virtual_hosts_by_domain_precedence() {
        let t = table(HOSTS);
        let name = |h: &str| t.virtual_host(h).map(|v| v.name.clone()).unwrap();
        assert_eq!(name("www.example.com"), "exact");
        assert_eq!(name("WWW.Example.com"), "exact");
        assert_eq!(name("a.example.com"), "suffix");
        assert_eq!(name("v1.api.example.com"), "longsuffix");
        assert_eq!(name("foo.bar"), "prefix");
        assert_eq!(name("webapp.io:30000"), "ported");
        assert_eq!(name("www.example.com:8080"), "any");
        assert_eq!(name("elsewhere"), "any");
    }

    #[test]
    fn first_matching_route_wins() {
        let t = table(
            r#"
virtual_hosts:
- name: v
  domains: ["*"]
  routes:
  - {match: {path: /exact}, direct_response: {status: 200}}
  - {match: {safe_regex: {regex: "/items/[0-9]+"}}, direct_response: {status: 201}}
  - {match: {prefix: /api, headers: [{name: x-version, exact_match: v2}]}, direct_response: {status: 202}}
  - {match: {prefix: /api, query_parameters: [{name: debug}]}, direct_response: {status: 203}}
  - {match: {prefix: /API, case_sensitive: false}, direct_response: {status: 204}}
  - {match: {path_separated_prefix: /sep}, direct_response: {status: 205}}
"#,
        );
        let h = HeaderMap::new();
        let status = |path: &str, headers: &HeaderMap| match t.route(&view("x", path, headers)) {
            Some(m) => match &m.route.action {
                Action::Direct { status, .. } => *status,
                _ => 0,
            },
            None => 404,
        };
        assert_eq!(status("/exact", &h), 200);
        assert_eq!(status("/exact?x=1", &h), 200);
        assert_eq!(status("/exact/more", &h), 404);
        assert_eq!(status("/items/42", &h), 201);
        assert_eq!(status("/items/42x", &h), 404);
        let mut v2 = HeaderMap::new();
        v2.insert("x-version", "v2".parse().unwrap());
        assert_eq!(status("/api/x", &v2), 202);
        assert_eq!(status("/api/x?debug=1", &h), 203);
        assert_eq!(status("/api/x", &h), 204);
        assert_eq!(status("/sep", &h), 205);
        assert_eq!(status("/sep/a", &h), 205);
        assert_eq!(status("/separate", &h), 404);
    }

    #[test]
    fn errors_name_their_paths_and_unknown_clusters_are_caught() {
        let cfg: RouteConfiguration = crate::xds::decode::decode_str(
            "t",
            r#"
virtual_hosts:
- name: v
  domains: ["*", "*"]
  routes:
  - {match: {prefix: /, path: /x}, route: {cluster: a}}
  - {match: {prefix: /}, route: {cluster: missing}}
  - {match: {prefix: /}, route: {weighted_clusters: {clusters: [{name: a, weight: 0}]}}}
"#,
        )
        .unwrap();
        let known: HashSet<String> = ["a".to_owned()].into();
        let errs = RouteTable::build(&cfg, "rc", Some(&known)).unwrap_err();
        let paths: Vec<&str> = errs.iter().map(|e| e.path.as_str()).collect();
        assert!(
            paths.contains(&"rc.virtual_hosts[0].domains[1]"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"rc.virtual_hosts[0].routes[0].match"),
            "{paths:?}"
        );
        assert!(
            paths.contains(&"rc.virtual_hosts[0].routes[1].route.cluster"),
            "{paths:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.reason == "route: unknown cluster 'missing'")
        );
        assert!(
            paths.contains(&"rc.virtual_hosts[0].routes[2].route.weighted_clusters"),
            "{paths:?}"
        );
    }

    #[test]
    fn substitutions_translate_capture_groups() {
        assert_eq!(envoy_substitution("/v2/\\1/x"), "/v2/${1}/x");
        assert_eq!(envoy_substitution("$5"), "$$5");
    }

    #[test]
    fn timeouts_default_to_15s_and_zero_disables() {
        let t = table(
            r#"
virtual_hosts:
- name: v
  domains: ["*"]
  routes:
  - {match: {prefix: /a}, route: {cluster: c}}
  - {match: {prefix: /b}, route: {cluster: c, timeout: 0s}}
  - {match: {prefix: /c}, route: {cluster: c, timeout: 1s}}
"#,
        );
        let h = HeaderMap::new();
        let timeout = |p: &str| match &t.route(&view("x", p, &h)).unwrap().route.action {
            Action::Forward(f) => f.timeout,
            _ => panic!(),
        };
        assert_eq!(timeout("/a"), Some(Duration::from_secs(15)));
        assert_eq!(timeout("/b"), None);
        assert_eq!(timeout("/c"), Some(Duration::from_secs(1)));
    }
}
