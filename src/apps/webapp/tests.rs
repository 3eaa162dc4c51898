//! webapp against a real in-test catalog (and scripted upstreams) reached through a fake
//! [`Dialer`]: re-encoding, creating items, header propagation, failures and beego's logs.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::*;
use crate::apps::catalog::{self, Catalog};
use crate::net::dial::{BoxStream, DialFuture};

type Lines = Arc<Mutex<Vec<String>>>;

fn capture() -> (Log, Lines) {
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let log: Log = Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned()));
    (log, lines)
}

/// Resolves service names to test listeners; remembers what was dialled.
#[derive(Default)]
struct FakeDialer {
    routes: HashMap<String, SocketAddr>,
    dialled: Mutex<Vec<(String, u16)>>,
}

impl Dialer for FakeDialer {
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a> {
        Box::pin(async move {
            self.dialled.lock().unwrap().push((host.to_owned(), port));
            let addr = self.routes.get(host).copied().ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::NotFound, format!("no such host {host}"))
            })?;
            let stream = tokio::net::TcpStream::connect(addr).await?;
            Ok(Box::new(stream) as BoxStream)
        })
    }
}

fn env() -> BTreeMap<String, String> {
    [
        ("CATALOG_SERVICE_HOST", "catalog.istioinaction"),
        ("CATALOG_SERVICE_PORT", "80"),
        ("FORUM_SERVICE_HOST", "forum.istioinaction"),
        ("FORUM_SERVICE_PORT", "80"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect()
}

/// A real catalog on a loopback port; its log lines.
async fn start_catalog(stop: &CancellationToken, show_image: bool) -> (SocketAddr, Lines) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (log, lines) = capture();
    let mut env = BTreeMap::new();
    if show_image {
        env.insert("SHOW_IMAGE".to_owned(), "true".to_owned());
    }
    let app = Arc::new(Catalog::new(&env, log));
    tokio::spawn(catalog::serve(listener, app, stop.clone()));
    (addr, lines)
}

/// An upstream that records each raw request and answers `response` (or never, if `None`).
async fn scripted(response: Option<&'static str>) -> (SocketAddr, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let mut got = Vec::new();
                while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => got.extend_from_slice(&buf[..n]),
                    }
                }
                record
                    .lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&got).into_owned());
                match response {
                    Some(r) => {
                        let _ = stream.write_all(r.as_bytes()).await;
                    }
                    None => tokio::time::sleep(Duration::from_secs(30)).await,
                }
            });
        }
    });
    (addr, seen)
}

struct Harness {
    app: Webapp,
    lines: Lines,
    dialer: Arc<FakeDialer>,
}

fn webapp(routes: &[(&str, SocketAddr)]) -> Harness {
    let dialer = Arc::new(FakeDialer {
        routes: routes.iter().map(|(h, a)| ((*h).to_owned(), *a)).collect(),
        ..FakeDialer::default()
    });
    let (log, lines) = capture();
    let app = Webapp::new(&env(), dialer.clone(), log).with_timeout(Duration::from_secs(5));
    Harness { app, lines, dialer }
}

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: String,
}

impl Harness {
    async fn send(&self, req: Request<Full<Bytes>>) -> Answer {
        let response = handle(req, &self.app, "10.0.0.9:41000".parse().unwrap()).await;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: String::from_utf8_lossy(&body).into_owned(),
        }
    }

    async fn get(&self, uri: &str) -> Answer {
        self.send(Request::get(uri).body(Full::default()).unwrap())
            .await
    }

    fn lines(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

const CATALOG_JSON: &str = r#"[{"id":1,"color":"amber","department":"Eyewear","name":"Elinor Glasses","price":"282.00"},{"id":2,"color":"cyan","department":"Clothing","name":"Atlas Shirt","price":"127.00"},{"id":3,"color":"teal","department":"Clothing","name":"Small Metal Shoes","price":"232.00"},{"id":4,"color":"red","department":"Watches","name":"Red Dragon Watch","price":"232.00"}]"#;

#[tokio::test]
async fn catalog_items_are_reencoded_compactly() {
    let stop = CancellationToken::new();
    let (addr, catalog_log) = start_catalog(&stop, false).await;
    let h = webapp(&[("catalog.istioinaction", addr)]);
    let a = h.get("/api/catalog").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.body, CATALOG_JSON);
    assert_eq!(
        a.headers[header::CONTENT_TYPE],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        h.dialer.dialled.lock().unwrap().as_slice(),
        [("catalog.istioinaction".to_owned(), 80)]
    );
    // catalog saw Go's Host header, port included.
    let seen = catalog_log.lock().unwrap().clone();
    assert!(
        seen.iter()
            .any(|l| l.starts_with("GET catalog.istioinaction:80 /items 200 502 - ")),
        "{seen:?}"
    );
    let lines = h.lines();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].contains("] \"GET /api/catalog HTTP/1.1 200 0\" "),
        "{lines:?}"
    );
    assert!(lines[0].contains(" 10.0.0.9 - - ["));
    stop.cancel();
}

