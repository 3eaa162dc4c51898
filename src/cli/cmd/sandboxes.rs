//! `mesh list` (the sandboxes on this machine: running or only saved) and `mesh down` (stop
//! one; what it applied stays saved for the next `mesh up`).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::exit::{BAD_INPUT, Exit};

use super::context::{self, block_on, live, state_root};

#[derive(Debug, clap::Args)]
pub struct ListArgs {}

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// The sandbox to stop (default: the only one running, else `mesh`).
    #[arg(long)]
    pub name: Option<String>,
}

pub fn list(_args: ListArgs) -> anyhow::Result<ExitCode> {
    let root = state_root()?;
    let names = root.list();
    if names.is_empty() {
        eprintln!("No sandboxes found. `mesh up` starts one.");
        return Ok(ExitCode::SUCCESS);
    }
    // mesh's own view (no external tool's format to match), so comfy-table's layout.
    let mut table = comfy_table::Table::new();
    table.load_style(comfy_table::presets::NOTHING).set_header([
        "NAME",
        "STATUS",
        "PID",
        "API",
        "NODE PORTS",
    ]);
    for name in names {
        match live(&root, &name) {
            Some(ep) => {
                let client = crate::client::Client::new(&ep);
                let ports = block_on(client.get("/v1/info"))?
                    .ok()
                    .and_then(|info| {
                        info["nodePorts"].as_array().map(|a| {
                            a.iter()
                                .map(|p| {
                                    format!(
                                        "{}→{}",
                                        p["host"].as_str().unwrap_or(""),
                                        p["nodePort"]
                                    )
                                })
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                    })
                    .unwrap_or_default();
                table.add_row([
                    name,
                    "Running".into(),
                    ep.pid.to_string(),
                    ep.address.to_string(),
                    ports,
                ]);
            }
            None => {
                table.add_row([name, "Stopped".into(), "-".into(), "-".into(), "-".into()]);
            }
        }
    }
    for column in table.column_iter_mut() {
        column.set_padding((0, 3));
    }
    println!("{}", table.trim_fmt());
    Ok(ExitCode::SUCCESS)
}

pub fn down(args: DownArgs) -> anyhow::Result<ExitCode> {
    let ep = context::endpoint(args.name.as_deref())?;
    let client = crate::client::Client::new(&ep);
    block_on(client.post("/v1/shutdown", &json!({})))?.map_err(context::api_error)?;
    println!("Stopping sandbox {:?} (pid {}) ...", ep.name, ep.pid);
    let deadline = Instant::now() + Duration::from_secs(30);
    while context::alive(ep.pid) {
        if Instant::now() > deadline {
            return Err(Exit::new(
                BAD_INPUT,
                format!(
                    "error: sandbox {:?} (pid {}) did not stop within 30s",
                    ep.name, ep.pid
                ),
            )
            .into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    println!(
        "Stopped. What it applied is kept for the next `mesh up --name {}` (`--fresh` discards it).",
        ep.name
    );
    Ok(ExitCode::SUCCESS)
}
