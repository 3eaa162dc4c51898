//! Envoy's own log: per-component loggers (`http`, `router`, `upstream`, …) with levels that the
//! admin API changes at run time, written in Envoy's line format
//! `[%Y-%m-%d %T.%e][%t][%l][%n] [%g:%#] %v`. Each proxy has its own `Logger`, so proxies in one
//! process (a sandbox) keep separate levels and separate outputs.

use std::fmt;
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

/// Envoy's levels, in increasing severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[repr(u8)]
pub enum Level {
    Trace = 0,
    Debug = 1,
    Info = 2,
    Warning = 3,
    Error = 4,
    Critical = 5,
    Off = 6,
}

impl Level {
    pub const ALL: [Level; 7] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warning,
        Level::Error,
        Level::Critical,
        Level::Off,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Critical => "critical",
            Level::Off => "off",
        }
    }

    fn from_u8(v: u8) -> Level {
        Level::ALL.get(v as usize).copied().unwrap_or(Level::Off)
    }
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Level, String> {
        Ok(match s {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "info" => Level::Info,
            "warning" | "warn" => Level::Warning,
            "error" => Level::Error,
            "critical" => Level::Critical,
            "off" => Level::Off,
            other => {
                return Err(format!(
                    "invalid log level '{other}': one of trace, debug, info, warning, warn, error, critical, off"
                ));
            }
        })
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Envoy's logger ids, in Envoy's registration order (what `/logging` lists).
pub const COMPONENTS: &[&str] = &[
    "admin",
    "alternate_protocols_cache",
    "aws",
    "assert",
    "backtrace",
    "basic_auth",
    "cache_filter",
    "client",
    "config",
    "connection",
    "conn_handler",
    "credential_injector",
    "decompression",
    "dns",
    "dubbo",
    "envoy_bug",
    "ext_authz",
    "ext_proc",
    "rocketmq",
    "file",
    "filter",
    "forward_proxy",
    "geolocation",
    "grpc",
    "happy_eyeballs",
    "hc",
    "health_checker",
    "http",
    "http2",
    "hystrix",
    "init",
    "io",
    "jwt",
    "kafka",
    "key_value_store",
    "lua",
    "main",
    "matcher",
    "misc",
    "mongo",
    "multi_connection",
    "oauth2",
    "quic",
    "quic_stream",
    "pool",
    "rate_limit_quota",
    "rbac",
    "rds",
    "redis",
    "router",
    "runtime",
    "stats",
    "secret",
    "tap",
    "testing",
    "thrift",
    "tracing",
    "upstream",
    "udp",
    "wasm",
    "websocket",
];

/// The components mesh's proxy code logs to (indexes into [`COMPONENTS`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    Admin,
    Config,
    Connection,
    ConnHandler,
    Dns,
    File,
    Http,
    Init,
    Main,
    Pool,
    Router,
    Runtime,
    Upstream,
}

impl Component {
    pub fn name(self) -> &'static str {
        match self {
            Component::Admin => "admin",
            Component::Config => "config",
            Component::Connection => "connection",
            Component::ConnHandler => "conn_handler",
            Component::Dns => "dns",
            Component::File => "file",
            Component::Http => "http",
            Component::Init => "init",
            Component::Main => "main",
            Component::Pool => "pool",
            Component::Router => "router",
            Component::Runtime => "runtime",
            Component::Upstream => "upstream",
        }
    }

    fn index(self) -> usize {
        COMPONENTS
            .iter()
            .position(|c| *c == self.name())
            .unwrap_or(0)
    }
}

/// Where log lines go: stderr (Envoy's default), a file (`--log-path`), or a callback (a
/// sandbox container log).
#[derive(Clone)]
pub enum Sink {
    Stdout,
    Stderr,
    File(Arc<std::sync::Mutex<std::fs::File>>),
    Callback(Arc<dyn Fn(&str) + Send + Sync>),
}

impl fmt::Debug for Sink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sink::Stdout => f.write_str("Stdout"),
            Sink::Stderr => f.write_str("Stderr"),
            Sink::File(_) => f.write_str("File"),
            Sink::Callback(_) => f.write_str("Callback"),
        }
    }
}

/// One proxy's loggers.
#[derive(Debug)]
pub struct Logger {
    levels: Vec<AtomicU8>,
    sink: Sink,
}

impl Logger {
    pub fn new(level: Level, sink: Sink) -> Logger {
        Logger {
            levels: COMPONENTS
                .iter()
                .map(|_| AtomicU8::new(level as u8))
                .collect(),
            sink,
        }
    }

    #[inline]
    pub fn enabled(&self, component: Component, level: Level) -> bool {
        level != Level::Off
            && self
                .levels
                .get(component.index())
                .is_some_and(|l| level as u8 >= l.load(Ordering::Relaxed))
    }

