//! `mesh proxy-status` and `mesh proxy-config …`: istioctl's views. The sync table comes from
//! the control plane; everything `proxy-config` prints comes from the proxy's own admin API
//! (`/config_dump`, `/clusters?format=json`, `/logging`), as istioctl reads it through a
//! port-forward, rendered in istioctl's shapes.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use serde_json::Value;

use crate::cli::exit::{BAD_INPUT, Exit};
use crate::client::output::istioctl::{
    self as render, AdminClusters, AllFilters, ClusterFilter, ConfigDump, EndpointFilter,
    ListenerFilter, LogChange, Output, RouteFilter,
};
use crate::client::{admin_request, encode};

use super::context::{self, block_on};

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Only proxies in this namespace.
    #[arg(short, long)]
    pub namespace: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ConfigArgs {
    #[command(subcommand)]
    pub what: ConfigWhat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFlag {
    Short,
    Json,
    Yaml,
}

/// What every `proxy-config` command takes.
#[derive(Debug, Clone, clap::Args)]
pub struct Common {
    /// `POD`, `POD.NAMESPACE`, `deploy/NAME`, or any unique part of a proxy's name
    /// (`gateway`). Optional with `--file`.
    #[arg(value_name = "TARGET")]
    pub target: Option<String>,
    #[arg(short, long)]
    pub namespace: Option<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "short")]
    pub output: OutputFlag,
    /// Read an Envoy config dump from this file instead of asking a proxy.
    #[arg(short = 'f', long = "file", value_name = "PATH")]
    pub file: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
pub enum ConfigWhat {
    /// Listeners: ADDRESSES PORT MATCH DESTINATION.
    #[command(visible_alias = "listeners")]
    Listener {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "")]
        address: String,
        #[arg(long, default_value_t = 0)]
        port: u32,
        /// HTTP, TCP, HTTP+TCP.
        #[arg(long = "type", default_value = "")]
        type_: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        verbose: bool,
    },
    /// Route configurations: NAME VHOST NAME DOMAINS MATCH VIRTUAL SERVICE.
    #[command(visible_alias = "routes")]
    Route {
        #[command(flatten)]
        common: Common,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
        verbose: bool,
    },
    /// Clusters: SERVICE FQDN PORT SUBSET DIRECTION TYPE DESTINATION RULE.
    #[command(visible_alias = "clusters")]
    Cluster {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        filter: ClusterFlags,
    },
    /// Endpoints from the proxy's `/clusters`: ENDPOINT STATUS OUTLIER CHECK CLUSTER.
    #[command(visible_aliases = ["endpoints", "ep"])]
    Endpoint {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        filter: EndpointFlags,
    },
    /// Secrets (certificates) the proxy holds.
    #[command(visible_alias = "secrets")]
    Secret {
        #[command(flatten)]
        common: Common,
    },
    /// The proxy's bootstrap.
    Bootstrap {
        #[command(flatten)]
        common: Common,
    },
    /// The proxy's loggers, or change them: `--level http:debug`, `--level debug`, `-r`.
    Log {
        #[command(flatten)]
        common: Common,
        #[arg(long)]
        level: Option<String>,
        #[arg(short, long)]
        reset: bool,
    },
    /// Everything: bootstrap summary, clusters, listeners, routes, secrets, endpoints.
    All {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        cluster: ClusterFlags,
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "")]
        address: String,
        #[arg(long = "type", default_value = "")]
        type_: String,
    },
}

#[derive(Debug, Clone, clap::Args)]
pub struct ClusterFlags {
    #[arg(long, default_value = "")]
    pub fqdn: String,
    #[arg(long, default_value_t = 0)]
    pub port: u32,
    #[arg(long, default_value = "")]
    pub subset: String,
    #[arg(long, default_value = "")]
    pub direction: String,
}

#[derive(Debug, Clone, clap::Args)]
pub struct EndpointFlags {
    #[arg(long, default_value = "")]
    pub address: String,
    #[arg(long, default_value_t = 0)]
    pub port: u32,
    #[arg(long, default_value = "")]
    pub cluster: String,
    #[arg(long, default_value = "")]
    pub status: String,
}

pub fn status(args: StatusArgs, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let answer = context::get(ctx, "/v1/proxies")?;
    let rows = render::status_rows(&answer, args.namespace.as_deref());
    print!("{}", render::proxy_status(&rows));
    Ok(ExitCode::SUCCESS)
}

