//! The control plane: Istio and Kubernetes resources → per-proxy xds snapshots; pushes,
//! versions, ACK/NACK → proxy-status. May import `api`, `xds`, `ca`.

pub mod analyze;
pub mod bootstrap;
pub mod build;
pub mod envoy_filter;
pub mod fault;
pub mod generate;
pub mod locality;
pub mod model;
pub mod mtls;
pub mod names;
pub mod outbound;
pub mod push;
pub mod service_entry;
pub mod settings;
pub mod sidecar;
pub mod tcp_timeouts;
pub mod telemetry;
pub mod tracing;
pub mod traffic_policy;
pub mod upstream_protocol;
pub mod vs_delegate;
pub mod vs_mirror;
pub mod vs_routes;

use std::sync::{Arc, Mutex};

use crate::api::Resource;
use crate::xds::snapshot::Resources;

use bootstrap::ProxyIdentity;
use generate::{ProxyConfig, generate};
use model::Model;
use push::{Connection, Connections};

/// istiod: the current model of the mesh, and every connected proxy.
#[derive(Debug, Default)]
pub struct Pilot {
    pub connections: Connections,
    model: Mutex<Arc<Model>>,
    settings: Mutex<Arc<settings::MeshSettings>>,
    /// The settings last read from the resources: only a change to them replaces the
    /// settings, so ones set directly (`set_settings`) stay until the mesh config changes.
    derived: Mutex<Option<settings::MeshSettings>>,
    warnings: Mutex<Vec<String>>,
}

impl Pilot {
    pub fn new() -> Pilot {
        Pilot::default()
    }

    /// Rebuilds the model from the store's resources and pushes what changed to every proxy.
    /// The mesh config (ConfigMap `istio-system/istio`) and istiod's environment come from
    /// the same resources; a change to them replaces the settings.
    pub fn update<'a>(&self, resources: impl IntoIterator<Item = &'a Resource>) {
        let resources: Vec<&Resource> = resources.into_iter().collect();
        let (derived, problem) = settings::from_resources(&resources);
        if let Ok(mut last) = self.derived.lock()
            && last.as_ref() != Some(&derived)
        {
            *last = Some(derived.clone());
            if let Ok(mut cur) = self.settings.lock() {
                *cur = Arc::new(derived);
            }
        }
        if let Some(problem) = problem
            && let Ok(mut w) = self.warnings.lock()
            && !w.contains(&problem)
        {
            w.push(problem);
        }
        let model = Arc::new(Model::from_resources(resources));
        if let Ok(mut m) = self.model.lock() {
            *m = model;
        }
        self.push_all();
    }

    /// New mesh settings (`mesh install`): every proxy gets what they change.
    pub fn set_settings(&self, s: settings::MeshSettings) {
        if let Ok(mut cur) = self.settings.lock() {
            *cur = Arc::new(s);
        }
        self.push_all();
    }

    pub fn settings(&self) -> Arc<settings::MeshSettings> {
        self.settings.lock().map(|s| s.clone()).unwrap_or_default()
    }

    pub fn model(&self) -> Arc<Model> {
        self.model.lock().map(|m| m.clone()).unwrap_or_default()
    }

    /// Config problems found by the last translation (things mesh does not act on yet).
    pub fn warnings(&self) -> Vec<String> {
        self.warnings.lock().map(|w| w.clone()).unwrap_or_default()
    }

    /// What a proxy should run now.
    pub fn config_for(&self, proxy: &ProxyIdentity) -> ProxyConfig {
        let mut warnings = Vec::new();
        let config = generate(&self.model(), &self.settings(), proxy, &mut warnings);
        if let Ok(mut w) = self.warnings.lock() {
            for warning in warnings {
                if !w.contains(&warning) {
                    w.push(warning);
                }
            }
        }
        config
    }

    /// Pushes every proxy its current config (types whose resources did not change are not
    /// resent).
    pub fn push_all(&self) {
        let version = self.connections.next_version();
        for c in self.connections.all() {
            self.push(&c, &version);
        }
    }

    /// Pushes one proxy, in CDS, EDS, LDS, RDS order (a type is sent once it has resources, or
    /// once it was ever sent: an unwatched type stays NOT SENT, as in proxy-status).
    pub fn push(&self, c: &Connection, version: &str) {
        let cfg = self.config_for(&c.identity);
        c.push(version, Resources::Clusters(cfg.clusters));
        c.push(version, Resources::Endpoints(cfg.endpoints));
        // Credentials before the listeners that name them, so they need not warm.
        let secrets_before = c.last_sent_version(crate::xds::type_url::SECRET).is_some();
        if !cfg.secrets.is_empty() || secrets_before {
            c.push(version, Resources::Secrets(cfg.secrets));
        }
        c.push(version, Resources::Listeners(cfg.listeners));
        let sent_before = c.last_sent_version(crate::xds::type_url::ROUTE).is_some();
        if !cfg.routes.is_empty() || sent_before {
            c.push(version, Resources::Routes(cfg.routes));
        }
    }
}
