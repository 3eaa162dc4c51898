//! The Envoy-shaped configuration model (Bootstrap, Listener, RouteConfiguration, Cluster,
//! ClusterLoadAssignment, …), decoded from Envoy's own YAML/JSON with source locations and
//! serialised back in Envoy's snake_case `config_dump` form. Imports nothing of ours.
