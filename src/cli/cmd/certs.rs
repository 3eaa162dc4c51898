//! `mesh certs gen` (the book's openssl chains, or Istio's plug-in CA files) and `mesh certs
//! inspect` (a PEM bundle summarised, or as JSON).

use std::io::{Read as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::ca::{self, BookChainOptions, CertSummary, FileKind, GenPlan, Inspection, KeyType};

#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Generate certificate chains in the book's layout, or Istio's plug-in CA files.
    ///
    /// Without --host it writes every chain the chapter-4 labs use, in the book's folders
    /// under --out: certs/ (webapp.istioinaction.io), certs2/ (catalog.istioinaction.io),
    /// sni/simple-sni-1/ and sni/simple-sni-2/. With --host it writes one chain (one root and
    /// intermediate) and a server and a client certificate per host.
    ///
    /// Each chain is laid out as the book's, with certs/ and private/ in every level:
    /// 1_root/ (ca.cert.pem, ca.key.pem); 2_intermediate/ (intermediate.cert.pem,
    /// ca-chain.cert.pem = intermediate + root, intermediate.key.pem); 3_application/
    /// (HOST.cert.pem for server auth with SAN DNS:HOST, HOST.key.pem); 4_client/ (the same
    /// names, for client auth).
    ///
    /// Private keys are written with mode 0600; an existing key is never replaced without
    /// --force (nothing is written then).
    Gen(GenArgs),
    /// Summarise the certificates and keys of a PEM file (`-` reads stdin): subject, issuer,
    /// serial, validity, SANs, key, constraints, usages, and whether the certificates are in
    /// chain order.
    Inspect(InspectArgs),
}

