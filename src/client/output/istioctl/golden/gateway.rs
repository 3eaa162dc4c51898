//! The Istio in Action chapter-4 gateway (`gateway/` goldens), modelled on the lab capture in
//! `shared/seed/istio-week2-envoy-gateway.md`: the ingress gateway's dumps before the Gateway,
//! with it, and with the VirtualService and apps; expected output in istioctl 1.26's form
//! (hand-derived), plus the capture's own lines where the format did not change.

use std::time::{Duration, UNIX_EPOCH};

use super::{admin_clusters, assert_golden, dump, now, read};
use crate::client::output::istioctl::{
    ClusterFilter, EndpointFilter, ListenerFilter, Output, RouteFilter, StatusRow, Sync, bootstrap,
    cluster, endpoint, endpoint_protos, json, listener, listener_protos, proxy_status,
    proxy_status_subscribed, proxy_status_verbose, route, route_protos, secret, yaml,
};
use crate::client::output::table::Table;

#[test]
fn listeners() {
    let all = ListenerFilter::default();
    assert_golden(
        &listener(&dump("gateway/initial.json"), &all).unwrap(),
        "gateway/listeners-initial.txt",
    );
    let with_gateway = dump("gateway/with-gateway.json");
    assert_golden(
        &listener(&with_gateway, &all).unwrap(),
        "gateway/listeners-with-gateway.txt",
    );
    let port = ListenerFilter {
        port: 8080,
        ..ListenerFilter::default()
    };
    assert_golden(
        &json(&listener_protos(&with_gateway, &port).unwrap()),
        "gateway/listener-8080.json",
    );
    let brief = ListenerFilter {
        verbose: false,
        type_: "http".into(),
        ..ListenerFilter::default()
    };
    assert_eq!(
        listener(&with_gateway, &brief).unwrap(),
        "ADDRESSES PORT  TYPE\n0.0.0.0   8080  HTTP\n0.0.0.0   15021 HTTP\n0.0.0.0   15090 HTTP\n"
    );
}

#[test]
fn routes() {
    let all = RouteFilter::default();
    assert_golden(
        &route(&dump("gateway/initial.json"), &all).unwrap(),
        "gateway/routes-initial.txt",
    );
    let with_gateway = dump("gateway/with-gateway.json");
    assert_golden(
        &route(&with_gateway, &all).unwrap(),
        "gateway/routes-with-gateway.txt",
    );
    let with_vs = dump("gateway/with-vs.json");
    assert_golden(
        &route(&with_vs, &all).unwrap(),
        "gateway/routes-with-vs.txt",
    );

    // `-o json --name http.8080`, as captured in the lab.
    let name = RouteFilter {
        name: "http.8080".into(),
        verbose: true,
    };
    assert_golden(
        &json(&route_protos(&with_gateway, &name).unwrap()),
        "gateway/route-http.8080-with-gateway.json",
    );
    assert_golden(
        &json(&route_protos(&with_vs, &name).unwrap()),
        "gateway/route-http.8080-with-vs.json",
    );
    assert_golden(
        &yaml(&route_protos(&with_vs, &name).unwrap()),
        "gateway/route-http.8080-with-vs.yaml",
    );

    let brief = RouteFilter {
        name: String::new(),
        verbose: false,
    };
    assert_eq!(
        route(&with_vs, &brief).unwrap(),
        "NAME          VIRTUAL HOSTS\nhttp.8080     1\n              1\n              1\n"
    );
    let missing = RouteFilter {
        name: "http.9090".into(),
        verbose: true,
    };
    assert_eq!(json(&route_protos(&with_vs, &missing).unwrap()), "[]\n");
    assert_eq!(yaml(&route_protos(&with_vs, &missing).unwrap()), "[]\n\n");
}

#[test]
fn clusters() {
    let with_vs = dump("gateway/with-vs.json");
    assert_golden(
        &cluster(&with_vs, &ClusterFilter::default()).unwrap(),
        "gateway/clusters-with-vs.txt",
    );
    let v1 = ClusterFilter {
        fqdn: "catalog".into(),
        subset: "v1".into(),
        ..ClusterFilter::default()
    };
    assert_golden(
        &cluster(&with_vs, &v1).unwrap(),
        "gateway/clusters-catalog-v1.txt",
    );
}

#[test]
fn endpoints() {
    let clusters = admin_clusters("gateway/clusters.json");
    let out = endpoint(&clusters, &EndpointFilter::default());
    assert_golden(&out, "gateway/endpoints.txt");
    // `| egrep 'ENDPOINT|istioinaction'` of the same table, as captured in the lab.
    let grepped: String = out
        .lines()
        .filter(|l| l.contains("ENDPOINT") || l.contains("istioinaction"))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(grepped, read("gateway/seed-endpoints-egrep.txt"));

    let catalog = EndpointFilter {
        cluster: "OUTBOUND|80||catalog.istioinaction.svc.cluster.local".into(),
        ..EndpointFilter::default()
    };
    assert_golden(
        &json(&endpoint_protos(&clusters, &catalog)),
        "gateway/endpoints-catalog.json",
    );
    assert_golden(
        &yaml(&endpoint_protos(&clusters, &catalog)),
        "gateway/endpoints-catalog.yaml",
    );

    let outlier = admin_clusters("gateway/clusters-outlier.json");
    assert_golden(
        &endpoint(&outlier, &EndpointFilter::default()),
        "gateway/endpoints-outlier.txt",
    );
    let draining = EndpointFilter {
        status: "draining".into(),
        ..EndpointFilter::default()
    };
    assert_golden(
        &endpoint(&outlier, &draining),
        "gateway/endpoints-draining.txt",
    );
}

