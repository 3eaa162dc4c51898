//! `mesh tui [--name SANDBOX]`: the live terminal view of a running sandbox (see `crate::tui`).
//! This side only finds the sandbox and reads the environment (`NO_COLOR`, `$VISUAL`/`$EDITOR`).

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::Arc;

use crate::cli::exit::{BAD_INPUT, Exit};
use crate::client::Client;
use crate::tui::{self, Connect, Options};

use super::context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sandbox to attach to (as `--context`; default: the only one running).
    #[arg(long, value_name = "SANDBOX")]
    pub name: Option<String>,
}

pub fn run(args: Args, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(Exit::new(
            BAD_INPUT,
            "error: mesh tui needs a terminal (for scripts: mesh get, mesh proxy-status, mesh proxy-config)",
        )
        .into());
    }
    let endpoint = context::endpoint(args.name.as_deref().or(ctx))?;
    let root = context::state_root()?;
    let name = endpoint.name.clone();
    let sandbox = name.clone();
    // Looked up again on every reconnect: a restarted sandbox has a new port and token.
    let connect: Connect = Arc::new(move || {
        context::live(&root, &name)
            .map(|e| Client::new(&e))
            .ok_or_else(|| format!("sandbox {name:?} is not running"))
    });
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let options = Options {
        sandbox,
        // https://no-color.org: set and not empty means no colour.
        color: env("NO_COLOR").is_none(),
        editor: env("VISUAL")
            .or_else(|| env("EDITOR"))
            .unwrap_or_else(|| "vi".to_owned()),
        temp_dir: std::env::temp_dir(),
    };
    tui::run(connect, options)?;
    Ok(ExitCode::SUCCESS)
}
