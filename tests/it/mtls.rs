//! Identity and mTLS inside the mesh: workload certificates (lab 4.6), automatic mTLS between
//! sidecars, PeerAuthentication modes, DestinationRule `tls`, rotation, a plug-in CA.

use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use serde_json::Value;

use crate::util::*;

const HOST: &str = "webapp.istioinaction.io";

fn ch4_text() -> String {
    std::fs::read_to_string(repo_root().join("scenarios/ch4.yaml")).unwrap()
}

fn catalog_via_gateway(sb: &TestSandbox) -> u16 {
    request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", HOST)],
        b"",
    )
    .map(|r| r.status)
    .unwrap_or(0)
}

fn stat(admin: std::net::SocketAddr, name: &str) -> u64 {
    stat_value(admin, name).unwrap_or(0)
}

#[test]
fn lab_4_6_workload_certificates_and_mtls_between_sidecars() {
    let sb = TestSandbox::start(Some(&ch4_text()));
    sb.synced();
    let webapp = sb.admin("deploy/webapp", Some("istioinaction"));
    // /certs: the root valid ten years, the workload certificate one day, with its SPIFFE ID.
    let certs = get(webapp, "/certs").json();
    let all = certs["certificates"].as_array().unwrap();
    let chain = all
        .iter()
        .flat_map(|c| c["cert_chain"].as_array().cloned().unwrap_or_default())
        .next()
        .expect("a cert chain");
    assert_eq!(
        chain["subject_alt_names"][0]["uri"], "spiffe://cluster.local/ns/istioinaction/sa/webapp",
        "{certs}"
    );
    // One day (Envoy floors: "0" once a second has passed, as in the seed's capture).
    assert!(
        ["0", "1"].contains(&chain["days_until_expiration"].as_str().unwrap()),
        "{chain}"
    );
    let at = |k: &str| {
        time::OffsetDateTime::parse(
            chain[k].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    assert_eq!(
        at("expiration_time") - at("valid_from"),
        time::Duration::hours(24) + time::Duration::minutes(2),
        "{chain}"
    );
    let ca = all
        .iter()
        .flat_map(|c| c["ca_cert"].as_array().cloned().unwrap_or_default())
        .next()
        .expect("a CA");
    let days: u64 = ca["days_until_expiration"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((3640..=3650).contains(&days), "{ca}");
    // The gateway talks to webapp, and webapp to catalog, over mTLS.
    let catalog = sb.admin("deploy/catalog", Some("istioinaction"));
    let before = stat(catalog, "listener.0.0.0.0_15006.ssl.handshake");
    assert_eq!(catalog_via_gateway(&sb), 200);
    assert!(
        stat(catalog, "listener.0.0.0.0_15006.ssl.handshake") > before,
        "catalog's sidecar terminated mTLS"
    );
    assert!(
        stat(webapp, "listener.0.0.0.0_15006.ssl.handshake") > 0,
        "webapp's too"
    );
}

const STRICT: &str = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: default\n  namespace: istioinaction\nspec:\n  mtls:\n    mode: STRICT\n";

#[test]
fn strict_mtls_refuses_plain_text_and_the_mesh_keeps_working() {
    let sb = TestSandbox::start(Some(&ch4_text()));
    sb.synced();
    let catalog = sb.admin("deploy/catalog", Some("istioinaction"));
    let pod = std::net::SocketAddr::new(catalog.ip(), 3000);
    // PERMISSIVE (the default): a plain-text client outside the mesh gets through.
    assert_eq!(get(pod, "/items/1").status, 200);
    sb.apply_text(STRICT, None).unwrap();
    sb.synced();
    // STRICT: no filter chain takes plain text; the connection is closed unanswered.
    let r = raw_request(pod, b"GET /items/1 HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(
        r.as_ref().is_err() || r.as_ref().is_ok_and(|r| r.status == 0),
        "{:?}",
        r.map(|r| r.status)
    );
    // Sidecars and the gateway speak mTLS: still fine.
    assert_eq!(catalog_via_gateway(&sb), 200);
    // A TLS client without a mesh certificate sees catalog's SPIFFE certificate, then is refused.
    if let Some(openssl) = tool("openssl") {
        let out = std::process::Command::new(openssl)
            .args(["s_client", "-connect", &pod.to_string(), "-showcerts"])
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let pem_start = text
            .find("-----BEGIN CERTIFICATE-----")
            .expect("a certificate");
        let pem_end =
            text.find("-----END CERTIFICATE-----").unwrap() + "-----END CERTIFICATE-----".len();
        let dir = TempDir::new("sclient");
        let f = dir.write("peer.pem", &text[pem_start..pem_end]);
        let info = mesh::ca::inspect_pem(&std::fs::read(f).unwrap()).unwrap();
        let summary = serde_json::to_string(&info).unwrap();
        assert!(
            summary.contains("spiffe://cluster.local/ns/istioinaction/sa/catalog"),
            "{summary}"
        );
    }
    // DISABLE for catalog (workload selector) and plain text from clients (DestinationRule).
    let disable = "apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata:\n  name: catalog\n  namespace: istioinaction\nspec:\n  selector:\n    matchLabels: {app: catalog}\n  mtls:\n    mode: DISABLE\n---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: catalog\n  namespace: istioinaction\nspec:\n  host: catalog\n  trafficPolicy:\n    tls:\n      mode: DISABLE\n";
    sb.apply_text(disable, None).unwrap();
    sb.synced();
    assert_eq!(
        get(pod, "/items/1").status,
        200,
        "DISABLE: plain text again"
    );
    let before = stat(catalog, "listener.0.0.0.0_15006.ssl.handshake");
    assert_eq!(catalog_via_gateway(&sb), 200);
    assert_eq!(
        stat(catalog, "listener.0.0.0.0_15006.ssl.handshake"),
        before,
        "webapp → catalog went in plain text"
    );
}

#[test]
fn workload_certificates_rotate_without_dropping_connections() {
    let sb = TestSandbox::start_with(
        Some(&ch4_text()),
        TempDir::new("rot"),
        true,
        Duration::from_secs(3),
    )
    .map_err(|e| e.1)
    .unwrap();
    sb.synced();
    let webapp = sb.admin("deploy/webapp", Some("istioinaction"));
    let serial_of = |name: &str| -> String {
        let out = get(webapp, "/certs").json();
        out["certificates"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c[name].as_array().cloned().unwrap_or_default())
            .filter_map(|c| c["serial_number"].as_str().map(str::to_owned))
            .next()
            .unwrap_or_default()
    };
    let first = serial_of("cert_chain");
    assert!(!first.is_empty());
    // A keep-alive connection through the gateway, used across the rotation.
    let gw = sb.node_port(30000);
    let mut conn = std::net::TcpStream::connect(gw).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let ask = |conn: &mut std::net::TcpStream| -> bool {
        use std::io::{Read, Write};
        conn.write_all(
            format!("GET /api/catalog/items/1 HTTP/1.1\r\nHost: {HOST}\r\n\r\n").as_bytes(),
        )
        .unwrap();
        let mut buf = vec![0u8; 65536];
        let n = conn.read(&mut buf).unwrap_or(0);
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 200")
    };
    assert!(ask(&mut conn));
    let rotated = eventually(Duration::from_secs(10), || {
        let s = serial_of("cert_chain");
        !s.is_empty() && s != first
    });
    assert!(
        rotated,
        "the workload certificate was renewed at half its 3s lifetime"
    );
    assert!(
        ask(&mut conn),
        "the connection opened before the rotation still works"
    );
    assert_eq!(
        catalog_via_gateway(&sb),
        200,
        "new connections use the new certificates"
    );
}

#[test]
fn a_plug_in_ca_from_the_cacerts_secret_signs_every_workload() {
    let sb = TestSandbox::start(Some(&ch4_text()));
    sb.synced();
    let plan = mesh::ca::istio_cacerts(&Default::default()).unwrap();
    let file = |name: &str| {
        plan.files
            .iter()
            .find(|f| f.path.ends_with(name))
            .map(|f| f.contents.clone())
            .unwrap()
    };
    let b64 = |s: String| mesh::api::base64::encode(s.as_bytes());
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: cacerts\n  namespace: istio-system\ndata:\n  ca-cert.pem: {}\n  ca-key.pem: {}\n  root-cert.pem: {}\n  cert-chain.pem: {}\n",
        b64(file("ca-cert.pem")),
        b64(file("ca-key.pem")),
        b64(file("root-cert.pem")),
        b64(file("cert-chain.pem"))
    );
    sb.apply_text(&secret, None).unwrap();
    let root = file("root-cert.pem");
    let root_der = rustls::pki_types::CertificateDer::from_pem_slice(root.as_bytes()).unwrap();
    let root_serial = mesh::ca::cert_info(&root_der).unwrap().serial_hex;
    let webapp = sb.admin("deploy/webapp", Some("istioinaction"));
    let switched = eventually(Duration::from_secs(10), || {
        let certs: Value = get(webapp, "/certs").json();
        certs.to_string().contains(&root_serial)
    });
    assert!(switched, "webapp's ROOTCA is the plug-in root");
    assert!(eventually(Duration::from_secs(10), || catalog_via_gateway(
        &sb
    ) == 200));
}

#[test]
fn bad_tls_secrets_are_refused_at_apply_with_their_position() {
    let sb = TestSandbox::start(None);
    let b64 = |s: &str| mesh::api::base64::encode(s.as_bytes());
    let book = |p: &str| {
        std::fs::read_to_string(
            repo_root()
                .join("scenarios/istio-in-action/ch4/certs")
                .join(p),
        )
        .unwrap()
    };
    let cert = book("3_application/certs/webapp.istioinaction.io.cert.pem");
    let other_key = book("4_client/private/webapp.istioinaction.io.key.pem");
    // A key that belongs to another certificate.
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: webapp-credential\n  namespace: istio-system\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n",
        b64(&cert),
        b64(&other_key)
    );
    let err = sb.apply_text(&text, None).unwrap_err();
    assert!(err.starts_with("-:9:3: Secret/webapp-credential: data.tls.key: the private key does not match the certificate in tls.crt"), "{err}");
    // Malformed PEM.
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: broken\n  namespace: istio-system\ntype: kubernetes.io/tls\ndata:\n  tls.crt: {}\n  tls.key: {}\n",
        b64("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
        b64(&other_key)
    );
    let err = sb.apply_text(&text, None).unwrap_err();
    assert!(err.contains("-:8:3: Secret/broken: data.tls.crt:"), "{err}");
    // An expired CA bundle.
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    params.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
    let key = rcgen::KeyPair::generate().unwrap();
    let expired = params.self_signed(&key).unwrap().pem();
    let text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: old-ca\n  namespace: istio-system\ndata:\n  ca.crt: {}\n",
        b64(&expired)
    );
    let err = sb.apply_text(&text, None).unwrap_err();
    assert!(
        err.contains("data.ca.crt: CA bundle: certificate 1") && err.contains("expired"),
        "{err}"
    );
    // Nothing was stored.
    let secrets = sb
        .rt
        .block_on(
            sb.sandbox
                .get("secret", None, Some("istio-system"), false, None),
        )
        .unwrap();
    assert!(secrets[0].items.is_empty());
}

