//! The lab file format (`scenarios/labs/*.yaml`): a lab, its steps, the commands a step shows
//! and runs, and its checks. Unknown fields are errors, so a typo never silently disables a
//! check. Strings that are shown or run may hold `{{port N}}`, replaced by the host port where
//! the sandbox publishes node port N (N itself on the book's fixed ports).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;
use serde_saphyr::Spanned;

/// One lab.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// `3.2`, `4.11`, `C1`: what `mesh lab start` takes.
    pub id: String,
    pub title: String,
    /// One line for `mesh lab list` and the README.
    pub summary: String,
    /// `none` (the lab runs its own processes), `default` (the embedded scenario), or a
    /// scenario file under `scenarios/`.
    pub sandbox: String,
    /// The lab's commands use fixed host ports (the book's 15000/15001/8000): one such lab at a
    /// time on a machine.
    #[serde(default)]
    pub fixed_ports: bool,
    /// Files copied into the lab's working directory.
    #[serde(default)]
    pub files: Vec<Spanned<FileCopy>>,
    /// Run by `mesh lab start` (and `reset`) before step 1: the state the lab starts from.
    #[serde(default)]
    pub setup: Setup,
    pub steps: Vec<Spanned<Step>>,
}

/// A file or directory under `scenarios/`, copied to `to` (default: its last path component).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileCopy {
    pub from: String,
    #[serde(default)]
    pub to: Option<String>,
}

impl FileCopy {
    pub fn target(&self) -> &str {
        self.to
            .as_deref()
            .unwrap_or_else(|| self.from.rsplit('/').next().unwrap_or(&self.from))
    }
}

/// The lab's own preparation: `run` commands first (they may make files), then the `start`ed
/// processes.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Setup {
    #[serde(default)]
    pub start: Vec<Background>,
    #[serde(default)]
    pub run: Vec<String>,
}

/// One step: what to read, what to type, what is checked.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub title: String,
    /// Markdown.
    pub text: String,
    /// Long-running commands (`mesh envoy …`, `mesh httpbin …`) the user starts with `&`;
    /// `solve` starts them as the lab's own processes.
    #[serde(default)]
    pub start: Vec<Background>,
    /// Commands that change something; `solve` runs them in order in the working directory.
    #[serde(default)]
    pub run: Vec<String>,
    /// Commands to look with; shown, never run by `solve` (the checks observe the same).
    #[serde(default)]
    pub observe: Vec<String>,
    #[serde(default)]
    pub checks: Vec<Spanned<Check>>,
}

/// A process the lab owns: started in the background, its output in the lab's `logs/NAME.log`,
/// ended by `lab reset`/`lab stop` or when a process of the same name is started.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Background {
    pub name: String,
    pub command: String,
    /// `host:port` that accepts connections once the process is ready.
    #[serde(default)]
    pub ready: Option<String>,
}

/// One check: exactly one of the kinds, plus what to say when it fails.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// What the check proves, shown with its result.
    pub name: String,
    /// Shown after a failure.
    #[serde(default)]
    pub hint: Option<String>,
    /// How long the check may keep trying (config reaches proxies asynchronously); default 5s.
    #[serde(default)]
    pub within: Option<String>,
    #[serde(default)]
    pub http: Option<HttpCheck>,
    #[serde(default)]
    pub config: Option<ConfigCheck>,
    #[serde(default)]
    pub stats: Option<StatsCheck>,
    #[serde(default)]
    pub tls: Option<TlsCheck>,
    #[serde(default)]
    pub tcp: Option<TcpCheck>,
    #[serde(default)]
    pub command: Option<CommandCheck>,
}

impl Check {
    /// The kinds set on this check (exactly one is valid).
    pub fn kinds(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        if self.http.is_some() {
            out.push("http");
        }
        if self.config.is_some() {
            out.push("config");
        }
        if self.stats.is_some() {
            out.push("stats");
        }
        if self.tls.is_some() {
            out.push("tls");
        }
        if self.tcp.is_some() {
            out.push("tcp");
        }
        if self.command.is_some() {
            out.push("command");
        }
        out
    }
}

