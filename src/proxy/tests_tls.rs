//! TLS on real loopback handshakes: termination, mTLS (no certificate, wrong CA), SNI picking
//! a filter chain and its certificate, SDS pushes with warming, rotation that leaves open
//! connections alone, NACKs for bad secrets, upstream TLS with SPIFFE SAN checks, Istio's
//! `tlsMode` transport socket matches, and the admin views (`/certs`, config_dump, stats).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use serde_json::Value;

use crate::xds::Bootstrap;
use crate::xds::decode::decode_str;
use crate::xds::snapshot::{DiscoveryResponse, Resources};
use crate::xds::tls::Secret;

use super::tls::certs::serial_hex;
use super::tls::testing::{Leaf, TestCa};
use super::{Options, Proxy, Running, start};

/// A PEM text as a YAML (JSON) string.
fn q(pem: &str) -> String {
    serde_json::to_string(pem).unwrap()
}

/// An HTTP upstream answering its name; with `tls`, over TLS with that certificate.
async fn upstream(name: &'static str, tls: Option<&Leaf>) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    let acceptor = tls.map(|leaf| {
        let certs = CertificateDer::pem_slice_iter(leaf.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
        let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap();
        tokio_rustls::TlsAcceptor::from(Arc::new(cfg))
    });
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |_req| async move {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        name,
                    ))))
                });
                let stream: crate::net::dial::BoxStream = match acceptor {
                    Some(a) => match a.accept(s).await {
                        Ok(t) => Box::new(t),
                        Err(_) => return,
                    },
                    None => Box::new(s),
                };
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// A TLS client: trusts `ca`, sends `sni`, presents `client` when given.
struct Client {
    roots: Arc<rustls::RootCertStore>,
    client: Option<(Vec<CertificateDer<'static>>, String)>,
}

/// An open client connection: its HTTP sender and the server certificate's serial.
struct Conn {
    send: SendRequest<Full<Bytes>>,
    serial: String,
}

impl Client {
    fn new(ca: &TestCa) -> Client {
        let mut roots = rustls::RootCertStore::empty();
        for c in CertificateDer::pem_slice_iter(ca.pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        Client {
            roots: Arc::new(roots),
            client: None,
        }
    }

    fn with_cert(mut self, leaf: &Leaf) -> Client {
        let certs = CertificateDer::pem_slice_iter(leaf.cert.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        self.client = Some((certs, leaf.key.clone()));
        self
    }

    async fn connect(&self, addr: SocketAddr, sni: &str) -> Result<Conn, String> {
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(self.roots.clone());
        let cfg = match &self.client {
            Some((certs, key)) => builder
                .with_client_auth_cert(
                    certs.clone(),
                    PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap(),
                )
                .unwrap(),
            None => builder.with_no_client_auth(),
        };
        let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(ServerName::try_from(sni.to_owned()).unwrap(), tcp)
            .await
            .map_err(|e| e.to_string())?;
        let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
        let (_, cert) = x509_parser::parse_x509_certificate(&leaf).unwrap();
        let serial = serial_hex(cert.raw_serial());
        let (send, conn) =
            hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        Ok(Conn { send, serial })
    }

    /// One request on a fresh connection: (server serial, response body).
    async fn get(&self, addr: SocketAddr, sni: &str) -> Result<(String, String), String> {
        let mut c = self.connect(addr, sni).await?;
        let body = c.get().await?;
        Ok((c.serial, body))
    }
}

impl Conn {
    async fn get(&mut self) -> Result<String, String> {
        let req = hyper::Request::get("/")
            .header("host", "svc")
            .body(Full::new(Bytes::new()))
            .unwrap();
        let resp = self
            .send
            .send_request(req)
            .await
            .map_err(|e| e.to_string())?;
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

/// A listener with `chains` (YAML list items) routing everything to cluster `up`.
fn bootstrap(chains: &str, clusters: &str, secrets: &str) -> Bootstrap {
    let yaml = format!(
        r#"
static_resources:
  listeners:
  - name: tls
    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}
    listener_filters:
    - name: envoy.filters.listener.tls_inspector
      typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector}}
    filter_chains:
{chains}
  clusters:
{clusters}
  secrets: {secrets}
"#
    );
    decode_str("t", &yaml).unwrap()
}

fn hcm() -> &'static str {
    r#"
      filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: in
          http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
          route_config:
            virtual_hosts: [{name: all, domains: ["*"], routes: [{match: {prefix: /}, route: {cluster: up}}]}]"#
}

fn chain(server_names: &[&str], context: &str) -> String {
    let fcm = if server_names.is_empty() {
        String::new()
    } else {
        format!(
            "\n      filter_chain_match: {{server_names: {}}}",
            serde_json::to_string(server_names).unwrap()
        )
    };
    format!(
        r#"    - {fcm}
      transport_socket:
        name: envoy.transport_sockets.tls
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
{context}{hcm}
"#,
        fcm = fcm.trim_start_matches('\n').trim_start(),
        hcm = hcm()
    )
}

fn plain_cluster(addr: SocketAddr) -> String {
    format!(
        "  - {{name: up, connect_timeout: 1s, load_assignment: {{cluster_name: up, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: {}, port_value: {}}}}}}}}}]}}]}}}}\n",
        addr.ip(),
        addr.port()
    )
}

fn inline_cert(leaf: &Leaf) -> String {
    format!(
        "            tls_certificates: [{{certificate_chain: {{inline_string: {}}}, private_key: {{inline_string: {}}}}}]\n",
        q(&leaf.cert),
        q(&leaf.key)
    )
}

async fn run(b: Bootstrap) -> Running {
    start(
        b,
        Options {
            log_level: super::log::Level::Off,
            ..Options::default()
        },
    )
    .await
    .unwrap()
}

fn counter(p: &Proxy, name: &str) -> u64 {
    let text = p.stats.render_text(&Default::default());
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn push(version: &str, resources: Resources) -> DiscoveryResponse {
    DiscoveryResponse {
        version_info: version.to_owned(),
        nonce: format!("n-{version}"),
        resources,
    }
}

fn secret(name: &str, leaf: &Leaf) -> Secret {
    decode_str(
        "t",
        &format!(
            "{{name: {name}, tls_certificate: {{certificate_chain: {{inline_string: {}}}, private_key: {{inline_string: {}}}}}}}",
            q(&leaf.cert),
            q(&leaf.key)
        ),
    )
    .unwrap()
}

fn ca_secret(name: &str, ca: &TestCa) -> Secret {
    decode_str(
        "t",
        &format!(
            "{{name: {name}, validation_context: {{trusted_ca: {{inline_string: {}}}}}}}",
            q(&ca.pem)
        ),
    )
    .unwrap()
}

#[tokio::test]
async fn terminates_tls_with_the_chains_certificate() {
    let ca = TestCa::new("root");
    let leaf = ca.leaf(&["svc.test"], 0x1001);
    let up = upstream("plain", None).await;
    let r = run(bootstrap(
        &chain(
            &[],
            &format!("          common_tls_context:\n{}", inline_cert(&leaf)),
        ),
        &plain_cluster(up),
        "[]",
    ))
    .await;
    let addr = r.listeners[0].1;
    let (serial, body) = Client::new(&ca).get(addr, "svc.test").await.unwrap();
    assert_eq!((serial.as_str(), body.as_str()), ("1001", "plain"));
    assert_eq!(counter(&r.proxy, "listener.127.0.0.1_0.ssl.handshake"), 1);
    assert_eq!(
        counter(&r.proxy, "listener.127.0.0.1_0.ssl.no_certificate"),
        1
    );
    assert_eq!(
        counter(&r.proxy, "listener.127.0.0.1_0.ssl.versions.TLSv1.3"),
        1
    );
    // A client that does not trust the CA fails its own verification.
    let other = TestCa::new("other");
    assert!(Client::new(&other).get(addr, "svc.test").await.is_err());
}

#[tokio::test]
async fn mutual_tls_requires_a_certificate_from_the_trusted_ca() {
    let ca = TestCa::new("root");
    let server = ca.leaf(&["svc.test"], 7);
    let good = ca.leaf(&["spiffe://cluster.local/ns/default/sa/client"], 8);
    let rogue_ca = TestCa::new("rogue");
    let rogue = rogue_ca.leaf(&["spiffe://cluster.local/ns/default/sa/client"], 9);
    let wrong_id = ca.leaf(&["spiffe://cluster.local/ns/default/sa/other"], 10);
    let up = upstream("plain", None).await;
    let context = format!(
        "          require_client_certificate: true\n          common_tls_context:\n{}            validation_context:\n              trusted_ca: {{inline_string: {}}}\n              match_typed_subject_alt_names: [{{san_type: URI, matcher: {{exact: 'spiffe://cluster.local/ns/default/sa/client'}}}}]\n",
        inline_cert(&server),
        q(&ca.pem)
    );
    let r = run(bootstrap(&chain(&[], &context), &plain_cluster(up), "[]")).await;
    let addr = r.listeners[0].1;
    let p = &r.proxy;
    let client = Client::new(&ca);
    // TLS 1.3 clients learn of the rejection on their first read.
    let refused = |res: Result<(String, String), String>| res.is_err();
    assert!(refused(client.get(addr, "svc.test").await));
    assert_eq!(
        counter(p, "listener.127.0.0.1_0.ssl.fail_verify_no_cert"),
        1
    );
    assert!(refused(
        Client::new(&ca)
            .with_cert(&rogue)
            .get(addr, "svc.test")
            .await
    ));
    assert_eq!(counter(p, "listener.127.0.0.1_0.ssl.fail_verify_error"), 1);
    assert!(refused(
        Client::new(&ca)
            .with_cert(&wrong_id)
            .get(addr, "svc.test")
            .await
    ));
    assert_eq!(counter(p, "listener.127.0.0.1_0.ssl.fail_verify_san"), 1);
    let ok = Client::new(&ca)
        .with_cert(&good)
        .get(addr, "svc.test")
        .await;
    assert_eq!(ok.unwrap().1, "plain");
    assert_eq!(counter(p, "listener.127.0.0.1_0.ssl.handshake"), 1);
    assert!(counter(p, "listener.127.0.0.1_0.ssl.connection_error") >= 3);
}

#[tokio::test]
async fn sni_picks_the_chain_and_its_certificate() {
    let ca = TestCa::new("root");
    let a = ca.leaf(&["a.test"], 0xaa);
    let b = ca.leaf(&["b.test"], 0xbb);
    let up = upstream("plain", None).await;
    let chains = format!(
        "{}{}",
        chain(
            &["a.test"],
            &format!("          common_tls_context:\n{}", inline_cert(&a))
        ),
        chain(
            &["b.test"],
            &format!("          common_tls_context:\n{}", inline_cert(&b))
        )
    );
    let r = run(bootstrap(&chains, &plain_cluster(up), "[]")).await;
    let addr = r.listeners[0].1;
    let client = Client::new(&ca);
    assert_eq!(client.get(addr, "a.test").await.unwrap().0, "aa");
    assert_eq!(client.get(addr, "b.test").await.unwrap().0, "bb");
    // No chain for this name: the connection is closed before any handshake.
    assert!(client.get(addr, "c.test").await.is_err());
    assert_eq!(
        counter(&r.proxy, "listener.127.0.0.1_0.no_filter_chain_match"),
        1
    );
}

#[tokio::test]
async fn static_secrets_are_named_by_sds_configs_without_a_source() {
    let ca = TestCa::new("root");
    let leaf = ca.leaf(&["svc.test"], 0x77);
    let up = upstream("plain", None).await;
    let secrets = format!(
        "[{{name: server, tls_certificate: {{certificate_chain: {{inline_string: {}}}, private_key: {{inline_string: {}}}}}}}]",
        q(&leaf.cert),
        q(&leaf.key)
    );
    let context = "          common_tls_context:\n            tls_certificate_sds_secret_configs: [{name: server}]\n";
    let r = run(bootstrap(
        &chain(&[], context),
        &plain_cluster(up),
        &secrets,
    ))
    .await;
    let addr = r.listeners[0].1;
    assert_eq!(
        Client::new(&ca).get(addr, "svc.test").await.unwrap().0,
        "77"
    );
    let dump: Value = serde_json::from_str(&super::admin::config_dump_json(&r.proxy)).unwrap();
    let secrets = dump["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["@type"] == "type.googleapis.com/envoy.admin.v3.SecretsConfigDump")
        .unwrap();
    let s = &secrets["static_secrets"][0];
    assert_eq!(s["name"], "server");
    assert_eq!(
        s["secret"]["@type"],
        "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret"
    );
    assert_eq!(
        s["secret"]["tls_certificate"]["private_key"],
        serde_json::json!({"inline_string": "[redacted]"})
    );
}

#[tokio::test]
async fn bad_static_tls_config_is_refused_with_its_path() {
    let ca = TestCa::new("root");
    let a = ca.leaf(&["a.test"], 1);
    let b = ca.leaf(&["b.test"], 2);
    let up = upstream("plain", None).await;
    let mismatched = format!(
        "          common_tls_context:\n            tls_certificates: [{{certificate_chain: {{inline_string: {}}}, private_key: {{inline_string: {}}}}}]\n",
        q(&a.cert),
        q(&b.key)
    );
    let b = bootstrap(&chain(&[], &mismatched), &plain_cluster(up), "[]");
    let err = super::validate(&b, &Options::default()).unwrap_err();
    assert_eq!(
        err[0].path,
        "static_resources.listeners[0].filter_chains[0].transport_socket.typed_config.common_tls_context.tls_certificates[0]"
    );
    assert!(
        err[0].reason.contains("does not match"),
        "{}",
        err[0].reason
    );
    let unknown = "          common_tls_context:\n            tls_certificate_sds_secret_configs: [{name: nope}]\n";
    let b = bootstrap(&chain(&[], unknown), &plain_cluster(up), "[]");
    let err = super::validate(&b, &Options::default()).unwrap_err();
    assert_eq!(err[0].reason, "Unknown static secret: nope");
}

const SDS_CONTEXT: &str = "          common_tls_context:\n            tls_certificate_sds_secret_configs: [{name: default, sds_config: {ads: {}, resource_api_version: V3}}]\n";

fn dynamic_listener(port: u16) -> Resources {
    let yaml = format!(
        "- name: sds\n  address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}\n  filter_chains:\n{}",
        chain(&[], SDS_CONTEXT)
    );
    Resources::Listeners(decode_str("t", &yaml).unwrap())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn section<'a>(dump: &'a Value, ty: &str) -> &'a Value {
    dump["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["@type"] == format!("type.googleapis.com/envoy.admin.v3.{ty}"))
        .unwrap()
}

#[tokio::test]
async fn sds_warms_the_listener_then_rotates_without_dropping_connections() {
    let ca = TestCa::new("root");
    let first = ca.leaf(&["svc.test"], 0x01);
    let second = ca.leaf(&["svc.test"], 0x02);
    let up = upstream("plain", None).await;
    let yaml = format!("static_resources:\n  clusters:\n{}", plain_cluster(up));
    let r = run(decode_str("t", &yaml).unwrap()).await;
    let p = r.proxy.clone();
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();

    // The listener names a secret that has not arrived: it warms, unbound.
    let ack = p.apply(push("1", dynamic_listener(port))).await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    assert!(p.applied().listeners.is_empty());
    assert_eq!(p.applied().warming_listeners.len(), 1);
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
    let dump: Value = serde_json::from_str(&super::admin::config_dump_json(&p)).unwrap();
    let l = &section(&dump, "ListenersConfigDump")["dynamic_listeners"][0];
    assert_eq!(l["name"], "sds");
    assert!(l.get("active_state").is_none());
    assert_eq!(l["warming_state"]["version_info"], "1");
    let s = &section(&dump, "SecretsConfigDump")["dynamic_warming_secrets"][0];
    assert_eq!(s["name"], "default");
    assert_eq!(s["version_info"], "uninitialized");
    assert_eq!(counter(&p, "listener_manager.total_listeners_warming"), 1);

    // The secret arrives: the listener is served with it.
    let ack = p
        .apply(push(
            "s1",
            Resources::Secrets(vec![secret("default", &first)]),
        ))
        .await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    assert_eq!(p.applied().warming_listeners.len(), 0);
    let client = Client::new(&ca);
    let mut open = client.connect(addr, "svc.test").await.unwrap();
    assert_eq!(open.serial, "01");
    assert_eq!(open.get().await.unwrap(), "plain");

    // Rotation: new handshakes get the new certificate; the open connection keeps working.
    let ack = p
        .apply(push(
            "s2",
            Resources::Secrets(vec![secret("default", &second)]),
        ))
        .await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    assert_eq!(client.get(addr, "svc.test").await.unwrap().0, "02");
    assert_eq!(open.get().await.unwrap(), "plain");
    assert_eq!(open.serial, "01");

    // A malformed PEM and a key of another certificate are refused; the secret stays.
    let mut broken = secret("default", &first);
    if let Some(tc) = broken.tls_certificate.as_mut() {
        tc.certificate_chain.as_mut().unwrap().inline_string = Some(
            "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_owned(),
        );
    }
    let nack = p.apply(push("s3", Resources::Secrets(vec![broken]))).await;
    assert_eq!(nack.version_info, "s2");
    let detail = nack.error_detail.unwrap();
    assert!(detail.contains("default.tls_certificate"), "{detail}");
    assert!(
        detail.contains("Failed to load certificate chain"),
        "{detail}"
    );
    let mut mismatched = secret("default", &first);
    if let Some(tc) = mismatched.tls_certificate.as_mut() {
        tc.private_key.as_mut().unwrap().inline_string = Some(second.key.clone());
    }
    let nack = p
        .apply(push("s4", Resources::Secrets(vec![mismatched])))
        .await;
    assert!(nack.error_detail.unwrap().contains("does not match"));
    assert_eq!(client.get(addr, "svc.test").await.unwrap().0, "02");

    // The dump shows the active secret, redacted, and `/certs` the serving certificate.
    let dump: Value = serde_json::from_str(&super::admin::config_dump_json(&p)).unwrap();
    let s = &section(&dump, "SecretsConfigDump")["dynamic_active_secrets"][0];
    assert_eq!(s["name"], "default");
    assert_eq!(s["version_info"], "s2");
    assert_eq!(
        s["secret"]["tls_certificate"]["private_key"],
        serde_json::json!({"inline_string": "[redacted]"})
    );
    assert!(
        section(&dump, "SecretsConfigDump")
            .get("dynamic_warming_secrets")
            .is_none()
    );
    let l = &section(&dump, "ListenersConfigDump")["dynamic_listeners"][0];
    assert_eq!(
        l["active_state"]["listener"]["filter_chains"][0]["transport_socket"]["name"],
        "envoy.transport_sockets.tls"
    );
    let certs: Value = serde_json::from_str(&super::admin::certs_json(&p)).unwrap();
    let chain = &certs["certificates"][0]["cert_chain"][0];
    assert_eq!(chain["serial_number"], "02");
    assert_eq!(chain["path"], "<inline>");
    assert_eq!(
        chain["subject_alt_names"],
        serde_json::json!([{"dns": "svc.test"}])
    );
    assert_eq!(certs["certificates"][0]["ca_cert"], serde_json::json!([]));
}

/// An outbound cluster to a TLS upstream whose certificate carries only a SPIFFE URI SAN.
fn tls_cluster(addr: SocketAddr, ca: &TestCa, san: &str) -> String {
    format!(
        r#"  - name: up
    connect_timeout: 1s
    load_assignment: {{cluster_name: up, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: {ip}, port_value: {port}}}}}}}}}]}}]}}
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: backend.test
        common_tls_context:
          validation_context:
            trusted_ca: {{inline_string: {ca}}}
            match_typed_subject_alt_names: [{{san_type: URI, matcher: {{exact: '{san}'}}}}]
