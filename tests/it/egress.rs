//! Egress (issue 6, challenge C4): ServiceEntry hosts reached from a sidecar (DNS and STATIC
//! resolution), outboundTrafficPolicy REGISTRY_ONLY, and Istio's egress gateway pattern end
//! to end — sidecar → istio-egressgateway → the (simulated) external host.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::Duration;

use mesh::pilot::settings::{MeshSettings, OutboundPolicy};

use crate::util::*;

const NS: &str = "istioinaction";
const EGRESS: &str = "scenarios/egress";

/// The egress scenario, with example.com also answering on a port no service declares.
fn egress() -> TestSandbox {
    let text = std::fs::read_to_string(repo_root().join("scenarios/egress.yaml")).unwrap();
    let text = text.replace(
        "- host: example.com\n  ports: [80]\n",
        "- host: example.com\n  ports: [80, 7070]\n",
    );
    let sb = TestSandbox::start(Some(&text));
    sb.synced();
    sb
}

/// `mesh exec deploy/sleep -- …`'s way into the pod: its forward proxy.
fn sleep_proxy(sb: &TestSandbox) -> SocketAddr {
    sb.rt
        .block_on(sb.sandbox.exec_proxy("deploy/sleep", Some(NS)))
        .unwrap()
        .2
}

/// `curl http://{host}{path}` from the sleep pod (absolute form, as curl does with a proxy).
fn curl(sb: &TestSandbox, host: &str, path: &str) -> Response {
    curl_as(sb, host, host, path)
}

/// The same, dialling `dial` with `Host: host`.
fn curl_as(sb: &TestSandbox, dial: &str, host: &str, path: &str) -> Response {
    let raw = format!(
        "GET http://{dial}{path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: curl/8.7.1\r\nConnection: close\r\n\r\n"
    );
    raw_request(sleep_proxy(sb), raw.as_bytes()).unwrap()
}

fn stat(admin: SocketAddr, name: &str) -> u64 {
    stat_value(admin, name).unwrap_or(0)
}

fn external_ip(sb: &TestSandbox, host: &str) -> IpAddr {
    sb.sandbox
        .external_hosts
        .iter()
        .find(|h| h.host == host)
        .unwrap()
        .ip
}

fn cluster_dump(admin: SocketAddr, name: &str) -> serde_json::Value {
    let dump = get(admin, "/config_dump?resource=dynamic_active_clusters").json();
    dump["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["cluster"].clone())
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no cluster {name}"))
}

#[test]
fn a_dns_service_entry_host_is_reached_through_its_own_cluster() {
    let sb = egress();
    let sleep = sb.admin("deploy/sleep", Some(NS));
    sb.apply(&[&format!("{EGRESS}/httpbin-se.yaml")], Some(NS))
        .unwrap();
    sb.synced();
    let c = cluster_dump(sleep, "outbound|80||httpbin.org");
    assert_eq!(c["type"], "STRICT_DNS");
    assert_eq!(c["dns_lookup_family"], "V4_ONLY");
    assert_eq!(
        c["load_assignment"]["endpoints"][0]["lb_endpoints"][0]["endpoint"]["address"]["socket_address"]
            ["address"],
        "httpbin.org"
    );
    assert_eq!(c["metadata"]["filter_metadata"]["istio"]["external"], true);
    // The proxy resolved the name with the sandbox's DNS (`proxy-config endpoint` reads this).
    let ip = external_ip(&sb, "httpbin.org");
    let resolved = format!("outbound|80||httpbin.org::{ip}:80::health_flags::healthy");
    let clusters = get(sleep, "/clusters").text();
    assert!(clusters.lines().any(|l| l == resolved), "{clusters}");
    let r = curl(&sb, "httpbin.org", "/headers");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["headers"]["Host"], "httpbin.org");
    assert!(
        stat(sleep, "cluster.outbound|80||httpbin.org.upstream_rq_200") >= 1,
        "the request went through the ServiceEntry's cluster, not PassthroughCluster"
    );
    // The sidecar's route for port 80 has the host's virtual host.
    let routes = get(sleep, "/config_dump?resource=dynamic_route_configs").json();
    let text = routes.to_string();
    assert!(text.contains("\"name\":\"httpbin.org:80\""), "{text}");
}

