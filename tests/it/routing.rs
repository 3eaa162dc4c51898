//! The proxy's routing, load balancing, retries and local replies on real sockets, against small
//! scripted upstreams.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::util::{self, Mesh, TempDir, Upstream};

/// A running `mesh envoy` built from a routes snippet and named clusters.
struct Proxy {
    _mesh: Mesh,
    listen: SocketAddr,
    admin: SocketAddr,
}

/// `clusters`: (name, extra YAML under the cluster, endpoint addresses).
fn proxy(hcm_extra: &str, routes: &str, clusters: &[(&str, &str, Vec<SocketAddr>)]) -> Proxy {
    let (listen, admin) = (util::free_port(), util::free_port());
    let mut yaml = format!(
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
{routes}
  clusters:
"#
    );
    for (name, extra, endpoints) in clusters {
        let eps: Vec<String> = endpoints
            .iter()
            .map(|a| {
                format!(
                    "{{endpoint: {{address: {{socket_address: {{address: {}, port_value: {}}}}}}}}}",
                    a.ip(),
                    a.port()
                )
            })
            .collect();
        yaml.push_str(&format!(
            "  - name: {name}\n    connect_timeout: 1s\n    type: STATIC\n{extra}    load_assignment:\n      cluster_name: {name}\n      endpoints: [{{lb_endpoints: [{}]}}]\n",
            eps.join(", ")
        ));
    }
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

fn get_with(p: &Proxy, path: &str, headers: &[(&str, &str)]) -> util::Response {
    util::request(p.listen, "GET", path, headers, b"").unwrap()
}

const ANY: &str = "            virtual_hosts:\n            - name: all\n              domains: [\"*\"]\n              routes:\n";

#[test]
fn matching_rewrites_redirects_direct_responses_and_headers() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let routes = r#"            request_headers_to_add: [{header: {key: x-global, value: g}}]
            response_headers_to_add: [{header: {key: x-served-by, value: mesh}}]
            virtual_hosts:
            - name: shop
              domains: ["shop.example.com", "*.shop.example.com"]
              request_headers_to_add: [{header: {key: x-vhost, value: shop}}]
              routes:
              - match: {prefix: /}
                route: {cluster: b, host_rewrite_literal: upstream.internal}
            - name: all
              domains: ["*"]
              routes:
              - match: {prefix: /v2, headers: [{name: x-canary, exact_match: "yes"}]}
                route: {cluster: b}
              - match: {prefix: /v2, query_parameters: [{name: tier, string_match: {exact: gold}}]}
                route: {cluster: b}
              - match: {safe_regex: {regex: "/items/[0-9]+"}}
                route: {cluster: b}
              - match: {prefix: /old/}
                route: {cluster: a, prefix_rewrite: /new/}
              - match: {path: /moved}
                redirect: {path_redirect: /here, response_code: FOUND}
              - match: {path: /secure}
                redirect: {https_redirect: true}
              - match: {path: /hello}
                direct_response: {status: 200, body: {inline_string: "hi there"}}
              - match: {prefix: /}
                route: {cluster: a}
                request_headers_to_add:
                - header: {key: x-route, value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}
                request_headers_to_remove: [x-secret]
                response_headers_to_add:
                - header: {key: x-route-resp, value: "1"}
"#;
    let p = proxy(
        "",
        routes,
        &[("a", "", vec![a.addr]), ("b", "", vec![b.addr])],
    );
    let body = |r: &util::Response| r.text();

    assert_eq!(body(&get_with(&p, "/v2/x", &[("x-canary", "yes")])), "b");
    assert_eq!(body(&get_with(&p, "/v2/x", &[])), "a");
    assert_eq!(body(&get_with(&p, "/v2/x?tier=gold", &[])), "b");
    assert_eq!(body(&get_with(&p, "/items/42", &[])), "b");
    assert_eq!(body(&get_with(&p, "/items/x", &[])), "a");

    let r = get_with(&p, "/old/thing?q=1", &[]);
    assert_eq!(body(&r), "a");
    let seen = a.seen().last().cloned().unwrap();
    assert_eq!(seen.path, "/new/thing?q=1");
    assert_eq!(seen.headers["x-envoy-original-path"], "/old/thing?q=1");

    let r = get_with(&p, "/moved?x=1", &[("host", "example.org")]);
    assert_eq!(r.status, 302);
    assert_eq!(r.header("location"), Some("http://example.org/here?x=1"));
    let r = get_with(&p, "/secure", &[("host", "example.org:8080")]);
    assert_eq!(r.status, 301);
    assert_eq!(r.header("location"), Some("https://example.org/secure"));

    let r = get_with(&p, "/hello", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "hi there"));
    assert_eq!(r.header("content-type"), Some("text/plain"));

    let r = get_with(&p, "/anything", &[("x-secret", "s")]);
    assert_eq!(r.header("x-route-resp"), Some("1"));
    assert_eq!(r.header("x-served-by"), Some("mesh"));
    assert_eq!(r.header("x-upstream"), Some("a"));
    let seen = a.seen().last().cloned().unwrap();
    assert_eq!(seen.headers["x-route"], "127.0.0.1");
    assert_eq!(seen.headers["x-global"], "g");
    assert!(!seen.headers.contains_key("x-secret"));

    let r = get_with(&p, "/", &[("host", "www.shop.example.com")]);
    assert_eq!(body(&r), "b");
    let seen = b.seen().last().cloned().unwrap();
    assert_eq!(seen.headers["host"], "upstream.internal");
    assert_eq!(seen.headers["x-vhost"], "shop");
}

