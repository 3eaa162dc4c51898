//! istiod's names for things, in one place: cluster names (`outbound|80||host`), listener
//! names (`0.0.0.0_8080`), route names (`http.8080`), FQDNs, node ids, config paths.

use std::net::IpAddr;

/// The mesh's DNS suffix.
pub const DOMAIN_SUFFIX: &str = "svc.cluster.local";

/// The Istio release whose shapes mesh follows (proxy-status VERSION, node metadata).
pub const ISTIO_VERSION: &str = "1.26.0";

/// Istio's `ResolveShortnameToFQDN`: a name without a dot is relative to the config's
/// namespace (`webapp` in `istioinaction` → `webapp.istioinaction.svc.cluster.local`, whether
/// or not the Service exists yet); anything with a dot, `*` and IPs are taken as written.
pub fn resolve_shortname(host: &str, namespace: &str) -> String {
    if host.is_empty()
        || host == "*"
        || host.contains('.')
        || host.parse::<std::net::IpAddr>().is_ok()
    {
        return host.to_owned();
    }
    fqdn(host, namespace)
}

/// `<name>.<namespace>.svc.cluster.local`
pub fn fqdn(name: &str, namespace: &str) -> String {
    format!("{name}.{namespace}.{DOMAIN_SUFFIX}")
}

/// `outbound|<port>|<subset>|<fqdn>` (`model.BuildSubsetKey`).
pub fn outbound_cluster(port: u16, subset: &str, host: &str) -> String {
    format!("outbound|{port}|{subset}|{host}")
}

/// `inbound|<port>||`
pub fn inbound_cluster(port: u16) -> String {
    format!("inbound|{port}||")
}

/// `<bind>_<port>`, bind `0.0.0.0` by default (gateway and sidecar listeners).
pub fn listener(bind: &str, port: u16) -> String {
    format!("{bind}_{port}")
}

/// A gateway's plain-HTTP route name: `http.<port>`.
pub fn gateway_http_route(port: u16) -> String {
    format!("http.{port}")
}

/// A gateway's HTTPS route name: `https.<port>.<portName>.<gateway>.<namespace>`.
pub fn gateway_https_route(port: u16, port_name: &str, gateway: &str, namespace: &str) -> String {
    format!("https.{port}.{port_name}.{gateway}.{namespace}")
}

/// The `istio.config` metadata a route or cluster carries:
/// `/apis/networking.istio.io/v1/namespaces/<ns>/virtual-service/<name>`.
pub fn config_path(kind_kebab: &str, namespace: &str, name: &str) -> String {
    format!("/apis/networking.istio.io/v1/namespaces/{namespace}/{kind_kebab}/{name}")
}

/// Whether a proxy is a sidecar or a gateway (`router`), as node ids say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProxyType {
    Sidecar,
    Router,
}

impl ProxyType {
    pub fn as_str(self) -> &'static str {
        match self {
            ProxyType::Sidecar => "sidecar",
            ProxyType::Router => "router",
        }
    }
}

/// `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local`
pub fn node_id(kind: ProxyType, ip: IpAddr, pod: &str, namespace: &str) -> String {
    format!(
        "{}~{ip}~{pod}.{namespace}~{namespace}.{DOMAIN_SUFFIX}",
        kind.as_str()
    )
}

/// The name proxy-status shows: `<pod>.<namespace>`.
pub fn proxy_name(pod: &str, namespace: &str) -> String {
    format!("{pod}.{namespace}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istiod_names() {
        assert_eq!(
            outbound_cluster(80, "", &fqdn("webapp", "istioinaction")),
            "outbound|80||webapp.istioinaction.svc.cluster.local"
        );
        assert_eq!(
            outbound_cluster(80, "v1", "catalog.istioinaction.svc.cluster.local"),
            "outbound|80|v1|catalog.istioinaction.svc.cluster.local"
        );
        assert_eq!(inbound_cluster(8080), "inbound|8080||");
        assert_eq!(listener("0.0.0.0", 8080), "0.0.0.0_8080");
        assert_eq!(gateway_http_route(8080), "http.8080");
        assert_eq!(
            gateway_https_route(443, "https", "coolstore-gateway", "istioinaction"),
            "https.443.https.coolstore-gateway.istioinaction"
        );
        assert_eq!(
            node_id(
                ProxyType::Router,
                "127.10.0.1".parse().unwrap(),
                "istio-ingressgateway-996bc6bb6-mktpr",
                "istio-system"
            ),
            "router~127.10.0.1~istio-ingressgateway-996bc6bb6-mktpr.istio-system~istio-system.svc.cluster.local"
        );
        assert_eq!(
            config_path("virtual-service", "istioinaction", "webapp-vs-from-gw"),
            "/apis/networking.istio.io/v1/namespaces/istioinaction/virtual-service/webapp-vs-from-gw"
        );
    }
}
