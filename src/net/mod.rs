//! The pod network seam: binding listeners, dialling, and name resolution. Everything that
//! opens a socket goes through here, so a later in-memory network can replace loopback.
//! Imports nothing of ours.

pub mod dial;
pub mod internet;
pub mod resolve;
pub mod tunnel;

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};

/// Binds a TCP listener with `SO_REUSEADDR` (so a restarted proxy can rebind at once) and a
/// generous backlog.
pub fn bind_tcp(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

/// Dials a TCP connection with `TCP_NODELAY` set (proxies forward small writes at once); a
/// simulated external host is reached where it really listens ([`internet`]).
pub async fn dial_tcp(addr: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(internet::route(addr)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}
