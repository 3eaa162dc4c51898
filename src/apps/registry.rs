//! Which built-in app runs for a container image, and starting it in a pod: the sandbox's
//! stand-in for pulling and running the image. Each app listens on the port its real image
//! listens on (not the manifest's `containerPort`, which only documents it), at the address the
//! sandbox chose (`bind`: the pod's localhost when meshed, its pod IP otherwise).

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::bookinfo::{self, Service};
use super::files::Files;
use super::{
    Log, catalog, fake_service, fortio, grpcbin, helloworld, httpbin, tcp_echo, tcp_echo_server,
    webapp,
};
use crate::net::dial::Dialer;

/// Everything an app instance needs from its pod.
pub struct AppContext {
    pub pod_name: String,
    pub namespace: String,
    pub pod_ip: IpAddr,
    pub node_name: String,
    pub service_account: String,
    /// The container's environment, already resolved (`valueFrom` done by the sandbox).
    pub env: BTreeMap<String, String>,
    /// Where to listen (pod-localhost when meshed, pod IP otherwise).
    pub bind: IpAddr,
    /// The container's declared `containerPort`s.
    pub ports: Vec<u16>,
    /// The container's `command` (replacing the image's entrypoint) and `args`.
    pub command: Vec<String>,
    pub args: Vec<String>,
    /// The files its volume mounts show (Secrets, ConfigMaps), by absolute path.
    pub files: Files,
    /// How to reach other services by name.
    pub dialer: Arc<dyn Dialer>,
    /// The container's stdout (one call per line, no trailing newline).
    pub log: Log,
    pub shutdown: CancellationToken,
}

/// A built-in implementation of a container image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AppKind {
    /// `istioinaction/catalog`: Node json-server on 3000.
    Catalog,
    /// `istioinaction/webapp`: Go beego on 8080.
    Webapp,
    /// `citizenstig/httpbin`: classic Python httpbin on 8000.
    Httpbin,
    /// `kennethreitz/httpbin` (the book's chapter 9 and 14 manifests): the same classic
    /// httpbin, on port 80 as that image's gunicorn binds.
    KennethreitzHttpbin,
    /// `mccutchen/go-httpbin`: go-httpbin's JSON on `PORT` (default 8080).
    GoHttpbin,
    /// `cjimti/go-echo`: TCP echo on `TCP_PORT` (default 1025).
    TcpEcho,
    /// `nicholasjackson/fake-service` (v0.14.1's behaviour, any tag): JSON on the port of
    /// `LISTEN_ADDR` (default 9090), HTTPS with a mounted certificate.
    FakeService,
    /// `moul/grpcbin`: gRPC over h2c on 9000 (grpcbin, hello and health services).
    Grpcbin,
    /// `curlimages/curl`, `nicolaka/netshoot`, `governmentpaas/curl-ssl`: runs nothing, exists
    /// for `mesh exec`.
    Client,
    /// Istio's bookinfo (`examples-bookinfo-*`): productpage, details, reviews v1–v3, ratings,
    /// all on 9080.
    Bookinfo(bookinfo::Service),
    /// Istio's `examples-helloworld-v1`/`-v2`: Flask on 5000.
    Helloworld(&'static str),
    /// Istio's `tcp-echo-server`: args `PORTS PREFIX`, answers each line with `PREFIX line`.
    TcpEchoServer,
    /// `fortio/fortio`: the echo/debug server on 8080 (its load client runs through `mesh exec`).
    Fortio,
}

/// Repository names (no registry, no tag) and what runs for them.
const IMAGES: &[(&str, AppKind)] = &[
    ("istioinaction/catalog", AppKind::Catalog),
    ("istioinaction/webapp", AppKind::Webapp),
    ("citizenstig/httpbin", AppKind::Httpbin),
    ("kennethreitz/httpbin", AppKind::KennethreitzHttpbin),
    ("mccutchen/go-httpbin", AppKind::GoHttpbin),
    ("cjimti/go-echo", AppKind::TcpEcho),
    ("nicholasjackson/fake-service", AppKind::FakeService),
    ("moul/grpcbin", AppKind::Grpcbin),
    ("curlimages/curl", AppKind::Client),
    ("nicolaka/netshoot", AppKind::Client),
    ("governmentpaas/curl-ssl", AppKind::Client),
    ("fortio/fortio", AppKind::Fortio),
];

/// Istio's sample images, under each registry Istio has published them to.
const ISTIO_REGISTRIES: &[&str] = &["registry.istio.io/release", "istio", "gcr.io/istio-release"];

