//! Access logs: Envoy's substitution format strings (`%START_TIME%`, `%REQ(:PATH)%`,
//! `%RESPONSE_FLAGS%`, …) in text or JSON, written to a file, stdout or stderr once a request
//! (or connection) is done. The same formatter renders `%…%` values in added headers.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use http::HeaderMap;
use serde_json::Value;

use crate::xds::hcm::{AccessLog, AccessLogConfig, SubstitutionFormatString};

use super::Rejected;
use super::flags::Flags;
use super::log::Sink;

/// Envoy's default access-log format.
pub const DEFAULT_FORMAT: &str = "[%START_TIME%] \"%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%\" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% \"%REQ(X-FORWARDED-FOR)%\" \"%REQ(USER-AGENT)%\" \"%REQ(X-REQUEST-ID)%\" \"%REQ(:AUTHORITY)%\" \"%UPSTREAM_HOST%\"\n";

/// Everything a format string can ask about one request.
#[derive(Debug, Clone)]
pub struct Record {
    pub start: SystemTime,
    pub duration: Option<Duration>,
    pub request_duration: Option<Duration>,
    pub response_duration: Option<Duration>,
    pub response_tx_duration: Option<Duration>,
    pub method: String,
    pub path: String,
    pub authority: String,
    pub scheme: &'static str,
    pub protocol: &'static str,
    pub request_headers: HeaderMap,
    pub response_headers: Option<HeaderMap>,
    pub response_code: u16,
    pub response_code_details: String,
    pub flags: Flags,
    pub bytes_received: u64,
    pub bytes_sent: u64,
    pub upstream_host: Option<SocketAddr>,
    pub upstream_cluster: Option<String>,
    pub upstream_local: Option<SocketAddr>,
    pub upstream_transport_failure_reason: Option<String>,
    pub attempt_count: u32,
    pub downstream_remote: SocketAddr,
    pub downstream_local: SocketAddr,
    pub route_name: Option<String>,
    pub connection_id: u64,
    pub stream_id: u64,
    pub local_reply_body: Option<String>,
    /// The downstream TLS session, when the filter chain terminated TLS.
    pub downstream_tls: Option<std::sync::Arc<super::tls::ConnTls>>,
}

