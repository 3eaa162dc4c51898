//! A DestinationRule's `connectionPool.tcp.idleTimeout` on the tcp_proxy that routes to its
//! host, as istiod sets it: the timeout is the listener's, so a weighted route takes the first
//! destination's rule.

use crate::xds::de::Duration;
use crate::xds::listener::{Listener, NetworkFilterConfig};

use super::model::Model;
use super::traffic_policy;

/// Sets `idle_timeout` on every tcp_proxy whose (first) cluster's rule names one.
pub fn apply(listeners: &mut [Listener], model: &Model, client_ns: &str) {
    for l in listeners {
        for chain in l
            .filter_chains
            .iter_mut()
            .chain(l.default_filter_chain.as_mut())
        {
            for f in &mut chain.filters {
                let NetworkFilterConfig::TcpProxy(t) = &mut f.typed_config else {
                    continue;
                };
                let first = t.cluster.clone().or_else(|| {
                    t.weighted_clusters
                        .as_ref()
                        .and_then(|w| w.clusters.first())
                        .map(|c| c.name.clone())
                });
                if let Some(d) = first.and_then(|c| idle_timeout(model, client_ns, &c)) {
                    t.idle_timeout = Some(d);
                }
            }
        }
    }
}

/// The rule's idle timeout for an `outbound|port|subset|host` cluster.
fn idle_timeout(model: &Model, client_ns: &str, cluster: &str) -> Option<Duration> {
    let mut parts = cluster.split('|');
    if parts.next()? != "outbound" {
        return None;
    }
    let port: u16 = parts.next()?.parse().ok()?;
    let subset = parts.next()?;
    let host = parts.next()?;
    let service = model.services.iter().find(|s| s.fqdn == host)?;
    let dr = model.destination_rule_for(host, client_ns, &service.namespace)?;
    let subset = dr.spec.subsets.iter().find(|s| s.name == subset);
    let pool = traffic_policy::effective(Some(dr), subset, port).connection_pool?;
    traffic_policy::duration(pool.tcp?.idle_timeout.as_deref())
}
