//! `mesh install` (istioctl install) and `mesh manifest generate`.

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::cli::exit::{BAD_INPUT, Exit};
use crate::client::output::kubectl;
use crate::sandbox::install::operator::{InstallFile, Operator, resolve};
use crate::sandbox::install::render;

use super::context;
use super::manifests::documents;

/// Istio's version the profiles and images follow.
const ISTIO_VERSION: &str = "1.26.0";

#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// An IstioOperator file (repeatable; later files override earlier ones), or `-`.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Override a field: `--set meshConfig.accessLogFile=/dev/stdout`, `--set profile=demo`.
    #[arg(short = 's', long = "set", value_name = "PATH=VALUE")]
    pub set: Vec<String>,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long = "skip-confirmation")]
    pub yes: bool,
    /// The namespace of the IstioOperator object when its file names none.
    #[arg(short, long)]
    pub namespace: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ManifestArgs {
    #[command(subcommand)]
    pub command: ManifestCommand,
}

#[derive(Debug, clap::Subcommand)]
pub enum ManifestCommand {
    /// Print the Kubernetes objects an install renders, as YAML.
    Generate {
        #[arg(short = 'f', long = "filename", value_name = "FILE")]
        files: Vec<PathBuf>,
        #[arg(short = 's', long = "set", value_name = "PATH=VALUE")]
        set: Vec<String>,
    },
}

fn read_files(files: &[PathBuf]) -> anyhow::Result<(Vec<Value>, Vec<InstallFile>)> {
    let docs = documents(files, false)?;
    let files = docs
        .iter()
        .map(|d| InstallFile {
            source: d["source"].as_str().unwrap_or("-").to_owned(),
            text: d["text"].as_str().unwrap_or("").to_owned(),
        })
        .collect();
    Ok((docs, files))
}

fn resolve_or_exit(files: &[InstallFile], set: &[String]) -> anyhow::Result<Operator> {
    resolve(files, set).map_err(|problems| {
        let n = problems.len();
        let lines: Vec<String> = problems.iter().map(ToString::to_string).collect();
        Exit::new(
            BAD_INPUT,
            format!(
                "{}\nerror: {n} problem{} found; nothing was installed",
                lines.join("\n"),
                if n == 1 { "" } else { "s" }
            ),
        )
        .into()
    })
}

/// istioctl's question; anything but y/yes cancels.
fn confirm(profile: &str) -> anyhow::Result<bool> {
    print!(
        "This will install the Istio {ISTIO_VERSION} profile \"{profile}\" into the cluster. Proceed? (y/N) "
    );
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    if !std::io::stdin().is_terminal() {
        println!("{}", line.trim());
    }
    Ok(matches!(
        line.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

pub fn install(args: InstallArgs, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let (docs, files) = read_files(&args.files)?;
    // Checked here first, so a typo is reported before anything is asked or sent.
    let op = resolve_or_exit(&files, &args.set)?;
    if !args.yes && !confirm(&op.profile)? {
        println!("Cancelled.");
        return Err(Exit::new(BAD_INPUT, "").into());
    }
    let answer = context::post(
        ctx,
        "/v1/install",
        &json!({"documents": docs, "set": args.set, "namespace": args.namespace}),
    )?;
    for w in answer["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        eprintln!("Warning: {w}");
    }
    for r in answer["removed"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        println!("  Removed {r}.");
    }
    for c in answer["components"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        println!("✔ {c} installed {}", icon(c));
    }
    println!("✔ Installation complete");
    Ok(ExitCode::SUCCESS)
}

fn icon(component: &str) -> &'static str {
    match component {
        "Istio core" => "⛵️",
        "Istiod" => "🧠",
        "Ingress gateways" => "🛬",
        "Egress gateways" => "🛫",
        _ => "",
    }
}

pub fn manifest(args: ManifestArgs) -> anyhow::Result<ExitCode> {
    let ManifestCommand::Generate { files, set } = args.command;
    let (_, files) = read_files(&files)?;
    let op = resolve_or_exit(&files, &set)?;
    let rendered = render::render(&op, &Default::default());
    let docs: Vec<String> = rendered.objects.iter().map(kubectl::yaml).collect();
    print!("{}", docs.join("---\n"));
    if rendered.objects.is_empty() {
        return Err(Exit::new(BAD_INPUT, "error: the profile renders nothing").into());
    }
    Ok(ExitCode::SUCCESS)
}
