//! `/config_dump`: what the proxy is running, in Envoy's typed dump sections (bootstrap,
//! clusters, listeners, scoped routes, routes, secrets; endpoints with `include_eds`), snake_case
//! as Envoy prints it. `resource=` picks one repeated field, `name_regex=` filters by name.

use std::time::SystemTime;

use http::{Response, StatusCode};
use regex::Regex;
use serde_json::{Value, json};

use crate::xds::listener::NetworkFilterConfig;
use crate::xds::type_url;

use super::super::access_log::format_time;
use super::super::http::body::Body;
use super::super::listener::ListenerRt;
use super::super::{Applied, Proxy};
use super::info::{node_json, pretty};
use super::{json, param, text};

const DUMP: &str = "type.googleapis.com/envoy.admin.v3.";

fn timestamp(t: SystemTime) -> String {
    format_time(t, Some("%Y-%m-%dT%H:%M:%E3SZ"))
}

/// A message as an `Any`: `@type` first, then its fields.
fn any(url: &str, msg: &impl serde::Serialize) -> Value {
    let mut map = serde_json::Map::new();
    map.insert("@type".into(), json!(url));
    if let Ok(Value::Object(fields)) = serde_json::to_value(msg) {
        map.extend(fields);
    }
    Value::Object(map)
}

/// One entry of a repeated dump field, with the resource's name for `name_regex`.
struct Item {
    name: String,
    value: Value,
}

