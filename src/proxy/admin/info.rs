//! Small admin endpoints: `/server_info`, `/listeners`, `/logging`, `/memory`.

use std::sync::Arc;

use http::{Response, StatusCode};
use serde_json::json;

use super::super::Proxy;
use super::super::http::body::Body;
use super::super::log::{COMPONENTS, Level};
use super::{json, text};

/// The Envoy release whose behaviour mesh follows.
pub const ENVOY_VERSION: &str = "1.34.0";

/// `/server_info`'s version string: `<sha>/<version>/<status>/<build>/<ssl>`.
pub fn version_string() -> String {
    format!(
        "mesh-{}/{ENVOY_VERSION}/Clean/RELEASE/rustls",
        env!("CARGO_PKG_VERSION")
    )
}

fn secs(d: std::time::Duration) -> String {
    format!("{}s", d.as_secs())
}

/// Pretty JSON with Envoy's one-space indent.
pub fn pretty(v: &serde_json::Value) -> String {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b" ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    let _ = serde::Serialize::serialize(v, &mut ser);
    out.push(b'\n');
    String::from_utf8(out).unwrap_or_default()
}

pub fn node_json(proxy: &Proxy) -> serde_json::Value {
    let applied = proxy.applied();
    let node = applied.bootstrap.node.clone().unwrap_or_default();
    let id = proxy.options.service_node.clone().unwrap_or(node.id);
    let cluster = proxy
        .options
        .service_cluster
        .clone()
        .unwrap_or(node.cluster);
    let mut v = serde_json::Map::new();
    if !id.is_empty() {
        v.insert("id".into(), json!(id));
    }
    if !cluster.is_empty() {
        v.insert("cluster".into(), json!(cluster));
    }
    if let Some(m) = node.metadata {
        v.insert("metadata".into(), serde_json::Value::Object(m));
    }
    if let Some(l) = node.locality {
        v.insert(
            "locality".into(),
            serde_json::to_value(l).unwrap_or_default(),
        );
    }
    v.insert("user_agent_name".into(), json!("envoy"));
    v.insert(
        "user_agent_build_version".into(),
        json!({
            "version": {"major_number": 1, "minor_number": 34},
            "metadata": {
                "revision.status": "Clean",
                "build.type": "RELEASE",
                "ssl.version": "rustls",
                "build.label": format!("mesh-{}", env!("CARGO_PKG_VERSION")),
            }
        }),
    );
    v.insert("extensions".into(), extensions());
    serde_json::Value::Object(v)
}

/// The extensions mesh implements, in the shape of Envoy's node extension list.
fn extensions() -> serde_json::Value {
    let ext = |name: &str, category: &str, url: &str| json!({"name": name, "category": category, "type_urls": [url]});
    json!([
        ext(
            "envoy.filters.network.http_connection_manager",
            "envoy.filters.network",
            "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
        ),
        ext(
            "envoy.filters.http.router",
            "envoy.filters.http",
            "envoy.extensions.filters.http.router.v3.Router"
        ),
        ext(
            "envoy.access_loggers.file",
            "envoy.access_loggers",
            "envoy.extensions.access_loggers.file.v3.FileAccessLog"
        ),
        ext(
            "envoy.access_loggers.stdout",
            "envoy.access_loggers",
            "envoy.extensions.access_loggers.stream.v3.StdoutAccessLog"
        ),
        ext(
            "envoy.access_loggers.stderr",
            "envoy.access_loggers",
            "envoy.extensions.access_loggers.stream.v3.StderrAccessLog"
        ),
        ext(
            "envoy.retry_host_predicates.previous_hosts",
            "envoy.retry_host_predicates",
            "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
        ),
    ])
}

