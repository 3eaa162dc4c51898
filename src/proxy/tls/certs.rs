//! Certificates and keys as TLS needs them: reading a `DataSource` (inline string, base64
//! bytes, or a file relative to the working directory, as Envoy reads it), parsing PEM,
//! checking that a key belongs to its certificate, and the facts `/certs` prints about a
//! certificate (serial, SANs, validity).

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::sign::CertifiedKey;

use crate::xds::core::DataSource;
use crate::xds::tls::TlsCertificate;

/// What `/certs` prints as the `path` of certificates that were not read from a file.
pub const INLINE: &str = "<inline>";

/// Why certificate material could not be used. The texts follow Envoy's where it has one.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TlsError {
    #[error("Invalid path: {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("DataSource has no value (set one of filename, inline_string, inline_bytes)")]
    Empty,
    #[error("inline_bytes is not valid base64: {0}")]
    Base64(String),
    #[error(
        "environment_variable data sources are not supported by mesh (use filename or inline_string)"
    )]
    Environment,
    #[error("Failed to load certificate chain from {0}")]
    Chain(String),
    #[error("Failed to load private key from {0}")]
    Key(String),
    #[error("Failed to load trusted CA certificates from {0}")]
    Ca(String),
    #[error("the private key from {key} does not match the certificate from {cert}")]
    Mismatch { cert: String, key: String },
    #[error("{0}")]
    Other(String),
}

/// Bytes from a `DataSource`, and the path `/certs` shows for them.
pub fn read(ds: &DataSource) -> Result<(Vec<u8>, String), TlsError> {
    if let Some(path) = &ds.filename {
        // Relative names resolve against the working directory, as in Envoy.
        let bytes = std::fs::read(path).map_err(|e| TlsError::Read {
            path: path.clone(),
            reason: e.to_string(),
        })?;
        return Ok((bytes, path.clone()));
    }
    if let Some(s) = &ds.inline_string {
        return Ok((s.as_bytes().to_vec(), INLINE.to_owned()));
    }
    if let Some(b) = &ds.inline_bytes {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b.trim())
            .map_err(|e| TlsError::Base64(e.to_string()))?;
        return Ok((bytes, INLINE.to_owned()));
    }
    if ds.environment_variable.is_some() {
        return Err(TlsError::Environment);
    }
    Err(TlsError::Empty)
}

/// A certificate chain with its signing key, ready to serve, plus where it came from.
#[derive(Debug)]
pub struct LoadedCert {
    pub key: Arc<CertifiedKey>,
    pub path: String,
}

impl LoadedCert {
    /// Reads, parses and checks a `TlsCertificate`: the chain must hold at least one PEM
    /// certificate and the key must be the leaf's.
    pub fn load(tc: &TlsCertificate) -> Result<LoadedCert, TlsError> {
        let chain_src = tc
            .certificate_chain
            .as_ref()
            .ok_or_else(|| TlsError::Other("certificate_chain is required".to_owned()))?;
        let key_src = tc
            .private_key
            .as_ref()
            .ok_or_else(|| TlsError::Other("private_key is required".to_owned()))?;
        let (chain_pem, path) = read(chain_src)?;
        let (key_pem, key_path) = read(key_src)?;
        let chain = parse_certs(&chain_pem).ok_or_else(|| TlsError::Chain(path.clone()))?;
        let key =
            PrivateKeyDer::from_pem_slice(&key_pem).map_err(|_| TlsError::Key(key_path.clone()))?;
        let signer = rustls::crypto::ring::sign::any_supported_type(&key)
            .map_err(|_| TlsError::Key(key_path.clone()))?;
        let certified = CertifiedKey::new(chain, signer);
        certified.keys_match().map_err(|_| TlsError::Mismatch {
            cert: path.clone(),
            key: key_path,
        })?;
        Ok(LoadedCert {
            key: Arc::new(certified),
            path,
        })
    }

    /// Facts about the leaf certificate.
    pub fn info(&self) -> Option<CertInfo> {
        self.key
            .cert
            .first()
            .and_then(|c| CertInfo::parse(c, &self.path))
    }

    /// The leaf's serial number as `/certs` prints it.
    pub fn serial(&self) -> String {
        self.info().map(|i| i.serial_number).unwrap_or_default()
    }
}

/// Trusted CA certificates.
#[derive(Debug)]
pub struct LoadedCa {
    pub roots: Arc<RootCertStore>,
    /// The first CA certificate, which `/certs` describes.
    pub first: Option<CertificateDer<'static>>,
    pub path: String,
}

