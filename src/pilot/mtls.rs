//! Istio's transport security in xDS: auto mTLS on outbound clusters (TLS only to endpoints
//! whose pods run a sidecar, by `tlsMode` endpoint metadata), DestinationRule `tls` modes,
//! inbound filter chains per PeerAuthentication mode, and the SDS references to the agent's
//! `default`/`ROOTCA` secrets and to gateway credentials (`kubernetes://NAME`).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use crate::api::istio::{ClientTlsMode, ClientTlsSettings};
use crate::xds::core::DataSource;
use crate::xds::matcher::StringMatcher;
use crate::xds::tls::{
    CertificateValidationContext, CombinedValidationContext, CommonTlsContext,
    DownstreamTlsContext, SdsSecretConfig, TlsCertificate, TransportSocket, TransportSocketConfig,
    TransportSocketMatch, UpstreamTlsContext,
};

use super::model::{Model, Workload};

/// The ALPN an Istio client offers over mTLS (istio-peer-exchange first, as istiod sets it).
pub const ISTIO_ALPN: [&str; 2] = ["istio-peer-exchange", "istio"];
/// What inbound mTLS chains accept in PERMISSIVE mode (TCP and HTTP flavours of Istio's ALPN).
pub const INBOUND_ALPN: [&str; 5] = [
    "istio-peer-exchange",
    "istio",
    "istio-http/1.0",
    "istio-http/1.1",
    "istio-h2",
];

/// A workload's effective inbound mTLS mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MtlsMode {
    Strict,
    Permissive,
    Disable,
}

impl MtlsMode {
    fn parse(s: &str) -> Option<MtlsMode> {
        match s {
            "STRICT" => Some(MtlsMode::Strict),
            "PERMISSIVE" => Some(MtlsMode::Permissive),
            "DISABLE" => Some(MtlsMode::Disable),
            _ => None,
        }
    }
}

/// PeerAuthentication precedence: the workload's own (selector), then its namespace's, then the
/// mesh's (root namespace istio-system, no selector); PERMISSIVE when none says. A port-level
/// mode of the chosen policy wins for that port.
pub fn inbound_mode(model: &Model, w: &Workload, port: u16) -> MtlsMode {
    let workload = model.peer_authentications.iter().find(|p| {
        p.namespace == w.namespace
            && !p.selector.is_empty()
            && crate::api::meta::labels_match(&p.selector, &w.labels)
    });
    let namespace = model
        .peer_authentications
        .iter()
        .find(|p| p.namespace == w.namespace && p.selector.is_empty());
    let mesh = model
        .peer_authentications
        .iter()
        .find(|p| p.namespace == "istio-system" && p.selector.is_empty());
    for p in [workload, namespace, mesh].into_iter().flatten() {
        if let Some(m) = p.port_modes.get(&port).and_then(|m| MtlsMode::parse(m)) {
            return m;
        }
        if let Some(m) = p.mode.as_deref().and_then(MtlsMode::parse) {
            return m;
        }
    }
    MtlsMode::Permissive
}

/// The agent's SDS (istiod's `sds-grpc` cluster over the agent's socket).
fn agent_sds(name: &str) -> SdsSecretConfig {
    SdsSecretConfig {
        name: name.to_owned(),
        sds_config: Some(json!({
            "api_config_source": {
                "api_type": "GRPC",
                "transport_api_version": "V3",
                "grpc_services": [{"envoy_grpc": {"cluster_name": "sds-grpc"}}],
                "set_node_on_first_message_only": true,
            },
            "initial_fetch_timeout": "0s",
            "resource_api_version": "V3",
        })),
    }
}

