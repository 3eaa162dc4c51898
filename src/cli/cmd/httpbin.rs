//! `mesh httpbin [--port 8000] [--address 127.0.0.1]`: the httpbin the labs call.

use std::net::IpAddr;
use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Port to listen on.
    #[arg(long, short = 'p', default_value_t = 8000, env = "PORT")]
    pub port: u16,
    /// Address to listen on (loopback unless you ask otherwise).
    #[arg(long, default_value = "127.0.0.1")]
    pub address: IpAddr,
}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("httpbin is not built yet")
}
