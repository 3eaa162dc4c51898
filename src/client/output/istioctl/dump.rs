//! A proxy's `/config_dump` ([`ConfigDump`]), normalised to protojson names, with istioctl's
//! accessors for each section (`istioctl/pkg/util/configdump`) and their error messages.

use serde_json::Value;

use super::RenderError;
use super::cluster::parse_subset_key_safely;
use crate::client::output::gosort::sort_slice;
use crate::client::output::node::Node;
use crate::client::output::protojson;

pub(super) const BOOTSTRAP: &str = "type.googleapis.com/envoy.admin.v3.BootstrapConfigDump";
pub(super) const LISTENERS: &str = "type.googleapis.com/envoy.admin.v3.ListenersConfigDump";
pub(super) const CLUSTERS: &str = "type.googleapis.com/envoy.admin.v3.ClustersConfigDump";
pub(super) const ROUTES: &str = "type.googleapis.com/envoy.admin.v3.RoutesConfigDump";
pub(super) const SECRETS: &str = "type.googleapis.com/envoy.admin.v3.SecretsConfigDump";
pub(super) const ENDPOINTS: &str = "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump";

/// A proxy's `/config_dump` (snake_case from Envoy, or camelCase).
#[derive(Debug, Clone)]
pub struct ConfigDump {
    root: Node,
}

impl ConfigDump {
    /// Parses the admin response body.
    pub fn parse(text: &str) -> Result<Self, RenderError> {
        let value: Value = serde_json::from_str(text).map_err(|err| {
            RenderError::new(format!(
                "error unmarshalling config dump response from Envoy: {err}"
            ))
        })?;
        Ok(Self::from_json(&value))
    }

    pub fn from_json(value: &Value) -> Self {
        ConfigDump {
            root: protojson::from_json(value),
        }
    }

    /// The last config of this `@type` (as istioctl's `getSection`).
    pub(super) fn section(&self, type_url: &str) -> Result<&Node, RenderError> {
        self.root
            .get("configs")
            .items()
            .iter()
            .rfind(|config| config.get("@type").as_str() == type_url)
            .ok_or_else(|| {
                RenderError::new(format!("config dump has no configuration type {type_url}"))
            })
    }

    /// Active dynamic listeners then static ones (`Listener` `Any`s), unsorted.
    pub(super) fn listeners(&self) -> Result<Vec<&Node>, RenderError> {
        let section = self
            .section(LISTENERS)
            .map_err(|err| RenderError::new(format!("listener dump: {err}")))?;
        let dynamic = section.get("dynamicListeners").items().iter();
        let dynamic = dynamic.map(|l| l.at(&["activeState", "listener"]));
        let statics = section.get("staticListeners").items().iter();
        let listeners: Vec<&Node> = dynamic
            .chain(statics.map(|l| l.get("listener")))
            .filter(|l| !l.is_null())
            .collect();
        if listeners.is_empty() {
            return Err(RenderError::new("no listeners found"));
        }
        Ok(listeners)
    }

    /// Dynamic then static route configurations; reordered only between numeric names.
    pub(super) fn routes(&self) -> Result<Vec<&Node>, RenderError> {
        let section = self.section(ROUTES)?;
        let mut routes: Vec<&Node> = ["dynamicRouteConfigs", "staticRouteConfigs"]
            .iter()
            .flat_map(|list| section.get(list).items())
            .map(|r| r.get("routeConfig"))
            .filter(|r| !r.is_null())
            .collect();
        if routes.is_empty() {
            return Err(RenderError::new("no routes found"));
        }
        sort_slice(&mut routes, |a, b| {
            let a = a.get("name").as_str().parse::<i64>();
            let b = b.get("name").as_str().parse::<i64>();
            matches!((a, b), (Ok(a), Ok(b)) if a < b)
        });
        Ok(routes)
    }

