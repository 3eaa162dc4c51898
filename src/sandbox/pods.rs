//! Running a Pod: its addresses, the built-in app of each container image, and its
//! `istio-proxy` — a sidecar that captures the pod's ports and its outbound connections, or, for
//! a gateway pod, the gateway itself. A pod's status says what runs.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::api::k8s::{Container, Pod, PodStatus};
use crate::apps::registry::{self, AppContext, AppKind, RunningApp};
use crate::net::dial::Dialer;
use crate::net::resolve::Resolver;
use crate::pilot::bootstrap::ProxyIdentity;
use crate::pilot::names::ProxyType;
use crate::pilot::push::Connections;

use super::controllers::is_proxy_image;
use super::dialers::{Directory, KubeProxyDialer, SidecarDialer};
use super::logs::ContainerLog;
use super::proxies::ProxyRuntime;

/// What a pod is, for the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodKind {
    /// App containers, maybe with a sidecar.
    Workload { sidecar: bool },
    /// Only `istio-proxy`, as a gateway.
    Gateway,
    /// istiod: the control plane is mesh itself, so the pod runs nothing.
    ControlPlane,
}

pub fn kind_of(pod: &Pod) -> PodKind {
    let images: Vec<&str> = pod
        .spec
        .containers
        .iter()
        .filter_map(|c| c.image.as_deref())
        .collect();
    if images.iter().any(|i| i.contains("istio/pilot")) {
        return PodKind::ControlPlane;
    }
    let app_containers = pod
        .spec
        .containers
        .iter()
        .filter(|c| c.name != "istio-proxy")
        .count();
    if app_containers == 0
        || (pod.spec.containers.len() == 1 && images.first().is_some_and(|i| is_proxy_image(i)))
    {
        return PodKind::Gateway;
    }
    PodKind::Workload {
        sidecar: pod.spec.containers.iter().any(|c| c.name == "istio-proxy"),
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PodError {
    #[error("{0}")]
    App(#[from] registry::AppError),
    #[error("{0}")]
    Image(#[from] registry::UnknownImage),
    #[error("istio-proxy did not start: {0}")]
    Proxy(#[from] crate::proxy::StartError),
    #[error("cannot capture {addr} for the sidecar: {source}")]
    Capture {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// What starting pods needs from the sandbox.
pub struct PodEnv<'a> {
    pub connections: &'a Connections,
    pub directory: Arc<Directory>,
    pub resolver: Resolver,
    /// The CA, for each proxy's workload certificate.
    pub identity: Arc<super::identity::Identity>,
    /// `(kind, namespace, name, key)` → value, for `secretKeyRef` and `configMapKeyRef`.
    pub lookup: &'a (dyn Fn(&str, &str, &str, &str) -> Option<String> + Sync),
}

/// A running pod.
pub struct PodRuntime {
    pub namespace: String,
    pub name: String,
    pub ip: Ipv4Addr,
    pub localhost: Ipv4Addr,
    pub kind: PodKind,
    /// The Deployment it belongs to (its own name for a bare pod).
    pub workload: String,
    /// `kubectl.kubernetes.io/default-container`, for `logs` without `-c`.
    pub default_container: Option<String>,
    pub proxy: Option<ProxyRuntime>,
    /// How the pod's processes reach the network: through the sidecar, or kube-proxy's way.
    pub network: Option<Arc<dyn Dialer>>,
    /// `mesh exec`'s forward proxy into the pod's network, once asked for.
    pub exec_proxy: Option<SocketAddr>,
    apps: Vec<RunningApp>,
    pub logs: BTreeMap<String, Arc<ContainerLog>>,
    stop: CancellationToken,
    pub started_at: String,
    /// The ports the sidecar captured (what `ss -ltn` would show on the pod IP).
    pub captured: Vec<SocketAddr>,
}

impl std::fmt::Debug for PodRuntime {
    // `network` is a trait object without Debug.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PodRuntime")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .field("ip", &self.ip)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// The Deployment a pod belongs to: its ReplicaSet's name without the template hash.
pub fn workload_name(pod: &Pod) -> String {
    pod.metadata
        .owner_references
        .iter()
        .find(|o| o.kind == "ReplicaSet")
        .and_then(|o| o.name.rsplit_once('-').map(|(w, _)| w.to_owned()))
        .unwrap_or_else(|| pod.metadata.name.clone())
}

/// A container's environment with `valueFrom` resolved.
fn environment(c: &Container, pod: &Pod, ip: IpAddr, env: &PodEnv<'_>) -> BTreeMap<String, String> {
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let mut out = BTreeMap::new();
    for e in &c.env {
        let value = match (&e.value, &e.value_from) {
            (Some(v), _) => Some(v.clone()),
            (None, Some(from)) => {
                if let Some(f) = &from.field_ref {
                    match f.field_path.as_str() {
                        "metadata.name" => Some(pod.metadata.name.clone()),
                        "metadata.namespace" => Some(ns.clone()),
                        "status.podIP" => Some(ip.to_string()),
                        "status.hostIP" => Some("127.0.0.1".to_owned()),
                        "spec.nodeName" => pod.spec.node_name.clone(),
                        "spec.serviceAccountName" => Some(pod.spec.service_account().to_owned()),
                        path => path
                            .strip_prefix("metadata.labels['")
                            .and_then(|l| l.strip_suffix("']"))
                            .and_then(|l| pod.metadata.labels.get(l).cloned()),
                    }
                } else if let Some(k) = &from.secret_key_ref {
                    (env.lookup)("Secret", &ns, &k.name, &k.key)
                } else if let Some(k) = &from.config_map_key_ref {
                    (env.lookup)("ConfigMap", &ns, &k.name, &k.key)
                } else {
                    None
                }
            }
            (None, None) => Some(String::new()),
        };
        if let Some(v) = value {
            out.insert(e.name.clone(), v);
        }
    }
    out
}

impl PodRuntime {
    /// `files`: each container's mounted volumes (see [`super::volumes`]).
    pub async fn start(
        pod: &Pod,
        ip: Ipv4Addr,
        localhost: Ipv4Addr,
        files: &BTreeMap<String, super::volumes::MountedFiles>,
        env: &PodEnv<'_>,
    ) -> Result<PodRuntime, PodError> {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let kind = kind_of(pod);
        let logs: BTreeMap<String, Arc<ContainerLog>> = pod
            .spec
            .containers
            .iter()
            .map(|c| (c.name.clone(), ContainerLog::new()))
            .collect();
        let stop = CancellationToken::new();
        let mut runtime = PodRuntime {
            namespace: ns.clone(),
            name: pod.metadata.name.clone(),
            ip,
            localhost,
            kind,
            workload: workload_name(pod),
            default_container: pod
                .metadata
                .annotations
                .get("kubectl.kubernetes.io/default-container")
                .cloned(),
            proxy: None,
            network: None,
            exec_proxy: None,
            apps: Vec::new(),
            logs,
            stop: stop.clone(),
            started_at: now_rfc3339(),
            captured: Vec::new(),
        };
        let identity = |kind: ProxyType| ProxyIdentity {
            kind,
            pod: pod.metadata.name.clone(),
            namespace: ns.clone(),
            ip: IpAddr::V4(ip),
            labels: pod.metadata.labels.clone(),
            service_account: pod.spec.service_account().to_owned(),
            workload: workload_name(pod),
            app_ip: IpAddr::V4(localhost),
        };
        let proxy_log = runtime
            .logs
            .get("istio-proxy")
            .cloned()
            .unwrap_or_else(ContainerLog::new);
        match kind {
            PodKind::ControlPlane => {
                for log in runtime.logs.values() {
                    log.write("info\tistiod is mesh's in-process control plane; this pod runs nothing of its own");
                }
                return Ok(runtime);
            }
            PodKind::Gateway => {
                let p = ProxyRuntime::start(
                    identity(ProxyType::Router),
                    env.connections,
                    proxy_log,
                    env.resolver.clone(),
                    env.identity.clone(),
                )
                .await?;
                runtime.proxy = Some(p);
                return Ok(runtime);
            }
            PodKind::Workload { sidecar: true } => {
                let p = ProxyRuntime::start(
                    identity(ProxyType::Sidecar),
                    env.connections,
                    proxy_log,
                    env.resolver.clone(),
                    env.identity.clone(),
                )
                .await?;
                runtime.proxy = Some(p);
            }
            PodKind::Workload { sidecar: false } => {}
        }
        let sidecar = runtime.proxy.as_ref().map(|p| p.proxy.clone());
        let bind = if sidecar.is_some() {
            IpAddr::V4(localhost)
        } else {
            IpAddr::V4(ip)
        };
        let mut to_capture: Vec<u16> = Vec::new();
        let dialer: Arc<dyn Dialer> = match &sidecar {
            Some(proxy) => Arc::new(SidecarDialer {
                directory: env.directory.clone(),
                resolver: env.resolver.clone(),
                namespace: ns.clone(),
                pod_ip: IpAddr::V4(ip),
                localhost: IpAddr::V4(localhost),
                sidecar: proxy.clone(),
                next_port: Default::default(),
            }),
            None => Arc::new(KubeProxyDialer {
                directory: env.directory.clone(),
                resolver: env.resolver.clone(),
                namespace: ns.clone(),
                pod_ip: IpAddr::V4(ip),
            }),
        };
        runtime.network = Some(dialer.clone());
        for c in pod
            .spec
            .containers
            .iter()
            .filter(|c| c.name != "istio-proxy")
        {
            let image = c.image.as_deref().unwrap_or("");
            let app = registry::app_for_image(image)?;
            let log = runtime
                .logs
                .get(&c.name)
                .cloned()
                .unwrap_or_else(ContainerLog::new);
            let ports: Vec<u16> = c
                .ports
                .iter()
                .filter_map(|p| u16::try_from(p.container_port).ok())
                .collect();
            if app == AppKind::Client {
                continue;
            }
            let running = registry::start(
                app,
                AppContext {
                    pod_name: pod.metadata.name.clone(),
                    namespace: ns.clone(),
                    pod_ip: IpAddr::V4(ip),
                    node_name: pod.spec.node_name.clone().unwrap_or_default(),
                    service_account: pod.spec.service_account().to_owned(),
                    env: environment(c, pod, IpAddr::V4(ip), env),
                    bind,
                    ports: ports.clone(),
                    command: c.command.clone(),
                    args: c.args.clone(),
                    files: files.get(&c.name).cloned().unwrap_or_default().into(),
                    dialer: dialer.clone(),
                    log: log.sink(),
                    shutdown: stop.child_token(),
                },
            )
            .await?;
            to_capture.extend(ports);
            to_capture.extend(running.addresses.iter().map(SocketAddr::port));
            runtime.apps.push(running);
        }
        // The sidecar takes every port the pod serves (what iptables' REDIRECT does).
        if let Some(proxy) = &sidecar {
            to_capture.sort_unstable();
            to_capture.dedup();
            for port in to_capture {
                let addr = SocketAddr::new(IpAddr::V4(ip), port);
                let bound = proxy
                    .capture_inbound(addr)
                    .await
                    .map_err(|source| PodError::Capture { addr, source })?;
                runtime.captured.push(bound);
            }
        }
        Ok(runtime)
    }

    /// A token cancelled when the pod stops (for helpers tied to its life).
    pub fn stopped(&self) -> CancellationToken {
        self.stop.child_token()
    }

    pub fn workload(&self) -> &str {
        &self.workload
    }

    /// Stops the apps and the proxy (draining up to `grace`).
    pub async fn stop(self, connections: &Connections, grace: Duration) {
        self.stop.cancel();
        if let Some(p) = &self.proxy {
            p.stop(connections, grace).await;
        }
        for app in self.apps {
            let _ = tokio::time::timeout(grace, app.stopped()).await;
        }
    }

    /// The pod's status as Kubernetes would report it once running.
    pub fn status(&self, pod: &Pod) -> PodStatus {
        let containers: Vec<serde_json::Value> = pod
            .spec
            .containers
            .iter()
            .map(|c| {
                json!({
                    "name": c.name,
                    "ready": true,
                    "restartCount": 0,
                    "image": c.image.clone().unwrap_or_default(),
                    "imageID": format!("{}@sha256:mesh-built-in", c.image.clone().unwrap_or_default()),
                    "containerID": format!("mesh://{}/{}", self.name, c.name),
                    "started": true,
                    "state": {"running": {"startedAt": self.started_at}},
                })
            })
            .collect();
        let inits: Vec<serde_json::Value> = pod
            .spec
            .init_containers
            .iter()
            .map(|c| {
                json!({
                    "name": c.name, "ready": true, "restartCount": 0,
                    "image": c.image.clone().unwrap_or_default(), "imageID": "",
                    "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": self.started_at, "finishedAt": self.started_at}},
                })
            })
            .collect();
        let cond =
            |t: &str| json!({"type": t, "status": "True", "lastTransitionTime": self.started_at});
        serde_json::from_value(json!({
            "phase": "Running",
            "podIP": self.ip.to_string(),
            "podIPs": [{"ip": self.ip.to_string()}],
            "hostIP": "127.0.0.1",
            "hostIPs": [{"ip": "127.0.0.1"}],
            "startTime": self.started_at,
            "qosClass": "BestEffort",
            "conditions": [cond("PodReadyToStartContainers"), cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
            "containerStatuses": containers,
            "initContainerStatuses": inits,
        }))
        .unwrap_or_default()
    }
}
