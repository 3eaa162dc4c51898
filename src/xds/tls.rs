//! `envoy.extensions.transport_sockets.tls.v3` and the transport socket that carries it: how a
//! filter chain terminates TLS (`DownstreamTlsContext`), how a cluster originates it
//! (`UpstreamTlsContext`), the certificates and trust they use — inline, from files, or by
//! SDS name — and the `Secret` resource SDS delivers. Fields Envoy has and mesh does not
//! implement are left out of the model, so decoding names them as "not supported yet".

use serde::{Deserialize, Serialize};

use super::core::DataSource;
use super::de;
use super::matcher::StringMatcher;

/// The transport socket names Envoy registers for these configs.
pub const TLS_SOCKET: &str = "envoy.transport_sockets.tls";
pub const RAW_BUFFER_SOCKET: &str = "envoy.transport_sockets.raw_buffer";

/// `envoy.config.core.v3.TransportSocket`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TransportSocket {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typed_config: Option<TransportSocketConfig>,
}

impl TransportSocket {
    /// A TLS socket with `ctx` (what a control plane builds).
    pub fn tls(ctx: TransportSocketConfig) -> TransportSocket {
        TransportSocket {
            name: TLS_SOCKET.to_owned(),
            typed_config: Some(ctx),
        }
    }

    /// Plain bytes, no TLS.
    pub fn raw_buffer() -> TransportSocket {
        TransportSocket {
            name: RAW_BUFFER_SOCKET.to_owned(),
            typed_config: Some(TransportSocketConfig::RawBuffer(RawBuffer {})),
        }
    }
}

crate::any_enum! {
    /// The transport sockets mesh implements.
    pub enum TransportSocketConfig {
        DownstreamTls(Box<DownstreamTlsContext>) = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
        UpstreamTls(Box<UpstreamTlsContext>) = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        RawBuffer(RawBuffer) = "type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer",
    }
}

/// `envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer` (no fields).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct RawBuffer {}

/// `envoy.config.cluster.v3.Cluster.TransportSocketMatch`: the socket for endpoints whose
/// `envoy.transport_socket_match` metadata has every key/value of `match` (Istio's
/// `tlsMode: istio`); an empty `match` matches every endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TransportSocketMatch {
    pub name: String,
    #[serde(
        default,
        rename = "match",
        skip_serializing_if = "serde_json::Map::is_empty"
    )]
    pub match_: serde_json::Map<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transport_socket: Option<TransportSocket>,
}

/// `DownstreamTlsContext`: a filter chain terminates TLS.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct DownstreamTlsContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_tls_context: Option<CommonTlsContext>,
    /// BoolValue: refuse clients that present no (valid) certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_client_certificate: Option<bool>,
    /// BoolValue: refuse clients that send no SNI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub require_sni: Option<bool>,
}

/// `UpstreamTlsContext`: a cluster speaks TLS to its endpoints.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct UpstreamTlsContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub common_tls_context: Option<CommonTlsContext>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub sni: String,
}

/// `CommonTlsContext`: certificates, trust and ALPN shared by both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CommonTlsContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_params: Option<TlsParameters>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_certificates: Vec<TlsCertificate>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tls_certificate_sds_secret_configs: Vec<SdsSecretConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_context: Option<CertificateValidationContext>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_context_sds_secret_config: Option<SdsSecretConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub combined_validation_context: Option<CombinedValidationContext>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alpn_protocols: Vec<String>,
}

/// `TlsParameters`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsParameters {
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub tls_minimum_protocol_version: TlsProtocol,
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub tls_maximum_protocol_version: TlsProtocol,
    /// OpenSSL names (`ECDHE-ECDSA-AES128-GCM-SHA256`); they apply to TLS 1.2 only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cipher_suites: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ecdh_curves: Vec<String>,
}

/// `TlsParameters.TlsProtocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
pub enum TlsProtocol {
    #[default]
    #[serde(rename = "TLS_AUTO")]
    Auto,
    #[serde(rename = "TLSv1_0")]
    V1_0,
    #[serde(rename = "TLSv1_1")]
    V1_1,
    #[serde(rename = "TLSv1_2")]
    V1_2,
    #[serde(rename = "TLSv1_3")]
    V1_3,
}

/// `TlsCertificate`: a certificate chain and its private key (PEM).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct TlsCertificate {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_chain: Option<DataSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_key: Option<DataSource>,
}

/// `SdsSecretConfig`: a secret by name; without `sds_config` it names a static secret of the
/// bootstrap, with it a secret the control plane pushes (Istio: `default`, `ROOTCA`,
/// `kubernetes://<credentialName>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SdsSecretConfig {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sds_config: Option<serde_json::Value>,
}

impl SdsSecretConfig {
    /// A secret pushed over ADS (what istiod writes).
    pub fn ads(name: &str) -> SdsSecretConfig {
        SdsSecretConfig {
            name: name.to_owned(),
            sds_config: Some(serde_json::json!({"ads": {}, "resource_api_version": "V3"})),
        }
    }
}

