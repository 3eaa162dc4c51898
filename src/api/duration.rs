//! Durations as Istio writes them: Go's `time.ParseDuration` syntax (`1s`, `500ms`, `1m30s`,
//! `0.5s`, `2h`), which is what istiod and the CRDs' CEL `duration()` accept. Resources keep
//! durations as the strings the user wrote; this turns one into a `std::time::Duration`.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    #[error(
        "invalid duration {0:?}: expected a number with a unit, e.g. \"1s\", \"500ms\", \"1m30s\""
    )]
    Invalid(String),
    #[error("invalid duration {0:?}: unknown unit {1:?} (use ns, us, ms, s, m or h)")]
    UnknownUnit(String, String),
    #[error("invalid duration {0:?}: must not be negative")]
    Negative(String),
    #[error("invalid duration {0:?}: out of range")]
    Overflow(String),
}

/// Parses `1h2m3.5s`-style durations. A bare `0` is zero, as in Go.
pub fn parse_duration(text: &str) -> Result<Duration, DurationError> {
    let s = text.trim();
    let invalid = || DurationError::Invalid(text.to_owned());
    if s.starts_with('-') {
        return Err(DurationError::Negative(text.to_owned()));
    }
    let s = s.strip_prefix('+').unwrap_or(s);
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u128 = 0;
    let mut rest = s;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let (number, after) = rest.split_at(number_len);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let unit_len = after
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let nanos_per_unit: u128 = match unit {
            "ns" => 1,
            "us" | "µs" | "μs" => 1_000,
            "ms" => 1_000_000,
            "s" => 1_000_000_000,
            "m" => 60_000_000_000,
            "h" => 3_600_000_000_000,
            "" => return Err(invalid()),
            other => {
                return Err(DurationError::UnknownUnit(
                    text.to_owned(),
                    other.to_owned(),
                ));
            }
        };
        let (whole, frac) = number.split_once('.').unwrap_or((number, ""));
        let whole: u128 = if whole.is_empty() {
            0
        } else {
            whole
                .parse()
                .map_err(|_| DurationError::Overflow(text.to_owned()))?
        };
        let mut nanos = whole
            .checked_mul(nanos_per_unit)
            .ok_or_else(|| DurationError::Overflow(text.to_owned()))?;
        // Fractional part: at most nanosecond precision, as Go.
        let mut scale = nanos_per_unit;
        for digit in frac.chars().filter_map(|c| c.to_digit(10)) {
            scale /= 10;
            if scale == 0 {
                break;
            }
            nanos += u128::from(digit) * scale;
        }
        total = total
            .checked_add(nanos)
            .ok_or_else(|| DurationError::Overflow(text.to_owned()))?;
        rest = after;
    }
    let secs = u64::try_from(total / 1_000_000_000)
        .map_err(|_| DurationError::Overflow(text.to_owned()))?;
    Ok(Duration::new(secs, (total % 1_000_000_000) as u32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_go_durations() {
        let ms = Duration::from_millis;
        let table = [
            ("1s", ms(1000)),
            ("0.5s", ms(500)),
            ("500ms", ms(500)),
            ("1m30s", ms(90_000)),
            ("2h", ms(7_200_000)),
            ("1.5h", ms(5_400_000)),
            ("10us", Duration::from_micros(10)),
            ("3ns", Duration::from_nanos(3)),
            ("0", Duration::ZERO),
            (".25s", ms(250)),
        ];
        for (text, want) in table {
            assert_eq!(parse_duration(text), Ok(want), "{text}");
        }
    }

    #[test]
    fn rejects_what_go_rejects() {
        assert!(matches!(
            parse_duration("1"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("s"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(parse_duration(""), Err(DurationError::Invalid(_))));
        assert!(matches!(
            parse_duration("1.2.3s"),
            Err(DurationError::Invalid(_))
        ));
        assert!(matches!(
            parse_duration("5 s"),
            Err(DurationError::UnknownUnit(..))
        ));
        assert!(matches!(
            parse_duration("1d"),
            Err(DurationError::UnknownUnit(..))
        ));
        assert!(matches!(
            parse_duration("-1s"),
            Err(DurationError::Negative(_))
        ));
    }
}
