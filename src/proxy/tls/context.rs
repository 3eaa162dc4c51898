//! A compiled `CommonTlsContext`: where its certificates and trust come from (inline, files,
//! static secrets — all loaded at build time — or SDS names looked up at handshake time),
//! its protocol versions, cipher suites, curves and ALPN. [`CommonCtx::resolve`] gives the
//! material in force right now; the server and client sides cache their rustls configs per
//! secret generation, so a rotated secret is used by the next handshake.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::{NamedGroup, SupportedProtocolVersion};

use crate::xds::tls::{
    CertificateValidationContext, CommonTlsContext, SdsSecretConfig, TlsParameters, TlsProtocol,
    TrustChainVerification,
};

use super::super::Rejected;
use super::certs::{LoadedCa, LoadedCert};
use super::secrets::{Material, SecretManager};
use super::stats::TLS12_SUITES;
use super::verify::{PeerPolicy, SanMatchers};

/// Which side of the connection a context is for (defaults differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Server,
    Client,
}

/// A certificate: loaded at build time, or an SDS name resolved per handshake.
#[derive(Debug, Clone)]
enum CertRef {
    Loaded(Arc<LoadedCert>),
    Sds(String),
}

/// The validation context: none, fixed at build time, or a pushed secret merged over a
/// default part (`combined_validation_context`).
#[derive(Debug, Clone)]
enum TrustRef {
    None,
    Fixed {
        ca: Option<Arc<LoadedCa>>,
        config: CertificateValidationContext,
    },
    Sds {
        name: String,
        default: CertificateValidationContext,
        default_ca: Option<Arc<LoadedCa>>,
    },
}

/// The material of a context at one moment.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub certs: Vec<Arc<LoadedCert>>,
    pub ca: Option<Arc<LoadedCa>>,
    /// `None` when the context has no validation context at all.
    pub policy: Option<PeerPolicy>,
}

#[derive(Debug)]
pub struct CommonCtx {
    certs: Vec<CertRef>,
    trust: TrustRef,
    pub alpn: Vec<Vec<u8>>,
    pub versions: Vec<&'static SupportedProtocolVersion>,
    pub provider: Arc<CryptoProvider>,
    secrets: Arc<SecretManager>,
}

