//! The network side of checks, as the user's own tools would do it: an HTTP/1.1 request (plain
//! or over TLS, curl's `--cacert/--cert/--key/--resolve`), a TLS handshake (openssl s_client),
//! a TCP exchange (nc). Every operation has a deadline.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// Client-side TLS material (paths already resolved).
#[derive(Debug, Clone, Default)]
pub struct TlsFiles<'a> {
    pub cacert: Option<&'a Path>,
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
}

pub fn tls_config(files: &TlsFiles) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    if let Some(ca) = files.cacert {
        let pem = std::fs::read(ca).map_err(|e| format!("cannot read {}: {e}", ca.display()))?;
        for c in CertificateDer::pem_slice_iter(&pem) {
            let c = c.map_err(|e| format!("{}: {e}", ca.display()))?;
            roots.add(c).map_err(|e| format!("{}: {e}", ca.display()))?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build();
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = match webpki {
        Ok(v) => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(CnFallback(v))),
        // No CA given: nothing is trusted, as with curl and an empty CA bundle.
        Err(_) => builder.with_root_certificates(rustls::RootCertStore::empty()),
    };
    match (files.cert, files.key) {
        (Some(cert), Some(key)) => {
            let pem =
                std::fs::read(cert).map_err(|e| format!("cannot read {}: {e}", cert.display()))?;
            let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&pem)
                .collect::<Result<_, _>>()
                .map_err(|e| format!("{}: {e}", cert.display()))?;
            let key_pem =
                std::fs::read(key).map_err(|e| format!("cannot read {}: {e}", key.display()))?;
            let key = PrivateKeyDer::from_pem_slice(&key_pem)
                .map_err(|e| format!("{}: {e}", key.display()))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("client certificate: {e}"))
        }
        (None, None) => Ok(builder.with_no_client_auth()),
        _ => Err("a client certificate needs both `cert` and `key`".into()),
    }
}

/// Verifies like curl with OpenSSL: the chain as webpki does, and a certificate without any
/// subjectAltName may match on its subject's CN (the book's certificates have only a CN).
#[derive(Debug)]
struct CnFallback(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for CnFallback {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError as C;
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                C::NotValidForName | C::NotValidForNameContext { .. },
            )) if cert_names(end_entity.as_ref())
                == (Vec::new(), Some(server_name.to_str().into_owned())) =>
            {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

async fn dial(addr: &str) -> Result<TcpStream, String> {
    let connect = TcpStream::connect(addr);
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("cannot connect to {addr}: {e}")),
        Err(_) => Err(format!("cannot connect to {addr}: timed out after 5s")),
    }
}

async fn handshake(
    tcp: TcpStream,
    sni: &str,
    files: &TlsFiles<'_>,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, String> {
    let config = tls_config(files)?;
    let name = ServerName::try_from(sni.to_owned())
        .map_err(|e| format!("{sni:?} is not a server name: {e}"))?;
    let connect = tokio_rustls::TlsConnector::from(Arc::new(config)).connect(name, tcp);
    match tokio::time::timeout(IO_TIMEOUT, connect).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("TLS handshake failed: {e}")),
        Err(_) => Err("TLS handshake timed out".into()),
    }
}

/// What a TLS handshake gave.
#[derive(Debug)]
pub struct Handshake {
    pub dns_names: Vec<String>,
}

/// Handshakes, then reads briefly: a server that wants a client certificate it did not get
/// says so with an alert right after the handshake (TLS 1.3), which counts as a failure.
pub async fn tls_handshake(
    addr: &str,
    sni: &str,
    files: &TlsFiles<'_>,
) -> Result<Handshake, String> {
    let tcp = dial(addr).await?;
    let mut tls = handshake(tcp, sni, files).await?;
    let dns_names = tls
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|c| c.first())
        .map(|c| san_names(c.as_ref()))
        .unwrap_or_default();
    let mut buf = [0u8; 1];
    if let Ok(Err(e)) = tokio::time::timeout(Duration::from_millis(300), tls.read(&mut buf)).await {
        return Err(format!(
            "the server ended the session after the handshake: {e}"
        ));
    }
    Ok(Handshake { dns_names })
}

