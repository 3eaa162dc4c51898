//! Name resolution: the system resolver, with `--resolve NAME=IP` overrides taking precedence
//! (what `docker run --link httpbin` gave the book's proxy).

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::sync::Arc;

/// Which address families a lookup returns (Envoy's `dns_lookup_family`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Family {
    /// IPv6 when the name has any, else IPv4 (Envoy's AUTO).
    #[default]
    Auto,
    V4Only,
    V6Only,
    /// IPv4 when the name has any, else IPv6.
    V4Preferred,
    All,
}

#[derive(Debug, Clone, Default)]
pub struct Resolver {
    overrides: Arc<HashMap<String, Vec<IpAddr>>>,
}

impl Resolver {
    /// A resolver where `overrides` answer first (names compared case-insensitively).
    pub fn new(overrides: impl IntoIterator<Item = (String, IpAddr)>) -> Resolver {
        let mut map: HashMap<String, Vec<IpAddr>> = HashMap::new();
        for (name, ip) in overrides {
            map.entry(name.to_ascii_lowercase()).or_default().push(ip);
        }
        Resolver {
            overrides: Arc::new(map),
        }
    }

    /// The same resolver with more names (they take precedence over earlier ones).
    pub fn with(&self, more: impl IntoIterator<Item = (String, IpAddr)>) -> Resolver {
        let mut map: HashMap<String, Vec<IpAddr>> = (*self.overrides).clone();
        for (name, ip) in more {
            map.insert(name.to_ascii_lowercase(), vec![ip]);
        }
        Resolver {
            overrides: Arc::new(map),
        }
    }

    /// Resolves `host` to addresses of the wanted family; an IP literal resolves to itself.
    pub async fn resolve(&self, host: &str, family: Family) -> io::Result<Vec<IpAddr>> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let found: Vec<IpAddr> = match self.overrides.get(&host.to_ascii_lowercase()) {
            Some(ips) => ips.clone(),
            None => tokio::net::lookup_host((host, 0))
                .await?
                .map(|sa| sa.ip())
                .collect(),
        };
        let picked = pick(&found, family);
        if picked.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("no {family:?} address for {host}"),
            ));
        }
        Ok(picked)
    }
}

fn pick(found: &[IpAddr], family: Family) -> Vec<IpAddr> {
    let mut seen = Vec::new();
    for ip in found {
        if !seen.contains(ip) {
            seen.push(*ip);
        }
    }
    let v4: Vec<IpAddr> = seen.iter().copied().filter(IpAddr::is_ipv4).collect();
    let v6: Vec<IpAddr> = seen.iter().copied().filter(IpAddr::is_ipv6).collect();
    match family {
        Family::V4Only => v4,
        Family::V6Only => v6,
        Family::Auto if !v6.is_empty() => v6,
        Family::Auto => v4,
        Family::V4Preferred if !v4.is_empty() => v4,
        Family::V4Preferred => v6,
        Family::All => seen,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overrides_answer_first_and_literals_resolve_to_themselves() {
        let r = Resolver::new([("HttpBin".to_owned(), "127.0.0.7".parse().unwrap())]);
        let ips = r.resolve("httpbin", Family::V4Only).await.unwrap();
        assert_eq!(ips, vec!["127.0.0.7".parse::<IpAddr>().unwrap()]);
        let ips = r.resolve("10.1.2.3", Family::Auto).await.unwrap();
        assert_eq!(ips, vec!["10.1.2.3".parse::<IpAddr>().unwrap()]);
        assert!(r.resolve("httpbin", Family::V6Only).await.is_err());
    }

    #[tokio::test]
    async fn localhost_resolves() {
        let ips = Resolver::default()
            .resolve("localhost", Family::V4Only)
            .await
            .unwrap();
        assert!(ips.iter().all(|ip| ip.is_loopback()));
    }
}
