//! `istioctl proxy-config log`: which `POST /logging?…` calls `--level`/`--reset` make, and the
//! output (`<pod>.<ns>:` followed by Envoy's `/logging` response, unchanged).

use super::RenderError;

/// What `proxy-config log` was asked to change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogChange {
    /// No flag: just list the loggers.
    None,
    /// `-r/--reset`: every logger back to `default_level` (istioctl reads it from the
    /// `istio-sidecar-injector` ConfigMap, `warning` when absent).
    Reset { default_level: String },
    /// `--level http:debug,redis:debug` or `--level debug`.
    Levels(String),
}

/// istioctl's level names (`warn` is accepted for `warning`).
fn level_name(level: &str) -> Option<&'static str> {
    Some(match level {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warning" | "warn" => "warning",
        "error" => "error",
        "critical" => "critical",
        "off" => "off",
        _ => return None,
    })
}

/// The query strings to `POST /logging` with, in order (`""` lists the loggers). `loggers`
/// is a first `/logging` response: a logger name must occur in it. The all-loggers change
/// (`level=…`) comes first; per-logger ones follow in name order (istioctl walks a Go map).
pub fn log_requests(change: &LogChange, loggers: &str) -> Result<Vec<String>, RenderError> {
    let mut all: Option<&str> = None;
    let mut per_logger: Vec<(String, &str)> = Vec::new();
    match change {
        LogChange::None => return Ok(vec![String::new()]),
        LogChange::Reset { default_level } => {
            all = Some(level_name(default_level).unwrap_or("warning"));
        }
        LogChange::Levels(spec) => {
            for part in spec.split(',') {
                if !part.contains(':') && !part.contains('=') {
                    let level = level_name(part).ok_or_else(|| {
                        RenderError::new(format!("unrecognized logging level: {part}"))
                    })?;
                    all = Some(level);
                    per_logger.clear();
                    continue;
                }
                let logger_and_level = part.rsplit("::").next().unwrap_or(part);
                let (logger, level) = logger_and_level
                    .split_once([':', '='])
                    .unwrap_or((logger_and_level, ""));
                if !loggers.contains(logger) && logger != "level" {
                    return Err(RenderError::new(format!(
                        "unrecognized logger name: {logger}"
                    )));
                }
                let level = level_name(level).ok_or_else(|| {
                    RenderError::new(format!("unrecognized logging level: {level}"))
                })?;
                if logger == "level" {
                    all = Some(level);
                } else {
                    per_logger.retain(|(name, _)| name != logger);
                    per_logger.push((logger.to_string(), level));
                }
            }
        }
    }
    per_logger.sort();
    let mut requests: Vec<String> = all
        .map(|level| format!("level={level}"))
        .into_iter()
        .collect();
    requests.extend(
        per_logger
            .into_iter()
            .map(|(logger, level)| format!("{logger}={level}")),
    );
    if requests.is_empty() {
        requests.push(String::new());
    }
    Ok(requests)
}

/// What istioctl prints for one proxy: `<pod>.<namespace>:` and the last `/logging` response.
pub fn log(proxy: &str, response: &str) -> String {
    format!("{proxy}:\n{response}")
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOGGERS: &str = "active loggers:\n  admin: warning\n  http: warning\n  redis: warning\n";

    #[test]
    fn requests_for_each_flag() {
        let req = |change| log_requests(&change, LOGGERS);
        assert_eq!(req(LogChange::None).unwrap(), [""]);
        assert_eq!(
            req(LogChange::Reset {
                default_level: "warning".into()
            })
            .unwrap(),
            ["level=warning"]
        );
        assert_eq!(
            req(LogChange::Levels("debug".into())).unwrap(),
            ["level=debug"]
        );
        assert_eq!(
            req(LogChange::Levels("redis:debug,http:warn".into())).unwrap(),
            ["http=warning", "redis=debug"]
        );
        assert_eq!(
            req(LogChange::Levels("info,envoy::http=trace".into())).unwrap(),
            ["level=info", "http=trace"]
        );
        assert_eq!(
            req(LogChange::Levels("none".into())).unwrap_err().0,
            "unrecognized logging level: none"
        );
        assert_eq!(
            req(LogChange::Levels("nosuch:debug".into())).unwrap_err().0,
            "unrecognized logger name: nosuch"
        );
    }

    #[test]
    fn output_is_the_response_under_the_proxy_name() {
        assert_eq!(
            log("istio-ingressgateway-996bc6bb6-mktpr.istio-system", LOGGERS),
            "istio-ingressgateway-996bc6bb6-mktpr.istio-system:\nactive loggers:\n  admin: warning\n  http: warning\n  redis: warning\n"
        );
    }
}
