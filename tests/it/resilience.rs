//! Chapter 3's resilience list through Istio's resources: DestinationRule `consistentHash`,
//! `outlierDetection` and `connectionPool` on the book's catalog behind the gateway.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::util::*;

const CH4: &str = "scenarios/istio-in-action/ch4";
const HOST: &str = "catalog.istioinaction.io";

/// The default sandbox with the coolstore Gateway, the book's catalog VirtualService on it,
/// and `replicas` catalog pods.
fn catalog(replicas: i32) -> TestSandbox {
    let sb = TestSandbox::start(None);
    // The book's coolstore Gateway serves webapp's host; this one serves catalog's.
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: coolstore-gateway}\nspec:\n  selector: {istio: ingressgateway}\n  servers:\n  - port: {number: 80, name: http, protocol: HTTP}\n    hosts: [catalog.istioinaction.io]\n",
        Some("istioinaction"),
    )
    .unwrap();
    sb.apply(
        &[
            &format!("{CH4}/catalog-vs.yaml"),
            "scenarios/istio-in-action/services/catalog/kubernetes/catalog.yaml",
        ],
        Some("istioinaction"),
    )
    .unwrap();
    sb.rt
        .block_on(
            sb.sandbox
                .scale("deploy", "catalog", Some("istioinaction"), replicas),
        )
        .unwrap();
    sb.synced();
    sb
}

fn items(sb: &TestSandbox, headers: &[(&str, &str)]) -> Response {
    let mut h = vec![("Host", HOST)];
    h.extend_from_slice(headers);
    request(sb.node_port(30000), "GET", "/items", &h, b"").unwrap()
}

const CATALOG_CLUSTER: &str = "outbound|80||catalog.istioinaction.svc.cluster.local";

/// Requests a proxy (by admin address) sent to each endpoint of `cluster`, from its `/clusters`.
fn requests_per_endpoint(admin: SocketAddr, cluster: &str) -> BTreeMap<String, u64> {
    let json = get(admin, "/clusters?format=json").json();
    let mut out = BTreeMap::new();
    for c in json["cluster_statuses"].as_array().unwrap() {
        if c["name"] != cluster {
            continue;
        }
        for h in c["host_statuses"].as_array().unwrap() {
            let addr = h["address"]["socket_address"]["address"]
                .as_str()
                .unwrap()
                .to_owned();
            let total = h["stats"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["name"] == "rq_total")
                .and_then(|s| {
                    s["value"]
                        .as_str()
                        .and_then(|v| v.parse().ok())
                        .or(s["value"].as_u64())
                })
                .unwrap_or(0);
            out.insert(addr, total);
        }
    }
    out
}

/// The gateway's requests per catalog endpoint.
fn per_endpoint(sb: &TestSandbox) -> BTreeMap<String, u64> {
    requests_per_endpoint(sb.admin("gateway", None), CATALOG_CLUSTER)
}

fn delta(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(k, v)| (k.clone(), v - before.get(k).copied().unwrap_or(0)))
        .filter(|(_, d)| *d > 0)
        .collect()
}

fn pod_ips(sb: &TestSandbox) -> Vec<SocketAddr> {
    let pods = sb
        .rt
        .block_on(sb.sandbox.get(
            "po",
            None,
            Some("istioinaction"),
            false,
            Some("app=catalog"),
        ))
        .unwrap();
    pods[0]
        .items
        .iter()
        .map(|p| {
            let ip: std::net::IpAddr = p["status"]["podIP"].as_str().unwrap().parse().unwrap();
            SocketAddr::new(ip, 3000)
        })
        .collect()
}

#[test]
fn consistent_hash_keeps_each_user_on_one_catalog_pod() {
    let sb = catalog(3);
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: catalog}\nspec:\n  host: catalog\n  trafficPolicy:\n    loadBalancer:\n      consistentHash: {httpHeaderName: x-user}\n",
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let route = get(
        sb.admin("gateway", None),
        "/config_dump?resource=dynamic_route_configs",
    )
    .json();
    assert!(
        route
            .to_string()
            .contains("\"hash_policy\":[{\"header\":{\"header_name\":\"x-user\"}}]"),
        "{route}"
    );
    let mut pods_seen = std::collections::BTreeSet::new();
    for user in ["ann", "bob", "cy", "dee", "ed", "flo"] {
        let before = per_endpoint(&sb);
        for _ in 0..8 {
            assert_eq!(items(&sb, &[("x-user", user)]).status, 200);
        }
        let d = delta(&before, &per_endpoint(&sb));
        assert_eq!(d.len(), 1, "{user} went to one pod: {d:?}");
        assert_eq!(d.values().sum::<u64>(), 8);
        pods_seen.extend(d.into_keys());
    }
    assert!(
        pods_seen.len() >= 2,
        "users spread over the pods: {pods_seen:?}"
    );
}

