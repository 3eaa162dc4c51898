//! The sandbox runtime: store, pods and addresses, node ports, the local API, state on disk.
//! May import `pilot`, `proxy`, `apps`, `ca`, `api`, `xds`, `net`.

pub mod api_server;
pub mod controllers;
pub mod dialers;
pub mod exec;
pub mod external;
pub mod identity;
pub mod install;
pub mod instance;
pub mod ipam;
pub mod logs;
pub mod node_ports;
pub mod ops;
pub mod pods;
pub mod proxies;
pub mod query;
pub mod registry;
pub mod routes;
pub mod scenario;
pub mod secrets;
pub mod slots;
pub mod state_dir;
pub mod store;
pub mod volumes;
pub use instance::{Sandbox, SandboxConfig, StartError};
