//! The mesh CA, as istiod runs it: either a self-signed root (the `istio-ca-secret` case:
//! subject `O=<trust domain>`, ten years) or a plug-in CA from the four `cacerts` files; it
//! issues SPIFFE workload certificates shaped like istiod's.

use std::fmt;
use std::path::Path;
use std::time::Duration;

use rcgen::{
    CertificateParams, CustomExtension, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;

use super::Error;
use super::identity::WorkloadId;
use super::inspect::{self, public_key_matches};
use super::keys::{self, KeyType};
use super::pem;

/// Istio's default trust domain.
pub const DEFAULT_TRUST_DOMAIN: &str = "cluster.local";
/// istio-agent's default `SECRET_TTL`.
pub const DEFAULT_WORKLOAD_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// istiod's default `--max-workload-cert-ttl` (90 days): longer requests are refused.
pub const MAX_WORKLOAD_TTL: Duration = Duration::from_secs(90 * 24 * 60 * 60);
/// istiod's default self-signed root lifetime (`CITADEL_SELF_SIGNED_CA_CERT_TTL`, 3650 days).
pub const ROOT_VALIDITY: Duration = Duration::from_secs(3650 * 24 * 60 * 60);
/// istiod backdates workload certificates by this much (`ClockSkewGracePeriod`).
pub const CLOCK_SKEW_GRACE: Duration = Duration::from_secs(2 * 60);

/// The CA's material in the four files of Istio's `cacerts` secret.
#[derive(Clone, PartialEq, Eq)]
pub struct CaPem {
    /// `ca-cert.pem`: the certificate that signs workload certificates.
    pub cert_pem: String,
    /// `ca-key.pem`: its private key.
    pub key_pem: String,
    /// `cert-chain.pem`: the chain from `ca-cert` up to the root (empty for a self-signed CA,
    /// as in `istio-ca-secret`).
    pub chain_pem: String,
    /// `root-cert.pem`: the trust root(s) (the `ROOTCA` secret).
    pub root_pem: String,
}

impl CaPem {
    /// The Istio file names, each with its contents and whether it is a private key.
    pub fn files(&self) -> [(&'static str, &str, bool); 4] {
        [
            ("ca-cert.pem", &self.cert_pem, false),
            ("ca-key.pem", &self.key_pem, true),
            ("root-cert.pem", &self.root_pem, false),
            ("cert-chain.pem", &self.chain_pem, false),
        ]
    }
}

impl fmt::Debug for CaPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaPem")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[elided]")
            .field("chain_pem", &self.chain_pem)
            .field("root_pem", &self.root_pem)
            .finish()
    }
}

/// A workload certificate as istio-agent keeps it: the `default` SDS secret (chain + key) and
/// the `ROOTCA` secret.
#[derive(Clone)]
pub struct WorkloadCert {
    pub id: WorkloadId,
    /// The leaf, then the CA's chain up to and including the root, as istiod answers a CSR
    /// (leaf, `cert-chain.pem`, `root-cert.pem`) and istio-agent concatenates it.
    pub cert_chain_pem: String,
    /// PKCS#8 (`-----BEGIN PRIVATE KEY-----`), ECDSA P-256.
    pub key_pem: String,
    /// The trust root(s): the `ROOTCA` secret.
    pub root_pem: String,
    pub not_before: OffsetDateTime,
    pub not_after: OffsetDateTime,
    /// Lower-case hex, as Envoy's `/certs` prints serial numbers.
    pub serial: String,
}

impl fmt::Debug for WorkloadCert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WorkloadCert")
            .field("id", &self.id.to_string())
            .field("serial", &self.serial)
            .field("not_before", &self.not_before)
            .field("not_after", &self.not_after)
            .field("key_pem", &"[elided]")
            .finish()
    }
}

/// The mesh's certificate authority.
pub struct MeshCa {
    issuer: Issuer<'static, KeyPair>,
    pem: CaPem,
    /// What follows the leaf in an issued chain (chain certs, then the root).
    chain_tail_pem: String,
    /// `ca-cert` is itself a root and there is no chain.
    self_signed: bool,
}

impl fmt::Debug for MeshCa {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MeshCa")
            .field("issuer", &self.issuer)
            .field("pem", &self.pem)
            .finish()
    }
}

