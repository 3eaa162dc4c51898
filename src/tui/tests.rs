//! The app without a terminal, and each view rendered into ratatui's `TestBackend`, asserted
//! on the screen's text.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Color;
use serde_json::{Value, json};

use super::app::{App, ConfigTab, Overlay, Request, Update, View};
use super::keys::BINDINGS;
use super::theme::Theme;
use super::views;
use crate::client::output::istioctl::{AdminClusters, ConfigDump};
use crate::client::traffic::{Edge, WorkloadTraffic};

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_748_736_000)
}

/// The screen as lines of text.
fn screen(app: &App, width: u16, height: u16) -> Vec<String> {
    let mut term = Terminal::new(TestBackend::new(width, height)).expect("test terminal");
    term.draw(|f| views::draw(app, f, &Theme { color: true }))
        .expect("draw");
    let buf = term.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buf.cell((x, y)).map_or(" ", |c| c.symbol()))
                .collect::<String>()
        })
        .collect()
}

fn text(app: &App) -> String {
    screen(app, 80, 24).join("\n")
}

fn press(app: &mut App, code: KeyCode) -> Vec<Request> {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn typed(app: &mut App, s: &str) -> Vec<Request> {
    let mut out = Vec::new();
    for c in s.chars() {
        out.extend(press(app, KeyCode::Char(c)));
    }
    out
}

fn pod(ns: &str, name: &str, containers: &[&str], hash: Option<&str>) -> Value {
    let mut labels = json!({"app": name.split('-').next().unwrap_or(name)});
    if let Some(h) = hash {
        labels["pod-template-hash"] = json!(h);
    }
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels,
                     "creationTimestamp": "2025-05-31T23:58:00Z"},
        "spec": {"containers": containers.iter().map(|c| json!({"name": c, "image": "x"})).collect::<Vec<_>>()},
        "status": {"phase": "Running",
                   "containerStatuses": containers.iter().map(|c| json!({"name": c, "ready": true, "restartCount": 0})).collect::<Vec<_>>()},
    })
}

fn listing(kind: &str, plural: &str, items: Vec<Value>) -> Value {
    json!({"kind": kind, "group": if kind == "Pod" || kind == "Service" { "" } else if kind == "Deployment" { "apps" } else { "networking.istio.io" },
           "plural": plural, "namespaced": true, "actedOn": true, "items": items})
}

fn proxy(name: &str, ns: &str, lds: &str) -> Value {
    let s = |v: &str| json!({"status": v});
    json!({"name": format!("{name}.{ns}"), "namespace": ns, "cluster": "Kubernetes",
           "cds": s("SYNCED"), "lds": s(lds), "eds": s("SYNCED"), "rds": s("SYNCED"),
           "ecds": s("NOT SENT"), "version": "1.26.0", "admin": "127.10.0.3:15000"})
}

/// An app with the book's chapter-4 shape: a gateway, webapp and catalog with sidecars.
fn app() -> App {
    let mut app = App::new("mesh");
    app.now = now();
    app.on_update(Update::Pods(json!({"listings": [listing("Pod", "pods", vec![
        pod("istio-system", "istio-ingressgateway-6bb8fb5c8b-x7x9q", &["istio-proxy"], Some("6bb8fb5c8b")),
        pod("istioinaction", "catalog-5c7f8f8447-b7dqz", &["catalog", "istio-proxy"], Some("5c7f8f8447")),
        pod("istioinaction", "webapp-7f9b6d6c5d-4fkp2", &["webapp", "istio-proxy"], Some("7f9b6d6c5d")),
    ])]})));
    app.on_update(Update::Proxies(
        json!({"istiod": "istiod-775bd84cb-sqct9", "proxies": [
            proxy("istio-ingressgateway-6bb8fb5c8b-x7x9q", "istio-system", "SYNCED"),
            proxy("catalog-5c7f8f8447-b7dqz", "istioinaction", "SYNCED"),
            proxy("webapp-7f9b6d6c5d-4fkp2", "istioinaction", "STALE"),
        ]}),
    ));
    let vs = json!({"apiVersion": "networking.istio.io/v1", "kind": "VirtualService",
        "metadata": {"name": "webapp-vs-from-gw", "namespace": "istioinaction", "creationTimestamp": "2025-05-31T23:59:00Z"},
        "spec": {"hosts": ["webapp.istioinaction.io"], "gateways": ["coolstore-gateway"],
                 "http": [{"route": [{"destination": {"host": "webapp", "port": {"number": 80}}}]}]}});
    let gw = json!({"apiVersion": "networking.istio.io/v1", "kind": "Gateway",
        "metadata": {"name": "coolstore-gateway", "namespace": "istioinaction", "creationTimestamp": "2025-05-31T23:59:00Z"},
        "spec": {"selector": {"istio": "ingressgateway"}, "servers": [{"port": {"number": 80, "name": "http", "protocol": "HTTP"}, "hosts": ["webapp.istioinaction.io"]}]}});
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "webapp", "namespace": "istioinaction", "creationTimestamp": "2025-05-31T23:59:00Z"},
        "spec": {"replicas": 1}, "status": {"replicas": 1, "readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1}});
    app.on_update(Update::Resources(json!({"listings": [
        listing("Gateway", "gateways", vec![gw]),
        listing("VirtualService", "virtualservices", vec![vs]),
        listing("Deployment", "deployments", vec![deploy]),
    ]})));
    app
}

