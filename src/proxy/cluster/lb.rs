//! Host selection: priority levels, health (with Envoy's 50% panic threshold), and the
//! ROUND_ROBIN, RANDOM and LEAST_REQUEST policies, weighted when endpoint weights differ;
//! RING_HASH and MAGLEV pick by the request's hash.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::xds::cluster::LbPolicy;

use super::hashing::{Maglev, Ring};
use super::host::{HEALTH_EPOCH, Host};

/// The hosts of a cluster, grouped by priority (lowest number first).
#[derive(Debug, Default)]
pub struct HostSet {
    pub hosts: Vec<Arc<Host>>,
    levels: Vec<Vec<Arc<Host>>>,
    /// `common_lb_config.locality_weighted_lb_config`: pick a locality by its weight first.
    locality_weighted: bool,
    /// The candidates of the common case (one priority level, no locality weights), kept until
    /// a host's health changes ([`HEALTH_EPOCH`]): a pick is then O(1), not O(hosts).
    cache: arc_swap::ArcSwapOption<Cached>,
}

/// Candidates computed once per health change.
#[derive(Debug)]
struct Cached {
    epoch: u64,
    hosts: Vec<Arc<Host>>,
    choice: Choice,
    equal: bool,
    total: u64,
}

impl HostSet {
    pub fn new(hosts: Vec<Arc<Host>>) -> HostSet {
        let mut priorities: Vec<u32> = hosts.iter().map(|h| h.priority).collect();
        priorities.sort_unstable();
        priorities.dedup();
        let levels = priorities
            .iter()
            .map(|p| hosts.iter().filter(|h| h.priority == *p).cloned().collect())
            .collect();
        HostSet {
            hosts,
            levels,
            locality_weighted: false,
            cache: arc_swap::ArcSwapOption::empty(),
        }
    }

    fn cacheable(&self) -> bool {
        self.levels.len() <= 1 && !self.locality_weighted
    }

    fn cached(&self) -> Arc<Cached> {
        let epoch = HEALTH_EPOCH.load(Ordering::Acquire);
        if let Some(c) = self.cache.load_full()
            && c.epoch == epoch
        {
            return c;
        }
        let (hosts, choice) = candidates(self);
        let equal = hosts.iter().all(|h| h.weight == hosts[0].weight);
        let total = total(&hosts);
        let c = Arc::new(Cached {
            epoch,
            hosts,
            choice,
            equal,
            total,
        });
        self.cache.store(Some(c.clone()));
        c
    }

    pub fn with_locality_weighting(mut self, on: bool) -> HostSet {
        self.locality_weighted = on;
        self
    }

    pub fn healthy_count(&self) -> usize {
        self.hosts.iter().filter(|h| h.is_healthy()).count()
    }

    pub fn degraded_count(&self) -> usize {
        self.hosts.iter().filter(|h| h.is_degraded()).count()
    }
}

/// Why selection fell back to all hosts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Normal,
    /// Fewer than half the hosts of the level were healthy: Envoy's panic mode.
    Panic,
}

/// Envoy's overprovisioning factor: a level keeps all its traffic until fewer than
/// 1/1.4 ≈ 71% of its hosts are healthy.
const OVERPROVISIONING: u64 = 140;

/// The candidates for one pick. With one priority level: its healthy hosts (every host in
/// panic mode, when fewer than half are healthy), else its degraded ones. With several: Envoy's
/// priority load — level `i` takes `min(100, 1.4 × healthy%)` of the traffic in order (spilling
/// the rest to the next level; normalised when the levels' health adds up to less than 100), so
/// traffic fails over gradually as a level's hosts are ejected or fail health checks.
fn candidates(set: &HostSet) -> (Vec<Arc<Host>>, Choice) {
    let (hosts, choice) = level_candidates(set);
    if set.locality_weighted && choice == Choice::Normal {
        return (by_locality_weight(hosts), choice);
    }
    (hosts, choice)
}

