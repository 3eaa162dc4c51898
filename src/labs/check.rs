//! Runs a step's checks against what the user did, and explains each failure precisely. A
//! check that cannot run (the sandbox is down, a placeholder names a port the sandbox does not
//! publish) says so instead of failing the step.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::catalog::parse_duration;
use super::format::{
    Check, CommandCheck, ConfigCheck, HttpCheck, JsonExpect, ProxyRef, StatsCheck, TcpCheck,
    TlsCheck,
};
use super::template::{self, PortMap};
use super::wire;
use crate::client::{Client, ClientError};

/// Default time a check keeps trying.
pub const DEFAULT_WITHIN: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail(String),
    /// The check could not be run at all (not the user's mistake in this step).
    CannotRun(String),
}

/// What checks run against.
#[derive(Debug, Clone)]
pub struct Context {
    /// The lab's working directory: relative paths in checks and commands start here.
    pub workdir: PathBuf,
    /// The lab's sandbox, if it has one.
    pub client: Option<Client>,
    /// Node port → host port (`None`: the book's fixed ports).
    pub ports: Option<PortMap>,
    /// Environment for commands (`PATH` with this `mesh` first, `MESH_CONTEXT`).
    pub env: Vec<(String, String)>,
}

enum Error {
    Fail(String),
    CannotRun(String),
}

impl From<template::TemplateError> for Error {
    fn from(e: template::TemplateError) -> Self {
        Error::CannotRun(e.to_string())
    }
}

impl Context {
    fn render(&self, text: &str) -> Result<String, Error> {
        Ok(template::render(text, self.ports.as_ref())?)
    }

    fn path(&self, p: &str) -> PathBuf {
        self.workdir.join(p)
    }

    async fn admin(&self, target: &ProxyRef) -> Result<SocketAddr, Error> {
        if let Some(a) = &target.admin {
            let a = self.render(a)?;
            let a = a.replace("localhost", "127.0.0.1");
            return a
                .parse()
                .map_err(|_| Error::CannotRun(format!("{a:?} is not an address")));
        }
        let proxy = target.proxy.as_deref().unwrap_or_default();
        let Some(client) = &self.client else {
            return Err(Error::CannotRun(format!(
                "this lab has no sandbox to find proxy {proxy:?} in"
            )));
        };
        let mut path = format!("/v1/proxy?target={}", crate::client::encode(proxy));
        if let Some(ns) = &target.namespace {
            path.push_str(&format!("&namespace={}", crate::client::encode(ns)));
        }
        let v = client.get(&path).await.map_err(api_error)?;
        v["admin"]
            .as_str()
            .and_then(|a| a.parse().ok())
            .ok_or_else(|| Error::Fail(format!("proxy {proxy:?} has no admin address yet")))
    }
}

fn api_error(e: ClientError) -> Error {
    match e {
        ClientError::Unreachable { .. } | ClientError::Refused(_) => Error::CannotRun(format!(
            "{e} — the lab's sandbox is not answering; `mesh lab start` starts it again"
        )),
        other => Error::Fail(other.to_string()),
    }
}

/// Runs a step's checks, in order, in rounds: a check that failed is tried again in the next
/// round until it passes or its time (`within`) is up, so config still on its way to a proxy
/// can arrive, while the whole step takes about the longest `within`, not their sum. Checks
/// keep their order in every round (a stats check may count what an earlier check sent).
pub async fn run_all(ctx: &Context, checks: &[&Check]) -> Vec<Outcome> {
    let started = Instant::now();
    let deadlines: Vec<Instant> = checks
        .iter()
        .map(|c| {
            started
                + c.within
                    .as_deref()
                    .and_then(parse_duration)
                    .unwrap_or(DEFAULT_WITHIN)
        })
        .collect();
    let mut outcomes: Vec<Option<Outcome>> = vec![None; checks.len()];
    let mut last_failure: Vec<String> = vec![String::new(); checks.len()];
    loop {
        for (i, c) in checks.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            match once(ctx, c).await {
                Ok(()) => outcomes[i] = Some(Outcome::Pass),
                Err(Error::CannotRun(why)) => outcomes[i] = Some(Outcome::CannotRun(why)),
                Err(Error::Fail(why)) => {
                    if Instant::now() >= deadlines[i] {
                        outcomes[i] = Some(Outcome::Fail(why));
                    } else {
                        last_failure[i] = why;
                    }
                }
            }
        }
        if outcomes.iter().all(Option::is_some) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    outcomes
        .into_iter()
        .zip(last_failure)
        .map(|(o, why)| o.unwrap_or(Outcome::Fail(why)))
        .collect()
}

