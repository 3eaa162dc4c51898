//! What kubectl's writing commands do to a sandbox: `apply`, `create`, `delete`, `scale`,
//! `label`. Every request is checked whole before anything changes (all or nothing), and
//! errors use kubectl's words with the file position of the document at fault.

use std::collections::BTreeSet;

use crate::api::{Decoded, Diagnostic, KindInfo, Resource, ResourceKey, kinds};
use crate::apps::registry;

use super::controllers::{self, is_proxy_image};
use super::instance::{Inner, Sandbox};
use super::store::{Change, Store};

/// One manifest file as the user gave it.
#[derive(Debug, Clone)]
pub struct Document {
    /// The name for diagnostics (`-` for standard input).
    pub source: String,
    pub text: String,
}

#[derive(Debug, thiserror::Error)]
pub enum OpError {
    /// Bad documents: nothing was changed.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<Diagnostic>),
    #[error("Error from server (NotFound): {0}")]
    NotFound(String),
    #[error("Error from server (AlreadyExists): {0}")]
    AlreadyExists(String),
    #[error("error: {0}")]
    BadRequest(String),
}

/// What happened to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub key: ResourceKey,
    pub change: Change,
    /// Whether mesh does anything with this kind yet (others are only stored).
    pub acted_on: bool,
}

impl std::fmt::Display for Applied {
    /// `deployment.apps/catalog created`
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.key, self.change.word())
    }
}

/// `deployments.apps "catalog"`, as kubectl names a missing object.
pub fn not_found(info: &KindInfo, name: &str) -> OpError {
    OpError::NotFound(format!("{} \"{name}\" not found", info.qualified_plural()))
}

/// Whether `key` is of the kind `info` (group and kind; Istio's and the Gateway API's `Gateway`
/// differ only by group).
pub fn is_kind(key: &ResourceKey, info: &KindInfo) -> bool {
    key.kind == info.kind && key.group == info.group
}

fn ns_key(name: &str) -> ResourceKey {
    ResourceKey {
        group: String::new(),
        kind: "Namespace".into(),
        namespace: None,
        name: name.to_owned(),
    }
}

/// Line and column of `needle` at or after `from_line` (1-based), for pointing at a field.
fn find_in(text: &str, from_line: usize, needle: &str) -> Option<(usize, usize)> {
    text.lines()
        .enumerate()
        .skip(from_line.saturating_sub(1))
        .find_map(|(i, l)| l.find(needle).map(|c| (i + 1, c + 1)))
}

