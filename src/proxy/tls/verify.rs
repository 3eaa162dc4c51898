//! Peer certificate verification the way Envoy's default validator does it: the chain must
//! lead to a trusted CA (webpki), then the leaf's subject alternative names must satisfy
//! `match_typed_subject_alt_names` / `match_subject_alt_names` — instead of rustls' usual
//! DNS-name check, because Istio's workload certificates carry only a `spiffe://` URI SAN.
//! Each failure counts in the context's `ssl.*` stats as Envoy's does.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{
    CryptoProvider, WebPkiSupportedAlgorithms, verify_tls12_signature, verify_tls13_signature,
};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ParsedCertificate, WebPkiClientVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};

use crate::xds::tls::{CertificateValidationContext, SanType};

use super::super::Rejected;
use super::super::http::matcher::CompiledString;
use super::certs::{San, sans_of_der};
use super::stats::SslStats;

/// One compiled SAN matcher: a SAN type (or any, for the deprecated form) and a string test.
#[derive(Debug, Clone)]
struct SanMatcher {
    san_type: Option<SanType>,
    matcher: CompiledString,
}

/// The SAN conditions of a validation context: any one matcher accepting any SAN passes.
#[derive(Debug, Clone, Default)]
pub struct SanMatchers(Vec<SanMatcher>);

impl SanMatchers {
    pub fn build(v: &CertificateValidationContext, path: &str) -> Result<SanMatchers, Rejected> {
        let mut out = Vec::new();
        for (i, m) in v.match_typed_subject_alt_names.iter().enumerate() {
            let at = format!("{path}.match_typed_subject_alt_names[{i}]");
            if m.san_type == SanType::SanTypeUnspecified {
                return Err(Rejected::new(
                    format!("{at}.san_type"),
                    "value must not be in list [SAN_TYPE_UNSPECIFIED]",
                ));
            }
            out.push(SanMatcher {
                san_type: Some(m.san_type),
                matcher: CompiledString::build(&m.matcher, &format!("{at}.matcher"))?,
            });
        }
        for (i, m) in v.match_subject_alt_names.iter().enumerate() {
            out.push(SanMatcher {
                san_type: None,
                matcher: CompiledString::build(m, &format!("{path}.match_subject_alt_names[{i}]"))?,
            });
        }
        Ok(SanMatchers(out))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// True when some matcher accepts some SAN of the leaf (or there are no matchers).
    pub fn accept(&self, sans: &[San]) -> bool {
        if self.0.is_empty() {
            return true;
        }
        self.0.iter().any(|m| {
            sans.iter().any(|san| {
                let (ty, value) = match san {
                    San::Dns(v) => (SanType::Dns, v),
                    San::Uri(v) => (SanType::Uri, v),
                    San::Email(v) => (SanType::Email, v),
                    San::Ip(v) => (SanType::IpAddress, v),
                };
                m.san_type.is_none_or(|t| t == ty) && m.matcher.matches(value)
            })
        })
    }
}

/// What a peer must prove: a chain to `roots` (unless none are configured) and a SAN match.
#[derive(Debug, Clone)]
pub struct PeerPolicy {
    pub roots: Option<Arc<RootCertStore>>,
    pub sans: SanMatchers,
    /// `trust_chain_verification: ACCEPT_UNTRUSTED`: a chain failure is counted, not fatal.
    pub accept_untrusted: bool,
}

impl PeerPolicy {
    /// Checks the SANs of a chain that passed (or skipped) webpki.
    fn check_sans(&self, end_entity: &CertificateDer<'_>, stats: &SslStats) -> Result<(), Error> {
        if self.sans.accept(&sans_of_der(end_entity)) {
            Ok(())
        } else {
            stats.fail_verify_san.inc();
            Err(Error::InvalidCertificate(CertificateError::NotValidForName))
        }
    }
}

/// The client side: verifies an upstream's certificate.
#[derive(Debug)]
pub struct UpstreamVerifier {
    pub policy: PeerPolicy,
    pub stats: Arc<SslStats>,
    pub algorithms: WebPkiSupportedAlgorithms,
}

impl UpstreamVerifier {
    pub fn new(policy: PeerPolicy, stats: Arc<SslStats>, provider: &CryptoProvider) -> Self {
        UpstreamVerifier {
            policy,
            stats,
            algorithms: provider.signature_verification_algorithms,
        }
    }
}

impl ServerCertVerifier for UpstreamVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        // No validation context: Envoy accepts any upstream certificate.
        if let Some(roots) = &self.policy.roots {
            let parsed = ParsedCertificate::try_from(end_entity)?;
            let chain = rustls::client::verify_server_cert_signed_by_trust_anchor(
                &parsed,
                roots,
                intermediates,
                now,
                self.algorithms.all,
            );
            if let Err(e) = chain {
                self.stats.fail_verify_error.inc();
                if !self.policy.accept_untrusted {
                    return Err(e);
                }
            }
        }
        self.policy.check_sans(end_entity, &self.stats)?;
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The server side: asks for (and maybe requires) a client certificate and verifies it.
#[derive(Debug)]
pub struct DownstreamVerifier {
    policy: PeerPolicy,
    required: bool,
    /// webpki's client verifier for the chain, when a CA is configured.
    chain: Option<Arc<dyn ClientCertVerifier>>,
    stats: Arc<SslStats>,
    algorithms: WebPkiSupportedAlgorithms,
}

impl DownstreamVerifier {
    pub fn new(
        policy: PeerPolicy,
        required: bool,
        stats: Arc<SslStats>,
        provider: &Arc<CryptoProvider>,
    ) -> Result<DownstreamVerifier, String> {
        let chain = match &policy.roots {
            Some(roots) => Some(
                WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
                    .allow_unauthenticated()
                    .build()
                    .map_err(|e| e.to_string())?,
            ),
            None => None,
        };
        Ok(DownstreamVerifier {
            policy,
            required,
            chain,
            stats,
            algorithms: provider.signature_verification_algorithms,
        })
    }
}

impl ClientCertVerifier for DownstreamVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        self.required
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        match &self.chain {
            Some(c) => c.root_hint_subjects(),
            None => &[],
        }
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        if let Some(chain) = &self.chain
            && let Err(e) = chain.verify_client_cert(end_entity, intermediates, now)
        {
            self.stats.fail_verify_error.inc();
            if !self.policy.accept_untrusted {
                return Err(e);
            }
        }
        self.policy.check_sans(end_entity, &self.stats)?;
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::decode::decode_str;

