//! `mesh metrics [TARGET]`: a top-like view of the mesh's traffic per workload — requests,
//! requests per second, success rate, p50/p99 latency — computed from Istio's standard metrics
//! that every proxy serves on `:15090/stats/prometheus` (scraped as Prometheus would).

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::cli::exit::{BAD_INPUT, Exit};
use crate::client::output::metrics::traffic_table;
use crate::client::traffic::{self, Scrape, WorkloadTraffic};

use super::context::{self, block_on};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    Table,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only this workload: `NAME`, `NAME.NAMESPACE` or `deploy/NAME`.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    /// Only workloads in this namespace.
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Measure over a window: scrape, wait this long (e.g. `2s`), scrape again. Without it,
    /// totals since each proxy started, with rates over its uptime.
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<Duration>,
    #[arg(short, long, value_enum, default_value = "table")]
    pub output: Output,
}

fn parse_interval(s: &str) -> Result<Duration, String> {
    crate::api::duration::parse_duration(s).map_err(|e| e.to_string())
}

/// `(name, namespace)` a target names.
fn target(t: &str) -> (String, Option<String>) {
    let t = t
        .strip_prefix("deploy/")
        .or_else(|| t.strip_prefix("deployment/"))
        .unwrap_or(t);
    match t.split_once('.') {
        Some((name, ns)) => (name.to_owned(), Some(ns.to_owned())),
        None => (t.to_owned(), None),
    }
}

/// Every proxy's Prometheus address, from the sandbox.
fn proxies(ctx: Option<&str>) -> anyhow::Result<Vec<(String, SocketAddr)>> {
    Ok(traffic::prometheus_targets(&context::get(
        ctx,
        "/v1/proxies",
    )?))
}

/// One scrape of every proxy; an unreachable one is reported and counts as empty.
async fn scrape_all(targets: &[(String, SocketAddr)]) -> Vec<Scrape> {
    let (scrapes, warnings) = traffic::scrape_all(targets).await;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    scrapes
}

pub fn run(args: Args, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let targets = proxies(ctx)?;
    if targets.is_empty() {
        return Err(Exit::new(BAD_INPUT, "Error: the sandbox has no proxies to scrape").into());
    }
    let rows = block_on(async {
        let first = scrape_all(&targets).await;
        match args.interval {
            None => traffic::since_start(&first),
            Some(wait) => {
                let started = Instant::now();
                tokio::time::sleep(wait).await;
                let second = scrape_all(&targets).await;
                traffic::over_window(&first, &second, started.elapsed())
            }
        }
    })?;
    let (name, target_ns) = match &args.target {
        Some(t) => {
            let (n, ns) = target(t);
            (Some(n), ns)
        }
        None => (None, None),
    };
    let namespace = target_ns.or(args.namespace);
    let rows: Vec<WorkloadTraffic> = rows
        .into_iter()
        .filter(|r| namespace.as_deref().is_none_or(|ns| r.namespace == ns))
        .filter(|r| name.as_deref().is_none_or(|n| r.workload == n))
        .collect();
    if let Some(n) = &name
        && rows.is_empty()
    {
        return Err(Exit::new(
            BAD_INPUT,
            format!("Error: no traffic recorded for workload {n:?} (send it some requests first)"),
        )
        .into());
    }
    match args.output {
        Output::Table => print!("{}", traffic_table(&rows)),
        Output::Json => println!("{}", serde_json::to_string_pretty(&rows)?),
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(target("deploy/catalog"), ("catalog".into(), None));
        assert_eq!(
            target("catalog.istioinaction"),
            ("catalog".into(), Some("istioinaction".into()))
        );
        assert_eq!(parse_interval("1500ms"), Ok(Duration::from_millis(1500)));
        assert!(parse_interval("soon").is_err());
    }
}
