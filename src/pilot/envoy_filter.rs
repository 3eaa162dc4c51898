//! EnvoyFilter, as far as mesh acts on it: Istio's documented local rate limit shapes. An
//! `HTTP_FILTER` `INSERT_BEFORE` the router adding `envoy.filters.http.local_ratelimit`, and
//! `HTTP_ROUTE` / `VIRTUAL_HOST` `MERGE` patches carrying `typed_per_filter_config`. Anything
//! else is refused when applied ([`parse`]) so no patch is silently ignored.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::api::Unstructured;
use crate::xds::hcm::{HttpConnectionManager, HttpFilter, HttpFilterConfig};
use crate::xds::http_filters::{LocalRateLimit, PerFilterConfig};
use crate::xds::listener::{Listener, NetworkFilterConfig};
use crate::xds::route::RouteConfiguration;

const RL_FILTER: &str = "envoy.filters.http.local_ratelimit";
const RL_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";
const TYPED_STRUCT: [&str; 2] = [
    "type.googleapis.com/udpa.type.v1.TypedStruct",
    "type.googleapis.com/xds.type.v3.TypedStruct",
];

/// `match.context`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Any,
    Gateway,
    SidecarInbound,
    SidecarOutbound,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Patch {
    /// A local rate limit filter inserted before the router.
    InsertRateLimit(Context, LocalRateLimit),
    /// `typed_per_filter_config` merged into routes (or virtual hosts) of `vhost` (any if unset).
    Merge {
        context: Context,
        vhost: Option<String>,
        on_routes: bool,
        per_filter: Map<String, Value>,
    },
}

/// One accepted EnvoyFilter.
#[derive(Debug, Clone, PartialEq)]
pub struct EnvoyFilterPatches {
    pub namespace: String,
    pub name: String,
    /// `workloadSelector.labels`; empty: every proxy of the namespace.
    pub selector: BTreeMap<String, String>,
    pub patches: Vec<Patch>,
}

/// Checks an EnvoyFilter; the error names the first patch mesh cannot apply.
pub fn parse(u: &Unstructured) -> Result<EnvoyFilterPatches, String> {
    let spec = u.rest.get("spec").cloned().unwrap_or_default();
    let selector = spec
        .pointer("/workloadSelector/labels")
        .and_then(Value::as_object)
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut patches = Vec::new();
    let empty = Vec::new();
    let list = spec
        .get("configPatches")
        .and_then(Value::as_array)
        .unwrap_or(&empty);
    for (i, p) in list.iter().enumerate() {
        let apply_to = p.get("applyTo").and_then(Value::as_str).unwrap_or("");
        let op = p
            .pointer("/patch/operation")
            .and_then(Value::as_str)
            .unwrap_or("");
        let refuse = |why: &str| {
            format!(
                "configPatches[{i}] ({apply_to} {op}): {why}; not supported by mesh yet (mesh applies only the local rate limit patches: HTTP_FILTER INSERT_BEFORE envoy.filters.http.router with envoy.filters.http.local_ratelimit, HTTP_ROUTE/VIRTUAL_HOST MERGE with typed_per_filter_config)"
            )
        };
        let context = match p.pointer("/match/context").and_then(Value::as_str) {
            None | Some("ANY") => Context::Any,
            Some("GATEWAY") => Context::Gateway,
            Some("SIDECAR_INBOUND") => Context::SidecarInbound,
            Some("SIDECAR_OUTBOUND") => Context::SidecarOutbound,
            Some(other) => return Err(refuse(&format!("unknown context {other}"))),
        };
        let value = snake_keys(p.pointer("/patch/value").cloned().unwrap_or_default());
        match (apply_to, op) {
            ("HTTP_FILTER", "INSERT_BEFORE") => {
                let sub = p
                    .pointer("/match/listener/filterChain/filter/subFilter/name")
                    .and_then(Value::as_str);
                if sub != Some("envoy.filters.http.router") {
                    return Err(refuse(
                        "the patch must match subFilter envoy.filters.http.router",
                    ));
                }
                if value.get("name").and_then(Value::as_str) != Some(RL_FILTER) {
                    return Err(refuse(
                        "only envoy.filters.http.local_ratelimit can be inserted",
                    ));
                }
                let cfg = unwrap_typed(value.get("typed_config").cloned().unwrap_or_default())
                    .ok_or_else(|| refuse("typed_config must be a LocalRateLimit"))?;
                let rl = match serde_json::from_value::<PerFilterConfig>(cfg) {
                    Ok(PerFilterConfig::LocalRateLimit(rl)) => rl,
                    Ok(_) => return Err(refuse("typed_config must be a LocalRateLimit")),
                    Err(e) => return Err(format!("configPatches[{i}]: {e}")),
                };
                patches.push(Patch::InsertRateLimit(context, rl));
            }
            ("HTTP_ROUTE" | "VIRTUAL_HOST", "MERGE") => {
                let extra: Vec<&String> = value
                    .as_object()
                    .map(|m| {
                        m.keys()
                            .filter(|k| *k != "typed_per_filter_config")
                            .collect()
                    })
                    .unwrap_or_default();
                if !extra.is_empty() {
                    return Err(refuse(&format!(
                        "only typed_per_filter_config can be merged, not {extra:?}"
                    )));
                }
                let mut per_filter = Map::new();
                for (name, cfg) in value
                    .get("typed_per_filter_config")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
                {
                    let cfg = unwrap_typed(cfg.clone())
                        .ok_or_else(|| refuse(&format!("{name}: not a LocalRateLimit")))?;
                    if let Err(e) = serde_json::from_value::<PerFilterConfig>(cfg.clone()) {
                        return Err(format!("configPatches[{i}]: {name}: {e}"));
                    }
                    per_filter.insert(name.clone(), cfg);
                }
                patches.push(Patch::Merge {
                    context,
                    vhost: p
                        .pointer("/match/routeConfiguration/vhost/name")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                    on_routes: apply_to == "HTTP_ROUTE",
                    per_filter,
                });
            }
            _ => return Err(refuse("this patch")),
        }
    }
    Ok(EnvoyFilterPatches {
        namespace: u.metadata.namespace.clone().unwrap_or_default(),
        name: u.metadata.name.clone(),
        selector,
        patches,
    })
}