/// Decodes every document, gives namespaced objects their namespace, and checks what only the
/// sandbox can check: the namespace exists, the images have a built-in app.
pub(crate) fn admit(
    store: &Store,
    docs: &[Document],
    namespace: Option<&str>,
) -> Result<Vec<Resource>, OpError> {
    let mut problems = Vec::new();
    let mut decoded: Vec<(&Document, Decoded)> = Vec::new();
    for doc in docs {
        match crate::api::decode(&doc.source, &doc.text) {
            Ok(d) => decoded.extend(d.into_iter().map(|d| (doc, d))),
            Err(d) => problems.extend(d),
        }
    }
    let new_namespaces: BTreeSet<String> = decoded
        .iter()
        .filter(|(_, d)| d.resource.kind() == "Namespace")
        .map(|(_, d)| d.resource.name().to_owned())
        .collect();
    let mut out = Vec::new();
    for (doc, d) in decoded {
        let mut r = d.resource;
        let (kind, name) = (r.kind().to_owned(), r.name().to_owned());
        let at = |reason: String| {
            Diagnostic::new(&doc.source, d.line, 1, reason).with_object(Some(&kind), Some(&name))
        };
        let namespaced = r.info().is_none_or(|k| k.namespaced);
        if namespaced {
            if let (Some(own), Some(flag)) = (r.namespace(), namespace)
                && own != flag
            {
                problems.push(at(format!(
                    "the namespace from the provided object \"{own}\" does not match the namespace \"{flag}\""
                )).with_fix(format!("pass --namespace={own}, or remove metadata.namespace from the document")));
                continue;
            }
            r.default_namespace(namespace.unwrap_or("default"));
            let ns = r.namespace().unwrap_or("default").to_owned();
            if store.get(&ns_key(&ns)).is_none() && !new_namespaces.contains(&ns) {
                problems.push(
                    at(format!("namespaces \"{ns}\" not found"))
                        .with_fix(format!("create it first: mesh create namespace {ns}")),
                );
                continue;
            }
        }
        if let Resource::Unstructured(u) = &r
            && u.kind == "EnvoyFilter"
            && let Err(why) = crate::pilot::envoy_filter::parse(u)
        {
            problems.push(at(format!("EnvoyFilter {name}: {why}")));
            continue;
        }
        if let Resource::Secret(secret) = &r {
            for p in super::secrets::check(secret) {
                let (line, column) =
                    find_in(&doc.text, d.line, &format!("{}:", p.key)).unwrap_or((d.line, 1));
                problems.push(
                    Diagnostic::new(&doc.source, line, column, p.reason)
                        .with_object(Some(r.kind()), Some(r.name()))
                        .with_field(format!("data.{}", p.key)),
                );
            }
        }
        for image in images(&r) {
            let runnable = is_proxy_image(&image)
                || image.contains("istio/pilot")
                || registry::app_for_image(&image).is_ok();
            if !runnable {
                let (line, column) = find_in(&doc.text, d.line, &image).unwrap_or((d.line, 1));
                problems.push(
                    Diagnostic::new(
                        &doc.source,
                        line,
                        column,
                        format!(
                            "unknown image \"{image}\": the sandbox has no built-in app for it"
                        ),
                    )
                    .with_object(Some(r.kind()), Some(r.name()))
                    .with_fix(format!(
                        "use one of: {}",
                        registry::known_images().join(", ")
                    )),
                );
            }
        }
        out.push(r);
    }
    if problems.is_empty() {
        Ok(out)
    } else {
        Err(OpError::Invalid(problems))
    }
}

/// The container images of a workload object.
fn images(r: &Resource) -> Vec<String> {
    let containers = match r {
        Resource::Deployment(d) => &d.spec.template.spec.containers,
        Resource::Pod(p) => &p.spec.containers,
        _ => return Vec::new(),
    };
    containers.iter().filter_map(|c| c.image.clone()).collect()
}

/// Keeps what the cluster assigned, which a manifest does not say: status, cluster IPs, node
/// ports (so re-applying the same file is `unchanged`).
fn keep_assigned(old: &Resource, new: &mut Resource) {
    match (old, new) {
        (Resource::Service(o), Resource::Service(n)) => {
            if n.spec.cluster_ip.is_none() {
                n.spec.cluster_ip = o.spec.cluster_ip.clone();
                n.spec.cluster_ips = o.spec.cluster_ips.clone();
            }
            for p in &mut n.spec.ports {
                if p.node_port.is_none() {
                    p.node_port = o
                        .spec
                        .ports
                        .iter()
                        .find(|q| q.port == p.port)
                        .and_then(|q| q.node_port);
                }
            }
            if n.status.is_none() {
                n.status = o.status.clone();
            }
        }
        (Resource::Deployment(o), Resource::Deployment(n)) if n.status.is_none() => {
            n.status = o.status.clone();
        }
        (Resource::Pod(o), Resource::Pod(n)) if n.status.is_none() => {
            n.status = o.status.clone();
        }
        _ => {}
    }
}

impl Sandbox {
    /// `kubectl apply`: creates or updates every object of every document, or nothing.
    pub async fn apply(
        &self,
        docs: &[Document],
        namespace: Option<&str>,
    ) -> Result<Vec<Applied>, OpError> {
        let mut inner = self.inner.lock().await;
        let resources = admit(&inner.store, docs, namespace)?;
        let applied = put_all(&mut inner, resources);
        self.reconcile(&mut inner).await;
        Ok(applied)
    }

