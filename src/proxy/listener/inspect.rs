//! Listener filters that look before they leap: `tls_inspector` (is it TLS, which SNI and
//! ALPN) and `http_inspector` (HTTP/1.x or h2c), by peeking at the first bytes, which are then
//! replayed to whoever reads the connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};

use crate::net::dial::BoxStream;

/// What the inspectors found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Detected {
    /// `tls` or `raw_buffer` (only set when the TLS inspector ran).
    pub transport: Option<&'static str>,
    pub server_name: Option<String>,
    /// `http/1.1`, `http/1.0`, `h2c` (HTTP inspector) or the TLS ALPN list.
    pub application_protocols: Vec<String>,
}

/// A stream with some already-read bytes to give back first.
pub struct Rewind {
    prefix: Bytes,
    inner: BoxStream,
}

impl Rewind {
    pub fn new(prefix: Bytes, inner: BoxStream) -> Rewind {
        Rewind { prefix, inner }
    }
}

impl AsyncRead for Rewind {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            buf.put_slice(&self.prefix[..n]);
            self.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for Rewind {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// Reads the first bytes (up to `timeout`; a silent client, such as a server-speaks-first
/// protocol, gets no detection) and classifies them.
pub async fn inspect(
    mut stream: BoxStream,
    tls: bool,
    http: bool,
    timeout: Option<Duration>,
) -> (BoxStream, Detected, bool) {
    let mut buf = vec![0u8; 4096];
    let mut n = 0;
    // No timeout (`0s`): wait as long as the client does.
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    let mut timed_out = false;
    // Enough bytes to classify: a TLS record header + ClientHello, or an HTTP request line.
    loop {
        let read = stream.read(&mut buf[n..]);
        let got = match deadline {
            Some(d) => tokio::time::timeout_at(d, read).await,
            None => Ok(read.await),
        };
        match got {
            Err(_) => {
                timed_out = true;
                break;
            }
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(m)) => {
                n += m;
                if n >= buf.len() || complete_enough(&buf[..n]) {
                    break;
                }
            }
        }
    }
    buf.truncate(n);
    let mut detected = Detected::default();
    if tls {
        match client_hello(&buf) {
            Some((sni, alpn)) => {
                detected.transport = Some("tls");
                detected.server_name = sni;
                detected.application_protocols = alpn;
            }
            None => detected.transport = Some("raw_buffer"),
        }
    }
    if http && detected.transport != Some("tls") {
        if buf.starts_with(b"PRI * HTTP/2.0\r\n") {
            detected.application_protocols = vec!["h2c".to_owned()];
        } else if let Some(line_end) = buf.windows(2).position(|w| w == b"\r\n") {
            let line = &buf[..line_end];
            if line.ends_with(b" HTTP/1.1") {
                detected.application_protocols = vec!["http/1.1".to_owned()];
            } else if line.ends_with(b" HTTP/1.0") {
                detected.application_protocols = vec!["http/1.0".to_owned()];
            }
        }
    }
    (
        Box::new(Rewind::new(Bytes::from(buf), stream)),
        detected,
        timed_out,
    )
}

fn complete_enough(buf: &[u8]) -> bool {
    if buf.first() == Some(&0x16) {
        // TLS record: header (5 bytes) + length.
        return buf.len() >= 5
            && buf.len() >= 5 + usize::from(u16::from_be_bytes([buf[3], buf[4]]));
    }
    buf.windows(2).any(|w| w == b"\r\n")
}

/// Parses a TLS ClientHello for SNI and ALPN. `None` when it is not TLS.
pub fn client_hello(buf: &[u8]) -> Option<(Option<String>, Vec<String>)> {
    // Record: type 22 (handshake), version, length; handshake type 1 (client hello).
    if buf.len() < 9 || buf[0] != 0x16 || buf[1] != 0x03 || buf[5] != 0x01 {
        return None;
    }
    let mut p = Parser { buf, pos: 9 };
    p.skip(2)?; // client version
    p.skip(32)?; // random
    let sid = usize::from(p.u8()?);
    p.skip(sid)?;
    let suites = usize::from(p.u16()?);
    p.skip(suites)?;
    let comp = usize::from(p.u8()?);
    p.skip(comp)?;
    let mut sni = None;
    let mut alpn = Vec::new();
    let Some(ext_len) = p.u16() else {
        return Some((sni, alpn));
    };
    let end = (p.pos + usize::from(ext_len)).min(buf.len());
    while p.pos + 4 <= end {
        let ty = p.u16()?;
        let len = usize::from(p.u16()?);
        let data = p.take(len)?;
        match ty {
            // server_name list: len(2), type(1)=0 host, len(2), name
            0 if data.len() >= 5 && data[2] == 0 => {
                let n = usize::from(u16::from_be_bytes([data[3], data[4]]));
                if let Some(name) = data.get(5..5 + n) {
                    sni = std::str::from_utf8(name).ok().map(str::to_owned);
                }
            }
            16 => {
                let mut q = Parser { buf: data, pos: 2 };
                while let Some(l) = q.u8() {
                    match q.take(usize::from(l)) {
                        Some(proto) => alpn.push(String::from_utf8_lossy(proto).into_owned()),
                        None => break,
                    }
                }
            }
            _ => {}
        }
    }
    Some((sni, alpn))
}

struct Parser<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Parser<'a> {
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.buf.get(self.pos..self.pos + n)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn detect(bytes: &'static [u8]) -> Detected {
        let (mut a, b) = tokio::io::duplex(8192);
        a.write_all(bytes).await.unwrap();
        let (mut s, d, timed_out) =
            inspect(Box::new(b), true, true, Some(Duration::from_millis(50))).await;
        assert!(!timed_out);
        let mut back = vec![0u8; bytes.len()];
        s.read_exact(&mut back).await.unwrap();
        assert_eq!(back, bytes, "inspected bytes are replayed");
        d
    }