#[test]
fn a_static_service_entry_sends_to_its_endpoints() {
    let sb = egress();
    let ip = external_ip(&sb, "example.com");
    let se = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: legacy\n  namespace: {NS}\nspec:\n  hosts: [legacy.internal]\n  ports:\n  - {{number: 80, name: http, protocol: HTTP}}\n  resolution: STATIC\n  location: MESH_EXTERNAL\n  endpoints:\n  - address: {ip}\n"
    );
    sb.apply_text(&se, None).unwrap();
    sb.synced();
    let sleep = sb.admin("deploy/sleep", Some(NS));
    let c = cluster_dump(sleep, "outbound|80||legacy.internal");
    assert_eq!(c["type"], "EDS");
    // The app dials an address; the Host header picks the entry's virtual host, whose EDS
    // endpoint is the external host.
    let r = curl_as(&sb, &ip.to_string(), "legacy.internal", "/status/418");
    assert_eq!(r.status, 418, "{}", r.text());
    assert!(
        stat(
            sleep,
            "cluster.outbound|80||legacy.internal.upstream_rq_418"
        ) >= 1
    );
}

/// CONNECT through the sleep pod's proxy to `host:port`, send a request, read everything.
fn tunnel(sb: &TestSandbox, host: &str, port: u16) -> String {
    let mut s = TcpStream::connect(sleep_proxy(sb)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "CONNECT {host}:{port} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\nGET /status/200 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn registry_only_blocks_unknown_hosts_and_allows_service_entries() {
    let sb = egress();
    sb.apply(&[&format!("{EGRESS}/httpbin-se.yaml")], Some(NS))
        .unwrap();
    sb.synced();
    // ALLOW_ANY (the default): unknown hosts pass through, HTTP and TCP.
    assert_eq!(curl(&sb, "example.com", "/status/200").status, 200);
    let through = tunnel(&sb, "example.com", 7070);
    assert!(through.contains("HTTP/1.1 200 OK"), "{through}");

    sb.sandbox.pilot.set_settings(MeshSettings {
        outbound_policy: OutboundPolicy::RegistryOnly,
        access_log_file: "/dev/stdout".into(),
        ..Default::default()
    });
    sb.synced();
    let sleep = sb.admin("deploy/sleep", Some(NS));
    let r = curl(&sb, "example.com", "/status/200");
    assert_eq!(r.status, 502, "{}", r.text());
    assert!(r.body.is_empty(), "Envoy's direct response has no body");
    // TCP to an unknown destination: BlackHoleCluster, the connection is closed.
    let blocked = tunnel(&sb, "example.com", 7070);
    assert!(!blocked.contains("HTTP/1.1 200 OK"), "{blocked}");
    assert!(stat(sleep, "cluster.BlackHoleCluster.upstream_cx_none_healthy") >= 1);
    // The ServiceEntry host is still allowed.
    assert_eq!(curl(&sb, "httpbin.org", "/status/200").status, 200);
    // The sidecar's access log says why: the block_all route's direct response.
    let logs = || {
        sb.rt
            .block_on(
                sb.sandbox
                    .logs("deploy/sleep", Some(NS), Some("istio-proxy"), None, false),
            )
            .unwrap()
            .0
    };
    let found = eventually(Duration::from_secs(5), || {
        logs().iter().any(|l| {
            l.contains("\"GET /status/200 HTTP/1.1\" 502 - direct_response")
                && l.ends_with("block_all")
        })
    });
    assert!(found, "{:#?}", logs());
    let found = eventually(Duration::from_secs(5), || {
        logs()
            .iter()
            .any(|l| l.contains(" UH ") && l.contains("BlackHoleCluster"))
    });
    assert!(found, "{:#?}", logs());
}

#[test]
fn the_egress_gateway_carries_mesh_traffic_to_the_external_host() {
    let sb = egress();
    sb.apply(
        &[
            &format!("{EGRESS}/httpbin-se.yaml"),
            &format!("{EGRESS}/egress-gateway-httpbin.yaml"),
        ],
        Some(NS),
    )
    .unwrap();
    sb.sandbox.pilot.set_settings(MeshSettings {
        access_log_file: "/dev/stdout".into(),
        ..Default::default()
    });
    sb.synced();
    let gw = sb.admin("deploy/istio-egressgateway", Some("istio-system"));
    let sleep = sb.admin("deploy/sleep", Some(NS));
    let external = "cluster.outbound|80||httpbin.org.upstream_rq_200";
    let via_gateway = "cluster.outbound|80|httpbin|istio-egressgateway.istio-system.svc.cluster.local.upstream_rq_200";
    let before = stat(gw, external);
    let r = curl(&sb, "httpbin.org", "/headers");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["headers"]["Host"], "httpbin.org");
    assert_eq!(stat(sleep, via_gateway), 1, "sidecar → egress gateway");
    assert_eq!(stat(sleep, external), 0, "the sidecar did not go direct");
    assert_eq!(
        stat(gw, external),
        before + 1,
        "egress gateway → httpbin.org"
    );
    // The gateway's access log shows the hop to the external host.
    let logs = || {
        sb.rt
            .block_on(sb.sandbox.logs(
                "deploy/istio-egressgateway",
                Some("istio-system"),
                Some("istio-proxy"),
                None,
                false,
            ))
            .unwrap()
            .0
    };
    let ip = external_ip(&sb, "httpbin.org");
    // The gateway's Service port is `http2`: the sidecar speaks HTTP/2 to it (Istio's task
    // shows the same `HTTP/2` in the egress gateway's log).
    let found = eventually(Duration::from_secs(5), || {
        logs().iter().any(|l| {
            l.contains("\"GET /headers HTTP/2\" 200")
                && l.contains(&format!("\"{ip}:80\" outbound|80||httpbin.org "))
        })
    });
    assert!(found, "{:#?}", logs());
}

