//! Telling h2c (HTTP/2 with prior knowledge) from HTTP/1.x on a plaintext connection by its
//! first bytes, as Envoy's AUTO codec does; the bytes read are replayed to the codec.

use bytes::{Bytes, BytesMut};
use tokio::io::AsyncReadExt;

use crate::net::dial::BoxStream;

use super::super::listener::inspect::Rewind;

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// Reads until the bytes either diverge from the preface or match it whole; `Some(true)` for
/// h2c, `None` when the peer closed before sending anything.
pub async fn h2_preface(mut stream: BoxStream) -> (BoxStream, Option<bool>) {
    let mut buf = BytesMut::with_capacity(PREFACE.len());
    let h2 = loop {
        if !PREFACE.starts_with(&buf) {
            break false;
        }
        if buf.len() >= PREFACE.len() {
            break true;
        }
        let mut chunk = [0u8; 24];
        let want = PREFACE.len() - buf.len();
        match stream.read(&mut chunk[..want]).await {
            Ok(0) | Err(_) if buf.is_empty() => {
                return (stream, None);
            }
            Ok(0) | Err(_) => break false,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let replay: Bytes = buf.freeze();
    (Box::new(Rewind::new(replay, stream)), Some(h2))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    async fn classify(bytes: &'static [u8]) -> (Option<bool>, Vec<u8>) {
        let (mut a, b) = tokio::io::duplex(64);
        a.write_all(bytes).await.unwrap();
        drop(a);
        let (mut s, h2) = h2_preface(Box::new(b)).await;
        let mut all = Vec::new();
        s.read_to_end(&mut all).await.unwrap();
        (h2, all)
    }

    #[tokio::test]
    async fn preface_or_not() {
        let (h2, all) = classify(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nxyz").await;
        assert_eq!(h2, Some(true));
        assert_eq!(all, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\nxyz");
        let (h2, all) = classify(b"GET / HTTP/1.1\r\n\r\n").await;
        assert_eq!(h2, Some(false));
        assert_eq!(all, b"GET / HTTP/1.1\r\n\r\n");
        let (h2, all) = classify(b"PRI").await;
        assert_eq!(h2, Some(false));
        assert_eq!(all, b"PRI");
        assert_eq!(classify(b"").await.0, None);
    }
}
