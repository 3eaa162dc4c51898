//! Choosing a listener's filter chain the way Envoy does: by destination port, destination IP,
//! server name, transport protocol, application protocols and source IP — each criterion in
//! turn keeping the most specific chains, a chain that leaves a criterion unset matching any.

use std::net::{IpAddr, SocketAddr};

use crate::xds::listener::{CidrRange, FilterChainMatch};

use super::super::Rejected;
use super::inspect::Detected;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cidr {
    ip: IpAddr,
    len: u8,
}

impl Cidr {
    fn parse(r: &CidrRange, path: &str) -> Result<Cidr, Rejected> {
        let ip: IpAddr = r.address_prefix.parse().map_err(|_| {
            Rejected::new(
                format!("{path}.address_prefix"),
                format!("malformed IP address: {}", r.address_prefix),
            )
        })?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let len = r.prefix_len.unwrap_or(max);
        if len > max {
            return Err(Rejected::new(
                format!("{path}.prefix_len"),
                format!("prefix length {len} is longer than {max}"),
            ));
        }
        Ok(Cidr { ip, len: len as u8 })
    }

    fn contains(&self, ip: IpAddr) -> bool {
        match (self.ip, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.len))
                };
                u32::from(a) & mask == u32::from(b) & mask
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => {
                let mask = if self.len == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.len))
                };
                u128::from(a) & mask == u128::from(b) & mask
            }
            _ => false,
        }
    }
}

/// A compiled `filter_chain_match`.
#[derive(Debug, Clone, Default)]
pub struct ChainMatch {
    destination_port: Option<u16>,
    prefix_ranges: Vec<Cidr>,
    server_names: Vec<String>,
    transport_protocol: Option<String>,
    application_protocols: Vec<String>,
    source_prefix_ranges: Vec<Cidr>,
}

impl ChainMatch {
    pub fn build(m: Option<&FilterChainMatch>, path: &str) -> Result<ChainMatch, Rejected> {
        let Some(m) = m else {
            return Ok(ChainMatch::default());
        };
        let cidrs = |v: &[CidrRange], field: &str| -> Result<Vec<Cidr>, Rejected> {
            v.iter()
                .enumerate()
                .map(|(i, r)| Cidr::parse(r, &format!("{path}.filter_chain_match.{field}[{i}]")))
                .collect()
        };
        Ok(ChainMatch {
            destination_port: match m.destination_port {
                Some(p) => Some(u16::try_from(p).map_err(|_| {
                    Rejected::new(
                        format!("{path}.filter_chain_match.destination_port"),
                        "value must be inside range [1, 65535]",
                    )
                })?),
                None => None,
            },
            prefix_ranges: cidrs(&m.prefix_ranges, "prefix_ranges")?,
            server_names: m
                .server_names
                .iter()
                .map(|s| s.to_ascii_lowercase())
                .collect(),
            transport_protocol: (!m.transport_protocol.is_empty())
                .then(|| m.transport_protocol.clone()),
            application_protocols: m.application_protocols.clone(),
            source_prefix_ranges: cidrs(&m.source_prefix_ranges, "source_prefix_ranges")?,
        })
    }

    /// True when two chains would match exactly the same connections (Envoy refuses that).
    pub fn same_as(&self, other: &ChainMatch) -> bool {
        self.destination_port == other.destination_port
            && self.prefix_ranges == other.prefix_ranges
            && self.server_names == other.server_names
            && self.transport_protocol == other.transport_protocol
            && self.application_protocols == other.application_protocols
            && self.source_prefix_ranges == other.source_prefix_ranges
    }
}

/// What a connection looks like to chain matching.
pub struct ConnView<'a> {
    pub destination: SocketAddr,
    pub source: SocketAddr,
    pub detected: &'a Detected,
}

