//! fake-service, as the `nicholasjackson/fake-service` image v0.14.1 behaves (Go 1.12, the
//! version the book's chapter-4 SNI lab runs): an HTTP service answering every path with a
//! JSON description of itself (`name`, `uri`, `type`, `ip_addresses`, times, `body` =
//! `MESSAGE`, `upstream_calls`, `code`), optionally calling `UPSTREAM_URIS` first, injecting
//! errors (`ERROR_RATE`…) and latency (`TIMING_*`), and serving HTTPS itself when
//! `TLS_CERT_LOCATION`/`TLS_KEY_LOCATION` name mounted files. It logs like go-hclog.
//! gRPC (`SERVER_TYPE=grpc`, `grpc://` upstreams) is refused at start, clearly.

mod config;
mod cors;
pub(crate) mod gofmt;
mod handler;
mod hclog;
mod inbound;
mod reply;
mod response;
mod server;
mod tls;
mod upstream;

use std::collections::BTreeMap;
use std::future::Future;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

use rustls::ServerConfig;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use config::Config;
pub use tls::TlsError;
pub use upstream::TargetError;

use self::handler::FakeService;
use self::hclog::{Level, Logger};
use self::upstream::Target;
use super::Log;
use super::files::Files;
use crate::net::dial::Dialer;

/// Why fake-service does not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    #[error(
        "fake-service: LISTEN_ADDR={0:?} has no port number (expected host:port, e.g. 0.0.0.0:9090)"
    )]
    ListenAddr(String),
    #[error(
        "fake-service: SERVER_TYPE=grpc is not supported by the built-in fake-service (only \
         SERVER_TYPE=http is)"
    )]
    Grpc,
    #[error(
        "fake-service: SERVER_TYPE={0:?} is neither http nor grpc (v0.14.1 would start no server \
         and exit)"
    )]
    ServerType(String),
    #[error("fake-service: {0}")]
    Upstream(#[from] TargetError),
    #[error("fake-service cannot serve HTTPS: {0}")]
    Tls(#[from] TlsError),
}

/// A configured fake-service, ready to be given its listener.
pub struct Prepared {
    app: Arc<FakeService>,
    tls: Option<Arc<ServerConfig>>,
    port: u16,
}

/// Reads the environment and the mounted files, logs the start-up lines, and loads the TLS
/// certificate when asked to. On failure the error is logged as v0.14.1 logs it, too.
pub fn prepare(
    env: &BTreeMap<String, String>,
    files: &Files,
    pod_ip: IpAddr,
    dialer: Arc<dyn Dialer>,
    log: Log,
) -> Result<Prepared, StartError> {
    let config = Config::from_env(env);
    let port = config
        .listen_port()
        .ok_or_else(|| StartError::ListenAddr(config.listen_addr.clone()))?;
    match config.server_type.as_str() {
        "http" => {}
        "grpc" => return Err(StartError::Grpc),
        other => return Err(StartError::ServerType(other.to_owned())),
    }
    let targets = config
        .upstream_uris
        .iter()
        .map(|uri| Target::parse(uri))
        .collect::<Result<Vec<_>, _>>()?;

    let logger = Logger::new(log, Level::parse(&config.log_level));
    logger.info(
        "Starting service",
        &[
            ("name", config.name.clone()),
            ("upstreamURIs", config.upstream_uris_raw.clone()),
            ("upstreamWorkers", config.upstream_workers.to_string()),
            ("listenAddress", config.listen_addr.clone()),
            ("service type", config.server_type.clone()),
        ],
    );
    // The real image then lists its bundled UI files (`File: path=…`); there is no UI here.
    logger.info("Adding handler for UI static files", &[]);
    logger.info(
        "Settings CORS options",
        &[
            ("allow_creds", config.allow_credentials.to_string()),
            ("allow_headers", config.allowed_headers.clone()),
            ("allow_origins", config.allowed_origins.clone()),
        ],
    );
    let tls = if config.tls() {
        logger.info("Enabling TLS", &[]);
        match tls::server_config(files, &config.tls_cert, &config.tls_key) {
            Ok(tls) => Some(tls),
            Err(err) => {
                start_failed(&logger, &config.listen_addr, &err.go_text());
                return Err(err.into());
            }
        }
    } else {
        None
    };
    let app = FakeService::new(config, targets, pod_ip.to_string(), dialer, logger);
    Ok(Prepared {
        app: Arc::new(app),
        tls,
        port,
    })
}

impl Prepared {
    /// The port of `LISTEN_ADDR`, to bind on the pod's address.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Logs a failed listen as `main.go` does (`Error starting service: …`).
    pub fn listen_failed(&self, err: &io::Error) {
        let addr = &self.app.config.listen_addr;
        let reason = match err.kind() {
            io::ErrorKind::AddrInUse => "bind: address already in use".to_owned(),
            io::ErrorKind::PermissionDenied => "bind: permission denied".to_owned(),
            _ => err.to_string(),
        };
        start_failed(&self.app.log, addr, &format!("listen tcp {addr}: {reason}"));
    }

    /// Serves on `listener` until `shutdown`.
    pub fn serve(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> impl Future<Output = io::Result<()>> + Send + 'static {
        server::serve(listener, self.tls, self.app, shutdown)
    }
}

fn start_failed(log: &Logger, address: &str, error: &str) {
    log.error(
        "Error starting service",
        &[("address", address.to_owned()), ("error", error.to_owned())],
    );
}

#[cfg(test)]
mod tests;
