//! Running a pod's `istio-proxy`: an in-process proxy started from Istio's bootstrap on the pod's
//! address, connected to the control plane (pushes applied, ACKs and NACKs returned), its log
//! going to the container's log, and pilot-agent's readiness endpoint on :15020.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio_util::sync::CancellationToken;

use crate::net::resolve::Resolver;
use crate::pilot::bootstrap::{AGENT_PORT, ProxyIdentity, bootstrap};
use crate::pilot::push::{Connection, Connections};
use crate::proxy::log::{Level, Sink};
use crate::proxy::{self, Options, Proxy, StartError};

use super::identity::Identity;
use super::logs::ContainerLog;

/// A running `istio-proxy` container.
#[derive(Debug)]
pub struct ProxyRuntime {
    pub identity: ProxyIdentity,
    pub proxy: Arc<Proxy>,
    pub connection: Arc<Connection>,
    stop: CancellationToken,
    running: proxy::Running,
    /// Wakes the agent to re-issue the workload certificate now (the CA changed).
    pub reissue: Arc<tokio::sync::Notify>,
}

impl ProxyRuntime {
    /// Starts the proxy, its agent, and its xDS stream.
    pub async fn start(
        identity_of: ProxyIdentity,
        connections: &Connections,
        log: Arc<ContainerLog>,
        resolver: Resolver,
        identity: Arc<Identity>,
    ) -> Result<ProxyRuntime, StartError> {
        let sink = {
            let log = log.clone();
            Sink::Callback(Arc::new(move |s: &str| log.write(s)))
        };
        let options = Options {
            // istio-proxy's default log level.
            log_level: Level::Warning,
            log_sink: sink.clone(),
            std_streams: proxy::access_log::StdStreams {
                stdout: sink.clone(),
                stderr: sink,
            },
            resolver,
            concurrency: 2,
            bind_ip: Some(identity_of.ip),
            service_node: Some(identity_of.node_id()),
            ..Options::default()
        };
        let running = proxy::start(bootstrap(&identity_of), options).await?;
        let proxy = running.proxy.clone();
        let stop = CancellationToken::new();
        let reissue = Arc::new(tokio::sync::Notify::new());
        // The agent's SDS first, so listeners and clusters naming `default`/`ROOTCA` warm
        // straight away.
        let workload = crate::ca::WorkloadId::new(
            crate::ca::DEFAULT_TRUST_DOMAIN,
            identity_of.namespace.clone(),
            identity_of.service_account.clone(),
        );
        let renew_in = agent_sds(&proxy, &identity, &workload, &log).await;
        spawn_rotation(
            proxy.clone(),
            identity,
            workload,
            log.clone(),
            renew_in,
            reissue.clone(),
            stop.clone(),
        );
        let (connection, mut pushes) = connections.connect(identity_of.clone());
        {
            let (proxy, connection, stop) = (proxy.clone(), connection.clone(), stop.clone());
            tokio::spawn(async move {
                loop {
                    let push = tokio::select! {
                        _ = stop.cancelled() => return,
                        p = pushes.recv() => match p {
                            Some(p) => p,
                            None => return,
                        },
                    };
                    let ack = proxy.apply(push).await;
                    connection.ack(&ack);
                }
            });
        }
        let agent = SocketAddr::new(identity_of.ip, AGENT_PORT);
        serve_agent(agent, proxy.clone(), connection.clone(), stop.clone())
            .await
            .map_err(|source| StartError::Bind {
                what: "pilot-agent's readiness endpoint".to_owned(),
                address: agent,
                source,
            })?;
        Ok(ProxyRuntime {
            identity: identity_of,
            proxy,
            connection,
            stop,
            running,
            reissue,
        })
    }

    /// Stops the proxy: listeners drain (up to `grace`), the xDS stream ends.
    pub async fn stop(&self, connections: &Connections, grace: Duration) {
        connections.disconnect(&self.identity.name());
        self.stop.cancel();
        self.running.stop(grace).await;
    }
}

/// Issues the proxy's certificate and applies it as SDS secrets; returns when to renew.
async fn agent_sds(
    proxy: &Arc<Proxy>,
    identity: &Identity,
    workload: &crate::ca::WorkloadId,
    log: &ContainerLog,
) -> Duration {
    match identity.secrets_for(workload) {
        Ok((secrets, renew_in)) => {
            let version = crate::pilot::push::rfc3339_now();
            let push = crate::xds::snapshot::DiscoveryResponse {
                version_info: version.clone(),
                nonce: format!("{:016x}", rand::random::<u64>()),
                resources: crate::xds::snapshot::Resources::Secrets(secrets),
            };
            let ack = proxy.apply(push).await;
            match &ack.error_detail {
                None => log.write(&format!(
                    "info\tcache\tgenerated new workload certificate\tresourceName=default latency=0s ttl={}",
                    crate::pilot::push::human_duration(identity.ttl)
                )),
                Some(e) => log.write(&format!("error\tsds\tthe proxy refused its certificate: {e}")),
            }
            renew_in
        }
        Err(e) => {
            log.write(&format!(
                "error\tcache\tfailed to generate the workload certificate: {e}"
            ));
            Duration::from_secs(5)
        }
    }
}

/// istio-agent's rotation: re-issue at the grace point (or when told), without touching
/// connections already open.
fn spawn_rotation(
    proxy: Arc<Proxy>,
    identity: Arc<Identity>,
    workload: crate::ca::WorkloadId,
    log: Arc<ContainerLog>,
    mut renew_in: Duration,
    reissue: Arc<tokio::sync::Notify>,
    stop: CancellationToken,
) {
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = tokio::time::sleep(renew_in) => {}
                _ = reissue.notified() => {}
            }
            renew_in = agent_sds(&proxy, &identity, &workload, &log).await;
        }
    });
}

/// pilot-agent's `/healthz/ready`: 200 once the proxy is live and has its first config.
async fn serve_agent(
    addr: SocketAddr,
    proxy: Arc<Proxy>,
    connection: Arc<Connection>,
    stop: CancellationToken,
) -> std::io::Result<()> {
    let listener = crate::net::bind_tcp(addr)?;
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = stop.cancelled() => return,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(_) => continue,
                },
            };
            let (proxy, connection) = (proxy.clone(), connection.clone());
            tokio::spawn(async move {
                let svc = service_fn(move |req: http::Request<hyper::body::Incoming>| {
                    let ready = proxy.state() == proxy::ServerState::Live && connection.synced();
                    let (status, body) = match req.uri().path() {
                        "/healthz/ready" if ready => (200, ""),
                        "/healthz/ready" => (
                            503,
                            "not ready: the proxy has not received its configuration yet\n",
                        ),
                        _ => (404, ""),
                    };
                    let mut r = http::Response::new(Full::new(Bytes::from_static(body.as_bytes())));
                    *r.status_mut() =
                        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::NOT_FOUND);
                    async move { Ok::<_, Infallible>(r) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    Ok(())
}