/// Protobuf JSON accepts `tokenBucket` for `token_bucket`; mesh's types use the proto names.
fn snake_keys(v: Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.into_iter()
                .map(|(k, v)| {
                    let snake = if k.starts_with('@') {
                        k
                    } else {
                        k.chars().fold(String::new(), |mut out, c| {
                            if c.is_ascii_uppercase() {
                                out.push('_');
                                out.push(c.to_ascii_lowercase());
                            } else {
                                out.push(c);
                            }
                            out
                        })
                    };
                    (snake, snake_keys(v))
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.into_iter().map(snake_keys).collect()),
        other => other,
    }
}

/// A `TypedStruct {type_url, value}` as the Any it stands for; a plain local rate limit Any as is.
fn unwrap_typed(v: Value) -> Option<Value> {
    let url = v.get("@type")?.as_str()?;
    if TYPED_STRUCT.contains(&url) {
        if v.get("type_url")?.as_str()? != RL_TYPE {
            return None;
        }
        let mut inner = v
            .get("value")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        inner.insert("@type".to_owned(), Value::String(RL_TYPE.to_owned()));
        return Some(Value::Object(inner));
    }
    (url == RL_TYPE).then_some(v)
}

/// Where a proxy's HCM sits, for `match.context`.
fn context_applies(c: Context, gateway: bool, inbound: bool) -> bool {
    match c {
        Context::Any => true,
        Context::Gateway => gateway,
        Context::SidecarInbound => !gateway && inbound,
        Context::SidecarOutbound => !gateway && !inbound,
    }
}

/// Applies the EnvoyFilters selecting this proxy (its namespace's, or the root namespace's).
pub fn apply(
    filters: &[EnvoyFilterPatches],
    namespace: &str,
    labels: &BTreeMap<String, String>,
    gateway: bool,
    listeners: &mut [Listener],
    routes: &mut [RouteConfiguration],
) {
    for ef in filters {
        if ef.namespace != namespace && ef.namespace != "istio-system" {
            continue;
        }
        if !ef.selector.iter().all(|(k, v)| labels.get(k) == Some(v)) {
            continue;
        }
        for p in &ef.patches {
            for l in listeners.iter_mut() {
                for chain in &mut l.filter_chains {
                    for f in &mut chain.filters {
                        if let NetworkFilterConfig::HttpConnectionManager(hcm) = &mut f.typed_config
                        {
                            let inbound = hcm.stat_prefix.starts_with("inbound_");
                            patch_hcm(p, hcm, gateway, inbound);
                        }
                    }
                }
            }
            // RDS route configurations serve outbound and gateway HCMs.
            for rc in routes.iter_mut() {
                if let Patch::Merge { context, .. } = p
                    && context_applies(*context, gateway, false)
                {
                    merge_routes(p, rc);
                }
            }
        }
    }
}

fn patch_hcm(p: &Patch, hcm: &mut HttpConnectionManager, gateway: bool, inbound: bool) {
    match p {
        Patch::InsertRateLimit(c, rl) if context_applies(*c, gateway, inbound) => {
            let at = hcm
                .http_filters
                .iter()
                .position(|f| f.name == "envoy.filters.http.router")
                .unwrap_or(hcm.http_filters.len());
            hcm.http_filters.insert(
                at,
                HttpFilter {
                    name: RL_FILTER.to_owned(),
                    typed_config: Some(HttpFilterConfig::LocalRateLimit(rl.clone())),
                    ..Default::default()
                },
            );
        }
        Patch::Merge { context, .. } if context_applies(*context, gateway, inbound) => {
            if let Some(rc) = hcm.route_config.as_mut() {
                merge_routes(p, rc);
            }
        }
        _ => {}
    }
}

