//! Protocols through `mesh envoy`: HTTP/2 down- and upstream (h2c, ALPN), gRPC pass-through,
//! local replies and retries, WebSocket upgrades and weighted tcp_proxy, with Envoy's stats.

use std::net::SocketAddr;
use std::time::Duration;

use crate::h2util::{self, H2Upstream};
use crate::util::{self, Mesh};

/// A running `mesh envoy` with one HTTP listener routing everything to the cluster `up`.
pub struct Proxy {
    _mesh: Mesh,
    pub listen: SocketAddr,
    pub admin: SocketAddr,
}

/// `hcm_extra`/`route_extra`/`cluster_extra`: YAML lines at those levels (already indented).
pub fn proxy(hcm_extra: &str, route_extra: &str, cluster_extra: &str, up: &[SocketAddr]) -> Proxy {
    let (listen, admin) = (util::free_port(), util::free_port());
    let eps: Vec<String> = up
        .iter()
        .map(|a| {
            format!(
                "{{endpoint: {{address: {{socket_address: {{address: {}, port_value: {}}}}}}}}}",
                a.ip(),
                a.port()
            )
        })
        .collect();
    let yaml = format!(
        r#"
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
static_resources:
  listeners:
  - name: test
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: test
          http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
{hcm_extra}
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
              - match: {{prefix: /}}
                route:
                  cluster: up
{route_extra}
  clusters:
  - name: up
    connect_timeout: 1s
    type: STATIC
{cluster_extra}
    load_assignment:
      cluster_name: up
      endpoints: [{{lb_endpoints: [{}]}}]
"#,
        eps.join(", ")
    );
    let mesh = Mesh::spawn(["envoy", "--config-yaml", &yaml]);
    let addr = util::addr(listen);
    if !util::eventually(Duration::from_secs(20), || {
        std::net::TcpStream::connect(addr).is_ok()
    }) {
        panic!("proxy did not start: {}\n{yaml}", mesh.stderr());
    }
    Proxy {
        _mesh: mesh,
        listen: addr,
        admin: util::addr(admin),
    }
}

pub fn stat(p: &Proxy, name: &str) -> u64 {
    util::stat_value(p.admin, name).unwrap_or_else(|| panic!("no stat {name}"))
}

pub const H2_UPSTREAM: &str = r#"    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {}}
"#;

#[test]
fn h2c_downstream_and_h2_upstream_on_one_multiplexed_connection() {
    let up = H2Upstream::start("up");
    let p = proxy("", "", H2_UPSTREAM, &[up.addr]);
    // h2c with prior knowledge on an AUTO codec; three requests on one connection.
    let answers = h2util::h2c_many(p.listen, "/a", 3).unwrap();
    for r in &answers {
        assert_eq!(r.status, 200);
        assert_eq!(r.text(), "up HTTP/2.0 /a");
        assert_eq!(r.header("server"), Some("envoy"));
    }
    // An HTTP/1.1 client: the upstream still gets HTTP/2 (explicit config), on the same
    // upstream connection.
    let r = util::get(p.listen, "/b");
    assert_eq!((r.status, r.text().as_str()), (200, "up HTTP/2.0 /b"));
    let seen = up.seen();
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|s| s.version == http::Version::HTTP_2));
    assert!(seen[0].headers.get("x-request-id").is_some());
    assert_eq!(stat(&p, "http.test.downstream_cx_http2_total"), 1);
    assert_eq!(stat(&p, "http.test.downstream_cx_http1_total"), 1);
    assert_eq!(stat(&p, "http.test.downstream_rq_http2_total"), 3);
    assert_eq!(stat(&p, "http.test.downstream_rq_http1_total"), 1);
    assert_eq!(stat(&p, "cluster.up.upstream_cx_http2_total"), 1);
    assert_eq!(stat(&p, "cluster.up.upstream_cx_http1_total"), 0);
    assert_eq!(stat(&p, "cluster.up.upstream_rq_total"), 4);
    assert_eq!(stat(&p, "cluster.up.upstream_rq_200"), 4);
}

