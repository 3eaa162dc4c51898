//! catalog end to end: exact bytes, headers, log lines and faults in memory through
//! [`handle`], and the connection-level faults on a real socket through [`serve`].

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;

use super::*;
use crate::apps::serve::DropConnection;

const ITEMS: &str = r#"[
  {
    "id": 1,
    "color": "amber",
    "department": "Eyewear",
    "name": "Elinor Glasses",
    "price": "282.00"
  },
  {
    "id": 2,
    "color": "cyan",
    "department": "Clothing",
    "name": "Atlas Shirt",
    "price": "127.00"
  },
  {
    "id": 3,
    "color": "teal",
    "department": "Clothing",
    "name": "Small Metal Shoes",
    "price": "232.00"
  },
  {
    "id": 4,
    "color": "red",
    "department": "Watches",
    "name": "Red Dragon Watch",
    "price": "232.00"
  }
]"#;

struct Harness {
    catalog: Catalog,
    lines: Arc<Mutex<Vec<String>>>,
    rolls: Arc<Mutex<VecDeque<f64>>>,
}

struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    dropped: bool,
}

impl Answer {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

fn harness(env: &[(&str, &str)]) -> Harness {
    let env: BTreeMap<String, String> = env
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let log: crate::apps::Log = Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned()));
    let rolls = Arc::new(Mutex::new(VecDeque::new()));
    let dice = rolls.clone();
    // Queued rolls first, then 0.5 (`Math.random()` stand-in).
    let random: Random = Arc::new(move || dice.lock().unwrap().pop_front().unwrap_or(0.5));
    Harness {
        catalog: Catalog::new(&env, log).with_random(random),
        lines,
        rolls,
    }
}

impl Harness {
    async fn send(&self, method: &str, uri: &str, body: Option<Value>) -> Answer {
        let mut builder = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::HOST, "catalog.istioinaction:80");
        let body = match body {
            Some(v) => {
                builder = builder.header(header::CONTENT_TYPE, "application/json");
                Full::new(Bytes::from(v.to_string()))
            }
            None => Full::default(),
        };
        self.raw(builder.body(body).unwrap()).await
    }

    async fn raw(&self, req: Request<Full<Bytes>>) -> Answer {
        let response = handle(req, &self.catalog, "127.0.0.1:5000".parse().unwrap()).await;
        let dropped = response.extensions().get::<DropConnection>().is_some();
        let (parts, body) = response.into_parts();
        Answer {
            status: parts.status,
            headers: parts.headers,
            body: body.collect().await.unwrap().to_bytes(),
            dropped,
        }
    }

    fn take_lines(&self) -> Vec<String> {
        std::mem::take(&mut *self.lines.lock().unwrap())
    }

    fn roll(&self, values: &[f64]) {
        self.rolls.lock().unwrap().extend(values);
    }
}