/// The sections in Envoy's order: (section type, [(repeated field, item type, items)]).
type Section = (&'static str, Vec<(&'static str, &'static str, Vec<Item>)>);

fn sections(proxy: &Proxy, include_eds: bool) -> Vec<Section> {
    let applied = proxy.applied();
    // The node first (Envoy fills it in), then the bootstrap as given.
    let mut bootstrap = serde_json::Map::new();
    bootstrap.insert("node".into(), node_json(proxy));
    if let Ok(Value::Object(fields)) = serde_json::to_value(&applied.bootstrap) {
        bootstrap.extend(fields.into_iter().filter(|(k, _)| k != "node"));
    }
    let boot = Item {
        name: String::new(),
        value: json!({"bootstrap": bootstrap, "last_updated": timestamp(applied.bootstrap_updated)}),
    };

    let mut static_clusters = Vec::new();
    let mut dynamic_clusters = Vec::new();
    for c in &applied.clusters {
        let mut v = json!({"cluster": any(type_url::CLUSTER, &c.config), "last_updated": timestamp(c.last_updated)});
        redact(&mut v);
        let item = if c.added_via_api {
            v = json!({"version_info": c.version_info, "cluster": v["cluster"].clone(), "last_updated": v["last_updated"].clone()});
            &mut dynamic_clusters
        } else {
            &mut static_clusters
        };
        item.push(Item {
            name: c.name.clone(),
            value: v,
        });
    }

    let mut static_listeners = Vec::new();
    let mut dynamic_listeners: Vec<Item> = Vec::new();
    let mut static_routes = Vec::new();
    // Inline private keys of TLS contexts are redacted, as in every Envoy dump.
    let listener_any = |l: &ListenerRt| {
        let mut v = any(type_url::LISTENER, &l.config);
        redact(&mut v);
        v
    };
    let state = |l: &ListenerRt| json!({"version_info": l.version_info, "listener": listener_any(l), "last_updated": timestamp(l.last_updated)});
    for slot in &applied.listeners {
        let l = slot.current();
        let listener = listener_any(&l);
        if l.added_via_api {
            dynamic_listeners.push(Item {
                name: l.name.clone(),
                value: json!({"name": l.name, "active_state": state(&l)}),
            });
        } else {
            static_listeners.push(Item {
                name: l.name.clone(),
                value: json!({"listener": listener, "last_updated": timestamp(l.last_updated)}),
            });
        }
        // Inline route configurations are static route configs in Envoy's dump.
        for chain in l
            .config
            .filter_chains
            .iter()
            .chain(l.config.default_filter_chain.iter())
        {
            for f in &chain.filters {
                if let NetworkFilterConfig::HttpConnectionManager(h) = &f.typed_config
                    && let Some(rc) = &h.route_config
                {
                    static_routes.push(Item {
                        name: rc.name.clone(),
                        value: json!({"route_config": any(type_url::ROUTE, rc), "last_updated": timestamp(l.last_updated)}),
                    });
                }
            }
        }
    }
    // A listener waiting for its secrets shows `warming_state` (beside the version in
    // service, if there is one).
    for l in &applied.warming_listeners {
        match dynamic_listeners.iter_mut().find(|i| i.name == l.name) {
            Some(item) => {
                if let Value::Object(m) = &mut item.value {
                    m.insert("warming_state".into(), state(l));
                }
            }
            None => dynamic_listeners.push(Item {
                name: l.name.clone(),
                value: json!({"name": l.name, "warming_state": state(l)}),
            }),
        }
    }
    let mut names: Vec<&String> = applied.routes.keys().collect();
    names.sort();
    let dynamic_routes: Vec<Item> = names
        .into_iter()
        .filter_map(|n| applied.routes.get(n))
        .map(|r| Item {
            name: r.config.name.clone(),
            value: json!({"version_info": r.version_info, "route_config": any(type_url::ROUTE, &r.config), "last_updated": timestamp(r.last_updated)}),
        })
        .collect();

    let mut out: Vec<Section> = vec![
        (
            "BootstrapConfigDump",
            vec![("bootstrap", "BootstrapConfigDump", vec![boot])],
        ),
        (
            "ClustersConfigDump",
            vec![
                (
                    "static_clusters",
                    "ClustersConfigDump.StaticCluster",
                    static_clusters,
                ),
                (
                    "dynamic_active_clusters",
                    "ClustersConfigDump.DynamicCluster",
                    dynamic_clusters,
                ),
            ],
        ),
    ];
    if include_eds {
        // Envoy files a cluster's endpoints by how the cluster came: bootstrap clusters under
        // static_endpoint_configs, xDS ones (EDS) under dynamic_endpoint_configs.
        let mut static_eps = Vec::new();
        let mut dynamic_eps = Vec::new();
        for c in &applied.clusters {
            let endpoints: Vec<Value> = c
                .hosts()
                .hosts
                .iter()
                .map(|h| {
                    json!({
                        "locality": serde_json::to_value(&h.locality).unwrap_or(json!({})),
                        "lb_endpoints": [{
                            "endpoint": {
                                "address": {"socket_address": {"address": h.address.ip().to_string(), "port_value": h.address.port()}},
                                "health_check_config": {},
                            },
                            "health_status": if h.is_healthy() { "HEALTHY" } else { "UNHEALTHY" },
                            "load_balancing_weight": h.weight,
                        }],
                        "priority": h.priority,
                    })
                })
                .collect();
            let into = if c.added_via_api {
                &mut dynamic_eps
            } else {
                &mut static_eps
            };
            into.push(Item {
                name: c.name.clone(),
                value: json!({"endpoint_config": {
                    "@type": type_url::ENDPOINT,
                    "cluster_name": c.name,
                    "endpoints": endpoints,
                    "policy": {"overprovisioning_factor": 140},
                }}),
            });
        }
        out.push((
            "EndpointsConfigDump",
            vec![
                (
                    "static_endpoint_configs",
                    "EndpointsConfigDump.StaticEndpointConfig",
                    static_eps,
                ),
                (
                    "dynamic_endpoint_configs",
                    "EndpointsConfigDump.DynamicEndpointConfig",
                    dynamic_eps,
                ),
            ],
        ));
    }
    out.push((
        "ListenersConfigDump",
        vec![
            (
                "static_listeners",
                "ListenersConfigDump.StaticListener",
                static_listeners,
            ),
            (
                "dynamic_listeners",
                "ListenersConfigDump.DynamicListener",
                dynamic_listeners,
            ),
        ],
    ));
    out.push(("ScopedRoutesConfigDump", vec![]));
    out.push((
        "RoutesConfigDump",
        vec![
            (
                "static_route_configs",
                "RoutesConfigDump.StaticRouteConfig",
                static_routes,
            ),
            (
                "dynamic_route_configs",
                "RoutesConfigDump.DynamicRouteConfig",
                dynamic_routes,
            ),
        ],
    ));
    out.push(secrets_section(proxy, &applied));
    out
}

/// `SecretsConfigDump`: static secrets, pushed ones, and the ones named but not received
/// yet (warming, `version_info: "uninitialized"`); private keys redacted.
fn secrets_section(proxy: &Proxy, applied: &Applied) -> Section {
    let secret_any = |s: &crate::xds::tls::Secret| {
        let mut v = any(type_url::SECRET, s);
        redact(&mut v);
        v
    };
    let statics: Vec<Item> = proxy
        .secrets
        .statics()
        .iter()
        .map(|s| Item {
            name: s.config.name.clone(),
            value: json!({"name": s.config.name, "secret": secret_any(&s.config)}),
        })
        .collect();
    let mut dynamics = proxy.secrets.dynamics();
    // Envoy lists certificate secrets before validation contexts.
    dynamics.sort_by_key(|s| !s.is_cert());
    let active: Vec<Item> = dynamics
        .iter()
        .map(|s| Item {
            name: s.config.name.clone(),
            value: json!({
                "name": s.config.name,
                "version_info": s.version_info,
                "last_updated": timestamp(s.last_updated),
                "secret": secret_any(&s.config),
            }),
        })
        .collect();
    let mut warming: Vec<Item> = Vec::new();
    let mut waiting = |names: Vec<String>, since: SystemTime| {
        for name in names {
            if proxy.secrets.dynamic_secret(&name).is_none()
                && !warming.iter().any(|i| i.name == name)
            {
                warming.push(Item {
                    name: name.clone(),
                    value: json!({
                        "name": name,
                        "version_info": "uninitialized",
                        "last_updated": timestamp(since),
                        "secret": {"@type": type_url::SECRET, "name": name},
                    }),
                });
            }
        }
    };
    for c in &applied.clusters {
        if let Some(t) = &c.transport {
            waiting(t.sds_names(), c.last_updated);
        }
    }
    for slot in &applied.listeners {
        let l = slot.current();
        waiting(l.sds_names(), l.last_updated);
    }
    for l in &applied.warming_listeners {
        waiting(l.sds_names(), l.last_updated);
    }
    (
        "SecretsConfigDump",
        vec![
            ("static_secrets", "SecretsConfigDump.StaticSecret", statics),
            (
                "dynamic_active_secrets",
                "SecretsConfigDump.DynamicSecret",
                active,
            ),
            (
                "dynamic_warming_secrets",
                "SecretsConfigDump.DynamicSecret",
                warming,
            ),
        ],
    )
}

/// Envoy's `MessageUtil::redact` for the sensitive fields of TLS config: every value set in
/// a `private_key` or `password` data source becomes `[redacted]` (base64 for bytes).
pub fn redact(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for (k, child) in map.iter_mut() {
                if (k == "private_key" || k == "password")
                    && let Value::Object(ds) = child
                {
                    for (field, value) in ds.iter_mut() {
                        *value = if field == "inline_bytes" {
                            json!("W3JlZGFjdGVkXQ==")
                        } else {
                            json!("[redacted]")
                        };
                    }
                } else {
                    redact(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(redact),
        _ => {}
    }
}

/// `/config_dump` as text, for callers inside the process (the sandbox's proxy-config).
pub fn dump(proxy: &Proxy, params: &[(String, String)]) -> Result<String, (StatusCode, String)> {
    let resp = render(proxy, params);
    let status = resp.status();
    let body =
        futures_util::FutureExt::now_or_never(http_body_util::BodyExt::collect(resp.into_body()))
            .and_then(Result::ok)
            .map(|c| String::from_utf8_lossy(&c.to_bytes()).into_owned())
            .unwrap_or_default();
    if status.is_success() {
        Ok(body)
    } else {
        Err((status, body))
    }
}

pub fn render(proxy: &Proxy, params: &[(String, String)]) -> Response<Body> {
    let include_eds = param(params, "include_eds").is_some();
    let name_regex = match param(params, "name_regex").map(|r| Regex::new(&format!("^(?:{r})$"))) {
        Some(Ok(re)) => Some(re),
        Some(Err(e)) => {
            return text(
                StatusCode::BAD_REQUEST,
                format!("Error while parsing name_regex: {e}\n"),
            );
        }
        None => None,
    };
    if param(params, "mask").is_some() {
        return text(
            StatusCode::BAD_REQUEST,
            "mask is not supported by mesh yet\n",
        );
    }
    let keep = |item: &Item| {
        name_regex
            .as_ref()
            .is_none_or(|re| item.name.is_empty() || re.is_match(&item.name))
    };
    let sections = sections(proxy, include_eds);
    let configs: Vec<Value> = if let Some(resource) = param(params, "resource") {
        let found = sections
            .into_iter()
            .flat_map(|(_, fields)| fields)
            .find(|(field, _, _)| *field == resource && *field != "bootstrap");
        let Some((_, item_type, items)) = found else {
            return text(
                StatusCode::NOT_FOUND,
                format!("{resource} not found in config dump\n"),
            );
        };
        items
            .into_iter()
            .filter(|i| keep(i))
            .map(|i| {
                let mut v = json!({"@type": format!("{DUMP}{item_type}")});
                if let (Value::Object(m), Value::Object(fields)) = (&mut v, i.value) {
                    m.extend(fields);
                }
                v
            })
            .collect()
    } else {
        sections
            .into_iter()
            .map(|(section, fields)| {
                let mut v = serde_json::Map::new();
                v.insert("@type".into(), json!(format!("{DUMP}{section}")));
                for (field, _, items) in fields {
                    if field == "bootstrap" {
                        if let Some(Value::Object(m)) = items.into_iter().next().map(|i| i.value) {
                            v.extend(m);
                        }
                        continue;
                    }
                    let items: Vec<Value> = items
                        .into_iter()
                        .filter(|i| keep(i))
                        .map(|i| i.value)
                        .collect();
                    if !items.is_empty() {
                        v.insert(field.into(), Value::Array(items));
                    }
                }
                Value::Object(v)
            })
            .collect()
    };
    json(pretty(&json!({ "configs": configs })))
}
