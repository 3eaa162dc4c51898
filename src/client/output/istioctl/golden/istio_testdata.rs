//! Cases transcribed from istioctl 1.26.0's own testdata (`istio/` goldens): istioctl's
//! inputs (some cut down to the parts the output depends on) and its expected output.

use super::{assert_golden, dump, now, read};
use crate::client::output::istioctl::{
    AllFilters, EndpointFilter, Output, RouteFilter, StatusRow, Sync, all, bootstrap, eds,
    eds_protos, json, log, proxy_status, route, secret, yaml,
};

#[test]
fn routes() {
    for name in [
        "routes-empty-gateway",
        "routes-http-route-prefix",
        "routes-path-prefix",
    ] {
        let dump = dump(&format!("istio/{name}.json"));
        let out = route(&dump, &RouteFilter::default()).unwrap();
        assert_golden(&out, &format!("istio/{name}.txt"));
    }
}

#[test]
fn secrets() {
    for name in ["secret-istio", "secret-spire"] {
        let out = secret(&dump(&format!("istio/{name}.json")), now()).unwrap();
        assert_golden(&out, &format!("istio/{name}.txt"));
    }
}

#[test]
fn bootstrap_json_and_version_summary() {
    let dump = dump("istio/bootstrap-configdump.json");
    assert_golden(
        &bootstrap(&dump, Output::Json).unwrap(),
        "istio/bootstrap.json",
    );
    assert_golden(
        &bootstrap(&dump, Output::Short).unwrap(),
        "istio/version-summary.txt",
    );
}

#[test]
fn eds_tables_json_and_yaml() {
    let dump = dump("istio/eds-configdump.json");
    assert_golden(
        &eds(&dump, &EndpointFilter::default()),
        "istio/eds-emptyfilter.txt",
    );
    let port = EndpointFilter {
        port: 8080,
        ..EndpointFilter::default()
    };
    assert_golden(&eds(&dump, &port), "istio/eds-portfilter.txt");
    assert_golden(
        &json(&eds_protos(&dump, &port)),
        "istio/eds-portfilter.json",
    );
    assert_golden(
        &yaml(&eds_protos(&dump, &port)),
        "istio/eds-portfilter.yaml",
    );
}

#[test]
fn all_summary() {
    let out = all(
        &dump("istio/all-configdump.json"),
        &AllFilters::default(),
        now(),
        false,
    )
    .unwrap();
    assert_golden(&out, "istio/all-summary.txt");
}

#[test]
fn proxy_status_tables() {
    let row = |name: &str,
               cluster: &str,
               [cds, lds, eds, rds, ecds]: [Sync; 5],
               istiod: &str,
               version: &str| StatusRow {
        name: name.into(),
        cluster: cluster.into(),
        cds,
        lds,
        eds,
        rds,
        ecds,
        istiod: istiod.into(),
        version: version.into(),
    };
    let (synced, stale, error) = (
        Sync::Synced { age: None },
        Sync::Stale { age: None },
        Sync::Error { age: None },
    );
    use Sync::{Ignored, NotSent};
    // Given out of order: istioctl sorts by proxy name.
    let multi = [
        row(
            "proxy3",
            "cluster3",
            [NotSent, error, stale, NotSent, NotSent],
            "istiod3",
            "1.20",
        ),
        row(
            "proxy1",
            "cluster1",
            [stale, synced, synced, NotSent, synced],
            "istiod1",
            "1.20",
        ),
        row("proxy4", "cluster4", [Ignored; 5], "istiod4", "1.20"),
        row(
            "proxy2",
            "cluster2",
            [stale, synced, stale, synced, stale],
            "istiod2",
            "1.19",
        ),
    ];
    assert_golden(&proxy_status(&multi), "istio/status-multi-pilot.txt");
    let single = [
        row(
            "proxy1",
            "cluster1",
            [stale, synced, synced, NotSent, NotSent],
            "istiod1",
            "1.20",
        ),
        row(
            "proxy2",
            "cluster2",
            [stale, synced, stale, synced, NotSent],
            "istiod1",
            "1.20",
        ),
    ];
    assert_golden(&proxy_status(&single), "istio/status-single-pilot.txt");
}

#[test]
fn log_prints_the_logging_response() {
    let body = read("istio/logging.txt");
    let out = log("httpbin-7b6f8f7d9c-abcde.default", &body);
    assert_eq!(out, format!("httpbin-7b6f8f7d9c-abcde.default:\n{body}"));
}
