//! `mesh exec POD -- CMD ARGS…`: runs CMD on this machine as if inside the pod — its HTTP(S)
//! goes out through the pod's network (its sidecar, the sandbox's DNS) by way of a forward
//! proxy the sandbox opens for the pod (`http_proxy`/`https_proxy` in CMD's environment).

use std::process::{Command, ExitCode};

use anyhow::Context as _;
use serde_json::json;

use crate::cli::exit::{BAD_INPUT, Exit};

use super::context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// A pod name, `pod/NAME` or `deploy/NAME`.
    pub target: String,
    /// Accepted for kubectl compatibility (the command runs in the pod's network, not in one
    /// container).
    #[arg(short, long)]
    pub container: Option<String>,
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// kubectl's `-i`/`-t`: accepted; the command always gets this terminal.
    #[arg(short = 'i', long)]
    pub stdin: bool,
    #[arg(short = 't', long)]
    pub tty: bool,
    /// The command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "COMMAND")]
    pub command: Vec<String>,
}

pub fn run(args: Args, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let answer = context::post(
        ctx,
        "/v1/exec",
        &json!({"target": args.target, "namespace": args.namespace}),
    )?;
    let proxy = format!("http://{}", answer["proxy"].as_str().unwrap_or(""));
    let (program, rest) = args
        .command
        .split_first()
        .context("no command given after --")?;
    if crate::apps::fortio::cli::is_fortio(program) {
        return built_in_fortio(rest, &answer);
    }
    let status = Command::new(program)
        .args(rest)
        .env("http_proxy", &proxy)
        .env("HTTP_PROXY", &proxy)
        .env("https_proxy", &proxy)
        .env("HTTPS_PROXY", &proxy)
        .env_remove("no_proxy")
        .env_remove("NO_PROXY")
        .env("HOSTNAME", answer["pod"].as_str().unwrap_or(""))
        .status()
        .map_err(|e| {
            Exit::new(
                BAD_INPUT,
                format!("error: cannot run {program:?}: {e} (mesh exec runs the command on this machine; is it installed?)"),
            )
        })?;
    Ok(match status.code() {
        Some(0) => ExitCode::SUCCESS,
        Some(c) => ExitCode::from(u8::try_from(c).unwrap_or(1)),
        None => ExitCode::from(137),
    })
}

/// fortio's client, built in: the pod's image is fortio, the binary is ours. Its connections
/// go through the same exec proxy a real process's would (`CONNECT`), so they leave the pod
/// through its sidecar.
fn built_in_fortio(args: &[String], answer: &serde_json::Value) -> anyhow::Result<ExitCode> {
    use std::io::Write as _;
    use std::sync::Arc;
    let proxy: std::net::SocketAddr = answer["proxy"]
        .as_str()
        .unwrap_or("")
        .parse()
        .context("the sandbox gave no exec proxy address")?;
    let dialer = Arc::new(crate::net::tunnel::ConnectDialer { proxy });
    let out: crate::apps::Log = Arc::new(|line: &str| {
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    });
    let err: crate::apps::Log = Arc::new(|line: &str| {
        let _ = writeln!(std::io::stderr().lock(), "{line}");
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start fortio's runtime")?;
    match runtime.block_on(crate::apps::fortio::cli::run(args, dialer, out, err)) {
        Ok(code) => Ok(ExitCode::from(code)),
        Err(usage) => Err(Exit::new(1, usage.to_string()).into()),
    }
}