impl Record {
    pub fn new(downstream_remote: SocketAddr, downstream_local: SocketAddr) -> Record {
        Record {
            start: SystemTime::now(),
            duration: None,
            request_duration: None,
            response_duration: None,
            response_tx_duration: None,
            method: String::new(),
            path: String::new(),
            authority: String::new(),
            scheme: "http",
            protocol: "HTTP/1.1",
            request_headers: HeaderMap::new(),
            response_headers: None,
            response_code: 0,
            response_code_details: String::new(),
            flags: Flags::NONE,
            bytes_received: 0,
            bytes_sent: 0,
            upstream_host: None,
            upstream_cluster: None,
            upstream_local: None,
            upstream_transport_failure_reason: None,
            attempt_count: 0,
            downstream_remote,
            downstream_local,
            route_name: None,
            connection_id: 0,
            stream_id: 0,
            local_reply_body: None,
            downstream_tls: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Cmd {
    StartTime(Option<String>),
    Req(String, Option<String>),
    Resp(String, Option<String>),
    Protocol,
    ResponseCode,
    ResponseCodeDetails,
    ResponseFlags,
    ResponseFlagsLong,
    BytesReceived,
    BytesSent,
    Duration,
    RequestDuration,
    ResponseDuration,
    ResponseTxDuration,
    UpstreamHost,
    UpstreamCluster,
    UpstreamLocalAddress,
    UpstreamTransportFailureReason,
    UpstreamRequestAttemptCount,
    DownstreamRemoteAddress,
    DownstreamRemoteAddressWithoutPort,
    DownstreamRemotePort,
    DownstreamLocalAddress,
    DownstreamLocalAddressWithoutPort,
    DownstreamLocalPort,
    RouteName,
    Hostname,
    ConnectionId,
    StreamId,
    LocalReplyBody,
    RequestedServerName,
    DownstreamPeerUriSan,
    DownstreamTlsVersion,
    /// Connection facts mesh does not record: always `-`.
    Absent,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Literal(String),
    Cmd(Cmd, Option<usize>),
}

/// A parsed format string.
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    segments: Vec<Segment>,
}

impl Format {
    pub fn parse(s: &str) -> Result<Format, String> {
        let mut segments = Vec::new();
        let mut literal = String::new();
        let mut rest = s;
        while let Some(i) = rest.find('%') {
            literal.push_str(&rest[..i]);
            rest = &rest[i + 1..];
            if let Some(after) = rest.strip_prefix('%') {
                literal.push('%');
                rest = after;
                continue;
            }
            let end = rest.find('%').ok_or_else(|| {
                format!(
                    "Incorrect configuration: {s}. Couldn't find valid command at position {}",
                    s.len() - rest.len() - 1
                )
            })?;
            let token = &rest[..end];
            rest = &rest[end + 1..];
            if !literal.is_empty() {
                segments.push(Segment::Literal(std::mem::take(&mut literal)));
            }
            let (cmd, max_len) = parse_command(token)?;
            segments.push(Segment::Cmd(cmd, max_len));
        }
        literal.push_str(rest);
        if !literal.is_empty() {
            segments.push(Segment::Literal(literal));
        }
        Ok(Format { segments })
    }

    /// Renders as text; values that are not available print `-`.
    pub fn render(&self, rec: &Record) -> String {
        let mut out = String::new();
        for seg in &self.segments {
            match seg {
                Segment::Literal(l) => out.push_str(l),
                Segment::Cmd(cmd, max) => {
                    let v = value(cmd, rec).unwrap_or_else(|| Val::Str("-".into()));
                    let text = v.to_text();
                    match max {
                        Some(n) => out.extend(text.chars().take(*n)),
                        None => out.push_str(&text),
                    }
                }
            }
        }
        out
    }

    /// For JSON logs: a lone command keeps its type (numbers stay numbers, missing is null).
    fn render_json(&self, rec: &Record) -> Value {
        if let [Segment::Cmd(cmd, None)] = self.segments.as_slice() {
            return match value(cmd, rec) {
                Some(Val::Num(n)) => Value::from(n),
                Some(Val::Str(s)) => Value::String(s),
                None => Value::Null,
            };
        }
        Value::String(self.render(rec))
    }

    /// True when there are no `%…%` commands (header values can then be used as they are).
    pub fn is_literal(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Literal(_)))
    }

    /// The text of a literal format (`%%` already unescaped).
    pub fn render_literal(&self) -> String {
        self.segments
            .iter()
            .filter_map(|s| match s {
                Segment::Literal(l) => Some(l.as_str()),
                Segment::Cmd(..) => None,
            })
            .collect()
    }
}

