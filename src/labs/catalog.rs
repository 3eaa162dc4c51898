//! The labs: `scenarios/` embedded at build time (lab files and the files they hand out),
//! each lab file decoded and validated with precise errors (`file:line:column: field: reason`).

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use super::format::{Check, Lab};
use super::{jsonpath, template};

include!(concat!(env!("OUT_DIR"), "/scenario_files.rs"));

/// Where lab files live, relative to `scenarios/`.
pub const LAB_DIR: &str = "labs/";

/// One problem in a lab file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {field}: {reason}")]
pub struct LabFileError {
    pub file: String,
    pub line: u64,
    pub column: u64,
    /// The field path (`steps[2].checks[0].http.expect.status`); `-` for the whole file.
    pub field: String,
    pub reason: String,
}

/// An embedded file under `scenarios/`.
pub fn file(path: &str) -> Option<&'static [u8]> {
    FILES.iter().find(|(p, _)| *p == path).map(|(_, b)| *b)
}

/// Embedded files under a directory (`istio-in-action/ch4`), or the file itself.
pub fn files_under(path: &str) -> Vec<(&'static str, &'static [u8])> {
    let dir = format!("{}/", path.trim_end_matches('/'));
    FILES
        .iter()
        .filter(|(p, _)| *p == path || p.starts_with(&dir))
        .map(|(p, b)| (*p, *b))
        .collect()
}

/// Every embedded lab, in order (chapters, then challenges), and every problem of every lab
/// file.
pub fn load_all() -> (Vec<Lab>, Vec<LabFileError>) {
    load_with(None)
}

/// The embedded labs plus the `*.yaml` lab files of `extra` (the user's own labs,
/// `MESH_LAB_DIR`).
pub fn load_with(extra: Option<&Path>) -> (Vec<Lab>, Vec<LabFileError>) {
    let mut labs = Vec::new();
    let mut problems = Vec::new();
    let mut texts: Vec<(String, String)> = FILES
        .iter()
        .filter(|(p, _)| p.starts_with(LAB_DIR) && p.ends_with(".yaml"))
        .map(|(p, b)| {
            (
                format!("scenarios/{p}"),
                String::from_utf8_lossy(b).into_owned(),
            )
        })
        .collect();
    if let Some(dir) = extra {
        match std::fs::read_dir(dir) {
            Ok(entries) => {
                let mut paths: Vec<_> = entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
                    .collect();
                paths.sort();
                for path in paths {
                    match std::fs::read_to_string(&path) {
                        Ok(t) => texts.push((path.display().to_string(), t)),
                        Err(e) => problems.push(LabFileError {
                            file: path.display().to_string(),
                            line: 1,
                            column: 1,
                            field: "-".into(),
                            reason: e.to_string(),
                        }),
                    }
                }
            }
            Err(e) => problems.push(LabFileError {
                file: dir.display().to_string(),
                line: 1,
                column: 1,
                field: "-".into(),
                reason: format!("cannot read the lab directory: {e}"),
            }),
        }
    }
    for (path, text) in &texts {
        match parse(path, text) {
            Ok(lab) => labs.push(lab),
            Err(mut e) => problems.append(&mut e),
        }
    }
    let mut seen = BTreeSet::new();
    for lab in &labs {
        if !seen.insert(lab.id.to_ascii_lowercase()) {
            problems.push(LabFileError {
                file: "scenarios/labs".into(),
                line: 1,
                column: 1,
                field: "id".into(),
                reason: format!("two lab files have the id {:?}", lab.id),
            });
        }
    }
    labs.sort_by_key(|l| order_key(&l.id));
    (labs, problems)
}

/// The lab with this id (case-insensitive), if its file is valid.
pub fn find(id: &str, extra: Option<&Path>) -> Option<Lab> {
    load_with(extra)
        .0
        .into_iter()
        .find(|l| l.id.eq_ignore_ascii_case(id))
}

