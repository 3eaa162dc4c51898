//! fake-service end to end on loopback sockets: the plain-HTTP reply byte for byte (times
//! aside), HTTPS with the book's own simple-sni-1 certificate and a real TLS client trusting
//! the book's CA chain (and real `curl` when installed), upstream calls through a dialer,
//! error injection, start-up refusals and the hclog lines.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::{TokioExecutor, TokioIo};
use regex::Regex;
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::net::dial::{BoxStream, DialFuture};

const LIMIT: Duration = Duration::from_secs(10);
const SNI_HOST: &str = "simple-sni-1.istioinaction.io";

type Lines = Arc<Mutex<Vec<String>>>;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Resolves names to test listeners, as the pod's connector would.
#[derive(Default)]
struct FakeDialer {
    routes: HashMap<String, SocketAddr>,
}

impl Dialer for FakeDialer {
    fn dial<'a>(&'a self, host: &'a str, _port: u16) -> DialFuture<'a> {
        Box::pin(async move {
            let addr = self.routes.get(host).copied().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused")
            })?;
            let stream = TcpStream::connect(addr).await?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

struct Running {
    addr: SocketAddr,
    lines: Lines,
    stop: CancellationToken,
}

impl Running {
    fn log(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

fn sni_files() -> Files {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/istio-in-action/ch4/sni/simple-sni-1/3_application");
    let read = |p: &str| std::fs::read(dir.join(p)).unwrap();
    [
        (
            "/etc/certs/tls.crt".to_owned(),
            read("certs/simple-sni-1.istioinaction.io.cert.pem"),
        ),
        (
            "/etc/certs/tls.key".to_owned(),
            read("private/simple-sni-1.istioinaction.io.key.pem"),
        ),
    ]
    .into_iter()
    .collect()
}

fn ca_chain_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(
        "scenarios/istio-in-action/ch4/sni/simple-sni-1/2_intermediate/certs/ca-chain.cert.pem",
    )
}

async fn launch_with(
    vars: &[(&str, &str)],
    files: Files,
    routes: HashMap<String, SocketAddr>,
) -> Running {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let log: Log = Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned()));
    let dialer = Arc::new(FakeDialer { routes });
    let pod_ip = "10.1.0.63".parse().unwrap();
    let prepared = prepare(&env(vars), &files, pod_ip, dialer, log).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = CancellationToken::new();
    tokio::spawn(prepared.serve(listener, stop.clone()));
    Running { addr, lines, stop }
}

async fn launch(vars: &[(&str, &str)]) -> Running {
    launch_with(vars, Files::default(), HashMap::new()).await
}

/// One HTTP/1.1 exchange on `stream`: the head as sent, and the body (by `Content-Length`
/// or chunked).
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    request: &str,
) -> (String, String) {
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = find(&data, b"\r\n\r\n") {
                let head = String::from_utf8(data[..end].to_vec()).unwrap();
                let rest = &data[end + 4..];
                if let Some(len) = content_length(&head) {
                    if rest.len() >= len {
                        return (head, String::from_utf8(rest[..len].to_vec()).unwrap());
                    }
                } else if head.contains("Transfer-Encoding: chunked") {
                    if let Some(body) = dechunk(rest) {
                        return (head, body);
                    }
                } else if head.starts_with("HTTP/1.0") {
                    // Read to the end below.
                } else {
                    return (head, String::new());
                }
            }
            let n = stream.read(&mut buf).await.unwrap();
            if n == 0 {
                let text = String::from_utf8_lossy(&data).into_owned();
                return match text.split_once("\r\n\r\n") {
                    Some((h, b)) => (h.to_owned(), b.to_owned()),
                    None => (text, String::new()),
                };
            }
            data.extend_from_slice(&buf[..n]);
        }
    };
    tokio::time::timeout(LIMIT, read).await.expect("no answer")
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn content_length(head: &str) -> Option<usize> {
    head.lines()
        .find_map(|l| l.strip_prefix("Content-Length: "))
        .and_then(|v| v.trim().parse().ok())
}

