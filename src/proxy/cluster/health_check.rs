//! Active health checking: every `interval` (or `no_traffic_interval` while the cluster has
//! seen no requests) each host is probed over HTTP (`GET path`, an expected status) or TCP
//! (connect, optionally send bytes and expect bytes back). A new host is unhealthy
//! (`/failed_active_hc`) until its first passing check; afterwards `unhealthy_threshold`
//! failures in a row take it out and `healthy_threshold` successes bring it back.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::proxy::Rejected;
use crate::proxy::stats::{Counter, Gauge, Store};
use crate::xds::cluster::HealthCheck;

use super::host::Host;

#[derive(Debug, Clone, PartialEq)]
enum Probe {
    Http {
        host: String,
        path: String,
        /// `[start, end)`.
        expected: Vec<(u16, u16)>,
    },
    Tcp {
        send: Vec<u8>,
        receive: Vec<Vec<u8>>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct CheckConfig {
    timeout: Duration,
    pub interval: Duration,
    pub no_traffic_interval: Duration,
    unhealthy_threshold: u32,
    healthy_threshold: u32,
    probe: Probe,
}

fn hex(text: &str, at: &str) -> Result<Vec<u8>, Rejected> {
    let clean: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    if !clean.len().is_multiple_of(2) {
        return Err(Rejected::new(at, "hex payload has an odd number of digits"));
    }
    (0..clean.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(&clean[i..i + 2], 16)
                .map_err(|_| Rejected::new(at, format!("{text:?} is not hex")))
        })
        .collect()
}

impl CheckConfig {
    /// Checks one `health_checks` entry; `cluster` is the default Host header.
    pub fn build(h: &HealthCheck, path: &str, cluster: &str) -> Result<CheckConfig, Vec<Rejected>> {
        let mut errors = Vec::new();
        if h.timeout.get().is_zero() {
            errors.push(Rejected::new(
                format!("{path}.timeout"),
                "HealthCheckValidationError.Timeout: value must be greater than 0s",
            ));
        }
        if h.interval.get().is_zero() {
            errors.push(Rejected::new(
                format!("{path}.interval"),
                "HealthCheckValidationError.Interval: value must be greater than 0s",
            ));
        }
        for (v, field) in [
            (h.unhealthy_threshold, "unhealthy_threshold"),
            (h.healthy_threshold, "healthy_threshold"),
        ] {
            if v.is_none() {
                errors.push(Rejected::new(
                    format!("{path}.{field}"),
                    format!("HealthCheckValidationError.{field}: value is required"),
                ));
            }
        }
        let probe = match (&h.http_health_check, &h.tcp_health_check) {
            (Some(http), None) => {
                let expected = if http.expected_statuses.is_empty() {
                    vec![(200, 201)]
                } else {
                    http.expected_statuses
                        .iter()
                        .map(|r| {
                            (
                                r.start.unwrap_or(100).clamp(100, 599) as u16,
                                r.end.unwrap_or(600).clamp(101, 600) as u16,
                            )
                        })
                        .collect()
                };
                Probe::Http {
                    host: if http.host.is_empty() {
                        cluster.to_owned()
                    } else {
                        http.host.clone()
                    },
                    path: http.path.clone(),
                    expected,
                }
            }
            (None, Some(tcp)) => {
                let send = match tcp.send.as_ref().and_then(|p| p.text.as_deref()) {
                    Some(t) => hex(t, &format!("{path}.tcp_health_check.send.text"))
                        .unwrap_or_else(|e| {
                            errors.push(e);
                            Vec::new()
                        }),
                    None => Vec::new(),
                };
                let mut receive = Vec::new();
                for (i, r) in tcp.receive.iter().enumerate() {
                    if let Some(t) = r.text.as_deref() {
                        match hex(t, &format!("{path}.tcp_health_check.receive[{i}].text")) {
                            Ok(b) => receive.push(b),
                            Err(e) => errors.push(e),
                        }
                    }
                }
                Probe::Tcp { send, receive }
            }
            _ => {
                errors.push(Rejected::new(
                    path,
                    "HealthCheckValidationError.HealthChecker: one of http_health_check, tcp_health_check is required (grpc and custom checkers are not supported by mesh yet)",
                ));
                Probe::Tcp {
                    send: Vec::new(),
                    receive: Vec::new(),
                }
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(CheckConfig {
            timeout: h.timeout.get(),
            interval: h.interval.get(),
            no_traffic_interval: h
                .no_traffic_interval
                .map(|d| d.get())
                .unwrap_or(Duration::from_secs(60)),
            unhealthy_threshold: h.unhealthy_threshold.unwrap_or(1).max(1),
            healthy_threshold: h.healthy_threshold.unwrap_or(1).max(1),
            probe,
        })
    }
}

/// Why a probe failed: the host answered wrong, or could not be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Failure {
    Answer,
    Network,
}

async fn probe(cfg: &CheckConfig, addr: SocketAddr) -> Result<(), Failure> {
    let run = async {
        let mut stream = crate::net::dial_tcp(addr)
            .await
            .map_err(|_| Failure::Network)?;
        match &cfg.probe {
            Probe::Http {
                host,
                path,
                expected,
            } => {
                let req = format!(
                    "GET {path} HTTP/1.1\r\nhost: {host}\r\nuser-agent: Envoy/HC\r\nconnection: close\r\n\r\n"
                );
                stream
                    .write_all(req.as_bytes())
                    .await
                    .map_err(|_| Failure::Network)?;
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                // The status line is all we need.
                while !buf.windows(2).any(|w| w == b"\r\n") && buf.len() < 8192 {
                    let n = stream
                        .read(&mut chunk)
                        .await
                        .map_err(|_| Failure::Network)?;
                    if n == 0 {
                        return Err(Failure::Network);
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                let line = String::from_utf8_lossy(&buf);
                let status: u16 = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|s| s.parse().ok())
                    .ok_or(Failure::Answer)?;
                if expected.iter().any(|(a, b)| (*a..*b).contains(&status)) {
                    Ok(())
                } else {
                    Err(Failure::Answer)
                }
            }
            Probe::Tcp { send, receive } => {
                if !send.is_empty() {
                    stream.write_all(send).await.map_err(|_| Failure::Network)?;
                }
                if receive.is_empty() {
                    return Ok(());
                }
                let want: usize = receive.iter().map(Vec::len).sum();
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                loop {
                    if contains_in_order(&buf, receive) {
                        return Ok(());
                    }
                    if buf.len() > want.max(1) * 64 {
                        return Err(Failure::Answer);
                    }
                    let n = stream
                        .read(&mut chunk)
                        .await
                        .map_err(|_| Failure::Network)?;
                    if n == 0 {
                        return Err(Failure::Answer);
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
    };
    match tokio::time::timeout(cfg.timeout, run).await {
        Ok(r) => r,
        Err(_) => Err(Failure::Network),
    }
}

/// Envoy's fuzzy match: every expected block appears, in order.
fn contains_in_order(buf: &[u8], blocks: &[Vec<u8>]) -> bool {
    let mut from = 0;
    for b in blocks {
        match buf[from..]
            .windows(b.len().max(1))
            .position(|w| w == b.as_slice())
        {
            Some(i) => from += i + b.len(),
            None => return false,
        }
    }
    true
}

#[derive(Debug, Default)]
struct Streak {
    failures: u32,
    successes: u32,
    /// Has passed at least once since it joined.
    seen_healthy: bool,
}

/// `cluster.<name>.health_check.*`.
#[derive(Debug)]
pub struct Checker {
    pub config: CheckConfig,
    streaks: Mutex<HashMap<SocketAddr, Streak>>,
    attempt: Counter,
    success: Counter,
    failure: Counter,
    network_failure: Counter,
    healthy: Gauge,
}

impl Checker {
    pub fn new(config: CheckConfig, store: &Store, stat_prefix: &str) -> Checker {
        let c = |n: &str| store.counter(&format!("{stat_prefix}.health_check.{n}"));
        store.counter(&format!("{stat_prefix}.health_check.passive_failure"));
        store.counter(&format!("{stat_prefix}.health_check.verify_cluster"));
        Checker {
            config,
            streaks: Mutex::new(HashMap::new()),
            attempt: c("attempt"),
            success: c("success"),
            failure: c("failure"),
            network_failure: c("network_failure"),
            healthy: store.gauge(&format!("{stat_prefix}.health_check.healthy")),
        }
    }

    /// One round over every host, probes in parallel.
    pub async fn round(&self, hosts: &[Arc<Host>]) {
        let results =
            futures_util::future::join_all(hosts.iter().map(|h| probe(&self.config, h.address)))
                .await;
        let Ok(mut streaks) = self.streaks.lock() else {
            return;
        };
        for (host, result) in hosts.iter().zip(results) {
            self.attempt.inc();
            let s = streaks.entry(host.address).or_default();
            match result {
                Ok(()) => {
                    self.success.inc();
                    s.failures = 0;
                    s.successes += 1;
                    // The first pass of a new host counts at once, as in Envoy.
                    if !s.seen_healthy || s.successes >= self.config.healthy_threshold {
                        host.set_hc_failed(false);
                    }
                    s.seen_healthy = true;
                }
                Err(kind) => {
                    self.failure.inc();
                    if kind == Failure::Network {
                        self.network_failure.inc();
                    }
                    s.successes = 0;
                    s.failures += 1;
                    if s.failures >= self.config.unhealthy_threshold {
                        host.set_hc_failed(true);
                    }
                }
            }
        }
        let present: std::collections::HashSet<SocketAddr> =
            hosts.iter().map(|h| h.address).collect();
        streaks.retain(|a, _| present.contains(a));
        self.healthy
            .set(hosts.iter().filter(|h| !h.hc_failed()).count() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::cluster::{HcPayload, HttpHealthCheck, TcpHealthCheck};
    use crate::xds::core::Locality;
    use crate::xds::de::Duration as D;
    use crate::xds::endpoint::HealthStatus;

    fn check(http: Option<HttpHealthCheck>, tcp: Option<TcpHealthCheck>) -> HealthCheck {
        HealthCheck {
            timeout: D(Duration::from_millis(500)),
            interval: D(Duration::from_secs(1)),
            unhealthy_threshold: Some(2),
            healthy_threshold: Some(2),
            http_health_check: http,
            tcp_health_check: tcp,
            ..Default::default()
        }
    }

    fn host(addr: SocketAddr) -> Arc<Host> {
        let h = Host::new(
            addr,
            String::new(),
            1,
            0,
            Locality::default(),
            HealthStatus::Healthy,
        );
        h.set_hc_failed(true);
        Arc::new(h)
    }

    /// A server answering each connection with `status`, counting requests.
    async fn http_server(status: Arc<std::sync::atomic::AtomicU16>) -> SocketAddr {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                let code = status.load(std::sync::atomic::Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut buf = [0u8; 1024];
                    let _ = s.read(&mut buf).await;
                    let _ = s
                        .write_all(
                            format!("HTTP/1.1 {code} X\r\ncontent-length: 0\r\n\r\n").as_bytes(),
                        )
                        .await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn http_checks_follow_the_thresholds() {
        let status = Arc::new(std::sync::atomic::AtomicU16::new(200));
        let addr = http_server(status.clone()).await;
        let cfg = CheckConfig::build(
            &check(
                Some(HttpHealthCheck {
                    path: "/healthz".into(),
                    ..Default::default()
                }),
                None,
            ),
            "hc",
            "c",
        )
        .unwrap();
        let store = Store::new();
        let checker = Checker::new(cfg, &store, "cluster.c");
        let hosts = vec![host(addr)];
        assert!(!hosts[0].is_healthy(), "unhealthy until the first pass");
        checker.round(&hosts).await;
        assert!(hosts[0].is_healthy(), "the first pass counts at once");
        status.store(503, std::sync::atomic::Ordering::Relaxed);
        checker.round(&hosts).await;
        assert!(hosts[0].is_healthy(), "one failure of two");
        checker.round(&hosts).await;
        assert!(!hosts[0].is_healthy());
        assert_eq!(hosts[0].health_flags(), "/failed_active_hc");
        status.store(200, std::sync::atomic::Ordering::Relaxed);
        checker.round(&hosts).await;
        assert!(!hosts[0].is_healthy(), "one success of two");
        checker.round(&hosts).await;
        assert!(hosts[0].is_healthy());
        assert_eq!(store.counter("cluster.c.health_check.attempt").value(), 5);
        assert_eq!(store.counter("cluster.c.health_check.failure").value(), 2);
        // Nobody listening: a network failure.
        let gone = vec![host("127.0.0.1:1".parse().unwrap())];
        checker.round(&gone).await;
        assert_eq!(
            store
                .counter("cluster.c.health_check.network_failure")
                .value(),
            1
        );
    }

    #[tokio::test]
    async fn tcp_checks_send_and_expect_bytes() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = l.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = l.accept().await {
                tokio::spawn(async move {
                    let mut buf = [0u8; 16];
                    if let Ok(n) = s.read(&mut buf).await
                        && &buf[..n] == b"ping"
                    {
                        let _ = s.write_all(b"xxpongxx").await;
                    }
                });
            }
        });
        let tcp = |recv: &str| {
            CheckConfig::build(
                &check(
                    None,
                    Some(TcpHealthCheck {
                        send: Some(HcPayload {
                            text: Some("70696e67".into()),
                        }),
                        receive: vec![HcPayload {
                            text: Some(recv.into()),
                        }],
                    }),
                ),
                "hc",
                "c",
            )
            .unwrap()
        };
        assert_eq!(probe(&tcp("706f6e67"), addr).await, Ok(()));
        assert_eq!(probe(&tcp("6e6f7065"), addr).await, Err(Failure::Answer));
        assert!(
            CheckConfig::build(&check(None, None), "hc", "c").is_err(),
            "a checker kind is required"
        );
    }
}