/// `3.2` < `4.1` < `4.10` < `C1` < `C2`.
pub fn order_key(id: &str) -> (bool, Vec<u32>, String) {
    let challenge = !id.starts_with(|c: char| c.is_ascii_digit());
    let numbers = id
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    (challenge, numbers, id.to_owned())
}

/// Decodes and validates one lab file; `path` names it in errors.
pub fn parse(path: &str, text: &str) -> Result<Lab, Vec<LabFileError>> {
    let mut field = String::from("-");
    let decoded = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            // `Spanned` wraps values in `value`; the user never wrote that.
            field = e.path().to_string().replace(".value", "");
            e.into_inner()
        })
    });
    let lab: Lab = decoded.map_err(|e| {
        let (line, column) = e
            .location()
            .map_or((1, 1), |l| (l.line().max(1), l.column().max(1)));
        let message = e.to_string();
        let reason = message
            .lines()
            .next()
            .unwrap_or(&message)
            .trim_start_matches("error: ")
            .to_owned();
        let reason = match reason.split_once(": ") {
            Some((head, rest)) if head.starts_with("line ") => rest.to_owned(),
            _ => reason,
        };
        vec![LabFileError {
            file: path.to_owned(),
            line,
            column,
            field: if field.is_empty() || field == "." {
                "-".into()
            } else {
                field.clone()
            },
            reason,
        }]
    })?;
    let problems = validate(path, &lab);
    if problems.is_empty() {
        Ok(lab)
    } else {
        Err(problems)
    }
}

/// Parses `5s`, `900ms`, `0.5s`, `1m`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let (num, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map_or((s, "s"), |i| (&s[..i], &s[i..]));
    let n: f64 = num.parse().ok()?;
    let secs = match unit {
        "ms" => n / 1000.0,
        "s" => n,
        "m" => n * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(secs).ok()
}

struct Problems<'a> {
    file: &'a str,
    out: Vec<LabFileError>,
}

impl Problems<'_> {
    fn add(&mut self, loc: &serde_saphyr::Location, field: String, reason: impl Into<String>) {
        self.out.push(LabFileError {
            file: self.file.to_owned(),
            line: loc.line().max(1),
            column: loc.column().max(1),
            field,
            reason: reason.into(),
        });
    }
    fn template(&mut self, loc: &serde_saphyr::Location, field: String, text: &str) {
        if let Err(e) = template::ports(text) {
            self.add(loc, field, e.to_string());
        }
    }
    fn regex(&mut self, loc: &serde_saphyr::Location, field: String, text: &str) {
        if let Err(e) = regex::Regex::new(text) {
            self.add(loc, field, format!("not a regular expression: {e}"));
        }
    }
    fn duration(&mut self, loc: &serde_saphyr::Location, field: String, text: &str) {
        if parse_duration(text).is_none() {
            self.add(
                loc,
                field,
                format!("{text:?} is not a duration (write `5s`, `900ms`, `1m`)"),
            );
        }
    }
}