"#,
        ip = addr.ip(),
        port = addr.port(),
        ca = q(&ca.pem)
    )
}

fn plain_listener() -> String {
    format!("    - {}\n", hcm().trim_start())
}

async fn http_get(addr: SocketAddr) -> (u16, String) {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(s))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get("/")
        .header("host", "svc")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn upstream_tls_verifies_spiffe_uri_sans() {
    let ca = TestCa::new("root");
    let id = "spiffe://cluster.local/ns/default/sa/backend";
    let backend = ca.leaf(&[id], 0x42);
    let up = upstream("secure", Some(&backend)).await;

    let r = run(bootstrap(
        &plain_listener(),
        &tls_cluster(up, &ca, id),
        "[]",
    ))
    .await;
    let addr = r.listeners[0].1;
    assert_eq!(http_get(addr).await, (200, "secure".to_owned()));
    assert_eq!(counter(&r.proxy, "cluster.up.ssl.handshake"), 1);
    // The cluster's CA shows in /certs.
    let certs: Value = serde_json::from_str(&super::admin::certs_json(&r.proxy)).unwrap();
    assert_eq!(
        certs["certificates"][0]["cert_chain"],
        serde_json::json!([])
    );
    assert_eq!(certs["certificates"][0]["ca_cert"][0]["path"], "<inline>");
    assert_eq!(
        certs["certificates"][0]["ca_cert"][0]["subject_alt_names"],
        serde_json::json!([])
    );

    // Another identity: the handshake fails on the SAN and the router answers 503.
    let r = run(bootstrap(
        &plain_listener(),
        &tls_cluster(up, &ca, "spiffe://cluster.local/ns/default/sa/other"),
        "[]",
    ))
    .await;
    let (status, body) = http_get(r.listeners[0].1).await;
    assert_eq!(status, 503);
    assert!(body.contains("CERTIFICATE_VERIFY_FAILED"), "{body}");
    assert_eq!(counter(&r.proxy, "cluster.up.ssl.fail_verify_san"), 1);

    // A server from another CA fails the chain.
    let rogue = TestCa::new("rogue").leaf(&[id], 1);
    let up2 = upstream("rogue", Some(&rogue)).await;
    let r = run(bootstrap(
        &plain_listener(),
        &tls_cluster(up2, &ca, id),
        "[]",
    ))
    .await;
    assert_eq!(http_get(r.listeners[0].1).await.0, 503);
    assert_eq!(counter(&r.proxy, "cluster.up.ssl.fail_verify_error"), 1);
}

