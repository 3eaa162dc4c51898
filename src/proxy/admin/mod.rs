//! The admin API (Envoy's `admin.address`): `/stats`, `/clusters`, `/config_dump`,
//! `/logging`, `/ready`, `/quitquitquit`, … with Envoy's paths, help text, methods, status
//! codes and formats. Everything it shows is read from the running proxy itself.

mod certs;
mod clusters;
mod config_dump;
mod info;

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};

use crate::plog;

use super::Proxy;
use super::http::body::{self, Body};
use super::log::{Component, Level};
use super::stats::{Counter, Gauge, Query};

/// The proxy's `/config_dump` (all sections), as the admin API would answer it.
pub fn config_dump_json(proxy: &Proxy) -> String {
    config_dump::dump(proxy, &[]).unwrap_or_else(|(_, body)| body)
}

/// The proxy's `/certs`, as the admin API would answer it.
pub fn certs_json(proxy: &Proxy) -> String {
    certs::render(proxy)
}

/// One admin endpoint: path, help text, whether it needs POST, and its parameters.
struct Endpoint {
    path: &'static str,
    help: &'static str,
    post: bool,
    params: &'static [(&'static str, &'static str)],
}

const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        path: "/",
        help: "Admin home page",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/certs",
        help: "print certs on machine",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/clusters",
        help: "upstream cluster status",
        post: false,
        params: &[("format", "File format to use; One of (text, json)")],
    },
    Endpoint {
        path: "/config_dump",
        help: "dump current Envoy configs (experimental)",
        post: false,
        params: &[
            ("resource", "The resource to dump"),
            (
                "mask",
                "The mask to apply. When both resource and mask are specified, the mask is applied to every element in the desired repeated field so that only a subset of fields are returned. The mask is parsed as a ProtobufWkt::FieldMask",
            ),
            (
                "name_regex",
                "Dump only the currently loaded configurations whose names match the specified regex. Can be used with both resource and mask query parameters.",
            ),
            (
                "include_eds",
                "Dump currently loaded configuration including EDS. See the response definition for more information",
            ),
        ],
    },
    Endpoint {
        path: "/contention",
        help: "dump current Envoy mutex contention stats (if enabled)",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/cpuprofiler",
        help: "enable/disable the CPU profiler",
        post: true,
        params: &[("enable", "enables the CPU profiler; One of (y, n)")],
    },
    Endpoint {
        path: "/drain_listeners",
        help: "drain listeners",
        post: true,
        params: &[
            (
                "graceful",
                "When draining listeners, enter a graceful drain period prior to closing listeners. This behaviour and duration is configurable via server options or CLI",
            ),
            (
                "skip_exit",
                "When draining listeners, do not exit after the drain period. This must be used with graceful",
            ),
            (
                "inboundonly",
                "Drains all inbound listeners. traffic_direction field in envoy_v3_api_msg_config.listener.v3.Listener is used to determine whether a listener is inbound or outbound.",
            ),
        ],
    },
    Endpoint {
        path: "/healthcheck/fail",
        help: "cause the server to fail health checks",
        post: true,
        params: &[],
    },
    Endpoint {
        path: "/healthcheck/ok",
        help: "cause the server to pass health checks",
        post: true,
        params: &[],
    },
    Endpoint {
        path: "/heap_dump",
        help: "dump current Envoy heap (if supported)",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/heapprofiler",
        help: "enable/disable the heap profiler",
        post: true,
        params: &[("enable", "enable/disable the heap profiler; One of (y, n)")],
    },
    Endpoint {
        path: "/help",
        help: "print out list of admin commands",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/hot_restart_version",
        help: "print the hot restart compatibility version",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/init_dump",
        help: "dump current Envoy init manager information (experimental)",
        post: false,
        params: &[(
            "mask",
            "The desired component to dump unready targets. The mask is parsed as a ProtobufWkt::FieldMask. For example, get the unready targets of all listeners with /init_dump?mask=listener`",
        )],
    },
    Endpoint {
        path: "/listeners",
        help: "print listener info",
        post: false,
        params: &[("format", "File format to use; One of (text, json)")],
    },
    Endpoint {
        path: "/logging",
        help: "query/change logging levels",
        post: true,
        params: &[
            (
                "paths",
                "Change multiple logging levels by setting to <logger_name1>:<desired_level1>,<logger_name2>:<desired_level2>. If fine grain logging is enabled, use __FILE__ or a glob experision as the logger name. For example, source/common*:warning",
            ),
            (
                "level",
                "desired logging level, this will change all loggers's level; One of (, trace, debug, info, warning, error, critical, off)",
            ),
        ],
    },
    Endpoint {
        path: "/memory",
        help: "print current allocation/heap usage",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/quitquitquit",
        help: "exit the server",
        post: true,
        params: &[],
    },
    Endpoint {
        path: "/ready",
        help: "print server state, return 200 if LIVE, otherwise return 503",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/reopen_logs",
        help: "reopen access logs",
        post: true,
        params: &[],
    },
    Endpoint {
        path: "/reset_counters",
        help: "reset all counters to zero",
        post: true,
        params: &[],
    },
    Endpoint {
        path: "/runtime",
        help: "print runtime values",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/runtime_modify",
        help: "Adds or modifies runtime values as passed in query parameters. To delete a previously added key, use an empty string as the value. Note that deletion only applies to overrides added via this endpoint; values loaded from disk can be modified via override but not deleted. E.g. ?key1=value1&key2=value2...",
        post: true,
        params: &[],
    },
    Endpoint {
        path: "/server_info",
        help: "print server version/status information",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/stats",
        help: "print server stats",
        post: false,
        params: &[
            (
                "usedonly",
                "Only include stats that have been written by system since restart",
            ),
            (
                "filter",
                "Regular expression (Google re2) for filtering stats",
            ),
            (
                "format",
                "Format to use; One of (html, active-html, text, json)",
            ),
            (
                "type",
                "Stat types to include.; One of (All, Counters, Histograms, Gauges, TextReadouts)",
            ),
            (
                "histogram_buckets",
                "Histogram bucket display mode; One of (cumulative, disjoint, detailed, none)",
            ),
        ],
    },
    Endpoint {
        path: "/stats/prometheus",
        help: "print server stats in prometheus format",
        post: false,
        params: &[
            (
                "usedonly",
                "Only include stats that have been written by system since restart",
            ),
            (
                "text_readouts",
                "Render text_readouts as new gaugues with value 0 (increase Prometheus data size)",
            ),
            (
                "filter",
                "Regular expression (Google re2) for filtering stats",
            ),
            (
                "histogram_buckets",
                "Histogram bucket display mode; One of (cumulative, summary)",
            ),
        ],
    },
    Endpoint {
        path: "/stats/recentlookups",
        help: "Show recent stat-name lookups",
        post: false,
        params: &[],
    },
    Endpoint {
        path: "/stats/recentlookups/clear",
        help: "clear list of stat-name lookups and counter",
        post: true,
        params: &[],
    },
    Endpoint {
        path: "/stats/recentlookups/disable",
        help: "disable recording of reset stat-name lookup names",
        post: true,
        params: &[],
    },
    Endpoint {
        path: "/stats/recentlookups/enable",
        help: "enable recording of reset stat-name lookup names",
        post: true,
        params: &[],
    },
];

