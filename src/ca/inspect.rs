//! Reading certificates: the facts the rest of mesh needs ([`cert_info`], [`parse_pem_chain`],
//! [`key_matches_cert`]) and the summary `mesh certs inspect` prints ([`inspect_pem`]).

use std::net::IpAddr;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::SectionKind;
use serde::Serialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::FromDer;

use super::Error;
use super::keys::{self, KeyAlgorithm};
use super::pem::{self, Block};

/// A subject alternative name. JSON: `{"dns": …}`, `{"uri": …}`, `{"ip_address": …}`,
/// `{"email": …}` (the shape of Envoy's `/certs`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum San {
    Dns(String),
    Uri(String),
    IpAddress(String),
    Email(String),
}

impl std::fmt::Display for San {
    /// openssl's spelling: `DNS:x`, `URI:x`, `IP Address:x`, `email:x`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            San::Dns(v) => write!(f, "DNS:{v}"),
            San::Uri(v) => write!(f, "URI:{v}"),
            San::IpAddress(v) => write!(f, "IP Address:{v}"),
            San::Email(v) => write!(f, "email:{v}"),
        }
    }
}

/// What mesh needs to know about one certificate (admin `/certs`, `proxy-config secret`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// Lower-case hex without separators or leading zero bytes (Envoy's `serial_number`;
    /// `openssl x509 -serial` prints the same digits upper-case).
    pub serial_hex: String,
    /// RFC 4514-ish, in certificate order: `C=US, ST=Denial, O=Dis, CN=…` (empty for
    /// workload certificates).
    pub subject: String,
    pub issuer: String,
    /// RFC 3339, UTC.
    pub not_before: String,
    pub not_before_unix: i64,
    pub not_after: String,
    pub not_after_unix: i64,
    pub sans: Vec<San>,
    pub is_ca: bool,
}

fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.to_string())
}

fn parse_x509(index: usize, der: &[u8]) -> Result<X509Certificate<'_>, Error> {
    match X509Certificate::from_der(der) {
        Ok((_, cert)) => Ok(cert),
        Err(e) => Err(Error::BadCertificate {
            index,
            reason: e.to_string(),
        }),
    }
}

fn serial_hex(raw: &[u8]) -> String {
    let skip = raw.iter().take_while(|b| **b == 0).count();
    let digits: String = raw[skip..].iter().map(|b| format!("{b:02x}")).collect();
    if digits.is_empty() {
        "00".into()
    } else {
        digits
    }
}

fn sans_of(cert: &X509Certificate<'_>) -> Vec<San> {
    let Ok(Some(ext)) = cert.subject_alternative_name() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(v) => Some(San::Dns((*v).to_owned())),
            GeneralName::URI(v) => Some(San::Uri((*v).to_owned())),
            GeneralName::RFC822Name(v) => Some(San::Email((*v).to_owned())),
            GeneralName::IPAddress(b) => Some(San::IpAddress(ip_string(b))),
            _ => None,
        })
        .collect()
}

fn ip_string(bytes: &[u8]) -> String {
    match bytes.len() {
        4 => {
            let a: [u8; 4] = [bytes[0], bytes[1], bytes[2], bytes[3]];
            IpAddr::from(a).to_string()
        }
        16 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(bytes);
            IpAddr::from(a).to_string()
        }
        _ => bytes.iter().map(|b| format!("{b:02x}")).collect(),
    }
}

fn info_of(cert: &X509Certificate<'_>) -> CertInfo {
    let nb = cert.validity().not_before.to_datetime();
    let na = cert.validity().not_after.to_datetime();
    CertInfo {
        serial_hex: serial_hex(cert.raw_serial()),
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: rfc3339(nb),
        not_before_unix: nb.unix_timestamp(),
        not_after: rfc3339(na),
        not_after_unix: na.unix_timestamp(),
        sans: sans_of(cert),
        is_ca: cert.is_ca(),
    }
}

