//! A running sandbox: the store, the controllers' reconcile pass, the pods, node ports, the
//! control plane it feeds, and the state it keeps on disk.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use futures_util::future::join_all;
use serde_json::{Value, json};
use tokio::sync::{Mutex, watch};
use tokio_util::sync::CancellationToken;

use crate::api::k8s::{Namespace, Pod, Service};
use crate::api::{ObjectMeta, Resource, ResourceKey};
use crate::net::resolve::Resolver;
use crate::pilot::Pilot;

use super::controllers;
use super::dialers::{Directory, DirectoryState};
use super::identity::Identity;
use super::ipam::Ipam;
use super::node_ports::NodePort;
use super::pods::{PodEnv, PodRuntime};
use super::scenario::{PortMapping, Scenario};
use super::slots::{Slot, SlotError};
use super::state_dir::{StateDir, StateRoot};
use super::store::Store;

/// How long stopping pods may drain connections.
pub const DRAIN: Duration = Duration::from_secs(1);

/// What `mesh up` (or a test) asks for.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    pub name: String,
    pub state_root: StateRoot,
    pub scenario: Scenario,
    /// Bind every node-port mapping's host side on a free port (tests) instead of its
    /// `hostPort`.
    pub ephemeral_ports: bool,
    pub resolver: Resolver,
    /// Ignore what an earlier run of this sandbox applied.
    pub fresh: bool,
    /// Workload certificate lifetime (istio-agent's `SECRET_TTL`, 24 h); renewed at half.
    pub workload_cert_ttl: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error(
        "sandbox {name:?} is already running (pid {pid}); stop it with `mesh down --name {name}`"
    )]
    AlreadyRunning { name: String, pid: u32 },
    #[error(transparent)]
    Slot(#[from] SlotError),
    #[error("cannot publish node port {node_port} on {host}{owner}: {source}")]
    PortInUse {
        host: SocketAddr,
        node_port: u16,
        owner: String,
        source: std::io::Error,
    },
    #[error("state directory {path}: {source}")]
    State {
        path: String,
        source: std::io::Error,
    },
    #[error("the saved state in {path} is unreadable: {reason}; start with --fresh to discard it")]
    Restore { path: String, reason: String },
    #[error("the local API did not start: {0}")]
    Api(std::io::Error),
    #[error(transparent)]
    Identity(#[from] super::identity::IdentityError),
    #[error("cannot start the scenario's external hosts: {0}")]
    External(std::io::Error),
    #[error("the scenario's IstioOperator {operator:?} cannot be installed: {reason}")]
    Install { operator: String, reason: String },
}

/// One running pod's identity in the sandbox's maps.
pub type PodId = (String, String);

pub(crate) struct Inner {
    pub store: Store,
    pub ipam: Ipam,
    pub pods: BTreeMap<PodId, PodRuntime>,
    /// Pods that could not start, and why.
    pub failures: BTreeMap<PodId, String>,
    persisted_version: u64,
}

/// A running sandbox.
pub struct Sandbox {
    pub name: String,
    /// The node every pod runs on (kind's `<name>-control-plane`).
    pub node: String,
    pub slot: u8,
    pub pilot: Pilot,
    pub directory: Arc<Directory>,
    pub resolver: Resolver,
    /// Hosts outside the mesh the scenario declared (their names are in `resolver`).
    pub external_hosts: Vec<super::external::ExternalHost>,
    /// The mesh CA and workload certificates.
    pub identity: Arc<Identity>,
    pub state: StateDir,
    pub node_ports: Vec<Arc<NodePort>>,
    pub started_at: SystemTime,
    pub shutdown: CancellationToken,
    pub(crate) inner: Mutex<Inner>,
    /// The store's version after each reconcile, for watchers (the TUI, `get -w`).
    pub versions: watch::Receiver<u64>,
    versions_tx: watch::Sender<u64>,
    _slot: Slot,
}

impl std::fmt::Debug for Sandbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("name", &self.name)
            .field("slot", &self.slot)
            .finish_non_exhaustive()
    }
}

/// The namespaces a fresh kind cluster has.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-node-lease", "kube-public", "kube-system"];

