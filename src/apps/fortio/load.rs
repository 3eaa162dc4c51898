//! `fortio load`: `-c` connections (threads) each making its share of `-n` calls (or calling
//! for `-t`), paced to `-qps` (0: as fast as possible), keeping its HTTP/1.1 connection alive
//! and reconnecting when the server closes it; then fortio's summary — latency histogram and
//! percentiles, error cases, sockets used, and the per-code counts (`Code 503 : 3 (15.0 %)`)
//! the circuit-breaking task reads.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;

use super::histogram::Histogram;
use super::{VERSION, unix_now};
use crate::apps::Log;
use crate::apps::fake_service::gofmt::duration;
use crate::net::dial::Dialer;

/// Where to send the calls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The URL as given (printed back).
    pub url: String,
    pub host: String,
    pub port: u16,
    /// `Host:` (the URL's authority).
    pub authority: String,
    pub path: String,
}

impl Target {
    /// `http://host[:port]/path`; a URL without a scheme is taken as `http://`.
    pub fn parse(url: &str) -> Result<Target, String> {
        if url.starts_with("https://") {
            return Err(format!(
                "{url}: https URLs are not supported by this fortio (use http://)"
            ));
        }
        let rest = url.strip_prefix("http://").unwrap_or(url);
        let (authority, path) = match rest.find(['/', '?']) {
            Some(i) if rest.as_bytes()[i] == b'/' => (&rest[..i], rest[i..].to_owned()),
            Some(i) => (&rest[..i], format!("/{}", &rest[i..])),
            None => (rest, "/".to_owned()),
        };
        if authority.is_empty() {
            return Err(format!("{url}: no host in the URL"));
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (
                h.trim_matches(['[', ']']).to_owned(),
                p.parse::<u16>()
                    .map_err(|_| format!("{url}: invalid port {p:?}"))?,
            ),
            _ => (authority.trim_matches(['[', ']']).to_owned(), 80),
        };
        let url = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        Ok(Target {
            url,
            host,
            port,
            authority: authority.to_owned(),
            path,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Debug,
    Verbose,
    Info,
    Warning,
    Error,
    Critical,
    Fatal,
}

impl Level {
    pub fn parse(text: &str) -> Option<Level> {
        Some(match text.to_ascii_lowercase().as_str() {
            "debug" => Level::Debug,
            "verbose" => Level::Verbose,
            "info" => Level::Info,
            "warning" | "warn" => Level::Warning,
            "error" | "err" => Level::Error,
            "critical" => Level::Critical,
            "fatal" => Level::Fatal,
            _ => return None,
        })
    }

    /// fortio's numbering in "Log level is now 3 Warning (was 2 Info)".
    pub fn number(self) -> u8 {
        self as u8
    }

    pub fn name(self) -> &'static str {
        match self {
            Level::Debug => "Debug",
            Level::Verbose => "Verbose",
            Level::Info => "Info",
            Level::Warning => "Warning",
            Level::Error => "Error",
            Level::Critical => "Critical",
            Level::Fatal => "Fatal",
        }
    }
}

/// `fortio load`'s settings.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    pub threads: usize,
    pub qps: f64,
    /// `-n`: exact number of calls (overrides `-t`).
    pub calls: Option<u64>,
    pub duration: Duration,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub percentiles: Vec<f64>,
    pub timeout: Duration,
    pub level: Level,
    pub target: Target,
}

/// One thread's tallies.
struct Tally {
    latency: Histogram,
    errors: Histogram,
    connect: Histogram,
    header_sizes: Histogram,
    total_sizes: Histogram,
    codes: BTreeMap<i32, u64>,
    sockets: u64,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            latency: Histogram::durations(),
            errors: Histogram::durations(),
            connect: Histogram::durations(),
            header_sizes: Histogram::sizes(),
            total_sizes: Histogram::sizes(),
            codes: BTreeMap::new(),
            sockets: 0,
        }
    }
}