/// The agent's certificate, validated peers against `ROOTCA` and `sans`.
fn istio_common(sans: Vec<StringMatcher>, alpn: &[&str]) -> CommonTlsContext {
    CommonTlsContext {
        tls_certificate_sds_secret_configs: vec![agent_sds("default")],
        combined_validation_context: Some(CombinedValidationContext {
            default_validation_context: CertificateValidationContext {
                match_subject_alt_names: sans,
                ..Default::default()
            },
            validation_context_sds_secret_config: agent_sds("ROOTCA"),
        }),
        alpn_protocols: alpn.iter().map(|s| (*s).to_owned()).collect(),
        ..Default::default()
    }
}

fn exact(s: &str) -> StringMatcher {
    serde_json::from_value(json!({"exact": s})).unwrap_or_default()
}

fn prefix(s: &str) -> StringMatcher {
    serde_json::from_value(json!({"prefix": s})).unwrap_or_default()
}

/// The ALPN a client offers for a port: HTTP ports say `istio-http/1.1` or `istio-h2` (what
/// Istio's `istio.alpn` filter sets per request), the rest Istio's TCP pair.
pub fn client_alpn(protocol: super::model::Protocol) -> &'static [&'static str] {
    use super::model::Protocol;
    match protocol {
        Protocol::Http | Protocol::GrpcWeb => &["istio-http/1.1"],
        Protocol::Http2 | Protocol::Grpc => &["istio-h2"],
        _ => &ISTIO_ALPN,
    }
}

/// ISTIO_MUTUAL towards a service: its pods' SPIFFE IDs, Istio's SNI.
pub fn istio_mutual(sans: &[String], sni: &str, alpn: &[&str]) -> UpstreamTlsContext {
    UpstreamTlsContext {
        common_tls_context: Some(istio_common(sans.iter().map(|s| exact(s)).collect(), alpn)),
        sni: sni.to_owned(),
    }
}

fn tls_socket(ctx: UpstreamTlsContext) -> TransportSocket {
    TransportSocket::tls(TransportSocketConfig::UpstreamTls(Box::new(ctx)))
}

/// Istio's SNI for mTLS to a service port: `outbound_.80_._.webapp.istioinaction.svc.cluster.local`.
pub fn istio_sni(port: u16, subset: &str, fqdn: &str) -> String {
    format!("outbound_.{port}_.{subset}_.{fqdn}")
}

/// What a cluster's transport looks like.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ClusterTls {
    pub transport_socket: Option<TransportSocket>,
    pub transport_socket_matches: Vec<TransportSocketMatch>,
}

/// Auto mTLS: TLS to endpoints labelled `tlsMode: istio`, plain bytes to the rest.
pub fn auto_mtls(sans: &[String], sni: &str, alpn: &[&str]) -> ClusterTls {
    let mut m = Map::new();
    m.insert("tlsMode".into(), Value::String("istio".into()));
    ClusterTls {
        transport_socket: None,
        transport_socket_matches: vec![
            TransportSocketMatch {
                name: "tlsMode-istio".into(),
                match_: m,
                transport_socket: Some(tls_socket(istio_mutual(sans, sni, alpn))),
            },
            TransportSocketMatch {
                name: "tlsMode-disabled".into(),
                match_: Map::new(),
                transport_socket: Some(TransportSocket::raw_buffer()),
            },
        ],
    }
}

/// A file path, as the DataSource a proxy reads.
fn file(path: &str) -> DataSource {
    DataSource {
        filename: Some(path.to_owned()),
        ..Default::default()
    }
}

