//! The sandbox's local API: request paths → the sandbox's operations and queries. JSON in and
//! out; errors carry kubectl's message (and `diagnostics`, one line each, for bad documents).
//!
//! | method, path | does |
//! | --- | --- |
//! | `GET /v1/info` | name, node ports, pods, proxies |
//! | `POST /v1/apply` `{documents, namespace, create}` | apply (or create) all-or-nothing |
//! | `POST /v1/delete` `{documents}` or `{kind, names, all}` | delete |
//! | `GET /v1/get?kinds&name&namespace&all&selector` | objects by kind |
//! | `POST /v1/install` `{documents, set}` | istioctl install: IstioOperator files + `--set` |
//! | `POST /v1/scale` `{kind, name, namespace, replicas}` | scale |
//! | `POST /v1/label` `{kind, name, namespace, labels, overwrite}` | label (`null` removes) |
//! | `GET /v1/logs?target&namespace&container&tail&follow` | text lines, streamed with follow |
//! | `GET /v1/proxies` | proxy-status rows |
//! | `GET /v1/proxy?target&namespace` | the proxy a proxy-config target means |
//! | `POST /v1/exec` `{target, namespace}` | the pod's forward proxy for `exec` |
//! | `GET /v1/watch?since&timeout` | long poll: answers `{version}` once the store's version is not `since` (at once if it already differs), or after `timeout` seconds (default 30) with the same version |
//! | `POST /v1/shutdown` | stops the sandbox |

use std::net::SocketAddr;
use std::sync::Arc;

use http::{Method, StatusCode};
use serde_json::{Value, json};

use super::api_server::{self, ApiRequest, Reply, ReplyFuture, Routes};
use super::install::operator::{InstallFile, resolve_in};
use super::instance::Sandbox;
use super::ops::{Document, OpError};
use super::registry::{self, ApiFile};

/// The API of one sandbox.
pub struct SandboxApi(pub Arc<Sandbox>);

fn error_reply(e: &OpError) -> Reply {
    let status = match e {
        OpError::Invalid(_) => StatusCode::UNPROCESSABLE_ENTITY,
        OpError::NotFound(_) => StatusCode::NOT_FOUND,
        OpError::AlreadyExists(_) => StatusCode::CONFLICT,
        OpError::BadRequest(_) => StatusCode::BAD_REQUEST,
    };
    let diagnostics: Vec<String> = match e {
        OpError::Invalid(d) => d.iter().map(ToString::to_string).collect(),
        _ => Vec::new(),
    };
    Reply::Json(
        status,
        json!({"error": e.to_string(), "diagnostics": diagnostics}),
    )
}

fn documents(body: &Value) -> Vec<Document> {
    body["documents"]
        .as_array()
        .map(|docs| {
            docs.iter()
                .map(|d| Document {
                    source: d["source"].as_str().unwrap_or("-").to_owned(),
                    text: d["text"].as_str().unwrap_or("").to_owned(),
                })
                .collect()
        })
        .unwrap_or_default()
}

fn str_field<'a>(body: &'a Value, name: &str) -> Option<&'a str> {
    body[name].as_str().filter(|s| !s.is_empty())
}

fn missing(field: &str) -> Reply {
    Reply::error(StatusCode::BAD_REQUEST, format!("missing field {field:?}"))
}

