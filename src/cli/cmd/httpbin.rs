//! `mesh httpbin [--port 8000] [--address 127.0.0.1]`: the httpbin the labs call, in the
//! foreground until Ctrl-C or SIGTERM.

use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::apps::httpbin;
use crate::net;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to listen on.
    #[arg(long, short = 'p', default_value_t = 8000, env = "PORT")]
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
            net::bind_tcp(addr).with_context(|| format!("httpbin cannot listen on {addr}"))?;
        let bound = listener.local_addr().unwrap_or(addr);
        println!("httpbin listening on http://{bound}");
        let shutdown = CancellationToken::new();
        tokio::spawn(cancel_on_signal(shutdown.clone()));
        httpbin::serve(listener, shutdown)
            .await
            .with_context(|| format!("httpbin on {bound} failed"))?;
        Ok(ExitCode::SUCCESS)
    })
}

/// Cancels `token` on Ctrl-C (SIGINT) or SIGTERM (what `kill` and Kubernetes send).
pub async fn cancel_on_signal(token: CancellationToken) {
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!("cannot watch SIGTERM: {err}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    let interrupt = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!("cannot watch Ctrl-C: {err}");
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    token.cancel();
}
