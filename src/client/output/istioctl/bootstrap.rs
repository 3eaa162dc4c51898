//! `istioctl proxy-config bootstrap`: the `BootstrapConfigDump` (`{"bootstrap": …,
//! "lastUpdated": …}`) with jsonpb's indented layout by default, as YAML, or (`-o short`) the
//! Istio / Istio Proxy / Envoy version summary that also opens `proxy-config all`.

use super::dump::{BOOTSTRAP, ConfigDump};
use super::{Node, Output, RenderError};
use crate::client::output::table::Table;
use crate::client::output::{gojson, goyaml};

/// The bootstrap in `output` form (`Output::Json` is istioctl's default for this command).
pub fn bootstrap(dump: &ConfigDump, output: Output) -> Result<String, RenderError> {
    let section = dump.section(BOOTSTRAP)?.without("@type");
    let mut out = match output {
        Output::Json => gojson::jsonpb_indent(&section, "    "),
        Output::Yaml => goyaml::json_to_yaml(&section),
        Output::Short => return bootstrap_summary(dump),
    };
    out.push('\n');
    Ok(out)
}

/// `Istio Version:`, `Istio Proxy Version:`, `Envoy Version:` (each only when known).
pub fn bootstrap_summary(dump: &ConfigDump) -> Result<String, RenderError> {
    let node = dump.section(BOOTSTRAP)?.at(&["bootstrap", "node"]);
    let metadata = node.get("metadata");
    let istio_version = metadata.get("ISTIO_VERSION").as_str();
    let mut proxy_sha = metadata.get("ISTIO_PROXY_SHA").as_str();
    let parts: Vec<&str> = proxy_sha.split(':').collect();
    if parts.len() > 1 {
        proxy_sha = parts[1];
    }
    let envoy_version = envoy_version(node.get("userAgentBuildVersion"));

    let mut table = Table::new(1);
    if !istio_version.is_empty() {
        table.row(["Istio Version:", istio_version]);
    }
    if !proxy_sha.is_empty() {
        table.row(["Istio Proxy Version:", proxy_sha]);
    }
    if !envoy_version.is_empty() {
        table.row(["Envoy Version:", envoy_version.as_str()]);
    }
    Ok(table.render())
}

/// `major.minor.patch[-label][/status][/type][/ssl]` from `user_agent_build_version`.
fn envoy_version(build: &Node) -> String {
    let version = build.get("version");
    let number = |key| version.get(key).as_u64().unwrap_or(0);
    let mut out = format!(
        "{}.{}.{}",
        number("majorNumber"),
        number("minorNumber"),
        number("patch")
    );
    let metadata = build.get("metadata");
    for (key, sep) in [
        ("build.label", "-"),
        ("revision.status", "/"),
        ("build.type", "/"),
        ("ssl.version", "/"),
    ] {
        if metadata.has(key) {
            out.push_str(sep);
            out.push_str(metadata.get(key).as_str());
        }
    }
    out
}
