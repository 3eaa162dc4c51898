//! PEM in and out: rustls-pki-types decodes the blocks it knows, a line scan keeps the labels
//! of the ones it skips (so errors can name them), and a small encoder writes PEM back.

use rustls_pki_types::pem::{PemObject, SectionKind};

use super::Error;

/// One `-----BEGIN LABEL-----` block, in file order.
#[derive(Debug, Clone)]
pub(crate) struct Block {
    pub label: String,
    /// `None` for labels rustls-pki-types does not know (their DER is not decoded).
    pub kind: Option<SectionKind>,
    pub der: Vec<u8>,
}

/// Every PEM block in `pem`, in order. Text around the blocks (openssl's `Bag Attributes`,
/// `-text` dumps) is ignored.
pub(crate) fn blocks(pem: &[u8]) -> Result<Vec<Block>, Error> {
    let labels: Vec<String> = pem
        .split(|b| *b == b'\n' || *b == b'\r')
        .filter_map(|line| line.strip_prefix(b"-----BEGIN "))
        .map(|rest| {
            let end = rest
                .windows(5)
                .position(|w| w == b"-----")
                .unwrap_or(rest.len());
            String::from_utf8_lossy(&rest[..end]).into_owned()
        })
        .collect();
    let mut decoded = Vec::new();
    for item in <(SectionKind, Vec<u8>)>::pem_slice_iter(pem) {
        decoded.push(item.map_err(describe)?);
    }
    let mut decoded = decoded.into_iter();
    let mut out = Vec::with_capacity(labels.len());
    for label in labels {
        match SectionKind::try_from(label.as_bytes()) {
            Ok(_) => {
                let (kind, der) = decoded
                    .next()
                    .ok_or_else(|| Error::Pem(format!("cannot decode the {label} block")))?;
                out.push(Block {
                    label,
                    kind: Some(kind),
                    der,
                });
            }
            Err(()) => out.push(Block {
                label,
                kind: None,
                der: Vec::new(),
            }),
        }
    }
    Ok(out)
}

fn describe(e: rustls_pki_types::pem::Error) -> Error {
    use rustls_pki_types::pem::Error as E;
    Error::Pem(match e {
        E::MissingSectionEnd { end_marker } => format!(
            "the {} block has no -----END {0}----- line",
            String::from_utf8_lossy(&end_marker)
        ),
        E::IllegalSectionStart { line } => {
            format!("bad BEGIN line {:?}", String::from_utf8_lossy(&line))
        }
        E::Base64Decode(reason) => format!("a block's base64 does not decode ({reason})"),
        other => other.to_string(),
    })
}

/// PEM-encodes `der` under `label`, 64 columns, `\n` line ends (as openssl writes it).
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = Vec::with_capacity(der.len().div_ceil(3) * 4);
    for chunk in der.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = [
            ALPHABET[(n >> 18) as usize & 63],
            ALPHABET[(n >> 12) as usize & 63],
            ALPHABET[(n >> 6) as usize & 63],
            ALPHABET[n as usize & 63],
        ];
        let keep = chunk.len() + 1;
        b64.extend_from_slice(&chars[..keep]);
        b64.extend(std::iter::repeat_n(b'=', 4 - keep));
    }
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_decode_round_trips() {
        for len in [0usize, 1, 2, 3, 47, 48, 49, 100] {
            let der: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let pem = encode("CERTIFICATE", &der);
            let got = blocks(pem.as_bytes()).unwrap();
            assert_eq!(got.len(), 1);
            assert_eq!(got[0].der, der, "length {len}");
        }
    }

    #[test]
    fn unknown_blocks_keep_their_label_and_place() {
        let text = format!(
            "junk\n{}-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n{}",
            encode("CERTIFICATE", b"abc"),
            encode("PRIVATE KEY", b"xyz")
        );
        let got = blocks(text.as_bytes()).unwrap();
        let labels: Vec<_> = got.iter().map(|b| b.label.as_str()).collect();
        assert_eq!(
            labels,
            ["CERTIFICATE", "ENCRYPTED PRIVATE KEY", "PRIVATE KEY"]
        );
        assert_eq!(got[2].der, b"xyz");
        assert!(got[1].kind.is_none());
    }

    #[test]
    fn broken_pem_is_an_error() {
        let err = blocks(b"-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "malformed PEM: the CERTIFICATE block has no -----END CERTIFICATE----- line"
        );
        let err =
            blocks(b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n").unwrap_err();
        assert!(err.to_string().contains("malformed PEM"), "{err}");
    }
}