fn namespace(name: &str) -> Resource {
    Resource::Namespace(Namespace {
        api_version: "v1".into(),
        kind: "Namespace".into(),
        metadata: ObjectMeta {
            name: name.to_owned(),
            labels: [("kubernetes.io/metadata.name".to_owned(), name.to_owned())].into(),
            ..Default::default()
        },
        spec: None,
        status: None,
    })
}

/// The Service that publishes a node port, for error messages.
fn node_port_owner(resources: &[Resource], node_port: u16) -> String {
    resources
        .iter()
        .find_map(|r| match r {
            Resource::Service(s)
                if s.spec
                    .ports
                    .iter()
                    .any(|p| p.node_port == Some(i32::from(node_port))) =>
            {
                Some(format!(
                    " (node port of service {}/{})",
                    s.metadata.namespace.as_deref().unwrap_or("default"),
                    s.metadata.name
                ))
            }
            _ => None,
        })
        .unwrap_or_default()
}

impl Sandbox {
    /// Starts a sandbox: restores or applies its resources, starts the pods, binds node ports.
    pub async fn start(config: SandboxConfig) -> Result<Arc<Sandbox>, StartError> {
        let state = config.state_root.sandbox(&config.name);
        let state_err = |source| StartError::State {
            path: state.path().display().to_string(),
            source,
        };
        state.create().map_err(state_err)?;
        if let Some(running) = super::registry::live_endpoint(&state).await {
            return Err(StartError::AlreadyRunning {
                name: config.name.clone(),
                pid: running.pid,
            });
        }
        let slot = Slot::acquire()?;
        let (resources, restored) = initial_resources(&config, &state)?;
        let node_ports = bind_node_ports(
            &config.scenario.header.extra_port_mappings,
            config.ephemeral_ports,
            &resources,
        )?;
        let mut store = Store::default();
        for ns in SYSTEM_NAMESPACES {
            store.put(namespace(ns), true);
        }
        for mut r in resources {
            r.default_namespace("default");
            store.put(r, false);
        }
        let identity = Arc::new(Identity::new(&state, &store, config.workload_cert_ttl)?);
        let (versions_tx, versions) = watch::channel(0);
        let shutdown = CancellationToken::new();
        let mut external_hosts = super::external::start(
            slot.number,
            &config.scenario.header.external_hosts,
            &shutdown,
        )
        .map_err(StartError::External)?;
        if let Err(e) = super::external::save_certificates(&mut external_hosts, &state) {
            super::external::withdraw(&external_hosts);
            shutdown.cancel();
            return Err(StartError::External(e));
        }
        // The sandbox's DNS answers external hosts' names (apps, `mesh exec`, DNS clusters).
        let resolver = config
            .resolver
            .with(external_hosts.iter().map(|h| (h.host.clone(), h.ip)));
        let sandbox = Arc::new(Sandbox {
            node: format!("{}-control-plane", config.name),
            name: config.name,
            slot: slot.number,
            pilot: Pilot::new(),
            directory: Arc::new(Directory::default()),
            resolver,
            external_hosts,
            identity,
            state,
            node_ports,
            started_at: SystemTime::now(),
            shutdown,
            inner: Mutex::new(Inner {
                store,
                ipam: Ipam::new(slot.number),
                pods: BTreeMap::new(),
                failures: BTreeMap::new(),
                persisted_version: 0,
            }),
            versions,
            versions_tx,
            _slot: slot,
        });
        {
            let mut inner = sandbox.inner.lock().await;
            sandbox.reconcile(&mut inner).await;
        }
        // The scenario's IstioOperators, as `istioctl install` would have run them (a restored
        // sandbox already has what they installed).
        if !restored {
            for op in &config.scenario.operators {
                if let Err(e) = sandbox.install(op).await {
                    sandbox.stop().await;
                    return Err(StartError::Install {
                        operator: op.name.clone(),
                        reason: e.to_string(),
                    });
                }
            }
        }
        Ok(sandbox)
    }