#[tokio::test]
async fn v2_items_carry_image_urls_and_single_items_work() {
    let stop = CancellationToken::new();
    let (addr, _) = start_catalog(&stop, true).await;
    let h = webapp(&[("catalog.istioinaction", addr)]);
    let a = h.get("/api/catalog").await;
    assert!(a.body.starts_with(r#"[{"id":1,"color":"amber","department":"Eyewear","name":"Elinor Glasses","price":"282.00","imageUrl":"http://lorempixel.com/640/480"},"#), "{}", a.body);
    let a = h.get("/api/catalog/items/002").await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.body,
        r#"{"id":2,"color":"cyan","department":"Clothing","name":"Atlas Shirt","price":"127.00","imageUrl":"http://lorempixel.com/640/480"}"#
    );
    h.lines();
    // catalog answers "Not Found" for an unknown id: not JSON, so webapp fails, silently.
    let a = h.get("/api/catalog/items/42").await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(a.body, "error calling Catalog service");
    assert_eq!(a.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert!(h.lines().is_empty(), "beego's abort skips the access log");
    // A non-numeric id is no route at all.
    assert_eq!(
        h.get("/api/catalog/items/abc").await.status,
        StatusCode::NOT_FOUND
    );
    stop.cancel();
}

#[tokio::test]
async fn creating_items_goes_through_catalog() {
    let stop = CancellationToken::new();
    let (addr, _) = start_catalog(&stop, false).await;
    let h = webapp(&[("catalog.istioinaction", addr)]);
    let post = |body: &'static str| {
        Request::post("/api/catalog/items")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap()
    };
    let a = h
        .send(post(
            r#"{"color":"blue","department":"Sports","name":"Basketball hoop","price":"2700.00"}"#,
        ))
        .await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "null"));
    let a = h.get("/api/catalog/items/5").await;
    assert_eq!(
        a.body,
        r#"{"id":5,"color":"blue","department":"Sports","name":"Basketball hoop","price":"2700.00"}"#
    );
    for bad in ["", "not json", r#"{"price": 12}"#, "[]"] {
        let a = h.send(post(bad)).await;
        assert_eq!(a.status, StatusCode::BAD_REQUEST, "{bad:?}");
        assert_eq!(a.body, "Invalid CatalogItem");
    }
    // GET is not a route for /api/catalog/items.
    assert_eq!(
        h.get("/api/catalog/items").await.status,
        StatusCode::NOT_FOUND
    );
    stop.cancel();
}

#[tokio::test]
async fn x_headers_and_authorization_reach_catalog() {
    let (addr, seen) = scripted(Some(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n[]",
    ))
    .await;
    let h = webapp(&[("catalog.istioinaction", addr)]);
    let req = Request::get("/api/catalog")
        .header(header::HOST, "webapp.istioinaction.io")
        .header(header::USER_AGENT, "curl/8.7.1")
        .header("x-request-id", "6b1c9d1e-req")
        .header("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7")
        .header("x-b3-sampled", "1")
        .header(header::AUTHORIZATION, "Bearer abc")
        .header(header::COOKIE, "session=1")
        .body(Full::default())
        .unwrap();
    let a = h.send(req).await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "[]"));
    let raw = seen.lock().unwrap()[0].clone();
    assert!(raw.starts_with("GET /items HTTP/1.1\r\n"), "{raw}");
    for line in [
        "Host: catalog.istioinaction:80\r\n",
        "User-Agent: beegoServer\r\n",
        "X-Request-Id: 6b1c9d1e-req\r\n",
        "X-B3-Traceid: 80f198ee56343ba864fe8b2a57d3eff7\r\n",
        "X-B3-Sampled: 1\r\n",
        "Authorization: Bearer abc\r\n",
        "Accept-Encoding: gzip\r\n",
    ] {
        assert!(raw.contains(line), "missing {line:?} in {raw}");
    }
    assert!(!raw.to_ascii_lowercase().contains("cookie"), "{raw}");
    assert!(!raw.contains("curl"), "{raw}");
}

