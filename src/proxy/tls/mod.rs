//! TLS in the proxy, Envoy's way: filter chains terminate it (`DownstreamTlsContext`),
//! clusters originate it (`UpstreamTlsContext`, per endpoint through
//! `transport_socket_matches`), certificates come inline, from files or by SDS name, and a
//! secret pushed later is used by the next handshake without touching open connections.
//! rustls with the ring provider does the cryptography. May import `xds` and `net`.

pub mod certs;
pub mod client;
pub mod context;
pub mod secrets;
pub mod server;
pub mod stats;
pub mod verify;

#[cfg(test)]
pub mod testing;

use std::sync::Arc;

use rustls::CommonState;
use rustls::pki_types::CertificateDer;

use crate::xds::tls::{TransportSocket, TransportSocketConfig, TransportSocketMatch};

use super::Rejected;
use super::stats::Scope;
use certs::{San, sans_of_der};
use client::UpstreamTls;
use secrets::SecretManager;
use server::DownstreamTls;
use stats::SslStats;

/// What a finished handshake established, for the HTTP connection manager and access logs.
#[derive(Debug, Clone, Default)]
pub struct ConnTls {
    pub sni: Option<String>,
    pub alpn: Option<String>,
    /// `TLSv1.2`, `TLSv1.3`.
    pub version: Option<String>,
    pub cipher: Option<String>,
    pub peer_certificate: Option<CertificateDer<'static>>,
    pub peer_sans: Vec<San>,
    pub peer_serial: Option<String>,
    /// The first URI SAN of the certificate we presented (our SPIFFE identity in a mesh).
    pub local_uri_san: Option<String>,
}

impl ConnTls {
    fn from_state(state: &CommonState, sni: Option<String>) -> ConnTls {
        let peer = state
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.clone().into_owned());
        let (peer_sans, peer_serial) = match &peer {
            Some(der) => (
                sans_of_der(der),
                certs::CertInfo::parse(der, "").map(|i| i.serial_number),
            ),
            None => (Vec::new(), None),
        };
        ConnTls {
            sni,
            alpn: state
                .alpn_protocol()
                .map(|p| String::from_utf8_lossy(p).into_owned()),
            version: state.protocol_version().map(stats::version_name),
            cipher: state
                .negotiated_cipher_suite()
                .map(|s| stats::cipher_name(s.suite())),
            peer_certificate: peer,
            peer_sans,
            peer_serial,
            local_uri_san: None,
        }
    }

    /// The peer's first URI SAN (its SPIFFE identity in a mesh).
    pub fn peer_uri_san(&self) -> Option<&str> {
        self.peer_sans.iter().find_map(|s| match s {
            San::Uri(u) => Some(u.as_str()),
            _ => None,
        })
    }
}

/// The first URI SAN of the first of `certs` that has one: the identity a context presents.
fn first_uri_san(certs: &[Arc<certs::LoadedCert>]) -> Option<String> {
    certs.iter().find_map(|c| {
        let leaf = c.key.cert.first()?;
        sans_of_der(leaf).into_iter().find_map(|s| match s {
            San::Uri(u) => Some(u),
            _ => None,
        })
    })
}

/// True for a transport socket that means "no TLS" (raw_buffer, named or typed).
fn is_raw(ts: &TransportSocket) -> bool {
    match &ts.typed_config {
        Some(TransportSocketConfig::RawBuffer(_)) => true,
        None => ts.name == crate::xds::tls::RAW_BUFFER_SOCKET,
        _ => false,
    }
}

/// A filter chain's transport socket: `None` for plain TCP.
pub fn build_downstream(
    ts: Option<&TransportSocket>,
    path: &str,
    secrets: &Arc<SecretManager>,
    stats: &dyn Fn() -> Arc<SslStats>,
) -> Result<Option<Arc<DownstreamTls>>, Vec<Rejected>> {
    let Some(ts) = ts else { return Ok(None) };
    if is_raw(ts) {
        return Ok(None);
    }
    let path = format!("{path}.transport_socket");
    match &ts.typed_config {
        Some(TransportSocketConfig::DownstreamTls(ctx)) => Ok(Some(Arc::new(
            DownstreamTls::build(ctx, &format!("{path}.typed_config"), secrets, stats())?,
        ))),
        Some(other) => Err(vec![Rejected::new(
            format!("{path}.typed_config"),
            format!(
                "a filter chain's transport socket takes a DownstreamTlsContext, not {}",
                other.type_url()
            ),
        )]),
        None => Err(vec![Rejected::new(
            path,
            format!(
                "transport socket '{}' needs a typed_config (DownstreamTlsContext)",
                ts.name
            ),
        )]),
    }
}