/// An HTTP(S) request and what its answer must be.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Dial this `host:port` instead of the URL's (curl's `--resolve`/`--connect-to`); the URL's
    /// host still gives the `Host` header and the TLS server name.
    #[serde(default)]
    pub connect: Option<String>,
    /// PEM files in the working directory (curl's `--cacert`, `--cert`, `--key`).
    #[serde(default)]
    pub cacert: Option<String>,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    #[serde(default)]
    pub expect: HttpExpect,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpExpect {
    #[serde(default)]
    pub status: Option<u16>,
    /// Response header → regular expression its value must match (`""`: present).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Response headers that must be absent.
    #[serde(default)]
    pub no_headers: Vec<String>,
    #[serde(default)]
    pub body_contains: Vec<String>,
    /// JSON paths into the response body.
    #[serde(default)]
    pub json: Vec<JsonExpect>,
    /// The exchange must fail (refused, TLS error, reset) with an error containing this text
    /// (`""`: any failure).
    #[serde(default)]
    pub error: Option<String>,
    /// The answer must take at least this long (`0.9s`): a timeout really waited.
    #[serde(default)]
    pub slower_than: Option<String>,
}

/// A JSON path (`a.b[0].c`, `[*]` any element, `[name=x]` the elements whose `name` is x) and
/// what the values it selects must be. With no expectation, the path must select something.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonExpect {
    pub path: String,
    /// Some selected value equals this.
    #[serde(default)]
    pub equals: Option<Value>,
    /// Some selected value, as text, contains this.
    #[serde(default)]
    pub contains: Option<String>,
    /// Some selected value, as text, matches this regular expression.
    #[serde(default)]
    pub matches: Option<String>,
    /// `false`: the path must select nothing.
    #[serde(default)]
    pub exists: Option<bool>,
    /// The path selects exactly this many values.
    #[serde(default)]
    pub count: Option<usize>,
}

/// Where a proxy's admin API is: a sandbox proxy (`proxy` as `proxy-config` takes it, with
/// `namespace`) or an address (a lab's own `mesh envoy`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProxyRef {
    #[serde(default)]
    pub proxy: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub admin: Option<String>,
}

/// JSON paths into a proxy's `/config_dump` (or another JSON admin page: `/certs`,
/// `/clusters?format=json`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigCheck {
    /// The admin page; default `/config_dump`.
    #[serde(default)]
    pub page: Option<String>,
    #[serde(default)]
    pub proxy: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub admin: Option<String>,
    /// `/config_dump?resource=…` (e.g. `dynamic_active_clusters`).
    #[serde(default)]
    pub resource: Option<String>,
    #[serde(default)]
    pub include_eds: bool,
    pub json: Vec<JsonExpect>,
}

impl ConfigCheck {
    pub fn target(&self) -> ProxyRef {
        ProxyRef {
            proxy: self.proxy.clone(),
            namespace: self.namespace.clone(),
            admin: self.admin.clone(),
        }
    }
}

/// A counter or gauge from a proxy's `/stats`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatsCheck {
    #[serde(default)]
    pub proxy: Option<String>,
    #[serde(default)]
    pub namespace: Option<String>,
    #[serde(default)]
    pub admin: Option<String>,
    /// The full stat name (`cluster.httpbin_service.upstream_rq_retry`).
    pub stat: String,
    #[serde(default)]
    pub equals: Option<u64>,
    #[serde(default)]
    pub at_least: Option<u64>,
}

impl StatsCheck {
    pub fn target(&self) -> ProxyRef {
        ProxyRef {
            proxy: self.proxy.clone(),
            namespace: self.namespace.clone(),
            admin: self.admin.clone(),
        }
    }
}

/// A TLS handshake.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCheck {
    pub connect: String,
    /// Server name sent (SNI) and verified.
    pub sni: String,
    #[serde(default)]
    pub cacert: Option<String>,
    #[serde(default)]
    pub cert: Option<String>,
    #[serde(default)]
    pub key: Option<String>,
    /// Whether the handshake (and a first read) must succeed.
    pub ok: bool,
    /// With `ok: false`: the error contains this text.
    #[serde(default)]
    pub error: Option<String>,
    /// With `ok: true`: the server certificate is for this name (a DNS subjectAltName, else
    /// the subject's CN, as curl checks).
    #[serde(default)]
    pub name: Option<String>,
}

/// A TCP exchange: connect, optionally send, read until every expected text arrived in order.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    pub connect: String,
    #[serde(default)]
    pub send: Option<String>,
    #[serde(default)]
    pub expect: Vec<String>,
}

/// A command run in the working directory (the user's own `mesh …`, `curl …`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    pub run: String,
    #[serde(default)]
    pub exit_code: Option<i32>,
    /// Texts the output (stdout then stderr) contains.
    #[serde(default)]
    pub output_contains: Vec<String>,
    /// Regular expressions some output line matches.
    #[serde(default)]
    pub output_matches: Vec<String>,
    #[serde(default)]
    pub output_lacks: Vec<String>,
}
