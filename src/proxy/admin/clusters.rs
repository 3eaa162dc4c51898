//! `/clusters` in Envoy's text and JSON (`admin.v3.Clusters`) forms.

use http::{Response, StatusCode};
use serde_json::json;

use crate::xds::endpoint::HealthStatus;

use super::super::Proxy;
use super::super::cluster::{
    DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_PENDING, DEFAULT_MAX_REQUESTS, DEFAULT_MAX_RETRIES,
};
use super::super::http::body::Body;
use super::info::pretty;
use super::{json, text};

pub fn render(proxy: &Proxy, as_json: bool) -> Response<Body> {
    let applied = proxy.applied();
    if as_json {
        let statuses: Vec<serde_json::Value> = applied
            .clusters
            .iter()
            .map(|c| {
                let hosts: Vec<serde_json::Value> = c
                    .hosts()
                    .hosts
                    .iter()
                    .map(|h| {
                        let rows = h.stats.rows();
                        // Counters first, then gauges; zero values omit "value" (proto3 JSON).
                        let mut stats: Vec<serde_json::Value> = rows
                            .iter()
                            .filter(|(_, _, gauge)| !gauge)
                            .map(|(n, v, _)| stat(n, *v, false))
                            .collect();
                        stats.extend(
                            rows.iter()
                                .filter(|(_, _, gauge)| *gauge)
                                .map(|(n, v, _)| stat(n, *v, true)),
                        );
                        let eds = match h.health {
                            HealthStatus::Unknown | HealthStatus::Healthy => "HEALTHY",
                            HealthStatus::Unhealthy => "UNHEALTHY",
                            HealthStatus::Draining => "DRAINING",
                            HealthStatus::Timeout => "TIMEOUT",
                            HealthStatus::Degraded => "DEGRADED",
                        };
                        let mut host = json!({
                            "address": {"socket_address": {"address": h.address.ip().to_string(), "port_value": h.address.port()}},
                            "stats": stats,
                            "health_status": {"eds_health_status": eds},
                            "weight": h.weight,
                        });
                        if h.outlier_ejected() {
                            host["health_status"]["failed_outlier_check"] = json!(true);
                        }
                        if h.hc_failed() {
                            host["health_status"]["failed_active_health_check"] = json!(true);
                        }
                        if !h.hostname.is_empty() {
                            host["hostname"] = json!(h.hostname);
                        }
                        if h.priority > 0 {
                            host["priority"] = json!(h.priority);
                        }
                        host["locality"] = serde_json::to_value(&h.locality).unwrap_or(json!({}));
                        host
                    })
                    .collect();
                let thresholds = |high: bool| {
                    let mut t = json!({
                        "max_connections": DEFAULT_MAX_CONNECTIONS,
                        "max_pending_requests": DEFAULT_MAX_PENDING,
                        "max_requests": DEFAULT_MAX_REQUESTS,
                        "max_retries": DEFAULT_MAX_RETRIES,
                    });
                    if high {
                        t["priority"] = json!("HIGH");
                    }
                    t
                };
                let mut v = json!({
                    "name": c.name,
                    "host_statuses": hosts,
                    "circuit_breakers": {"thresholds": [thresholds(false), thresholds(true)]},
                    "observability_name": c.config.stat_name(),
                });
                if c.added_via_api {
                    v["added_via_api"] = json!(true);
                }
                if let Some(eds) = c.config.eds_cluster_config.as_ref().filter(|e| !e.service_name.is_empty()) {
                    v["eds_service_name"] = json!(eds.service_name);
                }
                v
            })
            .collect();
        return json(pretty(&json!({"cluster_statuses": statuses})));
    }
    let mut out = String::new();
    for c in &applied.clusters {
        let n = &c.name;
        out.push_str(&format!(
            "{n}::observability_name::{}\n",
            c.config.stat_name()
        ));
        for prio in ["default_priority", "high_priority"] {
            out.push_str(&format!(
                "{n}::{prio}::max_connections::{DEFAULT_MAX_CONNECTIONS}\n"
            ));
            out.push_str(&format!(
                "{n}::{prio}::max_pending_requests::{DEFAULT_MAX_PENDING}\n"
            ));
            out.push_str(&format!(
                "{n}::{prio}::max_requests::{DEFAULT_MAX_REQUESTS}\n"
            ));
            out.push_str(&format!(
                "{n}::{prio}::max_retries::{DEFAULT_MAX_RETRIES}\n"
            ));
        }
        out.push_str(&format!("{n}::added_via_api::{}\n", c.added_via_api));
        if let Some(eds) = c
            .config
            .eds_cluster_config
            .as_ref()
            .filter(|e| !e.service_name.is_empty())
        {
            out.push_str(&format!("{n}::eds_service_name::{}\n", eds.service_name));
        }
        for h in &c.hosts().hosts {
            let a = h.address;
            for (stat, value, _) in h.stats.rows() {
                out.push_str(&format!("{n}::{a}::{stat}::{value}\n"));
            }
            out.push_str(&format!("{n}::{a}::hostname::{}\n", h.hostname));
            out.push_str(&format!("{n}::{a}::health_flags::{}\n", h.health_flags()));
            out.push_str(&format!("{n}::{a}::weight::{}\n", h.weight));
            out.push_str(&format!("{n}::{a}::region::{}\n", h.locality.region));
            out.push_str(&format!("{n}::{a}::zone::{}\n", h.locality.zone));
            out.push_str(&format!("{n}::{a}::sub_zone::{}\n", h.locality.sub_zone));
            out.push_str(&format!("{n}::{a}::canary::false\n"));
            out.push_str(&format!("{n}::{a}::priority::{}\n", h.priority));
            out.push_str(&format!("{n}::{a}::success_rate::-1\n"));
            out.push_str(&format!("{n}::{a}::local_origin_success_rate::-1\n"));
        }
    }
    text(StatusCode::OK, out)
}

fn stat(name: &str, value: u64, gauge: bool) -> serde_json::Value {
    let mut v = serde_json::Map::new();
    if gauge {
        v.insert("type".into(), json!("GAUGE"));
    }
    if value != 0 {
        v.insert("value".into(), json!(value.to_string()));
    }
    v.insert("name".into(), json!(name));
    serde_json::Value::Object(v)
}