/// The proxy a target means: its name and admin address.
fn resolve(common: &Common, ctx: Option<&str>) -> anyhow::Result<(String, SocketAddr)> {
    let Some(target) = &common.target else {
        return Err(Exit::new(
            BAD_INPUT,
            "Error: proxy-config requires a TARGET (POD, POD.NAMESPACE or deploy/NAME), or --file",
        )
        .into());
    };
    let path = format!(
        "/v1/proxy?target={}&namespace={}",
        encode(target),
        encode(common.namespace.as_deref().unwrap_or(""))
    );
    let p = context::get(ctx, &path)?;
    let admin = p["admin"]
        .as_str()
        .and_then(|a| a.parse().ok())
        .ok_or_else(|| {
            Exit::new(
                BAD_INPUT,
                format!("Error: proxy {} has no admin API", p["name"]),
            )
        })?;
    Ok((p["name"].as_str().unwrap_or("").to_owned(), admin))
}

fn admin(addr: SocketAddr, method: http::Method, path: &str) -> anyhow::Result<String> {
    let (status, body) =
        block_on(admin_request(addr, method, path))?.map_err(context::api_error)?;
    if status != 200 {
        return Err(Exit::new(
            BAD_INPUT,
            format!(
                "Error: the proxy's admin API answered {status} to {path}: {}",
                body.trim()
            ),
        )
        .into());
    }
    Ok(body)
}

/// The config dump, from `--file` or the proxy.
fn dump(
    common: &Common,
    ctx: Option<&str>,
    include_eds: bool,
) -> anyhow::Result<(String, ConfigDump, Option<SocketAddr>)> {
    let (name, text, addr) = match &common.file {
        Some(f) => {
            let text = std::fs::read_to_string(f).map_err(|e| {
                Exit::new(
                    BAD_INPUT,
                    format!("Error: cannot read {}: {e}", f.display()),
                )
            })?;
            (String::new(), text, None)
        }
        None => {
            let (name, addr) = resolve(common, ctx)?;
            let path = if include_eds {
                "/config_dump?include_eds"
            } else {
                "/config_dump"
            };
            (name, admin(addr, http::Method::GET, path)?, Some(addr))
        }
    };
    let dump = ConfigDump::parse(&text).map_err(render_error)?;
    Ok((name, dump, addr))
}

fn render_error(e: render::RenderError) -> anyhow::Error {
    Exit::new(BAD_INPUT, format!("Error: {e}")).into()
}

fn protos_out(output: OutputFlag, protos: &[crate::client::output::node::Node]) -> String {
    match output {
        OutputFlag::Yaml => render::yaml(protos),
        _ => render::json(protos),
    }
}

