//! `mesh logs POD|deploy/NAME [-c CONTAINER] [-f] [--tail N]`: a container's output (the
//! apps' own lines; `istio-proxy` is the proxy's Envoy-format log and access log).

use std::io::Write as _;
use std::process::ExitCode;

use crate::client::encode;

use super::context::{self, api_error, block_on};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A pod name, `pod/NAME` or `deploy/NAME`.
    pub target: String,
    #[arg(short, long)]
    pub container: Option<String>,
    /// Keep printing new lines.
    #[arg(short, long)]
    pub follow: bool,
    /// Only the last N lines (-1: all).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub tail: i64,
    #[arg(short, long)]
    pub namespace: Option<String>,
}

pub fn run(args: Args, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let client = context::client(ctx)?;
    let path = format!(
        "/v1/logs?target={}&namespace={}&container={}&tail={}&follow={}",
        encode(&args.target),
        encode(args.namespace.as_deref().unwrap_or("")),
        encode(args.container.as_deref().unwrap_or("")),
        args.tail,
        args.follow
    );
    let stdout = std::io::stdout();
    let mut failed: Option<std::io::Error> = None;
    block_on(client.stream_lines(&path, |line| {
        let mut out = stdout.lock();
        if failed.is_none()
            && let Err(e) = writeln!(out, "{line}").and_then(|()| out.flush())
        {
            failed = Some(e);
        }
    }))?
    .map_err(api_error)?;
    match failed {
        Some(e) => Err(e.into()),
        None => Ok(ExitCode::SUCCESS),
    }
}