    /// Brings everything in line with the store: controllers, pods, endpoints, the node's
    /// DNS and node ports, the control plane's pushes, and the saved state.
    pub(crate) async fn reconcile(&self, inner: &mut Inner) {
        // A plug-in CA (`istio-system/cacerts`) applied or changed: every proxy gets a
        // certificate from it now (istiod would need a restart; the sandbox does it for you).
        match self.identity.refresh(&self.state, &inner.store) {
            Ok(true) => {
                for p in inner.pods.values() {
                    if let Some(rt) = &p.proxy {
                        rt.reissue.notify_one();
                    }
                }
            }
            Ok(false) => {}
            Err(e) => tracing::warn!("{e}"),
        }
        controllers::deployments(&mut inner.store, &self.node);
        controllers::service_ips(&mut inner.store, &mut inner.ipam);
        self.sync_pods(inner).await;
        controllers::endpoints(&mut inner.store);
        deployment_status(&mut inner.store);
        self.directory.update(directory_state(&inner.store));
        self.route_node_ports(&inner.store);
        let resources: Vec<&Resource> = inner.store.all().map(|s| &s.resource).collect();
        self.pilot.update(resources);
        self.persist(inner);
        self.versions_tx.send_replace(inner.store.version());
    }

    /// Starts pods the store has and stops pods it no longer has.
    async fn sync_pods(&self, inner: &mut Inner) {
        let wanted: BTreeMap<PodId, Pod> = inner
            .store
            .list("Pod", None)
            .into_iter()
            .filter_map(|r| match r {
                Resource::Pod(p) => Some((
                    (
                        p.metadata.namespace.clone().unwrap_or_default(),
                        p.metadata.name.clone(),
                    ),
                    p.clone(),
                )),
                _ => None,
            })
            .collect();
        let gone: Vec<PodId> = inner
            .pods
            .keys()
            .filter(|k| !wanted.contains_key(*k))
            .cloned()
            .collect();
        let mut stopping = Vec::new();
        for id in gone {
            if let Some(p) = inner.pods.remove(&id) {
                inner.ipam.release_pod(p.ip);
                stopping.push(p.stop(&self.pilot.connections, DRAIN));
            }
        }
        join_all(stopping).await;
        inner.failures.retain(|k, _| wanted.contains_key(k));

        let mut to_start: Vec<(PodId, Pod, Ipv4Addr, Ipv4Addr, PodFiles)> = Vec::new();
        let mut waiting: Vec<(Pod, String)> = Vec::new();
        for (id, pod) in &wanted {
            if inner.pods.contains_key(id) || inner.failures.contains_key(id) {
                continue;
            }
            // A volume whose Secret/ConfigMap is missing holds the pod in ContainerCreating
            // until it appears (the next reconcile tries again).
            let files = match super::volumes::pod_files(&inner.store, pod) {
                Ok(f) => f,
                Err(missing) => {
                    waiting.push((pod.clone(), missing.to_string()));
                    continue;
                }
            };
            match inner.ipam.pod() {
                Ok((ip, localhost)) => {
                    to_start.push((id.clone(), pod.clone(), ip, localhost, files))
                }
                Err(e) => {
                    inner.failures.insert(id.clone(), e.to_string());
                }
            }
        }
        for (mut pod, reason) in waiting {
            let status = waiting_status(&pod, &reason);
            if pod.status.as_ref() != Some(&status) {
                pod.status = Some(status);
                inner.store.put(Resource::Pod(pod), true);
            }
        }
        let started = {
            let store = &inner.store;
            let lookup = |kind: &str, ns: &str, name: &str, key: &str| {
                lookup_value(store, kind, ns, name, key)
            };
            let env = PodEnv {
                connections: &self.pilot.connections,
                identity: self.identity.clone(),
                directory: self.directory.clone(),
                resolver: self.resolver.clone(),
                lookup: &lookup,
            };
            let env = &env;
            join_all(
                to_start
                    .into_iter()
                    .map(|(id, pod, ip, localhost, files)| async move {
                        let result = PodRuntime::start(&pod, ip, localhost, &files, env).await;
                        (id, pod, ip, result)
                    }),
            )
            .await
        };
        for (id, mut pod, ip, result) in started {
            match result {
                Ok(runtime) => {
                    pod.status = Some(runtime.status(&pod));
                    inner.pods.insert(id, runtime);
                }
                Err(e) => {
                    tracing::warn!(pod = %id.1, namespace = %id.0, "pod did not start: {e}");
                    inner.ipam.release_pod(ip);
                    pod.status = Some(failed_status(&pod, &e.to_string()));
                    inner.failures.insert(id, e.to_string());
                }
            }
            inner.store.put(Resource::Pod(pod), true);
        }
    }