/// Istio's sample images by their last path segment.
const ISTIO_SAMPLES: &[(&str, AppKind)] = &[
    (
        "examples-bookinfo-productpage-v1",
        AppKind::Bookinfo(Service::Productpage),
    ),
    (
        "examples-bookinfo-details-v1",
        AppKind::Bookinfo(Service::Details),
    ),
    (
        "examples-bookinfo-ratings-v1",
        AppKind::Bookinfo(Service::Ratings),
    ),
    (
        "examples-bookinfo-reviews-v1",
        AppKind::Bookinfo(Service::Reviews(bookinfo::ReviewsVersion::V1)),
    ),
    (
        "examples-bookinfo-reviews-v2",
        AppKind::Bookinfo(Service::Reviews(bookinfo::ReviewsVersion::V2)),
    ),
    (
        "examples-bookinfo-reviews-v3",
        AppKind::Bookinfo(Service::Reviews(bookinfo::ReviewsVersion::V3)),
    ),
    ("examples-helloworld-v1", AppKind::Helloworld("v1")),
    ("examples-helloworld-v2", AppKind::Helloworld("v2")),
    ("tcp-echo-server", AppKind::TcpEchoServer),
];

const KNOWN: &[&str] = &[
    "istioinaction/catalog",
    "istioinaction/webapp",
    "citizenstig/httpbin",
    "kennethreitz/httpbin",
    "mccutchen/go-httpbin",
    "cjimti/go-echo",
    "nicholasjackson/fake-service",
    "moul/grpcbin",
    "curlimages/curl",
    "nicolaka/netshoot",
    "governmentpaas/curl-ssl",
    "fortio/fortio",
    "registry.istio.io/release/examples-bookinfo-productpage-v1",
    "registry.istio.io/release/examples-bookinfo-details-v1",
    "registry.istio.io/release/examples-bookinfo-ratings-v1",
    "registry.istio.io/release/examples-bookinfo-reviews-v1",
    "registry.istio.io/release/examples-bookinfo-reviews-v2",
    "registry.istio.io/release/examples-bookinfo-reviews-v3",
    "registry.istio.io/release/examples-helloworld-v1",
    "registry.istio.io/release/examples-helloworld-v2",
    "registry.istio.io/release/tcp-echo-server",
];

/// Registries that mean Docker Hub.
const DOCKER_HUB: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io"];

/// An image with no built-in app.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown image {image:?}: the sandbox runs built-in apps instead of containers, and has one \
     for these images (any tag; Istio's samples also from docker.io/istio/ and \
     gcr.io/istio-release/): {}",
    KNOWN.join(", ")
)]
pub struct UnknownImage {
    pub image: String,
}

/// Why an app could not start.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{app} cannot listen on {addr}: {source}{}", bind_hint(*addr, source))]
    Bind {
        app: &'static str,
        addr: SocketAddr,
        source: io::Error,
    },
    #[error("{app}: {var}={value:?} is not a port number (1-65535)")]
    BadPort {
        app: &'static str,
        var: &'static str,
        value: String,
    },
    #[error("{app}: {reason}")]
    BadArgs { app: &'static str, reason: String },
    #[error(transparent)]
    FakeService(#[from] fake_service::StartError),
}

fn bind_hint(addr: SocketAddr, err: &io::Error) -> &'static str {
    match err.kind() {
        io::ErrorKind::AddrInUse => " (another pod or program already uses this address)",
        io::ErrorKind::PermissionDenied if addr.port() < 1024 => {
            " (ports below 1024 need privileges on Linux: run as root or lower \
             net.ipv4.ip_unprivileged_port_start)"
        }
        _ => "",
    }
}

/// The app for `image`: matched on the repository, any tag or digest, with or without a
/// Docker Hub registry (`docker.io/istioinaction/catalog:latest` → [`AppKind::Catalog`]).
pub fn app_for_image(image: &str) -> Result<AppKind, UnknownImage> {
    let repository = repository(image.trim());
    let istio_sample = || {
        let (registry, name) = repository.rsplit_once('/')?;
        if !ISTIO_REGISTRIES.contains(&registry) {
            return None;
        }
        ISTIO_SAMPLES
            .iter()
            .find(|(sample, _)| *sample == name)
            .map(|(_, kind)| *kind)
    };
    IMAGES
        .iter()
        .find(|(name, _)| *name == repository)
        .map(|(_, kind)| *kind)
        .or_else(istio_sample)
        .ok_or_else(|| UnknownImage {
            image: image.to_owned(),
        })
}

/// The images [`app_for_image`] knows, for error messages and docs.
pub fn known_images() -> &'static [&'static str] {
    KNOWN
}