/// Envoy's locality-weighted pick: a locality with probability ∝ its weight × its health
/// (with the 1.4 overprovisioning), then the policy picks among its hosts. Hosts without a
/// locality weight count as weight 0 when others have one (Istio's `distribute` leaves the
/// localities it does not name out).
fn by_locality_weight(hosts: Vec<Arc<Host>>) -> Vec<Arc<Host>> {
    if hosts.iter().all(|h| h.locality_weight.is_none()) {
        return hosts;
    }
    let mut groups: Vec<(crate::xds::core::Locality, u64, Vec<Arc<Host>>)> = Vec::new();
    for h in hosts {
        match groups.iter_mut().find(|(l, _, _)| *l == h.locality) {
            Some((_, _, v)) => v.push(h),
            None => groups.push((
                h.locality.clone(),
                u64::from(h.locality_weight.unwrap_or(0)),
                vec![h],
            )),
        }
    }
    let effective: Vec<u64> = groups
        .iter()
        .map(|(_, w, v)| {
            let healthy = v.iter().filter(|h| h.is_healthy()).count() as u64;
            let health = (OVERPROVISIONING * healthy / (v.len().max(1) as u64)).min(100);
            w * health
        })
        .collect();
    let total: u64 = effective.iter().sum();
    if total == 0 {
        return groups.into_iter().flat_map(|(_, _, v)| v).collect();
    }
    let mut point = rand::random_range(0..total);
    for ((_, _, v), w) in groups.iter().zip(&effective) {
        if point < *w {
            return v.clone();
        }
        point -= w;
    }
    groups.into_iter().flat_map(|(_, _, v)| v).collect()
}

fn level_candidates(set: &HostSet) -> (Vec<Arc<Host>>, Choice) {
    let healthy_of = |level: &Vec<Arc<Host>>| {
        level
            .iter()
            .filter(|h| h.is_healthy())
            .cloned()
            .collect::<Vec<_>>()
    };
    if set.levels.len() > 1 {
        let health: Vec<u64> = set
            .levels
            .iter()
            .map(|l| {
                let healthy = l.iter().filter(|h| h.is_healthy()).count() as u64;
                (OVERPROVISIONING * healthy / (l.len().max(1) as u64)).min(100)
            })
            .collect();
        let sum: u64 = health.iter().sum();
        if sum >= 50 {
            let loads: Vec<u64> = if sum >= 100 {
                let mut left = 100u64;
                health
                    .iter()
                    .map(|h| {
                        let take = (*h).min(left);
                        left -= take;
                        take
                    })
                    .collect()
            } else {
                health.iter().map(|h| h * 100 / sum).collect()
            };
            let total: u64 = loads.iter().sum::<u64>().max(1);
            let mut point = rand::random_range(0..total);
            for (level, load) in set.levels.iter().zip(&loads) {
                if point < *load {
                    let healthy = healthy_of(level);
                    if !healthy.is_empty() {
                        return (healthy, Choice::Normal);
                    }
                }
                point = point.saturating_sub(*load);
            }
        }
    }
    for level in &set.levels {
        let healthy = healthy_of(level);
        if !healthy.is_empty() {
            // Envoy's default healthy_panic_threshold is 50%.
            if healthy.len() * 2 < level.len() {
                return (level.clone(), Choice::Panic);
            }
            return (healthy, Choice::Normal);
        }
    }
    for level in &set.levels {
        let degraded: Vec<Arc<Host>> = level.iter().filter(|h| h.is_degraded()).cloned().collect();
        if !degraded.is_empty() {
            return (degraded, Choice::Normal);
        }
    }
    match set.levels.first() {
        Some(level) if !level.is_empty() => (level.clone(), Choice::Panic),
        _ => (Vec::new(), Choice::Normal),
    }
}

/// A RING_HASH or MAGLEV cluster's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashLb {
    Ring { min_size: u64, max_size: u64 },
    Maglev { table_size: u64 },
}

/// A hash table built for one set of candidate hosts.
#[derive(Debug)]
struct Table {
    /// The candidates (address, weight) it was built from.
    built_for: Vec<(SocketAddr, u32)>,
    /// Or the cached candidate list it was built from (compared by identity: O(1)).
    from: Option<Arc<Cached>>,
    lb: HashLb,
    ring: Option<Ring>,
    maglev: Option<Maglev>,
}

/// Per-cluster selection state.
#[derive(Debug, Default)]
pub struct Balancer {
    rr: AtomicU64,
    /// Rebuilt when the candidate hosts change (endpoints, health), as Envoy rebuilds its
    /// ring or table on every host set update.
    table: Mutex<Option<Arc<Table>>>,
}

