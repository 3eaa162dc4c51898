//! The HTTP filters that run before the router, in `http_filters` order: fault injection and the
//! local rate limit. A route's (else its virtual host's) `typed_per_filter_config` entry under a
//! filter's name replaces that filter's config for the request, as in Envoy.

pub mod fault;
pub mod local_ratelimit;

use std::collections::HashMap;
use std::sync::Arc;

use crate::proxy::Rejected;
use crate::proxy::flags::Flags;
use crate::proxy::stats::Store;
use crate::xds::core::{Denominator, FractionalPercent};
use crate::xds::http_filters::PerFilterConfig;

use super::local_reply::LocalReply;
use fault::{ActiveFault, FaultFilter, FaultRequest, FaultSettings};
use local_ratelimit::Limiter;

/// True for this share of calls (`numerator / denominator`).
pub fn sample(p: &FractionalPercent) -> bool {
    let d: u64 = match p.denominator {
        Denominator::Hundred => 100,
        Denominator::TenThousand => 10_000,
        Denominator::Million => 1_000_000,
    };
    let n = u64::from(p.numerator);
    n >= d || (n > 0 && rand::random::<u64>() % d < n)
}

#[derive(Debug)]
enum Filter {
    Fault(FaultFilter),
    RateLimit(Arc<Limiter>),
}

/// The configured pre-router filters of one HCM.
#[derive(Debug, Default)]
pub struct FilterChain {
    filters: Vec<(String, Filter)>,
}

/// A route's or virtual host's overrides, by filter name.
#[derive(Debug, Default)]
pub struct PerFilter(HashMap<String, Override>);

#[derive(Debug)]
enum Override {
    Fault(Arc<FaultSettings>),
    RateLimit(Arc<Limiter>),
}

impl PerFilter {
    /// Compiles the entries mesh implements; others are kept out (no filter would read them).
    pub fn build(
        map: Option<&serde_json::Map<String, serde_json::Value>>,
        path: &str,
    ) -> Result<PerFilter, Vec<Rejected>> {
        let mut out = HashMap::new();
        let mut errors = Vec::new();
        for (name, value) in map.into_iter().flatten() {
            let url = value.get("@type").and_then(|t| t.as_str()).unwrap_or("");
            if !PerFilterConfig::TYPE_URLS.contains(&url) {
                continue;
            }
            let epath = format!("{path}.typed_per_filter_config.{name}");
            match serde_json::from_value::<PerFilterConfig>(value.clone()) {
                Ok(PerFilterConfig::Fault(f)) => match FaultSettings::build(&f, &epath) {
                    Ok(s) => {
                        out.insert(name.clone(), Override::Fault(Arc::new(s)));
                    }
                    Err(mut e) => errors.append(&mut e),
                },
                Ok(PerFilterConfig::LocalRateLimit(l)) => match Limiter::build(&l, &epath) {
                    Ok(l) => {
                        out.insert(name.clone(), Override::RateLimit(Arc::new(l)));
                    }
                    Err(mut e) => errors.append(&mut e),
                },
                Err(e) => errors.push(Rejected::new(epath, e.to_string())),
            }
        }
        if errors.is_empty() {
            Ok(PerFilter(out))
        } else {
            Err(errors)
        }
    }
}

/// What passed the filters: flags to log (`DI`) and faults held active until the request ends.
#[derive(Debug, Default)]
pub struct Passed {
    pub flags: Flags,
    _active: Vec<ActiveFault>,
}

impl FilterChain {
    pub fn push_fault(&mut self, name: &str, f: FaultFilter) {
        self.filters.push((name.to_owned(), Filter::Fault(f)));
    }

    pub fn push_rate_limit(&mut self, name: &str, l: Limiter, store: &Store) {
        l.register(store);
        self.filters
            .push((name.to_owned(), Filter::RateLimit(Arc::new(l))));
    }

    pub fn is_empty(&self) -> bool {
        self.filters.is_empty()
    }

    /// Runs each filter in order; the first local reply stops the chain.
    pub async fn decode(
        &self,
        req: &FaultRequest<'_>,
        overrides: [&PerFilter; 2],
        store: &Store,
    ) -> Result<Passed, LocalReply> {
        let mut passed = Passed::default();
        for (name, filter) in &self.filters {
            let o = overrides.iter().find_map(|p| p.0.get(name));
            match filter {
                Filter::Fault(f) => {
                    let settings = match o {
                        Some(Override::Fault(s)) => s.clone(),
                        _ => f.settings.clone(),
                    };
                    f.decode(&settings, req, &mut passed.flags, &mut passed._active)
                        .await?;
                }
                Filter::RateLimit(own) => {
                    let l = match o {
                        Some(Override::RateLimit(l)) => l,
                        _ => own,
                    };
                    if let Err(mut reply) = l.decode(store) {
                        reply.flags = reply.flags.union(passed.flags);
                        return Err(reply);
                    }
                }
            }
        }
        Ok(passed)
    }
}
