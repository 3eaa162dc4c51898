//! Runs labs: starts (or reuses) a lab's sandbox as a background `mesh up --name lab-…` whose
//! log is in the lab's `logs/`, copies the lab's files into its working directory, starts the
//! processes the lab owns (`mesh envoy`, `mesh httpbin`), runs a step's commands (`solve`) and
//! its checks, and keeps progress. Everything a lab starts, `stop` and `reset` end.

use std::io::Read as _;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use super::catalog;
use super::check::{self, Context, Outcome};
use super::format::{Background, Lab, Step};
use super::progress::{self, LabProgress, Progress, ProgressError};
use super::template::{self, PortMap};
use crate::client::{Client, Endpoint};

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("no lab {0:?}; `mesh lab list` shows the labs")]
    NoSuchLab(String),
    #[error("no lab is started; `mesh lab start ID` starts one (`mesh lab list` shows them)")]
    NoCurrentLab,
    #[error(transparent)]
    Progress(#[from] ProgressError),
    #[error("cannot prepare {path}: {reason}")]
    Files { path: String, reason: String },
    #[error("the lab's sandbox {name:?} did not start: {reason}\n--- {log} ---\n{tail}")]
    SandboxStart {
        name: String,
        reason: String,
        log: String,
        tail: String,
    },
    #[error("`{command}` did not get ready: {reason}\n--- {log} ---\n{tail}")]
    Background {
        command: String,
        reason: String,
        log: String,
        tail: String,
    },
    #[error("`{command}` failed (exit code {code})")]
    CommandFailed { command: String, code: i32 },
    #[error("cannot run `{command}`: {reason}")]
    Spawn { command: String, reason: String },
    #[error("{0}")]
    Template(#[from] template::TemplateError),
    #[error("the lab's sandbox {0:?} is not running; `mesh lab start` starts it again")]
    SandboxDown(String),
}

/// Finds a running sandbox's API by name (the CLI knows where sandboxes keep it).
pub type FindSandbox = Box<dyn Fn(&str) -> Option<Endpoint> + Send + Sync>;

/// The lab runner's surroundings.
pub struct Runner {
    /// The state root (`$MESH_HOME`, …): labs live in its `labs/`.
    pub state_root: PathBuf,
    /// This `mesh` binary: commands run with its directory first on `PATH`.
    pub mesh: PathBuf,
    /// The user's `PATH`.
    pub path_env: Option<String>,
    pub find_sandbox: FindSandbox,
    /// The user's own lab files (`MESH_LAB_DIR`), next to the embedded ones.
    pub extra_labs: Option<PathBuf>,
}

/// One check's result, for printing.
#[derive(Debug, Clone)]
pub struct CheckResult {
    pub name: String,
    pub outcome: Outcome,
    pub hint: Option<String>,
}

/// A step as the user is shown it, placeholders filled in.
#[derive(Debug, Clone)]
pub struct ShownStep {
    pub lab: Lab,
    pub index: usize,
    pub workdir: PathBuf,
    /// `None` when the sandbox is down (commands then show the book's ports).
    pub ports_known: bool,
    pub commands: Vec<String>,
    pub observe: Vec<String>,
    pub passed: bool,
}

pub fn sandbox_name(lab: &Lab) -> Option<String> {
    (lab.sandbox != "none").then(|| {
        format!(
            "lab-{}",
            lab.id
                .to_ascii_lowercase()
                .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        )
    })
}

impl Runner {
    pub fn labs_dir(&self) -> PathBuf {
        self.state_root.join("labs")
    }

    pub fn workdir(&self, lab: &Lab) -> PathBuf {
        self.labs_dir().join(lab.id.to_ascii_lowercase())
    }

    fn logs(&self, lab: &Lab) -> PathBuf {
        self.workdir(lab).join("logs")
    }

    pub fn progress(&self) -> Result<Progress, LabError> {
        Ok(progress::load(&self.labs_dir())?)
    }

    fn save(&self, p: &Progress) -> Result<(), LabError> {
        Ok(progress::save(&self.labs_dir(), p)?)
    }

    /// The current lab and its progress.
    pub fn current(&self) -> Result<(Lab, LabProgress), LabError> {
        let p = self.progress()?;
        let id = p.current.clone().ok_or(LabError::NoCurrentLab)?;
        let lab = catalog::find(&id, self.extra_labs.as_deref())
            .ok_or_else(|| LabError::NoSuchLab(id.clone()))?;
        let lp = p.labs.get(&lab.id).cloned().unwrap_or_default();
        Ok((lab, lp))
    }

    fn client(&self, lab: &Lab) -> Option<Client> {
        sandbox_name(lab)
            .and_then(|n| (self.find_sandbox)(&n))
            .map(|e| Client::new(&e))
    }

    /// The check context: the sandbox (if up), its port map, the commands' environment.
    pub async fn context(&self, lab: &Lab) -> Context {
        let client = self.client(lab);
        let ports = match &client {
            Some(c) => port_map(c).await,
            None => None,
        };
        Context {
            workdir: self.workdir(lab),
            client,
            ports,
            env: check::command_env(
                &self.mesh,
                sandbox_name(lab).as_deref(),
                self.path_env.as_deref(),
            ),
        }
    }

    /// `mesh lab start ID`: stops another lab's sandbox and processes, starts or reuses this
    /// lab's, and makes it current.
    pub async fn start(
        &self,
        id: &str,
        random_ports: bool,
        log: &mut dyn FnMut(&str),
    ) -> Result<Lab, LabError> {
        let lab = catalog::find(id, self.extra_labs.as_deref())
            .ok_or_else(|| LabError::NoSuchLab(id.to_owned()))?;
        let mut p = self.progress()?;
        if let Some(other) = p.current.clone().filter(|c| *c != lab.id)
            && let Some(other) = catalog::find(&other, self.extra_labs.as_deref())
        {
            self.stop_lab(&other, log).await;
        }
        let reusable = match sandbox_name(&lab) {
            Some(name) => (self.find_sandbox)(&name).is_some() && self.workdir(&lab).is_dir(),
            None => false,
        };
        // Current before anything starts, so `lab stop` ends what a failed start left.
        p.current = Some(lab.id.clone());
        let entry = p.labs.entry(lab.id.clone()).or_default();
        if !reusable {
            entry.random_ports = random_ports;
        }
        self.save(&p)?;
        if reusable {
            log(&format!(
                "reusing the running sandbox {:?}",
                sandbox_name(&lab).unwrap_or_default()
            ));
        } else {
            self.prepare(&lab, random_ports, log).await?;
            // Coming back mid-lab: the steps before this one rebuild the state it starts from.
            let step = p.labs.get(&lab.id).map_or(0, |e| e.step);
            let ctx = self.context(&lab).await;
            for (i, s) in lab.steps.iter().take(step).enumerate() {
                log(&format!("replaying step {}: {}", i + 1, s.value.title));
                self.solve_step(&lab, &ctx, &s.value, log).await?;
            }
        }
        Ok(lab)
    }

    /// A fresh start: files, sandbox, the lab's set-up.
    async fn prepare(
        &self,
        lab: &Lab,
        random_ports: bool,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), LabError> {
        self.stop_lab(lab, log).await;
        let dir = self.workdir(lab);
        copy_files(lab, &dir)?;
        log(&format!("working directory: {}", dir.display()));
        if let Some(name) = sandbox_name(lab) {
            self.start_sandbox(lab, &name, random_ports, log).await?;
        }
        let ctx = self.context(lab).await;
        // Files first (e.g. certificates), then the processes that read them.
        for c in &lab.setup.run {
            run_command(&ctx, c, log).await?;
        }
        for b in &lab.setup.start {
            self.start_background(lab, &ctx, b, log).await?;
        }
        Ok(())
    }

    async fn start_sandbox(
        &self,
        lab: &Lab,
        name: &str,
        random_ports: bool,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), LabError> {
        let logs = self.logs(lab);
        let log_path = logs.join("sandbox.log");
        let mut args: Vec<String> =
            vec!["up".into(), "--name".into(), name.into(), "--fresh".into()];
        if random_ports {
            args.push("--random-ports".into());
        }
        if lab.sandbox != "default" {
            let file = self.workdir(lab).join("scenario.yaml");
            write_file(&file, catalog::file(&lab.sandbox).unwrap_or_default())?;
            args.push(file.display().to_string());
        }
        log(&format!(
            "starting sandbox {name:?}: mesh {}",
            args.join(" ")
        ));
        let pid =
            spawn_logged(&self.mesh, &args, &log_path, &self.workdir(lab)).map_err(|reason| {
                LabError::SandboxStart {
                    name: name.into(),
                    reason,
                    log: log_path.display().to_string(),
                    tail: String::new(),
                }
            })?;
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let text = std::fs::read_to_string(&log_path).unwrap_or_default();
            if text.contains("Ready in") && (self.find_sandbox)(name).is_some() {
                for line in text.lines().filter(|l| l.contains("node port")) {
                    log(line.trim());
                }
                return Ok(());
            }
            let reason = if !alive(pid) {
                Some("`mesh up` exited".to_owned())
            } else if Instant::now() > deadline {
                Some("not ready after 60s".to_owned())
            } else {
                None
            };
            if let Some(mut reason) = reason {
                stop_pid(pid).await;
                if text.contains("Address already in use") || text.contains("in use") {
                    reason.push_str(
                        " — a port it publishes is taken (another sandbox on the book's node ports? \
                         `mesh down` stops it, or `mesh lab start ID --random-ports` uses free ports)",
                    );
                }
                return Err(LabError::SandboxStart {
                    name: name.into(),
                    reason,
                    log: log_path.display().to_string(),
                    tail: tail(&text),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn start_background(
        &self,
        lab: &Lab,
        ctx: &Context,
        b: &Background,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), LabError> {
        let logs = self.logs(lab);
        let pid_file = logs.join(format!("{}.pid", b.name));
        if let Some(old) = read_pid(&pid_file) {
            stop_pid(old).await;
        }
        let command = template::render(&b.command, ctx.ports.as_ref())?;
        let log_path = logs.join(format!("{}.log", b.name));
        log(&format!("$ {command} &    (log: {})", log_path.display()));
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(format!("exec {command}"))
            .current_dir(&ctx.workdir)
            .envs(ctx.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let pid = spawn_cmd(cmd, &log_path).map_err(|reason| LabError::Spawn {
            command: command.clone(),
            reason,
        })?;
        write_file(&pid_file, pid_file_text(pid).as_bytes())?;
        let Some(ready) = &b.ready else {
            return Ok(());
        };
        let ready = template::render(ready, ctx.ports.as_ref())?.replace("localhost", "127.0.0.1");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if tokio::net::TcpStream::connect(&ready).await.is_ok() {
                // Someone answers, but is it ours? A process of the user's (or an earlier lab's)
                // may hold the port while ours failed to bind it.
                tokio::time::sleep(Duration::from_millis(150)).await;
                if alive(pid) {
                    return Ok(());
                }
                return Err(LabError::Background {
                    command,
                    reason: format!(
                        "it exited while something else answers on {ready} — stop that process (a `{}` you started yourself?) and try again",
                        b.name
                    ),
                    log: log_path.display().to_string(),
                    tail: tail(&std::fs::read_to_string(&log_path).unwrap_or_default()),
                });
            }
            let reason = if !alive(pid) {
                Some("it exited".to_owned())
            } else if Instant::now() > deadline {
                Some(format!("nothing accepts connections on {ready} after 20s"))
            } else {
                None
            };
            if let Some(reason) = reason {
                return Err(LabError::Background {
                    command,
                    reason,
                    log: log_path.display().to_string(),
                    tail: tail(&std::fs::read_to_string(&log_path).unwrap_or_default()),
                });
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Ends the lab's processes and its sandbox (what it had applied goes with it: the next
    /// start is fresh).
    pub async fn stop_lab(&self, lab: &Lab, log: &mut dyn FnMut(&str)) {
        if let Ok(entries) = std::fs::read_dir(self.logs(lab)) {
            for e in entries.flatten() {
                let path = e.path();
                if path.extension().is_some_and(|x| x == "pid") {
                    if let Some(pid) = read_pid(&path)
                        && alive(pid)
                    {
                        log(&format!(
                            "stopping {} (pid {pid})",
                            path.file_stem()
                                .map(|s| s.to_string_lossy())
                                .unwrap_or_default()
                        ));
                        stop_pid(pid).await;
                    }
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        if let Some(name) = sandbox_name(lab)
            && let Some(endpoint) = (self.find_sandbox)(&name)
        {
            log(&format!("stopping sandbox {name:?}"));
            let _ = Client::new(&endpoint)
                .post("/v1/shutdown", &json!({}))
                .await;
            let deadline = Instant::now() + Duration::from_secs(15);
            while alive(endpoint.pid) && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    /// `mesh lab stop`.
    pub async fn stop(&self, log: &mut dyn FnMut(&str)) -> Result<Lab, LabError> {
        let (lab, _) = self.current()?;
        self.stop_lab(&lab, log).await;
        Ok(lab)
    }

    /// `mesh lab reset`: everything the lab started ends, its files are copied again, a fresh
    /// sandbox runs the set-up, and the lab is back at step 1.
    pub async fn reset(&self, log: &mut dyn FnMut(&str)) -> Result<Lab, LabError> {
        let (lab, lp) = self.current()?;
        self.stop_lab(&lab, log).await;
        let _ = std::fs::remove_dir_all(self.workdir(&lab));
        self.prepare(&lab, lp.random_ports, log).await?;
        let mut p = self.progress()?;
        p.labs.insert(
            lab.id.clone(),
            LabProgress {
                random_ports: lp.random_ports,
                ..LabProgress::default()
            },
        );
        self.save(&p)?;
        Ok(lab)
    }

    /// The current step, rendered.
    pub async fn show(&self) -> Result<ShownStep, LabError> {
        let (lab, lp) = self.current()?;
        let index = lp.step.min(lab.steps.len().saturating_sub(1));
        let ctx = self.context(&lab).await;
        let ports_known = sandbox_name(&lab).is_none() || ctx.ports.is_some();
        let step: &Step = &lab.steps[index].value;
        let render = |t: &str| {
            template::render(t, ctx.ports.as_ref()).or_else(|_| template::render(t, None))
        };
        let mut commands = Vec::new();
        for b in &step.start {
            commands.push(format!("{} &", render(&b.command)?));
        }
        for c in &step.run {
            commands.push(render(c)?);
        }
        let observe = step
            .observe
            .iter()
            .map(|c| render(c))
            .collect::<Result<_, _>>()?;
        Ok(ShownStep {
            workdir: self.workdir(&lab),
            passed: lp.passed.contains(&index),
            lab,
            index,
            ports_known,
            commands,
            observe,
        })
    }

    /// `mesh lab solve`: runs the current step's commands for the user.
    pub async fn solve(&self, log: &mut dyn FnMut(&str)) -> Result<(), LabError> {
        let (lab, lp) = self.current()?;
        let step = &lab.steps[lp.step.min(lab.steps.len().saturating_sub(1))].value;
        if let Some(name) = sandbox_name(&lab)
            && (self.find_sandbox)(&name).is_none()
        {
            return Err(LabError::SandboxDown(name));
        }
        let ctx = self.context(&lab).await;
        self.solve_step(&lab, &ctx, step, log).await
    }

    async fn solve_step(
        &self,
        lab: &Lab,
        ctx: &Context,
        step: &Step,
        log: &mut dyn FnMut(&str),
    ) -> Result<(), LabError> {
        for b in &step.start {
            self.start_background(lab, ctx, b, log).await?;
        }
        for c in &step.run {
            run_command(ctx, c, log).await?;
        }
        Ok(())
    }

    /// `mesh lab check`: runs the current step's checks; all passing marks the step passed.
    pub async fn check(&self) -> Result<(Lab, usize, Vec<CheckResult>), LabError> {
        let (lab, lp) = self.current()?;
        let index = lp.step.min(lab.steps.len().saturating_sub(1));
        let step = &lab.steps[index].value;
        let down = sandbox_name(&lab).filter(|n| (self.find_sandbox)(n).is_none());
        let ctx = self.context(&lab).await;
        let checks: Vec<&super::format::Check> = step.checks.iter().map(|c| &c.value).collect();
        let outcomes = match &down {
            Some(name) => vec![
                Outcome::CannotRun(format!(
                    "the lab's sandbox {name:?} is not running; `mesh lab start {}` starts it again",
                    lab.id
                ));
                checks.len()
            ],
            None => check::run_all(&ctx, &checks).await,
        };
        let results: Vec<CheckResult> = checks
            .iter()
            .zip(outcomes)
            .map(|(c, outcome)| CheckResult {
                name: c.name.clone(),
                outcome,
                hint: c.hint.clone(),
            })
            .collect();
        if results.iter().all(|r| r.outcome == Outcome::Pass) {
            let mut p = self.progress()?;
            p.labs
                .entry(lab.id.clone())
                .or_default()
                .mark_passed(index, lab.steps.len());
            self.save(&p)?;
        }
        Ok((lab, index, results))
    }

    /// `mesh lab next` / `prev`: moves within the lab; returns the new 0-based step, or `None`
    /// past the last step.
    pub fn go(&self, forward: bool) -> Result<(Lab, Option<usize>), LabError> {
        let (lab, _) = self.current()?;
        let mut p = self.progress()?;
        let entry = p.labs.entry(lab.id.clone()).or_default();
        let last = lab.steps.len().saturating_sub(1);
        let moved = if forward {
            (entry.step < last).then(|| entry.step + 1)
        } else {
            Some(entry.step.saturating_sub(1))
        };
        if let Some(s) = moved {
            entry.step = s;
        }
        self.save(&p)?;
        Ok((lab, moved))
    }
}

/// Node port → host port, from the sandbox's API.
pub async fn port_map(client: &Client) -> Option<PortMap> {
    let info = client.get("/v1/info").await.ok()?;
    let mut map = PortMap::new();
    for np in info["nodePorts"].as_array()? {
        let node = np["nodePort"]
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())?;
        let host: std::net::SocketAddr = np["host"].as_str()?.parse().ok()?;
        map.insert(node, host.port());
    }
    Some(map)
}

async fn run_command(ctx: &Context, line: &str, log: &mut dyn FnMut(&str)) -> Result<(), LabError> {
    let line = template::render(line, ctx.ports.as_ref())?;
    log(&format!("$ {line}"));
    let out = check::shell(ctx, &line)
        .await
        .map_err(|reason| LabError::Spawn {
            command: line.clone(),
            reason,
        })?;
    for l in String::from_utf8_lossy(&out.stdout)
        .lines()
        .chain(String::from_utf8_lossy(&out.stderr).lines())
    {
        log(l);
    }
    if !out.status.success() {
        return Err(LabError::CommandFailed {
            command: line,
            code: out.status.code().unwrap_or(-1),
        });
    }
    Ok(())
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), LabError> {
    let err = |e: std::io::Error| LabError::Files {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    std::fs::write(path, bytes).map_err(err)
}

/// Copies the lab's files into a fresh working directory (logs kept).
fn copy_files(lab: &Lab, dir: &Path) -> Result<(), LabError> {
    std::fs::create_dir_all(dir.join("logs")).map_err(|e| LabError::Files {
        path: dir.display().to_string(),
        reason: e.to_string(),
    })?;
    for f in &lab.files {
        let f = &f.value;
        for (path, bytes) in catalog::files_under(&f.from) {
            let rel = path.strip_prefix(f.from.as_str()).unwrap_or("");
            let rel = rel.trim_start_matches('/');
            let target = if rel.is_empty() {
                dir.join(f.target())
            } else {
                dir.join(f.target()).join(rel)
            };
            write_file(&target, bytes)?;
        }
    }
    Ok(())
}

fn spawn_logged(mesh: &Path, args: &[String], log: &Path, cwd: &Path) -> Result<u32, String> {
    let mut cmd = Command::new(mesh);
    cmd.args(args).current_dir(cwd);
    spawn_cmd(cmd, log)
}

/// Starts a detached process (its own process group, so the user's Ctrl-C does not reach it)
/// with stdout and stderr in `log`.
fn spawn_cmd(mut cmd: Command, log: &Path) -> Result<u32, String> {
    if let Some(dir) = log.parent() {
        std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    }
    let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| e.to_string())?;
    Ok(child.id())
}

/// A pid file names the process and its start time (`/proc/PID/stat` field 22), so a pid the
/// system reused for someone else's process is never signalled.
fn read_pid(path: &Path) -> Option<u32> {
    let mut s = String::new();
    std::fs::File::open(path)
        .ok()?
        .read_to_string(&mut s)
        .ok()?;
    let mut parts = s.split_whitespace();
    let pid: u32 = parts.next()?.parse().ok()?;
    let started: u64 = parts.next()?.parse().ok()?;
    (start_time(pid) == Some(started)).then_some(pid)
}

fn pid_file_text(pid: u32) -> String {
    format!("{pid} {}\n", start_time(pid).unwrap_or_default())
}

/// When a process started, in clock ticks since boot.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces): state is field 3, starttime 22.
    let (_, rest) = stat.rsplit_once(") ")?;
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// Whether a process runs (exists and is not a zombie).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Signals a process group through the shell's `kill` (a builtin everywhere; no unsafe code,
/// no extra crate).
fn signal_group(pgid: u32, signal: &str) {
    let _ = Command::new("sh")
        .args(["-c", &format!("kill -s {signal} -- -{pgid}")])
        .stderr(Stdio::null())
        .status();
}

/// SIGTERM to the process's group, SIGKILL if it is still there after 5 s.
async fn stop_pid(pid: u32) {
    if !alive(pid) {
        return;
    }
    signal_group(pid, "TERM");
    let deadline = Instant::now() + Duration::from_secs(5);
    while alive(pid) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    if alive(pid) {
        signal_group(pid, "KILL");
    }
}

fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lab(yaml: &str) -> Lab {
        catalog::parse("scenarios/labs/9.1-t.yaml", yaml).expect("valid lab")
    }

    const LAB: &str = r#"id: "9.1"
title: T
summary: S
sandbox: default
files:
- from: istio-in-action/ch3
- from: lab-files/c1/stand-in.yaml
  to: c1/front.yaml
steps:
- title: one
  text: t
  checks:
  - name: c
    command: { run: "true" }
"#;

    #[test]
    fn copies_directories_and_renamed_files() {
        let l = lab(LAB);
        let dir = std::env::temp_dir().join(format!("mesh-lab-copy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        copy_files(&l, &dir).expect("copies");
        assert!(dir.join("ch3/simple.yaml").is_file());
        assert!(dir.join("ch3/simple_retry.yaml").is_file());
        let front = std::fs::read(dir.join("c1/front.yaml")).expect("renamed file");
        assert_eq!(
            Some(front.as_slice()),
            catalog::file("lab-files/c1/stand-in.yaml")
        );
        assert!(dir.join("logs").is_dir());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn sandbox_names_follow_the_id() {
        assert_eq!(sandbox_name(&lab(LAB)).as_deref(), Some("lab-9-1"));
        let none = LAB.replace("sandbox: default", "sandbox: none");
        assert_eq!(sandbox_name(&lab(&none)), None);
    }

    #[test]
    fn a_pid_file_only_names_the_process_that_wrote_it() {
        let dir = std::env::temp_dir().join(format!("mesh-lab-pid-{}", std::process::id()));
        let file = dir.join("x.pid");
        let me = std::process::id();
        write_file(&file, pid_file_text(me).as_bytes()).expect("writes");
        assert_eq!(read_pid(&file), Some(me));
        // Same pid, another start time: a reused pid, not ours.
        let started = start_time(me).expect("own start time");
        write_file(&file, format!("{me} {}\n", started + 1).as_bytes()).expect("writes");
        assert_eq!(read_pid(&file), None);
        write_file(&file, format!("{me}\n").as_bytes()).expect("writes");
        assert_eq!(read_pid(&file), None);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn tail_keeps_the_last_lines() {
        let text: String = (1..=40).map(|n| format!("{n}\n")).collect();
        let t = tail(&text);
        assert!(t.starts_with("26\n") && t.ends_with("40"), "{t}");
    }
}