#[test]
fn weighted_clusters_split_traffic() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let routes = format!(
        "{ANY}              - match: {{prefix: /}}\n                route: {{weighted_clusters: {{clusters: [{{name: a, weight: 80}}, {{name: b, weight: 20}}]}}}}\n"
    );
    let p = proxy(
        "",
        &routes,
        &[("a", "", vec![a.addr]), ("b", "", vec![b.addr])],
    );
    let n = 500;
    for _ in 0..n {
        assert_eq!(get_with(&p, "/", &[]).status, 200);
    }
    // 80/20 of 500: a's count is binomial(500, 0.8), sd ≈ 9; allow ±5 sd.
    let got = a.count();
    assert!((355..=445).contains(&got), "a got {got} of {n}");
    assert_eq!(a.count() + b.count(), n);
}

#[test]
fn load_balancing_policies_spread_requests() {
    let ups: Vec<Upstream> = (0..3).map(|i| Upstream::start(&format!("u{i}"))).collect();
    let addrs: Vec<SocketAddr> = ups.iter().map(|u| u.addr).collect();
    let routes = format!(
        "{ANY}              - match: {{prefix: /}}\n                route: {{cluster: rr}}\n              - match: {{prefix: /random}}\n                route: {{cluster: random}}\n"
    );
    let routes = routes.replace(
        "              - match: {prefix: /}\n                route: {cluster: rr}\n              - match: {prefix: /random}\n                route: {cluster: random}\n",
        "              - match: {prefix: /random}\n                route: {cluster: random}\n              - match: {prefix: /least}\n                route: {cluster: least}\n              - match: {prefix: /}\n                route: {cluster: rr}\n",
    );
    let p = proxy(
        "",
        &routes,
        &[
            ("rr", "", addrs.clone()),
            ("random", "    lb_policy: RANDOM\n", addrs.clone()),
            ("least", "    lb_policy: LEAST_REQUEST\n", addrs.clone()),
        ],
    );
    // Round robin: exactly even.
    let mut counts: HashMap<String, usize> = HashMap::new();
    for _ in 0..30 {
        *counts.entry(get_with(&p, "/", &[]).text()).or_default() += 1;
    }
    assert_eq!(
        counts.values().copied().collect::<Vec<_>>(),
        vec![10, 10, 10],
        "{counts:?}"
    );
    for path in ["/random", "/least"] {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for _ in 0..90 {
            *counts.entry(get_with(&p, path, &[]).text()).or_default() += 1;
        }
        assert_eq!(counts.len(), 3, "{path}: {counts:?}");
        assert!(counts.values().all(|c| *c >= 10), "{path}: {counts:?}");
    }
}

