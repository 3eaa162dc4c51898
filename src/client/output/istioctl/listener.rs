//! `istioctl proxy-config listener` (`writer/envoy/configdump/listener.go`):
//! `ADDRESSES PORT MATCH DESTINATION`, one row per filter chain (the default chain included),
//! tabwriter padding 1.

use super::dump::ConfigDump;
use super::{Node, RenderError};
use crate::client::output::gosort::sort_slice;
use crate::client::output::table::Table;

const HTTP_CONNECTION_MANAGER: &str = "envoy.filters.network.http_connection_manager";
const TCP_PROXY: &str = "envoy.filters.network.tcp_proxy";
const BLACK_HOLE_CLUSTER: &str = "BlackHoleCluster";

/// `--address`, `--port`, `--type` (`HTTP`, `TCP`, `HTTP+TCP`, `UNKNOWN`; case-insensitive)
/// and `--verbose` (default true: `MATCH` and `DESTINATION` instead of `TYPE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListenerFilter {
    pub address: String,
    pub port: u32,
    pub type_: String,
    pub verbose: bool,
}

impl Default for ListenerFilter {
    fn default() -> Self {
        ListenerFilter {
            address: String::new(),
            port: 0,
            type_: String::new(),
            verbose: true,
        }
    }
}

impl ListenerFilter {
    fn verify(&self, listener: &Node) -> bool {
        if !self.address.is_empty() {
            let mut addresses = additional_addresses(listener);
            addresses.push(address(listener).to_string());
            if !addresses
                .iter()
                .any(|a| a.eq_ignore_ascii_case(&self.address))
            {
                return false;
            }
        }
        if self.port != 0 && port(listener) != self.port {
            return false;
        }
        self.type_.is_empty() || listener_type(listener).eq_ignore_ascii_case(&self.type_)
    }
}

/// The listener table.
pub fn listener(dump: &ConfigDump, filter: &ListenerFilter) -> Result<String, RenderError> {
    render(dump, filter, false)
}

/// `-o json|yaml`: the matching `Listener` protos, dynamic before static, unsorted (istioctl
/// sorts only the table).
pub fn listener_protos(
    dump: &ConfigDump,
    filter: &ListenerFilter,
) -> Result<Vec<Node>, RenderError> {
    Ok(dump
        .listeners()?
        .into_iter()
        .filter(|l| filter.verify(l))
        .map(|l| l.without("@type"))
        .collect())
}

/// The table; `with_type` adds `proxy-config all`'s `NAME` column (`listener/<name>`).
/// The table as text.
pub(super) fn render(
    dump: &ConfigDump,
    filter: &ListenerFilter,
    with_type: bool,
) -> Result<String, RenderError> {
    listener_table(dump, filter, with_type).map(|t| t.render())
}

/// The table's rows (header first), for views that lay them out themselves (the TUI).
pub fn listener_table(
    dump: &ConfigDump,
    filter: &ListenerFilter,
    with_type: bool,
) -> Result<Table, RenderError> {
    let mut listeners: Vec<&Node> = dump
        .listeners()?
        .into_iter()
        .filter(|l| filter.verify(l))
        .collect();
    sort_slice(&mut listeners, |a, b| {
        let (a_port, b_port) = (port(a), port(b));
        if a_port != b_port {
            return a_port < b_port;
        }
        let (a_addr, b_addr) = (address(a), address(b));
        if a_addr != b_addr {
            return a_addr < b_addr;
        }
        listener_type(a) < listener_type(b)
    });

    let mut table = Table::new(1);
    let mut header = vec!["ADDRESSES", "PORT"];
    if with_type {
        header.insert(0, "NAME");
    }
    if filter.verbose {
        header.extend(["MATCH", "DESTINATION"]);
    } else {
        header.push("TYPE");
    }
    table.row(header);
    for l in listeners {
        let mut addresses = vec![address(l).to_string()];
        addresses.extend(additional_addresses(l));
        let mut prefix = Vec::new();
        if with_type {
            prefix.push(format!("listener/{}", l.get("name").as_str()));
        }
        prefix.push(addresses.join(","));
        prefix.push(port(l).to_string());
        if filter.verbose {
            let mut chains: Vec<(String, String)> = filter_chains(l)
                .into_iter()
                .map(|fc| {
                    (
                        matches(fc.get("filterChainMatch")),
                        destination(fc.get("filters").items()),
                    )
                })
                .collect();
            sort_slice(&mut chains, |a, b| a.1 > b.1);
            for (matched, dest) in chains {
                table.row(prefix.iter().cloned().chain([matched, dest]));
            }
        } else {
            table.row(prefix.into_iter().chain([listener_type(l).to_string()]));
        }
    }
    Ok(table)
}

