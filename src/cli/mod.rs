//! The command line: clap definitions, one file per subcommand, and the only place that turns
//! errors into exit codes. The only module allowed to use `anyhow` and read the environment.
//! May import every other module.

pub mod cmd;
pub mod exit;
pub mod logging;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// One binary for learning a service mesh: Envoy-compatible proxies, an Istio-like control
/// plane, the sample apps and the tools to inspect them, all on loopback.
#[derive(Debug, Parser)]
#[command(name = "mesh", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,

    /// The sandbox to talk to (default: the only one running, else `mesh`).
    #[arg(long, global = true, env = "MESH_CONTEXT", value_name = "NAME")]
    pub context: Option<String>,

    /// Filter for mesh's own diagnostics on stderr (tracing `EnvFilter` syntax, e.g. `debug`,
    /// `mesh=trace`). Proxies keep Envoy's own log format and levels (`-l`, `/logging`).
    #[arg(long, global = true, env = "MESH_LOG", value_name = "FILTER")]
    pub log: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a sandbox: control plane, ingress gateway, sidecars and sample apps, in the foreground.
    ///
    /// Without a file it starts the embedded default scenario (istio-system with istiod and
    /// istio-ingressgateway on node ports 30000/30005/30006, 30007 for a second gateway, istioinaction with sidecar
    /// injection). Ctrl-C or `mesh down` stops it; what was applied comes back next time.
    Up(cmd::up::Args),
    /// List the sandboxes on this machine.
    List(cmd::sandboxes::ListArgs),
    /// Stop a running sandbox.
    Down(cmd::sandboxes::DownArgs),
    /// Create or update objects from manifests (all or nothing).
    Apply(cmd::manifests::ApplyArgs),
    /// Show objects as kubectl does (tables per kind, -o wide|yaml|json|name).
    Get(cmd::get::Args),
    /// Delete objects by manifest or by kind and name.
    Delete(cmd::manifests::DeleteArgs),
    /// Create a namespace, a secret, or objects from manifests.
    Create(cmd::manifests::CreateArgs),
    /// Set a Deployment's replica count.
    Scale(cmd::workloads::ScaleArgs),
    /// Add, change or remove labels.
    Label(cmd::workloads::LabelArgs),
    /// Print a container's log.
    Logs(cmd::logs::Args),
    /// Run a command (e.g. curl) in a pod's network: through its sidecar, with the sandbox's DNS.
    Exec(cmd::exec::Args),
    /// istioctl proxy-status: every proxy's sync state with the control plane.
    #[command(visible_alias = "ps")]
    ProxyStatus(cmd::istioctl::StatusArgs),
    /// istioctl proxy-config: what a proxy runs, from its own admin API.
    #[command(visible_alias = "pc")]
    ProxyConfig(cmd::istioctl::ConfigArgs),
    /// istioctl analyze: Istio's analyzer messages (IST0101 …) for manifests and the sandbox.
    ///
    /// Files are analyzed as if applied over what the running sandbox holds (`--use-kube=false`:
    /// files alone); each message names the resource and, for files, `file:line:column`.
    /// Exit code 79 when a message reaches `--failure-threshold` (Error).
    Analyze(cmd::analyze::Args),
    /// Traffic per workload (requests, RPS, success rate, p50/p99) from Istio's metrics.
    ///
    /// Scrapes every proxy's `:15090/stats/prometheus` and sums Istio's standard metrics per
    /// destination workload, as seen by its own sidecar (else by its clients). Without
    /// `--interval`: totals since each proxy started; with it: over that window.
    Metrics(cmd::metrics::Args),
    /// Start the chapter-3 quick start: httpbin and an Envoy-compatible proxy in front of it.
    ///
    /// Runs the Istio in Action chapter-3 set-up in the foreground (httpbin on 127.0.0.1:8000,
    /// the proxy on 127.0.0.1:15001, its admin API on 127.0.0.1:15000) and prints what to curl.
    Quickstart(cmd::quickstart::Args),
    /// Run an Envoy-compatible proxy from an Envoy v3 bootstrap (YAML or JSON).
    ///
    /// Takes Envoy's own flags: `-c/--config-path`, `--config-yaml` (merged over the file as
    /// Envoy does), `-l/--log-level`, `--component-log-level`, `--mode validate`, …
    Envoy(Box<cmd::envoy::Args>),
    /// Generate the book's certificate chains or Istio's plug-in CA files; inspect PEM files.
    Certs(cmd::certs::Args),
    /// Run the httpbin sample app (the classic `citizenstig/httpbin` JSON shapes).
    Httpbin(cmd::httpbin::Args),
    /// Run the grpcbin gRPC sample app (`moul/grpcbin`: grpcbin, hello and health services, h2c).
    Grpcbin(cmd::grpcbin::Args),
    /// istioctl install: apply an IstioOperator (`-f`, `--set`, profiles) to the running sandbox.
    ///
    /// Covers meshConfig (access logs, tracing, outbound traffic policy), istiod's environment
    /// (`values.pilot.env`) and ingress/egress gateways with their service ports and node ports.
    /// Kept with the sandbox's state; `mesh get cm istio -n istio-system -o yaml` shows it.
    Install(cmd::install::InstallArgs),
    /// istioctl manifest generate: print what `mesh install` would apply.
    Manifest(cmd::install::ManifestArgs),
    /// Step-by-step labs that check what you did: `mesh lab list`, `mesh lab start 4.2`.
    Lab(cmd::lab::Args),
    /// Print a shell completion script: `source <(mesh completion bash)`.
    Completion(cmd::completion::Args),
    /// A live, k9s-like terminal view of the running sandbox: pods, proxies, proxy config,
    /// resources, traffic and logs. `?` lists the keys.
    Tui(cmd::tui::Args),
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
    let ctx = cli.context.as_deref();
    match cli.command {
        Command::Up(args) => cmd::up::run(args),
        Command::List(args) => cmd::sandboxes::list(args),
        Command::Down(args) => cmd::sandboxes::down(args),
        Command::Apply(args) => cmd::manifests::apply(args, ctx),
        Command::Get(args) => cmd::get::run(args, ctx),
        Command::Delete(args) => cmd::manifests::delete(args, ctx),
        Command::Create(args) => cmd::manifests::create(args, ctx),
        Command::Scale(args) => cmd::workloads::scale(args, ctx),
        Command::Label(args) => cmd::workloads::label(args, ctx),
        Command::Logs(args) => cmd::logs::run(args, ctx),
        Command::Exec(args) => cmd::exec::run(args, ctx),
        Command::ProxyStatus(args) => cmd::istioctl::status(args, ctx),
        Command::ProxyConfig(args) => cmd::istioctl::config(args, ctx),
        Command::Analyze(args) => cmd::analyze::run(args, ctx),
        Command::Metrics(args) => cmd::metrics::run(args, ctx),
        Command::Quickstart(args) => cmd::quickstart::run(args),
        Command::Envoy(args) => cmd::envoy::run(*args),
        Command::Httpbin(args) => cmd::httpbin::run(args),
        Command::Grpcbin(args) => cmd::grpcbin::run(args),
        Command::Certs(args) => cmd::certs::run(args),
        Command::Install(args) => cmd::install::install(args, ctx),
        Command::Manifest(args) => cmd::install::manifest(args),
        Command::Lab(args) => cmd::lab::run(args),
        Command::Completion(args) => cmd::completion::run(args, &mut Cli::command()),
        Command::Tui(args) => cmd::tui::run(args, ctx),
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
