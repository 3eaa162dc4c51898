//! `mesh scale` and `mesh label`.

use std::process::ExitCode;

use serde_json::{Map, Value, json};

use crate::cli::exit::{BAD_INPUT, Exit};

use super::context;
use super::manifests::kind_and_names;

#[derive(Debug, clap::Args)]
pub struct ScaleArgs {
    /// `deploy/NAME` (or `deploy NAME`).
    #[arg(required = true, value_name = "KIND/NAME")]
    pub target: Vec<String>,
    #[arg(long)]
    pub replicas: i32,
    #[arg(short, long)]
    pub namespace: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LabelArgs {
    /// `KIND NAME KEY=VALUE… KEY-…` (or `KIND/NAME …`).
    #[arg(required = true, num_args = 2.., value_name = "KIND NAME LABEL")]
    pub args: Vec<String>,
    /// Replace labels that already have a value.
    #[arg(long)]
    pub overwrite: bool,
    #[arg(short, long)]
    pub namespace: Option<String>,
}

pub fn scale(args: ScaleArgs, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let (kind, names) = kind_and_names(&args.target)?;
    let [name] = names.as_slice() else {
        return Err(Exit::new(BAD_INPUT, "error: give one object to scale: deploy/NAME").into());
    };
    let answer = context::post(
        ctx,
        "/v1/scale",
        &json!({"kind": kind, "name": name, "namespace": args.namespace, "replicas": args.replicas}),
    )?;
    println!("{}", answer["result"].as_str().unwrap_or(""));
    Ok(ExitCode::SUCCESS)
}

pub fn label(args: LabelArgs, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    // The object is `KIND/NAME` or `KIND NAME`; the rest are label changes.
    let (object, changes) = if args.args[0].contains('/') {
        (&args.args[..1], &args.args[1..])
    } else {
        (&args.args[..2], &args.args[2..])
    };
    let (kind, names) = kind_and_names(object)?;
    let [name] = names.as_slice() else {
        return Err(Exit::new(BAD_INPUT, "error: give one object to label").into());
    };
    if changes.is_empty() {
        return Err(Exit::new(BAD_INPUT, "error: at least one label update is required").into());
    }
    let mut labels = Map::new();
    for c in changes {
        if let Some((k, v)) = c.split_once('=') {
            labels.insert(k.to_owned(), Value::String(v.to_owned()));
        } else if let Some(k) = c.strip_suffix('-') {
            labels.insert(k.to_owned(), Value::Null);
        } else {
            return Err(Exit::new(
                BAD_INPUT,
                format!("error: invalid label spec: {c} (KEY=VALUE adds, KEY- removes)"),
            )
            .into());
        }
    }
    let answer = context::post(
        ctx,
        "/v1/label",
        &json!({"kind": kind, "name": name, "namespace": args.namespace, "labels": labels, "overwrite": args.overwrite}),
    )?;
    println!("{}", answer["result"].as_str().unwrap_or(""));
    Ok(ExitCode::SUCCESS)
}
