//! [`App`]: everything the screen shows, and the only place that changes it. Keys and data
//! come in ([`App::on_key`], [`App::on_update`]); what needs the sandbox goes out as
//! [`Request`]s for the event loop. No terminal and no I/O here, so all of it is tested with
//! plain values.

use std::collections::{BTreeMap, VecDeque};
use std::time::SystemTime;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;

use crate::client::output::istioctl::{
    self as pc, AdminClusters, ClusterFilter, ConfigDump, EndpointFilter, ListenerFilter, Output,
    RouteFilter,
};
use crate::client::output::kubectl::{self, Format, Listing};
use crate::client::traffic::{Edge, WorkloadTraffic};

use super::grid::Grid;
use super::highlight::Lang;
use super::keys::Scope;

/// The screens, in number-key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Workloads,
    Proxies,
    Config,
    Resources,
    Traffic,
    Logs,
}

impl View {
    pub const ALL: [View; 6] = [
        View::Workloads,
        View::Proxies,
        View::Config,
        View::Resources,
        View::Traffic,
        View::Logs,
    ];

    pub fn title(self) -> &'static str {
        match self {
            View::Workloads => "Workloads",
            View::Proxies => "Proxies",
            View::Config => "Config",
            View::Resources => "Resources",
            View::Traffic => "Traffic",
            View::Logs => "Logs",
        }
    }

    fn index(self) -> usize {
        View::ALL.iter().position(|v| *v == self).unwrap_or(0)
    }

    fn scope(self) -> Scope {
        match self {
            View::Workloads => Scope::Workloads,
            View::Proxies => Scope::Proxies,
            View::Config => Scope::Config,
            View::Resources => Scope::Resources,
            View::Traffic => Scope::Tables,
            View::Logs => Scope::Logs,
        }
    }
}

/// The proxy-config tabs, as istioctl names the commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigTab {
    Listeners,
    Routes,
    Clusters,
    Endpoints,
    Secrets,
}

impl ConfigTab {
    pub const ALL: [ConfigTab; 5] = [
        ConfigTab::Listeners,
        ConfigTab::Routes,
        ConfigTab::Clusters,
        ConfigTab::Endpoints,
        ConfigTab::Secrets,
    ];

    pub fn title(self) -> &'static str {
        match self {
            ConfigTab::Listeners => "listeners",
            ConfigTab::Routes => "routes",
            ConfigTab::Clusters => "clusters",
            ConfigTab::Endpoints => "endpoints",
            ConfigTab::Secrets => "secrets",
        }
    }

    fn index(self) -> usize {
        ConfigTab::ALL.iter().position(|t| *t == self).unwrap_or(0)
    }
}

/// What the event loop does for the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// Fetch a proxy's `/config_dump` and `/clusters`.
    LoadConfig { proxy: String },
    /// Follow a container's log (replacing the one followed).
    FollowLogs {
        namespace: String,
        pod: String,
        container: String,
    },
    Delete {
        kind: String,
        name: String,
        namespace: String,
    },
    Scale {
        name: String,
        namespace: String,
        replicas: i32,
    },
    /// `proxy-config log P --level L`.
    LogLevel { proxy: String, level: String },
    /// Open the YAML in `$EDITOR`; apply it if saved changed.
    Edit {
        file_name: String,
        namespace: String,
        yaml: String,
    },
    /// Put the text on the clipboard (OSC 52).
    Copy(String),
}

/// What the event loop brings back.
#[derive(Debug, Clone)]
pub enum Update {
    /// `GET /v1/get?kinds=pods&all=true`.
    Pods(Value),
    /// `GET /v1/proxies`.
    Proxies(Value),
    /// `GET /v1/get` of the Istio (and workload) kinds.
    Resources(Value),
    Config {
        proxy: String,
        result: Result<(ConfigDump, AdminClusters), String>,
    },
    Traffic {
        rows: Vec<WorkloadTraffic>,
        edges: Vec<Edge>,
    },
    LogLine(String),
    /// The followed log ended (the pod went away) or could not start.
    LogsEnded(Option<String>),
    /// The sandbox does not answer.
    Lost(String),
    /// It answers again.
    Back,
    /// An action worked: the message to show.
    Done(String),
    /// An action failed: shown in a popup until a key is pressed.
    Failed(String),
}

/// The JSON or YAML of one item, scrollable.
#[derive(Debug, Clone, PartialEq)]
pub struct Detail {
    pub title: String,
    pub text: String,
    pub lang: Lang,
    pub scroll: usize,
    /// For `e`: the object's namespace, when it can be edited.
    pub editable: Option<String>,
    /// For `c`.
    pub command: String,
}

/// What a text prompt is for.
#[derive(Debug, Clone, PartialEq)]
pub enum Prompt {
    Filter,
    Command,
    Scale { name: String, namespace: String },
    LogLevel { proxy: String },
}

/// A popup over the view.
#[derive(Debug, Clone, PartialEq)]
pub enum Overlay {
    None,
    Help,
    Confirm { question: String, then: Request },
    Prompt { prompt: Prompt, input: String },
    Error(String),
}

/// The followed log.
#[derive(Debug, Clone, Default)]
pub struct Logs {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    /// The pod's app container (`t` toggles between it and `istio-proxy`).
    pub app_container: String,
    pub lines: VecDeque<String>,
    pub follow: bool,
    /// Lines up from the bottom when not following.
    pub scroll: usize,
    pub filter: String,
    pub ended: Option<String>,
}

