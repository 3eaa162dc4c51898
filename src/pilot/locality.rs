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

/// `region/zone/subzone` with `*` wildcards (a trailing `*` matches the rest), as Istio's
/// `localityLbSetting` writes localities.
pub fn matches(pattern: &str, l: &Locality) -> bool {
    let parts = [l.region.as_str(), l.zone.as_str(), l.sub_zone.as_str()];
    for (i, p) in pattern.split('/').enumerate() {
        if p == "*" {
            if i == pattern.split('/').count() - 1 {
                return true;
            }
            continue;
        }
        match parts.get(i) {
            Some(v) if *v == p => {}
            _ => return false,
        }
    }
    true
}

/// `localityLbSetting.distribute` for a client: each endpoint locality's weight (`None`: the
/// rule does not apply to this client).
pub fn distribute(
    setting: &serde_json::Value,
    client: &Locality,
    localities: &[Locality],
) -> Option<Vec<u32>> {
    let rule = setting["distribute"]
        .as_array()?
        .iter()
        .find(|r| r["from"].as_str().is_some_and(|f| matches(f, client)))?;
    let to = rule["to"].as_object()?;
    let mut weights = vec![0u32; localities.len()];
    for (pattern, w) in to {
        let w = w.as_u64().unwrap_or(0) as u32;
        let hits: Vec<usize> = (0..localities.len())
            .filter(|i| matches(pattern, &localities[*i]))
            .collect();
        if hits.is_empty() {
            continue;
        }
        // A weight shared by the localities it names.
        let share = (w / hits.len() as u32).max(1);
        for i in hits {
            weights[i] += share;
        }
    }
    Some(weights)
}

/// The priority with `localityLbSetting.failover` (`from` region → `to` region): the named
/// region comes right after the client's own region, before every other region.
pub fn failover_priority(setting: &serde_json::Value, client: &Locality, ep: &Locality) -> u32 {
    let base = priority(client, ep);
    if base < 3 {
        return base;
    }
    let named = setting["failover"].as_array().is_some_and(|rules| {
        rules.iter().any(|r| {
            r["from"].as_str() == Some(client.region.as_str())
                && r["to"].as_str() == Some(ep.region.as_str())
        })
    });
    if named { 3 } else { 4 }
}

/// `localityLbSetting.failoverPriority` for one endpoint: 0 when the endpoint carries every
/// listed label with the client's value (or the `label=value` override), else `n - j` for the
/// first label `j` that differs, as istiod's `applyFailoverPriorityPerLocality` does (a
/// leading `topology.istio.io/network` that differs only pushes the endpoint back by `n`).
pub fn label_priority(
    order: &[String],
    client: &BTreeMap<String, String>,
    endpoint: &BTreeMap<String, String>,
) -> u32 {
    let n = order.len() as u32;
    let includes_network = order
        .first()
        .is_some_and(|l| l == "topology.istio.io/network");
    let (mut priority, mut adjust) = (0, 0);
    for (j, entry) in order.iter().enumerate() {
        let (label, wanted) = match entry.split_once('=') {
            Some((l, v)) => (l, Some(v)),
            None => (entry.as_str(), None),
        };
        let wanted = wanted.or_else(|| client.get(label).map(String::as_str));
        if wanted != endpoint.get(label).map(String::as_str) {
            if j == 0 && includes_network {
                adjust = n;
                continue;
            }
            priority = n - j as u32;
            break;
        }
    }
    priority + adjust
}

/// Priorities renumbered 0, 1, 2… in their order, as Envoy wants them without gaps.
pub fn compact(priorities: &mut [u32]) {
    let mut distinct: Vec<u32> = priorities.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    for p in priorities.iter_mut() {
        *p = distinct.iter().position(|d| d == p).unwrap_or(0) as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failover_priority_labels_rank_endpoints_like_istiod() {
        let labels = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let order: Vec<String> = [
            "topology.kubernetes.io/region",
            "topology.kubernetes.io/zone",
        ]
        .map(String::from)
        .to_vec();
        let me = labels(&[
            ("topology.kubernetes.io/region", "us"),
            ("topology.kubernetes.io/zone", "a"),
        ]);
        assert_eq!(label_priority(&order, &me, &me), 0);
        let same_region = labels(&[
            ("topology.kubernetes.io/region", "us"),
            ("topology.kubernetes.io/zone", "b"),
        ]);
        assert_eq!(label_priority(&order, &me, &same_region), 1);
        let elsewhere = labels(&[("topology.kubernetes.io/region", "eu")]);
        assert_eq!(label_priority(&order, &me, &elsewhere), 2);
        // `label=value` overrides the client's own value.
        let forced: Vec<String> = vec!["topology.kubernetes.io/region=eu".into()];
        assert_eq!(label_priority(&forced, &me, &elsewhere), 0);
        assert_eq!(label_priority(&forced, &me, &me), 1);
        let mut ps = vec![2, 0, 2];
        compact(&mut ps);
        assert_eq!(ps, [1, 0, 1]);
    }

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

    #[test]
    fn distribute_and_failover_follow_the_setting() {
        let setting = serde_json::json!({
            "distribute": [{"from": "us/a/*", "to": {"us/a/*": 80, "us/b/*": 20}}],
            "failover": [{"from": "us", "to": "eu"}],
        });
        let me = l("us", "a", "x");
        let eps = [l("us", "a", "x"), l("us", "b", ""), l("ap", "c", "")];
        assert_eq!(distribute(&setting, &me, &eps), Some(vec![80, 20, 0]));
        assert_eq!(distribute(&setting, &l("eu", "z", ""), &eps), None);
        assert!(matches("us/*", &me) && matches("*", &me) && !matches("us/b/*", &me));
        assert_eq!(failover_priority(&setting, &me, &l("eu", "z", "")), 3);
        assert_eq!(failover_priority(&setting, &me, &l("ap", "z", "")), 4);
        assert_eq!(failover_priority(&setting, &me, &l("us", "b", "")), 2);
    }
}