#[test]
fn trailers_pass_through_both_http2_hops() {
    let up = H2Upstream::start("up");
    let p = proxy("", "", H2_UPSTREAM, &[up.addr]);
    let r = h2util::h2c(p.listen, "POST", "/t", &[("x-trailer", "yes")], b"x").unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.trailer("x-trailer"), Some("yes"), "{r:?}");
}

#[test]
fn upstream_follows_the_downstream_protocol_when_configured() {
    let up = H2Upstream::start("up");
    let cluster = r#"    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        use_downstream_protocol_config: {http_protocol_options: {}, http2_protocol_options: {}}
"#;
    let p = proxy("", "", cluster, &[up.addr]);
    assert_eq!(util::get(p.listen, "/one").text(), "up HTTP/1.1 /one");
    let r = h2util::h2c(p.listen, "GET", "/two", &[], b"").unwrap();
    assert_eq!(r.text(), "up HTTP/2.0 /two");
    assert_eq!(stat(&p, "cluster.up.upstream_cx_http1_total"), 1);
    assert_eq!(stat(&p, "cluster.up.upstream_cx_http2_total"), 1);
}

#[test]
fn codec_http1_refuses_h2c_and_http2_refuses_http1() {
    let up = H2Upstream::start("up");
    let p1 = proxy("          codec_type: HTTP1\n", "", "", &[up.addr]);
    assert!(h2util::h2c(p1.listen, "GET", "/", &[], b"").is_err());
    assert_eq!(util::get(p1.listen, "/x").status, 200);
    let p2 = proxy(
        "          codec_type: HTTP2\n          http2_protocol_options: {max_concurrent_streams: 10}\n",
        "",
        "",
        &[up.addr],
    );
    let before = stat(&p2, "http.test.downstream_cx_http2_total");
    assert_eq!(
        h2util::h2c(p2.listen, "GET", "/y", &[], b"")
            .unwrap()
            .text(),
        "up HTTP/1.1 /y"
    );
    assert!(util::request(p2.listen, "GET", "/z", &[], b"").is_err());
    assert_eq!(stat(&p2, "http.test.downstream_rq_http1_total"), 0);
    // A fixed codec counts every connection as its version (the start-up probe's too, which
    // may land after `before` was read).
    assert!(stat(&p2, "http.test.downstream_cx_http2_total") >= before + 2);
}

/// `mesh grpcbin` on a free port.
pub fn grpcbin() -> (Mesh, SocketAddr) {
    let port = util::free_port();
    let m = Mesh::spawn(["grpcbin", "--port", &port.to_string()]);
    util::wait_for_port(util::addr(port));
    (m, util::addr(port))
}

fn hello(name: &str) -> Vec<u8> {
    mesh::apps::grpc::proto::Writer::new()
        .string(1, name)
        .finish()
}

fn specific_error(code: u64, reason: &str) -> Vec<u8> {
    mesh::apps::grpc::proto::Writer::new()
        .varint(1, code)
        .string(2, reason)
        .finish()
}

