//! Images to apps, and starting apps on their real ports (each test on its own loopback
//! address, so the fixed ports never collide).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;
use crate::net::dial::TcpDialer;

const LIMIT: Duration = Duration::from_secs(5);

#[test]
fn images_map_to_apps_with_any_tag_or_registry() {
    for (image, kind) in [
        ("istioinaction/catalog:latest", AppKind::Catalog),
        ("istioinaction/catalog", AppKind::Catalog),
        ("docker.io/istioinaction/webapp:latest", AppKind::Webapp),
        ("index.docker.io/istioinaction/webapp", AppKind::Webapp),
        ("citizenstig/httpbin", AppKind::Httpbin),
        (
            "docker.io/kennethreitz/httpbin",
            AppKind::KennethreitzHttpbin,
        ),
        ("docker.io/mccutchen/go-httpbin:v2.15.0", AppKind::GoHttpbin),
        ("cjimti/go-echo:latest", AppKind::TcpEcho),
        ("nicholasjackson/fake-service:v0.14.1", AppKind::FakeService),
        (
            "docker.io/nicholasjackson/fake-service",
            AppKind::FakeService,
        ),
        ("curlimages/curl:8.7.1", AppKind::Client),
        ("nicolaka/netshoot@sha256:0123abcd", AppKind::Client),
        ("governmentpaas/curl-ssl", AppKind::Client),
        ("docker.io/fortio/fortio:latest_release", AppKind::Fortio),
        (
            "registry.istio.io/release/examples-bookinfo-reviews-v3:1.20.3",
            AppKind::Bookinfo(crate::apps::bookinfo::Service::Reviews(
                crate::apps::bookinfo::ReviewsVersion::V3,
            )),
        ),
        (
            "docker.io/istio/examples-helloworld-v2:1.0",
            AppKind::Helloworld("v2"),
        ),
        (
            "registry.istio.io/release/tcp-echo-server:1.3",
            AppKind::TcpEchoServer,
        ),
    ] {
        assert_eq!(app_for_image(image), Ok(kind), "{image}");
    }
    for image in KNOWN {
        assert!(
            app_for_image(image).is_ok(),
            "{image} is listed but unknown"
        );
    }
    assert_eq!(known_images().len(), IMAGES.len() + ISTIO_SAMPLES.len());
    assert!(app_for_image("example.com/release/tcp-echo-server").is_err());
}

#[test]
fn unknown_images_list_the_known_ones() {
    for image in [
        "nginx",
        "istioinaction/forum:latest",
        "quay.io/istioinaction/catalog",
        "istioinaction/catalogue",
        "localhost:5000/istioinaction/catalog",
    ] {
        let err = app_for_image(image).unwrap_err();
        assert_eq!(err.image, image);
        let message = err.to_string();
        assert!(message.contains(&format!("{image:?}")), "{message}");
        assert!(
            message.contains("istioinaction/catalog, istioinaction/webapp"),
            "{message}"
        );
        assert!(message.contains("cjimti/go-echo"), "{message}");
    }
}

#[test]
fn repository_strips_registry_tag_and_digest() {
    assert_eq!(repository("docker.io/library/nginx:1.25"), "nginx");
    assert_eq!(repository("localhost:5000/a/b:tag"), "localhost:5000/a/b");
    assert_eq!(repository("a/b@sha256:abc"), "a/b");
}

fn context(bind: &str, env: &[(&str, &str)]) -> (AppContext, Arc<std::sync::Mutex<Vec<String>>>) {
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = lines.clone();
    let bind: IpAddr = bind.parse().unwrap();
    let ctx = AppContext {
        pod_name: "pod-1".into(),
        namespace: "istioinaction".into(),
        pod_ip: bind,
        node_name: "mesh-control-plane".into(),
        service_account: "default".into(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        bind,
        ports: vec![],
        command: vec![],
        args: vec![],
        files: Files::default(),
        dialer: Arc::new(TcpDialer::default()),
        log: Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned())),
        shutdown: CancellationToken::new(),
    };
    (ctx, lines)
}

async fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut out = String::new();
    tokio::time::timeout(LIMIT, stream.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

#[tokio::test]
async fn catalog_starts_on_3000_and_a_second_one_names_the_taken_address() {
    let (ctx, lines) = context("127.77.0.1", &[]);
    let stop = ctx.shutdown.clone();
    let app = start(AppKind::Catalog, ctx).await.unwrap();
    let addr: SocketAddr = "127.77.0.1:3000".parse().unwrap();
    assert_eq!(app.addresses, [addr]);
    let answer = http_get(addr, "/items/1").await;
    assert!(answer.contains("\"name\": \"Elinor Glasses\""), "{answer}");
    assert_eq!(lines.lock().unwrap()[0], "JSON Server is running");

    let (again, _) = context("127.77.0.1", &[]);
    let err = start(AppKind::Catalog, again).await.unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("catalog cannot listen on 127.77.0.1:3000: "),
        "{message}"
    );
    assert!(message.contains("another pod or program"), "{message}");

    stop.cancel();
    tokio::time::timeout(LIMIT, app.stopped()).await.unwrap();
}

