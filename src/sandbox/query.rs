//! What kubectl's and istioctl's reading commands ask a sandbox: objects by kind (`get`), a
//! container's log (`logs`), the connected proxies and their sync state (`proxy-status`), and
//! which proxy a `proxy-config` target means.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::sync::broadcast;

use crate::api::{KindInfo, Resource, kinds};
use crate::pilot::names::ProxyType;
use crate::pilot::push::{Connection, SyncStatus};
use crate::xds::type_url;

use super::instance::Sandbox;
use super::logs::ContainerLog;
use super::ops::{OpError, is_kind, not_found};

/// One kind's objects, as `get` returns them.
#[derive(Debug, Clone)]
pub struct Listing {
    pub info: &'static KindInfo,
    pub items: Vec<Value>,
}

/// A label selector as `-l` takes it: `k=v`, `k==v`, `k!=v`, `k`, `!k`, comma-separated.
pub fn selector_matches(
    selector: &str,
    labels: &std::collections::BTreeMap<String, String>,
) -> bool {
    selector
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .all(|term| {
            if let Some((k, v)) = term.split_once("!=") {
                labels.get(k.trim()).map(String::as_str) != Some(v.trim())
            } else if let Some((k, v)) = term.split_once("==").or_else(|| term.split_once('=')) {
                labels.get(k.trim()).map(String::as_str) == Some(v.trim())
            } else if let Some(k) = term.strip_prefix('!') {
                !labels.contains_key(k.trim())
            } else {
                labels.contains_key(term)
            }
        })
}

/// A connected proxy, as `proxy-status` and `proxy-config` see it.
#[derive(Debug, Clone)]
pub struct ProxyInfo {
    /// `<pod>.<namespace>`
    pub name: String,
    pub pod: String,
    pub namespace: String,
    /// `sidecar` or `router`.
    pub kind: &'static str,
    /// The proxy's own admin API (what istioctl port-forwards to).
    pub admin: Option<SocketAddr>,
    pub connection: Arc<Connection>,
}

impl ProxyInfo {
    pub fn to_json(&self) -> Value {
        let status = |t: &str| match self.connection.status(t) {
            SyncStatus::NotSent => json!({"status": "NOT SENT"}),
            SyncStatus::Synced { since } => {
                json!({"status": "SYNCED", "sentSecondsAgo": since.elapsed().unwrap_or_default().as_secs()})
            }
            SyncStatus::Stale { since } => {
                json!({"status": "STALE", "sentSecondsAgo": since.elapsed().unwrap_or_default().as_secs()})
            }
            SyncStatus::Error { since, reason } => {
                json!({"status": "ERROR", "sentSecondsAgo": since.elapsed().unwrap_or_default().as_secs(), "reason": reason})
            }
        };
        json!({
            "name": self.name,
            "pod": self.pod,
            "namespace": self.namespace,
            "type": self.kind,
            "admin": self.admin.map(|a| a.to_string()),
            "cluster": "Kubernetes",
            "version": crate::pilot::names::ISTIO_VERSION,
            "cds": status(type_url::CLUSTER),
            "lds": status(type_url::LISTENER),
            "eds": status(type_url::ENDPOINT),
            "rds": status(type_url::ROUTE),
            "ecds": {"status": "NOT SENT"},
        })
    }
}

