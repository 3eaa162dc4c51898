//! Downstream TLS: a filter chain's `DownstreamTlsContext` terminating client connections.
//! The ClientHello is read first (rustls' lazy acceptor), so ALPN is only offered when the
//! client's list overlaps ours — BoringSSL simply negotiates no protocol otherwise, where
//! rustls would refuse the handshake (Istio's `istio-peer-exchange` clients rely on that).

use std::sync::{Arc, Mutex};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};
use tokio_rustls::LazyConfigAcceptor;

use crate::net::dial::BoxStream;
use crate::xds::tls::DownstreamTlsContext;

use super::super::Rejected;
use super::ConnTls;
use super::context::{CommonCtx, Resolved, Side};
use super::secrets::SecretManager;
use super::stats::SslStats;
use super::verify::DownstreamVerifier;

/// The rustls configs for one generation of secrets.
#[derive(Debug)]
struct Configs {
    with_alpn: Arc<ServerConfig>,
    without_alpn: Arc<ServerConfig>,
    /// Our identity (for Istio's `destination_principal`); with several certificates, the
    /// first that has a URI SAN.
    local_uri_san: Option<String>,
}

#[derive(Debug)]
pub struct DownstreamTls {
    pub config: DownstreamTlsContext,
    pub common: CommonCtx,
    require_client_certificate: bool,
    require_sni: bool,
    pub stats: Arc<SslStats>,
    cache: Mutex<Option<(u64, Arc<Configs>)>>,
}

/// Why a downstream handshake failed (the connection is closed).
#[derive(Debug, thiserror::Error)]
pub enum AcceptError {
    #[error("TLS error: {0}")]
    Handshake(String),
    #[error("TLS error: {0}")]
    NotReady(String),
    #[error("TLS error: the client sent no SNI and require_sni is set")]
    NoSni,
}

impl DownstreamTls {
    pub fn build(
        ctx: &DownstreamTlsContext,
        path: &str,
        secrets: &Arc<SecretManager>,
        stats: Arc<SslStats>,
    ) -> Result<DownstreamTls, Vec<Rejected>> {
        let common =
            CommonCtx::build(ctx.common_tls_context.as_ref(), Side::Server, path, secrets)?;
        if common.has_no_certificates() {
            return Err(vec![Rejected::new(
                format!("{path}.common_tls_context"),
                "No TLS certificates found for server context (set tls_certificates or tls_certificate_sds_secret_configs)",
            )]);
        }
        let tls = DownstreamTls {
            config: ctx.clone(),
            common,
            require_client_certificate: ctx.require_client_certificate.unwrap_or(false),
            require_sni: ctx.require_sni.unwrap_or(false),
            stats,
            cache: Mutex::new(None),
        };
        // Static material is checked now; SDS material when it arrives.
        if tls.common.missing().is_empty()
            && let Err(e) = tls.configs()
        {
            return Err(vec![Rejected::new(format!("{path}.common_tls_context"), e)]);
        }
        Ok(tls)
    }

    /// The configs for the secrets in force, rebuilt after a rotation.
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
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&self.common.versions)
            .map_err(|e| e.to_string())?;
        let builder = match &r.policy {
            Some(policy) => builder.with_client_cert_verifier(Arc::new(DownstreamVerifier::new(
                policy.clone(),
                self.require_client_certificate,
                self.stats.clone(),
                &provider,
            )?)),
            None if self.require_client_certificate => {
                // Required but nothing to verify against: any certificate will do.
                builder.with_client_cert_verifier(Arc::new(DownstreamVerifier::new(
                    super::verify::PeerPolicy {
                        roots: None,
                        sans: Default::default(),
                        accept_untrusted: true,
                    },
                    true,
                    self.stats.clone(),
                    &provider,
                )?))
            }
            None => builder.with_no_client_auth(),
        };
        let keys: Vec<Arc<CertifiedKey>> = r.certs.iter().map(|c| c.key.clone()).collect();
        let mut with_alpn = builder.with_cert_resolver(Arc::new(Certs(keys)));
        // Envoy has no session resumption across rotations to worry about; keep rustls'
        // defaults otherwise.
        let without_alpn = Arc::new(with_alpn.clone());
        with_alpn.alpn_protocols = self.common.alpn.clone();
        Ok(Configs {
            with_alpn: Arc::new(with_alpn),
            without_alpn,
            local_uri_san: super::first_uri_san(&r.certs),
        })
    }

    /// Runs the server handshake on an accepted connection.
    pub async fn accept(
        &self,
        stream: BoxStream,
    ) -> Result<(BoxStream, Arc<ConnTls>), AcceptError> {
        let start = LazyConfigAcceptor::new(rustls::server::Acceptor::default(), stream)
            .await
            .map_err(|e| {
                self.stats.connection_error.inc();
                AcceptError::Handshake(e.to_string())
            })?;
        let hello = start.client_hello();
        let sni = hello.server_name().map(str::to_owned);
        let overlap = hello.alpn().is_some_and(|mut offered| {
            offered.any(|p| self.common.alpn.iter().any(|ours| ours.as_slice() == p))
        });
        if self.require_sni && sni.is_none() {
            self.stats.connection_error.inc();
            return Err(AcceptError::NoSni);
        }
        let configs = self.configs().map_err(|e| {
            self.stats.connection_error.inc();
            AcceptError::NotReady(e)
        })?;
        let config = if overlap {
            configs.with_alpn.clone()
        } else {
            configs.without_alpn.clone()
        };
        let tls = start.into_stream(config).await.map_err(|e| {
            self.count_failure(&e);
            AcceptError::Handshake(e.to_string())
        })?;
        let (_, conn) = tls.get_ref();
        let mut facts = ConnTls::from_server(conn, sni);
        facts.local_uri_san = configs.local_uri_san.clone();
        if facts.peer_certificate.is_none() {
            self.stats.no_certificate.inc();
        }
        self.stats.record_handshake(conn);
        Ok((Box::new(tls), Arc::new(facts)))
    }

    fn count_failure(&self, e: &std::io::Error) {
        self.stats.connection_error.inc();
        let tls_error = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>());
        if matches!(tls_error, Some(rustls::Error::NoCertificatesPresented)) {
            self.stats.fail_verify_no_cert.inc();
        }
    }

    /// The material `/certs` describes.
    pub fn resolved(&self) -> Option<Resolved> {
        self.common.resolve().ok()
    }
}

/// Picks the first certificate whose key can sign with a scheme the client offers (an RSA and
/// an ECDSA certificate may be configured together), else the first.
#[derive(Debug)]
struct Certs(Vec<Arc<CertifiedKey>>);

impl ResolvesServerCert for Certs {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.0
            .iter()
            .find(|k| k.key.choose_scheme(hello.signature_schemes()).is_some())
            .or_else(|| self.0.first())
            .cloned()
    }
}

impl ConnTls {
    fn from_server(conn: &ServerConnection, sni: Option<String>) -> ConnTls {
        ConnTls::from_state(conn, sni)
    }
}