fn parse_command(token: &str) -> Result<(Cmd, Option<usize>), String> {
    // `REQ(X?Y):Z` — the optional `:Z` truncates.
    let (body, max_len) = match token.rsplit_once("):") {
        Some((b, n)) => (
            format!("{b})"),
            Some(
                n.parse::<usize>()
                    .map_err(|_| format!("Length must be an integer, given: {n}"))?,
            ),
        ),
        None => (token.to_owned(), None),
    };
    let (name, arg) = match body.split_once('(') {
        Some((n, a)) => (
            n.to_owned(),
            Some(
                a.strip_suffix(')')
                    .ok_or_else(|| format!("Closing bracket is missing in token: {token}"))?
                    .to_owned(),
            ),
        ),
        None => (body.clone(), None),
    };
    let header_arg = |arg: Option<String>| -> Result<(String, Option<String>), String> {
        let arg = arg
            .ok_or_else(|| format!("{name} requires a header name, e.g. %{name}(X-REQUEST-ID)%"))?;
        Ok(match arg.split_once('?') {
            Some((main, alt)) => (main.to_ascii_lowercase(), Some(alt.to_ascii_lowercase())),
            None => (arg.to_ascii_lowercase(), None),
        })
    };
    let cmd = match name.as_str() {
        "START_TIME" => Cmd::StartTime(arg),
        "REQ" => {
            let (m, a) = header_arg(arg)?;
            Cmd::Req(m, a)
        }
        "RESP" => {
            let (m, a) = header_arg(arg)?;
            Cmd::Resp(m, a)
        }
        "PROTOCOL" => Cmd::Protocol,
        "RESPONSE_CODE" => Cmd::ResponseCode,
        "RESPONSE_CODE_DETAILS" => Cmd::ResponseCodeDetails,
        "RESPONSE_FLAGS" => Cmd::ResponseFlags,
        "RESPONSE_FLAGS_LONG" => Cmd::ResponseFlagsLong,
        "BYTES_RECEIVED" => Cmd::BytesReceived,
        "BYTES_SENT" => Cmd::BytesSent,
        "DURATION" => Cmd::Duration,
        "REQUEST_DURATION" => Cmd::RequestDuration,
        "RESPONSE_DURATION" => Cmd::ResponseDuration,
        "RESPONSE_TX_DURATION" => Cmd::ResponseTxDuration,
        "UPSTREAM_HOST" | "UPSTREAM_REMOTE_ADDRESS" => Cmd::UpstreamHost,
        // RAW: the cluster's name without alt_stat_name (mesh has no alt stat names).
        "UPSTREAM_CLUSTER" | "UPSTREAM_CLUSTER_RAW" => Cmd::UpstreamCluster,
        "UPSTREAM_LOCAL_ADDRESS" => Cmd::UpstreamLocalAddress,
        "UPSTREAM_TRANSPORT_FAILURE_REASON" => Cmd::UpstreamTransportFailureReason,
        "UPSTREAM_REQUEST_ATTEMPT_COUNT" => Cmd::UpstreamRequestAttemptCount,
        "DOWNSTREAM_REMOTE_ADDRESS" | "DOWNSTREAM_DIRECT_REMOTE_ADDRESS" => {
            Cmd::DownstreamRemoteAddress
        }
        "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT"
        | "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT" => {
            Cmd::DownstreamRemoteAddressWithoutPort
        }
        "DOWNSTREAM_REMOTE_PORT" | "DOWNSTREAM_DIRECT_REMOTE_PORT" => Cmd::DownstreamRemotePort,
        "DOWNSTREAM_LOCAL_ADDRESS" => Cmd::DownstreamLocalAddress,
        "DOWNSTREAM_LOCAL_ADDRESS_WITHOUT_PORT" => Cmd::DownstreamLocalAddressWithoutPort,
        "DOWNSTREAM_LOCAL_PORT" => Cmd::DownstreamLocalPort,
        "ROUTE_NAME" => Cmd::RouteName,
        "HOSTNAME" => Cmd::Hostname,
        "CONNECTION_ID" => Cmd::ConnectionId,
        "STREAM_ID" => Cmd::StreamId,
        "LOCAL_REPLY_BODY" => Cmd::LocalReplyBody,
        "REQUESTED_SERVER_NAME" => Cmd::RequestedServerName,
        "DOWNSTREAM_PEER_URI_SAN" => Cmd::DownstreamPeerUriSan,
        "DOWNSTREAM_TLS_VERSION" => Cmd::DownstreamTlsVersion,
        "CONNECTION_TERMINATION_DETAILS"
        | "DOWNSTREAM_LOCAL_URI_SAN"
        | "DOWNSTREAM_PEER_SUBJECT"
        | "DOWNSTREAM_PEER_FINGERPRINT_256"
        | "UPSTREAM_PEER_URI_SAN" => Cmd::Absent,
        other => return Err(format!("Not supported field in StreamInfo: {other}")),
    };
    Ok((cmd, max_len))
}

enum Val {
    Str(String),
    Num(u64),
}

impl Val {
    fn to_text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Num(n) => n.to_string(),
        }
    }
}

fn ms(d: Option<Duration>) -> Option<Val> {
    d.map(|d| Val::Num(d.as_millis() as u64))
}

