//! go-yaml v2's implicit typing (`resolve.go`): which plain scalars would read back as
//! something other than a string. The encoder double-quotes such strings (`"80"`, `"true"`,
//! `"2023-05-16T01:32:52Z"`) and prints the rest plain.

/// Whether the plain scalar `s` resolves to a string (`!!str`) and is not a YAML 1.1
/// base-60 float (`1:20`), i.e. whether go-yaml may print it unquoted.
pub fn plain_is_string(s: &str) -> bool {
    resolves_to_string(s) && !is_base60_float(s)
}

fn resolves_to_string(s: &str) -> bool {
    let Some(&first) = s.as_bytes().first() else {
        return false; // "" is null
    };
    const SPECIAL: &[&str] = &[
        "y", "Y", "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON", "n", "N", "no",
        "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF", "~", "null", "Null", "NULL",
        ".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf",
        "-.Inf", "-.INF",
    ];
    let hint = match first {
        b'+' | b'-' | b'0'..=b'9' => 'D',
        b'.' => '.',
        b'y' | b'Y' | b'n' | b'N' | b't' | b'T' | b'f' | b'F' | b'o' | b'O' | b'~' => 'M',
        _ => return true,
    };
    if SPECIAL.contains(&s) {
        return false;
    }
    match hint {
        '.' => s.parse::<f64>().is_err() || !looks_like_go_float(s),
        'D' => {
            if is_timestamp(s) {
                return false;
            }
            let plain: String = s.chars().filter(|&c| c != '_').collect();
            if parse_go_int(&plain).is_some() || is_yaml_float(&plain) {
                return false;
            }
            true
        }
        _ => true,
    }
}

/// Rust parses more than Go's `ParseFloat` for a string starting with '.' only in accepting
/// nothing extra (digits, '.', exponent); both reject the rest.
fn looks_like_go_float(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
}

