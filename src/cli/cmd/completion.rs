//! `mesh completion bash|zsh|fish|powershell|elvish`, generated from the same clap definition.

use std::process::ExitCode;

use clap_complete::Shell;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The shell to generate a completion script for.
    #[arg(value_enum)]
    pub shell: Shell,
}

pub fn run(args: Args, cmd: &mut clap::Command) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, cmd, "mesh", &mut out);
    Ok(ExitCode::SUCCESS)
}
