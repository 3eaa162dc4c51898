//! Just enough DER to read key structures (PKCS#1, SEC1, PKCS#8, SubjectPublicKeyInfo) and to
//! wrap PKCS#1/SEC1 keys as PKCS#8, which is all that ring (through rcgen) accepts.

pub(crate) const SEQUENCE: u8 = 0x30;
pub(crate) const INTEGER: u8 = 0x02;
pub(crate) const BIT_STRING: u8 = 0x03;
pub(crate) const OCTET_STRING: u8 = 0x04;
pub(crate) const NULL: u8 = 0x05;
pub(crate) const OID: u8 = 0x06;
/// `[0]` constructed, context-specific (SEC1 `parameters`).
pub(crate) const CONTEXT_0: u8 = 0xa0;

/// OID contents (without tag and length).
pub(crate) mod oid {
    pub const RSA_ENCRYPTION: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    pub const RSASSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
    pub const EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    pub const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    pub const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    pub const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    pub const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    pub const ED448: &[u8] = &[0x2b, 0x65, 0x71];
}

/// One tag-length-value.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
}

/// Reads one TLV off the front of `input`; returns it and the rest.
pub(crate) fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), String> {
    let (&tag, rest) = input.split_first().ok_or("truncated DER (no tag)")?;
    if tag & 0x1f == 0x1f {
        return Err("unsupported DER (multi-byte tag)".into());
    }
    let (&first, rest) = rest.split_first().ok_or("truncated DER (no length)")?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return Err("bad DER length".into());
        }
        let len = rest[..n]
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | *b as usize);
        (len, &rest[n..])
    };
    if rest.len() < len {
        return Err("truncated DER (content shorter than its length)".into());
    }
    let (content, rest) = rest.split_at(len);
    Ok((Tlv { tag, content }, rest))
}

/// Reads one TLV that must carry `tag`.
pub(crate) fn expect(input: &[u8], tag: u8) -> Result<(Tlv<'_>, &[u8]), String> {
    let (tlv, rest) = read(input)?;
    if tlv.tag != tag {
        return Err(format!(
            "unexpected DER tag 0x{:02x} (wanted 0x{tag:02x})",
            tlv.tag
        ));
    }
    Ok((tlv, rest))
}

/// All TLVs inside a constructed value's content.
pub(crate) fn children(mut content: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    let mut out = Vec::new();
    while !content.is_empty() {
        let (tlv, rest) = read(content)?;
        out.push(tlv);
        content = rest;
    }
    Ok(out)
}

/// Encodes one TLV.
pub(crate) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// The number of significant bits of a DER INTEGER's content (e.g. an RSA modulus).
pub(crate) fn integer_bits(content: &[u8]) -> usize {
    let trimmed: &[u8] = {
        let skip = content.iter().take_while(|b| **b == 0).count();
        &content[skip..]
    };
    match trimmed.first() {
        None => 0,
        Some(first) => (trimmed.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

/// Wraps a PKCS#1 `RSAPrivateKey` as a PKCS#8 `PrivateKeyInfo`.
pub(crate) fn pkcs1_to_pkcs8(pkcs1: &[u8]) -> Vec<u8> {
    let alg = tlv(
        SEQUENCE,
        &[tlv(OID, oid::RSA_ENCRYPTION), tlv(NULL, &[])].concat(),
    );
    tlv(
        SEQUENCE,
        &[tlv(INTEGER, &[0]), alg, tlv(OCTET_STRING, pkcs1)].concat(),
    )
}

/// Wraps a SEC1 `ECPrivateKey` as a PKCS#8 `PrivateKeyInfo` (the curve comes from the key's
/// own `parameters`).
pub(crate) fn sec1_to_pkcs8(sec1: &[u8]) -> Result<Vec<u8>, String> {
    let curve = sec1_curve(sec1)?.ok_or("the EC key does not name its curve")?;
    let alg = tlv(
        SEQUENCE,
        &[tlv(OID, oid::EC_PUBLIC_KEY), tlv(OID, curve)].concat(),
    );
    Ok(tlv(
        SEQUENCE,
        &[tlv(INTEGER, &[0]), alg, tlv(OCTET_STRING, sec1)].concat(),
    ))
}

/// The named-curve OID of a SEC1 `ECPrivateKey`, when it carries one.
pub(crate) fn sec1_curve(sec1: &[u8]) -> Result<Option<&[u8]>, String> {
    let (seq, _) = expect(sec1, SEQUENCE)?;
    for item in children(seq.content)? {
        if item.tag == CONTEXT_0 {
            let (oid, _) = expect(item.content, OID)?;
            return Ok(Some(oid.content));
        }
    }
    Ok(None)
}

/// The algorithm OID and its parameters' TLV from an `AlgorithmIdentifier` SEQUENCE content.
pub(crate) fn algorithm(content: &[u8]) -> Result<(&[u8], Option<Tlv<'_>>), String> {
    let (oid, rest) = expect(content, OID)?;
    let params = if rest.is_empty() {
        None
    } else {
        Some(read(rest)?.0)
    };
    Ok((oid.content, params))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lengths_round_trip() {
        let content = vec![7u8; 300];
        let enc = tlv(OCTET_STRING, &content);
        assert_eq!(&enc[..4], &[0x04, 0x82, 0x01, 0x2c]);
        let (t, rest) = read(&enc).unwrap();
        assert_eq!(t.content.len(), 300);
        assert!(rest.is_empty());
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        assert!(read(&[]).is_err());
        assert!(read(&[0x30]).is_err());
        assert!(read(&[0x30, 0x05, 0x01]).is_err());
        assert!(read(&[0x30, 0x85, 0, 0, 0, 0, 1]).is_err());
    }

    #[test]
    fn integer_bits_ignores_sign_padding() {
        assert_eq!(integer_bits(&[0x00, 0x80, 0x00]), 16);
        assert_eq!(integer_bits(&[0x01]), 1);
        assert_eq!(integer_bits(&[0x00]), 0);
    }
}