fn validate(path: &str, lab: &Lab) -> Vec<LabFileError> {
    let top = serde_saphyr::Location::UNKNOWN;
    let mut p = Problems {
        file: path,
        out: Vec::new(),
    };
    let stem = path
        .rsplit('/')
        .next()
        .unwrap_or(path)
        .trim_end_matches(".yaml")
        .to_owned();
    if !stem.starts_with(&format!("{}-", lab.id.to_ascii_lowercase()))
        && stem != lab.id.to_ascii_lowercase()
    {
        p.add(
            &top,
            "id".into(),
            format!(
                "the file name should start with the lab's id ({:?}-…)",
                lab.id.to_ascii_lowercase()
            ),
        );
    }
    match lab.sandbox.as_str() {
        "none" | "default" => {}
        other if file(other).is_some() => {}
        other => p.add(
            &top,
            "sandbox".into(),
            format!("{other:?} is neither `none`, `default` nor a scenario file under scenarios/"),
        ),
    }
    if lab.steps.is_empty() {
        p.add(&top, "steps".into(), "a lab needs at least one step");
    }
    for (i, f) in lab.files.iter().enumerate() {
        if files_under(&f.value.from).is_empty() {
            p.add(
                &f.referenced,
                format!("files[{i}].from"),
                format!("no file or directory scenarios/{}", f.value.from),
            );
        }
        if f.value.target().contains("..") || f.value.target().starts_with('/') {
            p.add(
                &f.referenced,
                format!("files[{i}].to"),
                "must be a relative path inside the working directory",
            );
        }
    }
    for (i, b) in lab.setup.start.iter().enumerate() {
        p.template(&top, format!("setup.start[{i}].command"), &b.command);
    }
    for (i, c) in lab.setup.run.iter().enumerate() {
        p.template(&top, format!("setup.run[{i}]"), c);
    }
    for (s, step) in lab.steps.iter().enumerate() {
        let loc = &step.referenced;
        let st = &step.value;
        for (i, b) in st.start.iter().enumerate() {
            p.template(loc, format!("steps[{s}].start[{i}].command"), &b.command);
            if let Some(r) = &b.ready {
                p.template(loc, format!("steps[{s}].start[{i}].ready"), r);
            }
        }
        for (i, c) in st.run.iter().chain(st.observe.iter()).enumerate() {
            p.template(loc, format!("steps[{s}].run/observe[{i}]"), c);
        }
        if st.checks.is_empty() {
            p.add(
                loc,
                format!("steps[{s}].checks"),
                "a step needs at least one check",
            );
        }
        for (c, check) in st.checks.iter().enumerate() {
            validate_check(
                &mut p,
                &check.referenced,
                &format!("steps[{s}].checks[{c}]"),
                &check.value,
            );
        }
    }
    p.out
}