fn address(l: &Node) -> &str {
    let address = l.get("address");
    if address.has("socketAddress") {
        address.at(&["socketAddress", "address"]).as_str()
    } else {
        address.at(&["pipe", "path"]).as_str()
    }
}

fn additional_addresses(l: &Node) -> Vec<String> {
    l.get("additionalAddresses")
        .items()
        .iter()
        .map(|a| {
            a.at(&["address", "socketAddress", "address"])
                .as_str()
                .to_string()
        })
        .collect()
}

fn port(l: &Node) -> u32 {
    l.at(&["address", "socketAddress", "portValue"]).as_u32()
}

fn filter_chains(l: &Node) -> Vec<&Node> {
    let mut chains: Vec<&Node> = l.get("filterChains").items().iter().collect();
    if l.has("defaultFilterChain") {
        chains.push(l.get("defaultFilterChain"));
    }
    chains
}

/// `HTTP`, `TCP`, `HTTP+TCP` or `UNKNOWN` from the network filters of all chains (a
/// tcp_proxy to `BlackHoleCluster` does not count).
fn listener_type(l: &Node) -> &'static str {
    let (mut http, mut tcp) = (0, 0);
    for fc in filter_chains(l) {
        for f in fc.get("filters").items() {
            match f.get("name").as_str() {
                HTTP_CONNECTION_MANAGER => http += 1,
                TCP_PROXY if !f.get("typedConfig").any_string_contains(BLACK_HOLE_CLUSTER) => {
                    tcp += 1
                }
                _ => {}
            }
        }
    }
    match (http > 0, tcp > 0) {
        (true, false) => "HTTP",
        (true, true) => "HTTP+TCP",
        (false, true) => "TCP",
        (false, false) => "UNKNOWN",
    }
}

/// The MATCH column: `SNI: …; Trans: …; App: …; Addr: …`, or `ALL`.
fn matches(m: &Node) -> String {
    const ALPN_NAMES: [(&str, &[&str]); 4] = [
        (
            "App: HTTP TLS",
            &[
                "http/1.0",
                "http/1.1",
                "h2c",
                "istio-http/1.0",
                "istio-http/1.1",
                "istio-h2",
            ],
        ),
        (
            "App: Istio HTTP Plain",
            &["istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"],
        ),
        ("App: TCP TLS", &["istio-peer-exchange", "istio"]),
        ("App: HTTP", &["http/1.0", "http/1.1", "h2c"]),
    ];
    let mut parts = Vec::new();
    let server_names = m.get("serverNames").strings();
    if !server_names.is_empty() {
        parts.push(format!("SNI: {}", server_names.join(",")));
    }
    let transport = m.get("transportProtocol").as_str();
    if !transport.is_empty() {
        parts.push(format!("Trans: {transport}"));
    }
    let alpns = m.get("applicationProtocols").strings();
    if !alpns.is_empty() {
        match ALPN_NAMES
            .iter()
            .find(|(_, list)| *list == alpns.as_slice())
        {
            Some((name, _)) => parts.push((*name).to_string()),
            None => parts.push(format!("App: {}", alpns.join(","))),
        }
    }
    let port = if m.has("destinationPort") {
        format!(":{}", m.get("destinationPort").as_u32())
    } else {
        String::new()
    };
    let ranges = m.get("prefixRanges").items();
    if !ranges.is_empty() {
        let cidrs: Vec<String> = ranges
            .iter()
            .map(|r| {
                format!(
                    "{}/{}",
                    r.get("addressPrefix").as_str(),
                    r.get("prefixLen").as_u32()
                )
            })
            .collect();
        parts.push(format!("Addr: {}{port}", cidrs.join(",")));
    } else if !port.is_empty() {
        parts.push(format!("Addr: *{port}"));
    }
    if parts.is_empty() {
        return "ALL".to_string();
    }
    parts.join("; ")
}

