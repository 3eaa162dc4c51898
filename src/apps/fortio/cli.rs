//! fortio's command line as `mesh exec POD -- fortio …` runs it inside the pod's network: `load`
//! and `curl` with Go `flag` syntax (`-c 3`, `-c=3`, `--c 3`, bool flags alone). Other
//! subcommands (server, grpcping, report…) are refused with the list of what is supported.

use std::sync::Arc;
use std::time::Duration;

use http::header::{HeaderName, HeaderValue};

use super::load::{self, Level, LoadOptions, Target};
use crate::apps::Log;
use crate::apps::fake_service::gofmt::parse_duration;
use crate::net::dial::Dialer;

/// Whether `program` (the first word after `--`) is fortio's binary.
pub fn is_fortio(program: &str) -> bool {
    program == "fortio" || program.ends_with("/fortio")
}

/// A bad command line: the message fortio would print, exit code 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Usage(pub String);

/// Flags that take no value.
const BOOL_FLAGS: &[&str] = &[
    "allow-initial-errors",
    "quiet",
    "k",
    "https-insecure",
    "jitter",
    "uniform",
    "nocatchup",
    "stdclient",
    "h2",
    "a",
    "json-output",
];

/// Runs `fortio ARGS…` (without the program name); returns the exit code.
pub async fn run(
    args: &[String],
    dialer: Arc<dyn Dialer>,
    out: Log,
    err: Log,
) -> Result<u8, Usage> {
    let Some((command, rest)) = args.split_first() else {
        return Err(Usage(usage()));
    };
    let flags = parse_flags(rest)?;
    match command.as_str() {
        "load" => {
            let options = load_options(&flags)?;
            if let Some(level) = flags.get("loglevel") {
                err(&format!(
                    "{{\"ts\":{},\"level\":\"info\",\"r\":1,\"file\":\"logger.go\",\"line\":254,\"msg\":\"Log level is now {} {} (was 2 Info)\"}}",
                    super::unix_now(),
                    options.level.number(),
                    Level::parse(level).map_or("Info", Level::name)
                ));
            }
            load::run(options, dialer, out, err).await;
            Ok(0)
        }
        "curl" => curl(&flags, dialer, out, err).await,
        other => Err(Usage(format!(
            "fortio {other}: not available in mesh's built-in fortio (it runs `load` and `curl`; \
             the pod itself runs `fortio server`)\n{}",
            usage()
        ))),
    }
}

fn usage() -> String {
    "usage: fortio load [flags] url | fortio curl [flags] url\n  flags: -c connections, -qps rate (0 = max), -n calls, -t duration, -H 'Name: value', -timeout, -p percentiles, -loglevel, -allow-initial-errors".to_owned()
}

/// Flags and the positional arguments after them.
#[derive(Debug, Default)]
struct Flags {
    values: Vec<(String, String)>,
    positional: Vec<String>,
}

impl Flags {
    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Go's `flag` package: flags until the first non-flag or `--`.
fn parse_flags(args: &[String]) -> Result<Flags, Usage> {
    let mut flags = Flags::default();
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        if arg == "--" {
            flags.positional.extend(args[i + 1..].iter().cloned());
            break;
        }
        let Some(name) = arg.strip_prefix("--").or_else(|| arg.strip_prefix('-')) else {
            flags.positional.extend(args[i..].iter().cloned());
            break;
        };
        if name.is_empty() {
            return Err(Usage(format!("bad flag syntax: {arg}")));
        }
        match name.split_once('=') {
            Some((n, v)) => flags.values.push((n.to_owned(), v.to_owned())),
            None if BOOL_FLAGS.contains(&name) => {
                flags.values.push((name.to_owned(), "true".to_owned()))
            }
            None => {
                let value = args
                    .get(i + 1)
                    .ok_or_else(|| Usage(format!("flag needs an argument: -{name}")))?;
                flags.values.push((name.to_owned(), value.clone()));
                i += 1;
            }
        }
        i += 1;
    }
    Ok(flags)
}

const KNOWN_LOAD_FLAGS: &[&str] = &[
    "c",
    "qps",
    "n",
    "t",
    "H",
    "timeout",
    "p",
    "loglevel",
    "allow-initial-errors",
    "quiet",
    "k",
    "https-insecure",
    "jitter",
    "uniform",
    "nocatchup",
    "stdclient",
    "a",
    "json-output",
    "r",
    "labels",
    "logcaller",
    "log-errors",
];

