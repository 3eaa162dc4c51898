//! Loopback addresses for a sandbox: pod IPs (`127.<10+slot>.x.y`), each pod's private
//! localhost (`127.<20+slot>.x.y`, the same x.y) and Service cluster IPs (`127.<96+slot>.x.y`).
//! Linux routes all of 127/8 to `lo`, so every address binds with no set-up. A sandbox's slot
//! (0–9) keeps sandboxes on one machine apart.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

pub const MAX_SLOTS: u8 = 10;

#[derive(Debug, thiserror::Error)]
pub enum IpamError {
    #[error("no free {0} address left in this sandbox")]
    Exhausted(&'static str),
}

/// Hands out and takes back addresses of one sandbox.
#[derive(Debug)]
pub struct Ipam {
    slot: u8,
    pods: BTreeSet<u16>,
    services: BTreeSet<u16>,
}

impl Ipam {
    pub fn new(slot: u8) -> Ipam {
        Ipam {
            slot: slot.min(MAX_SLOTS - 1),
            pods: BTreeSet::new(),
            services: BTreeSet::new(),
        }
    }

    /// A new pod: (pod IP, pod localhost).
    pub fn pod(&mut self) -> Result<(Ipv4Addr, Ipv4Addr), IpamError> {
        let n = next_free(&self.pods).ok_or(IpamError::Exhausted("pod"))?;
        self.pods.insert(n);
        Ok((self.addr(10, n), self.addr(20, n)))
    }

    pub fn release_pod(&mut self, ip: Ipv4Addr) {
        self.pods.remove(&index(ip));
    }

    /// Re-takes a known pod IP (a restored sandbox keeps its addresses where it can).
    pub fn claim_pod(&mut self, ip: Ipv4Addr) -> Option<(Ipv4Addr, Ipv4Addr)> {
        let n = index(ip);
        (ip.octets()[1] == 10 + self.slot && n != 0 && self.pods.insert(n))
            .then(|| (self.addr(10, n), self.addr(20, n)))
    }

    pub fn service(&mut self) -> Result<Ipv4Addr, IpamError> {
        let n = next_free(&self.services).ok_or(IpamError::Exhausted("service cluster IP"))?;
        self.services.insert(n);
        Ok(self.addr(96, n))
    }

    pub fn claim_service(&mut self, ip: Ipv4Addr) -> bool {
        let n = index(ip);
        ip.octets()[1] == 96 + self.slot && n != 0 && self.services.insert(n)
    }

    pub fn release_service(&mut self, ip: Ipv4Addr) {
        self.services.remove(&index(ip));
    }

    /// The pod-localhost address that goes with a pod IP.
    pub fn localhost_of(&self, pod_ip: Ipv4Addr) -> Ipv4Addr {
        self.addr(20, index(pod_ip))
    }

    fn addr(&self, base: u8, n: u16) -> Ipv4Addr {
        let [hi, lo] = n.to_be_bytes();
        Ipv4Addr::new(127, base + self.slot, hi, lo)
    }
}

fn index(ip: Ipv4Addr) -> u16 {
    let o = ip.octets();
    u16::from_be_bytes([o[2], o[3]])
}

/// The lowest free number, skipping .0 and .255 host parts (kept out for readability).
fn next_free(used: &BTreeSet<u16>) -> Option<u16> {
    (1..u16::MAX).find(|n| {
        let lo = n.to_be_bytes()[1];
        lo != 0 && lo != 255 && !used.contains(n)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pods_get_paired_addresses_and_reuse_released_ones() {
        let mut ipam = Ipam::new(0);
        let (a, a_local) = ipam.pod().unwrap();
        assert_eq!(a, Ipv4Addr::new(127, 10, 0, 1));
        assert_eq!(a_local, Ipv4Addr::new(127, 20, 0, 1));
        let (b, _) = ipam.pod().unwrap();
        assert_eq!(b, Ipv4Addr::new(127, 10, 0, 2));
        ipam.release_pod(a);
        assert_eq!(ipam.pod().unwrap().0, a);
        assert_eq!(ipam.localhost_of(b), Ipv4Addr::new(127, 20, 0, 2));
        assert_eq!(
            Ipam::new(3).service().unwrap(),
            Ipv4Addr::new(127, 99, 0, 1)
        );
    }

    #[test]
    fn skips_dot_zero_and_255() {
        let mut used = BTreeSet::new();
        for n in 1..255 {
            used.insert(n);
        }
        assert_eq!(next_free(&used), Some(257));
    }
}