#[test]
fn outlier_detection_ejects_the_failing_catalog_pod() {
    let sb = catalog(2);
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: catalog}\nspec:\n  host: catalog\n  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}\n",
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    // One pod breaks (the book's /blowup, straight to its sidecar).
    let bad = pod_ips(&sb)[0];
    let r = request(
        bad,
        "POST",
        "/blowup",
        &[("Content-Type", "application/json")],
        br#"{"type":"500","percentage":100,"active":true}"#,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let statuses: Vec<u16> = (0..12).map(|_| items(&sb, &[]).status).collect();
    let failures = statuses.iter().filter(|s| **s == 500).count();
    assert!(
        (1..=2).contains(&failures),
        "ejected after its first 500: {statuses:?}"
    );
    assert!(
        statuses[statuses.len() - 6..].iter().all(|s| *s == 200),
        "{statuses:?}"
    );
    // istioctl's view: the endpoint's OUTLIER CHECK failed.
    let json = get(sb.admin("gateway", None), "/clusters?format=json").json();
    let table = mesh::client::output::istioctl::endpoint(
        &mesh::client::output::istioctl::AdminClusters::from_json(&json),
        &Default::default(),
    );
    let line = table
        .lines()
        .find(|l| l.starts_with(&bad.to_string()))
        .unwrap_or_else(|| panic!("{table}"));
    assert!(line.contains("FAILED"), "{table}");
    let stats = get(sb.admin("gateway", None), "/stats?filter=outlier_detection").text();
    assert!(
        stats.contains("cluster.outbound|80||catalog.istioinaction.svc.cluster.local.outlier_detection.ejections_enforced_consecutive_5xx: 1"),
        "{stats}"
    );
}

