//! One file per subcommand (or family of subcommands): its clap arguments and its `run`.

pub mod analyze;
pub mod certs;
pub mod completion;
pub mod context;
pub mod envoy;
pub mod exec;
pub mod get;
pub mod grpcbin;
pub mod httpbin;
pub mod install;
pub mod istioctl;
pub mod lab;
pub mod logs;
pub mod manifests;
pub mod metrics;
pub mod quickstart;
pub mod sandboxes;
pub mod tui;
pub mod up;
pub mod workloads;