/// The DESTINATION column from a chain's network filters.
fn destination(filters: &[Node]) -> String {
    for f in filters {
        let config = f.get("typedConfig");
        match f.get("name").as_str() {
            HTTP_CONNECTION_MANAGER => {
                if config.has("routeConfig") {
                    return describe_route_config(config.get("routeConfig"));
                }
                let rds = config.at(&["rds", "routeConfigName"]).as_str();
                if !rds.is_empty() {
                    return format!("Route: {rds}");
                }
                return "HTTP".to_string();
            }
            TCP_PROXY if !config.any_string_contains(BLACK_HOLE_CLUSTER) => {
                return cluster_label(config.get("cluster").as_str());
            }
            _ => {}
        }
    }
    "Non-HTTP/Non-TCP".to_string()
}

/// `PassthroughCluster`-style names bare, others as `Cluster: <name>`.
fn cluster_label(cluster: &str) -> String {
    if cluster.contains("Cluster") {
        cluster.to_string()
    } else {
        format!("Cluster: {cluster}")
    }
}

/// An inline route configuration: the cluster of a lone match-all route, else
/// `Inline Route: <domains> <matches>; …`.
fn describe_route_config(rc: &Node) -> String {
    if let Some(cluster) = match_all_cluster(rc) {
        return cluster;
    }
    let vhosts: Vec<String> = rc
        .get("virtualHosts")
        .items()
        .iter()
        .map(|vh| {
            let domains = vh.get("domains").strings();
            let routes: Vec<String> = vh
                .get("routes")
                .items()
                .iter()
                .map(|r| describe_match(r.get("match")))
                .collect();
            let routes = routes.join(", ");
            let domains = if domains == ["*"] {
                String::new()
            } else {
                domains.join("/")
            };
            if domains.is_empty() {
                routes
            } else {
                format!("{domains} {routes}")
            }
        })
        .collect();
    format!("Inline Route: {}", vhosts.join("; "))
}

fn match_all_cluster(rc: &Node) -> Option<String> {
    let [vh] = rc.get("virtualHosts").items() else {
        return None;
    };
    if vh.get("domains").strings() != ["*"] {
        return None;
    }
    let [route] = vh.get("routes").items() else {
        return None;
    };
    if route.at(&["match", "prefix"]).as_str() != "/" || !route.has("route") {
        return None;
    }
    let action = route.get("route");
    if !action.has("cluster") {
        return None;
    }
    Some(cluster_label(action.get("cluster").as_str()))
}

