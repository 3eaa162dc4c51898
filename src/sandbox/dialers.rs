//! How apps in pods reach other services. The sandbox's DNS ([`Directory`]) answers the
//! names Kubernetes would (`catalog`, `catalog.istioinaction`, `catalog.istioinaction.svc`,
//! `catalog.istioinaction.svc.cluster.local`) with cluster IPs. A meshed pod's connection is
//! handed, in memory, to its sidecar with the original destination (what iptables does for
//! Istio); an unmeshed pod's goes where kube-proxy would send it: one endpoint of the Service.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};

use arc_swap::ArcSwap;

use crate::net::dial::{BoxStream, DialFuture, Dialer};
use crate::net::resolve::{Family, Resolver};
use crate::proxy::Proxy;

/// Names and virtual IPs of the sandbox's Services, and where each cluster-IP port leads.
#[derive(Debug, Default)]
pub struct Directory {
    state: ArcSwap<DirectoryState>,
    next: AtomicUsize,
}

#[derive(Debug, Default, Clone)]
pub struct DirectoryState {
    /// Every DNS name of every Service → its cluster IP.
    pub names: HashMap<String, IpAddr>,
    /// cluster IP:port → the endpoints (pod IP:target port) behind it.
    pub endpoints: HashMap<SocketAddr, Vec<SocketAddr>>,
}

impl Directory {
    pub fn update(&self, state: DirectoryState) {
        self.state.store(Arc::new(state));
    }

    pub fn snapshot(&self) -> Arc<DirectoryState> {
        self.state.load_full()
    }

    /// A Service name as a pod in `namespace` would resolve it (short names are relative to
    /// the pod's namespace, like the search path in a pod's resolv.conf).
    pub fn lookup(&self, name: &str, namespace: &str) -> Option<IpAddr> {
        if let Ok(ip) = name.parse() {
            return Some(ip);
        }
        let st = self.state.load();
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        for candidate in [
            format!("{name}.{namespace}.svc.cluster.local"),
            format!("{name}.svc.cluster.local"),
            format!("{name}.cluster.local"),
            name.clone(),
        ] {
            if let Some(ip) = st.names.get(&candidate) {
                return Some(*ip);
            }
        }
        None
    }

    /// kube-proxy: one endpoint of a cluster IP:port, round robin.
    pub fn endpoint(&self, vip: SocketAddr) -> Option<SocketAddr> {
        let st = self.state.load();
        let eps = st.endpoints.get(&vip)?;
        if eps.is_empty() {
            return None;
        }
        Some(eps[self.next.fetch_add(1, Ordering::Relaxed) % eps.len()])
    }
}

/// Resolves a name: the sandbox's Services first, then the machine's resolver (external hosts).
async fn resolve(
    dir: &Directory,
    resolver: &Resolver,
    host: &str,
    namespace: &str,
) -> io::Result<IpAddr> {
    if let Some(ip) = dir.lookup(host, namespace) {
        return Ok(ip);
    }
    resolver
        .resolve(host, Family::V4Preferred)
        .await?
        .into_iter()
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no such host: {host}")))
}

/// `localhost` inside a pod: the pod's own loopback, where its apps listen (the pod-localhost
/// address with a sidecar, the pod IP without), then the pod IP (the proxy's admin, the
/// agent). Such connections never pass the sidecar, as iptables leaves `lo` alone.
async fn dial_pod_local(candidates: &[IpAddr], port: u16) -> io::Result<BoxStream> {
    let mut last = io::Error::new(
        io::ErrorKind::ConnectionRefused,
        format!("nothing listens on localhost:{port} in the pod"),
    );
    for ip in candidates {
        match crate::net::dial_tcp(SocketAddr::new(*ip, port)).await {
            Ok(s) => return Ok(Box::new(s)),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// `localhost`, the loopback address, or one of the pod's own addresses (all of 127/8 is
/// loopback on the host, but other pods and external hosts live there too).
fn is_localhost(host: &str, own: &[IpAddr]) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| {
            ip == IpAddr::from([127, 0, 0, 1])
                || ip == IpAddr::from(std::net::Ipv6Addr::LOCALHOST)
                || own.contains(&ip)
        })
}

/// The dialer of a pod with a sidecar: connections go to the sidecar, in memory.
pub struct SidecarDialer {
    pub directory: Arc<Directory>,
    pub resolver: Resolver,
    pub namespace: String,
    pub pod_ip: IpAddr,
    /// Where the pod's apps listen (its private loopback address).
    pub localhost: IpAddr,
    pub sidecar: Arc<Proxy>,
    pub next_port: AtomicU16,
}

impl Dialer for SidecarDialer {
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a> {
        Box::pin(async move {
            if is_localhost(host, &[self.localhost, self.pod_ip]) {
                return dial_pod_local(&[self.localhost, self.pod_ip], port).await;
            }
            let ip = resolve(&self.directory, &self.resolver, host, &self.namespace).await?;
            let (app_side, proxy_side) = tokio::io::duplex(256 * 1024);
            // An ephemeral source port, as the kernel would pick.
            let port_no = 32768 + self.next_port.fetch_add(1, Ordering::Relaxed) % 28000;
            self.sidecar.handoff(
                Box::new(proxy_side),
                SocketAddr::new(self.pod_ip, port_no),
                SocketAddr::new(ip, port),
            );
            Ok(Box::new(app_side) as BoxStream)
        })
    }
}

/// The dialer of a pod without a sidecar: kube-proxy's cluster-IP translation, then TCP.
pub struct KubeProxyDialer {
    pub directory: Arc<Directory>,
    pub resolver: Resolver,
    pub namespace: String,
    /// The pod's IP (its apps listen there).
    pub pod_ip: IpAddr,
}

impl Dialer for KubeProxyDialer {
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a> {
        Box::pin(async move {
            if is_localhost(host, &[self.pod_ip]) {
                return dial_pod_local(&[self.pod_ip], port).await;
            }
            let ip = resolve(&self.directory, &self.resolver, host, &self.namespace).await?;
            let vip = SocketAddr::new(ip, port);
            let target = self.directory.endpoint(vip).unwrap_or(vip);
            let s = crate::net::dial_tcp(target).await?;
            Ok(Box::new(s) as BoxStream)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_relative_to_the_namespace() {
        let dir = Directory::default();
        let vip: IpAddr = "127.96.0.1".parse().unwrap();
        let mut st = DirectoryState::default();
        st.names
            .insert("catalog.istioinaction.svc.cluster.local".to_owned(), vip);
        dir.update(st);
        assert_eq!(dir.lookup("catalog", "istioinaction"), Some(vip));
        assert_eq!(dir.lookup("catalog.istioinaction", "default"), Some(vip));
        assert_eq!(
            dir.lookup("catalog.istioinaction.svc", "default"),
            Some(vip)
        );
        assert_eq!(
            dir.lookup("catalog.istioinaction.svc.cluster.local.", "x"),
            Some(vip)
        );
        assert_eq!(dir.lookup("catalog", "default"), None);
        assert_eq!(
            dir.lookup("10.1.2.3", "x"),
            Some("10.1.2.3".parse().unwrap())
        );
    }
}