pub fn config(args: ConfigArgs, ctx: Option<&str>) -> anyhow::Result<ExitCode> {
    let text = match args.what {
        ConfigWhat::Listener {
            common,
            address,
            port,
            type_,
            verbose,
        } => {
            let (_, dump, _) = dump(&common, ctx, false)?;
            let filter = ListenerFilter {
                address,
                port,
                type_,
                verbose,
            };
            match common.output {
                OutputFlag::Short => render::listener(&dump, &filter).map_err(render_error)?,
                o => protos_out(
                    o,
                    &render::listener_protos(&dump, &filter).map_err(render_error)?,
                ),
            }
        }
        ConfigWhat::Route {
            common,
            name,
            verbose,
        } => {
            let (_, dump, _) = dump(&common, ctx, false)?;
            let filter = RouteFilter { name, verbose };
            match common.output {
                OutputFlag::Short => render::route(&dump, &filter).map_err(render_error)?,
                o => protos_out(
                    o,
                    &render::route_protos(&dump, &filter).map_err(render_error)?,
                ),
            }
        }
        ConfigWhat::Cluster { common, filter } => {
            let (_, dump, _) = dump(&common, ctx, false)?;
            let filter = cluster_filter(filter);
            match common.output {
                OutputFlag::Short => render::cluster(&dump, &filter).map_err(render_error)?,
                o => protos_out(
                    o,
                    &render::cluster_protos(&dump, &filter).map_err(render_error)?,
                ),
            }
        }
        ConfigWhat::Endpoint { common, filter } => {
            let filter = endpoint_filter(filter);
            match &common.file {
                // A config dump file has EDS, not /clusters: istioctl prints the EDS view.
                Some(_) => {
                    let (_, dump, _) = dump(&common, ctx, true)?;
                    match common.output {
                        OutputFlag::Short => render::eds(&dump, &filter),
                        o => protos_out(o, &render::eds_protos(&dump, &filter)),
                    }
                }
                None => {
                    let (_, addr) = resolve(&common, ctx)?;
                    let text = admin(addr, http::Method::GET, "/clusters?format=json")?;
                    let clusters = AdminClusters::parse(&text).map_err(render_error)?;
                    match common.output {
                        OutputFlag::Short => render::endpoint(&clusters, &filter),
                        o => protos_out(o, &render::endpoint_protos(&clusters, &filter)),
                    }
                }
            }
        }
        ConfigWhat::Secret { common } => {
            let (_, dump, _) = dump(&common, ctx, false)?;
            match common.output {
                OutputFlag::Short => {
                    render::secret(&dump, SystemTime::now()).map_err(render_error)?
                }
                OutputFlag::Json => {
                    render::secret_dump(&dump, Output::Json).map_err(render_error)?
                }
                OutputFlag::Yaml => {
                    render::secret_dump(&dump, Output::Yaml).map_err(render_error)?
                }
            }
        }
        ConfigWhat::Bootstrap { common } => {
            let (_, dump, _) = dump(&common, ctx, false)?;
            // istioctl prints the bootstrap as JSON unless asked otherwise.
            let output = match common.output {
                OutputFlag::Yaml => Output::Yaml,
                _ => Output::Json,
            };
            render::bootstrap(&dump, output).map_err(render_error)?
        }
        ConfigWhat::Log {
            common,
            level,
            reset,
        } => {
            let (name, addr) = resolve(&common, ctx)?;
            let loggers = admin(addr, http::Method::POST, "/logging")?;
            let change = match (level, reset) {
                (_, true) => LogChange::Reset {
                    default_level: "warning".into(),
                },
                (Some(l), false) => LogChange::Levels(l),
                (None, false) => LogChange::None,
            };
            let mut last = loggers.clone();
            for query in render::log_requests(&change, &loggers).map_err(render_error)? {
                let path = if query.is_empty() {
                    "/logging".to_owned()
                } else {
                    format!("/logging?{query}")
                };
                last = admin(addr, http::Method::POST, &path)?;
            }
            render::log(&name, &last)
        }
        ConfigWhat::All {
            common,
            cluster,
            name,
            address,
            type_,
        } => {
            let (_, dump, _) = dump(&common, ctx, true)?;
            let port = cluster.port;
            match common.output {
                OutputFlag::Short => {
                    let filters = AllFilters {
                        cluster: cluster_filter(cluster),
                        listener: ListenerFilter {
                            address: address.clone(),
                            port,
                            type_,
                            verbose: true,
                        },
                        route: RouteFilter {
                            name,
                            verbose: true,
                        },
                        endpoint: EndpointFilter {
                            address,
                            port,
                            ..Default::default()
                        },
                    };
                    match render::all(&dump, &filters, SystemTime::now(), false) {
                        Ok(text) => text,
                        Err(partial) => {
                            print!("{}", partial.printed);
                            return Err(render_error(partial.error));
                        }
                    }
                }
                OutputFlag::Json | OutputFlag::Yaml => {
                    let raw = match &common.file {
                        Some(f) => std::fs::read_to_string(f)?,
                        None => {
                            let (_, addr) = resolve(&common, ctx)?;
                            admin(addr, http::Method::GET, "/config_dump?include_eds")?
                        }
                    };
                    if common.output == OutputFlag::Json {
                        render::all_json(&raw)
                    } else {
                        let value: Value = serde_json::from_str(&raw)?;
                        render::all_yaml(&value)
                    }
                }
            }
        }
    };
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

fn cluster_filter(f: ClusterFlags) -> ClusterFilter {
    ClusterFilter {
        fqdn: f.fqdn,
        port: f.port,
        subset: f.subset,
        direction: f.direction,
    }
}

fn endpoint_filter(f: EndpointFlags) -> EndpointFilter {
    EndpointFilter {
        address: f.address,
        port: f.port,
        cluster: f.cluster,
        status: f.status,
    }
}
