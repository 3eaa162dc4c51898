//! Key types we can generate (ring, through rcgen, cannot generate RSA keys: only EC and
//! Ed25519), private keys we can load (PKCS#8, PKCS#1 RSA, SEC1 EC), and what a key is.

use std::fmt;
use std::str::FromStr;

use rcgen::{KeyPair, SignatureAlgorithm};
use rustls_pki_types::pem::SectionKind;

use super::Error;
use super::der::{self, oid};
use super::pem::{self, Block};

/// A key type `certs gen` and the CA can generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum KeyType {
    /// ECDSA on P-256 with SHA-256 (Istio's ECC default).
    #[default]
    EcP256,
    /// ECDSA on P-384 with SHA-384.
    EcP384,
    /// Ed25519.
    Ed25519,
}

impl KeyType {
    /// Every key type, in `--help` order.
    pub const ALL: [KeyType; 3] = [KeyType::EcP256, KeyType::EcP384, KeyType::Ed25519];

    /// The name used on the command line (`ec-p256`, `ec-p384`, `ed25519`).
    pub fn name(self) -> &'static str {
        match self {
            KeyType::EcP256 => "ec-p256",
            KeyType::EcP384 => "ec-p384",
            KeyType::Ed25519 => "ed25519",
        }
    }

    pub(crate) fn algorithm(self) -> &'static SignatureAlgorithm {
        match self {
            KeyType::EcP256 => &rcgen::PKCS_ECDSA_P256_SHA256,
            KeyType::EcP384 => &rcgen::PKCS_ECDSA_P384_SHA384,
            KeyType::Ed25519 => &rcgen::PKCS_ED25519,
        }
    }

    /// A fresh key pair of this type.
    pub(crate) fn generate(self) -> Result<KeyPair, Error> {
        Ok(KeyPair::generate_for(self.algorithm())?)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for KeyType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "ec-p256" | "p256" | "p-256" | "ecdsa" | "ec" => Ok(KeyType::EcP256),
            "ec-p384" | "p384" | "p-384" => Ok(KeyType::EcP384),
            "ed25519" => Ok(KeyType::Ed25519),
            other if other.starts_with("rsa") => Err(format!(
                "{s}: RSA keys cannot be generated here (the ring crypto backend has no RSA key \
                 generation); use ec-p256, ec-p384 or ed25519 — existing RSA keys and CAs still load"
            )),
            _ => Err(format!(
                "unknown key type {s:?}: expected ec-p256, ec-p384 or ed25519"
            )),
        }
    }
}

/// What kind of key a certificate or private key holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyAlgorithm {
    Rsa {
        bits: usize,
    },
    RsaPss {
        bits: usize,
    },
    /// `curve` is `P-256`, `P-384`, `P-521` or a dotted OID.
    Ec {
        curve: String,
    },
    Ed25519,
    Ed448,
    /// An algorithm we do not name (its dotted OID).
    Other {
        oid: String,
    },
}

impl KeyAlgorithm {
    /// Key size in bits, where it has one.
    pub fn bits(&self) -> Option<usize> {
        match self {
            KeyAlgorithm::Rsa { bits } | KeyAlgorithm::RsaPss { bits } => Some(*bits),
            KeyAlgorithm::Ec { curve } => match curve.as_str() {
                "P-256" => Some(256),
                "P-384" => Some(384),
                "P-521" => Some(521),
                _ => None,
            },
            KeyAlgorithm::Ed25519 => Some(256),
            KeyAlgorithm::Ed448 => Some(456),
            KeyAlgorithm::Other { .. } => None,
        }
    }

    /// A short type name: `RSA`, `ECDSA`, `Ed25519`…
    pub fn kind(&self) -> &'static str {
        match self {
            KeyAlgorithm::Rsa { .. } => "RSA",
            KeyAlgorithm::RsaPss { .. } => "RSA-PSS",
            KeyAlgorithm::Ec { .. } => "ECDSA",
            KeyAlgorithm::Ed25519 => "Ed25519",
            KeyAlgorithm::Ed448 => "Ed448",
            KeyAlgorithm::Other { .. } => "unknown",
        }
    }
}

