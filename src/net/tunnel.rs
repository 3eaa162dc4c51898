//! Dialling through an HTTP forward proxy with `CONNECT host:port` — how a process started by
//! `mesh exec` opens raw connections from inside a pod (the sandbox's exec proxy dials the
//! target from the pod, through its sidecar), exactly as a socket opened in the pod would.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::dial::{BoxStream, DialFuture, Dialer};

/// The longest proxy answer head read before giving up.
const MAX_HEAD: usize = 16 * 1024;

/// A [`Dialer`] that tunnels every connection through the proxy at `proxy`.
#[derive(Debug, Clone, Copy)]
pub struct ConnectDialer {
    pub proxy: SocketAddr,
}

impl Dialer for ConnectDialer {
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a> {
        Box::pin(async move {
            let mut stream = super::dial_tcp(self.proxy).await?;
            let authority = if host.contains(':') {
                format!("[{host}]:{port}")
            } else {
                format!("{host}:{port}")
            };
            let request = format!("CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n");
            stream.write_all(request.as_bytes()).await?;
            // Read byte by byte up to the blank line: nothing of the tunnel may be consumed.
            let mut head = Vec::with_capacity(128);
            while !head.ends_with(b"\r\n\r\n") {
                if head.len() > MAX_HEAD {
                    return Err(io::Error::other("proxy answer head too long"));
                }
                let byte = stream.read_u8().await?;
                head.push(byte);
            }
            let head = String::from_utf8_lossy(&head);
            let status_line = head.lines().next().unwrap_or("");
            let ok = status_line
                .split_whitespace()
                .nth(1)
                .is_some_and(|code| code.starts_with('2'));
            if !ok {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("the pod's proxy refused CONNECT {authority}: {status_line}"),
                ));
            }
            Ok(Box::new(stream) as BoxStream)
        })
    }
}
