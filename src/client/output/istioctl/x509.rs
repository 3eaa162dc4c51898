//! Just enough X.509 for `proxy-config secret`: base64 (JSON `bytes`), the first PEM block,
//! and a DER walk to the serial number, validity, basic constraints (CA or not) and the
//! SPIFFE URI SAN of the certificate. No signature checks, no dependency.

/// What istioctl reads from a certificate (Go's `x509.Certificate` fields it uses).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CertInfo {
    /// The serial's magnitude, big-endian, without leading zero bytes.
    pub serial: Vec<u8>,
    pub not_before: Time,
    pub not_after: Time,
    pub is_ca: bool,
    /// The host of the last `spiffe://` URI SAN.
    pub trust_domain: String,
}

/// A certificate time (UTC), to the second.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Time {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
}

impl Time {
    /// Go's `Format(time.RFC3339)` of a UTC time.
    pub fn rfc3339(&self) -> String {
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )
    }

    /// Seconds since the Unix epoch.
    pub fn unix(&self) -> i64 {
        // Howard Hinnant's days_from_civil.
        let (m, d) = (i64::from(self.month), i64::from(self.day));
        let y = if m <= 2 { self.year - 1 } else { self.year };
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + d - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        let days = era * 146_097 + doe - 719_468;
        days * 86_400
            + i64::from(self.hour) * 3600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

impl CertInfo {
    /// The serial as Go's `%x` of a `big.Int`: lowercase, no leading zeros.
    pub fn serial_hex(&self) -> String {
        let hex: String = self.serial.iter().map(|b| format!("{b:02x}")).collect();
        let trimmed = hex.trim_start_matches('0');
        if trimmed.is_empty() {
            "0".to_string()
        } else {
            trimmed.to_string()
        }
    }
}

/// Standard or URL-safe base64, padding optional, whitespace ignored (protojson accepts all).
pub(super) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            b'=' | b'\r' | b'\n' | b' ' | b'\t' => continue,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The DER bytes of the first PEM block (Go's `pem.Decode`; any block type).
pub(super) fn pem_decode(text: &[u8]) -> Option<Vec<u8>> {
    let text = String::from_utf8_lossy(text);
    let start = text.find("-----BEGIN ")?;
    let rest = &text[start..];
    let body_start = rest.find('\n')? + 1;
    let body = &rest[body_start..];
    let end = body.find("-----END ")?;
    let base64: String = body[..end]
        .lines()
        .filter(|line| !line.contains(':'))
        .collect();
    base64_decode(&base64)
}

/// Parses the first certificate of a PEM bundle.
pub(super) fn parse_pem_certificate(pem: &[u8]) -> Option<CertInfo> {
    parse_certificate(&pem_decode(pem)?)
}

const TAG_BOOLEAN: u8 = 0x01;
const TAG_INTEGER: u8 = 0x02;
const TAG_OCTET_STRING: u8 = 0x04;
const TAG_OID: u8 = 0x06;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_VERSION: u8 = 0xA0;
const TAG_EXTENSIONS: u8 = 0xA3;
const TAG_URI: u8 = 0x86;
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x55, 0x1D, 0x13];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x55, 0x1D, 0x11];

/// Walks `Certificate ::= SEQUENCE { tbsCertificate SEQUENCE { [0] version, serialNumber,
/// signature, issuer, validity, subject, subjectPublicKeyInfo, [1], [2], [3] extensions } … }`.
pub(super) fn parse_certificate(der: &[u8]) -> Option<CertInfo> {
    let mut outer = Der(der);
    let cert = outer.expect(TAG_SEQUENCE)?;
    let mut tbs = Der(Der(cert).expect(TAG_SEQUENCE)?);
    if tbs.peek() == Some(TAG_VERSION) {
        tbs.next()?;
    }
    let serial = tbs.expect(TAG_INTEGER)?;
    if serial.first().is_some_and(|b| b & 0x80 != 0) {
        return None; // Go 1.23+ rejects negative serial numbers
    }
    let serial: Vec<u8> = serial.iter().copied().skip_while(|b| *b == 0).collect();
    tbs.expect(TAG_SEQUENCE)?; // signature algorithm
    tbs.expect(TAG_SEQUENCE)?; // issuer
    let mut validity = Der(tbs.expect(TAG_SEQUENCE)?);
    let not_before = validity.time()?;
    let not_after = validity.time()?;
    let mut info = CertInfo {
        serial,
        not_before,
        not_after,
        is_ca: false,
        trust_domain: String::new(),
    };
    while let Some((tag, content)) = tbs.next() {
        if tag == TAG_EXTENSIONS {
            let mut list = Der(Der(content).expect(TAG_SEQUENCE)?);
            while let Some((_, ext)) = list.next() {
                read_extension(ext, &mut info);
            }
        }
    }
    Some(info)
}

