//! Chapter 4 labs 4.1–4.5 and 4.7 through the real command line: `mesh up` as a process, the
//! book's files applied unchanged, istioctl's views compared with the seed's captured output.

use std::time::Duration;

use serde_json::Value;

use crate::util::*;

const GW: &str = "scenarios/istio-in-action/ch4/coolstore-gw.yaml";
const VS: &str = "scenarios/istio-in-action/ch4/coolstore-vs.yaml";
const CATALOG: &str = "scenarios/istio-in-action/services/catalog/kubernetes/catalog.yaml";
const WEBAPP: &str = "scenarios/istio-in-action/services/webapp/kubernetes/webapp.yaml";
const GATEWAY: &str = "deploy/istio-ingressgateway.istio-system";

/// Table rows as whitespace-separated cells (the seed's capture lost trailing blanks, and
/// istioctl 1.26 widened some headers).
fn rows(table: &str) -> Vec<Vec<String>> {
    table
        .lines()
        .map(|l| l.split_whitespace().map(str::to_owned).collect())
        .filter(|r: &Vec<String>| !r.is_empty())
        .collect()
}

fn has_row(table: &str, cells: &[&str]) -> bool {
    rows(table).iter().any(|r| r == cells)
}

/// The seed's `-o json` capture, without the author's `#` notes.
fn seed_json(text: &str) -> Value {
    let cleaned: String = text
        .lines()
        .map(|l| match l.find(" #") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    serde_json::from_str(&cleaned).unwrap()
}

/// istiod 1.24+ writes `v1` where 1.17 wrote `v1alpha3`, and sets
/// `maxDirectResponseBodySizeBytes`; otherwise the shapes are the seed's.
fn as_1_17(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                m.remove("maxDirectResponseBodySizeBytes");
                for (_, x) in m.iter_mut() {
                    walk(x);
                }
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            Value::String(s) if s.starts_with("/apis/networking.istio.io/v1/") => {
                *s = s.replace("/v1/", "/v1alpha3/");
            }
            _ => {}
        }
    }
    walk(&mut v);
    v
}

const SEED_ROUTE_WITH_GATEWAY: &str = r#"[
    {
        "name": "http.8080",
        "virtualHosts": [
            {
                "name": "blackhole:80",
                "domains": [
                    "*"
                ]
            }
        ],
        "validateClusters": false,
        "ignorePortInHostMatching": true
    }
]"#;

const SEED_ROUTE_WITH_VS: &str = r#"[
    {
        "name": "http.8080",
        "virtualHosts": [
            {
                "name": "webapp.istioinaction.io:80",
                "domains": [
                    "webapp.istioinaction.io" #1 비교할 도메인
                ],
                "routes": [
                    {
                        "match": {
                            "prefix": "/"
                        },
                        "route": { #2 라우팅 할 곳
                            "cluster": "outbound|80||webapp.istioinaction.svc.cluster.local",
                            "timeout": "0s",
                            "retryPolicy": {
                                "retryOn": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
                                "numRetries": 2,
                                "retryHostPredicate": [
                                    {
                                        "name": "envoy.retry_host_predicates.previous_hosts",
                                        "typedConfig": {
                                            "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"
                                        }
                                    }
                                ],
                                "hostSelectionRetryMaxAttempts": "5",
                                "retriableStatusCodes": [
                                    503
                                ]
                            },
                            "maxGrpcTimeout": "0s"
                        },
                        "metadata": {
                            "filterMetadata": {
                                "istio": {
                                    "config": "/apis/networking.istio.io/v1alpha3/namespaces/istioinaction/virtual-service/webapp-vs-from-gw"
                                }
                            }
                        },
                        "decorator": {
                            "operation": "webapp.istioinaction.svc.cluster.local:80/*"
                        }
                    }
                ],
                "includeRequestAttemptCount": true
            }
        ],
        "validateClusters": false,
        "ignorePortInHostMatching": true
    }
]"#;

/// The endpoint rows of one cluster on one proxy.
fn endpoints(sb: &SandboxProcess, proxy: &str, cluster: &str) -> Vec<String> {
    let out = sb.ok(&["proxy-config", "endpoint", proxy, "--cluster", cluster]);
    rows(&out)
        .into_iter()
        .skip(1)
        .map(|r| r[0].clone())
        .collect()
}

