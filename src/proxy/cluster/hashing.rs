//! Consistent hashing: Envoy's RING_HASH (Ketama-style ring of xxHash64 points per host, sized
//! by `minimum_ring_size`/`maximum_ring_size` and the hosts' weights) and MAGLEV (a lookup
//! table filled from per-host permutations, Google's Maglev paper). A request's hash (from the
//! route's `hash_policy`) lands on one host; when hosts come or go, only the keys of the hosts
//! that changed move.

use std::sync::Arc;

use xxhash_rust::xxh64::xxh64;

use super::host::Host;

/// Envoy's defaults.
pub const DEFAULT_MIN_RING_SIZE: u64 = 1024;
pub const DEFAULT_MAX_RING_SIZE: u64 = 8 * 1024 * 1024;
pub const DEFAULT_MAGLEV_TABLE_SIZE: u64 = 65537;

/// Envoy hashes a host by its address as text (`10.0.0.1:8080`).
fn host_key(h: &Host) -> String {
    h.address.to_string()
}

/// A sorted ring of `(point, host)`.
#[derive(Debug)]
pub struct Ring {
    points: Vec<(u64, Arc<Host>)>,
}

impl Ring {
    /// Each host gets points in proportion to its weight; the smallest-weight host gets at
    /// least `min_size * its share` points, the whole ring at most `max_size`.
    pub fn build(hosts: &[Arc<Host>], min_size: u64, max_size: u64) -> Ring {
        let total: f64 = hosts.iter().map(|h| f64::from(h.weight.max(1))).sum();
        if hosts.is_empty() || total == 0.0 {
            return Ring { points: Vec::new() };
        }
        let shares: Vec<f64> = hosts
            .iter()
            .map(|h| f64::from(h.weight.max(1)) / total)
            .collect();
        let min_share = shares.iter().copied().fold(f64::INFINITY, f64::min);
        let scale = ((min_share * min_size as f64).ceil() / min_share).min(max_size.max(1) as f64);
        let mut points = Vec::with_capacity(scale.ceil() as usize);
        let (mut target, mut placed) = (0.0f64, 0.0f64);
        for (h, share) in hosts.iter().zip(&shares) {
            target += scale * share;
            let key = host_key(h);
            let mut i = 0u64;
            while placed < target {
                points.push((xxh64(format!("{key}_{i}").as_bytes(), 0), h.clone()));
                i += 1;
                placed += 1.0;
            }
        }
        points.sort_by_key(|(p, _)| *p);
        Ring { points }
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// The first point at or after `hash`, wrapping around.
    pub fn lookup(&self, hash: u64) -> Option<&Arc<Host>> {
        if self.points.is_empty() {
            return None;
        }
        let i = self.points.partition_point(|(p, _)| *p < hash);
        Some(&self.points[i % self.points.len()].1)
    }
}

/// Maglev's lookup table.
#[derive(Debug)]
pub struct Maglev {
    table: Vec<Arc<Host>>,
}

impl Maglev {
    /// `size` should be prime (Envoy's default 65537) so every skip visits every slot.
    pub fn build(hosts: &[Arc<Host>], size: u64) -> Maglev {
        if hosts.is_empty() || size < 2 {
            return Maglev { table: Vec::new() };
        }
        let n = size as usize;
        let perms: Vec<(u64, u64)> = hosts
            .iter()
            .map(|h| {
                let key = host_key(h);
                let offset = xxh64(key.as_bytes(), 0) % size;
                let skip = xxh64(key.as_bytes(), 1) % (size - 1) + 1;
                (offset, skip)
            })
            .collect();
        let max_weight = hosts.iter().map(|h| h.weight.max(1)).max().unwrap_or(1);
        let mut slots: Vec<Option<usize>> = vec![None; n];
        let mut next = vec![0u64; hosts.len()];
        // Weighted turns: a host places one entry each time its credit reaches the largest
        // weight, so a weight-2 host fills twice the slots of a weight-1 host.
        let mut credit = vec![0u64; hosts.len()];
        let mut filled = 0;
        'fill: loop {
            for (i, h) in hosts.iter().enumerate() {
                credit[i] += u64::from(h.weight.max(1));
                while credit[i] >= u64::from(max_weight) {
                    credit[i] -= u64::from(max_weight);
                    let (offset, skip) = perms[i];
                    let mut slot = ((offset + next[i] * skip) % size) as usize;
                    while slots[slot].is_some() {
                        next[i] += 1;
                        slot = ((offset + next[i] * skip) % size) as usize;
                    }
                    slots[slot] = Some(i);
                    next[i] += 1;
                    filled += 1;
                    if filled == n {
                        break 'fill;
                    }
                }
            }
        }
        Maglev {
            table: slots
                .into_iter()
                .map(|s| hosts[s.unwrap_or(0)].clone())
                .collect(),
        }
    }

