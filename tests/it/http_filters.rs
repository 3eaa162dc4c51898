//! The fault and local rate limit HTTP filters in `mesh envoy`: delays, aborts, percentages,
//! header-controlled faults, token buckets, per-route overrides, flags and stats.

use std::net::SocketAddr;
use std::time::Duration;

use crate::util::{self, Mesh, TempDir, Upstream};

struct Proxy {
    _mesh: Mesh,
    listen: SocketAddr,
    admin: SocketAddr,
}

const FAULT: &str = "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault";
const RL: &str =
    "type.googleapis.com/envoy.extensions.filters.http.local_ratelimit.v3.LocalRateLimit";

/// A proxy with `filters` before the router, `routes` in one `*` virtual host, cluster `a`.
fn proxy(filters: &str, routes: &str, upstream: SocketAddr, log: &std::path::Path) -> Proxy {
    let (listen, admin) = (util::free_port(), util::free_port());
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
          access_log:
          - name: envoy.access_loggers.file
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog
              path: {log}
              log_format: {{text_format_source: {{inline_string: "%REQ(:PATH)% %RESPONSE_CODE% %RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS%\n"}}}}
          http_filters:
{filters}
          - name: envoy.filters.http.router
            typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}
          route_config:
            name: local
            virtual_hosts:
            - name: all
              domains: ["*"]
              routes:
{routes}
  clusters:
  - name: a
    connect_timeout: 1s
    type: STATIC
    load_assignment:
      cluster_name: a
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: {ip}, port_value: {port}}}}}}}}}]}}]
"#,
        log = log.display(),
        ip = upstream.ip(),
        port = upstream.port(),
    );
    let mesh = Mesh::spawn(["envoy", "--config-yaml", &yaml]);
    let listen = util::addr(listen);
    if !util::eventually(Duration::from_secs(20), || {
        std::net::TcpStream::connect(listen).is_ok()
    }) {
        panic!("proxy did not start: {}\n{yaml}", mesh.stderr());
    }
    Proxy {
        _mesh: mesh,
        listen,
        admin: util::addr(admin),
    }
}

fn stat(p: &Proxy, name: &str) -> u64 {
    util::stat_value(p.admin, name).unwrap_or_else(|| panic!("no stat {name}"))
}

fn get(p: &Proxy, path: &str, headers: &[(&str, &str)]) -> util::Response {
    util::request(p.listen, "GET", path, headers, b"").unwrap()
}

fn log_line(log: &std::path::Path, path: &str) -> String {
    let mut found = None;
    util::eventually(Duration::from_secs(5), || {
        found = std::fs::read_to_string(log).ok().and_then(|t| {
            t.lines()
                .rev()
                .find(|l| l.starts_with(&format!("{path} ")))
                .map(str::to_owned)
        });
        found.is_some()
    });
    found.unwrap_or_else(|| panic!("no access log line for {path}"))
}

#[test]
fn fault_filter_delays_and_aborts_per_route_and_by_header() {
    let up = Upstream::start("a");
    let dir = TempDir::new("fault");
    let log = dir.path().join("access.log");
    // The HCM's filter only honours headers; routes carry Istio-style overrides.
    let filters = format!(
        "          - name: envoy.filters.http.fault\n            typed_config: {{\"@type\": {FAULT}, delay: {{header_delay: {{}}, percentage: {{numerator: 100}}}}, abort: {{header_abort: {{}}, percentage: {{numerator: 100}}}}}}\n"
    );
    let routes = format!(
        r#"              - match: {{prefix: /abort}}
                route: {{cluster: a}}
                typed_per_filter_config:
                  envoy.filters.http.fault: {{"@type": {FAULT}, abort: {{http_status: 418, percentage: {{numerator: 100}}}}}}
              - match: {{prefix: /delay}}
                route: {{cluster: a}}
                typed_per_filter_config:
                  envoy.filters.http.fault: {{"@type": {FAULT}, delay: {{fixed_delay: 0.3s, percentage: {{numerator: 1000000, denominator: MILLION}}}}}}
              - match: {{prefix: /half}}
                route: {{cluster: a}}
                typed_per_filter_config:
                  envoy.filters.http.fault: {{"@type": {FAULT}, abort: {{http_status: 503, percentage: {{numerator: 5000, denominator: TEN_THOUSAND}}}}}}
              - match: {{prefix: /}}
                route: {{cluster: a}}
"#
    );
    let p = proxy(&filters, &routes, up.addr, &log);

    let r = get(&p, "/abort", &[]);
    assert_eq!((r.status, r.text().as_str()), (418, "fault filter abort"));
    assert_eq!(log_line(&log, "/abort"), "/abort 418 FI fault_filter_abort");

    let r = get(&p, "/delay", &[]);
    assert_eq!(r.status, 200);
    assert!(r.elapsed >= Duration::from_millis(300), "{:?}", r.elapsed);
    assert_eq!(log_line(&log, "/delay"), "/delay 200 DI via_upstream");

    // Without the headers the filter-level config injects nothing.
    let r = get(&p, "/plain", &[]);
    assert_eq!(r.status, 200);
    assert!(r.elapsed < Duration::from_millis(250), "{:?}", r.elapsed);
    let r = get(&p, "/hdr", &[("x-envoy-fault-abort-request", "503")]);
    assert_eq!((r.status, r.text().as_str()), (503, "fault filter abort"));
    let r = get(
        &p,
        "/both",
        &[
            ("x-envoy-fault-delay-request", "200"),
            ("x-envoy-fault-abort-request", "429"),
        ],
    );
    assert_eq!(r.status, 429);
    assert!(r.elapsed >= Duration::from_millis(200), "{:?}", r.elapsed);
    assert_eq!(
        log_line(&log, "/both"),
        "/both 429 DI,FI fault_filter_abort"
    );

    let aborted = (0..200)
        .filter(|_| get(&p, "/half", &[]).status == 503)
        .count();
    assert!((60..=140).contains(&aborted), "{aborted} of 200 aborted");

    assert_eq!(stat(&p, "http.test.fault.delays_injected"), 2);
    assert_eq!(
        stat(&p, "http.test.fault.aborts_injected"),
        3 + aborted as u64
    );
    assert_eq!(stat(&p, "http.test.fault.active_faults"), 0);
    assert_eq!(stat(&p, "http.test.fault.faults_overflow"), 0);
    assert_eq!(stat(&p, "http.test.fault.response_rl_injected"), 0);
}

