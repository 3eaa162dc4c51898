//! fake-service's settings, read from the environment the way v0.14.1 reads them (its
//! `main.go` with `github.com/nicholasjackson/env` v0.6.0): an unset or empty variable takes
//! the default; a value that does not parse leaves the Go zero value (`0`, `false`, `0s`) —
//! `env.Parse()`'s error is ignored by `main` — so `ERROR_CODE=abc` really answers code 0.

use std::collections::BTreeMap;

use super::gofmt::{self, Nanos, SECOND};

/// What the built-in fake-service runs with.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `NAME`.
    pub name: String,
    /// `MESSAGE`: the reply's `body` (raw JSON when it starts with `{`).
    pub message: String,
    /// `LISTEN_ADDR`, as written (only its port is used: the sandbox chooses the address).
    pub listen_addr: String,
    /// `SERVER_TYPE`: `http` or `grpc`.
    pub server_type: String,
    /// `UPSTREAM_URIS`, as written (logged at start-up).
    pub upstream_uris_raw: String,
    /// `UPSTREAM_URIS` split on `,`, trimmed, empties dropped (`tidyURIs`).
    pub upstream_uris: Vec<String>,
    /// `UPSTREAM_WORKERS`: how many upstream calls run at once.
    pub upstream_workers: i64,
    /// `HTTP_CLIENT_KEEP_ALIVES`.
    pub keep_alives: bool,
    /// `HTTP_CLIENT_APPEND_REQUEST`: append the caller's path and headers to upstream calls.
    pub append_request: bool,
    /// `HTTP_CLIENT_REQUEST_TIMEOUT`.
    pub request_timeout: Nanos,
    pub timing: Timing,
    /// `ERROR_RATE`: every `int(1/ERROR_RATE)`-th request fails (a counter, not a dice).
    pub error_rate: f64,
    /// `ERROR_TYPE`: `http_error`, or anything else for "delay then fail".
    pub error_type: String,
    /// `ERROR_CODE`.
    pub error_code: i64,
    /// `ERROR_DELAY`.
    pub error_delay: Nanos,
    /// `ALLOWED_ORIGINS`, `ALLOWED_HEADERS`, `ALLOW_CREDENTIALS` (gorilla/handlers CORS).
    pub allowed_origins: String,
    pub allowed_headers: String,
    pub allow_credentials: bool,
    /// `TLS_CERT_LOCATION` and `TLS_KEY_LOCATION`: HTTPS when both are set.
    pub tls_cert: String,
    pub tls_key: String,
    /// `LOG_LEVEL`.
    pub log_level: String,
}

/// `TIMING_50_PERCENTILE` etc.: how long a request takes, at random by percentile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timing {
    pub p50: Nanos,
    pub p90: Nanos,
    pub p99: Nanos,
    /// `TIMING_VARIANCE`: up to this percentage more, at random.
    pub variance: i64,
}

impl Config {
    pub fn from_env(env: &BTreeMap<String, String>) -> Config {
        let var = Vars(env);
        let upstream_uris_raw = var.string("UPSTREAM_URIS", "");
        let upstream_uris = upstream_uris_raw
            .split(',')
            .map(|u| u.trim_matches(' '))
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        Config {
            name: var.string("NAME", "Service"),
            message: var.string("MESSAGE", "Hello World"),
            listen_addr: var.string("LISTEN_ADDR", "0.0.0.0:9090"),
            server_type: var.string("SERVER_TYPE", "http"),
            upstream_uris_raw,
            upstream_uris,
            upstream_workers: var.int("UPSTREAM_WORKERS", 1),
            keep_alives: var.bool("HTTP_CLIENT_KEEP_ALIVES", false),
            append_request: var.bool("HTTP_CLIENT_APPEND_REQUEST", true),
            request_timeout: var.duration("HTTP_CLIENT_REQUEST_TIMEOUT", 30 * SECOND),
            timing: Timing::new(
                var.duration("TIMING_50_PERCENTILE", 0),
                var.duration("TIMING_90_PERCENTILE", 0),
                var.duration("TIMING_99_PERCENTILE", 0),
                var.int("TIMING_VARIANCE", 0),
            ),
            error_rate: var.float("ERROR_RATE", 0.0),
            error_type: var.string("ERROR_TYPE", "http_error"),
            error_code: var.int("ERROR_CODE", 500),
            error_delay: var.duration("ERROR_DELAY", 0),
            allowed_origins: var.string("ALLOWED_ORIGINS", "*"),
            allowed_headers: var.string(
                "ALLOWED_HEADERS",
                "Accept,Accept-Language,Content-Language,Origin,Content-Type",
            ),
            allow_credentials: var.bool("ALLOW_CREDENTIALS", false),
            tls_cert: var.string("TLS_CERT_LOCATION", ""),
            tls_key: var.string("TLS_KEY_LOCATION", ""),
            log_level: var.string("LOG_LEVEL", "info"),
        }
    }

    /// The port of `LISTEN_ADDR` (`0.0.0.0:8080`, `:8080`, `[::]:8080`), or `None`.
    pub fn listen_port(&self) -> Option<u16> {
        let (_, port) = self.listen_addr.rsplit_once(':')?;
        port.parse().ok()
    }

