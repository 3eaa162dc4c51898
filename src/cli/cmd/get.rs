//! `mesh get KIND[,KIND] [NAME] [-n NS | -A] [-l SELECTOR] [-o wide|yaml|json|name]`: objects
//! as kubectl prints them (its table columns per kind, Istio's CRD printer columns).

use std::process::ExitCode;
use std::time::SystemTime;

use crate::cli::exit::{BAD_INPUT, Exit};
use crate::client::encode;
use crate::client::output::kubectl::{self, Format, Listing};

use super::context;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// `KIND[,KIND…] [NAME]` or `KIND/NAME` (e.g. `pods`, `svc,deploy`, `vs webapp-vs-from-gw`,
    /// `gw,vs`).
    #[arg(required = true, value_name = "KIND [NAME]")]
    pub args: Vec<String>,
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Every namespace.
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Label selector (`app=webapp`, `app!=x`, `istio`, `!istio`).
    #[arg(short = 'l', long)]
    pub selector: Option<String>,
    /// Output format: wide, yaml, json, name.
    #[arg(short, long, default_value = "")]
    pub output: String,
    /// Prefix names with their kind.
    #[arg(long)]
    pub show_kind: bool,
}

pub fn run(args: Args, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let format: Format = args
        .output
        .parse()
        .map_err(|e: kubectl::UnknownFormat| Exit::new(BAD_INPUT, format!("error: {e}")))?;
    let (kinds, name) = match args.args.as_slice() {
        [one] if one.contains('/') => {
            let (k, n) = one.split_once('/').unwrap_or((one, ""));
            (k.to_owned(), Some(n.to_owned()))
        }
        [kinds] => (kinds.clone(), None),
        [kinds, name] => (kinds.clone(), Some(name.clone())),
        _ => {
            return Err(
                Exit::new(BAD_INPUT, "error: give KIND [NAME] (one name at a time)").into(),
            );
        }
    };
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| "default".to_owned());
    let path = format!(
        "/v1/get?kinds={}&name={}&namespace={}&all={}&selector={}",
        encode(&kinds),
        encode(name.as_deref().unwrap_or("")),
        encode(&namespace),
        args.all_namespaces,
        encode(args.selector.as_deref().unwrap_or(""))
    );
    let answer = context::get(ctx, &path)?;
    let listings = Listing::from_json(&answer);
    let out = kubectl::render(
        &listings,
        format,
        args.all_namespaces,
        &namespace,
        args.show_kind,
        name.is_some(),
        SystemTime::now(),
    );
    print!("{}", out.stdout);
    eprint!("{}", out.stderr);
    Ok(ExitCode::SUCCESS)
}