#[test]
fn grpc_passes_through_with_trailers_and_status() {
    let (_g, g) = grpcbin();
    let p = proxy("", "", H2_UPSTREAM, &[g]);
    let r = h2util::grpc(
        p.listen,
        "/hello.HelloService/SayHello",
        &hello("mesh"),
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/grpc"));
    assert_eq!(r.trailer("grpc-status"), Some("0"), "{r:?}");
    let msgs = h2util::grpc_messages(&r);
    assert_eq!(
        h2util::proto_string(&msgs[0], 1).as_deref(),
        Some("hello mesh")
    );
    // The health service answers SERVING (1).
    let r = h2util::grpc(p.listen, "/grpc.health.v1.Health/Check", &[], &[]).unwrap();
    assert_eq!(h2util::grpc_messages(&r), vec![vec![0x08, 0x01]]);
    // A chosen failure: trailers-only, the status and message in the headers.
    let r = h2util::grpc(
        p.listen,
        "/grpcbin.GRPCBin/SpecificError",
        &specific_error(7, "go away"),
        &[],
    )
    .unwrap();
    assert_eq!(r.status, 200);
    assert_eq!(r.header("grpc-status"), Some("7"));
    assert_eq!(r.header("grpc-message"), Some("go away"));
    assert!(r.body.is_empty());
    assert_eq!(stat(&p, "cluster.up.upstream_rq_200"), 3);
    assert_eq!(stat(&p, "cluster.up.upstream_cx_http2_total"), 1);
}

#[test]
fn grpc_local_replies_are_trailers_only_with_a_mapped_status() {
    let p = proxy("", "", H2_UPSTREAM, &[]);
    let r = h2util::grpc(p.listen, "/hello.HelloService/SayHello", &hello("x"), &[]).unwrap();
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.header("grpc-status"), Some("14"), "UNAVAILABLE");
    assert_eq!(r.header("grpc-message"), Some("no healthy upstream"));
    assert_eq!(r.header("content-type"), Some("application/grpc"));
    assert!(r.body.is_empty() && r.trailers.is_none());
    // The same failure for a plain HTTP request keeps Envoy's 503.
    let plain = h2util::h2c(p.listen, "GET", "/", &[], b"").unwrap();
    assert_eq!(
        (plain.status, plain.text().as_str()),
        (503, "no healthy upstream")
    );
    assert_eq!(stat(&p, "http.test.downstream_rq_2xx"), 1);
    assert_eq!(stat(&p, "http.test.downstream_rq_5xx"), 1);
}

#[test]
fn grpc_retries_on_unavailable_and_not_on_other_codes() {
    let (_g, g) = grpcbin();
    let route = "                  retry_policy: {retry_on: unavailable, num_retries: 2, retry_back_off: {base_interval: 0.001s}}\n";
    let p = proxy("", route, H2_UPSTREAM, &[g]);
    let r = h2util::grpc(
        p.listen,
        "/grpcbin.GRPCBin/SpecificError",
        &specific_error(14, "down"),
        &[],
    )
    .unwrap();
    assert_eq!(r.header("grpc-status"), Some("14"));
    assert_eq!(stat(&p, "cluster.up.upstream_rq_retry"), 2);
    assert_eq!(stat(&p, "cluster.up.upstream_rq_retry_limit_exceeded"), 1);
    assert_eq!(stat(&p, "cluster.up.upstream_rq_total"), 3);
    // PERMISSION_DENIED is not in retry_on: one attempt.
    let r = h2util::grpc(
        p.listen,
        "/grpcbin.GRPCBin/SpecificError",
        &specific_error(7, "no"),
        &[],
    )
    .unwrap();
    assert_eq!(r.header("grpc-status"), Some("7"));
    assert_eq!(stat(&p, "cluster.up.upstream_rq_total"), 4);
    assert_eq!(stat(&p, "cluster.up.upstream_rq_retry"), 2);
}