/// `mesh proxy-config cluster|listener|route` of a sidecar and the egress gateway, rendered
/// from their own config dumps as the CLI renders them.
#[test]
fn proxy_config_shows_service_entry_hosts_as_istioctl_does() {
    use mesh::client::output::istioctl::{self as pc, ConfigDump};
    let sb = egress();
    sb.apply(
        &[
            &format!("{EGRESS}/httpbin-se.yaml"),
            &format!("{EGRESS}/egress-gateway-httpbin.yaml"),
        ],
        Some(NS),
    )
    .unwrap();
    let tls = format!(
        "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: tls-ext\n  namespace: {NS}\nspec:\n  hosts: [secure.example.com, api.example.com]\n  ports:\n  - {{number: 443, name: tls, protocol: TLS}}\n  resolution: DNS\n"
    );
    sb.apply_text(&tls, None).unwrap();
    sb.synced();
    let dump = |target: &str, ns: &str| {
        ConfigDump::parse(&get(sb.admin(target, Some(ns)), "/config_dump").text()).unwrap()
    };
    let sleep = dump("deploy/sleep", NS);
    let rows = |table: String| -> Vec<String> {
        table
            .lines()
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .collect()
    };
    let clusters = rows(pc::cluster(&sleep, &pc::ClusterFilter::default()).unwrap());
    for row in [
        "httpbin.org 80 - outbound STRICT_DNS",
        "secure.example.com 443 - outbound STRICT_DNS",
        "istio-egressgateway.istio-system.svc.cluster.local 80 httpbin outbound EDS egressgateway-for-httpbin.istioinaction",
    ] {
        assert!(
            clusters.iter().any(|r| r == row),
            "{row:?} in {clusters:#?}"
        );
    }
    let listeners = rows(pc::listener(&sleep, &pc::ListenerFilter::default()).unwrap());
    for row in [
        "0.0.0.0 80 Trans: raw_buffer; App: http/1.1,h2c Route: 80",
        "0.0.0.0 443 SNI: secure.example.com Cluster: outbound|443||secure.example.com",
        "0.0.0.0 443 SNI: api.example.com Cluster: outbound|443||api.example.com",
    ] {
        assert!(
            listeners.iter().any(|r| r == row),
            "{row:?} in {listeners:#?}"
        );
    }
    let routes = rows(pc::route(&sleep, &pc::RouteFilter::default()).unwrap());
    let row =
        "80 httpbin.org:80 httpbin.org /* direct-httpbin-through-egress-gateway.istioinaction";
    assert!(routes.iter().any(|r| r == row), "{row:?} in {routes:#?}");
    // The egress gateway: its server's route, and the external host's DNS cluster.
    let gw = dump("deploy/istio-egressgateway", "istio-system");
    let routes = rows(pc::route(&gw, &pc::RouteFilter::default()).unwrap());
    let row = "http.8080 httpbin.org:80 httpbin.org /* direct-httpbin-through-egress-gateway.istioinaction";
    assert!(routes.iter().any(|r| r == row), "{row:?} in {routes:#?}");
    let clusters = rows(pc::cluster(&gw, &pc::ClusterFilter::default()).unwrap());
    let row = "httpbin.org 80 - outbound STRICT_DNS";
    assert!(
        clusters.iter().any(|r| r == row),
        "{row:?} in {clusters:#?}"
    );
}

