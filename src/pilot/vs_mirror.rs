//! A VirtualService route's `mirror`/`mirrorPercentage` and `mirrors` → Envoy
//! `request_mirror_policies`, as istiod's `TranslateRequestMirrorPolicy` writes them.

use serde::Deserialize;

use crate::api::istio::{Destination, HttpRoute, Percent};
use crate::xds::core::{Denominator, FractionalPercent, RuntimeFractionalPercent};
use crate::xds::route::RequestMirrorPolicy;

use super::model::Model;
use super::vs_routes::destination_cluster;

/// One entry of `http[].mirrors`.
#[derive(Debug, Deserialize)]
struct MirrorEntry {
    destination: Destination,
    #[serde(default)]
    percentage: Option<Percent>,
}

/// The mirror policies for `http`: `mirror` first, then each of `mirrors`. An explicit 0%
/// mirrors nothing, so istiod leaves that policy out.
pub fn mirror_policies(
    http: &HttpRoute,
    model: &Model,
    ns: &str,
    port: u16,
    warnings: &mut Vec<String>,
) -> Vec<RequestMirrorPolicy> {
    let mut out = Vec::new();
    if let Some(d) = &http.mirror {
        let legacy = http
            .rest
            .get("mirrorPercent")
            .or_else(|| http.rest.get("mirror_percent"))
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.get("value").and_then(|v| v.as_u64()))
            });
        let fraction = match (&http.mirror_percentage, legacy) {
            (Some(p), _) => percentage(p),
            (None, Some(n)) => (n > 0).then(|| hundred(n as u32)),
            (None, None) => Some(hundred(100)),
        };
        if let Some(f) = fraction {
            out.push(policy(d, f, model, ns, port));
        }
    }
    for (i, m) in http.mirrors.iter().enumerate() {
        match MirrorEntry::deserialize(m) {
            Ok(e) => {
                let fraction = match &e.percentage {
                    Some(p) => percentage(p),
                    None => Some(hundred(100)),
                };
                if let Some(f) = fraction {
                    out.push(policy(&e.destination, f, model, ns, port));
                }
            }
            Err(err) => warnings.push(format!("mirrors[{i}]: {err}")),
        }
    }
    out
}

fn policy(
    d: &Destination,
    fraction: RuntimeFractionalPercent,
    model: &Model,
    ns: &str,
    port: u16,
) -> RequestMirrorPolicy {
    RequestMirrorPolicy {
        cluster: destination_cluster(d, model, ns, port).0,
        runtime_fraction: Some(fraction),
        trace_sampled: Some(false),
    }
}

/// istiod's `translatePercentToFractionalPercent`: a percentage with decimals, in millionths.
fn percentage(p: &Percent) -> Option<RuntimeFractionalPercent> {
    (p.value > 0.0).then(|| RuntimeFractionalPercent {
        default_value: FractionalPercent {
            numerator: (p.value * 10_000.0) as u32,
            denominator: Denominator::Million,
        },
        runtime_key: String::new(),
    })
}

fn hundred(n: u32) -> RuntimeFractionalPercent {
    RuntimeFractionalPercent {
        default_value: FractionalPercent {
            numerator: n,
            denominator: Denominator::Hundred,
        },
        runtime_key: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::vs_routes::{RouteScope, http_routes};
    use super::*;
    use crate::api::istio::VirtualService;

    fn policies(http: &str) -> Vec<serde_json::Value> {
        let vs: VirtualService = serde_saphyr::from_str(&format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: catalog, namespace: istioinaction}}\nspec:\n  hosts: [catalog]\n  http:\n{http}"
        ))
        .expect("vs");
        let mut warnings = Vec::new();
        let routes = http_routes(&vs, &Model::default(), 80, RouteScope::Mesh, &mut warnings);
        assert!(warnings.is_empty(), "{warnings:?}");
        routes[0]
            .route
            .as_ref()
            .expect("route")
            .request_mirror_policies
            .iter()
            .map(|p| serde_json::to_value(p).expect("json"))
            .collect()
    }

    #[test]
    fn mirror_defaults_to_all_requests_as_istiod_writes_it() {
        let p = policies(
            "  - route: [{destination: {host: catalog, subset: version-v1}}]\n    mirror: {host: catalog, subset: version-v2}\n",
        );
        assert_eq!(
            p,
            [json!({
                "cluster": "outbound|80|version-v2|catalog.istioinaction.svc.cluster.local",
                "runtime_fraction": {"default_value": {"numerator": 100}},
                "trace_sampled": false
            })]
        );
    }

    #[test]
    fn mirror_percentage_is_in_millionths_and_zero_mirrors_nothing() {
        let p = policies(
            "  - route: [{destination: {host: catalog}}]\n    mirror: {host: catalog, subset: v2, port: {number: 3000}}\n    mirrorPercentage: {value: 12.5}\n    mirrors:\n    - destination: {host: shadow}\n      percentage: {value: 50}\n    - destination: {host: never}\n      percentage: {value: 0}\n    - destination: {host: always}\n",
        );
        let clusters: Vec<&str> = p.iter().filter_map(|p| p["cluster"].as_str()).collect();
        assert_eq!(
            clusters,
            [
                "outbound|3000|v2|catalog.istioinaction.svc.cluster.local",
                "outbound|80||shadow.istioinaction.svc.cluster.local",
                "outbound|80||always.istioinaction.svc.cluster.local"
            ]
        );
        assert_eq!(
            p[0]["runtime_fraction"],
            json!({"default_value": {"numerator": 125000, "denominator": "MILLION"}})
        );
        assert_eq!(
            p[1]["runtime_fraction"],
            json!({"default_value": {"numerator": 500000, "denominator": "MILLION"}})
        );
        assert_eq!(
            p[2]["runtime_fraction"],
            json!({"default_value": {"numerator": 100}})
        );
        let none = policies(
            "  - route: [{destination: {host: catalog}}]\n    mirror: {host: catalog}\n    mirrorPercentage: {value: 0}\n",
        );
        assert!(none.is_empty());
    }
}