#[test]
fn local_rate_limit_bursts_then_429_then_refills() {
    let up = Upstream::start("a");
    let dir = TempDir::new("ratelimit");
    let log = dir.path().join("access.log");
    let pct = "{runtime_key: k, default_value: {numerator: 100, denominator: HUNDRED}}";
    let filters = format!(
        "          - name: envoy.filters.http.local_ratelimit\n            typed_config: {{\"@type\": {RL}, stat_prefix: http_local_rate_limiter, token_bucket: {{max_tokens: 2, tokens_per_fill: 2, fill_interval: 1s}}, filter_enabled: {pct}, filter_enforced: {pct}, response_headers_to_add: [{{header: {{key: x-local-rate-limit, value: \"true\"}}}}]}}\n"
    );
    // /route has its own bucket of 1 (the Istio docs' per-route shape); /shadow only counts.
    let routes = format!(
        r#"              - match: {{prefix: /route}}
                route: {{cluster: a}}
                typed_per_filter_config:
                  envoy.filters.http.local_ratelimit: {{"@type": {RL}, stat_prefix: per_route, token_bucket: {{max_tokens: 1, fill_interval: 60s}}, filter_enabled: {pct}, filter_enforced: {pct}, status: {{code: 503}}}}
              - match: {{prefix: /shadow}}
                route: {{cluster: a}}
                typed_per_filter_config:
                  envoy.filters.http.local_ratelimit: {{"@type": {RL}, stat_prefix: shadow, token_bucket: {{max_tokens: 1, fill_interval: 60s}}, filter_enabled: {pct}}}
              - match: {{prefix: /}}
                route: {{cluster: a}}
"#
    );
    let p = proxy(&filters, &routes, up.addr, &log);
    assert_eq!(
        stat(&p, "http_local_rate_limiter.http_local_rate_limit.ok"),
        0
    );

    assert_eq!(get(&p, "/a", &[]).status, 200);
    assert_eq!(get(&p, "/b", &[]).status, 200);
    let r = get(&p, "/c", &[]);
    assert_eq!((r.status, r.text().as_str()), (429, "local_rate_limited"));
    assert_eq!(r.header("x-local-rate-limit"), Some("true"));
    assert_eq!(log_line(&log, "/c"), "/c 429 RL local_rate_limited");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(get(&p, "/d", &[]).status, 200);
    let prefix = "http_local_rate_limiter.http_local_rate_limit";
    assert_eq!(stat(&p, &format!("{prefix}.enabled")), 4);
    assert_eq!(stat(&p, &format!("{prefix}.ok")), 3);
    assert_eq!(stat(&p, &format!("{prefix}.rate_limited")), 1);
    assert_eq!(stat(&p, &format!("{prefix}.enforced")), 1);

    // The route's own bucket and status; the filter's bucket is untouched.
    assert_eq!(get(&p, "/route", &[]).status, 200);
    let r = get(&p, "/route", &[]);
    assert_eq!((r.status, r.text().as_str()), (503, "local_rate_limited"));
    assert_eq!(stat(&p, "per_route.http_local_rate_limit.enforced"), 1);
    // Not enforced: counted as rate limited, still forwarded.
    assert_eq!(get(&p, "/shadow", &[]).status, 200);
    assert_eq!(get(&p, "/shadow", &[]).status, 200);
    assert_eq!(stat(&p, "shadow.http_local_rate_limit.rate_limited"), 1);
    assert_eq!(stat(&p, "shadow.http_local_rate_limit.enforced"), 0);
    assert_eq!(stat(&p, &format!("{prefix}.enabled")), 4);
}
