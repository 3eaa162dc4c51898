//! Loading a bootstrap the way Envoy does: `--config-path` (YAML or JSON), `--config-yaml` merged
//! over it, camelCase or snake_case field names, every error pointing at `file:line:column`.

use std::path::Path;

use serde::de::DeserializeOwned;

use super::bootstrap::Bootstrap;
use super::de::{Seg, path_segments, split_nested};
use super::error::ConfigError;
use super::tree::{self, Loc, Node, PathSeg};

/// A decoded bootstrap and the merged source tree it came from (to locate later errors).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub bootstrap: Bootstrap,
    pub tree: Node,
}

impl Loaded {
    /// Where the field at `path` (`static_resources.clusters[0].name`) was written.
    pub fn locate(&self, path: &str) -> Loc {
        self.tree.locate(&parse_path(path), false)
    }
}

/// Reads and merges the two sources Envoy accepts. At least one must be given.
pub fn load_bootstrap(
    config_path: Option<&Path>,
    config_yaml: Option<&str>,
) -> Result<Loaded, ConfigError> {
    let mut tree: Option<Node> = None;
    if let Some(path) = config_path.filter(|p| !p.as_os_str().is_empty()) {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        tree = Some(tree::parse(&path.display().to_string(), &text)?);
    }
    if let Some(yaml) = config_yaml.filter(|y| !y.trim().is_empty()) {
        let over = tree::parse("--config-yaml", yaml)?;
        match &mut tree {
            Some(base) => base.merge(over),
            None => tree = Some(over),
        }
    }
    let mut tree = tree.ok_or(ConfigError::Empty)?;
    tree.normalize_keys();
    let bootstrap = decode_tree(&tree)?;
    Ok(Loaded { bootstrap, tree })
}

/// Decodes any message from a located tree, mapping the first error to its location.
pub fn decode_tree<T: DeserializeOwned>(tree: &Node) -> Result<T, ConfigError> {
    let json = tree.to_json();
    serde_path_to_error::deserialize::<_, T>(json).map_err(|err| {
        let mut segs = path_segments(err.path());
        let (nested, message) = split_nested(&err.inner().to_string());
        segs.extend(nested);
        field_error(tree, segs, &message)
    })
}

/// Decodes a message from text with no file behind it (tests, control-plane payloads).
pub fn decode_str<T: DeserializeOwned>(source: &str, text: &str) -> Result<T, ConfigError> {
    let mut tree = tree::parse(source, text)?;
    tree.normalize_keys();
    decode_tree(&tree)
}

fn field_error(tree: &Node, segs: Vec<Seg>, message: &str) -> ConfigError {
    let mut path: Vec<PathSeg> = segs
        .into_iter()
        .map(|s| match s {
            Seg::Index(i) => PathSeg::Index(i),
            Seg::Key(k) => PathSeg::Key(k),
        })
        .collect();
    let unknown = message.starts_with("unknown field `");
    if unknown {
        // serde names the unknown key in the message; make it the last path segment.
        if let Some(name) = message
            .strip_prefix("unknown field `")
            .and_then(|rest| rest.split('`').next())
            && path.last() != Some(&PathSeg::Key(name.to_owned()))
        {
            path.push(PathSeg::Key(name.to_owned()));
        }
    }
    let loc = tree.locate(&path, unknown);
    let reason = if unknown {
        unknown_field_reason(&path, message)
    } else {
        message.to_owned()
    };
    ConfigError::Field {
        loc: Some(loc),
        path: tree::path_string(&path),
        reason,
        unknown,
    }
}