/// The facts of one DER certificate.
pub fn cert_info(der: &[u8]) -> Result<CertInfo, Error> {
    parse_x509(1, der).map(|c| info_of(&c))
}

/// Every certificate of a PEM bundle, in order, checked to be valid now. Fails with the
/// reason: malformed PEM, a block that is not a certificate, bad DER, expired, not yet valid.
pub fn parse_pem_chain(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, Error> {
    parse_pem_chain_at(pem, OffsetDateTime::now_utc())
}

/// [`parse_pem_chain`] with the validity checked at `now`.
pub fn parse_pem_chain_at(
    pem: &[u8],
    now: OffsetDateTime,
) -> Result<Vec<CertificateDer<'static>>, Error> {
    let blocks = pem::blocks(pem)?;
    if blocks.is_empty() {
        return Err(Error::NoPem);
    }
    let mut out = Vec::with_capacity(blocks.len());
    for (i, block) in blocks.iter().enumerate() {
        let index = i + 1;
        if block.kind != Some(SectionKind::Certificate) {
            return Err(Error::NotACertificate {
                index,
                label: block.label.clone(),
            });
        }
        let cert = parse_x509(index, &block.der)?;
        let v = cert.validity();
        if now > v.not_after.to_datetime() {
            return Err(Error::Expired {
                index,
                subject: display_name(&cert.subject().to_string()),
                not_after: rfc3339(v.not_after.to_datetime()),
            });
        }
        if now < v.not_before.to_datetime() {
            return Err(Error::NotYetValid {
                index,
                subject: display_name(&cert.subject().to_string()),
                not_before: rfc3339(v.not_before.to_datetime()),
            });
        }
        out.push(CertificateDer::from(block.der.clone()));
    }
    Ok(out)
}

/// Does the first private key in `key_pem` belong to the first certificate in `cert_pem`?
/// (Its public key equals the certificate's subjectPublicKeyInfo key.)
pub fn key_matches_cert(key_pem: &str, cert_pem: &str) -> Result<bool, Error> {
    let key = keys::load_pem(key_pem)?;
    let blocks = pem::blocks(cert_pem.as_bytes())?;
    let block = blocks
        .iter()
        .find(|b| b.kind == Some(SectionKind::Certificate))
        .ok_or(Error::NoCertificate)?;
    let cert = parse_x509(1, &block.der)?;
    Ok(public_key_matches(&key, &cert))
}

pub(crate) fn public_key_matches(key: &rcgen::KeyPair, cert: &X509Certificate<'_>) -> bool {
    key.public_key_raw() == cert.public_key().subject_public_key.data.as_ref()
}

/// `Some(name)` or `(empty)`, for messages.
fn display_name(name: &str) -> String {
    if name.is_empty() {
        "empty subject".into()
    } else {
        name.to_owned()
    }
}

/// One certificate, summarised as `step certificate inspect --short` and openssl show it.
#[derive(Debug, Clone, Serialize)]
pub struct CertSummary {
    /// 1-based position in the bundle.
    pub index: usize,
    /// `Root CA`, `Intermediate CA` or `Leaf`.
    pub role: String,
    pub version: u32,
    #[serde(flatten)]
    pub info: CertInfo,
    /// `valid`, `expired` or `not yet valid`.
    pub status: String,
    /// Whole days until notAfter (negative once expired).
    pub days_left: i64,
    /// `RSA 2048`, `ECDSA P-256`, `Ed25519`…
    pub key: String,
    pub key_type: String,
    pub key_bits: Option<usize>,
    pub signature_algorithm: String,
    pub self_signed: bool,
    /// basicConstraints pathLenConstraint.
    pub path_len: Option<u32>,
    /// openssl's names: `Digital Signature`, `Certificate Sign`…
    pub key_usage: Vec<String>,
    /// openssl's names: `TLS Web Server Authentication`…
    pub extended_key_usage: Vec<String>,
    pub subject_key_id: Option<String>,
    pub authority_key_id: Option<String>,
}

