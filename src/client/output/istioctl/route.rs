//! `istioctl proxy-config route` (`writer/envoy/configdump/route.go`):
//! `NAME  VHOST NAME  DOMAINS  MATCH  VIRTUAL SERVICE`, one row per route; a virtual host with
//! no routes (the gateway's `blackhole:80`) prints `/*` and `404`.

use super::dump::{ConfigDump, istio_config_name};
use super::listener::describe_match;
use super::{Node, RenderError};
use crate::client::output::table::Table;

/// `--name` (exact route configuration name) and `--verbose` (default true; false prints
/// `NAME  VIRTUAL HOSTS` with a count).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFilter {
    pub name: String,
    pub verbose: bool,
}

impl Default for RouteFilter {
    fn default() -> Self {
        RouteFilter {
            name: String::new(),
            verbose: true,
        }
    }
}

impl RouteFilter {
    fn verify(&self, route: &Node) -> bool {
        self.name.is_empty() || self.name == route.get("name").as_str()
    }
}

/// The route table.
pub fn route(dump: &ConfigDump, filter: &RouteFilter) -> Result<String, RenderError> {
    render(dump, filter, false)
}

/// `-o json|yaml`: the matching `RouteConfiguration` protos (with `--name http.8080`, the
/// gateway's one).
pub fn route_protos(dump: &ConfigDump, filter: &RouteFilter) -> Result<Vec<Node>, RenderError> {
    Ok(dump
        .routes()?
        .into_iter()
        .filter(|r| filter.verify(r))
        .map(|r| r.without("@type"))
        .collect())
}

/// The table; `with_type` prefixes names with `route/` for `proxy-config all`.
/// The table as text.
pub(super) fn render(
    dump: &ConfigDump,
    filter: &RouteFilter,
    with_type: bool,
) -> Result<String, RenderError> {
    route_table(dump, filter, with_type).map(|t| t.render())
}

/// The table's rows (header first), for views that lay them out themselves (the TUI).
pub fn route_table(
    dump: &ConfigDump,
    filter: &RouteFilter,
    with_type: bool,
) -> Result<Table, RenderError> {
    let routes = dump.routes()?;
    let mut table = Table::new(5);
    if filter.verbose {
        table.row(["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"]);
    } else {
        table.row(["NAME", "VIRTUAL HOSTS"]);
    }
    for rc in routes.into_iter().filter(|r| filter.verify(r)) {
        let mut name = rc.get("name").as_str().to_string();
        if with_type {
            name = format!("route/{name}");
        }
        let vhosts = rc.get("virtualHosts").items();
        if !filter.verbose {
            table.row([name, vhosts.len().to_string()]);
            continue;
        }
        for vh in vhosts {
            let vhost_name = vh.get("name").as_str();
            let domains = describe_domains(&vh.get("domains").strings());
            let routes = vh.get("routes").items();
            for r in routes.iter().filter(|r| !is_passthrough(r)) {
                table.row([
                    name.clone(),
                    vhost_name.to_string(),
                    domains.clone(),
                    describe_match(r.get("match")),
                    istio_config_name(r.get("metadata")),
                ]);
            }
            if routes.is_empty() {
                table.row([
                    name.clone(),
                    vhost_name.to_string(),
                    domains,
                    "/*".into(),
                    "404".into(),
                ]);
            }
        }
    }
    Ok(table)
}

fn is_passthrough(route: &Node) -> bool {
    route.at(&["route", "cluster"]).as_str() == "PassthroughCluster"
}

/// The DOMAINS column: one domain as is; several without the `:port` variants and the
/// `.svc.cluster.local`/`.svc` expansions of a shorter one, at most two plus `+ N more...`.
pub(super) fn describe_domains(domains: &[&str]) -> String {
    match domains {
        [] => return String::new(),
        [one] => return (*one).to_string(),
        _ => {}
    }
    let without_port: Vec<&str> = domains
        .iter()
        .copied()
        .filter(|d| !d.contains(':') || (d.matches(':').count() > 2 && d.ends_with(']')))
        .collect();
    let short = unexpand(&without_port);
    if short.len() > 2 {
        format!("{} + {} more...", short[..2].join(", "), short.len() - 2)
    } else {
        short.join(", ")
    }
}

fn unexpand<'a>(domains: &[&'a str]) -> Vec<&'a str> {
    let present = |d: &str| domains.contains(&d);
    let redundant = |h: &str| {
        [".svc.cluster.local", ".svc"]
            .iter()
            .any(|suffix| h.strip_suffix(suffix).is_some_and(&present))
    };
    domains.iter().copied().filter(|h| !redundant(h)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_cases_from_istioctl() {
        let d = |list: &[&str]| describe_domains(list);
        assert_eq!(d(&[]), "");
        assert_eq!(d(&["example.com"]), "example.com");
        assert_eq!(d(&["example.com", "example.com:8080"]), "example.com");
        assert_eq!(
            d(&["example.com", "example.com:8080", "1.2.3.4", "1.2.3.4:8080"]),
            "example.com, 1.2.3.4"
        );
        assert_eq!(
            d(&[
                "example.com",
                "example.com:8080",
                "[fd00:10:96::7fc7]",
                "[fd00:10:96::7fc7]:8080"
            ]),
            "example.com, [fd00:10:96::7fc7]"
        );
        assert_eq!(
            d(&[
                "example.com",
                "example.com:8080",
                "www.example.com",
                "www.example.com:8080",
                "[fd00:10:96::7fc7]",
                "[fd00:10:96::7fc7]:8080"
            ]),
            "example.com, www.example.com + 1 more..."
        );
        assert_eq!(
            d(&[
                "catalog.istioinaction.svc.cluster.local",
                "catalog",
                "catalog.istioinaction.svc",
                "catalog.istioinaction",
                "10.96.12.34"
            ]),
            "catalog, catalog.istioinaction + 1 more..."
        );
    }
}