/// "Cannot find field" in Envoy's words, plus what we know: a valid Envoy field mesh has not
/// implemented yet, or the closest field name that does exist.
fn unknown_field_reason(path: &[PathSeg], message: &str) -> String {
    let name = match path.last() {
        Some(PathSeg::Key(k)) => k.as_str(),
        _ => "",
    };
    if let Some(hint) = removed_field_hint(name) {
        return format!("Cannot find field `{name}` ({hint})");
    }
    if ENVOY_FIELDS_NOT_YET_SUPPORTED.contains(&name) {
        return format!(
            "`{name}` is a valid Envoy field that mesh does not support yet; remove it or see the README's list of supported fields"
        );
    }
    let expected: Vec<&str> = message
        .split("expected ")
        .nth(1)
        .map(|rest| {
            rest.split('`')
                .enumerate()
                .filter(|(i, _)| i % 2 == 1)
                .map(|(_, s)| s)
                .collect()
        })
        .unwrap_or_default();
    match closest(name, &expected) {
        Some(best) => format!("Cannot find field `{name}`; did you mean `{best}`?"),
        None if expected.is_empty() => format!("Cannot find field `{name}`"),
        None => format!(
            "Cannot find field `{name}`; fields here: {}",
            expected.join(", ")
        ),
    }
}

/// Fields that v2 had and v3 removed, with what replaced them.
fn removed_field_hint(name: &str) -> Option<&'static str> {
    Some(match name {
        "hosts" => {
            "removed in the v3 API: list endpoints under `load_assignment.endpoints[].lb_endpoints[]`"
        }
        "config" => "removed in the v3 API: use `typed_config` with an \"@type\"",
        "tls_context" => "removed in the v3 API: use `transport_socket`",
        "verify_subject_alt_name" => "removed in the v3 API: use `match_typed_subject_alt_names`",
        "use_original_dst" => "removed in the v3 API: use the original_dst listener filter",
        _ => return None,
    })
}

/// Real Envoy fields on the messages mesh models, which mesh does not implement yet. Naming
/// them separately tells the user their config is fine for Envoy, just not for us.
const ENVOY_FIELDS_NOT_YET_SUPPORTED: &[&str] = &[
    // Bootstrap
    "cluster_manager",
    "stats_sinks",
    "stats_config",
    "watchdog",
    "layered_runtime",
    "overload_manager",
    // Listener
    "listener_filters",
    "filter_chain_match",
    "socket_options",
    "bind_to_port",
    "use_original_dst",
    "connection_balance_config",
    "reuse_port",
    "enable_reuse_port",
    "tcp_backlog_size",
    "udp_listener_config",
    "api_listener",
    // HTTP connection manager
    "http_protocol_options",
    "request_timeout",
    "drain_timeout",
    "delayed_close_timeout",
    "internal_address_config",
    "forward_client_cert_details",
    "set_current_client_cert_details",
    "normalize_path",
    "merge_slashes",
    "local_reply_config",
    "request_id_extension",
    "scoped_routes",
    "add_user_agent",
    "proxy_100_continue",
    // Routes
    "virtual_clusters",
    "rate_limits",
    "cors",
    "hedge_policy",
    "max_stream_duration",
    "grpc",
    "tls_context",
    // Clusters
    "upstream_connection_options",
    "common_lb_config",
    "dns_resolvers",
    "respect_dns_ttl",
    "dns_failure_refresh_rate",
    "lb_subset_config",
    "upstream_bind_config",
    "cleanup_interval",
    "protocol_selection",
    "filters",
    "load_balancing_policy",
    "track_cluster_stats",
    "preconnect_policy",
    // TLS (transport sockets, certificates, validation, SDS secrets)
    "transport_socket_connect_timeout",
    "signature_algorithms",
    "compliance_policies",
    "tls_certificate_provider_instance",
    "custom_tls_certificate_selector",
    "tls_certificate_certificate_provider",
    "tls_certificate_certificate_provider_instance",
    "validation_context_certificate_provider",
    "validation_context_certificate_provider_instance",
    "custom_handshaker",
    "key_log",
    "password",
    "pkcs12",
    "watched_directory",
    "private_key_provider",
    "ocsp_staple",
    "signed_certificate_timestamp",
    "ca_certificate_provider_instance",
    "system_root_certs",
    "verify_certificate_spki",
    "verify_certificate_hash",
    "require_signed_certificate_timestamp",
    "crl",
    "allow_expired_certificate",
    "custom_validator_config",
    "only_verify_leaf_cert_crl",
    "max_verify_depth",
    "session_ticket_keys",
    "session_ticket_keys_sds_secret_config",
    "disable_stateless_session_resumption",
    "disable_stateful_session_resumption",
    "session_timeout",
    "ocsp_staple_policy",
    "full_scan_certs_on_sni_mismatch",
    "prefer_client_ciphers",
    "allow_renegotiation",
    "max_session_keys",
    "auto_host_sni",
    "auto_sni_san_validation",
    "enforce_rsa_key_usage",
    "generic_secret",
    "oid",
];