impl fmt::Display for KeyAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAlgorithm::Rsa { bits } => write!(f, "RSA {bits}"),
            KeyAlgorithm::RsaPss { bits } => write!(f, "RSA-PSS {bits}"),
            KeyAlgorithm::Ec { curve } => write!(f, "ECDSA {curve}"),
            KeyAlgorithm::Ed25519 => f.write_str("Ed25519"),
            KeyAlgorithm::Ed448 => f.write_str("Ed448"),
            KeyAlgorithm::Other { oid } => write!(f, "unknown algorithm {oid}"),
        }
    }
}

/// Dotted form of an OID's content bytes.
pub(crate) fn oid_string(content: &[u8]) -> String {
    let mut parts: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for b in content {
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if parts.is_empty() {
                let first = acc.min(80) / 40;
                parts.push(first);
                parts.push(acc - first * 40);
            } else {
                parts.push(acc);
            }
            acc = 0;
        }
    }
    parts
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(".")
}

fn curve_name(curve: &[u8]) -> String {
    match curve {
        oid::P256 => "P-256".into(),
        oid::P384 => "P-384".into(),
        oid::P521 => "P-521".into(),
        other => oid_string(other),
    }
}

/// The modulus size of an `RSAPublicKey` or `RSAPrivateKey` (the modulus is the first
/// INTEGER after an optional version).
fn rsa_bits(der_seq: &[u8], skip_version: bool) -> Result<usize, String> {
    let (seq, _) = der::expect(der_seq, der::SEQUENCE)?;
    let ints = der::children(seq.content)?;
    let modulus = ints
        .get(usize::from(skip_version))
        .ok_or("RSA key without a modulus")?;
    Ok(der::integer_bits(modulus.content))
}

/// What an `AlgorithmIdentifier` + key bytes describe. `key` is the public key's BIT STRING
/// content (for SPKI) or the private key's OCTET STRING content (for PKCS#8).
fn describe(alg_seq: &[u8], key: &[u8], private: bool) -> Result<KeyAlgorithm, String> {
    let (alg, params) = der::algorithm(alg_seq)?;
    Ok(match alg {
        oid::RSA_ENCRYPTION | oid::RSASSA_PSS => {
            let bits = rsa_bits(key, private)?;
            if alg == oid::RSA_ENCRYPTION {
                KeyAlgorithm::Rsa { bits }
            } else {
                KeyAlgorithm::RsaPss { bits }
            }
        }
        oid::EC_PUBLIC_KEY => {
            let curve = match params {
                Some(p) if p.tag == der::OID => curve_name(p.content),
                _ => "explicit parameters".into(),
            };
            KeyAlgorithm::Ec { curve }
        }
        oid::ED25519 => KeyAlgorithm::Ed25519,
        oid::ED448 => KeyAlgorithm::Ed448,
        other => KeyAlgorithm::Other {
            oid: oid_string(other),
        },
    })
}

/// Describes a DER `SubjectPublicKeyInfo`.
pub(crate) fn describe_spki(spki: &[u8]) -> Result<KeyAlgorithm, String> {
    let (seq, _) = der::expect(spki, der::SEQUENCE)?;
    let (alg, rest) = der::expect(seq.content, der::SEQUENCE)?;
    let (bits, _) = der::expect(rest, der::BIT_STRING)?;
    // BIT STRING content starts with the unused-bits count.
    let key = bits.content.get(1..).unwrap_or_default();
    describe(alg.content, key, false)
}

/// How a private key block is encoded.
pub(crate) fn key_format(kind: SectionKind) -> &'static str {
    match kind {
        SectionKind::RsaPrivateKey => "PKCS#1",
        SectionKind::EcPrivateKey => "SEC1",
        _ => "PKCS#8",
    }
}

/// Is this block a private key we understand?
pub(crate) fn is_private_key(block: &Block) -> bool {
    matches!(
        block.kind,
        Some(SectionKind::PrivateKey | SectionKind::RsaPrivateKey | SectionKind::EcPrivateKey)
    )
}

/// The PKCS#8 form of a private key block.
pub(crate) fn to_pkcs8(block: &Block) -> Result<Vec<u8>, Error> {
    match block.kind {
        Some(SectionKind::PrivateKey) => Ok(block.der.clone()),
        Some(SectionKind::RsaPrivateKey) => Ok(der::pkcs1_to_pkcs8(&block.der)),
        Some(SectionKind::EcPrivateKey) => der::sec1_to_pkcs8(&block.der).map_err(Error::Key),
        _ => Err(Error::Key(format!(
            "a {} block is not a private key this tool reads (PRIVATE KEY, RSA PRIVATE KEY, EC PRIVATE KEY)",
            block.label
        ))),
    }
}

