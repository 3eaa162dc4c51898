//! A proxy's `/clusters?format=json` ([`AdminClusters`]), normalised to protojson names and
//! to the admin protos' field order (what `proxy-config endpoint -o json` prints).

use serde_json::Value;

use super::RenderError;
use crate::client::output::node::Node;
use crate::client::output::protojson;

/// A proxy's `/clusters?format=json` (`envoy.admin.v3.Clusters`).
#[derive(Debug, Clone)]
pub struct AdminClusters {
    pub(super) root: Node,
}

impl AdminClusters {
    pub fn parse(text: &str) -> Result<Self, RenderError> {
        let value: Value = serde_json::from_str(text).map_err(|err| {
            RenderError::new(format!(
                "error unmarshalling config dump response from Envoy: {err}"
            ))
        })?;
        Ok(Self::from_json(&value))
    }

    pub fn from_json(value: &Value) -> Self {
        let mut root = protojson::from_json(value);
        if let Node::Message(fields) = &mut root {
            for (key, statuses) in fields.iter_mut() {
                if key == "clusterStatuses" {
                    reorder_list(statuses, CLUSTER_STATUS, reorder_cluster_status);
                }
            }
        }
        AdminClusters { root }
    }
}

// Field declaration order of the admin protos (`envoy/admin/v3/clusters.proto`,
// `metrics.proto`). Go's protojson prints fields in this order; Envoy's streaming
// `/clusters?format=json` writer does not (`observability_name` and `circuit_breakers` first).
const CLUSTER_STATUS: &[&str] = &[
    "name",
    "addedViaApi",
    "successRateEjectionThreshold",
    "hostStatuses",
    "localOriginSuccessRateEjectionThreshold",
    "circuitBreakers",
    "observabilityName",
    "edsServiceName",
];
const HOST_STATUS: &[&str] = &[
    "address",
    "stats",
    "healthStatus",
    "successRate",
    "weight",
    "hostname",
    "priority",
    "localOriginSuccessRate",
    "locality",
];
const HOST_HEALTH_STATUS: &[&str] = &[
    "failedActiveHealthCheck",
    "failedOutlierCheck",
    "failedActiveDegradedCheck",
    "pendingDynamicRemoval",
    "pendingActiveHc",
    "excludedViaImmediateHcFail",
    "activeHcTimeout",
    "edsHealthStatus",
];
const SIMPLE_METRIC: &[&str] = &["type", "value", "name"];

/// Sorts a message's fields into `order` (unknown fields last, as they were).
fn reorder(message: &mut Node, order: &[&str]) {
    if let Node::Message(fields) = message {
        let rank = |key: &str| order.iter().position(|k| *k == key).unwrap_or(order.len());
        fields.sort_by_key(|(key, _)| rank(key));
    }
}

fn reorder_list(list: &mut Node, order: &[&str], inner: fn(&mut Node)) {
    if let Node::List(items) = list {
        for item in items {
            reorder(item, order);
            inner(item);
        }
    }
}

fn reorder_cluster_status(status: &mut Node) {
    if let Node::Message(fields) = status {
        for (key, hosts) in fields.iter_mut() {
            if key == "hostStatuses" {
                reorder_list(hosts, HOST_STATUS, reorder_host_status);
            }
        }
    }
}

fn reorder_host_status(host: &mut Node) {
    if let Node::Message(fields) = host {
        for (key, value) in fields.iter_mut() {
            match key.as_str() {
                "healthStatus" => reorder(value, HOST_HEALTH_STATUS),
                "stats" => reorder_list(value, SIMPLE_METRIC, |_| {}),
                _ => {}
            }
        }
    }
}
