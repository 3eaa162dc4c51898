//! The admin `/stats` query parameters (`usedonly`, `filter`, `type`, `text_readouts`,
//! `format`), parsed as Envoy's `StatsParams` does.

use regex::Regex;

/// Which stats to render, from `type=` (Envoy's spelling: `All`, `Counters`, …).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Kind {
    #[default]
    All,
    Counters,
    Gauges,
    Histograms,
    TextReadouts,
}

impl Kind {
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "All" => Kind::All,
            "Counters" => Kind::Counters,
            "Gauges" => Kind::Gauges,
            "Histograms" => Kind::Histograms,
            "TextReadouts" => Kind::TextReadouts,
            _ => return None,
        })
    }

    pub(crate) fn counters(self) -> bool {
        matches!(self, Kind::All | Kind::Counters)
    }

    pub(crate) fn gauges(self) -> bool {
        matches!(self, Kind::All | Kind::Gauges)
    }

    pub(crate) fn histograms(self) -> bool {
        matches!(self, Kind::All | Kind::Histograms)
    }

    pub(crate) fn text_readouts(self) -> bool {
        matches!(self, Kind::All | Kind::TextReadouts)
    }
}

/// Output format, from `format=` on `/stats` (`/stats/prometheus` implies Prometheus).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Format {
    #[default]
    Text,
    Json,
    Prometheus,
}

impl Format {
    /// The `content-type` Envoy's admin sends for this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text | Format::Prometheus => "text/plain; charset=UTF-8",
            Format::Json => "application/json",
        }
    }
}

/// What an admin stats request asked for.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// `usedonly`: only stats written at least once.
    pub used_only: bool,
    /// `filter`: a regex searched (not anchored) in the full stat name.
    pub filter: Option<Regex>,
    /// `type`: which kinds of stat.
    pub kind: Kind,
    /// `text_readouts`: include text readouts (as gauges) in Prometheus output.
    pub text_readouts_in_prometheus: bool,
    /// `format`: how `/stats` renders; `/stats/prometheus` ignores it.
    pub format: Format,
}

/// A query parameter the admin cannot honour. `Display` names the parameter;
/// [`QueryError::envoy_body`] is the exact 400 body Envoy sends.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("invalid filter regex {pattern:?}: {source}")]
    Filter {
        pattern: String,
        #[source]
        source: regex::Error,
    },
    #[error("invalid type {0:?}: expected one of All, Counters, Gauges, Histograms, TextReadouts")]
    Type(String),
    #[error("invalid format {0:?}: expected one of text, json, prometheus")]
    Format(String),
}

impl QueryError {
    /// The response body Envoy's admin returns (with status 400) for this error.
    pub fn envoy_body(&self) -> &'static str {
        match self {
            QueryError::Filter { .. } => "Invalid re2 regex",
            QueryError::Type(_) => "invalid &type= param",
            QueryError::Format(_) => {
                "usage: /stats?format=(html|active-html|json|prometheus|text)\n\n"
            }
        }
    }
}

impl Query {
    /// Parses decoded query parameters. Flags count when present, whatever their value; the
    /// first occurrence of a repeated key wins (as Envoy's query map does); unknown keys are
    /// ignored.
    pub fn from_params(params: &[(String, String)]) -> Result<Query, QueryError> {
        let get = |key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let mut q = Query {
            used_only: get("usedonly").is_some(),
            text_readouts_in_prometheus: get("text_readouts").is_some(),
            ..Query::default()
        };
        if let Some(pattern) = get("filter") {
            let re = Regex::new(pattern).map_err(|source| QueryError::Filter {
                pattern: pattern.to_string(),
                source,
            })?;
            q.filter = Some(re);
        }
        if let Some(t) = get("type") {
            q.kind = Kind::parse(t).ok_or_else(|| QueryError::Type(t.to_string()))?;
        }
        if let Some(f) = get("format") {
            q.format = match f {
                "text" => Format::Text,
                "json" => Format::Json,
                "prometheus" => Format::Prometheus,
                _ => return Err(QueryError::Format(f.to_string())),
            };
        }
        Ok(q)
    }

    /// Whether a stat with this name and used-ness passes `usedonly` and `filter`.
    pub(crate) fn admits(&self, name: &str, used: bool) -> bool {
        (!self.used_only || used) && self.filter.as_ref().is_none_or(|re| re.is_match(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_known_params_and_ignores_others() {
        let q = Query::from_params(&params(&[
            ("usedonly", ""),
            ("filter", "retry"),
            ("type", "Counters"),
            ("text_readouts", ""),
            ("format", "json"),
            ("histogram_buckets", "cumulative"),
            ("pretty", ""),
        ]))
        .unwrap();
        assert!(q.used_only && q.text_readouts_in_prometheus);
        assert_eq!(q.kind, Kind::Counters);
        assert_eq!(q.format, Format::Json);
        assert!(q.admits("cluster.a.upstream_rq_retry", true));
        assert!(!q.admits("cluster.a.upstream_rq_total", true));
        assert!(!q.admits("cluster.a.upstream_rq_retry", false));
    }

    #[test]
    fn defaults_show_everything() {
        let q = Query::from_params(&[]).unwrap();
        assert!(!q.used_only && q.filter.is_none() && !q.text_readouts_in_prometheus);
        assert_eq!((q.kind, q.format), (Kind::All, Format::Text));
        assert!(q.admits("anything", false));
    }

    #[test]
    fn invalid_filter_names_the_param() {
        let err = Query::from_params(&params(&[("filter", "a(b")])).unwrap_err();
        assert!(matches!(err, QueryError::Filter { .. }));
        assert!(
            err.to_string().starts_with("invalid filter regex \"a(b\""),
            "{err}"
        );
        assert_eq!(err.envoy_body(), "Invalid re2 regex");
    }

    #[test]
    fn invalid_type_and_format_are_errors() {
        let err = Query::from_params(&params(&[("type", "counters")])).unwrap_err();
        assert_eq!(err.envoy_body(), "invalid &type= param");
        assert!(err.to_string().contains("\"counters\""));
        let err = Query::from_params(&params(&[("format", "xml")])).unwrap_err();
        assert!(matches!(err, QueryError::Format(_)));
    }

    #[test]
    fn first_repeated_key_wins() {
        let q = Query::from_params(&params(&[("type", "Gauges"), ("type", "bogus")])).unwrap();
        assert_eq!(q.kind, Kind::Gauges);
    }
}