impl Sandbox {
    /// `kubectl get KIND[,KIND] [NAME]`: objects of each kind, in one namespace or all.
    pub async fn get(
        &self,
        kinds_csv: &str,
        name: Option<&str>,
        namespace: Option<&str>,
        all_namespaces: bool,
        selector: Option<&str>,
    ) -> Result<Vec<Listing>, OpError> {
        let mut infos = Vec::new();
        for k in kinds_csv
            .split(',')
            .map(str::trim)
            .filter(|k| !k.is_empty())
        {
            if k == "all" {
                for kind in ["pods", "services", "deployments", "replicasets"] {
                    infos.extend(kinds::resolve(kind).ok());
                }
                continue;
            }
            infos.push(kinds::resolve(k).map_err(|e| OpError::BadRequest(e.to_string()))?);
        }
        if infos.is_empty() {
            return Err(OpError::BadRequest(
                "You must specify the type of resource to get.".into(),
            ));
        }
        let inner = self.inner.lock().await;
        let ns = namespace.unwrap_or("default");
        let mut out = Vec::new();
        for info in infos {
            let mut items: Vec<Value> = inner
                .store
                .all()
                .map(|s| &s.resource)
                .filter(|r| is_kind(&r.key(), info))
                .filter(|r| !info.namespaced || all_namespaces || r.namespace() == Some(ns))
                .filter(|r| name.is_none_or(|n| r.name() == n))
                .filter(|r| selector.is_none_or(|sel| selector_matches(sel, &r.meta().labels)))
                .map(Resource::to_value)
                .collect();
            if let Some(n) = name
                && items.is_empty()
            {
                return Err(not_found(info, n));
            }
            items.sort_by(|a, b| {
                let key = |v: &Value| {
                    (
                        v["metadata"]["namespace"].as_str().unwrap_or("").to_owned(),
                        v["metadata"]["name"].as_str().unwrap_or("").to_owned(),
                    )
                };
                key(a).cmp(&key(b))
            });
            out.push(Listing { info, items });
        }
        Ok(out)
    }

    /// The pod a `logs`/`exec` target means: `NAME`, `pod/NAME`, `deploy/NAME`.
    pub async fn find_pod(
        &self,
        target: &str,
        namespace: Option<&str>,
    ) -> Result<(String, String), OpError> {
        let ns = namespace.unwrap_or("default").to_owned();
        let inner = self.inner.lock().await;
        let (kind, name) = target.split_once('/').unwrap_or(("pod", target));
        let info = kinds::resolve(kind).map_err(|e| OpError::BadRequest(e.to_string()))?;
        match info.kind {
            "Pod" => {
                let found = inner.pods.keys().any(|(n, p)| *n == ns && p == name);
                if found {
                    Ok((ns, name.to_owned()))
                } else {
                    Err(not_found(info, name))
                }
            }
            "Deployment" => {
                let prefix = format!("{name}-");
                inner
                    .pods
                    .keys()
                    .find(|(n, p)| {
                        *n == ns
                            && p.starts_with(&prefix)
                            && inner.pods[&(n.clone(), p.clone())].workload() == name
                    })
                    .cloned()
                    .ok_or_else(|| not_found(info, name))
            }
            _ => Err(OpError::BadRequest(format!(
                "cannot find a pod for {target}: use a pod name or deploy/NAME"
            ))),
        }
    }

    /// A container's log: its lines so far (the last `tail`), and new ones when following.
    pub async fn logs(
        &self,
        target: &str,
        namespace: Option<&str>,
        container: Option<&str>,
        tail: Option<usize>,
        follow: bool,
    ) -> Result<(Vec<String>, Option<broadcast::Receiver<String>>), OpError> {
        let id = self.find_pod(target, namespace).await?;
        let inner = self.inner.lock().await;
        let pod = inner
            .pods
            .get(&id)
            .ok_or_else(|| OpError::NotFound(format!("pods \"{}\" not found", id.1)))?;
        let log: Arc<ContainerLog> = match container {
            Some(c) => pod.logs.get(c).cloned().ok_or_else(|| {
                OpError::BadRequest(format!("container {c} is not valid for pod {}", id.1))
            })?,
            None => {
                let default = pod.default_container.clone();
                match default.and_then(|c| pod.logs.get(&c).cloned()) {
                    Some(l) => l,
                    None if pod.logs.len() == 1 => {
                        pod.logs.values().next().cloned().unwrap_or_default()
                    }
                    None => {
                        return Err(OpError::BadRequest(format!(
                            "a container name must be specified for pod {}, choose one of: [{}]",
                            id.1,
                            pod.logs.keys().cloned().collect::<Vec<_>>().join(" ")
                        )));
                    }
                }
            }
        };
        let rx = follow.then(|| log.follow());
        Ok((log.lines(tail), rx))
    }