impl CommonCtx {
    pub fn build(
        c: Option<&CommonTlsContext>,
        side: Side,
        path: &str,
        secrets: &Arc<SecretManager>,
    ) -> Result<CommonCtx, Vec<Rejected>> {
        let empty = CommonTlsContext::default();
        let c = c.unwrap_or(&empty);
        let path = format!("{path}.common_tls_context");
        let mut errors = Vec::new();
        let mut certs = Vec::new();
        for (i, tc) in c.tls_certificates.iter().enumerate() {
            match LoadedCert::load(tc) {
                Ok(l) => certs.push(CertRef::Loaded(Arc::new(l))),
                Err(e) => errors.push(Rejected::new(
                    format!("{path}.tls_certificates[{i}]"),
                    e.to_string(),
                )),
            }
        }
        for (i, sds) in c.tls_certificate_sds_secret_configs.iter().enumerate() {
            let at = format!("{path}.tls_certificate_sds_secret_configs[{i}]");
            match sds_ref(sds, &at, secrets) {
                Ok(SecretSource::Dynamic(name)) => certs.push(CertRef::Sds(name)),
                Ok(SecretSource::Static(rt)) => match &rt.material {
                    Material::Cert(l) => certs.push(CertRef::Loaded(l.clone())),
                    Material::Validation { .. } => errors.push(Rejected::new(
                        at,
                        format!("static secret {} is not a tls_certificate", sds.name),
                    )),
                },
                Err(e) => errors.push(e),
            }
        }
        let trust = match build_trust(c, &path, secrets) {
            Ok(t) => t,
            Err(mut e) => {
                errors.append(&mut e);
                TrustRef::None
            }
        };
        let (versions, provider) = match tls_params(c.tls_params.as_ref(), side, &path) {
            Ok(v) => v,
            Err(e) => {
                errors.push(e);
                (
                    Vec::new(),
                    Arc::new(rustls::crypto::ring::default_provider()),
                )
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CommonCtx {
            certs,
            trust,
            alpn: c
                .alpn_protocols
                .iter()
                .map(|p| p.as_bytes().to_vec())
                .collect(),
            versions,
            provider,
            secrets: secrets.clone(),
        })
    }

    /// True when the context names no certificate at all.
    pub fn has_no_certificates(&self) -> bool {
        self.certs.is_empty()
    }

    /// True when peers are validated (a validation context is configured).
    pub fn has_validation(&self) -> bool {
        !matches!(self.trust, TrustRef::None)
    }

    /// The SDS secrets this context waits for.
    pub fn sds_names(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .certs
            .iter()
            .filter_map(|c| match c {
                CertRef::Sds(n) => Some(n.clone()),
                CertRef::Loaded(_) => None,
            })
            .collect();
        if let TrustRef::Sds { name, .. } = &self.trust {
            out.push(name.clone());
        }
        out
    }

    /// SDS secrets named here and not received yet (a listener warms until this is empty).
    pub fn missing(&self) -> Vec<String> {
        self.sds_names()
            .into_iter()
            .filter(|n| self.secrets.dynamic_secret(n).is_none())
            .collect()
    }

    pub fn generation(&self) -> u64 {
        self.secrets.generation()
    }

    /// The certificates and trust in force now. Fails (with Envoy's words) while an SDS
    /// secret is missing or holds the wrong kind of secret.
    pub fn resolve(&self) -> Result<Resolved, String> {
        let mut certs = Vec::new();
        for c in &self.certs {
            match c {
                CertRef::Loaded(l) => certs.push(l.clone()),
                CertRef::Sds(name) => match self.secrets.dynamic_secret(name) {
                    Some(rt) => match &rt.material {
                        Material::Cert(l) => certs.push(l.clone()),
                        Material::Validation { .. } => {
                            return Err(format!(
                                "secret {name} is a validation_context, not a tls_certificate"
                            ));
                        }
                    },
                    None => return Err("Secret is not supplied by SDS".to_owned()),
                },
            }
        }
        let (ca, config) = match &self.trust {
            TrustRef::None => {
                return Ok(Resolved {
                    certs,
                    ca: None,
                    policy: None,
                });
            }
            TrustRef::Fixed { ca, config } => (ca.clone(), config.clone()),
            TrustRef::Sds {
                name,
                default,
                default_ca,
            } => {
                let rt = self
                    .secrets
                    .dynamic_secret(name)
                    .ok_or_else(|| "Secret is not supplied by SDS".to_owned())?;
                let Material::Validation { ca, config } = &rt.material else {
                    return Err(format!(
                        "secret {name} is a tls_certificate, not a validation_context"
                    ));
                };
                // Envoy merges the pushed context over the default one: a pushed CA
                // replaces the default's, SAN matchers add up.
                let mut merged = default.clone();
                merged
                    .match_typed_subject_alt_names
                    .extend(config.match_typed_subject_alt_names.iter().cloned());
                merged
                    .match_subject_alt_names
                    .extend(config.match_subject_alt_names.iter().cloned());
                if config.trust_chain_verification != TrustChainVerification::default() {
                    merged.trust_chain_verification = config.trust_chain_verification;
                }
                let ca = ca.clone().or_else(|| default_ca.clone());
                (ca, merged)
            }
        };
        let sans = SanMatchers::build(&config, "validation_context").map_err(|e| e.reason)?;
        if ca.is_none() && !sans.is_empty() {
            return Err(
                "SAN-based verification of peer certificates without trusted CA is insecure and not allowed"
                    .to_owned(),
            );
        }
        let policy = PeerPolicy {
            roots: ca.as_ref().map(|c| c.roots.clone()),
            sans,
            accept_untrusted: config.trust_chain_verification
                == TrustChainVerification::AcceptUntrusted,
        };
        Ok(Resolved {
            certs,
            ca,
            policy: Some(policy),
        })
    }
}

enum SecretSource {
    Static(Arc<super::secrets::SecretRt>),
    Dynamic(String),
}

/// A secret reference: with `sds_config` it is pushed later; without, it must be a static
/// secret of the bootstrap (Envoy: "Unknown static secret").
fn sds_ref(
    sds: &SdsSecretConfig,
    path: &str,
    secrets: &SecretManager,
) -> Result<SecretSource, Rejected> {
    if sds.name.is_empty() {
        return Err(Rejected::new(
            format!("{path}.name"),
            "value length must be at least 1 characters",
        ));
    }
    if sds.sds_config.is_some() {
        return Ok(SecretSource::Dynamic(sds.name.clone()));
    }
    secrets
        .static_secret(&sds.name)
        .map(SecretSource::Static)
        .ok_or_else(|| Rejected::new(path, format!("Unknown static secret: {}", sds.name)))
}

fn build_trust(
    c: &CommonTlsContext,
    path: &str,
    secrets: &SecretManager,
) -> Result<TrustRef, Vec<Rejected>> {
    let set = [
        c.validation_context.is_some(),
        c.validation_context_sds_secret_config.is_some(),
        c.combined_validation_context.is_some(),
    ];
    if set.iter().filter(|b| **b).count() > 1 {
        return Err(vec![Rejected::new(
            path,
            "only one of validation_context, validation_context_sds_secret_config, combined_validation_context may be set",
        )]);
    }
    let load_ca = |v: &CertificateValidationContext, at: &str| -> Result<_, Rejected> {
        SanMatchers::build(v, at)?;
        match &v.trusted_ca {
            Some(ds) => LoadedCa::load(ds)
                .map(|c| Some(Arc::new(c)))
                .map_err(|e| Rejected::new(format!("{at}.trusted_ca"), e.to_string())),
            None => Ok(None),
        }
    };
    if let Some(v) = &c.validation_context {
        let at = format!("{path}.validation_context");
        let ca = load_ca(v, &at).map_err(|e| vec![e])?;
        if ca.is_none() && !SanMatchers::build(v, &at).map_err(|e| vec![e])?.is_empty() {
            return Err(vec![Rejected::new(
                at,
                "SAN-based verification of peer certificates without trusted CA is insecure and not allowed",
            )]);
        }
        return Ok(TrustRef::Fixed {
            ca,
            config: v.clone(),
        });
    }
    let (sds, default) = match (
        &c.validation_context_sds_secret_config,
        &c.combined_validation_context,
    ) {
        (Some(s), _) => (
            (s, format!("{path}.validation_context_sds_secret_config")),
            None,
        ),
        (None, Some(comb)) => (
            (
                &comb.validation_context_sds_secret_config,
                format!("{path}.combined_validation_context.validation_context_sds_secret_config"),
            ),
            Some(&comb.default_validation_context),
        ),
        (None, None) => return Ok(TrustRef::None),
    };
    let default_at = format!("{path}.combined_validation_context.default_validation_context");
    let default_ca = match default {
        Some(d) => load_ca(d, &default_at).map_err(|e| vec![e])?,
        None => None,
    };
    let default = default.cloned().unwrap_or_default();
    match sds_ref(sds.0, &sds.1, secrets).map_err(|e| vec![e])? {
        SecretSource::Dynamic(name) => Ok(TrustRef::Sds {
            name,
            default,
            default_ca,
        }),
        SecretSource::Static(rt) => match &rt.material {
            Material::Validation { ca, config } => {
                let mut merged = default;
                merged
                    .match_typed_subject_alt_names
                    .extend(config.match_typed_subject_alt_names.iter().cloned());
                merged
                    .match_subject_alt_names
                    .extend(config.match_subject_alt_names.iter().cloned());
                Ok(TrustRef::Fixed {
                    ca: ca.clone().or(default_ca),
                    config: merged,
                })
            }
            Material::Cert(_) => Err(vec![Rejected::new(
                sds.1,
                format!("static secret {} is not a validation_context", sds.0.name),
            )]),
        },
    }
}

/// Protocol versions (rustls speaks TLS 1.2 and 1.3; asking for at least 1.0 or 1.1 gets
/// 1.2, as nothing older is possible) and the crypto provider narrowed to the configured
/// TLS 1.2 cipher suites and curves.
fn tls_params(
    p: Option<&TlsParameters>,
    side: Side,
    path: &str,
) -> Result<(Vec<&'static SupportedProtocolVersion>, Arc<CryptoProvider>), Rejected> {
    let at = format!("{path}.tls_params");
    let empty = TlsParameters::default();
    let p = p.unwrap_or(&empty);
    let min = match p.tls_minimum_protocol_version {
        TlsProtocol::Auto => TlsProtocol::V1_2,
        v => v.max(TlsProtocol::V1_2),
    };
    let max = match (p.tls_maximum_protocol_version, side) {
        // Envoy's defaults: clients stop at TLS 1.2, servers go to 1.3.
        (TlsProtocol::Auto, Side::Client) => TlsProtocol::V1_2.max(min),
        (TlsProtocol::Auto, Side::Server) => TlsProtocol::V1_3,
        (v, _) => v,
    };
    if max < TlsProtocol::V1_2 {
        return Err(Rejected::new(
            format!("{at}.tls_maximum_protocol_version"),
            "mesh speaks TLS 1.2 and 1.3 only; a maximum below TLSv1_2 cannot be met",
        ));
    }
    if min > max {
        return Err(Rejected::new(
            format!("{at}.tls_minimum_protocol_version"),
            "the minimum protocol version is above the maximum",
        ));
    }
    let mut versions = Vec::new();
    if min <= TlsProtocol::V1_2 {
        versions.push(&rustls::version::TLS12);
    }
    if max >= TlsProtocol::V1_3 {
        versions.push(&rustls::version::TLS13);
    }
    let mut provider = rustls::crypto::ring::default_provider();
    if !p.cipher_suites.is_empty() {
        let mut wanted = Vec::new();
        let mut unknown = Vec::new();
        for name in &p.cipher_suites {
            // `[A|B]` is BoringSSL's equal-preference group; each member counts.
            for n in name.trim_matches(|c| c == '[' || c == ']').split('|') {
                match TLS12_SUITES.iter().find(|(s, _)| *s == n) {
                    Some((_, suite)) => {
                        wanted.push(*suite);
                    }
                    None if KNOWN_UNSUPPORTED_SUITES.contains(&n) => {}
                    None => unknown.push(n.to_owned()),
                }
            }
        }
        if !unknown.is_empty() {
            return Err(Rejected::new(
                format!("{at}.cipher_suites"),
                format!(
                    "Failed to initialize cipher suites {}. The following ciphers were rejected when tried individually: {}",
                    p.cipher_suites.join(":"),
                    unknown.join(", ")
                ),
            ));
        }
        // TLS 1.3 suites are not configurable (as in Envoy); TLS 1.2 keeps the listed ones.
        provider
            .cipher_suites
            .retain(|s| s.version() == &rustls::version::TLS13 || wanted.contains(&s.suite()));
    }
    if !p.ecdh_curves.is_empty() {
        let mut groups = Vec::new();
        for (i, c) in p.ecdh_curves.iter().enumerate() {
            let g = match c.as_str() {
                "X25519" => NamedGroup::X25519,
                "P-256" => NamedGroup::secp256r1,
                "P-384" => NamedGroup::secp384r1,
                other => {
                    return Err(Rejected::new(
                        format!("{at}.ecdh_curves[{i}]"),
                        format!(
                            "Failed to initialize ECDH curves {other} (mesh supports X25519, P-256, P-384)"
                        ),
                    ));
                }
            };
            groups.push(g);
        }
        provider.kx_groups.retain(|k| groups.contains(&k.name()));
    }
    Ok((versions, Arc::new(provider)))
}

/// Valid BoringSSL cipher names that rustls does not implement (CBC and plain-RSA key
/// exchange). Envoy's and Istio's default lists include them; they are skipped, the
/// AEAD ECDHE suites of the same list still apply.
const KNOWN_UNSUPPORTED_SUITES: &[&str] = &[
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "AES128-GCM-SHA256",
    "AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES256-GCM-SHA384",
    "AES256-SHA",
    "DES-CBC3-SHA",
    "ECDHE-PSK-AES128-CBC-SHA",
    "ECDHE-PSK-AES256-CBC-SHA",
    "ECDHE-PSK-CHACHA20-POLY1305",
    "PSK-AES128-CBC-SHA",
    "PSK-AES256-CBC-SHA",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::decode::decode_str;

    fn params(yaml: &str, side: Side) -> Result<Vec<&'static SupportedProtocolVersion>, Rejected> {
        let p: TlsParameters = decode_str("t", yaml).unwrap();
        tls_params(Some(&p), side, "c").map(|(v, _)| v)
    }

