//! The control plane: Istio and Kubernetes resources → per-proxy xds snapshots; pushes,
//! versions, ACK/NACK → proxy-status. May import `api`, `xds`, `ca`.

pub mod bootstrap;
pub mod build;
pub mod names;
pub mod push;