/// A private key found in the bundle.
#[derive(Debug, Clone, Serialize)]
pub struct KeySummary {
    /// 1-based position among all PEM blocks.
    pub block: usize,
    /// `PKCS#8`, `PKCS#1` or `SEC1`.
    pub format: String,
    pub key: String,
    pub key_type: String,
    pub key_bits: Option<usize>,
    /// The index of the certificate in the bundle whose public key this key matches.
    pub matches_certificate: Option<usize>,
}

/// Whether the certificates are in chain order (each signed by the next).
#[derive(Debug, Clone, Serialize)]
pub struct ChainCheck {
    pub ok: bool,
    /// Where the order breaks: certificate `n` is not signed by certificate `n + 1`.
    pub broken_at: Option<usize>,
    pub message: String,
}

/// Everything `mesh certs inspect` reports about a PEM bundle.
#[derive(Debug, Clone, Serialize)]
pub struct Inspection {
    pub certificates: Vec<CertSummary>,
    pub keys: Vec<KeySummary>,
    /// Only when the bundle holds certificates.
    pub chain: Option<ChainCheck>,
    /// Labels of PEM blocks that are neither certificates nor keys we read.
    pub skipped: Vec<String>,
}

const KEY_USAGE_NAMES: [&str; 9] = [
    "Digital Signature",
    "Non Repudiation",
    "Key Encipherment",
    "Data Encipherment",
    "Key Agreement",
    "Certificate Sign",
    "CRL Sign",
    "Encipher Only",
    "Decipher Only",
];

fn colon_hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

fn summarise(index: usize, cert: &X509Certificate<'_>, now: OffsetDateTime) -> CertSummary {
    use x509_parser::extensions::ParsedExtension;

    let info = info_of(cert);
    let nb = cert.validity().not_before.to_datetime();
    let na = cert.validity().not_after.to_datetime();
    let status = if now > na {
        "expired"
    } else if now < nb {
        "not yet valid"
    } else {
        "valid"
    };
    let days_left = (na - now).whole_days();
    let key = keys::describe_spki(cert.public_key().raw).unwrap_or(KeyAlgorithm::Other {
        oid: cert.public_key().algorithm.algorithm.to_id_string(),
    });
    let same_name = cert.subject().as_raw() == cert.issuer().as_raw();
    let self_signed = same_name && cert.verify_signature(None).is_ok();
    let bc = cert.basic_constraints().ok().flatten().map(|e| e.value);
    let role = match (info.is_ca, self_signed) {
        (true, true) => "Root CA",
        (true, false) => "Intermediate CA",
        (false, _) => "Leaf",
    };
    let key_usage = match cert.key_usage() {
        Ok(Some(ku)) => KEY_USAGE_NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| (ku.value.flags >> i) & 1 == 1)
            .map(|(_, n)| (*n).to_owned())
            .collect(),
        _ => Vec::new(),
    };
    let extended_key_usage = match cert.extended_key_usage() {
        Ok(Some(eku)) => {
            let e = eku.value;
            let mut v: Vec<String> = [
                (e.server_auth, "TLS Web Server Authentication"),
                (e.client_auth, "TLS Web Client Authentication"),
                (e.code_signing, "Code Signing"),
                (e.email_protection, "E-mail Protection"),
                (e.time_stamping, "Time Stamping"),
                (e.ocsp_signing, "OCSP Signing"),
                (e.any, "Any Extended Key Usage"),
            ]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, n)| (*n).to_owned())
            .collect();
            v.extend(e.other.iter().map(|o| o.to_id_string()));
            v
        }
        _ => Vec::new(),
    };
    let mut subject_key_id = None;
    let mut authority_key_id = None;
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => subject_key_id = Some(colon_hex(id.0)),
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                authority_key_id = aki.key_identifier.as_ref().map(|id| colon_hex(id.0))
            }
            _ => {}
        }
    }
    let sig_oid = &cert.signature_algorithm.algorithm;
    let signature_algorithm =
        x509_parser::objects::oid2sn(sig_oid, x509_parser::objects::oid_registry())
            .map(str::to_owned)
            .unwrap_or_else(|_| sig_oid.to_id_string());
    CertSummary {
        index,
        role: role.into(),
        version: cert.version().0 + 1,
        info,
        status: status.into(),
        days_left,
        key: key.to_string(),
        key_type: key.kind().into(),
        key_bits: key.bits(),
        signature_algorithm,
        self_signed,
        path_len: bc.and_then(|b| b.path_len_constraint),
        key_usage,
        extended_key_usage,
        subject_key_id,
        authority_key_id,
    }
}