fn value(cmd: &Cmd, rec: &Record) -> Option<Val> {
    let s = |v: String| Some(Val::Str(v));
    match cmd {
        Cmd::StartTime(fmt) => s(format_time(rec.start, fmt.as_deref())),
        Cmd::Req(main, alt) => request_header(rec, main)
            .or_else(|| alt.as_ref().and_then(|a| request_header(rec, a)))
            .map(Val::Str),
        Cmd::Resp(main, alt) => {
            let h = rec.response_headers.as_ref()?;
            let get = |n: &str| {
                if n == ":status" {
                    return (rec.response_code != 0).then(|| rec.response_code.to_string());
                }
                h.get(n).and_then(|v| v.to_str().ok()).map(str::to_owned)
            };
            get(main)
                .or_else(|| alt.as_deref().and_then(get))
                .map(Val::Str)
        }
        Cmd::Protocol => s(rec.protocol.to_owned()),
        Cmd::ResponseCode => Some(Val::Num(u64::from(rec.response_code))),
        Cmd::ResponseCodeDetails => (!rec.response_code_details.is_empty())
            .then(|| Val::Str(rec.response_code_details.clone())),
        Cmd::ResponseFlags => s(rec.flags.short()),
        Cmd::ResponseFlagsLong => s(rec.flags.long()),
        Cmd::BytesReceived => Some(Val::Num(rec.bytes_received)),
        Cmd::BytesSent => Some(Val::Num(rec.bytes_sent)),
        Cmd::Duration => ms(rec.duration),
        Cmd::RequestDuration => ms(rec.request_duration),
        Cmd::ResponseDuration => ms(rec.response_duration),
        Cmd::ResponseTxDuration => ms(rec.response_tx_duration),
        Cmd::UpstreamHost => rec.upstream_host.map(|a| Val::Str(a.to_string())),
        Cmd::UpstreamCluster => rec.upstream_cluster.clone().map(Val::Str),
        Cmd::UpstreamLocalAddress => rec.upstream_local.map(|a| Val::Str(a.to_string())),
        Cmd::UpstreamTransportFailureReason => {
            rec.upstream_transport_failure_reason.clone().map(Val::Str)
        }
        Cmd::UpstreamRequestAttemptCount => Some(Val::Num(u64::from(rec.attempt_count))),
        Cmd::DownstreamRemoteAddress => s(rec.downstream_remote.to_string()),
        Cmd::DownstreamRemoteAddressWithoutPort => s(rec.downstream_remote.ip().to_string()),
        Cmd::DownstreamRemotePort => Some(Val::Num(u64::from(rec.downstream_remote.port()))),
        Cmd::DownstreamLocalAddress => s(rec.downstream_local.to_string()),
        Cmd::DownstreamLocalAddressWithoutPort => s(rec.downstream_local.ip().to_string()),
        Cmd::DownstreamLocalPort => Some(Val::Num(u64::from(rec.downstream_local.port()))),
        Cmd::RouteName => rec
            .route_name
            .clone()
            .filter(|r| !r.is_empty())
            .map(Val::Str),
        Cmd::Hostname => s(hostname()),
        Cmd::ConnectionId => Some(Val::Num(rec.connection_id)),
        Cmd::StreamId => s(rec.stream_id.to_string()),
        Cmd::LocalReplyBody => rec.local_reply_body.clone().map(Val::Str),
        Cmd::RequestedServerName => rec
            .downstream_tls
            .as_ref()
            .and_then(|t| t.sni.clone())
            .and_then(s),
        Cmd::DownstreamPeerUriSan => rec
            .downstream_tls
            .as_ref()
            .and_then(|t| t.peer_uri_san().map(str::to_owned))
            .and_then(s),
        Cmd::DownstreamTlsVersion => rec
            .downstream_tls
            .as_ref()
            .and_then(|t| t.version.clone())
            .and_then(s),
        Cmd::Absent => None,
    }
}

fn request_header(rec: &Record, name: &str) -> Option<String> {
    match name {
        ":method" => Some(rec.method.clone()),
        ":path" => Some(rec.path.clone()),
        ":authority" | "host" => Some(rec.authority.clone()).filter(|a| !a.is_empty()),
        ":scheme" => Some(rec.scheme.to_owned()),
        _ => rec
            .request_headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned())
}

