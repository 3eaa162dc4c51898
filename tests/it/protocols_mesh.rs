//! Protocols through the sandbox's Istio resources: a `grpc` Service port gets HTTP/2
//! clusters (what `proxy-config cluster -o json` shows), gRPC flows through the gateway and
//! sidecars over mTLS, and a VirtualService `tcp` route shifts connections by weight.

use std::time::Duration;

use serde_json::Value;

use crate::h2util;
use crate::util::*;

const GATEWAY: &str = "deploy/istio-ingressgateway.istio-system";

const GRPCBIN: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: grpcbin, namespace: istioinaction}
spec:
  selector: {app: grpcbin}
  ports:
  - {name: grpc-api, port: 9000, targetPort: 9000}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: grpcbin, namespace: istioinaction}
spec:
  replicas: 1
  selector: {matchLabels: {app: grpcbin}}
  template:
    metadata: {labels: {app: grpcbin}}
    spec:
      containers:
      - name: grpcbin
        image: moul/grpcbin
        ports: [{containerPort: 9000}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: grpc-gateway, namespace: istioinaction}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["grpc.istioinaction.io"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: grpcbin, namespace: istioinaction}
spec:
  hosts: ["grpc.istioinaction.io"]
  gateways: [grpc-gateway]
  http:
  - route:
    - destination: {host: grpcbin, port: {number: 9000}}
"#;

fn stat(admin: std::net::SocketAddr, name: &str) -> u64 {
    stat_value(admin, name).unwrap_or(0)
}

#[test]
fn grpc_through_the_gateway_and_sidecar_over_mtls_on_http2_clusters() {
    let sb = SandboxProcess::start(&[]);
    let (code, out, err) = sb.run_stdin(&["apply", "-f", "-"], GRPCBIN);
    assert_eq!(code, 0, "{out}{err}");
    sb.synced();

    // istiod's cluster for a `grpc-…` port speaks HTTP/2.
    let json = sb.ok(&[
        "proxy-config",
        "cluster",
        GATEWAY,
        "--fqdn",
        "grpcbin.istioinaction.svc.cluster.local",
        "-o",
        "json",
    ]);
    let clusters: Value = serde_json::from_str(&json).unwrap();
    let c = &clusters[0];
    assert_eq!(
        c["name"],
        "outbound|9000||grpcbin.istioinaction.svc.cluster.local"
    );
    let options = &c["typedExtensionProtocolOptions"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    assert_eq!(
        options["@type"],
        "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
    );
    assert_eq!(
        options["explicitHttpConfig"]["http2ProtocolOptions"],
        serde_json::json!({}),
        "{json}"
    );
    // The grpcbin sidecar's inbound cluster too (the app only speaks h2c).
    let inbound = sb.ok(&[
        "proxy-config",
        "cluster",
        "deploy/grpcbin.istioinaction",
        "--direction",
        "inbound",
        "-o",
        "json",
    ]);
    assert!(inbound.contains("explicitHttpConfig"), "{inbound}");

    // A gRPC call through the node port: h2c to the gateway, HTTP/2 over Istio mTLS to the
    // sidecar, h2c to the app.
    let gw = sb.node_port(30000);
    let hello = mesh::apps::grpc::proto::Writer::new()
        .string(1, "istio")
        .finish();
    let mut r = None;
    let answered = eventually(Duration::from_secs(10), || {
        r = h2util::grpc(
            gw,
            "/hello.HelloService/SayHello",
            &hello,
            &[("host", "grpc.istioinaction.io")],
        )
        .ok();
        r.as_ref()
            .is_some_and(|r| r.trailer("grpc-status") == Some("0"))
    });
    let r = r.unwrap();
    assert!(answered, "{r:?}");
    let msgs = h2util::grpc_messages(&r);
    assert_eq!(
        h2util::proto_string(&msgs[0], 1).as_deref(),
        Some("hello istio")
    );
    // A chosen failure comes back as the app said it.
    let err = mesh::apps::grpc::proto::Writer::new()
        .varint(1, 5)
        .string(2, "nothing here")
        .finish();
    let r = h2util::grpc(
        gw,
        "/grpcbin.GRPCBin/SpecificError",
        &err,
        &[("host", "grpc.istioinaction.io")],
    )
    .unwrap();
    assert_eq!(r.grpc_status(), Some("5"));
    assert_eq!(r.header("grpc-message"), Some("nothing here"));

    // The hops: HTTP/2 upstream from the gateway over TLS, HTTP/2 to the app.
    let gw_admin = admin_of(&sb, GATEWAY);
    let cluster = "cluster.outbound|9000||grpcbin.istioinaction.svc.cluster.local";
    assert!(stat(gw_admin, &format!("{cluster}.upstream_cx_http2_total")) >= 1);
    assert!(stat(gw_admin, &format!("{cluster}.ssl.handshake")) >= 1);
    let side = admin_of(&sb, "deploy/grpcbin.istioinaction");
    assert!(stat(side, "cluster.inbound|9000||.upstream_cx_http2_total") >= 1);
    // The sidecar's istio_requests_total says gRPC over mutual TLS.
    let prom = get(side, "/stats/prometheus").text();
    assert!(
        prom.lines().any(|l| l.starts_with("istio_requests_total{")
            && l.contains("reporter=\"destination\"")
            && l.contains("request_protocol=\"grpc\"")
            && l.contains("connection_security_policy=\"mutual_tls\"")
            && l.contains("grpc_response_status=\"5\"")),
        "{prom}"
    );
    // A streamed answer's status comes from its trailers.
    assert!(
        prom.lines().any(|l| l.starts_with("istio_requests_total{")
            && l.contains("reporter=\"destination\"")
            && l.contains("grpc_response_status=\"0\"")),
        "{prom}"
    );
}

/// The admin address of a proxy, from `proxy-config` (the sandbox prints it in `bootstrap`).
fn admin_of(sb: &SandboxProcess, target: &str) -> std::net::SocketAddr {
    let out = sb.ok(&["proxy-config", "bootstrap", target, "-o", "json"]);
    let v: Value = serde_json::from_str(&out).unwrap();
    let sa = &v["bootstrap"]["admin"]["address"]["socketAddress"];
    format!(
        "{}:{}",
        sa["address"].as_str().unwrap(),
        sa["portValue"].as_u64().unwrap()
    )
    .parse()
    .unwrap()
}

fn echo_deployment(version: &str) -> String {
    format!(
        r#"
apiVersion: apps/v1
kind: Deployment
metadata: {{name: tcp-echo-{version}, namespace: istioinaction}}
spec:
  replicas: 1
  selector: {{matchLabels: {{app: tcp-echo, version: {version}}}}}
  template:
    metadata: {{labels: {{app: tcp-echo, version: {version}}}}}
    spec:
      containers:
      - name: tcp-echo
        image: cjimti/go-echo:latest
        env:
        - {{name: TCP_PORT, value: "2701"}}
        - name: POD_NAME
          valueFrom: {{fieldRef: {{fieldPath: metadata.name}}}}
        ports: [{{containerPort: 2701}}]
---"#
    )
}

const TCP_SHIFT: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: tcp-echo, namespace: istioinaction}
spec:
  selector: {app: tcp-echo}
  ports:
  - {name: tcp, port: 9000, targetPort: 2701}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo, namespace: istioinaction}