fn dechunk(mut rest: &[u8]) -> Option<String> {
    let mut out = Vec::new();
    loop {
        let end = find(rest, b"\r\n")?;
        let size = usize::from_str_radix(std::str::from_utf8(&rest[..end]).ok()?, 16).ok()?;
        rest = &rest[end + 2..];
        if size == 0 {
            return String::from_utf8(out).ok();
        }
        if rest.len() < size + 2 {
            return None;
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

async fn get(addr: SocketAddr, path: &str, extra: &str) -> (String, String) {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: localhost:9090\r\nUser-Agent: curl/7.64.1\r\nAccept: */*\r\n{extra}\r\n"
    );
    exchange(&mut stream, &request).await
}

/// The reply with its clock readings swapped for placeholders.
fn untimed(body: &str) -> String {
    let stamp =
        Regex::new(r#""(start|end)_time": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}""#).unwrap();
    let duration = Regex::new(r#""duration": "\d+(\.\d+)?(ns|µs|ms|s)""#).unwrap();
    let body = stamp.replace_all(body, r#""${1}_time": "T""#);
    duration
        .replace_all(&body, r#""duration": "D""#)
        .into_owned()
}

#[tokio::test]
async fn answers_plain_http_in_v0_14_1s_shape() {
    let app = launch(&[
        ("LISTEN_ADDR", "0.0.0.0:9090"),
        ("NAME", "web"),
        ("MESSAGE", "Hello World"),
    ])
    .await;
    let (head, body) = get(app.addr, "/?x=1", "").await;
    let names: Vec<&str> = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(':').map(|(n, _)| n))
        .collect();
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert_eq!(names, ["Date", "Content-Length", "Content-Type"], "{head}");
    assert!(
        head.contains("Content-Type: text/plain; charset=utf-8"),
        "{head}"
    );
    assert_eq!(
        untimed(&body),
        r#"{
  "name": "web",
  "uri": "/?x=1",
  "type": "HTTP",
  "ip_addresses": [
    "10.1.0.63"
  ],
  "start_time": "T",
  "end_time": "T",
  "duration": "D",
  "body": "Hello World",
  "code": 200
}
"#
    );

    let lines = app.log();
    let hclog = Regex::new(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[INFO\]  ").unwrap();
    assert!(hclog.is_match(&lines[0]), "{lines:?}");
    let text: Vec<String> = lines
        .iter()
        .map(|l| hclog.replace(l, "").into_owned())
        .collect();
    assert_eq!(
        text[..6],
        [
            "Starting service: name=web upstreamURIs= upstreamWorkers=1 listenAddress=0.0.0.0:9090 service type=http",
            "Adding handler for UI static files",
            "Settings CORS options: allow_creds=false allow_headers=Accept,Accept-Language,Content-Language,Origin,Content-Type allow_origins=*",
            "Handle inbound request: request=\"GET /?x=1 HTTP/1.1",
            "Host: localhost:9090",
            "user-agent: curl/7.64.1",
        ],
        "{text:#?}"
    );
    assert_eq!(text[6], "accept: */*\"");
    // The service had nothing to wait for: Go logs the (negative) time left to sleep.
    assert!(
        Regex::new(r"^Sleeping for: duration=-\d+(\.\d+)?(ns|µs|ms)$")
            .unwrap()
            .is_match(&text[7]),
        "{text:#?}"
    );
    assert!(
        text[8].starts_with("Finished handling request: duration="),
        "{text:#?}"
    );
}

#[tokio::test]
async fn health_cors_ui_and_json_messages() {
    let app = launch(&[("MESSAGE", r#"{"items": [1, 2.50], "note": "<ok>"}"#)]).await;
    let (head, body) = get(app.addr, "/health", "").await;
    assert!(head.contains("Content-Length: 2"), "{head}");
    assert_eq!(body, "OK");
    assert!(
        app.log()
            .iter()
            .any(|l| l.ends_with("[INFO]  Handling health request"))
    );

    let (head, body) = get(app.addr, "/", "Origin: http://example.com\r\n").await;
    assert!(
        head.contains("\r\nAccess-Control-Allow-Origin: *\r\nDate: "),
        "{head}"
    );
    assert!(
        body.contains("  \"body\": {\n    \"items\": [\n      1,\n      2.50\n    ],\n    \"note\": \"\\u003cok\\u003e\"\n  },\n"),
        "{body}"
    );

    let (head, body) = get(app.addr, "/ui/", "").await;
    assert!(head.starts_with("HTTP/1.1 404 Not Found"), "{head}");
    assert_eq!(body, "404 page not found\n");
    let (head, _) = get(app.addr, "/ui", "").await;
    assert!(head.contains("Location: /ui/"), "{head}");
}

#[tokio::test]
async fn injects_errors_on_every_nth_request() {
    let app = launch(&[
        ("NAME", "web"),
        ("ERROR_RATE", "0.5"),
        ("ERROR_CODE", "503"),
    ])
    .await;
    let (head, _) = get(app.addr, "/", "").await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let (head, body) = get(app.addr, "/", "").await;
    assert!(
        head.starts_with("HTTP/1.1 503 Service Unavailable"),
        "{head}"
    );
    assert_eq!(
        body,
        "{\n  \"name\": \"web\",\n  \"uri\": \"/\",\n  \"type\": \"HTTP\",\n  \"ip_addresses\": [\n    \"10.1.0.63\"\n  ],\n  \"code\": 503,\n  \"error\": \"Service error automatically injected\"\n}\n"
    );
    let lines = app.log();
    assert!(
        lines.iter().any(|l| l.ends_with(
            "[INFO]  error_injector: Injecting error: request_count=2 error_percentage=0.5 error_type=http_error"
        )),
        "{lines:#?}"
    );
    assert!(
        lines.iter().any(|l| l.ends_with(
            "[ERROR] Error handling request: error=\"Service error automatically injected\""
        )),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn waits_out_the_median_latency() {
    let app = launch(&[("TIMING_50_PERCENTILE", "60ms")]).await;
    let started = std::time::Instant::now();
    let (_, body) = get(app.addr, "/", "").await;
    assert!(started.elapsed() >= Duration::from_millis(60));
    let duration = Regex::new(r#""duration": "(\d+(\.\d+)?)ms""#).unwrap();
    let ms: f64 = duration.captures(&body).unwrap()[1].parse().unwrap();
    assert!(ms >= 60.0, "{body}");
    assert!(
        app.log()
            .iter()
            .any(|l| Regex::new(r"Sleeping for: duration=(59\.\d+|60)ms$")
                .unwrap()
                .is_match(l)),
        "{:#?}",
        app.log()
    );
}

#[tokio::test]
async fn a_message_go_cannot_encode_drops_the_connection() {
    let app = launch(&[("MESSAGE", "say \"hi\"")]).await;
    let mut stream = TcpStream::connect(app.addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut out = Vec::new();
    let n = tokio::time::timeout(LIMIT, stream.read_to_end(&mut out))
        .await
        .unwrap();
    assert!(
        matches!(n, Ok(0) | Err(_)),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
    let lines = app.log();
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" http: panic serving 127.0.0.1:")
                && l.contains("json: error calling MarshalJSON for type json.RawMessage")),
        "{lines:#?}"
    );
}

#[tokio::test]
async fn calls_upstreams_through_the_dialer() {
    let api = launch(&[("NAME", "api"), ("MESSAGE", "Hello from api")]).await;
    let routes = HashMap::from([("api".to_owned(), api.addr)]);
    let web = launch_with(
        &[("NAME", "web"), ("UPSTREAM_URIS", "http://api:9090")],
        Files::default(),
        routes,
    )
    .await;
    let (head, body) = get(web.addr, "/users", "X-Request-Id: abc-123\r\n").await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys: Vec<&String> = value.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "name",
            "uri",
            "type",
            "ip_addresses",
            "start_time",
            "end_time",
            "duration",
            "body",
            "upstream_calls",
            "code"
        ]
    );
    let call = &value["upstream_calls"][0];
    let keys: Vec<&String> = call.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "name",
            "uri",
            "type",
            "ip_addresses",
            "start_time",
            "end_time",
            "duration",
            "headers",
            "body",
            "code"
        ]
    );
    assert_eq!(call["name"], "api");
    // The configured URI, not the one called (which had the caller's path appended).
    assert_eq!(call["uri"], "http://api:9090");
    assert_eq!(call["body"], "Hello from api");
    assert_eq!(call["code"], 200);
    let headers: Vec<&String> = call["headers"].as_object().unwrap().keys().collect();
    assert_eq!(headers, ["Content-Length", "Content-Type", "Date"]);
    assert_eq!(call["headers"]["Content-Type"], "text/plain; charset=utf-8");

    // The upstream saw the caller's path and headers.
    let api_log = api.log().join("\n");
    assert!(
        api_log.contains("request=\"GET /users HTTP/1.1\nHost: api:9090\n"),
        "{api_log}"
    );
    assert!(api_log.contains("\nx-request-id: abc-123"), "{api_log}");
    assert!(api_log.contains("\nuser-agent: curl/7.64.1"), "{api_log}");
    assert!(api_log.contains("\naccept-encoding: gzip"), "{api_log}");
    let web_log = web.log().join("\n");
    assert!(
        web_log.contains(
            "[INFO]  Calling upstream service: uri=http://api:9090 type=HTTP request=\"GET http://api:9090 HTTP/1.1\nHost: api:9090\""
        ),
        "{web_log}"
    );
}

#[tokio::test]
async fn a_failing_upstream_fails_the_request_and_stops_the_round() {
    // An upstream answering 503 with a text body, like Envoy's "no healthy upstream".
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let broken = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut s, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 19\r\n\r\nno healthy upstream")
                .await;
        }
    });
    let routes = HashMap::from([("broken".to_owned(), broken)]);
    let web = launch_with(
        &[(
            "UPSTREAM_URIS",
            "http://broken:8080, http://never-called:9090",
        )],
        Files::default(),
        routes,
    )
    .await;
    let (head, body) = get(web.addr, "/", "").await;
    assert!(
        head.starts_with("HTTP/1.1 500 Internal Server Error"),
        "{head}"
    );
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["code"], 500);
    assert_eq!(
        value["upstream_calls"],
        serde_json::json!([{
            "uri": "http://broken:8080",
            "code": 503,
            "error": "Error processing upstream request: http://broken:8080/"
        }])
    );
    let log = web.log().join("\n");
    assert!(!log.contains("uri=http://never-called"), "{log}");
    assert!(!log.contains("Sleeping for"), "{log}");
    assert!(
        log.contains("[ERROR] Error handling request: error=\"Error processing upstream request: http://broken:8080/\""),
        "{log}"
    );

    // Nobody listening: Go's transport error and code -1.
    let web = launch(&[("UPSTREAM_URIS", "http://down:9090")]).await;
    let (_, body) = get(web.addr, "/", "").await;
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["upstream_calls"][0]["code"], -1);
    assert_eq!(
        value["upstream_calls"][0]["error"],
        "Error communicating with upstream service: Get http://down:9090/: dial tcp down:9090: connect: connection refused"
    );
}