#[tokio::test]
async fn items_are_the_original_bytes_and_headers() {
    let h = harness(&[]);
    let a = h.send("GET", "/items", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text(), ITEMS);
    assert_eq!(a.headers[header::CONTENT_LENGTH], "502");
    assert_eq!(
        a.headers[header::CONTENT_TYPE],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        a.headers[header::ETAG],
        "W/\"1f6-ih2h+hDQ0yLLcKIlBvwkWbyQGK4\""
    );
    assert_eq!(a.headers["x-powered-by"], "Express");
    assert_eq!(a.headers[header::VARY], "Origin, Accept-Encoding");
    assert_eq!(a.headers[header::ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
    assert_eq!(a.headers[header::CACHE_CONTROL], "no-cache");
    assert_eq!(a.headers[header::EXPIRES], "-1");
    assert!(a.headers.get(header::ACCESS_CONTROL_ALLOW_ORIGIN).is_none());

    let lines = h.take_lines();
    assert_eq!(lines.len(), 5, "{lines:?}");
    assert_eq!(
        lines[..3],
        [
            "request path: /items",
            "blowups: {}",
            "number of blowups: 0"
        ]
    );
    let custom =
        regex::Regex::new(r"^GET catalog\.istioinaction:80 /items 200 502 - \d+\.\d{3} ms$")
            .unwrap();
    assert!(custom.is_match(&lines[3]), "{:?}", lines[3]);
    let dev =
        regex::Regex::new(r"^\x1b\[0mGET /items \x1b\[32m200\x1b\[0m \d+\.\d{3} ms - 502\x1b\[0m$")
            .unwrap();
    assert!(dev.is_match(&lines[4]), "{:?}", lines[4]);
}

#[tokio::test]
async fn one_item_and_unknown_ids() {
    let h = harness(&[]);
    let a = h.send("GET", "/items/3", None).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(
        a.text(),
        "{\n  \"id\": 3,\n  \"color\": \"teal\",\n  \"department\": \"Clothing\",\n  \"name\": \"Small Metal Shoes\",\n  \"price\": \"232.00\"\n}"
    );
    // The original destroys the connection after this answer, and logs 404 (its bug).
    assert_eq!(a.headers[header::CONNECTION], "close");
    let lines = h.take_lines();
    assert!(
        lines[3].starts_with("Error [ERR_HTTP_HEADERS_SENT]"),
        "{lines:?}"
    );
    assert!(
        lines[4].starts_with("GET catalog.istioinaction:80 /items/3 404 112 - "),
        "{lines:?}"
    );

    let a = h.send("GET", "/items/42", None).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert_eq!(a.text(), "Not Found");
    assert_eq!(a.headers[header::CONTENT_TYPE], "text/plain; charset=utf-8");
    assert!(a.headers.get(header::CONNECTION).is_none());
}

#[tokio::test]
async fn posted_items_get_ids_from_five() {
    let h = harness(&[]);
    let item = json!({"color": "blue", "department": "Sports", "name": "Basketball hoop", "price": "2700.00"});
    let a = h.send("POST", "/items", Some(item.clone())).await;
    assert_eq!(a.status, StatusCode::CREATED);
    assert!(a.body.is_empty());
    assert!(
        a.headers.get(header::CONTENT_LENGTH).is_none(),
        "sent chunked, as Node does"
    );
    let lines = h.take_lines();
    assert!(
        lines[3].starts_with("POST catalog.istioinaction:80 /items 201 - - "),
        "{lines:?}"
    );
    assert_eq!(
        h.send("POST", "/items", Some(json!({"name": "x"})))
            .await
            .status,
        StatusCode::CREATED
    );

    let mut expected = item;
    expected["id"] = json!(5);
    assert_eq!(h.send("GET", "/items/5", None).await.json(), expected);
    let all = h.send("GET", "/items", None).await.json();
    assert_eq!(all.as_array().unwrap().len(), 6);
    assert_eq!(all[5], json!({"name": "x", "id": 6}));
}

#[tokio::test]
async fn show_image_adds_an_image_url_to_every_item() {
    let h = harness(&[("SHOW_IMAGE", "true")]);
    let all = h.send("GET", "/items", None).await.json();
    for item in all.as_array().unwrap() {
        assert_eq!(item["imageUrl"], IMAGE_URL);
        let keys: Vec<&String> = item.as_object().unwrap().keys().collect();
        assert_eq!(keys.last().unwrap().as_str(), "imageUrl");
    }
    assert_eq!(
        h.send("GET", "/items/1", None).await.json()["imageUrl"],
        IMAGE_URL
    );
    let plain = harness(&[("SHOW_IMAGE", "")]);
    let all = plain.send("GET", "/items", None).await.json();
    assert!(all[0].get("imageUrl").is_none());
}

#[tokio::test]
async fn blowup_500_follows_percentage() {
    let h = harness(&[]);
    let fault = json!({"active": true, "type": "500", "percentage": 100});
    let a = h.send("POST", "/blowup", Some(fault.clone())).await;
    assert_eq!(a.status, StatusCode::OK);
    assert_eq!(a.text(), "blowups=[object Object]");
    assert_eq!(a.headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    h.roll(&[0.999]);
    let a = h.send("GET", "/items", None).await;
    assert_eq!(a.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(a.body.is_empty());
    h.take_lines();
    // Other paths are untouched.
    let shown = h.send("GET", "/blowup", None).await;
    assert_eq!(shown.json(), json!({"500": fault}));

    // 50 %: a roll of 51 passes, 50 fails.
    h.send(
        "POST",
        "/blowup",
        Some(json!({"active": true, "type": "500", "percentage": 50})),
    )
    .await;
    h.roll(&[0.51]);
    assert_eq!(h.send("GET", "/items", None).await.status, StatusCode::OK);
    h.roll(&[0.50]);
    assert_eq!(
        h.send("GET", "/items/1", None).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // 0 reads as 100 (`percentage || 100`).
    h.send(
        "POST",
        "/blowup",
        Some(json!({"active": true, "type": "500", "percentage": 0})),
    )
    .await;
    h.roll(&[0.99]);
    assert_eq!(
        h.send("GET", "/items", None).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );

    let a = h
        .send("DELETE", "/blowup", Some(json!({"type": "500"})))
        .await;
    assert_eq!(a.text(), "deleted blowup 500");
    assert_eq!(h.send("GET", "/items", None).await.status, StatusCode::OK);
    assert_eq!(h.send("GET", "/blowup", None).await.text(), "{}");
}

#[tokio::test]
async fn blowup_needs_active_true() {
    let h = harness(&[]);
    h.send(
        "POST",
        "/blowup",
        Some(json!({"type": "500", "percentage": 100})),
    )
    .await;
    assert_eq!(h.send("GET", "/items", None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn latency_and_drop_faults() {
    let h = harness(&[]);
    h.send(
        "POST",
        "/blowup",
        Some(json!({"active": true, "type": "latency", "latencyMs": 60})),
    )
    .await;
    let started = Instant::now();
    assert_eq!(h.send("GET", "/items", None).await.status, StatusCode::OK);
    assert!(started.elapsed() >= Duration::from_millis(60));
    h.send("DELETE", "/blowup", Some(json!({"type": "latency"})))
        .await;

    h.send(
        "POST",
        "/blowup",
        Some(json!({"active": true, "type": "drop", "percentage": 100})),
    )
    .await;
    h.take_lines();
    let a = h.send("GET", "/items", None).await;
    assert!(a.dropped);
    let lines = h.take_lines();
    assert_eq!(
        lines.last().unwrap(),
        "\x1b[0mGET /items \x1b[0m-\x1b[0m - ms - -\x1b[0m"
    );
    assert!(!h.send("GET", "/blowup", None).await.dropped);
}

#[tokio::test]
async fn express_fallbacks() {
    let h = harness(&[]);
    let a = h.send("PUT", "/items/1", Some(json!({}))).await;
    assert_eq!(a.status, StatusCode::NOT_FOUND);
    assert!(a.text().contains("<pre>Cannot PUT /items/1</pre>"));
    assert_eq!(
        a.headers[header::CONTENT_SECURITY_POLICY],
        "default-src 'none'"
    );

    let bad = Request::post("/items")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(b"{oops")))
        .unwrap();
    let a = h.raw(bad).await;
    assert_eq!(a.status, StatusCode::BAD_REQUEST);
    assert!(
        a.text()
            .contains("SyntaxError: Unexpected token o in JSON at position 1"),
        "{}",
        a.text()
    );

    let preflight = Request::options("/items")
        .header(header::ORIGIN, "http://example.com")
        .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-test")
        .body(Full::default())
        .unwrap();
    let a = h.raw(preflight).await;
    assert_eq!(a.status, StatusCode::NO_CONTENT);
    assert_eq!(
        a.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://example.com"
    );
    assert_eq!(
        a.headers[header::ACCESS_CONTROL_ALLOW_METHODS],
        "GET,HEAD,PUT,PATCH,POST,DELETE"
    );
    assert_eq!(a.headers[header::ACCESS_CONTROL_ALLOW_HEADERS], "x-test");

    let home = h.send("GET", "/", None).await;
    assert!(home.text().contains("JSON Server"));

    // A known ETag gets a 304.
    let first = h.send("GET", "/items", None).await;
    let again = Request::get("/items")
        .header(header::IF_NONE_MATCH, first.headers[header::ETAG].clone())
        .body(Full::default())
        .unwrap();
    let a = h.raw(again).await;
    assert_eq!(a.status, StatusCode::NOT_MODIFIED);
    assert!(a.body.is_empty());
}

/// A raw HTTP/1.1 exchange: what a client without any retry logic sees.
async fn exchange(addr: std::net::SocketAddr, request: &str) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out))
        .await
        .expect("the server neither answered nor closed")
        .unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn serve_drops_connections_for_the_drop_fault() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let h = harness(&[]);
    let lines = h.lines.clone();
    let stop = CancellationToken::new();
    let server = tokio::spawn(serve(listener, Arc::new(h.catalog), stop.clone()));

    let get = "GET /items HTTP/1.1\r\nHost: catalog\r\nConnection: close\r\n\r\n";
    let answer = exchange(addr, get).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(answer.ends_with(ITEMS));

    // An item answer closes the connection even when the client wanted to keep it.
    let keep = "GET /items/1 HTTP/1.1\r\nHost: catalog\r\n\r\n";
    let answer = exchange(addr, keep).await;
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");

    let fault = r#"{"active": true, "type": "drop"}"#;
    let post = format!(
        "POST /blowup HTTP/1.1\r\nHost: catalog\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{fault}",
        fault.len()
    );
    assert!(exchange(addr, &post).await.starts_with("HTTP/1.1 200 OK"));
    assert_eq!(exchange(addr, get).await, "", "dropped: no answer at all");

    stop.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(lines.lock().unwrap()[0], "JSON Server is running");
}
