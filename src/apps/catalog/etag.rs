//! Express's weak ETag (`W/"<length hex>-<sha1 base64, 27 chars>"`) and its freshness check,
//! so `curl -v` shows the same `ETag` and `If-None-Match` gets a 304 as from the real catalog.

use http::HeaderMap;
use http::header::{CACHE_CONTROL, IF_NONE_MATCH};

/// The `etag` package's weak tag for a response body.
pub fn weak(body: &[u8]) -> String {
    let digest = base64(&sha1(body));
    format!("W/\"{:x}-{}\"", body.len(), &digest[..27])
}

/// Express's `req.fresh` for a GET/HEAD 2xx answer carrying `etag`: the client's
/// `If-None-Match` lists it (weakly compared, `*` matches) and it did not ask for `no-cache`.
pub fn fresh(request: &HeaderMap, etag: &str) -> bool {
    let no_cache = request
        .get(CACHE_CONTROL)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("no-cache"));
    let Some(wanted) = request.get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    if no_cache {
        return false;
    }
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let ours = strip(etag);
    wanted.trim() == "*" || wanted.split(',').any(|t| strip(t) == ours)
}

fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [
        0x6745_2301,
        0xEFCD_AB89,
        0x98BA_DCFE,
        0x1032_5476,
        0xC3D2_E1F0,
    ];
    let mut message = data.to_vec();
    let bit_len = (data.len() as u64).wrapping_mul(8);
    message.push(0x80);
    while message.len() % 64 != 56 {
        message.push(0);
    }
    message.extend_from_slice(&bit_len.to_be_bytes());
    for block in message.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5A82_7999),
                20..=39 => (b ^ c ^ d, 0x6ED9_EBA1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8F1B_BCDC),
                _ => (b ^ c ^ d, 0xCA62_C1D6),
            };
            let t = a
                .rotate_left(5)
                .wrapping_add(f)
                .wrapping_add(e)
                .wrapping_add(k)
                .wrapping_add(*wi);
            e = d;
            d = c;
            c = b.rotate_left(30);
            b = a;
            a = t;
        }
        for (state, v) in h.iter_mut().zip([a, b, c, d, e]) {
            *state = state.wrapping_add(v);
        }
    }
    let mut out = [0u8; 20];
    for (chunk, word) in out.chunks_exact_mut(4).zip(h) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
    out
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn sha1_known_vectors() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(hex(&sha1(long)), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
    }

    #[test]
    fn express_etags() {
        // Express answers `res.sendStatus(404)` with this tag.
        assert_eq!(weak(b"Not Found"), "W/\"9-0gXL1ngzMqISxa6S1zx3F4wtLyg\"");
        assert_eq!(weak(b""), "W/\"0-2jmj7l5rSw0yVb/vlWAYkK/YBwk\"");
    }

    #[test]
    fn freshness() {
        let tag = weak(b"x");
        let mut h = HeaderMap::new();
        assert!(!fresh(&h, &tag));
        h.insert(IF_NONE_MATCH, tag.trim_start_matches("W/").parse().unwrap());
        assert!(fresh(&h, &tag));
        h.insert(CACHE_CONTROL, "no-cache".parse().unwrap());
        assert!(!fresh(&h, &tag));
        let mut h = HeaderMap::new();
        h.insert(IF_NONE_MATCH, "\"a\", *".parse().unwrap());
        assert!(!fresh(&h, &tag));
        h.insert(IF_NONE_MATCH, "*".parse().unwrap());
        assert!(fresh(&h, &tag));
    }
}