/// A DestinationRule's `tls` for a cluster (`None`: auto mTLS applies).
pub fn destination_rule_tls(
    tls: &ClientTlsSettings,
    sans: &[String],
    port: u16,
    fqdn: &str,
    warnings: &mut Vec<String>,
) -> ClusterTls {
    let mode = tls.mode.unwrap_or(ClientTlsMode::Disable);
    let socket = match mode {
        ClientTlsMode::Disable => None,
        ClientTlsMode::IstioMutual => Some(istio_mutual(
            sans,
            tls.sni.as_deref().unwrap_or(&istio_sni(port, "", fqdn)),
            &ISTIO_ALPN,
        )),
        ClientTlsMode::Simple | ClientTlsMode::Mutual => {
            let mut common = CommonTlsContext::default();
            let validation = CertificateValidationContext {
                trusted_ca: tls.ca_certificates.as_deref().map(file),
                match_subject_alt_names: tls.subject_alt_names.iter().map(|s| exact(s)).collect(),
                ..Default::default()
            };
            if let Some(cred) = &tls.credential_name {
                // Client credentials from a Secret, as gateways do: kubernetes://NAME[-cacert].
                if mode == ClientTlsMode::Mutual {
                    common.tls_certificate_sds_secret_configs =
                        vec![SdsSecretConfig::ads(&format!("kubernetes://{cred}"))];
                }
                common.combined_validation_context = Some(CombinedValidationContext {
                    default_validation_context: validation,
                    validation_context_sds_secret_config: SdsSecretConfig::ads(&format!(
                        "kubernetes://{cred}-cacert"
                    )),
                });
            } else {
                if mode == ClientTlsMode::Mutual {
                    match (&tls.client_certificate, &tls.private_key) {
                        (Some(c), Some(k)) => {
                            common.tls_certificates = vec![TlsCertificate {
                                certificate_chain: Some(file(c)),
                                private_key: Some(file(k)),
                            }]
                        }
                        _ => warnings.push(format!(
                            "DestinationRule for {fqdn}: MUTUAL needs clientCertificate and privateKey (or credentialName)"
                        )),
                    }
                }
                if !validation.is_empty() {
                    common.validation_context = Some(validation);
                }
            }
            Some(UpstreamTlsContext {
                common_tls_context: Some(common),
                sni: tls.sni.clone().unwrap_or_default(),
            })
        }
    };
    ClusterTls {
        transport_socket: socket.map(tls_socket),
        transport_socket_matches: Vec::new(),
    }
}

/// The inbound side of mTLS: the workload's certificate, any mesh identity accepted, a client
/// certificate required.
pub fn inbound_tls(http: bool) -> TransportSocket {
    let alpn: &[&str] = if http { &["h2", "http/1.1"] } else { &[] };
    let ctx = DownstreamTlsContext {
        common_tls_context: Some(istio_common(
            vec![prefix(&format!(
                "spiffe://{}/",
                crate::ca::DEFAULT_TRUST_DOMAIN
            ))],
            alpn,
        )),
        require_client_certificate: Some(true),
        ..Default::default()
    };
    TransportSocket::tls(TransportSocketConfig::DownstreamTls(Box::new(ctx)))
}

/// A gateway server's TLS: the credential's certificate (and CA for MUTUAL) over ADS.
pub fn gateway_tls(credential: &str, mutual: bool) -> TransportSocket {
    let mut common = CommonTlsContext {
        tls_certificate_sds_secret_configs: vec![SdsSecretConfig::ads(&format!(
            "kubernetes://{credential}"
        ))],
        alpn_protocols: vec!["h2".into(), "http/1.1".into()],
        ..Default::default()
    };
    if mutual {
        common.combined_validation_context = Some(CombinedValidationContext {
            default_validation_context: CertificateValidationContext::default(),
            validation_context_sds_secret_config: SdsSecretConfig::ads(&format!(
                "kubernetes://{credential}-cacert"
            )),
        });
    }
    let ctx = DownstreamTlsContext {
        common_tls_context: Some(common),
        require_client_certificate: Some(mutual),
        ..Default::default()
    };
    TransportSocket::tls(TransportSocketConfig::DownstreamTls(Box::new(ctx)))
}

/// Endpoint metadata istiod attaches: `tlsMode` for transport socket matching.
pub fn endpoint_metadata(sidecar: bool) -> BTreeMap<String, Value> {
    let mut fm = BTreeMap::new();
    fm.insert(
        "envoy.transport_socket_match".to_owned(),
        json!({"tlsMode": if sidecar { "istio" } else { "disabled" }}),
    );
    fm
}