/// Lines kept per log.
pub const LOG_LINES: usize = 5000;
/// Samples kept per sparkline (one a second).
pub const HISTORY: usize = 120;

/// One workload's recent traffic, one sample a second.
#[derive(Debug, Clone, Default)]
pub struct History {
    pub rps: VecDeque<f64>,
    pub success: VecDeque<f64>,
    pub p50: VecDeque<f64>,
    pub p99: VecDeque<f64>,
}

fn push(q: &mut VecDeque<f64>, v: f64) {
    if q.len() == HISTORY {
        q.pop_front();
    }
    q.push_back(v);
}

/// The selected proxy's config.
#[derive(Debug, Clone)]
pub struct ConfigState {
    pub proxy: Option<String>,
    pub tab: ConfigTab,
    pub grids: [Grid; 5],
    pub dump: Option<ConfigDump>,
    pub clusters: Option<AdminClusters>,
    pub error: Option<String>,
}

/// One kind of the resources view.
#[derive(Debug, Clone)]
pub struct KindTab {
    pub listing: Listing,
    pub grid: Grid,
}

pub struct App {
    pub sandbox: String,
    pub view: View,
    pub workloads: Grid,
    /// Pods by `namespace/name`.
    pods: BTreeMap<String, Value>,
    pub proxies: Grid,
    /// Proxies with a sidecar or gateway, by `pod.namespace`.
    proxy_names: Vec<String>,
    pub config: ConfigState,
    pub kinds: Vec<KindTab>,
    pub kind: usize,
    pub traffic: Grid,
    pub history: BTreeMap<String, History>,
    pub edges: Vec<Edge>,
    pub logs: Logs,
    pub detail: Option<Detail>,
    pub overlay: Overlay,
    /// Shown on top while the sandbox is unreachable.
    pub banner: Option<String>,
    /// The last action's result.
    pub message: Option<String>,
    pub quit: bool,
    /// The clock for AGE columns.
    pub now: SystemTime,
    proxies_answer: Value,
}

/// Page size for PgUp/PgDn when the screen height is not known here.
const PAGE: isize = 10;

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

impl App {
    pub fn new(sandbox: &str) -> App {
        App {
            sandbox: sandbox.to_owned(),
            view: View::Workloads,
            workloads: Grid::default(),
            pods: BTreeMap::new(),
            proxies: Grid::default(),
            proxy_names: Vec::new(),
            config: ConfigState {
                proxy: None,
                tab: ConfigTab::Listeners,
                grids: Default::default(),
                dump: None,
                clusters: None,
                error: None,
            },
            kinds: Vec::new(),
            kind: 0,
            traffic: Grid::default(),
            history: BTreeMap::new(),
            edges: Vec::new(),
            logs: Logs::default(),
            detail: None,
            overlay: Overlay::None,
            banner: None,
            message: None,
            quit: false,
            now: SystemTime::now(),
            proxies_answer: Value::Null,
        }
    }

    /// The scopes whose keys work now (for the hint bar).
    pub fn scopes(&self) -> Vec<Scope> {
        let mut s = vec![Scope::Everywhere];
        if self.detail.is_some() {
            s.push(Scope::Detail);
        } else {
            s.push(self.view.scope());
            if self.view != View::Logs {
                s.push(Scope::Tables);
            }
        }
        s
    }

    /// The grid the current view moves in.
    pub fn grid(&self) -> Option<&Grid> {
        match self.view {
            View::Workloads => Some(&self.workloads),
            View::Proxies => Some(&self.proxies),
            View::Config => Some(&self.config.grids[self.config.tab.index()]),
            View::Resources => self.kinds.get(self.kind).map(|k| &k.grid),
            View::Traffic => Some(&self.traffic),
            View::Logs => None,
        }
    }

    fn grid_mut(&mut self) -> Option<&mut Grid> {
        match self.view {
            View::Workloads => Some(&mut self.workloads),
            View::Proxies => Some(&mut self.proxies),
            View::Config => Some(&mut self.config.grids[self.config.tab.index()]),
            View::Resources => self.kinds.get_mut(self.kind).map(|k| &mut k.grid),
            View::Traffic => Some(&mut self.traffic),
            View::Logs => None,
        }
    }

    /// The log lines that pass the filter.
    pub fn log_lines(&self) -> Vec<&str> {
        let f = self.logs.filter.to_lowercase();
        self.logs
            .lines
            .iter()
            .filter(|l| f.is_empty() || l.to_lowercase().contains(&f))
            .map(String::as_str)
            .collect()
    }

    // ---- data ---------------------------------------------------------------------------

    pub fn on_update(&mut self, update: Update) -> Vec<Request> {
        match update {
            Update::Pods(answer) => {
                // An answer means the sandbox is there, whatever an earlier request saw.
                self.banner = None;
                self.set_pods(&answer);
            }
            Update::Proxies(answer) => {
                self.banner = None;
                self.proxies_answer = answer;
                let rows = pc::status_rows(&self.proxies_answer, None);
                self.proxy_names = rows.iter().map(|r| r.name.clone()).collect();
                self.proxies
                    .replace(pc::proxy_status_table(&rows).rows().to_vec());
                self.rebuild_workloads();
            }
            Update::Resources(answer) => self.set_resources(&answer),
            Update::Config { proxy, result } => {
                if self.config.proxy.as_deref() == Some(proxy.as_str()) {
                    match result {
                        Ok((dump, clusters)) => {
                            self.config.error = None;
                            self.set_config(dump, clusters);
                        }
                        Err(e) => self.config.error = Some(e),
                    }
                }
            }
            Update::Traffic { rows, edges } => self.set_traffic(&rows, edges),
            Update::LogLine(line) => {
                if self.logs.lines.len() == LOG_LINES {
                    self.logs.lines.pop_front();
                }
                self.logs.lines.push_back(printable(&line));
            }
            Update::LogsEnded(why) => {
                self.logs.ended = Some(why.unwrap_or_else(|| "the log ended".to_owned()));
            }
            Update::Lost(why) => self.banner = Some(why),
            Update::Back => self.banner = None,
            Update::Done(msg) => self.message = Some(msg),
            Update::Failed(msg) => self.overlay = Overlay::Error(msg),
        }
        Vec::new()
    }

