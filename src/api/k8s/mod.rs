//! Kubernetes kinds mesh acts on, with the fields mesh uses typed and every other real field
//! kept as written (`rest`), so `get -o yaml` shows it. Field names are Kubernetes' JSON names;
//! unknown names never get here: the schema check rejects them first.

mod apps;
mod core;
mod pod;
mod service;

pub use apps::{
    Deployment, DeploymentCondition, DeploymentSpec, DeploymentStatus, ReplicaSet, ReplicaSetSpec,
    ReplicaSetStatus,
};
pub use core::{ConfigMap, Namespace, NamespaceStatus, Secret, ServiceAccount};
pub use pod::{
    ConfigMapVolumeSource, Container, ContainerPort, ContainerStatus, EnvVar, EnvVarSource,
    KeySelector, ObjectFieldSelector, Pod, PodCondition, PodIp, PodSpec, PodStatus,
    PodTemplateSpec, SecretVolumeSource, Volume, VolumeMount,
};
pub use service::{
    EndpointAddress, EndpointPort, EndpointSubset, Endpoints, LoadBalancerIngress,
    LoadBalancerStatus, ObjectReference, Service, ServicePort, ServiceSpec, ServiceStatus,
    ServiceType,
};

use std::fmt;

use serde::{Deserialize, Serialize};

/// A port given by number or by name (`targetPort: 8080` or `targetPort: http`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum IntOrString {
    Int(i32),
    String(String),
}

impl IntOrString {
    pub fn as_int(&self) -> Option<i32> {
        match self {
            IntOrString::Int(i) => Some(*i),
            IntOrString::String(s) => s.parse().ok(),
        }
    }

    /// The name, when it is one (`http`), not a number written as a string.
    pub fn as_name(&self) -> Option<&str> {
        match self {
            IntOrString::String(s) if s.parse::<i32>().is_err() => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for IntOrString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IntOrString::Int(i) => write!(f, "{i}"),
            IntOrString::String(s) => f.write_str(s),
        }
    }
}

impl From<i32> for IntOrString {
    fn from(i: i32) -> IntOrString {
        IntOrString::Int(i)
    }
}