    /// Every connected proxy, sorted by name.
    pub async fn proxies(&self) -> Vec<ProxyInfo> {
        let inner = self.inner.lock().await;
        let mut out: Vec<ProxyInfo> = inner
            .pods
            .values()
            .filter_map(|p| {
                let rt = p.proxy.as_ref()?;
                Some(ProxyInfo {
                    name: rt.identity.name(),
                    pod: p.name.clone(),
                    namespace: p.namespace.clone(),
                    kind: match rt.identity.kind {
                        ProxyType::Router => "router",
                        ProxyType::Sidecar => "sidecar",
                    },
                    admin: rt.proxy.admin_address(),
                    connection: rt.connection.clone(),
                })
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// The proxy a `proxy-config` target means: `POD`, `POD.NAMESPACE`, `pod/POD`,
    /// `deploy/NAME[.NAMESPACE]`, or any part of one proxy's name.
    pub async fn resolve_proxy(
        &self,
        target: &str,
        namespace: Option<&str>,
    ) -> Result<ProxyInfo, OpError> {
        let proxies = self.proxies().await;
        let no_proxy = || {
            OpError::NotFound(format!(
                "no proxy matches {target:?}; `mesh proxy-status` lists the proxies"
            ))
        };
        let (kind, rest) = match target.split_once('/') {
            Some((k, r)) => (Some(k), r),
            None => (None, target),
        };
        // `NAME.NAMESPACE` (istioctl's form) unless -n says otherwise.
        let (name, ns) = match (rest.rsplit_once('.'), namespace) {
            (Some((n, ns)), None) if proxies.iter().any(|p| p.namespace == ns) => (n, Some(ns)),
            _ => (rest, namespace),
        };
        let in_ns = |p: &&ProxyInfo| ns.is_none_or(|ns| p.namespace == ns);
        if let Some(kind) = kind {
            let info = kinds::resolve(kind).map_err(|e| OpError::BadRequest(e.to_string()))?;
            let ns = ns.unwrap_or("default");
            let found = match info.kind {
                "Pod" => proxies.iter().find(|p| p.pod == name && p.namespace == ns),
                "Deployment" => {
                    let pods = self.pods_of_deployment(name, ns).await;
                    proxies
                        .iter()
                        .find(|p| p.namespace == ns && pods.contains(&p.pod))
                }
                _ => {
                    return Err(OpError::BadRequest(format!(
                        "{target}: use POD, POD.NAMESPACE, pod/NAME or deploy/NAME"
                    )));
                }
            };
            return found.cloned().ok_or_else(no_proxy);
        }
        if let Some(p) = proxies
            .iter()
            .filter(in_ns)
            .find(|p| p.pod == name || p.name == rest)
        {
            return Ok(p.clone());
        }
        let matches: Vec<&ProxyInfo> = proxies
            .iter()
            .filter(in_ns)
            .filter(|p| p.name.contains(rest))
            .collect();
        match matches.as_slice() {
            [one] => Ok((*one).clone()),
            [] => Err(no_proxy()),
            many => Err(OpError::BadRequest(format!(
                "{target:?} matches {} proxies: {}; give more of the name",
                many.len(),
                many.iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }

    async fn pods_of_deployment(&self, name: &str, ns: &str) -> Vec<String> {
        let inner = self.inner.lock().await;
        inner
            .pods
            .iter()
            .filter(|((n, _), p)| n == ns && p.workload() == name)
            .map(|((_, p), _)| p.clone())
            .collect()
    }
}

impl Sandbox {
    /// The istiod pod's name (the ISTIOD column), when the scenario runs one.
    pub async fn istiod_pod(&self) -> Option<String> {
        let inner = self.inner.lock().await;
        inner
            .pods
            .values()
            .find(|p| p.kind == super::pods::PodKind::ControlPlane)
            .map(|p| p.name.clone())
    }
}