spec:
  host: tcp-echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tcp-echo-gateway, namespace: istioinaction}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: tcp-echo, namespace: istioinaction}
spec:
  hosts: ["*"]
  gateways: [tcp-echo-gateway]
  tcp:
  - match:
    - port: 31400
    route:
    - destination: {host: tcp-echo, port: {number: 9000}, subset: v1}
      weight: 80
    - destination: {host: tcp-echo, port: {number: 9000}, subset: v2}
      weight: 20
"#;

/// Istio's "TCP traffic shifting" task: 80/20 between two versions through the gateway.
#[test]
fn virtual_service_tcp_weights_shift_connections() {
    use std::io::{BufRead, BufReader};
    let sb = SandboxProcess::start(&[]);
    let yaml = format!(
        "{}{}{TCP_SHIFT}",
        echo_deployment("v1"),
        echo_deployment("v2")
    );
    let (code, out, err) = sb.run_stdin(&["apply", "-f", "-"], &yaml);
    assert_eq!(code, 0, "{out}{err}");
    sb.synced();

    // The gateway's tcp_proxy, as istiod writes a weighted TCP route.
    let json = sb.ok(&[
        "proxy-config",
        "listener",
        GATEWAY,
        "--port",
        "31400",
        "-o",
        "json",
    ]);
    let listeners: Value = serde_json::from_str(&json).unwrap();
    let tcp = listeners[0]["filterChains"][0]["filters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "envoy.filters.network.tcp_proxy")
        .map(|f| f["typedConfig"].clone())
        .unwrap();
    assert_eq!(
        tcp["weightedClusters"]["clusters"],
        serde_json::json!([
            {"name": "outbound|9000|v1|tcp-echo.istioinaction.svc.cluster.local", "weight": 80},
            {"name": "outbound|9000|v2|tcp-echo.istioinaction.svc.cluster.local", "weight": 20}
        ]),
        "{json}"
    );

    let gw = sb.node_port(30006);
    let pod_of = || -> Option<String> {
        let s = std::net::TcpStream::connect(gw).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        let mut r = BufReader::new(s);
        let mut line = String::new();
        while r.read_line(&mut line).ok()? > 0 {
            if let Some(rest) = line.trim().strip_prefix("Running on Pod ") {
                return Some(rest.trim_end_matches('.').to_owned());
            }
            line.clear();
        }
        None
    };
    assert!(eventually(Duration::from_secs(10), || pod_of().is_some()));
    let n = 100;
    let mut v1 = 0;
    for _ in 0..n {
        let pod = pod_of().expect("a banner");
        if pod.starts_with("tcp-echo-v1-") {
            v1 += 1;
        } else {
            assert!(pod.starts_with("tcp-echo-v2-"), "{pod}");
        }
    }
    // 80 of 100 expected; four standard deviations (4) either side.
    assert!((64..=96).contains(&v1), "{v1} of {n} to v1");

    // connectionPool.tcp.idleTimeout: the gateway's tcp_proxy closes a quiet connection.
    let dr = r#"
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: tcp-echo, namespace: istioinaction}
spec:
  host: tcp-echo
  trafficPolicy:
    connectionPool:
      tcp: {idleTimeout: 0.5s}
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
"#;
    let (code, out, err) = sb.run_stdin(&["apply", "-f", "-"], dr);
    assert_eq!(code, 0, "{out}{err}");
    sb.synced();
    let json = sb.ok(&[
        "proxy-config",
        "listener",
        GATEWAY,
        "--port",
        "31400",
        "-o",
        "json",
    ]);
    assert!(json.contains("\"idleTimeout\": \"0.500s\""), "{json}");
    let started = std::time::Instant::now();
    let s = std::net::TcpStream::connect(gw).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = String::new();
    let _ = std::io::Read::read_to_string(&mut &s, &mut all);
    assert!(all.contains("Running on Pod"), "{all}");
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_secs(5),
        "{took:?}"
    );
}