/// The user's own curl, through `mesh exec`, against `mesh up scenarios/egress.yaml`: the
/// request leaves the sleep pod's sidecar for the egress gateway, which logs the hop to
/// httpbin.org.
#[test]
fn mesh_exec_curl_reaches_the_external_host_through_the_egress_gateway() {
    let Some(_) = tool("curl") else { return };
    let scenario = repo_root().join("scenarios/egress.yaml");
    let sb = SandboxProcess::start(&[scenario.to_str().unwrap()]);
    for f in [
        "scenarios/egress/httpbin-se.yaml",
        "scenarios/egress/egress-gateway-httpbin.yaml",
    ] {
        sb.ok(&["apply", "-f", f, "-n", NS]);
    }
    sb.ok(&[
        "apply",
        "-f",
        "scenarios/egress/egress-gateway-access-logs.yaml",
    ]);
    sb.synced();
    let out = sb.ok(&[
        "exec",
        "deploy/sleep",
        "-n",
        NS,
        "--",
        "curl",
        "-sS",
        "http://httpbin.org/headers",
    ]);
    let headers: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(headers["headers"]["Host"], "httpbin.org", "{out}");
    let logged = eventually(Duration::from_secs(5), || {
        sb.ok(&["logs", "deploy/istio-egressgateway", "-n", "istio-system"])
            .lines()
            .any(|l| {
                l.contains("\"GET /headers HTTP/2\" 200")
                    && l.contains(" outbound|80||httpbin.org ")
            })
    });
    assert!(
        logged,
        "{}",
        sb.ok(&["logs", "deploy/istio-egressgateway", "-n", "istio-system"])
    );
    let clusters = sb.ok(&[
        "proxy-config",
        "cluster",
        "deploy/istio-egressgateway",
        "-n",
        "istio-system",
        "--fqdn",
        "httpbin.org",
    ]);
    assert!(clusters.contains("STRICT_DNS"), "{clusters}");

    // HTTPS: the client's own TLS, passed through by SNI at the sidecar and the gateway.
    sb.ok(&[
        "apply",
        "-f",
        "scenarios/egress/egress-gateway-httpbin-tls.yaml",
        "-n",
        NS,
    ]);
    sb.synced();
    let out = sb.ok(&[
        "exec",
        "deploy/sleep",
        "-n",
        NS,
        "--",
        "curl",
        "-sSk",
        "https://httpbin.org/status/418",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
    ]);
    assert_eq!(out, "418");
    let logs = || sb.ok(&["logs", "deploy/istio-egressgateway", "-n", "istio-system"]);
    let passed_through = eventually(Duration::from_secs(5), || {
        logs()
            .lines()
            .any(|l| l.contains(" outbound|443||httpbin.org ") && l.contains(" httpbin.org "))
    });
    assert!(passed_through, "{}", logs());
}

/// What a user types: `mesh install` with the demo profile (its egress gateway) and
/// REGISTRY_ONLY; unknown hosts get Envoy's 502, the ServiceEntry host goes through the
/// installed egress gateway.
#[test]
fn mesh_install_registry_only_with_the_demo_egress_gateway() {
    let Some(_) = tool("curl") else { return };
    let scenario = repo_root().join("scenarios/egress.yaml");
    let sb = SandboxProcess::start(&[scenario.to_str().unwrap()]);
    sb.ok(&[
        "install",
        "-y",
        "--set",
        "profile=demo",
        "--set",
        "meshConfig.outboundTrafficPolicy.mode=REGISTRY_ONLY",
        "--set",
        "meshConfig.accessLogFile=/dev/stdout",
    ]);
    for f in [
        "scenarios/egress/httpbin-se.yaml",
        "scenarios/egress/egress-gateway-httpbin.yaml",
    ] {
        sb.ok(&["apply", "-f", f, "-n", NS]);
    }
    sb.synced();
    let code = |url: &str| {
        sb.ok(&[
            "exec",
            "deploy/sleep",
            "-n",
            NS,
            "--",
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            url,
        ])
    };
    assert_eq!(code("http://example.com/status/200"), "502");
    assert_eq!(code("http://httpbin.org/status/200"), "200");
    let logs = || sb.ok(&["logs", "deploy/istio-egressgateway", "-n", "istio-system"]);
    let through = eventually(Duration::from_secs(5), || {
        logs().lines().any(|l| {
            l.contains("\"GET /status/200 HTTP/2\" 200") && l.contains(" outbound|80||httpbin.org ")
        })
    });
    assert!(through, "{}", logs());
    let sidecar = sb.ok(&["logs", "deploy/sleep", "-n", NS, "-c", "istio-proxy"]);
    assert!(
        sidecar
            .lines()
            .any(|l| l.contains("502 - direct_response") && l.ends_with(" block_all")),
        "{sidecar}"
    );
}