    #[test]
    fn versions_follow_envoys_defaults() {
        assert_eq!(params("{}", Side::Server).unwrap().len(), 2);
        let client = params("{}", Side::Client).unwrap();
        assert_eq!(client.len(), 1);
        assert_eq!(client[0].version, rustls::ProtocolVersion::TLSv1_2);
        let only13 = params("{tls_minimum_protocol_version: TLSv1_3}", Side::Client).unwrap();
        assert_eq!(only13.len(), 1);
        assert_eq!(only13[0].version, rustls::ProtocolVersion::TLSv1_3);
        let err = params("{tls_maximum_protocol_version: TLSv1_1}", Side::Server).unwrap_err();
        assert_eq!(err.path, "c.tls_params.tls_maximum_protocol_version");
    }

    #[test]
    fn cipher_suites_keep_what_rustls_has_and_refuse_typos() {
        let p: TlsParameters = decode_str(
            "t",
            "cipher_suites: ['[ECDHE-ECDSA-AES128-GCM-SHA256|ECDHE-ECDSA-CHACHA20-POLY1305]', AES256-GCM-SHA384]",
        )
        .unwrap();
        let (_, provider) = tls_params(Some(&p), Side::Server, "c").unwrap();
        let tls12: Vec<_> = provider
            .cipher_suites
            .iter()
            .filter(|s| s.version() == &rustls::version::TLS12)
            .collect();
        assert_eq!(tls12.len(), 2);
        let p: TlsParameters =
            decode_str("t", "cipher_suites: [ECDHE-RSA-AES128-GCM-SHA257]").unwrap();
        let err = tls_params(Some(&p), Side::Server, "c").unwrap_err();
        assert!(
            err.reason.contains("Failed to initialize cipher suites"),
            "{err}"
        );
    }

    #[test]
    fn unknown_static_secret_is_envoys_error() {
        let c: CommonTlsContext =
            decode_str("t", "tls_certificate_sds_secret_configs: [{name: nope}]").unwrap();
        let err = CommonCtx::build(Some(&c), Side::Server, "x", &SecretManager::new()).unwrap_err();
        assert_eq!(err[0].reason, "Unknown static secret: nope");
        assert_eq!(
            err[0].path,
            "x.common_tls_context.tls_certificate_sds_secret_configs[0]"
        );
    }

    #[test]
    fn sds_names_are_waited_for() {
        let c: CommonTlsContext = decode_str(
            "t",
            "tls_certificate_sds_secret_configs: [{name: default, sds_config: {ads: {}}}]\ncombined_validation_context: {default_validation_context: {}, validation_context_sds_secret_config: {name: ROOTCA, sds_config: {ads: {}}}}",
        )
        .unwrap();
        let ctx = CommonCtx::build(Some(&c), Side::Client, "x", &SecretManager::new()).unwrap();
        assert_eq!(ctx.missing(), ["default", "ROOTCA"]);
        assert_eq!(ctx.resolve().unwrap_err(), "Secret is not supplied by SDS");
    }
}
