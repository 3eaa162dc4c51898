//! Istio's default telemetry on every listener istiod generates: the `istio.metadata_exchange`
//! and `istio.stats` HTTP filters in each HTTP connection manager (before the router), and
//! the `istio.stats` network filter before each tcp_proxy. Inbound listeners report as the
//! destination, outbound ones (sidecars' and gateways') as the source; the proxy reads that
//! from the listener's traffic direction, as Istio's filter does.

use crate::xds::hcm::{HttpFilter, HttpFilterConfig};
use crate::xds::istio::{PeerMetadataConfig, PeerMetadataMethod, StatsPluginConfig};
use crate::xds::listener::{Filter, Listener, NetworkFilterConfig, TrafficDirection};

const MX_FILTER: &str = "istio.metadata_exchange";
const STATS_FILTER: &str = "istio.stats";

/// Inbound: learn the downstream from its headers and answer with ours; outbound: tell the
/// upstream who we are and learn it from its answer.
fn metadata_exchange(inbound: bool) -> HttpFilter {
    let headers = || vec![PeerMetadataMethod::istio_headers()];
    let cfg = if inbound {
        PeerMetadataConfig {
            downstream_discovery: headers(),
            downstream_propagation: headers(),
            ..Default::default()
        }
    } else {
        PeerMetadataConfig {
            upstream_discovery: headers(),
            upstream_propagation: headers(),
            ..Default::default()
        }
    };
    HttpFilter {
        name: MX_FILTER.to_owned(),
        typed_config: Some(HttpFilterConfig::PeerMetadata(cfg)),
        ..Default::default()
    }
}

/// istiod turns the Host-header fallback off on inbound and gateway listeners (a client
/// outside the mesh must not invent `destination_service` values).
fn stats_config(inbound: bool, gateway: bool) -> StatsPluginConfig {
    StatsPluginConfig {
        disable_host_header_fallback: inbound || gateway,
        ..Default::default()
    }
}

/// Adds the telemetry filters to every chain of these listeners (a gateway's when `gateway`).
pub fn attach(listeners: &mut [Listener], gateway: bool) {
    for l in listeners {
        let inbound = l.traffic_direction == TrafficDirection::Inbound;
        for chain in &mut l.filter_chains {
            let mut filters = Vec::with_capacity(chain.filters.len() + 1);
            for f in chain.filters.drain(..) {
                match f.typed_config {
                    NetworkFilterConfig::HttpConnectionManager(mut hcm) => {
                        hcm.http_filters.insert(0, metadata_exchange(inbound));
                        let before_router = hcm.http_filters.len().saturating_sub(1);
                        hcm.http_filters.insert(
                            before_router,
                            HttpFilter {
                                name: STATS_FILTER.to_owned(),
                                typed_config: Some(HttpFilterConfig::IstioStats(stats_config(
                                    inbound, gateway,
                                ))),
                                ..Default::default()
                            },
                        );
                        filters.push(Filter {
                            name: f.name,
                            typed_config: NetworkFilterConfig::HttpConnectionManager(hcm),
                        });
                    }
                    NetworkFilterConfig::TcpProxy(tcp) => {
                        filters.push(Filter {
                            name: STATS_FILTER.to_owned(),
                            typed_config: NetworkFilterConfig::IstioStats(stats_config(
                                inbound, gateway,
                            )),
                        });
                        filters.push(Filter {
                            name: f.name,
                            typed_config: NetworkFilterConfig::TcpProxy(tcp),
                        });
                    }
                    other => filters.push(Filter {
                        name: f.name,
                        typed_config: other,
                    }),
                }
            }
            chain.filters = filters;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pilot::build;

    #[test]
    fn hcm_gets_exchange_first_and_stats_before_the_router() {
        let mut ls = vec![build::gateway_http_listener(8080)];
        attach(&mut ls, true);
        let NetworkFilterConfig::HttpConnectionManager(hcm) =
            &ls[0].filter_chains[0].filters[0].typed_config
        else {
            panic!("not an HCM");
        };
        let names: Vec<&str> = hcm.http_filters.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "istio.metadata_exchange",
                "envoy.filters.http.fault",
                "istio.stats",
                "envoy.filters.http.router"
            ]
        );
        let Some(HttpFilterConfig::PeerMetadata(mx)) = &hcm.http_filters[0].typed_config else {
            panic!()
        };
        // A gateway is a client: it propagates upstream and discovers from responses.
        assert!(!mx.upstream_propagation.is_empty() && mx.downstream_discovery.is_empty());
        let Some(HttpFilterConfig::IstioStats(st)) = &hcm.http_filters[2].typed_config else {
            panic!()
        };
        assert!(st.disable_host_header_fallback);
    }

    #[test]
    fn tcp_proxy_gets_the_stats_network_filter_in_front() {
        let mut ls = vec![build::outbound_tcp_listener(
            "127.96.0.9".parse().unwrap(),
            31400,
            "outbound|31400||x",
        )];
        attach(&mut ls, false);
        let f = &ls[0].filter_chains[0].filters;
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].name, "istio.stats");
        let NetworkFilterConfig::IstioStats(st) = &f[0].typed_config else {
            panic!()
        };
        assert!(!st.disable_host_header_fallback);
        assert!(matches!(
            f[1].typed_config,
            NetworkFilterConfig::TcpProxy(_)
        ));
    }
}
