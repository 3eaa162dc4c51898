//! What fake-service v0.14.1 does with a request (`main.go`'s mux behind the CORS layer,
//! `handlers/request_http.go`, `handlers/health_http.go`, `errors/errors.go`):
//! `/health` says `OK`; `/ui/` would be the bundled web UI (not built in: 404); every other
//! path is the fake service — count the request for error injection, call the upstreams,
//! wait out the configured latency, answer the JSON [`Response`].

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use http::{Request, Response as HttpResponse, StatusCode, Version, header};
use rand::RngExt;
use time::OffsetDateTime;
use time::macros::format_description;

use super::config::Config;
use super::cors::{Cors, Decision};
use super::gofmt::{self, Nanos};
use super::hclog::Logger;
use super::inbound::Inbound;
use super::reply;
use super::response::Response;
use super::upstream::{self, Called, ClientSettings, Target};
use crate::apps::serve::Body;
use crate::net::dial::Dialer;

/// What the handler could not survive: Go's handler panicked, net/http logged it and closed
/// the connection (HTTP/1) or reset the stream (HTTP/2) without an answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Panicked(pub String);

/// The app's state, shared by every connection.
pub struct FakeService {
    pub(super) config: Config,
    pub(super) log: Logger,
    ip_addresses: Vec<String>,
    targets: Vec<Target>,
    client: ClientSettings,
    dialer: Arc<dyn Dialer>,
    cors: Cors,
    requests: AtomicI64,
}