    /// Points each node port at the endpoints of the Service port that publishes it.
    fn route_node_ports(&self, store: &Store) {
        for np in &self.node_ports {
            let mut targets = Vec::new();
            for r in store.list("Service", None) {
                let Resource::Service(s) = r else { continue };
                for sp in s
                    .spec
                    .ports
                    .iter()
                    .filter(|p| p.node_port == Some(i32::from(np.node_port)))
                {
                    targets.extend(service_port_endpoints(store, s, sp.name.as_deref()));
                }
            }
            np.set_targets(targets);
        }
    }

    /// Saves the user's objects when they changed.
    fn persist(&self, inner: &mut Inner) {
        if inner.persisted_version == inner.store.version() {
            return;
        }
        let objects: Vec<Value> = inner
            .store
            .user_objects()
            .iter()
            .map(Resource::to_value)
            .collect();
        let text = serde_json::to_vec_pretty(&objects).unwrap_or_default();
        match self
            .state
            .write_atomic(super::state_dir::RESOURCES_FILE, &text, 0o600)
        {
            Ok(()) => inner.persisted_version = inner.store.version(),
            Err(e) => tracing::warn!("cannot save the sandbox's resources: {e}"),
        }
    }

    /// Time since start.
    pub fn uptime(&self) -> Duration {
        self.started_at.elapsed().unwrap_or_default()
    }

    /// Stops every pod (draining), closes node ports, and forgets the API address.
    pub async fn stop(&self) {
        self.shutdown.cancel();
        super::external::withdraw(&self.external_hosts);
        for np in &self.node_ports {
            np.close();
        }
        let mut inner = self.inner.lock().await;
        let pods = std::mem::take(&mut inner.pods);
        join_all(
            pods.into_values()
                .map(|p| p.stop(&self.pilot.connections, DRAIN)),
        )
        .await;
        let _ = self.state.remove(super::state_dir::API_FILE);
    }

    /// Whether every proxy has ACKed the latest push of every type it was sent.
    pub fn all_synced(&self) -> bool {
        self.pilot.connections.all().iter().all(|c| c.synced())
    }