    /// Active dynamic then static clusters, sorted by FQDN, subset, port, direction.
    pub(super) fn clusters(&self) -> Result<Vec<&Node>, RenderError> {
        let section = self.section(CLUSTERS)?;
        let mut clusters: Vec<&Node> = ["dynamicActiveClusters", "staticClusters"]
            .iter()
            .flat_map(|list| section.get(list).items())
            .map(|c| c.get("cluster"))
            .filter(|c| !c.is_null())
            .collect();
        if clusters.is_empty() {
            return Err(RenderError::new("no clusters found"));
        }
        sort_slice(&mut clusters, |a, b| {
            subset_key_less(a.get("name").as_str(), b.get("name").as_str())
        });
        Ok(clusters)
    }
}

/// istioctl's cluster order: FQDN, then subset, then port, then direction.
pub(super) fn subset_key_less(a: &str, b: &str) -> bool {
    let (a_dir, a_subset, a_name, a_port) = parse_subset_key_safely(a);
    let (b_dir, b_subset, b_name, b_port) = parse_subset_key_safely(b);
    if a_name != b_name {
        return a_name < b_name;
    }
    if a_subset != b_subset {
        return a_subset < b_subset;
    }
    if a_port != b_port {
        return a_port < b_port;
    }
    a_dir < b_dir
}

/// The VirtualService or DestinationRule behind a route or cluster, from its metadata
/// `filter_metadata.istio.config` (`/apis/networking.istio.io/v1/namespaces/<ns>/virtual-service/<name>`
/// → `<name>.<ns>`); `""` without one, `<unknown>` for a non-networking path.
pub(super) fn istio_config_name(metadata: &Node) -> String {
    let istio = metadata.at(&["filterMetadata", "istio"]);
    if !istio.has("config") {
        return String::new();
    }
    let path = istio.get("config").as_str();
    if !path.starts_with("/apis/networking.istio.io/") {
        return "<unknown>".to_string();
    }
    let pieces: Vec<&str> = path.split('/').collect();
    match pieces.as_slice() {
        [_, _, _, _, _, ns, _, name] => format!("{name}.{ns}"),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn missing_sections_and_empty_lists_are_istioctl_errors() {
        let dump = ConfigDump::from_json(&json!({"configs": []}));
        assert_eq!(
            dump.listeners().unwrap_err().0,
            "listener dump: config dump has no configuration type type.googleapis.com/envoy.admin.v3.ListenersConfigDump"
        );
        let dump = ConfigDump::from_json(
            &json!({"configs": [{"@type": LISTENERS}, {"@type": ROUTES}, {"@type": CLUSTERS}]}),
        );
        assert_eq!(dump.listeners().unwrap_err().0, "no listeners found");
        assert_eq!(dump.routes().unwrap_err().0, "no routes found");
        assert_eq!(dump.clusters().unwrap_err().0, "no clusters found");
        assert!(
            ConfigDump::parse("{")
                .unwrap_err()
                .0
                .starts_with("error unmarshalling config dump")
        );
    }

    #[test]
    fn config_names_from_metadata() {
        let md = |config: Value| {
            protojson::from_json(
                &json!({"metadata": {"filter_metadata": {"istio": {"config": config}}}}),
            )
            .get("metadata")
            .clone()
        };
        let vs = "/apis/networking.istio.io/v1alpha3/namespaces/istioinaction/virtual-service/webapp-vs-from-gw";
        assert_eq!(
            istio_config_name(&md(json!(vs))),
            "webapp-vs-from-gw.istioinaction"
        );
        assert_eq!(
            istio_config_name(&md(json!("/apis/networking.istio.io/v1/x"))),
            ""
        );
        assert_eq!(
            istio_config_name(&md(json!("/apis/gateway.networking.k8s.io/x"))),
            "<unknown>"
        );
        assert_eq!(istio_config_name(&md(json!(7))), "<unknown>");
        assert_eq!(istio_config_name(&Node::Null), "");
    }
}
