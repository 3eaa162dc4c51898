//! `mesh grpcbin [--port 9000] [--address 127.0.0.1]`: the `moul/grpcbin` gRPC sample over h2c,
//! in the foreground until Ctrl-C or SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::apps::grpcbin;
use crate::net;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to listen on.
    #[arg(long, short = 'p', default_value_t = grpcbin::PORT)]
    pub port: u16,
    /// Address to listen on (loopback unless you ask otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    pub address: IpAddr,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let addr = SocketAddr::new(args.address, args.port);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener =
            net::bind_tcp(addr).with_context(|| format!("grpcbin cannot listen on {addr}"))?;
        let bound = listener.local_addr().unwrap_or(addr);
        let shutdown = CancellationToken::new();
        tokio::spawn(super::httpbin::cancel_on_signal(shutdown.clone()));
        let log: crate::apps::Log = Arc::new(|line: &str| println!("{line}"));
        grpcbin::serve(listener, log, shutdown)
            .await
            .with_context(|| format!("grpcbin on {bound} failed"))?;
        Ok(ExitCode::SUCCESS)
    })
}