/// A WebSocket echo upstream (answers the handshake, then echoes each client frame back
/// unmasked), one thread per connection.
fn ws_echo() -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = stream;
                let head = read_head(&mut s);
                if !head.to_ascii_lowercase().contains("upgrade: websocket") {
                    let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n");
                    return;
                }
                let _ = s.write_all(b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n");
                loop {
                    let mut hdr = [0u8; 2];
                    if s.read_exact(&mut hdr).is_err() {
                        return;
                    }
                    let len = usize::from(hdr[1] & 0x7f);
                    let mut mask = [0u8; 4];
                    let mut payload = vec![0u8; len];
                    if s.read_exact(&mut mask).is_err() || s.read_exact(&mut payload).is_err() {
                        return;
                    }
                    for (i, b) in payload.iter_mut().enumerate() {
                        *b ^= mask[i % 4];
                    }
                    let mut out = vec![hdr[0], len as u8];
                    out.extend_from_slice(&payload);
                    if s.write_all(&out).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn read_head(s: &mut std::net::TcpStream) -> String {
    use std::io::Read;
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        if s.read_exact(&mut b).is_err() {
            break;
        }
        head.push(b[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

/// A masked text frame, as a client sends it.
fn ws_text_frame(text: &str) -> Vec<u8> {
    let mask = [1u8, 2, 3, 4];
    let mut f = vec![0x81, 0x80 | text.len() as u8];
    f.extend_from_slice(&mask);
    f.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    f
}

const WS_HANDSHAKE: &str = "GET /chat HTTP/1.1\r\nHost: ws.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[test]
fn websocket_upgrades_tunnel_both_ways_when_configured() {
    use std::io::{Read, Write};
    let up = ws_echo();
    let p = proxy(
        "          upgrade_configs: [{upgrade_type: websocket}]\n",
        "",
        "",
        &[up],
    );
    let mut s = std::net::TcpStream::connect(p.listen).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(WS_HANDSHAKE.as_bytes()).unwrap();
    let head = read_head(&mut s);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("upgrade: websocket"), "{head}");
    assert!(lower.contains("connection: upgrade"), "{head}");
    assert!(
        lower.contains("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo="),
        "{head}"
    );
    for text in ["hello", "mesh says hi"] {
        s.write_all(&ws_text_frame(text)).unwrap();
        let mut reply = vec![0u8; 2 + text.len()];
        s.read_exact(&mut reply).unwrap();
        assert_eq!(reply[0], 0x81);
        assert_eq!(&reply[2..], text.as_bytes());
    }
    assert_eq!(stat(&p, "http.test.downstream_cx_upgrades_total"), 1);
    assert_eq!(stat(&p, "http.test.downstream_cx_upgrades_active"), 1);
    assert_eq!(stat(&p, "http.test.downstream_rq_1xx"), 1);
    drop(s);
    assert!(util::eventually(Duration::from_secs(5), || {
        stat(&p, "http.test.downstream_cx_upgrades_active") == 0
    }));
}

#[test]
fn websocket_without_upgrade_config_is_refused_with_403() {
    use std::io::Write;
    let up = ws_echo();
    // No upgrade_configs at all; then configured but switched off on the route.
    let off_on_route =
        "                  upgrade_configs: [{upgrade_type: websocket, enabled: false}]\n";
    for (hcm, route) in [
        ("", ""),
        (
            "          upgrade_configs: [{upgrade_type: websocket}]\n",
            off_on_route,
        ),
    ] {
        let p = proxy(hcm, route, "", &[up]);
        let mut s = std::net::TcpStream::connect(p.listen).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(WS_HANDSHAKE.as_bytes()).unwrap();
        let head = read_head(&mut s);
        assert!(head.starts_with("HTTP/1.1 403 Forbidden"), "{head}");
        assert!(
            head.to_ascii_lowercase().contains("content-length: 0"),
            "{head}"
        );
        assert_eq!(stat(&p, "http.test.downstream_rq_ws_on_non_ws_route"), 1);
        assert_eq!(stat(&p, "cluster.up.upstream_rq_total"), 0);
    }
}

/// A TCP server that writes its name and closes.
fn tcp_namer(name: &'static str) -> SocketAddr {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for mut s in listener.incoming().flatten() {
            let _ = s.write_all(name.as_bytes());
        }
    });
    addr
}

#[test]
fn tcp_proxy_weighted_clusters_split_connections() {
    use std::io::Read;
    let (a, b) = (tcp_namer("a"), tcp_namer("b"));
    let (listen, admin) = (util::free_port(), util::free_port());
    let cluster = |name: &str, addr: SocketAddr| {
        format!(
            "  - name: {name}\n    connect_timeout: 1s\n    load_assignment:\n      cluster_name: {name}\n      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {}}}}}}}}}]}}]\n",
            addr.port()
        )
    };
    let yaml = format!(
        r#"
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
static_resources:
  listeners:
  - name: tcp
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: split
          weighted_clusters:
            clusters: [{{name: a, weight: 80}}, {{name: b, weight: 20}}]
  clusters:
{}{}"#,
        cluster("a", a),
        cluster("b", b)
    );
    let _m = Mesh::spawn(["envoy", "--config-yaml", &yaml]);
    util::wait_for_port(util::addr(listen));
    let admin = util::addr(admin);
    let cx =
        |c: &str| util::stat_value(admin, &format!("cluster.{c}.upstream_cx_total")).unwrap_or(0);
    // The readiness probe's connection went somewhere too: count from after it.
    assert!(util::eventually(Duration::from_secs(5), || cx("a")
        + cx("b")
        >= 1));
    let (base_a, base_b) = (cx("a"), cx("b"));
    let n = 200;
    let mut to_a = 0;
    for _ in 0..n {
        let mut s = std::net::TcpStream::connect(util::addr(listen)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        match out.as_str() {
            "a" => to_a += 1,
            "b" => {}
            other => panic!("unexpected answer {other:?}"),
        }
    }
    // 80% of 200 is 160; four standard deviations (sqrt(200·0.8·0.2) ≈ 5.7) either side.
    assert!((137..=183).contains(&to_a), "{to_a} of {n} went to a");
    assert_eq!(cx("a") - base_a, to_a);
    assert_eq!(cx("b") - base_b, n - to_a);
}

/// Runs `f` on a thread; `None` if it has not finished after `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).ok()
}

#[test]
fn grpc_timeout_bounds_a_call_only_when_max_grpc_timeout_is_set() {
    let (_g, g) = grpcbin();
    // Watch never ends on its own: only a timeout ends it.
    let watch = move |addr: SocketAddr| {
        move || {
            h2util::grpc(
                addr,
                "/grpc.health.v1.Health/Watch",
                &[],
                &[("grpc-timeout", "300m")],
            )
        }
    };
    let capped = proxy(
        "",
        "                  max_grpc_timeout: 0s\n",
        H2_UPSTREAM,
        &[g],
    );
    let r = within(Duration::from_secs(5), watch(capped.listen)).expect("the call ended");
    assert!(r.is_err(), "the stream is reset at the deadline: {r:?}");
    assert!(util::eventually(Duration::from_secs(5), || {
        stat(&capped, "cluster.up.upstream_rq_timeout") == 1
    }));
    // Without max_grpc_timeout the header is not a timeout (the route's 15 s default holds).
    let plain = proxy("", "", H2_UPSTREAM, &[g]);
    assert!(within(Duration::from_secs(1), watch(plain.listen)).is_none());
}

/// A TCP echo server (echoes until the client closes).
fn tcp_echo() -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for s in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut s = s;
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(&buf[..n]).is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

fn tcp_proxy_with(extra: &str, up: SocketAddr) -> (Mesh, SocketAddr, SocketAddr) {
    let (listen, admin) = (util::free_port(), util::free_port());
    let yaml = format!(
        r#"
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
static_resources:
  listeners:
  - name: tcp
    address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.tcp_proxy
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy
          stat_prefix: echo
          cluster: echo
{extra}
  clusters:
  - name: echo
    connect_timeout: 1s
    load_assignment:
      cluster_name: echo
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {}}}}}}}}}]}}]
"#,
        up.port()
    );
    let m = Mesh::spawn(["envoy", "--config-yaml", &yaml]);
    util::wait_for_port(util::addr(listen));
    (m, util::addr(listen), util::addr(admin))
}