fn golden(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/istioctl")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

fn with_config(app: &mut App) {
    app.view = View::Proxies;
    let reqs = press(app, KeyCode::Down);
    assert!(reqs.is_empty());
    let reqs = press(app, KeyCode::Enter);
    // Sorted by name: catalog, istio-ingressgateway, webapp.
    let proxy = "istio-ingressgateway-6bb8fb5c8b-x7x9q.istio-system".to_owned();
    assert_eq!(
        reqs,
        [Request::LoadConfig {
            proxy: proxy.clone()
        }]
    );
    assert_eq!(app.view, View::Config);
    app.on_update(Update::Config {
        proxy,
        result: Ok((
            ConfigDump::parse(&golden("gateway/initial.json")).expect("dump"),
            AdminClusters::parse(&golden("gateway/clusters.json")).expect("clusters"),
        )),
    });
}

#[test]
fn workloads_show_pods_with_their_sidecar_and_sync_state() {
    let app = app();
    let s = text(&app);
    assert!(s.contains(" 1 Workloads "), "{s}");
    assert!(s.contains("NAMESPACE"), "{s}");
    let line = |needle: &str| {
        s.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no {needle} in\n{s}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    assert!(
        line("catalog-5c7f").contains("Running 0 2m yes SYNCED"),
        "{s}"
    );
    assert!(
        line("webapp-7f9b").contains("Running 0 2m yes STALE"),
        "{s}"
    );
    assert!(
        line("istio-ingressgateway").contains("Running 0 2m gateway SYNCED"),
        "{s}"
    );
    assert!(s.contains("q quit · ? help"), "{s}");
}

#[test]
fn proxies_are_the_proxy_status_rows() {
    let mut app = app();
    press(&mut app, KeyCode::Char('2'));
    let s = text(&app);
    assert!(s.contains("NAME"), "{s}");
    for col in ["CDS", "LDS", "EDS", "RDS", "ECDS", "ISTIOD", "VERSION"] {
        assert!(s.contains(col), "{col} missing:\n{s}");
    }
    assert!(s.contains("STALE"), "{s}");
    assert!(s.contains("1.26.0"), "{s}");
}

#[test]
fn proxy_config_tabs_and_json_drill_down() {
    let mut app = app();
    with_config(&mut app);
    let s = text(&app);
    assert!(s.contains(" listeners "), "{s}");
    assert!(s.contains("ADDRESSES"), "{s}");
    assert!(s.contains("Inline Route: /healthz/ready*"), "{s}");
    assert!(s.contains("15090"), "{s}");

    press(&mut app, KeyCode::Enter);
    let s = text(&app);
    assert!(s.contains("listener 0.0.0.0:15021 (JSON)"), "{s}");
    assert!(s.contains("\"portValue\": 15021"), "{s}");
    assert_eq!(
        app.command_for_selection().as_deref(),
        Some(
            "mesh proxy-config listeners istio-ingressgateway-6bb8fb5c8b-x7x9q.istio-system --address 0.0.0.0 --port 15021 -o json"
        )
    );
    // Scrolls, and Esc goes back to the table.
    press(&mut app, KeyCode::PageDown);
    assert!(app.detail.as_ref().is_some_and(|d| d.scroll > 0));
    press(&mut app, KeyCode::Esc);
    assert!(app.detail.is_none());

    press(&mut app, KeyCode::Right);
    press(&mut app, KeyCode::Right);
    assert_eq!(app.config.tab, ConfigTab::Clusters);
    let s = text(&app);
    assert!(s.contains("SERVICE FQDN"), "{s}");
    assert!(s.contains("BlackHoleCluster"), "{s}");
    press(&mut app, KeyCode::Right);
    let s = text(&app);
    assert!(
        s.contains("ENDPOINT") && s.contains("127.0.0.1:15000"),
        "{s}"
    );
    press(&mut app, KeyCode::Enter);
    let s = text(&app);
    assert!(
        s.contains("\"hostStatuses\"") || s.contains("\"name\""),
        "{s}"
    );
}

#[test]
fn resources_with_yaml_edit_delete_and_scale() {
    let mut app = app();
    press(&mut app, KeyCode::Char('4'));
    let s = text(&app);
    assert!(
        s.contains(" gateways ") && s.contains("coolstore-gateway"),
        "{s}"
    );
    typed(&mut app, ":vs");
    press(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Resources);
    let s = text(&app);
    assert!(s.contains("webapp-vs-from-gw"), "{s}");
    assert!(s.contains("[\"coolstore-gateway\"]"), "VS columns: {s}");

    press(&mut app, KeyCode::Enter);
    let s = text(&app);
    assert!(s.contains("virtualservice/webapp-vs-from-gw (YAML)"), "{s}");
    assert!(s.contains("apiVersion: networking.istio.io/v1"), "{s}");
    assert!(s.contains("  - webapp.istioinaction.io"), "{s}");
    let reqs = press(&mut app, KeyCode::Char('e'));
    match reqs.as_slice() {
        [
            Request::Edit {
                file_name,
                namespace,
                yaml,
            },
        ] => {
            assert_eq!(file_name, "virtualservice-webapp-vs-from-gw");
            assert_eq!(namespace, "istioinaction");
            assert!(yaml.contains("kind: VirtualService"), "{yaml}");
        }
        other => panic!("{other:?}"),
    }
    // An apply error keeps file:line:column and nothing else changes.
    app.on_update(Update::Failed(
        "error: /tmp/mesh-edit-1-vs.yaml:7:5: VirtualService istioinaction/webapp-vs-from-gw: spec.http[0].route[0].weight: invalid type".into(),
    ));
    let s = text(&app);
    assert!(s.contains("/tmp/mesh-edit-1-vs.yaml:7:5"), "{s}");
    press(&mut app, KeyCode::Char('x')); // any key closes the error
    press(&mut app, KeyCode::Esc);
    assert!(app.detail.is_none());

    assert!(press(&mut app, KeyCode::Char('d')).is_empty());
    let s = text(&app);
    assert!(
        s.contains("Delete virtualservice istioinaction/webapp-vs-from-gw?  [y/N]"),
        "{s}"
    );
    assert_eq!(
        press(&mut app, KeyCode::Char('y')),
        [Request::Delete {
            kind: "virtualservices".into(),
            name: "webapp-vs-from-gw".into(),
            namespace: "istioinaction".into()
        }]
    );
    press(&mut app, KeyCode::Char('d'));
    assert!(press(&mut app, KeyCode::Char('n')).is_empty());
    assert_eq!(app.overlay, Overlay::None);

    press(&mut app, KeyCode::Char(']'));
    press(&mut app, KeyCode::Char('s'));
    assert!(text(&app).contains("scale deploy/webapp to replicas: "));
    typed(&mut app, "3");
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        [Request::Scale {
            name: "webapp".into(),
            namespace: "istioinaction".into(),
            replicas: 3
        }]
    );
}

#[test]
fn traffic_sparklines_and_service_graph() {
    let mut app = app();
    press(&mut app, KeyCode::Char('5'));
    let row = |w: &str, rps: f64| WorkloadTraffic {
        namespace: "istioinaction".into(),
        workload: w.into(),
        reporter: "destination".into(),
        requests: rps,
        rps,
        success_rate: Some(0.9),
        p50_ms: Some(2.5),
        p99_ms: Some(9.0),
    };
    for rps in [1.0, 4.0, 2.0] {
        app.on_update(Update::Traffic {
            rows: vec![row("catalog", rps), row("webapp", rps / 2.0)],
            edges: vec![
                Edge {
                    source: "istio-ingressgateway.istio-system".into(),
                    destination: "webapp.istioinaction".into(),
                    rps: rps / 2.0,
                },
                Edge {
                    source: "webapp.istioinaction".into(),
                    destination: "catalog.istioinaction".into(),
                    rps,
                },
            ],
        });
    }
    let s = text(&app);
    assert!(s.contains("catalog.istioinaction"), "{s}");
    assert!(s.contains("RPS          2.00"), "{s}");
    assert!(s.contains("SUCCESS     90.0%"), "{s}");
    assert!(s.contains("P99         9.0ms"), "{s}");
    assert!(
        s.contains("istio-ingressgateway ─1.0/s─▶ webapp ─2.0/s─▶ catalog"),
        "{s}"
    );
    // Sparkline bars are drawn for the three samples.
    assert!(
        s.lines().any(|l| l.contains("RPS") && l.contains('█')),
        "{s}"
    );
    assert_eq!(
        app.command_for_selection().as_deref(),
        Some("mesh metrics catalog.istioinaction --interval 1s")
    );
}

#[test]
fn logs_follow_with_filter_and_container_switch() {
    let mut app = app();
    press(&mut app, KeyCode::Down); // catalog
    let reqs = press(&mut app, KeyCode::Enter);
    assert_eq!(
        reqs,
        [Request::FollowLogs {
            namespace: "istioinaction".into(),
            pod: "catalog-5c7f8f8447-b7dqz".into(),
            container: "catalog".into()
        }]
    );
    assert_eq!(app.view, View::Logs);
    for i in 0..40 {
        let path = if i % 2 == 0 { "/items" } else { "/healthz" };
        app.on_update(Update::LogLine(format!("line {i} GET {path}")));
    }
    let s = text(&app);
    assert!(
        s.contains("istioinaction/catalog-5c7f8f8447-b7dqz [catalog] following"),
        "{s}"
    );
    assert!(
        s.contains("line 39 GET /healthz"),
        "following shows the newest: {s}"
    );
    assert!(!s.contains("line 0 "), "{s}");
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "items");
    press(&mut app, KeyCode::Enter);
    let s = text(&app);
    assert!(
        s.contains("line 38 GET /items") && !s.contains("/healthz"),
        "{s}"
    );
    assert_eq!(
        press(&mut app, KeyCode::Char('t')),
        [Request::FollowLogs {
            namespace: "istioinaction".into(),
            pod: "catalog-5c7f8f8447-b7dqz".into(),
            container: "istio-proxy".into()
        }]
    );
    assert_eq!(app.logs.filter, "items", "the filter stays");
    assert_eq!(
        app.command_for_selection().as_deref(),
        Some("mesh logs catalog-5c7f8f8447-b7dqz -n istioinaction -c istio-proxy -f")
    );
}