    /// Waits (bounded) until every proxy is SYNCED; returns how long that took.
    pub async fn wait_synced(&self, limit: Duration) -> Option<Duration> {
        let start = Instant::now();
        while start.elapsed() < limit {
            if self.all_synced() {
                return Some(start.elapsed());
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        None
    }

    /// Where each node port is published: (node port, host address).
    pub fn published_ports(&self) -> Vec<(u16, SocketAddr)> {
        self.node_ports
            .iter()
            .map(|np| (np.node_port, np.host))
            .collect()
    }

    /// The summary `mesh up` prints and `GET /v1/info` returns.
    pub async fn info(&self) -> Value {
        let inner = self.inner.lock().await;
        let pods: Vec<Value> = inner
            .pods
            .values()
            .map(|p| json!({"namespace": p.namespace, "name": p.name, "ip": p.ip.to_string()}))
            .collect();
        json!({
            "name": self.name,
            "node": self.node,
            "slot": self.slot,
            "pid": std::process::id(),
            "uptimeSeconds": self.uptime().as_secs(),
            "nodePorts": self.published_ports().iter().map(|(n, h)| json!({"nodePort": n, "host": h.to_string()})).collect::<Vec<_>>(),
            "pods": pods,
            "externalHosts": self.external_hosts.iter().map(|h| json!({"host": h.host, "ip": h.ip.to_string(), "ports": h.ports.iter().map(|(p, _)| p).collect::<Vec<_>>()})).collect::<Vec<_>>(),
            "proxies": self.pilot.connections.all().iter().map(|c| c.identity.name()).collect::<Vec<_>>(),
            "state": self.state.path().display().to_string(),
        })
    }
}

/// What the sandbox starts with: the saved state of an earlier run (`true`), or the scenario.
fn initial_resources(
    config: &SandboxConfig,
    state: &StateDir,
) -> Result<(Vec<Resource>, bool), StartError> {
    let path = state.resources_file();
    if !config.fresh && path.exists() {
        let restore_err = |reason: String| StartError::Restore {
            path: path.display().to_string(),
            reason,
        };
        let text = std::fs::read(&path).map_err(|e| restore_err(e.to_string()))?;
        let values: Vec<Value> =
            serde_json::from_slice(&text).map_err(|e| restore_err(e.to_string()))?;
        let resources = values
            .into_iter()
            .map(|v| Resource::from_value(v).map_err(|d| restore_err(d.to_string())))
            .collect::<Result<_, _>>()?;
        return Ok((resources, true));
    }
    // IstioOperators are installed after the start, which also stores them.
    let resources = config
        .scenario
        .resources
        .iter()
        .filter(|d| d.resource.kind() != "IstioOperator")
        .map(|d| d.resource.clone())
        .collect();
    Ok((resources, false))
}

fn bind_node_ports(
    mappings: &[PortMapping],
    ephemeral: bool,
    resources: &[Resource],
) -> Result<Vec<Arc<NodePort>>, StartError> {
    let mut out = Vec::new();
    for m in mappings {
        let host = SocketAddr::new(m.listen(), if ephemeral { 0 } else { m.host_port });
        match NodePort::bind(host, m.container_port) {
            Ok(np) => out.push(np),
            Err(source) => {
                for np in &out {
                    np.close();
                }
                return Err(StartError::PortInUse {
                    host,
                    node_port: m.container_port,
                    owner: node_port_owner(resources, m.container_port),
                    source,
                });
            }
        }
    }
    Ok(out)
}

/// A Secret's or ConfigMap's value, for `valueFrom` in pod environments.
fn lookup_value(store: &Store, kind: &str, ns: &str, name: &str, key: &str) -> Option<String> {
    let k = ResourceKey {
        group: String::new(),
        kind: kind.to_owned(),
        namespace: Some(ns.to_owned()),
        name: name.to_owned(),
    };
    match store.get(&k)? {
        Resource::Secret(s) => s.string_data.get(key).cloned().or_else(|| {
            s.data
                .get(key)
                .and_then(|b| crate::api::base64::decode(b).ok())
                .and_then(|b| String::from_utf8(b).ok())
        }),
        Resource::ConfigMap(c) => c.data.get(key).cloned(),
        _ => None,
    }
}

/// Each container's mounted files.
type PodFiles = BTreeMap<String, super::volumes::MountedFiles>;

/// A pod waiting for its volumes: Pending, `ContainerCreating` (the mount error is an event).
fn waiting_status(pod: &Pod, reason: &str) -> crate::api::k8s::PodStatus {
    let containers: Vec<Value> = pod
        .spec
        .containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name, "ready": false, "restartCount": 0,
                "image": c.image.clone().unwrap_or_default(), "imageID": "",
                "state": {"waiting": {"reason": "ContainerCreating"}},
            })
        })
        .collect();
    serde_json::from_value(json!({
        "phase": "Pending",
        "hostIP": "127.0.0.1",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": reason}],
        "containerStatuses": containers,
    }))
    .unwrap_or_default()
}

/// A pod that could not start: Pending, with the reason on each container.
fn failed_status(pod: &Pod, reason: &str) -> crate::api::k8s::PodStatus {
    let containers: Vec<Value> = pod
        .spec
        .containers
        .iter()
        .map(|c| {
            json!({
                "name": c.name, "ready": false, "restartCount": 0,
                "image": c.image.clone().unwrap_or_default(), "imageID": "",
                "state": {"waiting": {"reason": "CreateContainerError", "message": reason}},
            })
        })
        .collect();
    serde_json::from_value(json!({
        "phase": "Pending",
        "hostIP": "127.0.0.1",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "False", "reason": "ContainersNotReady", "message": reason}],
        "containerStatuses": containers,
    }))
    .unwrap_or_default()
}