#[derive(Debug, clap::Args)]
pub struct GenArgs {
    /// Directory to write into (created if missing).
    #[arg(long, value_name = "DIR", default_value = "certs")]
    pub out: PathBuf,
    /// A host to issue a server and a client certificate for (repeatable). The root and
    /// intermediate are named after the first one.
    #[arg(long = "host", value_name = "HOST")]
    pub hosts: Vec<String>,
    /// Key type for every key: ec-p256, ec-p384 or ed25519. RSA is not offered: the ring
    /// crypto backend cannot generate RSA keys (existing RSA keys and CAs still load and
    /// inspect).
    #[arg(long, value_name = "TYPE", default_value = "ec-p256", value_parser = parse_key_type)]
    pub key_type: KeyType,
    /// Root validity in days [default: 7300, the book's; 3650 with --istio-cacerts].
    #[arg(long, value_name = "N")]
    pub days_root: Option<u32>,
    /// Intermediate validity in days [default: 7300; 730 with --istio-cacerts].
    #[arg(long, value_name = "N")]
    pub days_intermediate: Option<u32>,
    /// Leaf validity in days [default: 7300].
    #[arg(long, value_name = "N", conflicts_with = "istio_cacerts")]
    pub days_leaf: Option<u32>,
    /// Write Istio's plug-in CA files instead (ca-cert.pem, ca-key.pem, root-cert.pem,
    /// cert-chain.pem) from a new root and intermediate, for the `cacerts` secret.
    #[arg(long, conflicts_with = "hosts")]
    pub istio_cacerts: bool,
    /// Replace existing private keys.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Text,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// A PEM file (certificates and/or a private key), or `-` for stdin.
    #[arg(value_name = "FILE")]
    pub file: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

fn parse_key_type(s: &str) -> Result<KeyType, String> {
    s.parse()
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.command {
        Command::Gen(a) => generate(a),
        Command::Inspect(a) => inspect(a),
    }
}

fn generate(args: GenArgs) -> anyhow::Result<ExitCode> {
    let (root, intermediate) = if args.istio_cacerts {
        (3650, 730)
    } else {
        (7300, 7300)
    };
    let opts = BookChainOptions {
        key_type: args.key_type,
        days_root: args.days_root.unwrap_or(root),
        days_intermediate: args.days_intermediate.unwrap_or(intermediate),
        days_leaf: args.days_leaf.unwrap_or(7300),
    };
    let plan = if args.istio_cacerts {
        ca::istio_cacerts(&opts)?
    } else if args.hosts.is_empty() {
        ca::ch4_chains(&opts)?
    } else {
        ca::book_chain(&args.hosts, &opts)?
    };
    let written = ca::write_plan(&args.out, &plan, args.force)?;
    let mut out = std::io::stdout().lock();
    for (file, path) in plan.files.iter().zip(&written) {
        let what = match file.kind {
            FileKind::Certificate => "certificate",
            FileKind::PrivateKey => "private key (0600)",
        };
        writeln!(out, "wrote {}  {what}", path.display())?;
    }
    writeln!(out)?;
    hints(&mut out, &args, &plan)?;
    Ok(ExitCode::SUCCESS)
}

/// What to do next, the book's way.
fn hints(out: &mut impl std::io::Write, args: &GenArgs, plan: &GenPlan) -> std::io::Result<()> {
    let p = |rel: &str| args.out.join(rel).display().to_string();
    if args.istio_cacerts {
        writeln!(
            out,
            "Istio reads a plug-in CA from the cacerts secret in istio-system:"
        )?;
        return writeln!(
            out,
            "  mesh create secret generic cacerts -n istio-system --from-file={} \
             --from-file={} --from-file={} --from-file={}",
            p("ca-cert.pem"),
            p("ca-key.pem"),
            p("root-cert.pem"),
            p("cert-chain.pem")
        );
    }
    let leaves: Vec<(String, String)> = plan
        .files
        .iter()
        .filter_map(|f| {
            let path = f.path.to_string_lossy().into_owned();
            let (prefix, host) = path.split_once("3_application/certs/")?;
            let host = host.strip_suffix(".cert.pem")?.to_owned();
            Some((prefix.to_owned(), host))
        })
        .collect();
    writeln!(out, "Create a gateway secret as the book does, e.g.:")?;
    if let Some((prefix, host)) = leaves.first() {
        let name = host.split('.').next().unwrap_or(host);
        writeln!(
            out,
            "  mesh create secret tls {name}-credential -n istio-system \\\n    --key {} \\\n    --cert {}",
            p(&format!("{prefix}3_application/private/{host}.key.pem")),
            p(&format!("{prefix}3_application/certs/{host}.cert.pem"))
        )?;
        writeln!(out, "and call it with the chain's CA:")?;
        writeln!(
            out,
            "  curl --cacert {} https://{host}:30005/ --resolve {host}:30005:127.0.0.1",
            p(&format!("{prefix}2_intermediate/certs/ca-chain.cert.pem"))
        )?;
    }
    Ok(())
}

fn inspect(args: InspectArgs) -> anyhow::Result<ExitCode> {
    let data = if args.file == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading stdin")?;
        buf
    } else {
        std::fs::read(&args.file).with_context(|| args.file.clone())?
    };
    let report = ca::inspect_pem(&data).with_context(|| args.file.clone())?;
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut out, &report)?;
            writeln!(out)?;
        }
        Format::Text => out.write_all(render(&report).as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

fn or_none(s: &str, none: &str) -> String {
    if s.is_empty() {
        none.to_owned()
    } else {
        s.to_owned()
    }
}

fn validity_note(c: &CertSummary) -> String {
    match c.status.as_str() {
        "expired" => format!("expired {} days ago", -c.days_left),
        "not yet valid" => "not valid yet".to_owned(),
        _ if c.days_left == 1 => "valid for 1 day".to_owned(),
        _ => format!("valid for {} days", c.days_left),
    }
}

/// The human summary: one block per certificate (openssl's names for usages), then keys and
/// the chain-order verdict.
pub fn render(report: &Inspection) -> String {
    let mut s = String::new();
    let n = report.certificates.len();
    let line = |s: &mut String, label: &str, value: &str| {
        s.push_str(&format!("  {label:<19}{value}\n"));
    };
    for c in &report.certificates {
        if !s.is_empty() {
            s.push('\n');
        }
        let role = match c.role.as_str() {
            "Root CA" => "Root CA certificate",
            "Intermediate CA" => "Intermediate CA certificate",
            _ => "Leaf certificate",
        };
        s.push_str(&format!(
            "Certificate {} of {n}: X.509v{} {role} ({}) [Serial: {}]\n",
            c.index,
            c.version,
            c.key,
            c.info.serial_hex.to_uppercase()
        ));
        line(&mut s, "Subject:", &or_none(&c.info.subject, "(empty)"));
        line(&mut s, "Issuer:", &or_none(&c.info.issuer, "(empty)"));
        line(&mut s, "Valid from:", &c.info.not_before);
        line(
            &mut s,
            "        to:",
            &format!("{} ({})", c.info.not_after, validity_note(c)),
        );
        let sans: Vec<String> = c.info.sans.iter().map(ToString::to_string).collect();
        line(&mut s, "SANs:", &or_none(&sans.join(", "), "(none)"));
        let key = match c.key_bits {
            Some(bits) if c.key_type != "RSA" => format!("{} ({bits} bit)", c.key),
            Some(bits) => format!("{} ({bits} bit)", c.key_type),
            None => c.key.clone(),
        };
        line(&mut s, "Public key:", &key);
        line(&mut s, "Signature:", &c.signature_algorithm);
        let bc = match (c.info.is_ca, c.path_len) {
            (true, Some(n)) => format!("CA:TRUE, pathlen:{n}"),
            (true, None) => "CA:TRUE".to_owned(),
            (false, _) => "CA:FALSE".to_owned(),
        };
        line(&mut s, "Basic constraints:", &bc);
        line(
            &mut s,
            "Key usage:",
            &or_none(&c.key_usage.join(", "), "(none)"),
        );
        line(
            &mut s,
            "Ext key usage:",
            &or_none(&c.extended_key_usage.join(", "), "(none)"),
        );
        if c.self_signed {
            line(&mut s, "Self-signed:", "yes");
        }
    }
    for k in &report.keys {
        if !s.is_empty() {
            s.push('\n');
        }
        let matches = match (k.matches_certificate, n) {
            (_, 0) => String::new(),
            (Some(i), _) => format!("; matches certificate {i}"),
            (None, _) => "; matches no certificate in this file".to_owned(),
        };
        s.push_str(&format!("Private key: {} ({}){matches}\n", k.key, k.format));
    }
    if let Some(chain) = &report.chain
        && n > 1
    {
        s.push_str(&format!("\nChain: {}\n", chain.message));
    }
    for label in &report.skipped {
        s.push_str(&format!("\n(skipped a {label} block)\n"));
    }
    s
}
