//! Hosts outside the mesh, simulated (the sandbox has no internet). Each host a scenario
//! declares (`externalHosts`) gets an address of its own (`127.<40+slot>.0.<n>`), the
//! sandbox's DNS answers its name with that address — for apps, `mesh exec` and the proxies'
//! DNS clusters alike — and an httpbin answers on each declared port there. The ports are
//! reached through [`crate::net::internet`], so port 80 needs no privileges.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use tokio_util::sync::CancellationToken;

use super::scenario::ExternalHostSpec;

/// First octet after 127 of external hosts' addresses (plus the sandbox's slot).
const BASE: u8 = 40;

/// A running external host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalHost {
    pub host: String,
    pub ip: IpAddr,
    /// (port clients dial, where the httpbin really listens)
    pub ports: Vec<(u16, SocketAddr)>,
}

/// Starts every declared host; they stop with `stop`. A host's routes are published only once
/// all its ports listen.
pub fn start(
    slot: u8,
    specs: &[ExternalHostSpec],
    stop: &CancellationToken,
) -> std::io::Result<Vec<ExternalHost>> {
    let mut out = Vec::new();
    for (n, spec) in specs.iter().enumerate() {
        let last = u8::try_from(n + 1).map_err(|_| {
            std::io::Error::other("at most 254 external hosts fit a sandbox's address block")
        })?;
        let ip = IpAddr::V4(Ipv4Addr::new(127, BASE + slot, 0, last));
        let mut ports = Vec::new();
        for port in &spec.ports {
            let listener = crate::net::bind_tcp(SocketAddr::new(ip, 0))?;
            let listening = listener.local_addr()?;
            let stop = stop.clone();
            tokio::spawn(async move {
                if let Err(e) = crate::apps::httpbin::serve(listener, stop).await {
                    tracing::warn!("external host at {listening} stopped: {e}");
                }
            });
            ports.push((*port, listening));
        }
        for (port, listening) in &ports {
            crate::net::internet::publish(SocketAddr::new(ip, *port), *listening);
        }
        out.push(ExternalHost {
            host: spec.host.to_ascii_lowercase(),
            ip,
            ports,
        });
    }
    Ok(out)
}

/// Takes the hosts off the (simulated) internet.
pub fn withdraw(hosts: &[ExternalHost]) {
    for h in hosts {
        for (port, _) in &h.ports {
            crate::net::internet::withdraw(SocketAddr::new(h.ip, *port));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn a_host_answers_on_its_declared_port_at_its_own_address() {
        let stop = CancellationToken::new();
        let specs = [ExternalHostSpec {
            host: "HttpBin.org".into(),
            ports: vec![80],
        }];
        let hosts = start(9, &specs, &stop).unwrap();
        assert_eq!(hosts[0].host, "httpbin.org");
        assert_eq!(hosts[0].ip, IpAddr::V4(Ipv4Addr::new(127, 49, 0, 1)));
        let mut s = crate::net::dial_tcp(SocketAddr::new(hosts[0].ip, 80))
            .await
            .unwrap();
        s.write_all(b"GET /status/418 HTTP/1.1\r\nHost: httpbin.org\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.1 418"), "{reply}");
        withdraw(&hosts);
        stop.cancel();
    }
}
