//! The in-process xDS exchange between the control plane and a proxy: a state-of-the-world
//! response per resource type (versioned, with a nonce), and the proxy's ACK or NACK — the
//! same bookkeeping ADS does over gRPC, so proxy-status can say SYNCED, STALE or NOT SENT.

use super::cluster::Cluster;
use super::endpoint::ClusterLoadAssignment;
use super::listener::Listener;
use super::route::RouteConfiguration;
use super::tls::Secret;
use super::type_url;

/// The resources of one type, complete (state of the world).
#[derive(Debug, Clone, PartialEq)]
pub enum Resources {
    Clusters(Vec<Cluster>),
    Endpoints(Vec<ClusterLoadAssignment>),
    Listeners(Vec<Listener>),
    Routes(Vec<RouteConfiguration>),
    /// SDS. Unlike listeners and clusters, a secret left out of a push is not removed while a
    /// listener or cluster still names it (xDS: omission only deletes LDS/CDS resources).
    Secrets(Vec<Secret>),
}

impl Resources {
    pub fn type_url(&self) -> &'static str {
        match self {
            Resources::Clusters(_) => type_url::CLUSTER,
            Resources::Endpoints(_) => type_url::ENDPOINT,
            Resources::Listeners(_) => type_url::LISTENER,
            Resources::Routes(_) => type_url::ROUTE,
            Resources::Secrets(_) => type_url::SECRET,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Resources::Clusters(v) => v.len(),
            Resources::Endpoints(v) => v.len(),
            Resources::Listeners(v) => v.len(),
            Resources::Routes(v) => v.len(),
            Resources::Secrets(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A push from the control plane (xDS `DiscoveryResponse`).
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryResponse {
    pub version_info: String,
    pub nonce: String,
    pub resources: Resources,
}

/// The proxy's answer (xDS `DiscoveryRequest` after a response): an ACK carries the version it
/// now runs; a NACK the version it keeps running and why it refused the new one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    pub type_url: &'static str,
    pub version_info: String,
    pub response_nonce: String,
    pub error_detail: Option<String>,
}

impl Ack {
    pub fn is_nack(&self) -> bool {
        self.error_detail.is_some()
    }
}

/// Short names of the xDS types, as proxy-status columns name them.
pub fn short_name(type_url: &str) -> &'static str {
    match type_url {
        type_url::CLUSTER => "CDS",
        type_url::LISTENER => "LDS",
        type_url::ENDPOINT => "EDS",
        type_url::ROUTE => "RDS",
        type_url::SECRET => "SDS",
        _ => "?",
    }
}
