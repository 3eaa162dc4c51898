//! Envoy's default tag extraction: turns `cluster.foo.upstream_rq_503` into the tag-extracted
//! name `cluster.upstream_rq` plus tags `envoy.response_code=503`, `envoy.cluster_name=foo`.
//!
//! The extractor table follows Envoy's `source/common/config/well_known_names.cc`: regex
//! extractors first, then token-pattern ones, each in Envoy's order. As in Envoy's tag producer,
//! every extractor looks at the *original* name, the matched spans are removed at the end, and
//! extractors are tried in two groups: those without a leading literal token first, then those
//! whose first token equals the name's first token. That order is the Prometheus label order.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::OnceLock;

use regex::Regex;

/// One extracted tag. `name` is Envoy's tag name (`envoy.cluster_name`); Prometheus turns it
/// into the label `envoy_cluster_name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub name: &'static str,
    pub value: String,
}

/// A stat name split into its tag-extracted name and tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TagExtracted {
    pub name: String,
    pub tags: Vec<Tag>,
}

/// Applies Envoy's default tag extractors to a full stat name.
pub fn extract(name: &str) -> TagExtracted {
    producer().extract(name)
}

// Stand-ins used in the regexes below, expanded before compiling (as Envoy does). Character
// classes are spelled out in ASCII because RE2's `\d`/`\w` are ASCII-only.
const EXPANSIONS: [(&str, &str); 6] = [
    // An IPv4 or bracketed IPv6 address (with `:` turned into `_`) plus `_port`.
    (
        "<ADDRESS>",
        r"(?:(?:[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}|\[[a-fA-F_0-9]+\])_[0-9]+)",
    ),
    ("<CIPHER>", r"[A-Za-z0-9_\-]+"),
    ("<TLS_VERSION>", r"TLSv[0-9]\.[0-9]"),
    ("<TAG_VALUE>", r"[^\.]+"),
    ("<ROUTE_CONFIG_NAME>", r"[A-Za-z0-9_\-\.]+"),
    (
        "<LISTENER_OR_CLUSTER_WITH_NAME>",
        r"(?:listener|cluster)\..*?",
    ),
];

