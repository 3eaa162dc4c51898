//! The router filter: picks the cluster, rewrites the request, and sends it upstream with
//! Envoy's timeouts (route timeout spanning all attempts, per-try timeouts), retries (with
//! jittered back-off, the retry circuit breaker and `previous_hosts`), and its stats, headers
//! and local replies.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Request, Response, header};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::time::Instant as TokioInstant;

use crate::plog;
use crate::xds::route::RedirectAction;

use super::super::Proxy;
use super::super::access_log::Record;
use super::super::cluster::Cluster;
use super::super::cluster::h2pool::Lease;
use super::super::cluster::host::{Host, dec, inc};
use super::super::cluster::outlier::Outcome;
use super::super::cluster::pool::{ConnectError, Pool};
use super::super::flags::{Flag, Flags};
use super::super::log::{Component, Level};
use super::super::tls::ConnTls;
use super::body::{self, Body, End, Observed};
use super::hcm::HcmRt;
use super::local_reply::LocalReply;
use super::retry::{ResetKind, RetryPolicy};
use super::route::{ClusterTarget, ForwardRt, HostRewrite, RouteRt, RouteTable, VirtualHostRt};

/// Envoy's default per-connection buffer limit: bodies up to this size can be retried.
const RETRY_BUFFER_LIMIT: usize = 1024 * 1024;

/// Request headers the router consumes and never forwards.
const CONSUMED: [&str; 8] = [
    "x-envoy-upstream-rq-timeout-ms",
    "x-envoy-upstream-rq-per-try-timeout-ms",
    "x-envoy-max-retries",
    "x-envoy-retry-on",
    "x-envoy-retry-grpc-on",
    "x-envoy-retriable-status-codes",
    "x-envoy-upstream-rq-timeout-alt-response",
    "x-envoy-hedge-on-per-try-timeout",
];

pub struct RouterCtx<'a> {
    pub proxy: &'a Arc<Proxy>,
    pub hcm: &'a Arc<HcmRt>,
    pub conn_id: u64,
    pub stream_id: u64,
    pub internal: bool,
    pub downstream_started: Instant,
    /// Where the downstream connection was going (ORIGINAL_DST clusters connect there).
    pub destination: SocketAddr,
    /// An allowed upgrade (WebSocket): sent on a connection of its own.
    pub upgrade: bool,
    /// The stream idle timeout while waiting for the response headers.
    pub stream_idle: Option<Duration>,
}

/// A response on its way back, with what the access log needs to know about how it came.
pub struct Forwarded {
    pub response: Response<Body>,
    pub flags: Flags,
    pub cluster: Option<String>,
    pub host: Option<SocketAddr>,
    pub attempts: u32,
    pub details: String,
    pub transport_failure: Option<String>,
    pub local_reply_body: Option<String>,
    /// Index of the weighted cluster that was picked.
    pub weighted: Option<usize>,
    /// The upstream connection's TLS session (the peer's identity for telemetry).
    pub upstream_tls: Option<Arc<ConnTls>>,
    /// The chosen endpoint's `istio.workload` metadata.
    pub upstream_workload: Option<Arc<str>>,
}

impl Forwarded {
    pub fn local(response: Response<Body>, details: &str) -> Forwarded {
        Forwarded {
            response,
            flags: Flags::NONE,
            cluster: None,
            host: None,
            attempts: 0,
            details: details.to_owned(),
            transport_failure: None,
            local_reply_body: None,
            weighted: None,
            upstream_tls: None,
            upstream_workload: None,
        }
    }
}

/// The request body, kept whole when it may be sent more than once.
enum ReqBody {
    Buffered(Bytes),
    Stream(Option<Body>),
}

impl ReqBody {
    fn take(&mut self) -> Option<Body> {
        match self {
            ReqBody::Buffered(b) => Some(body::full(b.clone())),
            ReqBody::Stream(s) => s.take(),
        }
    }
    fn replayable(&self) -> bool {
        matches!(self, ReqBody::Buffered(_))
    }
}