/// Accepts a certificate webpki refuses only for its name when the subject's CN carries the
/// name: the book's certificates have no subjectAltName, and curl/OpenSSL (which the book
/// uses) fall back to the CN. The chain itself is still verified against the book's CA.
#[derive(Debug)]
struct CnFallback(Arc<WebPkiServerVerifier>);

impl ServerCertVerifier for CnFallback {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) if has_common_name(end_entity, &server_name.to_str()) => {
                Ok(ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// The DER holds `commonName` (OID 2.5.4.3) = `name` as a UTF8String or PrintableString.
fn has_common_name(der: &[u8], name: &str) -> bool {
    [0x0c, 0x13].iter().any(|tag| {
        let mut needle = vec![0x55, 0x04, 0x03, *tag, name.len() as u8];
        needle.extend_from_slice(name.as_bytes());
        find(der, &needle).is_some()
    })
}

fn book_client(alpn: &[&[u8]]) -> tokio_rustls::TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca_chain_path()).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let webpki = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(CnFallback(webpki)))
        .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    tokio_rustls::TlsConnector::from(Arc::new(config))
}

fn sni_env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("LISTEN_ADDR", "0.0.0.0:8080"),
        ("SERVER_TYPE", "http"),
        ("TLS_CERT_LOCATION", "/etc/certs/tls.crt"),
        ("TLS_KEY_LOCATION", "/etc/certs/tls.key"),
        ("NAME", "simple-tls-service-1"),
        ("MESSAGE", "Hello from simple-tls-service-1!!!"),
    ]
}

