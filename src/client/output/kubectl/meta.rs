//! Reading Kubernetes objects as kubectl's printers read them: lenient accessors (a missing
//! field is Go's zero value), `metav1.Time` parsing, ages, and label selectors in
//! `labels.Selector.String()` form.

use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use crate::client::output::duration::human_duration;

/// The string at `v`, or `""` (Go's zero value) for anything else.
pub(super) fn s(v: &Value) -> &str {
    v.as_str().unwrap_or("")
}

/// The integer at `v`, or 0.
pub(super) fn int(v: &Value) -> i64 {
    v.as_i64()
        .or_else(|| v.as_f64().map(|f| f as i64))
        .unwrap_or(0)
}

/// The elements of the array at `v`, or none.
pub(super) fn arr(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// The entries of the object at `v`, or none.
pub(super) fn obj(v: &Value) -> Option<&Map<String, Value>> {
    v.as_object()
}

/// How many entries the object (or array) at `v` has: Go's `len()` of a map field.
pub(super) fn len(v: &Value) -> usize {
    match v {
        Value::Object(m) => m.len(),
        Value::Array(a) => a.len(),
        _ => 0,
    }
}

/// Whether a Go pointer field decoded from `v` would be non-nil (`"terminated": {}` is).
pub(super) fn present(v: &Value) -> bool {
    !v.is_null()
}

/// Nanoseconds since the Unix epoch (negative before it).
pub(super) fn unix_nanos(t: SystemTime) -> i128 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_nanos() as i128,
        Err(e) => -(e.duration().as_nanos() as i128),
    }
}

/// A `metav1.Time` in RFC 3339 (`2025-06-01T00:00:00Z`, fractions and offsets allowed), as
/// nanoseconds since the Unix epoch.
pub(super) fn parse_time(text: &str) -> Option<i128> {
    let b = text.as_bytes();
    let num = |from: usize, to: usize| -> Option<u32> {
        let part = text.get(from..to)?;
        if part.bytes().all(|c| c.is_ascii_digit()) {
            part.parse().ok()
        } else {
            None
        }
    };
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let year = i32::try_from(num(0, 4)?).ok()?;
    let month = time::Month::try_from(u8::try_from(num(5, 7)?).ok()?).ok()?;
    let day = u8::try_from(num(8, 10)?).ok()?;
    let (hour, minute, second) = (num(11, 13)?, num(14, 16)?, num(17, 19)?);
    let mut rest = 19;
    let mut nanos: u32 = 0;
    if b.get(rest) == Some(&b'.') {
        let start = rest + 1;
        let mut end = start;
        while end < b.len() && b[end].is_ascii_digit() {
            end += 1;
        }
        if end == start || end - start > 9 {
            return None;
        }
        nanos = num(start, end)? * 10u32.pow(u32::try_from(9 - (end - start)).ok()?);
        rest = end;
    }
    let offset_secs: i64 = match b.get(rest..)? {
        [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), _, _, b':', _, _] => {
            let h = i64::from(num(rest + 1, rest + 3)?);
            let m = i64::from(num(rest + 4, rest + 6)?);
            if h > 23 || m > 59 {
                return None;
            }
            let secs = h * 3600 + m * 60;
            if *sign == b'-' { -secs } else { secs }
        }
        _ => return None,
    };
    let date = time::Date::from_calendar_date(year, month, day).ok()?;
    let clock = time::Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    let local = time::PrimitiveDateTime::new(date, clock).assume_utc();
    let secs = local.unix_timestamp() - offset_secs;
    Some(i128::from(secs) * 1_000_000_000 + i128::from(nanos))
}

/// `translateTimestampSince` / `ConvertToHumanReadableDateType`: `<unknown>` for a zero
/// (missing) time, else `HumanDuration(now - t)`.
pub(super) fn age_of(t: Option<i128>, now: i128) -> String {
    match t {
        None => "<unknown>".to_string(),
        Some(t) => human_duration_signed(now - t),
    }
}

/// The AGE of an object: its `metadata.creationTimestamp` relative to `now`.
pub(super) fn age(object: &Value, now: i128) -> String {
    age_of(parse_time(s(&object["metadata"]["creationTimestamp"])), now)
}

/// `duration.HumanDuration` of a signed duration: clocks two seconds apart count as now,
/// a time further in the future is `<invalid>`.
fn human_duration_signed(nanos: i128) -> String {
    // Go: int(d.Seconds()), truncated toward zero.
    let seconds = nanos / 1_000_000_000;
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if nanos < 0 {
        return "0s".to_string();
    }
    let d = std::time::Duration::new(
        u64::try_from(nanos / 1_000_000_000).unwrap_or(u64::MAX),
        u32::try_from(nanos % 1_000_000_000).unwrap_or(0),
    );
    human_duration(d)
}