/// Reads up to `limit` bytes; a longer body is passed on as a stream (and cannot be retried).
async fn buffer_body(incoming: Body, limit: usize) -> Result<ReqBody, LocalReply> {
    if hyper::body::Body::is_end_stream(&incoming) {
        return Ok(ReqBody::Buffered(Bytes::new()));
    }
    let mut body = incoming;
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut size = 0;
    loop {
        match body.frame().await {
            None => break,
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    size += data.len();
                    chunks.push(data);
                    if size > limit {
                        let head = futures_util::stream::iter(
                            chunks.into_iter().map(|c| Ok(hyper::body::Frame::data(c))),
                        );
                        let rest = http_body_util::BodyStream::new(body);
                        let all = futures_util::StreamExt::chain(head, rest);
                        return Ok(ReqBody::Stream(Some(
                            http_body_util::StreamBody::new(all).boxed_unsync(),
                        )));
                    }
                }
            }
            Some(Err(_)) => {
                return Err(LocalReply::reset(
                    "downstream disconnected",
                    None,
                    false,
                    Flags::of(Flag::DownstreamConnectionTermination),
                ));
            }
        }
    }
    let mut out = bytes::BytesMut::with_capacity(size);
    for c in chunks {
        out.extend_from_slice(&c);
    }
    Ok(ReqBody::Buffered(out.freeze()))
}

/// A gRPC request's `grpc-timeout` (`10S`, `200m`, …), when the request is gRPC.
fn grpc_timeout(headers: &HeaderMap) -> Option<Duration> {
    let grpc = headers
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if !grpc {
        return None;
    }
    let v = headers.get("grpc-timeout")?.to_str().ok()?;
    let (n, unit) = v.split_at(v.len().checked_sub(1)?);
    let n: u64 = n.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n * 3600),
        "M" => Duration::from_secs(n * 60),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