fn read_extension(ext: &[u8], info: &mut CertInfo) -> Option<()> {
    let mut ext = Der(ext);
    let oid = ext.expect(TAG_OID)?;
    if ext.peek() == Some(TAG_BOOLEAN) {
        ext.next()?; // critical
    }
    let value = ext.expect(TAG_OCTET_STRING)?;
    if oid == OID_BASIC_CONSTRAINTS {
        let mut constraints = Der(Der(value).expect(TAG_SEQUENCE)?);
        if constraints.peek() == Some(TAG_BOOLEAN) {
            info.is_ca = constraints.next()?.1.first().is_some_and(|b| *b != 0);
        }
    } else if oid == OID_SUBJECT_ALT_NAME {
        let mut names = Der(Der(value).expect(TAG_SEQUENCE)?);
        while let Some((tag, name)) = names.next() {
            if tag == TAG_URI {
                let uri = String::from_utf8_lossy(name);
                if let Some(host) = spiffe_host(&uri) {
                    info.trust_domain = host;
                }
            }
        }
    }
    Some(())
}

/// The host of a `spiffe://host/path` URI (scheme compared case-insensitively, as Go's
/// `url.Parse` lowercases it).
fn spiffe_host(uri: &str) -> Option<String> {
    let (scheme, rest) = uri.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("spiffe") {
        return None;
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    Some(host.to_string())
}

/// A DER reader over a byte slice.
struct Der<'a>(&'a [u8]);

impl<'a> Der<'a> {
    fn peek(&self) -> Option<u8> {
        self.0.first().copied()
    }

    /// The next TLV's tag and content.
    fn next(&mut self) -> Option<(u8, &'a [u8])> {
        let (&tag, rest) = self.0.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let len = if first < 0x80 {
            usize::from(first)
        } else {
            let n = usize::from(first & 0x7F);
            if n == 0 || n > 4 || rest.len() < n {
                return None;
            }
            let len = rest[..n]
                .iter()
                .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
            rest = &rest[n..];
            len
        };
        if rest.len() < len {
            return None;
        }
        let (content, rest) = rest.split_at(len);
        self.0 = rest;
        Some((tag, content))
    }

    fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
        let (found, content) = self.next()?;
        (found == tag).then_some(content)
    }

    /// `UTCTime` (`YYMMDDHHMMSSZ`, years before 50 in 20xx) or `GeneralizedTime`
    /// (`YYYYMMDDHHMMSSZ`).
    fn time(&mut self) -> Option<Time> {
        let (tag, content) = self.next()?;
        let text = std::str::from_utf8(content).ok()?;
        let digits = text.strip_suffix('Z')?;
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let num = |s: &str| s.parse::<u32>().ok();
        let (year, rest) = match (tag, digits.len()) {
            (TAG_UTC_TIME, 12) => {
                let yy = i64::from(num(&digits[..2])?);
                (if yy < 50 { 2000 + yy } else { 1900 + yy }, &digits[2..])
            }
            (TAG_GENERALIZED_TIME, 14) => (i64::from(num(&digits[..4])?), &digits[4..]),
            _ => return None,
        };
        let time = Time {
            year,
            month: num(&rest[0..2])?,
            day: num(&rest[2..4])?,
            hour: num(&rest[4..6])?,
            minute: num(&rest[6..8])?,
            second: num(&rest[8..10])?,
        };
        let valid = (1..=12).contains(&time.month)
            && (1..=31).contains(&time.day)
            && time.hour < 24
            && time.minute < 60
            && time.second < 60;
        valid.then_some(time)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_both_alphabets() {
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("aGVsbG8").unwrap(), b"hello");
        assert_eq!(base64_decode("-_8=").unwrap(), [0xfb, 0xff]);
        assert!(base64_decode("a*b").is_none());
    }

    #[test]
    fn unix_time() {
        let t = |year, month, day, hour, minute, second| Time {
            year,
            month,
            day,
            hour,
            minute,
            second,
        };
        assert_eq!(t(1970, 1, 1, 0, 0, 0).unix(), 0);
        assert_eq!(t(2025, 4, 19, 14, 57, 31).unix(), 1_745_074_651);
        assert_eq!(t(2000, 3, 1, 0, 0, 0).unix(), 951_868_800);
        assert_eq!(t(2035, 4, 16, 14, 24, 16).rfc3339(), "2035-04-16T14:24:16Z");
    }

    #[test]
    fn spiffe_trust_domain() {
        assert_eq!(
            spiffe_host("spiffe://cluster.local/ns/a/sa/b").as_deref(),
            Some("cluster.local")
        );
        assert_eq!(
            spiffe_host("SPIFFE://east.local").as_deref(),
            Some("east.local")
        );
        assert_eq!(spiffe_host("https://x/y"), None);
    }

    #[test]
    fn serial_hex_drops_leading_zeros() {
        let info = |serial: Vec<u8>| CertInfo {
            serial,
            not_before: Time {
                year: 2025,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
            },
            not_after: Time {
                year: 2025,
                month: 1,
                day: 1,
                hour: 0,
                minute: 0,
                second: 0,
            },
            is_ca: false,
            trust_domain: String::new(),
        };
        assert_eq!(info(vec![0x01, 0x93, 0xa5]).serial_hex(), "193a5");
        assert_eq!(info(vec![]).serial_hex(), "0");
    }
}