#[test]
fn a_destination_rule_originates_simple_tls_to_an_app_that_serves_tls_itself() {
    let sb = TestSandbox::start(Some(&ch4_text()));
    let sni = "scenarios/istio-in-action/ch4/sni";
    sb.apply(
        &[&format!("{sni}/simple-tls-service-1.yaml")],
        Some("istioinaction"),
    )
    .unwrap();
    let ca = repo_root().join(format!(
        "{sni}/simple-sni-1/2_intermediate/certs/ca-chain.cert.pem"
    ));
    let dr = format!(
        "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: simple-tls\n  namespace: istioinaction\nspec:\n  host: simple-tls-service-1\n  trafficPolicy:\n    tls:\n      mode: SIMPLE\n      caCertificates: {}\n      sni: simple-sni-1.istioinaction.io\n",
        ca.display()
    );
    sb.apply_text(&dr, None).unwrap();
    sb.synced();
    // webapp's plain-text request leaves its sidecar as TLS, which the app itself terminates.
    let (_, _, fwd) = sb
        .rt
        .block_on(
            sb.sandbox
                .exec_proxy("deploy/webapp", Some("istioinaction")),
        )
        .unwrap();
    let ask = || {
        raw_request(fwd, b"GET http://simple-tls-service-1.istioinaction/ HTTP/1.1\r\nHost: simple-tls-service-1.istioinaction\r\nConnection: close\r\n\r\n")
    };
    let r = ask().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["name"], "simple-tls-service-1");
    // With the wrong CA the sidecar refuses the app's certificate.
    let wrong = repo_root().join(format!(
        "{sni}/simple-sni-2/2_intermediate/certs/ca-chain.cert.pem"
    ));
    sb.apply_text(
        &dr.replace(&ca.display().to_string(), &wrong.display().to_string()),
        None,
    )
    .unwrap();
    sb.synced();
    // The port is TCP (named `https`): the sidecar's tcp_proxy closes the connection.
    assert!(ask().is_err());
    let webapp = sb.admin("deploy/webapp", Some("istioinaction"));
    let failed = stat(
        webapp,
        "cluster.outbound|80||simple-tls-service-1.istioinaction.svc.cluster.local.ssl.fail_verify_error",
    );
    assert!(failed >= 1, "the sidecar refused the app's certificate");
}