fn validate_check(p: &mut Problems, loc: &serde_saphyr::Location, at: &str, c: &Check) {
    let kinds = c.kinds();
    if kinds.len() != 1 {
        p.add(
            loc,
            at.to_owned(),
            format!(
                "a check has exactly one of http, config, stats, tls, tcp, command (found: {})",
                if kinds.is_empty() {
                    "none".to_owned()
                } else {
                    kinds.join(", ")
                }
            ),
        );
    }
    if let Some(w) = &c.within {
        p.duration(loc, format!("{at}.within"), w);
    }
    let json = |p: &mut Problems, field: String, list: &[super::format::JsonExpect]| {
        for (i, j) in list.iter().enumerate() {
            if let Err(e) = jsonpath::parse(&j.path) {
                p.add(loc, format!("{field}[{i}].path"), e.to_string());
            }
            if let Some(m) = &j.matches {
                p.regex(loc, format!("{field}[{i}].matches"), m);
            }
        }
    };
    if let Some(h) = &c.http {
        p.template(loc, format!("{at}.http.url"), &h.url);
        if !(h.url.starts_with("http://") || h.url.starts_with("https://")) {
            p.add(
                loc,
                format!("{at}.http.url"),
                "must start with http:// or https://",
            );
        }
        if let Some(cn) = &h.connect {
            p.template(loc, format!("{at}.http.connect"), cn);
        }
        for (k, v) in &h.expect.headers {
            p.regex(loc, format!("{at}.http.expect.headers.{k}"), v);
        }
        if let Some(s) = &h.expect.slower_than {
            p.duration(loc, format!("{at}.http.expect.slower_than"), s);
        }
        json(p, format!("{at}.http.expect.json"), &h.expect.json);
    }
    let target =
        |p: &mut Problems, field: String, proxy: &Option<String>, admin: &Option<String>| {
            if proxy.is_some() == admin.is_some() {
                p.add(
                    loc,
                    field,
                    "name either a sandbox `proxy` or an `admin` address",
                );
            }
        };
    if let Some(cfg) = &c.config {
        target(p, format!("{at}.config"), &cfg.proxy, &cfg.admin);
        json(p, format!("{at}.config.json"), &cfg.json);
    }
    if let Some(s) = &c.stats {
        target(p, format!("{at}.stats"), &s.proxy, &s.admin);
        if s.equals.is_none() && s.at_least.is_none() {
            p.add(
                loc,
                format!("{at}.stats"),
                "say what the stat must be: `equals` or `at_least`",
            );
        }
    }
    if let Some(t) = &c.tls {
        p.template(loc, format!("{at}.tls.connect"), &t.connect);
    }
    if let Some(t) = &c.tcp {
        p.template(loc, format!("{at}.tcp.connect"), &t.connect);
    }
    if let Some(cmd) = &c.command {
        p.template(loc, format!("{at}.command.run"), &cmd.run);
        for (i, m) in cmd.output_matches.iter().enumerate() {
            p.regex(loc, format!("{at}.command.output_matches[{i}]"), m);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"id: "9.1"
title: T
summary: S
sandbox: none
steps:
- title: one
  text: hello
  run: ["true"]
  checks:
  - name: c
    command: { run: "true" }
"#;

    #[test]
    fn a_good_file_loads() {
        let lab = parse("scenarios/labs/9.1-t.yaml", GOOD).expect("valid");
        assert_eq!(lab.steps[0].value.checks.len(), 1);
        assert_eq!(lab.steps[0].referenced.line(), 6);
    }

    #[test]
    fn an_unknown_field_is_named_with_its_line() {
        let bad = GOOD.replace(
            "    command: { run: \"true\" }",
            "    command: { run: \"true\", exit: 0 }",
        );
        let e = parse("scenarios/labs/9.1-t.yaml", &bad).expect_err("invalid");
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].line, 11, "{e:?}");
        assert!(
            e[0].field.starts_with("steps[0].checks[0].command"),
            "{e:?}"
        );
        assert!(e[0].reason.contains("exit"), "{e:?}");
        assert!(
            e[0].to_string()
                .starts_with("scenarios/labs/9.1-t.yaml:11:"),
            "{}",
            e[0]
        );
    }

    #[test]
    fn a_wrong_type_and_a_bad_check_are_located() {
        let bad = GOOD.replace("title: one", "title: [1]");
        let e = parse("scenarios/labs/9.1-t.yaml", &bad).expect_err("invalid");
        assert_eq!(
            (e[0].line, e[0].field.as_str()),
            (6, "steps[0].title"),
            "{e:?}"
        );
        let bad = GOOD.replace("    command: { run: \"true\" }", "    within: soon");
        let e = parse("scenarios/labs/9.1-t.yaml", &bad).expect_err("invalid");
        assert_eq!(e.len(), 2, "{e:?}");
        assert!(e.iter().all(|e| e.line == 10), "{e:?}");
        assert!(e[0].reason.contains("exactly one of"), "{e:?}");
        assert!(e[1].reason.contains("not a duration"), "{e:?}");
    }

    /// Every lab file in `scenarios/labs/` decodes and validates (a malformed one fails here).
    #[test]
    fn every_lab_file_loads() {
        let (labs, problems) = load_all();
        let shown: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert!(problems.is_empty(), "{}", shown.join("\n"));
        let files = FILES
            .iter()
            .filter(|(p, _)| p.starts_with(LAB_DIR) && p.ends_with(".yaml"))
            .count();
        assert_eq!(labs.len(), files);
        assert!(labs.iter().any(|l| l.id == "3.1"));
        let ids: Vec<&str> = labs.iter().map(|l| l.id.as_str()).collect();
        let mut sorted = ids.clone();
        sorted.sort_by_key(|id| order_key(id));
        assert_eq!(ids, sorted);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("900ms"), Some(Duration::from_millis(900)));
        assert_eq!(parse_duration("0.5s"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("soon"), None);
    }
}