impl Routes for SandboxApi {
    fn route(&self, req: ApiRequest) -> ReplyFuture<'_> {
        Box::pin(async move {
            let sb = &self.0;
            let body = &req.body;
            let ns = req
                .param("namespace")
                .filter(|s| !s.is_empty())
                .or_else(|| str_field(body, "namespace"));
            match (req.method.clone(), req.path.as_str()) {
                (Method::GET, "/v1/info") => Reply::ok(sb.info().await),
                (Method::POST, "/v1/apply") => {
                    let docs = documents(body);
                    let warnings_before = sb.pilot.warnings();
                    let result = if body["create"].as_bool() == Some(true) {
                        sb.create(&docs, ns).await
                    } else {
                        sb.apply(&docs, ns).await
                    };
                    match result {
                        Ok(applied) => {
                            let mut warnings: Vec<String> = applied
                                .iter()
                                .filter(|a| !a.acted_on)
                                .map(|a| {
                                    format!(
                                        "{} is stored, but mesh does not act on {} yet",
                                        a.key, a.key.kind
                                    )
                                })
                                .collect();
                            warnings.extend(
                                sb.pilot
                                    .warnings()
                                    .into_iter()
                                    .filter(|w| !warnings_before.contains(w)),
                            );
                            Reply::ok(json!({
                                "results": applied.iter().map(ToString::to_string).collect::<Vec<_>>(),
                                "warnings": warnings,
                            }))
                        }
                        Err(e) => error_reply(&e),
                    }
                }
                (Method::POST, "/v1/delete") => {
                    let ignore = body["ignoreNotFound"].as_bool() == Some(true);
                    let result = if body["documents"].is_array() {
                        sb.delete_documents(&documents(body), ns, ignore).await
                    } else {
                        let Some(kind) = str_field(body, "kind") else {
                            return missing("kind");
                        };
                        let names: Vec<String> = body["names"]
                            .as_array()
                            .map(|a| {
                                a.iter()
                                    .filter_map(|n| n.as_str().map(str::to_owned))
                                    .collect()
                            })
                            .unwrap_or_default();
                        sb.delete(
                            kind,
                            &names,
                            ns,
                            body["all"].as_bool() == Some(true),
                            ignore,
                        )
                        .await
                    };
                    match result {
                        Ok(keys) => Reply::ok(json!({"deleted": keys.iter().map(|k| {
                            // kubectl: `deployment.apps "catalog" deleted`
                            let kind = k.kind.to_ascii_lowercase();
                            let kind = if k.group.is_empty() { kind } else { format!("{kind}.{}", k.group) };
                            format!("{kind} \"{}\" deleted", k.name)
                        }).collect::<Vec<_>>()})),
                        Err(e) => error_reply(&e),
                    }
                }
                (Method::GET, "/v1/get") => {
                    let kinds = req.param("kinds").unwrap_or("");
                    let name = req.param("name").filter(|s| !s.is_empty());
                    match sb
                        .get(
                            kinds,
                            name,
                            ns,
                            req.flag("all"),
                            req.param("selector").filter(|s| !s.is_empty()),
                        )
                        .await
                    {
                        Ok(listings) => {
                            Reply::ok(json!({"listings": listings.iter().map(|l| json!({
                            "kind": l.info.kind,
                            "group": l.info.group,
                            "plural": l.info.plural,
                            "namespaced": l.info.namespaced,
                            "actedOn": l.info.acted_on,
                            "items": l.items,
                        })).collect::<Vec<_>>()}))
                        }
                        Err(e) => error_reply(&e),
                    }
                }
                (Method::POST, "/v1/install") => {
                    let files: Vec<InstallFile> = documents(body)
                        .into_iter()
                        .map(|d| InstallFile {
                            source: d.source,
                            text: d.text,
                        })
                        .collect();
                    let set: Vec<String> = body["set"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|s| s.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default();
                    let op = match resolve_in(&files, &set, ns) {
                        Ok(op) => op,
                        Err(d) => return error_reply(&OpError::Invalid(d)),
                    };
                    match sb.install(&op).await {
                        Ok(report) => Reply::ok(json!({
                            "operator": format!("{}/{}", op.namespace, op.name),
                            "profile": op.profile,
                            "components": report.components,
                            "applied": report.applied,
                            "removed": report.removed,
                            "warnings": report.warnings,
                        })),
                        Err(e) => error_reply(&e),
                    }
                }
                (Method::POST, "/v1/scale") => {
                    let (Some(kind), Some(name)) =
                        (str_field(body, "kind"), str_field(body, "name"))
                    else {
                        return missing("kind/name");
                    };
                    let Some(replicas) = body["replicas"]
                        .as_i64()
                        .and_then(|r| i32::try_from(r).ok())
                    else {
                        return missing("replicas");
                    };
                    match sb.scale(kind, name, ns, replicas).await {
                        Ok(key) => Reply::ok(json!({"result": format!("{key} scaled")})),
                        Err(e) => error_reply(&e),
                    }
                }
                (Method::POST, "/v1/label") => {
                    let (Some(kind), Some(name)) =
                        (str_field(body, "kind"), str_field(body, "name"))
                    else {
                        return missing("kind/name");
                    };
                    let changes: Vec<(String, Option<String>)> = body["labels"]
                        .as_object()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.clone(), v.as_str().map(str::to_owned)))
                                .collect()
                        })
                        .unwrap_or_default();
                    match sb
                        .label(
                            kind,
                            name,
                            ns,
                            &changes,
                            body["overwrite"].as_bool() == Some(true),
                        )
                        .await
                    {
                        Ok((key, changed)) => Reply::ok(
                            json!({"result": format!("{key} {}", if changed { "labeled" } else { "not labeled" })}),
                        ),
                        Err(e) => error_reply(&e),
                    }
                }
                (Method::GET, "/v1/logs") => {
                    let Some(target) = req.param("target") else {
                        return missing("target");
                    };
                    let tail = req
                        .param("tail")
                        .and_then(|t| t.parse::<i64>().ok())
                        .and_then(|t| usize::try_from(t).ok());
                    match sb
                        .logs(
                            target,
                            ns,
                            req.param("container").filter(|c| !c.is_empty()),
                            tail,
                            req.flag("follow"),
                        )
                        .await
                    {
                        Ok((lines, rx)) => Reply::Lines(lines, rx),
                        Err(e) => error_reply(&e),
                    }
                }
                (Method::GET, "/v1/proxies") => {
                    let rows: Vec<Value> = sb.proxies().await.iter().map(|p| p.to_json()).collect();
                    let istiod = sb.istiod_pod().await;
                    Reply::ok(json!({"proxies": rows, "istiod": istiod}))
                }
                (Method::GET, "/v1/proxy") => {
                    let Some(target) = req.param("target") else {
                        return missing("target");
                    };
                    match sb.resolve_proxy(target, ns).await {
                        Ok(p) => Reply::ok(p.to_json()),
                        Err(e) => error_reply(&e),
                    }
                }
                (Method::POST, "/v1/exec") => {
                    let Some(target) = str_field(body, "target") else {
                        return missing("target");
                    };
                    match sb.exec_proxy(target, ns).await {
                        Ok((namespace, pod, addr)) => Reply::ok(
                            json!({"namespace": namespace, "pod": pod, "proxy": addr.to_string()}),
                        ),
                        Err(e) => error_reply(&e),
                    }
                }
                (Method::GET, "/v1/watch") => {
                    let since = req.param("since").and_then(|v| v.parse::<u64>().ok());
                    let timeout = req
                        .param("timeout")
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(30)
                        .min(300);
                    Reply::ok(json!({"version": watch_version(sb, since, timeout).await}))
                }
                (Method::POST, "/v1/shutdown") => {
                    sb.shutdown.cancel();
                    Reply::ok(json!({"result": format!("sandbox {} is stopping", sb.name)}))
                }
                (_, path) => Reply::error(StatusCode::NOT_FOUND, format!("no API at {path}")),
            }
        })
    }
}

