//! The sandbox's stand-in for the internet. A simulated external host has a loopback address
//! of its own but listens on an ephemeral port (ports below 1024 need privileges); this table
//! maps the address clients dial (`127.40.0.1:80`) to where the host really listens, and
//! [`super::dial_tcp`] consults it, so every dial — from an app, a proxy, kube-proxy — reaches
//! the host as if it listened on that port itself.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{LazyLock, RwLock};

/// Dialled address → listening address. Process-wide, like the routing table it stands in
/// for; sandboxes use disjoint addresses (their slot is in the second octet).
static ROUTES: LazyLock<RwLock<HashMap<SocketAddr, SocketAddr>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// Connections to `dialled` reach `listening` from now on.
pub fn publish(dialled: SocketAddr, listening: SocketAddr) {
    if let Ok(mut routes) = ROUTES.write() {
        routes.insert(dialled, listening);
    }
}

/// `dialled` leads nowhere any more (its host stopped).
pub fn withdraw(dialled: SocketAddr) {
    if let Ok(mut routes) = ROUTES.write() {
        routes.remove(&dialled);
    }
}

/// Where a connection to `addr` really goes.
pub fn route(addr: SocketAddr) -> SocketAddr {
    ROUTES
        .read()
        .ok()
        .and_then(|routes| routes.get(&addr).copied())
        .unwrap_or(addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    #[tokio::test]
    async fn a_published_address_reaches_the_listening_one() {
        let listener = crate::net::bind_tcp("127.0.0.1:0".parse().unwrap()).unwrap();
        let listening = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"hi").await.unwrap();
        });
        let dialled: SocketAddr = "127.0.0.1:1".parse().unwrap();
        assert_eq!(route(dialled), dialled);
        publish(dialled, listening);
        let mut s = crate::net::dial_tcp(dialled).await.unwrap();
        let mut buf = [0u8; 2];
        tokio::io::AsyncReadExt::read_exact(&mut s, &mut buf)
            .await
            .unwrap();
        assert_eq!(&buf, b"hi");
        withdraw(dialled);
        assert_eq!(route(dialled), dialled);
    }
}