/// The index of the chain for a connection, or `None` (then the default chain, if any).
pub fn select(chains: &[ChainMatch], c: &ConnView<'_>) -> Option<usize> {
    let mut cand: Vec<usize> = (0..chains.len()).collect();
    // Destination port: exact beats unset.
    narrow(&mut cand, |i| match chains[i].destination_port {
        Some(p) if p == c.destination.port() => Some(1),
        Some(_) => None,
        None => Some(0),
    });
    // Destination IP: the longest matching prefix beats unset.
    narrow(&mut cand, |i| {
        longest(&chains[i].prefix_ranges, c.destination.ip())
    });
    // Server name: exact beats wildcard (longest suffix) beats unset.
    narrow(&mut cand, |i| {
        let names = &chains[i].server_names;
        if names.is_empty() {
            return Some(0);
        }
        let sni = c.detected.server_name.as_deref()?.to_ascii_lowercase();
        names
            .iter()
            .filter_map(|n| {
                if *n == sni {
                    Some(1000)
                } else if let Some(suffix) = n.strip_prefix('*') {
                    sni.ends_with(suffix).then_some(suffix.len())
                } else {
                    None
                }
            })
            .max()
    });
    narrow(&mut cand, |i| match &chains[i].transport_protocol {
        None => Some(0),
        Some(t) => (Some(t.as_str()) == c.detected.transport.or(Some("raw_buffer"))).then_some(1),
    });
    narrow(&mut cand, |i| {
        let protos = &chains[i].application_protocols;
        if protos.is_empty() {
            return Some(0);
        }
        protos
            .iter()
            .any(|p| c.detected.application_protocols.contains(p))
            .then_some(1)
    });
    narrow(&mut cand, |i| {
        longest(&chains[i].source_prefix_ranges, c.source.ip())
    });
    cand.first().copied()
}

fn longest(ranges: &[Cidr], ip: IpAddr) -> Option<usize> {
    if ranges.is_empty() {
        return Some(0);
    }
    ranges
        .iter()
        .filter(|r| r.contains(ip))
        .map(|r| usize::from(r.len) + 1)
        .max()
}

/// Keeps the candidates with the best score; `None` scores are dropped.
fn narrow(cand: &mut Vec<usize>, score: impl Fn(usize) -> Option<usize>) {
    let scored: Vec<(usize, usize)> = cand
        .iter()
        .filter_map(|i| score(*i).map(|s| (*i, s)))
        .collect();
    let best = scored.iter().map(|(_, s)| *s).max();
    *cand = scored
        .into_iter()
        .filter(|(_, s)| Some(*s) == best)
        .map(|(i, _)| i)
        .collect();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(yaml: &str) -> ChainMatch {
        let fcm: FilterChainMatch = crate::xds::decode::decode_str("t", yaml).unwrap();
        ChainMatch::build(Some(&fcm), "c").unwrap()
    }

    fn view(dst: &str, d: &Detected) -> usize {
        let chains = vec![
            m("{}"),
            m("{destination_port: 8080}"),
            m("{destination_port: 8080, transport_protocol: tls}"),
            m("{destination_port: 8080, application_protocols: [http/1.1, h2c]}"),
            m("{server_names: [a.io]}"),
            m("{server_names: ['*.b.io']}"),
        ];
        select(
            &chains,
            &ConnView {
                destination: dst.parse().unwrap(),
                source: "127.0.0.1:1".parse().unwrap(),
                detected: d,
            },
        )
        .unwrap()
    }

    #[test]
    fn most_specific_chain_wins() {
        let none = Detected::default();
        assert_eq!(view("10.0.0.1:9", &none), 0);
        assert_eq!(view("10.0.0.1:8080", &none), 1);
        let tls = Detected {
            transport: Some("tls"),
            ..Default::default()
        };
        assert_eq!(view("10.0.0.1:8080", &tls), 2);
        let http = Detected {
            transport: Some("raw_buffer"),
            application_protocols: vec!["http/1.1".into()],
            ..Default::default()
        };
        assert_eq!(view("10.0.0.1:8080", &http), 3);
        let sni = Detected {
            server_name: Some("x.b.io".into()),
            ..Default::default()
        };
        assert_eq!(view("10.0.0.1:9", &sni), 5);
        let exact = Detected {
            server_name: Some("a.io".into()),
            ..Default::default()
        };
        assert_eq!(view("10.0.0.1:9", &exact), 4);
    }

    #[test]
    fn cidrs() {
        let c = Cidr::parse(
            &CidrRange {
                address_prefix: "10.0.0.0".into(),
                prefix_len: Some(8),
            },
            "p",
        )
        .unwrap();
        assert!(c.contains("10.2.3.4".parse().unwrap()));
        assert!(!c.contains("11.0.0.1".parse().unwrap()));
    }
}