#[test]
fn consistent_hashing_keeps_a_key_on_one_host() {
    let ups: Vec<Upstream> = (0..4).map(|i| Upstream::start(&format!("u{i}"))).collect();
    let addrs: Vec<SocketAddr> = ups.iter().map(|u| u.addr).collect();
    let routes = format!(
        "{ANY}              - match: {{prefix: /maglev}}\n                route:\n                  cluster: maglev\n                  hash_policy: [{{header: {{header_name: x-user}}}}]\n              - match: {{prefix: /cookie}}\n                route:\n                  cluster: ring\n                  hash_policy: [{{cookie: {{name: sticky, ttl: 3600s, path: /}}}}]\n              - match: {{prefix: /}}\n                route:\n                  cluster: ring\n                  hash_policy: [{{header: {{header_name: x-user}}}}, {{query_parameter: {{name: u}}}}]\n"
    );
    let p = proxy(
        "",
        &routes,
        &[
            (
                "ring",
                "    lb_policy: RING_HASH\n    ring_hash_lb_config: {minimum_ring_size: 2048}\n",
                addrs.clone(),
            ),
            ("maglev", "    lb_policy: MAGLEV\n", addrs.clone()),
        ],
    );
    for path in ["/", "/maglev"] {
        // One key, one host, every time.
        let mut owner: HashMap<String, String> = HashMap::new();
        for round in 0..3 {
            for user in 0..20 {
                let u = format!("user-{user}");
                let got = get_with(&p, path, &[("x-user", &u)]).text();
                let first = owner.entry(u.clone()).or_insert_with(|| got.clone());
                assert_eq!(*first, got, "{path} {u} moved in round {round}");
            }
        }
        // Keys spread over the hosts.
        let hosts: std::collections::HashSet<&String> = owner.values().collect();
        assert!(hosts.len() >= 3, "{path}: {owner:?}");
    }
    // A query parameter works when the header is absent.
    let by_query: Vec<String> = (0..5)
        .map(|_| get_with(&p, "/?u=ann", &[]).text())
        .collect();
    assert!(by_query.iter().all(|h| *h == by_query[0]), "{by_query:?}");
    // A cookie the proxy makes: the client keeps it and stays on its host.
    let first = get_with(&p, "/cookie", &[]);
    let set = first.header("set-cookie").unwrap().to_owned();
    assert!(
        set.starts_with("sticky=\"") && set.ends_with("; Max-Age=3600; Path=/; HttpOnly"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    for _ in 0..5 {
        let r = get_with(&p, "/cookie", &[("cookie", &cookie)]);
        assert_eq!(r.text(), first.text());
        assert!(r.header("set-cookie").is_none());
    }
}

#[test]
fn outlier_detection_ejects_a_failing_host_and_brings_it_back() {
    let ups: Vec<Upstream> = (0..3).map(|i| Upstream::start(&format!("u{i}"))).collect();
    let addrs: Vec<SocketAddr> = ups.iter().map(|u| u.addr).collect();
    // u0 answers 500 to its next 50 requests.
    ups[0].script(&[(500, Duration::ZERO); 50]);
    let routes = format!(
        "{ANY}              - match: {{prefix: /}}\n                route: {{cluster: od}}\n"
    );
    let p = proxy(
        "",
        &routes,
        &[(
            "od",
            "    outlier_detection: {consecutive_5xx: 3, interval: 1s, base_ejection_time: 2s, max_ejection_percent: 100}\n",
            addrs.clone(),
        )],
    );
    // Round robin: u0 answers every third request until its third 500 ejects it.
    let mut failures = 0;
    for _ in 0..9 {
        if get_with(&p, "/", &[]).status == 500 {
            failures += 1;
        }
    }
    assert_eq!(failures, 3, "three 500s, then u0 is out");
    assert_eq!(
        stat(
            &p,
            "cluster.od.outlier_detection.ejections_enforced_consecutive_5xx"
        ),
        1
    );
    assert_eq!(stat(&p, "cluster.od.outlier_detection.ejections_active"), 1);
    let before = ups[0].count();
    for _ in 0..10 {
        assert_eq!(get_with(&p, "/", &[]).status, 200);
    }
    assert_eq!(ups[0].count(), before, "no request reaches an ejected host");
    let clusters = util::get(p.admin, "/clusters").text();
    assert!(
        clusters.contains(&format!(
            "od::{}::health_flags::/failed_outlier_check",
            addrs[0]
        )),
        "{clusters}"
    );
    let json = util::get(p.admin, "/clusters?format=json").json();
    let ejected: Vec<&serde_json::Value> = json["cluster_statuses"][0]["host_statuses"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["health_status"]["failed_outlier_check"] == true)
        .collect();
    assert_eq!(ejected.len(), 1);
    // After base_ejection_time (and the next interval tick) it is back.
    let back = util::eventually(Duration::from_secs(6), || {
        stat(&p, "cluster.od.outlier_detection.ejections_active") == 0
    });
    assert!(back);
    let before = ups[0].count();
    for _ in 0..6 {
        get_with(&p, "/", &[]);
    }
    assert!(ups[0].count() > before, "u0 takes requests again");
}

#[test]
fn active_health_checks_keep_requests_off_a_dead_host() {
    let up = Upstream::start("alive");
    // A port nobody listens on.
    let dead = util::addr(util::free_port());
    let routes = format!(
        "{ANY}              - match: {{prefix: /}}\n                route: {{cluster: hc}}\n"
    );
    let p = proxy(
        "",
        &routes,
        &[(
            "hc",
            "    health_checks:\n    - {timeout: 1s, interval: 0.2s, no_traffic_interval: 0.2s, unhealthy_threshold: 1, healthy_threshold: 1, http_health_check: {path: /healthz}}\n",
            vec![dead, up.addr],
        )],
    );
    assert!(util::eventually(Duration::from_secs(5), || {
        stat(&p, "cluster.hc.health_check.network_failure") > 0
            && stat(&p, "cluster.hc.health_check.success") > 0
    }));
    for _ in 0..10 {
        assert_eq!(get_with(&p, "/", &[]).status, 200, "never the dead host");
    }
    let clusters = util::get(p.admin, "/clusters").text();
    assert!(
        clusters.contains(&format!("hc::{dead}::health_flags::/failed_active_hc")),
        "{clusters}"
    );
    assert!(
        clusters.contains(&format!("hc::{}::health_flags::healthy", up.addr)),
        "{clusters}"
    );
    let checks: Vec<_> = up
        .seen()
        .into_iter()
        .filter(|s| s.path == "/healthz")
        .collect();
    assert!(!checks.is_empty());
    assert_eq!(
        checks[0].headers.get("user-agent").map(String::as_str),
        Some("Envoy/HC")
    );
    assert_eq!(
        checks[0].headers.get("host").map(String::as_str),
        Some("hc")
    );
}

#[test]
fn circuit_breakers_overflow_with_envoys_503_uo() {
    let up = Upstream::start("slow");
    let routes = format!(
        "{ANY}              - match: {{prefix: /rq}}\n                route: {{cluster: rq}}\n              - match: {{prefix: /}}\n                route: {{cluster: cx}}\n"
    );
    let p = proxy(
        "",
        &routes,
        &[
            (
                "cx",
                "    circuit_breakers: {thresholds: [{max_connections: 1, max_pending_requests: 1}]}\n",
                vec![up.addr],
            ),
            (
                "rq",
                "    circuit_breakers: {thresholds: [{max_requests: 1}]}\n",
                vec![up.addr],
            ),
        ],
    );
    for (path, overflow_stat) in [
        ("/", "cluster.cx.upstream_rq_pending_overflow"),
        ("/rq", "cluster.rq.upstream_rq_pending_overflow"),
    ] {
        // Every request takes 600 ms upstream: four at once meet the breaker.
        up.script(&[(200, Duration::from_millis(600)); 4]);
        let listen = p.listen;
        let answers: Vec<util::Response> = (0..4)
            .map(|_| {
                std::thread::spawn(move || util::request(listen, "GET", path, &[], b"").unwrap())
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        let ok = answers.iter().filter(|r| r.status == 200).count();
        let overflowed: Vec<&util::Response> = answers.iter().filter(|r| r.status == 503).collect();
        assert!(
            ok >= 1 && !overflowed.is_empty(),
            "{path}: {:?}",
            answers.iter().map(|r| r.status).collect::<Vec<_>>()
        );
        for r in &overflowed {
            assert_eq!(r.header("x-envoy-overloaded"), Some("true"));
            assert_eq!(
                r.text(),
                "upstream connect error or disconnect/reset before headers. reset reason: overflow"
            );
        }
        assert_eq!(stat(&p, overflow_stat), overflowed.len() as u64, "{path}");
        // Use up the script entries the overflowed requests left.
        for _ in 0..overflowed.len() {
            assert_eq!(get_with(&p, path, &[]).status, 200);
        }
    }
    // max_connections 1 + max_pending 1 lets two through: one on the connection, one waiting.
    let clusters = util::get(p.admin, "/clusters").text();
    assert!(
        clusters.contains("cx::default_priority::max_connections::1"),
        "{clusters}"
    );
}

#[test]
fn a_retry_budget_limits_retries_to_a_share_of_active_requests() {
    let up = Upstream::start("flaky");
    let routes = format!(
        "{ANY}              - match: {{prefix: /}}\n                route:\n                  cluster: budget\n                  retry_policy: {{retry_on: 5xx, num_retries: 2}}\n"
    );
    let p = proxy(
        "",
        &routes,
        &[(
            "budget",
            "    circuit_breakers: {thresholds: [{retry_budget: {budget_percent: {value: 0}, min_retry_concurrency: 0}}]}\n",
            vec![up.addr],
        )],
    );
    up.script(&[(500, Duration::ZERO); 3]);
    let r = get_with(&p, "/", &[]);
    assert_eq!(r.status, 500, "no retry fits a 0% budget");
    assert_eq!(up.count(), 1);
    assert_eq!(stat(&p, "cluster.budget.upstream_rq_retry_overflow"), 1);
    assert_eq!(stat(&p, "cluster.budget.upstream_rq_retry"), 0);
}

#[test]
fn retries_connect_failures_on_another_host() {
    let alive = Upstream::start("alive");
    let dead = util::addr(util::free_port());
    let routes = format!(
        "{ANY}              - match: {{prefix: /}}\n                route:\n                  cluster: pair\n                  retry_policy:\n                    retry_on: connect-failure\n                    num_retries: 2\n                    retry_host_predicate: [{{name: envoy.retry_host_predicates.previous_hosts}}]\n"
    );
    let p = proxy("", &routes, &[("pair", "", vec![dead, alive.addr])]);
    // Round robin starts with the dead host; the retry avoids it.
    let r = get_with(&p, "/", &[]);
    assert_eq!((r.status, r.text().as_str()), (200, "alive"));
    assert_eq!(stat(&p, "cluster.pair.upstream_rq_retry"), 1);
    assert_eq!(stat(&p, "cluster.pair.upstream_rq_retry_success"), 1);
    assert_eq!(stat(&p, "cluster.pair.upstream_cx_connect_fail"), 1);
}

#[test]
fn retry_conditions_and_per_try_timeouts() {
    let up = Upstream::start("up");
    let routes = format!(
        r#"{ANY}              - match: {{prefix: /codes}}
                route:
                  cluster: up
                  retry_policy: {{retry_on: retriable-status-codes, retriable_status_codes: [503], num_retries: 2}}
              - match: {{prefix: /gateway}}
                route:
                  cluster: up
                  retry_policy: {{retry_on: gateway-error, num_retries: 2}}
              - match: {{prefix: /slow}}
                route:
                  cluster: up
                  timeout: 5s
                  retry_policy: {{retry_on: 5xx, num_retries: 1, per_try_timeout: 0.3s}}
              - match: {{prefix: /}}
                route: {{cluster: up}}
"#
    );
    let p = proxy("", &routes, &[("up", "", vec![up.addr])]);

    up.script(&[(503, Duration::ZERO)]);
    assert_eq!(get_with(&p, "/codes", &[]).status, 200);
    up.script(&[(500, Duration::ZERO)]);
    assert_eq!(
        get_with(&p, "/codes", &[]).status,
        500,
        "500 is not in the list"
    );

    up.script(&[(502, Duration::ZERO), (504, Duration::ZERO)]);
    assert_eq!(get_with(&p, "/gateway", &[]).status, 200);
    up.script(&[(500, Duration::ZERO)]);
    assert_eq!(get_with(&p, "/gateway", &[]).status, 500);
    assert_eq!(stat(&p, "cluster.up.upstream_rq_retry"), 3);

    // The first try hangs past its 0.3 s; the retry answers at once.
    up.script(&[(200, Duration::from_secs(2))]);
    let r = get_with(&p, "/slow", &[]);
    assert_eq!(r.status, 200);
    assert!(r.elapsed < Duration::from_millis(1900), "{:?}", r.elapsed);
    assert_eq!(stat(&p, "cluster.up.upstream_rq_per_try_timeout"), 1);

    // Internal clients may ask for retries with x-envoy-retry-on / x-envoy-max-retries.
    let before = stat(&p, "cluster.up.upstream_rq_retry");
    up.script(&[(503, Duration::ZERO), (503, Duration::ZERO)]);
    let r = get_with(
        &p,
        "/plain",
        &[
            ("x-forwarded-for", "10.0.0.7"),
            ("x-envoy-retry-on", "5xx"),
            ("x-envoy-max-retries", "2"),
        ],
    );
    assert_eq!(r.status, 200);
    assert_eq!(stat(&p, "cluster.up.upstream_rq_retry"), before + 2);
    assert!(
        !up.seen()
            .last()
            .unwrap()
            .headers
            .contains_key("x-envoy-retry-on"),
        "consumed, not forwarded"
    );
}

#[test]
fn access_log_records_response_flags() {
    let dir = TempDir::new("flags");
    let log = dir.path().join("flags.log");
    let hcm = format!(
        "          access_log:\n          - name: envoy.access_loggers.file\n            typed_config:\n              \"@type\": type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog\n              path: {}\n              log_format: {{text_format_source: {{inline_string: \"%RESPONSE_CODE% %RESPONSE_FLAGS% %UPSTREAM_CLUSTER% %RESPONSE_CODE_DETAILS%\\n\"}}}}\n",
        log.display()
    );
    let dead = util::addr(util::free_port());
    let routes = format!(
        "{ANY}              - match: {{prefix: /dead}}\n                route: {{cluster: dead, retry_policy: {{retry_on: connect-failure, num_retries: 1}}}}\n              - match: {{prefix: /empty}}\n                route: {{cluster: empty}}\n"
    );
    let p = proxy(
        &hcm,
        &routes,
        &[("dead", "", vec![dead]), ("empty", "", vec![])],
    );
    assert_eq!(get_with(&p, "/dead", &[]).status, 503);
    let r = get_with(&p, "/empty", &[]);
    assert_eq!((r.status, r.text().as_str()), (503, "no healthy upstream"));
    assert_eq!(get_with(&p, "/nowhere", &[]).status, 404);
    assert!(util::eventually(Duration::from_secs(5), || {
        std::fs::read_to_string(&log).is_ok_and(|t| t.lines().count() == 3)
    }));
    let lines: Vec<String> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    assert!(lines[0].starts_with("503 UF,URX dead upstream_reset_before_response_started{remote_connection_failure|delayed_connect_error:_Connection_refused}"), "{}", lines[0]);
    assert_eq!(lines[1], "503 UH empty no_healthy_upstream");
    assert_eq!(lines[2], "404 NR - route_not_found");
}

#[test]
fn http2_prior_knowledge_downstream() {
    let up = Upstream::start("h2");
    let routes = format!(
        "{ANY}              - match: {{prefix: /}}\n                route: {{cluster: up}}\n"
    );
    let p = proxy("", &routes, &[("up", "", vec![up.addr])]);
    let Some(curl) = util::tool("curl") else {
        return;
    };
    let out = std::process::Command::new(curl)
        .args([
            "-s",
            "--http2-prior-knowledge",
            "-o",
            "-",
            "-w",
            " %{http_version}",
            &format!("http://{}/x", p.listen),
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "h2 2");
    assert_eq!(
        up.seen().last().unwrap().headers["host"],
        p.listen.to_string()
    );
}

#[test]
fn dns_clusters_resolve_through_the_system_resolver() {
    let up = Upstream::start("dns");
    let port = up.addr.port();
    let (listen, admin) = (util::free_port(), util::free_port());
    let yaml = format!(
        r#"
admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}
static_resources:
  listeners:
  - address: {{socket_address: {{address: 127.0.0.1, port_value: {listen}}}}}
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: dns
          http_filters: [{{name: envoy.filters.http.router}}]
          route_config:
            virtual_hosts: [{{name: v, domains: ["*"], routes: [{{match: {{prefix: /}}, route: {{cluster: strict, auto_host_rewrite: true}}}}]}}]
  clusters:
  - name: strict
    type: STRICT_DNS
    dns_lookup_family: V4_ONLY
    dns_refresh_rate: 0.2s
    load_assignment:
      cluster_name: strict
      endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: localhost, port_value: {port}}}}}}}}}]}}]
