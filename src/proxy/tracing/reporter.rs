//! Batches finished spans and posts them to the collector cluster in the background, so a
//! request never waits on its trace. Envoy's behaviour: a report when 5 spans are waiting or
//! every 5 s, `tracing.zipkin.*` stats; a bounded buffer drops spans rather than grow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use http::{HeaderValue, Request, header};
use http_body_util::BodyExt;
use tokio::sync::Notify;

use super::super::Proxy;
use super::super::cluster::pool::Pool;
use super::super::http::body;
use super::super::stats::{Counter, Store};
use super::zipkin::{self, Span};

/// Envoy's `tracing.zipkin.min_flush_spans` and `flush_interval_ms` defaults.
const MIN_FLUSH_SPANS: usize = 5;
const FLUSH_INTERVAL: Duration = Duration::from_secs(5);
/// Spans waiting beyond this are dropped (a collector that is down must not eat memory).
const MAX_BUFFERED: usize = 1000;
const REPORT_TIMEOUT: Duration = Duration::from_secs(5);

/// Where a tracer's reports go.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Collector {
    pub cluster: String,
    pub endpoint: String,
    pub hostname: String,
}

/// `tracing.zipkin.*`.
#[derive(Debug, Clone)]
struct ZipkinStats {
    spans_sent: Counter,
    timer_flushed: Counter,
    reports_sent: Counter,
    reports_dropped: Counter,
    reports_failed: Counter,
    reports_skipped_no_cluster: Counter,
}

/// Registers `tracing.zipkin.*` as soon as a tracer is configured (Envoy lists them at zero
/// before the first span).
pub fn register_stats(store: &Store) {
    ZipkinStats::new(store);
}

impl ZipkinStats {
    fn new(store: &Store) -> ZipkinStats {
        let s = store.scope("tracing.zipkin");
        ZipkinStats {
            spans_sent: s.counter("spans_sent"),
            timer_flushed: s.counter("timer_flushed"),
            reports_sent: s.counter("reports_sent"),
            reports_dropped: s.counter("reports_dropped"),
            reports_failed: s.counter("reports_failed"),
            reports_skipped_no_cluster: s.counter("reports_skipped_no_cluster"),
        }
    }
}

#[derive(Debug)]
struct Reporter {
    buffer: Mutex<Vec<Span>>,
    wake: Notify,
}

/// One reporter per collector, started on a proxy's first sampled span.
#[derive(Debug, Default)]
pub struct Reporters {
    by_collector: Mutex<HashMap<Collector, Arc<Reporter>>>,
}

impl Reporters {
    /// Queues spans for `collector`; never waits.
    pub fn report(&self, proxy: &Arc<Proxy>, collector: &Collector, spans: Vec<Span>) {
        let Ok(mut map) = self.by_collector.lock() else {
            return;
        };
        let reporter = map
            .entry(collector.clone())
            .or_insert_with(|| start(proxy, collector.clone()))
            .clone();
        drop(map);
        let full = {
            let Ok(mut buf) = reporter.buffer.lock() else {
                return;
            };
            let room = MAX_BUFFERED.saturating_sub(buf.len());
            buf.extend(spans.into_iter().take(room));
            buf.len() >= MIN_FLUSH_SPANS
        };
        if full {
            reporter.wake.notify_one();
        }
    }
}

fn start(proxy: &Arc<Proxy>, collector: Collector) -> Arc<Reporter> {
    let reporter = Arc::new(Reporter {
        buffer: Mutex::new(Vec::new()),
        wake: Notify::new(),
    });
    let stats = ZipkinStats::new(&proxy.stats);
    let (weak, r, stop) = (
        Arc::downgrade(proxy),
        reporter.clone(),
        proxy.shutdown.clone(),
    );
    tokio::spawn(async move {
        loop {
            let by_timer = tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(FLUSH_INTERVAL) => true,
                _ = r.wake.notified() => false,
            };
            let spans = r
                .buffer
                .lock()
                .map(|mut b| std::mem::take(&mut *b))
                .unwrap_or_default();
            if spans.is_empty() {
                continue;
            }
            if by_timer {
                stats.timer_flushed.inc();
            }
            send(&weak, &collector, &spans, &stats).await;
        }
    });
    reporter
}

/// One POST of a batch through the collector cluster's own load balancer and pool.
async fn send(proxy: &Weak<Proxy>, collector: &Collector, spans: &[Span], stats: &ZipkinStats) {
    let Some(proxy) = proxy.upgrade() else {
        return;
    };
    let applied = proxy.applied();
    let Some(cluster) = applied.cluster(&collector.cluster).cloned() else {
        stats.reports_skipped_no_cluster.inc();
        return;
    };
    let Some(host) = cluster.choose_host(&[], None, None) else {
        stats.reports_failed.inc();
        return;
    };
    let host_header = if collector.hostname.is_empty() {
        &collector.cluster
    } else {
        &collector.hostname
    };
    let mut req = Request::new(body::full(zipkin::encode(spans)));
    *req.method_mut() = http::Method::POST;
    *req.uri_mut() = collector
        .endpoint
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/api/v2/spans"));
    let h = req.headers_mut();
    if let Ok(v) = HeaderValue::from_str(host_header) {
        h.insert(header::HOST, v);
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    let attempt = async {
        let ctx = cluster.pool_ctx_for(&host);
        let mut conn = Pool::acquire(&host, &ctx).await.ok()?;
        let resp = conn.sender.send_request(req).await.ok()?;
        let status = resp.status();
        // Read to the end so the connection can serve the next report.
        let done = resp.into_body().collect().await.is_ok();
        if done {
            Pool::release(
                &host,
                conn,
                cluster.config.max_requests_per_connection,
                &cluster.stats,
            );
        }
        Some(status)
    };
    cluster.stats.upstream_rq_total.inc();
    match tokio::time::timeout(REPORT_TIMEOUT, attempt).await {
        Ok(Some(status)) if status.is_success() => {
            stats.reports_sent.inc();
            stats.spans_sent.add(spans.len() as u64);
        }
        Ok(Some(_)) => stats.reports_dropped.inc(),
        _ => stats.reports_failed.inc(),
    }
}
