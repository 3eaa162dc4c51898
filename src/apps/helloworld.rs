//! Istio's helloworld sample (`samples/helloworld/src/app.py`, Flask under gunicorn on 5000):
//! `/hello` answers `Hello version: <SERVICE_VERSION>, instance: <HOSTNAME>`, `/health` says
//! it is healthy. The original burns CPU per request; that cost is left out.

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::{self, HeaderValue};
use http::{Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Log;
use super::serve::{self, Body};

/// gunicorn's `-b [::]:5000`.
pub const PORT: u16 = 5000;

pub struct Helloworld {
    version: String,
    instance: String,
    log: Log,
}

impl Helloworld {
    /// `version` is the image's `SERVICE_VERSION`; the manifest's env overrides it.
    pub fn new(
        version: &str,
        env: &BTreeMap<String, String>,
        pod_name: &str,
        log: Log,
    ) -> Arc<Helloworld> {
        Arc::new(Helloworld {
            version: env
                .get("SERVICE_VERSION")
                .cloned()
                .unwrap_or_else(|| version.to_owned()),
            instance: env
                .get("HOSTNAME")
                .cloned()
                .unwrap_or_else(|| pod_name.to_owned()),
            log,
        })
    }

    fn handle(&self, request: &Request<Incoming>) -> Response<Body> {
        let path = request.uri().path();
        let (status, body) = match (request.method(), path) {
            (&Method::GET, "/hello") => (
                StatusCode::OK,
                format!(
                    "Hello version: {}, instance: {}\n",
                    self.version, self.instance
                ),
            ),
            (&Method::GET, "/health") => (StatusCode::OK, "Helloworld is healthy".to_owned()),
            (_, "/hello" | "/health") => (
                StatusCode::METHOD_NOT_ALLOWED,
                "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n".to_owned(),
            ),
            _ => (
                StatusCode::NOT_FOUND,
                "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n".to_owned(),
            ),
        };
        (self.log)(&format!(
            "{} {} {}",
            request.method(),
            path,
            status.as_u16()
        ));
        let mut response = Response::new(serve::full(body));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        response
    }
}

pub async fn serve(
    listener: TcpListener,
    app: Arc<Helloworld>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let handler = move |request: Request<Incoming>, _peer: SocketAddr| {
        let response = app.handle(&request);
        async move { response }
    };
    serve::serve_http1("helloworld", listener, handler, shutdown).await
}