/// A route match as istioctl shows it: prefix `p*`, `PathPrefix:p`, exact path, `regex r`.
pub(super) fn describe_match(m: &Node) -> String {
    let mut conds = Vec::new();
    let prefix = m.get("prefix").as_str();
    if !prefix.is_empty() {
        conds.push(format!("{prefix}*"));
    }
    let path_prefix = m.get("pathSeparatedPrefix").as_str();
    if !path_prefix.is_empty() {
        conds.push(format!("PathPrefix:{path_prefix}"));
    }
    let path = m.get("path").as_str();
    if !path.is_empty() {
        conds.push(path.to_string());
    }
    if m.has("safeRegex") {
        conds.push(format!("regex {}", m.at(&["safeRegex", "regex"]).as_str()));
    }
    conds.join(" ")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::client::output::protojson::from_json;

    fn listener(value: serde_json::Value) -> Node {
        from_json(&value)
    }

    #[test]
    fn filter_verify_cases_from_istioctl() {
        let f = |address: &str, port, type_: &str| ListenerFilter {
            address: address.into(),
            port,
            type_: type_.into(),
            verbose: true,
        };
        let empty = listener(json!({}));
        assert!(f("", 0, "").verify(&empty));
        let addr = listener(json!({"address": {"socket_address": {"address": "1.1.1.1"}}}));
        assert!(!f("0.0.0.0", 0, "").verify(&addr));
        let addtl = listener(
            json!({"address": {"socket_address": {"address": "1.1.1.1"}},
            "additional_addresses": [{"address": {"socket_address": {"address": "1:1:1::1"}}}]}),
        );
        assert!(!f("0.0.0.0", 0, "").verify(&addtl));
        assert!(f("1:1:1::1", 0, "").verify(&addtl));
        let port = listener(json!({"address": {"socket_address": {"port_value": 11}}}));
        assert!(!f("", 10, "").verify(&port));
        let http =
            listener(json!({"filter_chains": [{"filters": [{"name": HTTP_CONNECTION_MANAGER}]}]}));
        assert!(f("", 0, "HTTP").verify(&http));
        assert!(f("", 0, "http").verify(&http));
        let both = listener(json!({"filter_chains": [{"filters": [{"name": TCP_PROXY},
            {"name": TCP_PROXY}, {"name": HTTP_CONNECTION_MANAGER}]}]}));
        assert!(f("", 0, "HTTP+TCP").verify(&both));
        let tcp = listener(json!({"filter_chains": [{"filters": [{"name": TCP_PROXY}]}]}));
        assert!(f("", 0, "TCP").verify(&tcp));
        let unknown = listener(json!({"filter_chains": [{"filters": []}]}));
        assert!(f("", 0, "UNKNOWN").verify(&unknown));
        let pipe = listener(json!({"address": {"pipe": {"path": "unix:///dev/shm/uds.socket"}}}));
        assert!(f("", 0, "").verify(&pipe));
    }

    #[test]
    fn match_column() {
        let m = |v| matches(&from_json(&v));
        assert_eq!(m(json!({})), "ALL");
        assert_eq!(m(json!({"destination_port": 15001})), "Addr: *:15001");
        assert_eq!(
            m(
                json!({"transport_protocol": "tls", "application_protocols": ["istio-peer-exchange", "istio"]})
            ),
            "Trans: tls; App: TCP TLS"
        );
        assert_eq!(
            m(
                json!({"transport_protocol": "raw_buffer", "application_protocols": ["http/1.1", "h2c"],
                "destination_port": 80})
            ),
            "Trans: raw_buffer; App: http/1.1,h2c; Addr: *:80"
        );
        assert_eq!(
            m(
                json!({"server_names": ["a", "b"], "prefix_ranges": [{"address_prefix": "10.0.0.0",
                "prefix_len": 8}, {"address_prefix": "::1"}], "destination_port": 80})
            ),
            "SNI: a,b; Addr: 10.0.0.0/8,::1/0:80"
        );
    }

    #[test]
    fn destination_column() {
        let d = |v: serde_json::Value| destination(from_json(&v).items());
        let hcm = |config: serde_json::Value| json!([{"name": HTTP_CONNECTION_MANAGER, "typed_config": config}]);
        assert_eq!(
            d(hcm(json!({"rds": {"route_config_name": "http.8080"}}))),
            "Route: http.8080"
        );
        assert_eq!(d(hcm(json!({}))), "HTTP");
        let inline =
            |vhosts: serde_json::Value| hcm(json!({"route_config": {"virtual_hosts": vhosts}}));
        assert_eq!(
            d(inline(
                json!([{"name": "backend", "domains": ["*"], "routes": [{"match": {"prefix": "/healthz/ready"},
                "route": {"cluster": "agent"}}]}])
            )),
            "Inline Route: /healthz/ready*"
        );
        assert_eq!(
            d(inline(
                json!([{"domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "PassthroughCluster"}}]}])
            )),
            "PassthroughCluster"
        );
        assert_eq!(
            d(inline(
                json!([{"domains": ["*"], "routes": [{"match": {"prefix": "/"}, "route": {"cluster": "outbound|80||a"}}]}])
            )),
            "Cluster: outbound|80||a"
        );
        assert_eq!(
            d(inline(
                json!([{"domains": ["a", "b"], "routes": [{"match": {"path": "/x"}},
                {"match": {"safe_regex": {"regex": ".*"}}}]}, {"domains": ["*"], "routes": [{"match": {"prefix": "/"}}]}])
            )),
            "Inline Route: a/b /x, regex .*; /*"
        );
        let tcp = |cluster: &str| json!([{"name": TCP_PROXY, "typed_config": {"stat_prefix": cluster, "cluster": cluster}}]);
        assert_eq!(d(tcp("BlackHoleCluster")), "Non-HTTP/Non-TCP");
        assert_eq!(
            d(tcp("InboundPassthroughCluster")),
            "InboundPassthroughCluster"
        );
        assert_eq!(
            d(tcp("outbound|53||coredns")),
            "Cluster: outbound|53||coredns"
        );
        assert_eq!(
            d(json!([{"name": "envoy.filters.network.rbac"}])),
            "Non-HTTP/Non-TCP"
        );
    }
}