#[tokio::test]
async fn serves_https_with_the_books_certificate() {
    let app = launch_with(&sni_env(), sni_files(), HashMap::new()).await;
    assert!(
        app.log()
            .iter()
            .any(|l| l.ends_with("[INFO]  Enabling TLS"))
    );
    let name = ServerName::try_from(SNI_HOST).unwrap();

    // HTTP/2 over ALPN, as curl negotiates it; TLS 1.2, as Go 1.12 speaks.
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let tls = book_client(&[b"h2", b"http/1.1"])
        .connect(name.clone(), tcp)
        .await
        .expect("handshake with the book's certificate");
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(b"h2".as_slice()));
    assert_eq!(
        tls.get_ref().1.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let request = http::Request::get(format!("https://{SNI_HOST}/"))
        .body(Empty::<Bytes>::new())
        .unwrap();
    let response = sender.send_request(request).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let body = response.into_body().collect().await.unwrap().to_bytes();
    let body = String::from_utf8(body.to_vec()).unwrap();
    assert_eq!(
        untimed(&body),
        "{\n  \"name\": \"simple-tls-service-1\",\n  \"uri\": \"/\",\n  \"type\": \"HTTP\",\n  \"ip_addresses\": [\n    \"10.1.0.63\"\n  ],\n  \"start_time\": \"T\",\n  \"end_time\": \"T\",\n  \"duration\": \"D\",\n  \"body\": \"Hello from simple-tls-service-1!!!\",\n  \"code\": 200\n}\n"
    );
    assert!(
        app.log()
            .join("\n")
            .contains("request=\"GET / HTTP/2.0\nHost: simple-sni-1.istioinaction.io"),
        "{:#?}",
        app.log()
    );

    // HTTP/1.1 when the client offers only that.
    let tcp = TcpStream::connect(app.addr).await.unwrap();
    let mut tls = book_client(&[b"http/1.1"])
        .connect(name, tcp)
        .await
        .unwrap();
    let (head, body) = exchange(
        &mut tls,
        &format!("GET /hello HTTP/1.1\r\nHost: {SNI_HOST}\r\n\r\n"),
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    assert!(body.contains("\"uri\": \"/hello\""), "{body}");

    // A plain request to the TLS port gets Go 1.12's answer.
    let mut plain = TcpStream::connect(app.addr).await.unwrap();
    let (head, body) = exchange(&mut plain, "GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(head, "HTTP/1.0 400 Bad Request");
    assert_eq!(body, "Client sent an HTTP request to an HTTPS server.\n");
}

#[tokio::test]
async fn curl_trusts_it_with_the_books_ca_chain() {
    let Ok(version) = std::process::Command::new("curl").arg("--version").output() else {
        eprintln!("curl is not installed: skipping");
        return;
    };
    assert!(version.status.success());
    let app = launch_with(&sni_env(), sni_files(), HashMap::new()).await;
    let port = app.addr.port();
    let output = tokio::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "10",
            "-w",
            "\n%{http_version}",
            "--cacert",
        ])
        .arg(ca_chain_path())
        .arg("--resolve")
        .arg(format!("{SNI_HOST}:{port}:127.0.0.1"))
        .arg(format!("https://{SNI_HOST}:{port}/"))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("\"body\": \"Hello from simple-tls-service-1!!!\""),
        "{stdout}"
    );
    assert!(
        stdout.ends_with("\n2"),
        "curl should negotiate HTTP/2: {stdout}"
    );
}

