//! `istioctl install` against a running sandbox: an IstioOperator (files, `--set`, a profile)
//! is rendered into the objects istioctl would apply — istiod's mesh config (ConfigMap
//! `istio-system/istio`) and environment, ingress and egress gateways — and applied all or
//! nothing. istiod (pilot) reads its settings back from those objects, as the real one reads
//! its ConfigMap and environment, so what an install changed is kept with the sandbox's state
//! and `kubectl get cm istio -n istio-system -o yaml` shows it.
//!
//! Pruning follows istioctl: what an earlier install of the *same* operator (by name) created
//! and this one no longer renders is deleted; objects of other operators and of the scenario
//! are left alone. istiod itself is never removed: the control plane runs in-process.

pub mod operator;
pub mod render;
pub mod schema;

use std::collections::BTreeSet;

use crate::api::ResourceKey;

use super::instance::Sandbox;
use super::ops::{self, Document, OpError};
use operator::Operator;
use render::OWNER_LABEL;

/// What an install did, for istioctl's progress lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InstallReport {
    pub components: Vec<&'static str>,
    /// `kind/namespace/name created|configured|unchanged`.
    pub applied: Vec<String>,
    /// `Deployment:istio-system:istio-egressgateway`, as istioctl lists what it prunes.
    pub removed: Vec<String>,
    pub warnings: Vec<String>,
}

/// Kinds an install may prune (istiod's own objects and namespaces are never pruned).
const PRUNABLE: &[&str] = &["Deployment", "Service", "ServiceAccount"];

fn is_control_plane(key: &ResourceKey) -> bool {
    key.namespace.as_deref() == Some("istio-system")
        && (key.name == "istiod" || key.name == "istio")
}

impl Sandbox {
    pub async fn install(&self, op: &Operator) -> Result<InstallReport, OpError> {
        let mut inner = self.inner.lock().await;
        let namespaces: BTreeSet<String> = inner
            .store
            .list("Namespace", None)
            .into_iter()
            .map(|r| r.name().to_owned())
            .collect();
        let rendered = render::render(op, &namespaces);
        let mut objects = rendered.objects.clone();
        objects.push(render::operator_object(op));
        let docs: Vec<Document> = objects
            .iter()
            .map(|o| Document {
                source: format!("istioctl install ({})", op.name),
                text: o.to_string(),
            })
            .collect();
        let resources = ops::admit(&inner.store, &docs, None)?;
        let keep: BTreeSet<ResourceKey> = resources.iter().map(|r| r.key()).collect();
        let prune: Vec<ResourceKey> = inner
            .store
            .all()
            .map(|s| &s.resource)
            .filter(|r| PRUNABLE.contains(&r.kind()))
            .filter(|r| r.meta().labels.get(OWNER_LABEL) == Some(&op.name))
            .map(|r| r.key())
            .filter(|k| !keep.contains(k) && !is_control_plane(k))
            .collect();
        let applied = ops::put_all(&mut inner, resources);
        let mut removed = ops::remove_all(&mut inner, &prune);
        removed.sort_by(|a, b| (&a.kind, &a.name).cmp(&(&b.kind, &b.name)));
        self.reconcile(&mut inner).await;
        Ok(InstallReport {
            components: rendered.components,
            applied: applied.iter().map(ToString::to_string).collect(),
            removed: removed
                .iter()
                .map(|k| {
                    format!(
                        "{}:{}:{}",
                        k.kind,
                        k.namespace.as_deref().unwrap_or(""),
                        k.name
                    )
                })
                .collect(),
            warnings: op
                .not_acted
                .iter()
                .map(|p| format!("{p} is kept in the IstioOperator, but mesh does not act on it"))
                .collect(),
        })
    }
}