#[test]
fn sidecars_reach_the_egress_gateway_over_istio_mutual_tls() {
    let sb = egress();
    sb.apply(
        &[
            &format!("{EGRESS}/httpbin-se.yaml"),
            &format!("{EGRESS}/egress-gateway-httpbin-mtls.yaml"),
        ],
        Some(NS),
    )
    .unwrap();
    // The gateway logs who connected and by which name.
    sb.sandbox.pilot.set_settings(MeshSettings {
        access_log_file: "/dev/stdout".into(),
        access_log_format: "peer=%DOWNSTREAM_PEER_URI_SAN% sni=%REQUESTED_SERVER_NAME%\n".into(),
        ..Default::default()
    });
    sb.synced();
    let gw = sb.admin("deploy/istio-egressgateway", Some("istio-system"));
    let sleep = sb.admin("deploy/sleep", Some(NS));
    let r = curl(&sb, "httpbin.org", "/headers");
    assert_eq!(r.status, 200, "{}", r.text());
    let logs = || {
        sb.rt
            .block_on(sb.sandbox.logs(
                "deploy/istio-egressgateway",
                Some("istio-system"),
                Some("istio-proxy"),
                None,
                false,
            ))
            .unwrap()
            .0
    };
    let line = "peer=spiffe://cluster.local/ns/istioinaction/sa/sleep sni=httpbin.org";
    let found = eventually(Duration::from_secs(5), || logs().iter().any(|l| l == line));
    assert!(found, "{:#?}", logs());
    let to_gw = "cluster.outbound|443|httpbin|istio-egressgateway.istio-system.svc.cluster.local";
    assert!(stat(sleep, &format!("{to_gw}.ssl.handshake")) >= 1);
    assert_eq!(stat(sleep, &format!("{to_gw}.upstream_rq_200")), 1);
    assert_eq!(stat(gw, "listener.0.0.0.0_8443.ssl.handshake"), 1);
    assert_eq!(
        stat(gw, "cluster.outbound|80||httpbin.org.upstream_rq_200"),
        1
    );
}

