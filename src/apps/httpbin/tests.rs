//! `handle` end to end, in memory: exact JSON text, methods, limits, streaming.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use serde_json::{Value, json};

use super::{MAX_REQUEST_BODY, handle};

struct Answer {
    status: StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

async fn send(req: Request<Full<Bytes>>) -> Answer {
    let response = handle(req, "10.1.2.3:40000".parse().unwrap()).await;
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

fn req(method: &str, uri: &str) -> http::request::Builder {
    Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "httpbin:8000")
}

async fn get(uri: &str) -> Answer {
    send(req("GET", uri).body(Full::default()).unwrap()).await
}

#[tokio::test]
async fn get_prints_classic_httpbin_json() {
    let answer = send(
        req("GET", "/get?show=1&a=1&a=2")
            .header("user-agent", "curl/8.7.1")
            .header("x-request-id", "7f0c")
            .header("x-envoy-expected-rq-timeout-ms", "15000")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers[header::CONTENT_TYPE], "application/json");
    assert_eq!(answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN], "*");
    let expected = r#"{
  "args": {
    "a": [
      "1", 
      "2"
    ], 
    "show": "1"
  }, 
  "headers": {
    "Host": "httpbin:8000", 
    "User-Agent": "curl/8.7.1", 
    "X-Envoy-Expected-Rq-Timeout-Ms": "15000", 
    "X-Request-Id": "7f0c"
  }, 
  "origin": "10.1.2.3", 
  "url": "http://httpbin:8000/get?show=1&a=1&a=2"
}
"#;
    assert_eq!(answer.text(), expected);
}

#[tokio::test]
async fn post_echoes_body_json_and_args() {
    let answer = send(
        req("POST", "/post?k=v")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from_static(br#"{"n": 1}"#)))
            .unwrap(),
    )
    .await;
    let v = answer.json();
    assert_eq!(v["json"], json!({"n": 1}));
    assert_eq!(v["data"], r#"{"n": 1}"#);
    assert_eq!(v["args"], json!({"k": "v"}));
    assert_eq!(v["form"], json!({}));
    assert_eq!(v["files"], json!({}));
    assert_eq!(v["headers"]["Content-Type"], "application/json");
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "args", "data", "files", "form", "headers", "json", "origin", "url"
        ]
    );
}

