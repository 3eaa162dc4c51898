//! Chapter 4's operating labs: gateway injection (4.15), access logs (4.16), config reduction
//! (4.17).

use std::time::Duration;

use crate::util::*;

const CH4: &str = "scenarios/istio-in-action/ch4";
const HOST: &str = "webapp.istioinaction.io";

fn ch4() -> TestSandbox {
    let text = std::fs::read_to_string(repo_root().join("scenarios/ch4.yaml")).unwrap();
    TestSandbox::start(Some(&text))
}

fn logs(sb: &TestSandbox, target: &str, ns: &str, container: &str) -> Vec<String> {
    sb.rt
        .block_on(
            sb.sandbox
                .logs(target, Some(ns), Some(container), None, false),
        )
        .unwrap()
        .0
}

#[test]
fn lab_4_15_a_gateway_from_the_injection_template() {
    let sb = ch4();
    let applied = sb
        .apply(
            &[&format!("{CH4}/my-user-gw-injection.yaml")],
            Some("istioinaction"),
        )
        .unwrap();
    assert!(
        applied.contains(&"deployment.apps/my-user-gateway-injected created".to_string()),
        "{applied:?}"
    );
    sb.synced();
    let pods = sb
        .rt
        .block_on(sb.sandbox.get(
            "po",
            None,
            Some("istioinaction"),
            false,
            Some("ingress=my-user-gateway-injected"),
        ))
        .unwrap();
    let pod = &pods[0].items[0];
    let containers = pod["spec"]["containers"].as_array().unwrap();
    assert_eq!(
        containers.len(),
        1,
        "the template's istio-proxy, no second sidecar: {pod}"
    );
    assert_eq!(containers[0]["image"], "docker.io/istio/proxyv2:1.26.0");
    assert_eq!(containers[0]["args"][1], "router");
    assert_eq!(pod["status"]["phase"], "Running");
    let proxy = sb
        .rt
        .block_on(
            sb.sandbox
                .resolve_proxy("my-user-gateway-injected", Some("istioinaction")),
        )
        .unwrap();
    assert_eq!(proxy.kind, "router");
}

#[test]
fn lab_4_16_access_logs_from_the_telemetry_api_and_mesh_config() {
    let sb = ch4();
    sb.synced();
    // Off by default.
    assert_eq!(
        request(
            sb.node_port(30000),
            "GET",
            "/api/catalog",
            &[("Host", HOST)],
            b""
        )
        .unwrap()
        .status,
        200
    );
    let gw_logs = |sb: &TestSandbox| {
        logs(
            sb,
            "deploy/istio-ingressgateway",
            "istio-system",
            "istio-proxy",
        )
    };
    assert!(!gw_logs(&sb).iter().any(|l| l.contains("GET /api/catalog")));
    // The book's Telemetry: the ingress gateway logs, Istio's default format.
    sb.apply(
        &[&format!("{CH4}/enable-ingress-gw-access-logs.yaml")],
        None,
    )
    .unwrap();
    sb.synced();
    let r = request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[
            ("Host", HOST),
            ("User-Agent", "curl/8.7.1"),
            ("X-Request-Id", "5c1e0a4e-1111-2222-3333-444455556666"),
        ],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let found = eventually(Duration::from_secs(5), || {
        gw_logs(&sb)
            .iter()
            .any(|l| l.contains("\"GET /api/catalog HTTP/1.1\" 200"))
    });
    assert!(found, "{:?}", gw_logs(&sb));
    let line = gw_logs(&sb)
        .into_iter()
        .find(|l| l.contains("\"GET /api/catalog HTTP/1.1\" 200"))
        .unwrap();
    let re = regex::Regex::new(
        r#"^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\] "GET /api/catalog HTTP/1\.1" 200 - via_upstream - "-" 0 \d+ \d+ \d+ "[^"]*" "curl/8\.7\.1" "5c1e0a4e-1111-2222-3333-444455556666" "webapp\.istioinaction\.io" "127\.\d+\.\d+\.\d+:8080" outbound\|80\|\|webapp\.istioinaction\.svc\.cluster\.local 127\.[\d.]+:\d+ 127\.[\d.]+:8080 127\.[\d.]+:\d+ - -$"#,
    )
    .unwrap();
    assert!(
        re.is_match(&line),
        "Istio's default format, field by field:\n{line}"
    );
    // Sidecars do not log (the Telemetry selects the gateway) …
    let webapp_logs = || logs(&sb, "deploy/webapp", "istioinaction", "istio-proxy");
    assert!(!webapp_logs().iter().any(|l| l.contains("GET /api/catalog")));
    // … until meshConfig turns logging on everywhere (JSON here).
    let settings = mesh::pilot::settings::MeshSettings {
        access_log_file: "/dev/stdout".into(),
        access_log_encoding: mesh::pilot::settings::LogEncoding::Json,
        ..Default::default()
    };
    sb.sandbox.pilot.set_settings(settings);
    sb.synced();
    assert_eq!(
        request(
            sb.node_port(30000),
            "GET",
            "/api/catalog",
            &[("Host", HOST)],
            b""
        )
        .unwrap()
        .status,
        200
    );
    let json_line = || {
        webapp_logs()
            .into_iter()
            .find(|l| l.starts_with('{') && l.contains("/api/catalog"))
    };
    assert!(
        eventually(Duration::from_secs(5), || json_line().is_some()),
        "{:?}",
        webapp_logs()
    );
    let v: serde_json::Value = serde_json::from_str(&json_line().unwrap()).unwrap();
    assert_eq!(v["response_code"], 200);
    assert_eq!(v["method"], "GET");
    assert_eq!(v["upstream_cluster"], "inbound|8080||");
}

#[test]
fn lab_4_17_gateway_config_reduction() {
    let sb = ch4();
    sb.synced();
    let clusters = |sb: &TestSandbox| -> Vec<String> {
        let dump = get(
            sb.admin("gateway", None),
            "/config_dump?resource=dynamic_active_clusters",
        )
        .json();
        dump["configs"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["cluster"]["name"].as_str().map(str::to_owned))
            .collect()
    };
    let all = clusters(&sb);
    assert!(
        all.iter().any(|c| c.contains("catalog.istioinaction")),
        "{all:?}"
    );
    assert!(
        all.iter().any(|c| c.contains("istiod.istio-system")),
        "{all:?}"
    );
    let settings = mesh::pilot::settings::MeshSettings {
        filter_gateway_clusters: true,
        ..Default::default()
    };
    sb.sandbox.pilot.set_settings(settings);
    sb.synced();
    let reduced = clusters(&sb);
    assert_eq!(
        reduced,
        [
            "outbound|80||webapp.istioinaction.svc.cluster.local",
            "BlackHoleCluster"
        ],
        "only what the routes use"
    );
    assert_eq!(
        request(
            sb.node_port(30000),
            "GET",
            "/api/catalog",
            &[("Host", HOST)],
            b""
        )
        .unwrap()
        .status,
        200
    );
}
