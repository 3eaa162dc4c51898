//! Compiled string, header and query-parameter matchers (Envoy's `StringMatcher`,
//! `HeaderMatcher`, `QueryParameterMatcher`). Regexes are RE2-like and must match the whole value.

use http::HeaderMap;
use regex::Regex;

use crate::xds::matcher::{HeaderMatcher, QueryParameterMatcher, RegexMatcher, StringMatcher};

use super::super::Rejected;

/// Compiles an Envoy `safe_regex` so it matches the whole input (`^(?:…)$`).
pub fn full_regex(m: &RegexMatcher, path: &str) -> Result<Regex, Rejected> {
    Regex::new(&format!("^(?:{})$", m.regex)).map_err(|e| {
        Rejected::new(
            format!("{path}.regex"),
            format!(
                "invalid regex '{}': {}",
                m.regex,
                first_line(&e.to_string())
            ),
        )
    })
}

fn first_line(s: &str) -> String {
    s.lines().last().unwrap_or(s).trim().to_owned()
}

#[derive(Debug, Clone)]
pub enum StringMatch {
    Exact(String),
    Prefix(String),
    Suffix(String),
    Contains(String),
    Regex(Regex),
}

#[derive(Debug, Clone)]
pub struct CompiledString {
    kind: StringMatch,
    ignore_case: bool,
}

impl CompiledString {
    pub fn build(m: &StringMatcher, path: &str) -> Result<CompiledString, Rejected> {
        if m.kinds_set() != 1 {
            return Err(Rejected::new(
                path,
                "exactly one of exact, prefix, suffix, safe_regex, contains must be set",
            ));
        }
        let lower = |s: &String| {
            if m.ignore_case {
                s.to_ascii_lowercase()
            } else {
                s.clone()
            }
        };
        let kind = if let Some(s) = &m.exact {
            StringMatch::Exact(lower(s))
        } else if let Some(s) = &m.prefix {
            StringMatch::Prefix(lower(s))
        } else if let Some(s) = &m.suffix {
            StringMatch::Suffix(lower(s))
        } else if let Some(s) = &m.contains {
            StringMatch::Contains(lower(s))
        } else if let Some(r) = &m.safe_regex {
            StringMatch::Regex(full_regex(r, &format!("{path}.safe_regex"))?)
        } else {
            return Err(Rejected::new(path, "no match kind set"));
        };
        Ok(CompiledString {
            kind,
            ignore_case: m.ignore_case,
        })
    }

    pub fn matches(&self, value: &str) -> bool {
        if let StringMatch::Regex(re) = &self.kind {
            return re.is_match(value);
        }
        let owned;
        let v = if self.ignore_case {
            owned = value.to_ascii_lowercase();
            owned.as_str()
        } else {
            value
        };
        match &self.kind {
            StringMatch::Exact(s) => v == s,
            StringMatch::Prefix(s) => v.starts_with(s.as_str()),
            StringMatch::Suffix(s) => v.ends_with(s.as_str()),
            StringMatch::Contains(s) => v.contains(s.as_str()),
            StringMatch::Regex(_) => false,
        }
    }
}

#[derive(Debug, Clone)]
enum HeaderCheck {
    Present(bool),
    String(CompiledString),
    Range(i64, i64),
}

/// A route's header condition. Pseudo-headers (`:method`, `:authority`, `:path`, `:scheme`)
/// are matched too.
#[derive(Debug, Clone)]
pub struct CompiledHeader {
    name: String,
    check: HeaderCheck,
    invert: bool,
    missing_as_empty: bool,
}