async fn once(ctx: &Context, c: &Check) -> Result<(), Error> {
    if let Some(h) = &c.http {
        return http(ctx, h).await;
    }
    if let Some(cfg) = &c.config {
        return config(ctx, cfg).await;
    }
    if let Some(s) = &c.stats {
        return stats(ctx, s).await;
    }
    if let Some(t) = &c.tls {
        return tls(ctx, t).await;
    }
    if let Some(t) = &c.tcp {
        return tcp(ctx, t).await;
    }
    if let Some(cmd) = &c.command {
        return command(ctx, cmd).await;
    }
    Err(Error::CannotRun("the check names no kind".into()))
}

async fn http(ctx: &Context, h: &HttpCheck) -> Result<(), Error> {
    let url = ctx.render(&h.url)?;
    let connect = h.connect.as_deref().map(|c| ctx.render(c)).transpose()?;
    let headers: Vec<(String, String)> = h
        .headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), ctx.render(v)?)))
        .collect::<Result<_, Error>>()?;
    let (cacert, cert, key) = (
        h.cacert.as_deref().map(|p| ctx.path(p)),
        h.cert.as_deref().map(|p| ctx.path(p)),
        h.key.as_deref().map(|p| ctx.path(p)),
    );
    let req = wire::Request {
        method: h.method.as_deref().unwrap_or("GET"),
        url: &url,
        headers: &headers,
        body: h.body.as_deref().unwrap_or(""),
        connect: connect.as_deref(),
        tls: wire::TlsFiles {
            cacert: cacert.as_deref(),
            cert: cert.as_deref(),
            key: key.as_deref(),
        },
    };
    let what = format!("{} {url}", req.method);
    let e = &h.expect;
    let answer = match (wire::http(&req).await, &e.error) {
        (Err(err), Some(want)) if err.contains(want.as_str()) => return Ok(()),
        (Err(err), Some(want)) => {
            return Err(Error::Fail(format!(
                "{what} failed as expected, but with {err:?}, which does not mention {want:?}"
            )));
        }
        (Ok(a), Some(_)) => {
            return Err(Error::Fail(format!(
                "{what} was expected to fail, but it answered {}",
                a.status
            )));
        }
        (Err(err), None) => return Err(Error::Fail(format!("{what}: {err}"))),
        (Ok(a), None) => a,
    };
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    if let Some(want) = e.status
        && answer.status != want
    {
        return Err(Error::Fail(format!(
            "{what} answered {} (expected {want}){}",
            answer.status,
            excerpt(&body)
        )));
    }
    let header = |name: &str| -> Option<&str> {
        answer
            .headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    for (name, pattern) in &e.headers {
        let Some(value) = header(name) else {
            return Err(Error::Fail(format!(
                "{what}: the answer has no `{name}` header"
            )));
        };
        let pattern = ctx.render(pattern)?;
        let re = regex::Regex::new(&pattern).map_err(|err| Error::CannotRun(err.to_string()))?;
        if !re.is_match(value) {
            return Err(Error::Fail(format!(
                "{what}: header `{name}: {value}` does not match /{pattern}/"
            )));
        }
    }
    for name in &e.no_headers {
        if let Some(v) = header(name) {
            return Err(Error::Fail(format!(
                "{what}: the answer has `{name}: {v}`, which should be absent"
            )));
        }
    }
    for needle in &e.body_contains {
        if !body.contains(needle.as_str()) {
            return Err(Error::Fail(format!(
                "{what}: the body does not contain {needle:?}{}",
                excerpt(&body)
            )));
        }
    }
    if !e.json.is_empty() {
        let v: Value = serde_json::from_str(&body).map_err(|err| {
            Error::Fail(format!(
                "{what}: the body is not JSON ({err}){}",
                excerpt(&body)
            ))
        })?;
        json_all(&v, &e.json).map_err(|m| Error::Fail(format!("{what}: {m}")))?;
    }
    if let Some(min) = e.slower_than.as_deref().and_then(parse_duration)
        && answer.elapsed < min
    {
        return Err(Error::Fail(format!(
            "{what} answered after {} ms, sooner than {} ms",
            answer.elapsed.as_millis(),
            min.as_millis()
        )));
    }
    Ok(())
}

