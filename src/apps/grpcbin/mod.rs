//! `moul/grpcbin`: gRPC's httpbin, over h2c on port 9000. Serves `grpcbin.GRPCBin`
//! (`Index`, `Empty`, `DummyUnary` echoing its message, `HeadersUnary` returning the request
//! metadata, `SpecificError` failing with a chosen status, `RandomError`),
//! `hello.HelloService/SayHello`, and the standard health service
//! `grpc.health.v1.Health` (`Check`, `Watch`).

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Log;
use super::grpc::frame::{self, status_headers};
use super::grpc::proto::{self, Value, Writer};
use super::serve::{Body, DRAIN_TIMEOUT};

#[cfg(test)]
mod tests;

/// The image's insecure gRPC port.
pub const PORT: u16 = 9000;

/// The services `grpc.health.v1.Health/Check` reports as SERVING ("" is the whole server).
const SERVICES: [&str; 3] = ["", "grpcbin.GRPCBin", "hello.HelloService"];

/// Serves until `shutdown`, then lets in-flight calls finish for up to [`DRAIN_TIMEOUT`].
pub async fn serve(listener: TcpListener, log: Log, shutdown: CancellationToken) -> io::Result<()> {
    if let Ok(addr) = listener.local_addr() {
        log(&format!("listening on :{} (insecure gRPC)", addr.port()));
    }
    let mut connections = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            Some(_) = connections.join_next() => continue,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!("grpcbin: accept failed: {err}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let stop = shutdown.clone();
        connections.spawn(async move {
            let stop2 = stop.clone();
            let service = service_fn(move |req| {
                let stop = stop2.clone();
                async move { Ok::<_, Infallible>(handle(req, peer, stop).await) }
            });
            let conn = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                () = stop.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(DRAIN_TIMEOUT, conn).await;
                }
            }
        });
    }
    let _ = tokio::time::timeout(DRAIN_TIMEOUT, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    Ok(())
}

/// A gRPC answer: one message then `grpc-status: 0` trailers.
fn reply(message: Vec<u8>) -> Response<Body> {
    let frames = vec![
        Ok::<_, io::Error>(Frame::data(frame::encode(&message))),
        Ok(Frame::trailers(status_headers(0, ""))),
    ];
    grpc_response(StreamBody::new(futures_util::stream::iter(frames)).boxed())
}

/// A failed call: trailers-only (the status in the headers, no body), as grpc-go answers.
fn failure(code: u32, message: &str) -> Response<Body> {
    let mut resp = grpc_response(super::serve::full(Bytes::new()));
    resp.headers_mut().extend(status_headers(code, message));
    resp
}

fn grpc_response(body: Body) -> Response<Body> {
    let mut resp = Response::new(body);
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/grpc"),
    );
    resp
}

async fn handle(
    req: Request<Incoming>,
    _peer: SocketAddr,
    stop: CancellationToken,
) -> Response<Body> {
    let is_grpc = req
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if !is_grpc {
        // grpc-go's answer to a request that is not gRPC.
        let mut resp = Response::new(super::serve::full(Bytes::from_static(
            b"invalid gRPC request content-type\n",
        )));
        *resp.status_mut() = StatusCode::UNSUPPORTED_MEDIA_TYPE;
        return resp;
    }
    let path = req.uri().path().to_owned();
    let metadata = req.headers().clone();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return failure(13, "failed to read the request"),
    };
    let message = match frame::decode_all(&body) {
        Ok(m) => m.first().copied().unwrap_or_default().to_vec(),
        Err(e) => return failure(13, &e.to_string()),
    };
    let fields = match proto::fields(&message) {
        Ok(f) => f,
        Err(e) => return failure(13, &format!("grpc: error unmarshalling request: {e}")),
    };
    let string = |n| {
        proto::field(&fields, n)
            .and_then(|v: Value<'_>| v.as_str())
            .unwrap_or("")
    };
    match path.as_str() {
        "/grpc.health.v1.Health/Check" => match health(string(1)) {
            Some(status) => reply(status),
            None => failure(5, "unknown service"),
        },
        "/grpc.health.v1.Health/Watch" => watch(health(string(1)), stop),
        "/hello.HelloService/SayHello" => reply(
            Writer::new()
                .string(1, &format!("hello {}", string(1)))
                .finish(),
        ),
        "/grpcbin.GRPCBin/Index" => reply(index()),
        "/grpcbin.GRPCBin/Empty" | "/grpcbin.GRPCBin/NoResponseUnary" => reply(Vec::new()),
        // The same message type in and out: the request's bytes are the answer.
        "/grpcbin.GRPCBin/DummyUnary" => reply(message),
        "/grpcbin.GRPCBin/HeadersUnary" => reply(headers_message(&metadata)),
        "/grpcbin.GRPCBin/SpecificError" => {
            let code = proto::field(&fields, 1)
                .and_then(|v| v.as_u64())
                .unwrap_or(0);
            match u32::try_from(code).ok().filter(|c| *c <= 16) {
                Some(0) => reply(Vec::new()),
                Some(c) => failure(c, string(2)),
                None => failure(2, &format!("invalid status code {code}")),
            }
        }
        "/grpcbin.GRPCBin/RandomError" => {
            let code = rand::random_range(1..=16u32);
            failure(code, "random error")
        }
        other => {
            let (service, method) = other
                .trim_start_matches('/')
                .split_once('/')
                .unwrap_or((other, ""));
            if SERVICES.contains(&service) || service == "grpc.health.v1.Health" {
                failure(
                    12,
                    &format!("unknown method {method} for service {service}"),
                )
            } else {
                failure(12, &format!("unknown service {service}"))
            }
        }
    }
}

