//! The Envoy-shaped configuration model (Bootstrap, Listener, RouteConfiguration, Cluster,
//! ClusterLoadAssignment, …), decoded from Envoy's own YAML/JSON with source locations and
//! serialised back in Envoy's snake_case `config_dump` form. TLS contexts and SDS secrets live
//! in [`tls`]. Imports nothing of ours.

pub mod bootstrap;
pub mod cluster;
pub mod config_source;
pub mod core;
pub mod de;
pub mod decode;
pub mod discovery_file;
pub mod endpoint;
pub mod error;
pub mod hcm;
pub mod http_filters;
pub mod istio;
pub mod listener;
pub mod matcher;
pub mod protocol;
pub mod route;
pub mod snapshot;
pub mod tcp_proxy;
pub mod tls;
pub mod tree;

pub use bootstrap::Bootstrap;
pub use error::ConfigError;

/// Type URLs of the resources a proxy runs, as `config_dump` and xDS name them.
pub mod type_url {
    pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
    pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
    pub const ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
    pub const ENDPOINT: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
    pub const SECRET: &str = "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret";
    pub const BOOTSTRAP: &str = "type.googleapis.com/envoy.config.bootstrap.v3.Bootstrap";
}