/// Runs the load, writing fortio's stdout lines to `out` and its log lines to `err`.
pub async fn run(options: LoadOptions, dialer: Arc<dyn Dialer>, out: Log, err: Log) {
    let o = Arc::new(options);
    let procs = std::thread::available_parallelism().map_or(1, usize::from);
    let rate = if o.qps > 0.0 {
        super::gofmt::g(o.qps, None)
    } else {
        "0".to_owned()
    };
    // With a rate and a duration fortio turns the duration into an exact number of calls.
    let calls = o
        .calls
        .or_else(|| (o.qps > 0.0).then(|| (o.qps * o.duration.as_secs_f64()).round() as u64));
    let what = match o.calls {
        Some(n) => format!("{n} calls"),
        None => duration(i64::try_from(o.duration.as_nanos()).unwrap_or(i64::MAX)),
    };
    out(&format!(
        "Fortio {VERSION} running at {rate} queries per second, {procs}->{procs} procs, for {what}: {}",
        o.target.url
    ));
    let at = if o.qps > 0.0 {
        format!("{rate} qps")
    } else {
        "max qps".to_owned()
    };
    let threads = o.threads.max(1);
    let shares: Vec<Option<u64>> = match calls {
        Some(n) => {
            let per = n / threads as u64;
            let extra = n % threads as u64;
            out(&format!(
                "Starting at {at} with {threads} thread(s) [gomax {procs}] for exactly {n} calls ({per} per thread + {extra})"
            ));
            (0..threads as u64)
                .map(|i| Some(per + u64::from(i < extra)))
                .collect()
        }
        None => {
            out(&format!(
                "Starting at {at} with {threads} thread(s) [gomax {procs}] for {what}"
            ));
            vec![None; threads]
        }
    };
    let start = Instant::now();
    let deadline = calls.is_none().then(|| start + o.duration);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, share) in shares.into_iter().enumerate() {
        let (o, dialer, err) = (o.clone(), dialer.clone(), err.clone());
        tasks.spawn(async move { thread(index, share, deadline, &o, &*dialer, &err).await });
    }
    let mut tallies = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok((index, tally)) = done {
            tallies.push((index, tally));
        }
    }
    tallies.sort_by_key(|(i, _)| *i);
    let elapsed = start.elapsed();
    out(&summary(&o, &tallies, elapsed));
}

/// One connection's worth of calls.
async fn thread(
    index: usize,
    share: Option<u64>,
    deadline: Option<Instant>,
    o: &LoadOptions,
    dialer: &dyn Dialer,
    err: &Log,
) -> (usize, Tally) {
    let mut tally = Tally::new();
    let mut sender: Option<SendRequest<Empty<Bytes>>> = None;
    // Per-thread pacing: each thread takes an equal share of the rate.
    let interval = (o.qps > 0.0).then(|| Duration::from_secs_f64(o.threads.max(1) as f64 / o.qps));
    let started = Instant::now();
    let mut run: u64 = 0;
    loop {
        match (share, deadline) {
            (Some(n), _) if run >= n => break,
            (None, Some(d)) if Instant::now() >= d => break,
            _ => {}
        }
        if let Some(interval) = interval {
            let due = started + interval.mul_f64(run as f64);
            tokio::time::sleep_until(due.into()).await;
        }
        let began = Instant::now();
        let outcome =
            tokio::time::timeout(o.timeout, call(&mut sender, o, dialer, &mut tally)).await;
        let took = began.elapsed().as_secs_f64();
        let (code, keep) = match outcome {
            Ok(Ok((code, header_size, total_size, keep))) => {
                tally.header_sizes.record(header_size as f64);
                tally.total_sizes.record(total_size as f64);
                (code, keep)
            }
            Ok(Err(e)) => {
                log(
                    err,
                    o.level,
                    Level::Error,
                    index,
                    run,
                    &format!(
                        "\"msg\":\"Unable to connect or send\",\"dest\":\"{}:{}\",\"err\":{:?}",
                        o.target.host, o.target.port, e
                    ),
                );
                tally.header_sizes.record(0.0);
                tally.total_sizes.record(0.0);
                (-1, false)
            }
            Err(_) => {
                log(
                    err,
                    o.level,
                    Level::Error,
                    index,
                    run,
                    "\"msg\":\"Read error\",\"err\":\"i/o timeout\"",
                );
                tally.header_sizes.record(0.0);
                tally.total_sizes.record(0.0);
                (-1, false)
            }
        };
        if !keep {
            sender = None;
        }
        tally.latency.record(took);
        *tally.codes.entry(code).or_default() += 1;
        if code != 200 {
            tally.errors.record(took);
            if code > 0 {
                log(
                    err,
                    o.level,
                    Level::Warning,
                    index,
                    run,
                    &format!(
                        "\"msg\":\"Non ok http code\",\"code\":{code},\"status\":\"HTTP/1.1 {code}\""
                    ),
                );
            }
        }
        run += 1;
    }
    (index, tally)
}