/// Regex extractors: (tag name, regex, substring that must occur, value that never matches).
/// Group 1 is removed from the name; group 2 (or group 1 when empty) is the tag value.
const REGEX_EXTRACTORS: [(&str, &str, &str, &str); 14] = [
    // *_rq(_<response_code>)
    ("envoy.response_code", r"_rq(_([0-9]{3}))$", "_rq_", ""),
    // *_rq_(<response_code_class>)xx
    ("envoy.response_code_class", r"_rq_(([0-9]))xx$", "_rq_", ""),
    // http.[<stat_prefix>.]dynamodb.table.[<table>.]capacity.[<op>.](__partition_id=<id>)
    (
        "envoy.dynamo_partition_id",
        r"^http\.<TAG_VALUE>\.dynamodb\.table\.<TAG_VALUE>\.capacity\.<TAG_VALUE>(\.__partition_id=([A-Za-z0-9_]{7}))$",
        ".dynamodb.table.",
        "",
    ),
    // http.[<stat_prefix>.]dynamodb.operation.(<op>.)* or ….table.[<table>.]capacity.(<op>.)…
    (
        "envoy.dynamo_operation",
        r"^http\.<TAG_VALUE>\.dynamodb.(?:operation|table\.<TAG_VALUE>\.capacity)(\.(<TAG_VALUE>))(?:\.|$)",
        ".dynamodb.",
        "",
    ),
    // http.[<stat_prefix>.]dynamodb.table.(<table>.)* or ….dynamodb.error.(<table>.)*
    (
        "envoy.dynamo_table",
        r"^http\.<TAG_VALUE>\.dynamodb.(?:table|error)\.((<TAG_VALUE>)\.)",
        ".dynamodb.",
        "",
    ),
    // listener.[<address>.]ssl.ciphers.(<cipher>)
    (
        "envoy.ssl_cipher",
        r"^listener\..*?\.ssl\.ciphers(\.(<CIPHER>))$",
        ".ssl.ciphers.",
        "",
    ),
    // (listener|cluster).[<name>.]ssl.curves.(<curve>)
    (
        "envoy.ssl_curve",
        r"^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.curves(\.(<CIPHER>))$",
        ".ssl.curves.",
        "",
    ),
    // (listener|cluster).[<name>.]ssl.sigalgs.(<algorithm>)
    (
        "envoy.ssl_sigalg",
        r"^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.sigalgs(\.(<CIPHER>))$",
        ".ssl.sigalgs.",
        "",
    ),
    // (listener|cluster).[<name>.]ssl.versions.(<version>)
    (
        "envoy.ssl_version",
        r"^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.versions(\.(<TLS_VERSION>))$",
        ".ssl.versions.",
        "",
    ),
    // cluster.[<cluster_name>.]ssl.ciphers.(<cipher>)
    (
        "cipher_suite",
        r"^cluster\.<TAG_VALUE>\.ssl\.ciphers(\.(<CIPHER>))$",
        ".ssl.ciphers.",
        "",
    ),
    // listener.[<address>.]http.(<stat_prefix>.)*
    (
        "envoy.http_conn_manager_prefix",
        r"^listener\..*?\.http\.((<TAG_VALUE>)\.)",
        ".http.",
        "",
    ),
    // listener.<address|stat_prefix>.(worker_<id>.)*, listener_manager.…, server.…
    (
        "envoy.worker_id",
        r"^(?:listener\.(?:<ADDRESS>|<TAG_VALUE>)\.|server\.|listener_manager\.)worker_(([0-9]+)\.)",
        "",
        "",
    ),
    // listener.(<address|stat_prefix>.)*, but never `admin`
    (
        "envoy.listener_address",
        r"^listener\.((<ADDRESS>|<TAG_VALUE>)\.)",
        "",
        "admin",
    ),
    // http.[<stat_prefix>.]rds.(<route_config_name>.)<base_stat>
    (
        "envoy.rds_route_config",
        r"^http\.<TAG_VALUE>\.rds\.((<ROUTE_CONFIG_NAME>)\.)[A-Za-z0-9_]+?$",
        ".rds.",
        "",
    ),
];

/// Token extractors: `$` is the tag value, `*` any one token, `**` any number of tokens.
const TOKEN_EXTRACTORS: [(&str, &str); 25] = [
    (
        "envoy.mongo_callsite",
        "mongo.*.collection.*.callsite.$.query.**",
    ),
    ("envoy.mongo_collection", "mongo.*.collection.$.**.query.*"),
    ("envoy.mongo_cmd", "mongo.*.cmd.$.**"),
    ("envoy.grpc_bridge_method", "cluster.*.grpc.*.$.**"),
    ("envoy.http_user_agent", "http.*.user_agent.$.**"),
    ("envoy.virtual_cluster", "vhost.*.vcluster.$.**"),
    ("envoy.fault_downstream_cluster", "http.*.fault.$.**"),
    ("envoy.grpc_bridge_service", "cluster.*.grpc.$.**"),
    ("envoy.tcp_prefix", "tcp.$.**"),
    ("envoy.udp_prefix", "udp.$.**"),
    ("envoy.clientssl_prefix", "auth.clientssl.$.**"),
    ("envoy.ratelimit_prefix", "ratelimit.$.**"),
    ("envoy.cluster_name", "cluster.$.**"),
    ("envoy.ext_authz_prefix", "cluster.*.ext_authz.$.**"),
    ("envoy.ext_authz_prefix", "http.*.ext_authz.$.**"),
    ("envoy.http_conn_manager_prefix", "http.$.**"),
    ("envoy.virtual_host", "vhost.$.**"),
    ("envoy.mongo_prefix", "mongo.$.**"),
    ("envoy.route", "vhost.*.route.$.**"),
    ("envoy.thrift_prefix", "thrift.$.**"),
    ("envoy.redis_prefix", "redis.$.**"),
    (
        "envoy.local_http_ratelimit_prefix",
        "$.http_local_rate_limit.**",
    ),
    (
        "envoy.local_network_ratelimit_prefix",
        "local_rate_limit.$.**",
    ),
    (
        "envoy.local_listener_ratelimit_prefix",
        "listener_local_ratelimit.$.**",
    ),
    ("envoy.dns_filter_prefix", "dns_filter.$.**"),
];