#[test]
fn a_connection_pool_limit_overflows_with_503_uo() {
    let sb = catalog(1);
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: catalog}\nspec:\n  host: catalog\n  trafficPolicy:\n    connectionPool:\n      tcp: {maxConnections: 1}\n      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}\n",
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let pod = pod_ips(&sb)[0];
    let r = request(
        pod,
        "POST",
        "/blowup",
        &[("Content-Type", "application/json")],
        br#"{"type":"latency","latencyMs":700,"active":true}"#,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let gw = sb.node_port(30000);
    let answers: Vec<Response> = (0..5)
        .map(|_| {
            std::thread::spawn(move || {
                request(gw, "GET", "/items", &[("Host", HOST)], b"").unwrap()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|h| h.join().unwrap())
        .collect();
    let codes: Vec<u16> = answers.iter().map(|r| r.status).collect();
    let overflow: Vec<&Response> = answers.iter().filter(|r| r.status == 503).collect();
    assert!(!overflow.is_empty() && codes.contains(&200), "{codes:?}");
    for r in overflow {
        assert_eq!(r.header("x-envoy-overloaded"), Some("true"));
    }
    let stats = get(
        sb.admin("gateway", None),
        "/stats?filter=catalog.*pending_overflow",
    )
    .text();
    let n: u64 = stats
        .lines()
        .find_map(|l| {
            l.split_once(".upstream_rq_pending_overflow: ")
                .map(|(_, v)| v.trim().parse().unwrap())
        })
        .unwrap_or(0);
    assert_eq!(
        n as usize,
        codes.iter().filter(|c| **c == 503).count(),
        "{stats}"
    );
}

/// The book's manifest with the pod template's labels extended (a locality), optionally renamed.
fn with_pod_labels(file: &str, app: &str, rename: Option<&str>, labels: &str) -> String {
    let text = std::fs::read_to_string(repo_root().join(file)).unwrap();
    let marker = format!("  template:\n    metadata:\n      labels:\n        app: {app}\n");
    assert!(text.contains(&marker), "{file}");
    let mut out = text.replace(&marker, &format!("{marker}{labels}"));
    if let Some(name) = rename {
        // Only the Deployment: a second Deployment behind the same Service.
        let start = out.find("kind: Deployment").unwrap();
        out = out[start..].replacen(&format!("name: {app}\n"), &format!("name: {name}\n"), 1);
        out = format!("apiVersion: apps/v1\n{out}");
    }
    out
}

/// catalog in zones a and b (one pod each), webapp in zone a, the coolstore gateway, and
/// `dr` for catalog. Returns the sandbox and the two catalog pod IPs (a, b).
fn zones(dr: &str) -> (TestSandbox, String, String) {
    let sb = TestSandbox::start(None);
    let zone = |z: &str| {
        format!(
            "        topology.kubernetes.io/region: us-west\n        topology.kubernetes.io/zone: us-west1-{z}\n"
        )
    };
    let catalog = "scenarios/istio-in-action/services/catalog/kubernetes/catalog.yaml";
    sb.apply_text(
        &with_pod_labels(catalog, "catalog", None, &zone("a")),
        Some("istioinaction"),
    )
    .unwrap();
    sb.apply_text(
        &with_pod_labels(catalog, "catalog", Some("catalog-b"), &zone("b")),
        Some("istioinaction"),
    )
    .unwrap();
    sb.apply_text(
        &with_pod_labels(
            "scenarios/istio-in-action/services/webapp/kubernetes/webapp.yaml",
            "webapp",
            None,
            &zone("a"),
        ),
        Some("istioinaction"),
    )
    .unwrap();
    sb.apply(
        &[
            &format!("{CH4}/coolstore-gw.yaml"),
            &format!("{CH4}/coolstore-vs.yaml"),
        ],
        Some("istioinaction"),
    )
    .unwrap();
    sb.apply_text(dr, Some("istioinaction")).unwrap();
    sb.synced();
    let pod = |zone: &str| -> String {
        let pods = sb
            .rt
            .block_on(sb.sandbox.get(
                "po",
                None,
                Some("istioinaction"),
                false,
                Some(&format!(
                    "topology.kubernetes.io/zone=us-west1-{zone},app=catalog"
                )),
            ))
            .unwrap();
        assert_eq!(pods[0].items.len(), 1);
        pods[0].items[0]["status"]["podIP"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (a, b) = (pod("a"), pod("b"));
    (sb, a, b)
}

/// Requests webapp's sidecar sent to each catalog pod.
fn webapp_to_catalog(sb: &TestSandbox) -> BTreeMap<String, u64> {
    requests_per_endpoint(sb.admin("webapp", Some("istioinaction")), CATALOG_CLUSTER)
}

fn call_webapp(sb: &TestSandbox) -> u16 {
    request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap()
    .status
}

#[test]
fn locality_failover_keeps_traffic_in_the_zone_until_it_fails() {
    // Istio fails over by locality only with outlier detection.
    let (sb, a, b) = zones(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: catalog}\nspec:\n  host: catalog\n  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}\n",
    );
    let eds = get(
        sb.admin("webapp", Some("istioinaction")),
        "/config_dump?include_eds",
    )
    .json()
    .to_string();
    assert!(eds.contains("us-west1-b"), "localities in EDS: {eds}");
    for _ in 0..10 {
        assert_eq!(call_webapp(&sb), 200);
    }
    let before = webapp_to_catalog(&sb);
    assert_eq!(
        before.get(&a).copied().unwrap_or(0),
        10,
        "all in zone a: {before:?}"
    );
    assert_eq!(before.get(&b).copied().unwrap_or(0), 0, "{before:?}");
    // Zone a's catalog breaks: ejected after one 500, traffic fails over to zone b.
    let bad: SocketAddr = format!("{a}:3000").parse().unwrap();
    let r = request(
        bad,
        "POST",
        "/blowup",
        &[("Content-Type", "application/json")],
        br#"{"type":"500","percentage":100,"active":true}"#,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let statuses: Vec<u16> = (0..10).map(|_| call_webapp(&sb)).collect();
    assert!(statuses[2..].iter().all(|s| *s == 200), "{statuses:?}");
    let after = webapp_to_catalog(&sb);
    assert!(
        after.get(&b).copied().unwrap_or(0) >= 8,
        "failed over to zone b: {after:?}"
    );
}

#[test]
fn locality_distribute_weights_the_zones() {
    let (sb, a, b) = zones(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: catalog}\nspec:\n  host: catalog\n  trafficPolicy:\n    loadBalancer:\n      localityLbSetting:\n        distribute:\n        - from: us-west/us-west1-a/*\n          to: {\"us-west/us-west1-a/*\": 20, \"us-west/us-west1-b/*\": 80}\n",
    );
    for _ in 0..100 {
        assert_eq!(call_webapp(&sb), 200);
    }
    let seen = webapp_to_catalog(&sb);
    let (na, nb) = (
        seen.get(&a).copied().unwrap_or(0),
        seen.get(&b).copied().unwrap_or(0),
    );
    assert_eq!(na + nb, 100);
    // 80% ± a tolerance for 100 random picks.
    assert!((65..=95).contains(&nb), "zone b got {nb} of 100: {seen:?}");
}

#[test]
fn failover_priority_orders_endpoints_by_labels() {
    // `label=value` pins the preferred value: zone b first although webapp runs in zone a.
    let (sb, a, b) = zones(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: catalog}\nspec:\n  host: catalog\n  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 30s, maxEjectionPercent: 100}\n    loadBalancer:\n      localityLbSetting:\n        enabled: true\n        failoverPriority: [\"topology.kubernetes.io/zone=us-west1-b\"]\n",
    );
    for _ in 0..10 {
        assert_eq!(call_webapp(&sb), 200);
    }
    let seen = webapp_to_catalog(&sb);
    assert_eq!(
        seen.get(&b).copied().unwrap_or(0),
        10,
        "all in zone b: {seen:?}"
    );
    assert_eq!(seen.get(&a).copied().unwrap_or(0), 0, "{seen:?}");
}
