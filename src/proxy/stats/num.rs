//! Number formatting that matches Envoy's admin output byte for byte: fmt's `{}` (shortest
//! round-trip) for the text quantile summary, and printf-style `%g` with a precision for JSON
//! (`%g`) and Prometheus (`%.32g`).

/// Formats like fmt's `{}` for a double: the shortest digits that round-trip, fixed notation for
/// decimal exponents in `-4..16`, exponent notation (`1e+16`) outside it, `nan` / `inf`.
pub(crate) fn shortest(x: f64) -> String {
    if let Some(s) = non_finite(x) {
        return s;
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // `{:e}` gives the shortest round-trip digits with a decimal exponent, e.g. "3.025e0".
    let sci = format!("{x:e}");
    let (mantissa, exp) = split_exponent(&sci);
    if (-4..16).contains(&exp) {
        // Rust's `{}` is the same shortest digits written without an exponent.
        format!("{x}")
    } else {
        format!("{mantissa}{}", exponent_suffix(exp))
    }
}

/// Formats like printf's `%.<precision>g`: `precision` significant digits, trailing zeros
/// removed, exponent notation when the exponent is below -4 or at least `precision`.
pub(crate) fn general(x: f64, precision: usize) -> String {
    if let Some(s) = non_finite(x) {
        return s;
    }
    let p = precision.max(1);
    // Round once in scientific form; that decides the exponent, as C's %g does.
    let sci = format!("{:.*e}", p - 1, x);
    let (mantissa, exp) = split_exponent(&sci);
    let p_i = i32::try_from(p).unwrap_or(i32::MAX);
    if exp < -4 || exp >= p_i {
        format!("{}{}", strip_zeros(mantissa), exponent_suffix(exp))
    } else {
        let decimals = usize::try_from(p_i - 1 - exp).unwrap_or(0);
        strip_zeros(&format!("{x:.decimals$}")).to_string()
    }
}

fn non_finite(x: f64) -> Option<String> {
    if x.is_nan() {
        Some("nan".to_string())
    } else if x.is_infinite() {
        Some(if x > 0.0 { "inf" } else { "-inf" }.to_string())
    } else {
        None
    }
}

/// Splits Rust's `{:e}` output ("1.5e-7") into mantissa and exponent.
fn split_exponent(sci: &str) -> (&str, i32) {
    match sci.split_once('e') {
        Some((m, e)) => (m, e.parse().unwrap_or(0)),
        None => (sci, 0),
    }
}

/// C style exponent: sign always, at least two digits ("e+16", "e-05").
fn exponent_suffix(exp: i32) -> String {
    let sign = if exp < 0 { '-' } else { '+' };
    format!("e{sign}{:02}", exp.unsigned_abs())
}

fn strip_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shortest_matches_fmt() {
        for (x, want) in [
            (3.0, "3"),
            (3.025, "3.025"),
            (3.1, "3.1"),
            (1050.0, "1050"),
            (0.0001, "0.0001"),
            (0.00001, "1e-05"),
            (1e16, "1e+16"),
            (1.5e17, "1.5e+17"),
            (123456789.0, "123456789"),
            (f64::NAN, "nan"),
            (0.0, "0"),
        ] {
            assert_eq!(shortest(x), want, "{x}");
        }
    }

    #[test]
    fn general_matches_printf() {
        // Expected values are what C's printf prints.
        for (x, p, want) in [
            (3.05, 32, "3.049999999999999822364316059975"),
            (0.5, 32, "0.5"),
            (3600000.0, 32, "3600000"),
            (0.0, 32, "0"),
            (3.025, 6, "3.025"),
            (1050.0, 6, "1050"),
            (1234567.0, 6, "1.23457e+06"),
            (0.0000123, 6, "1.23e-05"),
            (99.5, 6, "99.5"),
            (100.0, 6, "100"),
        ] {
            assert_eq!(general(x, p), want, "{x} %.{p}g");
        }
    }
}