/// `strconv.ParseInt(s, 0, 64)` or `ParseUint(s, 0, 64)` succeeds: optional sign, `0x`/`0o`/
/// `0b` prefixes, a leading `0` meaning octal.
pub fn parse_go_int(s: &str) -> Option<u128> {
    let (neg, body) = match s.as_bytes().first() {
        Some(b'+') => (false, &s[1..]),
        Some(b'-') => (true, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let (radix, digits) = if let Some(rest) = lower.strip_prefix("0x") {
        (16, rest)
    } else if let Some(rest) = lower.strip_prefix("0o") {
        (8, rest)
    } else if let Some(rest) = lower.strip_prefix("0b") {
        (2, rest)
    } else if lower.len() > 1 && lower.starts_with('0') {
        (8, &lower[1..])
    } else {
        (10, lower.as_str())
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let value = u128::from_str_radix(digits, radix).ok()?;
    let fits = if neg {
        value <= 1u128 << 63
    } else {
        value <= u128::from(u64::MAX)
    };
    fits.then_some(value)
}

/// `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while b.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i - start
    };
    if b.get(i) == Some(&b'.') {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if b.get(i) == Some(&b'.') {
            i += 1;
            digits(&mut i);
        }
    }
    if matches!(b.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(b.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// `^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`
fn is_base60_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if matches!(b.first(), Some(b'+' | b'-')) {
        i += 1;
    }
    if !b.get(i).is_some_and(u8::is_ascii_digit) {
        return false;
    }
    while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
        i += 1;
    }
    let mut groups = 0;
    while b.get(i) == Some(&b':') {
        i += 1;
        let start = i;
        while i - start < 2 && b.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        // [0-5]?[0-9]: one digit, or two with the first at most 5.
        match i - start {
            1 => {}
            2 if b[start] <= b'5' => {}
            2 => i = start + 1,
            _ => return false,
        }
        groups += 1;
    }
    if groups == 0 {
        return false;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        while b.get(i).is_some_and(|c| c.is_ascii_digit() || *c == b'_') {
            i += 1;
        }
    }
    i == b.len()
}

/// go-yaml's `parseTimestamp`: `2006-1-2T15:4:5.999999999Z07:00` (also with `t` or a space
/// and no zone) or `2006-1-2`, with Go's range checks.
pub fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() < 5 || !b[..4].iter().all(u8::is_ascii_digit) || b[4] != b'-' {
        return false;
    }
    let mut p = Cursor { b, i: 5 };
    let year = atoi(&b[..4]);
    let Some(month) = p.num() else { return false };
    if !p.eat(b'-') {
        return false;
    }
    let Some(day) = p.num() else { return false };
    if !(1..=12).contains(&month) || day < 1 || day > days_in(month, year) {
        return false;
    }
    if p.done() {
        return true;
    }
    let zoned = match b.get(p.i) {
        Some(b'T' | b't') => true,
        Some(b' ') => false,
        _ => return false,
    };
    p.i += 1;
    let Some(hour) = p.num() else { return false };
    if !p.eat(b':') {
        return false;
    }
    let Some(minute) = p.num() else { return false };
    if !p.eat(b':') {
        return false;
    }
    let Some(second) = p.num() else { return false };
    if hour >= 24 || minute >= 60 || second >= 60 {
        return false;
    }
    if matches!(b.get(p.i), Some(b'.' | b',')) && b.get(p.i + 1).is_some_and(u8::is_ascii_digit) {
        p.i += 1;
        while b.get(p.i).is_some_and(u8::is_ascii_digit) {
            p.i += 1;
        }
    }
    if !zoned {
        return p.done();
    }
    match b.get(p.i) {
        Some(b'Z') => p.i += 1,
        Some(b'+' | b'-') => {
            p.i += 1;
            let two = |i: usize| {
                b.get(i..i + 2)
                    .is_some_and(|d| d.iter().all(u8::is_ascii_digit))
            };
            if !(two(p.i) && b.get(p.i + 2) == Some(&b':') && two(p.i + 3)) {
                return false;
            }
            p.i += 5;
        }
        _ => return false,
    }
    p.done()
}

struct Cursor<'a> {
    b: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    /// Go's `getnum(s, false)`: one or two digits.
    fn num(&mut self) -> Option<u32> {
        let d0 = *self.b.get(self.i).filter(|c| c.is_ascii_digit())?;
        self.i += 1;
        match self.b.get(self.i).filter(|c| c.is_ascii_digit()) {
            Some(&d1) => {
                self.i += 1;
                Some(u32::from(d0 - b'0') * 10 + u32::from(d1 - b'0'))
            }
            None => Some(u32::from(d0 - b'0')),
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        let ok = self.b.get(self.i) == Some(&c);
        if ok {
            self.i += 1;
        }
        ok
    }

    fn done(&self) -> bool {
        self.i == self.b.len()
    }
}

fn atoi(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |n, d| n * 10 + u32::from(d.wrapping_sub(b'0')))
}

fn days_in(month: u32, year: u32) -> u32 {
    match month {
        2 if year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400)) => {
            29
        }
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_that_read_back_as_other_types_need_quotes() {
        for s in [
            "",
            "80",
            "5",
            "-1",
            "+1",
            "0x1F",
            "0o17",
            "017",
            "08",
            "1_000",
            "1.5",
            ".5",
            "1e3",
            "true",
            "False",
            "yes",
            "off",
            "y",
            "null",
            "~",
            ".inf",
            "-.Inf",
            "1:20",
            "2023-05-16T01:32:52Z",
            "2025-04-18T14:24:16.123Z",
            "2023-05-16",
            "2023-5-6 1:2:3",
            "2023-05-16T01:32:52+02:00",
        ] {
            assert!(!plain_is_string(s), "{s:?} should need quotes");
        }
    }

    #[test]
    fn ordinary_strings_stay_plain() {
        for s in [
            "0s",
            "10s",
            "0.250s",
            "-",
            "http.8080",
            "10.10.0.15",
            "127.0.0.1:15000",
            "*",
            "outbound|80||catalog.istioinaction.svc.cluster.local",
            "2023-11-29T10:46:50Z/15",
            "2023-13-01",
            "2023-02-30",
            "1.2.3.4",
            "v1",
            "o",
            "t1",
            ".",
            "0b2",
            "1e",
            "n/a",
            "STATIC",
            "1:60",
            "<<",
        ] {
            assert!(plain_is_string(s), "{s:?} should stay plain");
        }
    }
}
