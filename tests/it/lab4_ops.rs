//! Chapter 4's operating labs: a second gateway from an IstioOperator (4.14), gateway
//! injection (4.15), access logs (4.16), config reduction (4.17), and `mesh install` itself.

use std::time::Duration;

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::TcpStream;

use mesh::sandbox::install::operator::{InstallFile, resolve};

use crate::util::*;

const CH4: &str = "scenarios/istio-in-action/ch4";
const HOST: &str = "webapp.istioinaction.io";

fn ch4() -> TestSandbox {
    let text = std::fs::read_to_string(repo_root().join("scenarios/ch4.yaml")).unwrap();
    TestSandbox::start(Some(&text))
}

/// `curl -H "Host: webapp.istioinaction.io" localhost:30000/api/catalog`'s status.
fn catalog_status(sb: &TestSandbox) -> u16 {
    request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", HOST)],
        b"",
    )
    .unwrap()
    .status
}

/// `istioctl install -f CH4/FILE… --set …` against the sandbox.
fn install(
    sb: &TestSandbox,
    files: &[&str],
    set: &[&str],
) -> mesh::sandbox::install::InstallReport {
    let files: Vec<InstallFile> = files
        .iter()
        .map(|f| {
            let path = repo_root().join(CH4).join(f);
            InstallFile {
                source: path.display().to_string(),
                text: std::fs::read_to_string(&path).unwrap(),
            }
        })
        .collect();
    let set: Vec<String> = set.iter().map(|s| (*s).to_owned()).collect();
    let op = resolve(&files, &set).unwrap();
    sb.rt.block_on(sb.sandbox.install(&op)).unwrap()
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
    assert_eq!(catalog_status(&sb), 200);
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
    // … until meshConfig turns logging on everywhere (JSON here), as
    // `istioctl install --set meshConfig.accessLogFile=/dev/stdout` does.
    let report = install(
        &sb,
        &[],
        &[
            "meshConfig.accessLogFile=/dev/stdout",
            "meshConfig.accessLogEncoding=JSON",
        ],
    );
    assert_eq!(
        report.components,
        ["Istio core", "Istiod", "Ingress gateways"]
    );
    sb.synced();
    assert_eq!(catalog_status(&sb), 200);
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
    // The book's IstioOperator: profile minimal, PILOT_FILTER_GATEWAY_CLUSTER_CONFIG=true.
    let report = install(&sb, &["control-plane-reduce-gw-config.yaml"], &[]);
    assert_eq!(report.components, ["Istio core", "Istiod"]);
    assert!(report.removed.is_empty(), "{report:?}");
    sb.synced();
    // Tracing is on after an install (Istio's default); its `zipkin` collector cluster is
    // not a route's, and Istio keeps it in the bootstrap, so it is left out here.
    let reduced: Vec<String> = clusters(&sb)
        .into_iter()
        .filter(|c| c != "zipkin")
        .collect();
    assert_eq!(
        reduced,
        [
            "outbound|80||webapp.istioinaction.svc.cluster.local",
            "BlackHoleCluster"
        ],
        "only what the routes use"
    );
    assert_eq!(catalog_status(&sb), 200);
}

/// The seed's variant of the book's `my-user-gateway.yaml`: the TCP port on node port 30007.
const MY_USER_GATEWAY: &str = r#"apiVersion: install.istio.io/v1alpha1
kind: IstioOperator
metadata:
  name: my-user-gateway-install
  namespace: istioinaction
spec:
  profile: empty
  values:
    gateways:
      istio-ingressgateway:
        autoscaleEnabled: false
  components:
    ingressGateways:
    - name: istio-ingressgateway
      enabled: false
    - name: my-user-gateway
      namespace: istioinaction
      enabled: true
      label:
        istio: my-user-gateway
      k8s:
        service:
          ports:
            - name: tcp
              port: 31400
              targetPort: 31400
              nodePort: 30007
"#;

const ECHO_TCP_GATEWAY: &str = r#"apiVersion: networking.istio.io/v1alpha3
kind: Gateway
metadata:
  name: echo-tcp-gateway
spec:
  selector:
    istio: my-user-gateway
  servers:
  - port:
      number: 31400
      name: tcp-echo
      protocol: TCP
    hosts:
    - "*"
