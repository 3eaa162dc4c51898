//! Why a configuration was rejected, and where: `file:line:column`, the field path Envoy would
//! name, and the reason (with the fix when we know it).

use super::tree::Loc;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ConfigError {
    /// The text is not YAML/JSON.
    #[error("{loc}: {reason}")]
    Syntax { loc: Loc, reason: String },
    /// A field is unknown, or its value has the wrong type or is out of range.
    #[error("{}", field_message(.loc, .path, .reason))]
    Field {
        loc: Option<Loc>,
        /// Envoy's field path, e.g. `static_resources.clusters[0].hosts`.
        path: String,
        reason: String,
        /// The field is not in the message (Envoy: "Cannot find field").
        unknown: bool,
    },
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    /// No configuration given at all.
    #[error(
        "At least one of --config-path or --config-yaml or Options::configProto() should be non-empty"
    )]
    Empty,
}

fn field_message(loc: &Option<Loc>, path: &str, reason: &str) -> String {
    match (loc, path.is_empty()) {
        (Some(loc), false) => format!("{loc}: {path}: {reason}"),
        (Some(loc), true) => format!("{loc}: {reason}"),
        (None, false) => format!("{path}: {reason}"),
        (None, true) => reason.to_owned(),
    }
}

impl ConfigError {
    pub fn field(path: impl Into<String>, reason: impl Into<String>) -> ConfigError {
        ConfigError::Field {
            loc: None,
            path: path.into(),
            reason: reason.into(),
            unknown: false,
        }
    }

    /// The message Envoy itself prints for this kind of error (for the `critical` log line).
    pub fn envoy_message(&self) -> String {
        match self {
            ConfigError::Field {
                path,
                unknown: true,
                ..
            } => {
                let (parent, field) = match path.rsplit_once('.') {
                    Some((parent, field)) => (parent, field),
                    None => ("", path.as_str()),
                };
                let field = field.split('[').next().unwrap_or(field);
                format!(
                    "Protobuf message (type envoy.config.bootstrap.v3.Bootstrap reason INVALID_ARGUMENT:({parent}) {field}: Cannot find field.) has unknown fields"
                )
            }
            ConfigError::Field { path, reason, .. } => {
                format!("Proto constraint validation failed ({path}: {reason})")
            }
            other => other.to_string(),
        }
    }
}
