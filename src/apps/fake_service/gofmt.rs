//! Go's own text forms that fake-service's output is made of: `time.Duration.String()`
//! (`"1.234ms"`, `"-65.3µs"`, `"1m30s"`), `time.ParseDuration`, `strconv.ParseInt` (base 0) and
//! `ParseBool`, `fmt`'s `%v` for a `float64`, and `http.CanonicalHeaderKey`.

/// Nanoseconds, signed, as Go's `time.Duration`.
pub type Nanos = i64;

#[cfg(test)]
pub const MILLISECOND: Nanos = 1_000_000;
pub const SECOND: Nanos = 1_000_000_000;

/// `time.Duration.String()`: `0s`; below a second the largest unit of ns, µs, ms with a
/// fraction and no trailing zeros; else `72h3m0.5s`.
pub fn duration(d: Nanos) -> String {
    let u = d.unsigned_abs();
    let sign = if d < 0 { "-" } else { "" };
    if u == 0 {
        return "0s".to_owned();
    }
    if u < SECOND as u64 {
        let (unit, prec) = match u {
            u if u < 1_000 => ("ns", 0),
            u if u < 1_000_000 => ("µs", 3),
            _ => ("ms", 6),
        };
        return format!("{sign}{}{unit}", fraction(u, prec));
    }
    let seconds = fraction(u, 9);
    let (whole, frac) = seconds.split_once('.').unwrap_or((&seconds, ""));
    let whole: u64 = whole.parse().unwrap_or(0);
    let frac = if frac.is_empty() {
        String::new()
    } else {
        format!(".{frac}")
    };
    let (h, m, s) = (whole / 3600, (whole / 60) % 60, whole % 60);
    match (h, whole / 60) {
        (0, 0) => format!("{sign}{s}{frac}s"),
        (0, _) => format!("{sign}{m}m{s}{frac}s"),
        _ => format!("{sign}{h}h{m}m{s}{frac}s"),
    }
}

/// `v / 10^prec` with the fraction's trailing zeros (and a bare `.`) dropped: Go's `fmtFrac`.
fn fraction(v: u64, prec: u32) -> String {
    let scale = 10u64.pow(prec);
    let (int, frac) = (v / scale, v % scale);
    let digits = format!("{frac:0width$}", width = prec as usize);
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        int.to_string()
    } else {
        format!("{int}.{digits}")
    }
}

/// `time.ParseDuration`: `[-+]` then number+unit pairs (`1h2m3.5s`, `300ms`, `.5s`); a bare
/// `0` is zero. `None` on anything else, including overflow.
pub fn parse_duration(text: &str) -> Option<Nanos> {
    let (negative, mut rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    if rest == "0" {
        return Some(0);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u128 = 0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        if whole.is_empty() && frac.is_empty() || frac.contains('.') {
            return None;
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            _ => return None,
        };
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole.parse().ok()?
        };
        let mut nanos = whole.checked_mul(per_unit)?;
        let mut scale = per_unit;
        for digit in frac.bytes().map(|b| u128::from(b - b'0')) {
            scale /= 10;
            nanos += digit * scale;
        }
        total = total.checked_add(nanos)?;
        rest = after;
    }
    let total = i64::try_from(total).ok()?;
    Some(if negative { -total } else { total })
}