/// A random positive 127-bit serial, as istiod draws 128-bit ones.
pub(crate) fn random_serial() -> SerialNumber {
    let mut bytes: [u8; 16] = rand::random();
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::from_slice(&bytes)
}

/// The current time, whole seconds (certificates carry no fractions).
pub(crate) fn now_seconds() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

fn duration(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::MAX)
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    if s.is_multiple_of(86400) && s > 0 {
        format!("{}d", s / 86400)
    } else if s.is_multiple_of(3600) && s > 0 {
        format!("{}h", s / 3600)
    } else {
        format!("{s}s")
    }
}

fn in_file(file: &str) -> impl Fn(Error) -> Error + '_ {
    move |source| Error::InFile {
        file: file.to_owned(),
        source: Box::new(source),
    }
}

fn certs_in(file: &str, pem_text: &str) -> Result<Vec<CertificateDer<'static>>, Error> {
    inspect::parse_pem_chain(pem_text.as_bytes()).map_err(in_file(file))
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, Error> {
    X509Certificate::from_der(der)
        .map(|(_, c)| c)
        .map_err(|e| Error::BadCertificate {
            index: 1,
            reason: e.to_string(),
        })
}

fn signed_by(child: &X509Certificate<'_>, parent: &X509Certificate<'_>) -> bool {
    child.issuer().as_raw() == parent.subject().as_raw()
        && child.verify_signature(Some(parent.public_key())).is_ok()
}