    fn matchers(yaml: &str) -> SanMatchers {
        let v: CertificateValidationContext = decode_str("t", yaml).unwrap();
        SanMatchers::build(&v, "v").unwrap()
    }

    #[test]
    fn typed_matchers_check_the_san_type() {
        let m = matchers(
            "match_typed_subject_alt_names: [{san_type: URI, matcher: {exact: 'spiffe://cluster.local/ns/a/sa/b'}}]",
        );
        assert!(m.accept(&[San::Uri("spiffe://cluster.local/ns/a/sa/b".into())]));
        assert!(!m.accept(&[San::Dns("spiffe://cluster.local/ns/a/sa/b".into())]));
        assert!(!m.accept(&[San::Uri("spiffe://cluster.local/ns/a/sa/c".into())]));
        assert!(!m.accept(&[]));
    }

    #[test]
    fn untyped_matchers_accept_any_san_type_and_kinds() {
        let m = matchers(
            "match_subject_alt_names: [{suffix: '.example.com'}, {prefix: 'spiffe://td/'}, {safe_regex: {regex: 'api-[0-9]+'}}]",
        );
        assert!(m.accept(&[San::Dns("www.example.com".into())]));
        assert!(m.accept(&[San::Uri("spiffe://td/ns/x".into())]));
        assert!(m.accept(&[San::Dns("api-12".into())]));
        assert!(!m.accept(&[San::Dns("api-12x".into())]));
        assert!(matchers("{}").accept(&[]));
    }

    #[test]
    fn unspecified_san_type_is_refused() {
        let v: CertificateValidationContext = decode_str(
            "t",
            "match_typed_subject_alt_names: [{matcher: {exact: a}}]",
        )
        .unwrap();
        let err = SanMatchers::build(&v, "v").unwrap_err();
        assert_eq!(err.path, "v.match_typed_subject_alt_names[0].san_type");
    }
}