/// The outcome of `errorInjector.Do()` for one request.
enum Injection {
    None,
    Fail { code: i64, error: &'static str },
    Panic(&'static str),
}

impl FakeService {
    pub(super) fn new(
        config: Config,
        targets: Vec<Target>,
        pod_ip: String,
        dialer: Arc<dyn Dialer>,
        log: Logger,
    ) -> FakeService {
        let client = ClientSettings {
            append_request: config.append_request,
            keep_alives: config.keep_alives,
            timeout: Duration::from_nanos(config.request_timeout.max(0).unsigned_abs()),
        };
        let cors = Cors::new(
            &config.allowed_origins,
            &config.allowed_headers,
            config.allow_credentials,
        );
        FakeService {
            config,
            log,
            ip_addresses: vec![pod_ip],
            targets,
            client,
            dialer,
            cors,
            requests: AtomicI64::new(0),
        }
    }

    /// The mux behind the CORS layer.
    pub async fn serve<B>(&self, req: Request<B>) -> Result<HttpResponse<Body>, Panicked>
    where
        B: hyper::body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let version = req.version();
        let decision = self.cors.decide(
            req.method().as_str(),
            header_str(&req, header::ORIGIN),
            header_str(&req, header::ACCESS_CONTROL_REQUEST_METHOD),
            header_str(&req, header::ACCESS_CONTROL_REQUEST_HEADERS),
        );
        let extra = match decision {
            Decision::Answer(status, headers) => {
                return Ok(reply::go(status, headers, Bytes::new(), version));
            }
            Decision::Pass(headers) => headers,
        };
        let path = req.uri().path();
        if path == "/health" {
            self.log.info("Handling health request", &[]);
            return Ok(reply::go(
                StatusCode::OK,
                extra,
                Bytes::from_static(b"OK"),
                version,
            ));
        }
        if path == "/ui" {
            return Ok(redirect_to_ui(&req, extra, version));
        }
        if path.starts_with("/ui/") {
            return Ok(reply::not_found(extra, version));
        }
        let inbound = Inbound::read(req).await;
        self.handle(inbound, extra, version).await
    }

    /// `Request.Handle`.
    async fn handle(
        &self,
        inbound: Inbound,
        extra: Vec<(&'static str, String)>,
        version: Version,
    ) -> Result<HttpResponse<Body>, Panicked> {
        let ts = Instant::now();
        let ts_wall = OffsetDateTime::now_utc();
        self.log
            .info("Handle inbound request", &[("request", inbound.log_text())]);
        let mut failure: Option<String> = None;
        let outcome = self.respond(&inbound, ts, ts_wall, &mut failure).await;
        // The deferred `hq.Finished()`: runs on a panic too.
        if let Some(error) = failure {
            self.log
                .error("Error handling request", &[("error", error)]);
        }
        self.log.info(
            "Finished handling request",
            &[("duration", gofmt::duration(nanos(ts.elapsed())))],
        );
        let (status, text) = outcome?;
        Ok(reply::go(status, extra, Bytes::from(text), version))
    }

    async fn respond(
        &self,
        inbound: &Inbound,
        ts: Instant,
        ts_wall: OffsetDateTime,
        failure: &mut Option<String>,
    ) -> Result<(StatusCode, String), Panicked> {
        let mut resp = Response {
            name: self.config.name.clone(),
            kind: "HTTP".to_owned(),
            uri: inbound.uri.clone(),
            ip_addresses: self.ip_addresses.clone(),
            ..Response::default()
        };
        match self.inject().await {
            Injection::None => {}
            Injection::Panic(reason) => return Err(Panicked(reason.to_owned())),
            Injection::Fail { code, error } => {
                resp.code = code;
                resp.error = error.to_owned();
                *failure = Some(error.to_owned());
                let status = status(code)?;
                return Ok((status, resp.to_json()));
            }
        }

        let mut upstream_error = None;
        if !self.targets.is_empty() {
            let calls = self.call_upstreams(inbound).await;
            for called in calls {
                if upstream_error.is_none() {
                    upstream_error = called.error;
                }
                resp.upstream_calls.push(called.response);
            }
        }

        // The service time is the random duration less the time taken so far.
        let d = {
            let mut rng = rand::rng();
            let timing = self.config.timing;
            let variance = if timing.variance > 0 {
                rng.random_range(0..timing.variance)
            } else {
                0
            };
            timing.calculate(rng.random_range(0..100), variance)
        };
        let rd = d - nanos(ts.elapsed());

        let status = if let Some(error) = upstream_error {
            *failure = Some(error);
            resp.code = 500;
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            self.log
                .info("Sleeping for", &[("duration", gofmt::duration(rd))]);
            if rd > 0 {
                tokio::time::sleep(Duration::from_nanos(rd.unsigned_abs())).await;
            }
            resp.code = 200;
            StatusCode::OK
        };

        let elapsed = ts.elapsed();
        resp.start_time = stamp(ts_wall);
        resp.end_time = stamp(ts_wall + elapsed);
        resp.duration = gofmt::duration(nanos(elapsed));
        resp.set_body(&self.config.message)
            .map_err(|e| Panicked(e.to_string()))?;
        Ok((status, resp.to_json()))
    }

    /// `errorInjector.Do()`: a request counter, and an error every `int(1/ERROR_RATE)`-th
    /// request — deterministic, not random. `ERROR_RATE` above 1 makes that divisor 0, and Go
    /// panics on the modulo.
    async fn inject(&self) -> Injection {
        let count = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let every = 1.0 / self.config.error_rate;
        if !every.is_finite() || every.abs() >= 9.2e18 {
            // Go's int(+Inf), int(NaN) and overflows are MinInt64: the modulo is never 0.
            return Injection::None;
        }
        let every = every.trunc() as i64;
        if every == 0 {
            return Injection::Panic("runtime error: integer divide by zero");
        }
        if count % every != 0 {
            return Injection::None;
        }
        let log = self.log.named("error_injector");
        log.info(
            "Injecting error",
            &[
                ("request_count", count.to_string()),
                ("error_percentage", gofmt::float_v(self.config.error_rate)),
                ("error_type", self.config.error_type.clone()),
            ],
        );
        if self.config.error_type == "http_error" {
            return Injection::Fail {
                code: self.config.error_code,
                error: "Service error automatically injected",
            };
        }
        let delay = self.config.error_delay;
        log.info(
            "Delaying service execution",
            &[("duration", gofmt::duration(delay))],
        );
        if delay > 0 {
            tokio::time::sleep(Duration::from_nanos(delay.unsigned_abs())).await;
        }
        Injection::Fail {
            code: self.config.error_code,
            error: "Service delay automatically injected",
        }
    }

    /// The upstream worker pool: `UPSTREAM_WORKERS` calls at once, answers in the order they
    /// finish, and the first failure ends the round (later calls are not made).
    async fn call_upstreams(&self, inbound: &Inbound) -> Vec<Called> {
        let workers = usize::try_from(self.config.upstream_workers.max(1)).unwrap_or(1);
        let mut queue = self.targets.iter();
        let mut running = FuturesUnordered::new();
        for target in queue.by_ref().take(workers) {
            running.push(self.call_one(target, inbound));
        }
        let mut done = Vec::new();
        while let Some(called) = running.next().await {
            let failed = called.error.is_some();
            done.push(called);
            if failed {
                break;
            }
            if let Some(target) = queue.next() {
                running.push(self.call_one(target, inbound));
            }
        }
        done
    }

    /// `workerHTTP` with its logging (`CallHTTPUpstream`).
    async fn call_one(&self, target: &Target, inbound: &Inbound) -> Called {
        self.log.info(
            "Calling upstream service",
            &[
                ("uri", target.uri.clone()),
                ("type", "HTTP".to_owned()),
                (
                    "request",
                    format!("GET {} HTTP/1.1\nHost: {}", target.uri, target.authority),
                ),
            ],
        );
        let called = upstream::call(self.dialer.as_ref(), self.client, target, inbound).await;
        if let Some(error) = &called.error {
            self.log.error(
                "Error processing upstream request",
                &[("error", error.clone())],
            );
        }
        called
    }
}

fn header_str<B>(req: &Request<B>, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

/// `rw.WriteHeader(code)`: Go panics on a code outside 100–999 (a 1xx cannot end a reply
/// here either).
fn status(code: i64) -> Result<StatusCode, Panicked> {
    u16::try_from(code)
        .ok()
        .and_then(|c| StatusCode::from_u16(c).ok())
        .filter(|s| !s.is_informational())
        .ok_or_else(|| Panicked(format!("invalid WriteHeader code {code}")))
}

/// The mux's redirect of a subtree root without its slash (`/ui` → `/ui/`).
fn redirect_to_ui<B>(
    req: &Request<B>,
    mut extra: Vec<(&'static str, String)>,
    version: Version,
) -> HttpResponse<Body> {
    let location = match req.uri().query() {
        Some(q) => format!("/ui/?{q}"),
        None => "/ui/".to_owned(),
    };
    let get = req.method() == http::Method::GET;
    let head = req.method() == http::Method::HEAD;
    if get || head {
        extra.push(("Content-Type", "text/html; charset=utf-8".to_owned()));
    }
    let body = if get {
        format!("<a href=\"{location}\">Moved Permanently</a>.\n\n")
    } else {
        String::new()
    };
    extra.push(("Location", location));
    reply::go(
        StatusCode::MOVED_PERMANENTLY,
        extra,
        Bytes::from(body),
        version,
    )
}

/// `time.Format("2006-01-02T15:04:05.000000")` in the container's zone (UTC).
fn stamp(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]"
    ))
    .unwrap_or_default()
}

fn nanos(d: Duration) -> Nanos {
    Nanos::try_from(d.as_nanos()).unwrap_or(Nanos::MAX)
}