fn header_ms(headers: &HeaderMap, name: &str) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// Sends the request upstream; `Err` is a local reply (no route to a host, timeouts, resets).
#[allow(clippy::too_many_arguments)]
pub async fn forward(
    ctx: &RouterCtx<'_>,
    parts: &mut http::request::Parts,
    incoming: Body,
    authority: &str,
    path: &str,
    table: &RouteTable,
    vhost: &VirtualHostRt,
    route: &RouteRt,
    fwd: &ForwardRt,
    rec: &mut Record,
) -> Result<Forwarded, LocalReply> {
    let hcm = ctx.hcm;
    let log = &hcm.log;
    // 1. Which cluster.
    let (cluster_name, weighted) = match &fwd.target {
        ClusterTarget::Named(n) => (n.clone(), None),
        ClusterTarget::FromHeader(h) => (
            parts
                .headers
                .get(h)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned(),
            None,
        ),
        ClusterTarget::Weighted { clusters, total } => {
            let mut point = rand::random_range(0..(*total).max(1));
            let mut picked = clusters.len().saturating_sub(1);
            for (i, c) in clusters.iter().enumerate() {
                if point < u64::from(c.weight) {
                    picked = i;
                    break;
                }
                point -= u64::from(c.weight);
            }
            (
                clusters
                    .get(picked)
                    .map(|c| c.name.clone())
                    .unwrap_or_default(),
                Some(picked),
            )
        }
    };
    let applied = ctx.proxy.applied();
    let Some(cluster) = applied.cluster(&cluster_name).cloned() else {
        plog!(
            log,
            Level::Debug,
            Component::Router,
            "[C{}][S{}] unknown cluster '{cluster_name}'",
            ctx.conn_id,
            ctx.stream_id
        );
        return Err(LocalReply::no_cluster(fwd.cluster_not_found_status));
    };
    // Known from here on, also for the access log of a local reply.
    rec.upstream_cluster = Some(cluster.name.clone());
    plog!(
        log,
        Level::Debug,
        Component::Router,
        "[C{}][S{}] cluster '{cluster_name}' match for URL '{path}'",
        ctx.conn_id,
        ctx.stream_id
    );

    // 2. Header mutations, most specific first.
    let weighted_target = match (&fwd.target, weighted) {
        (ClusterTarget::Weighted { clusters, .. }, Some(i)) => clusters.get(i),
        _ => None,
    };
    if let Some(w) = weighted_target {
        w.request_headers.apply(&mut parts.headers, Some(rec));
    }
    route.request_headers.apply(&mut parts.headers, Some(rec));
    vhost.request_headers.apply(&mut parts.headers, Some(rec));
    table.request_headers.apply(&mut parts.headers, Some(rec));

    // 3. Timeouts and retries (the x-envoy-* overrides only reach us from internal clients).
    let mut global = fwd.timeout;
    if let Some(max) = fwd.max_grpc_timeout
        && let Some(t) = grpc_timeout(&parts.headers)
    {
        global = Some(if max.is_zero() { t } else { t.min(max) });
    }
    let policy_base = fwd.retry_policy.as_ref().or(vhost.retry_policy.as_ref());
    let policy = if ctx.internal {
        if let Some(ms) = header_ms(&parts.headers, "x-envoy-upstream-rq-timeout-ms") {
            global = (ms > 0).then(|| Duration::from_millis(ms));
        }
        RetryPolicy::from_headers(policy_base, &parts.headers)
    } else {
        policy_base.cloned()
    };
    let mut per_try = policy.as_ref().and_then(|p| p.per_try_timeout);
    if ctx.internal
        && let Some(ms) = header_ms(&parts.headers, "x-envoy-upstream-rq-per-try-timeout-ms")
    {
        per_try = (ms > 0).then(|| Duration::from_millis(ms));
    }
    if let (Some(g), Some(p)) = (global, per_try)
        && p >= g
    {
        per_try = None;
    }
    if parts
        .headers
        .keys()
        .any(|k| k.as_str().starts_with("x-envoy-"))
    {
        for h in CONSUMED {
            parts.headers.remove(h);
        }
    }

    // 4. Path and host rewrites.
    let (path_only, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut new_path = path.to_owned();
    if let (Some(rewrite), Some(prefix)) = (&fwd.prefix_rewrite, route.matched_prefix()) {
        if path.len() >= prefix.len() {
            new_path = format!("{rewrite}{}", &path[prefix.len()..]);
        }
    } else if let Some((re, sub)) = &fwd.regex_rewrite {
        let rewritten = re.replace_all(path_only, sub.as_str());
        new_path = match query {
            Some(q) => format!("{rewritten}?{q}"),
            None => rewritten.into_owned(),
        };
    }
    if new_path != path
        && !hcm.suppress_envoy_headers
        && let Ok(v) = HeaderValue::try_from(path)
    {
        parts.headers.insert("x-envoy-original-path", v);
    }
    let upstream_uri: http::Uri = new_path
        .parse()
        .unwrap_or_else(|_| http::Uri::from_static("/"));

    // 5. The body: buffered when it may be retried or mirrored.
    let may_retry = policy
        .as_ref()
        .is_some_and(|p| p.num_retries > 0 && !p.on.is_empty());
    let mirrors: Vec<_> = fwd.mirrors.iter().filter(|m| m.sampled()).collect();
    let mut req_body = if may_retry || !mirrors.is_empty() {
        let b = buffer_body(incoming, RETRY_BUFFER_LIMIT).await?;
        if !b.replayable() {
            cluster.stats.retry_or_shadow_abandoned.inc();
        }
        b
    } else {
        ReqBody::Stream(Some(incoming))
    };
    // Shadows leave now, with the upstream request's headers; a body too large to keep
    // cannot be copied, so the shadows are abandoned (Envoy's `retry_or_shadow_abandoned`).
    let literal_host = match (
        &fwd.host_rewrite,
        weighted_target.and_then(|w| w.host_rewrite_literal.as_deref()),
    ) {
        (_, Some(w)) => Some(w),
        (HostRewrite::Literal(h), None) => Some(h.as_str()),
        _ => None,
    };
    if let ReqBody::Buffered(bytes) = &req_body {
        for m in &mirrors {
            let Some(shadow_cluster) = applied.cluster(&m.cluster).cloned() else {
                continue;
            };
            let shadow = super::mirror::Shadow {
                method: parts.method.clone(),
                uri: upstream_uri.clone(),
                headers: super::mirror::shadow_headers(&parts.headers, authority, literal_host),
                body: bytes.clone(),
            };
            super::mirror::spawn(shadow_cluster, shadow, global);
        }
    }

    // The stream idle timeout only matters when the route timeout would not end the stream
    // first (it counts from the request's start, the idle timer from the last activity).
    let stream_idle = ctx
        .stream_idle
        .filter(|idle| global.is_none_or(|g| g > *idle));

    // 6. Attempts.
    let stats = cluster.stats.clone();
    let downstream_h2 = parts.version == http::Version::HTTP_2;
    let routing_started = Instant::now();
    let global_deadline = global.map(|g| TokioInstant::now() + g);
    // One timer for the whole request: it bounds every attempt and then the response body.
    let mut global_timer = global_deadline.map(|d| Box::pin(tokio::time::sleep_until(d)));
    let mut retries = Retries {
        cluster: &cluster,
        left: policy.as_ref().map(|p| p.num_retries).unwrap_or(0),
        may_retry,
        _slot: None,
    };
    // The request's hash, for RING_HASH and MAGLEV clusters (computed on what the client
    // sent, before the upstream request's rewrites).
    let hashed = if fwd.hash_policy.is_empty() {
        super::hash_policy::Hashed::default()
    } else {
        super::hash_policy::compute(
            &fwd.hash_policy,
            &parts.headers,
            rec.downstream_remote,
            path,
        )
    };
    let mut attempt: u32 = 0;
    let mut tried: Vec<SocketAddr> = Vec::new();
    let mut flags = Flags::NONE;
    loop {
        attempt += 1;
        let avoid: &[SocketAddr] = if policy.as_ref().is_some_and(|p| p.previous_hosts) {
            &tried
        } else {
            &[]
        };
        let Some(host) = cluster.choose_host(avoid, Some(ctx.destination), hashed.hash) else {
            let mut reply = LocalReply::no_healthy_upstream();
            reply.flags = reply.flags.union(flags);
            return Err(reply);
        };
        tried.push(host.address);
        rec.upstream_host = Some(host.address);
        rec.attempt_count = attempt;
        let Some(body) = req_body.take() else {
            // A streamed body cannot be sent twice.
            return Err(LocalReply::reset(
                "remote reset",
                None,
                attempt > 1,
                flags.union(Flags::of(Flag::UpstreamRemoteReset)),
            ));
        };
        let per_try_deadline = per_try
            .map(|p| TokioInstant::now() + p)
            .filter(|d| global_deadline.is_none_or(|g| *d < g));
        let host_value = match (
            &fwd.host_rewrite,
            weighted_target.and_then(|w| w.host_rewrite_literal.as_ref()),
        ) {
            (_, Some(literal)) => Some(literal.clone()),
            (HostRewrite::None, None) if parts.headers.contains_key(header::HOST) => None,
            (HostRewrite::None, None) => Some(authority.to_owned()),
            (HostRewrite::Literal(h), None) => Some(h.clone()),
            (HostRewrite::Auto, None) if !host.hostname.is_empty() => Some(host.hostname.clone()),
            (HostRewrite::Auto, None) => Some(authority.to_owned()),
            (HostRewrite::Header(h), None) => Some(
                parts
                    .headers
                    .get(h)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned)
                    .unwrap_or_else(|| authority.to_owned()),
            ),
        };
        // Only a request that may be sent again needs its own copy of the headers.
        let mut headers = if req_body.replayable() && may_retry {
            parts.headers.clone()
        } else {
            std::mem::take(&mut parts.headers)
        };
        if let Some(v) = host_value.and_then(|h| HeaderValue::try_from(h).ok()) {
            headers.insert(header::HOST, v);
        }
        if !hcm.suppress_envoy_headers {
            // Envoy: the global timeout minus whole milliseconds elapsed, or the per-try
            // timeout when that is shorter; omitted when there is no timeout.
            let elapsed_ms = routing_started.elapsed().as_millis() as u64;
            let global_left = global.map(|g| (g.as_millis() as u64).saturating_sub(elapsed_ms));
            let per_try_ms = per_try.map(|p| p.as_millis() as u64);
            let expected = match (global_left, per_try_ms) {
                (Some(g), Some(p)) => Some(g.min(p)),
                (g, p) => g.or(p),
            };
            if let Some(e) = expected.filter(|e| *e > 0) {
                headers.insert("x-envoy-expected-rq-timeout-ms", HeaderValue::from(e));
            }
        }
        if vhost.include_request_attempt_count {
            headers.insert("x-envoy-attempt-count", HeaderValue::from(attempt));
        }
        let mut req = Request::new(body);
        *req.method_mut() = parts.method.clone();
        *req.uri_mut() = upstream_uri.clone();
        *req.headers_mut() = headers;
        if hcm.log.enabled(Component::Router, Level::Debug) {
            let mut lines = format!(
                "[C{}][S{}] router decoding headers:\n':authority', '{}'\n':path', '{}'\n':method', '{}'",
                ctx.conn_id,
                ctx.stream_id,
                req.headers()
                    .get(header::HOST)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or(""),
                new_path,
                req.method()
            );
            for (k, v) in req.headers() {
                if k != header::HOST {
                    lines.push_str(&format!(
                        "\n'{}', '{}'",
                        k,
                        String::from_utf8_lossy(v.as_bytes())
                    ));
                }
            }
            plog!(hcm.log, Level::Debug, Component::Router, "{lines}");
        }

        // The `max_requests` circuit breaker: Envoy fails the request at once (UO).
        if stats.upstream_rq_active.value() >= cluster.limits.max_requests {
            stats.upstream_rq_pending_overflow.inc();
            return Err(overflow(flags, attempt));
        }
        stats.upstream_rq_total.inc();
        stats.upstream_rq_active.inc();
        inc(&host.stats.rq_total);
        inc(&host.stats.rq_active);
        let sent_at = Instant::now();
        let attempt_future = if ctx.upgrade {
            futures_util::future::Either::Left(super::upgrade::send(&cluster, &host, req))
        } else {
            futures_util::future::Either::Right(send(&cluster, &host, req, downstream_h2))
        };
        let idle_deadline = stream_idle.map(|d| TokioInstant::now() + d);
        let outcome = wait_attempt(
            attempt_future,
            global_timer.as_mut(),
            per_try_deadline,
            idle_deadline,
        )
        .await;
        let finished_attempt = |ok: bool| {
            if !ok {
                stats.upstream_rq_active.dec();
                dec(&host.stats.rq_active);
            }
        };
        match outcome {
            Ok((response, conn)) => {
                rec.upstream_local = conn.local();
                let status = response.status().as_u16();
                if attempt > 1 {
                    stats.retry_code(status);
                }
                if hcm.dynamic_stats {
                    stats.charge_response(status, ctx.internal);
                }
                if status >= 500 {
                    inc(&host.stats.rq_error);
                } else {
                    inc(&host.stats.rq_success);
                }
                cluster.report(&host, Outcome::Status(status));
                let retriable = policy
                    .as_ref()
                    .is_some_and(|p| p.retries_response(status, response.headers()));
                if retries.next(retriable, req_body.replayable(), &mut flags) {
                    finished_attempt(false);
                    // An answer without a body leaves the connection reusable.
                    if hyper::body::Body::is_end_stream(response.body()) {
                        conn.release(&host, cluster.config.max_requests_per_connection, &stats);
                    }
                    drop(response);
                    plog!(
                        log,
                        Level::Debug,
                        Component::Router,
                        "[C{}][S{}] performing retry after {status}",
                        ctx.conn_id,
                        ctx.stream_id
                    );
                    if !backoff(&stats, policy.as_ref(), attempt, global_deadline).await {
                        return Err(timed_out(&stats, &host, flags, false));
                    }
                    continue;
                }
                if !retriable && attempt > 1 {
                    stats.upstream_rq_retry_success.inc();
                }
                let service_time = sent_at.elapsed();
                let upstream_tls = conn.tls();
                let mut response = finish_response(
                    response,
                    conn,
                    &cluster,
                    &host,
                    ctx.internal,
                    global_timer.take(),
                    hcm.suppress_envoy_headers,
                    service_time,
                    sent_at,
                );
                // The response body idles no longer than the stream may (not a tunnel's).
                if let Some(idle) = stream_idle
                    && response.status() != http::StatusCode::SWITCHING_PROTOCOLS
                    && !hyper::body::Body::is_end_stream(response.body())
                {
                    let counter = hcm.stats.downstream_rq_idle_timeout.clone();
                    response = response
                        .map(|b| body::boxed(super::stream_idle::IdleBody::wrap(b, idle, counter)));
                }
                if let Some(cookie) = hashed
                    .set_cookie
                    .as_deref()
                    .and_then(|c| http::HeaderValue::from_str(c).ok())
                {
                    response
                        .headers_mut()
                        .append(http::header::SET_COOKIE, cookie);
                }
                return Ok(Forwarded {
                    response,
                    flags,
                    cluster: Some(cluster.name.clone()),
                    host: Some(host.address),
                    attempts: attempt,
                    details: "via_upstream".to_owned(),
                    transport_failure: None,
                    local_reply_body: None,
                    weighted,
                    upstream_tls,
                    upstream_workload: host.workload.clone(),
                });
            }
            Err(Failure::Connect(ConnectError::Overflow)) => {
                // A circuit breaker, not the host: no outlier report, no retry.
                finished_attempt(false);
                return Err(overflow(flags, attempt));
            }
            Err(failure) => {
                finished_attempt(false);
                cluster.report(&host, Outcome::LocalFailure);
                let global_expired = global_deadline.is_some_and(|g| TokioInstant::now() >= g);
                let (kind, reply) = match &failure {
                    Failure::Idle => {
                        hcm.stats.downstream_rq_idle_timeout.inc();
                        stats.upstream_rq_tx_reset.inc();
                        let mut r = LocalReply::stream_idle_timeout(true);
                        r.flags = r.flags.union(flags);
                        return Err(r);
                    }
                    Failure::Timeout if global_expired => {
                        return Err(timed_out(&stats, &host, flags, false));
                    }
                    Failure::Timeout => {
                        stats.upstream_rq_per_try_timeout.inc();
                        stats.upstream_rq_tx_reset.inc();
                        inc(&host.stats.rq_timeout);
                        (ResetKind::PerTryTimeout, None)
                    }
                    Failure::Connect(e) => {
                        inc(&host.stats.rq_error);
                        (
                            ResetKind::ConnectFailure,
                            Some((
                                e.reset_reason().to_owned(),
                                e.transport_reason().map(str::to_owned),
                                Flag::UpstreamConnectionFailure,
                            )),
                        )
                    }
                    Failure::Reset {
                        reason,
                        sent,
                        protocol,
                    } => {
                        inc(&host.stats.rq_error);
                        stats.upstream_rq_rx_reset.inc();
                        let flag = if *protocol {
                            Flag::UpstreamProtocolError
                        } else {
                            Flag::UpstreamConnectionTermination
                        };
                        (
                            ResetKind::Reset { sent: *sent },
                            Some((reason.clone(), None, flag)),
                        )
                    }
                };
                let retriable = policy.as_ref().is_some_and(|p| p.retries_reset(kind));
                if retries.next(retriable, req_body.replayable(), &mut flags) {
                    plog!(
                        log,
                        Level::Debug,
                        Component::Router,
                        "[C{}][S{}] performing retry after {kind:?}",
                        ctx.conn_id,
                        ctx.stream_id
                    );
                    if !backoff(&stats, policy.as_ref(), attempt, global_deadline).await {
                        return Err(timed_out(&stats, &host, flags, false));
                    }
                    continue;
                }
                return Err(match reply {
                    None => {
                        let mut r = LocalReply::timeout(true);
                        r.flags = r.flags.union(flags);
                        r
                    }
                    Some((reason, transport, flag)) => LocalReply::reset(
                        &reason,
                        transport.as_deref(),
                        attempt > 1,
                        flags.union(Flags::of(flag)),
                    ),
                });
            }
        }
    }
}

