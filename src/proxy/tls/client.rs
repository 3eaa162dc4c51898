//! Upstream TLS: a cluster's `UpstreamTlsContext` (or the one its transport socket match picks
//! for an endpoint) wrapping a dialled connection. SNI is sent only when `sni` is set (Envoy
//! sends none by default); the peer is verified by [`UpstreamVerifier`], so SPIFFE URI-only
//! certificates pass when a SAN matcher accepts them.

use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use rustls::ClientConfig;
use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsConnector;

use crate::net::dial::BoxStream;
use crate::xds::tls::UpstreamTlsContext;

use super::super::Rejected;
use super::ConnTls;
use super::context::{CommonCtx, Resolved, Side};
use super::secrets::SecretManager;
use super::stats::SslStats;
use super::verify::{PeerPolicy, UpstreamVerifier};

#[derive(Debug)]
struct Configs {
    /// With the configured ALPN.
    full: Arc<ClientConfig>,
    /// Without `h2`: the HTTP connection pool speaks HTTP/1.1 only, and a server that picked
    /// h2 would get HTTP/1.1 bytes.
    http1: Arc<ClientConfig>,
    /// The identity our client certificate carries (Istio's `source_principal`).
    local_uri_san: Option<String>,
}

#[derive(Debug)]
pub struct UpstreamTls {
    pub config: UpstreamTlsContext,
    pub common: CommonCtx,
    sni: Option<ServerName<'static>>,
    pub stats: Arc<SslStats>,
    cache: Mutex<Option<(u64, Arc<Configs>)>>,
}

/// Why an upstream TLS handshake failed, as `%UPSTREAM_TRANSPORT_FAILURE_REASON%` and the
/// local reply's "transport failure reason" show it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct ConnectTlsError(pub String);

impl UpstreamTls {
    pub fn build(
        ctx: &UpstreamTlsContext,
        path: &str,
        secrets: &Arc<SecretManager>,
        stats: Arc<SslStats>,
    ) -> Result<UpstreamTls, Vec<Rejected>> {
        let common =
            CommonCtx::build(ctx.common_tls_context.as_ref(), Side::Client, path, secrets)?;
        let sni = if ctx.sni.is_empty() {
            None
        } else {
            match ServerName::try_from(ctx.sni.clone()) {
                Ok(n) => Some(n),
                Err(_) => {
                    return Err(vec![Rejected::new(
                        format!("{path}.sni"),
                        format!("invalid SNI '{}'", ctx.sni),
                    )]);
                }
            }
        };
        let tls = UpstreamTls {
            config: ctx.clone(),
            common,
            sni,
            stats,
            cache: Mutex::new(None),
        };
        if tls.common.missing().is_empty()
            && let Err(e) = tls.configs()
        {
            return Err(vec![Rejected::new(format!("{path}.common_tls_context"), e)]);
        }
        Ok(tls)
    }

    fn configs(&self) -> Result<Arc<Configs>, String> {
        let generation = self.common.generation();
        if let Ok(cache) = self.cache.lock()
            && let Some((g, c)) = cache.as_ref()
            && *g == generation
        {
            return Ok(c.clone());
        }
        let resolved = self.common.resolve()?;
        let configs = Arc::new(self.make(&resolved)?);
        if let Ok(mut cache) = self.cache.lock() {
            *cache = Some((generation, configs.clone()));
        }
        Ok(configs)
    }

    fn make(&self, r: &Resolved) -> Result<Configs, String> {
        let provider = self.common.provider.clone();
        let policy = r.policy.clone().unwrap_or(PeerPolicy {
            roots: None,
            sans: Default::default(),
            accept_untrusted: true,
        });
        let verifier = Arc::new(UpstreamVerifier::new(policy, self.stats.clone(), &provider));
        let builder = ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&self.common.versions)
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let mut full = match r.certs.first() {
            Some(c) => builder.with_client_cert_resolver(Arc::new(ClientCert(c.key.clone()))),
            None => builder.with_no_client_auth(),
        };
        full.alpn_protocols = self.common.alpn.clone();
        let mut http1 = full.clone();
        http1.alpn_protocols.retain(|p| p.as_slice() != b"h2");
        Ok(Configs {
            full: Arc::new(full),
            http1: Arc::new(http1),
            local_uri_san: super::first_uri_san(&r.certs[..r.certs.len().min(1)]),
        })
    }

    /// Runs the client handshake over a dialled connection to `ip`.
    pub async fn connect(
        &self,
        stream: BoxStream,
        ip: IpAddr,
        http1_only: bool,
    ) -> Result<(BoxStream, Arc<ConnTls>), ConnectTlsError> {
        let configs = self.configs().map_err(|e| {
            self.stats.connection_error.inc();
            ConnectTlsError(format!("TLS_error:|{e}:TLS_error_end"))
        })?;
        let config = if http1_only {
            configs.http1.clone()
        } else {
            configs.full.clone()
        };
        // Without `sni` no server name is sent: rustls sends none for an IP address.
        let name = self.sni.clone().unwrap_or(ServerName::IpAddress(ip.into()));
        let tls = TlsConnector::from(config)
            .connect(name, stream)
            .await
            .map_err(|e| {
                self.stats.connection_error.inc();
                ConnectTlsError(failure_reason(&e))
            })?;
        let (_, conn) = tls.get_ref();
        let mut facts =
            ConnTls::from_state(conn, self.sni.as_ref().map(|n| n.to_str().into_owned()));
        facts.local_uri_san = configs.local_uri_san.clone();
        self.stats.record_handshake(conn);
        Ok((Box::new(tls), Arc::new(facts)))
    }

    pub fn resolved(&self) -> Option<Resolved> {
        self.common.resolve().ok()
    }
}

/// BoringSSL-like failure text: `TLS_error:|<reason>:TLS_error_end`, with
/// `CERTIFICATE_VERIFY_FAILED` for a peer that did not verify.
fn failure_reason(e: &std::io::Error) -> String {
    let tls = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>());
    match tls {
        Some(rustls::Error::InvalidCertificate(c)) => format!(
            "TLS_error:|268435581:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:{c:?}:TLS_error_end"
        ),
        Some(other) => format!("TLS_error:|{other}:TLS_error_end"),
        None => format!("TLS_error:|{e}:TLS_error_end"),
    }
}

/// Presents one certificate whenever the server asks.
#[derive(Debug)]
struct ClientCert(Arc<CertifiedKey>);

impl ResolvesClientCert for ClientCert {
    fn resolve(
        &self,
        _root_hint_subjects: &[&[u8]],
        _sigschemes: &[rustls::SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}