#[test]
fn actions_from_workloads_and_proxies() {
    let mut app = app();
    press(&mut app, KeyCode::Char('G')); // webapp
    press(&mut app, KeyCode::Char('s'));
    typed(&mut app, "x");
    press(&mut app, KeyCode::Enter);
    assert!(matches!(&app.overlay, Overlay::Error(e) if e.contains("whole number")));
    press(&mut app, KeyCode::Esc);
    press(&mut app, KeyCode::Char('s'));
    typed(&mut app, "2");
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        [Request::Scale {
            name: "webapp".into(),
            namespace: "istioinaction".into(),
            replicas: 2
        }]
    );
    assert_eq!(
        press(&mut app, KeyCode::Char('c')),
        [Request::Copy(
            "mesh get pod webapp-7f9b6d6c5d-4fkp2 -n istioinaction -o yaml".into()
        )]
    );
    assert!(text(&app).contains("copied: mesh get pod webapp"));
    let reqs = press(&mut app, KeyCode::Char('p'));
    assert_eq!(
        reqs,
        [Request::LoadConfig {
            proxy: "webapp-7f9b6d6c5d-4fkp2.istioinaction".into()
        }]
    );

    press(&mut app, KeyCode::Char('2'));
    press(&mut app, KeyCode::Char('l'));
    typed(&mut app, "http:debug");
    assert!(text(&app).contains("log level for catalog-5c7f8f8447-b7dqz.istioinaction"));
    assert_eq!(
        press(&mut app, KeyCode::Enter),
        [Request::LogLevel {
            proxy: "catalog-5c7f8f8447-b7dqz.istioinaction".into(),
            level: "http:debug".into()
        }]
    );
    app.on_update(Update::Done(
        "catalog-5c7f8f8447-b7dqz.istioinaction: log level http:debug".into(),
    ));
    assert!(text(&app).contains("log level http:debug"));

    // Ctrl-C and q quit.
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(app.quit);
}