fn excerpt(body: &str) -> String {
    if body.trim().is_empty() {
        return " with an empty body".into();
    }
    let t: String = body.trim().chars().take(300).collect();
    format!(": {t}")
}

/// Checks every expectation; the first that does not hold is the error.
pub fn json_all(root: &Value, list: &[JsonExpect]) -> Result<(), String> {
    for j in list {
        json_one(root, j)?;
    }
    Ok(())
}

fn json_one(root: &Value, j: &JsonExpect) -> Result<(), String> {
    let segs = super::jsonpath::parse(&j.path).map_err(|e| e.to_string())?;
    let found = super::jsonpath::select(root, &segs);
    let shown = || {
        let vals: Vec<String> = found
            .iter()
            .take(5)
            .map(|v| {
                let t = v.to_string();
                if t.chars().count() > 120 {
                    format!("{}…", t.chars().take(120).collect::<String>())
                } else {
                    t
                }
            })
            .collect();
        if vals.is_empty() {
            "nothing".to_owned()
        } else {
            vals.join(", ")
        }
    };
    if j.exists == Some(false) {
        return if found.is_empty() {
            Ok(())
        } else {
            Err(format!(
                "`{}` should select nothing but selects {}",
                j.path,
                shown()
            ))
        };
    }
    if let Some(n) = j.count
        && found.len() != n
    {
        return Err(format!(
            "`{}` selects {} value(s), expected {n}: {}",
            j.path,
            found.len(),
            shown()
        ));
    }
    if found.is_empty() {
        return Err(format!("`{}` selects nothing", j.path));
    }
    if let Some(want) = &j.equals
        && !found.iter().any(|v| loosely_equal(v, want))
    {
        return Err(format!("`{}` is {}, expected {want}", j.path, shown()));
    }
    if let Some(want) = &j.contains
        && !found
            .iter()
            .any(|v| super::jsonpath::text(v).contains(want.as_str()))
    {
        return Err(format!(
            "`{}` is {}, which does not contain {want:?}",
            j.path,
            shown()
        ));
    }
    if let Some(pattern) = &j.matches {
        let re = regex::Regex::new(pattern).map_err(|e| e.to_string())?;
        if !found.iter().any(|v| re.is_match(&super::jsonpath::text(v))) {
            return Err(format!(
                "`{}` is {}, which does not match /{pattern}/",
                j.path,
                shown()
            ));
        }
    }
    Ok(())
}

/// YAML numbers and JSON numbers compare by value; `"15000"` does not equal `15000`.
fn loosely_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

async fn config(ctx: &Context, c: &ConfigCheck) -> Result<(), Error> {
    let admin = ctx.admin(&c.target()).await?;
    let mut path = c.page.clone().unwrap_or_else(|| "/config_dump".to_owned());
    let mut query = Vec::new();
    if let Some(r) = &c.resource {
        query.push(format!("resource={}", crate::client::encode(r)));
    }
    if c.include_eds {
        query.push("include_eds".to_owned());
    }
    if !query.is_empty() {
        path.push(if path.contains('?') { '&' } else { '?' });
        path.push_str(&query.join("&"));
    }
    let body = wire::admin_get(admin, &path)
        .await
        .map_err(|e| Error::Fail(format!("cannot read the proxy's {path}: {e}")))?;
    let v: Value =
        serde_json::from_str(&body).map_err(|e| Error::Fail(format!("{path} is not JSON: {e}")))?;
    json_all(&v, &c.json).map_err(|m| Error::Fail(format!("{path} of {}: {m}", who(&c.target()))))
}

