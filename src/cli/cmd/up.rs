//! `mesh up [SCENARIO]`: runs a sandbox in the foreground — the embedded default scenario
//! (istiod, the ingress gateway, `istioinaction` with injection) or a scenario file — and
//! prints where everything is. Ctrl-C (or `mesh down`) stops it, draining connections.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use crate::cli::exit::{BAD_INPUT, Exit};
use crate::net::resolve::Resolver;
use crate::sandbox::scenario::{self, DEFAULT};
use crate::sandbox::{Sandbox, SandboxConfig, routes};

use super::context::{DEFAULT_NAME, state_root};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A scenario file: Kubernetes/Istio YAML, optionally led by a `mesh.dev/v1alpha1`
    /// `Sandbox` header (name, node ports). Without it, the embedded default.
    #[arg(value_name = "SCENARIO")]
    pub scenario: Option<PathBuf>,
    /// The sandbox's name (default: the scenario header's, else `mesh`); other commands pick
    /// it with `--context NAME`.
    #[arg(long)]
    pub name: Option<String>,
    /// Start from the scenario, discarding what an earlier run of this sandbox applied.
    #[arg(long)]
    pub fresh: bool,
    /// Publish node ports on free host ports instead of the scenario's `hostPort`s (the
    /// addresses are printed and shown by `mesh list`).
    #[arg(long)]
    pub random_ports: bool,
    /// Workload certificate lifetime (default: the scenario header's `workloadCertTtl`, else
    /// 24h); proxies renew theirs at half of it.
    #[arg(long, value_name = "DURATION")]
    pub workload_cert_ttl: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (source, text) = match &args.scenario {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        None => ("default (embedded)".to_owned(), DEFAULT.to_owned()),
    };
    let parsed = scenario::parse(&source, &text).map_err(|diags| {
        let lines: Vec<String> = diags.iter().map(ToString::to_string).collect();
        Exit::new(BAD_INPUT, lines.join("\n"))
    })?;
    let name = args
        .name
        .clone()
        .or_else(|| parsed.header.metadata.name.clone())
        .unwrap_or_else(|| DEFAULT_NAME.to_owned());
    let ttl_text = args
        .workload_cert_ttl
        .clone()
        .or_else(|| parsed.header.workload_cert_ttl.clone());
    let workload_cert_ttl = match ttl_text {
        Some(t) => crate::api::parse_duration(&t).map_err(|e| {
            Exit::new(
                BAD_INPUT,
                format!("error: workload certificate TTL {t:?}: {e}"),
            )
        })?,
        None => crate::ca::DEFAULT_WORKLOAD_TTL,
    };
    let config = SandboxConfig {
        workload_cert_ttl,
        name: name.clone(),
        state_root: state_root()?,
        scenario: parsed,
        ephemeral_ports: args.random_ports,
        resolver: Resolver::default(),
        fresh: args.fresh,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let sandbox = Sandbox::start(config)
            .await
            .map_err(|e| Exit::new(BAD_INPUT, format!("error: {e}")))?;
        let api = routes::publish(&sandbox)
            .await
            .context("the local API did not start")?;
        let synced = sandbox.wait_synced(Duration::from_secs(10)).await;
        print_summary(&sandbox, &source, api, started.elapsed(), synced.is_some()).await;
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = sigterm.recv() => {}
            _ = sandbox.shutdown.cancelled() => {}
        }
        println!("stopping sandbox {name:?} …");
        sandbox.stop().await;
        println!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

async fn print_summary(
    sandbox: &Sandbox,
    source: &str,
    api: std::net::SocketAddr,
    took: Duration,
    synced: bool,
) {
    let info = sandbox.info().await;
    println!("sandbox {:?} is up — scenario: {source}", sandbox.name);
    for (node_port, host) in sandbox.published_ports() {
        println!("  node port   {node_port:<5}  → http://{host}");
    }
    if let Some(pods) = info["pods"].as_array() {
        for p in pods {
            println!(
                "  pod         {}/{}  {}",
                p["namespace"].as_str().unwrap_or(""),
                p["name"].as_str().unwrap_or(""),
                p["ip"].as_str().unwrap_or("")
            );
        }
    }
    for h in &sandbox.external_hosts {
        let ports: Vec<String> = h.ports.iter().map(|(p, _)| p.to_string()).collect();
        println!(
            "  external    {}  {} (port {}, reachable from pods)",
            h.host,
            h.ip,
            ports.join(", ")
        );
        if let Some(file) = &h.certificate_file {
            println!("              its TLS certificate: {}", file.display());
        }
    }
    let proxies = info["proxies"].as_array().map_or(0, Vec::len);
    println!(
        "  proxies     {proxies} connected{}",
        if synced {
            ", all SYNCED"
        } else {
            ", not all SYNCED yet"
        }
    );
    println!(
        "  local API   {api} (token in {})",
        sandbox.state.api_file().display()
    );
    println!();
    let http = sandbox
        .published_ports()
        .into_iter()
        .find(|(n, _)| *n == 30000)
        .map_or_else(|| "localhost:30000".to_owned(), |(_, h)| h.to_string());
    println!("Try:");
    println!("  mesh get pods -A");
    println!("  mesh proxy-status");
    println!("  mesh apply -f scenarios/istio-in-action/ch4/coolstore-gw.yaml -n istioinaction");
    println!("  curl -H \"Host: webapp.istioinaction.io\" {http}/api/catalog");
    println!();
    println!(
        "Ready in {} ms. Ctrl-C (or `mesh down`) stops.",
        took.as_millis()
    );
}