    /// Sets every logger (`-l`, `POST /logging?level=`).
    pub fn set_all(&self, level: Level) {
        for l in &self.levels {
            l.store(level as u8, Ordering::Relaxed);
        }
    }

    /// Sets one logger by name (`--component-log-level`, `POST /logging?http=debug`).
    pub fn set(&self, name: &str, level: Level) -> Result<(), String> {
        let i = COMPONENTS
            .iter()
            .position(|c| *c == name)
            .ok_or_else(|| format!("unknown logger name: {name}"))?;
        self.levels[i].store(level as u8, Ordering::Relaxed);
        Ok(())
    }

    /// `(name, level)` for every logger, in Envoy's order.
    pub fn levels(&self) -> Vec<(&'static str, Level)> {
        COMPONENTS
            .iter()
            .zip(&self.levels)
            .map(|(n, l)| (*n, Level::from_u8(l.load(Ordering::Relaxed))))
            .collect()
    }

    /// Applies `--component-log-level upstream:debug,connection:trace`.
    pub fn apply_component_levels(&self, spec: &str) -> Result<(), String> {
        for part in spec.split(',').filter(|p| !p.is_empty()) {
            let (name, level) = part.split_once(':').ok_or_else(|| {
                format!("error: component log level not correctly specified '{part}'")
            })?;
            let level: Level = level.parse()?;
            self.set(name, level)?;
        }
        Ok(())
    }

    /// Writes one line; call through [`plog!`] so disabled levels cost one atomic load.
    pub fn write(
        &self,
        component: Component,
        level: Level,
        file: &str,
        line: u32,
        args: fmt::Arguments<'_>,
    ) {
        let now = time::OffsetDateTime::now_utc();
        let stamp = format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}.{:03}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second(),
            now.millisecond()
        );
        let text = format!(
            "[{stamp}][{}][{}][{}] [{file}:{line}] {args}\n",
            thread_number(),
            level.name(),
            component.name()
        );
        match &self.sink {
            Sink::Stdout => {
                let _ = std::io::stdout().lock().write_all(text.as_bytes());
            }
            Sink::Stderr => {
                let _ = std::io::stderr().lock().write_all(text.as_bytes());
            }
            Sink::File(f) => {
                if let Ok(mut f) = f.lock() {
                    let _ = f.write_all(text.as_bytes());
                }
            }
            Sink::Callback(cb) => cb(&text),
        }
    }
}

/// A small stable number per thread, like the thread id Envoy prints.
fn thread_number() -> u64 {
    use std::sync::atomic::AtomicU64;
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static ID: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    ID.with(|id| *id)
}

/// `plog!(logger, Level::Debug, Component::Http, "format {}", args)`.
#[macro_export]
macro_rules! plog {
    ($logger:expr, $level:expr, $component:expr, $($arg:tt)+) => {{
        let logger: &$crate::proxy::log::Logger = &$logger;
        if logger.enabled($component, $level) {
            logger.write($component, $level, file!(), line!(), format_args!($($arg)+));
        }
    }};
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn capture() -> (Logger, Arc<Mutex<String>>) {
        let out = Arc::new(Mutex::new(String::new()));
        let o = out.clone();
        let sink = Sink::Callback(Arc::new(move |s: &str| o.lock().unwrap().push_str(s)));
        (Logger::new(Level::Info, sink), out)
    }

    #[test]
    fn levels_filter_and_change_at_run_time() {
        let (log, out) = capture();
        plog!(log, Level::Debug, Component::Http, "hidden {}", 1);
        assert!(out.lock().unwrap().is_empty());
        log.set("http", Level::Debug).unwrap();
        plog!(log, Level::Debug, Component::Http, "shown {}", 2);
        plog!(log, Level::Debug, Component::Router, "still hidden");
        let text = out.lock().unwrap().clone();
        assert!(text.contains("][debug][http] [src/proxy/log.rs:"), "{text}");
        assert!(text.ends_with("] shown 2\n"), "{text}");
        assert!(!text.contains("still hidden"));
    }

    #[test]
    fn component_level_spec() {
        let (log, _) = capture();
        log.apply_component_levels("upstream:debug,connection:trace")
            .unwrap();
        let levels = log.levels();
        assert!(levels.contains(&("upstream", Level::Debug)));
        assert!(levels.contains(&("connection", Level::Trace)));
        assert!(log.apply_component_levels("nope:debug").is_err());
        assert!(log.apply_component_levels("http").is_err());
    }

    #[test]
    fn every_component_is_known() {
        for c in [
            Component::Admin,
            Component::Config,
            Component::Connection,
            Component::ConnHandler,
            Component::Dns,
            Component::File,
            Component::Http,
            Component::Init,
            Component::Main,
            Component::Pool,
            Component::Router,
            Component::Runtime,
            Component::Upstream,
        ] {
            assert!(COMPONENTS.contains(&c.name()), "{}", c.name());
        }
    }
}