    fn set_pods(&mut self, answer: &Value) {
        self.pods = Listing::from_json(answer)
            .into_iter()
            .flat_map(|l| l.items)
            .map(|p| {
                let key = format!(
                    "{}/{}",
                    p["metadata"]["namespace"].as_str().unwrap_or(""),
                    p["metadata"]["name"].as_str().unwrap_or("")
                );
                (key, p)
            })
            .collect();
        self.rebuild_workloads();
    }

    /// `kubectl get pods -A`'s columns plus SIDECAR and SYNC (from proxy-status).
    fn rebuild_workloads(&mut self) {
        let listing = Listing {
            kind: "Pod".into(),
            group: String::new(),
            plural: "pods".into(),
            namespaced: true,
            items: self.pods.values().cloned().collect(),
        };
        let mut lines = kubectl::listing_rows(&listing, self.now).unwrap_or_else(|| {
            vec![
                ["NAMESPACE", "NAME", "READY", "STATUS", "RESTARTS", "AGE"]
                    .map(String::from)
                    .to_vec(),
            ]
        });
        if let Some(h) = lines.first_mut() {
            h.extend(["SIDECAR".to_owned(), "SYNC".to_owned()]);
        }
        let sync = pc::status_rows(&self.proxies_answer, None);
        for row in lines.iter_mut().skip(1) {
            let (ns, name) = (row[0].clone(), row[1].clone());
            let pod = self.pods.get(&format!("{ns}/{name}"));
            let names = pod.map(containers).unwrap_or_default();
            // A gateway pod is the proxy alone; a sidecar runs beside an app container.
            let sidecar = names.len() > 1 && names.iter().any(|c| c == "istio-proxy");
            let proxy = format!("{name}.{ns}");
            let state = sync.iter().find(|r| r.name == proxy).map(|r| {
                let cells = [&r.cds, &r.lds, &r.eds, &r.rds].map(|s| s.cell());
                if cells.iter().all(|c| c.starts_with("SYNCED")) {
                    "SYNCED".to_owned()
                } else if let Some(bad) = cells.iter().find(|c| c.starts_with("ERROR")) {
                    bad.clone()
                } else {
                    cells
                        .iter()
                        .find(|c| !c.starts_with("SYNCED"))
                        .cloned()
                        .unwrap_or_default()
                }
            });
            let gateway = state.is_some() && !sidecar;
            row.push(
                if sidecar {
                    "yes"
                } else if gateway {
                    "gateway"
                } else {
                    "-"
                }
                .to_owned(),
            );
            row.push(state.unwrap_or_else(|| "-".to_owned()));
        }
        self.workloads.replace(lines);
    }

    fn set_resources(&mut self, answer: &Value) {
        let listings = Listing::from_json(answer);
        let current = self.kinds.get(self.kind).map(|k| k.listing.plural.clone());
        let mut old: BTreeMap<String, Grid> = self
            .kinds
            .drain(..)
            .map(|k| (k.listing.plural.clone(), k.grid))
            .collect();
        for listing in listings {
            let lines = kubectl::listing_rows(&listing, self.now).unwrap_or_else(|| {
                let mut h = vec!["NAME".to_owned()];
                if listing.namespaced {
                    h.insert(0, "NAMESPACE".to_owned());
                }
                vec![h]
            });
            let mut grid = old.remove(&listing.plural).unwrap_or_default();
            grid.replace(lines);
            self.kinds.push(KindTab { listing, grid });
        }
        self.kind = current
            .and_then(|c| self.kinds.iter().position(|k| k.listing.plural == c))
            .unwrap_or(0);
    }

    fn set_config(&mut self, dump: ConfigDump, clusters: AdminClusters) {
        let err = |e: pc::RenderError| vec![vec![format!("Error: {e}")]];
        let lines = [
            pc::listener_table(&dump, &ListenerFilter::default(), false)
                .map(|t| t.rows().to_vec())
                .unwrap_or_else(err),
            pc::route_table(
                &dump,
                &RouteFilter {
                    name: String::new(),
                    verbose: true,
                },
                false,
            )
            .map(|t| t.rows().to_vec())
            .unwrap_or_else(err),
            pc::cluster_table(&dump, &ClusterFilter::default(), false)
                .map(|t| t.rows().to_vec())
                .unwrap_or_else(err),
            pc::endpoint_table(&clusters, &EndpointFilter::default())
                .rows()
                .to_vec(),
            pc::secret_table(&dump, self.now, false)
                .map(|t| t.rows().to_vec())
                .unwrap_or_else(err),
        ];
        for (grid, lines) in self.config.grids.iter_mut().zip(lines) {
            grid.replace(lines);
        }
        self.config.dump = Some(dump);
        self.config.clusters = Some(clusters);
    }

