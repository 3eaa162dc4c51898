//! One file per subcommand: its clap arguments and its `run`.

pub mod completion;
pub mod envoy;
pub mod httpbin;
pub mod up;
