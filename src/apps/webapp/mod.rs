//! webapp, as the book's `istioinaction/webapp` image answers: a Go beego app
//! (`services/webapp` in istioinaction/book-source-code) on port 8080 that fronts catalog
//! (`CATALOG_SERVICE_HOST`/`_PORT`) and forum (`FORUM_SERVICE_HOST`/`_PORT`):
//!
//! - `GET /api/catalog`, `/api/catalog/items/{id}`: catalog's items re-encoded by Go;
//! - `POST /api/catalog/items`: creates an item through catalog (400 `Invalid CatalogItem`);
//! - `/api/users`: forum's users; `GET /api/healthz`: `Healthy!`; `GET /`: an HTML page;
//! - a failed call answers 500 `error calling Catalog service` (or `… Forum service`).
//!
//! Calls go through the pod's [`Dialer`] with the caller's `x-*` and `Authorization` headers.

mod beego;
mod client;
mod gostruct;
mod index;
mod router;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method, StatusCode};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use client::CALL_TIMEOUT;
pub use router::{MAX_REQUEST_BODY, handle};

use client::Upstream;
use router::Service;

use crate::apps::Log;
use crate::apps::serve::serve_http1;
use crate::net::dial::Dialer;

/// beego's default port, whatever the manifest declares.
pub const PORT: u16 = 8080;

/// One running webapp.
pub struct Webapp {
    catalog: Upstream,
    forum: Upstream,
    dialer: Arc<dyn Dialer>,
    log: Log,
    timeout: Duration,
}

impl Webapp {
    /// A webapp for a container with this environment, dialling through `dialer`.
    pub fn new(env: &BTreeMap<String, String>, dialer: Arc<dyn Dialer>, log: Log) -> Webapp {
        let upstream = |prefix: &str| Upstream {
            host: env
                .get(&format!("{prefix}_SERVICE_HOST"))
                .cloned()
                .unwrap_or_default(),
            port: env
                .get(&format!("{prefix}_SERVICE_PORT"))
                .cloned()
                .unwrap_or_default(),
        };
        Webapp {
            catalog: upstream("CATALOG"),
            forum: upstream("FORUM"),
            dialer,
            log,
            timeout: CALL_TIMEOUT,
        }
    }

    /// Replaces the 60 s call timeout (tests use a short one).
    pub fn with_timeout(mut self, timeout: Duration) -> Webapp {
        self.timeout = timeout;
        self
    }

    fn upstream(&self, service: Service) -> &Upstream {
        match service {
            Service::Catalog => &self.catalog,
            Service::Forum => &self.forum,
        }
    }

    /// `httplib.Get(…).String()`: the body, whatever the status.
    async fn fetch(
        &self,
        service: Service,
        path: &str,
        forward: &[(HeaderName, HeaderValue)],
    ) -> Result<Bytes, String> {
        let upstream = self.upstream(service);
        upstream
            .call(
                &*self.dialer,
                Method::GET,
                path,
                forward,
                None,
                self.timeout,
            )
            .await
            .map(|answer| answer.body)
            .map_err(|e| e.to_string())
    }

    /// `httplib.Post(…).JSONBody(…).DoRequest()`: the status.
    async fn post(
        &self,
        service: Service,
        path: &str,
        forward: &[(HeaderName, HeaderValue)],
        json: Bytes,
    ) -> Result<StatusCode, String> {
        let upstream = self.upstream(service);
        upstream
            .call(
                &*self.dialer,
                Method::POST,
                path,
                forward,
                Some(json),
                self.timeout,
            )
            .await
            .map(|answer| answer.status)
            .map_err(|e| e.to_string())
    }

    fn log(&self, line: &str) {
        (self.log)(line);
    }
}

/// Prints beego's start-up line, then serves HTTP/1.1 until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    app: Arc<Webapp>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let port = listener.local_addr()?.port();
    app.log(&beego::startup_line(port));
    let handler = move |req, peer| {
        let app = app.clone();
        async move { handle(req, &app, peer).await }
    };
    serve_http1("webapp", listener, handler, shutdown).await
}

#[cfg(test)]
mod tests;
