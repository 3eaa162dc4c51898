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
    assert_eq!(
        applied,
        [
            "gateway.networking.istio.io/coolstore-gateway created",
            "virtualservice.networking.istio.io/webapp-vs-from-gw created"
        ]
    );
    let applied = sb.apply(&[CATALOG, WEBAPP], Some("istioinaction")).unwrap();
    assert!(
        applied.contains(&"deployment.apps/webapp created".to_string()),
        "{applied:?}"
    );
    sb.synced();
    let gw = sb.node_port(30000);
    let r = get(gw, "/api/catalog");
    assert_eq!(r.status, 404);
    let ok = eventually(Duration::from_secs(10), || {
        request(
            gw,
            "GET",
            "/api/catalog",
            &[("Host", "webapp.istioinaction.io")],
            b"",
        )
        .is_ok_and(|r| r.status == 200)
    });
    let r = request(
        gw,
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert!(ok, "{} {}", r.status, r.text());
    let items = r.json();
    assert!(items.as_array().is_some_and(|a| !a.is_empty()), "{items}");
}

#[test]
fn the_chapter_4_scenario_serves_at_once() {
    let text = std::fs::read_to_string(repo_root().join("scenarios/ch4.yaml")).unwrap();
    let sb = TestSandbox::start(Some(&text));
    assert_eq!(sb.sandbox.name, "test");
    sb.synced();
    let gw = sb.node_port(30000);
    let r = request(
        gw,
        "GET",
        "/api/catalog/items/2",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], "Atlas Shirt");
    // It is the default sandbox plus the book's files.
    let default = mesh::sandbox::scenario::parse("d", mesh::sandbox::scenario::DEFAULT).unwrap();
    let ch4 = mesh::sandbox::scenario::parse("c", &text).unwrap();
    let keys = |s: &mesh::sandbox::scenario::Scenario| {
        s.resources
            .iter()
            .map(|d| d.resource.key())
            .collect::<Vec<_>>()
    };
    let ch4_keys = keys(&ch4);
    assert!(keys(&default).iter().all(|k| ch4_keys.contains(k)));
    assert_eq!(
        ch4.header.extra_port_mappings,
        default.header.extra_port_mappings
    );
}

