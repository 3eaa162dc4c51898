//! `mesh envoy`: an Envoy-compatible proxy fed from an Envoy bootstrap, with Envoy's flags, log
//! lines and exit codes.

use std::net::IpAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use crate::cli::exit::Exit;
use crate::net::resolve::Resolver;
use crate::plog;
use crate::proxy::log::{Component, Level, Logger, Sink};
use crate::proxy::{self, Options, StartError};
use crate::xds::decode::{Loaded, load_bootstrap};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Mode {
    /// Run the proxy.
    Serve,
    /// Check the configuration and exit.
    Validate,
    /// Initialise (bind, resolve) and exit.
    InitOnly,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Path to the bootstrap file (YAML or JSON, by Envoy's v3 API).
    #[arg(short = 'c', long = "config-path", value_name = "PATH")]
    pub config_path: Option<PathBuf>,
    /// Bootstrap YAML, merged over `--config-path` (lists append, fields overwrite).
    #[arg(long = "config-yaml", value_name = "YAML")]
    pub config_yaml: Option<String>,
    /// Log level for every logger: trace, debug, info, warning (warn), error, critical, off.
    #[arg(short = 'l', long = "log-level", default_value = "info", value_parser = parse_level)]
    pub log_level: Level,
    /// Per-logger levels: `upstream:debug,connection:trace`.
    #[arg(long = "component-log-level", value_name = "SPEC")]
    pub component_log_level: Option<String>,
    /// Write Envoy's own log to this file instead of stderr.
    #[arg(long = "log-path", value_name = "PATH")]
    pub log_path: Option<PathBuf>,
    /// The node id (overrides `node.id`).
    #[arg(long = "service-node")]
    pub service_node: Option<String>,
    /// The node cluster (overrides `node.cluster`).
    #[arg(long = "service-cluster")]
    pub service_cluster: Option<String>,
    /// The node zone.
    #[arg(long = "service-zone")]
    pub service_zone: Option<String>,
    /// Shared-memory base id (accepted for compatibility; mesh has no hot restart).
    #[arg(long = "base-id", default_value_t = 0)]
    pub base_id: u64,
    /// Accepted for compatibility; mesh has no hot restart.
    #[arg(long = "use-dynamic-base-id")]
    pub use_dynamic_base_id: bool,
    /// Accepted for compatibility; mesh has no hot restart.
    #[arg(long = "disable-hot-restart")]
    pub disable_hot_restart: bool,
    /// Worker threads (default: the CPUs this process may use).
    #[arg(long)]
    pub concurrency: Option<usize>,
    /// serve, validate (check the config and exit) or init_only.
    #[arg(long, value_enum, default_value = "serve")]
    pub mode: Mode,
    /// Seconds to drain connections on shutdown.
    #[arg(long = "drain-time-s", default_value_t = 600)]
    pub drain_time_s: u64,
    /// Accepted for compatibility.
    #[arg(long = "parent-shutdown-time-s", default_value_t = 900)]
    pub parent_shutdown_time_s: u64,
    /// Resolve NAME to IP for DNS clusters (like `docker run --link`), e.g. `--resolve httpbin=127.0.0.1`.
    #[arg(long = "resolve", value_name = "NAME=IP", value_parser = parse_resolve)]
    pub resolve: Vec<(String, IpAddr)>,
}

fn parse_level(s: &str) -> Result<Level, String> {
    s.parse()
}

fn parse_resolve(s: &str) -> Result<(String, IpAddr), String> {
    let (name, ip) = s
        .split_once('=')
        .ok_or_else(|| format!("expected NAME=IP, got '{s}'"))?;
    let ip: IpAddr = ip
        .parse()
        .map_err(|_| format!("'{ip}' is not an IP address (expected NAME=IP)"))?;
    if name.is_empty() {
        return Err("expected NAME=IP with a non-empty NAME".to_owned());
    }
    Ok((name.to_owned(), ip))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let sink = match &args.log_path {
        Some(p) => Sink::File(Arc::new(std::sync::Mutex::new(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .with_context(|| format!("cannot open --log-path {}", p.display()))?,
        ))),
        None => Sink::Stderr,
    };
    let log = Logger::new(args.log_level, sink.clone());
    if let Some(spec) = &args.component_log_level {
        log.apply_component_levels(spec)
            .map_err(|e| Exit::new(1, e))?;
    }
    let config_name = args
        .config_path
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default();

    let loaded = match load_bootstrap(args.config_path.as_deref(), args.config_yaml.as_deref()) {
        Ok(l) => l,
        Err(err) => {
            plog!(
                log,
                Level::Critical,
                Component::Main,
                "error initializing configuration '{config_name}': {}",
                err.envoy_message()
            );
            plog!(log, Level::Info, Component::Main, "exiting");
            return Err(Exit::new(1, err.to_string()).into());
        }
    };

    let concurrency = args.concurrency.unwrap_or_else(|| {
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
    });
    let options = Options {
        service_node: args.service_node.clone(),
        service_cluster: args.service_cluster.clone(),
        service_zone: args.service_zone.clone(),
        log_level: args.log_level,
        component_log_level: args.component_log_level.clone(),
        log_sink: sink,
        resolver: Resolver::new(args.resolve.clone()),
        concurrency: concurrency.max(1),
        base_id: args.base_id,
        config_path: config_name.clone(),
        config_yaml: args.config_yaml.clone().unwrap_or_default(),
        drain_time: Duration::from_secs(args.drain_time_s),
        parent_shutdown_time: Duration::from_secs(args.parent_shutdown_time_s),
        log_path: args
            .log_path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        ..Options::default()
    };

    if args.mode == Mode::Validate {
        return match proxy::validate(&loaded.bootstrap, &options) {
            Ok(()) => {
                println!("configuration '{config_name}' OK");
                Ok(ExitCode::SUCCESS)
            }
            Err(rejected) => Err(refused(&log, &config_name, &loaded, rejected)),
        };
    }

    // One worker: a current-thread runtime avoids the work-stealing scheduler's overhead.
    let runtime = if options.concurrency == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.concurrency)
            .enable_all()
            .build()
    }
    .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let running = match proxy::start(loaded.bootstrap.clone(), options).await {
            Ok(r) => r,
            Err(StartError::Invalid(rejected)) => {
                return Err(refused(&log, &config_name, &loaded, rejected));
            }
            Err(e) => {
                plog!(
                    log,
                    Level::Critical,
                    Component::Main,
                    "error initializing configuration '{config_name}': {e}"
                );
                plog!(log, Level::Info, Component::Main, "exiting");
                return Err(Exit::new(1, e.to_string()).into());
            }
        };
        if args.mode == Mode::InitOnly {
            running.stop(Duration::ZERO).await;
            return Ok(ExitCode::SUCCESS);
        }
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {
                plog!(running.proxy.log, Level::Warning, Component::Main, "caught ENVOY_SIGINT");
            }
            _ = sigterm.recv() => {
                plog!(running.proxy.log, Level::Warning, Component::Main, "caught ENVOY_SIGTERM");
            }
            _ = running.stopped() => {}
        }
        plog!(
            running.proxy.log,
            Level::Info,
            Component::Main,
            "shutting down server instance"
        );
        // Envoy exits at once on a signal; in-flight requests get a moment to finish.
        running.stop(Duration::from_millis(500)).await;
        plog!(
            running.proxy.log,
            Level::Info,
            Component::Main,
            "main dispatch loop exited"
        );
        plog!(running.proxy.log, Level::Info, Component::Main, "exiting");
        Ok(ExitCode::SUCCESS)
    })
}

/// The config was decoded but is not valid: Envoy's critical line, then every problem with the
/// place it was written.
fn refused(
    log: &Logger,
    config_name: &str,
    loaded: &Loaded,
    rejected: Vec<proxy::Rejected>,
) -> anyhow::Error {
    let first = rejected
        .first()
        .map(|r| r.reason.clone())
        .unwrap_or_default();
    plog!(
        log,
        Level::Critical,
        Component::Main,
        "error initializing configuration '{config_name}': {first}"
    );
    plog!(log, Level::Info, Component::Main, "exiting");
    let lines: Vec<String> = rejected
        .iter()
        .map(|r| {
            if r.path.starts_with("--") {
                format!("{}: {}", r.path, r.reason)
            } else {
                format!("{}: {}: {}", loaded.locate(&r.path), r.path, r.reason)
            }
        })
        .collect();
    Exit::new(1, lines.join("\n")).into()
}
