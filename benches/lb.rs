//! Load-balancer pick cost: nanoseconds per host pick for each policy over 10, 100 and 1000
//! healthy endpoints (and RING_HASH/MAGLEV with a request hash), on this machine, in one run.
//!
//! `cargo bench --bench lb`. The first RING_HASH/MAGLEV pick after a host change builds the
//! ring or table; that build time is reported separately from the steady-state pick.

#![allow(clippy::unwrap_used)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use mesh::proxy::cluster::hashing::{DEFAULT_MAGLEV_TABLE_SIZE, DEFAULT_MIN_RING_SIZE, hash_text};
use mesh::proxy::cluster::host::Host;
use mesh::proxy::cluster::lb::{Balancer, HashLb, HostSet};
use mesh::xds::cluster::LbPolicy;
use mesh::xds::core::Locality;
use mesh::xds::endpoint::HealthStatus;

fn hosts(n: usize) -> HostSet {
    HostSet::new(
        (0..n)
            .map(|i| {
                let addr =
                    SocketAddr::from(([127, 10, (i / 250) as u8, (i % 250) as u8 + 1], 8080));
                Arc::new(Host::new(
                    addr,
                    String::new(),
                    1,
                    0,
                    Locality::default(),
                    HealthStatus::Healthy,
                ))
            })
            .collect(),
    )
}

fn per_pick(iterations: u32, mut pick: impl FnMut(u32)) -> f64 {
    let started = Instant::now();
    for i in 0..iterations {
        pick(i);
    }
    started.elapsed().as_nanos() as f64 / f64::from(iterations)
}

fn main() {
    println!("{:<14} {:>8} {:>12}", "policy", "hosts", "ns/pick");
    for n in [10, 100, 1000] {
        let set = hosts(n);
        for (name, policy) in [
            ("ROUND_ROBIN", LbPolicy::RoundRobin),
            ("RANDOM", LbPolicy::Random),
            ("LEAST_REQUEST", LbPolicy::LeastRequest),
        ] {
            let b = Balancer::default();
            let ns = per_pick(200_000, |_| {
                std::hint::black_box(b.choose(policy, 2, &set, &[]));
            });
            println!("{name:<14} {n:>8} {ns:>12.1}");
        }
        let keys: Vec<u64> = (0..1024).map(|k| hash_text(&format!("user-{k}"))).collect();
        for (name, lb) in [
            (
                "RING_HASH",
                HashLb::Ring {
                    min_size: DEFAULT_MIN_RING_SIZE,
                    max_size: 8 << 20,
                },
            ),
            (
                "MAGLEV",
                HashLb::Maglev {
                    table_size: DEFAULT_MAGLEV_TABLE_SIZE,
                },
            ),
        ] {
            let b = Balancer::default();
            let build = Instant::now();
            std::hint::black_box(b.choose_hashed(lb, &set, &[], Some(keys[0])));
            let build = build.elapsed();
            let ns = per_pick(200_000, |i| {
                std::hint::black_box(b.choose_hashed(lb, &set, &[], Some(keys[i as usize % 1024])));
            });
            println!("{name:<14} {n:>8} {ns:>12.1}   (table build {build:?})");
        }
    }
}
