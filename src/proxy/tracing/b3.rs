//! B3 propagation (`x-b3-traceid`, `x-b3-spanid`, `x-b3-parentspanid`, `x-b3-sampled`,
//! `x-b3-flags`, and the single `b3` header): reading a caller's context and writing ours.

use http::{HeaderMap, HeaderName, HeaderValue};

pub const TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
pub const SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
pub const PARENT_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-parentspanid");
pub const SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
pub const FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");
pub const SINGLE: HeaderName = HeaderName::from_static("b3");

/// A trace id: 64 or 128 bits, printed as 16 or 32 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceId {
    pub high: u64,
    pub low: u64,
    pub wide: bool,
}

impl TraceId {
    /// A fresh random id (never zero, as B3 requires).
    pub fn random(wide: bool) -> TraceId {
        TraceId {
            high: if wide { nonzero() } else { 0 },
            low: nonzero(),
            wide,
        }
    }

    pub fn hex(&self) -> String {
        if self.wide {
            format!("{:016x}{:016x}", self.high, self.low)
        } else {
            format!("{:016x}", self.low)
        }
    }

    fn parse(s: &str) -> Option<TraceId> {
        match s.len() {
            16 => Some(TraceId {
                high: 0,
                low: parse_id(s)?,
                wide: false,
            }),
            32 => {
                let high = u64::from_str_radix(s.get(..16)?, 16).ok()?;
                let low = u64::from_str_radix(s.get(16..)?, 16).ok()?;
                (high != 0 || low != 0).then_some(TraceId {
                    high,
                    low,
                    wide: true,
                })
            }
            _ => None,
        }
    }
}

/// A random non-zero 64-bit span id.
pub fn nonzero() -> u64 {
    loop {
        let n: u64 = rand::random();
        if n != 0 {
            return n;
        }
    }
}

pub fn hex(id: u64) -> String {
    format!("{id:016x}")
}

/// 16 hex digits, not all zero.
fn parse_id(s: &str) -> Option<u64> {
    if s.len() != 16 || !s.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u64::from_str_radix(s, 16).ok().filter(|n| *n != 0)
}

/// What the caller sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Extracted {
    /// Trace, span and parent ids, when the caller had a span.
    pub ids: Option<(TraceId, u64, Option<u64>)>,
    /// The caller's sampling decision, if it made one (`x-b3-flags: 1` forces it).
    pub sampled: Option<bool>,
}

