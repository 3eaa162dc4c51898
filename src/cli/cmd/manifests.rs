//! `mesh apply`, `mesh delete` and `mesh create`: manifests (files, directories, stdin) and the
//! objects kubectl can create from flags (namespaces, TLS and generic secrets).

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use serde_json::{Value, json};

use crate::api::base64;
use crate::cli::exit::{BAD_INPUT, Exit};

use super::context;

#[derive(Debug, clap::Args)]
pub struct ApplyArgs {
    /// A manifest file, a directory of them (`.yaml`, `.yml`, `.json`), or `-` for stdin.
    /// Repeatable.
    #[arg(short = 'f', long = "filename", required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Namespace for objects that name none.
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Also read directories' subdirectories.
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

#[derive(Debug, clap::Args)]
pub struct DeleteArgs {
    /// `KIND NAME…` (e.g. `deploy webapp`, `vs/webapp-vs-from-gw`), unless `-f` is given.
    #[arg(value_name = "KIND [NAME…]")]
    pub args: Vec<String>,
    /// Delete what these manifests define.
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Every object of the kind in the namespace.
    #[arg(long)]
    pub all: bool,
    /// A missing object is not an error.
    #[arg(long)]
    pub ignore_not_found: bool,
    #[arg(short = 'R', long)]
    pub recursive: bool,
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    #[command(subcommand)]
    pub what: Option<CreateWhat>,
    /// Create what these manifests define (an existing object is an error).
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[arg(short, long, global = true)]
    pub namespace: Option<String>,
}

#[derive(Debug, clap::Subcommand)]
pub enum CreateWhat {
    /// `mesh create namespace NAME`
    #[command(visible_alias = "ns")]
    Namespace { name: String },
    /// `mesh create secret tls|generic NAME …`
    Secret {
        #[command(subcommand)]
        kind: SecretKind,
    },
}

#[derive(Debug, clap::Subcommand)]
pub enum SecretKind {
    /// A `kubernetes.io/tls` secret from a key and a certificate (PEM files).
    Tls {
        name: String,
        #[arg(long, value_name = "PATH")]
        key: PathBuf,
        #[arg(long, value_name = "PATH")]
        cert: PathBuf,
    },
    /// An `Opaque` secret from files and literals.
    Generic {
        name: String,
        /// `key=path` or `path` (the key is the file name). Repeatable.
        #[arg(long = "from-file", value_name = "[KEY=]PATH")]
        from_file: Vec<String>,
        /// `key=value`. Repeatable.
        #[arg(long = "from-literal", value_name = "KEY=VALUE")]
        from_literal: Vec<String>,
    },
}

/// Reads `-f` arguments into `{source, text}` documents.
pub(crate) fn documents(files: &[PathBuf], recursive: bool) -> anyhow::Result<Vec<Value>> {
    let mut docs = Vec::new();
    for f in files {
        if f.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .context("cannot read standard input")?;
            docs.push(json!({"source": "-", "text": text}));
            continue;
        }
        if f.is_dir() {
            for p in manifest_files(f, recursive)? {
                let text = std::fs::read_to_string(&p)
                    .with_context(|| format!("cannot read {}", p.display()))?;
                docs.push(json!({"source": p.display().to_string(), "text": text}));
            }
            continue;
        }
        let text = std::fs::read_to_string(f).map_err(|e| {
            Exit::new(
                BAD_INPUT,
                format!(
                    "error: the path \"{}\" does not exist or cannot be read: {e}",
                    f.display()
                ),
            )
        })?;
        docs.push(json!({"source": f.display().to_string(), "text": text}));
    }
    Ok(docs)
}

fn manifest_files(dir: &Path, recursive: bool) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read directory {}", dir.display()))?
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            if recursive {
                out.extend(manifest_files(&p, true)?);
            }
        } else if p
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
        {
            out.push(p);
        }
    }
    Ok(out)
}

fn print_results(answer: &Value) {
    for w in answer["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        eprintln!("Warning: {w}");
    }
    for key in ["results", "deleted"] {
        for line in answer[key]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            println!("{line}");
        }
    }
    if let Some(r) = answer["result"].as_str() {
        println!("{r}");
    }
}

pub fn apply(args: ApplyArgs, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let docs = documents(&args.files, args.recursive)?;
    let answer = context::post(
        ctx,
        "/v1/apply",
        &json!({"documents": docs, "namespace": args.namespace}),
    )?;
    print_results(&answer);
    Ok(ExitCode::SUCCESS)
}

