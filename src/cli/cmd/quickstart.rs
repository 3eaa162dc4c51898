//! `mesh quickstart`: the chapter-3 quick start — httpbin and an
//! Envoy-compatible proxy in front of it, in one process, printing what to try.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio_util::sync::CancellationToken;

use crate::net::resolve::Resolver;
use crate::proxy::{self, Options};
use crate::xds::decode::load_bootstrap;

/// The book's `ch3/simple.yaml`, on loopback (`scenarios/ch3/simple.yaml`).
pub const SIMPLE: &str = include_str!("../../../scenarios/ch3/simple.yaml");

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Another chapter-3 bootstrap to run instead of the embedded `simple.yaml` (e.g.
    /// `scenarios/ch3/simple_retry.yaml`); its ports are replaced by the flags below.
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Port for httpbin.
    #[arg(long, default_value_t = 8000)]
    pub httpbin_port: u16,
    /// Port for the proxy's listener.
    #[arg(long, default_value_t = 15001)]
    pub proxy_port: u16,
    /// Port for the proxy's admin API.
    #[arg(long, default_value_t = 15000)]
    pub admin_port: u16,
}

/// Points the chapter-3 bootstrap at our ports (the files use 15001, 15000 and 8000).
fn with_ports(yaml: &str, args: &Args) -> String {
    yaml.replace(
        "port_value: 15001",
        &format!("port_value: {}", args.proxy_port),
    )
    .replace(
        "port_value: 15000",
        &format!("port_value: {}", args.admin_port),
    )
    .replace(
        "port_value: 8000",
        &format!("port_value: {}", args.httpbin_port),
    )
    .replace("address: 0.0.0.0", "address: 127.0.0.1")
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let (name, text) = match &args.config {
        Some(p) => (
            p.display().to_string(),
            std::fs::read_to_string(p).with_context(|| format!("cannot read {}", p.display()))?,
        ),
        None => (
            "scenarios/ch3/simple.yaml (embedded)".to_owned(),
            SIMPLE.to_owned(),
        ),
    };
    let loaded = load_bootstrap(None, Some(&with_ports(&text, &args)))
        .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let httpbin_addr = SocketAddr::new(loopback, args.httpbin_port);
        let listener = crate::net::bind_tcp(httpbin_addr)
            .with_context(|| format!("httpbin cannot listen on {httpbin_addr}"))?;
        let stop = CancellationToken::new();
        let httpbin = tokio::spawn(crate::apps::httpbin::serve(listener, stop.clone()));
        let options = Options {
            resolver: Resolver::new([("httpbin".to_owned(), loopback)]),
            config_yaml: text.clone(),
            ..Options::default()
        };
        let running = proxy::start(loaded.bootstrap, options)
            .await
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let proxy_addr = running
            .listeners
            .first()
            .map(|(_, a)| a.to_string())
            .unwrap_or_default();
        let admin = running.admin_addr.map(|a| a.to_string()).unwrap_or_default();
        println!("mesh quick start — Istio in Action, chapter 3 (Envoy)");
        println!("  httpbin     http://{httpbin_addr}");
        println!("  proxy       http://{proxy_addr}    config: {name}");
        println!("  admin API   http://{admin}");
        println!();
        println!("Try:");
        println!("  curl {proxy_addr}/headers                      # Envoy adds x-request-id, x-forwarded-proto, x-envoy-expected-rq-timeout-ms");
        println!("  curl {proxy_addr}/delay/1");
        println!("  curl {proxy_addr}/status/500");
        println!("  curl -s {admin}/stats | grep retry");
        println!("  curl -X POST '{admin}/logging?http=debug'");
        println!();
        println!("Ready in {} ms. Ctrl-C stops.", started.elapsed().as_millis());
        let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .context("cannot listen for SIGTERM")?;
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = sigterm.recv() => {}
            _ = running.stopped() => {}
        }
        running.stop(Duration::from_millis(500)).await;
        stop.cancel();
        let _ = httpbin.await;
        println!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_config_is_valid_with_any_ports() {
        let args = Args {
            config: None,
            httpbin_port: 18000,
            proxy_port: 18001,
            admin_port: 18002,
        };
        let yaml = with_ports(SIMPLE, &args);
        assert!(yaml.contains("port_value: 18001") && yaml.contains("port_value: 18000"));
        let loaded = load_bootstrap(None, Some(&yaml)).unwrap();
        proxy::validate(&loaded.bootstrap, &Options::default()).unwrap();
    }
}
