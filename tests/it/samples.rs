//! Istio's own samples (issue 7, item 10), applied from their unchanged YAML
//! (`tests/fixtures/istio-1.30.3`) as istio.io's traffic-management tasks do: request routing,
//! fault injection, request timeouts and traffic shifting on bookinfo; TCP traffic shifting on
//! tcp-echo; circuit breaking with fortio; mirroring between httpbin v1 and v2.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use crate::util::*;

const NS: &str = "default";
const SAMPLES: &str = "tests/fixtures/istio-1.30.3";

/// `kubectl label namespace default istio-injection=enabled`.
const INJECTED_DEFAULT: &str = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels:\n    istio-injection: enabled\n";

fn sample(path: &str) -> String {
    format!("{SAMPLES}/{path}")
}

/// A sandbox with sidecar injection in `default` and the given samples applied there.
fn with_samples(files: &[&str]) -> TestSandbox {
    let sb = TestSandbox::start(None);
    sb.apply_text(INJECTED_DEFAULT, None).unwrap();
    let paths: Vec<String> = files.iter().map(|f| sample(f)).collect();
    let refs: Vec<&str> = paths.iter().map(String::as_str).collect();
    sb.apply(&refs, Some(NS)).unwrap();
    sb.synced();
    sb
}

/// The exec proxy of a pod: what `mesh exec deploy/NAME -- curl …` goes through.
fn exec_proxy(sb: &TestSandbox, target: &str) -> SocketAddr {
    sb.rt
        .block_on(sb.sandbox.exec_proxy(target, Some(NS)))
        .unwrap()
        .2
}

/// `curl http://{authority}{path}` from the sleep pod.
fn curl(sb: &TestSandbox, authority: &str, path: &str, headers: &[(&str, &str)]) -> Response {
    curl_method(sb, "GET", authority, path, headers, b"")
}