/// Istio's "Egress TLS origination" task: the app speaks plain HTTP to port 80, its sidecar
/// opens TLS to httpbin.org:443, trusting the external host's certificate
/// (`caCertificates`, the file the sandbox wrote).
#[test]
fn the_sidecar_originates_tls_to_the_external_host() {
    let sb = egress();
    let ca = sb
        .sandbox
        .external_hosts
        .iter()
        .find(|h| h.host == "httpbin.org")
        .and_then(|h| h.certificate_file.clone())
        .unwrap();
    let config = format!(
        "\
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {{name: httpbin-tls, namespace: {NS}}}
spec:
  hosts: [httpbin.org]
  ports:
  - {{number: 80, name: http-port, protocol: HTTP}}
  - {{number: 443, name: https-port, protocol: HTTPS}}
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {{name: httpbin-tls, namespace: {NS}}}
spec:
  hosts: [httpbin.org]
  http:
  - match: [{{port: 80}}]
    route: [{{destination: {{host: httpbin.org, port: {{number: 443}}}}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {{name: originate-tls-for-httpbin, namespace: {NS}}}
spec:
  host: httpbin.org
  trafficPolicy:
    portLevelSettings:
    - port: {{number: 443}}
      tls: {{mode: SIMPLE, caCertificates: {}}}
",
        ca.display()
    );
    sb.apply_text(&config, None).unwrap();
    sb.synced();
    let sleep = sb.admin("deploy/sleep", Some(NS));
    let r = curl(&sb, "httpbin.org", "/headers");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["headers"]["Host"], "httpbin.org");
    let c = "cluster.outbound|443||httpbin.org";
    assert!(stat(sleep, &format!("{c}.ssl.handshake")) >= 1);
    assert_eq!(stat(sleep, &format!("{c}.upstream_rq_200")), 1);
}

/// Istio's "Egress gateways with TLS origination" task in full: sidecar →(Istio mTLS)→ egress
/// gateway →(TLS it originates, trusting the host's certificate)→ httpbin.org:443.
#[test]
fn the_egress_gateway_originates_tls_to_the_external_host() {
    let sb = egress();
    sb.apply(
        &[
            &format!("{EGRESS}/httpbin-se.yaml"),
            &format!("{EGRESS}/egress-gateway-httpbin-mtls.yaml"),
        ],
        Some(NS),
    )
    .unwrap();
    let ca = sb
        .sandbox
        .external_hosts
        .iter()
        .find(|h| h.host == "httpbin.org")
        .and_then(|h| h.certificate_file.clone())
        .unwrap();
    // The gateway's leg now goes to 443, where a DestinationRule originates TLS.
    let vs = std::fs::read_to_string(
        repo_root()
            .join(EGRESS)
            .join("egress-gateway-httpbin-mtls.yaml"),
    )
    .unwrap()
    .replace(
        "        host: httpbin.org\n        port:\n          number: 80",
        "        host: httpbin.org\n        port:\n          number: 443",
    );
    let dr = format!(
        "---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: originate-tls-for-httpbin\nspec:\n  host: httpbin.org\n  trafficPolicy:\n    portLevelSettings:\n    - port: {{number: 443}}\n      tls: {{mode: SIMPLE, caCertificates: {}}}\n",
        ca.display()
    );
    sb.apply_text(&format!("{vs}{dr}"), Some(NS)).unwrap();
    sb.synced();
    let gw = sb.admin("deploy/istio-egressgateway", Some("istio-system"));
    let r = curl(&sb, "httpbin.org", "/headers");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["headers"]["Host"], "httpbin.org");
    let c = "cluster.outbound|443||httpbin.org";
    assert_eq!(stat(gw, &format!("{c}.upstream_rq_200")), 1);
    assert!(
        stat(gw, &format!("{c}.ssl.handshake")) >= 1,
        "the gateway originated TLS"
    );
    assert_eq!(
        stat(gw, "listener.0.0.0.0_8443.ssl.handshake"),
        1,
        "and terminated the mesh's mTLS"
    );
}

/// An egress gateway made by the injection template (`inject.istio.io/templates: gateway`,
/// image `auto`), as Istio's helm-less gateway install does, carries the same pattern.
#[test]
fn an_injected_gateway_works_as_an_egress_gateway() {
    let sb = egress();
    let gateway = "\
apiVersion: v1
kind: Namespace
metadata: {name: egress}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: my-egressgateway, namespace: egress}
spec:
  selector:
    matchLabels: {istio: my-egressgateway}
  template:
    metadata:
      annotations:
        sidecar.istio.io/inject: \"true\"
        inject.istio.io/templates: gateway
      labels: {istio: my-egressgateway}
    spec:
      containers:
      - {name: istio-proxy, image: auto}
---
apiVersion: v1
kind: Service
metadata: {name: my-egressgateway, namespace: egress}
spec:
  selector: {istio: my-egressgateway}
  ports:
  - {name: http2, port: 80, targetPort: 8080}
";
    sb.apply_text(gateway, None).unwrap();
    let pattern =
        std::fs::read_to_string(repo_root().join(EGRESS).join("egress-gateway-httpbin.yaml"))
            .unwrap()
            .replace("istio: egressgateway", "istio: my-egressgateway")
            .replace(
                "istio-egressgateway.istio-system.svc.cluster.local",
                "my-egressgateway.egress.svc.cluster.local",
            );
    sb.apply(&[&format!("{EGRESS}/httpbin-se.yaml")], Some(NS))
        .unwrap();
    sb.apply_text(&pattern, Some(NS)).unwrap();
    sb.synced();
    let gw = sb.admin("deploy/my-egressgateway", Some("egress"));
    let r = curl(&sb, "httpbin.org", "/headers");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        stat(gw, "cluster.outbound|80||httpbin.org.upstream_rq_200"),
        1
    );
    let scenario_gw = sb.admin("deploy/istio-egressgateway", Some("istio-system"));
    assert_eq!(
        stat(
            scenario_gw,
            "cluster.outbound|80||httpbin.org.upstream_rq_200"
        ),
        0,
        "the other egress gateway was not on the path"
    );
}
