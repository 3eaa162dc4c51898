//! Control-plane pushes applied to a running proxy, on real sockets: CDS/EDS/LDS/RDS with
//! ACK/NACK, endpoint changes, listener removal, the original-destination handoff of a
//! sidecar's 15001, captured inbound ports, and tcp_proxy to an ORIGINAL_DST cluster.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::xds::Bootstrap;
use crate::xds::decode::decode_str;
use crate::xds::snapshot::{DiscoveryResponse, Resources};

use super::{Options, Proxy, start};

/// An HTTP upstream answering its name.
async fn upstream(name: &'static str) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((s, _)) = l.accept().await else { return };
            tokio::spawn(async move {
                let svc = service_fn(move |_req| async move {
                    Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(Bytes::from(
                        name,
                    ))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    addr
}

/// A TCP echo upstream.
async fn echo() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut s, _)) = l.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

async fn proxy() -> Arc<Proxy> {
    let bootstrap: Bootstrap = decode_str("t", "{}").unwrap();
    let options = Options {
        log_level: super::log::Level::Off,
        ..Options::default()
    };
    start(bootstrap, options).await.unwrap().proxy
}

fn push(version: &str, resources: Resources) -> DiscoveryResponse {
    DiscoveryResponse {
        version_info: version.to_owned(),
        nonce: format!("n-{version}"),
        resources,
    }
}

fn clusters(yaml: &str) -> Resources {
    Resources::Clusters(decode_str("t", yaml).unwrap())
}
fn endpoints(yaml: &str) -> Resources {
    Resources::Endpoints(decode_str("t", yaml).unwrap())
}
fn listeners(yaml: &str) -> Resources {
    Resources::Listeners(decode_str("t", yaml).unwrap())
}
fn routes(yaml: &str) -> Resources {
    Resources::Routes(decode_str("t", yaml).unwrap())
}

const EDS_CLUSTER: &str = r#"
- name: "outbound|80||svc.ns.svc.cluster.local"
  type: EDS
  connect_timeout: 1s
  eds_cluster_config:
    service_name: "outbound|80||svc.ns.svc.cluster.local"
    eds_config: {ads: {}, resource_api_version: V3}
"#;

fn eds(addr: SocketAddr) -> String {
    format!(
        r#"[{{cluster_name: "outbound|80||svc.ns.svc.cluster.local", endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: {}, port_value: {}}}}}}}}}]}}]}}]"#,
        addr.ip(),
        addr.port()
    )
}

const HCM_RDS: &str = r#"
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: outbound_0.0.0.0_80
          rds: {route_config_name: "80", config_source: {ads: {}}}
          http_filters: [{name: envoy.filters.http.router, typed_config: {"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}]
"#;

const ROUTE_80: &str = r#"
- name: "80"
  virtual_hosts:
  - name: "svc.ns.svc.cluster.local:80"
    domains: ["svc.ns.svc.cluster.local", "svc", "svc.ns"]
    routes: [{match: {prefix: /}, route: {cluster: "outbound|80||svc.ns.svc.cluster.local", timeout: 0s}}]
"#;

async fn get(addr: SocketAddr, host: &str) -> (u16, String) {
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    request_over(Box::new(s), host).await
}

async fn request_over(s: crate::net::dial::BoxStream, host: &str) -> (u16, String) {
    let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(s))
        .await
        .unwrap();
    tokio::spawn(conn);
    let req = hyper::Request::get("/")
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = send.send_request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn cds_eds_lds_rds_are_applied_and_acked() {
    let p = proxy().await;
    let a = upstream("a").await;
    let b = upstream("b").await;
    let ack = p.apply(push("1", clusters(EDS_CLUSTER))).await;
    assert_eq!(
        (ack.version_info.as_str(), ack.error_detail.as_deref()),
        ("1", None)
    );
    assert!(
        p.apply(push("1", endpoints(&eds(a))))
            .await
            .error_detail
            .is_none()
    );
    let lds_yaml = format!(
        "- name: 0.0.0.0_80\n  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}\n  filter_chains:\n  - filters:\n{HCM_RDS}"
    );
    assert!(
        p.apply(push("1", listeners(&lds_yaml)))
            .await
            .error_detail
            .is_none()
    );
    let addr = p.applied().listeners[0].bound_address();
    // Before RDS arrives the listener routes nothing: 404.
    assert_eq!(get(addr, "svc").await.0, 404);
    assert!(
        p.apply(push("1", routes(ROUTE_80)))
            .await
            .error_detail
            .is_none()
    );
    assert_eq!(get(addr, "svc").await, (200, "a".to_owned()));
    assert_eq!(get(addr, "svc.ns.svc.cluster.local").await.1, "a");
    assert_eq!(get(addr, "elsewhere").await.0, 404);

    // EDS moves the service: only endpoints change.
    assert!(
        p.apply(push("2", endpoints(&eds(b))))
            .await
            .error_detail
            .is_none()
    );
    assert_eq!(get(addr, "svc").await.1, "b");

    // A bad route is refused; the last good one keeps serving.
    let bad = ROUTE_80.replace("{prefix: /}", "{safe_regex: {regex: '(('}}");
    let nack = p.apply(push("3", routes(&bad))).await;
    assert_eq!(nack.version_info, "1");
    assert!(nack.error_detail.unwrap().contains("invalid regex"));
    assert_eq!(get(addr, "svc").await.1, "b");

    // config_dump shows dynamic resources with their versions.
    let dump = crate::proxy::admin::config_dump_json(&p);
    assert!(dump.contains("\"dynamic_route_configs\""));
    assert!(dump.contains("\"version_info\": \"1\""));

    // Removing the listener closes its port.
    assert!(
        p.apply(push("4", listeners("[]")))
            .await
            .error_detail
            .is_none()
    );
    let closed = async {
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_err() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    };
    assert!(closed.await);
}

#[tokio::test]
async fn redirected_connections_find_their_listener_and_passthrough_works() {
    let p = proxy().await;
    let a = upstream("a").await;
    let echo = echo().await;
    p.apply(push("1", clusters(&format!("{EDS_CLUSTER}\n- {{name: PassthroughCluster, type: ORIGINAL_DST, lb_policy: CLUSTER_PROVIDED, connect_timeout: 1s}}")))).await;
    p.apply(push("1", endpoints(&eds(a)))).await;
    let lds = format!(
        r#"
- name: virtualOutbound
  address: {{socket_address: {{address: 0.0.0.0, port_value: 15001}}}}
  use_original_dst: true
  bind_to_port: false
  filter_chains:
  - name: virtualOutbound-catchall-tcp
    filters:
    - name: envoy.filters.network.tcp_proxy
      typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy, stat_prefix: PassthroughCluster, cluster: PassthroughCluster}}
- name: 0.0.0.0_80
  address: {{socket_address: {{address: 0.0.0.0, port_value: 80}}}}
  bind_to_port: false
  filter_chains:
  - filters:
{HCM_RDS}"#
    );
    let ack = p.apply(push("1", listeners(&lds))).await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    p.apply(push("1", routes(ROUTE_80))).await;

    // An app dialling the service's ClusterIP:80 reaches the per-port listener.
    let (app_side, proxy_side) = tokio::io::duplex(64 * 1024);
    p.handoff(
        Box::new(proxy_side),
        "127.10.0.5:40000".parse().unwrap(),
        "127.96.0.1:80".parse().unwrap(),
    );
    assert_eq!(
        request_over(Box::new(app_side), "svc.ns").await,
        (200, "a".to_owned())
    );

    // Anything else goes through PassthroughCluster to where it was going.
    let (mut app_side, proxy_side) = tokio::io::duplex(64 * 1024);
    p.handoff(
        Box::new(proxy_side),
        "127.10.0.5:40001".parse().unwrap(),
        echo,
    );
    app_side.write_all(b"ping").await.unwrap();
    let mut buf = [0u8; 4];
    app_side.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"ping");
}

#[tokio::test]
async fn captured_inbound_ports_are_served_by_the_inbound_listener() {
    let p = proxy().await;
    let app = upstream("app").await;
    p.apply(push(
        "1",
        clusters(&format!(
            "- {{name: 'inbound|{port}||', type: STATIC, connect_timeout: 1s, load_assignment: {{cluster_name: 'inbound|{port}||', endpoints: [{{lb_endpoints: [{{endpoint: {{address: {{socket_address: {{address: 127.0.0.1, port_value: {port}}}}}}}}}]}}]}}}}",
            port = app.port()
        )),
    ))
    .await;
    let lds = format!(
        r#"
- name: virtualInbound
  address: {{socket_address: {{address: 0.0.0.0, port_value: 15006}}}}
  bind_to_port: false
  listener_filters: [{{name: envoy.filters.listener.http_inspector, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.listener.http_inspector.v3.HttpInspector}}}}]
  filter_chains:
  - name: "0.0.0.0_{port}"
    filter_chain_match: {{destination_port: {capture}, application_protocols: [http/1.1, h2c]}}
    filters:
    - name: envoy.filters.network.http_connection_manager
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
        stat_prefix: inbound_0.0.0.0_{port}
        route_config:
          name: "inbound|{port}||"
          virtual_hosts: [{{name: inbound, domains: ["*"], routes: [{{match: {{prefix: /}}, route: {{cluster: "inbound|{port}||"}}}}]}}]
        http_filters: [{{name: envoy.filters.http.router, typed_config: {{"@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router}}}}]
"#,
        port = app.port(),
        capture = 0
    );
    // The captured address's port is only known after binding: bind first, then configure.
    let captured = p
        .capture_inbound("127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let lds = lds.replace(
        "destination_port: 0",
        &format!("destination_port: {}", captured.port()),
    );
    let ack = p.apply(push("1", listeners(&lds))).await;
    assert!(ack.error_detail.is_none(), "{ack:?}");
    assert_eq!(get(captured, "anything").await, (200, "app".to_owned()));
}

#[tokio::test]
async fn a_modified_listener_drains_the_keep_alive_connections_of_its_old_config() {
    let p = proxy().await;
    let a = upstream("a").await;
    p.apply(push("1", clusters(EDS_CLUSTER))).await;
    p.apply(push("1", endpoints(&eds(a)))).await;
    p.apply(push("1", routes(ROUTE_80))).await;
    let lds = |prefix: &str| {
        format!(
            "- name: 0.0.0.0_80\n  address: {{socket_address: {{address: 127.0.0.1, port_value: 0}}}}\n  filter_chains:\n  - filters:\n{}",
            HCM_RDS.replace("outbound_0.0.0.0_80", prefix)
        )
    };
    assert!(
        p.apply(push("1", listeners(&lds("one"))))
            .await
            .error_detail
            .is_none()
    );
    let addr = p.applied().listeners[0].bound_address();
    let s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut send, conn) = hyper::client::conn::http1::handshake::<_, Full<Bytes>>(TokioIo::new(s))
        .await
        .unwrap();
    let closed = tokio::spawn(conn);
    let req = || {
        hyper::Request::get("/")
            .header("host", "svc")
            .body(Full::new(Bytes::new()))
            .unwrap()
    };
    let resp = send.send_request(req()).await.unwrap();
    assert_eq!(resp.status(), 200);
    let _ = resp.into_body().collect().await;
    // The HCM changes: the idle keep-alive connection of the old config is closed, new
    // connections get the new one.
    assert!(
        p.apply(push("2", listeners(&lds("two"))))
            .await
            .error_detail
            .is_none()
    );
    let ended = tokio::time::timeout(Duration::from_secs(5), closed).await;
    assert!(ended.is_ok(), "the old connection was drained");
    assert_eq!(get(addr, "svc").await.0, 200);
}
