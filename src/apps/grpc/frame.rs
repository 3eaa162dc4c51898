//! gRPC's message framing over HTTP/2 (a compressed-flag byte, a 4-byte big-endian length,
//! the message) and the headers and trailers of its responses.

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderValue};

/// Why a body is not a sequence of gRPC messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("truncated gRPC message frame")]
    Truncated,
    #[error("compressed gRPC messages are not supported (no grpc-encoding is negotiated)")]
    Compressed,
}

/// One uncompressed message, framed.
pub fn encode(message: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(5 + message.len());
    b.put_u8(0);
    b.put_u32(u32::try_from(message.len()).unwrap_or(u32::MAX));
    b.put_slice(message);
    b.freeze()
}

/// The messages of a whole body.
pub fn decode_all(mut body: &[u8]) -> Result<Vec<&[u8]>, FrameError> {
    let mut out = Vec::new();
    while !body.is_empty() {
        let head = body.get(..5).ok_or(FrameError::Truncated)?;
        if head[0] != 0 {
            return Err(FrameError::Compressed);
        }
        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let message = body.get(5..5 + len).ok_or(FrameError::Truncated)?;
        out.push(message);
        body = &body[5 + len..];
    }
    Ok(out)
}

/// `grpc-status` (and `grpc-message` when not empty) as trailers, or as the headers of a
/// trailers-only response.
pub fn status_headers(code: u32, message: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("grpc-status", HeaderValue::from(code));
    if !message.is_empty()
        && let Ok(v) = HeaderValue::from_str(&percent_encode(message))
    {
        h.insert("grpc-message", v);
    }
    h
}

/// gRPC's `grpc-message` encoding: printable ASCII except `%` as is, the rest `%XX`.
pub fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if (0x20..=0x7e).contains(&b) && b != b'%' {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip() {
        let mut body = encode(b"abc").to_vec();
        body.extend_from_slice(&encode(b""));
        assert_eq!(&body[..5], &[0, 0, 0, 0, 3]);
        assert_eq!(decode_all(&body).unwrap(), vec![&b"abc"[..], &b""[..]]);
        assert_eq!(decode_all(&body[..6]), Err(FrameError::Truncated));
        assert_eq!(decode_all(&[1, 0, 0, 0, 0]), Err(FrameError::Compressed));
        let h = status_headers(14, "no 100% luck");
        assert_eq!(h["grpc-status"], "14");
        assert_eq!(h["grpc-message"], "no 100%25 luck");
    }
}
