//! `envoy.config.core.v3.ConfigSource` as far as `mesh envoy` serves it: xDS resources read from
//! files (`path_config_source {path, watched_directory}` and the older `path`). gRPC sources
//! (`ads`, `api_config_source`) are recognised and refused with the reason.

use serde::{Deserialize, Serialize};

use super::de::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ConfigSource {
    /// Deprecated in Envoy for `path_config_source`, still accepted.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_config_source: Option<PathConfigSource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_api_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_fetch_timeout: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ads: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_config_source: Option<serde_json::Value>,
    #[serde(default, rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_: Option<serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct PathConfigSource {
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watched_directory: Option<WatchedDirectory>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct WatchedDirectory {
    pub path: String,
}

/// Where a file source reads from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSource {
    pub path: String,
    /// Reload when this directory changes too (a symlink swapped in it, as Kubernetes does).
    pub watched_directory: Option<String>,
}

impl ConfigSource {
    /// The file this source reads, or why mesh cannot serve it.
    pub fn file(&self) -> Result<FileSource, String> {
        if let Some(p) = &self.path_config_source {
            if p.path.is_empty() {
                return Err("path_config_source.path is empty".to_owned());
            }
            return Ok(FileSource {
                path: p.path.clone(),
                watched_directory: p.watched_directory.as_ref().map(|w| w.path.clone()),
            });
        }
        if !self.path.is_empty() {
            return Ok(FileSource {
                path: self.path.clone(),
                watched_directory: None,
            });
        }
        if self.ads.is_some() || self.api_config_source.is_some() {
            return Err(
                "mesh envoy has no xDS gRPC client: give the resources as files with path_config_source {path: …} (Envoy's dynamic-from-filesystem setup)"
                    .to_owned(),
            );
        }
        if self.self_.is_some() {
            return Err("`self` config sources need an xDS gRPC stream, which mesh envoy does not open: use path_config_source".to_owned());
        }
        Err("a config source needs path_config_source {path: …} (or the older path)".to_owned())
    }

    /// Decodes a config source kept as raw JSON in a message (`rds.config_source`,
    /// `eds_cluster_config.eds_config`).
    pub fn from_value(value: &serde_json::Value) -> Result<ConfigSource, String> {
        serde_json::from_value(value.clone()).map_err(|e| e.to_string())
    }
}