enum Matcher {
    Regex {
        re: Regex,
        substr: &'static str,
        negative: &'static str,
    },
    Tokens {
        pattern: Vec<&'static str>,
        value_at: usize,
    },
}

struct Extractor {
    tag: &'static str,
    matcher: Matcher,
}

impl Extractor {
    /// Returns the tag value and the byte range to cut from the name.
    fn apply(&self, name: &str, tokens: &[&str]) -> Option<(String, Range<usize>)> {
        match &self.matcher {
            Matcher::Regex {
                re,
                substr,
                negative,
            } => {
                if !substr.is_empty() && !name.contains(substr) {
                    return None;
                }
                let caps = re.captures(name)?;
                let remove = caps.get(1).filter(|m| !m.as_str().is_empty())?;
                let value = caps
                    .get(2)
                    .filter(|m| !m.as_str().is_empty())
                    .unwrap_or(remove)
                    .as_str();
                if !negative.is_empty() && value == *negative {
                    return None;
                }
                Some((value.to_string(), remove.range()))
            }
            Matcher::Tokens { pattern, value_at } => {
                let mut found = TokenMatch::default();
                if !search_tokens(pattern, *value_at, tokens, 0, 0, 0, &mut found) {
                    return None;
                }
                let value = tokens.get(found.index)?;
                let mut start = found.start;
                let mut end = start + value.len();
                // Cut the dot after the value, or before it when the value is the last token.
                if found.index + 1 < tokens.len() {
                    end += 1;
                } else {
                    start = start.saturating_sub(1);
                }
                Some((value.to_string(), start..end))
            }
        }
    }
}

#[derive(Default)]
struct TokenMatch {
    /// Byte offset of the value token in the name.
    start: usize,
    /// Index of the value token.
    index: usize,
}

/// Matches `input[ii..]` against `pattern[pi..]`; `**` backtracks over every possible split.
/// `char_idx` is the byte offset of `input[ii]`.
fn search_tokens(
    pattern: &[&str],
    value_at: usize,
    input: &[&str],
    mut ii: usize,
    mut pi: usize,
    mut char_idx: usize,
    found: &mut TokenMatch,
) -> bool {
    while ii < input.len() && pi < pattern.len() {
        if pi == value_at {
            found.start = char_idx;
            found.index = ii;
            // Envoy does not advance the offset past the value token; nothing reads it later.
        } else {
            let expected = pattern[pi];
            if expected == "**" {
                if pi + 1 == pattern.len() {
                    return true;
                }
                let rest = pi + 1;
                while ii < input.len() {
                    if search_tokens(pattern, value_at, input, ii, rest, char_idx, found) {
                        return true;
                    }
                    char_idx += input[ii].len() + 1;
                    ii += 1;
                }
                return false;
            }
            if expected != "*" && expected != input[ii] {
                return false;
            }
            char_idx += input[ii].len() + 1;
        }
        ii += 1;
        pi += 1;
    }
    pi == pattern.len() && ii == input.len()
}

/// Envoy's `extractRegexPrefix`: a regex starting `^word\.` (or `^word$`) only applies to names
/// whose first token is `word`, which lets the producer skip it for other names. (Applied to
/// the unexpanded pattern, which gives the same answers for the table above.)
fn regex_prefix(regex: &str) -> Option<&str> {
    let rest = regex.strip_prefix('^')?;
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    if end == 0 || end == rest.len() {
        return None;
    }
    let tail = &rest[end..];
    let ok = if tail.len() == 1 {
        tail == "$"
    } else {
        tail.starts_with(r"\.") || tail.starts_with(r"(?=\.)")
    };
    ok.then(|| &rest[..end])
}