#[tokio::test]
async fn methods_are_checked_like_httpbin() {
    let answer = get("/post").await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(answer.headers[header::ALLOW], "POST, OPTIONS");
    assert!(
        answer
            .text()
            .contains("<title>405 Method Not Allowed</title>")
    );
    for (method, path) in [("PUT", "/put"), ("PATCH", "/patch"), ("DELETE", "/delete")] {
        let answer = send(req(method, path).body(Full::default()).unwrap()).await;
        assert_eq!(answer.status, StatusCode::OK, "{method} {path}");
    }
    let answer = send(req("PUT", "/get").body(Full::default()).unwrap()).await;
    assert_eq!(answer.status, StatusCode::METHOD_NOT_ALLOWED);
    let answer = send(req("HEAD", "/get").body(Full::default()).unwrap()).await;
    assert_eq!(answer.status, StatusCode::OK);
    let answer = send(
        req("PROPFIND", "/anything/x")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.json()["method"], "PROPFIND");
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let answer = get("/nope").await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert!(answer.text().contains("<h1>Not Found</h1>"));
    assert_eq!(get("/bytes/abc").await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn bodies_over_the_cap_are_413() {
    let big = Bytes::from(vec![b'x'; MAX_REQUEST_BODY + 1]);
    let answer = send(req("POST", "/post").body(Full::new(big)).unwrap()).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    let declared = req("POST", "/post")
        .header(header::CONTENT_LENGTH, (MAX_REQUEST_BODY + 1).to_string())
        .body(Full::default())
        .unwrap();
    assert_eq!(send(declared).await.status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn delay_waits_then_answers_like_get() {
    let started = Instant::now();
    let answer = get("/delay/0.1?x=1").await;
    assert!(started.elapsed() >= Duration::from_millis(100));
    assert_eq!(answer.status, StatusCode::OK);
    let v = answer.json();
    assert_eq!(v["args"], json!({"x": "1"}));
    assert_eq!(v["url"], "http://httpbin:8000/delay/0.1?x=1");
    assert!(
        v.get("json").is_none(),
        "httpbin's /delay has no json field"
    );
    assert_eq!(
        get("/delay/abc").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn status_codes_and_lists() {
    assert_eq!(
        get("/status/503").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        get("/status/200:0,504:1").await.status,
        StatusCode::GATEWAY_TIMEOUT
    );
    let bad = get("/status/abc").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.text(), "Invalid status code");
    let teapot = get("/status/418").await;
    assert!(teapot.text().contains("-=[ teapot ]=-"));
    let redirect = get("/status/301").await;
    assert_eq!(redirect.headers[header::LOCATION], "/redirect/1");
    let auth = get("/status/401").await;
    assert!(auth.headers.contains_key(header::WWW_AUTHENTICATE));
    // percent-encoded commas reach the same route
    assert_eq!(
        get("/status/500%2C500").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn stream_sends_numbered_lines_capped_at_100() {
    let answer = get("/stream/3").await;
    let lines: Vec<Value> = answer
        .text()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["id"], i);
        assert_eq!(line["url"], "http://httpbin:8000/stream/3");
    }
    assert_eq!(get("/stream/1000").await.text().lines().count(), 100);
    assert_eq!(get("/stream/0").await.body.len(), 0);
}

#[tokio::test]
async fn bytes_are_capped_and_seedable() {
    let answer = get("/bytes/16").await;
    assert_eq!(answer.body.len(), 16);
    assert_eq!(
        answer.headers[header::CONTENT_TYPE],
        "application/octet-stream"
    );
    assert_eq!(get("/bytes/1000000").await.body.len(), 100 * 1024);
    assert_eq!(
        get("/bytes/64?seed=7").await.body,
        get("/bytes/64?seed=7").await.body
    );
    assert_ne!(
        get("/bytes/64?seed=7").await.body,
        get("/bytes/64?seed=8").await.body
    );
}

#[tokio::test]
async fn redirect_chains_end_at_get() {
    let first = get("/redirect/3").await;
    assert_eq!(first.status, StatusCode::FOUND);
    assert_eq!(first.headers[header::LOCATION], "/relative-redirect/2");
    assert_eq!(
        get("/relative-redirect/2").await.headers[header::LOCATION],
        "/relative-redirect/1"
    );
    assert_eq!(
        get("/relative-redirect/1").await.headers[header::LOCATION],
        "/get"
    );
    assert_eq!(get("/redirect/1").await.headers[header::LOCATION], "/get");
    assert_eq!(
        get("/absolute-redirect/2").await.headers[header::LOCATION],
        "http://httpbin:8000/absolute-redirect/1"
    );
    let to = get("/redirect-to?url=http://example.com/x&status_code=307").await;
    assert_eq!(to.status, StatusCode::TEMPORARY_REDIRECT);
    assert_eq!(to.headers[header::LOCATION], "http://example.com/x");
    assert_eq!(
        get("/redirect-to").await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
}

#[tokio::test]
async fn cookies_round_trip() {
    let set = get("/cookies/set?a=1&b=2").await;
    assert_eq!(set.status, StatusCode::FOUND);
    assert_eq!(set.headers[header::LOCATION], "/cookies");
    let cookies: Vec<&str> = set
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert_eq!(cookies, ["a=1; Path=/", "b=2; Path=/"]);
    let shown = send(
        req("GET", "/cookies")
            .header(header::COOKIE, "a=1; b=2")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(shown.json(), json!({"cookies": {"a": "1", "b": "2"}}));
    let deleted = get("/cookies/delete?a").await;
    assert!(
        deleted.headers[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .starts_with("a=; Expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=0")
    );
}

#[tokio::test]
async fn response_headers_are_echoed() {
    let answer = get("/response-headers?X-Mesh=yes").await;
    assert_eq!(answer.headers["x-mesh"], "yes");
    let v = answer.json();
    assert_eq!(v["X-Mesh"], "yes");
    assert_eq!(v["Content-Length"], answer.body.len().to_string());
}

#[tokio::test]
async fn small_endpoints() {
    assert_eq!(get("/ip").await.json(), json!({"origin": "10.1.2.3"}));
    let uuid = get("/uuid").await.json();
    assert_eq!(uuid["uuid"].as_str().unwrap().len(), 36);
    assert_eq!(get("/user-agent").await.json(), json!({"user-agent": null}));
    let index = get("/").await;
    assert!(index.text().contains("/headers"));
    assert!(
        index.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
}

#[tokio::test]
async fn cors_echoes_origin_and_answers_preflight() {
    let answer = send(
        req("OPTIONS", "/get")
            .header(header::ORIGIN, "http://app.example")
            .header(header::ACCESS_CONTROL_REQUEST_HEADERS, "x-token")
            .body(Full::default())
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "http://app.example"
    );
    assert_eq!(
        answer.headers[header::ACCESS_CONTROL_ALLOW_HEADERS],
        "x-token"
    );
    assert_eq!(answer.headers[header::ALLOW], "GET, HEAD, OPTIONS");
}

#[tokio::test]
async fn http2_requests_use_the_authority_as_host() {
    let request = Request::builder()
        .uri("http://httpbin.default:8000/headers")
        .version(http::Version::HTTP_2)
        .body(Full::default())
        .unwrap();
    let v = send(request).await.json();
    assert_eq!(v["headers"]["Host"], "httpbin.default:8000");
}