/// Retries left, and the retry circuit-breaker slot of the retry in flight.
struct Retries<'a> {
    cluster: &'a Arc<Cluster>,
    left: u32,
    may_retry: bool,
    _slot: Option<super::super::cluster::RetrySlot>,
}

impl Retries<'_> {
    /// Whether to try again after an outcome; counts Envoy's retry stats and flags.
    fn next(&mut self, retriable: bool, replayable: bool, flags: &mut Flags) -> bool {
        if !retriable {
            return false;
        }
        if self.left > 0 && replayable {
            match self.cluster.try_retry_slot() {
                Some(slot) => {
                    self._slot = Some(slot);
                    self.left -= 1;
                    return true;
                }
                None => flags.set(Flag::UpstreamOverflow),
            }
        } else if self.left == 0 && self.may_retry {
            self.cluster.stats.upstream_rq_retry_limit_exceeded.inc();
            flags.set(Flag::UpstreamRetryLimitExceeded);
        }
        false
    }
}

/// A circuit breaker overflowed: 503 `UO` with `x-envoy-overloaded`.
fn overflow(flags: Flags, attempt: u32) -> LocalReply {
    LocalReply::reset(
        "overflow",
        None,
        attempt > 1,
        flags.union(Flags::of(Flag::UpstreamOverflow)),
    )
}

