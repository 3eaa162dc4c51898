//! `mesh httpbin`: the real binary on a free port, checked with our own client and with curl.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use crate::util::{self, Mesh};

fn start() -> (Mesh, SocketAddr) {
    let port = util::free_port();
    let mesh = Mesh::spawn(["httpbin", "--port", &port.to_string()]);
    let addr = util::addr(port);
    util::wait_for_port(addr);
    (mesh, addr)
}

#[test]
fn httpbin_answers_the_labs_endpoints() {
    let (mesh, addr) = start();
    let announced = util::eventually(Duration::from_secs(5), || {
        mesh.stdout()
            .contains(&format!("httpbin listening on http://{addr}"))
    });
    assert!(announced, "stdout: {:?}", mesh.stdout());

    let r = util::request(
        addr,
        "GET",
        "/headers",
        &[
            ("Host", "httpbin"),
            ("x-envoy-expected-rq-timeout-ms", "15000"),
            ("X-Request-Id", "0d5f"),
        ],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let headers = &r.json()["headers"];
    assert_eq!(headers["X-Envoy-Expected-Rq-Timeout-Ms"], "15000");
    assert_eq!(headers["X-Request-Id"], "0d5f");
    assert_eq!(headers["Host"], "httpbin");
    assert!(
        r.text().starts_with("{\n  \"headers\": {\n"),
        "{}",
        r.text()
    );

    let r = util::get(addr, "/get?a=1&a=2");
    let v = r.json();
    assert_eq!(v["args"]["a"], serde_json::json!(["1", "2"]));
    assert_eq!(v["origin"], "127.0.0.1");
    assert_eq!(v["url"], format!("http://{addr}/get?a=1&a=2"));

    let r = util::request(
        addr,
        "POST",
        "/post",
        &[("Content-Type", "application/json")],
        br#"{"hello": "mesh"}"#,
    )
    .unwrap();
    assert_eq!(r.json()["json"]["hello"], "mesh");

    assert_eq!(util::get(addr, "/status/500").status, 500);
    assert_eq!(util::get(addr, "/status/418").status, 418);
    assert_eq!(util::get(addr, "/get/nothing").status, 404);
    assert_eq!(
        util::request(addr, "POST", "/get", &[], b"")
            .unwrap()
            .status,
        405
    );

    let r = util::get(addr, "/delay/0.2");
    assert_eq!(r.status, 200);
    assert!(r.elapsed >= Duration::from_millis(200), "{:?}", r.elapsed);

    let r = util::get(addr, "/stream/3");
    assert_eq!(r.header("transfer-encoding"), Some("chunked"));
    assert_eq!(r.text().lines().count(), 3);

    let r = util::get(addr, "/redirect/2");
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("/relative-redirect/1"));
}

#[test]
fn httpbin_works_with_curl() {
    let Some(curl) = util::tool("curl") else {
        return;
    };
    let (_mesh, addr) = start();
    let base = format!("http://{addr}");
    let run = |args: &[&str]| {
        let out = Command::new(&curl)
            .args(["-sS", "--max-time", "10"])
            .args(args)
            .output()
            .expect("run curl");
        assert!(out.status.success(), "curl {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    let text = run(&["-H", "X-B3-Sampled: 1", &format!("{base}/headers")]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["headers"]["X-B3-Sampled"], "1");
    assert!(
        v["headers"]["User-Agent"]
            .as_str()
            .unwrap()
            .starts_with("curl/")
    );

    let code = run(&[
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        &format!("{base}/status/503"),
    ]);
    assert_eq!(code, "503");

    // -L follows the whole chain to /get.
    let text = run(&["-L", &format!("{base}/redirect/3")]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["url"], format!("{base}/get"));

    let text = run(&["-F", "field=value", &format!("{base}/post")]);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["form"]["field"], "value");

    // h2c with prior knowledge, as a sidecar talking HTTP/2 upstream would.
    let version = run(&[
        "--http2-prior-knowledge",
        "-o",
        "/dev/null",
        "-w",
        "%{http_version}",
        &format!("{base}/get"),
    ]);
    assert_eq!(version, "2");
}

#[test]
fn httpbin_stops_on_sigterm_after_finishing_requests() {
    let Some(kill) = util::tool("kill") else {
        return;
    };
    let (mut mesh, addr) = start();
    let slow = std::thread::spawn(move || util::get(addr, "/delay/0.5"));
    std::thread::sleep(Duration::from_millis(150));
    let status = Command::new(kill)
        .args(["-TERM", &mesh.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let exit = mesh.wait_exit(Duration::from_secs(10));
    assert_eq!(
        exit.and_then(|s| s.code()),
        Some(0),
        "stderr: {}",
        mesh.stderr()
    );
    assert_eq!(
        slow.join().unwrap().status,
        200,
        "in-flight request finished"
    );
}

#[test]
fn httpbin_names_the_address_it_cannot_bind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let (code, _out, err) = util::mesh_output(["httpbin", "--port", &port.to_string()]);
    assert_ne!(code, 0);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "stderr: {err}");
}
