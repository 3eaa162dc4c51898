//! fake-service's own HTTPS (`http.ListenAndServeTLS` with `TLS_CERT_LOCATION` and
//! `TLS_KEY_LOCATION`), the certificate and key read from the container's mounted [`Files`].
//! As Go 1.12's server: every `CERTIFICATE` block of the cert file is the chain sent, the first
//! private key (PKCS#1 `RSA PRIVATE KEY` as the book's, PKCS#8 or SEC1) signs, ALPN offers
//! `h2` and `http/1.1`, and only TLS 1.2 is spoken (Go 1.12 had TLS 1.3 behind a flag).

use std::sync::Arc;

use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::apps::files::Files;

/// Why HTTPS cannot start; the text after `path: ` is what Go would say.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("open {path}: no such file or directory ({})", mounted(files))]
    Missing { path: String, files: Vec<String> },
    #[error("tls: failed to find any PEM data in certificate input ({path})")]
    NoCertificate { path: String },
    #[error("tls: failed to find any PEM data in key input ({path})")]
    NoKey { path: String },
    #[error("tls: {reason} ({cert} with {key})")]
    Rejected {
        cert: String,
        key: String,
        reason: String,
    },
}

impl TlsError {
    /// Only Go's words, as `Error starting service: … error="…"` logs them.
    pub fn go_text(&self) -> String {
        match self {
            TlsError::Missing { path, .. } => format!("open {path}: no such file or directory"),
            TlsError::NoCertificate { .. } => {
                "tls: failed to find any PEM data in certificate input".to_owned()
            }
            TlsError::NoKey { .. } => "tls: failed to find any PEM data in key input".to_owned(),
            TlsError::Rejected { reason, .. } => format!("tls: {reason}"),
        }
    }
}

fn mounted(files: &[String]) -> String {
    if files.is_empty() {
        "the pod mounts no files: mount the Secret with a volume and a volumeMount".to_owned()
    } else {
        format!("mounted files: {}", files.join(", "))
    }
}

/// `tls.LoadX509KeyPair(cert, key)` and the server config Go builds around it.
pub fn server_config(files: &Files, cert: &str, key: &str) -> Result<Arc<ServerConfig>, TlsError> {
    let read = |path: &str| {
        files.read(path).ok_or_else(|| TlsError::Missing {
            path: path.to_owned(),
            files: files.paths().map(str::to_owned).collect(),
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .filter_map(Result::ok)
        .collect();
    if chain.is_empty() {
        return Err(TlsError::NoCertificate {
            path: cert.to_owned(),
        });
    }
    let private = PrivateKeyDer::from_pem_slice(key_pem).map_err(|_| TlsError::NoKey {
        path: key.to_owned(),
    })?;
    let rejected = |reason: String| TlsError::Rejected {
        cert: cert.to_owned(),
        key: key.to_owned(),
        reason,
    };
    // An explicit provider: no process-wide default needs installing for an app to serve TLS.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS12])
        .map_err(|e| rejected(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, private)
        .map_err(|e| rejected(go_reason(&e)))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Go's words for the usual pairing failures.
fn go_reason(err: &rustls::Error) -> String {
    match err {
        rustls::Error::InconsistentKeys(_) => "private key does not match public key".to_owned(),
        other => other.to_string(),
    }
}