/// `docker.io/library/x:1@sha256:…` → `x`; `istioinaction/catalog:latest` → `istioinaction/catalog`.
fn repository(image: &str) -> &str {
    let image = image.split('@').next().unwrap_or(image);
    // A tag is a `:` after the last `/` (a `:` before it is a registry port).
    let last_slash = image.rfind('/').map_or(0, |i| i + 1);
    let image = match image[last_slash..].find(':') {
        Some(i) => &image[..last_slash + i],
        None => image,
    };
    let image = match image.split_once('/') {
        Some((registry, rest)) if DOCKER_HUB.contains(&registry) => rest,
        _ => image,
    };
    image.strip_prefix("library/").unwrap_or(image)
}

/// A started app: where it listens, and its task (which ends after `ctx.shutdown`).
#[derive(Debug)]
pub struct RunningApp {
    pub addresses: Vec<SocketAddr>,
    task: JoinHandle<()>,
}

impl RunningApp {
    /// Whether the app has stopped.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits until the app has stopped (cancel `ctx.shutdown` first).
    pub async fn stopped(self) {
        if let Err(err) = self.task.await {
            tracing::warn!("app task ended abnormally: {err}");
        }
    }
}

/// Binds the app's port(s) on `ctx.bind` and serves until `ctx.shutdown`.
pub async fn start(kind: AppKind, ctx: AppContext) -> Result<RunningApp, AppError> {
    let AppContext {
        pod_name,
        env,
        command,
        args,
        pod_ip,
        bind,
        files,
        dialer,
        log,
        shutdown,
        ..
    } = ctx;
    let name = kind.name();
    let (listener, task) = match kind {
        AppKind::Catalog => {
            let listener = listen(name, bind, catalog::PORT)?;
            let app = Arc::new(catalog::Catalog::new(&env, log));
            let address = local(&listener);
            (
                address,
                spawn(name, catalog::serve(listener, app, shutdown)),
            )
        }
        AppKind::Webapp => {
            let listener = listen(name, bind, webapp::PORT)?;
            let app = Arc::new(webapp::Webapp::new(&env, dialer, log));
            let address = local(&listener);
            (address, spawn(name, webapp::serve(listener, app, shutdown)))
        }
        AppKind::Httpbin => {
            let listener = listen(name, bind, 8000)?;
            let address = local(&listener);
            (address, spawn(name, httpbin::serve(listener, shutdown)))
        }
        AppKind::KennethreitzHttpbin => {
            let gunicorn = Gunicorn::from_command(&command, &args);
            let listener = listen(name, bind, gunicorn.port)?;
            let address = local(&listener);
            let access = gunicorn.access_log.then(|| log.clone());
            let serving =
                httpbin::serve_logged(listener, httpbin::Flavor::Classic, access, shutdown);
            (address, spawn(name, serving))
        }
        AppKind::GoHttpbin => {
            let port = env_port(name, &env, "PORT", 8080)?;
            let listener = listen(name, bind, port)?;
            let address = local(&listener);
            log(&go_httpbin_startup(port));
            let serving = httpbin::serve_flavor(listener, httpbin::Flavor::Go, shutdown);
            (address, spawn(name, serving))
        }
        AppKind::TcpEcho => {
            let port = tcp_echo::port(&env).map_err(|value| AppError::BadPort {
                app: name,
                var: "TCP_PORT",
                value,
            })?;
            let listener = listen(name, bind, port)?;
            let address = local(&listener);
            let banner = tcp_echo::banner(&env);
            let serving = tcp_echo::serve(listener, banner, log, shutdown);
            (address, spawn(name, serving))
        }
        AppKind::FakeService => {
            let app = fake_service::prepare(&env, &files, pod_ip, dialer, log)?;
            let listener = listen(name, bind, app.port()).inspect_err(|err| {
                if let AppError::Bind { source, .. } = err {
                    app.listen_failed(source);
                }
            })?;
            let address = local(&listener);
            (address, spawn(name, app.serve(listener, shutdown)))
        }
        AppKind::Grpcbin => {
            let listener = listen(name, bind, grpcbin::PORT)?;
            let address = local(&listener);
            (
                address,
                spawn(name, grpcbin::serve(listener, log, shutdown)),
            )
        }
        AppKind::Client => {
            let task = tokio::spawn(async move { shutdown.cancelled().await });
            (None, task)
        }
        AppKind::Bookinfo(service) => {
            let listener = listen(name, bind, bookinfo::PORT)?;
            let address = local(&listener);
            let app = bookinfo::App::new(service, &env, &pod_name, dialer, log);
            (
                address,
                spawn(name, bookinfo::serve(listener, app, shutdown)),
            )
        }
        AppKind::Helloworld(version) => {
            let listener = listen(name, bind, helloworld::PORT)?;
            let address = local(&listener);
            let app = helloworld::Helloworld::new(version, &env, &pod_name, log);
            (
                address,
                spawn(name, helloworld::serve(listener, app, shutdown)),
            )
        }
        AppKind::TcpEchoServer => {
            let config = tcp_echo_server::Config::from_args(&args)
                .map_err(|reason| AppError::BadArgs { app: name, reason })?;
            let mut listeners = Vec::new();
            for port in &config.ports {
                listeners.push(listen(name, bind, *port)?);
            }
            let addresses: Vec<SocketAddr> = listeners.iter().filter_map(local).collect();
            let serving = tcp_echo_server::serve(listeners, config.prefix, log, shutdown);
            return Ok(RunningApp {
                addresses,
                task: spawn(name, serving),
            });
        }
        AppKind::Fortio => {
            let listener = listen(name, bind, fortio::PORT)?;
            let address = local(&listener);
            let app = fortio::Server::new(&pod_name, log);
            (address, spawn(name, fortio::serve(listener, app, shutdown)))
        }
    };
    Ok(RunningApp {
        addresses: listener.into_iter().collect(),
        task,
    })
}