/// First token of a token pattern, unless it is a wildcard or the value.
fn token_prefix(pattern: &str) -> Option<&str> {
    let first = pattern.split('.').next()?;
    (!matches!(first, "$" | "*" | "**")).then_some(first)
}

struct Producer {
    /// Extractors without a literal first token, tried on every name.
    unprefixed: Vec<Extractor>,
    /// Extractors keyed by the literal first token they require.
    prefixed: HashMap<&'static str, Vec<Extractor>>,
    /// Tag names with more than one extractor: the first that matches wins.
    shared: Vec<&'static str>,
}

impl Producer {
    fn new() -> Producer {
        let mut producer = Producer {
            unprefixed: Vec::new(),
            prefixed: HashMap::new(),
            shared: Vec::new(),
        };
        let mut seen: Vec<&'static str> = Vec::new();
        for (tag, pattern, substr, negative) in REGEX_EXTRACTORS {
            let expanded = EXPANSIONS
                .iter()
                .fold(pattern.to_string(), |acc, (from, to)| acc.replace(from, to));
            // The table is constant and covered by a test; a pattern that failed to compile
            // would only lose its tag, never take the proxy down.
            let Ok(re) = Regex::new(&expanded) else {
                continue;
            };
            producer.add(
                tag,
                regex_prefix(pattern),
                Matcher::Regex {
                    re,
                    substr,
                    negative,
                },
                &mut seen,
            );
        }
        for (tag, pattern) in TOKEN_EXTRACTORS {
            let tokens: Vec<&'static str> = pattern.split('.').collect();
            let value_at = tokens.iter().position(|t| *t == "$").unwrap_or(0);
            producer.add(
                tag,
                token_prefix(pattern),
                Matcher::Tokens {
                    pattern: tokens,
                    value_at,
                },
                &mut seen,
            );
        }
        producer
    }

    fn add(
        &mut self,
        tag: &'static str,
        prefix: Option<&'static str>,
        matcher: Matcher,
        seen: &mut Vec<&'static str>,
    ) {
        if seen.contains(&tag) {
            if !self.shared.contains(&tag) {
                self.shared.push(tag);
            }
        } else {
            seen.push(tag);
        }
        let extractor = Extractor { tag, matcher };
        match prefix {
            Some(p) => self.prefixed.entry(p).or_default().push(extractor),
            None => self.unprefixed.push(extractor),
        }
    }

    fn extract(&self, name: &str) -> TagExtracted {
        let tokens: Vec<&str> = name.split('.').collect();
        let prefixed = name
            .split_once('.')
            .and_then(|(first, _)| self.prefixed.get(first))
            .map(Vec::as_slice)
            .unwrap_or_default();
        let mut tags = Vec::new();
        let mut cuts = Vec::new();
        let mut matched_shared: Vec<&'static str> = Vec::new();
        for extractor in self.unprefixed.iter().chain(prefixed) {
            let shared = self.shared.contains(&extractor.tag);
            if shared && matched_shared.contains(&extractor.tag) {
                continue;
            }
            if let Some((value, cut)) = extractor.apply(name, &tokens) {
                tags.push(Tag {
                    name: extractor.tag,
                    value,
                });
                cuts.push(cut);
                if shared {
                    matched_shared.push(extractor.tag);
                }
            }
        }
        TagExtracted {
            name: remove_ranges(name, cuts),
            tags,
        }
    }
}

fn producer() -> &'static Producer {
    static PRODUCER: OnceLock<Producer> = OnceLock::new();
    PRODUCER.get_or_init(Producer::new)
}

