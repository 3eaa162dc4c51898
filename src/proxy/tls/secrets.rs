//! The proxy's secrets: static ones from the bootstrap (`static_resources.secrets`, named by
//! `tls_certificate_sds_secret_configs` without `sds_config`) and dynamic ones pushed by SDS.
//! Every secret is parsed and checked when it arrives — a bad PEM or a key that is not its
//! certificate's refuses the whole push — so handshakes only ever see good material. A
//! generation number moves on every change, which is how TLS contexts notice a rotation.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use arc_swap::ArcSwap;
use indexmap::IndexMap;

use crate::xds::tls::{CertificateValidationContext, Secret};

use super::super::Rejected;
use super::certs::{LoadedCa, LoadedCert};
use super::verify::SanMatchers;

/// What a secret holds, parsed.
#[derive(Debug)]
pub enum Material {
    Cert(Arc<LoadedCert>),
    Validation {
        ca: Option<Arc<LoadedCa>>,
        config: CertificateValidationContext,
    },
}

/// One secret as the proxy runs it.
#[derive(Debug)]
pub struct SecretRt {
    pub config: Secret,
    pub version_info: String,
    pub last_updated: SystemTime,
    pub material: Material,
}

impl SecretRt {
    /// Parses and checks a secret; `path` locates errors.
    pub fn build(s: &Secret, path: &str, version_info: &str) -> Result<SecretRt, Rejected> {
        if s.name.is_empty() {
            return Err(Rejected::new(
                format!("{path}.name"),
                "value length must be at least 1 characters",
            ));
        }
        let material = match (&s.tls_certificate, &s.validation_context) {
            (Some(tc), None) => {
                Material::Cert(Arc::new(LoadedCert::load(tc).map_err(|e| {
                    Rejected::new(format!("{path}.tls_certificate"), e.to_string())
                })?))
            }
            (None, Some(vc)) => {
                let at = format!("{path}.validation_context");
                SanMatchers::build(vc, &at)?;
                let ca =
                    match &vc.trusted_ca {
                        Some(ds) => Some(Arc::new(LoadedCa::load(ds).map_err(|e| {
                            Rejected::new(format!("{at}.trusted_ca"), e.to_string())
                        })?)),
                        None => None,
                    };
                Material::Validation {
                    ca,
                    config: vc.clone(),
                }
            }
            (None, None) => {
                return Err(Rejected::new(
                    path,
                    "Secret type not implemented: set tls_certificate or validation_context",
                ));
            }
            (Some(_), Some(_)) => {
                return Err(Rejected::new(
                    path,
                    "only one of tls_certificate, validation_context may be set",
                ));
            }
        };
        Ok(SecretRt {
            config: s.clone(),
            version_info: version_info.to_owned(),
            last_updated: SystemTime::now(),
            material,
        })
    }

    pub fn is_cert(&self) -> bool {
        matches!(self.material, Material::Cert(_))
    }
}

type Secrets = IndexMap<String, Arc<SecretRt>>;

/// Static and SDS secrets by name. Shared by every TLS context of the proxy.
#[derive(Debug, Default)]
pub struct SecretManager {
    statics: ArcSwap<Secrets>,
    dynamic: ArcSwap<Secrets>,
    generation: AtomicU64,
}

impl SecretManager {
    pub fn new() -> Arc<SecretManager> {
        Arc::new(SecretManager::default())
    }

    /// Loads the bootstrap's secrets (once, before listeners and clusters are built).
    pub fn set_static(&self, list: &[Secret]) -> Result<(), Vec<Rejected>> {
        let mut errors = Vec::new();
        let mut out = Secrets::new();
        for (i, s) in list.iter().enumerate() {
            let path = format!("static_resources.secrets[{i}]");
            match SecretRt::build(s, &path, "") {
                Ok(rt) => {
                    if out.contains_key(&s.name) {
                        let kind = if rt.is_cert() {
                            "TlsCertificate"
                        } else {
                            "CertificateValidationContext"
                        };
                        errors.push(Rejected::new(
                            format!("{path}.name"),
                            format!("Duplicate static {kind} secret name {}", s.name),
                        ));
                        continue;
                    }
                    out.insert(s.name.clone(), Arc::new(rt));
                }
                Err(e) => errors.push(e),
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        self.statics.store(Arc::new(out));
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    pub fn static_secret(&self, name: &str) -> Option<Arc<SecretRt>> {
        self.statics.load().get(name).cloned()
    }

    pub fn dynamic_secret(&self, name: &str) -> Option<Arc<SecretRt>> {
        self.dynamic.load().get(name).cloned()
    }

    pub fn statics(&self) -> Vec<Arc<SecretRt>> {
        self.statics.load().values().cloned().collect()
    }

    pub fn dynamics(&self) -> Vec<Arc<SecretRt>> {
        self.dynamic.load().values().cloned().collect()
    }

    /// Moves on whenever any secret changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Parses a push; every bad secret is reported and nothing is kept when one is bad.
    pub fn prepare(list: &[Secret], version: &str) -> Result<Vec<SecretRt>, Vec<Rejected>> {
        let mut errors = Vec::new();
        let mut built = Vec::new();
        let mut seen = HashSet::new();
        for s in list {
            if !seen.insert(s.name.clone()) {
                errors.push(Rejected::new(
                    &s.name,
                    "duplicate secret name in one update",
                ));
                continue;
            }
            match SecretRt::build(s, &s.name, version) {
                Ok(rt) => built.push(rt),
                Err(e) => errors.push(e),
            }
        }
        if errors.is_empty() {
            Ok(built)
        } else {
            Err(errors)
        }
    }

    /// Installs a prepared push. A secret whose config did not change keeps its parsed form
    /// (and does not count as a rotation); one left out of the push is removed only when
    /// nothing `referenced` it any more (xDS: omission deletes only LDS/CDS resources).
    pub fn install(&self, built: Vec<SecretRt>, referenced: &HashSet<String>) {
        let current = self.dynamic.load_full();
        let mut incoming: IndexMap<String, SecretRt> = built
            .into_iter()
            .map(|rt| (rt.config.name.clone(), rt))
            .collect();
        let mut next = Secrets::new();
        let mut changed = false;
        for (name, old) in current.iter() {
            match incoming.shift_remove(name) {
                Some(rt) if rt.config == old.config => {
                    next.insert(name.clone(), old.clone());
                }
                Some(rt) => {
                    changed = true;
                    next.insert(name.clone(), Arc::new(rt));
                }
                None if referenced.contains(name) => {
                    next.insert(name.clone(), old.clone());
                }
                None => changed = true,
            }
        }
        for (name, rt) in incoming {
            changed = true;
            next.insert(name, Arc::new(rt));
        }
        self.dynamic.store(Arc::new(next));
        if changed {
            self.generation.fetch_add(1, Ordering::AcqRel);
        }
    }
}