/// A certificate's DNS subjectAltNames and its subject's CN.
fn cert_names(der: &[u8]) -> (Vec<String>, Option<String>) {
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else {
        return (Vec::new(), None);
    };
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .map(str::to_owned);
    let sans = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                x509_parser::extensions::GeneralName::DNSName(d) => Some((*d).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    (sans, cn)
}

/// The names a certificate is for, as curl checks them: its DNS SANs, else its CN.
fn san_names(der: &[u8]) -> Vec<String> {
    match cert_names(der) {
        (sans, _) if !sans.is_empty() => sans,
        (_, cn) => cn.into_iter().collect(),
    }
}

/// Connects, sends, and reads until every expected text has arrived in order (or 3 s pass).
/// Returns what was received.
pub async fn tcp_exchange(
    addr: &str,
    send: Option<&str>,
    expect: &[String],
) -> Result<String, String> {
    let mut tcp = dial(addr).await?;
    if let Some(s) = send {
        tcp.write_all(s.as_bytes())
            .await
            .map_err(|e| format!("cannot send to {addr}: {e}"))?;
    }
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(3);
    let mut buf = [0u8; 4096];
    while !in_order(&String::from_utf8_lossy(&got), expect) {
        let mut left = deadline.saturating_duration_since(Instant::now());
        // Once the peer has answered, a pause means it said what it will say: stop waiting
        // (an echo server keeps the connection open), so a retry can come sooner.
        if !got.is_empty() {
            left = left.min(Duration::from_millis(300));
        }
        match tokio::time::timeout(left, tcp.read(&mut buf)).await {
            Ok(Ok(0)) | Err(_) => break,
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => {
                return Err(format!(
                    "{addr} reset the connection after {:?}: {e}",
                    String::from_utf8_lossy(&got)
                ));
            }
        }
    }
    Ok(String::from_utf8_lossy(&got).into_owned())
}

/// Whether `text` holds every needle, in this order.
pub fn in_order(text: &str, needles: &[String]) -> bool {
    let mut at = 0;
    for n in needles {
        match text[at..].find(n.as_str()) {
            Some(i) => at += i + n.len(),
            None => return false,
        }
    }
    true
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub elapsed: Duration,
}

/// One request.
#[derive(Debug)]
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a [(String, String)],
    pub body: &'a str,
    /// Dial this instead of the URL's authority.
    pub connect: Option<&'a str>,
    pub tls: TlsFiles<'a>,
}

pub async fn http(req: &Request<'_>) -> Result<Answer, String> {
    let uri: http::Uri = req
        .url
        .parse()
        .map_err(|e| format!("bad URL {:?}: {e}", req.url))?;
    let https = uri.scheme_str() == Some("https");
    let host = uri.host().unwrap_or("localhost").to_owned();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri
        .authority()
        .map_or_else(|| host.clone(), |a| a.as_str().to_owned());
    let target = req.connect.map_or_else(
        || {
            // `localhost` as curl resolves it, without asking the system resolver.
            let h = if host == "localhost" {
                "127.0.0.1"
            } else {
                &host
            };
            format!("{h}:{port}")
        },
        str::to_owned,
    );
    let started = Instant::now();
    let tcp = dial(&target).await?;
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let mut builder = http::Request::builder().method(req.method).uri(path);
    if !req
        .headers
        .iter()
        .any(|(k, _)| k.eq_ignore_ascii_case("host"))
    {
        builder = builder.header(http::header::HOST, authority);
    }
    builder = builder.header(http::header::USER_AGENT, "mesh-lab");
    for (k, v) in req.headers {
        builder = builder.header(k.as_str(), v.as_str());
    }
    let request = builder
        .body(Full::new(Bytes::from(req.body.to_owned())))
        .map_err(|e| format!("bad request: {e}"))?;
    let answer = if https {
        let tls = handshake(tcp, &host, &req.tls).await?;
        exchange(tls, request).await
    } else {
        exchange(tcp, request).await
    }?;
    Ok(Answer {
        elapsed: started.elapsed(),
        ..answer
    })
}

async fn exchange<S>(io: S, request: http::Request<Full<Bytes>>) -> Result<Answer, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let run = async move {
        let (mut send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(io))
            .await
            .map_err(|e| format!("HTTP handshake failed: {e}"))?;
        tokio::spawn(conn);
        let resp = send
            .send_request(request)
            .await
            .map_err(|e| format!("the request failed: {e}"))?;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the body failed: {e}"))?
            .to_bytes()
            .to_vec();
        Ok(Answer {
            status,
            headers,
            body,
            elapsed: Duration::ZERO,
        })
    };
    tokio::time::timeout(IO_TIMEOUT, run)
        .await
        .map_err(|_| format!("no answer within {}s", IO_TIMEOUT.as_secs()))?
}

/// A plain GET to a proxy's admin API.
pub async fn admin_get(addr: SocketAddr, path: &str) -> Result<String, String> {
    match crate::client::admin_request(addr, http::Method::GET, path).await {
        Ok((200, body)) => Ok(body),
        Ok((status, body)) => Err(format!("admin API {addr}{path} answered {status}: {body}")),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needles_in_order() {
        let t = "hello world\nfoo\n".to_owned();
        assert!(in_order(&t, &["hello".into(), "foo".into()]));
        assert!(!in_order(&t, &["foo".into(), "hello".into()]));
        assert!(in_order(&t, &[]));
    }
}