#[tokio::test]
async fn tls_problems_stop_the_start_with_gos_words() {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let log: Log = Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned()));
    let dialer: Arc<dyn Dialer> = Arc::new(FakeDialer::default());
    let ip = "10.1.0.63".parse().unwrap();
    let vars = env(&sni_env());

    let err = prepare(&vars, &Files::default(), ip, dialer.clone(), log.clone())
        .err()
        .unwrap();
    assert_eq!(
        err.to_string(),
        "fake-service cannot serve HTTPS: open /etc/certs/tls.crt: no such file or directory \
         (the pod mounts no files: mount the Secret with a volume and a volumeMount)"
    );
    let last = lines.lock().unwrap().last().cloned().unwrap();
    assert!(
        last.ends_with(
            "[ERROR] Error starting service: address=0.0.0.0:8080 error=\"open /etc/certs/tls.crt: no such file or directory\""
        ),
        "{last}"
    );

    // simple-sni-2's key with simple-sni-1's certificate.
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/istio-in-action/ch4/sni/simple-sni-2/3_application/private");
    let other_key = std::fs::read(dir.join("simple-sni-2.istioinaction.io.key.pem")).unwrap();
    let crt = sni_files().read("/etc/certs/tls.crt").unwrap().to_vec();
    let mixed: Files = [
        ("/etc/certs/tls.crt".to_owned(), crt.clone()),
        ("/etc/certs/tls.key".to_owned(), other_key),
    ]
    .into_iter()
    .collect();
    let err = prepare(&vars, &mixed, ip, dialer.clone(), log.clone())
        .err()
        .unwrap();
    assert!(
        err.to_string()
            .contains("tls: private key does not match public key"),
        "{err}"
    );

    let no_key: Files = [
        ("/etc/certs/tls.crt".to_owned(), crt),
        ("/etc/certs/tls.key".to_owned(), b"not a key".to_vec()),
    ]
    .into_iter()
    .collect();
    let err = prepare(&vars, &no_key, ip, dialer, log).err().unwrap();
    assert!(
        matches!(err, StartError::Tls(TlsError::NoKey { .. })),
        "{err}"
    );
}

