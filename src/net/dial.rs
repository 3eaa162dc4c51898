//! Dialling by name: how apps reach other services. A plain TCP dialler resolves names itself;
//! the sandbox gives meshed pods one that hands the connection to their sidecar instead.

use std::future::Future;
use std::io;
use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};

use super::resolve::{Family, Resolver};

/// A byte stream of any kind (TCP, in-memory).
pub trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

pub type BoxStream = Box<dyn Stream>;

pub type DialFuture<'a> = Pin<Box<dyn Future<Output = io::Result<BoxStream>> + Send + 'a>>;

/// Opens connections to `host:port` (a name or an IP).
pub trait Dialer: Send + Sync + 'static {
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a>;
}

/// Resolves with a [`Resolver`] and connects over TCP.
#[derive(Debug, Clone, Default)]
pub struct TcpDialer {
    pub resolver: Resolver,
}

impl Dialer for TcpDialer {
    fn dial<'a>(&'a self, host: &'a str, port: u16) -> DialFuture<'a> {
        Box::pin(async move {
            let ips = self.resolver.resolve(host, Family::Auto).await?;
            let mut last =
                io::Error::new(io::ErrorKind::NotFound, format!("no address for {host}"));
            for ip in ips {
                match super::dial_tcp(std::net::SocketAddr::new(ip, port)).await {
                    Ok(s) => return Ok(Box::new(s) as BoxStream),
                    Err(e) => last = e,
                }
            }
            Err(last)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn tcp_dialer_connects_by_name() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"hi").await.unwrap();
        });
        let d = TcpDialer {
            resolver: Resolver::new([("svc".to_owned(), "127.0.0.1".parse().unwrap())]),
        };
        let mut s = d.dial("svc", port).await.unwrap();
        let mut buf = [0u8; 2];
        s.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
    }
}