/// Removes the union of `cuts` (byte ranges on char boundaries) from `name`.
fn remove_ranges(name: &str, mut cuts: Vec<Range<usize>>) -> String {
    if cuts.is_empty() {
        return name.to_string();
    }
    cuts.sort_by_key(|r| r.start);
    let mut out = String::with_capacity(name.len());
    let mut pos = 0;
    for cut in cuts {
        if cut.start > pos {
            out.push_str(name.get(pos..cut.start).unwrap_or_default());
        }
        pos = pos.max(cut.end);
    }
    out.push_str(name.get(pos..).unwrap_or_default());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (stat name, tag-extracted name, tags in extraction order).
    type Case = (
        &'static str,
        &'static str,
        &'static [(&'static str, &'static str)],
    );
    const CASES: &[Case] = &[
        // The brief's real-capture cases.
        (
            "cluster.foo.upstream_rq_2xx",
            "cluster.upstream_rq_xx",
            &[
                ("envoy.response_code_class", "2"),
                ("envoy.cluster_name", "foo"),
            ],
        ),
        (
            "cluster.foo.upstream_rq_503",
            "cluster.upstream_rq",
            &[
                ("envoy.response_code", "503"),
                ("envoy.cluster_name", "foo"),
            ],
        ),
        (
            "cluster.ratelimit.upstream_rq_timeout",
            "cluster.upstream_rq_timeout",
            &[("envoy.cluster_name", "ratelimit")],
        ),
        // Istio cluster names: `|` is kept, but only the first dot-token is the name (Envoy).
        (
            "cluster.outbound|80||webapp.istioinaction.svc.cluster.local.upstream_cx_total",
            "cluster.istioinaction.svc.cluster.local.upstream_cx_total",
            &[("envoy.cluster_name", "outbound|80||webapp")],
        ),
        (
            "cluster.xds-grpc.upstream_cx_total",
            "cluster.upstream_cx_total",
            &[("envoy.cluster_name", "xds-grpc")],
        ),
        (
            "http.ingress_http.downstream_rq_5xx",
            "http.downstream_rq_xx",
            &[
                ("envoy.response_code_class", "5"),
                ("envoy.http_conn_manager_prefix", "ingress_http"),
            ],
        ),
        (
            "http.admin.downstream_cx_total",
            "http.downstream_cx_total",
            &[("envoy.http_conn_manager_prefix", "admin")],
        ),
        (
            "listener.0.0.0.0_15001.downstream_cx_total",
            "listener.downstream_cx_total",
            &[("envoy.listener_address", "0.0.0.0_15001")],
        ),
        (
            "listener.[__1]_80.downstream_cx_active",
            "listener.downstream_cx_active",
            &[("envoy.listener_address", "[__1]_80")],
        ),
        (
            "listener.admin.downstream_cx_total",
            "listener.admin.downstream_cx_total",
            &[],
        ),
        (
            "listener.admin.http.admin.downstream_rq_2xx",
            "listener.admin.http.downstream_rq_xx",
            &[
                ("envoy.response_code_class", "2"),
                ("envoy.http_conn_manager_prefix", "admin"),
            ],
        ),
        (
            "listener.127.0.0.1_3012.http.http_prefix.downstream_rq_5xx",
            "listener.http.downstream_rq_xx",
            &[
                ("envoy.response_code_class", "5"),
                ("envoy.http_conn_manager_prefix", "http_prefix"),
                ("envoy.listener_address", "127.0.0.1_3012"),
            ],
        ),
        (
            "listener.[__1]_0.ssl.ciphers.AES256-SHA",
            "listener.ssl.ciphers",
            &[
                ("envoy.ssl_cipher", "AES256-SHA"),
                ("envoy.listener_address", "[__1]_0"),
            ],
        ),
        (
            "listener.[2001_0db8_85a3_0000_0000_8a2e_0370_7334]_3543.ssl.ciphers.AES256-SHA",
            "listener.ssl.ciphers",
            &[
                ("envoy.ssl_cipher", "AES256-SHA"),
                (
                    "envoy.listener_address",
                    "[2001_0db8_85a3_0000_0000_8a2e_0370_7334]_3543",
                ),
            ],
        ),
        (
            "listener.my_prefix.ssl.ciphers.AES256-SHA",
            "listener.ssl.ciphers",
            &[
                ("envoy.ssl_cipher", "AES256-SHA"),
                ("envoy.listener_address", "my_prefix"),
            ],
        ),
        (
            "listener.prefix.notmatching.ssl.ciphers.AES256-SHA",
            "listener.notmatching.ssl.ciphers",
            &[
                ("envoy.ssl_cipher", "AES256-SHA"),
                ("envoy.listener_address", "prefix"),
            ],
        ),
        (
            "listener.admin.ssl.ciphers.AES256-SHA",
            "listener.admin.ssl.ciphers",
            &[("envoy.ssl_cipher", "AES256-SHA")],
        ),
        (
            "cluster.ratelimit.ssl.ciphers.ECDHE-RSA-AES128-GCM-SHA256",
            "cluster.ssl.ciphers",
            &[
                ("cipher_suite", "ECDHE-RSA-AES128-GCM-SHA256"),
                ("envoy.cluster_name", "ratelimit"),
            ],
        ),
        (
            "listener.0.0.0.0_443.ssl.curves.P-256",
            "listener.ssl.curves",
            &[
                ("envoy.ssl_curve", "P-256"),
                ("envoy.listener_address", "0.0.0.0_443"),
            ],
        ),
        (
            "cluster.backend.ssl.sigalgs.rsa_pss_rsae_sha256",
            "cluster.ssl.sigalgs",
            &[
                ("envoy.ssl_sigalg", "rsa_pss_rsae_sha256"),
                ("envoy.cluster_name", "backend"),
            ],
        ),
        (
            "cluster.backend.ssl.versions.TLSv1.3",
            "cluster.ssl.versions",
            &[
                ("envoy.ssl_version", "TLSv1.3"),
                ("envoy.cluster_name", "backend"),
            ],
        ),
        (
            "vhost.vhost_1.vcluster.vcluster_1.upstream_rq_2xx",
            "vhost.vcluster.upstream_rq_xx",
            &[
                ("envoy.response_code_class", "2"),
                ("envoy.virtual_cluster", "vcluster_1"),
                ("envoy.virtual_host", "vhost_1"),
            ],
        ),
        (
            "vhost.vhost_1.vcluster.vcluster_1.upstream_rq_200",
            "vhost.vcluster.upstream_rq",
            &[
                ("envoy.response_code", "200"),
                ("envoy.virtual_cluster", "vcluster_1"),
                ("envoy.virtual_host", "vhost_1"),
            ],
        ),
        (
            "vhost.vh.route.my_route.upstream_rq_total",
            "vhost.route.upstream_rq_total",
            &[("envoy.virtual_host", "vh"), ("envoy.route", "my_route")],
        ),
        (
            "tcp.tcp_prefix.downstream_flow_control_resumed_reading_total",
            "tcp.downstream_flow_control_resumed_reading_total",
            &[("envoy.tcp_prefix", "tcp_prefix")],
        ),
        (
            "udp.udp_prefix.downstream_sess_total",
            "udp.downstream_sess_total",
            &[("envoy.udp_prefix", "udp_prefix")],
        ),
        (
            "http.fault_connection_manager.fault.fault_cluster.aborts_injected",
            "http.fault.aborts_injected",
            &[
                ("envoy.fault_downstream_cluster", "fault_cluster"),
                ("envoy.http_conn_manager_prefix", "fault_connection_manager"),
            ],
        ),
        (
            "http.rds_connection_manager.rds.route_config.1-23.update_success",
            "http.rds.update_success",
            &[
                ("envoy.rds_route_config", "route_config.1-23"),
                ("envoy.http_conn_manager_prefix", "rds_connection_manager"),
            ],
        ),
        (
            "http.egress_dynamodb_iad.user_agent.ios.downstream_cx_total",
            "http.user_agent.downstream_cx_total",
            &[
                ("envoy.http_user_agent", "ios"),
                ("envoy.http_conn_manager_prefix", "egress_dynamodb_iad"),
            ],
        ),
        (
            "http.egress_dynamodb_iad.dynamodb.table.bar_table.capacity.Query.__partition_id=ABC1234",
            "http.dynamodb.table.capacity",
            &[
                ("envoy.dynamo_partition_id", "ABC1234"),
                ("envoy.dynamo_operation", "Query"),
                ("envoy.dynamo_table", "bar_table"),
                ("envoy.http_conn_manager_prefix", "egress_dynamodb_iad"),
            ],
        ),
        (
            "http.egress_dynamodb_iad.dynamodb.operation.Query.upstream_rq_time",
            "http.dynamodb.operation.upstream_rq_time",
            &[
                ("envoy.dynamo_operation", "Query"),
                ("envoy.http_conn_manager_prefix", "egress_dynamodb_iad"),
            ],
        ),
        (
            "cluster.grpc_cluster.grpc.grpc_service_1.grpc_method_1.success",
            "cluster.grpc.success",
            &[
                ("envoy.grpc_bridge_method", "grpc_method_1"),
                ("envoy.grpc_bridge_service", "grpc_service_1"),
                ("envoy.cluster_name", "grpc_cluster"),
            ],
        ),
        (
            "http.http_prefix.ext_authz.authpfx.denied",
            "http.ext_authz.denied",
            &[
                ("envoy.ext_authz_prefix", "authpfx"),
                ("envoy.http_conn_manager_prefix", "http_prefix"),
            ],
        ),
        (
            "cluster.grpc_cluster.ext_authz.authpfx.ok",
            "cluster.ext_authz.ok",
            &[
                ("envoy.cluster_name", "grpc_cluster"),
                ("envoy.ext_authz_prefix", "authpfx"),
            ],
        ),
        (
            "listener_manager.worker_123.dispatcher.loop_duration_us",
            "listener_manager.worker_dispatcher.loop_duration_us",
            &[("envoy.worker_id", "123")],
        ),
        (
            "listener.127.0.0.1_3012.worker_123.downstream_cx_active",
            "listener.worker_downstream_cx_active",
            &[
                ("envoy.worker_id", "123"),
                ("envoy.listener_address", "127.0.0.1_3012"),
            ],
        ),
        (
            "server.worker_123.watchdog_miss",
            "server.worker_watchdog_miss",
            &[("envoy.worker_id", "123")],
        ),
        (
            "mongo.mongo_filter.collection.bar_collection.callsite.baz_callsite.query.scatter_get",
            "mongo.collection.callsite.query.scatter_get",
            &[
                ("envoy.mongo_callsite", "baz_callsite"),
                ("envoy.mongo_collection", "bar_collection"),
                ("envoy.mongo_prefix", "mongo_filter"),
            ],
        ),
        (
            "mongo.mongo_filter.cmd.foo_cmd.reply_size",
            "mongo.cmd.reply_size",
            &[
                ("envoy.mongo_cmd", "foo_cmd"),
                ("envoy.mongo_prefix", "mongo_filter"),
            ],
        ),
        (
            "ratelimit.foo_ratelimiter.over_limit",
            "ratelimit.over_limit",
            &[("envoy.ratelimit_prefix", "foo_ratelimiter")],
        ),
        (
            "foo_ratelimiter.http_local_rate_limit.ok",
            "http_local_rate_limit.ok",
            &[("envoy.local_http_ratelimit_prefix", "foo_ratelimiter")],
        ),
        (
            "local_rate_limit.foo_ratelimiter.rate_limited",
            "local_rate_limit.rate_limited",
            &[("envoy.local_network_ratelimit_prefix", "foo_ratelimiter")],
        ),
        (
            "auth.clientssl.clientssl_prefix.auth_ip_allowlist",
            "auth.clientssl.auth_ip_allowlist",
            &[("envoy.clientssl_prefix", "clientssl_prefix")],
        ),
        (
            "thrift.thrift_prefix.response",
            "thrift.response",
            &[("envoy.thrift_prefix", "thrift_prefix")],
        ),
        (
            "redis.my_redis_prefix.response",
            "redis.response",
            &[("envoy.redis_prefix", "my_redis_prefix")],
        ),
        (
            "dns_filter.my_dns_prefix.local_a_record_answers",
            "dns_filter.local_a_record_answers",
            &[("envoy.dns_filter_prefix", "my_dns_prefix")],
        ),
        // Names without tags pass through unchanged.
        ("server.uptime", "server.uptime", &[]),
        (
            "cluster_manager.active_clusters",
            "cluster_manager.active_clusters",
            &[],
        ),
        // `http.foo` has no base stat after the prefix, so `http.$.**` does not match.
        ("http.foo", "http.foo", &[]),
    ];

    #[test]
    fn default_extractors_match_envoy() {
        for (name, want_name, want_tags) in CASES {
            let got = extract(name);
            let got_tags: Vec<(&str, &str)> = got
                .tags
                .iter()
                .map(|t| (t.name, t.value.as_str()))
                .collect();
            assert_eq!(&got.name, want_name, "name of {name}");
            assert_eq!(&got_tags, want_tags, "tags of {name}");
        }
    }

    #[test]
    fn every_regex_compiles() {
        let p = Producer::new();
        let count = p.unprefixed.len() + p.prefixed.values().map(Vec::len).sum::<usize>();
        assert_eq!(count, REGEX_EXTRACTORS.len() + TOKEN_EXTRACTORS.len());
    }

    #[test]
    fn regex_prefix_follows_envoy() {
        for (regex, want) in [
            ("^prefix(foo).", None),
            (r"^prefix\.foo", Some("prefix")),
            (r"^prefix_optional(?=\.)", Some("prefix_optional")),
            ("^notACompleteToken", None),
            ("^onlyToken$", Some("onlyToken")),
            ("(prefix)", None),
            ("^(prefix)", None),
            ("prefix(foo)", None),
        ] {
            assert_eq!(regex_prefix(regex), want, "{regex}");
        }
    }

    fn tokens(pattern: &'static str, name: &str) -> Option<(String, String)> {
        let parts: Vec<&'static str> = pattern.split('.').collect();
        let value_at = parts.iter().position(|t| *t == "$").unwrap_or(0);
        let ex = Extractor {
            tag: "t",
            matcher: Matcher::Tokens {
                pattern: parts,
                value_at,
            },
        };
        let input: Vec<&str> = name.split('.').collect();
        let (value, cut) = ex.apply(name, &input)?;
        Some((value, remove_ranges(name, vec![cut])))
    }

    #[test]
    fn token_patterns_follow_envoy() {
        let some = |v: &str, n: &str| Some((v.to_string(), n.to_string()));
        assert_eq!(
            tokens("$.is.the.time", "now.is.the.time"),
            some("now", "is.the.time")
        );
        assert_eq!(
            tokens("$.is.the.**", "now.is.the.time.to.come"),
            some("now", "is.the.time.to.come")
        );
        assert_eq!(tokens("$.is.the.*", "now.is.the.time.to.come"), None);
        assert_eq!(
            tokens("now.**.$.of.their", "now.is.the.aid.fake.aid.real.of.their"),
            some("real", "now.is.the.aid.fake.aid.of.their")
        );
        assert_eq!(
            tokens(
                "now.**.aid.$.of.their",
                "now.is.the.aid.fake.aid.real.of.their"
            ),
            some("real", "now.is.the.aid.fake.aid.of.their")
        );
        assert_eq!(
            tokens("now.*.$.time", "now.is.the.time"),
            some("the", "now.is.time")
        );
        assert_eq!(
            tokens("now.is.the.$", "now.is.the.time"),
            some("time", "now.is.the")
        );
        assert_eq!(tokens("now.is.$.time", "now.was.the.time"), None);
        assert_eq!(tokens("now.$.the", "now.is.the.time"), None);
        assert_eq!(tokens("now.$.the.time.to", "now.is.the.time"), None);
    }
}