    #[tokio::test]
    async fn a_silent_client_times_out_or_waits_without_a_timeout() {
        // Server-first protocols: the client says nothing.
        let (_a, b) = tokio::io::duplex(8192);
        let (_, d, timed_out) =
            inspect(Box::new(b), true, true, Some(Duration::from_millis(20))).await;
        assert!(timed_out);
        assert_eq!(d.transport, Some("raw_buffer"));
        let (_a, b) = tokio::io::duplex(8192);
        let waited = tokio::time::timeout(
            Duration::from_millis(100),
            inspect(Box::new(b), true, true, None),
        )
        .await;
        assert!(
            waited.is_err(),
            "`0s` means no timeout: inspection waits for the client"
        );
    }

    #[tokio::test]
    async fn http_versions_are_detected() {
        let d = detect(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
        assert_eq!(d.transport, Some("raw_buffer"));
        assert_eq!(d.application_protocols, ["http/1.1"]);
        let d = detect(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n").await;
        assert_eq!(d.application_protocols, ["h2c"]);
        let d = detect(b"hello\r\n").await;
        assert!(d.application_protocols.is_empty());
    }

    #[test]
    fn client_hello_sni_and_alpn() {
        // A minimal ClientHello with SNI "a.io" and ALPN ["h2", "http/1.1"].
        let sni: Vec<u8> = [&[0u8, 7, 0, 0, 4][..], b"a.io"].concat();
        let alpn_list: Vec<u8> = [&[2u8][..], b"h2", &[8u8][..], b"http/1.1"].concat();
        let alpn: Vec<u8> = [&(alpn_list.len() as u16).to_be_bytes()[..], &alpn_list].concat();
        let mut exts = Vec::new();
        exts.extend_from_slice(&0u16.to_be_bytes());
        exts.extend_from_slice(&(sni.len() as u16).to_be_bytes());
        exts.extend_from_slice(&sni);
        exts.extend_from_slice(&16u16.to_be_bytes());
        exts.extend_from_slice(&(alpn.len() as u16).to_be_bytes());
        exts.extend_from_slice(&alpn);
        let mut hello = vec![0x03, 0x03];
        hello.extend_from_slice(&[0u8; 32]);
        hello.push(0); // session id
        hello.extend_from_slice(&[0, 2, 0x13, 0x01]); // one suite
        hello.extend_from_slice(&[1, 0]); // compression
        hello.extend_from_slice(&(exts.len() as u16).to_be_bytes());
        hello.extend_from_slice(&exts);
        let mut hs = vec![1u8, 0];
        hs.extend_from_slice(&(hello.len() as u16).to_be_bytes());
        hs.extend_from_slice(&hello);
        let mut rec = vec![0x16, 0x03, 0x01];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        let (sni, alpn) = client_hello(&rec).unwrap();
        assert_eq!(sni.as_deref(), Some("a.io"));
        assert_eq!(alpn, ["h2", "http/1.1"]);
        assert!(client_hello(b"GET / HTTP/1.1\r\n").is_none());
    }
}