#[tokio::test]
async fn istio_mutual_clusters_pick_tls_by_endpoint_metadata() {
    let ca = TestCa::new("root");
    let id = "spiffe://cluster.local/ns/default/sa/backend";
    let client_leaf = ca.leaf(&["spiffe://cluster.local/ns/default/sa/client"], 5);
    let backend = ca.leaf(&[id], 6);
    let meshed = upstream("meshed", Some(&backend)).await;
    let plain = upstream("plain", None).await;
    // The route names a cluster that CDS brings later.
    let listener = plain_listener().replace(
        "route_config:",
        "route_config:\n            validate_clusters: false",
    );
    let yaml = format!(
        "static_resources:\n  listeners:\n  - name: out\n    address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}\n    filter_chains:\n{listener}"
    );
    let r = run(decode_str("t", &yaml).unwrap()).await;
    let p = r.proxy.clone();
    let cluster = format!(
        r#"
- name: up
  type: EDS
  connect_timeout: 1s
  eds_cluster_config: {{service_name: up, eds_config: {{ads: {{}}}}}}
  transport_socket_matches:
  - name: tlsMode-istio
    match: {{tlsMode: istio}}
    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: outbound_.80_._.backend.default.svc.cluster.local
        common_tls_context:
          alpn_protocols: [istio-peer-exchange, istio]
          tls_certificate_sds_secret_configs: [{{name: default, sds_config: {{ads: {{}}}}}}]
          combined_validation_context:
            default_validation_context:
              match_subject_alt_names: [{{exact: '{id}'}}]
            validation_context_sds_secret_config: {{name: ROOTCA, sds_config: {{ads: {{}}}}}}
  - name: tlsMode-disabled
    match: {{}}
    transport_socket: {{name: envoy.transport_sockets.raw_buffer, typed_config: {{"@type": type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer}}}}
"#
    );
    let ack = p
        .apply(push(
            "1",
            Resources::Clusters(decode_str("t", &cluster).unwrap()),
        ))
        .await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    let ack = p
        .apply(push(
            "1",
            Resources::Secrets(vec![
                secret("default", &client_leaf),
                ca_secret("ROOTCA", &ca),
            ]),
        ))
        .await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    let eds = |addr: SocketAddr, meshed: bool| {
        let md = if meshed {
            r#", metadata: {filter_metadata: {envoy.transport_socket_match: {tlsMode: istio}}}"#
        } else {
            ""
        };
        format!(
            "[{{cluster_name: up, endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: {}, port_value: {}}}}}}}{md}}}]}}]}}]",
            addr.ip(),
            addr.port()
        )
    };
    let out = r.listeners[0].1;
    let ack = p
        .apply(push(
            "1",
            Resources::Endpoints(decode_str("t", &eds(meshed, true)).unwrap()),
        ))
        .await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    assert_eq!(http_get(out).await, (200, "meshed".to_owned()));
    p.apply(push(
        "2",
        Resources::Endpoints(decode_str("t", &eds(plain, false)).unwrap()),
    ))
    .await;
    assert_eq!(http_get(out).await, (200, "plain".to_owned()));
    assert_eq!(counter(&p, "cluster.up.ssl.handshake"), 1);
}

