//! `mesh envoy` with TLS from a static bootstrap, like a user runs it: certificate files named
//! relative to the working directory, a TLS listener and an mTLS one, checked with a rustls
//! client and with the real `curl --cacert` / `openssl s_client` where installed, plus the
//! admin API's `/certs`, config_dump and `ssl.*` stats.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::util::{self, Mesh, TempDir};

struct Pki {
    ca: String,
    server: (String, String),
    client: (String, String),
}

fn leaf(issuer: &CertifiedIssuer<'_, KeyPair>, san: SanType, serial: u64) -> (String, String) {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.subject_alt_names.push(san);
    params.serial_number = Some(serial.into());
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    (cert.pem(), key.serialize_pem())
}

fn pki() -> Pki {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params
        .distinguished_name
        .push(DnType::OrganizationName, "mesh test root");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
    Pki {
        ca: issuer.pem(),
        server: leaf(
            &issuer,
            SanType::DnsName("webapp.test".try_into().unwrap()),
            0x5eed,
        ),
        client: leaf(
            &issuer,
            SanType::URI(
                "spiffe://cluster.local/ns/default/sa/sleep"
                    .try_into()
                    .unwrap(),
            ),
            0xc1,
        ),
    }
}

/// `mesh envoy -c bootstrap.yaml` started in `dir`, killed when dropped.
struct Envoy(Child);

impl Drop for Envoy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn envoy_in(dir: &Path) -> Envoy {
    Envoy(
        Command::new(util::mesh_bin())
            .current_dir(dir)
            .args(["envoy", "-c", "bootstrap.yaml"])
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    )
}

struct Setup {
    dir: TempDir,
    _httpbin: Mesh,
    _envoy: Envoy,
    tls: SocketAddr,
    mtls: SocketAddr,
    admin: SocketAddr,
    pki: Pki,
}

fn setup() -> Setup {
    let pki = pki();
    let dir = TempDir::new("tls");
    std::fs::create_dir_all(dir.path().join("certs")).unwrap();
    dir.write("certs/ca.pem", &pki.ca);
    dir.write("certs/server.pem", &pki.server.0);
    dir.write("certs/server-key.pem", &pki.server.1);
    let (hb, tls, mtls, admin) = (
        util::free_port(),
        util::free_port(),
        util::free_port(),
        util::free_port(),
    );
    let httpbin = Mesh::spawn(["httpbin", "--port", &hb.to_string()]);
    util::wait_for_port(util::addr(hb));
    let hcm = r#"
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_https
          http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
          route_config:
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: httpbin}}]}]"#;
    let bootstrap = format!(
        r#"
admin:
  address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}
static_resources:
  listeners:
  - name: https
    address: {{socket_address: {{address: 127.0.0.1, port_value: {tls}}}}}
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
      typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}}
    filter_chains:
    - filter_chain_match: {{server_names: [webapp.test]}}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          common_tls_context:
            alpn_protocols: [h2, http/1.1]
            tls_certificates:
            - certificate_chain: {{filename: certs/server.pem}}
              private_key: {{filename: certs/server-key.pem}}
{hcm}
  - name: mtls
    address: {{socket_address: {{address: 127.0.0.1, port_value: {mtls}}}}}
    filter_chains:
    - transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
          require_client_certificate: true
          common_tls_context:
            tls_certificate_sds_secret_configs: [{{name: server-cert}}]
            validation_context_sds_secret_config: {{name: mesh-ca}}
{hcm}
  clusters:
  - name: httpbin
    connect_timeout: 1s
    load_assignment:
      cluster_name: httpbin
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {hb}}}}}}}}}]}}]
  secrets:
  - name: server-cert
    tls_certificate:
      certificate_chain: {{filename: certs/server.pem}}
      private_key: {{filename: certs/server-key.pem}}
  - name: mesh-ca
    validation_context:
      trusted_ca: {{filename: certs/ca.pem}}
      match_typed_subject_alt_names: [{{san_type: URI, matcher: {{prefix: "spiffe://cluster.local/"}}}}]
