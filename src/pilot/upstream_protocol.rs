//! Which HTTP version a cluster speaks to its endpoints, as istiod decides it: HTTP/2 for
//! `http2`/`grpc` ports (and HTTP ports whose DestinationRule says `h2UpgradePolicy: UPGRADE`),
//! the client's own protocol for `useClientProtocol` and, on sidecars, for ports whose protocol
//! is sniffed; HTTP/1.1 otherwise. Written as istiod writes it: an
//! `envoy.extensions.upstreams.http.v3.HttpProtocolOptions` under
//! `typed_extension_protocol_options`.

use crate::api::istio::HttpSettings;
use crate::xds::cluster::Cluster;
use crate::xds::de::Duration;
use crate::xds::hcm::HttpProtocolOptions;
use crate::xds::protocol::{
    HTTP_PROTOCOL_OPTIONS_KEY, Http1ProtocolOptions, Http2ProtocolOptions, HttpVersions,
    ProtocolOptionsConfig, UpstreamHttpProtocolOptions,
};

use super::model::Protocol;

/// What the cluster should speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Http1,
    Http2,
    Downstream,
}

/// istiod's `setUpstreamProtocol`, `shouldH2Upgrade` and `useClientProtocol`, in its order.
pub fn choose(protocol: Protocol, sidecar: bool, pool: Option<&HttpSettings>) -> Choice {
    if pool.and_then(|h| h.use_client_protocol) == Some(true) {
        return Choice::Downstream;
    }
    match protocol {
        Protocol::Http2 | Protocol::Grpc => Choice::Http2,
        Protocol::Http if pool.and_then(|h| h.h2_upgrade_policy.as_deref()) == Some("UPGRADE") => {
            Choice::Http2
        }
        Protocol::Unknown if sidecar => Choice::Downstream,
        _ => Choice::Http1,
    }
}

/// Writes the choice into the cluster (HTTP/1.1 is Envoy's default: nothing to write), with
/// the DestinationRule's upstream `idleTimeout` in `common_http_protocol_options`.
pub fn apply(c: &mut Cluster, choice: Choice, idle_timeout: Option<Duration>) {
    let mut options = match choice {
        Choice::Http1 if idle_timeout.is_none() => return,
        Choice::Http1 => UpstreamHttpProtocolOptions::default(),
        Choice::Http2 => UpstreamHttpProtocolOptions {
            explicit_http_config: Some(HttpVersions {
                http_protocol_options: None,
                http2_protocol_options: Some(Http2ProtocolOptions::default()),
            }),
            ..Default::default()
        },
        Choice::Downstream => UpstreamHttpProtocolOptions {
            use_downstream_protocol_config: Some(HttpVersions {
                http_protocol_options: Some(Http1ProtocolOptions::default()),
                http2_protocol_options: Some(Http2ProtocolOptions::default()),
            }),
            ..Default::default()
        },
    };
    if let Some(t) = idle_timeout {
        options.common_http_protocol_options = Some(HttpProtocolOptions {
            idle_timeout: Some(t),
            ..Default::default()
        });
    }
    c.typed_extension_protocol_options.insert(
        HTTP_PROTOCOL_OPTIONS_KEY.to_owned(),
        ProtocolOptionsConfig::Http(options),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn istiods_rules() {
        assert_eq!(choose(Protocol::Grpc, false, None), Choice::Http2);
        assert_eq!(choose(Protocol::Http2, true, None), Choice::Http2);
        assert_eq!(choose(Protocol::Http, true, None), Choice::Http1);
        assert_eq!(choose(Protocol::Unknown, true, None), Choice::Downstream);
        assert_eq!(
            choose(Protocol::Unknown, false, None),
            Choice::Http1,
            "gateways don't sniff"
        );
        assert_eq!(choose(Protocol::Tcp, true, None), Choice::Http1);
        let upgrade = HttpSettings {
            h2_upgrade_policy: Some("UPGRADE".into()),
            ..Default::default()
        };
        assert_eq!(choose(Protocol::Http, false, Some(&upgrade)), Choice::Http2);
        let client = HttpSettings {
            use_client_protocol: Some(true),
            ..Default::default()
        };
        assert_eq!(
            choose(Protocol::Grpc, true, Some(&client)),
            Choice::Downstream
        );
        let mut c = Cluster::default();
        apply(&mut c, Choice::Http2, None);
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"],
            serde_json::json!({
                "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
                "explicit_http_config": {"http2_protocol_options": {}}
            })
        );
        let mut c = Cluster::default();
        apply(&mut c, Choice::Http1, Some(Duration::from_secs(30)));
        let json = serde_json::to_value(&c).unwrap();
        assert_eq!(
            json["typed_extension_protocol_options"]["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"]
                ["common_http_protocol_options"],
            serde_json::json!({"idle_timeout": "30s"})
        );
    }
}