impl CompiledHeader {
    pub fn build(m: &HeaderMatcher, path: &str) -> Result<CompiledHeader, Rejected> {
        let mut checks = Vec::new();
        let exact = |s: &String| StringMatcher {
            exact: Some(s.clone()),
            ..Default::default()
        };
        if let Some(s) = &m.exact_match {
            checks.push(HeaderCheck::String(CompiledString::build(&exact(s), path)?));
        }
        if let Some(r) = &m.safe_regex_match {
            checks.push(HeaderCheck::String(CompiledString {
                kind: StringMatch::Regex(full_regex(r, &format!("{path}.safe_regex_match"))?),
                ignore_case: false,
            }));
        }
        if let Some(r) = &m.range_match {
            checks.push(HeaderCheck::Range(r.start, r.end));
        }
        if let Some(p) = m.present_match {
            checks.push(HeaderCheck::Present(p));
        }
        for (value, make) in [
            (&m.prefix_match, "prefix"),
            (&m.suffix_match, "suffix"),
            (&m.contains_match, "contains"),
        ] {
            if let Some(v) = value {
                let mut sm = StringMatcher::default();
                match make {
                    "prefix" => sm.prefix = Some(v.clone()),
                    "suffix" => sm.suffix = Some(v.clone()),
                    _ => sm.contains = Some(v.clone()),
                }
                checks.push(HeaderCheck::String(CompiledString::build(&sm, path)?));
            }
        }
        if let Some(sm) = &m.string_match {
            checks.push(HeaderCheck::String(CompiledString::build(
                sm,
                &format!("{path}.string_match"),
            )?));
        }
        if checks.len() > 1 {
            return Err(Rejected::new(
                path,
                "only one header match kind may be set (exact_match, safe_regex_match, range_match, present_match, prefix_match, suffix_match, contains_match, string_match)",
            ));
        }
        // No match kind: the header must be present (Envoy's rule).
        let check = checks.pop().unwrap_or(HeaderCheck::Present(true));
        Ok(CompiledHeader {
            name: m.name.to_ascii_lowercase(),
            check,
            invert: m.invert_match,
            missing_as_empty: m.treat_missing_header_as_empty,
        })
    }

    pub fn matches(&self, headers: &HeaderMap, pseudo: &Pseudo<'_>) -> bool {
        let value = header_value(&self.name, headers, pseudo);
        let value = match (value, self.missing_as_empty) {
            (None, true) => Some(String::new()),
            (v, _) => v,
        };
        let matched = match (&self.check, value) {
            (HeaderCheck::Present(want), v) => v.is_some() == *want,
            (_, None) => false,
            (HeaderCheck::String(m), Some(v)) => m.matches(&v),
            (HeaderCheck::Range(start, end), Some(v)) => v
                .trim()
                .parse::<i64>()
                .is_ok_and(|n| n >= *start && n < *end),
        };
        // A missing header never matches an inverted value check (Envoy's rule), but does
        // match an inverted presence check.
        if !self.invert {
            return matched;
        }
        match &self.check {
            HeaderCheck::Present(_) => !matched,
            _ => {
                let present =
                    header_value(&self.name, headers, pseudo).is_some() || self.missing_as_empty;
                present && !matched
            }
        }
    }
}

/// The request's pseudo-headers, which live outside the header map in `http`.
pub struct Pseudo<'a> {
    pub method: &'a str,
    pub authority: &'a str,
    pub path: &'a str,
    pub scheme: &'a str,
}

/// Envoy matches multi-valued headers against their values joined with `,`.
fn header_value(name: &str, headers: &HeaderMap, pseudo: &Pseudo<'_>) -> Option<String> {
    match name {
        ":method" => return Some(pseudo.method.to_owned()),
        ":authority" | "host" if !pseudo.authority.is_empty() => {
            return Some(pseudo.authority.to_owned());
        }
        ":path" => return Some(pseudo.path.to_owned()),
        ":scheme" => return Some(pseudo.scheme.to_owned()),
        _ => {}
    }
    let mut values = headers.get_all(name).iter().peekable();
    values.peek()?;
    let joined: Vec<&str> = values.filter_map(|v| v.to_str().ok()).collect();
    Some(joined.join(","))
}

/// A route's query-parameter condition.
#[derive(Debug, Clone)]
pub struct CompiledQuery {
    name: String,
    check: Option<CompiledString>,
    present: Option<bool>,
}

impl CompiledQuery {
    pub fn build(m: &QueryParameterMatcher, path: &str) -> Result<CompiledQuery, Rejected> {
        let check = match &m.string_match {
            Some(sm) => Some(CompiledString::build(sm, &format!("{path}.string_match"))?),
            None => None,
        };
        if check.is_some() && m.present_match.is_some() {
            return Err(Rejected::new(
                path,
                "only one of string_match and present_match may be set",
            ));
        }
        Ok(CompiledQuery {
            name: m.name.clone(),
            check,
            present: m.present_match,
        })
    }