    /// Whether to serve HTTPS: both locations set, as `main.go` checks.
    pub fn tls(&self) -> bool {
        !self.tls_cert.is_empty() && !self.tls_key.is_empty()
    }
}

impl Timing {
    /// `timing.NewRequestDuration`: an unset p90 takes p50, an unset p99 takes p90.
    pub fn new(p50: Nanos, p90: Nanos, p99: Nanos, variance: i64) -> Timing {
        let p90 = if p50 > 0 && p90 == 0 { p50 } else { p90 };
        let p99 = if p90 > 0 && p99 == 0 { p90 } else { p99 };
        Timing {
            p50,
            p90,
            p99,
            variance,
        }
    }

    /// `Calculate`: `percentile` and `variance` are the two random draws (`rand.Intn(100)` and
    /// `rand.Intn(variance)`), passed in so the arithmetic is testable.
    pub fn calculate(&self, percentile: i64, variance: i64) -> Nanos {
        let base = match percentile {
            p if p < 90 => self.p50,
            p if p < 99 => self.p90,
            _ => self.p99,
        };
        base + (base as f64 * variance as f64 / 100.0) as Nanos
    }
}

/// The environment with env v0.6.0's rules.
struct Vars<'a>(&'a BTreeMap<String, String>);

impl Vars<'_> {
    fn raw(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn string(&self, name: &str, default: &str) -> String {
        self.raw(name).unwrap_or(default).to_owned()
    }

    fn int(&self, name: &str, default: i64) -> i64 {
        self.raw(name)
            .map_or(default, |v| gofmt::parse_int(v).unwrap_or(0))
    }

    fn float(&self, name: &str, default: f64) -> f64 {
        self.raw(name).map_or(default, |v| v.parse().unwrap_or(0.0))
    }

    fn bool(&self, name: &str, default: bool) -> bool {
        self.raw(name)
            .map_or(default, |v| gofmt::parse_bool(v).unwrap_or(false))
    }

    fn duration(&self, name: &str, default: Nanos) -> Nanos {
        self.raw(name)
            .map_or(default, |v| gofmt::parse_duration(v).unwrap_or(0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_are_v0_14_1s() {
        let c = Config::from_env(&env(&[]));
        assert_eq!(c.name, "Service");
        assert_eq!(c.message, "Hello World");
        assert_eq!(c.listen_addr, "0.0.0.0:9090");
        assert_eq!(c.listen_port(), Some(9090));
        assert_eq!(c.server_type, "http");
        assert!(c.upstream_uris.is_empty());
        assert_eq!(c.upstream_workers, 1);
        assert!(c.append_request && !c.keep_alives);
        assert_eq!(c.request_timeout, 30 * SECOND);
        assert_eq!(c.error_code, 500);
        assert_eq!(c.error_rate, 0.0);
        assert!(!c.tls());
    }

    #[test]
    fn the_books_tls_service_reads_its_env() {
        let c = Config::from_env(&env(&[
            ("LISTEN_ADDR", "0.0.0.0:8080"),
            ("SERVER_TYPE", "http"),
            ("TLS_CERT_LOCATION", "/etc/certs/tls.crt"),
            ("TLS_KEY_LOCATION", "/etc/certs/tls.key"),
            ("NAME", "simple-tls-service-1"),
            ("MESSAGE", "Hello from simple-tls-service-1!!!"),
        ]));
        assert_eq!(c.listen_port(), Some(8080));
        assert!(c.tls());
        assert_eq!(c.name, "simple-tls-service-1");
    }

    #[test]
    fn bad_values_become_go_zero_values() {
        let c = Config::from_env(&env(&[
            ("ERROR_CODE", "abc"),
            ("ERROR_RATE", "half"),
            ("HTTP_CLIENT_APPEND_REQUEST", "yes"),
            ("TIMING_50_PERCENTILE", "10"),
            ("UPSTREAM_URIS", " http://a:9090 ,, http://b:9091,"),
        ]));
        assert_eq!(c.error_code, 0);
        assert_eq!(c.error_rate, 0.0);
        assert!(!c.append_request);
        assert_eq!(c.timing.p50, 0);
        assert_eq!(c.upstream_uris, ["http://a:9090", "http://b:9091"]);
        assert_eq!(
            Config::from_env(&env(&[("LISTEN_ADDR", ":x")])).listen_port(),
            None
        );
        assert_eq!(
            Config::from_env(&env(&[("LISTEN_ADDR", "[::]:81")])).listen_port(),
            Some(81)
        );
    }

    #[test]
    fn timing_fills_percentiles_and_adds_variance() {
        let t = Timing::new(10 * gofmt::MILLISECOND, 0, 0, 50);
        assert_eq!((t.p90, t.p99), (t.p50, t.p50));
        assert_eq!(t.calculate(0, 0), 10 * gofmt::MILLISECOND);
        assert_eq!(t.calculate(95, 20), 12 * gofmt::MILLISECOND);
        let t = Timing::new(1, 2, 3, 0);
        assert_eq!(
            [t.calculate(89, 0), t.calculate(90, 0), t.calculate(99, 0)],
            [1, 2, 3]
        );
    }
}