fn who(t: &ProxyRef) -> String {
    match (&t.proxy, &t.admin) {
        (Some(p), _) => format!("`{p}`"),
        (None, Some(a)) => format!("the proxy at {a}"),
        _ => "the proxy".into(),
    }
}

/// Reads one stat from `/stats` text (`name: value`).
pub fn stat_value(text: &str, name: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(": ")?;
        (k == name).then(|| v.trim().parse().ok()).flatten()
    })
}

async fn stats(ctx: &Context, s: &StatsCheck) -> Result<(), Error> {
    let admin = ctx.admin(&s.target()).await?;
    let filter = format!("^{}$", regex::escape(&s.stat));
    let body = wire::admin_get(
        admin,
        &format!("/stats?filter={}", crate::client::encode(&filter)),
    )
    .await
    .map_err(|e| Error::Fail(format!("cannot read the proxy's stats: {e}")))?;
    let Some(value) = stat_value(&body, &s.stat) else {
        return Err(Error::Fail(format!(
            "{} has no stat `{}` yet",
            who(&s.target()),
            s.stat
        )));
    };
    if let Some(want) = s.equals
        && value != want
    {
        return Err(Error::Fail(format!(
            "`{}` is {value}, expected {want}",
            s.stat
        )));
    }
    if let Some(min) = s.at_least
        && value < min
    {
        return Err(Error::Fail(format!(
            "`{}` is {value}, expected at least {min}",
            s.stat
        )));
    }
    Ok(())
}

async fn tls(ctx: &Context, t: &TlsCheck) -> Result<(), Error> {
    let addr = ctx.render(&t.connect)?;
    let (cacert, cert, key) = (
        t.cacert.as_deref().map(|p| ctx.path(p)),
        t.cert.as_deref().map(|p| ctx.path(p)),
        t.key.as_deref().map(|p| ctx.path(p)),
    );
    let files = wire::TlsFiles {
        cacert: cacert.as_deref(),
        cert: cert.as_deref(),
        key: key.as_deref(),
    };
    let what = format!("TLS to {addr} for {:?}", t.sni);
    match (wire::tls_handshake(&addr, &t.sni, &files).await, t.ok) {
        (Ok(h), true) => match &t.name {
            Some(want) if !h.dns_names.iter().any(|n| n == want) => Err(Error::Fail(format!(
                "{what}: the server's certificate names {:?}, not {want:?}",
                h.dns_names
            ))),
            _ => Ok(()),
        },
        (Ok(_), false) => Err(Error::Fail(format!(
            "{what} succeeded; it should have been refused"
        ))),
        (Err(e), true) => Err(Error::Fail(format!("{what}: {e}"))),
        (Err(e), false) => match &t.error {
            Some(want) if !e.contains(want.as_str()) => Err(Error::Fail(format!(
                "{what} failed as expected, but with {e:?}, which does not mention {want:?}"
            ))),
            _ => Ok(()),
        },
    }
}

async fn tcp(ctx: &Context, t: &TcpCheck) -> Result<(), Error> {
    let addr = ctx.render(&t.connect)?;
    let got = wire::tcp_exchange(&addr, t.send.as_deref(), &t.expect)
        .await
        .map_err(Error::Fail)?;
    if wire::in_order(&got, &t.expect) {
        Ok(())
    } else {
        Err(Error::Fail(format!(
            "{addr} sent {got:?}; expected {:?} in this order",
            t.expect
        )))
    }
}

