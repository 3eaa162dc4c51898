//! Chapter 4's L4 labs: TCP through the gateway (4.12) and SNI passthrough (4.13).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::util::*;

const ECHO: &str = "scenarios/istio-in-action/ch4/echo.yaml";
const GW_TCP: &str = "scenarios/istio-in-action/ch4/gateway-tcp.yaml";
const VS_TCP: &str = "scenarios/istio-in-action/ch4/echo-vs.yaml";

#[test]
fn lab_4_12_tcp_echo_through_the_gateway() {
    let sb = TestSandbox::start(None);
    sb.apply(&[ECHO, GW_TCP, VS_TCP], Some("istioinaction"))
        .unwrap();
    sb.synced();
    let gw = sb.admin("gateway", None);
    let listeners = get(gw, "/listeners").text();
    assert!(
        listeners
            .lines()
            .any(|l| l.starts_with("0.0.0.0_31400::") && l.ends_with(":31400")),
        "{listeners}"
    );
    let stream = TcpStream::connect(sb.node_port(30006)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut banner = String::new();
    reader.read_line(&mut banner).unwrap();
    assert!(banner.contains("Welcome"), "{banner:?}");
    let mut w = stream;
    // Skip the rest of the banner until the echo of our line comes back.
    w.write_all(b"hello istio\n").unwrap();
    let mut echoed = String::new();
    let ok = (0..20).any(|_| {
        echoed.clear();
        reader.read_line(&mut echoed).is_ok() && echoed.contains("hello istio")
    });
    assert!(ok, "no echo; last line {echoed:?}");
    // The gateway counted the connection on the echo service's cluster.
    let stats = get(gw, "/stats?filter=tcp-echo-service").text();
    assert!(stats.contains("cluster.outbound|2701||tcp-echo-service.istioinaction.svc.cluster.local.upstream_cx_total: 1"), "{stats}");
}
