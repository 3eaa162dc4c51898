//! `mesh certs gen|inspect` through the real binary, checked by real openssl and by a real
//! rustls handshake; the `ca` library's workload and plug-in CA certificates verified the same
//! ways.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use mesh::ca::{self, KeyType, MeshCa, WorkloadId};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::util::{self, TempDir};

const HOSTS: [(&str, &str); 4] = [
    ("certs", "webapp.istioinaction.io"),
    ("certs2", "catalog.istioinaction.io"),
    ("sni/simple-sni-1", "simple-sni-1.istioinaction.io"),
    ("sni/simple-sni-2", "simple-sni-2.istioinaction.io"),
];

fn certs_gen(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["certs", "gen"];
    all.extend_from_slice(args);
    util::mesh_output(all)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `openssl ARGS…`: (success, stdout + stderr).
fn openssl(bin: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(bin).args(args).output().unwrap();
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn key_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.to_string_lossy().ends_with(".key.pem") || p.ends_with("ca-key.pem") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[cfg(unix)]
fn assert_private(path: &Path) {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "{}", path.display());
}

#[cfg(not(unix))]
fn assert_private(_: &Path) {}

#[test]
fn gen_without_hosts_writes_every_ch4_chain_in_the_books_folders() {
    let tmp = TempDir::new("certs-ch4");
    let out = tmp.path().join("ch4");
    let (code, stdout, err) = certs_gen(&["--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    for (dir, host) in HOSTS {
        let base = out.join(dir);
        for rel in [
            "1_root/certs/ca.cert.pem".to_owned(),
            "1_root/private/ca.key.pem".to_owned(),
            "2_intermediate/certs/intermediate.cert.pem".to_owned(),
            "2_intermediate/certs/ca-chain.cert.pem".to_owned(),
            "2_intermediate/private/intermediate.key.pem".to_owned(),
            format!("3_application/certs/{host}.cert.pem"),
            format!("3_application/private/{host}.key.pem"),
            format!("4_client/certs/{host}.cert.pem"),
            format!("4_client/private/{host}.key.pem"),
        ] {
            let p = base.join(&rel);
            assert!(p.is_file(), "{} missing", p.display());
            assert!(
                stdout.contains(s(&p)),
                "{} not reported:\n{stdout}",
                p.display()
            );
        }
    }
    let keys = key_files(&out);
    assert_eq!(keys.len(), 16);
    keys.iter().for_each(|k| assert_private(k));

    let Some(openssl_bin) = util::tool("openssl") else {
        return;
    };
    for (dir, host) in HOSTS {
        let base = out.join(dir);
        let ca_chain = base.join("2_intermediate/certs/ca-chain.cert.pem");
        for (level, purpose) in [("3_application", "sslserver"), ("4_client", "sslclient")] {
            let leaf = base.join(format!("{level}/certs/{host}.cert.pem"));
            let (ok, text) = openssl(&openssl_bin, &["verify", "-CAfile", s(&ca_chain), s(&leaf)]);
            assert!(ok && text.contains(": OK"), "{text}");
            let (ok, text) = openssl(
                &openssl_bin,
                &[
                    "verify",
                    "-purpose",
                    purpose,
                    "-x509_strict",
                    "-CAfile",
                    s(&ca_chain),
                    s(&leaf),
                ],
            );
            assert!(ok, "{purpose}: {text}");
        }
        let (ok, text) = openssl(
            &openssl_bin,
            &[
                "x509",
                "-noout",
                "-subject",
                "-ext",
                "subjectAltName",
                "-in",
                s(&base.join(format!("3_application/certs/{host}.cert.pem"))),
            ],
        );
        assert!(ok, "{text}");
        assert!(
            text.contains(&format!(
                "subject=C = US, ST = Denial, L = Springfield, O = Dis, CN = {host}"
            )),
            "{text}"
        );
        assert!(text.contains(&format!("DNS:{host}")), "{text}");
        // openssl reads our PKCS#8 keys and they match the certificates.
        let (ok, text) = openssl(
            &openssl_bin,
            &[
                "pkey",
                "-in",
                s(&base.join(format!("3_application/private/{host}.key.pem"))),
                "-pubout",
            ],
        );
        let (ok2, cert_pub) = openssl(
            &openssl_bin,
            &[
                "x509",
                "-noout",
                "-pubkey",
                "-in",
                s(&base.join(format!("3_application/certs/{host}.cert.pem"))),
            ],
        );
        assert!(ok && ok2 && text == cert_pub, "{text}\n{cert_pub}");
    }
    // Each chain has its own root: webapp's CA does not vouch for catalog's certificate.
    let (ok, _) = openssl(
        &openssl_bin,
        &[
            "verify",
            "-CAfile",
            s(&out.join("certs/2_intermediate/certs/ca-chain.cert.pem")),
            s(&out.join("certs2/3_application/certs/catalog.istioinaction.io.cert.pem")),
        ],
    );
    assert!(!ok);
}

#[test]
fn gen_refuses_to_overwrite_a_key_without_force_and_writes_nothing() {
    let tmp = TempDir::new("certs-force");
    let out = tmp.path().join("webapp");
    let args = ["--out", s(&out), "--host", "webapp.istioinaction.io"];
    let (code, _, err) = certs_gen(&args);
    assert_eq!(code, 0, "{err}");
    let cert = out.join("3_application/certs/webapp.istioinaction.io.cert.pem");
    let root = out.join("1_root/certs/ca.cert.pem");
    let before = (std::fs::read(&cert).unwrap(), std::fs::read(&root).unwrap());

    let (code, stdout, err) = certs_gen(&args);
    assert_eq!(code, 1, "{stdout}{err}");
    assert!(
        err.contains("refusing to overwrite existing key")
            && err.contains(s(&out.join("1_root/private/ca.key.pem")))
            && err.contains("--force"),
        "{err}"
    );
    assert!(stdout.is_empty(), "{stdout}");
    let after = (std::fs::read(&cert).unwrap(), std::fs::read(&root).unwrap());
    assert_eq!(before, after, "nothing is written when refusing");

    // Only a key exists (e.g. a hand-made one) deep in the tree: still refused, still nothing.
    let other = tmp.path().join("other");
    let key = other.join("4_client/private/a.example.key.pem");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "mine").unwrap();
    let (code, _, err) = certs_gen(&["--out", s(&other), "--host", "a.example"]);
    assert_eq!(code, 1);
    assert!(err.contains(s(&key)), "{err}");
    assert!(!other.join("1_root").exists(), "nothing written");
    assert_eq!(std::fs::read_to_string(&key).unwrap(), "mine");

    let (code, _, err) = certs_gen(&[&args[..], &["--force"]].concat());
    assert_eq!(code, 0, "{err}");
    assert_ne!(std::fs::read(&root).unwrap(), before.1, "--force replaces");
    key_files(&out).iter().for_each(|k| assert_private(k));
}

#[test]
fn gen_hosts_share_one_chain_and_bad_flags_are_refused() {
    let tmp = TempDir::new("certs-hosts");
    let out = tmp.path().join("multi");
    let (code, _, err) = certs_gen(&[
        "--out",
        s(&out),
        "--host",
        "a.example.com",
        "--host",
        "b.example.com",
        "--key-type",
        "ec-p384",
        "--days-leaf",
        "30",
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        key_files(&out).len(),
        6,
        "root, intermediate, 2 × (server, client)"
    );
    let (code, text, err) = util::mesh_output([
        "certs",
        "inspect",
        s(&out.join("3_application/certs/b.example.com.cert.pem")),
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(text.contains("DNS:b.example.com"), "{text}");
    assert!(text.contains("ECDSA P-384"), "{text}");
    assert!(
        text.contains("Issuer:            C=US, ST=Denial, O=Dis, CN=a.example.com"),
        "{text}"
    );
    assert!(text.contains("(valid for 29 days)"), "{text}");

    for (bad, why) in [
        (
            vec!["--key-type", "rsa-2048"],
            "RSA keys cannot be generated",
        ),
        (vec!["--host", "no/slash"], "invalid host name"),
        (vec!["--days-root", "0"], "at least 1 day"),
        (
            vec!["--istio-cacerts", "--host", "x.io"],
            "cannot be used with",
        ),
    ] {
        let mut args = vec!["--out", s(tmp.path()), "--force"];
        args.extend(bad);
        let (code, _, err) = certs_gen(&args);
        assert_ne!(code, 0);
        assert!(err.contains(why), "{why}: {err}");
    }
}

fn certs_from(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn key_from(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).unwrap()
}

fn roots(path: &Path) -> RootCertStore {
    let mut store = RootCertStore::empty();
    for c in certs_from(path) {
        store.add(c).unwrap();
    }
    store
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// One TLS handshake over loopback, then a ping/pong; `Err` carries the first side's error.
fn handshake(server: ServerConfig, client: ClientConfig, sni: &str) -> Result<(), String> {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server_side = std::thread::spawn(move || -> Result<(), String> {
        let (tcp, _) = listener.accept().map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let conn = rustls::ServerConnection::new(Arc::new(server)).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf)
            .map_err(|e| format!("server: {e}"))?;
        tls.write_all(b"pong").map_err(|e| format!("server: {e}"))?;
        tls.flush().map_err(|e| e.to_string())?;
        Ok(())
    });
    let client_result = (|| -> Result<(), String> {
        let tcp = TcpStream::connect(addr).map_err(|e| e.to_string())?;
        tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let name = ServerName::try_from(sni.to_owned()).map_err(|e| e.to_string())?;
        let conn =
            rustls::ClientConnection::new(Arc::new(client), name).map_err(|e| e.to_string())?;
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        tls.write_all(b"ping").map_err(|e| format!("client: {e}"))?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf)
            .map_err(|e| format!("client: {e}"))?;
        if &buf != b"pong" {
            return Err("wrong reply".into());
        }
        Ok(())
    })();
    let server_result = server_side.join().unwrap();
    client_result.and(server_result)
}

fn mtls_configs(dir: &Path, host: &str, trust: &Path) -> (ServerConfig, ClientConfig) {
    let mut chain = certs_from(&dir.join(format!("3_application/certs/{host}.cert.pem")));
    chain.extend(certs_from(
        &dir.join("2_intermediate/certs/intermediate.cert.pem"),
    ));
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(trust)), provider())
        .build()
        .unwrap();
    let server = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            chain,
            key_from(&dir.join(format!("3_application/private/{host}.key.pem"))),
        )
        .unwrap();
    let mut client_chain = certs_from(&dir.join(format!("4_client/certs/{host}.cert.pem")));
    client_chain.extend(certs_from(
        &dir.join("2_intermediate/certs/intermediate.cert.pem"),
    ));
    let client = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots(trust))
        .with_client_auth_cert(
            client_chain,
            key_from(&dir.join(format!("4_client/private/{host}.key.pem"))),
        )
        .unwrap();
    (server, client)
}