#[test]
fn labs_4_1_to_4_7_with_the_books_files() {
    let sb = SandboxProcess::start(&[]);

    // 4.1 — the gateway before any Gateway: 15021 and 15090 only, RDS NOT SENT.
    let ps = sb.synced();
    let ps_rows = rows(&ps);
    assert_eq!(
        ps_rows[0],
        [
            "NAME", "CLUSTER", "CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION"
        ]
    );
    assert_eq!(ps_rows.len(), 2, "{ps}");
    assert!(
        ps_rows[1][0].starts_with("istio-ingressgateway-")
            && ps_rows[1][0].ends_with(".istio-system"),
        "{ps}"
    );
    assert_eq!(
        ps_rows[1][1..6],
        ["Kubernetes", "SYNCED", "SYNCED", "SYNCED", "NOT"],
        "{ps}"
    );
    assert!(ps_rows[1][9].starts_with("istiod-"), "{ps}");
    let listeners = sb.ok(&["proxy-config", "listener", GATEWAY]);
    assert_eq!(
        rows(&listeners)[1..],
        [
            vec![
                "0.0.0.0",
                "15021",
                "ALL",
                "Inline",
                "Route:",
                "/healthz/ready*"
            ],
            vec![
                "0.0.0.0",
                "15090",
                "ALL",
                "Inline",
                "Route:",
                "/stats/prometheus*"
            ],
        ],
        "{listeners}"
    );
    let routes = sb.ok(&["proxy-config", "routes", GATEWAY]);
    assert!(
        has_row(&routes, &["backend", "*", "/stats/prometheus*"])
            && has_row(&routes, &["backend", "*", "/healthz/ready*"]),
        "{routes}"
    );
    assert!(!routes.contains("http.8080"), "{routes}");
    let clusters = sb.ok(&["proxy-config", "cluster", GATEWAY]);
    for c in ["BlackHoleCluster", "agent", "prometheus_stats"] {
        assert!(
            clusters.lines().any(|l| l.starts_with(c)),
            "{c} missing:\n{clusters}"
        );
    }
    assert!(
        has_row(
            &clusters,
            &[
                "istiod.istio-system.svc.cluster.local",
                "15010",
                "-",
                "outbound",
                "EDS"
            ]
        ),
        "{clusters}"
    );
    let log = sb.ok(&["proxy-config", "log", GATEWAY]);
    assert!(
        log.contains(".istio-system:\nactive loggers:\n") && log.contains("  http: warning"),
        "{log}"
    );
    let bootstrap: Value =
        serde_json::from_str(&sb.ok(&["proxy-config", "bootstrap", GATEWAY])).unwrap();
    assert_eq!(
        bootstrap["bootstrap"]["node"]["metadata"]["CLUSTER_ID"], "Kubernetes",
        "{bootstrap}"
    );
    // A short unique part of the name works; an unknown one says what exists.
    assert_eq!(sb.ok(&["proxy-config", "listener", "gateway"]), listeners);
    let (code, _, err) = sb.run(&["proxy-config", "listener", "nosuchproxy"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("no proxy matches") && err.contains("proxy-status"),
        "{err}"
    );

    // 4.2 — the Gateway: listener 8080 with RDS http.8080, the blackhole virtual host.
    let out = sb.ok(&["apply", "-f", GW, "-n", "istioinaction"]);
    assert_eq!(
        out,
        "gateway.networking.istio.io/coolstore-gateway created\n"
    );
    let ps = sb.synced();
    assert_eq!(
        rows(&ps)[1][1..7],
        ["Kubernetes", "SYNCED", "SYNCED", "SYNCED", "SYNCED", "NOT"],
        "{ps}"
    );
    let listeners = sb.ok(&["proxy-config", "listener", GATEWAY]);
    assert!(
        has_row(
            &listeners,
            &["0.0.0.0", "8080", "ALL", "Route:", "http.8080"]
        ),
        "{listeners}"
    );
    let routes = sb.ok(&["proxy-config", "routes", GATEWAY]);
    assert!(
        has_row(&routes, &["http.8080", "blackhole:80", "*", "/*", "404"]),
        "{routes}"
    );
    let json: Value = serde_json::from_str(&sb.ok(&[
        "proxy-config",
        "routes",
        GATEWAY,
        "-o",
        "json",
        "--name",
        "http.8080",
    ]))
    .unwrap();
    assert_eq!(as_1_17(json), seed_json(SEED_ROUTE_WITH_GATEWAY));
    assert_eq!(
        sb.run(&["apply", "-f", GW, "-n", "istioinaction"]).1,
        "gateway.networking.istio.io/coolstore-gateway unchanged\n"
    );

    // 4.3 — the VirtualService: webapp's virtual host, Istio's default retry policy.
    assert_eq!(
        sb.ok(&["apply", "-f", VS, "-n", "istioinaction"]),
        "virtualservice.networking.istio.io/webapp-vs-from-gw created\n"
    );
    sb.synced();
    let json: Value = serde_json::from_str(&sb.ok(&[
        "proxy-config",
        "routes",
        GATEWAY,
        "-o",
        "json",
        "--name",
        "http.8080",
    ]))
    .unwrap();
    assert_eq!(as_1_17(json), seed_json(SEED_ROUTE_WITH_VS));
    let routes = sb.ok(&["proxy-config", "routes", GATEWAY]);
    assert!(
        has_row(
            &routes,
            &[
                "http.8080",
                "webapp.istioinaction.io:80",
                "webapp.istioinaction.io",
                "/*",
                "webapp-vs-from-gw.istioinaction"
            ]
        ),
        "{routes}"
    );
    // No app yet: the route exists, its cluster has no endpoints.
    let gw = sb.node_port(30000);
    let r = request(
        gw,
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 503, "{}", r.text());

    // 4.4 — the apps: pods with sidecars, endpoints on every proxy, calls inside the mesh.
    let out = sb.ok(&["apply", "-f", CATALOG, "-f", WEBAPP, "-n", "istioinaction"]);
    assert!(
        out.contains("deployment.apps/catalog created") && out.contains("service/webapp created"),
        "{out}"
    );
    let ps = sb.synced();
    assert_eq!(rows(&ps).len(), 4, "{ps}");
    assert!(
        ps.contains("\ncatalog-") && ps.contains("\nwebapp-"),
        "{ps}"
    );
    let clusters = sb.ok(&["proxy-config", "cluster", GATEWAY]);
    assert!(
        has_row(
            &clusters,
            &[
                "catalog.istioinaction.svc.cluster.local",
                "80",
                "-",
                "outbound",
                "EDS"
            ]
        ),
        "{clusters}"
    );
    assert!(
        has_row(
            &clusters,
            &[
                "webapp.istioinaction.svc.cluster.local",
                "80",
                "-",
                "outbound",
                "EDS"
            ]
        ),
        "{clusters}"
    );
    let eps = sb.ok(&["proxy-config", "endpoint", GATEWAY]);
    let istioinaction: Vec<Vec<String>> = rows(&eps)
        .into_iter()
        .filter(|r| r.last().is_some_and(|c| c.contains("istioinaction")))
        .collect();
    assert_eq!(istioinaction.len(), 2, "{eps}");
    for r in &istioinaction {
        let second: u8 = r[0]
            .split('.')
            .nth(1)
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        assert!(
            r[0].starts_with("127.") && (10..20).contains(&second),
            "a pod address: {eps}"
        );
        assert_eq!(r[1..4], ["HEALTHY", "OK", r[3].as_str()]);
    }
    assert!(istioinaction.iter().any(|r| r[0].ends_with(":3000")
        && r[3] == "outbound|80||catalog.istioinaction.svc.cluster.local"));
    assert!(istioinaction.iter().any(|r| r[0].ends_with(":8080")
        && r[3] == "outbound|80||webapp.istioinaction.svc.cluster.local"));
    // Every sidecar knows both services too.
    for proxy in ["deploy/webapp", "deploy/catalog"] {
        let c = sb.ok(&["proxy-config", "cluster", proxy, "-n", "istioinaction"]);
        assert!(
            c.contains("catalog.istioinaction.svc.cluster.local")
                && c.contains("webapp.istioinaction.svc.cluster.local"),
            "{proxy}: {c}"
        );
    }
    // `mesh exec` through the webapp pod's sidecar, with a Rust client on its forward proxy …
    let exec = sb.ok(&[
        "exec",
        "deploy/webapp",
        "-n",
        "istioinaction",
        "--",
        "sh",
        "-c",
        "echo $http_proxy",
    ]);
    let fwd: std::net::SocketAddr = exec.trim().trim_start_matches("http://").parse().unwrap();
    let r = raw_request(fwd, b"GET http://catalog.istioinaction/items/1 HTTP/1.1\r\nHost: catalog.istioinaction\r\nConnection: close\r\n\r\n").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], "Elinor Glasses");
    assert_eq!(
        r.header("server"),
        Some("istio-envoy"),
        "answered through the sidecars"
    );
    // … and with curl, as the book does.
    if tool("curl").is_some() {
        let out = sb.ok(&[
            "exec",
            "deploy/webapp",
            "-n",
            "istioinaction",
            "--",
            "curl",
            "-s",
            "http://catalog.istioinaction/items/1",
        ]);
        assert_eq!(
            serde_json::from_str::<Value>(&out).unwrap()["id"],
            1,
            "{out}"
        );
        let out = sb.ok(&[
            "exec",
            "deploy/webapp",
            "-n",
            "istioinaction",
            "--",
            "curl",
            "-s",
            "http://localhost:8080/api/catalog/items/1",
        ]);
        assert!(
            out.contains("Elinor Glasses") || out.contains("\"id\""),
            "{out}"
        );
    }

    // 4.6 — the sidecar's certificates, istioctl's way.
    let secrets = sb.ok(&[
        "proxy-config",
        "secret",
        "deploy/webapp",
        "-n",
        "istioinaction",
    ]);
    assert!(
        has_row(
            &secrets[..secrets.find('\n').unwrap_or(0)],
            &[
                "RESOURCE", "NAME", "TYPE", "STATUS", "VALID", "CERT", "SERIAL", "NUMBER", "NOT",
                "AFTER", "NOT", "BEFORE"
            ]
        ),
        "{secrets}"
    );
    assert!(
        secrets
            .lines()
            .any(|l| l.starts_with("default ") && l.contains("Cert Chain     ACTIVE     true")),
        "{secrets}"
    );
    assert!(
        secrets
            .lines()
            .any(|l| l.starts_with("ROOTCA ") && l.contains("CA             ACTIVE     true")),
        "{secrets}"
    );
    let dump: Value = serde_json::from_str(&sb.ok(&[
        "proxy-config",
        "secret",
        "deploy/webapp",
        "-n",
        "istioinaction",
        "-o",
        "json",
    ]))
    .unwrap();
    let names: Vec<&str> = dump["dynamicActiveSecrets"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert_eq!(names, ["default", "ROOTCA"], "{dump}");

    // 4.7 — from outside: no Host → 404 from the gateway; the right Host → catalog JSON.
    let r = get(gw, "/api/catalog");
    assert_eq!(r.status, 404);
    let r = request(
        gw,
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let items = r.json();
    assert_eq!(items.as_array().map(Vec::len), Some(4), "{items}");
    assert_eq!(items[0]["name"], "Elinor Glasses");
    let r = request(
        gw,
        "GET",
        "/api/catalog/items/1",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.json()["id"], 1, "{}", r.text());

    // 4.5 — scaling changes only endpoints, and every proxy follows.
    let catalog_cluster = "outbound|80||catalog.istioinaction.svc.cluster.local";
    let webapp_cluster = "outbound|80||webapp.istioinaction.svc.cluster.local";
    let listeners_before = sb.ok(&["proxy-config", "listener", GATEWAY]);
    assert_eq!(
        sb.ok(&[
            "scale",
            "deploy/webapp",
            "--replicas",
            "2",
            "-n",
            "istioinaction"
        ]),
        "deployment.apps/webapp scaled\n"
    );
    assert_eq!(
        sb.ok(&[
            "scale",
            "deploy",
            "catalog",
            "--replicas=2",
            "-n",
            "istioinaction"
        ]),
        "deployment.apps/catalog scaled\n"
    );
    sb.synced();
    for proxy in [GATEWAY, "deploy/webapp.istioinaction"] {
        assert!(
            eventually(Duration::from_secs(10), || endpoints(
                &sb,
                proxy,
                catalog_cluster
            )
            .len()
                == 2),
            "{proxy}"
        );
        assert!(
            eventually(Duration::from_secs(10), || endpoints(
                &sb,
                proxy,
                webapp_cluster
            )
            .len()
                == 2),
            "{proxy}"
        );
    }
    assert_eq!(
        sb.ok(&["proxy-config", "listener", GATEWAY]),
        listeners_before,
        "scaling must not touch listeners"
    );
    // Both catalog pods answer.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
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
    let pods = sb.ok(&["proxy-status"]);
    for line in pods.lines().filter(|l| l.starts_with("catalog-")) {
        seen.insert(line.split_whitespace().next().unwrap_or("").to_owned());
    }
    assert_eq!(seen.len(), 2, "{pods}");
    sb.ok(&[
        "scale",
        "deploy/webapp",
        "--replicas",
        "1",
        "-n",
        "istioinaction",
    ]);
    sb.ok(&[
        "scale",
        "deploy/catalog",
        "--replicas",
        "1",
        "-n",
        "istioinaction",
    ]);
    sb.synced();
    for proxy in [GATEWAY, "deploy/webapp.istioinaction"] {
        assert!(
            eventually(Duration::from_secs(10), || endpoints(
                &sb,
                proxy,
                catalog_cluster
            )
            .len()
                == 1),
            "{proxy}"
        );
        assert!(
            eventually(Duration::from_secs(10), || endpoints(
                &sb,
                proxy,
                webapp_cluster
            )
            .len()
                == 1),
            "{proxy}"
        );
    }
    let r = request(
        gw,
        "GET",
        "/api/catalog",
        &[("Host", "webapp.istioinaction.io")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);

    // `mesh down` stops it; commands then say how to start one.
    assert_eq!(sb.run(&["down"]).0, 0);
    let (code, _, err) = sb.run(&["proxy-status"]);
    assert_eq!(code, 1);
    assert!(err.contains("mesh up"), "{err}");
}

/// The README's commands as typed: `mesh up scenarios/ch4.yaml` on the fixed node ports.
#[test]
fn the_ch4_scenario_on_the_books_ports() {
    let _lock = fixed_ports_lock();
    let home = TempDir::new("home-fixed");
    let up = Mesh::spawn_env(
        ["up", "scenarios/ch4.yaml", "--fresh"],
        &[("MESH_HOME", home.path().to_str().unwrap())],
    );
    let ready = eventually(Duration::from_secs(30), || {
        up.stdout().contains("Ready in") || !up.stderr().is_empty()
    });
    assert!(
        ready && up.stdout().contains("Ready in"),
        "{}\n{}",
        up.stdout(),
        up.stderr()
    );
    assert!(
        up.stdout().contains("sandbox \"ch4\" is up"),
        "{}",
        up.stdout()
    );
    assert!(
        up.stdout()
            .contains("node port   30000  → http://127.0.0.1:30000"),
        "{}",
        up.stdout()
    );
    let gw = addr(30000);
    let ok = eventually(Duration::from_secs(20), || {
        request(
            gw,
            "GET",
            "/api/catalog",
            &[("Host", "webapp.istioinaction.io")],
            b"",
        )
        .is_ok_and(|r| r.status == 200)
    });
    assert!(ok);
    if let Some(curl) = tool("curl") {
        let out = std::process::Command::new(curl)
            .args([
                "-s",
                "-H",
                "Host: webapp.istioinaction.io",
                "localhost:30000/api/catalog",
            ])
            .output()
            .unwrap();
        let items: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(items[1]["name"], "Atlas Shirt");
    }
    let (code, out, err) = {
        let o = std::process::Command::new(mesh_bin())
            .args(["down", "--name", "ch4"])
            .env("MESH_HOME", home.path())
            .output()
            .unwrap();
        (
            o.status.code(),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    };
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        eventually(Duration::from_secs(10), || up.stdout().contains("stopped")),
        "{}",
        up.stdout()
    );
}
