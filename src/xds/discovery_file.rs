//! xDS resources in a file, as Envoy's filesystem subscriptions read them: a
//! `DiscoveryResponse` in YAML or JSON (`version_info` optional, `resources` a list of `Any`s
//! whose `@type` must be the subscription's type). Errors point at `file:line:column`.

use serde::de::DeserializeOwned;

use super::decode::decode_tree;
use super::error::ConfigError;
use super::tree::{self, Node, Tree};

/// A decoded file: its `version_info` (empty when absent) and resources.
#[derive(Debug, Clone, PartialEq)]
pub struct DiscoveryFile<T> {
    pub version_info: String,
    pub resources: Vec<T>,
}

/// The fields a `DiscoveryResponse` has; others are typos.
const RESPONSE_FIELDS: &[&str] = &[
    "version_info",
    "resources",
    "type_url",
    "nonce",
    "canary",
    "control_plane",
];

/// Decodes `text` (read from `source`) as a response of `type_url`.
pub fn decode<T: DeserializeOwned>(
    source: &str,
    text: &str,
    type_url: &str,
) -> Result<DiscoveryFile<T>, ConfigError> {
    let mut root = tree::parse(source, text)?;
    root.normalize_keys();
    let at = |node: &Node, reason: String| ConfigError::Field {
        loc: Some(node.loc.clone()),
        path: String::new(),
        reason,
        unknown: false,
    };
    let Tree::Map(entries) = &mut root.tree else {
        return Err(at(
            &root,
            "expected a DiscoveryResponse: a map with `resources:`".to_owned(),
        ));
    };
    let mut version_info = String::new();
    let mut resources = Vec::new();
    for (key, key_loc, value) in entries.iter_mut() {
        match key.as_str() {
            "version_info" => match &value.tree {
                Tree::Str(s) => version_info = s.clone(),
                Tree::Int(i) => version_info = i.to_string(),
                Tree::UInt(u) => version_info = u.to_string(),
                Tree::Float(f) => version_info = f.to_string(),
                _ => return Err(at(value, "version_info: expected a string".to_owned())),
            },
            "resources" => {
                let Tree::Seq(items) = &mut value.tree else {
                    return Err(at(value, "resources: expected a list".to_owned()));
                };
                for (i, item) in items.iter_mut().enumerate() {
                    take_type(item, type_url, i)?;
                    let decoded: T = decode_tree(item).map_err(|e| prefix(e, i))?;
                    resources.push(decoded);
                }
            }
            "type_url" => {
                if let Tree::Str(url) = &value.tree
                    && url != type_url
                {
                    return Err(at(
                        value,
                        format!("type_url {url} in a file read for {type_url}"),
                    ));
                }
            }
            k if RESPONSE_FIELDS.contains(&k) => {}
            other => {
                return Err(ConfigError::Field {
                    loc: Some(key_loc.clone()),
                    path: other.to_owned(),
                    reason: format!(
                        "unknown field in a DiscoveryResponse (it has {})",
                        RESPONSE_FIELDS.join(", ")
                    ),
                    unknown: true,
                });
            }
        }
    }
    Ok(DiscoveryFile {
        version_info,
        resources,
    })
}

/// Checks and removes a resource's `@type`.
fn take_type(item: &mut Node, type_url: &str, index: usize) -> Result<(), ConfigError> {
    let loc = item.loc.clone();
    let Tree::Map(fields) = &mut item.tree else {
        return Err(ConfigError::Field {
            loc: Some(loc),
            path: format!("resources[{index}]"),
            reason: "expected a resource (a map with \"@type\")".to_owned(),
            unknown: false,
        });
    };
    let Some(pos) = fields.iter().position(|(k, _, _)| k == "@type") else {
        return Err(ConfigError::Field {
            loc: Some(loc),
            path: format!("resources[{index}]"),
            reason: format!("missing \"@type\": resources in this file are \"@type\": {type_url}"),
            unknown: false,
        });
    };
    let (_, _, value) = fields.remove(pos);
    match &value.tree {
        Tree::Str(url) if url == type_url => Ok(()),
        Tree::Str(url) => Err(ConfigError::Field {
            loc: Some(value.loc.clone()),
            path: format!("resources[{index}].@type"),
            reason: format!("{url} in a file read for {type_url}"),
            unknown: false,
        }),
        _ => Err(ConfigError::Field {
            loc: Some(value.loc.clone()),
            path: format!("resources[{index}].@type"),
            reason: "expected a type URL string".to_owned(),
            unknown: false,
        }),
    }
}

/// Field paths inside resource `index` are shown from the file's root.
fn prefix(err: ConfigError, index: usize) -> ConfigError {
    match err {
        ConfigError::Field {
            loc,
            path,
            reason,
            unknown,
        } => ConfigError::Field {
            loc,
            path: if path.is_empty() {
                format!("resources[{index}]")
            } else {
                format!("resources[{index}].{path}")
            },
            reason,
            unknown,
        },
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::xds::cluster::Cluster;
    use crate::xds::type_url;

    #[test]
    fn reads_resources_and_version() {
        let text = "version_info: \"7\"\nresources:\n- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: a\n  connect_timeout: 1s\n";
        let f: DiscoveryFile<Cluster> = decode("cds.yaml", text, type_url::CLUSTER).unwrap();
        assert_eq!(f.version_info, "7");
        assert_eq!(f.resources[0].name, "a");
    }

    #[test]
    fn errors_point_at_the_file() {
        let wrong = "resources:\n- \"@type\": type.googleapis.com/envoy.config.listener.v3.Listener\n  name: a\n";
        let e = decode::<Cluster>("cds.yaml", wrong, type_url::CLUSTER)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cds.yaml:2:"), "{e}");
        assert!(e.contains("Listener in a file read for"), "{e}");
        let typo = "resources:\n- \"@type\": type.googleapis.com/envoy.config.cluster.v3.Cluster\n  name: a\n  conect_timeout: 1s\n";
        let e = decode::<Cluster>("cds.yaml", typo, type_url::CLUSTER)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cds.yaml:4:3"), "{e}");
        assert!(e.contains("resources[0]"), "{e}");
        let e = decode::<Cluster>("cds.yaml", "resource: []\n", type_url::CLUSTER)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("cds.yaml:1:1"), "{e}");
    }
}