fn build_upstream(
    ts: &TransportSocket,
    path: &str,
    secrets: &Arc<SecretManager>,
    stats: &Arc<SslStats>,
) -> Result<Option<Arc<UpstreamTls>>, Vec<Rejected>> {
    if is_raw(ts) {
        return Ok(None);
    }
    match &ts.typed_config {
        Some(TransportSocketConfig::UpstreamTls(ctx)) => Ok(Some(Arc::new(UpstreamTls::build(
            ctx,
            &format!("{path}.typed_config"),
            secrets,
            stats.clone(),
        )?))),
        Some(other) => Err(vec![Rejected::new(
            format!("{path}.typed_config"),
            format!(
                "a cluster's transport socket takes an UpstreamTlsContext, not {}",
                other.type_url()
            ),
        )]),
        None => Err(vec![Rejected::new(
            path,
            format!(
                "transport socket '{}' needs a typed_config (UpstreamTlsContext)",
                ts.name
            ),
        )]),
    }
}

/// The metadata namespace endpoints use to pick a transport socket.
pub const MATCH_NAMESPACE: &str = "envoy.transport_socket_match";

/// One `transport_socket_matches` entry: the metadata it wants and its TLS (none: raw).
type SocketMatch = (
    serde_json::Map<String, serde_json::Value>,
    Option<Arc<UpstreamTls>>,
);

/// A cluster's transport sockets: the default and the per-endpoint matches.
#[derive(Debug)]
pub struct ClusterTransport {
    pub default: Option<Arc<UpstreamTls>>,
    matches: Vec<SocketMatch>,
    pub stats: Arc<SslStats>,
}

impl ClusterTransport {
    /// `None` when the cluster has no TLS anywhere (no `cluster.<name>.ssl.*` stats then).
    pub fn build(
        socket: Option<&TransportSocket>,
        matches: &[TransportSocketMatch],
        path: &str,
        scope: &Scope,
        secrets: &Arc<SecretManager>,
    ) -> Result<Option<Arc<ClusterTransport>>, Vec<Rejected>> {
        let uses_tls = socket.is_some_and(|s| !is_raw(s))
            || matches
                .iter()
                .any(|m| m.transport_socket.as_ref().is_some_and(|s| !is_raw(s)));
        if !uses_tls {
            return Ok(None);
        }
        let stats = Arc::new(SslStats::new(scope));
        let mut errors = Vec::new();
        let default = match socket {
            Some(ts) => build_upstream(ts, &format!("{path}.transport_socket"), secrets, &stats)
                .unwrap_or_else(|mut e| {
                    errors.append(&mut e);
                    None
                }),
            None => None,
        };
        let mut built = Vec::new();
        for (i, m) in matches.iter().enumerate() {
            let at = format!("{path}.transport_socket_matches[{i}]");
            let tls = match &m.transport_socket {
                Some(ts) => build_upstream(ts, &format!("{at}.transport_socket"), secrets, &stats)
                    .unwrap_or_else(|mut e| {
                        errors.append(&mut e);
                        None
                    }),
                None => None,
            };
            built.push((m.match_.clone(), tls));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Some(Arc::new(ClusterTransport {
            default,
            matches: built,
            stats,
        })))
    }

    /// Which socket an endpoint with `metadata` uses: the index of the first match whose
    /// keys all equal the endpoint's `envoy.transport_socket_match` values, or `None` for
    /// the cluster's default socket.
    pub fn match_index(&self, metadata: Option<&crate::xds::core::Metadata>) -> Option<u8> {
        let fields = metadata
            .and_then(|m| m.filter_metadata.get(MATCH_NAMESPACE))
            .and_then(|v| v.as_object());
        self.matches
            .iter()
            .position(|(want, _)| {
                want.iter()
                    .all(|(k, v)| fields.and_then(|f| f.get(k)) == Some(v))
            })
            .and_then(|i| u8::try_from(i).ok())
    }

    /// The TLS context for an endpoint whose match index is `index`.
    pub fn for_index(&self, index: Option<u8>) -> Option<&Arc<UpstreamTls>> {
        match index {
            Some(i) => self
                .matches
                .get(usize::from(i))
                .and_then(|(_, t)| t.as_ref()),
            None => self.default.as_ref(),
        }
    }

    /// Every TLS context of the cluster (for `/certs` and SDS references).
    pub fn contexts(&self) -> Vec<&Arc<UpstreamTls>> {
        self.default
            .iter()
            .chain(self.matches.iter().filter_map(|(_, t)| t.as_ref()))
            .collect()
    }

    pub fn sds_names(&self) -> Vec<String> {
        self.contexts()
            .iter()
            .flat_map(|c| c.common.sds_names())
            .collect()
    }
}