/// The global timeout fired: 504, `UT`.
fn timed_out(
    stats: &super::super::cluster::stats::ClusterStats,
    host: &Host,
    flags: Flags,
    per_try: bool,
) -> LocalReply {
    stats.upstream_rq_timeout.inc();
    inc(&host.stats.rq_timeout);
    let mut r = LocalReply::timeout(per_try);
    r.flags = r.flags.union(flags);
    r
}

/// Sleeps Envoy's back-off before the next attempt; false if the route timeout ends first.
async fn backoff(
    stats: &super::super::cluster::stats::ClusterStats,
    policy: Option<&RetryPolicy>,
    attempt: u32,
    global_deadline: Option<TokioInstant>,
) -> bool {
    stats.upstream_rq_retry.inc();
    stats.upstream_rq_retry_backoff_exponential.inc();
    let wait = policy.map(|p| p.backoff(attempt)).unwrap_or_default();
    let until = TokioInstant::now() + wait;
    match global_deadline {
        Some(g) if g <= until => {
            tokio::time::sleep_until(g).await;
            false
        }
        _ => {
            tokio::time::sleep_until(until).await;
            true
        }
    }
}

/// Waits for one attempt's response headers, bounded by the request's timer and the per-try
/// deadline.
async fn wait_attempt<F>(
    attempt: F,
    global: Option<&mut std::pin::Pin<Box<tokio::time::Sleep>>>,
    per_try: Option<TokioInstant>,
    idle: Option<TokioInstant>,
) -> Result<(Response<Incoming>, Lease), Failure>
where
    F: std::future::Future<Output = Result<(Response<Incoming>, Lease), Failure>>,
{
    let per_try = async {
        match per_try {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    let global = async {
        match global {
            Some(t) => t.as_mut().await,
            None => std::future::pending().await,
        }
    };
    let idle = async {
        match idle {
            Some(d) => tokio::time::sleep_until(d).await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        r = attempt => r,
        _ = global => Err(Failure::Timeout),
        _ = per_try => Err(Failure::Timeout),
        _ = idle => Err(Failure::Idle),
    }
}

pub(super) enum Failure {
    Timeout,
    /// The stream idle timeout fired before the response headers.
    Idle,
    Connect(ConnectError),
    Reset {
        reason: String,
        sent: bool,
        protocol: bool,
    },
}

/// One attempt: a connection (reused or new) and the response headers. A reused connection
/// that turns out closed is replaced once, transparently (the request was never sent).
/// HTTP/2 clusters send on the host's shared connection instead.
pub(super) async fn send(
    cluster: &Arc<Cluster>,
    host: &Arc<Host>,
    mut req: Request<Body>,
    downstream_h2: bool,
) -> Result<(Response<Incoming>, Lease), Failure> {
    if cluster.protocol.use_h2(downstream_h2) {
        return super::upstream_h2::send(cluster, host, req).await;
    }
    let ctx = cluster.pool_ctx_for(host);
    for _ in 0..2 {
        let mut conn = Pool::acquire(host, &ctx).await.map_err(Failure::Connect)?;
        if conn.fresh {
            cluster.stats.upstream_rq_pending_total.inc();
        }
        match conn.sender.try_send_request(req).await {
            Ok(resp) => return Ok((resp, Lease::H1(conn))),
            Err(mut e) => {
                let unsent = e.take_message();
                let err = e.into_error();
                match unsent {
                    Some(r) if !conn.fresh => {
                        req = r;
                        continue;
                    }
                    _ => {
                        let protocol = err.is_parse() || err.is_parse_status();
                        let reason = if protocol {
                            "protocol error"
                        } else {
                            "connection termination"
                        };
                        return Err(Failure::Reset {
                            reason: reason.to_owned(),
                            sent: true,
                            protocol,
                        });
                    }
                }
            }
        }
    }
    Err(Failure::Reset {
        reason: "connection termination".to_owned(),
        sent: false,
        protocol: false,
    })
}

/// The upstream response, cleaned of hop-by-hop headers, with Envoy's response headers, and a
/// body that returns the connection to the pool, ends the request's accounting and enforces
/// the route timeout until the last byte.
#[allow(clippy::too_many_arguments)]
fn finish_response(
    response: Response<Incoming>,
    conn: Lease,
    cluster: &Arc<Cluster>,
    host: &Arc<Host>,
    internal: bool,
    timer: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    suppress: bool,
    service_time: Duration,
    sent_at: Instant,
) -> Response<Body> {
    let (mut parts, incoming) = response.into_parts();
    // A 101 keeps `connection`/`upgrade`: they are the answer to the upgrade.
    let switching = parts.status == http::StatusCode::SWITCHING_PROTOCOLS;
    let hop_by_hop = !switching
        && parts.headers.keys().any(|k| {
            matches!(
                k.as_str(),
                "connection" | "keep-alive" | "proxy-connection" | "transfer-encoding" | "upgrade"
            )
        });
    if hop_by_hop {
        for h in [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
        ] {
            parts.headers.remove(h);
        }
    }

    if !suppress {
        parts.headers.insert(
            "x-envoy-upstream-service-time",
            HeaderValue::from(service_time.as_millis() as u64),
        );
    }
    let (cluster2, host2) = (cluster.clone(), host.clone());
    let mut conn = Some(conn);
    let max_requests = cluster.config.max_requests_per_connection;
    let observed = Observed::new(incoming, move |end, _bytes| {
        let stats = &cluster2.stats;
        stats.upstream_rq_active.dec();
        dec(&host2.stats.rq_active);
        stats.record_rq_time(internal, sent_at.elapsed().as_millis() as u64);
        match end {
            End::Complete => {
                if let Some(c) = conn.take() {
                    c.release(&host2, max_requests, stats);
                }
            }
            End::TimedOut => {
                stats.upstream_rq_timeout.inc();
                inc(&host2.stats.rq_timeout);
            }
            End::Error | End::Dropped => {}
        }
    });
    let observed = match timer {
        Some(t) => observed.with_sleep(t),
        None => observed,
    };
    Response::from_parts(parts, body::boxed(observed))
}

/// The `location` of a redirect route.
pub fn redirect_location(
    r: &RedirectAction,
    scheme: &str,
    authority: &str,
    path: &str,
    matched_prefix: Option<&str>,
) -> String {
    let scheme = if r.https_redirect {
        "https"
    } else {
        r.scheme_redirect.as_deref().unwrap_or(scheme)
    };
    let (orig_host, orig_port) = match authority.rsplit_once(':') {
        Some((h, p)) if p.chars().all(|c| c.is_ascii_digit()) && !h.is_empty() => (h, Some(p)),
        _ => (authority, None),
    };
    let host = r.host_redirect.as_deref().unwrap_or(orig_host);
    let port = match r.port_redirect {
        Some(p) => Some(p.to_string()),
        // Changing the scheme drops the old port (it belonged to the old scheme).
        None if r.https_redirect || r.scheme_redirect.is_some() => None,
        None => orig_port.map(str::to_owned),
    };
    let port =
        port.filter(|p| !((scheme == "https" && p == "443") || (scheme == "http" && p == "80")));
    let (path_only, query) = match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    };
    let mut new_path = match (&r.path_redirect, &r.prefix_rewrite, matched_prefix) {
        (Some(p), _, _) => p.clone(),
        (None, Some(rewrite), Some(prefix)) if path_only.starts_with(prefix) => {
            format!("{rewrite}{}", &path_only[prefix.len()..])
        }
        _ => path_only.to_owned(),
    };
    if let Some(rr) = &r.regex_rewrite
        && let Ok(re) = regex::Regex::new(&rr.pattern.regex)
    {
        new_path = re
            .replace_all(&new_path, rr.substitution.as_str())
            .into_owned();
    }
    let keep_query = !r.strip_query && !new_path.contains('?');
    let mut out = format!("{scheme}://{host}");
    if let Some(p) = port {
        out.push(':');
        out.push_str(&p);
    }
    out.push_str(&new_path);
    if keep_query && let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn redirect(yaml: &str) -> RedirectAction {
        crate::xds::decode::decode_str("t", yaml).unwrap()
    }

    #[test]
    fn redirects() {
        assert_eq!(
            redirect_location(
                &redirect("{https_redirect: true}"),
                "http",
                "webapp.istioinaction.io:30000",
                "/api/catalog",
                None
            ),
            "https://webapp.istioinaction.io/api/catalog"
        );
        assert_eq!(
            redirect_location(
                &redirect("{host_redirect: b.com, path_redirect: /x, response_code: FOUND}"),
                "http",
                "a.com",
                "/y?q=1",
                None
            ),
            "http://b.com/x?q=1"
        );
        assert_eq!(
            redirect_location(
                &redirect("{prefix_rewrite: /new, strip_query: true}"),
                "http",
                "a.com:8080",
                "/old/p?q=1",
                Some("/old")
            ),
            "http://a.com:8080/new/p"
        );
        assert_eq!(
            redirect_location(
                &redirect("{port_redirect: 8443, scheme_redirect: https}"),
                "http",
                "a.com:80",
                "/",
                None
            ),
            "https://a.com:8443/"
        );
    }
}
