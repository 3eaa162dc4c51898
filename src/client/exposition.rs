//! Reads the Prometheus text exposition format (what a proxy's `:15090/stats/prometheus`
//! serves) into samples: `name{label="value",…} value`. Comments, HELP and TYPE lines are
//! skipped; label values are unescaped (`\\`, `\"`, `\n`).

/// One line of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    pub name: String,
    /// In exposition order.
    pub labels: Vec<(String, String)>,
    pub value: f64,
}

impl Sample {
    pub fn label(&self, name: &str) -> Option<&str> {
        self.labels
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a line is not a sample.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct ParseError {
    pub line: usize,
    pub reason: &'static str,
}

/// Every sample of `text`.
pub fn parse(text: &str) -> Result<Vec<Sample>, ParseError> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        out.push(parse_line(line).map_err(|reason| ParseError {
            line: i + 1,
            reason,
        })?);
    }
    Ok(out)
}

fn parse_line(line: &str) -> Result<Sample, &'static str> {
    let name_end = line
        .find(|c: char| c == '{' || c.is_whitespace())
        .ok_or("no value")?;
    let name = &line[..name_end];
    if name.is_empty() {
        return Err("no metric name");
    }
    let mut rest = &line[name_end..];
    let mut labels = Vec::new();
    if let Some(body) = rest.strip_prefix('{') {
        let (parsed, after) = parse_labels(body)?;
        labels = parsed;
        rest = after;
    }
    // The value, then an optional timestamp.
    let value = rest.split_whitespace().next().ok_or("no value")?;
    let value = match value {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        "NaN" => f64::NAN,
        v => v.parse().map_err(|_| "value is not a number")?,
    };
    Ok(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

type Labels = Vec<(String, String)>;

/// Parses `k="v",…}` and returns what follows the closing brace.
fn parse_labels(mut s: &str) -> Result<(Labels, &str), &'static str> {
    let mut labels = Vec::new();
    loop {
        s = s.trim_start();
        if let Some(after) = s.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = s.find('=').ok_or("label without '='")?;
        let key = s[..eq].trim().to_owned();
        s = s[eq + 1..]
            .trim_start()
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = s.char_indices();
        let end = loop {
            match chars.next() {
                None => return Err("unterminated label value"),
                Some((i, '"')) => break i,
                Some((_, '\\')) => match chars.next() {
                    Some((_, 'n')) => value.push('\n'),
                    Some((_, c)) => value.push(c),
                    None => return Err("unterminated label value"),
                },
                Some((_, c)) => value.push(c),
            }
        };
        labels.push((key, value));
        s = s[end + 1..].trim_start();
        s = s.strip_prefix(',').unwrap_or(s);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_envoy_and_istio_lines() {
        let text = "# TYPE istio_requests_total counter\n\
            istio_requests_total{reporter=\"destination\",source_workload=\"webapp\",destination_version=\"\"} 5\n\
            \n\
            envoy_server_uptime{} 42\n\
            istio_request_duration_milliseconds_bucket{reporter=\"source\",le=\"+Inf\"} 3\n\
            envoy_cluster_version_text{text_value=\"v\\\"1\\\"\\\\\\n\"} 0\n";
        let s = parse(text).unwrap();
        assert_eq!(s.len(), 4);
        assert_eq!(s[0].name, "istio_requests_total");
        assert_eq!(s[0].label("source_workload"), Some("webapp"));
        assert_eq!(s[0].label("destination_version"), Some(""));
        assert_eq!(s[0].value, 5.0);
        assert!(s[1].labels.is_empty());
        assert_eq!(s[2].label("le"), Some("+Inf"));
        assert_eq!(s[3].label("text_value"), Some("v\"1\"\\\n"));
    }

    #[test]
    fn reports_the_bad_line() {
        assert_eq!(
            parse("ok 1\nbad{a=\"x} 1\n"),
            Err(ParseError {
                line: 2,
                reason: "unterminated label value"
            })
        );
        assert!(parse("x notanumber").is_err());
        assert!(parse("x{a=1} 2").is_err());
    }
}
