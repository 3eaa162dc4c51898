//! Hosts outside the mesh, simulated (the sandbox has no internet). Each host a scenario
//! declares (`externalHosts`) gets an address of its own (`127.<40+slot>.0.<n>`), the
//! sandbox's DNS answers its name with that address — for apps, `mesh exec` and the proxies'
//! DNS clusters alike — and an httpbin answers on each declared port there: plain HTTP on
//! `ports`, HTTPS with a self-signed certificate for the name on `tlsPorts`. The ports are
//! reached through [`crate::net::internet`], so port 80 needs no privileges.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::scenario::ExternalHostSpec;

/// First octet after 127 of external hosts' addresses (plus the sandbox's slot).
const BASE: u8 = 40;

/// A running external host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalHost {
    pub host: String,
    pub ip: IpAddr,
    /// (port clients dial, where it really listens), plain HTTP then HTTPS ports.
    pub ports: Vec<(u16, SocketAddr)>,
    /// The self-signed certificate of the HTTPS ports (PEM), if it has any.
    pub certificate: Option<String>,
    /// Where [`save_certificates`] put it, for `caCertificates` in a DestinationRule.
    pub certificate_file: Option<std::path::PathBuf>,
}

/// Starts every declared host; they stop with `stop`. A host's routes are published only once
/// all its ports listen; if one host cannot start, none stays up.
pub fn start(
    slot: u8,
    specs: &[ExternalHostSpec],
    stop: &CancellationToken,
) -> std::io::Result<Vec<ExternalHost>> {
    let mut out = Vec::new();
    let started = start_each(slot, specs, stop, &mut out);
    if started.is_err() {
        withdraw(&out);
        stop.cancel();
    }
    started.map(|()| out)
}

fn start_each(
    slot: u8,
    specs: &[ExternalHostSpec],
    stop: &CancellationToken,
    out: &mut Vec<ExternalHost>,
) -> std::io::Result<()> {
    for (n, spec) in specs.iter().enumerate() {
        let last = u8::try_from(n + 1).map_err(|_| {
            std::io::Error::other("at most 254 external hosts fit a sandbox's address block")
        })?;
        let ip = IpAddr::V4(Ipv4Addr::new(127, BASE + slot, 0, last));
        let host = spec.host.to_ascii_lowercase();
        // One httpbin per host; every port leads to it.
        let plain = crate::net::bind_tcp(SocketAddr::new(ip, 0))?;
        let httpbin = plain.local_addr()?;
        let app_stop = stop.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::apps::httpbin::serve(plain, app_stop).await {
                tracing::warn!("external host at {httpbin} stopped: {e}");
            }
        });
        let mut ports: Vec<(u16, SocketAddr)> = spec.ports.iter().map(|p| (*p, httpbin)).collect();
        let mut certificate = None;
        if !spec.tls_ports.is_empty() {
            let (pem, acceptor) = self_signed(&host)?;
            certificate = Some(pem);
            for port in &spec.tls_ports {
                let listener = crate::net::bind_tcp(SocketAddr::new(ip, 0))?;
                ports.push((*port, listener.local_addr()?));
                tokio::spawn(terminate_tls(
                    listener,
                    acceptor.clone(),
                    httpbin,
                    stop.clone(),
                ));
            }
        }
        for (port, listening) in &ports {
            crate::net::internet::publish(SocketAddr::new(ip, *port), *listening);
        }
        out.push(ExternalHost {
            host,
            ip,
            ports,
            certificate,
            certificate_file: None,
        });
    }
    Ok(())
}

/// A certificate for `host`, signed by its own key, and a TLS acceptor serving it.
fn self_signed(host: &str) -> std::io::Result<(String, tokio_rustls::TlsAcceptor)> {
    let err = |e: rcgen::Error| std::io::Error::other(format!("certificate for {host}: {e}"));
    let key = rcgen::KeyPair::generate().map_err(err)?;
    let cert = rcgen::CertificateParams::new(vec![host.to_owned()])
        .map_err(err)?
        .self_signed(&key)
        .map_err(err)?;
    let chain = vec![CertificateDer::from(cert.der().to_vec())];
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(std::io::Error::other)?
    .with_no_client_auth()
    .with_single_cert(chain, private)
    .map_err(std::io::Error::other)?;
    Ok((
        cert.pem(),
        tokio_rustls::TlsAcceptor::from(Arc::new(config)),
    ))
}

/// Accepts TLS and hands the plain bytes to the host's httpbin.
async fn terminate_tls(
    listener: TcpListener,
    acceptor: tokio_rustls::TlsAcceptor,
    httpbin: SocketAddr,
    stop: CancellationToken,
) {
    loop {
        let stream = tokio::select! {
            () = stop.cancelled() => return,
            accepted = listener.accept() => match accepted {
                Ok((s, _)) => s,
                Err(_) => {
                    // Transient (fd exhaustion, aborted handshakes): do not spin.
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let Ok(mut tls) = acceptor.accept(stream).await else {
                return;
            };
            if let Ok(mut app) = crate::net::dial_tcp(httpbin).await {
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut app).await;
            }
        });
    }
}

/// Writes each HTTPS host's certificate to `external-<host>.crt` in the sandbox's state
/// directory, so TLS origination can trust it (`caCertificates`, `curl --cacert`).
pub fn save_certificates(
    hosts: &mut [ExternalHost],
    state: &super::state_dir::StateDir,
) -> std::io::Result<()> {
    for h in hosts.iter_mut() {
        if let Some(pem) = &h.certificate {
            let name = format!("external-{}.crt", h.host);
            state.write_atomic(&name, pem.as_bytes(), 0o644)?;
            h.certificate_file = Some(state.path().join(name));
        }
    }
    Ok(())
}

/// Takes the hosts off the (simulated) internet.
pub fn withdraw(hosts: &[ExternalHost]) {
    for h in hosts {
        for (port, _) in &h.ports {
            crate::net::internet::withdraw(SocketAddr::new(h.ip, *port));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_host_answers_on_its_declared_ports_at_its_own_address() {
        let stop = CancellationToken::new();
        let specs = [ExternalHostSpec {
            host: "HttpBin.org".into(),
            ports: vec![80],
            tls_ports: vec![443],
        }];
        let hosts = start(9, &specs, &stop).unwrap();
        assert_eq!(hosts[0].host, "httpbin.org");
        assert_eq!(hosts[0].ip, IpAddr::V4(Ipv4Addr::new(127, 49, 0, 1)));
        let mut s = crate::net::dial_tcp(SocketAddr::new(hosts[0].ip, 80))
            .await
            .unwrap();
        s.write_all(b"GET /status/418 HTTP/1.1\r\nHost: httpbin.org\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 418"), "{reply}");
        // 443 speaks TLS with a certificate for the name.
        let pem = hosts[0].certificate.clone().unwrap();
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls::pki_types::pem::PemObject::pem_slice_iter(pem.as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
        let tcp = crate::net::dial_tcp(SocketAddr::new(hosts[0].ip, 443))
            .await
            .unwrap();
        let name = rustls::pki_types::ServerName::try_from("httpbin.org").unwrap();
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .unwrap();
        tls.write_all(
            b"GET /status/201 HTTP/1.1\r\nHost: httpbin.org\r\nConnection: close\r\n\r\n",
        )
        .await
        .unwrap();
        let mut reply = Vec::new();
        let _ = tls.read_to_end(&mut reply).await;
        let reply = String::from_utf8_lossy(&reply);
        assert!(reply.starts_with("HTTP/1.1 201"), "{reply}");
        withdraw(&hosts);
        stop.cancel();
    }
}
