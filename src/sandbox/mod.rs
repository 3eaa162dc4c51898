//! The sandbox runtime: store, pods and addresses, node ports, the local API, state on disk.
//! May import `pilot`, `proxy`, `apps`, `ca`, `api`, `xds`, `net`.

pub mod ipam;
pub mod logs;
pub mod node_ports;
pub mod state_dir;
