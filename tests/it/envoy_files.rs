//! `mesh envoy` with xDS from files (issue 7, item 9): Envoy's dynamic-from-filesystem quick
//! start run from its unchanged files, a changed `cds.yaml` moved into place, a bad one
//! rejected while traffic keeps flowing; and EDS and RDS files edited in place.

use std::net::SocketAddr;
use std::time::Duration;

use crate::util::{self, Mesh, TempDir, Upstream};

const QUICK_START: &str = "tests/fixtures/envoy-dynamic-config-fs";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(util::repo_root().join(QUICK_START).join(name)).unwrap()
}

/// Replaces `path` with `text` the way the quick start says to: write aside, then `mv`.
fn mv_into_place(dir: &TempDir, name: &str, text: &str) {
    let aside = dir.write(&format!("{name}.tmp"), text);
    std::fs::rename(aside, dir.path().join(name)).unwrap();
}

/// The body a request through the proxy gets (empty on failure).
fn body(addr: SocketAddr) -> String {
    util::request(addr, "GET", "/", &[], b"")
        .map(|r| r.text())
        .unwrap_or_default()
}

fn stat(admin: SocketAddr, name: &str) -> u64 {
    util::stat_value(admin, name).unwrap_or(0)
}

fn dynamic_clusters(admin: SocketAddr) -> serde_json::Value {
    let dump = util::get(admin, "/config_dump").json();
    dump["configs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["@type"] == "type.googleapis.com/envoy.admin.v3.ClustersConfigDump")
        .unwrap()["dynamic_active_clusters"]
        .clone()
}

#[test]
fn quick_start_files_drive_the_proxy_and_a_moved_cds_yaml_switches_upstreams() {
    let (service1, service2) = (Upstream::start("service1"), Upstream::start("service2"));
    let dir = TempDir::new("envoy-fs");
    let (listen, admin) = (util::free_port(), util::free_port());
    // The example runs in Docker on 0.0.0.0:10000 and service1:8080; here: loopback, free ports.
    dir.write(
        "lds.yaml",
        &fixture("configs/lds.yaml")
            .replace("address: 0.0.0.0", "address: 127.0.0.1")
            .replace("port_value: 10000", &format!("port_value: {listen}")),
    );
    let cds = fixture("configs/cds.yaml");
    dir.write(
        "cds.yaml",
        &cds.replace(
            "port_value: 8080",
            &format!("port_value: {}", service1.addr.port()),
        ),
    );
    let paths = format!(
        "{{dynamic_resources: {{cds_config: {{path: {0}/cds.yaml}}, lds_config: {{path: {0}/lds.yaml}}}}, admin: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {admin}}}}}}}}}",
        dir.path().display()
    );
    let bootstrap = util::repo_root()
        .join(QUICK_START)
        .join("envoy-dynamic-filesystem-demo.yaml");
    let _proxy = Mesh::spawn([
        "envoy",
        "-c",
        bootstrap.to_str().unwrap(),
        "--config-yaml",
        &paths,
        "--resolve",
        "service1=127.0.0.1",
        "--resolve",
        "service2=127.0.0.1",
    ]);
    let (listen, admin) = (util::addr(listen), util::addr(admin));
    util::wait_for_port(listen);
    assert!(util::eventually(Duration::from_secs(5), || body(listen) == "service1"));
    let clusters = dynamic_clusters(admin);
    assert!(
        clusters.to_string().contains("\"address\":\"service1\""),
        "{clusters}"
    );
    assert_eq!(clusters[0]["version_info"], "");
    assert_eq!(stat(admin, "cluster_manager.cds.update_success"), 1);
    assert_eq!(stat(admin, "listener_manager.lds.update_success"), 1);

    // The quick start's change: service1 → service2, moved into place (with a version).
    let changed = cds.replace("service1", "service2").replace(
        "port_value: 8080",
        &format!("port_value: {}", service2.addr.port()),
    );
    mv_into_place(
        &dir,
        "cds.yaml",
        &format!("version_info: \"v2\"\n{changed}"),
    );
    assert!(
        util::eventually(Duration::from_secs(5), || body(listen) == "service2"),
        "traffic follows the new cds.yaml"
    );
    let clusters = dynamic_clusters(admin);
    assert!(
        clusters.to_string().contains("\"address\":\"service2\""),
        "{clusters}"
    );
    assert_eq!(clusters[0]["version_info"], "v2");
    assert!(clusters[0]["last_updated"].as_str().is_some());
    assert_eq!(stat(admin, "cluster_manager.cds.update_success"), 2);
    assert_eq!(
        stat(admin, "cluster_manager.cds.version"),
        xxhash_v2(),
        "version is the xxHash64 of version_info"
    );
    let readouts = util::get(admin, "/stats?filter=cds.version_text").text();
    assert!(
        readouts.contains("cluster_manager.cds.version_text: \"v2\""),
        "{readouts}"
    );

    // A bad file (a misspelt field) is rejected; the last good config keeps serving.
    mv_into_place(
        &dir,
        "cds.yaml",
        &format!(
            "version_info: \"v3\"\n{}",
            changed.replace("connect_timeout", "conect_timeout")
        ),
    );
    assert!(util::eventually(Duration::from_secs(5), || stat(
        admin,
        "cluster_manager.cds.update_rejected"
    ) == 1));
    assert_eq!(body(listen), "service2");
    assert_eq!(dynamic_clusters(admin)[0]["version_info"], "v2");
    // So is one the proxy refuses (a cluster without a name), whole.
    mv_into_place(
        &dir,
        "cds.yaml",
        "version_info: \"v4\"\nresources:\n- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  connect_timeout: 1s\n",
    );
    assert!(util::eventually(Duration::from_secs(5), || stat(
        admin,
        "cluster_manager.cds.update_rejected"
    ) == 2));
    assert_eq!(body(listen), "service2");
    assert_eq!(stat(admin, "cluster_manager.cds.update_success"), 2);
}

/// xxHash64("v2", seed 0), as Envoy's `version` gauge shows it.
fn xxhash_v2() -> u64 {
    xxhash_rust::xxh64::xxh64(b"v2", 0)
}

#[test]
fn eds_and_rds_files_edited_in_place_are_applied() {
    let (a, b) = (Upstream::start("a"), Upstream::start("b"));
    let dir = TempDir::new("envoy-fs-eds");
    let (listen, admin) = (util::free_port(), util::free_port());
    let d = dir.path().display().to_string();
    let eds = |port: u16, version: &str| {
        format!(
            "version_info: {version}\nresources:\n- \"@type\": type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment\n  cluster_name: backend\n  endpoints:\n  - lb_endpoints:\n    - endpoint:\n        address:\n          socket_address: {{address: 127.0.0.1, port_value: {port}}}\n"
        )
    };
    let rds = |prefix: &str| {
        format!(
            "resources:\n- \"@type\": type.googleapis.com/envoy.config.route.v3.RouteConfiguration\n  name: local_route\n  virtual_hosts:\n  - name: all\n    domains: [\"*\"]\n    routes:\n    - match: {{prefix: \"{prefix}\"}}\n      route: {{cluster: backend}}\n"
        )
    };
    dir.write("eds.yaml", &eds(a.addr.port(), "e1"));
    dir.write("rds.yaml", &rds("/"));
    dir.write(
        "cds.yaml",
        &format!("resources:\n- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: backend\n  connect_timeout: 1s\n  type: EDS\n  eds_cluster_config:\n    eds_config:\n      resource_api_version: V3\n      path_config_source:\n        path: {d}/eds.yaml\n        watched_directory: {{path: {d}}}\n"),
    );
    dir.write(
        "lds.yaml",
        &format!("resources:\n- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: listener_0\n  address:\n    socket_address: {{address: 127.0.0.1, port_value: {listen}}}\n  filter_chains:\n  - filters:\n    - name: envoy.filters.network.http_connection_manager\n      typed_config:\n        \"@type\": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager\n        stat_prefix: ingress_http\n        http_filters:\n        - name: envoy.filters.http.router\n          typed_config:\n            \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router\n        rds:\n          route_config_name: local_route\n          config_source:\n            path_config_source: {{path: {d}/rds.yaml}}\n"),
    );
    let bootstrap = format!(
        "node: {{id: node1, cluster: c}}\ndynamic_resources:\n  cds_config:\n    path_config_source: {{path: {d}/cds.yaml}}\n  lds_config:\n    path_config_source: {{path: {d}/lds.yaml}}\nadmin:\n  address:\n    socket_address: {{address: 127.0.0.1, port_value: {admin}}}\n"
    );
    let _proxy = Mesh::spawn(["envoy", "--config-yaml", &bootstrap]);
    let (listen, admin) = (util::addr(listen), util::addr(admin));
    util::wait_for_port(listen);
    assert!(util::eventually(Duration::from_secs(5), || body(listen) == "a"));
    assert_eq!(stat(admin, "cluster.backend.update_success"), 1);
    assert_eq!(
        stat(admin, "http.ingress_http.rds.local_route.update_success"),
        1
    );

    // EDS edited in place: the endpoint moves to b.
    std::fs::write(dir.path().join("eds.yaml"), eds(b.addr.port(), "e2")).unwrap();
    assert!(util::eventually(Duration::from_secs(5), || body(listen) == "b"));
    // RDS edited in place: only /api routes now; / gets Envoy's 404.
    std::fs::write(dir.path().join("rds.yaml"), rds("/api")).unwrap();
    assert!(util::eventually(Duration::from_secs(5), || {
        util::request(listen, "GET", "/", &[], b"").is_ok_and(|r| r.status == 404)
    }));
    let routes = util::get(admin, "/config_dump?resource=dynamic_route_configs").text();
    assert!(routes.contains("\"/api\""), "{routes}");
    // A bad EDS file is rejected and b keeps answering.
    let before = stat(admin, "cluster.backend.update_rejected");
    std::fs::write(dir.path().join("eds.yaml"), "resources: [1]\n").unwrap();
    assert!(util::eventually(Duration::from_secs(5), || stat(
        admin,
        "cluster.backend.update_rejected"
    ) > before));
    assert_eq!(
        util::request(listen, "GET", "/api", &[], b"")
            .unwrap()
            .text(),
        "b"
    );
}

#[test]
fn missing_files_and_grpc_sources_are_refused_at_start() {
    let dir = TempDir::new("envoy-fs-bad");
    let bootstrap = format!(
        "dynamic_resources:\n  cds_config:\n    path: {}/nope.yaml\n",
        dir.path().display()
    );
    let mut proxy = Mesh::spawn(["envoy", "--config-yaml", &bootstrap]);
    let status = proxy.wait_exit(Duration::from_secs(10)).unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(
        proxy
            .stderr()
            .contains("paths must refer to an existing path in the system"),
        "{}",
        proxy.stderr()
    );
    let (code, _, err) =
        util::mesh_output(["envoy", "--mode", "validate", "--config-yaml", &bootstrap]);
    assert_eq!(code, 1);
    assert!(
        err.contains("dynamic_resources.cds_config: paths must refer to an existing path"),
        "{err}"
    );
    let grpc = "dynamic_resources:\n  lds_config:\n    ads: {}\n";
    let mut proxy = Mesh::spawn(["envoy", "--config-yaml", grpc]);
    let status = proxy.wait_exit(Duration::from_secs(10)).unwrap();
    assert_eq!(status.code(), Some(1));
    assert!(
        proxy.stderr().contains("no xDS gRPC client"),
        "{}",
        proxy.stderr()
    );
}
