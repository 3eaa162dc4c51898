//! `envoy.filters.http.fault`: delays and aborts, by percentage or by request header.

use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue};

use super::super::local_reply::LocalReply;
use super::super::matcher::{CompiledHeader, Pseudo};
use super::sample;
use crate::proxy::Rejected;
use crate::proxy::flags::{Flag, Flags};
use crate::proxy::stats::{Counter, Gauge, Scope};
use crate::xds::core::FractionalPercent;
use crate::xds::http_filters::HttpFault;

const DELAY_HEADER: &str = "x-envoy-fault-delay-request";
const DELAY_PCT_HEADER: &str = "x-envoy-fault-delay-request-percentage";
const ABORT_HEADER: &str = "x-envoy-fault-abort-request";
const ABORT_GRPC_HEADER: &str = "x-envoy-fault-abort-grpc-request";
const ABORT_PCT_HEADER: &str = "x-envoy-fault-abort-request-percentage";

#[derive(Debug)]
enum DelaySource {
    Fixed(Duration),
    Header,
}

#[derive(Debug)]
enum AbortSource {
    Http(u16),
    Grpc(u32),
    Header,
}

/// One compiled `HTTPFault`: the filter's own, or a route's override.
#[derive(Debug)]
pub struct FaultSettings {
    delay: Option<(DelaySource, FractionalPercent)>,
    abort: Option<(AbortSource, FractionalPercent)>,
    upstream_cluster: Option<String>,
    headers: Vec<CompiledHeader>,
    max_active_faults: Option<u32>,
}