    /// `kubectl create`: like apply, but an object that exists is an error (and nothing changes).
    pub async fn create(
        &self,
        docs: &[Document],
        namespace: Option<&str>,
    ) -> Result<Vec<Applied>, OpError> {
        let mut inner = self.inner.lock().await;
        let resources = admit(&inner.store, docs, namespace)?;
        if let Some(r) = resources
            .iter()
            .find(|r| inner.store.get(&r.key()).is_some())
        {
            let plural = r
                .info()
                .map_or_else(|| r.kind().to_ascii_lowercase(), KindInfo::qualified_plural);
            return Err(OpError::AlreadyExists(format!(
                "{plural} \"{}\" already exists",
                r.name()
            )));
        }
        let applied = put_all(&mut inner, resources);
        self.reconcile(&mut inner).await;
        Ok(applied)
    }

    /// `kubectl delete -f`: every object the documents name (missing ones are errors unless
    /// `ignore_not_found`).
    pub async fn delete_documents(
        &self,
        docs: &[Document],
        namespace: Option<&str>,
        ignore_not_found: bool,
    ) -> Result<Vec<ResourceKey>, OpError> {
        let mut inner = self.inner.lock().await;
        let mut problems = Vec::new();
        let mut keys = Vec::new();
        for doc in docs {
            match crate::api::decode(&doc.source, &doc.text) {
                Ok(decoded) => keys.extend(decoded.into_iter().map(|d| {
                    let mut r = d.resource;
                    r.default_namespace(namespace.unwrap_or("default"));
                    (r.key(), r.info())
                })),
                Err(d) => problems.extend(d),
            }
        }
        if !problems.is_empty() {
            return Err(OpError::Invalid(problems));
        }
        if !ignore_not_found
            && let Some((key, info)) = keys.iter().find(|(k, _)| inner.store.get(k).is_none())
        {
            return Err(match info {
                Some(info) => not_found(info, &key.name),
                None => OpError::NotFound(format!("\"{}\" not found", key.name)),
            });
        }
        let keys: Vec<ResourceKey> = keys.into_iter().map(|(k, _)| k).collect();
        let deleted = remove_all(&mut inner, &keys);
        self.reconcile(&mut inner).await;
        Ok(deleted)
    }

    /// `kubectl delete KIND NAME…` (or `--all`).
    pub async fn delete(
        &self,
        kind: &str,
        names: &[String],
        namespace: Option<&str>,
        all: bool,
        ignore_not_found: bool,
    ) -> Result<Vec<ResourceKey>, OpError> {
        let info = kinds::resolve(kind).map_err(|e| OpError::BadRequest(e.to_string()))?;
        let mut inner = self.inner.lock().await;
        let ns = info
            .namespaced
            .then(|| namespace.unwrap_or("default").to_owned());
        let keys: Vec<ResourceKey> = if all {
            inner
                .store
                .all()
                .map(|s| s.resource.key())
                .filter(|k| is_kind(k, info) && k.namespace == ns)
                .collect()
        } else {
            let mut keys = Vec::new();
            for name in names {
                let key = ResourceKey {
                    group: info.group.to_owned(),
                    kind: info.kind.to_owned(),
                    namespace: ns.clone(),
                    name: name.clone(),
                };
                if inner.store.get(&key).is_none() {
                    if ignore_not_found {
                        continue;
                    }
                    return Err(not_found(info, name));
                }
                keys.push(key);
            }
            keys
        };
        let deleted = remove_all(&mut inner, &keys);
        self.reconcile(&mut inner).await;
        Ok(deleted)
    }