/// Sends a byte every `every` for `times` times; then waits for the proxy to close. Returns
/// whether the connection stayed up while busy, and how long the close took after the last byte.
fn busy_then_idle(addr: SocketAddr, every: Duration, times: usize) -> (bool, Duration) {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut alive = true;
    for _ in 0..times {
        let mut b = [0u8; 1];
        alive &= s.write_all(b"x").is_ok() && s.read_exact(&mut b).is_ok();
        std::thread::sleep(every);
    }
    let quiet = std::time::Instant::now();
    let mut b = [0u8; 1];
    let n = s.read(&mut b).unwrap_or(0);
    assert_eq!(n, 0, "closed by the proxy");
    (alive, quiet.elapsed())
}

#[test]
fn tcp_proxy_idle_timeout_and_max_connection_duration_close_connections() {
    let up = tcp_echo();
    let (_m, listen, admin) = tcp_proxy_with("          idle_timeout: 0.4s\n", up);
    // Busy for longer than the idle timeout (a byte every 0.2 s), then quiet: closed.
    let (alive, after) = busy_then_idle(listen, Duration::from_millis(200), 4);
    assert!(alive, "activity keeps the connection open");
    assert!(after < Duration::from_secs(5), "{after:?}");
    assert_eq!(util::stat_value(admin, "tcp.echo.idle_timeout"), Some(1));
    assert_eq!(
        util::stat_value(admin, "tcp.echo.max_downstream_connection_duration"),
        Some(0)
    );

    let (_m2, listen2, admin2) =
        tcp_proxy_with("          max_downstream_connection_duration: 0.5s\n", up);
    let started = std::time::Instant::now();
    let (_, _) = busy_then_idle(listen2, Duration::from_millis(100), 2);
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        util::stat_value(admin2, "tcp.echo.max_downstream_connection_duration"),
        Some(1)
    );
    assert_eq!(util::stat_value(admin2, "tcp.echo.idle_timeout"), Some(0));
}