/// `admin commands are:` and one line per endpoint, as `/help` prints it.
pub fn help_text() -> String {
    let mut out = String::from("admin commands are:\n");
    for e in ENDPOINTS {
        out.push_str(&format!(
            "  {}{}: {}\n",
            e.path,
            if e.post { " (POST)" } else { "" },
            e.help
        ));
        for (name, help) in e.params {
            out.push_str(&format!("      {name}: {help}\n"));
        }
    }
    out
}

/// The admin listener's own stats (`http.admin.*`, `listener.admin.*`).
struct AdminStats {
    rq_total: Counter,
    rq_xx: [Counter; 5],
    cx_total: Counter,
    cx_active: Gauge,
    listener_cx_total: Counter,
    listener_cx_active: Gauge,
}

/// Binds the admin address and serves it until the proxy stops.
pub async fn serve(proxy: Arc<Proxy>, addr: SocketAddr) -> std::io::Result<SocketAddr> {
    let listener = crate::net::bind_tcp(addr)?;
    let local = listener.local_addr()?;
    let http = proxy.stats.scope("http.admin");
    let stats = Arc::new(AdminStats {
        rq_total: http.counter("downstream_rq_total"),
        rq_xx: [1, 2, 3, 4, 5].map(|n| http.counter(&format!("downstream_rq_{n}xx"))),
        cx_total: http.counter("downstream_cx_total"),
        cx_active: http.gauge("downstream_cx_active"),
        listener_cx_total: proxy.stats.counter("listener.admin.downstream_cx_total"),
        listener_cx_active: proxy.stats.gauge("listener.admin.downstream_cx_active"),
    });
    tokio::spawn(async move {
        loop {
            let (stream, _) = tokio::select! {
                _ = proxy.shutdown.cancelled() => return,
                a = listener.accept() => match a {
                    Ok(a) => a,
                    Err(_) => {
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let (p, s) = (proxy.clone(), stats.clone());
            s.cx_total.inc();
            s.cx_active.inc();
            s.listener_cx_total.inc();
            s.listener_cx_active.inc();
            tokio::spawn(async move {
                let p2 = p.clone();
                let s2 = s.clone();
                let svc = service_fn(move |req| {
                    let (p, s) = (p2.clone(), s2.clone());
                    async move {
                        s.rq_total.inc();
                        let resp = handle(&p, req).await;
                        if let Some(c) = s
                            .rq_xx
                            .get(usize::from(resp.status().as_u16() / 100).wrapping_sub(1))
                        {
                            c.inc();
                        }
                        Ok::<_, Infallible>(resp)
                    }
                });
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                let conn = builder.serve_connection(TokioIo::new(stream), svc);
                tokio::pin!(conn);
                tokio::select! {
                    _ = conn.as_mut() => {}
                    _ = p.shutdown.cancelled() => {}
                }
                s.cx_active.dec();
                s.listener_cx_active.dec();
            });
        }
    });
    Ok(local)
}

/// A decoded query string.
pub(crate) fn params(req: &Request<Incoming>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .map(super::http::matcher::parse_query)
        .unwrap_or_default()
}

pub(crate) fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// Envoy's admin defaults: text with no-cache, no sniffing.
pub(crate) fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    respond(status, "text/plain; charset=UTF-8", body.into())
}

pub(crate) fn json(body: String) -> Response<Body> {
    respond(StatusCode::OK, "application/json", body)
}

fn respond(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(body::full(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("no-cache, max-age=0"),
    );
    h.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

async fn handle(proxy: &Arc<Proxy>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let Some(endpoint) = ENDPOINTS.iter().find(|e| e.path == path) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("invalid path. {}", help_text()),
        );
    };
    if endpoint.post && req.method() != Method::POST {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("Method {} not allowed, POST required.", req.method()),
        );
    }
    plog!(
        proxy.log,
        Level::Debug,
        Component::Admin,
        "admin request {} {}",
        req.method(),
        req.uri()
    );
    let params = params(&req);
    match endpoint.path {
        "/" => home(),
        "/help" => text(StatusCode::OK, help_text()),
        "/ready" => {
            let state = proxy.state();
            let code = if state == super::ServerState::Live {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(code, format!("{}\n", state.name()))
        }
        "/server_info" => json(info::server_info(proxy)),
        "/stats" => stats(proxy, &params, false),
        "/stats/prometheus" => stats(proxy, &params, true),
        "/clusters" => clusters::render(proxy, param(&params, "format") == Some("json")),
        "/config_dump" => config_dump::render(proxy, &params),
        "/listeners" => info::listeners(proxy, param(&params, "format") == Some("json")),
        "/certs" => json(certs::render(proxy)),
        "/logging" => info::logging(proxy, &params),
        "/memory" => json(info::memory()),
        "/runtime" => json("{\n \"entries\": {},\n \"layers\": []\n}\n".to_owned()),
        "/hot_restart_version" => text(StatusCode::OK, "disabled"),
        "/init_dump" => json("{\n \"unready_targets_dumps\": []\n}\n".to_owned()),
        "/contention" => text(
            StatusCode::OK,
            "Mutex contention tracing is not enabled. To enable, run Envoy with flag --enable-mutex-tracing",
        ),
        "/cpuprofiler" | "/heapprofiler" => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            "mesh is not built with a profiler (Envoy answers this way without gperftools)\n",
        ),
        "/heap_dump" => text(StatusCode::NOT_IMPLEMENTED, "heap dump is not supported\n"),
        "/reset_counters" => {
            proxy.stats.reset_counters();
            text(StatusCode::OK, "OK\n")
        }
        "/healthcheck/fail" => {
            proxy.set_healthcheck_failed(true);
            text(StatusCode::OK, "OK\n")
        }
        "/healthcheck/ok" => {
            proxy.set_healthcheck_failed(false);
            text(StatusCode::OK, "OK\n")
        }
        "/drain_listeners" => {
            proxy.start_draining();
            plog!(
                proxy.log,
                Level::Info,
                Component::Main,
                "draining listeners"
            );
            text(StatusCode::OK, "OK\n")
        }
        "/quitquitquit" => {
            plog!(
                proxy.log,
                Level::Info,
                Component::Main,
                "shutting down server"
            );
            let p = proxy.clone();
            // Answer first, then stop.
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                p.start_draining();
                p.shutdown.cancel();
            });
            text(StatusCode::OK, "OK\n")
        }
        "/reopen_logs" => text(StatusCode::OK, "OK\n"),
        "/runtime_modify" => text(
            StatusCode::SERVICE_UNAVAILABLE,
            "unable to modify runtime: mesh has no runtime layer yet\n",
        ),
        "/stats/recentlookups" => text(
            StatusCode::OK,
            "Lookup tracking is not enabled. Use /stats/recentlookups/enable to enable.\n",
        ),
        _ => text(StatusCode::OK, "OK\n"),
    }
}

fn home() -> Response<Body> {
    let mut html = String::from(
        "<!DOCTYPE html>\n<html><head><title>Envoy Admin</title></head><body>\n<h1>Envoy Admin (mesh)</h1>\n<table>\n",
    );
    for e in ENDPOINTS {
        if e.post {
            html.push_str(&format!(
                "<tr><td><form action='{0}' method='post'><button type='submit'>{0}</button></form></td><td>{1}</td></tr>\n",
                e.path, e.help
            ));
        } else {
            html.push_str(&format!(
                "<tr><td><a href='{0}'>{0}</a></td><td>{1}</td></tr>\n",
                e.path, e.help
            ));
        }
    }
    html.push_str("</table>\n</body></html>\n");
    respond(StatusCode::OK, "text/html; charset=UTF-8", html)
}

fn stats(proxy: &Proxy, params: &[(String, String)], prometheus: bool) -> Response<Body> {
    let mut q = match Query::from_params(params) {
        Ok(q) => q,
        Err(e) => return text(StatusCode::BAD_REQUEST, e.envoy_body()),
    };
    if prometheus {
        q.format = super::stats::Format::Prometheus;
    }
    let content_type = q.format.content_type();
    respond(StatusCode::OK, content_type, proxy.stats.render(&q))
}