    /// `kubectl scale deploy/NAME --replicas N`.
    pub async fn scale(
        &self,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
        replicas: i32,
    ) -> Result<ResourceKey, OpError> {
        let info = kinds::resolve(kind).map_err(|e| OpError::BadRequest(e.to_string()))?;
        if replicas < 0 {
            return Err(OpError::BadRequest("The --replicas=COUNT flag is required, and COUNT must be greater than or equal to 0".into()));
        }
        let mut inner = self.inner.lock().await;
        let key = ResourceKey {
            group: info.group.to_owned(),
            kind: info.kind.to_owned(),
            namespace: Some(namespace.unwrap_or("default").to_owned()),
            name: name.to_owned(),
        };
        let Some(Resource::Deployment(d)) = inner.store.get(&key).cloned() else {
            return match inner.store.get(&key) {
                None => Err(not_found(info, name)),
                Some(_) => Err(OpError::BadRequest(format!(
                    "cannot scale {key}: mesh scales Deployments"
                ))),
            };
        };
        let mut d = d;
        d.spec.replicas = Some(replicas);
        inner.store.put(Resource::Deployment(d), false);
        self.reconcile(&mut inner).await;
        Ok(key)
    }

    /// `kubectl label KIND NAME k=v k2-`: `None` removes a label. Returns whether anything changed.
    pub async fn label(
        &self,
        kind: &str,
        name: &str,
        namespace: Option<&str>,
        changes: &[(String, Option<String>)],
        overwrite: bool,
    ) -> Result<(ResourceKey, bool), OpError> {
        let info = kinds::resolve(kind).map_err(|e| OpError::BadRequest(e.to_string()))?;
        let mut inner = self.inner.lock().await;
        let key = ResourceKey {
            group: info.group.to_owned(),
            kind: info.kind.to_owned(),
            namespace: info
                .namespaced
                .then(|| namespace.unwrap_or("default").to_owned()),
            name: name.to_owned(),
        };
        let mut r = inner
            .store
            .get(&key)
            .cloned()
            .ok_or_else(|| not_found(info, name))?;
        let labels = &mut r.meta_mut().labels;
        for (k, v) in changes {
            match v {
                Some(v) => {
                    if let Some(old) = labels.get(k)
                        && old != v
                        && !overwrite
                    {
                        return Err(OpError::BadRequest(format!(
                            "'{k}' already has a value ({old}), and --overwrite is false"
                        )));
                    }
                    labels.insert(k.clone(), v.clone());
                }
                None => {
                    labels.remove(k);
                }
            }
        }
        let generated = inner
            .store
            .all()
            .any(|s| s.generated && s.resource.key() == key);
        let changed = inner.store.put(r, generated) != Change::Unchanged;
        if changed {
            self.reconcile(&mut inner).await;
        }
        Ok((key, changed))
    }
}

pub(crate) fn put_all(inner: &mut Inner, resources: Vec<Resource>) -> Vec<Applied> {
    let mut applied = Vec::new();
    for mut r in resources {
        let key = r.key();
        let acted_on = r.info().is_none_or(|i| i.acted_on);
        if let Some(old) = inner.store.get(&key) {
            keep_assigned(old, &mut r);
        }
        if let Resource::Pod(p) = &mut r {
            controllers::admit_pod(&inner.store, p);
        }
        let change = inner.store.put(r, false);
        applied.push(Applied {
            key,
            change,
            acted_on,
        });
    }
    applied
}

/// Removes objects; a Namespace takes everything in it along.
pub(crate) fn remove_all(inner: &mut Inner, keys: &[ResourceKey]) -> Vec<ResourceKey> {
    let mut deleted = Vec::new();
    for key in keys {
        if inner.store.remove(key).is_none() {
            continue;
        }
        if key.kind == "Namespace" && key.group.is_empty() {
            let inside: Vec<ResourceKey> = inner
                .store
                .all()
                .map(|s| s.resource.key())
                .filter(|k| k.namespace.as_deref() == Some(key.name.as_str()))
                .collect();
            for k in inside {
                inner.store.remove(&k);
            }
        }
        deleted.push(key.clone());
    }
    deleted
}