/// The store's version once it differs from `since` (the `versions` watch channel), or the
/// current one after `timeout_secs`; a watcher (the TUI) holds one of these open at a time
/// instead of polling.
async fn watch_version(sb: &Sandbox, since: Option<u64>, timeout_secs: u64) -> u64 {
    let mut rx = sb.versions.clone();
    let changed = async {
        loop {
            let now = *rx.borrow_and_update();
            if since != Some(now) {
                return now;
            }
            if rx.changed().await.is_err() {
                return now;
            }
        }
    };
    tokio::select! {
        v = tokio::time::timeout(std::time::Duration::from_secs(timeout_secs), changed) => {
            v.unwrap_or_else(|_| *sb.versions.borrow())
        }
        () = sb.shutdown.cancelled() => *sb.versions.borrow(),
    }
}

/// Serves the API on 127.0.0.1 and writes `api.json` (address, token, pid) for the CLI.
pub async fn publish(sandbox: &Arc<Sandbox>) -> std::io::Result<SocketAddr> {
    let token = api_server::new_token();
    let addr = api_server::serve(
        Arc::new(SandboxApi(sandbox.clone())),
        token.clone(),
        sandbox.shutdown.clone(),
    )
    .await?;
    registry::write(
        &sandbox.state,
        &ApiFile {
            name: sandbox.name.clone(),
            address: addr,
            token,
            pid: std::process::id(),
        },
    )?;
    Ok(addr)
}