pub fn server_info(proxy: &Arc<Proxy>) -> String {
    let o = &proxy.options;
    let uptime = secs(proxy.started.elapsed());
    let v = json!({
        "version": version_string(),
        "state": proxy.state().name(),
        "hot_restart_version": "disabled",
        "command_line_options": {
            "base_id": o.base_id.to_string(),
            "concurrency": o.concurrency,
            "config_path": o.config_path,
            "config_yaml": o.config_yaml,
            "admin_address_path": "",
            "local_address_ip_version": "v4",
            "log_level": o.log_level.name(),
            "component_log_level": o.component_log_level.clone().unwrap_or_default(),
            "log_format": "[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v",
            "log_format_escaped": false,
            "log_path": o.log_path,
            "service_cluster": o.service_cluster.clone().unwrap_or_default(),
            "service_node": o.service_node.clone().unwrap_or_default(),
            "service_zone": o.service_zone.clone().unwrap_or_default(),
            "mode": "Serve",
            "disable_hot_restart": true,
            "drain_time": secs(o.drain_time),
            "parent_shutdown_time": secs(o.parent_shutdown_time),
            "drain_strategy": "Gradual",
            "file_flush_interval": "10s",
        },
        "node": node_json(proxy),
        "uptime_current_epoch": uptime,
        "uptime_all_epochs": uptime,
    });
    pretty(&v)
}

pub fn listeners(proxy: &Proxy, as_json: bool) -> Response<Body> {
    let applied = proxy.applied();
    if as_json {
        let statuses: Vec<serde_json::Value> = applied
            .listeners
            .iter()
            .map(|slot| {
                let a = slot.bound_address();
                json!({
                    "name": slot.current().name,
                    "local_address": {"socket_address": {"address": a.ip().to_string(), "port_value": a.port()}},
                })
            })
            .collect();
        return json(pretty(&json!({"listener_statuses": statuses})));
    }
    let mut out = String::new();
    for slot in &applied.listeners {
        out.push_str(&format!(
            "{}::{}\n",
            slot.current().name,
            slot.bound_address()
        ));
    }
    text(StatusCode::OK, out)
}

fn logger_list(proxy: &Proxy) -> String {
    let mut out = String::from("active loggers:\n");
    for (name, level) in proxy.log.levels() {
        out.push_str(&format!("  {name}: {}\n", level.name()));
    }
    out
}

const LOGGING_USAGE: &str = "usage: /logging?<name>=<level> (change single level)\n/logging?paths=name1:level1,name2:level2,... (change multiple levels)\n/logging?level=<level> (change all levels)\nlevels: trace debug info warning error critical off\n";

/// `POST /logging`: list, or change levels (`?level=`, `?<logger>=`, `?paths=`).
pub fn logging(proxy: &Proxy, params: &[(String, String)]) -> Response<Body> {
    let usage = || {
        let mut body = String::from(LOGGING_USAGE);
        body.push_str(&logger_list(proxy));
        text(StatusCode::NOT_FOUND, body)
    };
    if params.len() > 1 {
        return usage();
    }
    if let Some((key, value)) = params.first() {
        let result = match key.as_str() {
            "level" => value.parse::<Level>().map(|l| proxy.log.set_all(l)),
            "paths" => {
                let mut r = Ok(());
                for part in value.split(',').filter(|p| !p.is_empty()) {
                    r = match part.split_once(':') {
                        Some((name, level)) => {
                            level.parse::<Level>().and_then(|l| proxy.log.set(name, l))
                        }
                        None => Err(format!("invalid path '{part}'")),
                    };
                    if r.is_err() {
                        break;
                    }
                }
                r
            }
            name if COMPONENTS.contains(&name) => {
                value.parse::<Level>().and_then(|l| proxy.log.set(name, l))
            }
            _ => Err("unknown logger".to_owned()),
        };
        if result.is_err() {
            return usage();
        }
    }
    text(StatusCode::OK, logger_list(proxy))
}

pub fn memory() -> String {
    let rss = super::super::server_stats::resident_bytes()
        .unwrap_or(0)
        .to_string();
    pretty(&json!({
        "allocated": rss,
        "heap_size": rss,
        "pageheap_unmapped": "0",
        "pageheap_free": "0",
        "total_thread_cache": "0",
        "total_physical_bytes": rss,
    }))
}