#[test]
fn grpc_and_odd_settings_are_refused_clearly() {
    let log: Log = Arc::new(|_: &str| {});
    let dialer: Arc<dyn Dialer> = Arc::new(FakeDialer::default());
    let ip = "10.1.0.63".parse().unwrap();
    let start = |vars: &[(&str, &str)]| {
        prepare(
            &env(vars),
            &Files::default(),
            ip,
            dialer.clone(),
            log.clone(),
        )
        .err()
        .map(|e| e.to_string())
    };
    assert_eq!(
        start(&[("SERVER_TYPE", "grpc")]).as_deref(),
        Some(
            "fake-service: SERVER_TYPE=grpc is not supported by the built-in fake-service (only \
             SERVER_TYPE=http is)"
        )
    );
    assert!(
        start(&[("UPSTREAM_URIS", "http://a:9090,grpc://payments:9090")])
            .unwrap()
            .contains("upstream \"grpc://payments:9090\" is not an http:// URI")
    );
    assert_eq!(
        start(&[("LISTEN_ADDR", "localhost")]).as_deref(),
        Some(
            "fake-service: LISTEN_ADDR=\"localhost\" has no port number (expected host:port, e.g. 0.0.0.0:9090)"
        )
    );
    assert_eq!(start(&[]), None);
}