/// `HealthCheckResponse` for `service`: SERVING (1), or `None` for a service it does not have.
fn health(service: &str) -> Option<Vec<u8>> {
    SERVICES
        .contains(&service)
        .then(|| Writer::new().varint(1, 1).finish())
}

/// `Watch`: the current status at once (SERVICE_UNKNOWN, 3, for an unknown service), then the
/// stream stays open until the server stops.
fn watch(status: Option<Vec<u8>>, stop: CancellationToken) -> Response<Body> {
    let first = status.unwrap_or_else(|| Writer::new().varint(1, 3).finish());
    let head = futures_util::stream::iter([Ok::<_, io::Error>(Frame::data(frame::encode(&first)))]);
    let tail = futures_util::stream::once(async move {
        stop.cancelled().await;
        Ok(Frame::trailers(status_headers(0, "")))
    });
    let body = StreamBody::new(futures_util::StreamExt::chain(head, tail)).boxed();
    grpc_response(body)
}

/// `IndexReply`: a description and the endpoints.
fn index() -> Vec<u8> {
    let mut w = Writer::new();
    w.string(1, "gRPC testing server (mesh's built-in moul/grpcbin)");
    for (path, description) in [
        ("/grpcbin.GRPCBin/Index", "This endpoint."),
        (
            "/grpcbin.GRPCBin/Empty",
            "Unary endpoint that takes no argument and replies an empty message.",
        ),
        (
            "/grpcbin.GRPCBin/DummyUnary",
            "Unary endpoint that replies a received DummyMessage.",
        ),
        (
            "/grpcbin.GRPCBin/HeadersUnary",
            "Unary endpoint that returns the request headers.",
        ),
        (
            "/grpcbin.GRPCBin/SpecificError",
            "Unary endpoint that raises a specified (by code) gRPC error.",
        ),
        (
            "/grpcbin.GRPCBin/RandomError",
            "Unary endpoint that raises a random gRPC error.",
        ),
        (
            "/hello.HelloService/SayHello",
            "Unary endpoint that answers hello <greeting>.",
        ),
        (
            "/grpc.health.v1.Health/Check",
            "Standard gRPC health check.",
        ),
    ] {
        let mut e = Writer::new();
        e.string(1, path).string(2, description);
        w.message(2, &e);
    }
    w.finish()
}

/// `HeadersMessage`: `map<string, Values> Metadata = 1`, `Values { repeated string values = 1 }`.
fn headers_message(headers: &HeaderMap) -> Vec<u8> {
    let mut w = Writer::new();
    for name in headers.keys() {
        let mut values = Writer::new();
        for v in headers.get_all(name) {
            values.string(1, &String::from_utf8_lossy(v.as_bytes()));
        }
        let mut entry = Writer::new();
        entry.string(1, name.as_str()).message(2, &values);
        w.message(1, &entry);
    }
    w.finish()
}