impl Balancer {
    /// Picks a host, avoiding `exclude` when other hosts are available.
    pub fn choose(
        &self,
        policy: LbPolicy,
        choice_count: u32,
        set: &HostSet,
        exclude: &[SocketAddr],
    ) -> Option<(Arc<Host>, Choice)> {
        if exclude.is_empty() && set.cacheable() {
            let c = set.cached();
            if c.hosts.is_empty() {
                return None;
            }
            return Some((
                self.pick(policy, choice_count, &c.hosts, c.equal, c.total),
                c.choice,
            ));
        }
        let (mut hosts, choice) = candidates(set);
        if hosts.is_empty() {
            return None;
        }
        if !exclude.is_empty() {
            let kept: Vec<Arc<Host>> = hosts
                .iter()
                .filter(|h| !exclude.contains(&h.address))
                .cloned()
                .collect();
            if !kept.is_empty() {
                hosts = kept;
            }
        }
        let equal = hosts.iter().all(|h| h.weight == hosts[0].weight);
        let total = total(&hosts);
        Some((
            self.pick(policy, choice_count, &hosts, equal, total),
            choice,
        ))
    }

    /// One host of non-empty `hosts` by the policy.
    fn pick(
        &self,
        policy: LbPolicy,
        choice_count: u32,
        hosts: &[Arc<Host>],
        equal: bool,
        total: u64,
    ) -> Arc<Host> {
        match policy {
            LbPolicy::Random if equal => hosts[rand::random_range(0..hosts.len())].clone(),
            LbPolicy::Random => weighted_pick(hosts, rand::random_range(0..total)),
            LbPolicy::LeastRequest => least_request(hosts, choice_count.max(2), equal),
            _ => {
                let n = self.rr.fetch_add(1, Ordering::Relaxed);
                if equal {
                    hosts[(n % hosts.len() as u64) as usize].clone()
                } else {
                    weighted_pick(hosts, n % total)
                }
            }
        }
    }
}

impl Balancer {
    /// Consistent hashing: the request's hash picks the host on the ring (or in the Maglev
    /// table) built over the candidates; without a hash (no policy matched) a random host, as
    /// Envoy does. An excluded host (retry predicates) gives way to a random other one.
    pub fn choose_hashed(
        &self,
        lb: HashLb,
        set: &HostSet,
        exclude: &[SocketAddr],
        hash: Option<u64>,
    ) -> Option<(Arc<Host>, Choice)> {
        // The common case keeps its candidates (and so its table) until health changes.
        let cached = (set.levels.len() <= 1).then(|| set.cached());
        let owned;
        let (hosts, choice): (&[Arc<Host>], Choice) = match &cached {
            Some(c) => (&c.hosts, c.choice),
            None => {
                owned = level_candidates(set); // hashing ignores locality weights
                (&owned.0, owned.1)
            }
        };
        if hosts.is_empty() {
            return None;
        }
        let random = |hosts: &[Arc<Host>]| {
            let kept: Vec<Arc<Host>> = hosts
                .iter()
                .filter(|h| !exclude.contains(&h.address))
                .cloned()
                .collect();
            let pool = if kept.is_empty() {
                hosts.to_vec()
            } else {
                kept
            };
            weighted_pick(&pool, rand::random_range(0..total(&pool)))
        };
        let Some(hash) = hash else {
            return Some((random(hosts), choice));
        };
        let table = match &cached {
            Some(c) => self.table_for_cached(lb, c),
            None => self.table_for(lb, hosts),
        };
        let picked = match (&table.ring, &table.maglev) {
            (Some(r), _) => r.lookup(hash).cloned(),
            (_, Some(m)) => m.lookup(hash).cloned(),
            _ => None,
        };
        let host = match picked {
            Some(h) if !exclude.contains(&h.address) => h,
            _ => random(hosts),
        };
        Some((host, choice))
    }

    fn table_for_cached(&self, lb: HashLb, c: &Arc<Cached>) -> Arc<Table> {
        if let Ok(cached) = self.table.lock()
            && let Some(t) = cached.as_ref()
            && t.lb == lb
            && t.from.as_ref().is_some_and(|f| Arc::ptr_eq(f, c))
        {
            return t.clone();
        }
        let mut table = Self::build_table(lb, &c.hosts);
        table.from = Some(c.clone());
        let table = Arc::new(table);
        if let Ok(mut cached) = self.table.lock() {
            *cached = Some(table.clone());
        }
        table
    }

    fn build_table(lb: HashLb, hosts: &[Arc<Host>]) -> Table {
        let (ring, maglev) = match lb {
            HashLb::Ring { min_size, max_size } => {
                (Some(Ring::build(hosts, min_size, max_size)), None)
            }
            HashLb::Maglev { table_size } => (None, Some(Maglev::build(hosts, table_size))),
        };
        Table {
            built_for: hosts.iter().map(|h| (h.address, h.weight)).collect(),
            from: None,
            lb,
            ring,
            maglev,
        }
    }

