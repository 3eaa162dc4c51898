//! `mesh up`: until the sandbox lands, the chapter-3 quick start (httpbin + proxy).

use std::process::ExitCode;

#[derive(Debug, clap::Args)]
pub struct Args {}

pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("not built yet")
}
