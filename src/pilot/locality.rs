//! Locality-aware load balancing as istiod sets it up: a pod's locality comes from its
//! `istio-locality` label (`region.zone.subzone`) or the topology labels
//! (`topology.kubernetes.io/region`, `…/zone`, `topology.istio.io/subzone`; in a cluster they are
//! the node's, in the sandbox every pod runs on one node, so the pod carries them). With outlier
//! detection on (Istio's condition for failover), each client gets its endpoints in priorities by
//! how much of its locality they share: 0 all, 1 region+zone, 2 region, 3 none — so traffic stays
//! local and fails over to the next-nearest as local endpoints are ejected.

use std::collections::BTreeMap;

use crate::xds::core::Locality;

pub fn of_labels(labels: &BTreeMap<String, String>) -> Option<Locality> {
    if let Some(v) = labels.get("istio-locality") {
        let mut parts = v.splitn(3, '.').map(str::to_owned);
        return Some(Locality {
            region: parts.next().unwrap_or_default(),
            zone: parts.next().unwrap_or_default(),
            sub_zone: parts.next().unwrap_or_default(),
        });
    }
    let get = |k: &str| labels.get(k).cloned().unwrap_or_default();
    let l = Locality {
        region: get("topology.kubernetes.io/region"),
        zone: get("topology.kubernetes.io/zone"),
        sub_zone: get("topology.istio.io/subzone"),
    };
    (!l.region.is_empty() || !l.zone.is_empty() || !l.sub_zone.is_empty()).then_some(l)
}

/// The failover priority of an endpoint in `ep` for a client in `client`.
pub fn priority(client: &Locality, ep: &Locality) -> u32 {
    if client.region != ep.region {
        3
    } else if client.zone != ep.zone {
        2
    } else if client.sub_zone != ep.sub_zone {
        1
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(r: &str, z: &str, s: &str) -> Locality {
        Locality {
            region: r.into(),
            zone: z.into(),
            sub_zone: s.into(),
        }
    }

    #[test]
    fn labels_and_priorities() {
        let mut labels = BTreeMap::new();
        assert_eq!(of_labels(&labels), None);
        labels.insert("topology.kubernetes.io/region".into(), "us-west".into());
        labels.insert("topology.kubernetes.io/zone".into(), "us-west1-a".into());
        assert_eq!(of_labels(&labels), Some(l("us-west", "us-west1-a", "")));
        labels.insert("istio-locality".into(), "eu.eu-1.rack2".into());
        assert_eq!(of_labels(&labels), Some(l("eu", "eu-1", "rack2")));
        let me = l("us", "a", "x");
        assert_eq!(priority(&me, &l("us", "a", "x")), 0);
        assert_eq!(priority(&me, &l("us", "a", "y")), 1);
        assert_eq!(priority(&me, &l("us", "b", "x")), 2);
        assert_eq!(priority(&me, &l("eu", "a", "x")), 3);
    }
}
