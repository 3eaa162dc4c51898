//! What the TUI asks the sandbox and the proxies, as [`Update`]s: the same API calls and
//! admin requests `mesh get`, `proxy-status`, `proxy-config` and `logs` make.

use std::net::SocketAddr;

use serde_json::{Value, json};

use crate::client::output::istioctl::{self as pc, AdminClusters, ConfigDump, LogChange};
use crate::client::{Client, ClientError, admin_request, encode};

use super::app::Update;

/// The kinds the resources view lists (Istio's first, then the workloads' own).
pub const RESOURCE_KINDS: &str = "gateways.networking.istio.io,virtualservices,destinationrules,serviceentries,sidecars,peerauthentications,requestauthentications,authorizationpolicies,envoyfilters,deployments,services,configmaps,namespaces";

fn all(kinds: &str) -> String {
    format!("/v1/get?kinds={}&all=true", encode(kinds))
}

pub async fn pods(c: &Client) -> Update {
    match c.get(&all("pods")).await {
        Ok(v) => Update::Pods(v),
        Err(e) => Update::Lost(e.to_string()),
    }
}

pub async fn proxies(c: &Client) -> Update {
    match c.get("/v1/proxies").await {
        Ok(v) => Update::Proxies(v),
        Err(e) => Update::Lost(e.to_string()),
    }
}

pub async fn resources(c: &Client) -> Update {
    match c.get(&all(RESOURCE_KINDS)).await {
        Ok(v) => Update::Resources(v),
        Err(e) => Update::Failed(format!("listing resources: {e}")),
    }
}

/// A proxy's admin address, as `proxy-config` resolves a target.
async fn admin_of(c: &Client, proxy: &str) -> Result<SocketAddr, String> {
    let p = c
        .get(&format!("/v1/proxy?target={}", encode(proxy)))
        .await
        .map_err(|e| e.to_string())?;
    p["admin"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| format!("proxy {proxy} has no admin API"))
}

async fn admin(addr: SocketAddr, method: http::Method, path: &str) -> Result<String, String> {
    match admin_request(addr, method, path).await {
        Ok((200, body)) => Ok(body),
        Ok((status, body)) => Err(format!(
            "the proxy's admin API answered {status} to {path}: {}",
            body.trim()
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// `/config_dump` and `/clusters?format=json` of one proxy.
pub async fn config(c: &Client, proxy: &str) -> Update {
    let result = async {
        let addr = admin_of(c, proxy).await?;
        let dump = admin(addr, http::Method::GET, "/config_dump").await?;
        let clusters = admin(addr, http::Method::GET, "/clusters?format=json").await?;
        Ok((
            ConfigDump::parse(&dump).map_err(|e| e.to_string())?,
            AdminClusters::parse(&clusters).map_err(|e| e.to_string())?,
        ))
    }
    .await;
    Update::Config {
        proxy: proxy.to_owned(),
        result,
    }
}

/// `proxy-config log P --level L`.
pub async fn log_level(c: &Client, proxy: &str, level: &str) -> Update {
    let result = async {
        let addr = admin_of(c, proxy).await?;
        let loggers = admin(addr, http::Method::POST, "/logging").await?;
        let queries = pc::log_requests(&LogChange::Levels(level.to_owned()), &loggers)
            .map_err(|e| e.to_string())?;
        for q in queries {
            admin(addr, http::Method::POST, &format!("/logging?{q}")).await?;
        }
        Ok::<_, String>(format!("{proxy}: log level {level}"))
    }
    .await;
    done(result)
}

fn done(result: Result<String, String>) -> Update {
    match result {
        Ok(m) => Update::Done(m),
        Err(e) => Update::Failed(e),
    }
}

/// The API's error with its diagnostics (`file:line:column: …`), one per line.
pub fn api_error(e: &ClientError) -> String {
    match e {
        ClientError::Api { body, .. } => {
            let mut text = body["error"]
                .as_str()
                .unwrap_or("request failed")
                .to_owned();
            for d in body["diagnostics"].as_array().into_iter().flatten() {
                if let Some(d) = d.as_str()
                    && !text.contains(d)
                {
                    text.push('\n');
                    text.push_str(d);
                }
            }
            text
        }
        other => other.to_string(),
    }
}

pub async fn delete(c: &Client, kind: &str, name: &str, namespace: &str) -> Update {
    let body = json!({"kind": kind, "names": [name], "namespace": namespace});
    done(
        c.post("/v1/delete", &body)
            .await
            .map(|v| strings(&v["deleted"]).join(", "))
            .map_err(|e| api_error(&e)),
    )
}

pub async fn scale(c: &Client, name: &str, namespace: &str, replicas: i32) -> Update {
    let body =
        json!({"kind": "deployment", "name": name, "namespace": namespace, "replicas": replicas});
    done(
        c.post("/v1/scale", &body)
            .await
            .map(|v| v["result"].as_str().unwrap_or("").to_owned())
            .map_err(|e| api_error(&e)),
    )
}

/// `mesh apply -f FILE` of an edited object: all or nothing, errors with file:line:column.
pub async fn apply(c: &Client, source: &str, text: &str, namespace: &str) -> Update {
    let body = json!({
        "documents": [{"source": source, "text": text}],
        "namespace": if namespace.is_empty() { Value::Null } else { Value::from(namespace) },
    });
    done(
        c.post("/v1/apply", &body)
            .await
            .map(|v| {
                let mut parts = strings(&v["results"]);
                parts.extend(
                    strings(&v["warnings"])
                        .into_iter()
                        .map(|w| format!("Warning: {w}")),
                );
                parts.join("; ")
            })
            .map_err(|e| api_error(&e)),
    )
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(|s| s.as_str().map(str::to_owned))
        .collect()
}

/// The `logs -f` request for one container.
pub fn logs_path(namespace: &str, pod: &str, container: &str) -> String {
    format!(
        "/v1/logs?target={}&namespace={}&container={}&tail=1000&follow=true",
        encode(pod),
        encode(namespace),
        encode(container)
    )
}