    pub fn matches(&self, query: &[(String, String)]) -> bool {
        let value = query.iter().find(|(k, _)| *k == self.name).map(|(_, v)| v);
        match (&self.check, self.present, value) {
            (Some(m), _, Some(v)) => m.matches(v),
            (Some(_), _, None) => false,
            (None, Some(false), v) => v.is_none(),
            (None, _, v) => v.is_some(),
        }
    }
}

/// Splits and percent-decodes a query string (`a=1&b=x%20y` → [("a","1"),("b","x y")]).
pub fn parse_query(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 3;
                }
                Err(_) => {
                    out.push(b'%');
                    i += 1;
                }
            },
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pseudo() -> Pseudo<'static> {
        Pseudo {
            method: "GET",
            authority: "example.com",
            path: "/a?b=1",
            scheme: "http",
        }
    }

    fn header(yaml: &str) -> CompiledHeader {
        let m: HeaderMatcher = crate::xds::decode::decode_str("t", yaml).unwrap();
        CompiledHeader::build(&m, "h").unwrap()
    }

    #[test]
    fn header_matchers() {
        let mut h = HeaderMap::new();
        h.insert("x-user", "alice".parse().unwrap());
        h.append("x-multi", "a".parse().unwrap());
        h.append("x-multi", "b".parse().unwrap());
        let p = pseudo();
        assert!(header("{name: x-user, exact_match: alice}").matches(&h, &p));
        assert!(!header("{name: x-user, exact_match: bob}").matches(&h, &p));
        assert!(header("{name: x-user, string_match: {prefix: al}}").matches(&h, &p));
        assert!(header("{name: X-User, safe_regex_match: {regex: 'a.*e'}}").matches(&h, &p));
        assert!(!header("{name: x-user, safe_regex_match: {regex: 'a'}}").matches(&h, &p));
        assert!(header("{name: x-user}").matches(&h, &p));
        assert!(header("{name: x-none, present_match: false}").matches(&h, &p));
        assert!(header("{name: x-multi, exact_match: 'a,b'}").matches(&h, &p));
        assert!(header("{name: x-user, exact_match: bob, invert_match: true}").matches(&h, &p));
        assert!(!header("{name: x-none, exact_match: bob, invert_match: true}").matches(&h, &p));
        assert!(header("{name: ':method', exact_match: GET}").matches(&h, &p));
        assert!(
            header("{name: x-none, treat_missing_header_as_empty: true, exact_match: ''}")
                .matches(&h, &p)
        );
        h.insert("x-n", "42".parse().unwrap());
        assert!(header("{name: x-n, range_match: {start: 40, end: 43}}").matches(&h, &p));
        assert!(!header("{name: x-n, range_match: {start: 40, end: 42}}").matches(&h, &p));
        assert!(
            header("{name: x-user, string_match: {exact: ALICE, ignore_case: true}}")
                .matches(&h, &p)
        );
    }

    #[test]
    fn query_matchers() {
        let q = parse_query("a=1&b=x%20y&flag");
        assert_eq!(q[1], ("b".to_owned(), "x y".to_owned()));
        let m = |yaml: &str| {
            let m: QueryParameterMatcher = crate::xds::decode::decode_str("t", yaml).unwrap();
            CompiledQuery::build(&m, "q").unwrap()
        };
        assert!(m("{name: a, string_match: {exact: '1'}}").matches(&q));
        assert!(!m("{name: a, string_match: {exact: '2'}}").matches(&q));
        assert!(m("{name: flag, present_match: true}").matches(&q));
        assert!(m("{name: flag}").matches(&q));
        assert!(!m("{name: nope}").matches(&q));
        assert!(m("{name: nope, present_match: false}").matches(&q));
    }

    #[test]
    fn bad_regex_is_rejected_with_its_path() {
        let m: HeaderMatcher =
            crate::xds::decode::decode_str("t", "{name: x, safe_regex_match: {regex: '(('}}")
                .unwrap();
        let err = CompiledHeader::build(&m, "routes[0].match.headers[0]").unwrap_err();
        assert_eq!(
            err.path,
            "routes[0].match.headers[0].safe_regex_match.regex"
        );
        assert!(err.reason.contains("invalid regex"), "{}", err.reason);
    }
}