impl LoadedCa {
    pub fn load(ds: &DataSource) -> Result<LoadedCa, TlsError> {
        let (pem, path) = read(ds)?;
        let certs = parse_certs(&pem).ok_or_else(|| TlsError::Ca(path.clone()))?;
        let mut roots = RootCertStore::empty();
        let (added, _ignored) = roots.add_parsable_certificates(certs.iter().cloned());
        if added == 0 {
            return Err(TlsError::Ca(path));
        }
        Ok(LoadedCa {
            roots: Arc::new(roots),
            first: certs.into_iter().next(),
            path,
        })
    }

    pub fn info(&self) -> Option<CertInfo> {
        self.first
            .as_ref()
            .and_then(|c| CertInfo::parse(c, &self.path))
    }
}

/// Every certificate in a PEM text, or `None` when there is none or one is malformed.
fn parse_certs(pem: &[u8]) -> Option<Vec<CertificateDer<'static>>> {
    let certs: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(pem).collect();
    let certs = certs.ok()?;
    // A certificate that PEM-decodes but is not X.509 is as bad as a broken PEM block.
    let all_parse = certs
        .iter()
        .all(|c| x509_parser::parse_x509_certificate(c).is_ok());
    (!certs.is_empty() && all_parse).then_some(certs)
}

/// A subject alternative name, as `/certs` and SAN matching see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum San {
    Dns(String),
    Uri(String),
    Email(String),
    Ip(String),
}

/// What `/certs` shows about one certificate (`envoy.admin.v3.CertificateDetails`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub path: String,
    pub serial_number: String,
    pub sans: Vec<San>,
    /// Unix seconds.
    pub not_before: i64,
    pub not_after: i64,
}

impl CertInfo {
    pub fn parse(der: &CertificateDer<'_>, path: &str) -> Option<CertInfo> {
        let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
        let validity = cert.validity();
        Some(CertInfo {
            path: path.to_owned(),
            serial_number: serial_hex(cert.raw_serial()),
            sans: sans_of(&cert),
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
        })
    }

    /// Whole days left (0 once expired), as Envoy computes `days_until_expiration`.
    pub fn days_until_expiration(&self, now: SystemTime) -> u64 {
        let now = now
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        if self.not_after <= now {
            0
        } else {
            ((self.not_after - now) / 86_400) as u64
        }
    }
}

/// The SANs of a certificate's leaf (DER), for SAN matching.
pub fn sans_of_der(der: &[u8]) -> Vec<San> {
    match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => sans_of(&cert),
        Err(_) => Vec::new(),
    }
}

fn sans_of(cert: &x509_parser::certificate::X509Certificate<'_>) -> Vec<San> {
    use x509_parser::extensions::GeneralName;
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|n| match n {
            GeneralName::DNSName(d) => Some(San::Dns((*d).to_owned())),
            GeneralName::URI(u) => Some(San::Uri((*u).to_owned())),
            GeneralName::RFC822Name(e) => Some(San::Email((*e).to_owned())),
            GeneralName::IPAddress(b) => ip_text(b).map(San::Ip),
            _ => None,
        })
        .collect()
}

fn ip_text(b: &[u8]) -> Option<String> {
    let ip: IpAddr = match b.len() {
        4 => <[u8; 4]>::try_from(b).ok()?.into(),
        16 => <[u8; 16]>::try_from(b).ok()?.into(),
        _ => return None,
    };
    Some(ip.to_string())
}

/// BoringSSL's `BN_bn2hex` as Envoy prints serials: lowercase, two digits per byte, leading
/// zero bytes dropped (`0` for zero).
pub fn serial_hex(raw: &[u8]) -> String {
    let trimmed: Vec<u8> = raw.iter().copied().skip_while(|b| *b == 0).collect();
    if trimmed.is_empty() {
        return "0".to_owned();
    }
    trimmed.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serials_print_like_boringssl() {
        assert_eq!(serial_hex(&[0x00, 0xcb, 0xd3]), "cbd3");
        assert_eq!(serial_hex(&[0x0a, 0xbc]), "0abc");
        assert_eq!(serial_hex(&[0, 0]), "0");
    }

    #[test]
    fn data_sources_read_inline_and_base64() {
        let ds = DataSource {
            inline_bytes: Some("aGk=".to_owned()),
            ..Default::default()
        };
        assert_eq!(read(&ds).unwrap(), (b"hi".to_vec(), INLINE.to_owned()));
        let ds = DataSource {
            filename: Some("/nonexistent/x.pem".to_owned()),
            ..Default::default()
        };
        let err = read(&ds).unwrap_err().to_string();
        assert!(err.starts_with("Invalid path: /nonexistent/x.pem"), "{err}");
        assert!(matches!(read(&DataSource::default()), Err(TlsError::Empty)));
    }

    #[test]
    fn malformed_pem_is_refused() {
        let ds = DataSource {
            inline_string: Some(
                "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".to_owned(),
            ),
            ..Default::default()
        };
        assert!(matches!(LoadedCa::load(&ds), Err(TlsError::Ca(_))));
    }
}