"#;

fn echo_round_trip(addr: std::net::SocketAddr) -> Result<(), String> {
    let stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream.try_clone().map_err(|e| e.to_string())?);
    let mut w = stream;
    w.write_all(b"hello Istio\n").map_err(|e| e.to_string())?;
    let mut line = String::new();
    for _ in 0..20 {
        line.clear();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 {
            break;
        }
        if line.contains("hello Istio") {
            return Ok(());
        }
    }
    Err(format!("no echo; last line {line:?}"))
}

#[test]
fn lab_4_14_a_second_gateway_installed_from_an_istio_operator() {
    let sb = TestSandbox::start(None);
    let op = resolve(
        &[InstallFile {
            source: "my-user-gateway-edited.yaml".into(),
            text: MY_USER_GATEWAY.into(),
        }],
        &[],
    )
    .unwrap();
    let report = sb.rt.block_on(sb.sandbox.install(&op)).unwrap();
    assert_eq!(report.components, ["Ingress gateways"]);
    assert!(
        report.removed.is_empty(),
        "the scenario's gateway stays: {report:?}"
    );
    assert!(
        report
            .warnings
            .iter()
            .any(|w| w.starts_with("values.gateways is kept")),
        "{report:?}"
    );
    // kubectl get IstioOperator -A; the deployment and its service with node port 30007.
    let ops = sb
        .rt
        .block_on(sb.sandbox.get("IstioOperator", None, None, true, None))
        .unwrap();
    assert_eq!(
        ops[0].items[0]["metadata"]["name"], "my-user-gateway-install",
        "{:?}",
        ops[0].items
    );
    let svc = sb
        .rt
        .block_on(sb.sandbox.get(
            "svc",
            Some("my-user-gateway"),
            Some("istioinaction"),
            false,
            None,
        ))
        .unwrap();
    assert_eq!(svc[0].items[0]["spec"]["ports"][0]["nodePort"], 30007);
    sb.synced();
    let proxy = sb
        .rt
        .block_on(
            sb.sandbox
                .resolve_proxy("my-user-gateway", Some("istioinaction")),
        )
        .unwrap();
    assert_eq!(proxy.kind, "router");
    // The TCP echo lab, moved to the new gateway.
    sb.apply_text(ECHO_TCP_GATEWAY, Some("istioinaction"))
        .unwrap();
    sb.apply(
        &[&format!("{CH4}/echo-vs.yaml"), &format!("{CH4}/echo.yaml")],
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let mut last = String::new();
    let ok = eventually(Duration::from_secs(10), || {
        match echo_round_trip(sb.node_port(30007)) {
            Ok(()) => true,
            Err(e) => {
                last = e;
                false
            }
        }
    });
    assert!(ok, "echo through node port 30007: {last}");
    // The default gateway no longer serves 31400 (the Gateway selects the new one).
    let listeners = get(
        sb.admin("istio-ingressgateway", Some("istio-system")),
        "/listeners",
    )
    .text();
    assert!(!listeners.contains("0.0.0.0_31400"), "{listeners}");
    // Installing the same operator again changes nothing; disabling the gateway prunes it.
    let again = sb.rt.block_on(sb.sandbox.install(&op)).unwrap();
    assert!(
        again.applied.iter().all(|a| a.ends_with("unchanged")),
        "{again:?}"
    );
    let off = resolve(
        &[InstallFile {
            source: "off.yaml".into(),
            text: MY_USER_GATEWAY.replace(
                "namespace: istioinaction\n      enabled: true",
                "namespace: istioinaction\n      enabled: false",
            ),
        }],
        &[],
    )
    .unwrap();
    let pruned = sb.rt.block_on(sb.sandbox.install(&off)).unwrap();
    assert_eq!(
        pruned.removed,
        [
            "Deployment:istioinaction:my-user-gateway",
            "Service:istioinaction:my-user-gateway",
            "ServiceAccount:istioinaction:my-user-gateway-service-account",
        ]
    );
    let default_gw = sb.rt.block_on(sb.sandbox.get(
        "deploy",
        Some("istio-ingressgateway"),
        Some("istio-system"),
        false,
        None,
    ));
    assert!(
        default_gw.is_ok(),
        "another operator's gateway is not pruned"
    );
}

#[test]
fn a_bad_install_names_the_closest_path_and_changes_nothing() {
    let (code, _, err) = mesh_output([
        "install",
        "-y",
        "--set",
        "meshConfig.acessLogFile=/dev/stdout",
    ]);
    assert_eq!(code, 1);
    assert!(
        err.contains("--set meshConfig.acessLogFile=/dev/stdout: unknown field \"acessLogFile\" in meshConfig (did you mean meshConfig.accessLogFile?)"),
        "{err}"
    );
    let dir = TempDir::new("op");
    let bad = dir.write(
        "bad.yaml",
        "apiVersion: install.istio.io/v1alpha1\nkind: IstioOperator\nspec:\n  meshConfig:\n    outboundTrafficPolicy:\n      mode: REGISTRY\n",
    );
    let (code, _, err) = mesh_output(["manifest", "generate", "-f", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.yaml:6:13: IstioOperator: spec.meshConfig.outboundTrafficPolicy.mode: unsupported value \"REGISTRY\" (use one of: ALLOW_ANY, REGISTRY_ONLY)"),
        "{err}"
    );
    // manifest generate prints what an install applies.
    let (code, out, err) = mesh_output([
        "manifest",
        "generate",
        "-f",
        repo_root()
            .join(CH4)
            .join("my-user-gateway.yaml")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("kind: Deployment") && out.contains("name: my-user-gateway"),
        "{out}"
    );
    assert!(
        out.contains("install.operator.istio.io/owning-resource: my-user-gateway-install"),
        "{out}"
    );
}

#[test]
fn mesh_install_from_the_command_line_is_kept_in_the_istio_config_map() {
    let sp = SandboxProcess::start(&[]);
    sp.synced();
    let (code, out, err) = sp.run(&[
        "install",
        "-y",
        "--set",
        "meshConfig.accessLogFile=/dev/stdout",
    ]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert_eq!(
        out,
        "✔ Istio core installed ⛵️\n✔ Istiod installed 🧠\n✔ Ingress gateways installed 🛬\n✔ Installation complete\n"
    );
    let cm = sp.ok(&["get", "cm", "istio", "-n", "istio-system", "-o", "yaml"]);
    assert!(cm.contains("accessLogFile: /dev/stdout"), "{cm}");
    let ops = sp.ok(&["get", "istiooperator", "-A"]);
    let header: Vec<&str> = ops
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAMESPACE", "NAME", "REVISION", "STATUS", "AGE"],
        "{ops}"
    );
    assert!(ops.contains("istio-system   installed-state"), "{ops}");
    // Without -y, istioctl asks; anything but yes cancels and changes nothing.
    let (code, out, _) = sp.run_stdin(
        &["install", "--set", "meshConfig.accessLogEncoding=JSON"],
        "n\n",
    );
    assert_eq!(code, 1);
    assert!(
        out.contains("Proceed? (y/N)") && out.contains("Cancelled."),
        "{out}"
    );
    let cm = sp.ok(&["get", "cm", "istio", "-n", "istio-system", "-o", "yaml"]);
    assert!(!cm.contains("JSON"), "{cm}");
    // The gateway logs requests now.
    // (The gateway's pod is replaced: the default profile's ports differ from the scenario's.)
    sp.ok(&[
        "apply",
        "-f",
        "scenarios/istio-in-action/ch4/coolstore-gw.yaml",
        "-n",
        "istioinaction",
    ]);
    sp.synced();
    let answered = eventually(Duration::from_secs(10), || {
        request(
            sp.node_port(30000),
            "GET",
            "/status/418",
            &[("Host", "nothing.example.com")],
            b"",
        )
        .is_ok_and(|r| r.status == 404)
    });
    assert!(answered);
    let found = eventually(Duration::from_secs(5), || {
        sp.ok(&["logs", "deploy/istio-ingressgateway", "-n", "istio-system"])
            .contains("\"GET /status/418 HTTP/1.1\" 404 NR route_not_found")
    });
    assert!(
        found,
        "{}",
        sp.ok(&["logs", "deploy/istio-ingressgateway", "-n", "istio-system"])
    );
}

#[test]
fn a_scenario_installs_its_istio_operators_at_start() {
    let default = std::fs::read_to_string(repo_root().join("scenarios/default.yaml")).unwrap();
    let sb = TestSandbox::start(Some(&format!(
        "{default}---\n{MY_USER_GATEWAY}---\n{}",
        std::fs::read_to_string(
            repo_root()
                .join(CH4)
                .join("control-plane-reduce-gw-config.yaml")
        )
        .unwrap()
    )));
    let svc = sb.rt.block_on(sb.sandbox.get(
        "svc",
        Some("my-user-gateway"),
        Some("istioinaction"),
        false,
        None,
    ));
    assert!(svc.is_ok(), "{svc:?}");
    assert!(sb.sandbox.pilot.settings().filter_gateway_clusters);
    let ops = sb
        .rt
        .block_on(sb.sandbox.get("IstioOperator", None, None, true, None))
        .unwrap();
    assert_eq!(ops[0].items.len(), 2, "{:?}", ops[0].items);
}

#[test]
fn access_log_lines_are_never_lost_or_interleaved_under_concurrency() {
    let sb = ch4();
    sb.apply(
        &[&format!("{CH4}/enable-ingress-gw-access-logs.yaml")],
        None,
    )
    .unwrap();
    sb.synced();
    let gw = sb.node_port(30000);
    const THREADS: usize = 8;
    const EACH: usize = 25;
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            std::thread::spawn(move || {
                for i in 0..EACH {
                    let id = format!("req-{t}-{i}");
                    let r = request(
                        gw,
                        "GET",
                        "/api/catalog",
                        &[("Host", HOST), ("X-Request-Id", id.as_str())],
                        b"",
                    )
                    .unwrap();
                    assert_eq!(r.status, 200);
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let line_re = regex::Regex::new(
        r#"^\[\S+\] "GET /api/catalog HTTP/1\.1" 200 - via_upstream - "-" 0 \d+ \d+ \d+ "[^"]*" "[^"]*" "(req-\d+-\d+)" "webapp\.istioinaction\.io" "[^"]+" \S+ \S+ \S+ \S+ - -$"#,
    )
    .unwrap();
    let mut seen = std::collections::BTreeMap::new();
    let complete = eventually(Duration::from_secs(10), || {
        seen.clear();
        for l in logs(
            &sb,
            "deploy/istio-ingressgateway",
            "istio-system",
            "istio-proxy",
        ) {
            if l.contains("req-") {
                let caps = line_re
                    .captures(&l)
                    .unwrap_or_else(|| panic!("a torn or interleaved line: {l:?}"));
                *seen.entry(caps[1].to_owned()).or_insert(0) += 1;
            }
        }
        seen.len() == THREADS * EACH
    });
    assert!(complete, "{} of {} lines", seen.len(), THREADS * EACH);
    assert!(seen.values().all(|n| *n == 1), "each request logged once");
}

#[test]
fn tracing_follows_the_installed_mesh_config() {
    let sb = ch4();
    let collector = Upstream::start("zipkin");
    let zipkin = format!(
        "meshConfig.defaultConfig.tracing.zipkin.address={}",
        collector.addr
    );
    // The demo profile samples 100% (values.pilot.traceSampling → PILOT_TRACE_SAMPLING).
    install(&sb, &[], &["profile=demo", &zipkin]);
    let s = sb.sandbox.pilot.settings();
    assert!(s.enable_tracing);
    assert_eq!(s.tracing_sampling, 100.0);
    sb.synced();
    let ok = eventually(Duration::from_secs(10), || {
        request(
            sb.node_port(30000),
            "GET",
            "/api/catalog",
            &[("Host", HOST)],
            b"",
        )
        .is_ok_and(|r| r.status == 200)
    });
    assert!(ok);
    // Spans arrive in batches (5 spans, or every 5 s).
    let posted = eventually(Duration::from_secs(12), || {
        collector
            .seen()
            .iter()
            .any(|r| r.method == "POST" && r.path == "/api/v2/spans")
    });
    assert!(posted, "{:?}", collector.seen().len());
}