#[tokio::test]
async fn webapp_and_go_httpbin_use_their_ports() {
    let (ctx, _) = context("127.77.0.2", &[]);
    let stop = ctx.shutdown.clone();
    let app = start(AppKind::Webapp, ctx).await.unwrap();
    assert_eq!(app.addresses, ["127.77.0.2:8080".parse().unwrap()]);
    assert!(
        http_get(app.addresses[0], "/api/healthz")
            .await
            .ends_with("Healthy!")
    );
    stop.cancel();
    tokio::time::timeout(LIMIT, app.stopped()).await.unwrap();

    let (ctx, _) = context("127.77.0.2", &[("PORT", "9090")]);
    let stop = ctx.shutdown.clone();
    let app = start(AppKind::GoHttpbin, ctx).await.unwrap();
    assert_eq!(app.addresses, ["127.77.0.2:9090".parse().unwrap()]);
    let answer = http_get(app.addresses[0], "/get?a=1").await;
    assert!(answer.contains("\"a\": [\n      \"1\"\n    ]"), "{answer}");
    assert!(answer.contains("\"method\": \"GET\""), "{answer}");
    stop.cancel();
    tokio::time::timeout(LIMIT, app.stopped()).await.unwrap();

    let (ctx, _) = context("127.77.0.2", &[("PORT", "http")]);
    let err = start(AppKind::GoHttpbin, ctx).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "go-httpbin: PORT=\"http\" is not a port number (1-65535)"
    );
}

#[tokio::test]
async fn tcp_echo_greets_with_its_environment() {
    // The book's ch4/echo.yaml environment, as the sandbox resolves its fieldRefs.
    let env = [
        ("TCP_PORT", "2701"),
        ("NODE_NAME", "mesh-control-plane"),
        ("POD_NAME", "tcp-echo-deployment-1"),
        ("POD_NAMESPACE", "istioinaction"),
        ("POD_IP", "127.77.0.3"),
        ("SERVICE_ACCOUNT", "default"),
    ];
    let (ctx, lines) = context("127.77.0.3", &env);
    let stop = ctx.shutdown.clone();
    let app = start(AppKind::TcpEcho, ctx).await.unwrap();
    assert_eq!(app.addresses, ["127.77.0.3:2701".parse().unwrap()]);
    let mut stream = TcpStream::connect(app.addresses[0]).await.unwrap();
    // cjimti/go-echo's README session, after `telnet … 2701`.
    let banner = "Welcome, you are connected to node mesh-control-plane.\n\
                  Running on Pod tcp-echo-deployment-1.\n\
                  In namespace istioinaction.\n\
                  With IP address 127.77.0.3.\n\
                  Service default.\n";
    let mut buf = vec![0u8; banner.len()];
    tokio::time::timeout(LIMIT, stream.read_exact(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(String::from_utf8(buf).unwrap(), banner);
    stream.write_all(b"hello\r\n").await.unwrap();
    let mut echo = [0u8; 7];
    tokio::time::timeout(LIMIT, stream.read_exact(&mut echo))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&echo, b"hello\r\n");
    assert!(lines.lock().unwrap()[0].ends_with(" Listening on TCP port 2701"));
    stop.cancel();
    tokio::time::timeout(LIMIT, app.stopped()).await.unwrap();
}

#[tokio::test]
async fn fake_service_listens_on_the_port_of_listen_addr() {
    let env = [
        ("LISTEN_ADDR", "0.0.0.0:8080"),
        ("NAME", "simple-tls-service-1"),
        ("MESSAGE", "Hello from simple-tls-service-1!!!"),
    ];
    let (ctx, lines) = context("127.77.0.5", &env);
    let stop = ctx.shutdown.clone();
    let app = start(AppKind::FakeService, ctx).await.unwrap();
    assert_eq!(app.addresses, ["127.77.0.5:8080".parse().unwrap()]);
    let answer = http_get(app.addresses[0], "/").await;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert!(
        answer.contains("\"ip_addresses\": [\n    \"127.77.0.5\"\n  ],"),
        "{answer}"
    );
    assert!(answer.contains("\"body\": \"Hello from simple-tls-service-1!!!\""));

    // The port is taken: the error names it, and the log says it as fake-service would.
    let (again, again_lines) = context("127.77.0.5", &env);
    let err = start(AppKind::FakeService, again).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("fake-service cannot listen on 127.77.0.5:8080: "),
        "{err}"
    );
    let last = again_lines.lock().unwrap().last().cloned().unwrap();
    assert!(
        last.ends_with(
            "[ERROR] Error starting service: address=0.0.0.0:8080 error=\"listen tcp \
             0.0.0.0:8080: bind: address already in use\""
        ),
        "{last}"
    );

    // TLS asked for, but the Secret is not mounted.
    let tls = [
        ("LISTEN_ADDR", "0.0.0.0:8443"),
        ("TLS_CERT_LOCATION", "/etc/certs/tls.crt"),
        ("TLS_KEY_LOCATION", "/etc/certs/tls.key"),
    ];
    let (ctx, _) = context("127.77.0.5", &tls);
    let err = start(AppKind::FakeService, ctx).await.unwrap_err();
    assert!(matches!(err, AppError::FakeService(_)), "{err}");
    assert!(
        err.to_string()
            .contains("open /etc/certs/tls.crt: no such file or directory"),
        "{err}"
    );

    stop.cancel();
    tokio::time::timeout(LIMIT, app.stopped()).await.unwrap();
    assert!(
        lines.lock().unwrap()[0].contains("[INFO]  Starting service: name=simple-tls-service-1")
    );
}

#[tokio::test]
async fn client_runs_nothing_until_shutdown() {
    let (ctx, _) = context("127.77.0.4", &[]);
    let stop = ctx.shutdown.clone();
    let app = start(AppKind::Client, ctx).await.unwrap();
    assert!(app.addresses.is_empty());
    assert!(!app.is_finished());
    stop.cancel();
    tokio::time::timeout(LIMIT, app.stopped()).await.unwrap();
}

#[test]
fn low_ports_explain_themselves() {
    let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
    let err = AppError::Bind {
        app: "httpbin",
        addr: "127.10.0.5:80".parse().unwrap(),
        source: denied,
    };
    assert!(
        err.to_string().contains("ports below 1024 need privileges"),
        "{err}"
    );
}