    pub fn lookup(&self, hash: u64) -> Option<&Arc<Host>> {
        if self.table.is_empty() {
            return None;
        }
        Some(&self.table[(hash % self.table.len() as u64) as usize])
    }
}

/// Envoy's way of folding several hash policies into one hash.
pub fn combine(acc: Option<u64>, next: u64) -> u64 {
    match acc {
        Some(h) => h.rotate_left(1) ^ next,
        None => next,
    }
}

/// The hash of one policy's input (a header value, a cookie, an address).
pub fn hash_text(text: &str) -> u64 {
    xxh64(text.as_bytes(), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::core::Locality;
    use crate::xds::endpoint::HealthStatus;

    fn host(port: u16, weight: u32) -> Arc<Host> {
        Arc::new(Host::new(
            std::net::SocketAddr::from(([127, 0, 0, 1], port)),
            String::new(),
            weight,
            0,
            Locality::default(),
            HealthStatus::Healthy,
        ))
    }

    fn owners(pick: impl Fn(u64) -> u16, keys: u64) -> Vec<u16> {
        (0..keys)
            .map(|k| pick(hash_text(&format!("user-{k}"))))
            .collect()
    }

    /// Keys that moved between two assignments, as a fraction.
    fn moved(a: &[u16], b: &[u16]) -> f64 {
        a.iter().zip(b).filter(|(x, y)| x != y).count() as f64 / a.len() as f64
    }

    #[test]
    fn a_ring_keeps_keys_in_place_when_a_host_leaves() {
        let hosts: Vec<Arc<Host>> = (1..=4).map(|p| host(p, 1)).collect();
        let ring = Ring::build(&hosts, DEFAULT_MIN_RING_SIZE, DEFAULT_MAX_RING_SIZE);
        assert_eq!(ring.len(), 1024);
        let before = owners(|h| ring.lookup(h).unwrap().address.port(), 4000);
        // Every host gets a fair share.
        for p in 1..=4 {
            let n = before.iter().filter(|o| **o == p).count();
            assert!((700..1300).contains(&n), "host {p}: {n} of 4000");
        }
        let fewer = Ring::build(&hosts[..3], DEFAULT_MIN_RING_SIZE, DEFAULT_MAX_RING_SIZE);
        let after = owners(|h| fewer.lookup(h).unwrap().address.port(), 4000);
        // The keys of the host that left move; the others almost all stay (the ring is
        // re-scaled for three hosts, so each gets a few more points, as in Envoy).
        let stayed = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| **b != 4 && b == a)
            .count() as f64
            / before.iter().filter(|b| **b != 4).count() as f64;
        assert!(stayed > 0.85, "{stayed}");
        let share = moved(&before, &after);
        assert!((0.15..0.35).contains(&share), "{share}");
    }

    #[test]
    fn ring_points_follow_weights() {
        let hosts = vec![host(1, 1), host(2, 3)];
        let ring = Ring::build(&hosts, 1024, DEFAULT_MAX_RING_SIZE);
        assert_eq!(ring.len(), 1024, "the whole ring is at least the minimum");
        let picks = owners(|h| ring.lookup(h).unwrap().address.port(), 4000);
        let heavy = picks.iter().filter(|p| **p == 2).count();
        assert!((2700..3300).contains(&heavy), "{heavy}");
        let capped = Ring::build(&hosts, 4096, 2000);
        assert_eq!(capped.len(), 2000);
    }

    #[test]
    fn maglev_spreads_evenly_and_moves_little() {
        let hosts: Vec<Arc<Host>> = (1..=5).map(|p| host(p, 1)).collect();
        let table = Maglev::build(&hosts, DEFAULT_MAGLEV_TABLE_SIZE);
        let before = owners(|h| table.lookup(h).unwrap().address.port(), 5000);
        for p in 1..=5 {
            let n = before.iter().filter(|o| **o == p).count();
            assert!((800..1200).contains(&n), "host {p}: {n} of 5000");
        }
        let grown: Vec<Arc<Host>> = (1..=6).map(|p| host(p, 1)).collect();
        let after_table = Maglev::build(&grown, DEFAULT_MAGLEV_TABLE_SIZE);
        let after = owners(|h| after_table.lookup(h).unwrap().address.port(), 5000);
        let share = moved(&before, &after);
        // Ideally 1/6 (the new host's share); Maglev disrupts a little more.
        assert!(share < 0.25, "{share}");
        let weighted = Maglev::build(&[host(1, 1), host(2, 2)], 65537);
        let picks = owners(|h| weighted.lookup(h).unwrap().address.port(), 3000);
        let heavy = picks.iter().filter(|p| **p == 2).count();
        assert!((1800..2200).contains(&heavy), "{heavy}");
    }

    #[test]
    fn hashes_combine_as_envoy_folds_them() {
        assert_eq!(combine(None, 5), 5);
        assert_eq!(combine(Some(1), 4), 2 ^ 4);
        assert_eq!(hash_text("a"), hash_text("a"));
        assert_ne!(hash_text("a"), hash_text("b"));
    }
}