"#
    );
    dir.write("bootstrap.yaml", &bootstrap);
    let envoy = envoy_in(dir.path());
    util::wait_for_port(util::addr(admin));
    util::wait_for_port(util::addr(tls));
    Setup {
        dir,
        _httpbin: httpbin,
        _envoy: envoy,
        tls: util::addr(tls),
        mtls: util::addr(mtls),
        admin: util::addr(admin),
        pki,
    }
}

/// A blocking rustls client: `GET path` with SNI `webapp.test`; the response text or the
/// handshake/IO error.
fn https_get(
    addr: SocketAddr,
    ca: &str,
    client: Option<&(String, String)>,
    path: &str,
) -> Result<String, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca.as_bytes()) {
        roots.add(c.unwrap()).unwrap();
    }
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots);
    let cfg = match client {
        Some((cert, key)) => builder
            .with_client_auth_cert(
                CertificateDer::pem_slice_iter(cert.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap(),
                PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
            )
            .unwrap(),
        None => builder.with_no_client_auth(),
    };
    let conn =
        rustls::ClientConnection::new(Arc::new(cfg), ServerName::try_from("webapp.test").unwrap())
            .unwrap();
    let tcp = TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let req = format!("GET {path} HTTP/1.1\r\nHost: webapp.test\r\nConnection: close\r\n\r\n");
    tls.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    match tls.read_to_end(&mut out) {
        Ok(_) => {}
        // Some servers close without close_notify after `Connection: close`.
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !out.is_empty() => {}
        Err(e) => return Err(e.to_string()),
    }
    Ok(String::from_utf8_lossy(&out).into_owned())
}

fn admin(s: &Setup, path: &str) -> String {
    util::get(s.admin, path).text()
}

