//! Go's `%g` (`strconv.FormatFloat(x, 'g', prec, 64)`), which fortio's statistics lines use:
//! `%.8g` for averages, `%g` for min/max, `%.6g` in the histogram.

/// `%g` with `prec` significant digits (`None`: the shortest that reads back the same).
pub fn g(x: f64, prec: Option<usize>) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    if x == 0.0 {
        return "0".to_owned();
    }
    let sci = match prec {
        Some(p) => format!("{:.*e}", p.max(1) - 1, x.abs()),
        None => format!("{:e}", x.abs()),
    };
    let (mantissa, exponent) = sci.split_once('e').unwrap_or((&sci, "0"));
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    let digits = if digits.is_empty() { "0" } else { digits };
    let nd = digits.len() as i32;
    let exp = exponent.parse::<i32>().unwrap_or(0);
    let dp = exp + 1;
    let shortest = prec.is_none();
    let mut prec = prec.map_or(nd, |p| p.max(1) as i32);
    let mut eprec = prec;
    if eprec > nd && nd >= dp {
        eprec = nd;
    }
    // Go decides on the exponent form with precision 6 when printing the shortest digits.
    if shortest {
        eprec = 6;
    }
    let sign = if x < 0.0 { "-" } else { "" };
    if exp < -4 || exp >= eprec {
        if prec > nd {
            prec = nd;
        }
        let (first, rest) = digits.split_at(1);
        let rest = &rest[..(prec as usize - 1).min(rest.len())];
        let esign = if exp < 0 { '-' } else { '+' };
        let mantissa = if rest.is_empty() {
            first.to_owned()
        } else {
            format!("{first}.{rest}")
        };
        return format!("{sign}{mantissa}e{esign}{:02}", exp.abs());
    }
    if prec > dp {
        prec = nd;
    }
    let frac_len = (prec - dp).max(0) as usize;
    let digit = |i: i32| -> char {
        if i >= 0 && i < nd {
            digits.as_bytes()[i as usize] as char
        } else {
            '0'
        }
    };
    let int: String = if dp > 0 {
        (0..dp).map(digit).collect()
    } else {
        "0".to_owned()
    };
    let frac: String = (0..frac_len as i32).map(|i| digit(dp + i)).collect();
    if frac.is_empty() {
        format!("{sign}{int}")
    } else {
        format!("{sign}{int}.{frac}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_go() {
        assert_eq!(g(0.0056869, Some(8)), "0.0056869");
        assert_eq!(g(0.003869, Some(4)), "0.003869");
        assert_eq!(g(0.000499, None), "0.000499");
        assert_eq!(g(0.113738, Some(9)), "0.113738");
        assert_eq!(g(0.00001234, None), "1.234e-05");
        assert_eq!(g(334.16, Some(6)), "334.16");
        assert_eq!(g(1234567.0, Some(6)), "1.23457e+06");
        assert_eq!(g(20.0, Some(6)), "20");
        assert_eq!(g(0.0007495, Some(6)), "0.0007495");
        assert_eq!(g(100.0, None), "100");
    }
}
