//! Istio's bookinfo sample (`samples/bookinfo/src` in istio/istio): productpage (Python/Flask),
//! details (Ruby/WEBrick), reviews v1–v3 (Java/Liberty) and ratings (Node), each on 9080, with
//! the originals' paths, JSON, environment variables, header propagation, timeouts and the
//! error texts the fault-injection and timeout tasks show.

mod call;
mod details;
mod page;
mod productpage;
mod pyjson;
mod ratings;
mod reviews;

use std::collections::BTreeMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{self, HeaderValue};
use http::{Request, Response, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::Log;
use super::serve::{self, Body};
use crate::net::dial::Dialer;

/// Every bookinfo service listens on 9080 (the images' `CMD … 9080`).
pub const PORT: u16 = 9080;

/// Request bodies beyond this are refused (logins and rating posts are tiny).
const MAX_BODY: usize = 64 * 1024;

/// Which bookinfo image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    Productpage,
    Details,
    Reviews(ReviewsVersion),
    Ratings,
}

/// The three reviews images differ only in their build arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReviewsVersion {
    /// `ENABLE_RATINGS=false`.
    V1,
    /// `ENABLE_RATINGS=true`, `STAR_COLOR=black`.
    V2,
    /// `ENABLE_RATINGS=true`, `STAR_COLOR=red`.
    V3,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Productpage => "productpage",
            Service::Details => "details",
            Service::Reviews(_) => "reviews",
            Service::Ratings => "ratings",
        }
    }
}

/// A running bookinfo service.
pub enum App {
    Productpage(productpage::Productpage),
    Details,
    Reviews(reviews::Reviews),
    Ratings(ratings::Ratings),
}

impl App {
    /// The service for an image, configured by the container's environment as the image's
    /// `ENV` defaults overridden by the manifest.
    pub fn new(
        service: Service,
        env: &BTreeMap<String, String>,
        pod_name: &str,
        dialer: Arc<dyn Dialer>,
        log: Log,
    ) -> Arc<App> {
        Arc::new(match service {
            Service::Productpage => App::Productpage(productpage::Productpage::new(env, dialer)),
            Service::Details => App::Details,
            Service::Reviews(version) => {
                App::Reviews(reviews::Reviews::new(version, env, pod_name, dialer, log))
            }
            Service::Ratings => App::Ratings(ratings::Ratings::new(env, log)),
        })
    }

    async fn handle(&self, request: Request<Incoming>) -> Response<Body> {
        let (parts, body) = request.into_parts();
        let body = match read_body(body).await {
            Ok(body) => body,
            Err(status) => return text(status, "text/plain", status.as_str().to_owned()),
        };
        let request = Request::from_parts(parts, body);
        match self {
            App::Productpage(app) => app.handle(request).await,
            App::Details => details::handle(&request),
            App::Reviews(app) => app.handle(&request).await,
            App::Ratings(app) => app.handle(&request).await,
        }
    }
}

/// Serves HTTP/1.1 until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    app: Arc<App>,
    shutdown: CancellationToken,
) -> io::Result<()> {
    let handler = move |request: Request<Incoming>, _peer: SocketAddr| {
        let app = app.clone();
        async move { app.handle(request).await }
    };
    serve::serve_http1("bookinfo", listener, handler, shutdown).await
}

async fn read_body(body: Incoming) -> Result<Bytes, StatusCode> {
    let limited = http_body_util::Limited::new(body, MAX_BODY);
    match limited.collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(_) => Err(StatusCode::PAYLOAD_TOO_LARGE),
    }
}

/// A response with a body and its content type.
fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(serve::full(body));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn json(status: StatusCode, body: impl Into<Bytes>) -> Response<Body> {
    text(status, "application/json", body)
}

#[cfg(test)]
mod tests;
