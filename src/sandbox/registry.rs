//! `api.json` in a sandbox's state directory: where its local API listens, the token it wants,
//! and the pid serving it (mode 0600: the token is the only key). The client reads the same
//! file (`client::Endpoint`); a file whose process is gone is stale and ignored.

use std::net::SocketAddr;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::state_dir::{API_FILE, StateDir};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiFile {
    pub name: String,
    pub address: SocketAddr,
    pub token: String,
    pub pid: u32,
}

pub fn write(state: &StateDir, api: &ApiFile) -> std::io::Result<()> {
    let text = serde_json::to_vec_pretty(api).unwrap_or_default();
    state.write_atomic(API_FILE, &text, 0o600)
}

pub fn read(state: &StateDir) -> Option<ApiFile> {
    serde_json::from_slice(&state.read(API_FILE).ok()?).ok()
}

/// The API file of a sandbox that is running now (its process lives and its port answers).
pub async fn live_endpoint(state: &StateDir) -> Option<ApiFile> {
    let api = read(state)?;
    if !std::path::Path::new(&format!("/proc/{}", api.pid)).exists() {
        return None;
    }
    let connect = tokio::net::TcpStream::connect(api.address);
    match tokio::time::timeout(Duration::from_millis(500), connect).await {
        Ok(Ok(_)) => Some(api),
        _ => None,
    }
}
