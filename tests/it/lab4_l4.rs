//! Chapter 4's L4 labs: TCP through the gateway (4.12) and SNI passthrough (4.13).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;

use crate::util::*;

const ECHO: &str = "scenarios/istio-in-action/ch4/echo.yaml";
const GW_TCP: &str = "scenarios/istio-in-action/ch4/gateway-tcp.yaml";
const VS_TCP: &str = "scenarios/istio-in-action/ch4/echo-vs.yaml";

#[test]
fn lab_4_12_tcp_echo_through_the_gateway() {
    let sb = TestSandbox::start(None);
    sb.apply(&[ECHO, GW_TCP, VS_TCP], Some("istioinaction"))
        .unwrap();
    sb.synced();
    let gw = sb.admin("gateway", None);
    let listeners = get(gw, "/listeners").text();
    assert!(
        listeners
            .lines()
            .any(|l| l.starts_with("0.0.0.0_31400::") && l.ends_with(":31400")),
        "{listeners}"
    );
    let stream = TcpStream::connect(sb.node_port(30006)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut banner = String::new();
    reader.read_line(&mut banner).unwrap();
    assert!(banner.contains("Welcome"), "{banner:?}");
    let mut w = stream;
    // Skip the rest of the banner until the echo of our line comes back.
    w.write_all(b"hello istio\n").unwrap();
    let mut echoed = String::new();
    let ok = (0..20).any(|_| {
        echoed.clear();
        reader.read_line(&mut echoed).is_ok() && echoed.contains("hello istio")
    });
    assert!(ok, "no echo; last line {echoed:?}");
    // The gateway counted the connection on the echo service's cluster.
    let stats = get(gw, "/stats?filter=tcp-echo-service").text();
    assert!(stats.contains("cluster.outbound|2701||tcp-echo-service.istioinaction.svc.cluster.local.upstream_cx_total: 1"), "{stats}");
}

const SNI: &str = "scenarios/istio-in-action/ch4/sni";

#[test]
fn lab_4_13_sni_passthrough_the_gateway_never_terminates_tls() {
    let sb = TestSandbox::start(None);
    let files = [
        "simple-tls-service-1.yaml",
        "simple-tls-service-2.yaml",
        "passthrough-sni-gateway-both.yaml",
        "passthrough-sni-vs-1.yaml",
        "passthrough-sni-vs-2.yaml",
    ]
    .map(|f| format!("{SNI}/{f}"));
    let files: Vec<&str> = files.iter().map(String::as_str).collect();
    sb.apply(&files, Some("istioinaction")).unwrap();
    sb.synced();
    let gw = sb.node_port(30006);
    for (n, other) in [(1, 2), (2, 1)] {
        let host = format!("simple-sni-{n}.istioinaction.io");
        let ca = repo_root().join(format!(
            "{SNI}/simple-sni-{n}/2_intermediate/certs/ca-chain.cert.pem"
        ));
        let r = crate::tlsclient::https(gw, &host, &ca, None, "GET", "/", &host).unwrap();
        assert_eq!(r.status, 200, "{}", r.body);
        let v: serde_json::Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(v["name"], format!("simple-tls-service-{n}"));
        assert_eq!(v["body"], format!("Hello from simple-tls-service-{n}!!!"));
        // The certificate is the app's own, not one the gateway holds.
        let served = std::fs::read_to_string(repo_root().join(format!(
            "{SNI}/simple-sni-{n}/3_application/certs/simple-sni-{n}.istioinaction.io.cert.pem"
        )))
        .unwrap();
        let served_der =
            rustls::pki_types::CertificateDer::from_pem_slice(served.as_bytes()).unwrap();
        assert_eq!(r.peer_cert, served_der.to_vec());
        // The other service's CA does not vouch for this one.
        let wrong_ca = repo_root().join(format!(
            "{SNI}/simple-sni-{other}/2_intermediate/certs/ca-chain.cert.pem"
        ));
        assert!(crate::tlsclient::https(gw, &host, &wrong_ca, None, "GET", "/", &host).is_err());
    }
    // An SNI no route claims: the gateway closes the connection.
    let ca = repo_root().join(format!(
        "{SNI}/simple-sni-1/2_intermediate/certs/ca-chain.cert.pem"
    ));
    let err = crate::tlsclient::https(gw, "nope.istioinaction.io", &ca, None, "GET", "/", "x")
        .unwrap_err();
    assert!(!err.is_empty());
    if let Some(curl) = tool("curl") {
        let out = std::process::Command::new(curl)
            .args([
                "-s",
                "--resolve",
                &format!("simple-sni-1.istioinaction.io:{}:127.0.0.1", gw.port()),
            ])
            .args(["--cacert", &ca.display().to_string()])
            .arg(format!(
                "https://simple-sni-1.istioinaction.io:{}/",
                gw.port()
            ))
            .output()
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        assert_eq!(
            v["name"],
            "simple-tls-service-1",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