#[test]
fn a_bad_document_rejects_the_whole_apply_and_changes_nothing() {
    let sb = TestSandbox::start(None);
    sb.apply(&[GW, VS, CATALOG, WEBAPP], Some("istioinaction"))
        .unwrap();
    sb.synced();
    let version = *sb.sandbox.versions.borrow();
    let gw = sb.node_port(30000);
    let good_then_bad = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\ndata:\n  a: b\n---\napiVersion: networking.istio.io/v1beta1\nkind: VirtualService\nmetadata:\n  name: broken\nspec:\n  hosts: [\"x\"]\n  http:\n  - route:\n    - destination:\n        host: webapp\n      wieght: 10\n";
    let err = sb
        .apply_text(good_then_bad, Some("istioinaction"))
        .unwrap_err();
    assert!(
        err.starts_with("-:18:7: VirtualService/broken: spec.http[0].route[0].wieght"),
        "{err}"
    );
    assert!(err.contains("weight"), "suggests the field: {err}");
    // Unknown images, missing namespaces: every problem, file:line:column, nothing applied.
    let two = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector: {matchLabels: {app: web}}\n  template:\n    metadata: {labels: {app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  namespace: missing\nspec:\n  ports: [{port: 80}]\n";
    let err = sb.apply_text(two, None).unwrap_err();
    let lines: Vec<&str> = err.lines().collect();
    assert!(
        lines[0].starts_with("-:12:16: Deployment/web: unknown image \"nginx:1.25\""),
        "{err}"
    );
    assert!(
        lines[0].contains("istioinaction/catalog") && lines[0].contains("curlimages/curl"),
        "lists known images: {err}"
    );
    assert!(lines[1].starts_with("-:14:1: Service/s: namespaces \"missing\" not found (create it first: mesh create namespace missing)"), "{err}");
    assert_eq!(
        *sb.sandbox.versions.borrow(),
        version,
        "the store did not change"
    );
    let cms = sb
        .rt
        .block_on(
            sb.sandbox
                .get("cm", None, Some("istioinaction"), false, None),
        )
        .unwrap();
    assert!(cms[0].items.is_empty());
    // The sandbox keeps serving.
    let r = request(
        gw,
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn a_listener_the_proxy_cannot_bind_is_nacked_and_the_last_good_config_stays() {
    let sb = TestSandbox::start(None);
    sb.apply(&[GW, VS, CATALOG, WEBAPP], Some("istioinaction"))
        .unwrap();
    sb.synced();
    let gateway = sb
        .rt
        .block_on(sb.sandbox.resolve_proxy("gateway", None))
        .unwrap();
    let pod_ip = gateway.admin.unwrap().ip();
    // Something else holds port 9090 on the gateway pod's address.
    let _squatter = std::net::TcpListener::bind((pod_ip, 9090)).unwrap();
    let gw2 = "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: second\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 9090, name: http-alt, protocol: HTTP}\n    hosts: [\"*\"]\n";
    sb.apply_text(gw2, Some("istioinaction")).unwrap();
    let conn = gateway.connection.clone();
    let nacked = eventually(Duration::from_secs(10), || {
        matches!(
            conn.status(mesh::xds::type_url::LISTENER),
            mesh::pilot::push::SyncStatus::Error { .. }
        )
    });
    assert!(nacked, "LDS should be rejected");
    let info = gateway.to_json();
    assert_eq!(info["lds"]["status"], "ERROR");
    assert!(
        info["lds"]["reason"]
            .as_str()
            .unwrap_or("")
            .contains("cannot bind"),
        "{info}"
    );
    // The proxy keeps its last good listeners: traffic still flows.
    let r = request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    // Removing the cause lets the next push through.
    sb.rt
        .block_on(sb.sandbox.delete(
            "gw",
            &["second".into()],
            Some("istioinaction"),
            false,
            false,
        ))
        .unwrap();
    assert!(eventually(Duration::from_secs(10), || sb
        .sandbox
        .all_synced()));
}

#[test]
fn a_restarted_sandbox_comes_back_with_what_was_applied() {
    let sb = TestSandbox::start(None);
    sb.apply(&[GW, VS, CATALOG, WEBAPP], Some("istioinaction"))
        .unwrap();
    sb.rt
        .block_on(
            sb.sandbox
                .scale("deploy", "webapp", Some("istioinaction"), 2),
        )
        .unwrap();
    let api = sb.sandbox.state.api_file();
    assert!(
        !api.exists(),
        "api.json is written by `publish`, not by start"
    );
    let state = sb.stop();
    let saved = std::fs::read_to_string(state.path().join("test/resources.json")).unwrap();
    assert!(
        saved.contains("webapp-vs-from-gw") && !saved.contains("\"kind\": \"Pod\""),
        "users' objects only"
    );
    let sb = TestSandbox::start_in(None, state, false)
        .map_err(|e| e.1)
        .unwrap();
    sb.synced();
    let deploys = sb
        .rt
        .block_on(
            sb.sandbox
                .get("deploy", Some("webapp"), Some("istioinaction"), false, None),
        )
        .unwrap();
    assert_eq!(deploys[0].items[0]["spec"]["replicas"], 2);
    let pods = sb
        .rt
        .block_on(
            sb.sandbox
                .get("po", None, Some("istioinaction"), false, Some("app=webapp")),
        )
        .unwrap();
    assert_eq!(pods[0].items.len(), 2);
    let r = request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    // --fresh starts over from the scenario.
    let state = sb.stop();
    let sb = TestSandbox::start_in(None, state, true)
        .map_err(|e| e.1)
        .unwrap();
    let vs = sb
        .rt
        .block_on(sb.sandbox.get("vs", None, None, true, None))
        .unwrap();
    assert!(vs[0].items.is_empty());
}

#[test]
fn a_node_port_in_use_names_the_port_and_its_service() {
    let squatter = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = squatter.local_addr().unwrap().port();
    let scenario = mesh::sandbox::scenario::DEFAULT.replacen(
        "  hostPort: 30000",
        &format!("  hostPort: {port}"),
        1,
    );
    // ephemeral ports are on in tests; this one must bind the fixed port, so turn them off.
    let state = TempDir::new("sandbox");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut parsed = mesh::sandbox::scenario::parse("s.yaml", &scenario).unwrap();
    parsed.header.extra_port_mappings.truncate(1);
    let config = mesh::sandbox::SandboxConfig {
        name: "ports".into(),
        state_root: mesh::sandbox::state_dir::StateRoot(state.path().to_path_buf()),
        scenario: parsed,
        ephemeral_ports: false,
        resolver: Default::default(),
        fresh: true,
        workload_cert_ttl: mesh::ca::DEFAULT_WORKLOAD_TTL,
    };
    let err = rt
        .block_on(mesh::sandbox::Sandbox::start(config))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains(&format!("cannot publish node port 30000 on 127.0.0.1:{port} (node port of service istio-system/istio-ingressgateway)")),
        "{err}"
    );
}

#[test]
fn the_local_api_wants_the_token_kept_in_a_private_file() {
    use std::os::unix::fs::PermissionsExt;
    let sb = TestSandbox::start(None);
    let addr = sb
        .rt
        .block_on(mesh::sandbox::routes::publish(&sb.sandbox))
        .unwrap();
    let file = sb.sandbox.state.api_file();
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let api: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(api["address"], addr.to_string());
    assert!(addr.ip().is_loopback());
    let token = api["token"].as_str().unwrap();
    assert!(token.len() >= 32);
    let r = get(addr, "/v1/info");
    assert_eq!(r.status, 401);
    let r = request(
        addr,
        "GET",
        "/v1/info",
        &[("Authorization", "Bearer wrong")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 401);
    let r = request(
        addr,
        "GET",
        "/v1/info",
        &[("Authorization", &format!("Bearer {token}"))],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["name"], "test");
    // Stopping removes the file: clients then know nothing runs.
    sb.rt.block_on(sb.sandbox.stop());
    assert!(!file.exists());
}

#[test]
fn proxy_targets_resolve_like_istioctl_and_ambiguity_lists_candidates() {
    let text = std::fs::read_to_string(repo_root().join("scenarios/ch4.yaml")).unwrap();
    let sb = TestSandbox::start(Some(&text));
    let resolve = |t: &str, ns: Option<&str>| {
        sb.rt
            .block_on(sb.sandbox.resolve_proxy(t, ns))
            .map(|p| p.name)
            .map_err(|e| e.to_string())
    };
    let gateway = resolve("gateway", None).unwrap();
    assert!(gateway.starts_with("istio-ingressgateway-") && gateway.ends_with(".istio-system"));
    assert_eq!(
        resolve("deploy/istio-ingressgateway.istio-system", None).unwrap(),
        gateway
    );
    assert_eq!(
        resolve("deploy/istio-ingressgateway", Some("istio-system")).unwrap(),
        gateway
    );
    assert_eq!(resolve(&gateway, None).unwrap(), gateway);
    let pod = gateway.trim_end_matches(".istio-system");
    assert_eq!(resolve(pod, Some("istio-system")).unwrap(), gateway);
    assert_eq!(
        resolve(&format!("pod/{pod}"), Some("istio-system")).unwrap(),
        gateway
    );
    let err = resolve("istioinaction", None).unwrap_err();
    assert!(
        err.contains("matches 2 proxies") && err.contains("catalog-") && err.contains("webapp-"),
        "{err}"
    );
    let err = resolve("deploy/nothing", Some("istioinaction")).unwrap_err();
    assert!(err.contains("no proxy matches"), "{err}");
}

#[test]
fn logs_follow_new_lines() {
    let text = std::fs::read_to_string(repo_root().join("scenarios/ch4.yaml")).unwrap();
    let sb = TestSandbox::start(Some(&text));
    sb.synced();
    let (before, rx) = sb
        .rt
        .block_on(
            sb.sandbox
                .logs("deploy/webapp", Some("istioinaction"), None, None, true),
        )
        .unwrap();
    let mut rx = rx.unwrap();
    let r = request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let line = sb
        .rt
        .block_on(async { tokio::time::timeout(Duration::from_secs(10), rx.recv()).await })
        .unwrap()
        .unwrap();
    assert!(
        line.contains("GET /api/catalog"),
        "{line} (earlier: {before:?})"
    );
}