/// `t.UTC().Format(time.RFC3339)` (the `CREATED AT` column); the zero time for a missing one.
pub(super) fn rfc3339_utc(t: Option<i128>) -> String {
    let Some(t) = t else {
        return "0001-01-01T00:00:00Z".to_string();
    };
    let secs = i64::try_from(t.div_euclid(1_000_000_000)).unwrap_or(0);
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(dt) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            dt.year(),
            u8::from(dt.month()),
            dt.day(),
            dt.hour(),
            dt.minute(),
            dt.second()
        ),
        Err(_) => "0001-01-01T00:00:00Z".to_string(),
    }
}

/// `labels.FormatLabels`: `k=v` sorted by key, comma-joined; `<none>` when empty.
pub(super) fn format_labels(map: &Value) -> String {
    let mut pairs: Vec<(&str, &str)> = obj(map)
        .map(|m| m.iter().map(|(k, v)| (k.as_str(), s(v))).collect())
        .unwrap_or_default();
    pairs.sort();
    let out: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    if out.is_empty() {
        "<none>".to_string()
    } else {
        out.join(",")
    }
}

/// Why a `metav1.LabelSelector` has no `labels.Selector` form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct BadSelector;

/// `metav1.LabelSelectorAsSelector(sel).String()`: requirements sorted by key (`k=v`,
/// `k in (a,b)`, `k notin (a,b)`, `k`, `!k`); `""` for a missing or empty selector.
pub(super) fn selector_string(sel: &Value) -> Result<String, BadSelector> {
    let Some(sel) = obj(sel) else {
        return Ok(String::new());
    };
    let mut reqs: Vec<(String, String)> = Vec::new();
    if let Some(labels) = sel.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            reqs.push((k.clone(), format!("{k}={}", s(v))));
        }
    }
    for expr in arr(sel.get("matchExpressions").unwrap_or(&Value::Null)) {
        let key = s(&expr["key"]);
        let mut values: Vec<&str> = arr(&expr["values"]).iter().map(s).collect();
        values.sort_unstable();
        let text = match s(&expr["operator"]) {
            "In" | "NotIn" if values.is_empty() => return Err(BadSelector),
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" if values.is_empty() => key.to_string(),
            "DoesNotExist" if values.is_empty() => format!("!{key}"),
            _ => return Err(BadSelector),
        };
        reqs.push((key.to_string(), text));
    }
    reqs.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(reqs
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(","))
}

/// `metav1.FormatLabelSelector`: the selector string, `<none>` when empty, `<error>` when
/// invalid.
pub(super) fn format_label_selector(sel: &Value) -> String {
    match selector_string(sel) {
        Ok(text) if text.is_empty() => "<none>".to_string(),
        Ok(text) => text,
        Err(BadSelector) => "<error>".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;

    #[test]
    fn parses_rfc3339() {
        assert_eq!(parse_time("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_time("2025-06-01T00:00:00Z"),
            Some(1_748_736_000 * 1_000_000_000)
        );
        assert_eq!(
            parse_time("2025-06-01T02:00:00.5+02:00"),
            Some(1_748_736_000 * 1_000_000_000 + 500_000_000)
        );
        assert_eq!(parse_time("2025-06-01 00:00:00Z"), None);
        assert_eq!(parse_time("2025-13-01T00:00:00Z"), None);
        assert_eq!(parse_time(""), None);
    }

    #[test]
    fn ages_like_human_duration() {
        let now = unix_nanos(UNIX_EPOCH + Duration::from_secs(1_000_000));
        let at = |secs: i128| Some(secs * 1_000_000_000);
        assert_eq!(age_of(at(1_000_000 - 780), now), "13m");
        assert_eq!(age_of(at(1_000_001), now), "0s");
        assert_eq!(age_of(at(1_000_002), now), "<invalid>");
        assert_eq!(age_of(None, now), "<unknown>");
    }

    #[test]
    fn created_at_is_utc_rfc3339() {
        assert_eq!(
            rfc3339_utc(parse_time("2025-06-01T02:00:00.9+02:00")),
            "2025-06-01T00:00:00Z"
        );
        assert_eq!(rfc3339_utc(None), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn selectors_print_like_labels_selector() {
        let sel = json!({"matchLabels": {"app": "webapp", "a": "b"},
            "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]},
                                 {"key": "x", "operator": "DoesNotExist"}]});
        assert_eq!(
            selector_string(&sel),
            Ok("a=b,app=webapp,tier in (api,web),!x".to_string())
        );
        assert_eq!(format_label_selector(&json!({})), "<none>");
        assert_eq!(format_label_selector(&Value::Null), "<none>");
        assert_eq!(
            format_label_selector(&json!({"matchExpressions": [{"key": "k", "operator": "Foo"}]})),
            "<error>"
        );
        assert_eq!(format_labels(&json!({"b": "2", "a": "1"})), "a=1,b=2");
        assert_eq!(format_labels(&json!({})), "<none>");
    }
}
