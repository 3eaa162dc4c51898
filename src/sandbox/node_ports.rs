//! Node ports: what kube-proxy does for a `NodePort` Service on a kind node — a host port on
//! 127.0.0.1 spliced to a pod IP and target port, so the pod sees a real TCP connection.

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use tokio_util::sync::CancellationToken;

/// One host port and where its connections go now (the target changes as pods come and go).
#[derive(Debug)]
pub struct NodePort {
    pub host: SocketAddr,
    pub node_port: u16,
    targets: ArcSwap<Vec<SocketAddr>>,
    stop: CancellationToken,
}

impl NodePort {
    /// Binds `host` and forwards each connection to one of the current targets.
    pub fn bind(host: SocketAddr, node_port: u16) -> std::io::Result<Arc<NodePort>> {
        let listener = crate::net::bind_tcp(host)?;
        let host = listener.local_addr()?;
        let np = Arc::new(NodePort {
            host,
            node_port,
            targets: ArcSwap::from_pointee(Vec::new()),
            stop: CancellationToken::new(),
        });
        let me = np.clone();
        tokio::spawn(async move {
            let mut next = 0usize;
            loop {
                let (mut inbound, _) = tokio::select! {
                    _ = me.stop.cancelled() => return,
                    a = listener.accept() => match a {
                        Ok(a) => a,
                        Err(_) => continue,
                    },
                };
                let targets = me.targets.load();
                if targets.is_empty() {
                    // Nothing behind the port yet: refuse, like a Service without endpoints.
                    continue;
                }
                let target = targets[next % targets.len()];
                next = next.wrapping_add(1);
                tokio::spawn(async move {
                    if let Ok(mut outbound) = crate::net::dial_tcp(target).await {
                        let _ = inbound.set_nodelay(true);
                        let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                    }
                });
            }
        });
        Ok(np)
    }

    pub fn set_targets(&self, targets: Vec<SocketAddr>) {
        self.targets.store(Arc::new(targets));
    }

    pub fn targets(&self) -> Vec<SocketAddr> {
        self.targets.load().as_ref().clone()
    }

    pub fn close(&self) {
        self.stop.cancel();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn splices_to_the_current_target() {
        let backend = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let backend_addr = backend.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = backend.accept().await.unwrap();
            s.write_all(b"pod").await.unwrap();
        });
        let np = NodePort::bind("127.0.0.1:0".parse().unwrap(), 30000).unwrap();
        np.set_targets(vec![backend_addr]);
        let mut c = tokio::net::TcpStream::connect(np.host).await.unwrap();
        let mut buf = [0u8; 3];
        c.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"pod");
        np.close();
    }
}
