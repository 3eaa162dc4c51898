//! `envoy.filters.http.local_ratelimit`: a token bucket per filter (or per route override).

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use http::{HeaderName, HeaderValue};

use super::super::local_reply::LocalReply;
use super::sample;
use crate::proxy::Rejected;
use crate::proxy::stats::{Counter, Store};
use crate::xds::core::FractionalPercent;
use crate::xds::http_filters::LocalRateLimit;

/// Envoy refuses buckets refilled more often than this.
const MIN_FILL_INTERVAL: Duration = Duration::from_millis(50);

/// Envoy's token bucket: starts full, gains `tokens_per_fill` every `fill_interval` up to `max`.
#[derive(Debug)]
pub struct TokenBucket {
    max: u64,
    per_fill: u64,
    interval: Duration,
    state: Mutex<(u64, Instant)>,
}

impl TokenBucket {
    pub fn new(max: u64, per_fill: u64, interval: Duration) -> TokenBucket {
        TokenBucket {
            max,
            per_fill,
            interval,
            state: Mutex::new((max, Instant::now())),
        }
    }

    /// Takes one token if there is one, refilling by whole intervals since the last fill.
    pub fn try_take(&self, now: Instant) -> bool {
        let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let (tokens, last) = &mut *st;
        let elapsed = now.saturating_duration_since(*last);
        let fills = (elapsed.as_nanos() / self.interval.as_nanos().max(1)) as u64;
        if fills > 0 {
            *tokens = (*tokens + fills.saturating_mul(self.per_fill)).min(self.max);
            *last += self.interval * u32::try_from(fills).unwrap_or(u32::MAX);
        }
        if *tokens == 0 {
            return false;
        }
        *tokens -= 1;
        true
    }
}

/// `<stat_prefix>.http_local_rate_limit.*`.
#[derive(Debug)]
struct LimiterStats {
    enabled: Counter,
    enforced: Counter,
    rate_limited: Counter,
    ok: Counter,
}

impl LimiterStats {
    fn new(store: &Store, prefix: &str) -> LimiterStats {
        let s = store.scope(&format!("{prefix}.http_local_rate_limit"));
        LimiterStats {
            enabled: s.counter("enabled"),
            enforced: s.counter("enforced"),
            rate_limited: s.counter("rate_limited"),
            ok: s.counter("ok"),
        }
    }
}

/// One compiled `LocalRateLimit` with its bucket (shared by every request it sees).
#[derive(Debug)]
pub struct Limiter {
    stat_prefix: String,
    bucket: Option<TokenBucket>,
    status: u16,
    enabled: FractionalPercent,
    enforced: FractionalPercent,
    response_headers: Vec<(HeaderName, HeaderValue)>,
    /// Made on first use for route overrides, which are built without the stats store.
    stats: std::sync::OnceLock<LimiterStats>,
}

impl Limiter {
    pub fn build(c: &LocalRateLimit, path: &str) -> Result<Limiter, Vec<Rejected>> {
        let mut errors = Vec::new();
        if c.stat_prefix.is_empty() {
            errors.push(Rejected::new(
                format!("{path}.stat_prefix"),
                "LocalRateLimitValidationError.StatPrefix: value length must be at least 1 characters",
            ));
        }
        let bucket = c.token_bucket.as_ref().and_then(|b| {
            if b.max_tokens == 0 {
                errors.push(Rejected::new(
                    format!("{path}.token_bucket.max_tokens"),
                    "TokenBucketValidationError.MaxTokens: value must be greater than 0",
                ));
            }
            if b.fill_interval.0 < MIN_FILL_INTERVAL {
                errors.push(Rejected::new(
                    format!("{path}.token_bucket.fill_interval"),
                    "local rate limit token bucket fill timer must be >= 50ms",
                ));
            }
            (b.max_tokens > 0).then(|| {
                TokenBucket::new(
                    b.max_tokens.into(),
                    b.tokens_per_fill.unwrap_or(1).into(),
                    b.fill_interval.0,
                )
            })
        });
        let status = match c.status.as_ref().map(|s| s.code) {
            None => 429,
            Some(code) if (400..600).contains(&code) => code as u16,
            Some(_) => {
                errors.push(Rejected::new(
                    format!("{path}.status.code"),
                    "HttpStatusValidationError.Code: value must be inside range [400, 600)",
                ));
                429
            }
        };
        let mut response_headers = Vec::new();
        for (i, h) in c.response_headers_to_add.iter().enumerate() {
            let name = HeaderName::try_from(h.header.key.as_str());
            let value = HeaderValue::try_from(h.header.value.as_str());
            match (name, value) {
                (Ok(n), Ok(v)) => response_headers.push((n, v)),
                _ => errors.push(Rejected::new(
                    format!("{path}.response_headers_to_add[{i}]"),
                    "invalid header name or value",
                )),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        // Unset enabled/enforced mean 0% (Envoy's "off for safety" default).
        let pct = |p: &Option<crate::xds::core::RuntimeFractionalPercent>| {
            p.as_ref()
                .map(|p| p.default_value.clone())
                .unwrap_or_default()
        };
        Ok(Limiter {
            stat_prefix: c.stat_prefix.clone(),
            bucket,
            status,
            enabled: pct(&c.filter_enabled),
            enforced: pct(&c.filter_enforced),
            response_headers,
            stats: std::sync::OnceLock::new(),
        })
    }

    /// Creates the stats now (the HCM's own filter shows them at zero, as Envoy does).
    pub fn register(&self, store: &Store) {
        self.stats
            .get_or_init(|| LimiterStats::new(store, &self.stat_prefix));
    }

    /// Envoy's order: enabled? → a token (`ok`) → `rate_limited` → enforced? → 429.
    pub fn decode(&self, store: &Store) -> Result<(), LocalReply> {
        let Some(bucket) = &self.bucket else {
            return Ok(());
        };
        if !sample(&self.enabled) {
            return Ok(());
        }
        let stats = self
            .stats
            .get_or_init(|| LimiterStats::new(store, &self.stat_prefix));
        stats.enabled.inc();
        if bucket.try_take(Instant::now()) {
            stats.ok.inc();
            return Ok(());
        }
        stats.rate_limited.inc();
        if !sample(&self.enforced) {
            return Ok(());
        }
        stats.enforced.inc();
        let mut reply = LocalReply::local_rate_limited(self.status);
        reply.headers = self.response_headers.clone();
        Err(reply)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_starts_full_empties_and_refills_by_whole_intervals() {
        let b = TokenBucket::new(2, 1, Duration::from_secs(1));
        let t0 = Instant::now();
        assert!(b.try_take(t0));
        assert!(b.try_take(t0));
        assert!(!b.try_take(t0));
        assert!(!b.try_take(t0 + Duration::from_millis(900)));
        assert!(b.try_take(t0 + Duration::from_millis(1100)));
        assert!(!b.try_take(t0 + Duration::from_millis(1200)));
        // A long pause refills only up to max_tokens.
        let later = t0 + Duration::from_secs(60);
        assert!(b.try_take(later));
        assert!(b.try_take(later));
        assert!(!b.try_take(later));
    }
}