#[test]
fn generated_chains_pass_a_real_mutual_tls_handshake_for_every_key_type() {
    let tmp = TempDir::new("certs-tls");
    let host = "webapp.istioinaction.io";
    for key_type in ["ec-p256", "ec-p384", "ed25519"] {
        let dir = tmp.path().join(key_type);
        let (code, _, err) = certs_gen(&["--out", s(&dir), "--host", host, "--key-type", key_type]);
        assert_eq!(code, 0, "{err}");
        let root = dir.join("1_root/certs/ca.cert.pem");
        let (server, client) = mtls_configs(&dir, host, &root);
        handshake(server, client, host).unwrap_or_else(|e| panic!("{key_type}: {e}"));

        // The wrong name, or another chain's root, fails as it should.
        let (server, client) = mtls_configs(&dir, host, &root);
        assert!(handshake(server, client, "catalog.istioinaction.io").is_err());
    }
    let (server, client) = mtls_configs(
        &tmp.path().join("ec-p256"),
        host,
        &tmp.path().join("ec-p384/1_root/certs/ca.cert.pem"),
    );
    assert!(handshake(server, client, host).is_err());
}

/// The book's chapter-4 files: in the reference copy when present, else the repository's.
fn book_ch4() -> PathBuf {
    util::book_dir()
        .map(|b| b.join("ch4"))
        .filter(|p| p.is_dir())
        .unwrap_or_else(|| util::repo_root().join("scenarios/istio-in-action/ch4"))
}

