//! Request mirroring (`RouteAction.request_mirror_policies`): a copy of the request goes to
//! another cluster, fire-and-forget; its answer is ignored and it never delays the original.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Uri, header};
use http_body_util::BodyExt;

use crate::xds::route::RequestMirrorPolicy;

use super::super::Rejected;
use super::super::cluster::Cluster;
use super::super::cluster::host::inc;
use super::body;

/// One compiled mirror policy.
#[derive(Debug, Clone)]
pub struct MirrorRt {
    pub cluster: String,
    /// Share of requests mirrored, in [0, 1].
    pub fraction: f64,
}

impl MirrorRt {
    /// Whether this request is one of the mirrored share.
    pub fn sampled(&self) -> bool {
        self.fraction >= 1.0 || (self.fraction > 0.0 && rand::random::<f64>() < self.fraction)
    }
}

pub fn build(
    policies: &[RequestMirrorPolicy],
    path: &str,
    clusters: Option<&HashSet<String>>,
) -> Result<Vec<MirrorRt>, Vec<Rejected>> {
    let mut errors = Vec::new();
    let mut out = Vec::new();
    for (i, p) in policies.iter().enumerate() {
        let at = format!("{path}.request_mirror_policies[{i}]");
        if p.cluster.is_empty() {
            errors.push(Rejected::new(
                format!("{at}.cluster"),
                "RequestMirrorPolicyValidationError: exactly one of cluster or cluster_header is required",
            ));
            continue;
        }
        if let Some(known) = clusters
            && !known.contains(&p.cluster)
        {
            errors.push(Rejected::new(
                format!("{at}.cluster"),
                format!("route: unknown shadow cluster '{}'", p.cluster),
            ));
        }
        out.push(MirrorRt {
            cluster: p.cluster.clone(),
            fraction: p
                .runtime_fraction
                .as_ref()
                .map_or(1.0, |f| f.default_value.fraction()),
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Envoy's shadow authority: `-shadow` appended to the host, before any port
/// (`foo:8080` → `foo-shadow:8080`).
pub fn shadow_host(host: &str) -> String {
    // An IPv6 literal's colons are inside brackets; only a colon after `]` starts a port.
    let port_at = match host.rfind(':') {
        Some(i)
            if !host[i..].contains(']') && (host.starts_with('[') || !host[..i].contains(':')) =>
        {
            Some(i)
        }
        _ => None,
    };
    match port_at {
        Some(i) => format!("{}-shadow{}", &host[..i], &host[i..]),
        None => format!("{host}-shadow"),
    }
}

/// The shadow request's parts (the body is shared, already buffered).
pub struct Shadow {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// Sends `shadow` to `cluster` in the background; the answer is read and dropped.
pub fn spawn(cluster: Arc<Cluster>, shadow: Shadow, timeout: Option<Duration>) {
    tokio::spawn(async move {
        let Some(host) = cluster.choose_host(&[], None, None) else {
            return;
        };
        let mut req = Request::new(body::full(shadow.body));
        *req.method_mut() = shadow.method;
        *req.uri_mut() = shadow.uri;
        *req.headers_mut() = shadow.headers;
        let stats = cluster.stats.clone();
        stats.upstream_rq_total.inc();
        inc(&host.stats.rq_total);
        let exchange = async {
            let (response, conn) = super::router::send(&cluster, &host, req, false)
                .await
                .ok()?;
            let status = response.status().as_u16();
            // Read to the end so the connection can be reused.
            response.into_body().collect().await.ok()?;
            conn.release(&host, cluster.config.max_requests_per_connection, &stats);
            Some(status)
        };
        let status = match timeout {
            Some(t) => match tokio::time::timeout(t, exchange).await {
                Ok(s) => s,
                Err(_) => {
                    stats.upstream_rq_timeout.inc();
                    None
                }
            },
            None => exchange.await,
        };
        if let Some(s) = status {
            stats.charge_response(s, false);
        }
    });
}

/// The headers a shadow carries: the upstream request's, with the host suffixed. A literal
/// host rewrite comes first, as Envoy applies it before making shadows.
pub fn shadow_headers(headers: &HeaderMap, authority: &str, rewrite: Option<&str>) -> HeaderMap {
    let mut out = headers.clone();
    let host = rewrite.unwrap_or_else(|| {
        headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .unwrap_or(authority)
    });
    if let Ok(v) = HeaderValue::try_from(shadow_host(host)) {
        out.insert(header::HOST, v);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shadow_host_keeps_the_port() {
        assert_eq!(shadow_host("catalog"), "catalog-shadow");
        assert_eq!(shadow_host("catalog:8080"), "catalog-shadow:8080");
        assert_eq!(shadow_host("[::1]:80"), "[::1]-shadow:80");
        assert_eq!(shadow_host("[::1]"), "[::1]-shadow");
    }

    #[test]
    fn shadow_headers_follow_a_literal_host_rewrite() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("catalog:80"));
        h.insert("x-user", HeaderValue::from_static("u"));
        let plain = shadow_headers(&h, "ignored", None);
        assert_eq!(plain[header::HOST], "catalog-shadow:80");
        assert_eq!(plain["x-user"], "u");
        assert_eq!(
            shadow_headers(&h, "ignored", Some("upstream"))[header::HOST],
            "upstream-shadow"
        );
        assert_eq!(
            shadow_headers(&HeaderMap::new(), "a.b:8080", None)[header::HOST],
            "a.b-shadow:8080"
        );
    }

    #[test]
    fn fraction_from_runtime_default() {
        let p: Vec<RequestMirrorPolicy> = serde_json::from_value(serde_json::json!([
            {"cluster": "a", "runtime_fraction": {"default_value": {"numerator": 50}}},
            {"cluster": "b"}
        ]))
        .expect("policies");
        let m = build(&p, "r", None).expect("built");
        assert_eq!(m[0].fraction, 0.5);
        assert_eq!(m[1].fraction, 1.0);
        let none: Vec<RequestMirrorPolicy> =
            serde_json::from_value(serde_json::json!([{"cluster": ""}])).expect("policies");
        assert!(build(&none, "r", None).is_err());
    }
}
