//! The command line: clap definitions, one file per subcommand, and the only place that turns
//! errors into exit codes. The only module allowed to use `anyhow` and read the environment.
//! May import every other module.

pub mod cmd;
pub mod exit;
pub mod logging;
pub mod output;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// One binary for learning a service mesh: Envoy-compatible proxies, an Istio-like control
/// plane, the sample apps and the tools to inspect them, all on loopback.
#[derive(Debug, Parser)]
#[command(name = "mesh", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// Filter for mesh's own diagnostics on stderr (tracing `EnvFilter` syntax, e.g. `debug`,
    /// `mesh=trace`). Proxies keep Envoy's own log format and levels (`-l`, `/logging`).
    #[arg(long, global = true, env = "MESH_LOG", value_name = "FILTER")]
    pub log: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Start the chapter-3 quick start: httpbin and an Envoy-compatible proxy in front of it.
    ///
    /// Until the sandbox lands this runs the Istio in Action chapter-3 set-up in the foreground
    /// (httpbin on 127.0.0.1:8000, the proxy on 127.0.0.1:15001, its admin API on
    /// 127.0.0.1:15000) and prints what to curl. Ctrl-C stops both.
    Up(cmd::up::Args),
    /// Run an Envoy-compatible proxy from an Envoy v3 bootstrap (YAML or JSON).
    ///
    /// Takes Envoy's own flags: `-c/--config-path`, `--config-yaml` (merged over the file as
    /// Envoy does), `-l/--log-level`, `--component-log-level`, `--mode validate`, …
    Envoy(Box<cmd::envoy::Args>),
    /// Run the httpbin sample app (the classic `citizenstig/httpbin` JSON shapes).
    Httpbin(cmd::httpbin::Args),
    /// Print a shell completion script: `source <(mesh completion bash)`.
    Completion(cmd::completion::Args),
}

/// Parses the process arguments, runs the command, maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return exit::clap_error(err),
    };
    logging::init(cli.log.as_deref());
    match run(cli) {
        Ok(code) => code,
        Err(err) => exit::report(&err),
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Up(args) => cmd::up::run(args),
        Command::Envoy(args) => cmd::envoy::run(*args),
        Command::Httpbin(args) => cmd::httpbin::run(args),
        Command::Completion(args) => cmd::completion::run(args, &mut Cli::command()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
