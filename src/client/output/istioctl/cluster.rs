//! `istioctl proxy-config cluster` (`writer/envoy/configdump/cluster.go`):
//! `SERVICE FQDN  PORT  SUBSET  DIRECTION  TYPE  DESTINATION RULE`, names like
//! `outbound|80||catalog.istioinaction.svc.cluster.local` split into their parts.

use super::dump::{ConfigDump, istio_config_name};
use super::{Node, RenderError};
use crate::client::output::table::Table;

/// `--fqdn`, `--port`, `--subset`, `--direction`: substring matches on the cluster name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClusterFilter {
    pub fqdn: String,
    pub port: u32,
    pub subset: String,
    pub direction: String,
}

impl ClusterFilter {
    fn verify(&self, cluster: &Node) -> bool {
        let name = cluster.get("name").as_str();
        (self.fqdn.is_empty() || name.contains(&self.fqdn))
            && (self.direction.is_empty() || name.contains(&self.direction))
            && (self.subset.is_empty() || name.contains(&self.subset))
            && (self.port == 0 || name.contains(&format!("|{}|", self.port)))
    }
}

/// The cluster table.
pub fn cluster(dump: &ConfigDump, filter: &ClusterFilter) -> Result<String, RenderError> {
    render(dump, filter, false)
}

/// `-o json|yaml`: the matching `Cluster` protos, in table order.
pub fn cluster_protos(dump: &ConfigDump, filter: &ClusterFilter) -> Result<Vec<Node>, RenderError> {
    Ok(dump
        .clusters()?
        .into_iter()
        .filter(|c| filter.verify(c))
        .map(|c| c.without("@type"))
        .collect())
}

/// The table; `with_type` adds `proxy-config all`'s `NAME` column (`cluster/<name>`).
/// The table as text.
pub(super) fn render(
    dump: &ConfigDump,
    filter: &ClusterFilter,
    with_type: bool,
) -> Result<String, RenderError> {
    cluster_table(dump, filter, with_type).map(|t| t.render())
}

/// The table's rows (header first), for views that lay them out themselves (the TUI).
pub fn cluster_table(
    dump: &ConfigDump,
    filter: &ClusterFilter,
    with_type: bool,
) -> Result<Table, RenderError> {
    let clusters = dump.clusters()?;
    let mut table = Table::new(5);
    let header = [
        "SERVICE FQDN",
        "PORT",
        "SUBSET",
        "DIRECTION",
        "TYPE",
        "DESTINATION RULE",
    ];
    if with_type {
        table.row(std::iter::once("NAME").chain(header));
    } else {
        table.row(header);
    }
    for cluster in clusters.into_iter().filter(|c| filter.verify(c)) {
        let name = cluster.get("name").as_str();
        let kind = discovery_type(cluster);
        let rule = istio_config_name(cluster.get("metadata"));
        let mut row: Vec<String> = Vec::new();
        if name.split('|').count() > 3 {
            let (direction, subset, fqdn, port) = parse_subset_key(name);
            let subset = if subset.is_empty() { "-" } else { subset };
            if with_type {
                row.push(format!("cluster/{name}"));
            }
            row.extend([
                fqdn.to_string(),
                port.to_string(),
                subset.to_string(),
                direction.to_string(),
            ]);
        } else if with_type && !name.is_empty() {
            // istioctl renames the cluster first, so both columns say `cluster/<name>`.
            let prefixed = format!("cluster/{name}");
            row.extend([prefixed.clone(), prefixed]);
            row.extend(["-", "-", "-"].map(String::from));
        } else {
            row.push(name.to_string());
            row.extend(["-", "-", "-"].map(String::from));
        }
        row.push(kind.to_string());
        row.push(rule);
        table.row(row);
    }
    Ok(table)
}

/// `Cluster.GetType()`: the discovery type's enum name; `STATIC` when unset or when a custom
/// `cluster_type` is used instead.
fn discovery_type(cluster: &Node) -> String {
    const NAMES: [&str; 5] = ["STATIC", "STRICT_DNS", "LOGICAL_DNS", "EDS", "ORIGINAL_DST"];
    if cluster.has("clusterType") {
        return NAMES[0].to_string();
    }
    match cluster.get("type") {
        Node::String(name) => name.clone(),
        Node::Number(n) => n
            .as_u64()
            .and_then(|i| NAMES.get(usize::try_from(i).ok()?))
            .map_or_else(|| n.to_string(), |name| (*name).to_string()),
        _ => NAMES[0].to_string(),
    }
}

/// Istio's `model.ParseSubsetKey`: `direction|port|subset|hostname` (or the DNS SRV form
/// `outbound_.80_.v1_.host` when the name starts with `outbound_`/`inbound_`). Parts after a
/// missing separator stay empty; an unparsable port is 0.
pub(super) fn parse_subset_key(key: &str) -> (&str, &str, &str, i64) {
    let sep = if key.starts_with("outbound_") || key.starts_with("inbound_") {
        "_."
    } else {
        "|"
    };
    let Some((direction, rest)) = key.split_once(sep) else {
        return ("", "", "", 0);
    };
    let Some((port, rest)) = rest.split_once(sep) else {
        return (direction, "", "", 0);
    };
    let port = port.parse().unwrap_or(0);
    let Some((subset, hostname)) = rest.split_once(sep) else {
        return (direction, "", "", port);
    };
    if hostname.contains(sep) {
        return (direction, subset, "", port);
    }
    (direction, subset, hostname, port)
}

/// istioctl's `safelyParseSubsetKey`: the parsed key for names with at least 3 `|`, else the
/// whole name as hostname.
pub(super) fn parse_subset_key_safely(key: &str) -> (&str, &str, &str, i64) {
    if key.split('|').count() > 3 {
        parse_subset_key(key)
    } else {
        ("", "", key, 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset_keys_split_like_istio() {
        assert_eq!(
            parse_subset_key("outbound|80||catalog.istioinaction.svc.cluster.local"),
            (
                "outbound",
                "",
                "catalog.istioinaction.svc.cluster.local",
                80
            )
        );
        assert_eq!(
            parse_subset_key("inbound|8080||"),
            ("inbound", "", "", 8080)
        );
        assert_eq!(
            parse_subset_key("outbound|80|v1|a|b"),
            ("outbound", "v1", "", 80)
        );
        assert_eq!(
            parse_subset_key("outbound|x|v1|a"),
            ("outbound", "v1", "a", 0)
        );
        assert_eq!(
            parse_subset_key_safely("BlackHoleCluster"),
            ("", "", "BlackHoleCluster", 0)
        );
    }

    #[test]
    fn filter_matches_substrings_of_the_name() {
        let c = Node::Message(vec![(
            "name".into(),
            Node::String("outbound|80|v1|catalog.istioinaction.svc.cluster.local".into()),
        )]);
        let f = |fqdn: &str, port, subset: &str, direction: &str| ClusterFilter {
            fqdn: fqdn.into(),
            port,
            subset: subset.into(),
            direction: direction.into(),
        };
        assert!(f("", 0, "", "").verify(&c));
        assert!(f("catalog", 80, "v1", "outbound").verify(&c));
        assert!(!f("webapp", 0, "", "").verify(&c));
        assert!(!f("", 8080, "", "").verify(&c));
        assert!(!f("", 0, "", "inbound").verify(&c));
    }
}