fn curl_method(
    sb: &TestSandbox,
    method: &str,
    authority: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Response {
    let mut h = vec![("Host", authority)];
    h.extend_from_slice(headers);
    request(
        exec_proxy(sb, "deploy/sleep"),
        method,
        &format!("http://{authority}{path}"),
        &h,
        body,
    )
    .unwrap()
}

/// productpage as a browser with `cookie` (or none) sees it.
fn productpage(sb: &TestSandbox, cookie: Option<&str>) -> String {
    let headers: Vec<(&str, &str)> = cookie.map(|c| ("Cookie", c)).into_iter().collect();
    let r = curl(sb, "productpage:9080", "/productpage", &headers);
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

#[derive(Debug, PartialEq, Eq)]
enum Stars {
    None,
    Black,
    Red,
    Unavailable,
}

fn stars(page: &str) -> Stars {
    let black = page.contains("flex gap-x-1 text-black-500");
    let red = page.contains("flex gap-x-1 text-red-500");
    match (black, red) {
        (true, false) => Stars::Black,
        (false, true) => Stars::Red,
        (false, false) if page.contains("Ratings service is currently unavailable") => {
            Stars::Unavailable
        }
        (false, false) => Stars::None,
        _ => panic!("both colours on one page:\n{page}"),
    }
}

/// Signs in as `user` the way the page's form does; returns the session cookie.
fn login(sb: &TestSandbox, user: &str) -> String {
    let body = format!("username={user}&passwd=password");
    let r = curl_method(
        sb,
        "POST",
        "productpage:9080",
        "/login",
        &[
            ("Referer", "http://productpage:9080/productpage"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        body.as_bytes(),
    );
    assert_eq!(r.status, 302, "{}", r.text());
    r.header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned()
}

fn bookinfo_all_v1() -> TestSandbox {
    with_samples(&[
        "bookinfo/platform/kube/bookinfo.yaml",
        "sleep/sleep.yaml",
        "bookinfo/networking/destination-rule-all.yaml",
        "bookinfo/networking/virtual-service-all-v1.yaml",
    ])
}

#[test]
fn bookinfo_routes_everyone_to_v1_then_jason_to_v2() {
    let sb = bookinfo_all_v1();
    for _ in 0..10 {
        let page = productpage(&sb, None);
        assert!(page.contains("The Comedy of Errors"));
        assert!(page.contains("PublisherA"), "details answered:\n{page}");
        assert_eq!(stars(&page), Stars::None);
    }
    sb.apply(
        &[&sample(
            "bookinfo/networking/virtual-service-reviews-test-v2.yaml",
        )],
        Some(NS),
    )
    .unwrap();
    sb.synced();
    let jason = login(&sb, "jason");
    for _ in 0..5 {
        let page = productpage(&sb, Some(&jason));
        assert!(page.contains("<p class=\"text-base font-medium text-gray-50\">jason</p>"));
        assert_eq!(stars(&page), Stars::Black);
        assert_eq!(stars(&productpage(&sb, None)), Stars::None);
    }
    let someone = login(&sb, "someone");
    assert_eq!(stars(&productpage(&sb, Some(&someone))), Stars::None);
}

#[test]
fn bookinfo_fault_injection_abort_and_request_timeouts() {
    let sb = bookinfo_all_v1();
    sb.apply(
        &[
            &sample("bookinfo/networking/virtual-service-reviews-test-v2.yaml"),
            &sample("bookinfo/networking/virtual-service-ratings-test-abort.yaml"),
        ],
        Some(NS),
    )
    .unwrap();
    sb.synced();
    let jason = login(&sb, "jason");
    // The abort task: jason's ratings calls get 500, reviews v2 says ratings is unavailable.
    assert_eq!(stars(&productpage(&sb, Some(&jason))), Stars::Unavailable);
    assert_eq!(stars(&productpage(&sb, None)), Stars::None);

    // The request-timeouts task: reviews → v2 with a 0.5 s timeout, ratings delayed 2 s, so
    // productpage's two tries both time out and it shows the reviews error.
    sb.apply_text(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: reviews\nspec:\n  hosts:\n  - reviews\n  http:\n  - route:\n    - destination:\n        host: reviews\n        subset: v2\n    timeout: 0.5s\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: ratings\nspec:\n  hosts:\n  - ratings\n  http:\n  - fault:\n      delay:\n        percentage:\n          value: 100\n        fixedDelay: 2s\n    route:\n    - destination:\n        host: ratings\n        subset: v1\n",
        Some(NS),
    )
    .unwrap();
    sb.synced();
    let page = productpage(&sb, None);
    assert!(
        page.contains("Sorry, product reviews are currently unavailable for this book."),
        "{page}"
    );
    assert!(page.contains("PublisherA"), "details still answer:\n{page}");
}

#[test]
fn bookinfo_traffic_shifting_50_50_between_v1_and_v3() {
    let sb = bookinfo_all_v1();
    sb.apply(
        &[&sample(
            "bookinfo/networking/virtual-service-reviews-50-v3.yaml",
        )],
        Some(NS),
    )
    .unwrap();
    sb.synced();
    const N: usize = 100;
    let mut red: usize = 0;
    for _ in 0..N {
        match stars(&productpage(&sb, None)) {
            Stars::Red => red += 1,
            Stars::None => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    // Binomial(100, 0.5): sd 5; allow four.
    assert!(red.abs_diff(N / 2) <= 20, "{red} of {N} from v3");
    sb.apply(
        &[&sample(
            "bookinfo/networking/virtual-service-reviews-v3.yaml",
        )],
        Some(NS),
    )
    .unwrap();
    sb.synced();
    assert!((0..10).all(|_| stars(&productpage(&sb, None)) == Stars::Red));
}

#[test]
fn helloworld_answers_with_version_and_instance() {
    let sb = with_samples(&["helloworld/helloworld.yaml", "curl/curl.yaml"]);
    let proxy = exec_proxy(&sb, "deploy/curl");
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let r = request(
            proxy,
            "GET",
            "http://helloworld:5000/hello",
            &[("Host", "helloworld:5000")],
            b"",
        )
        .unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        let text = r.text();
        assert!(text.starts_with("Hello version: v"), "{text}");
        assert!(text.contains(", instance: helloworld-v"), "{text}");
        seen.insert(text[..17].to_owned());
    }
    assert_eq!(seen.len(), 2, "both versions answer: {seen:?}");
}

/// One line through `nc`-like TCP from the sleep pod (a CONNECT tunnel through its proxy).
fn tcp_echo_line(sb: &TestSandbox, target: &str, line: &str) -> String {
    let mut stream = TcpStream::connect(exec_proxy(sb, "deploy/sleep")).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.contains(" 200 "), "{status}");
    let mut blank = String::new();
    reader.read_line(&mut blank).unwrap();
    stream.write_all(format!("{line}\n").as_bytes()).unwrap();
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    answer.trim_end().to_owned()
}

#[test]
fn tcp_echo_traffic_shifting_between_one_and_two() {
    let sb = with_samples(&["tcp-echo/tcp-echo-services.yaml", "sleep/sleep.yaml"]);
    let route = |w1: u32, w2: u32| {
        format!(
            "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: tcp-echo-destination\nspec:\n  host: tcp-echo\n  subsets:\n  - name: v1\n    labels:\n      version: v1\n  - name: v2\n    labels:\n      version: v2\n---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: tcp-echo\nspec:\n  hosts:\n  - tcp-echo\n  tcp:\n  - match:\n    - port: 9000\n    route:\n    - destination:\n        host: tcp-echo\n        port:\n          number: 9000\n        subset: v1\n      weight: {w1}\n    - destination:\n        host: tcp-echo\n        port:\n          number: 9000\n        subset: v2\n      weight: {w2}\n"
        )
    };
    sb.apply_text(&route(100, 0), Some(NS)).unwrap();
    sb.synced();
    for _ in 0..5 {
        assert_eq!(tcp_echo_line(&sb, "tcp-echo:9000", "hello"), "one hello");
    }
    sb.apply_text(&route(0, 100), Some(NS)).unwrap();
    sb.synced();
    for _ in 0..5 {
        assert_eq!(tcp_echo_line(&sb, "tcp-echo:9000", "hello"), "two hello");
    }
    sb.apply_text(&route(80, 20), Some(NS)).unwrap();
    sb.synced();
    const N: usize = 100;
    let two = (0..N)
        .filter(|_| tcp_echo_line(&sb, "tcp-echo:9000", "x") == "two x")
        .count();
    // Binomial(100, 0.2): sd 4; allow four.
    assert!(two.abs_diff(20) <= 16, "{two} of {N} to v2");
}

/// The mirroring task's httpbin v1 and v2 (gunicorn with its access log on stdout), its
/// Service, and curl.
const MIRRORING_HTTPBIN: &str = r#"apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpbin-v1
spec:
  replicas: 1
  selector:
    matchLabels:
      app: httpbin
      version: v1
  template:
    metadata:
      labels:
        app: httpbin
        version: v1
    spec:
      containers:
      - image: docker.io/kennethreitz/httpbin
        imagePullPolicy: IfNotPresent
        name: httpbin
        command: ["gunicorn", "--access-logfile", "-", "-b", "0.0.0.0:80", "httpbin:app"]
        ports:
        - containerPort: 80
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: httpbin-v2
spec:
  replicas: 1
  selector:
    matchLabels:
      app: httpbin
      version: v2
  template:
    metadata:
      labels:
        app: httpbin
        version: v2
    spec:
      containers:
      - image: docker.io/kennethreitz/httpbin
        imagePullPolicy: IfNotPresent
        name: httpbin
        command: ["gunicorn", "--access-logfile", "-", "-b", "0.0.0.0:80", "httpbin:app"]
        ports:
        - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: httpbin
  labels:
    app: httpbin
spec:
  ports:
  - name: http
    port: 8000
    targetPort: 80
  selector:
    app: httpbin
"#;

fn route_httpbin(mirror: bool) -> String {
    let mirror = if mirror {
        "    mirror:\n      host: httpbin\n      subset: v2\n    mirrorPercentage:\n      value: 100.0\n"
    } else {
        ""
    };
    format!(
        "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: httpbin\nspec:\n  hosts:\n  - httpbin\n  http:\n  - route:\n    - destination:\n        host: httpbin\n        subset: v1\n      weight: 100\n{mirror}---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: httpbin\nspec:\n  host: httpbin\n  subsets:\n  - name: v1\n    labels:\n      version: v1\n  - name: v2\n    labels:\n      version: v2\n"
    )
}

#[test]
fn mirroring_sends_a_copy_to_v2_which_logs_it() {
    let sb = with_samples(&["curl/curl.yaml"]);
    sb.apply_text(MIRRORING_HTTPBIN, Some(NS)).unwrap();
    sb.apply_text(&route_httpbin(false), Some(NS)).unwrap();
    sb.synced();
    let logs = |deploy: &str| -> Vec<String> {
        sb.rt
            .block_on(
                sb.sandbox
                    .logs(deploy, Some(NS), Some("httpbin"), None, false),
            )
            .unwrap()
            .0
    };
    let curl = |path: &str| {
        request(
            exec_proxy(&sb, "deploy/curl"),
            "GET",
            &format!("http://httpbin:8000{path}"),
            &[("Host", "httpbin:8000"), ("User-Agent", "curl/8.16.0")],
            b"",
        )
        .unwrap()
    };
    assert_eq!(curl("/headers").status, 200);
    assert!(eventually(Duration::from_secs(5), || logs(
        "deploy/httpbin-v1"
    )
    .iter()
    .any(
        |l| l.contains("\"GET /headers HTTP/1.1\" 200 ") && l.ends_with("\"curl/8.16.0\"")
    )));
    assert!(logs("deploy/httpbin-v2").is_empty());

    sb.apply_text(&route_httpbin(true), Some(NS)).unwrap();
    sb.synced();
    assert_eq!(curl("/anything/mirrored").status, 200);
    let mirrored = eventually(Duration::from_secs(5), || {
        logs("deploy/httpbin-v2")
            .iter()
            .any(|l| l.contains("\"GET /anything/mirrored HTTP/1.1\" 200 "))
    });
    assert!(mirrored, "v2 logged: {:?}", logs("deploy/httpbin-v2"));
    assert!(
        logs("deploy/httpbin-v1")
            .iter()
            .any(|l| l.contains("\"GET /anything/mirrored HTTP/1.1\" 200 "))
    );
}

/// The circuit-breaking task, with the user's own commands: `mesh exec … -- fortio load`
/// through the fortio pod's sidecar, whose httpbin cluster allows one connection.
#[test]
fn circuit_breaking_shows_503s_in_fortio_load() {
    let sp = SandboxProcess::start(&[]);
    let (code, out, err) = sp.run_stdin(&["apply", "-f", "-"], INJECTED_DEFAULT);
    assert_eq!(code, 0, "{out}{err}");
    sp.ok(&["apply", "-n", NS, "-f", &sample("httpbin/httpbin.yaml")]);
    sp.ok(&[
        "apply",
        "-n",
        NS,
        "-f",
        &sample("httpbin/sample-client/fortio-deploy.yaml"),
    ]);
    let dr = "apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata:\n  name: httpbin\nspec:\n  host: httpbin\n  trafficPolicy:\n    connectionPool:\n      tcp:\n        maxConnections: 1\n      http:\n        http1MaxPendingRequests: 1\n        maxRequestsPerConnection: 1\n    outlierDetection:\n      consecutive5xxErrors: 1\n      interval: 1s\n      baseEjectionTime: 3m\n      maxEjectionPercent: 100\n";
    let (code, out, err) = sp.run_stdin(&["apply", "-n", NS, "-f", "-"], dr);
    assert_eq!(code, 0, "{out}{err}");
    sp.synced();
    let exec = [
        "exec",
        "deploy/fortio-deploy",
        "-n",
        NS,
        "-c",
        "fortio",
        "--",
    ];
    let curl = sp.ok(&[
        &exec[..],
        &[
            "/usr/bin/fortio",
            "curl",
            "-quiet",
            "http://httpbin:8000/get",
        ],
    ]
    .concat());
    assert!(curl.starts_with("HTTP/1.1 200 OK\n"), "{curl}");
    assert!(
        curl.contains("\"url\": \"http://httpbin:8000/get\""),
        "{curl}"
    );

    let (code, out, err) = sp.run(
        &[
            &exec[..],
            &[
                "fortio",
                "load",
                "-c",
                "3",
                "-qps",
                "0",
                "-n",
                "30",
                "-loglevel",
                "Warning",
                "http://httpbin:8000/get",
            ],
        ]
        .concat(),
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("Fortio 1.69.5 running at 0 queries per second"),
        "{out}"
    );
    assert!(
        out.contains("Starting at max qps with 3 thread(s) [gomax "),
        "{out}"
    );
    assert!(
        out.contains("for exactly 30 calls (10 per thread + 0)"),
        "{out}"
    );
    assert!(out.contains("# target 50% "), "{out}");
    assert!(out.contains("# target 99.9% "), "{out}");
    let code_count = |code: &str| -> usize {
        out.lines()
            .find_map(|l| l.strip_prefix(&format!("Code {code} : ")))
            .and_then(|rest| rest.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    };
    let (ok, overflow) = (code_count("200"), code_count("503"));
    assert_eq!(ok + overflow, 30, "{out}");
    assert!(ok > 0 && overflow > 0, "both 200s and 503s:\n{out}");
    assert!(
        err.contains("\"msg\":\"Non ok http code\",\"code\":503"),
        "{err}"
    );
    assert!(
        out.trim_end()
            .lines()
            .last()
            .unwrap()
            .starts_with("All done 30 calls (plus 0 warmup) "),
        "{out}"
    );

    // A single connection stays under the limit: no 503s.
    let (_, out, _) = sp.run(
        &[
            &exec[..],
            &[
                "fortio",
                "load",
                "-c",
                "1",
                "-qps",
                "0",
                "-n",
                "10",
                "-loglevel",
                "Warning",
                "http://httpbin:8000/get",
            ],
        ]
        .concat(),
    );
    assert!(out.contains("Code 200 : 10 (100.0 %)"), "{out}");

    // A bad flag is fortio's usage error.
    let (code, _, err) = sp.run(
        &[
            &exec[..],
            &["fortio", "load", "-bogus", "1", "http://httpbin:8000/get"],
        ]
        .concat(),
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("flag provided but not defined: -bogus"),
        "{err}"
    );
}

/// The way the docs reach productpage: bookinfo-gateway on the ingress gateway (node port
/// 30000 → 8080), signing in with the page's form and keeping the session cookie.
#[test]
fn bookinfo_through_the_ingress_gateway_with_sign_in() {
    let sb = bookinfo_all_v1();
    sb.apply(
        &[
            &sample("bookinfo/networking/bookinfo-gateway.yaml"),
            &sample("bookinfo/networking/virtual-service-reviews-test-v2.yaml"),
        ],
        Some(NS),
    )
    .unwrap();
    sb.synced();
    let gw = sb.node_port(30000);
    let page = request(gw, "GET", "/productpage", &[("Host", "localhost")], b"").unwrap();
    assert_eq!(page.status, 200, "{}", page.text());
    assert_eq!(stars(&page.text()), Stars::None);
    let products = request(gw, "GET", "/api/v1/products", &[("Host", "localhost")], b"").unwrap();
    assert_eq!(products.json()[0]["title"], "The Comedy of Errors");
    assert_eq!(
        request(gw, "GET", "/health", &[("Host", "localhost")], b"")
            .unwrap()
            .status,
        404,
        "not routed by bookinfo-gateway"
    );
    let login = request(
        gw,
        "POST",
        "/login",
        &[
            ("Host", "localhost"),
            ("Referer", "http://localhost/productpage"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ],
        b"username=jason&passwd=x",
    )
    .unwrap();
    assert_eq!(login.status, 302);
    assert_eq!(
        login.header("location"),
        Some("http://localhost/productpage")
    );
    let cookie = login
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .unwrap()
        .to_owned();
    let page = request(
        gw,
        "GET",
        "/productpage",
        &[("Host", "localhost"), ("Cookie", &cookie)],
        b"",
    )
    .unwrap();
    assert_eq!(stars(&page.text()), Stars::Black);
    let logout = request(
        gw,
        "GET",
        "/logout",
        &[
            ("Host", "localhost"),
            ("Cookie", &cookie),
            ("Referer", "http://localhost/productpage"),
        ],
        b"",
    )
    .unwrap();
    assert_eq!(logout.status, 302);
}

/// productpage and reviews forward the trace context: the request id a caller sent reaches
/// ratings two hops later, as its sidecar's access log shows (the B3 headers travel with it;
/// their re-injection is unit-tested in productpage).
#[test]
fn bookinfo_propagates_the_request_id_to_ratings() {
    let sb = bookinfo_all_v1();
    sb.apply_text(
        "apiVersion: telemetry.istio.io/v1\nkind: Telemetry\nmetadata:\n  name: mesh-default\n  namespace: istio-system\nspec:\n  accessLogging:\n  - providers:\n    - name: envoy\n",
        None,
    )
    .unwrap();
    sb.apply(
        &[&sample(
            "bookinfo/networking/virtual-service-reviews-v3.yaml",
        )],
        Some(NS),
    )
    .unwrap();
    sb.synced();
    let page = productpage_with(
        &sb,
        &[
            ("x-request-id", "d7e5c3b1-trace-me"),
            ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
            ("x-b3-spanid", "e457b5a2e4d86bd1"),
            ("x-b3-sampled", "1"),
        ],
    );
    assert_eq!(stars(&page), Stars::Red);
    let ratings_log = || -> Vec<String> {
        sb.rt
            .block_on(sb.sandbox.logs(
                "deploy/ratings-v1",
                Some(NS),
                Some("istio-proxy"),
                None,
                false,
            ))
            .unwrap()
            .0
    };
    assert!(
        eventually(Duration::from_secs(5), || ratings_log()
            .iter()
            .any(|l| l.contains("\"GET /ratings/0 HTTP/1.1\" 200")
                && l.contains("\"d7e5c3b1-trace-me\""))),
        "{:?}",
        ratings_log()
    );
}

fn productpage_with(sb: &TestSandbox, headers: &[(&str, &str)]) -> String {
    let r = curl(sb, "productpage:9080", "/productpage", headers);
    assert_eq!(r.status, 200, "{}", r.text());
    r.text()
}

/// The TCP traffic-shifting task as written: tcp-echo behind the ingress gateway's TCP port
/// (31400, published on node port 30006), all to v1, then 80/20 with the task's own files.
#[test]
fn tcp_traffic_shifting_through_the_ingress_gateway_with_the_tasks_files() {
    let sb = with_samples(&[
        "tcp-echo/tcp-echo-services.yaml",
        "tcp-echo/tcp-echo-all-v1.yaml",
    ]);
    let gw = sb.node_port(30006);
    let line = |text: &str| -> String {
        let mut stream = TcpStream::connect(gw).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(format!("{text}\n").as_bytes()).unwrap();
        let mut answer = String::new();
        BufReader::new(stream).read_line(&mut answer).unwrap();
        answer.trim_end().to_owned()
    };
    for _ in 0..5 {
        assert_eq!(line("hello"), "one hello");
    }
    sb.apply(&[&sample("tcp-echo/tcp-echo-20-v2.yaml")], Some(NS))
        .unwrap();
    sb.synced();
    const N: usize = 100;
    let two = (0..N).filter(|_| line("x") == "two x").count();
    // Binomial(100, 0.2): sd 4; allow four.
    assert!(two.abs_diff(20) <= 16, "{two} of {N} to v2");
}