#[test]
fn secrets() {
    // 2025-04-19T12:00:00Z: the workload certificate of the capture's /certs is still valid.
    let during = UNIX_EPOCH + Duration::from_secs(1_745_064_000);
    assert_golden(
        &secret(&dump("gateway/webapp-secrets.json"), during).unwrap(),
        "gateway/webapp-secrets.txt",
    );
    let credential = dump("gateway/gateway-credential-secrets.json");
    assert_golden(
        &secret(&credential, now()).unwrap(),
        "gateway/gateway-credential-secrets.txt",
    );
    assert_eq!(
        secret(&dump("gateway/initial.json"), now()).unwrap(),
        "No active or warming secrets found.\n"
    );
}

#[test]
fn bootstrap_outputs() {
    let initial = dump("gateway/initial.json");
    assert_golden(
        &bootstrap(&initial, Output::Json).unwrap(),
        "gateway/bootstrap.json",
    );
    assert_golden(
        &bootstrap(&initial, Output::Yaml).unwrap(),
        "gateway/bootstrap.yaml",
    );
    assert_golden(
        &bootstrap(&initial, Output::Short).unwrap(),
        "gateway/version-summary.txt",
    );
}

fn status_row(name: &str, syncs: [Sync; 5]) -> StatusRow {
    let [cds, lds, eds, rds, ecds] = syncs;
    StatusRow {
        name: name.into(),
        cluster: "Kubernetes".into(),
        cds,
        lds,
        eds,
        rds,
        ecds,
        istiod: "istiod-7df6ffc78d-r7h54".into(),
        version: "1.17.8".into(),
    }
}

#[test]
fn proxy_status_like_the_capture() {
    // Without send times the cells have no age: exactly the capture (istioctl 1.17).
    let synced = Sync::Synced { age: None };
    let gateway = "istio-ingressgateway-996bc6bb6-mktpr.istio-system";
    let before = [status_row(
        gateway,
        [synced, synced, synced, Sync::NotSent, Sync::NotSent],
    )];
    assert_golden(
        &proxy_status(&before),
        "gateway/seed-proxy-status-initial.txt",
    );
    let after = [status_row(
        gateway,
        [synced, synced, synced, synced, Sync::NotSent],
    )];
    assert_golden(
        &proxy_status(&after),
        "gateway/seed-proxy-status-with-gateway.txt",
    );
}

#[test]
fn proxy_status_with_ages() {
    let synced = |secs| Sync::Synced {
        age: Some(Duration::from_secs(secs)),
    };
    let rows = [
        status_row(
            "webapp-7685bcb84-h5knf.istioinaction",
            [
                synced(3 * 3600),
                Sync::Stale {
                    age: Some(Duration::from_secs(120)),
                },
                synced(3 * 3600 + 59),
                Sync::Error {
                    age: Some(Duration::from_secs(8 * 3600 + 5 * 60)),
                },
                Sync::Ignored,
            ],
        ),
        status_row(
            "istio-ingressgateway-996bc6bb6-mktpr.istio-system",
            [
                synced(301),
                synced(301),
                synced(47),
                Sync::NotSent,
                Sync::Ignored,
            ],
        ),
        status_row(
            "catalog-6cf4b97d-l44zk.istioinaction",
            [
                synced(155),
                synced(155),
                synced(47),
                synced(155),
                Sync::Ignored,
            ],
        ),
    ];
    assert_golden(&proxy_status(&rows), "gateway/proxy-status.txt");
    assert_golden(
        &proxy_status_subscribed(&rows),
        "gateway/proxy-status-1.27.txt",
    );
    assert_golden(
        &proxy_status_verbose(&rows),
        "gateway/proxy-status-1.27-verbose.txt",
    );
}

/// The tabwriter against the capture's 1.17 tables (whose headers istioctl has since
/// changed), trailing blanks aside (the capture lost them).
#[test]
fn table_reproduces_the_captured_1_17_tables() {
    let render = |padding, rows: &[&[&str]]| {
        let mut table = Table::new(padding);
        for row in rows {
            table.row(row.iter().copied());
        }
        table
            .render()
            .lines()
            .map(|l| format!("{}\n", l.trim_end()))
            .collect::<String>()
    };
    let listeners = render(
        1,
        &[
            &["ADDRESS", "PORT", "MATCH", "DESTINATION"],
            &["0.0.0.0", "15021", "ALL", "Inline Route: /healthz/ready*"],
            &[
                "0.0.0.0",
                "15090",
                "ALL",
                "Inline Route: /stats/prometheus*",
            ],
        ],
    );
    assert_eq!(listeners, read("gateway/seed-listeners-initial.txt"));
    let routes = render(
        5,
        &[
            &["NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"],
            &["", "*", "/stats/prometheus*", ""],
            &["", "*", "/healthz/ready*", ""],
        ],
    );
    assert_eq!(routes, read("gateway/seed-routes-initial.txt"));
    // The capture shows the first lines of longer tables ("..." in the lab notes).
    let routes = render(
        5,
        &[
            &["NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"],
            &["http.8080", "*", "/*", "404"],
            &["", "*", "/stats/prometheus*", ""],
            &["", "*", "/healthz/ready*", ""],
        ],
    );
    assert!(routes.starts_with(&read("gateway/seed-routes-with-gateway.txt")));
    let listeners = render(
        1,
        &[
            &["ADDRESS", "PORT", "MATCH", "DESTINATION"],
            &["0.0.0.0", "8080", "ALL", "Route: http.8080"],
            &["0.0.0.0", "15021", "ALL", "Inline Route: /healthz/ready*"],
            &[
                "0.0.0.0",
                "15090",
                "ALL",
                "Inline Route: /stats/prometheus*",
            ],
        ],
    );
    assert!(listeners.starts_with(&read("gateway/seed-listeners-with-gateway.txt")));
}
