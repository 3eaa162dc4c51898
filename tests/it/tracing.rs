//! Distributed tracing: B3 headers created and continued by the proxy, and Zipkin v2 spans
//! posted to a collector, from a `mesh envoy` config (Envoy's zipkin sandbox shape) and from
//! istiod's mesh settings (gateway → webapp → catalog, one trace).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use crate::util::*;

/// Every span the collector received, in arrival order.
fn spans(collector: &Upstream) -> Vec<Value> {
    collector
        .seen()
        .iter()
        .filter(|s| s.method == "POST" && s.path == "/api/v2/spans")
        .flat_map(|s| {
            let v: Value = serde_json::from_slice(&s.body).unwrap();
            v.as_array().cloned().unwrap()
        })
        .collect()
}

fn front_proxy(listen: u16, admin: u16, upstream: u16, collector: u16) -> String {
    format!(
        r#"
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
static_resources:
  listeners:
  - name: l
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          generate_request_id: true
          tracing:
            random_sampling: {{value: 100}}
            custom_tags:
            - tag: team
              literal: {{value: coolstore}}
            provider:
              name: envoy.tracers.zipkin
              typed_config:
                "@type": type.googleapis.com/envoy.config.trace.v3.ZipkinConfig
                collector_cluster: zipkin
                collector_endpoint: "/api/v2/spans"
                collector_endpoint_version: HTTP_JSON
                trace_id_128bit: true
          http_filters: [{{name: envoy.filters.http.router}}]
          route_config:
            virtual_hosts:
            - name: vh
              domains: ["*"]
              routes:
              - match: {{prefix: /}}
                route: {{cluster: service1}}
                decorator: {{operation: checkAvailability}}
  clusters:
  - name: service1
    connect_timeout: 1s
    type: STATIC
    load_assignment:
      cluster_name: service1
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {upstream}}}}}}}}}]}}]
  - name: zipkin
    connect_timeout: 1s
    type: STATIC
    load_assignment:
      cluster_name: zipkin
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {collector}}}}}}}}}]}}]
"#
    )
}