impl MeshCa {
    /// A new self-signed root for `trust_domain`, as istiod makes `istio-ca-secret`: subject
    /// `O=<trust domain>`, basicConstraints CA:TRUE, keyUsage Certificate Sign, ten years.
    pub fn generate(trust_domain: &str, key_type: KeyType) -> Result<MeshCa, Error> {
        if trust_domain.is_empty() || trust_domain.contains('/') {
            return Err(Error::Identity {
                input: trust_domain.into(),
                reason: "a trust domain is a DNS-like name such as cluster.local".into(),
            });
        }
        let key = key_type.generate()?;
        let now = now_seconds();
        let mut params = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::OrganizationName, trust_domain);
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        params.serial_number = Some(random_serial());
        params.not_before = now - duration(CLOCK_SKEW_GRACE);
        params.not_after = now + duration(ROOT_VALIDITY);
        let cert = params.self_signed(&key)?;
        let cert_pem = cert.pem();
        let pem = CaPem {
            cert_pem: cert_pem.clone(),
            key_pem: key.serialize_pem(),
            chain_pem: String::new(),
            root_pem: cert_pem.clone(),
        };
        Ok(MeshCa {
            issuer: Issuer::new(params, key),
            pem,
            chain_tail_pem: cert_pem,
            self_signed: true,
        })
    }

    /// Loads a CA from its four `cacerts` texts: the CA signs with `cert_pem`/`key_pem`,
    /// `chain_pem` (may be empty) links it to `root_pem`, the trust root. Checks that the key
    /// matches, the certificate is a CA, everything is within its validity, and that the
    /// signing certificate chains up to a root.
    pub fn from_pem(
        cert_pem: &str,
        key_pem: &str,
        chain_pem: &str,
        root_pem: &str,
    ) -> Result<MeshCa, Error> {
        let cert_ders = certs_in("ca-cert.pem", cert_pem)?;
        let root_ders = certs_in("root-cert.pem", root_pem)?;
        let chain_ders = if chain_pem.trim().is_empty() {
            Vec::new()
        } else {
            certs_in("cert-chain.pem", chain_pem)?
        };
        let signing_der = cert_ders.first().ok_or(Error::NoCertificate)?;
        let signing = parse(signing_der)?;
        let subject = signing.subject().to_string();
        if !signing.is_ca() {
            return Err(Error::NotACa {
                what: "ca-cert.pem".into(),
                subject,
            });
        }
        let key = keys::load_pem(key_pem).map_err(|e| match e {
            Error::NoPem => in_file("ca-key.pem")(Error::NoKey),
            other => in_file("ca-key.pem")(other),
        })?;
        if !public_key_matches(&key, &signing) {
            return Err(Error::KeyMismatch {
                what: format!("ca-cert.pem ({subject})"),
            });
        }

        // Walk from the signing certificate up to one of the roots.
        let roots: Vec<X509Certificate<'_>> = root_ders
            .iter()
            .map(|d| parse(d))
            .collect::<Result<_, _>>()?;
        let chain: Vec<X509Certificate<'_>> = chain_ders
            .iter()
            .map(|d| parse(d))
            .collect::<Result<_, _>>()?;
        let mut current = &signing;
        let mut reached_root = root_ders.iter().any(|d| d == signing_der);
        for _ in 0..=chain.len() {
            if reached_root {
                break;
            }
            if roots.iter().any(|r| signed_by(current, r)) {
                reached_root = true;
                break;
            }
            match chain.iter().find(|c| signed_by(current, c)) {
                Some(next) => current = next,
                None => break,
            }
        }
        if !reached_root {
            return Err(Error::ChainBroken(format!(
                "ca-cert.pem ({subject}) does not chain up to root-cert.pem ({}): the certificate \
                 \"{}\" is not signed by the root or by any certificate in cert-chain.pem",
                roots
                    .first()
                    .map(|r| r.subject().to_string())
                    .unwrap_or_default(),
                current.subject()
            )));
        }

        // Chain sent after the leaf: cert-chain.pem (or ca-cert when it is not a root), then
        // the root unless the chain already ends with it.
        let signing_is_root = root_ders.contains(signing_der);
        let mut tail: Vec<&CertificateDer<'static>> = Vec::new();
        if !signing_is_root && !chain_ders.contains(signing_der) {
            tail.push(signing_der);
        }
        tail.extend(chain_ders.iter());
        if let Some(root) = root_ders.first()
            && !tail.contains(&root)
        {
            tail.push(root);
        }
        let chain_tail_pem = tail
            .iter()
            .map(|c| pem::encode("CERTIFICATE", c))
            .collect::<String>();

        let issuer = Issuer::from_ca_cert_der(signing_der, key)?;
        Ok(MeshCa {
            issuer,
            pem: CaPem {
                cert_pem: cert_pem.to_owned(),
                key_pem: key_pem.to_owned(),
                chain_pem: chain_pem.to_owned(),
                root_pem: root_pem.to_owned(),
            },
            chain_tail_pem,
            self_signed: signing_is_root && chain_ders.iter().all(|c| root_ders.contains(c)),
        })
    }

    /// Loads a plug-in CA from a directory holding Istio's `cacerts` files (`ca-cert.pem`,
    /// `ca-key.pem`, `root-cert.pem`, and `cert-chain.pem`, which may be missing).
    pub fn from_dir(dir: &Path) -> Result<MeshCa, Error> {
        let read = |name: &str, required: bool| -> Result<String, Error> {
            let path = dir.join(name);
            match std::fs::read_to_string(&path) {
                Ok(s) => Ok(s),
                Err(e) if !required && e.kind() == std::io::ErrorKind::NotFound => {
                    Ok(String::new())
                }
                Err(source) => Err(Error::Io { path, source }),
            }
        };
        MeshCa::from_pem(
            &read("ca-cert.pem", true)?,
            &read("ca-key.pem", true)?,
            &read("cert-chain.pem", false)?,
            &read("root-cert.pem", true)?,
        )
    }

    /// The CA's PEM texts, to persist (and load again with [`MeshCa::from_pem`]).
    pub fn to_pem(&self) -> CaPem {
        self.pem.clone()
    }

    /// The trust root(s): what workloads get as `ROOTCA`.
    pub fn root_pem(&self) -> &str {
        &self.pem.root_pem
    }

    /// True for a self-signed CA (no intermediates, `ca-cert` is the root).
    pub fn is_self_signed(&self) -> bool {
        self.self_signed
    }

    /// Issues a workload certificate now, valid for `ttl` (istiod refuses more than
    /// [`MAX_WORKLOAD_TTL`]).
    pub fn issue_workload(&self, id: &WorkloadId, ttl: Duration) -> Result<WorkloadCert, Error> {
        self.issue_workload_at(id, ttl, now_seconds())
    }

    /// [`MeshCa::issue_workload`] at a given time: URI SAN `spiffe://…` only (critical, the
    /// subject is empty), keyUsage Digital Signature + Key Encipherment, extKeyUsage server
    /// and client auth, basicConstraints CA:FALSE, a random serial, valid from `now - 2m` to
    /// `now + ttl`; a fresh ECDSA P-256 key.
    pub fn issue_workload_at(
        &self,
        id: &WorkloadId,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<WorkloadCert, Error> {
        id.validate()?;
        if ttl.is_zero() {
            return Err(Error::Validity(
                "a workload certificate needs a TTL above zero".into(),
            ));
        }
        if ttl > MAX_WORKLOAD_TTL {
            return Err(Error::Validity(format!(
                "requested TTL {} is greater than the max allowed TTL {} (istiod's --max-workload-cert-ttl)",
                human(ttl),
                human(MAX_WORKLOAD_TTL)
            )));
        }
        let now = now.replace_nanosecond(0).unwrap_or(now);
        let key = KeyType::EcP256.generate()?;
        let uri = id.uri();
        let mut params = CertificateParams::default();
        params.distinguished_name = DistinguishedName::new();
        params.subject_alt_names = vec![SanType::URI(uri.as_str().try_into()?)];
        params.is_ca = IsCa::NoCa;
        // basicConstraints CA:FALSE, critical, and no subjectKeyIdentifier: Go's x509 (istiod)
        // writes exactly that for a non-CA template with BasicConstraintsValid.
        let mut bc = CustomExtension::from_oid_content(&[2, 5, 29, 19], vec![0x30, 0x00]);
        bc.set_criticality(true);
        params.custom_extensions = vec![bc];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.use_authority_key_identifier_extension = true;
        let serial = random_serial();
        let serial_hex: String = serial
            .to_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        params.serial_number = Some(serial);
        let not_before = now - duration(CLOCK_SKEW_GRACE);
        let not_after = now + duration(ttl);
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok(WorkloadCert {
            id: id.clone(),
            cert_chain_pem: format!("{}{}", cert.pem(), self.chain_tail_pem),
            key_pem: key.serialize_pem(),
            root_pem: self.pem.root_pem.clone(),
            not_before,
            not_after,
            serial: serial_hex,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ca::{San, cert_info, key_matches_cert};
    use rustls_pki_types::pem::SectionKind;

    fn count_certs(pem_text: &str) -> usize {
        pem::blocks(pem_text.as_bytes())
            .map(|b| {
                b.iter()
                    .filter(|b| b.kind == Some(SectionKind::Certificate))
                    .count()
            })
            .unwrap_or(0)
    }

    fn webapp() -> WorkloadId {
        WorkloadId::new("cluster.local", "istioinaction", "webapp")
    }

    #[test]
    fn self_signed_root_looks_like_istio_ca_secret() {
        let ca = MeshCa::generate(DEFAULT_TRUST_DOMAIN, KeyType::EcP256).unwrap();
        let pem = ca.to_pem();
        let der = &inspect::parse_pem_chain(pem.root_pem.as_bytes()).unwrap()[0];
        let info = cert_info(der).unwrap();
        assert_eq!(info.subject, "O=cluster.local");
        assert_eq!(info.issuer, "O=cluster.local");
        assert!(info.is_ca);
        let years = (info.not_after_unix - info.not_before_unix) as f64 / (365.0 * 86400.0);
        assert!((9.9..10.1).contains(&years), "{years}");
        assert!(ca.is_self_signed());
        assert!(key_matches_cert(&pem.key_pem, &pem.cert_pem).unwrap());
    }

    #[test]
    fn workload_cert_has_only_the_spiffe_san_and_the_ttl() {
        let ca = MeshCa::generate("cluster.local", KeyType::EcP256).unwrap();
        let now = now_seconds();
        let wc = ca
            .issue_workload_at(&webapp(), DEFAULT_WORKLOAD_TTL, now)
            .unwrap();
        let ders = inspect::parse_pem_chain(wc.cert_chain_pem.as_bytes()).unwrap();
        assert_eq!(
            ders.len(),
            2,
            "leaf + root, as istiod answers a self-signed CSR"
        );
        let info = cert_info(&ders[0]).unwrap();
        assert_eq!(
            info.sans,
            vec![San::Uri(
                "spiffe://cluster.local/ns/istioinaction/sa/webapp".into()
            )]
        );
        assert_eq!(info.subject, "");
        assert!(!info.is_ca);
        assert_eq!(info.serial_hex, wc.serial);
        assert_eq!(info.not_after_unix - now.unix_timestamp(), 24 * 3600);
        assert_eq!(now.unix_timestamp() - info.not_before_unix, 120);
        assert_eq!(wc.not_after.unix_timestamp(), info.not_after_unix);
        assert!(key_matches_cert(&wc.key_pem, &wc.cert_chain_pem).unwrap());
        assert_eq!(wc.root_pem, ca.root_pem());

        let x = parse(&ders[0]).unwrap();
        let root = parse(&ders[1]).unwrap();
        assert!(signed_by(&x, &root));
        let ku = x.key_usage().unwrap().unwrap();
        assert!(ku.critical && ku.value.digital_signature() && ku.value.key_encipherment());
        assert!(!ku.value.key_cert_sign());
        let eku = x.extended_key_usage().unwrap().unwrap().value;
        assert!(eku.server_auth && eku.client_auth);
        let san = x.subject_alternative_name().unwrap().unwrap();
        assert!(san.critical, "SAN is critical when the subject is empty");
        let bc = x.basic_constraints().unwrap().unwrap();
        assert!(bc.critical && !bc.value.ca);
    }

    #[test]
    fn serials_differ() {
        let ca = MeshCa::generate("cluster.local", KeyType::Ed25519).unwrap();
        let a = ca.issue_workload(&webapp(), DEFAULT_WORKLOAD_TTL).unwrap();
        let b = ca.issue_workload(&webapp(), DEFAULT_WORKLOAD_TTL).unwrap();
        assert_ne!(a.serial, b.serial);
        assert_eq!(a.serial.len(), 32);
    }

    #[test]
    fn ttl_limits_are_istiods() {
        let ca = MeshCa::generate("cluster.local", KeyType::EcP256).unwrap();
        let err = ca
            .issue_workload(&webapp(), Duration::from_secs(91 * 86400))
            .unwrap_err();
        assert!(err.to_string().contains("max allowed TTL 90d"), "{err}");
        assert!(ca.issue_workload(&webapp(), Duration::ZERO).is_err());
        let bad = WorkloadId::new("cluster.local", "", "webapp");
        assert!(ca.issue_workload(&bad, DEFAULT_WORKLOAD_TTL).is_err());
    }

    #[test]
    fn persisted_root_loads_back_and_keeps_signing() {
        let ca = MeshCa::generate("cluster.local", KeyType::EcP384).unwrap();
        let p = ca.to_pem();
        let again = MeshCa::from_pem(&p.cert_pem, &p.key_pem, &p.chain_pem, &p.root_pem).unwrap();
        assert_eq!(again.to_pem(), p);
        assert!(again.is_self_signed());
        let wc = again
            .issue_workload(&webapp(), DEFAULT_WORKLOAD_TTL)
            .unwrap();
        let ders = inspect::parse_pem_chain(wc.cert_chain_pem.as_bytes()).unwrap();
        let root = inspect::parse_pem_chain(p.root_pem.as_bytes()).unwrap();
        assert!(signed_by(
            &parse(&ders[0]).unwrap(),
            &parse(&root[0]).unwrap()
        ));
        assert_eq!(count_certs(&wc.cert_chain_pem), 2);
    }

    #[test]
    fn from_pem_rejects_mismatched_key_and_foreign_root() {
        let a = MeshCa::generate("cluster.local", KeyType::EcP256)
            .unwrap()
            .to_pem();
        let b = MeshCa::generate("cluster.local", KeyType::EcP256)
            .unwrap()
            .to_pem();
        let err = MeshCa::from_pem(&a.cert_pem, &b.key_pem, "", &a.root_pem).unwrap_err();
        assert!(matches!(err, Error::KeyMismatch { .. }), "{err}");
        let err = MeshCa::from_pem(&a.cert_pem, &a.key_pem, "", &b.root_pem).unwrap_err();
        assert!(matches!(err, Error::ChainBroken(_)), "{err}");
        let err = MeshCa::from_pem("nope", &a.key_pem, "", &a.root_pem).unwrap_err();
        assert!(err.to_string().contains("ca-cert.pem"), "{err}");
    }

    #[test]
    fn a_leaf_cannot_be_a_ca() {
        let ca = MeshCa::generate("cluster.local", KeyType::EcP256).unwrap();
        let wc = ca.issue_workload(&webapp(), DEFAULT_WORKLOAD_TTL).unwrap();
        let err = MeshCa::from_pem(&wc.cert_chain_pem, &wc.key_pem, "", ca.root_pem()).unwrap_err();
        assert!(matches!(err, Error::NotACa { .. }), "{err}");
    }
}