    fn set_traffic(&mut self, rows: &[WorkloadTraffic], edges: Vec<Edge>) {
        let mut lines = vec![
            ["NAMESPACE", "WORKLOAD", "RPS", "SUCCESS", "P50", "P99"]
                .map(String::from)
                .to_vec(),
        ];
        let ms = |v: Option<f64>| v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}ms"));
        for r in rows {
            lines.push(vec![
                r.namespace.clone(),
                r.workload.clone(),
                format!("{:.2}", r.rps),
                r.success_rate
                    .map_or_else(|| "-".to_owned(), |s| format!("{:.2}%", s * 100.0)),
                ms(r.p50_ms),
                ms(r.p99_ms),
            ]);
            let h = self
                .history
                .entry(format!("{}.{}", r.workload, r.namespace))
                .or_default();
            push(&mut h.rps, r.rps);
            push(&mut h.success, r.success_rate.unwrap_or(1.0) * 100.0);
            push(&mut h.p50, r.p50_ms.unwrap_or(0.0));
            push(&mut h.p99, r.p99_ms.unwrap_or(0.0));
        }
        // Workloads with no traffic this second get a zero sample, so lines keep moving.
        let seen: Vec<String> = rows
            .iter()
            .map(|r| format!("{}.{}", r.workload, r.namespace))
            .collect();
        for (k, h) in self.history.iter_mut() {
            if !seen.contains(k) {
                push(&mut h.rps, 0.0);
                push(&mut h.success, 100.0);
                push(&mut h.p50, 0.0);
                push(&mut h.p99, 0.0);
            }
        }
        self.traffic.replace(lines);
        self.edges = edges;
    }

    /// The `workload.namespace` the traffic view has selected.
    pub fn traffic_selected(&self) -> Option<String> {
        let (w, ns) = (
            self.traffic.cell("WORKLOAD"),
            self.traffic.cell("NAMESPACE"),
        );
        (!w.is_empty()).then(|| format!("{w}.{ns}"))
    }

    // ---- keys ---------------------------------------------------------------------------

    pub fn on_key(&mut self, k: KeyEvent) -> Vec<Request> {
        if k.modifiers.contains(KeyModifiers::CONTROL) && k.code == KeyCode::Char('c') {
            self.quit = true;
            return Vec::new();
        }
        match std::mem::replace(&mut self.overlay, Overlay::None) {
            Overlay::None => {}
            Overlay::Help | Overlay::Error(_) => return Vec::new(),
            Overlay::Confirm { question, then } => {
                return match k.code {
                    KeyCode::Char('y' | 'Y') => vec![then],
                    KeyCode::Char('n' | 'N') | KeyCode::Esc => {
                        self.message = Some("cancelled".to_owned());
                        Vec::new()
                    }
                    _ => {
                        self.overlay = Overlay::Confirm { question, then };
                        Vec::new()
                    }
                };
            }
            Overlay::Prompt { prompt, input } => return self.prompt_key(k, prompt, input),
        }
        if self.detail.is_some() {
            // Switching views leaves the pane; everything else belongs to it.
            let switches = matches!(
                k.code,
                KeyCode::Char('1'..='6' | ':') | KeyCode::Tab | KeyCode::BackTab
            );
            if !switches {
                return self.detail_key(k);
            }
            self.detail = None;
        }
        match k.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.overlay = Overlay::Help,
            KeyCode::Char(':') => {
                self.overlay = Overlay::Prompt {
                    prompt: Prompt::Command,
                    input: String::new(),
                }
            }
            KeyCode::Char('/') => {
                let input = match self.grid() {
                    Some(g) => g.filter().to_owned(),
                    None => self.logs.filter.clone(),
                };
                self.overlay = Overlay::Prompt {
                    prompt: Prompt::Filter,
                    input,
                };
            }
            KeyCode::Esc => {
                if let Some(g) = self.grid_mut() {
                    g.set_filter("");
                } else {
                    self.logs.filter.clear();
                }
            }
            KeyCode::Tab => self.switch(View::ALL[(self.view.index() + 1) % View::ALL.len()]),
            KeyCode::BackTab => {
                self.switch(View::ALL[(self.view.index() + View::ALL.len() - 1) % View::ALL.len()])
            }
            KeyCode::Char(c @ '1'..='6') => {
                let i = (c as usize) - ('1' as usize);
                self.switch(View::ALL[i]);
            }
            KeyCode::Char('c') => {
                if let Some(cmd) = self.command_for_selection() {
                    self.message = Some(format!("copied: {cmd}"));
                    return vec![Request::Copy(cmd)];
                }
            }
            _ => return self.view_key(k),
        }
        Vec::new()
    }

    fn switch(&mut self, view: View) {
        self.view = view;
        self.message = None;
    }

    fn detail_key(&mut self, k: KeyEvent) -> Vec<Request> {
        let Some(d) = self.detail.as_mut() else {
            return Vec::new();
        };
        let last = d.text.lines().count().saturating_sub(1);
        match k.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.overlay = Overlay::Help,
            KeyCode::Esc | KeyCode::Backspace => self.detail = None,
            KeyCode::Down | KeyCode::Char('j') => d.scroll = (d.scroll + 1).min(last),
            KeyCode::Up | KeyCode::Char('k') => d.scroll = d.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => d.scroll = (d.scroll + 20).min(last),
            KeyCode::PageUp => d.scroll = d.scroll.saturating_sub(20),
            KeyCode::Home | KeyCode::Char('g') => d.scroll = 0,
            KeyCode::End | KeyCode::Char('G') => d.scroll = last,
            KeyCode::Char('c') => {
                let cmd = d.command.clone();
                self.message = Some(format!("copied: {cmd}"));
                return vec![Request::Copy(cmd)];
            }
            KeyCode::Char('e') => {
                if let Some(ns) = d.editable.clone() {
                    return vec![Request::Edit {
                        file_name: d.title.replace(['/', ' '], "-"),
                        namespace: ns,
                        yaml: d.text.clone(),
                    }];
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn prompt_key(&mut self, k: KeyEvent, prompt: Prompt, mut input: String) -> Vec<Request> {
        match k.code {
            KeyCode::Esc => {
                if prompt == Prompt::Filter {
                    self.set_filter("");
                }
                return Vec::new();
            }
            KeyCode::Enter => return self.submit(prompt, input.trim()),
            KeyCode::Backspace => {
                input.pop();
            }
            KeyCode::Char(c) => input.push(c),
            _ => {}
        }
        if prompt == Prompt::Filter {
            // Live, as k9s filters while typing.
            self.set_filter(&input);
        }
        self.overlay = Overlay::Prompt { prompt, input };
        Vec::new()
    }

    fn set_filter(&mut self, f: &str) {
        match self.grid_mut() {
            Some(g) => g.set_filter(f),
            None => self.logs.filter = f.to_owned(),
        }
    }

    fn submit(&mut self, prompt: Prompt, input: &str) -> Vec<Request> {
        match prompt {
            Prompt::Filter => {
                self.set_filter(input);
                Vec::new()
            }
            Prompt::Command => self.command(input),
            Prompt::Scale { name, namespace } => match input.parse::<i32>() {
                Ok(replicas) if replicas >= 0 => vec![Request::Scale {
                    name,
                    namespace,
                    replicas,
                }],
                _ => {
                    self.overlay = Overlay::Error(format!(
                        "replicas must be a whole number ≥ 0, not {input:?}"
                    ));
                    Vec::new()
                }
            },
            Prompt::LogLevel { proxy } => {
                if input.is_empty() {
                    return Vec::new();
                }
                vec![Request::LogLevel {
                    proxy,
                    level: input.to_owned(),
                }]
            }
        }
    }

    /// `:` commands: views by kubectl/istioctl/k9s names, resource kinds by short name.
    fn command(&mut self, input: &str) -> Vec<Request> {
        let word = input.trim_start_matches(':').trim().to_ascii_lowercase();
        let view = match word.as_str() {
            "" => return Vec::new(),
            "q" | "quit" | "q!" => {
                self.quit = true;
                return Vec::new();
            }
            "pods" | "pod" | "po" | "workloads" | "wl" | "ns" | "namespaces" => View::Workloads,
            "proxies" | "ps" | "proxy-status" => View::Proxies,
            "pc" | "config" | "proxy-config" => View::Config,
            "traffic" | "metrics" | "graph" => View::Traffic,
            "logs" | "log" => View::Logs,
            "resources" | "res" => View::Resources,
            w => {
                if let Some(tab) = ConfigTab::ALL
                    .iter()
                    .find(|t| t.title() == w || t.title().trim_end_matches('s') == w)
                {
                    self.config.tab = *tab;
                    View::Config
                } else if let Some(i) = self.kinds.iter().position(|k| kind_named(&k.listing, w)) {
                    self.kind = i;
                    View::Resources
                } else {
                    self.overlay = Overlay::Error(format!(
                        "unknown command {w:?}: try pods, proxies, pc, listeners, routes, clusters, endpoints, secrets, gw, vs, dr, se, deploy, svc, traffic, logs, q"
                    ));
                    return Vec::new();
                }
            }
        };
        self.switch(view);
        Vec::new()
    }

    fn view_key(&mut self, k: KeyEvent) -> Vec<Request> {
        // Moving works the same in every table.
        if let Some(g) = self.grid_mut() {
            match k.code {
                KeyCode::Down | KeyCode::Char('j') => return moved(g, 1),
                KeyCode::Up | KeyCode::Char('k') => return moved(g, -1),
                KeyCode::PageDown => return moved(g, PAGE),
                KeyCode::PageUp => return moved(g, -PAGE),
                KeyCode::Home | KeyCode::Char('g') => {
                    g.select_first();
                    return Vec::new();
                }
                KeyCode::End | KeyCode::Char('G') => {
                    g.select_last();
                    return Vec::new();
                }
                _ => {}
            }
        }
        match self.view {
            View::Workloads => self.workloads_key(k),
            View::Proxies => self.proxies_key(k),
            View::Config => self.config_key(k),
            View::Resources => self.resources_key(k),
            View::Traffic => Vec::new(),
            View::Logs => self.logs_key(k),
        }
    }

    fn selected_pod(&self) -> Option<(String, String, &Value)> {
        let (ns, name) = (
            self.workloads.cell("NAMESPACE"),
            self.workloads.cell("NAME"),
        );
        let pod = self.pods.get(&format!("{ns}/{name}"))?;
        Some((ns.to_owned(), name.to_owned(), pod))
    }

    fn workloads_key(&mut self, k: KeyEvent) -> Vec<Request> {
        let Some((ns, name, pod)) = self.selected_pod() else {
            return Vec::new();
        };
        match k.code {
            KeyCode::Enter => {
                let app = containers(pod)
                    .into_iter()
                    .find(|c| c != "istio-proxy")
                    .unwrap_or_else(|| "istio-proxy".to_owned());
                self.follow(ns, name, app.clone(), app)
            }
            KeyCode::Char('p') => {
                let proxy = format!("{name}.{ns}");
                if self.proxy_names.contains(&proxy) {
                    self.open_config(proxy)
                } else {
                    self.message = Some(format!("{name} has no proxy"));
                    Vec::new()
                }
            }
            KeyCode::Char('y') => {
                let listing = Listing {
                    kind: "Pod".into(),
                    group: String::new(),
                    plural: "pods".into(),
                    namespaced: true,
                    items: vec![pod.clone()],
                };
                self.detail = Some(yaml_detail(&listing, pod, self.now, false));
                Vec::new()
            }
            KeyCode::Char('s') => {
                match deployment_of(pod) {
                    Some(deploy) => {
                        self.overlay = Overlay::Prompt {
                            prompt: Prompt::Scale {
                                name: deploy,
                                namespace: ns,
                            },
                            input: String::new(),
                        }
                    }
                    None => self.message = Some(format!("{name} belongs to no deployment")),
                }
                Vec::new()
            }
            KeyCode::Char('d') => {
                self.overlay = Overlay::Confirm {
                    question: format!("Delete pod {ns}/{name}?"),
                    then: Request::Delete {
                        kind: "pod".into(),
                        name,
                        namespace: ns,
                    },
                };
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn follow(
        &mut self,
        namespace: String,
        pod: String,
        container: String,
        app: String,
    ) -> Vec<Request> {
        self.logs = Logs {
            namespace: namespace.clone(),
            pod: pod.clone(),
            container: container.clone(),
            app_container: app,
            follow: true,
            filter: std::mem::take(&mut self.logs.filter),
            ..Logs::default()
        };
        self.switch(View::Logs);
        vec![Request::FollowLogs {
            namespace,
            pod,
            container,
        }]
    }

    fn open_config(&mut self, proxy: String) -> Vec<Request> {
        if self.config.proxy.as_deref() != Some(proxy.as_str()) {
            self.config.dump = None;
            self.config.clusters = None;
            self.config.grids = Default::default();
            self.config.error = None;
        }
        self.config.proxy = Some(proxy.clone());
        self.switch(View::Config);
        vec![Request::LoadConfig { proxy }]
    }

    fn log_level_prompt(&mut self, proxy: String) {
        self.overlay = Overlay::Prompt {
            prompt: Prompt::LogLevel { proxy },
            input: String::new(),
        };
    }

    fn proxies_key(&mut self, k: KeyEvent) -> Vec<Request> {
        let proxy = self.proxies.cell("NAME").to_owned();
        if proxy.is_empty() {
            return Vec::new();
        }
        match k.code {
            KeyCode::Enter => self.open_config(proxy),
            KeyCode::Char('l') => {
                self.log_level_prompt(proxy);
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn config_key(&mut self, k: KeyEvent) -> Vec<Request> {
        let n = ConfigTab::ALL.len();
        let i = self.config.tab.index();
        match k.code {
            KeyCode::Right | KeyCode::Char(']') => self.config.tab = ConfigTab::ALL[(i + 1) % n],
            KeyCode::Left | KeyCode::Char('[') => self.config.tab = ConfigTab::ALL[(i + n - 1) % n],
            KeyCode::Enter => self.detail = self.config_detail(),
            KeyCode::Char('l') => {
                if let Some(p) = self.config.proxy.clone() {
                    self.log_level_prompt(p);
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn resources_key(&mut self, k: KeyEvent) -> Vec<Request> {
        let n = self.kinds.len().max(1);
        match k.code {
            KeyCode::Right | KeyCode::Char(']') => self.kind = (self.kind + 1) % n,
            KeyCode::Left | KeyCode::Char('[') => self.kind = (self.kind + n - 1) % n,
            KeyCode::Enter => self.detail = self.resource_detail(),
            KeyCode::Char('e') => {
                if let Some(d) = self.resource_detail() {
                    self.detail = Some(d);
                    return self.detail_key(key(KeyCode::Char('e')));
                }
            }
            KeyCode::Char('d') => {
                if let Some((listing, obj)) = self.selected_object() {
                    let name = obj["metadata"]["name"].as_str().unwrap_or("").to_owned();
                    let ns = obj["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned();
                    let kind = listing.kind.to_ascii_lowercase();
                    self.overlay = Overlay::Confirm {
                        question: if ns.is_empty() {
                            format!("Delete {kind} {name}?")
                        } else {
                            format!("Delete {kind} {ns}/{name}?")
                        },
                        then: Request::Delete {
                            kind: listing.plural.clone(),
                            name,
                            namespace: ns,
                        },
                    };
                }
            }
            KeyCode::Char('s') => {
                if let Some((listing, obj)) = self.selected_object() {
                    if listing.kind == "Deployment" {
                        self.overlay = Overlay::Prompt {
                            prompt: Prompt::Scale {
                                name: obj["metadata"]["name"].as_str().unwrap_or("").to_owned(),
                                namespace: obj["metadata"]["namespace"]
                                    .as_str()
                                    .unwrap_or("")
                                    .to_owned(),
                            },
                            input: String::new(),
                        };
                    } else {
                        self.message =
                            Some(format!("only deployments scale, not {}", listing.plural));
                    }
                }
            }
            _ => {}
        }
        Vec::new()
    }

    fn logs_key(&mut self, k: KeyEvent) -> Vec<Request> {
        let lines = self.log_lines().len();
        let l = &mut self.logs;
        match k.code {
            KeyCode::Char('f') => {
                l.follow = !l.follow;
                if l.follow {
                    l.scroll = 0;
                }
            }
            KeyCode::Up | KeyCode::Char('k') => {
                l.follow = false;
                l.scroll = (l.scroll + 1).min(lines.saturating_sub(1));
            }
            KeyCode::Down | KeyCode::Char('j') => l.scroll = l.scroll.saturating_sub(1),
            KeyCode::PageUp => {
                l.follow = false;
                l.scroll = (l.scroll + 20).min(lines.saturating_sub(1));
            }
            KeyCode::PageDown => l.scroll = l.scroll.saturating_sub(20),
            KeyCode::Char('t') if !l.pod.is_empty() => {
                let other = if l.container == "istio-proxy" {
                    l.app_container.clone()
                } else {
                    "istio-proxy".to_owned()
                };
                let (ns, pod, app) = (l.namespace.clone(), l.pod.clone(), l.app_container.clone());
                return self.follow(ns, pod, other, app);
            }
            _ => {}
        }
        Vec::new()
    }

    fn selected_object(&self) -> Option<(&Listing, &Value)> {
        let tab = self.kinds.get(self.kind)?;
        let name = tab.grid.cell("NAME");
        let ns = tab.grid.cell("NAMESPACE");
        let obj = tab.listing.items.iter().find(|o| {
            o["metadata"]["name"].as_str() == Some(name)
                && (ns.is_empty() || o["metadata"]["namespace"].as_str() == Some(ns))
        })?;
        Some((&tab.listing, obj))
    }

    fn resource_detail(&self) -> Option<Detail> {
        let (listing, obj) = self.selected_object()?;
        Some(yaml_detail(listing, obj, self.now, true))
    }

    /// The selected proxy-config row as istioctl's `-o json` of that one item.
    fn config_detail(&self) -> Option<Detail> {
        let proxy = self.config.proxy.clone()?;
        let dump = self.config.dump.as_ref()?;
        let grid = self.grid()?;
        grid.selected_row()?;
        let (title, json, command) = match self.config.tab {
            ConfigTab::Listeners => {
                let f = listener_filter(grid);
                let protos = pc::listener_protos(dump, &f).ok()?;
                (
                    format!("listener {}:{}", f.address, f.port),
                    pc::json(&protos),
                    format!(
                        "mesh proxy-config listeners {proxy} --address {} --port {} -o json",
                        f.address, f.port
                    ),
                )
            }
            ConfigTab::Routes => {
                let name = grid.cell("NAME").to_owned();
                let protos = pc::route_protos(
                    dump,
                    &RouteFilter {
                        name: name.clone(),
                        verbose: true,
                    },
                )
                .ok()?;
                (
                    format!("route {name}"),
                    pc::json(&protos),
                    format!("mesh proxy-config routes {proxy} --name {name} -o json"),
                )
            }
            ConfigTab::Clusters => {
                let f = cluster_filter(grid);
                let protos = pc::cluster_protos(dump, &f).ok()?;
                let mut cmd = format!("mesh proxy-config clusters {proxy} --fqdn {}", f.fqdn);
                if f.port != 0 {
                    cmd.push_str(&format!(" --port {}", f.port));
                }
                if !f.subset.is_empty() {
                    cmd.push_str(&format!(" --subset {}", f.subset));
                }
                if !f.direction.is_empty() {
                    cmd.push_str(&format!(" --direction {}", f.direction));
                }
                cmd.push_str(" -o json");
                (format!("cluster {}", f.fqdn), pc::json(&protos), cmd)
            }
            ConfigTab::Endpoints => {
                let clusters = self.config.clusters.as_ref()?;
                let endpoint = grid.cell("ENDPOINT");
                let (address, port) = endpoint.rsplit_once(':').unwrap_or((endpoint, "0"));
                let f = EndpointFilter {
                    address: address.to_owned(),
                    port: port.parse().unwrap_or(0),
                    cluster: grid.cell("CLUSTER").to_owned(),
                    status: String::new(),
                };
                let protos = pc::endpoint_protos(clusters, &f);
                (
                    format!("endpoint {endpoint}"),
                    pc::json(&protos),
                    format!(
                        "mesh proxy-config endpoints {proxy} --address {} --port {} --cluster '{}' -o json",
                        f.address, f.port, f.cluster
                    ),
                )
            }
            ConfigTab::Secrets => {
                let name = grid.cell("RESOURCE NAME").to_owned();
                let all: Value =
                    serde_json::from_str(&pc::secret_dump(dump, Output::Json).ok()?).ok()?;
                let one: Vec<&Value> = ["dynamicActiveSecrets", "dynamicWarmingSecrets"]
                    .iter()
                    .flat_map(|k| all[k].as_array().into_iter().flatten())
                    .filter(|s| s["name"].as_str() == Some(name.as_str()))
                    .collect();
                let text = serde_json::to_string_pretty(&one).ok()? + "\n";
                (
                    format!("secret {name}"),
                    text,
                    format!("mesh proxy-config secret {proxy} -o json"),
                )
            }
        };
        Some(Detail {
            title,
            text: json,
            lang: Lang::Json,
            scroll: 0,
            editable: None,
            command,
        })
    }

    /// The `mesh` command that shows what is selected.
    pub fn command_for_selection(&self) -> Option<String> {
        if let Some(d) = &self.detail {
            return Some(d.command.clone());
        }
        let ns_flag = |ns: &str| {
            if ns.is_empty() {
                String::new()
            } else {
                format!(" -n {ns}")
            }
        };
        match self.view {
            View::Workloads => {
                let (ns, name, _) = self.selected_pod()?;
                Some(format!("mesh get pod {name} -n {ns} -o yaml"))
            }
            View::Proxies => {
                let p = self.proxies.cell("NAME");
                (!p.is_empty()).then(|| format!("mesh proxy-config all {p}"))
            }
            View::Config => {
                let p = self.config.proxy.as_deref()?;
                Some(format!("mesh proxy-config {} {p}", self.config.tab.title()))
            }
            View::Resources => {
                let (listing, obj) = self.selected_object()?;
                Some(format!(
                    "mesh get {} {}{} -o yaml",
                    listing.plural,
                    obj["metadata"]["name"].as_str().unwrap_or(""),
                    ns_flag(obj["metadata"]["namespace"].as_str().unwrap_or(""))
                ))
            }
            View::Traffic => {
                let w = self.traffic_selected()?;
                Some(format!("mesh metrics {w} --interval 1s"))
            }
            View::Logs => {
                let l = &self.logs;
                (!l.pod.is_empty()).then(|| {
                    format!(
                        "mesh logs {} -n {} -c {} -f",
                        l.pod, l.namespace, l.container
                    )
                })
            }
        }
    }
}

fn moved(g: &mut Grid, by: isize) -> Vec<Request> {
    g.move_by(by);
    Vec::new()
}

/// A log line made safe to draw: colour escapes (`ESC[…m`) dropped, tabs expanded to the next
/// multiple of 8, other control characters shown as `^X`.
pub fn printable(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\u{1b}' => {
                if chars.peek() == Some(&'[') {
                    chars.next();
                    // CSI: parameters and intermediates, then one final byte in @..~.
                    for n in chars.by_ref() {
                        if ('@'..='~').contains(&n) {
                            break;
                        }
                    }
                }
            }
            '\t' => {
                let col = out.chars().count();
                out.extend(std::iter::repeat_n(' ', 8 - col % 8));
            }
            c if c.is_control() => {
                out.push('^');
                out.push(char::from(
                    u8::try_from(u32::from(c) ^ 0x40).unwrap_or(b'?'),
                ));
            }
            c => out.push(c),
        }
    }
    out
}

/// A pod's container names, from its spec.
fn containers(pod: &Value) -> Vec<String> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(str::to_owned))
        .collect()
}

/// The Deployment a pod belongs to: its name less `-<pod-template-hash>-<suffix>`.
fn deployment_of(pod: &Value) -> Option<String> {
    let hash = pod["metadata"]["labels"]["pod-template-hash"].as_str()?;
    let name = pod["metadata"]["name"].as_str()?;
    let (prefix, _) = name.split_once(&format!("-{hash}-"))?;
    Some(prefix.to_owned())
}

fn kind_named(listing: &Listing, word: &str) -> bool {
    let kind = listing.kind.to_ascii_lowercase();
    let short = match kind.as_str() {
        "gateway" => "gw",
        "virtualservice" => "vs",
        "destinationrule" => "dr",
        "serviceentry" => "se",
        "deployment" => "deploy",
        "service" => "svc",
        "peerauthentication" => "pa",
        "authorizationpolicy" => "ap",
        "configmap" => "cm",
        "envoyfilter" => "ef",
        _ => "",
    };
    word == kind || word == listing.plural || word == short || format!("{word}s") == listing.plural
}

/// `mesh get KIND NAME -o yaml` of one object.
fn yaml_detail(listing: &Listing, obj: &Value, now: SystemTime, editable: bool) -> Detail {
    let one = Listing {
        items: vec![obj.clone()],
        ..listing.clone()
    };
    let out = kubectl::render(&[one], Format::Yaml, false, "", false, true, now);
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let ns = obj["metadata"]["namespace"].as_str().unwrap_or("");
    let kind = listing.kind.to_ascii_lowercase();
    let ns_flag = if ns.is_empty() {
        String::new()
    } else {
        format!(" -n {ns}")
    };
    Detail {
        title: format!("{kind}/{name}"),
        text: out.stdout,
        lang: Lang::Yaml,
        scroll: 0,
        editable: editable.then(|| ns.to_owned()),
        command: format!("mesh get {} {name}{ns_flag} -o yaml", listing.plural),
    }
}

fn listener_filter(grid: &Grid) -> ListenerFilter {
    let addresses = grid.cell("ADDRESSES");
    ListenerFilter {
        address: addresses.split(',').next().unwrap_or("").to_owned(),
        port: grid.cell("PORT").parse().unwrap_or(0),
        type_: String::new(),
        verbose: true,
    }
}

fn cluster_filter(grid: &Grid) -> ClusterFilter {
    let dash = |s: &str| {
        if s == "-" {
            String::new()
        } else {
            s.to_owned()
        }
    };
    ClusterFilter {
        fqdn: grid.cell("SERVICE FQDN").to_owned(),
        port: grid.cell("PORT").parse().unwrap_or(0),
        subset: dash(grid.cell("SUBSET")),
        direction: dash(grid.cell("DIRECTION")),
    }
}