#[tokio::test]
async fn catalog_failures_are_500s() {
    // No such service.
    let h = webapp(&[]);
    let a = h.get("/api/catalog").await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "error calling Catalog service"
        )
    );
    // An error answer that is not a list of items (Envoy's 503 text, say).
    let (addr, _) = scripted(Some(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 19\r\n\r\nno healthy upstream",
    ))
    .await;
    let h = webapp(&[("catalog.istioinaction", addr)]);
    assert_eq!(
        h.get("/api/catalog").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // A catalog that never answers: webapp gives up after its timeout.
    let (addr, _) = scripted(None).await;
    let mut h = webapp(&[("catalog.istioinaction", addr)]);
    h.app = Webapp::new(&env(), h.dialer.clone(), Arc::new(|_: &str| {}))
        .with_timeout(Duration::from_millis(200));
    let started = Instant::now();
    let a = h.get("/api/catalog").await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(started.elapsed() < Duration::from_secs(3));
    // Forum is not deployed: its own message.
    let a = h.get("/api/users").await;
    assert_eq!(a.body, "error calling Forum service");
}

#[tokio::test]
async fn health_home_and_beego_errors() {
    let stop = CancellationToken::new();
    let (addr, _) = start_catalog(&stop, false).await;
    let h = webapp(&[("catalog.istioinaction", addr)]);
    let a = h.get("/api/healthz").await;
    assert_eq!((a.status, a.body.as_str()), (StatusCode::OK, "Healthy!"));
    let a = h.get("/").await;
    assert_eq!(a.status, StatusCode::OK);
    assert!(a.body.contains("<th>Elinor Glasses</th>"));
    assert!(
        a.body
            .contains("The forum service is currently not available.")
    );
    h.lines();

    let a = h.get("/nope").await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(
        a.body
            .contains("The page you have requested has flown the coop.")
    );
    let lines = h.lines();
    assert_eq!(lines.len(), 2, "beego logs a 404 twice: {lines:?}");
    assert!(lines[0].contains("[01/Jan/0001 12:00:00] \"GET /nope HTTP/1.1 404 0\" 0.000000"));
    assert!(lines[1].contains("\"GET /nope HTTP/1.1 404 0\""));

    let post = Request::post("/")
        .header(header::CONTENT_LENGTH, "1")
        .body(Full::new(Bytes::from_static(b"x")))
        .unwrap();
    let a = h.send(post).await;
    assert_eq!(
        (a.status, a.body.as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n")
    );
    let lines = h.lines();
    assert!(lines[0].contains("\"POST / HTTP/1.1 405 1\""), "{lines:?}");
    assert_eq!(h.get("/static/css/main.css").await.status, StatusCode::OK);
    assert!(h.lines().is_empty(), "static files are not logged");
    stop.cancel();
}

#[tokio::test]
async fn serve_listens_and_logs_startup() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (log, lines) = capture();
    let app = Arc::new(Webapp::new(&env(), Arc::new(FakeDialer::default()), log));
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(listener, app, stop.clone()));
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET /api/healthz HTTP/1.1\r\nHost: webapp\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    assert!(
        out.starts_with("HTTP/1.1 200 OK\r\n") && out.ends_with("Healthy!"),
        "{out}"
    );
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let lines = lines.lock().unwrap().clone();
    assert!(lines[0].ends_with(&format!("http server Running on http://:{}", addr.port())));
    assert!(lines[1].contains("\"GET /api/healthz HTTP/1.1 200 0\""));
}
