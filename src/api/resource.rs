//! `Resource`: any object the sandbox stores — typed for the kinds mesh acts on, `Unstructured`
//! (validated, stored, shown) for the rest — and its Kubernetes JSON form.

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::diag::Diagnostic;
use super::istio;
use super::k8s;
use super::kinds::{self, KindInfo};
use super::meta::ObjectMeta;

/// An object of a kind mesh validates and stores but does not act on yet.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Unstructured {
    pub api_version: String,
    pub kind: String,
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// `spec`, `status`, `rules`, … as written.
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// Any object the sandbox knows.
// Variants differ in size (a DestinationRule is the largest); objects live one per store entry,
// so matching on plain structs is worth more than the bytes boxing would save.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Resource {
    Namespace(k8s::Namespace),
    Pod(k8s::Pod),
    Service(k8s::Service),
    Endpoints(k8s::Endpoints),
    ServiceAccount(k8s::ServiceAccount),
    Secret(k8s::Secret),
    ConfigMap(k8s::ConfigMap),
    Deployment(k8s::Deployment),
    ReplicaSet(k8s::ReplicaSet),
    Gateway(istio::Gateway),
    VirtualService(istio::VirtualService),
    DestinationRule(istio::DestinationRule),
    ServiceEntry(istio::ServiceEntry),
    Unstructured(Unstructured),
}

/// Runs `$body` with `$r` bound to the variant's inner object, whatever the variant.
macro_rules! each {
    ($self:expr, $r:ident => $body:expr) => {
        match $self {
            Resource::Namespace($r) => $body,
            Resource::Pod($r) => $body,
            Resource::Service($r) => $body,
            Resource::Endpoints($r) => $body,
            Resource::ServiceAccount($r) => $body,
            Resource::Secret($r) => $body,
            Resource::ConfigMap($r) => $body,
            Resource::Deployment($r) => $body,
            Resource::ReplicaSet($r) => $body,
            Resource::Gateway($r) => $body,
            Resource::VirtualService($r) => $body,
            Resource::DestinationRule($r) => $body,
            Resource::ServiceEntry($r) => $body,
            Resource::Unstructured($r) => $body,
        }
    };
}

/// What identifies an object in the store: API group, kind, namespace and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ResourceKey {
    /// Empty for the core group.
    pub group: String,
    pub kind: String,
    /// `None` for cluster-scoped kinds (and namespaced ones not yet given a namespace).
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ResourceKey {
    /// kubectl's name for an object: `deployment.apps/catalog`, `service/catalog`,
    /// `gateway.networking.istio.io/coolstore-gateway`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = self.kind.to_ascii_lowercase();
        if self.group.is_empty() {
            write!(f, "{kind}/{}", self.name)
        } else {
            write!(f, "{kind}.{}/{}", self.group, self.name)
        }
    }
}

impl Resource {
    pub fn kind(&self) -> &str {
        each!(self, r => &r.kind)
    }

    pub fn api_version(&self) -> &str {
        each!(self, r => &r.api_version)
    }

    pub fn meta(&self) -> &ObjectMeta {
        each!(self, r => &r.metadata)
    }

    pub fn meta_mut(&mut self) -> &mut ObjectMeta {
        each!(self, r => &mut r.metadata)
    }

    pub fn name(&self) -> &str {
        &self.meta().name
    }

    pub fn namespace(&self) -> Option<&str> {
        self.meta().namespace.as_deref()
    }

    /// What the registry knows about this object's kind (always found for decoded objects).
    pub fn info(&self) -> Option<&'static KindInfo> {
        kinds::lookup(self.api_version(), self.kind()).ok()
    }

    pub fn key(&self) -> ResourceKey {
        let (group, _) = kinds::split_api_version(self.api_version());
        ResourceKey {
            group: group.to_owned(),
            kind: self.kind().to_owned(),
            namespace: self.meta().namespace.clone(),
            name: self.meta().name.clone(),
        }
    }

    /// Gives a namespaced object `namespace` when it names none (what `apply -n` does);
    /// cluster-scoped objects are left alone.
    pub fn default_namespace(&mut self, namespace: &str) {
        let namespaced = self.info().is_none_or(|k| k.namespaced);
        let meta = self.meta_mut();
        if namespaced && meta.namespace.as_deref().is_none_or(str::is_empty) {
            meta.namespace = Some(namespace.to_owned());
        }
    }

    /// The Kubernetes JSON form: `apiVersion`, `kind`, `metadata`, then `spec`/`data`, `status`.
    pub fn to_value(&self) -> Value {
        let value = each!(self, r => serde_json::to_value(r));
        // Serialising these types cannot fail: every map key is a string.
        value.unwrap_or(Value::Null)
    }

    /// Validates and decodes a stored JSON object (the inverse of [`Resource::to_value`]).
    #[allow(clippy::result_large_err)]
    pub fn from_value(value: Value) -> Result<Resource, Diagnostic> {
        super::decode::decode_value(value)
    }
}

/// Decodes a validated object into its Rust type: typed kinds by (group, kind), the rest as
/// [`Unstructured`].
pub(crate) fn typed(
    info: &KindInfo,
    value: Value,
) -> Result<Resource, serde_path_to_error::Error<serde_json::Error>> {
    fn de<T: DeserializeOwned>(
        value: Value,
    ) -> Result<T, serde_path_to_error::Error<serde_json::Error>> {
        serde_path_to_error::deserialize(value)
    }
    Ok(match (info.group, info.kind) {
        ("", "Namespace") => Resource::Namespace(de(value)?),
        ("", "Pod") => Resource::Pod(de(value)?),
        ("", "Service") => Resource::Service(de(value)?),
        ("", "Endpoints") => Resource::Endpoints(de(value)?),
        ("", "ServiceAccount") => Resource::ServiceAccount(de(value)?),
        ("", "Secret") => Resource::Secret(de(value)?),
        ("", "ConfigMap") => Resource::ConfigMap(de(value)?),
        ("apps", "Deployment") => Resource::Deployment(de(value)?),
        ("apps", "ReplicaSet") => Resource::ReplicaSet(de(value)?),
        ("networking.istio.io", "Gateway") => Resource::Gateway(de(value)?),
        ("networking.istio.io", "VirtualService") => Resource::VirtualService(de(value)?),
        ("networking.istio.io", "DestinationRule") => Resource::DestinationRule(de(value)?),
        ("networking.istio.io", "ServiceEntry") => Resource::ServiceEntry(de(value)?),
        _ => Resource::Unstructured(de(value)?),
    })
}