fn check_chain(certs: &[(usize, X509Certificate<'_>)]) -> ChainCheck {
    let name = |c: &X509Certificate<'_>| display_name(&c.subject().to_string());
    for (pos, pair) in certs.windows(2).enumerate() {
        let (child, parent) = (&pair[0].1, &pair[1].1);
        let (a, b) = (pos + 1, pos + 2);
        if child.issuer().as_raw() != parent.subject().as_raw() {
            return ChainCheck {
                ok: false,
                broken_at: Some(a),
                message: format!(
                    "broken after certificate {a}: it was issued by \"{}\", but certificate {b} is \"{}\"",
                    display_name(&child.issuer().to_string()),
                    name(parent)
                ),
            };
        }
        if let Err(e) = child.verify_signature(Some(parent.public_key())) {
            return ChainCheck {
                ok: false,
                broken_at: Some(a),
                message: format!(
                    "broken after certificate {a}: its signature does not verify with certificate {b}'s key ({e})"
                ),
            };
        }
    }
    let Some((_, last)) = certs.last() else {
        return ChainCheck {
            ok: false,
            broken_at: None,
            message: "no certificates".into(),
        };
    };
    let n = certs.len();
    let top = if last.subject().as_raw() == last.issuer().as_raw()
        && last.verify_signature(None).is_ok()
    {
        format!("ends at the self-signed root \"{}\"", name(last))
    } else {
        format!(
            "ends at \"{}\", issued by \"{}\" (not in this bundle)",
            name(last),
            display_name(&last.issuer().to_string())
        )
    };
    let message = if n == 1 {
        format!("1 certificate; {top}")
    } else {
        format!("ok: {n} certificates, each signed by the next; {top}")
    };
    ChainCheck {
        ok: true,
        broken_at: None,
        message,
    }
}

/// Summarises every certificate and key in a PEM bundle.
pub fn inspect_pem(pem: &[u8]) -> Result<Inspection, Error> {
    inspect_pem_at(pem, OffsetDateTime::now_utc())
}

/// [`inspect_pem`] with validity judged at `now`.
pub fn inspect_pem_at(pem: &[u8], now: OffsetDateTime) -> Result<Inspection, Error> {
    let blocks = pem::blocks(pem)?;
    if blocks.is_empty() {
        return Err(Error::NoPem);
    }
    let mut certs: Vec<(usize, X509Certificate<'_>)> = Vec::new();
    let mut key_blocks: Vec<(usize, &Block)> = Vec::new();
    let mut skipped = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        if block.kind == Some(SectionKind::Certificate) {
            certs.push((certs.len() + 1, parse_x509(certs.len() + 1, &block.der)?));
        } else if keys::is_private_key(block) {
            key_blocks.push((i + 1, block));
        } else {
            skipped.push(block.label.clone());
        }
    }
    let mut key_summaries = Vec::new();
    for (block_index, block) in key_blocks {
        let alg = keys::describe_private(block)?;
        let matches_certificate = keys::load(block).ok().and_then(|pair| {
            certs
                .iter()
                .find(|(_, c)| public_key_matches(&pair, c))
                .map(|(i, _)| *i)
        });
        key_summaries.push(KeySummary {
            block: block_index,
            format: block.kind.map(keys::key_format).unwrap_or("unknown").into(),
            key: alg.to_string(),
            key_type: alg.kind().into(),
            key_bits: alg.bits(),
            matches_certificate,
        });
    }
    let summaries = certs.iter().map(|(i, c)| summarise(*i, c, now)).collect();
    let chain = (!certs.is_empty()).then(|| check_chain(&certs));
    Ok(Inspection {
        certificates: summaries,
        keys: key_summaries,
        chain,
        skipped,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_hex_drops_sign_padding() {
        assert_eq!(serial_hex(&[0x00, 0x10, 0x02, 0x12]), "100212");
        assert_eq!(serial_hex(&[0x0f, 0xab]), "0fab");
        assert_eq!(serial_hex(&[0x00]), "00");
    }

    #[test]
    fn parse_pem_chain_names_what_is_wrong() {
        assert!(matches!(
            parse_pem_chain(b"nothing here"),
            Err(Error::NoPem)
        ));
        let key = pem::encode("PRIVATE KEY", b"x");
        match parse_pem_chain(key.as_bytes()) {
            Err(Error::NotACertificate { index: 1, label }) => assert_eq!(label, "PRIVATE KEY"),
            other => panic!("{other:?}"),
        }
        let junk = pem::encode("CERTIFICATE", b"not der");
        let err = parse_pem_chain(junk.as_bytes()).unwrap_err();
        assert!(
            matches!(err, Error::BadCertificate { index: 1, .. }),
            "{err}"
        );
    }

    #[test]
    fn validity_is_judged_at_the_given_time() {
        let opts = crate::ca::BookChainOptions {
            days_leaf: 1,
            ..Default::default()
        };
        let plan = crate::ca::book_chain(&["a.example".to_owned()], &opts).unwrap();
        let leaf = plan.get("3_application/certs/a.example.cert.pem").unwrap();
        let now = OffsetDateTime::now_utc();
        assert_eq!(parse_pem_chain_at(leaf.as_bytes(), now).unwrap().len(), 1);
        let later = now + time::Duration::days(3);
        let err = parse_pem_chain_at(leaf.as_bytes(), later).unwrap_err();
        assert!(matches!(err, Error::Expired { index: 1, .. }), "{err}");
        assert!(
            err.to_string().contains("CN=a.example) expired at"),
            "{err}"
        );
        let earlier = now - time::Duration::days(1);
        let err = parse_pem_chain_at(leaf.as_bytes(), earlier).unwrap_err();
        assert!(matches!(err, Error::NotYetValid { .. }), "{err}");

        let report = inspect_pem_at(leaf.as_bytes(), later).unwrap();
        assert_eq!(report.certificates[0].status, "expired");
        assert_eq!(report.certificates[0].days_left, -2);
        let chain = plan.get("2_intermediate/certs/ca-chain.cert.pem").unwrap();
        let report = inspect_pem_at(format!("{leaf}{chain}").as_bytes(), now).unwrap();
        assert!(report.chain.unwrap().ok);
        let reversed = format!("{chain}{leaf}");
        let report = inspect_pem_at(reversed.as_bytes(), now).unwrap();
        let check = report.chain.unwrap();
        // The root is fine after the intermediate; the leaf after the root is not (the book's
        // leaf even carries the root's subject, so only the signature tells them apart).
        assert_eq!(check.broken_at, Some(2), "{}", check.message);
        assert!(
            check.message.contains("signature does not verify"),
            "{}",
            check.message
        );
    }

    #[test]
    fn ip_sans_print_as_addresses() {
        assert_eq!(ip_string(&[127, 0, 0, 1]), "127.0.0.1");
        assert_eq!(ip_string(&[0; 16]), "::");
    }
}