impl AppKind {
    /// A short name for messages.
    pub fn name(self) -> &'static str {
        match self {
            AppKind::Catalog => "catalog",
            AppKind::Webapp => "webapp",
            AppKind::Httpbin | AppKind::KennethreitzHttpbin => "httpbin",
            AppKind::GoHttpbin => "go-httpbin",
            AppKind::TcpEcho => "tcp-echo",
            AppKind::FakeService => "fake-service",
            AppKind::Grpcbin => "grpcbin",
            AppKind::Client => "client",
            AppKind::Bookinfo(service) => service.name(),
            AppKind::Helloworld(_) => "helloworld",
            AppKind::TcpEchoServer => "tcp-echo-server",
            AppKind::Fortio => "fortio",
        }
    }
}

/// What a `gunicorn … httpbin:app` command line (the kennethreitz/httpbin image's entrypoint,
/// often overridden in manifests) says about the port and the access log.
struct Gunicorn {
    port: u16,
    access_log: bool,
}

impl Gunicorn {
    /// `-b`/`--bind HOST:PORT` (the image binds `0.0.0.0:80`), `--access-logfile -`.
    fn from_command(command: &[String], args: &[String]) -> Gunicorn {
        let words: Vec<&str> = command.iter().chain(args).map(String::as_str).collect();
        let mut out = Gunicorn {
            port: 80,
            access_log: false,
        };
        for (i, word) in words.iter().enumerate() {
            let next = words.get(i + 1).copied();
            let bind = match word.split_once('=') {
                Some(("--bind", value)) => Some(value),
                _ if *word == "-b" || *word == "--bind" => next,
                _ => None,
            };
            if let Some(port) = bind
                .and_then(|b| b.rsplit_once(':'))
                .and_then(|(_, p)| p.parse::<u16>().ok())
            {
                out.port = port;
            }
            let access = match word.split_once('=') {
                Some(("--access-logfile", value)) => Some(value),
                _ if *word == "--access-logfile" => next,
                _ => None,
            };
            if access == Some("-") {
                out.access_log = true;
            }
        }
        out
    }
}

fn listen(app: &'static str, ip: IpAddr, port: u16) -> Result<TcpListener, AppError> {
    let addr = SocketAddr::new(ip, port);
    crate::net::bind_tcp(addr).map_err(|source| AppError::Bind { app, addr, source })
}

/// Where a listener is bound (port 0 resolved).
fn local(listener: &TcpListener) -> Option<SocketAddr> {
    listener.local_addr().ok()
}

fn env_port(
    app: &'static str,
    env: &BTreeMap<String, String>,
    var: &'static str,
    default: u16,
) -> Result<u16, AppError> {
    match env.get(var).map(String::as_str) {
        None | Some("") => Ok(default),
        Some(text) => {
            text.parse::<u16>()
                .ok()
                .filter(|p| *p != 0)
                .ok_or_else(|| AppError::BadPort {
                    app,
                    var,
                    value: text.to_owned(),
                })
        }
    }
}

/// go-httpbin's start-up line (Go's `slog` text format).
fn go_httpbin_startup(port: u16) -> String {
    let now = time::OffsetDateTime::now_utc()
        .format(time::macros::format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
        ))
        .unwrap_or_default();
    format!("time={now} level=INFO msg=\"go-httpbin listening on http://0.0.0.0:{port}\"")
}

fn spawn<F>(app: &'static str, serving: F) -> JoinHandle<()>
where
    F: std::future::Future<Output = io::Result<()>> + Send + 'static,
{
    tokio::spawn(async move {
        if let Err(err) = serving.await {
            tracing::warn!("{app} stopped with an error: {err}");
        }
    })
}

#[cfg(test)]
mod tests;
