//! The sandbox in-process: the default scenario, the book's chapter-4 files applied unchanged,
//! traffic through the ingress gateway and sidecars.

use std::time::Duration;

use crate::util::*;

const GW: &str = "scenarios/istio-in-action/ch4/coolstore-gw.yaml";
const VS: &str = "scenarios/istio-in-action/ch4/coolstore-vs.yaml";
const CATALOG: &str = "scenarios/istio-in-action/services/catalog/kubernetes/catalog.yaml";
const WEBAPP: &str = "scenarios/istio-in-action/services/webapp/kubernetes/webapp.yaml";

#[test]
fn chapter_4_traffic_through_gateway_and_sidecars() {
    let sb = TestSandbox::start(None);
    sb.synced();
    let applied = sb.apply(&[GW, VS], Some("istioinaction")).unwrap();
    assert_eq!(applied, ["gateway.networking.istio.io/coolstore-gateway created", "virtualservice.networking.istio.io/webapp-vs-from-gw created"]);
    let applied = sb.apply(&[CATALOG, WEBAPP], Some("istioinaction")).unwrap();
    assert!(applied.contains(&"deployment.apps/webapp created".to_string()), "{applied:?}");
    sb.synced();
    let gw = sb.node_port(30000);
    let r = get(gw, "/api/catalog");
    assert_eq!(r.status, 404);
    let ok = eventually(Duration::from_secs(10), || {
        request(gw, "GET", "/api/catalog", &[("Host", "webapp.istioinaction.io")], b"").is_ok_and(|r| r.status == 200)
    });
    let r = request(gw, "GET", "/api/catalog", &[("Host", "webapp.istioinaction.io")], b"").unwrap();
    assert!(ok, "{} {}", r.status, r.text());
    let items = r.json();
    assert!(items.as_array().is_some_and(|a| !a.is_empty()), "{items}");
}