#[test]
fn mesh_envoy_starts_continues_and_reports_traces() {
    let app = Upstream::start("service1");
    let collector = Upstream::start("zipkin");
    let (listen, admin) = (free_port(), free_port());
    let yaml = front_proxy(listen, admin, app.addr.port(), collector.addr.port());
    let _proxy = Mesh::spawn(["envoy", "--config-yaml", &yaml]);
    wait_for_port(addr(listen));

    // An edge request: a new 128-bit trace, sampled by random_sampling.
    let r = request(addr(listen), "GET", "/hello", &[], b"").unwrap();
    assert_eq!(r.status, 200);
    // A caller's context continues (Envoy's default shared_span_context: the server span
    // keeps the caller's span id).
    let caller: [(&str, &str); 4] = [
        ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
        ("x-b3-spanid", "a2fb4a1d1a96d312"),
        ("x-b3-parentspanid", "0020000000000001"),
        ("x-b3-sampled", "1"),
    ];
    assert_eq!(
        request(addr(listen), "GET", "/continued", &caller, b"")
            .unwrap()
            .status,
        200
    );
    // The caller said "not sampled": headers still travel, no span is reported.
    let unsampled = [("x-b3-sampled", "0")];
    assert_eq!(
        request(addr(listen), "GET", "/unsampled", &unsampled, b"")
            .unwrap()
            .status,
        200
    );

    let seen = app.seen();
    let fresh = &seen[0].headers;
    let trace = fresh["x-b3-traceid"].clone();
    assert_eq!(trace.len(), 32, "{fresh:?}");
    assert!(trace.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(fresh["x-b3-spanid"].len(), 16);
    assert_eq!(fresh["x-b3-sampled"], "1");
    assert!(
        !fresh.contains_key("x-b3-parentspanid"),
        "a root span has no parent"
    );
    assert_eq!(fresh["x-request-id"].len(), 36);
    let continued = &seen[1].headers;
    assert_eq!(
        continued["x-b3-traceid"],
        "463ac35c9f6413ad48485a3953bb6124"
    );
    assert_eq!(continued["x-b3-spanid"], "a2fb4a1d1a96d312");
    assert_eq!(continued["x-b3-parentspanid"], "0020000000000001");
    let not = &seen[2].headers;
    assert_eq!(not["x-b3-sampled"], "0");
    assert_eq!(not["x-b3-traceid"].len(), 32);

    // Two spans arrive within the flush interval; the unsampled request sends none.
    assert!(
        eventually(Duration::from_secs(15), || spans(&collector).len() >= 2),
        "collector got {:?}",
        collector.seen().len()
    );
    std::thread::sleep(Duration::from_millis(200));
    let all = spans(&collector);
    assert_eq!(all.len(), 2, "{all:#?}");
    let by_url: BTreeMap<String, &Value> = all
        .iter()
        .map(|s| (s["tags"]["http.url"].as_str().unwrap().to_owned(), s))
        .collect();
    let first = by_url[&format!("http://127.0.0.1:{listen}/hello")];
    assert_eq!(first["traceId"], trace.as_str());
    assert_eq!(first["id"], fresh["x-b3-spanid"].as_str());
    assert!(first.get("parentId").is_none());
    assert_eq!(first["name"], "checkAvailability");
    assert_eq!(first["kind"], "SERVER");
    assert_eq!(first["localEndpoint"]["ipv4"], "127.0.0.1");
    assert!(first["timestamp"].as_u64().unwrap() > 1_600_000_000_000_000);
    assert!(first["duration"].as_u64().is_some());
    let tags = &first["tags"];
    assert_eq!(tags["http.method"], "GET");
    assert_eq!(tags["http.status_code"], "200");
    assert_eq!(tags["upstream_cluster"], "service1");
    assert_eq!(tags["response_flags"], "-");
    assert_eq!(tags["component"], "proxy");
    assert_eq!(tags["team"], "coolstore");
    assert_eq!(tags["guid:x-request-id"], fresh["x-request-id"].as_str());
    let second = by_url[&format!("http://127.0.0.1:{listen}/continued")];
    assert_eq!(second["traceId"], "463ac35c9f6413ad48485a3953bb6124");
    assert_eq!(second["id"], "a2fb4a1d1a96d312");
    assert_eq!(second["parentId"], "0020000000000001");
    assert_eq!(second["shared"], true);

    let stats = get(addr(admin), "/stats?filter=tracing").text();
    assert!(stats.contains("tracing.zipkin.spans_sent: 2"), "{stats}");
    assert!(
        stats.contains("http.ingress_http.tracing.random_sampling: 1"),
        "{stats}"
    );
}

#[test]
fn mesh_envoy_refuses_a_tracer_without_its_cluster() {
    let yaml = front_proxy(free_port(), free_port(), 1, 2)
        .replace("collector_cluster: zipkin", "collector_cluster: jaeger");
    let (code, _, err) = mesh_output(["envoy", "--config-yaml", &yaml]);
    assert_ne!(code, 0);
    assert!(err.contains("collector_cluster"), "{err}");
    assert!(err.contains("jaeger"), "{err}");
}

#[test]
fn mesh_envoy_uses_the_bootstraps_tracer_and_flushes_full_batches() {
    let app = Upstream::start("service1");
    let collector = Upstream::start("zipkin");
    let (listen, admin) = (free_port(), free_port());
    let yaml = front_proxy(listen, admin, app.addr.port(), collector.addr.port());
    // The provider moves to the bootstrap; the connection manager only asks for tracing.
    let provider = yaml
        .split("            provider:\n")
        .nth(1)
        .and_then(|rest| rest.split("          http_filters").next())
        .unwrap()
        .to_owned();
    let yaml = yaml
        .replace(&format!("            provider:\n{provider}"), "")
        .replace(
            "static_resources:",
            &format!(
                "tracing:\n  http:\n{}static_resources:",
                provider
                    .lines()
                    .map(|l| format!("    {}\n", &l[14..]))
                    .collect::<String>()
            ),
        );
    assert!(
        yaml.contains("tracing:\n  http:\n    name: envoy.tracers.zipkin"),
        "{yaml}"
    );
    let _proxy = Mesh::spawn(["envoy", "--config-yaml", &yaml]);
    wait_for_port(addr(listen));
    // Five spans fill a batch: reported at once, not at the 5 s timer.
    let sent = std::time::Instant::now();
    for _ in 0..5 {
        assert_eq!(get(addr(listen), "/").status, 200);
    }
    assert!(eventually(Duration::from_secs(4), || spans(&collector)
        .len()
        == 5));
    assert!(sent.elapsed() < Duration::from_secs(4));
    let stats = get(addr(admin), "/stats?filter=tracing.zipkin").text();
    assert!(stats.contains("tracing.zipkin.reports_sent: 1"), "{stats}");
    assert!(stats.contains("tracing.zipkin.timer_flushed: 0"), "{stats}");
}

const GW: &str = "scenarios/istio-in-action/ch4/coolstore-gw.yaml";
const VS: &str = "scenarios/istio-in-action/ch4/coolstore-vs.yaml";
const CATALOG: &str = "scenarios/istio-in-action/services/catalog/kubernetes/catalog.yaml";
const WEBAPP: &str = "scenarios/istio-in-action/services/webapp/kubernetes/webapp.yaml";

#[test]
fn gateway_webapp_catalog_make_one_linked_trace() {
    let sb = TestSandbox::start(None);
    sb.apply(&[CATALOG, WEBAPP, GW, VS], Some("istioinaction"))
        .unwrap();
    // A Zipkin outside the mesh, on the host's loopback.
    let collector = Upstream::start("zipkin");
    let mut settings = (*sb.sandbox.pilot.settings()).clone();
    settings.enable_tracing = true;
    settings.tracing_sampling = 100.0;
    settings.zipkin_address = Some(collector.addr.to_string());
    sb.sandbox.pilot.set_settings(settings);
    sb.synced();

    let r = request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(
        eventually(Duration::from_secs(20), || spans(&collector).len() >= 5),
        "spans: {:#?}",
        spans(&collector)
    );
    let all = spans(&collector);
    let trace = all[0]["traceId"].as_str().unwrap().to_owned();
    assert_eq!(trace.len(), 32);
    assert!(
        all.iter().all(|s| s["traceId"] == trace.as_str()),
        "{all:#?}"
    );
    let find = |service: &str, kind: &str| -> &Value {
        all.iter()
            .find(|s| s["localEndpoint"]["serviceName"] == service && s["kind"] == kind)
            .unwrap_or_else(|| panic!("no {kind} span of {service}: {all:#?}"))
    };
    let gw_server = find("istio-ingressgateway.istio-system", "SERVER");
    let gw_client = find("istio-ingressgateway.istio-system", "CLIENT");
    let web_in = find("webapp.istioinaction", "SERVER");
    let web_out = find("webapp.istioinaction", "CLIENT");
    let cat_in = find("catalog.istioinaction", "SERVER");
    // The chain: each span's parent is the span before it.
    assert!(gw_server.get("parentId").is_none(), "{gw_server:#}");
    assert_eq!(gw_client["parentId"], gw_server["id"]);
    assert_eq!(web_in["parentId"], gw_client["id"]);
    assert_eq!(web_out["parentId"], web_in["id"]);
    assert_eq!(cat_in["parentId"], web_out["id"]);
    // Istio's names: the route decorator's `host:port/*`, carried to the callee's span.
    assert_eq!(
        gw_server["name"],
        "webapp.istioinaction.svc.cluster.local:80/*"
    );
    assert_eq!(
        web_in["name"],
        "webapp.istioinaction.svc.cluster.local:80/*"
    );
    assert_eq!(
        web_out["name"],
        "catalog.istioinaction.svc.cluster.local:80/*"
    );
    assert_eq!(
        cat_in["name"],
        "catalog.istioinaction.svc.cluster.local:80/*"
    );
    assert_eq!(web_in["tags"]["istio.canonical_service"], "webapp");
    assert_eq!(cat_in["tags"]["http.status_code"], "200");
    assert_eq!(
        web_out["tags"]["upstream_cluster"],
        "outbound|80||catalog.istioinaction.svc.cluster.local"
    );
    // One request id across the whole trace.
    let rid = gw_server["tags"]["guid:x-request-id"].clone();
    assert!(
        all.iter().all(|s| s["tags"]["guid:x-request-id"] == rid),
        "{all:#?}"
    );
}
