//! Chapter 5's traffic shifting on the book's catalog v1 and v2 behind the gateway: weighted
//! subsets and a header-matched dark launch. v2 (`SHOW_IMAGE`) answers items with `imageUrl`.

use crate::util::*;

const HOST: &str = "catalog.istioinaction.io";
const K8S: &str = "scenarios/istio-in-action/services/catalog/kubernetes";

/// catalog v1 and v2, the gateway serving catalog's host, and a DestinationRule with the
/// book's `version-v1` / `version-v2` subsets.
fn catalog_v1_v2() -> TestSandbox {
    let sb = TestSandbox::start(None);
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: catalog-gateway}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [catalog.istioinaction.io]\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: catalog}\nspec:\n  host: catalog\n  subsets:\n  - name: version-v1\n    labels: {version: v1}\n  - name: version-v2\n    labels: {version: v2}\n",
        Some("istioinaction"),
    )
    .unwrap();
    sb.apply(
        &[
            &format!("{K8S}/catalog.yaml"),
            &format!("{K8S}/catalog-deployment-v2.yaml"),
        ],
        Some("istioinaction"),
    )
    .unwrap();
    sb
}

/// Whether one `/items` answer came from v2 (its items carry `imageUrl`).
fn from_v2(sb: &TestSandbox, headers: &[(&str, &str)]) -> bool {
    let mut h = vec![("Host", HOST)];
    h.extend_from_slice(headers);
    let r = request(sb.node_port(30000), "GET", "/items", &h, b"").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    r.text().contains("imageUrl")
}

fn weighted_vs(v1: u32, v2: u32) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: catalog-vs-from-gw}}\nspec:\n  hosts: [catalog.istioinaction.io]\n  gateways: [catalog-gateway]\n  http:\n  - route:\n    - destination: {{host: catalog, subset: version-v1}}\n      weight: {v1}\n    - destination: {{host: catalog, subset: version-v2}}\n      weight: {v2}\n"
    )
}

#[test]
fn weighted_subsets_split_catalog_traffic_between_v1_and_v2() {
    let sb = catalog_v1_v2();
    const N: usize = 200;
    // Expected v2 answers and a tolerance of about four standard deviations
    // (binomial: sqrt(N p (1-p)) is 4.2 at 10 % and 7.1 at 50 %).
    for (v1, v2, expected, tolerance) in [(90, 10, 20, 17), (50, 50, 100, 28)] {
        sb.apply_text(&weighted_vs(v1, v2), Some("istioinaction"))
            .unwrap();
        sb.synced();
        let n = (0..N).filter(|_| from_v2(&sb, &[])).count();
        assert!(
            n.abs_diff(expected) <= tolerance,
            "{v1}/{v2}: {n} of {N} from v2, expected {expected} ± {tolerance}"
        );
    }
}

#[test]
fn a_header_match_dark_launches_v2_for_internal_requests_only() {
    let sb = catalog_v1_v2();
    // The book's chapter 5 dark launch: `x-istio-cohort: internal` goes to v2.
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: catalog-vs-from-gw}\nspec:\n  hosts: [catalog.istioinaction.io]\n  gateways: [catalog-gateway]\n  http:\n  - match: [{headers: {x-istio-cohort: {exact: internal}}}]\n    route: [{destination: {host: catalog, subset: version-v2}}]\n  - route: [{destination: {host: catalog, subset: version-v1}}]\n",
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    for _ in 0..10 {
        assert!(from_v2(&sb, &[("x-istio-cohort", "internal")]));
        assert!(!from_v2(&sb, &[]));
        assert!(!from_v2(&sb, &[("x-istio-cohort", "external")]));
    }
}

#[test]
fn mirroring_copies_requests_to_v2_while_clients_get_v1() {
    let sb = catalog_v1_v2();
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: catalog-vs-from-gw}\nspec:\n  hosts: [catalog.istioinaction.io]\n  gateways: [catalog-gateway]\n  http:\n  - route: [{destination: {host: catalog, subset: version-v1}}]\n    mirror: {host: catalog, subset: version-v2}\n",
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    for _ in 0..10 {
        assert!(!from_v2(&sb, &[]));
    }
    // The copies reach v2 in the background: the gateway counts their answers on v2's cluster.
    let v2 =
        "cluster.outbound|80|version-v2|catalog.istioinaction.svc.cluster.local.upstream_rq_200";
    assert!(
        eventually(std::time::Duration::from_secs(10), || {
            get(sb.admin("gateway", None), "/stats?filter=version-v2")
                .text()
                .contains(&format!("{v2}: 10"))
        }),
        "{}",
        get(sb.admin("gateway", None), "/stats?filter=version-v2").text()
    );
}

#[test]
fn a_root_virtual_service_delegates_items_to_the_catalog_teams_routes() {
    let sb = catalog_v1_v2();
    // The root on the gateway hands `/items` to a delegate without hosts; the delegate sends
    // `x-istio-cohort: internal` to v2 and the rest to v1.
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: root}\nspec:\n  hosts: [catalog.istioinaction.io]\n  gateways: [catalog-gateway]\n  http:\n  - match: [{uri: {prefix: /items}}]\n    delegate: {name: catalog-items, namespace: istioinaction}\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: catalog-items}\nspec:\n  http:\n  - match: [{headers: {x-istio-cohort: {exact: internal}}}]\n    route: [{destination: {host: catalog, subset: version-v2}}]\n  - route: [{destination: {host: catalog, subset: version-v1}}]\n",
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    assert!(from_v2(&sb, &[("x-istio-cohort", "internal")]));
    assert!(!from_v2(&sb, &[]));
    // Outside the root's prefix nothing is routed.
    let r = request(sb.node_port(30000), "GET", "/other", &[("Host", HOST)], b"").unwrap();
    assert_eq!(r.status, 404);
}

/// A VirtualService match's `sourceLabels` are checked against the gateway pod's own labels
/// (istiod's `sourceMatchHTTP`), so a rule for other workloads is skipped on the gateway.
#[test]
fn source_labels_select_rules_on_the_gateway_too() {
    let sb = catalog_v1_v2();
    let vs = |labels: &str| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: catalog-vs-from-gw}}\nspec:\n  hosts: [catalog.istioinaction.io]\n  gateways: [catalog-gateway]\n  http:\n  - match:\n    - sourceLabels: {{{labels}}}\n    directResponse: {{status: 418, body: {{string: teapot}}}}\n  - route:\n    - destination: {{host: catalog, subset: version-v1}}\n"
        )
    };
    let status = |sb: &TestSandbox| {
        request(sb.node_port(30000), "GET", "/items", &[("Host", HOST)], b"")
            .unwrap()
            .status
    };
    sb.apply_text(&vs("app: webapp"), Some("istioinaction"))
        .unwrap();
    sb.synced();
    assert_eq!(
        status(&sb),
        200,
        "a rule for webapp's pods is not the gateway's"
    );
    sb.apply_text(&vs("istio: ingressgateway"), Some("istioinaction"))
        .unwrap();
    sb.synced();
    assert_eq!(status(&sb), 418, "the gateway's own labels select the rule");
}
