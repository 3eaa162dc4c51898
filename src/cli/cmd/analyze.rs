//! `mesh analyze`: istioctl analyze. Checks manifests (files, directories, stdin) together with
//! what the running sandbox holds, or files alone with `--use-kube=false`, and prints Istio's
//! analyzer messages with the place in the file (`file:line:column`) each one is about.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};

use crate::api::decode::{decode, parse_trees};
use crate::api::tree::{Loc, Node, Tree};
use crate::api::{Diagnostic, Resource, ResourceKey};
use crate::cli::exit::{BAD_INPUT, Exit};
use crate::pilot::analyze::{Level, Message, analyze};

use super::context;

/// istioctl's exit code when analyzers found issues at or above the failure threshold.
const FOUND_ISSUES: u8 = 79;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Manifest files or directories (`.yaml`, `.yml`, `.json`), or `-` for stdin, analyzed as
    /// if applied over what the sandbox holds.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The namespace to analyze (and the one for objects in files that name none).
    #[arg(short, long, default_value = "default")]
    pub namespace: String,
    /// Analyze every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Include the running sandbox's resources (`--use-kube=false`: files alone).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1,
          default_missing_value = "true", value_name = "BOOL")]
    pub use_kube: bool,
    /// Also read directories' subdirectories.
    #[arg(short = 'R', long)]
    pub recursive: bool,
    /// `log`, `json` or `yaml`.
    #[arg(short, long, default_value = "log")]
    pub output: String,
    /// The lowest level that makes the exit code non-zero: Info, Warning, Error.
    #[arg(long, default_value = "Error")]
    pub failure_threshold: String,
    /// The lowest level printed: Info, Warning, Error.
    #[arg(long, default_value = "Info")]
    pub output_threshold: String,
}

/// A resource read from a file, with its located tree (to place messages in the file).
struct FromFile {
    /// Kind, namespace ("" when cluster-scoped), name.
    key: (String, String, String),
    source: String,
    node: Node,
}