/// `%START_TIME%` with Envoy's default `%Y-%m-%dT%H:%M:%E3SZ`, or a strftime-style format
/// (`%Y %m %d %H %M %S %E3S %E6S %E9S %f %s %z %b %a %j %%`).
pub fn format_time(t: SystemTime, fmt: Option<&str>) -> String {
    let dt = time::OffsetDateTime::from(t);
    let fmt = fmt.unwrap_or("%Y-%m-%dT%H:%M:%E3SZ");
    let mut out = String::new();
    let mut chars = fmt.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let Some(spec) = chars.next() else {
            out.push('%');
            break;
        };
        let _ = match spec {
            'Y' => write!(out, "{:04}", dt.year()),
            'm' => write!(out, "{:02}", u8::from(dt.month())),
            'd' => write!(out, "{:02}", dt.day()),
            'H' => write!(out, "{:02}", dt.hour()),
            'M' => write!(out, "{:02}", dt.minute()),
            'S' => write!(out, "{:02}", dt.second()),
            'j' => write!(out, "{:03}", dt.ordinal()),
            'z' => write!(out, "+0000"),
            's' => write!(out, "{}", dt.unix_timestamp()),
            'f' => write!(out, "{:09}", dt.nanosecond()),
            'b' => write!(out, "{}", &format!("{:?}", dt.month())[..3]),
            'a' => write!(out, "{}", &format!("{:?}", dt.weekday())[..3]),
            'E' => {
                let digits: String = chars.next().into_iter().collect();
                let _ = chars.next_if_eq(&'S');
                let n: usize = digits.parse().unwrap_or(3).clamp(1, 9);
                let frac = format!("{:09}", dt.nanosecond());
                write!(out, "{:02}.{}", dt.second(), &frac[..n])
            }
            '%' => write!(out, "%"),
            other => write!(out, "%{other}"),
        };
    }
    out
}

/// One configured access logger.
#[derive(Debug)]
pub struct AccessLogger {
    body: Body,
    out: Output,
}

#[derive(Debug)]
enum Body {
    Text(Format),
    Json(Vec<(String, JsonField)>),
}

#[derive(Debug)]
enum JsonField {
    Format(Format),
    Literal(Value),
    Nested(Vec<(String, JsonField)>),
}

#[derive(Debug)]
enum Output {
    Sink(Sink),
    File(Mutex<std::fs::File>),
}

/// Where `/dev/stdout` and `/dev/stderr` access logs go (a sandbox redirects them).
#[derive(Debug, Clone)]
pub struct StdStreams {
    pub stdout: Sink,
    pub stderr: Sink,
}

impl Default for StdStreams {
    fn default() -> Self {
        StdStreams {
            stdout: Sink::Stdout,
            stderr: Sink::Stderr,
        }
    }
}

impl AccessLogger {
    pub fn build(cfg: &AccessLog, path: &str, std: &StdStreams) -> Result<AccessLogger, Rejected> {
        let tpath = format!("{path}.typed_config");
        let (format, json, out) = match &cfg.typed_config {
            AccessLogConfig::File(f) => {
                let out = match f.path.as_str() {
                    "/dev/stdout" => Output::Sink(std.stdout.clone()),
                    "/dev/stderr" => Output::Sink(std.stderr.clone()),
                    "" => {
                        return Err(Rejected::new(
                            format!("{tpath}.path"),
                            "value length must be at least 1 characters",
                        ));
                    }
                    p => Output::File(Mutex::new(
                        std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(p)
                            .map_err(|e| {
                                Rejected::new(
                                    format!("{tpath}.path"),
                                    format!("cannot open access log '{p}': {e}"),
                                )
                            })?,
                    )),
                };
                let (fmt, json) = formats(
                    f.format.as_deref(),
                    f.json_format.as_ref(),
                    f.log_format.as_ref(),
                    &tpath,
                )?;
                (fmt, json, out)
            }
            AccessLogConfig::Stdout(s) => {
                let (fmt, json) = formats(None, None, s.log_format.as_ref(), &tpath)?;
                (fmt, json, Output::Sink(std.stdout.clone()))
            }
            AccessLogConfig::Stderr(s) => {
                let (fmt, json) = formats(None, None, s.log_format.as_ref(), &tpath)?;
                (fmt, json, Output::Sink(std.stderr.clone()))
            }
        };
        let body = match json {
            Some(map) => Body::Json(json_fields(&map, &tpath)?),
            None => Body::Text(
                Format::parse(format.as_deref().unwrap_or(DEFAULT_FORMAT))
                    .map_err(|e| Rejected::new(format!("{tpath}.log_format"), e))?,
            ),
        };
        Ok(AccessLogger { body, out })
    }

