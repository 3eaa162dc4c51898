//! Chapter 4's gateway TLS labs with the book's files and certificates: SIMPLE (4.8), the HTTPS
//! redirect (4.9), MUTUAL (4.10), several TLS hosts on one port (4.11); secrets replaced or
//! missing.

use std::path::PathBuf;

use rustls::pki_types::pem::PemObject;

use crate::tlsclient::https;
use crate::util::*;

const CH4: &str = "scenarios/istio-in-action/ch4";
const HOST: &str = "webapp.istioinaction.io";

fn book(path: &str) -> PathBuf {
    repo_root().join(CH4).join(path)
}

fn b64(path: &PathBuf) -> String {
    mesh::api::base64::encode(&std::fs::read(path).unwrap())
}

/// A Secret in istio-system, as `mesh create secret tls|generic` makes it.
fn secret(name: &str, kind: &str, data: &[(&str, PathBuf)]) -> String {
    let mut text = format!(
        "apiVersion: v1\nkind: Secret\nmetadata:\n  name: {name}\n  namespace: istio-system\ntype: {kind}\ndata:\n"
    );
    for (k, p) in data {
        text.push_str(&format!("  {k}: {}\n", b64(p)));
    }
    text
}

fn webapp_credential() -> String {
    secret(
        "webapp-credential",
        "kubernetes.io/tls",
        &[
            (
                "tls.crt",
                book("certs/3_application/certs/webapp.istioinaction.io.cert.pem"),
            ),
            (
                "tls.key",
                book("certs/3_application/private/webapp.istioinaction.io.key.pem"),
            ),
        ],
    )
}

fn ch4() -> TestSandbox {
    let text = std::fs::read_to_string(repo_root().join("scenarios/ch4.yaml")).unwrap();
    TestSandbox::start(Some(&text))
}