/// `CertificateValidationContext`: whom to trust and which peer names to accept.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CertificateValidationContext {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trusted_ca: Option<DataSource>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_typed_subject_alt_names: Vec<SubjectAltNameMatcher>,
    /// Deprecated form: each matcher is tried against DNS, URI, email and IP SANs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub match_subject_alt_names: Vec<StringMatcher>,
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub trust_chain_verification: TrustChainVerification,
}

impl CertificateValidationContext {
    /// True when nothing is set (what a merged combined context starts from).
    pub fn is_empty(&self) -> bool {
        *self == CertificateValidationContext::default()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrustChainVerification {
    #[default]
    VerifyTrustChain,
    AcceptUntrusted,
}

/// `SubjectAltNameMatcher`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct SubjectAltNameMatcher {
    #[serde(default, skip_serializing_if = "de::is_default")]
    pub san_type: SanType,
    pub matcher: StringMatcher,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SanType {
    #[default]
    SanTypeUnspecified,
    Email,
    Dns,
    Uri,
    IpAddress,
}

/// `CommonTlsContext.CombinedCertificateValidationContext`: a static part merged with a
/// secret (Istio: match_subject_alt_names here, the root certificate from `ROOTCA`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct CombinedValidationContext {
    pub default_validation_context: CertificateValidationContext,
    pub validation_context_sds_secret_config: SdsSecretConfig,
}

/// `envoy.extensions.transport_sockets.tls.v3.Secret`: what SDS delivers, one of a
/// certificate with its key or a validation context.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_certificate: Option<TlsCertificate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_context: Option<CertificateValidationContext>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::decode::decode_str;

    #[test]
    fn downstream_context_decodes_from_envoy_yaml() {
        let yaml = r#"
name: envoy.transport_sockets.tls
typed_config:
  "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext
  require_client_certificate: true
  common_tls_context:
    tls_params: {tls_minimum_protocol_version: TLSv1_2}
    alpn_protocols: [h2, http/1.1]
    tls_certificates:
    - certificate_chain: {filename: certs/cert.pem}
      private_key: {filename: certs/key.pem}
    combined_validation_context:
      default_validation_context:
        match_typed_subject_alt_names:
        - san_type: URI
          matcher: {prefix: "spiffe://cluster.local/"}
      validation_context_sds_secret_config:
        name: ROOTCA
        sds_config: {ads: {}, resource_api_version: V3}
"#;
        let ts: TransportSocket = decode_str("t", yaml).unwrap();
        let Some(TransportSocketConfig::DownstreamTls(d)) = &ts.typed_config else {
            panic!("{ts:?}")
        };
        assert_eq!(d.require_client_certificate, Some(true));
        let common = d.common_tls_context.as_ref().unwrap();
        assert_eq!(
            common
                .tls_params
                .as_ref()
                .unwrap()
                .tls_minimum_protocol_version,
            TlsProtocol::V1_2
        );
        let combined = common.combined_validation_context.as_ref().unwrap();
        assert_eq!(combined.validation_context_sds_secret_config.name, "ROOTCA");
        assert_eq!(
            combined
                .default_validation_context
                .match_typed_subject_alt_names[0]
                .san_type,
            SanType::Uri
        );
        // The dump prints what was given, `@type` first.
        let back = serde_json::to_value(&ts).unwrap();
        assert_eq!(
            back["typed_config"]["@type"],
            "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext"
        );
        assert_eq!(back["typed_config"]["require_client_certificate"], true);
    }

    #[test]
    fn unsupported_fields_are_named() {
        let yaml = r#"
"@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
common_tls_context:
  tls_certificates:
  - certificate_chain: {filename: a}
    private_key: {filename: b}
    ocsp_staple: {filename: c}
"#;
        let err = decode_str::<TransportSocketConfig>("t", yaml)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("common_tls_context.tls_certificates[0].ocsp_staple"),
            "{err}"
        );
        assert!(err.contains("mesh does not support yet"), "{err}");
    }

    #[test]
    fn secrets_decode_camel_case() {
        let json = r#"{"name": "default", "tlsCertificate": {"certificateChain": {"inlineString": "x"}, "privateKey": {"inlineBytes": "eA=="}}}"#;
        let s: Secret = decode_str("t", json).unwrap();
        let tc = s.tls_certificate.unwrap();
        assert_eq!(
            tc.certificate_chain.unwrap().inline_string.as_deref(),
            Some("x")
        );
        assert_eq!(
            tc.private_key.unwrap().inline_bytes.as_deref(),
            Some("eA==")
        );
    }

    #[test]
    fn transport_socket_match_keys_keep_their_case() {
        let yaml = r#"
name: c
transport_socket_matches:
- name: tlsMode-istio
  match: {tlsMode: istio}
  transport_socket: {name: envoy.transport_sockets.raw_buffer}
"#;
        let c: crate::xds::cluster::Cluster = decode_str("t", yaml).unwrap();
        assert_eq!(
            c.transport_socket_matches[0].match_.get("tlsMode"),
            Some(&serde_json::json!("istio"))
        );
    }
}