    pub fn log(&self, rec: &Record) {
        let line = match &self.body {
            Body::Text(f) => f.render(rec),
            Body::Json(fields) => {
                let mut s = serde_json::to_string(&render_fields(fields, rec)).unwrap_or_default();
                s.push('\n');
                s
            }
        };
        match &self.out {
            Output::Sink(Sink::Stdout) => {
                let _ = std::io::stdout().lock().write_all(line.as_bytes());
            }
            Output::Sink(Sink::Stderr) => {
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Output::Sink(Sink::File(f)) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
            Output::Sink(Sink::Callback(cb)) => cb(&line),
            Output::File(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(line.as_bytes());
                }
            }
        }
    }
}

type Formats = (Option<String>, Option<serde_json::Map<String, Value>>);

fn formats(
    format: Option<&str>,
    json_format: Option<&serde_json::Map<String, Value>>,
    log_format: Option<&SubstitutionFormatString>,
    path: &str,
) -> Result<Formats, Rejected> {
    if let Some(lf) = log_format {
        if lf.omit_empty_values || !lf.content_type.is_empty() {
            return Err(Rejected::new(
                format!("{path}.log_format"),
                "omit_empty_values and content_type are not supported by mesh yet",
            ));
        }
        if let Some(j) = &lf.json_format {
            return Ok((None, Some(j.clone())));
        }
        if let Some(t) = &lf.text_format {
            return Ok((Some(t.clone()), None));
        }
        if let Some(src) = &lf.text_format_source {
            if let Some(s) = &src.inline_string {
                return Ok((Some(s.clone()), None));
            }
            if let Some(file) = &src.filename {
                let text = std::fs::read_to_string(file).map_err(|e| {
                    Rejected::new(
                        format!("{path}.log_format.text_format_source.filename"),
                        format!("cannot read '{file}': {e}"),
                    )
                })?;
                return Ok((Some(text), None));
            }
        }
        return Ok((None, None));
    }
    if let Some(j) = json_format {
        return Ok((None, Some(j.clone())));
    }
    Ok((format.map(str::to_owned), None))
}

fn json_fields(
    map: &serde_json::Map<String, Value>,
    path: &str,
) -> Result<Vec<(String, JsonField)>, Rejected> {
    map.iter()
        .map(|(k, v)| {
            let field = match v {
                Value::String(s) => JsonField::Format(
                    Format::parse(s)
                        .map_err(|e| Rejected::new(format!("{path}.json_format.{k}"), e))?,
                ),
                Value::Object(inner) => JsonField::Nested(json_fields(inner, path)?),
                other => JsonField::Literal(other.clone()),
            };
            Ok((k.clone(), field))
        })
        .collect()
}

fn render_fields(fields: &[(String, JsonField)], rec: &Record) -> Value {
    let mut map = serde_json::Map::new();
    for (k, f) in fields {
        let v = match f {
            JsonField::Format(fmt) => fmt.render_json(rec),
            JsonField::Literal(v) => v.clone(),
            JsonField::Nested(inner) => render_fields(inner, rec),
        };
        map.insert(k.clone(), v);
    }
    Value::Object(map)
}

