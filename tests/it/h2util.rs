//! HTTP/2 for tests: a client (h2c with prior knowledge, or over TLS with ALPN `h2`) that
//! returns status, headers, body and trailers, and a small upstream that answers over HTTP/1.1
//! or h2c with the protocol it saw (and gRPC-style trailers when asked).
#![allow(dead_code)]

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// What came back.
#[derive(Debug)]
pub struct H2Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub trailers: Option<HeaderMap>,
    pub version: http::Version,
}

impl H2Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn trailer(&self, name: &str) -> Option<&str> {
        self.trailers
            .as_ref()?
            .get(name)
            .and_then(|v| v.to_str().ok())
    }
    /// `grpc-status` from the trailers, or from the headers (trailers-only answers).
    pub fn grpc_status(&self) -> Option<&str> {
        self.trailer("grpc-status")
            .or_else(|| self.header("grpc-status"))
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// One request over a new h2c (prior knowledge) connection.
pub fn h2c(
    addr: SocketAddr,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<H2Response, String> {
    runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        send_on(TokioIo::new(tcp), "http", addr, method, uri, headers, body).await
    })
}

/// Several requests, one after another, on one h2c connection.
pub fn h2c_many(addr: SocketAddr, uri: &str, n: usize) -> Result<Vec<H2Response>, String> {
    runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, conn) = hyper::client::conn::http2::handshake::<_, _, Full<Bytes>>(
            TokioExecutor::new(),
            TokioIo::new(tcp),
        )
        .await
        .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let mut out = Vec::new();
        for _ in 0..n {
            let req = Request::builder()
                .uri(format!("http://{addr}{uri}"))
                .body(Full::new(Bytes::new()))
                .unwrap();
            out.push(collect(sender.send_request(req).await.map_err(|e| e.to_string())?).await?);
        }
        Ok(out)
    })
}

/// One request over TLS offering ALPN `h2, http/1.1`; the response's version says which won.
pub fn h2_tls(addr: SocketAddr, sni: &str, ca_pem: &str, uri: &str) -> Result<H2Response, String> {
    use rustls::pki_types::{CertificateDer, ServerName, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(c.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let mut cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_root_certificates(roots)
    .with_no_client_auth();
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let name = ServerName::try_from(sni.to_owned()).map_err(|e| e.to_string())?;
    runtime().block_on(async {
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(cfg))
            .connect(name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        if alpn.as_deref() != Some(b"h2") {
            return Err(format!("ALPN chose {alpn:?}"));
        }
        send_on(
            TokioIo::new(tls),
            "https",
            addr,
            "GET",
            uri,
            &[("host", sni)],
            b"",
        )
        .await
    })
}

async fn send_on<T>(
    io: TokioIo<T>,
    scheme: &str,
    addr: SocketAddr,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<H2Response, String>
where
    T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake::<_, _, Full<Bytes>>(TokioExecutor::new(), io)
            .await
            .map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let authority = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("host"))
        .map(|(_, v)| (*v).to_owned())
        .unwrap_or_else(|| addr.to_string());
    let mut req = Request::builder()
        .method(method)
        .uri(format!("{scheme}://{authority}{uri}"));
    for (k, v) in headers {
        if !k.eq_ignore_ascii_case("host") {
            req = req.header(*k, *v);
        }
    }
    let req = req
        .body(Full::new(Bytes::copy_from_slice(body)))
        .map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    collect(resp).await
}

async fn collect(resp: Response<hyper::body::Incoming>) -> Result<H2Response, String> {
    let (parts, body) = resp.into_parts();
    let collected = body.collect().await.map_err(|e| e.to_string())?;
    let trailers = collected.trailers().cloned();
    Ok(H2Response {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: collected.to_bytes(),
        trailers,
        version: parts.version,
    })
}

/// What an [`H2Upstream`] saw of one request.
#[derive(Debug, Clone)]
pub struct SeenH2 {
    pub version: http::Version,
    pub path: String,
    pub headers: HeaderMap,
}

/// An upstream answering HTTP/1.1 and h2c: the body is `<name> <HTTP version> <path>`; a
/// request with `x-trailer: v` gets the trailer `x-trailer: v` back.
pub struct H2Upstream {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Vec<SeenH2>>>,
    _rt: tokio::runtime::Runtime,
}

impl H2Upstream {
    pub fn start(name: &str) -> H2Upstream {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let std = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        std.set_nonblocking(true).unwrap();
        let addr = std.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (s, n) = (seen.clone(), name.to_owned());
        rt.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(std).unwrap();
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let (s, n) = (s.clone(), n.clone());
                tokio::spawn(async move {
                    let svc =
                        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                            let (s, n) = (s.clone(), n.clone());
                            async move {
                                s.lock().unwrap().push(SeenH2 {
                                    version: req.version(),
                                    path: req.uri().path().to_owned(),
                                    headers: req.headers().clone(),
                                });
                                let text = format!("{n} {:?} {}", req.version(), req.uri().path());
                                let trailer = req.headers().get("x-trailer").cloned();
                                let mut frames =
                                    vec![Ok::<_, Infallible>(Frame::data(Bytes::from(text)))];
                                if let Some(t) = trailer {
                                    let mut h = HeaderMap::new();
                                    h.insert("x-trailer", t);
                                    frames.push(Ok(Frame::trailers(h)));
                                }
                                let body = StreamBody::new(futures_util::stream::iter(frames));
                                Ok::<_, Infallible>(Response::new(body))
                            }
                        });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(tcp), svc)
                        .await;
                });
            }
        });
        H2Upstream {
            addr,
            seen,
            _rt: rt,
        }
    }

    pub fn seen(&self) -> Vec<SeenH2> {
        self.seen.lock().unwrap().clone()
    }
}

/// A unary gRPC call over a new h2c connection: `path` like `/hello.HelloService/SayHello`,
/// `message` the encoded request. The response's messages are in [`grpc_messages`].
pub fn grpc(
    addr: SocketAddr,
    path: &str,
    message: &[u8],
    extra: &[(&str, &str)],
) -> Result<H2Response, String> {
    let mut headers = vec![("content-type", "application/grpc"), ("te", "trailers")];
    headers.extend_from_slice(extra);
    let body = mesh::apps::grpc::frame::encode(message);
    h2c(addr, "POST", path, &headers, &body)
}

/// The messages of a gRPC response body.
pub fn grpc_messages(r: &H2Response) -> Vec<Vec<u8>> {
    mesh::apps::grpc::frame::decode_all(&r.body)
        .unwrap()
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect()
}

/// Field `n` of a message as a string.
pub fn proto_string(message: &[u8], n: u32) -> Option<String> {
    let fields = mesh::apps::grpc::proto::fields(message).ok()?;
    mesh::apps::grpc::proto::field(&fields, n)?
        .as_str()
        .map(str::to_owned)
}