    fn table_for(&self, lb: HashLb, hosts: &[Arc<Host>]) -> Arc<Table> {
        let key: Vec<(SocketAddr, u32)> = hosts.iter().map(|h| (h.address, h.weight)).collect();
        if let Ok(cached) = self.table.lock()
            && let Some(t) = cached.as_ref()
            && t.lb == lb
            && t.built_for == key
        {
            return t.clone();
        }
        let table = Arc::new(Self::build_table(lb, hosts));
        if let Ok(mut cached) = self.table.lock() {
            *cached = Some(table.clone());
        }
        table
    }
}

fn total(hosts: &[Arc<Host>]) -> u64 {
    hosts
        .iter()
        .map(|h| u64::from(h.weight))
        .sum::<u64>()
        .max(1)
}

/// The host whose cumulative weight range contains `point`.
fn weighted_pick(hosts: &[Arc<Host>], point: u64) -> Arc<Host> {
    let mut acc = 0;
    for h in hosts {
        acc += u64::from(h.weight);
        if point < acc {
            return h.clone();
        }
    }
    hosts[hosts.len() - 1].clone()
}

/// Power of `n` choices by active requests; with unequal weights Envoy scores
/// `weight / (active + 1)`.
fn least_request(hosts: &[Arc<Host>], n: u32, equal: bool) -> Arc<Host> {
    let mut best: Option<(f64, Arc<Host>)> = None;
    for _ in 0..n {
        let h = &hosts[rand::random_range(0..hosts.len())];
        let active = h.stats.rq_active.load(Ordering::Relaxed) as f64;
        let score = if equal {
            -active
        } else {
            f64::from(h.weight) / (active + 1.0)
        };
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, h.clone()));
        }
    }
    best.map(|(_, h)| h).unwrap_or_else(|| hosts[0].clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::endpoint::HealthStatus;

    fn host(port: u16, weight: u32, priority: u32, health: HealthStatus) -> Arc<Host> {
        Arc::new(Host::new(
            SocketAddr::from(([127, 0, 0, 1], port)),
            String::new(),
            weight,
            priority,
            Default::default(),
            health,
        ))
    }

    fn ports(set: &HostSet, policy: LbPolicy, n: usize) -> Vec<u16> {
        let b = Balancer::default();
        (0..n)
            .map(|_| b.choose(policy, 2, set, &[]).unwrap().0.address.port())
            .collect()
    }

    #[test]
    fn round_robin_cycles_and_respects_weights() {
        let set = HostSet::new(vec![
            host(1, 1, 0, HealthStatus::Unknown),
            host(2, 1, 0, HealthStatus::Healthy),
        ]);
        assert_eq!(ports(&set, LbPolicy::RoundRobin, 4), [1, 2, 1, 2]);
        let set = HostSet::new(vec![
            host(1, 3, 0, HealthStatus::Healthy),
            host(2, 1, 0, HealthStatus::Healthy),
        ]);
        let picks = ports(&set, LbPolicy::RoundRobin, 400);
        assert_eq!(picks.iter().filter(|p| **p == 1).count(), 300);
    }

    #[test]
    fn unhealthy_hosts_are_skipped_and_priorities_fail_over() {
        let set = HostSet::new(vec![
            host(1, 1, 0, HealthStatus::Unhealthy),
            host(2, 1, 1, HealthStatus::Healthy),
        ]);
        assert!(
            ports(&set, LbPolicy::RoundRobin, 10)
                .iter()
                .all(|p| *p == 2)
        );
        let set = HostSet::new(vec![
            host(1, 1, 0, HealthStatus::Healthy),
            host(2, 1, 0, HealthStatus::Healthy),
            host(3, 1, 0, HealthStatus::Unhealthy),
        ]);
        assert!(!ports(&set, LbPolicy::RoundRobin, 30).contains(&3));
    }

    #[test]
    fn panic_mode_uses_every_host() {
        let set = HostSet::new(vec![
            host(1, 1, 0, HealthStatus::Healthy),
            host(2, 1, 0, HealthStatus::Unhealthy),
            host(3, 1, 0, HealthStatus::Unhealthy),
        ]);
        let b = Balancer::default();
        let (_, choice) = b.choose(LbPolicy::RoundRobin, 2, &set, &[]).unwrap();
        assert_eq!(choice, Choice::Panic);
        assert!(ports(&set, LbPolicy::RoundRobin, 30).contains(&3));
        assert!(
            Balancer::default()
                .choose(LbPolicy::RoundRobin, 2, &HostSet::default(), &[])
                .is_none()
        );
    }

    #[test]
    fn exclusions_are_honoured_while_others_exist() {
        let set = HostSet::new(vec![
            host(1, 1, 0, HealthStatus::Healthy),
            host(2, 1, 0, HealthStatus::Healthy),
        ]);
        let b = Balancer::default();
        let ex = [SocketAddr::from(([127, 0, 0, 1], 1))];
        for _ in 0..10 {
            assert_eq!(
                b.choose(LbPolicy::Random, 2, &set, &ex)
                    .unwrap()
                    .0
                    .address
                    .port(),
                2
            );
        }
        let ex = [
            SocketAddr::from(([127, 0, 0, 1], 1)),
            SocketAddr::from(([127, 0, 0, 1], 2)),
        ];
        assert!(b.choose(LbPolicy::LeastRequest, 2, &set, &ex).is_some());
    }

    #[test]
    fn least_request_prefers_idle_hosts() {
        let busy = host(1, 1, 0, HealthStatus::Healthy);
        busy.stats.rq_active.store(10, Ordering::Relaxed);
        let set = HostSet::new(vec![busy, host(2, 1, 0, HealthStatus::Healthy)]);
        let picks = ports(&set, LbPolicy::LeastRequest, 200);
        // With two random choices the idle host wins unless both picks hit the busy one.
        assert!(picks.iter().filter(|p| **p == 2).count() > 120);
    }

    #[test]
    fn hashed_picks_follow_the_hosts_and_rebuild_when_they_change() {
        use super::super::hashing::hash_text;
        let b = Balancer::default();
        let lb = HashLb::Ring {
            min_size: 1024,
            max_size: 8 << 20,
        };
        let all: Vec<Arc<Host>> = (1..=4)
            .map(|p| host(p, 1, 0, HealthStatus::Healthy))
            .collect();
        let owners = |set: &HostSet| -> Vec<u16> {
            (0..400)
                .map(|k| {
                    let h = Some(hash_text(&format!("k{k}")));
                    b.choose_hashed(lb, set, &[], h).unwrap().0.address.port()
                })
                .collect()
        };
        let four = HostSet::new(all.clone());
        let before = owners(&four);
        assert_eq!(before, owners(&four), "stable");
        // Host 4 goes unhealthy: only its keys move (and a few from the ring's rescale).
        let mut degraded = all.clone();
        degraded[3] = host(4, 1, 0, HealthStatus::Unhealthy);
        let after = owners(&HostSet::new(degraded));
        assert!(!after.contains(&4));
        let kept = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| **b != 4 && b == a)
            .count();
        let others = before.iter().filter(|b| **b != 4).count();
        assert!(kept * 100 >= others * 85, "{kept} of {others}");
        // No hash: any host; excluded ones avoided.
        let (h, _) = b
            .choose_hashed(
                lb,
                &four,
                &[all[0].address, all[1].address, all[2].address],
                None,
            )
            .unwrap();
        assert_eq!(h.address.port(), 4);
    }

    #[test]
    fn traffic_spills_to_the_next_priority_as_hosts_fail() {
        // Priority 0: two hosts, one unhealthy → 1.4 × 50% = 70% stays, 30% goes to priority 1.
        let set = HostSet::new(vec![
            host(1, 1, 0, HealthStatus::Healthy),
            host(2, 1, 0, HealthStatus::Unhealthy),
            host(3, 1, 1, HealthStatus::Healthy),
        ]);
        let picks = ports(&set, LbPolicy::Random, 2000);
        let spilled = picks.iter().filter(|p| **p == 3).count();
        assert!(
            (450..750).contains(&spilled),
            "{spilled} of 2000 (30% expected)"
        );
        assert!(!picks.contains(&2));
        // All healthy: priority 1 gets nothing.
        let set = HostSet::new(vec![
            host(1, 1, 0, HealthStatus::Healthy),
            host(2, 1, 0, HealthStatus::Healthy),
            host(3, 1, 1, HealthStatus::Healthy),
        ]);
        assert!(!ports(&set, LbPolicy::Random, 500).contains(&3));
    }

    #[test]
    fn cached_candidates_follow_health_changes() {
        let hs: Vec<Arc<Host>> = (1..=3)
            .map(|p| host(p, 1, 0, HealthStatus::Healthy))
            .collect();
        let set = HostSet::new(hs.clone());
        assert!(ports(&set, LbPolicy::RoundRobin, 6).contains(&1));
        hs[0].set_outlier_ejected(true);
        assert!(
            !ports(&set, LbPolicy::RoundRobin, 12).contains(&1),
            "ejection seen at once"
        );
        hs[0].set_outlier_ejected(false);
        assert!(ports(&set, LbPolicy::RoundRobin, 6).contains(&1));
    }
}
