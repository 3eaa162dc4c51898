//! The endpoints section of `proxy-config all` (and the hidden `proxy-config eds`), from the
//! `EndpointsConfigDump` of `/config_dump?include_eds` (`writer/envoy/configdump/endpoint.go`):
//! `NAME  STATUS  LOCALITY  CLUSTER`.

use super::Node;
use super::dump::{ConfigDump, ENDPOINTS, subset_key_less};
use super::endpoint::{EndpointFilter, health_status_name};
use crate::client::output::gosort::sort_slice;
use crate::client::output::table::Table;

/// The EDS table (header only when the dump has no endpoints section).
pub fn eds(dump: &ConfigDump, filter: &EndpointFilter) -> String {
    render(dump, filter, false)
}

/// `-o json|yaml`: the `ClusterLoadAssignment`s with a matching endpoint, keeping only the
/// matching endpoints, sorted like the clusters table.
pub fn eds_protos(dump: &ConfigDump, filter: &EndpointFilter) -> Vec<Node> {
    assignments(dump, filter)
}

pub(super) fn render(dump: &ConfigDump, filter: &EndpointFilter, with_type: bool) -> String {
    let mut table = Table::new(5);
    table.row(["NAME", "STATUS", "LOCALITY", "CLUSTER"]);
    for cla in assignments(dump, filter) {
        let cluster = cla.get("clusterName").as_str();
        for llb in cla.get("endpoints").items() {
            let locality = locality(llb.get("locality"));
            for ep in llb.get("lbEndpoints").items() {
                let mut addr = addresses(ep).join(",");
                if with_type {
                    addr = format!("endpoint/{addr}");
                }
                let status = match health_status_name(ep.get("healthStatus")) {
                    name if name.is_empty() => {
                        ep.get("healthStatus").as_u64().unwrap_or(0).to_string()
                    }
                    name => name,
                };
                table.row([addr, status, locality.clone(), cluster.to_string()]);
            }
        }
    }
    table.render()
}

/// The load assignments with their endpoints filtered; those left empty are dropped.
fn assignments(dump: &ConfigDump, filter: &EndpointFilter) -> Vec<Node> {
    let Ok(section) = dump.section(ENDPOINTS) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for list in ["dynamicEndpointConfigs", "staticEndpointConfigs"] {
        for config in section.get(list).items() {
            let cla = config.get("endpointConfig");
            if let Some(kept) = filtered(cla, filter) {
                out.push(kept);
            }
        }
    }
    sort_slice(&mut out, |a, b| {
        subset_key_less(a.get("clusterName").as_str(), b.get("clusterName").as_str())
    });
    out
}

fn filtered(cla: &Node, filter: &EndpointFilter) -> Option<Node> {
    let Node::Message(fields) = cla.without("@type") else {
        return None;
    };
    let cluster = cla.get("clusterName").as_str();
    let mut count = 0;
    let fields = fields
        .into_iter()
        .map(|(key, value)| {
            if key != "endpoints" {
                return (key, value);
            }
            let llbs = value
                .items()
                .iter()
                .map(|llb| {
                    let kept: Vec<Node> = llb
                        .get("lbEndpoints")
                        .items()
                        .iter()
                        .filter(|ep| verify(filter, ep, cluster))
                        .cloned()
                        .collect();
                    count += kept.len();
                    replace_field(llb, "lbEndpoints", kept)
                })
                .collect();
            (key, Node::List(llbs))
        })
        .collect();
    (count > 0).then_some(Node::Message(fields))
}

fn replace_field(message: &Node, key: &str, items: Vec<Node>) -> Node {
    let fields = message
        .entries()
        .iter()
        .filter_map(|(k, v)| {
            if k != key {
                Some((k.clone(), v.clone()))
            } else if items.is_empty() {
                None
            } else {
                Some((k.clone(), Node::List(items.clone())))
            }
        })
        .collect();
    Node::Message(fields)
}

fn verify(filter: &EndpointFilter, ep: &Node, cluster: &str) -> bool {
    if filter.is_empty() {
        return true;
    }
    (filter.address.is_empty()
        || addresses(ep)
            .iter()
            .any(|a| a.eq_ignore_ascii_case(&filter.address)))
        && (filter.port == 0
            || ep
                .at(&["endpoint", "address", "socketAddress", "portValue"])
                .as_u32()
                == filter.port)
        && (filter.cluster.is_empty() || cluster.eq_ignore_ascii_case(&filter.cluster))
        && (filter.status.is_empty()
            || health_status_name(ep.get("healthStatus")).eq_ignore_ascii_case(&filter.status))
}

/// `ip:port` (port always shown), a pipe's path, `envoy://<listener>/<id>`, or `unknown`, for
/// the endpoint's address and its additional addresses.
fn addresses(ep: &Node) -> Vec<String> {
    let endpoint = ep.get("endpoint");
    std::iter::once(endpoint.get("address"))
        .chain(
            endpoint
                .get("additionalAddresses")
                .items()
                .iter()
                .map(|a| a.get("address")),
        )
        .map(|addr| {
            if addr.has("socketAddress") {
                let sa = addr.get("socketAddress");
                format!(
                    "{}:{}",
                    sa.get("address").as_str(),
                    sa.get("portValue").as_u32()
                )
            } else if addr.has("pipe") {
                addr.at(&["pipe", "path"]).as_str().to_string()
            } else if addr.at(&["envoyInternalAddress"]).has("serverListenerName") {
                let internal = addr.get("envoyInternalAddress");
                format!(
                    "envoy://{}/{}",
                    internal.get("serverListenerName").as_str(),
                    internal.get("endpointId").as_str()
                )
            } else {
                "unknown".to_string()
            }
        })
        .collect()
}

/// Istio's `util.LocalityToString`: `region[/zone[/subzone]]`.
fn locality(l: &Node) -> String {
    let mut out = l.get("region").as_str().to_string();
    let zone = l.get("zone").as_str();
    if zone.is_empty() {
        return out;
    }
    out.push('/');
    out.push_str(zone);
    let sub_zone = l.get("subZone").as_str();
    if !sub_zone.is_empty() {
        out.push('/');
        out.push_str(sub_zone);
    }
    out
}