#[test]
fn inspect_shows_the_books_own_certificates() {
    let ch4 = book_ch4();
    let leaf = ch4.join("certs/3_application/certs/webapp.istioinaction.io.cert.pem");
    let (code, text, err) = util::mesh_output(["certs", "inspect", s(&leaf)]);
    assert_eq!(code, 0, "{err}");
    for want in [
        "Certificate 1 of 1: X.509v3 Leaf certificate (RSA 2048) [Serial: 100212]",
        "Subject:           C=US, ST=Denial, L=Springfield, O=Dis, CN=webapp.istioinaction.io",
        "Issuer:            C=US, ST=Denial, O=Dis, CN=webapp.istioinaction.io",
        "Valid from:        2021-07-04T12:49:32Z",
        "to:        2041-06-29T12:49:32Z (valid for ",
        "SANs:              (none)",
        "Public key:        RSA (2048 bit)",
        "Basic constraints: CA:FALSE",
        "Key usage:         Digital Signature, Key Encipherment",
        "Ext key usage:     TLS Web Server Authentication",
    ] {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }

    // The chain file from stdin: intermediate then root, in order.
    let chain = std::fs::read(ch4.join("certs2/2_intermediate/certs/ca-chain.cert.pem")).unwrap();
    let mut child = Command::new(util::mesh_bin())
        .args(["certs", "inspect", "-", "--format", "json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&chain).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let certs = json["certificates"].as_array().unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[0]["role"], "Intermediate CA");
    assert_eq!(certs[0]["path_len"], 0);
    assert_eq!(
        certs[0]["subject"],
        "C=US, ST=Denial, O=Dis, CN=catalog.istioinaction.io"
    );
    assert_eq!(certs[1]["role"], "Root CA");
    assert_eq!(certs[1]["serial_hex"], "f41585540edd0dfc");
    assert_eq!(certs[1]["not_after"], "2041-06-29T13:30:35Z");
    assert_eq!(certs[1]["key_bits"], 4096);
    assert_eq!(json["chain"]["ok"], true);

    // A client certificate with its (PKCS#1) key, and a broken chain.
    let pair = format!(
        "{}{}",
        std::fs::read_to_string(
            ch4.join("sni/simple-sni-1/4_client/certs/simple-sni-1.istioinaction.io.cert.pem")
        )
        .unwrap(),
        std::fs::read_to_string(
            ch4.join("sni/simple-sni-1/4_client/private/simple-sni-1.istioinaction.io.key.pem")
        )
        .unwrap()
    );
    let tmp = TempDir::new("certs-inspect");
    let file = tmp.write("pair.pem", &pair);
    let (code, text, _) = util::mesh_output(["certs", "inspect", s(&file)]);
    assert_eq!(code, 0);
    assert!(
        text.contains("TLS Web Client Authentication, E-mail Protection"),
        "{text}"
    );
    assert!(
        text.contains("Private key: RSA 2048 (PKCS#1); matches certificate 1"),
        "{text}"
    );
    assert!(
        text.contains("Valid from:        2020-09-03T14:47:57Z"),
        "{text}"
    );

    let broken = format!(
        "{}{}",
        std::fs::read_to_string(&leaf).unwrap(),
        std::fs::read_to_string(ch4.join("certs/1_root/certs/ca.cert.pem")).unwrap()
    );
    let file = tmp.write("broken.pem", &broken);
    let (code, text, _) = util::mesh_output(["certs", "inspect", s(&file)]);
    assert_eq!(code, 0);
    assert!(text.contains("Chain: broken after certificate 1"), "{text}");

    let file = tmp.write("junk.pem", "hello\n");
    let (code, _, err) = util::mesh_output(["certs", "inspect", s(&file)]);
    assert_eq!(code, 1);
    assert!(err.contains("no PEM data found"), "{err}");
}

#[test]
fn workload_certificates_carry_only_the_spiffe_id_and_verify_against_the_root() {
    let ca = MeshCa::generate("cluster.local", KeyType::EcP256).unwrap();
    let id: WorkloadId = "spiffe://cluster.local/ns/istioinaction/sa/webapp"
        .parse()
        .unwrap();
    let wc = ca.issue_workload(&id, Duration::from_secs(3600)).unwrap();
    let ders = ca::parse_pem_chain(wc.cert_chain_pem.as_bytes()).unwrap();
    let info = ca::cert_info(&ders[0]).unwrap();
    assert_eq!(info.sans, vec![ca::San::Uri(id.to_string())]);
    assert_eq!(info.subject, "");
    assert_eq!(info.not_after_unix - info.not_before_unix, 3600 + 120);
    assert_eq!(info.not_after_unix, wc.not_after.unix_timestamp());

    // rustls (webpki) accepts it as a client certificate chained to the mesh root.
    let mut store = RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(wc.root_pem.as_bytes()) {
        store.add(c.unwrap()).unwrap();
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider())
        .build()
        .unwrap();
    verifier
        .verify_client_cert(&ders[0], &ders[1..], UnixTime::now())
        .unwrap();

    let Some(openssl_bin) = util::tool("openssl") else {
        return;
    };
    let tmp = TempDir::new("certs-workload");
    let chain = tmp.write("chain.pem", &wc.cert_chain_pem);
    let root = tmp.write("root.pem", &wc.root_pem);
    let (ok, text) = openssl(&openssl_bin, &["verify", "-CAfile", s(&root), s(&chain)]);
    assert!(ok, "{text}");
    let (ok, text) = openssl(
        &openssl_bin,
        &[
            "x509",
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName,extendedKeyUsage",
            "-in",
            s(&chain),
        ],
    );
    assert!(ok, "{text}");
    assert!(text.contains("critical"), "SAN is critical: {text}");
    assert!(
        text.contains("URI:spiffe://cluster.local/ns/istioinaction/sa/webapp"),
        "{text}"
    );
    assert!(!text.contains("DNS:"), "{text}");
    assert!(
        text.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
        "{text}"
    );
}

#[test]
fn istio_cacerts_output_loads_as_a_plug_in_ca_whose_workloads_verify() {
    let tmp = TempDir::new("certs-cacerts");
    let out = tmp.path().join("cacerts");
    let (code, stdout, err) = certs_gen(&["--istio-cacerts", "--out", s(&out)]);
    assert_eq!(code, 0, "{err}");
    for f in [
        "ca-cert.pem",
        "ca-key.pem",
        "root-cert.pem",
        "cert-chain.pem",
    ] {
        assert!(out.join(f).is_file(), "{f}");
        assert!(stdout.contains(s(&out.join(f))), "{stdout}");
    }
    assert!(
        stdout.contains("secret generic cacerts -n istio-system"),
        "{stdout}"
    );
    assert_private(&out.join("ca-key.pem"));

    let ca = MeshCa::from_dir(&out).unwrap();
    let read = |f: &str| std::fs::read_to_string(out.join(f)).unwrap();
    let same = MeshCa::from_pem(
        &read("ca-cert.pem"),
        &read("ca-key.pem"),
        &read("cert-chain.pem"),
        &read("root-cert.pem"),
    )
    .unwrap();
    assert_eq!(ca.to_pem(), same.to_pem());
    assert_eq!(ca.root_pem(), read("root-cert.pem"));

    let id = WorkloadId::new("cluster.local", "istioinaction", "catalog");
    let wc = ca.issue_workload(&id, ca::DEFAULT_WORKLOAD_TTL).unwrap();
    let ders = ca::parse_pem_chain(wc.cert_chain_pem.as_bytes()).unwrap();
    assert_eq!(ders.len(), 3, "leaf, ca-cert, root (istiod's answer)");
    let mut store = RootCertStore::empty();
    store
        .add(certs_from(&out.join("root-cert.pem")).remove(0))
        .unwrap();
    WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider())
        .build()
        .unwrap()
        .verify_client_cert(&ders[0], &ders[1..2], UnixTime::now())
        .unwrap();

    let Some(openssl_bin) = util::tool("openssl") else {
        return;
    };
    let leaf = tmp.write("leaf.pem", &wc.cert_chain_pem);
    let (ok, text) = openssl(
        &openssl_bin,
        &[
            "verify",
            "-CAfile",
            s(&out.join("root-cert.pem")),
            "-untrusted",
            s(&out.join("cert-chain.pem")),
            s(&leaf),
        ],
    );
    assert!(ok, "{text}");
    let (ok, text) = openssl(
        &openssl_bin,
        &[
            "verify",
            "-CAfile",
            s(&out.join("root-cert.pem")),
            s(&out.join("ca-cert.pem")),
        ],
    );
    assert!(ok, "{text}");
}

/// A plug-in CA made by openssl, as Istio's samples are: PKCS#1 RSA and SEC1 EC keys load.
#[test]
fn openssl_made_plug_in_cas_load() {
    let Some(openssl_bin) = util::tool("openssl") else {
        return;
    };
    let tmp = TempDir::new("certs-openssl-ca");
    let d = tmp.path();
    let run = |args: &[&str]| {
        let (ok, text) = openssl(&openssl_bin, args);
        assert!(ok, "openssl {args:?}: {text}");
    };
    let ext = tmp.write(
        "ext.cnf",
        "[req]\ndistinguished_name=dn\n[dn]\n[ca]\nbasicConstraints=critical,CA:true\nkeyUsage=critical,keyCertSign,digitalSignature\n\
         subjectKeyIdentifier=hash\n[int]\nbasicConstraints=critical,CA:true,pathlen:0\n\
         keyUsage=critical,keyCertSign,digitalSignature\nsubjectKeyIdentifier=hash\n\
         authorityKeyIdentifier=keyid\n",
    );
    for (name, root_key_args, int_key_args) in [
        (
            "rsa",
            vec!["genrsa", "-traditional", "-out"],
            vec!["genrsa", "-traditional", "-out"],
        ),
        (
            "ec",
            vec![
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
            ],
            vec!["ecparam", "-name", "secp384r1", "-genkey", "-noout", "-out"],
        ),
    ] {
        let p = |f: &str| d.join(format!("{name}-{f}"));
        run(&[&root_key_args[..], &[s(&p("root-key.pem"))]].concat());
        run(&[&int_key_args[..], &[s(&p("ca-key.pem"))]].concat());
        run(&[
            "req",
            "-x509",
            "-new",
            "-key",
            s(&p("root-key.pem")),
            "-subj",
            "/O=Istio/CN=Root CA",
            "-days",
            "3650",
            "-config",
            s(&ext),
            "-extensions",
            "ca",
            "-out",
            s(&p("root-cert.pem")),
        ]);
        run(&[
            "req",
            "-new",
            "-key",
            s(&p("ca-key.pem")),
            "-subj",
            "/O=Istio/CN=Intermediate CA",
            "-config",
            s(&ext),
            "-out",
            s(&p("ca.csr")),
        ]);
        run(&[
            "x509",
            "-req",
            "-in",
            s(&p("ca.csr")),
            "-CA",
            s(&p("root-cert.pem")),
            "-CAkey",
            s(&p("root-key.pem")),
            "-CAcreateserial",
            "-days",
            "730",
            "-extfile",
            s(&ext),
            "-extensions",
            "int",
            "-out",
            s(&p("ca-cert.pem")),
        ]);
        let read = |f: &str| std::fs::read_to_string(p(f)).unwrap();
        let key = read("ca-key.pem");
        assert!(
            key.contains("RSA PRIVATE KEY") || key.contains("EC PRIVATE KEY"),
            "{name}: a traditional key: {key}"
        );
        let chain = format!("{}{}", read("ca-cert.pem"), read("root-cert.pem"));
        let ca = MeshCa::from_pem(&read("ca-cert.pem"), &key, &chain, &read("root-cert.pem"))
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(ca::key_matches_cert(&key, &read("ca-cert.pem")).unwrap());
        assert!(!ca::key_matches_cert(&read("root-key.pem"), &read("ca-cert.pem")).unwrap());
        let wc = ca
            .issue_workload(
                &WorkloadId::new("cluster.local", "default", "sleep"),
                ca::DEFAULT_WORKLOAD_TTL,
            )
            .unwrap();
        let leaf = tmp.write(&format!("{name}-leaf.pem"), &wc.cert_chain_pem);
        let (ok, text) = openssl(
            &openssl_bin,
            &[
                "verify",
                "-CAfile",
                s(&p("root-cert.pem")),
                "-untrusted",
                s(&p("ca-cert.pem")),
                s(&leaf),
            ],
        );
        assert!(ok, "{name}: {text}");
    }
}