impl FaultSettings {
    pub fn build(c: &HttpFault, path: &str) -> Result<FaultSettings, Vec<Rejected>> {
        let mut errors = Vec::new();
        let delay = match &c.delay {
            None => None,
            Some(d) => {
                let source = match (&d.fixed_delay, &d.header_delay) {
                    (Some(f), None) => Some(DelaySource::Fixed(f.0)),
                    (None, Some(_)) => Some(DelaySource::Header),
                    _ => {
                        errors.push(Rejected::new(
                            format!("{path}.delay"),
                            "FaultDelayValidationError.FaultDelaySecifier: exactly one of fixed_delay, header_delay is required",
                        ));
                        None
                    }
                };
                source.map(|s| (s, d.percentage.clone().unwrap_or_default()))
            }
        };
        let abort = match &c.abort {
            None => None,
            Some(a) => {
                let source = match (a.http_status, a.grpc_status, &a.header_abort) {
                    (Some(s), None, None) if (200..600).contains(&s) => {
                        Some(AbortSource::Http(s as u16))
                    }
                    (Some(_), None, None) => {
                        errors.push(Rejected::new(
                            format!("{path}.abort.http_status"),
                            "FaultAbortValidationError.HttpStatus: value must be inside range [200, 600)",
                        ));
                        None
                    }
                    (None, Some(g), None) => Some(AbortSource::Grpc(g)),
                    (None, None, Some(_)) => Some(AbortSource::Header),
                    _ => {
                        errors.push(Rejected::new(
                            format!("{path}.abort"),
                            "FaultAbortValidationError.ErrorType: exactly one of http_status, grpc_status, header_abort is required",
                        ));
                        None
                    }
                };
                source.map(|s| (s, a.percentage.clone().unwrap_or_default()))
            }
        };
        let mut headers = Vec::new();
        for (i, h) in c.headers.iter().enumerate() {
            match CompiledHeader::build(h, &format!("{path}.headers[{i}]")) {
                Ok(h) => headers.push(h),
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(FaultSettings {
            delay,
            abort,
            upstream_cluster: (!c.upstream_cluster.is_empty()).then(|| c.upstream_cluster.clone()),
            headers,
            max_active_faults: c.max_active_faults,
        })
    }

    fn applies(&self, req: &FaultRequest<'_>) -> bool {
        if let Some(want) = &self.upstream_cluster
            && req.cluster != Some(want.as_str())
        {
            return false;
        }
        self.headers
            .iter()
            .all(|h| h.matches(req.headers, &req.pseudo))
    }

    /// The delay to inject into this request, if any (sampled).
    fn delay_for(&self, headers: &HeaderMap) -> Option<Duration> {
        let (source, pct) = self.delay.as_ref()?;
        let d = match source {
            DelaySource::Fixed(d) => *d,
            DelaySource::Header => Duration::from_millis(header_u64(headers, DELAY_HEADER)?),
        };
        sample(&header_percentage(
            pct,
            headers,
            DELAY_PCT_HEADER,
            source_is_header_delay(source),
        ))
        .then_some(d)
    }

    /// The status to abort this request with, if any (sampled).
    fn abort_for(&self, headers: &HeaderMap) -> Option<AbortWith> {
        let (source, pct) = self.abort.as_ref()?;
        let with = match source {
            AbortSource::Http(s) => AbortWith::Http(*s),
            AbortSource::Grpc(g) => AbortWith::Grpc(*g),
            AbortSource::Header => match header_u64(headers, ABORT_HEADER) {
                Some(s) if (200..600).contains(&s) => AbortWith::Http(s as u16),
                Some(_) => return None,
                None => {
                    AbortWith::Grpc(u32::try_from(header_u64(headers, ABORT_GRPC_HEADER)?).ok()?)
                }
            },
        };
        let header_driven = matches!(source, AbortSource::Header);
        sample(&header_percentage(
            pct,
            headers,
            ABORT_PCT_HEADER,
            header_driven,
        ))
        .then_some(with)
    }
}

fn source_is_header_delay(s: &DelaySource) -> bool {
    matches!(s, DelaySource::Header)
}

enum AbortWith {
    Http(u16),
    Grpc(u32),
}

fn header_u64(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Header-controlled faults may lower their percentage by header, never above the configured one.
fn header_percentage(
    pct: &FractionalPercent,
    headers: &HeaderMap,
    name: &str,
    header_driven: bool,
) -> FractionalPercent {
    let mut p = pct.clone();
    if header_driven
        && let Some(n) = header_u64(headers, name)
        && let Ok(n) = u32::try_from(n)
    {
        p.numerator = p.numerator.min(n);
    }
    p
}

/// `http.<stat_prefix>.fault.*`.
#[derive(Debug)]
struct FaultStats {
    delays_injected: Counter,
    aborts_injected: Counter,
    active_faults: Gauge,
    faults_overflow: Counter,
}

/// The filter as configured in the HCM's `http_filters`.
#[derive(Debug)]
pub struct FaultFilter {
    pub settings: Arc<FaultSettings>,
    stats: FaultStats,
}

/// What the filter looks at in a request.
pub struct FaultRequest<'a> {
    pub headers: &'a HeaderMap,
    pub pseudo: Pseudo<'a>,
    pub cluster: Option<&'a str>,
}

/// Holds one of `active_faults` until the request is done.
#[derive(Debug)]
pub struct ActiveFault(Gauge);

impl Drop for ActiveFault {
    fn drop(&mut self) {
        self.0.dec();
    }
}

impl FaultFilter {
    pub fn new(settings: FaultSettings, hcm_scope: &Scope) -> FaultFilter {
        let s = hcm_scope.scope("fault");
        // Envoy creates the response rate limit counter too; mesh never limits responses.
        s.counter("response_rl_injected");
        FaultFilter {
            settings: Arc::new(settings),
            stats: FaultStats {
                delays_injected: s.counter("delays_injected"),
                aborts_injected: s.counter("aborts_injected"),
                active_faults: s.gauge("active_faults"),
                faults_overflow: s.counter("faults_overflow"),
            },
        }
    }

    /// Runs the fault (a route's `settings` override the filter's): sleeps for a delay, returns
    /// the abort as a local reply. `flags` collects `DI`; `held` keeps the fault active.
    pub async fn decode(
        &self,
        settings: &FaultSettings,
        req: &FaultRequest<'_>,
        flags: &mut Flags,
        held: &mut Vec<ActiveFault>,
    ) -> Result<(), LocalReply> {
        if !settings.applies(req) {
            return Ok(());
        }
        // Envoy samples both faults first, then admits them as one active fault.
        let delay = settings.delay_for(req.headers);
        let abort = settings.abort_for(req.headers);
        if (delay.is_none() && abort.is_none()) || !self.start(settings, held) {
            return Ok(());
        }
        if let Some(d) = delay {
            self.stats.delays_injected.inc();
            flags.set(Flag::DelayInjected);
            tokio::time::sleep(d).await;
        }
        let Some(with) = abort else {
            return Ok(());
        };
        self.stats.aborts_injected.inc();
        let mut reply = match with {
            AbortWith::Http(s) => LocalReply::fault_abort(s),
            AbortWith::Grpc(g) => {
                // A gRPC abort is an HTTP 200 whose trailers-only headers carry the status.
                let mut r = LocalReply::fault_abort(200);
                r.headers = vec![
                    (
                        HeaderName::from_static("content-type"),
                        HeaderValue::from_static("application/grpc"),
                    ),
                    (HeaderName::from_static("grpc-status"), HeaderValue::from(g)),
                    (
                        HeaderName::from_static("grpc-message"),
                        HeaderValue::from_static("fault filter abort"),
                    ),
                ];
                r.body.clear();
                r
            }
        };
        reply.flags = reply.flags.union(*flags);
        Err(reply)
    }

    /// Counts a new active fault unless `max_active_faults` is reached (`faults_overflow`).
    fn start(&self, settings: &FaultSettings, held: &mut Vec<ActiveFault>) -> bool {
        if let Some(max) = settings.max_active_faults
            && self.stats.active_faults.value() >= u64::from(max)
        {
            self.stats.faults_overflow.inc();
            return false;
        }
        self.stats.active_faults.inc();
        held.push(ActiveFault(self.stats.active_faults.clone()));
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::stats::Store;

    fn settings(json: serde_json::Value) -> FaultSettings {
        FaultSettings::build(&serde_json::from_value(json).unwrap(), "f").unwrap()
    }

    async fn run(f: &FaultFilter, s: &FaultSettings, headers: &HeaderMap, cluster: &str) -> u16 {
        let req = FaultRequest {
            headers,
            pseudo: Pseudo {
                method: "GET",
                authority: "h",
                path: "/",
                scheme: "http",
            },
            cluster: Some(cluster),
        };
        let (mut flags, mut held) = (Flags::default(), Vec::new());
        match f.decode(s, &req, &mut flags, &mut held).await {
            Ok(()) => 200,
            Err(r) => r.status,
        }
    }

    #[tokio::test]
    async fn headers_upstream_cluster_and_max_active_faults_gate_the_fault() {
        let store = Store::new();
        let s = settings(serde_json::json!({
            "abort": {"http_status": 503, "percentage": {"numerator": 100}},
            "upstream_cluster": "catalog",
            "headers": [{"name": "x-chaos", "exact_match": "on"}],
            "max_active_faults": 1
        }));
        let f = FaultFilter::new(settings(serde_json::json!({})), &store.scope("http.t"));
        let mut on = HeaderMap::new();
        on.insert("x-chaos", HeaderValue::from_static("on"));
        assert_eq!(run(&f, &s, &on, "catalog").await, 503);
        assert_eq!(run(&f, &s, &HeaderMap::new(), "catalog").await, 200);
        assert_eq!(run(&f, &s, &on, "webapp").await, 200);
        // One fault already active: the next overflows instead of aborting.
        f.stats.active_faults.inc();
        assert_eq!(run(&f, &s, &on, "catalog").await, 200);
        assert_eq!(f.stats.faults_overflow.value(), 1);
        assert_eq!(f.stats.aborts_injected.value(), 1);
        let bad = serde_json::from_value(serde_json::json!({"abort": {"http_status": 700}}));
        assert!(FaultSettings::build(&bad.unwrap(), "f").is_err());
    }
}