"#
    );
    let _m = Mesh::spawn(["envoy", "--config-yaml", &yaml]);
    util::wait_for_port(util::addr(listen));
    let r = util::get(util::addr(listen), "/");
    assert_eq!(r.text(), "dns");
    assert_eq!(up.seen().last().unwrap().headers["host"], "localhost");
    let clusters = util::get(util::addr(admin), "/clusters").text();
    assert!(
        clusters.contains(&format!("strict::127.0.0.1:{port}::hostname::localhost")),
        "{clusters}"
    );
    // Re-resolution keeps the same host (no churn).
    std::thread::sleep(Duration::from_millis(700));
    let stats = util::get(util::addr(admin), "/stats?filter=cluster.strict.update_").text();
    assert!(
        stats.contains("cluster.strict.update_no_rebuild: "),
        "{stats}"
    );
    assert!(
        !stats.contains("cluster.strict.update_no_rebuild: 0\n"),
        "{stats}"
    );
}

#[test]
fn request_mirroring_sends_a_shadow_copy_without_delaying_the_client() {
    let (primary, shadow) = (Upstream::start("primary"), Upstream::start("shadow"));
    let down = util::addr(util::free_port());
    let routes = format!(
        "{ANY}              - match: {{prefix: /never}}\n                route: {{cluster: a, request_mirror_policies: [{{cluster: m, runtime_fraction: {{default_value: {{numerator: 0}}}}}}]}}\n              - match: {{prefix: /}}\n                route: {{cluster: a, request_mirror_policies: [{{cluster: m, runtime_fraction: {{default_value: {{numerator: 100, denominator: HUNDRED}}}}, trace_sampled: false}}, {{cluster: down}}]}}\n"
    );
    let p = proxy(
        "",
        &routes,
        &[
            ("a", "", vec![primary.addr]),
            ("m", "", vec![shadow.addr]),
            ("down", "", vec![down]),
        ],
    );
    // The shadow answers a 500 after 2 s; the client must not wait for it nor see it.
    shadow.script(&[(500, Duration::from_secs(2))]);
    let started = std::time::Instant::now();
    let r = util::request(
        p.listen,
        "POST",
        "/orders?x=1",
        &[("host", "catalog:8080")],
        b"hello",
    )
    .unwrap();
    assert_eq!((r.status, r.text().as_str()), (200, "primary"));
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert!(util::eventually(Duration::from_secs(5), || shadow.count() == 1));
    let copy = &shadow.seen()[0];
    assert_eq!(copy.method, "POST");
    assert_eq!(copy.path, "/orders?x=1");
    assert_eq!(copy.body, b"hello");
    assert_eq!(
        copy.headers.get("host").map(String::as_str),
        Some("catalog-shadow:8080")
    );
    assert_eq!(
        primary.seen()[0].headers.get("host").map(String::as_str),
        Some("catalog:8080")
    );
    // The shadow's answer is counted on its cluster once it arrives.
    assert!(util::eventually(Duration::from_secs(5), || {
        util::get(p.admin, "/stats?filter=cluster.m.upstream_rq_500")
            .text()
            .contains("cluster.m.upstream_rq_500: 1")
    }));
    assert_eq!(stat(&p, "cluster.m.upstream_rq_total"), 1);
    // A 0% mirror sends nothing.
    assert_eq!(get_with(&p, "/never", &[]).status, 200);
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(shadow.count(), 1);
}