/// `strconv.ParseInt(s, 0, 64)`: decimal, `0x`/`0o`/`0b` prefixes, a leading `0` for octal.
pub fn parse_int(text: &str) -> Option<i64> {
    let (negative, digits) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = digits.to_ascii_lowercase();
    let (radix, digits) = if let Some(hex) = lower.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = lower.strip_prefix("0o") {
        (8, oct)
    } else if let Some(bin) = lower.strip_prefix("0b") {
        (2, bin)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || digits.starts_with(['+', '-']) {
        return None;
    }
    let magnitude = i128::from_str_radix(digits, radix).ok()?;
    i64::try_from(if negative { -magnitude } else { magnitude }).ok()
}

/// `strconv.ParseBool`.
pub fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// `fmt.Sprintf("%v", f)` (`strconv`'s shortest `'g'`): the shortest digits that read back,
/// in exponent form (`1e-05`, `1.5e+06`) when the decimal exponent is below -4 or at least 6.
pub fn float_v(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    let exponent = if x == 0.0 {
        0
    } else {
        x.abs().log10().floor() as i32
    };
    if x == 0.0 || (-4..6).contains(&exponent) {
        return format!("{x}");
    }
    // Rust: "1.5e-7"; Go: "1.5e-07".
    let sci = format!("{x:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let (sign, digits) = match exp.strip_prefix('-') {
        Some(d) => ('-', d),
        None => ('+', exp),
    };
    format!("{mantissa}e{sign}{digits:0>2}")
}

/// `http.CanonicalHeaderKey`: `x-request-id` → `X-Request-Id`; names with characters outside
/// a token are returned unchanged, as Go does.
pub fn canonical_header(name: &str) -> String {
    let token = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
    if !name.bytes().all(token) {
        return name.to_owned();
    }
    let mut upper = true;
    name.chars()
        .map(|c| {
            let out = if upper {
                c.to_ascii_uppercase()
            } else {
                c.to_ascii_lowercase()
            };
            upper = c == '-';
            out
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_like_go() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (999, "999ns"),
            (1_000, "1µs"),
            (65_300, "65.3µs"),
            (98_400, "98.4µs"),
            (1_234_567, "1.234567ms"),
            (2_000_000, "2ms"),
            (-12_345, "-12.345µs"),
            (1_500_000_000, "1.5s"),
            (60 * SECOND, "1m0s"),
            (90 * SECOND + 500 * MILLISECOND, "1m30.5s"),
            (3600 * SECOND, "1h0m0s"),
            (30 * SECOND, "30s"),
        ] {
            assert_eq!(duration(nanos), text, "{nanos}");
        }
    }

    #[test]
    fn parses_go_durations() {
        assert_eq!(parse_duration("0"), Some(0));
        assert_eq!(parse_duration("100ms"), Some(100 * MILLISECOND));
        assert_eq!(parse_duration("1m30s"), Some(90 * SECOND));
        assert_eq!(parse_duration("1.5s"), Some(1_500 * MILLISECOND));
        assert_eq!(parse_duration(".5s"), Some(500 * MILLISECOND));
        assert_eq!(parse_duration("-2µs"), Some(-2_000));
        assert_eq!(parse_duration("10us"), Some(10_000));
        for bad in ["", "1", "s", "1x", "1..5s", "-", "3000000h"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_ints_and_bools_like_strconv() {
        assert_eq!(parse_int("503"), Some(503));
        assert_eq!(parse_int("0x1f4"), Some(500));
        assert_eq!(parse_int("010"), Some(8));
        assert_eq!(parse_int("-2"), Some(-2));
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("five"), None);
        assert_eq!(parse_int(""), None);
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn floats_print_like_percent_v() {
        assert_eq!(float_v(0.5), "0.5");
        assert_eq!(float_v(1.0), "1");
        assert_eq!(float_v(0.0), "0");
        assert_eq!(float_v(0.0001), "0.0001");
        assert_eq!(float_v(0.00001), "1e-05");
        assert_eq!(float_v(123456.0), "123456");
        assert_eq!(float_v(1e6), "1e+06");
        assert_eq!(float_v(1234567.0), "1.234567e+06");
        assert_eq!(float_v(-0.25), "-0.25");
    }

    #[test]
    fn header_keys_are_canonical() {
        assert_eq!(canonical_header("x-request-id"), "X-Request-Id");
        assert_eq!(canonical_header("CONTENT-TYPE"), "Content-Type");
        assert_eq!(canonical_header("x-b3-traceid"), "X-B3-Traceid");
        assert_eq!(canonical_header("bad key"), "bad key");
    }
}
