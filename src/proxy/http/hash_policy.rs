//! A route's `hash_policy`: what of a request a RING_HASH or MAGLEV cluster hashes — a header,
//! a cookie (made by the proxy when `ttl` is set and the client has none), the source IP, a
//! query parameter — folded in order as Envoy folds them, stopping at a `terminal` policy that
//! produced a hash.

use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderMap, HeaderName};
use regex::Regex;

use crate::proxy::Rejected;
use crate::proxy::cluster::hashing::{combine, hash_text};
use crate::xds::route::HashPolicy;

#[derive(Debug)]
enum Input {
    Header {
        name: HeaderName,
        rewrite: Option<(Regex, String)>,
    },
    Cookie {
        name: String,
        ttl: Option<Duration>,
        path: String,
    },
    SourceIp,
    Query(String),
}

#[derive(Debug)]
pub struct HashPolicyRt {
    input: Input,
    terminal: bool,
}

/// A request's hash, and the cookie to set on the response when the proxy made one.
#[derive(Debug, Default, PartialEq)]
pub struct Hashed {
    pub hash: Option<u64>,
    pub set_cookie: Option<String>,
}

pub fn build(policies: &[HashPolicy], path: &str) -> Result<Vec<HashPolicyRt>, Vec<Rejected>> {
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, p) in policies.iter().enumerate() {
        let at = format!("{path}.hash_policy[{i}]");
        let set = [
            p.header.is_some(),
            p.cookie.is_some(),
            p.connection_properties.is_some(),
            p.query_parameter.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            errors.push(Rejected::new(
                at,
                "HashPolicyValidationError.PolicySpecifier: exactly one of header, cookie, connection_properties, query_parameter is required",
            ));
            continue;
        }
        let input = if let Some(h) = &p.header {
            let name = match HeaderName::try_from(h.header_name.to_ascii_lowercase()) {
                Ok(n) => n,
                Err(_) => {
                    errors.push(Rejected::new(
                        format!("{at}.header.header_name"),
                        format!("invalid header name {:?}", h.header_name),
                    ));
                    continue;
                }
            };
            let rewrite = match &h.regex_rewrite {
                Some(r) => match Regex::new(&r.pattern.regex) {
                    Ok(re) => Some((re, r.substitution.clone())),
                    Err(e) => {
                        errors.push(Rejected::new(
                            format!("{at}.header.regex_rewrite.pattern.regex"),
                            format!("invalid regex: {e}"),
                        ));
                        continue;
                    }
                },
                None => None,
            };
            Input::Header { name, rewrite }
        } else if let Some(c) = &p.cookie {
            Input::Cookie {
                name: c.name.clone(),
                ttl: c.ttl.map(|t| t.get()),
                path: c.path.clone(),
            }
        } else if let Some(cp) = &p.connection_properties {
            if !cp.source_ip {
                // Envoy accepts it and hashes nothing.
                continue;
            }
            Input::SourceIp
        } else if let Some(q) = &p.query_parameter {
            Input::Query(q.name.clone())
        } else {
            continue;
        };
        out.push(HashPolicyRt {
            input,
            terminal: p.terminal,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn cookie_value<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

fn query_value<'a>(path: &'a str, name: &str) -> Option<&'a str> {
    let (_, query) = path.split_once('?')?;
    query
        .split('&')
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The request's hash under these policies (`None`: nothing to hash; the cluster picks at
/// random).
pub fn compute(
    policies: &[HashPolicyRt],
    headers: &HeaderMap,
    peer: SocketAddr,
    path: &str,
) -> Hashed {
    let mut out = Hashed::default();
    for p in policies {
        let value: Option<u64> = match &p.input {
            Input::Header { name, rewrite } => {
                let mut values: Vec<&str> = headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .collect();
                if values.is_empty() {
                    None
                } else {
                    // Several values hash as one, in a stable order.
                    values.sort_unstable();
                    let joined = values.join(",");
                    let text = match rewrite {
                        Some((re, sub)) => re.replace_all(&joined, sub.as_str()).into_owned(),
                        None => joined,
                    };
                    Some(hash_text(&text))
                }
            }
            Input::Cookie { name, ttl, path } => match cookie_value(headers, name) {
                Some(v) => Some(hash_text(v)),
                None => match ttl {
                    // Envoy's made-up cookie: the same for every request of a connection.
                    Some(ttl) => {
                        let value = format!("{:016x}", hash_text(&peer.to_string()));
                        let mut cookie = format!("{name}=\"{value}\"; Max-Age={}", ttl.as_secs());
                        if !path.is_empty() {
                            cookie.push_str(&format!("; Path={path}"));
                        }
                        cookie.push_str("; HttpOnly");
                        out.set_cookie = Some(cookie);
                        Some(hash_text(&value))
                    }
                    None => None,
                },
            },
            Input::SourceIp => Some(hash_text(&peer.ip().to_string())),
            Input::Query(name) => query_value(path, name).map(hash_text),
        };
        if let Some(v) = value {
            out.hash = Some(combine(out.hash, v));
            if p.terminal {
                break;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::route::{HashConnectionProperties, HashCookie, HashHeader, HashQueryParameter};

    fn peer() -> SocketAddr {
        "127.10.0.5:40000".parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::try_from(*k).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn each_input_hashes_what_it_names() {
        let header = build(
            &[HashPolicy {
                header: Some(HashHeader {
                    header_name: "x-user".into(),
                    regex_rewrite: None,
                }),
                ..Default::default()
            }],
            "r",
        )
        .unwrap();
        let a = compute(&header, &headers(&[("x-user", "jason")]), peer(), "/");
        assert_eq!(a.hash, Some(hash_text("jason")));
        assert_eq!(compute(&header, &headers(&[]), peer(), "/").hash, None);
        let query = build(
            &[HashPolicy {
                query_parameter: Some(HashQueryParameter { name: "u".into() }),
                ..Default::default()
            }],
            "r",
        )
        .unwrap();
        assert_eq!(
            compute(&query, &headers(&[]), peer(), "/p?a=1&u=bob").hash,
            Some(hash_text("bob"))
        );
        let ip = build(
            &[HashPolicy {
                connection_properties: Some(HashConnectionProperties { source_ip: true }),
                ..Default::default()
            }],
            "r",
        )
        .unwrap();
        assert_eq!(
            compute(&ip, &headers(&[]), peer(), "/").hash,
            Some(hash_text("127.10.0.5"))
        );
    }

    #[test]
    fn a_cookie_is_made_when_missing_and_a_ttl_is_set() {
        let cookie = build(
            &[HashPolicy {
                cookie: Some(HashCookie {
                    name: "user".into(),
                    ttl: Some(crate::xds::de::Duration::from_secs(60)),
                    path: "/".into(),
                }),
                ..Default::default()
            }],
            "r",
        )
        .unwrap();
        let made = compute(&cookie, &headers(&[]), peer(), "/");
        let set = made.set_cookie.clone().unwrap();
        assert!(set.starts_with("user=\""), "{set}");
        assert!(set.ends_with("\"; Max-Age=60; Path=/; HttpOnly"), "{set}");
        // The client sends it back: the same hash, no new cookie.
        let value = set.split('"').nth(1).unwrap();
        let back = compute(
            &cookie,
            &headers(&[("cookie", &format!("a=b; user=\"{value}\""))]),
            peer(),
            "/",
        );
        assert_eq!(back.hash, made.hash);
        assert_eq!(back.set_cookie, None);
    }

    #[test]
    fn policies_fold_and_terminal_stops() {
        let p = |name: &str, terminal: bool| HashPolicy {
            header: Some(HashHeader {
                header_name: name.into(),
                regex_rewrite: None,
            }),
            terminal,
            ..Default::default()
        };
        let h = headers(&[("a", "1"), ("b", "2")]);
        let both = build(&[p("a", false), p("b", false)], "r").unwrap();
        assert_eq!(
            compute(&both, &h, peer(), "/").hash,
            Some(combine(Some(hash_text("1")), hash_text("2")))
        );
        let first = build(&[p("a", true), p("b", false)], "r").unwrap();
        assert_eq!(compute(&first, &h, peer(), "/").hash, Some(hash_text("1")));
        assert!(build(&[HashPolicy::default()], "r").is_err());
    }
}