fn stat(s: &Setup, name: &str) -> u64 {
    admin(s, "/stats")
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

#[test]
fn envoy_terminates_tls_and_mtls_from_files_relative_to_the_working_directory() {
    let s = setup();
    let pki = &s.pki;

    // TLS: httpbin sees the request, marked https.
    let resp = https_get(s.tls, &pki.ca, None, "/headers").unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert!(resp.contains("\"X-Forwarded-Proto\": \"https\""), "{resp}");
    let tls_stats = format!("listener.127.0.0.1_{}.ssl", s.tls.port());
    assert_eq!(stat(&s, &format!("{tls_stats}.handshake")), 1);

    // mTLS: no certificate is refused, the workload certificate is accepted.
    assert!(https_get(s.mtls, &pki.ca, None, "/get").is_err());
    let resp = https_get(s.mtls, &pki.ca, Some(&pki.client), "/get").unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    let mtls_stats = format!("listener.127.0.0.1_{}.ssl", s.mtls.port());
    assert_eq!(stat(&s, &format!("{mtls_stats}.fail_verify_no_cert")), 1);
    assert_eq!(stat(&s, &format!("{mtls_stats}.handshake")), 1);

    // /certs: both contexts, paths as given, serials in hex.
    let certs: serde_json::Value = serde_json::from_str(&admin(&s, "/certs")).unwrap();
    let list = certs["certificates"].as_array().unwrap();
    assert_eq!(list.len(), 2, "{certs}");
    assert_eq!(list[0]["ca_cert"], serde_json::json!([]));
    let leaf = &list[0]["cert_chain"][0];
    assert_eq!(leaf["path"], "certs/server.pem");
    assert_eq!(leaf["serial_number"], "5eed");
    assert_eq!(
        leaf["subject_alt_names"],
        serde_json::json!([{"dns": "webapp.test"}])
    );
    assert!(leaf["days_until_expiration"].is_string());
    assert!(leaf["valid_from"].as_str().unwrap().ends_with('Z'));
    assert_eq!(list[1]["ca_cert"][0]["path"], "certs/ca.pem");

    // config_dump: the transport socket as configured, the key file name redacted; static
    // secrets listed.
    let dump: serde_json::Value =
        serde_json::from_str(&admin(&s, "/config_dump?resource=static_listeners")).unwrap();
    let ts = &dump["configs"][0]["listener"]["filter_chains"][0]["transport_socket"];
    assert_eq!(ts["name"], "envoy.transport_sockets.tls");
    let cert = &ts["typed_config"]["common_tls_context"]["tls_certificates"][0];
    assert_eq!(cert["certificate_chain"]["filename"], "certs/server.pem");
    assert_eq!(cert["private_key"]["filename"], "[redacted]");
    let secrets: serde_json::Value =
        serde_json::from_str(&admin(&s, "/config_dump?resource=static_secrets")).unwrap();
    let names: Vec<&str> = secrets["configs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["server-cert", "mesh-ca"]);

    let ca = s.dir.path().join("certs/ca.pem");
    let ca = ca.to_str().unwrap();
    // curl, as the Istio labs test gateways.
    if let Some(curl) = util::tool("curl") {
        let resolve = format!("webapp.test:{}:127.0.0.1", s.tls.port());
        let url = format!("https://webapp.test:{}/get", s.tls.port());
        let out = Command::new(&curl)
            .args([
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{http_version}",
            ])
            .args(["--cacert", ca, "--resolve", &resolve, &url])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200 2", "{out:?}");
        let out = Command::new(&curl)
            .args(["-s", "--resolve", &resolve, &url])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(60), "untrusted server: {out:?}");
        // mTLS with curl's --cert/--key.
        let dir = &s.dir;
        dir.write("certs/client.pem", &pki.client.0);
        dir.write("certs/client-key.pem", &pki.client.1);
        let mresolve = format!("webapp.test:{}:127.0.0.1", s.mtls.port());
        let murl = format!("https://webapp.test:{}/get", s.mtls.port());
        let out = Command::new(&curl)
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .args(["--cacert", ca, "--resolve", &mresolve, &murl])
            .args([
                "--cert",
                dir.path().join("certs/client.pem").to_str().unwrap(),
            ])
            .args([
                "--key",
                dir.path().join("certs/client-key.pem").to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "200", "{out:?}");
    }
    // openssl s_client: the chosen chain's certificate, verified, with ALPN.
    if let Some(openssl) = util::tool("openssl") {
        let mut child = Command::new(openssl)
            .args(["s_client", "-connect", &s.tls.to_string()])
            .args(["-servername", "webapp.test", "-CAfile", ca, "-alpn", "h2"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdin.take());
        let out = child.wait_with_output().unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
        assert!(
            text.contains("subject=CN = rcgen self signed cert"),
            "{text}"
        );
        assert!(text.contains("ALPN protocol: h2"), "{text}");
    }
}

#[test]
fn envoy_refuses_a_key_that_is_not_the_certificates() {
    let pki = pki();
    let dir = TempDir::new("tls-bad");
    dir.write("cert.pem", &pki.server.0);
    dir.write("key.pem", &pki.client.1);
    dir.write(
        "bootstrap.yaml",
        r#"
static_resources:
  secrets:
  - name: server
    tls_certificate:
      certificate_chain: {filename: cert.pem}
      private_key: {filename: key.pem}
"#,
    );
    let out = Command::new(util::mesh_bin())
        .current_dir(dir.path())
        .args(["envoy", "-c", "bootstrap.yaml", "--mode", "validate"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(
        err.contains("static_resources.secrets[0].tls_certificate"),
        "{err}"
    );
    assert!(
        err.contains("the private key from key.pem does not match the certificate from cert.pem"),
        "{err}"
    );
}

#[test]
fn alpn_h2_on_a_tls_listener_serves_http2() {
    let s = setup();
    // ALPN `h2` was offered and chosen: the request goes out as HTTP/2, httpbin gets HTTP/1.1.
    let r = crate::h2util::h2_tls(s.tls, "webapp.test", &s.pki.ca, "/headers").unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.version, http::Version::HTTP_2);
    assert!(
        r.text().contains("\"X-Forwarded-Proto\": \"https\""),
        "{}",
        r.text()
    );
    assert_eq!(stat(&s, "http.ingress_https.downstream_cx_http2_total"), 1);
    assert_eq!(stat(&s, "http.ingress_https.downstream_cx_ssl_total"), 1);
    assert_eq!(stat(&s, "http.ingress_https.downstream_rq_http2_total"), 1);
    // An HTTP/1.1-only client on the same chain still gets HTTP/1.1.
    let resp = https_get(s.tls, &s.pki.ca, None, "/get").unwrap();
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    assert_eq!(stat(&s, "http.ingress_https.downstream_cx_http1_total"), 1);
}
