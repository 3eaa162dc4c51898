//! fake-service's log lines: hashicorp/go-hclog v0.9.2's text format, e.g.
//! `2020-09-03T14:47:55.620Z [INFO]  Handle inbound request: request="GET / HTTP/1.1`…
//! Time in UTC with milliseconds, the level in a 7-wide bracket, an optional logger name,
//! the message, then ` key=value` pairs after a `:`; a value with a blank, tab or newline
//! is wrapped in `"` (never escaped), so a multi-line value spans several stdout lines.

use time::OffsetDateTime;
use time::macros::format_description;

use crate::apps::Log;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Trace,
    Debug,
    Info,
    Warn,
    Error,
}

impl Level {
    /// `hclog.LevelFromString`; unknown names mean Info (hclog's `NoLevel` → default).
    pub fn parse(name: &str) -> Level {
        match name.trim().to_ascii_lowercase().as_str() {
            "trace" => Level::Trace,
            "debug" => Level::Debug,
            "warn" => Level::Warn,
            "error" => Level::Error,
            _ => Level::Info,
        }
    }

    fn bracket(self) -> &'static str {
        match self {
            Level::Trace => "[TRACE]",
            Level::Debug => "[DEBUG]",
            Level::Info => "[INFO] ",
            Level::Warn => "[WARN] ",
            Level::Error => "[ERROR]",
        }
    }
}

/// A logger writing to the container's stdout.
#[derive(Clone)]
pub struct Logger {
    log: Log,
    level: Level,
    name: &'static str,
}

impl Logger {
    pub fn new(log: Log, level: Level) -> Logger {
        Logger {
            log,
            level,
            name: "",
        }
    }

    /// `Named(name)`: lines carry `name: ` before the message.
    pub fn named(&self, name: &'static str) -> Logger {
        Logger {
            name,
            ..self.clone()
        }
    }

    pub fn info(&self, message: &str, args: &[(&str, String)]) {
        self.write(Level::Info, message, args);
    }

    pub fn error(&self, message: &str, args: &[(&str, String)]) {
        self.write(Level::Error, message, args);
    }

    /// A line from Go's standard `log` package (net/http's own messages), which bypasses
    /// hclog: `2020/09/03 14:47:55 http: panic serving …`.
    pub fn std(&self, message: &str) {
        let stamp = OffsetDateTime::now_utc()
            .format(format_description!(
                "[year]/[month]/[day] [hour]:[minute]:[second]"
            ))
            .unwrap_or_default();
        (self.log)(&format!("{stamp} {message}"));
    }

    fn write(&self, level: Level, message: &str, args: &[(&str, String)]) {
        if level < self.level {
            return;
        }
        let now = OffsetDateTime::now_utc();
        let text = line(now, level, self.name, message, args);
        for line in text.split('\n') {
            (self.log)(line);
        }
    }
}

/// One record, without the trailing newline.
pub fn line(
    at: OffsetDateTime,
    level: Level,
    name: &str,
    message: &str,
    args: &[(&str, String)],
) -> String {
    let stamp = at
        .format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap_or_default();
    let mut out = format!("{stamp} {} ", level.bracket());
    if !name.is_empty() {
        out.push_str(name);
        out.push_str(": ");
    }
    out.push_str(message);
    if !args.is_empty() {
        out.push(':');
        for (key, value) in args {
            out.push(' ');
            out.push_str(key);
            out.push('=');
            if value.contains([' ', '\t', '\n', '\r']) {
                out.push('"');
                out.push_str(value);
                out.push('"');
            } else {
                out.push_str(value);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const AT: OffsetDateTime = datetime!(2020-09-03 14:47:55.620498 UTC);

    #[test]
    fn lines_look_like_hclog_0_9() {
        assert_eq!(
            line(
                AT,
                Level::Info,
                "",
                "Adding handler for UI static files",
                &[]
            ),
            "2020-09-03T14:47:55.620Z [INFO]  Adding handler for UI static files"
        );
        assert_eq!(
            line(
                AT,
                Level::Info,
                "",
                "Starting service",
                &[
                    ("name", "web".into()),
                    ("upstreamURIs", String::new()),
                    ("service type", "http".into()),
                ]
            ),
            "2020-09-03T14:47:55.620Z [INFO]  Starting service: name=web upstreamURIs= service type=http"
        );
        assert_eq!(
            line(
                AT,
                Level::Error,
                "error_injector",
                "Oops",
                &[("error", "a b".into())]
            ),
            "2020-09-03T14:47:55.620Z [ERROR] error_injector: Oops: error=\"a b\""
        );
    }

    #[test]
    fn levels_filter_and_multi_line_values_split() {
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
        let sink = lines.clone();
        let log: Log = std::sync::Arc::new(move |l: &str| sink.lock().unwrap().push(l.into()));
        let logger = Logger::new(log, Level::parse("ERROR"));
        logger.info("hidden", &[]);
        logger.error("shown", &[("request", "GET / HTTP/1.1\nHost: a".into())]);
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 2, "{lines:?}");
        assert!(lines[0].ends_with("[ERROR] shown: request=\"GET / HTTP/1.1"));
        assert_eq!(lines[1], "Host: a\"");
    }
}