/// The loggers of one listener or HTTP connection manager.
pub type AccessLoggers = Arc<[AccessLogger]>;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::flags::Flag;

    fn record() -> Record {
        let mut r = Record::new(
            "10.0.0.1:5555".parse().unwrap(),
            "127.0.0.1:15001".parse().unwrap(),
        );
        r.start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_460_751_420_310);
        r.method = "POST".into();
        r.path = "/api/v1/locations".into();
        r.authority = "locations".into();
        r.response_code = 204;
        r.bytes_received = 154;
        r.duration = Some(Duration::from_millis(226));
        r.request_headers
            .insert("user-agent", "nsq2http".parse().unwrap());
        r.request_headers
            .insert("x-forwarded-for", "10.0.35.28".parse().unwrap());
        r.request_headers.insert(
            "x-request-id",
            "cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2".parse().unwrap(),
        );
        let mut resp = HeaderMap::new();
        resp.insert("x-envoy-upstream-service-time", "100".parse().unwrap());
        r.response_headers = Some(resp);
        r.upstream_host = Some("10.0.2.1:80".parse().unwrap());
        r.protocol = "HTTP/2";
        r
    }

    #[test]
    fn default_format_matches_envoys_documented_example() {
        let f = Format::parse(DEFAULT_FORMAT).unwrap();
        assert_eq!(
            f.render(&record()),
            "[2016-04-15T20:17:00.310Z] \"POST /api/v1/locations HTTP/2\" 204 - 154 0 226 100 \"10.0.35.28\" \"nsq2http\" \"cc21d9b0-cf5c-432b-8c7e-98aeb7988cd2\" \"locations\" \"10.0.2.1:80\"\n"
        );
    }

    #[test]
    fn alternates_truncation_escapes_and_flags() {
        let mut r = record();
        r.flags.set(Flag::UpstreamConnectionFailure);
        r.flags.set(Flag::UpstreamRetryLimitExceeded);
        let f = Format::parse("%REQ(X-ENVOY-ORIGINAL-PATH?:PATH):4% 100%% %RESPONSE_FLAGS% %RESPONSE_FLAGS_LONG% %UPSTREAM_CLUSTER%").unwrap();
        assert_eq!(
            f.render(&r),
            "/api 100% UF,URX UpstreamConnectionFailure,UpstreamRetryLimitExceeded -"
        );
        assert!(
            Format::parse("%NOPE%")
                .unwrap_err()
                .contains("Not supported field")
        );
        assert!(Format::parse("%REQ(x").is_err());
        assert!(Format::parse("50%").is_err());
    }

    #[test]
    fn json_keeps_types() {
        let map: serde_json::Map<String, Value> = serde_json::from_str(
            r#"{"code": "%RESPONSE_CODE%", "path": "%REQ(:PATH)%", "up": "%UPSTREAM_CLUSTER%", "mix": "c=%RESPONSE_CODE%", "n": 1}"#,
        )
        .unwrap();
        let fields = json_fields(&map, "p").unwrap();
        let v = render_fields(&fields, &record());
        assert_eq!(
            v,
            serde_json::json!({"code": 204, "path": "/api/v1/locations", "up": null, "mix": "c=204", "n": 1})
        );
    }

    #[test]
    fn downstream_tls_operators() {
        let f = Format::parse(
            "%DOWNSTREAM_PEER_URI_SAN% %DOWNSTREAM_TLS_VERSION% %REQUESTED_SERVER_NAME%",
        )
        .unwrap();
        assert_eq!(f.render(&record()), "- - -");
        let mut r = record();
        r.downstream_tls = Some(std::sync::Arc::new(crate::proxy::tls::ConnTls {
            sni: Some("webapp.test".into()),
            version: Some("TLSv1.3".into()),
            peer_sans: vec![crate::proxy::tls::certs::San::Uri(
                "spiffe://cluster.local/ns/default/sa/sleep".into(),
            )],
            ..Default::default()
        }));
        assert_eq!(
            f.render(&r),
            "spiffe://cluster.local/ns/default/sa/sleep TLSv1.3 webapp.test"
        );
    }

    #[test]
    fn start_time_formats() {
        let t = record().start;
        assert_eq!(
            format_time(t, Some("%Y/%m/%d %H:%M:%S")),
            "2016/04/15 20:17:00"
        );
        assert_eq!(format_time(t, Some("%s.%E6S")), "1460751420.00.310000");
    }
}
