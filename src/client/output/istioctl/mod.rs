//! istioctl's `proxy-config …` and `proxy-status` output, as pure functions of a proxy's
//! admin data (`/config_dump`, `/clusters?format=json`, `/logging`) or of the sync rows.
//!
//! Target: istioctl **1.26** (`istioctl/pkg/writer/…` at tag 1.26.0), the newest release whose
//! `proxy-status` still prints the per-xDS-type table. Differences in later releases are noted
//! where they apply ([`status::proxy_status_subscribed`] for 1.27+, the serial-number padding
//! in [`secret`]). Ties in istioctl's (unstable) sorts come out in the same order because
//! [`crate::client::output::gosort`] sorts the way Go does.
//!
//! Each table function returns the exact text istioctl writes to stdout, or the message of the
//! error it would print (`Error: <message>`, exit 1). `-o json|yaml` go through [`json`] and
//! [`yaml`] with the protos each `*_protos` function selects.

mod admin;
mod all;
mod bootstrap;
mod cluster;
mod dump;
mod eds;
mod endpoint;
mod listener;
mod log;
mod route;
mod secret;
mod status;
mod x509;

#[cfg(test)]
mod golden;

pub use admin::AdminClusters;
pub use all::{AllFilters, Partial, all, all_json, all_yaml};
pub use bootstrap::{bootstrap, bootstrap_summary};
pub use cluster::{ClusterFilter, cluster, cluster_protos, cluster_table};
pub use dump::ConfigDump;
pub use eds::{eds, eds_protos};
pub use endpoint::{EndpointFilter, endpoint, endpoint_protos, endpoint_table};
pub use listener::{ListenerFilter, listener, listener_protos, listener_table};
pub use log::{LogChange, log, log_requests};
pub use route::{RouteFilter, route, route_protos, route_table};
pub use secret::{secret, secret_dump, secret_table};
pub use status::{
    StatusRow, Sync, proxy_status, proxy_status_subscribed, proxy_status_table,
    proxy_status_verbose, status_rows,
};

use super::gojson;
use super::goyaml;
use super::node::Node;

/// An error istioctl reports instead of output; `Display` is its message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RenderError(pub String);

impl RenderError {
    pub(crate) fn new(message: impl Into<String>) -> Self {
        RenderError(message.into())
    }
}

/// istioctl's `-o` values for the commands that print one proto (`bootstrap`, `secret`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// `-o short`: the table or summary.
    Short,
    Json,
    Yaml,
}

/// `-o json` of `proxy-config listener|route|cluster|endpoint`: the selected protos as a JSON
/// array (protojson field names, `@type` on nested `Any`s), indented by 4, newline-terminated.
pub fn json(items: &[Node]) -> String {
    let mut out = gojson::marshal_indent(&Node::List(items.to_vec()), "    ");
    out.push('\n');
    out
}

/// `-o yaml` of the same: [`json`]'s document through `JSONToYAML`, plus the extra newline
/// istioctl's `Fprintln` adds.
pub fn yaml(items: &[Node]) -> String {
    let mut out = goyaml::json_to_yaml(&Node::List(items.to_vec()));
    out.push('\n');
    out
}