#[test]
fn stream_idle_timeout_ends_quiet_streams() {
    // Waiting for response headers: 504 `stream timeout` (the route timeout is off).
    let up = util::Upstream::start("slow");
    up.script(&[(200, Duration::from_secs(2))]);
    let p = proxy(
        "          stream_idle_timeout: 0.3s\n",
        "                  timeout: 0s\n",
        "",
        &[up.addr],
    );
    let r = util::get(p.listen, "/slow");
    assert_eq!((r.status, r.text().as_str()), (504, "stream timeout"));
    assert_eq!(stat(&p, "http.test.downstream_rq_idle_timeout"), 1);
    // A route's idle_timeout wins over the manager's (here: off), so the answer comes.
    up.script(&[(200, Duration::from_millis(600))]);
    let p2 = proxy(
        "          stream_idle_timeout: 0.3s\n",
        "                  timeout: 0s\n                  idle_timeout: 0s\n",
        "",
        &[up.addr],
    );
    assert_eq!(util::get(p2.listen, "/slow").status, 200);
    assert_eq!(stat(&p2, "http.test.downstream_rq_idle_timeout"), 0);

    // A response that stalls mid-body (a health Watch): the stream is reset.
    let (_g, g) = grpcbin();
    let p3 = proxy(
        "",
        "                  timeout: 0s\n                  idle_timeout: 0.3s\n",
        H2_UPSTREAM,
        &[g],
    );
    let addr = p3.listen;
    let r = within(Duration::from_secs(5), move || {
        h2util::grpc(addr, "/grpc.health.v1.Health/Watch", &[], &[])
    })
    .expect("the stream ended");
    assert!(r.is_err(), "{r:?}");
    assert_eq!(stat(&p3, "http.test.downstream_rq_idle_timeout"), 1);
}