/// One GET on the thread's connection (opening one if needed): (code, header bytes, total
/// bytes, whether the connection stays usable).
async fn call(
    sender: &mut Option<SendRequest<Empty<Bytes>>>,
    o: &LoadOptions,
    dialer: &dyn Dialer,
    tally: &mut Tally,
) -> Result<(i32, usize, usize, bool), String> {
    if sender.as_ref().is_none_or(SendRequest::is_closed) {
        let began = Instant::now();
        let stream = dialer
            .dial(&o.target.host, o.target.port)
            .await
            .map_err(|e| e.to_string())?;
        let (s, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        tally.connect.record(began.elapsed().as_secs_f64());
        tally.sockets += 1;
        *sender = Some(s);
    }
    let Some(s) = sender.as_mut() else {
        return Err("no connection".to_owned());
    };
    s.ready().await.map_err(|e| e.to_string())?;
    let mut request = Request::builder()
        .uri(o.target.path.as_str())
        .body(Empty::<Bytes>::new())
        .map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    if let Ok(host) = HeaderValue::from_str(&o.target.authority) {
        headers.insert(header::HOST, host);
    }
    headers.insert(
        header::USER_AGENT,
        HeaderValue::from_static(concat!("fortio.org/fortio-", "1.69.5")),
    );
    for (name, value) in &o.headers {
        headers.insert(name.clone(), value.clone());
    }
    let response = s.send_request(request).await.map_err(|e| e.to_string())?;
    let header_size = header_bytes(&response);
    let keep = !response
        .headers()
        .get(header::CONNECTION)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
    let code = i32::from(response.status().as_u16());
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    Ok((code, header_size, header_size + body.len(), keep))
}

/// The response head's size on the wire (status line, headers, blank line).
fn header_bytes(response: &Response<Incoming>) -> usize {
    let status = format!("HTTP/1.1 {}\r\n", response.status()).len();
    let headers: usize = response
        .headers()
        .iter()
        .map(|(n, v)| n.as_str().len() + 2 + v.len() + 2)
        .sum();
    status + headers + 2
}

/// A fortio JSON log line on stderr when `level` is enabled.
fn log(err: &Log, enabled: Level, level: Level, thread: usize, run: u64, fields: &str) {
    if level < enabled {
        return;
    }
    let name = match level {
        Level::Warning => "warn",
        Level::Error => "err",
        _ => "info",
    };
    err(&format!(
        "{{\"ts\":{},\"level\":\"{name}\",\"r\":{},\"file\":\"http_client.go\",\"line\":1151,{fields},\"thread\":{thread},\"run\":{run}}}",
        unix_now(),
        thread + 10
    ));
}

fn summary(o: &LoadOptions, tallies: &[(usize, Tally)], elapsed: Duration) -> String {
    let mut all = Tally::new();
    for (_, t) in tallies {
        all.latency.merge(&t.latency);
        all.errors.merge(&t.errors);
        all.connect.merge(&t.connect);
        all.header_sizes.merge(&t.header_sizes);
        all.total_sizes.merge(&t.total_sizes);
        all.sockets += t.sockets;
        for (code, n) in &t.codes {
            *all.codes.entry(*code).or_default() += n;
        }
    }
    let count = all.latency.count();
    let secs = elapsed.as_secs_f64();
    let qps = if secs > 0.0 { count as f64 / secs } else { 0.0 };
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Ended after {} : {count} calls. qps={}",
        duration(i64::try_from(elapsed.as_nanos()).unwrap_or(i64::MAX)),
        super::gofmt::g(qps, Some(5))
    );
    all.latency
        .print(&mut s, "Aggregated Function Time", &o.percentiles);
    if all.errors.count() == 0 {
        let _ = writeln!(s, "Error cases : no data");
    } else {
        all.errors.print(&mut s, "Error cases", &o.percentiles);
    }
    let dest = format!("{}:{}", o.target.host, o.target.port);
    let _ = writeln!(s, "# Socket and IP used for each connection:");
    for (i, t) in tallies {
        let _ = writeln!(
            s,
            "[{i}] {:3} socket used, resolved to {dest}, connection timing : {}",
            t.sockets,
            t.connect.counters_line("").trim_start_matches(" : ")
        );
    }
    all.connect
        .print(&mut s, "Connection time (s)", &o.percentiles);
    let _ = writeln!(
        s,
        "Sockets used: {} (for perfect keepalive, would be {})",
        all.sockets,
        o.threads.max(1)
    );
    let _ = writeln!(s, "Uniform: false, Jitter: false, Catchup allowed: false");
    let _ = writeln!(s, "IP addresses distribution:");
    let _ = writeln!(s, "{dest}: {}", all.sockets);
    for (code, n) in &all.codes {
        let percent = if count > 0 {
            100.0 * *n as f64 / count as f64
        } else {
            0.0
        };
        let _ = writeln!(s, "Code {code:3} : {n} ({percent:.1} %)");
    }
    let _ = writeln!(
        s,
        "{}",
        all.header_sizes.counters_line("Response Header Sizes")
    );
    let _ = writeln!(
        s,
        "{}",
        all.total_sizes.counters_line("Response Body/Total Sizes")
    );
    let _ = write!(
        s,
        "All done {count} calls (plus 0 warmup) {:.3} ms avg, {qps:.1} qps",
        all.latency.avg() * 1000.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let t = Target::parse("http://httpbin:8000/get").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.path.as_str()),
            ("httpbin", 8000, "/get")
        );
        let t = Target::parse("httpbin:8000").unwrap();
        assert_eq!(
            (t.url.as_str(), t.path.as_str()),
            ("http://httpbin:8000", "/")
        );
        let t = Target::parse("http://a?x=1").unwrap();
        assert_eq!((t.port, t.path.as_str()), (80, "/?x=1"));
        assert!(Target::parse("https://a/").is_err());
    }
}
