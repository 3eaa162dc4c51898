//! Which HTTP version a cluster speaks upstream: the legacy `http2_protocol_options`, or
//! `typed_extension_protocol_options` with `envoy.extensions.upstreams.http.v3.HttpProtocolOptions`
//! (`explicit_http_config`, `use_downstream_protocol_config`), as Envoy reads them.

use crate::xds::cluster::Cluster as XdsCluster;
use crate::xds::protocol::{
    HTTP_PROTOCOL_OPTIONS_KEY, Http2ProtocolOptions, HttpVersions, ProtocolOptionsConfig,
};

use super::super::Rejected;

/// The upstream HTTP version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Version {
    #[default]
    Http1,
    Http2,
    /// `use_downstream_protocol_config`: HTTP/2 when the downstream request was HTTP/2 (and
    /// HTTP/2 is allowed), else HTTP/1.1.
    Downstream {
        http1: bool,
        http2: bool,
    },
}

/// HTTP/2 settings for upstream connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct H2Settings {
    pub initial_stream_window_size: Option<u32>,
    pub initial_connection_window_size: Option<u32>,
    pub max_concurrent_streams: Option<u32>,
}

impl H2Settings {
    fn from(o: &Http2ProtocolOptions) -> H2Settings {
        H2Settings {
            initial_stream_window_size: o.initial_stream_window_size,
            initial_connection_window_size: o.initial_connection_window_size,
            max_concurrent_streams: o.max_concurrent_streams,
        }
    }
}

fn versions(v: &HttpVersions) -> (bool, Option<&Http2ProtocolOptions>) {
    (
        v.http_protocol_options.is_some(),
        v.http2_protocol_options.as_ref(),
    )
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UpstreamProtocol {
    pub version: Version,
    pub h2: H2Settings,
    /// `common_http_protocol_options.idle_timeout` (Envoy's default: 1 h; zero: none).
    pub idle_timeout: Option<std::time::Duration>,
}

impl UpstreamProtocol {
    /// HTTP/2 for this request (`downstream_h2`: the request came in over HTTP/2)?
    pub fn use_h2(&self, downstream_h2: bool) -> bool {
        match self.version {
            Version::Http1 => false,
            Version::Http2 => true,
            Version::Downstream { http1, http2 } => http2 && (downstream_h2 || !http1),
        }
    }

    pub fn build(cfg: &XdsCluster, path: &str) -> Result<UpstreamProtocol, Vec<Rejected>> {
        let mut errors = Vec::new();
        let mut out = UpstreamProtocol {
            idle_timeout: Some(std::time::Duration::from_secs(3600)),
            ..UpstreamProtocol::default()
        };
        if let Some(h2) = &cfg.http2_protocol_options {
            out.version = Version::Http2;
            out.h2 = H2Settings::from(h2);
        }
        for (key, value) in &cfg.typed_extension_protocol_options {
            let at = format!("{path}.typed_extension_protocol_options.{key}");
            if key != HTTP_PROTOCOL_OPTIONS_KEY {
                errors.push(Rejected::new(
                    &at,
                    format!("Didn't find a registered network or http filter or protocol options implementation for name: '{key}' (mesh supports: {HTTP_PROTOCOL_OPTIONS_KEY})"),
                ));
                continue;
            }
            let ProtocolOptionsConfig::Http(http) = value;
            if cfg.http2_protocol_options.is_some() {
                errors.push(Rejected::new(
                    &at,
                    "cannot specify both the deprecated cluster http2_protocol_options and typed_extension_protocol_options; move it under explicit_http_config",
                ));
            }
            if let Some(c) = &http.common_http_protocol_options {
                if c.max_headers_count.is_some() || c.max_requests_per_connection.is_some() {
                    errors.push(Rejected::new(
                        format!("{at}.common_http_protocol_options"),
                        "max_headers_count and max_requests_per_connection here are not supported by mesh yet (use the cluster's max_requests_per_connection)",
                    ));
                }
                if let Some(t) = c.idle_timeout {
                    out.idle_timeout = Some(t.get()).filter(|d| !d.is_zero());
                }
            }
            let set = [
                http.explicit_http_config.is_some(),
                http.use_downstream_protocol_config.is_some(),
                http.auto_config.is_some(),
            ];
            if set.iter().filter(|s| **s).count() > 1 {
                errors.push(Rejected::new(
                    &at,
                    "HttpProtocolOptionsValidationError.UpstreamProtocolOptions: only one of explicit_http_config, use_downstream_protocol_config, auto_config may be set",
                ));
                continue;
            }
            if let Some(e) = &http.explicit_http_config {
                match versions(e) {
                    (true, Some(_)) => errors.push(Rejected::new(
                        format!("{at}.explicit_http_config"),
                        "ExplicitHttpConfigValidationError.ProtocolConfig: only one of http_protocol_options, http2_protocol_options may be set",
                    )),
                    (_, Some(h2)) => {
                        out.version = Version::Http2;
                        out.h2 = H2Settings::from(h2);
                    }
                    (true, None) => out.version = Version::Http1,
                    (false, None) => errors.push(Rejected::new(
                        format!("{at}.explicit_http_config"),
                        "ExplicitHttpConfigValidationError.ProtocolConfig: one of http_protocol_options, http2_protocol_options is required",
                    )),
                }
            }
            if let Some(d) = &http.use_downstream_protocol_config {
                let (http1, h2) = versions(d);
                out.version = Version::Downstream {
                    http1,
                    http2: h2.is_some(),
                };
                if let Some(h2) = h2 {
                    out.h2 = H2Settings::from(h2);
                }
            }
            if http.auto_config.is_some() {
                errors.push(Rejected::new(
                    format!("{at}.auto_config"),
                    "auto_config (ALPN-chosen upstream protocol) is not supported by mesh yet; use explicit_http_config or use_downstream_protocol_config",
                ));
            }
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(yaml: &str) -> Result<UpstreamProtocol, Vec<Rejected>> {
        let c: XdsCluster = crate::xds::decode::decode_str("t", yaml).unwrap();
        UpstreamProtocol::build(&c, "c")
    }

    const KEY: &str = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions";
    const URL: &str = "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions";

    #[test]
    fn versions_from_config() {
        assert_eq!(build("{name: a}").unwrap().version, Version::Http1);
        let legacy =
            build("{name: a, http2_protocol_options: {max_concurrent_streams: 7}}").unwrap();
        assert_eq!(legacy.version, Version::Http2);
        assert_eq!(legacy.h2.max_concurrent_streams, Some(7));
        let explicit = build(&format!(
            "{{name: a, typed_extension_protocol_options: {{{KEY}: {{'@type': {URL}, explicit_http_config: {{http2_protocol_options: {{}}}}}}}}}}"
        ))
        .unwrap();
        assert!(explicit.use_h2(false));
        let downstream = build(&format!(
            "{{name: a, typed_extension_protocol_options: {{{KEY}: {{'@type': {URL}, use_downstream_protocol_config: {{http_protocol_options: {{}}, http2_protocol_options: {{}}}}}}}}}}"
        ))
        .unwrap();
        assert!(downstream.use_h2(true) && !downstream.use_h2(false));
        let bad = build(&format!(
            "{{name: a, typed_extension_protocol_options: {{{KEY}: {{'@type': {URL}, explicit_http_config: {{}}}}}}}}"
        ))
        .unwrap_err();
        assert!(
            bad[0].reason.contains("one of http_protocol_options"),
            "{bad:?}"
        );
    }
}
