//! Fault injection and local rate limits from Istio resources, end to end through the sandbox's
//! ingress gateway.

use std::time::Duration;

use crate::util::*;

const HOST: &str = "catalog.istioinaction.io";

/// The default sandbox with a Gateway for catalog's host and the catalog app.
fn catalog() -> TestSandbox {
    let sb = TestSandbox::start(None);
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: coolstore-gateway}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [catalog.istioinaction.io]\n",
        Some("istioinaction"),
    )
    .unwrap();
    sb.apply(
        &["scenarios/istio-in-action/services/catalog/kubernetes/catalog.yaml"],
        Some("istioinaction"),
    )
    .unwrap();
    sb
}

fn vs(http: &str) -> String {
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {{name: catalog-vs-from-gw}}\nspec:\n  hosts: [catalog.istioinaction.io]\n  gateways: [coolstore-gateway]\n  http:\n{http}"
    )
}

fn call(sb: &TestSandbox, path: &str) -> Response {
    request(sb.node_port(30000), "GET", path, &[("Host", HOST)], b"").unwrap()
}

fn gateway_stat(sb: &TestSandbox, name: &str) -> u64 {
    let body = get(
        sb.admin("gateway", None),
        &format!("/stats?filter=^{}$", name.replace('.', "\\.")),
    )
    .text();
    body.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no stat {name} in {body}"))
}

#[test]
fn virtual_service_fault_aborts_and_delays_catalog_through_the_gateway() {
    let sb = catalog();
    // /items aborts; other paths (a route with no fault) pass.
    sb.apply_text(
        &vs("  - match: [{uri: {prefix: /items}}]\n    fault: {abort: {httpStatus: 500, percentage: {value: 100}}}\n    route: [{destination: {host: catalog, port: {number: 80}}}]\n  - route: [{destination: {host: catalog, port: {number: 80}}}]\n"),
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let r = call(&sb, "/items");
    assert_eq!((r.status, r.text().as_str()), (500, "fault filter abort"));
    assert_eq!(call(&sb, "/items/1").status, 500);
    assert_eq!(call(&sb, "/").status, 200);
    assert_eq!(
        gateway_stat(&sb, "http.outbound_0.0.0.0_8080.fault.aborts_injected"),
        2
    );

    sb.apply_text(
        &vs("  - fault: {delay: {fixedDelay: 500ms, percentage: {value: 100}}}\n    route: [{destination: {host: catalog, port: {number: 80}}}]\n"),
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let r = call(&sb, "/items");
    assert_eq!(r.status, 200);
    assert!(r.elapsed >= Duration::from_millis(500), "{:?}", r.elapsed);
    assert_eq!(
        gateway_stat(&sb, "http.outbound_0.0.0.0_8080.fault.delays_injected"),
        1
    );
}
