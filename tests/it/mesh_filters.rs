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

const GATEWAY_RATE_LIMIT: &str = r#"apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: gateway-local-ratelimit}
spec:
  workloadSelector: {labels: {istio: ingressgateway}}
  configPatches:
  - applyTo: HTTP_FILTER
    match:
      context: GATEWAY
      listener: {filterChain: {filter: {name: envoy.filters.network.http_connection_manager, subFilter: {name: envoy.filters.http.router}}}}
    patch:
      operation: INSERT_BEFORE
      value:
        name: envoy.filters.http.local_ratelimit
        typed_config:
          "@type": type.googleapis.com/udpa.type.v1.TypedStruct
          type_url: type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit
          value:
            stat_prefix: http_local_rate_limiter
            token_bucket: {max_tokens: 2, tokens_per_fill: 2, fill_interval: 60s}
            filter_enabled: {runtime_key: local_rate_limit_enabled, default_value: {numerator: 100, denominator: HUNDRED}}
            filter_enforced: {runtime_key: local_rate_limit_enforced, default_value: {numerator: 100, denominator: HUNDRED}}
            response_headers_to_add:
            - append: false
              header: {key: x-local-rate-limit, value: "true"}
"#;

#[test]
fn envoy_filter_local_rate_limit_on_the_ingress_gateway() {
    let sb = catalog();
    sb.apply_text(
        &vs("  - route: [{destination: {host: catalog, port: {number: 80}}}]\n"),
        Some("istioinaction"),
    )
    .unwrap();
    sb.apply_text(GATEWAY_RATE_LIMIT, Some("istio-system"))
        .unwrap();
    sb.synced();
    assert_eq!(call(&sb, "/items").status, 200);
    assert_eq!(call(&sb, "/items").status, 200);
    let r = call(&sb, "/items");
    assert_eq!((r.status, r.text().as_str()), (429, "local_rate_limited"));
    assert_eq!(r.header("x-local-rate-limit"), Some("true"));
    assert_eq!(
        gateway_stat(
            &sb,
            "http_local_rate_limiter.http_local_rate_limit.rate_limited"
        ),
        1
    );

    // Any other patch is refused at apply time, naming it.
    let lua = GATEWAY_RATE_LIMIT
        .replace("gateway-local-ratelimit", "lua")
        .replace(
            "envoy.filters.http.local_ratelimit",
            "envoy.filters.http.lua",
        );
    let err = sb.apply_text(&lua, Some("istio-system")).unwrap_err();
    assert!(
        err.contains("configPatches[0] (HTTP_FILTER INSERT_BEFORE)")
            && err.contains("not supported by mesh yet"),
        "{err}"
    );
}
