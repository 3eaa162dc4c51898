//! The book's apps started through `apps::registry` as the sandbox will start them: webapp
//! reaches catalog by name through a `TcpDialer`, checked with our client and with curl.
//! Each app has its own loopback address, so the real ports (3000, 8080, 2701) never collide.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mesh::apps::registry::{self, AppContext, AppKind, RunningApp};
use mesh::net::dial::TcpDialer;
use mesh::net::resolve::Resolver;
use tokio_util::sync::CancellationToken;

use crate::util;

const CATALOG_IP: &str = "127.78.0.1";
const WEBAPP_IP: &str = "127.78.0.2";
const ECHO_IP: &str = "127.78.0.3";

type Lines = Arc<Mutex<Vec<String>>>;

fn start(
    rt: &tokio::runtime::Runtime,
    image: &str,
    ip: &str,
    env: &[(&str, &str)],
    stop: &CancellationToken,
) -> (RunningApp, Lines) {
    let kind = registry::app_for_image(image).unwrap();
    let lines: Lines = Arc::new(Mutex::new(Vec::new()));
    let sink = lines.clone();
    let ip: IpAddr = ip.parse().unwrap();
    let dialer = TcpDialer {
        resolver: Resolver::new([(
            "catalog.istioinaction".to_owned(),
            CATALOG_IP.parse().unwrap(),
        )]),
    };
    let ctx = AppContext {
        pod_name: format!("{}-0", kind.name()),
        namespace: "istioinaction".into(),
        pod_ip: ip,
        node_name: "mesh-control-plane".into(),
        service_account: kind.name().into(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<BTreeMap<_, _>>(),
        bind: ip,
        ports: vec![],
        command: vec![],
        args: vec![],
        files: Default::default(),
        dialer: Arc::new(dialer),
        log: Arc::new(move |l: &str| sink.lock().unwrap().push(l.to_owned())),
        shutdown: stop.clone(),
    };
    let app = rt.block_on(registry::start(kind, ctx)).unwrap();
    (app, lines)
}

#[test]
fn webapp_serves_catalog_items_and_forwards_tracing_headers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stop = CancellationToken::new();
    let (catalog, catalog_log) = start(
        &rt,
        "istioinaction/catalog:latest",
        CATALOG_IP,
        &[("SHOW_IMAGE", "true")],
        &stop,
    );
    // The Service's port 80 → 3000 mapping is the sandbox's job; here webapp dials 3000.
    let env = [
        ("CATALOG_SERVICE_HOST", "catalog.istioinaction"),
        ("CATALOG_SERVICE_PORT", "3000"),
    ];
    let (webapp, _) = start(
        &rt,
        "docker.io/istioinaction/webapp",
        WEBAPP_IP,
        &env,
        &stop,
    );
    let web: SocketAddr = webapp.addresses[0];
    assert_eq!(web, format!("{WEBAPP_IP}:8080").parse().unwrap());
    assert_eq!(catalog.addresses[0].port(), 3000);

    let r = util::request(
        web,
        "GET",
        "/api/catalog",
        &[("X-Request-Id", "it-req-1"), ("User-Agent", "it")],
        b"",
    )
    .unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    let items = r.json();
    assert_eq!(items.as_array().unwrap().len(), 4);
    assert_eq!(items[3]["name"], "Red Dragon Watch");
    assert_eq!(items[0]["imageUrl"], "http://lorempixel.com/640/480");
    let seen = catalog_log.lock().unwrap().join("\n");
    assert!(
        seen.contains("GET catalog.istioinaction:3000 /items 200 "),
        "{seen}"
    );

    // A fault in catalog shows through webapp as its 500.
    let fault = br#"{"active": true, "type": "500", "percentage": 100}"#;
    let r = util::request(
        catalog.addresses[0],
        "POST",
        "/blowup",
        &[("Content-Type", "application/json")],
        fault,
    )
    .unwrap();
    assert_eq!(r.text(), "blowups=[object Object]");
    let r = util::get(web, "/api/catalog");
    assert_eq!(
        (r.status, r.text()),
        (500, "error calling Catalog service".into())
    );

    let r = util::request(
        catalog.addresses[0],
        "DELETE",
        "/blowup",
        &[("Content-Type", "application/json")],
        br#"{"type": "500"}"#,
    )
    .unwrap();
    assert_eq!(r.text(), "deleted blowup 500");
    if let Some(curl) = util::tool("curl") {
        let out = Command::new(curl)
            .args(["-s", "-w", "\\n%{http_code}"])
            .arg(format!("http://{web}/api/healthz"))
            .output()
            .unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "Healthy!\n200");
    }
    assert_eq!(util::get(web, "/api/catalog/items/4").json()["id"], 4);

    stop.cancel();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            catalog.stopped().await;
            webapp.stopped().await;
        })
        .await
        .expect("apps stop after shutdown");
    });
}

#[test]
fn tcp_echo_from_the_book_manifest() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let stop = CancellationToken::new();
    let env = [
        ("TCP_PORT", "2701"),
        ("NODE_NAME", "mesh-control-plane"),
        ("POD_NAME", "tcp-echo-deployment-1"),
        ("POD_NAMESPACE", "istioinaction"),
        ("POD_IP", ECHO_IP),
        ("SERVICE_ACCOUNT", "default"),
    ];
    let (echo, lines) = start(&rt, "cjimti/go-echo:latest", ECHO_IP, &env, &stop);
    let mut stream = TcpStream::connect(echo.addresses[0]).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let banner = "Welcome, you are connected to node mesh-control-plane.\n\
                  Running on Pod tcp-echo-deployment-1.\nIn namespace istioinaction.\n\
                  With IP address 127.78.0.3.\nService default.\n";
    let mut got = vec![0u8; banner.len()];
    stream.read_exact(&mut got).unwrap();
    assert_eq!(String::from_utf8(got).unwrap(), banner);
    stream.write_all(b"hello world\n").unwrap();
    let mut echo_back = [0u8; 12];
    stream.read_exact(&mut echo_back).unwrap();
    assert_eq!(&echo_back, b"hello world\n");
    drop(stream);
    stop.cancel();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), echo.stopped())
            .await
            .unwrap()
    });
    let lines = lines.lock().unwrap().join("\n");
    assert!(lines.contains("Listening on TCP port 2701"), "{lines}");
    assert!(lines.contains("Received Data (converted to string): hello world"));
}

#[test]
fn unknown_images_are_clear_errors() {
    let err = registry::app_for_image("istioinaction/forum:latest").unwrap_err();
    assert!(err.to_string().contains("istioinaction/catalog"), "{err}");
    assert_eq!(
        registry::app_for_image("nicolaka/netshoot"),
        Ok(AppKind::Client)
    );
}