/// Runs a shell command in the working directory with the lab's environment.
pub async fn shell(ctx: &Context, line: &str) -> Result<std::process::Output, String> {
    let mut cmd = tokio::process::Command::new("sh");
    cmd.arg("-c")
        .arg(line)
        .current_dir(&ctx.workdir)
        .envs(ctx.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    match tokio::time::timeout(Duration::from_secs(60), cmd.output()).await {
        Ok(Ok(out)) => Ok(out),
        Ok(Err(e)) => Err(format!("cannot run `{line}`: {e}")),
        Err(_) => Err(format!("`{line}` did not finish within 60s")),
    }
}

async fn command(ctx: &Context, c: &CommandCheck) -> Result<(), Error> {
    let line = ctx.render(&c.run)?;
    let out = shell(ctx, &line).await.map_err(Error::CannotRun)?;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let code = out.status.code().unwrap_or(-1);
    let want = c.exit_code.unwrap_or(0);
    if code != want {
        return Err(Error::Fail(format!(
            "`{line}` exited with {code} (expected {want}){}",
            excerpt(&text)
        )));
    }
    for needle in &c.output_contains {
        if !text.contains(needle.as_str()) {
            return Err(Error::Fail(format!(
                "the output of `{line}` does not contain {needle:?}{}",
                excerpt(&text)
            )));
        }
    }
    for pattern in &c.output_matches {
        let re = regex::Regex::new(pattern).map_err(|e| Error::CannotRun(e.to_string()))?;
        if !text.lines().any(|l| re.is_match(l)) {
            return Err(Error::Fail(format!(
                "no line of `{line}`'s output matches /{pattern}/{}",
                excerpt(&text)
            )));
        }
    }
    for needle in &c.output_lacks {
        if let Some(l) = text.lines().find(|l| l.contains(needle.as_str())) {
            return Err(Error::Fail(format!(
                "the output of `{line}` should not contain {needle:?}, but has: {l}"
            )));
        }
    }
    Ok(())
}

/// The environment commands get: this `mesh` first on `PATH`, the lab's sandbox as context.
pub fn command_env(
    mesh: &std::path::Path,
    sandbox: Option<&str>,
    path: Option<&str>,
) -> Vec<(String, String)> {
    let mut env = BTreeMap::new();
    let dir = mesh
        .parent()
        .map(|d| d.display().to_string())
        .unwrap_or_default();
    let path = match path {
        Some(p) if !p.is_empty() => format!("{dir}:{p}"),
        _ => dir,
    };
    env.insert("PATH".to_owned(), path);
    if let Some(s) = sandbox {
        env.insert("MESH_CONTEXT".to_owned(), s.to_owned());
    }
    env.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn j(path: &str) -> JsonExpect {
        JsonExpect {
            path: path.into(),
            equals: None,
            contains: None,
            matches: None,
            exists: None,
            count: None,
        }
    }

    #[test]
    fn json_expectations_explain_failures() {
        let v = json!({"headers": {"X-Envoy-Expected-Rq-Timeout-Ms": "15000"}, "n": 3});
        let mut e = j("headers.X-Envoy-Expected-Rq-Timeout-Ms");
        e.equals = Some(json!("15000"));
        assert_eq!(json_all(&v, &[e.clone()]), Ok(()));
        e.equals = Some(json!("1000"));
        let err = json_all(&v, &[e]).expect_err("differs");
        assert!(err.contains("is \"15000\", expected \"1000\""), "{err}");
        let mut n = j("n");
        n.equals = Some(json!(3.0));
        assert_eq!(json_all(&v, &[n]), Ok(()));
        let mut gone = j("headers.X-Request-Id");
        assert!(json_all(&v, &[gone.clone()]).is_err());
        gone.exists = Some(false);
        assert_eq!(json_all(&v, &[gone]), Ok(()));
    }

    #[test]
    fn reads_a_stat_line() {
        let text = "cluster.a.upstream_rq_retry: 3\ncluster.a.upstream_rq_retry_overflow: 0\n";
        assert_eq!(stat_value(text, "cluster.a.upstream_rq_retry"), Some(3));
        assert_eq!(stat_value(text, "cluster.a.nothing"), None);
    }
}