pub fn delete(args: DeleteArgs, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let body = if !args.files.is_empty() {
        json!({"documents": documents(&args.files, args.recursive)?, "namespace": args.namespace, "ignoreNotFound": args.ignore_not_found})
    } else {
        let (kind, names) = kind_and_names(&args.args)?;
        if names.is_empty() && !args.all {
            return Err(Exit::new(
                BAD_INPUT,
                "error: resource(s) were provided, but no name was specified (give NAME… or --all)",
            )
            .into());
        }
        json!({"kind": kind, "names": names, "all": args.all, "namespace": args.namespace, "ignoreNotFound": args.ignore_not_found})
    };
    let answer = context::post(ctx, "/v1/delete", &body)?;
    print_results(&answer);
    Ok(ExitCode::SUCCESS)
}

/// `deploy a b` or `deploy/a deploy/b` → (`deploy`, [a, b]).
pub fn kind_and_names(args: &[String]) -> anyhow::Result<(String, Vec<String>)> {
    let Some(first) = args.first() else {
        return Err(Exit::new(
            BAD_INPUT,
            "error: you must specify the type of resource (e.g. `deploy NAME`) or -f FILE",
        )
        .into());
    };
    if first.contains('/') {
        let mut kind = None;
        let mut names = Vec::new();
        for a in args {
            let Some((k, n)) = a.split_once('/') else {
                return Err(Exit::new(BAD_INPUT, format!("error: there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'mesh get resource/<resource_name>' instead of 'mesh get resource resource/<resource_name>'): {a}")).into());
            };
            if kind.is_some_and(|k: &str| k != first.split_once('/').map_or("", |f| f.0)) {
                return Err(Exit::new(BAD_INPUT, "error: give one kind at a time").into());
            }
            kind = Some(k);
            names.push(n.to_owned());
        }
        return Ok((kind.unwrap_or_default().to_owned(), names));
    }
    Ok((first.clone(), args[1..].to_vec()))
}

pub fn create(args: CreateArgs, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let ns = args.namespace.clone();
    let object = match &args.what {
        None if !args.files.is_empty() => {
            let docs = documents(&args.files, false)?;
            let answer = context::post(
                ctx,
                "/v1/apply",
                &json!({"documents": docs, "namespace": ns, "create": true}),
            )?;
            print_results(&answer);
            return Ok(ExitCode::SUCCESS);
        }
        None => {
            return Err(Exit::new(
                BAD_INPUT,
                "error: must specify one of -f, namespace NAME, secret tls|generic NAME",
            )
            .into());
        }
        Some(CreateWhat::Namespace { name }) => {
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
        }
        Some(CreateWhat::Secret {
            kind: SecretKind::Tls { name, key, cert },
        }) => {
            let read = |p: &PathBuf| {
                std::fs::read(p).map_err(|e| {
                    Exit::new(
                        BAD_INPUT,
                        format!("error: cannot read {}: {e}", p.display()),
                    )
                })
            };
            let (k, c) = (read(key)?, read(cert)?);
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "kubernetes.io/tls",
                   "data": {"tls.crt": base64::encode(&c), "tls.key": base64::encode(&k)}})
        }
        Some(CreateWhat::Secret {
            kind:
                SecretKind::Generic {
                    name,
                    from_file,
                    from_literal,
                },
        }) => {
            let mut data = serde_json::Map::new();
            for spec in from_file {
                let (key, path) = match spec.split_once('=') {
                    Some((k, p)) => (k.to_owned(), PathBuf::from(p)),
                    None => {
                        let p = PathBuf::from(spec);
                        let k = p
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        (k, p)
                    }
                };
                let bytes = std::fs::read(&path).map_err(|e| {
                    Exit::new(
                        BAD_INPUT,
                        format!("error: cannot read {}: {e}", path.display()),
                    )
                })?;
                data.insert(key, Value::String(base64::encode(&bytes)));
            }
            for lit in from_literal {
                let Some((k, v)) = lit.split_once('=') else {
                    return Err(Exit::new(
                        BAD_INPUT,
                        format!("error: invalid literal source {lit}, expected key=value"),
                    )
                    .into());
                };
                data.insert(k.to_owned(), Value::String(base64::encode(v.as_bytes())));
            }
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "type": "Opaque", "data": data})
        }
    };
    let text = serde_json::to_string(&object).unwrap_or_default();
    let answer = context::post(
        ctx,
        "/v1/apply",
        &json!({"documents": [{"source": "-", "text": text}], "namespace": ns, "create": true}),
    )?;
    print_results(&answer);
    Ok(ExitCode::SUCCESS)
}