/// Describes a private key block without loading it into a crypto library.
pub(crate) fn describe_private(block: &Block) -> Result<KeyAlgorithm, Error> {
    let described = match block.kind {
        Some(SectionKind::RsaPrivateKey) => {
            rsa_bits(&block.der, true).map(|bits| KeyAlgorithm::Rsa { bits })
        }
        Some(SectionKind::EcPrivateKey) => der::sec1_curve(&block.der).map(|c| KeyAlgorithm::Ec {
            curve: c.map(curve_name).unwrap_or_else(|| "unnamed curve".into()),
        }),
        Some(SectionKind::PrivateKey) => (|| {
            let (seq, _) = der::expect(&block.der, der::SEQUENCE)?;
            let (_version, rest) = der::expect(seq.content, der::INTEGER)?;
            let (alg, rest) = der::expect(rest, der::SEQUENCE)?;
            let (key, _) = der::expect(rest, der::OCTET_STRING)?;
            describe(alg.content, key.content, true)
        })(),
        _ => return Err(Error::Key(format!("{} is not a private key", block.label))),
    };
    described.map_err(|e| Error::Key(format!("cannot read the {} block: {e}", block.label)))
}

/// Loads a private key block for signing (RSA keys must be 2048–8192 bits, as ring requires).
pub(crate) fn load(block: &Block) -> Result<KeyPair, Error> {
    let pkcs8 = to_pkcs8(block)?;
    KeyPair::try_from(pkcs8.as_slice()).map_err(|e| {
        Error::Key(format!(
            "cannot use the {} key ({}): {e}",
            block.label,
            describe_private(block)
                .map(|a| a.to_string())
                .unwrap_or_else(|_| "unreadable".into())
        ))
    })
}

/// The first private key in a PEM text, loaded for signing.
pub(crate) fn load_pem(key_pem: &str) -> Result<KeyPair, Error> {
    let blocks = pem::blocks(key_pem.as_bytes())?;
    if blocks.is_empty() {
        return Err(Error::NoPem);
    }
    if let Some(unsupported) = blocks
        .iter()
        .find(|b| b.label.contains("PRIVATE KEY") && !is_private_key(b))
    {
        return Err(Error::Key(format!(
            "{} is not supported: decrypt it first (openssl pkey -in KEY -out plain.pem)",
            unsupported.label
        )));
    }
    let block = blocks
        .iter()
        .find(|b| is_private_key(b))
        .ok_or(Error::NoKey)?;
    load(block)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_types_parse_and_print() {
        for t in KeyType::ALL {
            assert_eq!(t.name().parse::<KeyType>().unwrap(), t);
        }
        let err = "rsa-2048".parse::<KeyType>().unwrap_err();
        assert!(err.contains("RSA keys cannot be generated"), "{err}");
        assert!("dsa".parse::<KeyType>().is_err());
    }

    #[test]
    fn generated_keys_describe_themselves() {
        for (t, want) in [
            (KeyType::EcP256, "ECDSA P-256"),
            (KeyType::EcP384, "ECDSA P-384"),
            (KeyType::Ed25519, "Ed25519"),
        ] {
            let kp = t.generate().unwrap();
            let spki = rcgen::PublicKeyData::subject_public_key_info(&kp);
            assert_eq!(describe_spki(&spki).unwrap().to_string(), want);
            let block = &pem::blocks(kp.serialize_pem().as_bytes()).unwrap()[0];
            assert_eq!(describe_private(block).unwrap().to_string(), want);
            let again = load(block).unwrap();
            assert_eq!(again.public_key_raw(), kp.public_key_raw());
        }
    }

    #[test]
    fn oid_strings() {
        assert_eq!(oid_string(oid::RSA_ENCRYPTION), "1.2.840.113549.1.1.1");
        assert_eq!(oid_string(oid::P384), "1.3.132.0.34");
        assert_eq!(oid_string(oid::ED25519), "1.3.101.112");
    }

    #[test]
    fn encrypted_and_missing_keys_are_clear_errors() {
        let enc =
            "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        let err = load_pem(enc).unwrap_err().to_string();
        assert!(err.contains("decrypt it first"), "{err}");
        let cert_only = pem::encode("CERTIFICATE", b"x");
        assert!(matches!(load_pem(&cert_only), Err(Error::NoKey)));
        assert!(matches!(load_pem("hello"), Err(Error::NoPem)));
    }
}
