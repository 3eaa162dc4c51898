//! Istio's standard metrics on every proxy's `:15090/stats/prometheus`: the gateway reports as
//! the source, sidecars as the destination of what they receive (and the source of what they
//! send), peers known through metadata exchange and mTLS certificates.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::util::*;

const HOST: &str = "webapp.istioinaction.io";

fn ch4_text() -> String {
    std::fs::read_to_string(repo_root().join("scenarios/ch4.yaml")).unwrap()
}

/// One sample of an exposition: metric name, labels, value.
#[derive(Debug)]
pub struct Sample {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub value: f64,
}

/// A small reader of the text exposition format (label values hold no `",` here).
pub fn samples(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (series, value) = l.rsplit_once(' ')?;
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .filter_map(|p| {
                    let (k, v) = p.split_once("=\"")?;
                    Some((k.to_owned(), v.trim_end_matches('"').to_owned()))
                })
                .collect();
            Some(Sample {
                name: name.to_owned(),
                labels,
                value: value.parse().ok()?,
            })
        })
        .collect()
}

/// The sum of `name` over the samples whose labels include every pair of `want`.
pub fn sum(samples: &[Sample], name: &str, want: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            want.iter()
                .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

fn scrape(admin: SocketAddr) -> String {
    let r = get(SocketAddr::new(admin.ip(), 15090), "/stats/prometheus");
    assert_eq!(r.status, 200);
    r.text()
}

/// Label names of the first `name` sample, in exposition order.
fn label_order(text: &str, name: &str) -> Vec<String> {
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{name}{{")))
        .unwrap_or_else(|| panic!("no {name} in\n{text}"));
    let inner = &line[name.len() + 1..line.rfind('}').unwrap()];
    inner
        .split("\",")
        .map(|p| p.split_once('=').unwrap().0.to_owned())
        .collect()
}

/// Runs `promtool check metrics`: exit 0, or 3 with lint findings that are Envoy's own
/// (`envoy_*` counters without `_total`, missing HELP) or inherent to Istio's names.
fn promtool_accepts(text: &str) {
    let Some(promtool) = tool("promtool") else {
        return;
    };
    let mut child = std::process::Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        matches!(out.status.code(), Some(0) | Some(3)),
        "promtool check metrics failed ({:?}):\n{report}",
        out.status.code()
    );
    // Istio's own names: no HELP, and a duration in milliseconds (Istio's choice).
    for line in report.lines().filter(|l| l.starts_with("istio_")) {
        assert!(
            line.contains("no help text")
                || line.starts_with("istio_request_duration_milliseconds use base unit"),
            "promtool on Istio's metrics: {line}"
        );
    }
}

const HTTP_LABELS: [&str; 25] = [
    "reporter",
    "source_workload",
    "source_canonical_service",
    "source_canonical_revision",
    "source_workload_namespace",
    "source_principal",
    "source_app",
    "source_version",
    "source_cluster",
    "destination_workload",
    "destination_workload_namespace",
    "destination_principal",
    "destination_app",
    "destination_version",
    "destination_service",
    "destination_canonical_service",
    "destination_canonical_revision",
    "destination_service_name",
    "destination_service_namespace",
    "destination_cluster",
    "request_protocol",
    "response_code",
    "grpc_response_status",
    "response_flags",
    "connection_security_policy",
];

#[test]
fn istio_requests_total_from_the_gateway_and_the_sidecars() {
    let sb = TestSandbox::start(Some(&ch4_text()));
    sb.synced();
    for _ in 0..5 {
        let r = request(
            sb.node_port(30000),
            "GET",
            "/api/catalog",
            &[("Host", HOST)],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200);
        // Metadata exchange stays between the proxies.
        assert!(r.header("x-envoy-peer-metadata").is_none());
        assert!(r.header("x-envoy-peer-metadata-id").is_none());
    }
    // No virtual host for this name: the gateway answers 404 itself (NR).
    let r = request(
        sb.node_port(30000),
        "GET",
        "/",
        &[("Host", "nowhere.example")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 404);

    // catalog's sidecar: webapp called it 5 times over mTLS.
    let catalog = scrape(sb.admin("deploy/catalog", Some("istioinaction")));
    promtool_accepts(&catalog);
    assert_eq!(label_order(&catalog, "istio_requests_total"), HTTP_LABELS);
    assert_eq!(
        catalog
            .matches("# TYPE istio_requests_total counter")
            .count(),
        1
    );
    assert!(
        catalog.contains("\nistio_build{component=\"proxy\",tag=\"1."),
        "{catalog}"
    );
    let s = samples(&catalog);
    let dest = [
        ("reporter", "destination"),
        ("source_workload", "webapp"),
        ("source_workload_namespace", "istioinaction"),
        (
            "source_principal",
            "spiffe://cluster.local/ns/istioinaction/sa/webapp",
        ),
        ("source_canonical_service", "webapp"),
        ("source_cluster", "Kubernetes"),
        ("destination_workload", "catalog"),
        (
            "destination_principal",
            "spiffe://cluster.local/ns/istioinaction/sa/catalog",
        ),
        (
            "destination_service",
            "catalog.istioinaction.svc.cluster.local",
        ),
        ("destination_service_name", "catalog"),
        ("destination_service_namespace", "istioinaction"),
        ("request_protocol", "http"),
        ("response_code", "200"),
        ("response_flags", "-"),
        ("connection_security_policy", "mutual_tls"),
    ];
    assert_eq!(sum(&s, "istio_requests_total", &dest), 5.0, "{catalog}");
    assert_eq!(
        sum(&s, "istio_request_duration_milliseconds_count", &dest),
        5.0
    );
    assert_eq!(
        sum(
            &s,
            "istio_request_duration_milliseconds_bucket",
            &[("le", "+Inf"), ("source_workload", "webapp")]
        ),
        5.0
    );
    assert!(
        sum(&s, "istio_response_bytes_sum", &dest) > 0.0,
        "{catalog}"
    );

    // webapp's sidecar: the gateway called it (destination), it called catalog (source).
    let webapp = scrape(sb.admin("deploy/webapp", Some("istioinaction")));
    promtool_accepts(&webapp);
    let s = samples(&webapp);
    let from_gateway = [
        ("reporter", "destination"),
        ("source_workload", "istio-ingressgateway"),
        ("source_workload_namespace", "istio-system"),
        (
            "source_principal",
            "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
        ),
        ("destination_workload", "webapp"),
        (
            "destination_service",
            "webapp.istioinaction.svc.cluster.local",
        ),
        ("response_code", "200"),
        ("connection_security_policy", "mutual_tls"),
    ];
    assert_eq!(
        sum(&s, "istio_requests_total", &from_gateway),
        5.0,
        "{webapp}"
    );
    let to_catalog = [
        ("reporter", "source"),
        ("source_workload", "webapp"),
        (
            "source_principal",
            "spiffe://cluster.local/ns/istioinaction/sa/webapp",
        ),
        ("destination_workload", "catalog"),
        (
            "destination_principal",
            "spiffe://cluster.local/ns/istioinaction/sa/catalog",
        ),
        (
            "destination_service",
            "catalog.istioinaction.svc.cluster.local",
        ),
        ("response_code", "200"),
        ("connection_security_policy", "unknown"),
    ];
    assert_eq!(
        sum(&s, "istio_requests_total", &to_catalog),
        5.0,
        "{webapp}"
    );

    // The gateway reports as the source, its 404 (no route) too.
    let gateway = scrape(sb.admin("deploy/istio-ingressgateway", Some("istio-system")));
    promtool_accepts(&gateway);
    let s = samples(&gateway);
    let to_webapp = [
        ("reporter", "source"),
        ("source_workload", "istio-ingressgateway"),
        ("source_canonical_service", "istio-ingressgateway"),
        ("source_canonical_revision", "latest"),
        ("source_workload_namespace", "istio-system"),
        ("destination_workload", "webapp"),
        ("destination_workload_namespace", "istioinaction"),
        (
            "destination_principal",
            "spiffe://cluster.local/ns/istioinaction/sa/webapp",
        ),
        (
            "destination_service",
            "webapp.istioinaction.svc.cluster.local",
        ),
        ("destination_service_name", "webapp"),
        ("response_code", "200"),
    ];
    assert_eq!(
        sum(&s, "istio_requests_total", &to_webapp),
        5.0,
        "{gateway}"
    );
    let no_route = [
        ("reporter", "source"),
        ("response_code", "404"),
        ("response_flags", "NR"),
        ("destination_workload", "unknown"),
    ];
    assert_eq!(sum(&s, "istio_requests_total", &no_route), 1.0, "{gateway}");
    assert!(!gateway.contains("reporter=\"destination\""), "{gateway}");
}

fn catalog_through_gateway(sb: &SandboxProcess, n: usize) {
    for _ in 0..n {
        let r = request(
            sb.node_port(30000),
            "GET",
            "/api/catalog",
            &[("Host", HOST)],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200);
    }
}

#[test]
fn mesh_metrics_summarises_traffic_per_workload() {
    let scenario = repo_root().join("scenarios/ch4.yaml");
    let sb = SandboxProcess::start(&[scenario.to_str().unwrap()]);
    sb.synced();
    catalog_through_gateway(&sb, 8);

    // Since the proxies started: catalog and webapp, each seen by its own sidecar.
    let table = sb.ok(&["metrics", "-n", "istioinaction"]);
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "NAMESPACE",
            "WORKLOAD",
            "REPORTER",
            "REQUESTS",
            "RPS",
            "SUCCESS",
            "P50",
            "P99"
        ],
        "{table}"
    );
    for workload in ["catalog", "webapp"] {
        let row = lines
            .iter()
            .find(|r| r.get(1) == Some(&workload))
            .unwrap_or_else(|| panic!("no {workload} row:\n{table}"));
        assert_eq!(
            row[..4],
            ["istioinaction", workload, "destination", "8"],
            "{table}"
        );
        assert_eq!(row[5], "100.00%", "{table}");
        assert!(row[6].ends_with("ms") && row[7].ends_with("ms"), "{table}");
    }
    assert_eq!(lines.len(), 3, "{table}");

    // One workload, as JSON.
    let json: serde_json::Value =
        serde_json::from_str(&sb.ok(&["metrics", "deploy/catalog", "-o", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1, "{json}");
    assert_eq!(json[0]["requests"], 8.0);
    assert_eq!(json[0]["success_rate"], 1.0);
    assert!(json[0]["p99_ms"].as_f64().unwrap() >= json[0]["p50_ms"].as_f64().unwrap());

    // Over a window: only what happened between the two scrapes.
    let windowed = std::thread::scope(|s| {
        let cmd = s.spawn(|| sb.ok(&["metrics", "catalog", "--interval", "4s", "-o", "json"]));
        std::thread::sleep(std::time::Duration::from_millis(1500));
        catalog_through_gateway(&sb, 4);
        cmd.join().unwrap()
    });
    let json: serde_json::Value = serde_json::from_str(&windowed).unwrap();
    assert_eq!(json[0]["requests"], 4.0, "{json}");
    assert!(json[0]["rps"].as_f64().unwrap() > 0.5, "{json}");

    let (code, _, err) = sb.run(&["metrics", "nosuchworkload"]);
    assert_ne!(code, 0);
    assert!(err.contains("no traffic recorded"), "{err}");
}

#[test]
fn istio_tcp_metrics_through_the_gateway() {
    use std::io::{BufRead, BufReader, Write};

    let sb = TestSandbox::start(None);
    sb.apply(
        &[
            "scenarios/istio-in-action/ch4/echo.yaml",
            "scenarios/istio-in-action/ch4/gateway-tcp.yaml",
            "scenarios/istio-in-action/ch4/echo-vs.yaml",
        ],
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    {
        let stream = std::net::TcpStream::connect(sb.node_port(30006)).unwrap();
        stream
            .set_read_timeout(Some(std::time::Duration::from_secs(10)))
            .unwrap();
        let mut reader = BufReader::new(stream.try_clone().unwrap());
        let mut w = stream;
        w.write_all(b"hello istio\n").unwrap();
        let mut line = String::new();
        let echoed = (0..20).any(|_| {
            line.clear();
            reader.read_line(&mut line).is_ok() && line.contains("hello istio")
        });
        assert!(echoed, "no echo");
    }
    // Counted closed once both ends are done, with the bytes each way.
    let gateway = sb.admin("gateway", None);
    let to_echo = [
        ("reporter", "source"),
        ("source_workload", "istio-ingressgateway"),
        (
            "source_principal",
            "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
        ),
        ("destination_workload", "tcp-echo-deployment"),
        ("destination_workload_namespace", "istioinaction"),
        (
            "destination_principal",
            "spiffe://cluster.local/ns/istioinaction/sa/default",
        ),
        (
            "destination_service",
            "tcp-echo-service.istioinaction.svc.cluster.local",
        ),
        ("request_protocol", "tcp"),
        ("response_flags", "-"),
        ("connection_security_policy", "unknown"),
    ];
    let mut text = String::new();
    let closed = eventually(std::time::Duration::from_secs(10), || {
        text = scrape(gateway);
        sum(
            &samples(&text),
            "istio_tcp_connections_closed_total",
            &to_echo,
        ) == 1.0
    });
    assert!(closed, "{text}");
    // Scrape again: one rendering reads the counters one by one, so it may have read the
    // bytes just before the close added them and `closed` just after.
    text = scrape(gateway);
    promtool_accepts(&text);
    let s = samples(&text);
    assert_eq!(sum(&s, "istio_tcp_connections_opened_total", &to_echo), 1.0);
    assert!(
        sum(&s, "istio_tcp_received_bytes_total", &to_echo) >= 12.0,
        "{text}"
    );
    assert!(
        sum(&s, "istio_tcp_sent_bytes_total", &to_echo) >= 12.0,
        "{text}"
    );

    // The echo pod's sidecar: the client is known by its certificate only (no TCP exchange).
    let echo = sb.admin("deploy/tcp-echo-deployment", Some("istioinaction"));
    let from_gateway = [
        ("reporter", "destination"),
        ("source_workload", "unknown"),
        ("source_workload_namespace", "istio-system"),
        (
            "source_principal",
            "spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway-service-account",
        ),
        ("destination_workload", "tcp-echo-deployment"),
        ("request_protocol", "tcp"),
        ("connection_security_policy", "mutual_tls"),
    ];
    let closed = eventually(std::time::Duration::from_secs(10), || {
        text = scrape(echo);
        sum(
            &samples(&text),
            "istio_tcp_connections_closed_total",
            &from_gateway,
        ) == 1.0
    });
    assert!(closed, "{text}");
    assert_eq!(
        label_order(&text, "istio_tcp_sent_bytes_total")[20..],
        [
            "request_protocol",
            "response_flags",
            "connection_security_policy"
        ]
    );
}
