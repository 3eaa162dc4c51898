//! `istioctl proxy-config all`: the bootstrap summary, then the cluster, listener, route,
//! secret and endpoint (EDS) tables with a leading `NAME` column (`cluster/…`, `listener/…`),
//! a blank line between sections. `-o json` echoes the dump; `-o yaml` converts it as is.

use std::time::SystemTime;

use serde_json::Value;

use super::cluster::{self, ClusterFilter};
use super::dump::ConfigDump;
use super::endpoint::EndpointFilter;
use super::listener::{self, ListenerFilter};
use super::route::{self, RouteFilter};
use super::{RenderError, bootstrap, eds, secret};
use crate::client::output::goyaml;
use crate::client::output::protojson::from_raw_json;

/// The flags `proxy-config all` passes on to each table (`--port` and `--address` apply to
/// several of them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllFilters {
    pub cluster: ClusterFilter,
    pub listener: ListenerFilter,
    pub route: RouteFilter,
    pub endpoint: EndpointFilter,
}

/// istioctl stops at the first section that fails, after printing the ones before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partial {
    /// What was printed before the error.
    pub printed: String,
    pub error: RenderError,
}

/// The summary; `with_headers` (`--with-headers`) titles each section
/// (`------ CLUSTER INFO ------`). `now` decides the secrets' VALID CERT.
pub fn all(
    dump: &ConfigDump,
    filters: &AllFilters,
    now: SystemTime,
    with_headers: bool,
) -> Result<String, Partial> {
    let mut out = String::new();
    type Section<'a> = (
        &'static str,
        Box<dyn Fn() -> Result<String, RenderError> + 'a>,
    );
    let sections: [Section; 6] = [
        (
            "BOOTSTRAP INFO",
            Box::new(|| bootstrap::bootstrap_summary(dump)),
        ),
        (
            "CLUSTER INFO",
            Box::new(|| cluster::render(dump, &filters.cluster, true)),
        ),
        (
            "LISTENER INFO",
            Box::new(|| listener::render(dump, &filters.listener, true)),
        ),
        (
            "ROUTE INFO",
            Box::new(|| route::render(dump, &filters.route, true)),
        ),
        ("SECRET INFO", Box::new(|| secret::render(dump, now, true))),
        (
            "ENDPOINTS INFO",
            Box::new(|| Ok(eds::render(dump, &filters.endpoint, true))),
        ),
    ];
    for (i, (title, section)) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if with_headers {
            out.push_str(&format!("------ {title} ------\n\n"));
        }
        match section() {
            Ok(text) => out.push_str(&text),
            Err(error) => {
                return Err(Partial {
                    printed: out,
                    error,
                });
            }
        }
    }
    Ok(out)
}

/// `-o json`: the dump exactly as the proxy returned it, plus a newline.
pub fn all_json(raw: &str) -> String {
    format!("{raw}\n")
}

/// `-o yaml`: the dump through `JSONToYAML` (Envoy's own field names), plus a newline.
pub fn all_yaml(raw: &Value) -> String {
    let mut out = goyaml::json_to_yaml(&from_raw_json(raw));
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn stops_at_the_first_failing_section() {
        let dump = ConfigDump::from_json(&json!({"configs": [{
            "@type": "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump",
            "bootstrap": {"node": {"metadata": {"ISTIO_VERSION": "1.26.0"}}}}]}));
        let partial = all(&dump, &AllFilters::default(), SystemTime::UNIX_EPOCH, true).unwrap_err();
        assert_eq!(
            partial.printed,
            "------ BOOTSTRAP INFO ------\n\nIstio Version: 1.26.0\nEnvoy Version: 0.0.0\n\n------ CLUSTER INFO ------\n\n"
        );
        assert_eq!(
            partial.error.to_string(),
            "config dump has no configuration type type.googleapis.com/envoy.admin.v3.ClustersConfigDump"
        );
    }

    #[test]
    fn json_and_yaml_print_the_dump_as_envoy_wrote_it() {
        let raw = r#"{"configs": [{"@type": "x", "dynamic_listeners": [], "version_info": "5"}]}"#;
        assert_eq!(all_json(raw), format!("{raw}\n"));
        let value: Value = serde_json::from_str(raw).unwrap();
        assert_eq!(
            all_yaml(&value),
            "configs:\n- '@type': x\n  dynamic_listeners: []\n  version_info: \"5\"\n\n"
        );
    }
}
