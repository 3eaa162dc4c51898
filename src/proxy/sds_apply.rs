//! Applying SDS pushes: secrets are parsed and checked first (a bad PEM or a key that is not
//! its certificate's NACKs the push and keeps the secrets in force); accepted ones are used by
//! the next handshake of every TLS context naming them, and listeners that were warming for
//! them start serving.

use std::collections::HashSet;
use std::sync::Arc;

use crate::plog;
use crate::xds::tls::Secret;

use super::listener::ListenerSlot;
use super::log::{Component, Level};
use super::tls::secrets::SecretManager;
use super::{Applied, Proxy, Rejected};

impl Proxy {
    pub(super) async fn apply_secrets(
        self: &Arc<Self>,
        list: Vec<Secret>,
        version: &str,
    ) -> Result<(), Vec<Rejected>> {
        let built = SecretManager::prepare(&list, version)?;
        let referenced = referenced_secrets(&self.applied());
        self.secrets.install(built, &referenced);
        self.promote_warming().await;
        Ok(())
    }

    /// Starts every warming listener whose secrets are all here now: it replaces the
    /// version in service (same address) or binds its address.
    pub(super) async fn promote_warming(self: &Arc<Self>) {
        let current = self.applied();
        if current.warming_listeners.is_empty() {
            return;
        }
        let mut listeners = current.listeners.clone();
        let mut still = Vec::new();
        for rt in &current.warming_listeners {
            if !rt.missing_secrets().is_empty() {
                still.push(rt.clone());
                continue;
            }
            let existing = listeners
                .iter()
                .position(|s| s.current().added_via_api && s.current().name == rt.name);
            if let Some(i) = existing {
                let slot = listeners[i].clone();
                let same_socket = slot.current().address == rt.address
                    && slot.current().config.binds_to_port() == rt.config.binds_to_port();
                if same_socket {
                    slot.swap(rt.clone());
                    self.server_stats.listener_modified.inc();
                    continue;
                }
                slot.stop();
                listeners.remove(i);
            }
            let slot = ListenerSlot::new(rt.clone());
            match slot.bind_and_serve(self.clone()).await {
                Ok(_) => {
                    self.server_stats.listener_added.inc();
                    listeners.push(slot);
                }
                Err(e) => plog!(
                    self.log,
                    Level::Warning,
                    Component::Config,
                    "listener '{}' warmed but cannot bind '{}': {e}",
                    rt.name,
                    rt.address
                ),
            }
        }
        let mut applied = (*self.applied()).clone();
        applied.listeners = listeners;
        applied.warming_listeners = still;
        self.server_stats
            .total_listeners_active
            .set(applied.listeners.len() as u64);
        self.count_warming(&applied);
        self.store_applied(applied);
    }

    pub(super) fn count_warming(&self, applied: &Applied) {
        self.stats
            .gauge("listener_manager.total_listeners_warming")
            .set(applied.warming_listeners.len() as u64);
    }
}

/// Every SDS name a listener (serving or warming) or a cluster of `applied` refers to.
pub fn referenced_secrets(applied: &Applied) -> HashSet<String> {
    let mut out = HashSet::new();
    for slot in &applied.listeners {
        out.extend(slot.current().sds_names());
    }
    for l in &applied.warming_listeners {
        out.extend(l.sds_names());
    }
    for c in &applied.clusters {
        if let Some(t) = &c.transport {
            out.extend(t.sds_names());
        }
    }
    out
}