#[test]
fn lab_4_8_simple_tls_at_the_gateway() {
    let sb = ch4();
    sb.apply_text(&webapp_credential(), None).unwrap();
    sb.apply(
        &[&format!("{CH4}/coolstore-gw-tls.yaml")],
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let gw = sb.node_port(30005);
    let ca = book("certs/2_intermediate/certs/ca-chain.cert.pem");
    let r = https(gw, HOST, &ca, None, "GET", "/api/catalog", HOST).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Elinor Glasses"), "{}", r.body);
    let served = std::fs::read(book(
        "certs/3_application/certs/webapp.istioinaction.io.cert.pem",
    ))
    .unwrap();
    let served = rustls::pki_types::CertificateDer::from_pem_slice(&served).unwrap();
    assert_eq!(
        r.peer_cert,
        served.to_vec(),
        "the credential's certificate is served"
    );
    // Without the book's CA: the certificate is not trusted.
    let other_ca = book("certs2/2_intermediate/certs/ca-chain.cert.pem");
    let err = https(gw, HOST, &other_ca, None, "GET", "/api/catalog", HOST).unwrap_err();
    assert!(
        err.contains("UnknownIssuer") || err.contains("invalid peer certificate"),
        "{err}"
    );
    // `curl https://localhost:30005` sends SNI localhost: no server for it.
    assert!(https(gw, "localhost", &ca, None, "GET", "/api/catalog", HOST).is_err());
    // Plain HTTP on 30000 still works.
    let r = request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", HOST)],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    if let Some(curl) = tool("curl") {
        let port = gw.port();
        let resolve = format!("{HOST}:{port}:127.0.0.1");
        let url = format!("https://{HOST}:{port}/api/catalog");
        let run = |args: &[&str]| {
            std::process::Command::new(&curl)
                .args(args)
                .output()
                .unwrap()
        };
        let out = run(&[
            "-s",
            "--resolve",
            &resolve,
            "--cacert",
            ca.to_str().unwrap(),
            &url,
        ]);
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Elinor Glasses"),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = run(&["-s", "--resolve", &resolve, &url]);
        assert_eq!(
            out.status.code(),
            Some(60),
            "no CA: curl cannot verify the certificate"
        );
    }
    // The gateway's proxy-config secret table lists the credential.
    let dump = get(
        sb.admin("gateway", None),
        "/config_dump?resource=dynamic_active_secrets",
    )
    .json();
    let names: Vec<&str> = dump["configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|s| s["name"].as_str())
        .collect();
    assert!(
        names.contains(&"kubernetes://webapp-credential"),
        "{names:?}"
    );
}

#[test]
fn lab_4_9_http_redirects_to_https() {
    let sb = ch4();
    sb.apply_text(&webapp_credential(), None).unwrap();
    sb.apply(
        &[&format!("{CH4}/coolstore-gw-tls-redirect.yaml")],
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let r = request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", HOST)],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 301);
    assert_eq!(
        r.header("location"),
        Some("https://webapp.istioinaction.io/api/catalog")
    );
    let ca = book("certs/2_intermediate/certs/ca-chain.cert.pem");
    let r = https(
        sb.node_port(30005),
        HOST,
        &ca,
        None,
        "GET",
        "/api/catalog",
        HOST,
    )
    .unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn lab_4_10_mutual_tls_wants_a_client_certificate() {
    let sb = ch4();
    let mtls = secret(
        "webapp-credential-mtls",
        "Opaque",
        &[
            (
                "tls.crt",
                book("certs/3_application/certs/webapp.istioinaction.io.cert.pem"),
            ),
            (
                "tls.key",
                book("certs/3_application/private/webapp.istioinaction.io.key.pem"),
            ),
            (
                "ca.crt",
                book("certs/2_intermediate/certs/ca-chain.cert.pem"),
            ),
        ],
    );
    sb.apply_text(&mtls, None).unwrap();
    sb.apply(
        &[&format!("{CH4}/coolstore-gw-mtls.yaml")],
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let gw = sb.node_port(30005);
    let ca = book("certs/2_intermediate/certs/ca-chain.cert.pem");
    assert!(
        https(gw, HOST, &ca, None, "GET", "/api/catalog", HOST).is_err(),
        "no client certificate"
    );
    let cert = book("certs/4_client/certs/webapp.istioinaction.io.cert.pem");
    let key = book("certs/4_client/private/webapp.istioinaction.io.key.pem");
    let r = https(
        gw,
        HOST,
        &ca,
        Some((&cert, &key)),
        "GET",
        "/api/catalog",
        HOST,
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    // A client certificate from another CA is refused.
    let other = book("certs2/4_client/certs/catalog.istioinaction.io.cert.pem");
    let other_key = book("certs2/4_client/private/catalog.istioinaction.io.key.pem");
    assert!(
        https(
            gw,
            HOST,
            &ca,
            Some((&other, &other_key)),
            "GET",
            "/api/catalog",
            HOST
        )
        .is_err()
    );
}

#[test]
fn lab_4_11_several_tls_hosts_on_one_port() {
    let sb = ch4();
    sb.apply_text(&webapp_credential(), None).unwrap();
    let catalog = secret(
        "catalog-credential",
        "kubernetes.io/tls",
        &[
            (
                "tls.crt",
                book("certs2/3_application/certs/catalog.istioinaction.io.cert.pem"),
            ),
            (
                "tls.key",
                book("certs2/3_application/private/catalog.istioinaction.io.key.pem"),
            ),
        ],
    );
    sb.apply_text(&catalog, None).unwrap();
    sb.apply(
        &[
            &format!("{CH4}/coolstore-gw-multi-tls.yaml"),
            &format!("{CH4}/catalog-vs.yaml"),
        ],
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let gw = sb.node_port(30005);
    let r = https(
        gw,
        HOST,
        &book("certs/2_intermediate/certs/ca-chain.cert.pem"),
        None,
        "GET",
        "/api/catalog",
        HOST,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    let catalog_host = "catalog.istioinaction.io";
    let ca2 = book("certs2/2_intermediate/certs/ca-chain.cert.pem");
    let r = https(gw, catalog_host, &ca2, None, "GET", "/items", catalog_host).unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("Elinor Glasses"));
    // Each host is served its own certificate: catalog's CA does not vouch for webapp's.
    assert!(https(gw, HOST, &ca2, None, "GET", "/api/catalog", HOST).is_err());
}

#[test]
fn replaced_credentials_are_served_at_once_and_missing_ones_leave_other_servers_working() {
    let sb = ch4();
    // A gateway server whose credential does not exist yet: its listener waits (warming),
    // the plain HTTP server keeps working.
    sb.apply(
        &[&format!("{CH4}/coolstore-gw-tls.yaml")],
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let admin = sb.admin("gateway", None);
    let dump = get(admin, "/config_dump?resource=dynamic_listeners").json();
    let warming: Vec<&str> = dump["configs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l.get("warming_state").is_some() && l.get("active_state").is_none())
        .filter_map(|l| l["name"].as_str())
        .collect();
    assert_eq!(warming, ["0.0.0.0_8443"], "{dump}");
    let r = request(
        sb.node_port(30000),
        "GET",
        "/api/catalog",
        &[("Host", HOST)],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    // The credential arrives: served.
    sb.apply_text(&webapp_credential(), None).unwrap();
    sb.synced();
    let gw = sb.node_port(30005);
    let ca = book("certs/2_intermediate/certs/ca-chain.cert.pem");
    assert!(eventually(std::time::Duration::from_secs(10), || https(
        gw,
        HOST,
        &ca,
        None,
        "GET",
        "/api/catalog",
        HOST
    )
    .is_ok()));
    // Replaced by a chain of our own (`mesh certs gen`'s): the next handshake sees it.
    let plan = mesh::ca::book_chain(&[HOST.to_owned()], &Default::default()).unwrap();
    let dir = TempDir::new("newcert");
    mesh::ca::write_plan(dir.path(), &plan, false).unwrap();
    let new_cert = dir
        .path()
        .join("3_application/certs/webapp.istioinaction.io.cert.pem");
    let replaced = secret(
        "webapp-credential",
        "kubernetes.io/tls",
        &[
            ("tls.crt", new_cert.clone()),
            (
                "tls.key",
                dir.path()
                    .join("3_application/private/webapp.istioinaction.io.key.pem"),
            ),
        ],
    );
    sb.apply_text(&replaced, None).unwrap();
    sb.synced();
    let new_ca = dir.path().join("2_intermediate/certs/ca-chain.cert.pem");
    let r = https(gw, HOST, &new_ca, None, "GET", "/api/catalog", HOST).unwrap();
    assert_eq!(r.status, 200);
    assert!(
        https(gw, HOST, &ca, None, "GET", "/api/catalog", HOST).is_err(),
        "the old chain is gone"
    );
}

#[test]
fn mutual_tls_refuses_an_expired_client_certificate() {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    };
    let dir = TempDir::new("expired");
    // Our own client CA, and two client certificates it signed: one valid, one expired.
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "client CA");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_key = KeyPair::generate().unwrap();
    let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
    let issuer = Issuer::new(ca_params, ca_key);
    let client = |name: &str, expired: bool| {
        let mut p = CertificateParams::new(vec!["client.example".to_owned()]).unwrap();
        p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        if expired {
            p.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(10);
            p.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(1);
        }
        let key = KeyPair::generate().unwrap();
        let cert = p.signed_by(&key, &issuer).unwrap();
        (
            dir.write(&format!("{name}.crt"), &cert.pem()),
            dir.write(&format!("{name}.key"), &key.serialize_pem()),
        )
    };
    let (good, good_key) = client("good", false);
    let (old, old_key) = client("old", true);
    let ca_file = dir.write("ca.crt", &ca_pem);
    let sb = ch4();
    let mtls = secret(
        "webapp-credential-mtls",
        "Opaque",
        &[
            (
                "tls.crt",
                book("certs/3_application/certs/webapp.istioinaction.io.cert.pem"),
            ),
            (
                "tls.key",
                book("certs/3_application/private/webapp.istioinaction.io.key.pem"),
            ),
            ("ca.crt", ca_file),
        ],
    );
    sb.apply_text(&mtls, None).unwrap();
    sb.apply(
        &[&format!("{CH4}/coolstore-gw-mtls.yaml")],
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    let gw = sb.node_port(30005);
    let ca = book("certs/2_intermediate/certs/ca-chain.cert.pem");
    let r = https(
        gw,
        HOST,
        &ca,
        Some((&good, &good_key)),
        "GET",
        "/api/catalog",
        HOST,
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert!(
        https(
            gw,
            HOST,
            &ca,
            Some((&old, &old_key)),
            "GET",
            "/api/catalog",
            HOST
        )
        .is_err(),
        "an expired client certificate is refused"
    );
}