#[test]
fn filter_command_and_help() {
    let mut app = app();
    press(&mut app, KeyCode::Char('/'));
    typed(&mut app, "webapp");
    let s = text(&app);
    assert!(s.contains("Pods (1/3 /webapp)"), "{s}");
    assert!(s.contains("/webapp█"), "{s}");
    press(&mut app, KeyCode::Esc);
    assert!(text(&app).contains("Pods (3)"));

    typed(&mut app, ":routes");
    press(&mut app, KeyCode::Enter);
    assert_eq!(
        (app.view, app.config.tab),
        (View::Config, ConfigTab::Routes)
    );
    typed(&mut app, ":nope");
    press(&mut app, KeyCode::Enter);
    assert!(text(&app).contains("unknown command \"nope\""));
    press(&mut app, KeyCode::Enter);

    press(&mut app, KeyCode::Char('?'));
    let s = text(&app);
    for b in BINDINGS {
        assert!(s.contains(b.keys), "help lacks {:?}:\n{s}", b.keys);
    }
    press(&mut app, KeyCode::Char('x'));
    assert_eq!(app.overlay, Overlay::None);
    press(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Resources);
    press(&mut app, KeyCode::BackTab);
    press(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
}

#[test]
fn lost_sandbox_banner() {
    let mut app = app();
    app.on_update(Update::Lost("sandbox \"mesh\" is not running".into()));
    let s = screen(&app, 80, 24);
    assert!(
        s[1].contains("sandbox \"mesh\" is not running — reconnecting…"),
        "{s:?}"
    );
    assert!(
        s.iter().any(|l| l.contains("catalog-5c7f")),
        "the last data stays: {s:?}"
    );
    app.on_update(Update::Back);
    assert!(!text(&app).contains("reconnecting"));
    // A failed refresh while the watch is fine: the next answer clears the banner.
    app.on_update(Update::Lost("cannot reach the sandbox's API".into()));
    app.on_update(Update::Proxies(json!({"proxies": []})));
    assert!(app.banner.is_none());
}

#[test]
fn a_thousand_services_draw_only_the_visible_rows() {
    let mut app = app();
    let services: Vec<Value> = (0..1000)
        .map(|i| json!({"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": format!("svc-{i:04}"), "namespace": "load", "creationTimestamp": "2025-05-31T23:59:00Z"},
            "spec": {"type": "ClusterIP", "clusterIP": format!("127.96.{}.{}", i / 250, i % 250), "ports": [{"port": 80, "protocol": "TCP"}]}}))
        .collect();
    app.on_update(Update::Resources(
        json!({"listings": [listing("Service", "services", services)]}),
    ));
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Char('G'));
    let s = screen(&app, 80, 24);
    assert!(s.iter().any(|l| l.contains("services (1000)")), "{s:?}");
    assert!(s[21].contains("svc-0999"), "{s:?}");
    assert!(s[4].contains("svc-0982"), "{s:?}");
    press(&mut app, KeyCode::PageUp);
    let s = screen(&app, 80, 24);
    assert!(s.iter().any(|l| l.contains("svc-0989")), "{s:?}");
    // Resized: still the selection on screen.
    let s = screen(&app, 120, 12);
    assert!(s.iter().any(|l| l.contains("svc-0989")), "{s:?}");
}

#[test]
fn no_color_keeps_only_bold_and_reverse() {
    let mut app = app();
    press(&mut app, KeyCode::Char('4'));
    press(&mut app, KeyCode::Enter);
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("term");
    term.draw(|f| views::draw(&app, f, &Theme { color: false }))
        .expect("draw");
    let buf = term.backend().buffer();
    assert!(
        buf.content()
            .iter()
            .all(|c| c.fg == Color::Reset && c.bg == Color::Reset)
    );
    let mut term = Terminal::new(TestBackend::new(80, 24)).expect("term");
    term.draw(|f| views::draw(&app, f, &Theme { color: true }))
        .expect("draw");
    assert!(
        term.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset),
        "YAML is highlighted with colour"
    );
}

#[test]
fn log_lines_are_made_printable() {
    use super::app::printable;
    assert_eq!(
        printable("2026/11/25 \u{1b}[1;37m[M]\u{1b}[0m GET"),
        "2026/11/25 [M] GET"
    );
    assert_eq!(printable("info\tcache\tnew"), "info    cache   new");
    assert_eq!(printable("a\u{7}b\r"), "a^Gb^M");
}