fn merge_routes(p: &Patch, rc: &mut RouteConfiguration) {
    let Patch::Merge {
        vhost,
        on_routes,
        per_filter,
        ..
    } = p
    else {
        return;
    };
    for vh in &mut rc.virtual_hosts {
        if vhost.as_ref().is_some_and(|n| *n != vh.name) {
            continue;
        }
        let targets: Vec<&mut Option<Map<String, Value>>> = if *on_routes {
            vh.routes
                .iter_mut()
                .map(|r| &mut r.typed_per_filter_config)
                .collect()
        } else {
            vec![&mut vh.typed_per_filter_config]
        };
        for t in targets {
            t.get_or_insert_with(Map::new)
                .extend(per_filter.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ef(yaml: &str) -> Result<EnvoyFilterPatches, String> {
        let u: Unstructured = serde_saphyr::from_str(yaml).unwrap();
        parse(&u)
    }

    const DOCS: &str = r#"
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: filter-local-ratelimit-svc, namespace: istio-system}
spec:
  workloadSelector: {labels: {app: productpage}}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: SIDECAR_INBOUND
      listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
            token_bucket: {max_tokens: 4, tokens_per_fill: 4, fill_interval: 60s}
            filter_enabled: {runtime_key: local_rate_limit_enabled, default_value: {numerator: 100, denominator: HUNDRED}}
"#;

    #[test]
    fn istios_documented_local_rate_limit_is_accepted() {
        let e = ef(DOCS).unwrap();
        assert_eq!(e.selector["app"], "productpage");
        let Patch::InsertRateLimit(Context::SidecarInbound, rl) = &e.patches[0] else {
            panic!("{:?}", e.patches)
        };
        assert_eq!(rl.token_bucket.as_ref().map(|b| b.max_tokens), Some(4));
    }

    #[test]
    fn other_patches_are_refused_by_name() {
        let bad = DOCS.replace("INSERT_BEFORE", "INSERT_AFTER");
        let err = ef(&bad).unwrap_err();
        assert!(
            err.contains("configPatches[0] (HTTP_FILTER INSERT_AFTER)"),
            "{err}"
        );
        assert!(err.contains("not supported by mesh yet"), "{err}");
        let lua = DOCS.replace(
            "envoy.filters.http.local_ratelimit",
            "envoy.filters.http.lua",
        );
        assert!(ef(&lua).unwrap_err().contains("not supported by mesh yet"));
        let camel = DOCS
            .replace("stat_prefix", "statPrefix")
            .replace("token_bucket", "tokenBucket");
        assert!(ef(&camel).is_ok());
        let cluster = "apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata: {name: c}\nspec:\n  configPatches:\n  - applyTo: CLUSTER\n    patch: {operation: MERGE, value: {}}\n";
        assert!(ef(cluster).unwrap_err().contains("(CLUSTER MERGE)"));
    }

    #[test]
    fn patches_reach_the_selected_hcms_and_routes() {
        use crate::xds::route::{Route, VirtualHost};
        let merge = r#"
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: per-route, namespace: default}
spec:
  configPatches:
  - applyTo: HTTP_ROUTE
    match: {context: SIDECAR_OUTBOUND, routeConfiguration: {vhost: {name: "catalog:80"}}}
    patch:
      operation: MERGE
      value:
        typed_per_filter_config:
          envoy.filters.http.local_ratelimit:
            "@type": type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
            stat_prefix: per_route
"#;
        let efs = vec![ef(DOCS).unwrap(), ef(merge).unwrap()];
        let vh = |name: &str| VirtualHost {
            name: name.to_owned(),
            routes: vec![Route::default()],
            ..Default::default()
        };
        let mut routes = vec![RouteConfiguration {
            virtual_hosts: vec![vh("catalog:80"), vh("webapp:80")],
            ..Default::default()
        }];
        let labels: BTreeMap<String, String> =
            [("app".to_owned(), "productpage".to_owned())].into();
        apply(&efs, "default", &labels, false, &mut [], &mut routes);
        let vhs = &routes[0].virtual_hosts;
        assert!(
            vhs[0].routes[0]
                .typed_per_filter_config
                .as_ref()
                .is_some_and(|m| m.contains_key(RL_FILTER))
        );
        assert!(vhs[1].routes[0].typed_per_filter_config.is_none());
        // A gateway is not SIDECAR_OUTBOUND.
        let mut gw = vec![RouteConfiguration {
            virtual_hosts: vec![vh("catalog:80")],
            ..Default::default()
        }];
        apply(&efs, "default", &labels, true, &mut [], &mut gw);
        assert!(
            gw[0].virtual_hosts[0].routes[0]
                .typed_per_filter_config
                .is_none()
        );
    }
}