fn sampled_value(v: &str) -> Option<bool> {
    match v {
        "1" | "true" | "d" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

/// Reads the multi-header form first, then the single `b3` header. Malformed ids count as
/// no context (a new trace starts), as Envoy does.
pub fn extract(headers: &HeaderMap) -> Extracted {
    let get = |n: &HeaderName| headers.get(n).and_then(|v| v.to_str().ok()).map(str::trim);
    let mut out = Extracted::default();
    if let (Some(t), Some(s)) = (get(&TRACE_ID), get(&SPAN_ID)) {
        let parent = match get(&PARENT_SPAN_ID) {
            Some(p) => parse_id(p).map(Some),
            None => Some(None),
        };
        if let (Some(trace), Some(span), Some(parent)) = (TraceId::parse(t), parse_id(s), parent) {
            out.ids = Some((trace, span, parent));
        }
    }
    out.sampled = get(&SAMPLED).and_then(sampled_value);
    if get(&FLAGS) == Some("1") {
        out.sampled = Some(true);
    }
    if out.ids.is_none()
        && out.sampled.is_none()
        && let Some(single) = get(&SINGLE)
    {
        out = extract_single(single);
    }
    out
}

/// `b3: {traceid}-{spanid}[-{sampled}[-{parentspanid}]]`, or just a sampling state.
fn extract_single(v: &str) -> Extracted {
    let parts: Vec<&str> = v.split('-').collect();
    if parts.len() == 1 {
        return Extracted {
            ids: None,
            sampled: sampled_value(parts[0]),
        };
    }
    let trace = TraceId::parse(parts[0]);
    let span = parts.get(1).and_then(|s| parse_id(s));
    let sampled = parts.get(2).and_then(|s| sampled_value(s));
    let parent = match parts.get(3) {
        Some(p) => parse_id(p).map(Some),
        None => Some(None),
    };
    match (trace, span, parent) {
        (Some(t), Some(s), Some(p)) => Extracted {
            ids: Some((t, s, p)),
            sampled,
        },
        _ => Extracted::default(),
    }
}

/// Writes the context the next hop continues from; the single `b3` header is replaced by
/// the multi-header form so the two never disagree.
pub fn inject(
    headers: &mut HeaderMap,
    trace: TraceId,
    span: u64,
    parent: Option<u64>,
    sampled: bool,
) {
    let value = |s: String| HeaderValue::try_from(s).ok();
    headers.remove(&SINGLE);
    if let Some(v) = value(trace.hex()) {
        headers.insert(TRACE_ID, v);
    }
    if let Some(v) = value(hex(span)) {
        headers.insert(SPAN_ID, v);
    }
    match parent.and_then(|p| value(hex(p))) {
        Some(v) => {
            headers.insert(PARENT_SPAN_ID, v);
        }
        None => {
            headers.remove(&PARENT_SPAN_ID);
        }
    }
    headers.insert(
        SAMPLED,
        HeaderValue::from_static(if sampled { "1" } else { "0" }),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn reads_multi_header_context() {
        let h = headers(&[
            ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
            ("x-b3-parentspanid", "0020000000000001"),
            ("x-b3-sampled", "1"),
        ]);
        let e = extract(&h);
        let (t, s, p) = e.ids.unwrap();
        assert_eq!(t.hex(), "463ac35c9f6413ad48485a3953bb6124");
        assert_eq!(hex(s), "a2fb4a1d1a96d312");
        assert_eq!(p, Some(0x0020000000000001));
        assert_eq!(e.sampled, Some(true));
        // 64-bit trace ids keep their width.
        let h = headers(&[
            ("x-b3-traceid", "48485a3953bb6124"),
            ("x-b3-spanid", "a2fb4a1d1a96d312"),
        ]);
        let (t, _, p) = extract(&h).ids.unwrap();
        assert_eq!(
            (t.hex().as_str(), t.wide, p),
            ("48485a3953bb6124", false, None)
        );
    }

    #[test]
    fn malformed_ids_are_no_context_but_sampling_survives() {
        for bad in [
            "xyz",
            "0000000000000000",
            "a2fb4a1d1a96d31",
            "a2fb4a1d1a96d3120",
        ] {
            let h = headers(&[
                ("x-b3-traceid", "463ac35c9f6413ad48485a3953bb6124"),
                ("x-b3-spanid", bad),
                ("x-b3-sampled", "0"),
            ]);
            let e = extract(&h);
            assert_eq!(e.ids, None, "{bad}");
            assert_eq!(e.sampled, Some(false));
        }
        assert_eq!(
            extract(&headers(&[("x-b3-flags", "1")])).sampled,
            Some(true)
        );
        assert_eq!(extract(&HeaderMap::new()), Extracted::default());
    }

    #[test]
    fn reads_the_single_header() {
        let e = extract(&headers(&[(
            "b3",
            "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        )]));
        let (t, s, p) = e.ids.unwrap();
        assert_eq!(t.hex(), "80f198ee56343ba864fe8b2a57d3eff7");
        assert_eq!(hex(s), "e457b5a2e4d86bd1");
        assert_eq!(p.map(hex).as_deref(), Some("05e3ac9a4f6e3b90"));
        assert_eq!(e.sampled, Some(true));
        assert_eq!(extract(&headers(&[("b3", "0")])).sampled, Some(false));
    }

    #[test]
    fn generates_wide_ids_and_injects_them() {
        let t = TraceId::random(true);
        assert_eq!(t.hex().len(), 32);
        assert!(
            t.hex()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        assert_eq!(TraceId::random(false).hex().len(), 16);
        let mut h = headers(&[("b3", "1"), ("x-b3-parentspanid", "0000000000000009")]);
        inject(&mut h, t, 0xabc, None, true);
        assert_eq!(h["x-b3-traceid"], t.hex().as_str());
        assert_eq!(h["x-b3-spanid"], "0000000000000abc");
        assert_eq!(h["x-b3-sampled"], "1");
        assert!(!h.contains_key("x-b3-parentspanid") && !h.contains_key("b3"));
        inject(&mut h, t, 0xabd, Some(0xabc), false);
        assert_eq!(h["x-b3-parentspanid"], "0000000000000abc");
        assert_eq!(h["x-b3-sampled"], "0");
        // What we wrote reads back the same.
        let e = extract(&h);
        assert_eq!(e.ids, Some((t, 0xabd, Some(0xabc))));
    }
}