/// Deployments' `status`: what `get deploy` shows as READY, UP-TO-DATE and AVAILABLE.
fn deployment_status(store: &mut Store) {
    let deployments: Vec<crate::api::k8s::Deployment> = store
        .list("Deployment", None)
        .into_iter()
        .filter_map(|r| match r {
            Resource::Deployment(d) => Some(d.clone()),
            _ => None,
        })
        .collect();
    for mut d in deployments {
        let ns = d.metadata.namespace.clone().unwrap_or_default();
        let rs_prefix = format!("{}-", d.metadata.name);
        let pods: Vec<&Pod> = store
            .list("Pod", Some(&ns))
            .into_iter()
            .filter_map(|r| match r {
                Resource::Pod(p)
                    if p.metadata
                        .owner_references
                        .iter()
                        .any(|o| o.kind == "ReplicaSet" && o.name.starts_with(&rs_prefix)) =>
                {
                    Some(p)
                }
                _ => None,
            })
            .collect();
        let total = i32::try_from(pods.len()).unwrap_or(i32::MAX);
        let ready = i32::try_from(pods.iter().filter(|p| controllers::pod_ready(p)).count())
            .unwrap_or(i32::MAX);
        let want = d.spec.replicas();
        let available = if ready >= want { "True" } else { "False" };
        let status = json!({
            "observedGeneration": d.metadata.generation.unwrap_or(1),
            "replicas": total,
            "updatedReplicas": total,
            "readyReplicas": ready,
            "availableReplicas": ready,
            "unavailableReplicas": (want - ready).max(0),
            "conditions": [
                {"type": "Available", "status": available, "reason": if available == "True" { "MinimumReplicasAvailable" } else { "MinimumReplicasUnavailable" }, "message": if available == "True" { "Deployment has minimum availability." } else { "Deployment does not have minimum availability." }},
                {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable", "message": format!("ReplicaSet \"{}-{}\" has successfully progressed.", d.metadata.name, controllers::template_hash(&d.spec.template))},
            ],
        });
        let mut status: crate::api::k8s::DeploymentStatus =
            serde_json::from_value(status).unwrap_or_default();
        if ready == 0 {
            status.ready_replicas = None;
            status.available_replicas = None;
        }
        if status.unavailable_replicas == Some(0) {
            status.unavailable_replicas = None;
        }
        if d.status.as_ref() != Some(&status) {
            d.status = Some(status);
            store.put(Resource::Deployment(d), false);
        }
    }
}

/// The ready endpoints (pod IP:target port) behind one port of a Service.
fn service_port_endpoints(store: &Store, s: &Service, port_name: Option<&str>) -> Vec<SocketAddr> {
    let key = ResourceKey {
        group: String::new(),
        kind: "Endpoints".into(),
        namespace: s.metadata.namespace.clone(),
        name: s.metadata.name.clone(),
    };
    let Some(Resource::Endpoints(ep)) = store.get(&key) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for subset in &ep.subsets {
        let port = subset
            .ports
            .iter()
            .find(|p| p.name.as_deref().unwrap_or("") == port_name.unwrap_or(""))
            .or_else(|| (subset.ports.len() == 1).then(|| &subset.ports[0]));
        let Some(port) = port.and_then(|p| u16::try_from(p.port).ok()) else {
            continue;
        };
        for a in &subset.addresses {
            if let Ok(ip) = a.ip.parse::<IpAddr>() {
                out.push(SocketAddr::new(ip, port));
            }
        }
    }
    out
}

/// The node's view for DNS and kube-proxy: Service names → cluster IPs, cluster IP:port →
/// endpoints.
fn directory_state(store: &Store) -> DirectoryState {
    let mut names = HashMap::new();
    let mut endpoints = HashMap::new();
    for r in store.list("Service", None) {
        let Resource::Service(s) = r else { continue };
        let Some(ip) = s
            .spec
            .cluster_ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok())
        else {
            continue;
        };
        let ns = s.metadata.namespace.as_deref().unwrap_or("default");
        names.insert(format!("{}.{ns}.svc.cluster.local", s.metadata.name), ip);
        for sp in &s.spec.ports {
            let Ok(port) = u16::try_from(sp.port) else {
                continue;
            };
            endpoints.insert(
                SocketAddr::new(ip, port),
                service_port_endpoints(store, s, sp.name.as_deref()),
            );
        }
    }
    DirectoryState { names, endpoints }
}
