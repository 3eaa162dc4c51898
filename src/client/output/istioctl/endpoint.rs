//! `istioctl proxy-config endpoint` (`writer/envoy/clusters/clusters.go`), from the proxy's
//! `/clusters?format=json`: `ENDPOINT  STATUS  OUTLIER CHECK  CLUSTER`.

use super::Node;
use super::admin::AdminClusters;
use crate::client::output::gosort::sort_slice;
use crate::client::output::table::Table;

/// `--address`, `--port`, `--cluster` (exact, case-insensitive), `--status` (a health status
/// name, case-insensitive). Also `proxy-config all`'s endpoint filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointFilter {
    pub address: String,
    pub port: u32,
    pub cluster: String,
    pub status: String,
}

impl EndpointFilter {
    pub(super) fn is_empty(&self) -> bool {
        self.address.is_empty()
            && self.port == 0
            && self.cluster.is_empty()
            && self.status.is_empty()
    }

    fn verify(&self, host: &Node, cluster: &str) -> bool {
        if self.is_empty() {
            return true;
        }
        (self.address.is_empty() || address(host).eq_ignore_ascii_case(&self.address))
            && (self.port == 0 || port(host) == self.port)
            && (self.cluster.is_empty() || cluster.eq_ignore_ascii_case(&self.cluster))
            && (self.status.is_empty()
                || health_status_name(host.at(&["healthStatus", "edsHealthStatus"]))
                    .eq_ignore_ascii_case(&self.status))
    }
}

/// The endpoint table.
pub fn endpoint(clusters: &AdminClusters, filter: &EndpointFilter) -> String {
    endpoint_table(clusters, filter).render()
}

/// The endpoint table's rows (header first).
pub fn endpoint_table(clusters: &AdminClusters, filter: &EndpointFilter) -> Table {
    struct Row {
        address: String,
        port: u32,
        cluster: String,
        status: String,
        failed_outlier_check: bool,
    }
    let mut rows = Vec::new();
    for cluster in clusters.root.get("clusterStatuses").items() {
        let name = cluster.get("name").as_str();
        for host in cluster.get("hostStatuses").items() {
            if filter.verify(host, name) {
                rows.push(Row {
                    address: address(host),
                    port: port(host),
                    cluster: name.to_string(),
                    status: health_status_name(host.at(&["healthStatus", "edsHealthStatus"])),
                    failed_outlier_check: host
                        .at(&["healthStatus", "failedOutlierCheck"])
                        .as_bool(),
                });
            }
        }
    }
    sort_slice(&mut rows, |a, b| {
        if a.address != b.address {
            return a.address < b.address;
        }
        if a.port != b.port {
            return a.port < b.port;
        }
        a.cluster < b.cluster
    });
    let mut table = Table::new(5);
    table.row(["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"]);
    for row in rows {
        let endpoint = if row.port != 0 {
            format!("{}:{}", row.address, row.port)
        } else {
            row.address
        };
        let outlier = if row.failed_outlier_check {
            "FAILED"
        } else {
            "OK"
        };
        table.row([endpoint, row.status, outlier.to_string(), row.cluster]);
    }
    table
}

/// `-o json|yaml`: the admin `ClusterStatus` of every cluster with a matching host (all of its
/// hosts), in `/clusters` order.
pub fn endpoint_protos(clusters: &AdminClusters, filter: &EndpointFilter) -> Vec<Node> {
    clusters
        .root
        .get("clusterStatuses")
        .items()
        .iter()
        .filter(|cluster| {
            let name = cluster.get("name").as_str();
            cluster
                .get("hostStatuses")
                .items()
                .iter()
                .any(|h| filter.verify(h, name))
        })
        .cloned()
        .collect()
}

fn address(host: &Node) -> String {
    let address = host.get("address");
    if address.has("socketAddress") {
        return address
            .at(&["socketAddress", "address"])
            .as_str()
            .to_string();
    }
    if address.has("pipe") {
        return format!("unix://{}", address.at(&["pipe", "path"]).as_str());
    }
    let internal = address.get("envoyInternalAddress");
    if internal.has("serverListenerName") {
        return format!(
            "envoy://{}/{}",
            internal.get("serverListenerName").as_str(),
            internal.get("endpointId").as_str()
        );
    }
    "unknown".to_string()
}

fn port(host: &Node) -> u32 {
    host.at(&["address", "socketAddress", "portValue"]).as_u32()
}

/// `core.HealthStatus` name (`UNKNOWN` when unset); `""` for a number with no name, as Go's
/// `HealthStatus_name` map lookup.
pub(super) fn health_status_name(status: &Node) -> String {
    const NAMES: [&str; 6] = [
        "UNKNOWN",
        "HEALTHY",
        "UNHEALTHY",
        "DRAINING",
        "TIMEOUT",
        "DEGRADED",
    ];
    match status {
        Node::String(name) => name.clone(),
        Node::Number(n) => n
            .as_u64()
            .and_then(|i| NAMES.get(usize::try_from(i).ok()?))
            .map_or_else(String::new, |name| (*name).to_string()),
        _ => NAMES[0].to_string(),
    }
}