#[test]
fn max_requests_circuit_breaker_applies_to_http2_streams() {
    let (_g, g) = grpcbin();
    let cluster =
        format!("{H2_UPSTREAM}    circuit_breakers: {{thresholds: [{{max_requests: 1}}]}}\n");
    let p = proxy("", "                  timeout: 0s\n", &cluster, &[g]);
    // One Watch holds the only request slot open…
    let addr = p.listen;
    std::thread::spawn(move || {
        let _ = h2util::grpc(addr, "/grpc.health.v1.Health/Watch", &[], &[]);
    });
    assert!(util::eventually(Duration::from_secs(5), || {
        stat(&p, "cluster.up.upstream_rq_active") == 1
    }));
    // …so the next call overflows: UNAVAILABLE from the proxy, with x-envoy-overloaded.
    let r = h2util::grpc(p.listen, "/hello.HelloService/SayHello", &hello("x"), &[]).unwrap();
    assert_eq!(r.header("grpc-status"), Some("14"), "{r:?}");
    assert_eq!(r.header("x-envoy-overloaded"), Some("true"));
    assert_eq!(stat(&p, "cluster.up.upstream_rq_pending_overflow"), 1);
    // The Watch went out on the only HTTP/2 connection; the refused call never left.
    assert_eq!(stat(&p, "cluster.up.upstream_cx_http2_total"), 1);
}

#[test]
fn upstream_idle_timeout_closes_quiet_connections() {
    let up = H2Upstream::start("up");
    let options = |version: &str| {
        format!(
            r#"    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        common_http_protocol_options: {{idle_timeout: 0.3s}}
        explicit_http_config: {{{version}: {{}}}}
"#
        )
    };
    for (version, cx) in [
        ("http2_protocol_options", "upstream_cx_http2_total"),
        ("http_protocol_options", "upstream_cx_http1_total"),
    ] {
        let p = proxy("", "", &options(version), &[up.addr]);
        // Back to back: one connection.
        assert_eq!(util::get(p.listen, "/a").status, 200);
        assert_eq!(util::get(p.listen, "/b").status, 200);
        assert_eq!(stat(&p, &format!("cluster.up.{cx}")), 1, "{version}");
        // Quiet for longer than the idle timeout: the next request needs a new connection.
        std::thread::sleep(Duration::from_millis(800));
        assert_eq!(util::get(p.listen, "/c").status, 200);
        assert_eq!(stat(&p, &format!("cluster.up.{cx}")), 2, "{version}");
        assert_eq!(
            stat(&p, "cluster.up.upstream_cx_idle_timeout"),
            1,
            "{version}"
        );
    }
}

#[test]
fn http2_max_concurrent_streams_opens_more_connections() {
    let (_g, g) = grpcbin();
    let cluster = r#"    typed_extension_protocol_options:
      envoy.extensions.upstreams.http.v3.HttpProtocolOptions:
        "@type": type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions
        explicit_http_config: {http2_protocol_options: {max_concurrent_streams: 2}}
"#;
    let p = proxy("", "                  timeout: 0s\n", cluster, &[g]);
    // Three long-lived Watch streams, one after another (streams racing a connection that is
    // still being set up may each dial: see the issue note): two share a connection, the
    // third needs another.
    for n in 1..=3 {
        let addr = p.listen;
        std::thread::spawn(move || {
            let _ = h2util::grpc(addr, "/grpc.health.v1.Health/Watch", &[], &[]);
        });
        assert!(util::eventually(Duration::from_secs(5), || {
            stat(&p, "cluster.up.upstream_rq_active") == n
        }));
    }
    assert_eq!(stat(&p, "cluster.up.upstream_cx_http2_total"), 2);
    // A short call fits next to the third stream.
    let r = h2util::grpc(p.listen, "/hello.HelloService/SayHello", &hello("y"), &[]).unwrap();
    assert_eq!(r.trailer("grpc-status"), Some("0"));
    assert_eq!(stat(&p, "cluster.up.upstream_cx_http2_total"), 2);
}
