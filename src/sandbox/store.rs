//! The sandbox's object store: every resource by kind, namespace and name, with Kubernetes'
//! bookkeeping (uid, resourceVersion, generation, creationTimestamp). Users' objects are
//! persisted; objects the controllers make (ReplicaSets, Pods, Endpoints) are not.

use std::collections::BTreeMap;

use crate::api::meta::ObjectMeta;
use crate::api::{Resource, ResourceKey};

/// What `apply` did to one object, in kubectl's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Configured,
    Unchanged,
}

impl Change {
    pub fn word(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Configured => "configured",
            Change::Unchanged => "unchanged",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Stored {
    pub resource: Resource,
    /// Made by a controller (not persisted, not applied by the user).
    pub generated: bool,
}

#[derive(Debug, Default)]
pub struct Store {
    objects: BTreeMap<ResourceKey, Stored>,
    version: u64,
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

fn new_uid() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// The object without the fields the store itself maintains (to see if anything changed).
fn comparable(r: &Resource) -> Resource {
    let mut r = r.clone();
    let m = r.meta_mut();
    m.uid = None;
    m.resource_version = None;
    m.generation = None;
    m.creation_timestamp = None;
    m.managed_fields.clear();
    r
}

/// The comparable object without its `status`.
fn without_status(r: &Resource) -> serde_json::Value {
    let mut v = comparable(r).to_value();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    v
}

impl Store {
    /// Creates or updates `r`, keeping its identity (uid, creation time) across updates.
    pub fn put(&mut self, mut r: Resource, generated: bool) -> Change {
        let key = r.key();
        let existing = self.objects.get(&key);
        let change = match existing {
            Some(old) if comparable(&old.resource) == comparable(&r) => return Change::Unchanged,
            Some(_) => Change::Configured,
            None => Change::Created,
        };
        // Kubernetes bumps `generation` for spec changes only, not for status updates.
        let spec_changed =
            existing.is_none_or(|old| without_status(&old.resource) != without_status(&r));
        self.version += 1;
        let old_meta: Option<ObjectMeta> = existing.map(|o| o.resource.meta().clone());
        let m = r.meta_mut();
        match old_meta {
            Some(old) => {
                m.uid = old.uid;
                m.creation_timestamp = old.creation_timestamp;
                let g = old.generation.unwrap_or(1);
                m.generation = Some(if spec_changed { g + 1 } else { g });
            }
            None => {
                m.uid = Some(new_uid());
                m.creation_timestamp = Some(now_rfc3339());
                m.generation = Some(1);
            }
        }
        m.resource_version = Some(self.version.to_string());
        self.objects.insert(
            key,
            Stored {
                resource: r,
                generated,
            },
        );
        change
    }

    pub fn remove(&mut self, key: &ResourceKey) -> Option<Resource> {
        let removed = self.objects.remove(key).map(|s| s.resource);
        if removed.is_some() {
            self.version += 1;
        }
        removed
    }

    pub fn get(&self, key: &ResourceKey) -> Option<&Resource> {
        self.objects.get(key).map(|s| &s.resource)
    }

    /// Objects of a kind (by kind name), optionally in one namespace, sorted by namespace/name.
    pub fn list(&self, kind: &str, namespace: Option<&str>) -> Vec<&Resource> {
        self.objects
            .iter()
            .filter(|(k, _)| {
                k.kind == kind && namespace.is_none_or(|ns| k.namespace.as_deref() == Some(ns))
            })
            .map(|(_, s)| &s.resource)
            .collect()
    }

    pub fn all(&self) -> impl Iterator<Item = &Stored> {
        self.objects.values()
    }

    /// What to persist: the user's objects, without store bookkeeping that a reload recreates.
    pub fn user_objects(&self) -> Vec<Resource> {
        self.objects
            .values()
            .filter(|s| !s.generated)
            .map(|s| s.resource.clone())
            .collect()
    }

    /// Bumps on every change; watchers compare it.
    pub fn version(&self) -> u64 {
        self.version
    }
}