/// A TLS echo server with `leaf`'s certificate.
async fn tls_echo(leaf: &Leaf) -> SocketAddr {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let certs = CertificateDer::pem_slice_iter(leaf.cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(leaf.key.as_bytes()).unwrap();
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut s) = acceptor.accept(s).await else {
                    return;
                };
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                    let _ = s.flush().await;
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn tcp_proxy_originates_tls_to_its_cluster() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let ca = TestCa::new("root");
    let id = "spiffe://cluster.local/ns/default/sa/echo";
    let echo = tls_echo(&ca.leaf(&[id], 3)).await;
    let chains = r#"    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: tcp
          cluster: up
"#;
    let r = run(bootstrap(chains, &tls_cluster(echo, &ca, id), "[]")).await;
    let mut s = tokio::net::TcpStream::connect(r.listeners[0].1)
        .await
        .unwrap();
    // A line, so the listener's TLS inspector sees enough to call it plain TCP.
    s.write_all(b"ping\r\n").await.unwrap();
    let mut buf = [0u8; 6];
    tokio::time::timeout(std::time::Duration::from_secs(5), s.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&buf, b"ping\r\n");
    assert_eq!(counter(&r.proxy, "cluster.up.ssl.handshake"), 1);
}

#[tokio::test]
async fn an_update_warms_while_the_version_in_service_keeps_serving() {
    let ca = TestCa::new("root");
    let leaf = ca.leaf(&["svc.test"], 0x10);
    let up = upstream("plain", None).await;
    let yaml = format!("static_resources:\n  clusters:\n{}", plain_cluster(up));
    let r = run(decode_str("t", &yaml).unwrap()).await;
    let p = r.proxy.clone();
    let port = free_port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    // Version 1: an inline certificate, serving at once.
    let inline = format!("          common_tls_context:\n{}", inline_cert(&leaf));
    let v1 = format!(
        "- name: sds\n  address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}\n  filter_chains:\n{}",
        chain(&[], &inline)
    );
    let ack = p
        .apply(push(
            "1",
            Resources::Listeners(decode_str("t", &v1).unwrap()),
        ))
        .await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    let client = Client::new(&ca);
    assert_eq!(client.get(addr, "svc.test").await.unwrap().0, "10");
    // Version 2 waits for an SDS secret; version 1 keeps serving.
    let ack = p.apply(push("2", dynamic_listener(port))).await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    assert_eq!(client.get(addr, "svc.test").await.unwrap().0, "10");
    let dump: Value = serde_json::from_str(&super::admin::config_dump_json(&p)).unwrap();
    let l = &section(&dump, "ListenersConfigDump")["dynamic_listeners"][0];
    assert_eq!(l["active_state"]["version_info"], "1");
    assert_eq!(l["warming_state"]["version_info"], "2");
    // The secret arrives: version 2 takes over the same socket.
    let next = ca.leaf(&["svc.test"], 0x20);
    p.apply(push(
        "s1",
        Resources::Secrets(vec![secret("default", &next)]),
    ))
    .await;
    assert_eq!(client.get(addr, "svc.test").await.unwrap().0, "20");
    let dump: Value = serde_json::from_str(&super::admin::config_dump_json(&p)).unwrap();
    let l = &section(&dump, "ListenersConfigDump")["dynamic_listeners"][0];
    assert_eq!(l["active_state"]["version_info"], "2");
    assert!(l.get("warming_state").is_none());
}