fn load_options(flags: &Flags) -> Result<LoadOptions, Usage> {
    for (name, _) in &flags.values {
        if !KNOWN_LOAD_FLAGS.contains(&name.as_str()) {
            return Err(Usage(format!(
                "flag provided but not defined: -{name}\n{}",
                usage()
            )));
        }
    }
    let number = |name: &str, default: f64| -> Result<f64, Usage> {
        match flags.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .map_err(|_| Usage(format!("invalid value {v:?} for flag -{name}: parse error"))),
        }
    };
    let duration_flag = |name: &str, default: Duration| -> Result<Duration, Usage> {
        match flags.get(name) {
            None => Ok(default),
            Some(v) => parse_duration(v)
                .and_then(|n| u64::try_from(n).ok())
                .map(Duration::from_nanos)
                .ok_or_else(|| Usage(format!("invalid value {v:?} for flag -{name}: parse error"))),
        }
    };
    let threads = number("c", 8.0)?;
    if threads < 1.0 || threads.fract() != 0.0 || threads > 10_000.0 {
        return Err(Usage(format!(
            "-c {threads}: connections must be a whole number from 1 to 10000"
        )));
    }
    let calls = number("n", 0.0)?;
    if calls < 0.0 || calls.fract() != 0.0 {
        return Err(Usage(format!("-n {calls}: must be a whole number")));
    }
    let level = match flags.get("loglevel") {
        None => Level::Info,
        Some(l) => Level::parse(l).ok_or_else(|| {
            Usage(format!("invalid value {l:?} for flag -loglevel: use Debug, Verbose, Info, Warning, Error, Critical or Fatal"))
        })?,
    };
    let percentiles = match flags.get("p") {
        None => vec![50.0, 75.0, 90.0, 99.0, 99.9],
        Some(list) => list
            .split(',')
            .map(|p| {
                p.trim()
                    .parse::<f64>()
                    .map_err(|_| Usage(format!("-p {list:?}: not a list of numbers")))
            })
            .collect::<Result<_, _>>()?,
    };
    let [url] = flags.positional.as_slice() else {
        return Err(Usage(format!(
            "fortio load needs exactly one url after the flags\n{}",
            usage()
        )));
    };
    Ok(LoadOptions {
        threads: threads as usize,
        qps: number("qps", 8.0)?,
        calls: (calls > 0.0).then_some(calls as u64),
        duration: duration_flag("t", Duration::from_secs(5))?,
        headers: headers(flags)?,
        percentiles,
        timeout: duration_flag("timeout", Duration::from_secs(3))?,
        level,
        target: Target::parse(url).map_err(Usage)?,
    })
}

fn headers(flags: &Flags) -> Result<Vec<(HeaderName, HeaderValue)>, Usage> {
    flags
        .all("H")
        .map(|h| {
            let (name, value) = h
                .split_once(':')
                .ok_or_else(|| Usage(format!("-H {h:?}: expected 'Name: value'")))?;
            let name = HeaderName::from_bytes(name.trim().as_bytes())
                .map_err(|_| Usage(format!("-H {h:?}: invalid header name")))?;
            let value = HeaderValue::from_str(value.trim())
                .map_err(|_| Usage(format!("-H {h:?}: invalid header value")))?;
            Ok((name, value))
        })
        .collect()
}

/// `fortio curl URL`: one GET, the response head and body on stdout (`-quiet` drops the
/// start-up log line on stderr).
async fn curl(flags: &Flags, dialer: Arc<dyn Dialer>, out: Log, err: Log) -> Result<u8, Usage> {
    let [url] = flags.positional.as_slice() else {
        return Err(Usage(format!(
            "fortio curl needs exactly one url\n{}",
            usage()
        )));
    };
    let target = Target::parse(url).map_err(Usage)?;
    if flags.get("quiet").is_none() {
        err(&format!(
            "{{\"ts\":{},\"level\":\"info\",\"r\":1,\"file\":\"scli.go\",\"line\":1,\"msg\":\"Fortio {} usage/curl: {url}\"}}",
            super::unix_now(),
            super::VERSION
        ));
    }
    let answer = tokio::time::timeout(Duration::from_secs(3), async {
        let stream = dialer.dial(&target.host, target.port).await?;
        fetch(stream, &target, &headers(flags).unwrap_or_default())
            .await
            .map_err(std::io::Error::other)
    })
    .await;
    match answer {
        Ok(Ok(text)) => {
            out(&text);
            Ok(0)
        }
        Ok(Err(e)) => {
            err(&format!(
                "Unable to connect to {}:{}: {e}",
                target.host, target.port
            ));
            Ok(1)
        }
        Err(_) => {
            err(&format!(
                "Timeout reading from {}:{}",
                target.host, target.port
            ));
            Ok(1)
        }
    }
}

async fn fetch(
    stream: crate::net::dial::BoxStream,
    target: &Target,
    extra: &[(HeaderName, HeaderValue)],
) -> Result<String, hyper::Error> {
    use http_body_util::BodyExt;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let mut builder = http::Request::builder()
        .uri(target.path.as_str())
        .header(http::header::HOST, target.authority.as_str())
        .header(
            http::header::USER_AGENT,
            concat!("fortio.org/fortio-", "1.69.5"),
        );
    for (n, v) in extra {
        builder = builder.header(n, v);
    }
    let Ok(request) = builder.body(http_body_util::Empty::<bytes::Bytes>::new()) else {
        return Ok(String::new());
    };
    let response = sender.send_request(request).await?;
    let mut text = format!("HTTP/1.1 {}\n", response.status());
    for (name, value) in response.headers() {
        text.push_str(&format!(
            "{}: {}\n",
            super::canonical(name.as_str()),
            String::from_utf8_lossy(value.as_bytes())
        ));
    }
    text.push('\n');
    let body = response.into_body().collect().await?.to_bytes();
    text.push_str(&String::from_utf8_lossy(&body));
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(args: &[&str]) -> Vec<String> {
        args.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn go_flag_syntax() {
        let flags = parse_flags(&strings(&[
            "-c",
            "3",
            "-qps=0",
            "--n",
            "30",
            "-allow-initial-errors",
            "-H",
            "a: b",
            "http://x/",
        ]))
        .unwrap();
        let o = load_options(&flags).unwrap();
        assert_eq!((o.threads, o.qps, o.calls), (3, 0.0, Some(30)));
        assert_eq!(o.headers.len(), 1);
        assert_eq!(o.target.host, "x");
    }

    #[test]
    fn bad_flags_are_refused() {
        let flags = parse_flags(&strings(&["-bogus", "1", "http://x/"])).unwrap();
        assert!(
            load_options(&flags)
                .unwrap_err()
                .0
                .contains("flag provided but not defined: -bogus")
        );
        let flags = parse_flags(&strings(&["-c", "x", "http://x/"])).unwrap();
        assert!(load_options(&flags).is_err());
        let flags = parse_flags(&strings(&["-c", "2"])).unwrap();
        assert!(load_options(&flags).is_err());
    }
}
