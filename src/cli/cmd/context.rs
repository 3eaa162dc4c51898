//! Which sandbox a command talks to (kubectl's "context"): `--context NAME` / `MESH_CONTEXT`,
//! else the only running sandbox, else the one named `mesh`. Sandboxes are found through the
//! `api.json` each keeps in its state directory; a file whose process is gone is stale.

use std::future::Future;
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use crate::cli::exit::{BAD_INPUT, Exit};
use crate::client::{Client, ClientError, Endpoint};
use crate::sandbox::state_dir::StateRoot;

/// The default sandbox name (`mesh up` without `--name`).
pub const DEFAULT_NAME: &str = "mesh";

/// Where sandboxes keep state: `$MESH_HOME`, `$XDG_STATE_HOME/mesh`, `~/.local/state/mesh`.
pub fn state_root() -> anyhow::Result<StateRoot> {
    let var = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    StateRoot::from_env(var("MESH_HOME"), var("XDG_STATE_HOME"), var("HOME"))
        .context("cannot tell where to keep sandbox state: set MESH_HOME or HOME")
}

/// A sandbox's API file, if its process is alive and its port answers.
pub fn live(root: &StateRoot, name: &str) -> Option<Endpoint> {
    let dir = root.sandbox(name);
    let text = std::fs::read(dir.api_file()).ok()?;
    let endpoint: Endpoint = serde_json::from_slice(&text).ok()?;
    if !alive(endpoint.pid) {
        return None;
    }
    TcpStream::connect_timeout(&endpoint.address, Duration::from_millis(500)).ok()?;
    Some(endpoint)
}

/// Whether a process runs (exists and is not a zombie waiting for its parent).
pub fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

/// Every running sandbox.
pub fn running(root: &StateRoot) -> Vec<Endpoint> {
    root.list().iter().filter_map(|n| live(root, n)).collect()
}

/// The sandbox a command means.
pub fn endpoint(context: Option<&str>) -> anyhow::Result<Endpoint> {
    let root = state_root()?;
    if let Some(name) = context {
        return live(&root, name).ok_or_else(|| {
            Exit::new(
                BAD_INPUT,
                format!(
                    "error: sandbox {name:?} is not running; start it with `mesh up --name {name}`"
                ),
            )
            .into()
        });
    }
    let all = running(&root);
    match all.as_slice() {
        [one] => Ok(one.clone()),
        [] => Err(Exit::new(
            BAD_INPUT,
            "error: no sandbox is running; start one with `mesh up` (it runs in the foreground: use another terminal)",
        )
        .into()),
        many => many.iter().find(|e| e.name == DEFAULT_NAME).cloned().ok_or_else(|| {
            let names: Vec<&str> = many.iter().map(|e| e.name.as_str()).collect();
            Exit::new(
                BAD_INPUT,
                format!("error: {} sandboxes are running ({}); choose one with --context NAME", many.len(), names.join(", ")),
            )
            .into()
        }),
    }
}

pub fn client(context: Option<&str>) -> anyhow::Result<Client> {
    Ok(Client::new(&endpoint(context)?))
}

/// Runs one async client exchange on a small runtime.
pub fn block_on<F: Future>(f: F) -> anyhow::Result<F::Output> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    Ok(rt.block_on(f))
}

/// An API error as the user should see it: kubectl's message, each bad document on its own
/// line, exit code 1.
pub fn api_error(e: ClientError) -> anyhow::Error {
    match e {
        ClientError::Api { body, .. } => {
            let diagnostics: Vec<&str> = body["diagnostics"]
                .as_array()
                .map(|d| d.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let message = if diagnostics.is_empty() {
                body["error"]
                    .as_str()
                    .unwrap_or("the request failed")
                    .to_owned()
            } else {
                let n = diagnostics.len();
                format!(
                    "{}\nerror: {n} problem{} found; nothing was changed",
                    diagnostics.join("\n"),
                    if n == 1 { "" } else { "s" }
                )
            };
            Exit::new(BAD_INPUT, message).into()
        }
        other => Exit::new(BAD_INPUT, format!("error: {other}")).into(),
    }
}

/// GET on the chosen sandbox, errors already in the user's words.
pub fn get(context: Option<&str>, path: &str) -> anyhow::Result<Value> {
    let c = client(context)?;
    block_on(c.get(path))?.map_err(api_error)
}

pub fn post(context: Option<&str>, path: &str, body: &Value) -> anyhow::Result<Value> {
    let c = client(context)?;
    block_on(c.post(path, body))?.map_err(api_error)
}
