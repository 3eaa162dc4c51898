//! Standard base64 (RFC 4648, with padding), as Kubernetes stores Secret and ConfigMap binary data.
//! Errors use Go's words, which is what kubectl prints for a bad Secret value.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes with padding.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The position of the first bad byte, as Go's `encoding/base64` reports it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("illegal base64 data at input byte {0}")]
pub struct Base64Error(pub usize);

/// Decodes padded standard base64. Like Kubernetes' JSON decoding, it ignores `\r` and `\n`.
pub fn decode(text: &str) -> Result<Vec<u8>, Base64Error> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let mut quad = [0u8; 4];
    let mut filled = 0;
    let mut padding = 0;
    let mut last = 0;
    for (pos, byte) in text.bytes().enumerate() {
        if byte == b'\r' || byte == b'\n' {
            continue;
        }
        last = pos;
        if byte == b'=' {
            // Padding may only end a quad, in its last one or two places.
            if filled < 2 {
                return Err(Base64Error(pos));
            }
            padding += 1;
            filled += 1;
        } else {
            if padding > 0 {
                return Err(Base64Error(pos));
            }
            let Some(value) = ALPHABET.iter().position(|&c| c == byte) else {
                return Err(Base64Error(pos));
            };
            quad[filled] = value as u8;
            filled += 1;
        }
        if filled == 4 {
            let n = (u32::from(quad[0]) << 18)
                | (u32::from(quad[1]) << 12)
                | (u32::from(quad[2]) << 6)
                | u32::from(quad[3]);
            let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
            out.extend_from_slice(&bytes[..3 - padding]);
            filled = 0;
            if padding > 0 {
                padding = 3; // nothing may follow a padded quad
            }
        }
    }
    if filled != 0 {
        return Err(Base64Error(last + 1));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        for text in ["", "f", "fo", "foo", "foob", "fooba", "foobar"] {
            let enc = encode(text.as_bytes());
            assert_eq!(decode(&enc).unwrap(), text.as_bytes(), "{enc}");
        }
        assert_eq!(encode(b"foobar"), "Zm9vYmFy");
        assert_eq!(encode(b"fo"), "Zm8=");
    }

    #[test]
    fn reports_the_bad_byte() {
        assert_eq!(decode("Zm9v!mFy").unwrap_err(), Base64Error(4));
        assert_eq!(decode("Zm9").unwrap_err(), Base64Error(3));
        assert_eq!(decode("Zm8=Zm8=").unwrap_err(), Base64Error(4));
        assert_eq!(decode("Zm9v\nYmFy\n").unwrap(), b"foobar");
    }
}