pub fn run(args: Args, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let level = |s: &str, flag: &str| {
        Level::parse(s).ok_or_else(|| {
            Exit::new(
                BAD_INPUT,
                format!("error: invalid {flag} {s:?}: valid values are Info, Warning, Error"),
            )
        })
    };
    let failure = level(&args.failure_threshold, "--failure-threshold")?;
    let shown = level(&args.output_threshold, "--output-threshold")?;
    if !matches!(args.output.as_str(), "log" | "json" | "yaml") {
        return Err(Exit::new(
            BAD_INPUT,
            format!(
                "error: invalid output format {:?}: use log, json or yaml",
                args.output
            ),
        )
        .into());
    }
    let docs = super::manifests::documents(&args.files, args.recursive)?;

    // The user's files: objects, their trees, and schema/webhook problems as IST0106.
    let mut file_resources: Vec<Resource> = Vec::new();
    let mut located: Vec<FromFile> = Vec::new();
    let mut messages: Vec<(Message, Option<String>)> = Vec::new();
    for doc in &docs {
        let source = doc["source"].as_str().unwrap_or("-");
        let text = doc["text"].as_str().unwrap_or("");
        match decode(source, text) {
            Ok(decoded) => {
                for d in decoded {
                    let mut r = d.resource;
                    if r.info().is_some_and(|i| i.namespaced) {
                        r.default_namespace(&args.namespace);
                    }
                    file_resources.push(r);
                }
            }
            Err(problems) => {
                messages.extend(problems.iter().map(|p| schema_message(p, &args.namespace)))
            }
        }
        if let Ok(nodes) = parse_trees(source, text) {
            for node in nodes {
                if let Some(key) = node_key(&node, &args.namespace) {
                    located.push(FromFile {
                        key,
                        source: source.to_owned(),
                        node,
                    });
                }
            }
        }
    }

    // The sandbox's objects, overridden by the files' (as if the files were applied).
    let mut world: Vec<Resource> = Vec::new();
    if args.use_kube {
        let answer = context::get(
            ctx,
            "/v1/get?kinds=namespaces,services,pods,gw,vs,dr,se&all=true",
        )?;
        for listing in answer["listings"].as_array().into_iter().flatten() {
            for item in listing["items"].as_array().into_iter().flatten() {
                if let Ok(r) = crate::api::decode::decode_value(item.clone()) {
                    world.push(r);
                }
            }
        }
    } else if args.files.is_empty() {
        return Err(Exit::new(
            BAD_INPUT,
            "error: nothing to analyze: give manifest files, or leave out --use-kube=false to analyze the running sandbox",
        )
        .into());
    }
    let from_files: Vec<ResourceKey> = file_resources.iter().map(Resource::key).collect();
    world.retain(|r| !from_files.contains(&r.key()));
    world.extend(file_resources);

    for m in analyze(&world) {
        let at = located
            .iter()
            .find(|f| f.key == (m.kind.clone(), m.namespace.clone(), m.name.clone()))
            .map(|f| place(&f.source, f.node.locate_field(&m.path)));
        messages.push((m, at));
    }

    let target = if args.all_namespaces {
        "all namespaces".to_owned()
    } else {
        format!("namespace: {}", args.namespace)
    };
    let in_scope = |m: &Message| {
        args.all_namespaces
            || m.namespace == args.namespace
            || (m.namespace.is_empty() && m.kind == "Namespace" && m.name == args.namespace)
    };
    messages.retain(|(m, _)| in_scope(m));
    let fails = messages.iter().any(|(m, _)| m.level <= failure);
    let printed: Vec<&(Message, Option<String>)> =
        messages.iter().filter(|(m, _)| m.level <= shown).collect();

    match args.output.as_str() {
        "log" => {
            for (m, at) in &printed {
                let loc = at.as_ref().map(|a| format!(" {a}")).unwrap_or_default();
                println!(
                    "{} [{}] ({}{loc}) {}",
                    m.level.as_str(),
                    m.code,
                    m.origin(),
                    m.text
                );
            }
        }
        format => {
            let list: Vec<Value> = printed
                .iter()
                .map(|(m, at)| {
                    let mut v = json!({
                        "code": m.code,
                        "documentationUrl": m.doc_url(),
                        "level": m.level.as_str(),
                        "message": m.text,
                        "origin": m.origin(),
                    });
                    if let Some(at) = at {
                        v["reference"] = json!(at);
                    }
                    v
                })
                .collect();
            let text = if format == "json" {
                serde_json::to_string_pretty(&list)?
            } else {
                crate::client::output::goyaml::json_to_yaml(
                    &crate::client::output::protojson::from_raw_json(&Value::Array(list)),
                )
            };
            println!("{text}");
        }
    }
    if messages.is_empty() {
        eprintln!("\u{2714} No validation issues found when analyzing {target}.");
    }
    if fails {
        return Err(Exit::new(
            FOUND_ISSUES,
            format!(
                "Error: Analyzers found issues when analyzing {target}.\nSee https://istio.io/v{}/docs/reference/config/analysis for more information about causes and resolutions.",
                crate::pilot::names::ISTIO_VERSION
                    .rsplit_once('.')
                    .map_or(crate::pilot::names::ISTIO_VERSION, |(mm, _)| mm)
            ),
        )
        .into());
    }
    Ok(ExitCode::SUCCESS)
}

fn place(source: &str, loc: Loc) -> String {
    format!("{source}:{}:{}", loc.line, loc.column)
}

/// A document that failed the schema or istiod's webhook rules: IST0106, at its place.
fn schema_message(d: &Diagnostic, namespace: &str) -> (Message, Option<String>) {
    let reason = d
        .reason
        .strip_prefix(crate::api::istio::validate::DENIED)
        .map(|r| r.trim_start_matches(": ").to_owned())
        .unwrap_or_else(|| match &d.field {
            Some(f) => format!("{f}: {}", d.reason),
            None => d.reason.clone(),
        });
    let m = Message {
        code: "IST0106",
        level: Level::Error,
        kind: d.kind.clone().unwrap_or_default(),
        namespace: namespace.to_owned(),
        name: d.name.clone().unwrap_or_default(),
        path: Vec::new(),
        text: format!("Schema validation error: {reason}"),
    };
    (m, Some(format!("{}:{}:{}", d.file, d.line, d.column)))
}

/// Kind, namespace (defaulted) and name of a document's tree.
fn node_key(node: &Node, namespace: &str) -> Option<(String, String, String)> {
    if !matches!(node.tree, Tree::Map(_)) {
        return None;
    }
    let kind = node.get("kind")?.as_str()?.to_owned();
    let meta = node.get("metadata")?;
    let name = meta.get("name")?.as_str()?.to_owned();
    let ns = meta
        .get("namespace")
        .and_then(Node::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| {
            if kind == "Namespace" {
                String::new()
            } else {
                namespace.to_owned()
            }
        });
    Some((kind, ns, name))
}