/// The candidate within edit distance 3 (and less than the name's length) closest to `name`.
fn closest<'a>(name: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(d, _)| *d <= 3 && *d < name.len())
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Parses `a.b[2].c` back into segments.
pub fn parse_path(path: &str) -> Vec<PathSeg> {
    let mut out = Vec::new();
    for part in path.split('.').filter(|p| !p.is_empty()) {
        let mut rest = part;
        if let Some(i) = rest.find('[') {
            if i > 0 {
                out.push(PathSeg::Key(rest[..i].to_owned()));
            }
            rest = &rest[i..];
            while let Some(stripped) = rest.strip_prefix('[') {
                let Some(end) = stripped.find(']') else { break };
                if let Ok(n) = stripped[..end].parse() {
                    out.push(PathSeg::Index(n));
                }
                rest = &stripped[end + 1..];
            }
        } else {
            out.push(PathSeg::Key(rest.to_owned()));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIMPLE: &str = r#"
admin:
  address:
    socket_address: { address: 0.0.0.0, port_value: 15000 }

static_resources:
  listeners:
  - name: httpbin-demo
    address:
      socket_address: { address: 0.0.0.0, port_value: 15001 }
    filter_chains:
    - filters:
      - name:  envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: ingress_http
          http_filters:
          - name: envoy.filters.http.router
          route_config:
            name: httpbin_local_route
            virtual_hosts:
            - name: httpbin_local_service
              domains: ["*"]
              routes:
              - match: { prefix: "/" }
                route:
                  auto_host_rewrite: true
                  cluster: httpbin_service
  clusters:
    - name: httpbin_service
      connect_timeout: 5s
      type: LOGICAL_DNS
      dns_lookup_family: V4_ONLY
      lb_policy: ROUND_ROBIN
      load_assignment:
        cluster_name: httpbin
        endpoints:
        - lb_endpoints:
          - endpoint:
              address:
                socket_address:
                  address: httpbin
                  port_value: 8000
"#;

    #[test]
    fn decodes_the_books_simple_config() {
        let loaded = load_bootstrap(None, Some(SIMPLE)).unwrap();
        let sr = loaded.bootstrap.static_resources.unwrap();
        assert_eq!(sr.listeners[0].name, "httpbin-demo");
        assert_eq!(sr.clusters[0].connect_timeout().as_secs(), 5);
        let super::super::listener::NetworkFilterConfig::HttpConnectionManager(hcm) =
            &sr.listeners[0].filter_chains[0].filters[0].typed_config
        else {
            panic!("not an HCM")
        };
        assert_eq!(hcm.stat_prefix, "ingress_http");
        assert!(hcm.http_filters[0].typed_config.is_none());
    }

    #[test]
    fn unknown_field_names_its_path_and_location() {
        let bad = SIMPLE.replace(
            "      connect_timeout: 5s\n",
            "      connect_timeout: 5s\n      hosts: []\n",
        );
        let err = load_bootstrap(None, Some(&bad)).unwrap_err();
        let ConfigError::Field {
            loc,
            path,
            reason,
            unknown,
        } = &err
        else {
            panic!("{err:?}")
        };
        assert!(unknown);
        assert_eq!(path, "static_resources.clusters[0].hosts");
        assert!(reason.contains("load_assignment"), "{reason}");
        let loc = loc.clone().unwrap();
        assert_eq!((loc.line, loc.column), (32, 7), "{loc}");
        assert!(
            err.envoy_message().contains(
                "INVALID_ARGUMENT:(static_resources.clusters[0]) hosts: Cannot find field."
            )
        );
    }

    #[test]
    fn typos_inside_typed_config_keep_their_full_path() {
        let bad = SIMPLE.replace("stat_prefix: ingress_http", "stat_prefx: ingress_http");
        let err = load_bootstrap(None, Some(&bad)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(
                "static_resources.listeners[0].filter_chains[0].filters[0].typed_config.stat_prefx"
            ),
            "{text}"
        );
        assert!(text.contains("did you mean `stat_prefix`"), "{text}");
        assert!(text.starts_with("--config-yaml:16:"), "{text}");
    }

    #[test]
    fn bad_values_point_at_the_value() {
        let bad = SIMPLE.replace("connect_timeout: 5s", "connect_timeout: 5");
        let err = load_bootstrap(None, Some(&bad)).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("static_resources.clusters[0].connect_timeout"),
            "{text}"
        );
        assert!(text.contains("invalid duration"), "{text}");
        assert!(text.starts_with("--config-yaml:31:24"), "{text}");
        let bad = SIMPLE.replace("type: LOGICAL_DNS", "type: LOGICAL_DMS");
        let text = load_bootstrap(None, Some(&bad)).unwrap_err().to_string();
        assert!(
            text.contains("clusters[0].type") && text.contains("LOGICAL_DMS"),
            "{text}"
        );
    }

    #[test]
    fn unknown_type_url_is_rejected() {
        let bad = SIMPLE.replace(
            "http_connection_manager.v3.HttpConnectionManager",
            "http_connection_manager.v3.HttpConnectionManagr",
        );
        let text = load_bootstrap(None, Some(&bad)).unwrap_err().to_string();
        assert!(
            text.contains("Didn't find a registered implementation"),
            "{text}"
        );
        assert!(text.contains("filters[0].typed_config"), "{text}");
    }

    #[test]
    fn config_yaml_merges_over_config_path() {
        let dir = std::env::temp_dir().join(format!("mesh-xds-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("base.yaml");
        std::fs::write(&file, SIMPLE).unwrap();
        let over = "admin: {address: {socket_address: {address: 127.0.0.1, port_value: 9901}}}\nstatic_resources: {clusters: [{name: extra, connect_timeout: 1s}]}\n";
        let loaded = load_bootstrap(Some(&file), Some(over)).unwrap();
        let admin = loaded.bootstrap.admin.unwrap().address.unwrap();
        assert_eq!(admin.display(), "127.0.0.1:9901");
        let clusters = loaded.bootstrap.static_resources.unwrap().clusters;
        assert_eq!(clusters.len(), 2);
        assert_eq!(clusters[1].name, "extra");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn nothing_given_is_envoys_message() {
        let err = load_bootstrap(None, None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "At least one of --config-path or --config-yaml or Options::configProto() should be non-empty"
        );
    }

    #[test]
    fn camel_case_json_is_accepted() {
        let json = r#"{"staticResources": {"clusters": [{"name": "a", "connectTimeout": "0.25s", "type": "STATIC"}]}}"#;
        let b: Bootstrap = decode_str("x.json", json).unwrap();
        let c = &b.static_resources.unwrap().clusters[0];
        assert_eq!(c.connect_timeout.unwrap().to_string(), "0.250s");
    }

    #[test]
    fn paths_parse_back() {
        assert_eq!(
            parse_path("a.b[2].c"),
            vec![
                PathSeg::Key("a".into()),
                PathSeg::Key("b".into()),
                PathSeg::Index(2),
                PathSeg::Key("c".into())
            ]
        );
    }
}
